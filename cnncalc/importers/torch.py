"""PyTorch → spec: a module traced with torch.fx becomes a readable spec (weights ignored).

:func:`torch_to_spec` traces with ``torch.fx.symbolic_trace``'s tracer, extended to remember
which module each operation ran in (for names and blocks), runs ``ShapeProp`` on a zero input
of the given shape, and maps every ``torch.nn`` module call and tensor function/operator to a
cnncalc layer: ``layer1.0.conv1`` keeps its name, ``out + identity`` inside ``layer1.0``
becomes ``layer1.0.add``, a module called twice gets ``_1`` on its second call (as PyTorch's
ONNX export names it). Repeated module scopes fold into blocks named after the module class.
Anything without a cnncalc kind is listed in one UsageError.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import operator
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import CnncalcError, UsageError
from ..layers import layer_class
from .common import Op, build_spec, one_line, pair, problem_text, snake_case
from .torch_extra import (
    ExtraHandlers,
    Unsupported,
    bound_args,
    input_names,
    is_script,
    module_class,
    prepare,
    register_functions,
    trainable_of,
    unused_parameters,
)
from .torch_tokens import TokenHandlers, uncalled_modules

try:  # the [torch] extra
    import torch
    import torch.nn.functional as F
    from torch import fx, nn
    from torch.fx.passes.shape_prop import ShapeProp
except ImportError:  # pragma: no cover - exercised only without the extra
    torch = None

_INPUT = "input"


def require() -> None:
    """UsageError unless PyTorch (the [torch] extra) is installed."""
    if torch is None:
        raise UsageError("importing a PyTorch module needs torch: pip install 'cnncalc[torch]'")


def load_factory(ref: str) -> Any:
    """The module named by ``package.module:factory`` (a factory is called without arguments).

    The current directory is searched first, as ``python -m`` would.
    """
    require()
    mod_name, sep, attr = ref.partition(":")
    if not sep or not mod_name or not attr:
        raise UsageError(f"--torch wants package.module:factory, got '{ref}'")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise UsageError(f"cannot import '{mod_name}': {e}") from None
    except Exception as e:  # the user's module failed while importing: one line, not its traceback
        raise UsageError(f"importing '{mod_name}' failed: {type(e).__name__}: {_line(e)}") from None
    obj = mod
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"'{mod_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise UsageError(f"'{ref}' is neither an nn.Module nor a factory")
    try:
        model = obj()
    except Exception as e:  # the user's factory; any failure is theirs to see
        raise UsageError(f"calling {ref}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"{ref}() returned {type(model).__name__}, not an nn.Module")
    return model


#: Modules outside torch.nn traced as one call (not into their forward), each one layer kind: their
#: forward is attention written out in tensor operations, which a kind states in one formula.
_LEAF_CLASSES = frozenset({"ShiftedWindowAttention", "ShiftedWindowAttentionV2",
                           "RelativePositionalMultiHeadAttention", "LayerNorm2d"})
#: The helper classes ``cnncalc torch`` writes (cnncalc/layers/), read back as one layer each; a
#: module of the same name is taken for one only when it has the helper's attributes.
_HELPER_CLASSES = {"SelfAttention": ("qkv", "proj", "heads", "window"),
                   "MaxUnpool": ("kernel_size", "stride", "padding", "output_size")}


def _is_helper(m: Any) -> bool:
    attrs = _HELPER_CLASSES.get(type(m).__name__)
    return attrs is not None and all(hasattr(m, a) for a in attrs)


_Unsupported = Unsupported  # an operation without a cnncalc kind; the reason is kept for the message


if torch is not None:
    class _ScopeTracer(fx.Tracer):  # type: ignore[misc]
        """symbolic_trace's tracer that also records the module each node was created in."""

        def __init__(self) -> None:
            super().__init__()
            self.where = ""
            self.classes: dict[str, str] = {}

        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            # fx cannot trace into a script; the leaf classes are one kind each; a LayerNorm
            # subclass (torchvision's LayerNorm2d) is one layer, not its permutes
            return (type(m).__name__ in _LEAF_CLASSES or is_script(m) or isinstance(m, nn.LayerNorm)
                    or _is_helper(m) or bool(super().is_leaf_module(m, qualname)))

        def call_module(self, m: Any, forward: Any, args: Any, kwargs: Any) -> Any:
            path = self.path_of_module(m)
            self.classes[path] = module_class(m)
            outer, self.where = self.where, path
            try:
                return super().call_module(m, forward, args, kwargs)
            finally:
                self.where = outer

        def create_node(self, *args: Any, **kwargs: Any) -> Any:
            node = super().create_node(*args, **kwargs)
            node.meta["cnncalc_scope"] = self.where
            return node


def _propagate(gm: Any, input_shapes: Sequence[tuple[int, ...]], bound: Sequence[Any] = ()) -> None:
    """Record every node's output shape: on fake tensors (shapes only, no arithmetic, so a
    ViT-H or RegNet-Y-128GF takes a second), or by a real forward on zeros where the model does
    something fake tensors cannot (data-dependent control flow, a tensor read as a number)."""
    with torch.no_grad():
        try:
            from torch._subclasses.fake_tensor import FakeTensorMode
            mode = FakeTensorMode(allow_non_fake_inputs=True)
            with mode:
                xs = [torch.zeros(1, *s) for s in input_shapes]
            ShapeProp(gm, fake_mode=mode).propagate(*xs, *bound)
            return
        except Exception:  # any failure of the fake run: the real run decides
            pass
        ShapeProp(gm).propagate(*(torch.zeros(1, *s) for s in input_shapes), *bound)


def _single_op_scopes(ops: Sequence[tuple[tuple[str, ...], str]]) -> set[tuple[str, ...]]:
    """Module scopes whose layers are all one function call (once per call of the module) and
    that hold no sub-scope: such a layer is named after the module (``stochastic_depth``,
    ``stochastic_depth_1`` on its second call) rather than ``module.function``."""
    tags: dict[tuple[str, ...], set[str]] = {}
    inner: set[tuple[str, ...]] = set()
    for path, local in ops:
        tags.setdefault(path, set()).add(local)
        inner.update(path[:k] for k in range(1, len(path)))
    return {p for p, t in tags.items() if p and len(t) == 1 and p not in inner}


def _ref(src: Any) -> str:
    """An op's input before naming: the network input, or ``#k`` for the k-th layer."""
    return src if isinstance(src, str) else f"#{src}"  # the input, another input by name, or a layer


def _arg(node: Any, i: int, key: str, default: Any = None) -> Any:
    if key in node.kwargs:
        return node.kwargs[key]
    return node.args[i] if len(node.args) > i else default


def _shape(meta: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in meta.shape)


def _pad(p: Any) -> Any:
    if isinstance(p, str):
        return None if p == "valid" else p
    return None if not any(p) else pair(p)


def _not1(v: Sequence[int]) -> Any:
    return None if set(v) == {1} else pair(v)


def _act(kind: str, **attrs: str) -> Callable[[_Importer, Any, Any], None]:
    """A handler for an activation module: its kind, and fields read from the module's attributes."""
    def handler(self: _Importer, node: Any, m: Any) -> None:
        fields = {f: getattr(m, a) for f, a in attrs.items()}
        if fields.get("negative_slope") == 0.01:
            fields["negative_slope"] = None
        if fields.get("approximate") == "none":
            fields["approximate"] = None
        self.emit(node, kind, fields, [self.x(node)], kind)
    return handler


class _Fake:
    """Stands for an fx node where one operation becomes two layers (mean → pool + flatten)."""

    op = "call_function"

    def __init__(self, node: Any) -> None:
        self.meta = node.meta
        self.name = node.name


class _Importer(TokenHandlers, ExtraHandlers):
    def __init__(self, model: Any, input_shape: Sequence[int], more_inputs: Sequence[Sequence[int]] = (),
                 bound: dict[str, Any] | None = None) -> None:
        self.model = model
        self.input_shape = tuple(input_shape)
        self.input_shapes = [self.input_shape, *(tuple(s) for s in more_inputs)]
        self.bound = dict(bound or {})
        self.input_names: list[str] = []
        self.used_params: set[str] = set()  # free parameters a layer uses (x @ self.w)
        self.used_modules: set[str] = set()
        self.first_call: dict[str, int] = {}  # module or parameter → the op of its first use
        self.owner: dict[int, int] = {}  # op → the op whose weights it uses
        self.trainable: dict[int, bool] = {}
        self.partial: dict[int, str] = {}  # op → "weights" / "bias": the one part that trains
        self.folded: set[Any] = set()  # nodes after a torch.cat over the batch: traced dim 0 is theirs
        self.ops: list[Op] = []
        self.meta: list[tuple[tuple[str, ...], str, str]] = []
        self.live: dict[Any, Any] = {}  # fx node → op index, "input", or a tuple of them (chunk)
        self.shapes: dict[Any, Any] = {}
        self.calls: dict[tuple[tuple[str, ...], str], int] = {}
        self.problems: list[tuple[str, str, str]] = []
        self.failed: set[Any] = set()
        self.skip: set[Any] = set()
        self.classes: dict[tuple[str, ...], str] = {}
        self.functional: set[int] = set()  # indices of layers made from a function call, not a module
        self.untried = 0  # operations after a failed one, reading its output

    def trace(self) -> Any:
        tracer = _ScopeTracer()
        quiet = io.StringIO()  # fx and the model may print tracebacks; the user gets one line
        try:
            with contextlib.redirect_stderr(quiet):
                graph = tracer.trace(self.model, concrete_args=self.bound or None)
        except Exception as e:  # fx raises TraceError and plain errors for data-dependent code
            raise UsageError(f"torch.fx cannot trace the model ({type(e).__name__}: {_line(e)}); "
                             "export it to ONNX and import that instead") from None
        gm = fx.GraphModule(tracer.root, graph)
        self.classes = {tuple(k.split(".")): v for k, v in tracer.classes.items() if k}
        shapes = " and ".join("1×" + "×".join(map(str, s)) for s in self.input_shapes)
        try:
            with contextlib.redirect_stderr(quiet):
                _propagate(gm, self.input_shapes, tuple(self.bound.values()))
        except Exception as e:  # a forward pass error from the user's model at this input size
            raise UsageError(f"running the model on {shapes} input{'s' if len(self.input_shapes) > 1 else ''} "
                             f"failed: {type(e).__name__}: {_line(e)}") from None
        return gm

    def run(self) -> list[Op]:
        gm = self.trace()
        self.gm = gm
        self.users = {n: list(n.users) for n in gm.graph.nodes}
        for node in gm.graph.nodes:
            meta = node.meta.get("tensor_meta")
            if meta is not None and hasattr(meta, "shape"):
                self.shapes[node] = _shape(meta)
            elif isinstance(meta, tuple | list):
                self.shapes[node] = tuple(_shape(m) if hasattr(m, "shape") else None for m in meta)
        for node in gm.graph.nodes:
            if node in self.skip:
                continue
            if node.op == "placeholder":
                k = len(self.input_names)
                if k < len(self.input_shapes):  # the rest are arguments bound to values (--arg, defaults)
                    self.input_names.append(str(node.target))
                    self.live[node] = _INPUT if k == 0 else str(node.target)
                continue
            if node.op in ("output", "get_attr"):
                continue
            if node.op == "call_function" and isinstance(node.target, type) and issubclass(node.target, tuple):
                continue  # a namedtuple of outputs (GoogLeNetOutputs): packing, not a layer
            deps = [a for a in node.all_input_nodes]
            if any(d in self.failed for d in deps):
                self.failed.add(node)
                if node in self.shapes:  # a feature map, not x.size() metadata
                    self.untried += 1
                continue
            if not any(d in self.live for d in deps):
                continue
            if node not in self.shapes:
                continue  # x.size(), x.shape: metadata, not a feature map
            try:
                self.convert(node)
            except _Unsupported as e:
                self.problems.append((self.what(node), node.name, str(e)))
                self.failed.add(node)
            except Exception as e:  # an argument form no handler expected: said, not a traceback
                self.problems.append((self.what(node), node.name, f"cannot read its arguments "
                                      f"({type(e).__name__}: {_line(e)})"))
                self.failed.add(node)
        if self.problems:
            raise UsageError(problem_text(self.problems, "operation", "the PyTorch model", self.untried))
        return self.name_ops()

    # -- bookkeeping ----------------------------------------------------------------------

    def what(self, node: Any) -> str:
        if node.op == "call_module":
            return module_class(self.gm.get_submodule(node.target))
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        return getattr(node.target, "__name__", str(node.target))

    def src(self, node: Any) -> Any:
        if node not in self.live:
            raise _Unsupported(f"its input '{node}' is a constant or parameter, not a feature map")
        if isinstance(self.live[node], tuple) and self.live[node][:1] == ("pad",):
            raise _Unsupported(f"its input '{node}' is zero padding that only a Conv2d right after it can take")
        return self.live[node]

    def emit(self, node: Any, kind: str, fields: dict[str, Any], inputs: Sequence[Any], tag: str) -> None:
        """Add a layer; cnncalc's output shape must agree with the traced one (a check on the mapping)."""
        fields = {k: v for k, v in fields.items() if v is not None}
        cls = layer_class(kind)
        assert cls is not None, kind
        ins = [self.shapes[i] if i in self.folded else self.shapes[i][1:] for i in inputs]
        try:
            got = cls.model_validate(fields).output_shape(ins)
        except (ValidationError, CnncalcError) as e:
            raise _Unsupported(f"as {kind} {fields}: {one_line(e)}") from None
        want = self.shapes.get(node)
        folded = kind == "batch_concat" or any(i in self.folded for i in inputs)
        if folded:  # traced at batch 1, the whole tensor is one sample's rows
            self.folded.add(node)
            want = (0, *want) if isinstance(want, tuple) else want
        if isinstance(want, tuple) and want and isinstance(want[0], int) and tuple(want[1:]) != tuple(got):
            raise _Unsupported(f"as {kind} {fields} it would give {list(got)}, but PyTorch gives {list(want[1:])}")
        if node.op == "call_module":
            self.check_counts(node, cls.model_validate(fields), ins, kind)
            parts = tuple(node.target.split("."))
            path, local = parts[:-1], parts[-1]
            key = (parts, "")
            n = self.calls.get(key, 0)
            self.calls[key] = n + 1
            self.meta.append((path, local, f"_{n}" if n else ""))
            self.own_tensors(node.target, self.gm.get_submodule(node.target))
        else:
            scope = tuple(p for p in node.meta.get("cnncalc_scope", "").split(".") if p)
            key = (scope, tag)
            n = self.calls.get(key, 0)
            self.calls[key] = n + 1
            self.functional.add(len(self.meta))
            self.meta.append((scope, tag, f"_{n}" if n else ""))
        self.ops.append(Op((), "", kind, fields, [_ref(self.src(i)) for i in inputs]))
        self.live[node] = len(self.ops) - 1

    def check_counts(self, node: Any, layer: Any, ins: Sequence[tuple[int, ...]], kind: str) -> None:
        """The module's own parameters and buffers must be what the kind counts (else the mapping is wrong)."""
        m = self.gm.get_submodule(node.target)
        params = sum(p.numel() for p in m.parameters())
        buffers = sum(b.numel() for b in m.buffers())
        got = (layer.params(ins).total, layer.buffers(ins))
        if got != (params, buffers):
            raise _Unsupported(f"it holds {params:,} parameters and {buffers:,} buffer elements, but as {kind} "
                               f"it would count {got[0]:,} and {got[1]:,}")

    def alias(self, node: Any, source: Any) -> None:
        self.live[node] = self.src(source)

    def name_ops(self) -> list[Op]:
        taken: set[str] = set()
        names: list[str] = []
        # a module call's layer has the module's own name already: only function calls move
        alone = _single_op_scopes([(path, local if i in self.functional else ".") for i, (path, local, _)
                                   in enumerate(self.meta)])
        for i, (op, (path, local, suffix)) in enumerate(zip(self.ops, self.meta)):
            if path in alone and i in self.functional:  # torchvision's Permute, StochasticDepth
                path, local = path[:-1], path[-1]
            op.path, op.local = path, local + suffix
            base, k = op.local, 1
            while op.name in taken:
                k += 1
                op.local = f"{base}_{k}"
            taken.add(op.name)
            names.append(op.name)
        for op in self.ops:
            op.inputs = [s if not s.startswith("#") else names[int(s[1:])] for s in op.inputs]
        for i, op in enumerate(self.ops):  # weights:, trainable:, functional: after the kind's own fields
            if i in self.owner:
                op.fields["weights"] = names[self.owner[i]]
            if not self.trainable.get(i, True):
                op.fields["trainable"] = False
            elif i in self.partial:
                op.fields["trainable"] = self.partial[i]
            if i in self.functional and _module_idiom(op.kind):
                op.fields["functional"] = True  # F.relu(x) where the kind's idiom is nn.ReLU (--convention)
        return self.ops

    def own_tensors(self, target: str, m: Any) -> None:
        """The op just added calls module ``target``: its first call owns the weights, later ones
        use them (``weights:``); frozen when every parameter of the module is."""
        i = len(self.ops)  # the op about to be appended by emit
        self.used_modules.add(target)
        if not any(True for _ in m.parameters()) and not any(True for _ in m.buffers()):
            return
        if target in self.first_call:
            self.owner[i] = self.first_call[target]
            return
        self.first_call[target] = i
        flag = trainable_of(m)
        if flag is None:
            part = _trainable_part(m)
            if part is None:
                raise _Unsupported("some of its parameters are frozen and some not, other than its whole weight "
                                   "or its whole bias (what trainable: weights / bias can say)")
            self.partial[i] = part
            flag = True
        self.trainable[i] = flag

    def emit_param(self, node: Any, kind: str, fields: dict[str, Any], src: Any, name: str) -> None:
        """A layer using the free parameter ``name``, named after it (``a``, ``inside.param_1``)."""
        i = len(self.ops)
        self.emit(node, kind, fields, [src], kind)
        parts = name.split(".")
        path, tag, _ = self.meta[-1]
        self.calls[(path, tag)] -= 1
        key = (tuple(parts[:-1]), parts[-1])
        n = self.calls.get(key, 0)
        self.calls[key] = n + 1
        self.meta[-1] = (key[0], key[1], f"_{n}" if n else "")
        self.note_param(name, i)

    def note_param(self, name: str, i: int) -> None:
        """Op ``i`` uses the free parameter ``name``: its first use owns it, later ones share it."""
        self.used_params.add(name)
        if name in self.first_call:
            self.owner[i] = self.first_call[name]
        else:
            self.first_call[name] = i
            self.trainable[i] = bool(self.model.get_parameter(name).requires_grad)

    # -- dispatch -------------------------------------------------------------------------

    def convert(self, node: Any) -> None:
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            handler = getattr(self, f"_m_{module_class(mod)}", None)
            if handler is None and not is_script(mod):
                for base in type(mod).__mro__[1:]:  # a subclass such as torchvision's LayerNorm2d
                    handler = getattr(self, f"_m_{base.__name__}", None)
                    if handler is not None:
                        break
            if handler is None:
                raise _Unsupported("no cnncalc layer kind for this module")
            handler(node, mod)
            return
        name = _METHOD_ALIASES.get(node.target, node.target) if node.op == "call_method" else \
            _FUNCTIONS.get(node.target) or _WRAPPED.get(getattr(node.target, "__name__", ""))
        handler = getattr(self, f"_f_{name}", None) if isinstance(name, str) else None
        if handler is None:
            raise _Unsupported("no cnncalc layer kind for this operation")
        handler(node)

    def x(self, node: Any) -> Any:
        first = node.args[0] if node.args else next(iter(node.kwargs.values()))
        return first

    # -- modules --------------------------------------------------------------------------

    def _m_Conv2d(self, node: Any, m: Any) -> None:
        x, pad = self.x(node), _pad(m.padding)
        held = self.live.get(x)
        if isinstance(held, tuple) and held[:1] == ("pad",):  # F.pad(x, (l, r, t, b)) folded in
            if isinstance(m.padding, str):
                raise _Unsupported("zero padding before a Conv2d with padding='same'")
            (left, right, top, bottom), (ph, pw) = held[2], m.padding
            x, pad = held[1], [top + ph, bottom + ph, left + pw, right + pw]
        self.emit(node, "conv", {"filters": m.out_channels, "kernel": pair(m.kernel_size),
                                 "stride": _not1(m.stride), "pad": pad, "dilation": _not1(m.dilation),
                                 "groups": m.groups if m.groups != 1 else None,
                                 "bias": None if m.bias is not None else False}, [x], "conv")

    def _f_pad(self, node: Any) -> None:
        """Zero padding of H and W, taken by the Conv2d that follows (as the ONNX importer's Pad)."""
        pads = tuple(int(p) for p in _arg(node, 1, "pad", ()))
        if len(self.shapes[self.x(node)]) != 4 or len(pads) != 4 or min(pads) < 0 \
                or _arg(node, 2, "mode", "constant") != "constant" or _arg(node, 3, "value", None) not in (None, 0, 0.0):
            raise _Unsupported(f"padding {list(pads)} that is not zero padding of H and W")
        self.src(self.x(node))
        self.live[node] = ("pad", self.x(node), pads)

    def _m_ConvTranspose2d(self, node: Any, m: Any) -> None:
        self.emit(node, "deconv", {"filters": m.out_channels, "kernel": pair(m.kernel_size),
                                   "stride": _not1(m.stride), "pad": _pad(m.padding),
                                   "output_padding": _pad(m.output_padding), "dilation": _not1(m.dilation),
                                   "groups": m.groups if m.groups != 1 else None,
                                   "bias": None if m.bias is not None else False}, [self.x(node)], "deconv")

    def _m_Linear(self, node: Any, m: Any) -> None:
        rank = len(self.shapes[self.x(node)])
        # N × features: flat; N × L × features: per token (fc's default on a sequence); more: say so
        self.emit(node, "fc", {"units": m.out_features, "bias": None if m.bias is not None else False,
                               "over": "last" if rank > 3 else None}, [self.x(node)], "linear")

    def _m_BatchNorm2d(self, node: Any, m: Any) -> None:
        self.emit(node, "batchnorm", {"eps": None if m.eps == 1e-5 else m.eps,
                                      "momentum": None if m.momentum in (0.1, None) else m.momentum,
                                      "affine": None if m.affine else False,
                                      "track_running_stats": None if m.track_running_stats else False},
                  [self.x(node)], "batchnorm")

    _m_BatchNorm1d = _m_BatchNorm2d

    def _m_LayerNorm(self, node: Any, m: Any) -> None:
        s = self.shapes[self.x(node)]
        shape = tuple(m.normalized_shape)
        if shape == (s[1],) and (len(s) == 2 or (len(s) == 4 and type(m).__name__ == "LayerNorm2d")):
            over = "channels"  # a flat vector, or torchvision's LayerNorm2d (permutes C last)
        elif shape == (s[-1],) and len(s) == 3:
            over = "channels"  # a sequence: each token's features
        elif shape == (s[-1],) and len(s) > 3:
            over = "last"  # channels-last maps, windows of tokens
        elif shape == s[1:]:
            over = "all"
        else:
            raise _Unsupported(f"LayerNorm over {list(shape)} of a {list(s[1:])} tensor")
        self.emit(node, "layernorm", {"over": None if over == "channels" else over,
                                      "affine": None if m.elementwise_affine else False,
                                      "eps": m.eps}, [self.x(node)], "layernorm")

    def _m_LocalResponseNorm(self, node: Any, m: Any) -> None:
        self.emit(node, "lrn", {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}, [self.x(node)], "lrn")

    _m_ReLU = _act("relu")
    _m_ReLU6 = _act("relu6")
    _m_LeakyReLU = _act("leaky_relu", negative_slope="negative_slope")
    _m_Sigmoid = _act("sigmoid")
    _m_Tanh = _act("tanh")
    _m_GELU = _act("gelu", approximate="approximate")
    _m_SiLU = _act("silu")
    _m_Hardswish = _act("hardswish")
    _m_Hardsigmoid = _act("hardsigmoid")

    def _m_Softmax(self, node: Any, m: Any) -> None:
        self._softmax(node, m.dim)

    def _pool(self, node: Any, kind: str, kernel: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool) -> None:
        if dilation not in (None, 1, (1, 1), [1, 1]):
            raise _Unsupported("dilated pooling")
        k = pair(kernel if isinstance(kernel, Sequence) else (kernel, kernel))
        s = None if stride in (None, [], ()) else pair(stride if isinstance(stride, Sequence) else (stride, stride))
        p = pair(padding if isinstance(padding, Sequence) else (padding, padding))
        self.emit(node, kind, {"kernel": k, "stride": None if s == k else s, "pad": p or None,
                               "ceil_mode": True if ceil_mode else None}, [self.x(node)], kind)

    def _m_MaxPool2d(self, node: Any, m: Any) -> None:
        self._pool(node, "maxpool", m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)

    def _m_AvgPool2d(self, node: Any, m: Any) -> None:
        self._pool(node, "avgpool", m.kernel_size, m.stride, m.padding, 1, m.ceil_mode)

    def _adaptive(self, node: Any, kind: str, size: Any) -> None:
        s = self.shapes[self.x(node)]
        out = size if isinstance(size, Sequence) else (size, size)
        out = tuple(s[2 + i] if v is None else v for i, v in enumerate(out))
        self.emit(node, kind, {"output": pair(out)}, [self.x(node)], kind)

    def _m_AdaptiveAvgPool2d(self, node: Any, m: Any) -> None:
        self._adaptive(node, "adaptive_avgpool", m.output_size)

    def _m_AdaptiveMaxPool2d(self, node: Any, m: Any) -> None:
        self._adaptive(node, "adaptive_maxpool", m.output_size)

    def _m_Flatten(self, node: Any, m: Any) -> None:
        self._flatten(node, m.start_dim, m.end_dim)

    def _m_Dropout(self, node: Any, m: Any) -> None:
        self.emit(node, "dropout", {"p": None if m.p == 0.5 else m.p}, [self.x(node)], "dropout")

    _m_Dropout2d = _m_Dropout

    def _m_Identity(self, node: Any, m: Any) -> None:
        self.alias(node, self.x(node))

    def _m_Upsample(self, node: Any, m: Any) -> None:
        self._upsample(node, m.mode)

    def _m_ChannelShuffle(self, node: Any, m: Any) -> None:
        self.emit(node, "channel_shuffle", {"groups": m.groups}, [self.x(node)], "channel_shuffle")

    # -- functions and methods ------------------------------------------------------------

    def _softmax(self, node: Any, dim: Any, kind: str = "softmax") -> None:
        s = self.shapes[self.x(node)]
        if dim is None or int(dim) % len(s) != 1:
            raise _Unsupported(f"{kind} over dim {dim} (cnncalc's {kind} is over channels/features)")
        self.emit(node, kind, {}, [self.x(node)], kind)

    def _flatten(self, node: Any, start: int, end: int) -> None:
        s = self.shapes[self.x(node)]
        if start % len(s) != 1 or end % len(s) != len(s) - 1:
            if start % len(s) == 0:
                raise _Unsupported(f"flatten of dims {start}…{end} (the batch dimension must stay)")
            self.reshape(node)
            return
        if len(s) == 2:
            self.alias(node, self.x(node))
            return
        self.emit(node, "flatten", {}, [self.x(node)], "flatten")

    def _upsample(self, node: Any, mode: str) -> None:
        s, o = self.shapes[self.x(node)], self.shapes[node]
        if mode not in ("nearest", "bilinear"):
            raise _Unsupported(f"upsampling mode {mode}")
        fields: dict[str, Any]
        if o[2] % s[2] == 0 and o[3] % s[3] == 0 and o[2] // s[2] == o[3] // s[3]:
            fields = {"scale": o[2] // s[2]}
        else:
            fields = {"size": pair(o[2:])}
        fields["mode"] = "bilinear" if mode == "bilinear" else None
        self.emit(node, "upsample", fields, [self.x(node)], "upsample")

    def _tensors(self, node: Any) -> list[Any]:
        return [a for a in node.args if isinstance(a, fx.Node) and a in self.shapes]

    def _f_add(self, node: Any) -> None:
        xs = self._tensors(node)
        if len(xs) == 2 and self.pos_embedding(node, xs):
            return
        if self.param_elementwise(node, "param_add"):
            return
        if len(xs) != 2 or any(x not in self.live for x in xs):
            raise _Unsupported("adding a constant (only the sum of two feature maps is a layer)")
        if self.shapes[xs[0]] != self.shapes[xs[1]]:
            raise _Unsupported(f"broadcasting add of {self.shapes[xs[0]]} and {self.shapes[xs[1]]}")
        self.emit(node, "add", {}, xs, "add")

    def _f_mul(self, node: Any) -> None:
        xs = self._tensors(node)
        if self.constant_scale(node):
            return
        if len(xs) == 2 and all(x in self.live for x in xs):
            a, b = xs
            for x, gate in ((a, b), (b, a)):
                # x · σ(x) written out is silu: take back the sigmoid layer just made
                if gate.op in ("call_function", "call_method") and _FUNCTIONS.get(gate.target, gate.target) == \
                        "sigmoid" and gate.args[0] is x and self.live.get(gate) == len(self.ops) - 1 \
                        and len(self.users[gate]) == 1:
                    self.ops.pop()
                    path, tag, _ = self.meta.pop()
                    self.functional.discard(len(self.meta))
                    self.calls[(path, tag)] -= 1
                    self.emit(node, "silu", {}, [x], "silu")
                    return
            self.emit(node, "multiply", {}, xs, "mul")
            return
        live = [x for x in xs if x in self.live]
        const = [x for x in xs if x not in self.live]
        if len(live) == 1 and len(const) == 1:
            s, c = self.shapes[live[0]], self.shapes[const[0]]
            if len(s) == 4 and math.prod(c) == s[1] and c[-2:] == (1, 1):
                i = len(self.ops)
                self.emit(node, "layer_scale", {}, live, "layer_scale")
                if (p := self._param(const[0])) is not None:
                    self.note_param(p[0], i)
                return
        if self.param_elementwise(node, "param_mul"):
            return
        raise _Unsupported("multiplying by a constant (only a per-channel scale is a layer)")

    def _f_cat(self, node: Any) -> None:
        xs = list(_arg(node, 0, "tensors"))
        dim = _arg(node, 1, "dim", 0)
        if self.class_token(node, xs, int(dim)):
            return
        if int(dim) % len(self.shapes[xs[0]]) == 0 and self.batch_cat(node, xs):
            return
        if int(dim) % len(self.shapes[xs[0]]) != 1:
            raise _Unsupported(f"cat over dim {dim} (concat joins channels)")
        self.emit(node, "concat", {}, xs, "concat")

    def _f_flatten(self, node: Any) -> None:
        self._flatten(node, _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1))

    def _f_view(self, node: Any) -> None:
        s, o = self.shapes[self.x(node)], self.shapes[node]
        if s == o:
            self.alias(node, self.x(node))
        elif len(o) == 2 and o[1] == math.prod(s[1:]):
            self.emit(node, "flatten", {}, [self.x(node)], "flatten")
        elif (shuffle := self._shuffle(node)) is not None:
            groups, last = shuffle
            self.emit(last, "channel_shuffle", {"groups": groups}, [self.x(node)], "channel_shuffle")
        else:
            self.reshape(node)

    _f_reshape = _f_view

    def _shuffle(self, node: Any) -> tuple[int, Any] | None:
        """view (N, g, C/g, H, W) → transpose(1, 2) → [contiguous] → view (N, C, H, W): (g, last node)."""
        s, o = self.shapes[self.x(node)], self.shapes[node]
        if len(s) != 4 or len(o) != 5 or o[1] * o[2] != s[1]:
            return None
        chain, cur = [], node
        while len(self.users[cur]) == 1:
            cur = next(iter(self.users[cur]))
            name = cur.target if cur.op == "call_method" else _FUNCTIONS.get(cur.target)
            chain.append((name, cur))
            if name in ("view", "reshape", "flatten"):
                break
        names = [n for n, _ in chain]
        if names and names[0] == "transpose" and names[-1] in ("view", "reshape", "flatten") \
                and set(names[1:-1]) <= {"contiguous"} and self.shapes.get(chain[-1][1]) == s:
            self.skip.update(c for _, c in chain)
            return o[1], chain[-1][1]
        return None

    def _f_identity(self, node: Any) -> None:
        self.alias(node, self.x(node))

    _f_contiguous = _f_identity
    _f_clone = _f_identity
    _f_detach = _f_identity
    _f_to = _f_identity

    def _f_relu(self, node: Any) -> None:
        self.emit(node, "relu", {}, [self.x(node)], "relu")

    def _f_relu6(self, node: Any) -> None:
        self.emit(node, "relu6", {}, [self.x(node)], "relu6")

    def _f_sigmoid(self, node: Any) -> None:
        self.emit(node, "sigmoid", {}, [self.x(node)], "sigmoid")

    def _f_tanh(self, node: Any) -> None:
        self.emit(node, "tanh", {}, [self.x(node)], "tanh")

    def _f_silu(self, node: Any) -> None:
        self.emit(node, "silu", {}, [self.x(node)], "silu")

    def _f_gelu(self, node: Any) -> None:
        approx = _arg(node, 1, "approximate", "none")
        self.emit(node, "gelu", {"approximate": None if approx == "none" else approx}, [self.x(node)], "gelu")

    def _f_hardswish(self, node: Any) -> None:
        self.emit(node, "hardswish", {}, [self.x(node)], "hardswish")

    def _f_hardsigmoid(self, node: Any) -> None:
        self.emit(node, "hardsigmoid", {}, [self.x(node)], "hardsigmoid")

    def _f_leaky_relu(self, node: Any) -> None:
        slope = _arg(node, 1, "negative_slope", 0.01)
        self.emit(node, "leaky_relu", {"negative_slope": None if slope == 0.01 else slope}, [self.x(node)],
                  "leaky_relu")

    def _f_softmax(self, node: Any) -> None:
        self._softmax(node, _arg(node, 1, "dim"))

    def _f_dropout(self, node: Any) -> None:
        p = _arg(node, 1, "p", 0.5)
        self.emit(node, "dropout", {"p": None if p == 0.5 else p}, [self.x(node)], "dropout")

    def _f_adaptive_avg_pool2d(self, node: Any) -> None:
        self._adaptive(node, "adaptive_avgpool", _arg(node, 1, "output_size"))

    def _f_adaptive_max_pool2d(self, node: Any) -> None:
        self._adaptive(node, "adaptive_maxpool", _arg(node, 1, "output_size"))

    def _f_max_pool2d(self, node: Any) -> None:
        self._pool(node, "maxpool", _arg(node, 1, "kernel_size"), _arg(node, 2, "stride"), _arg(node, 3, "padding", 0),
                   _arg(node, 4, "dilation", 1), _arg(node, 5, "ceil_mode", False))

    def _f_avg_pool2d(self, node: Any) -> None:
        self._pool(node, "avgpool", _arg(node, 1, "kernel_size"), _arg(node, 2, "stride"), _arg(node, 3, "padding", 0),
                   1, _arg(node, 4, "ceil_mode", False))

    def _f_mean(self, node: Any) -> None:
        self._spatial_reduce(node, "global_avgpool", "mean")

    def _f_amax(self, node: Any) -> None:
        self._spatial_reduce(node, "global_maxpool", "amax")

    def _spatial_reduce(self, node: Any, kind: str, tag: str) -> None:
        """x.mean / x.amax over H and W: global pooling (then a flatten, without keepdim)."""
        s = self.shapes[self.x(node)]
        dims = _arg(node, 1, "dim")
        keep = _arg(node, 2, "keepdim", False)
        if len(s) != 4 or dims is None or sorted(int(d) % 4 for d in (dims if isinstance(dims, Sequence) else [dims])) \
                != [2, 3]:
            raise _Unsupported(f"{tag} over dims {dims} (only the spatial {tag} is a layer)")
        if keep:
            self.emit(node, kind, {}, [self.x(node)], tag)
            return
        # two layers: global pooling, then the flatten that dropping the dims amounts to
        pooled = _Fake(node)
        self.shapes[pooled] = (s[0], s[1], 1, 1)
        self.emit(pooled, kind, {}, [self.x(node)], tag)
        self.emit(node, "flatten", {}, [pooled], "flatten")

    def _f_interpolate(self, node: Any) -> None:
        self._upsample(node, _arg(node, 4, "mode", "nearest"))

    def _f_channel_shuffle(self, node: Any) -> None:
        self.emit(node, "channel_shuffle", {"groups": int(_arg(node, 1, "groups"))}, [self.x(node)], "channel_shuffle")

    def _f_chunk(self, node: Any) -> None:
        src = self.x(node)
        s = self.shapes[src]
        dim = _arg(node, 2, "dim", 0)
        if int(dim) % len(s) != 1:
            raise _Unsupported(f"splitting dim {dim} (only channel splits are layers)")
        self.live[node] = ("split", src)

    _f_split = _f_chunk
    _f_tensor_split = _f_chunk

    def _f_getitem(self, node: Any) -> None:
        base, index = node.args[0], node.args[1]
        if self.first_output(node, base, index) or self.select_token(node, base, index):
            return
        holder = self.live.get(base)
        if isinstance(holder, int) and base.op == "call_module" and index in (0, 1) \
                and getattr(self.gm.get_submodule(base.target), "return_indices", False):
            if index == 0:  # MaxPool2d(return_indices=True) → (values, indices)
                self.live[node] = holder
            else:
                self.live[node] = ("indices", holder)
            return
        if isinstance(holder, tuple) and holder and holder[0] == "split":
            src = holder[1]
            sizes = [p[1] if p else 0 for p in self.shapes[base]]
            start = sum(sizes[:index])
            end = start + sizes[index]
            c = self.shapes[src][1]
            self.emit(node, "slice", {"start": start or None, "end": None if end == c else end}, [src], "slice")
            return
        if base in self.live and isinstance(index, tuple) and len(index) >= 2 and index[0] == slice(None) \
                and isinstance(index[1], slice) and all(i == slice(None) for i in index[2:]):
            sl = index[1]
            c = self.shapes[base][1]
            if sl.step not in (None, 1):
                raise _Unsupported("a strided channel slice")
            start, end, _ = sl.indices(c)
            self.emit(node, "slice", {"start": start or None, "end": None if end == c else end}, [base], "slice")
            return
        raise _Unsupported(f"indexing {index!r} (only channel ranges are layers)")


_FUNCTIONS: dict[Any, str] = {}
#: Functions that libraries mark with ``torch.fx.wrap`` (traced as one call), by name: torchvision's.
_WRAPPED = {"stochastic_depth": "stochastic_depth", "_patch_merging_pad": "patch_merging_pad"}
#: Tensor methods share the handlers' names (x.relu(), x.view(...), x.chunk(2, 1)); in-place ones too.
_METHOD_ALIASES = {"add_": "add", "mul_": "mul", "relu_": "relu", "sigmoid_": "sigmoid", "__add__": "add",
                   "__mul__": "mul", "swapaxes": "transpose", "swapdims": "transpose"}
if torch is not None:
    _FUNCTIONS.update({
        operator.add: "add", operator.iadd: "add", torch.add: "add",
        operator.mul: "mul", operator.imul: "mul", torch.mul: "mul",
        torch.cat: "cat", torch.concat: "cat", torch.flatten: "flatten", torch.reshape: "reshape",
        F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid",
        torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu", F.gelu: "gelu", F.hardswish: "hardswish",
        F.hardsigmoid: "hardsigmoid", F.leaky_relu: "leaky_relu", F.softmax: "softmax", torch.softmax: "softmax",
        F.dropout: "dropout", F.adaptive_avg_pool2d: "adaptive_avg_pool2d",
        F.adaptive_max_pool2d: "adaptive_max_pool2d", F.max_pool2d: "max_pool2d", F.avg_pool2d: "avg_pool2d",
        torch.mean: "mean", torch.amax: "amax", F.pad: "pad", F.interpolate: "interpolate", F.channel_shuffle: "channel_shuffle",
        torch.channel_shuffle: "channel_shuffle", torch.chunk: "chunk", torch.split: "split",
        torch.tensor_split: "tensor_split", operator.getitem: "getitem", torch.transpose: "transpose",
        torch.permute: "permute", torch.swapaxes: "transpose", torch.swapdims: "transpose",
    })
    register_functions(_FUNCTIONS, _METHOD_ALIASES)



def _trainable_part(m: Any) -> str | None:
    """"weights" or "bias" when exactly that one of a module's two tensors, ``weight`` and
    ``bias``, has requires_grad (fine-tuning the biases only); None for any other mix."""
    named = dict(m.named_parameters())
    if set(named) != {"weight", "bias"} or named["weight"].requires_grad == named["bias"].requires_grad:
        return None
    return "weights" if named["weight"].requires_grad else "bias"


def _module_idiom(kind: str) -> bool:
    """The kind is an nn module in ordinary PyTorch code (ReLU), not an operator (``a + b``, torch.cat)."""
    cls = layer_class(kind)
    return cls is not None and cls.torch_module[:1].isupper()


def _line(e: BaseException) -> str:
    """An exception's message on one line (PyTorch's messages run over several); the error the
    model raised, not fx's wrapping of it."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "…"


def torch_to_spec(model: Any, input_shape: Sequence[int] = (3, 224, 224), name: str = "", *, fold: bool = True,
                  source: str = "", more_inputs: Sequence[Sequence[int]] = (), args: dict[str, Any] | None = None,
                  train: bool = False) -> dict[str, Any]:
    """A spec dict for an ``nn.Module`` traced at ``input_shape`` (C, H, W); UsageError for what cannot map.

    ``more_inputs`` are the shapes of forward's next tensor arguments (the spec gets ``inputs:``),
    ``args`` binds later arguments by name (others take their defaults), ``train`` traces in
    train mode. A module called again uses its first call's weights (``weights:``); parameters no
    layer uses go to ``parameters:``; frozen modules get ``trainable: false``.
    """
    require()
    cls_name = type(model).__name__
    model = prepare(model)
    n_in = 1 + len(more_inputs)
    bound = bound_args(model, n_in, args or {})
    was_training = model.training
    model.train(train)
    try:
        imp = _Importer(model, input_shape, more_inputs, bound)
        ops = imp.run()
    finally:
        model.train(was_training)
    if not ops:  # forward computes nothing from its input (returns it, or a parameter): one identity row
        ops = [Op((), "identity", "identity", {}, [_INPUT])]
    name = name or snake_case(cls_name)
    spec = build_spec(name, input_shape, ops, source=source or f"PyTorch {cls_name} (torch.fx)",
                      classes={k: v for k, v in imp.classes.items() if v not in ("Sequential", "ModuleList")},
                      fold=fold)
    if more_inputs:
        names = input_names(model, n_in)
        shapes = [list(input_shape), *(list(s) for s in more_inputs)]
        spec = {("inputs" if k == "input" else k): (dict(zip(names, shapes)) if k == "input" else v)
                for k, v in spec.items()}
        rename = {"input": names[0]}
        for e in spec["layers"]:
            if "inputs" in e:
                e["inputs"] = [rename.get(x, x) for x in e["inputs"]]
    if unused := uncalled_modules(model, imp.gm):  # named in the header too, with their buffers
        spec["_unused"] = unused
    free = unused_parameters(model, imp.used_modules, imp.used_params)
    if free:
        spec = {k: v for k, v in spec.items() if k not in ("blocks", "layers", "_notes")} | {"parameters": free} | \
            {k: v for k, v in spec.items() if k in ("blocks", "layers", "_notes")}
    return spec


__all__ = ["load_factory", "require", "torch_to_spec"]
