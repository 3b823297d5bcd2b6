"""What each column asks: the exact count or shape behind a cell, under the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..analysis import Analysis, Row
from ..explain import fmt_number
from ..layers import Family, Num, numel
from .numbers import cached_fraction
from .rules import Rules, Work

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
        return Counts.summed([Counts.of_row(r, analysis) for r in analysis.rows], analysis)

    @staticmethod
    def summed(cs: Sequence[Counts], analysis: Analysis) -> Counts:
        """The rows' counts added up; the input memory is the network input's."""
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
    vals = shape_values(key, r, rules)
    return None if vals is None else tuple(cached_fraction(v) for v in vals)


def shape_values(key: str, r: Row, rules: Rules) -> tuple[Num, ...] | None:
    """expected_shape's sizes as the analysis holds them (ints, a Fraction for a fractional field)."""
    ins, out = r.inputs, r.output
    if key == "c_in":
        return tuple(s[0] for s in ins)
    if key == "hw_in":
        return tuple(ins[0][1:]) if len(ins[0]) == 3 else None
    if key == "c_out":
        return (out[0],)
    if key == "hw_out":
        return tuple(out[1:]) if len(out) == 3 else None
    if key == "input_shape":
        return _order(ins[0], rules)
    if key == "output_shape":
        return _order(out, rules)
    if key == "receptive_field":
        return tuple(r.rf)
    if key == "jump":
        return tuple(r.jump)
    raise KeyError(key)


def _square(t: tuple[Fraction, ...], key: str) -> tuple[Fraction, ...]:
    return t[:1] if key in _SQUARE and len(t) == 2 and t[0] == t[1] else t


def _plain(x: Fraction) -> str:
    """A size as the tables print it: 9216, not 9,216 (a comma would read as a separator of sizes)."""
    return str(x.numerator) if x.denominator == 1 else fmt_number(x).replace(",", "")


def shape_text(t: Sequence[Fraction], key: str) -> str:
    """'96×55×55', '55' for a square H×W, '256+256' for the channels of several inputs."""
    return ("+" if key == "c_in" else "×").join(_plain(x) for x in _square(tuple(t), key))
