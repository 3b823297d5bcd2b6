"""Walks the DAG and produces frozen per-layer rows, totals and family shares."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from .compat import StrEnum
from .errors import Diagnostic, LayerShapeError, Position, SpecError, UsageError
from .graph import INPUT, Graph, Group
from .layers import RF, Family, Hyper, Num, Shape, numel
from .layers.base import certain
from .source import without_gc


class DType(StrEnum):
    """Element types for activation memory."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"
    FP64 = "fp64"

    @property
    def bytes(self) -> int:
        return {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp64": 8}[self.value]


@dataclass(frozen=True)
class Row:
    """One layer (or a collapsed block) with everything the tables show.

    ``macs``, ``ops`` and ``activation_bytes`` are for the whole batch; params and buffers are not
    batch-dependent. ``activation_bytes`` = output elements × bytes per element × batch.
    """

    name: str
    type: str
    family: Family | None
    inputs: tuple[Shape, ...]
    output: Shape
    weights: int
    bias: int
    buffers: int
    macs: int
    ops: int
    activation_bytes: int
    rf: tuple[Num, Num]
    jump: tuple[Num, Num]
    hyper: Hyper
    position: Position
    groups: tuple[Group, ...] = ()
    layers: int = 1
    parts: tuple[Row, ...] = ()  # the layers a collapsed row stands for

    @property
    def params(self) -> int:
        return self.weights + self.bias


@dataclass(frozen=True)
class Totals:
    """Column sums of a set of rows."""

    params: int
    weights: int
    bias: int
    buffers: int
    macs: int
    ops: int
    activation_bytes: int
    layers: int

    @staticmethod
    def of(rows: Iterable[Row]) -> Totals:
        rs = list(rows)
        return Totals(
            sum(r.params for r in rs), sum(r.weights for r in rs), sum(r.bias for r in rs),
            sum(r.buffers for r in rs), sum(r.macs for r in rs), sum(r.ops for r in rs),
            sum(r.activation_bytes for r in rs), sum(r.layers for r in rs),
        )


@dataclass(frozen=True)
class Analysis:
    """The analysed network: rows in execution order, their totals, and warnings."""

    model: str
    input: Shape
    batch: int
    dtype: DType
    rows: tuple[Row, ...]
    totals: Totals
    warnings: tuple[Diagnostic, ...] = ()
    file: str = ""

    def with_rows(self, rows: Sequence[Row]) -> Analysis:
        """The same analysis restricted to (or regrouped into) ``rows``, totals recomputed."""
        return replace(self, rows=tuple(rows), totals=Totals.of(rows))

    def view(self, depth: int | None = None, start: str | None = None, end: str | None = None) -> Analysis:
        """The rows a user asked to see: blocks nested deeper than ``depth`` collapsed (see
        ``collapse``), then the layers ``start``..``end`` (see ``select``); totals over what is left."""
        rows = list(self.rows)
        if depth is not None:
            rows = collapse(rows, depth)
        if start or end:
            rows = select(rows, start, end)
        return self.with_rows(rows)

    def shares(self) -> dict[Family, tuple[Fraction, Fraction]]:
        """Share of params and of MACs per layer family (only families that have some)."""
        p, m = self.totals.params, self.totals.macs
        acc: dict[Family, list[int]] = {}
        for r in (leaf for row in self.rows for leaf in (row.parts or (row,))):
            if r.family is not None:
                a = acc.setdefault(r.family, [0, 0])
                a[0] += r.params
                a[1] += r.macs
        return {
            f: (Fraction(a[0], p) if p else Fraction(0), Fraction(a[1], m) if m else Fraction(0))
            for f, a in acc.items() if a[0] or a[1]
        }


@without_gc
def analyse(graph: Graph, batch: int = 1, dtype: DType | str = DType.FP32) -> Analysis:
    """Propagate shapes, counts and receptive fields through the graph.

    Raises SpecError listing every shape problem (each at its layer's line); layers fed by a
    failed layer are skipped rather than reported twice.
    """
    if batch < 1:
        raise UsageError(f"batch must be at least 1, got {batch}")
    dt = DType(dtype)
    shapes: dict[str, Shape] = {INPUT: graph.input}
    rfs: dict[str, RF] = {INPUT: RF()}
    rows: list[Row] = []
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for node in graph.nodes:
        if any(i not in shapes for i in node.inputs):
            continue
        ins = tuple(shapes[i] for i in node.inputs)
        layer = node.layer
        try:
            out = layer.output_shape(ins)
            params = layer.params(ins)
            rf = layer.receptive(RF.merge([rfs[i] for i in node.inputs]), ins)
            macs = layer.macs(ins, out)
            ops = layer.ops(ins, out)
            notes = layer.warnings(ins)
        except LayerShapeError as e:
            problems.append(Diagnostic(node.position, f"{node.name} ({node.type}): {e}"))
            continue
        except (TypeError, ValueError) as e:  # a formula that needs numbers met a symbol
            if not graph.symbolic:
                raise
            problems.append(Diagnostic(node.position, f"{node.name} ({node.type}): cannot be analysed "
                                       f"with symbolic sizes ({e}); give the variables values with --set"))
            continue
        if any(certain(s < 1) for s in out):
            problems.append(Diagnostic(node.position, f"{node.name} ({node.type}): output size {out} is empty"))
            continue
        warnings.extend(Diagnostic(node.position, f"{node.name}: {m}", "warning") for m in notes)
        shapes[node.name] = out
        rfs[node.name] = rf
        rows.append(Row(
            node.name, node.type, layer.family, ins, out, params.weights, params.bias,
            layer.buffers(ins), macs * batch, ops * batch, numel(out) * dt.bytes * batch,
            rf.size, rf.jump, layer.hyper(), node.position, node.groups,
        ))
    if problems:
        raise SpecError(problems)
    return Analysis(graph.name, graph.input, batch, dt, tuple(rows), Totals.of(rows),
                    tuple(warnings), graph.file)


def collapse(rows: Sequence[Row], depth: int) -> list[Row]:
    """Rows with every block nested deeper than ``depth`` folded into one summed row.

    depth 0 folds every top-level block instance; the folded row takes the block's first input
    shapes, its last layer's output and receptive field, the sums of the counts, and a summary of
    its hyper-parameters (see ``block_hyper``).
    """
    out: list[Row] = []
    index: dict[str, int] = {}
    members: dict[str, list[Row]] = {}
    for r in rows:
        if len(r.groups) <= depth:
            out.append(r)
            continue
        g = r.groups[depth]
        if g.name not in index:
            index[g.name] = len(out)
            members[g.name] = []
            out.append(r)
        members[g.name].append(r)
    for name, i in index.items():
        ms = members[name]
        g = ms[0].groups[depth]
        t = Totals.of(ms)
        out[i] = Row(
            g.name, g.type, None, ms[0].inputs, ms[-1].output, t.weights, t.bias, t.buffers,
            t.macs, t.ops, t.activation_bytes, ms[-1].rf, ms[-1].jump, block_hyper(ms), g.position,
            ms[0].groups[:depth], t.layers, tuple(p for m in ms for p in (m.parts or (m,))),
        )
    return out


def block_hyper(members: Sequence[Row]) -> Hyper:
    """What a folded block's row shows for its hyper-parameters: its output channels as filters, its
    kernels (distinct, in order: '1,3' for a bottleneck) and its overall stride (input height / output
    height, where whole); no padding."""
    kernels = list(dict.fromkeys(k for m in members for k in m.hyper.kernel.split(",") if k))
    first, last = members[0].inputs[0] if members[0].inputs else (), members[-1].output
    stride = ""
    if len(first) == 3 and len(last) == 3 and isinstance(first[1], int) and isinstance(last[1], int) \
            and last[1] and first[1] % last[1] == 0 and first[2] == last[2] * (first[1] // last[1]):
        stride = str(first[1] // last[1])
    return Hyper(str(last[0]) if any(m.hyper.filters for m in members) else "", ",".join(kernels), stride, "")


def select(rows: Sequence[Row], start: str | None, end: str | None) -> list[Row]:
    """Rows from ``start`` to ``end`` inclusive, in execution order. Each is a row's name or a block
    instance's (e.g. ``layer2_0``): a block starts at its first row and ends at its last."""
    names = [r.name for r in rows]
    blocks: dict[str, tuple[int, int]] = {}

    def find(n: str, end: bool) -> int:
        if n in names:
            return names.index(n)
        if not blocks:
            for k, r in enumerate(rows):
                for g in r.groups:
                    blocks[g.name] = (blocks.get(g.name, (k, k))[0], k)
        if n in blocks:
            return blocks[n][end]
        close = difflib.get_close_matches(n, [*names, *blocks], n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UsageError(f"no layer named '{n}', nor a block{hint}")

    i = find(start, False) if start else 0
    j = find(end, True) if end else len(rows) - 1
    if i > j:
        raise UsageError(f"'{start}' comes after '{end}'")
    return list(rows[i:j + 1])

