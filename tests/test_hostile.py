"""Hostile, huge and malformed inputs through the real entry point: expected exit code, message, no traceback.

Each file in fixtures/hostile/ says in its first comment lines the command (``{file}`` is the file),
the exit code and substrings the diagnostics must hold. Inputs too large to keep in the repository
(an alias bomb, 1,000 nested blocks, a 50 MB file, /dev/zero) are generated. Every case runs as its
own process (``python -m cnncalc``) with a time limit; the children's peak memory is checked at the end.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc.cli import EXIT_INTERNAL, app
from cnncalc.errors import SpecError
from cnncalc.source import load_yaml

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
CASES = sorted(p.name for p in HOSTILE.glob("*.yaml"))
TIME_LIMIT_S = 60  # generous for a loaded machine; the corpus's bar is 10 s on a quiet one
RSS_LIMIT_KB = 1024 * 1024


def _header(path: Path) -> tuple[list[str], int, list[str]]:
    args: list[str] = []
    code = -1
    expects: list[str] = []
    for raw in path.read_bytes().split(b"\n"):
        line = raw.decode("utf-8", errors="replace")
        if not line.startswith("# "):
            break
        key, _, rest = line[2:].partition(" ")
        if key == "cnncalc":
            args = [a.replace("{file}", path.name) for a in shlex.split(rest)]
        elif key == "exit":
            code = int(rest)
        elif key == "expect:":
            expects.append(rest)
    return args, code, expects


#: Runs ``python -m cnncalc ARGS`` as its only child and reports that child's peak RSS on a last
#: stderr line: RUSAGE_CHILDREN of the test process would mix in every other test's subprocesses.
_MEASURED = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run([sys.executable, '-m', 'cnncalc', *sys.argv[1:]]).returncode\n"
    "sys.stderr.write(f'\\n@maxrss {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
    "sys.exit(code)\n"
)
PEAKS_KB: list[int] = []


def run_cli(args: list[str], cwd: Path, timeout: float = TIME_LIMIT_S) -> tuple[int, str, str, float]:
    """``python -m cnncalc ARGS`` in ``cwd``: exit code, stdout, stderr, seconds; its peak RSS is
    kept in PEAKS_KB."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("CNNCALC_DEBUG", None)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _MEASURED, *args], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, env=env, errors="replace")
    err, _, peak = p.stderr.rpartition("\n@maxrss ")
    if peak.strip().isdigit():
        PEAKS_KB.append(int(peak))
    else:
        err = p.stderr
    return p.returncode, p.stdout, err, time.perf_counter() - t


def _clean(code: int, out: str, err: str) -> None:
    assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
    assert code != EXIT_INTERNAL, err[-2000:]
    assert "internal error" not in err, err


@pytest.mark.parametrize("case", CASES)
def test_hostile_fixture(case: str, tmp_path: Path) -> None:
    src = HOSTILE / case
    work = tmp_path / case
    work.write_bytes(src.read_bytes())
    args, want, expects = _header(work)
    assert args and want >= 0, f"{case}: header needs '# cnncalc …' and '# exit N'"
    before = hashlib.sha256(work.read_bytes()).hexdigest()
    code, out, err, _ = run_cli(args, tmp_path)
    _clean(code, out, err)
    assert code == want, err
    for e in expects:
        assert e in err, f"{e!r} not in:\n{err}"
    if code == 2:
        assert out == ""
        # every diagnostic names its file and line:column, or says it has no position ("error: …")
        for line in err.splitlines():
            if "error:" in line and not line.startswith("error:"):
                assert line.startswith(f"{case}:"), line
                _, ln, col, _ = line.split(":", 3)
                assert int(ln) >= 1 and int(col) >= 1
    assert hashlib.sha256(work.read_bytes()).hexdigest() == before, "the input file was changed"


def _alias_bomb(levels: int = 150) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\nname: t\ninput: [3, 8, 8]\nlayers:\n  - {type: relu}\n"


def _nested_blocks(n: int = 1000) -> str:
    s = "name: t\ninput: [3, 8, 8]\nblocks:\n  b0:\n    layers:\n      - {type: relu}\n"
    s += "".join(f"  b{i}:\n    layers:\n      - {{type: b{i - 1}}}\n" for i in range(1, n))
    return s + f"layers:\n  - {{type: b{n - 1}}}\n"


def _long_names(depth: int = 18, width: int = 200) -> str:
    n = "b" * width
    s = f"name: t\ninput: [3, 8, 8]\nblocks:\n  {n}0:\n    layers:\n      - {{type: relu}}\n      - {{type: relu}}\n"
    s += "".join(f"  {n}{i}:\n    layers:\n      - {{type: {n}{i - 1}}}\n      - {{type: {n}{i - 1}}}\n"
                 for i in range(1, depth + 1))
    return s + f"layers:\n  - {{type: {n}{depth}}}\n"


GENERATED = {
    # name: (file text or None, args, exit code, expected substrings, seconds allowed)
    "bomb.yaml": (_alias_bomb(), ["table", "bomb.yaml"], 2, ["bomb.yaml:7:", "more than 2,000,000 values"], 10),
    "nested.yaml": (_nested_blocks(), ["table", "nested.yaml"], 2, ["blocks nested 51 deep"], 20),
    "names.yaml": (_long_names(), ["table", "names.yaml"], 2, ["1,000 characters"], 20),
    "repeat.yaml": ("name: t\ninput: [3, 8, 8]\nlayers:\n  - {type: relu, repeat: 1000000}\n",
                    ["table", "repeat.yaml"], 2, ["repeat.yaml:4:26: error: repeat 1,000,000 is absurd"], 20),
    "zero_spec": (None, ["table", "/dev/zero"], 2, ["larger than 16 MiB"], 20),
    "zero_device": ("name: t\ninput: [3, 8, 8]\nlayers:\n  - {type: relu}\n",
                    ["cost", "zero_device", "--device", "/dev/zero"], 2, ["larger than 16 MiB"], 20),
    "folder_spec": (None, ["table", "."], 2, ["no spec file"], 20),
    "zero_onnx": (None, ["import", "/dev/zero"], 2, ["/dev/zero is not a regular file"], 20),
    # 501 batches × 1,000 layers = 501,000 layer analyses: one over MAX_SWEEP_LAYERS, refused before any
    "sweep_work.yaml": ("name: t\ninput: [4]\nlayers:\n  - {type: relu, repeat: 1000}\n",
                        ["sweep", "sweep_work.yaml", "--batch", ",".join(map(str, range(1, 502)))], 2,
                        ["501 points × 1,000 layers (501,000 layer analyses) exceeds the limit of 500,000"], 20),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_hostile_input(name: str, tmp_path: Path) -> None:
    text, args, want, expects, seconds = GENERATED[name]
    if text is not None:
        (tmp_path / name).write_text(text)
    code, out, err, took = run_cli(args, tmp_path)
    _clean(code, out, err)
    assert code == want, err
    for e in expects:
        assert e in err, f"{e!r} not in:\n{err}"
    assert took < seconds * 3, f"{name}: {took:.1f} s"  # ×3: a loaded test machine


def test_huge_file_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:  # sparse: 50 MB that take no disk and would take seconds to parse
        f.truncate(50_000_000)
    code, out, err, _ = run_cli(["table", "big.yaml"], tmp_path)
    _clean(code, out, err)
    assert code == 2 and "50,000,000 bytes" in err and "16,777,216" in err


def test_stdout_on_a_full_disk(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "cnncalc", "table", "alexnet_cs231n"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=TIME_LIMIT_S)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["error: cannot write the output: No space left on device"]


def test_children_stayed_under_1_gb() -> None:
    # each case above ran as the only child of a wrapper that reported its peak RSS (KB on Linux)
    assert PEAKS_KB, "no case reported its peak memory"
    assert max(PEAKS_KB) < RSS_LIMIT_KB


# ------------------------------------------------------------------------------- the safety net


def test_internal_error_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import cnncalc.cli as cli

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("simulated bug\nsecond line")

    monkeypatch.setattr(cli, "load_analysis", boom)
    monkeypatch.setattr(sys, "argv", ["cnncalc", "table", "alexnet_cs231n"])
    monkeypatch.delenv("CNNCALC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "internal error: RuntimeError: simulated bug, please report (run with --debug for the traceback)"]
    monkeypatch.setattr(sys, "argv", ["cnncalc", "table", "alexnet_cs231n", "--debug"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: simulated bug" in err and err.rstrip().endswith("for the traceback)")


def test_usage_errors_keep_exit_2_through_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import cnncalc.cli as cli
    monkeypatch.setattr(sys, "argv", ["cnncalc", "table", "no_such_spec_anywhere"])
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 2
    assert "internal error" not in capsys.readouterr().err


# ------------------------------------------------------------------------------- property tests

VALID = """name: t
vars: {W: 32}
input: [3, W, W]
blocks:
  pair:
    args: {c: 8}
    layers:
      - {type: conv, filters: c, kernel: 3, pad: 1}
      - {type: relu}
layers:
  - {name: conv1, type: conv, filters: 8, kernel: 3, pad: 1}
  - {type: pair, c: 16, repeat: 2}
  - {type: maxpool, kernel: 2}
  - {type: flatten}
  - {type: fc, units: 10}
"""

_JUNK = st.sampled_from([
    "\t", "\x00", "\x07", "!!python/object:os.system ", "!foo ", "&a ", "*a", "*zz", "<<: ", "---\n", "[", "]",
    "{", "}", ": ", "- ", "'", '"', "#", "\n", "  ", "1e999", "9" * 5000, "-" * 300, "**", "2**99", "é", "\ufeff",
    "&a [*a]", "!!set ", "!!binary ", "? ", "|\n", ">\n", "%YAML 1.1\n", "W", "w", "-1", "0", "1e15", "repeat: 99999999",
])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 5))
        text = text[:i] + draw(_JUNK) + text[i + cut:]
    return text


def _diagnostics_positioned(err: str, file: str) -> None:
    for line in err.splitlines():
        if ": error:" in line:
            assert line.startswith(f"{file}:"), line
            _, ln, col, _ = line.split(":", 3)
            assert ln.isdigit() and col.isdigit(), line


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(text=mutated(), command=st.sampled_from([["table"], ["table", "-f", "json"], ["table", "--depth", "0"],
                                   ["compare", "spec.yaml"], ["template"], ["explain", "LAYER"]]))
@example(text="notes: !!python/name:os.system\n" + VALID, command=["table"])
@example(text="!!python/name:os.system : 1\n" + VALID, command=["table"])
@example(text=VALID.replace("filters: 8,", "filters: '1e999*1',"), command=["table"])
def test_mutated_specs_never_crash(text: str, command: list[str], tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("m")
    (d / "spec.yaml").write_text(text, encoding="utf-8")
    args = [command[0], "spec.yaml", *command[1:]]
    if args[-1] == "LAYER":
        args[-1] = "conv1"
    cwd = os.getcwd()
    os.chdir(d)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    _diagnostics_positioned(result.stderr, "spec.yaml")


_OPTIONS = st.sampled_from([
    "--batch", "-b", "--input", "--set", "-o", "--format", "-f", "--depth", "--from", "--to", "--columns",
    "--decimals", "--dtype", "--device", "--mode", "--top", "--convention", "--exact", "--bars", "--si",
])
_VALUES = st.sampled_from([
    "", "0", "-1", "1", "3,224,224", "1" + "0" * 30, "9" * 5000, "W=1", "w=2", "x", "out.xlsx", "json", "csv",
    "conv1", "fc", "h100", "/dev/zero", "nan", "inf", "1e999", "²", "３", "train", "fvcore", "é", "\t",
])


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(command=st.sampled_from(["table", "compare", "sweep", "explain", "template", "cost", "fit", "report"]),
       opts=st.lists(st.tuples(_OPTIONS, _VALUES), max_size=4))
def test_mutated_command_lines_never_crash(command: str, opts: list[tuple[str, str]],
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    d = tmp_path_factory.mktemp("c")
    (d / "spec.yaml").write_text(VALID)
    args = [command, "spec.yaml", *(["conv1"] if command == "explain" else []),
            *(["--device", "h100"] if command in ("cost", "fit") else [])]
    for opt, val in opts:
        args += [opt, val] if opt not in ("--exact", "--bars", "--si") else [opt]
    cwd = os.getcwd()
    os.chdir(d)
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.chdir(cwd)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), (args, result.stderr)
    assert "Traceback" not in result.stderr
    assert (d / "spec.yaml").read_text() == VALID


# ------------------------------------------------------------------------------- YAML loader units


def test_core_schema_scalars_as_safe_load_reads_them() -> None:
    text = "a: [010, 0x1f, 1_000, 1e3, 1.5e+3, .inf, yes, ~, '5', !!int '7', !!str 8, 2001-12-14, -0, +3]\n"
    doc = load_yaml(text, "f.yaml")
    # by hand, YAML 1.1 as safe_load reads it: 010 is octal 8, 1e3 (no dot) a string, 1.5e+3 a float
    # (the exponent needs its sign); dates stay strings (timestamps are not in the core schema)
    assert doc.data == {"a": [8, 31, 1000, "1e3", 1500.0, float("inf"), True, None, "5", 7, "8", "2001-12-14", 0, 3]}
    plain = yaml.safe_load(text.replace("2001-12-14", "'2001-12-14'"))
    assert doc.data == plain


def test_plain_keys_are_names_not_booleans() -> None:
    """YAML 1.1 reads a bare on/off/yes/no/y/n/true/false as a boolean (safe_load: {True: 1}); a
    mapping key is a name (a block argument, a variable), so it keeps its text. Values keep
    safe_load's reading (``bias: no`` is false)."""
    doc = load_yaml("on: 1\nOff: 2\nyes: 3\nno: no\ntrue: 5\n~: 6\n7: 7\n", "f.yaml")
    assert doc.data == {"on": 1, "Off": 2, "yes": 3, "no": False, "true": 5, "~": 6, 7: 7}
    assert doc.keys[("no",)] == ("f.yaml", 4, 1) and doc.values[("no",)] == ("f.yaml", 4, 5)


@pytest.mark.parametrize(("entry", "col", "boolean"), [
    ("{name: no, type: relu}", 12, "false"),
    ("{type: on}", 12, "true"),
    ("{type: relu, inputs: [yes]}", 26, "true"),
])
def test_a_name_yaml_read_as_a_boolean_says_quote_it(entry: str, col: int, boolean: str, tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: s\ninput: [4]\nlayers:\n  - {entry}\n")
    code, _, err, _ = run_cli(["table", str(spec)], tmp_path)
    assert code == 2 and f"s.yaml:4:{col}: error:" in err, err
    assert f"as the boolean {boolean}; quote a name" in err, err


@pytest.mark.parametrize("columns", ["²", "abc", "-5", "９０"])
def test_a_terminal_size_that_is_no_number(columns: str, tmp_path: Path) -> None:
    """COLUMNS / LINES as the environment gives them: '²' is a digit int() cannot read (rich's
    Console failed on it, and so did the safety net printing that); a size that is no number is
    ignored, fullwidth ９０ is 90."""
    env = {**os.environ, "COLUMNS": columns, "LINES": columns}
    for args in (["table", "lenet5"], ["table", "no_such_spec"]):
        p = subprocess.run([sys.executable, "-m", "cnncalc", *args], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=TIME_LIMIT_S)
        assert p.returncode == (0 if args[1] == "lenet5" else 2) and "Traceback" not in p.stderr, p.stderr
        if p.returncode == 0:
            assert "61,706" in p.stdout  # LeNet-5's parameters (torchvision.json)


def test_number_keys_of_a_block_instance_are_unknown_arguments(tmp_path: Path) -> None:
    """A number as a key (`{type: pair, 16: 3}`, or a stray line break leaving `16` alone in a flow
    mapping) is an argument the block does not take, named as written and positioned; it once
    reached the did-you-mean lookup as an int (internal error)."""
    spec = tmp_path / "s.yaml"
    spec.write_text("name: s\ninput: [3, 8, 8]\nblocks:\n  pair:\n    args: {c: 8}\n    layers:\n"
                    "      - {type: conv, filters: c, kernel: 3}\nlayers:\n  - {type: pair, 16: 3, 1.5: 1}\n"
                    "  - {type: pair,\n16, c: 4}\n")
    code, _, err, _ = run_cli(["table", str(spec)], tmp_path)
    assert code == 2, err
    assert "s.yaml:9:18: error: block 'pair' has no argument '16' (it takes: c)" in err, err
    assert "s.yaml:9:25: error: block 'pair' has no argument '1.5' (it takes: c)" in err, err
    assert "s.yaml:11:1: error: block 'pair' has no argument '16' (it takes: c)" in err, err


@pytest.mark.parametrize(("text", "where", "what"), [
    ("!!python/name:os.system : 1\n", "f.yaml:1:1", "YAML tag '!!python/name:os.system'"),
    ("--- !!python/object:os.system\na: 1\n", "f.yaml:1:5", "YAML tag '!!python/object:os.system'"),
    ("a: !!python/object/apply:os.system [ls]\n", "f.yaml:1:4", "YAML tag '!!python/object/apply:os.system'"),
    ("a: !!timestamp 2001-12-14\n", "f.yaml:1:4", "YAML tag '!!timestamp'"),
    ("a: !!seq {b: 1}\n", "f.yaml:1:4", "YAML tag '!!seq'"),
    ("a: &x 1\nb: &x 2\n", "f.yaml:2:4", "duplicate anchor '&x' (first at line 1)"),
    ("a: *x\n", "f.yaml:1:4", "unknown alias '*x'"),
    ("a: &x [1, *x]\n", "f.yaml:1:11", "recursive YAML alias '*x'"),
    ("a:\n\t- 1\n", "f.yaml:2:1", "tab character"),
    ("a: 1\x00\n", "f.yaml:1:5", "character U+0000"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2:1", "a second YAML document"),
    ("? [1]\n: 2\n", "f.yaml:1:3", "mapping keys must be plain scalars"),
    ("a: &k [1]\n*k : 2\n", "f.yaml:2:1", "mapping keys must be plain scalars"),
])
def test_loader_refusals_are_positioned(text: str, where: str, what: str) -> None:
    with pytest.raises(SpecError) as e:
        load_yaml(text, "f.yaml")
    assert any(str(d).startswith(f"{where}: error: {what}") for d in e.value.diagnostics), str(e.value)


def test_alias_bomb_refused_fast_and_small() -> None:
    text = _alias_bomb(150)
    t = time.process_time()
    with pytest.raises(SpecError, match="more than 2,000,000 values"):
        load_yaml(text, "bomb.yaml")
    assert time.process_time() - t < 1.0


def test_an_alias_is_positioned_at_the_alias() -> None:
    doc = load_yaml("a: &x {b: 1}\nc: *x\n", "f.yaml")
    assert doc.data == {"a": {"b": 1}, "c": {"b": 1}}
    assert doc.where(("c", "b")) == ("f.yaml", 2, 4)  # the alias, not the anchor at 1:4


def test_nesting_limit() -> None:
    from cnncalc.limits import MAX_YAML_DEPTH
    load_yaml("a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n", "f.yaml")
    with pytest.raises(SpecError, match=f"nested deeper than {MAX_YAML_DEPTH} levels"):
        load_yaml("a: " + "[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH + "\n", "f.yaml")


def test_output_to_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    # -o /dev/null or a FIFO: written into, never replaced by a regular file (a rename would)
    import stat
    import threading

    from cnncalc.export import write_atomic
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, "hello\n")
    reader.join(timeout=10)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
