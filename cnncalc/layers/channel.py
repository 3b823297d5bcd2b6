"""Channel-wise layers of the modern zoo: channel slice, channel shuffle, layer scale."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from ..errors import LayerShapeError
from .base import (
    Family,
    Formula,
    Kernel,
    KernelClass,
    Layer,
    NonNegInt,
    Params,
    PosInt,
    Saved,
    Shape,
    Shapes,
    TorchCode,
    certain,
    divisible,
    fmt_shape,
    numel,
    register_layer,
    spatial,
)


@register_layer("slice", "channel_slice", "narrow")
class Slice(Layer):
    """Channels ``start`` to ``end`` (end excluded) of the input, as ``x[:, start:end]``.

    ShuffleNet v2's ``x.chunk(2, dim=1)`` is two slices of one input: [0, C/2) and [C/2, C).
    ``end`` defaults to C.

    - Output: (end − start, H, W).
    - Params: none. Ops: none (PyTorch returns a view; nothing is computed).
    """

    family = Family.RESHAPE
    start: NonNegInt = 0
    end: PosInt | None = None

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def grad_passthrough(self) -> bool:
        """No: the backward writes the gradient into zeros of the input's size."""
        return False

    @model_validator(mode="after")
    def _ordered(self) -> Slice:
        if self.end is not None and certain(self.end <= self.start):
            raise ValueError(f"end {self.end} must be greater than start {self.start}")
        return self

    def output_shape(self, ins: Shapes) -> Shape:
        shape = ins[0]
        c = shape[0]
        end = c if self.end is None else self.end
        if certain(end > c):
            raise LayerShapeError(f"slice end {end} is past the {c} channels of {fmt_shape(shape)}")
        return (end - self.start, *shape[1:])

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x[:, start:end]."""
        end = "" if self.end is None else str(self.end)
        return TorchCode(f"{{0}}[:, {self.start or ''}:{end}]")

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        end = ins[0][0] if self.end is None else self.end
        return [Formula("C'", "end − start", f"{end} − {self.start}", str(out[0]))]


_CHANNEL_SHUFFLE = '''def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: C viewed as (groups, C/groups), transposed, flattened back."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, c, h, w)
'''


@register_layer("channel_shuffle", "shuffle")
class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle: view C as (groups, C/groups), transpose, flatten back.

    - Output: the input shape (C must be divisible by ``groups``).
    - Params: none. Ops: none (a permutation of the channels; data moves, nothing is computed).
    """

    family = Family.RESHAPE
    groups: PosInt

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """view → transpose → contiguous: one copy."""
        return (Kernel(KernelClass.COPY, reads=numel(out), writes=numel(out)),)

    def output_shape(self, ins: Shapes) -> Shape:
        if divisible(ins[0][0], self.groups) is False:
            raise LayerShapeError(f"channel_shuffle: {ins[0][0]} channels are not divisible by groups={self.groups}")
        return ins[0]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """channel_shuffle(x, groups): view, transpose, flatten back, as torchvision's ShuffleNet."""
        spatial(ins[0], "channel_shuffle (as PyTorch code)")
        return TorchCode(f"channel_shuffle({{0}}, {self.groups})", helper=_CHANNEL_SHUFFLE)


_LAYER_SCALE = '''class LayerScale(nn.Module):
    """A learnable per-channel scale γ (C, 1, 1), initialised to ``init`` (ConvNeXt's layer_scale)."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma
'''


@register_layer("layer_scale", "layerscale")
class LayerScale(Layer):
    """Per-channel learnable scale y = γ_c · x (ConvNeXt's ``layer_scale``, CaiT's LayerScale).

    - Params: γ, one per channel: C (torchvision's ConvNeXt keeps it as a (C, 1, 1) parameter).
    - Ops: 1 multiply per element: C·H·W.
    ``init`` (γ's initial value, 1e-6 in ConvNeXt) does not change any count.
    """

    family = Family.OTHER
    init: float = 1e-6

    def params(self, ins: Shapes) -> Params:
        return Params(ins[0][0], 0)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """LayerScale: a (C, 1, 1) parameter γ, multiplied in (as torchvision's ConvNeXt)."""
        spatial(ins[0], "layer_scale (as PyTorch code)")
        return TorchCode("{m}({0})", "LayerScale", (ins[0][0], self.init), (), _LAYER_SCALE)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [
            Formula("Params", "C (γ per channel)", str(ins[0][0]), str(ins[0][0])),
            Formula("Ops", "C × H × W (one multiply each)", fmt_shape(out), f"{numel(out):,}"),
        ]
