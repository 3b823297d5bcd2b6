"""Answer sheets (kept for imports): reading now lives in cnncalc.check.sheets, blank worksheets in cnncalc.check.worksheet."""

from __future__ import annotations

from .check.numbers import BLANK, Number, is_blank, parse_number, parse_shape
from .check.sheets import (
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
from .check.worksheet import ASKED, render_worksheet, worksheet

__all__ = [
    "ASKED", "BLANK", "HEADER_ALIASES", "TOTAL_NAMES", "AnswerRow", "AnswerSheet", "Cell", "Number",
    "SheetFormat", "column_for_header", "detect_format", "is_blank", "parse_number", "parse_shape",
    "parse_sheet", "read_sheet", "render_worksheet", "worksheet",
]
