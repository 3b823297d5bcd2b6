"""Resolves layers, blocks and repeat into a DAG of concrete layers in topological order."""

from __future__ import annotations

import difflib
import heapq
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from . import expr, limits, speclang
from . import symbolic as _symbolic
from .errors import Diagnostic, LayerShapeError, Position, SpecError, UsageError
from .layers import ALIASES, LAYER_TYPES, Layer, layer_class
from .source import Document, without_gc
from .spec import ENTRY_KEYS, BlockDef, FreeParameter, LoadedSpec, validation_diagnostics

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
    #: The instance's block arguments as bound (name, value), in the block's order.
    args: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Node:
    """One concrete layer of the network."""

    name: str
    type: str  # as written in the spec
    layer: Layer
    inputs: tuple[str, ...]
    position: Position
    groups: tuple[Group, ...] = ()
    #: The layer whose weights this call uses (``weights:``): its row counts no parameters of its own.
    shares: str | None = None
    #: False when the spec says ``trainable: false`` (on the layer or a block around it).
    trainable: bool = True
    #: True when the spec says ``functional: true``: PyTorch calls it as a function (F.relu), not a module.
    functional: bool = False
    #: The frozen part of a partly trainable layer (``trainable: bias`` freezes "weights",
    #: ``trainable: weights`` freezes "bias"); "" otherwise.
    frozen: str = ""


@dataclass(frozen=True)
class Graph:
    """Concrete layers in topological order; ``input`` is the network input's shape."""

    name: str
    input: tuple[int, ...]
    nodes: tuple[Node, ...]
    file: str
    #: Sizes may be sympy expressions (``build_graph(..., symbolic=True)``; see cnncalc.symbolic).
    symbolic: bool = False
    #: Inputs besides the first (a spec's ``inputs:``), by name; the first is ``input``.
    extra_inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: Parameters that no layer row uses (the spec's ``parameters:``).
    parameters: tuple[FreeParameter, ...] = ()


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
    shares: str | None = None
    trainable: bool = True
    functional: bool = False
    frozen: str = ""


class _Reported(expr.ExprError):
    """``in.c`` of an instance whose input failed: that failure is reported already."""


@dataclass(slots=True)  # (built once per entry: a frozen dataclass's __init__ costs twice as much)
class _Site:
    """Where an instance's arguments were written: an entry, or a stage-table row."""

    path: tuple[str | int, ...]  # the entry's (or row's) path in the document
    label: str  # ``layers[3]``, ``layers[3].rows[2]``: context for messages
    pos: Position
    keys: dict[str, tuple[str | int, ...]]  # each argument's own path (a row's cell)
    has_inputs: bool = False
    #: The entry's ``weights:`` and ``trainable:`` (see _sharing), kept apart from the arguments.
    sharing: tuple[tuple[str, Any], ...] = ()

    def at(self, doc: Document, key: str, *, key_pos: bool = False) -> Position:
        return doc.where(self.keys.get(key, (*self.path, key)), key=key_pos)


class _Scope(Mapping[str, Any]):
    """A block instance's variables, plus ``in.c``, ``in.h``, ``in.w`` (its input's shape),
    computed only when an expression uses them."""

    def __init__(self, base: dict[str, Any], shape: Callable[[], tuple[Any, ...]]) -> None:
        self.base = base
        self.shape = shape

    def __getitem__(self, key: str) -> Any:
        if key in expr.SHAPE_NAMES:
            shape = self.shape()
            i = expr.SHAPE_NAMES.index(key)
            if i >= len(shape):
                raise expr.ExprError(f"{key}: the block's input is a vector {list(shape)}; only in.c is known")
            v = shape[i]
            return Fraction(v) if isinstance(v, int) else v
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return key in self.base or key in expr.SHAPE_NAMES

    def __iter__(self) -> Iterator[str]:
        return iter(self.base)

    def __len__(self) -> int:
        return len(self.base)

    def extended(self, extra: Mapping[str, Any]) -> _Scope:
        return _Scope({**self.base, **extra}, self.shape)


def _with(env: Mapping[str, Any], extra: Mapping[str, Any]) -> Mapping[str, Any]:
    return env.extended(extra) if isinstance(env, _Scope) else {**env, **extra}


def _is_expr(v: str) -> bool:
    try:
        expr.parse(v)
    except expr.ExprError:
        return False
    return True


class _Builder:
    def __init__(self, loaded: LoadedSpec, env: Mapping[str, int], symbolic: bool = False) -> None:
        self.spec = loaded.spec
        self.doc = loaded.doc
        self.env = dict(env)
        self.symbolic = symbolic
        self.problems: list[Diagnostic] = []
        self.nodes: list[_Pending] = []
        self.tags: dict[int, str] = {}  # problem index → the innermost block instance it arose in
        self.row_of: dict[str, Position] = {}  # stage-table instance → its row
        self.outputs: dict[str, _Ref] = {}  # block instance → its output
        self.shapes: dict[str, Any] = {}  # shapes known while expanding (for in.c …)
        self.shaped = 0  # nodes whose shapes have been tried
        self.broken: set[str] = set()  # blocks whose definition failed (reported once)
        self.frozen = 0  # block instances with trainable: false around the layers being expanded
        self.share_prefixes: list[tuple[str, str]] = []  # (instance prefix, owner prefix) of weights: blocks
        self.made = 0  # instances that made no layer (every layer left out by when:)
        #: Layers already validated, by kind and arguments: layers are frozen values, so equal
        #: entries (a repeated block's layers) share one object and are validated once.
        self.validated: dict[Any, Layer] = {}

    def fail(self, pos: Position, msg: str, cause: Exception | None = None) -> None:
        if not isinstance(cause, _Reported):
            self.problems.append(Diagnostic(pos, msg))

    def diagnostics(self) -> list[Diagnostic]:
        """The problems, one per block-definition problem with the instances it affects."""
        def row(inst: str | None) -> Position | None:
            while inst:
                if inst in self.row_of:
                    return self.row_of[inst]
                inst = inst.rpartition(".")[0]
            return None
        return speclang.merge_instances(
            speclang.Tagged(d, self.tags.get(i), row(self.tags.get(i))) for i, d in enumerate(self.problems))

    # -- values ---------------------------------------------------------------------------

    def value(self, v: Any, env: Mapping[str, Any]) -> Any:
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
        r = expr.evaluate(v, env)  # raises ExprError for anything but the spec language
        if isinstance(r, bool):
            return r
        return int(r) if r.denominator == 1 else float(r)

    def count(self, v: Any, env: Mapping[str, Any], pos: Position, what: str) -> int | None:
        try:
            n = self.value(v, env)
        except expr.ExprError as e:
            self.fail(pos, str(e), e)
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
               env: Mapping[str, Any], prefix: str, inputs: dict[str, Any],
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
            kind = self.kind(entry, path, env)
            if kind is None:
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
            elif not isinstance(name, str | int) or isinstance(name, bool) or not str(name).strip():
                self.fail(self.doc.where((*path, "name")), "name must be a non-empty string" + _yaml_bool(name))
                continue
            name = str(name)
            if name in table and name != INPUT:
                self.fail(self.doc.where((*path, "name")), f"duplicate layer name '{name}'")
                continue
            if name == INPUT:
                self.fail(self.doc.where((*path, "name")), "'input' is reserved for the network input")
                continue
            split = speclang.split_flow(entry)
            if split:
                key, text = split
                self.fail(self.doc.where((*path, key)),
                          f"{_where(path)}: YAML split '{key}: {text}' at the comma inside {{…}}; "
                          f"quote the expression: {key}: \"{text}\"")
                table[name] = _FAILED
                continue
            refs = self.refs(entry.get("inputs"), table, prev, path, name)
            if refs is None:
                table[name] = _FAILED
                continue
            if "when" in entry:
                keep = self.condition(entry["when"], env, self.doc.where((*path, "when")), path)
                if keep is None:
                    table[name] = _FAILED
                    continue
                if not keep:  # left out: whatever reads it reads its (first) input
                    table[name] = prev = refs[0]
                    continue
            if "rows" in entry:
                out: Any = self.stage(kind, entry, path, env, prefix, name, refs, groups, stack, table)
                table[name] = _FAILED if out is None else out
                if out is not None:
                    prev = out
                continue
            repeat = self.count(entry["repeat"], env, self.doc.where((*path, "repeat")), "repeat") \
                if "repeat" in entry else 1
            if repeat is None:
                continue
            raw = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
            # (each argument's path is the entry's path and its key: _Site.at's default)
            site = _Site(path, _where(path), pos, {}, "inputs" in entry, _sharing_keys(entry))
            out = self.instances(kind, raw, site, env, [prefix + (name if repeat == 1 else f"{name}_{k + 1}")
                                                         for k in range(repeat)], refs, groups, stack)
            table[name] = _FAILED if out is None else out
            if out is not None:
                prev = out
        return table

    def kind(self, entry: dict[str, Any], path: tuple[str | int, ...], env: Mapping[str, Any]) -> str | None:
        """The entry's kind or block name; a block's word argument (``type: act``) is replaced."""
        kind = entry.get("type")
        if not isinstance(kind, str):
            self.fail(self.doc.where((*path, "type")) if "type" in entry else self.doc.where(path),
                      "missing required field 'type'" if "type" not in entry else
                      f"'type' must be a string, got {kind!r}" + _yaml_bool(kind))
            return None
        if kind in env and kind not in self.spec.blocks:
            bound = env[kind]
            if not isinstance(bound, str) and layer_class(kind) is not None:
                return kind  # a variable that happens to share a kind's name
            if not isinstance(bound, str):
                self.fail(self.doc.where((*path, "type")),
                          f"{_where(path)}: type '{kind}' is the argument value {speclang.show(bound)}, not a kind")
                return None
            return bound
        return kind

    def condition(self, v: Any, env: Mapping[str, Any], pos: Position,
                  path: tuple[str | int, ...]) -> bool | None:
        """A ``when:`` value: true/false, or an expression (``s == 1 and in.c == c``)."""
        try:
            r = self.value(v, env)
        except expr.ExprError as e:
            self.fail(pos, f"{_where(path)}: when: {e}", e)
            return None
        if isinstance(r, bool) or (isinstance(r, int | float) and r in (0, 1)):
            return bool(r)
        self.fail(pos, f"{_where(path)}: when: must be true/false or a condition, got {v!r}")
        return None

    def instances(self, kind: str, raw: dict[str, Any], site: _Site, env: Mapping[str, Any],
                  names: list[str], refs: list[_Ref], groups: tuple[Group, ...],
                  stack: tuple[str, ...]) -> _Ref | None:
        """Instantiate a layer or block once per name, in a chain; the last one's reference."""
        out: _Ref | None = None
        for full in names:
            before = len(self.nodes)
            if kind in self.spec.blocks:
                out = self.block(kind, raw, site, env, full, refs, groups, stack)
            else:
                out = self.layer(kind, raw, site, env, full, refs, groups)
            self.made += len(self.nodes) == before  # instances whose layers are all left out count too
            if out is None or max(len(self.nodes), self.made) > MAX_LAYERS:
                break
            refs = [out]
        if max(len(self.nodes), self.made) > MAX_LAYERS:
            self.fail(site.pos, f"the spec expands to more than {MAX_LAYERS:,} layers; "
                      "check 'repeat' values")
            raise SpecError(self.diagnostics())
        return out

    def stage(self, kind: str, entry: dict[str, Any], path: tuple[str | int, ...], env: Mapping[str, Any],
              prefix: str, name: str, refs: list[_Ref], groups: tuple[Group, ...], stack: tuple[str, ...],
              table: dict[str, Any]) -> _Ref | None:
        """A stage table: the block (or layer) once per row, its columns as arguments."""
        rows, columns = entry.get("rows"), entry.get("columns")
        at = self.doc.where
        if not isinstance(rows, list) or not rows:
            self.fail(at((*path, "rows")), f"{_where(path)}: rows must be a non-empty list")
            return None
        if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            self.fail(at((*path, "columns")), f"{_where(path)}: columns must be a list of argument names")
            return None
        pattern = entry.get("names", f"{entry.get('name', kind)}.{{i+1}}")
        try:
            if not isinstance(pattern, str):
                raise expr.ExprError("names: must be a pattern such as 'features.{i+1}'")
            speclang.check_pattern(pattern)
        except expr.ExprError as e:
            self.fail(at((*path, "names")), f"{_where(path)}: {e}", e)
            return None
        rest = entry.get("rest", {})
        if not isinstance(rest, dict):
            self.fail(at((*path, "rest")), f"{_where(path)}: rest must be a mapping of arguments")
            return None
        accepts = self.accepts(kind)
        rep = entry.get("repeat", 1)
        row_vars = expr.names(rep) if isinstance(rep, str) and _is_expr(rep) else set()
        const = {k: v for k, v in entry.items() if k not in ENTRY_KEYS and k not in speclang.TABLE_KEYS}
        if columns:
            for j, c in enumerate(columns):
                if accepts is not None and c not in accepts and c not in row_vars:
                    close = difflib.get_close_matches(c, sorted(accepts), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else \
                        f" (it takes: {', '.join(accepts) or 'none'}; a column only 'repeat:' uses is fine too)"
                    self.fail(at((*path, "columns", j)), f"{_where(path)}: column '{c}' is not an argument "
                              f"of '{kind}'{hint}")
                    return None
                if c in const:
                    self.fail(at((*path, c), key=True), f"{_where(path)}: '{c}' is also a column of the table")
                    return None
        table_cells = [self.cells(row, columns, accepts, row_vars, (*path, "rows", r),
                                  f"{_where(path)}.rows[{r}]", kind) for r, row in enumerate(rows)]
        if any(c is None for c in table_cells):
            return None
        out: _Ref | None = None
        count = 0
        for r, cells in enumerate(table_cells):
            assert cells is not None
            rpath = (*path, "rows", r)
            rpos = at(rpath)
            label = f"{_where(path)}.rows[{r}]"
            try:
                renv = _with(env, {c: Fraction(self.value(cells[c][0], env)) for c in row_vars
                                   if c in cells and isinstance(self.value(cells[c][0], env), int)})
            except expr.ExprError as e:
                self.fail(rpos, f"{label}: {e}", e)
                return None
            n = self.count(rep, renv, at((*path, "repeat")) if "repeat" in entry else rpos, f"{label}: repeat")
            if n is None:
                return None
            args = {**const, **{c: v for c, (v, _) in cells.items() if accepts is None or c in accepts}}
            keys = {**{k: (*path, k) for k in const}, **{c: p for c, (_, p) in cells.items()},
                    **{k: (*path, "rest", k) for k in rest}}
            site = _Site(rpath, label, rpos, keys, "inputs" in entry, _sharing_keys(entry))
            try:
                names = [prefix + speclang.instance_name(pattern, count + j, r, j) for j in range(n)]
            except expr.ExprError as e:
                self.fail(at((*path, "names")), f"{_where(path)}: names: {e}", e)
                return None
            clash = next((x for x in names if x[len(prefix):] in table or x in self.row_of), None)
            if clash is None and len(set(names)) < len(names):
                clash = next(x for k, x in enumerate(names) if x in names[:k])
            if clash:
                self.fail(at((*path, "names")) if "names" in entry else rpos,
                          f"{label}: instance name '{clash[len(prefix):]}' is taken; give 'names:' a "
                          "pattern with {i} (features.{i+1})")
                return None
            for j, full in enumerate(names):  # i, row and j may be used in the entry's arguments
                self.row_of[full] = rpos
                ienv = _with(env, {"i": Fraction(count + j), "row": Fraction(r), "j": Fraction(j)})
                out = self.instances(kind, {**args, **rest} if j else args, site, ienv, [full], refs,
                                     groups, stack)
                if out is None:
                    return None
                refs = [out]
            count += n
            for full in names:
                local = full[len(prefix):]
                if local != name and local not in table:
                    table[local] = _Ref({full: full}, full, None, "") if kind not in self.spec.blocks \
                        else self.outputs.get(full, _FAILED)
            assert out is not None  # every row has at least one instance
            refs = [out]
        return out

    def cells(self, row: Any, columns: list[str] | None, accepts: list[str] | None, row_vars: set[str],
              rpath: tuple[str | int, ...], label: str, kind: str) -> dict[str, tuple[Any, tuple[str | int, ...]]] | None:
        """A stage-table row's values by column, each with its path; None (reported) if malformed."""
        rpos = self.doc.where(rpath)
        if isinstance(row, list):
            split = speclang.split_cells(row)
            if split:
                self.fail(rpos, f"{label}: YAML split '{split}' at the comma inside [...]; quote the "
                          f"expression: \"{split}\"")
                return None
            if not columns:
                self.fail(rpos, f"{label}: a row written as a list needs 'columns:' naming its values")
                return None
            if len(row) != len(columns):
                self.fail(rpos, f"{label}: {len(row)} values for {len(columns)} columns ({', '.join(columns)})")
                return None
            return {c: (v, (*rpath, j)) for j, (c, v) in enumerate(zip(columns, row))}
        if isinstance(row, dict):
            bad = [k for k in row if accepts is not None and k not in accepts and k not in row_vars]
            if bad:
                self.fail(self.doc.where((*rpath, bad[0]), key=True), f"{label}: '{bad[0]}' is not an "
                          f"argument of '{kind}' (it takes: {', '.join(accepts or [])})")
                return None
            return {str(k): (v, (*rpath, k)) for k, v in row.items()}
        self.fail(rpos, f"{label}: a row must be a list of values or a mapping")
        return None

    def accepts(self, kind: str) -> list[str] | None:
        """The arguments a block takes or the fields a layer kind has (None: unknown kind)."""
        if kind in self.spec.blocks:
            return list(self.spec.blocks[kind].args)
        cls = layer_class(kind)
        return None if cls is None else [k for k in cls.model_fields if k not in ENTRY_KEYS]

    def refs(self, raw: Any, table: dict[str, Any], prev: Any, path: tuple[str | int, ...],
             name: str) -> list[_Ref] | None:
        if raw is None:
            return [prev]
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(x, str) for x in names):
            odd = next((x for x in names if isinstance(x, bool)), None) if isinstance(names, list) else names
            self.fail(self.doc.where((*path, "inputs")), "inputs must be a layer name or a list of names"
                      + _yaml_bool(odd))
            return None
        return [_Ref(table, n, self.doc.where((*path, "inputs", j)) if not isinstance(raw, str)
                     else self.doc.where((*path, "inputs")), name) for j, n in enumerate(names)]

    def bind(self, raw: dict[str, Any], site: _Site, env: Mapping[str, Any]) -> dict[str, Any] | None:
        args: dict[str, Any] = {}
        ok = True
        for key, v in raw.items():
            try:
                args[key] = self.value(v, env)
            except expr.ExprError as e:
                self.fail(site.at(self.doc, key), f"{site.label}: {key}: {e}", e)
                ok = False
        return args if ok else None

    def layer(self, kind: str, raw: dict[str, Any], site: _Site, env: Mapping[str, Any], full: str,
              refs: list[_Ref], groups: tuple[Group, ...]) -> _Ref | None:
        path = site.path
        cls = layer_class(kind)
        if cls is None:
            choices = [*LAYER_TYPES, *ALIASES, *self.spec.blocks]
            close = difflib.get_close_matches(kind, choices, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; run 'cnncalc schema' for the list"
            self.fail(self.doc.where((*path, "type")), f"{site.label}: unknown layer type '{kind}'{hint}")
            return None
        args = self.bind(raw, site, env)
        if args is None:
            return None
        try:
            layer = _symbolic.build_layer(cls, args) if self.symbolic else self.validate(cls, args)
        except ValidationError as e:
            self.problems.extend(validation_diagnostics(
                e, self.doc, path, f"{site.label} ({kind}): ", [*cls.model_fields, *ENTRY_KEYS]))
            return None
        n_in = len(refs)
        if n_in < cls.min_inputs or (cls.max_inputs is not None and n_in > cls.max_inputs):
            want = f"{cls.min_inputs}" if cls.max_inputs == cls.min_inputs else \
                f"at least {cls.min_inputs}" if cls.max_inputs is None else f"{cls.min_inputs}–{cls.max_inputs}"
            self.fail(self.doc.where((*path, "inputs")) if site.has_inputs else site.pos,
                      f"{full}: {kind} takes {want} input(s), got {n_in}")
            return None
        keys = dict(site.sharing)
        sharing = _sharing(self, keys, path, full)
        if sharing is None:
            return None
        shares, trainable = sharing
        functional = keys.get("functional", False)
        if not isinstance(functional, bool):
            self.fail(self.doc.where((*path, "functional")),
                      f"{full}: functional must be true or false, got {functional!r}")
            return None
        part = keys.get("trainable")
        frozen = {"weights": "bias", "bias": "weights"}.get(part, "") if isinstance(part, str) and trainable else ""
        self.nodes.append(_Pending(full, kind, layer, refs, site.pos, groups, shares, trainable, functional,
                                   frozen))
        return _Ref({full: full}, full, None, "")

    def validate(self, cls: type[Layer], args: dict[str, Any]) -> Layer:
        """``cls.model_validate(args)``, once per distinct (kind, arguments): the key holds each
        value's type too, so ``1``, ``1.0`` and ``true`` stay apart."""
        try:
            key: Any = (cls, *((k, v.__class__, v) for k, v in args.items()))
            hash(key)
        except TypeError:  # a list argument: validated every time
            return cls.model_validate(args)
        layer = self.validated.get(key)
        if layer is None:
            layer = self.validated[key] = cls.model_validate(args)
        return layer

    def block(self, kind: str, raw: dict[str, Any], site: _Site, env: Mapping[str, Any], full: str,
              refs: list[_Ref], groups: tuple[Group, ...], stack: tuple[str, ...]) -> _Ref | None:
        bdef: BlockDef = self.spec.blocks[kind]
        pos = site.pos
        if kind in self.broken:
            return None  # its definition is reported
        if kind in stack:
            self.fail(pos, f"block '{kind}' uses itself ({' → '.join((*stack, kind))})")
            return None
        if len(stack) >= limits.MAX_BLOCK_DEPTH or len(full) > limits.MAX_NAME_CHARS:
            self.fail(pos, f"{full[:60]}…: blocks nested {len(stack) + 1} deep, {len(full):,} characters of name; "
                      f"the limits are {limits.MAX_BLOCK_DEPTH} levels and {limits.MAX_NAME_CHARS:,} characters")
            raise SpecError(self.problems)
        args = self.bind(raw, site, env)
        if args is None:
            return None
        benv: dict[str, Any] = dict(self.env)
        scope = _Scope(benv, lambda: self.shape_of(refs[0]))
        ok = True
        for key in args:
            if key not in bdef.args:  # (a YAML key can be a number: `{type: pair, 16: …}`)
                close = difflib.get_close_matches(str(key), list(bdef.args), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f" (it takes: {', '.join(bdef.args) or 'none'})"
                self.fail(site.at(self.doc, key, key_pos=True), f"block '{kind}' has no argument '{key}'{hint}")
                ok = False
        for key, default in bdef.args.items():
            v = args.get(key, default)
            if key not in args and isinstance(default, str) and _is_expr(default) and not (
                default.strip().isidentifier() and default.strip() not in bdef.args
            ):  # a default computed from the arguments before it: sq: "max(8, c // 4)"
                try:
                    v = self.value(default, scope)
                except expr.ExprError as e:
                    self.fail(self.doc.where(("blocks", kind, "args", key)), f"blocks.{kind}.args: {key}: {e}", e)
                    self.tags[len(self.problems) - 1] = full
                    ok = False
                    continue
            if v is None:
                self.fail(pos, f"{full}: block '{kind}' needs argument '{key}'")
                ok = False
            elif _symbolic.is_expr(v):
                benv[key] = v
            elif isinstance(v, str | bool):
                benv[key] = v  # a word or flag, substituted as a whole value
            elif not isinstance(v, int | float):
                self.fail(site.at(self.doc, key),
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
        g = (*groups, Group(full, kind, pos, tuple((k, benv.get(k)) for k in bdef.args)))
        sharing = _sharing(self, dict(site.sharing), site.path, full)
        if sharing is None:
            return None
        owner, trainable = sharing
        if isinstance(dict(site.sharing).get("trainable"), str):
            self.fail(self.doc.where((*site.path, "trainable")), f"{full}: trainable: weights / bias applies "
                      f"to a layer, not to an instance of block '{kind}'")
            return None
        if "functional" in dict(site.sharing):
            self.fail(self.doc.where((*site.path, "functional")), f"{full}: functional: applies to a layer "
                      f"(a PyTorch function call), not to an instance of block '{kind}'")
            return None
        self.frozen += not trainable
        if owner is not None:
            self.share_prefixes.append((full + ".", owner + "."))
        start = len(self.problems)
        try:
            table = self.expand(bdef.layers, ("blocks", kind, "layers"), scope, full + ".", inner, g, (*stack, kind))
        finally:
            self.frozen -= not trainable
            if owner is not None:
                self.share_prefixes.pop()
        for k in range(start, len(self.problems)):
            self.tags.setdefault(k, full)
        out = bdef.output or _last_name(bdef, table)
        if out not in table:
            self.fail(self.doc.where(("blocks", kind, "output")), f"block '{kind}' output '{out}' is not one of its layers")
            return None
        ref = _Ref(table, out, self.doc.where(("blocks", kind, "output")), kind)
        self.outputs[full] = ref
        return ref

    # -- shapes during expansion (in.c, in.h, in.w) ---------------------------------------

    def shape_of(self, ref: _Ref) -> tuple[Any, ...]:
        """The shape of what ``ref`` names, from the layers expanded so far; ExprError if unknown."""
        name = self.resolve_quiet(ref)
        if name is None:
            if ref.table.get(ref.name) is _FAILED or self.failed_below(ref):
                raise _Reported("")
            raise expr.ExprError("the block's input shape is not known: its input is defined later")
        while name not in self.shapes and self.shaped < len(self.nodes):
            p = self.nodes[self.shaped]
            self.shaped += 1
            ins = [self.resolve_quiet(r) for r in p.refs]
            if any(i is None or i not in self.shapes for i in ins):
                continue
            try:
                self.shapes[p.name] = p.layer.output_shape(tuple(self.shapes[i] for i in ins if i))
            except LayerShapeError as e:
                self.fail(p.position, f"{p.name} ({p.type}): {e}")
            except (TypeError, ValueError):  # a symbolic size where a formula needs a number
                continue
        if name not in self.shapes:
            raise expr.ExprError(f"the block's input shape is not known: '{name}' has none")
        return tuple(self.shapes[name])

    def failed_below(self, ref: _Ref) -> bool:
        for _ in range(10_000):
            target = ref.table.get(ref.name)
            if target is _FAILED:
                return True
            if not isinstance(target, _Ref):
                return False
            ref = target
        return False  # pragma: no cover

    def resolve_quiet(self, ref: _Ref) -> str | None:
        """Like resolve, without reporting; None for a name not (yet) defined or failed."""
        for _ in range(10_000):
            target = ref.table.get(ref.name)
            if target is None or target is _FAILED:
                return None
            if isinstance(target, str):
                return target
            ref = target
        return None  # pragma: no cover - tables never chain this deep


    # -- resolution -----------------------------------------------------------------------

    def resolve(self, ref: _Ref) -> str | None:
        """The layer a reference names, following block outputs and left-out layers (a loop)."""
        seen: dict[tuple[int, str], None] = {}  # ordered, for the loop's message
        while True:
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
            key = (id(ref.table), ref.name)
            if key in seen:  # left-out layers (when: false) that read each other
                order = list(seen)
                loop = [n for _, n in order[order.index(key):]]
                self.fail(ref.position or Position(self.doc.file, 1, 1),
                          f"layers left out by when: read each other in a loop: {' → '.join((*loop, loop[0]))}")
                ref.table[ref.name] = _FAILED
                return None
            seen[key] = None
            ref = target


def _yaml_bool(v: Any) -> str:
    """A hint for a name YAML read as a boolean (``name: no``, ``inputs: [on]``)."""
    if not isinstance(v, bool):
        return ""
    return (f" (YAML reads a bare yes/no/on/off/true/false as the boolean {str(v).lower()}; "
            "quote a name spelled so: \"no\")")


def _sharing_keys(entry: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """An entry's ``weights:``, ``trainable:`` and ``functional:``, for _Site."""
    return tuple((k, entry[k]) for k in ("weights", "trainable", "functional") if k in entry)


def _sharing(b: _Builder, entry: dict[str, Any], path: tuple[str | int, ...],
             full: str) -> tuple[str | None, bool] | None:
    """An entry's ``weights:`` (the layer or block instance whose weights it uses) and whether
    it is trainable; a ``weights:`` block around it maps its name into the owner instance."""
    if not entry and not b.share_prefixes:  # the common case: its own weights
        return None, not b.frozen
    owner = entry.get("weights")
    trainable = entry.get("trainable", True)
    ok = True
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        b.fail(b.doc.where((*path, "weights")), f"{full}: weights must name the layer whose weights it uses")
        ok = False
    if not isinstance(trainable, bool) and trainable not in ("weights", "bias"):
        b.fail(b.doc.where((*path, "trainable")), f"{full}: trainable must be true, false, weights (the bias "
               f"frozen) or bias (the weights frozen), got {trainable!r}")
        ok = False
    if not ok:
        return None
    if owner is None:
        for mine, theirs in reversed(b.share_prefixes):
            if full.startswith(mine):
                owner = theirs + full[len(mine):]
                break
    return owner, bool(trainable) and not b.frozen


def _check_shares(b: _Builder, nodes: list[Node]) -> None:
    """Every ``weights:`` names a layer of the same kind that owns its weights."""
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        if n.shares is None:
            continue
        owner = by_name.get(n.shares)
        if owner is None:
            close = difflib.get_close_matches(n.shares, list(by_name), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            b.fail(n.position, f"{n.name}: weights: no layer named '{n.shares}'{hint}")
        elif owner is n:
            b.fail(n.position, f"{n.name}: weights: a layer cannot share its own weights")
        elif owner.shares is not None:
            b.fail(n.position, f"{n.name}: weights: '{owner.name}' uses the weights of '{owner.shares}'; "
                               f"name that layer instead")
        elif type(owner.layer) is not type(n.layer):
            b.fail(n.position, f"{n.name}: weights: '{owner.name}' is a {owner.type}, not a {n.type}")


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
    named = list((spec.inputs or {}).items())
    if spec.input is not None and named:
        b.fail(doc.where(("inputs",), key=True), "give 'input' or 'inputs', not both")
    elif spec.input is None and not named:
        b.fail(doc.where(()), "missing required field 'input'")
    first: tuple[tuple[str | int, ...], list[Any]] = (("input",), spec.input or [])
    if named:
        first = (("inputs", named[0][0]), named[0][1])
    shape = list(input_shape) if input_shape is not None else _input_shape(b, *first, symbolic)
    extra = tuple((k, tuple(_input_shape(b, ("inputs", k), v, symbolic))) for k, v in named[1:])
    top = {INPUT: _Ref({INPUT: INPUT}, INPUT, None, "")}
    if named:
        top[named[0][0]] = top[INPUT]
        b.shapes[named[0][0]] = tuple(shape)
        for k, v in extra:
            if k == INPUT:
                b.fail(doc.where(("inputs", k), key=True), "'input' names the first input; give this one another name")
            top[k] = _Ref({k: k}, k, None, "")
            b.shapes[k] = v
    b.shapes[INPUT] = tuple(shape)
    benv = _Scope({k: Fraction(v) for k, v in b.env.items()}, lambda: tuple(shape))
    for bname, bdef in spec.blocks.items():
        split = speclang.split_flow(bdef.args)
        if split:
            b.fail(doc.where(("blocks", bname, "args", split[0])),
                   f"blocks.{bname}.args: YAML split '{split[0]}: {split[1]}' at the comma inside {{…}}; "
                   f"quote the expression: {split[0]}: \"{split[1]}\"")
            b.broken.add(bname)
    b.expand(spec.layers, ("layers",), benv, "", top, (), ())
    nodes: list[Node] = []
    for p in b.nodes:
        start = len(b.problems)
        ins = [b.resolve(r) for r in p.refs]
        for i in range(start, len(b.problems)):  # a block's reference problem once, with its instances
            if p.groups:
                b.tags.setdefault(i, p.groups[-1].name)
        if all(x is not None for x in ins):
            nodes.append(Node(p.name, p.type, p.layer, tuple(x for x in ins if x), p.position, p.groups,
                              p.shares, p.trainable, p.functional, p.frozen))
    _check_shares(b, nodes)
    if b.problems:
        raise SpecError(b.diagnostics())
    return Graph(spec.name, tuple(shape), _toposort(nodes, doc.file), doc.file, symbolic, extra,
                 tuple(spec.parameters))


def _input_shape(b: _Builder, path: tuple[str | int, ...], raw: list[Any], symbolic: bool) -> list[Any]:
    """One input's sizes, evaluated; problems reported at their entries."""
    shape: list[Any] = []
    what = ".".join(str(p) for p in path)
    for i, v in enumerate(raw):
        try:
            n = b.value(v, {k: Fraction(x) for k, x in b.env.items()})
        except expr.ExprError as e:
            b.fail(b.doc.where((*path, i)), f"{what}: {e}")
            continue
        if symbolic:
            n = _symbolic.symbolize(n)
        if symbolic and _symbolic.is_expr(n):
            shape.append(n)
        elif not isinstance(n, int) or isinstance(n, bool) or n < 1:
            b.fail(b.doc.where((*path, i)), f"input sizes must be positive whole numbers, got {v!r}")
        else:
            shape.append(n)
    if raw and len(shape) not in (1, 3) and not b.problems:
        b.fail(b.doc.where(path), f"{what} must be [C, H, W] or [features]")
    return shape


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
        sizes = [*(loaded.spec.input or []), *(v for shape in (loaded.spec.inputs or {}).values() for v in shape)]
        likely = sorted({*loaded.spec.vars, *(w for v in sizes if isinstance(v, str) for w in _WORD.findall(v))})
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
            if src in users:
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
