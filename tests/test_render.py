"""The terminal table layout (render.grid): aligned columns, header, rules, totals footer, caption."""

from __future__ import annotations

from cnncalc import analyse_spec
from cnncalc.columns import Units, build_table, pick
from cnncalc.render import Col, grid, rich_table


def test_grid_layout_by_hand() -> None:
    text = grid("t", [Col("Layer", ["conv1", "fc"], "Total"), Col("Params", ["34,944", "4,097"], "39,041", right=True)],
                "cap").plain
    assert text.split("\n") == [
        "        t",  # centred over the 18 cells: 2 edges + 5 + 6 + 2 × 2 padding + 1 between
        "",
        "  Layer   Params  ",
        " ━━━━━━━━━━━━━━━━ ",
        "  conv1   34,944  ",
        "  fc       4,097  ",
        " ━━━━━━━━━━━━━━━━ ",
        "  Total   39,041  ",
        "",
        "       cap",
    ]


def test_seed_table_columns_line_up() -> None:
    a = analyse_spec("alexnet_cs231n")
    lines = rich_table(build_table(a, pick(None), Units()), a).plain.split("\n")
    header = next(x for x in lines if x.lstrip().startswith("Layer"))
    body = [x for x in lines if x.lstrip().startswith(("conv", "pool", "fc", "Total"))]
    assert len(body) == 12  # 5 conv, 3 pool, 3 fc, Total and len({len(x) for x in [header, *body]}) == 1
    end = header.index("MACs (M)") + len("MACs (M)")  # right-aligned: last digit under the header's end
    conv1 = next(x for x in body if x.lstrip().startswith("conv1"))
    assert conv1[end - 3:end] == "105" and conv1[end:].strip() == ""


def test_wide_characters_counted_by_cells() -> None:
    text = grid("", [Col("名前", ["畳み込み", "x"]), Col("n", ["1", "2"], right=True)], "").plain
    rows = [x for x in text.split("\n") if x.strip() and "━" not in x]
    from rich.cells import cell_len
    assert len({cell_len(x) for x in rows}) == 1
