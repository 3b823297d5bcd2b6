"""The rich terminal table."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from .analysis import Analysis
from .columns import TableData, round_half_up


def rich_table(table: TableData, analysis: Analysis) -> Table:
    """A seed-style table: one row per layer, a totals footer, conventions in the caption."""
    u = table.units
    t = Table(
        title=f"{table.title} — input {'×'.join(map(str, analysis.input))}, batch {analysis.batch}, "
              f"{analysis.dtype.value}",
        box=box.SIMPLE_HEAVY, show_footer=True, header_style="bold", footer_style="bold",
        caption=(f"KB = {u.kb} bytes · {u.work} of conv/deconv/fc, bias excluded"
                 + (" (FLOPs = 2 × MACs)" if u.flops else "")
                 + f" · memory = output elements × {analysis.dtype.bytes} B × batch"),
    )
    rows = table.text_rows()
    *body, totals = rows
    for col, foot in zip(table.columns, totals):
        t.add_column(col.header(u), footer=foot, justify="right" if col.scale or col.numeric else "left",
                     no_wrap=True)
    for r in body:
        t.add_row(*r)
    return t


def shares_line(analysis: Analysis) -> Text:
    """'Params: fc 94.0 %, conv 6.0 % · MACs: conv 94.8 %, fc 5.2 %' (largest first)."""
    shares = analysis.shares()

    def part(i: int) -> str:
        items = sorted(((s[i], f.value) for f, s in shares.items() if s[i]), reverse=True)
        return ", ".join(f"{name} {round_half_up(v * 100, 1)} %" for v, name in items) or "—"

    return Text(f"Params: {part(0)} · MACs: {part(1)}", style="dim")
