"""Blocks, repeat, names, DAG order, collapsing and ranges."""

from __future__ import annotations

import pytest

from cnncalc import analyse, build_graph, collapse, parse_spec, select
from cnncalc.errors import SpecError, UsageError

RESNETISH = """
name: tiny-res
input: [16, 8, 8]
vars: {W: 16}
blocks:
  basic:
    args: {c: null, stride: 1}
    layers:
      - {name: conv1, type: conv, filters: c, kernel: 3, stride: stride, pad: 1, bias: false}
      - {name: bn1, type: batchnorm}
      - {name: relu, type: relu}
      - {name: conv2, type: conv, filters: c, kernel: 3, pad: 1, bias: false}
      - {name: bn2, type: batchnorm}
      - {name: add, type: add, inputs: [bn2, input]}
      - {name: out, type: relu}
layers:
  - {name: stage, type: basic, c: W, repeat: 3}
  - {type: global_avgpool}
  - {type: flatten}
  - {type: fc, units: 10}
"""


def test_blocks_and_repeat_expand_with_prefixed_names() -> None:
    g = build_graph(parse_spec(RESNETISH, "r.yaml"))
    names = [n.name for n in g.nodes]
    assert names[:7] == ["stage_1.conv1", "stage_1.bn1", "stage_1.relu", "stage_1.conv2",
                         "stage_1.bn2", "stage_1.add", "stage_1.out"]
    assert names[7] == "stage_2.conv1"
    assert names[-3:] == ["global_avgpool1", "flatten1", "fc1"]
    by = {n.name: n for n in g.nodes}
    # the block's `input` is the previous instance's output
    assert by["stage_2.add"].inputs == ("stage_2.bn2", "stage_1.out")
    assert by["stage_1.add"].inputs == ("stage_1.bn2", "input")
    assert by["stage_3.conv1"].groups[0].name == "stage_3"


def test_block_counts_by_hand() -> None:
    a = analyse(build_graph(parse_spec(RESNETISH, "r.yaml")))
    # per block: two 3×3 convs 16→16 without bias: 2·16·16·9 = 4,608; two BNs 2·32 = 64 → 4,672
    # ×3 blocks = 14,016; fc 16·10 + 10 = 170 → 14,186
    assert a.totals.params == 14_186
    # BN buffers: 6 BNs × (2·16 + 1) = 198
    assert a.totals.buffers == 198
    # MACs: per conv 16·8·8 · 16·9 = 147,456; ×6 = 884,736; fc 160 → 884,896
    assert a.totals.macs == 884_896


def test_collapse_sums_each_block_instance() -> None:
    a = analyse(build_graph(parse_spec(RESNETISH, "r.yaml")))
    rows = collapse(a.rows, 0)
    assert [r.name for r in rows] == ["stage_1", "stage_2", "stage_3", "global_avgpool1", "flatten1", "fc1"]
    assert rows[0].type == "basic" and rows[0].layers == 7
    assert rows[0].params == 4_672
    assert a.with_rows(rows).totals.params == a.totals.params
    assert collapse(a.rows, 1) == list(a.rows)


def test_select_range_and_its_totals() -> None:
    a = analyse(build_graph(parse_spec(RESNETISH, "r.yaml")))
    rows = select(a.rows, "stage_2.conv1", "stage_2.out")
    assert len(rows) == 7 and a.with_rows(rows).totals.params == 4_672
    with pytest.raises(UsageError, match=r"did you mean .*'stage_2.conv1'"):
        select(a.rows, "stage_2.conv", None)
    with pytest.raises(UsageError, match="comes after"):
        select(a.rows, "fc1", "stage_1.conv1")


def test_forward_reference_and_topological_order() -> None:
    spec = """
name: fwd
input: [3, 8, 8]
layers:
  - {name: join, type: concat, inputs: [b, a]}
  - {name: a, type: conv, filters: 4, kernel: 1, inputs: [input]}
  - {name: b, type: conv, filters: 2, kernel: 1, inputs: [input]}
"""
    g = build_graph(parse_spec(spec, "f.yaml"))
    assert [n.name for n in g.nodes] == ["a", "b", "join"]
    assert analyse(g).rows[-1].output == (6, 8, 8)


def test_default_names_skip_explicit_ones() -> None:
    spec = """
name: n
input: [3, 8, 8]
layers:
  - {type: relu}
  - {name: relu2, type: relu}
  - {type: relu}
"""
    assert [n.name for n in build_graph(parse_spec(spec, "n.yaml")).nodes] == ["relu1", "relu2", "relu3"]


def test_variables_and_set_override() -> None:
    spec = """
name: v
input: [C, H, H]
vars: {C: 3, H: 32}
layers:
  - {type: conv, filters: 2*C, kernel: 3, pad: (3-1)/2}
  - {type: conv, filters: C*C/3, kernel: 1}
"""
    a = analyse(build_graph(parse_spec(spec, "v.yaml"), {"C": 6}))
    assert a.input == (6, 32, 32)
    assert [r.output for r in a.rows] == [(12, 32, 32), (12, 32, 32)]


def test_input_override() -> None:
    spec = parse_spec(RESNETISH, "r.yaml")
    a = analyse(build_graph(spec, input_shape=(16, 16, 16)))
    assert a.rows[0].output == (16, 16, 16)


def test_batch_and_dtype_scale_memory_and_work() -> None:
    g = build_graph(parse_spec(RESNETISH, "r.yaml"))
    one = analyse(g)
    many = analyse(g, batch=8, dtype="fp16")
    assert many.totals.macs == 8 * one.totals.macs
    assert many.totals.ops == 8 * one.totals.ops
    assert many.totals.activation_bytes == 8 * one.totals.activation_bytes // 2
    assert many.totals.params == one.totals.params
    with pytest.raises(UsageError):
        analyse(g, batch=0)


def test_multi_input_block() -> None:
    spec = """
name: two
input: [4, 8, 8]
blocks:
  fuse:
    inputs: [x, y]
    layers:
      - {name: sum, type: add, inputs: [x, y]}
      - {name: act, type: relu}
layers:
  - {name: a, type: conv, filters: 4, kernel: 3, pad: 1}
  - {name: f, type: fuse, inputs: [a, input]}
"""
    g = build_graph(parse_spec(spec, "t.yaml"))
    assert {n.name: n.inputs for n in g.nodes}["f.sum"] == ("a", "input")


def test_receptive_field_on_a_dag_takes_the_widest_branch() -> None:
    spec = """
name: rf
input: [1, 32, 32]
layers:
  - {name: a, type: conv, filters: 1, kernel: 3, pad: 1}
  - {name: b, type: conv, filters: 1, kernel: 7, pad: 3, inputs: [input]}
  - {name: c, type: concat, inputs: [a, b]}
  - {name: p, type: maxpool, kernel: 2}
  - {name: d, type: conv, filters: 1, kernel: 3, pad: 1}
"""
    rows = {r.name: r for r in analyse(build_graph(parse_spec(spec, "rf.yaml"))).rows}
    assert rows["c"].rf == (7, 7)
    assert rows["p"].rf == (8, 8) and rows["p"].jump == (2, 2)
    assert rows["d"].rf == (12, 12)  # 8 + (3 − 1)·2


def test_family_shares_survive_collapsing() -> None:
    a = analyse(build_graph(parse_spec(RESNETISH, "r.yaml")))
    assert a.with_rows(collapse(a.rows, 0)).shares() == a.shares()


def test_block_word_and_flag_arguments() -> None:
    spec = """
name: words
input: [8, 8, 8]
blocks:
  unit:
    args: {c: null, act: relu, bias: false}
    layers:
      - {name: conv, type: conv, filters: c, kernel: 1, activation: act, bias: bias}
layers:
  - {name: a, type: unit, c: 8}
  - {name: b, type: unit, c: 8, act: hardswish, bias: true}
"""
    g = build_graph(parse_spec(spec, "w.yaml"))
    layers = {n.name: n.layer for n in g.nodes}
    assert (layers["a.conv"].activation, layers["a.conv"].bias) == ("relu", False)  # type: ignore[attr-defined]
    assert (layers["b.conv"].activation, layers["b.conv"].bias) == ("hardswish", True)  # type: ignore[attr-defined]


def test_word_argument_in_arithmetic_is_an_error() -> None:
    spec = """
name: words
input: [8, 8, 8]
blocks:
  unit:
    args: {act: relu}
    layers:
      - {type: conv, filters: 2*act, kernel: 1}
layers:
  - {type: unit}
"""
    with pytest.raises(SpecError, match="'act' is the word 'relu', not a number"):
        build_graph(parse_spec(spec, "w.yaml"))
