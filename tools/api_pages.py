#!/usr/bin/env python3
"""Write the book's API reference: one page per public module of ccl_lib, under book/api/.

Usage::

    .venv/bin/python tools/api_pages.py          # (re)write book/api/*.md
    .venv/bin/python tools/api_pages.py --check  # exit 1 if a page is missing or stale

A package (``ccl_lib.attacks``, ``ccl_lib.data``, ...) gets a page for the names it exports
(its ``__all__``); a submodule gets its own page only for the public names its package does
not re-export, so every object is documented once, under the name the chapters use.
Modules are listed in :data:`SECTIONS` (title and order of the reference); a public module
missing from it fails ``--check`` (and tests/test_api_pages.py), so a new module cannot be
left out of the reference by accident.  Private modules (``_name``) and ``__main__`` are skipped.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "book" / "api"

#: The reference's sections: (section title, [(module, short title)]).
SECTIONS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Losses, models and training",
        [
            ("ccl_lib.losses", "Losses: CCL, cross-entropy, focal loss"),
            ("ccl_lib.models", "Models"),
            ("ccl_lib.train", "Training"),
            ("ccl_lib.accel", "CPU acceleration"),
            ("ccl_lib.augment", "Data augmentation"),
        ],
    ),
    (
        "Data",
        [
            ("ccl_lib.data", "Data sets"),
            ("ccl_lib.splits", "Splits"),
        ],
    ),
    (
        "Attacks",
        [
            ("ccl_lib.attacks", "Attacks: the suite"),
            ("ccl_lib.attacks.base", "Attack results and contexts"),
            ("ccl_lib.attacks.suite", "The attack suite"),
            ("ccl_lib.attacks.metric", "Metric attacks"),
            ("ccl_lib.attacks.threshold", "Thresholds"),
            ("ccl_lib.attacks.nn", "The NN attack"),
            ("ccl_lib.attacks.augmentation", "Augmentation attacks"),
            ("ccl_lib.attacks.lira", "LiRA"),
            ("ccl_lib.attacks.rmia", "RMIA"),
            ("ccl_lib.attacks.reference", "Reference models"),
            ("ccl_lib.attacks.strong", "Running the strong attacks"),
            ("ccl_lib.attacks.strong_report", "Tables of the strong attacks"),
        ],
    ),
    (
        "Defenses",
        [
            ("ccl_lib.defenses", "Defenses: registry"),
            ("ccl_lib.defenses.base", "Defense base classes"),
            ("ccl_lib.defenses.registry", "Defense registry"),
            ("ccl_lib.defenses.ccl", "CCL, focal loss"),
            ("ccl_lib.defenses.relaxloss", "RelaxLoss"),
            ("ccl_lib.defenses.mixup_mmd", "Mixup + MMD"),
            ("ccl_lib.defenses.advreg", "Adversarial regularization"),
            ("ccl_lib.defenses.regularizers", "Dropout, label smoothing, confidence penalty, early stopping"),
            ("ccl_lib.defenses.dp_sgd", "DP-SGD"),
        ],
    ),
    (
        "Measuring and deciding",
        [
            ("ccl_lib.metrics", "Metrics"),
            ("ccl_lib.stats", "Statistics"),
            ("ccl_lib.verdicts", "Verdicts over seeds"),
            ("ccl_lib.theory", "Theory, numerically"),
            ("ccl_lib.confound", "Confounds"),
            ("ccl_lib.paper_results", "The paper's numbers"),
            ("ccl_lib.scorecard", "The reproduction scorecard"),
        ],
    ),
    (
        "Experiments",
        [
            ("ccl_lib.experiments", "Experiments: specs, runs, cache"),
            ("ccl_lib.experiments.spec", "Run specifications"),
            ("ccl_lib.experiments.values", "The values of a run specification"),
            ("ccl_lib.experiments.runner", "Running an experiment"),
            ("ccl_lib.experiments.result", "Run results"),
            ("ccl_lib.experiments.loading", "Loading a run back"),
            ("ccl_lib.experiments.parallel", "Parallel sweeps"),
            ("ccl_lib.experiments.cache", "The result cache"),
            ("ccl_lib.experiments.ledger", "The evidence ledger"),
            ("ccl_lib.experiments.named", "Named experiments"),
            ("ccl_lib.experiments.summary", "Summaries"),
            ("ccl_lib.provenance", "Provenance of a run"),
            ("ccl_lib.cli", "Command line"),
        ],
    ),
    (
        "The book's analyses",
        [
            ("ccl_lib.analysis", "Analyses"),
            ("ccl_lib.analysis.runs", "Runs of a sweep"),
            ("ccl_lib.analysis.findings", "A chapter's findings, glued by name"),
            ("ccl_lib.analysis.tables", "Tables of a sweep"),
            ("ccl_lib.analysis.curves", "Fig. 1 and 5: training curves"),
            ("ccl_lib.analysis.arms", "The arms of each setting (chapters 4 and 6)"),
            ("ccl_lib.analysis.figure1", "Fig. 1: CE against focal loss (chapter 4)"),
            ("ccl_lib.analysis.convergence", "Fig. 5: convergence (chapter 6)"),
            ("ccl_lib.analysis.ablation", "Fig. 4: the alpha ablation"),
            ("ccl_lib.analysis.privacy_utility", "Fig. 2/3: privacy-utility"),
            ("ccl_lib.analysis.figure23", "Fig. 2/3 over seeds (chapter 7)"),
            ("ccl_lib.analysis.p1", "Table 1: P1"),
            ("ccl_lib.analysis.code_variants", "The code's forms beside the text's (chapter 12)"),
            ("ccl_lib.analysis.focal", "App. D: focal loss + CCL"),
            ("ccl_lib.analysis.strong", "Chapter 10: strong attacks"),
            ("ccl_lib.analysis.foundations", "Chapters 1 and 3: foundations"),
            ("ccl_lib.plots", "Plots"),
            ("ccl_lib.formatting", "Formatting"),
            ("ccl_lib.book", "Chapter set-up"),
            ("ccl_lib.parameters", "Chapter parameters (the papermill contract)"),
            ("ccl_lib.utils", "Utilities"),
        ],
    ),
]

#: Implementation modules whose public names are all re-exported by their package (no page of their own).
INTERNAL_PREFIXES = (
    "ccl_lib.confound.",
    "ccl_lib.data.",
    "ccl_lib.parameters.",
    "ccl_lib.plots.",
    "ccl_lib.scorecard.",
    "ccl_lib.theory.",
    "ccl_lib.train.",
)


def public_modules() -> list[str]:
    import ccl_lib

    names = ["ccl_lib"]
    for m in pkgutil.walk_packages(ccl_lib.__path__, "ccl_lib."):
        leaf = m.name.rsplit(".", 1)[-1]
        if leaf.startswith("_"):
            continue
        names.append(m.name)
    return sorted(names)


def exported(mod) -> list[str]:
    """The public names of ``mod``: its ``__all__``, else the public functions, classes and
    documented constants defined in it."""
    if hasattr(mod, "__all__"):
        return [n for n in mod.__all__ if hasattr(mod, n)]
    out = []
    for n, obj in vars(mod).items():
        if n.startswith("_"):
            continue
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", None) == mod.__name__:
            out.append(n)
    return out


def source_order(mod, names: list[str]) -> list[str]:
    """``names`` in reading order: a package's names in the order of the files that its docstring
    introduces them from (e.g. the paper's order of results), then each file's source order."""
    doc = (mod.__doc__ or "") if hasattr(mod, "__path__") else ""

    def file_rank(src: str) -> int:
        if src == "~":  # data (no source file) after the functions and classes, as on module pages
            return len(doc) + 2
        here = [doc.find(f"`{n}`") for n in names if _file_of(getattr(mod, n)) == src]
        return min((i for i in here if i >= 0), default=len(doc) + 1)

    def key(n: str):
        obj = getattr(mod, n)
        try:
            src = inspect.getsourcefile(obj) or ""
            line = inspect.getsourcelines(obj)[1]
        except (TypeError, OSError):
            src, line = "~", 0
        return (file_rank(src) if doc else 0, src, line, n)

    return sorted(names, key=key)


def _file_of(obj) -> str:
    try:
        return inspect.getsourcefile(obj) or ""
    except TypeError:
        return "~"


def _directive(obj) -> str:
    if inspect.isclass(obj):
        return "autoclass"
    if inspect.isroutine(obj) or (callable(obj) and hasattr(obj, "__wrapped__")):  # functions, lru_cache wrappers
        return "autofunction"
    return "autodata"


def _attr_docs(modname: str) -> set:
    """The module-level names of ``modname`` with a ``#:`` doc comment (what autodata can show)."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        return {name for (cls, name) in ModuleAnalyzer.for_module(modname).find_attr_docs() if cls == ""}
    except Exception:  # no source (a compiled module): nothing to show
        return set()


def _data_home(name: str, obj, modnames: list[str]) -> str | None:
    """The module among ``modnames`` that defines ``name`` with a doc comment, holding ``obj``."""
    for m in modnames:
        mod = sys.modules.get(m) or importlib.import_module(m)
        if vars(mod).get(name) is obj and name in _attr_docs(m):
            return m
    return None


def _entries(current: str, mod, names: list[str], search: list[str]) -> list[str]:
    """Directives for ``names`` of ``mod``, documented under ``current``; constants are
    documented where their doc comment is (one of ``search``), or only named if they have none."""
    out = [f".. currentmodule:: {current}", ""]
    bare = []
    for n in names:
        obj = getattr(mod, n)
        d = _directive(obj)
        if d == "autodata":
            home = _data_home(n, obj, [current, *search])
            if home is None:
                bare.append(n)
                continue
            out += [f".. autodata:: {home}.{n}" if home != current else f".. autodata:: {n}", "   :no-value:", ""]
            continue
        out.append(f".. {d}:: {n}")
        if d == "autoclass":
            out += ["   :members:", "   :show-inheritance:"]
        out.append("")
    if bare:
        out += [f"Also exported (constants without a description): {', '.join(f'``{n}``' for n in bare)}.", ""]
    return out


def _home(pkg_name: str, pkg, name: str, listed_children: list) -> str:
    """The listed submodule that defines ``pkg.name`` (else the package itself)."""
    obj = getattr(pkg, name)
    owner = getattr(obj, "__module__", None) if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
    for child_name, child in listed_children:
        if owner is not None:
            if owner == child_name:
                return child_name
        elif vars(child).get(name) is obj and name in exported(child):
            return child_name
    return pkg_name


def page(modname: str, title: str, blocks: list[str]) -> str:
    body = [
        f"# `{modname}`",
        "",
        f"*{title}*",
        "",
        "```{eval-rst}",
        f".. automodule:: {modname}",
        "   :no-members:",
        "",
    ]
    body += blocks
    while body and body[-1] == "":
        body.pop()
    return "\n".join(body + ["```", ""])


@functools.lru_cache(maxsize=1)
def _build_cached() -> tuple:
    return tuple(_build().items())


def build() -> dict[str, str]:
    """``{file name: page text}`` of book/api/ (computed once per process)."""
    return dict(_build_cached())


def _build() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    listed = [m for _, mods in SECTIONS for m, _ in mods]
    public = set(public_modules())
    missing = [m for m in sorted(public) if m not in listed and m != "ccl_lib" and not m.startswith(INTERNAL_PREFIXES)]
    if missing:
        raise SystemExit(f"api_pages: public modules missing from SECTIONS in tools/api_pages.py: {missing}")
    gone = sorted(m for m in listed if m not in public)
    if gone:
        raise SystemExit(f"api_pages: SECTIONS lists modules that do not exist: {gone}")
    mods = {m: importlib.import_module(m) for m in listed}
    # every object once: a package's export is documented under the package's name, on the
    # page of the listed submodule that defines it (else on the package's page)
    blocks: dict[str, list[str]] = {m: [] for m in listed}
    taken: dict[str, set] = {m: set() for m in listed}
    for pkg_name in listed:
        pkg = mods[pkg_name]
        if not hasattr(pkg, "__path__"):
            continue
        children = [(c, mods[c]) for c in listed if c.rsplit(".", 1)[0] == pkg_name]
        homes: dict[str, list[str]] = {}
        for n in exported(pkg):
            home = _home(pkg_name, pkg, n, children)
            homes.setdefault(home, []).append(n)
            if home != pkg_name:
                taken[home].add(n)
        subs = [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg_name + ".")]
        for home, names in homes.items():
            search = [home] if home != pkg_name else subs
            blocks[home] += _entries(pkg_name, pkg, source_order(pkg, names), search)
    for m in listed:
        mod = mods[m]
        if hasattr(mod, "__path__"):
            continue
        own = [n for n in exported(mod) if n not in taken[m]]
        if own:
            blocks[m] = _entries(m, mod, source_order(mod, own), []) + blocks[m]
    pages: dict[str, str] = {}
    index = [
        "# API reference",
        "",
        "Everything the chapters compute lives in the `ccl_lib` package; the notebooks only call it.",
        "Install it with `pip install -e .` (or `make env`), then `import ccl_lib`. One page per module;",
        "what a package exports is documented under the package's name (`ccl_lib.attacks.run_attacks`)",
        "on the page of the module that defines it.",
        "",
    ]
    for section, entries in SECTIONS:
        index += [f"## {section}", ""]
        for modname, title in entries:
            fname = modname.removeprefix("ccl_lib.").replace(".", "_") + ".md"
            pages[fname] = page(modname, title, blocks[modname])
            index.append(f"- {{doc}}`{modname} <{fname[:-3]}>`: {title}")
        index.append("")
    pages["index.md"] = "\n".join(index)
    return pages


def _documented_objects(pages: dict[str, str] | None = None):
    """``(module page, qualified name, object)`` of every function, class and public method the pages document."""
    for name, text in (build() if pages is None else pages).items():
        current = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(".. currentmodule:: "):
                current = line.split(":: ", 1)[1]
            elif line.startswith((".. autofunction:: ", ".. autoclass:: ")) and current:
                qual = line.split(":: ", 1)[1]
                obj = getattr(importlib.import_module(current), qual)
                yield name, f"{current}.{qual}", obj
                if inspect.isclass(obj):
                    for attr, member in vars(obj).items():
                        if attr.startswith("_") or not inspect.isfunction(member) or not member.__doc__:
                            continue
                        yield name, f"{current}.{qual}.{attr}", member


def undescribed_parameters() -> dict[str, list[str]]:
    """``{qualified name: [parameters its docstring does not describe]}``.

    A parameter counts as described when the docstring has an entry for it (``Args:``, a
    ``Parameters`` section) or names it as ````name```` in its text."""
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    cfg = Config(napoleon_use_param=True)
    out: dict[str, list[str]] = {}
    for _, qual, obj in _documented_objects():
        target = obj.__init__ if inspect.isclass(obj) and "__init__" in vars(obj) else obj
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj) and "__init__" in vars(obj):
            doc += "\n" + (inspect.getdoc(obj.__init__) or "")
        rst = str(GoogleDocstring(doc, cfg))
        names = [p.name for p in sig.parameters.values()
                 if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # fmt: skip
        missing = [n for n in names if f":param {n}:" not in rst and f"``{n}``" not in doc and f":param {n} " not in rst
                   and not re.search(rf"^\s*{re.escape(n)}\b.*:", doc, re.M)]  # fmt: skip
        if missing:
            out[qual] = missing
    return out


def toc_entries() -> list[str]:
    return [f"book/api/{m.removeprefix('ccl_lib.').replace('.', '_')}" for _, mods in SECTIONS for m, _ in mods]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="only check that book/api/ is complete and current")
    ap.add_argument("--audit", action="store_true", help="list documented callables with undescribed parameters")
    args = ap.parse_args(argv)
    if args.audit:
        missing = undescribed_parameters()
        per_module: dict[str, int] = {}
        for qual, params in sorted(missing.items()):
            print(f"{qual}: {', '.join(params)}")
            mod = qual.rsplit(".", 1)[0]
            per_module[mod] = per_module.get(mod, 0) + len(params)
        print(f"\n{sum(map(len, missing.values()))} undescribed parameters in {len(missing)} callables")
        return 1 if missing else 0
    pages = build()
    stale = [n for n, text in pages.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
    extra = sorted(p.name for p in OUT.glob("*.md") if p.name not in pages) if OUT.exists() else []
    if args.check:
        if stale or extra:
            print(f"api_pages: stale or missing {stale}, unexpected {extra}; run: python tools/api_pages.py")
            return 1
        print(f"api_pages: {len(pages)} pages current")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for n in stale:
        tmp = OUT / f".{n}.tmp"
        tmp.write_text(pages[n])
        tmp.replace(OUT / n)
    for n in extra:
        (OUT / n).unlink()
    print(f"api_pages: wrote {len(stale)} of {len(pages)} pages, removed {len(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
