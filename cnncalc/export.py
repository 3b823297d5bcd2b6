"""CSV / Markdown / JSON writers and the atomic file write they all go through."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from .analysis import Analysis, Row
from .columns import TableData, Units
from .errors import UsageError
from .layers import Num
from .limits import is_input
from .source import without_gc

DEFAULT_UNITS = Units()


def to_csv(table: TableData) -> str:
    """Header of column keys, one row per layer, then a row whose first cell is 'Total'."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.key for c in table.columns])
    w.writerows(table.text_rows(grouping=False))
    return buf.getvalue()


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def to_markdown(table: TableData) -> str:
    """A GitHub pipe table; the totals row in bold."""
    heads = table.headers()
    rows = table.text_rows()
    body, total = (rows[:-1], rows[-1]) if table.totals else (rows, None)
    align = ["---:" if c.numeric else ":---" for c in table.columns]
    lines = ["| " + " | ".join(_md_escape(h) for h in heads) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(x) for x in r) + " |" for r in body]
    if total is not None:
        lines.append("| " + " | ".join(f"**{_md_escape(x)}**" if x else "" for x in total) + " |")
    return "\n".join(lines) + "\n"


def _num(x: Num) -> int | float | str:
    """A field or jump for JSON: an int, a float for a fraction, text for a symbolic size."""
    if isinstance(x, int):
        return x
    if isinstance(x, Fraction):
        return x.numerator if x.denominator == 1 else float(x)
    return str(x)


@without_gc
def to_dict(analysis: Analysis, units: Units = DEFAULT_UNITS) -> dict[str, Any]:
    """The JSON contract: exact integers, shapes without batch, batch-scaled MACs/ops/memory."""
    t = analysis.totals
    return {
        "model": analysis.model,
        "input": list(analysis.input),
        "batch": analysis.batch,
        "dtype": analysis.dtype.value,
        "conventions": {
            "macs": "multiply-accumulates of conv/deconv/fc and matmuls (attention), bias excluded; flops = 2 × macs",
            "ops": "other arithmetic per layer kind (see cnncalc explain); pooling = outputs × K×K",
            "activation_bytes": f"output elements × {analysis.dtype.bytes} bytes × batch",
            "kb": units.kb,
        },
        "layers": [_layer_dict(r) for r in analysis.rows],
        "totals": {
            "params": t.params, "weights": t.weights, "bias": t.bias, "buffers": t.buffers,
            "macs": t.macs, "flops": 2 * t.macs, "ops": t.ops, "activation_bytes": t.activation_bytes,
            "layers": t.layers,
            "trainable_params": t.trainable, "non_trainable_params": t.non_trainable, "unused_params": t.unused,
        },
        "parameters": [{"name": p.name, "params": p.params, "trainable": p.trainable}
                       for p in analysis.parameters],
        "shares": {
            f.value: {"params": float(p), "macs": float(m)} for f, (p, m) in analysis.shares().items()
        },
        "warnings": [str(w) for w in analysis.warnings],
    }


def _layer_dict(r: Row) -> dict[str, Any]:
    """One row of the JSON contract (the optional keys only where they say something)."""
    d = {
        "name": r.name, "type": r.type, "family": r.family.value if r.family else "block",
        "inputs": [list(s) for s in r.inputs], "output": list(r.output),
        "params": r.params, "weights": r.weights, "bias": r.bias, "buffers": r.buffers,
        "macs": r.macs, "flops": 2 * r.macs, "ops": r.ops,
        "activation_bytes": r.activation_bytes,
        "receptive_field": [_num(x) for x in r.rf], "jump": [_num(x) for x in r.jump],
        "global_context": r.global_context,
        "line": r.position.line,
    }
    if r.layers > 1:
        d["layers"] = r.layers
    if r.shares:
        d["shares"] = r.shares
    if not r.trainable:
        d["trainable"] = False
    elif r.frozen:
        d["frozen"] = r.frozen
    return d


def to_json(analysis: Analysis, units: Units = DEFAULT_UNITS) -> str:
    """to_dict as indented JSON, one line per layer (written by json's C encoder: a 50,000-layer
    network in a fraction of a second, where ``indent`` alone takes the pure-Python one)."""
    return dumps_rows(to_dict(analysis, units), "layers")


def dumps_rows(d: dict[str, Any], key: str) -> str:
    """``d`` as JSON indented by 2, its list ``d[key]`` with one compact item per line."""
    mark = "\u0000rows\u0000"
    text = json.dumps({**d, key: mark}, indent=2)
    rows = d[key]
    body = "[\n    " + ",\n    ".join(json.dumps(r) for r in rows) + "\n  ]" if rows else "[]"
    return text.replace(json.dumps(mark), body, 1) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "×": r"$\times$", "→": r"$\rightarrow$", "—": "---", "–": "--",
}


#: Cells such as "1,134", "3×1", "96+96", "37.5", "" (shape and size columns hold numbers as text).
_NUMBERLIKE = re.compile(r"[0-9.,×+]*")


_LATEX_PLAIN = re.compile(r"[0-9A-Za-z ,.+()'/:-]*")


def latex_escape(s: str) -> str:
    """Text safe inside a LaTeX tabular cell (specials escaped, × and → as math)."""
    if _LATEX_PLAIN.fullmatch(s):  # most cells: nothing to escape
        return s
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def to_latex(table: TableData) -> str:
    """A booktabs ``tabular`` (\\toprule/\\midrule/\\bottomrule), numbers right-aligned, totals after a rule.

    Needs ``\\usepackage{booktabs}``; the caption is left to the paper's own ``table`` environment.
    """
    heads = table.headers()
    rows = table.text_rows()
    body, total = (rows[:-1], rows[-1]) if table.totals else (rows, None)
    spec = "".join("r" if c.numeric or c.scale or all(_NUMBERLIKE.fullmatch(r[i]) for r in body) else "l"
                   for i, c in enumerate(table.columns))

    def line(cells: list[str]) -> str:
        return " & ".join(latex_escape(x) for x in cells) + r" \\"

    out = [f"% {latex_escape(table.title)} (cnncalc); needs \\usepackage{{booktabs}}",
           f"\\begin{{tabular}}{{{spec}}}", r"\toprule", line(heads), r"\midrule"]
    out += [line(r) for r in body]
    if total is not None:
        out += [r"\midrule", line(total)]
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Write ``text`` (or bytes, e.g. a PNG) to ``path`` via a temporary file in the same folder and a rename.

    The target is either left as it was or replaced whole; never half-written.
    """
    target = Path(path)
    if is_input(target):
        raise UsageError(f"refusing to write {target}: it is an input of this command; choose another output file")
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    if target.exists() and not target.is_file() and not target.is_dir():
        # a device or FIFO (-o /dev/null, /dev/stdout): written in place; a rename would replace
        # the device node itself with a regular file
        try:
            with open(target, "wb") as f:
                f.write(data)
        except OSError as e:
            raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
        return
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:  # a read-only folder, /proc, …
        raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
    try:
        # mkstemp makes 0600 files: give the result the mode a plain open() would (or the replaced file's)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise UsageError(f"cannot write {target}: {e.strerror or e}") from None
        raise
