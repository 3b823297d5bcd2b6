"""Diagnosing slips: a registry of common mistakes, each a pure function giving the value it produces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..analysis import Analysis, Row
from ..columns import round_half_up
from ..explain import fmt_number
from ..layers import Family, Layer, Shape, fmt_shape, numel
from ..layers.base import resolve_pad, window_out
from .expected import _MEMORY, _OPS, _PARAMS, _WORK, ROUNDED, Counts, _order, _scale, _square, work
from .rules import Rules, Work


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
