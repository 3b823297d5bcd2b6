"""Token layers: reshapes and permutes between feature maps and sequences, class token, position
embedding; and the sub-pixel rearrangements pixel_shuffle / pixel_unshuffle.

A sequence is a tensor ``[L, features]`` (L tokens, without the batch dimension); a channels-last
map ``[H, W, C]`` (Swin, ConvNeXt's MLP) is a grid of tokens. ``fc`` and ``layernorm`` with
``over: last`` act on the last dimension of each token; ``attention`` mixes the tokens.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..errors import LayerShapeError
from .base import (
    RF,
    Family,
    Formula,
    Hyper,
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
    fmt_shape,
    numel,
    register_layer,
    spatial,
)

# ----------------------------------------------------------------------------- PyTorch helpers (cnncalc torch)

_CLASS_TOKEN = '''class ClassToken(nn.Module):
    """Prepends a learned token to a sequence [N, L, E] (ViT's class token)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], dim=1)
'''

_POS_EMBEDDING = '''class PosEmbedding(nn.Module):
    """Adds a learned embedding of the input's shape (ViT's position embedding)."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(1, *shape) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.embedding
'''

_PATCH_MERGE = '''def _patch_merging_pad(x: torch.Tensor) -> torch.Tensor:
    """Swin's patch merging gather: [N, H, W, C] → [N, ⌈H/2⌉, ⌈W/2⌉, 4·C], odd sides zero-padded."""
    h, w = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    return torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)


torch.fx.wrap("_patch_merging_pad")  # one operation to torch.fx, as in torchvision
'''


class _View(Layer):
    """A view of its input: no params, no arithmetic, no kernel, nothing saved for backward."""

    family = Family.RESHAPE

    def output_storage(self, train: bool) -> Literal["new", "inplace", "view"]:
        return "view"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()


@register_layer("permute", "transpose")
class Permute(_View):
    """Reorders the dimensions (batch excluded): out[k] = in[dims[k]], a view.

    ``dims: [1, 2, 0]`` turns a C×H×W map into channels-last H×W×C (ConvNeXt, Swin); ``[1, 0]``
    swaps the two dims of a sequence. No params, no MACs, no ops (the copy a later layer may
    make of the strided view is that layer's).
    """

    torch_module = "permute"
    dims: Annotated[tuple[NonNegInt, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _is_permutation(self) -> Permute:
        if sorted(self.dims) != list(range(len(self.dims))):
            raise ValueError(f"dims {list(self.dims)} is not a permutation of 0…{len(self.dims) - 1}")
        return self

    def output_shape(self, ins: Shapes) -> Shape:
        if len(ins[0]) != len(self.dims):
            raise LayerShapeError(f"permute dims {list(self.dims)} need a {len(self.dims)}-dimensional input, "
                                  f"got {fmt_shape(ins[0])}")
        return tuple(ins[0][d] for d in self.dims)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "in[dims[k]] for each k", f"{fmt_shape(ins[0])} by {list(self.dims)}",
                        fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x.permute(0, …) with the batch axis kept first: a view."""
        return TorchCode("{0}.permute(0, " + ", ".join(str(d + 1) for d in self.dims) + ")")


@register_layer("reshape", "view", "unflatten")
class Reshape(_View):
    """Gives the same elements a new ``shape`` (batch excluded), e.g. C×H×W → C×(H·W).

    The element count must stay: Π shape = Π input. No params, no MACs, no ops.
    """

    torch_module = "reshape"
    shape: Annotated[tuple[PosInt, ...], Field(min_length=1)]

    def output_shape(self, ins: Shapes) -> Shape:
        if numel(self.shape) != numel(ins[0]):
            raise LayerShapeError(f"reshape to {fmt_shape(self.shape)} ({numel(self.shape):,} elements) of "
                                  f"{fmt_shape(ins[0])} ({numel(ins[0]):,} elements)")
        return tuple(self.shape)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "shape (same elements)", f"{fmt_shape(ins[0])} = {numel(ins[0]):,}",
                        fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x.reshape(-1, *shape): a view where the input's strides allow one, else a copy."""
        return TorchCode("{0}.reshape(-1, " + ", ".join(str(d) for d in self.shape) + ")")


def _sequence(shape: Shape, what: str) -> tuple[int, int]:
    if len(shape) != 2:
        raise LayerShapeError(f"{what} needs a sequence [L, features], got {fmt_shape(shape)}")
    return shape[0], shape[1]


@register_layer("class_token", "cls_token")
class ClassToken(Layer):
    """Prepends one learned token to a sequence (ViT's class token): [L, E] → [L + 1, E].

    - Params: E (the token).
    - Ops: none; the forward is a concatenation (a copy of (L + 1)·E elements).
    """

    family = Family.OTHER
    torch_module = "cat"

    def output_shape(self, ins: Shapes) -> Shape:
        n, e = _sequence(ins[0], "class_token")
        return (n + 1, e)

    def params(self, ins: Shapes) -> Params:
        return Params(ins[0][-1], 0)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.COPY, reads=numel(ins[0]), writes=numel(out), weights=ins[0][-1]),)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        n, e = ins[0]
        return [Formula("Output", "[L + 1, E]", f"[{n} + 1, {e}]", fmt_shape(out)),
                Formula("Params", "E", str(e), f"{e:,}")]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """cat([token.expand(N, -1, -1), x], dim=1) with a (1, 1, E) parameter, as torchvision's ViT."""
        return TorchCode("{m}({0})", "ClassToken", (ins[0][-1],), helper=_CLASS_TOKEN)


@register_layer("pos_embedding", "position_embedding", "positional_embedding")
class PosEmbedding(Layer):
    """Adds a learned embedding of the input's own shape (ViT's position embedding): x + P.

    - Params: the elements of one input, L·E for a sequence (ViT-B/16: 197 × 768 = 151,296).
    - Ops: one add per element, L·E.
    """

    family = Family.OTHER
    torch_module = "add"

    def params(self, ins: Shapes) -> Params:
        return Params(numel(ins[0]), 0)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        n = numel(out)
        return (Kernel(KernelClass.ELEMENTWISE, reads=n, writes=n, weights=n),)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        dims = " × ".join(str(s) for s in ins[0])
        return [Formula("Params", "L × E (one per input element)", dims, f"{numel(ins[0]):,}"),
                Formula("Ops", "L × E adds", dims, f"{numel(out):,}")]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x + P with a (1, *input) parameter, as torchvision's ViT."""
        return TorchCode("{m}({0})", "PosEmbedding", tuple(ins[0]), helper=_POS_EMBEDDING)


@register_layer("select_token", "take_token")
class SelectToken(_View):
    """Takes token ``index`` of a sequence: [L, E] → [E] (ViT's ``x[:, 0]``, the class token). A view."""

    torch_module = "select"
    index: NonNegInt = 0

    def output_shape(self, ins: Shapes) -> Shape:
        n, e = _sequence(ins[0], "select_token")
        if self.index >= n:
            raise LayerShapeError(f"token {self.index} of a sequence of {n}")
        return (e,)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Output", "[E] of token index", f"token {self.index} of {fmt_shape(ins[0])}",
                        fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x[:, index]: a view."""
        return TorchCode(f"{{0}}[:, {self.index}]")


@register_layer("patch_merge", "patch_merging")
class PatchMerge(Layer):
    """Swin's patch merging gather on a channels-last map: [H, W, C] → [⌈H/2⌉, ⌈W/2⌉, 4·C].

    An odd H or W is zero-padded by one row/column; each output position stacks the 2×2
    neighbours' features (the normalisation and the 4C → 2C fc that follow are layers of
    their own). No params, no MACs, no ops: a copy.
    """

    family = Family.RESHAPE
    torch_module = "cat"

    def output_shape(self, ins: Shapes) -> Shape:
        s = ins[0]
        if len(s) != 3:
            raise LayerShapeError(f"patch_merge needs a channels-last map [H, W, C], got {fmt_shape(s)}")
        return (-(-s[0] // 2), -(-s[1] // 2), 4 * s[2])

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.COPY, reads=numel(out), writes=numel(out)),)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """torchvision's Swin ``_patch_merging_pad`` (pad odd sides, stack the 2×2 neighbours)."""
        return TorchCode("_patch_merging_pad({0})", helper=_PATCH_MERGE)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        h, w, c = ins[0]
        return [Formula("Output", "[⌈H/2⌉, ⌈W/2⌉, 4·C]", f"[⌈{h}/2⌉, ⌈{w}/2⌉, 4 × {c}]", fmt_shape(out))]


@register_layer("pixel_shuffle", "depth_to_space")
class PixelShuffle(Layer):
    """Sub-pixel rearrangement (``nn.PixelShuffle(r)``): [C, H, W] → [C/r², r·H, r·W].

    No params, no MACs, no ops: a copy. Receptive field: unchanged; jump j' = j/r.
    """

    family = Family.RESHAPE
    torch_module = "PixelShuffle"
    factor: PosInt

    def output_shape(self, ins: Shapes) -> Shape:
        c, h, w = spatial(ins[0], "pixel_shuffle")
        r2 = self.factor * self.factor
        if c % r2:
            raise LayerShapeError(f"pixel_shuffle by {self.factor} needs channels divisible by {r2}, got {c}")
        return (c // r2, h * self.factor, w * self.factor)

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        return RF(rf.size, (Fraction(rf.jump[0]) / self.factor, Fraction(rf.jump[1]) / self.factor))

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.COPY, reads=numel(out), writes=numel(out)),)

    def hyper(self) -> Hyper:
        return Hyper("", f"×{self.factor}", "", "")

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        r = self.factor
        return [Formula("Output", "[C/r², r·H, r·W]", f"[{c}/{r}², {r}·{h}, {r}·{w}]", fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.PixelShuffle(factor)."""
        return TorchCode("{m}({0})", "nn.PixelShuffle", (self.factor,))


@register_layer("pixel_unshuffle", "space_to_depth")
class PixelUnshuffle(Layer):
    """The inverse of pixel_shuffle (``nn.PixelUnshuffle(r)``): [C, H, W] → [C·r², H/r, W/r].

    No params, no MACs, no ops: a copy. Receptive field: an r×r window of stride r.
    """

    family = Family.RESHAPE
    torch_module = "PixelUnshuffle"
    factor: PosInt

    def output_shape(self, ins: Shapes) -> Shape:
        c, h, w = spatial(ins[0], "pixel_unshuffle")
        if h % self.factor or w % self.factor:
            raise LayerShapeError(f"pixel_unshuffle by {self.factor} needs H and W divisible by it, got {h}×{w}")
        return (c * self.factor ** 2, h // self.factor, w // self.factor)

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        return rf.window((self.factor, self.factor), (self.factor, self.factor))

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        return ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.COPY, reads=numel(out), writes=numel(out)),)

    def hyper(self) -> Hyper:
        return Hyper("", f"÷{self.factor}", "", "")

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        r = self.factor
        return [Formula("Output", "[C·r², H/r, W/r]", f"[{c}·{r}², {h}/{r}, {w}/{r}]", fmt_shape(out))]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.PixelUnshuffle(factor)."""
        return TorchCode("{m}({0})", "nn.PixelUnshuffle", (self.factor,))
