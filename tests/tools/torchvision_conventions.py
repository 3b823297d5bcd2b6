"""What ptflops and thop print for torchvision models, beside ``--convention`` on their imported specs.

Run with a Python that has torch, torchvision, ptflops and thop (the PyPI builds)::

    PYTHONPATH=$PWD python tests/tools/torchvision_conventions.py            # compare, print a summary
    PYTHONPATH=$PWD python tests/tools/torchvision_conventions.py --record   # also (re)write the figures

The tools themselves are the oracle, at batch 1, model in eval mode, weights=None:

- ``ptflops.get_model_complexity_info(model, (C, H, W), as_strings=False,
  print_per_layer_stat=False)[0]`` (default pytorch backend, functionals and tensor ops patched);
- ``thop.profile(model, inputs=(x,), verbose=False)[0]`` with ``x = torch.randn(1, C, H, W)``.

``--record`` writes them to tests/reference/torchvision_conventions.json together with the imported
spec of each recorded model under tests/fixtures/torchvision/NAME.yaml, so that
tests/test_conventions.py checks ``--convention`` against them where torchvision is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import ptflops
import thop
import torch
import torchvision

HERE = Path(__file__).resolve().parents[1]
REFERENCE = HERE / "reference" / "torchvision_conventions.json"
SPECS = HERE / "fixtures" / "torchvision"

#: Models that mix nn modules with functional calls (F.relu, F.avg_pool2d, F.adaptive_avg_pool2d,
#: F.interpolate, torch.flatten, x.mean) plus plain module ones, the issue's named 23 among them.
MODELS = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet",
          "inception_v3", "maxvit_t", "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf",
          "regnet_y_1_6gf", "resnet18", "resnext101_64x4d", "shufflenet_v2_x0_5", "squeezenet1_1", "swin_t",
          "swin_v2_t", "vgg11_bn", "vit_b_16", "wide_resnet101_2", "fcn_resnet50",
          "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
SEGMENTATION = {"fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}
INPUTS = {"inception_v3": (3, 299, 299)}
TOOLS = ("ptflops", "thop")


def shape_of(name: str) -> tuple[int, int, int]:
    return (3, 256, 256) if name in SEGMENTATION else INPUTS.get(name, (3, 224, 224))


def build(name: str) -> torch.nn.Module:
    if name in SEGMENTATION:
        return getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None).eval()
    return getattr(torchvision.models, name)(weights=None).eval()


def tool_figures(name: str) -> dict[str, int]:
    """The tools' own figures (the oracle)."""
    shape = shape_of(name)
    torch.manual_seed(0)
    quiet = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(quiet):
        p, _ = ptflops.get_model_complexity_info(build(name), shape, as_strings=False,
                                                 print_per_layer_stat=False)
        t, _ = thop.profile(build(name), inputs=(torch.randn(1, *shape),), verbose=False)
    return {"ptflops": int(p), "thop": int(t)}


def spec_text(name: str) -> str:
    from cnncalc.importers import torch_spec_text
    module = "tests.tools.tv_segmentation" if name in SEGMENTATION else "torchvision.models"
    return torch_spec_text(f"{module}:{name}", shape_of(name))


def cnncalc_figures(text: str, name: str) -> dict[str, int]:
    from cnncalc.analysis import analyse
    from cnncalc.conventions import reconcile
    from cnncalc.graph import build_graph
    from cnncalc.spec import parse_spec
    graph = build_graph(parse_spec(text, f"{name}.yaml"))
    a = analyse(graph)
    layers = {n.name: n.layer for n in graph.nodes}
    return {tool: reconcile(tool, a, layers).total for tool in TOOLS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true", help="write figures and specs under tests/")
    ap.add_argument("--only", default="", help="comma-separated models (default: the list above)")
    args = ap.parse_args()
    recorded: dict[str, Any] = json.loads(REFERENCE.read_text())["models"] if REFERENCE.exists() else {}
    names = [n for n in args.only.split(",") if n] or MODELS
    bad = 0
    for name in names:
        t0 = time.time()
        ref = recorded.get(name) if not args.record else None
        if ref is None:
            ref = {"input": list(shape_of(name)), **tool_figures(name)}
        text = spec_text(name)
        got = cnncalc_figures(text, name)
        for tool in TOOLS:
            ok = got[tool] == ref[tool]
            bad += not ok
            print(f"{'OK  ' if ok else 'DIFF'} {name:30s} {tool:8s} {got[tool]:>15,} vs {ref[tool]:>15,} "
                  f"({got[tool] - ref[tool]:+,})", flush=True)
        if args.record:
            recorded[name] = ref
            SPECS.mkdir(exist_ok=True)
            (SPECS / f"{name}.yaml").write_text(text)
            save(recorded)
        print(f"     {name} {time.time() - t0:.1f}s", flush=True)
    print(f"{2 * len(names) - bad} of {2 * len(names)} reproduced")
    return 1 if bad else 0


def save(recorded: dict[str, Any]) -> None:
    tmp = REFERENCE.with_suffix(".tmp")
    tmp.write_text(json.dumps({
        "source": f"ptflops {version('ptflops')}, thop {version('thop')}, "
                  f"torchvision {torchvision.__version__} / torch {torch.__version__}; "
                  "weights=None (segmentation: weights_backbone=None), eval, batch 1",
        "how": "ptflops.get_model_complexity_info(model, (C, H, W), as_strings=False, print_per_layer_stat=False)[0]; "
               "thop.profile(model, inputs=(torch.randn(1, C, H, W),), verbose=False)[0]; under torch.no_grad()",
        "models": dict(sorted(recorded.items())),
    }, indent=1) + "\n")
    tmp.replace(REFERENCE)


if __name__ == "__main__":
    sys.exit(main())
