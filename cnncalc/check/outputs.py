"""Outputs of a report (data only): JSON, Markdown summary, Gradescope results.json, the rich table."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from ..columns import BY_KEY, Units, round_half_up
from ..explain import fmt_number
from .results import CellResult, Report, Status


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def column_title(key: str, kb: int = 1024) -> str:
    """The column as a student reads it: 'Mem. (KB)', 'Param. (k)', 'H' / W'' — not 'memory_kb'."""
    col = BY_KEY.get(key)
    return col.header(Units(kb=kb)) if col is not None else key


def human_value(text: str) -> str:
    """An expected value as a student reads it: '1,135.256096' → '≈ 1,135.256' (exact counts unchanged)."""
    m = re.fullmatch(r"(-?[\d,]+)\.(\d{4,})", text)
    if m is None:
        return text
    return "≈ " + fmt_number(Fraction(round_half_up(Fraction(text.replace(",", "")), 3)))


def _cell_line(c: CellResult, kb: int = 1024) -> str:
    diag = str(c.slip) if c.slip else c.note
    return (f"| {c.status.mark} | {_md(column_title(c.column, kb))} | {_md(c.given) or '—'} | "
            f"{_md(human_value(c.expected))} | {_md(c.formula)} | {_md(diag)} |")


_MD_HEAD = "| | Column | Given | Expected | Formula | Diagnosis |\n|---|---|---|---|---|---|"


def _pts(x: float) -> float:
    return round(x, 4)


def report_dict(report: Report) -> dict[str, Any]:
    """The verdicts as JSON-ready data, with a PrairieLearn-style ``score`` in [0, 1]."""
    return {
        "model": report.model,
        "answers": report.answers,
        "score": _pts(report.score),
        "points": _pts(report.points),
        "max_points": _pts(report.max_points),
        "all_right": report.all_right,
        "tolerance": report.tolerance,
        "rules": report.rules.model_dump(mode="json"),
        "cells": [
            {
                "layer": c.layer, "column": c.column, "status": c.status.value, "given": c.given,
                "expected": c.expected, "formula": c.formula, "points": _pts(c.points), "earned": _pts(c.earned),
                "tolerance": c.tolerance, "slip": c.slip.name if c.slip else None,
                "diagnosis": str(c.slip) if c.slip else c.note or None,
                "line": c.position.line if c.position else None, "col": c.position.col if c.position else None,
            }
            for c in report.cells
        ],
        "warnings": [str(w) for w in report.warnings],
        "dropped_columns": list(report.dropped),
        "decimal_mark": report.decimal,
        "review": len(report.review),
    }


def _groups(report: Report) -> list[tuple[str, list[CellResult]]]:
    order = [*report.layers, "Total"]
    by: dict[str, list[CellResult]] = {}
    for c in report.cells:
        by.setdefault(c.layer, []).append(c)
    return [(name, by[name]) for name in order if name in by]


def summary_markdown(report: Report, *, markdown: bool = True) -> str:
    """Score, tolerance, the wrong cells and a count of the unanswered ones (Markdown, or plain text)."""
    bold = "**" if markdown else ""
    lines = [f"{bold}Score: {_pts(report.points):g} / {_pts(report.max_points):g}{bold} ({report.score:.1%})",
             "", f"Tolerance: {report.tolerance}."]
    kb = report.rules.kb
    if report.decimal == ",":
        lines += ["", "Numbers read with a decimal comma (253,5 = 253.5), as this sheet writes them."]
    if report.dropped:
        lines += ["", "Columns not checked (not ones cnncalc knows): " + ", ".join(report.dropped) + "."]
    wrong = [c for c in report.wrong if c.status is Status.WRONG]
    blank = [c for c in report.wrong if c.status is Status.UNANSWERED]
    review = report.review
    if wrong:
        lines += ["", "Wrong:"]
        for c in wrong:
            why = f" — {c.slip}" if c.slip else f" — {c.note}" if c.note else ""
            lines.append(f"- {c.layer} {column_title(c.column, kb)}: {_md(c.given)} "
                         f"(expected {_md(human_value(c.expected))}){why}")
    if review:
        lines += ["", "For review by hand (unreadable, scored 0 until a grader looks):"]
        lines += [f"- {c.layer} {column_title(c.column, kb)}: {_md(c.given)}" for c in review]
    if blank:
        names = ", ".join(f"{c.layer} {column_title(c.column, kb)}" for c in blank[:8]) + (", …" if len(blank) > 8 else "")
        lines += ["", f"Unanswered: {len(blank)} cell{'s' if len(blank) != 1 else ''} ({names})."]
    if not wrong and not blank and not review:
        lines += ["", "All right."]
    return "\n".join(lines)


def gradescope_results(report: Report) -> dict[str, Any]:
    """Gradescope autograder results.json: top-level score, one test per layer (or per cell)."""
    gs = report.rules.gradescope
    tests: list[dict[str, Any]] = []

    kb = report.rules.kb

    def test(name: str, number: str, cells: list[CellResult], shown: list[CellResult]) -> dict[str, Any]:
        score, top = sum(c.earned for c in cells), sum(c.points for c in cells)
        # passed/failed by the scored cells: a 0-point given cell that differs is shown, not failed
        ok = all(c.status is Status.RIGHT for c in cells if c.points > 0)
        return {
            "name": name, "number": number, "score": _pts(score), "max_score": _pts(top),
            "status": "passed" if ok else "failed",
            "output": _MD_HEAD + "\n" + "\n".join(_cell_line(c, kb) for c in shown), "output_format": "md",
            "visibility": gs.visibility,
        }

    for i, (name, cells) in enumerate(_groups(report), 1):
        scored = [c for c in cells if c.points > 0]
        if gs.per == "layer":
            if scored:
                tests.append(test(name, str(i), scored, cells))
        else:  # no 0/0 tests for the given cells
            tests += [test(f"{name} · {column_title(c.column, kb)}", f"{i}.{j}", [c], [c])
                      for j, c in enumerate(scored, 1)]
    return {
        # the sum of the tests as shown, so that the top score never differs from them by rounding
        "score": _pts(sum(t["score"] for t in tests)),
        "output": summary_markdown(report),
        "output_format": "md",
        "visibility": gs.visibility,
        "tests": tests,
    }


#: Most cells the terminal table lists; a larger sheet lists only what is not right (then the
#: first TABLE_ROWS of those), and says so. JSON (-f json) always has every cell.
TABLE_CELLS = 400
TABLE_ROWS = 400


def verdict_table(report: Report, *, wrong_only: bool = False) -> Table:
    """The per-cell verdicts as a rich table (scored cells, and given cells that differ from the spec)."""
    t = Table(title=f"{report.model}: {report.answers}", box=box.SIMPLE_HEAVY, header_style="bold")
    for h in ("", "Layer", "Column", "Given", "Expected", "Tol.", "Formula", "Diagnosis"):
        t.add_column(h, overflow="fold")
    wrong_only = wrong_only or len(report.cells) > TABLE_CELLS
    shown = 0
    for c in report.cells:
        bad = c.status in (Status.WRONG, Status.REVIEW) or (c.status is Status.UNANSWERED and c.points > 0)
        if (wrong_only and not bad) or (c.given_column and not bad):
            continue
        shown += 1
        if shown > TABLE_ROWS:
            t.caption = f"first {TABLE_ROWS} of the cells not right; -f json lists every cell"
            break
        style = "green" if c.status is Status.RIGHT else "red" if c.status is Status.WRONG else "yellow"
        diag = str(c.slip) if c.slip else c.note or ("unanswered" if c.status is Status.UNANSWERED else "")
        t.add_row(Text(c.status.mark, style=style), c.layer, c.column, c.given or "—", c.expected, c.tolerance,
                  c.formula, Text(diag, style="bold" if c.slip else ""))
    return t


def failure_results(reason: str, visibility: str = "visible") -> dict[str, Any]:
    """results.json for a submission that cannot be graded: score 0 and the reason, so the student
    sees why instead of a failed autograder."""
    return {
        "score": 0,
        "output": f"**Score: 0** — the answer sheet could not be graded.\n\n{reason}\n\n"
                  "Fix the file and submit again; ask the course staff if the reason is unclear.",
        "output_format": "md",
        "visibility": visibility,
        "tests": [],
    }
