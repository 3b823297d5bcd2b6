"""PyTorch import (torch.fx): specs whose params and MACs equal PyTorch's count and FlopCounterMode / 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnncalc.analysis import Analysis, analyse
from cnncalc.cli import app
from cnncalc.errors import UsageError
from cnncalc.graph import build_graph
from cnncalc.spec import parse_spec

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from torch_models import MODELS  # noqa: E402

from cnncalc.importers import spec_text  # noqa: E402
from cnncalc.importers.torch import load_factory, torch_to_spec  # noqa: E402

TESTS = Path(__file__).parent
runner = CliRunner()


def _imported(model: Any, shape: tuple[int, ...], fold: bool = True) -> tuple[dict[str, Any], Analysis]:
    spec = torch_to_spec(model, shape, fold=fold)
    return spec, analyse(build_graph(parse_spec(spec_text(spec, "test"), "imported.yaml")))


def _truth(model: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, *shape))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "flat"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_params_and_macs_equal_pytorch(name: str, fold: bool) -> None:
    factory, shape = MODELS[name]
    model = factory()
    _, a = _imported(model, shape, fold)
    assert (a.totals.params, a.totals.macs) == _truth(model, shape)


def test_module_names_and_repeated_calls() -> None:
    factory, shape = MODELS["branchy"]
    _, a = _imported(factory(), shape, fold=False)
    names = [r.name for r in a.rows]
    # the residual block calls self.relu twice: relu, then relu_1 (PyTorch's ONNX naming)
    assert names[names.index("blocks.0.conv1"):names.index("blocks.0.conv1") + 13] == [
        "blocks.0.conv1", "blocks.0.bn1", "blocks.0.relu", "blocks.0.conv2", "blocks.0.bn2", "blocks.0.se.avgpool",
        "blocks.0.se.fc1", "blocks.0.se.relu", "blocks.0.se.fc2", "blocks.0.se.gate", "blocks.0.se.mul",
        "blocks.0.add", "blocks.0.relu_1"]
    se = next(r for r in a.rows if r.name == "blocks.0.se.mul")
    assert se.type == "multiply" and se.inputs == ((40, 9, 9), (40, 1, 1))


def test_blocks_are_named_after_classes() -> None:
    factory, shape = MODELS["branchy"]
    spec, _ = _imported(factory(), shape)
    assert set(spec["blocks"]) == {"inception", "residual_block"}  # "residual" is an alias of add
    factory, shape = MODELS["shuffle"]
    spec, _ = _imported(factory(), shape)
    assert set(spec["blocks"]) == {"shuffle_unit"}
    # the three units keep PyTorch's names (a repeat would rename them stage_1 … stage_3)
    assert [e["name"] for e in spec["layers"] if e["type"] == "shuffle_unit"] == ["stage.0", "stage.1", "stage.2"]


class Functional(nn.Module):
    """The functional spellings: F.relu, torch.cat, x.chunk, x[:, a:b], x·sigmoid(x), x.mean, F.interpolate…"""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(8, 1, 1))
        self.shuffle = nn.ChannelShuffle(2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, a[:, :2], a[:, 2:]], dim=1)
        x = x * torch.sigmoid(x)
        x = self.shuffle(self.scale * x)
        x = F.max_pool2d(x, 2)
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.adaptive_avg_pool2d(x, 2).mean((2, 3))
        return self.fc(F.dropout(x, 0.1, self.training))  # type: ignore[no-any-return]


def test_functional_spellings() -> None:
    model = Functional()
    _, a = _imported(model, (3, 8, 8), fold=False)
    assert [(r.name, r.type) for r in a.rows] == [
        ("conv", "conv"), ("relu", "relu"), ("slice", "slice"), ("slice_1", "slice"), ("slice_2", "slice"),
        ("slice_3", "slice"), ("concat", "concat"), ("silu", "silu"), ("layer_scale", "layer_scale"),
        ("shuffle", "channel_shuffle"), ("maxpool", "maxpool"), ("upsample", "upsample"),
        ("adaptive_avgpool", "adaptive_avgpool"), ("mean", "global_avgpool"), ("flatten", "flatten"),
        ("dropout", "dropout"), ("fc", "fc")]
    assert (a.totals.params, a.totals.macs) == _truth(model, (3, 8, 8))


def test_unsupported_operations_are_named() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.act = nn.Softshrink()  # (PReLU was refused before it became the prelu kind)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.erf(self.act(self.conv(x)))

    with pytest.raises(UsageError) as e:
        torch_to_spec(Odd(), (3, 8, 8))
    assert "Softshrink (act): no cnncalc layer kind" in str(e.value)


def test_load_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    assert isinstance(load_factory("torch_models:plain"), nn.Module)
    assert isinstance(load_factory("torch_models:Plain"), nn.Module)  # a class is a factory too
    for ref, msg in [("torch_models", "package.module:factory"), ("no_such_mod:x", "cannot import"),
                     ("torch_models:nope", "no attribute"), ("torch_models:MODELS", "neither")]:
        with pytest.raises(UsageError, match=msg):
            load_factory(ref)


def test_cli_import_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(TESTS)
    out = tmp_path / "decoder.yaml"
    r = runner.invoke(app, ["import", "--torch", "torch_models:decoder", "--input", "3,16,16", "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "type: deconv" in text and "output_padding: 1" in text and "mode: bilinear" in text
    r = runner.invoke(app, ["import", "--torch", "torch_models:plain", "--input", "3,1,1"])
    assert r.exit_code == 2 and "failed" in r.output  # 1×1 is too small for its 2×2 pool
