"""Every notebook's parameters cell is one that `papermill --help-notebook` can read.

Plain ``name = value`` lines, comments on their own line above (a trailing comment holding
"=" breaks papermill's parser), and every assigned name reported by papermill's inspector.
A notebook without parameters (the scorecard page) has no such cell.

The code cell right after it validates every parameter (issue 22 item 2):
``globals().update(check_parameters(<chapter>, globals()))`` before anything is loaded or trained.
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


# ---------------------------------------------------------------------------------------- validation cell
def validation_problem(chapter: str, cells: list) -> str:
    """Why the code cell right after ``chapter``'s parameters cell does not validate every parameter with
    ``globals().update(check_parameters(<chapter>, globals()))`` before anything else runs ("" if it does).
    Only imports and ``book.setup()`` may come before the call in that cell (papermill's injected values sit
    between the two cells, so the call sees them)."""
    code = [c for c in cells if c.cell_type == "code"]
    i = next((k for k, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])), None)
    if i is None:
        return "no parameters cell"
    if i + 1 == len(code):
        return "no code cell after the parameters cell"
    src = "\n".join(line for line in code[i + 1].source.splitlines() if not line.lstrip().startswith(("%", "!")))

    def is_call(node: ast.AST, name: str) -> bool:
        f = node.func if isinstance(node, ast.Call) else None
        return isinstance(f, ast.Name) and f.id == name or isinstance(f, ast.Attribute) and f.attr == name

    names = {repr(chapter)}  # the chapter's name, and constants holding it (CHAPTER = "05_alpha_ablation")
    for stmt in ast.parse(src).body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            is_call(call, "update")
            and is_call(call.func.value, "globals")
            and len(call.args) == 1
            and is_call(call.args[0], "check_parameters")
            and [ast.unparse(a) for a in call.args[0].args][1:] == ["globals()"]
        ):
            given = ast.unparse(call.args[0].args[0])
            return "" if given in names else f"the cell validates the parameters of {given}, not of {chapter!r}"
        if is_call(call, "check_parameters"):
            return "check_parameters is called without globals().update(...): its checked values are dropped"
        constant = isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
        if constant and stmt.value.value == chapter:
            names |= {ast.unparse(t) for t in stmt.targets}
        if not (isinstance(stmt, (ast.Import, ast.ImportFrom)) or constant or is_call(call, "setup")):
            return f"the cell after the parameters cell runs {ast.unparse(stmt).splitlines()[0]!r} before validating"
    return "the cell after the parameters cell does not call globals().update(check_parameters(...))"


def test_the_validation_finder_on_examples():
    from nbformat.v4 import new_code_cell as code

    params = code("a = 1", metadata={"tags": ["parameters"]})
    ok = "%matplotlib inline\nfrom ccl_lib import book\nbook.setup()\nfrom ccl_lib.parameters import check_parameters\n"
    ok += "globals().update(check_parameters('01_x', globals()))\nds = load()"
    assert validation_problem("01_x", [params, code(ok)]) == ""
    assert "before validating" in validation_problem("01_x", [params, code("ds = load()\n" + ok)])
    assert "dropped" in validation_problem("01_x", [params, code("check_parameters('01_x', globals())")])
    assert "of '01_x', not of '02_y'" in validation_problem("02_y", [params, code(ok)])
    assert validation_problem("01_x", [params]) == "no code cell after the parameters cell"
    named = "CHAPTER = '01_x'\nglobals().update(check_parameters(CHAPTER, globals()))"
    assert validation_problem("01_x", [params, code(named)]) == ""
    assert "of CHAPTER, not of '01_x'" in validation_problem("01_x", [params, code(named.replace("'01_x'", "'02_y'"))])


def test_every_chapter_validates_its_parameters_right_after_the_parameters_cell():
    jupytext = pytest.importorskip("jupytext")
    problems = {p.stem: why for p in NOTEBOOKS if (why := validation_problem(p.stem, jupytext.read(p).cells))}
    assert not problems, problems
