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
    # token views: nothing counted
    ("permute", {"dims": [1, 2, 0]}, [(96, 56, 56)], (56, 56, 96), 0, 0, 0, 0),
    ("reshape", {"shape": [768, 196]}, [(768, 14, 14)], (768, 196), 0, 0, 0, 0),
    ("select_token", {}, [(197, 768)], (768,), 0, 0, 0, 0),
    ("patch_merge", {}, [(56, 56, 96)], (28, 28, 384), 0, 0, 0, 0),
    # ViT-B/16: class token E = 768 params; position embedding 197·768 = 151,296 params and adds
    ("class_token", {}, [(196, 768)], (197, 768), 768, 0, 0, 0),
    ("pos_embedding", {}, [(197, 768)], (197, 768), 151_296, 0, 0, 151_296),
    # ViT-B/16 attention: params 4·768² + 4·768; MACs 4·197·768² + 2·197²·768 = 464,781,312 + 59,610,624;
    # ops L·E + 3·h·L² + 4·L·E = 151,296 + 3·12·38,809 + 605,184
    ("attention", {"heads": 12}, [(197, 768)], (197, 768), 2_362_368, 0, 524_391_936, 2_153_604),
    # swin_t stage 1, shifted: T = 3136, N = 49, 3 heads; buffers 49²; ops T·C + 4·h·T·N + 4·T·C + h·T·N
    # = 301,056 + 1,843,968 + 1,204,224 + 460,992
    ("window_attention", {"heads": 3, "window": 7, "shift": 3}, [(56, 56, 96)], (56, 56, 96), 37_755, 2_401,
     145_108_992, 3_810_240),
    # 2·64 γ, β; 6 ops per element (4 without affine, instance norm's default)
    ("groupnorm", {"groups": 32}, [(64, 8, 8)], (64, 8, 8), 128, 0, 0, 24_576),
    ("instancenorm", {}, [(64, 8, 8)], (64, 8, 8), 0, 0, 0, 16_384),
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
