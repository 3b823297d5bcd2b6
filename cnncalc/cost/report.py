"""Rich renderables for cost reports, batch fits and device lists (the CLI prints them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..render import Col, grid
from .base import CostReport, Mode
from .devices import Device
from .registry import Plugin
from .search import BatchFit

_BREAKDOWN = (
    ("weights", "weights (parameters, buffers, autocast copies)"),
    ("gradients", "gradients"),
    ("optimizer_state", "optimizer state"),
    ("activations", "activations kept (input, saved for backward / still to be read)"),
    ("transient", "transient (outputs and gradients being computed)"),
    ("workspace", "workspace and framework (cuDNN, cuBLAS)"),
)


def fmt_bytes(n: float) -> str:
    """Binary units: 1 KiB = 1024 bytes."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{int(n)} B"


def memory_table(report: CostReport) -> Table:
    """The peak and what was alive then."""
    t = Table(title=f"Peak memory {fmt_bytes(report.peak_memory_bytes)} (at {report.peak_at})",
              header_style="bold", title_justify="left")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    t.add_column("share", justify="right")
    peak = report.peak_memory_bytes or 1
    parts = asdict(report.memory)
    for key, label in _BREAKDOWN:
        t.add_row(label, fmt_bytes(parts[key]), f"{100 * parts[key] / peak:.1f} %")
    if report.device_memory_bytes:
        verdict = "fits" if report.fits else "does NOT fit"
        t.add_row(Text(f"device memory ({verdict})", style="green" if report.fits else "bold red"),
                  fmt_bytes(report.device_memory_bytes),
                  f"{100 * report.peak_memory_bytes / report.device_memory_bytes:.1f} % used")
    return t


def layer_table(report: CostReport, top: int | None = None) -> Group:
    """Per-layer predicted time and bound (``top``: the slowest layers only, slowest first; ties in network
    order).

    Laid out by render.grid, linear in the rows (rich.Table took 40 s for 50,000 layers).
    """
    total = sum(lc.total_ms for lc in report.layers) or 1.0
    rows = list(report.layers)
    if top is not None:
        rows = sorted(rows, key=lambda lc: -lc.total_ms)[:top]
    train = report.workload.mode is Mode.TRAIN
    title = "Per-layer time" + (f" (the {top} slowest)" if top is not None and top < len(report.layers) else "")
    heads = ("layer", "type", "forward ms", *(("backward ms",) if train else ()), "share", "bound",
             "GFLOP", "MiB moved")
    cells = [(lc.name, lc.type, f"{lc.forward_ms:.4f}", *((f"{lc.backward_ms:.4f}",) if train else ()),
              f"{100 * lc.total_ms / total:.1f} %", lc.bound, f"{lc.flops / 1e9:.2f}", f"{lc.bytes / 2**20:.1f}")
             for lc in rows]
    cols = [Col(h, [r[j] for r in cells], right=h not in ("layer", "type", "bound")) for j, h in enumerate(heads)]
    return Group(Text(title, style="italic"), grid("", cols, ""))


def summary_lines(report: CostReport) -> list[str]:
    """Time per batch, throughput and notes, one line each."""
    lines = [f"{report.model} on {report.device} · {report.workload.describe()} · cost model {report.cost_model}",
             f"time per batch {report.time_ms:.3f} ms · {report.throughput:,.1f} images/s"]
    if report.workload.mode is Mode.TRAIN:
        lines[-1] += f" · optimizer step {report.optimizer_ms:.3f} ms"
    lines += [f"note: {n}" for n in report.notes]
    return lines


def fit_lines(fit: BatchFit, device: Device) -> list[str]:
    """The answer of ``cnncalc fit``."""
    budget = f"{fmt_bytes(fit.budget_bytes)} of {device.name}'s {fmt_bytes(device.memory_bytes)}"
    if fit.batch == 0:
        need = fit.next_report.peak_memory_bytes if fit.next_report else 0
        return [f"batch 1 does not fit: peak {fmt_bytes(need)} > {budget}"]
    assert fit.report is not None
    lines = [f"largest batch that fits: {fit.batch} (peak {fmt_bytes(fit.report.peak_memory_bytes)} ≤ {budget})"]
    if fit.next_report is not None:
        lines.append(f"batch {fit.next_report.workload.batch} would need "
                     f"{fmt_bytes(fit.next_report.peak_memory_bytes)}")
    lines.append(f"at batch {fit.batch}: {fit.report.time_ms:.2f} ms per batch, "
                 f"{fit.report.throughput:,.0f} images/s")
    return lines


def fit_dict(fit: BatchFit, device: Device) -> dict[str, Any]:
    """``cnncalc fit --format json``."""
    return {
        "device": device.name, "device_memory_bytes": device.memory_bytes, "budget_bytes": fit.budget_bytes,
        "batch": fit.batch,
        "peak_memory_bytes": fit.report.peak_memory_bytes if fit.report else None,
        "next_batch": fit.next_report.workload.batch if fit.next_report else None,
        "next_peak_memory_bytes": fit.next_report.peak_memory_bytes if fit.next_report else None,
        "report": fit.report.to_dict() if fit.report else None,
    }


def _tflops(v: float | None) -> str:
    return f"{v / 1e12:,.1f}" if v else "—"


def devices_table(devices: Iterable[Device]) -> Table:
    """The device presets with their datasheet figures."""
    t = Table(title="cnncalc device presets (--device NAME or a YAML file like them)", header_style="bold")
    for h in ("name", "device", "memory", "GB/s", "FP32", "TF32", "FP16", "BF16", "calibrated"):
        t.add_column(h, justify="right" if h in ("memory", "GB/s", "FP32", "TF32", "FP16", "BF16") else "left")
    for d in devices:
        p = d.peak_flops
        t.add_row(d.name, d.title, fmt_bytes(d.memory_bytes), f"{d.memory_bandwidth / 1e9:,.1f}", _tflops(p.fp32),
                  _tflops(p.tf32), _tflops(p.fp16), _tflops(p.bf16),
                  "yes" if d.calibrated and d.calibrated != "no" else "no")
    t.caption = "peak dense TFLOP/s (2 FLOPs per multiply-add); — : no such unit (runs at the FP32 rate)"
    return t


def models_table(plugins: Mapping[str, Plugin]) -> Table:
    """The cost models on offer (from entry-point metadata; none imported)."""
    t = Table(title="cost models (--model NAME; entry-point group cnncalc.cost_models)", header_style="bold")
    for h in ("name", "entry point", "from"):
        t.add_column(h)
    for p in plugins.values():
        t.add_row(p.name, p.value, p.distribution)
    return t
