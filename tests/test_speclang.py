"""The spec language: expressions (comparisons, and/or/not, in.c, make_divisible), ``when:``,
kinds as block arguments and stage tables; the zoo written with them, checked against torchvision."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncalc import analyse, build_graph, parse_spec
from cnncalc.expr import ExprError, evaluate, make_divisible
from cnncalc.layers import Family
from cnncalc.spec import load_spec, resolve


def rows(text: str) -> list[tuple[Any, ...]]:
    a = analyse(build_graph(parse_spec(text, "t.yaml")))
    return [(r.name, r.type, r.output, r.params, r.buffers, r.macs, r.ops) for r in a.rows]


# ----------------------------------------------------------------------------- expressions

def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, as published (the oracle)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(1, 5000), st.floats(0.5, 5000)), st.sampled_from([1, 2, 4, 8, 16, 32]),
       st.one_of(st.none(), st.integers(1, 64)))
def test_make_divisible_is_torchvisions(v: float, d: int, lo: int | None) -> None:
    assert make_divisible(v, d, lo) == torchvision_make_divisible(v, d, lo)


def test_make_divisible_by_hand() -> None:
    # MobileNetV3's SE widths: 72 // 4 = 18 → int(18 + 4) // 8 · 8 = 16 < 0.9·18 = 16.2 → 24;
    # 120 // 4 = 30 → int(34) // 8 · 8 = 32; 960 // 4 = 240 → 240.
    env = {"e": Fraction(72)}
    assert evaluate("make_divisible(e // 4, 8)", env) == 24
    assert evaluate("make_divisible(120 // 4, 8)", {}) == 32
    assert evaluate("make_divisible(960 // 4, 8)", {}) == 240
    assert evaluate("make_divisible(3, 8)", {}) == 8  # at least the divisor
    # min_value 2: max(2, int(3 + 4) // 8 · 8 = 0) = 2 < 0.9·3 = 2.7 → 2 + 8 = 10
    assert evaluate("make_divisible(3, 8, 2)", {}) == 10


Pair = tuple[str, Any]
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}


def _combine(draw: st.DrawFn, a: Pair, b: Pair) -> Pair:
    kind = draw(st.sampled_from(["op", "and", "or", "not", "if", "min", "max"]))
    if kind == "op":
        op = draw(st.sampled_from(sorted(_ARITH)))
        if op in ("//", "%") and b[1] == 0:
            op = "+"
        return f"({a[0]} {op} {b[0]})", _ARITH[op](a[1], b[1])
    if kind == "and":
        return f"({a[0]} and {b[0]})", a[1] and b[1]
    if kind == "or":
        return f"({a[0]} or {b[0]})", a[1] or b[1]
    if kind == "not":
        return f"(not {a[0]})", not a[1]
    if kind == "if":
        return f"({a[0]} if {b[0]} else {b[0]} + 1)", a[1] if b[1] else b[1] + 1
    f = min if kind == "min" else max
    return f"{kind}({a[0]}, {b[0]})", f(a[1], b[1])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> Pair:
    """A random expression over c (= 12) and in.c (= 16) and its value by Python's own operators."""
    if depth == 0 or draw(st.booleans()):
        leaf = draw(st.sampled_from(["int", "c", "in.c"]))
        if leaf == "int":
            n = draw(st.integers(-3, 20))
            return (f"({n})", n)
        return (leaf, 12 if leaf == "c" else 16)
    return _combine(draw, draw(expressions(depth - 1)), draw(expressions(depth - 1)))


@settings(max_examples=150, deadline=None)
@given(expressions())
def test_expressions_follow_python(pair: Pair) -> None:
    text, want = pair
    try:
        got = evaluate(text, {"c": Fraction(12), "in.c": Fraction(16)})
    except ExprError as e:
        assert "too large" in str(e)
        return
    assert got == want, text  # True == 1: functions give numbers where Python keeps a bool


@pytest.mark.parametrize("text", ["__import__('os')", "in.x", "c.real", "c in c", "'relu'", "[1]",
                                  "lambda: 1", "c if c"])
def test_only_the_language_is_accepted(text: str) -> None:
    with pytest.raises(ExprError):
        evaluate(text, {"c": Fraction(1), "in.c": Fraction(1)})


def test_true_and_false_as_yaml_spells_them() -> None:
    assert evaluate("se and not false", {"se": True}) is True
    assert evaluate("true if c > 1 else false", {"c": Fraction(1)}) is False


def test_schema_covers_the_language() -> None:
    from cnncalc.spec import json_schema

    layer = json_schema()["$defs"]["Layer"]["properties"]
    assert {"when", "rows", "columns", "names", "rest", "repeat"} <= set(layer)


def test_the_zoo_validates_against_the_schema() -> None:
    """Every built-in spec is valid under `cnncalc schema` (the editor's view of the format)."""
    jsonschema = pytest.importorskip("jsonschema")
    from cnncalc import zoo_names
    from cnncalc.spec import json_schema

    validator = jsonschema.Draft202012Validator(json_schema())
    for name in zoo_names():
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(resolve(name).read_text()))]
        assert errors == [], name


def test_words_compare_with_words_only() -> None:
    env = {"act": "relu", "c": Fraction(8)}
    assert evaluate("act == relu and act != identity", env) is True
    with pytest.raises(ExprError, match="compared with == or !="):
        evaluate("act == 3", env)
    with pytest.raises(ExprError, match="unknown variable 'zz'"):
        evaluate("c == zz", env)


# ----------------------------------------------------------------------------- when, in.c, kinds

LAYER = st.sampled_from(["conv1", "conv3", "relu", "bn", "add"])


def _layer(kind: str, name: str, earlier: list[str]) -> dict[str, Any]:
    if kind == "conv1":
        return {"name": name, "type": "conv", "filters": "in.c", "kernel": 1}
    if kind == "conv3":
        return {"name": name, "type": "conv", "filters": 8, "kernel": 3, "pad": 1}
    if kind == "relu":
        return {"name": name, "type": "relu"}
    if kind == "bn":
        return {"name": name, "type": "batchnorm"}
    return {"name": name, "type": "add", "inputs": [earlier[-1], "input"]}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(LAYER, st.sampled_from(["keep", "skip", "true", "false"])), min_size=1, max_size=7))
def test_a_layer_left_out_by_when_is_the_block_without_it(plan: list[tuple[str, str]]) -> None:
    """A block whose ``when:`` is false for some layers equals the block written without them,
    each reference to a left-out layer replaced by what it read (the oracle: a hand-kept alias map)."""
    with_when: list[dict[str, Any]] = []
    without: list[dict[str, Any]] = []
    alias = {"input": "input"}
    last = "input"  # what the next layer reads by default, in the written-out block
    names: list[str] = []
    for i, (kind, how) in enumerate(plan):
        name = f"l{i}"
        entry = _layer(kind if kind != "add" or names else "relu", name, names)
        dropped = how in ("skip", "false")
        cond = {"keep": None, "skip": "c > 100 or not flag", "true": True, "false": False}[how]
        if cond is not None:
            with_when.append({**entry, "when": cond})
        else:
            with_when.append(entry)
        reads = [alias[x] for x in entry.get("inputs", [])] or [last]
        if dropped:
            alias[name] = reads[0]
            last = reads[0]
        else:
            without.append({**entry, "inputs": reads})  # every input written out
            alias[name] = name
            last = name
        names.append(name)

    def spec(layers: list[dict[str, Any]]) -> str:
        body = layers or [{"name": "id", "type": "identity"}]
        return yaml.safe_dump({"name": "t", "input": [8, 6, 6], "blocks": {"b": {
            "args": {"c": 8, "flag": True}, "layers": body}}, "layers": [{"name": "x", "type": "b"}]})

    got, want = rows(spec(with_when)), rows(spec(without))
    if not without:  # everything left out: the block is its input
        assert got == [] and want[0][0] == "x.id"
    else:
        assert got == want


def test_in_c_is_the_instance_input_and_kinds_come_from_arguments() -> None:
    text = """
name: t
input: [3, 32, 32]
blocks:
  unit:
    args: {out: null, s: 1, act: relu}
    layers:
      - {name: expand, type: conv, filters: 2*in.c, kernel: 1, when: in.c < out}
      - {name: conv, type: conv, filters: out, kernel: 3, stride: s, pad: 1}
      - {name: act, type: act}
      - {name: add, type: add, inputs: [act, input], when: s == 1 and in.c == out}
layers:
  - {name: a, type: unit, out: 8, s: 2}
  - {name: b, type: unit, out: 8, act: hardswish}
  - {name: c, type: unit, out: 4, act: relu6}
"""
    got = [(r[0], r[1], r[2], r[3]) for r in rows(text)]
    # a: 3 < 8 → expand 3 → 6 (1×1: 6·3 + 6 = 24), conv 6 → 8 3×3/2 (8·6·9 + 8 = 440), 16×16;
    #    s = 2 → no add.  b: in.c = 8 = out → no expand; conv 8·8·9 + 8 = 584; hardswish; add.
    # c: in.c = 8 > 4 → no expand; conv 4·8·9 + 4 = 292; relu6; 4 ≠ 8 → no add.
    assert got == [
        ("a.expand", "conv", (6, 32, 32), 24), ("a.conv", "conv", (8, 16, 16), 440),
        ("a.act", "relu", (8, 16, 16), 0),
        ("b.conv", "conv", (8, 16, 16), 584), ("b.act", "hardswish", (8, 16, 16), 0),
        ("b.add", "add", (8, 16, 16), 0),
        ("c.conv", "conv", (4, 16, 16), 292), ("c.act", "relu6", (4, 16, 16), 0),
    ]


def test_argument_defaults_may_be_expressions() -> None:
    text = """
name: t
input: [3, 8, 8]
blocks:
  se:
    args: {c: null, sq: "max(8, c // 4)", back: in.c, act: relu, d: c}
    layers:
      - {name: a, type: conv, filters: sq, kernel: 1}
      - {name: b, type: act}
      - {name: c, type: conv, filters: back, kernel: 1}
      - {name: d, type: conv, filters: d, kernel: 1}
layers:
  - {name: x, type: se, c: 16}
  - {name: y, type: se, c: 64, sq: 5}
"""
    out = {r[0]: r[2][0] for r in rows(text)}
    # x: sq = max(8, 16 // 4 = 4) = 8, back = in.c = 3, d = c = 16;  y: sq = 5, back = 16, d = 64
    assert out == {"x.a": 8, "x.b": 8, "x.c": 3, "x.d": 16, "y.a": 5, "y.b": 5, "y.c": 16, "y.d": 64}


def test_when_on_top_level_entries_and_whole_blocks() -> None:
    text = """
name: t
input: [3, 16, 16]
vars: {SE: 0}
blocks:
  pair:
    layers:
      - {name: a, type: conv, filters: 4, kernel: 1}
      - {name: b, type: relu}
layers:
  - {name: big, type: conv, filters: 8, kernel: 3, when: in.h > 100}
  - {name: p, type: pair, when: SE == 1}
  - {name: q, type: pair, when: in.c == 3}
  - {name: out, type: conv, filters: 2, kernel: 1, inputs: p}
"""
    # in.h = 16: no 'big'; SE = 0: no 'p', so 'out' reads what p read: the network input
    # (1×1 conv 3 → 2: 2·3 + 2 = 8 params); in.c = 3: 'q' is kept (a: 4·3 + 4 = 16 params).
    got = [(r[0], r[2], r[3]) for r in rows(text)]
    assert got == [("q.a", (4, 16, 16), 16), ("q.b", (4, 16, 16), 0), ("out", (2, 16, 16), 8)]


# ----------------------------------------------------------------------------- stage tables

TABLE = """
name: t
input: [4, 16, 16]
blocks:
  unit:
    args: {t: null, c: null, s: null, tag: 0}
    layers:
      - {name: expand, type: conv, filters: t*in.c, kernel: 1, when: t != 1}
      - {name: conv, type: conv, filters: c, kernel: 3, stride: s, pad: 1, groups: 1}
layers:
  - type: unit
    names: stage.{row+1}.{j}
    columns: [t, c, n, s]
    repeat: n
    rest: {s: 1}
    tag: i
    rows:
      - [1, 8, 1, 1]
      - [2, 16, 3, 2]
      - {t: 3, c: 4, n: 2, s: 2}
  - {name: head, type: conv, filters: 2, kernel: 1, inputs: stage.2.1}
"""

EXPLICIT = """
name: t
input: [4, 16, 16]
blocks:
  unit:
    args: {t: null, c: null, s: null}
    layers:
      - {name: expand, type: conv, filters: t*in.c, kernel: 1, when: t != 1}
      - {name: conv, type: conv, filters: c, kernel: 3, stride: s, pad: 1}
layers:
  - {name: stage.1.0, type: unit, t: 1, c: 8, s: 1}
  - {name: stage.2.0, type: unit, t: 2, c: 16, s: 2}
  - {name: stage.2.1, type: unit, t: 2, c: 16, s: 1}
  - {name: stage.2.2, type: unit, t: 2, c: 16, s: 1}
  - {name: stage.3.0, type: unit, t: 3, c: 4, s: 2}
  - {name: stage.3.1, type: unit, t: 3, c: 4, s: 1}
  - {name: head, type: conv, filters: 2, kernel: 1, inputs: stage.2.1}
"""


def test_a_stage_table_is_its_rows_written_out() -> None:
    got, want = rows(TABLE), rows(EXPLICIT)
    assert got == want
    assert [r[0] for r in got if r[0].endswith(".conv")] == [
        "stage.1.0.conv", "stage.2.0.conv", "stage.2.1.conv", "stage.2.2.conv", "stage.3.0.conv",
        "stage.3.1.conv"]
    assert got[-1][2] == (2, 8, 8)  # head reads stage.2.1 (16 × 8 × 8)


def test_a_long_chain_of_left_out_instances() -> None:
    """3,000 instances whose layers are all left out: the last layer reads the network input
    (references are followed without recursion, whose limit is 1,000)."""
    text = """
name: t
input: [3, 8, 8]
blocks:
  u:
    args: {use: false}
    layers:
      - {name: a, type: conv, filters: in.c, kernel: 1, when: use}
layers:
  - {type: u, name: s, repeat: 3000}
  - {name: last, type: conv, filters: 4, kernel: 1}
"""
    assert rows(text) == [("last", "conv", (4, 8, 8), 4 * 3 + 4, 0, 4 * 3 * 64, 4 * 64)]


def test_instances_that_make_no_layer_count_toward_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnncalc import graph
    from cnncalc.errors import SpecError

    monkeypatch.setattr(graph, "MAX_LAYERS", 50)
    text = """
name: t
input: [3, 8, 8]
blocks:
  u:
    layers:
      - {name: a, type: relu, when: false}
layers:
  - {type: u, repeat: 30}
  - {type: u, repeat: 30}
"""
    with pytest.raises(SpecError, match="more than 50 layers"):
        rows(text)


def test_default_instance_names_count_from_one() -> None:
    text = """
name: t
input: [3, 8, 8]
layers:
  - type: conv
    name: convs
    columns: [filters, kernel]
    rows: [[4, 1], [5, 3], [6, 1]]
"""
    assert [r[0] for r in rows(text)] == ["convs.1", "convs.2", "convs.3"]


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "shufflenet_v2_x1_0"])
def test_symbolic_mode_decides_the_same_conditions(name: str) -> None:
    pytest.importorskip("sympy")
    numeric = analyse(build_graph(load_spec(name)))
    symbolic = analyse(build_graph(load_spec(name), symbolic=True))
    assert [(r.name, r.params, r.macs) for r in symbolic.rows] == [(r.name, r.params, r.macs) for r in numeric.rows]


VALUES = st.one_of(st.integers(-3, 40), st.none(), st.booleans(), st.text(max_size=6),
                   st.sampled_from(["i+1", "n", "in.c", "max(1, c", "{x}", "a.{i}", "relu", "s == 1"]),
                   st.lists(st.one_of(st.integers(-1, 9), st.text(max_size=3)), max_size=5),
                   st.dictionaries(st.sampled_from(["t", "c", "s", "n", "zz"]), st.integers(-1, 9), max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["rows", "columns", "names", "rest", "repeat", "when", "tag",
                                           "inputs", "type", "t"]), VALUES), min_size=1, max_size=3),
       st.integers(0, 3))
def test_broken_stage_tables_never_crash(edits: list[tuple[str, Any]], row: int) -> None:
    from cnncalc.errors import CnncalcError

    doc = yaml.safe_load(TABLE)
    entry = doc["layers"][0]
    for key, value in edits:
        rows = entry.get("rows")
        if key == "t" and isinstance(rows, list) and row < len(rows) and isinstance(rows[row], list):
            rows[row][0] = value
        else:
            entry[key] = value
    with contextlib.suppress(CnncalcError):  # anything else (a traceback) fails the test
        analyse(build_graph(parse_spec(yaml.safe_dump(doc), "t.yaml")))


MBV3 = yaml.safe_load(resolve("mobilenet_v3_large").read_text())
BLOCK_VALUES = st.one_of(VALUES, st.sampled_from(["input", "expand", "dw", "project", "x", "se", "nl",
                                                  "identity", "in.h > 3", "1/0", "exp != in.c"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(MBV3["blocks"])), st.integers(0, 5),
                          st.sampled_from(["when", "inputs", "type", "name", "c", "nl", "sq"]), BLOCK_VALUES),
                min_size=1, max_size=3))
def test_broken_blocks_never_crash(edits: list[tuple[str, int, str, Any]]) -> None:
    """when:/inputs/type edits in mobilenet_v3_large's blocks (left-out layers reading each
    other, kinds from arguments, in.c of failed inputs) give diagnostics, never a traceback."""
    from cnncalc.errors import CnncalcError

    doc = yaml.safe_load(yaml.safe_dump(MBV3))
    for block, i, key, value in edits:
        layers = doc["blocks"][block]["layers"]
        layers[i % len(layers)][key] = value
    with contextlib.suppress(CnncalcError):
        analyse(build_graph(parse_spec(yaml.safe_dump(doc), "t.yaml")))


# ----------------------------------------------------------------------------- the zoo

def _non_comment_lines(name: str) -> int:
    return sum(1 for ln in resolve(name).read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


def test_mobilenet_v3_large_is_table_1() -> None:
    spec = load_spec("mobilenet_v3_large").spec
    assert len(spec.blocks) <= 4 and _non_comment_lines("mobilenet_v3_large") <= 60
    tables = [e for e in spec.layers if "rows" in e]
    assert len(tables) == 1 and len(tables[0]["rows"]) == 15
    assert tables[0]["columns"] == ["k", "exp", "out", "se", "nl", "s"]


@pytest.mark.parametrize(("name", "n_rows"), [("efficientnet_b0", 7), ("mnasnet1_0", 6), ("mobilenet_v2", 7),
                                             ("regnet_y_400mf", 4), ("shufflenet_v2_x1_0", 3)])
def test_stage_tables_of_the_zoo(name: str, n_rows: int) -> None:
    tables = [e for e in load_spec(name).spec.layers if "rows" in e]
    assert len(tables) == 1 and len(tables[0]["rows"]) == n_rows


#: Rewritten specs, and how many leading parts of a layer's name are torchvision's module name's.
TV = {"mobilenet_v2": 2, "mobilenet_v3_large": 2, "efficientnet_b0": 2, "mnasnet1_0": 2,
      "shufflenet_v2_x1_0": 1, "regnet_y_400mf": 0}


@pytest.mark.parametrize("name", sorted(TV))
def test_conv_and_fc_layers_are_torchvisions(name: str) -> None:
    """Every Conv2d/Linear of torchvision's model, in call order: input and output shape, params,
    and the first parts of its module name (``features.4``, ``layers.8``, ``classifier.3``)."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    model = getattr(models, name)().eval()
    seen: list[tuple[str, list[int], list[int], int]] = []

    def hook(mod: Any, ins: Any, out: Any) -> None:
        seen.append((names[mod], list(ins[0].shape[1:]), list(out.shape[1:]),
                     sum(p.numel() for p in mod.parameters())))

    names = {m: n for n, m in model.named_modules()}
    for m in names:
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    a = analyse(build_graph(load_spec(name)))
    ours = [(r.name, list(r.inputs[0]), list(r.output), r.params) for r in a.rows
            if r.family in (Family.CONV, Family.FC)]
    assert len(ours) == len(seen)
    for (n1, i1, o1, p1), (n2, i2, o2, p2) in zip(ours, seen):
        depth = TV[name]
        assert (n1.split(".")[:depth], o1, p1) == (n2.split(".")[:depth], o2, p2), n2
        assert i1 == i2 or len(i2) == 1, n2
