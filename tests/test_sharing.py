"""Weights are tensors, calls are rows: weights:, trainable:, parameters: and inputs: in specs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.cost import Mode, Optimizer, Workload
from cnncalc.cost.devices import parse_device
from cnncalc.cost.memory import simulate_memory
from cnncalc.errors import SpecError
from cnncalc.graph import build_graph
from cnncalc.spec import parse_spec

runner = CliRunner()


def _analyse(text: str, batch: int = 1) -> Any:
    return analyse(build_graph(parse_spec(text, "s.yaml")), batch)


SIAMESE = """\
name: siamese
inputs: {left: [1, 8, 8], right: [1, 8, 8]}
blocks:
  tower:
    layers:
      - {name: conv, type: conv, filters: 4, kernel: 3}
      - {name: relu, type: relu}
      - {name: flat, type: flatten}
layers:
  - {name: a, type: tower, inputs: left}
  - {name: b, type: tower, inputs: right, weights: a}
  - {name: diff, type: subtract, inputs: [a, b]}
  - {name: fc, type: fc, units: 2}
"""


def test_a_block_instance_called_twice_counts_its_weights_once() -> None:
    """conv 1→4, 3×3 on 8×8: 4·1·9 + 4 = 40 params, 6·6 output positions · 36 = 1,296 MACs per call;
    fc 144 → 2: 288 + 2 = 290 params, 288 MACs. Params 40 + 290 = 330 (b's conv uses a's);
    MACs 2 · 1,296 + 288 = 2,880 (each call computes)."""
    a = _analyse(SIAMESE)
    rows = {r.name: r for r in a.rows}
    assert rows["b.conv"].shares == "a.conv" and rows["b.conv"].params == 0
    assert rows["b.conv"].macs == rows["a.conv"].macs == 1_296
    assert (a.totals.params, a.totals.macs) == (330, 2_880)
    assert (a.totals.trainable, a.totals.non_trainable, a.totals.unused) == (330, 0, 0)


def test_second_input_by_name() -> None:
    g = build_graph(parse_spec(SIAMESE, "s.yaml"))
    assert g.input == (1, 8, 8) and g.extra_inputs == (("right", (1, 8, 8)),)
    assert {n.name: n.inputs for n in g.nodes}["b.conv"] == ("right",)
    assert {n.name: n.inputs for n in g.nodes}["a.conv"] == ("input",)  # the first input is also 'input'


def test_frozen_layers_and_blocks_and_unused_parameters() -> None:
    """fc1 10 → 20 frozen: 220; the block (fc 20 → 20: 420) frozen; fc3 20 → 5: 105 trainable;
    parameters: 7 trainable + 3 frozen. Params 220 + 420 + 105 + 10 = 755; frozen 220 + 420 + 3 = 643."""
    a = _analyse("""\
name: frozen
input: [10]
parameters:
  - {name: cls_token, params: 7}
  - {name: aux, params: 3, trainable: false}
blocks:
  head:
    layers: [{name: fc, type: fc, units: 20}, {name: act, type: relu}]
layers:
  - {name: fc1, type: fc, units: 20, trainable: false}
  - {name: fc2, type: head, trainable: false}
  - {name: fc3, type: fc, units: 5}
""")
    t = a.totals
    assert (t.params, t.trainable, t.non_trainable, t.unused) == (755, 112, 643, 10)
    assert sum(r.params for r in a.rows) == 745  # the rows; the 10 unused are in the totals only
    assert [r.trainable for r in a.rows] == [False, False, False, True]
    part = a.view(start="fc3", end="fc3").totals  # a range of layers holds no unused parameters
    assert (part.params, part.unused) == (105, 0)
    assert a.view(depth=0).totals.params == 755


def test_table_and_json_say_what_the_totals_hold(tmp_path: Any) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SIAMESE.replace("layers:\n  - {name: a", "parameters: [{name: aux1, params: 100, trainable: false}]\n"
                                    "layers:\n  - {name: a"))
    r = runner.invoke(app, ["table", str(spec)])
    assert r.exit_code == 0, r.output
    assert "Params total includes 100 that no layer uses: aux1 (100, frozen)" in r.stdout
    assert "b.conv → a.conv" in r.stdout
    r = runner.invoke(app, ["table", str(spec), "-f", "json"])
    import json
    data = json.loads(r.stdout)
    assert data["totals"]["params"] == 430 and data["totals"]["non_trainable_params"] == 100
    assert data["parameters"] == [{"name": "aux1", "params": 100, "trainable": False}]
    assert {x["name"]: x.get("shares") for x in data["layers"]}["b.conv"] == "a.conv"


@pytest.mark.parametrize("text,message", [
    ("layers:\n  - {name: conv1, type: conv, filters: 4, kernel: 3}\n  - {name: c2, type: conv, filters: 4, kernel: 3, "
     "weights: conv9}\n", "s.yaml:5:5: error: c2: weights: no layer named 'conv9'; did you mean 'conv1'?"),
    ("layers:\n  - {name: c1, type: conv, filters: 4, kernel: 3}\n  - {name: p, type: maxpool, kernel: 2, "
     "weights: c1}\n", "p: weights: 'c1' is a conv, not a maxpool"),
    # c1 sees 3 channels (4·3·9 + 4 = 112 params), c2 sees 4 (4·4·9 + 4 = 148): not the same tensors
    ("layers:\n  - {name: c1, type: conv, filters: 4, kernel: 3, pad: 1}\n  - {name: c2, type: conv, filters: 4, "
     "kernel: 3, weights: c1}\n", "uses the weights of 'c1' (112 params, 0 buffers) but its input needs 148 params"),
    ("layers:\n  - {name: r1, type: relu, weights: r1}\n", "s.yaml:4:5: error: r1: weights: a layer cannot share its own weights"),
    ("layers:\n  - {name: c1, type: relu, trainable: maybe}\n", "trainable must be true, false, weights (the bias frozen) or bias (the weights frozen), got 'maybe'"),
])
def test_bad_sharing_is_a_positioned_error(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=None) as e:
        _analyse("name: x\ninput: [3, 8, 8]\n" + text)
    assert message in str(e.value), str(e.value)


def test_input_or_inputs() -> None:
    with pytest.raises(SpecError, match="give 'input' or 'inputs', not both"):
        _analyse("name: x\ninput: [3]\ninputs: {a: [3]}\nlayers: [{type: relu}]\n")
    with pytest.raises(SpecError, match="missing required field 'input'"):
        _analyse("name: x\nlayers: [{type: relu}]\n")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(width=st.integers(1, 12), calls=st.lists(st.booleans(), min_size=1, max_size=6), batch=st.integers(1, 3))
def test_shared_calls_count_tensors_once(width: int, calls: list[bool], batch: int) -> None:
    """A chain of fc width → width layers, each either its own (False) or using fc0's weights (True).

    Owners: 1 + the False calls, each w² + w params; every call w² MACs per sample.
    """
    entries = [f"  - {{name: fc{i}, type: fc, units: {width}" + (", weights: fc0}" if shared else "}")
               for i, shared in enumerate(calls, start=1)]
    a = _analyse(f"name: chain\ninput: [{width}]\nlayers:\n  - {{name: fc0, type: fc, units: {width}}}\n"
                 + "\n".join(entries) + "\n", batch)
    owners = 1 + calls.count(False)
    assert a.totals.params == owners * (width * width + width) == a.totals.trainable
    assert a.totals.macs == (1 + len(calls)) * width * width * batch
    assert a.with_rows(a.rows).totals == a.totals


def test_frozen_tensors_get_no_gradient_or_optimizer_state() -> None:
    """Momentum SGD keeps one copy per trainable tensor. tests/test_cost.py's tiny net: conv 108
    floats = 432 B → 512 (rounding 512), fc 2,560 floats = 10,240 B and bias 40 B → 512. With the fc
    frozen only the conv's 512 remain (11,264 with it trainable)."""
    device = parse_device("""\
name: toy
memory_bytes: 1000000
memory_bandwidth: 1.0e11
peak_flops: {fp32: 1.0e12}
efficiency: {matmul: {compute: 0.5, memory: 0.5}, elementwise: {memory: 0.8}}
overheads: {kernel_s: 0.0, host_op_s: 0.0, host_backward_op_s: 0.0, host_step_s: 0.0}
memory_rules: {alloc_rounding: 512, framework_bytes: 0, conv_workspace_input: 0, conv_workspace_output: 0}
""", "toy.yaml")
    spec = """\
name: tiny
input: [3, 8, 8]
layers:
  - {name: conv, type: conv, filters: 4, kernel: 3, pad: 1, bias: false}
  - {name: relu, type: relu, inplace: true}
  - {name: flat, type: flatten}
  - {name: fc, type: fc, units: 10FROZEN}
"""
    work = Workload(Mode.TRAIN, 2, optimizer=Optimizer.MOMENTUM)

    def state(text: str) -> Any:
        g = build_graph(parse_spec(text, "tiny.yaml"))
        return simulate_memory(g, analyse(g, 1), device, work).breakdown

    live, frozen = state(spec.replace("FROZEN", "")), state(spec.replace("FROZEN", ", trainable: false"))
    assert (live.optimizer_state, frozen.optimizer_state) == (11_264, 512)
    assert live.weights == frozen.weights == 11_264
    assert frozen.gradients <= 512


def test_onnx_initializers_used_twice_are_one_tensor(tmp_path: Any) -> None:
    """A module called again exports as nodes reading the same initializers: ReuseLinear's one
    Linear(10, 10) 4 times is 110 params (10·10 + 10) and 4 · 100 MACs per sample."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    import torchinfo_models as tm

    from cnncalc.importers import onnx_spec_text
    path = tmp_path / "reuse.onnx"
    torch.onnx.export(tm.ReuseLinear().eval(), (torch.randn(2, 10),), str(path), dynamo=False,
                      do_constant_folding=False)
    text = onnx_spec_text(path)
    assert text.count("weights: model.0") == 3
    a = analyse(build_graph(parse_spec(text, "reuse.yaml")))
    assert (a.totals.params, a.totals.macs) == (110, 400)
