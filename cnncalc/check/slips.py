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
from .expected import (
    _MEMORY,
    _OPS,
    _PARAMS,
    _WORK,
    ROUNDED,
    Counts,
    _order,
    _scale,
    _square,
    expected_count,
    expected_shape,
    work,
)
from .expected import (
    SHAPES as SHAPE_KEYS,
)
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
    """A common mistake: its name, a short title and the pure function giving the value it produces.

    ``wrong_size``: the slip is a wrong output size, whose consequences (that layer's memory and
    MACs, the layers after it) cnncalc.check.consequences traces; a cell it explains keeps its name.
    """

    name: str
    title: str
    fn: SlipFn
    wrong_size: bool = False


def slip_forgot_bias(ctx: SlipContext) -> list[Alt]:
    """Params without the bias: C_out·C_in·K·K, the '+ C_out' left out (only where the count has a bias)."""
    c = ctx.counts
    if ctx.key not in _PARAMS or not c.bias or not ctx.rules.bias:
        return []
    return [Alt(ctx.units(c.weights), f"weights only = {c.weights:,}; the {c.bias:,} biases are missing")]


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
                one_side: bool = False, pad: int | None = None, plus_one: bool = True) -> Shape | None:
    """The output a window layer (conv, pooling) would have with the other rounding, one-sided
    padding, another padding ``pad`` or the "+ 1" forgotten.

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

        def size(axis: int, c: bool, one: bool, p_over: int | None = None) -> int:
            p = pads[axis] if p_over is None else (p_over, p_over)
            return window_out((h, w)[axis], kernel[axis], stride[axis], (p[0], 0) if one else p,
                              dil[axis], c).size

        if (out[0], size(0, ceil, False), size(1, ceil, False)) != tuple(out):
            return None
        extra = 0 if plus_one else -1
        alt = (out[0], size(0, ceil ^ flip_ceil, one_side, pad) + extra,
               size(1, ceil ^ flip_ceil, one_side, pad) + extra)
    except Exception:  # a formula that does not apply to this alternative simply offers none
        return None
    return alt if alt != tuple(out) and min(alt[1:]) > 0 else None


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
    """The exact count written in a rounded column (34,944 in 'Params (k)'), or a unit off by 1000
    (in any count column: 4,096,000,000 for 4,096,000)."""
    e = ctx.expected
    if not isinstance(e, Fraction) or not e or ctx.key in SHAPE_KEYS:
        return []
    off = [Alt(e * 1000, "1000 × too large (wrong unit)"), Alt(e / 1000, "1000 × too small (wrong unit)")]
    if ctx.key not in ROUNDED:
        return off if ctx.key in (*_PARAMS, *_WORK, *_MEMORY, *_OPS) else []
    unit = {"memory_kb": "KB", "params_k": "k", "macs_m": "M", "ops_m": "M"}[ctx.key]
    return [Alt(e * ctx.scale, f"the exact count, not in {unit}"), *off]


def slip_input_size(ctx: SlipContext) -> list[Alt]:
    """The input's H×W used where the output's is meant: memory C_out·H·W·bytes, MACs scaled by (H·W)/(H'·W')."""
    r, c = ctx.row, ctx.counts
    if r is None or len(r.inputs) != 1 or len(r.inputs[0]) != 3 or len(r.output) != 3:
        return []
    hw_in, hw_out = r.inputs[0][1] * r.inputs[0][2], r.output[1] * r.output[2]
    if hw_in == hw_out or not hw_out:
        return []
    what = f"with the input's {r.inputs[0][1]}×{r.inputs[0][2]} for the output's {r.output[1]}×{r.output[2]}"
    if ctx.key in _MEMORY:
        return [Alt(ctx.units(Fraction(c.activation_bytes * hw_in, hw_out)), what)]
    if ctx.key in _WORK and c.macs:
        return [Alt(ctx.units(Fraction(work(c, ctx.rules.work) * hw_in, hw_out)), what)]
    return []


def slip_forgot_c_in(ctx: SlipContext) -> list[Alt]:
    """The input channels left out of a filter: C_out·K·K (+ C_out) params, C_out·H'·W'·K·K MACs."""
    r, c = ctx.row, ctx.counts
    if r is None or not r.inputs or not c.weights or r.family is not Family.CONV:
        return []
    c_in = r.inputs[0][0]
    if not isinstance(c_in, int) or c_in <= 1 or c.weights % c_in:
        return []
    if ctx.key in _PARAMS:
        w = c.weights // c_in + (c.bias if ctx.rules.bias else 0)
        return [Alt(ctx.units(w), f"C_in = {c_in} left out of each filter: {w:,}")]
    if ctx.key in _WORK and c.macs % c_in == 0:
        return [Alt(ctx.units(work(c, ctx.rules.work) - c.macs + c.macs // c_in),
                    f"C_in = {c_in} left out of each output's sum")]
    return []


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


def slip_added_bias(ctx: SlipContext) -> list[Alt]:
    """Params with a bias the count leaves out: the rules count weights only, or the layer has none
    (bias: false, as the notes' 9C² formulas): C_out·C_in·K·K + C_out."""
    c, r = ctx.counts, ctx.row
    if ctx.key not in _PARAMS or not c.weights:
        return []
    if c.bias and not ctx.rules.bias:
        return [Alt(ctx.units(c.params), f"weights + bias = {c.params:,}; these rules count weights only")]
    if not c.bias and r is not None and len(r.output) >= 1 and isinstance(r.output[0], int):
        with_bias = c.weights + r.output[0]
        return [Alt(ctx.units(with_bias), f"{c.weights:,} weights + {r.output[0]:,} biases = {with_bias:,}; "
                                          "this layer has no bias")]
    return []


def slip_wrong_pad(ctx: SlipContext) -> list[Alt]:
    """Another padding than the layer's (the notes print pad 2 for AlexNet's conv1, which needs 0):
    (W − K + 2P')/S + 1, and the memory and MACs of that size."""
    r, lay = ctx.row, ctx.layer
    if r is None or lay is None or "kernel" not in type(lay).model_fields:
        return []
    kernel = getattr(lay, "kernel", (0, 0))
    alts: list[Alt] = []
    for p in range(0, max(kernel) // 2 + 2):
        alt = _window_alt(lay, r.inputs, r.output, pad=p)
        if alt is not None:
            alts += _shape_alts(ctx, alt, f"with pad {p}")
    return alts


def slip_forgot_plus_one(ctx: SlipContext) -> list[Alt]:
    """The "+ 1" of the output-size formula left out: (W − K + 2P)/S instead of (W − K + 2P)/S + 1."""
    r = ctx.row
    if r is None:
        return []
    return _shape_alts(ctx, _window_alt(ctx.layer, r.inputs, r.output, plus_one=False), "without the + 1")


#: The row indexes of the last analyses diagnosed (their rows held, so an id is never reused).
_INDEXES: list[tuple[Sequence[Row], dict[str, int]]] = []


def _row_index(rows: Sequence[Row]) -> dict[str, int]:
    """Each row name's first index, built once per analysis (not once per wrong cell: quadratic)."""
    for held, index in _INDEXES:
        if held is rows:
            return index
    index = {}
    for i, x in enumerate(rows):
        index.setdefault(x.name, i)
    _INDEXES.insert(0, (rows, index))
    del _INDEXES[4:]
    return index


def slip_swapped_rows(ctx: SlipContext) -> list[Alt]:
    """The answer of a neighbouring layer (two rows swapped, or a row copied from the one above)."""
    r, a = ctx.row, ctx.analysis
    if r is None or a is None:
        return []
    i = _row_index(a.rows).get(r.name)
    if i is None:
        return []
    alts: list[Alt] = []
    for j in (i - 1, i + 1, i - 2, i + 2):
        if not 0 <= j < len(a.rows) or j == i:
            continue
        other = a.rows[j]
        if ctx.key in SHAPE_KEYS:
            full = expected_shape(ctx.key, other, ctx.rules)
            val = None if full is None else _square(full, ctx.key)
            if val is not None and val != ctx.expected:
                alts.append(Alt(val, f"{other.name}'s answer, not {r.name}'s (rows swapped or copied)"))
        else:
            oc = Counts.of_row(other, a)
            v = ctx.units(expected_count(ctx.key, oc, ctx.rules))
            if v != ctx.expected and v:
                alts.append(Alt(v, f"{other.name}'s answer, not {r.name}'s (rows swapped or copied)"))
    return alts


#: The lecture notes' known errata: (column group, the value printed, the right value) in the column's
#: base unit (bytes, counts, size). A student who copies one is told it is the notes' erratum.
NOTES_ERRATA: tuple[tuple[str, Fraction, Fraction, str], ...] = (
    # "(28 − 5 + 2 × 1)/1 + 1 = 32 → 6 × 32 × 32": with pad 2, (28 − 5 + 2·2)/1 + 1 = 28
    ("hw_out", Fraction(32), Fraction(28), "the notes print 32 for the 28×28, 5×5, pad-2 exercise; "
                                           "(28 − 5 + 2·2)/1 + 1 = 28"),
    # "75 × 6144 = 460,800": 75 × 6 × 28 × 28 = 352,800
    ("macs", Fraction(460_800), Fraction(352_800), "the notes' 460,800 = 75 × 6,144 uses their erroneous "
                                                  "32×32 output; 75 × 6 × 28 × 28 = 352,800"),
    # "Total from 224 to 28 … MFLOP: 418": the stem's rows sum to 481 (conv MACs + pooling ops)
    ("macs", Fraction(418_000_000), Fraction(480_836_608), "the notes print 418 MFLOP; their own rows "
                                                          "sum to 118 + 2 + 13 + 347 + 1 = 481"),
    # "Compare VGG-16: MFLOP 7485": 7,485,456,384 multiply-adds, i.e. 14,971 MFLOP at 2 FLOPs per MAC
    ("macs", Fraction(7_485_000_000), Fraction(14_970_912_768), "the notes' 'MFLOP: 7485' counts "
                                                               "multiply-adds; in FLOPs it is 14,971 M"),
)


def slip_notes_erratum(ctx: SlipContext) -> list[Alt]:
    """A value copied from one of the lecture notes' errata (NOTES_ERRATA)."""
    e = ctx.expected
    group = {"hw_out": "hw_out", "macs": "macs", "macs_m": "macs"}.get(ctx.key)
    if group is None:
        return []
    alts = []
    for g, printed, right, detail in NOTES_ERRATA:
        if g != group:
            continue
        exp = e[0] if isinstance(e, tuple) and len(e) == 1 else e
        scale = Fraction(ctx.scale)
        if isinstance(exp, Fraction) and abs(exp * scale - right) <= max(scale / 2, Fraction(1)):
            value = printed / scale
            alts.append(Alt((value,) if isinstance(e, tuple) else value, detail))
    return alts


@dataclass(frozen=True)
class FormulaAlt:
    """A slip's formula for a formula answer (a sympy expression in the spec's variables)."""

    name: str
    title: str
    detail: str
    value: Any


def formula_slips(key: str, c: Counts, rules: Rules, out_channels: Any) -> list[FormulaAlt]:
    """The slips a formula answer can show: a bias added or forgotten, 2 FLOPs per MAC, memory in
    elements; ``c`` holds the spec's counts as expressions."""
    alts: list[FormulaAlt] = []
    if key in _PARAMS and c.weights:
        if c.bias and rules.bias:
            alts.append(FormulaAlt("forgot_bias", "forgot the bias", f"weights only; + {c.bias} biases", c.weights))
        elif c.bias:
            alts.append(FormulaAlt("added_bias", "added a bias", "these rules count weights only", c.params))
        elif out_channels is not None:
            alts.append(FormulaAlt("added_bias", "added a bias",
                                   f"+ {out_channels} biases; this layer has no bias", c.weights + out_channels))
    if key in _WORK:
        w = work(c, rules.work)
        if rules.work is Work.FLOPS:
            alts.append(FormulaAlt("flops_per_mac", "2 FLOPs per MAC", "MACs; this table counts FLOPs = 2 × MACs",
                                   c.macs))
        else:
            alts.append(FormulaAlt("flops_per_mac", "2 FLOPs per MAC",
                                   "2 × MACs = FLOPs; this table counts multiply-adds", w + c.macs))
        alts.append(FormulaAlt("backward", "×2 for backward", "× 2 for the backward pass", 2 * w))
    if key in _MEMORY:
        alts.append(FormulaAlt("backward", "×2 for backward", "× 2 for the backward pass", 2 * c.activation_bytes))
    return alts


#: Slips tried in order on a wrong answer; the first whose value matches is named.
SLIPS: tuple[SlipDef, ...] = (
    SlipDef("notes_erratum", "the notes' erratum", slip_notes_erratum, wrong_size=True),
    SlipDef("forgot_bias", "forgot the bias", slip_forgot_bias),
    SlipDef("added_bias", "added a bias", slip_added_bias),
    SlipDef("kb_1000", "1000 vs 1024 bytes per KB", slip_kb_1000),
    SlipDef("flops_per_mac", "2 FLOPs per MAC", slip_flops_per_mac),
    SlipDef("pooling_ops", "pooling/other ops convention", slip_pooling_ops),
    SlipDef("ceil_floor", "ceil vs floor", slip_ceil_floor, wrong_size=True),
    SlipDef("one_side_pad", "padding on one side only", slip_one_side_pad, wrong_size=True),
    SlipDef("forgot_plus_one", "forgot the + 1", slip_forgot_plus_one, wrong_size=True),
    SlipDef("wrong_pad", "another padding", slip_wrong_pad, wrong_size=True),
    SlipDef("hwc", "HWC vs CHW", slip_hwc),
    SlipDef("input_memory", "input memory included", slip_input_memory),
    SlipDef("elements", "elements, not bytes", slip_elements),
    SlipDef("backward", "×2 for backward", slip_backward),
    SlipDef("units", "wrong unit", slip_units),
    SlipDef("input_size", "the input's size for the output's", slip_input_size),
    SlipDef("forgot_c_in", "forgot C_in", slip_forgot_c_in),
    SlipDef("digits_swapped", "digits swapped", slip_digits_swapped),
    SlipDef("swapped_rows", "another row's answer", slip_swapped_rows),
)


if len({s.name for s in SLIPS}) != len(SLIPS):  # a slip named twice would shadow the other
    raise ValueError("SLIPS: duplicate slip names")


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
