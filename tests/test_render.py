"""The terminal table: layout (render.grid), fitting the width, units per column, the footer, the tree."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from typer.testing import CliRunner

from cnncalc import analyse_spec, zoo_names
from cnncalc.cli import app
from cnncalc.columns import BY_KEY, TableData, Units, build_table, fit_units, pick
from cnncalc.render import Col, _tree_prefixes, grid, rich_table


def test_grid_layout_by_hand() -> None:
    text = grid("t", [Col("Layer", ["conv1", "fc"], "Total"), Col("Params", ["34,944", "4,097"], "39,041", right=True)],
                "cap").plain
    assert text.split("\n") == [
        "        t",  # centred over the 18 cells: 2 edges + 5 + 6 + 2 × 2 padding + 1 between
        "",
        "  Layer   Params  ",
        " ━━━━━━━━━━━━━━━━ ",
        "  conv1   34,944  ",
        "  fc       4,097  ",
        " ━━━━━━━━━━━━━━━━ ",
        "  Total   39,041  ",
        "",
        "       cap",
    ]


def test_seed_table_columns_line_up() -> None:
    a = analyse_spec("alexnet_cs231n")
    lines = rich_table(build_table(a, pick(None), Units()), a).plain.split("\n")
    header = next(x for x in lines if x.lstrip().startswith("Layer"))
    body = [x for x in lines if x.lstrip().startswith(("conv", "pool", "fc", "Total"))]
    assert len(body) == 12  # 5 conv, 3 pool, 3 fc, Total and len({len(x) for x in [header, *body]}) == 1
    end = header.index("MACs (M)") + len("MACs (M)")  # right-aligned: last digit under the header's end
    conv1 = next(x for x in body if x.lstrip().startswith("conv1"))
    assert conv1[end - 3:end] == "105" and conv1[end:].strip() == ""


def test_wide_characters_counted_by_cells() -> None:
    text = grid("", [Col("名前", ["畳み込み", "x"]), Col("n", ["1", "2"], right=True)], "").plain
    rows = [x for x in text.split("\n") if x.strip() and "━" not in x]
    from rich.cells import cell_len
    assert len({cell_len(x) for x in rows}) == 1


# ----------------------------------------------------------------------------- width, units, footer, tree




run = CliRunner().invoke


def _table(args: list[str], columns: int | None) -> str:
    env = {"COLUMNS": str(columns)} if columns else {"COLUMNS": ""}
    r = run(app, ["table", *args], env=env)
    assert r.exit_code == 0, r.stderr
    return r.stdout


def test_resnet50_in_80_columns_as_a_process() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    r = subprocess.run([sys.executable, "-m", "cnncalc", "table", "resnet50"], capture_output=True, text=True,
                       env=env, check=True)
    lines = r.stdout.splitlines()
    assert max(cell_len(x) for x in lines) <= 80
    total = next(x for x in lines if x.split()[:1] == ["Total"])
    # ResNet-50: 25,557,032 params (torchvision's count) → 25,557 k; the numbers stay whole
    assert "25,557" in total.split()
    assert "left out:" in r.stdout and "Total params: 25,557,032" in r.stdout


@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_zoo_table_fits_or_keeps_its_numbers(width: int) -> None:
    for name in zoo_names():
        out = _table([name], width)
        lines = out.splitlines()
        header = next(x for x in lines if x.lstrip().startswith("Layer"))
        assert all(k in header.split() for k in ("Layer", "Mem", "Params", "MACs")), name
        # only the layer, memory, params and MACs columns may make a line wider than the terminal
        widest_core = max(cell_len(x) for x in lines)
        if widest_core > width:
            assert set(header.split()) <= {"Layer", "Mem", "(KB)", "(B)", "Params", "(k)", "MACs", "(M)"}, name


def test_pipes_without_columns_keep_every_column() -> None:
    out = _table(["alexnet_cs231n"], None)
    assert "Filters" in out and "Kernel" in out and "left out" not in out


def test_columns_named_stay() -> None:
    out = _table(["resnet50", "--columns", "layer,c_in,hw_in,params_k"], 40)
    header = next(x for x in out.splitlines() if x.lstrip().startswith("Layer"))
    assert header.split() == ["Layer", "C_in", "H/W", "in", "Params", "(k)"]


def test_lenet5_shows_its_61706_params_and_no_zero_totals() -> None:
    # params by hand: conv1 (5·5·1+1)·6 = 156, conv2 (5·5·6+1)·16 = 2,416, fc1 (400+1)·120 = 48,120,
    # fc2 (120+1)·84 = 10,164, fc3 (84+1)·10 = 850; sum 61,706 (under 100 k: exact counts)
    # MACs: 5·5·1·6·28·28 = 117,600 + 5·5·6·16·10·10 = 240,000 + 400·120 + 120·84 + 84·10 = 416,520 → 417 k
    # memory: 15,002 output elements × 4 B = 60,008 B (under 100 KB: bytes)
    out = _table(["lenet5"], None)
    header = next(x for x in out.splitlines() if x.lstrip().startswith("Layer"))
    assert "Params " in header + " " and "Params (k)" not in header and "MACs (k)" in header and "Mem (B)" in header
    total = next(x for x in out.splitlines() if x.split()[:1] == ["Total"]).split()
    assert total[-3:] == ["60,008", "61,706", "417"]
    rows = {x.split()[0]: x.split() for x in out.splitlines() if x.split()[:1] and x.split()[0].startswith("fc")}
    assert rows["fc3"][-2:] == ["850", "1"]  # 840 MACs = 0.84 k → 1, not 0


@pytest.mark.parametrize("spec", ["lenet5", "alexnet_cs231n"])
@pytest.mark.parametrize("fmt", ["table", "markdown", "latex"])
def test_no_column_is_shown_twice(spec: str, fmt: str) -> None:
    """--exact adds Params, MACs, Mem (B); LeNet-5's fitted columns fall to those same exact counts
    (Mem (KB) → Mem (B), Params (k) → Params) and are then left out, not printed twice; AlexNet's
    keep KB / k / M beside the exact ones."""
    r = CliRunner().invoke(app, ["table", spec, "--exact", "-f", fmt])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "Layer" in x)
    heads = [h.strip(" \\&") for h in re.split(r"\s{2,}|\|| & ", line.strip()) if h.strip(" \\&")]
    assert len(heads) == len(set(heads)), heads
    assert {"Params", "MACs", "Mem (B)"} <= set(heads)
    assert ("Params (k)" in heads) is (spec == "alexnet_cs231n")


def test_footer_like_torchinfo_by_hand() -> None:
    out = _table(["lenet5"], None)
    # input 1·28·28·4 = 3,136 B; forward/backward 2 × 60,008 = 120,016 B; params 61,706 · 4 = 246,824 B;
    # total 369,976 B = 0.3528… MB (1024²) → 0.35; input 0.00299… MB → 0.003 (never 0.00)
    for line in ("Total params: 61,706", "Trainable params: 61,706", "Non-trainable params: 0",
                 "Total MACs: 416,520", "Input size (MB): 0.003", "Forward/backward pass size (MB): 0.11",
                 "Params size (MB): 0.24", "Estimated total size (MB): 0.35"):
        assert line in out.splitlines(), line


def test_footer_takes_a_non_trainable_count() -> None:
    from cnncalc.render import footer
    a = analyse_spec("lenet5")
    text = footer(a, Units(), non_trainable=850).plain
    assert "Trainable params: 60,856" in text and "Non-trainable params: 850" in text


def test_si_header_and_footer_agree() -> None:
    out = _table(["alexnet_cs231n", "--si"], None)
    assert "Mem (kB)" in out and "kB = 1000 bytes" in out and "KB" not in out.replace("kB", "")


_DIVISOR = {"Params (k)": 1000, "Params": 1, "MACs (M)": 10**6, "MACs (k)": 1000, "MACs": 1,
            "Mem (KB)": 1024, "Mem (B)": 1}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 10**10), min_size=1, max_size=8), st.sampled_from(["params_k", "macs_m", "memory_kb"]))
def test_no_nonzero_value_prints_as_zero(values: list[int], key: str) -> None:
    col = BY_KEY[key]
    data = fit_units(TableData("t", (col,), tuple((v,) for v in values), (sum(values),), Units()))
    head = data.headers()[0]
    div = _DIVISOR[head]
    for v, (text,) in zip([*values, sum(values)], data.text_rows()):
        shown = Decimal(text.replace(",", ""))
        assert (shown != 0) == (v != 0), (v, text, head)
        places = -shown.as_tuple().exponent if isinstance(shown.as_tuple().exponent, int) else 0
        assert abs(Fraction(str(shown)) - Fraction(v, div)) <= Fraction(1, 2 * 10**max(places, 0)), (v, text)
    # the unit: the largest whose divisor the largest cell fills 100 times (exact counts last)
    top = sum(values)
    assert div == 1 or top >= 100 * div


def test_tree_prefixes_by_hand() -> None:
    assert _tree_prefixes([0, 1, 2, 2, 1, 0, 1]) == ["", "├─ ", "│  ├─ ", "│  └─ ", "└─ ", "", "└─ "]
    assert _tree_prefixes([0, 1, 2, 1, 2]) == ["", "├─ ", "│  └─ ", "└─ ", "   └─ "]


def test_depth_draws_a_tree_with_block_headers() -> None:
    lines = [x.strip() for x in _table(["googlenet", "--depth", "1"], None).splitlines()]
    i = next(k for k, x in enumerate(lines) if x.split()[:1] == ["inception3a"])
    assert len(lines[i].split()) == 1  # a header row: the block's name, no numbers
    names = [lines[k].split()[1] for k in range(i + 1, i + 9)]
    # GoogLeNet's inception module: 1×1; 1×1 → 3×3; 1×1 → 5×5 (3×3 in torchvision); pool → 1×1; concat
    assert names == ["branch1", "branch2_reduce", "branch2", "branch3_reduce", "branch3", "branch4_pool",
                     "branch4", "concat"]
    assert [lines[k].split()[0] for k in range(i + 1, i + 9)] == ["├─"] * 7 + ["└─"]


def test_collapsed_rows_keep_a_kernel_and_stride_summary() -> None:
    text = run(app, ["table", "resnet50", "--depth", "0", "-f", "csv"]).stdout
    rows = {r["layer"]: r for r in csv.DictReader(io.StringIO(text))}
    # layer2_0: 1×1 (256→128), 3×3 stride 2 (56→28), 1×1 (128→512), downsample 1×1 stride 2
    assert (rows["layer2_0"]["kernel"], rows["layer2_0"]["stride"], rows["layer2_0"]["filters"]) == ("1,3", "2", "512")
    assert (rows["layer1_1"]["kernel"], rows["layer1_1"]["stride"], rows["layer1_1"]["pad"]) == ("1,3", "1", "")


def test_block_names_in_ranges_without_depth() -> None:
    d = json.loads(run(app, ["table", "resnet50", "--from", "layer2_0", "--to", "layer2_1", "-f", "json"]).stdout)
    assert d["layers"][0]["name"] == "layer2_0.conv1" and d["layers"][-1]["name"] == "layer2_1.relu3"
    # layer2_0: 256·128 + 9·128·128 + 128·512 + 256·512 weights, BN 2·(128+128+512+512) → 379,392;
    # layer2_1: 512·128 + 9·128·128 + 128·512 weights, BN 2·(128+128+512) → 280,064
    assert d["totals"]["params"] == 379_392 + 280_064


def test_compare_depth_names_blocks() -> None:
    r = run(app, ["compare", "resnet50", "googlenet", "--to", "layer2_3", "--to", "inception3b", "--depth", "0",
                  "-f", "csv"])
    assert r.exit_code == 0, r.stderr
    assert "conv1–layer2_3" in r.stdout and "conv1–inception3b" in r.stdout


def test_help_as_written() -> None:
    top = subprocess.run([sys.executable, "-m", "cnncalc", "--help"], capture_output=True, text=True).stdout
    assert "Bar charts (needs the [plot] extra)" in top  # not eaten as rich markup
    assert "[torch] extra" in run(app, ["calibrate", "--help"]).stdout
    for cmd in ("table", "compare", "plot", "cost", "check", "quiz"):
        text = run(app, [cmd, "--help"]).stdout
        assert "<bool>" not in text and "<list[str]>" not in text and "<str>" not in text, cmd


def test_list_columns_needs_no_spec() -> None:
    r = run(app, ["table", "--list-columns"])
    assert r.exit_code == 0 and r.stdout.split()[0] == "layer"
    assert run(app, ["table"]).exit_code == 2


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 10**15), st.sampled_from([1000, 1024, 10**6, 1024**2]), st.integers(0, 3))
def test_rounded_cells_round_half_up_like_decimal(value: int, scale: int, decimals: int) -> None:
    import decimal

    from cnncalc.columns import cell_text
    with decimal.localcontext() as ctx:
        ctx.prec = 60  # exact for these sizes
        want = (Decimal(value) / Decimal(scale)).quantize(Decimal(1).scaleb(-decimals), rounding=decimal.ROUND_HALF_UP)
    units = Units(kb=scale if scale in (1000, 1024) else 1024, decimals=decimals)
    col = BY_KEY["memory_kb"] if scale in (1000, 1024) else BY_KEY["macs_m"]
    if scale == 1024**2:
        col = replace(col, scale=lambda u: 1024**2)
    assert cell_text(col, value, units) == f"{want:,}"
    assert cell_text(col, value, units, grouping=False) == f"{want}"


def test_zoo_fits_without_cutting_names_or_numbers() -> None:
    from cnncalc import analyse_spec as an
    out = run(app, ["zoo"], env={"COLUMNS": "80"}).stdout
    assert max(cell_len(x) for x in out.splitlines()) <= 80
    rows = {x.split()[0]: x.split() for x in out.splitlines() if x.split() and x.split()[0] in zoo_names()}
    assert set(rows) == set(zoo_names())  # every name whole
    # AlexNet (the 2014 "one weird trick" variant): 61,100,840 params, as torchvision counts them
    assert "61,100,840" in rows["alexnet"] and f"{an('alexnet').totals.macs:,}" in rows["alexnet"]
    assert "…" not in out
