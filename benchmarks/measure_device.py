"""Measure this machine's CUDA GPU as `cnncalc calibrate` does, and compare every prediction with it.

    python benchmarks/measure_device.py [--device h100] [--quick] [--models resnet18,vgg16_bn] [--json out.json]

1. The calibration probes (single layers, two small networks; cnncalc.cost.calibrate.measure) and
   the library workspaces (cuBLAS / cuBLASLt per thread, cuDNN) measured here, each beside what
   the device file ``--device`` predicts.
2. With torchvision installed, every model named in ``--models`` (zoo spec of the same name)
   measured the way ../shared/reference/h100-calibration.json was: peak memory
   (max_memory_allocated; inference: the 2nd forward under inference_mode, training: the 3rd step
   of SGD with momentum) and time per batch (CUDA events, mean of 20 after 5 warm-ups,
   cudnn.benchmark on); fp16 inference at batch 256 channels_last, as the reference does.

Prints measured, predicted and the error of each, and the median and largest errors. Needs a CUDA
GPU (and PyTorch); says so and exits 2 without one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from cnncalc import build_graph, load_spec
from cnncalc.analysis import DType
from cnncalc.cost import Mode, Optimizer, Workload, load, load_device
from cnncalc.cost.calibrate import _memory_rules, _timer, measure, require_torch
from cnncalc.errors import UsageError

#: (label, workload) of the timed configurations, as the reference names them.
SPEED = {
    "infer_fp32": Workload(Mode.INFER, 64),
    "infer_fp16_cl": Workload(Mode.INFER, 256, DType.FP16, channels_last=True),
    "infer_fp32_bs1": Workload(Mode.INFER, 1),
    "train_fp32_sgd": Workload(Mode.TRAIN, 64, optimizer=Optimizer.MOMENTUM),
}
MEMORY = {
    "infer_float32_bs32": Workload(Mode.INFER, 32),
    "infer_float16_bs256": Workload(Mode.INFER, 256, DType.FP16),
    "train_sgd_bs32": Workload(Mode.TRAIN, 32, optimizer=Optimizer.MOMENTUM),
}


def _network(torch: Any, name: str, w: Workload) -> tuple[Any, Any]:
    import torchvision  # type: ignore[import-not-found]
    extra = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
    net = torchvision.models.get_model(name, weights=None, **extra).cuda()  # the zoo specs have no aux heads
    x = torch.randn(w.batch, 3, 224, 224, device="cuda")
    if name == "inception_v3":
        x = torch.randn(w.batch, 3, 299, 299, device="cuda")
    if w.dtype is DType.FP16:
        net, x = net.half(), x.half()
    if w.channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    return (net.train() if w.mode is Mode.TRAIN else net.eval()), x


def _step(torch: Any, net: Any, x: Any, opt: Any) -> None:
    out = net(x)
    out = out.logits if hasattr(out, "logits") else out
    torch.nn.functional.cross_entropy(out, torch.zeros(x.shape[0], dtype=torch.long, device="cuda")).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def measure_model(torch: Any, name: str) -> dict[str, float]:
    """Peaks (bytes) and times (seconds) of one torchvision model, keyed as the reference."""
    out: dict[str, float] = {}
    for key, w in MEMORY.items():
        net, x = _network(torch, name, w)
        if w.mode is Mode.INFER:
            with torch.inference_mode():
                net(x)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                net(x)
        else:
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            for i in range(3):
                if i == 2:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                _step(torch, net, x, opt)
        torch.cuda.synchronize()
        out["memory " + key] = float(torch.cuda.max_memory_allocated())
        del net, x
    torch.backends.cudnn.benchmark = True
    timer = _timer(torch, 20, 5)
    for key, w in SPEED.items():
        net, x = _network(torch, name, w)
        if w.mode is Mode.INFER:
            with torch.inference_mode():
                out["time " + key] = timer(lambda net=net, x=x: net(x))
        else:
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            out["time " + key] = timer(lambda net=net, x=x, opt=opt: _step(torch, net, x, opt))
        del net, x
    torch.backends.cudnn.benchmark = False
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--device", default="h100", help="device preset or file whose predictions are compared")
    ap.add_argument("--quick", action="store_true", help="a third of the layer probes, fewer repetitions")
    ap.add_argument("--models", default="", help="zoo / torchvision names, comma-separated")
    ap.add_argument("--json", type=Path, help="also write every row here")
    args = ap.parse_args(argv)
    try:
        torch = require_torch(gpu=True)
        device = load_device(args.device)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows: list[tuple[str, float, float]] = []  # (label, measured, predicted)
    rules = _memory_rules(torch)
    for k, v in rules.items():
        rows.append((f"memory_rules {k}", float(v), float(getattr(device.memory_rules, k))))
    for m in measure(torch, args.quick, lambda s: print(s, file=sys.stderr)):
        rows.append((m.label, m.seconds, m.predict(device)))
    model = load("roofline")
    for name in filter(None, args.models.split(",")):
        graph = build_graph(load_spec(name))
        for key, value in measure_model(torch, name).items():
            kind, cfg = key.split(" ", 1)
            w = (MEMORY if kind == "memory" else SPEED)[cfg]
            r = model.predict(graph, device, w)
            rows.append((f"{name} {key}", value, float(r.peak_memory_bytes) if kind == "memory" else r.time_ms / 1e3))
    errors = []
    print(f"{'measurement':64s} {'measured':>14s} {'predicted':>14s} {'error':>8s}")
    for label, meas, pred in rows:
        err = pred / meas - 1 if meas else float("nan")
        if meas:
            errors.append(abs(err))
        print(f"{label:64s} {meas:14.6g} {pred:14.6g} {100 * err:+7.1f}%")
    if errors:
        print(f"\n{len(errors)} compared: median error {100 * statistics.median(errors):.1f} %, "
              f"largest {100 * max(errors):.1f} %")
    if args.json:
        args.json.write_text(json.dumps([{"label": a, "measured": b, "predicted": c} for a, b, c in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
