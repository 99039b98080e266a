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
# # 5. The effect of alpha (Figure 4)
#
# The Convex-Concave Loss (Eq. 4 of {cite:t}`liu2024ccl`) mixes cross-entropy with a concave term
# of the true-class probability:
#
# $$
# \ell_{\mathrm{ccl}} = \alpha\,\ell_{\mathrm{ce}} + (1-\alpha)\,\tilde\ell(p_y),
# \qquad \tilde\ell_{\exp} = -e^{p_y}\ \text{(CCEL)},\quad
# \tilde\ell_{\mathrm{qua}} = -p_y - \tfrac12 p_y^2\ \text{(CCQL)}.
# $$
#
# $\alpha = 1$ is plain cross-entropy. Lowering $\alpha$ gives the concave term more weight, and
# Theorem 3.2 says a concave loss rewards a *larger* variance of $p_y$. The gradient tells the same
# story from another side (Eq. 11, chapter 3): CCL multiplies the cross-entropy gradient by
# $\alpha - (1-\alpha)p_y\tilde\ell'(p_y)$, which is only $\alpha$ for badly fitted examples. A small
# $\alpha$ therefore slows down learning on hard examples while it speeds up easy ones.
#
# The paper's Figure 4 (ResNet-34 on CIFAR-10) varies $\alpha$ and reports three things: (a) test
# accuracy, which **drops** as $\alpha$ gets small (underfitting); (b) the highest advantage over
# all attacks, which **rises** with $\alpha$ as the loss approaches cross-entropy; (c) the variance
# of the training loss, which **rises** as $\alpha$ decreases. This chapter reruns the ablation.
#
# **Reproduce at the paper's scale:**
# `papermill 05_alpha_ablation.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 -p milestones "[150, 225]" -p augment True -p part_size None -p alphas "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]" -p workers auto`
# (the runs of `python -m ccl_lib run figure4-alpha-cifar10`; the CCL loss is scaled by 0.01 on
# CIFAR-10 as in App. E.1, {func}`ccl_lib.defenses.default_scale`). That is 19 runs of two
# ResNet-34 models for 300 epochs: by our estimate about 10 GPU-hours on one H100-class GPU, and out
# of reach of a CPU. On a CPU, Texas100 with the paper's MLP recipe
# (`-p dataset texas100 -p epochs 120 -p milestones "[50, 100]" -p part_size None`) takes several
# hours. The default (Location, 30 epochs, five values of $\alpha$) takes a few CPU minutes.

# %% tags=["parameters"]
# a data set of ccl_lib.data ("location", "digits", "cifar10-jpeg", "cifar10", ...)
dataset = "location"
# ccl_lib.models name; "auto": the MLP for tabular data, the small CNN for images
model = "auto"
# training epochs
epochs = 30
# epochs at which the learning rate drops 10x (the paper: [150, 225] of 300 on CIFAR)
milestones = []
# random crop + flip for images (the paper's CIFAR recipe)
augment = False
# examples per split part (None, or more than the data set holds: all of it, in equal parts)
part_size = 1000
# one run per seed and alpha; points are means over seeds, bars their std
seeds = [0]
# the paper: 0.1, 0.2, ..., 0.9 (App. E.1)
alphas = [0.1, 0.3, 0.5, 0.7, 0.9]
# parallel runs: an integer, or "auto" (one per GPU, else one per CPU core)
workers = "auto"

# %%
# %matplotlib inline
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU
import matplotlib.pyplot as plt
from IPython.display import display

from ccl_lib import book, plots
from ccl_lib.analysis.runs import run_runs, run_summary
from ccl_lib.analysis.tables import alpha_table
from ccl_lib.experiments import grid

book.setup()
alphas = [float(a) for a in book.param_list(alphas, "alphas")]
recipe = book.recipe(dataset, model=model, epochs=epochs, milestones=milestones, augment=augment,
                         part_size=part_size, seeds=seeds)

# %% [markdown]
# ## One run per loss and alpha
#
# Each run trains a target and a shadow model and attacks the target with every attack of the
# suite ({mod}`ccl_lib.attacks`); the undefended cross-entropy model is the reference
# ($\alpha = 1$). Runs are cached: chapters 6-8 reuse the ones with $\alpha = 0.5$.

# %%
points = [{"alpha": a} for a in alphas]
specs = grid(dataset, {"vanilla": [{}], "ccel": points, "ccql": points}, **recipe)
df, runs = run_runs(specs, workers=workers)
print(run_summary(df, runs))

# %% [markdown]
# ## Figure 4: accuracy, privacy and loss variance against alpha
#
# Panel (b) is the *highest* advantage (Eq. 2) over all attacks, as in the paper; panel (c) the
# variance of the per-example training cross-entropy at the last epoch, on a log axis. The dotted
# line is the undefended model.

# %%
fig = plots.alpha_ablation(df)
fig.axes[2].set_yscale("log")
display(fig)
plt.close(fig)

# %% [markdown]
# The numbers behind the figure; `train_loss_var_avg` is the variance averaged over all epochs of
# training, `worst_attack` the attack with the highest advantage. The vanilla model is listed as
# $\alpha = 1$.

# %%
table = alpha_table(df, runs=runs)
table

# %% [markdown]
# ## What we saw
#
# With a single seed, neighbouring values of alpha can swap places by chance: add seeds
# (`-p seeds "[0, 1, 2]"`) for error bars. Slopes against alpha with their intervals over seeds:
# {mod}`ccl_lib.analysis.ablation`.
