"""Normalisation layers: batch norm, layer norm, local response norm, group and instance norm."""

from __future__ import annotations

from typing import ClassVar, Literal

from ..errors import LayerShapeError
from .base import (
    ALWAYS,
    ElemKind,
    Family,
    Formula,
    Kernel,
    KernelClass,
    Layer,
    Params,
    PosInt,
    Saved,
    Shape,
    Shapes,
    TorchCall,
    TorchCode,
    numel,
    register_layer,
)


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

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input, and the batch mean and inverse std (C fp32 each) that the forward computed."""
        c = ins[0][0]
        return (Saved("input"), Saved("new", numel=c, elem="fp32", per_sample=False),
                Saved("new", numel=c, elem="fp32", per_sample=False))

    def buffer_tensors(self, ins: Shapes) -> tuple[tuple[int, ElemKind], ...]:
        """running_mean, running_var (C each) and the int64 num_batches_tracked."""
        c = ins[0][0]
        return ((c, "float"), (c, "float"), (1, "int64")) if self.track_running_stats else ()

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """Training reads the input twice (statistics, then normalisation)."""
        n = numel(ins[0])
        return (Kernel(KernelClass.NORM, reads=2 * n if train else n, writes=n),)

    def torch_weight(self, ins: Shapes) -> Shape:
        """γ: (C,) with ``affine``."""
        return (ins[0][0],) if self.affine else ()

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.BatchNorm2d on a feature map, nn.BatchNorm1d on a vector."""
        return TorchCode("{m}({0})", "nn.BatchNorm2d" if len(ins[0]) == 3 else "nn.BatchNorm1d", (ins[0][0],), (
            ("eps", self.eps, 1e-5), ("momentum", self.momentum, 0.1), ("affine", self.affine, True),
            ("track_running_stats", self.track_running_stats, True)))

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


_LAYERNORM2D = '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map, as torchvision's ConvNeXt."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
'''


@register_layer("layernorm", "ln", "layer_norm")
class LayerNorm(Layer):
    """Layer normalisation.

    ``over: channels`` (default) normalises the C values at each position, as ConvNeXt's
    LayerNorm2d and ``nn.LayerNorm(C)`` on a flat vector; ``over: all`` normalises C×H×W;
    ``over: last`` normalises the last dimension at each position, as ``nn.LayerNorm(C)`` does on
    a channels-last map [H, W, C] or on a sequence [L, C] (``channels`` means the same on a
    sequence: a token's features are its channels).

    - Params: γ and β over the normalised shape: 2·C or 2·C·H·W (``affine``).
    - Ops: 6 per element — mean (1), centre (1), square-accumulate (1), normalise (1),
      scale and shift (2); 4 without ``affine``.
    """

    family = Family.NORM
    over: Literal["channels", "all", "last"] = "channels"
    affine: bool = True
    eps: float = 1e-6

    def _group(self, ins: Shapes) -> int:
        """Elements normalised together: C (channels, last) or all of them."""
        s = ins[0]
        if self.over == "last" or (self.over == "channels" and len(s) == 2):
            return s[-1]
        return s[0] if self.over == "channels" else numel(s)

    def params(self, ins: Shapes) -> Params:
        n = self._group(ins)
        return Params(n, n) if self.affine else Params()

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (6 if self.affine else 4) * numel(out)

    torch_module = "LayerNorm"
    #: Every torch.nn class name ``torch_calls`` may give: over the channels of a C×H×W map it is
    #: a subclass, LayerNorm2d (torchvision's, and ``torch_code``'s), which module hooks keyed by
    #: exact class (ptflops, thop) do not count as an nn.LayerNorm.
    torch_modules: ClassVar[tuple[str, ...]] = ("LayerNorm", "LayerNorm2d")

    def torch_calls(self, ins: Shapes, out: Shape) -> tuple[TorchCall, ...]:
        """nn.LayerNorm, or LayerNorm2d over the channels of a C×H×W map (as ``torch_code`` writes it)."""
        call = super().torch_calls(ins, out)[0]
        if self.over == "channels" and len(ins[0]) == 3:
            call = TorchCall("LayerNorm2d", call.ins, call.out, call.weight, call.bias)
        return (call,)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input and the fp32 mean and rstd of every normalised group."""
        groups = numel(ins[0]) // self._group(ins)
        return (Saved("input"), Saved("new", numel=groups, elem="fp32"), Saved("new", numel=groups, elem="fp32"))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """One normalisation pass; over the channels of a C×H×W map, first the copy that makes
        the permuted (N, H, W, C) view contiguous (F.layer_norm normalises the last dimension)."""
        n = numel(ins[0])
        norm = Kernel(KernelClass.NORM, reads=n, writes=numel(out))
        if self.over == "channels" and len(ins[0]) == 3 and n > ins[0][0]:
            return (Kernel(KernelClass.COPY, reads=n, writes=n), norm)
        return (norm,)

    def torch_weight(self, ins: Shapes) -> Shape:
        """γ over the normalised shape, with ``affine``."""
        if not self.affine:
            return ()
        return (self._group(ins),) if self.over != "all" else tuple(ins[0])

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.LayerNorm over C×H×W or a vector; over the channels of a map, LayerNorm2d (as
        torchvision's: C moved last, normalised, moved back)."""
        kwargs = (("eps", self.eps, 1e-5), ("elementwise_affine", self.affine, True))
        if self.over == "all" and len(ins[0]) > 1:
            return TorchCode("{m}({0})", "nn.LayerNorm", (list(ins[0]),), kwargs)
        if len(ins[0]) == 1 or self.over == "last" or len(ins[0]) == 2:  # each token's last axis
            return TorchCode("{m}({0})", "nn.LayerNorm", (ins[0][-1],), kwargs)
        return TorchCode("{m}({0})", "LayerNorm2d", (ins[0][0],), kwargs, _LAYERNORM2D)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        n = "C" if self.over != "all" else "C × H × W"
        k = 6 if self.affine else 4
        return [Formula("Params", f"2 × {n} (γ, β)" if self.affine else "0 (no affine)",
                        f"2 × {self._group(ins):,}" if self.affine else "0",
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

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.LocalResponseNorm (its k defaults to 1, here to 2: always written)."""
        return TorchCode("{m}({0})", "nn.LocalResponseNorm", (self.size,), (
            ("alpha", self.alpha, ALWAYS), ("beta", self.beta, ALWAYS), ("k", self.k, ALWAYS)))

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """F.local_response_norm is a chain of operators (square, pad, avg_pool3d, mul, add,
        pow, div); autograd keeps the input and about three intermediates of its size."""
        n = numel(out)
        return (Saved("input"), *(Saved("new", numel=n) for _ in range(3)))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """Six element-wise passes (square, pad, window average, scale-shift, power, divide)."""
        n = numel(out)
        return tuple(Kernel(KernelClass.ELEMENTWISE, reads=n, writes=n) for _ in range(6))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        return [Formula("Ops", "(size + 3) × elements", f"({self.size} + 3) × {numel(out):,}",
                        f"{self.ops(ins, out):,}")]


@register_layer("groupnorm", "group_norm", "gn")
class GroupNorm(Layer):
    """Group normalisation: the C channels in ``groups`` groups of C/G, each group normalised over
    its C/G·H·W values, per sample (``nn.GroupNorm``).

    - Params: γ and β per channel, 2·C (``affine``).
    - Ops: 6 per element as layernorm (mean, centre, square-accumulate, normalise, scale, shift);
      4 without ``affine``.
    """

    family = Family.NORM
    torch_module = "GroupNorm"
    groups: PosInt
    affine: bool = True
    eps: float = 1e-5

    def _groups(self, ins: Shapes) -> int:
        return self.groups

    def output_shape(self, ins: Shapes) -> Shape:
        c = ins[0][0]
        if c % self._groups(ins):
            raise LayerShapeError(f"{c} channels do not split into {self._groups(ins)} groups")
        return ins[0]

    def params(self, ins: Shapes) -> Params:
        c = ins[0][0]
        return Params(c, c) if self.affine else Params()

    def ops(self, ins: Shapes, out: Shape) -> int:
        return (6 if self.affine else 4) * numel(out)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input and the fp32 mean and rstd of every group."""
        g = self._groups(ins)
        return (Saved("input"), Saved("new", numel=g, elem="fp32"), Saved("new", numel=g, elem="fp32"))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.NORM, reads=numel(ins[0]), writes=numel(out)),)

    def torch_weight(self, ins: Shapes) -> Shape:
        return (ins[0][0],) if self.affine else ()

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c = ins[0][0]
        k = 6 if self.affine else 4
        return [Formula("Groups", "G of C/G channels", f"{self._groups(ins)} of {c // self._groups(ins)}",
                        str(self._groups(ins))),
                Formula("Params", "2 × C (γ, β)" if self.affine else "0 (no affine)",
                        f"2 × {c}" if self.affine else "0", f"{self.params(ins).total:,}"),
                Formula("Ops", f"{k} × elements", f"{k} × {numel(out):,}", f"{self.ops(ins, out):,}")]

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.GroupNorm(groups, C)."""
        return TorchCode("{m}({0})", "nn.GroupNorm", (self.groups, ins[0][0]),
                         (("eps", self.eps, 1e-5), ("affine", self.affine, True)))


@register_layer("instancenorm", "instance_norm", "instancenorm2d")
class InstanceNorm(GroupNorm):
    """Instance normalisation: every channel normalised over its H·W values, per sample
    (``nn.InstanceNorm2d``; a group norm with one channel per group).

    - Params: γ and β, 2·C, only with ``affine`` (PyTorch's default is without).
    - Buffers: running mean and variance 2·C plus the batch counter (1), only with
      ``track_running_stats`` (default without).
    - Ops: 6 per element with ``affine``, else 4.
    """

    torch_module = "InstanceNorm2d"
    groups: PosInt = 1  # unused: one group per channel
    affine: bool = False
    track_running_stats: bool = False
    momentum: float = 0.1

    def _groups(self, ins: Shapes) -> int:
        return ins[0][0]

    def buffers(self, ins: Shapes) -> int:
        return 2 * ins[0][0] + 1 if self.track_running_stats else 0

    def buffer_tensors(self, ins: Shapes) -> tuple[tuple[int, ElemKind], ...]:
        c = ins[0][0]
        return ((c, "float"), (c, "float"), (1, "int64")) if self.track_running_stats else ()

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.InstanceNorm2d(C)."""
        return TorchCode("{m}({0})", "nn.InstanceNorm2d", (ins[0][0],), (
            ("eps", self.eps, 1e-5), ("momentum", self.momentum, 0.1), ("affine", self.affine, False),
            ("track_running_stats", self.track_running_stats, False)))
