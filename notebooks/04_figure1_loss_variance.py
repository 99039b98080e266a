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
# # 4. Convex losses and the variance of training losses (Figure 1)
#
# Theorem 3.1 of {cite:t}`liu2024ccl` bounds the expected training loss of any strictly convex
# loss $\ell(p_y)$ from below by $A\epsilon + \tfrac{B}{2}(\epsilon^2 + \sigma^2)$, where
# $1-\epsilon$ and $\sigma^2$ are the mean and variance of the true-class probability $p_y$.
# Because $\sigma^2$ enters with a positive coefficient, minimizing a convex loss also pushes the
# variance of $p_y$, and with it the variance of the per-example losses, down. A small loss
# variance on the members is what the loss attack {cite}`yeom2018privacy` feeds on (Theorem 6.1):
# the members' losses pile up in a narrow peak that a threshold separates from the non-members'.
#
# The paper checks this with focal loss {cite}`lin2017focal`, $-(1-p_y)^\gamma\log p_y$ with
# $\gamma = 2$, which is *more* convex than cross-entropy (CE). Its Figure 1 (ResNet-34 on
# CIFAR-10) shows, per epoch, the mean and the variance of the training losses: focal loss ends
# with a **higher mean** and a **smaller variance** than CE. This chapter reruns that experiment.
# Both models are measured the same way: the per-example cross-entropy of every training example,
# in evaluation mode, after each epoch ({func}`ccl_lib.train.fit`), which is the score of the loss
# attack.
#
# **Reproduce at the paper's scale:**
# `papermill 04_figure1_loss_variance.ipynb out.ipynb -p dataset cifar10 -p model resnet34 -p epochs 300 -p milestones "[150, 225]" -p augment True -p part_size None`
# (the same runs as `python -m ccl_lib run figure1-cifar10`). That is 2 runs, each training a
# target and a shadow ResNet-34 for 300 epochs on 15,000 images: by our estimate about an hour
# on one H100-class GPU, and weeks on a CPU. The default below (the Location MLP, 30 epochs) takes about a
# minute on a CPU.

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
# one run per seed; the curves are the mean over seeds
seeds = [0]
# focal-loss exponent (the paper: 2)
gamma = 2.0
# parallel runs: an integer, or "auto" (one per GPU, else one per CPU core)
workers = "auto"

# %%
# %matplotlib inline
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU
import matplotlib.pyplot as plt
from IPython.display import display

from ccl_lib import book, plots
from ccl_lib.analysis.curves import history_of
from ccl_lib.analysis.runs import mean_history, run_runs, run_summary, select_runs
from ccl_lib.analysis.tables import history_table
from ccl_lib.experiments import grid

book.setup()
recipe = book.recipe(dataset, model=model, epochs=epochs, milestones=milestones, augment=augment,
                         part_size=part_size, seeds=seeds)

# %% [markdown]
# ## Training with cross-entropy and with focal loss
#
# One run of the engine ({func}`ccl_lib.experiments.run_grid`) per loss and seed: a target and a
# shadow model trained with the paper's SGD recipe (Sec. 5.1), then attacked. This chapter only
# needs the target's training history; chapter 9 reuses the same cached runs for the attacks.

# %%
specs = grid(dataset, {"vanilla": [{}], "focal": [{"gamma": gamma}]}, **recipe)
df, runs = run_runs(specs, workers=workers)
curves = {
    "CE": mean_history(select_runs(runs, "vanilla")),
    "Focal": mean_history(select_runs(runs, "focal", gamma=gamma)),
}
curves = {k: history_of(h) for k, h in curves.items()}
print(run_summary(df, runs))

# %% [markdown]
# ## Figure 1: mean and variance of the training loss per epoch
#
# The first two panels are the paper's; the variance is drawn on a logarithmic axis, as it spans
# several orders of magnitude. The third panel divides the variance by the squared mean (the
# squared coefficient of variation): Theorem 3.1 is a statement at a fixed mean, and when two losses
# end at very different means this ratio says which one keeps its losses more concentrated
# *relative to their size*.

# %%
fig = plots.training_curves(curves, metrics=("train_loss_mean", "train_loss_var", "train_loss_rel_var"),
                            title=f"{dataset}: Figure 1 (focal loss with gamma = {gamma:g})")
fig.axes[1].set_yscale("log")
fig.axes[2].set_title("variance / mean$^2$ of training loss")
display(fig)
plt.close(fig)

# %% [markdown]
# The numbers behind the figure (every fifth epoch and the last):

# %%
history_table(curves, columns=("train_loss_mean", "train_loss_var", "train_loss_rel_var", "train_acc", "test_acc"),
                       every=5)

# %% [markdown]
# ## What we saw
#
# Seed intervals and paired comparisons of these curves: {mod}`ccl_lib.analysis.curves`.
