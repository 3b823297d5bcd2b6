"""Every zoo spec named like a model in ../shared/reference/torchvision.json matches PyTorch exactly
(tests/reference/ holds a copy; see reference_data.py)."""

from __future__ import annotations

from typing import Any

import pytest
from reference_data import reference

from cnncalc import analyse_spec, zoo_names
from cnncalc.layers import Family

REF: dict[str, Any] = reference("torchvision")["models"]
ENROLLED = sorted(set(REF) & set(zoo_names()))


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
