"""The course kit of issue 22: exercise marks, the docs' numbers, the student edition, the slides.

* every ``{exercise}`` of the chapters starts with its size and the chapters it needs;
* no doc states a CIFAR-10 size per part or a Python version that the configs contradict;
* the student edition's config hides solutions and changes nothing else;
* the slide plans name sections the chapters have, and become reveal.js slides with no network resource.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------- exercise marks
#: The first line of every exercise: ``**Size:** in class (15 min). **Needs:** chapters 1, 5.``
MARK = re.compile(
    r"^\*\*Size:\*\* (in class|homework|project)( \([^)]+\))?\. "
    r"\*\*Needs:\*\* (nothing|this chapter|chapters? \d+([,-]| and |\d| )*( and this one)?)\.(\s|$)"
)
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}[^\n]*\n(.*?)^\1\s*$", re.S | re.M)


def exercises_without_marks(markdown: str) -> list[str]:
    """The labels (or first words) of the exercises in ``markdown`` whose first line lacks the mark."""
    bad = []
    for m in EXERCISE.finditer(markdown):
        lines = [line for line in m.group(2).splitlines() if line.strip()]
        label = next((line.split(":", 2)[2].strip() for line in lines if line.startswith(":label:")), "?")
        body = [line for line in lines if not re.match(r"^:[\w-]+:", line)]
        if not body or not MARK.match(body[0].strip()):
            bad.append(label)
    return bad


def _chapter_markdown(path: Path) -> str:
    """The markdown of a py:percent chapter (its ``# `` comment prefixes removed)."""
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in path.read_text().splitlines())


def test_the_mark_checker_on_examples():
    good = "```{exercise}\n:label: a\n\n**Size:** in class (15 min). **Needs:** chapters 1, 5.\n\nDo it.\n```\n"
    good2 = "```{exercise}\n:label: b\n**Size:** project. **Needs:** this chapter.\ntext\n```\n"
    good3 = "```{exercise}\n:label: c\n**Size:** homework (1 h). **Needs:** chapter 2 and this one. More.\n```\n"
    missing = "```{exercise}\n:label: d\n\n**The oracle's bias.** Build data.\n```\n"
    wrong_size = "```{exercise}\n:label: e\n**Size:** weekend. **Needs:** nothing.\n```\n"
    no_needs = "```{exercise}\n:label: f\n**Size:** in class (10 min).\n```\n"
    assert exercises_without_marks(good + good2 + good3) == []
    assert exercises_without_marks(good + missing + wrong_size + no_needs) == ["d", "e", "f"]


def _unmarked() -> dict[str, list[str]]:
    return {p.stem: bad for p in NOTEBOOKS if (bad := exercises_without_marks(_chapter_markdown(p)))}


def test_chapters_have_exercises():
    counts = {p.stem: len(EXERCISE.findall(_chapter_markdown(p))) for p in NOTEBOOKS}
    assert sum(counts.values()) >= 30 and all(n >= 2 for s, n in counts.items() if not s.startswith("99"))


def test_every_exercise_is_marked_with_its_size_and_needs():
    unmarked = _unmarked()
    n = sum(len(v) for v in unmarked.values())
    assert not unmarked, f"{n} exercises lack '**Size:** ... **Needs:** ...' as their first line: {unmarked}"


def needed_chapters(mark: str) -> list[int]:
    """The chapter numbers a mark's ``**Needs:**`` names (``this chapter`` / ``this one`` not counted)."""
    needs = mark.split("**Needs:**", 1)[1].split(".", 1)[0]
    return [int(n) for n in re.findall(r"\d+", needs)]


def test_needed_chapters_on_examples():
    assert needed_chapters("**Size:** homework (1 h). **Needs:** chapters 2, 3 and this one.") == [2, 3]
    assert needed_chapters("**Size:** in class (15 min). **Needs:** this chapter.") == []
    assert needed_chapters("**Size:** project (2 GPU-days). **Needs:** chapter 10.") == [10]


def test_exercises_need_existing_earlier_chapters():
    """A mark names chapters that exist and come before its own ("this one" names its own chapter)."""
    wrong = []
    for p in NOTEBOOKS:
        own = int(p.stem[:2])
        for m in EXERCISE.finditer(_chapter_markdown(p)):
            mark = next(line.strip() for line in m.group(2).splitlines() if line.startswith("**Size:**"))
            wrong += [f"{p.stem}: {mark!r} names chapter {n}" for n in needed_chapters(mark) if not 1 <= n < own]
    assert not wrong, wrong


# ---------------------------------------------------------------------------------------- docs' numbers
DOCS = [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]
CIFAR_PER_PART = re.compile(r"([\d,]+)[- ](?:CIFAR-10 )?(?:image|JPEG)s?[- ](?:per[- ]part|of CIFAR)", re.I)
PYTHON_MIN = re.compile(r"Python (3\.\d+) or newer")


def stated_cifar_sizes(text: str) -> list[int]:
    """Sizes per part a text states for the CPU image regime ("500 CIFAR-10 JPEGs per part")."""
    return [int(m.group(1).replace(",", "")) for m in CIFAR_PER_PART.finditer(text)]


def test_the_size_finder_on_examples():
    assert stated_cifar_sizes("a 1,000-image-per-part slice of CIFAR-10") == [1000]
    assert stated_cifar_sizes("a ResNet-8 on 500 CIFAR-10 JPEGs per part that") == [500]
    assert stated_cifar_sizes("Python 3.11; 15,000 per part") == []


def test_docs_state_the_sizes_and_python_of_the_config():
    import json

    cpu = json.loads((ROOT / "ccl_lib" / "configs" / "experiments" / "cifar10-cpu.json").read_text())
    facts = _tool("docs_facts")
    low, _ = facts.python_versions()
    wrong = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        wrong += [f"{doc.name}: {n} images per part (cifar10-cpu: {cpu['size']})" for n in stated_cifar_sizes(text)
                  if n != cpu["size"]]  # fmt: skip
        wrong += [f"{doc.name}: Python {v} or newer (pyproject: {low})" for v in PYTHON_MIN.findall(text) if v != low]
    assert not wrong, wrong


def test_quickstart_facts_come_from_the_config():
    facts = _tool("docs_facts")
    text = facts.fragment()
    import json

    cpu = json.loads((ROOT / "ccl_lib" / "configs" / "experiments" / "cifar10-cpu.json").read_text())
    row = next(line for line in text.splitlines() if "`cifar10-cpu`" in line)
    assert f"| {cpu['size']:,} | {cpu['epochs']} |" in row and cpu["model"] in row
    assert "Python 3.10 or newer" in text  # pyproject.toml: requires-python = ">=3.10"
    assert re.search(r"\| Location .*\| 1,000 \| 30 \| 1, 4-9, 11 \|", text)


TIMINGS = re.compile(r"<!-- timings-start -->(.*?)<!-- timings-end -->", re.S)
WORDS = {"ten": 10, "fifteen": 15, "twenty": 20, "twenty-five": 25, "thirty": 30, "forty": 40, "sixty": 60}


def timing_table(readme: str) -> tuple[str, dict[str, tuple[float, bool]]]:
    """The README's committed timing block: its text above the table, and ``{step: (seconds, approximate)}``."""
    m = TIMINGS.search(readme)
    assert m, "README.md has no <!-- timings-start --> ... <!-- timings-end --> block"
    head, rows = m.group(1).split("| step |")[0], {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        num = re.match(r"^(about )?([\d,]+)", cells[-1]) if len(cells) == 2 else None
        if num:
            rows[cells[0]] = (float(num.group(2).replace(",", "")), bool(num.group(1)))
    return head, rows


def test_timing_table_on_an_example():
    text = "<!-- timings-start -->\nRun of 2026-01-02, a 4-core machine:\n\n| step | time (s) |\n| --- | ---: |\n"
    text += "| a | 10 |\n| b | about 20 |\n| total | 1,030 (about 17 min) |\n<!-- timings-end -->"
    head, rows = timing_table(text)
    assert "2026-01-02" in head and rows == {"a": (10, False), "b": (20, True), "total": (1030, False)}


def test_committed_timings_are_dated_add_up_and_agree_with_the_prose():
    """The README's timing table (the quick-start shows it) says when and on what it was measured, its
    total is the sum of its rows (an "about" row within half its value), and the docs' "about twenty
    minutes" / "chapters 1-3 ... under a minute" agree with it."""
    head, rows = timing_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", head) and re.search(r"\d+-core|GPU|CPU", head), head
    total, _ = rows.pop("total")
    exact = sum(v for v, about in rows.values() if not about)
    approx = sum(v for v, about in rows.values() if about)
    assert abs(total - exact - approx) <= 0.5 * approx + 1, (total, exact, approx)
    first = [v for step, (v, _) in rows.items() if re.match(r"^[123]\. ", step)]
    assert len(first) == 3
    claims = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for word in re.findall(r"whole book (?:builds in|takes) about ([\w-]+) minutes", text):
            assert abs(WORDS[word] * 60 - total) <= 0.25 * total, f"{doc.name}: about {word} minutes, table: {total} s"
            claims += 1
        if re.search(r"Chapters 1-3 run in under a minute", text):
            assert sum(first) < 60, f"{doc.name}: chapters 1-3 under a minute, table: {first}"
            claims += 1
    assert claims >= 3  # quick-start and course page: the whole book; course page: chapters 1-3


# ---------------------------------------------------------------------------------------- student edition
def test_student_config_hides_solutions_only():
    import yaml

    tool = _tool("student_config")
    full = yaml.safe_load((ROOT / "_config.yml").read_text())
    student = tool.student_config(full)
    assert student["sphinx"]["config"]["hide_solutions"] is True
    assert "hide_solutions" not in full["sphinx"]["config"]  # the input is unchanged: `make book` stays full
    assert student["title"] == full["title"] + " (student edition)"
    rest = {k: v for k, v in student["sphinx"]["config"].items() if k != "hide_solutions"}
    assert rest == full["sphinx"]["config"] and student["execute"] == full["execute"]
    with pytest.raises(ValueError, match="sphinx_exercise"):
        tool.student_config({"sphinx": {"extra_extensions": []}})


# ---------------------------------------------------------------------------------------- slides
PLANS = sorted((ROOT / "book" / "slides").glob("*.yml"))


def test_meetings_1_and_2_have_slide_plans():
    assert [p.stem for p in PLANS][:2] == ["meeting1", "meeting2"]


@pytest.mark.parametrize("plan", PLANS, ids=[p.stem for p in PLANS])
def test_slide_plan_builds_from_the_sources(plan, tmp_path):
    pytest.importorskip("jupytext")
    slides = _tool("slides")
    nb = slides.build_notebook(slides.load_plan(plan), tmp_path / "no-executed-copies", ROOT / "notebooks")
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    n_plan = len(slides.load_plan(plan)["slides"])
    assert kinds.count("slide") == n_plan  # one slide per plan entry
    text = "\n".join(c.source for c in nb.cells)
    assert "{glue" not in text and "{exercise}" not in text and "{solution" not in text


def test_slides_fill_in_glued_values_as_the_book_does(tmp_path):
    """A chapter's glued values (myst-nb's hidden ``application/papermill.record/`` outputs) appear in the
    slide text, formatted like ``{glue:text}`name:.2f` `` in the book; the hidden outputs themselves are dropped."""
    import nbformat

    slides = _tool("slides")

    def record(name: str, text: str):
        prefix = "application/papermill.record/"
        return nbformat.v4.new_output(
            "display_data",
            data={prefix + "text/plain": text},
            metadata={"scrapbook": {"name": name, "mime_prefix": prefix}},
        )

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 1. Fake\n\n## Results"),
        nbformat.v4.new_code_cell("glue(...)", outputs=[record("acc", "0.73125"), record("word", "'agrees'")]),
        nbformat.v4.new_markdown_cell(
            "Accuracy {glue:text}`acc:.2f` ({glue:text}`acc:.1%`), {glue:text}`word`, {glue:text}`nope`."
        ),
    ]
    generated = tmp_path / "generated"
    generated.mkdir()
    nbformat.write(nb, generated / "01_fake.ipynb")
    plan = {"title": "t", "slides": [{"chapter": "01_fake", "section": "Results"}]}
    built = slides.build_notebook(plan, generated, tmp_path / "no-sources")
    assert [c.source for c in built.cells] == ["## Results", "Accuracy 0.73 (73.1%), agrees, …."]
    assert all(c.cell_type == "markdown" for c in built.cells)  # the glue cell showed nothing: left out


def test_long_markdown_is_cut_at_blank_lines_into_slides_that_fit():
    slides = _tool("slides")
    paragraph = "word " * 79 + "end"  # 400 characters: 5 lines of 80
    math = "$$\na = b\n\nc = d\n$$"  # a blank line inside display math: not a place to cut
    code = "```python\nx = 1\n\ny = 2\n```"
    text = "\n\n".join(["# Title", paragraph, math, paragraph, code, paragraph, paragraph, "- one\n- two"])
    chunks = slides.slide_chunks(text, max_lines=13)
    assert "\n\n".join(chunks) == text  # nothing lost, nothing reordered
    assert math in "".join(chunks) and code in "".join(chunks)
    assert all(slides.text_lines(c) <= 13 + 1 for c in chunks) and len(chunks) > 1
    assert slides.text_lines(paragraph) == 5 + 1 and slides.text_lines("# Title") == 2 + 1
    assert slides.text_lines("- one\n- two") == 2 + 1  # list items start lines
    assert slides.slide_chunks("short") == ["short"]


def test_citations_on_slides(tmp_path):
    slides = _tool("slides")
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@inproceedings{a2017,\n  title={T},\n  author={Shokri, Reza and Stronati, Marco and Song, C.},\n"
        "  year={2017}\n}\n@article{b2021,\n  author={Song, Liwei and Mittal, Prateek},\n  year={2021}\n}\n"
        "@misc{c,\n  author={Ada Lovelace},\n  year={1843}\n}\n"
    )
    refs = slides.bibliography(bib)
    assert refs == {"a2017": (["Shokri", "Stronati", "Song"], "2017"), "b2021": (["Song", "Mittal"], "2021"),
                    "c": (["Lovelace"], "1843")}  # fmt: skip
    text = "{cite:t}`a2017` and {cite}`b2021,c`; {cite}`missing`; see {doc}`../glossary`."
    assert slides.plain_markdown(text, {}, refs) == (
        "Shokri et al. (2017) and (Song and Mittal, 2021; Lovelace, 1843); (missing); see glossary."
    )


def _deck_check(tmp_path, nb):
    """Render ``nb`` as a deck next to reveal.js and MathJax and run the page check on it."""
    mathjax = ROOT / ".cache" / "mathjax" / "static" / "mathjax"
    reveal = ROOT / ".cache" / "revealjs" / "reveal.js"
    if not (mathjax.is_dir() and reveal.is_dir() and shutil.which("chromium")):
        pytest.skip("reveal.js, MathJax (make revealjs mathjax) or chromium missing")
    pytest.importorskip("nbconvert")
    slides = _tool("slides")
    out = tmp_path / "deck"
    shutil.copytree(reveal / "dist", out / "reveal.js" / "dist")
    shutil.copytree(reveal / "plugin", out / "reveal.js" / "plugin")
    shutil.copytree(mathjax, out / "mathjax")
    slides.render(nb, out / "deck.html")
    spec = importlib.util.spec_from_file_location("check_pages", ROOT / ".ci" / "check_pages.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.check_site(out, budget_ms=8000, timeout_s=90)["deck.html"]


def test_page_check_of_a_deck_fails_a_slide_that_is_cut_off_and_only_it(tmp_path):
    """Each slide is checked when shown: a slide taller than reveal.js's 700 px fails; a figure on a later
    slide (off-screen until then) does not."""
    import base64
    import io

    import nbformat
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (600, 300), "white").save(png, format="PNG")
    figure = nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png.getvalue()).decode()})
    cells = [
        nbformat.v4.new_markdown_cell("# Fits\n\nOne line, and $p_y$ typeset."),
        nbformat.v4.new_code_cell("", outputs=[figure]),
        nbformat.v4.new_markdown_cell("# Too long\n\n" + "\n\n".join(f"Paragraph {i}." for i in range(40))),
    ]
    for c in cells:
        c.metadata["slideshow"] = {"slide_type": "slide"}
        c.metadata["tags"] = ["remove-input"] if c.cell_type == "code" else []
    nb = nbformat.v4.new_notebook(cells=cells)
    result = _deck_check(tmp_path, nb)
    assert result["slides"] == 3
    assert [(e["kind"], e["msg"].split(" is ")[0]) for e in result["errors"]] == [("overflow", "slide 3 (Too long)")]


def test_slides_render_offline(tmp_path):
    pytest.importorskip("nbconvert")
    mathjax = ROOT / ".cache" / "mathjax" / "static" / "mathjax"
    reveal = ROOT / ".cache" / "revealjs" / "reveal.js"
    if not (mathjax.is_dir() and reveal.is_dir()):
        pytest.skip("reveal.js or MathJax not fetched (make revealjs mathjax)")
    slides = _tool("slides")
    out = tmp_path / "slides"
    assert slides.main([str(PLANS[0]), "-o", str(out), "--reveal", str(reveal), "--mathjax", str(mathjax)]) == 0
    html = (out / "meeting1.html").read_text()
    assert 'src="reveal.js/dist/reveal.js"' in html and 'src="mathjax/tex-chtml.js"' in html
    assert not re.findall(r"""(?:src|href)=["']https?://""", html)
    assert (out / "reveal.js" / "dist" / "reveal.css").exists() and not (out / "reveal.js" / "demo.html").exists()
    if shutil.which("chromium"):
        spec = importlib.util.spec_from_file_location("check_pages", ROOT / ".ci" / "check_pages.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        results = mod.check_site(out, budget_ms=8000, timeout_s=90)
        assert {k: v["errors"] for k, v in results.items() if v["errors"]} == {}
