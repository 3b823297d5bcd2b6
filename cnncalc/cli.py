"""The typer app: thin commands over the core, one error handler, exit codes 0 / 1 / 2."""

from __future__ import annotations

import copy
import functools
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from . import __version__
from .analysis import Analysis, DType, analyse, select
from .columns import EXACT, Units, build_table, pick
from .compat import StrEnum
from .conventions import ConventionName
from .cost.base import Amp as CostAmp
from .cost.base import Mode as CostMode
from .cost.base import Optimizer as CostOptimizer
from .errors import CnncalcError, SpecError, UsageError
from .export import to_csv, to_json, to_latex, to_markdown, write_atomic
from .graph import Graph, build_graph
from .spec import load_spec

app = typer.Typer(
    name="cnncalc", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Per-layer shapes, parameters, activation memory and multiply-adds of CNNs from a YAML spec.",
)
# markup off: names, answers and files print as written ('conv[1]' is not a style tag)
out = Console(highlight=False, soft_wrap=False, markup=False, width=None if sys.stdout.isatty() else 240)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

F = TypeVar("F", bound=Callable[..., Any])


def handled(fn: F) -> F:
    """Print user errors as ``file:line:col: error: …`` on stderr and exit 2; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as e:
            for d in e.diagnostics:
                err.print(str(d))
            n = sum(d.severity == "error" for d in e.diagnostics)
            err.print(f"{n} error{'s' if n != 1 else ''}", style="red")
            raise typer.Exit(2) from None
        except CnncalcError as e:
            err.print(f"error: {e}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class Format(StrEnum):
    table = "table"
    csv = "csv"
    markdown = "markdown"
    json = "json"
    latex = "latex"


_SUFFIX = {".csv": Format.csv, ".md": Format.markdown, ".markdown": Format.markdown, ".json": Format.json,
           ".tex": Format.latex}


def _format(fmt: Format | None, output: Path | None) -> Format:
    """The format asked for, else the one -o's suffix names (.csv, .md, .json, .tex), else the table."""
    return fmt or (_SUFFIX.get(output.suffix.lower(), Format.table) if output else Format.table)


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.replace("×", ",").replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"{what} must be comma-separated whole numbers, e.g. 3,224,224; got '{text}'") from None
    if any(v < 1 for v in vals) or len(vals) not in (1, 3):
        raise UsageError(f"{what} must be C,H,W or a feature count of positive numbers; got '{text}'")
    return vals


def _vars(items: list[str] | None) -> dict[str, int]:
    env: dict[str, int] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"--set wants NAME=VALUE, got '{item}'")
        try:
            env[key.strip()] = int(val)
        except ValueError:
            raise UsageError(f"--set {key}: '{val}' is not a whole number") from None
    return env


def _warn(analysis: Analysis) -> None:
    for w in analysis.warnings:
        err.print(str(w), style="yellow")


SpecArg = Annotated[str, typer.Argument(metavar="SPEC", help="Spec file (YAML) or built-in name, e.g. alexnet_cs231n.")]
BatchOpt = Annotated[int, typer.Option("--batch", "-b", min=1, help="Batch size (scales memory, MACs, ops).")]
DTypeOpt = Annotated[DType, typer.Option("--dtype", help="Activation element type.")]
InputOpt = Annotated[str | None, typer.Option("--input", help="Override the input shape: C,H,W or features.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Set a spec variable: NAME=VALUE (repeatable).")]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")]
ConventionOpt = Annotated[ConventionName | None, typer.Option(
    "--convention", help="Also count as this tool does (torchinfo, fvcore, ptflops, thop, torch) and say what differs.")]
SymbolicOpt = Annotated[bool, typer.Option(
    "--symbolic", help="Keep variables not given with --set as symbols: formulas such as 18·C²·H·W (needs sympy).")]

# Cost model options (cost, fit, and compare/sweep with --device)
DeviceOpt = Annotated[str, typer.Option(
    "--device", help="Device preset (see 'cnncalc devices') or a device YAML file.")]
ModeOpt = Annotated[CostMode, typer.Option("--mode", help="infer: one forward; train: forward, backward, optimizer step.")]
CostDTypeOpt = Annotated[DType, typer.Option("--dtype", help="Dtype of weights and activations: fp32, fp16 or bf16.")]
AmpOpt = Annotated[CostAmp | None, typer.Option("--amp", help="torch.autocast precision (weights stay fp32).")]
OptimizerOpt = Annotated[CostOptimizer, typer.Option(
    "--optimizer", help="sgd (plain), momentum (SGD with a momentum buffer), adam, adamw.")]
CostModelOpt = Annotated[str, typer.Option("--model", help="Cost model plug-in (see 'cnncalc devices').")]
ChannelsLastOpt = Annotated[bool, typer.Option(
    "--channels-last", help="NHWC memory format: no cuDNN layout transforms.")]
SummaryDeviceOpt = Annotated[str | None, typer.Option(
    "--device", help="Add the cost model's peak device memory, time per batch and throughput on this device "
                     "(preset, see 'cnncalc devices', or a device YAML file).")]
SummaryModeOpt = Annotated[CostMode, typer.Option(
    "--mode", help="With --device: infer (one forward) or train (forward, backward, optimizer step).")]


def load_analysis(spec: str, batch: int = 1, dtype: DType = DType.FP32, input_shape: str | None = None,
                  variables: list[str] | None = None, symbolic: bool = False) -> Analysis:
    """The common front of every command that analyses a spec (``symbolic``: unset variables stay symbols)."""
    return analyse(load_graph(spec, input_shape, variables, symbolic), batch, dtype)


def load_graph(spec: str, input_shape: str | None = None, variables: list[str] | None = None,
               symbolic: bool = False) -> Graph:
    """The spec (file or built-in name) built into a graph, with ``--input`` and ``--set`` applied."""
    shape = _ints(input_shape, "--input") if input_shape else None
    return build_graph(load_spec(spec, shape), _vars(variables), shape, symbolic=symbolic)


def emit(text: str, output: Path | None) -> None:
    """Data to stdout, or atomically to a file."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)
        err.print(f"wrote {output}")


@app.command()
@handled
def table(
    spec: SpecArg,
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.FP32,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    fmt: Annotated[Format | None, typer.Option("--format", "-f", help="Output format (default: from -o's suffix, else table).")] = None,
    output: OutOpt = None,
    flops: Annotated[bool, typer.Option("--flops", help="Show FLOPs = 2 × MACs instead of MACs.")] = False,
    si: Annotated[bool, typer.Option("--si", help="Decimal units: 1 kB = 1000 bytes (default KB = 1024).")] = False,
    depth: Annotated[int | None, typer.Option("--depth", "-d", min=0, help="Collapse blocks nested deeper than this.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First layer of the range to show and total.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last layer of the range to show and total.")] = None,
    columns: Annotated[str | None, typer.Option("--columns", "-c", help="Comma-separated column keys (see --list-columns).")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="Add exact params, MACs and memory bytes columns.")] = False,
    decimals: Annotated[int, typer.Option("--decimals", min=0, max=6, help="Decimals of the rounded columns.")] = 0,
    list_columns: Annotated[bool, typer.Option("--list-columns", help="List the available columns and exit.")] = False,
    bars: Annotated[bool, typer.Option("--bars", help="Inline unicode bars beside memory/params/MACs cells.")] = False,
    symbolic: SymbolicOpt = False,
    convention: ConventionOpt = None,
) -> None:
    """Print the per-layer table (shapes, memory, params, MACs) with totals."""
    if symbolic:
        if columns or exact or bars or list_columns:
            raise UsageError("--symbolic shows params, MACs and memory formulas; "
                             "--columns, --exact, --bars and --list-columns do not apply")
        _symbolic_table(spec, batch, dtype, input_shape, variables, fmt, output, flops, depth, start, end)
        return
    units = Units(kb=1000 if si else 1024, flops=flops, decimals=decimals)
    if list_columns:
        from .columns import COLUMNS
        for c in COLUMNS:
            out.print(f"{c.key:16} {c.header(units):12} {'(default) ' if c.default else ''}{c.doc}")
        return
    cols = pick([c.strip() for c in columns.split(",") if c.strip()] if columns else None,
                EXACT if exact else ())
    analysis = load_analysis(spec, batch, dtype, input_shape, variables)
    _warn(analysis)
    view = analysis.view(depth, start, end)
    fmt = _format(fmt, output)
    rec = _reconciled(convention, spec, view, input_shape, variables)
    if rec is not None:
        from .conventions import convention_column
        cols = (*cols, convention_column(rec, view.rows))
    data = build_table(view, cols, units)
    if fmt is Format.csv:
        emit(to_csv(data), output)
    elif fmt is Format.markdown:
        emit(to_markdown(data), output)
    elif fmt is Format.json:
        if rec is None:
            emit(to_json(view, units), output)
        else:
            from .conventions import convention_dict
            from .export import to_dict
            emit(json.dumps({**to_dict(view, units), "convention": convention_dict(rec, view.rows)}, indent=2) + "\n",
                 output)
    elif fmt is Format.latex:
        emit(to_latex(data), output)
    else:
        from .render import rich_table, shares_line
        _print_or_emit(output, rich_table(data, view, bars=bars), shares_line(view), *(rec.summary() if rec else ()))


@app.command()
@handled
def schema(output: OutOpt = None) -> None:
    """Print the JSON Schema of the spec format (for YAML editors)."""
    from .spec import json_schema
    emit(json.dumps(json_schema(), indent=2) + "\n", output)


@app.command()
@handled
def zoo() -> None:
    """List the built-in specs with their totals."""
    from rich.table import Table

    from . import analyse_spec
    from .spec import zoo_names
    t = Table(title="cnncalc built-in specs", header_style="bold")
    for h in ("Name", "Input", "Params", "MACs", "Memory (MB)", "Year", "Paper / source"):
        t.add_column(h, justify="right" if h in ("Params", "MACs", "Memory (MB)", "Year") else "left")
    for name in zoo_names():
        a = analyse_spec(name)
        s = load_spec(name).spec
        t.add_row(name, "×".join(map(str, a.input)), f"{a.totals.params:,}", f"{a.totals.macs:,}",
                  f"{a.totals.activation_bytes / 2**20:.1f}", str(s.year or ""), s.paper or s.source or "")
    out.print(t)


FromOpt = Annotated[list[str] | None, typer.Option(
    "--from", help="First layer of the range totalled: once for every model, or once per model ('-' for none).")]
ToOpt = Annotated[list[str] | None, typer.Option(
    "--to", help="Last layer of the range totalled: once for every model, or once per model ('-' for none).")]
SummaryFmtOpt = Annotated[Format | None, typer.Option(
    "--format", "-f", help="Output format (default: from -o's suffix, else table).")]
FlopsOpt = Annotated[bool, typer.Option("--flops", help="Show FLOPs = 2 × MACs instead of MACs.")]
SiOpt = Annotated[bool, typer.Option("--si", help="Decimal units: 1 kB = 1000 bytes (default KB = 1024).")]


def _emit_summaries(kind: str, summaries: list[Any], units: Units, fmt: Format | None, output: Path | None,
                    exact: bool, cost_note: str | None = None) -> None:
    from .compare import compare_table, summaries_dict, sweep_table
    data = (compare_table if kind == "compare" else sweep_table)(summaries, units, exact=exact)
    fmt = _format(fmt, output)
    if fmt is Format.json:
        emit(json.dumps(summaries_dict(kind, summaries, units, cost_note), indent=2) + "\n", output)
    elif fmt is not Format.table:
        emit({Format.csv: to_csv, Format.markdown: to_markdown, Format.latex: to_latex}[fmt](data), output)
    else:
        from .render import summary_table
        caption = (f"× = value / first row's · MB = {units.kb}² bytes of activations · {units.work} of "
                   "conv/deconv/fc, bias excluded"
                   + (" · depth = conv/deconv/fc layers · RF of the last spatial layer" if kind == "compare" else "")
                   + (f"\n{cost_note}" if cost_note else ""))
        _print_or_emit(output, summary_table(data, caption))


@app.command()
@handled
def compare(
    specs: Annotated[list[str], typer.Argument(metavar="SPEC", help="Specs (files or built-in names); ratios are against the first.")],
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.FP32,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    fmt: SummaryFmtOpt = None,
    output: OutOpt = None,
    flops: FlopsOpt = False,
    si: SiOpt = False,
    decimals: Annotated[int, typer.Option("--decimals", min=0, max=6, help="Decimals of MACs (M) and MB.")] = 1,
    exact: Annotated[bool, typer.Option("--exact", help="Add exact MACs and memory bytes columns.")] = False,
    symbolic: SymbolicOpt = False,
    convention: ConventionOpt = None,
    device: SummaryDeviceOpt = None,
    mode: SummaryModeOpt = CostMode.INFER,
    model: CostModelOpt = "roofline",
) -> None:
    """Totals of several networks side by side (params, MACs, memory, depth, RF) with ratios like 5.7×;
    with --device, the cost model's peak device memory, time per batch and throughput too."""
    from .compare import per_model, summarise
    froms, tos = per_model(start, len(specs), "--from"), per_model(end, len(specs), "--to")
    if symbolic:
        _symbolic_compare(specs, froms, tos, batch, dtype, input_shape, variables, fmt, output, flops)
        return
    if device and (start or end):
        raise UsageError("--device predicts whole networks; drop --from/--to or --device")
    units = Units(kb=1000 if si else 1024, flops=flops, decimals=decimals)
    costs = _summary_costs(device, model, units)
    summaries = []
    for name, a, b in zip(specs, froms, tos, strict=True):
        graph = load_graph(name, input_shape, variables)
        analysis = analyse(graph, batch, dtype)
        _warn(analysis)
        view = analysis.view(None, a, b)
        rec = _reconciled(convention, name, view, input_shape, variables)
        extras = []
        if rec is not None:
            from .conventions import convention_extra
            extras.append(convention_extra(rec))
        if costs:
            extras.extend(costs(graph, mode, batch, dtype))
        summaries.append(summarise(analysis, a, b, extras))
    _emit_summaries("compare", summaries, units, fmt, output, exact, _cost_note(device, model, mode))


@app.command()
@handled
def sweep(
    spec: SpecArg,
    batches: Annotated[str, typer.Option("--batch", "-b", help="Batch sizes, comma-separated: 1,8,64.")] = "1",
    sizes: Annotated[str | None, typer.Option(
        "--input", help="Input sizes, comma-separated: R (H = W = R), HxW or CxHxW, e.g. 224,299,384.")] = None,
    dtypes: Annotated[str, typer.Option("--dtype", help="Dtypes, comma-separated: fp32,fp16,int8.")] = "fp32",
    variables: SetOpt = None,
    start: Annotated[str | None, typer.Option("--from", help="First layer of the range totalled.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last layer of the range totalled.")] = None,
    fmt: SummaryFmtOpt = None,
    output: OutOpt = None,
    flops: FlopsOpt = False,
    si: SiOpt = False,
    decimals: Annotated[int, typer.Option("--decimals", min=0, max=6, help="Decimals of MACs (M) and MB.")] = 1,
    exact: Annotated[bool, typer.Option("--exact", help="Add exact MACs and memory bytes columns.")] = False,
    device: SummaryDeviceOpt = None,
    mode: SummaryModeOpt = CostMode.INFER,
    model: CostModelOpt = "roofline",
) -> None:
    """How the totals grow over batch × input size × dtype (cross product), with growth against the first;
    with --device, the cost model's peak device memory, time per batch and throughput too."""
    from .compare import parse_batches, parse_dtypes, parse_sizes, summarise
    if device and (start or end):
        raise UsageError("--device predicts whole networks; drop --from/--to or --device")
    units = Units(kb=1000 if si else 1024, flops=flops, decimals=decimals)
    costs = _summary_costs(device, model, units)
    loaded = load_spec(spec)
    env = _vars(variables)
    bs, dts = parse_batches(batches), parse_dtypes(dtypes)
    shapes: list[tuple[int, ...] | None] = [None]
    if sizes:
        shapes = list(parse_sizes(sizes, build_graph(loaded, env).input))
    summaries = []
    for shape in shapes:
        graph = build_graph(loaded, env, shape)
        for b in bs:
            for dt in dts:
                analysis = analyse(graph, b, dt)
                if shape is shapes[0] and b == bs[0] and dt == dts[0]:
                    _warn(analysis)
                summaries.append(summarise(analysis, start, end, costs(graph, mode, b, dt) if costs else ()))
    _emit_summaries("sweep", summaries, units, fmt, output, exact, _cost_note(device, model, mode))


def _cost_note(device: str | None, model: str, mode: CostMode) -> str | None:
    return (f"Peak, time and samples/s: '{model}' cost model, {device}, {mode.value} (PyTorch eager: peak = "
            "max_memory_allocated incl. weights; time per batch)") if device else None


def _summary_costs(device: str | None, model: str, units: Units) -> Callable[[Graph, CostMode, int, DType], Any] | None:
    """With ``--device``: a function giving the cost columns of one graph under one mode, batch and dtype."""
    if not device:
        return None
    from .compare import cost_extras
    from .cost import Workload, load, load_device
    dev, cost_model = load_device(device), load(model)

    def costs(graph: Graph, mode: CostMode, batch: int, dtype: DType) -> Any:
        return cost_extras(cost_model.predict(graph, dev, Workload(mode, batch, dtype)), units)

    return costs


@app.command()
@handled
def plot(
    specs: Annotated[list[str], typer.Argument(metavar="SPEC", help="One spec: per-layer bars; several: a compare chart.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file: .png, .svg or .pdf (written atomically).")],
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.FP32,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    depth: Annotated[int | None, typer.Option("--depth", "-d", min=0, help="Collapse blocks nested deeper than this.")] = None,
    flops: FlopsOpt = False,
    si: SiOpt = False,
) -> None:
    """Bar charts (needs the [plot] extra): memory, params and MACs per layer, or several networks compared."""
    from .compare import per_model, summarise
    from .plot import compare_figure, figure_format, layers_figure
    fmt = figure_format(output)
    units = Units(kb=1000 if si else 1024, flops=flops)
    froms, tos = per_model(start, len(specs), "--from"), per_model(end, len(specs), "--to")
    analyses = [load_analysis(name, batch, dtype, input_shape, variables) for name in specs]
    for a in analyses:
        _warn(a)
    if len(analyses) == 1:
        data = layers_figure(analyses[0].view(depth, froms[0], tos[0]), units, fmt)
    else:
        data = compare_figure([summarise(a, f, t) for a, f, t in zip(analyses, froms, tos, strict=True)], units, fmt)
    write_atomic(output, data)
    err.print(f"wrote {output}")


@app.command()
@handled
def report(
    spec: SpecArg,
    output: OutOpt = None,
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.FP32,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    depth: Annotated[int | None, typer.Option("--depth", "-d", min=0, help="Collapse blocks nested deeper than this.")] = None,
    flops: FlopsOpt = False,
    si: SiOpt = False,
) -> None:
    """A self-contained HTML report: summary, charts, sortable layer table, conventions and the spec."""
    from .report import to_html
    loaded = load_spec(spec)
    shape = _ints(input_shape, "--input") if input_shape else None
    analysis = analyse(build_graph(loaded, _vars(variables), shape), batch, dtype)
    _warn(analysis)
    emit(to_html(loaded, analysis.view(depth), Units(kb=1000 if si else 1024, flops=flops)), output)


class CheckFormat(StrEnum):
    table = "table"
    json = "json"


class SheetFmt(StrEnum):
    csv = "csv"
    markdown = "markdown"
    yaml = "yaml"


class QuizKindOpt(StrEnum):
    conv = "conv"
    pool = "pool"
    fc = "fc"
    network = "network"


@app.command()
@handled
def check(
    spec: SpecArg,
    answers: Annotated[Path, typer.Argument(metavar="ANSWERS", help="Filled worksheet: CSV/TSV, Markdown pipe table or YAML.")],
    rules_file: Annotated[Path | None, typer.Option("--rules", help="Course conventions (YAML): kb, work, points…")] = None,
    rtol: Annotated[float | None, typer.Option("--rtol", min=0, help="Relative tolerance (PrairieLearn relabs).")] = None,
    atol: Annotated[float | None, typer.Option("--atol", min=0, help="Absolute tolerance, in the column's units.")] = None,
    digits: Annotated[int | None, typer.Option("--digits", min=1, max=15, help="Significant digits (PrairieLearn sigfig).")] = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Verdicts as a table or as JSON.")] = CheckFormat.table,
    gradescope: Annotated[Path | None, typer.Option("--gradescope", help="Also write Gradescope's results.json here.")] = None,
    wrong: Annotated[bool, typer.Option("--wrong", help="Show only the wrong and unanswered cells.")] = False,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    start: Annotated[str | None, typer.Option("--from", help="The worksheet covers the layers from this one.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="… up to this one (its Total row is that range's).")] = None,
) -> None:
    """Check a filled worksheet cell by cell: ✓/✗, expected value, formula, the slip made. Exit 0 all right, 1 not."""
    from .answers import read_sheet
    from .check import (
        Rules,
        Tolerance,
        grade,
        gradescope_results,
        load_rules,
        report_dict,
        summary_markdown,
        verdict_table,
    )
    from .explain import explain_all
    rules = load_rules(rules_file) if rules_file else Rules()
    shape = _ints(input_shape, "--input") if input_shape else None
    graph = build_graph(load_spec(spec), _vars(variables), shape)
    analysis = analyse(graph, rules.batch, rules.dtype)
    report = grade(analysis, read_sheet(answers), rules, explain_all(graph, analysis, rules.kb),
                   {n.name: n.layer for n in graph.nodes}, Tolerance(rtol=rtol, atol=atol, digits=digits),
                   # formula answers (18C²HW) are judged on the spec read with symbols
                   symbolic=lambda: analyse(build_graph(load_spec(spec), _vars(variables), shape, symbolic=True),
                                            rules.batch, rules.dtype),
                   start=start, end=end)
    for w in report.warnings:
        err.print(str(w), style="yellow")
    if gradescope is not None:
        write_atomic(gradescope, json.dumps(gradescope_results(report), indent=2, ensure_ascii=False) + "\n")
        err.print(f"wrote {gradescope}")
    if fmt is CheckFormat.json:
        sys.stdout.write(json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n")
    else:
        if (table_ := verdict_table(report, wrong_only=wrong)).row_count:
            out.print(table_)
        out.print(summary_markdown(report, markdown=False))
    raise typer.Exit(0 if report.all_right else 1)


@app.command()
@handled
def template(
    spec: SpecArg,
    columns: Annotated[str | None, typer.Option("--columns", "-c", help="Columns to ask (blank), comma-separated; default c_out,hw_out,memory_kb,params_k,macs_m.")] = None,
    fmt: Annotated[SheetFmt, typer.Option("--format", "-f", help="Worksheet format.")] = SheetFmt.csv,
    totals: Annotated[bool, typer.Option("--totals", help="Add a Total row to fill.")] = False,
    output: OutOpt = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    depth: Annotated[int | None, typer.Option(
        "--depth", "-d", min=0, help="One row per block instance nested deeper than this (check follows).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First layer of the rows asked.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last layer of the rows asked.")] = None,
) -> None:
    """A worksheet: layer names and hyper-parameters given, the asked cells blank (like the seeds' '?')."""
    from .answers import render_worksheet, worksheet
    analysis = load_analysis(spec, input_shape=input_shape, variables=variables).view(depth, start, end)
    asked = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    emit(render_worksheet(worksheet(analysis, asked, totals=totals), fmt.value, totals), output)


@app.command()
@handled
def explain(
    spec: SpecArg,
    layer: Annotated[str, typer.Argument(metavar="LAYER", help="Layer name, as in the table.")],
    batch: BatchOpt = 1,
    dtype: DTypeOpt = DType.FP32,
    si: Annotated[bool, typer.Option("--si", help="Decimal units: 1 kB = 1000 bytes (default KB = 1024).")] = False,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
) -> None:
    """Every formula of one layer with its numbers plugged in (output size, memory, params, MACs, RF)."""
    from .explain import explain_all
    shape = _ints(input_shape, "--input") if input_shape else None
    graph = build_graph(load_spec(spec), _vars(variables), shape)
    analysis = analyse(graph, batch, dtype)
    row = select(list(analysis.rows), layer, layer)[0]
    formulas = explain_all(graph, analysis, 1000 if si else 1024)[row.name]
    ins = ", ".join("×".join(map(str, s)) for s in row.inputs)
    out.print(f"{row.name} ({row.type}): {ins} → {'×'.join(map(str, row.output))}")
    width = max(len(f.quantity) for f in formulas)
    for f in formulas:
        out.print(f"  {f.quantity:<{width}} = {f.symbolic}")
        out.print(f"  {'':<{width}} = {f.numeric} = {f.value}")


@app.command()
@handled
def quiz(
    seed: Annotated[int | None, typer.Option("--seed", help="Seed; the same seed gives the same exercise.")] = None,
    kind: Annotated[QuizKindOpt, typer.Option("--kind", help="Exercise kind.")] = QuizKindOpt.network,
    key: Annotated[bool, typer.Option("--key/--no-key", help="Include the answer key.")] = True,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write NAME.yaml, NAME_worksheet.csv, NAME_key.csv, NAME.md here.")] = None,
) -> None:
    """A random exercise (spec, worksheet, answer key), reproducible with --seed."""
    import random

    from .quiz import make_quiz
    q = make_quiz(seed if seed is not None else random.SystemRandom().randrange(10**6), kind.value)
    if out_dir is None:
        sys.stdout.write(q.markdown(key) + "\n")
        return
    if not out_dir.is_dir():
        raise UsageError(f"--out: folder {out_dir} does not exist")
    files = {f"{q.name}.yaml": q.spec_text, f"{q.name}_worksheet.csv": q.worksheet("csv"),
             f"{q.name}.md": q.markdown(key)}
    if key:
        files[f"{q.name}_key.csv"] = q.key("csv")
    for fname, text in files.items():
        write_atomic(out_dir / fname, text)
        err.print(f"wrote {out_dir / fname}")


def _symbolic_view(spec: str, batch: int, dtype: DType, input_shape: str | None, variables: list[str] | None,
                   depth: int | None, start: str | None, end: str | None) -> Analysis:
    analysis = load_analysis(spec, batch, dtype, input_shape, variables, symbolic=True)
    _warn(analysis)
    return analysis.view(depth, start, end)


def _symbolic_table(spec: str, batch: int, dtype: DType, input_shape: str | None, variables: list[str] | None,
                    fmt: Format | None, output: Path | None, flops: bool, depth: int | None,
                    start: str | None, end: str | None) -> None:
    """``table --symbolic``: the per-layer formulas; LaTeX inside Markdown and LaTeX exports."""
    from . import symtable as st
    t = st.symbolic_table(_symbolic_view(spec, batch, dtype, input_shape, variables, depth, start, end), flops)
    fmt = _format(fmt, output)
    if fmt is Format.table:
        _print_or_emit(output, st.rich_symbolic(t))
    else:
        emit({Format.csv: st.symbolic_csv, Format.markdown: st.symbolic_markdown, Format.json: st.symbolic_json,
              Format.latex: st.symbolic_latex}[fmt](t), output)


def _symbolic_compare(specs: list[str], froms: list[str | None], tos: list[str | None], batch: int, dtype: DType,
                      input_shape: str | None, variables: list[str] | None, fmt: Format | None,
                      output: Path | None, flops: bool) -> None:
    """``compare --symbolic``: total formulas, ratios against the first spec and their limits."""
    from . import symtable as st
    if len(specs) < 2:
        raise UsageError("compare --symbolic needs at least two specs")
    tables = [st.symbolic_table(_symbolic_view(s, batch, dtype, input_shape, variables, None, a, b), flops)
              for s, a, b in zip(specs, froms, tos, strict=True)]
    ratios = st.symbolic_ratios(tables)
    fmt = _format(fmt, output)
    if fmt is Format.table:
        _print_or_emit(output, st.rich_ratios(tables, ratios))
    elif fmt is Format.csv:
        emit(st.ratios_csv(ratios), output)
    else:
        emit({Format.markdown: st.ratios_markdown, Format.json: st.ratios_json,
              Format.latex: st.ratios_latex}[fmt](tables, ratios), output)


def _print_or_emit(output: Path | None, *renderables: Any) -> None:
    """Rich tables and lines to the terminal, or as plain text (200 columns) atomically to ``output``."""
    console = out if output is None else Console(file=io.StringIO(), width=200, markup=False, highlight=False)
    for r in renderables:
        console.print(r)
    if output is not None:
        emit(console.file.getvalue(), output)  # type: ignore[attr-defined]


def _reconciled(convention: ConventionName | None, spec: str, view: Analysis, input_shape: str | None,
                variables: list[str] | None) -> Any:
    """What the tool ``--convention`` names counts for the rows of ``view`` (None without the option)."""
    if convention is None:
        return None
    from .conventions import reconcile
    shape = _ints(input_shape, "--input") if input_shape else None
    graph = build_graph(load_spec(spec), _vars(variables), shape)
    return reconcile(convention.value, view, {n.name: n.layer for n in graph.nodes})


@app.command("import")
@handled
def import_(
    model: Annotated[str | None, typer.Argument(metavar="MODEL.onnx", help="An .onnx file (needs the onnx extra).")] = None,
    torch_ref: Annotated[str | None, typer.Option(
        "--torch", help="package.module:factory returning a PyTorch nn.Module (needs the torch extra).")] = None,
    output: OutOpt = None,
    input_shape: Annotated[str | None, typer.Option(
        "--input", help="Input C,H,W to trace --torch models with (default 3,224,224).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The spec's name (default: from the file or class).")] = None,
    flat: Annotated[bool, typer.Option("--flat", help="One entry per layer: no blocks, no repeat.")] = False,
) -> None:
    """Write a spec from an ONNX graph or a PyTorch module: names kept, weights ignored, repeats folded."""
    from .importers import onnx_spec_text, torch_spec_text
    if (model is None) == (torch_ref is None):
        raise UsageError("give an .onnx file or --torch package.module:factory (one of them)")
    if model is not None:
        if input_shape:
            raise UsageError("--input applies to --torch; an ONNX graph has its own input shape")
        if not Path(model).is_file():
            raise UsageError(f"no such file: {model}")
        text = onnx_spec_text(model, fold=not flat, name=name or "")
    else:
        assert torch_ref is not None
        shape = _ints(input_shape, "--input") if input_shape else (3, 224, 224)
        text = torch_spec_text(torch_ref, shape, fold=not flat, name=name or "")
    emit(text, output)


# ----------------------------------------------------------------------------- cost models



class CostFormat(StrEnum):
    table = "table"
    json = "json"


def _cost_inputs(spec: str, device: str, model: str, input_shape: str | None,
                 variables: list[str] | None) -> tuple[Any, Any, Any]:
    from .cost import load, load_device
    return load_graph(spec, input_shape, variables), load_device(device), load(model)




@app.command()
@handled
def cost(
    spec: SpecArg,
    device: DeviceOpt,
    mode: ModeOpt = CostMode.INFER,
    batch: BatchOpt = 1,
    dtype: CostDTypeOpt = DType.FP32,
    amp: AmpOpt = None,
    optimizer: OptimizerOpt = CostOptimizer.SGD,
    model: CostModelOpt = "roofline",
    channels_last: ChannelsLastOpt = False,
    fmt: Annotated[CostFormat, typer.Option("--format", "-f", help="Tables, or JSON (peak_memory_bytes, time_ms, throughput, …).")] = CostFormat.table,
    output: OutOpt = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N slowest layers.")] = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
) -> None:
    """Predicted peak device memory (with breakdown) and time per batch, per layer with its bound."""
    from .cost import Workload
    from .cost.report import layer_table, memory_table, summary_lines
    graph, dev, cost_model = _cost_inputs(spec, device, model, input_shape, variables)
    report = cost_model.predict(graph, dev, Workload(mode, batch, dtype, amp, optimizer, channels_last))
    if fmt is CostFormat.json:
        emit(json.dumps(report.to_dict(), indent=2) + "\n", output)
        return
    _print_or_emit(output, *summary_lines(report), memory_table(report), layer_table(report, top))


@app.command("fit")
@handled
def fit_batch(
    spec: SpecArg,
    device: DeviceOpt,
    mode: ModeOpt = CostMode.TRAIN,
    dtype: CostDTypeOpt = DType.FP32,
    amp: AmpOpt = None,
    optimizer: OptimizerOpt = CostOptimizer.SGD,
    model: CostModelOpt = "roofline",
    channels_last: ChannelsLastOpt = False,
    headroom: Annotated[float, typer.Option(
        "--headroom", min=0.0, max=0.99, help="Share of device memory kept free (CUDA context, fragmentation).")] = 0.0,
    fmt: Annotated[CostFormat, typer.Option("--format", "-f", help="Text or JSON.")] = CostFormat.table,
    output: OutOpt = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
) -> None:
    """The largest batch whose predicted peak memory fits the device (training by default)."""
    from .cost import Workload, largest_batch
    from .cost.report import fit_dict, fit_lines
    graph, dev, cost_model = _cost_inputs(spec, device, model, input_shape, variables)
    found = largest_batch(cost_model, graph, dev, Workload(mode, 1, dtype, amp, optimizer, channels_last), headroom)
    if fmt is CostFormat.json:
        emit(json.dumps(fit_dict(found, dev), indent=2) + "\n", output)
    else:
        emit("\n".join(fit_lines(found, dev)) + "\n", output)


@app.command()
@handled
def devices(
    fmt: Annotated[CostFormat, typer.Option("--format", "-f", help="Tables, or JSON.")] = CostFormat.table,
    output: OutOpt = None,
) -> None:
    """The device presets (peak FLOP/s, memory, bandwidth) and the cost models on offer."""
    from .cost import discover, load_device, preset_names
    from .cost.report import devices_table, models_table
    devs = [load_device(n) for n in preset_names()]
    if fmt is CostFormat.json:
        emit(json.dumps({"devices": [d.model_dump(mode="json") for d in devs],
                         "cost_models": {p.name: p.value for p in discover().values()}}, indent=2) + "\n", output)
        return
    _print_or_emit(output, devices_table(devs), models_table(discover()))


@app.command()
@handled
def calibrate(
    device: Annotated[str, typer.Option(
        "--device", help="Preset (or file) giving the datasheet peaks and bandwidth to start from.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Device YAML file to write (atomically).")],
    name: Annotated[str | None, typer.Option("--name", help="Name of the new device (default: the preset's).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer probes and repetitions (a rough fit).")] = False,
) -> None:
    """Time single-layer and small-network probes with PyTorch on a CUDA GPU (on the CPU for a kind: cpu device); write a fitted device file ([torch] extra)."""
    from .cost import load_device
    from .cost.calibrate import calibrate as run_calibration
    text = run_calibration(load_device(device), name=name, quick=quick,
                           progress=lambda msg: err.print(msg))
    emit(text, output)


def _version(value: bool) -> None:
    if value:
        out.print(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """cnncalc: the numbers of a convolutional network."""


def main() -> None:
    """Console-script entry point.

    Typer turns the signature of every command into click parameters on each start, a tenth of a
    second for all of them; when the first argument names a command, only that one is built.
    """
    sys.argv = torch_option(sys.argv)
    chosen = [c for c in app.registered_commands if len(sys.argv) > 1 and _command_name(c) == sys.argv[1]]
    if not chosen:
        app()
        return
    one = copy.copy(app)
    one.registered_commands = chosen
    one()


def torch_option(argv: list[str]) -> list[str]:
    """``--torch package.module:factory`` on any command but ``import`` is the SPEC
    ``torch:package.module:factory``: the model imported and analysed in one step."""
    if len(argv) < 2 or argv[1] == "import":
        return argv
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--torch":
            out.append("torch:" + next(it, ""))
        elif a.startswith("--torch="):
            out.append("torch:" + a[len("--torch="):])
        else:
            out.append(a)
    return out


def _command_name(info: typer.models.CommandInfo) -> str:
    from typer.main import get_command_name
    return info.name or get_command_name(info.callback.__name__ if info.callback else "")


__all__ = ["UsageError", "app", "main"]
