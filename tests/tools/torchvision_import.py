"""Import every torchvision classification and segmentation model and compare with PyTorch.

Run with a Python that has torch and torchvision (the PyPI builds)::

    PYTHONPATH=$PWD python tests/tools/torchvision_import.py            # compare, print a summary
    PYTHONPATH=$PWD python tests/tools/torchvision_import.py --record   # also (re)write the figures

PyTorch's own counts are the oracle: params = Σ p.numel() over ``model.parameters()``, buffers =
Σ b.numel() over ``model.buffers()`` (BatchNorm's num_batches_tracked included), MACs =
``torch.utils.flop_counter.FlopCounterMode`` total / 2 on a batch-1 zero input in eval mode, with
autograd on: under ``torch.no_grad()`` ``nn.MultiheadAttention`` takes its fused fast path
(``aten._native_multi_head_attention``), whose products FlopCounterMode does not count; and
``F.scaled_dot_product_attention`` runs on the math backend, which spells QKᵀ and AV as the
matrix products they are (FlopCounterMode has no formula for the fused CPU flash kernel).
``--record`` writes them to tests/reference/torchvision_import.json, which the zoo test reads
where torchvision is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "torchvision_import.json"

#: Input shapes other than 3×224×224: inception_v3 wants 299, segmentation models are tried at 256.
INPUTS: dict[str, tuple[int, int, int]] = {"inception_v3": (3, 299, 299)}
SEGMENTATION_INPUT = (3, 256, 256)


def models() -> list[tuple[str, str, tuple[int, int, int]]]:
    """(list, name, input shape) for every classification and segmentation model."""
    out = [("classification", n, INPUTS.get(n, (3, 224, 224)))
           for n in torchvision.models.list_models(module=torchvision.models)]
    out += [("segmentation", n, SEGMENTATION_INPUT)
            for n in torchvision.models.list_models(module=torchvision.models.segmentation)]
    return out


def factory(lst: str, name: str) -> str:
    """The --torch reference; segmentation models without their default pretrained backbone (a download)."""
    return f"tests.tools.tv_segmentation:{name}" if lst == "segmentation" else f"torchvision.models:{name}"


def pytorch_figures(lst: str, name: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    """PyTorch's own counts (the oracle)."""
    mod = torchvision.models.segmentation if lst == "segmentation" else torchvision.models
    kwargs = {"weights_backbone": None} if lst == "segmentation" else {}
    try:
        with torch.device("meta"):  # shapes only: FlopCounterMode counts from shapes, nothing is computed
            model = getattr(mod, name)(**kwargs).eval()
    except NotImplementedError:  # a builder that reads a tensor's values (RegNet's widths): build, then move
        model = getattr(mod, name)(**kwargs).eval().to("meta")
    x = torch.zeros(1, *shape, device="meta")
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):  # autograd on: see the module docstring
        model(x)
    flops = counter.get_total_flops()
    return {"list": lst, "input": list(shape), "params": params, "buffers": buffers,
            "torch_flop_counter": flops, "macs": flops // 2}


def cnncalc_figures(lst: str, name: str, shape: tuple[int, int, int]) -> dict[str, Any]:
    """cnncalc's counts for the imported spec (the import checks that the spec analyses)."""
    from cnncalc.analysis import analyse
    from cnncalc.graph import build_graph
    from cnncalc.importers import torch_spec_text
    from cnncalc.spec import parse_spec
    text = torch_spec_text(factory(lst, name), shape)
    a = analyse(build_graph(parse_spec(text, f"{name}.yaml")))
    return {"params": a.totals.params, "buffers": a.totals.buffers, "macs": a.totals.macs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="write the PyTorch figures to " + str(REFERENCE))
    ap.add_argument("-k", default="", help="only models whose name contains this")
    ap.add_argument("-v", action="store_true", help="print the import error in full")
    ap.add_argument("--only", default="", help="comma-separated models to run (default: all)")
    ap.add_argument("--out", type=Path, default=REFERENCE, help="the JSON to read and --record to")
    ap.add_argument("--skip", default="", help="comma-separated models whose figures are recorded already (--record)")
    args = ap.parse_args()
    recorded: dict[str, Any] = json.loads(args.out.read_text())["models"] if args.out.exists() else {}
    only = set(filter(None, args.only.split(",")))
    exact: dict[str, int] = {}
    total: dict[str, int] = {}
    failures: list[str] = []
    done = set(filter(None, args.skip.split(",")))
    for lst, name, shape in models():
        if (args.k and args.k not in name) or (only and name not in only):
            continue
        total[lst] = total.get(lst, 0) + 1
        t0 = time.time()
        ref = recorded.get(name)
        if ref is None or (args.record and name not in done):
            ref = pytorch_figures(lst, name, shape)
            recorded[name] = ref
            done.add(name)
            if args.record:
                save(recorded, args.out)
        try:
            got = cnncalc_figures(lst, name, shape)
        except Exception as e:  # report and go on with the next model
            msg = str(e).splitlines()[0] if not args.v else traceback.format_exc()
            print(f"FAIL  {name:32s} {type(e).__name__}: {msg[:300]}", flush=True)
            failures.append(name)
            continue
        diff = {k: (got[k], ref[k]) for k in ("params", "buffers", "macs") if got[k] != ref[k]}
        if diff:
            print(f"DIFF  {name:32s} " + ", ".join(f"{k} {g} vs torch {w} ({g - w:+d})"
                                                    for k, (g, w) in diff.items()), flush=True)
            failures.append(name)
        else:
            exact[lst] = exact.get(lst, 0) + 1
            print(f"OK    {name:32s} {time.time() - t0:5.1f}s", flush=True)
    for lst in total:
        print(f"{lst}: {exact.get(lst, 0)} of {total[lst]} exact")
    return 1 if failures else 0


def save(recorded: dict[str, Any], out: Path) -> None:
    """Write the figures (after every model, so an interrupted run keeps what it measured)."""
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "source": f"torchvision {torchvision.__version__} / torch {torch.__version__}, weights=None "
                  "(segmentation: weights_backbone=None too), eval, batch 1; inception_v3 at 3x299x299, segmentation at 3x256x256, others 3x224x224",
        "note": "params = sum(p.numel() for p in model.parameters()); buffers = sum(b.numel() for b in "
                "model.buffers()); torch_flop_counter = FlopCounterMode total with autograd on and the math "
                "SDPA backend; macs = torch_flop_counter / 2 (FlopCounterMode counts 2 per multiply-accumulate "
                "of conv, linear and matmul/bmm)",
        "models": dict(sorted(recorded.items())),
    }, indent=1) + "\n")
    tmp.replace(out)


if __name__ == "__main__":
    sys.exit(main())
