"""cnncalc torch: the generated file's layout, names, CLI behaviour and errors.

The numbers of the generated code are checked against PyTorch in test_torch_oracle.py; this file
checks what a reader sees and what a user gets at the command line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.codegen import MODULE_ATTRS, class_name, identifier, torch_source
from cnncalc.graph import build_graph
from cnncalc.spec import load_spec, parse_spec

runner = CliRunner()


def _source(spec: dict[str, object], flat: bool = False) -> str:
    return torch_source(build_graph(parse_spec(yaml.safe_dump(spec, sort_keys=False), "t.yaml")), flat=flat).text


@pytest.mark.parametrize(("name", "want"), [
    ("conv1", "conv1"), ("downsample.0", "downsample_0"), ("2x", "_2x"), ("class", "class_"),
    ("train", "train_"), ("x", "x_"), ("input", "input_"), ("a-b c", "a_b_c"), ("__init__", "m__init__"),
])
def test_identifier(name: str, want: str) -> None:
    assert identifier(name, set(), MODULE_ATTRS) == want


def test_identifier_keeps_names_apart() -> None:
    taken: set[str] = set()
    assert [identifier(n, taken) for n in ("a.b", "a_b", "a.b")] == ["a_b", "a_b_2", "a_b_3"]


def test_class_names() -> None:
    assert class_name("basic_down", set()) == "BasicDown"
    assert class_name("resnet18", set()) == "Resnet18"
    assert class_name("3d", set()) == "Net3d"


def test_resnet18_reads_like_torchvision() -> None:
    text = torch_source(build_graph(load_spec("resnet18"))).text
    # one class per block type; the numbers that differ between instances are arguments named
    # after the block's own argument c, and c_in for the input channels
    assert "class Basic(nn.Module):" in text and "class BasicDown(nn.Module):" in text
    assert "def __init__(self, c: int) -> None:" in text
    assert "self.layer2_0 = BasicDown(c_in=64, c=128)" in text
    assert "self.conv1 = nn.Conv2d(c_in, c, kernel_size=3, stride=2, padding=1, bias=False)" in text
    assert "self.downsample_0 = nn.Conv2d(c_in, c, kernel_size=1, stride=2, bias=False)  # downsample.0" in text
    # the shortcut is named, the chain is x
    assert "x = x + input" in text
    assert "import torch\n" in text and "import torch.nn.functional" not in text
    compile(text, "resnet18.py", "exec")


def test_flat_has_one_class() -> None:
    text = torch_source(build_graph(load_spec("resnet18")), flat=True).text
    assert text.count("class ") == 1
    assert "self.layer1_0_conv1 = nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False)  # layer1_0.conv1" in text


def test_forward_names_branches_and_joins() -> None:
    text = _source({"name": "t", "input": [4, 8, 8], "layers": [
        {"name": "a", "type": "conv", "filters": 2, "kernel": 1},
        {"name": "b", "type": "conv", "filters": 3, "kernel": 3, "pad": 1, "inputs": "input"},
        {"name": "cat", "type": "concat", "inputs": ["a", "b"]},
        {"name": "gap", "type": "global_avgpool"},
        {"name": "gate", "type": "sigmoid"},
        {"name": "se", "type": "multiply", "inputs": ["cat", "gate"]},
        {"name": "pad", "type": "conv", "filters": 5, "kernel": 2, "pad": [0, 1, 0, 1], "activation": "relu"},
    ]})
    assert "def forward(self, input: torch.Tensor) -> torch.Tensor:" in text
    assert "a = self.a(input)" in text and "x = self.b(input)" in text
    assert "cat = torch.cat([a, x], dim=1)" in text
    assert "x = cat.mean((2, 3), keepdim=True)" in text
    assert "x = cat * x" in text
    # asymmetric padding: F.pad (left, right, top, bottom), then the conv; the fused relu its own module
    assert "x = self.pad_relu(self.pad(F.pad(x, (0, 1, 0, 1))))" in text
    assert "import torch.nn.functional as F" in text


def test_names_python_does_not_allow() -> None:
    text = _source({"name": "t", "input": [3, 8, 8], "layers": [
        {"name": "train", "type": "conv", "filters": 2, "kernel": 1},
        {"name": "class", "type": "relu"},
        {"name": "2.x", "type": "relu"},
    ]})
    assert "self.train_ = nn.Conv2d(3, 2, kernel_size=1)  # train" in text
    assert "self.class_ = nn.ReLU()  # class" in text
    assert "self._2_x = nn.ReLU()  # 2.x" in text


def test_cli_stdout_and_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["torch", "lenet5"])
    assert res.exit_code == 0 and res.stdout.startswith('"""lenet5')
    out = tmp_path / "m.py"
    res = runner.invoke(app, ["torch", "lenet5", "-o", str(out), "--input", "1,32,32"])
    assert res.exit_code == 0 and out.read_text().startswith('"""lenet5')
    assert f"wrote {out}" in res.stderr


def test_cli_unwritable_layer_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump({"name": "bad", "input": [4, 8, 8], "layers": [
        {"name": "stem", "type": "conv", "filters": 4, "kernel": 1},
        {"name": "vec", "type": "global_avgpool"}, {"name": "flat", "type": "flatten"},
        {"name": "fc", "type": "fc", "units": 8},
        {"name": "mul", "type": "multiply", "inputs": ["stem", "fc"]},
    ]}))
    res = runner.invoke(app, ["torch", str(spec)])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: cannot write PyTorch code for:")
    assert "mul (multiply)" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""


def test_cli_bad_spec_is_positioned(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, filters: 2, kernel: 9}\n")
    res = runner.invoke(app, ["torch", str(spec)])
    assert res.exit_code == 2 and f"{spec}:4:" in res.stderr


def test_symbolic_sizes_need_values(tmp_path: Path) -> None:
    from cnncalc.errors import UsageError
    g = build_graph(load_spec(str(Path(__file__).parent.parent / "specs/examples/resnet_basic_block.yaml")), symbolic=True) if _has_sympy() else None
    if g is None:
        pytest.skip("sympy")
    with pytest.raises(UsageError, match="needs numbers"):
        torch_source(g)


def _has_sympy() -> bool:
    try:
        import sympy  # noqa: F401
    except ImportError:
        return False
    return True


def test_hostile_names_and_docs_still_compile() -> None:
    text = _source({"name": "t", "title": 'a "quoted" title"', "input": [3, 8, 8],
                    "blocks": {"b": {"doc": 'ends in """ and \\ a\nsecond line"', "layers": [{"type": "relu"}]}},
                    "layers": [{"name": 'a"""b\nc', "type": "conv", "filters": 2, "kernel": 1},
                               {"name": "x²", "type": "b"}, {"name": "é", "type": "relu"}]})
    compile(text, "t.py", "exec")
    assert "self.x_ = B()  # x²" in text and "self.é = nn.ReLU()" in text
