"""The reference measurements (PyTorch parameter/MAC counts, H100 memory and speed), as one loader.

The canonical copies live in ``../shared/reference/``; ``tests/reference/`` holds a byte-identical
copy so that the tests run the same from a clone anywhere (CI clones away from ../shared).
``test_reference_copies_are_current`` fails if the two ever differ.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "reference"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "reference"


@cache
def reference(name: str) -> dict[str, Any]:
    """``torchvision`` or ``h100-calibration``: the parsed JSON of the copy in tests/reference/."""
    data: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    return data
