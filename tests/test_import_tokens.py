"""The PyTorch importer on token models (attention, class token, position embedding, permutes,
channels-last MLPs) and its naming rules; PyTorch's own counts are the oracle."""

from __future__ import annotations

from typing import Any

import pytest

from cnncalc import analyse
from cnncalc.graph import build_graph
from cnncalc.importers.common import snake_case
from cnncalc.layers import layer_class
from cnncalc.spec import parse_spec


@pytest.mark.parametrize(("cls", "name"), [
    ("GoogLeNet", "googlenet"), ("MobileNetV3", "mobilenet_v3"), ("ShuffleNetV2", "shufflenet_v2"),
    ("VisionTransformer", "vision_transformer"), ("ConvNeXt", "convnext"), ("MaxVit", "maxvit"),
    ("BasicBlock", "basic_block"), ("ResNet", "resnet"), ("Inception3", "inception3"),
    ("SwinTransformer", "swin_transformer"), ("InvertedResidual", "inverted_residual"), ("VGG", "vgg"),
])
def test_class_names_become_spec_names(cls: str, name: str) -> None:
    assert snake_case(cls) == name


torch = pytest.importorskip("torch")
nn = torch.nn


class Encoder(nn.Module):
    def __init__(self, e: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(e)
        self.mlp = nn.Sequential(nn.Linear(e, 2 * e), nn.GELU(), nn.Linear(2 * e, e))

    def forward(self, x: Any) -> Any:
        y = self.ln_1(x)
        y, _ = self.attn(y, y, y, need_weights=False)
        x = x + y
        return x + self.mlp(self.ln_2(x))


class TinyViT(nn.Module):
    """Patches of 4 on 3×16×16 → 16 tokens of 24, a class token, a position embedding, 2 encoders."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 24, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, 24))
        self.pos = nn.Parameter(torch.zeros(1, 17, 24))
        self.layers = nn.Sequential(Encoder(24, 3), Encoder(24, 3))
        self.head = nn.Linear(24, 5)

    def forward(self, x: Any) -> Any:
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.layers(x)[:, 0])


class Conv(nn.Module):
    """A ConvNeXt-like block whose class name is a layer kind's."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.ones(c, 1, 1))

    def forward(self, x: Any) -> Any:
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(torch.nn.functional.gelu(self.fc1(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.gamma * y


class TinyConvNeXt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, 2)
        self.stage = nn.Sequential(Conv(8), Conv(8))
        self.head = nn.Linear(8, 3)

    def forward(self, x: Any) -> Any:
        return self.head(self.stage(self.stem(x)).mean((2, 3)))


def _truth(model: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """Σ numel of the parameters; FlopCounterMode / 2 (autograd on and the math SDPA backend, so that
    attention's QKᵀ and AV are counted as the matrix products they are)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
        model.eval()(torch.zeros(1, *shape))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "flat"])
@pytest.mark.parametrize("factory", [TinyViT, TinyConvNeXt])
def test_token_models_equal_pytorch(factory: Any, fold: bool) -> None:
    from cnncalc.importers import torch_spec_text
    from cnncalc.importers.common import spec_yaml
    from cnncalc.importers.torch import torch_to_spec
    torch.manual_seed(0)
    model = factory()
    shape = (3, 16, 16)
    text = spec_yaml(torch_to_spec(model, shape, fold=fold))
    a = analyse(build_graph(parse_spec(text, "m.yaml")))
    assert (a.totals.params, a.totals.macs) == _truth(model, shape)
    assert torch_spec_text  # the CLI's path: spec_text also analyses


def test_vit_kinds_and_names() -> None:
    from cnncalc.importers.torch import torch_to_spec
    spec = torch_to_spec(TinyViT(), (3, 16, 16), fold=False)
    kinds = [(e["name"], e["type"]) for e in spec["layers"]]
    assert kinds[:5] == [("proj", "conv"), ("reshape", "reshape"), ("permute", "permute"),
                         ("class_token", "class_token"), ("pos_embedding", "pos_embedding")]
    assert ("layers.0.attn", "attention") in kinds and kinds[-2:] == [("select_token", "select_token"),
                                                                      ("head", "fc")]


def test_a_block_is_never_named_like_a_kind() -> None:
    from cnncalc.importers.torch import torch_to_spec
    spec = torch_to_spec(TinyConvNeXt(), (3, 16, 16))
    assert set(spec["blocks"]) == {"conv_block"}
    assert all(layer_class(b) is None for b in spec["blocks"])
    assert [e["name"] for e in spec["layers"] if e["type"] == "conv_block"] == ["stage.0", "stage.1"]


class Norms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.gn = nn.GroupNorm(4, 16)
        self.down = nn.PixelUnshuffle(2)
        self.inorm = nn.InstanceNorm2d(64, affine=True, track_running_stats=True)
        self.up = nn.PixelShuffle(2)
        self.out = nn.Conv2d(16, 4, 1)

    def forward(self, x: Any) -> Any:
        return self.out(self.up(self.inorm(self.down(self.gn(self.conv(x))))))


def test_norms_and_shuffles_import_exactly() -> None:
    from cnncalc.importers.common import spec_yaml
    from cnncalc.importers.torch import torch_to_spec
    model = Norms()
    spec = torch_to_spec(model, (3, 8, 8))
    assert [e["type"] for e in spec["layers"]] == ["conv", "groupnorm", "pixel_unshuffle", "instancenorm",
                                                   "pixel_shuffle", "conv"]
    a = analyse(build_graph(parse_spec(spec_yaml(spec), "n.yaml")))
    params, macs = _truth(model, (3, 8, 8))
    assert (a.totals.params, a.totals.buffers, a.totals.macs) == (params, sum(b.numel() for b in model.buffers()), macs)


class WithAux(nn.Module):
    """An auxiliary head that eval never calls (as GoogLeNet's): 8·3 + 3 = 27 parameters unused."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.aux = nn.Sequential(nn.Linear(8, 3), nn.BatchNorm1d(3))
        self.fc = nn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        x = self.conv(x).mean((2, 3))
        if self.training:
            return self.aux(x)
        return self.fc(x)


def test_uncalled_modules_are_reported_with_their_counts() -> None:
    from cnncalc.importers.common import spec_yaml
    from cnncalc.importers.torch import torch_to_spec
    text = spec_yaml(torch_to_spec(WithAux(), (3, 8, 8)))
    # Linear(8, 3): 8·3 + 3 = 27; BatchNorm1d(3): γ, β = 6 parameters, running mean, var, counter = 7
    assert "# Not called by the traced forward, so in no layer below: 33 parameters and 7 buffer" in text
    assert "#   aux: 33 parameters, 7 buffer elements" in text
    assert "aux" not in text.split("layers:")[1]


class Unknown(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.conv2 = nn.Conv2d(4, 4, 1)

    def forward(self, x: Any) -> Any:
        y = torch.cumsum(self.conv(x), 1)  # no layer kind; the two layers after it cannot be tried
        return torch.relu(self.conv2(y))


def test_unsupported_counts_are_true() -> None:
    from cnncalc.errors import UsageError
    from cnncalc.importers.torch import torch_to_spec
    with pytest.raises(UsageError) as e:
        torch_to_spec(Unknown(), (3, 8, 8))
    msg = str(e.value)
    assert msg.startswith("cannot import 1 operation of the PyTorch model — cumsum (cumsum)")
    assert msg.endswith("; 2 operations after it that read its output could not be tried")
