"""How other tools count: torchinfo, fvcore, ptflops, thop and PyTorch's FlopCounterMode, over analysis rows.

Each tool hooks PyTorch modules (or traces aten operators) and applies its own rule per module
type. A convention here is that table of rules, written from the tool's source, keyed by the
torch.nn class each layer kind declares (``Layer.torch_module``, ``Layer.torch_calls``), so that
``cnncalc table SPEC --convention fvcore`` prints the figure the tool prints for the same model
and says which layers make the difference to cnncalc's MACs.

Every rule counts one call for a batch of N and assumes the ordinary PyTorch idiom for a kind:
ReLU, pooling, BatchNorm, Upsample as nn modules (a layer marked ``functional: true`` is the
module's function instead, ``F.relu(x)``, counted by ``Convention.functions``); a residual sum as ``a + b``, concatenation
as ``torch.cat``, squeeze-excitation as ``x * s``, flatten as ``torch.flatten``, ``global_avgpool``
as ``x.mean((2, 3))`` (no tool counts these operators); ``adaptive_avgpool`` is
``nn.AdaptiveAvgPool2d``, as in torchvision's ResNets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .analysis import Analysis, Row
from .choices import ConventionName as ConventionName
from .columns import Column
from .layers import Layer
from .layers.base import TorchCall

if TYPE_CHECKING:
    from .compare import Extra

#: One rule: the count of one call for a batch of ``n`` (a fraction where the tool divides by the batch).
Count = Callable[[TorchCall, int], int | Fraction]


@dataclass(frozen=True)
class Rule:
    """How a tool counts one module type: the count, and the same in words."""

    count: Count
    note: str


@dataclass(frozen=True)
class Convention:
    """A tool's counting rules, by torch.nn class name (or operator name for non-modules).

    ``default`` applies to module calls no rule names (torchinfo's rule is generic: any module
    with a weight or bias). ``per_mac``: what the tool counts for one conv/linear multiply-add.
    ``functions``: the rules for a module's function called instead of the module (``F.relu(x)``
    for ``ReLU``; a layer marked ``functional: true``), by the same module name; None where the
    tool traces operators, so that a function counts as its module does (fvcore, FlopCounterMode).
    """

    name: str
    tool: str
    prints: str
    unit: str
    per_mac: int
    rules: Mapping[str, Rule]
    how: str
    default: Rule | None = None
    functions: Mapping[str, Rule] | None = None
    #: The tool divides what its module hooks saw by the batch (ptflops), not what functions saw.
    divides: bool = False

    def rule(self, call: TorchCall) -> Rule | None:
        """The rule for a call, or None when the tool counts nothing for it."""
        if call.functional and self.functions is not None:
            return self.functions.get(call.module)
        r = self.rules.get(call.module)
        if r is None and call.is_module and self.default is not None:
            return self.default
        return r

    def count(self, call: TorchCall, n: int) -> int | Fraction:
        """The tool's figure for one call with batch ``n``.

        A call that runs ``once`` per forward counts as one sample would; where the tool divides
        its module hooks by the batch (ptflops), a rule is A + N·B (module part A, function part
        B per sample), so the call counts A/N + B.
        """
        r = self.rule(call)
        if r is None:
            return 0
        if not call.once:
            return r.count(call, n)
        one = r.count(call, 1)
        if not self.divides:
            return one
        b = r.count(call, 2) - one
        return Fraction(one - b, n) + b


# ----------------------------------------------------------------------------- helpers

def _n(shape: Sequence[int]) -> int:
    return math.prod(shape)


def _positions(shape: Sequence[int]) -> int:
    """Spatial positions of a (C, H, W) shape; 1 for a flat vector."""
    return _n(shape[1:]) if len(shape) > 1 else 1


def _w(call: TorchCall) -> int:
    return _n(call.weight) if call.weight else 0


def _kernel(call: TorchCall) -> int:
    return _n(call.weight[2:])


def _in(call: TorchCall) -> int:
    return _n(call.ins[0])


def _out(call: TorchCall) -> int:
    return _n(call.out)


def _conv_macs(call: TorchCall, n: int) -> int:
    """prod(weight) × positions: output positions for a conv, input positions for a transposed one."""
    pos = _positions(call.ins[0]) if call.module == "ConvTranspose2d" else _positions(call.out)
    return n * _w(call) * pos


def _linear_macs(call: TorchCall, n: int) -> int:
    return n * _in(call) * call.weight[0]


# ----------------------------------------------------------------------------- torchinfo

def _torchinfo(call: TorchCall, n: int) -> int:
    params = _w(call) + call.bias
    if "Conv" in call.module:
        return params * n * _positions(call.out)
    return params * n


TORCHINFO = Convention(
    "torchinfo", "torchinfo 1.8.0", "Total mult-adds", "mult-adds", 1, {
        "Conv2d": Rule(_torchinfo, "(weights + bias) × output positions: the bias is counted"),
        "ConvTranspose2d": Rule(_torchinfo, "(weights + bias) × *output* positions (cnncalc: weights × input "
                                            "positions)"),
    },
    how=("summary(model, input_size=(N, C, H, W)).total_mult_adds: every leaf module with a weight or bias "
         "counts its parameters (bias included) × output positions for a Conv, × N otherwise "
         "(LayerInfo.calculate_macs)"),
    default=Rule(_torchinfo, "its parameters once per sample (Linear: bias counted; BatchNorm: γ and β, "
                             "not per element); parameter-free modules 0"),
    functions={},
)
"""torchinfo 1.8.0, ``summary(...).total_mult_adds`` ("Total mult-adds"), from ``LayerInfo.calculate_macs``:

- every leaf nn.Module that has a ``weight`` or ``bias`` parameter counts (weight + bias elements)
  × output positions N·H'·W' when "Conv" is in its class name — so conv bias is counted, and a
  transposed conv is counted over its *output* positions (cnncalc: input positions);
- any other module with parameters counts (weight + bias elements) × N: Linear counts its bias,
  BatchNorm counts 2·C (γ and β once, not per element), LayerNorm its γ and β;
- modules without parameters (ReLU, pooling, Dropout, Upsample) and all functions/operators
  (F.relu, F.adaptive_avg_pool2d, torch.flatten: layers marked ``functional: true``): 0.
"""


# ----------------------------------------------------------------------------- fvcore

def _fvcore_norm(per: int, per_plain: int) -> Count:
    return lambda c, n: n * _in(c) * (per if c.weight else per_plain)


FVCORE = Convention(
    "fvcore", "fvcore 0.1.5.post20221221", "FlopCountAnalysis(...).total()", "flops", 1, {
        "Conv2d": Rule(_conv_macs, "N × prod(weight) × output positions (bias ignored)"),
        "ConvTranspose2d": Rule(_conv_macs, "N × prod(weight) × *input* positions (bias ignored)"),
        "Linear": Rule(_linear_macs, "N × in × out (bias ignored)"),
        "BatchNorm2d": Rule(_fvcore_norm(2, 1), "2 per input element in eval mode (1 without affine)"),
        "LayerNorm": Rule(_fvcore_norm(5, 4), "5 per input element (4 without affine)"),
        "LayerNorm2d": Rule(_fvcore_norm(5, 4), "5 per input element (4 without affine): aten layer_norm"),
        "AdaptiveAvgPool2d": Rule(lambda c, n: n * _in(c), "1 per input element"),
        "Upsample": Rule(lambda c, n: n * _out(c) * (4 if c.mode == "bilinear" else 1),
                         "1 per output element (nearest), 4 (bilinear)"),
        **{k: Rule(lambda c, n: n * _product(c), "N × multiply-adds (matmul/bmm/einsum handles)")
           for k in ("matmul", "__matmul__", "einsum")},
    },
    how=("FlopCountAnalysis(model.eval(), x).total(): jit-traced aten ops, one fused multiply-add = one flop; "
         "only convolution, linear/matmul, batch_norm, group/layer/instance norm, upsample and "
         "adaptive_avg_pool2d have handles — ReLU, max/avg pooling, add, mul, softmax are skipped"),
)
"""fvcore 0.1.5, ``FlopCountAnalysis(model, x).total()`` with the model in eval mode
(``_DEFAULT_SUPPORTED_OPS`` in fvcore/nn/flop_count.py, handles in jit_handles.py):

- ``aten::_convolution``: N × prod(weight shape) × output positions; transposed: × *input*
  positions. Bias ignored. ``aten::linear``/``addmm``/``matmul``: N × in × out, bias ignored.
- ``aten::batch_norm`` in eval mode: 2 per input element with affine, 1 without (training: 5/4).
- ``aten::layer_norm``/``group_norm``: 5 per input element with affine, 4 without.
- ``aten::adaptive_avg_pool2d``: 1 per input element; ``upsample_nearest2d`` 1, ``upsample_bilinear2d``
  4 per output element.
- everything else — relu and other activations, max/avg pooling, add, mul, cat, softmax, LRN — 0.
"""


# ----------------------------------------------------------------------------- ptflops

# ptflops divides what its module hooks saw by the batch size (compute_average_flops_cost), but
# adds what the patched functionals saw for the whole batch afterwards: a module's part is per
# sample, a functional's part is × N.

def _ptflops_conv(c: TorchCall, n: int) -> int:
    return _conv_macs(c, 1) + (_out(c) if c.bias else 0)


def _ptflops_linear(c: TorchCall, n: int) -> int:
    """(in · out + out) × positions: the bias once per position (a token's, or 1 for a vector)."""
    return (c.weight[1] * c.weight[0] + c.bias) * (_in(c) // c.weight[1])


def _ptflops_norm(c: TorchCall, n: int) -> int:
    return _in(c) * (2 if c.weight and c.module != "LayerNorm" else 1)


def _ptflops_lrn(c: TorchCall, n: int) -> int:
    ch, h, w = c.ins[0]
    return n * (3 * ch * h * w + (ch + c.window - 1) * h * w)


def _ptflops_mha(c: TorchCall, n: int) -> int:
    """nn.MultiheadAttention's hook on L tokens of E: L·E (scaling Q) + 3·L·E² (+ 3·L·E in_proj
    bias) + heads·(2·L²·E/heads + L²) (QKᵀ, softmax, AV) + L·E·(E + 1) (out_proj, bias always)."""
    g = _n(c.ins[0][:-2])
    length, e = c.ins[0][-2], c.ins[0][-1]
    return g * (length * e + 3 * length * e * e + (3 * length * e if c.bias else 0)
                + c.heads * (2 * length * length * (e // c.heads) + length * length) + length * e * (e + 1))


def _product(c: TorchCall) -> int:
    """Multiply-adds of a matrix product: numel(a) × b's last dimension."""
    return _n(c.ins[0]) * c.ins[1][-1]


def _module_and_functional(size: Callable[[TorchCall], int]) -> Count:
    return lambda c, n: size(c) + n * size(c)


def _functional(size: Callable[[TorchCall], int]) -> Count:
    return lambda c, n: n * size(c)


_F_OUT = Rule(_functional(_out), "N per element: the patched function, for the whole batch (no module hook)")
_F_IN = Rule(_functional(_in), "N per input element: the patched function, for the whole batch (no module hook)")


PTFLOPS = Convention(
    "ptflops", "ptflops 0.7.5", "get_model_complexity_info(...)[0]", "MACs", 1, {
        "Conv2d": Rule(_ptflops_conv, "MACs + 1 per output element for the bias"),
        "ConvTranspose2d": Rule(_ptflops_conv, "MACs (over input positions) + 1 per output element for the bias"),
        "Linear": Rule(_ptflops_linear, "(in × out + out) per position (bias counted)"),
        "BatchNorm2d": Rule(_ptflops_norm, "2 per input element with affine, 1 without"),
        "LayerNorm": Rule(_ptflops_norm, "1 per input element (its affine flag is named elementwise_affine, "
                                         "so the 2× branch never fires)"),
        "ReLU": Rule(_module_and_functional(_out), "1 per element from the module hook, N more from the patched "
                                                   "F.relu that nn.ReLU calls"),
        "GELU": Rule(_module_and_functional(_out), "1 + N per element (module hook + patched F.gelu)"),
        "LeakyReLU": Rule(lambda c, n: _out(c), "1 per element (module hook only)"),
        "ReLU6": Rule(lambda c, n: _out(c), "1 per element (module hook; F.hardtanh is not patched)"),
        "SiLU": Rule(lambda c, n: n * _out(c), "N per element (patched F.silu; no module hook)"),
        "Softmax": Rule(lambda c, n: n * _in(c), "N per element (patched F.softmax; no module hook)"),
        "MaxPool2d": Rule(_module_and_functional(_in), "1 + N per input element (module hook + patched "
                                                       "F.max_pool2d)"),
        "AvgPool2d": Rule(_module_and_functional(_in), "1 + N per input element (module hook + patched "
                                                       "F.avg_pool2d)"),
        "AdaptiveAvgPool2d": Rule(_module_and_functional(_in), "1 + N per input element (module hook + "
                                                               "patched F.adaptive_avg_pool2d)"),
        "AdaptiveMaxPool2d": Rule(_module_and_functional(_in), "1 + N per input element (module hook + "
                                                               "patched F.adaptive_max_pool2d)"),
        "Upsample": Rule(lambda c, n: Fraction(_out(c), n) + n * _out(c),
                         "N + 1/N per output element: the patched F.interpolate counts the batch, the module "
                         "hook one sample (output[0]), which is then divided by N"),
        "MultiheadAttention": Rule(_ptflops_mha, "L·E + 4·L·E² + 2·L²·E + heads·L² + 4·L·E (3 without "
                                                 "in_proj bias): its own hook, softmax and Q scaling included"),
        "matmul": Rule(lambda c, n: n * _product(c), "N × multiply-adds: the patched torch.matmul/Tensor.matmul "
                                                     "(a @ b and torch.einsum are not patched)"),
        "LocalResponseNorm": Rule(_ptflops_lrn, "N × (3·C·H·W + (C + size − 1)·H·W): the patched Tensor.mul "
                                                "(twice), Tensor.add and F.avg_pool3d inside F.local_response_norm"),
    },
    how=("get_model_complexity_info(model, (C, H, W), as_strings=False) with the default pytorch backend: "
         "forward hooks on known nn modules, divided by the batch size, plus patched torch.nn.functional "
         "calls, not divided — a module whose forward calls a patched function (nn.ReLU → F.relu, "
         "nn.MaxPool2d → F.max_pool2d) is counted twice at batch 1; a + b, x * s and torch.cat are "
         "operators and not counted"),
    divides=True,
    functions={
        "ReLU": _F_OUT, "ReLU6": _F_OUT, "GELU": _F_OUT, "SiLU": _F_OUT, "Softmax": _F_IN,
        "MaxPool2d": _F_IN, "AvgPool2d": _F_IN, "AdaptiveAvgPool2d": _F_IN, "AdaptiveMaxPool2d": _F_IN,
        "Upsample": Rule(_functional(_out), "N per output element: the patched F.interpolate (size: N·C·∏ size; "
                                            "scale_factor: input elements × s²), no module hook"),
    },
)
"""ptflops 0.7.5, ``get_model_complexity_info(model, (C, H, W), as_strings=False)[0]`` with the
default pytorch backend and ``count_functional=True`` (pytorch_ops.py, pytorch_engine.py):

- module hooks (their sum is divided by the batch size N, so they count one sample):
  Conv2d = K²·C_in·C_out/G per output position + C_out·H'·W' for the bias; ConvTranspose2d the
  same over *input* positions; Linear = (in·out + out) per position (of a token layout; 1 for a
  vector); BatchNorm2d 2 per input element (1 without
  affine); LayerNorm 1 (``affine`` is not its attribute); ReLU/ReLU6/LeakyReLU/ELU/PReLU/GELU 1 per
  output element; Max/Avg/Adaptive pooling 1 per *input* element; Upsample 1 per output element of
  one sample (its hook reads ``output[0]``), so 1/N after the division.
- patched functionals add their count for the whole batch (not divided) when a module's forward
  calls them: F.relu (nn.ReLU), F.gelu, F.max_pool2d, F.avg_pool2d, F.adaptive_avg/max_pool2d,
  F.interpolate (nn.Upsample) — so those modules count 1 + N times; F.silu and F.softmax count
  N times (no module hook); nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.ReLU6 (F.hardtanh) and
  LeakyReLU (F.leaky_relu) are not patched.
- a function called in the model's own forward (a layer marked ``functional: true``) has no
  module hook: F.relu, F.relu6, F.gelu, F.silu, F.softmax, F.max/avg_pool2d,
  F.adaptive_avg/max_pool2d and F.interpolate count N × their numel (input elements; output
  elements for F.relu and F.interpolate, the same for an activation); the rest (F.leaky_relu,
  F.hardswish, torch.sigmoid, F.linear, F.layer_norm, torch.flatten) count 0.
- torch.add/mul and Tensor.add/mul are patched but ``a + b`` and ``x * s`` bypass them; cat 0.
- LocalResponseNorm: no module hook, but F.local_response_norm calls the patched Tensor.mul
  twice, Tensor.add once (C·H·W each) and F.avg_pool3d on (C + size − 1)·H·W elements, × N.
- So the figure is not linear in the batch: it is "per image" only at batch 1. The sum is a
  float, truncated by ``int()``.
"""


# ----------------------------------------------------------------------------- thop

def _thop_conv(c: TorchCall, n: int) -> int:
    # calculate_conv2d_flops: output numel × (C_in // G) × K_h·K_w, the weight's trailing dims.
    c_in = c.ins[0][0]
    groups = c_in // c.weight[1] if c.module == "Conv2d" else c.out[0] // c.weight[1]
    return n * _out(c) * (c_in // groups) * _kernel(c)


def _thop_norm(c: TorchCall, n: int) -> int:
    return n * _in(c) * (4 if c.weight else 2)


def _thop_softmax(c: TorchCall, n: int) -> int:
    f = c.ins[0][0]
    return n * (_in(c) // f) * (3 * f - 1)


def _thop_adaptive(c: TorchCall, n: int) -> int:
    # float64 as thop computes it: (∏ in/out + 1) × output numel, truncated by int()
    kernel = 1.0
    for i, o in zip(c.ins[0][1:], c.out[1:]):
        kernel *= i / o
    return int((kernel + 1) * (n * _out(c)))


_THOP_UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}

THOP = Convention(
    "thop", "thop 0.1.1.post2209072238", "profile(model, inputs=(x,))[0]", "MACs", 1, {
        "Conv2d": Rule(_thop_conv, "output elements × C_in/G × K² (bias ignored)"),
        "ConvTranspose2d": Rule(_thop_conv, "the conv formula on the *output*: output elements × C_in/G × K² "
                                            "(cnncalc: input elements × C_out/G × K²)"),
        "Linear": Rule(lambda c, n: n * c.weight[1] * _out(c), "in × out (bias ignored)"),
        "BatchNorm2d": Rule(_thop_norm, "4 per input element with affine (2 × 2), 2 without"),
        "LayerNorm": Rule(_thop_norm, "4 per input element with elementwise_affine, 2 without"),
        "Softmax": Rule(_thop_softmax, "(3F − 1) per vector of F: exp, sum, divide"),
        "AvgPool2d": Rule(lambda c, n: n * _out(c), "1 per output element"),
        "AdaptiveAvgPool2d": Rule(_thop_adaptive, "(H·W/(H'·W') + 1) per output element"),
        "Upsample": Rule(lambda c, n: n * _out(c) * _THOP_UPSAMPLE.get(c.mode, 0),
                         "1 per output element (nearest), 11 (bilinear)"),
    },
    how=("thop.profile(model, inputs=(x,)): forward hooks on registered nn modules only; ReLU, ReLU6, "
         "LeakyReLU, max pooling and Dropout are registered as zero, everything unregistered "
         "(Sigmoid, GELU, SiLU, LRN, operators, F.* functions) counts nothing"),
    functions={},
)
"""thop 0.1.1 (ultralytics/pytorch-OpCounter), ``profile(model, inputs=(x,))[0]``
(thop/profile.py ``register_hooks``, vision/basic_hooks.py, vision/calc_func.py):

- Conv2d and ConvTranspose2d share ``count_convNd``: output elements × (C_in // G) × K_h·K_w —
  for a transposed conv that is the conv formula applied to its output, not its MACs. No bias.
- Linear: in_features × output elements (no bias).
- BatchNorm/LayerNorm/InstanceNorm: 2 per input element, doubled with affine → 4.
- Softmax: (3F − 1) per vector of F features; AvgPool2d: 1 per output element;
  AdaptiveAvgPool2d: (∏ H/H' + 1) per output element (float, truncated);
  Upsample: 1 per output element (nearest), 5 (linear), 11 (bilinear).
- ReLU, ReLU6, LeakyReLU, MaxPool, AdaptiveMaxPool, Dropout: registered, 0. Anything not
  registered (Sigmoid, Tanh, GELU, SiLU, Hardswish, LRN) and every operator: 0.
- functions (F.relu, F.avg_pool2d, F.adaptive_avg_pool2d, F.interpolate: layers marked
  ``functional: true``): no hook sees them, 0.
"""


# ----------------------------------------------------------------------------- torch

def _torch_mm(c: TorchCall, n: int) -> int:
    return 2 * _linear_macs(c, n)


def _mha_macs(c: TorchCall, n: int) -> int:
    """G·(4·L·E² + 2·L²·E) per sample: projections, QKᵀ and AV."""
    g, length, e = _n(c.ins[0][:-2]), c.ins[0][-2], c.ins[0][-1]
    return n * g * (4 * length * e * e + 2 * length * length * e)


TORCH = Convention(
    "torch", "torch.utils.flop_counter (PyTorch 2.13)", "FlopCounterMode().get_total_flops()",
    "FLOPs", 2, {
        "Conv2d": Rule(lambda c, n: 2 * _conv_macs(c, n), "2 × N × prod(weight) × output positions"),
        "ConvTranspose2d": Rule(lambda c, n: 2 * _conv_macs(c, n), "2 × N × prod(weight) × input positions"),
        "Linear": Rule(_torch_mm, "2 × N × in × out (addmm; bias ignored)"),
        "MultiheadAttention": Rule(lambda c, n: 2 * _mha_macs(c, n), "2 × N × (4·L·E² + 2·L²·E): projections, "
                                                                     "QKᵀ and AV (math attention)"),
        **{k: Rule(lambda c, n: 2 * n * _product(c), "2 × N × multiply-adds (bmm)")
           for k in ("matmul", "__matmul__", "einsum")},
    },
    how=("with FlopCounterMode() as f: model(x); f.get_total_flops(): aten convolution and mm/addmm/bmm "
         "(and attention) count 2 per multiply-add; nothing else is counted"),
)
"""PyTorch's ``torch.utils.flop_counter.FlopCounterMode`` (torch 2.13), ``get_total_flops()``:
``aten.convolution`` = 2 × N × prod(weight shape) × output positions (transposed: input
positions), ``aten.mm``/``addmm`` = 2 × M × K × N with the bias add ignored. No other layer
counts. It is exactly 2 × cnncalc's MACs.
"""

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (TORCHINFO, FVCORE, PTFLOPS, THOP, TORCH)}


# ----------------------------------------------------------------------------- reconciliation

@dataclass(frozen=True)
class Part:
    """The tool's count for one module type, beside cnncalc's MACs of the same layers."""

    module: str
    calls: int
    count: int
    macs: int
    note: str


@dataclass(frozen=True)
class Reconciled:
    """A tool's figure for the analysed rows: per row, per module type, in total."""

    convention: Convention
    per_row: Mapping[str, int | Fraction]
    parts: tuple[Part, ...]
    total: int
    macs: int

    def row_count(self, row: Row) -> int:
        """The tool's count for a row (a collapsed block row sums its layers), truncated as tools print."""
        return int(sum(self.per_row.get(p.name, 0) for p in (row.parts or (row,))))

    def count_of(self, rows: Sequence[Row]) -> int:
        """The tool's figure for some rows: their exact sum, truncated once (ptflops' int())."""
        return int(sum((self.per_row.get(p.name, 0) for r in rows for p in (r.parts or (r,))), Fraction(0)))

    def differences(self) -> list[tuple[Part, int]]:
        """Module types whose count differs from per_mac × cnncalc MACs, with the difference."""
        k = self.convention.per_mac
        return [(p, p.count - k * p.macs) for p in self.parts if p.count != k * p.macs]

    def summary(self) -> list[str]:
        """Lines saying the figure, how the tool counts and what differs from cnncalc's MACs."""
        c = self.convention
        k = c.per_mac
        lines = [f"{c.tool} would print {self.total:,} {c.unit} ({c.prints}; {k} per multiply-add)",
                 f"cnncalc: {self.macs:,} MACs × {k} = {k * self.macs:,}; "
                 + (f"difference {self.total - k * self.macs:+,} ({_pct(self.total, k * self.macs)})"
                    if self.total != k * self.macs else "no difference")]
        for p, d in self.differences():
            lines.append(f"  {p.module} ×{p.calls}: {p.count:,} vs {k * p.macs:,} ({d:+,}) — {p.note}")
        lines.append(f"how: {c.how}")
        return lines


def _pct(a: int, b: int) -> str:
    if not b:
        return "cnncalc counts 0"
    return f"{float(Fraction(a - b, b) * 100):+.3g} %"


def reconcile(convention: Convention | str, analysis: Analysis, layers: Mapping[str, Layer]) -> Reconciled:
    """What ``convention``'s tool counts for the rows of ``analysis``.

    ``layers`` maps row names to their layer (``{n.name: n.layer for n in graph.nodes}``); a
    collapsed row is counted through its parts. Counts use the analysis' batch.
    """
    conv = CONVENTIONS[convention] if isinstance(convention, str) else convention
    n = analysis.batch
    per_row: dict[str, int | Fraction] = {}
    acc: dict[str, list[Any]] = {}
    notes: dict[str, str] = {}
    macs = 0
    for row in (leaf for r in analysis.rows for leaf in (r.parts or (r,))):
        layer = layers[row.name]
        macs += row.macs
        total: int | Fraction = 0
        calls = layer.torch_calls(row.inputs, row.output)
        if row.functional and calls:  # F.relu(x) in the forward: its module's function, not the module
            calls = (replace(calls[0], functional=True), *calls[1:])
        for i, call in enumerate(calls):
            got = conv.count(call, n)
            total += got
            key = (call.module or "(other)") + (" (function)" if call.functional else "")
            a = acc.setdefault(key, [0, 0, 0])
            a[0] += 1
            a[1] += got
            a[2] += row.macs if i == 0 else 0
            r = conv.rule(call)
            notes[key] = r.note if r else "not counted"
        per_row[row.name] = total
    parts = tuple(sorted((Part(m, a[0], int(a[1]), a[2], notes[m]) for m, a in acc.items()),
                         key=lambda p: (-p.count, p.module)))
    return Reconciled(conv, per_row, parts, int(sum(per_row.values(), Fraction(0))), macs)


def convention_column(rec: Reconciled, rows: Sequence[Row]) -> Column:
    """A table column with the tool's count per row (collapsed rows summed) and its total over ``rows``."""
    c = rec.convention
    total = rec.count_of(rows)
    return Column(f"{c.name}", lambda u: f"{c.name} ({c.unit})", lambda r, u: rec.row_count(r),
                  lambda t, u: total, doc=f"what {c.tool} counts for the layer")


def convention_dict(rec: Reconciled, rows: Sequence[Row]) -> dict[str, Any]:
    """The reconciliation as JSON-ready data: tool, figure, per layer, per module type, how it counts."""
    c = rec.convention
    k = c.per_mac
    return {
        "name": c.name, "tool": c.tool, "prints": c.prints, "unit": c.unit, "per_mac": k,
        "total": rec.count_of(rows),
        "cnncalc_macs": rec.macs,
        "layers": {r.name: rec.row_count(r) for r in rows},
        "by_module": [{"module": p.module, "calls": p.calls, "count": p.count, "macs": p.macs,
                       "difference": p.count - k * p.macs, "rule": p.note} for p in rec.parts],
        "how": c.how,
    }


def convention_extra(rec: Reconciled) -> Extra:
    """The tool's figure as a compare-table column."""
    from .compare import Extra  # only compare needs it; keeps `cnncalc table` start-up lean
    c = rec.convention
    return Extra(c.name, f"{c.name} ({c.unit})", Fraction(rec.total), f"{rec.total:,}")
