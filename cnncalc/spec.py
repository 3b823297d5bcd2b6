"""The network spec: its pydantic model, the built-in zoo lookup and load_spec()."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Diagnostic, SpecError, UsageError
from .limits import read_text_limited
from .source import Document, load_yaml

#: Keys a layer entry may carry besides its kind's own fields.
ENTRY_KEYS = ("type", "name", "inputs", "repeat", "when", "weights", "trainable", "functional")

Scalar = int | float | bool | str | None
Value = Scalar | list[Any]


class BlockDef(BaseModel):
    """A named, parameterised sub-graph used like a layer type (``type: <block name>``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    args: dict[str, Value] = Field(
        default_factory=dict,
        description="Arguments and their defaults; null means the argument is required.",
    )
    inputs: list[str] = Field(
        default_factory=lambda: ["input"],
        description="Names the block's layers use for the instance's inputs (default: input).",
    )
    layers: Annotated[list[Any], Field(min_length=1)]
    output: str | None = Field(None, description="Layer whose output is the block's (default: last).")
    doc: str | None = None


class FreeParameter(BaseModel):
    """Parameters no layer row uses (a module never called, a free ``nn.Parameter``), by owner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Where the tensor lives in the model (aux1, cls_token, activations.prelu).")
    params: Annotated[int, Field(ge=0, strict=True)] = Field(description="Elements of the tensor(s).")
    buffers: Annotated[int, Field(ge=0, strict=True)] = Field(
        0, description="Buffer elements that go with them (running statistics of a module never called).")
    trainable: bool = Field(True, description="false: requires_grad is off (frozen).")
    note: str | None = None


class Spec(BaseModel):
    """A network: an input shape and a list of layers, with optional reusable blocks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    input: Annotated[list[Any], Field(min_length=1, max_length=3)] | None = Field(
        None, description="[C, H, W] for images or [features] for vectors; entries may be expressions."
    )
    inputs: dict[str, Annotated[list[Any], Field(min_length=1, max_length=3)]] | None = Field(
        None, description="Several named inputs instead of 'input' ({image: [3, 224, 224], meta: [10]}); "
                          "layers take them by name, the first is also 'input'.")
    layers: Annotated[list[Any], Field(min_length=1)] = Field(
        description="Layer entries in order; each a mapping with 'type' (a layer kind or block name)."
    )
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    parameters: list[FreeParameter] = Field(
        default_factory=list, description="Parameters that no layer row uses, counted in the totals.")
    vars: dict[str, int] = Field(default_factory=dict, description="Default values of variables.")
    title: str | None = None
    description: str | None = None
    paper: str | None = None
    year: int | None = None
    source: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with the document it came from (for positions)."""

    spec: Spec
    doc: Document


def spec_dirs() -> list[Path]:
    """Folders of the built-in zoo: inside the installed package, or the checkout's specs/."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "specs", here.parent / "specs") if d.is_dir()]


def zoo_names() -> list[str]:
    """Names of every built-in spec."""
    names: set[str] = set()
    for d in spec_dirs():
        names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def resolve(name_or_path: str) -> Path:
    """A spec file from a path or a zoo name; UsageError with suggestions otherwise."""
    p = Path(name_or_path)
    if p.is_file() or (p.exists() and not p.is_dir() and p.suffix.lower() != ".onnx"):
        return p  # a FIFO or device too: read_text_limited bounds what is read
    for d in spec_dirs():
        cand = d / f"{name_or_path}.yaml"
        if cand.is_file():
            return cand
    close = difflib.get_close_matches(name_or_path, zoo_names(), n=3)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        "; run 'cnncalc zoo' to list the built-in specs"
    raise UsageError(f"no spec file or built-in spec named '{name_or_path}'{hint}")


def parse_spec(text: str, file: str) -> LoadedSpec:
    """Validate YAML text as a Spec (structure only; layers are checked by the graph)."""
    doc = load_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise SpecError([Diagnostic(doc.where(()), "a spec must be a mapping with name, input and layers")])
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as e:
        raise SpecError(validation_diagnostics(e, doc, (), fields=list(Spec.model_fields))) from None
    clashes = [Diagnostic(doc.where(("blocks", b, "args", a), key=True),
                          f"blocks.{b}.args: an argument cannot be named '{a}': {', '.join(ENTRY_KEYS)} are the "
                          "keys of every layer entry, so no use of the block could pass it; rename it")
               for b, bdef in spec.blocks.items() for a in bdef.args if a in ENTRY_KEYS]
    if clashes:
        raise SpecError(clashes)
    return LoadedSpec(spec, doc)


#: A SPEC written ``torch:package.module:factory`` is that PyTorch model, imported (the [torch] extra).
TORCH_PREFIX = "torch:"


def load_spec(name_or_path: str, input_shape: tuple[int, ...] | None = None) -> LoadedSpec:
    """Load a spec by path or zoo name; an .onnx file or a ``torch:`` model is imported first.

    ``input_shape`` is the shape a ``torch:`` model is traced at (default 3×224×224).
    """
    if name_or_path.startswith(TORCH_PREFIX) and not Path(name_or_path).is_file():
        from .importers import torch_spec_text  # lazy: the core never needs torch
        ref = name_or_path[len(TORCH_PREFIX):]
        return parse_spec(torch_spec_text(ref, input_shape or (3, 224, 224)), f"{ref} (imported)")
    path = resolve(name_or_path)
    if path.suffix.lower() == ".onnx":
        from .importers import onnx_spec_text  # lazy: the core never needs onnx
        return parse_spec(onnx_spec_text(path), f"{path} (imported)")
    file = str(path) if Path(name_or_path).exists() else f"{name_or_path}.yaml"
    return parse_spec(read_text_limited(path, "spec", file=file), file)


def validation_diagnostics(e: ValidationError, doc: Document, base: tuple[str | int, ...],
                           context: str = "", fields: list[str] | None = None) -> list[Diagnostic]:
    """Map pydantic errors to positioned diagnostics (one per field; ``fields`` for did-you-mean)."""
    out = []
    seen: set[tuple[str | int, ...]] = set()
    for err in e.errors(include_url=False):
        raw = tuple(err["loc"])
        # drop pydantic's union tags ('function-after[…]'), but an unknown key is the user's, '[' or not
        keep = raw[-1:] if err["type"] == "extra_forbidden" else ()
        loc = tuple(x for x in raw[:len(raw) - len(keep)]
                    if not (isinstance(x, str) and ("[" in x or x in _UNION_TAGS))) + keep
        if not loc and err["type"] in ("extra_forbidden", "missing"):
            loc = raw or ("?",)
        path = (*base, *loc)
        if path in seen:
            continue  # a union reports each alternative; the first says enough
        seen.add(path)
        typ = err["type"]
        where = "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc).lstrip(".")
        if typ == "extra_forbidden":
            pos = doc.where(path, key=True)
            close = difflib.get_close_matches(str(loc[-1]), fields or [], n=1)
            msg = f"unknown field '{loc[-1]}'" + (f"; did you mean '{close[0]}'?" if close else "")
        elif typ == "missing":
            pos = doc.where(path[:-1])
            msg = f"missing required field '{loc[-1]}'"
        else:
            pos = doc.where(path)
            msg = f"{where}: {err['msg'].rstrip('.')}" if where else err["msg"].rstrip(".")
            value = err.get("input")
            if isinstance(value, int | float | str) and not isinstance(value, bool) and "got" not in msg:
                msg += f", got {value!r}"
            if isinstance(value, str) and value.isidentifier() and "int" in typ:
                msg += f" (if '{value}' is a variable, define it under 'vars:' or pass --set {value}=…)"
        out.append(Diagnostic(pos, context + msg))
    return out


_UNION_TAGS = {"int", "str", "float", "bool", "list", "tuple", "literal", "function-before",
               "function-after", "constrained-int"}


def json_schema() -> dict[str, Any]:
    """JSON Schema of the spec format, layer entries checked per ``type`` (for YAML editors).

    Every integer, number and boolean field also accepts a string, since values may be
    expressions (``2*C``, ``s == 1``) or block arguments; a pair ([h, w]) also takes one value.
    """
    from .layers import ALIASES, LAYER_TYPES

    def loosen(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: loosen(v) for k, v in node.items()}
            if node.get("type") in ("integer", "number", "boolean"):
                return {"anyOf": [node, {"type": "string", "description": "expression"}]}
            items = node.get("prefixItems", [])
            if node.get("type") == "array" and len(items) == 2 and items[0] == items[1]:
                return {"anyOf": [node, items[0]]}  # a pair ([h, w]) also takes one value for both
            return node
        if isinstance(node, list):
            return [loosen(x) for x in node]
        return node

    entry_props: dict[str, Any] = {
        "type": {"type": "string", "description": "layer type or block name"},
        "name": {"type": "string"},
        "inputs": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                   "description": "earlier layer names; 'input' is the network input"},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
                   "description": "instances in a chain; in a stage table, per row (an expression over its columns)"},
        "when": {"anyOf": [{"type": "boolean"}, {"type": "string"}],
                 "description": "condition (s == 1 and in.c == c); when false the layer is left out "
                                "and whatever read it reads its first input"},
        "weights": {"type": "string", "description": "the layer (or block instance) whose weights this call uses"},
        "trainable": {"anyOf": [{"type": "boolean"}, {"enum": ["weights", "bias"]}],
                      "description": "false: frozen (requires_grad off); weights / bias: only that part trains"},
        "functional": {"type": "boolean", "description": "true: PyTorch code calls it as a function "
                                                         "(F.relu(x)), not an nn module (--convention)"},
    }
    table_props: dict[str, Any] = {
        "rows": {"type": "array", "minItems": 1,
                 "items": {"anyOf": [{"type": "array"}, {"type": "object"}]},
                 "description": "stage table: one instance (or 'repeat' instances) per row"},
        "columns": {"type": "array", "items": {"type": "string"},
                    "description": "the arguments that a row's values give, in order"},
        "names": {"type": "string", "description": "instance names; {…} are expressions over i, row, j "
                                                   "(from 0): features.{i+1}"},
        "rest": {"type": "object", "description": "arguments of a row's 2nd … nth instance (s: 1)"},
    }
    rules: list[dict[str, Any]] = []
    defs: dict[str, Any] = {}
    for kind, cls in sorted(LAYER_TYPES.items()):
        s = loosen(cls.model_json_schema())
        defs.update(s.pop("$defs", {}))
        names = [kind, *sorted(a for a, k in ALIASES.items() if k == kind)]
        rules.append({
            "if": {"properties": {"type": {"enum": names}}, "required": ["type"],
                   "not": {"required": ["rows"]}},
            "then": {
                "description": (cls.__doc__ or "").strip().splitlines()[0],
                "properties": {**entry_props, **s.get("properties", {})},
                "required": ["type", *s.get("required", [])],
                "additionalProperties": False,
            },
        })
    layer = {"type": "object", "properties": {**entry_props, **table_props}, "required": ["type"],
             "allOf": rules}
    schema = Spec.model_json_schema()
    defs.update(schema.pop("$defs", {}))
    defs["Layer"] = layer
    schema["properties"]["layers"] = {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Layer"}}
    defs["BlockDef"]["properties"]["layers"] = {"type": "array", "minItems": 1,
                                                "items": {"$ref": "#/$defs/Layer"}}
    schema["$defs"] = defs
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cnncalc network spec"
    return schema
