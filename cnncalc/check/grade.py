"""Grading cells: each answer against the expected value, with its formula, tolerance and slip."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from ..analysis import Analysis, Row
from ..columns import BY_KEY, round_half_up
from ..errors import CnncalcError, Position
from ..explain import fmt_number
from ..layers import Formula, Layer
from ..source import without_gc
from .expected import (
    _MEMORY,
    _PARAMS,
    _SQUARE,
    _WORK,
    COUNTS,
    GIVEN,
    ROUNDED,
    SHAPES,
    Counts,
    _order,
    _scale,
    _square,
    expected_count,
    shape_text,
    shape_values,
)
from .match import answer_view, match_rows
from .numbers import Decimal, Number, cached_fraction, is_blank, parse_number, parse_shape
from .results import CellResult, Report, Status
from .rules import Rules, Tolerance, Work
from .sheets import AnswerRow, AnswerSheet, Cell
from .slips import Slip, SlipContext, diagnose, formula_slips
from .tolerance import _tol_text, allowed

_FORMULA_FOR: dict[str, tuple[str, ...]] = {
    "hw_out": ("W'", "H'", "Output"), "c_out": ("Output",), "output_shape": ("Output",),
    "memory_kb": ("Memory",), "memory_bytes": ("Memory",), "params": ("Params",), "params_k": ("Params",),
    "weights": ("Params",), "bias": ("Params",), "macs": ("MACs",), "macs_m": ("MACs",), "ops": ("Ops",),
    "ops_m": ("Ops",), "buffers": ("Buffers",), "receptive_field": ("RF",), "jump": ("RF",),
}


def _find(formulas: Mapping[str, Formula], *names: str) -> Formula | None:
    """The formula of the first of ``names`` that has one."""
    for n in names:
        f = formulas.get(n)
        if f is not None:
            return f
    return None


def _by_quantity(formulas: Sequence[Formula]) -> dict[str, Formula]:
    """A layer's formulas by quantity (the first of each)."""
    out: dict[str, Formula] = {}
    for f in formulas:
        out.setdefault(f.quantity, f)
    return out


def _formula(key: str, row: Row, formulas: Mapping[str, Formula], c: Counts, rules: Rules) -> str:
    if key in _WORK:
        parts = []
        mac = _find(formulas, "MACs")
        if c.macs:
            parts.append(_formula_str(mac) if mac else f"MACs = {c.macs:,}")
        if rules.work is Work.FLOPS:
            parts.append(f"FLOPs = 2 × {c.macs:,} = {2 * c.macs:,}")
        extra = c.pool_ops if rules.work is Work.MACS_POOL else c.ops if rules.work is Work.MACS_OPS else 0
        if extra:
            ops = _find(formulas, "Ops")
            parts.append(_formula_str(ops) if ops and extra == c.ops else f"ops = {extra:,}")
            if c.macs:
                parts.append(f"{c.macs:,} + {extra:,} = {c.macs + extra:,}")
        if not parts:
            return "MACs = 0 (only conv, deconv and fc multiply-accumulate)"
        return " ; ".join(parts)
    if key in _PARAMS and not rules.bias and c.bias:
        return f"Params (weights only) = {c.weights:,}"
    f = _find(formulas, *_FORMULA_FOR.get(key, ()))
    if f is None and key in (*_PARAMS, "weights", "bias"):
        return f"Params = {c.params:,} (no learnable parameters)" if not c.params else f"Params = {c.params:,}"
    return _formula_str(f) if f else ""


def _total_formula(key: str, rows: Sequence[Row], analysis: Analysis, rules: Rules,
                   counts: Callable[[Row], Counts] | None = None) -> str:
    """Σ of the rows' values; the terms written out for a short table. ``counts``: a row's counts (cached)."""
    scale = _scale(key, rules)
    of = counts or (lambda r: Counts.of_row(r, analysis))
    if len(rows) > 12:
        total = Fraction(sum(expected_count(key, of(r), rules) for r in rows), scale)
        return f"Σ of {len(rows)} rows = {fmt_number(total)}"
    vals = [Fraction(expected_count(key, of(r), rules), scale) for r in rows]
    total = sum(vals, Fraction(0))
    if len(vals) <= 12:
        terms = " + ".join(str(round_half_up(v, 1)) if v.denominator != 1 else f"{v.numerator:,}" for v in vals)
        return f"Σ rows = {terms} = {fmt_number(total)}"
    return f"Σ of {len(vals)} rows = {fmt_number(total)}"


def _given_text_match(given: str, expected: str) -> bool:
    def norm(s: str) -> str:
        return s.lower().replace(" ", "").replace("x", "×").replace("*", "×")

    g, e = norm(given), norm(expected)
    return g == e or (bool(g) and e.endswith(g))  # "pool" for maxpool


#: Words a formula answer may end with ("18C^2 H W MACs"), and the ones a column's header unit replaces.
_TRAILING_UNITS = re.compile(r"\s*(macs?|flops?|multiply-adds|mult-adds|madds|ops|params|parameters|weights|"
                             r"bytes|elements|b)\.?\s*$", re.IGNORECASE)
_LETTERS = re.compile(r"[A-Za-z]")
_TIMES = re.compile(r"(?<=\d)\s*[xX×]\s*(?=\d)")
#: Columns answered by another: params for params_k, output_shape for c_out and hw_out.
SIBLINGS: dict[str, tuple[str, ...]] = {
    "c_out": ("output_shape",), "hw_out": ("output_shape",), "memory_kb": ("memory_bytes",),
    "memory_bytes": ("memory_kb",), "params_k": ("params",), "params": ("params_k",), "macs_m": ("macs",),
    "macs": ("macs_m",), "output_shape": ("c_out", "hw_out"),
}
#: The worksheet's questions when the rules list no columns (the default template's asked columns).
DEFAULT_ASKED = ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")


class _Grader:
    def __init__(self, analysis: Analysis, rules: Rules, formulas: Mapping[str, Sequence[Formula]],
                 layers: Mapping[str, Layer], tolerance: Tolerance,
                 symbolic: Callable[[], Analysis] | None = None, decimal: Decimal = ".",
                 units: Mapping[str, str] | None = None) -> None:
        self.a, self.rules, self.formulas, self.layers, self.tol = analysis, rules, formulas, layers, tolerance
        self.symbolic = symbolic
        self.decimal, self.units = decimal, dict(units or {})
        self._sym: Analysis | None = None
        self._sym_rows: dict[str, Row] = {}
        self._all: Counts | None = None
        self._counts: dict[int, tuple[Row, Counts]] = {}
        self._last: tuple[Row, Counts] | None = None
        self._last_formulas: tuple[Row, dict[str, Formula]] | None = None
        #: Right verdicts by (column, text, expected): what a right cell shows besides its row.
        self._right: dict[tuple[str, str, Any], Any] = {}
        self._scales: dict[str, int] = {}
        self._shapes: dict[tuple[str, tuple[Any, ...]], tuple[tuple[Fraction, ...], str]] = {}

    @property
    def totals(self) -> Counts:
        if self._all is None:
            self._all = Counts.summed([self.row_counts(r) for r in self.a.rows], self.a)
        return self._all

    def row_counts(self, row: Row) -> Counts:
        """Counts.of_row, once per row (a row's cells all read them)."""
        last = self._last
        if last is not None and last[0] is row:  # the cells of one row come one after another
            return last[1]
        got = self._counts.get(id(row))
        if got is None or got[0] is not row:
            got = self._counts[id(row)] = (row, Counts.of_row(row, self.a))
        self._last = got
        return got[1]

    def number(self, key: str, text: str) -> tuple[Number | None, bool]:
        """The answer read as a number in the sheet's locale, with the unit its header names appended
        ('42.9' under 'Mem (MB)' is 42.9 MB); the flag says a header unit applied."""
        num = _parse_number(text, self.rules.kb, self.decimal)
        unit = self.units.get(key)
        if unit and num is not None and not num.absolute:
            # the unit goes after the number, inside the Markdown emphasis a Total row's cells wear
            with_unit = _parse_number(f"{text.strip().strip('*').strip()} {unit}", self.rules.kb, self.decimal)
            return with_unit, with_unit is not None
        return num, False

    def _symbolic_row(self, name: str) -> Row:
        if not self._sym_rows:
            assert self._sym is not None
            self._sym_rows = {r.name: r for r in self._sym.rows}
        return self._sym_rows[name]

    def formula_answer(self, key: str, row: Row | None, text: str) -> tuple[bool, str, Slip | None] | None:
        """A formula answer (``18C²HW``) judged by algebraic equivalence with the same count on the
        spec read with symbols (cnncalc.symbolic); None when ``text`` is no formula or there are none.
        Formulas are in the quantity's own unit; memory may be given in bytes or in elements (the
        notes' 4HWC); H'/W' may be either side. A wrong formula is matched against the slips'
        formulas (a bias added, FLOPs for MACs). Returns (right, the expected formula, slip)."""
        if self.symbolic is None or not any(ch.isalpha() for ch in text):
            return None
        from .. import symbolic as sym
        try:
            self._sym = self._sym or self.symbolic()
            a = self._sym
            srow = self._symbolic_row(row.name) if row else None
            names = sym.free_names([*a.input, *(srow.output if srow else ())])
            cleaned = _TRAILING_UNITS.sub("", text.strip()) or text
            if not any(n.lower() == "x" for n in names):
                cleaned = re.sub(r"(?<=[\w)²³^}])\s*[xX]\s*(?=[\w(])", "×", cleaned)
            slip: Slip | None = None
            if key in SHAPES:
                if key not in ("c_out", "hw_out") or srow is None or (key == "hw_out" and len(srow.output) != 3):
                    return None
                accepted = [srow.output[0]] if key == "c_out" else list(dict.fromkeys(srow.output[1:]))
            else:
                c = Counts.of_row(srow, a) if srow else Counts.of_all(a)
                accepted = [expected_count(key, c, self.rules), *([c.elements] if key in _MEMORY else [])]
                out_c = srow.output[0] if srow is not None else None
                names = sym.free_names([*accepted, *a.input])
            verdict = sym.judge(cleaned, accepted, names)
            if verdict is False and key not in SHAPES:
                for alt in formula_slips(key, c, self.rules, out_c):
                    if sym.judge(cleaned, [alt.value], names):
                        slip = Slip(alt.name, alt.title, alt.detail)
                        break
        except ImportError:
            return (False, "a formula (needs sympy: pip install 'cnncalc[symbolic]')", None)
        except (CnncalcError, KeyError, StopIteration, TypeError, ValueError):  # no such row, a count needing numbers
            return None
        if verdict is None:
            return None
        return verdict, " or ".join(sym.pretty(sym.simplify(e)) for e in accepted), slip

    def points(self, key: str, total: bool) -> float:
        by_rules = self.rules.points(key)
        if by_rules == 0 and self.rules.columns is not None:
            # a sibling column answers a listed one: params (exact) for params_k
            sib = [self.rules.points(k) for k in SIBLINGS.get(key, ())]
            by_rules = max([p for p in sib if p is not None], default=by_rules)
        if total:
            return self.rules.totals if by_rules is None or by_rules > 0 else 0.0
        if key in GIVEN:
            return by_rules if by_rules else self.rules.given
        return 1.0 if by_rules is None else by_rules

    def content_score(self, ar: AnswerRow, row: Row) -> int:
        """How many of an answer row's cells are right for a layer (matching rows by content)."""
        n = 0
        for key, cell in ar.cells.items():
            # formula answers (letters other than the x of 13x13) are left out: judging them is slow
            if key in BY_KEY and not is_blank(cell.text) and not _LETTERS.search(_TIMES.sub("", cell.text)):
                res = self.cell(key, cell, row, 0.0, diagnose_slips=False)
                n += res is not None and res.status is Status.RIGHT
        return n

    def cell(self, key: str, cell: Cell | None, row: Row | None, points: float,
             diagnose_slips: bool = True) -> CellResult | None:
        """One verdict; None where the column does not apply to this row."""
        name = row.name if row else "Total"
        text = cell.text if cell else ""
        pos = cell.position if cell else None
        if key in GIVEN:
            if row is None:
                return None
            return self.given(key, row, text, points, pos)
        counts = self.row_counts(row) if row else self.totals
        if key in SHAPES:
            if row is None:
                return None
            raw = shape_values(key, row, self.rules)
            if raw is None:
                return None
            exp_sq, exp_txt = self.shape(key, raw)
            formula = self.formula_text(key, row, counts)
            if _is_blank(text):
                return self.result(name, key, text, points, pos, Status.UNANSWERED, exp_txt, formula)
            # a right answer depends on the text and the expected sizes only: judged once per pair
            memo_key = (key, text, raw)
            right = self._right.get(memo_key)
            if right is not None:
                return self.result(name, key, text, points, pos, Status.RIGHT, exp_txt, formula, value=right[0],
                                   exact=exp_sq, note=right[1])
            num, _ = self.number(key, text)
            given = (num.value,) if num is not None and not num.absolute else _parse_shape(text)
            if given is None and (judged := self.formula_answer(key, row, text)) is not None:
                return self.result(name, key, text, points, pos, Status.RIGHT if judged[0] else Status.WRONG,
                                   judged[1], formula, slip=judged[2], note="formula answer")
            if given is None:
                return self.unreadable(name, key, text, points, pos, exp_txt, formula, "a size")
            given = _square(given, key)
            if len(exp_sq) == 1 and len(given) > 1 and key not in _SQUARE and sorted(given)[:-1] == [1] * (len(given) - 1):
                given = (max(given),)  # a vector written 1×1×4096 (or 4096×1×1) is 4096
            if given == exp_sq:
                self._right[memo_key] = (given, "")
                return self.result(name, key, text, points, pos, Status.RIGHT, exp_txt, formula, value=given,
                                   exact=exp_sq)
            full = tuple(Fraction(x) for x in _order(row.output, self.rules))
            if key in ("c_out", "hw_out") and len(given) == 3 and len(row.output) == 3:
                chw = tuple(Fraction(x) for x in row.output)
                hwc = (chw[1], chw[2], chw[0])
                if given in (chw, hwc):  # the whole output shape, in either order (the notes write both)
                    return self.result(name, key, text, points, pos, Status.RIGHT, exp_txt, formula,
                                       note="answered with the full output shape", value=given, exact=exp_sq)
            slip = None
            if diagnose_slips:
                ctx = SlipContext(key, counts, self.rules, full if len(given) == 3 and key in ("c_out", "hw_out")
                                  else exp_sq, row, self.layers.get(name), self.a)
                slip = diagnose(ctx, given, Fraction(0))
            return self.result(name, key, text, points, pos, Status.WRONG, exp_txt, formula, slip=slip, value=given,
                               exact=exp_sq)
        # numeric columns
        scale = self._scale(key)
        exact = expected_count(key, counts, self.rules)
        formula = self.formula_text(key, row, counts) if row else \
            _total_formula(key, self.a.rows, self.a, self.rules, self.row_counts)
        # a right answer depends on the text and the exact count only (the grader fixes the rest)
        memo = self._right.get((key, text, exact))
        if memo is not None:
            value, exp_val, exp_txt, tol_txt = memo
            return self.result(name, key, text, points, pos, Status.RIGHT, exp_txt, formula, tol_txt, value=value,
                               exact=exp_val)
        exp_val = _fraction(exact, scale)
        exp_txt = _fmt(exp_val)
        rounded = key in ROUNDED or key in self.units
        if _is_blank(text):
            return self.result(name, key, text, points, pos, Status.UNANSWERED, exp_txt, formula,
                               tol=_tol_text(allowed(key, exp_val, _HALF, self.tol, rounded)))
        num, _ = self.number(key, text)
        if num is None and (judged := self.formula_answer(key, row, text)) is not None:
            return self.result(name, key, text, points, pos, Status.RIGHT if judged[0] else Status.WRONG, judged[1],
                               formula, slip=judged[2], note="formula answer")
        if num is None:
            return self.unreadable(name, key, text, points, pos, exp_txt, formula, "a number")
        value, half = num.in_units(scale)
        tol = allowed(key, exp_val, half, self.tol, rounded)
        if abs(value - exp_val) <= tol:
            tol_txt = _tol_text(tol)
            self._right[(key, text, exact)] = (value, exp_val, exp_txt, tol_txt)
            return self.result(name, key, text, points, pos, Status.RIGHT, exp_txt, formula, tol_txt, value=value,
                               exact=exp_val)
        slip = None
        if not diagnose_slips:
            pass
        elif half and abs(value - exp_val) <= half and (num.absolute or key in ROUNDED):
            # within the answer's own rounding: a precision the tolerance does not accept, not a slip
            slip = Slip("rounded", "rounded too coarsely",
                        f"{_short(text)} is {exp_txt} rounded; "
                        + ("this column wants the exact count" if key in COUNTS and not rounded
                           else f"the tolerance is {_tol_text(tol)}"))
        else:
            slip = diagnose(SlipContext(key, counts, self.rules, exp_val, row, self.layers.get(name), self.a, half),
                            value, max(tol, half))
        return self.result(name, key, text, points, pos, Status.WRONG, exp_txt, formula, _tol_text(tol), slip,
                           value=value, exact=exp_val)

    def result(self, name: str, key: str, text: str, points: float, pos: Position | None, status: Status,
               expected: str, formula: str = "", tol: str = "exact", slip: Slip | None = None, note: str = "",
               value: Any = None, exact: Any = None) -> CellResult:
        """A CellResult; the points earned by the status (a slip earns the rules' slip credit)."""
        if status is Status.RIGHT:
            earned = points
        elif status is Status.WRONG:
            earned = points * (0.0 if slip is None or slip.name == "rounded" else self.rules.slip_credit)
        else:
            earned = 0.0
        return CellResult(name, key, status, text, expected, formula, points, earned, tol, slip, note, pos,
                          key in GIVEN, value, exact)

    def unreadable(self, name: str, key: str, text: str, points: float, pos: Position | None, expected: str,
                   formula: str, what: str) -> CellResult:
        from ..symbolic import INSTALL_HINT, available

        hint = f" (a formula? judging formulas needs sympy: {INSTALL_HINT})" \
            if _LETTERS.search(text) and not available() else ""
        return self.result(name, key, text, points, pos, Status.REVIEW, expected, formula,
                           note=f"cannot read '{_short(text)}' as {what}{hint}; left for grading by hand")

    def formula_text(self, key: str, row: Row, counts: Counts) -> str:
        """_formula for a row's cell."""
        last = self._last_formulas
        if last is None or last[0] is not row:  # the cells of one row come one after another
            last = self._last_formulas = (row, _by_quantity(self.formulas.get(row.name, ())))
        return _formula(key, row, last[1], counts, self.rules)

    def shape(self, key: str, raw: tuple[Any, ...]) -> tuple[tuple[Fraction, ...], str]:
        """expected_shape's tuple (squared: 55 for 55×55) and its text, once per distinct sizes."""
        got = self._shapes.get((key, raw))
        if got is None:
            exp = tuple(cached_fraction(v) for v in raw)
            got = self._shapes[(key, raw)] = (_square(exp, key), shape_text(exp, key))
        return got

    def _given_number(self, text: str, expected: str) -> bool:
        """A given count written as a number in the sheet's locale: 1,024 (or 1.024 on a German
        sheet, where 1,024 is a decimal) is 1024; without a unit, exactly."""
        if not expected.isdecimal():
            return False
        num = _parse_number(text, self.rules.kb, self.decimal)
        return num is not None and not num.absolute and num.value == int(expected)

    def _scale(self, key: str) -> int:
        got = self._scales.get(key)
        if got is None:
            got = self._scales[key] = _scale(key, self.rules)
        return got

    def given(self, key: str, row: Row, text: str, points: float, pos: Position | None) -> CellResult | None:
        if key == "type":
            expected = row.type
        elif key in ("c_in", "hw_in"):
            raw = shape_values(key, row, self.rules)
            if raw is None:
                return None
            expected = self.shape(key, raw)[1]
        else:
            expected = str(getattr(row.hyper, key))
        if not expected:
            return None
        name = row.name
        if _is_blank(text):
            return self.result(name, key, text, points, pos, Status.UNANSWERED, expected)
        if _given_right(key, text, expected) or self._given_number(text, expected):
            return self.result(name, key, text, points, pos, Status.RIGHT, expected)
        return self.result(name, key, text, points, pos, Status.WRONG, expected,
                           note=f"differs from the spec ({key} {expected})" + _given_consequence(key, text, row))


@functools.lru_cache(maxsize=4096)
def _given_right(key: str, text: str, expected: str) -> bool:
    """A given cell's text names the spec's value (a shape read as such: 13x13 is 13; '256' the sum of 128+128)."""
    e_shape, g_shape = parse_shape(expected), parse_shape(text)
    if e_shape is not None and g_shape is not None:
        return _square(e_shape, key) == _square(g_shape, key) or (key == "c_in" and len(g_shape) == 1
                                                                and g_shape[0] == sum(e_shape))
    return _given_text_match(text, expected)


#: Pure functions of immutable values, memoised: a long sheet repeats its texts, sizes and counts
#: from row to row (a 30,000-row sheet has a few hundred distinct ones).
_fmt = functools.lru_cache(maxsize=4096, typed=True)(fmt_number)
_is_blank = functools.lru_cache(maxsize=4096)(is_blank)
_parse_shape = functools.lru_cache(maxsize=4096)(parse_shape)
_parse_number = functools.lru_cache(maxsize=4096)(parse_number)
_fraction = functools.lru_cache(maxsize=4096)(Fraction)
_formula_str = functools.lru_cache(maxsize=4096)(Formula.__str__)
_HALF = Fraction(1, 2)


@without_gc
def grade(analysis: Analysis, sheet: AnswerSheet, rules: Rules | None = None,
          formulas: Mapping[str, Sequence[Formula]] | None = None, layers: Mapping[str, Layer] | None = None,
          tolerance: Tolerance | None = None, symbolic: Callable[[], Analysis] | None = None,
          start: str | None = None, end: str | None = None) -> Report:
    """Check every answer cell of ``sheet`` against ``analysis``; pure, no printing.

    ``formulas`` (by layer name, see explain.explain_all) supply the plugged-in formula shown with
    each verdict; ``layers`` (by name) let the ceil/floor and padding slips recompute sizes.
    ``tolerance`` overrides the rules' tolerance (the --rtol/--atol/--digits options).
    ``symbolic``, called at the first formula answer, gives the same spec analysed with symbols
    (build_graph(..., symbolic=True)); formula answers are then judged by algebraic equivalence.
    ``start``/``end`` restrict the rows to a layer range (its totals are the range's); rows naming
    block instances are checked at their depth (``answer_view``). Columns the worksheet asks but the
    sheet leaves out, and a missing Total row, count as unanswered (rules ``missing_columns``,
    ``missing_total``; a Total is a row, so ``missing_rows: ignore`` leaves it optional too). Wrong cells that follow from an earlier slip are traced (``consequences``).
    """
    from .consequences import trace

    rules = rules or Rules()
    tol = tolerance if tolerance is not None and not tolerance.default else rules.tolerance
    analysis = answer_view(analysis, sheet).view(None, start, end)
    g = _Grader(analysis, rules, formulas or {}, layers or {}, tol, symbolic, sheet.decimal, sheet.units)
    pairs, match_warnings = match_rows(sheet, analysis.rows, g.content_score)
    columns = graded_columns(sheet, rules)
    results: list[CellResult] = []
    answered: dict[str, AnswerRow] = {}
    for ar, row in pairs:
        if row is not None:
            answered[row.name] = ar
    total_rows = [ar for ar, row in pairs if row is None]
    if not total_rows and rules.missing_total == "unanswered" and rules.missing_rows == "unanswered" and answered:
        total_rows = [AnswerRow("Total", sheet.rows[-1].position if sheet.rows else Position(sheet.file, 1, 1))]
    points = [(key, g.points(key, False)) for key in columns]
    for row in analysis.rows:
        got = answered.get(row.name)
        if got is None and rules.missing_rows == "ignore":
            continue
        for key, pts in points:
            cell = got.cells.get(key) if got else None
            res = g.cell(key, cell, row, pts)
            if res is not None and (res.points > 0 or res.status is not Status.UNANSWERED):
                results.append(res)
    answered_rows = [r for r in analysis.rows if r.name in answered]
    span = (answered_rows[0].name, answered_rows[-1].name) if answered_rows else None
    for ar in total_rows:
        for key in columns:
            if key in BY_KEY and BY_KEY[key].total is not None and (key in ar.cells or not ar.cells):
                res = g.cell(key, ar.cells.get(key), None, g.points(key, True))
                if res is not None and res.status is Status.WRONG and span and len(answered_rows) < len(analysis.rows):
                    res = _range_total_hint(res, key, ar.cells[key], span, analysis, rules, tol)
                if res is not None and (res.points > 0 or res.status is not Status.UNANSWERED):
                    results.append(res)
    results = trace(results, analysis, rules, g.layers)
    if rules.points_per == "column":
        results = _spread(results)
    return Report(analysis.model, sheet.file, tuple(results), rules, tol.describe(),
                  (*sheet.warnings, *match_warnings), tuple(r.name for r in analysis.rows), sheet.dropped,
                  sheet.decimal)


def graded_columns(sheet: AnswerSheet, rules: Rules) -> list[str]:
    """The sheet's columns, plus those the worksheet asks (the rules' columns, else DEFAULT_ASKED)
    that it leaves out and no sibling answers (params answers params_k, output_shape c_out and
    hw_out): their cells count as unanswered, unless ``missing_columns: ignore``."""
    columns = [k for k in sheet.columns if k in BY_KEY and k != "layer"]
    if rules.missing_columns == "ignore":
        return columns
    for k in (rules.columns if rules.columns is not None else DEFAULT_ASKED):
        if k != "layer" and k not in columns and not any(s in columns for s in SIBLINGS.get(k, ())):
            columns.append(k)
    return columns


#: Hyper-parameters the lecture notes misprint: (column, printed, right, input size, kernel).
GIVEN_ERRATA = (("pad", 2, 0, 227, 11),)  # AlexNet's conv1: "pad 2"; (227 − 11 + 2·0)/4 + 1 = 55 needs 0


def _given_consequence(key: str, text: str, row: Row) -> str:
    """For a padding that differs from the spec: what the size formula gives with it, and whether it
    is one of the notes' errata."""
    h = row.hyper
    if key != "pad" or not (text.strip().isdecimal() and h.kernel.isdecimal() and h.stride.isdecimal()) or \
            len(row.inputs[0]) != 3:
        return ""
    p, k, st, w = int(text), int(h.kernel), int(h.stride), row.inputs[0][1]
    if not isinstance(w, int):
        return ""
    size = Fraction(w - k + 2 * p, st) + 1
    out = f"; with pad {p}, (W − K + 2P)/S + 1 = ({w} − {k} + 2·{p})/{st} + 1 = {fmt_number(size)}"
    if any((p, int(h.pad or 0), w, k) == e[1:] for e in GIVEN_ERRATA):
        out += ", not the table's " + str(row.output[1]) + ": the notes' erratum"
    return out


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _range_total_hint(res: CellResult, key: str, cell: Any, span: tuple[str, str], analysis: Analysis,
                      rules: Rules, tol: Tolerance) -> CellResult:
    """A wrong Total that is the total of the rows the sheet answers (a range, the seeds' "from
    224 to 28") stays wrong, with a note saying which ``--from/--to`` would check it."""
    from dataclasses import replace

    ranged = _Grader(analysis.view(None, *span), rules, {}, {}, tol, None).cell(key, cell, None, res.points)
    if ranged is None or ranged.status is not Status.RIGHT:
        return res
    return replace(res, note=f"is the total of {span[0]}–{span[1]}, the rows answered: "
                             f"check with --from {span[0]} --to {span[1]}")


def _spread(results: list[CellResult]) -> list[CellResult]:
    """points_per: column — a column's points shared among its (non-total) cells."""
    from dataclasses import replace

    n: dict[str, int] = {}
    for c in results:
        if c.layer != "Total":
            n[c.column] = n.get(c.column, 0) + 1
    out = []
    for c in results:
        if c.layer == "Total" or not n.get(c.column):
            out.append(c)
            continue
        share = c.points / n[c.column]
        out.append(replace(c, points=share, earned=c.earned / c.points * share if c.points else 0.0))
    return out
