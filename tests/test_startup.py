"""Start-up: a command imports only what it needs (issue 17). A whole ``table X -f json`` process
is timed against the import floor by ``benchmarks/bench.py startup``; here, what it must not import."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Run one command in a fresh interpreter and print, at exit, the modules it imported.
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: sys.stderr.write('MODULES ' + repr(sorted(sys.modules)) + '\\n'))\n"
         "from cnncalc.cli import main\n"
         "sys.argv = ['cnncalc', *sys.argv[1:]]\n"
         "main()\n")


def _modules(*argv: str) -> tuple[set[str], str]:
    run = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
    line = next(ln for ln in run.stderr.splitlines() if ln.startswith("MODULES "))
    return set(ast.literal_eval(line[len("MODULES "):])), run.stdout


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_data_table_imports_no_renderer_no_sympy_no_conventions_no_cost(fmt: str) -> None:
    """`table resnet152 -f json|csv` prints plain data: rich (the terminal renderer), sympy (only
    --symbolic), the tool conventions (only --convention) and the cost machinery (only --device)
    stay unimported; the output is still the whole table."""
    mods, out = _modules("table", "resnet152", "-f", fmt)
    unwanted = {"rich.console", "sympy", "cnncalc.conventions", "cnncalc.cost.base", "cnncalc.compare",
                "cnncalc.layers.attention"}
    assert not unwanted & mods
    if fmt == "json":
        # ResNet-152 (He et al. 2016, torchvision): 60,192,808 parameters.
        assert json.loads(out)["totals"]["params"] == 60_192_808


def test_the_command_does_not_search_for_pydantic_plugins_unless_told_to() -> None:
    """The console script (and ``python -m cnncalc``) starts with PYDANTIC_DISABLE_PLUGINS set, so
    pydantic does not read every installed distribution's entry points when it builds its first
    validator (its plugin cache stays empty); a value the user set is kept."""
    probe = ("import atexit, os, sys\n"
             "atexit.register(lambda: sys.stderr.write('STATE %r %r\\n' % ("
             "os.environ.get('PYDANTIC_DISABLE_PLUGINS'), "
             "getattr(sys.modules.get('pydantic.plugin._loader'), '_plugins', 'absent'))))\n"
             "from cnncalc.__main__ import main\n"
             "sys.argv = ['cnncalc', 'table', 'lenet5', '-f', 'json']\n"
             "main()\n")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    for given, expected in ((None, "'__all__' None"), ("logfire", "'logfire' {}")):
        run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                             env=env if given is None else {**env, "PYDANTIC_DISABLE_PLUGINS": given})
        assert f"STATE {expected}" in run.stderr
        assert json.loads(run.stdout)["totals"]["params"] == 61_706  # LeNet-5 (torchvision.json)


def test_an_editable_install_compiles_the_package_once(tmp_path: Path) -> None:
    """hatch_build.py: an editable build writes each module's bytecode where Python looks for it
    (so a PYTHONDONTWRITEBYTECODE shell does not compile every module on every start); a regular
    wheel build leaves the tree alone (pip compiles what it installs)."""
    pytest.importorskip("hatchling")
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    hook_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook_module)
    (tmp_path / "cnncalc" / "layers").mkdir(parents=True)
    sources = [tmp_path / "cnncalc" / "a.py", tmp_path / "cnncalc" / "layers" / "b.py"]
    for src in sources:
        src.write_text("X = 1\n")
    hook = hook_module.CustomBuildHook(str(tmp_path), {}, None, None, str(tmp_path / "dist"), "wheel")
    hook.initialize("standard", {})
    assert not list(tmp_path.rglob("*.pyc"))
    hook.initialize("editable", {})
    assert all(Path(importlib.util.cache_from_source(str(src))).is_file() for src in sources)


def test_option_enums_are_the_same_classes_where_they_were() -> None:
    """The enums the CLI's options use live in small modules; the old import paths name the same classes."""
    from cnncalc import choices, conventions
    from cnncalc.cost import base, options
    assert conventions.ConventionName is choices.ConventionName
    assert (base.Mode, base.Optimizer, base.Amp, base.MemoryFormat) == \
        (options.Mode, options.Optimizer, options.Amp, options.MemoryFormat)


def test_importing_the_package_imports_nothing_else_and_every_public_name_resolves() -> None:
    """``import cnncalc`` (and so ``import cnncalc.errors``) loads no core module and not pydantic;
    each name of ``__all__`` is still there on first use, the very object of its module."""
    probe = "import sys, cnncalc; print(sorted(m for m in sys.modules if m.startswith(('cnncalc', 'pydantic'))))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert ast.literal_eval(run.stdout) == ["cnncalc"]
    import importlib

    import cnncalc
    homes = {"Analysis": "analysis", "DType": "analysis", "Graph": "graph", "Spec": "spec", "Position": "errors",
             "load_spec": "spec", "build_graph": "graph", "select": "analysis", "SpecError": "errors"}
    for name in cnncalc.__all__:
        assert getattr(cnncalc, name) is not None, name
    for name, module in homes.items():
        assert getattr(cnncalc, name) is getattr(importlib.import_module(f"cnncalc.{module}"), name)
    assert set(cnncalc.__all__) <= set(dir(cnncalc))


def test_an_expression_is_parsed_once_and_a_bad_one_is_refused_every_time() -> None:
    """A spec repeats its few expressions in every block instance (ResNet-152: 3 texts, 162 uses):
    each text is parsed once; a refused text is refused again, never remembered as a tree."""
    from fractions import Fraction

    from cnncalc import expr
    assert expr.parse("c * 4 + 1") is expr.parse("c * 4 + 1")
    assert expr.evaluate("c * 4 + 1", {"c": 16}) == Fraction(65)  # 16·4 + 1
    assert expr.evaluate("c * 4 + 1", {"c": 1}) == Fraction(5)  # the shared tree, other values: 1·4 + 1
    for _ in range(2):
        with pytest.raises(expr.ExprError, match="cannot parse"):
            expr.parse("c * ")
