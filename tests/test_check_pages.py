""".ci/check_pages.py: the headless-Chromium check of the built book, on hand-made pages with known defects.

Skipped where no Chromium is installed (CI installs Debian's ``chromium``); the math case
needs the MathJax that ``make mathjax`` unpacks into .cache/mathjax.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATHJAX = ROOT / ".cache" / "mathjax" / "static" / "mathjax"
CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")


def _checker():
    spec = importlib.util.spec_from_file_location("check_pages", ROOT / ".ci" / "check_pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _png(width: int, height: int = 40) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{head}</head><body><main>{body}</main></body></html>"


def _kinds(result: dict) -> set:
    return {e["kind"] for e in result["errors"]}


def test_check_pages_finds_each_defect(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    small, wide = _png(300), _png(800)
    (site / "good.html").write_text(_page(
        f"<p>plain text</p><div class='cell_output'><img src='{small}'></div>"
        "<div class='cell_output'><pre>['loss', 'entropy']</pre></div>"
        # a wide code block in a scrolling container is fine (a wide *table* is not: see the test below)
        "<div class='highlight' style='overflow-x:auto;width:200px'><pre>"
        + "a wide code line that scrolls " * 20 + "</pre></div>"))  # fmt: skip
    (site / "bad_load.html").write_text(_page(
        "<div class='math'>\\(x^2\\)</div><p>left raw: \\(y\\)</p><img src='missing.png'>",
        head="<script src='https://cdn.example.invalid/mathjax.js'></script>"))  # fmt: skip
    (site / "bad_layout.html").write_text(_page(
        f"<div class='cell_output'><img src='{wide}' style='width:400px'></div>"
        "<div style='overflow:hidden;width:300px'><table><tr><td style='white-space:nowrap'>"
        + "clipped " * 80 + "</td></tr></table></div>"
        "<div class='cell_output'><div class='output stderr'><pre>/x.py:3: UserWarning: careful</pre></div></div>"
        "<div class='cell_output'><pre>Traceback (most recent call last):\n  boom</pre></div>"
        "<div class='cell_output'><pre>['sc_n_rows', 'sc_n_items']</pre></div>"
        f"<details><summary>more</summary><div class='cell_output'><img src='{_png(2000)}'></div>"
        "</details>"))  # fmt: skip
    results = _checker().check_site(site, budget_ms=5000, timeout_s=60)
    assert set(results) == {"good.html", "bad_load.html", "bad_layout.html"}
    assert results["good.html"]["errors"] == []
    assert _kinds(results["bad_load.html"]) == {"math", "image", "network"}
    msgs = " ".join(e["msg"] for e in results["bad_load.html"]["errors"])
    assert "MathJax did not load" in msgs and "raw TeX" in msgs and "cdn.example.invalid" in msgs
    assert _kinds(results["bad_layout.html"]) == {
        "squeezed",
        "overflow",
        "output",
        "table",
    }  # the clipped table is wide too
    msgs = " ".join(e["msg"] for e in results["bad_layout.html"]["errors"])
    assert "400 of 800 px" in msgs and "clipped" in msgs and "UserWarning" in msgs and "traceback" in msgs
    assert "2000 px wide" in msgs  # the figure inside a closed dropdown is checked too
    assert "a list of glue names" in msgs


@pytest.mark.skipif(not (MATHJAX / "tex-chtml.js").exists(), reason="MathJax not fetched (make mathjax)")
def test_local_mathjax_typesets_offline(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(MATHJAX, site / "_static" / "mathjax")
    head = ("<script>window.MathJax = {options: {processHtmlClass: 'math'}};</script>"
            "<script defer src='_static/mathjax/tex-chtml.js'></script>")  # fmt: skip
    (site / "math.html").write_text(
        _page(
            "<p class='tex2jax_ignore'>inline <span class='math'>\\(\\alpha^2\\)</span></p>"
            "<div class='math'>\\[\\mathcal{L}_{\\mathrm{CCL}} = \\alpha\\,\\ell + (1-\\alpha)\\,\\mathcal{C}\\]</div>",
            head,
        )
    )
    (site / "broken.html").write_text(_page("<div class='math'>\\[\\frac{1}{\\]</div>", head))
    results = _checker().check_site(site, budget_ms=15000, timeout_s=90)
    assert results["math.html"]["errors"] == []
    assert _kinds(results["broken.html"]) == {"math"}


def test_a_table_much_wider_than_the_column_fails_even_when_it_scrolls(tmp_path):
    site = tmp_path / "site"
    site.mkdir()

    def table(px: int) -> str:
        return f"<div style='overflow-x:auto'><table style='width:{px}px'><tr><td>cell</td></tr></table></div>"

    # <main> is the column here: 1400 px window, 8 px body margins -> 1384 px
    (site / "slightly.html").write_text(_page(table(1480)))  # 7 % wider: scrolls, noted, passes
    (site / "much.html").write_text(_page(table(1600)))  # 16 % wider: fails
    results = _checker().check_site(site, budget_ms=3000, timeout_s=60)
    assert results["slightly.html"]["errors"] == [] and results["slightly.html"]["column"] == 1384
    assert any("scrolls" in n for n in results["slightly.html"]["notes"])
    assert _kinds(results["much.html"]) == {"table"}
    assert "1600 px wide in a 1384 px column (more than 10 % wider)" in results["much.html"]["errors"][0]["msg"]
