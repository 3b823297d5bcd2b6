"""Kinds PyTorch code writes as small modules or expressions (log_softmax, prelu, pad, max_unpool,
param_matmul/param_add/param_mul, constant_scale, subtract, abs), by hand and against PyTorch."""

from __future__ import annotations

from typing import Any

import pytest

from cnncalc.errors import LayerShapeError
from cnncalc.layers import LAYER_TYPES, Layer

# (kind, args, input shapes, output shape, params, buffers, MACs, ops), each worked by hand.
CASES: list[tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[int, ...], int, int, int, int]] = [
    # MNIST net's output: 10 log-probabilities; 3 ops per element (exp, sum, subtract) = 30
    ("log_softmax", {}, [(10,)], (10,), 0, 0, 0, 30),
    # one shared slope: 1 param; per channel on 16×5×5: 16 params; 1 op per element = 400
    ("prelu", {}, [(16, 5, 5)], (16, 5, 5), 1, 0, 0, 400),
    ("prelu", {"num_parameters": 16}, [(16, 5, 5)], (16, 5, 5), 16, 0, 0, 400),
    # ReflectionPad2d(3) on 4×64×64: 64 + 3 + 3 = 70; a copy, nothing computed
    ("pad", {"pad": 3, "mode": "reflect"}, [(4, 64, 64)], (4, 70, 70), 0, 0, 0, 0),
    # [top 1, bottom 2, left 3, right 4] on 2×5×6: H 5 + 1 + 2 = 8, W 6 + 3 + 4 = 13
    ("pad", {"pad": [1, 2, 3, 4]}, [(2, 5, 6)], (2, 8, 13), 0, 0, 0, 0),
    # MaxUnpool2d(2, 2) after a 2/2 pool of 16×64×64: (32 − 1)·2 − 0 + 2 = 64
    ("max_unpool", {"kernel": 2, "stride": 2}, [(16, 32, 32)], (16, 64, 64), 0, 0, 0, 0),
    # PyTorch's output_size may add up to stride − 1: a 2/2 pool of 7 gave 3; (3 − 1)·2 + 2 = 6, asked 7
    ("max_unpool", {"kernel": 2, "output": 7}, [(1, 3, 3)], (1, 7, 7), 0, 0, 0, 0),
    # torch.mm(x, a) with a of 128×64: 8,192 weights, 8,192 MACs
    ("param_matmul", {"units": 64}, [(128,)], (64,), 8_192, 0, 8_192, 0),
    # + b of 64: 64 params, 64 adds
    ("param_add", {"shape": [64]}, [(64,)], (64,), 64, 0, 0, 64),
    # (1,) · param of (2,) broadcast: out (2,), 2 params, 2 multiplies
    ("param_mul", {"shape": [2]}, [(1,)], (2,), 2, 0, 0, 2),
    # x * 0.5 on 3×4×4: 48 multiplies
    ("constant_scale", {"factor": 0.5}, [(3, 4, 4)], (3, 4, 4), 0, 0, 0, 48),
    # |x1 − x2| of two 4096-vectors: 4,096 subtractions, then 4,096 abs
    ("subtract", {}, [(4096,), (4096,)], (4096,), 0, 0, 0, 4_096),
    ("abs", {}, [(4096,)], (4096,), 0, 0, 0, 4_096),
    # torch.cat((a, b), 0) of two 10-vectors: each sample of the batch becomes 2 rows of 10
    ("batch_concat", {}, [(10,), (10,)], (2, 10), 0, 0, 0, 0),
]


def make(kind: str, args: dict[str, Any]) -> Layer:
    return LAYER_TYPES[kind].model_validate(args)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_misc_kind_formulas(case: tuple[Any, ...]) -> None:
    kind, args, ins, out, params, buffers, macs, ops = case
    layer = make(kind, args)
    shapes = tuple(ins)
    assert layer.output_shape(shapes) == out
    assert layer.params(shapes).total == params
    assert layer.buffers(shapes) == buffers
    assert layer.macs(shapes, out) == macs
    assert layer.ops(shapes, out) == ops


def test_prelu_slopes_are_one_or_per_channel() -> None:
    with pytest.raises(LayerShapeError, match="needs 1 or one per channel"):
        make("prelu", {"num_parameters": 3}).params(((16, 5, 5),))


def test_reflection_pad_smaller_than_the_side() -> None:
    # PyTorch refuses too: "Padding size should be less than the corresponding input dimension"
    with pytest.raises(LayerShapeError, match="must be smaller than the input 3×3"):
        make("pad", {"pad": 3, "mode": "reflect"}).output_shape(((1, 3, 3),))


def test_unpool_output_within_a_stride() -> None:
    with pytest.raises(LayerShapeError, match="not within a stride"):
        make("max_unpool", {"kernel": 2, "output": 9}).output_shape(((1, 3, 3),))


def test_pad_names_the_torch_module_by_mode() -> None:
    layer = make("pad", {"pad": 1, "mode": "replicate"})
    assert [c.module for c in layer.torch_calls(((1, 4, 4),), (1, 6, 6))] == ["ReplicationPad2d"]


torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


@pytest.mark.parametrize("kind,args,module,shape", [
    ("pad", {"pad": 3, "mode": "reflect"}, lambda: nn.ReflectionPad2d(3), (4, 9, 9)),
    ("pad", {"pad": [1, 2, 3, 4], "mode": "replicate"}, lambda: nn.ReplicationPad2d((3, 4, 1, 2)), (2, 5, 6)),
    ("pad", {"pad": [0, 1, 2, 0], "mode": "constant", "value": 1.5}, lambda: nn.ConstantPad2d((2, 0, 0, 1), 1.5),
     (2, 5, 6)),
    ("prelu", {"num_parameters": 8}, lambda: nn.PReLU(8), (8, 3, 3)),
    ("log_softmax", {}, lambda: nn.LogSoftmax(dim=1), (10,)),
])
def test_against_pytorch(kind: str, args: dict[str, Any], module: Any, shape: tuple[int, ...]) -> None:
    m = module()
    y = m(torch.zeros(1, *shape))
    layer = make(kind, args)
    assert layer.output_shape((shape,)) == tuple(y.shape[1:])
    assert layer.params((shape,)).total == sum(p.numel() for p in m.parameters())


def test_unpool_against_pytorch() -> None:
    pool, unpool = nn.MaxPool2d(2, 2, return_indices=True), nn.MaxUnpool2d(2, 2)
    y, idx = pool(torch.randn(1, 3, 8, 8))
    assert make("max_unpool", {"kernel": 2}).output_shape((tuple(y.shape[1:]),)) == \
        tuple(unpool(y, idx).shape[1:]) == (3, 8, 8)
    x = torch.randn(1, 3, 7, 7)
    y, idx = pool(x)
    assert make("max_unpool", {"kernel": 2, "output": 7}).output_shape((tuple(y.shape[1:]),)) == \
        tuple(unpool(y, idx, output_size=x.shape).shape[1:]) == (3, 7, 7)


def test_onnx_prelu_and_log_softmax(tmp_path: Any) -> None:
    pytest.importorskip("onnx")
    from cnncalc.analysis import analyse
    from cnncalc.graph import build_graph
    from cnncalc.importers import onnx_spec_text
    from cnncalc.spec import parse_spec
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.PReLU(4), nn.Flatten(), nn.LogSoftmax(dim=1)).eval()
    path = tmp_path / "m.onnx"
    torch.onnx.export(model, (torch.randn(1, 3, 6, 6),), str(path), dynamo=False, do_constant_folding=False)
    text = onnx_spec_text(path)
    assert "type: prelu, num_parameters: 4" in text and "type: log_softmax" in text
    # conv 4·3·9 + 4 = 112, 4 slopes: 116 = PyTorch's count
    assert analyse(build_graph(parse_spec(text, "m.yaml"))).totals.params == \
        sum(p.numel() for p in model.parameters()) == 116
