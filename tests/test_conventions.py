"""--convention: the figures torchinfo, fvcore, ptflops, thop and FlopCounterMode print, reproduced from specs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.analysis import analyse
from cnncalc.cli import app
from cnncalc.conventions import CONVENTIONS, reconcile
from cnncalc.graph import build_graph
from cnncalc.layers import LAYER_TYPES
from cnncalc.spec import load_spec, spec_dirs

FIXTURES = Path(__file__).parent / "fixtures" / "conventions"

#: ResNet-50 (torchvision layout, batch 1, 3×224×224) as the tools' current releases print it
#: (issue 7; re-measured here on tests/torch_models.py's ResNet with the versions below).
RESNET50 = {
    "torchinfo": 4_089_238_376,
    "fvcore": 4_111_512_576,
    "ptflops": 4_132_436_968,
    "thop": 4_133_742_592,
    "torch": 8_178_368_512,
}

#: Measured on the models of tests/torch_models.py (specs in fixtures/conventions/, imported from
#: them with cnncalc.importers.torch) with torch 2.13.0+cpu, torchinfo 1.8.0, fvcore
#: 0.1.5.post20221221, ptflops 0.7.5, thop 0.1.1.post2209072238, the model in eval mode under
#: torch.no_grad(), input torch.randn(N, C, H, W):
#:   torchinfo.summary(model, input_size=(N, C, H, W), verbose=0).total_mult_adds
#:   fvcore.nn.FlopCountAnalysis(model, x).total()
#:   ptflops.get_model_complexity_info(model, (C, H, W), as_strings=False, print_per_layer_stat=False,
#:                                     input_constructor=lambda s: torch.randn(N, *s))[0]
#:   thop.profile(model, inputs=(x,), verbose=False)[0]
#:   with FlopCounterMode(display=False) as f: model(x); f.get_total_flops()
MEASURED: dict[tuple[str, int], dict[str, int]] = {
    ("plain", 1): {"torchinfo": 876106, "fvcore": 906720, "ptflops": 1023476, "thop": 957997, "torch": 1708992},
    ("plain", 2): {"torchinfo": 1752212, "fvcore": 1813440, "ptflops": 1067518, "thop": 1915994, "torch": 3417984},
    ("branchy", 1): {"torchinfo": 5924305, "fvcore": 5944128, "ptflops": 6101769, "thop": 5978360,
                     "torch": 11800592},
    ("branchy", 2): {"torchinfo": 11848610, "fvcore": 11888256, "ptflops": 6173621, "thop": 11956720,
                     "torch": 23601184},
    ("decoder", 1): {"torchinfo": 913424, "fvcore": 601600, "ptflops": 556032, "thop": 1283584, "torch": 916480},
    ("decoder", 2): {"torchinfo": 1826848, "fvcore": 1203200, "ptflops": 579072, "thop": 2567168, "torch": 1832960},
    ("acts", 1): {"torchinfo": 122592, "fvcore": 118912, "ptflops": 127200, "thop": 118912, "torch": 237824},
    ("acts", 2): {"torchinfo": 245184, "fvcore": 237824, "ptflops": 129760, "thop": 237824, "torch": 475648},
    ("lrn", 1): {"torchinfo": 212948, "fvcore": 210896, "ptflops": 236726, "thop": 210912, "torch": 420224},
    ("lrn", 2): {"torchinfo": 425896, "fvcore": 421792, "ptflops": 254840, "thop": 421824, "torch": 840448},
    ("shuffle", 1): {"torchinfo": 117843, "fvcore": 134472, "ptflops": 146763, "thop": 151368, "torch": 235152},
    ("shuffle", 2): {"torchinfo": 235686, "fvcore": 268944, "ptflops": 152907, "thop": 302736, "torch": 470304},
    ("resnet_tiny", 1): {"torchinfo": 4045082, "fvcore": 4192256, "ptflops": 4328970, "thop": 4342528,
                         "torch": 8082432},
    ("resnet_tiny", 2): {"torchinfo": 8090164, "fvcore": 8384512, "ptflops": 4397834, "thop": 8685056,
                         "torch": 16164864},
}


def _figure(spec: str, tool: str, batch: int = 1) -> int:
    graph = build_graph(load_spec(spec))
    return reconcile(tool, analyse(graph, batch), {n.name: n.layer for n in graph.nodes}).total


def _resnet50() -> str:
    if not any((d / "resnet50.yaml").is_file() for d in spec_dirs()):
        pytest.skip("specs/resnet50.yaml is not in the zoo yet")
    return "resnet50"


@pytest.mark.parametrize("tool", sorted(RESNET50))
def test_resnet50_figures(tool: str) -> None:
    assert _figure(_resnet50(), tool) == RESNET50[tool]


@pytest.mark.parametrize(("model", "batch", "tool"),
                         [(m, b, t) for (m, b), figs in MEASURED.items() for t in figs])
def test_measured_figures(model: str, batch: int, tool: str) -> None:
    assert _figure(str(FIXTURES / f"{model}.yaml"), tool, batch) == MEASURED[(model, batch)][tool]


def test_torch_is_twice_the_macs() -> None:
    # FlopCounterMode counts conv/deconv/linear only, 2 per multiply-add: exactly 2 × cnncalc's MACs
    for (model, batch), figs in MEASURED.items():
        a = analyse(build_graph(load_spec(str(FIXTURES / f"{model}.yaml"))), batch)
        assert figs["torch"] == 2 * a.totals.macs


def test_resnet50_breakdown_by_module() -> None:
    graph = build_graph(load_spec(_resnet50()))
    rec = reconcile("ptflops", analyse(graph), {n.name: n.layer for n in graph.nodes})
    parts = {p.module: p for p in rec.parts}
    # ReLU is counted by its module hook and again by the patched F.relu: 2 × 9,608,704 elements
    assert parts["ReLU"].calls == 49 and parts["ReLU"].count == 2 * 9_608_704
    # the stem max-pool's input 64×112×112, twice
    assert parts["MaxPool2d"].count == 2 * 64 * 112 * 112
    diffs = {p.module: d for p, d in rec.differences()}
    assert diffs["Linear"] == 1000  # the fc bias
    assert "Conv2d" not in diffs  # no conv bias in ResNet-50: ptflops' conv count is the MACs
    text = "\n".join(rec.summary())
    assert "4,132,436,968" in text and "BatchNorm2d ×53" in text


def test_rule_names_are_torch_modules_of_kinds() -> None:
    # every rule is keyed by a name some layer kind declares (a typo would silently count nothing)
    declared = {m for cls in LAYER_TYPES.values() for m in getattr(cls, "torch_modules", (cls.torch_module,))}
    for conv in CONVENTIONS.values():
        assert set(conv.rules) <= declared, (conv.name, set(conv.rules) - declared)


def test_per_row_counts_sum_to_the_total() -> None:
    graph = build_graph(load_spec(str(FIXTURES / "branchy.yaml")))
    a = analyse(graph)
    for tool in CONVENTIONS:
        rec = reconcile(tool, a, {n.name: n.layer for n in graph.nodes})
        assert sum(rec.row_count(r) for r in a.rows) == rec.total == rec.count_of(a.rows)


runner = CliRunner()


def test_cli_table_convention() -> None:
    r = runner.invoke(app, ["table", _resnet50(), "--convention", "torchinfo"])
    assert r.exit_code == 0, r.output
    assert "torchinfo 1.8.0 would print 4,089,238,376 mult-adds" in r.stdout
    assert "BatchNorm2d ×53" in r.stdout


def test_cli_table_convention_csv_column_and_json() -> None:
    r = runner.invoke(app, ["table", str(FIXTURES / "plain.yaml"), "--convention", "thop", "-f", "csv"])
    assert r.exit_code == 0, r.output
    header, *rows = r.stdout.strip().splitlines()
    assert header.endswith(",thop")  # CSV headers are the column keys
    assert rows[-1].endswith("957997")
    r = runner.invoke(app, ["table", str(FIXTURES / "plain.yaml"), "--convention", "fvcore", "-f", "json",
                            "--batch", "2"])
    data = json.loads(r.stdout)
    assert data["convention"]["total"] == MEASURED[("plain", 2)]["fvcore"]
    assert data["convention"]["layers"]["bn1"] == 2 * 2 * 16 * 32 * 32  # 2 per element, batch 2


def test_cli_compare_convention() -> None:
    r = runner.invoke(app, ["compare", str(FIXTURES / "plain.yaml"), str(FIXTURES / "acts.yaml"),
                            "--convention", "ptflops", "-f", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [row["ptflops"] for row in rows] == [MEASURED[("plain", 1)]["ptflops"], MEASURED[("acts", 1)]["ptflops"]]


def test_cli_bad_convention() -> None:
    r = runner.invoke(app, ["table", "alexnet_cs231n", "--convention", "flopco"])
    assert r.exit_code == 2
