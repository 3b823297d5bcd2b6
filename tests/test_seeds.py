"""The lecture notes' tables (../shared/seeds), cell by cell, with their errata named."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cnncalc import analyse_spec, select
from cnncalc.analysis import Row
from cnncalc.columns import Units, round_half_up
from cnncalc.layers import Family


def rounded(x: int, unit: int) -> int:
    return int(round_half_up(Fraction(x, unit)))


# Seed 001, "AlexNet" (the completed table): Layer, C_in, H/W, Filters, K, S, P, C_out, H'/W',
# Mem (KB), Param (k), Flops (M). None = cell left blank in the notes. The notes' "Flops (M)"
# column is conv/fc multiply-adds (pools print 0), i.e. our MACs column.
ALEXNET = [
    ("conv1", 3, 227, 96, 11, 4, 2, 96, 55, 1134, 35, 105),
    ("pool1", 96, 55, None, 3, 2, 0, 96, 27, 273, 0, 0),
    ("conv2", 96, 27, 256, 5, 1, 2, 256, 27, 729, 615, 448),
    ("pool2", 256, 27, None, 3, 2, 0, 256, 13, 169, 0, 0),
    ("conv3", 256, 13, 384, 3, 1, 1, 384, 13, 254, 885, 150),
    ("conv4", 384, 13, 384, 3, 1, 1, 384, 13, 254, 1327, 224),
    ("conv5", 384, 13, 256, 3, 1, 1, 256, 13, 169, 885, 150),
    ("pool5", 256, 13, None, 3, 2, 0, 256, 6, 36, 0, 0),
    ("flatten", 256, 6, None, None, None, None, 9216, None, 36, 0, 0),
    ("fc6", 9216, None, 4096, None, None, None, 4096, None, 16, 37753, 38),
    ("fc7", 4096, None, 4096, None, None, None, 4096, None, 16, 16781, None),
    ("fc8", 4096, None, 1000, None, None, None, 1000, None, 4, 4096, 4),
]
# Errata: conv1's pad is printed 2, but (227 − 11 + 2·2)/4 + 1 = 56, not the printed 55; the
# numbers need pad 0. fc8's params are printed 4,096 k; 4096 × 1000 + 1000 = 4,097,000 → 4,097 k.
ALEXNET_ERRATA = {("conv1", "pad"): 0, ("fc8", "params_k"): 4097}
FIELDS = ("c_in", "hw_in", "filters", "kernel", "stride", "pad", "c_out", "hw_out",
          "memory_kb", "params_k", "macs_m")


def seed_cells(row: Row) -> dict[str, int | None]:
    def num(s: str) -> int | None:
        return int(s) if s else None

    return {
        "c_in": row.inputs[0][0], "hw_in": row.inputs[0][1] if len(row.inputs[0]) == 3 else None,
        "filters": num(row.hyper.filters), "kernel": num(row.hyper.kernel),
        "stride": num(row.hyper.stride), "pad": num(row.hyper.pad), "c_out": row.output[0],
        "hw_out": row.output[1] if len(row.output) == 3 else None,
        "memory_kb": rounded(row.activation_bytes, 1024), "params_k": rounded(row.params, 1000),
        "macs_m": rounded(row.macs, 10**6),
    }


@pytest.mark.parametrize("printed", ALEXNET, ids=[r[0] for r in ALEXNET])
def test_alexnet_table_every_printed_cell(printed: tuple[object, ...]) -> None:
    rows = {r.name: r for r in analyse_spec("alexnet_cs231n").rows}
    name, *cells = printed
    ours = seed_cells(rows[str(name)])
    for field, value in zip(FIELDS, cells):
        if value is None:
            continue  # blank in the notes (or cut off the slide)
        expected = ALEXNET_ERRATA.get((str(name), field), value)
        assert ours[field] == expected, f"{name}.{field}: notes print {value}"


def test_alexnet_worked_examples() -> None:
    rows = {r.name: r for r in analyse_spec("alexnet_cs231n").rows}
    # W' = (227 − 11 + 2×0)/4 + 1 = 55; KB = 96×55×55×4/1024 = 1134.375
    assert rows["conv1"].output == (96, 55, 55)
    assert Fraction(rows["conv1"].activation_bytes, 1024) == Fraction(1134375, 1000)
    # Params = 96×3×11×11 + 96 = 34,944; multiply-adds = (96×55×55)×(3×11×11) = 105,415,200
    assert rows["conv1"].params == 34_944
    assert rows["conv1"].macs == 105_415_200
    # pool1: KB = 96×27×27×4/1024 = 273.375; ops = 96×27×27×3×3 = 629,856 ("0.6 Mflops").
    # Erratum: the notes compute (56 − 3 + 2×0)/2 + 1 = 27.5 from a 56 that should be 55.
    assert Fraction(rows["pool1"].activation_bytes, 1024) == Fraction(273375, 1000)
    assert rows["pool1"].ops == 629_856 and rows["pool1"].params == 0
    # flatten = 256×6×6 = 9,216; fc6 params = 9216×4096 + 4096, flops = 9216×4096
    assert rows["flatten"].output == (9216,)
    assert rows["fc6"].params == 37_752_832
    assert rows["fc6"].macs == 37_748_736


def test_alexnet_family_shares_match_the_notes() -> None:
    # "Fully-connected layers contain about 95 % of parameters"; "convolutional layers ... about
    # 90-95 % of computation, only about 5 % of the parameters".
    shares = analyse_spec("alexnet_cs231n").shares()
    fc_params, _ = shares[Family.FC]
    conv_params, conv_macs = shares[Family.CONV]
    assert Fraction(93, 100) < fc_params < Fraction(96, 100)
    assert Fraction(90, 100) <= conv_macs <= Fraction(95, 100)
    assert conv_params < Fraction(7, 100)
    # Exact: conv 3,747,200 of 62,378,344 params
    assert analyse_spec("alexnet_cs231n").totals.params == 62_378_344


# Seed 003, "VGG Net": per layer, memory (elements, the notes round to K/M = 10³/10⁶) and params
# "not counting biases".
VGG = [
    ("conv1_1", "3.2M", 1_728), ("conv1_2", "3.2M", 36_864), ("pool1", "800K", 0),
    ("conv2_1", "1.6M", 73_728), ("conv2_2", "1.6M", 147_456), ("pool2", "400K", 0),
    ("conv3_1", "800K", 294_912), ("conv3_2", "800K", 589_824), ("conv3_3", "800K", 589_824),
    ("pool3", "200K", 0),
    ("conv4_1", "400K", 1_179_648), ("conv4_2", "400K", 2_359_296), ("conv4_3", "400K", 2_359_296),
    ("pool4", "100K", 0),
    ("conv5_1", "100K", 2_359_296), ("conv5_2", "100K", 2_359_296), ("conv5_3", "100K", 2_359_296),
    ("pool5", "25K", 0),
    ("fc6", "4096", 102_760_448), ("fc7", "4096", 16_777_216), ("fc8", "1000", 4_096_000),
]


def approx_matches(printed: str, elements: int) -> bool:
    """The notes' rounding: '3.2M' for 3,211,264, '800K' for 802,816, '4096' exact.

    A value in K/M matches when it agrees to the significant digits printed (800K: to ±50K would
    be too loose, so we require agreement within 1 in the last printed digit's half-unit of 2 %).
    """
    if printed.isdigit():
        return elements == int(printed)
    unit = {"K": 10**3, "M": 10**6}[printed[-1]]
    value = Fraction(printed[:-1]) * unit
    return abs(Fraction(elements) / value - 1) < Fraction(3, 100)


@pytest.mark.parametrize("name,memory,weights", VGG, ids=[v[0] for v in VGG])
def test_vgg16_memory_and_params_list(name: str, memory: str, weights: int) -> None:
    row = {r.name: r for r in analyse_spec("vgg16").rows}[name]
    assert row.weights == weights
    elements = row.activation_bytes // 4
    assert approx_matches(memory, elements), f"{elements:,} vs {memory}"


def test_vgg16_totals() -> None:
    a = analyse_spec("vgg16")
    assert rounded(a.totals.params, 10**6) == 138  # "138M parameters"
    assert a.totals.params == 138_357_544  # torchvision, with biases


# Seed 001, "Stem Network in GoogLeNet". Its "Flops (M)" column counts conv multiply-adds and,
# unlike the AlexNet table, pooling windows (outputs × K × K); conv bias and ReLU are not counted.
STEM = [
    ("conv1", 3, 224, 64, 7, 2, 3, 64, 112, 3136, 9, 118),
    ("pool1", 64, 112, None, 3, 2, None, 64, 56, 784, 0, 2),
    ("conv2", 64, 56, 64, 1, 1, 0, 64, 56, 784, 4, 13),
    ("conv3", 64, 56, 192, 3, 1, 1, 192, 56, 2352, 111, 347),
    ("pool2", 192, 56, None, 3, 2, 0, 192, 28, 588, 0, 1),
]


def stem_flops(row: Row) -> int:
    return row.macs if row.family is Family.CONV else row.ops


@pytest.mark.parametrize("printed", STEM, ids=[r[0] for r in STEM])
def test_googlenet_stem_every_printed_cell(printed: tuple[object, ...]) -> None:
    rows = {r.name: r for r in analyse_spec("googlenet_stem").rows}
    name, *cells = printed
    row = rows[str(name)]
    ours = seed_cells(row) | {"macs_m": rounded(stem_flops(row), 10**6)}
    for field, value in zip(FIELDS, cells):
        if value is not None:
            assert ours[field] == value, f"{name}.{field}"


def test_googlenet_stem_totals_and_erratum() -> None:
    a = analyse_spec("googlenet_stem")
    # Memory: 7,644 KB = 7.46 MB → "7.5 MB"; params 124,416 → "124K"
    assert a.totals.activation_bytes == 7644 * 1024
    assert round_half_up(Fraction(a.totals.activation_bytes, 1024**2), 1) == round_half_up(Fraction(75, 10), 1)
    assert a.totals.params == 124_416
    # Erratum: the notes print "MFLOP: 418"; their own rows sum to 118+2+13+347+1 = 481 and the
    # exact sum is 118,013,952 (64·112²·3·49) + 1,806,336 (64·56²·9) + 12,845,056 (64·56²·64)
    # + 346,816,512 (192·56²·576) + 1,354,752 (192·28²·9) = 480,836,608 → 481.
    total = sum(stem_flops(r) for r in a.rows)
    assert total == 480_836_608
    assert rounded(total, 10**6) == 481 != 418


def test_vgg16_from_224_to_28_as_the_notes_compare() -> None:
    # "Compare VGG-16: Memory 42.9 MB, Params 1.1M, MFLOP 7485": the six convs conv1_1…conv3_2,
    # pools not counted (with pools the memory would be 47.5 MB).
    rows = [r for r in select(analyse_spec("vgg16").rows, "conv1_1", "conv3_2") if r.family is Family.CONV]
    assert len(rows) == 6
    memory = sum(r.activation_bytes for r in rows)
    assert memory == 43_904 * 1024  # 42.875 MB
    assert round_half_up(Fraction(memory, 1024**2), 1) == round_half_up(Fraction(429, 10), 1)
    assert rounded(sum(r.params for r in rows), 10**5) == 11  # 1,145,408 → 1.1M
    assert sum(r.macs for r in rows) == 7_485_456_384  # → 7485 MFLOP


def test_seed_units_are_ours_by_default() -> None:
    assert Units().kb == 1024 and not Units().flops
