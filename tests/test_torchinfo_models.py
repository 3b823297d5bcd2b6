"""torchinfo's own test models through ``cnncalc import --torch`` and ``--convention torchinfo``.

The oracle is torchinfo itself: ``summary(model, input_size=(batch, *shape))``'s total params,
trainable params and total mult-adds, frozen in tests/reference/torchinfo_models.json (written by
running this file as a script with torchinfo installed) and checked against a live torchinfo
where it is installed. cnncalc goes the user's way: the CLI imports the model, the CLI prints
the table as JSON at the test's batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import app

torch = pytest.importorskip("torch")
import torchinfo_models as tm  # noqa: E402
from torch import nn  # noqa: E402

REFERENCE = Path(__file__).parent / "reference" / "torchinfo_models.json"
FIGURES: dict[str, dict[str, Any]] = json.loads(REFERENCE.read_text())["cases"] if REFERENCE.is_file() else {}
runner = CliRunner()

#: Where torchinfo's figure is not the model's: it counts a torch.jit.script submodule's
#: parameters twice (once as the script module, once as its inner original) and hooks none of
#: its calls, so partial_jit's 38,400 params are 21,840 + the two scripted linears' 16,560 again.
TORCHINFO_WRONG = {"partial_jit"}


def _has_torchvision() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # not installed, or built for another torch
        return False
    return True


def _import(name: str, tmp_path: Path) -> Any:
    c = tm.CASES[name]
    out = tmp_path / f"{name}.yaml"
    cmd = ["import", "--torch", f"torchinfo_models:{c.factory}", "-o", str(out)]
    for shape in c.inputs:
        cmd += ["--input", ",".join(map(str, shape))]
    for k, v in c.args.items():
        cmd += ["--arg", f"{k}={v}"]
    if c.train:
        cmd.append("--train")
    return runner.invoke(app, cmd), out


def _cnncalc_figures(name: str, tmp_path: Path) -> dict[str, int]:
    r, spec = _import(name, tmp_path)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["table", str(spec), "--batch", str(tm.CASES[name].batch), "--convention", "torchinfo",
                            "-f", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    return {"total_params": data["totals"]["params"], "trainable_params": data["totals"]["trainable_params"],
            "total_mult_adds": data["convention"]["total"]}


def _cases(refused: bool) -> list[Any]:
    out = []
    for name, c in tm.CASES.items():
        if (name in tm.REFUSED) != refused:
            continue
        marks = [pytest.mark.skipif(not _has_torchvision(), reason="needs torchvision")] if c.torchvision else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _cases(refused=False))
def test_reproduces_torchinfo(name: str, tmp_path: Path) -> None:
    got = _cnncalc_figures(name, tmp_path)
    if name in TORCHINFO_WRONG:
        model = getattr(tm, tm.CASES[name].factory)()
        assert got["total_params"] == sum(p.numel() for p in model.parameters()) != FIGURES[name]["total_params"]
        return
    assert got == FIGURES[name]


@pytest.mark.parametrize("name", _cases(refused=True))
def test_refused_in_one_line(name: str, tmp_path: Path) -> None:
    r, _ = _import(name, tmp_path)
    if name in tm.SEQUENCES and r.exit_code == 0:  # [tokens, features] inputs arrived (issue 15)
        assert _cnncalc_figures(name, tmp_path) == FIGURES[name]
        return
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and tm.REFUSED[name] in lines[0], r.output
    assert "Traceback" not in r.output


def test_count() -> None:
    """The issue's bar: at least 30 of the cases reproduce torchinfo; the rest are refused."""
    reproduced = [n for n in tm.CASES if n not in tm.REFUSED and n not in TORCHINFO_WRONG]
    assert len(reproduced) >= 30
    assert set(FIGURES) == set(tm.CASES)


def test_reused_module_is_one_tensor(tmp_path: Path) -> None:
    """ReuseLinear: one Linear(10, 10) called 4 times: 110 params (10·10 + 10), not 440; torchinfo's
    mult-adds count each call: 4 calls × 110 × batch 2 = 880."""
    r, spec = _import("too_many_linear", tmp_path)
    assert r.exit_code == 0, r.output
    text = spec.read_text()
    assert text.count("weights: model.0") == 3  # the 2nd–4th calls
    assert _cnncalc_figures("too_many_linear", tmp_path) == \
        {"total_params": 110, "trainable_params": 110, "total_mult_adds": 4 * 110 * 2}


def test_unused_parameters_are_named(tmp_path: Path) -> None:
    """ModuleDictModel with conv + leaky ReLU: the PReLU never runs; its 1 slope is still a parameter."""
    r, spec = _import("module_dict_conv_lrelu", tmp_path)
    assert r.exit_code == 0, r.output
    assert "- {name: activations.prelu, params: 1}" in spec.read_text()
    r = runner.invoke(app, ["table", str(spec)])
    assert "Params total includes 1 that no layer uses: activations.prelu (1)" in r.stdout


@pytest.mark.skipif(not _has_torchvision(), reason="needs torchvision")
def test_frozen_resnet18_split(tmp_path: Path) -> None:
    """The first 30 parameter tensors of resnet18 end at layer2.1.bn2.bias: conv1 9,408 + bn1 128 +
    layer1 147,968 + layer2.0 230,144 (incl. downsample 8,192 + 256) + layer2.1 conv1, bn1, conv2, bn2
    2·(147,456 + 256) = 295,424 → 683,072 frozen (the issue's figure)."""
    figures = _cnncalc_figures("frozen_layers", tmp_path)
    assert figures["total_params"] - figures["trainable_params"] == \
        9_408 + 128 + 147_968 + 230_144 + 2 * (147_456 + 256) == 683_072


def _torchinfo_figures(name: str) -> dict[str, Any]:
    from torchinfo import summary
    c = tm.CASES[name]
    model = getattr(tm, c.factory)()
    sizes = [(c.batch, *s) for s in c.inputs]
    try:
        if not sizes:
            r = summary(model, verbose=0)
        else:
            r = summary(model, input_size=sizes if len(sizes) > 1 else sizes[0], verbose=0,
                        mode="train" if c.train else "eval", **c.args)
    except Exception as e:  # torchinfo itself fails on some (FunctionalNet at batch 1)
        return {"error": type(e).__name__}
    return {"total_params": r.total_params, "trainable_params": r.trainable_params,
            "total_mult_adds": r.total_mult_adds}


@pytest.mark.parametrize("name", ["single_input", "too_many_linear", "container", "module_dict_pool_prelu",
                                  "siamese_net", "nested_leftover_params", "autoencoder"])
def test_frozen_figures_are_torchinfos(name: str) -> None:
    pytest.importorskip("torchinfo")
    assert _torchinfo_figures(name) == FIGURES[name]


if __name__ == "__main__":  # regenerate the reference: python tests/test_torchinfo_models.py
    import torchinfo
    figures = {name: _torchinfo_figures(name) for name in tm.CASES}
    data = {"tool": f"torchinfo {torchinfo.__version__}", "torch": torch.__version__,
            "how": "summary(model, input_size=(batch, *shape), mode=...).total_params / trainable_params / "
                   "total_mult_adds", "cases": figures}
    REFERENCE.write_text(json.dumps(data, indent=1) + "\n")
    sys.stdout.write(f"wrote {REFERENCE}\n")


@pytest.mark.parametrize("argv,message", [
    # a two-input model given one input: named, not a traceback from shape propagation
    (["--torch", "torchinfo_models:SiameseNets", "--input", "1,88,88"],
     "SiameseNets.forward needs 'x2': give it with --input (a tensor) or --arg x2=VALUE"),
    (["--torch", "torchinfo_models:ModuleDictModel", "--input", "10,3,3", "--arg", "layer_type=conv"],
     "needs 'activation_type'"),
    (["--torch", "torchinfo_models:RecursiveNet", "--input", "64,8,8", "--arg", "nope=1"],
     "RecursiveNet.forward has no argument 'nope' after its inputs (it takes: x, args1, args2)"),
    (["--torch", "torchinfo_models:RecursiveNet", "--input", "64,8,8", "--arg", "args1"], "--arg wants NAME=VALUE"),
    (["--torch", "torchinfo_models:SingleInputNet", "--input", "1,28,28", "--input", "3"],
     "2 inputs given but SingleInputNet.forward takes 1"),
])
def test_import_argument_errors(argv: list[str], message: str) -> None:
    r = runner.invoke(app, ["import", *argv])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bare_module_is_a_one_layer_model(tmp_path: Path) -> None:
    """nn.Linear(2, 5) given as the model: one fc row named linear; 2·5 + 5 = 15 params."""
    r, spec = _import("single_linear_layer", tmp_path)
    assert r.exit_code == 0, r.output
    assert "- {name: linear, type: fc, units: 5}" in spec.read_text()


class _Holder(nn.Module):
    """Runs ``seq``; ``spare`` is registered and never called."""

    def __init__(self, seq: nn.Module, spare: nn.Module | None) -> None:
        super().__init__()
        self.seq = seq
        if spare is not None:
            self.spare = spare

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)  # type: ignore[no-any-return]


@settings(max_examples=12, deadline=None, derandomize=True)
# found: entries 0, 1 folded into a repeat whose instances 0_1, 0_2 took the name of the call 0_1
@example(width=1, picks=[1, 0, 1], frozen=set(), unused=False)
@given(width=st.integers(1, 6), picks=st.lists(st.integers(0, 3), min_size=1, max_size=7),
       frozen=st.sets(st.integers(0, 3)), unused=st.booleans())
def test_generated_reuse_and_freezing_match_pytorch(width: int, picks: list[int], frozen: set[int],
                                                    unused: bool) -> None:
    """A Sequential calling 4 Linear(w, w) instances in a random order (repeats reuse one), some frozen,
    one maybe never called: params and the trainable split equal PyTorch's own counts."""
    from cnncalc.analysis import analyse
    from cnncalc.graph import build_graph
    from cnncalc.importers import spec_text
    from cnncalc.importers.torch import torch_to_spec
    from cnncalc.spec import parse_spec
    pool = [nn.Linear(width, width) for _ in range(4)]
    for i in frozen:
        pool[i].requires_grad_(False)
    model = _Holder(nn.Sequential(*[pool[i] for i in picks]), nn.Linear(width, 3) if unused else None)
    spec = torch_to_spec(model, (width,))
    a = analyse(build_graph(parse_spec(spec_text(spec, "gen"), "gen.yaml")))
    params = list(model.parameters())  # each tensor once
    assert a.totals.params == sum(p.numel() for p in params)
    assert a.totals.trainable == sum(p.numel() for p in params if p.requires_grad)
    assert a.totals.macs == len(picks) * width * width  # every call: w·w multiply-adds
