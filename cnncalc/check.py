"""Homework checker: pure comparison of a filled worksheet with the analysis, cell by cell, naming common slips."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich import box
from rich.table import Table
from rich.text import Text

from .analysis import Analysis, DType, Row
from .answers import AnswerRow, AnswerSheet, Cell, is_blank, parse_number, parse_shape
from .columns import BY_KEY, round_half_up
from .errors import CnncalcError, Diagnostic, Position, SpecError, UsageError
from .explain import fmt_number
from .layers import Family, Formula, Layer, Shape, fmt_shape, numel
from .layers.base import resolve_pad, window_out
from .source import load_yaml
from .spec import validation_diagnostics

# ----------------------------------------------------------------------------- rules


class Work(str, Enum):
    """What the MACs columns (macs_m, macs) of a course's tables hold."""

    MACS = "macs"            #: conv/deconv/fc multiply-accumulates (the AlexNet table: pools 0)
    FLOPS = "flops"          #: 2 FLOPs per MAC
    MACS_POOL = "macs+pool_ops"  #: MACs plus pooling window ops, outputs × K×K (the GoogLeNet-stem table)
    MACS_OPS = "macs+ops"    #: MACs plus every other op cnncalc counts (bias, activations, BN, pooling…)


class Tolerance(BaseModel):
    """How close a number must be. Unset: half a unit of the answer's last shown digit for rounded
    columns (KB, k, M), exact for shapes and exact counts.

    - ``digits``: PrairieLearn's sigfig mode, |given − expected| ≤ ½·10^(⌊log10|expected|⌋ − digits + 1).
    - ``rtol``/``atol``: PrairieLearn's relabs mode, |given − expected| ≤ atol + rtol·|expected|, with
      ``atol`` in the column's units (KB, k, M, or ones for exact counts).
    Either replaces the default for every numeric column; shapes stay exact.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rtol: float | None = Field(None, ge=0)
    atol: float | None = Field(None, ge=0)
    digits: int | None = Field(None, ge=1, le=15)

    @property
    def default(self) -> bool:
        return self.rtol is None and self.atol is None and self.digits is None

    def describe(self) -> str:
        """The tolerance in words, printed with every report."""
        if self.digits is not None:
            return (f"{self.digits} significant digit{'s' if self.digits != 1 else ''} "
                    "(± half a unit in the last one) for numbers; shapes exact")
        if not self.default:
            parts = []
            if self.rtol:
                parts.append(f"{self.rtol:g} relative")
            if self.atol:
                parts.append(f"{self.atol:g} absolute (column units)")
            return "± " + (" + ".join(parts) or "0") + " for numbers; shapes exact"
        return ("rounded columns (KB, k, M): ± half a unit of the last digit the answer shows "
                "(1134 → ±0.5, 1.1M → ±0.05M); shapes and exact counts: exact")


class GradescopeRules(BaseModel):
    """Gradescope results.json options: one test per layer row or per cell, and its visibility."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per: Literal["layer", "cell"] = "layer"
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = "visible"


class Rules(BaseModel):
    """A course's conventions for grading a worksheet (``--rules FILE``, YAML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kb: Literal[1000, 1024] = Field(1024, description="Bytes per KB.")
    work: Work = Field(Work.MACS, description="What the MACs/FLOPs columns hold.")
    dtype: DType = Field(DType.FP32, description="Element type for activation memory.")
    batch: int = Field(1, ge=1)
    bias: bool = Field(True, description="Params include the bias (false: weights only, as the VGG list).")
    shape_order: Literal["chw", "hwc"] = Field("chw", description="Order of full shapes (96×55×55 or 55×55×96).")
    columns: dict[str, float] | list[str] | None = Field(
        None, description="Columns that count, with points per cell (or per column, see points_per); "
                          "other columns are checked but score nothing. Default: every answered column "
                          "except the given hyper-parameters, 1 point per cell.")
    points_per: Literal["cell", "column"] = "cell"
    given: float = Field(0, ge=0, description="Points per given hyper-parameter cell (c_in, kernel, …).")
    totals: float = Field(1, ge=0, description="Points per cell of the totals row, when the sheet has one.")
    slip_credit: float = Field(0, ge=0, le=1, description="Share of a cell's points for a wrong answer whose slip is named.")
    missing_rows: Literal["unanswered", "ignore"] = "unanswered"
    tolerance: Tolerance = Tolerance()
    gradescope: GradescopeRules = GradescopeRules()

    def points(self, key: str) -> float | None:
        """Points per cell of a column by the rules, or None when the rules do not list columns."""
        if self.columns is None:
            return None
        if isinstance(self.columns, list):
            return 1.0 if key in self.columns else 0.0
        return float(self.columns.get(key, 0.0))


def parse_rules(text: str, file: str) -> Rules:
    """Validate rules YAML; SpecError with positions for unknown fields, bad values or column keys."""
    doc = load_yaml(text, file)
    if doc.data is None:
        return Rules()
    if not isinstance(doc.data, dict):
        raise SpecError([Diagnostic(doc.where(()), "rules must be a mapping, e.g. 'kb: 1024' and 'work: macs'")])
    try:
        rules = Rules.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(validation_diagnostics(e, doc, (), fields=list(Rules.model_fields))) from None
    problems = []
    cols = doc.data.get("columns")
    keys = list(cols) if isinstance(cols, dict | list) else []
    for i, k in enumerate(keys):
        if k not in BY_KEY or k == "layer":
            close = difflib.get_close_matches(str(k), [c for c in BY_KEY if c != "layer"], n=1)
            where = doc.where(("columns", k), key=True) if isinstance(cols, dict) else doc.where(("columns", i))
            problems.append(Diagnostic(where, f"columns: unknown column '{k}'"
                                       + (f"; did you mean '{close[0]}'?" if close else "")))
    if problems:
        raise SpecError(problems)
    return rules


def load_rules(path: str | Path) -> Rules:
    """Read and validate a rules file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {p}: {e}") from None
    return parse_rules(text, str(p))


# ----------------------------------------------------------------------------- what each column asks

#: Hyper-parameters a worksheet gives; checked against the spec (the seeds' errata live here).
GIVEN = ("type", "c_in", "hw_in", "filters", "kernel", "stride", "pad")
SHAPES = ("c_out", "hw_out", "input_shape", "output_shape", "receptive_field", "jump")
COUNTS = ("params", "weights", "bias", "buffers", "macs", "ops", "memory_bytes")
ROUNDED = ("memory_kb", "params_k", "macs_m", "ops_m")
#: Columns whose pairs (h, w) read as one number when square: 55×55 = 55.
_SQUARE = ("hw_in", "hw_out", "kernel", "stride", "pad", "receptive_field", "jump")
_PARAMS = ("params", "params_k")
_WORK = ("macs", "macs_m")
_MEMORY = ("memory_kb", "memory_bytes")
_OPS = ("ops", "ops_m")


def _scale(key: str, rules: Rules) -> int:
    """Units of a column: KB, thousands, millions, or ones."""
    return {"memory_kb": rules.kb, "params_k": 1000, "macs_m": 10**6, "ops_m": 10**6}.get(key, 1)


@dataclass(frozen=True)
class Counts:
    """The counts of one row (or of all rows, for the totals) that the numeric columns read."""

    weights: int
    bias: int
    buffers: int
    macs: int
    ops: int
    pool_ops: int
    activation_bytes: int
    elements: int
    input_bytes: int

    @staticmethod
    def of_row(r: Row, analysis: Analysis) -> Counts:
        b = analysis.dtype.bytes * analysis.batch
        return Counts(r.weights, r.bias, r.buffers, r.macs, r.ops, r.ops if r.family is Family.POOL else 0,
                      r.activation_bytes, numel(r.output) * analysis.batch,
                      sum(numel(s) for s in r.inputs) * b)

    @staticmethod
    def of_all(analysis: Analysis) -> Counts:
        """Sums over every row; the input memory is the network input's."""
        cs = [Counts.of_row(r, analysis) for r in analysis.rows]
        return Counts(
            sum(c.weights for c in cs), sum(c.bias for c in cs), sum(c.buffers for c in cs),
            sum(c.macs for c in cs), sum(c.ops for c in cs), sum(c.pool_ops for c in cs),
            sum(c.activation_bytes for c in cs), sum(c.elements for c in cs),
            numel(analysis.input) * analysis.dtype.bytes * analysis.batch,
        )

    @property
    def params(self) -> int:
        return self.weights + self.bias


def work(c: Counts, convention: Work) -> int:
    """The MACs column under a convention: MACs, 2·MACs, MACs + pooling ops, or MACs + all ops."""
    if convention is Work.FLOPS:
        return 2 * c.macs
    if convention is Work.MACS_POOL:
        return c.macs + c.pool_ops
    if convention is Work.MACS_OPS:
        return c.macs + c.ops
    return c.macs


def expected_count(key: str, c: Counts, rules: Rules) -> int:
    """The exact count behind a numeric column (bytes for memory), before its unit scaling."""
    if key in _PARAMS:
        return c.params if rules.bias else c.weights
    if key in _WORK:
        return work(c, rules.work)
    if key in _MEMORY:
        return c.activation_bytes
    if key in _OPS:
        return c.ops
    return int(getattr(c, key))


def _order(shape: Sequence[int], rules: Rules) -> tuple[int, ...]:
    if rules.shape_order == "hwc" and len(shape) == 3:
        return (shape[1], shape[2], shape[0])
    return tuple(shape)


def expected_shape(key: str, r: Row, rules: Rules) -> tuple[Fraction, ...] | None:
    """The tuple a shape column asks for; None where it does not apply (H'/W' of an fc layer)."""
    ins, out = r.inputs, r.output
    vals: Sequence[int | Fraction] | None
    vals = {
        "c_in": [s[0] for s in ins],
        "hw_in": list(ins[0][1:]) if len(ins[0]) == 3 else None,
        "c_out": [out[0]],
        "hw_out": list(out[1:]) if len(out) == 3 else None,
        "input_shape": _order(ins[0], rules),
        "output_shape": _order(out, rules),
        "receptive_field": list(r.rf),
        "jump": list(r.jump),
    }[key]
    return None if vals is None else tuple(Fraction(v) for v in vals)


def _square(t: tuple[Fraction, ...], key: str) -> tuple[Fraction, ...]:
    return t[:1] if key in _SQUARE and len(t) == 2 and t[0] == t[1] else t


def _plain(x: Fraction) -> str:
    """A size as the tables print it: 9216, not 9,216 (a comma would read as a separator of sizes)."""
    return str(x.numerator) if x.denominator == 1 else fmt_number(x).replace(",", "")


def shape_text(t: Sequence[Fraction], key: str) -> str:
    """'96×55×55', '55' for a square H×W, '256+256' for the channels of several inputs."""
    return ("+" if key == "c_in" else "×").join(_plain(x) for x in _square(tuple(t), key))


# ----------------------------------------------------------------------------- slips


@dataclass(frozen=True)
class Alt:
    """An alternative answer a slip produces: a number in the column's units, or a shape."""

    value: Fraction | tuple[Fraction, ...]
    detail: str


@dataclass(frozen=True)
class SlipContext:
    """Everything a slip function may read about one cell."""

    key: str
    counts: Counts
    rules: Rules
    expected: Fraction | tuple[Fraction, ...]
    row: Row | None = None           # None for the totals row
    layer: Layer | None = None
    analysis: Analysis | None = None
    given_half: Fraction = Fraction(1, 2)

    @property
    def scale(self) -> int:
        return _scale(self.key, self.rules)

    def units(self, count: int | Fraction) -> Fraction:
        return Fraction(count) / self.scale


SlipFn = Callable[[SlipContext], list[Alt]]


@dataclass(frozen=True)
class SlipDef:
    """A common mistake: its name, a short title and the pure function giving the value it produces."""

    name: str
    title: str
    fn: SlipFn


def slip_forgot_bias(ctx: SlipContext) -> list[Alt]:
    """Params without the bias: C_out·C_in·K·K, the '+ C_out' left out (or added, when the rules count weights only)."""
    c = ctx.counts
    if ctx.key not in _PARAMS or not c.bias:
        return []
    if ctx.rules.bias:
        return [Alt(ctx.units(c.weights), f"weights only = {c.weights:,}; the {c.bias:,} biases are missing")]
    return [Alt(ctx.units(c.params), f"weights + bias = {c.params:,}; these rules count weights only")]


def slip_kb_1000(ctx: SlipContext) -> list[Alt]:
    """Memory divided by 1000 instead of 1024 bytes per KB (or the reverse under decimal rules)."""
    if ctx.key != "memory_kb":
        return []
    other = 1000 if ctx.rules.kb == 1024 else 1024
    b = ctx.counts.activation_bytes
    return [Alt(Fraction(b, other), f"{b:,} B / {other} = {fmt_number(Fraction(b, other))}; "
                                    f"here KB = {ctx.rules.kb} bytes")]


def slip_flops_per_mac(ctx: SlipContext) -> list[Alt]:
    """2 FLOPs counted per multiply-accumulate where the table wants MACs (or MACs where it wants FLOPs)."""
    if ctx.key not in _WORK:
        return []
    c = ctx.counts
    w = work(c, ctx.rules.work)
    if ctx.rules.work is Work.FLOPS:
        return [Alt(ctx.units(c.macs), f"MACs = {c.macs:,}; this table counts FLOPs = 2 × MACs")]
    return [Alt(ctx.units(w + c.macs), f"2 × {c.macs:,} MACs = {2 * c.macs:,} FLOPs; this table counts MACs")]


def slip_pooling_ops(ctx: SlipContext) -> list[Alt]:
    """Pooling ops (outputs × K×K) added to the MACs column, or left out where the course counts them."""
    if ctx.key not in _WORK:
        return []
    c = ctx.counts
    w = work(c, ctx.rules.work)
    alts = []
    if c.pool_ops and ctx.rules.work in (Work.MACS, Work.FLOPS):
        alts.append(Alt(ctx.units(w + c.pool_ops), f"+ {c.pool_ops:,} pooling ops; this table counts "
                                                   "multiply-accumulates only (pooling 0)"))
    if c.pool_ops and ctx.rules.work in (Work.MACS_POOL, Work.MACS_OPS):
        alts.append(Alt(ctx.units(w - c.pool_ops), f"pooling ops ({c.pool_ops:,}) left out; this table "
                                                   "counts them"))
    if c.ops > c.pool_ops and ctx.rules.work is not Work.MACS_OPS:
        extra = c.ops - (c.pool_ops if ctx.rules.work is Work.MACS_POOL else 0)
        alts.append(Alt(ctx.units(w + extra), f"+ {extra:,} other ops (bias, activation…) counted"))
    return alts


def _window_alt(layer: Layer | None, ins: Sequence[Shape], out: Shape, *, flip_ceil: bool = False,
                one_side: bool = False) -> Shape | None:
    """The output a window layer (conv, pooling) would have with the other rounding or one-sided padding.

    Reads the fields ``kernel``, ``stride``, ``pad``, ``dilation``, ``ceil_mode`` where a kind has
    them, and only trusts them when the plain window formula reproduces the layer's real output.
    """
    fields = type(layer).model_fields if layer is not None else {}
    if layer is None or not {"kernel", "stride", "pad"} <= fields.keys() or len(ins[0]) != 3 or len(out) != 3:
        return None
    lay: Any = layer
    kernel, dil = lay.kernel, getattr(lay, "dilation", (1, 1))
    stride = getattr(lay, "strides", None) or lay.stride
    ceil = bool(getattr(lay, "ceil_mode", False))
    _, h, w = ins[0]
    try:
        pads = resolve_pad(lay.pad, (h, w), kernel, stride, dil)

        def size(axis: int, c: bool, one: bool) -> int:
            p = pads[axis]
            return window_out((h, w)[axis], kernel[axis], stride[axis], (p[0], 0) if one else p,
                              dil[axis], c).size

        if (out[0], size(0, ceil, False), size(1, ceil, False)) != tuple(out):
            return None
        alt = (out[0], size(0, ceil ^ flip_ceil, one_side), size(1, ceil ^ flip_ceil, one_side))
    except Exception:  # a formula that does not apply to this alternative simply offers none
        return None
    return alt if alt != tuple(out) else None


def _shape_alts(ctx: SlipContext, alt_out: Shape | None, what: str) -> list[Alt]:
    """What a different output shape makes of this cell: the size itself, or the memory/MACs/ops it implies."""
    r, layer, a = ctx.row, ctx.layer, ctx.analysis
    if alt_out is None or r is None or layer is None or a is None:
        return []
    shape_txt = f"{what}, the output would be {fmt_shape(alt_out)}"
    if ctx.key == "hw_out":
        return [Alt(_square(tuple(Fraction(x) for x in alt_out[1:]), "hw_out"), shape_txt)]
    if ctx.key == "output_shape":
        return [Alt(tuple(Fraction(x) for x in _order(alt_out, ctx.rules)), shape_txt)]
    batch = a.batch
    if ctx.key in _MEMORY:
        return [Alt(ctx.units(numel(alt_out) * a.dtype.bytes * batch), shape_txt)]
    if ctx.key in _WORK or ctx.key in _OPS:
        macs, ops = layer.macs(r.inputs, alt_out) * batch, layer.ops(r.inputs, alt_out) * batch
        pool = ops if r.family is Family.POOL else 0
        c = Counts(ctx.counts.weights, ctx.counts.bias, 0, macs, ops, pool, 0, 0, 0)
        value = work(c, ctx.rules.work) if ctx.key in _WORK else ops
        return [Alt(ctx.units(value), shape_txt)]
    return []


def slip_ceil_floor(ctx: SlipContext) -> list[Alt]:
    """Output size rounded up where the layer floors (⌊(W − K + 2P)/S⌋ + 1), or down where it has ceil_mode."""
    r = ctx.row
    if r is None:
        return []
    ceil = bool(getattr(ctx.layer, "ceil_mode", False))
    what = "rounded down, but this layer rounds up (ceil_mode)" if ceil else "rounded up, but the size floors"
    return _shape_alts(ctx, _window_alt(ctx.layer, r.inputs, r.output, flip_ceil=True), what)


def slip_one_side_pad(ctx: SlipContext) -> list[Alt]:
    """Padding counted on one side only: (W − K + P)/S + 1 instead of (W − K + 2P)/S + 1."""
    r = ctx.row
    if r is None:
        return []
    return _shape_alts(ctx, _window_alt(ctx.layer, r.inputs, r.output, one_side=True), "with P instead of 2P")


def slip_hwc(ctx: SlipContext) -> list[Alt]:
    """A full shape written H×W×C where the course writes C×H×W (or the reverse)."""
    e = ctx.expected
    if not isinstance(e, tuple) or len(e) != 3 or ctx.key not in ("output_shape", "input_shape", "hw_out", "c_out"):
        return []
    hwc = ctx.rules.shape_order == "hwc"
    alt = (e[2], e[0], e[1]) if hwc else (e[1], e[2], e[0])
    return [Alt(alt, "C×H×W order expected" if not hwc else "H×W×C order expected")]


def slip_input_memory(ctx: SlipContext) -> list[Alt]:
    """The layer's input activations added to its memory (the table counts the output only)."""
    c = ctx.counts
    if ctx.key not in _MEMORY or not c.input_bytes:
        return []
    return [Alt(ctx.units(c.activation_bytes + c.input_bytes),
                f"output {c.activation_bytes:,} B + input {c.input_bytes:,} B")]


def slip_elements(ctx: SlipContext) -> list[Alt]:
    """Memory counted in elements, the bytes per element (4 for fp32) left out."""
    c = ctx.counts
    if ctx.key not in _MEMORY or not c.elements or c.elements == c.activation_bytes:
        return []
    return [Alt(ctx.units(c.elements), f"{c.elements:,} elements, not × {c.activation_bytes // c.elements} bytes")]


def slip_backward(ctx: SlipContext) -> list[Alt]:
    """Training counted instead of inference: ×2 for the gradients (memory, params), ×3 compute (forward + backward)."""
    c = ctx.counts
    if ctx.key in _MEMORY:
        return [Alt(ctx.units(2 * c.activation_bytes), "× 2 for the backward pass; the table counts the forward pass")]
    if ctx.key in _PARAMS:
        p = c.params if ctx.rules.bias else c.weights
        return [Alt(ctx.units(2 * p), "× 2 (weights and their gradients)")]
    if ctx.key in _WORK:
        w = work(c, ctx.rules.work)
        return [Alt(ctx.units(2 * w), "× 2 for the backward pass"),
                Alt(ctx.units(3 * w), "× 3 (forward + backward)")]
    return []


def slip_units(ctx: SlipContext) -> list[Alt]:
    """The exact count written in a rounded column (34,944 in 'Params (k)'), or a unit off by 1000."""
    e = ctx.expected
    if ctx.key not in ROUNDED or not isinstance(e, Fraction) or not e:
        return []
    unit = {"memory_kb": "KB", "params_k": "k", "macs_m": "M", "ops_m": "M"}[ctx.key]
    return [Alt(e * ctx.scale, f"the exact count, not in {unit}"),
            Alt(e * 1000, "1000 × too large (wrong unit)"), Alt(e / 1000, "1000 × too small (wrong unit)")]


def slip_digits_swapped(ctx: SlipContext) -> list[Alt]:
    """Two neighbouring digits swapped when copying (481 → 418)."""
    e = ctx.expected
    if not isinstance(e, Fraction) or ctx.given_half <= 0:
        return []
    unit = 2 * ctx.given_half  # the last digit the answer shows: swap digits at that precision
    text = str(round_half_up(abs(e) / unit, 0))
    alts = []
    for i in range(len(text) - 1):
        a, b = text[i], text[i + 1]
        if a != b:
            swapped = text[:i] + b + a + text[i + 2:]
            alts.append(Alt(Fraction(swapped) * unit, f"{fmt_number(Fraction(text) * unit)} → "
                                                     f"{fmt_number(Fraction(swapped) * unit)}"))
    return alts


#: Slips tried in order on a wrong answer; the first whose value matches is named.
SLIPS: tuple[SlipDef, ...] = (
    SlipDef("forgot_bias", "forgot the bias", slip_forgot_bias),
    SlipDef("kb_1000", "1000 vs 1024 bytes per KB", slip_kb_1000),
    SlipDef("flops_per_mac", "2 FLOPs per MAC", slip_flops_per_mac),
    SlipDef("pooling_ops", "pooling/other ops convention", slip_pooling_ops),
    SlipDef("ceil_floor", "ceil vs floor", slip_ceil_floor),
    SlipDef("one_side_pad", "padding on one side only", slip_one_side_pad),
    SlipDef("hwc", "HWC vs CHW", slip_hwc),
    SlipDef("input_memory", "input memory included", slip_input_memory),
    SlipDef("elements", "elements, not bytes", slip_elements),
    SlipDef("backward", "×2 for backward", slip_backward),
    SlipDef("units", "wrong unit", slip_units),
    SlipDef("digits_swapped", "digits swapped", slip_digits_swapped),
)


@dataclass(frozen=True)
class Slip:
    """The slip diagnosed for a wrong answer."""

    name: str
    title: str
    detail: str

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


def diagnose(ctx: SlipContext, given: Fraction | tuple[Fraction, ...], tol: Fraction) -> Slip | None:
    """The first slip one of whose alternative values the wrong answer matches (within ``tol``)."""
    for s in SLIPS:
        for alt in s.fn(ctx):
            if isinstance(alt.value, tuple) != isinstance(given, tuple):
                continue
            if isinstance(alt.value, tuple):
                ok = alt.value == given
            else:
                assert isinstance(given, Fraction)
                ok = abs(given - alt.value) <= tol
            if ok:
                return Slip(s.name, s.title, alt.detail)
    return None


# ----------------------------------------------------------------------------- tolerance


def _log10_floor(x: Fraction) -> int:
    n = math.floor(math.log10(float(x)))
    while Fraction(10) ** n > x:
        n -= 1
    while Fraction(10) ** (n + 1) <= x:
        n += 1
    return n


def allowed(key: str, expected: Fraction, given_half: Fraction, tol: Tolerance) -> Fraction:
    """Largest |given − expected| accepted, in the column's units (see Tolerance)."""
    if tol.digits is not None:
        if expected == 0:
            return Fraction(0)
        return Fraction(1, 2) * Fraction(10) ** (_log10_floor(abs(expected)) - tol.digits + 1)
    if not tol.default:
        return Fraction(str(tol.atol or 0)) + Fraction(str(tol.rtol or 0)) * abs(expected)
    return given_half if key in ROUNDED else Fraction(0)


def _tol_text(t: Fraction) -> str:
    return "exact" if t == 0 else f"±{fmt_number(t)}"


# ----------------------------------------------------------------------------- results


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


# ----------------------------------------------------------------------------- matching rows


def _letters(name: str) -> str:
    m = re.match(r"[a-z]+", re.sub(r"[\s_\-.]", "", name.lower()))
    return m.group(0) if m else ""


def _body(sheet: AnswerSheet) -> list[AnswerRow]:
    """The answer rows that stand for layers: not totals, not an input/data/image row."""
    return [ar for ar in sheet.rows if not ar.is_total and _letters(ar.name) not in ("input", "data", "image")]


def answer_view(analysis: Analysis, sheet: AnswerSheet) -> Analysis:
    """The rows ``sheet`` was written against: the layers, or, when its rows name block instances
    (a ``table --depth N`` export: inception3a, layer1_2), the rows collapsed to the shallowest
    depth whose names hold every answer row's. Totals are the same at every depth."""
    names = {ar.name.lower() for ar in _body(sheet)}
    if not names or names <= {r.name.lower() for r in analysis.rows}:
        return analysis
    for depth in range(max((len(r.groups) for r in analysis.rows), default=0)):
        view = analysis.view(depth)
        if names <= {r.name.lower() for r in view.rows}:
            return view
    return analysis


def match_rows(sheet: AnswerSheet, rows: Sequence[Row]) -> tuple[list[tuple[AnswerRow, Row | None]], list[Diagnostic]]:
    """Pair answer rows with analysis rows (None: the totals row).

    When most names are layers' (case-insensitively) and none repeats, rows match by name in any
    order. Otherwise they match in order: each answer row takes the next layer whose name is its
    name, or whose name or type starts the same way ("conv" for conv1, "POOL2" for pool1, "FC" for
    fc6, as the seeds' GoogLeNet-stem table and VGG list write them). Rows named input/data are
    skipped. A row that matches nothing is a positioned error; matches by order are reported as a
    warning, so that a guess is never silent.
    """
    by_name = {r.name.lower(): i for i, r in enumerate(rows)}
    body = _body(sheet)
    names = [ar.name.lower() for ar in body]
    known = [n for n in names if n in by_name]
    # Names mode unless names repeat or most are not layer names (then a typo is an error, not a guess).
    by_order = len(set(known)) != len(known) or 2 * len(known) < len(names)
    problems: list[Diagnostic] = []
    out: list[tuple[AnswerRow, Row | None]] = []
    nxt = 0
    for ar in sheet.rows:
        if ar.is_total:
            out.append((ar, None))
            continue
        if ar not in body:
            continue
        idx: int | None = None
        if not by_order:
            idx = by_name.get(ar.name.lower())
        else:
            want, low = _letters(ar.name), ar.name.lower()
            for j in range(nxt, len(rows)):
                r = rows[j]
                if low == r.name.lower() or (want and (want == _letters(r.name) or want == r.type.lower()
                                                       or r.type.lower().endswith(want))):
                    idx = j
                    break
        if idx is None:
            close = difflib.get_close_matches(ar.name, [r.name for r in rows], n=3)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            where = " after the rows above (rows are matched in order)" if by_order and ar.name.lower() in by_name else ""
            problems.append(Diagnostic(ar.position, f"no layer named '{ar.name}' in the spec{where}{hint}"))
            continue
        nxt = idx + 1
        out.append((ar, rows[idx]))
    if problems:
        raise SpecError(problems)
    guessed = [f"{ar.name}→{r.name}" for ar, r in out if r is not None and ar.name.lower() != r.name.lower()]
    warnings = []
    if guessed:
        shown = ", ".join(guessed[:8]) + (", …" if len(guessed) > 8 else "")
        warnings.append(Diagnostic(body[0].position, f"rows matched to layers in order: {shown}", "warning"))
    return out, warnings


# ----------------------------------------------------------------------------- grading

_FORMULA_FOR: dict[str, tuple[str, ...]] = {
    "hw_out": ("W'", "H'", "Output"), "c_out": ("Output",), "output_shape": ("Output",),
    "memory_kb": ("Memory",), "memory_bytes": ("Memory",), "params": ("Params",), "params_k": ("Params",),
    "weights": ("Params",), "bias": ("Params",), "macs": ("MACs",), "macs_m": ("MACs",), "ops": ("Ops",),
    "ops_m": ("Ops",), "buffers": ("Buffers",), "receptive_field": ("RF",), "jump": ("RF",),
}


def _formula(key: str, row: Row, formulas: Sequence[Formula], c: Counts, rules: Rules) -> str:
    def find(*names: str) -> Formula | None:
        return next((f for n in names for f in formulas if f.quantity == n), None)

    if key in _WORK:
        parts = []
        mac = find("MACs")
        if c.macs:
            parts.append(str(mac) if mac else f"MACs = {c.macs:,}")
        if rules.work is Work.FLOPS:
            parts.append(f"FLOPs = 2 × {c.macs:,} = {2 * c.macs:,}")
        extra = c.pool_ops if rules.work is Work.MACS_POOL else c.ops if rules.work is Work.MACS_OPS else 0
        if extra:
            ops = find("Ops")
            parts.append(str(ops) if ops and extra == c.ops else f"ops = {extra:,}")
            if c.macs:
                parts.append(f"{c.macs:,} + {extra:,} = {c.macs + extra:,}")
        if not parts:
            return "MACs = 0 (only conv, deconv and fc multiply-accumulate)"
        return " ; ".join(parts)
    if key in _PARAMS and not rules.bias and c.bias:
        return f"Params (weights only) = {c.weights:,}"
    f = find(*_FORMULA_FOR.get(key, ()))
    if f is None and key in (*_PARAMS, "weights", "bias"):
        return f"Params = {c.params:,} (no learnable parameters)" if not c.params else f"Params = {c.params:,}"
    return str(f) if f else ""


def _total_formula(key: str, rows: Sequence[Row], analysis: Analysis, rules: Rules) -> str:
    scale = _scale(key, rules)
    vals = [Fraction(expected_count(key, Counts.of_row(r, analysis), rules), scale) for r in rows]
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


class _Grader:
    def __init__(self, analysis: Analysis, rules: Rules, formulas: Mapping[str, Sequence[Formula]],
                 layers: Mapping[str, Layer], tolerance: Tolerance,
                 symbolic: Callable[[], Analysis] | None = None) -> None:
        self.a, self.rules, self.formulas, self.layers, self.tol = analysis, rules, formulas, layers, tolerance
        self.symbolic = symbolic
        self._sym: Analysis | None = None

    def formula_answer(self, key: str, row: Row | None, text: str) -> tuple[bool, str] | None:
        """A formula answer (``18C²HW``) judged by algebraic equivalence with the same count on the
        spec read with symbols (cnncalc.symbolic); None when ``text`` is no formula or there are none.
        Formulas are in the quantity's own unit; memory may be given in bytes or in elements (the
        notes' 4HWC); H'/W' may be either side."""
        if self.symbolic is None or not any(ch.isalpha() for ch in text):
            return None
        from . import symbolic as sym
        try:
            self._sym = self._sym or self.symbolic()
            a = self._sym
            srow = next(r for r in a.rows if r.name == row.name) if row else None
            if key in SHAPES:
                if key not in ("c_out", "hw_out") or srow is None or (key == "hw_out" and len(srow.output) != 3):
                    return None
                accepted = [srow.output[0]] if key == "c_out" else list(dict.fromkeys(srow.output[1:]))
            else:
                c = Counts.of_row(srow, a) if srow else Counts.of_all(a)
                accepted = [expected_count(key, c, self.rules), *([c.elements] if key in _MEMORY else [])]
            verdict = sym.judge(text, accepted, sym.free_names([*accepted, *a.input]))
        except (CnncalcError, StopIteration, TypeError, ValueError):  # no sympy, no such row, a count needing numbers
            return None
        return None if verdict is None else (verdict, " or ".join(sym.pretty(sym.simplify(e)) for e in accepted))

    def points(self, key: str, total: bool) -> float:
        by_rules = self.rules.points(key)
        if total:
            return self.rules.totals if by_rules is None or by_rules > 0 else 0.0
        if key in GIVEN:
            return by_rules if by_rules else self.rules.given
        return 1.0 if by_rules is None else by_rules

    def cell(self, key: str, cell: Cell | None, row: Row | None, points: float) -> CellResult | None:
        """One verdict; None where the column does not apply to this row."""
        name = row.name if row else "Total"
        text = cell.text if cell else ""
        pos = cell.position if cell else None
        counts = Counts.of_row(row, self.a) if row else Counts.of_all(self.a)
        layer = self.layers.get(row.name) if row else None

        def result(status: Status, expected: str, formula: str = "", tol: str = "exact", slip: Slip | None = None,
                   note: str = "") -> CellResult:
            earned = points if status is Status.RIGHT else \
                points * self.rules.slip_credit if slip is not None else 0.0
            return CellResult(name, key, status, text, expected, formula, points, earned, tol, slip, note, pos,
                              key in GIVEN)

        if key in GIVEN:
            if row is None:
                return None
            return self.given(key, row, text, result)
        if key in SHAPES:
            if row is None:
                return None
            exp = expected_shape(key, row, self.rules)
            if exp is None:
                return None
            formula = _formula(key, row, self.formulas.get(row.name, ()), counts, self.rules)
            exp_sq = _square(exp, key)
            exp_txt = shape_text(exp, key)
            if is_blank(text):
                return result(Status.UNANSWERED, exp_txt, formula)
            num = parse_number(text, self.rules.kb)
            given = (num.value,) if num is not None and not num.absolute else parse_shape(text)
            if given is None and (judged := self.formula_answer(key, row, text)) is not None:
                return result(Status.RIGHT if judged[0] else Status.WRONG, exp_txt, formula,
                              note=f"formula answer; expected {judged[1]}")
            if given is None:
                return result(Status.WRONG, exp_txt, formula, note=f"cannot read '{text}' as a size")
            given = _square(given, key)
            if len(exp_sq) == 1 and len(given) > 1 and key not in _SQUARE and sorted(given)[:-1] == [1] * (len(given) - 1):
                given = (max(given),)  # a vector written 1×1×4096 (or 4096×1×1) is 4096
            if given == exp_sq:
                return result(Status.RIGHT, exp_txt, formula)
            full = tuple(Fraction(x) for x in _order(row.output, self.rules))
            if key in ("c_out", "hw_out") and len(given) == 3 and given == full:
                return result(Status.RIGHT, exp_txt, formula, note="answered with the full output shape")
            ctx = SlipContext(key, counts, self.rules, full if len(given) == 3 and key in ("c_out", "hw_out")
                              else exp_sq, row, layer, self.a)
            return result(Status.WRONG, exp_txt, formula, slip=diagnose(ctx, given, Fraction(0)))
        # numeric columns
        scale = _scale(key, self.rules)
        exact = expected_count(key, counts, self.rules)
        exp_val = Fraction(exact, scale)
        formula = _formula(key, row, self.formulas.get(row.name, ()), counts, self.rules) if row else \
            _total_formula(key, self.a.rows, self.a, self.rules)
        exp_txt = fmt_number(exp_val)
        if is_blank(text):
            return result(Status.UNANSWERED, exp_txt, formula,
                          tol=_tol_text(allowed(key, exp_val, Fraction(1, 2), self.tol)))
        num = parse_number(text, self.rules.kb)
        if num is None and (judged := self.formula_answer(key, row, text)) is not None:
            return result(Status.RIGHT if judged[0] else Status.WRONG, exp_txt, formula,
                          note=f"formula answer; expected {judged[1]}")
        if num is None:
            return result(Status.WRONG, exp_txt, formula, note=f"cannot read '{text}' as a number")
        value, half = num.in_units(scale)
        tol = allowed(key, exp_val, half, self.tol)
        if abs(value - exp_val) <= tol:
            return result(Status.RIGHT, exp_txt, formula, _tol_text(tol))
        if key in COUNTS and half and num.absolute and abs(value - exp_val) <= half:
            slip: Slip | None = Slip("rounded", "rounded", f"{text} is {exp_txt} rounded; this column wants the exact count")
        else:
            slip = diagnose(SlipContext(key, counts, self.rules, exp_val, row, layer, self.a, half), value, max(tol, half))
        return result(Status.WRONG, exp_txt, formula, _tol_text(tol), slip)

    def given(self, key: str, row: Row, text: str, result: Callable[..., CellResult]) -> CellResult | None:
        if key == "type":
            expected = row.type
        elif key in ("c_in", "hw_in"):
            exp = expected_shape(key, row, self.rules)
            if exp is None:
                return None
            expected = shape_text(exp, key)
        else:
            expected = str(getattr(row.hyper, key))
        if not expected:
            return None
        if is_blank(text):
            return result(Status.UNANSWERED, expected)
        e_shape, g_shape = parse_shape(expected), parse_shape(text)
        if e_shape is not None and g_shape is not None:
            ok = _square(e_shape, key) == _square(g_shape, key) or (key == "c_in" and len(g_shape) == 1
                                                                  and g_shape[0] == sum(e_shape))
        else:
            ok = _given_text_match(text, expected)
        if ok:
            return result(Status.RIGHT, expected)
        return result(Status.WRONG, expected, note=f"differs from the spec ({key} {expected})")


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
    block instances are checked at their depth (``answer_view``).
    """
    rules = rules or Rules()
    tol = tolerance if tolerance is not None and not tolerance.default else rules.tolerance
    analysis = answer_view(analysis, sheet).view(None, start, end)
    g = _Grader(analysis, rules, formulas or {}, layers or {}, tol, symbolic)
    pairs, match_warnings = match_rows(sheet, analysis.rows)
    columns = [k for k in sheet.columns if k in BY_KEY and k != "layer"]
    if rules.columns is not None:
        columns += [k for k in rules.columns if k not in columns and k != "layer"]
    results: list[CellResult] = []
    answered: dict[str, AnswerRow] = {}
    for ar, row in pairs:
        if row is not None:
            answered[row.name] = ar
    total_rows = [ar for ar, row in pairs if row is None]
    for row in analysis.rows:
        got = answered.get(row.name)
        if got is None and rules.missing_rows == "ignore":
            continue
        for key in columns:
            cell = got.cells.get(key) if got else None
            res = g.cell(key, cell, row, g.points(key, False))
            if res is not None and (res.points > 0 or res.status is not Status.UNANSWERED):
                results.append(res)
    answered_rows = [r for r in analysis.rows if r.name in answered]
    span = (answered_rows[0].name, answered_rows[-1].name) if answered_rows else None
    for ar in total_rows:
        for key in columns:
            if key in BY_KEY and BY_KEY[key].total is not None and key in ar.cells:
                res = g.cell(key, ar.cells[key], None, g.points(key, True))
                if res is not None and res.status is Status.WRONG and span and len(answered_rows) < len(analysis.rows):
                    res = _range_total_hint(res, key, ar.cells[key], span, analysis, rules, tol)
                if res is not None:
                    results.append(res)
    if rules.points_per == "column":
        results = _spread(results)
    return Report(analysis.model, sheet.file, tuple(results), rules, tol.describe(),
                  (*sheet.warnings, *match_warnings), tuple(r.name for r in analysis.rows))


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


# ----------------------------------------------------------------------------- outputs (data only)


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
