"""Cost model (issue 16): memory format and TF32 through the interface, library workspaces in the
memory replay, and the time model's launch floor, tile fills, backward kernels and group widths —
each worked by hand on round-number devices; ``calibrate`` end to end on CUDA where there is one."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc import build_graph, load_spec, parse_spec
from cnncalc.analysis import DType
from cnncalc.cli import app
from cnncalc.cost import MemoryFormat, Mode, Optimizer, Workload, load, load_device
from cnncalc.cost.devices import Device, parse_device
from cnncalc.cost.timing import Options, backward_time, chunk_fill, kernel_time, row_fill
from cnncalc.layers.base import Kernel, KernelClass

runner = CliRunner()
MiB = 2**20

# Round numbers: 1 TFLOP/s FP32, 8 TFLOP/s TF32, 100 GB/s, a 10 µs launch floor, 128-row GEMM tiles.
TOY = """\
name: toy
memory_bytes: 1000000000
memory_bandwidth: 1.0e11
peak_flops: {fp32: 1.0e12, tf32: 8.0e12}
gemm_tile_rows: 128
efficiency:
  conv: {compute: 0.5, memory: 0.5, wgrad: 0.5}
  conv_grouped: {compute: 0.5, memory: 0.5, backward: 5}
  matmul: {compute: 0.5, memory: 0.5}
  elementwise: {memory: 0.8, backward: 1.5}
overheads: {kernel_s: 1.0e-5, host_op_s: 0.0, host_backward_op_s: 0.0, host_step_s: 0.0}
memory_rules: {alloc_rounding: 512, conv_workspace_input: 0, conv_workspace_output: 0,
               cublas_workspace_bytes: 1048576, cublaslt_workspace_bytes: 65536}
"""


def toy() -> Device:
    return parse_device(TOY, "toy.yaml")


# ----------------------------------------------------------------------------- the interface

def test_memory_format_and_channels_last_are_one_setting() -> None:
    a = Workload(Mode.INFER, 8, memory_format=MemoryFormat.CHANNELS_LAST)
    b = Workload(Mode.INFER, 8, channels_last=True)
    assert a == b and a.channels_last and b.memory_format is MemoryFormat.CHANNELS_LAST
    assert Workload().memory_format is MemoryFormat.CONTIGUOUS and not Workload().channels_last
    assert Workload().tf32 and not Workload().fresh_process  # PyTorch's defaults, a warm process
    d = load("roofline").predict(build_graph(load_spec("lenet5")), toy(), a).to_dict()
    assert d["memory_format"] == "channels_last" and d["channels_last"] and d["tf32"] is True


def _cost_json(*args: str) -> dict[str, object]:
    r = runner.invoke(app, ["cost", *args, "--format", "json"])
    assert r.exit_code == 0, r.output
    out: dict[str, object] = json.loads(r.stdout)
    return out


def test_cli_memory_format_flag_and_its_alias_agree() -> None:
    base = ["resnet18", "--device", "h100", "--batch", "256", "--dtype", "fp16"]
    a = _cost_json(*base, "--memory-format", "channels_last")
    b = _cost_json(*base, "--channels-last")
    c = _cost_json(*base, "--memory-format", "contiguous")
    assert a == b and a["memory_format"] == "channels_last"
    assert c["memory_format"] == "contiguous" and c["time_ms"] != a["time_ms"]
    r = runner.invoke(app, ["cost", *base, "--channels-last", "--memory-format", "contiguous"])
    assert r.exit_code == 2 and "contradict" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["cost", *base, "--memory-format", "nhwc"])
    assert r.exit_code == 2


def test_no_tf32_slows_fp32_convolutions_only() -> None:
    """Strict fp32 moves convolutions from TF32 tensor cores (494.7 TFLOP/s) to FP32 units (67):
    VGG-16's fp32 batch is slower; fp16 and the fc-only part are untouched."""
    base = ["vgg16", "--device", "h100", "--batch", "64"]
    tf32, strict = _cost_json(*base), _cost_json(*base, "--no-tf32")
    assert float(strict["time_ms"]) > 3 * float(tf32["time_ms"])  # type: ignore[arg-type]
    assert _cost_json(*base, "--tf32") == tf32
    half = [*base, "--dtype", "fp16"]
    assert _cost_json(*half, "--no-tf32")["time_ms"] == _cost_json(*half)["time_ms"]
    fc = Kernel(KernelClass.MATMUL, macs=10**6, reads=1000, writes=1000, weights=10**6, channels=1000)
    w = Workload(Mode.INFER, 128)
    assert kernel_time(fc, 128, 4, 4, "fp32", toy(), w, Options.of(w)) == \
        kernel_time(fc, 128, 4, 4, "fp32", toy(), w, Options(tf32_conv=False))


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_compare_and_sweep_pass_the_settings_on(command: str) -> None:
    """The device columns of compare / sweep are the cost command's prediction for the same settings."""
    settings_ = ["--memory-format", "channels_last", "--no-tf32"]
    r = runner.invoke(app, [command, "resnet18", "--device", "h100", "--batch", "64", *settings_,
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    row = (got["models"] if "models" in got else got["rows"])[0] if isinstance(got, dict) else got[0]
    want = _cost_json("resnet18", "--device", "h100", "--batch", "64", *settings_)
    assert row["time_ms"] == pytest.approx(want["time_ms"])


# ----------------------------------------------------------------------------- library workspaces

def _peak(spec: str, w: Workload, device: Device | None = None) -> int:
    return load("roofline").predict(build_graph(load_spec(spec)), device or load_device("h100"), w).peak_memory_bytes


def test_h100_workspaces_of_a_warm_process_are_65_mib() -> None:
    """sm90: cuBLAS workspace :4096:8 = 4096 KiB · 8 = 32 MiB per thread (forward and autograd's),
    cuBLASLt 1024 KiB: 2 · 33,554,432 + 1,048,576 = 68,157,440 B, the reference's 65 MiB."""
    rules = load_device("h100").memory_rules
    assert 2 * rules.cublas_workspace_bytes + rules.cublaslt_workspace_bytes == 68_157_440
    report = load("roofline").predict(build_graph(load_spec("lenet5")), load_device("h100"), Workload())
    assert report.memory.workspace >= 68_157_440


@pytest.mark.parametrize("batch,dtype", [(1, DType.FP32), (32, DType.FP32), (256, DType.FP16)])
def test_fresh_inference_process_holds_one_cublas_workspace(batch: int, dtype: DType) -> None:
    """LeNet-5 inference in a process that runs nothing else: its fc layers give the Python thread
    a 32 MiB cuBLAS workspace, and at batch > 1 (addmm on the cuBLASLt path) the 1 MiB cuBLASLt one;
    there is no backward thread. So the peak is the warm one less 32 MiB (and less 1 MiB at batch 1):
    about 35 MB, the measured figure the issue quotes."""
    warm = _peak("lenet5", Workload(Mode.INFER, batch, dtype))
    fresh = _peak("lenet5", Workload(Mode.INFER, batch, dtype, fresh_process=True))
    assert warm - fresh == 32 * MiB + (MiB if batch == 1 else 0)
    assert 32 * MiB < fresh < 45e6


def test_fresh_training_process_and_a_network_without_gemms() -> None:
    """Training makes the backward thread's workspace too, so a fresh process equals a warm one;
    SqueezeNet has no GEMM at all (its classifier is a conv), so a fresh process holds none."""
    t = Workload(Mode.TRAIN, 32, optimizer=Optimizer.MOMENTUM)
    t_fresh = Workload(Mode.TRAIN, 32, optimizer=Optimizer.MOMENTUM, fresh_process=True)
    assert _peak("lenet5", t) == _peak("lenet5", t_fresh)
    assert _peak("squeezenet1_1", t) - _peak("squeezenet1_1", t_fresh) == 65 * MiB


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 300), st.sampled_from(["lenet5", "alexnet_cs231n"]))
def test_workspaces_never_depend_on_batch_when_warm(batch: int, spec: str) -> None:
    """Relation without an oracle: the workspace allocations are fixed, so a warm process's peak less
    its workspaces never exceeds the peak of a device with none (same replay otherwise)."""
    bare = parse_device(TOY.replace("cublas_workspace_bytes: 1048576, cublaslt_workspace_bytes: 65536",
                                    "cublas_workspace_bytes: 0"), "bare.yaml")
    w = Workload(Mode.INFER, batch)
    assert _peak(spec, w, toy()) - _peak(spec, w, bare) == 2 * 1048576 + 65536


# ----------------------------------------------------------------------------- time, by hand

def test_small_kernels_cost_the_launch_floor_not_work_plus_it() -> None:
    """relu over 1,000 fp32 elements: 8,000 B / (10¹¹ · 0.8) = 0.1 µs of work < the 10 µs floor:
    10 µs (the earlier model said work + floor). 10⁷ elements: 8·10⁷ / 8·10¹⁰ = 1 ms > the floor."""
    w = Workload(Mode.INFER, 1)
    small = kernel_time(Kernel(KernelClass.ELEMENTWISE, reads=1000, writes=1000), 1, 4, 4, "fp32", toy(), w)
    big = kernel_time(Kernel(KernelClass.ELEMENTWISE, reads=10**7, writes=10**7), 1, 4, 4, "fp32", toy(), w)
    assert small.seconds == pytest.approx(1e-5) and big.seconds == pytest.approx(1e-3)


def test_gemm_rows_fill_whole_tiles() -> None:
    """fc 1000 → 1000 at batch 64, fp32: 2·64·10⁶ FLOP / (10¹² · 0.5 · 64/128) = 0.512 ms;
    at batch 128 the tile is full: 2·128·10⁶ / (10¹² · 0.5) = 0.512 ms — the same time per tile."""
    k = Kernel(KernelClass.MATMUL, macs=10**6, reads=1000, writes=1000, weights=10**6, channels=1000)
    t64 = kernel_time(k, 64, 4, 4, "fp32", toy(), Workload(Mode.INFER, 64))
    t128 = kernel_time(k, 128, 4, 4, "fp32", toy(), Workload(Mode.INFER, 128))
    assert t64.seconds == pytest.approx(5.12e-4) and t128.seconds == pytest.approx(5.12e-4)
    assert row_fill(64, toy()) == 0.5 and row_fill(129, toy()) == pytest.approx(129 / 256)


def test_conv_backward_is_data_plus_weight_gradient() -> None:
    """A 3×3 conv 32 → 32 on 10×10, batch 100, on TF32 (chunk: no chunking on the toy):
    MACs/sample 32·32·9·100 = 921,600; forward 2·9.216·10⁷ FLOP / (8·10¹² · 0.5) = 46.08 µs
    (memory: (3,200 + 3,200)·100·4 + 9,216·4 = 2,596,864 B / 5·10¹⁰ = 51.94 µs: memory bound).
    Data gradient: the same (reads and writes swapped); weight gradient: 1.8432·10⁸ FLOP /
    (8·10¹² · 0.5 · wgrad 0.5) = 92.16 µs (its memory, 51.94 µs, is less). The first layer has only the weight gradient."""
    k = Kernel(KernelClass.CONV, macs=921_600, reads=3200, writes=3200, weights=9216, channels=32, window=9)
    w = Workload(Mode.INFER, 100, memory_format=MemoryFormat.CHANNELS_LAST)
    kt = kernel_time(k, 100, 4, 4, "fp32", toy(), w)
    assert kt.seconds == pytest.approx(2_596_864 / 5e10)
    both = backward_time(k, kt, False, 100, 4, 4, "fp32", toy(), w, Options())
    assert both == pytest.approx([2_596_864 / 5e10, 9.216e-5])  # wgrad 1.8432·10⁸ / (8·10¹² · 0.25)
    assert backward_time(k, kt, True, 100, 4, 4, "fp32", toy(), w, Options()) == pytest.approx([9.216e-5])


def test_grouped_backward_by_group_width() -> None:
    """Depthwise (1 channel per group): `backward` (5) × forward; 4 channels per group: 2 × forward
    (cuDNN's data- and weight-gradient kernels, as for a dense conv)."""
    w = Workload(Mode.TRAIN, 64)
    for width, ratio in ((1, 5.0), (4, 2.0)):
        k = Kernel(KernelClass.CONV_GROUPED, macs=10**6 * width, reads=10**5, writes=10**5, weights=900,
                   channels=width, window=9)
        kt = kernel_time(k, 64, 4, 4, "fp32", toy(), w)
        assert backward_time(k, kt, False, 64, 4, 4, "fp32", toy(), w, Options()) == [pytest.approx(ratio * kt.seconds)]


def test_tensor_core_chunk_fill() -> None:
    """A 3-channel first conv in TF32 with 128-byte chunks (32 fp32 lanes) fills 3/32;
    64 channels fill two chunks exactly; fp32 units have no chunks."""
    d = load_device("h100").model_copy(update={"tensor_chunk_bytes": 128.0, "tensor_chunk_bytes_nhwc": None})
    assert chunk_fill(3, "tf32", d, False) == pytest.approx(3 / 32)
    assert chunk_fill(64, "tf32", d, False) == 1.0 and chunk_fill(3, "fp32", d, False) == 1.0
    assert chunk_fill(40, "fp16", d, False) == pytest.approx(40 / 64)


def test_batch_one_of_many_small_layers_is_launch_bound() -> None:
    """Relation: at batch 1 the time of a net of tiny layers grows with the number of layers, not
    with their work — doubling every width changes it by under 5 %."""
    text = """
name: tiny{w}
input: [8, 8, 8]
layers:
  - {{type: conv, filters: {w}, kernel: 3, pad: 1, activation: relu, repeat: 30}}
  - {{type: global_avgpool}}
"""
    t = [load("roofline").predict(build_graph(parse_spec(text.format(w=w), "t.yaml")), load_device("h100"),
                                  Workload(Mode.INFER, 1)).time_ms for w in (8, 16)]
    assert abs(t[1] / t[0] - 1) < 0.05


# ----------------------------------------------------------------------------- on a GPU

@pytest.mark.cuda
def test_calibrate_end_to_end_on_cuda(tmp_path: Path) -> None:
    """With a CUDA GPU: `calibrate --quick` measures, fits and writes a device file that loads and
    predicts the probe networks it timed within ×1.5 (the fit's own data), with workspaces measured."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    out = tmp_path / "gpu.yaml"
    r = runner.invoke(app, ["calibrate", "--device", "h100", "--quick", "--name", "this-gpu", "-o", str(out)])
    assert r.exit_code == 0, r.output
    dev = load_device(str(out))
    assert dev.name == "this-gpu" and dev.calibrated.startswith("cnncalc calibrate")
    assert dev.memory_rules.cublas_workspace_bytes > 0
    for line in r.stderr.splitlines():
        if "probe_" in line and "measured" in line:
            meas, pred = (float(x) for x in line.replace("ms", "").split("measured")[1].split("predicted"))
            assert abs(math.log(pred / meas)) < math.log(1.5), line


def test_measure_device_script_says_it_needs_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/measure_device.py without a CUDA GPU (or without torch): a one-line error, exit 2."""
    import importlib.util
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: the script would measure it")
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "measure_device.py"
    spec = importlib.util.spec_from_file_location("measure_device", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--device", "h100"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def _measure_device_module() -> object:
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "measure_device.py"
    spec = importlib.util.spec_from_file_location("measure_device", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_device_runs_the_reference_configurations_in_its_order() -> None:
    """The script's configurations are the reference's, key for key and in its order (the order
    decides which workspaces exist when each is measured); the timed ones at their batches."""
    from reference_data import reference
    module = _measure_device_module()
    ref = reference("h100-calibration")["models"]["vgg16"]
    assert list(module.MEMORY) == list(ref["memory"])  # type: ignore[attr-defined]
    assert list(module.SPEED) == list(ref["speed"])  # type: ignore[attr-defined]
    for key, w in module.SPEED.items():  # type: ignore[attr-defined]
        assert w.batch == ref["speed"][key]["batch"]
    assert module.MEMORY["train_adam_bf16amp_bs64"].amp is not None  # type: ignore[attr-defined]


def test_measure_device_builds_a_network_torchvision_lacks_from_its_spec() -> None:
    """LeNet-5 is not in torchvision: the script builds it from the spec's PyTorch code. The oracle
    is ../shared/reference/torchvision.json: 61,706 parameters, 10 logits."""
    torch = pytest.importorskip("torch")
    module = _measure_device_module()
    graph = build_graph(load_spec("lenet5"))
    net = module._module(torch, "lenet5", graph)  # type: ignore[attr-defined]
    assert sum(p.numel() for p in net.parameters()) == 61_706
    assert tuple(net(torch.randn(2, 1, 28, 28)).shape) == (2, 10)


def test_reference_networks_after_the_first_were_measured_in_a_warm_process() -> None:
    """Why the default is a warm process. The reference's 26 networks (torchvision.json; the 4 of
    h100-calibration.json and the 22 held out) were measured in that order, LeNet-5 first, in one
    process: AlexNet, the second, already holds 65 MiB of workspaces (2 × 32 MiB cuBLAS + 1 MiB
    cuBLASLt) before its very first configuration (fp32 inference, batch 1): its weights reading
    less 4 B × its 61,100,840 parameters (torchvision.json) is 65 MiB plus under 1 MiB (512-B
    rounding of 16 tensors, and a cached block the allocator does not split). Only the first
    network of such a run sees a fresh process in its inference configurations (--fresh-process)."""
    from reference_data import reference
    order = list(reference("torchvision")["models"])
    cal = reference("h100-calibration")["models"]
    assert order[0] == "lenet5" and order[1] == "alexnet" and len(order) == 26 and set(cal) <= set(order)
    first = next(iter(cal["alexnet"]["memory"].values()))
    assert next(iter(cal["alexnet"]["memory"])) == "infer_float32_bs1"
    extra = first["weights"] - 4 * reference("torchvision")["models"]["alexnet"]["params"]
    assert 65 * MiB <= extra < 66 * MiB


def _benchmark(name: str) -> object:
    import importlib.util
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_per_layer_timings_are_matched_to_the_right_layers() -> None:
    """fit_h100 matches the reference's per-layer timings to the zoo's layers by PyTorch type and
    order. Each match must have the module's input and output shape and parameter count that
    torchvision.json records for it (an independent listing), and the timing must be the
    reference's own; at least the work-dominated conv, BatchNorm and pooling timings are there."""
    from reference_data import reference
    fit = _benchmark("fit_h100")
    data = reference("h100-calibration")
    calls = {m: {c["name"]: c for c in v.get("layers", [])} for m, v in reference("torchvision")["models"].items()}
    ms = fit.layer_measurements(data)  # type: ignore[attr-defined]
    kinds = set()
    for m in ms:
        model, _, name = m.label.split(" ", 2)
        c = calls[model][name]
        assert list(m.input_shape) == c["in"], m.label
        assert list(m.layer.output_shape((m.input_shape,))) == c["out"], m.label
        assert m.layer.params((m.input_shape,)).total == c["params"], m.label
        assert m.seconds == data["layer_times_ms_batch64_fp32"][model][name] / 1e3
        kinds.add(c["type"])
    assert {"Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU", "Linear"} <= kinds and len(ms) >= 60


def test_each_way_of_timing_single_layers_fits_its_own_floor() -> None:
    """Single layers timed alone and timed inside a network carry different fixed costs: with a
    floor per group the fit reproduces a 20 µs and a 60 µs reading of the same tiny ReLU (its work,
    80 B / (10¹¹ · 0.8) ≈ 1 ns, and the toy's 10 µs launch floor are below both); one shared floor
    could not (it would leave the two a factor 3 apart, each off by √3)."""
    from cnncalc.cost.fit import LayerTiming, fit_device
    from cnncalc.layers import layer_class
    relu = layer_class("relu")
    assert relu is not None
    w = Workload(Mode.INFER, 1)
    ms = [LayerTiming("alone", relu(), (10,), w, 2e-5), LayerTiming("inside", relu(), (10,), w, 6e-5,
                                                                     floor_group="in-network")]
    rows = fit_device(toy(), ms, parameters=[], rounds=40).rows
    for _, measured, predicted in rows:
        assert predicted == pytest.approx(measured, rel=0.02)
    shared = [LayerTiming("alone", relu(), (10,), w, 2e-5), LayerTiming("inside", relu(), (10,), w, 6e-5)]
    a, b = (p for _, _, p in fit_device(toy(), shared, parameters=[], rounds=40).rows)
    assert a == b


def test_convnext_linears_run_per_position_as_in_torchvision() -> None:
    """ConvNeXt's block Linears are GEMMs over H·W positions of channels-last maps (strict fp32
    under PyTorch's default matmul precision), not 1×1 convs: the zoo spec's fc layers see, in
    order, exactly the inputs torchvision's nn.Linear modules see (PyTorch as the oracle)."""
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from cnncalc import analyse
    net = torchvision.models.convnext_tiny(weights=None).eval()
    seen: list[tuple[int, ...]] = []
    for m in net.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_hook(lambda mod, ins, out: seen.append(tuple(ins[0].shape[1:])))
    with torch.inference_mode():
        net(torch.randn(1, 3, 224, 224))
    graph = build_graph(load_spec("convnext_tiny"))
    rows = analyse(graph, 1).rows
    fc = [tuple(r.inputs[0]) for n, r in zip(graph.nodes, rows) if n.type == "fc"]
    assert fc == seen and len(seen) == 37  # 18 blocks × 2 + the classifier
    assert all(k.cls is KernelClass.MATMUL for n, r in zip(graph.nodes, rows) if n.type == "fc"
               for k in n.layer.kernels(r.inputs, r.output, False))


def test_plain_aten_kernels_share_one_host_time_on_the_h100() -> None:
    """Element-wise, pooling and reduction operators go through the same dispatch path with no
    library call, so the H100 file gives them one host time (overheads.host_op_s); cuDNN's conv and
    BatchNorm and cuBLAS's GEMM calls have their own. Relation: at batch 1 on a 4×4×4 map (host
    bound), 20 ReLUs and 20 max-pools (kernel 1) take the same time."""
    from cnncalc.cost.fit import PARAMETERS
    h100 = load_device("h100")
    for cls in (KernelClass.ELEMENTWISE, KernelClass.POOL, KernelClass.REDUCE):
        assert h100.host_s(cls) == h100.overheads.host_op_s
    fitted = {p[0] for p in PARAMETERS}
    assert ("overheads", "host_op_s") in fitted and ("efficiency", "elementwise", "host") not in fitted
    text = "name: t\ninput: [4, 4, 4]\nlayers:\n  - {{type: {kind}, repeat: 20}}\n"
    times = [load("roofline").predict(build_graph(parse_spec(text.format(kind=k), "t.yaml")), h100,
                                      Workload(Mode.INFER, 1)).time_ms
             for k in ("relu", "maxpool, kernel: 1")]
    assert times[0] == pytest.approx(times[1])
