"""``functional: true``: a layer PyTorch code calls as a function (F.relu(x)), not as an nn module.

Module hooks (ptflops, thop, torchinfo) do not see a function; ptflops patches some functions and
counts them for the whole batch. The oracle is the tools themselves: figures recorded below and,
where ptflops and thop are installed, run live on the models and on generated networks.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference_data import reference
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.codegen import torch_source
from cnncalc.conventions import reconcile
from cnncalc.errors import SpecError
from cnncalc.graph import build_graph
from cnncalc.importers import spec_text
from cnncalc.spec import load_spec, parse_spec

FIXTURES = Path(__file__).parent / "fixtures" / "conventions"
TORCHVISION = Path(__file__).parent / "fixtures" / "torchvision"

#: Measured on tests/functional_models.py (specs: fixtures/conventions/f_*.yaml, imported from
#: them) with torch 2.13.0+cpu, ptflops 0.7.5, thop 0.1.1.post2209072238, torchinfo 1.8.0, the
#: model in eval mode under torch.no_grad(), input torch.randn(N, 3, S, S) (S = 32; fdecoder 16):
#:   ptflops.get_model_complexity_info(model, (3, S, S), as_strings=False, print_per_layer_stat=False,
#:                                     input_constructor=lambda s: torch.randn(N, *s))[0]
#:   thop.profile(model, inputs=(x,), verbose=False)[0]
#:   torchinfo.summary(model, input_size=(N, 3, S, S), verbose=0).total_mult_adds
#:   with FlopCounterMode(display=False) as f: model(x); f.get_total_flops()
MEASURED: dict[tuple[str, int], dict[str, int]] = {
    ("fresnet", 1): {"ptflops": 1162058, "thop": 1157440, "torchinfo": 1127018, "torch": 2253440},
    ("fresnet", 2): {"ptflops": 1173834, "thop": 2314880, "torchinfo": 2254036, "torch": 4506880},
    ("fdense", 1): {"ptflops": 486209, "thop": 480252, "torchinfo": 456849, "torch": 913528},
    ("fdense", 2): {"ptflops": 503233, "thop": 960504, "torchinfo": 913698, "torch": 1827056},
    ("fdecoder", 1): {"ptflops": 48896, "thop": 43008, "torchinfo": 32896, "torch": 62464},
    ("fdecoder", 2): {"ptflops": 64128, "thop": 86016, "torchinfo": 65792, "torch": 124928},
}
SIZES = {"fresnet": 32, "fdense": 32, "fdecoder": 16}


def _total(graph: Any, tool: str, batch: int) -> int:
    return reconcile(tool, analyse(graph, batch), {n.name: n.layer for n in graph.nodes}).total


@pytest.mark.parametrize(("model", "batch", "tool"), [(m, b, t) for (m, b), f in MEASURED.items() for t in f])
def test_measured_figures(model: str, batch: int, tool: str) -> None:
    graph = build_graph(load_spec(str(FIXTURES / f"f_{model}.yaml")))
    assert _total(graph, tool, batch) == MEASURED[(model, batch)][tool]


def test_fixtures_mark_the_function_calls() -> None:
    # FResNet: the stem's nn.ReLU is a module, the blocks' F.relu are functions (2 per block)
    graph = build_graph(load_spec(str(FIXTURES / "f_fresnet.yaml")))
    marked = {n.name for n in graph.nodes if n.functional}
    assert marked == {"layer1.relu", "layer1.relu_1", "layer2.relu", "layer2.relu_1", "adaptive_avgpool"}
    # an operator (a + b, torch.flatten) is a function anyway: no marker
    assert not any(n.functional for n in graph.nodes if n.type in ("add", "flatten"))


def test_ptflops_counts_a_function_for_the_batch_a_module_per_sample() -> None:
    # a ReLU on 16×8×8 elements: as nn.ReLU ptflops counts its hook (1 × 1024, per sample) plus the
    # F.relu that nn.ReLU calls (N × 1024); as F.relu only the N × 1024. thop: 0 either way.
    for functional, per_n in ((False, {1: 2048, 3: 4096}), (True, {1: 1024, 3: 3072})):
        text = ("name: r\ninput: [16, 8, 8]\nlayers:\n  - {type: relu" +
                (", functional: true}" if functional else "}") + "\n")
        graph = build_graph(parse_spec(text, "r.yaml"))
        for n, want in per_n.items():
            assert _total(graph, "ptflops", n) == want
            assert _total(graph, "thop", n) == 0
            assert _total(graph, "fvcore", n) == 0


def test_breakdown_names_functions_apart() -> None:
    graph = build_graph(load_spec(str(FIXTURES / "f_fresnet.yaml")))
    rec = reconcile("ptflops", analyse(graph), {n.name: n.layer for n in graph.nodes})
    parts = {p.module: p for p in rec.parts}
    # the stem's nn.ReLU on 16×16×16: module hook + F.relu = 2 × 4096
    assert parts["ReLU"].calls == 1 and parts["ReLU"].count == 2 * 16 * 16 * 16
    # F.relu ×4: 16·8·8 twice, 32·4·4 twice, once each
    assert parts["ReLU (function)"].calls == 4 and parts["ReLU (function)"].count == 2 * 1024 + 2 * 512
    text = "\n".join(rec.summary())
    assert "ReLU (function) ×4: 3,072 vs 0 (+3,072)" in text  # the summary says what the functions add
    assert parts["AdaptiveAvgPool2d (function)"].count == 32 * 4 * 4


def test_a_call_once_per_forward() -> None:
    # Swin V2's bias MLP runs once per forward on its R × 2 table (R = 9, hidden 8): ptflops divides
    # what its module hooks saw by the batch, and adds its patched F.relu whole; thop counts it once
    from fractions import Fraction

    from cnncalc.conventions import PTFLOPS, THOP
    from cnncalc.layers.base import TorchCall
    relu = TorchCall("ReLU", ((9, 8),), (9, 8), once=True)
    fc = TorchCall("Linear", ((9, 2),), (9, 8), (8, 2), 8, once=True)
    for n in (1, 2, 3):
        assert PTFLOPS.count(relu, n) == Fraction(72, n) + 72  # hook 72 / N, F.relu 72
        assert PTFLOPS.count(fc, n) == Fraction((2 * 8 + 8) * 9, n)  # (in·out + out) per row, / N
        assert THOP.count(fc, n) == 2 * 72  # in_features × output elements, once
        assert THOP.count(relu, n) == 0


# ----------------------------------------------------------------------------- the spec key

def _bad(text: str) -> str:
    with pytest.raises(SpecError) as e:
        build_graph(parse_spec(text, "f.yaml"))
    return str(e.value)


def test_functional_must_be_a_boolean() -> None:
    msg = _bad("name: f\ninput: [3, 8, 8]\nlayers:\n  - {type: relu, functional: yes please}\n")
    assert "f.yaml:4:" in msg and "functional must be true or false, got 'yes please'" in msg


def test_functional_is_for_layers_not_block_instances() -> None:
    msg = _bad("name: f\ninput: [3, 8, 8]\nblocks:\n  b:\n    layers:\n      - {type: relu}\n"
               "layers:\n  - {type: b, functional: true}\n")
    assert "f.yaml:8:" in msg and "functional: applies to a layer" in msg


def test_cli_reports_a_bad_marker_with_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "f.yaml"
    p.write_text("name: f\ninput: [3, 8, 8]\nlayers:\n  - {type: relu, functional: 3}\n")
    r = CliRunner().invoke(app, ["table", str(p)])
    assert r.exit_code == 2 and "functional must be true or false" in r.output
    assert "Traceback" not in r.output


def test_marker_changes_no_cnncalc_figure() -> None:
    plain = build_graph(parse_spec("name: f\ninput: [3, 8, 8]\nlayers:\n  - {type: maxpool, kernel: 2}\n", "a"))
    marked = build_graph(parse_spec(
        "name: f\ninput: [3, 8, 8]\nlayers:\n  - {type: maxpool, kernel: 2, functional: true}\n", "b"))
    a, b = analyse(plain), analyse(marked)
    assert a.totals == b.totals
    assert [r.functional for r in b.rows] == [True] and [r.functional for r in a.rows] == [False]


def test_json_schema_knows_the_key() -> None:
    r = CliRunner().invoke(app, ["schema"])
    if r.exit_code != 0:
        pytest.skip("no schema command")
    assert '"functional"' in r.stdout


# ----------------------------------------------------------------------------- PyTorch code

def test_codegen_writes_the_function() -> None:
    graph = build_graph(load_spec(str(FIXTURES / "f_fdense.yaml")))
    text = torch_source(graph).text
    assert "import torch.nn.functional as F" in text
    assert "F.max_pool2d(x, 3, stride=2, padding=1)" in text
    assert "F.avg_pool2d(x, 2)" in text and "nn.AvgPool2d(2)" in text  # the module stays a module
    assert "F.relu(x)" in text and "F.adaptive_avg_pool2d(x, 1)" in text
    assert "nn.ReLU" not in text and "nn.MaxPool2d" not in text


def test_codegen_refuses_a_function_with_parameters() -> None:
    from cnncalc.errors import UsageError
    graph = build_graph(parse_spec("name: f\ninput: [3, 8, 8]\nlayers:\n"
                                   "  - {type: conv, filters: 4, kernel: 3, functional: true}\n", "f.yaml"))
    with pytest.raises(UsageError, match="no function form"):
        torch_source(graph)


def _module(text: str) -> Any:
    ns: dict[str, Any] = {"__name__": "generated"}
    exec(compile(text, "generated.py", "exec"), ns)  # the generated file, as a user would run it
    return ns


@pytest.mark.parametrize("model", sorted(SIZES))
def test_round_trip_keeps_the_marker(model: str) -> None:
    pytest.importorskip("torch")
    from cnncalc.importers.torch import torch_to_spec
    graph = build_graph(load_spec(str(FIXTURES / f"f_{model}.yaml")))
    gen = torch_source(graph)
    net = _module(gen.text)[gen.class_name]()
    back = build_graph(parse_spec(spec_text(torch_to_spec(net, graph.input), "generated"), "back.yaml"))
    assert sorted(n.type for n in back.nodes if n.functional) == sorted(n.type for n in graph.nodes if n.functional)
    for tool in MEASURED[(model, 1)]:
        assert _total(back, tool, 2) == MEASURED[(model, 2)][tool]


# ----------------------------------------------------------------------------- the tools, live

def _tools() -> tuple[Any, Any, Any]:
    torch = pytest.importorskip("torch")
    return torch, pytest.importorskip("ptflops"), pytest.importorskip("thop")


def _measure(make: Any, shape: tuple[int, ...], n: int) -> dict[str, int]:
    torch, ptflops, thop = _tools()
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        p = ptflops.get_model_complexity_info(make().eval(), shape, as_strings=False, print_per_layer_stat=False,
                                              input_constructor=lambda s: torch.randn(n, *s))[0]
        t = thop.profile(make().eval(), inputs=(torch.randn(n, *shape),), verbose=False)[0]
    return {"ptflops": int(p), "thop": int(t)}


@pytest.mark.parametrize("model", sorted(SIZES))
def test_live_tools_match_the_import(model: str) -> None:
    _tools()
    import functional_models

    from cnncalc.importers.torch import torch_to_spec
    make = getattr(functional_models, model)
    shape = (3, SIZES[model], SIZES[model])
    graph = build_graph(parse_spec(spec_text(torch_to_spec(make(), shape), model), f"{model}.yaml"))
    for n in (1, 2):
        live = _measure(make, shape, n)
        assert live == {t: MEASURED[(model, n)][t] for t in live}  # the pins are still what the tools print
        assert {t: _total(graph, t, n) for t in live} == live


_KINDS = [  # parameter-free kinds PyTorch code writes either as a module or as its function
    "relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "leaky_relu", "softmax",
    "maxpool, kernel: 2", "maxpool, kernel: 3, stride: 1, pad: 1", "avgpool, kernel: 2",
    "adaptive_avgpool, output: 2", "adaptive_maxpool, output: 1", "upsample, scale: 2",
    "upsample, scale: 2, mode: bilinear", "upsample, size: [6, 6]",
]


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(_KINDS), st.booleans()), min_size=1, max_size=5), st.sampled_from([1, 2]))
@example([("adaptive_avgpool, output: 2", True), ("upsample, scale: 2", True)], 2)
@example([("relu", False), ("relu", True), ("softmax", True)], 1)
def test_generated_networks_match_the_tools(layers: list[tuple[str, bool]], n: int) -> None:
    # conv → the generated chain (each layer a module or its function) → conv: the spec's figure
    # for ptflops and thop equals what the tools print for `cnncalc torch`'s code of the same spec
    _tools()
    lines = ["  - {type: conv, filters: 4, kernel: 3, pad: 1}"]
    for kind, functional in layers:
        lines.append(f"  - {{type: {kind}{', functional: true' if functional else ''}}}")
    lines.append("  - {type: conv, filters: 2, kernel: 1}")
    text = "name: gen\ninput: [3, 8, 8]\nlayers:\n" + "\n".join(lines) + "\n"
    try:
        graph = build_graph(parse_spec(text, "gen.yaml"))
        analyse(graph)
    except SpecError:
        return  # a window larger than its input after some pooling: not a network
    gen = torch_source(graph)
    cls = _module(gen.text)[gen.class_name]
    assert _measure(cls, (3, 8, 8), n) == {t: _total(graph, t, n) for t in ("ptflops", "thop")}


# ----------------------------------------------------------------------------- torchvision

TV: dict[str, Any] = reference("torchvision_conventions")["models"] if \
    (Path(__file__).parent / "reference" / "torchvision_conventions.json").is_file() else {}
#: Models whose recorded figures cnncalc does not reproduce yet, and why (the test expects the failure).
KNOWN: dict[str, str] = {}


@pytest.mark.parametrize(("name", "tool"), [(m, t) for m in sorted(TV) for t in ("ptflops", "thop")])
def test_torchvision_figures(name: str, tool: str) -> None:
    # the spec imported from torchvision (tests/fixtures/torchvision/NAME.yaml, written by
    # tests/tools/torchvision_conventions.py --record) against the tool's own figure for the model
    if f"{name}:{tool}" in KNOWN:
        pytest.xfail(KNOWN[f"{name}:{tool}"])
    graph = build_graph(load_spec(str(TORCHVISION / f"{name}.yaml")))
    assert _total(graph, tool, 1) == TV[name][tool]


@pytest.mark.parametrize("name", sorted(TV))
def test_torchvision_flop_counter(name: str) -> None:
    # FlopCounterMode's total as recorded in tests/reference/torchvision_import.json (attention's
    # QKᵀ and AV among it: nn.MultiheadAttention, MaxViT's einsum, Swin's matmul)
    graph = build_graph(load_spec(str(TORCHVISION / f"{name}.yaml")))
    assert _total(graph, "torch", 1) == reference("torchvision_import")["models"][name]["torch_flop_counter"]


@pytest.mark.parametrize("name", ["densenet121", "lraspp_mobilenet_v3_large"])
def test_torchvision_live(name: str) -> None:
    # where torchvision, ptflops and thop are installed: today's import against today's tools
    pytest.importorskip("torchvision")
    _tools()
    import importlib.util
    spec = importlib.util.spec_from_file_location("tvc", Path(__file__).parent / "tools" / "torchvision_conventions.py")
    assert spec is not None and spec.loader is not None
    tvc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tvc)
    graph = build_graph(parse_spec(tvc.spec_text(name), f"{name}.yaml"))
    assert tvc.tool_figures(name) == {t: _total(graph, t, 1) for t in ("ptflops", "thop")}


def test_torchvision_reference_is_complete() -> None:
    if not TV:
        pytest.skip("no torchvision figures recorded")
    data = json.loads((Path(__file__).parent / "reference" / "torchvision_conventions.json").read_text())
    assert "ptflops" in data["source"] and "thop" in data["source"]
    for name in TV:
        assert (TORCHVISION / f"{name}.yaml").is_file(), name
