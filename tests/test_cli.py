"""The command line: formats, exit codes, stdout/stderr separation, atomic exports."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc import analyse_spec, zoo_names
from cnncalc.cli import app

run = CliRunner().invoke

WARN_SPEC = """name: warns
input: [3, 56, 56]
layers:
  - {name: pool, type: maxpool, kernel: 3, stride: 2}
"""


def test_table_prints_the_seed_columns() -> None:
    r = run(app, ["table", "alexnet_cs231n"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    for text in ("Mem (KB)", "Params (k)", "MACs (M)", "1,134", "37,753", "62,378", "Total"):
        assert text in r.stdout


def test_csv_is_clean_data_and_warnings_go_to_stderr(tmp_path: Path) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text(WARN_SPEC)
    r = run(app, ["table", str(spec), "--format", "csv"])
    assert r.exit_code == 0
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0][:3] == ["layer", "c_in", "hw_in"]
    assert rows[1][0] == "pool" and rows[-1][0] == "Total"
    assert "w.yaml:4:5: warning: pool: (56 − 3 + 2·0)/2 + 1 = 27.5 is not whole" in r.stderr
    assert "ceil_mode" in r.stderr


def test_csv_values_are_the_rounded_seed_cells() -> None:
    r = run(app, ["table", "alexnet_cs231n", "-f", "csv"])
    rows = {row["layer"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["conv1"]["memory_kb"] == "1134" and rows["conv4"]["params_k"] == "1327"
    assert rows["Total"]["params_k"] == "62378"


def test_markdown_is_a_pipe_table() -> None:
    r = run(app, ["table", "googlenet_stem", "-f", "markdown"])
    lines = r.stdout.splitlines()
    assert lines[0].startswith("| Layer |") and set(lines[1]) <= set("|-: ")
    assert lines[-1].startswith("| **Total** |")
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_json_contract() -> None:
    r = run(app, ["table", "alexnet_cs231n", "-f", "json", "--batch", "4", "--dtype", "fp16"])
    d = json.loads(r.stdout)
    assert {"model", "input", "batch", "dtype", "layers", "totals"} <= set(d)
    assert (d["model"], d["input"], d["batch"], d["dtype"]) == ("alexnet_cs231n", [3, 227, 227], 4, "fp16")
    conv1 = d["layers"][0]
    assert {"name", "type", "inputs", "output", "params", "buffers", "macs", "ops", "activation_bytes",
            "receptive_field", "jump"} <= set(conv1)
    assert conv1["inputs"] == [[3, 227, 227]] and conv1["output"] == [96, 55, 55]
    assert conv1["params"] == 34_944  # not batch-scaled
    assert conv1["macs"] == 4 * 105_415_200  # batch-scaled
    assert conv1["activation_bytes"] == 4 * 96 * 55 * 55 * 2
    assert conv1["receptive_field"] == [11, 11] and conv1["jump"] == [4, 4]
    assert d["totals"]["params"] == 62_378_344
    assert d["totals"]["macs"] == sum(x["macs"] for x in d["layers"])


def test_flops_and_si_switches() -> None:
    r = run(app, ["table", "alexnet_cs231n", "-f", "csv", "--flops", "--si"])
    rows = {row["layer"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert rows["conv1"]["macs_m"] == "211"  # 2 × 105.4152 M = 210.83
    assert rows["conv1"]["memory_kb"] == "1162"  # 1,161,600 B / 1000
    r = run(app, ["table", "alexnet_cs231n", "--flops", "--si"])
    assert "FLOPs (M)" in r.stdout and "Mem (kB)" in r.stdout


def test_from_to_totals_only_the_range() -> None:
    r = run(app, ["table", "alexnet_cs231n", "-f", "json", "--from", "conv3", "--to", "conv5"])
    d = json.loads(r.stdout)
    assert [x["name"] for x in d["layers"]] == ["conv3", "conv4", "conv5"]
    assert d["totals"]["params"] == 885_120 + 1_327_488 + 884_992
    r = run(app, ["table", "alexnet_cs231n", "--from", "conv9"])
    assert r.exit_code == 2 and "no layer named 'conv9'" in r.stderr and r.stdout == ""


def test_exact_and_chosen_columns() -> None:
    r = run(app, ["table", "alexnet_cs231n", "-f", "csv", "--columns", "layer,output_shape,receptive_field", "--exact"])
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == ["layer", "output_shape", "receptive_field", "params", "macs", "memory_bytes"]
    assert rows[0]["output_shape"] == "96×55×55" and rows[0]["params"] == "34944"
    assert rows[7]["receptive_field"] == "195"  # pool5 of AlexNet sees 195×195 pixels
    r = run(app, ["table", "alexnet_cs231n", "--columns", "layer,parms"])
    assert r.exit_code == 2 and "did you mean 'params'" in r.stderr


def test_input_override_and_set() -> None:
    r = run(app, ["table", "vgg16", "-f", "json", "--input", "3,32,32"])
    assert json.loads(r.stdout)["layers"][-3]["inputs"] == [[4096]]
    r = run(app, ["table", "vgg16", "--input", "3,a,32"])
    assert r.exit_code == 2 and "comma-separated" in r.stderr
    r = run(app, ["table", "vgg16", "--set", "X"])
    assert r.exit_code == 2 and "NAME=VALUE" in r.stderr


def test_output_file_written_atomically(tmp_path: Path) -> None:
    out = tmp_path / "alex.csv"
    r = run(app, ["table", "alexnet_cs231n", "-o", str(out)])
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().startswith("layer,c_in")  # format taken from the suffix
    assert [p.name for p in tmp_path.iterdir()] == ["alex.csv"]


def test_failed_export_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "keep.json"
    out.write_text("precious")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    r = run(app, ["table", "alexnet_cs231n", "-o", str(out)])
    assert r.exit_code == 2 and "No space left on device" in r.stderr
    assert out.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_spec_error_does_not_touch_the_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninput: [3, 8, 8]\nlayers:\n  - {type: nope}\n")
    out = tmp_path / "out.csv"
    out.write_text("old")
    r = run(app, ["table", str(bad), "-o", str(out)])
    assert r.exit_code == 2 and out.read_text() == "old"


def test_unknown_spec_name_suggests() -> None:
    r = run(app, ["table", "alexnet_cs231"])
    assert r.exit_code == 2 and "did you mean 'alexnet_cs231n'" in r.stderr


def test_depth_collapses_blocks(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text("""name: b
input: [8, 8, 8]
blocks:
  pair:
    layers:
      - {type: conv, filters: 8, kernel: 3, pad: 1}
      - {type: relu}
layers:
  - {name: p, type: pair, repeat: 2}
""")
    d = json.loads(run(app, ["table", str(spec), "-f", "json", "--depth", "0"]).stdout)
    assert [x["name"] for x in d["layers"]] == ["p_1", "p_2"]
    assert d["layers"][0]["layers"] == 2 and d["layers"][0]["params"] == 8 * 8 * 9 + 8


def test_schema_is_json_schema_with_every_kind() -> None:
    r = run(app, ["schema"])
    s = json.loads(r.stdout)
    rules = s["$defs"]["Layer"]["allOf"]
    kinds = {k for rule in rules for k in rule["if"]["properties"]["type"]["enum"]}
    assert {"conv", "maxpool", "fc", "concat", "conv2d", "linear"} <= kinds
    conv = next(r["then"] for r in rules if "conv" in r["if"]["properties"]["type"]["enum"])
    assert {"type": "string", "description": "expression"} in conv["properties"]["filters"]["anyOf"]
    assert "filters" in conv["required"]


def test_python_dash_m_and_version() -> None:
    p = subprocess.run([sys.executable, "-m", "cnncalc", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("cnncalc ")


def _main(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"})


def test_entry_point_builds_one_command_same_as_the_whole_app() -> None:
    """main() builds only the command named (start-up time); what it prints is what the full app prints."""
    whole = CliRunner().invoke(app, ["table", "alexnet_cs231n", "-f", "csv"])
    assert _main("table", "alexnet_cs231n", "-f", "csv").stdout == whole.stdout
    assert "cnncalc table [OPTIONS]" in _main("table", "--help").stdout
    listing = _main("--help").stdout
    assert all(c in listing for c in ("table", "compare", "check", "cost", "import"))
    typo = _main("tabel", "alexnet_cs231n")
    assert typo.returncode == 2 and "Did you mean 'table'?" in typo.stderr


@pytest.mark.parametrize("name", zoo_names())
def test_every_total_is_the_sum_of_its_column(name: str) -> None:
    a = analyse_spec(name)
    t = a.totals
    assert t.params == sum(r.params for r in a.rows) == t.weights + t.bias
    assert t.macs == sum(r.macs for r in a.rows)
    assert t.ops == sum(r.ops for r in a.rows)
    assert t.buffers == sum(r.buffers for r in a.rows)
    assert t.activation_bytes == sum(r.activation_bytes for r in a.rows)


def test_names_with_brackets_print_as_written(tmp_path: Path) -> None:
    """Terminal cells are never parsed as rich markup: '[bold]' and 'conv[1]' stay text."""
    spec = tmp_path / "b.yaml"
    spec.write_text("name: '[bold]net'\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, name: 'conv[1]', filters: 4, kernel: 3}\n")
    r = CliRunner().invoke(app, ["table", str(spec)])
    assert r.exit_code == 0, r.output
    assert "conv[1]" in r.stdout and "[bold]net" in r.stdout
    for args in (["compare", str(spec), str(spec)], ["cost", str(spec), "--device", "h100"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        assert "[bold]net" in r.stdout or "conv[1]" in r.stdout, args
    out = tmp_path / "t.txt"
    r = CliRunner().invoke(app, ["table", str(spec), "-o", str(out), "-f", "table"])
    assert r.exit_code == 0, r.output
    assert "conv[1]" in out.read_text()
