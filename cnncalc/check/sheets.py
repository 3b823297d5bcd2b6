"""Reading sheets: CSV/TSV (any locale), Markdown pipe tables and YAML into rows of answer cells."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..columns import COLUMNS, Units
from ..errors import Diagnostic, Position, SpecError
from ..limits import MAX_TEXT_BYTES, read_bytes_limited
from ..source import load_yaml, without_gc
from .numbers import Decimal, is_blank, parse_number

#: Layer names that mark the totals row.
#: Labels of the totals row, normalised ('Total:' → total), in the languages of the sheets seen:
#: English, German (Summe, Gesamt), French (somme), Spanish / Portuguese (suma, soma), Italian (totale).
TOTAL_NAMES = frozenset({"total", "totals", "sum", "σ", "∑", "overall", "network", "summe", "gesamt", "insgesamt",
                         "gesamtsumme", "somme", "suma", "soma", "totale"})

SheetFormat = Literal["csv", "markdown", "yaml"]


# ----------------------------------------------------------------------------- headers

def _norm(h: str) -> str:
    """'Mem. (KB)' → 'mem(kb)', "H' / W'" → "h'/w'", 'C_{in}' → 'cin'."""
    h = h.lower().replace("’", "'").replace("′", "'").replace("×", "x")
    return re.sub(r"[^a-z0-9'()/%#]", "", h)


_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "layer": ("name", "layername", "layer(name)", "#", "schicht", "ebene"),
    "type": ("kind", "layertype"),
    "c_in": ("c", "cin", "channelsin", "inputchannels", "c(in)", "inchannels"),
    "hw_in": ("h/w", "hw", "h/win", "hwin", "h/w(in)", "inputhw", "hin", "win", "h", "w"),
    "filters": ("filters", "#filters", "filters(cout)", "numfilters", "units", "neurons", "filter", "anzahlfilter"),
    "kernel": ("k", "kernelsize", "kxk", "size"),
    "stride": ("s", "schrittweite"),
    "pad": ("p", "padding"),
    "c_out": ("cout", "c'", "outputchannels", "channelsout", "outchannels", "c(out)"),
    "hw_out": ("h'/w'", "h'w'", "hw'", "h'/w'out", "hwout", "h/wout", "w'", "h'", "outputhw"),
    "memory_kb": ("mem(kb)", "memory(kb)", "mem(kib)", "memory(kib)", "mem", "memory", "kb", "memkb",
                  "activationmemory(kb)", "mem(k)", "speicher", "speicher(kb)"),
    "params_k": ("param(k)", "params(k)", "parameters(k)", "params(thousands)", "paramsk", "#params(k)",
                 "param(k)", "params(1000)", "kparams", "parameter(k)"),
    "macs_m": ("flops(m)", "mflops", "mflop", "macs(m)", "mmacs", "madds(m)", "multadds(m)", "flop(m)",
               "mac(m)", "mults(m)", "macsm"),
    "ops_m": ("ops(m)", "mops", "otherops(m)"),
    "params": ("params", "parameters", "#params", "param", "numparams", "learnableparameters", "parameter"),
    "macs": ("macs", "flops", "multadds", "madds", "mac", "flop", "multiplyadds"),
    "memory_bytes": ("mem(b)", "memory(bytes)", "bytes", "memorybytes", "mem(bytes)", "memory(b)", "speicher(b)"),
    "input_shape": ("input", "inputshape", "in", "inshape"),
    "output_shape": ("output", "outputshape", "out", "outshape", "shape"),
    "receptive_field": ("rf", "receptivefield", "rf(px)"),
    "jump": ("jump", "cumulativestride", "effectivestride"),
}


def _alias_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for col in COLUMNS:
        table.setdefault(_norm(col.key), col.key)
        for units in (Units(), Units(kb=1000), Units(flops=True)):
            table.setdefault(_norm(col.header(units)), col.key)
    for key, names in _EXTRA_ALIASES.items():
        for n in names:
            table.setdefault(_norm(n), key)
    return table


HEADER_ALIASES = _alias_table()


def column_for_header(text: str) -> str | None:
    """The column key a (human or CSV) header names, or None: 'Mem. (KB)' → memory_kb."""
    return HEADER_ALIASES.get(_norm(text))


_MEM_UNITS = {"b": "B", "byte": "B", "bytes": "B", "kb": "KB", "kib": "KiB", "mb": "MB", "mib": "MiB",
              "gb": "GB", "gib": "GiB"}
_MAG_UNITS = {"k": "k", "thousand": "k", "thousands": "k", "m": "M", "mio": "M", "million": "M",
              "millions": "M", "g": "G", "b": "G", "bn": "G", "billion": "G", "billions": "G",
              "tsd": "k", "tausend": "k", "millionen": "M", "mrd": "G", "milliarden": "G"}  # (German)
_QUANTITY = (
    ("memory_bytes", r"mem|memory|activationmemory|activations?|outputmemory|actmem|speicher", _MEM_UNITS),
    ("params", r"#?params?|#?parameters?|weights|learnableparameters", _MAG_UNITS),
    ("macs", r"macs?|flops?|madds|multadds|multiplyadds|mults", _MAG_UNITS),
)


def column_with_unit(text: str) -> tuple[str, str] | None:
    """A header naming a quantity in a unit the columns do not have: 'Mem (MB)' → (memory_bytes, 'MB'),
    'Params (M)' → (params, 'M'), 'GFLOPs' → (macs, 'G'). The unit is appended to each answer read.

    FLOPs in a header are the course's word for its work column (the notes' "Flops (M)" are MACs)."""
    h = _norm(text)
    for key, names, units in _QUANTITY:
        m = re.fullmatch(rf"(?:{names})\(?(\w+)\)?", h) or re.fullmatch(rf"(\w+?)(?:{names})", h)
        if m and m[1] in units:
            return key, units[m[1]]
    return None


# ----------------------------------------------------------------------------- sheets

@dataclass(frozen=True)
class Cell:
    """One answer cell as written, with its place in the file."""

    text: str
    position: Position


@dataclass(frozen=True)
class AnswerRow:
    """One row of a worksheet: a layer's name (or 'Total') and its answer cells by column key."""

    name: str
    position: Position
    cells: dict[str, Cell] = field(default_factory=dict)

    @functools.cached_property
    def label(self) -> str:
        """The name normalised: 'Conv 1', 'Pool-1', 'Total:' → 'conv1', 'pool1', 'total'."""
        return norm_label(self.name)

    @property
    def is_total(self) -> bool:
        return self.label in TOTAL_NAMES


_LABEL_NOISE = re.compile(r"[\s\-_.:*()\[\]'\"]")


def norm_label(name: str) -> str:
    """A row label or layer name compared loosely: case, spaces, '-', '_', '.', ':', brackets ignored."""
    return _LABEL_NOISE.sub("", name.lower())


@dataclass(frozen=True)
class AnswerSheet:
    """A parsed answer file: rows in file order, the column keys it has, and non-fatal remarks."""

    file: str
    rows: tuple[AnswerRow, ...]
    columns: tuple[str, ...]
    warnings: tuple[Diagnostic, ...] = ()
    #: The decimal mark of its numbers (',' in a German-locale sheet).
    decimal: Decimal = "."
    #: Units named in headers ('Mem (MB)' → memory_bytes: 'MB'), appended to each answer read.
    units: dict[str, str] = field(default_factory=dict)
    #: Headers of columns not checked, as written.
    dropped: tuple[str, ...] = ()


_Raw = list[tuple[str, Position]]


def _split_delimited(line: str, delim: str) -> list[tuple[str, int]]:
    """Cells of one CSV/TSV line with the 1-based column where each starts (quotes honoured)."""
    if '"' not in line and not delim.isspace():
        # no quotes, and a delimiter that is no space: each cell's leading blanks end within it
        out: list[tuple[str, int]] = []
        start = 0
        for part in line.split(delim):
            stripped = part.lstrip()
            out.append((stripped.rstrip(), start + 1 + len(part) - len(stripped)))
            start += len(part) + len(delim)
        return out
    out = []
    i, n = 0, len(line)
    while True:
        start = i
        if i < n and line[i] == '"':
            buf = []
            i += 1
            while i < n:
                if line[i] == '"' and i + 1 < n and line[i + 1] == '"':
                    buf.append('"')
                    i += 2
                elif line[i] == '"':
                    i += 1
                    break
                else:
                    buf.append(line[i])
                    i += 1
            j = line.find(delim, i)
            j = n if j < 0 else j
            text = "".join(buf) + line[i:j]
        else:
            j = line.find(delim, i)
            j = n if j < 0 else j
            text = line[i:j]
        lead = len(line[start:]) - len(line[start:].lstrip())
        out.append((text.strip(), start + 1 + lead))
        if j >= n:
            return out
        i = j + 1


def _delimiter(text: str) -> str:
    """Tab when any line has one (TSV, a table pasted from a web page), ';' when the first row has more
    semicolons than commas (Excel in a comma-decimal locale), else ','."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if (hint := re.fullmatch(r'"?sep=(.)"?\s*', first)) is not None:
        return hint[1]  # Excel's "sep=;" first line
    return "\t" if "\t" in text else ";" if first.count(";") > first.count(",") else ","


def _delimited_rows(text: str, file: str, delim: str | None) -> list[_Raw]:
    """Rows of a CSV, TSV (any tab in the text) or semicolon-separated text; '#' lines are comments."""
    lines = text.splitlines()
    if delim is None:
        first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
        delim = "\t" if "\t" in text else ";" if first.count(";") > first.count(",") else ","
    rows: list[_Raw] = []
    for ln, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#") or re.fullmatch(r'"?sep=.?"?\s*', line):
            continue
        rows.append([(t, Position(file, ln, c)) for t, c in _split_delimited(line, delim)])
    return rows


def _markdown_rows(text: str, file: str) -> list[_Raw]:
    """Rows of the pipe tables in a Markdown text (separator lines dropped); other text ignored."""
    rows: list[_Raw] = []
    for ln, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped.startswith("|"):
            if rows and rows[-1] and stripped:
                rows.append([])  # a break between tables
            continue
        start = line.index("|") + 1
        cells: _Raw = []
        i, cell_start, buf = start, start, []
        while i < len(line):
            ch = line[i]
            if ch == "\\" and i + 1 < len(line) and line[i + 1] == "|":
                buf.append("|")
                i += 2
                continue
            if ch == "|":
                raw = "".join(buf)
                lead = len(raw) - len(raw.lstrip())
                cells.append((raw.strip(), Position(file, ln, cell_start + 1 + lead)))
                buf, cell_start = [], i + 1
            else:
                buf.append(ch)
            i += 1
        if "".join(buf).strip():
            raw = "".join(buf)
            cells.append((raw.strip(), Position(file, ln, cell_start + 1 + len(raw) - len(raw.lstrip()))))
        if cells and all(re.fullmatch(r":?-{2,}:?", t.replace(" ", "")) for t, _ in cells if t):
            continue
        rows.append(cells)
    return rows


def _looks_like_subheader(row: _Raw) -> bool:
    texts = [t for t, _ in row]
    return bool(texts) and is_blank(texts[0]) and any(texts[1:]) and \
        all(parse_number(t) is None for t in texts if t)


def _table(raw: list[_Raw], file: str, delimiter: str | None = None) -> AnswerSheet:
    """Find the header row (the first naming a layer column), map headers to keys, read the body."""
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    # The header is the row naming the most known columns, 'layer' among them, within the first
    # rows: a title row above it ("Input size | Layer | Output size") names fewer.
    best: tuple[int, int] | None = None
    for i, row in enumerate(raw[:12]):
        found = {column_for_header(t) for t, _ in row if t} - {None}
        if "layer" in found and (best is None or len(found) > best[1]):
            best = (i, len(found))
    if best is None:
        first = next((r[0][1] for r in raw if r), Position(file, 1, 1))
        raise SpecError([Diagnostic(first, "no header row with a 'layer' column found; the first row should "
                                    "name the columns, e.g. layer,c_out,hw_out,memory_kb,params_k,macs_m")])
    h = best[0]
    header = raw[h]
    body = raw[h + 1:]
    if body and _looks_like_subheader(body[0]):
        sub = body.pop(0)
        header = [(t or (sub[i][0] if i < len(sub) else ""), p) for i, (t, p) in enumerate(header)]
    keys: list[str | None] = []
    col_units: list[str | None] = []
    for t, _ in header:
        key, unit = _key_unit(t) if t else (None, None)
        keys.append(key)
        col_units.append(unit)
    # A quantity given twice, exactly and in a unit ('MACs' and 'MACs (k)', as cnncalc's own
    # `table --exact` prints them): the column in a unit answers the rounded sibling.
    for i, k in enumerate(keys):
        sibling = _ROUNDED_SIBLING.get(k or "")
        if sibling and col_units[i] and keys.count(k) > 1 and sibling not in keys:
            keys[i] = sibling
    units = {k: u for k, u in zip(keys, col_units) if k is not None and u}
    dropped: list[str] = []
    seen: dict[str, Position] = {}
    for (t, p), k in zip(header, keys):
        if k is None:
            if t:
                dropped.append(t)
                warnings.append(Diagnostic(p, f"column '{t}' is not one cnncalc checks; ignored", "warning"))
            continue
        if k in seen:
            problems.append(Diagnostic(p, f"column '{t}' repeats '{k}' (first at line {seen[k].line}, "
                                       f"column {seen[k].col})"))
        seen[k] = p
    if problems:
        raise SpecError(problems)
    if not set(keys) - {None, "layer"}:
        raise SpecError([Diagnostic(header[0][1], "no column cnncalc checks" + _only(dropped)
                                    + "; name them e.g. layer,c_out,hw_out,memory_kb,params_k,macs_m")])
    layer_at = keys.index("layer")
    rows: list[AnswerRow] = []
    for r in body:
        if not r:
            if rows:
                break  # the table ended
            continue
        name = r[layer_at][0] if layer_at < len(r) else ""
        if is_blank(name):
            continue  # a sub-header, a title or an empty line
        cells = {k: Cell(t, p) for (t, p), k in zip(r, keys) if k is not None and k != "layer"}
        extra = [(t, p) for t, p in r[len(keys):] if t]
        if extra:
            warnings.append(Diagnostic(extra[0][1], f"{len(extra)} cell(s) beyond the header ignored", "warning"))
        rows.append(AnswerRow(name.strip().strip("*").strip(), r[layer_at][1], cells))
    return AnswerSheet(file, tuple(rows), tuple(k for k in keys if k and k != "layer"), tuple(warnings),
                       detect_decimal([c.text for row in rows for c in row.cells.values()], delimiter), units,
                       tuple(dropped))


def _only(dropped: Sequence[str]) -> str:
    return f" (only {', '.join(repr(t) for t in dropped[:6])})" if dropped else ""


#: The rounded column that answers the same quantity as an exact one.
_ROUNDED_SIBLING = {"memory_bytes": "memory_kb", "params": "params_k", "macs": "macs_m"}


def _key_unit(header: str) -> tuple[str | None, str | None]:
    """The column a header names and the unit it puts its answers in (None: the column's own)."""
    key = column_for_header(header)
    if key is not None:
        return key, None
    with_unit = column_with_unit(header)
    return with_unit if with_unit else (None, None)


_DEC_COMMA = re.compile(r"[-+−]?\d+,(\d{1,2}|\d{4,})(\s*[A-Za-zµ]*)?|[-+−]?\d{1,3}(\.\d{3}){2,}(,\d+)?(\s*[A-Za-zµ]*)?"
                        r"|[-+−]?\d{1,3}(\.\d{3})+,\d+(\s*[A-Za-zµ]*)?")
_DEC_POINT = re.compile(r"[-+−]?\d*\.(\d{1,2}|\d{4,})(\s*[A-Za-zµ]*)?|[-+−]?\d{1,3}(,\d{3}){2,}(\.\d+)?(\s*[A-Za-zµ]*)?"
                        r"|[-+−]?\d{1,3}(,\d{3})+\.\d+(\s*[A-Za-zµ]*)?")
#: Either mark: 34,944 (thousands, or a decimal comma) and 1.134 (a decimal point, or German thousands).
_AMBIGUOUS = re.compile(r"[-+−]?\d{1,3}[,.]\d{3}")


@functools.lru_cache(maxsize=4096)
def _decimal_kind(text: str) -> int:
    """1: a cell read only with a decimal comma, 2: only with a decimal point, 3: either (34,944 or
    1.134), 0: neither."""
    t = text.strip().strip("*").strip()
    if _DEC_COMMA.fullmatch(t):
        return 1
    if _DEC_POINT.fullmatch(t):
        return 2
    return 3 if _AMBIGUOUS.fullmatch(t) else 0


def detect_decimal(texts: Sequence[str], delimiter: str | None = None) -> Decimal:
    """The sheet's decimal mark, from its answers: ',' when cells read only as decimal commas
    ('253,5', '1.134,375') and none only as decimal points ('253.5', '1,327,488'); in a ';'-separated
    sheet (Excel in a comma locale) also when its numbers could be either ('34,944', '1.134': German
    thousands when nothing reads only with a decimal point)."""
    counts = [0, 0, 0, 0]
    for t in texts:
        counts[_decimal_kind(t)] += 1
    _, comma, point, ambiguous = counts
    if comma > point or (delimiter == ";" and ambiguous and not point):
        return ","
    return "."


def _scalar_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _yaml_sheet(text: str, file: str) -> AnswerSheet:
    """Answers in YAML: a list of mappings with 'layer', {layers: [...], total: {...}}, or {name: {...}}."""
    doc = load_yaml(text, file)
    data = doc.data
    entries: list[tuple[str | None, dict[str, Any], tuple[str | int, ...]]] = []
    if isinstance(data, list):
        entries = [(None, e, (i,)) for i, e in enumerate(data)]
    elif isinstance(data, dict) and isinstance(data.get("layers"), list):
        entries = [(None, e, ("layers", i)) for i, e in enumerate(data["layers"])]
        for tkey in ("total", "totals", "Total", "Totals"):
            if tkey in data:
                entries.append(("Total", data[tkey], (tkey,)))
    elif isinstance(data, dict):
        entries = [(str(k), v, (k,)) for k, v in data.items()]
    else:
        raise SpecError([Diagnostic(doc.where(()), "answers in YAML must be a list of rows (each with 'layer'), "
                                    "a mapping with 'layers:', or a mapping from layer name to answers")])
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    rows: list[AnswerRow] = []
    columns: dict[str, None] = {}
    units: dict[str, str] = {}
    dropped: dict[str, None] = {}
    for name, entry, path in entries:
        if not isinstance(entry, dict):
            problems.append(Diagnostic(doc.where(path), "each row must be a mapping of column: answer"))
            continue
        cells: dict[str, Cell] = {}
        for k, v in entry.items():
            key, unit = _key_unit(str(k))
            if key is not None and unit:
                units[key] = unit
            pos = doc.where((*path, k))
            if key is None:
                dropped[str(k)] = None
                warnings.append(Diagnostic(doc.where((*path, k), key=True),
                                           f"column '{k}' is not one cnncalc checks; ignored", "warning"))
                continue
            if isinstance(v, dict | list | bool):
                problems.append(Diagnostic(pos, f"{k}: expected a number, a shape or text, got {v!r}"))
                continue
            if key == "layer":
                name = name or _scalar_text(v)
                continue
            cells[key] = Cell(_scalar_text(v), pos)
            columns[key] = None
        if not name:
            problems.append(Diagnostic(doc.where(path), "row has no 'layer' name"))
            continue
        rows.append(AnswerRow(name, doc.where(path), cells))
    if problems:
        raise SpecError(problems)
    if rows and not columns:
        raise SpecError([Diagnostic(doc.where(()), "no column cnncalc checks" + _only(list(dropped))
                                    + "; name them e.g. c_out, hw_out, memory_kb, params_k, macs_m")])
    return AnswerSheet(file, tuple(rows), tuple(columns), tuple(warnings),
                       detect_decimal([c.text for row in rows for c in row.cells.values()]), units, tuple(dropped))


def detect_format(path: str, text: str) -> SheetFormat:
    """By suffix (.csv/.tsv/.txt, .md, .yaml/.yml), else by the first non-blank line."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".md", ".markdown"):
        return "markdown"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if any(ln.startswith("|") for ln in lines):
        return "markdown"
    first = lines[0] if lines else ""
    return "yaml" if first.startswith(("- ", "layers:", "---")) or re.match(r"^[\w.]+:\s", first) else "csv"


@without_gc
def parse_sheet(text: str, file: str, fmt: SheetFormat | None = None) -> AnswerSheet:
    """Parse answer text; SpecError with positions for what cannot be read."""
    fmt = fmt or detect_format(file, text)
    if fmt == "yaml":
        return _yaml_sheet(text, file)
    delim = None if fmt == "markdown" else "\t" if file.lower().endswith(".tsv") else _delimiter(text)
    raw = _markdown_rows(text, file) if delim is None else _delimited_rows(text, file, delim)
    if not any(raw):
        raise SpecError([Diagnostic(Position(file, 1, 1), f"no table found in this {fmt} file")])
    return _table(raw, file, delim)


#: Largest answer or rules file read (a 30,000-row sheet is about 2 MB); checked before reading,
#: so /dev/zero or a huge file is refused, not loaded.
MAX_FILE_BYTES = MAX_TEXT_BYTES


#: Binary spreadsheets a student may hand in instead of the CSV: a ZIP container (xlsx, ods,
#: numbers) and the OLE2 file of Excel 97–2003 (xls).
_WORKBOOKS = ((b"PK\x03\x04", "a spreadsheet workbook (xlsx / ods, a ZIP file)"),
              (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97–2003 workbook (xls)"))


def read_text(path: str | Path, what: str = "file", legacy: bool = False) -> str:
    """A text file's contents (UTF-8, BOM dropped; with ``legacy``, Windows-1252 when not UTF-8, as
    Excel saves CSV in Western locales, and a workbook handed in instead is named as such); UsageError when it cannot be opened or is larger than
    MAX_FILE_BYTES (read at most that much, so endless devices stop), SpecError at the first byte
    that is not text."""
    p = Path(path)
    data = read_bytes_limited(p, what, MAX_FILE_BYTES)  # also remembered as an input: never written over
    for magic, kind in _WORKBOOKS if legacy else ():  # (a sheet: what Excel saves)
        if data.startswith(magic):
            raise SpecError([Diagnostic(Position(str(p), 1, 1), f"{kind}, not a text sheet; save it as CSV "
                                        "(in Excel: File → Save As → CSV UTF-8) and check that file")])
    bad = data.find(b"\0")
    try:
        if bad >= 0:
            raise UnicodeDecodeError("utf-8", data, bad, bad + 1, "NUL byte")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if legacy and bad < 0:
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                pass
        line = data[:e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SpecError([Diagnostic(Position(str(p), line, col), f"not UTF-8 text (byte 0x{data[e.start]:02x}); "
                                    "save the file as UTF-8")]) from None


def read_sheet(path: str | Path) -> AnswerSheet:
    """Read and parse an answer file; UsageError when it cannot be opened."""
    return parse_sheet(read_text(path, "answer file", legacy=True), str(path))
