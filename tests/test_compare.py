"""compare and sweep: totals side by side, ratios, layer ranges, exports; golden values by hand."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest
from reference_data import reference
from typer.testing import CliRunner

from cnncalc import analyse_spec
from cnncalc.cli import app
from cnncalc.compare import fmt_ratio, parse_sizes, per_model, ratio, summarise
from cnncalc.errors import UsageError
from cnncalc.layers import Family


def conv(k: int, cin: int, cout: int, hw: int) -> tuple[int, int]:
    """(params, MACs) of a square conv with bias: (K²·C_in + 1)·C_out and K²·C_in·C_out·H'·W'."""
    return (k * k * cin + 1) * cout, k * k * cin * cout * hw * hw


# GoogLeNet stem, 224 → 28 (conv1 7×7/2, pool, conv2 1×1, conv3 3×3, pool), by hand.
STEM_CONVS = [conv(7, 3, 64, 112), conv(1, 64, 64, 56), conv(3, 64, 192, 56)]
STEM_PARAMS = sum(p for p, _ in STEM_CONVS)  # 9,472 + 4,160 + 110,784
STEM_MACS = sum(m for _, m in STEM_CONVS)
STEM_BYTES = 4 * (64 * 112**2 + 64 * 56**2 + 64 * 56**2 + 192 * 56**2 + 192 * 28**2)

# VGG-16 from 224 to 28: conv1_1 … pool3 (seven 3×3 convs, three 2×2 pools).
VGG_CONVS = [conv(3, 3, 64, 224), conv(3, 64, 64, 224), conv(3, 64, 128, 112), conv(3, 128, 128, 112),
             conv(3, 128, 256, 56), conv(3, 256, 256, 56), conv(3, 256, 256, 56)]
VGG_PARAMS = sum(p for p, _ in VGG_CONVS)
VGG_MACS = sum(m for _, m in VGG_CONVS)
VGG_BYTES = 4 * (2 * 64 * 224**2 + 64 * 112**2 + 2 * 128 * 112**2 + 128 * 56**2 + 3 * 256 * 56**2 + 256 * 28**2)


def test_hand_values_are_what_the_seed_tables_print() -> None:
    # the seed's stem totals: 124K params, 7.5 MB; VGG-16's 138 M params overall
    assert STEM_PARAMS == 124_416
    assert round(STEM_BYTES / 2**20, 1) == 7.5


def test_stem_and_vgg_ranges_match_hand_totals() -> None:
    stem = summarise(analyse_spec("googlenet_stem"))
    vgg = summarise(analyse_spec("vgg16"), None, "pool3")
    assert (stem.params, stem.macs, stem.activation_bytes) == (STEM_PARAMS, STEM_MACS, STEM_BYTES)
    assert (vgg.params, vgg.macs, vgg.activation_bytes) == (VGG_PARAMS, VGG_MACS, VGG_BYTES)
    assert (vgg.start, vgg.end, vgg.depth, vgg.layers) == ("conv1_1", "pool3", 7, 10)
    # receptive fields: r' = r + (K−1)·j, j' = j·S
    assert stem.rf == (27, 27)   # 7 → 7+2·2=11 → 11 → 11+2·4=19 → 19+2·4=27
    assert vgg.rf == (44, 44)    # 3,5,6 | 10,14,16 | 24,32,40,44


def test_seed_comparison_corrected() -> None:
    """The notes print 'Compare VGG-16: Memory 42.9 MB (5.7x), Params 1.1M (8.9x), MFLOP 7485 (17.8x)'.

    Errata: those VGG figures are the first six convs only (conv1_1 … conv3_2, no pools, conv3_3
    missing), and the stem's MFLOP is printed 418 where its convs sum to 477.7 M MACs. With the
    whole range 224 → 28 of both (through pool3 / pool2) the ratios are 6.9×, 13.9× and 19.5×.
    """
    assert fmt_ratio(ratio(VGG_BYTES, STEM_BYTES)) == "6.9×"     # 53,788,672 / 7,827,456 = 6.87
    assert fmt_ratio(ratio(VGG_PARAMS, STEM_PARAMS)) == "13.9×"  # 1,735,488 / 124,416 = 13.95
    assert fmt_ratio(ratio(VGG_MACS, STEM_MACS)) == "19.5×"      # 9,335,144,448 / 477,675,520 = 19.54
    result = CliRunner().invoke(app, ["compare", "googlenet_stem", "vgg16", "--to", "pool2", "--to", "pool3",
                                      "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["model"] for r in rows] == ["googlenet_stem", "vgg16"]
    assert rows[1]["range"] == "conv1_1–pool3"
    assert (rows[1]["params_x"], rows[1]["macs_x"], rows[1]["memory_x"]) == ("13.9×", "19.5×", "6.9×")
    assert (rows[0]["params_x"], rows[0]["macs_x"], rows[0]["memory_x"]) == ("1.0×", "1.0×", "1.0×")
    assert rows[1]["params"] == str(VGG_PARAMS)


def test_seed_vgg_figures_are_six_convs_without_pools() -> None:
    """Where the seed's 42.9 MB / 1.1M / 7485 come from: conv1_1 … conv3_2 only."""
    rows = [r for r in analyse_spec("vgg16").rows if r.family is Family.CONV][:6]
    assert [r.name for r in rows][-1] == "conv3_2"
    assert sum(r.activation_bytes for r in rows) == 4 * (2 * 64 * 224**2 + 2 * 128 * 112**2 + 2 * 256 * 56**2)
    assert round(sum(r.activation_bytes for r in rows) / 2**20, 1) == 42.9
    assert sum(r.params for r in rows) == sum(p for p, _ in VGG_CONVS[:6]) == 1_145_408
    assert round(sum(r.macs for r in rows) / 1e6) == 7485
    # and even with the seed's own figures, 7485 / 418 is 17.9, not 17.8
    assert fmt_ratio(Fraction(7485, 418)) == "17.9×"


def test_compare_json_is_exact() -> None:
    result = CliRunner().invoke(app, ["compare", "alexnet_cs231n", "vgg16", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "compare"
    a, v = data["rows"]
    assert a["params"] == 62_378_344 and v["params"] == 138_357_544
    assert a["depth"] == 8 and v["depth"] == 16
    assert v["ratios"]["params"] == 138_357_544 / 62_378_344
    assert a["ratios"] == {"params": 1.0, "macs": 1.0, "activation_bytes": 1.0}
    assert v["flops"] == 2 * v["macs"]


@pytest.mark.parametrize(("fmt", "marker"), [("markdown", "| Model |"), ("latex", r"\toprule"),
                                              ("table", "alexnet_cs231n")])
def test_compare_formats(fmt: str, marker: str) -> None:
    result = CliRunner().invoke(app, ["compare", "alexnet_cs231n", "googlenet_stem", "-f", fmt])
    assert result.exit_code == 0, result.stderr
    assert marker in result.stdout
    assert "Total" not in result.stdout  # no totals row in a comparison


def test_compare_written_atomically_by_suffix(tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "cmp.tex"  # type: ignore[operator]
    result = CliRunner().invoke(app, ["compare", "alexnet_cs231n", "vgg16", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    text = out.read_text()
    assert text.count(r"\midrule") == 1 and r"\bottomrule" in text and "alexnet\\_cs231n" in text


def test_fmt_ratio_small_and_undefined() -> None:
    assert fmt_ratio(Fraction(124_416, 62_378_344)) == "0.0020×"  # two significant digits below 1
    assert fmt_ratio(Fraction(1, 2)) == "0.50×"
    assert fmt_ratio(ratio(5, 0)) == "—"
    assert fmt_ratio(Fraction(1145, 100)) == "11.5×"  # half up, not to even


def test_bad_ranges_are_usage_errors() -> None:
    r = CliRunner().invoke(app, ["compare", "alexnet_cs231n", "vgg16", "--to", "a", "--to", "b", "--to", "c"])
    assert r.exit_code == 2 and "given 3 times for 2 models" in r.stderr and "Traceback" not in r.stderr
    r = CliRunner().invoke(app, ["compare", "alexnet_cs231n", "vgg16", "--to", "pool5", "--to", "pool33"])
    assert r.exit_code == 2 and "no layer named 'pool33'" in r.stderr
    assert per_model(["-", "pool3"], 2, "--to") == [None, "pool3"]
    with pytest.raises(UsageError):
        per_model(["a", "b"], 3, "--to")


def test_sweep_grows_as_by_hand() -> None:
    result = CliRunner().invoke(app, ["sweep", "alexnet_cs231n", "--batch", "1,8", "--input", "227,259",
                                      "--dtype", "fp32,fp16", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert [(r["input"][1], r["batch"], r["dtype"]) for r in rows] == [
        (227, 1, "fp32"), (227, 1, "fp16"), (227, 8, "fp32"), (227, 8, "fp16"),
        (259, 1, "fp32"), (259, 1, "fp16"), (259, 8, "fp32"), (259, 8, "fp16")]
    base = rows[0]
    assert base["params"] == 62_378_344
    assert rows[2]["macs"] == 8 * base["macs"] and rows[2]["ratios"]["macs"] == 8.0
    assert rows[1]["activation_bytes"] * 2 == base["activation_bytes"]
    # 259: conv1 (259−11)/4+1 = 63, pool 31, conv2 31, pool 15, conv3-5 15, pool5 7 → fc6 sees 256·7·7
    assert rows[4]["params"] == 62_378_344 + (256 * 7 * 7 - 256 * 6 * 6) * 4096
    assert all(r["params"] == rows[4]["params"] for r in rows[4:])


def test_sweep_table_and_sizes() -> None:
    result = CliRunner().invoke(app, ["sweep", "googlenet_stem", "--batch", "1,64", "-f", "markdown"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and "64.0×" in lines[-1]
    assert parse_sizes("224, 300x200, 1x32x32", (3, 224, 224)) == [(3, 224, 224), (3, 300, 200), (1, 32, 32)]
    assert parse_sizes("784", (784,)) == [(784,)]
    for bad in ("0", "a", "1x2x3x4"):
        with pytest.raises(UsageError):
            parse_sizes(bad, (3, 224, 224))
    r = CliRunner().invoke(app, ["sweep", "alexnet_cs231n", "--batch", "1,x"])
    assert r.exit_code == 2 and "--batch" in r.stderr
    r = CliRunner().invoke(app, ["sweep", "alexnet_cs231n", "--dtype", "fp8"])
    assert r.exit_code == 2 and "--dtype" in r.stderr


def test_depth_counts_the_layers_inside_collapsed_blocks() -> None:
    from cnncalc import collapse
    from cnncalc.compare import depth_of
    a = analyse_spec("googlenet")
    assert depth_of(a.rows) == 58  # 57 convs + 1 fc: 3 stem convs, 9 inception modules × 6, the classifier
    assert depth_of(collapse(list(a.rows), 0)) == 58


# --device: the cost model's columns, checked against `cnncalc cost` and against the H100 measurements.

def _json(*args: str) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, [*args, "-f", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_compare_device_columns_are_the_cost_models_prediction() -> None:
    rows = _json("compare", "alexnet", "vgg16", "--device", "h100", "--batch", "32", "--mode", "train")["rows"]
    for row in rows:
        cost = _json("cost", row["model"], "--device", "h100", "--batch", "32", "--mode", "train")
        assert row["device_peak_bytes"] == cost["peak_memory_bytes"]
        assert row["time_ms"] == pytest.approx(cost["time_ms"], rel=1e-12)
        assert row["throughput"] == pytest.approx(32 / (cost["time_ms"] / 1000), rel=1e-12)
    assert rows[1]["ratios"]["device_peak_bytes"] == pytest.approx(
        rows[1]["device_peak_bytes"] / rows[0]["device_peak_bytes"], rel=1e-12)
    assert rows[1]["ratios"]["time_ms"] == pytest.approx(rows[1]["time_ms"] / rows[0]["time_ms"], rel=1e-12)


def test_compare_device_peak_ratio_tracks_the_h100_measurement() -> None:
    """VGG-16 vs AlexNet, inference fp32 batch 32 on an H100: PyTorch measured 2,285,564,416 vs
    386,101,248 bytes (../shared/reference/h100-calibration.json); the predicted ratio within 10 %."""
    ref = reference("h100-calibration")["models"]
    measured = {m: ref[m]["memory"]["infer_float32_bs32"]["peak_allocated"] for m in ("alexnet", "vgg16")}
    rows = _json("compare", "alexnet", "vgg16", "--device", "h100", "--batch", "32")["rows"]
    for row in rows:
        assert row["device_peak_bytes"] == pytest.approx(measured[row["model"]], rel=0.10)
    assert rows[1]["ratios"]["device_peak_bytes"] == pytest.approx(measured["vgg16"] / measured["alexnet"], rel=0.10)


def test_sweep_device_columns_per_setting() -> None:
    data = _json("sweep", "resnet18", "--batch", "1,8", "--dtype", "fp32,fp16", "--device", "h100")
    assert "h100" in data["conventions"]["cost"] and "infer" in data["conventions"]["cost"]
    for row in data["rows"]:
        cost = _json("cost", "resnet18", "--device", "h100", "--batch", str(row["batch"]), "--dtype", row["dtype"])
        assert row["device_peak_bytes"] == cost["peak_memory_bytes"]
        assert row["time_ms"] == pytest.approx(cost["time_ms"], rel=1e-12)
    fp32_b8, fp16_b8 = data["rows"][2], data["rows"][3]
    assert fp16_b8["device_peak_bytes"] < fp32_b8["device_peak_bytes"]  # half the bytes per element


def test_device_table_caption_and_headers() -> None:
    r = CliRunner().invoke(app, ["compare", "alexnet", "vgg16", "--device", "h100"])
    assert r.exit_code == 0, r.output
    assert "Peak h100 (MB)" in r.stdout and "Time (ms)" in r.stdout and "Samples/s" in r.stdout
    assert "'roofline' cost model, h100, infer" in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["compare", "alexnet", "vgg16", "--device", "h100", "--to", "fc6"], "--device predicts whole networks"),
    (["sweep", "alexnet", "--dtype", "int8", "--device", "h100"], "fp32, fp16 or bf16, not int8"),
    (["compare", "alexnet", "vgg16", "--device", "a100"], "did you mean"),
])
def test_device_usage_errors(args: list[str], message: str) -> None:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert message in r.output
