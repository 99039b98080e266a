# ---
# jupyter:
#   jupytext:
#     formats: py:percent
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
# One row per item of {cite:t}`liu2024ccl` that the book tests: the theorems and propositions,
# the figures, Table 1, and the paper's worked example (the loss attack's advantage falling from
# 29.67 % to 18.40 %). Each row says where the item is tested (the chapter, which links to it), in
# which setting, the verdict, the 95 % interval the verdict rests on, and the likely cause of any
# difference from the paper.
#
# **Nothing in this table is typed by hand.** Each chapter records its rows when it executes
# ({func}`ccl_lib.scorecard.record`), and this page, executed after every chapter, reads them back
# ({func}`ccl_lib.scorecard.load`, every file verified). Rerun a chapter at another scale with the
# papermill command at its top and its rows change with it. An item no chapter recorded reads
# "not run".
#
# **The verdict words** come from one rule ({mod}`ccl_lib.verdicts`): a verdict needs at least three
# seeds and a 95 % interval.
#
# - **agrees**: the whole interval lies on the side the paper claims (or contains the paper's
#   value);
# - **not reproduced**: the whole interval lies on the other side;
# - **lower** / **higher**: the interval lies below / above the paper's value;
# - **inconclusive at this scale**: the interval contains zero (or the paper's side and the other),
#   or fewer than three seeds stand behind it. It says that the run was too small or too noisy to
#   decide, not that the paper is wrong.
#
# The book's runs are CPU-sized (Location with an MLP, a memorizing CIFAR-10 regime on 500 images per
# part, scikit-learn's digits), so "inconclusive" and "not reproduced" here are statements about
# these settings; the "likely cause" column names what differs from the paper's.

# %% tags=["parameters"]
# folder of the rows the chapters recorded; None: $CCL_SCORECARD_DIR, else book/generated/scorecard
scorecard_dir = None

# %% tags=["remove-input"]
from ccl_lib import book

book.setup()
from IPython.display import HTML, display
from myst_nb import glue

from ccl_lib import scorecard

rows = scorecard.load(scorecard_dir)
counts = rows["verdict"].value_counts()
glue("sc_n_rows", int(len(rows)), display=False)
glue("sc_n_items", int(rows["item"].nunique()), display=False)
for word, name in (
    ("agrees", "agrees"),
    ("not reproduced", "not"),
    ("inconclusive at this scale", "inconclusive"),
    ("lower", "lower"),
    ("higher", "higher"),
    ("not run", "notrun"),
):
    glue(f"sc_n_{name}", int(counts.get(word, 0)), display=False)

# %% [markdown]
# This build recorded {glue:text}`sc_n_rows` rows for {glue:text}`sc_n_items` paper items:
# {glue:text}`sc_n_agrees` agree, {glue:text}`sc_n_not` are not reproduced,
# {glue:text}`sc_n_inconclusive` are inconclusive at this scale, {glue:text}`sc_n_lower` lie below
# and {glue:text}`sc_n_higher` above the paper's value, and {glue:text}`sc_n_notrun` were not run.

# %% tags=["remove-input"]
display(HTML(scorecard.html_table(scorecard_dir)))
