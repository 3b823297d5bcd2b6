"""cnncalc: per-layer shapes, parameters, memory and multiply-adds of convolutional networks."""

from __future__ import annotations

from collections.abc import Mapping

from .analysis import Analysis, DType, Row, Totals, analyse, collapse, select
from .errors import CnncalcError, Diagnostic, Position, SpecError, UsageError
from .graph import Graph, build_graph
from .spec import LoadedSpec, Spec, load_spec, parse_spec, zoo_names

__version__ = "0.1.0"

__all__ = [
    "Analysis", "CnncalcError", "DType", "Diagnostic", "Graph", "LoadedSpec", "Position", "Row",
    "Spec", "SpecError", "Totals", "UsageError", "__version__", "analyse", "analyse_spec",
    "build_graph", "collapse", "load_spec", "parse_spec", "select", "zoo_names",
]


def analyse_spec(name_or_path: str, *, batch: int = 1, dtype: DType | str = DType.FP32,
                 input_shape: tuple[int, ...] | None = None,
                 env: Mapping[str, int] | None = None) -> Analysis:
    """Load, build and analyse a spec (zoo name or path) in one call."""
    return analyse(build_graph(load_spec(name_or_path), env, input_shape), batch, dtype)
