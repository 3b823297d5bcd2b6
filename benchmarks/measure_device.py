"""Measure this machine's CUDA GPU as `cnncalc calibrate` does, and compare every prediction with it.

    python benchmarks/measure_device.py [--device h100] [--quick] [--models lenet5,resnet18] [--json out.json]

1. The library workspaces (cuBLAS / cuBLASLt per thread, cuDNN; cnncalc.cost.calibrate's
   ``_memory_rules``) and the calibration probes (single layers, two small networks;
   cnncalc.cost.calibrate.measure), each beside what the device file ``--device`` predicts.
2. Every network named in ``--models`` (a zoo spec; built with torchvision when it has a model of
   that name, else from the spec's own PyTorch code, ``cnncalc torch``) measured the way
   ../shared/reference/h100-calibration.json was ("how" there):

   - memory, ``torch.backends.cudnn.benchmark`` off, the reference's 12 configurations in its
     order: inference fp32 / fp16 (``model.half()``) at batch 1, 32, 256 — the peak
     (max_memory_allocated) of the 2nd forward under inference_mode, the input allocated before
     the peak reset; training SGD with momentum, Adam, Adam under bf16 autocast (fp32 weights) at
     batch 32 and 64 — the peak of the 3rd step of forward + cross_entropy + backward +
     optimizer.step() + zero_grad(set_to_none=True);
   - time, cudnn.benchmark on: mean of 20 batches after 5 warm-ups (CUDA events) of its five
     configurations (fp16 inference at batch 256 channels_last, training with momentum SGD).

   Before the first network a Linear runs forward and backward (``warm``), so every network is
   measured in a warm process (both threads' cuBLAS workspaces and cuBLASLt's exist), as the
   reference measured all its networks but the first of its run: what cnncalc predicts by default.

Prints measured, predicted and the error of each, and the median and largest errors. Needs a CUDA
GPU (and PyTorch); says so and exits 2 without one.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from cnncalc import build_graph, load_spec
from cnncalc.analysis import DType
from cnncalc.codegen import torch_source
from cnncalc.cost import Amp, Mode, Optimizer, Workload, load, load_device
from cnncalc.cost.calibrate import _memory_rules, _timer, measure, require_torch
from cnncalc.errors import UsageError

#: The reference's memory configurations, in the order it measured them. Its "sgd" keeps a
#: momentum buffer (after_step_allocated holds one parameter-sized state): momentum SGD here.
MEMORY = {
    **{f"infer_{t}_bs{b}": Workload(Mode.INFER, b, d)
       for t, d in (("float32", DType.FP32), ("float16", DType.FP16)) for b in (1, 32, 256)},
    "train_sgd_bs32": Workload(Mode.TRAIN, 32, optimizer=Optimizer.MOMENTUM),
    "train_sgd_bs64": Workload(Mode.TRAIN, 64, optimizer=Optimizer.MOMENTUM),
    "train_adam_bs32": Workload(Mode.TRAIN, 32, optimizer=Optimizer.ADAM),
    "train_adam_bf16amp_bs32": Workload(Mode.TRAIN, 32, amp=Amp.BF16, optimizer=Optimizer.ADAM),
    "train_adam_bs64": Workload(Mode.TRAIN, 64, optimizer=Optimizer.ADAM),
    "train_adam_bf16amp_bs64": Workload(Mode.TRAIN, 64, amp=Amp.BF16, optimizer=Optimizer.ADAM),
}
#: The reference's timed configurations.
SPEED = {
    "infer_fp32": Workload(Mode.INFER, 64),
    "infer_fp16_cl": Workload(Mode.INFER, 256, DType.FP16, channels_last=True),
    "infer_fp32_bs1": Workload(Mode.INFER, 1),
    "train_fp32_sgd": Workload(Mode.TRAIN, 64, optimizer=Optimizer.MOMENTUM),
    "train_bf16amp_sgd": Workload(Mode.TRAIN, 64, amp=Amp.BF16, optimizer=Optimizer.MOMENTUM),
}


def _module(torch: Any, name: str, graph: Any) -> Any:
    """torchvision's model of that name (no aux heads: the zoo specs have none), else the spec's
    own PyTorch code (``cnncalc torch``) imported from a temporary file."""
    try:
        import torchvision  # type: ignore[import-not-found]
        if name in torchvision.models.list_models():
            extra = {"aux_logits": False, "init_weights": False} if name in ("googlenet", "inception_v3") else {}
            return torchvision.models.get_model(name, weights=None, **extra)
    except ImportError:
        pass
    gen = torch_source(graph, flat=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"cnncalc_{name}.py"
        path.write_text(gen.text)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return getattr(mod, gen.class_name)()


def _network(torch: Any, name: str, graph: Any, w: Workload) -> tuple[Any, Any]:
    """The model on the GPU in the workload's dtype, memory format and mode, and its input batch."""
    net = _module(torch, name, graph).cuda()
    x = torch.randn(w.batch, *graph.input, device="cuda")
    if w.dtype is DType.FP16:
        net, x = net.half(), x.half()
    if w.channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    return (net.train() if w.mode is Mode.TRAIN else net.eval()), x


def _trainer(torch: Any, net: Any, x: Any, w: Workload) -> Any:
    """One training step as the reference runs it (targets allocated once, beside the input)."""
    if w.optimizer is Optimizer.ADAM:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9 if w.optimizer is Optimizer.MOMENTUM else 0)
    y = torch.zeros(x.shape[0], dtype=torch.long, device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=w.amp is Amp.BF16):
            out = net(x)
            out = out.logits if hasattr(out, "logits") else out
            loss = torch.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def warm(torch: Any) -> None:
    """A Linear's forward and backward on the default stream: the forward thread's cuBLAS and
    cuBLASLt workspaces and autograd's thread's cuBLAS one exist from here on (a warm process)."""
    lin = torch.nn.Linear(64, 64).cuda()
    lin(torch.randn(8, 64, device="cuda", requires_grad=True)).sum().backward()
    torch.cuda.synchronize()


def measure_model(torch: Any, name: str, graph: Any) -> dict[str, float]:
    """Peaks (bytes) and times (seconds) of one network, keyed "memory <key>" / "time <key>"."""
    out: dict[str, float] = {}
    torch.backends.cudnn.benchmark = False  # the reference's memory runs
    for key, w in MEMORY.items():
        net, x = _network(torch, name, graph, w)
        if w.mode is Mode.INFER:
            with torch.inference_mode():
                net(x)
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                net(x)
        else:
            step = _trainer(torch, net, x, w)
            for i in range(3):
                if i == 2:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                step()
            del step
        torch.cuda.synchronize()
        out["memory " + key] = float(torch.cuda.max_memory_allocated())
        del net, x
        gc.collect()
        torch.cuda.empty_cache()
    torch.backends.cudnn.benchmark = True
    timer = _timer(torch, 20, 5)
    for key, w in SPEED.items():
        net, x = _network(torch, name, graph, w)
        if w.mode is Mode.INFER:
            with torch.inference_mode():
                out["time " + key] = timer(lambda net=net, x=x: net(x))
        else:
            out["time " + key] = timer(_trainer(torch, net, x, w))
        del net, x
        gc.collect()
        torch.cuda.empty_cache()
    torch.backends.cudnn.benchmark = False
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--device", default="h100", help="device preset or file whose predictions are compared")
    ap.add_argument("--quick", action="store_true", help="a third of the layer probes, fewer repetitions")
    ap.add_argument("--models", default="", help="zoo spec names, comma-separated (torchvision's model if it has one)")
    ap.add_argument("--json", type=Path, help="also write every row here")
    args = ap.parse_args(argv)
    try:
        torch = require_torch(gpu=True)
        device = load_device(args.device)
        graphs = {name: build_graph(load_spec(name)) for name in filter(None, args.models.split(","))}
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
    warm(torch)
    for name, graph in graphs.items():
        print(f"measuring {name}", file=sys.stderr)
        for key, value in measure_model(torch, name, graph).items():
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
