"""Random exercises with answer keys, reproducible by seed: a spec, its worksheet and the filled key."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .analysis import Analysis, analyse
from .check.sheets import SheetFormat
from .check.worksheet import ASKED, render_worksheet, worksheet, worksheet_notes
from .columns import Units, build_table, pick
from .explain import explain_all
from .graph import Graph, build_graph
from .spec import parse_spec

QuizKind = Literal["conv", "pool", "fc", "network"]
KINDS: tuple[QuizKind, ...] = ("conv", "pool", "fc", "network")
#: Columns a quiz worksheet gives, and what a one-layer exercise asks.
GIVEN_COLUMNS = ("layer", "c_in", "hw_in", "filters", "kernel", "stride", "pad")
EXACT_ASKED = ("c_out", "hw_out", "memory_kb", "params", "macs")

Entry = dict[str, int | str | bool]


@dataclass(frozen=True)
class Quiz:
    """One exercise: the question, its spec (YAML text), the analysed network and the worksheet/key tables."""

    seed: int
    kind: QuizKind
    question: str
    spec_text: str
    graph: Graph
    analysis: Analysis

    @property
    def name(self) -> str:
        return f"quiz_{self.kind}_{self.seed}"

    @property
    def asked(self) -> tuple[str, ...]:
        """One-layer exercises ask for exact counts (the seed's "456 parameters"); a network, the seed table's."""
        return ASKED if self.kind == "network" else EXACT_ASKED

    @property
    def columns(self) -> list[str]:
        return [*GIVEN_COLUMNS, *self.asked]

    def worksheet(self, fmt: SheetFormat = "csv") -> str:
        """The table to fill: hyper-parameters given, output size, memory, params and MACs blank."""
        return render_worksheet(worksheet(self.analysis, self.asked, columns=self.columns, totals=True), fmt, True,
                                notes=worksheet_notes(self.analysis))

    def key(self, fmt: SheetFormat = "csv") -> str:
        """The filled table, rounded columns to 3 decimals (a valid answer file that checks as all right)."""
        return render_worksheet(build_table(self.analysis, pick(self.columns), Units(decimals=3)), fmt, True)

    def markdown(self, with_key: bool = True) -> str:
        """Question, spec, worksheet and (optionally) the answer key with every formula worked out."""
        parts = [f"# Exercise {self.name} (cnncalc quiz --seed {self.seed} --kind {self.kind})", "",
                 self.question, "", "```yaml", self.spec_text.rstrip(), "```", "",
                 "## Worksheet", "", self.worksheet("markdown").rstrip(), ""]
        if with_key:
            parts += ["## Answer key", "", self.key("markdown").rstrip(), ""]
            formulas = explain_all(self.graph, self.analysis)
            for r in self.analysis.rows:
                parts.append(f"**{r.name}**")
                parts += [f"- {f}" for f in formulas.get(r.name, [])]
                parts.append("")
        return "\n".join(parts)


def _window_ok(size: int, k: int, s: int, p: int, exact: bool) -> bool:
    num = size + 2 * p - k
    return num >= 0 and (num % s == 0 or not exact)


def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _conv(rng: random.Random, size: int, exact: bool, name: str, c_choices: tuple[int, ...]) -> tuple[Entry, int]:
    """A conv entry whose window fits ``size`` (tiling it exactly when ``exact``) and its output size."""
    for _ in range(200):
        k = rng.choice((1, 3, 3, 5, 5, 7, 11) if size >= 11 else (1, 3, 3, 5))
        s = rng.choice((1, 1, 2) if k < 7 else (2, 4))
        p = rng.choice(sorted({0, k // 2}))
        if k <= size + 2 * p and _window_ok(size, k, s, p, exact):
            return ({"name": name, "type": "conv", "filters": rng.choice(c_choices), "kernel": k, "stride": s,
                     "pad": p}, _out(size, k, s, p))
    return ({"name": name, "type": "conv", "filters": rng.choice(c_choices), "kernel": 1}, size)


def _pool(rng: random.Random, size: int, exact: bool, name: str) -> tuple[Entry, int] | None:
    for k, s in rng.sample([(2, 2), (3, 2), (2, 2), (3, 3)], 4):
        if k <= size and _window_ok(size, k, s, 0, exact):
            return {"name": name, "type": "maxpool", "kernel": k, "stride": s}, _out(size, k, s, 0)
    return None


def _gen_conv(rng: random.Random) -> tuple[list[int], list[Entry], str]:
    c = rng.choice((1, 3))
    size = rng.choice((28, 32, 64, 96, 128, 224, 227))
    entry, _ = _conv(rng, size, rng.random() < 0.8, "conv1", (6, 8, 16, 32, 64, 96))
    colour = "grayscale" if c == 1 else "colour (3 channels)"
    q = (f"An input image of {size}×{size}, {colour}, goes through a convolution layer with "
         f"{entry['filters']} filters of {entry['kernel']}×{entry['kernel']}, stride {entry.get('stride', 1)} "
         f"and padding {entry.get('pad', 0)}. Compute the output size, the activation memory (fp32, "
         "KB = 1024 bytes), the number of learnable parameters and the multiply-adds (both as exact counts).")
    return [c, size, size], [entry], q


def _gen_pool(rng: random.Random) -> tuple[list[int], list[Entry], str]:
    c = rng.choice((16, 32, 64, 96, 192, 256, 512))
    size = rng.choice((13, 27, 28, 55, 56, 112))
    made = _pool(rng, size, rng.random() < 0.7, "pool1") or _pool(rng, size, False, "pool1")
    assert made is not None
    entry, _ = made
    q = (f"A {c}×{size}×{size} feature map goes through max pooling with a {entry['kernel']}×{entry['kernel']} "
         f"window and stride {entry['stride']}. Compute the output size (rounding down), the activation "
         "memory (fp32, KB = 1024 bytes), the learnable parameters and the multiply-adds.")
    return [c, size, size], [entry], q


def _gen_fc(rng: random.Random) -> tuple[list[int], list[Entry], str]:
    c = rng.choice((64, 128, 256, 512))
    size = rng.choice((1, 2, 4, 6, 7))
    units = rng.choice((10, 100, 256, 512, 1000, 4096))
    entries: list[Entry] = [{"name": "flatten", "type": "flatten"}, {"name": "fc1", "type": "fc", "units": units}]
    q = (f"A {c}×{size}×{size} feature map is flattened and fed to a fully-connected layer of {units} units "
         "(with bias). Compute the sizes, the activation memory (fp32, KB = 1024 bytes), the learnable "
         "parameters and the multiply-adds (both as exact counts).")
    return [c, size, size], entries, q


def _gen_network(rng: random.Random) -> tuple[list[int], list[Entry], str]:
    size = rng.choice((32, 64, 96, 224, 227))
    shape = [3, size, size]
    entries: list[Entry] = []
    stages = rng.randint(2, 3)
    channels = rng.choice((16, 32, 64))
    for i in range(1, stages + 1):
        entry, size = _conv(rng, size, True, f"conv{i}", (channels,))
        entry["activation"] = "relu"
        entries.append(entry)
        made = _pool(rng, size, True, f"pool{i}") if size >= 4 else None
        if made is not None:
            entries.append(made[0])
            size = made[1]
        channels *= 2
    entries.append({"name": "flatten", "type": "flatten"})
    entries.append({"name": "fc1", "type": "fc", "units": rng.choice((64, 128, 256)), "activation": "relu"})
    entries.append({"name": "fc2", "type": "fc", "units": rng.choice((10, 100, 1000))})
    q = ("Fill the table for this small network (fp32, KB = 1024 bytes, params in thousands, "
         "multiply-adds of conv and fc layers in millions; pooling counts 0 multiply-adds).")
    return shape, entries, q


_GENERATORS: dict[str, Callable[[random.Random], tuple[list[int], list[Entry], str]]] = {
    "conv": _gen_conv, "pool": _gen_pool, "fc": _gen_fc, "network": _gen_network,
}


def _yaml_entry(e: Entry) -> str:
    return "{" + ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in e.items()) + "}"


def make_quiz(seed: int, kind: QuizKind = "network") -> Quiz:
    """The exercise for ``seed`` and ``kind``; the same pair always gives the same exercise."""
    rng = random.Random(f"{kind}:{seed}")
    shape, entries, question = _GENERATORS[kind](rng)
    name = f"quiz_{kind}_{seed}"
    text = "\n".join([
        f"# cnncalc quiz --seed {seed} --kind {kind}",
        f"name: {name}",
        f"title: Exercise {seed} ({kind})",
        f"input: [{', '.join(map(str, shape))}]",
        "layers:",
        *(f"  - {_yaml_entry(e)}" for e in entries),
    ]) + "\n"
    loaded = parse_spec(text, f"{name}.yaml")
    graph = build_graph(loaded)
    return Quiz(seed, kind, question, text, graph, analyse(graph))
