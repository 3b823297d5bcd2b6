"""PyTorch as the oracle: random valid specs, written as PyTorch code by ``cnncalc torch``, run.

Hypothesis builds specs that are valid by construction (channels = per-group × groups, sizes
computed here with the formulas written out below, never cnncalc's) over every layer kind and
option: strides, pads (int, [h, w], [t, b, l, r], same, valid), dilation, groups, ceil_mode,
output_padding, concat / add / multiply joins, blocks with ``repeat``. Each spec is analysed by
cnncalc and generated as code (cnncalc.codegen), which runs in PyTorch and must agree exactly:

- parameters and buffers: ``sum(t.numel())`` over ``model.parameters()`` / ``model.buffers()``;
- MACs = ``FlopCounterMode`` total / 2. FlopCounterMode counts aten convolution (transposed
  too) as 2 × N × prod(weight) × output positions (transposed: input positions) and
  mm/addmm/bmm as 2 × M × K × N, bias adds not counted; nothing else. cnncalc's MACs count
  conv / deconv / fc only, bias excluded: the same convention, so the totals are equal with no
  correction;
- the output shape of every layer, read from the running forward (sys.settrace on the
  generated file's lines), the failing layer named.

The generated module is then read back with both importers (torch.fx, and ONNX from
``torch.onnx.export(dynamo=False)``; fewer examples also through ``dynamo=True, optimize=False``)
and the report compared again: totals, and every conv / deconv / fc's shapes, params and MACs in order.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cnncalc.analysis import Analysis, analyse  # noqa: E402
from cnncalc.codegen import MODULE_ATTRS, Generated, torch_source  # noqa: E402
from cnncalc.graph import Graph, build_graph  # noqa: E402
from cnncalc.layers import LAYER_TYPES  # noqa: E402
from cnncalc.spec import load_spec, parse_spec, zoo_names  # noqa: E402

# CNNCALC_ORACLE_EXAMPLES=500 CNNCALC_ORACLE_RANDOM=1 explores beyond the fixed CI examples
settings.register_profile("ci", derandomize=not os.environ.get("CNNCALC_ORACLE_RANDOM"), deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CI = settings.get_profile("ci")

Shape = tuple[int, ...]
Entry = dict[str, Any]

# ----------------------------------------------------------------------------- sizes (the test's own)


def conv_size(n: int, k: int, s: int, before: int, after: int, d: int = 1) -> int:
    # ⌊(n + before + after − d·(k − 1) − 1) / s⌋ + 1   (PyTorch's Conv2d docs)
    return (n + before + after - d * (k - 1) - 1) // s + 1


def same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    # TensorFlow 'SAME': output ⌈n / s⌉, total padding max((out − 1)·s + d·(k − 1) + 1 − n, 0),
    # the odd pixel after
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    # PyTorch's MaxPool2d docs: ⌊ or ⌈(n + 2p − k) / s⌉ + 1, and with ceil_mode a last window
    # that would start in the right padding is dropped
    num = n + 2 * p - k
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def deconv_size(n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    # PyTorch's ConvTranspose2d docs: (n − 1)·s − 2p + d·(k − 1) + output_padding + 1
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


# ----------------------------------------------------------------------------- strategies

ACTS = ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid"]
MAX_SIDE = 24


class Net:
    """A spec under construction: entries, blocks, and the current shape."""

    def __init__(self, shape: Shape) -> None:
        self.input = shape
        self.shape = shape
        self.layers: list[Entry] = []
        self.blocks: dict[str, Any] = {}
        self.n = 0

    def name(self, kind: str) -> str:
        self.n += 1
        return f"{kind}_{self.n}"

    def add(self, entry: Entry, shape: Shape) -> str:
        entry = {"name": self.name(entry["type"]), **entry}
        self.layers.append(entry)
        self.shape = shape
        return str(entry["name"])

    def spec(self) -> Entry:
        out: Entry = {"name": "generated", "input": list(self.input), "layers": self.layers}
        if self.blocks:
            out["blocks"] = self.blocks
        return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def conv_entry(draw: Any, shape: Shape, stride1_same: bool = False, filters: int | None = None) -> tuple[Entry, Shape]:
    c, h, w = shape
    g = draw(st.sampled_from(_divisors(c) if filters is None else [d for d in _divisors(c) if filters % d == 0]))
    f = filters if filters is not None else g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d = draw(st.integers(1, 2))
    s = 1 if stride1_same else draw(st.integers(1, 3))
    e: Entry = {"type": "conv", "filters": f, "kernel": kh if kh == kw else [kh, kw]}
    if s > 1:
        e["stride"] = s
    if d > 1:
        e["dilation"] = d
    if g > 1:
        e["groups"] = g
    form = "same" if stride1_same else draw(st.sampled_from(["same", "valid", "int", "pair", "four"]))
    if form == "same":
        (t, b), (lft, r) = same_pads(h, kh, s, d), same_pads(w, kw, s, d)
        e["pad"] = "same"
    elif form == "valid":
        t = b = lft = r = 0
        e["pad"] = "valid"
    elif form == "int":
        t = b = lft = r = draw(st.integers(0, 2))
        e["pad"] = t
    elif form == "pair":
        t = b = draw(st.integers(0, 2))
        lft = r = draw(st.integers(0, 2))
        e["pad"] = [t, lft]
    else:
        t, b, lft, r = (draw(st.integers(0, 2)) for _ in range(4))
        e["pad"] = [t, b, lft, r]
    if d * (kh - 1) + 1 > h + t + b or d * (kw - 1) + 1 > w + lft + r:
        (t, b), (lft, r) = same_pads(h, kh, s, d), same_pads(w, kw, s, d)
        e["pad"] = "same"
    if not draw(st.booleans()):
        e["bias"] = False
    if draw(st.booleans()):
        e["activation"] = draw(st.sampled_from(ACTS))
    return e, (f, conv_size(h, kh, s, t, b, d), conv_size(w, kw, s, lft, r, d))


def step_conv(draw: Any, net: Net) -> None:
    e, shape = conv_entry(draw, net.shape)
    net.add(e, shape)


def step_deconv(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    g = draw(st.sampled_from(_divisors(c)))
    f = g * draw(st.integers(1, 3))
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    op = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, 2))
    oh, ow = deconv_size(h, k, s, p, op, d), deconv_size(w, k, s, p, op, d)
    if min(oh, ow) < 1 or max(oh, ow) > MAX_SIDE:
        p, s, op = 0, 1, 0
        oh, ow = deconv_size(h, k, s, p, op, d), deconv_size(w, k, s, p, op, d)
    e: Entry = {"type": "deconv", "filters": f, "kernel": k, "stride": s, "pad": p, "output_padding": op,
                "dilation": d, "groups": g, "bias": draw(st.booleans())}
    net.add(e, (f, oh, ow))


def step_pool(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    k = draw(st.integers(1, min(3, h, w)))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    e: Entry = {"type": kind, "kernel": k, "stride": s, "pad": p, "ceil_mode": ceil}
    net.add(e, (c, pool_size(h, k, s, p, ceil), pool_size(w, k, s, p, ceil)))


def step_global(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    kind = draw(st.sampled_from(["global_avgpool", "global_maxpool", "adaptive_avgpool", "adaptive_maxpool"]))
    if kind.startswith("global"):
        net.add({"type": kind}, (c, 1, 1))
    else:
        oh, ow = draw(st.integers(1, h)), draw(st.integers(1, w))
        net.add({"type": kind, "output": [oh, ow]}, (c, oh, ow))


def step_pointwise(draw: Any, net: Net) -> None:
    c = net.shape[0]
    kind = draw(st.sampled_from(["batchnorm", "layernorm", "lrn", "act", "softmax", "dropout", "identity",
                                 "stochastic_depth", "layer_scale", "channel_shuffle"]))
    e: Entry
    if kind == "batchnorm":
        # without running statistics BatchNorm normalises over the batch even in eval mode, and
        # PyTorch refuses one value per channel (a 1×1 map at batch 1)
        track = draw(st.booleans()) or net.shape[1] * net.shape[2] == 1
        e = {"type": "batchnorm", "affine": draw(st.booleans()), "track_running_stats": track}
    elif kind == "layernorm":
        e = {"type": "layernorm", "over": draw(st.sampled_from(["channels", "all"])), "affine": draw(st.booleans())}
    elif kind == "lrn":
        e = {"type": "lrn", "size": draw(st.integers(1, 5))}
    elif kind == "act":
        e = {"type": draw(st.sampled_from(ACTS))}
        if e["type"] == "leaky_relu":
            e["negative_slope"] = 0.2
        if e["type"] == "gelu" and draw(st.booleans()):
            e["approximate"] = "tanh"
        if e["type"] not in ("sigmoid", "tanh", "gelu") and draw(st.booleans()):
            e["inplace"] = True
    elif kind == "channel_shuffle" and c > 1:
        e = {"type": "channel_shuffle", "groups": draw(st.sampled_from(_divisors(c)[1:]))}
    elif kind == "stochastic_depth":
        e = {"type": "stochastic_depth", "p": 0.2}
    elif kind == "channel_shuffle":
        e = {"type": "identity"}
    else:
        e = {"type": kind}
    net.add(e, net.shape)


def step_upsample(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    if draw(st.booleans()) and 2 * max(h, w) <= MAX_SIDE:
        net.add({"type": "upsample", "scale": 2, "mode": mode}, (c, 2 * h, 2 * w))
    else:
        oh, ow = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
        net.add({"type": "upsample", "size": [oh, ow], "mode": mode}, (c, oh, ow))


def step_slice(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    start = draw(st.integers(0, c - 1))
    end = draw(st.integers(start + 1, c))
    e: Entry = {"type": "slice", "start": start}
    if end != c or draw(st.booleans()):
        e["end"] = end
    net.add(e, (end - start, h, w))


def step_join(draw: Any, net: Net) -> None:
    trunk = net.layers[-1]["name"] if net.layers else "input"
    c, h, w = net.shape
    how = draw(st.sampled_from(["concat", "add", "multiply", "add3"]))
    if how == "multiply":  # squeeze-excitation: C×H×W · C×1×1
        net.add({"type": "global_avgpool", "inputs": trunk}, (c, 1, 1))
        e, _ = conv_entry(draw, (c, 1, 1), stride1_same=True, filters=c)
        e.pop("activation", None)
        net.add(e, (c, 1, 1))
        gate = net.add({"type": "sigmoid"}, (c, 1, 1))
        ins = [trunk, gate] if draw(st.booleans()) else [gate, trunk]
        net.add({"type": "multiply", "inputs": ins}, (c, h, w))
        return
    branches = [trunk]
    for _ in range(2 if how == "add3" else 1):
        e, shape = conv_entry(draw, (c, h, w), stride1_same=True, filters=None if how == "concat" else c)
        e["inputs"] = trunk
        branches.append(net.add(e, shape))
    if how == "concat":
        chans = sum(net.layers[-1]["filters"] if b != trunk else c for b in branches)
        net.add({"type": "concat", "inputs": branches}, (chans, h, w))
    else:
        net.add({"type": "add", "inputs": branches}, (c, h, w))


def step_block(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    name = f"blk{len(net.blocks) + 1}"
    k = draw(st.sampled_from([1, 3]))
    inner: list[Entry] = [{"name": "conv", "type": "conv", "filters": "c", "kernel": k, "pad": "same",
                           "bias": False},
                          {"name": "bn", "type": "batchnorm"}]
    if draw(st.booleans()):
        inner += [{"name": "add", "type": "add", "inputs": ["bn", "input"]}, {"name": "relu", "type": "relu"}]
    net.blocks[name] = {"args": {"c": None}, "layers": inner}
    net.add({"type": name, "c": c, "repeat": draw(st.integers(1, 3))}, (c, h, w))


def step_head(draw: Any, net: Net) -> None:
    c, h, w = net.shape
    if (h, w) != (1, 1) or draw(st.booleans()):
        net.add({"type": "flatten"}, (c * h * w,))
    units = draw(st.integers(1, 12))
    e: Entry = {"type": "fc", "units": units, "bias": draw(st.booleans())}
    if draw(st.booleans()):
        e["activation"] = draw(st.sampled_from(ACTS))
    net.add(e, (units,))
    for kind in draw(st.lists(st.sampled_from(["batchnorm", "layernorm", "dropout", "relu", "softmax", "fc"]),
                              max_size=3)):
        if kind == "fc":
            units = draw(st.integers(1, 12))
            net.add({"type": "fc", "units": units}, (units,))
        else:
            net.add({"type": kind}, net.shape)


STEPS: list[Callable[[Any, Net], None]] = [step_conv, step_deconv, step_pool, step_global, step_pointwise,
                                           step_upsample, step_slice, step_join, step_block]


@st.composite
def specs(draw: Any) -> Entry:
    c = draw(st.sampled_from([1, 2, 3, 4, 6]))
    net = Net((c, draw(st.integers(3, 14)), draw(st.integers(3, 14))))
    for _ in range(draw(st.integers(1, 5))):
        draw(st.sampled_from(STEPS))(draw, net)
    if draw(st.booleans()):
        step_head(draw, net)
    return {**net.spec(), "_flat": draw(st.booleans())}


# ----------------------------------------------------------------------------- running the code

def _load(text: str, name: str) -> types.ModuleType:
    """The generated source as a module (a real file path, so tracebacks and settrace see it)."""
    mod = types.ModuleType(name)
    mod.__file__ = f"<cnncalc-generated {name}>"
    exec(compile(text, mod.__file__, "exec"), mod.__dict__)
    return mod


def _layer_shapes(model: Any, gen: Generated, x: Any) -> tuple[Any, dict[str, Shape]]:
    """Run the model; the per-sample output shape of every layer, read off the generated lines."""
    paths = {id(m): p for p, m in model.named_modules()}
    by_line = {(s.cls, s.line): s for s in gen.statements}
    filename = next(iter(model.modules())).forward.__code__.co_filename
    seen: dict[str, Shape] = {}
    pending: dict[int, tuple[Any, Any]] = {}

    def record(frame: Any) -> None:
        prev = pending.pop(id(frame), None)
        if prev is None:
            return
        stmt, prefix = prev
        value = frame.f_locals.get(stmt.var)
        if isinstance(value, torch.Tensor):
            seen[prefix + stmt.local] = tuple(value.shape[1:])

    def local(frame: Any, event: str, arg: Any) -> Any:
        record(frame)
        if event == "line":
            me = frame.f_locals.get("self")
            stmt = by_line.get((type(me).__name__, frame.f_lineno))
            if stmt is not None:
                pending[id(frame)] = (stmt, gen.scopes[paths[id(me)]])
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == filename and frame.f_code.co_name == "forward":
            return local
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        y = model(x)
    finally:
        sys.settrace(old)
    return y, seen


def _graph(spec: Entry) -> Graph:
    return build_graph(parse_spec(yaml.safe_dump(spec, sort_keys=False), "generated.yaml"))


def _mac_rows(a: Analysis) -> list[tuple[Any, ...]]:
    # the input by its size: an fc on C×1×1 is imported as a flatten, then an fc on C
    return [(math.prod(r.inputs[0]), r.output, r.params, r.macs) for r in a.rows if r.macs]


def _totals(a: Analysis) -> tuple[int, int, int]:
    return a.totals.params, a.totals.buffers, a.totals.macs


def onnx_exportable(graph: Graph, a: Analysis) -> bool:
    """Whether the ONNX route applies: PyTorch's TorchScript exporter refuses adaptive pooling to
    sizes that do not divide the input and writes BatchNorm without running statistics as a
    chain of reshapes and reductions, and cannot write a BatchNorm or an adaptive pooling after an
    LRN (whose decomposition loses the sizes); LayerNorm over the channels of a map is permuted around,
    which the ONNX importer does not follow; ONNX's MaxPool/AveragePool shape rule with ceil_mode
    keeps a last window that starts in the padding, which PyTorch drops (the graph's shapes then
    disagree with PyTorch's)."""
    rows = {r.name: r for r in a.rows}
    kinds = [n.layer.kind for n in graph.nodes]
    if "lrn" in kinds and any(k == "batchnorm" or k.startswith("adaptive") for k in kinds[kinds.index("lrn"):]):
        return False  # LRN's decomposition loses the sizes; the exporter then refuses BatchNorm, adaptive pooling
    for n in graph.nodes:
        r = rows[n.name]
        if n.layer.kind.startswith("adaptive") and any(i % o for i, o in zip(r.inputs[0][1:], r.output[1:])):
            return False
        if n.layer.kind == "batchnorm" and not n.layer.track_running_stats:  # type: ignore[attr-defined]
            return False
        if n.layer.kind == "layernorm" and len(r.inputs[0]) == 3 and n.layer.over == "channels":  # type: ignore[attr-defined]
            return False  # Transpose → LayerNormalization → Transpose: the ONNX importer has no Transpose
        if getattr(n.layer, "ceil_mode", False):
            k, s, p = n.layer.kernel, n.layer.strides, n.layer.pad  # type: ignore[attr-defined]
            for ax in (0, 1):
                size = r.inputs[0][1 + ax]
                if -(-(size + 2 * p[ax] - k[ax]) // s[ax]) + 1 != pool_size(size, k[ax], s[ax], p[ax], True):
                    return False
    return True


def check_against_torch(spec: Entry, tmp: Path | None = None, onnx_too: bool = True, flat: bool = False,
                        dynamo: bool = False) -> None:
    graph = _graph(spec)
    a = analyse(graph)
    gen = torch_source(graph, flat=flat)
    mod = _load(gen.text, "generated_net")
    torch.manual_seed(0)
    model = getattr(mod, gen.class_name)().eval()
    x = torch.randn(1, *graph.input)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y, shapes = _layer_shapes(model, gen, x)
    assert tuple(y.shape[1:]) == a.rows[-1].output
    for r in a.rows:
        assert shapes.get(r.name) == r.output, f"layer {r.name} ({r.type}): PyTorch {shapes.get(r.name)}, cnncalc {r.output}"
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    assert (params, buffers, counter.get_total_flops() // 2) == _totals(a), gen.text
    assert counter.get_total_flops() % 2 == 0

    # back through the importers: the same report
    from cnncalc.importers import spec_text
    from cnncalc.importers.torch import torch_to_spec
    back = analyse(build_graph(parse_spec(spec_text(torch_to_spec(model, graph.input), "fx"), "fx.yaml")))
    assert _totals(back) == _totals(a)
    assert _mac_rows(back) == _mac_rows(a)
    if not onnx_too or not onnx_exportable(graph, a):
        return
    pytest.importorskip("onnx")
    from cnncalc.importers import onnx_spec_text
    buf = io.BytesIO()
    # constant folding would fold a BatchNorm into the conv before it; without it, F.pad's pads
    # stay a chain of shape ops that ONNX inference cannot follow after a Resize
    fold = not any(n.layer.kind == "batchnorm" and any(m.layer.kind in ("conv", "deconv")
                                                       for m in graph.nodes if m.name in n.inputs)
                   for n in graph.nodes)
    if dynamo:  # torch.export's exporter (torch's default); its optimiser would fold BatchNorm away
        pytest.importorskip("onnxscript")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), buf, dynamo=True, optimize=False, input_names=["input"])
    else:
        try:
            torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["input"], do_constant_folding=fold)
        except torch.onnx.errors.SymbolicValueError as e:
            # The exporter's shape inference stops at some ops (F.pad's shape arithmetic, LRN's
            # decomposition); an adaptive pooling after them cannot be written: no file to import.
            if "adaptive" in str(e) and "input size not accessible" in str(e):
                return
            raise
    assert tmp is not None
    path = tmp / "net.onnx"
    path.write_bytes(buf.getvalue())
    back = analyse(build_graph(parse_spec(onnx_spec_text(path), "onnx.yaml")))
    assert _totals(back) == _totals(a)
    assert _mac_rows(back) == _mac_rows(a)


def _net(shape: list[int], *layers: Entry, **blocks: Any) -> Entry:
    return {"name": "generated", "input": shape, "layers": list(layers), **({"blocks": blocks} if blocks else {})}


# shrunk failures, pinned (the bug each found)
@example(spec=_net([1, 3, 3], {"name": "p", "type": "maxpool", "kernel": 1, "stride": 3},  # fc on C×1×1
                   {"name": "fc", "type": "fc", "units": 1, "bias": False}))
@example(spec=_net([1, 3, 3], {"name": "b", "type": "blk1", "c": 1}, blk1={  # BN folded by the exporter
    "args": {"c": None}, "layers": [{"name": "conv", "type": "conv", "filters": "c", "kernel": 1, "pad": "same",
                                     "bias": False}, {"name": "bn", "type": "batchnorm"}]}))
@example(spec=_net([1, 3, 3], {"name": "s", "type": "slice", "start": 0}))  # imported spec without layers
@example(spec=_net([1, 3, 3], {"name": "p", "type": "maxpool", "kernel": 1, "stride": 3,  # ONNX ceil rule
                               "ceil_mode": True}))
@example(spec=_net([1, 3, 3], {"name": "g", "type": "global_maxpool"}))  # x.amax not imported
@example(spec=_net([1, 3, 3], {"name": "a", "type": "adaptive_avgpool", "output": [1, 2]}))  # ONNX refuses
@example(spec=_net([1, 3, 3], {"name": "ln", "type": "layernorm", "over": "channels", "affine": False}))  # fx permute
@example(spec=_net([1, 3, 3], {"name": "bn", "type": "batchnorm", "affine": False}))  # ONNX: γ, β as params
@example(spec=_net([1, 3, 3], {"name": "bn", "type": "batchnorm", "track_running_stats": False}))
@example(spec=_net([1, 3, 3], {"name": "c", "type": "conv", "filters": 1, "kernel": 1,  # F.pad not imported
                               "pad": [0, 0, 0, 1], "bias": False}))
@example(spec=_net([2, 3, 3], {"name": "f", "type": "flatten"},  # ONNX LayerNormalization not imported
                   {"name": "ln", "type": "layernorm"}))
@example(spec=_net([2, 3, 3], {"name": "ln", "type": "layernorm", "over": "all"}))
@example(spec=_net([2, 3, 3], {"name": "g", "type": "global_avgpool"},  # pads after a Resize unknown
                   {"name": "u", "type": "upsample", "scale": 2},
                   {"name": "c", "type": "conv", "filters": 1, "kernel": [1, 2], "stride": 2, "dilation": 2,
                    "pad": "same", "bias": False}))
@example(spec=_net([2, 3, 3], {"name": "c1", "type": "conv", "filters": 3, "kernel": 1, "bias": False},
                   {"name": "s", "type": "slice", "start": 1, "end": 2},  # pads after an unfolded Slice
                   {"name": "c3", "type": "conv", "filters": 1, "kernel": [1, 2], "stride": 2, "pad": "same",
                    "bias": False},
                   {"name": "c4", "type": "conv", "filters": 1, "kernel": 1, "bias": False},
                   {"name": "bn", "type": "batchnorm"}))
@example(spec=_net([1, 3, 3], {"name": "lrn", "type": "lrn", "size": 1},  # exporter: BN after LRN
                   {"name": "g", "type": "global_avgpool"}, {"name": "bn", "type": "batchnorm", "affine": False}))
@example(spec=_net([2, 4, 3], {"name": "c", "type": "conv", "filters": 1, "kernel": [2, 1], "stride": 2,
                               "dilation": 2, "pad": "same", "bias": False},  # exporter: adaptive pool after F.pad
                   {"name": "a", "type": "adaptive_avgpool", "output": [1, 2]}))
@example(spec=_net([2, 3, 3], {"name": "lrn", "type": "lrn", "size": 1},  # exporter: adaptive pool after LRN
                   {"name": "d", "type": "deconv", "filters": 1, "kernel": 2, "bias": False},
                   {"name": "a", "type": "adaptive_avgpool", "output": [1, 2]}))
@settings(CI, max_examples=int(os.environ.get("CNNCALC_ORACLE_EXAMPLES", "30")))
@given(spec=specs())
def test_random_specs_match_pytorch(spec: Entry, tmp_path_factory: Any) -> None:
    spec = dict(spec)
    flat = bool(spec.pop("_flat", False))  # the code with block instances inlined
    check_against_torch(spec, tmp_path_factory.mktemp("onnx"), flat=flat)


@example(spec=_net([6, 14, 9], {"name": "c", "type": "conv", "filters": 1, "kernel": [3, 5],  # F.pad's output
                               "pad": [1, 0, 2, 0], "bias": False}))                      # also read by a CastLike
@example(spec=_net([1, 3, 3], {"name": "b", "type": "blk1", "c": 1}, blk1={  # zero bias Expand(CastLike(0))
    "args": {"c": None}, "layers": [{"name": "conv", "type": "conv", "filters": "c", "kernel": 1, "pad": "same",
                                     "bias": False}, {"name": "bn", "type": "batchnorm"}]}))
@settings(CI, max_examples=int(os.environ.get("CNNCALC_DYNAMO_EXAMPLES", "8")))
@given(spec=specs())
def test_random_specs_through_dynamo_onnx(spec: Entry, tmp_path_factory: Any) -> None:
    """The same round trip through torch.onnx.export(dynamo=True, optimize=False): its zero bias
    for a conv without one, CastLike/Expand/Shape around constants, x.chunk as SplitToSequence
    and names from its metadata must give the same report as the legacy exporter's graph."""
    spec = dict(spec)
    flat = bool(spec.pop("_flat", False))
    check_against_torch(spec, tmp_path_factory.mktemp("dynamo"), flat=flat, dynamo=True)


def test_every_kind_writes_pytorch_code() -> None:
    """Meta-test: every registered layer kind has its own torch_code (no silent fallback)."""
    from cnncalc.layers import Layer
    missing = [k for k, cls in LAYER_TYPES.items() if cls.torch_code is Layer.torch_code]
    assert not missing, f"layer kinds without PyTorch code (add torch_code): {missing}"


def test_module_attrs_list_is_current() -> None:
    """Names a generated submodule must not take: cnncalc's list covers nn.Module's public ones."""
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")}
    assert public <= MODULE_ATTRS | {"training"}, sorted(public - MODULE_ATTRS)


def test_size_helpers_by_hand() -> None:
    # the test's own formulas against hand-computed cases: AlexNet conv1 (227 − 11)/4 + 1 = 55;
    # 'same' on 7 with k 4: out 7, total pad 3 → (1, 2); ceil pool: ⌈(6 − 3)/2⌉ + 1 = 3
    assert conv_size(227, 11, 4, 0, 0) == 55
    assert same_pads(7, 4, 1, 1) == (1, 2)
    assert pool_size(6, 3, 2, 0, True) == 3 and pool_size(6, 3, 2, 0, False) == 2
    assert deconv_size(4, 4, 2, 1, 0, 1) == 8  # (4 − 1)·2 − 2 + 3 + 1
    assert math.prod((2, 3)) == 6


# ----------------------------------------------------------------------------- one spec per newer kind

def check_kind_against_torch(spec: Entry, macs: bool = True) -> None:
    """``check_against_torch`` without the importers' round trip: params, buffers, every layer's
    shape and (``macs``) MACs = FlopCounterMode / 2, for kinds the importers may not read back."""
    graph = _graph(spec)
    a = analyse(graph)
    gen = torch_source(graph)
    model = getattr(_load(gen.text, "generated_net"), gen.class_name)().eval()
    x = torch.randn(1, *graph.input)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y, shapes = _layer_shapes(model, gen, x)
    assert tuple(y.shape[1:]) == a.rows[-1].output
    for r in a.rows:
        assert shapes.get(r.name) == r.output, f"layer {r.name} ({r.type}): PyTorch {shapes.get(r.name)}, cnncalc {r.output}"
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    assert (params, buffers) == (a.totals.params, a.totals.buffers), gen.text
    # tensor by tensor, as the memory model allocates them: sizes, and the buffers' element types
    rows = {r.name: r for r in a.rows}
    assert sorted(p.numel() for p in model.parameters()) == \
        sorted(n for node in graph.nodes for n in node.layer.param_tensors(rows[node.name].inputs))
    assert sorted((b.numel(), "int64" if b.dtype == torch.int64 else "float") for b in model.buffers()) == \
        sorted(t for node in graph.nodes for t in node.layer.buffer_tensors(rows[node.name].inputs))
    if macs:
        assert counter.get_total_flops() == 2 * a.totals.macs, gen.text


def _one(input_shape: list[int], kind: str, **fields: Any) -> Entry:
    if len(input_shape) == 2:  # a sequence [L, E]: specs take [C, H, W] or [features], so reshaped
        return _net([math.prod(input_shape)], {"name": "seq", "type": "reshape", "shape": input_shape},
                    {"name": "k", "type": kind, **fields})
    return _net(input_shape, {"name": "k", "type": kind, **fields})


def _two_inputs(kind: str) -> Entry:
    # the input and x · 0.5 of it, joined
    return _net([3, 4, 4], {"name": "half", "type": "constant_scale", "factor": 0.5},
                {"name": "k", "type": kind, "inputs": ["input", "half"]})


KIND_SPECS: list[tuple[str, Entry]] = [
    # ViT-style: 5 tokens of 8 in 2 heads — params 4·8² + 4·8 = 288, MACs 4·5·8² + 2·5²·8 = 1,680
    ("attention", _one([5, 8], "attention", heads=2)),
    ("attention_no_bias", _one([5, 8], "attention", heads=4, bias=False)),
    # MaxViT-style: 3 windows of 2×2 = 4 tokens; bias table (2·2 − 1)²·2 = 18, index 4² = 16 int64
    ("attention_relative_bias", _one([3, 4, 8], "attention", heads=2, relative_bias=True)),
    # Swin: 7×9 padded to 8×12 by 4×4 windows, shifted by 2 (the mask); table 7·7·2 = 98
    ("window_attention", _one([7, 9, 8], "window_attention", heads=2, window=[4, 4], shift=[2, 2])),
    ("window_attention_plain", _one([4, 6, 8], "window_attention", heads=4, window=[2, 3], bias=False)),
    # Swin V2: cosine attention, a 2 → 16 → 2 bias MLP on the 3·3 table
    ("window_attention_v2", _one([4, 4, 8], "window_attention", heads=2, window=[2, 2], shift=[1, 1],
                                 version=2, cpb_hidden=16)),
    # a shift on an axis the window covers whole is dropped (4 rows, window 4)
    ("window_attention_v2_one_axis", _one([4, 6, 4], "window_attention", heads=1, window=[4, 2], shift=[2, 1],
                                          version=2, cpb_hidden=8)),
    ("pad_zeros", _one([2, 5, 6], "pad", pad=[1, 2, 3, 4])),
    ("pad_reflect", _one([2, 5, 6], "pad", pad=2, mode="reflect")),
    ("pad_replicate", _one([2, 5, 6], "pad", pad=[1, 2], mode="replicate")),
    ("pad_constant", _one([2, 5, 6], "pad", pad=1, mode="constant", value=0.5)),
    ("max_unpool", _one([2, 3, 3], "max_unpool", kernel=2)),
    ("max_unpool_output", _one([2, 3, 3], "max_unpool", kernel=2, output=7)),
    ("max_unpool_pad", _one([2, 3, 4], "max_unpool", kernel=3, stride=2, pad=1)),
    # x @ W, W 12 × 5: 60 params, 60 MACs (mm)
    ("param_matmul", _one([12], "param_matmul", units=5)),
    ("param_add", _one([4, 3, 3], "param_add", shape=[4, 1, 1])),
    ("param_add_more_axes", _one([3], "param_add", shape=[2, 3])),
    ("param_mul", _one([6], "param_mul", shape=[6])),
    ("param_mul_more_axes", _one([4], "param_mul", shape=[3, 1])),
    ("constant_scale", _one([3, 4, 4], "constant_scale", factor=0.25)),
    ("subtract", _two_inputs("subtract")),
    ("abs", _one([3, 4, 4], "abs")),
    ("batch_concat", _two_inputs("batch_concat")),
    ("permute", _one([3, 4, 5], "permute", dims=[1, 2, 0])),
    ("reshape", _one([3, 4, 5], "reshape", shape=[3, 20])),
    ("reshape_after_permute", _net([3, 4, 5], {"name": "p", "type": "permute", "dims": [2, 0, 1]},
                                   {"name": "k", "type": "reshape", "shape": [60]})),
    ("class_token", _one([5, 8], "class_token")),
    ("pos_embedding", _one([5, 8], "pos_embedding")),
    ("select_token", _one([5, 8], "select_token", index=2)),
    ("patch_merge", _one([5, 7, 3], "patch_merge")),
    ("groupnorm", _one([6, 3, 4], "groupnorm", groups=3)),
    ("groupnorm_plain", _one([6, 3, 4], "groupnorm", groups=2, affine=False)),
    ("instancenorm", _one([6, 3, 4], "instancenorm")),
    ("instancenorm_tracked", _one([6, 3, 4], "instancenorm", affine=True, track_running_stats=True)),
    ("pixel_shuffle", _one([8, 3, 4], "pixel_shuffle", factor=2)),
    ("pixel_unshuffle", _one([2, 6, 4], "pixel_unshuffle", factor=2)),
    # a ViT stem end to end: conv → tokens → class token → position → attention → class token out
    ("vit_stem", _net([3, 8, 8], {"name": "conv_proj", "type": "conv", "filters": 8, "kernel": 4, "stride": 4},
                      {"name": "tokens", "type": "reshape", "shape": [8, 4]},
                      {"name": "t", "type": "permute", "dims": [1, 0]},
                      {"name": "cls", "type": "class_token"}, {"name": "pos", "type": "pos_embedding"},
                      {"name": "attn", "type": "attention", "heads": 2},
                      {"name": "head_in", "type": "select_token"})),
]
#: Kinds whose MACs FlopCounterMode does not see the way cnncalc counts them: none so far (the
#: attention helpers are written as matmuls, which it counts; the rest have no MACs).
MACS_UNSEEN: frozenset[str] = frozenset()


#: Generated code the torch.fx importer does not read back (yet): the attention helper is no
#: module it knows (it traces into it and meets the head split's permute), max_unpool's own
#: indices (expand_as), a parameter with more axes than its input (x[:, None]), and torch.stack.
NOT_IMPORTED = frozenset({"attention", "attention_no_bias", "attention_relative_bias", "vit_stem", "max_unpool",
                          "max_unpool_output", "max_unpool_pad", "param_add_more_axes", "param_mul_more_axes",
                          "batch_concat"})


@pytest.mark.parametrize("name,spec", KIND_SPECS, ids=[n for n, _ in KIND_SPECS])
def test_newer_kinds_match_pytorch(name: str, spec: Entry) -> None:
    check_kind_against_torch(spec, macs=name not in MACS_UNSEEN)
    if name not in NOT_IMPORTED:  # and back through the torch.fx importer: the same report
        check_against_torch(spec, onnx_too=False)


def test_every_newer_kind_has_a_spec() -> None:
    kinds = {e["type"] for _, s in KIND_SPECS for e in s["layers"]}
    assert {"attention", "window_attention", "pad", "max_unpool", "param_matmul", "param_add", "param_mul",
            "constant_scale", "subtract", "batch_concat", "permute", "reshape", "class_token", "pos_embedding",
            "select_token", "patch_merge"} <= kinds


@st.composite
def attention_specs(draw: Any) -> Entry:
    """A window_attention on a random map, or an attention on G sequences of L tokens (a square
    L with MaxViT's relative bias), valid by construction: E = heads × per-head features."""
    heads = draw(st.integers(1, 3))
    c = heads * draw(st.integers(1, 3))
    if draw(st.booleans()):
        wh, ww = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        fields: Entry = {"heads": heads, "window": [wh, ww],
                         "shift": [draw(st.integers(0, wh - 1)), draw(st.integers(0, ww - 1))],
                         "version": draw(st.sampled_from([1, 2])), "bias": draw(st.booleans())}
        if fields["version"] == 2:
            fields["cpb_hidden"] = draw(st.integers(1, 8))
        return _one([draw(st.integers(1, 9)), draw(st.integers(1, 9)), c], "window_attention", **fields)
    relative = draw(st.booleans())
    n = draw(st.integers(1, 3)) ** 2 if relative else draw(st.integers(1, 9))
    shape = [draw(st.integers(1, 3)), n, c] if draw(st.booleans()) else [n, c]
    return _one(shape, "attention", heads=heads, bias=draw(st.booleans()), relative_bias=relative)


@settings(CI, max_examples=8)
@given(spec=attention_specs())
def test_random_attention_matches_pytorch(spec: Entry) -> None:
    check_kind_against_torch(spec)
    # and back through --torch: the SelfAttention helper reads as one attention layer
    from cnncalc.importers import spec_text
    from cnncalc.importers.torch import torch_to_spec
    graph = _graph(spec)
    a = analyse(graph)
    gen = torch_source(graph)
    model = getattr(_load(gen.text, "generated_back"), gen.class_name)().eval()
    back = analyse(build_graph(parse_spec(spec_text(torch_to_spec(model, graph.input), "fx"), "fx.yaml")))
    assert _totals(back) == _totals(a)
    assert [r.type for r in back.rows if r.macs] == [r.type for r in a.rows if r.macs]


#: Where cnncalc's layer-local storage rule and PyTorch's part: a reshape of a permuted
#: (non-contiguous) tensor copies in PyTorch, while cnncalc, which sees only shapes, calls every
#: reshape a view.
STORAGE_GAPS = frozenset({"reshape_after_permute"})


@pytest.mark.parametrize("name,spec", KIND_SPECS, ids=[n for n, _ in KIND_SPECS])
def test_newer_kinds_views_are_views_in_pytorch(name: str, spec: Entry) -> None:
    """The cost model's storage rule (``output_storage``) against PyTorch: the generated model's
    output shares the input's storage exactly when every layer on the way is a view."""
    if name in STORAGE_GAPS:
        pytest.skip("a known gap: reshape after permute copies in PyTorch")
    graph = _graph(spec)
    gen = torch_source(graph)
    model = getattr(_load(gen.text, "generated_net"), gen.class_name)().eval()
    x = torch.randn(1, *graph.input)
    with torch.no_grad():
        y = model(x)
    views = all(n.layer.output_storage(False) == "view" for n in graph.nodes)
    assert (y.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()) == views


def test_helper_class_names_are_not_taken_by_blocks() -> None:
    """A network or block whose CamelCase name is a helper's (SelfAttention, ClassToken) gets
    another name, not a second class that replaces the helper."""
    spec = _net([40], {"name": "seq", "type": "reshape", "shape": [5, 8]},
                {"name": "tok", "type": "classToken"}, {"name": "attn", "type": "attention", "heads": 2},
                classToken={"layers": [{"name": "cls", "type": "class_token"}]})
    spec["name"] = "self_attention"
    text = torch_source(_graph(spec)).text
    assert text.count("class SelfAttention(") == 1 and text.count("class ClassToken(") == 1
    check_kind_against_torch(spec)


@st.composite
def misc_kind_specs(draw: Any) -> Entry:
    """One of pad / max_unpool / param_add / param_mul / permute / reshape / patch_merge on a random
    map, valid by construction (PyTorch's own rules: reflection pads smaller than the side, an
    unpool size within a stride of (n − 1)·s − 2p + k, a parameter that broadcasts)."""
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kind = draw(st.sampled_from(["pad", "max_unpool", "param_add", "param_mul", "permute", "reshape",
                                 "patch_merge"]))
    if kind == "pad":
        mode = draw(st.sampled_from(["zeros", "constant", "reflect", "replicate"]))
        top = max(h - 1, 0) if mode == "reflect" else 3
        side = max(w - 1, 0) if mode == "reflect" else 3
        pads = [draw(st.integers(0, top)), draw(st.integers(0, top)), draw(st.integers(0, side)),
                draw(st.integers(0, side))]
        fields: Entry = {"pad": pads, "mode": mode}
        if mode == "constant":
            fields["value"] = 1.5
        return _one([c, h, w], "pad", **fields)
    if kind == "max_unpool":
        k, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        p = draw(st.integers(0, (k - 1) // 2))
        # PyTorch: output (n − 1)·s − 2p + k, or output_size within (default − s, default + s)
        default = [(n - 1) * s - 2 * p + k for n in (h, w)]
        if min(default) < 1:
            p = 0
            default = [(n - 1) * s + k for n in (h, w)]
        fields = {"kernel": k, "stride": s, "pad": p}
        if draw(st.booleans()):
            fields["output"] = [draw(st.integers(max(d - s + 1, 1), d + s - 1)) for d in default]
        return _one([c, h, w], "max_unpool", **fields)
    if kind in ("param_add", "param_mul"):
        shape = [draw(st.sampled_from([1, n])) for n in (c, h, w)][draw(st.integers(0, 2)):]
        return _one([c, h, w], kind, shape=shape)
    if kind == "permute":
        return _one([c, h, w], "permute", dims=draw(st.permutations([0, 1, 2])))
    if kind == "reshape":
        return _one([c, h, w], "reshape", shape=draw(st.sampled_from([[c * h * w], [c, h * w], [c * h, w],
                                                                      [w, h, c]])))
    return _one([h, w, c], "patch_merge")


@settings(CI, max_examples=12)
@given(spec=misc_kind_specs())
def test_random_misc_kinds_match_pytorch(spec: Entry) -> None:
    check_kind_against_torch(spec)


def _kind_module(spec: Entry) -> Any:
    """The generated module of the spec's layer ``k``."""
    gen = torch_source(_graph(spec))
    return getattr(_load(gen.text, "generated_net"), gen.class_name)().k


@pytest.mark.parametrize("version", [1, 2])
def test_window_attention_code_computes_as_torchvision(version: int) -> None:
    """The generated Swin attention, given torchvision's weights (same names and shapes), gives
    torchvision's output: padding, shift mask, relative bias (v2: cosine attention, bias MLP)."""
    swin = pytest.importorskip("torchvision.models.swin_transformer")
    torch.manual_seed(0)
    ref = (swin.ShiftedWindowAttention if version == 1 else swin.ShiftedWindowAttentionV2)(8, [4, 4], [2, 2], 2)
    mine = _kind_module(_one([7, 9, 8], "window_attention", heads=2, window=[4, 4], shift=[2, 2], version=version))
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(2, 7, 9, 8)
    torch.testing.assert_close(mine.eval()(x), ref.eval()(x))


def test_attention_code_computes_as_multihead_attention() -> None:
    """The generated attention, given nn.MultiheadAttention's weights, gives its output."""
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    mine = _kind_module(_one([5, 8], "attention", heads=2)).eval()
    with torch.no_grad():
        mine.qkv.weight.copy_(ref.in_proj_weight)
        mine.qkv.bias.copy_(ref.in_proj_bias)
        mine.proj.weight.copy_(ref.out_proj.weight)
        mine.proj.bias.copy_(ref.out_proj.bias)
        x = torch.randn(3, 5, 8)
        torch.testing.assert_close(mine(x), ref(x, x, x, need_weights=False)[0])


def test_relative_attention_code_computes_as_torchvision_maxvit() -> None:
    """The generated attention with ``relative_bias``, given the weights of torchvision's MaxViT
    attention (to_qkv → qkv, merge → proj, the same bias table), gives its output; the relative
    index buffers are equal."""
    maxvit = pytest.importorskip("torchvision.models.maxvit")
    torch.manual_seed(0)
    ref = maxvit.RelativePositionalMultiHeadAttention(8, 4, 9).eval()  # 8 features, 2 heads of 4, 3×3 tokens
    mine = _kind_module(_one([2, 9, 8], "attention", heads=2, relative_bias=True)).eval()
    assert torch.equal(mine.relative_position_index.flatten(), ref.relative_position_index.flatten())
    with torch.no_grad():
        for a, b in ((mine.qkv, ref.to_qkv), (mine.proj, ref.merge)):
            a.weight.copy_(b.weight)
            a.bias.copy_(b.bias)
        mine.relative_position_bias_table.copy_(torch.randn_like(ref.relative_position_bias_table))
        ref.relative_position_bias_table.copy_(mine.relative_position_bias_table)
        x = torch.randn(3, 2, 9, 8)
        torch.testing.assert_close(mine(x), ref(x))


PER_TOKEN: list[tuple[str, Entry]] = [
    # fc and layernorm per token (over: last) write nn.Linear / nn.LayerNorm on the last axis as it is
    ("fc_per_token", _one([5, 8], "fc", units=3)),
    ("fc_per_token_of_one", _one([1, 8], "fc", units=3, over="last")),
    ("fc_per_position_of_a_map", _one([4, 3, 8], "fc", units=6, over="last")),
    ("layernorm_per_token", _one([5, 8], "layernorm")),
    ("layernorm_last_of_a_map", _one([4, 3, 8], "layernorm", over="last")),
]


@pytest.mark.parametrize("name,spec", PER_TOKEN, ids=[n for n, _ in PER_TOKEN])
def test_per_token_layers_match_pytorch(name: str, spec: Entry) -> None:
    check_kind_against_torch(spec)


# ----------------------------------------------------------------------------- the zoo, in PyTorch

@pytest.mark.parametrize("name", sorted(zoo_names()))
def test_every_zoo_network_as_pytorch_has_the_tables_numbers(name: str) -> None:
    """Each built-in network written as PyTorch (`cnncalc torch`), run by PyTorch at batch 1:
    its parameters, buffers, multiply-adds (FlopCounterMode's FLOPs / 2) and output shape are the
    table's totals, and every layer's output shape the table's row."""
    graph = build_graph(load_spec(name))
    a = analyse(graph)
    gen = torch_source(graph)
    model = getattr(_load(gen.text, f"zoo_{name}"), gen.class_name)().eval()
    x = torch.randn(1, *graph.input)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y, shapes = _layer_shapes(model, gen, x)
    assert tuple(y.shape[1:]) == a.rows[-1].output
    bad = [(r.name, shapes.get(r.name), r.output) for r in a.rows if shapes.get(r.name) != r.output]
    assert not bad, bad[:3]
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    assert (params, buffers, counter.get_total_flops() // 2) == _totals(a)
