"""The checker on long sheets: verdict counts of generated sheets, known without the package.

The sheets are written from hand-derived values (the derivation below), not from `cnncalc table`;
k cells are then altered, and the checker must find exactly those k (speed: benchmarks/bench.py).
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from cnncalc import analyse, build_graph, parse_spec
from cnncalc.check import Rules, Status, grade, parse_sheet
from cnncalc.explain import explain_all

# A chain of n layers on a 16×8×8 input, alternately conv (16 filters, 3×3, pad 1, bias) and relu.
# Every layer outputs 16×8×8 = 1,024 fp32 elements: memory 1,024 × 4 / 1024 = 4 KB.
# conv: params = 16·16·3·3 + 16 = 2,320 → 2.32 k; MACs = 16·8·8 · 16·3·3 = 147,456 → 0.147456 M.
# relu: no params, no MACs.
ROW = {"conv": ("16", "8", "4", "2.32", "0.147456"), "relu": ("16", "8", "4", "0", "0")}
HEAD = ("layer", "c_out", "hw_out", "memory_kb", "params_k", "macs_m")


def _spec(n: int) -> str:
    lines = ["name: long", "input: [16, 8, 8]", "layers:"]
    for i in range(n):
        lines.append(f"  - {{name: c{i}, type: conv, filters: 16, kernel: 3, pad: 1}}" if i % 2 == 0
                     else f"  - {{name: r{i}, type: relu}}")
    return "\n".join(lines) + "\n"


def _sheet(n: int, k: int, seed: int, german: bool = False) -> tuple[str, Counter[str]]:
    """The right sheet with k cells altered (wrong, blank or unreadable); the statuses expected."""
    rows = [[f"c{i}" if i % 2 == 0 else f"r{i}", *ROW["conv" if i % 2 == 0 else "relu"]] for i in range(n)]
    # Totals: n·4 KB; n/2 convs: n/2 · 2.32 k params, n/2 · 0.147456 M MACs (exact decimals).
    convs = (n + 1) // 2
    rows.append(["Total", "", "", str(4 * n), f"{convs * 232 / 100:.2f}", f"{convs * 147456 / 10**6:.6f}"])
    rnd = random.Random(seed)
    cells = rnd.sample([(r, c) for r in range(n) for c in range(1, 6)], k)
    expected: Counter[str] = Counter()
    for j, (r, c) in enumerate(cells):
        kind = ("wrong", "unanswered", "review")[j % 3]
        value = rows[r][c]
        # one more than the right value: outside every tolerance (half a unit of the last digit shown)
        rows[r][c] = {"wrong": _plus_one(value), "unanswered": "?", "review": "n/a"}[kind]
        expected[kind] += 1
    expected["right"] = 5 * n + 3 - k
    sep = ";" if german else ","
    text = "\n".join(sep.join(x.replace(".", ",") if german else x for x in row) for row in [list(HEAD), *rows])
    return text + "\n", expected


def _plus_one(value: str) -> str:
    whole, _, frac = value.partition(".")
    return f"{int(whole) + 1}.{frac}" if frac else str(int(value) + 1)


@pytest.mark.parametrize(("n", "k", "german"), [(3000, 0, False), (3000, 90, False), (2001, 61, True)])
def test_long_sheet_counts(n: int, k: int, german: bool) -> None:
    graph = build_graph(parse_spec(_spec(n), "long.yaml"))
    a = analyse(graph)
    text, expected = _sheet(n, k, seed=n + k, german=german)
    sheet = parse_sheet(text, "long.csv")
    report = grade(a, sheet, Rules(), explain_all(graph, a), {nd.name: nd.layer for nd in graph.nodes})
    got = Counter(c.status.value for c in report.cells)
    assert got == +expected
    assert len(report.wrong) == expected["wrong"] + expected["unanswered"]
    assert report.all_right == (k == 0)
    if k:
        assert report.max_points == 5 * n + 3
        assert report.points == expected["right"]
    wrong = [c for c in report.cells if c.status is Status.WRONG]
    assert all(c.given != c.expected for c in wrong)
