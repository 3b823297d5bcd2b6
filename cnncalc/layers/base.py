"""The layer interface, the kind registry and the shared window arithmetic."""

from __future__ import annotations

import functools
import importlib
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .. import symbolic as _symbolic
from ..compat import StrEnum
from ..errors import CnncalcError, LayerShapeError

Shape = tuple[int, ...]
#: Receptive-field arithmetic stays in ints (fast) until a deconv or resize makes it fractional.
Num = int | Fraction
Shapes = Sequence[Shape]


class Family(StrEnum):
    """Groups of layer kinds, for the share-of-params/MACs summary."""

    CONV = "conv"
    FC = "fc"
    POOL = "pool"
    NORM = "norm"
    ACTIVATION = "activation"
    MERGE = "merge"
    RESHAPE = "reshape"
    OTHER = "other"


@dataclass(frozen=True)
class Params:
    """Learnable parameters of one layer, weights and bias apart."""

    weights: int = 0
    bias: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.bias


@dataclass(frozen=True)
class RF:
    """Receptive field size and jump (cumulative stride) per spatial axis (h, w), in input pixels.

    Defined along spatial paths, as in Araujo et al., "Computing receptive fields of convolutional
    neural networks" (Distill, 2019): r' = r + D·(K − 1)·j and j' = j·S through each window, and at a
    join the widest field and the coarsest jump of the spatial inputs. A global reduction (global
    pooling, flatten, an fc over a map, an SE gate) does not widen the field: it sets
    ``global_context``, which says that the output also depends on the whole input through such a
    path, and a join ignores its global-context inputs while any input is still purely spatial.
    """

    size: tuple[Num, Num] = (1, 1)
    jump: tuple[Num, Num] = (1, 1)
    global_context: bool = False

    @staticmethod
    def merge(rfs: Sequence[RF]) -> RF:
        """Inputs joined by concat/add/multiply: the widest field and the coarsest jump of the
        spatial inputs (those without global context, when there are any); global context if any
        input has it (a squeeze-excitation gate multiplied onto its map keeps the map's field)."""
        if len(rfs) == 1:
            return rfs[0]
        spatial = [r for r in rfs if not r.global_context] or list(rfs)
        return RF(
            (vmax(*(r.size[0] for r in spatial)), vmax(*(r.size[1] for r in spatial))),
            (vmax(*(r.jump[0] for r in spatial)), vmax(*(r.jump[1] for r in spatial))),
            any(r.global_context for r in rfs),
        )

    def window(self, kernel: tuple[int, int], stride: tuple[int, int],
               dilation: tuple[int, int] = (1, 1)) -> RF:
        """r' = r + D·(K − 1)·j ;  j' = j·S  (per axis)."""
        return RF(
            tuple(r + d * (k - 1) * j for r, k, d, j in zip(self.size, kernel, dilation, self.jump)),  # type: ignore[arg-type]
            tuple(j * s for j, s in zip(self.jump, stride)),  # type: ignore[arg-type]
            self.global_context,
        )

    def taps(self, span: tuple[int, int], scale: tuple[Num, Num]) -> RF:
        """An output pixel that reads ``span`` adjacent input pixels per axis, on an output grid
        ``scale`` times as fine: r' = r + (span − 1)·j ;  j' = j / scale."""
        return RF(
            tuple(r + (n - 1) * j for r, n, j in zip(self.size, span, self.jump)),  # type: ignore[arg-type]
            tuple(exact_div(j, s) for j, s in zip(self.jump, scale)),  # type: ignore[arg-type]
            self.global_context,
        )

    def reduced(self) -> RF:
        """After a global reduction: the field as it was, now with global context."""
        return RF(self.size, self.jump, True)


def exact_div(a: Num, b: Num) -> Num:
    """a / b exactly: an int where it divides, else a Fraction (never a float)."""
    if not isinstance(a, int | Fraction) or not isinstance(b, int | Fraction):
        return a / b  # symbolic sizes: sympy divides exactly
    q = Fraction(a) / Fraction(b)
    return q.numerator if q.denominator == 1 else q


@dataclass(frozen=True)
class Formula:
    """One formula of a layer with its numbers plugged in, e.g. W' = (227 − 11 + 2·0)/4 + 1 = 55."""

    quantity: str
    symbolic: str
    numeric: str
    value: str

    def __str__(self) -> str:
        return " = ".join([self.quantity, *self.steps])

    @property
    def steps(self) -> list[str]:
        """Symbolic, numeric and value, a step left out where it repeats the one before ("units = 4096")."""
        out: list[str] = []
        for part in (self.symbolic, self.numeric, self.value):
            if out and part.startswith(out[-1] + " ("):
                out[-1] = part  # "355" then "355 (jump 192)"
            elif part and (not out or part.replace(",", "") != out[-1].replace(",", "")):
                out.append(part)
        return out


@dataclass(frozen=True)
class TorchCall:
    """One PyTorch call a layer stands for, as the counting tools see it (``--convention``).

    ``module`` is the ``torch.nn`` class name (``Conv2d``) or, for what PyTorch code writes as an
    operator or function, its name in lower case (``add`` for ``a + b``, ``cat``). ``weight`` is the
    weight tensor's shape as PyTorch stores it (``()``: none), ``bias`` the bias elements (0: none),
    ``mode`` an interpolation mode, ``window`` LocalResponseNorm's size, ``heads`` attention
    heads. A matrix product (``matmul``, ``einsum``, ``__matmul__`` for ``a @ b``) has its two
    operands as ``ins``: numel(ins[0]) × ins[1][-1] multiply-adds. Shapes are per sample,
    without the batch dimension. ``functional``: the code calls the module's function instead
    (``F.relu(x)`` for ``ReLU``; a spec's ``functional: true``), which module hooks do not see.
    """

    module: str
    ins: tuple[Shape, ...]
    out: Shape
    weight: Shape = ()
    bias: int = 0
    mode: str = ""
    window: int = 0
    functional: bool = False
    heads: int = 0
    #: Runs once per forward whatever the batch (on a parameter table: Swin V2's bias MLP).
    once: bool = False

    @property
    def is_module(self) -> bool:
        """An nn.Module call (what torchinfo, ptflops and thop hook), not an operator or function."""
        return self.module[:1].isupper() and not self.functional


class NoTorchCode(CnncalcError):
    """A layer that ``cnncalc torch`` cannot write as PyTorch code (its kind, or this configuration)."""


#: A keyword argument's default that is never left out (always written).
ALWAYS: Any = ...


@dataclass(frozen=True)
class TorchCode:
    """How a layer is written in generated PyTorch code (``cnncalc torch``, cnncalc.codegen).

    ``call`` is the forward expression, a ``str.format`` template: ``{m}`` is the layer's module
    (``self.conv1``), ``{0}``, ``{1}``… its inputs, ``{all}`` all inputs joined by ", ".
    ``module`` is the nn.Module built in ``__init__`` (``nn.Conv2d``; empty for a layer applied as
    a function), called with ``args`` and ``kwargs`` — (name, value, PyTorch's default) each, the
    value left out where it equals the default (``ALWAYS``: never). ``helper`` is source code the
    call needs (a small class or function using only torch), written once at the top of the file.
    """

    call: str = "{m}({0})"
    module: str = ""
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any, Any], ...] = ()
    helper: str = ""


def tpair(p: tuple[int, ...]) -> int | tuple[int, ...]:
    """A square pair as one int (PyTorch accepts both), else the tuple: (3, 3) → 3, (1, 7) → (1, 7)."""
    return p[0] if len(set(p)) == 1 else tuple(p)


@dataclass(frozen=True)
class Hyper:
    """The hyper-parameters shown in the seed-style table (empty string when not applicable)."""

    filters: str = ""
    kernel: str = ""
    stride: str = ""
    pad: str = ""


#: Element type of a tensor in the cost models' terms: ``float`` is the context's floating type
#: (the activation dtype for activations, the parameter dtype for parameters and buffers).
ElemKind = Literal["float", "fp32", "int64", "bool"]


@dataclass(frozen=True)
class Saved:
    """A tensor that PyTorch eager autograd keeps from a layer's forward for its backward.

    ``source`` says which tensor: ``input`` (the layer's input number ``index``), ``output``, or
    ``new``, a tensor the forward allocates besides its output (max-pool indices, a dropout mask,
    BatchNorm's saved mean) of ``numel`` elements of ``elem`` type, per sample when
    ``per_sample`` (scaled by the batch), else in total. Parameters are never listed: they are
    alive anyway.
    """

    source: Literal["input", "output", "new"]
    index: int = 0
    numel: int = 0
    elem: ElemKind = "float"
    per_sample: bool = True


class KernelClass(StrEnum):
    """Efficiency classes of device kernels; device files rate each one (cnncalc.cost)."""

    CONV = "conv"                  # dense convolution (implicit GEMM on tensor cores)
    CONV_GROUPED = "conv_grouped"  # grouped / depthwise convolution
    MATMUL = "matmul"              # fully connected (GEMM)
    ELEMENTWISE = "elementwise"    # activations, adds, bias adds, dropout
    NORM = "norm"                  # batch / layer / response normalisation
    POOL = "pool"                  # windowed pooling
    REDUCE = "reduce"              # global pooling and other reductions
    COPY = "copy"                  # concat, shuffles: data movement only


@dataclass(frozen=True)
class Kernel:
    """One device kernel that a layer's forward runs in PyTorch eager mode, for time models.

    Counts are per sample except ``weights``: ``macs`` multiply-accumulates, ``reads`` and
    ``writes`` activation elements (of the activation dtype), ``extra_bytes`` other traffic
    (int64 indices, bool masks), ``weights`` parameter elements read once per batch.
    ``channels`` is the reduction depth per tap (C_in / groups of a convolution, the inputs of
    a GEMM), which tensor cores consume in fixed-size chunks; ``window`` the taps (K_h·K_w).
    """

    cls: KernelClass
    macs: int = 0
    reads: int = 0
    writes: int = 0
    weights: int = 0
    extra_bytes: int = 0
    channels: int = 0
    window: int = 1


def _fused_activation(layer: Layer) -> Layer | None:
    """The activation a conv / fc applies in place after its output (PyTorch's inplace=True)."""
    act = layer.__dict__.get("activation")  # (getattr on a kind without the field is slow in pydantic)
    return _inplace_activation(act) if isinstance(act, str) else None


@functools.cache
def _inplace_activation(act: str) -> Layer | None:
    """The activation kind ``act`` as a layer run in place (one frozen value per kind)."""
    cls = layer_class(act)
    if cls is None:
        return None
    return cls.model_validate({"inplace": True}) if "inplace" in cls.model_fields else cls()


class Layer(BaseModel):
    """Base of every layer kind: a frozen model that owns its formulas.

    Counting conventions (per sample; the analysis scales by batch):
    - ``macs``: every multiply-accumulate of conv, deconv, fc and matmul (attention's QKᵀ and
      AV products included), bias excluded; FlopCounterMode / 2.
    - ``ops``: all other arithmetic, one op per elementary operation as each kind documents.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, defer_build=True)

    kind: ClassVar[str] = ""
    family: ClassVar[Family] = Family.OTHER
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    def output_shape(self, ins: Shapes) -> Shape:
        """Shape of the output (without batch) for these input shapes."""
        return ins[0]

    def params(self, ins: Shapes) -> Params:
        """Learnable parameters (0 unless the kind has some)."""
        return Params()

    def buffers(self, ins: Shapes) -> int:
        """Non-trainable state kept with the model (e.g. BatchNorm running statistics)."""
        return 0

    def macs(self, ins: Shapes, out: Shape) -> int:
        """Multiply-accumulates per sample (conv, deconv, fc and matmul only)."""
        return 0

    def ops(self, ins: Shapes, out: Shape) -> int:
        """Other arithmetic per sample, as documented by each kind."""
        return 0

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        """Receptive field after this layer; pointwise kinds leave it unchanged."""
        return rf

    def warnings(self, ins: Shapes) -> list[str]:
        """Non-fatal remarks, e.g. a window that does not tile its input exactly."""
        return []

    def hyper(self) -> Hyper:
        """Hyper-parameters for the seed-style columns."""
        return Hyper()

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        """Every formula of this layer with numbers plugged in (kind-specific ones)."""
        return []

    #: The torch.nn class this kind is in PyTorch code (or the operator's name, lower case, for
    #: kinds without a module, e.g. ``add``); ``--convention`` counts by it as the tools do.
    torch_module: ClassVar[str] = ""

    def torch_weight(self, ins: Shapes) -> Shape:
        """Shape of the weight tensor as PyTorch stores it; () for kinds without one."""
        return ()

    def torch_calls(self, ins: Shapes, out: Shape) -> tuple[TorchCall, ...]:
        """The PyTorch calls this layer stands for: its module, then a fused ``activation``'s.

        A fused activation is a module of its own in PyTorch, so tools count it apart.
        """
        mode = getattr(self, "mode", "")
        call = TorchCall(self.torch_module, tuple(ins), out, self.torch_weight(ins), self.params(ins).bias,
                         mode if isinstance(mode, str) else "")
        act = getattr(self, "activation", None)
        cls = layer_class(act) if isinstance(act, str) else None
        return (call, TorchCall(cls.torch_module, (out,), out)) if cls else (call,)

    # -- what PyTorch eager does at run time, for the cost models (cnncalc.cost) --------------

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        """How the forward produces its output: a new tensor, input 0 modified in place, or a
        view sharing input 0's storage."""
        return "new"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Tensors autograd keeps for this layer's backward (training); default: every input,
        which is what most operators' derivative formulas read."""
        return tuple(Saved("input", i) for i in range(len(ins)))

    def inference_scratch(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Temporaries (``new``) the forward allocates beside its output and drops at once when
        no gradient is wanted (max-pool indices on CUDA)."""
        return ()

    def grad_passthrough(self) -> bool:
        """Whether the backward hands the output's gradient to the inputs unchanged (add, views),
        allocating nothing."""
        return self.output_storage(True) == "view"

    def param_tensors(self, ins: Shapes) -> tuple[int, ...]:
        """Element counts of the separate trainable tensors (weight, bias), as PyTorch allocates them."""
        p = self.params(ins)
        return tuple(n for n in (p.weights, p.bias) if n)

    def buffer_tensors(self, ins: Shapes) -> tuple[tuple[int, ElemKind], ...]:
        """Non-trainable tensors kept with the model: (elements, element type) each."""
        n = self.buffers(ins)
        return ((n, "float"),) if n else ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """The device kernels of the forward (without a fused activation's); default: one
        element-wise pass reading the inputs and writing the output, none for a view."""
        if self.output_storage(train) == "view":
            return ()
        return (Kernel(KernelClass.ELEMENTWISE, reads=sum(numel(s) for s in ins), writes=numel(out)),)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """This layer as PyTorch code (cnncalc.codegen); every kind that PyTorch can run overrides it."""
        raise NoTorchCode(f"cnncalc cannot write layer kind '{self.kind}' as PyTorch code yet")

    def fused_activation(self) -> Layer | None:
        """The activation fused into this row (conv/fc ``activation:``), run in place after it."""
        return _fused_activation(self)


# ----------------------------------------------------------------------------- registry

class RegistrationError(CnncalcError):
    """A layer kind or alias registered twice."""


_DECORATOR = re.compile(r"^@register_layer\(([^)]*)\)", re.MULTILINE)
_QUOTED = re.compile(r"\"([^\"]+)\"|'([^']+)'")


@functools.cache
def _kind_modules() -> dict[str, str]:
    """Which module of cnncalc.layers registers each kind and alias, read from the modules' source
    (their ``@register_layer("kind", "alias", …)`` lines) without importing them."""
    index: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        for m in _DECORATOR.finditer(path.read_text(encoding="utf-8")):
            for q in _QUOTED.finditer(m[1]):
                index.setdefault(q[1] or q[2], f"{__package__}.{path.stem}")
    return index


V = TypeVar("V")


class _Registry(dict[str, V]):
    """The registry of kinds (or aliases), filled as the layer modules are imported, and importing
    them on demand: looking up a kind imports the module that defines it (a spec of convolutions
    never imports the attention kinds); iterating, counting or listing imports every module.
    A start-up cost paid only for the kinds a command uses."""

    def _load(self, name: object) -> bool:
        module = _kind_modules().get(name) if isinstance(name, str) else None
        if module is None or module in sys.modules:
            return False
        importlib.import_module(module)
        return True

    def _load_all(self) -> None:
        for module in sorted(set(_kind_modules().values())):
            if module not in sys.modules:
                importlib.import_module(module)

    def __getitem__(self, name: str) -> V:
        if not dict.__contains__(self, name):
            self._load(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        if not dict.__contains__(self, name) and self._load(name):
            return dict.get(self, name, default)
        return dict.get(self, name, default)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or (self._load(name) and dict.__contains__(self, name))

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load_all()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._load_all()
        return dict.keys(self)

    def values(self) -> Any:
        self._load_all()
        return dict.values(self)

    def items(self) -> Any:
        self._load_all()
        return dict.items(self)


LAYER_TYPES: dict[str, type[Layer]] = _Registry()
ALIASES: dict[str, str] = _Registry()

L = TypeVar("L", bound=type[Layer])


def register_layer(kind: str, *aliases: str) -> Callable[[L], L]:
    """Class decorator: make ``cls`` the layer kind ``kind`` (and its aliases) in specs."""

    def deco(cls: L) -> L:
        for name in (kind, *aliases):
            # taken: registered already, or declared by another module not imported yet
            declared = _kind_modules().get(name, cls.__module__)
            if dict.__contains__(LAYER_TYPES, name) or dict.__contains__(ALIASES, name) or \
                    declared != cls.__module__:
                raise RegistrationError(f"layer type '{name}' is registered twice")
        cls.kind = kind
        dict.__setitem__(LAYER_TYPES, kind, cast("type[Layer]", cls))
        for a in aliases:
            dict.__setitem__(ALIASES, a, kind)
        return cls

    return deco


_FOUND: dict[str, type[Layer]] = {}  # names already looked up (a spec names the same kinds again and again)


def layer_class(name: str) -> type[Layer] | None:
    """The class for a type name or alias as written in a spec."""
    cls = _FOUND.get(name)
    if cls is not None and dict.get(LAYER_TYPES, cls.kind) is cls:  # (still registered)
        return cls
    cls = LAYER_TYPES.get(ALIASES.get(name, name))
    if cls is not None:
        _FOUND[name] = cls
    return cls


# ----------------------------------------------------------------------------- field types

def _pair(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, list | tuple) and len(v) == 1:
        return (v[0], v[0])
    return v


PosInt = Annotated[int, Field(gt=0, strict=True)]
NonNegInt = Annotated[int, Field(ge=0, strict=True)]
#: An int or [h, w]; kept as (h, w).
Pair = Annotated[tuple[PosInt, PosInt], BeforeValidator(_pair)]
NonNegPair = Annotated[tuple[NonNegInt, NonNegInt], BeforeValidator(_pair)]
#: pad: an int, [ph, pw], [top, bottom, left, right], "same" or "valid".
PadSpec = Literal["same", "valid"] | NonNegInt | Annotated[
    tuple[NonNegInt, ...], Field(min_length=2, max_length=4)
]

Activation = Literal["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu",
                     "hardswish", "hardsigmoid"]


# ----------------------------------------------------------------------------- shapes

def spatial(shape: Shape, what: str) -> tuple[int, int, int]:
    """(C, H, W) of a feature map, or a clear error for a flat vector."""
    if len(shape) != 3:
        raise LayerShapeError(
            f"{what} needs a C×H×W feature map, got {fmt_shape(shape)}"
        )
    return shape[0], shape[1], shape[2]


def numel(shape: Shape) -> int:
    """Number of elements of a shape."""
    return math.prod(shape)


# Sizes are ints; under ``--symbolic`` they may be sympy expressions (cnncalc.symbolic). Plain
# operators work on both; the few operations below cannot, so they take the int path first
# and hand anything else to cnncalc.symbolic.

def floor_div(a: int, b: int) -> int:
    """⌊a / b⌋; on symbolic sizes the exact quotient unless provably fractional (see symbolic.floor_div)."""
    if type(a) is int and type(b) is int:
        return a // b
    return _symbolic.floor_div(a, b)  # type: ignore[no-any-return]


def ceil_div(a: int, b: int) -> int:
    """⌈a / b⌉; on symbolic sizes as floor_div."""
    if type(a) is int and type(b) is int:
        return -(-a // b)
    return _symbolic.ceil_div(a, b)  # type: ignore[no-any-return]


def divisible(a: int, b: int) -> bool | None:
    """Whether b divides a; None when symbolic sizes leave it open."""
    if type(a) is int and type(b) is int:
        return a % b == 0
    return _symbolic.divisible(a, b)


def certain(cond: object) -> bool:
    """Whether a comparison surely holds; a symbolic one that sympy cannot decide does not."""
    try:
        return bool(cond)
    except TypeError:  # sympy: "cannot determine truth value of Relational"
        return False


def vmax(*xs: Any) -> Any:
    """max() that also takes symbolic sizes (sympy's Max where the order is open)."""
    try:
        return max(xs)
    except TypeError:  # an undecidable symbolic comparison
        return _symbolic.maximum(xs)


def fmt_shape(shape: Shape) -> str:
    """96×55×55 style."""
    return "×".join(str(s) for s in shape)


def fmt_pair(p: tuple[int, ...]) -> str:
    """3 for (3, 3), 1×7 for (1, 7)."""
    return str(p[0]) if len(set(p)) == 1 else "×".join(str(x) for x in p)


def resolve_pad(pad: PadSpec, size: tuple[int, int], kernel: tuple[int, int],
                stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Padding per axis as (before, after).

    ``same`` follows TensorFlow: output = ceil(H / S), total padding
    max((H'−1)·S + D·(K−1) + 1 − H, 0), the odd pixel going after.
    """
    if pad == "valid":
        return (0, 0), (0, 0)
    if pad == "same":
        out: list[tuple[int, int]] = []
        for h, k, s, d in zip(size, kernel, stride, dilation):
            total = vmax((ceil_div(h, s) - 1) * s + d * (k - 1) + 1 - h, 0)
            out.append((floor_div(total, 2), total - floor_div(total, 2)))
        return out[0], out[1]
    if isinstance(pad, int):
        return (pad, pad), (pad, pad)
    if len(pad) == 2:
        return (pad[0], pad[0]), (pad[1], pad[1])
    if len(pad) == 4:
        return (pad[0], pad[1]), (pad[2], pad[3])
    raise LayerShapeError("pad must be an int, [ph, pw], [top, bottom, left, right], 'same' or 'valid'")


def fmt_pad(pad: PadSpec) -> str:
    """Pad as written, compact."""
    if isinstance(pad, str | int):
        return str(pad)
    return fmt_pair(pad)


@dataclass(frozen=True)
class WindowOut:
    """Result of the sliding-window size formula on one axis.

    ``dropped`` counts input pixels (not padding) that no window covers: the floor in
    ⌊(H + 2P − K)/S⌋ + 1 threw them away.
    """

    size: int
    exact: bool
    dropped: int
    formula: str
    numbers: str
    #: Symbolic sizes only: whether the division was assumed exact (sympy could not tell).
    assumed: bool = False
    #: The division num / stride + 1 before rounding, num = H + P_before + P_after − D·(K − 1) − 1.
    num: int = 0
    stride: int = 1

    @property
    def value(self) -> Fraction:
        """The unrounded size num / S + 1 (exact; a sympy expression on symbolic sizes)."""
        if type(self.num) is int and type(self.stride) is int:
            return Fraction(self.num, self.stride) + 1
        return _symbolic.quotient(self.num, self.stride) + 1  # type: ignore[no-any-return]

    def warning(self) -> str | None:
        """The remark for a window that leaves input pixels unused (or is assumed not to), or None."""
        if self.assumed:
            return (f"{self.numbers} = {self.value} is taken as whole (the windows assumed to tile "
                    "the input); write the size as a multiple, e.g. 2*H, to avoid the assumption")
        if not self.dropped:
            return None
        value = f"{float(self.value):g}" if isinstance(self.value, Fraction) else str(self.value)
        return (f"{self.numbers} = {value} is not whole; rounded to {self.size}, "
                f"so the last {self.dropped} input row(s)/column(s) are never used")


def window_out(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int = 1,
               ceil_mode: bool = False, what: str = "window") -> WindowOut:
    """Output size of a sliding window (conv or pool) on one axis.

    H' = ⌊(H + P_before + P_after − D·(K − 1) − 1) / S⌋ + 1, which for symmetric padding P and
    D = 1 is the seeds' (H − K + 2P)/S + 1. With ``ceil_mode`` the division rounds up, except
    that a last window starting inside the trailing padding is dropped (PyTorch's rule).
    """
    eff = dilation * (kernel - 1) + 1
    num = size + pad[0] + pad[1] - eff
    if certain(num < 0):
        raise LayerShapeError(
            f"{what} {eff} is larger than the padded input {size + pad[0] + pad[1]}"
        )
    out = (ceil_div(num, stride) if ceil_mode else floor_div(num, stride)) + 1
    if ceil_mode and certain((out - 1) * stride >= size + pad[0]):
        out -= 1
    # a strided 1×1 (kernel < stride) skips pixels by design: only a border loss is remarked
    dropped = vmax(0, pad[0] + size - ((out - 1) * stride + eff)) if certain(eff >= stride) else 0
    k = f"{dilation}·({kernel} − 1) − 1" if dilation != 1 else f"{kernel}"
    if pad[0] == pad[1]:
        numbers = f"({size} − {k} + 2·{pad[0]})/{stride} + 1" if dilation == 1 else \
            f"({size} + 2·{pad[0]} − {k})/{stride} + 1"
    else:
        numbers = f"({size} − {k} + {pad[0]} + {pad[1]})/{stride} + 1"
    formula = "(W − K + 2P)/S + 1" if dilation == 1 else "(W + 2P − D·(K − 1) − 1)/S + 1"
    tiles = divisible(num, stride)
    return WindowOut(out, tiles is True, dropped, formula, numbers, tiles is None, num, stride)
