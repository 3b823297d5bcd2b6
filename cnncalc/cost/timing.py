"""Time per batch: a per-kernel roofline with a launch floor, replayed as a host → device pipeline.

Each kernel a layer runs (``Layer.kernels``) takes on the device

    t = max(FLOPs / (peak[precision] · e_compute · fill),  bytes / (bandwidth · e_memory),  t_kernel)
        + layout

with FLOPs = 2 · MACs · batch (a dense convolution's plus 2 · ``conv_output_macs`` per output
element: the implicit GEMM's fixed work per output — address arithmetic, epilogue — which makes a
conv of shallow reduction, C_in·K² small, slower than its MACs say) and bytes = activations read and written, weights and extra
traffic. ``t_kernel`` (``overheads.kernel_s``) is the shortest time a kernel takes on the device
(launch, ramp-up, one wave): a small kernel costs that, not its work plus it, so many small
layers at batch 1 come out launch-bound rather than summed. ``layout``: NCHW cuDNN convolutions
move their output (and, for windows larger than 1×1, their input) ``layout_passes`` more times
(cuDNN's NCHW ↔ NHWC transforms, kernels of their own, at the element-wise memory efficiency and
at the 4-byte rate per element whatever the dtype: 16-bit transposes are no faster per element,
as the single-layer probes show); channels_last has none.

``fill`` is how full the matrix units are: tensor cores consume a convolution's reduction depth
(C_in per group, per tap) in chunks of ``tensor_chunk_bytes`` (a 3-channel first conv fills 3 of
32 fp32 lanes), and a GEMM's rows in tiles of ``gemm_tile_rows`` (a batch-64 fc fills half a
128-row tile). The math unit follows PyTorch's defaults: fp32 convolutions on TF32 tensor cores
(``torch.backends.cudnn.allow_tf32``), fp32 GEMMs on FP32 units (``matmul.allow_tf32`` is False);
``Workload.tf32=False`` puts convolutions on FP32 units too. 16-bit data runs on its tensor cores.
Grouped and depthwise convolutions run on the vector units (their own efficiencies). Memory
efficiencies have a 16-bit figure, for NCHW (some of PyTorch's NCHW half kernels, pooling and
BatchNorm, are not vectorised as well); channels_last kernels move 16-bit data at least as fast
as 32-bit.

Backward, kernel by kernel:

- dense conv / GEMM: the data gradient (the forward's FLOPs, reduction over C_out, so its fill is
  that of C_out per group; skipped for the first layer, whose input needs no gradient) and the
  weight gradient (the forward's FLOPs reduced over batch × positions: full tiles, at ``wgrad``
  × the forward's efficiency);
- grouped conv: 2 × its forward (data and weight gradient) when groups hold several channels;
  depthwise (one channel per group): ``backward`` × its forward (a slow reduction, fitted);
- memory-bound kernels: ``backward`` × their forward (threshold, BatchNorm and pooling backward
  read more than they write); a layer that hands the gradient on (add, concat, views) has none.

The host (CPU) spends the class's ``host`` seconds issuing each forward operator (a class
without one — the H100's element-wise, pooling and reduction kernels — ``overheads.host_op_s``,
one figure for every plain ATen kernel; a further
kernel of the same operator, such as a conv's bias add, ``host_launch_s``) and
``host_backward_op_s`` per backward kernel; kernel k starts on the device when the host has issued
it and the device has finished kernel k − 1; the time per batch is when the last kernel ends.
Training adds the loss (log-softmax and NLL, forward and backward), autocast's weight casts and
the optimizer's foreach step.
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

    @classmethod
    def of(cls, workload: Workload) -> Options:
        """The workload's settings: ``tf32=False`` is strict fp32 for convolutions too."""
        return cls(tf32_conv=workload.tf32, tf32_matmul=False)


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


def chunk_fill(depth: int, p: Precision, device: Device, channels_last: bool) -> float:
    """Share of the tensor cores' reduction chunk a depth of ``depth`` elements fills:
    depth / (⌈depth / chunk⌉ · chunk), chunk = tensor_chunk_bytes / element bytes (1 off tensor cores)."""
    chunk_bytes = device.tensor_chunk_bytes
    if channels_last and device.tensor_chunk_bytes_nhwc is not None:
        chunk_bytes = device.tensor_chunk_bytes_nhwc
    if not chunk_bytes or p == "fp32" or depth <= 0:
        return 1.0
    chunk = max(1.0, chunk_bytes / _MATH_BYTES[p])
    return depth / (math.ceil(depth / chunk) * chunk)


def row_fill(rows: int, device: Device) -> float:
    """Share of the GEMM row tiles M rows fill: M / (⌈M / tile⌉ · tile) (1 without a tile size)."""
    tile = device.gemm_tile_rows
    if not tile or rows <= 0:
        return 1.0
    return rows / (math.ceil(rows / tile) * tile)


def kernel_time(k: Kernel, batch: int, act_bytes: int, weight_bytes: int, half_kind: str, device: Device,
                workload: Workload, opts: Options | None = None, depth: int | None = None,
                efficiency: float = 1.0) -> KernelTime:
    """Device time of one kernel for the whole batch (the roofline above).

    ``depth`` overrides the reduction depth the tensor cores see (a data gradient reduces over
    C_out); ``efficiency`` scales the compute efficiency (a weight gradient's ``wgrad``).
    """
    opts = opts or Options.of(workload)
    e = device.eff(k.cls)
    half = act_bytes == 2
    nhwc = workload.channels_last
    flops = 2 * k.macs * batch
    work = float(flops)
    traffic = (k.reads + k.writes) * batch * act_bytes + k.weights * weight_bytes + k.extra_bytes * batch
    # channels_last kernels are vectorised for 16-bit data: never slower per byte than for 32-bit
    e_mem = max(e.memory, e.memory_for(half)) if nhwc else e.memory_for(half)
    memory = traffic / (device.memory_bandwidth * e_mem)
    layout = 0.0  # cuDNN's NCHW ↔ NHWC transposes: separate kernels, so added, not overlapped
    if k.cls is KernelClass.CONV and not nhwc and device.layout_passes:
        # the transforms are not vectorised for 16-bit data: they move elements at the 4-byte rate
        moved = int(device.layout_passes * (k.writes + (k.reads if k.window > 1 else 0)) * batch * 4)
        traffic += moved * act_bytes // 4
        layout = moved / (device.memory_bandwidth * device.eff(KernelClass.ELEMENTWISE).memory)
    compute = 0.0
    if flops:
        if k.cls in MATRIX_CLASSES:
            p = precision(k.cls, act_bytes, half_kind, opts)
            fill = chunk_fill(k.channels if depth is None else depth, p, device, nhwc)
            if k.cls is KernelClass.CONV:  # each output element costs conv_output_macs more (epilogue)
                work += 2 * device.conv_output_macs * k.writes * batch
            if k.cls is KernelClass.MATMUL and k.weights:
                fill *= row_fill(batch * max(1, k.macs // k.weights), device)  # M = batch × positions
            peak = device.peak(p)
        else:  # grouped / depthwise convs run on the vector units
            peak, fill = device.peak("fp32"), 1.0
        compute = work / (peak * e.compute_for(half) * fill * efficiency)
    bound: Bound = "compute" if compute >= memory else "memory"
    if not flops and not traffic:
        return KernelTime(0.0, "none", 0, 0)
    return KernelTime(max(compute, memory, device.overheads.kernel_s) + layout, bound, flops, traffic)


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


def backward_time(k: Kernel, kt: KernelTime, first: bool, batch: int, act: int, wbytes: int, half_kind: str,
                  device: Device, workload: Workload, opts: Options) -> list[float]:
    """Device seconds of the backward kernels of one forward kernel (see the module docstring)."""
    e = device.eff(k.cls)
    floor = device.overheads.kernel_s
    if k.cls in MATRIX_CLASSES:
        out_depth = k.weights // max(1, k.channels * k.window)  # C_out (per group): weights = C_out·C_in·taps
        # weight gradient: the same MACs, reduced over batch × positions (full chunks and tiles)
        wk = Kernel(k.cls, k.macs, k.reads + k.writes, 0, k.weights, 0, 0, k.window)
        wgrad = kernel_time(wk, batch, act, wbytes, half_kind, device, workload, opts, depth=0,
                            efficiency=e.wgrad).seconds
        if first:
            return [wgrad]
        dk = Kernel(k.cls, k.macs, k.writes, k.reads, k.weights, 0, 0, k.window)
        dgrad = kernel_time(dk, batch, act, wbytes, half_kind, device, workload, opts, depth=out_depth).seconds
        return [dgrad, wgrad]
    if k.cls is KernelClass.CONV_GROUPED:
        ratio = e.backward if k.channels <= 1 else 2.0
        if first:
            ratio /= 2  # weight gradient only
        return [max(floor, ratio * kt.seconds)]
    return [max(floor, e.backward * kt.seconds)]


@dataclass(frozen=True)
class PlannedLayer:
    """What the time model needs of one layer: its kernels and how its backward goes."""

    name: str
    type: str
    kernels: tuple[Kernel, ...]      # the layer's own, then its fused activation's
    main: int                        # how many are the layer's own (one PyTorch operator)
    passthrough: tuple[bool, ...]    # per kernel: its backward only hands the gradient on
    first: bool                      # reads the network input (no data gradient)
    params: int                      # parameter elements (autocast casts them)


@dataclass(frozen=True)
class TimePlan:
    """The kernels of one network under one workload, independent of the device (cacheable)."""

    layers: tuple[PlannedLayer, ...]
    classes: int   # logits per sample (the loss)
    params: int    # parameter elements (the optimizer step)


def plan_time(graph: Graph, analysis: Analysis, workload: Workload) -> TimePlan:
    """The kernels every layer runs, for ``evaluate_time`` on any device."""
    train = workload.mode is Mode.TRAIN
    out: list[PlannedLayer] = []
    for node, row in zip(graph.nodes, analysis.rows):
        layer = node.layer
        main = layer.kernels(row.inputs, row.output, train)
        ks = _kernels(layer, row.inputs, row.output, train)
        passthrough = tuple(layer.grad_passthrough() and j < len(main) for j in range(len(ks)))
        out.append(PlannedLayer(node.name, node.type, tuple(ks), len(main), passthrough, node.inputs == (INPUT,),
                                sum(layer.param_tensors(row.inputs))))
    classes = numel(analysis.rows[-1].output) if analysis.rows else 0
    return TimePlan(tuple(out), classes, sum(pl.params for pl in out))


def predict_time(graph: Graph, analysis: Analysis, device: Device, workload: Workload,
                 opts: Options | None = None) -> TimeResult:
    """Time of one batch: forward (inference), or forward, loss, backward and optimizer step."""
    return evaluate_time(plan_time(graph, analysis, workload), device, workload, opts)


def evaluate_time(plan: TimePlan, device: Device, workload: Workload, opts: Options | None = None) -> TimeResult:
    """``predict_time`` on a plan made by ``plan_time``."""
    opts = opts or Options.of(workload)
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
        return max(elements * (src + dst) / (bw * elementwise.memory_for(half)), ov.kernel_s)

    forward: list[tuple[float, float]] = []
    backward: list[tuple[float, float]] = []
    layers: list[LayerCost] = []
    for pl in plan.layers:
        ks = pl.kernels
        lowp = amp and any(k.cls in AUTOCAST_CLASSES for k in ks)
        wbytes = act if lowp else par
        f_s = bwd_s = 0.0
        flops = nbytes = 0
        best: tuple[float, Bound] = (0.0, "none")
        host_f = 0.0
        for j, (k, passthrough) in enumerate(zip(ks, pl.passthrough)):
            kt = kernel_time(k, b, act, wbytes, half_kind, device, workload, opts)
            if kt.bound == "none":
                continue
            f_s += kt.seconds
            flops += kt.flops
            nbytes += kt.bytes
            if kt.seconds > best[0]:
                best = (kt.seconds, kt.bound)
            # a further kernel of the same operator (a conv's bias add) is one more launch only
            host = ov.host_launch_s if 0 < j < pl.main else device.host_s(k.cls)
            host_f += host
            forward.append((host, kt.seconds))
            # a backward that hands the gradient on (add, concat, views) launches nothing
            if train and not passthrough:
                for bk in backward_time(k, kt, pl.first, b, act, wbytes, half_kind, device, workload, opts):
                    bwd_s += bk
                    backward.append((ov.host_backward_op_s, bk))
        if lowp:  # autocast casts each weight (and its gradient back) every step
            c = cast(pl.params, par, act)
            f_s += c
            forward.append((device.host_s(KernelClass.ELEMENTWISE), c))
            if train:
                bwd_s += cast(pl.params, act, par)
                backward.append((ov.host_backward_op_s, cast(pl.params, act, par)))
        bound: Bound = "overhead" if host_f > f_s else best[1]
        layers.append(LayerCost(pl.name, pl.type, f_s * 1e3, bwd_s * 1e3, bound, flops, nbytes))
    step_s = 0.0
    ops = forward
    if train:
        loss = [(device.host_s(KernelClass.ELEMENTWISE), cast(plan.classes * b, act, 4))] * 2
        opt = workload.optimizer.value
        step_s = STEP_PASSES[opt] * plan.params * par / (bw * elementwise.memory_for(par == 2)) \
            + STEP_KERNELS[opt] * ov.kernel_s
        ops = forward + loss + loss + backward[::-1] + [(ov.host_step_s, step_s)]
    return TimeResult(_pipeline(ops), tuple(layers), step_s)
