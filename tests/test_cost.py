"""Cost models: plug-in registry (fake entry points), device files, the memory replay and the
roofline by hand, the largest-batch search, and the CLI commands (cost, fit, devices, calibrate)."""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, load_spec, parse_spec
from cnncalc.analysis import DType
from cnncalc.cli import app
from cnncalc.cost import (
    Amp,
    CostModel,
    CostModelLoadError,
    CostModelNotFound,
    CostReport,
    Mode,
    Optimizer,
    Workload,
    discover,
    largest_batch,
    load,
    load_device,
    preset_names,
)
from cnncalc.cost.calibrate import require_torch
from cnncalc.cost.devices import Device, parse_device
from cnncalc.cost.memory import simulate_memory
from cnncalc.cost.registry import BUILTIN, GROUP
from cnncalc.cost.timing import _pipeline, kernel_time
from cnncalc.errors import SpecError, UsageError
from cnncalc.layers import LAYER_TYPES
from cnncalc.layers.base import Kernel, KernelClass, Saved
from cnncalc.spec import zoo_names

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

# A device with round numbers, so that times and bytes can be worked by hand.
TOY = """\
name: toy
memory_bytes: 1000000
memory_bandwidth: 1.0e11
peak_flops: {fp32: 1.0e12}
efficiency:
  matmul: {compute: 0.5, memory: 0.5}
  elementwise: {memory: 0.8}
overheads: {kernel_s: 0.0, host_op_s: 0.0, host_backward_op_s: 0.0, host_step_s: 0.0}
memory_rules: {alloc_rounding: 512, framework_bytes: 0, conv_workspace_input: 0, conv_workspace_output: 0}
"""

TINY = """\
name: tiny
input: [3, 8, 8]
layers:
  - {name: conv, type: conv, filters: 4, kernel: 3, pad: 1, bias: false}
  - {name: relu, type: relu, inplace: true}
  - {name: flat, type: flatten}
  - {name: fc, type: fc, units: 10}
"""


def toy() -> Device:
    return parse_device(TOY, "toy.yaml")


def tiny() -> Any:
    return build_graph(parse_spec(TINY, "tiny.yaml"))


# ----------------------------------------------------------------------------- memory replay, by hand

def test_inference_peak_by_hand() -> None:
    """Batch 2, fp32, 512-byte rounding.

    weights: conv 4·3·3·3 = 108 el = 432 B → 512; fc 10·256 = 2,560 el = 10,240 B; fc bias 40 B → 512
    → 11,264. Input 3·8·8·2·4 = 1,536. conv output 4·8·8·2·4 = 2,048 (relu in place, flatten a
    view). fc output 80 B → 512, while the conv output is still read: 11,264 + 1,536 + 2,048 + 512.
    """
    g = tiny()
    r = simulate_memory(g, analyse(g, 1), toy(), Workload(Mode.INFER, 2))
    assert r.breakdown.peak == 15_360
    assert r.breakdown.weights == 11_264
    assert r.peak_at == "forward fc"


def test_training_peak_by_hand() -> None:
    """Plain SGD, batch 2. The peak is relu's backward:

    weights 11,264; gradients fc 10,240 + 512 (done), conv not yet → 10,752; activations: input
    1,536, int64 targets 16 → 512, conv output 2,048 (relu saved it) → 4,096; transient: the
    gradient reaching relu 2,048 and relu's new input gradient 2,048 → 4,096. Sum 30,208.
    """
    g = tiny()
    r = simulate_memory(g, analyse(g, 1), toy(), Workload(Mode.TRAIN, 2, optimizer=Optimizer.SGD))
    b = r.breakdown
    assert (b.weights, b.gradients, b.optimizer_state, b.activations, b.transient, b.workspace) == \
        (11_264, 10_752, 0, 4_096, 4_096, 0)
    assert b.peak == 30_208
    assert r.peak_at == "backward relu"


def test_optimizer_state_copies() -> None:
    """Momentum keeps 1× the parameters (3 tensors: 512 + 10,240 + 512), Adam 2×; Adam's foreach
    step adds sqrt(v) for every parameter at once."""
    g = tiny()
    a = analyse(g, 1)
    states = {o: simulate_memory(g, a, toy(), Workload(Mode.TRAIN, 2, optimizer=o)).breakdown.optimizer_state
              for o in Optimizer}
    assert states[Optimizer.SGD] == 0
    assert states[Optimizer.MOMENTUM] == 11_264
    assert states[Optimizer.ADAM] == states[Optimizer.ADAMW] == 3 * 11_264  # 2 moments + the step's temporary


def test_fp16_halves_weights_and_activations() -> None:
    g = tiny()
    r = simulate_memory(g, analyse(g, 1), toy(), Workload(Mode.INFER, 2, DType.FP16))
    # weights 216 → 512, 5,120, 20 → 512; input 768 → 1,024; conv 1,024; fc 40 → 512
    assert r.breakdown.peak == 6_144 + 1_024 + 1_024 + 512


def test_dead_end_outputs_are_freed() -> None:
    """A branch nobody reads ('side': 4·2 floats → 512 B) is freed at once: at fc the total is
    still 15,360 (15,872 if 'side' stayed alive)."""
    lines = TINY.splitlines()
    spec = "\n".join([*lines[:4], "  - {name: side, type: global_avgpool}",
                      "  - {name: relu, type: relu, inplace: true, inputs: [conv]}", *lines[5:]]) + "\n"
    g = build_graph(parse_spec(spec, "side.yaml"))
    r = simulate_memory(g, analyse(g, 1), toy(), Workload(Mode.INFER, 2))
    assert [n.name for n in g.nodes] == ["conv", "side", "relu", "flat", "fc"]
    assert r.breakdown.peak == 15_360


# ----------------------------------------------------------------------------- what layers say

def _instances() -> list[tuple[str, Any, tuple[tuple[int, ...], ...]]]:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_layers import EXAMPLES
    from test_layers_misc import CASES as MISC
    from test_layers_modern import CASES
    from test_layers_tokens import CASES as TOKENS
    out = [(k, LAYER_TYPES[k].model_validate(args), tuple(ins)) for k, v in EXAMPLES.items() for args, ins, *_ in v]
    out += [(c[0], LAYER_TYPES[c[0]].model_validate(c[1]), tuple(c[2])) for c in (*CASES, *MISC, *TOKENS)]
    return out


INSTANCES = _instances()


def test_every_kind_is_enrolled() -> None:
    assert {k for k, _, _ in INSTANCES} == set(LAYER_TYPES)


@pytest.mark.parametrize("kind,layer,ins", INSTANCES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(INSTANCES)])
@pytest.mark.parametrize("train", [False, True])
def test_runtime_description_is_consistent(kind: str, layer: Any, ins: Any, train: bool) -> None:
    out = layer.output_shape(ins)
    for s in (*layer.saved_for_backward(ins, out), *layer.inference_scratch(ins, out)):
        assert isinstance(s, Saved)
        assert s.source != "input" or 0 <= s.index < len(ins)
        assert s.source != "new" or s.numel > 0
    for k in layer.kernels(ins, out, train):
        assert isinstance(k, Kernel) and min(k.macs, k.reads, k.writes, k.weights, k.extra_bytes) >= 0
    assert sum(layer.param_tensors(ins)) == layer.params(ins).total
    assert sum(n for n, _ in layer.buffer_tensors(ins)) == layer.buffers(ins)
    if layer.output_storage(train) == "view":
        assert layer.kernels(ins, out, train) == ()
    # the MACs the cost model charges are the table's MACs
    assert sum(k.macs for k in layer.kernels(ins, out, train)) == layer.macs(ins, out)


def test_what_autograd_keeps_per_kind() -> None:
    """The PyTorch facts the memory model rests on (derivatives.yaml)."""
    def make(kind: str, **args: Any) -> Any:
        return LAYER_TYPES[kind].model_validate(args)
    x = ((8, 4, 4),)
    o = (8, 4, 4)
    assert make("relu", inplace=True).saved_for_backward(x, o) == (Saved("output"),)  # threshold_backward(result)
    assert make("relu6", inplace=True).saved_for_backward(x, o) == (Saved("new", numel=128),)  # hardtanh_ clones
    assert make("leaky_relu", inplace=True).saved_for_backward(x, o) == (Saved("output"),)  # self_is_result
    assert make("gelu").saved_for_backward(x, o) == (Saved("input"),)
    assert make("conv", filters=8, kernel=3, pad=1).saved_for_backward(x, o) == (Saved("input"),)
    assert make("maxpool", kernel=2).saved_for_backward(x, (8, 2, 2)) == (Saved("input"),
                                                                        Saved("new", numel=32, elem="int64"))
    assert make("dropout").saved_for_backward(x, o) == (Saved("new", numel=128, elem="bool"),)
    assert make("dropout").output_storage(train=False) == "view"
    assert make("add").saved_for_backward(x * 2, o) == () and make("add").grad_passthrough()
    assert make("concat").saved_for_backward(x * 2, (16, 4, 4)) == ()
    assert make("adaptive_avgpool", output=1).saved_for_backward(x, (8, 1, 1)) == ()  # mean: shape only
    assert make("adaptive_avgpool", output=2).saved_for_backward(x, (8, 2, 2)) == (Saved("input"),)
    bn = make("batchnorm").saved_for_backward(x, o)
    assert bn[0] == Saved("input") and all(s.elem == "fp32" and not s.per_sample for s in bn[1:])
    assert make("flatten").output_storage(train=True) == "view"


# ----------------------------------------------------------------------------- roofline, by hand

def test_roofline_compute_bound_by_hand() -> None:
    """fc 1000 → 1000 at batch 1000, fp32: 2·10⁹ FLOP / (10¹² · 0.5) = 4 ms; bytes (1000 + 1000)·1000·4
    + 10⁶·4 = 1.2·10⁷ / (10¹¹ · 0.5) = 0.24 ms → compute bound, 4 ms."""
    k = Kernel(KernelClass.MATMUL, macs=1_000_000, reads=1000, writes=1000, weights=1_000_000, channels=1000)
    t = kernel_time(k, 1000, 4, 4, "fp32", toy(), Workload(Mode.INFER, 1000))
    assert t.seconds == pytest.approx(4e-3)
    assert t.bound == "compute" and t.flops == 2_000_000_000 and t.bytes == 12_000_000


def test_roofline_memory_bound_by_hand() -> None:
    """relu over 10⁶ elements at batch 10, fp32: 2·10⁷·4 bytes / (10¹¹ · 0.8) = 1 ms."""
    k = Kernel(KernelClass.ELEMENTWISE, reads=1_000_000, writes=1_000_000)
    t = kernel_time(k, 10, 4, 4, "fp32", toy(), Workload(Mode.INFER, 10))
    assert t.seconds == pytest.approx(1e-3)
    assert t.bound == "memory"


def test_pipeline_makespan() -> None:
    """Host issues (1 s, 0 s), (0, 5), (1, 1): the device runs 1–1, 1–6, then 6–7."""
    assert _pipeline([(1.0, 0.0), (0.0, 5.0), (1.0, 1.0)]) == 7.0
    assert _pipeline([(2.0, 0.1)] * 3) == pytest.approx(6.1)  # host bound


def test_training_costs_more_than_inference() -> None:
    g = build_graph(load_spec("resnet18"))
    model, dev = load("roofline"), load_device("h100")
    infer = model.predict(g, dev, Workload(Mode.INFER, 32))
    train = model.predict(g, dev, Workload(Mode.TRAIN, 32, optimizer=Optimizer.ADAM))
    assert train.time_ms > 2 * infer.time_ms
    assert train.peak_memory_bytes > infer.peak_memory_bytes
    assert all(lc.backward_ms == 0 for lc in infer.layers)
    assert {lc.bound for lc in train.layers} <= {"compute", "memory", "overhead", "none"}


@pytest.mark.parametrize("spec", zoo_names())
def test_every_zoo_spec_gets_a_prediction(spec: str) -> None:
    g = build_graph(load_spec(spec))
    a = analyse(g, 1)
    model, dev = load("roofline"), load_device("a100-40gb")
    for w in (Workload(Mode.INFER, 4), Workload(Mode.TRAIN, 4, optimizer=Optimizer.MOMENTUM)):
        r = model.predict(g, dev, w)
        assert r.time_ms > 0 and r.throughput > 0
        assert r.memory.weights >= 4 * (a.totals.params + a.totals.buffers) * 0.99
        assert r.peak_memory_bytes > r.memory.weights
        assert [lc.name for lc in r.layers] == [row.name for row in a.rows]


# ----------------------------------------------------------------------------- largest batch

def test_largest_batch_is_the_boundary() -> None:
    g = build_graph(load_spec("alexnet"))
    model, dev = load("roofline"), load_device("gtx580")
    fit = largest_batch(model, g, dev, Workload(Mode.TRAIN, 1, optimizer=Optimizer.MOMENTUM))
    assert fit.batch > 0 and fit.report is not None and fit.next_report is not None
    assert fit.report.peak_memory_bytes <= dev.memory_bytes < fit.next_report.peak_memory_bytes
    assert fit.next_report.workload.batch == fit.batch + 1


def test_nothing_fits() -> None:
    fit = largest_batch(load("roofline"), build_graph(load_spec("vgg16")), toy(), Workload(Mode.INFER, 1))
    assert fit.batch == 0 and fit.report is None


def test_workload_rejects_what_it_cannot_model() -> None:
    with pytest.raises(UsageError, match="fp32, fp16 or bf16"):
        Workload(dtype=DType.INT8)
    with pytest.raises(UsageError, match="--amp keeps fp32 weights"):
        Workload(dtype=DType.FP16, amp=Amp.BF16)
    with pytest.raises(UsageError, match="batch"):
        Workload(batch=0)


# ----------------------------------------------------------------------------- devices

REQUIRED = ["gtx580", "k40", "v100", "rtx3090", "a100-40gb", "a100-80gb", "h100", "h200", "jetson-tx2",
            "jetson-agx-xavier", "jetson-agx-orin", "i9-12900k"]


def test_required_presets() -> None:
    assert set(REQUIRED) <= set(preset_names())


@pytest.mark.parametrize("name", REQUIRED)
def test_preset_is_sane_and_cites_a_source(name: str) -> None:
    d = load_device(name)
    p = d.peak_flops
    assert d.memory_bytes > 2**30 and d.memory_bandwidth > 1e10
    assert all(v is None or v >= p.fp32 for v in (p.tf32, p.fp16, p.bf16))
    text = (ROOT / "cnncalc" / "cost" / "devices" / f"{name}.yaml").read_text()
    assert "Source" in text


def test_datasheet_figures() -> None:
    """A few figures from the vendors' datasheets, as cited in the files."""
    assert load_device("a100-40gb").peak_flops.tf32 == 156e12
    assert load_device("a100-80gb").memory_bandwidth == 2039e9
    assert load_device("v100").peak_flops.fp16 == 125e12 and load_device("v100").peak_flops.bf16 is None
    assert load_device("h100").memory_bandwidth == 3.35e12
    assert load_device("rtx3090").peak_flops.fp16 == 71e12  # FP32 accumulate, as PyTorch runs it


def test_h200_shares_the_h100_fit() -> None:
    h100, h200 = load_device("h100"), load_device("h200")
    assert h100.efficiency == h200.efficiency and h100.overheads == h200.overheads
    assert h200.memory_bandwidth > h100.memory_bandwidth


def test_user_device_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(TOY)
    assert load_device(str(f)).name == "toy"


def test_device_file_errors_are_positioned(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(TOY.replace("memory_bandwidth: 1.0e11", "memory_bandwith: 1.0e11"))
    with pytest.raises(SpecError) as e:
        load_device(str(f))
    msgs = [str(d) for d in e.value.diagnostics]
    assert any(m.startswith(f"{f}:3:1: error: unknown field 'memory_bandwith'; did you mean 'memory_bandwidth'")
               for m in msgs), msgs
    assert any("missing required field 'memory_bandwidth'" in m for m in msgs)


def test_unknown_preset_suggests() -> None:
    with pytest.raises(UsageError, match="did you mean 'h100'"):
        load_device("h10")


# ----------------------------------------------------------------------------- plug-ins

PLUGIN_OK = '''
from cnncalc.cost.base import CostReport, MemoryBreakdown
LOADED = True
class Constant:
    description = "a constant model, for tests"
    def predict(self, graph, device, workload):
        return CostReport(graph.name, "constant", device.name, workload, MemoryBreakdown(weights=123),
                          "nowhere", 1.0)
'''


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, importlib.metadata.EntryPoint]:
    """Fake installed plug-ins: modules in tmp_path, entry points returned by a patched entry_points()."""
    (tmp_path / "fake_cost_ok.py").write_text(PLUGIN_OK)
    (tmp_path / "fake_cost_other.py").write_text(PLUGIN_OK)
    (tmp_path / "fake_cost_broken.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "fake_cost_notamodel.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for m in ("fake_cost_ok", "fake_cost_other", "fake_cost_broken", "fake_cost_notamodel"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    eps = {
        "constant": importlib.metadata.EntryPoint("constant", "fake_cost_ok:Constant", GROUP),
        "other": importlib.metadata.EntryPoint("other", "fake_cost_other:Constant", GROUP),
        "broken": importlib.metadata.EntryPoint("broken", "fake_cost_broken:Model", GROUP),
        "thing": importlib.metadata.EntryPoint("thing", "fake_cost_notamodel:Thing", GROUP),
        "elsewhere": importlib.metadata.EntryPoint("elsewhere", "x:y", "some.other.group"),
    }

    def entry_points(**kw: Any) -> list[importlib.metadata.EntryPoint]:
        return [e for e in eps.values() if e.group == kw.get("group")]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return eps


def test_discovery_imports_nothing(plugins: dict[str, Any]) -> None:
    found = discover()
    assert set(found) == {"constant", "other", "broken", "thing", "roofline"}  # not the other group's
    assert found["constant"].value == "fake_cost_ok:Constant"
    assert not {"fake_cost_ok", "fake_cost_other", "fake_cost_broken"} & set(sys.modules)


def test_only_the_chosen_plugin_is_imported(plugins: dict[str, Any]) -> None:
    model = load("constant")
    assert isinstance(model, CostModel)
    assert "fake_cost_ok" in sys.modules and "fake_cost_other" not in sys.modules
    assert "fake_cost_broken" not in sys.modules
    r = model.predict(tiny(), toy(), Workload())
    assert isinstance(r, CostReport) and r.peak_memory_bytes == 123


def test_builtin_goes_through_an_entry_point_too(plugins: dict[str, Any]) -> None:
    # the metadata here does not list roofline: the declared fallback loads it the same way
    assert discover()["roofline"].distribution == "cnncalc (built in)"
    assert type(load("roofline")).__name__ == "RooflineModel"


def test_broken_plugin_gives_a_clear_error(plugins: dict[str, Any]) -> None:
    with pytest.raises(CostModelLoadError, match=r"cost model 'broken' \(fake_cost_broken:Model, .*\) failed "
                                                  r"to load: ModuleNotFoundError: No module named 'no_such_module"):
        load("broken")
    with pytest.raises(CostModelLoadError, match="is not a cost model"):
        load("thing")
    with pytest.raises(CostModelNotFound, match="did you mean 'constant'"):
        load("constnt")


def test_two_distributions_claiming_one_name(plugins: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    twice = [importlib.metadata.EntryPoint("dup", "fake_cost_ok:Constant", GROUP),
             importlib.metadata.EntryPoint("dup", "fake_cost_other:Constant", GROUP)]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: twice)
    with pytest.raises(CostModelLoadError, match="also declared as fake_cost_other:Constant"):
        load("dup")


def test_cli_reports_a_broken_plugin_without_traceback(plugins: dict[str, Any]) -> None:
    r = runner.invoke(app, ["cost", "alexnet", "--device", "h100", "--model", "broken"])
    assert r.exit_code == 2
    assert "error: cost model 'broken'" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_cli_uses_a_plugin(plugins: dict[str, Any]) -> None:
    r = runner.invoke(app, ["cost", "alexnet", "--device", "h100", "--model", "constant", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["peak_memory_bytes"] == 123


def test_pyproject_declares_the_builtins() -> None:
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["entry-points"][GROUP] == BUILTIN
    assert any(d.startswith("torch") for d in meta["project"]["optional-dependencies"]["torch"])


# ----------------------------------------------------------------------------- CLI

def test_cli_cost_json_contract() -> None:
    r = runner.invoke(app, ["cost", "resnet50", "--device", "h100", "--mode", "train", "--batch", "32",
                            "--amp", "bf16", "--optimizer", "adamw", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"peak_memory_bytes", "time_ms", "throughput", "memory", "layers"} <= set(d)
    assert d["peak_memory_bytes"] == d["memory"]["peak"] == sum(
        v for k, v in d["memory"].items() if k != "peak")
    assert d["throughput"] == pytest.approx(32 / (d["time_ms"] / 1e3))
    assert d["optimizer"] == "adamw" and d["amp"] == "bf16"
    assert {lc["bound"] for lc in d["layers"]} <= {"compute", "memory", "overhead", "none"}


def test_cli_cost_table() -> None:
    r = runner.invoke(app, ["cost", "vgg16", "--device", "v100", "--batch", "8", "--top", "3"])
    assert r.exit_code == 0, r.stderr
    assert "Peak memory" in r.stdout and "images/s" in r.stdout and "the 3 slowest" in r.stdout
    assert "not calibrated" in r.stdout


def test_cli_cost_top_is_slowest_first() -> None:
    r = runner.invoke(app, ["cost", "vgg16", "--device", "v100", "--batch", "8", "--top", "5", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    ms = {lc["name"]: lc["forward_ms"] + lc.get("backward_ms", 0.0) for lc in json.loads(r.stdout)["layers"]}
    slowest = sorted(ms, key=lambda n: -ms[n])[:5]
    table = runner.invoke(app, ["cost", "vgg16", "--device", "v100", "--batch", "8", "--top", "5"]).stdout
    body = table[table.index("the 5 slowest"):]
    assert [n for n in sorted(ms, key=body.find) if body.find(f" {n} ") >= 0] == slowest


def test_cli_fit() -> None:
    r = runner.invoke(app, ["fit", "resnet50", "--device", "rtx3090", "--optimizer", "adam", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["peak_memory_bytes"] <= d["budget_bytes"] < d["next_peak_memory_bytes"]
    assert d["next_batch"] == d["batch"] + 1
    text = runner.invoke(app, ["fit", "resnet50", "--device", "rtx3090", "--optimizer", "adam"]).stdout
    assert f"largest batch that fits: {d['batch']}" in text


def test_cli_devices() -> None:
    r = runner.invoke(app, ["devices"])
    assert r.exit_code == 0
    for name in REQUIRED:
        assert name in r.stdout
    assert "roofline" in r.stdout


def test_cli_bad_options_exit_2() -> None:
    r = runner.invoke(app, ["cost", "alexnet", "--device", "h100", "--dtype", "int8"])
    assert r.exit_code == 2 and "fp32, fp16 or bf16" in r.stderr
    r = runner.invoke(app, ["cost", "alexnet", "--device", "nosuch"])
    assert r.exit_code == 2 and "no device file or preset named 'nosuch'" in r.stderr


# ----------------------------------------------------------------------------- calibrate without torch / GPU

def test_calibrate_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch → ImportError
    with pytest.raises(UsageError, match=r"needs PyTorch: pip install 'cnncalc\[torch\]'"):
        require_torch()
    r = runner.invoke(app, ["calibrate", "--device", "h100", "-o", "out.yaml"])
    assert r.exit_code == 2 and "needs PyTorch" in r.stderr and "Traceback" not in r.stderr


def test_calibrate_without_a_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = types.ModuleType("torch")
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", fake)
    out = tmp_path / "out.yaml"
    r = runner.invoke(app, ["calibrate", "--device", "h100", "-o", str(out)])
    assert r.exit_code == 2 and "needs a CUDA GPU" in r.stderr
    assert not out.exists()


def test_calibrate_a_cpu_device_for_real(tmp_path: Path) -> None:
    """`calibrate` on a kind: cpu device runs the probes with PyTorch on this CPU and fits them: the
    written file loads, keeps the preset's peaks, and predicts a probe network timed again here far
    better than the uncalibrated preset (whose 1.73 TFLOP/s desktop is not this machine)."""
    torch = pytest.importorskip("torch")
    out = tmp_path / "this-cpu.yaml"
    r = runner.invoke(app, ["calibrate", "--device", "i9-12900k", "--quick", "--name", "this-cpu", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "calibrating on the CPU" in r.stderr and "measured" in r.stderr
    fitted, preset = load_device(str(out)), load_device("i9-12900k")
    assert fitted.name == "this-cpu" and fitted.kind == "cpu" and fitted.calibrated.startswith("cnncalc calibrate")
    assert fitted.peak_flops == preset.peak_flops and fitted.memory_bandwidth == preset.memory_bandwidth
    assert fitted.tensor_chunk_bytes == 0 and fitted.layout_passes == 0  # GPU-only figures left alone

    from cnncalc.cost.calibrate import NETWORK_PROBES, torch_network
    graph = build_graph(parse_spec(NETWORK_PROBES["probe_vgg"], "probe_vgg.yaml"))
    net, x = torch_network(torch, graph).eval(), torch.randn(8, *graph.input)
    with torch.inference_mode():
        net(x)
        start = time.perf_counter()
        for _ in range(3):
            net(x)
    measured_ms = (time.perf_counter() - start) / 3 * 1e3
    w = Workload(Mode.INFER, 8)
    error = {d.name: abs(math.log(load("roofline").predict(graph, d, w).time_ms / measured_ms))
             for d in (fitted, preset)}
    assert error["this-cpu"] < math.log(2), f"fitted device off by ×{math.exp(error['this-cpu']):.2f}"
    assert error["this-cpu"] < error["i9-12900k"]


def test_calibration_probes_match_cnncalc_shapes() -> None:
    """The PyTorch probe networks are the specs they stand for (CPU build of torch is enough)."""
    torch = pytest.importorskip("torch")
    from cnncalc.cost.calibrate import NETWORK_PROBES, torch_network
    for name, text in NETWORK_PROBES.items():
        g = build_graph(parse_spec(text, f"{name}.yaml"))
        net = torch_network(torch, g)
        assert sum(p.numel() for p in net.parameters()) == analyse(g).totals.params
        assert tuple(net(torch.zeros(2, *g.input)).shape) == (2, 1000)
