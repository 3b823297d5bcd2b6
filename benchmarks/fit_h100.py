"""Fit h100.yaml's efficiencies and overheads to ../shared/reference/h100-calibration.json.

    python benchmarks/fit_h100.py [--json PATH] [--write]
    python benchmarks/fit_h100.py --leave-one-out     # fit on three models + probes, predict the fourth

Uses the whole-network speeds (weighted most: the accuracy test holds batch >= 64 to 25 %) and
the single-layer forward probes ("micro"). Prints measured vs predicted; with --write replaces
the fitted block at the end of cnncalc/cost/devices/h100.yaml and h200.yaml (same chip) after
the FITTED marker line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cnncalc import build_graph, load_spec
from cnncalc.analysis import DType
from cnncalc.cost.base import Amp, Mode, Optimizer, Workload
from cnncalc.cost.devices import load_device, preset_dir
from cnncalc.cost.fit import LayerTiming, Measurement, ModelTiming, efficiency_yaml, fit_device
from cnncalc.export import write_atomic
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


def measurements(data: dict[str, Any]) -> list[Measurement]:
    """The reference's timings as fit measurements (batch >= 64 networks weighted 6, bs1 1, probes 0.3)."""
    out: list[Measurement] = []
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
    ap.add_argument("--neutral", action="store_true",
                    help="start the fit from generic figures, not from h100.yaml's fitted ones (which saw every model)")
    args = ap.parse_args(argv)
    data = json.loads(args.json.read_text())
    device = load_device("h100")
    if args.neutral:  # what the fitted block would hold before any fit: the fit's own starting values
        fitted = {"efficiency", "layout_passes", "tensor_chunk_bytes", "conv_output_macs", "overheads"}
        device = type(device).model_validate({k: v for k, v in device.model_dump().items() if k not in fitted})
    if args.leave_one_out:
        return leave_one_out(data, device, args.rounds)
    result = fit_device(device, measurements(data), rounds=args.rounds,
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
            write_atomic(path, f"{head}\n{MARKER} from {args.json.name} (do not edit below by hand)\n{block}")
            print(f"wrote {path}", file=sys.stderr)
    return 0


def leave_one_out(data: dict[str, Any], device: Any, rounds: int) -> int:
    """Fit on every model but one (and all single-layer probes), predict the one left out."""
    ms = measurements(data)
    errors: dict[str, list[tuple[str, float]]] = {}
    for model in data["models"]:
        train = [m for m in ms if not m.label.startswith(model + " ")]
        held = [m for m in ms if m.label.startswith(model + " ")]
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
    print(f"\nall: median {100 * allv[len(allv) // 2]:.1f} %, max {100 * allv[-1]:.1f} %; batch >= 64: median "
          f"{100 * sorted(big)[len(big) // 2]:.1f} %, max {100 * max(big):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
