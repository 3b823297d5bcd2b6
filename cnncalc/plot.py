"""Matplotlib figures (the optional ``[plot]`` extra): per-layer memory/params/MACs bars and compare charts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from .analysis import Analysis
from .columns import Units
from .compare import Summary, fmt_ratio, ratio
from .errors import UsageError

INSTALL_HINT = 'plots need matplotlib, which is not installed; install it with: pip install "cnncalc[plot]"'
#: Output formats by file suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: One colour per layer family (colour-blind-safe Okabe–Ito palette), others grey; blocks folded with
#: --depth purple, as in the drawn network (not the grey of reshapes).
FAMILY_COLOURS = {"conv": "#0072B2", "fc": "#D55E00", "pool": "#009E73", "norm": "#CC79A7",
                  "activation": "#E69F00", "merge": "#56B4E9", "reshape": "#999999", "other": "#999999",
                  "block": "#6A3D9A"}

#: Text stays text in SVGs (searchable, small); a fixed hash salt makes SVG ids, hence files, reproducible.
_RC = {"svg.fonttype": "none", "svg.hashsalt": "cnncalc", "font.size": 9}


def figure_format(path: Path) -> str:
    """The matplotlib format for ``path``'s suffix (.png, .svg, .pdf); a UsageError for anything else."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"cannot tell the image format of '{path}': use a name ending in "
                         f"{', '.join(FORMATS)}")
    return fmt


def _pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend, or a UsageError saying how to install it."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return plt


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter
    return FuncFormatter(lambda x, _pos: f"{x:,.0f}" if abs(x) >= 10 else f"{x:g}")


def _save(fig: Any, fmt: str) -> bytes:
    buf = io.BytesIO()
    # no creation date in the file, so the same input gives the same bytes
    meta = {"Date": None} if fmt in ("svg", "pdf") else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight", metadata=meta)
    return buf.getvalue()


def _short(value: Fraction) -> str:
    x = float(value)
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}" if x >= 1 else f"{x:.2g}" if x else "0"


def layers_figure(analysis: Analysis, units: Units, fmt: str = "png") -> bytes:
    """Three panels of horizontal bars, one bar per layer: activation memory (KB), params (k), MACs (M).

    Like the lecture notes' "AlexNet memory, parameters and MFLOPs" figure; bars coloured by family.
    """
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig = layers_axes(plt, analysis, units)
        data = _save(fig, fmt)
        plt.close(fig)
    return data


def layers_axes(plt: Any, analysis: Analysis, units: Units) -> Any:
    """The figure of ``layers_figure``, not yet saved (call inside ``plt.rc_context(_RC)``)."""
    rows = analysis.rows
    names = [r.name for r in rows]
    families = [r.family.value if r.family else "block" for r in rows]
    colours = [FAMILY_COLOURS.get(f, "#999999") for f in families]
    panels = [
        (f"Activation memory ({units.kb_label})", [Fraction(r.activation_bytes, units.kb) for r in rows]),
        ("Parameters (k)", [Fraction(r.params, 1000) for r in rows]),
        (f"{units.work} (M)", [Fraction(units.work_of(r.macs), 1_000_000) for r in rows]),
    ]
    # laid out in inches, so that a 10-layer and a 500-layer network get the same margins: the title,
    # then the panel titles, the bars (0.26 in a layer), the x labels and the legend
    top_in, row_in, bottom_in = 1.0, 0.26, 0.85
    height = top_in + row_in * max(len(rows), 1) + bottom_in
    fig, axes = plt.subplots(1, 3, sharey=True, figsize=(12, height))
    fig.subplots_adjust(top=1 - top_in / height, bottom=bottom_in / height, left=0.16, right=0.98, wspace=0.08)
    ys = list(range(len(rows)))
    for ax, (title, values) in zip(axes, panels, strict=True):
        floats = [float(v) for v in values]
        ax.barh(ys, floats, color=colours, height=0.7)
        top = max(floats, default=0.0) or 1.0
        for y, v in zip(ys, values, strict=True):
            if v:
                ax.text(float(v) + top * 0.01, y, _short(v), va="center", fontsize=7)
        ax.set_title(title, fontweight="bold")
        ax.set_xlim(0, top * 1.22)  # room for the value labels
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_formatter(_thousands())
    axes[0].set_yticks(ys, names)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)  # first layer on top, as in the tables; no blank bands
    used = sorted(set(families))
    handles = [plt.Rectangle((0, 0), 1, 1, color=FAMILY_COLOURS.get(f, "#999999")) for f in used]
    fig.legend(handles, used, loc="lower center", ncol=len(used), frameon=False,
               bbox_to_anchor=(0.5, 0.05 / height))
    t = analysis.totals
    fig.suptitle(
        f"{analysis.model}: memory, parameters and {units.work} per layer — input "
        f"{'×'.join(map(str, analysis.input))}, batch {analysis.batch}, {analysis.dtype.value}\n"
        f"totals: {t.activation_bytes / units.kb:,.0f} {units.kb_label} · {t.params:,} params · "
        f"{units.work_of(t.macs):,} {units.work}", fontsize=10, y=1 - 0.12 / height, va="top")
    return fig


def compare_figure(summaries: Sequence[Summary], units: Units, fmt: str = "png") -> bytes:
    """Three panels (params, MACs, activation memory), one bar per network, labelled with the ratio to the first."""
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig = compare_axes(plt, summaries, units)
        data = _save(fig, fmt)
        plt.close(fig)
    return data


def compare_axes(plt: Any, summaries: Sequence[Summary], units: Units) -> Any:
    """The figure of ``compare_figure``, not yet saved (call inside ``plt.rc_context(_RC)``)."""
    if not summaries:
        raise UsageError("nothing to plot")
    base = summaries[0]
    labels = [s.label for s in summaries]
    ticks = [label.replace(" [", "\n[") for label in labels]  # the model, then its range, on two lines
    mb = units.kb * units.kb
    panels = [
        ("Parameters (M)", [Fraction(s.params, 10**6) for s in summaries], [s.params for s in summaries],
         base.params),
        (f"{units.work} (M)", [Fraction(units.work_of(s.macs), 10**6) for s in summaries],
         [s.macs for s in summaries], base.macs),
        ("Activation memory (MB)", [Fraction(s.activation_bytes, mb) for s in summaries],
         [s.activation_bytes for s in summaries], base.activation_bytes),
    ]
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#999999"]
    colours = [palette[i % len(palette)] for i in range(len(summaries))]
    fig, axes = plt.subplots(1, 3, figsize=(4 + 1.4 * len(summaries) * 1.5, 4.2))
    xs = list(range(len(summaries)))
    for ax, (title, values, exact, b) in zip(axes, panels, strict=True):
        floats = [float(v) for v in values]
        ax.bar(xs, floats, color=colours, width=0.65)
        top = max(floats, default=0.0) or 1.0
        for x, v, e in zip(xs, values, exact, strict=True):
            ax.text(x, float(v) + top * 0.02, f"{_short(v)}\n{fmt_ratio(ratio(e, b))}", ha="center",
                    va="bottom", fontsize=8)
        ax.set_ylim(0, top * 1.25)
        ax.set_title(title, fontweight="bold")
        crowded = len(summaries) > 2 or max(len(x) for t in ticks for x in t.split("\n")) > 14
        ax.set_xticks(xs, ticks, rotation=30 if crowded else 0, ha="right" if crowded else "center",
                      fontsize=8, rotation_mode="anchor")
        ax.grid(axis="y", alpha=0.3)
        ax.yaxis.set_major_formatter(_thousands())
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle("compare: " + " vs ".join(labels) + f" (× = ratio to {base.label})", fontsize=10)
    fig.tight_layout()
    return fig
