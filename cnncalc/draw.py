"""The network drawn: layers as boxes, edges as arrows, block instances as foldable frames (SVG, DOT).

Laid out by a maintained engine, never by hand: Graphviz's ``dot`` where it is installed (its
clusters keep blocks apart), else grandalf's Sugiyama layout (pure Python, a dependency).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .analysis import Analysis, Row
from .errors import UsageError
from .graph import INPUT, Graph
from .layers import fmt_shape
from .limits import MAX_DRAWN_BOXES, limit_error

#: Okabe–Ito colours by layer family, as the plots and the report's charts; 'block' for folded blocks.
FAMILY_FILL = {"conv": "#0072B2", "fc": "#D55E00", "pool": "#009E73", "norm": "#CC79A7", "activation": "#E69F00",
               "merge": "#56B4E9", "reshape": "#999999", "other": "#999999", "block": "#6A3D9A", "input": "#333333"}
_CHAR_W, _LINE_H, _PAD = 6.6, 14.0, 8.0  # px per character at 11 px, per text line, inside a box
_RANK_GAP, _NODE_GAP = 28.0, 18.0
_FIRST = ' class="t"'  # the layer's name, in bold


@dataclass(frozen=True)
class Node:
    """One box: a layer (or a folded block, or the input), its text lines and family colour."""

    name: str
    lines: tuple[str, ...]
    family: str
    blocks: tuple[str, ...]  # the block instances it is in, outermost first

    @property
    def size(self) -> tuple[float, float]:
        return (max(len(x) for x in self.lines) * _CHAR_W + 2 * _PAD, len(self.lines) * _LINE_H + _PAD)


@dataclass(frozen=True)
class Net:
    """What is drawn: boxes, edges (distinct producer → consumer pairs) and the blocks' types."""

    name: str
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    blocks: dict[str, str]  # block instance → its block type, outermost first in insertion order


@dataclass(frozen=True)
class Placed:
    """A drawing: centre and size of every box, each edge's points (a polyline, or cubic Bézier
    control points where ``curved``), the canvas size and the engine that laid it out."""

    net: Net
    boxes: dict[str, tuple[float, float, float, float]]
    paths: tuple[tuple[tuple[float, float], ...], ...]
    curved: bool
    width: float
    height: float
    engine: str


def _short(n: int) -> str:
    """3 significant digits with k/M/G (1,234,567 → 1.23M); a nonzero count never reads 0."""
    for div, unit in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def _lines(r: Row) -> tuple[str, ...]:
    h = r.hyper
    ksp = "/".join(x for x in (h.kernel, h.stride, h.pad) if x)
    counts = " · ".join(x for x in ((f"{_short(r.params)} params" if r.params else ""),
                                    (f"{_short(r.macs)} MACs" if r.macs else "")) if x)
    return tuple(x for x in (r.name, f"{r.type} {ksp}".strip() + (f" ({r.layers} layers)" if r.layers > 1 else ""),
                             fmt_shape(r.output), counts) if x)


def net_of(graph: Graph, view: Analysis) -> Net:
    """The boxes and edges of ``view``'s rows (folded blocks as one box; edges into and out of a
    folded block attach to its box); ``graph`` says which layer feeds which."""
    owner: dict[str, str] = {INPUT: INPUT}
    for r in view.rows:
        for p in r.parts or (r,):
            owner[p.name] = r.name
    if len(view.rows) + 1 > MAX_DRAWN_BOXES:  # refused before 50,000 boxes are even labelled
        _too_many(len(view.rows) + 1)
    nodes = [Node(INPUT, ("input", fmt_shape(view.input)), "input", ())]
    blocks: dict[str, str] = {}
    for r in view.rows:
        for g in r.groups:
            blocks.setdefault(g.name, g.type)
        nodes.append(Node(r.name, _lines(r), r.family.value if r.family else "block", tuple(g.name for g in r.groups)))
    edges: dict[tuple[str, str], None] = {}
    shown = {n.name for n in nodes}
    for n in graph.nodes:
        dst = owner.get(n.name)
        if dst is None:
            continue
        for src in n.inputs:
            a = owner.get(src)
            if a is not None and a != dst and a in shown and dst in shown:
                edges[(a, dst)] = None
    # rows left out by --from/--to: their edges go nowhere drawn
    return Net(view.model, tuple(nodes), tuple(edges), blocks)


def to_dot(net: Net, *, sizes: bool = False) -> str:
    """Graphviz DOT: a box per layer labelled with its lines, a cluster per block instance, top to
    bottom. ``sizes`` fixes each box to the size the SVG draws it (for laying out with ``dot``)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    out = [f"digraph {q(net.name)} {{", "  rankdir=TB; nodesep=0.25; ranksep=0.35;",
           '  node [shape=box, style="rounded,filled", fillcolor="#f5f7fa", fontname="Helvetica", fontsize=10];']
    tree: dict[tuple[str, ...], list[Node]] = {}
    for n in net.nodes:
        tree.setdefault(n.blocks, []).append(n)

    def node_line(n: Node, indent: str) -> str:
        label = "\\n".join(x.replace("\\", "\\\\").replace('"', '\\"') for x in n.lines)
        attrs = f'label="{label}", color="{FAMILY_FILL.get(n.family, "#999999")}"'
        if sizes:
            w, h = n.size
            attrs += f", fixedsize=true, width={w / 72:.4f}, height={h / 72:.4f}"
        return f"{indent}{q(n.name)} [{attrs}];"

    def emit(path: tuple[str, ...], indent: str) -> None:
        for n in tree.get(path, []):
            out.append(node_line(n, indent))
        children = list(dict.fromkeys(p[len(path)] for p in tree if len(p) > len(path) and p[:len(path)] == path))
        for c in children:
            out.append(f"{indent}subgraph {q('cluster_' + c)} {{")
            label = q(f"{c} ({net.blocks.get(c, '')})")
            out.append(f'{indent}  label={label}; style="rounded,dashed"; '
                       f'color="#6A3D9A"; fontsize=9;')
            emit((*path, c), indent + "  ")
            out.append(f"{indent}}}")

    emit((), "  ")
    out += [f"  {q(a)} -> {q(b)};" for a, b in net.edges]
    out.append("}")
    return "\n".join(out) + "\n"


def layout(net: Net, engine: str | None = None) -> Placed:
    """Place ``net`` with ``engine``: 'dot' (Graphviz), 'grandalf', or None for dot where installed.

    UsageError for a net of more than MAX_DRAWN_BOXES boxes (it would take minutes)."""
    if len(net.nodes) > MAX_DRAWN_BOXES:
        _too_many(len(net.nodes))
    if engine is None:
        engine = "dot" if shutil.which("dot") else "grandalf"
    if engine == "dot":
        return _with_dot(net)
    if engine == "grandalf":
        return _with_grandalf(net)
    raise UsageError(f"unknown layout engine '{engine}'; choose dot or grandalf")


def _too_many(boxes: int) -> None:
    raise UsageError(limit_error(f"drawing {boxes:,} boxes", MAX_DRAWN_BOXES, "boxes", "laying out more "
                                 "takes minutes") + "; fold blocks with --depth 0 (or 1, 2…) or draw a part "
                     "with --from/--to")


def _with_dot(net: Net) -> Placed:
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError("Graphviz's dot is not installed; leave out --engine to use grandalf")
    plain = subprocess.run([exe, "-Tplain"], input=to_dot(net, sizes=True), capture_output=True, text=True,
                           check=True, timeout=300).stdout
    boxes: dict[str, tuple[float, float, float, float]] = {}
    paths: list[tuple[tuple[float, float], ...]] = []
    height = width = 0.0
    order = {e: i for i, e in enumerate(net.edges)}
    found: dict[int, tuple[tuple[float, float], ...]] = {}
    for line in plain.splitlines():
        f = shlex.split(line)
        if not f:
            continue
        if f[0] == "graph":
            width, height = float(f[2]) * 72, float(f[3]) * 72
        elif f[0] == "node":
            boxes[f[1]] = (float(f[2]) * 72, height - float(f[3]) * 72, float(f[4]) * 72, float(f[5]) * 72)
        elif f[0] == "edge":
            n = int(f[3])
            pts = tuple((float(f[4 + 2 * k]) * 72, height - float(f[5 + 2 * k]) * 72) for k in range(n))
            i = order.get((f[1], f[2]))
            if i is not None:
                found[i] = pts
    paths = [found[i] for i in range(len(net.edges))]
    return Placed(net, boxes, tuple(paths), True, width, height, "dot")


def _with_grandalf(net: Net) -> Placed:
    try:
        from grandalf.graphs import Edge, Graph, Vertex
        from grandalf.layouts import SugiyamaLayout
        from grandalf.routing import EdgeViewer, route_with_lines
    except ImportError:
        raise UsageError("drawing the network needs grandalf (pip install grandalf) or Graphviz's dot") from None

    class View:
        def __init__(self, w: float, h: float) -> None:
            self.w, self.h, self.xy = w, h, (0.0, 0.0)

    vs = {}
    for n in net.nodes:
        v = Vertex(n.name)
        w, h = n.size
        v.view = View(w, h)
        vs[n.name] = v
    es = []
    for a, b in net.edges:
        e = Edge(vs[a], vs[b])
        e.view = EdgeViewer()
        es.append(e)
    g = Graph(list(vs.values()), es)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    x0, height = 0.0, 0.0
    for comp in g.C:
        sug = SugiyamaLayout(comp)
        sug.xspace, sug.yspace = _NODE_GAP, _RANK_GAP
        sug.route_edge = route_with_lines
        roots = [v for v in comp.sV if not v.e_in()]
        sug.init_all(roots=roots, inverted_edges=[])
        sug.draw(3)
        xs = [v.view.xy[0] - v.view.w / 2 for v in comp.sV]
        left = min(xs)
        right = max(v.view.xy[0] + v.view.w / 2 for v in comp.sV)
        for v in comp.sV:
            boxes[v.data] = (v.view.xy[0] - left + x0 + _PAD, v.view.xy[1] + _PAD, v.view.w, v.view.h)
            height = max(height, v.view.xy[1] + v.view.h / 2 + 2 * _PAD)
        for e in comp.sE:
            e.view._pts = [(x - left + x0 + _PAD, y + _PAD) for x, y in e.view._pts]
        x0 += right - left + 2 * _NODE_GAP
    paths = tuple(tuple((float(x), float(y)) for x, y in e.view._pts) for e in es)
    return Placed(net, boxes, paths, False, x0 - 2 * _NODE_GAP + 2 * _PAD, height, "grandalf")


def _frames(p: Placed) -> dict[str, tuple[float, float, float, float]]:
    """Each block instance's frame (x0, y0, x1, y1): its members' boxes with a margin that grows
    outwards, so that nested frames do not touch."""
    nest = {b: 0 for b in p.net.blocks}
    spans: dict[str, list[float]] = {}
    for n in p.net.nodes:
        x, y, w, h = p.boxes[n.name]
        for depth, b in enumerate(n.blocks):
            nest[b] = max(nest[b], len(n.blocks) - depth)
            s = spans.setdefault(b, [x - w / 2, y - h / 2, x + w / 2, y + h / 2])
            s[0], s[1], s[2], s[3] = min(s[0], x - w / 2), min(s[1], y - h / 2), max(s[2], x + w / 2), max(s[3], y + h / 2)
    return {b: (s[0] - 3 - 4 * nest[b], s[1] - 12 - 4 * nest[b], s[2] + 3 + 4 * nest[b], s[3] + 3 + 4 * nest[b])
            for b, s in spans.items()}


def _head(pts: Sequence[tuple[float, float]], curved: bool) -> str:
    """An arrow head (a filled triangle) at the end of an edge: at its last point for grandalf's lines,
    which end on the box; 10 px beyond it for dot's splines, which stop where dot's arrow head begins."""
    (x1, y1), (x2, y2) = pts[-1], next((q for q in reversed(pts[:-1]) if q != pts[-1]), (pts[-1][0], pts[-1][1] - 1))
    dx, dy = x1 - x2, y1 - y2
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    dx, dy = dx / n, dy / n
    tx, ty = (x1 + 10 * dx, y1 + 10 * dy) if curved else (x1, y1)
    bx, by = tx - 8 * dx, ty - 8 * dy
    return f"M{tx:.1f},{ty:.1f} L{bx - 3.5 * dy:.1f},{by + 3.5 * dx:.1f} L{bx + 3.5 * dy:.1f},{by - 3.5 * dx:.1f} z"


def to_svg(p: Placed, *, standalone: bool = True) -> str:
    """The drawing as SVG: ``<g class="block">`` per block instance holding its members, its inner
    arrows and its nested blocks (class ``folded`` hides them and shows the block's summary); one
    ``<path class="edge">`` per edge and its ``<path class="head">`` arrow head; every box names its layer."""
    net = p.net
    frames = _frames(p)
    pad = 16.0
    lo_x = min([0.0, *(f[0] for f in frames.values())]) - pad
    lo_y = min([0.0, *(f[1] for f in frames.values())]) - pad
    hi_x = max([p.width, *(f[2] for f in frames.values())]) + pad
    hi_y = max([p.height, *(f[3] for f in frames.values())]) + pad
    w, h = hi_x - lo_x, hi_y - lo_y
    where = {n.name: n.blocks for n in net.nodes}
    members: dict[tuple[str, ...], list[str]] = {}

    def put(blocks: tuple[str, ...], svg: str) -> None:
        members.setdefault(blocks, []).append(svg)

    for (a, b), pts in zip(net.edges, p.paths, strict=True):
        common: tuple[str, ...] = ()
        for x, y in zip(where[a], where[b]):
            if x != y:
                break
            common = (*common, x)
        if p.curved and len(pts) >= 4:
            d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}" + "".join(
                f" C{pts[k][0]:.1f},{pts[k][1]:.1f} {pts[k + 1][0]:.1f},{pts[k + 1][1]:.1f} "
                f"{pts[k + 2][0]:.1f},{pts[k + 2][1]:.1f}" for k in range(1, len(pts) - 2, 3))
        else:
            d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        put(common, f'<path class="edge" data-from="{escape(a)}" data-to="{escape(b)}" d="{d}"/>'
                    f'<path class="head" data-from="{escape(a)}" data-to="{escape(b)}" d="{_head(pts, p.curved)}"/>')
    for n in net.nodes:
        cx, cy, bw, bh = p.boxes[n.name]
        text = "".join(f'<tspan x="{cx:.1f}" y="{cy - bh / 2 + _PAD / 2 + _LINE_H * (k + 0.8):.1f}"'
                       f'{_FIRST if k == 0 else ""}>{escape(s)}</tspan>' for k, s in enumerate(n.lines))
        put(n.blocks, f'<g class="node" data-layer="{escape(n.name)}" data-family="{escape(n.family)}">'
                      f'<title>{escape(" · ".join(n.lines))}</title>'
                      f'<rect x="{cx - bw / 2:.1f}" y="{cy - bh / 2:.1f}" width="{bw:.1f}" height="{bh:.1f}" rx="4" '
                      f'style="stroke:{FAMILY_FILL.get(n.family, "#999999")}"/><text>{text}</text></g>')
    counts: dict[str, int] = {}
    for n in net.nodes:
        for b in n.blocks:
            counts[b] = counts.get(b, 0) + 1

    def block(path: tuple[str, ...]) -> str:
        name = path[-1]
        x0, y0, x1, y1 = frames[name]
        label = f"{name} ({net.blocks[name]})"
        inner = "".join(members.get(path, []))
        kids = [c for c in dict.fromkeys(q[len(path)] for q in members if len(q) > len(path) and q[:len(path)] == path)]
        inner += "".join(block((*path, c)) for c in kids)
        return (f'<g class="block" data-block="{escape(name)}"><rect class="frame" x="{x0:.1f}" y="{y0:.1f}" '
                f'width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="6"/>'
                f'<text class="label" x="{x0 + 6:.1f}" y="{y0 + 11:.1f}">{escape(label)}</text>'
                f'<text class="summary" x="{(x0 + x1) / 2:.1f}" y="{(y0 + y1) / 2 + 4:.1f}" text-anchor="middle">'
                f'{escape(name)}: {counts.get(name, 0)} layers folded</text>{inner}</g>')

    tops = list(dict.fromkeys(q[0] for q in members if q))
    body = "".join(members.get((), [])) + "".join(block((t,)) for t in tops)
    style = ("<style>.cnncalc-net .node rect{fill:#fff;stroke-width:1.6}.cnncalc-net text{font:11px system-ui,"
             "sans-serif;fill:#1d2330;text-anchor:middle}.cnncalc-net .t{font-weight:600}"
             ".cnncalc-net .edge{fill:none;stroke:#5b6473;stroke-width:1.1}.cnncalc-net .head{fill:#5b6473}"
             ".cnncalc-net .frame{fill:#6A3D9A0d;stroke:#6A3D9A;stroke-dasharray:4 3}"
             ".cnncalc-net .label{text-anchor:start;font-size:10px;fill:#6A3D9A;cursor:pointer}"
             ".cnncalc-net .summary{display:none}.cnncalc-net .folded>.summary{display:inline}"
             ".cnncalc-net .folded>.node,.cnncalc-net .folded>.block,.cnncalc-net .folded>.edge,"
             ".cnncalc-net .folded>.head{display:none}"
             "</style>")
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else "")
    return (f'{head}<svg xmlns="http://www.w3.org/2000/svg" class="cnncalc-net" role="img" '
            f'aria-label="{escape(net.name)}: the network drawn" width="{w:.0f}" height="{h:.0f}" '
            f'viewBox="{lo_x:.1f} {lo_y:.1f} {w:.1f} {h:.1f}" data-engine="{p.engine}">'
            f"{style}{body}</svg>\n")


def draw(graph: Graph, view: Analysis, engine: str | None = None) -> Placed:
    """``view`` (an analysis, perhaps folded with --depth or cut with --from/--to) laid out."""
    return layout(net_of(graph, view), engine)


__all__: Sequence[str] = ["Net", "Node", "Placed", "draw", "layout", "net_of", "to_dot", "to_svg"]
