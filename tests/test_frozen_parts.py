"""``trainable: weights`` / ``trainable: bias``: a layer of which only one part trains (the other has
requires_grad off), as fine-tuning only the biases (BitFit) or only BatchNorm's γ leaves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.errors import SpecError
from cnncalc.graph import build_graph
from cnncalc.spec import parse_spec

SPEC = """name: bitfit
input: [3, 8, 8]
layers:
  - {name: conv, type: conv, filters: 8, kernel: 3, trainable: bias}
  - {name: bn, type: batchnorm, trainable: weights}
  - {type: relu}
  - {type: flatten}
  - {name: fc, type: fc, units: 4, trainable: false}
"""


def test_totals_split_the_partly_frozen_layers() -> None:
    a = analyse(build_graph(parse_spec(SPEC, "bitfit.yaml")))
    # conv 8·3·3·3 = 216 weights (frozen) + 8 bias (trains); bn γ 8 (trains) + β 8 (frozen);
    # fc (8·6·6)·4 + 4 = 1,156 (frozen): trainable 8 + 8 = 16, frozen 216 + 8 + 1,156 = 1,380
    assert (a.totals.trainable, a.totals.non_trainable) == (16, 1380)
    assert a.totals.params == 16 + 1380
    assert [r.frozen for r in a.rows[:2]] == ["weights", "bias"]
    assert [r.frozen_params for r in a.rows] == [216, 8, 0, 0, 1156]


def test_json_says_the_frozen_part(tmp_path: Path) -> None:
    p = tmp_path / "bitfit.yaml"
    p.write_text(SPEC)
    r = CliRunner().invoke(app, ["table", str(p), "-f", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    layers = {row["name"]: row for row in data["layers"]}
    assert layers["conv"]["frozen"] == "weights" and layers["bn"]["frozen"] == "bias"
    assert layers["fc"]["trainable"] is False and "frozen" not in layers["fc"]
    assert data["totals"]["non_trainable_params"] == 1380


@pytest.mark.parametrize(("entry", "message"), [
    ("{type: conv, filters: 2, kernel: 1, trainable: gamma}", "trainable must be true, false, weights"),
    ("{type: blk, trainable: bias}", "applies to a layer, not to an instance of block 'blk'"),
])
def test_bad_values_are_positioned_errors(entry: str, message: str) -> None:
    text = ("name: f\ninput: [3, 4, 4]\nblocks:\n  blk:\n    layers:\n      - {type: conv, filters: 2, kernel: 1}\n"
            f"layers:\n  - {entry}\n")
    with pytest.raises(SpecError) as e:
        build_graph(parse_spec(text, "f.yaml"))
    assert "f.yaml:8:" in str(e.value) and message in str(e.value)


def test_frozen_block_freezes_a_partly_trainable_layer_whole() -> None:
    text = ("name: f\ninput: [3, 4, 4]\nblocks:\n  blk:\n    layers:\n"
            "      - {type: conv, filters: 2, kernel: 1, trainable: bias}\n"
            "layers:\n  - {type: blk, trainable: false}\n")
    a = analyse(build_graph(parse_spec(text, "f.yaml")))
    assert (a.totals.trainable, a.totals.non_trainable) == (0, 2 * 3 + 2)


def test_import_reads_requires_grad_per_tensor() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    from cnncalc.importers import spec_text
    from cnncalc.importers.torch import torch_to_spec
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    m[0].weight.requires_grad_(False)
    m[1].bias.requires_grad_(False)
    m[4].requires_grad_(False)
    text = spec_text(torch_to_spec(m, (3, 8, 8)), "model")
    assert "trainable: bias" in text and "trainable: weights" in text
    a = analyse(build_graph(parse_spec(text, "m.yaml")))
    # PyTorch is the oracle: parameters with and without requires_grad
    assert a.totals.trainable == sum(p.numel() for p in m.parameters() if p.requires_grad)
    assert a.totals.non_trainable == sum(p.numel() for p in m.parameters() if not p.requires_grad)
    assert isinstance(torch.__version__, str)


def test_import_refuses_other_mixes() -> None:
    pytest.importorskip("torch")
    from torch import nn

    from cnncalc.errors import UsageError
    from cnncalc.importers.torch import torch_to_spec
    m = nn.Sequential(nn.MultiheadAttention(8, 2, batch_first=True))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = m[0]

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.attn(x, x, x, need_weights=False)[0]

    net = Net()
    net.attn.in_proj_weight.requires_grad_(False)  # one of four tensors: no weights/bias split says it
    with pytest.raises(UsageError, match="trainable: weights / bias"):
        torch_to_spec(net, (4, 8))


_TENSORS = ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.sets(st.sampled_from(_TENSORS)))
@example({"0.weight", "1.bias"})
def test_generated_freezing_matches_pytorch(frozen: set[str]) -> None:
    # any subset of the six weight/bias tensors frozen: the import's trainable / frozen split is
    # PyTorch's own count of parameters with and without requires_grad
    pytest.importorskip("torch")
    from torch import nn

    from cnncalc.importers import spec_text
    from cnncalc.importers.torch import torch_to_spec
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4))
    for name, p in m.named_parameters():
        p.requires_grad_(name not in frozen)
    a = analyse(build_graph(parse_spec(spec_text(torch_to_spec(m, (3, 8, 8)), "model"), "m.yaml")))
    assert a.totals.trainable == sum(p.numel() for p in m.parameters() if p.requires_grad)
    assert a.totals.non_trainable == sum(p.numel() for p in m.parameters() if not p.requires_grad)
