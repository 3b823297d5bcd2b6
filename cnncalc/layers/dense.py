"""Fully-connected (dense / linear) layers."""

from __future__ import annotations

from ..errors import LayerShapeError
from .base import (
    Activation,
    Family,
    Formula,
    Hyper,
    Kernel,
    KernelClass,
    Layer,
    Params,
    PosInt,
    Shape,
    Shapes,
    TorchCode,
    fmt_shape,
    numel,
    register_layer,
)


@register_layer("fc", "linear", "dense", "fully_connected")
class FC(Layer):
    """Fully-connected layer on a flat vector (or a C×1×1 map, as after global pooling).

    - Output: ``units``.
    - Params: weights C_in·C_out, bias C_out (seed: fc6 = 9216×4096 + 4096 = 37,752,832).
    - MACs: C_in·C_out (seed: fc6 = 9216×4096 = 37,748,736).
    - Ops: one add per output for the bias, one per output for a fused activation.
    """

    family = Family.FC
    units: PosInt
    bias: bool = True
    activation: Activation | None = None

    def output_shape(self, ins: Shapes) -> Shape:
        shape = ins[0]
        if len(shape) != 1 and any(s != 1 for s in shape[1:]):
            raise LayerShapeError(
                f"fc needs a flat input, got {fmt_shape(shape)}; add '- type: flatten' before it"
            )
        return (self.units,)

    def params(self, ins: Shapes) -> Params:
        return Params(numel(ins[0]) * self.units, self.units if self.bias else 0)

    def macs(self, ins: Shapes, out: Shape) -> int:
        return numel(ins[0]) * self.units

    def ops(self, ins: Shapes, out: Shape) -> int:
        return self.units * (int(self.bias) + int(self.activation is not None))

    def hyper(self) -> Hyper:
        return Hyper(str(self.units), "", "", "")

    torch_module = "Linear"

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """One GEMM (cuBLASLt adds the bias in its epilogue)."""
        c = numel(ins[0])
        return (Kernel(KernelClass.MATMUL, self.macs(ins, out), c, self.units, self.params(ins).weights, channels=c),)

    def torch_weight(self, ins: Shapes) -> Shape:
        """(C_out, C_in), as nn.Linear stores it."""
        return (self.units, numel(ins[0]))

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Linear; a C×1×1 input is flattened first (nn.Linear works on the last axis)."""
        return TorchCode("{m}({0})" if len(ins[0]) == 1 else "{m}({0}.flatten(1))", "nn.Linear",
                         (numel(ins[0]), self.units), (("bias", self.bias, True),))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c = numel(ins[0])
        bias = f" + {self.units}" if self.bias else ""
        return [
            Formula("Output", "units", str(self.units), str(self.units)),
            Formula("Params", "C_in × C_out" + (" + C_out" if self.bias else ""),
                    f"{c} × {self.units}{bias}", f"{self.params(ins).total:,}"),
            Formula("MACs", "C_in × C_out", f"{c} × {self.units}", f"{self.macs(ins, out):,}"),
        ]
