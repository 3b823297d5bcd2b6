"""LaTeX export (booktabs) and the terminal's inline bars."""

from __future__ import annotations

from typer.testing import CliRunner

from cnncalc import analyse_spec
from cnncalc.cli import app
from cnncalc.columns import Units, build_table, pick
from cnncalc.export import latex_escape, to_latex
from cnncalc.render import bar


def test_escape() -> None:
    assert latex_escape("conv1_1 50% a&b #1 {x} $y ~ ^ \\") == (
        r"conv1\_1 50\% a\&b \#1 \{x\} \$y \textasciitilde{} \textasciicircum{} \textbackslash{}")
    assert latex_escape("3×224×224") == r"3$\times$224$\times$224"


def test_booktabs_layout_and_alignment() -> None:
    a = analyse_spec("alexnet_cs231n")
    text = to_latex(build_table(a, pick(None, ("params",)), Units()))
    lines = text.splitlines()
    assert lines[1] == r"\begin{tabular}{lrrrrrrrrrrrr}"  # layer name left, every number right
    assert lines[2] == r"\toprule" and lines[-2] == r"\bottomrule" and lines[-1] == r"\end{tabular}"
    assert lines[3].startswith(r"Layer & C\_in & H/W in") and lines[3].endswith(r"\\")
    assert lines[4] == r"\midrule"
    assert lines[5].startswith("conv1 & 3 & 227 & 96 & 11 & 4 & 0 & 96 & 55 & ")
    # totals after a second rule; 62,378,344 params = the AlexNet of the notes
    assert lines[-4] == r"\midrule"
    assert lines[-3].startswith("Total &") and lines[-3].endswith(r"& 62,378,344 \\")
    assert text.count("&") == 14 * 12  # header + 12 layers + totals: 13 columns, 12 separators each


def test_table_latex_cli_and_suffix(tmp_path: object) -> None:
    r = CliRunner().invoke(app, ["table", "vgg16", "--format", "latex"])
    assert r.exit_code == 0 and r"\toprule" in r.stdout and r"conv1\_1" in r.stdout


def test_bar() -> None:
    assert bar(1, 1) == "████████"
    assert bar(1, 2) == "████    "
    assert bar(1, 16) == "▌       "       # 1/16 of 8 cells = 4 eighths
    assert bar(0, 5) == " " * 8
    assert bar(1, 10**9) == "▏       "     # never shows a non-zero as nothing


def test_table_bars() -> None:
    r = CliRunner().invoke(app, ["table", "alexnet_cs231n", "--bars"])
    assert r.exit_code == 0
    fc6 = next(line for line in r.stdout.splitlines() if line.strip().startswith("fc6"))
    assert "37,753   ████████" in fc6   # the largest params cell gets the full bar
    plain = CliRunner().invoke(app, ["table", "alexnet_cs231n"]).stdout
    assert "█" not in plain
