"""cnncalc plot: PNG/SVG by suffix, atomic writes, and a clear message without matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app


def test_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    r = CliRunner().invoke(app, ["plot", "alexnet_cs231n", "-o", str(tmp_path / "a.png")])
    assert r.exit_code == 2
    assert 'pip install "cnncalc[plot]"' in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix_is_a_usage_error(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plot", "alexnet_cs231n", "-o", str(tmp_path / "a.gif")])
    assert r.exit_code == 2 and ".png, .svg, .pdf" in r.stderr


def test_png_per_layer(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "alexnet.png"
    r = CliRunner().invoke(app, ["plot", "alexnet_cs231n", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1200 and height > 500  # three readable panels
    assert [p.name for p in tmp_path.iterdir()] == ["alexnet.png"]  # no temporary left behind


def test_svg_keeps_text_and_numbers(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "alexnet.svg"
    r = CliRunner().invoke(app, ["plot", "alexnet_cs231n", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for label in ("conv1", "fc8", "Activation memory (KB)", "Parameters (k)", "MACs (M)",
                  "62,378,344 params", "37,753"):  # fc6 holds 9216·4096 + 4096 = 37,752,832 params
        assert label in svg, label


def test_compare_chart_shows_ratios(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "cmp.svg"
    r = CliRunner().invoke(app, ["plot", "googlenet_stem", "vgg16", "--to", "pool2", "--to", "pool3",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    svg = out.read_text()
    for label in ("13.9×", "19.5×", "6.9×", "vgg16 [conv1_1–pool3]"):  # see test_compare's hand values
        assert label in svg, label


def test_same_input_same_bytes(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    for p in (a, b):
        assert CliRunner().invoke(app, ["plot", "googlenet_stem", "-o", str(p)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


def _boxes_overlap(a: object, b: object) -> bool:
    return bool(a.overlaps(b))  # type: ignore[attr-defined]


def test_compare_labels_do_not_overlap() -> None:
    pytest.importorskip("matplotlib")
    from cnncalc import analyse_spec
    from cnncalc.columns import Units
    from cnncalc.compare import summarise
    from cnncalc.plot import _RC, _pyplot, compare_axes
    plt = _pyplot()
    sums = [summarise(analyse_spec("googlenet_stem"), None, "pool2"), summarise(analyse_spec("vgg16"), None, "pool3")]
    with plt.rc_context(_RC):
        fig = compare_axes(plt, sums, Units())
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        for ax in fig.axes:
            boxes = [t.get_window_extent(r) for t in ax.get_xticklabels()]
            assert len(boxes) == 2 and not _boxes_overlap(boxes[0], boxes[1])
        plt.close(fig)


@pytest.mark.parametrize(("spec", "depth"), [("alexnet_cs231n", None), ("resnet50", None), ("resnet50", 0)])
def test_layers_title_clear_of_panels_and_no_blank_bands(spec: str, depth: int | None) -> None:
    pytest.importorskip("matplotlib")
    from cnncalc import analyse_spec
    from cnncalc.columns import Units
    from cnncalc.plot import _RC, FAMILY_COLOURS, _pyplot, layers_axes
    plt = _pyplot()
    a = analyse_spec(spec).view(depth)
    with plt.rc_context(_RC):
        fig = layers_axes(plt, a, Units())
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(r)
        for ax in fig.axes:
            assert title.y0 > ax.title.get_window_extent(r).y1  # the title above the panel headers
            lo, hi = ax.get_ylim()
            assert (lo, hi) == (len(a.rows) - 0.5, -0.5)  # bars from the first row to the last, no margin
        # one bar height per row: the axes are as tall as their rows, whatever the count
        px_per_row = fig.axes[0].get_window_extent(r).height / len(a.rows)
        assert 0.25 * fig.dpi <= px_per_row <= 0.27 * fig.dpi
        legend = {t.get_text() for t in fig.legends[0].get_texts()}
        plt.close(fig)
    if depth == 0:
        assert "block" in legend and FAMILY_COLOURS["block"] != FAMILY_COLOURS["reshape"]
