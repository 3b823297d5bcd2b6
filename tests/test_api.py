"""The Python API as the README documents it: its sweep example runs and prints what the README shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import cnncalc

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_documented_functions_are_exported() -> None:
    section = README[README.index("## Python API"):README.index("## Development")]
    for name in re.findall(r"^\| `([a-z_]+)\(", section, re.M):
        assert name in cnncalc.__all__, name


def test_readme_sweep_example_prints_what_it_shows() -> None:
    section = README[README.index("## Python API"):README.index("## Development")]
    code = section[section.index("```python\n") + 10:]
    code = code[:code.index("```")]
    shown = section[section.index("```text\n") + 8:]
    shown = shown[:shown.index("```")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the README's own example, as a user runs it
    assert out.getvalue() == shown
    # W=16, D=1 by hand: stem 3·9·16 + 16 = 448; block 2·(16·9·16) + 2·(2·16) = 4,672; fc 16·10 + 10 = 170
    assert shown.splitlines()[0].split()[2] == f"{448 + 4_672 + 170:,}"


def test_analyse_spec_keywords() -> None:
    a = cnncalc.analyse_spec("lenet5", batch=2, dtype="fp16")
    # lenet5: 15,002 output elements (see tests/test_render.py) × 2 B × batch 2
    assert a.totals.activation_bytes == 15_002 * 2 * 2 and a.totals.params == 61_706
