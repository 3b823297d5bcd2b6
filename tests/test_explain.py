"""Formulas with the numbers plugged in: the seeds' worked examples, every zoo layer, the explain command."""

from __future__ import annotations

from fractions import Fraction

import pytest
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, load_spec, zoo_names
from cnncalc.cli import app
from cnncalc.explain import explain_all, fmt_number
from cnncalc.layers import Formula

runner = CliRunner()


def formulas(spec: str, layer: str) -> dict[str, Formula]:
    graph = build_graph(load_spec(spec))
    return {f.quantity: f for f in explain_all(graph, analyse(graph))[layer]}


def test_alexnet_conv1_as_the_seed_works_it() -> None:
    """Seed 001: W' = (227 − 11 + 2×0)/4 + 1 = 55; 96×55×55×4/1024 = 1134; 96×3×11×11 + 96 = 34,944;
    (96×55×55)×(3×11×11) = 105,415,200."""
    f = formulas("alexnet_cs231n", "conv1")
    assert str(f["W'"]) == "W' = (W − K + 2P)/S + 1 = (227 − 11 + 2·0)/4 + 1 = 55"
    assert str(f["Memory"]) == "Memory = C_out × H' × W' × bytes / 1024 = 96 × 55 × 55 × 4 / 1024 = 1,134.375 KB"
    assert str(f["Params"]) == "Params = C_out × C_in × K × K + C_out = 96 × 3 × 11 × 11 + 96 = 34,944"
    assert f["MACs"].value == "105,415,200"
    assert f["RF"].value == "11, jump 1·4 = 4"


def test_alexnet_pool1_flatten_fc6_as_the_seed() -> None:
    """Seed 001: pool1 96×27×27×4/1024 = 273.375 KB and 96×27×27×3×3 = 629,856 ops; flatten
    256×6×6 = 9,216; fc6 9216×4096 + 4096 = 37,752,832 params, 9216×4096 = 37,748,736 MACs."""
    pool = formulas("alexnet_cs231n", "pool1")
    assert pool["Memory"].value == "273.375 KB" and pool["Ops"].value == "629,856"
    assert pool["RF"].numeric == "11 + (3 − 1)·4"          # 11 + 2·4 = 19
    flat = formulas("alexnet_cs231n", "flatten")
    assert str(flat["Output"]) == "Output = C × H × W = 256 × 6 × 6 = 9,216"
    fc6 = formulas("alexnet_cs231n", "fc6")
    assert fc6["Params"].value == "37,752,832" and fc6["MACs"].value == "37,748,736"
    assert fc6["Memory"].value == "16 KB"


def test_stem_pool_shows_the_ceil() -> None:
    assert formulas("googlenet_stem", "pool1")["W'"].value == "55.5 → ceil → 56"


@pytest.mark.parametrize("spec", zoo_names())
def test_every_zoo_layer_explains_output_memory_and_rf(spec: str) -> None:
    graph = build_graph(load_spec(spec))
    a = analyse(graph)
    ex = explain_all(graph, a)
    for r in a.rows:
        qs = [f.quantity for f in ex[r.name]]
        assert "Output" in qs and "Memory" in qs and qs[-1] == "RF", (r.name, qs)
        mem = next(f for f in ex[r.name] if f.quantity == "Memory")
        assert mem.value == f"{fmt_number(Fraction(r.activation_bytes, 1024))} KB"
        params = [f for f in ex[r.name] if f.quantity == "Params"]
        if params and r.params:
            assert params[0].value.replace(",", "") == str(r.params), r.name


@pytest.mark.parametrize(("x", "text"), [
    (Fraction(9075, 8), "1,134.375"), (105415200, "105,415,200"), (Fraction(2, 3), "≈0.666667"), (0, "0"),
])
def test_fmt_number(x: Fraction | int, text: str) -> None:
    assert fmt_number(x) == text


def test_explain_command() -> None:
    res = runner.invoke(app, ["explain", "alexnet_cs231n", "conv1"])
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0] == "conv1 (conv): 3×227×227 → 96×55×55"
    assert "= (227 − 11 + 2·0)/4 + 1 = 55" in res.stdout
    assert "= 96 × 55 × 55 × 4 / 1024 = 1,134.375 KB" in res.stdout
    si = runner.invoke(app, ["explain", "alexnet_cs231n", "conv1", "--si"])
    assert "/ 1000 = 1,161.6 kB" in si.stdout
    bad = runner.invoke(app, ["explain", "alexnet_cs231n", "conv9"])
    assert bad.exit_code == 2 and "no layer named 'conv9'" in bad.stderr and bad.stdout == ""
