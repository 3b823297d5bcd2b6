"""Resolves layers, blocks and repeat into a DAG of concrete layers in topological order."""

from __future__ import annotations

import difflib
import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from . import expr, limits
from . import symbolic as _symbolic
from .errors import Diagnostic, Position, SpecError, UsageError
from .layers import ALIASES, LAYER_TYPES, Layer, layer_class
from .source import without_gc
from .spec import ENTRY_KEYS, BlockDef, LoadedSpec, validation_diagnostics

#: Largest ``repeat`` of one entry and most layers a spec may expand to (reasons in cnncalc.limits).
MAX_REPEAT = limits.MAX_REPEAT
MAX_LAYERS = limits.MAX_LAYERS

INPUT = "input"

#: Stands in a scope's table for a layer that failed, so that users of it are not reported again.
_FAILED = object()


@dataclass(frozen=True)
class Group:
    """A block instance that a node belongs to (for collapsed rows)."""

    name: str
    type: str
    position: Position


@dataclass(frozen=True)
class Node:
    """One concrete layer of the network."""

    name: str
    type: str  # as written in the spec
    layer: Layer
    inputs: tuple[str, ...]
    position: Position
    groups: tuple[Group, ...] = ()


@dataclass(frozen=True)
class Graph:
    """Concrete layers in topological order; ``input`` is the network input's shape."""

    name: str
    input: tuple[int, ...]
    nodes: tuple[Node, ...]
    file: str
    #: Sizes may be sympy expressions (``build_graph(..., symbolic=True)``; see cnncalc.symbolic).
    symbolic: bool = False


# A reference to a name in a scope, resolved once every scope is complete.
@dataclass(frozen=True)
class _Ref:
    table: dict[str, Any] = field(hash=False, compare=False)
    name: str = ""
    position: Position | None = None
    scope: str = ""


@dataclass
class _Pending:
    name: str
    type: str
    layer: Layer
    refs: list[_Ref]
    position: Position
    groups: tuple[Group, ...]


class _Builder:
    def __init__(self, loaded: LoadedSpec, env: Mapping[str, int], symbolic: bool = False) -> None:
        self.spec = loaded.spec
        self.doc = loaded.doc
        self.env = dict(env)
        self.symbolic = symbolic
        self.problems: list[Diagnostic] = []
        self.nodes: list[_Pending] = []

    def fail(self, pos: Position, msg: str) -> None:
        self.problems.append(Diagnostic(pos, msg))

    # -- values ---------------------------------------------------------------------------

    def value(self, v: Any, env: Mapping[str, int | Fraction]) -> Any:
        """Substitute expressions in a field value (lists element-wise).

        A bare word that is not a variable ("same", "relu") is left for the field to accept or
        reject; anything else that parses as arithmetic is evaluated exactly.
        """
        if isinstance(v, list):
            return [self.value(x, env) for x in v]
        if not isinstance(v, str):
            return v
        if v.strip().isidentifier():
            bound = env.get(v.strip())
            if bound is None or isinstance(bound, str | bool):
                return v if bound is None else bound  # a bare word, or a block's word/flag argument
        if not expr.is_expression(v):
            return v  # plain text, not an expression
        if self.symbolic:  # unset variables stay symbols; bare words are settled per field
            return _symbolic.evaluate(v, env)
        r = expr.evaluate(v, env)  # raises ExprError for anything but arithmetic
        return int(r) if r.denominator == 1 else float(r)

    def count(self, v: Any, env: Mapping[str, int | Fraction], pos: Position, what: str) -> int | None:
        try:
            n = self.value(v, env)
        except expr.ExprError as e:
            self.fail(pos, str(e))
            return None
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            self.fail(pos, f"{what} must be a positive whole number, got {v!r}")
            return None
        if n > MAX_REPEAT:
            self.fail(pos, f"{what} {n:,} is absurd (at most {MAX_REPEAT:,})")
            return None
        return n

    # -- expansion ------------------------------------------------------------------------

    def expand(self, entries: list[dict[str, Any]], base: tuple[str | int, ...],
               env: Mapping[str, int | Fraction], prefix: str, inputs: dict[str, Any],
               groups: tuple[Group, ...], stack: tuple[str, ...]) -> dict[str, Any]:
        """Expand one scope's entries; returns the scope's table of local names."""
        table: dict[str, Any] = dict(inputs)
        explicit = {e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}
        counters: dict[str, int] = {}
        prev: Any = next(iter(inputs.values()))
        for i, entry in enumerate(entries):
            path = (*base, i)
            pos = self.doc.where(path)
            if not isinstance(entry, dict):
                self.fail(pos, "a layer must be a mapping with at least 'type'")
                continue
            kind = entry.get("type")
            if not isinstance(kind, str):
                self.fail(self.doc.where((*path, "type")) if "type" in entry else pos,
                          "missing required field 'type'" if "type" not in entry else
                          f"'type' must be a string, got {kind!r}")
                continue
            name = entry.get("name")
            if name is None:
                n = counters.get(kind, 0)
                while True:
                    n += 1
                    if f"{kind}{n}" not in explicit:
                        break
                counters[kind] = n
                name = f"{kind}{n}"
            elif not isinstance(name, str | int) or not str(name).strip():
                self.fail(self.doc.where((*path, "name")), "name must be a non-empty string")
                continue
            name = str(name)
            if name in table and name != INPUT:
                self.fail(self.doc.where((*path, "name")), f"duplicate layer name '{name}'")
                continue
            if name == INPUT:
                self.fail(self.doc.where((*path, "name")), "'input' is reserved for the network input")
                continue
            repeat = self.count(entry.get("repeat", 1), env, self.doc.where((*path, "repeat")), "repeat")
            if repeat is None:
                continue
            refs = self.refs(entry.get("inputs"), table, prev, path, name)
            if refs is None:
                continue
            out: Any = None
            for k in range(repeat):
                inst = name if repeat == 1 else f"{name}_{k + 1}"
                full = prefix + inst
                if kind in self.spec.blocks:
                    out = self.block(kind, entry, path, env, full, refs, groups, stack)
                else:
                    out = self.layer(kind, entry, path, env, full, refs, groups)
                if out is None or len(self.nodes) > MAX_LAYERS:
                    break
                refs = [out]
            if len(self.nodes) > MAX_LAYERS:
                self.fail(pos, f"the spec expands to more than {MAX_LAYERS:,} layers; "
                          "check 'repeat' values")
                raise SpecError(self.problems)
            table[name] = _FAILED if out is None else out
            if out is not None:
                prev = out
        return table

    def refs(self, raw: Any, table: dict[str, Any], prev: Any, path: tuple[str | int, ...],
             name: str) -> list[_Ref] | None:
        if raw is None:
            return [prev]
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
            self.fail(self.doc.where((*path, "inputs")), "inputs must be a layer name or a list of names")
            return None
        return [_Ref(table, n, self.doc.where((*path, "inputs", j)) if not isinstance(raw, str)
                     else self.doc.where((*path, "inputs")), name) for j, n in enumerate(names)]

    def bind(self, entry: dict[str, Any], path: tuple[str | int, ...],
             env: Mapping[str, int | Fraction]) -> dict[str, Any] | None:
        args: dict[str, Any] = {}
        ok = True
        for key, v in entry.items():
            if key in ENTRY_KEYS:
                continue
            try:
                args[key] = self.value(v, env)
            except expr.ExprError as e:
                self.fail(self.doc.where((*path, key)), f"{_where(path)}: {key}: {e}")
                ok = False
        return args if ok else None

    def layer(self, kind: str, entry: dict[str, Any], path: tuple[str | int, ...],
              env: Mapping[str, int | Fraction], full: str, refs: list[_Ref],
              groups: tuple[Group, ...]) -> _Ref | None:
        cls = layer_class(kind)
        if cls is None:
            choices = [*LAYER_TYPES, *ALIASES, *self.spec.blocks]
            close = difflib.get_close_matches(kind, choices, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; run 'cnncalc schema' for the list"
            self.fail(self.doc.where((*path, "type")), f"{_where(path)}: unknown layer type '{kind}'{hint}")
            return None
        args = self.bind(entry, path, env)
        if args is None:
            return None
        try:
            layer = _symbolic.build_layer(cls, args) if self.symbolic else cls.model_validate(args)
        except ValidationError as e:
            self.problems.extend(validation_diagnostics(
                e, self.doc, path, f"{_where(path)} ({kind}): ", [*cls.model_fields, *ENTRY_KEYS]))
            return None
        n_in = len(refs)
        if n_in < cls.min_inputs or (cls.max_inputs is not None and n_in > cls.max_inputs):
            want = f"{cls.min_inputs}" if cls.max_inputs == cls.min_inputs else \
                f"at least {cls.min_inputs}" if cls.max_inputs is None else f"{cls.min_inputs}–{cls.max_inputs}"
            self.fail(self.doc.where((*path, "inputs")) if "inputs" in entry else self.doc.where(path),
                      f"{full}: {kind} takes {want} input(s), got {n_in}")
            return None
        self.nodes.append(_Pending(full, kind, layer, refs, self.doc.where(path), groups))
        return _Ref({full: full}, full, None, "")

    def block(self, kind: str, entry: dict[str, Any], path: tuple[str | int, ...],
              env: Mapping[str, int | Fraction], full: str, refs: list[_Ref],
              groups: tuple[Group, ...], stack: tuple[str, ...]) -> _Ref | None:
        bdef: BlockDef = self.spec.blocks[kind]
        pos = self.doc.where(path)
        if kind in stack:
            self.fail(pos, f"block '{kind}' uses itself ({' → '.join((*stack, kind))})")
            return None
        if len(stack) >= limits.MAX_BLOCK_DEPTH or len(full) > limits.MAX_NAME_CHARS:
            self.fail(pos, f"{full[:60]}…: blocks nested {len(stack) + 1} deep, {len(full):,} characters of name; "
                      f"the limits are {limits.MAX_BLOCK_DEPTH} levels and {limits.MAX_NAME_CHARS:,} characters")
            raise SpecError(self.problems)
        args = self.bind(entry, path, env)
        if args is None:
            return None
        benv: dict[str, int | Fraction] = dict(self.env)
        ok = True
        for key in args:
            if key not in bdef.args:
                close = difflib.get_close_matches(key, list(bdef.args), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f" (it takes: {', '.join(bdef.args) or 'none'})"
                self.fail(self.doc.where((*path, key), key=True), f"block '{kind}' has no argument '{key}'{hint}")
                ok = False
        for key, default in bdef.args.items():
            v = args.get(key, default)
            if v is None:
                self.fail(pos, f"{full}: block '{kind}' needs argument '{key}'")
                ok = False
            elif _symbolic.is_expr(v):
                benv[key] = v
            elif isinstance(v, str | bool):
                benv[key] = v  # type: ignore[assignment]  # a word or flag, substituted as a whole value
            elif not isinstance(v, int | float):
                self.fail(self.doc.where((*path, key)),
                          f"block argument '{key}' must be a number, word or true/false, got {v!r}")
                ok = False
            else:
                benv[key] = Fraction(v)
        if len(refs) != len(bdef.inputs):
            self.fail(pos, f"{full}: block '{kind}' takes {len(bdef.inputs)} input(s), got {len(refs)}")
            ok = False
        if not ok:
            return None
        inner = dict(zip(bdef.inputs, refs))
        g = (*groups, Group(full, kind, pos))
        table = self.expand(bdef.layers, ("blocks", kind, "layers"), benv, full + ".", inner, g, (*stack, kind))
        out = bdef.output or _last_name(bdef, table)
        if out not in table:
            self.fail(self.doc.where(("blocks", kind, "output")), f"block '{kind}' output '{out}' is not one of its layers")
            return None
        return _Ref(table, out, self.doc.where(("blocks", kind, "output")), kind)

    # -- resolution -----------------------------------------------------------------------

    def resolve(self, ref: _Ref, seen: int = 0) -> str | None:
        target = ref.table.get(ref.name)
        if target is _FAILED:
            return None  # already reported where it failed
        if target is None:
            known = [k for k in ref.table if k != ref.name]
            close = difflib.get_close_matches(ref.name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.fail(ref.position or Position(self.doc.file, 1, 1),
                      f"{ref.scope}: unknown input '{ref.name}'{hint}")
            return None
        if isinstance(target, str):
            return target
        if seen > 10_000:  # pragma: no cover - tables never chain this deep
            return None
        return self.resolve(target, seen + 1)


def _last_name(bdef: BlockDef, table: dict[str, Any]) -> str:
    names = [k for k in table if k not in bdef.inputs]
    return names[-1] if names else bdef.inputs[0]


def _where(path: tuple[str | int, ...]) -> str:
    if path[0] == "blocks":
        return f"blocks.{path[1]}.layers[{path[3]}]"
    return f"layers[{path[1]}]"


@without_gc
def build_graph(loaded: LoadedSpec, env: Mapping[str, int] | None = None,
                input_shape: tuple[int, ...] | None = None, symbolic: bool = False) -> Graph:
    """Expand a loaded spec into a Graph; SpecError with every problem found, sorted by line.

    With ``symbolic`` (needs sympy), variables not given in ``env`` stay symbols and sizes
    become formulas; the spec's ``vars:`` defaults are then not applied.
    """
    if symbolic:
        _symbolic.require()
    if env:
        _check_variables(loaded, env)
    b = _Builder(loaded, {**({} if symbolic else loaded.spec.vars), **(env or {})}, symbolic)
    spec, doc = loaded.spec, loaded.doc
    shape: list[int] = []
    if input_shape is not None:
        shape = list(input_shape)
    else:
        for i, v in enumerate(spec.input):
            try:
                n = b.value(v, {k: Fraction(x) for k, x in b.env.items()})
            except expr.ExprError as e:
                b.fail(doc.where(("input", i)), f"input: {e}")
                continue
            if symbolic:
                n = _symbolic.symbolize(n)
            if symbolic and _symbolic.is_expr(n):
                shape.append(n)
            elif not isinstance(n, int) or isinstance(n, bool) or n < 1:
                b.fail(doc.where(("input", i)), f"input sizes must be positive whole numbers, got {v!r}")
            else:
                shape.append(n)
    if len(shape) not in (1, 3) and not b.problems:
        b.fail(doc.where(("input",)), "input must be [C, H, W] or [features]")
    top = {INPUT: _Ref({INPUT: INPUT}, INPUT, None, "")}
    benv = {k: Fraction(v) for k, v in b.env.items()}
    b.expand(spec.layers, ("layers",), benv, "", top, (), ())
    nodes: list[Node] = []
    for p in b.nodes:
        ins = [b.resolve(r) for r in p.refs]
        if all(x is not None for x in ins):
            nodes.append(Node(p.name, p.type, p.layer, tuple(x for x in ins if x), p.position, p.groups))
    if b.problems:
        raise SpecError(b.problems)
    return Graph(spec.name, tuple(shape), _toposort(nodes, doc.file), doc.file, symbolic)


def _check_variables(loaded: LoadedSpec, env: Mapping[str, int]) -> None:
    """UsageError for a variable given (``--set``) that the spec neither defines nor uses, with the
    closest name it does have: ``--set w=32`` on a spec whose variable is ``W`` would otherwise be
    silently ignored."""
    known = set(loaded.spec.vars)
    todo: list[Any] = [loaded.doc.data]
    while todo:  # every word written in the spec's values (a superset of the variables it uses)
        v = todo.pop()
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, str):
            known.update(_WORD.findall(v))
    for name in env:
        if name in known:
            continue
        likely = sorted({*loaded.spec.vars, *(w for v in loaded.spec.input if isinstance(v, str) for w in _WORD.findall(v))})
        same = [k for k in likely if k.lower() == name.lower()]
        close = same or difflib.get_close_matches(name, likely, n=1)
        defined = ", ".join(sorted(loaded.spec.vars)) or "none under 'vars:'"
        hint = f"; did you mean '{close[0]}'? (names are case-sensitive)" if close else f" (its variables: {defined})"
        raise UsageError(f"--set {name}: the spec has no variable '{name}'{hint}")


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _toposort(nodes: list[Node], file: str) -> tuple[Node, ...]:
    """Kahn's algorithm, keeping definition order among ready nodes; cycles are errors."""
    index = {n.name: i for i, n in enumerate(nodes)}
    users: dict[str, list[int]] = {n.name: [] for n in nodes}
    missing = [0] * len(nodes)
    for i, n in enumerate(nodes):
        for src in set(n.inputs):
            if src != INPUT:
                users[src].append(i)
                missing[i] += 1
    ready = [i for i, m in enumerate(missing) if m == 0]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for j in users[nodes[i].name]:
            missing[j] -= 1
            if missing[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(nodes):
        stuck = [n for i, n in enumerate(nodes) if missing[i] > 0]
        cycle = _find_cycle(stuck, index, nodes)
        raise SpecError([Diagnostic(
            nodes[index[cycle[0]]].position,
            f"cycle: {' → '.join((*cycle, cycle[0]))}; a layer cannot depend on its own output",
        )])
    return tuple(order)


def _find_cycle(stuck: list[Node], index: dict[str, int], nodes: list[Node]) -> list[str]:
    stuck_names = {n.name for n in stuck}
    start = stuck[0].name
    seen: list[str] = []
    cur = start
    while cur not in seen:
        seen.append(cur)
        cur = next(s for s in nodes[index[cur]].inputs if s in stuck_names)
    return seen[seen.index(cur):]
