"""The verdicts: one per cell, and the report of a sheet."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import Diagnostic, Position
from .rules import Rules
from .slips import Slip


class Status(str, Enum):
    """Verdict of one cell."""

    RIGHT = "right"
    WRONG = "wrong"
    UNANSWERED = "unanswered"
    #: Unreadable: flagged for a person to grade, not counted wrong.
    REVIEW = "review"

    @property
    def mark(self) -> str:
        return {"right": "✓", "wrong": "✗", "unanswered": "·", "review": "?"}[self.value]


@dataclass(frozen=True)
class CellResult:
    """The verdict on one answer cell, with what was expected and why."""

    layer: str
    column: str
    status: Status
    given: str
    expected: str
    formula: str
    points: float
    earned: float
    tolerance: str
    slip: Slip | None = None
    note: str = ""
    position: Position | None = None
    given_column: bool = False
    #: The answer as read (a Fraction in the column's units, or a shape tuple) and the expected value.
    value: Any = None
    exact: Any = None


@dataclass(frozen=True)
class Report:
    """Every checked cell of one answer sheet, and the score."""

    model: str
    answers: str
    cells: tuple[CellResult, ...]
    rules: Rules
    tolerance: str
    warnings: tuple[Diagnostic, ...] = ()
    layers: tuple[str, ...] = field(default_factory=tuple)
    #: Headers of the sheet's columns that were not checked, and its decimal mark.
    dropped: tuple[str, ...] = ()
    decimal: str = "."

    @functools.cached_property
    def points(self) -> float:
        return sum(c.earned for c in self.cells)

    @functools.cached_property
    def max_points(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def score(self) -> float:
        """PrairieLearn-style score in [0, 1] (1 when nothing is scored and nothing is wrong)."""
        if not self.max_points:
            return 0.0 if self.wrong else 1.0
        return self.points / self.max_points

    @functools.cached_property
    def wrong(self) -> tuple[CellResult, ...]:
        """Wrong cells, and unanswered cells that carry points."""
        return tuple(c for c in self.cells if c.status is Status.WRONG
                     or (c.status is Status.UNANSWERED and c.points > 0))

    @functools.cached_property
    def review(self) -> tuple[CellResult, ...]:
        """Cells that could not be read, for grading by hand."""
        return tuple(c for c in self.cells if c.status is Status.REVIEW)

    @property
    def all_right(self) -> bool:
        return not self.wrong and not self.review
