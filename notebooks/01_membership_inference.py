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
# # 1. Membership inference in one page
#
# A model is trained on a private data set $\mathcal S$. A **membership inference attack** (MIA)
# receives a record $(\mathbf x, y)$ and black-box access to the trained model $h_S$, and guesses
# whether the record was in $\mathcal S$ {cite}`shokri2017membership`. If it can, the model leaks
# who was in its training data: a patient in a hospital's records, a customer in a purchase log.
# This chapter runs the simplest strong attack, the **loss attack** of {cite:t}`yeom2018privacy`,
# end to end on real data, and introduces the numbers the rest of the book reports. One of them
# needs care: there are two ways to compute an attack's "advantage", and only one of them is an
# attack.
#
# **Learning goals.** After this chapter you can
#
# - state the black-box threat model of the paper and explain what a shadow model is for;
# - run the loss attack: learn a threshold on a shadow model and apply it to the target;
# - tell the paper's membership advantage (the attacker's own rule) from the *oracle* advantage
#   (the best threshold chosen on the target), and say why the oracle is biased upwards;
# - read an ROC curve, its AUC and its true-positive rate at a low false-positive rate;
# - run the paper's six tabular attacks with one call of {func}`ccl_lib.attacks.run_attacks`.
#
# **Prerequisites.** Training a classifier with cross-entropy and SGD; true and false positive
# rates and the ROC curve. No earlier chapter. The words of this page are in the {doc}`../glossary`.
#
# **Threat model** (Sec. 2 of {cite:t}`liu2024ccl`). The attacker
#
# - can query $h_S$ on any input and read its output (the logits, hence the probabilities);
# - knows the architecture and the training recipe, and can draw data from the same distribution
#   $\mathcal D$, but not from $\mathcal S$;
# - is scored on a balanced query set of members (from $\mathcal S$) and non-members (fresh draws
#   from $\mathcal D$) by the **membership advantage** (Eq. 2)
#
# $$
# \mathrm{Adv}(\mathcal A) = \Pr(\mathcal A = 1 \mid m = 1) - \Pr(\mathcal A = 1 \mid m = 0)
# = \mathrm{TPR} - \mathrm{FPR},
# $$
#
# which is $0$ for guessing and $1$ for a perfect attack.
#
# The attacker cannot see which training examples the target used, so it trains a **shadow
# model** the same way on data it owns, where it knows membership. It learns its attack there and
# applies it, unchanged, to the target.
#
# **Reproduce / rescale:** `papermill 01_membership_inference.ipynb out.ipynb -p part_size 1250 -p epochs 120 -p milestones "[50, 100]"`
# uses 5,000 of the 5,010 Location records and the paper's Purchase/Texas schedule (Sec. 5.1): about a
# minute on two CPU cores, seconds on a GPU (the trainer picks CUDA when present). Set `dataset` to
# `"purchase100"` or `"texas100"` for the paper's tabular benchmarks (downloaded and verified on
# first use). The defaults below run in about 15 s on two CPU cores.

# %% tags=["parameters"]
# any tabular data set of ccl_lib.data: "location", "purchase100", "texas100", "digits"
dataset = "location"
# examples in each of the four parts (target/shadow x train/test)
part_size = 1000
# SGD epochs of the target and the shadow model
epochs = 30
# epochs after which the learning rate drops 10x (the paper: [50, 100] of 120 for tabular data)
milestones = []
# ccl_lib.models.build_model name
model_name = "mlp"
# false-positive rates of "TPR at low FPR"
low_fprs = [0.01, 0.001]
# torch CPU threads (1 is fastest for this small MLP on a shared 2-core machine; 0: torch's default)
cpu_threads = 1
seed = 0

# %% tags=["remove-input"]
# %matplotlib inline
from ccl_lib import book

book.setup()
from ccl_lib.parameters import check_parameters

globals().update(check_parameters("01_membership_inference", globals()))

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ccl_lib import metrics
from ccl_lib.analysis.findings import glue_findings
from ccl_lib.analysis.foundations import membership_findings
from ccl_lib.attacks import TABULAR_ATTACKS, best_threshold, metric_scores, run_attacks
from ccl_lib.data import load_dataset
from ccl_lib.experiments import RunSpec
from ccl_lib.formatting import format_table, narrow_table
from ccl_lib.models import build_model
from ccl_lib.plots import book_figsize
from ccl_lib.splits import make_splits
from ccl_lib.train import fit, predict_logits
from ccl_lib.utils import seed_everything

if cpu_threads:
    torch.set_num_threads(cpu_threads)

# %% [markdown]
# ## Data and the four splits
#
# Location {cite}`shokri2017membership` has 5,010 users, each a binary vector of 446 visited
# location types, labelled with one of 30 geosocial clusters. As in the paper (Sec. 5.1), the pool
# is split into four disjoint, class-stratified parts: the target's members (its training set),
# the target's non-members (its test set), and the same two parts for the shadow model.

# %%
ds = load_dataset(dataset)
# part_size None, or too large for the data set (digits): all of it, in four equal parts
size = book.fit_part_size(dataset, part_size)
splits = make_splits(ds.y, n_parts=4, size=size, seed=seed)
# the recipe of Sec. 5.1 (SGD, lr 0.1, momentum 0.9, weight decay 5e-4, batch 128), as every chapter's runs
spec = RunSpec(dataset=dataset, model=model_name, epochs=epochs, milestones=tuple(milestones), size=size, seed=seed)


def part(name):
    idx = getattr(splits, name)
    return ds.features(idx), torch.from_numpy(ds.y[idx])


data = {name: part(name) for name in ("target_train", "target_test", "shadow_train", "shadow_test")}

# %% tags=["remove-input"]
parts = pd.DataFrame(
    [
        {
            "part": name,
            "examples": len(y),
            "classes present": int(len(torch.unique(y))),
            "largest class share": float(torch.bincount(y).max()) / len(y),
        }
        for name, (_, y) in data.items()
    ]
)
format_table(parts, percent=["largest class share"], hide_index=True)

# %% [markdown]
# ## Training the target and the shadow model
#
# Both models are the paper's tabular MLP (hidden layers 1024-512-256-128, Tanh), trained with the
# same recipe: SGD with momentum 0.9, learning rate 0.1, weight decay $5\cdot10^{-4}$, batch size 128
# ({class}`ccl_lib.train.TrainConfig`). Only the data and the seed differ. With 1,000 training
# examples and about a million parameters, both models memorize their training sets. The gap
# between training and test loss is what the attack exploits.


# %%
def train(train_part, test_part, run_seed, n_epochs=epochs):
    seed_everything(run_seed)
    model = build_model(spec.resolved_model, ds.input_shape, ds.num_classes)
    (x, y), (xt, yt) = data[train_part], data[test_part]
    config = spec.replace(epochs=n_epochs).train_config(run_seed)
    result = fit(model, x, y, x_test=xt, y_test=yt, config=config, progress=False)
    return model, result.history_frame()


target, target_hist = train("target_train", "target_test", seed)
shadow, shadow_hist = train("shadow_train", "shadow_test", seed + 1)

# %% tags=["remove-input"]
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2))
for label, h in (("target", target_hist), ("shadow", shadow_hist)):
    ax[0].plot(h.epoch, h.train_loss_mean, label=f"{label}: train")
    ax[0].plot(h.epoch, h.test_loss_mean, ls="--", label=f"{label}: test")
    ax[1].plot(h.epoch, h.train_acc, label=f"{label}: train")
    ax[1].plot(h.epoch, h.test_acc, ls="--", label=f"{label}: test")
ax[0].set(yscale="log", xlabel="epoch", ylabel="mean cross-entropy", title="loss")
ax[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
ax[1].legend()
plt.tight_layout()
plt.show()
final = pd.DataFrame(
    {
        label: h.iloc[-1][["train_acc", "test_acc", "train_loss_mean", "test_loss_mean"]]
        for label, h in (("target", target_hist), ("shadow", shadow_hist))
    }
).T
final.columns = ["train accuracy", "test accuracy", "mean train loss", "mean test loss"]
format_table(final, percent=["train accuracy", "test accuracy"])

# %% [markdown]
# ## The loss attack
#
# The attack scores each query by its loss under the queried model. {func}`ccl_lib.attacks.metric_scores`
# with `metric="loss"` returns $-\ell_{\mathrm{ce}} = \log p_y$, following the library's convention
# that a higher score means "more likely a member". The attack says "member" when the loss is at
# most a threshold $\tau$ (Eq. 14). The histograms show why this works: training examples sit at
# losses near $0$, and test examples spread over several orders of magnitude.


# %%
def losses(model, name):
    x, y = data[name]
    return -metric_scores(predict_logits(model, x), y, "loss")  # per-example cross-entropy


shadow_in, shadow_out = losses(shadow, "shadow_train"), losses(shadow, "shadow_test")
target_in, target_out = losses(target, "target_train"), losses(target, "target_test")

# the attacker's threshold: the tau with the best balanced accuracy on the SHADOW model
shadow_labels = np.r_[np.ones(len(shadow_in)), np.zeros(len(shadow_out))]
choice = best_threshold(-np.r_[shadow_in, shadow_out], shadow_labels)
tau = -choice.threshold

# %% tags=["remove-input"]
every = np.r_[shadow_in, shadow_out, target_in, target_out]
bins = np.logspace(np.log10(max(every.min(), 1e-8)), np.log10(every.max()), 50)
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2), sharey=True)
for a, (label, lin, lout) in zip(ax, (("shadow", shadow_in, shadow_out), ("target", target_in, target_out))):
    a.hist(lin, bins=bins, alpha=0.6, label="members (train)")
    a.hist(lout, bins=bins, alpha=0.6, label="non-members (test)")
    a.axvline(tau, color="k", ls="--", label=r"$\tau$ learned on the shadow model")
    a.set(xscale="log", xlabel="cross-entropy loss", title=f"{label} model")
ax[0].set_ylabel("examples")
fig.legend(*ax[1].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3)
plt.tight_layout()
plt.show()
pd.DataFrame(
    {
        "members": [np.median(target_in), target_in.mean(), target_in.std()],
        "non-members": [np.median(target_out), target_out.mean(), target_out.std()],
    },
    index=["median loss", "mean loss", "std of loss"],
).pipe(format_table)

# %% [markdown]
# ## Two advantages: the attacker's and the oracle's
#
# The attacker picked $\tau$ on the shadow model, where it knows membership, and applies it
# unchanged to the target. Its advantage on the target is $\mathrm{TPR} - \mathrm{FPR}$ of that
# fixed rule ({func}`ccl_lib.metrics.advantage_at_threshold`). **This is the membership advantage
# of the paper**: Eq. 2 is the advantage of an attacker $\mathcal A$, footnote 2 says that
# "$\tau$ is determined by shadow models", and the authors' code (`_mem_inf_thre` in their
# `metric_based_attack.py`) learns the thresholds on the shadow model and applies them to the
# target. Every figure, P1 score and verdict of this book uses it (column `advantage`).
#
# A second number is easy to compute and easy to mistake for the first: the advantage of the
# best threshold chosen **on the target itself**, $\max_\tau(\mathrm{TPR} - \mathrm{FPR})$
# ({func}`ccl_lib.metrics.advantage_oracle`, column `advantage_oracle`). To pick that $\tau$ one
# must already know which queries are members, which is the very thing the attack is trying to
# find out. It is not an attack but an **oracle**: an upper bound on what any threshold on this
# score could reach. It is also biased upwards on a finite sample. The maximum over all
# thresholds picks up noise as well as signal, so it is positive even when there is no membership
# signal at all ({ref}`ch01-ex1` measures how positive).

# %%
scores = -np.r_[target_in, target_out]  # higher = member
labels = np.r_[np.ones(len(target_in), dtype=int), np.zeros(len(target_out), dtype=int)]
adv_shadow = metrics.advantage_at_threshold(scores, labels, choice.threshold)
adv_oracle = metrics.advantage_oracle(scores, labels)

# %% tags=["remove-input"]
tpr_shadow, fpr_shadow = float((target_in <= tau).mean()), float((target_out <= tau).mean())
pd.DataFrame(
    [
        {
            "rule": "tau learned on the shadow model (the paper's advantage)",
            "TPR": tpr_shadow,
            "FPR": fpr_shadow,
            "TPR - FPR": adv_shadow,
        },
        {
            "rule": "best tau chosen on the target (oracle, an upper bound)",
            "TPR": np.nan,
            "FPR": np.nan,
            "TPR - FPR": adv_oracle,
        },
    ]
).pipe(format_table, percent=["TPR", "FPR", "TPR - FPR"], hide_index=True)

# %% [markdown]
# ## ROC curve, AUC and TPR at low FPR
#
# A single threshold is one point of the **ROC curve**, the TPR against the FPR of every threshold.
# The oracle advantage is the largest vertical gap between the curve and the diagonal. The area
# under the curve (AUC) is the probability that a random member scores higher than a random
# non-member. {cite:t}`carlini2022first` argue that the regime that matters for privacy is the
# *low* FPR one: an attack that identifies a few members with near certainty is dangerous even if
# its average accuracy is modest. Hence the log-log plot and the TPR at FPR $\le 1\%$ and
# $\le 0.1\%$. With `part_size` = 1,000 non-members, FPR $0.1\%$ means a single false positive, so
# that number is noisy. A larger `part_size` sharpens it. These TPRs are read off the target's
# ROC curve, so they too are oracle-style numbers, the convention of {cite:t}`carlini2022first`.

# %%
roc = metrics.roc_curve(scores, labels)
auc = metrics.roc_auc(scores, labels)
tpr_low = {f: metrics.tpr_at_fpr(scores, labels, f) for f in low_fprs}

# %% tags=["remove-input"]
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.85))
for a, log in zip(ax, (False, True)):
    a.plot(roc.fpr, roc.tpr, label=f"loss attack (AUC = {auc:.3f})")
    grid = np.logspace(-4, 0, 100) if log else np.linspace(0, 1, 100)
    a.plot(grid, grid, "k:", label="chance")
    a.scatter([fpr_shadow], [tpr_shadow], color="tab:red", zorder=3, label=r"$\tau$ from the shadow model")
    a.set(xlabel="false positive rate", ylabel="true positive rate")
    if log:
        a.set(xscale="log", yscale="log", xlim=(1 / len(target_out) / 2, 1), ylim=(1e-3, 1.05), title="log-log")
    else:
        a.set(title="linear")
ax[0].legend(loc="lower right")
plt.tight_layout()
plt.show()
summary = {"advantage": adv_shadow, "oracle": adv_oracle, "AUC": auc}
summary.update({f"TPR@{100 * f:g}% FPR": v for f, v in tpr_low.items()})
summary = pd.DataFrame([summary], index=["loss attack"])
narrow_table(
    summary,
    percent=[c for c in summary.columns if c != "AUC"],
    caption="one global threshold; advantage: τ from the shadow model; oracle: τ chosen on the target (an upper bound)",
)

# %% [markdown]
# ## The paper's tabular attacks in one call
#
# {func}`ccl_lib.attacks.run_attacks` runs the paper's attacks (Sec. 5.1) against a target with a
# shadow model. On tabular data these are six: the NN attack, which trains an attack classifier
# on the shadow model's outputs {cite}`shokri2017membership`, and five metric attacks, which
# threshold the correctness, the loss, the confidence (the maximum probability), the entropy
# {cite}`salem2019mlleaks` or the modified entropy {cite}`song2021systematic`. Each metric attack
# learns one threshold **per class** on the shadow model {cite}`song2021systematic`, as the
# authors' code does. The table gives both advantages for every attack, next to the AUC and the
# TPR at low FPR.

# %%
report = run_attacks(
    target,
    shadow,
    target_in=data["target_train"],
    target_out=data["target_test"],
    shadow_in=data["shadow_train"],
    shadow_out=data["shadow_test"],
    attacks=list(TABULAR_ATTACKS),
    kind="tabular",
    seed=seed,
    progress=False,
)

# %% tags=["remove-input"]
shown = report[["attack", "advantage", "advantage_oracle", "auc", "tpr@1%", "tpr@0.1%"]].copy()
shown.columns = ["attack", "advantage (shadow rule)", "oracle advantage", "AUC", "TPR at 1 % FPR", "TPR at 0.1 % FPR"]
format_table(shown, percent=[c for c in shown.columns if c not in ("attack", "AUC")], hide_index=True)

# %% tags=["remove-input"]
attack = dict(adv_shadow=adv_shadow, adv_oracle=adv_oracle, tpr_shadow=tpr_shadow, fpr_shadow=fpr_shadow, auc=auc)
findings = membership_findings(final=final, report=report, target_in=target_in, target_out=target_out, scores=scores,
                               labels=labels, attack=attack, num_classes=ds.num_classes, n_shadow_in=len(shadow_in))  # fmt: skip
_ = glue_findings("ch01", findings)

# %% [markdown]
# ## What we saw
#
# The target fits its training set ({glue:text}`ch01_train_acc` training accuracy) but reaches
# only {glue:text}`ch01_test_acc` on its test set. The mean loss of its members,
# {glue:text}`ch01_loss_in:.4f`, is orders of magnitude below that of its non-members,
# {glue:text}`ch01_loss_out:.2f`, and the members' losses are packed into a narrow peak near
# zero. That is all the loss attack needs.
#
# The threshold the attacker learned on the shadow model transfers: applied to the target it
# flags {glue:text}`ch01_tpr_shadow` of the members and {glue:text}`ch01_fpr_shadow` of the
# non-members, an advantage of {glue:text}`ch01_adv_shadow`. The best threshold chosen on the
# target would reach {glue:text}`ch01_adv_oracle`. Here the two are close: the shadow model,
# trained with the target's recipe on data from the same distribution, is a faithful copy of it. The oracle is still the larger
# one, as it must be, and it stays positive even where there is nothing to find (see
# {ref}`ch01-ex1`).
#
# The ROC curve has an AUC of {glue:text}`ch01_auc:.3f`, yet at an FPR of 1 % the single global
# threshold finds only {glue:text}`ch01_tpr1_global` of the members. Many non-members are fit
# confidently too, so the lowest losses are not all members. An average such as the advantage or
# the AUC says little about the few members an attacker can name with confidence.
#
# With one threshold per class (the `loss` row of the table), the loss attack reaches an advantage
# of {glue:text}`ch01_loss_adv_class`, {glue:text}`ch01_class_vs_global` than the single
# global threshold's {glue:text}`ch01_adv_shadow`, and its TPR at 1 % FPR is
# {glue:text}`ch01_loss_tpr1_class`, {glue:text}`ch01_class_vs_global_tpr` than the global
# threshold's. With {glue:text}`ch01_n_members` members spread over {glue:text}`ch01_n_classes`
# classes, each class threshold is learned from about {glue:text}`ch01_per_class` shadow members
# and as many non-members, so per-class thresholds are not automatically stronger: they adapt to
# each class and they are noisier. The strongest attack of the table is the
# {glue:text}`ch01_best_attack` attack, with an advantage of {glue:text}`ch01_best_adv`. Over
# the six attacks, the oracle exceeds the attacker's advantage by
# {glue:text}`ch01_gap_min` to {glue:text}`ch01_gap_max`.
#
# The loss gap and the tiny spread of the members' losses are what the Convex-Concave Loss
# targets. Chapter 2 shows why a convex loss such as cross-entropy shrinks that spread, and
# chapter 3 how a concave term widens it.
#
# ## Takeaways
#
# - A membership inference attack is a binary classifier of "member or not", learned by the
#   attacker on a shadow model whose membership it knows, and applied to the target.
# - The paper's membership advantage (Eq. 2 with footnote 2) is TPR − FPR on the target of the
#   attacker's **own** rule. The best threshold chosen on the target is an oracle: an upper bound,
#   biased upwards, never an attack.
# - An overfit model leaks through its losses: members' losses are near zero and tightly packed.
# - Average-case numbers (advantage, AUC) and the TPR at low FPR answer different questions;
#   report both.
#
# ## Exercises
#
# ```{exercise}
# :label: ch01-ex1
#
# **Size:** homework (1 h). **Needs:** this chapter.
#
# **The oracle's bias.** Build data with no membership signal at all: an *untrained* MLP serves
# as both target and shadow model, and members and non-members are disjoint random draws from
# Location, 300 per part. Run the four score-based metric attacks (loss, confidence, entropy,
# modified entropy) for 20 seeds and compare the mean `advantage` with the mean
# `advantage_oracle`. Which one is an unbiased estimate of the true advantage, 0?
# ```
#
# ````{solution} ch01-ex1
# :class: dropdown
#
# ```python
# rows = []
# for s in range(20):
#     torch.manual_seed(s)
#     model = build_model("mlp", ds.input_shape, ds.num_classes)  # never trained
#     sp = make_splits(ds.y, n_parts=4, size=300, seed=s)
#     get = lambda idx: (ds.features(idx), torch.from_numpy(ds.y[idx]))
#     rows.append(run_attacks(model, model, target_in=get(sp.target_train), target_out=get(sp.target_test),
#                             shadow_in=get(sp.shadow_train), shadow_out=get(sp.shadow_test),
#                             attacks=["loss", "confidence", "entropy", "modified_entropy"],
#                             kind="tabular", seed=s, progress=False))
# pd.concat(rows).groupby("attack")[["advantage", "advantage_oracle"]].agg(["mean", "sem"])
# ```
#
# It runs in a few seconds. The attacker's advantage averages between 0.001 and 0.004 per attack,
# with a standard error of about 0.007: indistinguishable from 0. The oracle averages 0.044 to
# 0.053 (standard error about 0.004) for every attack, although the model has never seen a single
# member. The maximum over thresholds of a noisy TPR − FPR is positive by construction. Its bias
# shrinks like $1/\sqrt n$ with the number of queries, but it never changes sign. A defense
# evaluated with the oracle can therefore never look perfectly private.
# ````
#
# ```{exercise}
# :label: ch01-ex2
#
# **Size:** in class (20 min). **Needs:** this chapter.
#
# **An attack at a fixed FPR.** An attacker who must keep false accusations rare fixes the FPR
# instead of maximizing the balanced accuracy (Theorem 6.1, Eq. 18). Use
# {func}`ccl_lib.attacks.threshold_at_fpr` to choose, on the *shadow* model's non-members, the
# loss threshold with an FPR of at most 5 %. Apply it to the target. What FPR and TPR does it
# reach there? Compare the TPR with the one read off the target's own ROC curve at 5 %.
# ```
#
# ````{solution} ch01-ex2
# :class: dropdown
#
# ```python
# from ccl_lib.attacks import threshold_at_fpr
#
# t5 = threshold_at_fpr(-shadow_out, 0.05)  # score = -loss; flag score >= t5
# print("realized FPR on the target:", (-target_out >= t5).mean())
# print("TPR on the target:         ", (-target_in >= t5).mean())
# print("TPR read off the target ROC:", metrics.tpr_at_fpr(scores, labels, 0.05))
# ```
#
# With the defaults, the threshold learned on the shadow model flags 4.2 % of the target's
# non-members (not 5 %: the shadow's and the target's test losses are two samples, from two
# models) and 9.4 % of its members. The target's own ROC curve gives 11.5 % at exactly 5 %, a
# number only an oracle could pick. The attacker does not control the FPR it actually gets on the
# target. At 0.1 % (one false positive in 1,000) the same comparison gives 0.1 % FPR and 0.3 %
# TPR against 0.4 % from the ROC curve: counts of one to four examples, far too few to rank
# defenses. That is why a low-FPR claim needs many non-members.
# ````
#
# ```{exercise}
# :label: ch01-ex3
#
# **Size:** in class (15 min). **Needs:** this chapter.
#
# **An attacker who does not know the recipe.** Train the shadow model for 5 epochs instead of
# 30 (`train("shadow_train", "shadow_test", seed + 1, n_epochs=5)`) and rerun `run_attacks`.
# Which column of the table changes, and which cannot?
# ```
#
# ````{solution} ch01-ex3
# :class: dropdown
#
# ```python
# weak_shadow, _ = train("shadow_train", "shadow_test", seed + 1, n_epochs=5)
# weak = run_attacks(target, weak_shadow, target_in=data["target_train"], target_out=data["target_test"],
#                    shadow_in=data["shadow_train"], shadow_out=data["shadow_test"],
#                    attacks=list(TABULAR_ATTACKS), kind="tabular", seed=seed, progress=False)
# cols = ["advantage", "advantage_oracle"]
# pd.concat({"30-epoch shadow": report.set_index("attack")[cols], "5-epoch shadow": weak.set_index("attack")[cols]},
#           axis=1)
# ```
#
# With the defaults:
#
# | attack | advantage, 30-epoch shadow | advantage, 5-epoch shadow | oracle, 30-epoch | oracle, 5-epoch |
# | --- | --- | --- | --- | --- |
# | nn | 0.720 | 0.082 | 0.725 | 0.162 |
# | correctness | 0.461 | 0.461 | 0.461 | 0.461 |
# | loss | 0.732 | 0.375 | 0.776 | 0.477 |
# | confidence | 0.673 | 0.001 | 0.709 | 0.509 |
# | entropy | 0.667 | 0.000 | 0.708 | 0.516 |
# | modified_entropy | 0.738 | 0.407 | 0.774 | 0.456 |
#
# Both columns drop, because for these attacks the *score* itself is learned on the shadow
# model: the metric minus its class threshold, or the attack classifier's logit. But the
# attacker's advantage drops much further. The under-trained shadow model has large member
# losses, so the thresholds it teaches are far too loose for the overfit target: the confidence
# and entropy attacks flag almost everyone and fall to an advantage of 0, while their oracle stays
# near 0.5. The correctness attack learns nothing from the shadow model and does not change. (The
# single global loss threshold of the earlier sections has an oracle that uses the target alone,
# and it would not change at all.) The paper's advantage measures what *this* attacker achieves,
# with what it knows; the oracle measures what the best possible threshold would achieve.
# ````
