"""Symbolic tables: per-layer formulas (params, MACs, memory) and ratios between designs, in every format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from . import symbolic as sym
from .analysis import Analysis
from .export import latex_escape

Expr = Any

TIMES = r" \times "

#: Memory in a formula is counted the seeds' way ("4HWC"): elements, not bytes.
MEMORY = "Memory (elements)"


@dataclass(frozen=True)
class SymRow:
    """One layer (or the totals) as formulas."""

    name: str
    type: str
    output: tuple[Expr, ...]
    params: Expr
    work: Expr
    memory: Expr


@dataclass(frozen=True)
class SymTable:
    """A network's table as formulas over its variables."""

    model: str
    symbols: tuple[str, ...]
    work: str  # "MACs" or "FLOPs"
    rows: tuple[SymRow, ...]
    total: SymRow


def symbolic_table(analysis: Analysis, flops: bool = False) -> SymTable:
    """Per-layer and total formulas of an analysis built with ``symbolic=True``.

    Params = weights + bias; work = MACs (or FLOPs = 2 × MACs) × batch; memory = output
    elements × batch (activation bytes / bytes per element). Each formula is simplified by
    :func:`cnncalc.symbolic.simplify`.
    """
    k = 2 if flops else 1
    per = analysis.dtype.bytes

    def row(name: str, kind: str, out: tuple[Expr, ...], params: Expr, macs: Expr, act: Expr) -> SymRow:
        return SymRow(name, kind, tuple(sym.simplify(d) for d in out), sym.simplify(params),
                      sym.simplify(k * macs), sym.simplify(sym.quotient(act, per)))

    rows = tuple(row(r.name, r.type, r.output, r.params, r.macs, r.activation_bytes) for r in analysis.rows)
    t = analysis.totals
    total = row("Total", "", (), t.params, t.macs, t.activation_bytes)
    values = [x for r in (*rows, total) for x in (*r.output, r.params, r.work, r.memory)]
    names = sym.free_names([*values, *analysis.input])
    return SymTable(analysis.model, tuple(names), "FLOPs" if flops else "MACs", rows, total)


def _shape(out: Sequence[Expr], fmt: Callable[[Expr], str], times: str) -> str:
    """C×((H + 1)/2)×W: in plain text a sum or quotient is bracketed, so that × binds clearly."""
    def one(d: Expr) -> str:
        text = fmt(d)
        return f"({text})" if fmt is sym.pretty and (" " in text or "/" in text) else text
    return times.join(one(d) for d in out)


def _headers(t: SymTable) -> list[str]:
    return ["Layer", "Type", "Output", "Params", t.work, MEMORY]


def _cells(t: SymTable, r: SymRow, fmt: Callable[[Expr], str], times: str) -> list[str]:
    return [r.name, r.type, _shape(r.output, fmt, times), fmt(r.params), fmt(r.work), fmt(r.memory)]


def rich_symbolic(t: SymTable) -> Table:
    """A terminal table, formulas in one line of Unicode (18·C²·H·W)."""
    vars_ = ", ".join(t.symbols) or "none"
    tab = Table(title=f"{t.model} — formulas in {vars_}", header_style="bold", show_footer=False,
                caption=f"{t.work} of conv/deconv/fc and matmuls (attention), bias excluded · memory = output elements × batch")
    for i, h in enumerate(_headers(t)):
        tab.add_column(h, justify="left" if i < 3 else "right")
    for r in t.rows:
        tab.add_row(*_cells(t, r, sym.pretty, "×"))
    tab.add_section()
    tab.add_row(*_cells(t, t.total, sym.pretty, "×"), style="bold")
    return tab


def _dollars(e: Expr) -> str:
    return f"${sym.latex(e)}$"


def symbolic_markdown(t: SymTable) -> str:
    """A GitHub pipe table with LaTeX formulas ($18 C^{2} H W$), totals in bold."""
    heads = _headers(t)
    lines = ["| " + " | ".join(heads) + " |", "| " + " | ".join([":---"] * 3 + ["---:"] * 3) + " |"]
    for r in (*t.rows, t.total):
        cells = _cells(t, r, _dollars, TIMES)
        cells = [c.replace("$" + TIMES + "$", TIMES) for c in cells]
        if r is t.total:
            cells[0] = "**Total**"
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def symbolic_latex(t: SymTable) -> str:
    """A booktabs ``tabular`` with math-mode formulas; needs ``\\usepackage{booktabs}``."""

    def cells(r: SymRow) -> list[str]:
        shape = "$" + _shape(r.output, sym.latex, TIMES) + "$" if r.output else ""
        return [latex_escape(r.name), latex_escape(r.type), shape,
                _dollars(r.params), _dollars(r.work), _dollars(r.memory)]

    def line(c: list[str]) -> str:
        return " & ".join(c) + r" \\"

    out = [f"% {latex_escape(t.model)} (cnncalc --symbolic); needs \\usepackage{{booktabs}}",
           r"\begin{tabular}{lllrrr}", r"\toprule", line([latex_escape(h) for h in _headers(t)]), r"\midrule"]
    out += [line(cells(r)) for r in t.rows]
    out += [r"\midrule", line(cells(t.total)), r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def symbolic_csv(t: SymTable) -> str:
    """CSV with formulas in sympy's plain syntax (18*C**2*H*W); a last row named Total."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["layer", "type", "output", "params", t.work.lower(), "memory_elements"])
    for r in (*t.rows, t.total):
        w.writerow([r.name, r.type, " x ".join(str(d) for d in r.output), str(r.params), str(r.work), str(r.memory)])
    return buf.getvalue()


def _formula(e: Expr) -> dict[str, str]:
    return {"text": str(e), "latex": sym.latex(e)}


def symbolic_dict(t: SymTable) -> dict[str, Any]:
    """The JSON form: every formula as sympy text and LaTeX."""
    def row(r: SymRow) -> dict[str, Any]:
        return {"name": r.name, "type": r.type, "output": [str(d) for d in r.output],
                "params": _formula(r.params), t.work.lower(): _formula(r.work),
                "memory_elements": _formula(r.memory)}
    return {"model": t.model, "symbols": list(t.symbols), "layers": [row(r) for r in t.rows],
            "totals": {k: v for k, v in row(t.total).items() if k not in ("name", "type", "output")}}


def symbolic_json(t: SymTable) -> str:
    """symbolic_dict as indented JSON."""
    return json.dumps(symbolic_dict(t), indent=2) + "\n"


# ----------------------------------------------------------------------------- ratios

@dataclass(frozen=True)
class Ratio:
    """One quantity of a design against the first: both formulas, other / first, its limits."""

    quantity: str
    model: str
    first: Expr
    other: Expr
    ratio: Expr
    limits: dict[str, Expr]


def symbolic_ratios(tables: Sequence[SymTable]) -> list[Ratio]:
    """Totals of each later design against the first: params, work and memory, with limits as each variable → ∞."""
    base = tables[0]
    out: list[Ratio] = []
    for t in tables[1:]:
        for q, a, b in (("Params", base.total.params, t.total.params),
                        (base.work, base.total.work, t.total.work),
                        (MEMORY, base.total.memory, t.total.memory)):
            r, lims = sym.ratio(a, b)
            out.append(Ratio(q, t.model, a, b, r, lims))
    return out


def _limits(r: Ratio, fmt: Callable[[Expr], str], where: Callable[[str], str]) -> str:
    return ", ".join(f"{fmt(v)} ({where(k)})" for k, v in r.limits.items() if v != r.ratio)


def _ratio_cells(r: Ratio, fmt: Callable[[Expr], str], where: Callable[[str], str]) -> list[str]:
    return [r.quantity, fmt(r.first), r.model, fmt(r.other), fmt(r.ratio), _limits(r, fmt, where)]


def _arrow(k: str) -> str:
    return f"{k} → ∞"


def _latex_arrow(k: str) -> str:
    return f"${sym.latex(sym.symbol(k))} \\to \\infty$"


def _ratio_heads(tables: Sequence[SymTable]) -> list[str]:
    return ["Quantity", tables[0].model, "Design", "Formula", "Ratio", "Limit"]


def rich_ratios(tables: Sequence[SymTable], ratios: Sequence[Ratio]) -> Table:
    """Terminal table of the ratios."""
    tab = Table(title=f"against {tables[0].model}", header_style="bold",
                caption=f"ratio = design / {tables[0].model}, simplified; limit as the named variable → ∞, others fixed")
    for i, h in enumerate(_ratio_heads(tables)):
        tab.add_column(h, justify="left" if i in (0, 2) else "right")
    for r in ratios:
        tab.add_row(*_ratio_cells(r, sym.pretty, _arrow))
    return tab


def ratios_markdown(tables: Sequence[SymTable], ratios: Sequence[Ratio]) -> str:
    """Pipe table of the ratios, LaTeX formulas."""
    lines = ["| " + " | ".join(_ratio_heads(tables)) + " |", "| :--- | ---: | :--- | ---: | ---: | ---: |"]
    lines += ["| " + " | ".join(_ratio_cells(r, _dollars, _latex_arrow)) + " |" for r in ratios]
    return "\n".join(lines) + "\n"


def ratios_latex(tables: Sequence[SymTable], ratios: Sequence[Ratio]) -> str:
    """booktabs tabular of the ratios."""
    def line(c: list[str]) -> str:
        return " & ".join(c) + r" \\"
    out = ["% cnncalc compare --symbolic; needs \\usepackage{booktabs}", r"\begin{tabular}{lrlrrr}", r"\toprule",
           line([latex_escape(h) for h in _ratio_heads(tables)]), r"\midrule"]
    for r in ratios:
        c = _ratio_cells(r, _dollars, _latex_arrow)
        out.append(line([latex_escape(c[0]), c[1], latex_escape(c[2]), *c[3:]]))
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"


def ratios_csv(ratios: Sequence[Ratio]) -> str:
    """CSV of the ratios in sympy's plain syntax; limits as name=value pairs."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["quantity", "model", "first", "other", "ratio", "limits"])
    for r in ratios:
        w.writerow([r.quantity, r.model, str(r.first), str(r.other), str(r.ratio),
                    ";".join(f"{k}={v}" for k, v in r.limits.items())])
    return buf.getvalue()


def ratios_json(tables: Sequence[SymTable], ratios: Sequence[Ratio]) -> str:
    """The tables and the ratios as JSON (formulas as text and LaTeX)."""
    return json.dumps({
        "models": [symbolic_dict(t) for t in tables],
        "ratios": [{"quantity": r.quantity, "model": r.model, "first": _formula(r.first),
                    "other": _formula(r.other), "ratio": _formula(r.ratio),
                    "limits": {k: _formula(v) for k, v in r.limits.items()}} for r in ratios],
    }, indent=2) + "\n"

