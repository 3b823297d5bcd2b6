"""Pooling: max / average with a window, global and adaptive."""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import LayerShapeError
from .base import (
    RF,
    Family,
    Formula,
    Hyper,
    Kernel,
    KernelClass,
    Layer,
    NonNegPair,
    Pair,
    Saved,
    Shape,
    Shapes,
    TorchCode,
    WindowOut,
    fmt_pair,
    numel,
    register_layer,
    spatial,
    tpair,
    window_out,
)


class _WindowPool(Layer):
    """Max or average pooling over a K×K window.

    - Output: H' = ⌊(H + 2P − K)/S⌋ + 1, or rounded up with ``ceil_mode`` (PyTorch's rule).
      ``stride`` defaults to ``kernel``.
    - Params: none.
    - Ops: H'·W'·C · K_h·K_w — one compare (max) or add (avg) per window element, the seeds'
      "No. of output elements × operations per element" (AlexNet pool1: 96×27×27×3×3 = 629,856).
    """

    family = Family.POOL
    kernel: Pair
    stride: Pair | None = None
    pad: NonNegPair = (0, 0)
    ceil_mode: bool = False

    @property
    def strides(self) -> tuple[int, int]:
        return self.stride or self.kernel

    def _windows(self, ins: Shapes) -> tuple[WindowOut, WindowOut]:
        _, h, w = spatial(ins[0], self.kind)
        for p, k in zip(self.pad, self.kernel):
            if 2 * p > k:
                raise LayerShapeError(f"pad {p} must be at most half the kernel {k}")
        return tuple(  # type: ignore[return-value]
            window_out(x, k, s, (p, p), 1, self.ceil_mode, what="kernel")
            for x, k, s, p in zip((h, w), self.kernel, self.strides, self.pad)
        )

    def output_shape(self, ins: Shapes) -> Shape:
        oh, ow = self._windows(ins)
        return (ins[0][0], oh.size, ow.size)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out) * self.kernel[0] * self.kernel[1]

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        return rf.window(self.kernel, self.strides)

    def warnings(self, ins: Shapes) -> list[str]:
        msgs = [m for w in dict.fromkeys(self._windows(ins)) if (m := w.warning())]
        if not self.ceil_mode:
            msgs = [m + " (set ceil_mode: true to round up)" for m in msgs]
        return msgs

    def hyper(self) -> Hyper:
        return Hyper("", fmt_pair(self.kernel), fmt_pair(self.strides), fmt_pair(self.pad))

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.MaxPool2d / nn.AvgPool2d (``torch_module``)."""
        return TorchCode("{m}({0})", f"nn.{self.torch_module}", (tpair(self.kernel),), (
            ("stride", tpair(self.strides), tpair(self.kernel)), ("padding", tpair(self.pad), 0),
            ("ceil_mode", self.ceil_mode, False)))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        w = self._windows(ins)[1]
        rounding = "ceil" if self.ceil_mode else "floor"
        value = str(out[2]) if w.exact else f"{float(w.value):g} → {rounding} → {out[2]}"
        kh, kw = self.kernel
        return [
            Formula("W'", w.formula, w.numbers, value),
            Formula("Params", "none (pooling has no learnable parameters)", "0", "0"),
            Formula("Ops", "(C × H' × W') × (K × K)",
                    f"({out[0]} × {out[1]} × {out[2]}) × ({kh} × {kw})", f"{self.ops(ins, out):,}"),
        ]


@register_layer("maxpool", "max_pool", "maxpool2d")
class MaxPool(_WindowPool):
    __doc__ = _WindowPool.__doc__
    torch_module = "MaxPool2d"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input and the int64 argmax indices (one per output element)."""
        return (Saved("input"), Saved("new", numel=numel(out), elem="int64"))

    def inference_scratch(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """On CUDA max_pool2d always goes through max_pool2d_with_indices: the indices are made and dropped."""
        return (Saved("new", numel=numel(out), elem="int64"),)

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.POOL, reads=numel(ins[0]), writes=numel(out), extra_bytes=8 * numel(out)),)


@register_layer("avgpool", "avg_pool", "avgpool2d", "average_pool")
class AvgPool(_WindowPool):
    __doc__ = _WindowPool.__doc__
    torch_module = "AvgPool2d"

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.POOL, reads=numel(ins[0]), writes=numel(out)),)


class _GlobalPool(Layer):
    """Pooling over the whole H×W: output C×1×1.

    - Ops: C·H·W (one add or compare per input element; = output × K² with K = H).
    - Receptive field: a global reduction, the field is kept with global context (see RF).
    """

    family = Family.POOL

    def output_shape(self, ins: Shapes) -> Shape:
        c, _, _ = spatial(ins[0], self.kind)
        return (c, 1, 1)

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(ins[0])

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        return [Formula("Output", "C × 1 × 1", f"{c} × 1 × 1", f"{c}×1×1"),
                Formula("Ops", "C × H × W (every input element read once)", f"{c} × {h} × {w}",
                        f"{self.ops(ins, out):,}")]

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        """A global reduction: the field of the map it reads, with global context (RF.reduced)."""
        _, h, w = ins[0]
        return rf.reduced() if h * w > 1 else rf

    def hyper(self) -> Hyper:
        return Hyper("", "global", "", "")

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.REDUCE, reads=numel(ins[0]), writes=numel(out)),)


@register_layer("global_avgpool", "gap", "global_average_pool", "global_avg_pool")
class GlobalAvgPool(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    torch_module = "mean"  # x.mean((2, 3)); nn.AdaptiveAvgPool2d(1) is adaptive_avgpool

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """Nothing: the mean's backward needs only the input's shape."""
        return ()

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x.mean((2, 3), keepdim=True): C×1×1, as here."""
        return TorchCode("{0}.mean((2, 3), keepdim=True)")


@register_layer("global_maxpool", "global_max_pool")
class GlobalMaxPool(_GlobalPool):
    __doc__ = _GlobalPool.__doc__
    torch_module = "amax"  # x.amax((2, 3)); nn.AdaptiveMaxPool2d(1) is adaptive_maxpool

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input and the result (the gradient goes where input == result)."""
        return (Saved("input"), Saved("output"))

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """x.amax((2, 3), keepdim=True): C×1×1, as here."""
        return TorchCode("{0}.amax((2, 3), keepdim=True)")


def _adaptive_windows(n: int, m: int) -> list[int]:
    """Window sizes PyTorch's adaptive pooling uses: [⌊i·n/m⌋, ⌈(i+1)·n/m⌉) for i < m (the
    definition; the layer uses the closed forms below, which do not walk m windows)."""
    return [-(-(i + 1) * n // m) - (i * n // m) for i in range(m)]


def _adaptive_window_sum(n: int, m: int) -> int:
    """Σ_i |window_i| = n + m − gcd(n, m).

    |window_i| = ⌊(i+1)n/m⌋ − ⌊in/m⌋ + [m ∤ (i+1)n]: the floors telescope to n, and (i+1)n is a
    multiple of m for exactly gcd(n, m) of the i + 1 = 1 … m (those divisible by m / gcd)."""
    return n + m - math.gcd(n, m)


def _adaptive_window_max(n: int, m: int) -> int:
    """max_i |window_i|, with q = ⌊n/m⌋, r = n mod m, g = gcd(n, m): q if r = 0, q + 1 if r = g,
    else q + 2.

    With a = i·n mod m, |window_i| = (n + a + ((−a − r) mod m)) / m: q when a + r = 0, q + 1 when
    0 < a + r ≤ m, q + 2 when a + r > m. The a are the multiples of g below m, the largest m − g,
    so some window reaches q + 2 exactly when m − g + r > m, i.e. r > g."""
    q, r = divmod(n, m)
    return q if r == 0 else q + 1 if r == math.gcd(n, m) else q + 2


class _AdaptivePool(Layer):
    """Adaptive pooling to a fixed output size (PyTorch's AdaptiveAvgPool2d / AdaptiveMaxPool2d).

    - Output: C × output[0] × output[1].
    - Ops: C · Σ_i Σ_j |window_i|·|window_j| with PyTorch's windows
      [⌊i·H/H'⌋, ⌈(i+1)·H/H'⌉) — the exact number of elements read.
    - Receptive field: as a window of the largest size with stride H/H'; to 1×1 a global reduction.
    """

    family = Family.POOL
    output: Pair

    def output_shape(self, ins: Shapes) -> Shape:
        c, _, _ = spatial(ins[0], self.kind)
        return (c, *self.output)

    def ops(self, ins: Shapes, out: Shape) -> int:
        _, h, w = ins[0]
        return ins[0][0] * _adaptive_window_sum(h, self.output[0]) * _adaptive_window_sum(w, self.output[1])

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        sh, sw = _adaptive_window_sum(h, self.output[0]), _adaptive_window_sum(w, self.output[1])
        return [Formula("Output", "C × H' × W' (as asked)", f"{c} × {out[1]} × {out[2]}", f"{c}×{out[1]}×{out[2]}"),
                Formula("Ops", "C × Σ window heights × Σ window widths", f"{c} × {sh} × {sw}",
                        f"{self.ops(ins, out):,}")]

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        """Windows of PyTorch's adaptive pooling (the widest, stride H/H'); to 1×1 a global reduction."""
        _, h, w = ins[0]
        if self.output == (1, 1) and h * w > 1:
            return rf.reduced()
        k = (_adaptive_window_max(h, self.output[0]), _adaptive_window_max(w, self.output[1]))
        s = (Fraction(h, self.output[0]), Fraction(w, self.output[1]))
        return RF(
            tuple(r + (kk - 1) * j for r, kk, j in zip(rf.size, k, rf.jump)),  # type: ignore[arg-type]
            tuple(j * ss for j, ss in zip(rf.jump, s)),  # type: ignore[arg-type]
            rf.global_context,
        )

    def hyper(self) -> Hyper:
        return Hyper("", f"→{fmt_pair(self.output)}", "", "")

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.AdaptiveAvgPool2d / nn.AdaptiveMaxPool2d (``torch_module``)."""
        return TorchCode("{m}({0})", f"nn.{self.torch_module}", (tpair(self.output),))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.REDUCE if out[1:] == (1, 1) else KernelClass.POOL,
                       reads=numel(ins[0]), writes=numel(out)),)


@register_layer("adaptive_avgpool", "adaptive_avg_pool", "adaptiveavgpool2d")
class AdaptiveAvgPool(_AdaptivePool):
    __doc__ = _AdaptivePool.__doc__
    torch_module = "AdaptiveAvgPool2d"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """To 1×1 PyTorch takes the mean (its backward needs only the shape); otherwise
        _adaptive_avg_pool2d, whose backward reads the input."""
        return () if self.output == (1, 1) else (Saved("input"),)


@register_layer("adaptive_maxpool", "adaptive_max_pool")
class AdaptiveMaxPool(_AdaptivePool):
    __doc__ = _AdaptivePool.__doc__
    torch_module = "AdaptiveMaxPool2d"

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        """The input and the int64 indices."""
        return (Saved("input"), Saved("new", numel=numel(out), elem="int64"))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        return (Kernel(KernelClass.POOL, reads=numel(ins[0]), writes=numel(out), extra_bytes=8 * numel(out)),)


