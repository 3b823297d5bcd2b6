"""The homework checker: lenient reading, tolerance, slips, the seeds' own tables and errata, outputs, exit codes."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, load_spec
from cnncalc.answers import column_for_header, parse_number, parse_shape, parse_sheet, read_sheet
from cnncalc.check import (
    SLIPS,
    Report,
    Rules,
    Status,
    Tolerance,
    allowed,
    grade,
    gradescope_results,
    parse_rules,
    report_dict,
)
from cnncalc.cli import app
from cnncalc.errors import SpecError
from cnncalc.explain import explain_all

FIX = Path(__file__).parent / "fixtures" / "answers"
runner = CliRunner()


def check(spec: str, sheet_path: Path | str, rules: Rules | None = None, tol: Tolerance | None = None) -> Report:
    rules = rules or Rules()
    graph = build_graph(load_spec(spec))
    a = analyse(graph, rules.batch, rules.dtype)
    sheet = read_sheet(sheet_path)
    return grade(a, sheet, rules, explain_all(graph, a, rules.kb), {n.name: n.layer for n in graph.nodes}, tol)


def check_text(spec: str, text: str, name: str = "answers.csv", rules: Rules | None = None,
               tol: Tolerance | None = None) -> Report:
    rules = rules or Rules()
    graph = build_graph(load_spec(spec))
    a = analyse(graph, rules.batch, rules.dtype)
    return grade(a, parse_sheet(text, name), rules, explain_all(graph, a, rules.kb),
                 {n.name: n.layer for n in graph.nodes}, tol)


def cells(report: Report, status: Status) -> set[tuple[str, str]]:
    return {(c.layer, c.column) for c in report.cells if c.status is status and (c.points or c.status is Status.WRONG)}


def cell(report: Report, layer: str, column: str):  # type: ignore[no-untyped-def]
    found = [c for c in report.cells if (c.layer, c.column) == (layer, column)]
    assert len(found) == 1, (layer, column)
    return found[0]


# ----------------------------------------------------------------------------- reading numbers and headers

@pytest.mark.parametrize(("text", "value", "half", "absolute"), [
    ("34,944", 34944, Fraction(1, 2), False),
    ("34_944", 34944, Fraction(1, 2), False),
    ("34 944", 34944, Fraction(1, 2), False),
    ("3.4944e4", 34944, Fraction(1, 2), False),       # 4 decimals at 10^4: last digit is the ones
    ("3.4944×10^4", 34944, Fraction(1, 2), False),
    ("35k", 35000, 500, True),
    ("124K", 124000, 500, True),
    ("1.1M", 1_100_000, 50_000, True),
    ("105 M", 105_000_000, 500_000, True),
    ("0.6 Mflops", 600_000, 50_000, True),
    ("273.375", Fraction(2187, 8), Fraction(1, 2000), False),
    ("**418**", 418, Fraction(1, 2), False),           # Markdown bold (a totals row)
    ("7.5 MB", 7.5 * 1024 * 1024, Fraction(1, 20) * 1024 * 1024, True),
    ("435600 B", 435600, Fraction(1, 2), True),
    ("2 KiB", 2048, 512, True),
])
def test_parse_number_lenient(text: str, value: float, half: Fraction, absolute: bool) -> None:
    n = parse_number(text)
    assert n is not None
    assert (n.value, n.half, n.absolute) == (Fraction(value), Fraction(half), absolute)


@pytest.mark.parametrize("text", ["abc", "3,5", "1e", "12 apples", ""])
def test_parse_number_refuses(text: str) -> None:
    assert parse_number(text) is None


def test_memory_units_follow_the_kb_base() -> None:
    n = parse_number("1 MB", kb=1000)
    assert n is not None and n.value == 1_000_000


@pytest.mark.parametrize(("text", "shape"), [
    ("96x55x55", (96, 55, 55)), ("96 × 55 × 55", (96, 55, 55)), ("[96, 55, 55]", (96, 55, 55)),
    ("(55,55)", (55, 55)), ("256+256", (256, 256)), ("55", (55,)), ("224x224x3", (224, 224, 3)),
])
def test_parse_shape(text: str, shape: tuple[int, ...]) -> None:
    assert parse_shape(text) == tuple(Fraction(x) for x in shape)


@pytest.mark.parametrize(("header", "key"), [
    ("Mem. (KB)", "memory_kb"), ("Param. (k)", "params_k"), ("Flops (M)", "macs_m"), ("H' / W'", "hw_out"),
    ("H / W", "hw_in"), ("C", "c_in"), ("C_{out}", "c_out"), ("Layer", "layer"), ("memory_kb", "memory_kb"),
    ("MACs (M)", "macs_m"), ("Mem (kB)", "memory_kb"), ("FLOPs (M)", "macs_m"), ("Params", "params"),
    ("Filters", "filters"), ("RF", "receptive_field"), ("Output", "output_shape"),
])
def test_headers_seed_style_and_csv_keys(header: str, key: str) -> None:
    assert column_for_header(header) == key


# ----------------------------------------------------------------------------- the seeds' own tables

def test_seed_alexnet_table_passes_except_its_errata() -> None:
    """Seed 001's printed AlexNet table as an answer file: every rounded value passes; the errata are
    conv1's pad (printed 2, the numbers need 0) and fc8's params (printed 4,096 k; 4096×1000 + 1000 =
    4,097,000 → 4,097 k); fc7's Flops is blank on the slide."""
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv")
    assert cells(r, Status.WRONG) == {("conv1", "pad"), ("fc8", "params_k")}
    # the slide has no Total row: by default its three totals count as unanswered
    assert cells(r, Status.UNANSWERED) == {("fc7", "macs_m"), ("Total", "memory_kb"), ("Total", "params_k"),
                                           ("Total", "macs_m")}
    fc8 = cell(r, "fc8", "params_k")
    assert fc8.slip is not None and fc8.slip.name == "forgot_bias"
    assert fc8.expected == "4,097"
    pad = cell(r, "conv1", "pad")
    assert (pad.given, pad.expected, pad.points) == ("2", "0", 0)
    # 12 layers × 5 asked columns, minus H'/W' of flatten and the three fc layers, + 3 totals
    assert r.max_points == 12 * 5 - 4 + 3
    assert r.points == r.max_points - 5
    assert not r.all_right


def test_seed_alexnet_cells_carry_their_formulas() -> None:
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv")
    assert cell(r, "conv1", "hw_out").formula == "W' = (W − K + 2P)/S + 1 = (227 − 11 + 2·0)/4 + 1 = 55"
    assert "96 × 55 × 55 × 4 / 1024 = 1,134.375 KB" in cell(r, "conv1", "memory_kb").formula
    assert "96 × 3 × 11 × 11 + 96 = 34,944" in cell(r, "conv1", "params_k").formula
    assert "4096 × 1000 + 1000 = 4,097,000" in cell(r, "fc8", "params_k").formula
    assert cell(r, "conv3", "memory_kb").tolerance == "±0.5"   # 253.5 printed 254: half a unit, inclusive


def test_seed_googlenet_stem_with_its_convention_flags_only_the_total() -> None:
    """The stem's Flops (M) = conv MACs + pooling ops. Rows: 118,013,952 + 64·56·56·9 (1,806,336) +
    12,845,056 + 346,816,512 + 192·28·28·9 (1,354,752) = 480,836,608 → 481; the slide prints 418."""
    rules = parse_rules((FIX / "googlenet_stem_rules.yaml").read_text(), "rules.yaml")
    r = check("googlenet_stem", FIX / "googlenet_stem_seed.tsv", rules)
    assert cells(r, Status.WRONG) == {("Total", "macs_m")}
    total = cell(r, "Total", "macs_m")
    assert total.expected == "480.836608"
    assert total.slip is not None and total.slip.name == "notes_erratum" and "481" in total.slip.detail
    # the slide's other totals pass: 7.5 MB (±0.05 MB = ±51.2 KB) vs 7,644 KB; 124K vs 124.416 k
    assert cell(r, "Total", "memory_kb").status is Status.RIGHT
    assert cell(r, "Total", "params_k").status is Status.RIGHT
    # rows named conv/pool/conv/conv/pool matched in order, and said so
    assert [c.layer for c in r.cells if c.column == "hw_out"] == ["conv1", "pool1", "conv2", "conv3", "pool2"]
    assert [str(w) for w in r.warnings] == [f"{FIX / 'googlenet_stem_seed.tsv'}:7:1: warning: rows matched to layers "
                                            "in order: conv→conv1, pool→pool1, conv→conv2, conv→conv3, pool→pool2"]


def test_seed_googlenet_stem_under_the_alexnet_convention() -> None:
    r = check("googlenet_stem", FIX / "googlenet_stem_seed.tsv")
    assert cells(r, Status.WRONG) == {("pool1", "macs_m"), ("pool2", "macs_m"), ("Total", "macs_m")}
    for pool in ("pool1", "pool2"):
        slip = cell(r, pool, "macs_m").slip
        assert slip is not None and slip.name == "pooling_ops"


def test_seed_vgg_list_hwc_and_no_bias() -> None:
    """Seed 003's VGG-16 list writes shapes H×W×C and params 'not counting biases'."""
    r = check("vgg16", FIX / "vgg16_seed.yaml")
    wrong = [c for c in r.cells if c.status is Status.WRONG]
    assert {c.slip.name for c in wrong if c.slip} == {"hwc", "forgot_bias"}
    assert all(c.slip is not None for c in wrong)
    assert cell(r, "conv1_1", "params").slip.name == "forgot_bias"       # type: ignore[union-attr]
    assert cell(r, "conv1_1", "params").given == "1,728"                   # (3·3·3)·64
    assert cell(r, "fc6", "output_shape").status is Status.RIGHT           # 1x1x4096 is the vector 4096
    rules = parse_rules((FIX / "vgg16_seed_rules.yaml").read_text(), "rules.yaml")
    ok = check("vgg16", FIX / "vgg16_seed.yaml", rules)
    assert ok.all_right and ok.max_points == 2 * 21


def test_seed_blank_exercise_row_is_unanswered() -> None:
    r = check("alexnet_cs231n", FIX / "alexnet_conv1_blank.tsv", Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cells(r, Status.UNANSWERED) == {("conv1", k) for k in ("c_out", "hw_out", "memory_kb", "params_k", "macs_m")}
    assert r.points == 0 and r.max_points == 5
    assert cell(r, "conv1", "pad").status is Status.RIGHT   # this slide prints pad 0


# ----------------------------------------------------------------------------- planted mistakes

PLANTED = {
    ("conv1", "params_k"): "forgot_bias",     # 96·3·11·11 = 34,848 → 34.848
    ("conv1", "memory_kb"): "kb_1000",        # 1,161,600 B / 1000 = 1161.6 → 1162
    ("conv2", "macs_m"): "flops_per_mac",     # 2 × 447.8976 = 895.8 → 896
    ("pool1", "macs_m"): "pooling_ops",       # 96·27·27·9 = 629,856 → 0.6
    ("conv2", "hw_out"): "one_side_pad",      # (27 − 5 + 2)/1 + 1 = 25
    ("conv3", "memory_kb"): "input_memory",   # 253.5 + 256·13·13·4/1024 = 253.5 + 169 = 422.5
    ("conv4", "memory_kb"): "elements",       # 384·13·13 / 1024 = 63.375 → 63.4
    ("conv5", "memory_kb"): "backward",       # 2 × 169 = 338
    ("fc6", "params_k"): "units",             # 37,752,832 written in the k column
    ("fc7", "params_k"): "digits_swapped",    # 16,781 → 16,718
}


def test_planted_mistakes_are_caught_with_the_right_diagnosis() -> None:
    r = check("alexnet_cs231n", FIX / "alexnet_planted.csv")
    got = {(c.layer, c.column): (c.slip.name if c.slip else None) for c in r.cells if c.status is Status.WRONG}
    assert got == PLANTED
    # conv3's H'/W' written as the whole output shape 13x13x384 (H×W×C) is right: it is unambiguous
    assert cell(r, "conv3", "hw_out").status is Status.RIGHT
    # 'four' is no number: left for a person to grade, not counted wrong
    four = cell(r, "fc8", "memory_kb")
    assert four.status is Status.REVIEW and "cannot read 'four'" in four.note and four.earned == 0
    assert cells(r, Status.UNANSWERED) == set() and not r.all_right
    assert all(c.status is Status.RIGHT for c in r.cells if c.layer == "Total")


def test_every_slip_is_documented_and_caught_somewhere() -> None:
    # ceil_floor: the GoogLeNet stem test below; hwc: the VGG list; notes_erratum: the stem's 418;
    # the others: test_check_sheets.py's planted sheets
    caught = set(PLANTED.values()) | {"ceil_floor", "hwc", "notes_erratum", "added_bias", "forgot_plus_one",
                                      "wrong_pad", "swapped_rows", "input_size", "forgot_c_in"}
    assert {s.name for s in SLIPS} == caught
    assert all(s.fn.__doc__ for s in SLIPS)


def test_ceil_vs_floor_on_the_stem_pools() -> None:
    """pool1: (112 − 3)/2 + 1 = 55.5, ceil_mode → 56; floored: 55, memory 64·55·55·4/1024 = 756.25."""
    text = ("layer,hw_out,memory_kb\nconv1,112,3136\npool1,55,756\nconv2,56,784\nconv3,56,2352\npool2,27,588\n")
    r = check_text("googlenet_stem", text)
    assert cells(r, Status.WRONG) == {("pool1", "hw_out"), ("pool1", "memory_kb"), ("pool2", "hw_out")}
    for key in (("pool1", "hw_out"), ("pool1", "memory_kb"), ("pool2", "hw_out")):
        slip = cell(r, *key).slip
        assert slip is not None and slip.name == "ceil_floor", key


def test_flops_convention_reverses() -> None:
    r = check_text("alexnet_cs231n", "layer,macs\nconv1,105415200\n", rules=Rules(work="flops", missing_rows="ignore"))
    c = cell(r, "conv1", "macs")
    assert c.expected == "210,830,400" and c.slip is not None and c.slip.name == "flops_per_mac"


def test_decimal_kb_rules_reverse_the_kb_slip() -> None:
    rules = Rules(kb=1000, missing_rows="ignore")
    r = check_text("alexnet_cs231n", "layer,memory_kb\nconv1,1162\npool1,273\n", rules=rules)
    assert cell(r, "conv1", "memory_kb").status is Status.RIGHT          # 1,161,600 / 1000
    slip = cell(r, "pool1", "memory_kb").slip                            # 279,936 / 1024 = 273.4
    assert slip is not None and slip.name == "kb_1000"


def test_exact_columns_want_exact_counts() -> None:
    text = "layer,params,macs\nconv1,\"34,944\",105415200\nconv2,615k,4.478976e8\n"
    r = check_text("alexnet_cs231n", text, rules=Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cell(r, "conv1", "params").status is Status.RIGHT
    assert cell(r, "conv2", "macs").status is Status.RIGHT
    rounded = cell(r, "conv2", "params")                                   # 614,656 written 615k
    assert rounded.status is Status.WRONG and rounded.slip is not None and rounded.slip.name == "rounded"


# ----------------------------------------------------------------------------- tolerance

def test_default_tolerance_is_half_a_unit_of_what_is_shown() -> None:
    text = "layer,memory_kb,params_k,macs_m\nconv1,1134.4,35,105.42\n"
    r = check_text("alexnet_cs231n", text, rules=Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cell(r, "conv1", "memory_kb").tolerance == "±0.05"
    assert cell(r, "conv1", "macs_m").tolerance == "±0.005"
    assert {c.status for c in r.cells} == {Status.RIGHT}
    bad = check_text("alexnet_cs231n", "layer,memory_kb\nconv1,1134.3\n", rules=Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cell(bad, "conv1", "memory_kb").status is Status.WRONG          # 1134.375 − 1134.3 > 0.05


def test_sigfig_and_relabs_tolerance() -> None:
    """digits=2 on 1134.375: ½·10^(3 − 2 + 1) = 50; rtol 5 %: 56.72."""
    assert allowed("memory_kb", Fraction(1134375, 1000), Fraction(1, 2), Tolerance(digits=2)) == 50
    assert allowed("memory_kb", Fraction(1000), Fraction(1, 2), Tolerance(rtol=0.05, atol=1)) == 51
    text = "layer,memory_kb\nconv1,1100\n"
    rules = Rules(missing_rows="ignore", missing_columns="ignore")
    assert cell(check_text("alexnet_cs231n", text, rules=rules), "conv1", "memory_kb").status is Status.WRONG
    assert cell(check_text("alexnet_cs231n", text, rules=rules, tol=Tolerance(digits=2)), "conv1",
                "memory_kb").status is Status.RIGHT
    assert cell(check_text("alexnet_cs231n", "layer,memory_kb\nconv1,1080\n", rules=rules, tol=Tolerance(digits=2)),
                "conv1", "memory_kb").status is Status.WRONG
    assert cell(check_text("alexnet_cs231n", text, rules=rules, tol=Tolerance(rtol=0.05)), "conv1",
                "memory_kb").status is Status.RIGHT
    assert "significant" in Tolerance(digits=2).describe()


def test_shapes_stay_exact_under_a_loose_tolerance() -> None:
    r = check_text("alexnet_cs231n", "layer,hw_out\nconv1,54\n", rules=Rules(missing_rows="ignore", missing_columns="ignore"),
                   tol=Tolerance(rtol=0.5))
    assert cell(r, "conv1", "hw_out").status is Status.WRONG


# ----------------------------------------------------------------------------- rules and scoring

def test_rules_points_and_partial_credit() -> None:
    rules = parse_rules("columns: {params_k: 2, memory_kb: 1}\nslip_credit: 0.5\ngiven: 1\n", "r.yaml")
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv", rules)
    fc8 = cell(r, "fc8", "params_k")
    assert (fc8.points, fc8.earned) == (2, 1.0)                 # forgot bias named: half the points
    assert cell(r, "conv1", "pad").points == 1                  # given columns now score
    assert cell(r, "conv1", "hw_out").points == 0               # not listed: checked, not scored
    # params_k and memory_kb on 12 rows; given cells: 5 conv × 6 (c_in, H/W, filters, K, S, P),
    # 3 pools × 5, flatten × 2 (c_in, H/W), 3 fc × 2 (c_in, filters) = 53; the missing Total row's
    # memory and params cells, 1 point each
    assert r.max_points == 12 * 2 + 12 * 1 + 53 + 2


def test_points_per_column_share_a_columns_points() -> None:
    rules = Rules(columns={"memory_kb": 12}, points_per="column", missing_total="ignore")
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv", rules)
    mem = [c for c in r.cells if c.column == "memory_kb"]
    assert len(mem) == 12 and all(c.points == 1 for c in mem) and r.max_points == 12


@pytest.mark.parametrize(("text", "message"), [
    ("kb: 1023\n", "r.yaml:1:5: error: kb: Input should be 1000 or 1024"),
    ("work: flop\n", "r.yaml:1:7: error: work: Input should be"),
    ("tolerence: {rtol: 0.1}\n", "r.yaml:1:1: error: unknown field 'tolerence'; did you mean 'tolerance'?"),
    ("columns: {params_kb: 1}\n", "r.yaml:1:11: error: columns: unknown column 'params_kb'; did you mean 'params_k'?"),
    ("columns: [hw_out, memkb]\n", "r.yaml:1:19: error: columns: unknown column 'memkb'"),
    ("kb: [1\n", "r.yaml:2:1: error: YAML syntax"),
])
def test_rules_errors_are_positioned(text: str, message: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_rules(text, "r.yaml")
    assert str(e.value.diagnostics[0]).startswith(message), str(e.value)


# ----------------------------------------------------------------------------- answer files

def test_table_exports_check_all_right_in_every_format(tmp_path: Path) -> None:
    for fmt, suffix in (("csv", "csv"), ("markdown", "md")):
        res = runner.invoke(app, ["table", "alexnet_cs231n", "--format", fmt, "--exact"])
        assert res.exit_code == 0
        path = tmp_path / f"a.{suffix}"
        path.write_text(res.stdout)
        r = check("alexnet_cs231n", path)
        assert r.all_right and r.score == 1, [c for c in r.cells if c.status is not Status.RIGHT][:3]
        assert any(c.layer == "Total" and c.column == "macs" for c in r.cells)


@pytest.mark.parametrize("spec", ["alexnet_cs231n", "vgg16", "googlenet_stem", "resnet18", "googlenet"])
def test_zoo_exports_check_all_right(spec: str) -> None:
    from cnncalc.columns import Units, build_table, pick
    from cnncalc.export import to_csv
    a = analyse(build_graph(load_spec(spec)))
    text = to_csv(build_table(a, pick(None, ("params", "macs", "memory_bytes", "output_shape")), Units()))
    r = check_text(spec, text)
    assert r.all_right, [c for c in r.cells if c.status is not Status.RIGHT][:3]


@pytest.mark.parametrize(("spec", "depth"), [("googlenet", 0), ("resnet50", 0), ("resnet50", 1)])
def test_collapsed_table_exports_check_against_the_collapsed_rows(spec: str, depth: int) -> None:
    """A `table --depth N` export names block instances (inception3a, layer1): checked against the rows
    at that depth, not matched in order to the layers inside."""
    res = runner.invoke(app, ["table", spec, "--depth", str(depth), "--format", "csv", "--exact"])
    assert res.exit_code == 0
    r = check_text(spec, res.stdout)
    assert r.all_right and not r.warnings, ([c for c in r.cells if c.status is not Status.RIGHT][:3], r.warnings)


def test_collapsed_block_mistake_is_caught() -> None:
    """GoogLeNet's inception3a (torchvision, with BN), by hand: 1×1 192→64: 12,288 + 128 BN;
    1×1 192→96: 18,432 + 192; 3×3 96→128: 110,592 + 256; 1×1 192→16: 3,072 + 32;
    3×3 16→32: 4,608 + 64; pool, 1×1 192→32: 6,144 + 64 — 155,872 params."""
    res = runner.invoke(app, ["table", "googlenet", "--depth", "0", "--format", "csv", "-c", "layer,params"])
    lines = res.stdout.splitlines()
    row = next(i for i, x in enumerate(lines) if x.startswith("inception3a,"))
    assert lines[row] == "inception3a,155872"
    lines[row] = "inception3a,155000"
    r = check_text("googlenet", "\n".join(lines) + "\n")
    wrong = [(c.layer, c.column, c.expected) for c in r.cells if c.status is Status.WRONG]
    assert wrong == [("inception3a", "params", "155,872")] or wrong == [("inception3a", "params", "155872")]


def test_range_worksheet_totals_are_the_ranges(tmp_path: Path) -> None:
    """VGG-16 from 224 to 28 (conv1_1 … pool3), by hand: params 1,735,488; MACs 9·3·64·224²
    + 4 × 1,849,688,064 (conv1_2, conv2_2, conv3_2, conv3_3) + 2 × 924,844,032 (conv2_1, conv3_1)
    = 86,704,128 + 7,398,752,256 + 1,849,688,064 = 9,335,144,448. Checked with --to, the Total
    row is that range's."""
    sheet = runner.invoke(app, ["template", "vgg16", "--to", "pool3", "-c", "params,macs"]).stdout
    assert sheet.splitlines()[-1].startswith("Total") and "conv4_1" not in sheet
    table = runner.invoke(app, ["table", "vgg16", "--to", "pool3", "-f", "csv", "-c", "layer,params,macs"]).stdout
    assert table.splitlines()[-1].startswith("Total,1735488,9335144448")
    path = tmp_path / "range.csv"
    path.write_text(table)
    rules = tmp_path / "rules.yaml"
    rules.write_text("columns: [params, macs]\n")  # the worksheet asks these two
    assert runner.invoke(app, ["check", "vgg16", str(path), "--to", "pool3", "--rules", str(rules)]).exit_code == 0
    whole = runner.invoke(app, ["check", "vgg16", str(path), "--rules", str(rules)])
    assert whole.exit_code == 1 and "expected 138,357,544" in whole.stdout
    assert "is the total of conv1_1–pool3, the rows answered: check with --from conv1_1 --to pool3" in whole.stdout


def test_template_at_a_depth_lists_block_instances() -> None:
    rows = [x.split(",")[0] for x in runner.invoke(app, ["template", "googlenet", "--depth", "0"]).stdout.splitlines()]
    assert "inception3a" in rows and not any(r.startswith("inception3a.") for r in rows)


def test_yaml_answers_by_name(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("conv1: {hw_out: 55, memory_kb: 1134.375, params: 34944, macs: 105 M}\n"
                    "pool1: {output_shape: 96x27x27}\nTotal: {params_k: 62378}\n")
    r = check("alexnet_cs231n", path, Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cells(r, Status.WRONG) == {("conv1", "macs")}        # 105 M is not the exact 105,415,200
    assert cell(r, "Total", "params_k").status is Status.RIGHT
    assert cell(r, "conv1", "hw_out").position is not None and cell(r, "conv1", "hw_out").position.line == 1


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.csv", "name_of_thing,foo\nconv1,3\n", "a.csv:1:1: error: no header row with a 'layer' column"),
    ("a.csv", "layer,hw_out\nconv1,55\nconv9,13\n", "a.csv:3:1: error: no layer named 'conv9' in the spec; did you mean"),
    ("a.csv", "layer,hw_out,H'/W'\nconv1,55,55\n", "a.csv:1:14: error: column 'H'/W'' repeats 'hw_out'"),
    ("a.md", "| Layer | H'/W' |\n|---|---|\n| conv1 | 55 |\n| cnv2 | 27 |\n", "a.md:4:3: error: no layer named 'cnv2'"),
    ("a.yaml", "conv1: {hw_out: [55, 55]}\n", "a.yaml:1:17: error: hw_out: expected a number"),
    ("a.yaml", "conv1: {hw_out: 55\n", "a.yaml:2:1: error: YAML syntax"),
    ("a.yaml", "just text\n", "a.yaml:1:1: error: answers in YAML must be"),
])
def test_unreadable_answers_are_positioned_errors(name: str, text: str, message: str) -> None:
    with pytest.raises(SpecError) as e:
        check_text("alexnet_cs231n", text, name)
    assert str(e.value.diagnostics[0]).startswith(message), str(e.value)


def test_unknown_columns_are_warnings_not_errors() -> None:
    r = check_text("alexnet_cs231n", "layer,hw_out,notes\nconv1,55,easy\n", rules=Rules(missing_rows="ignore", missing_columns="ignore"))
    assert r.all_right
    assert [str(w) for w in r.warnings] == ["answers.csv:1:14: warning: column 'notes' is not one cnncalc checks; ignored"]


def test_a_lone_near_miss_is_matched_in_order_with_a_warning() -> None:
    r = check_text("alexnet_cs231n", "layer,hw_out\nconv9,55\n", rules=Rules(missing_rows="ignore", missing_columns="ignore"))
    assert cell(r, "conv1", "hw_out").status is Status.RIGHT
    assert "rows matched to layers in order: conv9→conv1" in str(r.warnings[0])


# ----------------------------------------------------------------------------- outputs

GRADESCOPE_TOP = {"score", "output", "output_format", "visibility", "tests"}
GRADESCOPE_TEST = {"name", "number", "score", "max_score", "status", "output", "output_format", "visibility"}


@pytest.mark.parametrize("per", ["layer", "cell"])
def test_gradescope_results_have_the_documented_fields(per: str) -> None:
    rules = Rules(gradescope={"per": per})
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv", rules)
    res = gradescope_results(r)
    json.dumps(res)
    assert set(res) == GRADESCOPE_TOP and res["output_format"] == "md"
    for t in res["tests"]:
        assert set(t) == GRADESCOPE_TEST
        assert t["status"] in ("passed", "failed") and t["output_format"] == "md" and t["visibility"] == "visible"
        assert isinstance(t["number"], str) and 0 <= t["score"] <= t["max_score"]
        assert t["output"].startswith("| | Column | Given | Expected | Formula | Diagnosis |")
    assert abs(sum(t["score"] for t in res["tests"]) - res["score"]) < 1e-9
    assert res["score"] == r.points == 54
    assert sum(t["max_score"] for t in res["tests"]) == r.max_points == 59
    failed = {t["name"] for t in res["tests"] if t["status"] == "failed"}
    # conv1's pad erratum is a 0-point given cell: shown in its test's output, but the test passes
    if per == "layer":
        assert failed == {"fc7", "fc8", "Total"}                     # blank Flops, forgot bias, no Total row
        assert [t["number"] for t in res["tests"]][:3] == ["1", "2", "3"]
        conv1 = next(t for t in res["tests"] if t["name"] == "conv1")
        assert conv1["status"] == "passed" and "| ✗ | Pad | 2 | 0 |" in conv1["output"]
    else:  # one test per scored cell, none 0/0; human column names
        assert failed == {"fc7 · MACs (M)", "fc8 · Params (k)", "Total · Mem (KB)", "Total · Params (k)",
                          "Total · MACs (M)"}
        assert all(t["max_score"] > 0 for t in res["tests"])
        assert res["tests"][0]["number"] == "1.1"


def test_report_json_has_a_prairielearn_score() -> None:
    r = check("alexnet_cs231n", FIX / "alexnet_seed.tsv")
    d = report_dict(r)
    assert d["score"] == round(54 / 59, 4) and d["points"] == 54 and d["max_points"] == 59
    assert 0 <= d["score"] <= 1 and d["all_right"] is False
    fc8 = next(c for c in d["cells"] if (c["layer"], c["column"]) == ("fc8", "params_k"))
    assert fc8["slip"] == "forgot_bias" and fc8["line"] == 19 and fc8["status"] == "wrong"


# ----------------------------------------------------------------------------- CLI

def test_cli_check_exit_codes(tmp_path: Path) -> None:
    good = runner.invoke(app, ["table", "alexnet_cs231n", "--format", "csv"])
    (tmp_path / "good.csv").write_text(good.stdout)
    ok = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "good.csv")])
    assert ok.exit_code == 0, ok.output
    assert "All right." in ok.stdout and "half a unit" in ok.stdout

    seed = runner.invoke(app, ["check", "alexnet_cs231n", str(FIX / "alexnet_seed.tsv")])
    assert seed.exit_code == 1
    assert "forgot the bias" in seed.stdout and "Score: 54 / 59" in seed.stdout

    (tmp_path / "bad.csv").write_text("layer,hw_out\nconv1,55\nconv9,13\n")
    bad = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2
    assert f"{tmp_path / 'bad.csv'}:3:1: error: no layer named 'conv9'" in bad.stderr
    assert bad.stdout == "" and "Traceback" not in bad.output

    (tmp_path / "rules.yaml").write_text("kb: 1023\n")
    rules = runner.invoke(app, ["check", "alexnet_cs231n", str(FIX / "alexnet_seed.tsv"), "--rules",
                                str(tmp_path / "rules.yaml")])
    assert rules.exit_code == 2 and "rules.yaml:1:5: error: kb:" in rules.stderr

    missing = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_cli_check_json_and_gradescope(tmp_path: Path) -> None:
    gs = tmp_path / "results.json"
    res = runner.invoke(app, ["check", "googlenet_stem", str(FIX / "googlenet_stem_seed.tsv"), "--rules",
                              str(FIX / "googlenet_stem_rules.yaml"), "--format", "json", "--gradescope", str(gs)])
    assert res.exit_code == 1
    d = json.loads(res.stdout)
    assert d["points"] == 27 and d["max_points"] == 28
    wrong = [c for c in d["cells"] if c["status"] == "wrong"]
    assert [(c["layer"], c["column"], c["given"], c["slip"]) for c in wrong] == [("Total", "macs_m", "418", "notes_erratum")]
    g = json.loads(gs.read_text())
    assert set(g) == GRADESCOPE_TOP and g["score"] == 27
    assert [t["name"] for t in g["tests"]] == ["conv1", "pool1", "conv2", "conv3", "pool2", "Total"]
    assert g["tests"][-1]["status"] == "failed" and g["tests"][-1]["max_score"] == 3


def test_cli_check_tolerance_options() -> None:
    res = runner.invoke(app, ["check", "alexnet_cs231n", str(FIX / "alexnet_seed.tsv"), "--digits", "3"])
    assert "3 significant digits" in res.stdout
    res = runner.invoke(app, ["check", "alexnet_cs231n", str(FIX / "alexnet_seed.tsv"), "--rtol", "0.01"])
    assert "± 0.01 relative" in res.stdout


def test_cli_template_blanks_the_asked_cells(tmp_path: Path) -> None:
    res = runner.invoke(app, ["template", "alexnet_cs231n"])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0] == "layer,c_in,hw_in,filters,kernel,stride,pad,c_out,hw_out,memory_kb,params_k,macs_m"
    assert lines[1] == "conv1,3,227,96,11,4,0,,,,,"      # the seed's exercise row, "?" left blank
    assert lines[10] == "fc6,9216,,4096,,,,,,,,"
    md = runner.invoke(app, ["template", "alexnet_cs231n", "--format", "markdown"]).stdout
    assert "| conv1 | 3 | 227 | 96 | 11 | 4 | 0 | ? | ? | ? | ? | ? |" in md
    assert "| fc6 | 9216 |  | 4096 |  |  |  | ? |  | ? | ? | ? |" in md     # fc: no H'/W' to ask
    (tmp_path / "w.md").write_text(md)
    blank = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "w.md")])
    assert blank.exit_code == 1 and "Score: 0 / 59" in blank.stdout  # 56 cells and the 3 totals
    y = runner.invoke(app, ["template", "googlenet_stem", "--format", "yaml", "--totals"]).stdout
    (tmp_path / "w.yaml").write_text(y)
    assert check("googlenet_stem", tmp_path / "w.yaml").points == 0
    assert "total: {memory_kb: null, params_k: null, macs_m: null}" in y
    bad = runner.invoke(app, ["template", "alexnet_cs231n", "--columns", "hwout"])
    assert bad.exit_code == 2 and "did you mean 'hw_out'" in bad.stderr
