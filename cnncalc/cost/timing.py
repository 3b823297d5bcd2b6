"""Time per batch: a per-kernel roofline plus fixed overheads, replayed as host → device pipeline.

Each kernel a layer runs (``Layer.kernels``) takes on the device

    t = max(FLOPs / (peak[precision] · e_compute · u),  bytes / (bandwidth · e_memory)) + t_kernel

with FLOPs = 2 · MACs · batch, bytes = activations read and written, weights and extra traffic,
plus, for NCHW cuDNN convolutions, ``layout_passes`` extra passes over the output (and the
input for windows larger than 1×1): cuDNN's layout transforms. u is the tensor-core fill of the
reduction: C_in per group rounded up to the device's chunk (a 3-channel conv fills 3 of 32).
The efficiencies e are per kernel class and data width, from the device file (fitted to
measurements, see benchmarks/fit_h100.py). The backward of a class takes ``backward`` × its
forward (2 for conv / fc: gradients of input and weights; 1 for the first layer, whose input
needs no gradient); a layer whose backward hands the gradient on (add, concat) has none.

The host (CPU) spends the class's ``host`` seconds per forward kernel and
``host_backward_op_s`` per backward one. Host and device run as a pipeline: kernel k starts when the host has issued it and the
device has finished kernel k − 1; the time per batch is when the last kernel ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis import Analysis
from ..graph import INPUT, Graph
from ..layers.base import Kernel, KernelClass, Layer, numel
from .base import Bound, LayerCost, Mode, Workload
from .devices import Device, Precision

#: Kernel classes whose work is multiply-accumulates on the matrix units.
MATRIX_CLASSES = frozenset({KernelClass.CONV, KernelClass.MATMUL})
AUTOCAST_CLASSES = frozenset({KernelClass.CONV, KernelClass.CONV_GROUPED, KernelClass.MATMUL})

#: Parameter-sized passes over memory of one foreach optimizer step (reads + writes):
#: SGD p −= lr·g (3); momentum b = μb + g, p −= lr·b (8); Adam / AdamW: lerp, mul, addcmul,
#: sqrt, div, add, addcdiv (19; AdamW's decay multiply 2 more).
STEP_PASSES = {"sgd": 3, "momentum": 8, "adam": 19, "adamw": 21}
#: Foreach kernels launched per step (each walks every parameter in chunks).
STEP_KERNELS = {"sgd": 1, "momentum": 3, "adam": 7, "adamw": 8}


@dataclass(frozen=True)
class KernelTime:
    """Device seconds of one kernel and its bound."""

    seconds: float
    bound: Bound
    flops: int
    bytes: int


@dataclass(frozen=True)
class Options:
    """Framework math settings (PyTorch defaults): TF32 for cuDNN convs on, for matmuls off."""

    tf32_conv: bool = True
    tf32_matmul: bool = False


def precision(cls: KernelClass, elem_bytes: int, half_kind: str, opts: Options) -> Precision:
    """The math unit a kernel runs on: fp32 data → TF32 tensor cores for convs (cuDNN's
    allow_tf32), plain FP32 for GEMMs (matmul precision 'highest'); 16-bit data → its own."""
    if elem_bytes == 2:
        return "bf16" if half_kind == "bf16" else "fp16"
    if cls is KernelClass.CONV and opts.tf32_conv:
        return "tf32"
    if cls is KernelClass.MATMUL and opts.tf32_matmul:
        return "tf32"
    return "fp32"


_MATH_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


def kernel_time(k: Kernel, batch: int, act_bytes: int, weight_bytes: int, half_kind: str, device: Device,
                workload: Workload, opts: Options = Options()) -> KernelTime:
    """Device time of one kernel for the whole batch (the roofline above)."""
    e = device.eff(k.cls)
    half = act_bytes == 2
    flops = 2 * k.macs * batch
    traffic = (k.reads + k.writes) * batch * act_bytes + k.weights * weight_bytes + k.extra_bytes * batch
    memory = traffic / (device.memory_bandwidth * e.memory_for(half))
    layout = 0.0  # cuDNN's NCHW ↔ NHWC transposes: separate kernels, so added, not overlapped
    if k.cls is KernelClass.CONV and not workload.channels_last and device.layout_passes:
        moved = int(device.layout_passes * (k.writes + (k.reads if k.window > 1 else 0)) * batch * act_bytes)
        traffic += moved
        layout = moved / (device.memory_bandwidth * device.eff(KernelClass.ELEMENTWISE).memory_for(half))
    compute = 0.0
    if flops:
        if k.cls in MATRIX_CLASSES:
            p = precision(k.cls, act_bytes, half_kind, opts)
            peak = device.peak(p)
            fill = 1.0
            chunk_bytes = device.tensor_chunk_bytes
            if workload.channels_last and device.tensor_chunk_bytes_nhwc is not None:
                chunk_bytes = device.tensor_chunk_bytes_nhwc
            if chunk_bytes and p != "fp32" and k.channels:
                chunk = max(1.0, chunk_bytes / _MATH_BYTES[p])
                fill = k.channels / (math.ceil(k.channels / chunk) * chunk)
        else:  # grouped / depthwise convs run on the vector units
            peak, fill = device.peak("fp32"), 1.0
        compute = flops / (peak * e.compute_for(half) * fill)
    bound: Bound = "compute" if compute >= memory else "memory"
    if not flops and not traffic:
        bound = "none"
    return KernelTime(max(compute, memory) + layout + device.overheads.kernel_s, bound, flops, traffic)


@dataclass(frozen=True)
class TimeResult:
    """Predicted seconds per batch, per-layer costs and the optimizer step's share."""

    seconds: float
    layers: tuple[LayerCost, ...]
    optimizer_s: float


def _pipeline(ops: Sequence[tuple[float, float]]) -> float:
    """Makespan of (host seconds, device seconds) operations issued in order: each starts on
    the device once issued and once the previous one has finished."""
    host = dev = 0.0
    for h, d in ops:
        host += h
        dev = max(host, dev) + d
    return max(dev, host)


def _kernels(layer: Layer, ins: tuple[tuple[int, ...], ...], out: tuple[int, ...], train: bool) -> list[Kernel]:
    ks = list(layer.kernels(ins, out, train))
    act = layer.fused_activation()
    if act is not None:
        ks.extend(act.kernels((out,), out, train))
    return ks


def predict_time(graph: Graph, analysis: Analysis, device: Device, workload: Workload,
                 opts: Options = Options()) -> TimeResult:
    """Time of one batch: forward (inference), or forward, loss, backward and optimizer step."""
    train = workload.mode is Mode.TRAIN
    b = workload.batch
    act = workload.compute_dtype.bytes
    par = workload.param_dtype.bytes
    half_kind = workload.compute_dtype.value
    amp = workload.amp is not None
    ov = device.overheads
    elementwise = device.eff(KernelClass.ELEMENTWISE)
    bw = device.memory_bandwidth

    def cast(elements: int, src: int, dst: int) -> float:
        half = min(src, dst) == 2
        return elements * (src + dst) / (bw * elementwise.memory_for(half)) + ov.kernel_s

    forward: list[tuple[float, float]] = []
    backward: list[tuple[float, float]] = []
    layers: list[LayerCost] = []
    for node, row in zip(graph.nodes, analysis.rows):
        layer = node.layer
        main = layer.kernels(row.inputs, row.output, train)
        ks = _kernels(layer, row.inputs, row.output, train)
        lowp = amp and any(k.cls in AUTOCAST_CLASSES for k in ks)
        wbytes = act if lowp else par
        f_s = bwd_s = 0.0
        flops = nbytes = 0
        best: tuple[float, Bound] = (0.0, "none")
        for k in ks:
            kt = kernel_time(k, b, act, wbytes, half_kind, device, workload, opts)
            f_s += kt.seconds
            flops += kt.flops
            nbytes += kt.bytes
            if kt.seconds > best[0]:
                best = (kt.seconds, kt.bound)
            forward.append((device.host_s(k.cls), kt.seconds))
            # a backward that hands the gradient on (add, concat, views) launches nothing
            if train and not (layer.grad_passthrough() and k in main):
                ratio = device.eff(k.cls).backward
                if k.cls in MATRIX_CLASSES | {KernelClass.CONV_GROUPED} and node.inputs == (INPUT,):
                    ratio /= 2  # the first layer: weight gradient only
                bk = ratio * (kt.seconds - ov.kernel_s) + ov.kernel_s
                bwd_s += bk
                backward.append((ov.host_backward_op_s, bk))
        if lowp:  # autocast casts each weight (and its gradient back) every step
            n = sum(layer.param_tensors(row.inputs))
            c = cast(n, par, act)
            f_s += c
            forward.append((device.host_s(KernelClass.ELEMENTWISE), c))
            if train:
                bwd_s += cast(n, act, par)
                backward.append((ov.host_backward_op_s, cast(n, act, par)))
        host_f = sum(device.host_s(k.cls) for k in ks)
        bound: Bound = "overhead" if ks and host_f > f_s else best[1]
        layers.append(LayerCost(node.name, node.type, f_s * 1e3, bwd_s * 1e3, bound, flops, nbytes))
    step_s = 0.0
    ops = forward
    if train:
        classes = numel(analysis.rows[-1].output) if analysis.rows else 0  # logits per sample
        loss = [(device.host_s(KernelClass.ELEMENTWISE), cast(classes * b, act, 4))] * 2
        params = sum(sum(n.layer.param_tensors(r.inputs)) for n, r in zip(graph.nodes, analysis.rows))
        opt = workload.optimizer.value
        step_s = STEP_PASSES[opt] * params * par / (bw * elementwise.memory_for(par == 2)) \
            + STEP_KERNELS[opt] * ov.kernel_s
        ops = forward + loss + loss + backward[::-1] + [(ov.host_step_s, step_s)]
    return TimeResult(_pipeline(ops), tuple(layers), step_s)
