"""The rich terminal tables (per-layer, and compare/sweep summaries)."""

from __future__ import annotations

from fractions import Fraction

from rich import box
from rich.table import Table
from rich.text import Text

from .analysis import Analysis
from .columns import TableData, round_half_up

_EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(value: int | Fraction, top: int | Fraction, width: int = 8) -> str:
    """A unicode bar of ``width`` cells, length value/top in eighths of a cell, space-padded to ``width``."""
    eighths = int(round_half_up(Fraction(value) * width * 8 / Fraction(top))) if top and value > 0 else 0
    if value > 0:
        eighths = max(eighths, 1)  # a non-zero value never looks like zero
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def bar_columns(table: TableData, width: int = 8) -> dict[int, list[str]]:
    """For every rounded (scaled) count column, by index: one bar per body row, relative to its largest value."""
    out: dict[int, list[str]] = {}
    for j, col in enumerate(table.columns):
        if col.scale is None:
            continue
        vals = [v if isinstance(v, (int, Fraction)) else 0 for v in (row[j] for row in table.rows)]
        top = max(vals, default=0)
        out[j] = [bar(v, top, width) for v in vals]
    return out


def rich_table(table: TableData, analysis: Analysis, *, bars: bool = False) -> Table:
    """A seed-style table: one row per layer, a totals footer, conventions in the caption.

    Every cell is a Text, never markup: a layer named ``conv[1]`` prints as written.

    ``bars`` adds a small unicode bar beside each memory/params/MACs cell, relative to the column's largest.
    """
    u = table.units
    t = Table(
        title=Text(f"{table.title} — input {'×'.join(map(str, analysis.input))}, batch {analysis.batch}, "
              f"{analysis.dtype.value}"),
        box=box.SIMPLE_HEAVY, show_footer=True, header_style="bold", footer_style="bold",
        caption=Text(f"KB = {u.kb} bytes · {u.work} of conv/deconv/fc, bias excluded"
                 + (" (FLOPs = 2 × MACs)" if u.flops else "")
                 + f" · memory = output elements × {analysis.dtype.bytes} B × batch"),
    )
    rows = table.text_rows()
    *body, totals = rows
    extra = bar_columns(table) if bars else {}
    for j, (col, foot) in enumerate(zip(table.columns, totals, strict=True)):
        t.add_column(Text(col.header(u)), footer=Text(foot), justify="right" if col.scale or col.numeric else "left",
                     no_wrap=True)
        if j in extra:
            t.add_column("", no_wrap=True, style="cyan")
    for i, r in enumerate(body):
        t.add_row(*(Text(x) for j, cell in enumerate(r) for x in ((cell, extra[j][i]) if j in extra else (cell,))))
    return t


def shares_line(analysis: Analysis) -> Text:
    """'Params: fc 94.0 %, conv 6.0 % · MACs: conv 94.8 %, fc 5.2 %' (largest first)."""
    shares = analysis.shares()

    def part(i: int) -> str:
        items = sorted(((s[i], f.value) for f, s in shares.items() if s[i]), reverse=True)
        return ", ".join(f"{name} {round_half_up(v * 100, 1)} %" for v, name in items) or "—"

    return Text(f"Params: {part(0)} · MACs: {part(1)}", style="dim")


def summary_table(table: TableData, caption: str) -> Table:
    """A compare/sweep table: one row per model or setting, no totals."""
    t = Table(title=Text(table.title), box=box.SIMPLE_HEAVY, header_style="bold", caption=Text(caption))
    for col in table.columns:
        t.add_column(Text(col.header(table.units)), justify="right" if col.scale or col.numeric else "left",
                     no_wrap=True)
    for r in table.text_rows():
        t.add_row(*map(Text, r))
    return t
