"""PyTorch import, the counts a PyTorch user expects: reused modules, free and unused parameters,
frozen tensors, several inputs, bound forward arguments, and the small modules and tensor
expressions that torchinfo's test models use (log_softmax, PReLU, pads, max-unpool, ``x @ w``,
``x * 0.5``, ``a − b``, ``abs``, ``torch.cat`` over the batch).

:class:`ExtraHandlers` is mixed into the importer of :mod:`cnncalc.importers.torch`; the
functions prepare the model (a bare module is wrapped, a scripted or pruned one refused) and
collect what no layer row uses.
"""

from __future__ import annotations

import inspect
import operator
import re
from collections.abc import Sequence
from typing import Any

from ..errors import UsageError

try:  # the [torch] extra
    import torch
    import torch.nn.functional as F
    from torch import fx, nn
except ImportError:  # pragma: no cover - exercised only without the extra
    torch = None


from .torch_tokens import Unsupported  # one class for every handler: the importer catches it


def is_script(m: Any) -> bool:
    """A torch.jit.script / trace module (fx cannot trace into it)."""
    return isinstance(m, torch.jit.ScriptModule)


def module_class(m: Any) -> str:
    """The nn class name of a module; a scripted module's original class (``Linear``)."""
    if is_script(m):
        return str(getattr(m, "original_name", type(m).__name__))
    return type(m).__name__


def snake(name: str) -> str:
    """Conv2d → conv2d, LogSoftmax → log_softmax."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def prepare(model: Any) -> Any:
    """The model as the tracer wants it: a bare leaf module (an ``nn.Linear``) wrapped in a
    container that calls it ``linear``; a scripted or pruned model refused in one line."""
    if is_script(model):
        raise UsageError(f"{module_class(model)} is a torch.jit.script module, which torch.fx cannot trace; "
                         "import the nn.Module before scripting it (scripted submodules are fine)")
    pruned = sorted({n.rsplit(".", 1)[0] or "(model)" for n, _ in model.named_buffers() if n.endswith("_mask")})
    if pruned:
        raise UsageError(f"{', '.join(pruned[:3])} {'is' if len(pruned) == 1 else 'are'} pruned "
                         "(torch.nn.utils.prune masks); cnncalc counts dense tensors — call prune.remove first")
    if not list(model.children()) and type(model).__module__.startswith("torch.nn"):
        return _Bare(snake(type(model).__name__), model)
    return model


if torch is not None:
    class _Bare(nn.Module):  # type: ignore[misc]
        """A bare leaf module given as the model (``nn.Linear(2, 5)``), as the one layer of a model."""

        def __init__(self, name: str, m: Any) -> None:
            super().__init__()
            self.inner = name
            self.add_module(name, m)

        def forward(self, input: Any) -> Any:  # the wrapped modules' own argument name
            return getattr(self, self.inner)(input)


def bound_args(model: Any, n_inputs: int, given: dict[str, Any]) -> dict[str, Any]:
    """Forward arguments after the ``n_inputs`` tensors: as given (``--arg``), else their default.

    UsageError for a required one not given, or for an input more than forward takes.
    """
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if not params:
        raise UsageError(f"{type(model).__name__}.forward takes no input; there is nothing to trace")
    if n_inputs > len(params):
        raise UsageError(f"{n_inputs} inputs given but {type(model).__name__}.forward takes {len(params)}")
    unknown = sorted(set(given) - {p.name for p in params[n_inputs:]})
    if unknown:
        raise UsageError(f"{type(model).__name__}.forward has no argument {unknown[0]!r} after its inputs "
                         f"(it takes: {', '.join(p.name for p in params)})")
    out: dict[str, Any] = {}
    for p in params[n_inputs:]:
        if p.name in given:
            out[p.name] = given[p.name]
        elif p.default is not inspect.Parameter.empty:
            out[p.name] = p.default
        else:
            raise UsageError(f"{type(model).__name__}.forward needs '{p.name}': give it with --input (a tensor) "
                             f"or --arg {p.name}=VALUE")
    return out


def parse_arg(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of ``--arg``: an int or float, true/false, none/null, else the text itself."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise UsageError(f"--arg wants NAME=VALUE, got {text!r}")
    low = raw.strip().lower()
    value: Any = raw
    if low in ("true", "false"):
        value = low == "true"
    elif low in ("none", "null"):
        value = None
    else:
        for conv in (int, float):
            try:
                value = conv(raw)
                break
            except ValueError:
                pass
    return name.strip(), value


def input_names(model: Any, n: int) -> list[str]:
    """The names forward gives its first ``n`` arguments."""
    params = list(inspect.signature(model.forward).parameters)
    return params[:n]


def unused_parameters(model: Any, used_modules: set[str], used_params: set[str]) -> list[dict[str, Any]]:
    """``parameters:`` entries for the tensors no layer row uses, each under the outermost module
    none of whose parts ran (googlenet's ``aux1``), or its own name (a free ``nn.Parameter``);
    the buffers (BatchNorm's running statistics) of modules that never ran go with them."""
    ran = set(used_modules)
    for m in used_modules:  # a module ran if any module inside it did (prefixes of a path)
        parts = m.split(".")
        ran.update(".".join(parts[:k]) for k in range(1, len(parts)))

    def where(name: str) -> str | None:
        """The outermost module on the tensor's path that never ran; None inside one that ran as a layer."""
        parts = name.split(".")
        # inside a module that ran as one layer (nn.MultiheadAttention's out_proj)
        if any(".".join(parts[:k]) in used_modules for k in range(1, len(parts))):
            return None
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            if prefix not in ran:
                return prefix
        return name

    groups: dict[tuple[str, bool], list[int]] = {}
    for name, p in model.named_parameters():
        w = where(name)
        if w is None or name in used_params:
            continue
        groups.setdefault((w, bool(p.requires_grad)), [0, 0])[0] += p.numel()
    for name, b in model.named_buffers():
        w = where(name)
        if w is None or w == name:  # a buffer of a module that ran is its layer's
            continue
        key = next((k for k in groups if k[0] == w), (w, True))
        groups.setdefault(key, [0, 0])[1] += b.numel()
    return [{"name": w, "params": n, **({"buffers": nb} if nb else {}), **({} if t else {"trainable": False})}
            for (w, t), (n, nb) in groups.items()]


def trainable_of(m: Any) -> bool | None:
    """True / False when every parameter of the module agrees, None when they differ."""
    flags = {bool(p.requires_grad) for p in m.parameters()}
    return None if len(flags) > 1 else (flags.pop() if flags else True)


def _pair(v: tuple[int, ...]) -> Any:
    return v[0] if v[0] == v[1] else list(v)


def _pad_fields(pad: Sequence[int], mode: str, value: float = 0.0) -> dict[str, Any]:
    """PyTorch's (left, right, top, bottom) as cnncalc's [top, bottom, left, right]."""
    if len(pad) != 4:
        raise Unsupported(f"padding {list(pad)} (cnncalc pads the two spatial axes: 4 numbers)")
    left, right, top, bottom = (int(p) for p in pad)
    sides = [top, bottom, left, right]
    fields: dict[str, Any] = {"pad": sides[0] if len(set(sides)) == 1 else sides, "mode": mode}
    if mode == "constant" and value == 0:
        fields["mode"] = None  # zeros, the default
    elif mode == "constant":
        fields["value"] = float(value)
    return fields


class ExtraHandlers:
    """Handlers the importer finds by name (``_m_<Module>``, ``_f_<function>``)."""

    # provided by the importer
    shapes: dict[Any, Any]
    live: dict[Any, Any]
    model: Any
    used_params: set[str]

    def emit(self, node: Any, kind: str, fields: dict[str, Any], inputs: Sequence[Any], tag: str) -> None:
        raise NotImplementedError  # pragma: no cover

    def alias(self, node: Any, source: Any) -> None:
        raise NotImplementedError  # pragma: no cover

    def x(self, node: Any) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _softmax(self, node: Any, dim: Any, kind: str = "softmax") -> None:
        raise NotImplementedError  # pragma: no cover

    # -- modules --------------------------------------------------------------------------

    def _m_PReLU(self, node: Any, m: Any) -> None:
        n = m.num_parameters
        self.emit(node, "prelu", {"num_parameters": n if n != 1 else None}, [self.x(node)], "prelu")

    def _m_LogSoftmax(self, node: Any, m: Any) -> None:
        self._softmax(node, m.dim, "log_softmax")

    def _m_ReflectionPad2d(self, node: Any, m: Any) -> None:
        self.emit(node, "pad", _pad_fields(m.padding, "reflect"), [self.x(node)], "pad")

    def _m_ReplicationPad2d(self, node: Any, m: Any) -> None:
        self.emit(node, "pad", _pad_fields(m.padding, "replicate"), [self.x(node)], "pad")

    def _m_ZeroPad2d(self, node: Any, m: Any) -> None:
        self.emit(node, "pad", _pad_fields(m.padding, "constant"), [self.x(node)], "pad")

    def _m_ConstantPad2d(self, node: Any, m: Any) -> None:
        self.emit(node, "pad", _pad_fields(m.padding, "constant", m.value), [self.x(node)], "pad")

    def _m_MaxUnpool2d(self, node: Any, m: Any) -> None:
        s, o = self.shapes[self.x(node)], self.shapes[node]
        k = tuple(m.kernel_size) if isinstance(m.kernel_size, Sequence) else (m.kernel_size,) * 2
        st = tuple(m.stride) if isinstance(m.stride, Sequence) else (m.stride,) * 2
        p = tuple(m.padding) if isinstance(m.padding, Sequence) else (m.padding,) * 2
        default = tuple((n - 1) * a - 2 * b + c for n, a, b, c in zip(s[2:], st, p, k))
        self.emit(node, "max_unpool", {"kernel": _pair(k), "stride": None if st == k else _pair(st),
                                       "pad": _pair(p) if any(p) else None,
                                       "output": None if tuple(o[2:]) == default else _pair(o[2:])},
                  [self.x(node)], "max_unpool")

    #: ``cnncalc torch``'s helper for ``max_unpool`` (indices of its own), read as the module
    _m_MaxUnpool = _m_MaxUnpool2d

    # -- functions and methods ------------------------------------------------------------

    def _f_log_softmax(self, node: Any) -> None:
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        self._softmax(node, dim, "log_softmax")

    def _f_sub(self, node: Any) -> None:
        xs = [a for a in node.args if isinstance(a, fx.Node) and a in self.shapes]
        if len(xs) == 2 and all(x in self.live for x in xs) and self.shapes[xs[0]] == self.shapes[xs[1]] \
                and xs[0] is node.args[0]:
            self.emit(node, "subtract", {}, xs, "sub")
            return
        raise Unsupported("subtracting a constant or a broadcast tensor (only a − b of equal shapes is a layer)")

    def _f_abs(self, node: Any) -> None:
        self.emit(node, "abs", {}, [self.x(node)], "abs")

    def _f_type(self, node: Any) -> None:
        self.alias(node, self.x(node))  # x.type(torch.float), x.float(): a cast, not a layer

    _f_float = _f_type

    def _f_pad(self, node: Any) -> None:
        pad = node.kwargs.get("pad", node.args[1] if len(node.args) > 1 else None)
        mode = node.kwargs.get("mode", node.args[2] if len(node.args) > 2 else "constant")
        value = node.kwargs.get("value", node.args[3] if len(node.args) > 3 else None) or 0.0
        if mode not in ("constant", "reflect", "replicate"):
            raise Unsupported(f"padding mode {mode!r}")
        self.emit(node, "pad", _pad_fields(pad, mode, value), [self.x(node)], "pad")

    def _param(self, node: Any) -> tuple[str, Any] | None:
        """(name, tensor) when ``node`` reads a parameter of the model (``self.w``)."""
        if not isinstance(node, fx.Node) or node.op != "get_attr":
            return None
        try:
            return str(node.target), self.model.get_parameter(node.target)
        except AttributeError:
            return None

    def param_op(self, node: Any, kind: str, fields: dict[str, Any], src: Any, param: tuple[str, Any]) -> None:
        """A layer that uses a free parameter: named after it; a second use shares its weights."""
        name, _ = param
        self.emit_param(node, kind, fields, src, name)

    def emit_param(self, node: Any, kind: str, fields: dict[str, Any], src: Any, name: str) -> None:
        raise NotImplementedError  # pragma: no cover

    def _f_mm(self, node: Any) -> None:
        a, b = node.args[0], node.args[1]
        p = self._param(b)
        if p is None or a not in self.live or len(self.shapes[a]) != 2 or p[1].dim() != 2:
            raise Unsupported("a matrix product of two feature maps, or not N × F by a parameter")
        if p[1].shape[0] != self.shapes[a][1]:
            raise Unsupported(f"x @ w with w of {list(p[1].shape)} for {self.shapes[a][1]} features")
        self.param_op(node, "param_matmul", {"units": int(p[1].shape[1])}, a, p)

    _f_matmul = _f_mm

    def param_elementwise(self, node: Any, kind: str) -> bool:
        """x + p or x * p with a parameter p: the param_add / param_mul layer; False otherwise."""
        args = [a for a in node.args if isinstance(a, fx.Node)]
        live = [a for a in args if a in self.live]
        params = [p for a in args if (p := self._param(a)) is not None]
        if len(live) != 1 or len(params) != 1 or len(args) != 2:
            return False
        shape = [int(d) for d in params[0][1].shape]
        while len(shape) > 1 and shape[0] == 1:
            shape = shape[1:]
        self.param_op(node, kind, {"shape": shape}, live[0], params[0])
        return True

    def constant_scale(self, node: Any, divide: bool = False) -> bool:
        """x * a, a * x or x / a with a Python number a: the constant_scale layer; False otherwise."""
        args = list(node.args)
        if len(args) != 2:
            return False
        live = [a for a in args if isinstance(a, fx.Node) and a in self.live]
        nums = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        if len(live) != 1 or len(nums) != 1 or (divide and args[1] is not nums[0]):
            return False
        factor = 1 / nums[0] if divide else nums[0]
        self.emit(node, "constant_scale", {"factor": float(factor)}, live, "div" if divide else "mul")
        return True

    def _f_truediv(self, node: Any) -> None:
        if not self.constant_scale(node, divide=True):
            raise Unsupported("dividing by a tensor (only x / number is a layer)")

    def batch_cat(self, node: Any, xs: list[Any]) -> bool:
        """torch.cat over dim 0 of equal tensors traced at batch 1: the batch grows n-fold, which per
        sample of the given batch is n rows: the batch_concat layer, shape (n, *shape)."""
        shapes = {self.shapes[x] for x in xs}
        if len(shapes) != 1 or next(iter(shapes))[0] != 1 or any(x not in self.live for x in xs):
            return False
        self.emit(node, "batch_concat", {}, xs, "cat")
        return True


def register_functions(table: dict[Any, str], methods: dict[str, str]) -> None:
    """The functions and Tensor methods the handlers above take, by their handler names."""
    if torch is None:  # pragma: no cover
        return
    table.update({
        F.log_softmax: "log_softmax", torch.log_softmax: "log_softmax", operator.sub: "sub", torch.sub: "sub",
        torch.abs: "abs", operator.abs: "abs", F.pad: "pad", torch.mm: "mm", torch.matmul: "matmul",
        operator.matmul: "matmul", operator.truediv: "truediv", torch.div: "truediv",
    })
    methods.update({"__sub__": "sub", "abs_": "abs", "__abs__": "abs", "__matmul__": "matmul", "__truediv__": "truediv",
                    "div": "truediv"})


__all__ = ["ExtraHandlers", "Unsupported", "bound_args", "input_names", "is_script", "module_class",
           "prepare", "register_functions", "snake", "trainable_of", "unused_parameters"]
