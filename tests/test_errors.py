"""Invalid specs (fixtures beside their exact diagnostics) and the no-traceback property."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, parse_spec
from cnncalc.cli import app
from cnncalc.errors import CnncalcError, SpecError
from cnncalc.spec import resolve

FIXTURES = Path(__file__).parent / "fixtures" / "invalid"
CASES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_invalid_spec_gives_exact_diagnostics(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    result = CliRunner().invoke(app, ["table", f"{case}.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (FIXTURES / f"{case}.err").read_text()
    assert "Traceback" not in result.stderr


def test_every_error_line_is_positioned() -> None:
    for err in FIXTURES.glob("*.err"):
        *lines, summary = err.read_text().splitlines()
        assert summary.endswith(("error", "errors"))
        for line in lines:
            file, line_no, col, rest = line.split(":", 3)
            assert file == err.with_suffix(".yaml").name
            assert int(line_no) >= 1 and int(col) >= 1
            assert rest.startswith(" error: ")


def test_errors_are_sorted_by_line() -> None:
    for err in FIXTURES.glob("*.err"):
        positions = [tuple(map(int, x.split(":")[1:3])) for x in err.read_text().splitlines()[:-1]]
        assert positions == sorted(positions), err.name


# --- property: random mutations of valid specs never crash ---------------------------------

SEEDS = ["alexnet_cs231n", "googlenet_stem", "vgg16"]
BASES = {n: yaml.safe_load(resolve(n).read_text()) for n in SEEDS}
VALUES = st.one_of(
    st.integers(-5, 300), st.floats(allow_nan=True), st.text(max_size=8), st.none(), st.booleans(),
    st.sampled_from(["same", "valid", "2*C", "C/0", "relu", "conv", "input", "1e9", "x**99"]),
    st.lists(st.integers(-2, 9), max_size=5),
)
KEYS = st.sampled_from(["type", "filters", "kernel", "stride", "pad", "units", "inputs", "name",
                        "repeat", "groups", "dilation", "ceil_mode", "output", "activation", "bogus"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    spec = draw(st.sampled_from(SEEDS))
    doc = yaml.safe_load(yaml.safe_dump(BASES[spec]))
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.integers(0, 5))
        layers = doc["layers"]
        i = draw(st.integers(0, len(layers) - 1))
        if what == 0 and isinstance(layers[i], dict):
            layers[i][draw(KEYS)] = draw(VALUES)
        elif what == 1 and len(layers) > 1:
            del layers[i]
        elif what == 2:
            layers.insert(i, layers[draw(st.integers(0, len(layers) - 1))])
        elif what == 3:
            doc["input"] = draw(st.lists(st.integers(-1, 64), max_size=4))
        elif what == 4 and isinstance(layers[i], dict):
            layers[i].pop(draw(KEYS), None)
        else:
            layers[i] = draw(VALUES)
    return yaml.safe_dump(doc, sort_keys=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_never_crash(text: str) -> None:
    try:
        analyse(build_graph(parse_spec(text, "fuzz.yaml")))
    except SpecError as e:
        assert e.diagnostics
        assert all(d.position is not None and d.position.line >= 1 for d in e.diagnostics)
    except CnncalcError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(CnncalcError):
        analyse(build_graph(parse_spec(text, "fuzz.yaml")))
