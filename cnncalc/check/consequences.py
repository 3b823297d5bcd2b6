"""Tracing consequences: wrong cells that follow from one earlier slip, for error-carried-forward credit.

A wrong output size (a padding misread, the "+ 1" forgotten, floor for ceil) changes that layer's
memory and MACs and the sizes, memory, MACs and params of the layers after it; a Total that sums
the sheet's own rows is wrong exactly where they are. The cause is diagnosed once, on its cell;
each cell that follows from it is marked ``carried_forward`` (naming the cause) and earns the
rules' ``carried_forward`` share of its points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction

from ..analysis import Analysis, Row
from ..layers import Family, Layer, Shape, numel
from .expected import Counts, _square, expected_count
from .results import CellResult, Status
from .rules import Rules
from .slips import SLIPS, Slip

#: Numeric columns a different output size changes, and the count behind each.
_SIZE_DEPENDENT = ("memory_kb", "memory_bytes", "macs_m", "macs", "ops_m", "ops", "params_k", "params")


#: Slips that are themselves a wrong size: a cell they explain keeps its own diagnosis.
_SIZE_SLIPS = frozenset(s.name for s in SLIPS if s.wrong_size)


def _units(key: str, rules: Rules) -> int:
    return {"memory_kb": rules.kb, "params_k": 1000, "macs_m": 10**6, "ops_m": 10**6}.get(key, 1)


def _carried(key: str, layer: Layer, ins: Sequence[Shape], out: Shape, analysis: Analysis, rules: Rules,
             row: Row) -> Fraction | None:
    """The value of column ``key`` for a layer whose input/output are ``ins``/``out`` (the sizes the
    student carried forward), in the column's units."""
    try:
        p = layer.params(ins)
        b = analysis.batch
        macs, ops = layer.macs(ins, out) * b, layer.ops(ins, out) * b
    except Exception:  # a size the layer cannot take: no consequence to offer
        return None
    c = Counts(p.weights, p.bias, row.buffers, macs, ops, ops if row.family is Family.POOL else 0,
               numel(out) * analysis.dtype.bytes * b, numel(out) * b, 0)
    return Fraction(expected_count(key, c, rules), _units(key, rules))


def _close(a: Fraction, b: Fraction, key: str) -> bool:
    """Equal up to the rounding of a rounded column (half a unit of 0.1 % or at least 0.5)."""
    if key in ("memory_kb", "params_k", "macs_m", "ops_m"):
        return abs(a - b) <= max(Fraction(1, 2), abs(b) / 1000)
    return a == b


def _chain(root: int, alt_out: Shape, rows: Sequence[Row], layers: Mapping[str, Layer]) -> dict[int, tuple[tuple[Shape, ...], Shape]]:
    """Inputs and outputs of the root row and the rows after it when the root's output is
    ``alt_out``, following a plain chain (each row's one input is the row before's output), as far
    as the sizes differ from the true ones."""
    out: dict[int, tuple[tuple[Shape, ...], Shape]] = {root: (rows[root].inputs, alt_out)}
    prev = alt_out
    for j in range(root + 1, len(rows)):
        r = rows[j]
        if len(r.inputs) != 1 or r.inputs[0] != rows[j - 1].output or r.name not in layers:
            break
        try:
            new = layers[r.name].output_shape((prev,))
        except Exception:  # the carried size does not fit this layer: the chain ends
            break
        out[j] = ((prev,), new)
        if new == r.output:
            break  # e.g. a flatten/pool that absorbs the difference; later rows are unaffected
        prev = new
    return out


def trace(results: list[CellResult], analysis: Analysis, rules: Rules,
          layers: Mapping[str, Layer]) -> list[CellResult]:
    """Mark the wrong cells that follow from an earlier wrong cell (see the module docstring)."""
    out = list(results)
    causes = [c for c in results if c.status is Status.WRONG and c.column in ("hw_out", "output_shape")]
    totals = [c for c in results if c.layer == "Total" and c.status is Status.WRONG]
    if not causes and not totals:
        return out  # nothing to trace (the indexes below cost a pass over a long sheet's cells)
    rows = list(analysis.rows)
    index = {r.name: i for i, r in enumerate(rows)}
    by_cell = {(c.layer, c.column): i for i, c in enumerate(results)} if causes else {}

    def mark(i: int, cause: str, same_row: bool = True) -> None:
        c = out[i]
        if c.status is not Status.WRONG or (c.slip is not None and c.slip.name == "carried_forward"):
            return
        earned = max(c.earned, c.points * rules.carried_forward)
        if same_row and c.slip is not None and c.slip.name in _SIZE_SLIPS:
            out[i] = replace(c, earned=earned)  # its own diagnosis already names the size slip
            return
        out[i] = replace(c, slip=Slip("carried_forward", "follows from an earlier slip", cause), earned=earned)

    # 1. a wrong output size carried forward
    for c in causes:
        if c.layer not in index:
            continue
        if not isinstance(c.value, tuple) or c.layer not in layers:
            continue
        i = index[c.layer]
        r = rows[i]
        if len(r.output) != 3:
            continue
        if c.column == "hw_out":
            shown = c.value
            hw = (shown[0], shown[0]) if len(shown) == 1 else shown[:2] if len(shown) == 2 else None
            if hw is None or any(x.denominator != 1 for x in hw):
                continue
            alt_out: Shape = (r.output[0], int(hw[0]), int(hw[1]))
        else:
            if len(c.value) != 3 or any(x.denominator != 1 for x in c.value):
                continue
            vals = tuple(int(x) for x in c.value)
            alt_out = (vals[2], vals[0], vals[1]) if rules.shape_order == "hwc" else vals
        if alt_out == r.output:
            continue
        why = c.slip.title if c.slip is not None else "wrong size"
        cause = f"consistent with {c.layer}'s output {'×'.join(map(str, alt_out))} ({why})"
        for j, (ins, o) in _chain(i, alt_out, rows, layers).items():
            rj = rows[j]
            if j != i and o != rj.output and any(
                    (k := by_cell.get((rj.name, key))) is not None and out[k].status is Status.RIGHT
                    for key in ("hw_out", "output_shape")):
                break  # the sheet has this layer's true size: the student did not carry the slip here
            for key in _SIZE_DEPENDENT:
                k = by_cell.get((rj.name, key))
                if k is None or out[k].status is not Status.WRONG or not isinstance(out[k].value, Fraction):
                    continue
                v = _carried(key, layers[rj.name], ins, o, analysis, rules, rj)
                if v is not None and _close(out[k].value, v, key):
                    mark(k, cause, same_row=j == i)
            if j != i:
                for key in ("hw_out", "output_shape", "c_out"):
                    k = by_cell.get((rj.name, key))
                    if k is None or out[k].status is not Status.WRONG or not isinstance(out[k].value, tuple):
                        continue
                    carried = _square(tuple(Fraction(x) for x in o[1:]), "hw_out") if key == "hw_out" else \
                        (Fraction(o[0]),) if key == "c_out" else tuple(Fraction(x) for x in o)
                    if out[k].value == carried:
                        mark(k, cause, same_row=False)

    # 2. a Total that sums the sheet's own rows
    for i, c in enumerate(out):
        if c.layer != "Total" or c.status is not Status.WRONG or not isinstance(c.value, Fraction):
            continue
        col = [x for x in out if x.layer != "Total" and x.column == c.column and isinstance(x.value, Fraction)]
        if not any(x.status is Status.WRONG for x in col):
            continue
        own = sum((x.value for x in col), Fraction(0))
        # rows left blank count with their right values (a student sums what the table holds)
        answered = {x.layer for x in col}
        rest = sum((Fraction(expected_count(c.column, _row_counts(r, analysis), rules), _units(c.column, rules))
                    for r in rows if r.name not in answered), Fraction(0)) if c.column in _SIZE_DEPENDENT else Fraction(0)
        if _close(c.value, own, c.column) or _close(c.value, own + rest, c.column):
            wrong = [x.layer for x in col if x.status is Status.WRONG]
            mark(i, f"the sum of the rows as answered (wrong: {', '.join(wrong[:4])}{', …' if len(wrong) > 4 else ''})")
    return out


def _row_counts(r: Row, analysis: Analysis) -> Counts:
    return Counts.of_row(r, analysis)
