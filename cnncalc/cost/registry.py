"""Cost-model plug-ins found through the entry-point group ``cnncalc.cost_models``.

As flake8 does: discovery reads entry-point metadata only (nothing is imported), loading imports
just the chosen plug-in, and the built-in models are declared as entry points in cnncalc's own
pyproject.toml, so they go the same way as third-party ones. ``BUILTIN`` repeats that declaration
for a source tree whose installed metadata predates it (a test keeps the two equal).
"""

from __future__ import annotations

import difflib
import importlib.metadata as metadata
from dataclasses import dataclass

from ..errors import UsageError
from .base import CostModel

GROUP = "cnncalc.cost_models"

#: The built-in models, exactly as pyproject.toml declares them.
BUILTIN: dict[str, str] = {"roofline": "cnncalc.cost.roofline:RooflineModel"}

DEFAULT = "roofline"


class CostModelNotFound(UsageError):
    """No plug-in of that name is installed."""


class CostModelLoadError(UsageError):
    """A plug-in was found but could not be imported, created, or is not a cost model."""


@dataclass(frozen=True)
class Plugin:
    """A discovered (not yet imported) cost model."""

    name: str
    value: str  # "package.module:attribute"
    distribution: str
    entry_point: metadata.EntryPoint
    conflicts: tuple[str, ...] = ()  # other distributions declaring the same name differently


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def discover() -> dict[str, Plugin]:
    """Every cost model on offer, by name, from entry-point metadata alone (nothing imported)."""
    found: dict[str, Plugin] = {}
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in found:
            prev = found[ep.name]
            if prev.value != ep.value:
                found[ep.name] = Plugin(prev.name, prev.value, prev.distribution, prev.entry_point,
                                        (*prev.conflicts, f"{ep.value} from {_dist_name(ep)}"))
            continue
        found[ep.name] = Plugin(ep.name, ep.value, _dist_name(ep), ep)
    for name, value in BUILTIN.items():
        if name not in found:
            found[name] = Plugin(name, value, "cnncalc (built in)", metadata.EntryPoint(name, value, GROUP))
    return dict(sorted(found.items()))


def load(name: str = DEFAULT) -> CostModel:
    """Import and create the cost model ``name``; CostModelNotFound / CostModelLoadError otherwise."""
    plugins = discover()
    plugin = plugins.get(name)
    if plugin is None:
        close = difflib.get_close_matches(name, list(plugins), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise CostModelNotFound(f"no cost model named '{name}'{hint} (installed: {', '.join(plugins)})")
    where = f"cost model '{name}' ({plugin.value}, from {plugin.distribution})"
    if plugin.conflicts:
        raise CostModelLoadError(f"{where} is also declared as {'; '.join(plugin.conflicts)}; "
                                 "uninstall one of them")
    try:
        obj = plugin.entry_point.load()
    except Exception as e:  # a plug-in's import can fail in any way; report it, never a traceback
        raise CostModelLoadError(f"{where} failed to load: {type(e).__name__}: {e}") from e
    try:
        model = obj() if isinstance(obj, type) else obj
    except Exception as e:
        raise CostModelLoadError(f"{where} could not be created: {type(e).__name__}: {e}") from e
    if not isinstance(model, CostModel) or not callable(getattr(model, "predict", None)):
        raise CostModelLoadError(f"{where} is not a cost model: it needs a 'description' and "
                                 "predict(graph, device, workload) returning a CostReport")
    return model
