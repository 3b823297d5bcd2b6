"""Blank worksheets (the asked cells empty) in CSV, Markdown or YAML."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import yaml

from ..analysis import Analysis
from ..columns import BY_KEY, DEFAULT, Column, TableData, Units, build_table, pick
from ..errors import UsageError
from .expected import GIVEN
from .sheets import SheetFormat

#: Columns left blank in a worksheet by default: output size, memory, params and MACs.
ASKED = ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")


# ----------------------------------------------------------------------------- worksheets

def worksheet(analysis: Analysis, asked: Sequence[str] | None = None, units: Units | None = None,
              totals: bool = False, columns: Sequence[str] | None = None) -> TableData:
    """The table with the asked columns blank (default: output size, memory, params, MACs).

    The worksheet's columns are ``columns`` (default: the layer name and the hyper-parameters the
    default table shows) plus the asked ones; every other cell is filled from the analysis, as the
    seeds' exercise tables give the hyper-parameters, so no answer leaks into a worksheet.
    """
    ask = list(asked) if asked else list(ASKED)
    pick(ask)  # unknown keys → UsageError with did-you-mean
    if "layer" in ask:
        raise UsageError("the layer column names the rows; it cannot be asked")
    base = list(columns or [k for k in DEFAULT if k == "layer" or k in GIVEN])
    cols = pick(base, [k for k in ask if k not in base])
    data = build_table(analysis, cols, units or Units())
    blank = [c.key in ask for c in cols]
    # A cell that does not apply (H'/W' of an fc layer) stays empty rather than asked.
    rows = tuple(tuple(None if b and v != "" else v for v, b in zip(row, blank)) for row in data.rows)
    tot = tuple(None if b else v for v, b in zip(data.totals, blank)) if totals else \
        tuple(None for _ in cols)
    return replace(data, rows=rows, totals=tot)


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"\d+", text.strip()) else None


def worksheet_notes(analysis: Analysis) -> list[str]:
    """What the hyper-parameter cells cannot say but an answer needs: a window layer whose output
    size rounds up (ceil_mode), found by the arithmetic alone, ⌊(W − K + 2P)/S⌋ + 1 < W'."""
    notes = []
    for r in analysis.rows:
        k, st, p = _int(r.hyper.kernel), _int(r.hyper.stride), _int(r.hyper.pad or "0")
        if k is None or not st or p is None or len(r.inputs[0]) != 3 or len(r.output) != 3:
            continue
        floor = (r.inputs[0][1] + 2 * p - k) // st + 1
        if isinstance(r.output[1], int) and r.output[1] == floor + 1:
            notes.append(f"{r.name}: the output size rounds up, ⌈(W − K + 2P)/S⌉ + 1 (ceil_mode)")
    return notes


def render_worksheet(data: TableData, fmt: SheetFormat, totals: bool = False, mark: str = "",
                     notes: Sequence[str] = ()) -> str:
    """CSV (column keys), Markdown (human headers; blanks as ``mark`` or '?') or YAML (nulls to fill).

    ``notes`` (worksheet_notes) are written as '#' comment lines (CSV, YAML) or a list under the
    table (Markdown)."""
    text = _render(data, fmt, totals, mark)
    if not notes:
        return text
    if fmt == "markdown":
        return text + "\n" + "".join(f"- Note: {n}\n" for n in notes)
    return "".join(f"# Note: {n}\n" for n in notes) + text


def _render(data: TableData, fmt: SheetFormat, totals: bool, mark: str) -> str:
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
