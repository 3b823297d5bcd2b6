"""Kinds the modern zoo needs (slice, channel_shuffle, layer_scale, stochastic_depth), by hand."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cnncalc.errors import LayerShapeError
from cnncalc.layers import LAYER_TYPES, RF, Layer

# (kind, args, input shapes, output shape, params, buffers, MACs, ops), each worked by hand.
CASES: list[tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[int, ...], int, int, int, int]] = [
    # ShuffleNet v2 stride-1 unit on 116×28×28: x.chunk(2) = channels [0, 58) and [58, 116)
    ("slice", {"start": 0, "end": 58}, [(116, 28, 28)], (58, 28, 28), 0, 0, 0, 0),
    ("slice", {"start": 58, "end": 116}, [(116, 28, 28)], (58, 28, 28), 0, 0, 0, 0),
    # end defaults to C: 10 − 3 = 7 channels; a flat vector slices the same way
    ("slice", {"start": 3}, [(10, 4, 4)], (7, 4, 4), 0, 0, 0, 0),
    ("slice", {"end": 5}, [(8,)], (5,), 0, 0, 0, 0),
    # shuffle of 232 channels in 2 groups: same shape, a permutation, nothing computed
    ("channel_shuffle", {"groups": 2}, [(232, 14, 14)], (232, 14, 14), 0, 0, 0, 0),
    # ConvNeXt-T stage 1 on 96×56×56: γ has 96 params; ops 96·56·56 = 301,056 multiplies
    ("layer_scale", {}, [(96, 56, 56)], (96, 56, 56), 96, 0, 0, 301_056),
    # identity at inference: nothing counted
    ("stochastic_depth", {"p": 0.1}, [(768, 7, 7)], (768, 7, 7), 0, 0, 0, 0),
]


def make(kind: str, args: dict[str, Any]) -> Layer:
    return LAYER_TYPES[kind].model_validate(args)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_modern_kind_formulas(case: tuple[Any, ...]) -> None:
    kind, args, ins, out, params, buffers, macs, ops = case
    layer = make(kind, args)
    shapes = tuple(ins)
    assert layer.output_shape(shapes) == out
    assert layer.params(shapes).total == params
    assert layer.buffers(shapes) == buffers
    assert layer.macs(shapes, out) == macs
    assert layer.ops(shapes, out) == ops
    assert layer.receptive(RF((5, 5), (2, 2)), shapes) == RF((5, 5), (2, 2))  # no window


def test_layer_scale_params_are_weights_not_bias() -> None:
    p = make("layer_scale", {"init": 1e-6}).params(((768, 7, 7),))
    assert (p.weights, p.bias) == (768, 0)


def test_slice_past_the_channels_is_a_shape_error() -> None:
    with pytest.raises(LayerShapeError, match="slice end 120 is past the 116 channels"):
        make("slice", {"start": 58, "end": 120}).output_shape(((116, 28, 28),))


def test_slice_end_must_follow_start() -> None:
    with pytest.raises(ValidationError, match="end 4 must be greater than start 4"):
        make("slice", {"start": 4, "end": 4})


def test_shuffle_needs_divisible_channels() -> None:
    with pytest.raises(LayerShapeError, match="58 channels are not divisible by groups=4"):
        make("channel_shuffle", {"groups": 4}).output_shape(((58, 7, 7),))


def test_aliases_and_explain() -> None:
    from cnncalc.layers import layer_class
    assert layer_class("drop_path") is LAYER_TYPES["stochastic_depth"]
    assert layer_class("layerscale") is LAYER_TYPES["layer_scale"]
    ins = ((116, 28, 28),)
    s = make("slice", {"start": 58, "end": 116})
    assert [str(f) for f in s.explain(ins, s.output_shape(ins))] == ["C' = end − start = 116 − 58 = 58"]
