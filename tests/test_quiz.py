"""Random exercises: reproducible by seed, well-formed, and their keys check as all right."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.answers import parse_sheet
from cnncalc.check import Status, grade
from cnncalc.cli import app
from cnncalc.quiz import KINDS, make_quiz

runner = CliRunner()


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_exercise(kind: str) -> None:
    a, b = make_quiz(11, kind), make_quiz(11, kind)  # type: ignore[arg-type]
    assert a.spec_text == b.spec_text and a.markdown() == b.markdown()
    assert len({make_quiz(s, kind).spec_text for s in range(12)}) > 3  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(15))
def test_key_checks_right_and_worksheet_is_blank(kind: str, seed: int) -> None:
    q = make_quiz(seed, kind)  # type: ignore[arg-type]
    key = grade(q.analysis, parse_sheet(q.key("csv"), "key.csv"))
    assert key.all_right, [c for c in key.cells if c.status is not Status.RIGHT]
    md_key = grade(q.analysis, parse_sheet(q.key("markdown"), "key.md"))
    assert md_key.all_right
    blank = grade(q.analysis, parse_sheet(q.worksheet("csv"), "w.csv"))
    assert blank.points == 0 and blank.max_points > 0
    assert {c.status for c in blank.cells if c.points} == {Status.UNANSWERED}


@pytest.mark.parametrize("seed", range(20))
def test_conv_exercise_by_hand(seed: int) -> None:
    """The conv exercise against the seed's formulas, written out here: W' = ⌊(W − K + 2P)/S⌋ + 1,
    params = C_out·C_in·K·K + C_out, MACs = C_out·W'·W' · C_in·K·K."""
    q = make_quiz(seed, "conv")
    (row,) = q.analysis.rows
    c, w, _ = row.inputs[0]
    layer = q.graph.nodes[0].layer
    k, s, p, f = layer.kernel[0], layer.stride[0], layer.pad, layer.filters  # type: ignore[attr-defined]
    out = (w - k + 2 * p) // s + 1
    assert row.output == (f, out, out)
    assert row.params == f * c * k * k + f
    assert row.macs == f * out * out * c * k * k
    assert f"{w}×{w}" in q.question and f"{f} filters of {k}×{k}" in q.question


def test_quiz_command(tmp_path: Path) -> None:
    res = runner.invoke(app, ["quiz", "--seed", "7", "--kind", "conv"])
    assert res.exit_code == 0
    assert res.stdout.startswith("# Exercise quiz_conv_7 (cnncalc quiz --seed 7 --kind conv)")
    assert "## Answer key" in res.stdout
    nokey = runner.invoke(app, ["quiz", "--seed", "7", "--kind", "conv", "--no-key"])
    assert "## Answer key" not in nokey.stdout and "## Worksheet" in nokey.stdout
    anyseed = runner.invoke(app, ["quiz"])
    assert anyseed.exit_code == 0 and "cnncalc quiz --seed " in anyseed.stdout

    made = runner.invoke(app, ["quiz", "--seed", "3", "--kind", "network", "--out", str(tmp_path)])
    assert made.exit_code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["quiz_network_3.md", "quiz_network_3.yaml", "quiz_network_3_key.csv",
                     "quiz_network_3_worksheet.csv"]
    spec = str(tmp_path / "quiz_network_3.yaml")
    assert runner.invoke(app, ["check", spec, str(tmp_path / "quiz_network_3_key.csv")]).exit_code == 0
    assert runner.invoke(app, ["check", spec, str(tmp_path / "quiz_network_3_worksheet.csv")]).exit_code == 1
    fresh = tmp_path / "new" / "dir"  # --out creates the folder, parents too
    assert runner.invoke(app, ["quiz", "--seed", "3", "--out", str(fresh)]).exit_code == 0
    assert (fresh / "quiz_network_3.yaml").is_file()
    bad = runner.invoke(app, ["quiz", "--out", str(tmp_path / "quiz_network_3.md")])
    assert bad.exit_code == 2 and "is a file, not a folder" in bad.stderr
