"""Element-wise activations and softmax."""

from __future__ import annotations

from typing import ClassVar, Literal

from .base import Family, Formula, Layer, Saved, Shape, Shapes, TorchCode, fmt_shape, numel, register_layer


class _Elementwise(Layer):
    """An element-wise nonlinearity: output shape = input shape, no params.

    - Ops: 1 per element (one evaluation of the function; the arithmetic inside exp or erf is
      not broken down).
    """

    family = Family.ACTIVATION
    inplace: bool = False
    #: What PyTorch's derivative formula reads: the result (relu, sigmoid, tanh) or the input.
    saves: ClassVar[Literal["input", "output"]] = "input"
    #: Whether the in-place variant's backward reads the result instead (leaky_relu_, whose
    #: backward has ``self_is_result``); otherwise in place keeps a clone of the input.
    inplace_saves_output: ClassVar[bool] = False

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "inplace" if self.inplace else "new"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The result or the input, as the derivative needs; an in-place op whose derivative
        needs the input keeps a copy of it (autograd's original_self clone)."""
        if self.saves == "output" or (self.inplace and self.inplace_saves_output):
            return (Saved("output"),)
        return (Saved("new", numel=numel(out)),) if self.inplace else (Saved("input"),)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out)

    #: Whether the nn module takes ``inplace`` (nn.Sigmoid, nn.Tanh and nn.GELU do not).
    torch_inplace: ClassVar[bool] = True

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """The nn module of the same name, with this kind's own fields (negative_slope,
        approximate) and ``inplace`` where the module takes it."""
        own = tuple((k, getattr(self, k), f.default) for k, f in type(self).model_fields.items() if k != "inplace")
        inplace = (("inplace", self.inplace, False),) if self.torch_inplace else ()
        return TorchCode("{m}({0})", f"nn.{self.torch_module}", (), own + inplace)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "input shape (element-wise)", fmt_shape(ins[0]), fmt_shape(out)),
                Formula("Ops", "elements × 1", f"{numel(out):,} × 1", f"{self.ops(ins, out):,}")]


@register_layer("relu")
class ReLU(_Elementwise):
    """max(0, x). 1 op per element."""

    torch_module = "ReLU"
    saves = "output"


@register_layer("relu6")
class ReLU6(_Elementwise):
    """min(max(0, x), 6). 1 op per element."""

    torch_module = "ReLU6"
    # relu6_ is hardtanh_, whose backward reads the original input: autograd keeps a clone


@register_layer("leaky_relu", "leakyrelu", "lrelu")
class LeakyReLU(_Elementwise):
    """max(αx, x). 1 op per element."""

    torch_module = "LeakyReLU"
    inplace_saves_output = True

    negative_slope: float = 0.01


@register_layer("sigmoid")
class Sigmoid(_Elementwise):
    """1 / (1 + e^−x). 1 op per element."""

    torch_module = "Sigmoid"
    saves = "output"
    torch_inplace = False


@register_layer("tanh")
class Tanh(_Elementwise):
    """tanh(x). 1 op per element."""

    torch_module = "Tanh"
    saves = "output"
    torch_inplace = False


@register_layer("gelu")
class GELU(_Elementwise):
    """x·Φ(x). 1 op per element."""

    torch_module = "GELU"
    torch_inplace = False

    approximate: Literal["none", "tanh"] = "none"


@register_layer("silu", "swish")
class SiLU(_Elementwise):
    """x·σ(x). 1 op per element."""

    torch_module = "SiLU"


@register_layer("hardswish", "hard_swish", "hswish")
class Hardswish(_Elementwise):
    """x·ReLU6(x + 3)/6. 1 op per element."""

    torch_module = "Hardswish"


@register_layer("hardsigmoid", "hard_sigmoid", "hsigmoid")
class Hardsigmoid(_Elementwise):
    """ReLU6(x + 3)/6. 1 op per element."""

    torch_module = "Hardsigmoid"


@register_layer("softmax")
class Softmax(Layer):
    """Softmax over the channel (or feature) axis.

    - Ops: 3 per element — exponent, sum, divide.
    """

    family = Family.ACTIVATION
    torch_module = "Softmax"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return (Saved("output"),)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Softmax over the channel / feature axis."""
        return TorchCode("{m}({0})", "nn.Softmax", (), (("dim", 1, ...),))

    def ops(self, ins: Shapes, out: Shape) -> int:
        return 3 * numel(out)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "input shape", fmt_shape(ins[0]), fmt_shape(out)),
                Formula("Ops", "elements × 3 (exponent, sum, divide)", f"{numel(out):,} × 3",
                        f"{self.ops(ins, out):,}")]
