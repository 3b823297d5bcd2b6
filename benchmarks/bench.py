"""Benchmark: whole `cnncalc table` processes on the built-in specs, and analysis time vs layers.

Run: python benchmarks/bench.py [--runs 5] [--sizes 1000,2000,5000,10000,20000]
Prints medians; analysis should be linear in the number of layers (µs/layer roughly constant).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from cnncalc import analyse, build_graph, parse_spec


def generated_spec(n: int) -> str:
    """A chain of n layers: conv 3×3 (pad 1) / batchnorm / relu, with a residual add every 4th."""
    lines = ["name: generated", "input: [16, 32, 32]", "layers:"]
    for i in range(n):
        kind = i % 4
        if kind == 0:
            lines.append(f"  - {{name: l{i}, type: conv, filters: 16, kernel: 3, pad: 1, bias: false}}")
        elif kind == 1:
            lines.append(f"  - {{name: l{i}, type: batchnorm}}")
        elif kind == 2:
            lines.append(f"  - {{name: l{i}, type: relu}}")
        else:
            lines.append(f"  - {{name: l{i}, type: add, inputs: [l{i - 1}, l{i - 3}]}}")
    return "\n".join(lines) + "\n"


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    ap.add_argument("--specs", default="alexnet_cs231n,vgg16,googlenet_stem,googlenet,resnet152")
    args = ap.parse_args()

    # As a user runs it: bytecode caches written (some shells set PYTHONDONTWRITEBYTECODE, which
    # recompiles every module on each start), one warm-up run first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def whole(cmd: list[str]) -> float | None:
        if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
            return None
        return median_time(lambda: subprocess.run(cmd, capture_output=True, check=True, env=env), args.runs)

    floor = whole([sys.executable, "-c", "import pydantic, typer, rich.console, yaml"])
    print(f"whole process (median wall seconds); importing the stack alone (pydantic, typer, rich, yaml): "
          f"{floor:.3f} s")
    print(f"  {'spec':20} {'table':>7} {'csv':>7}")
    for spec in args.specs.split(","):
        base = [sys.executable, "-m", "cnncalc", "table", spec]
        t, c = whole(base), whole([*base, "--format", "csv"])
        print(f"  {spec:20} " + (f"{t:>6.3f}s {c:>6.3f}s" if t and c else "(not available)"))

    print("\nanalysis of a generated spec (median seconds; parse = YAML + validation)")
    print(f"  {'layers':>7} {'parse':>8} {'graph':>8} {'analyse':>8} {'total':>8} {'µs/layer':>9}")
    for n in (int(x) for x in args.sizes.split(",")):
        text = generated_spec(n)
        loaded = parse_spec(text, "generated.yaml")
        graph = build_graph(loaded)
        tp = median_time(lambda text=text: parse_spec(text, "generated.yaml"), args.runs)
        tg = median_time(lambda loaded=loaded: build_graph(loaded), args.runs)
        ta = median_time(lambda graph=graph: analyse(graph), args.runs)
        total = tp + tg + ta
        print(f"  {n:>7} {tp:>8.3f} {tg:>8.3f} {ta:>8.3f} {total:>8.3f} {total / n * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
