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
# # 8. One number per data set: the P1 score (Table 1)
#
# A privacy-utility curve needs a whole sweep. Table 1 of {cite:t}`liu2024ccl` condenses one
# model into one number, the P1 score of {cite:t}`paul2021defending` (Eq. 13): the harmonic mean
# of test accuracy and one minus the attack advantage,
#
# $$
# P1 = 2\,\frac{\mathrm{Acc}\,(1-\mathrm{Adv})}{\mathrm{Acc} + (1-\mathrm{Adv})},
# $$
#
# where $\mathrm{Adv}$ is the **highest** advantage over all attacks (the worst case for the
# defender). It is 1 for a perfectly accurate model that leaks nothing and drops when either
# accuracy or privacy is lost. The paper fixes $\alpha = 0.5$ and reports P1 of CCQL, CCEL and the
# undefended model ("w/o") on Texas100, Purchase100, ImageNet, CIFAR-10 and CIFAR-100; both CCL
# variants improve on the undefended model everywhere.
#
# **Reproduce at the paper's scale:**
# `papermill 08_table1_p1.ipynb out.ipynb -p datasets '["texas100", "purchase100"]' -p epochs 120 -p milestones "[50, 100]" -p part_size None -p seeds "[0, 1, 2]"`
# for the tabular columns (the runs of `python -m ccl_lib run table1-texas100` and
# `table1-purchase100`; the data are downloaded and verified on first use): 18 runs, by our estimate
# half a day on a CPU and well under an hour on a GPU. The image columns are GPU work, one data set
# per call: `-p datasets '["cifar10"]' -p model resnet34 -p epochs 300 -p milestones "[150, 225]" -p augment True -p part_size None`
# (about 1.5 GPU-hours on one H100-class GPU per seed), `cifar100` with `densenet121` (longer), and
# ImageNet with DenseNet-121 for 90 epochs (`-p epochs 90 -p milestones "[30, 60]"`, GPU-days). The default (Location
# and scikit-learn's digits, 30 epochs) takes a few CPU minutes, the Location runs shared with
# chapters 5-7.

# %% tags=["parameters"]
# data sets of ccl_lib.data; Table 1 has texas100, purchase100, imagenet, cifar10, cifar100
datasets = ["location", "digits"]
# ccl_lib.models name; "auto": the MLP for tabular data, the small CNN for images
model = "auto"
# training epochs
epochs = 30
# epochs at which the learning rate drops 10x (the paper: [50, 100] of 120 on Texas/Purchase)
milestones = []
# random crop + flip for images (the paper's CIFAR recipe)
augment = False
# examples per split part (None, or more than a data set holds: all of it, in equal parts)
part_size = 1000
# one run per seed; P1 is the mean over seeds
seeds = [0]
# Table 1 fixes alpha = 0.5
alpha = 0.5
# parallel runs: an integer, or "auto" (one per GPU, else one per CPU core)
workers = "auto"

# %%
# %matplotlib inline
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from ccl_lib import book, paper_results
from ccl_lib.analysis.p1 import p1_bars, p1_table, p1_verdicts
from ccl_lib.analysis.runs import run_runs, run_summary
from ccl_lib.experiments import grid

book.setup(precision=3)
datasets = book.param_list(datasets, "datasets")
recipe = book.recipe(None, model=model, epochs=epochs, milestones=milestones, augment=augment,
                         part_size=part_size, seeds=seeds)

# %% [markdown]
# ## The runs
#
# Three runs per data set and seed: cross-entropy, CCQL and CCEL at $\alpha$ = `alpha`, each
# attacked by every attack of the suite. A data set too small for four parts of `part_size`
# examples is split into four equal parts of all its data.

# %%
methods = {"CCQL": ("ccql", alpha), "CCEL": ("ccel", alpha), "w/o": ("vanilla", None)}
defenses = {"vanilla": [{}], "ccel": [{"alpha": alpha}], "ccql": [{"alpha": alpha}]}
specs = [s for ds in datasets
         for s in grid(ds, defenses, size=book.fit_part_size(ds, part_size), **recipe)]
df, runs = run_runs(specs, workers=workers)
print(run_summary(df, runs))

# %% [markdown]
# ## Table 1 on these data sets
#
# P1 per method and data set (rows as in the paper), then what it is made of: test accuracy, the
# highest advantage and the attack that reached it.

# %%
p1, details = p1_table(df, methods)
display(p1)
details

# %% [markdown]
# ## The paper's Table 1
#
# The published values ({mod}`ccl_lib.paper_results`), and the change of P1 against the
# undefended model for both tables.

# %%
paper = paper_results.table1()
display(paper)
gains = pd.concat({"this run": p1.loc[["CCQL", "CCEL"]] - p1.loc["w/o"],
                   "paper": paper.loc[["CCQL", "CCEL"]] - paper.loc["w/o"]}, axis=1)
gains.round(3)

# %% [markdown]
# The same numbers as bars: this run's P1 next to the paper's (grey: the undefended model).

# %%
fig = p1_bars(p1, paper)
display(fig)
plt.close(fig)

# %% [markdown]
# ## What we saw
#
# The values this section quotes ({func}`ccl_lib.analysis.p1.p1_verdicts`):

# %% tags=["remove-output"]
verdicts = p1_verdicts(p1, paper)
