"""Every formula of a layer with its numbers plugged in: the kind's own, plus the generic memory and receptive field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from .analysis import Analysis, Row
from .graph import INPUT, Graph
from .layers import Formula, Layer, Num, fmt_shape, numel


def fmt_number(x: Fraction | int, places: int = 6) -> str:
    """A count with thousands separators; a fraction as a decimal, exact when it terminates within ``places``.

    1134.375 → "1,134.375"; 2/3 → "≈0.666667"; 105415200 → "105,415,200".
    """
    x = Fraction(x)
    if x.denominator == 1:
        return f"{x.numerator:,}"
    for p in range(1, places + 1):
        if (x * 10**p).denominator == 1:
            return f"{Decimal(x.numerator) / Decimal(x.denominator):,.{p}f}"
    q = Decimal(x.numerator) / Decimal(x.denominator)
    return f"≈{q:,.{places}f}"


def _dims_symbols(shape: Sequence[int]) -> str:
    return "C_out × H' × W'" if len(shape) == 3 else "F"


def output_formula(row: Row) -> Formula:
    """Output = C_out × H' × W' (the output shape, and its element count)."""
    out = row.output
    dims = " × ".join(str(d) for d in out)
    return Formula("Output", _dims_symbols(out), dims, f"{numel(out):,} elements ({fmt_shape(out)})")


def memory_formula(row: Row, bytes_per_element: int, batch: int = 1, kb: int = 1024) -> Formula:
    """Memory = output elements × bytes per element × batch / KB — the seeds' C × H' × W' × 4/1024."""
    out = row.output
    dims = " × ".join(str(d) for d in out)
    batch_txt = f" × {batch}" if batch != 1 else ""
    sym = f"{_dims_symbols(out)} × bytes" + (" × batch" if batch != 1 else "") + f" / {kb}"
    unit = "KB" if kb == 1024 else "kB"
    return Formula("Memory", sym, f"{dims} × {bytes_per_element}{batch_txt} / {kb}",
                   f"{fmt_number(Fraction(row.activation_bytes, kb))} {unit}")


def receptive_formula(row: Row, rf_in: tuple[Num, Num], jump_in: tuple[Num, Num]) -> Formula:
    """RF = r + (K − 1)·j along W, with r, j the input's receptive field and jump; jump' = j·S.

    K here is the effective window, (K − 1)·D + 1 for a dilated kernel, derived from the fields
    themselves so that the formula holds for every kind (global pooling: K = W).
    """
    r, j = rf_in[1], jump_in[1]
    r2, j2 = row.rf[1], row.jump[1]
    if (r2, j2) == (r, j):
        return Formula("RF", "r of the input (unchanged)", fmt_number(r), f"{fmt_number(r2)} (jump {fmt_number(j2)})")
    k = Fraction(r2 - r) / j + 1
    s = Fraction(j2) / j
    return Formula("RF", "r + (K − 1)·j ; jump j·S", f"{fmt_number(r)} + ({fmt_number(k)} − 1)·{fmt_number(j)}",
                   f"{fmt_number(r2)}, jump {fmt_number(j)}·{fmt_number(s)} = {fmt_number(j2)}")


def _input_fields(names: Sequence[str], rows: Mapping[str, Row]) -> tuple[tuple[Num, Num], tuple[Num, Num]]:
    one = (Fraction(1), Fraction(1))
    fields = [(rows[n].rf, rows[n].jump) if n in rows else (one, one) for n in names if n == INPUT or n in rows]
    if not fields:
        return one, one
    rf = (max(f[0][0] for f in fields), max(f[0][1] for f in fields))
    jump = (max(f[1][0] for f in fields), max(f[1][1] for f in fields))
    return rf, jump


def explain_layer(layer: Layer, row: Row, inputs: Sequence[str], rows: Mapping[str, Row],
                  bytes_per_element: int, batch: int = 1, kb: int = 1024) -> list[Formula]:
    """The layer kind's formulas (per sample) framed by output shape, memory and receptive field."""
    own = layer.explain(row.inputs, row.output)
    sizes = [f for f in own if f.quantity in ("W'", "H'", "Output")]
    rest = [f for f in own if f not in sizes]
    if not any(f.quantity == "Output" for f in sizes):
        sizes.append(output_formula(row))
    rf_in, jump_in = _input_fields(inputs, rows)
    if row.shares:  # the tensors are the owner's: this call computes but holds no parameters
        rest = [Formula(f.quantity, f"{f.symbolic}, held by {row.shares} (weights: {row.shares})", f.numeric,
                        f"0 here ({f.value} at {row.shares})") if f.quantity == "Params" else f for f in rest]
    return [*sizes, memory_formula(row, bytes_per_element, batch, kb), *rest,
            receptive_formula(row, rf_in, jump_in)]


def explain_all(graph: Graph, analysis: Analysis, kb: int = 1024) -> dict[str, list[Formula]]:
    """Formulas of every analysed layer, by layer name."""
    rows = {r.name: r for r in analysis.rows}
    return {
        n.name: explain_layer(n.layer, rows[n.name], n.inputs, rows, analysis.dtype.bytes, analysis.batch, kb)
        for n in graph.nodes if n.name in rows
    }
