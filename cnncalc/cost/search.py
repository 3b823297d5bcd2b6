"""The largest batch whose predicted peak memory fits a device (binary search over batch sizes)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import UsageError
from ..graph import Graph
from .base import CostModel, CostReport, Workload
from .devices import Device

#: Largest batch tried; a network that still fits there is reported as fitting at this size.
MAX_BATCH = 1 << 24


@dataclass(frozen=True)
class BatchFit:
    """The largest fitting batch (0: not even batch 1) with its report and the first that fails."""

    batch: int
    budget_bytes: int
    report: CostReport | None
    next_report: CostReport | None


def largest_batch(model: CostModel, graph: Graph, device: Device, workload: Workload,
                  headroom: float = 0.0) -> BatchFit:
    """Largest batch with predicted peak ≤ (1 − headroom) × device memory.

    Peak memory grows with the batch, so: double until it does not fit, then bisect.
    ``headroom`` keeps a share free for what the prediction leaves out (the CUDA context outside
    PyTorch's allocator, the caching allocator's fragmentation).
    """
    if not 0 <= headroom < 1:
        raise UsageError(f"--headroom must be in [0, 1), got {headroom}")
    budget = int(device.memory_bytes * (1 - headroom))
    cache: dict[int, CostReport] = {}

    def at(b: int) -> CostReport:
        if b not in cache:
            cache[b] = model.predict(graph, device, replace(workload, batch=b))
        return cache[b]

    if at(1).peak_memory_bytes > budget:
        return BatchFit(0, budget, None, at(1))
    lo, hi = 1, 2
    while hi <= MAX_BATCH and at(hi).peak_memory_bytes <= budget:
        lo, hi = hi, hi * 2
    if hi > MAX_BATCH:
        return BatchFit(lo, budget, at(lo), None)
    while hi - lo > 1:  # at(lo) fits, at(hi) does not
        mid = (lo + hi) // 2
        if at(mid).peak_memory_bytes <= budget:
            lo = mid
        else:
            hi = mid
    return BatchFit(lo, budget, at(lo), at(hi))
