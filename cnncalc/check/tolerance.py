"""Grading numbers: how close an answer must be (default, relabs, sigfig)."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

from ..explain import fmt_number
from .expected import ROUNDED
from .rules import Tolerance


def _log10_floor(x: Fraction) -> int:
    n = math.floor(math.log10(float(x)))
    while Fraction(10) ** n > x:
        n -= 1
    while Fraction(10) ** (n + 1) <= x:
        n += 1
    return n


def allowed(key: str, expected: Fraction, given_half: Fraction, tol: Tolerance, rounded: bool | None = None,
            ) -> Fraction:
    """Largest |given − expected| accepted, in the column's units (see Tolerance). ``rounded``: the
    column holds rounded values (KB, k, M, or a unit its header names); default by its key."""
    if tol.digits is not None:
        if expected == 0:
            return Fraction(0)
        return Fraction(1, 2) * Fraction(10) ** (_log10_floor(abs(expected)) - tol.digits + 1)
    if not tol.default:
        return Fraction(str(tol.atol or 0)) + Fraction(str(tol.rtol or 0)) * abs(expected)
    return given_half if (key in ROUNDED if rounded is None else rounded) else Fraction(0)


@functools.lru_cache(maxsize=256)
def _tol_text(t: Fraction) -> str:
    return "exact" if t == 0 else f"±{fmt_number(t)}"
