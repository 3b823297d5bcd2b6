"""Sheets as a course receives them, in every format, with planted slips and their key.

Each sheet below is written out by hand from the lecture notes' tables (../shared/seeds): every
cell right except the planted ones, whose wrong value is derived in the comment beside it. The
checker must find exactly the planted cells (precision and recall 1.0 on wrong cells) and name the
slip planted in each; the figures are printed by ``test_planted_corpus_scores`` (-s) and asserted.
Cells that follow from an earlier slip are planted as ``carried_forward``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cnncalc import analyse, build_graph, load_spec
from cnncalc.check import Report, Rules, Status, grade, parse_sheet, read_sheet
from cnncalc.check.expected import GIVEN
from cnncalc.cli import app
from cnncalc.explain import explain_all

runner = CliRunner()
EXAMPLES = Path(__file__).parent.parent / "specs" / "examples"

# The conv exercise of seed 001 ("28×28 … 6 filters of 5×5, stride 1, padding 2"), colour variant.
CONV_EXERCISE = """name: conv_exercise
input: [3, 28, 28]
layers:
  - {name: conv1, type: conv, filters: 6, kernel: 5, stride: 1, pad: 2}
"""


@dataclass(frozen=True)
class Planted:
    """One submission: its file name and text, the spec, rules, range, and the planted slips."""

    name: str
    spec: str
    text: str | bytes
    slips: dict[tuple[str, str], str]
    rules: Rules = field(default_factory=Rules)
    start: str | None = None
    end: str | None = None


# ----------------------------------------------------------------------------- the corpus

# AlexNet (seed 001, CS231n's numbers): C_out, H'/W', Mem KB (×4 B / 1024), Params k, MACs M.
# conv1 96 55 1134.375 34.944 105.4152 | pool1 96 27 273.375 0 0 | conv2 256 27 729 614.656 447.8976
# pool2 256 13 169 0 0 | conv3 384 13 253.5 885.12 149.520384 | conv4 384 13 253.5 1327.488 224.280576
# conv5 256 13 169 884.992 149.520384 | pool5 256 6 36 0 0 | flatten 9216 36 0 0
# fc6 4096 16 37752.832 37.748736 | fc7 4096 16 16781.312 16.777216 | fc8 1000 3.90625 4097 4.096
# Total: 3089.65625 KB, 62378.344 k, 1135.256096 M.
EXCEL_BOM_CRLF = (
    "\ufeffLayer,C_out,H'/W',Mem (KB),Params (k),MACs (M)\r\n"
    "Conv 1,96,55,1134,34.848,105\r\n"        # forgot bias: 96·3·11·11 = 34,848
    "Pool-1,96,27,273,0,0.6\r\n"              # pooling ops: 96·27·27·9 = 629,856 → 0.6
    "Conv 2,256,25,729,615,448\r\n"           # one-sided pad: (27 − 5 + 2)/1 + 1 = 25
    "Pool-2,256,13,169,0,0\r\n"
    "Conv 3,384,13,422.5,885,150\r\n"         # input memory: 253.5 + 256·13·13·4/1024 = 422.5
    "Conv 4,384,13,254,1327,224\r\n"
    "Conv 5,256,13,169,885,150\r\n"
    "Pool-5,256,6,36,0,0\r\n"
    "Flatten,9216,,36,0,0\r\n"
    "FC 6,4096,,16,37753,38\r\n"
    "FC 7,4096,,16,16718,17\r\n"              # digits swapped: 16,781 → 16,718
    "FC 8,1000,,4,4097,4\r\n"
    "Total:,,,3090,62378,1135\r\n"
)
# German Excel: ';' between cells, decimal commas, exact decimals.
GERMAN = (
    "Layer;C_out;H'/W';Mem. (KB);Param. (k);Flops (M)\n"
    "conv1;96;55;1161,6;34,944;105,4152\n"    # KB of 1000: 1,161,600 B / 1000 = 1161.6
    "pool1;96;27;273,375;0;0\n"
    "conv2;256;27;729;614,656;447,8976\n"
    "pool2;256;13;169;0;0\n"
    "conv3;384;13;253,5;885,12;149,520384\n"
    "conv4;384;13;63,375;1327,488;224,280576\n"   # elements: 384·13·13 / 1024 = 63.375
    "conv5;256;13;338;884,992;149,520384\n"       # backward ×2: 2 × 169 = 338
    "pool5;256;6;36;0;0\n"
    "flatten;9216;;36;0;0\n"
    "fc6;4096;;16;37752832;37,748736\n"           # exact count in a k column
    "fc7;4096;;16;16781,312;16,777216\n"
    "fc8;1000;;3,90625;4097;4,096\n"
    "Total;;;3089,66;62378,34;1135,26\n"
)
# A TSV pasted from a web page: the notes' layout with its title and sub-header rows (realigned).
WEB_TSV = (
    "\tInput Size\t\tLayer\t\t\t\tOutput size\t\t\t\t\n"
    "Layer\tC\tH / W\tFilters\tKernel\tStride\tPad\t\tH' / W'\tMem. (KB)\tParam. (k)\tFlops (M)\n"
    "\tC_{in}\t\tC_{out}\tK\tS\tP\tC_{out}\t\t\t\t\n"
    "conv1\t3\t227\t96\t11\t4\t0\t96\t55\t1134\t35\t105\n"
    "pool1\t96\t55\t\t3\t2\t0\t96\t27\t273\t0\t0\n"
    "conv2\t96\t27\t256\t5\t1\t2\t256\t27\t729\t885\t896\n"   # conv3's params; 2 FLOPs/MAC: 2 × 447.9
    "pool2\t256\t27\t\t3\t2\t0\t256\t13\t169\t0\t0\n"
    "conv3\t256\t13\t384\t3\t1\t1\t384\t13\t254\t615\t150\n"  # conv2's params (rows swapped)
    "conv4\t384\t13\t384\t3\t1\t1\t384\t13\t254\t1,327\t224\n"
    "conv5\t384\t13\t256\t3\t1\t1\t256\t13\t169\t885\t150\n"
    "pool5\t256\t13\t\t3\t2\t0\t256\t6\t36\t0\t0\n"
    "flatten\t256\t6\t\t\t\t\t9216\t\t36\t0\t0\n"
    "fc6\t9216\t\t4096\t\t\t\t4096\t\t16\t37,753\t38\n"
    "fc7\t4096\t\t4096\t\t\t\t4096\t\t16\t16,781\t17\n"
    "fc8\t4096\t\t1000\t\t\t\t1000\t\t4\t4,097\t4\n"
    "Total\t\t\t\t\t\t\t\t\t3090\t62378\t1135\n"
)
# Google Sheets CSV: VGG-16 from 224 to 28 (conv1_1 … pool3), exact params and MACs, by hand:
# conv1_1 224 1,792 (3·64·9 + 64) 86,704,128 (64·224²·27) | conv1_2 224 36,928 1,849,688,064 (64·224²·576)
# pool1 112 | conv2_1 112 73,856 924,844,032 (128·112²·576) | conv2_2 112 147,584 1,849,688,064
# pool2 56 | conv3_1 56 295,168 924,844,032 | conv3_2, conv3_3 56 590,080 1,849,688,064 | pool3 28
# The student forgets the "+ 1" at pool2: (112 − 2)/2 = 55, and carries 55 on:
# conv3_1 MACs 256·55²·1152 = 892,108,800; conv3_2/3 256·55²·2304 = 1,784,217,600; pool3 ⌊53/2⌋ + 1 = 27;
# Total MACs as the sum of those rows: 9,171,468,288. conv1_1 params without bias: 3·64·9 = 1,728.
GOOGLE_SHEETS = (
    "layer,hw_out,params,macs\n"
    'conv1_1,224,"1,728","86,704,128"\n'
    'conv1_2,224,"36,928","1,849,688,064"\n'
    "pool1,112,0,0\n"
    'conv2_1,112,"73,856","924,844,032"\n'
    'conv2_2,112,"147,584","1,849,688,064"\n'
    "pool2,55,0,0\n"
    'conv3_1,55,"295,168","892,108,800"\n'
    'conv3_2,55,"590,080","1,784,217,600"\n'
    'conv3_3,55,"590,080","1,784,217,600"\n'
    "pool3,27,0,0\n"
    'Total,,"1,735,488","9,171,468,288"\n'
)
# A Markdown table from a notebook: the GoogLeNet stem (seed 001) under its slide's convention
# (Flops = conv MACs + pooling ops). By hand: conv1 64 112 3136 9.472 118.013952 | pool1 64 56 784 0
# 1.806336 | conv2 64 56 784 4.16 12.845056 | conv3 192 56 2352 110.784 346.816512 | pool2 192 28 588 0
# 1.354752; totals 7644 KB, 124.416 k, 480.836608 M. The student floors pool1 (ceil_mode): 55, and
# carries it: pool1 64·55²·4/1024 = 756.25; conv2 756.25 KB, 64·55²·64 = 12.3904 M; conv3 192·55²·4/1024
# = 2268.75 KB, 192·55²·576 = 334.5408 M; pool2 ⌈52/2⌉ + 1 = 27, 192·27²·4/1024 = 546.75 KB, 192·27²·9 =
# 1.259712 M (→ 1, right anyway); totals of those rows: 7464 KB, 467.947264 → 468 M.
NOTEBOOK_MD = """Here is my table for the stem:

| Layer | C_out | H' / W' | Mem. (KB) | Param. (k) | Flops (M) |
|:------|------:|--------:|----------:|-----------:|----------:|
| conv1 | 64 | 112 | 3136 | 9 | 118 |
| pool1 | 64 | 55 | 756 | 0 | 2 |
| conv2 | 64 | 55 | 756 | 4 | 12 |
| conv3 | 192 | 55 | 2269 | 111 | 335 |
| pool2 | 192 | 27 | 547 | 0 | 1 |
| **Total** | | | 7464 | 124 | 468 |
"""
# YAML: the conv exercise with the notes' errata copied: "(28 − 5 + 2 × 1)/1 + 1 = 32" (with pad 2 it is
# (28 − 5 + 4)/1 + 1 = 28) and "75 × 6144 = 460,800" (75 × 6·28·28 = 352,800). Params 6·(3·25 + 1) =
# 456, memory 6·28·28·4/1024 = 18.375 KB.
ERRATA_YAML = """layers:
  - {layer: conv1, c_out: 6, hw_out: 32, memory_kb: 18.4, params: 456, macs: 460800}
total: {memory_kb: 18.4, params: 456, macs: 460800}
"""
# Formula answers (seed 001's "two 3×3" option, bias omitted): per conv 9C² params and 9C²HW MACs,
# totals 18C², 18C²HW. Planted: a bias added (9C² + C), FLOPs for MACs (18C²HW per layer, 36C²HW in
# total); the notation varies as students write it.
FORMULAS = (
    "layer,params,macs\n"
    "conv3x3_a,9C^2,9 C^2 H W MACs\n"
    "conv3x3_b,9C^2 + C,18 C^2 x H x W\n"
    "Total,18C²,36C^2HW\n"
)
# YAML by layer name: AlexNet with conv1's pad read as the notes print it (2): ⌊(227 − 11 + 4)/4⌋ + 1 = 56,
# 96·56²·4/1024 = 1176 KB, 96·56²·363 = 109,283,328 → 109 M; pool1 ⌊(56 − 3)/2⌋ + 1 = 27 as before, so the
# chain stops there. Totals of the rows as answered: 3089.65625 − 1134.375 + 1176 = 3131.28 KB,
# 1135.256096 − 105.4152 + 109.283328 = 1139.124224 → 1139 M.
PAD2_YAML = """conv1: {c_out: 96, hw_out: 56, memory_kb: 1176, params_k: 35, macs_m: 109}
pool1: {c_out: 96, hw_out: 27, memory_kb: 273, params_k: 0, macs_m: 0}
conv2: {c_out: 256, hw_out: 27, memory_kb: 729, params_k: 615, macs_m: 448}
pool2: {c_out: 256, hw_out: 13, memory_kb: 169, params_k: 0, macs_m: 0}
conv3: {c_out: 384, hw_out: 13, memory_kb: 253.5, params_k: 885, macs_m: 150}
conv4: {c_out: 384, hw_out: 13, memory_kb: 253.5, params_k: 1327, macs_m: 224}
conv5: {c_out: 256, hw_out: 13, memory_kb: 169, params_k: 885, macs_m: 150}
pool5: {c_out: 256, hw_out: 6, memory_kb: 36, params_k: 0, macs_m: 0}
flatten: {c_out: 9216, memory_kb: 36, params_k: 0, macs_m: 0}
fc6: {c_out: 4096, memory_kb: 16, params_k: 37753, macs_m: 38}
fc7: {c_out: 4096, memory_kb: 16, params_k: 16781, macs_m: 17}
fc8: {c_out: 1000, memory_kb: 4, params_k: 4097, macs_m: 4}
Total: {memory_kb: 3131, params_k: 62378, macs_m: 1139}
"""
# The VGG list (seed 003) under its conventions (H×W×C, weights only), three lines changed:
# conv2_1 written C×H×W and with its 128 biases (64·128·9 = 73,728 weights; + 128 = 73,856), pool2 without
# the "+ 1" ((112 − 2)/2 = 55), fc8's 4096·1000 = 4,096,000 weights written a thousand times too large.
VGG_LIST = (Path(__file__).parent / "fixtures" / "answers" / "vgg16_seed.yaml").read_text().replace(
    '{layer: CONV3-128, output_shape: 112x112x128, params: "73,728"}',
    '{layer: CONV3-128, output_shape: 128x112x112, params: "73,856"}').replace(
    '{layer: POOL2, output_shape: 56x56x128, params: "0"}', '{layer: POOL2, output_shape: 55x55x128, params: "0"}',
    1).replace('params: "4,096,000"}', 'params: "4,096,000,000"}')
VGG_RULES = Rules(shape_order="hwc", bias=False, missing_rows="ignore", columns=["output_shape", "params"])


def corpus() -> list[Planted]:
    return [
        Planted("excel.csv", "alexnet_cs231n", EXCEL_BOM_CRLF.encode("utf-8"), {
            ("conv1", "params_k"): "forgot_bias", ("pool1", "macs_m"): "pooling_ops",
            ("conv2", "hw_out"): "one_side_pad", ("conv3", "memory_kb"): "input_memory",
            ("fc7", "params_k"): "digits_swapped",
        }),
        Planted("german.csv", "alexnet_cs231n", GERMAN.encode("cp1252"), {
            ("conv1", "memory_kb"): "kb_1000", ("conv4", "memory_kb"): "elements",
            ("conv5", "memory_kb"): "backward", ("fc6", "params_k"): "units",
        }),
        Planted("web.tsv", "alexnet_cs231n", WEB_TSV, {
            ("conv2", "params_k"): "swapped_rows", ("conv3", "params_k"): "swapped_rows",
            ("conv2", "macs_m"): "flops_per_mac",
        }),
        Planted("sheets.csv", "vgg16", GOOGLE_SHEETS, {
            ("conv1_1", "params"): "forgot_bias", ("pool2", "hw_out"): "forgot_plus_one",
            ("conv3_1", "hw_out"): "carried_forward", ("conv3_1", "macs"): "carried_forward",
            ("conv3_2", "hw_out"): "carried_forward", ("conv3_2", "macs"): "carried_forward",
            ("conv3_3", "hw_out"): "carried_forward", ("conv3_3", "macs"): "carried_forward",
            ("pool3", "hw_out"): "carried_forward", ("Total", "macs"): "carried_forward",
        }, Rules(columns=["hw_out", "params", "macs"]), None, "pool3"),
        Planted("notebook.md", "googlenet_stem", NOTEBOOK_MD, {
            ("pool1", "hw_out"): "ceil_floor", ("pool1", "memory_kb"): "ceil_floor",
            ("conv2", "hw_out"): "carried_forward", ("conv2", "memory_kb"): "carried_forward",
            ("conv2", "macs_m"): "carried_forward", ("conv3", "hw_out"): "carried_forward",
            ("conv3", "memory_kb"): "carried_forward", ("conv3", "macs_m"): "carried_forward",
            ("pool2", "hw_out"): "carried_forward", ("pool2", "memory_kb"): "carried_forward",
            ("Total", "memory_kb"): "carried_forward", ("Total", "macs_m"): "carried_forward",
        }, Rules(work="macs+pool_ops")),
        Planted("errata.yaml", "conv_exercise.yaml", ERRATA_YAML, {
            ("conv1", "hw_out"): "notes_erratum", ("conv1", "macs"): "notes_erratum",
            ("Total", "macs"): "notes_erratum",
        }),
        Planted("pad2.yaml", "alexnet_cs231n", PAD2_YAML, {
            ("conv1", "hw_out"): "wrong_pad", ("conv1", "memory_kb"): "wrong_pad", ("conv1", "macs_m"): "wrong_pad",
            ("Total", "memory_kb"): "carried_forward", ("Total", "macs_m"): "carried_forward",
        }),
        Planted("vgg_list.yaml", "vgg16", VGG_LIST, {
            ("conv2_1", "output_shape"): "hwc", ("conv2_1", "params"): "added_bias",
            ("pool2", "output_shape"): "forgot_plus_one", ("fc8", "params"): "units",
        }, VGG_RULES),
        Planted("formulas.csv", str(EXAMPLES / "two_3x3.yaml"), FORMULAS, {
            ("conv3x3_b", "params"): "added_bias", ("conv3x3_b", "macs"): "flops_per_mac",
            ("Total", "macs"): "flops_per_mac",
        }, Rules(columns=["params", "macs"])),
    ]


def run(p: Planted, tmp: Path) -> Report:
    spec = p.spec
    if spec == "conv_exercise.yaml":
        (tmp / spec).write_text(CONV_EXERCISE)
        spec = str(tmp / spec)
    path = tmp / p.name
    if isinstance(p.text, bytes):
        path.write_bytes(p.text)
    else:
        path.write_text(p.text)
    graph = build_graph(load_spec(spec))
    a = analyse(graph, p.rules.batch, p.rules.dtype)
    return grade(a, read_sheet(path), p.rules, explain_all(graph, a, p.rules.kb),
                 {n.name: n.layer for n in graph.nodes},
                 symbolic=lambda: analyse(build_graph(load_spec(spec), symbolic=True)), start=p.start, end=p.end)


def wrong_cells(r: Report) -> dict[tuple[str, str], str | None]:
    return {(c.layer, c.column): (c.slip.name if c.slip else None) for c in r.cells
            if c.status is Status.WRONG and c.column not in GIVEN}


@pytest.mark.parametrize("p", corpus(), ids=lambda p: p.name)
def test_each_planted_sheet(p: Planted, tmp_path: Path) -> None:
    r = run(p, tmp_path)
    assert wrong_cells(r) == p.slips
    assert not [c for c in r.cells if c.status in (Status.UNANSWERED, Status.REVIEW) and c.points]


def test_planted_corpus_scores(tmp_path: Path) -> None:
    tp = fp = fn = named = planted = 0
    for p in corpus():
        got = wrong_cells(run(p, tmp_path))
        tp += len(got.keys() & p.slips.keys())
        fp += len(got.keys() - p.slips.keys())
        fn += len(p.slips.keys() - got.keys())
        planted += len(p.slips)
        named += sum(got.get(k) == v for k, v in p.slips.items())
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\nplanted corpus: {len(corpus())} sheets, {planted} wrong cells; precision {precision:.2f}, "
          f"recall {recall:.2f}, slips named {named}/{planted}")
    assert (precision, recall, named) == (1.0, 1.0, planted)


# ----------------------------------------------------------------------------- single behaviours

def test_german_sheet_reads_commas_as_decimals(tmp_path: Path) -> None:
    r = run(corpus()[1], tmp_path)
    assert r.decimal == ","
    conv1 = next(c for c in r.cells if (c.layer, c.column) == ("conv1", "params_k"))
    assert conv1.status is Status.RIGHT and conv1.given == "34,944"       # 34.944 k, not 34,944 k


@pytest.mark.parametrize("label", ["Summe", "Gesamt:", "Insgesamt", "Somme", "Total"])
def test_a_german_excel_sheet_with_whole_kilobytes_and_thousands_dots(label: str, tmp_path: Path) -> None:
    """ZFNet as German Excel saves it: ';', dots grouping thousands, no cell with a decimal comma
    (whole KB: 4.538 is conv1's 4,537.5 KB rounded; 1.134 pool1's 1,134.375), the given 1.024
    filters of conv4, and the totals row under a German label. By hand: conv4 has 1,024 filters;
    pool1 96·55·55·4 B = 1,161,600 B = 1,134.375 KB."""
    table = runner.invoke(app, ["table", "zfnet", "-f", "csv", "--decimals", "0"]).stdout
    rows = [ln.split(",") for ln in table.strip().splitlines()]
    assert rows[0][:1] == ["layer"]

    def de(cell: str) -> str:
        return f"{int(cell):,}".replace(",", ".") if cell.isdecimal() else cell

    text = "\n".join(";".join([label if r[0] == "Total" else r[0], *map(de, r[1:])]) for r in rows)
    assert ";4.538;" in text and ";1.134;" in text and ";1.024;" in text
    sheet = tmp_path / "zfnet.csv"
    sheet.write_text(text + "\n", encoding="utf-8-sig")
    res = runner.invoke(app, ["check", "zfnet", str(sheet), "-f", "json"])
    report = json.loads(res.stdout)
    assert res.exit_code == 0, [c for c in report["cells"] if c["status"] != "right"][:3]
    assert any(c["layer"] == "Total" and c["column"] == "memory_kb" for c in report["cells"])
    pool1 = next(c for c in report["cells"] if (c["layer"], c["column"]) == ("pool1", "memory_kb"))
    assert pool1["given"] == "1.134" and pool1["status"] == "right"


def test_a_given_count_with_a_thousands_separator(tmp_path: Path) -> None:
    """A given hyper-parameter written as a number: '1,024' filters is 1024 on an English sheet (not
    the shape 1×24), '1.024,0' on a German one; '1,5' is no count of filters."""
    for text, right in (('conv4,"1,024"\n', True), ('conv4,"1,5"\n', False)):
        sheet = tmp_path / "s.csv"
        sheet.write_text("layer,filters\n" + text, encoding="utf-8")
        r = grade(analyse(build_graph(load_spec("zfnet"))), read_sheet(sheet))
        cell = next(c for c in r.cells if (c.layer, c.column) == ("conv4", "filters"))
        assert (cell.status is Status.RIGHT) is right, cell
    sheet = tmp_path / "de.csv"
    sheet.write_text("layer;filters;memory_kb\nconv4;1.024,0;253,5\n", encoding="utf-8")
    r = grade(analyse(build_graph(load_spec("zfnet"))), read_sheet(sheet))
    assert next(c for c in r.cells if (c.layer, c.column) == ("conv4", "filters")).status is Status.RIGHT


@pytest.mark.parametrize("kind", ["xlsx", "xls"])
def test_a_workbook_handed_in_says_save_it_as_csv(kind: str, tmp_path: Path) -> None:
    """A student hands in the Excel file itself: a ZIP container (xlsx, written here with zipfile as
    Excel writes one) or an OLE2 file (xls, its 8-byte signature): one positioned line saying what
    the file is and how to make the CSV, exit 2 — not 'no header row'."""
    import zipfile
    path = tmp_path / f"answers.{kind}"
    if kind == "xlsx":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    else:
        path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504))
    res = runner.invoke(app, ["check", "lenet5", str(path)])
    assert res.exit_code == 2
    assert f"answers.{kind}:1:1: error:" in res.stderr and "save it as CSV" in res.stderr, res.stderr


def test_german_headers(tmp_path: Path) -> None:
    """A German course's headers: Schicht, Filter, Schrittweite, Speicher (KB), Parameter (Tsd.),
    MACs (Mio.) — each the column it names, its unit converted; AlexNet's own numbers check right."""
    table = runner.invoke(app, ["table", "alexnet_cs231n", "-f", "csv", "--decimals", "3",
                                "--columns", "layer,filters,stride,c_out,hw_out,memory_kb,params_k,macs_m"]).stdout
    lines = table.strip().splitlines()
    head = "Schicht;Filter;Schrittweite;C_out;H'/W';Speicher (KB);Parameter (Tsd.);MACs (Mio.)"
    body = [";".join(c.replace(".", ",") for c in ln.split(",")) for ln in lines[1:]]
    sheet = tmp_path / "de.csv"
    sheet.write_text("\n".join([head, *body]).replace("Total;", "Summe;") + "\n", encoding="utf-8")
    res = runner.invoke(app, ["check", "alexnet_cs231n", str(sheet), "-f", "json"])
    cells = json.loads(res.stdout)["cells"]
    assert res.exit_code == 0, [c for c in cells if c["status"] != "right"][:3]
    assert {c["column"] for c in cells} >= {"filters", "stride", "memory_kb", "params", "macs"}


def test_labels_and_an_out_of_order_vgg_line(tmp_path: Path) -> None:
    """The VGG list (seed 003) with one line typed late: still matched, by its answers, all right."""
    lines = (Path(__file__).parent / "fixtures" / "answers" / "vgg16_seed.yaml").read_text().splitlines()
    body = [ln for ln in lines if ln.startswith("- ")]
    # move the first CONV3-128 line (conv2_1) above the POOL2 line that precedes it
    i = next(k for k, ln in enumerate(body) if "CONV3-128" in ln)
    body[i - 1], body[i] = body[i], body[i - 1]
    (tmp_path / "v.yaml").write_text("\n".join(body) + "\n")
    rules = Rules(shape_order="hwc", bias=False, missing_rows="ignore", columns=["output_shape", "params"])
    graph = build_graph(load_spec("vgg16"))
    a = analyse(graph)
    r = grade(a, read_sheet(tmp_path / "v.yaml"), rules, explain_all(graph, a), {n.name: n.layer for n in graph.nodes})
    assert r.all_right, [c for c in r.cells if c.status is not Status.RIGHT]


def test_a_row_answered_twice_is_matched_by_content_or_refused() -> None:
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    text = "layer,c_out,hw_out,memory_kb\nconv1,96,55,1134\nconv1,96,27,273\n"   # the second is pool1's
    r = grade(a, parse_sheet(text, "t.csv"), Rules(missing_rows="ignore", missing_columns="ignore"))
    assert {c.layer for c in r.cells} == {"conv1", "pool1"} and r.all_right
    assert "by their answers: conv1 (line 3)→pool1" in str(r.warnings[-1])
    from cnncalc.errors import SpecError
    with pytest.raises(SpecError, match="'conv1' is answered twice"):
        grade(a, parse_sheet("layer,hw_out\nconv1,55\nconv1,55\n", "t.csv"), Rules(missing_rows="ignore"))


def test_missing_columns_and_total_count_as_unanswered() -> None:
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    text = "layer,c_out,hw_out\n" + "".join(
        f"{n},{c},{h}\n" for n, c, h in [("conv1", 96, 55), ("pool1", 96, 27), ("conv2", 256, 27), ("pool2", 256, 13),
                                         ("conv3", 384, 13), ("conv4", 384, 13), ("conv5", 256, 13),
                                         ("pool5", 256, 6), ("flatten", 9216, ""), ("fc6", 4096, ""),
                                         ("fc7", 4096, ""), ("fc8", 1000, "")])
    r = grade(a, parse_sheet(text, "t.csv"))
    # 12 rows × (memory, params, MACs) + 3 totals unanswered; 12 C_out + 8 H'/W' right
    assert r.points == 20 and r.max_points == 20 + 36 + 3 and not r.all_right


def test_units_named_in_headers_are_converted() -> None:
    """VGG-16 224→28 as the notes compare it: memory in MB, params in M, GFLOPs (their MACs)."""
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    # conv1: 1,161,600 B = 1.1078 MB (of 1024²); 34,944 = 0.035 M; 105,415,200 = 0.105 G
    text = "layer,Mem (MB),Params (M),GFLOPs\nconv1,1.108,0.035,0.105\n"
    r = grade(a, parse_sheet(text, "t.csv"), Rules(missing_rows="ignore", missing_columns="ignore"))
    assert {c.column: c.status for c in r.cells} == {"memory_bytes": Status.RIGHT, "params": Status.RIGHT,
                                                      "macs": Status.RIGHT}


def test_strict_tolerance_says_rounded_too_coarsely() -> None:
    from cnncalc.check import Tolerance
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    text = "layer,memory_kb,params_k,macs_m\nfc8,4,35,4\nconv1,1134,35,105\n"
    r = grade(a, parse_sheet(text, "t.csv"), Rules(missing_rows="ignore", missing_columns="ignore", slip_credit=0.5),
              tolerance=Tolerance(digits=3))
    slips = {(c.layer, c.column): c.slip.name for c in r.cells if c.slip}
    # fc8 4 KB (3.90625), conv1 35 k (34.944), 105 M (105.4152): the answers' own rounding, no invented slip
    assert slips.get(("fc8", "memory_kb")) == "rounded" and slips.get(("conv1", "params_k")) == "rounded"
    assert all(c.earned == 0 for c in r.cells if c.slip and c.slip.name == "rounded")


def test_huge_and_hostile_cells_are_unreadable_not_crashes() -> None:
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    for cell in ("1e-99999", "9" * 5000, "1e99999999", "1e400", "--5", "nan", "inf"):
        r = grade(a, parse_sheet(f"layer,memory_kb\nconv1,{cell}\n", "t.csv"),
                  Rules(missing_rows="ignore", missing_columns="ignore"))
        (c,) = r.cells
        assert c.status is Status.REVIEW, cell


def test_all_unknown_columns_is_an_error_not_full_marks(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("name,answer,score\nconv1,3,4\n")
    res = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "a.csv"), "--gradescope",
                              str(tmp_path / "r.json")])
    assert res.exit_code == 2 and "All right" not in res.stdout
    g = json.loads((tmp_path / "r.json").read_text())
    assert g["score"] == 0 and "no column cnncalc checks" in g["output"] and g["tests"] == []


@pytest.mark.parametrize("target", ["answers", "rules"])
def test_dev_zero_is_refused_before_reading(target: str, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(runner.invoke(app, ["table", "alexnet_cs231n", "-f", "csv"]).stdout)
    args = ["check", "alexnet_cs231n", "/dev/zero" if target == "answers" else str(good), "--gradescope",
            str(tmp_path / "r.json")] + (["--rules", "/dev/zero"] if target == "rules" else [])
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "larger than" in res.stderr and "Traceback" not in res.output
    assert json.loads((tmp_path / "r.json").read_text())["score"] == 0


def test_results_json_is_always_written(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("layer,hw_out\nconv1,55\nconv99,13\n")
    res = runner.invoke(app, ["check", "alexnet_cs231n", str(tmp_path / "a.csv"), "--gradescope",
                              str(tmp_path / "r.json")])
    assert res.exit_code == 2
    g = json.loads((tmp_path / "r.json").read_text())
    assert g["score"] == 0 and "no layer named 'conv99'" in g["output"]


def test_an_assignment_gives_one_results_json(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for p in corpus():
        if p.name in ("excel.csv", "formulas.csv"):
            path = tmp_path / "sub" / p.name
            path.write_bytes(p.text) if isinstance(p.text, bytes) else path.write_text(p.text)
    (tmp_path / "hw.yaml").write_text(
        "title: Homework 3\nquestions:\n"
        "  - {title: AlexNet, spec: alexnet_cs231n, answers: excel.csv, points: 10}\n"
        f"  - {{title: Two 3x3, spec: {EXAMPLES / 'two_3x3.yaml'}, answers: formulas.csv,"
        " rules: {columns: [params, macs]}}\n"
        "  - {title: Missing, spec: vgg16, answers: nope.csv}\n")
    res = runner.invoke(app, ["check", str(tmp_path / "hw.yaml"), str(tmp_path / "sub"), "--gradescope",
                              str(tmp_path / "r.json")])
    assert res.exit_code == 1, res.output
    g = json.loads((tmp_path / "r.json").read_text())
    assert abs(g["score"] - sum(t["score"] for t in g["tests"])) < 1e-6  # the top score is the tests' sum
    names = [t["name"] for t in g["tests"]]
    assert names[0].startswith("AlexNet · ") and any(n.startswith("Two 3x3 · ") for n in names)
    assert names[-1] == "Missing" and g["tests"][-1]["score"] == 0
    alex = [t for t in g["tests"] if t["name"].startswith("AlexNet · ")]
    assert abs(sum(t["max_score"] for t in alex) - 10) < 1e-2  # scaled to its 10 points (rounded per test)


def test_template_columns_leak_no_answers() -> None:
    res = runner.invoke(app, ["template", "alexnet_cs231n", "--columns", "params_k,macs_m"])
    head, conv1 = res.stdout.splitlines()[:2]
    assert head == "layer,c_in,hw_in,filters,kernel,stride,pad,params_k,macs_m"
    assert conv1 == "conv1,3,227,96,11,4,0,,"


def test_worksheet_says_which_pools_round_up() -> None:
    out = runner.invoke(app, ["template", "googlenet_stem"]).stdout
    # pool1: (112 − 3)/2 + 1 = 55.5 → 56 only with ceil_mode
    assert "# Note: pool1: the output size rounds up" in out and "conv1: the output" not in out


def test_explain_repeats_no_step() -> None:
    out = runner.invoke(app, ["explain", "alexnet_cs231n", "fc6"]).stdout
    assert "= 4096 = 4096" not in out and "= 0 = 0" not in out
    out = runner.invoke(app, ["explain", "alexnet_cs231n", "pool1"]).stdout
    assert "= 0 = 0" not in out


def test_quiz_asks_what_its_key_holds() -> None:
    from cnncalc.quiz import make_quiz
    for kind in ("conv", "fc"):
        q = make_quiz(3, kind)  # type: ignore[arg-type]
        assert "(k)" not in q.question and "(M)" not in q.question and "exact counts" in q.question


# ----------------------------------------------------------------------------- generated sheets

KEY = [  # AlexNet by hand (see above): name, C_out, H'/W', memory KB, params k, MACs M
    ("conv1", "96", "55", "1134.375", "34.944", "105.4152"), ("pool1", "96", "27", "273.375", "0", "0"),
    ("conv2", "256", "27", "729", "614.656", "447.8976"), ("pool2", "256", "13", "169", "0", "0"),
    ("conv3", "384", "13", "253.5", "885.12", "149.520384"), ("conv4", "384", "13", "253.5", "1327.488", "224.280576"),
    ("conv5", "256", "13", "169", "884.992", "149.520384"), ("pool5", "256", "6", "36", "0", "0"),
    ("flatten", "9216", "", "36", "0", "0"), ("fc6", "4096", "", "16", "37752.832", "37.748736"),
    ("fc7", "4096", "", "16", "16781.312", "16.777216"), ("fc8", "1000", "", "3.90625", "4097", "4.096"),
    ("Total", "", "", "3089.65625", "62378.344", "1135.256096"),
]
HEADS = {"c_out": ["C_out", "c_out", "Cout"], "hw_out": ["H'/W'", "hw_out", "H' / W'"],
         "memory_kb": ["Mem (KB)", "memory_kb", "Mem. (KB)"], "params_k": ["Params (k)", "params_k", "Param. (k)"],
         "macs_m": ["MACs (M)", "macs_m", "Flops (M)"]}


def _label(name: str, style: int) -> str:
    if name == "Total":
        return ["Total", "Total:", "TOTAL", "**Total**"][style]
    letters, digits = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
    return [name, f"{letters.capitalize()} {digits}".strip(), f"{letters.upper()}-{digits}".rstrip("-"),
            f"{letters}_{digits}".rstrip("_")][style]


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(order=st.permutations(["c_out", "hw_out", "memory_kb", "params_k", "macs_m"]),
       heads=st.lists(st.integers(0, 2), min_size=5, max_size=5), style=st.integers(0, 3),
       comma=st.booleans(), shuffle=st.randoms(use_true_random=False), fmt=st.sampled_from(["csv", "md", "tsv"]))
def test_perturbed_right_sheets_get_full_marks(order: list[str], heads: list[int], style: int, comma: bool,
                                               shuffle: object, fmt: str) -> None:
    """A right sheet with any column order, header spelling, label style, locale, row order and format."""
    idx = {"c_out": 1, "hw_out": 2, "memory_kb": 3, "params_k": 4, "macs_m": 5}
    rows = list(KEY[:-1])
    shuffle.shuffle(rows)  # type: ignore[attr-defined]
    rows.append(KEY[-1])
    sep = "\t" if fmt == "tsv" else ";" if comma else ","
    num = (lambda v: v.replace(".", ",")) if comma else (lambda v: v)
    header = ["Layer", *(HEADS[k][h] for k, h in zip(order, heads))]
    body = [[_label(r[0], style), *(num(r[idx[k]]) for k in order)] for r in rows]
    if fmt == "md":
        text = "\n".join("| " + " | ".join(x) + " |" for x in [header, ["---"] * len(header), *body]) + "\n"
        name = "s.md"
    else:
        text = "\n".join(sep.join(x) for x in [header, *body]) + "\n"
        name = "s.tsv" if fmt == "tsv" else "s.csv"
    r = grade(analyse(build_graph(load_spec("alexnet_cs231n"))), parse_sheet(text, name))
    assert r.all_right and r.max_points == 59, [c for c in r.cells if c.status is not Status.RIGHT]


@pytest.mark.parametrize("spec", ["lenet5", "alexnet_cs231n", "googlenet_stem", "squeezenet1_1", "resnet18"])
@pytest.mark.parametrize("fmt", ["csv", "markdown"])
@pytest.mark.parametrize("exact", [False, True])
def test_the_tools_own_table_checks_all_right(spec: str, fmt: str, exact: bool, tmp_path: Path) -> None:
    """Oracle without hand values: cnncalc's table of a spec, handed in as the worksheet, is right in
    every cell — whatever units each column picked (LeNet-5's MACs in k, its Total row in Markdown
    bold: '**417**' under 'MACs (k)' was once unreadable), and with --exact's columns beside the
    rounded ones ('MACs (k)' and 'MACs' were once refused as one column repeated)."""
    table = runner.invoke(app, ["table", spec, "-f", fmt, *(["--exact"] if exact else [])])
    assert table.exit_code == 0, table.output
    sheet = tmp_path / ("sheet.csv" if fmt == "csv" else "sheet.md")
    sheet.write_text(table.stdout, encoding="utf-8")
    res = runner.invoke(app, ["check", spec, str(sheet), "-f", "json"])
    cells = json.loads(res.stdout)["cells"]
    assert res.exit_code == 0, [c for c in cells if c["status"] != "right"][:3]
    assert cells and all(c["status"] == "right" for c in cells)
    assert any(c["layer"] == "Total" for c in cells)


def test_error_carried_forward_credit_is_a_rule(tmp_path: Path) -> None:
    p = next(x for x in corpus() if x.name == "sheets.csv")
    plain = run(p, tmp_path)
    ecf = run(Planted(p.name, p.spec, p.text, p.slips, Rules(columns=["hw_out", "params", "macs"], carried_forward=0.5),
                      p.start, p.end), tmp_path)
    carried = [c for c in ecf.cells if c.slip and c.slip.name == "carried_forward"]
    assert len(carried) == 8 and all(c.earned == 0.5 * c.points for c in carried)
    assert "pool2's output 128×55×55 (forgot the + 1)" in carried[0].slip.detail  # type: ignore[union-attr]
    assert ecf.points == plain.points + 0.5 * len(carried)


def test_the_notes_pad_erratum_is_named() -> None:
    """Seed 001's AlexNet slide prints pad 2 for conv1: (227 − 11 + 2·2)/4 + 1 = 56, not its own 55."""
    graph = build_graph(load_spec("alexnet_cs231n"))
    a = analyse(graph)
    r = grade(a, read_sheet(Path(__file__).parent / "fixtures" / "answers" / "alexnet_seed.tsv"))
    pad = next(c for c in r.cells if (c.layer, c.column) == ("conv1", "pad"))
    assert "(227 − 11 + 2·2)/4 + 1 = 56" in pad.note and "the notes' erratum" in pad.note


@pytest.mark.parametrize("given", ["²", "2²", "٢", "３"])
def test_a_pad_in_other_digits_is_graded_not_a_crash(given: str, tmp_path: Path) -> None:
    """A pad cell of Unicode digits: '²' is a digit Python's int() cannot read (it once raised while
    the slip's formula was written); Arabic-Indic ٢ and fullwidth ３ read as 2 and 3 — all differ from
    conv1's pad 0, and the formula is shown for those that are numbers."""
    sheet = tmp_path / "a.csv"
    sheet.write_text(f"layer,pad\nconv1,{given}\n", encoding="utf-8")
    r = grade(analyse(build_graph(load_spec("alexnet_cs231n"))), read_sheet(sheet))
    pad = next(c for c in r.cells if (c.layer, c.column) == ("conv1", "pad"))
    assert pad.status is Status.WRONG and pad.expected == "0"
    assert ("(W − K + 2P)/S + 1" in pad.note) is (given in ("٢", "３"))


def test_excel_sep_hint_line() -> None:
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    text = "sep=;\r\nLayer;Mem. (KB);Param. (k)\r\nconv1;1134,375;34,944\r\n"
    r = grade(a, parse_sheet(text, "x.csv"), Rules(missing_rows="ignore", missing_columns="ignore"))
    assert r.all_right and r.decimal == "," and len(r.cells) == 2


def test_formulas_without_sympy_say_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import cnncalc.symbolic
    monkeypatch.setattr(cnncalc.symbolic, "available", lambda: False)
    a = analyse(build_graph(load_spec(str(EXAMPLES / "two_3x3.yaml"))))
    r = grade(a, parse_sheet("layer,params\nconv3x3_a,9C^2\n", "f.csv"),
              Rules(missing_rows="ignore", missing_columns="ignore"))
    (c,) = r.cells
    assert c.status is Status.REVIEW and "needs sympy" in c.note


def test_input_size_and_forgotten_c_in() -> None:
    """AlexNet conv1 (3×227×227 → 96×55×55, K 11): memory with the input's 227×227, 96·227²·4/1024 =
    19,787,136 B = 19,323.375 KB; params without C_in, 96·11·11 + 96 = 11,712 → 11.7 k; MACs without C_in,
    96·55²·121 = 35,138,400 → 35.1 M."""
    a = analyse(build_graph(load_spec("alexnet_cs231n")))
    graph = build_graph(load_spec("alexnet_cs231n"))
    text = "layer,memory_kb,params_k,macs_m\nconv1,19323.4,11.7,35.1\n"
    r = grade(a, parse_sheet(text, "t.csv"), Rules(missing_rows="ignore", missing_columns="ignore"),
              layers={n.name: n.layer for n in graph.nodes})
    assert {c.column: c.slip.name if c.slip else None for c in r.cells} == {
        "memory_kb": "input_size", "params_k": "forgot_c_in", "macs_m": "forgot_c_in"}
