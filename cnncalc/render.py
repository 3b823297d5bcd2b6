"""The rich terminal tables (per-layer, and compare/sweep summaries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from .analysis import Analysis
from .columns import TableData, round_half_up

_EIGHTHS = " ▏▎▍▌▋▊▉█"
# A span on every line keeps it a segment of its own: rich splits a segment of many lines by
# repeated str.partition, quadratic in the lines (65 s for a 50,000-row table). A meta-only style
# is not null, so it makes a span, yet prints no escape codes.
_LINE = Style(meta={"line": True})


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


def rich_table(table: TableData, analysis: Analysis, *, bars: bool = False) -> Text:
    """A seed-style table: one row per layer, a totals footer, conventions in the caption.

    ``bars`` adds a small unicode bar beside each memory/params/MACs cell, relative to the column's largest.
    """
    u = table.units
    rows = table.text_rows()
    *body, totals = rows
    extra = bar_columns(table) if bars else {}
    cols: list[Col] = []
    for j, (col, foot) in enumerate(zip(table.columns, totals, strict=True)):
        cols.append(Col(col.header(u), [r[j] for r in body], foot, right=bool(col.scale or col.numeric)))
        if j in extra:
            cols.append(Col("", extra[j], "", style="cyan"))
    return grid(
        f"{table.title} — input {'×'.join(map(str, analysis.input))}, batch {analysis.batch}, "
        f"{analysis.dtype.value}",
        cols,
        f"KB = {u.kb} bytes · {u.work} of conv/deconv/fc, bias excluded" + (" (FLOPs = 2 × MACs)" if u.flops else "")
        + f" · memory = output elements × {analysis.dtype.bytes} B × batch",
    )


@dataclass(frozen=True)
class Col:
    """One column of a ``grid``: header, body cells, footer (None: no footer row), alignment, style."""

    header: str
    cells: list[str]
    footer: str | None = None
    right: bool = False
    style: str = ""


def grid(title: str, cols: Sequence[Col], caption: str) -> Text:
    """A table as styled text, laid out like rich's SIMPLE_HEAVY box, in time linear in its cells.

    rich.Table measures and renders every cell through its segment pipeline (about 0.1 ms a cell:
    ResNet-152's 6,000 cells took 0.7 s); here the widths are the longest cell of each column and
    each line is one string. Cells are never parsed as markup. Lines are not wrapped to the terminal.
    """
    widths = [max(cell_len(c.header), cell_len(c.footer or ""), *map(cell_len, c.cells)) for c in cols]
    width = sum(widths) + 3 * len(cols) + 1
    out = Text(no_wrap=True, overflow="ignore", end="")

    plain = not any(c.style for c in cols)

    def line(cells: Sequence[str], style: str = "") -> None:
        texts = [f" {' ' * (w - cell_len(x))}{x} " if c.right else f" {x}{' ' * (w - cell_len(x))} "
                 for c, w, x in zip(cols, widths, cells, strict=True)]
        if plain and not style:  # one string (and span) per line: linear in the cells
            out.append(" " + " ".join(texts) + " ", style=_LINE)
        else:
            out.append(" ")
            for c, t in zip(cols, texts):
                out.append(t, style=style or c.style)
                out.append(" ")
        out.append("\n")

    if title:
        out.append(title.center(width).rstrip() + "\n\n", style="italic")
    line([c.header for c in cols], "bold")
    rule = " " + "━" * (width - 2) + " \n"
    out.append(rule)
    for row in zip(*(c.cells for c in cols)):
        line(row)
    if any(c.footer is not None for c in cols):
        out.append(rule)
        line([c.footer or "" for c in cols], "bold")
    if caption:
        out.append("\n")
        for part in caption.split("\n"):
            out.append(part.center(width).rstrip() + "\n", style="dim")
    out.right_crop(1)  # the last newline: print() adds its own
    return out


def shares_line(analysis: Analysis) -> Text:
    """'Params: fc 94.0 %, conv 6.0 % · MACs: conv 94.8 %, fc 5.2 %' (largest first)."""
    shares = analysis.shares()

    def part(i: int) -> str:
        items = sorted(((s[i], f.value) for f, s in shares.items() if s[i]), reverse=True)
        return ", ".join(f"{name} {round_half_up(v * 100, 1)} %" for v, name in items) or "—"

    return Text(f"Params: {part(0)} · MACs: {part(1)}", style="dim")


def summary_table(table: TableData, caption: str) -> Text:
    """A compare/sweep table: one row per model or setting, no totals."""
    rows = table.text_rows()
    return grid(table.title, [Col(c.header(table.units), [r[j] for r in rows], right=bool(c.scale or c.numeric))
                              for j, c in enumerate(table.columns)], caption)
