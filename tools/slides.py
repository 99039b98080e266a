#!/usr/bin/env python3
"""Reveal.js slides for a course meeting, made from the book's chapters (``make slides``).

Usage::

    python tools/slides.py book/slides/meeting1.yml -o _build/slides [--reveal .cache/revealjs/reveal.js]
        [--mathjax .cache/mathjax/static/mathjax]

A slide plan (YAML) names the sections of the chapters a meeting uses, in order::

    title: "Meeting 1: what membership inference is"
    slides:
      - text: "# Meeting 1\\n\\nRead before: chapter 1"     # a slide written in the plan
      - chapter: 01_membership_inference
        section: "The loss attack"     # a markdown heading (its text, or the start of it)
        cells: 3                       # optional: at most this many cells of the section
        code: false                    # optional: show code inputs too (default: outputs only)

Each section becomes one slide: its heading cell starts it (``slide``), and the rest follows as
vertical sub-slides (``subslide``): a markdown cell cut at blank lines where it would overflow the
slide (:func:`slide_chunks`), and each output of a code cell on its own.  Cells come from the
executed chapter (``book/generated/NAME.ipynb``, outputs included) where it exists, else from the
source (``notebooks/NAME.py``, no outputs).  Cells tagged ``remove-cell`` are left out, glued
values (myst-nb ``{glue:text}`name```) are filled in from the executed chapter as the book shows
them, citations are written "Author et al. (year)" from ``book/references.bib``, and the other
MyST roles are shown as their text.  ``make check-book`` opens every slide in Chromium and fails one
that is cut off.  ``jupyter nbconvert --to slides`` (nbconvert's
``SlidesExporter``) renders the notebook with the template in ``tools/slides_template``, which
loads reveal.js and MathJax from the folder next to the slides, so they work offline.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().with_name("slides_template")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
ROLE = re.compile(r"\{(?P<role>[\w:.-]+)\}`(?P<text>[^`]*)`")
MATH_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{math\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)(.*?)^\1\s*$", re.S | re.M)
DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{[^}]+\}.*?^\1\s*$", re.S | re.M)
BIB = ROOT / "book" / "references.bib"
#: What fits on one slide (reveal.js's 960 x 700 px, white theme): about this many lines of this many
#: characters; a longer markdown cell is cut, at blank lines, into several vertical slides.
SLIDE_LINES, LINE_CHARS = 19, 80


def load_plan(path: Path) -> dict[str, Any]:
    """The plan of ``path``, checked: a title and a non-empty list of slides."""
    import yaml

    plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(plan, dict) or not isinstance(plan.get("title"), str):
        raise SystemExit(f"{path}: a slide plan needs a 'title' (text) and 'slides' (a list)")
    slides = plan.get("slides")
    if not isinstance(slides, list) or not slides:
        raise SystemExit(f"{path}: 'slides' must be a non-empty list")
    for i, s in enumerate(slides):
        if not isinstance(s, dict) or not (("text" in s) ^ ("chapter" in s and "section" in s)):
            raise SystemExit(f"{path}: slide {i + 1} needs either 'text' or 'chapter' and 'section', got {s!r}")
        if "cells" in s and (not isinstance(s["cells"], int) or s["cells"] < 1):
            raise SystemExit(f"{path}: slide {i + 1}: 'cells' must be a positive integer, got {s['cells']!r}")
    return plan


def chapter_cells(chapter: str, generated: Path, notebooks: Path) -> list:
    """The cells of a chapter: the executed copy if there is one, else the source."""
    import jupytext
    import nbformat

    executed = generated / f"{chapter}.ipynb"
    if executed.exists():
        return list(nbformat.read(executed, 4).cells)
    source = notebooks / f"{chapter}.py"
    if not source.exists():
        raise SystemExit(f"no chapter {chapter!r}: neither {executed} nor {source} exists")
    return list(jupytext.read(source).cells)


def glued(cells: list) -> dict[str, str]:
    """``{name: text}`` of the values a chapter glued: myst-nb's ``glue`` names an output in its
    ``scrapbook`` metadata and stores the value's ``text/plain`` under the mime prefix it gives there
    (``application/papermill.record/text/plain``; plain ``text/plain`` when the value is displayed)."""
    out: dict[str, str] = {}
    for c in cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            book = (o.get("metadata") or {}).get("scrapbook") or {}
            data = o.get("data", {})
            for key in (book.get("mime_prefix", "") + "text/plain", "text/plain"):
                if book.get("name") and key in data:
                    out[book["name"]] = str(data[key])
                    break
    return out


def glue_text(values: dict[str, str], ref: str) -> str:
    """The text of ``{glue:text}`NAME` `` or ``{glue:text}`NAME:FORMAT` ``, formatted by myst-nb's own
    function (as in the book); ``…`` for a value the chapter did not glue or that cannot take FORMAT."""
    from myst_nb.core.variables import format_plain_text

    name, _, fmt = ref.partition(":")
    if name not in values:
        return "…"
    try:
        return format_plain_text(values[name], fmt)
    except (TypeError, ValueError):
        return "…"


def is_glue_record(output: Any) -> bool:
    """True for a glued value's hidden output (``glue(..., display=False)``): it shows nothing."""
    data = output.get("data", {})
    return bool(data) and all(k.startswith("application/papermill.record/") for k in data)


def bibliography(path: Path = BIB) -> dict[str, tuple[list[str], str]]:
    """``{key: (last names of the authors, year)}`` of a BibTeX file (the book's ``references.bib``)."""
    out = {}
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", path.read_text(encoding="utf-8"), re.S):
        fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\}\s*,?\s*$", m.group(2), re.M))
        authors = [
            a.split(",")[0].strip() if "," in a else a.split()[-1] for a in fields.get("author", "?").split(" and ")
        ]
        out[m.group(1)] = (authors, fields.get("year", "n.d."))
    return out


def cite(keys: str, textual: bool, bib: Optional[dict[str, tuple[list[str], str]]] = None) -> str:
    """``{cite:t}`k` `` as "Shokri et al. (2017)", ``{cite}`k1,k2` `` as "(Shokri et al., 2017; Song and
    Mittal, 2021)", from :func:`bibliography`; a key the file lacks is shown as it is."""
    bib = bibliography() if bib is None else bib
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bib:
            parts.append(key)
            continue
        names, year = bib[key]
        who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
        parts.append(f"{who} ({year})" if textual else f"{who}, {year}")
    return "; ".join(parts) if textual else "(" + "; ".join(parts) + ")"


def plain_markdown(text: str, values: dict[str, str], bib: Optional[dict[str, tuple[list[str], str]]] = None) -> str:
    """Markdown that nbconvert renders: glue roles filled in, citations as "Author et al. (year)" (``bib``:
    :func:`bibliography` by default), other MyST roles as their text, ``{math}`` blocks as ``$$ ... $$``,
    other directive blocks (exercises, solutions, dropdowns) left out."""

    def role(m: re.Match) -> str:
        r, t = m.group("role"), m.group("text")
        if r.startswith("glue"):
            return glue_text(values, t)
        if r in ("math",):
            return f"${t}$"
        if r.startswith("cite"):
            return cite(t, textual=r in ("cite:t", "cite:ts"), bib=bib)
        if r == "doc" and "<" not in t:  # {doc}`../glossary` -> glossary
            return t.rstrip("/").rsplit("/", 1)[-1].replace("_", " ")
        t = re.sub(r"\s*<[^>]*>$", "", t)  # {doc}`title <target>` -> title
        return f"`{t.lstrip('~').split('.')[-1]}`" if r in ("func", "class", "mod", "meth", "attr") else t

    text = MATH_DIRECTIVE.sub(lambda m: "$$\n" + m.group(3).strip() + "\n$$", text)
    return ROLE.sub(role, DIRECTIVE.sub("", text))


def text_lines(block: str) -> int:
    """About how many lines of a slide a markdown block takes: its paragraphs and list items wrapped at
    :data:`LINE_CHARS`, a heading as two, and one line of space after it."""
    lines, current = 0, ""
    for line in block.splitlines() + [""]:
        starts = not line.strip() or re.match(r"^\s*([-*+]|\d+\.)\s|^#|^\$\$", line)
        if starts and current:
            lines += 2 if current.startswith("#") else -(-len(current) // LINE_CHARS)
            current = ""
        current = (current + " " + line.strip()).strip()
    return lines + 1


def slide_chunks(text: str, max_lines: int = SLIDE_LINES) -> list[str]:
    """``text`` cut at blank lines (never inside a ``$$`` or fenced block) into pieces of at most about
    ``max_lines`` lines (:func:`text_lines`); a single longer block stays whole."""
    blocks: list[str] = []
    current: list[str] = []
    fence: Optional[str] = None  # inside display math ($$) or a fenced block (``` or ~~~)
    for line in text.splitlines():
        st = line.strip()
        if fence in (None, "$$") and st.count("$$") % 2:
            fence = None if fence else "$$"
        elif fence != "$$" and st[:3] in ("```", "~~~") and fence in (None, st[:3]):
            fence = None if fence else st[:3]
        if not st and fence is None:
            if current:
                blocks.append("\n".join(current))
            current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    chunks: list[list[str]] = []
    used = max_lines
    for block in blocks:
        n = text_lines(block)
        if used + n > max_lines:
            chunks.append([])
            used = 0
        chunks[-1].append(block)
        used += n
    return ["\n\n".join(c) for c in chunks]


def split_at_headings(cells: list) -> list:
    """The cells with every markdown cell cut before each of its headings (a chapter's prose
    cell often ends one section and starts the next)."""
    out = []
    for c in cells:
        if c.cell_type != "markdown":
            out.append(c)
            continue
        chunk: list[str] = []
        for line in c.source.splitlines():
            if HEADING.match(line) and any(x.strip() for x in chunk):
                part = c.copy()
                part.source = "\n".join(chunk)
                out.append(part)
                chunk = []
            chunk.append(line)
        part = c.copy()
        part.source = "\n".join(chunk)
        out.append(part)
    return out


def section(cells: list, title: str) -> list:
    """The heading whose text starts with ``title`` and the cells up to the next heading of the
    same or a higher level."""
    cells = split_at_headings(cells)

    def heading(c: Any) -> Optional[re.Match]:
        return HEADING.match(c.source.lstrip().split("\n", 1)[0]) if c.cell_type == "markdown" else None

    for i, c in enumerate(cells):
        m = heading(c)
        if m and m.group(2).strip().startswith(title):
            level = len(m.group(1))
            out = [c]
            for d in cells[i + 1 :]:
                h = heading(d)
                if h and len(h.group(1)) <= level:
                    break
                out.append(d)
            return out
    heads = [m.group(0) for m in map(heading, cells) if m]
    raise SystemExit(f"no section {title!r}; the chapter's headings: {heads}")


def build_notebook(plan: dict[str, Any], generated: Path, notebooks: Path):
    """The slides as one notebook, each cell with its ``slideshow.slide_type``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = plan["title"]
    cache: dict[str, list] = {}
    bib = bibliography() if BIB.exists() else {}
    for s in plan["slides"]:
        if "text" in s:
            nb.cells.append(nbformat.v4.new_markdown_cell(s["text"], metadata={"slideshow": {"slide_type": "slide"}}))
            continue
        ch = s["chapter"]
        if ch not in cache:
            cache[ch] = chapter_cells(ch, generated, notebooks)
        values = glued(cache[ch])
        picked = [c for c in section(cache[ch], s["section"]) if "remove-cell" not in c.metadata.get("tags", [])]
        picked = picked[: s.get("cells", len(picked))]
        cells = []  # one per (vertical) slide: a markdown cell cut where it would overflow, one output each
        for c in picked:
            if c.cell_type == "markdown":
                text = plain_markdown(c.source, values, bib).strip()
                cells += [nbformat.v4.new_markdown_cell(t) for t in slide_chunks(text)] if text else []
            elif c.cell_type == "code":
                outputs = [
                    o
                    for o in c.get("outputs", [])
                    if (o.get("output_type") != "stream" or o.get("name") != "stderr") and not is_glue_record(o)
                ]
                if not outputs and not s.get("code"):
                    continue
                for i, part in enumerate([[o] for o in outputs] or [[]]):
                    cell = nbformat.v4.new_code_cell(c.source if s.get("code") and i == 0 else "", outputs=part)
                    if not (s.get("code") and i == 0):
                        cell.metadata["transient"] = {"remove_source": True}
                        cell.metadata["tags"] = ["remove-input"]
                    cells.append(cell)
        for i, cell in enumerate(cells):
            cell.metadata["slideshow"] = {"slide_type": "subslide" if i else "slide"}
        nb.cells += cells
    return nb


def render(nb, out_html: Path) -> None:
    """``nbconvert --to slides`` with the offline template; reveal.js and MathJax are read from
    ``reveal.js/`` and ``mathjax/`` next to the slides."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    cfg = Config()
    cfg.SlidesExporter.reveal_url_prefix = "reveal.js"
    cfg.SlidesExporter.reveal_theme = "white"
    cfg.SlidesExporter.mathjax_url = "mathjax/tex-chtml.js"
    cfg.SlidesExporter.exclude_input_prompt = True  # no "In [ ]:" / "Out[ ]:" beside the cells
    cfg.SlidesExporter.exclude_output_prompt = True
    cfg.TagRemovePreprocessor.enabled = True
    cfg.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    exporter = SlidesExporter(config=cfg, extra_template_basedirs=[str(TEMPLATE.parent)], template_name=TEMPLATE.name)
    body, _ = exporter.from_notebook_node(nb)
    out_html.write_text(body, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("plans", nargs="+", type=Path, help="slide plans (book/slides/*.yml)")
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "_build" / "slides", help="output folder")
    ap.add_argument(
        "--reveal", type=Path, default=ROOT / ".cache" / "revealjs" / "reveal.js", help="unpacked reveal.js"
    )
    ap.add_argument("--mathjax", type=Path, default=ROOT / ".cache" / "mathjax" / "static" / "mathjax")
    ap.add_argument("--generated", type=Path, default=ROOT / "book" / "generated", help="executed chapters")
    ap.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="chapter sources")
    args = ap.parse_args(argv)
    for folder, what in ((args.reveal, "reveal.js (make revealjs)"), (args.mathjax, "MathJax (make mathjax)")):
        if not folder.is_dir():
            ap.error(f"{folder} does not exist: fetch {what} first")
    args.out.mkdir(parents=True, exist_ok=True)
    for part in ("dist", "plugin"):  # reveal.js's demo pages load from the network: not copied
        shutil.copytree(args.reveal / part, args.out / "reveal.js" / part, dirs_exist_ok=True)
    shutil.copy(args.reveal / "LICENSE", args.out / "reveal.js" / "LICENSE")
    shutil.copytree(args.mathjax, args.out / "mathjax", dirs_exist_ok=True)
    links = []
    for plan_path in args.plans:
        plan = load_plan(plan_path)
        nb = build_notebook(plan, args.generated, args.notebooks)
        out = args.out / f"{plan_path.stem}.html"
        render(nb, out)
        links.append((out.name, plan["title"], sum(c.metadata["slideshow"]["slide_type"] == "slide" for c in nb.cells)))
        print(f"slides: {out} ({links[-1][2]} slides)")
    items = "\n".join(f'<li><a href="{h}">{t}</a> ({n} slides)</li>' for h, t, n in links)
    (args.out / "index.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Course slides</title></head>"
        f"<body><main><h1>Course slides</h1><ul>{items}</ul>"
        "<p>Arrow keys move between slides; <kbd>s</kbd> opens the speaker view.</p></main></body></html>\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
