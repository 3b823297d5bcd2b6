"""Answer sheets: filled worksheets read leniently (CSV/TSV, Markdown pipe tables, YAML); blank worksheets written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import yaml

from .analysis import Analysis
from .columns import BY_KEY, COLUMNS, DEFAULT, Column, TableData, Units, build_table, pick
from .errors import Diagnostic, Position, SpecError, UsageError
from .source import load_yaml

#: Cells that mean "not answered" (the seeds print "?" in the cells to fill).
BLANK = frozenset({"", "?", "??", "???", "-", "–", "—", "…", "..."})
#: Layer names that mark the totals row.
TOTAL_NAMES = frozenset({"total", "totals", "sum", "σ", "∑", "overall", "network"})
#: Columns left blank in a worksheet by default: output size, memory, params and MACs.
ASKED = ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")

SheetFormat = Literal["csv", "markdown", "yaml"]


# ----------------------------------------------------------------------------- headers

def _norm(h: str) -> str:
    """'Mem. (KB)' → 'mem(kb)', "H' / W'" → "h'/w'", 'C_{in}' → 'cin'."""
    h = h.lower().replace("’", "'").replace("′", "'").replace("×", "x")
    return re.sub(r"[^a-z0-9'()/%#]", "", h)


_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "layer": ("name", "layername", "layer(name)", "#"),
    "type": ("kind", "layertype"),
    "c_in": ("c", "cin", "channelsin", "inputchannels", "c(in)", "inchannels"),
    "hw_in": ("h/w", "hw", "h/win", "hwin", "h/w(in)", "inputhw", "hin", "win", "h", "w"),
    "filters": ("filters", "#filters", "filters(cout)", "numfilters", "units", "neurons"),
    "kernel": ("k", "kernelsize", "kxk", "size"),
    "stride": ("s",),
    "pad": ("p", "padding"),
    "c_out": ("cout", "c'", "outputchannels", "channelsout", "outchannels", "c(out)"),
    "hw_out": ("h'/w'", "h'w'", "hw'", "h'/w'out", "hwout", "h/wout", "w'", "h'", "outputhw"),
    "memory_kb": ("mem(kb)", "memory(kb)", "mem(kib)", "memory(kib)", "mem", "memory", "kb", "memkb",
                  "activationmemory(kb)", "mem(k)"),
    "params_k": ("param(k)", "params(k)", "parameters(k)", "params(thousands)", "paramsk", "#params(k)",
                 "param(k)", "params(1000)", "kparams"),
    "macs_m": ("flops(m)", "mflops", "mflop", "macs(m)", "mmacs", "madds(m)", "multadds(m)", "flop(m)",
               "mac(m)", "mults(m)", "macsm"),
    "ops_m": ("ops(m)", "mops", "otherops(m)"),
    "params": ("params", "parameters", "#params", "param", "numparams", "learnableparameters"),
    "macs": ("macs", "flops", "multadds", "madds", "mac", "flop", "multiplyadds"),
    "memory_bytes": ("mem(b)", "memory(bytes)", "bytes", "memorybytes", "mem(bytes)", "memory(b)"),
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


# ----------------------------------------------------------------------------- numbers

@dataclass(frozen=True)
class Number:
    """A number as a student wrote it.

    ``value`` is in the column's units unless ``absolute`` (a magnitude or memory suffix was
    written: "35k", "1.1M", "7.5 MB"), when it is a plain count or a byte count. ``half`` is half a
    unit of the last digit shown, in the same units ("1134" → 0.5, "1.1M" → 50,000).
    """

    value: Fraction
    half: Fraction
    absolute: bool = False

    def in_units(self, scale: int) -> tuple[Fraction, Fraction]:
        """(value, half) in units of ``scale`` (1000 for a k column), when the suffix made it absolute."""
        if not self.absolute:
            return self.value, self.half
        return self.value / scale, self.half / scale


_NUM = re.compile(
    r"""^(?P<sign>[-+−]?)\s*
        (?P<int>\d[\d,_'\u00a0\u2009\u202f ]*)?(?:\.(?P<frac>\d*))?
        (?:\s*(?:[eE](?P<exp>[-+−]?\d+)|\s*[x×·*]\s*10\s*\^\s*(?P<exp2>[-+−]?\d+)))?
        \s*(?P<suffix>[A-Za-zµ]*)\s*$""",
    re.VERBOSE,
)
_UNIT_WORDS = frozenset({"", "flop", "flops", "mac", "macs", "op", "ops", "param", "params", "parameters",
                         "elements", "madds", "multadds", "weights", "mults"})
_MAGNITUDES = {"k": 3, "thousand": 3, "m": 6, "mio": 6, "million": 6, "g": 9, "bn": 9, "billion": 9}
#: Memory units: power of the KB base (negative: of 1024, for KiB/MiB/GiB).
_MEMORY = {"b": 0, "byte": 0, "bytes": 0, "kb": 1, "kbytes": 1, "kilobytes": 1, "mb": 2, "mbytes": 2,
           "megabytes": 2, "gb": 3, "gbytes": 3, "kib": -1, "mib": -2, "gib": -3}


def parse_number(text: str, kb: int = 1024) -> Number | None:
    """Read a number leniently, or None if it is not one.

    Accepts thousands separators (``34,944``, ``34_944``, ``34 944``), exponents (``3.4944e4``,
    ``3.4944×10^4``), magnitude suffixes (``35k``, ``1.1M``, ``105 M``, ``0.6 Mflops``, ``124K``)
    and memory units (``7.5 MB``, ``435600 B``; KB and MB use ``kb`` bytes per KB, KiB/MiB 1024).
    """
    s = text.strip().strip("*").strip().lstrip("~≈").strip()
    m = _NUM.match(s)
    if not m or (m["int"] is None and not m["frac"]):
        return None
    digits = m["int"] or "0"
    if "," in digits and not re.fullmatch(r"\d{1,3}(,\d{3})+", digits.strip()):
        return None  # "3,5" is a decimal comma or a typo, not a thousands separator
    digits = re.sub(r"[,_'\u00a0\u2009\u202f ]", "", digits)
    frac = m["frac"] or ""
    exp_txt = (m["exp"] or m["exp2"] or "0").replace("−", "-")
    exp = int(exp_txt)
    value = Fraction(int(digits + frac), 10 ** len(frac)) * Fraction(10) ** exp
    half = Fraction(1, 2) * Fraction(10) ** (exp - len(frac))
    if m["sign"] in ("-", "−"):
        value = -value
    suffix = m["suffix"]
    low = suffix.lower()
    scale: Fraction | None = None
    if low in _MEMORY:
        power = _MEMORY[low]
        scale = Fraction(1024) ** -power if power < 0 else Fraction(kb) ** power
    elif low in _UNIT_WORDS:
        scale = None if not low else Fraction(1)
    elif low in _MAGNITUDES:
        scale = Fraction(10) ** _MAGNITUDES[low]
    elif low[:1] in ("k", "m", "g") and low[1:] in _UNIT_WORDS:
        scale = Fraction(10) ** _MAGNITUDES[low[:1]]
    else:
        return None
    if scale is None:
        return Number(value, half, False)
    return Number(value * scale, half * scale, True)


_SHAPE_SEP = re.compile(r"\s*[x×X*,+]\s*|\s+")


def parse_shape(text: str) -> tuple[Fraction, ...] | None:
    """'96x55x55', '96 × 55 × 55', '[96, 55, 55]', '(55,55)', '256+256' or '55' as a tuple, else None."""
    s = text.strip().strip("*").strip()
    if s[:1] in "[(" and s[-1:] in "])":
        s = s[1:-1].strip()
    if not s:
        return None
    parts = _SHAPE_SEP.split(s)
    out = []
    for p in parts:
        if not re.fullmatch(r"\d+(\.\d+)?", p):
            return None
        out.append(Fraction(p))
    return tuple(out)


def is_blank(text: str) -> bool:
    """A cell that holds no answer: empty, '?', or a dash."""
    return text.strip().strip("*").strip().lower() in BLANK


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

    @property
    def is_total(self) -> bool:
        return self.name.strip().strip("*").strip().lower() in TOTAL_NAMES


@dataclass(frozen=True)
class AnswerSheet:
    """A parsed answer file: rows in file order, the column keys it has, and non-fatal remarks."""

    file: str
    rows: tuple[AnswerRow, ...]
    columns: tuple[str, ...]
    warnings: tuple[Diagnostic, ...] = ()


_Raw = list[tuple[str, Position]]


def _split_delimited(line: str, delim: str) -> list[tuple[str, int]]:
    """Cells of one CSV/TSV line with the 1-based column where each starts (quotes honoured)."""
    out: list[tuple[str, int]] = []
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


def _delimited_rows(text: str, file: str, delim: str | None) -> list[_Raw]:
    """Rows of a CSV, TSV (any tab in the text) or semicolon-separated text; '#' lines are comments."""
    lines = text.splitlines()
    if delim is None:
        first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
        delim = "\t" if "\t" in text else ";" if first.count(";") > first.count(",") else ","
    rows: list[_Raw] = []
    for ln, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
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


def _table(raw: list[_Raw], file: str) -> AnswerSheet:
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
    keys = [column_for_header(t) if t else None for t, _ in header]
    body = raw[h + 1:]
    if body and _looks_like_subheader(body[0]):
        sub = body.pop(0)
        header = [(t or (sub[i][0] if i < len(sub) else ""), p) for i, (t, p) in enumerate(header)]
        keys = [column_for_header(t) if t else None for t, _ in header]
    seen: dict[str, Position] = {}
    for (t, p), k in zip(header, keys):
        if k is None:
            if t:
                warnings.append(Diagnostic(p, f"column '{t}' is not one cnncalc checks; ignored", "warning"))
            continue
        if k in seen:
            problems.append(Diagnostic(p, f"column '{t}' repeats '{k}' (first at line {seen[k].line}, "
                                       f"column {seen[k].col})"))
        seen[k] = p
    if problems:
        raise SpecError(problems)
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
    return AnswerSheet(file, tuple(rows), tuple(k for k in keys if k and k != "layer"), tuple(warnings))


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
    for name, entry, path in entries:
        if not isinstance(entry, dict):
            problems.append(Diagnostic(doc.where(path), "each row must be a mapping of column: answer"))
            continue
        cells: dict[str, Cell] = {}
        for k, v in entry.items():
            key = column_for_header(str(k))
            pos = doc.where((*path, k))
            if key is None:
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
    return AnswerSheet(file, tuple(rows), tuple(columns), tuple(warnings))


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


def parse_sheet(text: str, file: str, fmt: SheetFormat | None = None) -> AnswerSheet:
    """Parse answer text; SpecError with positions for what cannot be read."""
    fmt = fmt or detect_format(file, text)
    if fmt == "yaml":
        return _yaml_sheet(text, file)
    raw = _markdown_rows(text, file) if fmt == "markdown" else \
        _delimited_rows(text, file, "\t" if file.lower().endswith(".tsv") else None)
    if not any(raw):
        raise SpecError([Diagnostic(Position(file, 1, 1), f"no table found in this {fmt} file")])
    return _table(raw, file)


def read_sheet(path: str | Path) -> AnswerSheet:
    """Read and parse an answer file; UsageError when it cannot be opened."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {p}: {e}") from None
    return parse_sheet(text, str(p))


# ----------------------------------------------------------------------------- worksheets

def worksheet(analysis: Analysis, asked: Sequence[str] | None = None, units: Units | None = None,
              totals: bool = False, columns: Sequence[str] | None = None) -> TableData:
    """The table with the asked columns blank (default: output size, memory, params, MACs).

    The worksheet's columns are ``columns`` (default: the default table's) plus any asked ones;
    every other cell is filled from the analysis, as the seeds' exercise tables give the
    hyper-parameters.
    """
    ask = list(asked) if asked else list(ASKED)
    pick(ask)  # unknown keys → UsageError with did-you-mean
    if "layer" in ask:
        raise UsageError("the layer column names the rows; it cannot be asked")
    base = list(columns or DEFAULT)
    cols = pick(base, [k for k in ask if k not in base])
    data = build_table(analysis, cols, units or Units())
    blank = [c.key in ask for c in cols]
    # A cell that does not apply (H'/W' of an fc layer) stays empty rather than asked.
    rows = tuple(tuple(None if b and v != "" else v for v, b in zip(row, blank)) for row in data.rows)
    tot = tuple(None if b else v for v, b in zip(data.totals, blank)) if totals else \
        tuple(None for _ in cols)
    return replace(data, rows=rows, totals=tot)


def render_worksheet(data: TableData, fmt: SheetFormat, totals: bool = False, mark: str = "") -> str:
    """CSV (column keys), Markdown (human headers; blanks as ``mark`` or '?') or YAML (nulls to fill)."""
    text_rows = data.text_rows(grouping=fmt == "markdown", totals=totals)
    keys = [c.key for c in data.columns]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        w.writerows([[x or mark for x in r] for r in text_rows])
        return buf.getvalue()
    if fmt == "markdown":
        q = mark or "?"
        heads = data.headers()
        align = ["---:" if c.numeric or c.scale else ":---" for c in data.columns]
        lines = ["| " + " | ".join(heads) + " |", "| " + " | ".join(align) + " |"]
        for i, (r, row_vals) in enumerate(zip(text_rows, [*data.rows, data.totals])):
            last = i == len(data.rows)
            cells = [x if x else (q if _asked_blank(c, v, last) else "") for x, c, v in zip(r, data.columns, row_vals)]
            lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        return "\n".join(lines) + "\n"
    # YAML: asked cells are null; cells that do not apply (filters of a pool) are left out.
    out: dict[str, Any] = {"layers": []}
    for r, vals in zip(text_rows, data.rows):
        out["layers"].append({k: (_yaml_value(x) if x else None) for k, x, v in zip(keys, r, vals)
                              if x or v is None})
    if totals:
        out["total"] = {k: (_yaml_value(x) if x else None) for k, x in zip(keys[1:], text_rows[-1][1:])
                        if BY_KEY[k].total is not None}
    return "# Fill in the null values; leave the others as given.\n" + \
        yaml.safe_dump(out, sort_keys=False, allow_unicode=True, default_flow_style=None, width=200)


def _asked_blank(col: Column, value: object, is_total: bool) -> bool:
    return value is None and (not is_total or col.total is not None)


def _yaml_value(text: str) -> int | str:
    return int(text) if re.fullmatch(r"-?\d+", text) else text
