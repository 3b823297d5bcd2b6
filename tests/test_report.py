"""cnncalc report: one self-contained HTML file; rendered in headless Chromium, its numbers equal the JSON export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or (
    "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium)")


@dataclass
class Page:
    """What the tests read from a report's DOM."""

    root: dict[str, str] = field(default_factory=dict)
    totals: dict[str, str] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    table: dict[str, str] = field(default_factory=dict)
    footer: dict[str, str] = field(default_factory=dict)
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self.capture: tuple[str, str] | None = None  # ("total"|"cell"|"foot", key)
        self.text = ""
        self.in_foot = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.page.tags.append((tag, a))
        if tag == "html":
            self.page.root = a
        elif tag == "table" and a.get("id") == "layers":
            self.page.table = a
        elif tag == "tfoot":
            self.in_foot = True
        elif tag == "dd" and "data-total" in a:
            self.capture, self.text = ("total", a["data-total"]), ""
        elif tag == "tr" and "data-layer" in a:
            self.page.layers.append({"name": a["data-layer"], "cells": {}})
        elif tag == "td" and "data-k" in a:
            if self.in_foot:
                self.capture, self.text = ("foot", a["data-k"]), ""
            elif self.page.layers:
                self.page.layers[-1]["cells"][a["data-k"]] = {"v": a.get("data-v")}
                self.capture, self.text = ("cell", a["data-k"]), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tfoot":
            self.in_foot = False
        if self.capture and tag in ("dd", "td"):
            kind, key = self.capture
            if kind == "total":
                self.page.totals[key] = self.text
            elif kind == "foot":
                self.page.footer[key] = self.text
            else:
                self.page.layers[-1]["cells"][key]["text"] = self.text
            self.capture = None

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.text += data


def read(html: str) -> Page:
    r = _Reader()
    r.feed(html)
    return r.page


def make_report(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", *args, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out


def json_export(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["table", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def render(path: Path, tmp_path: Path, fragment: str = "") -> str:
    """The DOM after scripts ran, as headless Chromium dumps it."""
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", path.resolve().as_uri() + fragment]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<html" in done.stdout
    return done.stdout


def check_numbers(page: Page, export: dict[str, Any]) -> None:
    t = export["totals"]
    for key in ("params", "macs", "flops", "activation_bytes", "ops", "buffers", "layers"):
        assert page.totals[key] == f"{t[key]:,}", key
    assert [row["name"] for row in page.layers] == [x["name"] for x in export["layers"]]
    for row, x in zip(page.layers, export["layers"], strict=True):
        cells = row["cells"]
        for key in ("params", "macs", "ops", "activation_bytes", "buffers"):
            assert int(cells[key]["v"]) == x[key], (x["name"], key)
        for key in ("params", "macs", "ops"):
            assert cells[key]["text"] == f"{x[key]:,}", (x["name"], key)
        assert cells["type"]["text"] == x["type"]
        assert cells["output"]["text"] == "×".join(map(str, x["output"]))
    assert page.footer["params"] == f"{t['params']:,}"


def test_report_is_self_contained_and_exact_without_a_browser(tmp_path: Path) -> None:
    html = make_report(tmp_path, "alexnet_cs231n").read_text()
    page = read(html)
    assert page.totals["params"] == "62,378,344"  # 34,944 + 614,656 + 885,120 + 1,327,488 + 884,992 + 37,752,832 + 16,781,312 + 4,097,000
    check_numbers(page, json_export("alexnet_cs231n"))
    # nothing fetched: no external resources, and a policy that would block any
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        assert not attrs.get("href", "").startswith(("http:", "https:", "//")), tag
        assert tag != "link", attrs
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html
    assert "data-js" not in page.root  # only the script adds it
    assert "<svg" in html and html.count("<figure>") == 3
    assert "name: alexnet_cs231n" in html  # the spec source
    assert "Conventions" in html and "bias excluded" in html


@needs_chromium
def test_report_renders_in_chromium_with_exact_numbers(tmp_path: Path) -> None:
    path = make_report(tmp_path, "alexnet_cs231n")
    size = path.stat().st_size
    assert size < 100_000, f"report is {size} bytes"
    page = read(render(path, tmp_path))
    assert page.root.get("data-js") == "ready"  # the inline script ran
    assert page.totals["params"] == "62,378,344"
    check_numbers(page, json_export("alexnet_cs231n"))


@needs_chromium
def test_sorting_script_orders_rows(tmp_path: Path) -> None:
    path = make_report(tmp_path, "vgg16", "--batch", "8")
    export = json_export("vgg16", "--batch", "8")
    page = read(render(path, tmp_path, "#sort=params-desc"))
    assert page.table.get("data-sorted") == "params-desc"
    expected = sorted(range(len(export["layers"])), key=lambda i: (-export["layers"][i]["params"], i))
    assert [row["name"] for row in page.layers] == [export["layers"][i]["name"] for i in expected]
    assert page.layers[0]["name"] == "fc6"  # 25088·4096 + 4096 = 102,764,544 params
    assert page.totals["macs"] == f"{export['totals']['macs']:,}"


def test_report_options(tmp_path: Path) -> None:
    page = read(make_report(tmp_path, "googlenet_stem", "--flops", "--batch", "2", "--dtype", "fp16").read_text())
    export = json_export("googlenet_stem", "--batch", "2", "--dtype", "fp16")
    # with --flops the MACs column shows FLOPs = 2 × MACs under the key 'flops'
    assert [int(r["cells"]["flops"]["v"]) for r in page.layers] == [x["flops"] for x in export["layers"]]
    assert page.totals["activation_bytes"] == f"{export['totals']['activation_bytes']:,}"
    assert page.totals["receptive_field"] == "27" and page.totals["depth"] == "3"


def test_charts_of_a_long_network_show_its_largest_layers_in_order(tmp_path: Path) -> None:
    """250 fc layers of 1, 2, …, 250 units (l0 … l249): activation memory is 4·units bytes, so the
    200 largest are l50 … l249, charted in network order; the table keeps all 250 rows."""
    import re

    spec = tmp_path / "long.yaml"
    spec.write_text("name: long\ninput: [1]\nlayers:\n" + "".join(
        f"  - {{name: l{i}, type: fc, units: {i + 1}}}\n" for i in range(250)))
    out = tmp_path / "r.html"
    assert CliRunner().invoke(app, ["report", str(spec), "-o", str(out)]).exit_code == 0
    html = out.read_text()
    fig = re.search(r"<figure><figcaption>Activation memory \(KB\), the 200 largest of 250 layers</figcaption>"
                    r"(.*?)</figure>", html)
    assert fig is not None
    assert re.findall(r"<title>(l\d+):", fig.group(1)) == [f"l{i}" for i in range(50, 250)]
    assert html.count("<figcaption>") == 3 and html.count('<tr data-i="') == 250
