"""Fully-connected (dense / linear) layers."""

from __future__ import annotations

from typing import Literal

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
    """Fully-connected layer on a flat vector (or a C×1×1 map, as after global pooling), or per token.

    ``over: all`` (the default for anything but a sequence) takes the whole input as one vector of
    C_in features. ``over: last`` (the default for a sequence [L, C_in]) applies the same layer to
    every position of the last dimension, as ``nn.Linear`` does: [..., C_in] → [..., C_out], with
    P = the positions (the product of the other dimensions; 1 for a flat vector).

    - Output: ``units`` (P positions of ``units`` with ``over: last``).
    - Params: weights C_in·C_out, bias C_out (seed: fc6 = 9216×4096 + 4096 = 37,752,832).
    - MACs: P·C_in·C_out (seed: fc6 = 9216×4096 = 37,748,736; ViT-B/16's MLP fc1 on 197 tokens:
      197 × 768 × 3072 = 464,781,312).
    - Ops: one add per output for the bias, one per output for a fused activation.
    """

    family = Family.FC
    units: PosInt
    bias: bool = True
    activation: Activation | None = None
    over: Literal["all", "last"] | None = None

    def _positions(self, ins: Shapes) -> tuple[int, int]:
        """(P, C_in): positions the layer runs at and the features it reads at each."""
        shape = ins[0]
        over = self.over or ("last" if len(shape) == 2 else "all")
        if over == "last":
            return numel(shape[:-1]), shape[-1]
        return 1, numel(shape)

    def output_shape(self, ins: Shapes) -> Shape:
        shape = ins[0]
        if self.over == "last" or (self.over is None and len(shape) == 2):
            return (*shape[:-1], self.units)
        if len(shape) != 1 and any(s != 1 for s in shape[1:]):
            raise LayerShapeError(
                f"fc needs a flat input, got {fmt_shape(shape)}; add '- type: flatten' before it "
                "(or 'over: last' to apply it to the last dimension at every position)"
            )
        return (self.units,)

    def params(self, ins: Shapes) -> Params:
        return Params(self._positions(ins)[1] * self.units, self.units if self.bias else 0)

    def macs(self, ins: Shapes, out: Shape) -> int:
        p, c = self._positions(ins)
        return p * c * self.units

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out) * (int(self.bias) + int(self.activation is not None))

    def hyper(self) -> Hyper:
        return Hyper(str(self.units), "", "", "")

    torch_module = "Linear"

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """One GEMM (cuBLASLt adds the bias in its epilogue)."""
        p, c = self._positions(ins)
        return (Kernel(KernelClass.MATMUL, self.macs(ins, out), p * c, p * self.units, self.params(ins).weights,
                       channels=c),)

    def torch_weight(self, ins: Shapes) -> Shape:
        """(C_out, C_in), as nn.Linear stores it."""
        return (self.units, self._positions(ins)[1])

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Linear; a C×1×1 input is flattened first (nn.Linear works on the last axis); with
        ``over: last`` it applies to the last axis of every position as it is."""
        if len(ins[0]) == 1 or self.over == "last" or (self.over is None and len(ins[0]) == 2):
            return TorchCode("{m}({0})", "nn.Linear", (ins[0][-1], self.units), (("bias", self.bias, True),))
        return TorchCode("{m}({0}.flatten(1))", "nn.Linear", (numel(ins[0]), self.units), (("bias", self.bias, True),))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        p, c = self._positions(ins)
        bias = f" + {self.units}" if self.bias else ""
        macs = (Formula("MACs", "C_in × C_out", f"{c} × {self.units}", f"{self.macs(ins, out):,}") if p == 1 else
                Formula("MACs", "P × C_in × C_out", f"{p} × {c} × {self.units}", f"{self.macs(ins, out):,}"))
        return [
            Formula("Output", "units", str(self.units), fmt_shape(out) if p != 1 else str(self.units)),
            Formula("Params", "C_in × C_out" + (" + C_out" if self.bias else ""),
                    f"{c} × {self.units}{bias}", f"{self.params(ins).total:,}"),
            macs,
        ]
