# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproduction scorecard
#
# One group per item of {cite:t}`liu2024ccl` that the book tests: the theorems and propositions,
# the figures, Table 1, and the paper's worked example (the loss attack's advantage falling from
# 29.67 % to 18.40 %). Each group starts with the item and what the paper claims; each row under it
# gives the verdict first, then the effect with its 95 % interval (a difference between arms paired
# by seed, in the units of the chapter) and the paper's effect where the paper gives one, the number
# of seeds, and whether the row survives the correction for many comparisons. The setting and the
# chapter (a link) are in the smaller line under the verdict, the likely cause of a difference
# from the paper in the "likely cause" fold.
#
# **Nothing in this table is typed by hand.** Each chapter records its rows when it executes
# ({func}`ccl_lib.scorecard.record`), and this page, executed after every chapter, reads them back
# ({func}`ccl_lib.scorecard.load`, every file verified). Rerun a chapter at another scale with the
# papermill command at its top and its rows change with it. An item no chapter recorded reads
# "not run".
#
# **The verdicts** come from one rule ({mod}`ccl_lib.verdicts`), applied to the paired effect's 95 %
# t-interval over at least three seeds:
#
# - **agrees**: the whole interval lies on the paper's side of zero;
# - **opposite**: the whole interval lies on the other side of zero;
# - **smaller than the paper's (at most X)**: the interval holds zero but excludes the paper's
#   effect; X is the interval's end on the paper's side, the largest effect the seeds allow;
# - **inconclusive**: the interval holds both zero and the paper's effect (or zero, where the paper
#   gives no effect). The row then says how many seeds would decide it: the smallest n at which
#   the interval, with the observed mean and spread, would exclude zero or the paper's effect
#   ({func}`ccl_lib.verdicts.seeds_to_decide`; a planning estimate, since the spread of a few seeds is
#   itself uncertain);
# - **not reproduced**: a check that is not an interval over seeds (a theorem's bound on sampled
#   distributions) fails;
# - **lower** / **higher**: the interval lies below / above a value the paper reports (a level, not
#   an effect), or below / above zero where the paper makes no claim about the sign;
# - **1 seed: no interval** (or "2 seeds: a verdict needs 3"): no verdict is drawn.
#
# **Many comparisons.** Every row whose interval is a paired t-interval carries the p-value of its
# t-test of "no effect" ({meth}`ccl_lib.verdicts.SeedInterval.p_value`). With many rows, some would
# exclude zero by chance alone, so the page adjusts the p-values of all of them together with
# Holm's step-down procedure ({func}`ccl_lib.verdicts.holm`), which holds the chance of *any* false
# "the effect is not zero" at 5 % over the whole table. The Holm column says, for each verdict that
# rests on excluding zero, whether it survives the adjustment; the verdict word itself is the
# row's own 95 % interval.
#
# The book's runs are CPU-sized (Location with an MLP, a memorizing CIFAR-10 regime on 500 images per
# part, scikit-learn's digits), so every verdict here is a statement about these settings; the
# "likely cause" names what differs from the paper's.

# %% tags=["parameters"]
# folder of the rows the chapters recorded; None: $CCL_SCORECARD_DIR, else book/generated/scorecard
scorecard_dir = None
# report of `python -m ccl_lib ledger verify` for this build (relative to notebooks/); missing: not checked
verify_report = "../.cache/ledger-verify.json"

# %% tags=["remove-cell"]
from ccl_lib.parameters import check_parameters

globals().update(check_parameters("99_scorecard", globals()))

# %% tags=["remove-input"]
from ccl_lib import book

book.setup()
from IPython.display import HTML, display

from ccl_lib import scorecard
from ccl_lib.analysis.findings import glue_findings

rows = scorecard.load(scorecard_dir)
report = scorecard.read_verify_report(verify_report)
_ = glue_findings("sc", scorecard.page_findings(rows, report))

# %% [markdown]
# This build recorded {glue:text}`sc_n_rows` rows for {glue:text}`sc_n_items` paper items. Rows
# per verdict: *agrees* {glue:text}`sc_n_agrees`; *opposite* {glue:text}`sc_n_opposite`; *smaller
# than the paper's* {glue:text}`sc_n_smaller`; *inconclusive* {glue:text}`sc_n_inconclusive`; *not
# reproduced* {glue:text}`sc_n_not`; below a value of the paper {glue:text}`sc_n_lower`; above one
# {glue:text}`sc_n_higher`; too few seeds for a verdict {glue:text}`sc_n_noverdict`; items not run
# {glue:text}`sc_n_notrun`; excluded (listed below the table) {glue:text}`sc_n_excluded`.
#
# **Comparisons:** the table makes {glue:text}`sc_n_comparisons` comparisons with a p-value;
# {glue:text}`sc_n_rejections` of them exclude zero on their own 95 % interval, and
# {glue:text}`sc_n_survive` of those survive Holm's adjustment at a family-wise error rate of
# {glue:text}`sc_alpha`.
#
# **Evidence ledger:** {glue:text}`sc_verify` (`make ledger-verify` recomputes a sample of the
# ledger's records from their specs and compares them with what the chapters read; the page shows
# its report, `.cache/ledger-verify.json`, or says that this build did not check.)

# %% tags=["remove-input"]
display(HTML(scorecard.verify_html(report) + scorecard.html_table(rows=rows)))

# %% [markdown]
# ## Excluded rows
#
# A row is excluded when its comparison rests on a model that did not train (its train accuracy far
# below the undefended model's): a verdict about privacy between a model that fits and one that
# predicts nearly a constant says nothing about the loss. Excluded rows stay in the table, greyed,
# with the verdict they would have had, but take no part in the counts and in Holm's family.

# %% tags=["remove-input"]
display(HTML(scorecard.excluded_html(rows)))
