"""Every command × every network: exit 0 and no traceback, as a user would run them.

The networks are every shipped spec (specs/*.yaml, specs/examples) and one small spec per
registered layer kind (enrolled from the registry: a new kind is in the matrix the day it is
added). The commands: ``table`` in every format with every column, ``compare``, ``sweep``,
``report``, ``plot``, ``explain`` on every layer, ``template`` then ``check`` of the table's own
answers (full marks), ``cost``, ``fit``, ``torch`` and ``import --torch`` of the code it writes.
Commands run in process (CliRunner); the slowest ones (plot, cost, fit, explain on every
layer) take a subset on the big networks to keep the file fast.
"""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.columns import COLUMNS
from cnncalc.graph import build_graph
from cnncalc.layers import LAYER_TYPES
from cnncalc.spec import load_spec, parse_spec, spec_dirs

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- the networks

#: Fields (and the layers before it) that make a small valid network for a kind; kinds not
#: listed are tried bare (``{type: kind}``) after a 3×3 conv on a 4×8×8 input.
#: The stem's 4×8×8 map as 64 tokens of 4 (the layers before a sequence kind).
TOKENS: list[dict[str, Any]] = [{"type": "permute", "dims": [1, 2, 0]}, {"type": "reshape", "shape": [64, 4]}]
KIND_CASES: dict[str, list[dict[str, Any]]] = {
    "conv": [{"type": "conv", "filters": 6, "kernel": 3, "stride": 2, "pad": "same", "groups": 2,
              "activation": "relu"}],
    "deconv": [{"type": "deconv", "filters": 4, "kernel": 4, "stride": 2, "pad": 1}],
    "fc": [{"type": "flatten"}, {"type": "fc", "units": 10, "activation": "relu"}, {"type": "fc", "units": 3}],
    "maxpool": [{"type": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": True}],
    "avgpool": [{"type": "avgpool", "kernel": 2, "pad": 1}],
    "adaptive_avgpool": [{"type": "adaptive_avgpool", "output": [3, 2]}],
    "adaptive_maxpool": [{"type": "adaptive_maxpool", "output": 2}],
    "channel_shuffle": [{"type": "channel_shuffle", "groups": 2}],
    "upsample": [{"type": "upsample", "scale": 2, "mode": "bilinear"}],
    "slice": [{"type": "slice", "start": 1, "end": 3}],
    "concat": [{"name": "b", "type": "conv", "filters": 2, "kernel": 1, "inputs": "stem"},
               {"type": "concat", "inputs": ["stem", "b"]}],
    "add": [{"name": "b", "type": "conv", "filters": 4, "kernel": 3, "pad": 1, "inputs": "stem"},
            {"type": "add", "inputs": ["stem", "b"]}],
    "multiply": [{"name": "gap", "type": "global_avgpool", "inputs": "stem"},
                 {"name": "gate", "type": "sigmoid"}, {"type": "multiply", "inputs": ["stem", "gate"]}],
    "layernorm": [{"type": "layernorm", "over": "all"}],
    "lrn": [{"type": "lrn", "size": 3}],
    "dropout": [{"type": "dropout", "p": 0.2}],
    "stochastic_depth": [{"type": "stochastic_depth", "p": 0.1}],
    "softmax": [{"type": "softmax"}],
    # channels-last maps and token sequences (ViT, Swin): a permute and a reshape make them
    "permute": [{"type": "permute", "dims": [1, 2, 0]}],
    "reshape": [{"type": "reshape", "shape": [4, 64]}],
    "window_attention": [{"type": "permute", "dims": [1, 2, 0]},
                         {"type": "window_attention", "heads": 2, "window": 4, "shift": 2}],
    "patch_merge": [{"type": "permute", "dims": [1, 2, 0]}, {"type": "patch_merge"}],
    "class_token": [*TOKENS, {"type": "class_token"}],
    "pos_embedding": [*TOKENS, {"type": "pos_embedding"}],
    "select_token": [*TOKENS, {"type": "select_token", "index": 0}],
    "attention": [*TOKENS, {"type": "class_token"}, {"type": "attention", "heads": 2}],
    "groupnorm": [{"type": "groupnorm", "groups": 2}],
    "pixel_shuffle": [{"type": "pixel_shuffle", "factor": 2}],
    "pixel_unshuffle": [{"type": "pixel_unshuffle", "factor": 2}],
    "pad": [{"type": "pad", "pad": 1, "mode": "reflect"}],
    "max_unpool": [{"type": "max_unpool", "kernel": 2, "stride": 2}],
    "constant_scale": [{"type": "constant_scale", "factor": 0.5}],
    "param_add": [{"type": "flatten"}, {"type": "param_add", "shape": [256]}],
    "param_mul": [{"type": "flatten"}, {"type": "param_mul", "shape": [256]}],
    "param_matmul": [{"type": "flatten"}, {"type": "param_matmul", "units": 10}],
    "subtract": [{"name": "b", "type": "conv", "filters": 4, "kernel": 3, "pad": 1, "inputs": "stem"},
                 {"type": "subtract", "inputs": ["stem", "b"]}],
    "batch_concat": [{"name": "f", "type": "flatten"}, {"name": "g", "type": "flatten", "inputs": "stem"},
                     {"type": "batch_concat", "inputs": ["f", "g"]}],
}


def kind_spec(kind: str) -> dict[str, Any]:
    layers = KIND_CASES.get(kind, [{"type": kind}])
    return {"name": f"kind_{kind}", "input": [4, 8, 8],
            "layers": [{"name": "stem", "type": "conv", "filters": 4, "kernel": 3, "pad": 1}, *layers]}


SHIPPED = sorted(p for d in spec_dirs() for p in (*d.glob("*.yaml"), *d.glob("examples/*.yaml")))


@pytest.fixture(scope="module")
def kind_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("kinds")
    for kind in LAYER_TYPES:
        (d / f"kind_{kind}.yaml").write_text(yaml.safe_dump(kind_spec(kind), sort_keys=False))
    return d


NETS = [pytest.param(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p), id=p.stem) for p in SHIPPED] + \
    [pytest.param(f"kind:{k}", id=f"kind_{k}") for k in sorted(LAYER_TYPES)]


def resolve(net: str, kind_dir: Path) -> str:
    return str(kind_dir / f"kind_{net[5:]}.yaml") if net.startswith("kind:") else net


def n_layers(spec: str) -> int:
    return len(build_graph(load_spec(spec)).nodes)


def big(spec: str) -> bool:
    """Networks whose slow commands take a subset (plot ≈ 0.1 s a bar; cost fits search batches)."""
    return n_layers(spec) > 60


#: Big networks that still go through every slow command (one of each family of structure).
REPRESENTATIVE = {"resnet50", "googlenet", "mobilenet_v3_large", "shufflenet_v2_x1_0"}


def heavy(spec: str) -> None:
    """Skip the slowest commands on the big networks but the representative ones."""
    if big(spec) and Path(spec).stem not in REPRESENTATIVE:
        pytest.skip("a slow command on a big network: the representative ones cover it")


def ok(args: list[str], *, code: int = 0) -> Any:
    res = runner.invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), \
        f"cnncalc {' '.join(args)} raised {type(res.exception).__name__}: {res.exception}"
    assert "Traceback" not in res.output and "Traceback" not in (res.stderr or ""), res.output
    assert res.exit_code == code, f"cnncalc {' '.join(args)} → {res.exit_code}: {res.stderr}"
    return res



ALL_COLUMNS = ",".join(c.key for c in COLUMNS)


def test_list_columns_lists_every_column() -> None:
    """What ``table --list-columns`` prints is what the matrix asks for (every column key)."""
    res = ok(["table", "lenet5", "--list-columns"])
    assert [line.split()[0] for line in res.stdout.splitlines() if line.strip()] == ALL_COLUMNS.split(",")


# ----------------------------------------------------------------------------- the matrix

def test_every_kind_has_a_valid_small_network(kind_dir: Path) -> None:
    """Meta-test: each registered kind's matrix network analyses (add a KIND_CASES entry if not)."""
    bad = []
    for kind in LAYER_TYPES:
        try:
            a = analyse(build_graph(parse_spec(yaml.safe_dump(kind_spec(kind)), f"kind_{kind}.yaml")))
            assert any(r.type == kind for r in a.rows)
        except Exception as e:
            bad.append(f"{kind}: {e}")
    assert not bad, "kinds without a valid matrix network (add to KIND_CASES):\n" + "\n".join(bad)


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json", "latex"])
@pytest.mark.parametrize("net", NETS)
def test_table_every_format_every_column(net: str, fmt: str, kind_dir: Path) -> None:
    spec = resolve(net, kind_dir)
    if fmt == "json":
        ok(["table", spec, "-f", "json"])
    else:
        ok(["table", spec, "-f", fmt, "-c", ALL_COLUMNS])


@pytest.mark.parametrize("net", NETS)
def test_compare_sweep_report(net: str, kind_dir: Path, tmp_path: Path) -> None:
    spec = resolve(net, kind_dir)
    ok(["sweep", spec, "-b", "1,4", "--dtype", "fp32,fp16"])
    ok(["report", spec, "-o", str(tmp_path / "r.html")])
    assert (tmp_path / "r.html").stat().st_size > 0
    ok(["compare", spec, "lenet5"])


@pytest.mark.parametrize("net", NETS)
def test_explain_every_layer(net: str, kind_dir: Path) -> None:
    spec = resolve(net, kind_dir)
    rows = analyse(build_graph(load_spec(spec))).rows
    if len(rows) > 20:  # one layer of each kind, and the last
        rows = (*tuple({r.type: r for r in rows}.values()), rows[-1])
    for r in rows:
        res = ok(["explain", spec, r.name])
        assert r.name in res.stdout


@pytest.mark.parametrize("net", NETS)
def test_template_then_check_own_answers(net: str, kind_dir: Path, tmp_path: Path) -> None:
    spec = resolve(net, kind_dir)
    heavy(spec)
    sheet = ok(["template", spec, "--totals"]).stdout
    # the worksheet may open with '# Note: …' lines (a pool that rounds up): the header follows them
    keys = next(csv.reader(line for line in io.StringIO(sheet) if not line.startswith("#")))
    filled = ok(["table", spec, "-f", "csv", "-c", ",".join(keys), "--decimals", "3"]).stdout
    path = tmp_path / "answers.csv"
    path.write_text(filled)
    ok(["check", spec, str(path)])  # exit 1 would be a wrong answer


@pytest.mark.parametrize("net", NETS)
def test_cost_and_fit(net: str, kind_dir: Path) -> None:
    spec = resolve(net, kind_dir)
    heavy(spec)
    ok(["cost", spec, "--device", "h100"])
    ok(["cost", spec, "--device", "a100-40gb", "--mode", "train", "-f", "json"])
    ok(["fit", spec, "--device", "h100"])


#: plot does not switch on kinds or structure: the examples and a few zoo networks (≈ 0.1 s a bar)
PLOTTED = [p for p in NETS if "examples" in str(p.values[0]) or p.id in ("lenet5", "alexnet", "vgg16_bn")]


@pytest.mark.parametrize("net", PLOTTED)
def test_plot(net: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    heavy(net)
    ok(["plot", net, "-o", str(tmp_path / "p.png")])
    assert (tmp_path / "p.png").stat().st_size > 0


def test_plot_every_kind_in_one_chart(kind_dir: Path, tmp_path: Path) -> None:
    """The per-kind networks, drawn together (the compare chart): plot code does not switch on kinds."""
    pytest.importorskip("matplotlib")
    ok(["plot", *(str(kind_dir / f"kind_{k}.yaml") for k in sorted(LAYER_TYPES)), "-o", str(tmp_path / "k.svg")])


_count = itertools.count()


#: Generated code that the torch.fx importer does not read back yet (its counts are still checked).
NOT_IMPORTED = {
    "kind:batch_concat": "written as torch.stack(dim=1), per sample; the importer reads torch.cat(dim=0)",
}


@pytest.mark.parametrize("net", NETS)
def test_torch_code_and_import_back(net: str, kind_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = resolve(net, kind_dir)
    code = ok(["torch", spec]).stdout
    compile(code, "model.py", "exec")  # valid Python without torch
    assert "import torch" in code
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    mod = f"cnncalc_matrix_{next(_count)}"
    (tmp_path / f"{mod}.py").write_text(code)
    cls = next(line.split()[1].split("(")[0] for line in code.splitlines()[::-1] if line.startswith("class "))
    a = analyse(build_graph(load_spec(spec)))
    # PyTorch's counts, on the meta device (no weights allocated): params, buffers, FlopCounterMode / 2
    ns: dict[str, Any] = {"__name__": mod}
    exec(compile(code, str(tmp_path / f"{mod}.py"), "exec"), ns)
    with torch.device("meta"):
        model = ns[cls]().eval()
        with FlopCounterMode(display=False) as counter:
            y = model(torch.zeros(1, *a.input))
    assert (sum(p.numel() for p in model.parameters()), sum(b.numel() for b in model.buffers()),
            counter.get_total_flops() // 2, tuple(y.shape[1:])) == \
        (a.totals.params, a.totals.buffers, a.totals.macs, a.rows[-1].output)
    heavy(spec)
    if net in NOT_IMPORTED:
        pytest.skip(NOT_IMPORTED[net])
    if a.totals.params > 30_000_000:
        pytest.skip("importing back runs the model on the CPU: VGG-sized fc weights dominate the time")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    shape = ",".join(map(str, a.input))
    back = ok(["import", "--torch", f"{mod}:{cls}", "--input", shape]).stdout
    b = analyse(build_graph(parse_spec(back, "back.yaml")))
    assert (b.totals.params, b.totals.buffers, b.totals.macs) == (a.totals.params, a.totals.buffers, a.totals.macs)
