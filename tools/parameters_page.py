#!/usr/bin/env python3
"""Write the book's page of every chapter's parameters (``book/parameters.md``; ``make book`` calls it).

Usage::

    python tools/parameters_page.py [-o book/parameters.md]

For each chapter: one row per parameter of its ``parameters`` cell (name, default, meaning from
the comment above it in the cell, allowed values from :data:`ccl_lib.parameters.CHAPTERS`), and
the papermill command for the paper's setting.  Names and defaults come from the cells, checked
against the schema (``tests/test_parameters.py``), so the page cannot drift from the chapters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ccl_lib.parameters import CHAPTERS, read_parameters_cell  # noqa: E402


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return path.stem


def page(notebooks: Path = ROOT / "notebooks") -> str:
    """The Markdown of the parameters page."""
    out = [
        "# Chapter parameters",
        "",
        "Every chapter has a `parameters` cell that papermill can override, e.g.",
        '`papermill 05_alpha_ablation.ipynb out.ipynb -p alphas "[0.1, 0.9]"` (in `notebooks/`, after',
        "`make notebooks` wrote the `.ipynb` twins). The cell right after it checks every value",
        "({func}`ccl_lib.parameters.check_parameters`) before anything is loaded or trained, and stops",
        "with one line that names the parameter, the value and what is allowed, e.g.",
        '`parameter alphas: -1 is not in [0, 1]`. Lists and dicts are passed as text (`"[0, 1, 2]"`),',
        "`None`, `True` and `False` as words. This page is written by `tools/parameters_page.py` from the",
        "chapters' cells and {mod}`ccl_lib.parameters`.",
        "",
    ]
    for chapter, spec in CHAPTERS.items():
        path = notebooks / f"{chapter}.py"
        rows = read_parameters_cell(path)
        out += [f"## {_title(path)}", "", f"`notebooks/{chapter}.py`", ""]
        if spec.paper_command:
            out += ["At the paper's scale (or the larger setting the chapter describes):", "", "```bash"]
            out += [f"cd notebooks && {spec.paper_command}", "```", ""]
            if spec.paper_note:
                out += [f"Cost: {spec.paper_note}.", ""]
        out += ["| parameter | default | meaning | allowed |", "| --- | --- | --- | --- |"]
        for name, default, comment in rows:
            p = spec.parameters[name]
            meaning = comment or p.meaning
            out.append(f"| `{name}` | `{default!r}` | {_cell(meaning)} | {_cell(p.check.describe())} |")
        out.append("")
    return "\n".join(out)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "book" / "parameters.md")
    args = ap.parse_args(argv)
    from ccl_lib.utils import atomic_write_bytes

    atomic_write_bytes(args.out, page().encode("utf-8"))  # never a half-written page for the book to build
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
