"""What every importer shares: the flat op list, folding repeated structure, and YAML emission.

An importer turns a model into a list of :class:`Op` (one per spec layer, named after the
model's modules) and hands it to :func:`build_spec`, which folds module scopes that occur
more than once with the same structure into ``blocks:`` (numbers that differ become block
arguments, ``4*c`` where one is a multiple of another), folds consecutive identical entries
into ``repeat:``, and returns a plain spec dict. :func:`spec_yaml` writes it as YAML in the
zoo's style (one flow mapping per layer).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import yaml
from pydantic import ValidationError

from ..graph import INPUT
from ..layers import layer_class

#: Keys of a spec entry that are not the kind's fields.
_ENTRY = ("name", "type", "inputs", "repeat")
#: Base names of block arguments by the field they stand for.
_ARG_NAMES = {"filters": "c", "units": "units", "stride": "s", "kernel": "k", "pad": "p",
              "groups": "g", "dilation": "d", "output": "size", "scale": "scale"}


@dataclass
class Op:
    """One layer of an imported model.

    ``path`` is the module scope it sits in (``("layer1", "0")``), ``local`` its name there
    (``conv1``, ``add``, ``relu_1``); the layer's name is both joined with dots, as PyTorch
    names modules. ``inputs`` are earlier ops' names or ``input``.
    """

    path: tuple[str, ...]
    local: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return ".".join((*self.path, self.local))


def pair(v: Sequence[int]) -> int | list[int]:
    """[3, 3] → 3; [1, 7] → [1, 7] (the spec's int-or-[h, w] fields)."""
    vals = [int(x) for x in v]
    return vals[0] if len(set(vals)) == 1 else vals


def snake_case(cls: str) -> str:
    """A class name as a spec or block name: GoogLeNet → googlenet, MobileNetV3 → mobilenet_v3,
    VisionTransformer → vision_transformer, ConvNeXt → convnext, BasicBlock → basic_block.

    Words split at a lower-to-upper change; a word of up to three letters (Net, Le, Ne, Xt,
    Vit) joins the word before it, a version (V3) is set off by an underscore.
    """
    words = re.split(r"(?<=[a-z0-9])(?=[A-Z])", cls)
    out: list[str] = []
    for w in words:
        if out and not re.fullmatch(r"V\d+\w*", w) and len(w) <= 3:
            out[-1] += w
        else:
            out.append(w)
    return "_".join(out).lower()


def unique_name(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``… whichever is free; the result is added to ``taken``."""
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


# ----------------------------------------------------------------------------- folding

@dataclass
class _Candidate:
    prefix: tuple[str, ...]
    members: list[int]
    ext: list[str]
    structure: tuple[Any, ...]
    numbers: dict[tuple[str, str], int]


def _is_num(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _default(kind: str, key: str) -> int | None:
    """The kind's default for an int field (a square pair's side), or None when it has no such default."""
    cls = layer_class(kind)
    info = cls.model_fields.get(key) if cls else None
    d: Any = info.default if info is not None else None
    if _is_num(d):
        return int(d)
    if isinstance(d, tuple) and d and all(_is_num(x) for x in d) and len(set(d)) == 1:
        return int(d[0])
    return None


def _candidate(prefix: tuple[str, ...], members: list[int], ops: Sequence[Op],
               consumers: Mapping[str, list[int]]) -> _Candidate | None:
    """A module scope as a block instance, if it has ≥ 2 layers and one output, its last layer."""
    if len(members) < 2:
        return None
    inside = {ops[i].name for i in members}
    outs = [i for i in members if not consumers[ops[i].name] or any(j not in members for j in consumers[ops[i].name])]
    if outs != [members[-1]]:
        return None
    ext: list[str] = []
    local = {ops[i].name: ".".join((*ops[i].path[len(prefix):], ops[i].local)) for i in members}
    structure: list[Any] = []
    numbers: dict[tuple[str, str], int] = {}
    for i in members:
        op = ops[i]
        ins = []
        for src in op.inputs:
            if src in inside:
                ins.append(local[src])
            else:
                if src not in ext:
                    ext.append(src)
                ins.append(f"<in{ext.index(src)}>")
        fixed = tuple(sorted((k, repr(v)) for k, v in op.fields.items() if not _is_num(v)))
        # an int field left at its default may differ between instances (stride 1 vs 2); others
        # (a pooling stride that defaults to the kernel) must be written alike
        rigid = tuple(sorted(k for k, v in op.fields.items() if _is_num(v) and _default(op.kind, k) is None))
        structure.append((local[op.name], op.kind, fixed, rigid, tuple(ins)))
        numbers.update(((local[op.name], k), v) for k, v in op.fields.items() if _is_num(v))
    return _Candidate(prefix, members, ext, tuple(structure), numbers)


def _relate(vec: tuple[int, ...], known: Mapping[str, tuple[int, ...]]) -> str | None:
    """An expression for ``vec`` over an earlier argument: itself, k*arg or arg/k, exact everywhere."""
    for name, base in known.items():
        if base == vec:
            return name
    for name, base in known.items():
        if any(b == 0 for b in base):
            continue
        ratio = {Fraction(v, b) for v, b in zip(vec, base)}
        if len(ratio) != 1:
            continue
        r = ratio.pop()
        if r.denominator == 1 and r.numerator > 1:
            return f"{r.numerator}*{name}"
        if r.numerator == 1 and r.denominator > 1:
            return f"{name}/{r.denominator}"
    return None


def _block_name(instances: list[_Candidate], classes: Mapping[tuple[str, ...], str], taken: set[str]) -> str:
    """The module class (snake case) when known, else the instances' common word, else ``block``."""
    names = {classes.get(c.prefix, "") for c in instances}
    base = ""
    if len(names) == 1 and (cls := names.pop()):
        base = snake_case(cls)
    else:
        # inception_a, inception_b → "inception"; layer1.0, layer2.0 (Sequential items) → "block"
        words = {"" if c.prefix[-1].isdigit() else re.sub(r"([_\-.]?\d+|_[a-z])$", "", c.prefix[-1])
                 for c in instances}
        if len(words) == 1:
            base = words.pop()
    base = re.sub(r"\W", "_", base).strip("_") or "block"
    if layer_class(base) is not None:  # a block named like a kind would shadow it ('conv' in ShuffleNet)
        base += "_block"
    return unique_name(base, taken)


def _args(instances: list[_Candidate]) -> tuple[dict[str, str], list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Block arguments: per numeric field, a literal, an argument or an expression over one.

    Returns (field → expression, per-instance argument values, (layer, field) → value or expression).
    """
    kinds = {s[0]: s[1] for s in instances[0].structure}
    keys = list(dict.fromkeys(k for c in instances for k in c.numbers))
    known: dict[str, tuple[int, ...]] = {}
    values: dict[tuple[str, str], Any] = {}
    counts: dict[str, int] = {}
    for lname, fname in keys:
        default = _default(kinds[lname], fname)
        # a rigid field (no int default) is in every instance: the structure says so
        vec = tuple(c.numbers.get((lname, fname), 0 if default is None else default) for c in instances)
        if len(set(vec)) == 1:
            if vec[0] != default or all((lname, fname) in c.numbers for c in instances):
                values[(lname, fname)] = vec[0]
            continue
        rel = _relate(vec, known)
        if rel is None:
            base = _ARG_NAMES.get(fname, re.sub(r"\W", "_", fname))
            counts[base] = counts.get(base, 0) + 1
            rel = base if counts[base] == 1 else f"{base}{counts[base]}"
            known[rel] = vec
        values[(lname, fname)] = rel
    per_instance = [{a: vec[k] for a, vec in known.items()} for k in range(len(instances))]
    return {a: a for a in known}, per_instance, values


def _fold_blocks(ops: Sequence[Op], classes: Mapping[tuple[str, ...], str]
                 ) -> tuple[dict[str, dict[str, Any]], dict[int, tuple[str, _Candidate, dict[str, Any]]], set[int]]:
    """Pick the module scopes to become block instances (outermost first, ≥ 2 alike)."""
    consumers: dict[str, list[int]] = {op.name: [] for op in ops}
    for j, op in enumerate(ops):
        for src in op.inputs:
            if src in consumers:
                consumers[src].append(j)
    prefixes: dict[tuple[str, ...], list[int]] = {}
    for i, op in enumerate(ops):
        for k in range(1, len(op.path) + 1):
            prefixes.setdefault(op.path[:k], []).append(i)
    names = {op.name for op in ops}
    cands = [c for p, m in prefixes.items()
             if ".".join(p) not in names and (c := _candidate(p, m, ops, consumers)) is not None]
    groups: dict[tuple[Any, ...], list[_Candidate]] = {}
    for c in sorted(cands, key=lambda c: (len(c.prefix), c.members[0])):
        groups.setdefault(c.structure, []).append(c)
    taken: set[int] = set()
    blocks: dict[str, dict[str, Any]] = {}
    at: dict[int, tuple[str, _Candidate, dict[str, Any]]] = {}
    block_names: set[str] = set(names)

    def saving(c: _Candidate) -> tuple[int, int, int]:
        # the layers a block saves writing out: (instances − 1) × its size; then the outer scope
        return (-(len(groups[c.structure]) - 1) * len(c.members), len(c.prefix), c.members[0])

    for c in sorted(cands, key=saving):
        if any(i in taken for i in c.members):
            continue
        group = [g for g in groups[c.structure] if not any(i in taken for i in g.members)]
        if len(group) < 2:
            continue
        name = _block_name(group, classes, block_names)
        _, per_instance, values = _args(group)
        layers: list[dict[str, Any]] = []
        for lname, kind, _, _, ins in c.structure:
            entry: dict[str, Any] = {"name": lname, "type": kind}
            member = ops[c.members[len(layers)]]
            for key, v in member.fields.items():
                if not _is_num(v):
                    entry[key] = v
            for (ln, key), v in values.items():
                if ln == lname:
                    entry[key] = v
            cls = layer_class(kind)
            order = list(cls.model_fields) if cls else []
            entry = {k: entry[k] for k in sorted(entry, key=lambda k: (k not in ("name", "type"),
                                                                     order.index(k) if k in order else len(order)))}
            mapped = ["input" if x == "<in0>" else f"input_{x[3:-1]}" if x.startswith("<in") else x for x in ins]
            prev = layers[-1]["name"] if layers else "input"
            if mapped != [prev]:
                entry["inputs"] = mapped
            layers.append(entry)
        bdef: dict[str, Any] = {}
        if per_instance[0]:
            bdef["args"] = {a: None for a in per_instance[0]}
        if len(c.ext) > 1:
            bdef["inputs"] = ["input", *(f"input_{k}" for k in range(1, len(c.ext)))]
        bdef["doc"] = "imported: " + ", ".join(".".join(g.prefix) for g in group)
        bdef["layers"] = layers
        blocks[name] = bdef
        for g, args in zip(group, per_instance):
            taken.update(g.members)
            at[g.members[-1]] = (name, g, args)
    return blocks, at, taken


def _common_name(names: list[str], taken: set[str]) -> str:
    """layer2.1 … layer2.3 → layer2; fc1 … fc3 → fc; the first name when nothing is common or free."""
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    if all(len(n) > len(prefix) and n[len(prefix)].isdigit() for n in names):
        prefix = prefix.rstrip("0123456789")  # do not keep half a number
    prefix = prefix.rstrip("._-")
    return prefix if prefix and prefix not in taken else names[0]


def _renames(names: list[str], taken: set[str]) -> bool:
    """Whether a run's instances keep their names when folded: they are ``base_1`` … ``base_n``."""
    rest = taken - set(names)
    base = _common_name(names, rest)
    return names == [f"{base}_{k + 1}" for k in range(len(names))]


def _fold_repeats(entries: list[dict[str, Any]], notes: dict[int, str]) -> list[dict[str, Any]]:
    """Consecutive chained entries that are alike become one entry with ``repeat``.

    An entry joins the run before it when it has the same type and fields, takes the run's
    output as its only input, and nothing else uses the run's outputs. The run is named after
    the common start of its names; references to its last entry follow the new name. A run is
    folded only when the names the spec gives its instances (``name_1`` … ``name_n``) are the
    model's own: ``layer1.0`` … ``layer1.2`` stay apart rather than be renamed ``layer1_1``….
    """
    uses: dict[str, int] = {}
    for e in entries:
        for src in e.get("inputs", []):
            uses[src] = uses.get(src, 0) + 1
    for e, nxt in itertools.pairwise(entries):
        if "inputs" not in nxt:
            uses[e["name"]] = uses.get(e["name"], 0) + 1
    out: list[dict[str, Any]] = []
    runs: list[list[dict[str, Any]]] = []
    for e in entries:
        body = {k: v for k, v in e.items() if k not in ("name", "inputs")}
        if runs and "inputs" not in e:
            last = runs[-1]
            last_body = {k: v for k, v in last[-1].items() if k not in ("name", "inputs")}
            if body == last_body and uses.get(last[-1]["name"], 0) == 1:
                last.append(e)
                continue
        runs.append([e])
    taken = {e["name"] for e in entries}
    rename: dict[str, str] = {}
    members: dict[str, str] = {}  # a folded entry's name → its instance's (run_1, run_2, …)
    every = set(taken)
    for run in list(runs):  # a run's instances are named run_1, run_2…: none may be another entry's name
        if len(run) > 1:
            names = [e["name"] for e in run]
            new = _common_name(names, taken - set(names))
            if any(f"{new}_{k + 1}" in every - set(names) for k in range(len(run))):
                k = runs.index(run)
                runs[k:k + 1] = [[e] for e in run]
    for run in runs:
        head = dict(run[0])
        names = [e["name"] for e in run]
        if len(run) > 1 and not _renames(names, taken):
            out.extend(run)
            continue
        if len(run) > 1:
            taken.difference_update(names)
            new = _common_name(names, taken)
            taken.add(new)
            rename[names[-1]] = new
            members.update((n, f"{new}_{k + 1}") for k, n in enumerate(names))
            head["name"] = new
            head["repeat"] = len(run)
            notes[len(out)] = f"{names[0]} … {names[-1]}"
        out.append(head)
    for e in out:
        if "inputs" in e:
            e["inputs"] = [rename.get(x, x) for x in e["inputs"]]
        if isinstance(e.get("weights"), str):  # weights: names the instance, or a layer inside one
            w = e["weights"]
            for old, new in members.items():
                if w == old or w.startswith(old + "."):
                    e["weights"] = new + w[len(old):]
                    break
    return out


def build_spec(name: str, input_shape: Sequence[int], ops: Sequence[Op], *, source: str = "",
               classes: Mapping[tuple[str, ...], str] | None = None, fold: bool = True) -> dict[str, Any]:
    """A spec dict from the op list; with ``fold``, repeated module scopes become blocks and repeats.

    The dict keeps insertion order (name, title, source, input, blocks, layers); the special key
    ``_notes`` maps top-level layer indices to a comment for :func:`spec_yaml` (repeat runs).
    """
    blocks: dict[str, dict[str, Any]] = {}
    at: dict[int, tuple[str, _Candidate, dict[str, Any]]] = {}
    taken: set[int] = set()
    if fold:
        blocks, at, taken = _fold_blocks(ops, classes or {})
    rename: dict[str, str] = {}
    for i, (_, cand, _) in at.items():
        rename[ops[i].name] = ".".join(cand.prefix)
    entries: list[dict[str, Any]] = []
    prev = INPUT
    for i, op in enumerate(ops):
        if i in at:
            bname, cand, args = at[i]
            entry: dict[str, Any] = {"name": ".".join(cand.prefix), "type": bname, **args}
            ins = [rename.get(x, x) for x in cand.ext]
        elif i in taken:
            continue
        else:
            entry = {"name": op.name, "type": op.kind, **op.fields}
            ins = [rename.get(x, x) for x in op.inputs]
        if ins != [prev]:
            entry["inputs"] = ins
        entries.append(entry)
        prev = entry["name"]
    if not entries:  # a model that hands its input back unchanged: a spec still has a layer
        entries.append({"name": "identity", "type": "identity"})
    notes: dict[int, str] = {}
    if fold:
        entries = _fold_repeats(entries, notes)
    spec: dict[str, Any] = {"name": name}
    if source:
        spec["source"] = source
    spec["input"] = [int(x) for x in input_shape]
    if blocks:
        spec["blocks"] = blocks
    spec["layers"] = entries
    if notes:
        spec["_notes"] = notes
    return spec


# ----------------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"[A-Za-z_][\w.\-]*")


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    s = str(v)
    if _PLAIN.fullmatch(s) and yaml.safe_load(f"k: {s}") == {"k": s}:
        return s
    if re.fullmatch(r"[\w.*/+\- ]+", s) and not s[0].isdigit() and yaml.safe_load(f"k: {s}") == {"k": s}:
        return s  # an expression such as 4*c
    return json.dumps(s, ensure_ascii=False)


def _flow(d: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in d.items()) + "}"


def spec_yaml(spec: Mapping[str, Any], header: str = "") -> str:
    """The spec as YAML in the zoo's style: top-level keys, then one flow mapping per layer."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    lines += unused_lines(spec.get("_unused", []))
    notes: Mapping[int, str] = spec.get("_notes", {})
    for key, value in spec.items():
        if key.startswith("_"):
            continue
        if key == "blocks":
            lines.append("blocks:")
            for bname, bdef in value.items():
                lines.append(f"  {_scalar(bname)}:")
                for bk, bv in bdef.items():
                    if bk == "layers":
                        lines.append("    layers:")
                        lines.extend(f"      - {_flow(e)}" for e in bv)
                    elif isinstance(bv, dict):
                        lines.append(f"    {bk}: {_flow(bv)}")
                    else:
                        lines.append(f"    {bk}: {_scalar(bv)}")
        elif key == "layers":
            lines.append("layers:")
            for i, e in enumerate(value):
                note = f"  # {notes[i]}" if i in notes else ""
                lines.append(f"  - {_flow(e)}{note}")
        elif isinstance(value, dict):  # inputs: {x1: [300], x2: [300]}
            lines.append(f"{key}: {_flow(value)}")
        elif isinstance(value, list) and value and all(isinstance(e, dict) for e in value):  # parameters:
            lines.append(f"{key}:")
            lines.extend(f"  - {_flow(e)}" for e in value)
        else:
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def one_line(e: Exception) -> str:
    """A layer's validation error in one line, a field at a time ('pad: Input should be greater than or
    equal to 0, got -1'), not pydantic's multi-line dump with URLs; for a union, the alternative that
    says most (a bound rather than 'should be a valid tuple')."""
    if not isinstance(e, ValidationError):
        return " ".join(str(e).split())
    by_field: dict[str, list[Any]] = {}
    for err in e.errors(include_url=False):
        by_field.setdefault(str(err["loc"][0]) if err["loc"] else "", []).append(err)
    parts = []
    for name, errs in by_field.items():
        best = next((x for x in errs if x["type"] != "literal_error" and not x["type"].endswith("_type")), errs[0])
        parts.append(f"{name + ': ' if name else ''}{best['msg'].rstrip('.')}, got {best.get('input')!r}")
    return "; ".join(parts)


def unused_lines(unused: Sequence[tuple[str, int, int]]) -> list[str]:
    """Header comments for modules the forward never calls: their counts are in no layer below."""
    if not unused:
        return []
    params, buffers = sum(p for _, p, _ in unused), sum(b for _, _, b in unused)
    lines = [f"# Not called by the traced forward, so in no layer below: {params:,} parameters and "
             f"{buffers:,} buffer elements of"]
    lines += [f"#   {path}: {p:,} parameters, {b:,} buffer elements" for path, p, b in unused]
    return lines


def problem_text(problems: Sequence[tuple[str, str, str]], what: str, source: str, untried: int = 0) -> str:
    """One message for every unsupported node: grouped by operation, three names each at most.

    ``problems`` holds (operation, node name, why); ``what`` names the items ("node",
    "operation") and ``source`` the model ("the ONNX graph"); ``untried`` counts the items after
    them that read their outputs, which could not be tried (so the count of the message is true).
    """
    by_op: dict[str, list[tuple[str, str]]] = {}
    for op, name, why in problems:
        by_op.setdefault(op, []).append((name, why))
    parts = []
    for op, items in by_op.items():
        names = ", ".join(n for n, _ in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
        parts.append(f"{op} ({names}): {items[0][1]}")
    n = len(problems)
    tail = (f"; {untried:,} {what}{'s' if untried != 1 else ''} after {'them' if n != 1 else 'it'} that "
            f"read{'s' if untried == 1 else ''} {'their' if n != 1 else 'its'} output could not be tried"
            if untried else "")
    return f"cannot import {n} {what}{'s' if n != 1 else ''} of {source} — " + "; ".join(parts) + tail
