"""ONNX import: PyTorch models exported to ONNX become specs whose params and MACs equal PyTorch's own."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnncalc.analysis import Analysis, analyse
from cnncalc.cli import app
from cnncalc.errors import UsageError
from cnncalc.graph import build_graph
from cnncalc.spec import load_spec, parse_spec

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from cnncalc.importers import onnx_spec_text, spec_text  # noqa: E402
from cnncalc.importers.onnx import onnx_to_spec  # noqa: E402

runner = CliRunner()


def _analyse(text: str) -> Analysis:
    return analyse(build_graph(parse_spec(text, "imported.yaml")))


# ----------------------------------------------------------------------------- PyTorch → ONNX → spec

@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, int]]:
    """Every test model exported to ONNX once: name → (path, PyTorch's params, FlopCounterMode / 2)."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from torch_models import MODELS
    out: dict[str, tuple[Path, int, int]] = {}
    folder = tmp_path_factory.mktemp("onnx")
    for name, (factory, shape) in MODELS.items():
        torch.manual_seed(0)
        model = factory().eval()
        x = torch.randn(1, *shape)
        path = folder / f"{name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            # without constant folding, BatchNorm stays a node instead of merging into the conv
            torch.onnx.export(model, (x,), str(path), dynamo=False, do_constant_folding=False)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        out[name] = (path, sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2)
    return out


MODEL_NAMES = ["plain", "branchy", "decoder", "acts", "lrn", "shuffle", "resnet_tiny"]


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "flat"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_params_and_macs_equal_pytorch(exported: dict[str, tuple[Path, int, int]], name: str, fold: bool) -> None:
    path, params, macs = exported[name]
    a = _analyse(onnx_spec_text(path, fold=fold))
    assert a.totals.params == params
    assert a.totals.macs == macs


def test_names_come_from_the_graph(exported: dict[str, tuple[Path, int, int]]) -> None:
    a = _analyse(onnx_spec_text(exported["plain"][0]))
    assert [r.name for r in a.rows] == ["conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "act2", "pool2", "dw",
                                        "act3", "pw", "gap", "flatten", "fc", "softmax"]
    assert [r.type for r in a.rows][:11] == ["conv", "batchnorm", "relu", "maxpool", "conv", "batchnorm",
                                             "leaky_relu", "avgpool", "conv", "relu6", "conv"]
    conv2 = next(r for r in a.rows if r.name == "conv2")
    assert conv2.weights == 32 * (16 // 4) * 3 * 3  # grouped, dilated: C_out·C_in/G·K²
    assert conv2.output == (32, 16, 16)


def test_branches_fold_into_blocks(exported: dict[str, tuple[Path, int, int]]) -> None:
    text = onnx_spec_text(exported["branchy"][0])
    spec = parse_spec(text, "b.yaml").spec
    assert set(spec.blocks) == {"inception", "block"}  # ONNX keeps no class names: blocks.0, blocks.1 → block
    assert spec.blocks["inception"].args == {"c": None, "c2": None, "c3": None}
    entries = {e["name"]: e for e in spec.layers}
    assert entries["inception_a"] == {"name": "inception_a", "type": "inception", "c": 8, "c2": 12, "c3": 4}
    # the two identical residual SE blocks, one instance each under the graph's names
    assert entries["blocks.0"]["type"] == entries["blocks.1"]["type"] == "block"
    names = [r.name for r in _analyse(text).rows]
    # block layers keep the graph's names; concat, residual add and SE multiply are there
    assert {"inception_b.branch3.2", "inception_b.concat", "blocks.1.se.mul", "blocks.1.add"} <= set(names)


def test_repeats_and_shuffle(exported: dict[str, tuple[Path, int, int]]) -> None:
    acts = parse_spec(onnx_spec_text(exported["acts"][0]), "a.yaml").spec
    # fc1, fc2, fc3 are alike, but a repeat would rename them fc_1 … fc_3: they stay apart
    assert [e for e in acts.layers if e.get("units") == 32] == [
        {"name": f"fc{k}", "type": "fc", "units": 32} for k in (1, 2, 3)]
    kinds = [e["type"] for e in acts.layers]
    assert {"gelu", "silu", "hardswish", "hardsigmoid"} <= set(kinds)  # x·σ(x) became silu
    shuffle = parse_spec(onnx_spec_text(exported["shuffle"][0]), "s.yaml").spec
    (block,) = shuffle.blocks.values()
    assert [e["type"] for e in block.layers][:2] == ["slice", "slice"]
    assert block.layers[-1] == {"name": "channel_shuffle", "type": "channel_shuffle", "groups": 2}


def test_resnet_bottlenecks(exported: dict[str, tuple[Path, int, int]]) -> None:
    spec = parse_spec(onnx_spec_text(exported["resnet_tiny"][0]), "r.yaml").spec
    (block,) = spec.blocks.values()
    assert block.args == {"c": None, "s": None}
    conv3 = next(e for e in block.layers if e["name"] == "0.conv3")
    assert conv3["filters"] == "4*c"
    assert [(e["name"], e.get("c"), e.get("s")) for e in spec.layers if e.get("type") == "layer"] == \
        [("layer1", 8, 1), ("layer2", 16, 2), ("layer3", 32, 2), ("layer4", 64, 2)]


def test_lrn_decomposition_is_one_layer(exported: dict[str, tuple[Path, int, int]]) -> None:
    spec = parse_spec(onnx_spec_text(exported["lrn"][0]), "l.yaml").spec
    norms = [e for e in spec.layers if e["type"] == "lrn"]
    assert norms == [{"name": "norm1", "type": "lrn", "size": 5, "alpha": 0.0001, "beta": 0.75, "k": 2.0},
                     {"name": "norm2", "type": "lrn", "size": 3, "alpha": 0.0001, "beta": 0.75, "k": 1.0}]


def test_unsupported_ops_are_named(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch import nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Softplus(), nn.Conv2d(4, 4, 3), nn.ELU()).eval()
    path = tmp_path / "prelu.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False, do_constant_folding=False)
    with pytest.raises(UsageError) as e:
        onnx_spec_text(path)
    msg = str(e.value)
    assert "Softplus (/1/Softplus)" in msg and "no cnncalc layer kind" in msg  # (PRelu is the prelu kind now)


# ----------------------------------------------------------------------------- graphs written by hand

def _model(nodes: list[Any], inits: list[Any], out_shape: list[int], in_shape: list[Any] | None = None) -> Any:
    graph = helper.make_graph(
        nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape or [1, 4, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _init(name: str, dims: list[int], data_type: int = TensorProto.FLOAT, vals: list[Any] | None = None) -> Any:
    n = 1
    for d in dims:
        n *= d
    return helper.make_tensor(name, data_type, dims, vals if vals is not None else [0] * n)


def test_hand_written_graph() -> None:
    """SAME padding, a channel Split, a Pad folded into the pool, GAP, MatMul + Add — checked by hand."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/stem/Conv", auto_pad="SAME_UPPER", strides=[2, 2],
                         kernel_shape=[3, 3]),
        helper.make_node("Split", ["c", "sizes"], ["s0", "s1"], name="/split/Split", axis=1),
        helper.make_node("Concat", ["s1", "s0"], ["cat"], name="/Concat", axis=1),
        helper.make_node("Pad", ["cat", "pads"], ["padded"], name="/pool/Pad"),
        helper.make_node("MaxPool", ["padded"], ["p"], name="/pool/MaxPool", kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], name="/Flatten", axis=1),
        helper.make_node("MatMul", ["f", "wfc"], ["m"], name="/fc/MatMul"),
        helper.make_node("Add", ["m", "bfc"], ["y"], name="/fc/Add"),
    ]
    inits = [_init("w", [8, 4, 3, 3]), _init("sizes", [2], TensorProto.INT64, [3, 5]),
             _init("pads", [8], TensorProto.INT64, [0, 0, 1, 1, 0, 0, 1, 1]), _init("wfc", [8, 6]), _init("bfc", [6])]
    spec = onnx_to_spec(_model(nodes, inits, [1, 6]), "hand", fold=False)
    assert [(e["name"], e["type"]) for e in spec["layers"]] == [
        ("stem", "conv"), ("split", "slice"), ("split_2", "slice"), ("concat", "concat"), ("pool", "maxpool"),
        ("gap", "adaptive_avgpool"), ("flatten", "flatten"), ("fc", "fc")]
    layers = {e["name"]: e for e in spec["layers"]}
    # SAME_UPPER, 9 → ⌈9/2⌉ = 5: total padding (5 − 1)·2 + 3 − 9 = 2, one each side
    assert layers["stem"] == {"name": "stem", "type": "conv", "filters": 8, "kernel": 3, "stride": 2, "pad": 1,
                              "bias": False}
    assert layers["split"]["end"] == 3 and layers["split_2"] == {"name": "split_2", "type": "slice", "start": 3,
                                                                 "end": 8, "inputs": ["stem"]}
    assert layers["pool"]["pad"] == 1  # the Pad node's 1 pixel each side
    assert layers["fc"]["units"] == 6 and "bias" not in layers["fc"]  # MatMul + Add: bias kept
    a = _analyse(spec_text(spec, "hand"))
    assert [r.output for r in a.rows][3:5] == [(8, 5, 5), (8, 3, 3)]  # (5 + 2 − 3)/2 + 1 = 3
    assert a.totals.params == 8 * 4 * 3 * 3 + 8 * 6 + 6 == 342
    assert a.totals.macs == 8 * 5 * 5 * (4 * 3 * 3) + 8 * 6 == 7248


def test_unknown_op_and_bad_inputs() -> None:
    nodes = [helper.make_node("Erf", ["x"], ["e"], name="/gelu/Erf"),
             helper.make_node("Relu", ["e"], ["y"], name="/act/Relu")]
    with pytest.raises(UsageError, match=r"Erf \(/gelu/Erf\): no cnncalc layer kind"):
        onnx_to_spec(_model(nodes, [], [1, 4, 9, 9]))
    with pytest.raises(UsageError, match="symbolic size 'H'"):
        onnx_to_spec(_model([helper.make_node("Relu", ["x"], ["y"])], [], [1, 4, 9, 9], [1, 4, "H", 9]))
    with pytest.raises(UsageError, match="rank 3"):
        onnx_to_spec(_model([helper.make_node("Relu", ["x"], ["y"])], [], [1, 4, 9], [1, 4, 9]))


def test_symbolic_batch_is_taken_as_one() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="/conv/Conv", kernel_shape=[3, 3])]
    spec = onnx_to_spec(_model(nodes, [_init("w", [2, 4, 3, 3]), _init("b", [2])], ["N", 2, 7, 7],
                               ["N", 4, 9, 9]))
    assert spec["input"] == [4, 9, 9]
    assert spec["layers"] == [{"name": "conv", "type": "conv", "filters": 2, "kernel": 3}]


# ----------------------------------------------------------------------------- CLI

def test_cli_table_reads_onnx(exported: dict[str, tuple[Path, int, int]]) -> None:
    path, params, _ = exported["branchy"]
    r = runner.invoke(app, ["table", str(path), "-f", "json"])
    assert r.exit_code == 0, r.output
    assert f'"params": {params}' in r.stdout
    assert load_spec(str(path)).spec.name == "branchy"


def test_cli_import_writes_a_spec(exported: dict[str, tuple[Path, int, int]], tmp_path: Path) -> None:
    path, params, macs = exported["resnet_tiny"]
    out = tmp_path / "spec.yaml"
    r = runner.invoke(app, ["import", str(path), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("# Imported by cnncalc from resnet_tiny.onnx")
    a = analyse(build_graph(load_spec(str(out))))
    assert (a.totals.params, a.totals.macs) == (params, macs)
    r = runner.invoke(app, ["import", str(path), "--flat", "--name", "tiny"])
    assert r.exit_code == 0 and "blocks:" not in r.stdout and "name: tiny" in r.stdout


@pytest.mark.parametrize("args", [["import"], ["import", "nope.onnx"], ["import", "x.onnx", "--torch", "a:b"]])
def test_cli_import_usage_errors(args: list[str]) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "Traceback" not in r.output


def test_cli_import_garbage_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a protobuf\xff" * 10)
    r = runner.invoke(app, ["import", str(bad)])
    assert r.exit_code == 2
    assert "cannot read" in r.output or "inputs" in r.output


@pytest.fixture(scope="module")
def dynamo_exported(exported: dict[str, tuple[Path, int, int]], tmp_path_factory: pytest.TempPathFactory
                    ) -> dict[str, Path]:
    """Every test model through torch.onnx.export(dynamo=True, optimize=False): name → path."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from torch_models import MODELS
    folder = tmp_path_factory.mktemp("dynamo")
    out: dict[str, Path] = {}
    for name, (factory, shape) in MODELS.items():
        torch.manual_seed(0)
        path = folder / f"{name}.onnx"
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(factory().eval(), (torch.randn(1, *shape),), str(path), dynamo=True, optimize=False)
        out[name] = path
    return out


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_dynamo_exports_without_optimisation(name: str, exported: dict[str, tuple[Path, int, int]],
                                             dynamo_exported: dict[str, Path]) -> None:
    """torch.onnx.export(dynamo=True, optimize=False): a zero bias Expand(CastLike(0), Shape(W)) for
    a conv without bias, CastLike/Expand/Shape around constants, x.chunk as SplitToSequence and
    SequenceAt, LocalResponseNorm decomposed over a 5-D view; the counts are PyTorch's (params,
    buffers, FlopCounterMode / 2) and the layers are the legacy exporter's, named from the
    exporter's ``namespace`` metadata (module paths, not node_conv2d_3)."""
    from torch_models import MODELS
    path, params, macs = exported[name]
    model = MODELS[name][0]()
    buffers = sum(b.numel() for b in model.buffers())
    a = _analyse(onnx_spec_text(dynamo_exported[name]))
    assert (a.totals.params, a.totals.buffers, a.totals.macs) == (params, buffers, macs)
    legacy = _analyse(onnx_spec_text(path))
    rows = [(r.type, r.output, r.params, r.buffers, r.macs) for r in a.rows]
    want = [(r.type, r.output, r.params, r.buffers, r.macs) for r in legacy.rows]
    if name == "shuffle":  # x.chunk's halves come out where they are used, later than the legacy Split
        assert sorted(rows) == sorted(want)
        return
    assert rows == want
    assert [r.name for r in a.rows] == [r.name for r in legacy.rows]
    assert not any(r.name.startswith("node_") for r in a.rows)


def test_dynamo_optimiser_folds_batchnorm(tmp_path: Path) -> None:
    """With its optimiser (the default) the dynamo exporter folds BatchNorm into the conv: the
    graph has a conv bias instead of γ, β and the statistics, and the import says what the graph has."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from torch_models import MODELS
    factory, shape = MODELS["plain"]
    path = tmp_path / "plain.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(factory().eval(), (torch.randn(1, *shape),), str(path), dynamo=True)
    a = _analyse(onnx_spec_text(path))
    assert "batchnorm" not in {r.type for r in a.rows}
    assert a.totals.buffers == 0


def test_dynamo_module_called_twice_is_counted_once(tmp_path: Path) -> None:
    """A conv called twice reads the same initializers in the dynamo graph (its zero bias is
    computed anew for each call): one owner, the second call `weights:` it; params counted once.
    c: 4·4·9 + 4 = 148, d: 4·4 = 16 → 164 params; MACs per call 4·4·9·64 = 9,216 and 4·4·64 = 1,024."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from torch import nn

    class ReuseConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(4, 4, 3, padding=1)
            self.d = nn.Conv2d(4, 4, 1, bias=False)

        def forward(self, x: Any) -> Any:
            return self.d(self.d(self.c(self.c(x))))

    path = tmp_path / "reuse.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(ReuseConv().eval(), (torch.randn(1, 4, 8, 8),), str(path), dynamo=True, optimize=False)
    text = onnx_spec_text(path)
    assert "weights: c}" in text and "weights: d}" in text
    a = _analyse(text)
    assert [r.name for r in a.rows] == ["c", "c_1", "d", "d_1"]
    assert (a.totals.params, a.totals.macs) == (164, 2 * 9216 + 2 * 1024)


def _convnext_like() -> Any:
    from torch import nn

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x: Any) -> Any:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class Block(nn.Module):  # torchvision's CNBlock: dwconv, channels-last LN and MLP, layer scale
        def __init__(self, c: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
            self.norm = nn.LayerNorm(c, eps=1e-6)
            self.fc1 = nn.Linear(c, 4 * c)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(4 * c, c)
            self.gamma = nn.Parameter(torch_ones(c))

        def forward(self, x: Any) -> Any:
            y = self.dw(x).permute(0, 2, 3, 1)
            y = self.fc2(self.act(self.fc1(self.norm(y)))).permute(0, 3, 1, 2)
            return x + self.gamma.view(-1, 1, 1) * y

    def torch_ones(c: int) -> Any:
        import torch
        return torch.ones(c)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 4, stride=4)
            self.norm = LayerNorm2d(8, eps=1e-6)
            self.block = Block(8)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(8, 5)

        def forward(self, x: Any) -> Any:
            return self.head(self.pool(self.block(self.norm(self.stem(x)))).flatten(1))

    return Net().eval()


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
def test_channels_last_blocks_import(dynamo: bool, tmp_path: Path) -> None:
    """A ConvNeXt-like net through ONNX: Transpose → LayerNormalization → Transpose is one layernorm
    over channels, other Transposes are permutes, MatMul(+Add) on a channels-last map is fc over the
    last axis; params, buffers and FlopCounterMode / 2 are PyTorch's (both exporters)."""
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    from torch.utils.flop_counter import FlopCounterMode
    model = _convnext_like()
    x = torch.randn(1, 3, 32, 32)
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(model, (x,), str(path), dynamo=True, optimize=False)
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, do_constant_folding=False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    text = onnx_spec_text(path)
    a = _analyse(text)
    params = sum(p.numel() for p in model.parameters())
    assert (a.totals.params, a.totals.buffers, a.totals.macs) == (params, 0, counter.get_total_flops() // 2)
    kinds = [r.type for r in a.rows]
    assert kinds[:2] == ["conv", "layernorm"] and kinds.count("permute") == 2
    assert [r.name for r in a.rows if r.type == "fc"][:2] == ["block.fc1", "block.fc2"]
