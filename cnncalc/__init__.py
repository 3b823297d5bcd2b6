"""cnncalc: per-layer shapes, parameters, memory and multiply-adds of convolutional networks.

The names below are imported on first use (PEP 562), so that ``import cnncalc.x`` (and a command
that needs only some of the core) does not pay for all of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis import Analysis, DType, Row, Totals, analyse, collapse, select
    from .errors import CnncalcError, Diagnostic, Position, SpecError, UsageError
    from .graph import Graph, build_graph
    from .spec import LoadedSpec, Spec, load_spec, parse_spec, zoo_names

__version__ = "0.1.0"

_WHERE = {
    **dict.fromkeys(("Analysis", "DType", "Row", "Totals", "analyse", "collapse", "select"), "analysis"),
    **dict.fromkeys(("CnncalcError", "Diagnostic", "Position", "SpecError", "UsageError"), "errors"),
    **dict.fromkeys(("Graph", "build_graph"), "graph"),
    **dict.fromkeys(("LoadedSpec", "Spec", "load_spec", "parse_spec", "zoo_names"), "spec"),
}

__all__ = [
    "Analysis", "CnncalcError", "DType", "Diagnostic", "Graph", "LoadedSpec", "Position", "Row",
    "Spec", "SpecError", "Totals", "UsageError", "__version__", "analyse", "analyse_spec",
    "build_graph", "collapse", "load_spec", "parse_spec", "select", "zoo_names",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def analyse_spec(name_or_path: str, *, batch: int = 1, dtype: DType | str = "fp32",
                 input_shape: tuple[int, ...] | None = None,
                 env: Mapping[str, int] | None = None) -> Analysis:
    """Load, build and analyse a spec (zoo name or path) in one call."""
    from .analysis import analyse
    from .graph import build_graph
    from .spec import load_spec
    return analyse(build_graph(load_spec(name_or_path), env, input_shape), batch, dtype)
