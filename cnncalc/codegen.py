"""Spec → PyTorch code: a readable ``nn.Module`` file that imports only torch (``cnncalc torch``).

Each layer kind writes itself (``Layer.torch_code``: the module built in ``__init__`` and the
expression applied in ``forward``); this module only lays the network out:

- every block type becomes an ``nn.Module`` class; its instances share the class when their
  layers are the same, and the numbers that differ between instances become ``__init__``
  arguments, named after the block's own arguments where their values agree (``c``, ``s``),
  ``c_in`` for the input channels, else after the layer and field (``conv1_stride``);
- layer names stay attribute names where Python allows them (``downsample.0`` becomes
  ``downsample_0``, the original kept in a comment);
- ``forward`` follows the DAG in the analysis' order: a value used only by the next line is
  ``x``, any other is named after its layer;
- a conv's or fc's fused ``activation`` is its own module, ``<name>_<kind>``, applied on the
  same line;
- a layer marked ``functional: true`` is the module's function, called in ``forward``
  (``F.relu(x, inplace=True)`` for ``nn.ReLU(inplace=True)``; see ``FUNCTIONS``).

The network's class takes no arguments, so ``cnncalc import --torch file:Class`` reads it back.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .analysis import Analysis, analyse
from .errors import CnncalcError, UsageError
from .graph import INPUT, Graph, Group, Node
from .layers import Shape, fmt_shape
from .layers.base import ALWAYS, NoTorchCode, TorchCode

#: Attributes and methods of torch.nn.Module (torch 2.x) that a submodule must not shadow; a
#: test compares the list with ``dir(nn.Module)`` where torch is installed.
MODULE_ATTRS = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule
half ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters
parameters register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict
to to_empty train training type xpu zero_grad
""".split())  # noqa: SIM905  (a word list reads better than 56 quoted strings)
#: Names the generated code itself uses.
_RESERVED = frozenset({"self", "x", "input", "torch", "nn", "F", "super", "channel_shuffle"})


def identifier(name: str, taken: set[str], avoid: frozenset[str] = frozenset()) -> str:
    """A Python identifier for ``name``, not in ``taken`` (then added to it): every other
    character becomes ``_``, a leading digit gets ``_``, keywords and ``avoid`` a trailing ``_``."""
    base = "".join(c if ("_" + c).isidentifier() else "_" for c in name) or "_"
    if base[0].isdigit():
        base = "_" + base
    if base.startswith("__"):
        base = "m" + base
    if keyword.iskeyword(base) or base in avoid or base in _RESERVED:
        base += "_"
    out, k = base, 1
    while out in taken:
        k += 1
        out = f"{base}_{k}"
    taken.add(out)
    return out


def class_name(name: str, taken: set[str]) -> str:
    """CamelCase class name for a spec or block name (``basic_down`` → ``BasicDown``)."""
    parts = re.split(r"[^0-9A-Za-z]+", name)
    base = "".join(p[:1].upper() + p[1:] for p in parts if p) or "Block"
    if base[0].isdigit():
        base = "Net" + base
    if base in ("Tensor", "Module", "LayerNorm2d", "LayerScale", "StochasticDepth") or keyword.iskeyword(base):
        base += "_"
    return identifier(base, taken)


#: The function that does what a parameter-free nn module does, for layers marked ``functional:
#: true``: the module's constructor arguments follow the input (the same names and defaults),
#: then the extra arguments given here.
FUNCTIONS: dict[str, tuple[str, str]] = {
    "nn.ReLU": ("F.relu", ""), "nn.ReLU6": ("F.relu6", ""), "nn.LeakyReLU": ("F.leaky_relu", ""),
    "nn.Sigmoid": ("torch.sigmoid", ""), "nn.Tanh": ("torch.tanh", ""), "nn.GELU": ("F.gelu", ""),
    "nn.SiLU": ("F.silu", ""), "nn.Hardswish": ("F.hardswish", ""), "nn.Hardsigmoid": ("F.hardsigmoid", ""),
    "nn.Softmax": ("F.softmax", ""), "nn.MaxPool2d": ("F.max_pool2d", ""), "nn.AvgPool2d": ("F.avg_pool2d", ""),
    "nn.AdaptiveAvgPool2d": ("F.adaptive_avg_pool2d", ""), "nn.AdaptiveMaxPool2d": ("F.adaptive_max_pool2d", ""),
    "nn.Upsample": ("F.interpolate", ""), "nn.Flatten": ("torch.flatten", "1"),
    "nn.Dropout": ("F.dropout", "training=self.training"), "nn.Identity": ("", ""),
}


def _as_function(code: TorchCode) -> TorchCode:
    """The module call ``code`` as its function: ``nn.ReLU(inplace=True)`` → ``F.relu({0}, inplace=True)``."""
    fn = FUNCTIONS.get(code.module)
    if fn is None or code.call != "{m}({0})":
        raise NoTorchCode(f"functional: true, but {code.module or 'this layer'} has no function form "
                          "cnncalc writes (parameter-free modules only)")
    name, extra = fn
    if not name:
        return TorchCode("{0}")
    ctor, _ = _ctor(code, 0, {})
    inner = ctor[len(code.module) + 1:-1].replace("{", "{{").replace("}", "}}")
    return TorchCode(f"{name}({', '.join(p for p in ('{0}', inner, extra) if p)})")


# ----------------------------------------------------------------------------- the plan

@dataclass
class _Unit:
    """One line of a forward: a layer, or a block instance."""

    name: str                       # local name in its scope
    inputs: list[str]               # scope-local sources: unit names or "<in k>"
    node: Node | None = None
    code: TorchCode | None = None
    act: TorchCode | None = None
    act_kind: str = ""
    inst: _Inst | None = None

    def ctor_values(self) -> list[Any]:
        """The constructor arguments of this unit's modules, in a fixed order (the slots)."""
        vals: list[Any] = []
        for c in (self.code, self.act):
            if c is not None and c.module:
                vals.extend(c.args)
                vals.extend(v for _, v, _ in c.kwargs)
        if self.inst is not None:
            vals.extend(self.inst.kwargs.values())
        return vals


@dataclass
class _Inst:
    """A block instance (or the whole network) and the scope of its layers."""

    group: Group | None
    depth: int
    prefix: str
    nodes: list[Node] = field(default_factory=list)
    units: list[_Unit] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)   # outer names, in first-use order
    output: str = ""                                   # local unit name
    cls: _Class | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Class:
    name: str
    block: str
    insts: list[_Inst]
    params: list[str] = field(default_factory=list)
    #: per slot (unit index, slot index): a parameter name or None (a literal)
    slots: dict[tuple[int, int], str] = field(default_factory=dict)
    doc: str = ""


@dataclass(frozen=True)
class Statement:
    """Where a layer is computed in the generated file: ``line`` of ``cls``'s forward assigns
    the layer's output to ``var``. ``scopes`` maps module paths in the built model to the block
    instances (graph group names, "" for the network) they stand for."""

    cls: str
    line: int
    local: str
    var: str


@dataclass(frozen=True)
class Generated:
    """The generated source and the map from its lines back to the spec's layers."""

    text: str
    class_name: str
    statements: tuple[Statement, ...]
    #: module path in the model (``layer1_0``; "" for the network) → graph group name prefix ("layer1_0.")
    scopes: dict[str, str]


def _shapes(a: Analysis, graph: Graph) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {INPUT: graph.input}
    shapes.update({r.name: r.output for r in a.rows})
    return shapes


def torch_source(graph: Graph, *, flat: bool = False, title: str = "",
                 docs: Mapping[str, str | None] | None = None) -> Generated:
    """PyTorch source code for the analysed ``graph``: block classes, then the network's class.

    ``flat`` writes one class with every layer (block instances inlined); ``docs`` are the
    blocks' ``doc:`` lines, for their classes' docstrings. Raises UsageError
    listing every layer that has no PyTorch code, and the kinds they are.
    """
    if graph.symbolic:
        raise UsageError("PyTorch code needs numbers: give every variable a value (--set)")
    a = analyse(graph)
    shapes = _shapes(a, graph)
    consumers: dict[str, list[str]] = {}
    for n in graph.nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n.name)
    problems: list[str] = []
    root = _Inst(None, 0, "", list(graph.nodes))
    _build(root, shapes, consumers, flat, problems)
    if problems:
        raise UsageError("cannot write PyTorch code for:\n  " + "\n  ".join(problems))
    classes = _classes(root)
    return _render(graph, a, root, classes, title, docs or {})


def _build(inst: _Inst, shapes: dict[str, Shape], consumers: dict[str, list[str]], flat: bool,
           problems: list[str]) -> None:
    """Split an instance's nodes into units (layers and sub-instances), recursively."""
    subs: dict[str, _Inst] = {}
    owner: dict[str, str] = {}   # node name → unit name in this scope
    for n in inst.nodes:
        if flat or len(n.groups) <= inst.depth:
            local = n.name[len(inst.prefix):]
            owner[n.name] = local
            unit = _Unit(local, [], node=n)
            ins = [shapes[i] for i in n.inputs]
            try:
                unit.code = n.layer.torch_code(ins, shapes[n.name])
                if n.functional:
                    unit.code = _as_function(unit.code)
                act = n.layer.fused_activation()
                if act is not None:
                    unit.act = act.torch_code([shapes[n.name]], shapes[n.name])
                    unit.act_kind = act.kind
            except CnncalcError as e:
                problems.append(f"{n.name} ({n.type}): {e}")
            inst.units.append(unit)
        else:
            g = n.groups[inst.depth]
            if g.name not in subs:
                sub = _Inst(g, inst.depth + 1, g.name + ".")
                subs[g.name] = sub
                inst.units.append(_Unit(g.name[len(inst.prefix):], [], inst=sub))
            subs[g.name].nodes.append(n)
            owner[n.name] = g.name[len(inst.prefix):]
    for sub in subs.values():
        _build(sub, shapes, consumers, flat, problems)
        names = {n.name for n in sub.nodes}
        for n in sub.nodes:
            for i in n.inputs:
                if i not in names and i not in sub.inputs:
                    sub.inputs.append(i)
        used_outside = [n.name for n in sub.nodes if any(c not in names for c in consumers.get(n.name, []))]
        out = used_outside[-1] if used_outside else sub.nodes[-1].name
        sub.output = _owner_in(sub, out)

    def source(name: str) -> str:
        if name in owner:
            return owner[name]
        if name not in inst.inputs:
            inst.inputs.append(name)
        return f"<in {inst.inputs.index(name)}>"

    if inst.group is None:
        inst.inputs = [INPUT]
    for u in inst.units:
        if u.node is not None:
            u.inputs = [source(i) for i in u.node.inputs]
        elif u.inst is not None:
            u.inputs = [source(i) for i in u.inst.inputs]
    if inst.group is None:
        inst.output = owner[inst.nodes[-1].name]
    _order(inst)


def _owner_in(inst: _Inst, node: str) -> str:
    """The unit of ``inst`` that computes ``node`` (a layer, or the sub-instance holding it)."""
    for u in inst.units:
        if u.node is not None and u.node.name == node:
            return u.name
        if u.inst is not None and any(n.name == node for n in u.inst.nodes):
            return u.name
    raise AssertionError(node)  # pragma: no cover


def _order(inst: _Inst) -> None:
    """Units in dependency order (stable: the analysis' order where free)."""
    done: set[str] = set()
    left = list(inst.units)
    order: list[_Unit] = []
    while left:
        for k, u in enumerate(left):
            if all(s.startswith("<in ") or s in done for s in u.inputs):
                order.append(left.pop(k))
                done.add(u.name)
                break
        else:
            raise UsageError(f"block instance '{left[0].name}' and the layers around it depend on each other "
                             "both ways; write it with --flat")
    inst.units = order


# ----------------------------------------------------------------------------- classes

def _structure(inst: _Inst) -> tuple[Any, ...]:
    parts: list[Any] = [len(inst.inputs), inst.output]
    for u in inst.units:
        mods = tuple((c.module, len(c.args), tuple(k for k, _, _ in c.kwargs), c.call)
                     for c in (u.code, u.act) if c is not None)
        sub = (u.inst.cls.name if u.inst and u.inst.cls else "", tuple(u.inst.kwargs) if u.inst else ())
        parts.append((u.name, tuple(u.inputs), mods, sub))
    return tuple(parts)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same sort (True is not 1 here; 64 and Fraction(64) are equal)."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def _classes(root: _Inst) -> list[_Class]:
    """Group instances into classes, deepest blocks first; set each instance's constructor kwargs."""
    by_depth: dict[int, list[_Inst]] = {}

    def walk(i: _Inst) -> None:
        for u in i.units:
            if u.inst is not None:
                by_depth.setdefault(u.inst.depth, []).append(u.inst)
                walk(u.inst)
    walk(root)
    taken = _helper_names(root)  # a block named like a helper class must not replace it
    classes: list[_Class] = []
    for depth in sorted(by_depth, reverse=True):
        groups: dict[tuple[str, tuple[Any, ...]], list[_Inst]] = {}
        for i in by_depth[depth]:
            assert i.group is not None
            groups.setdefault((i.group.type, _structure(i)), []).append(i)
        for (block, _), insts in groups.items():
            cls = _Class(class_name(block, taken), block, insts)
            _params(cls)
            classes.append(cls)
    return classes


def _params(cls: _Class) -> None:
    """Which constructor values differ between the class's instances, and their names."""
    first = cls.insts[0]
    args = [k for k, _ in (first.group.args if first.group else ())]
    taken: set[str] = set()
    names: dict[tuple[Any, ...], str] = {}
    for ui, u in enumerate(first.units):
        vectors = list(zip(*(i.units[ui].ctor_values() for i in cls.insts)))
        labels = _slot_labels(u)
        for si, vec in enumerate(vectors):
            if all(_same(v, vec[0]) for v in vec[1:]):
                continue
            key = tuple(repr(v) for v in vec)
            if key not in names:
                names[key] = _param_name(cls, vec, labels[si], ui, args, taken)
                cls.params.append(names[key])
            cls.slots[(ui, si)] = names[key]
    for inst in cls.insts:
        inst.cls = cls
        for (ui, si), p in cls.slots.items():
            inst.kwargs[p] = inst.units[ui].ctor_values()[si]


def _slot_labels(u: _Unit) -> list[str]:
    labels: list[str] = []
    for c in (u.code, u.act):
        if c is not None and c.module:
            labels.extend(["in_channels", "out_channels"][:len(c.args)] if c.module.startswith("nn.Conv")
                          else [f"arg{k}" for k in range(len(c.args))])
            labels.extend(k for k, _, _ in c.kwargs)
    if u.inst is not None:
        labels.extend(u.inst.kwargs)
    return labels


def _param_name(cls: _Class, vec: Sequence[Any], label: str, ui: int, args: list[str], taken: set[str]) -> str:
    for a in args:
        values = [dict(i.group.args)[a] if i.group else None for i in cls.insts]
        if all(_same(v, w) for v, w in zip(vec, values)):
            return identifier(a, taken)
    ins = [i.inputs[0] if i.inputs else None for i in cls.insts]
    if label == "in_channels" and all(i is not None for i in ins):
        chans = [_input_channels(i) for i in cls.insts]
        if all(_same(v, c) for v, c in zip(vec, chans)):
            return identifier("c_in", taken)
    return identifier(f"{cls.insts[0].units[ui].name}_{label}", taken)


def _input_channels(inst: _Inst) -> int | None:
    for u in inst.units:
        if u.node is not None and "<in 0>" in u.inputs and u.code and u.code.module.startswith("nn.Conv"):
            return u.code.args[0]  # type: ignore[no-any-return]
    return None


# ----------------------------------------------------------------------------- rendering

def _text(s: str) -> str:
    """User text (a title, a block's doc, a file name) made safe inside a triple-quoted docstring."""
    s = s.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').replace("\r", " ")
    return s + " " if s.endswith('"') else s


def _comment(s: str) -> str:
    """A layer name made safe in a trailing comment."""
    return s.replace("\n", "\\n").replace("\r", "\\r")


def _lit(v: Any) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else repr(float(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, tuple):
        return "(" + ", ".join(_lit(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, list):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    return repr(v)


def _ctor(code: TorchCode, slot0: int, slots: dict[int, str]) -> tuple[str, int]:
    """``nn.Conv2d(3, 64, kernel_size=7, stride=2)`` with parameters in place of varying slots."""
    parts: list[str] = []
    k = slot0
    for v in code.args:
        parts.append(slots.get(k) or _lit(v))
        k += 1
    for name, v, default in code.kwargs:
        if k in slots:
            parts.append(f"{name}={slots[k]}")
        elif default is ALWAYS or not _same(v, default):
            parts.append(f"{name}={_lit(v)}")
        k += 1
    return f"{code.module}({', '.join(parts)})", k


@dataclass
class _Writer:
    lines: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)

    def add(self, text: str = "") -> int:
        """Add a line (text with newlines: several); the number of the last one."""
        self.lines.extend(text.split("\n"))
        return len(self.lines)


def _scope_code(w: _Writer, inst: _Inst, cls_name: str, slots: dict[tuple[int, int], str],
                params: list[str], doc: str) -> dict[str, str]:
    """One class: __init__ building the modules, forward following the DAG."""
    attrs: set[str] = set()
    attr_of: dict[str, str] = {}
    w.add(f"class {cls_name}(nn.Module):")
    w.add(f'    """{_text(doc)}"""')
    w.add()
    sig = "".join(f", {p}: {_ptype(inst, slots, p)}" for p in params)
    w.add(f"    def __init__(self{sig}) -> None:")
    w.add("        super().__init__()")
    for ui, u in enumerate(inst.units):
        slot = {si: p for (uj, si), p in slots.items() if uj == ui}
        note = ""
        k = 0
        if u.code is not None and u.code.module:
            attr = identifier(u.name, attrs, MODULE_ATTRS)
            attr_of[u.name] = attr
            ctor, k = _ctor(u.code, 0, slot)
            note = f"  # {_comment(u.name)}" if attr != u.name else ""
            w.add(f"        self.{attr} = {ctor}{note}")
        elif u.code is not None:
            k = 0
        if u.act is not None:
            attr = identifier(f"{attr_of.get(u.name, identifier(u.name, set()))}_{u.act_kind}", attrs, MODULE_ATTRS)
            attr_of[u.name + " act"] = attr
            ctor, k = _ctor(u.act, k, slot)
            w.add(f"        self.{attr} = {ctor}")
        if u.inst is not None and u.inst.cls is not None:
            attr = identifier(u.name, attrs, MODULE_ATTRS)
            attr_of[u.name] = attr
            kw = ", ".join(f"{p}={slot[k + j] if (k + j) in slot else _lit(v)}"
                           for j, (p, v) in enumerate(u.inst.kwargs.items()))
            note = f"  # {_comment(u.name)}" if attr != u.name else ""
            w.add(f"        self.{attr} = {u.inst.cls.name}({kw}){note}")
    w.add()
    # forward
    uses: dict[str, list[int]] = {}
    for k, u in enumerate(inst.units):
        for s in dict.fromkeys(u.inputs):
            uses.setdefault(s, []).append(k)
    out_unit = inst.output
    var: dict[str, str] = {}
    taken: set[str] = set()
    n_in = len(inst.inputs)
    in_names = ["input"] if n_in == 1 else [f"input{k + 1}" for k in range(n_in)]
    if n_in == 1 and uses.get("<in 0>") == [0] and out_unit != "<in 0>":
        in_names = ["x"]
    for k, nm in enumerate(in_names):
        var[f"<in {k}>"] = nm
    taken |= set(in_names)
    w.add(f"    def forward(self, {', '.join(f'{n}: torch.Tensor' for n in in_names)}) -> torch.Tensor:")
    for k, u in enumerate(inst.units):
        args = [var[s] for s in u.inputs]
        if u.inst is not None:
            expr = f"self.{attr_of[u.name]}({', '.join(args)})"
        else:
            assert u.code is not None
            m = f"self.{attr_of[u.name]}" if u.code.module else ""
            expr = u.code.call.format(*args, m=m, all=", ".join(args))
            if u.act is not None:
                expr = u.act.call.format(expr, m=f"self.{attr_of[u.name + ' act']}", all=expr)
        chain = uses.get(u.name, []) == [k + 1] and u.name != out_unit
        target = "x" if chain or (u.name == out_unit and k == len(inst.units) - 1) else \
            identifier(u.name, taken, MODULE_ATTRS)
        var[u.name] = target
        line = w.add(f"        {target} = {expr}")
        if u.node is not None:
            w.statements.append(Statement(cls_name, line, u.name, target))
    w.add(f"        return {var[out_unit]}")
    w.add()
    w.add()
    return attr_of


def _ptype(inst: _Inst, slots: dict[tuple[int, int], str], p: str) -> str:
    for (ui, si), q in slots.items():
        if q == p:
            v = inst.units[ui].ctor_values()[si]
            if isinstance(v, bool):
                return "bool"
            if isinstance(v, int | Fraction) and (not isinstance(v, Fraction) or v.denominator == 1):
                return "int"
            if isinstance(v, float):
                return "float"
            if isinstance(v, str):
                return "str"
            if isinstance(v, tuple):
                return "tuple[int, ...]"
            if isinstance(v, list):
                return "list[int]"
            return "object"
    return "object"  # pragma: no cover


def _helper_names(root: _Inst) -> set[str]:
    """The classes and functions the layers' helpers define at the top of the file."""
    names: set[str] = set()
    for i in _all_insts(root):
        for u in i.units:
            for c in (u.code, u.act):
                if c is not None:
                    names.update(re.findall(r"^(?:class|def) (\w+)", c.helper, re.MULTILINE))
    return names


def _render(graph: Graph, a: Analysis, root: _Inst, classes: list[_Class], title: str,
            docs: Mapping[str, str | None]) -> Generated:
    w = _Writer()
    helpers: dict[str, None] = {}

    def collect(i: _Inst) -> None:
        for u in i.units:
            for c in (u.code, u.act):
                if c is not None and c.helper:
                    helpers[c.helper] = None
            if u.inst is not None:
                collect(u.inst)
    collect(root)
    main = class_name(graph.name, {c.name for c in classes} | _helper_names(root))
    head = f'{graph.name}{": " + title if title else ""}: PyTorch code written by cnncalc from {graph.file}.'
    w.add('"""' + _text(head))
    w.add()
    w.add(f"Input {fmt_shape(graph.input)}; cnncalc counts {a.totals.params:,} parameters, "
          f"{a.totals.buffers:,} buffer elements and {a.totals.macs:,} MACs per sample.")
    w.add(f"Build it with {main}() and call it on a batch of shape (N, {', '.join(map(str, graph.input))}).")
    w.add('"""')
    w.add()
    w.add("import torch")
    body_probe = " ".join(helpers) + " ".join(
        c.call for i in _all_insts(root) for u in i.units for c in (u.code, u.act) if c is not None)
    if "F." in body_probe:
        w.add("import torch.nn.functional as F")
    w.add("from torch import nn")
    w.add()
    w.add(f"INPUT_SHAPE = {_lit(tuple(graph.input))}")
    w.add()
    w.add()
    for h in helpers:
        for line in h.rstrip("\n").split("\n"):
            w.add(line)
        w.add()
        w.add()
    attr_maps: dict[str, dict[str, str]] = {}
    for c in classes:
        block_doc = (f"{docs[c.block]} " if docs.get(c.block) else "") + f"(block '{c.block}'" + \
            (f", {len(c.insts)} instances)" if len(c.insts) > 1 else ")")
        attr_maps[c.name] = _scope_code(w, c.insts[0], c.name, c.slots, c.params, block_doc)
    attr_maps[main] = _scope_code(w, root, main, {}, [], f"{graph.name}: input {fmt_shape(graph.input)}.")
    w.add('if __name__ == "__main__":')
    w.add(f"    model = {main}().eval()")
    w.add("    with torch.no_grad():")
    w.add("        y = model(torch.zeros(1, *INPUT_SHAPE))")
    w.add('    print(f"output {tuple(y.shape)}, {sum(p.numel() for p in model.parameters()):,} parameters")')
    scopes: dict[str, str] = {"": ""}

    def paths(i: _Inst, path: str) -> None:
        attr_of = attr_maps[i.cls.name if i.cls else main]
        for u in i.units:
            if u.inst is not None:
                p = f"{path}.{attr_of[u.name]}" if path else attr_of[u.name]
                scopes[p] = u.inst.prefix
                paths(u.inst, p)
    paths(root, "")
    text = "\n".join(w.lines).rstrip("\n") + "\n"
    return Generated(text, main, tuple(w.statements), scopes)


def _all_insts(root: _Inst) -> list[_Inst]:
    out = [root]
    for u in root.units:
        if u.inst is not None:
            out.extend(_all_insts(u.inst))
    return out
