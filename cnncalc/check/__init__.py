"""Homework checker: a filled worksheet compared cell by cell with the analysis, slips named.

The flow, one module per stage: ``sheets`` and ``numbers`` read a sheet (formats, locales, labels,
units), ``match`` pairs its rows with layers, ``expected`` says what each column asks, ``grade``
judges each cell (``tolerance``, formula answers), ``slips`` names the mistake behind a wrong one,
``results`` holds the verdicts and ``outputs`` renders them (terminal, JSON, Gradescope).
``worksheet`` writes the blank sheets.
"""

from __future__ import annotations

from .expected import COUNTS, GIVEN, ROUNDED, SHAPES, Counts, expected_count, expected_shape, shape_text, work
from .grade import grade
from .match import answer_view, match_rows
from .numbers import BLANK, Number, is_blank, parse_number, parse_shape
from .outputs import gradescope_results, report_dict, summary_markdown, verdict_table
from .results import CellResult, Report, Status
from .rules import GradescopeRules, Rules, Tolerance, Work, load_rules, parse_rules
from .sheets import (
    HEADER_ALIASES,
    TOTAL_NAMES,
    AnswerRow,
    AnswerSheet,
    Cell,
    SheetFormat,
    column_for_header,
    detect_format,
    parse_sheet,
    read_sheet,
)
from .slips import SLIPS, Alt, Slip, SlipContext, SlipDef, diagnose
from .tolerance import allowed
from .worksheet import ASKED, render_worksheet, worksheet

__all__ = [
    "ASKED", "BLANK", "COUNTS", "GIVEN", "HEADER_ALIASES", "ROUNDED", "SHAPES", "SLIPS", "TOTAL_NAMES",
    "Alt", "AnswerRow", "AnswerSheet", "Cell", "CellResult", "Counts", "GradescopeRules", "Number",
    "Report", "Rules", "SheetFormat", "Slip", "SlipContext", "SlipDef", "Status", "Tolerance", "Work",
    "allowed", "answer_view", "column_for_header", "detect_format", "diagnose", "expected_count",
    "expected_shape", "grade", "gradescope_results", "is_blank", "load_rules", "match_rows",
    "parse_number", "parse_rules", "parse_shape", "parse_sheet", "read_sheet", "render_worksheet",
    "report_dict", "shape_text", "summary_markdown", "verdict_table", "work", "worksheet",
]
