"""Fit h100.yaml's efficiencies and overheads to ../shared/reference/h100-calibration.json.

    python benchmarks/fit_h100.py [--json PATH] [--write]
    python benchmarks/fit_h100.py --leave-one-out     # fit on three models + probes, predict the fourth

Uses the whole-network speeds (weighted most: the accuracy test holds batch >= 64 to 25 %), the
single-layer forward probes ("micro") and the per-layer timings taken inside the four networks
("layer_times_ms_batch64_fp32", matched to the zoo specs' layers; --no-per-layer leaves them out). Prints measured vs predicted; with --write replaces
the fitted block at the end of cnncalc/cost/devices/h100.yaml and h200.yaml (same chip) after
the FITTED marker line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from cnncalc import analyse, build_graph, load_spec
from cnncalc.analysis import DType
from cnncalc.cost.base import Amp, Mode, Optimizer, Workload
from cnncalc.cost.devices import load_device, preset_dir
from cnncalc.cost.fit import LayerTiming, Measurement, ModelTiming, efficiency_yaml, fit_device
from cnncalc.layers import layer_class

ROOT = Path(__file__).resolve().parent.parent
#: ../shared/reference/ beside a checkout, else the copy in tests/reference/ (a worktree has no ../shared)
DEFAULT_JSON = next((p for p in (ROOT.parent / "shared" / "reference" / "h100-calibration.json",
                                 ROOT / "tests" / "reference" / "h100-calibration.json") if p.exists()),
                    ROOT / "tests" / "reference" / "h100-calibration.json")
MARKER = "# FITTED by benchmarks/fit_h100.py"

#: The reference's speed rows as workloads. Its "sgd" keeps a momentum buffer (after_step
#: memory holds one parameter-sized state), so it is SGD with momentum here.
SPEED = {
    "infer_fp32": Workload(Mode.INFER, 64),
    "infer_fp16_cl": Workload(Mode.INFER, 256, DType.FP16, channels_last=True),
    "infer_fp32_bs1": Workload(Mode.INFER, 1),
    "train_fp32_sgd": Workload(Mode.TRAIN, 64, optimizer=Optimizer.MOMENTUM),
    "train_bf16amp_sgd": Workload(Mode.TRAIN, 64, amp=Amp.BF16, optimizer=Optimizer.MOMENTUM),
}


def micro_layer(row: list[Any]) -> tuple[Any, tuple[int, ...]]:
    """A probe row of the reference as (layer, input shape)."""
    kind = row[0]
    if kind == "conv":
        _, cin, cout, hw, k, s, p, g = row
        return layer_class("conv").model_validate(  # type: ignore[union-attr]
            {"filters": cout, "kernel": k, "stride": s, "pad": p, "groups": g}), (cin, hw, hw)
    if kind == "linear":
        return layer_class("fc").model_validate({"units": row[2]}), (row[1],)  # type: ignore[union-attr]
    if kind == "maxpool":
        _, c, hw, k, s, p = row
        return layer_class("maxpool").model_validate(  # type: ignore[union-attr]
            {"kernel": k, "stride": s, "pad": p}), (c, hw, hw)
    kinds = {"avgpool_global": "global_avgpool", "relu": "relu", "bn": "batchnorm"}
    return layer_class(kinds[kind]).model_validate({}), (row[1], row[2], row[2])  # type: ignore[union-attr]


#: Per-layer timings shorter than this are mostly the timing's own overhead (event records around
#: each module, the launch): left out. Those kept still fit a launch floor of their own.
LAYER_MIN_S = 1e-4


def layer_measurements(data: dict[str, Any], min_s: float = LAYER_MIN_S) -> list[Measurement]:
    """The reference's per-layer forward timings (fp32, batch 64, inference) as single-layer fit
    measurements, labelled "<model> layer <module>" (so a left-out model's go with it).

    Each torchvision leaf module is matched to the zoo spec's layer (or fused activation) of the
    same PyTorch type by order, type by type (torchvision.json lists the modules in call order);
    a type whose counts differ, a module called more than once (ResNet's ReLU; the timing is a
    mean over its calls) and a timing under LAYER_MIN_S are left out."""
    calls: dict[str, list[dict[str, Any]]] = {m: v.get("layers", []) for m, v in reference_models().items()}
    out: list[Measurement] = []
    for model, times in data.get("layer_times_ms_batch64_fp32", {}).items():
        graph = build_graph(load_spec(model))
        rows = analyse(graph, 1).rows
        spec: dict[str, list[tuple[Any, tuple[int, ...]]]] = {}
        for node, row in zip(graph.nodes, rows):
            spec.setdefault(getattr(node.layer, "torch_module", ""), []).append((node.layer, row.inputs[0]))
            act = node.layer.fused_activation()
            if act is not None:
                spec.setdefault(getattr(act, "torch_module", ""), []).append((act, row.output))
        tv: dict[str, list[str]] = {}
        for c in calls.get(model, []):
            tv.setdefault(c["type"], []).append(c["name"])
        for kind, names in tv.items():
            if len(spec.get(kind, [])) != len(names):
                continue
            for name, (layer, shape) in zip(names, spec[kind]):
                ms = times.get(name)
                if ms is None or names.count(name) > 1 or ms / 1e3 < min_s:
                    continue
                out.append(LayerTiming(f"{model} layer {name}", layer, shape, Workload(Mode.INFER, 64),
                                       ms / 1e3, 0.3, floor_group="in-network"))
    return out


def reference_models() -> dict[str, Any]:
    """torchvision.json's models (per-layer call lists for some), beside h100-calibration.json."""
    path = DEFAULT_JSON.with_name("torchvision.json")
    models: dict[str, Any] = json.loads(path.read_text())["models"]
    return models


def measurements(data: dict[str, Any], per_layer: bool = True) -> list[Measurement]:
    """The reference's timings as fit measurements (batch >= 64 networks weighted 6, bs1 1, probes
    and per-layer timings 0.3)."""
    out: list[Measurement] = layer_measurements(data) if per_layer else []
    for model, v in data["models"].items():
        graph = build_graph(load_spec(model))
        for key, x in v["speed"].items():
            w = SPEED[key]
            out.append(ModelTiming(f"{model} {key}", graph, w, x["ms"] / 1e3, 6.0 if w.batch >= 64 else 1.0))
    for x in data["micro"]:
        layer, shape = micro_layer(x["layer"])
        w = Workload(Mode.INFER, x["batch"], DType.FP32 if x["dtype"] == "float32" else DType.FP16)
        label = "micro " + " ".join(map(str, x["layer"])) + f" {x['dtype']}"
        out.append(LayerTiming(label, layer, shape, w, x["ms"] / 1e3, 0.3))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--write", action="store_true", help="write the fitted block into h100.yaml")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--leave-one-out", action="store_true",
                    help="for each model: fit without its speeds, then predict them (how the model does unseen)")
    ap.add_argument("--no-per-layer", action="store_true",
                    help="leave the reference's per-layer timings out of the fit (as before they were used)")
    ap.add_argument("--neutral", action="store_true",
                    help="start the fit from generic figures, not from h100.yaml's fitted ones (which saw every model)")
    args = ap.parse_args(argv)
    data = json.loads(args.json.read_text())
    device = load_device("h100")
    if args.neutral:  # what the fitted block would hold before any fit: the fit's own starting values
        fitted = {"efficiency", "layout_passes", "tensor_chunk_bytes", "conv_output_macs", "overheads"}
        device = type(device).model_validate({k: v for k, v in device.model_dump().items() if k not in fitted})
    if args.leave_one_out:
        return leave_one_out(data, device, args.rounds, not args.no_per_layer)
    result = fit_device(device, measurements(data, not args.no_per_layer), rounds=args.rounds,
                        progress=lambda r, v: print(f"round {r}: loss {v:.4f}", file=sys.stderr))
    print(f"{'measurement':58s} {'measured ms':>11s} {'predicted':>10s} {'error':>7s}")
    for label, meas, pred in result.rows:
        print(f"{label:58s} {meas * 1e3:11.4f} {pred * 1e3:10.4f} {100 * (pred / meas - 1):+6.1f}%")
    block = efficiency_yaml(result.device)
    print("\n" + block)
    if args.write:  # the H200 is the same chip: it shares the fitted figures
        for name in ("h100", "h200"):
            path = preset_dir() / f"{name}.yaml"
            head = path.read_text().split(MARKER)[0].rstrip("\n")
            _replace(path, f"{head}\n{MARKER} from {args.json.name} (do not edit below by hand)\n{block}")
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file beside it, then a rename). Not
    cnncalc's write_atomic, which refuses to overwrite a file the process has read, as this
    script read the device file it rewrites."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def leave_one_out(data: dict[str, Any], device: Any, rounds: int, per_layer: bool = True) -> int:
    """Fit on every model but one (and all single-layer probes), predict the one left out."""
    ms = measurements(data, per_layer)
    errors: dict[str, list[tuple[str, float]]] = {}
    for model in data["models"]:
        train = [m for m in ms if not m.label.startswith(model + " ")]  # its speeds and per-layer timings out
        held = [m for m in ms if m.label.startswith(model + " ") and isinstance(m, ModelTiming)]
        fitted = fit_device(device, train, rounds=rounds).device
        errors[model] = [(m.label.split(" ", 1)[1], m.predict(fitted) / m.seconds - 1)  # type: ignore[call-arg]
                         for m in held]
        for key, e in errors[model]:
            print(f"{model:14s} {key:20s} {100 * e:+7.1f}%", flush=True)
    print("\n| model left out | " + " | ".join(SPEED) + " |")
    print("|---" * (len(SPEED) + 1) + "|")
    for model, errs in errors.items():
        d = dict(errs)
        print(f"| {model} | " + " | ".join(f"{100 * d[k]:+.1f} %" if k in d else "—" for k in SPEED) + " |")
    allv = sorted(abs(e) for errs in errors.values() for _, e in errs)
    big = [abs(e) for errs in errors.values() for k, e in errs if SPEED[k].batch >= 64]
    big = sorted(big)
    # the 90th percentile by nearest rank: the ⌈0.9·n⌉-th smallest error
    print(f"\nall: median {100 * allv[len(allv) // 2]:.1f} %, 90th percentile {100 * allv[-(-9 * len(allv) // 10) - 1]:.1f} %, "
          f"max {100 * allv[-1]:.1f} %; batch >= 64: median {100 * big[len(big) // 2]:.1f} %, 90th percentile "
          f"{100 * big[-(-9 * len(big) // 10) - 1]:.1f} %, max {100 * big[-1]:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
