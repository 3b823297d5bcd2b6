"""Importers: ONNX graphs and PyTorch modules become readable YAML specs (optional extras [onnx], [torch]).

The core never imports these modules; ``load_spec`` reaches :func:`onnx_spec_text` only for an
``.onnx`` path, and the ``import`` command is the only other user.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CnncalcError, UsageError


def spec_text(spec: dict[str, Any], what: str) -> str:
    """The spec as YAML, checked to load and analyse (an importer bug otherwise, said plainly)."""
    from ..analysis import analyse
    from ..graph import build_graph
    from ..spec import parse_spec
    from .common import spec_yaml
    text = spec_yaml(spec, f"Imported by cnncalc from {what}; weights ignored, names from the model.")
    try:
        analyse(build_graph(parse_spec(text, f"{spec['name']}.yaml")))
    except CnncalcError as e:
        raise UsageError(f"the spec imported from {what} does not analyse (an importer bug; please report it):\n"
                         f"{e}\n--- spec ---\n{text}") from None
    return text


def onnx_spec_text(path: str | Path, *, fold: bool = True, name: str = "") -> str:
    """YAML spec text for an .onnx file (needs the [onnx] extra)."""
    from .onnx import onnx_file_spec
    spec = onnx_file_spec(path, fold=fold)
    if name:
        spec["name"] = name
    return spec_text(spec, Path(path).name)


def torch_spec_text(ref: str, input_shape: tuple[int, ...] = (3, 224, 224), *, fold: bool = True,
                    name: str = "", more_inputs: Sequence[tuple[int, ...]] = (), args: dict[str, Any] | None = None,
                    train: bool = False) -> str:
    """YAML spec text for ``package.module:factory`` traced at ``input_shape`` (needs the [torch] extra);
    ``more_inputs``, ``args`` and ``train`` as :func:`cnncalc.importers.torch.torch_to_spec` takes them."""
    from .torch import load_factory, torch_to_spec
    model = load_factory(ref)
    spec = torch_to_spec(model, input_shape, name, fold=fold, source=f"PyTorch {ref} (torch.fx)",
                         more_inputs=more_inputs, args=args, train=train)
    return spec_text(spec, ref)


__all__ = ["onnx_spec_text", "spec_text", "torch_spec_text"]
