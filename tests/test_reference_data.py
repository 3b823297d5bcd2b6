"""tests/reference/ is a byte-identical copy of ../shared/reference/ (checked where ../shared exists)."""

from __future__ import annotations

import pytest
from reference_data import HERE, SHARED


@pytest.mark.parametrize("name", ["torchvision.json", "h100-calibration.json"])
def test_reference_copies_are_current(name: str) -> None:
    if not (SHARED / name).is_file():
        pytest.skip(f"{SHARED / name} not here (a clone away from ../shared): the copy is all there is")
    assert (HERE / name).read_bytes() == (SHARED / name).read_bytes(), f"copy {SHARED / name} to tests/reference/"


def test_copies_hold_what_the_tests_use() -> None:
    from reference_data import reference
    assert len(reference("torchvision")["models"]) == 26
    assert set(reference("h100-calibration")["models"]) == {"alexnet", "vgg16", "resnet50", "mobilenet_v2"}
