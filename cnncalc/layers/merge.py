"""Layers that join branches: concat, add, multiply."""

from __future__ import annotations

from ..errors import LayerShapeError
from .base import (
    Family,
    Formula,
    Kernel,
    KernelClass,
    Layer,
    NoTorchCode,
    Saved,
    Shape,
    Shapes,
    TorchCode,
    fmt_shape,
    numel,
    register_layer,
)


def _shapes(ins: Shapes) -> str:
    return ", ".join(fmt_shape(s) for s in ins)


@register_layer("concat", "cat", "concatenate")
class Concat(Layer):
    """Concatenation along the channel (first) axis; every other size must agree.

    - Output: (ΣC, H, W). No params, no ops (a copy).
    """

    family = Family.MERGE
    torch_module = "cat"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Nothing: the backward slices the gradient (views)."""
        return ()

    def grad_passthrough(self) -> bool:
        return True

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.COPY, reads=numel(out), writes=numel(out)),)
    min_inputs = 1
    max_inputs = None

    def output_shape(self, ins: Shapes) -> Shape:
        rest = {s[1:] for s in ins}
        if len(rest) > 1 or len({len(s) for s in ins}) > 1:
            raise LayerShapeError(f"concat needs equal spatial sizes, got {_shapes(ins)}")
        return (sum(s[0] for s in ins), *ins[0][1:])

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """torch.cat along the channels (dim 1 after the batch)."""
        return TorchCode("torch.cat([{all}], dim=1)")

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        rest = "".join(f" × {d}" for d in out[1:])
        return [Formula("Output", "(C_1 + C_2 + …)" + (" × H × W" if len(out) == 3 else ""),
                        "(" + " + ".join(str(s[0]) for s in ins) + ")" + rest, fmt_shape(out))]


@register_layer("add", "sum", "residual")
class Add(Layer):
    """Element-wise sum of inputs of equal shape (a residual join).

    - Ops: (n − 1) adds per output element.
    """

    family = Family.MERGE
    torch_module = "add"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Nothing: every input receives the output's gradient as it is."""
        return ()

    def grad_passthrough(self) -> bool:
        return True
    min_inputs = 2
    max_inputs = None

    def output_shape(self, ins: Shapes) -> Shape:
        if len(set(ins)) > 1:
            raise LayerShapeError(f"add needs inputs of equal shape, got {_shapes(ins)}")
        return ins[0]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """a + b (+ …)."""
        return TorchCode(" + ".join(f"{{{i}}}" for i in range(len(ins))))

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (len(ins) - 1) * numel(out)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "the inputs' common shape", _shapes(ins), fmt_shape(out)),
                Formula("Ops", "(inputs − 1) × elements (adds)", f"({len(ins)} − 1) × {numel(out):,}",
                        f"{self.ops(ins, out):,}")]


def broadcast(a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting of two shapes aligned at the right; raise if they don't broadcast."""
    n = max(len(a), len(b))
    a2, b2 = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a2, b2):
        if x != y and 1 not in (x, y):
            raise LayerShapeError(f"shapes {fmt_shape(a)} and {fmt_shape(b)} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


@register_layer("multiply", "mul", "scale")
class Multiply(Layer):
    """Element-wise product with broadcasting (squeeze-excitation: C×H×W · C×1×1).

    - Ops: (n − 1) multiplies per output element.
    """

    family = Family.MERGE
    torch_module = "mul"
    min_inputs = 2
    max_inputs = None

    def output_shape(self, ins: Shapes) -> Shape:
        out = ins[0]
        for s in ins[1:]:
            out = broadcast(out, s)
        return out

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """a * b (* …); PyTorch broadcasts with the batch axis in front, so the inputs must
        have as many axes each (C×H×W · C×1×1 does)."""
        if len({len(s) for s in ins}) > 1:
            raise NoTorchCode(f"multiply of {_shapes(ins)}: inputs with different numbers of axes "
                              "broadcast differently once PyTorch adds the batch axis")
        return TorchCode(" * ".join(f"{{{i}}}" for i in range(len(ins))))

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (len(ins) - 1) * numel(out)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "the inputs' shapes broadcast", _shapes(ins), fmt_shape(out)),
                Formula("Ops", "(inputs − 1) × elements (multiplies)", f"({len(ins)} − 1) × {numel(out):,}",
                        f"{self.ops(ins, out):,}")]
