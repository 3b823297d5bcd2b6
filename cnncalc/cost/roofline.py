"""The built-in cost model: allocation replay for memory, per-kernel roofline for time."""

from __future__ import annotations

from typing import ClassVar

from ..analysis import analyse
from ..graph import Graph
from ..limits import check_float_range
from .base import CostReport, Workload
from .devices import Device
from .memory import simulate_memory
from .timing import Options, predict_time


class RooflineModel:
    """PyTorch eager on one device: memory by replaying allocations (cnncalc.cost.memory),
    time by a per-kernel roofline with calibrated efficiencies and overheads (cnncalc.cost.timing).
    """

    description: ClassVar[str] = ("PyTorch eager: allocation replay for peak memory, per-kernel roofline "
                                  "with calibrated efficiencies for time")

    def __init__(self, options: Options | None = None) -> None:
        self.options = options  # None: the workload's (its tf32 setting)

    def predict(self, graph: Graph, device: Device, workload: Workload) -> CostReport:
        """Peak memory and time per batch of ``graph`` on ``device`` under ``workload``."""
        analysis = analyse(graph, 1)
        t_ = analysis.totals
        check_float_range({"MACs × batch": t_.macs * workload.batch, "ops × batch": t_.ops * workload.batch,
                           "activation bytes × batch": t_.activation_bytes * workload.batch,
                           "parameters": t_.params + t_.buffers}, "the cost model")
        mem = simulate_memory(graph, analysis, device, workload)
        t = predict_time(graph, analysis, device, workload, self.options)
        notes = []
        if not device.calibrated or device.calibrated == "no":
            notes.append(f"{device.name}: efficiencies not calibrated on this device (generic figures); "
                         "times are rough — run 'cnncalc calibrate' there")
        return CostReport(
            model=graph.name, cost_model="roofline", device=device.name, workload=workload,
            memory=mem.breakdown, peak_at=mem.peak_at, time_ms=t.seconds * 1e3, layers=t.layers,
            optimizer_ms=t.optimizer_s * 1e3, device_memory_bytes=device.memory_bytes, notes=tuple(notes),
        )
