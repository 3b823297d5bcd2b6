"""The one table of columns (key, header, unit, value, formatter) that every renderer reads."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

from .analysis import Analysis, Row, Totals
from .errors import UsageError
from .layers import Num, fmt_shape
from .source import without_gc

Value = int | Fraction | str | None


@dataclass(frozen=True)
class Units:
    """Display conventions: bytes per KB, MACs or FLOPs (2 per MAC), decimals of rounded cells."""

    kb: int = 1024
    flops: bool = False
    decimals: int = 0

    @property
    def kb_label(self) -> str:
        return "KB" if self.kb == 1024 else "kB"

    @property
    def work(self) -> str:
        return "FLOPs" if self.flops else "MACs"

    def work_of(self, macs: int) -> int:
        return 2 * macs if self.flops else macs


@dataclass(frozen=True)
class Column:
    """One column: ``key`` is its CSV/--columns name, ``scale`` > 1 marks a rounded column."""

    key: str
    header: Callable[[Units], str]
    row: Callable[[Row, Units], Value]
    total: Callable[[Totals, Units], Value] | None = None
    scale: Callable[[Units], int] | None = None
    default: bool = False
    numeric: bool = True
    doc: str = ""
    #: Units a rounded column may step down to, largest first, as (divisor, header): see ``fit_units``.
    ladder: Callable[[Units], tuple[tuple[int, str], ...]] | None = None
    #: A nonzero value that rounds to 0 is shown with the decimals its first digit needs (0.13, not 0).
    nonzero: bool = False


def _hw(shape: tuple[int, ...]) -> str:
    if len(shape) != 3:
        return ""
    return str(shape[1]) if shape[1] == shape[2] else f"{shape[1]}×{shape[2]}"


def _c(shapes: Sequence[tuple[int, ...]]) -> str:
    return "+".join(str(s[0]) for s in shapes)


def _frac2(p: tuple[Num, Num]) -> str:
    a, b = (str(x) if not isinstance(x, Fraction) or x.denominator == 1 else f"{float(x):.3g}" for x in p)
    return a if a == b else f"{a}×{b}"


def _rf(r: Row) -> str:
    """The field, marked ``*`` when the output also sees the whole input through a global path."""
    return _frac2(r.rf) + ("*" if r.global_context else "")


def _const(s: str) -> Callable[[Units], str]:
    return lambda u: s


COLUMNS: tuple[Column, ...] = (
    Column("layer", _const("Layer"), lambda r, u: r.name, lambda t, u: "Total", default=True, numeric=False),
    Column("type", _const("Type"), lambda r, u: r.type, numeric=False),
    Column("c_in", _const("C_in"), lambda r, u: _c(r.inputs), default=True, numeric=False,
           doc="input channels (or features); '+'-joined for several inputs"),
    Column("hw_in", _const("H/W in"), lambda r, u: _hw(r.inputs[0]), default=True, numeric=False),
    Column("filters", _const("Filters"), lambda r, u: r.hyper.filters, default=True, numeric=False),
    Column("kernel", _const("Kernel"), lambda r, u: r.hyper.kernel, default=True, numeric=False),
    Column("stride", _const("Stride"), lambda r, u: r.hyper.stride, default=True, numeric=False),
    Column("pad", _const("Pad"), lambda r, u: r.hyper.pad, default=True, numeric=False),
    Column("c_out", _const("C_out"), lambda r, u: str(r.output[0]), default=True, numeric=False),
    Column("hw_out", _const("H'/W'"), lambda r, u: _hw(r.output), default=True, numeric=False),
    Column("memory_kb", lambda u: f"Mem ({u.kb_label})", lambda r, u: r.activation_bytes,
           lambda t, u: t.activation_bytes, lambda u: u.kb, default=True,
           doc="activation memory of the output: elements × bytes × batch / KB",
           ladder=lambda u: ((u.kb, f"Mem ({u.kb_label})"), (1, "Mem (B)"))),
    Column("params_k", _const("Params (k)"), lambda r, u: r.params, lambda t, u: t.params,
           lambda u: 1000, default=True, doc="weights + bias, in thousands",
           ladder=lambda u: ((1000, "Params (k)"), (1, "Params"))),
    Column("macs_m", lambda u: f"{u.work} (M)", lambda r, u: u.work_of(r.macs),
           lambda t, u: u.work_of(t.macs), lambda u: 1_000_000, default=True,
           doc="multiply-accumulates of conv/deconv/fc and matmuls (attention; bias excluded), millions; FLOPs = 2 × MACs",
           ladder=lambda u: ((10**6, f"{u.work} (M)"), (1000, f"{u.work} (k)"), (1, u.work))),
    Column("ops_m", _const("Ops (M)"), lambda r, u: r.ops, lambda t, u: t.ops, lambda u: 1_000_000,
           doc="other arithmetic (pooling windows, bias, BN, activations, adds), millions",
           ladder=lambda u: ((10**6, "Ops (M)"), (1000, "Ops (k)"), (1, "Ops"))),
    Column("input_shape", _const("Input"), lambda r, u: ", ".join(fmt_shape(s) for s in r.inputs), numeric=False),
    Column("output_shape", _const("Output"), lambda r, u: fmt_shape(r.output), numeric=False),
    Column("receptive_field", _const("RF"), lambda r, u: _rf(r), numeric=False,
           doc="receptive field size in input pixels along spatial paths; * = the output also depends "
               "on the whole input through a global reduction (global pooling, SE gate, flatten/fc)"),
    Column("jump", _const("Jump"), lambda r, u: _frac2(r.jump), numeric=False,
           doc="cumulative stride: input pixels between neighbouring outputs"),
    Column("params", _const("Params"), lambda r, u: r.params, lambda t, u: t.params),
    Column("weights", _const("Weights"), lambda r, u: r.weights, lambda t, u: t.weights),
    Column("bias", _const("Bias"), lambda r, u: r.bias, lambda t, u: t.bias),
    Column("buffers", _const("Buffers"), lambda r, u: r.buffers, lambda t, u: t.buffers),
    Column("macs", lambda u: u.work, lambda r, u: u.work_of(r.macs), lambda t, u: u.work_of(t.macs)),
    Column("ops", _const("Ops"), lambda r, u: r.ops, lambda t, u: t.ops),
    Column("memory_bytes", _const("Mem (B)"), lambda r, u: r.activation_bytes, lambda t, u: t.activation_bytes),
)

BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT = tuple(c.key for c in COLUMNS if c.default)
#: Extra columns added by ``--exact`` (the counts as whole numbers).
EXACT = ("params", "macs", "memory_bytes")


def pick(keys: Sequence[str] | None = None, extra: Sequence[str] = ()) -> tuple[Column, ...]:
    """Columns by key (default set if None), plus extras; unknown keys are a UsageError."""
    chosen = list(keys or DEFAULT)
    chosen += [k for k in extra if k not in chosen]
    for k in chosen:
        if k not in BY_KEY:
            close = difflib.get_close_matches(k, BY_KEY, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; choose from {', '.join(BY_KEY)}"
            raise UsageError(f"unknown column '{k}'{hint}")
    return tuple(BY_KEY[k] for k in chosen)


def round_half_up(x: Fraction | int, decimals: int = 0) -> Decimal:
    """Round as people do by hand (253.5 → 254, −2.5 → −3), not to even; exact at any magnitude.

    n = ⌊|x|·10^d + ½⌋ in integers, then the Decimal n·10^−d built from its digits: no 28-digit
    Decimal context is involved, so 10^40 + ½ rounds to 10^40 + 1, not to 28 significant digits.
    """
    x = Fraction(x)
    scaled = abs(x) * 10**decimals
    n = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(f"{'-' if x < 0 and n else ''}{n}E-{decimals}")


def cell_text(col: Column, value: Value, units: Units, *, grouping: bool = True) -> str:
    """The text of one cell: rounded columns divided and rounded, counts with separators."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    scale = col.scale(units) if col.scale is not None else 1
    if scale != 1:  # a column fitted to exact counts has scale 1
        if isinstance(value, int) and value >= 0:
            text = scaled_text(value, scale, units.decimals, grouping)
            if not (col.nonzero and value and _is_zero(text)):
                return text
        x = Fraction(value) / scale
        d = round_half_up(x, units.decimals)
        if col.nonzero and x and not d:
            d = round_half_up(x, first_digit(x))
        return f"{d:,}" if grouping else f"{d}"
    return f"{value:,}" if grouping else str(value)


def _formatter(col: Column, units: Units, grouping: bool) -> Callable[[Value], str]:
    """``cell_text`` for one column, its scale looked up once (the common cells without a call to it)."""
    scale = col.scale(units) if col.scale is not None else 1
    decimals = units.decimals

    def text(v: Value) -> str:
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        if isinstance(v, int) and v >= 0 and not decimals:
            n = (2 * v + scale) // (2 * scale) if scale != 1 else v
            if n or not v or not col.nonzero:
                return f"{n:,}" if grouping else str(n)
            d = 1  # first_digit in integers: the fewest decimals d with 2·v·10^d ≥ scale
            while 2 * v * 10**d < scale:
                d += 1
            if d <= 6:  # (from 7 decimals on, Decimal prints 3E-7: left to cell_text)
                return scaled_text(v, scale, d, grouping)
        return cell_text(col, v, units, grouping=grouping)

    return text


def scaled_text(value: int, scale: int, decimals: int, grouping: bool) -> str:
    """``value / scale`` rounded half up to ``decimals`` places, in integer arithmetic (as round_half_up)."""
    q = 10**decimals
    n = (2 * value * q + scale) // (2 * scale)  # half up: floor(v·q/s + 1/2)
    if not decimals:
        return f"{n:,}" if grouping else str(n)
    whole, frac = divmod(n, q)
    return (f"{whole:,}" if grouping else str(whole)) + "." + str(frac).rjust(decimals, "0")


def _is_zero(text: str) -> bool:
    return not text.strip("0.,")


def first_digit(x: Fraction) -> int:
    """Decimals needed for a nonzero ``x`` to round (half up) to something nonzero: 0.128 → 1, 0.004 → 3."""
    d = 0
    while not round_half_up(abs(x), d):
        d += 1
    return d


#: ``fit_units`` keeps a column's unit while its largest cell is at least this many units.
UNIT_THRESHOLD = 100


@without_gc
def fit_units(table: TableData, threshold: int = UNIT_THRESHOLD) -> TableData:
    """Each laddered column in the largest unit its largest cell fills ``threshold`` times, else smaller
    (exact counts last): lenet5's 61,706 params print as 61,706, not 62 (k); a seed table's columns,
    whose totals are thousands of units, keep KB, k and M. Every column so fitted shows a nonzero
    value that rounds to 0 with the decimals its first digit needs (a 128-parameter BatchNorm: 0.1 k).
    For display only: CSV keeps each key's own unit. A column fitted down to exact counts that the
    table also shows as an exact column (``--exact``: Mem (KB) become bytes beside Mem (B)) is left
    out rather than printed twice.
    """
    cols = []
    fixed = {c.header(table.units) for c in table.columns if c.ladder is None}
    dropped: set[int] = set()
    for j, c in enumerate(table.columns):
        if c.ladder is None:
            cols.append(c)
            continue
        cells = [row[j] for row in table.rows] + [table.totals[j] if table.totals else None]
        nums = [v if v >= 0 else -v for v in cells if isinstance(v, (int, Fraction))]
        top = max(nums, default=0)
        steps = c.ladder(table.units)
        div, head = next(((d, h) for d, h in steps if top >= threshold * d), steps[-1])
        if div == 1 and head in fixed:
            dropped.add(j)
            continue
        cols.append(replace(c, header=_const(head), scale=_const_int(div), nonzero=True))
    if not dropped:
        return replace(table, columns=tuple(cols))
    keep = [j for j in range(len(table.columns)) if j not in dropped]
    return replace(table, columns=tuple(cols), rows=tuple(tuple(row[j] for j in keep) for row in table.rows),
                   totals=tuple(table.totals[j] for j in keep) if table.totals else table.totals)


def _const_int(n: int) -> Callable[[Units], int]:
    return lambda u: n


@dataclass(frozen=True)
class TableData:
    """Rows of raw cell values, ready for any renderer."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Value, ...], ...]
    totals: tuple[Value, ...]
    units: Units

    def headers(self) -> list[str]:
        return [c.header(self.units) for c in self.columns]

    @without_gc
    def text_rows(self, *, grouping: bool = True, totals: bool = True) -> list[list[str]]:
        fs = [_formatter(c, self.units, grouping) for c in self.columns]
        out = [[f(v) for f, v in zip(fs, row)] for row in self.rows]
        if totals and self.totals:  # compare/sweep tables have no totals row
            out.append([cell_text(c, v, self.units, grouping=grouping) for c, v in zip(self.columns, self.totals)])
        return out


@without_gc
def build_table(analysis: Analysis, columns: Sequence[Column], units: Units) -> TableData:
    """Evaluate the chosen columns on every row and on the totals."""
    rows = tuple(tuple(c.row(r, units) for c in columns) for r in analysis.rows)
    totals = tuple(c.total(analysis.totals, units) if c.total else None for c in columns)
    return TableData(analysis.model, tuple(columns), rows, totals, units)
