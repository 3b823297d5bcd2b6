"""Every formula of a layer with its numbers plugged in: the kind's own, plus the generic memory and receptive field."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from fractions import Fraction

from .analysis import Analysis, Row
from .columns import round_half_up
from .graph import INPUT, Graph
from .layers import RF, Formula, Layer, Num, fmt_shape, numel
from .source import without_gc


def fmt_number(x: Fraction | int, places: int = 6) -> str:
    """A count with thousands separators; a fraction as a decimal, exact when it terminates within ``places``.

    1134.375 → "1,134.375"; 2/3 → "≈0.666667"; 105415200 → "105,415,200".
    """
    if isinstance(x, int):
        return f"{x:,}"
    if x.denominator == 1:
        return f"{x.numerator:,}"
    for p in range(1, places + 1):
        if (x * 10**p).denominator == 1:
            return f"{round_half_up(x, p):,.{p}f}"  # exact: the digits of x·10^p
    return f"≈{round_half_up(x, places):,.{places}f}"


def _dims_symbols(shape: Sequence[int]) -> str:
    return "C_out × H' × W'" if len(shape) == 3 else "F"


def output_formula(row: Row) -> Formula:
    """Output = C_out × H' × W' (the output shape, and its element count)."""
    return _output_formula(tuple(row.output))


@functools.lru_cache(maxsize=1024, typed=True)
def _output_formula(out: tuple[int, ...]) -> Formula:
    dims = " × ".join(str(d) for d in out)
    return Formula("Output", _dims_symbols(out), dims, f"{numel(out):,} elements ({fmt_shape(out)})")


def memory_formula(row: Row, bytes_per_element: int, batch: int = 1, kb: int = 1024) -> Formula:
    """Memory = output elements × bytes per element × batch / KB — the seeds' C × H' × W' × 4/1024."""
    return _memory_formula(tuple(row.output), row.activation_bytes, bytes_per_element, batch, kb)


@functools.lru_cache(maxsize=1024, typed=True)
def _memory_formula(out: tuple[int, ...], activation_bytes: int, bytes_per_element: int, batch: int,
                    kb: int) -> Formula:
    dims = " × ".join(str(d) for d in out)
    batch_txt = f" × {batch}" if batch != 1 else ""
    sym = f"{_dims_symbols(out)} × bytes" + (" × batch" if batch != 1 else "") + f" / {kb}"
    unit = "KB" if kb == 1024 else "kB"
    return Formula("Memory", sym, f"{dims} × {bytes_per_element}{batch_txt} / {kb}",
                   f"{fmt_number(Fraction(activation_bytes, kb))} {unit}")


def receptive_formula(row: Row, rf_in: tuple[Num, Num], jump_in: tuple[Num, Num], global_in: bool = False) -> Formula:
    """RF = r + (K − 1)·j along W, with r, j the input's receptive field and jump; jump' = j·S
    (j/S for an upsampling layer).

    K here is the window in input pixels, (K − 1)·D + 1 for a dilated kernel, derived from the fields
    themselves so that the formula holds for every kind. A global reduction keeps r and says so.
    """
    return _receptive_formula(rf_in[1], jump_in[1], row.rf[1], row.jump[1], row.global_context, global_in)


@functools.lru_cache(maxsize=1024, typed=True)
def _receptive_formula(r: Num, j: Num, r2: Num, j2: Num, global_context: bool, global_in: bool) -> Formula:
    context = " + global context" if global_context else ""
    if (r2, j2) == (r, j):
        how = "r of the input (a global reduction: every position seen)" if global_context and not global_in \
            else "r of the input (unchanged)"
        return Formula("RF", how, fmt_number(r), f"{fmt_number(r2)} (jump {fmt_number(j2)}){context}")
    k = Fraction(r2 - r) / Fraction(j) + 1
    s = Fraction(j2) / Fraction(j)
    jump = f"jump {fmt_number(j)}·{fmt_number(s)}" if s.denominator == 1 else \
        f"jump {fmt_number(j)}/{fmt_number(1 / s)}"
    return Formula("RF", "r + (K − 1)·j ; jump " + ("j·S" if s.denominator == 1 else "j/S"),
                   f"{fmt_number(r)} + ({fmt_number(k)} − 1)·{fmt_number(j)}",
                   f"{fmt_number(r2)}, {jump} = {fmt_number(j2)}{context}")


def _input_fields(names: Sequence[str], rows: Mapping[str, Row]) -> tuple[tuple[Num, Num], tuple[Num, Num], bool]:
    """The field, jump and global context a layer reads, joined as layers.RF.merge joins them."""
    fields = [RF(rows[n].rf, rows[n].jump, rows[n].global_context) if n in rows else RF()
              for n in names if n == INPUT or n in rows]
    rf = RF.merge(fields) if fields else RF()
    return rf.size, rf.jump, rf.global_context


def explain_layer(layer: Layer, row: Row, inputs: Sequence[str], rows: Mapping[str, Row],
                  bytes_per_element: int, batch: int = 1, kb: int = 1024) -> list[Formula]:
    """The layer kind's formulas (per sample) framed by output shape, memory and receptive field."""
    own = layer.explain(row.inputs, row.output)
    sizes = [f for f in own if f.quantity in ("W'", "H'", "Output")]
    rest = [f for f in own if f not in sizes]
    if not any(f.quantity == "Output" for f in sizes):
        sizes.append(output_formula(row))
    rf_in, jump_in, global_in = _input_fields(inputs, rows)
    if row.shares:  # the tensors are the owner's: this call computes but holds no parameters
        rest = [Formula(f.quantity, f"{f.symbolic}, held by {row.shares} (weights: {row.shares})", f.numeric,
                        f"0 here ({f.value} at {row.shares})") if f.quantity == "Params" else f for f in rest]
    return [*sizes, memory_formula(row, bytes_per_element, batch, kb), *rest,
            receptive_formula(row, rf_in, jump_in, global_in)]


@without_gc
def explain_all(graph: Graph, analysis: Analysis, kb: int = 1024) -> dict[str, list[Formula]]:
    """Formulas of every analysed layer, by layer name."""
    rows = {r.name: r for r in analysis.rows}
    return {
        n.name: explain_layer(n.layer, rows[n.name], n.inputs, rows, analysis.dtype.bytes, analysis.batch, kb)
        for n in graph.nodes if n.name in rows
    }
