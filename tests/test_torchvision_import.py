"""Every torchvision classification and segmentation model imports exactly (where torchvision is
installed), and every zoo spec named like one of them matches the recorded PyTorch figures (everywhere).

The figures in tests/reference/torchvision_import.json are PyTorch's own counts, recorded by
tests/tools/torchvision_import.py --record: Σ p.numel(), Σ b.numel() over the buffers, and
FlopCounterMode / 2 (see that script for how attention is counted).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from reference_data import reference

from cnncalc import analyse_spec, zoo_names

REF: dict[str, Any] = reference("torchvision_import")["models"]
#: The zoo's googlenet and inception_v3 are the networks without the auxiliary classifiers
#: (tests/reference/torchvision.json); torchvision's factories build them with, unused in eval.
ZOO = sorted(set(REF) & set(zoo_names()) - {"googlenet", "inception_v3"})

#: The models the issue names; the whole list runs with CNNCALC_TORCHVISION_ALL=1 (a few minutes).
NAMED = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet",
         "inception_v3", "maxvit_t", "mnasnet0_5", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_1_6gf",
         "resnext101_64x4d", "shufflenet_v2_x0_5", "squeezenet1_1", "swin_t", "swin_v2_t", "vgg11_bn",
         "vit_b_16", "wide_resnet101_2", "fcn_resnet50", "deeplabv3_mobilenet_v3_large",
         "lraspp_mobilenet_v3_large"]
IMPORTED = sorted(REF) if os.environ.get("CNNCALC_TORCHVISION_ALL") else NAMED
# googlenet's and inception_v3's auxiliary classifiers are built but not called in eval: the import
# names them in its header (6,379,984 and 3,326,696 parameters) and counts them, with their BatchNorm
# buffers, under ``parameters:``.


def test_figures_cover_the_named_models() -> None:
    assert set(NAMED) <= set(REF)
    for name in ("vit_b_16", "swin_t", "convnext_tiny"):
        assert name in ZOO, f"the zoo lacks {name}"


@pytest.mark.parametrize("name", ZOO)
def test_zoo_spec_matches_pytorch(name: str) -> None:
    ref = REF[name]
    a = analyse_spec(name)
    assert list(a.input) == ref["input"]
    assert (a.totals.params, a.totals.buffers, a.totals.macs) == (ref["params"], ref["buffers"], ref["macs"])


@pytest.mark.parametrize("name", IMPORTED)
def test_import_matches_pytorch(name: str) -> None:
    pytest.importorskip("torchvision")
    from cnncalc.analysis import analyse
    from cnncalc.graph import build_graph
    from cnncalc.importers import torch_spec_text
    from cnncalc.spec import parse_spec
    ref = REF[name]
    # segmentation factories load a pretrained backbone by default: tv_segmentation's do not
    module = "tests.tools.tv_segmentation" if ref["list"] == "segmentation" else "torchvision.models"
    text = torch_spec_text(f"{module}:{name}", tuple(ref["input"]))
    a = analyse(build_graph(parse_spec(text, f"{name}.yaml")))
    assert (a.totals.params, a.totals.buffers, a.totals.macs) == (ref["params"], ref["buffers"], ref["macs"])
