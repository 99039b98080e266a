#!/usr/bin/env python3
"""The Jupyter Book configuration of the student edition (``make book-student``), on stdout.

Usage::

    python tools/student_config.py _config.yml > _build/student/_config.yml

The full edition's ``_config.yml`` with sphinx-exercise's ``hide_solutions: True`` (every
``{solution}`` directive is left out of the pages; the exercises stay) and " (student edition)"
after the title.  Everything else, the executed chapters included, is the full edition's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def student_config(config: dict) -> dict:
    """``config`` (a parsed ``_config.yml``) for the student edition; the input is not changed."""
    if not isinstance(config, dict):
        raise ValueError(f"a Jupyter Book config is a mapping, got {type(config).__name__}")
    out = dict(config)
    out["title"] = f"{config.get('title', 'Book')} (student edition)"
    sphinx = dict(config.get("sphinx") or {})
    extensions = list(sphinx.get("extra_extensions") or [])
    if "sphinx_exercise" not in extensions:
        raise ValueError("the config does not load sphinx_exercise, which hides the solutions")
    sphinx["config"] = {**(sphinx.get("config") or {}), "hide_solutions": True}
    out["sphinx"] = sphinx
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    config = yaml.safe_load(Path(argv[0]).read_text(encoding="utf-8"))
    yaml.safe_dump(student_config(config), sys.stdout, sort_keys=False, allow_unicode=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
