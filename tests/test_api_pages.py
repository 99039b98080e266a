"""The API reference (book/api/, written by tools/api_pages.py) covers every public module and is current."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def _tool():
    spec = importlib.util.spec_from_file_location("api_pages", ROOT / "tools" / "api_pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_public_module_has_a_current_page():
    tool = _tool()
    pages = tool.build()  # fails naming any public module left out of tools/api_pages.py's SECTIONS
    listed = {m for _, mods in tool.SECTIONS for m, _ in mods}
    assert {m for m in tool.public_modules() if m != "ccl_lib" and not m.startswith(tool.INTERNAL_PREFIXES)} <= listed
    stale = [n for n, text in pages.items() if not (ROOT / "book" / "api" / n).exists()
             or (ROOT / "book" / "api" / n).read_text() != text]  # fmt: skip
    assert not stale, f"book/api pages out of date: {stale}; run: .venv/bin/python tools/api_pages.py"
    toc = (ROOT / "_toc.yml").read_text()
    missing = [e for e in tool.toc_entries() if f"file: {e}\n" not in toc]
    assert not missing, f"_toc.yml's Reference part lacks {missing}"


def test_each_object_is_documented_once():
    """A package's export is documented under the package's name only, never again under its submodule's."""
    tool = _tool()
    seen: dict[str, str] = {}
    for page, qual, _ in tool._documented_objects(tool.build()):
        assert qual not in seen, f"{qual} documented on {seen[qual]} and {page}"
        seen[qual] = page
    assert "ccl_lib.attacks.run_attacks" in seen and "ccl_lib.attacks.suite.run_attacks" not in seen
    assert seen["ccl_lib.losses.ConvexConcaveLoss"] == "losses.md"


def test_every_public_parameter_is_described():
    """Issue 16: the API reference describes every public parameter (napoleon ``Args:``/``Attributes:``)."""
    missing = _tool().undescribed_parameters()
    assert not missing, f"undescribed public parameters (first 10): {dict(list(missing.items())[:10])}"
