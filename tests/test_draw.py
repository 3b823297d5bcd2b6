"""The network drawn (cnncalc graph, the report's Network section): every layer named, an arrow per edge."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, load_spec, parse_spec
from cnncalc.cli import app
from cnncalc.draw import draw, net_of, to_dot, to_svg

pytest.importorskip("grandalf")

SVG = "{http://www.w3.org/2000/svg}"
ENGINES = ["grandalf", pytest.param("dot", marks=pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz not installed (apt-get install graphviz)"))]
run = CliRunner().invoke

# A residual block by hand: input → c1 → r1 → c2; add(c2, c1); pool ← add. Edges: input→c1, c1→r1,
# r1→c2, c2→add, c1→add, add→pool: 6 arrows, 6 boxes with the input.
RESIDUAL = """name: residual
input: [8, 16, 16]
layers:
  - {name: c1, type: conv, filters: 8, kernel: 3, pad: 1}
  - {name: r1, type: relu}
  - {name: c2, type: conv, filters: 8, kernel: 3, pad: 1}
  - {name: add, type: add, inputs: [c2, c1]}
  - {name: pool, type: maxpool, kernel: 2, stride: 2}
"""


def _parse(svg: str) -> tuple[dict[str, ET.Element], list[ET.Element], ET.Element]:
    root = ET.fromstring(svg)
    nodes = {g.get("data-layer", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    heads = [(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("class") == "head"]
    assert heads == [(p.get("data-from"), p.get("data-to")) for p in edges]  # an arrow head on every edge
    return nodes, edges, root


def _points(d: str) -> list[tuple[float, float]]:
    nums = d.replace("M", " ").replace("L", " ").replace("C", " ").split()
    return [(float(x), float(y)) for x, y in (n.split(",") for n in nums)]


def _box(g: ET.Element) -> tuple[float, float, float, float]:
    r = g.find(f"{SVG}rect")
    assert r is not None
    x, y, w, h = (float(r.get(k, "0")) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def _near(p: tuple[float, float], box: tuple[float, float, float, float], slack: float) -> bool:
    return box[0] - slack <= p[0] <= box[2] + slack and box[1] - slack <= p[1] <= box[3] + slack


@pytest.mark.parametrize("engine", ENGINES)
def test_residual_block_by_hand(engine: str) -> None:
    loaded = parse_spec(RESIDUAL, "residual.yaml")
    g = build_graph(loaded)
    nodes, edges, _ = _parse(to_svg(draw(g, analyse(g), engine)))
    assert set(nodes) == {"input", "c1", "r1", "c2", "add", "pool"}
    pairs = sorted((e.get("data-from"), e.get("data-to")) for e in edges)
    assert pairs == sorted([("input", "c1"), ("c1", "r1"), ("r1", "c2"), ("c2", "add"), ("c1", "add"),
                            ("add", "pool")])
    for e in edges:
        pts = _points(e.get("d", ""))
        src, dst = _box(nodes[e.get("data-from", "")]), _box(nodes[e.get("data-to", "")])
        # the arrow leaves its producer and ends at its consumer (dot stops short for the arrow head)
        assert _near(pts[0], src, 12) and _near(pts[-1], dst, 12), (e.get("data-from"), e.get("data-to"), pts)
    _, _, root = _parse(to_svg(draw(g, analyse(g), engine)))
    for h in (p for p in root.iter(f"{SVG}path") if p.get("class") == "head"):
        tip = _points(h.get("d", "").replace("z", ""))[0]
        assert _near(tip, _box(nodes[h.get("data-to", "")]), 2), h.get("d")  # the head touches its box
    for name, g_ in nodes.items():
        first = g_.find(f"{SVG}text/{SVG}tspan")
        assert first is not None and first.text == name


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("spec", "depth"), [("alexnet_cs231n", None), ("googlenet", 1), ("resnet50", 0),
                                             ("densenet121", None), ("mobilenet_v2", None)])
def test_every_layer_named_and_an_arrow_per_edge(spec: str, depth: int | None, engine: str) -> None:
    g = build_graph(load_spec(spec))
    view = analyse(g).view(depth)
    nodes, edges, root = _parse(to_svg(draw(g, view, engine)))
    assert set(nodes) == {"input", *(r.name for r in view.rows)}
    # the edges from the graph itself: who feeds whom, mapped onto the folded rows, distinct pairs
    owner = {"input": "input", **{p.name: r.name for r in view.rows for p in (r.parts or (r,))}}
    expected = {(owner[i], owner[n.name]) for n in g.nodes for i in n.inputs if owner[i] != owner[n.name]}
    got = [(e.get("data-from"), e.get("data-to")) for e in edges]
    assert len(got) == len(set(got)) and set(got) == expected
    # blocks: a frame per block instance shown, holding its members
    blocks = {b.get("data-block"): b for b in root.iter(f"{SVG}g") if b.get("class") == "block"}
    assert set(blocks) == {gr.name for r in view.rows for gr in r.groups}
    for r in view.rows:
        for gr in r.groups:
            inside = {x.get("data-layer") for x in blocks[gr.name].iter(f"{SVG}g") if x.get("class") == "node"}
            assert r.name in inside


def test_dot_source_has_a_cluster_per_block_and_an_edge_per_edge() -> None:
    g = build_graph(load_spec("googlenet"))
    view = analyse(g).view(1)
    net = net_of(g, view)
    text = to_dot(net)
    assert text.count(" -> ") == len(net.edges) and text.count("subgraph \"cluster_") == len(net.blocks)
    if shutil.which("dot"):  # Graphviz reads it
        svg = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True, check=True).stdout
        assert svg.count('class="edge"') == len(net.edges)


def test_graph_command_writes_svg_and_dot(tmp_path: Path) -> None:
    r = run(app, ["graph", "lenet5", "-o", str(tmp_path / "net.svg")])
    assert r.exit_code == 0, r.stderr
    nodes, edges, _ = _parse((tmp_path / "net.svg").read_text())
    assert len(nodes) == 13 and len(edges) == 12  # input + 12 layers in a chain
    r = run(app, ["graph", "resnet50", "--depth", "0", "-o", str(tmp_path / "net.dot")])
    assert r.exit_code == 0 and (tmp_path / "net.dot").read_text().startswith('digraph "resnet50"')
    bad = run(app, ["graph", "lenet5", "-o", str(tmp_path / "net.png")])
    assert bad.exit_code == 2 and "svg or dot" in bad.stderr and not (tmp_path / "net.png").exists()
    assert run(app, ["graph", "lenet5", "--engine", "grandalf"]).stdout.startswith("<?xml")


def test_report_draws_the_network(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert run(app, ["report", "googlenet", "--depth", "1", "-o", str(out)]).exit_code == 0
    html = out.read_text()
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="cnncalc-net"'):]
    svg = svg[:svg.index("</svg>") + 6]
    nodes, edges, _ = _parse(svg)
    g = build_graph(load_spec("googlenet"))
    view = analyse(g).view(1)
    assert set(nodes) == {"input", *(r.name for r in view.rows)} and len(edges) >= len(view.rows)


def test_drawings_over_the_box_limit_are_refused_at_once(tmp_path: Path) -> None:
    """A chain of 1,000 layers is 1,001 boxes with the input: one over MAX_DRAWN_BOXES. Laying it
    out would take a minute (a 50,000-layer spec ran into dot's 300 s timeout): `graph` says so
    with exit 2 and writes nothing, the report keeps its table and says why the picture is missing;
    folded (--depth 0 of a stage that repeats a block 1,000 times: the input and the stage) it draws."""
    import time

    from cnncalc.limits import MAX_DRAWN_BOXES
    assert MAX_DRAWN_BOXES == 1_000
    chain = tmp_path / "chain.yaml"
    chain.write_text("name: chain\ninput: [4]\nlayers:\n" + "".join(
        f"  - {{name: l{i}, type: relu}}\n" for i in range(1_000)))
    t = time.perf_counter()
    r = run(app, ["graph", str(chain), "-o", str(tmp_path / "net.svg")])
    assert r.exit_code == 2 and "1,001 boxes" in r.stderr and "--depth" in r.stderr
    assert not (tmp_path / "net.svg").exists() and time.perf_counter() - t < 30
    r = run(app, ["report", str(chain), "-o", str(tmp_path / "r.html")])
    html = (tmp_path / "r.html").read_text()
    assert r.exit_code == 0 and "1,001 boxes" in html and 'id="layers"' in html and "l999" in html
    block = tmp_path / "block.yaml"
    block.write_text("name: folded\ninput: [4]\nblocks:\n  unit:\n    layers:\n      - {type: relu}\n"
                     "  stage:\n    layers:\n      - {name: u, type: unit, repeat: 1000}\n"
                     "layers:\n  - {name: s, type: stage}\n")
    r = run(app, ["graph", str(block), "--depth", "0", "-o", str(tmp_path / "folded.svg")])
    assert r.exit_code == 0, r.stderr
    nodes, edges, _ = _parse((tmp_path / "folded.svg").read_text())
    assert len(nodes) == 2 and len(edges) == 1


def test_report_without_a_layout_engine_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from cnncalc.report import to_html
    monkeypatch.setitem(sys.modules, "grandalf", None)  # `import grandalf…` raises ImportError
    monkeypatch.setitem(sys.modules, "grandalf.graphs", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # and no Graphviz
    loaded = load_spec("lenet5")
    g = build_graph(loaded)
    html = to_html(loaded, analyse(g), None, g)
    assert "needs grandalf (pip install grandalf) or Graphviz" in html and 'id="layers"' in html
    assert run(app, ["graph", "lenet5"]).exit_code == 2


def test_report_network_in_chromium_folds_blocks(tmp_path: Path) -> None:
    from test_report import CHROMIUM, read, render
    if CHROMIUM is None:
        pytest.skip("Chromium not installed (apt-get install chromium)")
    out = tmp_path / "r.html"
    assert run(app, ["report", "googlenet", "--depth", "1", "-o", str(out)]).exit_code == 0
    dom = render(out, tmp_path, "#fold=all")
    assert read(dom).root.get("data-js") == "ready"  # the script ran
    svg = dom[dom.rindex("<svg", 0, dom.index('class="cnncalc-net"')):]
    svg = svg[:svg.index("</svg>") + 6]
    root = ET.fromstring(svg if "xmlns=" in svg else svg.replace("<svg", f'<svg xmlns="{SVG[1:-1]}"', 1))
    blocks = [b for b in root.iter(f"{SVG}g") if "block" in (b.get("class") or "").split()]
    assert blocks and all("folded" in (b.get("class") or "").split() for b in blocks)
