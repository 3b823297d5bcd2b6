"""``cnncalc calibrate``: time and memory probes with PyTorch, fitted into a device file.

Needs the [torch] extra, and for a GPU device a CUDA GPU; without them it stops with a UsageError
saying so. A device of ``kind: cpu`` is calibrated on this machine's CPU instead.
The probes: single layers (the convolution, GEMM, pooling and element-wise shapes of the zoo,
fp32, and fp16 on a GPU), two small conv-BN-ReLU networks (inference at batch 1 and N, training
at N; N = 64 on a GPU, 8 on a CPU), and on a GPU memory: what stays allocated after the first
GEMM, addmm and backward GEMM (the cuBLAS / cuBLASLt workspaces of each thread) and the cuDNN
workspace of a 3×3 and a 1×1 convolution. The device's
datasheet peaks and bandwidth come from the preset named by ``--device``; the fit
(cnncalc.cost.fit) sets the efficiencies and overheads.
"""

from __future__ import annotations

import datetime
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import yaml

from ..analysis import DType, analyse
from ..errors import UsageError
from ..graph import Graph, build_graph
from ..layers import Layer, layer_class
from ..layers.base import TorchCall
from ..spec import parse_spec
from .base import Mode, Optimizer, Workload
from .devices import Device
from .fit import PARAMETERS, LayerTiming, Measurement, ModelTiming, fit_device

#: Single-layer probes: (kind, fields, input C,H,W or (F,)), each timed in fp32 and fp16 at batch 64.
LAYER_PROBES: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("conv", {"filters": 96, "kernel": 11, "stride": 4}, (3, 227, 227)),
    ("conv", {"filters": 64, "kernel": 7, "stride": 2, "pad": 3}, (3, 224, 224)),
    ("conv", {"filters": 64, "kernel": 3, "pad": 1}, (64, 224, 224)),
    ("conv", {"filters": 128, "kernel": 3, "pad": 1}, (128, 112, 112)),
    ("conv", {"filters": 256, "kernel": 3, "pad": 1}, (256, 56, 56)),
    ("conv", {"filters": 512, "kernel": 3, "pad": 1}, (512, 28, 28)),
    ("conv", {"filters": 256, "kernel": 1}, (64, 56, 56)),
    ("conv", {"filters": 64, "kernel": 1}, (256, 56, 56)),
    ("conv", {"filters": 512, "kernel": 1}, (2048, 7, 7)),
    ("conv", {"filters": 128, "kernel": 3, "pad": 1, "groups": 32}, (128, 56, 56)),
    ("conv", {"filters": 144, "kernel": 3, "pad": 1, "groups": 144}, (144, 56, 56)),
    ("fc", {"units": 4096}, (9216,)),
    ("fc", {"units": 4096}, (4096,)),
    ("fc", {"units": 1000}, (2048,)),
    ("maxpool", {"kernel": 3, "stride": 2, "pad": 1}, (64, 112, 112)),
    ("global_avgpool", {}, (2048, 7, 7)),
    ("relu", {}, (64, 112, 112)),
    ("batchnorm", {}, (64, 112, 112)),
]

#: Small networks for the overheads and the backward: a plain and a residual-free conv-BN-ReLU stack.
NETWORK_PROBES: dict[str, str] = {
    "probe_vgg": """
name: probe_vgg
input: [3, 112, 112]
layers:
  - {type: conv, filters: 64, kernel: 3, pad: 1, activation: relu}
  - {type: conv, filters: 64, kernel: 3, pad: 1, activation: relu}
  - {type: maxpool, kernel: 2}
  - {type: conv, filters: 128, kernel: 3, pad: 1, activation: relu}
  - {type: maxpool, kernel: 2}
  - {type: global_avgpool}
  - {type: flatten}
  - {type: fc, units: 1000}
""",
    "probe_bn": """
name: probe_bn
input: [3, 112, 112]
blocks:
  cbr:
    args: {c: null, k: 3, g: 1}
    layers:
      - {type: conv, filters: c, kernel: k, pad: (k-1)/2, groups: g, bias: false}
      - {type: batchnorm}
      - {type: relu, inplace: true}
layers:
  - {type: cbr, c: 32}
  - {type: cbr, c: 96, k: 1}
  - {type: cbr, c: 96, g: 96}
  - {type: cbr, c: 32, k: 1}
  - {type: cbr, c: 32, k: 1, repeat: 6}
  - {type: global_avgpool}
  - {type: flatten}
  - {type: fc, units: 1000}
""",
}


def require_torch(gpu: bool = True) -> Any:
    """The torch module, if it is installed (and, for ``gpu``, sees a CUDA GPU); a UsageError saying
    what is missing otherwise."""
    try:
        import torch
    except ImportError:
        raise UsageError("cnncalc calibrate needs PyTorch: pip install 'cnncalc[torch]' (a CUDA build for a "
                         "GPU), then run it on the machine you want to calibrate") from None
    if gpu and not torch.cuda.is_available():
        raise UsageError("cnncalc calibrate needs a CUDA GPU, and PyTorch sees none "
                         "(torch.cuda.is_available() is False); nothing was measured. "
                         "A device file of kind: cpu calibrates this machine's CPU")
    return torch


#: What a CPU fit leaves alone: half precision (no native fp16/bf16 arithmetic), and the GPU's
#: layout transforms, tensor chunking and per-kernel launch time.
CPU_FIXED = ("compute_half", "memory_half", "layout_passes", "tensor_chunk_bytes", "tensor_chunk_bytes_nhwc",
             "kernel_s")


def torch_module(torch: Any, call: TorchCall, layer: Layer) -> Any:
    """The torch.nn module for one PyTorch call of a layer (as ``Layer.torch_calls`` names it)."""
    nn = torch.nn
    f = layer.model_dump()
    m = call.module
    if m == "Conv2d":
        return nn.Conv2d(call.ins[0][0], f["filters"], f["kernel"], f["stride"], _pad(f["pad"]),
                         groups=f["groups"], bias=f["bias"])
    if m == "Linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(call.weight[1], call.weight[0], bias=call.bias > 0))
    if m == "MaxPool2d":
        return nn.MaxPool2d(f["kernel"], f["stride"] or f["kernel"], f["pad"], ceil_mode=f["ceil_mode"])
    if m == "BatchNorm2d":
        return nn.BatchNorm2d(call.ins[0][0])
    if m in ("ReLU", "ReLU6"):
        return getattr(nn, m)(inplace=bool(f.get("inplace", True)))
    if m in ("mean", "AdaptiveAvgPool2d"):
        return nn.AdaptiveAvgPool2d(1 if m == "mean" else f["output"])
    if m in ("flatten", "Flatten"):
        return nn.Flatten()
    raise UsageError(f"calibrate has no PyTorch probe for {m}")


def _pad(pad: Any) -> Any:
    return tuple(pad) if isinstance(pad, list | tuple) else pad


def torch_network(torch: Any, graph: Graph) -> Any:
    """A torch.nn.Sequential for a chain-shaped graph (every layer reading the one before)."""
    analysis = analyse(graph, 1)
    mods = []
    for node, row in zip(graph.nodes, analysis.rows):
        for call in node.layer.torch_calls(row.inputs, row.output):
            mods.append(torch_module(torch, call, node.layer) if call.module[:1].isupper() or call.module in (
                "mean", "flatten") else None)
    return torch.nn.Sequential(*[m for m in mods if m is not None])


def _timer(torch: Any, reps: int, warm: int, gpu: bool = True) -> Callable[[Callable[[], Any]], float]:
    """Mean seconds of one call: CUDA events on a GPU, the wall clock on a CPU."""
    def run(fn: Callable[[], Any]) -> float:
        for _ in range(warm):
            fn()
        if not gpu:
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - t) / reps
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        return float(start.elapsed_time(end)) / reps / 1e3
    return run


def _memory_rules(torch: Any) -> dict[str, Any]:
    """Library workspaces and conv workspaces, from torch.cuda.memory_allocated.

    cuBLAS workspaces: what stays allocated after the first GEMM of this thread (mm), after the
    first addmm with a bias (cuBLASLt), and after the first backward through a Linear (autograd's
    thread gets a cuBLAS handle, and a workspace, of its own), less the tensors still held.
    PyTorch keys each workspace by (cuBLAS handle, stream), so all three are measured on a stream
    of their own: they are new there even if this process has run GEMMs before.
    The workspace of a 1×1 conv gives the output share (a_out = ws / output bytes), that of a
    3×3 conv with input = output size the input share (a_in = ws / input bytes − a_out).
    """
    cuda = torch.device("cuda")
    torch.backends.cudnn.benchmark = False
    torch.cuda.empty_cache()

    def grown(fn: Callable[[], Any]) -> int:
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return int(torch.cuda.memory_allocated() - before)

    def workspaces() -> tuple[int, int, int]:
        a = torch.randn(256, 256, device=cuda)
        bias = torch.randn(256, device=cuda)
        with torch.inference_mode():
            cublas = grown(lambda: (a @ a).sum().item())  # the product is freed: what stays is the workspace
            cublaslt = grown(lambda: torch.addmm(bias, a, a).sum().item())
        lin = torch.nn.Linear(256, 256).to(cuda)
        x = torch.randn(64, 256, device=cuda, requires_grad=True)
        y = lin(x).sum()
        grads = sum(-(-t.numel() * 4 // 512) * 512 for t in (x, lin.weight, lin.bias))  # x.grad, weight, bias
        return cublas, cublaslt, grown(y.backward) - grads  # the backward runs on the forward's stream

    torch.cuda.synchronize()
    with torch.cuda.stream(torch.cuda.Stream()):
        cublas, cublaslt, backward = workspaces()
    torch.cuda.synchronize()
    ws = {}
    for k in (1, 3):
        conv = torch.nn.Conv2d(64, 64, k, padding=k // 2, bias=False).to(cuda)
        x = torch.randn(16, 64, 112, 112, device=cuda)
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            y = conv(x)
        ws[k] = (torch.cuda.max_memory_allocated() - before - y.numel() * 4) / (x.numel() * 4)
        del conv, x, y
    a_out = max(0.0, round(ws[1], 2))
    return {"framework_bytes": max(0, backward - cublas), "cublas_workspace_bytes": max(0, cublas),
            "cublaslt_workspace_bytes": max(0, cublaslt), "conv_workspace_output": a_out,
            "conv_workspace_input": max(0.0, round(ws[3] - a_out, 2))}


def measure(torch: Any, quick: bool, progress: Callable[[str], None], gpu: bool = True) -> list[Measurement]:
    """Run the timing probes on the GPU (batch 64, fp32 and fp16) or on the CPU (batch 8, fp32)."""
    where = torch.device("cuda" if gpu else "cpu")
    batch = 64 if gpu else 8
    if gpu:
        torch.backends.cudnn.benchmark = True
    timer = _timer(torch, 5 if quick else 20, 3 if quick else 5, gpu)
    out: list[Measurement] = []
    probes = LAYER_PROBES[::3] if quick else LAYER_PROBES
    dtypes = ((DType.FP32, torch.float32), (DType.FP16, torch.float16)) if gpu else ((DType.FP32, torch.float32),)
    for kind, fields, shape in probes:
        cls = layer_class(kind)
        assert cls is not None
        layer = cls.model_validate(fields)
        call = layer.torch_calls((shape,), layer.output_shape((shape,)))[0]
        for dtype, tdt in dtypes:
            mod = torch_module(torch, call, layer).to(where, tdt).eval()
            x = torch.randn(batch, *shape, device=where, dtype=tdt)
            with torch.inference_mode():
                s = timer(functools.partial(mod, x))
            label = f"{kind} {fields} {shape} {dtype.value}"
            progress(f"  {label}: {s * 1e3:.4f} ms")
            out.append(LayerTiming(label, layer, shape, Workload(Mode.INFER, batch, dtype), s, 0.3))
    for name, text in NETWORK_PROBES.items():
        graph = build_graph(parse_spec(text, f"{name}.yaml"))
        shape = graph.input
        for w in (Workload(Mode.INFER, 1), Workload(Mode.INFER, batch),
                  Workload(Mode.TRAIN, batch, optimizer=Optimizer.MOMENTUM)):
            net = torch_network(torch, graph).to(where)
            x = torch.randn(w.batch, *shape, device=where)
            if w.mode is Mode.INFER:
                net.eval()
                with torch.inference_mode():
                    s = timer(functools.partial(net, x))
            else:
                net.train()
                opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
                y = torch.randint(0, 1000, (w.batch,), device=where)

                def step(net: Any = net, x: Any = x, y: Any = y, opt: Any = opt) -> None:
                    loss = torch.nn.functional.cross_entropy(net(x), y)
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                s = timer(step)
            progress(f"  {name} {w.describe()}: {s * 1e3:.3f} ms")
            out.append(ModelTiming(f"{name} {w.describe()}", graph, w, s, 6.0 if w.batch > 1 else 1.0))
    return out


def calibrate(device: Device, name: str | None = None, quick: bool = False,
              progress: Callable[[str], None] = lambda _: None) -> str:
    """Measure on the local CUDA GPU (or, for a ``kind: cpu`` device, the CPU) and return the fitted
    device file's text."""
    gpu = device.kind != "cpu"
    torch = require_torch(gpu)
    if gpu:
        where = f"{torch.cuda.get_device_name(0)} (torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()})"
        rules = {**device.memory_rules.model_dump(), **_memory_rules(torch)}
        progress(f"memory rules: {rules}")
        memory = int(torch.cuda.get_device_properties(0).total_memory)
        parameters = PARAMETERS
    else:
        where = f"the CPU, {torch.get_num_threads()} threads (torch {torch.__version__})"
        rules = device.memory_rules.model_dump()  # CPU tensors: no workspaces to measure
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        parameters = [p for p in PARAMETERS if p[0][-1] not in CPU_FIXED]
    progress(f"calibrating on {where}")
    start = device.model_copy(update={
        "name": name or device.name,
        "memory_bytes": memory,
        "memory_rules": device.memory_rules.model_validate(rules),
    })
    result = fit_device(start, measure(torch, quick, progress, gpu), parameters, rounds=10 if quick else 30,
                        progress=lambda r, v: progress(f"fit round {r}: loss {v:.4f}"))
    for label, meas, pred in result.rows:
        progress(f"  {label:60s} measured {meas * 1e3:9.4f} ms  predicted {pred * 1e3:9.4f} ms")
    fitted = result.device.model_copy(update={
        "calibrated": f"cnncalc calibrate on {where}, {datetime.date.today()}"})
    header = (f"# Written by cnncalc calibrate on {where}.\n"
              f"# Peaks and bandwidth: the datasheet figures of the '{device.name}' preset.\n")
    return header + yaml.safe_dump(fitted.model_dump(mode="json", exclude_none=True), sort_keys=False)
