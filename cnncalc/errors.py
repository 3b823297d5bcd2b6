"""Error types: every user-facing problem carries a source position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

Severity = Literal["error", "warning"]


class Position(NamedTuple):
    """A place in a source file, 1-based like a compiler's (a tuple: cheap, ordered)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One message about the user's input, printed as ``file:line:col: error: message``."""

    position: Position | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        return f"{where}{self.severity}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str]:
        p = self.position
        return (p.file, p.line, p.col, self.message) if p else ("", 0, 0, self.message)


class CnncalcError(Exception):
    """Base class of the errors a user can cause and fix (exit code 2)."""


class SpecError(CnncalcError):
    """One or more problems in a spec or other input file, reported together, sorted by line."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class UsageError(CnncalcError):
    """A bad command-line option or argument (no source position)."""


class LayerShapeError(CnncalcError):
    """Raised by a layer's formulas when its input cannot work; the graph adds name and line."""
