"""jupytext.toml pairs every chapter with a notebook twin, and `jupytext --sync` carries an edit both ways.

Runs on temporary copies (the toml and one chapter), never on notebooks/ itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.py"))
# A header line `formats: py:percent` in a notebook overrides jupytext.toml's pairing (the twin is not written).
OVERRIDE = "#     formats: py:percent\n"


def _sync(folder: Path, path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path.relative_to(folder))],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )


def _code_sources(ipynb: Path) -> list[str]:
    nbformat = pytest.importorskip("nbformat")
    return [c.source for c in nbformat.read(ipynb, 4).cells if c.cell_type == "code"]


def test_the_toml_pairs_notebooks_as_ipynb_and_percent():
    text = (ROOT / "jupytext.toml").read_text(encoding="utf-8")
    assert 'formats = "notebooks///ipynb,notebooks///py:percent"' in text
    assert "notebooks/*.ipynb" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_no_chapter_header_overrides_the_pairing():
    stale = [p.name for p in CHAPTERS if OVERRIDE in p.read_text(encoding="utf-8")]
    assert not stale, f"these chapters' headers override jupytext.toml: {stale}"


def test_round_trip_edit_syncs_both_ways(tmp_path):
    pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    shutil.copy(ROOT / "jupytext.toml", tmp_path / "jupytext.toml")
    (tmp_path / "notebooks").mkdir()
    src = ROOT / "notebooks" / "03_anatomy_of_ccl.py"
    py = tmp_path / "notebooks" / src.name
    py.write_text(src.read_text(encoding="utf-8").replace(OVERRIDE, ""), encoding="utf-8")
    twin = py.with_suffix(".ipynb")

    _sync(tmp_path, py)  # `make notebooks`: the twin appears, with the same cells
    assert twin.exists()
    import jupytext

    assert [c.source for c in jupytext.read(py).cells if c.cell_type == "code"] == _code_sources(twin)

    # edit the .py, sync: the notebook has the edit
    text = py.read_text(encoding="utf-8")
    py.write_text(text.replace("seed = 0\n", "seed = 0\nedited_in_py = 1\n", 1), encoding="utf-8")
    os.utime(py, (twin.stat().st_mtime + 2, twin.stat().st_mtime + 2))
    _sync(tmp_path, py)
    assert any("edited_in_py = 1" in s for s in _code_sources(twin))

    # edit the notebook, sync: the .py has the edit, and the first edit is still there
    nb = nbformat.read(twin, 4)
    nb.cells.append(nbformat.v4.new_code_cell("edited_in_ipynb = 2"))
    nbformat.write(nb, twin)
    os.utime(twin, (py.stat().st_mtime + 2, py.stat().st_mtime + 2))
    _sync(tmp_path, py)
    text = py.read_text(encoding="utf-8")
    assert "edited_in_ipynb = 2" in text and "edited_in_py = 1" in text
    assert text.count("# %%") == len(jupytext.read(py).cells)
