"""Multi-head self-attention: over a whole sequence (ViT, MaxViT) and over shifted windows (Swin).

MACs convention: every multiply-accumulate of conv, deconv, fc and matmul counts, so an
attention layer's MACs are its four projections (Q, K, V and output, each an fc over the
tokens) plus the two products of the attention itself, QKᵀ (scores) and AV (weighted values).
This is what ``torch.utils.flop_counter.FlopCounterMode`` counts (2 FLOPs per MAC) for
``nn.MultiheadAttention`` and torchvision's Swin and MaxViT attention; softmax, scaling and
bias adds are ops, not MACs.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import model_validator

from ..errors import LayerShapeError
from .base import (
    ElemKind,
    Family,
    Formula,
    Hyper,
    Kernel,
    KernelClass,
    Layer,
    NonNegPair,
    Pair,
    Params,
    PosInt,
    Saved,
    Shape,
    Shapes,
    TorchCall,
    TorchCode,
    ceil_div,
    fmt_pair,
    fmt_shape,
    numel,
    register_layer,
)


def _heads_divide(e: int, heads: int, what: str) -> None:
    if e % heads:
        raise LayerShapeError(f"{what}: {e} features do not split into {heads} heads")


def _attention_kernels(g: int, n: int, e: int, heads: int) -> tuple[Kernel, ...]:
    """The eager kernels of ``g`` independent attentions over ``n`` tokens of ``e`` features."""
    return (
        Kernel(KernelClass.MATMUL, g * 3 * n * e * e, g * n * e, g * 3 * n * e, 3 * e * e, channels=e),
        Kernel(KernelClass.MATMUL, g * n * n * e, g * 2 * n * e, g * heads * n * n, channels=e // heads),
        Kernel(KernelClass.ELEMENTWISE, reads=g * heads * n * n, writes=g * heads * n * n),
        Kernel(KernelClass.MATMUL, g * n * n * e, g * (heads * n * n + n * e), g * n * e, channels=n),
        Kernel(KernelClass.MATMUL, g * n * e * e, g * n * e, g * n * e, e * e, channels=e),
    )


def _attention_saved(g: int, n: int, e: int, heads: int) -> tuple[Saved, ...]:
    """The input, Q, K, V, the attention weights and the per-head context, for backward."""
    return (Saved("input"), Saved("new", numel=3 * g * n * e), Saved("new", numel=g * heads * n * n),
            Saved("new", numel=g * n * e))


@register_layer("attention", "self_attention", "mha", "multihead_attention")
class Attention(Layer):
    """Multi-head self-attention over the tokens of a sequence [L, E] (``nn.MultiheadAttention``).

    An input [G₁, …, L, E] holds G = ΠGᵢ independent sequences (MaxViT's windows or grid cells);
    the output has the input's shape. ``heads`` split E into E/heads features each.
    ``relative_bias`` adds a learned bias per head and relative offset (MaxViT): a table of
    (2s − 1)² × heads for windows of s × s = L tokens.

    - Params: Q, K, V and output projections 4·E² weights + 4·E bias (ViT-B/16: 4 × 768² + 4 × 768
      = 2,362,368), plus (2s − 1)²·heads with ``relative_bias``.
    - Buffers: with ``relative_bias``, the L × L int64 index into the table.
    - MACs: G·(4·L·E² + 2·L²·E) — projections 3·L·E² + L·E², scores QKᵀ L²·E, AV L²·E.
    - Ops: G·(L·E + 3·heads·L² + 4·L·E) — scaling Q, softmax 3 per score, projection biases
      (4·L·E with ``bias``); + G·heads·L² relative-bias adds.
    """

    family = Family.FC
    torch_module = "MultiheadAttention"
    heads: PosInt
    bias: bool = True
    relative_bias: bool = False

    def _dims(self, ins: Shapes) -> tuple[int, int, int]:
        """(G, L, E)."""
        s = ins[0]
        if len(s) < 2:
            raise LayerShapeError(f"attention needs a sequence [L, E], got {fmt_shape(s)}")
        return numel(s[:-2]), s[-2], s[-1]

    def _side(self, n: int) -> int:
        s = math.isqrt(n)
        if s * s != n:
            raise LayerShapeError(f"a relative position bias needs a square window, got {n} tokens")
        return s

    def output_shape(self, ins: Shapes) -> Shape:
        _, n, e = self._dims(ins)
        _heads_divide(e, self.heads, "attention")
        if self.relative_bias:
            self._side(n)
        return ins[0]

    def params(self, ins: Shapes) -> Params:
        _, n, e = self._dims(ins)
        table = (2 * self._side(n) - 1) ** 2 * self.heads if self.relative_bias else 0
        return Params(4 * e * e + table, 4 * e if self.bias else 0)

    def param_tensors(self, ins: Shapes) -> tuple[int, ...]:
        """in_proj weight 3E², in_proj bias 3E, out_proj weight E², out_proj bias E, the bias table."""
        _, n, e = self._dims(ins)
        bias = (3 * e, e) if self.bias else (0, 0)
        table = (2 * self._side(n) - 1) ** 2 * self.heads if self.relative_bias else 0
        return tuple(x for x in (3 * e * e, bias[0], e * e, bias[1], table) if x)

    def buffers(self, ins: Shapes) -> int:
        return self._dims(ins)[1] ** 2 if self.relative_bias else 0

    def buffer_tensors(self, ins: Shapes) -> tuple[tuple[int, ElemKind], ...]:
        n = self.buffers(ins)
        return ((n, "int64"),) if n else ()

    def macs(self, ins: Shapes, out: Shape) -> int:
        g, n, e = self._dims(ins)
        return g * (4 * n * e * e + 2 * n * n * e)

    def ops(self, ins: Shapes, out: Shape) -> int:
        g, n, e = self._dims(ins)
        per = n * e + 3 * self.heads * n * n + (4 * n * e if self.bias else 0)
        return g * (per + (self.heads * n * n if self.relative_bias else 0))

    def hyper(self) -> Hyper:
        return Hyper(f"{self.heads}h", "", "", "")

    def torch_weight(self, ins: Shapes) -> Shape:
        """in_proj_weight (3E, E), as nn.MultiheadAttention stores it."""
        e = self._dims(ins)[2]
        return (3 * e, e)

    #: The calls ``torch_calls`` gives (see there).
    torch_modules: ClassVar[tuple[str, ...]] = ("MultiheadAttention", "Linear", "Softmax", "einsum")

    def torch_calls(self, ins: Shapes, out: Shape) -> tuple[TorchCall, ...]:
        """nn.MultiheadAttention (ViT); with ``relative_bias`` torchvision's MaxViT attention: an
        nn.Linear to Q, K, V, QKᵀ by torch.einsum, F.softmax over G·heads·L² scores, AV by
        torch.einsum and an nn.Linear merge."""
        g, n, e = self._dims(ins)
        s = ins[0]
        b = 3 * e if self.bias else 0
        if not self.relative_bias:
            return (TorchCall(self.torch_module, tuple(ins), out, (3 * e, e), b, heads=self.heads),)
        d = e // self.heads
        heads = (g * self.heads, n, d)
        scores = (g * self.heads, n, n)
        return (TorchCall("Linear", (s,), (*s[:-1], 3 * e), (3 * e, e), b),
                TorchCall("einsum", (heads, (g * self.heads, d, n)), scores),
                TorchCall("Softmax", (scores,), scores, functional=True),
                TorchCall("einsum", (scores, heads), heads),
                TorchCall("Linear", (s,), out, (e, e), e if self.bias else 0))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """QKV projection, QKᵀ, softmax, AV, output projection."""
        g, n, e = self._dims(ins)
        return _attention_kernels(g, n, e, self.heads)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        g, n, e = self._dims(ins)
        return _attention_saved(g, n, e, self.heads)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        g, n, e = self._dims(ins)
        gs = f"{g} × " if g != 1 else ""
        out_f = [Formula("Params", "4·E² + 4·E" if self.bias else "4·E²",
                         f"4 × {e}²" + (f" + 4 × {e}" if self.bias else ""), f"{4 * e * e + (4 * e if self.bias else 0):,}")]
        if self.relative_bias:
            s = self._side(n)
            out_f.append(Formula("Bias table", "(2s − 1)² × heads", f"(2 × {s} − 1)² × {self.heads}",
                                 f"{(2 * s - 1) ** 2 * self.heads:,}"))
        out_f.append(Formula("MACs", ("G·" if g != 1 else "") + "(4·L·E² + 2·L²·E)",
                             f"{gs}(4 × {n} × {e}² + 2 × {n}² × {e})", f"{self.macs(ins, out):,}"))
        return out_f

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """The helper SelfAttention: nn.MultiheadAttention's projections (qkv 3E × E, out E × E)
        with the attention written as matmuls (the module's eval fast path is one fused op that
        FlopCounterMode cannot see), over the last two axes; MaxViT's relative bias when asked."""
        _, n, e = self._dims(ins)
        return TorchCode("{m}({0})", "SelfAttention", (e, self.heads), (
            ("bias", self.bias, True), ("window", self._side(n) if self.relative_bias else 0, 0)),
            helper=_SELF_ATTENTION)


@register_layer("window_attention", "swin_attention", "shifted_window_attention")
class WindowAttention(Layer):
    """Swin's (shifted) window multi-head self-attention on a channels-last map [H, W, C].

    The map is padded at the bottom/right to multiples of the window, H_p = ⌈H/w_h⌉·w_h (W_p
    likewise), cyclically shifted by ``shift`` (no shift on an axis the window covers whole),
    cut into windows of N = w_h·w_w tokens and attended within each window, with a learned
    relative position bias per head; the output has the input's shape. ``version: 2`` (Swin V2)
    takes cosine attention with a learned logit scale per head and makes the bias with a small
    MLP (2 → ``cpb_hidden`` → heads) from a table of (2w_h − 1)(2w_w − 1) relative coordinates.

    With T = H_p·W_p tokens, R = (2w_h − 1)(2w_w − 1) relative offsets:
    - Params: 4·C² weights + 4·C bias (``bias``) of the QKV and output projections, plus
      v1: the bias table R·heads; v2: the MLP 2·hidden + hidden (bias) + hidden·heads and the
      logit scales (heads).
    - Buffers: the N² int64 relative index; v2 also the R × 2 coordinate table.
    - MACs: 4·T·C² + 2·T·N·C (projections, QKᵀ and AV per window); v2 adds the bias MLP on
      the table, R·hidden·(2 + heads).
    - Ops: T·C (scale) + 3·heads·T·N (softmax) + heads·T·N (bias add) + 4·T·C (projection
      biases, ``bias``) + heads·T·N (mask add, when shifted).
    """

    family = Family.FC
    torch_module = "ShiftedWindowAttention"
    heads: PosInt
    window: Pair
    shift: NonNegPair = (0, 0)
    version: Literal[1, 2] = 1
    bias: bool = True
    cpb_hidden: PosInt = 512

    @model_validator(mode="after")
    def _shift_in_window(self) -> WindowAttention:
        if any(s >= w for s, w in zip(self.shift, self.window)):
            raise ValueError(f"shift {list(self.shift)} must be smaller than the window {list(self.window)}")
        return self

    def _dims(self, ins: Shapes) -> tuple[int, int, int, int]:
        """(padded H, padded W, C, tokens per window)."""
        s = ins[0]
        if len(s) != 3:
            raise LayerShapeError(f"window_attention needs a channels-last map [H, W, C], got {fmt_shape(s)}")
        wh, ww = self.window
        return ceil_div(s[0], wh) * wh, ceil_div(s[1], ww) * ww, s[2], wh * ww

    def _offsets(self) -> int:
        return (2 * self.window[0] - 1) * (2 * self.window[1] - 1)

    def shifted(self, ins: Shapes) -> bool:
        """Whether any axis is shifted: an axis whose window covers the padded map is not."""
        hp, wp, _, _ = self._dims(ins)
        return any(s and w < p for s, w, p in zip(self.shift, self.window, (hp, wp)))

    def output_shape(self, ins: Shapes) -> Shape:
        _heads_divide(self._dims(ins)[2], self.heads, "window_attention")
        return ins[0]

    def warnings(self, ins: Shapes) -> list[str]:
        hp, wp, _, _ = self._dims(ins)
        if (hp, wp) != tuple(ins[0][:2]):
            return [f"{ins[0][0]}×{ins[0][1]} is padded to {hp}×{wp}, a multiple of the window "
                    f"{fmt_pair(self.window)}; the padding is computed on"]
        return []

    def params(self, ins: Shapes) -> Params:
        c = self._dims(ins)[2]
        r, h, k = self._offsets(), self.heads, self.cpb_hidden
        extra_w, extra_b = (r * h, 0) if self.version == 1 else (2 * k + k * h + h, k)
        return Params(4 * c * c + extra_w, (4 * c if self.bias else 0) + extra_b)

    def param_tensors(self, ins: Shapes) -> tuple[int, ...]:
        """qkv weight and bias, proj weight and bias, then the v1 table or v2's logit scale and MLP."""
        c = self._dims(ins)[2]
        r, h, k = self._offsets(), self.heads, self.cpb_hidden
        proj = (3 * c * c, 3 * c if self.bias else 0, c * c, c if self.bias else 0)
        extra = (r * h,) if self.version == 1 else (h, 2 * k, k, k * h)
        return tuple(x for x in (*proj, *extra) if x)

    def buffer_tensors(self, ins: Shapes) -> tuple[tuple[int, ElemKind], ...]:
        n = self._dims(ins)[3]
        index: tuple[int, ElemKind] = (n * n, "int64")
        return (index,) if self.version == 1 else ((self._offsets() * 2, "float"), index)

    def buffers(self, ins: Shapes) -> int:
        return sum(n for n, _ in self.buffer_tensors(ins))

    def macs(self, ins: Shapes, out: Shape) -> int:
        hp, wp, c, n = self._dims(ins)
        t = hp * wp
        mlp = self._offsets() * self.cpb_hidden * (2 + self.heads) if self.version == 2 else 0
        return 4 * t * c * c + 2 * t * n * c + mlp

    def ops(self, ins: Shapes, out: Shape) -> int:
        hp, wp, c, n = self._dims(ins)
        t = hp * wp
        scores = self.heads * t * n
        return t * c + 4 * scores + (4 * t * c if self.bias else 0) + (scores if self.shifted(ins) else 0)

    def hyper(self) -> Hyper:
        return Hyper(f"{self.heads}h", fmt_pair(self.window), "", "")

    def torch_weight(self, ins: Shapes) -> Shape:
        """qkv.weight (3C, C)."""
        c = self._dims(ins)[2]
        return (3 * c, c)

    #: The calls ``torch_calls`` gives (see there).
    torch_modules: ClassVar[tuple[str, ...]] = ("Linear", "matmul", "__matmul__", "Softmax", "ReLU")

    def torch_calls(self, ins: Shapes, out: Shape) -> tuple[TorchCall, ...]:
        """torchvision's shifted_window_attention on the padded map: F.linear to Q, K, V; QKᵀ
        by Tensor.matmul (v2: ``a @ b`` of the normalised Q and K); F.softmax; AV by
        Tensor.matmul; F.linear back. V2 first runs its bias MLP once per forward, on its table of
        R relative offsets: nn.Linear(2, hidden), nn.ReLU, nn.Linear(hidden, heads, bias=False)."""
        hp, wp, c, n = self._dims(ins)
        t = hp * wp
        d = c // self.heads
        heads = (t // n * self.heads, n, d)
        scores = (t // n * self.heads, n, n)
        tokens = (t, c)
        b = 3 * c if self.bias else 0
        r, k, h = self._offsets(), self.cpb_hidden, self.heads
        mlp = (TorchCall("Linear", ((r, 2),), (r, k), (k, 2), k, once=True),
               TorchCall("ReLU", ((r, k),), (r, k), once=True),
               TorchCall("Linear", ((r, k),), (r, h), (h, k), once=True)) if self.version == 2 else ()
        return (*mlp,
                TorchCall("Linear", (tokens,), (t, 3 * c), (3 * c, c), b, functional=True),
                TorchCall("matmul" if self.version == 1 else "__matmul__", (heads, (heads[0], d, n)), scores),
                TorchCall("Softmax", (scores,), scores, functional=True),
                TorchCall("matmul", (scores, heads), heads),
                TorchCall("Linear", (tokens,), tokens, (c, c), c if self.bias else 0, functional=True))

    def kernels(self, ins: Shapes, out: Shape, train: bool) -> tuple[Kernel, ...]:
        """Pad, roll and window-partition copies, then attention per window, then the way back;
        v2 first runs its bias MLP on the R × 2 table (R·hidden·(2 + heads) MACs)."""
        hp, wp, c, n = self._dims(ins)
        t = hp * wp
        copy = Kernel(KernelClass.COPY, reads=t * c, writes=t * c)
        r, k, h = self._offsets(), self.cpb_hidden, self.heads
        mlp = (Kernel(KernelClass.MATMUL, r * k * (2 + h), 2 * r, h * r, 3 * k + k * h, channels=k),) \
            if self.version == 2 else ()
        return (*mlp, copy, *_attention_kernels(t // n, n, c, self.heads), copy)

    def saved_for_backward(self, ins: Shapes, out: Shape) -> tuple[Saved, ...]:
        hp, wp, c, n = self._dims(ins)
        return _attention_saved((hp * wp) // n, n, c, self.heads)

    def explain(self, ins: Shapes, out: Shape) -> list[Formula]:
        hp, wp, c, n = self._dims(ins)
        t = hp * wp
        out_f = [Formula("Tokens", "T = H_p × W_p", f"{hp} × {wp}", f"{t:,}"),
                 Formula("MACs", "4·T·C² + 2·T·N·C" + (" + R·hidden·(2 + heads)" if self.version == 2 else ""),
                         f"4 × {t} × {c}² + 2 × {t} × {n} × {c}"
                         + (f" + {self._offsets()} × {self.cpb_hidden} × (2 + {self.heads})"
                            if self.version == 2 else ""),
                         f"{self.macs(ins, out):,}"),
                 Formula("Params", "4·C² + 4·C + " + ("R·heads" if self.version == 1 else "MLP + heads"),
                         f"4 × {c}² + 4 × {c} + …", f"{self.params(ins).total:,}")]
        return out_f

    def torch_code(self, ins: Shapes, out: Shape) -> TorchCode:
        """The helper ShiftedWindowAttention: torchvision's Swin (v1) / Swin V2 window attention
        with the same parameters and buffers, on an [N, H, W, C] map."""
        c = self._dims(ins)[2]
        return TorchCode("{m}({0})", "ShiftedWindowAttention", (c, list(self.window), list(self.shift), self.heads), (
            ("bias", self.bias, True), ("version", self.version, 1), ("cpb_hidden", self.cpb_hidden, 512)),
            helper=_WINDOW_ATTENTION)


# ----------------------------------------------------------------------------- PyTorch helpers (cnncalc torch)

_SELF_ATTENTION = '''class SelfAttention(nn.Module):
    """Multi-head self-attention over the last two axes [..., L, E], as nn.MultiheadAttention
    computes it, written as matmuls; ``window`` s makes it torchvision's MaxViT attention, with a
    relative position bias (a (2s − 1)² × heads table, indexed per pair of the s × s tokens)."""

    def __init__(self, dim: int, heads: int, bias: bool = True, window: int = 0) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        if window:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
            ij = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
            rel = (ij[:, :, None] - ij[:, None, :]).permute(1, 2, 0) + (window - 1)
            self.register_buffer("relative_position_index", rel[..., 0] * (2 * window - 1) + rel[..., 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-2], shape[-1])
        b, n, e = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, e // self.heads).permute(2, 0, 3, 1, 4)
        # torchvision's MaxViT scales by E^-1/2, nn.MultiheadAttention by (E/heads)^-1/2
        attn = (q * (e if self.window else e // self.heads) ** -0.5) @ k.transpose(-2, -1)
        if self.window:
            attn = attn + self.relative_position_bias_table[self.relative_position_index].permute(2, 0, 1)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, e)
        return self.proj(x).reshape(shape)
'''

_WINDOW_ATTENTION = '''class ShiftedWindowAttention(nn.Module):
    """Swin's (shifted) window attention on [N, H, W, C], as torchvision's ShiftedWindowAttention
    (``version`` 1) and ShiftedWindowAttentionV2 (2: cosine attention, a logit scale per head
    and the relative bias from a 2 → cpb_hidden → heads MLP), with the same parameters and buffers."""

    def __init__(self, dim: int, window_size: list[int], shift_size: list[int], num_heads: int,
                 bias: bool = True, version: int = 1, cpb_hidden: int = 512) -> None:
        super().__init__()
        self.window_size, self.shift_size, self.num_heads, self.version = window_size, shift_size, num_heads, version
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        wh, ww = window_size
        ij = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        rel = (ij[:, :, None] - ij[:, None, :]).permute(1, 2, 0)
        index = (rel[..., 0] + wh - 1) * (2 * ww - 1) + rel[..., 1] + ww - 1
        if version == 1:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        else:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones((num_heads, 1, 1))))
            self.cpb_mlp = nn.Sequential(nn.Linear(2, cpb_hidden), nn.ReLU(inplace=True),
                                         nn.Linear(cpb_hidden, num_heads, bias=False))
            table = torch.stack(torch.meshgrid(torch.arange(1 - wh, wh, dtype=torch.float32),
                                               torch.arange(1 - ww, ww, dtype=torch.float32), indexing="ij"), -1)
            table = table / torch.tensor([max(wh - 1, 1), max(ww - 1, 1)]) * 8
            table = torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0
            self.register_buffer("relative_coords_table", table[None])
        self.register_buffer("relative_position_index", index.flatten())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        (wh, ww), heads = self.window_size, self.num_heads
        x = F.pad(x, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
        hp, wp = x.shape[1], x.shape[2]
        sh, sw = (0 if win >= side else s for win, side, s in zip(self.window_size, (hp, wp), self.shift_size))
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        nh, nw, n = hp // wh, wp // ww, wh * ww
        x = x.view(b, nh, wh, nw, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, n, c)
        qkv_bias = self.qkv.bias
        if self.version == 2 and qkv_bias is not None:  # V2 learns no key bias (kept at zero)
            qkv_bias = torch.cat([qkv_bias[:c], torch.zeros_like(qkv_bias[c:2 * c]), qkv_bias[2 * c:]])
        q, k, v = F.linear(x, self.qkv.weight, qkv_bias).reshape(-1, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        if self.version == 1:
            attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
            bias = self.relative_position_bias_table[self.relative_position_index]
        else:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=4.605170185988092).exp()  # log 100
            bias = 16 * torch.sigmoid(self.cpb_mlp(self.relative_coords_table).view(-1, heads)[self.relative_position_index])
        attn = attn + bias.view(n, n, heads).permute(2, 0, 1)
        if sh or sw:
            mask = x.new_zeros((hp, wp))
            count = 0
            for r in ((0, -wh), (-wh, -sh), (-sh, None)):
                for s in ((0, -ww), (-ww, -sw), (-sw, None)):
                    mask[r[0]:r[1], s[0]:s[1]] = count
                    count += 1
            mask = mask.view(nh, wh, nw, ww).permute(0, 2, 1, 3).reshape(nh * nw, n)
            mask = mask[:, None] - mask[:, :, None]
            mask = mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)
            attn = (attn.view(b, nh * nw, heads, n, n) + mask[None, :, None]).view(-1, heads, n, n)
        x = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, c))
        x = x.view(b, nh, nw, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if sh or sw:
            x = torch.roll(x, shifts=(sh, sw), dims=(1, 2))
        return x[:, :h, :w, :].contiguous()
'''
