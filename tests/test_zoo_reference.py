"""Every zoo spec named like a model in ../shared/reference/torchvision.json matches PyTorch exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncalc import analyse_spec, zoo_names
from cnncalc.layers import Family

REF_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "torchvision.json"
if not REF_PATH.is_file():  # a clone elsewhere: look beside the checkout's parent too
    REF_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "torchvision.json"

REF: dict[str, Any] = json.loads(REF_PATH.read_text())["models"] if REF_PATH.is_file() else {}
ENROLLED = sorted(set(REF) & set(zoo_names()))

pytestmark = pytest.mark.skipif(not REF, reason="../shared/reference/torchvision.json not found")


@pytest.mark.parametrize("name", ENROLLED)
def test_totals_match_pytorch(name: str) -> None:
    ref = REF[name]
    a = analyse_spec(name)
    assert list(a.input) == ref["input"]
    assert a.totals.params == ref["params"], "params"
    assert a.totals.macs == ref["macs"] == ref["torch_flop_counter"] // 2, "MACs"
    assert a.totals.buffers == ref["buffers"], "buffers"


@pytest.mark.parametrize("name", [n for n in ENROLLED if "layers" in REF[n]])
def test_conv_fc_layers_match_in_order(name: str) -> None:
    ref = [x for x in REF[name]["layers"] if x["type"] in ("Conv2d", "Linear", "ConvTranspose2d")]
    ours = [r for r in analyse_spec(name).rows if r.family in (Family.CONV, Family.FC)]
    assert len(ours) == len(ref)
    for r, x in zip(ours, ref):
        assert (r.name, list(r.output), r.params) == (r.name, x["out"], x["params"]), x["name"]
        assert list(r.inputs[0]) == x["in"] or r.family is Family.FC, x["name"]



def test_reference_models_are_all_in_the_zoo() -> None:
    missing = sorted(set(REF) - set(zoo_names()))
    assert not missing, f"zoo lacks reference models: {missing}"
