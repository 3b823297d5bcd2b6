"""Walks the DAG and produces frozen per-layer rows, totals and family shares."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from .compat import StrEnum
from .errors import Diagnostic, LayerShapeError, Position, SpecError, UsageError
from .graph import INPUT, Graph, Group
from .layers import RF, Family, Hyper, Num, Shape, numel
from .layers.base import certain
from .source import without_gc
from .spec import FreeParameter
from .speclang import Tagged, merge_instances


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
    #: The output also depends on the whole input through a global reduction (see layers.RF).
    global_context: bool = False
    #: The layer whose weights this call uses (``weights:``); its own weights, bias, buffers are 0.
    shares: str | None = None
    trainable: bool = True
    #: PyTorch calls it as a function (``functional: true``), not an nn module; see cnncalc.conventions.
    functional: bool = False
    #: The frozen part of a partly trainable layer: "weights" or "bias" (``trainable: bias`` / ``weights``).
    frozen: str = ""

    @property
    def frozen_params(self) -> int:
        """Parameters without requires_grad: all (``trainable: false``), the frozen part, or none."""
        if not self.trainable:
            return self.params
        return self.weights if self.frozen == "weights" else self.bias if self.frozen == "bias" else 0

    @property
    def params(self) -> int:
        return self.weights + self.bias


@dataclass(frozen=True)
class Totals:
    """Column sums of a set of rows, plus the parameters no row uses (``unused``).

    Each tensor counts once: a row that uses another's weights (``weights:``) has none of its
    own. params = Σ row params + unused = trainable + non_trainable.
    """

    params: int
    weights: int
    bias: int
    buffers: int
    macs: int
    ops: int
    activation_bytes: int
    layers: int
    #: Parameters with requires_grad (layers and ``parameters:`` entries not marked trainable: false).
    trainable: int = 0
    #: Frozen parameters: params − trainable.
    non_trainable: int = 0
    #: Parameters of the spec's ``parameters:`` section (no row uses them), included in params.
    unused: int = 0

    @staticmethod
    def of(rows: Iterable[Row], parameters: Sequence[FreeParameter] = ()) -> Totals:
        weights = bias = buffers = macs = ops = act = layers = frozen = 0
        for r in rows:  # one pass: this runs on every view of a 50,000-layer network
            weights += r.weights
            bias += r.bias
            buffers += r.buffers
            macs += r.macs
            ops += r.ops
            act += r.activation_bytes
            layers += r.layers
            frozen += sum(leaf.frozen_params for leaf in r.parts) if r.parts else r.frozen_params
        unused = sum(p.params for p in parameters)
        params = weights + bias + unused
        frozen += sum(p.params for p in parameters if not p.trainable)
        return Totals(params, weights, bias, buffers + sum(p.buffers for p in parameters), macs, ops, act,
                      layers, params - frozen, frozen, unused)


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
    #: Parameters no row uses (the spec's ``parameters:``); in the totals of the whole network.
    parameters: tuple[FreeParameter, ...] = ()

    def with_rows(self, rows: Sequence[Row]) -> Analysis:
        """The same analysis restricted to (or regrouped into) ``rows``, totals recomputed; the
        parameters no row uses count only while ``rows`` cover every layer."""
        whole = sum(r.layers for r in rows) == sum(r.layers for r in self.rows)
        return replace(self, rows=tuple(rows), totals=Totals.of(rows, self.parameters if whole else ()))

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
    shapes: dict[str, Shape] = {INPUT: graph.input, **dict(graph.extra_inputs)}
    rfs: dict[str, RF] = {k: RF() for k in shapes}
    rows: list[Row] = []
    problems: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    own: dict[str, tuple[int, int]] = {}  # what a call using another's weights would have of its own
    # A layer's figures depend only on the layer (a frozen value) and its input shapes: equal
    # layers on equal inputs (a repeated block's) are computed once. The receptive field is not:
    # it depends on the path to the layer.
    seen: dict[tuple[int, tuple[Shape, ...]], tuple[Any, ...]] = {}
    for node in graph.nodes:
        try:
            ins = tuple([shapes[i] for i in node.inputs])
        except KeyError:  # fed by a layer that failed (reported there)
            continue
        layer = node.layer
        try:
            key = (id(layer), ins)
            figures = seen.get(key)
            if figures is None:
                out = layer.output_shape(ins)
                figures = seen[key] = (out, layer.params(ins), layer.macs(ins, out), layer.ops(ins, out),
                                       layer.warnings(ins), layer.buffers(ins), layer.hyper())
            out, params, macs, ops, notes, buffers, hyper = figures
            rf = layer.receptive(RF.merge([rfs[i] for i in node.inputs]), ins)
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
        if notes:
            warnings.extend(Diagnostic(node.position, f"{node.name}: {m}", "warning") for m in notes)
        shapes[node.name] = out
        rfs[node.name] = rf
        if node.shares is not None:  # the owner's row counts the tensors; this call only computes
            own[node.name] = (params.total, buffers)
            params, buffers = type(params)(), 0
        rows.append(Row(
            node.name, node.type, layer.family, ins, out, params.weights, params.bias,
            buffers, macs * batch, ops * batch, numel(out) * dt.bytes * batch,
            rf.size, rf.jump, hyper, node.position, node.groups, global_context=rf.global_context,
            shares=node.shares, trainable=node.trainable, functional=node.functional, frozen=node.frozen,
        ))
    problems.extend(_shared_mismatches(graph, rows, own))
    if problems:  # a problem of a block's layer once, with the instances it affects
        inst = {n.name: n.groups[-1].name for n in graph.nodes if n.groups}
        raise SpecError(merge_instances(
            Tagged(d, inst.get(d.message.split(" (", 1)[0]))
            for d in problems))
    return Analysis(graph.name, graph.input, batch, dt, tuple(rows), Totals.of(rows, graph.parameters),
                    tuple(warnings), graph.file, graph.parameters)


def _shared_mismatches(graph: Graph, rows: Sequence[Row], own: dict[str, tuple[int, int]]) -> list[Diagnostic]:
    """A call that uses another layer's weights must need exactly as many as that layer has."""
    by_name = {r.name: r for r in rows}
    out = []
    for node in graph.nodes:
        if node.name not in own or node.shares not in by_name:
            continue
        need, owner = own[node.name], by_name[node.shares]
        if need != (owner.params, owner.buffers):
            out.append(Diagnostic(node.position, f"{node.name} ({node.type}): uses the weights of '{owner.name}' "
                                  f"({owner.params:,} params, {owner.buffers:,} buffers) but its input needs "
                                  f"{need[0]:,} params, {need[1]:,} buffers"))
    return out


def parameter_lines(analysis: Analysis) -> list[str]:
    """What the totals hold besides the rows: parameters no layer uses, calls that reuse weights."""
    lines = []
    t = analysis.totals
    if t.unused:
        names = ", ".join(f"{p.name} ({p.params:,}{'' if p.trainable else ', frozen'})" for p in analysis.parameters)
        lines.append(f"Params total includes {t.unused:,} that no layer uses: {names}")
    shared = [r for r in analysis.rows if r.shares]
    if shared:
        lines.append(f"{len(shared)} call(s) reuse another layer's weights (counted once, at the owner): "
                     + ", ".join(f"{r.name} → {r.shares}" for r in shared[:4]) + (" …" if len(shared) > 4 else ""))
    return lines


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
            ms[-1].global_context,
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

