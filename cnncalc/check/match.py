"""Matching the rows of a sheet to the layers of the analysis."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from ..analysis import Analysis, Row
from ..errors import Diagnostic, SpecError
from .sheets import AnswerRow, AnswerSheet


def _letters(name: str) -> str:
    m = re.match(r"[a-z]+", re.sub(r"[\s_\-.]", "", name.lower()))
    return m.group(0) if m else ""


def _body(sheet: AnswerSheet) -> list[AnswerRow]:
    """The answer rows that stand for layers: not totals, not an input/data/image row."""
    return [ar for ar in sheet.rows if not ar.is_total and _letters(ar.name) not in ("input", "data", "image")]


def answer_view(analysis: Analysis, sheet: AnswerSheet) -> Analysis:
    """The rows ``sheet`` was written against: the layers, or, when its rows name block instances
    (a ``table --depth N`` export: inception3a, layer1_2), the rows collapsed to the shallowest
    depth whose names hold every answer row's. Totals are the same at every depth."""
    names = {ar.name.lower() for ar in _body(sheet)}
    if not names or names <= {r.name.lower() for r in analysis.rows}:
        return analysis
    for depth in range(max((len(r.groups) for r in analysis.rows), default=0)):
        view = analysis.view(depth)
        if names <= {r.name.lower() for r in view.rows}:
            return view
    return analysis


def match_rows(sheet: AnswerSheet, rows: Sequence[Row]) -> tuple[list[tuple[AnswerRow, Row | None]], list[Diagnostic]]:
    """Pair answer rows with analysis rows (None: the totals row).

    When most names are layers' (case-insensitively) and none repeats, rows match by name in any
    order. Otherwise they match in order: each answer row takes the next layer whose name is its
    name, or whose name or type starts the same way ("conv" for conv1, "POOL2" for pool1, "FC" for
    fc6, as the seeds' GoogLeNet-stem table and VGG list write them). Rows named input/data are
    skipped. A row that matches nothing is a positioned error; matches by order are reported as a
    warning, so that a guess is never silent.
    """
    by_name = {r.name.lower(): i for i, r in enumerate(rows)}
    body = _body(sheet)
    names = [ar.name.lower() for ar in body]
    known = [n for n in names if n in by_name]
    # Names mode unless names repeat or most are not layer names (then a typo is an error, not a guess).
    by_order = len(set(known)) != len(known) or 2 * len(known) < len(names)
    problems: list[Diagnostic] = []
    out: list[tuple[AnswerRow, Row | None]] = []
    nxt = 0
    for ar in sheet.rows:
        if ar.is_total:
            out.append((ar, None))
            continue
        if ar not in body:
            continue
        idx: int | None = None
        if not by_order:
            idx = by_name.get(ar.name.lower())
        else:
            want, low = _letters(ar.name), ar.name.lower()
            for j in range(nxt, len(rows)):
                r = rows[j]
                if low == r.name.lower() or (want and (want == _letters(r.name) or want == r.type.lower()
                                                       or r.type.lower().endswith(want))):
                    idx = j
                    break
        if idx is None:
            close = difflib.get_close_matches(ar.name, [r.name for r in rows], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            where = " after the rows above (rows are matched in order)" if by_order and ar.name.lower() in by_name else ""
            problems.append(Diagnostic(ar.position, f"no layer named '{ar.name}' in the spec{where}{hint}"))
            continue
        nxt = idx + 1
        out.append((ar, rows[idx]))
    if problems:
        raise SpecError(problems)
    guessed = [f"{ar.name}→{r.name}" for ar, r in out if r is not None and ar.name.lower() != r.name.lower()]
    warnings = []
    if guessed:
        shown = ", ".join(guessed[:8]) + (", …" if len(guessed) > 8 else "")
        warnings.append(Diagnostic(body[0].position, f"rows matched to layers in order: {shown}", "warning"))
    return out, warnings
