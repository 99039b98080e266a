"""ccl_lib.parameters: the papermill contract of every chapter.

* the schema's names and defaults equal each chapter's ``parameters`` cell (they cannot drift);
* each kind of bad value stops with the one line ``parameter <name>: <value> is not <allowed>``
  (expected messages written out here);
* for every chapter, papermill runs its parameters cell plus the validation call with one bad value
  and stops in the validation cell with that line, compactly (no library traceback).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ccl_lib import parameters as P

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def test_every_chapter_is_declared():
    assert sorted(P.CHAPTERS) == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_schema_equals_the_parameters_cell(chapter):
    cell = P.read_parameters_cell(ROOT / "notebooks" / f"{chapter}.py")
    declared = P.CHAPTERS[chapter].parameters
    assert [n for n, _, _ in cell] == list(declared), f"{chapter}: names or order differ from the parameters cell"
    for name, default, comment in cell:
        p = declared[name]
        assert default == p.default and type(default) is type(p.default), (
            f"{chapter}.{name}: {default!r} != {p.default!r}"
        )
        assert comment or p.meaning, f"{chapter}.{name}: neither a comment in the cell nor a meaning in the schema"
    defaults = {n: d for n, d, _ in cell}
    assert P.check_parameters(chapter, defaults) == defaults  # the defaults pass, unchanged


def test_parse_parameters_cell_reads_names_defaults_and_comments():
    src = "# first line\n# second line\na = 1\nb = [0.1, 2]\n# about c\nc = None\nd: str = 'x'\n"
    assert P.parse_parameters_cell(src) == [
        ("a", 1, "first line second line"),
        ("b", [0.1, 2], ""),
        ("c", None, "about c"),
        ("d", "x", ""),
    ]
    with pytest.raises(ValueError, match="plain `name = literal`"):
        P.parse_parameters_cell("import os\n")


def _defaults(chapter):
    return {n: p.default for n, p in P.CHAPTERS[chapter].parameters.items()}


BAD = [
    ("03_anatomy_of_ccl", "alphas", "[-1, 0.5]", "parameter alphas: -1 is not in [0, 1]"),
    ("01_membership_inference", "epochs", "ten", "parameter epochs: 'ten' is not an integer >= 1"),
    ("05_alpha_ablation", "seeds", "[]", "parameter seeds: '[]' is not a non-empty list of integers >= 0"),
    ("05_alpha_ablation", "part_size", 0, "parameter part_size: 0 is not an integer >= 1 or None"),
    ("07_privacy_utility", "grid", "full", "parameter grid: 'full' is not one of 'cpu', 'paper'"),
    ("07_privacy_utility", "workers", 0, "parameter workers: 0 is not an integer >= 1 or 'auto'"),
    ("10_strong_attacks", "rmia_a", 2, "parameter rmia_a: 2 is not 'tune' or a number in [0, 1]"),
    ("01_membership_inference", "milestones", "[20, 10]",
     "parameter milestones: '[20, 10]' is not a list of increasing epochs >= 1, e.g. [50, 100]"),
    ("02_theory", "dirichlet_mu", "[0.5, 0.2]",
     "parameter dirichlet_mu: [0.5, 0.2] is not a probability vector: its entries sum to 0.7, not 1"),
    ("05_alpha_ablation", "augment", True, "parameter augment: True is not possible with the tabular data set "
     "'location' (dataset): crop and flip need images; use False"),
    ("09_appendix_d_focal", "milestones", "[10, 40]",
     "parameter milestones: [10, 40] is not a list of epochs below epochs = 30 (drop [40])"),
    ("11_privacy_source", "design", "big", "parameter design: 'big' is not one of 'ci', 'full'"),
]  # fmt: skip


@pytest.mark.parametrize("chapter,name,value,message", BAD, ids=[f"{c[:2]}-{n}" for c, n, _, _ in BAD])
def test_a_bad_value_stops_with_one_line(chapter, name, value, message):
    ns = {**_defaults(chapter), name: value}
    with pytest.raises(P.ParameterError) as info:
        P.check_parameters(chapter, ns)
    assert str(info.value) == message
    assert info.value._render_traceback_() == [f"ParameterError: {message}"]


def test_unknown_names_list_what_the_library_knows():
    ns = {**_defaults("05_alpha_ablation"), "dataset": "mnist"}
    with pytest.raises(
        P.ParameterError, match=r"^parameter dataset: 'mnist' is not a data set of ccl_lib.data: one of "
    ) as e:
        P.check_parameters("05_alpha_ablation", ns)
    assert "'location'" in str(e.value) and "'cifar10-jpeg'" in str(e.value) and "\n" not in str(e.value)
    ns = {**_defaults("04_figure1_loss_variance"), "image_experiment": "cifar11"}
    with pytest.raises(P.ParameterError, match="'cifar11' is not a named experiment: one of .*'cifar10-cpu'"):
        P.check_parameters("04_figure1_loss_variance", ns)
    ns = {**_defaults("08_table1_p1"), "datasets": '["location", "foo"]'}
    with pytest.raises(P.ParameterError, match="^parameter datasets: 'foo' is not a data set"):
        P.check_parameters("08_table1_p1", ns)
    ns = {**_defaults("10_strong_attacks"), "tabular": "", "image_experiment": ""}
    with pytest.raises(P.ParameterError, match="nothing to run"):
        P.check_parameters("10_strong_attacks", ns)
    with pytest.raises(ValueError, match="unknown chapter 'nope'"):
        P.check_parameters("nope", {})
    with pytest.raises(P.ParameterError, match="parameter alphas: missing"):
        P.check_parameters("03_anatomy_of_ccl", {})


def test_papermill_text_is_parsed():
    ns = {**_defaults("05_alpha_ablation"), "dataset": "texas", "seeds": "[3, 4]", "alphas": 1, "part_size": None}
    out = P.check_parameters("05_alpha_ablation", ns)
    assert out["dataset"] == "texas100" and out["seeds"] == [3, 4] and out["alphas"] == [1.0]
    assert out["part_size"] is None
    out = P.check_parameters("10_strong_attacks", {**_defaults("10_strong_attacks"), "image_set": '{"epochs": 5}'})
    assert out["image_set"] == {"epochs": 5}


def test_every_chapter_that_runs_a_sweep_has_the_evidence_parameter():
    """Chapters that call run_runs declare evidence ("ledger" or "compute") and pass it on."""
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    sweeps = sorted(p.stem for p in notebooks.glob("[0-9]*.py") if "run_runs(" in p.read_text())
    assert sweeps, "no chapter calls run_runs"
    for chapter in sweeps:
        assert P.CHAPTERS[chapter].parameters["evidence"].default == "ledger", chapter
        assert "evidence=evidence" in (notebooks / f"{chapter}.py").read_text(), chapter
        ns = {**_defaults(chapter), "evidence": "compute"}
        assert P.check_parameters(chapter, ns)["evidence"] == "compute"
        with pytest.raises(P.ParameterError, match="^parameter evidence: 'cache' is not one of 'ledger', 'compute'$"):
            P.check_parameters(chapter, {**ns, "evidence": "cache"})


# One bad value per chapter, run through papermill: the chapter's own parameters cell, the injected
# value, and the validation call that every chapter makes right after its parameters cell.
PAPERMILL_BAD = {
    "01_membership_inference": ("dataset", "cifar10", "parameter dataset: 'cifar10' is not a tabular data set: one of"),
    "02_theory": ("fixed_mean", 1.5, "parameter fixed_mean: 1.5 is not in (0, 1)"),
    "03_anatomy_of_ccl": ("alphas", "[-1, 0.5]", "parameter alphas: -1 is not in [0, 1]"),
    "04_figure1_loss_variance": ("image_seeds", "[]", "parameter image_seeds: '[]' is not a non-empty list"),
    "05_alpha_ablation": ("augment", True, "parameter augment: True is not possible with the tabular data set"),
    "06_convergence": ("lr", -0.1, "parameter lr: -0.1 is not a number > 0"),
    "07_privacy_utility": ("settings_per_baseline", 3, "parameter settings_per_baseline: 3 is not one of 1, 2"),
    "08_table1_p1": ("seeds", "[]", "parameter seeds: '[]' is not a non-empty list of integers >= 0"),
    "09_appendix_d_focal": ("concave", "cubic", "parameter concave: 'cubic' is not one of 'exp', 'quadratic'"),
    "10_strong_attacks": ("attacker", "oracle", "parameter attacker: 'oracle' is not one of 'matched', 'mismatched'"),
    "11_privacy_source": ("tabular_epochs", 0, "parameter tabular_epochs: 0 is not an integer >= 1"),
    "12_code_vs_text": ("workers", 0, "parameter workers: 0 is not"),
    "99_scorecard": ("scorecard_dir", 3, "parameter scorecard_dir: 3 is not None or a string"),
}


def test_every_chapter_has_a_papermill_case():
    assert sorted(PAPERMILL_BAD) == CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_papermill_stops_in_the_validation_cell(chapter, tmp_path):
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    jupytext = pytest.importorskip("jupytext")
    cells = [c for c in jupytext.read(ROOT / "notebooks" / f"{chapter}.py").cells]
    params = next(c for c in cells if "parameters" in c.metadata.get("tags", []))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(params.source, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "from ccl_lib.parameters import check_parameters\n\n"
            f"globals().update(check_parameters({chapter!r}, globals()))"
        ),
        nbformat.v4.new_code_cell("print('RAN PAST THE CHECK')"),
    ]
    src, out = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    name, value, message = PAPERMILL_BAD[chapter]
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(src), str(out), parameters={name: value}, kernel_name="python3", progress_bar=False
        )
    err = info.value
    assert err.ename == "ParameterError" and err.evalue.startswith(message), err.evalue
    assert "\n" not in err.evalue
    assert len(err.traceback) == 1, err.traceback  # one line, no library frames
    executed = nbformat.read(out, 4)
    # papermill's injected cell sits between the parameters cell and the validation cell (index 2)
    code = [c for c in executed.cells if c.cell_type == "code"]  # papermill adds markdown cells naming the error
    # papermill's injected cell sits between the parameters cell and the validation cell
    assert [c.metadata.get("tags", []) for c in code][:2] == [["parameters"], ["injected-parameters"]]
    errors = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert errors == [2]
    assert code[3].get("execution_count") is None  # nothing after the check ran
