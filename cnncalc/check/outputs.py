"""Outputs of a report (data only): JSON, Markdown summary, Gradescope results.json, the rich table."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from .results import CellResult, Report, Status


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _cell_line(c: CellResult) -> str:
    diag = str(c.slip) if c.slip else c.note
    return (f"| {c.status.mark} | {c.column} | {_md(c.given) or '—'} | {_md(c.expected)} | {_md(c.formula)} | "
            f"{_md(diag)} |")


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
    wrong = [c for c in report.wrong if c.status is Status.WRONG]
    blank = [c for c in report.wrong if c.status is Status.UNANSWERED]
    if wrong:
        lines += ["", "Wrong:"]
        for c in wrong:
            why = f" — {c.slip}" if c.slip else f" — {c.note}" if c.note else ""
            lines.append(f"- {c.layer} {c.column}: {_md(c.given)} (expected {_md(c.expected)}){why}")
    if blank:
        names = ", ".join(f"{c.layer} {c.column}" for c in blank[:8]) + (", …" if len(blank) > 8 else "")
        lines += ["", f"Unanswered: {len(blank)} cell{'s' if len(blank) != 1 else ''} ({names})."]
    if not wrong and not blank:
        lines += ["", "All right."]
    return "\n".join(lines)


def gradescope_results(report: Report) -> dict[str, Any]:
    """Gradescope autograder results.json: top-level score, one test per layer (or per cell)."""
    gs = report.rules.gradescope
    tests: list[dict[str, Any]] = []

    def test(name: str, number: str, cells: list[CellResult]) -> dict[str, Any]:
        score, top = sum(c.earned for c in cells), sum(c.points for c in cells)
        ok = all(c.status is Status.RIGHT for c in cells if c.points > 0 or c.status is Status.WRONG)
        return {
            "name": name, "number": number, "score": _pts(score), "max_score": _pts(top),
            "status": "passed" if ok else "failed",
            "output": _MD_HEAD + "\n" + "\n".join(_cell_line(c) for c in cells), "output_format": "md",
            "visibility": gs.visibility,
        }

    for i, (name, cells) in enumerate(_groups(report), 1):
        if gs.per == "layer":
            tests.append(test(name, str(i), cells))
        else:
            tests += [test(f"{name} · {c.column}", f"{i}.{j}", [c]) for j, c in enumerate(cells, 1)]
    return {
        "score": _pts(report.points),
        "output": summary_markdown(report),
        "output_format": "md",
        "visibility": gs.visibility,
        "tests": tests,
    }


def verdict_table(report: Report, *, wrong_only: bool = False) -> Table:
    """The per-cell verdicts as a rich table (scored cells, and given cells that differ from the spec)."""
    t = Table(title=f"{report.model}: {report.answers}", box=box.SIMPLE_HEAVY, header_style="bold")
    for h in ("", "Layer", "Column", "Given", "Expected", "Tol.", "Formula", "Diagnosis"):
        t.add_column(h, overflow="fold")
    for c in report.cells:
        bad = c.status is Status.WRONG or (c.status is Status.UNANSWERED and c.points > 0)
        if (wrong_only and not bad) or (c.given_column and not bad):
            continue
        style = "green" if c.status is Status.RIGHT else "red" if c.status is Status.WRONG else "yellow"
        diag = str(c.slip) if c.slip else c.note or ("unanswered" if c.status is Status.UNANSWERED else "")
        t.add_row(Text(c.status.mark, style=style), c.layer, c.column, c.given or "—", c.expected, c.tolerance,
                  c.formula, Text(diag, style="bold" if c.slip else ""))
    return t
