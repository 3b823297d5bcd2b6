"""Token and attention kinds: permute, reshape, class_token, pos_embedding, select_token, patch_merge,
fc / layernorm per token, attention, window_attention.

Oracles: hand derivations written beside the literals, and PyTorch itself (nn.MultiheadAttention,
nn.Linear and FlopCounterMode) where torch is installed.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import analyse
from cnncalc.errors import CnncalcError
from cnncalc.graph import build_graph
from cnncalc.layers import layer_class
from cnncalc.spec import parse_spec


def _layer(kind: str, **fields: object):  # type: ignore[no-untyped-def]
    cls = layer_class(kind)
    assert cls is not None
    return cls.model_validate(fields)


def _analyse(text: str):  # type: ignore[no-untyped-def]
    return analyse(build_graph(parse_spec(text, "t.yaml")))


# ----------------------------------------------------------------------------- the case registry

# (kind, args, input shapes, output shape, params, buffers, MACs, ops), each worked by hand;
# enrolled in tests/test_cost.py's per-kind runtime checks as test_layers_misc's CASES are.
CASES: list[tuple[str, dict[str, Any], list[tuple[int, ...]], tuple[int, ...], int, int, int, int]] = [
    # ConvNeXt/Swin channels-last: C×H×W → H×W×C, a view, nothing counted
    ("permute", {"dims": [1, 2, 0]}, [(96, 56, 56)], (56, 56, 96), 0, 0, 0, 0),
    # ViT patches: 768×14×14 → 768×196 (14·14 = 196)
    ("reshape", {"shape": [768, 196]}, [(768, 14, 14)], (768, 196), 0, 0, 0, 0),
    # ViT-B/16 class token: 196 + 1 tokens; the token is E = 768 params
    ("class_token", {}, [(196, 768)], (197, 768), 768, 0, 0, 0),
    # position embedding: 197·768 = 151,296 params and as many adds
    ("pos_embedding", {}, [(197, 768)], (197, 768), 151_296, 0, 0, 151_296),
    ("select_token", {}, [(197, 768)], (768,), 0, 0, 0, 0),
    ("select_token", {"index": 3}, [(5, 8)], (8,), 0, 0, 0, 0),
    # Swin-T stage 1 → 2: ⌈56/2⌉ = 28, 4·96 = 384; odd 7 → ⌈7/2⌉ = 4, 4·768 = 3,072
    ("patch_merge", {}, [(56, 56, 96)], (28, 28, 384), 0, 0, 0, 0),
    ("patch_merge", {}, [(7, 7, 768)], (4, 4, 3_072), 0, 0, 0, 0),
    # ViT-B/16: params 4·768² + 4·768 = 2,362,368; MACs 4·197·768² + 2·197²·768 = 464,781,312 +
    # 59,610,624; ops L·E + 3·heads·L² + 4·L·E = 151,296 + 3·12·38,809 + 4·151,296 = 2,153,604
    ("attention", {"heads": 12}, [(197, 768)], (197, 768), 2_362_368, 0, 524_391_936, 2_153_604),
    # MaxViT-T stage 1: 16 windows of 7×7 = 49 tokens, E = 64, 2 heads; params 4·64² + 4·64 + 13²·2
    # = 16,978; index 49² = 2,401; MACs 16·(4·49·64² + 2·49²·64) = 16·1,110,144; ops
    # 16·(49·64 + 3·2·49² + 4·49·64 + 2·49²) = 16·(3,136 + 14,406 + 12,544 + 4,802) = 16·34,888
    ("attention", {"heads": 2, "relative_bias": True}, [(16, 49, 64)], (16, 49, 64), 16_978, 2_401,
     17_762_304, 558_208),
    # Swin-T stage 1 (see test_window_attention); T = 3,136, N = 49, shifted (56 > 7): ops
    # T·C + 4·heads·T·N + 4·T·C + heads·T·N = 301,056 + 1,843,968 + 1,204,224 + 460,992
    ("window_attention", {"heads": 3, "window": 7, "shift": 3}, [(56, 56, 96)], (56, 56, 96), 37_755, 2_401,
     145_108_992, 3_810_240),
    # Swin-V2-T stage 4 (see test_window_attention); T = N = 64, not shifted (window 8 covers the
    # padded 8×8): ops 64·768 + 4·24·64·64 + 4·64·768 = 49,152 + 393,216 + 196,608
    ("window_attention", {"heads": 24, "window": 8, "shift": 4, "version": 2}, [(7, 7, 768)], (7, 7, 768),
     2_376_216, 4_546, 160_281_600, 638_976),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_token_kind_formulas(case: tuple[Any, ...]) -> None:
    kind, args, ins, out, params, buffers, macs, ops = case
    layer = _layer(kind, **args)
    shapes = tuple(ins)
    assert layer.output_shape(shapes) == out
    assert layer.params(shapes).total == params
    assert layer.buffers(shapes) == buffers
    assert layer.macs(shapes, out) == macs
    assert layer.ops(shapes, out) == ops


# ----------------------------------------------------------------------------- views

def test_permute_and_reshape_are_free_views() -> None:
    p = _layer("permute", dims=[1, 2, 0])
    assert p.output_shape([(96, 56, 56)]) == (56, 56, 96)
    assert (p.params([(96, 56, 56)]).total, p.macs([(96, 56, 56)], (56, 56, 96))) == (0, 0)
    assert p.output_storage(True) == "view" and p.kernels([(96, 56, 56)], (56, 56, 96), True) == ()
    r = _layer("reshape", shape=[768, 196])
    assert r.output_shape([(768, 14, 14)]) == (768, 196)
    with pytest.raises(CnncalcError, match="37,632 elements"):  # 768·49 ≠ 768·196
        r.output_shape([(768, 7, 7)])
    with pytest.raises(ValueError, match="not a permutation"):
        _layer("permute", dims=[0, 0, 1])


def test_vit_stem_tokens() -> None:
    """ViT-B/16 at 224: 14×14 = 196 patches of 768, a class token, a position embedding."""
    a = _analyse("""
name: stem
input: [3, 224, 224]
layers:
  - {name: conv_proj, type: conv, filters: 768, kernel: 16, stride: 16}
  - {name: tokens, type: reshape, shape: [768, 196]}
  - {name: t, type: permute, dims: [1, 0]}
  - {name: cls, type: class_token}
  - {name: pos, type: pos_embedding}
  - {name: head_in, type: select_token}
""")
    rows = {r.name: r for r in a.rows}
    assert rows["cls"].output == (197, 768) and rows["cls"].params == 768
    assert rows["pos"].params == 197 * 768 == 151_296
    assert rows["pos"].ops == 151_296  # one add per element
    assert rows["head_in"].output == (768,)
    # conv_proj: 768·3·16² + 768 = 590,592 params; MACs 768·3·256·196 = 115,605,504
    assert (rows["conv_proj"].params, rows["conv_proj"].macs) == (590_592, 115_605_504)


def test_token_kinds_alone() -> None:
    ins = [(196, 768)]
    assert _layer("class_token").output_shape(ins) == (197, 768)
    assert _layer("class_token").params(ins).total == 768  # one token of E
    assert _layer("pos_embedding").params(ins).total == 196 * 768 == 150_528
    assert _layer("select_token", index=3).output_shape(ins) == (768,)
    with pytest.raises(CnncalcError, match="token 196"):
        _layer("select_token", index=196).output_shape(ins)
    with pytest.raises(CnncalcError, match="sequence"):
        _layer("class_token").output_shape([(3, 4, 4)])


def test_patch_merge_pads_odd_sizes() -> None:
    m = _layer("patch_merge")
    assert m.output_shape([(56, 56, 96)]) == (28, 28, 384)
    assert m.output_shape([(7, 5, 8)]) == (4, 3, 32)  # ⌈7/2⌉, ⌈5/2⌉, 4·8


# ----------------------------------------------------------------------------- per token

def test_fc_per_token() -> None:
    fc = _layer("fc", units=3072)
    # ViT-B/16 MLP fc1 on 197 tokens: 197·768·3072 = 464,781,312 MACs; params 768·3072 + 3072
    assert fc.output_shape([(197, 768)]) == (197, 3072)
    assert fc.macs([(197, 768)], (197, 3072)) == 464_781_312
    assert fc.params([(197, 768)]).total == 2_362_368
    last = _layer("fc", units=384, over="last")
    # ConvNeXt-T stage 1 pwconv1 on 56×56 channels-last: 56·56·96·384 = 115,605,504
    assert last.output_shape([(56, 56, 96)]) == (56, 56, 384)
    assert last.macs([(56, 56, 96)], (56, 56, 384)) == 115_605_504
    with pytest.raises(CnncalcError, match="over: last"):
        _layer("fc", units=10).output_shape([(96, 56, 56)])  # a map still needs a flatten


def test_layernorm_per_token() -> None:
    assert _layer("layernorm").params([(197, 768)]).total == 2 * 768  # a token's features
    assert _layer("layernorm", over="last").params([(56, 56, 96)]).total == 2 * 96
    assert _layer("layernorm").params([(96, 56, 56)]).total == 2 * 96  # channels of C×H×W


# ----------------------------------------------------------------------------- attention

def test_attention_vit_b16() -> None:
    """ViT-B/16 encoder attention: L = 197, E = 768, 12 heads."""
    att = _layer("attention", heads=12)
    ins = [(197, 768)]
    # 4·E² + 4·E = 2,359,296 + 3,072
    assert att.params(ins).total == 2_362_368
    # 4·L·E² = 4·197·589,824 = 464,781,312 (Q, K, V, out projections); 2·L²·E = 2·38,809·768 = 59,610,624
    assert att.macs(ins, ins[0]) == 464_781_312 + 59_610_624
    with pytest.raises(CnncalcError, match="heads"):
        _layer("attention", heads=5).output_shape(ins)


def test_attention_maxvit_relative_bias() -> None:
    """MaxViT-T stage 1 window attention: 28·28/7² = 16 windows of 49 tokens, 64 features, 2 heads."""
    att = _layer("attention", heads=2, relative_bias=True)
    ins = [(16, 49, 64)]
    # 4·64² + 4·64 = 16,640; table (2·7 − 1)²·2 = 338
    assert att.params(ins).total == 16_640 + 338
    assert att.buffers(ins) == 49 * 49  # int64 index
    # 16·(4·49·64² + 2·49²·64) = 16·(802,816 + 307,328)
    assert att.macs(ins, ins[0]) == 16 * 1_110_144


@pytest.mark.parametrize(("kwargs", "shape", "params", "buffers", "macs"), [
    # swin_t stage 1: C = 96, 3 heads, window 7 on 56×56: T = 3136, N = 49;
    # 4·3136·96² + 2·3136·49·96 = 115,605,504 + 29,503,488; params 4·96² + 4·96 + 13²·3; buffers 49²
    ({"heads": 3, "window": 7, "shift": 3}, (56, 56, 96), 37_755, 2_401, 145_108_992),
    # swin_v2_t stage 4: C = 768, 24 heads, window 8 on 7×7 → padded 8×8: T = N = 64;
    # 4·64·768² + 2·64·64·768 + 15²·512·(2 + 24) = 150,994,944 + 6,291,456 + 2,995,200;
    # params 4·768² + 4·768 + 24 (logit scale) + 2·512 + 512 + 512·24 (bias MLP); buffers 64² + 15²·2
    ({"heads": 24, "window": 8, "shift": 4, "version": 2}, (7, 7, 768), 2_376_216, 4_546, 160_281_600),
    # 9×10 map, window 4 → padded 12×12: T = 144, N = 16, C = 32, 1 head;
    # 4·144·32² + 2·144·16·32 = 589,824 + 147,456; params 4·32² + 4·32 + 7²
    ({"heads": 1, "window": 4, "shift": 2}, (9, 10, 32), 4_273, 256, 737_280),
])
def test_window_attention(kwargs: dict[str, object], shape: tuple[int, int, int], params: int, buffers: int,
                          macs: int) -> None:
    """Checked against torchvision's ShiftedWindowAttention(V2) with FlopCounterMode when written."""
    att = _layer("window_attention", **kwargs)
    assert att.output_shape([shape]) == shape
    assert (att.params([shape]).total, att.buffers([shape]), att.macs([shape], shape)) == (params, buffers, macs)


def test_window_attention_shift_only_where_the_window_is_smaller() -> None:
    att = _layer("window_attention", heads=24, window=7, shift=3)
    assert not att.shifted([(7, 7, 768)])  # the window covers the whole map: no shift, no mask
    assert att.shifted([(14, 14, 384)])
    with pytest.raises(ValueError, match="smaller than the window"):
        _layer("window_attention", heads=1, window=4, shift=4)


# ----------------------------------------------------------------------------- PyTorch as the oracle

@settings(max_examples=6, deadline=None)
@given(st.integers(1, 9), st.sampled_from([(8, 1), (8, 2), (12, 3), (16, 4)]), st.booleans())
def test_attention_equals_pytorch(length: int, embed_heads: tuple[int, int], bias: bool) -> None:
    torch = pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    e, heads = embed_heads
    m = torch.nn.MultiheadAttention(e, heads, bias=bias, batch_first=True).eval()
    x = torch.zeros(1, length, e)
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):  # autograd on: no fused fast path
        m(x, x, x, need_weights=False)
    att = _layer("attention", heads=heads, bias=bias)
    ins = [(length, e)]
    assert att.params(ins).total == sum(p.numel() for p in m.parameters())
    assert att.macs(ins, ins[0]) == counter.get_total_flops() // 2


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=3), st.integers(1, 9), st.integers(1, 9))
def test_fc_per_token_equals_pytorch(lead: list[int], c_in: int, c_out: int) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    m = torch.nn.Linear(c_in, c_out)
    counter = FlopCounterMode(display=False)
    with counter:
        out = m(torch.zeros(1, *lead, c_in))
    fc = _layer("fc", units=c_out, over="last")
    shape = (*lead, c_in)
    assert fc.output_shape([shape]) == tuple(out.shape[1:])
    assert fc.macs([shape], tuple(out.shape[1:])) == counter.get_total_flops() // 2


# ----------------------------------------------------------------------------- norms, pixel shuffles

def test_group_and_instance_norm() -> None:
    ins = [(64, 8, 8)]
    gn = _layer("groupnorm", groups=32)
    # γ, β per channel: 2·64; 6 ops per element: 6·64·8·8 = 24,576
    assert (gn.params(ins).total, gn.buffers(ins), gn.ops(ins, ins[0])) == (128, 0, 24_576)
    with pytest.raises(CnncalcError, match="groups"):
        _layer("groupnorm", groups=5).output_shape(ins)
    inorm = _layer("instancenorm")
    assert (inorm.params(ins).total, inorm.buffers(ins), inorm.ops(ins, ins[0])) == (0, 0, 4 * 4_096)
    tracked = _layer("instancenorm", affine=True, track_running_stats=True)
    assert (tracked.params(ins).total, tracked.buffers(ins)) == (128, 2 * 64 + 1)


def test_pixel_shuffles() -> None:
    assert _layer("pixel_shuffle", factor=2).output_shape([(64, 8, 8)]) == (16, 16, 16)  # 64/2², 2·8
    assert _layer("pixel_unshuffle", factor=4).output_shape([(3, 16, 16)]) == (48, 4, 4)  # 3·4², 16/4
    with pytest.raises(CnncalcError, match="divisible"):
        _layer("pixel_shuffle", factor=3).output_shape([(64, 8, 8)])
    with pytest.raises(CnncalcError, match="divisible"):
        _layer("pixel_unshuffle", factor=3).output_shape([(3, 16, 16)])


def test_norms_and_shuffles_equal_pytorch() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    x = torch.zeros(1, 12, 6, 6)
    for m, layer in [(nn.GroupNorm(3, 12), _layer("groupnorm", groups=3)),
                     (nn.GroupNorm(4, 12, affine=False), _layer("groupnorm", groups=4, affine=False)),
                     (nn.InstanceNorm2d(12), _layer("instancenorm")),
                     (nn.InstanceNorm2d(12, affine=True, track_running_stats=True),
                      _layer("instancenorm", affine=True, track_running_stats=True)),
                     (nn.PixelShuffle(2), _layer("pixel_shuffle", factor=2)),
                     (nn.PixelUnshuffle(3), _layer("pixel_unshuffle", factor=3))]:
        ins = [(12, 6, 6)]
        assert layer.output_shape(ins) == tuple(m.eval()(x).shape[1:]), m
        assert layer.params(ins).total == sum(p.numel() for p in m.parameters()), m
        assert layer.buffers(ins) == sum(b.numel() for b in m.buffers()), m
