"""Receptive fields and jumps: hand-derived figures, relations, and autograd as the oracle.

The definition is Araujo et al.'s (Distill 2019) along spatial paths: r' = r + D·(K − 1)·j,
j' = j·S through a window; a global reduction (global pooling, flatten, an SE gate) keeps the field
and marks the output ``global_context``. The oracle builds each generated network in PyTorch with
code written here (it shares nothing with cnncalc), fills every weight with a positive constant,
and measures the extent of the input gradient of output pixels near the centre.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.graph import build_graph
from cnncalc.layers.conv import Deconv
from cnncalc.spec import load_spec, parse_spec

SPECS = ["efficientnet_b0", "mobilenet_v3_large", "regnet_y_400mf"]


def _rows(spec: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(spec, str):
        graph = build_graph(load_spec(spec))
    else:
        text = yaml.safe_dump(spec, sort_keys=False)
        graph = build_graph(parse_spec(text, "gen.yaml"))
    return {r.name: r for r in analyse(graph).rows}


def test_resnet50_layer4_field_is_427_and_the_pooling_adds_nothing() -> None:
    # conv1 7/2: 7, j2 · maxpool 3/2: 7+2·2 = 11, j4 · layer1 3×(3×3): 11+3·8 = 35
    # layer2 (stride on the 3×3): 35+8 = 43, j8, then +3·16 = 91 · layer3: 91+16 = 107, j16, +5·32 = 267
    # layer4: 267+32 = 299, j32, +2·64 = 427; avgpool and fc keep 427 and see the whole input
    rows = list(_rows("resnet50").values())
    last_conv = [r for r in rows if len(r.output) == 3 and r.family is not None][-2]
    assert last_conv.rf == (427, 427) and last_conv.jump == (32, 32)
    assert rows[-1].rf == (427, 427) and rows[-1].global_context
    assert not last_conv.global_context


def test_alexnet_fc_rows_keep_pool5s_195() -> None:
    # conv1 11/4: 11, j4 · pool1 3/2: 19, j8 · conv2 5: 51 · pool2 3/2: 67, j16
    # conv3-5 3×3: 99, 131, 163 · pool5 3/2: 195, j32; flatten and the fcs keep 195
    rows = _rows("alexnet_cs231n")
    assert rows["pool5"].rf == (195, 195) and not rows["pool5"].global_context
    assert all(rows[n].rf == (195, 195) and rows[n].global_context for n in ("fc6", "fc7", "fc8"))


@pytest.mark.parametrize("spec", SPECS)
def test_squeeze_excitation_nets_stay_bounded(spec: str) -> None:
    rows = _rows(spec).values()
    side = 224
    assert max(max(r.rf) for r in rows) < 4 * side
    assert max(max(r.jump) for r in rows) <= 32


def test_an_se_gate_keeps_the_maps_field() -> None:
    # conv 3×3 on 16×16: r = 3; the gate (global pool → 1×1 convs → sigmoid) multiplied back onto
    # the map must leave 3, now with global context
    spec = {"name": "se", "input": [4, 16, 16], "layers": [
        {"name": "c", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
        {"name": "gap", "type": "global_avgpool"},
        {"name": "fc1", "type": "conv", "filters": 2, "kernel": 1},
        {"name": "fc2", "type": "conv", "filters": 8, "kernel": 1},
        {"name": "gate", "type": "sigmoid"},
        {"name": "m", "type": "multiply", "inputs": ["c", "gate"]},
        {"name": "after", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
    ]}
    rows = _rows(spec)
    assert rows["m"].rf == (3, 3) and rows["m"].jump == (1, 1) and rows["m"].global_context
    assert rows["after"].rf == (5, 5) and rows["after"].global_context
    assert not rows["c"].global_context


@pytest.mark.parametrize(("k", "s", "d", "taps"), [
    (4, 2, 1, 2),  # phases read taps {0,2} and {1,3}: 2 inputs each
    (3, 2, 1, 2),  # {0,2} → inputs i and i−1; {1} → one input
    (2, 2, 1, 1),  # every output pixel reads one input
    (1, 2, 1, 1),
    (3, 1, 1, 3),  # stride 1: a plain window
    (3, 1, 2, 5),  # stride 1, dilation 2: (3 − 1)·2 + 1
    (5, 2, 1, 3),  # {0,2,4}: 3 inputs
    (3, 2, 2, 3),  # taps 0, 2, 4 (positions 0, 2, 4 with D = 2) all in phase 0: inputs i, i−1, i−2
])
def test_transposed_conv_taps(k: int, s: int, d: int, taps: int) -> None:
    assert Deconv.taps(k, s, d) == taps


UNET = {"name": "unet_tiny", "input": [3, 32, 32], "layers": [
    {"name": "e1", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
    {"name": "p1", "type": "maxpool", "kernel": 2, "stride": 2},
    {"name": "e2", "type": "conv", "filters": 16, "kernel": 3, "pad": 1},
    {"name": "up", "type": "deconv", "filters": 8, "kernel": 2, "stride": 2},
    {"name": "cat", "type": "concat", "inputs": ["up", "e1"]},
    {"name": "d1", "type": "conv", "filters": 8, "kernel": 3, "pad": 1},
    {"name": "head", "type": "conv", "filters": 2, "kernel": 1},
]}


def test_unet_with_a_transposed_conv_through_every_exporter(tmp_path: Any) -> None:
    # e1 3 · p1 2/2: 4, j2 · e2: 4+2·2 = 8 · up (K 2, S 2: one tap): 8, j1 · cat: max(8, 3) = 8
    # d1: 8+2 = 10 · head: 10
    path = tmp_path / "unet.yaml"
    path.write_text(yaml.safe_dump(UNET, sort_keys=False))
    runner = CliRunner()
    r = runner.invoke(app, ["table", str(path), "-f", "json"])
    assert r.exit_code == 0, r.output
    layers = {x["name"]: x for x in json.loads(r.stdout)["layers"]}
    assert layers["d1"]["receptive_field"] == [10, 10] and layers["up"]["jump"] == [1, 1]
    assert layers["head"]["global_context"] is False
    for args in (["table", str(path), "-c", "receptive_field,jump"], ["compare", str(path), "alexnet_cs231n"],
                 ["report", str(path), "-o", str(tmp_path / "r.html")], ["explain", str(path), "up"],
                 ["table", str(path), "--convention", "torchinfo", "-f", "json"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
    explained = runner.invoke(app, ["explain", str(path), "up"]).output
    assert "8 + (1 − 1)·2" in explained and "jump 2/2 = 1" in explained


# ----------------------------------------------------------------------------- the autograd oracle

@st.composite
def spatial_nets(draw: st.DrawFn) -> dict[str, Any]:
    """Chains of windows (with optional same-aligned residual branches) whose jump stays whole."""
    layers: list[dict[str, Any]] = []
    jump = 1
    side = draw(st.sampled_from([48, 64]))
    size = side
    c = 2
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "conv", "avgpool", "deconv", "upsample", "branch"]))
        name = f"l{i}"
        if kind == "conv":
            k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
            if size + 2 * (k // 2) - d * (k - 1) - 1 < 0 or size // s < 4:
                continue
            layers.append({"name": name, "type": "conv", "filters": c, "kernel": k, "stride": s,
                           "dilation": d, "pad": k // 2})
            size = (size + 2 * (k // 2) - d * (k - 1) - 1) // s + 1
            jump *= s
        elif kind == "avgpool":
            k, s = draw(st.integers(2, 3)), draw(st.integers(1, 2))
            if size // s < 4:
                continue
            layers.append({"name": name, "type": "avgpool", "kernel": k, "stride": s})
            size = (size - k) // s + 1
            jump *= s
        elif kind in ("deconv", "upsample"):
            s = 2
            if jump % s:  # keep whole jumps: no upsampling past the input's resolution
                continue
            if kind == "deconv":
                k = draw(st.integers(1, 5))
                layers.append({"name": name, "type": "deconv", "filters": c, "kernel": k, "stride": s})
                size = (size - 1) * s + k
            else:
                mode = draw(st.sampled_from(["nearest", "bilinear"]))
                layers.append({"name": name, "type": "upsample", "scale": s, "mode": mode})
                size *= s
            jump //= s
        else:  # a residual branch aligned on the same centre: odd kernel, same padding, stride 1
            k = draw(st.sampled_from([1, 3, 5]))
            prev = layers[-1]["name"] if layers else "input"
            layers.append({"name": name, "type": "conv", "filters": c, "kernel": k, "pad": k // 2})
            layers.append({"name": f"{name}_add", "type": "add", "inputs": [name, prev]})
    if not layers:
        layers.append({"name": "l0", "type": "conv", "filters": c, "kernel": 3, "pad": 1})
    return {"name": "gen", "input": [c, side, side], "layers": layers}


def _torch_net(spec: dict[str, Any]) -> Any:
    """The spec as a PyTorch function, written from the layer dicts (no cnncalc code)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def const(m: Any) -> Any:
        for p in m.parameters():
            torch.nn.init.constant_(p, 0.1)
        return m

    mods: dict[str, Any] = {}
    for ly in spec["layers"]:
        t = ly["type"]
        if t == "conv":
            mods[ly["name"]] = const(nn.Conv2d(2, ly["filters"], ly["kernel"], ly.get("stride", 1),
                                               ly.get("pad", 0), ly.get("dilation", 1)))
        elif t == "deconv":
            mods[ly["name"]] = const(nn.ConvTranspose2d(2, ly["filters"], ly["kernel"], ly["stride"]))
        elif t == "avgpool":
            mods[ly["name"]] = nn.AvgPool2d(ly["kernel"], ly["stride"])
        elif t == "upsample":
            mods[ly["name"]] = nn.Upsample(scale_factor=ly["scale"], mode=ly["mode"])

    def forward(x: Any) -> Any:
        out = {"input": x}
        prev = "input"
        for ly in spec["layers"]:
            if ly["type"] == "add":
                y = sum(out[n] for n in ly["inputs"])
            else:
                y = mods[ly["name"]](out[ly["inputs"][0]] if "inputs" in ly else out[prev])
            out[ly["name"]] = y
            prev = ly["name"]
        return out[prev]

    return forward


def _extent(grad: Any) -> tuple[int, int]:
    nz = grad.abs().sum(0).nonzero()
    return (int(nz[:, 0].max() - nz[:, 0].min() + 1), int(nz[:, 1].max() - nz[:, 1].min() + 1))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(spatial_nets())
def test_receptive_field_equals_the_support_of_the_input_gradient(spec: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    forward = _torch_net(spec)
    last = list(_rows(spec).values())[-1]
    side = spec["input"][1]
    x = torch.ones(1, 2, side, side, requires_grad=True)
    y = forward(x)
    oh, ow = y.shape[2], y.shape[3]
    # every output phase near the centre (upsampling makes neighbours read different input spans);
    # only pixels whose support lies inside the input, so nothing is clipped
    widest = (0, 0)
    for dy in range(-2, 2):
        for dx in range(-2, 2):
            (g,) = torch.autograd.grad(y[0, :, oh // 2 + dy, ow // 2 + dx].sum(), x, retain_graph=True)
            nz = g[0].abs().sum(0).nonzero()
            if nz[:, 0].min() == 0 or nz[:, 1].min() == 0 or nz[:, 0].max() == side - 1 or nz[:, 1].max() == side - 1:
                continue
            e = _extent(g[0])
            widest = (max(widest[0], e[0]), max(widest[1], e[1]))
    if widest == (0, 0):  # every centre pixel sees the border: the field covers the input
        assert min(last.rf) >= side // 2, spec
        return
    assert (last.rf[0], last.rf[1]) == widest, spec
