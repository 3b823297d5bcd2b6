"""A self-contained HTML report: summary, inline SVG charts, sortable per-layer table, conventions, spec."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from html import escape

from . import __version__
from .analysis import Analysis, Row
from .columns import Units, round_half_up, scaled_text
from .compare import depth_of, last_spatial_rf
from .graph import Graph
from .layers import Num, fmt_shape
from .spec import LoadedSpec

#: Same Okabe–Ito colours as the matplotlib plots, one per layer family.
FAMILY_COLOURS = {"conv": "#0072B2", "fc": "#D55E00", "pool": "#009E73", "norm": "#CC79A7",
                  "activation": "#E69F00", "merge": "#56B4E9", "reshape": "#999999", "other": "#999999",
                  "block": "#7f7f7f"}

# The page may fetch nothing: the policy forbids every network source, inline style/script only.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

_CSS = """
:root{--fg:#1d2330;--muted:#5b6473;--bg:#fff;--card:#f5f7fa;--line:#dde2ea;--accent:#0072B2}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ef;--muted:#9aa3b2;--bg:#14171c;--card:#1d2128;--line:#313744}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
 color:var(--fg);background:var(--bg)}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line)}
.sub{color:var(--muted);margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin:0}
.cards div{background:var(--card);border-radius:8px;padding:10px 12px}
.cards dt{color:var(--muted);font-size:12px}.cards dd{margin:2px 0 0;font-size:18px;font-weight:600;
 font-variant-numeric:tabular-nums}
.share{display:flex;height:14px;border-radius:4px;overflow:hidden;margin:4px 0 2px;max-width:480px}
.legend span{display:inline-block;margin-right:12px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts figure{margin:0}
.charts figcaption{font-weight:600;margin-bottom:4px}
svg text{fill:var(--fg);font:11px system-ui,sans-serif}svg .v{fill:var(--muted);font-size:10px}
.wrap{overflow-x:auto;max-height:80vh}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;white-space:nowrap;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left}
th{position:sticky;top:0;background:var(--card);cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.n,th.n{text-align:right}tfoot td{font-weight:700;border-top:2px solid var(--line)}
tbody tr:hover{background:var(--card)}
pre{background:var(--card);padding:12px;border-radius:8px;overflow-x:auto;font-size:12.5px}
ul.conv li{margin:3px 0}.warn{color:#b35c00}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""

# Sorting by a column's data-v (numbers) or text; '#sort=KEY' or '#sort=KEY-desc' sorts on load.
# The marker attribute data-js="ready" tells tests (and people) that the script ran.
_JS = """
(function(){
  var table=document.getElementById('layers'), body=table.tBodies[0];
  function sortBy(th, desc){
    var i=Array.prototype.indexOf.call(th.parentNode.children, th), num=th.classList.contains('n');
    var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[i], y=b.cells[i], r;
      if(num){r=parseFloat(x.getAttribute('data-v'))-parseFloat(y.getAttribute('data-v'));}
      else{r=x.textContent.localeCompare(y.textContent);}
      if(r===0){r=parseInt(a.getAttribute('data-i'))-parseInt(b.getAttribute('data-i'));return r;}
      return desc?-r:r;
    });
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort', desc?'descending':'ascending');
    table.setAttribute('data-sorted', th.getAttribute('data-k')+(desc?'-desc':''));
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){
    th.addEventListener('click',function(){sortBy(th, th.getAttribute('aria-sort')==='ascending');});
  });
  var m=/sort=([a-z_]+)(-desc)?/.exec(location.hash);
  if(m){var th=table.querySelector('th[data-k="'+m[1]+'"]'); if(th){sortBy(th, !!m[2]);}}
  // the network drawing: a block's label folds and unfolds it
  Array.prototype.forEach.call(document.querySelectorAll('.cnncalc-net .block > .label'),function(t){
    t.addEventListener('click',function(){t.parentNode.classList.toggle('folded');});
  });
  var fold=function(on){Array.prototype.forEach.call(document.querySelectorAll('.cnncalc-net .block'),
    function(b){if(on){b.classList.add('folded');}else{b.classList.remove('folded');}});};
  var fa=document.getElementById('fold-all'), ua=document.getElementById('unfold-all');
  if(fa){fa.addEventListener('click',function(){fold(true);});ua.addEventListener('click',function(){fold(false);});}
  if(/fold=all/.test(location.hash)){fold(true);}
  document.documentElement.setAttribute('data-js','ready');
})();
"""


def _family(r: Row) -> str:
    return r.family.value if r.family else "block"


def _frac(x: Num) -> str:
    return str(x) if x.denominator == 1 else f"{float(x):.3g}"


def _pair(p: tuple[Num, Num] | None) -> str:
    if p is None:
        return "—"
    a, b = _frac(p[0]), _frac(p[1])
    return a if a == b else f"{a}×{b}"


def _rounded(x: Fraction, decimals: int = 0) -> str:
    return f"{round_half_up(x, decimals):,}"


@dataclass(frozen=True)
class _Col:
    """One column of the per-layer table: data key (the JSON export's where it has one), header, cell."""

    key: str
    header: str
    numeric: bool
    text: Callable[[Row], str]
    value: Callable[[Row], int | float] | None = None
    total: str = ""


def _columns(a: Analysis, units: Units) -> list[_Col]:
    t = a.totals
    kb = units.kb
    return [
        _Col("name", "Layer", False, lambda r: r.name, total="Total"),
        _Col("type", "Type", False, lambda r: r.type),
        _Col("inputs", "Input", False, lambda r: ", ".join(fmt_shape(s) for s in r.inputs)),
        _Col("output", "Output", False, lambda r: fmt_shape(r.output)),
        _Col("kernel", "K / S / P", False,
             lambda r: " / ".join(x for x in (r.hyper.kernel, r.hyper.stride, r.hyper.pad) if x)),
        _Col("params", "Params", True, lambda r: f"{r.params:,}", lambda r: r.params, f"{t.params:,}"),
        _Col("flops" if units.flops else "macs", units.work, True, lambda r: f"{units.work_of(r.macs):,}", lambda r: units.work_of(r.macs),
             f"{units.work_of(t.macs):,}"),
        _Col("ops", "Other ops", True, lambda r: f"{r.ops:,}", lambda r: r.ops, f"{t.ops:,}"),
        _Col("activation_bytes", f"Memory ({units.kb_label})", True,
             lambda r: scaled_text(r.activation_bytes, kb, 0, True), lambda r: r.activation_bytes,
             _rounded(Fraction(t.activation_bytes, kb))),
        _Col("buffers", "Buffers", True, lambda r: f"{r.buffers:,}", lambda r: r.buffers, f"{t.buffers:,}"),
        _Col("receptive_field", "RF", True, lambda r: _pair(r.rf), lambda r: float(r.rf[0])),
        _Col("jump", "Jump", True, lambda r: _pair(r.jump), lambda r: float(r.jump[0])),
    ]


def _table(a: Analysis, units: Units) -> str:
    cols = _columns(a, units)
    head = "".join(f'<th data-k="{c.key}"{" class=n" if c.numeric else ""} title="sort">{escape(c.header)}</th>'
                   for c in cols)
    body = []
    for i, r in enumerate(a.rows):
        cells = []
        for c in cols:
            attrs = f' data-k="{c.key}"' + (" class=n" if c.numeric else "")
            if c.value is not None:
                attrs += f' data-v="{c.value(r)}"'
            cells.append(f"<td{attrs}>{escape(c.text(r))}</td>")
        body.append(f'<tr data-i="{i}" data-layer="{escape(r.name)}" data-family="{_family(r)}">{"".join(cells)}</tr>')
    foot = "".join(f'<td{" class=n" if c.numeric else ""} data-k="{c.key}">{escape(c.total)}</td>' for c in cols)
    return (f'<div class="wrap"><table id="layers"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + f"\n</tbody>\n<tfoot><tr>{foot}</tr></tfoot></table></div>")


def svg_bars(title: str, rows: Sequence[Row], values: Sequence[Fraction], label: Callable[[Fraction], str],
             exact: Callable[[Row], str]) -> str:
    """One chart: a horizontal bar per layer, length value/max, its rounded value beside it, exact in a tooltip."""
    name_w, bar_w, val_w, row_h, top = 96, 210, 62, 16, 4
    width, height = name_w + bar_w + val_w, top + row_h * len(rows) + 4
    biggest = max(values, default=Fraction(0)) or Fraction(1)
    parts = [f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">']
    for i, (r, v) in enumerate(zip(rows, values, strict=True)):
        y = top + i * row_h
        length = float(v / biggest) * bar_w
        colour = FAMILY_COLOURS.get(_family(r), "#999999")
        name = r.name if len(r.name) <= 15 else r.name[:14] + "…"
        parts.append(
            f'<g><title>{escape(r.name)}: {escape(exact(r))}</title>'
            f'<text x="{name_w - 6}" y="{y + 12}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{name_w}" y="{y + 2}" width="{length:.2f}" height="{row_h - 4}" rx="2" fill="{colour}"/>'
            f'<text class="v" x="{name_w + length + 4:.2f}" y="{y + 12}">{escape(label(v)) if v else ""}</text></g>')
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


#: Most bars in one chart: a network with more layers is charted by its largest layers (in network
#: order), the table below keeping every one.
MAX_CHART_BARS = 200


def _charts(a: Analysis, units: Units) -> str:
    kb = units.kb

    def short(v: Fraction) -> str:
        return _rounded(v) if v >= 10 else _rounded(v, 1) if v >= Fraction(1, 10) else f"{float(v):.2g}"

    def chart(title: str, count: Callable[[Row], int], scale: int, exact: Callable[[Row], str]) -> str:
        rows: Sequence[Row] = a.rows
        if len(rows) > MAX_CHART_BARS:
            top = sorted(range(len(rows)), key=lambda i: -count(rows[i]))[:MAX_CHART_BARS]
            rows = [rows[i] for i in sorted(top)]
            title += f", the {MAX_CHART_BARS} largest of {len(a.rows):,} layers"
        return svg_bars(title, rows, [Fraction(count(r), scale) for r in rows], short, exact)

    return '<div class="charts">' + "".join([
        chart(f"Activation memory ({units.kb_label})", lambda r: r.activation_bytes, kb,
              lambda r: f"{r.activation_bytes:,} bytes"),
        chart("Parameters (k)", lambda r: r.params, 1000, lambda r: f"{r.params:,} params"),
        chart(f"{units.work} (M)", lambda r: units.work_of(r.macs), 10**6,
              lambda r: f"{units.work_of(r.macs):,} {units.work}"),
    ]) + "</div>"


def _legend(families: Sequence[str]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{FAMILY_COLOURS.get(f, "#999")}"></i>{escape(f)}</span>' for f in families
    ) + "</div>"


def _shares(a: Analysis) -> str:
    shares = a.shares()
    out = []
    for i, what in ((0, "Params"), (1, "MACs")):
        items = sorted(((s[i], f.value) for f, s in shares.items() if s[i]), reverse=True)
        if not items:
            continue
        bar = "".join(f'<span style="width:{float(v) * 100:.3f}%;background:{FAMILY_COLOURS.get(f, "#999")}" '
                      f'title="{f} {round_half_up(v * 100, 1)} %"></span>' for v, f in items)
        text = ", ".join(f"{f} {round_half_up(v * 100, 1)} %" for v, f in items)
        out.append(f'<p><b>{what}:</b> <span data-share="{what.lower()}">{escape(text)}</span></p>'
                   f'<div class="share">{bar}</div>')
    return "".join(out)


def _summary(a: Analysis, units: Units) -> str:
    t = a.totals
    cards = [
        ("params", "Parameters", f"{t.params:,}"),
        ("macs", "MACs", f"{t.macs:,}"),
        ("flops", "FLOPs (2 × MACs)", f"{2 * t.macs:,}"),
        ("activation_bytes", "Activation memory (bytes)", f"{t.activation_bytes:,}"),
        ("activation_mb", f"Activation memory (MB, {units.kb}²)",
         _rounded(Fraction(t.activation_bytes, units.kb**2), 1)),
        ("ops", "Other ops", f"{t.ops:,}"),
        ("buffers", "Buffers", f"{t.buffers:,}"),
        ("layers", "Layers", f"{t.layers:,}"),
        ("depth", "Depth (conv/fc layers)", str(depth_of(a.rows))),
        ("receptive_field", "Receptive field (last spatial layer)", _pair(last_spatial_rf(a.rows))),
    ]
    dl = "".join(f'<div><dt>{escape(label)}</dt><dd data-total="{key}">{escape(value)}</dd></div>'
                 for key, label, value in cards)
    warnings = "".join(f'<li class="warn">{escape(str(w))}</li>' for w in a.warnings)
    return f'<dl class="cards">{dl}</dl>{_shares(a)}' + (f"<h3>Warnings</h3><ul>{warnings}</ul>" if warnings else "")


def _conventions(a: Analysis, units: Units) -> str:
    items = [
        "<b>MACs</b>: multiply-accumulates of conv, deconv and fc layers and of matmuls (attention) only, bias excluded "
        "(K·K·C<sub>in</sub>/groups·C<sub>out</sub>·H′·W′ for a conv). FLOPs = 2 × MACs"
        + (" — the tables show FLOPs." if units.flops else "; the tables show MACs."),
        "<b>Other ops</b>: all other arithmetic, counted per layer kind (pooling = outputs × K·K as in the "
        "lecture notes; bias adds, BatchNorm, activations, adds, softmax), as each layer kind documents.",
        f"<b>Activation memory</b>: output elements × {a.dtype.bytes} bytes ({a.dtype.value}) × batch {a.batch}, "
        f"per layer; the total is their sum (every output kept, as for training).",
        f"<b>Units</b>: 1 {units.kb_label} = {units.kb} bytes; Params (k) = thousands; MACs (M) = millions.",
        "<b>Params</b>: weights + bias (trainable). <b>Buffers</b>: non-trainable state such as BatchNorm "
        "running statistics.",
        "<b>Output sizes</b>: ⌊(W − K + 2P)/S⌋ + 1 (floor), unless a pooling layer sets ceil_mode.",
        "<b>Receptive field</b>: r′ = r + (K − 1)·j, jump j′ = j·S, in input pixels; <b>depth</b> counts "
        "conv/deconv/fc layers.",
        f"<b>Input</b>: {escape(fmt_shape(a.input))} per sample (shapes shown without the batch dimension).",
    ]
    return '<ul class="conv">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _network(graph: Graph | None, a: Analysis) -> str:
    if graph is None:
        return ""
    from .draw import draw, to_svg
    from .errors import UsageError
    try:
        svg = to_svg(draw(graph, a), standalone=False)
    except UsageError as e:  # neither grandalf nor Graphviz: the rest of the report still stands
        return f'<section id="network"><h2>Network</h2><p class="sub">{escape(str(e))}</p></section>'

    return ('<section id="network"><h2>Network</h2><p class="sub">Click a block\'s name to fold it; '
            '<button id="fold-all" type="button">fold all</button> <button id="unfold-all" type="button">'
            f'unfold all</button></p><div class="wrap net">{svg}</div></section>')


def to_html(loaded: LoadedSpec, analysis: Analysis, units: Units | None = None, graph: Graph | None = None) -> str:
    """The whole report as one HTML document; nothing in it is fetched from elsewhere. With the
    ``graph`` the analysis came from, it draws the network too (see cnncalc.draw)."""
    u = units or Units()
    a = analysis
    s = loaded.spec
    title = s.title or s.name
    meta = " · ".join(escape(x) for x in (s.paper, str(s.year) if s.year else None, s.source) if x)
    families = sorted({_family(r) for r in a.rows})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cnncalc {__version__}">
<title>{escape(title)} — cnncalc report</title>
<style>{_CSS}</style></head>
<body data-model="{escape(a.model)}">
<header><h1>{escape(title)}</h1>
<p class="sub">{meta + "<br>" if meta else ""}model <code>{escape(a.model)}</code> · input {escape(fmt_shape(a.input))}
 · batch {a.batch} · {a.dtype.value}{" · " + escape(s.notes) if s.notes else ""}</p></header>
<section id="summary"><h2>Summary</h2>{_summary(a, u)}</section>
<section id="charts"><h2>Per layer</h2>{_legend(families)}{_charts(a, u)}</section>
{_network(graph, a)}
<section id="table"><h2>Layers</h2><p class="sub">Click a header to sort; hover a bar for exact values.</p>
{_table(a, u)}</section>
<section id="conventions"><h2>Conventions</h2>{_conventions(a, u)}</section>
<section id="spec"><h2>Spec</h2><p class="sub"><code>{escape(loaded.doc.file)}</code></p>
<pre><code>{escape(loaded.doc.text)}</code></pre></section>
<footer>Generated by cnncalc {__version__}. Self-contained: no network access needed.</footer>
<script>{_JS}</script>
</body></html>
"""
