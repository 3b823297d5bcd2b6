"""Convolution and transposed convolution."""

from __future__ import annotations

from ..errors import LayerShapeError
from .base import (
    ALWAYS,
    RF,
    Activation,
    Family,
    Formula,
    Hyper,
    Kernel,
    KernelClass,
    Layer,
    NonNegPair,
    PadSpec,
    Pair,
    Params,
    PosInt,
    Shape,
    Shapes,
    TorchCode,
    WindowOut,
    divisible,
    floor_div,
    fmt_pad,
    fmt_pair,
    numel,
    register_layer,
    resolve_pad,
    spatial,
    tpair,
    window_out,
)


def _check_groups(c_in: int, filters: int, groups: int) -> None:
    # ``is False``: with symbolic sizes an open question (C/4 by groups) is assumed to divide
    if divisible(c_in, groups) is False:
        raise LayerShapeError(f"input channels {c_in} are not divisible by groups={groups}")
    if divisible(filters, groups) is False:
        raise LayerShapeError(f"filters {filters} are not divisible by groups={groups}")


@register_layer("conv", "conv2d", "convolution")
class Conv(Layer):
    """2-D convolution, optionally grouped / depthwise / dilated, with a fused activation.

    - Output: H' = ⌊(H + 2P − D·(K − 1) − 1)/S⌋ + 1 (per axis; the seeds' (W − K + 2P)/S + 1).
    - Params: weights C_out·(C_in/G)·K_h·K_w, bias C_out.
    - MACs: C_out·H'·W' · (C_in/G)·K_h·K_w (bias excluded).
    - Ops: one add per output element for the bias, plus one per output element for a fused
      activation.
    """

    family = Family.CONV
    filters: PosInt
    kernel: Pair
    stride: Pair = (1, 1)
    pad: PadSpec = 0
    dilation: Pair = (1, 1)
    groups: PosInt = 1
    bias: bool = True
    activation: Activation | None = None

    def _pads(self, ins: Shapes) -> tuple[tuple[int, int], tuple[int, int]]:
        _, h, w = spatial(ins[0], "conv")
        return resolve_pad(self.pad, (h, w), self.kernel, self.stride, self.dilation)

    def _windows(self, ins: Shapes) -> tuple[WindowOut, WindowOut]:
        _, h, w = spatial(ins[0], "conv")
        ph, pw = self._pads(ins)
        return (
            window_out(h, self.kernel[0], self.stride[0], ph, self.dilation[0], what="kernel"),
            window_out(w, self.kernel[1], self.stride[1], pw, self.dilation[1], what="kernel"),
        )

    def output_shape(self, ins: Shapes) -> Shape:
        c, _, _ = spatial(ins[0], "conv")
        _check_groups(c, self.filters, self.groups)
        oh, ow = self._windows(ins)
        return (self.filters, oh.size, ow.size)

    def params(self, ins: Shapes) -> Params:
        c = ins[0][0]
        return Params(self.filters * floor_div(c, self.groups) * self.kernel[0] * self.kernel[1],
                      self.filters if self.bias else 0)

    def macs(self, ins: Shapes, out: Shape) -> int:
        return numel(out) * floor_div(ins[0][0], self.groups) * self.kernel[0] * self.kernel[1]

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out) * (int(self.bias) + int(self.activation is not None))

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        return rf.window(self.kernel, self.stride, self.dilation)

    torch_module = "Conv2d"

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """The cuDNN convolution, then PyTorch's separate in-place bias add (at::_convolution)."""
        conv = Kernel(KernelClass.CONV if self.groups == 1 else KernelClass.CONV_GROUPED, self.macs(ins, out),
                      numel(ins[0]), numel(out), self.params(ins).weights,
                      channels=floor_div(ins[0][0], self.groups), window=self.kernel[0] * self.kernel[1])
        return (conv, Kernel(KernelClass.ELEMENTWISE, reads=numel(out), writes=numel(out))) if self.bias else (conv,)

    def torch_weight(self, ins: Shapes) -> Shape:
        """(C_out, C_in/G, K_h, K_w), as nn.Conv2d stores it."""
        return (self.filters, floor_div(ins[0][0], self.groups), *self.kernel)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.Conv2d; padding that differs before and after is an F.pad first (PyTorch's own
        ``padding="same"`` where it applies: stride 1, the odd pixel after, as here)."""
        (t, b), (left, right) = self._pads(ins)
        call = "{m}({0})"
        padding: object = tpair((t, left))
        if (t, left) != (b, right):
            if self.pad == "same" and self.stride == (1, 1):
                padding = "same"
            else:
                padding, call = 0, f"{{m}}(F.pad({{0}}, ({left}, {right}, {t}, {b})))"
        return TorchCode(call, "nn.Conv2d", (ins[0][0], self.filters), (
            ("kernel_size", tpair(self.kernel), ALWAYS), ("stride", tpair(self.stride), 1),
            ("padding", padding, 0), ("dilation", tpair(self.dilation), 1), ("groups", self.groups, 1),
            ("bias", self.bias, True)))

    def warnings(self, ins: Shapes) -> list[str]:
        return [m for w in dict.fromkeys(self._windows(ins)) if (m := w.warning())]

    def hyper(self) -> Hyper:
        return Hyper(str(self.filters), fmt_pair(self.kernel), fmt_pair(self.stride), fmt_pad(self.pad))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c = ins[0][0]
        g = self.groups
        kh, kw = self.kernel
        wout = self._windows(ins)[1]
        cin = f"{c}" if g == 1 else f"({c}/{g})"
        per = floor_div(c, g) * kh * kw
        bias = f" + {self.filters}" if self.bias else ""
        return [
            Formula("W'", wout.formula, wout.numbers, str(out[2])),
            Formula("Params", "C_out × C_in" + ("/G" if g > 1 else "") + " × K × K" + (" + C_out" if self.bias else ""),
                    f"{self.filters} × {cin} × {kh} × {kw}{bias}", f"{self.params(ins).total:,}"),
            Formula("MACs", "(C_out × H' × W') × (C_in" + ("/G" if g > 1 else "") + " × K × K)",
                    f"({out[0]} × {out[1]} × {out[2]}) × ({cin} × {kh} × {kw}) = {numel(out):,} × {per:,}",
                    f"{self.macs(ins, out):,}"),
        ]


@register_layer("deconv", "conv_transpose", "convtranspose", "transposed_conv")
class Deconv(Layer):
    """2-D transposed convolution ("deconvolution").

    - Output: H' = (H − 1)·S − 2P + D·(K − 1) + output_padding + 1.
    - Params: weights C_in·(C_out/G)·K_h·K_w, bias C_out.
    - MACs: C_in·H·W · (C_out/G)·K_h·K_w — every input element is scattered through a
      K×K×C_out/G kernel (the count PyTorch's FlopCounterMode uses).
    - Ops: bias and fused activation, one per output element each.
    - Receptive field: jump j' = j/S; r' = r + (n − 1)·j, where n is the most input pixels one
      output pixel reads along an axis (see ``taps``; ⌈K/S⌉ without dilation: K = 4, S = 2 → 2).
    """

    family = Family.CONV
    filters: PosInt
    kernel: Pair
    stride: Pair = (1, 1)
    pad: NonNegPair = (0, 0)
    output_padding: NonNegPair = (0, 0)
    dilation: Pair = (1, 1)
    groups: PosInt = 1
    bias: bool = True
    activation: Activation | None = None

    def output_shape(self, ins: Shapes) -> Shape:
        c, h, w = spatial(ins[0], "deconv")
        _check_groups(c, self.filters, self.groups)
        size = []
        for x, k, s, p, op, d in zip((h, w), self.kernel, self.stride, self.pad,
                                     self.output_padding, self.dilation):
            if op >= max(s, d):
                raise LayerShapeError(f"output_padding {op} must be smaller than stride or dilation")
            o = (x - 1) * s - 2 * p + d * (k - 1) + op + 1
            if o <= 0:
                raise LayerShapeError(f"padding {p} leaves no output (size {o})")
            size.append(o)
        return (self.filters, size[0], size[1])

    def params(self, ins: Shapes) -> Params:
        return Params(ins[0][0] * floor_div(self.filters, self.groups) * self.kernel[0] * self.kernel[1],
                      self.filters if self.bias else 0)

    def macs(self, ins: Shapes, out: Shape) -> int:
        return numel(ins[0]) * floor_div(self.filters, self.groups) * self.kernel[0] * self.kernel[1]

    def ops(self, ins: Shapes, out: Shape) -> int:
        return numel(out) * (int(self.bias) + int(self.activation is not None))

    torch_module = "ConvTranspose2d"

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """The cuDNN transposed convolution (a backward-data pass), then the in-place bias add."""
        conv = Kernel(KernelClass.CONV if self.groups == 1 else KernelClass.CONV_GROUPED, self.macs(ins, out),
                      numel(ins[0]), numel(out), self.params(ins).weights,
                      channels=floor_div(self.filters, self.groups), window=self.kernel[0] * self.kernel[1])
        return (conv, Kernel(KernelClass.ELEMENTWISE, reads=numel(out), writes=numel(out))) if self.bias else (conv,)

    def torch_weight(self, ins: Shapes) -> Shape:
        """(C_in, C_out/G, K_h, K_w), as nn.ConvTranspose2d stores it."""
        return (ins[0][0], floor_div(self.filters, self.groups), *self.kernel)

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """nn.ConvTranspose2d."""
        return TorchCode("{m}({0})", "nn.ConvTranspose2d", (ins[0][0], self.filters), (
            ("kernel_size", tpair(self.kernel), ALWAYS), ("stride", tpair(self.stride), 1),
            ("padding", tpair(self.pad), 0), ("output_padding", tpair(self.output_padding), 0),
            ("groups", self.groups, 1), ("bias", self.bias, True), ("dilation", tpair(self.dilation), 1)))

    def receptive(self, rf: RF, ins: Shapes) -> RF:
        span = (self.taps(self.kernel[0], self.stride[0], self.dilation[0]),
                self.taps(self.kernel[1], self.stride[1], self.dilation[1]))
        return rf.taps(span, self.stride)

    @staticmethod
    def taps(kernel: int, stride: int, dilation: int) -> int:
        """Span, in input pixels, of the inputs that one output pixel of a transposed convolution
        reads on one axis, the largest over the S output phases.

        Output o gets input i through kernel tap d when i·S + d·D = o + P: for the phase
        φ = (o + P) mod S the taps are the d < K with d·D ≡ φ (mod S), and the span is
        (d_max − d_min)·D/S + 1.
        """
        spans = [1]
        for phase in range(stride):
            ds = [d for d in range(kernel) if (d * dilation - phase) % stride == 0]
            if ds:
                spans.append((ds[-1] - ds[0]) * dilation // stride + 1)
        return max(spans)

    def hyper(self) -> Hyper:
        return Hyper(str(self.filters), fmt_pair(self.kernel), fmt_pair(self.stride), fmt_pair(self.pad))

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        c, h, w = ins[0]
        (k, s, p, op, d) = (self.kernel[1], self.stride[1], self.pad[1], self.output_padding[1], self.dilation[1])
        return [
            Formula("W'", "(W − 1)·S − 2P + D·(K − 1) + output_padding + 1",
                    f"({w} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1", str(out[2])),
            Formula("Params", "C_in × C_out/G × K × K" + (" + C_out" if self.bias else ""),
                    f"{c} × {self.filters}/{self.groups} × {self.kernel[0]} × {k}"
                    + (f" + {self.filters}" if self.bias else ""), f"{self.params(ins).total:,}"),
            Formula("MACs", "(C_in × H × W) × (C_out/G × K × K)",
                    f"({c} × {h} × {w}) × ({self.filters}/{self.groups} × {self.kernel[0]} × {k})",
                    f"{self.macs(ins, out):,}"),
        ]
