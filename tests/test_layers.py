"""Layer formulas against hand-computed values; every registered kind is enrolled."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc.errors import LayerShapeError
from cnncalc.layers import LAYER_TYPES, RF, Layer, RegistrationError, register_layer
from cnncalc.layers.base import resolve_pad, window_out
from cnncalc.layers.pool import _adaptive_window_max, _adaptive_window_sum, _adaptive_windows

# One example per kind: (args, input shapes, output shape, params, MACs, ops), each by hand.
# A kind added without an example fails test_every_kind_has_an_example.
EXAMPLES: dict[str, list[tuple[dict[str, Any], list[tuple[int, ...]], tuple[int, ...], int, int, int]]] = {
    # conv: (28 − 5 + 2·2)/1 + 1 = 28; params 6·3·25 + 6 = 456; MACs 6·28·28 · 75 = 352,800; ops = bias 4,704
    "conv": [({"filters": 6, "kernel": 5, "pad": 2}, [(3, 28, 28)], (6, 28, 28), 456, 352_800, 4_704),
             # grouped 2: params 256·48·25 + 256 = 307,456 (AlexNet 2012 conv2); MACs 256·27·27·48·25
             ({"filters": 256, "kernel": 5, "pad": 2, "groups": 2}, [(96, 27, 27)], (256, 27, 27),
              307_456, 223_948_800, 186_624),
             # depthwise 3×3/2 "same" on 32×32 (TF: out 16, pad total 1 → 0 before, 1 after):
             # params 32·1·9 = 288 (no bias); MACs 32·16·16·9 = 73,728; ops = relu 8,192
             ({"filters": 32, "kernel": 3, "stride": 2, "pad": "same", "groups": 32, "bias": False,
               "activation": "relu"}, [(32, 32, 32)], (32, 16, 16), 288, 73_728, 8_192),
             # dilated 3×3, d=2, pad 2 keeps 20×20; rectangular [1, 7] kernel with pad [0, 3]
             ({"filters": 4, "kernel": 3, "dilation": 2, "pad": 2}, [(2, 20, 20)], (4, 20, 20),
              4 * 2 * 9 + 4, 4 * 400 * 18, 1_600),
             ({"filters": 8, "kernel": [1, 7], "pad": [0, 3]}, [(4, 17, 17)], (8, 17, 17),
              8 * 4 * 7 + 8, 8 * 289 * 28, 2_312)],
    # deconv: (7 − 1)·2 − 2·1 + 3 + 1 + 1 = 14; params 16·8·9 + 8 = 1,160; MACs 16·7·7 · 8·9 = 56,448
    "deconv": [({"filters": 8, "kernel": 3, "stride": 2, "pad": 1, "output_padding": 1},
                [(16, 7, 7)], (8, 14, 14), 1_160, 56_448, 1_568)],
    # maxpool 3/2 on 55: (55 − 3)/2 + 1 = 27; ops 96·27·27·9 = 629,856 (seed)
    "maxpool": [({"kernel": 3, "stride": 2}, [(96, 55, 55)], (96, 27, 27), 0, 0, 629_856),
                # ceil_mode: ⌈(112 − 3)/2⌉ + 1 = 56 (GoogLeNet); ops 64·56·56·9
                ({"kernel": 3, "stride": 2, "ceil_mode": True}, [(64, 112, 112)], (64, 56, 56), 0, 0,
                 1_806_336)],
    # avgpool 2 (stride = kernel) on 28 → 14; ops 6·14·14·4 = 4,704
    "avgpool": [({"kernel": 2}, [(6, 28, 28)], (6, 14, 14), 0, 0, 4_704)],
    "global_avgpool": [({}, [(1024, 7, 7)], (1024, 1, 1), 0, 0, 50_176)],
    "global_maxpool": [({}, [(8, 3, 3)], (8, 1, 1), 0, 0, 72)],
    # adaptive 7 on 7: windows of 1 → ops = 512·49; on 10 → windows [0,2)[1,3)[2,5)[4,6)[5,8)[7,9)[8,10)
    # sizes 2,2,3,2,3,2,2 = 16 per axis → ops 2·16·16 = 512
    "adaptive_avgpool": [({"output": 7}, [(512, 7, 7)], (512, 7, 7), 0, 0, 25_088),
                         ({"output": 7}, [(2, 10, 10)], (2, 7, 7), 0, 0, 512)],
    "adaptive_maxpool": [({"output": [1, 2]}, [(3, 4, 4)], (3, 1, 2), 0, 0, 48)],
    # fc 9216 → 4096: params 9216·4096 + 4096; MACs 9216·4096; ops bias 4096 + relu 4096
    "fc": [({"units": 4096, "activation": "relu"}, [(9216,)], (4096,), 37_752_832, 37_748_736, 8_192),
           ({"units": 1000}, [(1024, 1, 1)], (1000,), 1_025_000, 1_024_000, 1_000)],
    "flatten": [({}, [(256, 6, 6)], (9216,), 0, 0, 0)],
    "batchnorm": [({}, [(64, 4, 4)], (64, 4, 4), 128, 0, 2 * 1024)],
    "layernorm": [({}, [(96, 2, 2)], (96, 2, 2), 192, 0, 6 * 384),
                  ({"over": "all", "affine": False}, [(4, 2, 2)], (4, 2, 2), 0, 0, 4 * 16)],
    "lrn": [({"size": 5}, [(96, 2, 2)], (96, 2, 2), 0, 0, 8 * 384)],
    "dropout": [({"p": 0.5}, [(4096,)], (4096,), 0, 0, 0)],
    "identity": [({}, [(3, 2, 2)], (3, 2, 2), 0, 0, 0)],
    "upsample": [({"scale": 2}, [(3, 4, 5)], (3, 8, 10), 0, 0, 0),
                 ({"size": [6, 6], "mode": "bilinear"}, [(2, 3, 3)], (2, 6, 6), 0, 0, 4 * 72)],
    # concat of inception branches 64+128+32+32 = 256 at 28×28
    "concat": [({}, [(64, 28, 28), (128, 28, 28), (32, 28, 28), (32, 28, 28)], (256, 28, 28), 0, 0, 0)],
    "add": [({}, [(256, 56, 56)] * 2, (256, 56, 56), 0, 0, 802_816),
            ({}, [(8,)] * 3, (8,), 0, 0, 16)],
    # squeeze-excitation: C×H×W · C×1×1 broadcast
    "multiply": [({}, [(64, 8, 8), (64, 1, 1)], (64, 8, 8), 0, 0, 4_096)],
    "softmax": [({}, [(1000,)], (1000,), 0, 0, 3_000)],
}
for _kind in ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid"):
    EXAMPLES[_kind] = [({}, [(16, 5, 5)], (16, 5, 5), 0, 0, 400)]
# sub-pixel rearrangements: 64/2² channels at 2·8; 3·4² channels at 16/4; copies, nothing counted
EXAMPLES["pixel_shuffle"] = [({"factor": 2}, [(64, 8, 8)], (16, 16, 16), 0, 0, 0)]
EXAMPLES["pixel_unshuffle"] = [({"factor": 4}, [(3, 16, 16)], (48, 4, 4), 0, 0, 0)]

CASES = [(k, i) for k, v in EXAMPLES.items() for i in range(len(v))]


def make(kind: str, args: dict[str, Any]) -> Layer:
    return LAYER_TYPES[kind].model_validate(args)


def test_every_kind_has_an_example() -> None:
    # Kinds added by the zoo work keep their examples in tests/test_layers_*.py; these are the core's.
    extra = {k for k in LAYER_TYPES if k not in EXAMPLES}
    tested_elsewhere = {k for k in extra if _mentioned_in_other_layer_tests(k)}
    assert extra == tested_elsewhere, f"kinds without a hand-computed example: {sorted(extra - tested_elsewhere)}"


def _mentioned_in_other_layer_tests(kind: str) -> bool:
    from pathlib import Path
    here = Path(__file__).parent
    return any(f'"{kind}"' in p.read_text() for p in here.glob("test_layers_*.py"))


@pytest.mark.parametrize("kind,i", CASES)
def test_kind_formulas(kind: str, i: int) -> None:
    args, ins, out, params, macs, ops = EXAMPLES[kind][i]
    layer = make(kind, args)
    shapes = tuple(ins)
    assert layer.output_shape(shapes) == out
    assert layer.params(shapes).total == params
    assert layer.macs(shapes, out) == macs
    assert layer.ops(shapes, out) == ops


@pytest.mark.parametrize("kind", sorted(LAYER_TYPES))
def test_every_kind_documents_its_formulas(kind: str) -> None:
    doc = LAYER_TYPES[kind].__doc__ or ""
    assert len(doc.strip()) > 10, f"{kind} needs a docstring with its formulas"


def test_conv_explain_plugs_in_the_seed_numbers() -> None:
    conv = make("conv", {"filters": 96, "kernel": 11, "stride": 4})
    ins = ((3, 227, 227),)
    out = conv.output_shape(ins)
    text = [str(f) for f in conv.explain(ins, out)]
    assert text[0] == "W' = (W − K + 2P)/S + 1 = (227 − 11 + 2·0)/4 + 1 = 55"
    assert text[1].endswith("96 × 3 × 11 × 11 + 96 = 34,944")
    assert text[2].endswith("105,415,200")


def test_batchnorm_buffers_match_pytorch() -> None:
    # running mean + running var + num_batches_tracked
    assert make("batchnorm", {}).buffers(((64, 8, 8),)) == 129
    assert make("batchnorm", {"track_running_stats": False}).buffers(((64, 8, 8),)) == 0


def test_window_floor_and_ceil_follow_pytorch() -> None:
    # (56 − 3)/2 + 1 = 27.5: floor → 27 and one input column unused; ceil → 28
    w = window_out(56, 3, 2, (0, 0))
    assert (w.size, w.exact, w.value, w.dropped) == (27, False, Fraction(55, 2), 1)
    assert window_out(56, 3, 2, (0, 0), ceil_mode=True).size == 28
    # PyTorch drops a last window that would start in the right padding: 5, k2, s2, p1, ceil → 3
    assert window_out(5, 2, 2, (1, 1), ceil_mode=True).size == 3
    # stride-2 7×7 pad 3 on 224: 112.5 floors to 112, but only padding is dropped → no warning
    assert window_out(224, 7, 2, (3, 3)).warning() is None


def test_same_padding_is_tensorflow_style() -> None:
    assert resolve_pad("same", (224, 224), (7, 7), (2, 2), (1, 1)) == ((2, 3), (2, 3))
    assert resolve_pad("same", (5, 5), (3, 3), (1, 1), (1, 1)) == ((1, 1), (1, 1))
    assert resolve_pad([1, 2, 3, 4], (5, 5), (3, 3), (1, 1), (1, 1)) == ((1, 2), (3, 4))


def test_adaptive_windows_are_pytorchs() -> None:
    assert _adaptive_windows(10, 7) == [2, 2, 3, 2, 3, 2, 2]
    assert _adaptive_windows(7, 7) == [1] * 7


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 400), st.integers(1, 400))
def test_adaptive_window_closed_forms_match_the_windows(n: int, m: int) -> None:
    """The layer's closed forms (no walk over m windows) against the definition: Σ = n + m − gcd,
    max = q, q + 1 or q + 2. By hand: 10 → 7: 2+2+3+2+3+2+2 = 16 = 10 + 7 − 1, max 3 (r = 3 > g = 1)."""
    windows = _adaptive_windows(n, m)
    assert _adaptive_window_sum(n, m) == sum(windows) and _adaptive_window_max(n, m) == max(windows)
    assert (_adaptive_window_sum(10, 7), _adaptive_window_max(10, 7)) == (16, 3)


def test_adaptive_pooling_to_a_huge_output_is_figured_at_once() -> None:
    """Adaptive max pooling of a 1×1 map to 10⁹ × 10⁹ (PyTorch repeats the pixel): each window is
    one pixel, so C·10⁹·10⁹ reads; computed without enumerating 10⁹ windows (it once hung)."""
    layer = LAYER_TYPES["adaptive_maxpool"].model_validate({"output": 10**9})
    assert layer.ops([(3, 1, 1)], (3, 10**9, 10**9)) == 3 * 10**18


@pytest.mark.parametrize("kind,args,ins,message", [
    ("conv", {"filters": 8, "kernel": 40}, [(3, 32, 32)], "kernel 40 is larger than the padded input 32"),
    ("conv", {"filters": 8, "kernel": 3, "groups": 2}, [(3, 8, 8)], "not divisible by groups=2"),
    ("conv", {"filters": 3, "kernel": 3, "groups": 2}, [(4, 8, 8)], "filters 3 are not divisible"),
    ("conv", {"filters": 8, "kernel": 3}, [(10,)], "needs a C×H×W feature map"),
    ("maxpool", {"kernel": 2, "pad": 2}, [(3, 8, 8)], "at most half the kernel"),
    ("fc", {"units": 10}, [(8, 2, 2)], "add '- type: flatten'"),
    ("concat", {}, [(8, 4, 4), (8, 5, 5)], "equal spatial sizes"),
    ("add", {}, [(8, 4, 4), (4, 4, 4)], "equal shape"),
    ("multiply", {}, [(8, 4, 4), (3, 1, 1)], "do not broadcast"),
    ("deconv", {"filters": 4, "kernel": 3, "stride": 2, "output_padding": 2}, [(4, 4, 4)], "output_padding"),
])
def test_shape_errors(kind: str, args: dict[str, Any], ins: list[tuple[int, ...]], message: str) -> None:
    with pytest.raises(LayerShapeError, match=message):
        make(kind, args).output_shape(tuple(ins))


def test_duplicate_registration_is_an_error() -> None:
    with pytest.raises(RegistrationError):
        register_layer("conv")(type("Again", (Layer,), {}))
    with pytest.raises(RegistrationError):
        register_layer("brand_new_kind", "relu")(type("Again2", (Layer,), {}))


def test_receptive_field_of_stacked_3x3_convs() -> None:
    # "Each successive convolution adds K − 1": L layers of 3×3 → 1 + 2L
    rf = RF()
    conv = make("conv", {"filters": 1, "kernel": 3, "pad": 1})
    for _ in range(5):
        rf = conv.receptive(rf, ((1, 9, 9),))
    assert rf.size == (11, 11) and rf.jump == (1, 1)


@given(h=st.integers(1, 300), k=st.integers(1, 11), s=st.integers(1, 5), p=st.integers(0, 5),
       d=st.integers(1, 3))
def test_window_formula_matches_brute_force(h: int, k: int, s: int, p: int, d: int) -> None:
    eff = d * (k - 1) + 1
    if eff > h + 2 * p:
        with pytest.raises(LayerShapeError):
            window_out(h, k, s, (p, p), d)
        return
    # count the window starts that fit, by enumeration
    starts = [x for x in range(0, h + 2 * p) if x + eff <= h + 2 * p and x % s == 0]
    assert window_out(h, k, s, (p, p), d).size == len(starts)


def test_strided_1x1_subsampling_is_not_a_warning() -> None:
    # ResNet's 1×1 stride-2 shortcut skips every other pixel by design
    assert window_out(56, 1, 2, (0, 0)).warning() is None
    assert window_out(56, 3, 2, (0, 0)).warning() is not None


def test_the_lazy_registry_index_names_every_kind_where_it_is_defined() -> None:
    """The kind → module index read from the sources (so a spec imports only the kind modules it
    uses) agrees with the registry once every module is imported: each kind and alias is listed,
    with the module its class lives in; and a spec of convolutions leaves the attention kinds out."""
    import subprocess
    import sys

    from cnncalc.layers import ALIASES
    from cnncalc.layers.base import _kind_modules
    index = _kind_modules()
    kinds = {k: cls.__module__ for k, cls in LAYER_TYPES.items()}
    assert {k: index[k] for k in kinds} == kinds
    assert {a: index[a] for a in ALIASES} == {a: kinds[k] for a, k in ALIASES.items()}
    assert set(index) == set(kinds) | set(ALIASES)
    probe = ("import sys; from cnncalc import analyse_spec; analyse_spec('vgg16'); "
             "print(sorted(m for m in sys.modules if m.startswith('cnncalc.layers.')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "cnncalc.layers.conv" in loaded and "cnncalc.layers.attention" not in loaded
