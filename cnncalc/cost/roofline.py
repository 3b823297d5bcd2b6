"""The built-in cost model: allocation replay for memory, per-kernel roofline for time."""

from __future__ import annotations

from typing import ClassVar

from ..analysis import Analysis, analyse
from ..graph import Graph
from ..limits import check_float_range
from .base import CostReport, Mode, Workload
from .devices import Device
from .memory import simulate_memory
from .timing import Options, TimePlan, evaluate_time, plan_time


class RooflineModel:
    """PyTorch eager on one device: memory by replaying allocations (cnncalc.cost.memory),
    time by a per-kernel roofline with calibrated efficiencies and overheads (cnncalc.cost.timing).
    """

    description: ClassVar[str] = ("PyTorch eager: allocation replay for peak memory, per-kernel roofline "
                                  "with calibrated efficiencies for time")

    def __init__(self, options: Options | None = None) -> None:
        self.options = options  # None: the workload's (its tf32 setting)
        # The last graph's analysis (at batch 1) and its kernel plans by mode: neither depends on
        # the batch, which is all that changes between the predictions of ``fit`` or a sweep.
        self._last: tuple[Graph, Analysis, dict[Mode, TimePlan]] | None = None

    def _prepared(self, graph: Graph) -> tuple[Analysis, dict[Mode, TimePlan]]:
        if self._last is None or self._last[0] is not graph:
            self._last = (graph, analyse(graph, 1), {})
        return self._last[1], self._last[2]

    def predict(self, graph: Graph, device: Device, workload: Workload) -> CostReport:
        """Peak memory and time per batch of ``graph`` on ``device`` under ``workload``."""
        analysis, plans = self._prepared(graph)
        t_ = analysis.totals
        check_float_range({"MACs × batch": t_.macs * workload.batch, "ops × batch": t_.ops * workload.batch,
                           "activation bytes × batch": t_.activation_bytes * workload.batch,
                           "parameters": t_.params + t_.buffers}, "the cost model")
        mem = simulate_memory(graph, analysis, device, workload)
        plan = plans.get(workload.mode)
        if plan is None:
            plan = plans[workload.mode] = plan_time(graph, analysis, workload)
        t = evaluate_time(plan, device, workload, self.options)  # = predict_time(graph, analysis, …)
        notes = []
        if not device.calibrated or device.calibrated == "no":
            notes.append(f"{device.name}: efficiencies not calibrated on this device (generic figures); "
                         "times are rough — run 'cnncalc calibrate' there")
        return CostReport(
            model=graph.name, cost_model="roofline", device=device.name, workload=workload,
            memory=mem.breakdown, peak_at=mem.peak_at, time_ms=t.seconds * 1e3, layers=t.layers,
            optimizer_ms=t.optimizer_s * 1e3, device_memory_bytes=device.memory_bytes, notes=tuple(notes),
        )
