"""The map of CONTRIBUTING.md, enforced: floors of the import graph and the checklists.

Each package of ``ccl_lib`` stands on a floor and imports only from lower floors (no circle, no
upward arrow); every registered defense, attack and data set and every chapter is wired into the
places the checklists of CONTRIBUTING.md name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "ccl_lib"

#: Floor of every top-level module or package of ccl_lib (CONTRIBUTING.md, "Who may import whom").
FLOORS = {
    "__init__": 0,
    "utils": 1,
    "accel": 1,
    "losses": 1,
    "metrics": 1,
    "stats": 1,
    "verdicts": 1,
    "formatting": 1,
    "paper_results": 1,
    "models": 1,
    "splits": 1,
    "augment": 2,
    "data": 2,
    "provenance": 2,
    "theory": 2,
    "scorecard": 2,
    "train": 3,
    "defenses": 4,
    "attacks": 4,
    "experiments": 5,
    "analysis": 6,
    "parameters": 6,
    "cli": 6,
    "plots": 7,
    "__main__": 7,
    "book": 8,
    "confound": 8,
}


def _unit(parts: list[str]) -> str:
    return parts[0].removesuffix(".py") if parts else "__init__"


def _imports(path: Path, lib: Path = LIB) -> set[str]:
    """The top-level ccl_lib units ``path`` (a file under ``lib``) imports: absolute or relative, lazy ones too."""
    pkg = list(path.relative_to(lib).parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - (node.level - 1)]
            if node.module:
                out.add(_unit(base + node.module.split(".")))
            else:  # `from .. import name`: a submodule, or a name of the package's __init__
                here = lib.joinpath(*base)
                for a in node.names:
                    sub = (here / a.name).is_dir() or (here / f"{a.name}.py").is_file()
                    out.add(_unit(base + [a.name]) if sub else _unit(base))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ccl_lib"):
            out.add(_unit(node.module.split(".")[1:]))
        elif isinstance(node, ast.Import):
            out.update(_unit(a.name.split(".")[1:]) for a in node.names if a.name.startswith("ccl_lib."))
    return out


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in LIB.rglob("*.py"):
        unit = _unit(list(path.relative_to(LIB).parts))
        graph.setdefault(unit, set()).update(_imports(path) - {unit})
    return graph


def test_import_units_are_classified_by_hand():
    graph = _import_graph()
    assert set(graph) == set(FLOORS), "give a new module its floor in FLOORS and in CONTRIBUTING.md"


def test_every_import_goes_to_a_lower_floor():
    up = sorted(
        f"{a} (floor {FLOORS[a]}) -> {b} (floor {FLOORS[b]})"
        for a, targets in _import_graph().items()
        for b in targets
        if b != "__init__" and FLOORS[b] >= FLOORS[a]
    )
    assert not up, f"imports that do not go down: {up}"


def test_the_floor_checker_sees_lazy_and_relative_imports(tmp_path):
    # a lazy import inside a function, two dots up, an absolute one, and one inside the package
    pkg = tmp_path / "ccl_lib" / "theory"
    pkg.mkdir(parents=True)
    (pkg / "y.py").write_text("")
    (tmp_path / "ccl_lib" / "metrics.py").write_text("")
    (pkg / "x.py").write_text(
        "from . import y\nfrom .. import metrics, __version__\n"
        "def f():\n    from ..attacks.threshold import t\n    import ccl_lib.train.loop\n"
    )
    assert _imports(pkg / "x.py", tmp_path / "ccl_lib") == {"theory", "metrics", "__init__", "attacks", "train"}


def _module_graph(lib: Path = LIB) -> dict[str, set[str]]:
    """File-level import graph of ``lib``: dotted module -> the modules of ``lib`` it imports (lazy ones too).

    ``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``'s ``__init__``.
    """

    def name_of(path: Path) -> str:
        parts = list(path.relative_to(lib.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    files = {name_of(p): p for p in lib.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = pkg[: len(pkg) - (node.level - 1)] if node.level else []
                target = ".".join(base + (node.module.split(".") if node.module else []))
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    out.add(sub if sub in files else target)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        graph[mod] = (out & set(files)) - {mod}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected parts of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_between_modules():
    # inside a package too (issue 21): attacks.lira <-> attacks.reference was one, through a lazy import
    assert not _circles(_module_graph()), "modules that import each other (move the shared name lower)"


def test_the_circle_checker_finds_a_lazy_circle(tmp_path):
    pkg = tmp_path / "ccl_lib" / "attacks"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("def f():\n    from .b import g\n")
    (pkg / "b.py").write_text("from .c import h\n")
    (pkg / "c.py").write_text("from ccl_lib.attacks.a import f\n")
    (pkg / "d.py").write_text("from . import a, b\n")
    graph = _module_graph(tmp_path / "ccl_lib")
    assert graph["ccl_lib.attacks.d"] == {"ccl_lib.attacks.a", "ccl_lib.attacks.b"}
    assert _circles(graph) == [["ccl_lib.attacks.a", "ccl_lib.attacks.b", "ccl_lib.attacks.c"]]


def test_contributing_names_every_floor():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for unit in FLOORS:
        if not unit.startswith("__"):
            assert f"`{unit}" in text, f"CONTRIBUTING.md does not describe ccl_lib.{unit}"


# ----------------------------------------------------------------------------------- checklists
def _api_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "book" / "api").glob("*.md"))


def _tests_text(*names: str) -> str:
    return "\n".join((ROOT / "tests" / n).read_text(encoding="utf-8") for n in names)


def test_every_registered_defense_is_documented_and_tested():
    from ccl_lib.defenses import DEFENSE_NAMES, defense_class

    api, tests = _api_text(), _tests_text("test_defenses.py", "test_dp_sgd.py", "test_fit_many.py")
    doc = __import__("ccl_lib.defenses", fromlist=["x"]).__doc__
    for name in DEFENSE_NAMES:
        cls = defense_class(name)
        assert f"autoclass:: {cls.__name__}" in api, f"defense {name}: {cls.__name__} has no API entry"
        assert f'"{name}"' in tests or cls.__name__ in tests, f"defense {name} is in no defense test"
        assert re.search(rf"\b{name}\b", doc), f"defense {name} is missing from ccl_lib.defenses' table"


#: Registered attacks that no test names yet; the test below fails once one of them is tested,
#: so that this list only shrinks (empty since the release forms of the metric attacks are tested).
NOT_YET_TESTED_ATTACKS: set[str] = set()


def test_every_registered_attack_is_documented_and_tested():
    import importlib

    import ccl_lib.attacks as A
    from ccl_lib.attacks import ATTACKS

    tests = _tests_text(*(p.name for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name))
    for name, fn in ATTACKS.items():
        doc = (A.__doc__ or "") + (importlib.import_module(fn.__module__).__doc__ or "")
        assert f"``{name}``" in doc, f"attack {name} is described neither in ccl_lib.attacks nor in its module"
        named = bool(re.search(rf"\b{name}\b", tests))
        if name in NOT_YET_TESTED_ATTACKS:
            assert not named, f"attack {name} is tested now: drop it from NOT_YET_TESTED_ATTACKS"
        else:
            assert named, f"attack {name} is in no test"


def test_every_data_set_is_in_the_readme_and_tested():
    from ccl_lib.data import available_datasets

    readme, tests = (ROOT / "README.md").read_text(encoding="utf-8"), _tests_text("test_data.py")
    for name in available_datasets():
        assert f"`{name}`" in readme, f"data set {name} is missing from README.md's data table"
        assert name in tests, f"data set {name} is in no data test"


CHAPTER_FILES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", CHAPTER_FILES, ids=lambda p: p.stem)
def test_every_chapter_is_wired_in(path):
    from ccl_lib.parameters import CHAPTERS

    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert path.stem in CHAPTERS, "declare the chapter's parameters in ccl_lib/parameters/chapters.py"
    assert f"book/generated/{path.stem}" in toc, "list the executed chapter in _toc.yml"
