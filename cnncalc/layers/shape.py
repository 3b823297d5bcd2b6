"""Layers that move or reshape data without arithmetic: flatten, upsample, dropout, identity."""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import model_validator

from .base import (
    RF,
    Family,
    Formula,
    Hyper,
    Kernel,
    KernelClass,
    Layer,
    Pair,
    PosInt,
    Saved,
    Shape,
    Shapes,
    TorchCode,
    fmt_pair,
    fmt_shape,
    numel,
    register_layer,
    spatial,
)


@register_layer("flatten")
class Flatten(Layer):
    """C×H×W → C·H·W (seed: 256×6×6 = 9,216). No params, no ops.

    Receptive field: a global reduction (the field is kept, with global context; see RF).
    """

    family = Family.RESHAPE
    torch_module = "flatten"

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def output_shape(self, ins: Shapes) -> Shape:
        return (numel(ins[0]),)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Flatten (from dim 1)."""
        return TorchCode("{m}({0})", "nn.Flatten")

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "C × H × W" if len(ins[0]) == 3 else "features",
                        " × ".join(map(str, ins[0])), f"{out[0]:,}")]

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        """Flattening a map for an fc is a global reduction (RF.reduced); a C×1×1 or flat input is unchanged."""
        if len(ins[0]) != 3 or ins[0][1] * ins[0][2] == 1:
            return rf
        return rf.reduced()


@register_layer("dropout")
class Dropout(Layer):
    """Dropout: identity at inference. No params, no ops."""

    family = Family.OTHER
    torch_module = "Dropout"
    p: float = 0.5

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        """Training makes a new tensor; evaluation returns the input itself."""
        return "new" if train and self.p > 0 else "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The bool keep-mask (native_dropout), one byte per element."""
        return (Saved("new", numel=numel(out), elem="bool"),)

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        if self.output_storage(train) == "view":
            return ()
        return (Kernel(KernelClass.ELEMENTWISE, reads=numel(out), writes=numel(out), extra_bytes=numel(out)),)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "input shape (identity at inference)", fmt_shape(ins[0]), fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Dropout."""
        return TorchCode("{m}({0})", "nn.Dropout", (), (("p", self.p, 0.5),))


_STOCHASTIC_DEPTH = '''class StochasticDepth(nn.Module):
    """Drops the whole input per sample ("row") or per batch with probability p while training
    (torchvision.ops.StochasticDepth); identity in eval mode."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        keep = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p) if self.p < 1.0 else x * keep
'''


@register_layer("stochastic_depth", "drop_path", "droppath")
class StochasticDepth(Layer):
    """Stochastic depth (drop path) on a residual branch: identity at inference.

    Training drops the whole branch per sample (``row``) or per batch (``batch``) with
    probability ``p``. No params, no ops.
    """

    family = Family.OTHER
    p: float = 0.0
    mode: Literal["row", "batch"] = "row"

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "new" if train and self.p > 0 else "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The per-sample keep/scale noise (input * noise saves only the noise)."""
        return (Saved("new", numel=1),)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """StochasticDepth, a small module as torchvision.ops.StochasticDepth."""
        return TorchCode("{m}({0})", "StochasticDepth", (self.p, self.mode), (), _STOCHASTIC_DEPTH)


@register_layer("identity", "noop")
class Identity(Layer):
    """Passes its input through. No params, no ops."""

    family = Family.OTHER
    torch_module = "Identity"

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "input shape", fmt_shape(ins[0]), fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Identity."""
        return TorchCode("{m}({0})", "nn.Identity")


@register_layer("upsample", "interpolate", "resize")
class Upsample(Layer):
    """Spatial resize by ``scale`` or to ``size``.

    - Ops: 0 for ``nearest`` (a copy); 4 per output element for ``bilinear`` (the four taps
      weighted and summed).
    - Receptive field: jump j' = j·H/H'.
    """

    family = Family.RESHAPE
    torch_module = "Upsample"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Nothing: the backward needs only the sizes."""
        return ()
    scale: PosInt | None = None
    size: Pair | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"

    @model_validator(mode="after")
    def _one_of(self) -> Upsample:
        if (self.scale is None) == (self.size is None):
            raise ValueError("give exactly one of 'scale' or 'size'")
        return self

    def output_shape(self, ins: Shapes) -> Shape:
        c, h, w = spatial(ins[0], "upsample")
        if self.size is not None:
            return (c, *self.size)
        assert self.scale is not None
        return (c, h * self.scale, w * self.scale)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return 4 * numel(out) if self.mode == "bilinear" else 0

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        size = (f"C × (H·{self.scale}) × (W·{self.scale})", f"{c} × ({h}·{self.scale}) × ({w}·{self.scale})") \
            if self.scale else ("C × size", f"{c} × {fmt_shape(out[1:])}")
        ops = (f"elements × {4 if self.mode == 'bilinear' else 0} ({self.mode})",
               f"{numel(out):,} × {4 if self.mode == 'bilinear' else 0}")
        return [Formula("Output", *size, fmt_shape(out)), Formula("Ops", *ops, f"{self.ops(ins, out):,}")]

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        """Jump j' = j·H/H'. ``nearest`` reads one input pixel, ``bilinear`` two adjacent ones per
        axis (r' = r + j) unless the sizes are equal or the input is 1 pixel wide."""
        _, h, w = ins[0]
        out = self.output_shape(ins)
        span = tuple(2 if self.mode == "bilinear" and o != i and i > 1 else 1 for i, o in ((h, out[1]), (w, out[2])))
        return rf.taps(span, (Fraction(out[1], h), Fraction(out[2], w)))  # type: ignore[arg-type]

    def hyper(self) -> Hyper:
        return Hyper("", f"×{self.scale}" if self.scale else f"→{fmt_pair(self.size or (0, 0))}", "", "")

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Upsample by ``scale_factor`` or to ``size``."""
        by = ("scale_factor", self.scale, ...) if self.scale else ("size", tuple(out[1:]), ...)
        return TorchCode("{m}({0})", "nn.Upsample", (), (by, ("mode", self.mode, "nearest")))

