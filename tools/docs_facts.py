#!/usr/bin/env python3
"""Write the quick-start's numbers from the code and the configs (``make book`` calls it).

Usage::

    python tools/docs_facts.py [-o book/generated/quickstart_facts.md]

The fragment says which Python the project needs (``requires-python`` of ``pyproject.toml``) and
which one CI uses (the Makefile's first choice), and which data set, model and size each
chapter's defaults use: the defaults of :data:`ccl_lib.parameters.CHAPTERS` (the chapters'
``parameters`` cells) and the named experiments they name (``ccl_lib/configs/experiments``).
``book/quickstart.md`` includes it, so the page cannot state a size the config contradicts.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Parameters whose default names a data set (a name or a list of names).
DATA_PARAMETERS = ("dataset", "datasets", "lr_dataset", "tabular", "tabular_dataset")
#: Parameters whose default names a tabular part size, and ones that name a named experiment.
SIZE_PARAMETERS = ("part_size", "location_size", "tabular_part_size")
EXPERIMENT_PARAMETERS = ("image_experiment",)
DESCRIPTION = {
    "location": "Location (Shokri et al., 2017), the paper's MLP",
    "digits": "scikit-learn's 8x8 digits (bundled, no download)",
    "cifar10-jpeg": "CIFAR-10 as JPEG files",
}


def python_versions(root: Path = ROOT) -> tuple[str, str]:
    """``(minimum, CI's)``: ``requires-python`` of pyproject.toml and the Makefile's ``python3.X``."""
    # a regular expression, not tomllib: that is Python 3.11+, and the project supports 3.10
    m = re.search(
        r'^requires-python\s*=\s*">=\s*(3\.\d+)"', (root / "pyproject.toml").read_text(encoding="utf-8"), re.M
    )
    if not m:
        raise ValueError('pyproject.toml: no requires-python = ">=3.X" line')
    ci = re.search(r"^PYTHON \?=.*?command -v (python3\.\d+)", (root / "Makefile").read_text(encoding="utf-8"), re.M)
    if not ci:
        raise ValueError("Makefile: no `PYTHON ?= $(shell command -v python3.X ...)` line")
    return m.group(1), ci.group(1).removeprefix("python")


def default_settings() -> list[dict[str, Any]]:
    """One row per data set the chapters' defaults use: its chapters, model and examples per part."""
    from ccl_lib.experiments.named import load_experiment
    from ccl_lib.parameters import CHAPTERS

    rows: dict[tuple, dict[str, Any]] = {}

    def add(data: str, chapter: str, model: str, size: Any, epochs: Any, via: str = "") -> None:
        key = (data, model, size, epochs, via)
        row = rows.setdefault(key, dict(data=data, model=model, size=size, epochs=epochs, via=via, chapters=[]))
        n = int(chapter[:2])
        if n not in row["chapters"] and n != 99:
            row["chapters"].append(n)

    for chapter, spec in CHAPTERS.items():
        d = {k: p.default for k, p in spec.parameters.items()}
        size = next((d[k] for k in SIZE_PARAMETERS if k in d), None)
        epochs = next((d[k] for k in ("epochs", "location_epochs", "tabular_epochs") if k in d), None)
        for k in DATA_PARAMETERS:
            for name in d.get(k, []) if isinstance(d.get(k), list) else [d.get(k)]:
                if isinstance(name, str) and name:
                    if k == "lr_dataset":  # chapter 2, Sec. 6: a logistic regression on the first examples
                        add(name, chapter, "logistic regression", d.get("lr_max_examples"), None)
                    else:
                        add(name, chapter, "MLP", size if name != "digits" else "all", epochs)
        for k in EXPERIMENT_PARAMETERS:
            if d.get(k):
                cfg = load_experiment(d[k]).config
                add(cfg["dataset"], chapter, cfg["model"], cfg.get("size"), cfg.get("epochs"), via=d[k])
    return sorted(rows.values(), key=lambda r: (r["chapters"][0] if r["chapters"] else 0, r["data"]))


def _chapters(ns: list[int]) -> str:
    from ccl_lib.formatting import ranges

    return ranges(ns)


def fragment() -> str:
    """The Markdown the quick-start includes."""
    low, ci = python_versions()
    lines = [
        f"You need Python {low} or newer (`requires-python` in `pyproject.toml`; CI and the timings below use",
        f"Python {ci}), `make`, and about 3 GB of disk for the environment (PyTorch is most of it).",
        "",
        "The chapters' defaults (their `parameters` cells, {doc}`parameters`) use these data and models:",
        "",
        "| data | model | examples per part | epochs | chapters |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for r in default_settings():
        data = DESCRIPTION.get(r["data"], r["data"]) + (f" (`{r['via']}`)" if r["via"] else "")
        size = f"{r['size']:,}" if isinstance(r["size"], int) else (r["size"] or "all")
        lines.append(f"| {data} | {r['model']} | {size} | {r['epochs'] or '--'} | {_chapters(r['chapters'])} |")
    lines.append("")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "book" / "generated" / "quickstart_facts.md")
    args = ap.parse_args(argv)
    from ccl_lib.utils import atomic_write_bytes

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, fragment().encode("utf-8"))  # never a half-written page for the book to include
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
