"""Matching the rows of a sheet to the layers of the analysis."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from ..analysis import Analysis, Row
from ..errors import Diagnostic, SpecError
from .sheets import AnswerRow, AnswerSheet, norm_label

_SEPARATORS = re.compile(r"[\s_\-.]")
_FIRST_LETTERS = re.compile(r"[a-z]+")


def _letters(name: str) -> str:
    m = _FIRST_LETTERS.match(_SEPARATORS.sub("", name.lower()))
    return m.group(0) if m else ""


def _body(sheet: AnswerSheet) -> list[AnswerRow]:
    """The answer rows that stand for layers: not totals, not an input/data/image row."""
    return [ar for ar in sheet.rows if not ar.is_total and _letters(ar.name) not in ("input", "data", "image")]


def answer_view(analysis: Analysis, sheet: AnswerSheet) -> Analysis:
    """The rows ``sheet`` was written against: the layers, or, when its rows name block instances
    (a ``table --depth N`` export: inception3a, layer1_2), the rows collapsed to the shallowest
    depth whose names hold every answer row's. Totals are the same at every depth."""
    names = {ar.label for ar in _body(sheet)}
    if not names or names <= {norm_label(r.name) for r in analysis.rows}:
        return analysis
    for depth in range(max((len(r.groups) for r in analysis.rows), default=0)):
        view = analysis.view(depth)
        if names <= {norm_label(r.name) for r in view.rows}:
            return view
    return analysis


#: How far back an out-of-order row may reach for a layer it skipped (a line typed late).
_GAP_WINDOW = 32


def match_rows(sheet: AnswerSheet, rows: Sequence[Row], score: Callable[[AnswerRow, Row], int] | None = None,
               ) -> tuple[list[tuple[AnswerRow, Row | None]], list[Diagnostic]]:
    """Pair answer rows with analysis rows (None: the totals row).

    Labels compare loosely (``Conv 1``, ``Pool-1``, ``CONV1`` are conv1; ``Total:`` the totals).
    When most labels are layers' names, rows match by name in any order. Otherwise they match in
    order: each answer row takes the next layer whose name is its name, or whose name or type starts
    the same way ("conv" for conv1, "POOL2" for pool1, "FC" for fc6, as the seeds' GoogLeNet-stem
    table and VGG list write them); a row typed out of order takes the layer it skipped when its
    answers match that layer better. ``score`` (the number of an answer row's cells right for a
    layer) decides by content where names fail: a row whose name is no layer's, or repeats one
    already answered, takes the one unanswered layer its cells match best (at least two cells, no
    tie), with a warning; otherwise it is a positioned error. Rows named input/data are skipped.
    Every match that is not by name is reported as a warning, so that a guess is never silent.
    """
    by_label: dict[str, int] = {}
    for i, r in enumerate(rows):
        by_label.setdefault(norm_label(r.name), i)
    body = _body(sheet)
    in_body = {id(ar) for ar in body}
    labels = [ar.label for ar in body]
    known = sum(lb in by_label for lb in labels)
    by_order = not known or 2 * known < len(labels)
    problems: list[Diagnostic] = []
    out: list[tuple[AnswerRow, Row | None]] = []
    used: dict[int, AnswerRow] = {}
    by_content: list[str] = []
    content_ids: set[int] = set()
    nxt = 0

    def rescue(ar: AnswerRow) -> int | None:
        """The one unanswered layer this row's cells match best (≥ 2 cells, no tie), or None."""
        if score is None or len(ar.cells) < 2:
            return None
        scored = sorted(((score(ar, rows[j]), j) for j in range(len(rows)) if j not in used),
                        key=lambda t: -t[0])
        if scored and scored[0][0] >= 2 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return scored[0][1]
        return None

    for ar in sheet.rows:
        if ar.is_total:
            out.append((ar, None))
            continue
        if id(ar) not in in_body:
            continue
        idx: int | None = None
        label = ar.label
        if not by_order:
            idx = by_label.get(label)
            if idx is not None and idx in used:
                first = used[idx]
                idx = rescue(ar)
                if idx is None:
                    problems.append(Diagnostic(ar.position, f"'{ar.name}' is answered twice (first at line "
                                               f"{first.position.line}); rename one row"))
                    continue
                by_content.append(f"{ar.name} (line {ar.position.line})→{rows[idx].name}")
                content_ids.add(id(ar))
        else:
            want = _letters(ar.name)
            seq = next((j for j in range(nxt, len(rows)) if j not in used and _compatible(label, want, rows[j])),
                       None)
            idx = seq
            if score is not None:
                best = score(ar, rows[seq]) if seq is not None else 0
                for j in range(max(0, nxt - _GAP_WINDOW), nxt):  # a layer skipped: this line typed late
                    if j not in used and _compatible(label, want, rows[j]) and (s := score(ar, rows[j])) > best:
                        idx, best = j, s
        if idx is None:
            idx = rescue(ar)
            if idx is not None:
                by_content.append(f"{ar.name} (line {ar.position.line})→{rows[idx].name}")
                content_ids.add(id(ar))
        if idx is None:
            close = difflib.get_close_matches(ar.name, [r.name for r in rows], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            where = " after the rows above (rows are matched in order)" if by_order and label in by_label else ""
            problems.append(Diagnostic(ar.position, f"no layer named '{ar.name}' in the spec{where}{hint}"))
            continue
        if idx >= nxt:
            nxt = idx + 1
        used[idx] = ar
        out.append((ar, rows[idx]))
    if problems:
        raise SpecError(problems)
    guessed = [f"{ar.name}→{r.name}" for ar, r in out
               if r is not None and ar.label != norm_label(r.name) and id(ar) not in content_ids]
    warnings = []
    if guessed:
        shown = ", ".join(guessed[:8]) + (", …" if len(guessed) > 8 else "")
        warnings.append(Diagnostic(body[0].position, f"rows matched to layers in order: {shown}", "warning"))
    if by_content:
        shown = ", ".join(by_content[:8]) + (", …" if len(by_content) > 8 else "")
        warnings.append(Diagnostic(body[0].position, f"rows matched to layers by their answers: {shown}", "warning"))
    return out, warnings


def _compatible(label: str, letters: str, r: Row) -> bool:
    """An order-mode label fits a layer: its name, or the letters its name or type start with."""
    return label == norm_label(r.name) or (bool(letters) and (letters == _letters(r.name) or letters == r.type.lower()
                                                              or r.type.lower().endswith(letters)))
