"""The verdicts: one per cell, and the report of a sheet."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..errors import Diagnostic, Position
from .rules import Rules
from .slips import Slip


class Status(str, Enum):
    """Verdict of one cell."""

    RIGHT = "right"
    WRONG = "wrong"
    UNANSWERED = "unanswered"

    @property
    def mark(self) -> str:
        return {"right": "✓", "wrong": "✗", "unanswered": "·"}[self.value]


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

    @property
    def points(self) -> float:
        return sum(c.earned for c in self.cells)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def score(self) -> float:
        """PrairieLearn-style score in [0, 1] (1 when nothing is scored and nothing is wrong)."""
        if not self.max_points:
            return 0.0 if self.wrong else 1.0
        return self.points / self.max_points

    @property
    def wrong(self) -> tuple[CellResult, ...]:
        """Wrong cells, and unanswered cells that carry points."""
        return tuple(c for c in self.cells if c.status is Status.WRONG
                     or (c.status is Status.UNANSWERED and c.points > 0))

    @property
    def all_right(self) -> bool:
        return not self.wrong
