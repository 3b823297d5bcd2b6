"""Totals of several networks side by side (compare) and of one network over batch × input × dtype (sweep)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .analysis import Analysis, DType, Row, select
from .columns import Column, TableData, Units, Value, round_half_up
from .errors import UsageError
from .layers import Family, Num, Shape, fmt_shape

if TYPE_CHECKING:
    from .cost import CostReport

#: Layer families counted by ``depth`` (the "16" of VGG-16: weight layers).
DEPTH_FAMILIES = frozenset({Family.CONV, Family.FC})


@dataclass(frozen=True)
class Extra:
    """One more figure per model from outside the analysis (e.g. a cost model's time), already formatted."""

    key: str
    header: str
    value: Fraction | None
    text: str


@dataclass(frozen=True)
class Summary:
    """The totals of one network (or one layer range of it) under one batch/dtype/input setting."""

    model: str
    input: Shape
    batch: int
    dtype: DType
    start: str | None
    end: str | None
    layers: int
    depth: int
    params: int
    macs: int
    activation_bytes: int
    rf: tuple[Num, Num] | None
    extras: tuple[Extra, ...] = field(default=())

    @property
    def range(self) -> str:
        """'conv1_1–pool3' for a layer range, '' for the whole network."""
        return f"{self.start}–{self.end}" if self.start or self.end else ""

    @property
    def label(self) -> str:
        return f"{self.model} [{self.range}]" if self.range else self.model


def depth_of(rows: Sequence[Row]) -> int:
    """Depth = number of conv/deconv/fc layers (weight layers, as in 'VGG-16'); collapsed blocks count their members."""
    return sum(1 for row in rows for r in (row.parts or (row,)) if r.family in DEPTH_FAMILIES)


def last_spatial_rf(rows: Sequence[Row]) -> tuple[Num, Num] | None:
    """Receptive field (h, w) in input pixels of the last row with a C×H×W output; None if there is none."""
    for r in reversed(rows):
        if len(r.output) == 3:
            return r.rf
    return None


def summarise(analysis: Analysis, start: str | None = None, end: str | None = None,
              extras: Sequence[Extra] = (), depth: int | None = None) -> Summary:
    """Totals of ``analysis`` over the layers ``start``..``end`` (inclusive; whole network if both None),
    with blocks nested deeper than ``depth`` folded first (the range then names its first and last rows)."""
    if depth is None:
        rows = select(analysis.rows, start, end) if start or end else list(analysis.rows)
    else:
        rows = list(analysis.view(depth, start, end).rows)
    view = analysis.with_rows(rows)
    t = view.totals
    return Summary(
        analysis.model, analysis.input, analysis.batch, analysis.dtype,
        rows[0].name if start or end else None, rows[-1].name if start or end else None,
        t.layers, depth_of(rows), t.params, t.macs, t.activation_bytes, last_spatial_rf(rows), tuple(extras),
    )


def cost_extras(report: CostReport, units: Units) -> tuple[Extra, ...]:
    """A cost model's prediction as compare/sweep columns: peak device memory (MB = kb² bytes),
    time per batch (ms) and throughput (samples/s = batch / time); exact values, ratios as usual."""
    peak = report.peak_memory_bytes
    mb = "MB" if units.kb == 1024 else "MB (SI)"
    return (
        Extra("device_peak_bytes", f"Peak {report.device} ({mb})", Fraction(peak),
              f"{round_half_up(Fraction(peak, units.kb * units.kb), units.decimals):,}"),
        Extra("time_ms", "Time (ms)", _exact(report.time_ms), _sig3(report.time_ms)),
        Extra("throughput", "Samples/s", _exact(report.throughput), _sig3(report.throughput)),
    )


def _exact(x: float) -> Fraction | None:
    return Fraction(x) if math.isfinite(x) and x > 0 else None


def _sig3(x: float) -> str:
    """Three significant digits, never an exponent: 0.0123, 1.23, 123, 12,345."""
    if not math.isfinite(x) or x <= 0:
        return "—"
    decimals = max(0, 2 - math.floor(math.log10(x)))
    return f"{round_half_up(Fraction(x), decimals):,}"


def ratio(value: int | Fraction | None, base: int | Fraction | None) -> Fraction | None:
    """value / base as an exact fraction; None when either is missing or the base is 0."""
    if value is None or base is None or base == 0:
        return None
    return Fraction(value) / Fraction(base)


def fmt_ratio(r: Fraction | None) -> str:
    """A ratio as people print it, rounded half up, then '×': one decimal from 1 up (5.72 → '5.7×'),
    two significant digits below 1 (0.00199 → '0.0020×'); '—' if undefined."""
    if r is None:
        return "—"
    decimals = 1
    if 0 < r < 1:
        while r * 10 ** (decimals - 1) < 1:  # first significant digit at decimal place ``decimals - 1``
            decimals += 1
    return f"{round_half_up(r, decimals)}×"


def _fmt_rf(rf: tuple[Num, Num] | None) -> str:
    if rf is None:
        return ""
    a, b = (str(x) if x.denominator == 1 else f"{float(x):.3g}" for x in rf)
    return a if a == b else f"{a}×{b}"


def _col(key: str, header: Callable[[Units], str] | str, scale: Callable[[Units], int] | None = None,
         numeric: bool = True, doc: str = "") -> Column:
    head = header if callable(header) else (lambda u, h=header: h)
    # compare/sweep rows are Summaries, not Rows: the value functions of Column are never called here
    return Column(key, head, lambda r, u: None, None, scale, numeric=numeric, doc=doc)


def _mb(u: Units) -> int:
    return u.kb * u.kb


MODEL = _col("model", "Model", numeric=False)
RANGE = _col("range", "Layers", numeric=False, doc="first–last layer of the range totalled")
INPUT = _col("input", "Input", numeric=False)
BATCH = _col("batch", "Batch")
DTYPE = _col("dtype", "Dtype", numeric=False)
DEPTH = _col("depth", "Depth", doc="conv/deconv/fc layers")
RF_COL = _col("receptive_field", "RF", doc="receptive field of the last spatial layer, input pixels")
PARAMS = _col("params", "Params", doc="weights + bias, exact")
MACS_M = _col("macs_m", lambda u: f"{u.work} (M)", lambda u: 1_000_000)
MEM_MB = _col("memory_mb", lambda u: f"Mem ({'MB' if u.kb == 1024 else 'MB (SI)'})", _mb,
              doc="activation memory of every output in the range")
MACS = _col("macs", lambda u: u.work)
MEM_B = _col("memory_bytes", "Mem (B)")


def _ratio_col(key: str) -> Column:
    return _col(f"{key}_x", "×", doc=f"{key} divided by the first row's")


def _cells(s: Summary, base: Summary, units: Units, *, ranges: bool, exact: bool,
           lead: Sequence[tuple[Column, Value]]) -> tuple[list[Column], list[Value]]:
    cols: list[Column] = [c for c, _ in lead]
    vals: list[Value] = [v for _, v in lead]

    def add(c: Column, v: Value) -> None:
        cols.append(c)
        vals.append(v)

    if ranges:
        add(RANGE, s.range or "all")
    add(PARAMS, s.params)
    add(_ratio_col("params"), fmt_ratio(ratio(s.params, base.params)))
    add(MACS_M, units.work_of(s.macs))
    add(_ratio_col("macs"), fmt_ratio(ratio(s.macs, base.macs)))
    add(MEM_MB, s.activation_bytes)
    add(_ratio_col("memory"), fmt_ratio(ratio(s.activation_bytes, base.activation_bytes)))
    for x, bx in zip(s.extras, base.extras, strict=True):
        add(_col(x.key, x.header), x.text)
        add(_ratio_col(x.key), fmt_ratio(ratio(x.value, bx.value)))
    if exact:
        add(MACS, units.work_of(s.macs))
        add(MEM_B, s.activation_bytes)
    return cols, vals


def _table(title: str, summaries: Sequence[Summary], units: Units, exact: bool,
           lead: Callable[[Summary], list[tuple[Column, Value]]]) -> TableData:
    if not summaries:
        raise UsageError("nothing to compare")
    ranges = any(s.range for s in summaries)
    base = summaries[0]
    cols: list[Column] = []
    rows: list[tuple[Value, ...]] = []
    for s in summaries:
        cols, vals = _cells(s, base, units, ranges=ranges, exact=exact, lead=lead(s))
        rows.append(tuple(vals))
    return TableData(title, tuple(cols), tuple(rows), (), units)


def compare_table(summaries: Sequence[Summary], units: Units, *, exact: bool = False) -> TableData:
    """One row of totals per network, with ratios against the first (× columns)."""
    same_setting = len({(s.batch, s.dtype) for s in summaries}) == 1

    def lead(s: Summary) -> list[tuple[Column, Value]]:
        cells: list[tuple[Column, Value]] = [(MODEL, s.model), (INPUT, fmt_shape(s.input))]
        if not same_setting:
            cells += [(BATCH, s.batch), (DTYPE, s.dtype.value)]
        return [*cells, (DEPTH, s.depth), (RF_COL, _fmt_rf(s.rf))]

    return _table("compare: " + " vs ".join(s.label for s in summaries), summaries, units, exact, lead)


def sweep_table(summaries: Sequence[Summary], units: Units, *, exact: bool = False) -> TableData:
    """One row per (batch, input, dtype) setting of one network, with growth against the first."""
    def lead(s: Summary) -> list[tuple[Column, Value]]:
        return [(BATCH, s.batch), (INPUT, fmt_shape(s.input)), (DTYPE, s.dtype.value)]

    title = f"sweep: {summaries[0].label}" if summaries else "sweep"
    return _table(title, summaries, units, exact, lead)


def _rf_json(rf: tuple[Num, Num] | None) -> list[int | float] | None:
    return None if rf is None else [int(x) if x.denominator == 1 else float(x) for x in rf]


def summary_dict(s: Summary, base: Summary) -> dict[str, Any]:
    """The JSON form of one summary: exact integers, ratios against ``base`` as floats (null if undefined)."""
    def fr(r: Fraction | None) -> float | None:
        return None if r is None else float(r)

    return {
        "model": s.model, "input": list(s.input), "batch": s.batch, "dtype": s.dtype.value,
        "from": s.start, "to": s.end, "layers": s.layers, "depth": s.depth,
        "receptive_field": _rf_json(s.rf),
        "params": s.params, "macs": s.macs, "flops": 2 * s.macs, "activation_bytes": s.activation_bytes,
        **{x.key: (None if x.value is None else (int(x.value) if x.value.denominator == 1 else float(x.value)))
           for x in s.extras},
        "ratios": {
            "params": fr(ratio(s.params, base.params)), "macs": fr(ratio(s.macs, base.macs)),
            "activation_bytes": fr(ratio(s.activation_bytes, base.activation_bytes)),
            **{x.key: fr(ratio(x.value, bx.value)) for x, bx in zip(s.extras, base.extras, strict=True)},
        },
    }


def summaries_dict(kind: str, summaries: Sequence[Summary], units: Units, cost_note: str | None = None
                   ) -> dict[str, Any]:
    """``{"kind": "compare"|"sweep", "conventions": …, "rows": [summary_dict…]}``; ratios against the first row.

    ``cost_note`` (with ``--device``) says which cost model, device and mode gave device_peak_bytes,
    time_ms and throughput.
    """
    return {
        "kind": kind,
        "conventions": {
            "macs": "multiply-accumulates of conv/deconv/fc and matmuls (attention), bias excluded; flops = 2 × macs",
            "activation_bytes": "sum over the layers of output elements × bytes per element × batch",
            "depth": "number of conv/deconv/fc layers",
            "receptive_field": "of the last layer with a C×H×W output, in input pixels (h, w)",
            "ratios": "value / the first row's value",
            "kb": units.kb,
            **({"cost": cost_note} if cost_note else {}),
        },
        "rows": [summary_dict(s, summaries[0]) for s in summaries],
    }


def parse_list(text: str, what: str) -> list[str]:
    """Comma-separated items, stripped; a UsageError if there are none."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise UsageError(f"{what} needs at least one value")
    return items


def parse_sizes(text: str, spec_input: Shape) -> list[Shape]:
    """Sweep inputs: comma-separated ``R`` (H = W = R, channels from the spec), ``HxW`` or ``CxHxW``.

    For a spec with a vector input, ``R`` is the feature count.
    """
    shapes: list[Shape] = []
    for item in parse_list(text, "--input"):
        try:
            dims = tuple(int(x) for x in item.replace("×", "x").split("x"))
        except ValueError:
            raise UsageError(f"--input: '{item}' is not a size (R, HxW or CxHxW)") from None
        if any(d < 1 for d in dims) or len(dims) > 3:
            raise UsageError(f"--input: '{item}' must be 1 to 3 positive numbers")
        if len(spec_input) == 1 and len(dims) == 1:
            shapes.append(dims)
        elif len(dims) == 1:
            shapes.append((spec_input[0], dims[0], dims[0]))
        elif len(dims) == 2:
            shapes.append((spec_input[0], *dims))
        else:
            shapes.append(dims)
    return shapes


def parse_batches(text: str) -> list[int]:
    """Comma-separated positive batch sizes."""
    out: list[int] = []
    for item in parse_list(text, "--batch"):
        if not item.isdecimal() or int(item) < 1:
            raise UsageError(f"--batch: '{item}' is not a positive whole number")
        out.append(int(item))
    return out


def parse_dtypes(text: str) -> list[DType]:
    """Comma-separated dtypes (fp32, fp16, bf16, int8, fp64)."""
    out: list[DType] = []
    for item in parse_list(text, "--dtype"):
        try:
            out.append(DType(item.lower()))
        except ValueError:
            raise UsageError(f"--dtype: '{item}' is not one of {', '.join(d.value for d in DType)}") from None
    return out


def per_model(values: Sequence[str] | None, n: int, what: str) -> list[str | None]:
    """``--from``/``--to`` given once (for every model) or once per model; '' or '-' means no bound."""
    vals = list(values or [])
    if not vals:
        return [None] * n
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise UsageError(f"{what} given {len(vals)} times for {n} models; give it once, or once per model ('-' for none)")
    return [None if v in ("", "-") else v for v in vals]
