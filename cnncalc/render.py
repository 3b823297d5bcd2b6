"""The rich terminal tables (per-layer, and compare/sweep summaries)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from .analysis import Analysis
from .columns import TableData, Units, first_digit, round_half_up
from .layers import numel
from .source import without_gc

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


#: Columns a narrow terminal leaves out first (see ``fit_width``); layer, memory, params and MACs stay.
DROP_ORDER = ("filters", "hw_in", "c_in", "bar", "type", "input_shape", "output_shape", "ksp", "hw_out",
              "jump", "receptive_field", "ops_m", "buffers", "c_out")


@without_gc
def rich_table(table: TableData, analysis: Analysis, *, bars: bool = False, width: int | None = None,
               keep: frozenset[str] = frozenset(), tree: bool = False) -> Text:
    """A seed-style table: one row per layer, a totals footer, conventions in the caption.

    ``bars`` adds a small unicode bar beside each memory/params/MACs cell, relative to the column's largest.
    ``width``: fit that many terminal columns (see ``fit_width``; the columns in ``keep`` stay).
    ``tree``: a header row for every block instance and ├─/└─ before its members, as torchinfo does.
    """
    u = table.units
    rows = table.text_rows()
    *body, totals = rows
    extra = bar_columns(table) if bars else {}
    cols: list[Col] = []
    columns = list(zip(*body)) if body else [() for _ in table.columns]
    for j, (col, foot) in enumerate(zip(table.columns, totals, strict=True)):
        cols.append(Col(col.header(u), list(columns[j]), foot, right=bool(col.scale or col.numeric), key=col.key))
        if j in extra:
            cols.append(Col("", extra[j], "", style="cyan", key="bar"))
    if tree:
        cols = tree_rows(cols, analysis)
    caption = (f"{u.kb_label} = {u.kb} bytes · {u.work} of conv/deconv/fc and matmuls (attention), bias excluded" + (" (FLOPs = 2 × MACs)" if u.flops else "")
               + f" · memory = output elements × {analysis.dtype.bytes} B × batch")
    margin, gap = 2, 3
    if width is not None:
        cols, margin, gap, note = fit_width(cols, width, keep)
        if note:
            caption += "\n" + note
    return grid(
        f"{table.title} — input {'×'.join(map(str, analysis.input))}, batch {analysis.batch}, "
        f"{analysis.dtype.value}",
        cols, caption, margin=margin, gap=gap, max_width=width,
    )


@dataclass(frozen=True)
class Col:
    """One column of a ``grid``: header, body cells, footer (None: no footer row), alignment, style;
    ``key`` names it for ``fit_width`` (a column key of cnncalc.columns, 'bar' or 'ksp')."""

    header: str
    cells: list[str]
    footer: str | None = None
    right: bool = False
    style: str = ""
    key: str = ""

    @cached_property
    def ascii(self) -> bool:
        return "".join(self.cells).isascii() and self.header.isascii() and (self.footer or "").isascii()

    @cached_property
    def width(self) -> int:
        if self.ascii:
            return max(len(self.header), len(self.footer or ""), *map(len, self.cells))
        return max(cells(self.header), cells(self.footer or ""), *map(cells, self.cells))


def cells(text: str) -> int:
    """Terminal cells ``text`` takes (rich's count; plain ASCII, the usual case, by its length)."""
    return len(text) if text.isascii() else cell_len(text)


def line_width(cols: Sequence[Col], margin: int = 2, gap: int = 3) -> int:
    """Characters in each line of ``grid(…, margin, gap)``."""
    return sum(c.width for c in cols) + gap * (len(cols) - 1) + 2 * margin


def fit_width(cols: Sequence[Col], width: int, keep: frozenset[str] = frozenset(),
              order: Sequence[str] = DROP_ORDER) -> tuple[list[Col], int, int, str]:
    """Columns, margin and gap that fit ``width`` terminal columns, and a note saying what changed.

    In turn, until the lines fit: narrower gaps; kernel, stride and pad as one K/S/P column; the
    columns of ``order`` left out (not those in ``keep``); long layer names shortened in the
    middle with '…'. A number is never cut: a table whose layer and count columns alone are wider
    than ``width`` stays wider.
    """
    out = list(cols)
    if line_width(out) <= width:
        return out, 2, 3, ""
    margin, gap = 1, 2
    notes: list[str] = []
    keys = [c.key for c in out]
    if all(k in keys for k in ("kernel", "stride", "pad")) and not keep & {"kernel", "stride", "pad"} \
            and line_width(out, margin, gap) > width:
        i, j, k = keys.index("kernel"), keys.index("stride"), keys.index("pad")
        ksp = [f"{a}/{b}/{c}" if a or b or c else "" for a, b, c in zip(out[i].cells, out[j].cells, out[k].cells)]
        merged = Col("K/S/P", ksp, "", key="ksp")
        out = [merged if n == i else c for n, c in enumerate(out) if n not in (j, k)]
        notes.append("K/S/P = kernel/stride/pad")
    dropped: list[str] = []
    for key in order:
        if line_width(out, margin, gap) <= width:
            break
        if key in keep:
            continue
        gone = [c for c in out if c.key == key]
        if gone:
            out = [c for c in out if c.key != key]
            if key != "bar":
                dropped.extend(c.header for c in gone)
            else:
                notes.append("bars left out")
    if dropped:
        notes.insert(0, "left out: " + ", ".join(dropped))
    over = line_width(out, margin, gap) - width
    names = next((n for n, c in enumerate(out) if c.key == "layer"), None)
    if over > 0 and names is not None:
        col = out[names]
        room = max(col.width - over, 12, cell_len(col.header), cell_len(col.footer or ""))
        cells = [_elide(x, room) for x in col.cells]
        if cells != col.cells:
            out[names] = replace(col, cells=cells)
            notes.append("long names shortened with …")
    note = f"{width} columns: " + "; ".join(notes) + " (COLUMNS=N sets the width)" \
        if notes else ""
    return out, margin, gap, note


def _elide(text: str, room: int) -> str:
    """``text`` in at most ``room`` cells, its middle replaced by '…' (its tree prefix kept whole)."""
    if cell_len(text) <= room:
        return text
    keep = room - 1
    head = keep - keep // 2
    return text[:head] + "…" + text[len(text) - keep // 2:] if keep // 2 else text[:head] + "…"


def tree_rows(cols: Sequence[Col], analysis: Analysis) -> list[Col]:
    """The columns with a header row before each block instance's members and the members' names
    drawn as a tree (├─ member, └─ last member; a member's name without its block's prefix)."""
    items: list[tuple[int, str, int | None]] = []  # (level, name, index of the body row or None for a header)
    stack: list[str] = []
    for i, r in enumerate(analysis.rows):
        names = [g.name for g in r.groups]
        common = 0
        while common < min(len(stack), len(names)) and stack[common] == names[common]:
            common += 1
        del stack[common:]
        for g in names[common:]:
            items.append((len(stack), _relative(g, stack), None))
            stack.append(g)
        items.append((len(stack), _relative(r.name, stack), i))
    prefixes = _tree_prefixes([lvl for lvl, _, _ in items])
    out = []
    for c in cols:
        cells = []
        for (_, name, k), pre in zip(items, prefixes):
            if c.key == "layer":
                cells.append(pre + name)
            else:
                cells.append(c.cells[k] if k is not None else "")
        out.append(replace(c, cells=cells))
    return out


def _relative(name: str, stack: Sequence[str]) -> str:
    parent = stack[-1] + "." if stack else ""
    return name[len(parent):] if parent and name.startswith(parent) and len(name) > len(parent) else name


def _tree_prefixes(levels: Sequence[int]) -> list[str]:
    """'├─ ', '└─ ' and '│  ' before each item of a pre-order list of tree levels, in linear time."""
    n = len(levels)
    last = [True] * n  # no later sibling: the next item at the same level comes after a shallower one
    seen: dict[int, bool] = {}  # level → a later item at that level exists (since the last shallower one)
    for k in range(n - 1, -1, -1):
        lvl = levels[k]
        last[k] = not seen.get(lvl, False)
        for deeper in [d for d in seen if d > lvl]:
            del seen[deeper]
        seen[lvl] = True
    out = []
    open_: list[bool] = []  # per ancestor level: does it have later siblings (draw │)
    for k in range(n):
        lvl = levels[k]
        del open_[max(lvl - 1, 0):]
        if lvl == 0:
            out.append("")
        else:
            out.append("".join("│  " if o else "   " for o in open_) + ("└─ " if last[k] else "├─ "))
        if lvl > 0:
            open_.append(not last[k])
    return out


def grid(title: str, cols: Sequence[Col], caption: str, *, margin: int = 2, gap: int = 3,
         max_width: int | None = None) -> Text:
    """A table as styled text, laid out like rich's SIMPLE_HEAVY box, in time linear in its cells.

    rich.Table measures and renders every cell through its segment pipeline (about 0.1 ms a cell:
    ResNet-152's 6,000 cells took 0.7 s); here the widths are the longest cell of each column and
    each line is one string. Cells are never parsed as markup. Table lines are not wrapped; the
    title and caption are, to ``max_width``.
    """
    widths = [c.width for c in cols]
    width = line_width(cols, margin, gap)
    centre = min(width, max_width) if max_width else width
    out = Text(no_wrap=True, overflow="ignore", end="")
    lead, sep, tail = " " * margin, " " * gap, " " * margin + "\n"
    parts: list[str] = []

    def line(row: Sequence[str]) -> str:
        for i, (c, w, x) in enumerate(zip(cols, widths, row, strict=True)):
            pad = " " * (w - cells(x))
            parts.append(pad + x if c.right else x + pad)
            if i < len(cols) - 1:
                parts.append(sep)
        return ""

    def wrapped(text: str) -> list[str]:
        return [x.center(centre).rstrip() for part in text.split("\n")
                for x in (textwrap.wrap(part, max_width) if max_width and cell_len(part) > max_width else [part])]

    if title:
        out.append("\n".join(wrapped(title)) + "\n\n", style="italic")
    styled = any(c.style for c in cols)
    rule = " " + "━" * (width - 2) + " \n"

    def emit(row: Sequence[str], style: str = "") -> None:
        if styled:
            out.append(lead)
            for i, (c, w, x) in enumerate(zip(cols, widths, row, strict=True)):
                pad = " " * (w - cells(x))
                out.append(pad + x if c.right else x + pad, style=style or c.style)
                out.append(sep if i < len(cols) - 1 else tail)
        else:
            parts.clear()
            line(row)
            out.append(lead + "".join(parts) + tail, style=style or _LINE)

    emit([c.header for c in cols], "bold")
    out.append(rule)
    if styled:
        for row in zip(*(c.cells for c in cols)):
            emit(row)
    elif all(c.ascii for c in cols):  # one format call a row, one span a line (see _LINE)
        fmt = lead + sep.join(f"{{:{'>' if c.right else '<'}{w}}}" for c, w in zip(cols, widths)) + tail
        for row in zip(*(c.cells for c in cols)):
            out.append(fmt.format(*row), style=_LINE)
    else:  # one span per line (see _LINE): a 50,000-row table prints in a fraction of a second
        for row in zip(*(c.cells for c in cols)):
            parts.clear()
            line(row)
            out.append(lead + "".join(parts) + tail, style=_LINE)
    if any(c.footer is not None for c in cols):
        out.append(rule)
        emit([c.footer or "" for c in cols], "bold")
    if caption:
        out.append("\n")
        out.append("\n".join(wrapped(caption)) + "\n", style="dim")
    out.right_crop(1)  # the last newline: print() adds its own
    return out


def footer(analysis: Analysis, units: Units, non_trainable: int | None = None) -> Text:
    """torchinfo's and Keras's summary footer: total / trainable / non-trainable params, MACs, and the
    sizes torchinfo estimates, in MB = KB² bytes, with parameters in the activation dtype:

    input size = input elements × batch × bytes;
    forward/backward pass size = 2 × Σ activation bytes (every output, and its gradient);
    params size = (params + buffers) × bytes;
    estimated total size = input + forward/backward pass + params sizes.

    ``non_trainable`` (frozen parameters, included in the params) defaults to the analysis's own
    count where its totals carry one (``totals.non_trainable``), else 0.
    """
    t = analysis.totals
    frozen = int(getattr(t, "non_trainable", 0) or 0) if non_trainable is None else non_trainable
    b = analysis.dtype.bytes
    mb = units.kb * units.kb
    sizes = {
        "Input size": numel(analysis.input) * analysis.batch * b,
        "Forward/backward pass size": 2 * t.activation_bytes,
        "Params size": (t.params + t.buffers) * b,
    }
    sizes["Estimated total size"] = sum(sizes.values())
    lines = [f"Total params: {t.params:,}", f"Trainable params: {t.params - frozen:,}",
             f"Non-trainable params: {frozen:,}", f"Total {units.work}: {units.work_of(t.macs):,}"]
    lines += [f"{k} (MB): {_mb(Fraction(v, mb))}" for k, v in sizes.items()]
    note = (f"MB = {units.kb}² bytes; params size = (params + {t.buffers:,} buffer values) × {b} B; "
            "forward/backward = 2 × activation memory")
    out = Text("\n".join(lines) + "\n")
    out.append(note, style="dim")
    return out


def _mb(x: Fraction) -> str:
    d = round_half_up(x, 2)
    return f"{round_half_up(x, first_digit(x)) if x and not d else d:,}"


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
