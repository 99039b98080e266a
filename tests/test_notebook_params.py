"""Every notebook's parameters cell is one that `papermill --help-notebook` can read.

Plain ``name = value`` lines, comments on their own line above (a trailing comment holding
"=" breaks papermill's parser), and every assigned name reported by papermill's inspector.
A notebook without parameters (the scorecard page) has no such cell.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_parameters_cell_is_papermill_readable(path):
    jupytext = pytest.importorskip("jupytext")
    translators = pytest.importorskip("papermill.translators")
    cells = [c for c in jupytext.read(path).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) <= 1, f"{path.name}: {len(cells)} cells tagged 'parameters'; papermill uses one"
    if not cells:
        pytest.skip(f"{path.name} has no parameters")
    src = cells[0].source
    tree = ast.parse(src)
    assigned = [
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    ]
    assigned += [n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    assert assigned, f"{path.name}: the parameters cell assigns nothing"
    lines = src.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(src + "\n").readline):
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1][: tok.start[1]].strip():
            pytest.fail(f"{path.name}: trailing comment in the parameters cell (move it above): {tok.line.strip()!r}")
    found = [p.name for p in translators.PythonTranslator.inspect(cells[0])]
    assert sorted(found) == sorted(assigned), f"{path.name}: papermill reads {found}, the cell assigns {assigned}"
