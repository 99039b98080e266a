"""Reading a chapter's ``parameters`` cell: names, defaults and the comment above each."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path
from typing import Any, Optional, Union


# ------------------------------------------------------------------------------------------------ parsing
def parse_parameters_cell(source: str) -> list[tuple[str, Any, str]]:
    """``[(name, default, comment)]`` of a parameters cell, in order.

    The comment is the block of ``#`` lines right above the assignment (joined with spaces);
    an assignment right after another one has none.  Defaults are Python literals.

    Args:
        source: the cell's Python source.
    """
    tree = ast.parse(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source + "\n").readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name = node.target.id
        else:
            raise ValueError(f"a parameters cell holds plain `name = literal` lines, got line {node.lineno}")
        assert node.value is not None
        default = ast.literal_eval(node.value)
        lines: list[str] = []
        line = node.lineno - 1
        while line in comments:
            lines.insert(0, comments[line])
            line -= 1
        out.append((name, default, " ".join(lines)))
    return out


def read_parameters_cell(path: Union[str, Path]) -> list[tuple[str, Any, str]]:
    """:func:`parse_parameters_cell` of the cell tagged ``parameters`` in a py:percent notebook.

    Args:
        path: the notebook's ``.py`` (py:percent) source.
    """
    source = Path(path).read_text(encoding="utf-8")
    cells: list[tuple[str, str]] = []
    current: Optional[list[str]] = None
    tags = ""
    for line in source.splitlines():
        if line.startswith("# %%"):
            if current is not None:
                cells.append((tags, "\n".join(current)))
            current, tags = [], line
        elif current is not None:
            current.append(line)
    if current is not None:
        cells.append((tags, "\n".join(current)))
    found = [src for head, src in cells if "parameters" in head and "[markdown]" not in head]
    if len(found) != 1:
        raise ValueError(f"{path}: {len(found)} cells tagged 'parameters'; a chapter has exactly one")
    return parse_parameters_cell(found[0].strip("\n"))
