"""Fit a device file's efficiencies and overheads to measured times (pure Python, no numpy).

Measurements are whole networks (``ModelTiming``: seconds per batch of a graph under a workload)
and single layers (``LayerTiming``: one forward, never below a launch floor fitted per way of
timing, ``floor_group``). The fit minimises the weighted sum of squared
log errors, log(predicted / measured)², by a bounded pattern search in log space over the
parameters named in ``PARAMETERS`` (paths into the device file).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis import Analysis, analyse
from ..graph import Graph
from ..layers.base import Kernel, KernelClass, Layer
from .base import Mode, Workload
from .devices import Device
from .timing import TimePlan, evaluate_time, kernel_time, plan_time

#: (path in the device file, lower bound, upper bound) of every fitted number.
Parameter = tuple[tuple[str, ...], float, float]


#: What a backward pass can cost relative to its forward, by what it must read and write:
#: threshold / activation backward reads the gradient and the output and writes one (1–2.5×);
#: BatchNorm's reduces, then reads input and gradient again (1.5–3.5×); a depthwise conv's weight
#: gradient is a slow reduction (up to 16×).
BACKWARD_BOUNDS = {"elementwise": (1.0, 2.5), "norm": (1.5, 3.5), "pool": (0.5, 3.0), "reduce": (0.5, 3.0),
                   "conv_grouped": (1.0, 16.0)}


def _eff(cls: str, *fields: str) -> list[Parameter]:
    bounds = {"compute": (0.005, 1.0), "compute_half": (0.005, 1.0), "memory": (0.05, 1.0),
              "memory_half": (0.05, 1.0), "backward": BACKWARD_BOUNDS.get(cls, (0.5, 16.0)),
              "host": (2e-6, 6e-5), "wgrad": (0.25, 2.0)}
    return [(("efficiency", cls, f), *bounds[f]) for f in fields]


PARAMETERS: list[Parameter] = [
    # conv / fc backward: data and weight gradient kernels (the weight gradient's efficiency fitted);
    # global pooling (reduce) is too small a share of any network to fit: its figures stay as given
    *_eff("conv", "compute", "compute_half", "memory", "memory_half", "host", "wgrad"),
    *_eff("conv_grouped", "compute", "compute_half", "memory", "memory_half", "backward", "host"),
    *_eff("matmul", "compute", "compute_half", "memory", "memory_half", "host"),
    # plain ATen kernels (element-wise, pooling, reductions, copies) share one host time per
    # operator, overheads.host_op_s: the same dispatch path and no library call; cuDNN (conv,
    # BatchNorm) and cuBLAS (matmul) calls have their own
    *_eff("elementwise", "memory", "memory_half", "backward"),
    *_eff("norm", "memory", "memory_half", "backward", "host"),
    *_eff("pool", "memory", "memory_half", "backward"),
    (("overheads", "host_op_s"), 2e-6, 6e-5),
    (("layout_passes",), 0.05, 4.0),
    (("conv_output_macs",), 10.0, 4000.0),
    (("tensor_chunk_bytes",), 4.0, 256.0),
    (("overheads", "kernel_s"), 1e-6, 6e-6),
    (("overheads", "host_backward_op_s"), 1e-6, 2e-4),
    (("overheads", "host_step_s"), 1e-6, 5e-3),
]


@dataclass(frozen=True)
class ModelTiming:
    """A whole network's measured seconds per batch."""

    label: str
    graph: Graph
    workload: Workload
    seconds: float
    weight: float = 1.0
    analysis: Analysis = field(init=False, compare=False)
    plan: TimePlan = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "analysis", analyse(self.graph, 1))
        object.__setattr__(self, "plan", plan_time(self.graph, self.analysis, self.workload))

    def predict(self, device: Device) -> float:
        """Predicted seconds per batch."""
        return evaluate_time(self.plan, device, self.workload).seconds


@dataclass(frozen=True)
class LayerTiming:
    """One layer's measured forward seconds (a single-layer probe).

    Probes timed one by one include a fixed launch cost, so the prediction is the device time
    or ``floor`` (a nuisance figure fitted with the rest and not kept), whichever is larger.
    ``floor_group`` names whose floor that is: timings taken the same way share one (probes timed
    alone, layers timed inside their network between event records), each fitted on its own.
    """

    label: str
    layer: Layer
    input_shape: tuple[int, ...]
    workload: Workload
    seconds: float
    weight: float = 1.0
    floor_group: str = "probe"
    kernels: tuple[Kernel, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        ins = (self.input_shape,)
        out = self.layer.output_shape(ins)
        object.__setattr__(self, "kernels", tuple(self.layer.kernels(ins, out, self.workload.mode is Mode.TRAIN)))

    def predict(self, device: Device, floor: float = 0.0) -> float:
        """Predicted forward seconds of the layer on ``device``."""
        w = self.workload
        act = w.compute_dtype.bytes
        total = sum(kernel_time(k, w.batch, act, act, w.compute_dtype.value, device, w).seconds
                    for k in self.kernels)
        return max(total, floor)


Measurement = ModelTiming | LayerTiming


def _get(d: dict[str, Any], path: tuple[str, ...]) -> float | None:
    for p in path[:-1]:
        d = d.get(p) or {}
    v = d.get(path[-1])
    return float(v) if isinstance(v, int | float) else None


def _set(d: dict[str, Any], path: tuple[str, ...], value: float) -> None:
    for p in path[:-1]:
        d = d.setdefault(p, {})
    d[path[-1]] = value


def _defaults(path: tuple[str, ...]) -> float:
    """Starting value of a parameter the device file does not give."""
    if path[0] == "efficiency":
        return {"compute": 0.5, "compute_half": 0.4, "memory": 0.7, "memory_half": 0.6, "backward": 2.0,
                "host": 2e-5, "wgrad": 1.0}[path[-1]]
    return {"layout_passes": 1.0, "conv_output_macs": 300.0, "tensor_chunk_bytes": 128.0, "tensor_chunk_bytes_nhwc": 128.0, "kernel_s": 3e-6, "host_op_s": 2e-5, "host_backward_op_s": 3e-5,
            "host_step_s": 2e-4}[path[-1]]


@dataclass(frozen=True)
class FitResult:
    """The fitted device and every measurement's prediction."""

    device: Device
    rows: tuple[tuple[str, float, float], ...]  # (label, measured s, predicted s)
    loss: float


def fit_device(device: Device, measurements: Sequence[Measurement],
               parameters: Sequence[Parameter] = PARAMETERS, rounds: int = 12, prior: float = 0.05,
               progress: Callable[[int, float], None] | None = None) -> FitResult:
    """Fit ``parameters`` of ``device`` to ``measurements`` (weighted squared log errors)."""
    base = device.model_dump(mode="json")
    names = [p[0] for p in parameters]
    x = [math.log(_get(base, n) or _defaults(n)) for n in names]
    lo = [math.log(p[1]) for p in parameters]
    hi = [math.log(p[2]) for p in parameters]
    x = [min(max(v, a), b) for v, a, b in zip(x, lo, hi)]
    start = list(x)
    # one launch floor per way of timing single layers (nuisance figures, fitted and not kept)
    groups = sorted({m.floor_group for m in measurements if isinstance(m, LayerTiming)})
    floors = dict.fromkeys(groups, math.log(2e-5))

    def build(xs: Sequence[float]) -> Device:
        d = device.model_dump(mode="json")
        for n, v in zip(names, xs):
            _set(d, n, math.exp(v))
        return Device.model_validate(d)

    def loss(xs: Sequence[float], fl: dict[str, float]) -> float:
        dev = build(xs)
        # a weak prior towards the starting values keeps figures the data cannot tell apart
        # (host time of a conv vs the BatchNorm always after it) near their physical defaults
        total = prior * sum((v - s) ** 2 for v, s in zip(xs, start))
        for m in measurements:
            pred = m.predict(dev, math.exp(fl[m.floor_group])) if isinstance(m, LayerTiming) else m.predict(dev)
            err = abs(math.log(pred / m.seconds))
            # squared log error, and ten times more beyond 15 %: no measurement left far off
            total += m.weight * (err ** 2 + 10 * max(0.0, err - 0.14) ** 2)
        return total

    best = loss(x, floors)
    step = math.log(2.0)
    for r in range(rounds):
        improved = False
        coords: list[int | str] = [*range(len(x)), *groups]
        for i in coords:
            for sign in (1, -1):
                trial = list(x)
                fl = dict(floors)
                if isinstance(i, str):
                    fl[i] += sign * step
                else:
                    trial[i] = min(max(x[i] + sign * step, lo[i]), hi[i])
                    if trial[i] == x[i]:
                        continue
                val = loss(trial, fl)
                if val < best - 1e-12:
                    best, x, floors, improved = val, trial, fl, True
                    break
        if progress:
            progress(r, best)
        if not improved:
            step /= 2
            if step < 0.01:
                break
    dev = build([math.log(round_sig(math.exp(v))) for v in x])
    rows = tuple((m.label, m.seconds, m.predict(dev, math.exp(floors[m.floor_group])) if isinstance(m, LayerTiming)
                  else m.predict(dev)) for m in measurements)
    return FitResult(dev, rows, best)


def round_sig(v: float, digits: int = 3) -> float:
    """``v`` to ``digits`` significant digits (device files stay readable)."""
    if v == 0:
        return 0.0
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))


def efficiency_yaml(device: Device) -> str:
    """The fitted part of a device file as YAML text (efficiency, layout_passes, overheads)."""
    lines = ["efficiency:"]
    for cls in KernelClass:
        if cls not in device.efficiency:
            continue
        # figures left at their defaults say nothing (a memory-bound class's compute); backward always shown
        e = {k: v for k, v in device.efficiency[cls].model_dump(exclude_defaults=True).items() if v is not None}
        e.setdefault("backward", device.efficiency[cls].backward)
        inner = ", ".join(f"{k}: {_num(v)}" for k, v in e.items())
        lines.append(f"  {cls.value + ':':14s}{{{inner}}}")
    lines.append(f"layout_passes: {_num(device.layout_passes)}")
    lines.append(f"conv_output_macs: {_num(device.conv_output_macs)}")
    lines.append(f"tensor_chunk_bytes: {_num(device.tensor_chunk_bytes)}")
    if device.tensor_chunk_bytes_nhwc is not None:
        lines.append(f"tensor_chunk_bytes_nhwc: {_num(device.tensor_chunk_bytes_nhwc)}")
    lines.append("overheads:")
    for k, v in device.overheads.model_dump().items():
        lines.append(f"  {k}: {_num(v)}")
    return "\n".join(lines) + "\n"


def _num(v: float) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
