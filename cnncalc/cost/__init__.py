"""Cost models: predicted device memory and time of a network, as plug-ins (entry points).

The interface (``CostModel``, ``Workload``, ``CostReport``) is in cnncalc.cost.base, device files
in cnncalc.cost.devices, discovery and loading in cnncalc.cost.registry. The built-in model
(cnncalc.cost.roofline) is imported only when chosen, like any plug-in. Names below are imported
on first use, so that commands which never touch costs do not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Amp, CostModel, CostReport, LayerCost, MemoryBreakdown, MemoryFormat, Mode, Optimizer, Workload
    from .devices import Device, load_device, preset_names
    from .registry import CostModelLoadError, CostModelNotFound, discover, load
    from .search import BatchFit, largest_batch

_WHERE = {
    **dict.fromkeys(("Amp", "CostModel", "CostReport", "LayerCost", "MemoryBreakdown", "MemoryFormat", "Mode",
                     "Optimizer", "Workload"), "base"),
    **dict.fromkeys(("Device", "load_device", "preset_names"), "devices"),
    **dict.fromkeys(("CostModelLoadError", "CostModelNotFound", "discover", "load"), "registry"),
    **dict.fromkeys(("BatchFit", "largest_batch"), "search"),
}

__all__ = [
    "Amp", "BatchFit", "CostModel", "CostModelLoadError", "CostModelNotFound", "CostReport", "Device",
    "LayerCost", "MemoryBreakdown", "MemoryFormat", "Mode", "Optimizer", "Workload", "discover", "largest_batch", "load",
    "load_device", "preset_names",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
