"""Symbolic analysis: the seeds' design formulas derived from specs, answers read as formulas."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

sp = pytest.importorskip("sympy")

from typer.testing import CliRunner  # noqa: E402

from cnncalc import symbolic as sym  # noqa: E402
from cnncalc.analysis import analyse  # noqa: E402
from cnncalc.cli import app  # noqa: E402
from cnncalc.graph import build_graph  # noqa: E402
from cnncalc.spec import load_spec, parse_spec  # noqa: E402
from cnncalc.symtable import symbolic_ratios, symbolic_table  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "specs" / "examples"
C, H, W, G, c = (sym.symbol(n) for n in ("C", "H", "W", "G", "c"))
runner = CliRunner()


def same(a: object, b: object) -> bool:
    return bool(sp.simplify(sp.sympify(a) - sp.sympify(b)) == 0)


def table(name: str, **env: int):  # type: ignore[no-untyped-def]
    a = analyse(build_graph(load_spec(str(EXAMPLES / f"{name}.yaml")), env, symbolic=True))
    return symbolic_table(a)


# The seeds' formulas (seed 001), written here by hand from the slides: totals of params,
# MACs (the slides' "FLOPs" are multiply-adds) and activation memory in elements.
SEED_FORMULAS = {
    # "Option 1: One 5×5 conv / Option 2: Two 3×3 conv": params 25C² / 18C², FLOPs 25C²HW / 18C²HW
    "one_5x5": (25 * C**2, 25 * C**2 * H * W, C * H * W),
    "two_3x3": (18 * C**2, 18 * C**2 * H * W, 2 * C * H * W),
    # VGG stage, input C×2H×2W vs 2C×H×W: Mem 4HWC / 2HWC, Params 9C² / 36C², FLOPs 36HWC² both
    "vgg_stage_before_pool": (9 * C**2, 36 * H * W * C**2, 4 * H * W * C),
    "vgg_stage_after_pool": (36 * C**2, 36 * H * W * C**2, 2 * H * W * C),
    # Basic residual block 18HWC²; bottleneck on 4C: 4HWC² + 9HWC² + 4HWC² = 17HWC².
    # Memory: every output counted (convs with fused ReLU, the add and the ReLU after it).
    "resnet_basic_block": (18 * C**2, 18 * H * W * C**2, 4 * C * H * W),
    "resnet_bottleneck_block": (17 * C**2, 17 * H * W * C**2, (1 + 1 + 4 + 4 + 4) * C * H * W),
    # ResNeXt: G(4HWcC + 9HWc² + 4HWcC)
    "resnext_block": (G * (4 * c * C + 9 * c**2 + 4 * c * C), G * (4 * H * W * c * C + 9 * H * W * c**2 + 4 * H * W * c * C),
                      H * W * (G * c + G * c + 4 * C + 4 * C)),
    # MobileNets: standard 9C²HW; depthwise separable (9C + C²)HW
    "standard_conv": (9 * C**2, 9 * C**2 * H * W, C * H * W),
    "depthwise_separable": (9 * C + C**2, (9 * C + C**2) * H * W, 2 * C * H * W),
    # Inception, every branch C wide: naive (1 + 9 + 25)C²; bottleneck C² + (C²/2 + 9C²/2) +
    # (C²/4 + 25C²/4) + C² (pool projection) = 27C²/2.
    "inception_naive": (35 * C**2, 35 * C**2 * H * W, (1 + 1 + 1 + 1 + 4) * C * H * W),
    "inception_bottleneck": (
        C**2 + (C**2 / 2 + 9 * C**2 / 2) + (C**2 / 4 + 25 * C**2 / 4) + C**2,
        (C**2 + (C**2 / 2 + 9 * C**2 / 2) + (C**2 / 4 + 25 * C**2 / 4) + C**2) * H * W,
        (C + C / 2 + C + C / 4 + C + C + C + 4 * C) * H * W,
    ),
}


def test_every_example_has_its_formula() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} == set(SEED_FORMULAS)


@pytest.mark.parametrize("name", sorted(SEED_FORMULAS))
def test_example_totals_equal_the_seed_formulas(name: str) -> None:
    t = table(name)
    params, macs, memory = SEED_FORMULAS[name]
    assert same(t.total.params, params), t.total.params
    assert same(t.total.work, macs), t.total.work
    assert same(t.total.memory, memory), t.total.memory


@pytest.mark.parametrize("name", sorted(SEED_FORMULAS))
def test_formulas_agree_with_the_numeric_path(name: str) -> None:
    """Substituting the spec's own vars into the formulas gives the numeric analysis exactly."""
    loaded = load_spec(str(EXAMPLES / f"{name}.yaml"))
    values = loaded.spec.vars
    numeric = analyse(build_graph(loaded))
    t = symbolic_table(analyse(build_graph(loaded, symbolic=True)))
    subs = {sym.symbol(k): v for k, v in values.items()}
    assert sp.sympify(t.total.params).subs(subs) == numeric.totals.params
    assert sp.sympify(t.total.work).subs(subs) == numeric.totals.macs
    assert sp.sympify(t.total.memory).subs(subs) * 4 == numeric.totals.activation_bytes
    for r, n in zip(t.rows, numeric.rows, strict=True):
        assert r.name == n.name
        assert tuple(sp.sympify(d).subs(subs) for d in r.output) == n.output
        assert sp.sympify(r.work).subs(subs) == n.macs


def test_per_layer_formulas_of_the_vgg_stage_and_the_bottleneck() -> None:
    t = table("vgg_stage_before_pool")
    (conv,) = t.rows
    assert conv.output == (C, 2 * H, 2 * W)
    assert same(conv.params, 9 * C**2) and same(conv.memory, 4 * H * W * C)
    rows = {r.name: r for r in table("resnet_bottleneck_block").rows}
    # The seed's bottleneck slide: FLOPs 4HWC², 9HWC², 4HWC² per conv.
    assert same(rows["block.reduce"].work, 4 * H * W * C**2)
    assert same(rows["block.conv3x3"].work, 9 * H * W * C**2)
    assert same(rows["block.expand"].work, 4 * H * W * C**2)
    assert rows["block.add"].work == 0


def test_seed_bottleneck_arithmetic_at_256_maps() -> None:
    """Seed: 256×256×3×3 ≈ 600K per position, against 16K + 36K + 16K ≈ 70K with C = 64."""
    per_position = table("resnet_bottleneck_block").total.work / (H * W)
    assert per_position.subs(C, 64) == 256 * 64 + 64 * 64 * 9 + 64 * 256 == 69_632
    plain = table("standard_conv").total.work / (H * W)
    assert plain.subs(C, 256) == 256 * 256 * 3 * 3 == 589_824


def test_resnext_seed_examples_cost_about_a_bottleneck() -> None:
    """Seed: G(4HWcC + 9HWc² + 4HWcC) = 17HWC² for C = 64 with G = 4, c = 24 or G = 32, c = 4 (≈, within 1 %)."""
    bottleneck = table("resnet_bottleneck_block").total.work.subs(C, 64)
    for g, width in ((4, 24), (32, 4)):
        resnext = table("resnext_block", G=g, c=width).total.work.subs(C, 64)
        assert abs(resnext / bottleneck - 1) < sp.Rational(1, 100)


def test_depthwise_separable_speed_up_tends_to_nine() -> None:
    (r_params, r_macs, r_mem) = symbolic_ratios([table("depthwise_separable"), table("standard_conv")])
    assert same(r_macs.ratio, 9 * C**2 * H * W / ((9 * C + C**2) * H * W))
    assert r_macs.limits == {"C": 9}
    assert r_params.limits == {"C": 9}
    assert r_mem.ratio == sp.Rational(1, 2) and r_mem.limits == {}


def test_inception_bottleneck_saving_and_two_3x3_ratio() -> None:
    _, macs, _ = symbolic_ratios([table("inception_naive"), table("inception_bottleneck")])
    assert macs.ratio == sp.Rational(27, 70)
    params, macs, _ = symbolic_ratios([table("one_5x5"), table("two_3x3")])
    assert params.ratio == macs.ratio == sp.Rational(18, 25)


def test_set_fixes_some_variables() -> None:
    t = table("vgg_stage_after_pool", C=64)
    assert t.symbols == ("H", "W")
    assert same(t.total.work, 36 * 64**2 * H * W)


def test_spec_defaults_do_not_apply_in_symbolic_mode() -> None:
    assert table("two_3x3").symbols == ("C", "H", "W")


# ----------------------------------------------------------------------------- arithmetic

def test_windows_floor_when_provably_fractional_and_assume_otherwise() -> None:
    text = """
name: w
input: [C, 2*H, H]
layers:
  - {name: c1, type: conv, filters: C, kernel: 3, stride: 2, pad: 1}
"""
    a = analyse(build_graph(parse_spec(text, "w.yaml"), symbolic=True))
    out = a.rows[0].output
    # (2H − 1)/2 is provably not whole: ⌊H − 1/2⌋ + 1 = H, as PyTorch gives for an even size.
    assert out[1] == H
    # (H − 1)/2 depends on H: assumed whole, (H + 1)/2, and a warning says so.
    assert same(out[2], (H + 1) / 2)
    assert len(a.warnings) == 1 and "assumed" in a.warnings[0].message and "w.yaml:5:5" in str(a.warnings[0])


def test_blocks_take_symbols_and_words_and_assumptions_do_not_cascade() -> None:
    text = """
name: b
input: [4*C, H, W]
blocks:
  bneck:
    args: {c: null, act: relu, stride: 1}
    layers:
      - {type: conv, filters: c, kernel: 1, bias: false, activation: act}
      - {type: conv, filters: c, kernel: 3, pad: 1, stride: stride, bias: false, activation: act}
      - {type: conv, filters: 4*c, kernel: 1, bias: false}
layers:
  - {type: bneck, c: C, act: relu6}
  - {type: bneck, c: C, stride: 2}
"""
    a = analyse(build_graph(parse_spec(text, "b.yaml"), symbolic=True))
    rows = {r.name: r for r in a.rows}
    assert same(a.totals.params, 2 * 17 * C**2)
    assert rows["bneck1.conv1"].hyper.filters == "C"
    assert same(rows["bneck2.conv3"].output[1], (H + 1) / 2)
    # only the strided 3×3 assumes divisibility; the 1×1 after it does not warn again
    assert {w.message.split(":")[0] for w in a.warnings} == {"bneck2.conv2"}


def test_channel_splits_are_exact_and_groups_may_be_symbolic() -> None:
    text = """
name: g
input: [C, H, W]
layers:
  - {type: conv, filters: C/4, kernel: 1, bias: false}
  - {type: conv, filters: C/4, kernel: 3, pad: same, groups: C/4, bias: false}
"""
    a = analyse(build_graph(parse_spec(text, "g.yaml"), symbolic=True))
    assert same(a.rows[0].params, C**2 / 4)  # not floor(C/4)·C
    assert same(a.rows[1].params, 9 * C / 4)
    assert not a.warnings


def test_provably_bad_symbolic_sizes_are_still_errors() -> None:
    text = """
name: bad
input: [2*C, H, W]
layers:
  - {type: conv, filters: 3, kernel: 1, groups: 2}
"""
    from cnncalc.errors import SpecError
    with pytest.raises(SpecError, match="filters 3 are not divisible by groups=2"):
        analyse(build_graph(parse_spec(text, "bad.yaml"), symbolic=True))


def test_a_kind_that_needs_numbers_gives_a_positioned_error() -> None:
    text = """
name: ad
input: [C, H, W]
layers:
  - {type: conv, filters: C, kernel: 3}
  - {type: adaptive_avgpool, output: 7}
"""
    from cnncalc.errors import SpecError
    with pytest.raises(SpecError) as e:
        analyse(build_graph(parse_spec(text, "ad.yaml"), symbolic=True))
    assert "ad.yaml:6:5: error: adaptive_avgpool1" in str(e.value) and "--set" in str(e.value)


def test_evaluate_is_safe_and_exact() -> None:
    assert sym.evaluate("2*C", {}) == 2 * C
    assert sym.evaluate("C/4", {"C": Fraction(64)}) == 16
    assert sym.evaluate("C // 4", {}) == sp.floor(C / 4)
    assert sym.evaluate("max(C, 4)", {}) == sp.Max(C, 4)
    assert sym.evaluate("2^C", {"C": 3}) == 8
    from cnncalc.expr import ExprError
    for bad in ("__import__('os')", "C.real", "[C]", "C ** D"):
        with pytest.raises(ExprError):
            sym.evaluate(bad, {})


def test_floor_div_and_divisible() -> None:
    assert sym.floor_div(2 * H - 1, 2) == H - 1
    assert sym.floor_div(2 * H + 2, 2) == H + 1
    assert same(sym.floor_div(H, 2), H / 2)
    assert sym.divisible(2 * H, 2) is True
    assert sym.divisible(2 * H + 1, 2) is False
    assert sym.divisible(H, 2) is None


# ----------------------------------------------------------------------------- presentation

def test_pretty_and_latex() -> None:
    assert sym.pretty(sym.simplify(18 * C**2 * H * W)) == "18·C²·H·W"
    assert sym.pretty(sym.simplify(C**2 * H * W + 9 * C * H * W)) == "C·H·W·(C + 9)"
    assert sym.pretty(sym.simplify(25 * C**2 + C)) == "25·C² + C"
    assert sym.latex(18 * C**2 * H * W) == "18 C^{2} H W"


def test_cli_table_symbolic_terminal_markdown_latex_json() -> None:
    spec = str(EXAMPLES / "two_3x3.yaml")
    r = runner.invoke(app, ["table", spec, "--symbolic"])
    assert r.exit_code == 0, r.output
    assert "18·C²·H·W" in r.stdout and "9·C²" in r.stdout
    r = runner.invoke(app, ["table", spec, "--symbolic", "-f", "markdown"])
    assert "| **Total** |  |  | $18 C^{2}$ | $18 C^{2} H W$ | $2 C H W$ |" in r.stdout
    r = runner.invoke(app, ["table", spec, "--symbolic", "-f", "latex"])
    assert r"\toprule" in r.stdout and r"$18 C^{2} H W$" in r.stdout and r"$C \times H \times W$" in r.stdout
    r = runner.invoke(app, ["table", spec, "--symbolic", "-f", "json"])
    data = json.loads(r.stdout)
    assert data["symbols"] == ["C", "H", "W"]
    assert data["totals"]["macs"] == {"text": "18*C**2*H*W", "latex": "18 C^{2} H W"}
    r = runner.invoke(app, ["table", spec, "--symbolic", "--flops", "-f", "csv"])
    assert r.stdout.splitlines()[-1] == "Total,,,18*C**2,36*C**2*H*W,2*C*H*W"


def test_cli_compare_symbolic_gives_ratio_and_limit() -> None:
    r = runner.invoke(app, ["compare", str(EXAMPLES / "depthwise_separable.yaml"),
                            str(EXAMPLES / "standard_conv.yaml"), "--symbolic"])
    assert r.exit_code == 0, r.output
    assert "9·C/(C + 9)" in r.stdout and "9 (C → ∞)" in r.stdout
    r = runner.invoke(app, ["compare", str(EXAMPLES / "depthwise_separable.yaml"),
                            str(EXAMPLES / "standard_conv.yaml"), "--symbolic", "-f", "json"])
    ratios = json.loads(r.stdout)["ratios"]
    assert ratios[1]["quantity"] == "MACs" and ratios[1]["limits"]["C"]["text"] == "9"


def test_cli_symbolic_rejects_numeric_only_options() -> None:
    r = runner.invoke(app, ["table", str(EXAMPLES / "two_3x3.yaml"), "--symbolic", "--exact"])
    assert r.exit_code == 2 and "--symbolic" in r.stderr


def test_numeric_table_of_an_example_uses_the_spec_defaults() -> None:
    r = runner.invoke(app, ["table", str(EXAMPLES / "two_3x3.yaml"), "-c", "layer,macs", "-f", "csv"])
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == f"Total,{18 * 64**2 * 56 * 56}"


def test_core_works_without_sympy(tmp_path: Path) -> None:
    """sympy blocked: numbers work as before; --symbolic says how to install it (exit 2)."""
    code = (
        "import sys; sys.modules['sympy'] = None\n"
        "from cnncalc import analyse_spec\n"
        "print(analyse_spec('alexnet_cs231n').totals.params)\n"
        "from typer.testing import CliRunner\n"
        "from cnncalc.cli import app\n"
        f"r = CliRunner().invoke(app, ['table', {str(EXAMPLES / 'two_3x3.yaml')!r}, '--symbolic'])\n"
        "print(r.exit_code, r.stderr.strip())\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    params, verdict = res.stdout.strip().splitlines()
    assert params == "62378344"
    assert verdict.startswith("2 error: symbolic analysis needs sympy: pip install 'cnncalc[symbolic]'")


# ----------------------------------------------------------------------------- answers

ANSWERS = ["18*C^2*H*W", "18C²HW", "18 C^2 H W", "18·C²·H·W", "18HWC^2", "18 × C² × H × W",
           "18 C^{2} H W", r"18 \cdot C^2 \cdot H \cdot W", "(9C + 9C)·C·HW", "2(3C)^2HW", "$18C^2HW$"]


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_in_many_notations_are_equivalent(text: str) -> None:
    assert sym.equivalent(sym.parse_answer(text, ["C", "H", "W"]), 18 * C**2 * H * W)


def test_answers_are_judged_algebraically() -> None:
    symbols = ["C", "H", "W"]
    assert sym.equivalent(sym.parse_answer("(9C + C²)HW", symbols), C * H * W * (C + 9))
    assert sym.equivalent(sym.parse_answer("9C^2HW / (9C + C^2)HW", symbols), 9 * C / (C + 9))
    assert not sym.equivalent(sym.parse_answer("18C", symbols), 18 * C**2)
    assert not sym.equivalent(sym.parse_answer("17HWC^2", symbols), 18 * H * W * C**2)
    assert sym.parse_answer("c_in*K^2", ["c_in", "K"]) == sym.symbol("c_in") * sym.symbol("K") ** 2


@pytest.mark.parametrize("text", ["18X", "__import__('os')", "18 C ^", "", "C.real"])
def test_unreadable_answers_raise(text: str) -> None:
    with pytest.raises(sym.SymbolicError):
        sym.parse_answer(text, ["C", "H", "W"])


def test_judge_formula_answers() -> None:
    names = ["C", "H", "W"]
    assert sym.judge("36HWC²", [36 * H * W * C**2], names) is True
    assert sym.judge("4HWC", [16 * H * W * C, 4 * H * W * C], names) is True  # any accepted form
    assert sym.judge("9C^2 + C", [9 * C**2], names) is False
    assert sym.judge("35k", [9 * C**2], names) is None  # a number: for the numeric reader


def test_checker_accepts_formula_answers(tmp_path: Path) -> None:
    """cnncalc check judges 18C²-style answers by algebraic equivalence with the spec read with symbols."""
    spec = str(EXAMPLES / "vgg_stage_before_pool.yaml")
    right = tmp_path / "right.csv"
    right.write_text("layer,c_out,hw_out,params_k,macs_m,memory_kb\n"
                     "conv3x3,C,2H,9C²,36HWC^2,4HWC\n"
                     "Total,,,9 C^2,36 C^2 H W,16·H·W·C\n", encoding="utf-8")
    r = runner.invoke(app, ["check", spec, str(right), "-f", "json"])
    assert r.exit_code == 0, r.output
    cells = json.loads(r.stdout)["cells"]
    assert len(cells) == 8 and all(c["status"] == "right" for c in cells)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("layer,c_out,params_k,macs_m\nconv3x3,2C,18C²,36HWC\n", encoding="utf-8")
    r = runner.invoke(app, ["check", spec, str(wrong), "-f", "json"])
    assert r.exit_code == 1
    cells = json.loads(r.stdout)["cells"]
    # the answered cells are wrong (the columns and Total the sheet leaves out are unanswered)
    assert [c["status"] for c in cells if c["given"]] == ["wrong"] * 3
    params = next(c for c in cells if c["column"] == "params_k")
    assert params["expected"] == "9·C²"  # the Expected column shows the formula
