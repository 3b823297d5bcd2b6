"""Normalisation layers: batch norm, layer norm, local response norm."""

from __future__ import annotations

from typing import Literal

from .base import Family, Formula, Layer, Params, PosInt, Shape, Shapes, TorchCall, numel, register_layer


@register_layer("batchnorm", "bn", "batchnorm2d", "batch_norm")
class BatchNorm(Layer):
    """Batch normalisation over channels.

    - Params: γ and β, 2·C (with ``affine``; 0 without).
    - Buffers: running mean and variance 2·C, plus PyTorch's num_batches_tracked counter (1),
      when ``track_running_stats`` (torchvision's vgg16_bn: 8,461 = 2·4,224 + 13).
    - Ops: 2 per element — at inference BN folds to y = a·x + b.
    """

    family = Family.NORM
    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    momentum: float = 0.1

    def params(self, ins: Shapes) -> Params:
        c = ins[0][0]
        return Params(c, c) if self.affine else Params()

    def buffers(self, ins: Shapes) -> int:
        return 2 * ins[0][0] + 1 if self.track_running_stats else 0

    torch_module = "BatchNorm2d"

    def torch_weight(self, ins: Shapes) -> Shape:
        """γ: (C,) with ``affine``."""
        return (ins[0][0],) if self.affine else ()

    def ops(self, ins: Shapes, out: Shape) -> int:
        return 2 * numel(out)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c = ins[0][0]
        return [
            Formula("Params", "2 × C (γ, β)", f"2 × {c}", str(self.params(ins).total)),
            Formula("Buffers", "2 × C + 1 (running mean, var, batch counter)", f"2 × {c} + 1",
                    str(self.buffers(ins))),
            Formula("Ops", "2 × C × H × W (scale and shift)", f"2 × {numel(out):,}",
                    f"{self.ops(ins, out):,}"),
        ]


@register_layer("layernorm", "ln", "layer_norm")
class LayerNorm(Layer):
    """Layer normalisation.

    ``over: channels`` (default) normalises the C values at each position, as ConvNeXt's
    LayerNorm2d and ``nn.LayerNorm(C)`` on a flat vector; ``over: all`` normalises C×H×W.

    - Params: γ and β over the normalised shape: 2·C or 2·C·H·W (``affine``).
    - Ops: 6 per element — mean (1), centre (1), square-accumulate (1), normalise (1),
      scale and shift (2); 4 without ``affine``.
    """

    family = Family.NORM
    over: Literal["channels", "all"] = "channels"
    affine: bool = True
    eps: float = 1e-6

    def params(self, ins: Shapes) -> Params:
        n = ins[0][0] if self.over == "channels" else numel(ins[0])
        return Params(n, n) if self.affine else Params()

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (6 if self.affine else 4) * numel(out)

    torch_module = "LayerNorm"

    def torch_weight(self, ins: Shapes) -> Shape:
        """γ over the normalised shape, with ``affine``."""
        if not self.affine:
            return ()
        return (ins[0][0],) if self.over == "channels" else tuple(ins[0])

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        n = "C" if self.over == "channels" else "C × H × W"
        k = 6 if self.affine else 4
        return [Formula("Params", f"2 × {n} (γ, β)" if self.affine else "0 (no affine)",
                        f"2 × {ins[0][0] if self.over == 'channels' else numel(ins[0]):,}" if self.affine else "0",
                        f"{self.params(ins).total:,}"),
                Formula("Ops", f"{k} × elements", f"{k} × {numel(out):,}", f"{self.ops(ins, out):,}")]


@register_layer("lrn", "local_response_norm")
class LRN(Layer):
    """Local response normalisation across ``size`` neighbouring channels (AlexNet 2012).

    b = a / (k + α/n · Σ a²)^β. No params.
    - Ops: size + 3 per element — the squares summed over the window, then scale, power, divide.
    """

    family = Family.NORM
    torch_module = "LocalResponseNorm"
    size: PosInt = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (self.size + 3) * numel(out)

    def torch_calls(self, ins: Shapes, out: Shape) -> tuple[TorchCall, ...]:
        return (TorchCall(self.torch_module, tuple(ins), out, window=self.size),)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Ops", "(size + 3) × elements", f"({self.size} + 3) × {numel(out):,}",
                        f"{self.ops(ins, out):,}")]
