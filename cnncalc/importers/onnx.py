"""ONNX → spec: every node of a CNN graph becomes a layer (weights ignored), named after the graph's scopes.

Pure: :func:`onnx_to_spec` takes a ``ModelProto`` and returns a spec dict (see
:mod:`cnncalc.importers.common` for folding and YAML). Shapes come from ONNX shape inference
with the batch fixed to 1; small integer subgraphs (``Shape → Gather → Concat`` feeding a
``Reshape``, the split points of ``chunk``) are evaluated with numpy. Patterns that PyTorch
exports as several nodes become one layer: ``x·σ(x)`` → silu, ``x·hardsigmoid(x)`` →
hardswish, ``Reshape → Transpose → Reshape`` → channel_shuffle, ``MatMul + Add`` → fc,
``Pad`` before a conv or pool → its padding. Nodes with no cnncalc kind are listed in one
UsageError, with their node names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import CnncalcError, UsageError
from ..layers import layer_class
from ..limits import MAX_ONNX_BYTES, check_file
from .common import Op, build_spec, one_line, pair, problem_text, unique_name

try:  # the [onnx] extra
    import numpy as np
    import onnx
    from onnx import numpy_helper, shape_inference
except ImportError:  # pragma: no cover - exercised only without the extra
    onnx = None

_INPUT = "input"
#: Ops that only compute on constants or shapes; evaluated with numpy when their value is needed.
_INT_OPS = {"Constant", "Identity", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Add", "Sub", "Mul",
            "Div", "Cast", "Slice", "Reshape", "Transpose", "ConstantOfShape", "Range", "Equal", "Floor", "Ceil",
            "Neg", "Max", "Min", "ReduceProd", "Sqrt", "CastLike", "Expand"}


#: Inputs that hold sizes, not data: evaluated when ONNX inference leaves the output's shape open.
_SHAPE_INPUTS = {"Pad": (1,), "Slice": (1, 2, 3, 4), "Reshape": (1,), "Resize": (1, 2, 3), "Expand": (1,),
                 "ConstantOfShape": (0,)}


def require() -> None:
    """UsageError unless the onnx package (the [onnx] extra) is installed."""
    if onnx is None:
        raise UsageError("importing ONNX needs the onnx package: pip install 'cnncalc[onnx]'")


def load_model(path: str | Path) -> Any:
    """Read an .onnx file (weights included only as far as the file holds them)."""
    require()
    check_file(path, "ONNX model", MAX_ONNX_BYTES)
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises its own DecodeError; any failure is the file's
        raise UsageError(f"cannot read {path} as an ONNX model: {e}") from None


class _Unsupported(Exception):
    """A node that has no cnncalc layer kind; the reason is kept for the message."""


def _attrs(node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _scope(node: Any, index: int) -> tuple[tuple[str, ...], str, str]:
    """(module path, op tag, suffix) from a node name such as ``/layer1/layer1.0/relu/Relu_1``.

    PyTorch names a node after the modules it ran in: ``layer1`` then ``layer1.0`` (a child of
    a Sequential repeats its parent's name), so components that extend the previous one replace
    it. The last component is the op type with an optional ``_k`` (the k-th call of the module).
    """
    comps = [c for c in node.name.split("/") if c]
    tag, suffix = node.op_type.lower(), ""
    if comps and comps[-1].startswith(node.op_type):
        rest = comps[-1][len(node.op_type):]
        suffix = rest if re.fullmatch(r"_\d+", rest) else ""
        comps = comps[:-1]
    elif comps and len(comps) == 1 and "/" not in node.name:
        # a flat name from another exporter ("conv1", "Conv_3"): use it as the layer name
        return (), _clean(comps[0]), ""
    elif comps:
        tag = _clean(comps[-1])
        comps = comps[:-1]
    path: list[str] = []
    prev = ""
    for c in comps:
        rest = c[len(prev) + 1:] if prev and c.startswith(prev + ".") else c
        path.extend(_clean(x) for x in rest.split(".") if x)
        prev = c
    if not node.name:
        suffix = f"_{index}"
    return tuple(path), tag, suffix


def _clean(s: str) -> str:
    return re.sub(r"[^\w\-]", "_", s).strip("_") or "node"


def _pads(pads: Sequence[int]) -> int | list[int]:
    """ONNX [top, left, bottom, right] → the spec's pad (int, [ph, pw] or [top, bottom, left, right])."""
    t, left, b, r = (int(x) for x in pads)
    if t == b and left == r:
        return pair([t, left])
    return [t, b, left, r]


#: Ops whose output values come from input 0 only (the others give a shape, a type or repeats).
_VALUE_FROM_FIRST = frozenset({"Expand", "Reshape", "CastLike", "Tile", "Cast", "Identity", "Unsqueeze", "Squeeze"})


def _namespace(node: Any) -> list[tuple[str, str]] | None:
    """The module scopes the dynamo exporter records in a node's ``namespace`` metadata
    (``": Net/layer1: torch.nn.modules.container.Sequential/layer1.0: Bottleneck/…/conv2d: aten.conv2d"``):
    (qualified name, class) between the root and the aten op, or None without that metadata."""
    ns = next((p.value for p in node.metadata_props if p.key == "namespace"), None)
    if not ns:
        return None
    out = []
    for q in ns.split("/")[1:-1]:
        name, _, cls = q.partition(":")
        out.append((name.strip(), cls.strip()))
    return out


def _module_class(node: Any) -> str:
    """The class of the innermost module a dynamo-exported node ran in ("" when unknown)."""
    scopes = _namespace(node)
    return scopes[-1][1] if scopes else ""


def _namespace_path(node: Any) -> list[str] | None:
    """The module path of a dynamo-exported node (see _namespace). A sequence op (x.chunk as
    SplitToSequence/SequenceAt) is put in the scope of its first consumer by the exporter, which
    may be a torch.nn layer (a Conv2d) that never splits: it goes to the module around that."""
    scopes = _namespace(node)
    if scopes is None:
        return None
    if node.op_type in ("SplitToSequence", "SequenceAt"):
        while scopes and scopes[-1][1].startswith("torch.nn.modules."):
            scopes = scopes[:-1]
    return [name for name, _ in scopes]


def _legacy_names(graph: Any) -> None:
    """Name dynamo-exported nodes as the TorchScript exporter does (``/layer1/layer1.0/conv1/Conv``,
    ``…/Relu_1`` for the second node of a type in a module), from their ``namespace`` metadata, so
    that layer names are module paths and module scopes group nodes (LocalResponseNorm). Nodes
    named another way (the legacy exporter's, other tools') are left alone."""
    counts: dict[tuple[str, str], int] = {}
    for node in graph.node:
        path = _namespace_path(node)
        if path is None or node.name.startswith("/"):
            continue
        key = ("/".join(path), node.op_type)
        k = counts.get(key, 0)
        counts[key] = k + 1
        node.name = "/" + "".join(f"{c}/" for c in path) + node.op_type + (f"_{k}" if k else "")


class _Importer:
    def __init__(self, model: Any) -> None:
        self.model = model
        self.graph = model.graph
        _legacy_names(self.graph)
        self.sequences: dict[str, tuple[str, list[int]]] = {}  # SplitToSequence output → (input, sizes)
        self.inits = {t.name: t for t in self.graph.initializer}
        self.producer: dict[str, Any] = {}
        for node in self.graph.node:
            for o in node.output:
                self.producer[o] = node
        self.consumers: dict[str, list[Any]] = {}
        for node in self.graph.node:
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.values: dict[str, Any] = {}
        self.live: dict[str, str] = {}  # tensor → layer name (or "input")
        self.failed: set[str] = set()
        self.ops: list[Op] = []
        self.meta: list[tuple[tuple[str, ...], str, str]] = []
        self.skip: set[int] = set()
        self.problems: list[tuple[str, str, str]] = []
        self.untried = 0  # nodes after a failed one, reading its output
        self.input_shape: tuple[int, ...] = ()
        self.folded_pads: dict[int, list[int]] = {}
        self.index_of = {id(n): i for i, n in enumerate(self.graph.node)}
        self.param_users: dict[tuple[str, ...], int] = {}  # a node's initializers → the first op using them
        self.param_owner: dict[int, int] = {}  # op → the op whose weights it uses (weights:)

    # -- shapes and constants ---------------------------------------------------------------

    def _infer_shapes(self, m: Any, x: str, shape: tuple[int, ...]) -> None:
        """ONNX shape inference on ``m`` (the input fixed to ``shape``), into ``self.shapes``."""
        try:
            m = shape_inference.infer_shapes(m, data_prop=True)
        except Exception as e:  # inference rejects malformed graphs with its own error types
            raise UsageError(f"ONNX shape inference failed: {e}") from None
        for vi in (*m.graph.input, *m.graph.value_info, *m.graph.output):
            t = vi.type.tensor_type
            if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
                self.shapes[vi.name] = tuple(d.dim_value for d in t.shape.dim)
        for name, t in self.inits.items():
            self.shapes[name] = tuple(t.dims)
        self.shapes[x] = shape

    def infer(self) -> None:
        data = [i for i in self.graph.input if i.name not in self.inits]
        if len(data) != 1:
            names = ", ".join(i.name for i in data) or "none"
            raise UsageError(f"the graph has {len(data)} data inputs ({names}); cnncalc specs take one image input")
        x = data[0]
        dims = x.type.tensor_type.shape.dim
        if len(dims) not in (2, 4):
            raise UsageError(f"input '{x.name}' has rank {len(dims)}; cnncalc imports N×C×H×W images "
                             "or N×features vectors")
        shape = []
        for k, d in enumerate(dims):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            elif k == 0:
                shape.append(1)
            else:
                raise UsageError(f"input '{x.name}' has a symbolic size '{d.dim_param}' at axis {k}; "
                                 "export the model with a fixed input size")
        m = onnx.ModelProto()
        m.CopyFrom(self.model)
        for i in m.graph.input:
            if i.name == x.name:
                for d, v in zip(i.type.tensor_type.shape.dim, shape):
                    d.Clear()
                    d.dim_value = v
        del m.graph.value_info[:]
        self._infer_shapes(m, x.name, tuple(shape))
        # PyTorch writes F.pad's pads (and, unfolded, a Slice's bounds, a Reshape's shape) as a
        # chain of ops on constants and shapes (ConstantOfShape, Concat, Reshape, Slice,
        # Transpose, Shape…) that ONNX inference does not evaluate, leaving every shape after it
        # unknown: evaluate such inputs here, put them in as constants and infer again, until
        # nothing more settles
        for _ in range(8):
            fixed = False
            for node in m.graph.node:
                if node.op_type not in _SHAPE_INPUTS or node.output[0] in self.shapes:
                    continue
                for k in _SHAPE_INPUTS[node.op_type]:
                    name = node.input[k] if len(node.input) > k else ""
                    if not name or name in self.inits or name.endswith("#cnncalc"):
                        continue
                    try:
                        v = np.asarray(self.value(name))
                    except _Unsupported:
                        continue
                    m.graph.initializer.append(numpy_helper.from_array(v, name + "#cnncalc"))
                    node.input[k] = name + "#cnncalc"
                    fixed = True
            if not fixed:
                break
            del m.graph.value_info[:]
            self._infer_shapes(m, x.name, tuple(shape))
        self.live[x.name] = _INPUT
        self.input_shape = tuple(shape[1:])

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.shapes:
            return self.shapes[name]
        raise _Unsupported(f"the shape of '{name}' is unknown (shape inference could not settle it)")

    def value(self, name: str) -> Any:
        """The numpy value of a constant tensor (initializer, Constant, or an integer subgraph)."""
        if name in self.values:
            return self.values[name]
        if name in self.inits:
            v = numpy_helper.to_array(self.inits[name])
        elif name in self.live or name not in self.producer:
            raise _Unsupported(f"'{name}' is not a constant")
        else:
            v = self._eval(self.producer[name], name)
        self.values[name] = v
        return v

    def holds_params(self, tensor: str) -> bool:
        """Whether a constant tensor's values come from an initializer (a parameter), not only
        from Constant nodes and shapes: the dynamo exporter gives a conv without bias the bias
        Expand(CastLike(0), Shape(weight)[0]), which holds nothing to count."""
        seen: set[str] = set()
        todo = [tensor]
        while todo:
            t = todo.pop()
            if t in seen or not t:
                continue
            seen.add(t)
            if t in self.inits or t in self.live:
                return True
            node = self.producer.get(t)
            if node is None:
                return True  # a graph input: a parameter the caller feeds
            if node.op_type in ("Constant", "Shape", "ConstantOfShape", "Size"):
                continue
            # Expand/Reshape/CastLike/Tile take a shape or a type from their other inputs
            todo.extend(node.input[:1] if node.op_type in _VALUE_FROM_FIRST else node.input)
        return False

    def has_bias(self, node: Any, k: int = 2) -> bool:
        """Input k is present and holds parameters (see holds_params)."""
        return len(node.input) > k and bool(node.input[k]) and self.holds_params(node.input[k])

    def maybe(self, node: Any, k: int) -> Any:
        """Input k's constant value, or None when the input is absent."""
        if len(node.input) <= k or not node.input[k]:
            return None
        return self.value(node.input[k])

    def _eval(self, node: Any, out: str) -> Any:
        op, a = node.op_type, _attrs(node)
        if op not in _INT_OPS:
            raise _Unsupported(f"cannot evaluate {op} '{node.name}' on constants")
        if op == "Constant":
            if "value" in a:
                return numpy_helper.to_array(a["value"])
            for key in ("value_int", "value_float"):
                if key in a:
                    return np.array(a[key])
            for key in ("value_ints", "value_floats"):
                if key in a:
                    return np.array(a[key])
            raise _Unsupported(f"Constant '{node.name}' holds no plain value")
        if op == "Shape":
            s = np.array(self.shape(node.input[0]), dtype=np.int64)
            return s[a.get("start", 0):a.get("end", len(s))]
        if op == "CastLike":  # the dynamo exporter's cast of a constant to a feature map's type: the value
            return self.value(node.input[0])
        xs: list[Any] = [self.value(i) if i else None for i in node.input]
        x: Any = xs[0]
        if op == "Identity":
            return x
        if op == "Gather":
            return np.take(x, xs[1], axis=a.get("axis", 0))
        if op == "Unsqueeze":
            axes: Any = a.get("axes", xs[1] if len(xs) > 1 else None)
            for ax in sorted(int(v) % (x.ndim + len(axes)) for v in np.atleast_1d(axes)):
                x = np.expand_dims(x, ax)
            return x
        if op == "Squeeze":
            axes = a.get("axes", xs[1] if len(xs) > 1 else None)
            return np.squeeze(x) if axes is None else np.squeeze(x, tuple(int(v) for v in np.atleast_1d(axes)))
        if op == "Concat":
            return np.concatenate([np.atleast_1d(v) for v in xs], axis=a.get("axis", 0))
        binary: dict[str, Callable[[Any, Any], Any]] = {
            "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal,
            "Max": np.maximum, "Min": np.minimum,
        }
        if op in binary:
            return binary[op](x, xs[1])
        if op == "Div":
            if np.issubdtype(np.asarray(x).dtype, np.integer):
                return np.trunc(np.asarray(x) / np.asarray(xs[1])).astype(np.asarray(x).dtype)
            return np.divide(x, xs[1])
        if op == "Cast":
            to = onnx.helper.tensor_dtype_to_np_dtype(a["to"])
            return np.asarray(x).astype(to)
        if op == "Expand":  # broadcast to a shape (numpy's rule, as ONNX's)
            return np.broadcast_to(x, np.broadcast_shapes(np.shape(x), tuple(int(v) for v in xs[1]))).copy()
        if op == "Slice":
            starts, ends = xs[1], xs[2]
            axes = xs[3] if len(xs) > 3 and xs[3] is not None else range(len(starts))
            steps = xs[4] if len(xs) > 4 and xs[4] is not None else [1] * len(starts)
            idx = [slice(None)] * x.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                idx[int(ax)] = slice(int(s), int(e), int(st))
            return x[tuple(idx)]
        if op == "Reshape":
            target = [int(v) for v in xs[1]]
            target = [x.shape[k] if v == 0 else v for k, v in enumerate(target)]
            return np.reshape(x, target)
        if op == "Transpose":
            return np.transpose(x, a.get("perm"))
        if op == "ConstantOfShape":
            fill = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            return np.full([int(v) for v in x], fill.reshape(-1)[0], dtype=fill.dtype)
        if op == "Range":
            return np.arange(x, xs[1], xs[2])
        if op == "ReduceProd":
            return np.prod(x, keepdims=bool(a.get("keepdims", 1)))
        unary: dict[str, Callable[[Any], Any]] = {"Floor": np.floor, "Ceil": np.ceil, "Neg": np.negative,
                                                  "Sqrt": np.sqrt}
        return unary[op](x)

    # -- the walk ---------------------------------------------------------------------------

    def src(self, tensor: str) -> str:
        """The layer that produced a live tensor."""
        return self.live[tensor]

    def emit(self, node: Any, index: int, kind: str, fields: dict[str, Any], inputs: Sequence[str],
             out: str | None = None, tag: str | None = None) -> None:
        """Add a layer for ``node``; its output shape comes from cnncalc's own formulas, and where
        ONNX inferred one too, the two must agree (a check on the conversion)."""
        path, t, suffix = _scope(node, index)
        out = out or node.output[0]
        fields = {k: v for k, v in fields.items() if v is not None}
        cls = layer_class(kind)
        assert cls is not None, kind
        try:
            shape = cls.model_validate(fields).output_shape([self.shape(i)[1:] for i in inputs])
        except (ValidationError, CnncalcError) as e:
            raise _Unsupported(f"as {kind} {fields}: {one_line(e)}") from None
        full = (self.shape(inputs[0])[0], *shape)
        if self.shapes.get(out, full) != full:
            raise _Unsupported(f"as {kind} {fields} it would give {list(full)}, but the graph has "
                               f"{list(self.shapes[out])}")
        self.shapes[out] = full
        op = Op(path, "", kind, fields, [self.src(i) for i in inputs])
        params = tuple(i for i in node.input if i in self.inits)
        if params and cls.model_validate(fields).params([self.shape(i)[1:] for i in inputs]).total:
            first = self.param_users.setdefault(params, len(self.ops))
            if first != len(self.ops):  # the same initializers again: a module called twice
                self.param_owner[len(self.ops)] = first
        self.ops.append(op)
        self.meta.append((path, tag or t, suffix))
        self.live[out] = f"#{len(self.ops) - 1}"

    def run(self) -> list[Op]:
        self.infer()
        for index, node in enumerate(self.graph.node):
            if index in self.skip:
                continue
            ins = [i for i in node.input if i]
            if any(i in self.failed for i in ins):
                self.failed.update(node.output)
                self.untried += 1
                continue
            if not any(i in self.live for i in ins):
                continue  # works on constants only; evaluated if a layer needs its value
            if node.op_type == "Shape":
                continue
            try:
                self.convert(node, index)
            except _Unsupported as e:
                self.problems.append((node.op_type, node.name or f"#{index}", str(e)))
                self.failed.update(node.output)
        if self.problems:
            raise UsageError(problem_text(self.problems, "node", "the ONNX graph", self.untried))
        return self.name_ops()

    def name_ops(self) -> list[Op]:
        """Give every op its name: a module's op takes the module's name; ops beside submodules
        take the module's name plus their op type (``layer1.0.add``); a second call adds ``_1``."""
        paths = [m[0] for m in self.meta]
        inner = {p[:k] for p in paths for k in range(len(p))}
        taken: set[str] = set()
        names: list[str] = []
        for op, (path, tag, suffix) in zip(self.ops, self.meta):
            if path and path not in inner:
                op.path, op.local = path[:-1], path[-1] + suffix
            else:
                op.path, op.local = path, tag + suffix
            base = op.local
            k = 1
            while op.name in taken:
                k += 1
                op.local = f"{base}_{k}"
            taken.add(op.name)
            names.append(op.name)
        for op in self.ops:
            op.inputs = [_INPUT if s == _INPUT else names[int(s[1:])] for s in op.inputs]
        for i, owner in self.param_owner.items():
            self.ops[i].fields["weights"] = names[owner]
        return self.ops

    def only_consumer(self, tensor: str) -> Any | None:
        """The one node reading ``tensor``'s values; a Shape of it, or a CastLike taking only its
        type (the dynamo exporter's casts of constants), do not count."""
        users = [n for n in self.consumers.get(tensor, [])
                 if n.op_type != "Shape" and not (n.op_type == "CastLike" and n.input[0] != tensor)]
        outputs = {o.name for o in self.graph.output}
        return users[0] if len(users) == 1 and tensor not in outputs else None

    def convert(self, node: Any, index: int) -> None:
        op, a = node.op_type, _attrs(node)
        handler = getattr(self, f"_{op}", None)
        if handler is None:
            raise _Unsupported("no cnncalc layer kind for it")
        handler(node, index, a)

    def alias(self, node: Any) -> None:
        self.live[node.output[0]] = self.live[node.input[0]]
        self.shapes.setdefault(node.output[0], self.shape(node.input[0]))

    def rank4(self, node: Any, what: str) -> tuple[int, ...]:
        s = self.shape(node.input[0])
        if len(s) != 4:
            raise _Unsupported(f"{what} on a rank-{len(s)} tensor (cnncalc has 2-D layers on N×C×H×W)")
        return s

    # -- convolutions and dense -------------------------------------------------------------

    def _pad_before(self, node: Any) -> tuple[str, list[int]]:
        """The input of a conv/pool and extra [top, left, bottom, right] from a Pad folded into it."""
        x = node.input[0]
        pad_node = self.producer.get(x)
        if pad_node is not None and id(pad_node) in self.folded_pads:
            return pad_node.input[0], self.folded_pads[id(pad_node)]
        return x, [0, 0, 0, 0]

    def _conv_fields(self, node: Any, a: dict[str, Any], x: str, extra: list[int], kernel: Sequence[int]
                     ) -> dict[str, Any]:
        h, w = self.shape(x)[2:]
        strides = a.get("strides", [1, 1])
        dil = a.get("dilations", [1, 1])
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        pads: Any = [int(p) for p in a.get("pads", [0, 0, 0, 0])]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            got = []
            for size, k, s, d in zip((h, w), kernel, strides, dil):
                total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
                small = total // 2
                got.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
            pads = [got[0][0], got[1][0], got[0][1], got[1][1]]
        elif auto == "VALID":
            pads = [0, 0, 0, 0]
        pads = [p + e for p, e in zip(pads, extra)]
        return {"kernel": pair(kernel), "stride": None if set(strides) == {1} else pair(strides),
                "pad": None if not any(pads) else _pads(pads), "dilation": None if set(dil) == {1} else pair(dil)}

    def _Conv(self, node: Any, index: int, a: dict[str, Any]) -> None:
        x, extra = self._pad_before(node)
        self.rank4(node, "Conv")
        if node.input[1] not in self.inits and node.input[1] in self.live:
            raise _Unsupported("a convolution with computed weights")
        wshape = self.shape(node.input[1])
        fields: dict[str, Any] = {"filters": int(wshape[0])}
        fields.update(self._conv_fields(node, a, x, extra, a.get("kernel_shape", wshape[2:])))
        g = int(a.get("group", 1))
        fields["groups"] = g if g != 1 else None
        fields["bias"] = None if self.has_bias(node) else False
        self.emit(node, index, "conv", fields, [x])

    def _ConvTranspose(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.rank4(node, "ConvTranspose")
        wshape = self.shape(node.input[1])
        g = int(a.get("group", 1))
        if "output_shape" in a:
            raise _Unsupported("ConvTranspose with output_shape (give pads and output_padding instead)")
        auto = a.get("auto_pad", b"NOTSET")
        if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
            raise _Unsupported("ConvTranspose with auto_pad SAME")
        t, left, b, r = (int(p) for p in a.get("pads", [0, 0, 0, 0]))
        if t != b or left != r:
            raise _Unsupported(f"asymmetric ConvTranspose pads {[t, left, b, r]}")
        strides = a.get("strides", [1, 1])
        dil = a.get("dilations", [1, 1])
        op_ = a.get("output_padding", [0, 0])
        fields = {"filters": int(wshape[1]) * g, "kernel": pair(a.get("kernel_shape", wshape[2:])),
                  "stride": None if set(strides) == {1} else pair(strides),
                  "pad": None if not (t or left) else pair([t, left]),
                  "output_padding": None if not any(op_) else pair(op_),
                  "dilation": None if set(dil) == {1} else pair(dil), "groups": g if g != 1 else None,
                  "bias": None if self.has_bias(node) else False}
        self.emit(node, index, "deconv", fields, [node.input[0]])

    def _Gemm(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if a.get("transA", 0) or node.input[1] in self.live:
            raise _Unsupported("Gemm of two computed tensors (only x·W with constant W is a layer)")
        b = self.shape(node.input[1])
        units = b[0] if a.get("transB", 0) else b[1]
        bias = self.has_bias(node)
        self.emit(node, index, "fc", {"units": int(units), "bias": None if bias else False}, [node.input[0]])

    def _MatMul(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if node.input[1] in self.live:
            raise _Unsupported("MatMul of two computed tensors (attention is not a cnncalc layer)")
        rank = len(self.shape(node.input[0]))
        if len(self.shape(node.input[1])) != 2:
            raise _Unsupported("MatMul by a batch of matrices (fc takes one weight matrix)")
        units = int(self.shape(node.input[1])[-1])
        add = self.only_consumer(node.output[0])
        out = node.output[0]
        bias = False
        if add is not None and add.op_type == "Add":
            other = add.input[1] if add.input[0] == out else add.input[0]
            if other not in self.live and other in self.shapes and math.prod(self.shapes[other]) == units:
                bias, out = True, add.output[0]
                self.skip.add(self.index_of[id(add)])
        self.emit(node, index, "fc", {"units": units, "bias": None if bias else False,
                                      "over": "last" if rank > 3 else None}, [node.input[0]], out)

    # -- pooling ----------------------------------------------------------------------------

    def _pool(self, node: Any, index: int, a: dict[str, Any], kind: str) -> None:
        x, extra = self._pad_before(node)
        self.rank4(node, node.op_type)
        if len(node.output) > 1 and node.output[1]:
            raise _Unsupported("MaxPool with indices")
        if set(a.get("dilations", [1, 1])) != {1}:
            raise _Unsupported("dilated pooling")
        kernel = a["kernel_shape"]
        f = self._conv_fields(node, a, x, extra, kernel)
        pads = f["pad"]
        if isinstance(pads, list) and len(pads) == 4:
            raise _Unsupported(f"asymmetric pooling pads {pads}")
        strides = a.get("strides", [1, 1])
        fields = {"kernel": f["kernel"], "stride": pair(strides) if list(strides) != list(kernel) else None,
                  "pad": pads, "ceil_mode": True if a.get("ceil_mode", 0) else None}
        self.emit(node, index, kind, fields, [x])

    def _MaxPool(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self._pool(node, index, a, "maxpool")

    def _AveragePool(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self._pool(node, index, a, "avgpool")

    def _GlobalAveragePool(self, node: Any, index: int, a: dict[str, Any]) -> None:
        # what PyTorch exports for nn.AdaptiveAvgPool2d(1); x.mean((2, 3)) exports ReduceMean
        self.rank4(node, "GlobalAveragePool")
        self.emit(node, index, "adaptive_avgpool", {"output": 1}, [node.input[0]])

    def _GlobalMaxPool(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.rank4(node, "GlobalMaxPool")
        self.emit(node, index, "adaptive_maxpool", {"output": 1}, [node.input[0]])

    def _reduce(self, node: Any, index: int, a: dict[str, Any], kind: str) -> None:
        self.rank4(node, node.op_type)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = [int(v) for v in self.value(node.input[1])]
        if axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
            raise _Unsupported(f"{node.op_type} over axes {axes} (only the spatial mean/max is a layer)")
        if a.get("keepdims", 1):
            self.emit(node, index, kind, {}, [node.input[0]], tag="mean")
            return
        mid = node.output[0] + "#pooled"
        self.emit(node, index, kind, {}, [node.input[0]], mid, tag="mean")
        self.emit(node, index, "flatten", {}, [mid], tag="flatten")

    def _adaptive_one(self, node: Any, index: int, a: dict[str, Any], kind: str, module: str) -> bool:
        """nn.AdaptiveAvg/MaxPool2d(1), which the dynamo exporter writes as a spatial ReduceMean /
        ReduceMax with keepdims (its class in the node's metadata): the module, as the legacy
        exporter's GlobalAveragePool reads (it matters to --convention)."""
        if not _module_class(node).endswith(f".{module}") or not a.get("keepdims", 1):
            return False
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = [int(v) for v in np.asarray(self.value(node.input[1])).reshape(-1)]
        if axes is None or sorted(int(v) % 4 for v in axes) != [2, 3]:
            return False
        self.emit(node, index, kind, {"output": 1}, [node.input[0]])
        return True

    def _ReduceMean(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if not self._adaptive_one(node, index, a, "adaptive_avgpool", "AdaptiveAvgPool2d"):
            self._reduce(node, index, a, "global_avgpool")

    def _ReduceMax(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if not self._adaptive_one(node, index, a, "adaptive_maxpool", "AdaptiveMaxPool2d"):
            self._reduce(node, index, a, "global_maxpool")

    def _Pad(self, node: Any, index: int, a: dict[str, Any]) -> None:
        mode = a.get("mode", b"constant")
        pads = a.get("pads")
        if pads is None:
            pads = [int(v) for v in self.value(node.input[1])]
        user = self.only_consumer(node.output[0])
        s = self.shape(node.input[0])
        if (mode in (b"constant", "constant") and len(pads) == 8 and not any(pads[i] for i in (0, 1, 4, 5))
                and user is not None and user.op_type in ("Conv", "MaxPool", "AveragePool") and len(s) == 4):
            self.folded_pads[id(node)] = [pads[2], pads[3], pads[6], pads[7]]
            self.live[node.output[0]] = self.live[node.input[0]]
            return
        raise _Unsupported("Pad that is not zero padding of H and W before a conv or pool")

    # -- normalisation and activations ------------------------------------------------------

    def _BatchNormalization(self, node: Any, index: int, a: dict[str, Any]) -> None:
        eps = float(a.get("epsilon", 1e-5))
        # γ and β are weights (initializers); PyTorch writes a BatchNorm2d(affine=False) with
        # Constant ones and zeros in their place, which are not parameters
        scale = self.producer.get(node.input[1])
        affine = node.input[1] in self.inits or scale is None or scale.op_type != "Constant"
        self.emit(node, index, "batchnorm", {"eps": None if math.isclose(eps, 1e-5, rel_tol=1e-6) else
                                             float(f"{eps:.6g}"), "affine": None if affine else False},
                  [node.input[0]])

    def _LayerNormalization(self, node: Any, index: int, a: dict[str, Any]) -> None:
        """nn.LayerNorm: over the features of a vector, or over C×H×W of a map (axis 1)."""
        s = self.shape(node.input[0])
        axis = int(a.get("axis", -1)) % len(s)
        last = axis == len(s) - 1 and len(s) > 2  # each position's features (channels-last, tokens)
        if axis != 1 and not last:
            raise _Unsupported(f"LayerNormalization over axes {axis}… of a rank-{len(s)} tensor "
                               "(cnncalc's layernorm is over the features, the last axis, or C×H×W)")
        scale = self.producer.get(node.input[1])
        affine = node.input[1] in self.inits or scale is None or scale.op_type != "Constant"
        eps = float(a.get("epsilon", 1e-5))
        over = "last" if last else "all" if len(s) == 4 else None
        self.emit(node, index, "layernorm", {"over": over, "affine": None if affine else False,
                                             "eps": float(f"{eps:.6g}")}, [node.input[0]])

    def _Transpose(self, node: Any, index: int, a: dict[str, Any]) -> None:
        """A permute of the dimensions after the batch; Transpose → LayerNormalization over the
        last axis → Transpose back is LayerNorm over the channels of a map (ConvNeXt's LayerNorm2d)."""
        s = self.shape(node.input[0])
        perm = [int(p) for p in a.get("perm", range(len(s) - 1, -1, -1))]
        if perm[0] != 0:
            raise _Unsupported(f"Transpose {perm} moves the batch axis")
        ln = self.only_consumer(node.output[0])
        back = self.only_consumer(ln.output[0]) if ln is not None and ln.op_type == "LayerNormalization" else None
        if ln is not None and back is not None and perm == [0, 2, 3, 1] and back.op_type == "Transpose" and \
                [int(p) for p in _attrs(back).get("perm", [])] == [0, 3, 1, 2] and \
                int(_attrs(ln).get("axis", -1)) % 4 == 3:
            la = _attrs(ln)
            scale = self.producer.get(ln.input[1])
            affine = ln.input[1] in self.inits or scale is None or scale.op_type != "Constant"
            self.skip.update((self.index_of[id(ln)], self.index_of[id(back)]))
            self.emit(ln, index, "layernorm", {"affine": None if affine else False,
                                               "eps": float(f"{float(la.get('epsilon', 1e-5)):.6g}")},
                      [node.input[0]], back.output[0])
            return
        self.emit(node, index, "permute", {"dims": [p - 1 for p in perm[1:]]}, [node.input[0]], tag="permute")

    def _LRN(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.emit(node, index, "lrn", {"size": int(a["size"]), "alpha": float(f"{a.get('alpha', 1e-4):.6g}"),
                                       "beta": float(f"{a.get('beta', 0.75):.6g}"),
                                       "k": float(f"{a.get('bias', 1.0):.6g}")}, [node.input[0]])

    def _Relu(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.emit(node, index, "relu", {}, [node.input[0]])

    def _Tanh(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.emit(node, index, "tanh", {}, [node.input[0]])

    def _HardSwish(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.emit(node, index, "hardswish", {}, [node.input[0]])

    def _fused_gate(self, node: Any) -> Any | None:
        """The Mul that makes x·gate(x) of this Sigmoid/HardSigmoid node, or None."""
        mul = self.only_consumer(node.output[0])
        if mul is not None and mul.op_type == "Mul" and node.input[0] in mul.input and node.output[0] in mul.input:
            return mul
        return None

    def _Sigmoid(self, node: Any, index: int, a: dict[str, Any]) -> None:
        mul = self._fused_gate(node)
        if mul is not None:
            self.skip.add(self.index_of[id(mul)])
            self.emit(node, index, "silu", {}, [node.input[0]], mul.output[0], tag="silu")
            return
        self.emit(node, index, "sigmoid", {}, [node.input[0]])

    def _HardSigmoid(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if not (math.isclose(a.get("alpha", 0.2), 1 / 6, rel_tol=1e-6) and math.isclose(a.get("beta", 0.5), 0.5)):
            raise _Unsupported(f"HardSigmoid with alpha {a.get('alpha', 0.2):g}, beta {a.get('beta', 0.5):g} "
                               "(cnncalc's hardsigmoid is PyTorch's: alpha 1/6, beta 0.5)")
        mul = self._fused_gate(node)
        if mul is not None:
            self.skip.add(self.index_of[id(mul)])
            self.emit(node, index, "hardswish", {}, [node.input[0]], mul.output[0], tag="hardswish")
            return
        self.emit(node, index, "hardsigmoid", {}, [node.input[0]])

    def _LeakyRelu(self, node: Any, index: int, a: dict[str, Any]) -> None:
        slope = float(f"{a.get('alpha', 0.01):.6g}")
        self.emit(node, index, "leaky_relu", {"negative_slope": None if slope == 0.01 else slope}, [node.input[0]])

    def _PRelu(self, node: Any, index: int, a: dict[str, Any]) -> None:
        n = int(self.value(node.input[1]).size)  # an initializer, or one unsqueezed by the exporter
        self.emit(node, index, "prelu", {"num_parameters": None if n == 1 else n}, [node.input[0]])

    def _LogSoftmax(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        axis = int(a.get("axis", -1 if self.model.opset_import[0].version >= 13 else 1)) % len(s)
        if axis != 1:
            raise _Unsupported(f"LogSoftmax over axis {axis} (cnncalc's log_softmax is over channels/features)")
        self.emit(node, index, "log_softmax", {}, [node.input[0]])

    def _Gelu(self, node: Any, index: int, a: dict[str, Any]) -> None:
        approx = a.get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        self.emit(node, index, "gelu", {"approximate": None if approx == "none" else approx}, [node.input[0]])

    def _Clip(self, node: Any, index: int, a: dict[str, Any]) -> None:
        lo = a.get("min", self.maybe(node, 1))
        hi = a.get("max", self.maybe(node, 2))
        lo = None if lo is None else float(np.asarray(lo))
        hi = None if hi is None else float(np.asarray(hi))
        if lo == 0 and hi == 6:
            self.emit(node, index, "relu6", {}, [node.input[0]], tag="relu6")
        elif lo == 0 and hi is None:
            self.emit(node, index, "relu", {}, [node.input[0]], tag="relu")
        else:
            raise _Unsupported(f"Clip to [{lo}, {hi}] (only ReLU6 and ReLU are layers)")

    def _Softmax(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        axis = int(a.get("axis", -1 if self.model.opset_import[0].version >= 13 else 1)) % len(s)
        if axis != 1:
            raise _Unsupported(f"Softmax over axis {axis} (cnncalc's softmax is over channels/features)")
        self.emit(node, index, "softmax", {}, [node.input[0]])

    # -- joins and reshapes -----------------------------------------------------------------

    def _Concat(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        if int(a.get("axis", 1)) % len(s) != 1:
            raise _Unsupported(f"Concat over axis {a.get('axis')} (concat joins channels)")
        if any(i not in self.live for i in node.input):
            raise _Unsupported("Concat with a constant")
        self.emit(node, index, "concat", {}, list(node.input))

    def _Add(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if any(i not in self.live for i in node.input):
            raise _Unsupported("Add of a constant (a bias outside a conv/fc has no layer kind)")
        shapes = {self.shape(i) for i in node.input}
        if len(shapes) != 1:
            raise _Unsupported(f"broadcasting Add of {sorted(shapes)}")
        self.emit(node, index, "add", {}, list(node.input))

    _Sum = _Add

    def _lrn_decomposition(self, node: Any, index: int) -> bool:
        """PyTorch exports LocalResponseNorm as x², a 3-D AveragePool over (size, 1, 1), ·α, +k, ^β and
        x / that, all in one module scope: recognise it from this x·x node and make one lrn layer."""
        if "/" not in node.name:
            return False
        prefix = node.name.rsplit("/", 1)[0] + "/"
        x = node.input[0]
        group = [(i, n) for i, n in enumerate(self.graph.node)
                 if i > index and n.name.startswith(prefix) and "/" not in n.name[len(prefix):]]

        pool = next((n for _, n in group if n.op_type == "AveragePool"
                     and len(_attrs(n).get("kernel_shape", [])) == 3), None)
        div = next((n for _, n in group if n.op_type == "Div" and n.input[0] == x), None)
        # walk back from x / d: d = (s·α + k)^β
        pw = self.producer.get(div.input[1]) if div is not None else None
        add = self.producer.get(pw.input[0]) if pw is not None and pw.op_type == "Pow" else None
        scale = self.producer.get(add.input[0]) if add is not None and add.op_type == "Add" else None
        if pool is None or div is None or pw is None or add is None or scale is None or scale.op_type != "Mul":
            return False
        try:
            alpha = float(np.asarray(self.value(scale.input[1])))
            k, beta = float(np.asarray(self.value(add.input[1]))), float(np.asarray(self.value(pw.input[1])))
        except (_Unsupported, TypeError, ValueError):
            return False
        size = int(_attrs(pool)["kernel_shape"][0])
        last = self.index_of[id(div)]
        self.skip.update(i for i, _ in group if i <= last)
        self.emit(node, index, "lrn", {"size": size, "alpha": float(f"{alpha:.6g}"), "beta": float(f"{beta:.6g}"),
                                       "k": float(f"{k:.6g}")}, [x], div.output[0], tag="lrn")
        return True

    def _Mul(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if node.input[0] == node.input[1] and self._lrn_decomposition(node, index):
            return
        consts = [i for i in node.input if i not in self.live]
        if not consts:
            self.emit(node, index, "multiply", {}, list(node.input))
            return
        x = next(i for i in node.input if i in self.live)
        c = self.shape(consts[0])
        s = self.shape(x)
        if len(s) == 4 and math.prod(c) == s[1] and c[-2:] in ((1, 1),):
            self.emit(node, index, "layer_scale", {}, [x], tag="layer_scale")
            return
        raise _Unsupported(f"Mul by a constant of shape {list(c)} (only a per-channel scale is a layer)")

    def _Flatten(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        if int(a.get("axis", 1)) % max(len(s), 1) != 1:
            raise _Unsupported(f"Flatten from axis {a.get('axis')} (flatten keeps the batch axis)")
        if len(s) == 2:
            self.alias(node)
            return
        self.emit(node, index, "flatten", {}, [node.input[0]])

    def _shuffle(self, node: Any) -> tuple[int, Any, Any] | None:
        """Reshape (N, g, C/g, H, W) → Transpose [0, 2, 1, 3, 4] → Reshape (N, C, H, W): (g, t, r)."""
        s, o = self.shape(node.input[0]), self._reshaped(node)
        if len(s) != 4 or len(o) != 5 or o[1] * o[2] != s[1] or o[3:] != s[2:]:
            return None
        t = self.only_consumer(node.output[0])
        if t is None or t.op_type != "Transpose" or list(_attrs(t).get("perm", [])) != [0, 2, 1, 3, 4]:
            return None
        r = self.only_consumer(t.output[0])
        between = []
        while r is not None and r.op_type == "Identity":  # the dynamo exporter's .contiguous() / clone
            between.append(r)
            r = self.only_consumer(r.output[0])
        if r is None or r.op_type != "Reshape":
            return None
        for n in (t, *between):
            self.shapes.setdefault(n.output[0], (o[0], o[2], o[1], *o[3:]))
        if self._reshaped(r) != s:
            return None
        self.skip.update(self.index_of[id(n)] for n in between)
        return o[1], t, r

    def _reshaped(self, node: Any) -> tuple[int, ...]:
        """Reshape's output shape: inferred, or from its target (0 keeps a size, −1 takes the rest)."""
        if node.output[0] in self.shapes:
            return self.shapes[node.output[0]]
        s = self.shape(node.input[0])
        target = [int(v) for v in np.asarray(self.value(node.input[1])).reshape(-1)]
        zero = bool(_attrs(node).get("allowzero", 0))
        target = [s[k] if v == 0 and not zero else v for k, v in enumerate(target)]
        if -1 in target:
            rest = math.prod(v for v in target if v != -1)
            target[target.index(-1)] = math.prod(s) // rest if rest else 0
        self.shapes[node.output[0]] = tuple(target)
        return tuple(target)

    def _strided_copy(self, node: Any) -> Any | None:
        """The dynamo exporter's ``as_strided`` of a contiguous tensor: Reshape to one flat axis,
        then Gather of indices 0…n−1 in the original shape: a copy. The Gather, or None."""
        s, o = self.shape(node.input[0]), self._reshaped(node)
        g = self.only_consumer(node.output[0])
        if len(o) != 1 or g is None or g.op_type != "Gather" or int(_attrs(g).get("axis", 0)) != 0:
            return None
        try:
            idx = np.asarray(self.value(g.input[1]))
        except _Unsupported:
            return None
        if idx.shape != s or not np.array_equal(idx.reshape(-1), np.arange(math.prod(s))):
            return None
        return g

    def _Reshape(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s, o = self.shape(node.input[0]), self._reshaped(node)
        if s == o:
            self.alias(node)
            return
        copy = self._strided_copy(node)
        if copy is not None:
            self.skip.add(self.index_of[id(copy)])
            self.shapes[copy.output[0]] = s
            self.live[copy.output[0]] = self.live[node.input[0]]
            return
        if len(o) == 2 and o[1] == math.prod(s[1:]) and o[0] == s[0]:
            self.emit(node, index, "flatten", {}, [node.input[0]], tag="flatten")
            return
        shuffle = self._shuffle(node)
        if shuffle is not None:
            g, t, r = shuffle
            self.skip.update((self.index_of[id(t)], self.index_of[id(r)]))
            self.emit(node, index, "channel_shuffle", {"groups": int(g)}, [node.input[0]], r.output[0],
                      tag="channel_shuffle")
            return
        raise _Unsupported(f"Reshape from {list(s)} to {list(o)}")

    def _Squeeze(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        axes = a.get("axes", self.maybe(node, 1))
        drop = {int(v) % len(s) for v in np.atleast_1d(axes)} if axes is not None else \
            {k for k, v in enumerate(s) if v == 1}
        o = self.shapes.get(node.output[0], tuple(v for k, v in enumerate(s) if k not in drop))
        if len(s) == 4 and s[2:] == (1, 1) and o == s[:2]:
            self.emit(node, index, "flatten", {}, [node.input[0]], tag="flatten")
            return
        if s == o:
            self.alias(node)
            return
        raise _Unsupported(f"Squeeze from {list(s)} to {list(o)}")

    def _Unsqueeze(self, node: Any, index: int, a: dict[str, Any]) -> None:
        raise _Unsupported("Unsqueeze of a feature map (cnncalc has no layer that adds axes)")

    def _Identity(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.alias(node)

    def _Cast(self, node: Any, index: int, a: dict[str, Any]) -> None:
        self.alias(node)

    def _CastLike(self, node: Any, index: int, a: dict[str, Any]) -> None:
        """CastLike(x, like): the dynamo exporter casts constants to a feature map's type (a constant,
        evaluated where a layer needs it) and feature maps to their own type (the map itself)."""
        if node.input[0] in self.live:
            self.alias(node)

    def _Expand(self, node: Any, index: int, a: dict[str, Any]) -> None:
        """A constant broadcast to a shape read from a feature map (its Shape): a constant too."""
        if node.input[0] in self.live:
            raise _Unsupported("broadcasting a feature map (Expand)")

    def _Dropout(self, node: Any, index: int, a: dict[str, Any]) -> None:
        ratio = a.get("ratio", self.maybe(node, 1))
        p = None if ratio is None else float(f"{float(np.asarray(ratio)):.6g}")
        self.emit(node, index, "dropout", {"p": p}, [node.input[0]])

    def _Split(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        if int(a.get("axis", 0)) % len(s) != 1:
            raise _Unsupported(f"Split over axis {a.get('axis', 0)} (only channel splits are layers)")
        split = a.get("split")
        if split is None and len(node.input) > 1 and node.input[1]:
            split = [int(v) for v in self.value(node.input[1])]
        if split is None:
            n = int(a.get("num_outputs", len(node.output)))
            size = -(-s[1] // n)
            split = [min(size, s[1] - k * size) for k in range(n)]
        start = 0
        for out, size in zip(node.output, split):
            if out:
                self.emit(node, index, "slice", {"start": start or None, "end": start + size}, [node.input[0]], out,
                          tag="slice")
            start += size

    def _SplitToSequence(self, node: Any, index: int, a: dict[str, Any]) -> None:
        """x.chunk / x.split as the dynamo exporter writes it: the pieces come out by SequenceAt."""
        s = self.shape(node.input[0])
        if int(a.get("axis", 0)) % len(s) != 1:
            raise _Unsupported(f"SplitToSequence over axis {a.get('axis', 0)} (only channel splits are layers)")
        split = self.maybe(node, 1)
        if split is None:
            sizes = [1] * s[1]
        elif np.ndim(split) == 0:  # pieces of this size, the last one smaller
            size = int(split)
            sizes = [min(size, s[1] - k) for k in range(0, s[1], size)]
        else:
            sizes = [int(v) for v in np.asarray(split).reshape(-1)]
        self.sequences[node.output[0]] = (node.input[0], sizes)
        self.live[node.output[0]] = self.live[node.input[0]]

    def _SequenceAt(self, node: Any, index: int, a: dict[str, Any]) -> None:
        if node.input[0] not in self.sequences:
            raise _Unsupported("SequenceAt of a sequence that is not a channel split")
        x, sizes = self.sequences[node.input[0]]
        k = int(np.asarray(self.value(node.input[1])).reshape(-1)[0]) % len(sizes)
        start = sum(sizes[:k])
        end = start + sizes[k]
        self.emit(node, index, "slice", {"start": start or None, "end": None if end == self.shape(x)[1] else end},
                  [x], tag="slice")

    def _Slice(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.shape(node.input[0])
        if "starts" in a:  # opset < 10
            starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes", range(len(a["starts"]))), None
        else:
            starts, ends = self.value(node.input[1]), self.value(node.input[2])
            axes, steps = self.maybe(node, 3), self.maybe(node, 4)
            axes = range(len(starts)) if axes is None else axes
        if [int(x) % len(s) for x in axes] != [1] or (steps is not None and int(np.asarray(steps).reshape(-1)[0]) != 1):
            raise _Unsupported("Slice other than a channel range with step 1")
        c = s[1]
        begin, end = (int(np.asarray(v).reshape(-1)[0]) for v in (starts, ends))
        begin = max(0, min(c, begin + c if begin < 0 else begin))
        end = max(0, min(c, end + c if end < 0 else end))
        self.emit(node, index, "slice", {"start": begin or None, "end": None if end == c else end},
                  [node.input[0]], tag="slice")

    def _Resize(self, node: Any, index: int, a: dict[str, Any]) -> None:
        s = self.rank4(node, node.op_type)
        o = self.shapes.get(node.output[0])
        if o is None:
            scales = a.get("scales")
            if scales is None:
                scales = self.maybe(node, 2 if node.op_type == "Resize" else 1)
            sizes = self.maybe(node, 3) if node.op_type == "Resize" else None
            if sizes is not None and np.asarray(sizes).size:
                o = tuple(int(v) for v in np.asarray(sizes).reshape(-1))
            elif scales is not None and np.asarray(scales).size:
                o = tuple(math.floor(d * float(f)) for d, f in zip(s, np.asarray(scales).reshape(-1)))
            else:
                raise _Unsupported("Resize without constant scales or sizes")
        mode = a.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode not in ("nearest", "linear", "bilinear"):
            raise _Unsupported(f"Resize mode {mode}")
        if o[:2] != s[:2]:
            raise _Unsupported("Resize of the batch or channel axes")
        fields: dict[str, Any] = {"mode": "bilinear" if mode != "nearest" else None}
        if o[2] % s[2] == 0 and o[3] % s[3] == 0 and o[2] // s[2] == o[3] // s[3]:
            fields = {"scale": o[2] // s[2], **fields}
        else:
            fields = {"size": pair(o[2:]), **fields}
        self.emit(node, index, "upsample", fields, [node.input[0]], tag="upsample")

    _Upsample = _Resize



def onnx_to_spec(model: Any, name: str = "", *, fold: bool = True, source: str = "") -> dict[str, Any]:
    """A spec dict for an ONNX ``ModelProto`` (see the module docstring); UsageError for what cannot map."""
    require()
    imp = _Importer(model)
    ops = imp.run()
    name = name or _clean(model.graph.name or "model")
    producer = f"{model.producer_name} {model.producer_version}".strip()
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    src = source or f"ONNX graph (opset {opset}{', ' + producer if producer else ''})"
    return build_spec(name, imp.input_shape, ops, source=src, fold=fold)


def onnx_file_spec(path: str | Path, *, fold: bool = True) -> dict[str, Any]:
    """The spec dict of an .onnx file, named after the file."""
    model = load_model(path)
    p = Path(path)
    name = re.sub(r"\W", "_", p.stem) or "model"
    producer = f"{model.producer_name} {model.producer_version}".strip()
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return onnx_to_spec(model, name, fold=fold,
                        source=f"imported from {p.name} (ONNX opset {opset}{', ' + producer if producer else ''})")


__all__ = ["load_model", "onnx_file_spec", "onnx_to_spec", "require", "unique_name"]
