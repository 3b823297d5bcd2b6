"""The typer app: thin commands over the core, one error handler, exit codes 0 / 1 / 2."""

# No `from __future__ import annotations` here: typer reads every command's signature on each start,
# and string annotations would be evaluated anew each time it reads them (several times a start).
import copy
import errno
import functools
import gc
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from . import __version__
from .analysis import Analysis, DType, analyse, select
from .choices import ConventionName
from .columns import EXACT, Units, build_table, fit_units, pick
from .compat import StrEnum
from .cost.options import Amp as CostAmp
from .cost.options import MemoryFormat as CostMemoryFormat
from .cost.options import Mode as CostMode
from .cost.options import Optimizer as CostOptimizer
from .errors import CnncalcError, SpecError, UsageError
from .export import to_csv, to_json, to_latex, to_markdown, write_atomic
from .graph import Graph, build_graph
from .limits import MAX_SWEEP_LAYERS, MAX_SWEEP_POINTS, check_float_range, limit_error
from .spec import load_spec

if TYPE_CHECKING:
    from rich.console import Console

#: What an option's value is, in its help line (instead of typer's <str>, <int range>, <list[str]>).
_METAVARS = {"--set": "NAME=VALUE", "--from": "LAYER", "--to": "LAYER", "--input": "C,H,W", "--batch": "N",
             "--output": "FILE", "--columns": "KEY,…", "--depth": "N", "--decimals": "N", "--top": "N",
             "--seed": "N", "--out": "DIR", "--rules": "FILE", "--gradescope": "FILE", "--torch": "MODULE:FACTORY",
             "--name": "NAME", "--device": "DEVICE", "--model": "NAME", "--headroom": "SHARE", "--rtol": "X",
             "--atol": "X", "--digits": "N"}


class _Group(TyperGroup):
    """The command group, its commands' help without typer's type labels (<bool>, <list[str]>)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        for p in cmd.params if cmd is not None else ():
            if p.param_type_name == "argument" and hasattr(p, "display_type_rich"):
                setattr(p, "display_type_rich", lambda ctx: None)  # noqa: B010  the metavar says it
            elif p.param_type_name == "option" and not getattr(p, "is_flag", False) and p.metavar is None \
                    and not _is_choice(p):
                p.metavar = next((_METAVARS[o] for o in p.opts if o in _METAVARS), None) \
                    or max(p.opts, key=len).lstrip("-").upper()
        return cmd


def _is_choice(p: Any) -> bool:
    """An option whose help lists its choices (typer ≥ 0.2x describes types apart from click)."""
    desc = getattr(p, "type_descriptor", None)
    return bool(getattr(desc, "is_choice", False) or hasattr(getattr(p, "type", None), "choices"))


app = typer.Typer(
    cls=_Group,
    name="cnncalc", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text as written: "[plot]" is the name of an extra, not a style tag
    help="Per-layer shapes, parameters, activation memory and multiply-adds of CNNs from a YAML spec.",
)
# markup off: names, answers and files print as written ('conv[1]' is not a style tag)
class _Lazy:
    """A rich Console made on first use: commands that print plain data (JSON, CSV) never import rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console
            self._console = Console(**self._options)
        return getattr(self._console, name)


out: "Console" = _Lazy(highlight=False, soft_wrap=False, markup=False,  # type: ignore[assignment]
                     width=None if sys.stdout.isatty() else 240)
err: "Console" = _Lazy(stderr=True, highlight=False, soft_wrap=True, markup=False)  # type: ignore[assignment]

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
        except OSError as e:
            if e.errno not in _OUTPUT_ERRNOS:
                raise
            _output_failed(e)

    return wrapper  # type: ignore[return-value]


#: Errors of writing standard output (full disk, closed pipe, quota, file too large, I/O error).
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EFBIG}

#: Exit code of an internal error (a bug, not the input): 0 success, 1 wrong answers, 2 could not run.
EXIT_INTERNAL = 3


def _output_failed(e: OSError) -> None:
    """Standard output could not be written: one line (none for a reader that went away) and exit 2."""
    try:  # later flushes of what is still buffered go nowhere, quietly
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass
    if e.errno != errno.EPIPE:  # `cnncalc … | head` closing early is not worth a message
        err.print(f"error: cannot write the output: {e.strerror or e}")
    raise typer.Exit(2)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    markdown = "markdown"
    json = "json"
    latex = "latex"


_SUFFIX = {".csv": Format.csv, ".md": Format.markdown, ".markdown": Format.markdown, ".json": Format.json,
           ".tex": Format.latex}


def _format(fmt: Format | None, output: Path | None) -> Format:
    """The format asked for, else the one -o's suffix names (.csv, .md, .json, .tex; .txt or none: the
    table); another suffix (out.xlsx) is refused rather than given a text table."""
    if fmt or output is None:
        return fmt or Format.table
    suffix = output.suffix.lower()
    if suffix not in _SUFFIX and suffix not in ("", ".txt"):
        raise UsageError(f"-o {output}: cnncalc does not write '{suffix}' files; use .csv, .md, .json, .tex "
                         "or .txt, or choose the format with --format")
    return _SUFFIX.get(suffix, Format.table)


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
    "--channels-last", help="The same as --memory-format channels_last.")]
MemoryFormatOpt = Annotated[CostMemoryFormat | None, typer.Option(
    "--memory-format", help="contiguous (NCHW, the default) or channels_last (NHWC: no cuDNN layout transforms).")]
FreshOpt = Annotated[bool, typer.Option(
    "--fresh-process", help="The process runs only this workload: only the cuBLAS workspaces it creates "
                            "(default: a warm process, as after a training step).")]
TF32Opt = Annotated[bool, typer.Option(
    "--tf32/--no-tf32", help="PyTorch's default: fp32 convs on TF32 tensor cores, matmuls strict fp32; "
                             "--no-tf32: strict fp32 everywhere.")]
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
    spec: Annotated[str | None, typer.Argument(
        metavar="SPEC", help="Spec file (YAML) or built-in name, e.g. alexnet_cs231n.", show_default=False)] = None,
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
    if symbolic and (columns or exact or bars or list_columns):
        raise UsageError("--symbolic shows params, MACs and memory formulas; "
                         "--columns, --exact, --bars and --list-columns do not apply")
    units = Units(kb=1000 if si else 1024, flops=flops, decimals=decimals)
    if list_columns:
        from .columns import COLUMNS
        for c in COLUMNS:
            out.print(f"{c.key:16} {c.header(units):12} {'(default) ' if c.default else ''}{c.doc}")
        return
    if spec is None:
        raise UsageError("table needs a SPEC (a YAML file or a built-in name; 'cnncalc zoo' lists them)")
    if symbolic:
        _symbolic_table(spec, batch, dtype, input_shape, variables, fmt, output, flops, depth, start, end)
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
        emit(to_markdown(fit_units(data)), output)
    elif fmt is Format.json:
        if rec is None:
            emit(to_json(view, units), output)
        else:
            from .conventions import convention_dict
            from .export import to_dict
            emit(json.dumps({**to_dict(view, units), "convention": convention_dict(rec, view.rows)}, indent=2) + "\n",
                 output)
    elif fmt is Format.latex:
        emit(to_latex(fit_units(data)), output)
    else:
        from .analysis import parameter_lines
        from .render import footer, rich_table, shares_line
        width = _term_width() if output is None else None
        keep = frozenset(c.key for c in cols) if columns else frozenset(EXACT if exact else ())
        table_ = rich_table(fit_units(data), view, bars=bars, width=width, keep=keep, tree=depth is not None)
        _print_or_emit(output, table_, footer(view, units), shares_line(view), *parameter_lines(view),
                       *(rec.summary() if rec else ()), width=width)


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
    from . import analyse_spec
    from .render import Col, fit_width, grid
    from .spec import zoo_names
    names = zoo_names()
    rows = []
    for name in names:
        a = analyse_spec(name)
        s = load_spec(name).spec
        rows.append((name, "×".join(map(str, a.input)), f"{a.totals.params:,}", f"{a.totals.macs:,}",
                     f"{a.totals.activation_bytes / 2**20:.1f}", str(s.year or ""), s.paper or s.source or ""))
    heads = (("name", "Name", False), ("input", "Input", False), ("params", "Params", True),
             ("macs", "MACs", True), ("memory", "Memory (MB)", True), ("year", "Year", True),
             ("paper", "Paper / source", False))
    cols = [Col(h, [r[j] for r in rows], right=right, key=k) for j, (k, h, right) in enumerate(heads)]
    width = _term_width()
    margin, gap, note = 2, 3, ""
    if width is not None:  # names and numbers whole; the paper, then the year and input, left out
        cols, margin, gap, note = fit_width(cols, width, frozenset({"name", "params", "macs"}),
                                            ("paper", "year", "input", "memory"))
    _print_or_emit(None, grid("cnncalc built-in specs", cols, note, margin=margin, gap=gap, max_width=width),
                   width=width)


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
                   "conv/deconv/fc and matmuls (attention), bias excluded"
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
    depth: Annotated[int | None, typer.Option(
        "--depth", "-d", min=0, help="Fold blocks nested deeper than this first (the Layers column names rows).")] = None,
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
    memory_format: MemoryFormatOpt = None,
    channels_last: ChannelsLastOpt = False,
    tf32: TF32Opt = True,
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
    costs = _summary_costs(device, model, units, _memory_format(memory_format, channels_last), tf32)
    summaries = []
    for name, a, b in zip(specs, froms, tos, strict=True):
        graph = load_graph(name, input_shape, variables)
        analysis = analyse(graph, batch, dtype)
        _warn(analysis)
        view = analysis.view(depth, a, b)
        rec = _reconciled(convention, name, view, input_shape, variables)
        extras = []
        if rec is not None:
            from .conventions import convention_extra
            extras.append(convention_extra(rec))
        if costs:
            extras.extend(costs(graph, mode, batch, dtype))
        summaries.append(summarise(analysis, a, b, extras, depth))
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
    memory_format: MemoryFormatOpt = None,
    channels_last: ChannelsLastOpt = False,
    tf32: TF32Opt = True,
) -> None:
    """How the totals grow over batch × input size × dtype (cross product), with growth against the first;
    with --device, the cost model's peak device memory, time per batch and throughput too."""
    from .compare import parse_batches, parse_dtypes, parse_sizes, summarise
    if device and (start or end):
        raise UsageError("--device predicts whole networks; drop --from/--to or --device")
    units = Units(kb=1000 if si else 1024, flops=flops, decimals=decimals)
    costs = _summary_costs(device, model, units, _memory_format(memory_format, channels_last), tf32)
    loaded = load_spec(spec)
    env = _vars(variables)
    bs, dts = parse_batches(batches), parse_dtypes(dtypes)
    shapes: list[tuple[int, ...] | None] = [None]
    if sizes:
        shapes = list(parse_sizes(sizes, build_graph(loaded, env).input))
    if (points := len(shapes) * len(bs) * len(dts)) > MAX_SWEEP_POINTS:
        raise UsageError(f"the sweep has {points:,} points ({len(shapes):,} inputs × {len(bs):,} batches × "
                         f"{len(dts)} dtypes); the limit is {MAX_SWEEP_POINTS:,} (each point is a whole "
                         "analysis and a row of the table): sweep fewer values")
    summaries = []
    for shape in shapes:
        graph = build_graph(loaded, env, shape)
        if (work := points * len(graph.nodes)) > MAX_SWEEP_LAYERS:
            raise UsageError(limit_error(f"the sweep's {points:,} points × {len(graph.nodes):,} layers "
                                         f"({work:,} layer analyses)", MAX_SWEEP_LAYERS, "layer analyses",
                                         "each point analyses every layer again") + ": sweep fewer values")
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


def _memory_format(memory_format: CostMemoryFormat | None, channels_last: bool) -> CostMemoryFormat:
    """--memory-format, or its alias --channels-last (contiguous when neither is given)."""
    if channels_last and memory_format is CostMemoryFormat.CONTIGUOUS:
        raise UsageError("--channels-last and --memory-format contiguous contradict each other; give one")
    return CostMemoryFormat.CHANNELS_LAST if channels_last else memory_format or CostMemoryFormat.CONTIGUOUS


def _summary_costs(device: str | None, model: str, units: Units,
                   memory_format: CostMemoryFormat = CostMemoryFormat.CONTIGUOUS,
                   tf32: bool = True) -> Callable[[Graph, CostMode, int, DType], Any] | None:
    """With ``--device``: a function giving the cost columns of one graph under one mode, batch and dtype."""
    if not device:
        return None
    from .compare import cost_extras
    from .cost import Workload, load, load_device
    dev, cost_model = load_device(device), load(model)

    def costs(graph: Graph, mode: CostMode, batch: int, dtype: DType) -> Any:
        w = Workload(mode, batch, dtype, memory_format=memory_format, tf32=tf32)
        return cost_extras(cost_model.predict(graph, dev, w), units)

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
        check_float_range({"MACs": 2 * a.totals.macs, "ops": a.totals.ops, "activation bytes": a.totals.activation_bytes,
                           "parameters": a.totals.params}, "plot")
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
    graph = build_graph(loaded, _vars(variables), shape)
    analysis = analyse(graph, batch, dtype)
    _warn(analysis)
    emit(to_html(loaded, analysis.view(depth), Units(kb=1000 if si else 1024, flops=flops), graph), output)


class Engine(StrEnum):
    dot = "dot"
    grandalf = "grandalf"


@app.command("graph")
@handled
def graph_(
    spec: SpecArg,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="net.svg (the drawing) or net.dot (Graphviz source); default: SVG on stdout.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="svg or dot (default: from -o's suffix, else svg).")] = None,
    depth: Annotated[int | None, typer.Option("--depth", "-d", min=0, help="Fold blocks nested deeper than this.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First layer (or block) drawn.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last layer (or block) drawn.")] = None,
    engine: Annotated[Engine | None, typer.Option(
        "--engine", help="Layout engine (default: Graphviz's dot where installed, else grandalf).")] = None,
    batch: BatchOpt = 1,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
) -> None:
    """The network drawn: a box per layer (shape, params, MACs), an arrow per edge, a frame per block."""
    from .draw import layout, net_of, to_dot, to_svg
    kind = (fmt or (output.suffix.lstrip(".").lower() if output else "svg")).lower()
    if kind not in ("svg", "dot", "gv"):
        raise UsageError(f"graph writes svg or dot, not '{kind}'")
    graph = load_graph(spec, input_shape, variables)
    analysis = analyse(graph, batch)
    _warn(analysis)
    net = net_of(graph, analysis.view(depth, start, end))
    emit(to_dot(net) if kind in ("dot", "gv") else to_svg(layout(net, engine.value if engine else None)), output)


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
    """Check a filled worksheet cell by cell: ✓/✗, expected value, formula, the slip made. Exit 0 all right, 1 not.

    SPEC may be an assignment file (YAML with questions:), ANSWERS then the submission folder: every
    question is checked and --gradescope gets one results.json. With --gradescope a results.json is
    always written, with score 0 and the reason when the sheet cannot be graded."""
    from .check import Rules, Tolerance, gradescope_results, load_rules, report_dict, summary_markdown, verdict_table
    from .check.assignment import is_assignment
    from .check.outputs import failure_results
    tolerance = Tolerance(rtol=rtol, atol=atol, digits=digits)
    try:
        if is_assignment(spec):
            _check_assignment(spec, answers, rules_file, tolerance, fmt, gradescope, wrong)
        rules = load_rules(rules_file) if rules_file else Rules()
        report = _grade_sheet(spec, answers, rules, tolerance, input_shape, variables, start, end)
    except Exception as e:
        if gradescope is not None and not isinstance(e, typer.Exit):
            write_atomic(gradescope, json.dumps(failure_results(_reason(e)), indent=2, ensure_ascii=False) + "\n")
            err.print(f"wrote {gradescope}")
        raise
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


def _reason(e: BaseException) -> str:
    """An exception as the one-paragraph reason a student reads in results.json."""
    if isinstance(e, SpecError):
        return "\n".join(f"- {d}" for d in e.diagnostics)
    if isinstance(e, CnncalcError):
        return f"error: {e}"
    return f"internal error ({type(e).__name__}); please report it to the course staff"


def _grade_sheet(spec: str, answers: Path, rules: Any, tolerance: Any, input_shape: str | None,
                 variables: list[str] | None, start: str | None, end: str | None) -> Any:
    """Read one sheet and grade it against its spec (a Report)."""
    from .check import grade, read_sheet
    from .explain import explain_all
    shape = _ints(input_shape, "--input") if input_shape else None
    loaded = load_spec(spec)
    graph = build_graph(loaded, _vars(variables), shape)
    analysis = analyse(graph, rules.batch, rules.dtype)
    return grade(analysis, read_sheet(answers), rules, explain_all(graph, analysis, rules.kb),
                 {n.name: n.layer for n in graph.nodes}, tolerance,
                 # formula answers (18C²HW) are judged on the spec read with symbols (parsed once)
                 symbolic=lambda: analyse(build_graph(loaded, _vars(variables), shape, symbolic=True),
                                          rules.batch, rules.dtype),
                 start=start, end=end)


def _check_assignment(path: str, folder: Path, rules_file: Path | None, tolerance: Any, fmt: Any,
                      gradescope: Path | None, wrong: bool) -> None:
    """Every question of an assignment file against the sheets in ``folder``; one results.json."""
    from .check import Rules, load_rules, report_dict, summary_markdown, verdict_table
    from .check.assignment import Outcome, assignment_results, load_assignment, question_rules, resolve
    a = load_assignment(path)
    base = Path(path).parent
    fallback = load_rules(rules_file) if rules_file else Rules()
    outcomes = []
    for q in a.questions:
        try:
            rules = question_rules(q, a, base, fallback)
            report = _grade_sheet(resolve(base, q.spec), folder / q.answers if folder.is_dir() else folder, rules,
                                  tolerance, None, None, q.start, q.end)
            outcomes.append(Outcome(q, report))
        except CnncalcError as e:
            outcomes.append(Outcome(q, None, _reason(e)))
    if gradescope is not None:
        write_atomic(gradescope, json.dumps(assignment_results(outcomes), indent=2, ensure_ascii=False) + "\n")
        err.print(f"wrote {gradescope}")
    if fmt is CheckFormat.json:
        data = [{"question": o.title, "error": o.error or None,
                 **({"report": report_dict(o.report)} if o.report else {})} for o in outcomes]
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    for o in outcomes:
        if fmt is not CheckFormat.json:
            out.print(f"== {o.title}")
        if o.report is None:
            err.print(f"{o.title}: {o.error}")
            continue
        for w in o.report.warnings:
            err.print(str(w), style="yellow")
        if fmt is not CheckFormat.json:
            if (table_ := verdict_table(o.report, wrong_only=wrong)).row_count:
                out.print(table_)
            out.print(summary_markdown(o.report, markdown=False))
    raise typer.Exit(0 if all(o.report is not None and o.report.all_right for o in outcomes) else 1)


@app.command()
@handled
def template(
    spec: SpecArg,
    columns: Annotated[str | None, typer.Option("--columns", "-c", help="Columns to ask (blank), comma-separated; default c_out,hw_out,memory_kb,params_k,macs_m.")] = None,
    fmt: Annotated[SheetFmt, typer.Option("--format", "-f", help="Worksheet format.")] = SheetFmt.csv,
    totals: Annotated[bool, typer.Option("--totals/--no-totals", help="Add a Total row to fill (check counts it).")] = True,
    output: OutOpt = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    depth: Annotated[int | None, typer.Option(
        "--depth", "-d", min=0, help="One row per block instance nested deeper than this (check follows).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First layer of the rows asked.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last layer of the rows asked.")] = None,
) -> None:
    """A worksheet: layer names and hyper-parameters given, the asked cells blank (like the seeds' '?')."""
    from .check.worksheet import render_worksheet, worksheet, worksheet_notes
    analysis = load_analysis(spec, input_shape=input_shape, variables=variables).view(depth, start, end)
    asked = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    emit(render_worksheet(worksheet(analysis, asked, totals=totals), fmt.value, totals,
                          notes=worksheet_notes(analysis)), output)


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
    from .explain import explain_layer
    if not layer.strip():
        raise UsageError("LAYER is empty; name a layer as the table shows it, e.g. conv1")
    shape = _ints(input_shape, "--input") if input_shape else None
    graph = build_graph(load_spec(spec), _vars(variables), shape)
    analysis = analyse(graph, batch, dtype)
    row = select(list(analysis.rows), layer, layer)[0]
    node = next(n for n in graph.nodes if n.name == row.name)
    formulas = explain_layer(node.layer, row, node.inputs, {r.name: r for r in analysis.rows},
                             analysis.dtype.bytes, analysis.batch, 1000 if si else 1024)
    ins = ", ".join("×".join(map(str, s)) for s in row.inputs)
    out.print(f"{row.name} ({row.type}): {ins} → {'×'.join(map(str, row.output))}")
    width = max(len(f.quantity) for f in formulas)
    for f in formulas:
        first, *rest = f.steps
        out.print(f"  {f.quantity:<{width}} = {first}")
        if rest:
            out.print(f"  {'':<{width}} = {' = '.join(rest)}")


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
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out: {out_dir} is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
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


def _term_width() -> int | None:
    """The width to fit: $COLUMNS where set, else the terminal's; None (no limit) when stdout is not one."""
    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdecimal() and int(cols) > 0:  # (not isdigit: '²' is a digit int() cannot read)
        return int(cols)
    return out.width if sys.stdout.isatty() else None


def _print_or_emit(output: Path | None, *renderables: Any, width: int | None = None) -> None:
    """Rich tables and lines to the terminal (wrapped to ``width`` where given), or as plain text
    (200 columns) atomically to ``output``."""
    from rich.console import Console
    console = out if output is None else Console(file=io.StringIO(), width=200, markup=False, highlight=False)
    if output is None and width is not None:
        console = Console(highlight=False, soft_wrap=False, markup=False, width=width)
    from rich.console import Group
    flat: list[Any] = []
    for r in renderables:  # a group's parts one by one, so that its tables take the linear path below
        flat.extend(r.renderables if isinstance(r, Group) else [r])
    for r in flat:  # a table's lines are never wrapped (rich would, at the console's width)
        table_text = bool(getattr(r, "no_wrap", False))
        if table_text and not console.is_terminal:  # no styles to draw: the text as it is, in linear time
            console.file.write(r.plain + "\n")
        else:
            console.print(r, soft_wrap=table_text)
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
    input_shape: Annotated[list[str] | None, typer.Option(
        "--input", help="Input C,H,W (or F) to trace --torch models with (default 3,224,224); once per input.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The spec's name (default: from the file or class).")] = None,
    flat: Annotated[bool, typer.Option("--flat", help="One entry per layer: no blocks, no repeat.")] = False,
    args: Annotated[list[str] | None, typer.Option(
        "--arg", help="NAME=VALUE: bind a later forward argument of a --torch model (a number, true/false/none, "
                      "or text).")] = None,
    train: Annotated[bool, typer.Option("--train", help="Trace a --torch model in train mode (model.train()).")] = False,
) -> None:
    """Write a spec from an ONNX graph or a PyTorch module: names kept, weights ignored, repeats folded."""
    from .importers import onnx_spec_text, torch_spec_text
    if (model is None) == (torch_ref is None):
        raise UsageError("give an .onnx file or --torch package.module:factory (one of them)")
    if model is not None:
        if input_shape:
            raise UsageError("--input applies to --torch; an ONNX graph has its own input shape")
        if not Path(model).is_file():
            raise UsageError(f"no such file: {model}" if not Path(model).exists() else
                             f"{model} is not a regular file (a folder, a device or a FIFO); give an .onnx file")
        if args or train:
            raise UsageError("--arg and --train apply to --torch; an ONNX graph is already traced")
        text = onnx_spec_text(model, fold=not flat, name=name or "")
    else:
        assert torch_ref is not None
        from .importers.torch_extra import parse_arg
        shapes = [_ints(s, "--input") for s in input_shape] if input_shape else [(3, 224, 224)]
        text = torch_spec_text(torch_ref, shapes[0], fold=not flat, name=name or "", more_inputs=shapes[1:],
                               args=dict(parse_arg(a) for a in args or ()), train=train)
    emit(text, output)


@app.command("torch")
@handled
def torch_(
    spec: SpecArg,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the Python file here (atomically).")] = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
    flat: Annotated[bool, typer.Option("--flat", help="One class: block instances written inline.")] = False,
) -> None:
    """Write the network as PyTorch code: an nn.Module class per block, names kept (imports only torch)."""
    from .codegen import torch_source
    loaded = load_spec(spec)
    shape = _ints(input_shape, "--input") if input_shape else None
    graph = build_graph(loaded, _vars(variables), shape)
    docs = {k: b.doc for k, b in loaded.spec.blocks.items()}
    emit(torch_source(graph, flat=flat, title=loaded.spec.title or "", docs=docs).text, output)


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
    memory_format: MemoryFormatOpt = None,
    channels_last: ChannelsLastOpt = False,
    tf32: TF32Opt = True,
    fresh_process: FreshOpt = False,
    fmt: Annotated[CostFormat, typer.Option("--format", "-f", help="Tables, or JSON (peak_memory_bytes, time_ms, throughput, …).")] = CostFormat.table,
    output: OutOpt = None,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N slowest layers, slowest first.")] = None,
    input_shape: InputOpt = None,
    variables: SetOpt = None,
) -> None:
    """Predicted peak device memory (with breakdown) and time per batch, per layer with its bound."""
    from .cost import Workload
    from .cost.report import layer_table, memory_table, summary_lines
    graph, dev, cost_model = _cost_inputs(spec, device, model, input_shape, variables)
    report = cost_model.predict(graph, dev, Workload(mode, batch, dtype, amp, optimizer,
                                                     memory_format=_memory_format(memory_format, channels_last),
                                                     tf32=tf32, fresh_process=fresh_process))
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
    memory_format: MemoryFormatOpt = None,
    channels_last: ChannelsLastOpt = False,
    tf32: TF32Opt = True,
    fresh_process: FreshOpt = False,
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
    w = Workload(mode, 1, dtype, amp, optimizer, memory_format=_memory_format(memory_format, channels_last), tf32=tf32,
                 fresh_process=fresh_process)
    found = largest_batch(cost_model, graph, dev, w, headroom)
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
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an internal error (exit code 3), show the traceback (also CNNCALC_DEBUG=1).")] = False,
) -> None:
    """cnncalc: the numbers of a convolutional network."""


def main() -> None:
    """Console-script entry point, with the safety net: exit codes 0 / 1 / 2 as the commands choose;
    an unexpected exception prints one line ("internal error: …, please report") and exits with
    EXIT_INTERNAL (3); ``--debug`` anywhere on the command line (or CNNCALC_DEBUG=1) adds the
    traceback. A failed write of standard output (``> /dev/full``) is one line and exit 2.
    """
    # A command is a short-lived process that builds many small acyclic objects (a 50,000-layer
    # network is millions): the cycle collector's passes over them only cost time (seconds), and
    # what is left at exit is freed by the process ending.
    gc.disable()
    # A terminal size that is not a number is no size; rich reads a digit such as '²' and fails on it.
    for var in ("COLUMNS", "LINES"):
        if not os.environ.get(var, "0").strip().isdecimal():
            del os.environ[var]
    debug = "--debug" in sys.argv[1:] or os.environ.get("CNNCALC_DEBUG", "") not in ("", "0")
    sys.argv = [a for i, a in enumerate(sys.argv) if i == 0 or a != "--debug"]
    code: Any = 0
    try:
        try:
            _dispatch()
        except SystemExit as e:
            code = e.code
        sys.stdout.flush()  # what is still buffered: a full disk shows here for short outputs
    except OSError as e:
        if e.errno not in _OUTPUT_ERRNOS:
            code = _internal(e, debug)
        else:
            try:
                _output_failed(e)
            except typer.Exit as x:
                code = x.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    except Exception as e:  # the safety net: a bug, reported in one line
        code = _internal(e, debug)
    sys.exit(code)


def _internal(e: BaseException, debug: bool) -> int:
    if debug:
        import traceback
        err.print("".join(traceback.format_exception(e)).rstrip())
    detail = str(e).splitlines()[0][:200] if str(e) else ""
    err.print(f"internal error: {type(e).__name__}{': ' + detail if detail else ''}, please report "
              "(run with --debug for the traceback)")
    return EXIT_INTERNAL


def _dispatch() -> None:
    """Run the app. Typer turns the signature of every command into click parameters on each start, a
    tenth of a second for all of them; when the first argument names a command, only that one is built.
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
