"""Modern zoo specs: MobileNet v1 against its paper by hand; every modern spec names its source."""

from __future__ import annotations

import pytest

from cnncalc import analyse_spec, load_spec
from cnncalc.layers import Family

MODERN = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
          "wide_resnet50_2", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
          "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny"]


@pytest.mark.parametrize("name", MODERN)
def test_modern_spec_names_its_source(name: str) -> None:
    spec = load_spec(name).spec
    assert spec.name == name
    assert spec.title and spec.paper and spec.year and spec.notes
    assert spec.source and (spec.source.startswith(f"torchvision 0.26 models.{name}")
                            or name == "mobilenet_v1")


# MobileNet v1 1.0-224, the paper's Table 1. MACs per conv = H'·W' · C_out · (C_in/G)·K²:
#   conv1 3×3/2 → 112²:  12,544 · 32 · 27            = 10,838,016
#   dw 3×3 (C·9 per position), pw 1×1 (C_in·C_out per position):
#   sep1 112²: dw 12,544·32·9 = 3,612,672        pw 12,544·32·64    = 25,690,112
#   sep2  56²: dw  3,136·64·9 = 1,806,336        pw  3,136·64·128   = 25,690,112
#   sep3  56²: dw  3,136·128·9 = 3,612,672       pw  3,136·128·128  = 51,380,224
#   sep4  28²: dw    784·128·9 = 903,168         pw    784·128·256  = 25,690,112
#   sep5  28²: dw    784·256·9 = 1,806,336       pw    784·256·256  = 51,380,224
#   sep6  14²: dw    196·256·9 = 451,584         pw    196·256·512  = 25,690,112
#   sep7 ×5 14²: dw  196·512·9 = 903,168         pw    196·512·512  = 51,380,224
#   sep8   7²: dw     49·512·9 = 225,792         pw     49·512·1024 = 25,690,112
#   sep9   7²: dw     49·1024·9 = 451,584        pw     49·1024·1024 = 51,380,224
#   fc 1024·1000 = 1,024,000
V1_MACS = {
    "conv1.conv": 10_838_016,
    "sep1.dw.conv": 3_612_672, "sep1.pw.conv": 25_690_112,
    "sep2.dw.conv": 1_806_336, "sep2.pw.conv": 25_690_112,
    "sep3.dw.conv": 3_612_672, "sep3.pw.conv": 51_380_224,
    "sep4.dw.conv": 903_168, "sep4.pw.conv": 25_690_112,
    "sep5.dw.conv": 1_806_336, "sep5.pw.conv": 51_380_224,
    "sep6.dw.conv": 451_584, "sep6.pw.conv": 25_690_112,
    **{f"sep7_{i}.{p}.conv": m for i in range(1, 6) for p, m in (("dw", 903_168), ("pw", 51_380_224))},
    "sep8.dw.conv": 225_792, "sep8.pw.conv": 25_690_112,
    "sep9.dw.conv": 451_584, "sep9.pw.conv": 51_380_224,
    "fc": 1_024_000,
}
# Sum: first conv 10,838,016 + depthwise 17,385,984 + pointwise 539,492,352 + fc 1,024,000
V1_TOTAL_MACS = 568_740_352
# Weights: conv1 864; depthwise 9·(32 + 64 + 128 + 128 + 256 + 256 + 5·512 + 512 + 1024) = 9·4,960
# = 44,640; pointwise 32·64 + 64·128 + 128·128 + 128·256 + 256·256 + 256·512 + 5·512² + 512·1024
# + 1024² = 3,139,584; fc 1,024,000 + bias 1,000  →  4,210,088.
V1_CONV_FC_PARAMS = 4_210_088
# BatchNorm γ, β after every conv, over its output channels: conv1 32 + depthwise 4,960 (as
# above) + pointwise 64 + 128 + 128 + 256 + 256 + 512 + 5·512 + 1024 + 1024 = 5,952  →
# 2·(32 + 4,960 + 5,952) = 2·10,944 = 21,888.
V1_BN_PARAMS = 21_888


def test_mobilenet_v1_macs_per_layer_by_hand() -> None:
    a = analyse_spec("mobilenet_v1")
    rows = {r.name: r.macs for r in a.rows if r.family in (Family.CONV, Family.FC)}
    assert rows == V1_MACS
    assert sum(V1_MACS.values()) == V1_TOTAL_MACS == a.totals.macs
    assert round(a.totals.macs / 1e6) == 569  # the paper: 569 million mult-adds


def test_mobilenet_v1_params_match_the_paper() -> None:
    a = analyse_spec("mobilenet_v1")
    conv_fc = sum(r.params for r in a.rows if r.family in (Family.CONV, Family.FC))
    bn = sum(r.params for r in a.rows if r.family is Family.NORM)
    assert (conv_fc, bn) == (V1_CONV_FC_PARAMS, V1_BN_PARAMS)
    assert a.totals.params == 4_231_976
    assert round(conv_fc / 1e6, 1) == round(a.totals.params / 1e6, 1) == 4.2  # the paper: 4.2 million
    assert a.rows[-1].output == (1000,) and a.rows[-4].output == (1024, 1, 1)


def test_mobilenet_v1_resource_per_layer_type_is_the_papers_table_2() -> None:
    # Table 2 shares of mult-adds and of weights (the paper leaves the FC bias out):
    #   1×1 conv 539,492,352 / 568,740,352 = 94.86 %, weights 3,139,584 / 4,209,088 = 74.59 %
    #   3×3 dw    17,385,984 / 568,740,352 =  3.06 %,            44,640 / 4,209,088 =  1.06 %
    #   3×3 full  10,838,016 / 568,740,352 =  1.91 %,               864 / 4,209,088 =  0.02 %
    #   FC         1,024,000 / 568,740,352 =  0.18 %,         1,024,000 / 4,209,088 = 24.33 %
    # The paper prints 1.19 % for the full 3×3 conv, a digit swap: its four shares then sum to
    # 99.29 %, with 1.91 % to 100.01 %.
    rows = [r for r in analyse_spec("mobilenet_v1").rows if r.family in (Family.CONV, Family.FC)]

    def kind(name: str) -> str:
        return "fc" if name == "fc" else "full" if name == "conv1.conv" else name.split(".")[1]

    macs = sum(r.macs for r in rows)
    weights = sum(r.weights for r in rows)
    share = {k: (round(100 * sum(r.macs for r in rows if kind(r.name) == k) / macs, 2),
                 round(100 * sum(r.weights for r in rows if kind(r.name) == k) / weights, 2))
             for k in ("pw", "dw", "full", "fc")}
    assert share == {"pw": (94.86, 74.59), "dw": (3.06, 1.06), "full": (1.91, 0.02), "fc": (0.18, 24.33)}
