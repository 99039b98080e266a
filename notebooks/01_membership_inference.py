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
# # 1. Membership inference in one page
#
# A model is trained on a private data set $\mathcal S$. A **membership inference attack** (MIA)
# receives a record $(\mathbf x, y)$ and black-box access to the trained model $h_S$, and guesses
# whether the record was in $\mathcal S$ {cite}`shokri2017membership`. This chapter runs the
# simplest strong attack, the **loss attack** of {cite:t}`yeom2018privacy`, end to end on real
# data, and introduces the numbers the rest of the book reports.
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
# model** the same way on data it owns, where it knows membership. It tunes the attack there and
# applies it to the target.
#
# **Reproduce / rescale:** `papermill 01_membership_inference.ipynb out.ipynb -p part_size 1250 -p epochs 120 -y "milestones: [50, 100]"`
# uses all 5,010 Location records and the paper's Purchase/Texas schedule (Sec. 5.1). This takes a few
# CPU minutes, or seconds on a GPU (the trainer picks CUDA when present). Set `dataset` to
# `"purchase100"` or `"texas100"` for the paper's tabular benchmarks (downloaded and verified on first use).

# %% tags=["parameters"]
dataset = "location"  # any tabular data set of ccl_lib.data ("location", "purchase100", "texas100", "digits")
part_size = 1000  # examples in each of the four parts (target/shadow x train/test)
epochs = 30  # SGD epochs for the target and the shadow model
milestones = []  # epochs after which the learning rate drops 10x (the paper: [50, 100] of 120 for tabular data)
model_name = "mlp"  # ccl_lib.models.build_model name
low_fprs = [0.01, 0.001]  # false-positive rates for "TPR at low FPR"
cpu_threads = 1  # torch CPU threads; 1 is fastest for this small MLP on a busy 2-core machine (None: torch's default)
seed = 0

# %%
# %matplotlib inline
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ccl_lib import metrics
from ccl_lib.attacks import best_threshold, metric_scores, run_attacks
from ccl_lib.data import load_dataset
from ccl_lib.models import build_model
from ccl_lib.splits import make_splits
from ccl_lib.train import TrainConfig, fit, predict_logits
from ccl_lib.utils import seed_everything

# Progress bars are off in the book (CCL_PROGRESS=0); without ipywidgets, tqdm.auto warns on import.
warnings.filterwarnings("ignore", message="IProgress not found")
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
splits = make_splits(ds.y, n_parts=4, size=part_size, seed=seed)


def part(name):
    idx = getattr(splits, name)
    return ds.features(idx), torch.from_numpy(ds.y[idx])


data = {name: part(name) for name in ("target_train", "target_test", "shadow_train", "shadow_test")}
pd.DataFrame([{"part": name, "examples": len(y), "classes present": int(len(torch.unique(y))),
               "largest class share": float(torch.bincount(y).max()) / len(y)} for name, (_, y) in data.items()])

# %% [markdown]
# ## Training the target and the shadow model
#
# Both models are the paper's tabular MLP (hidden layers 1024-512-256-128, Tanh), trained with the
# same recipe: SGD with momentum 0.9, learning rate 0.1, weight decay $5\cdot10^{-4}$, batch size 128
# ({class}`ccl_lib.train.TrainConfig`). Only the data and the seed differ. With 1,000 training
# examples and about a million parameters, both models memorize their training sets. That gap
# between training and test loss is what the attack exploits.

# %%
def train(train_part, test_part, run_seed):
    seed_everything(run_seed)
    model = build_model(model_name, ds.input_shape, ds.num_classes)
    (x, y), (xt, yt) = data[train_part], data[test_part]
    config = TrainConfig(epochs=epochs, milestones=tuple(milestones), seed=run_seed)
    result = fit(model, x, y, x_test=xt, y_test=yt, config=config, progress=False)
    return model, result.history_frame()


target, target_hist = train("target_train", "target_test", seed)
shadow, shadow_hist = train("shadow_train", "shadow_test", seed + 1)

fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
for label, h in (("target", target_hist), ("shadow", shadow_hist)):
    ax[0].plot(h.epoch, h.train_loss_mean, label=f"{label}: train")
    ax[0].plot(h.epoch, h.test_loss_mean, ls="--", label=f"{label}: test")
    ax[1].plot(h.epoch, h.train_acc, label=f"{label}: train")
    ax[1].plot(h.epoch, h.test_acc, ls="--", label=f"{label}: test")
ax[0].set(yscale="log", xlabel="epoch", ylabel="mean cross-entropy", title="loss")
ax[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
ax[0].legend(fontsize=8)
ax[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
pd.DataFrame({label: h.iloc[-1][["train_acc", "test_acc", "train_loss_mean", "test_loss_mean", "train_loss_var"]]
              for label, h in (("target", target_hist), ("shadow", shadow_hist))}).T.round(4)

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


loss = {(m, n): losses(model, n) for m, model in (("target", target), ("shadow", shadow))
        for n in (f"{m}_train", f"{m}_test")}
shadow_in, shadow_out = loss["shadow", "shadow_train"], loss["shadow", "shadow_test"]
target_in, target_out = loss["target", "target_train"], loss["target", "target_test"]

# threshold tuned on the shadow model: the tau with the best balanced accuracy there
choice = best_threshold(-np.r_[shadow_in, shadow_out], np.r_[np.ones(len(shadow_in)), np.zeros(len(shadow_out))])
tau = -choice.threshold

bins = np.logspace(np.log10(max(min(v.min() for v in loss.values()), 1e-8)), np.log10(max(v.max() for v in loss.values())), 50)
fig, ax = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for a, (label, lin, lout) in zip(ax, (("shadow", shadow_in, shadow_out), ("target", target_in, target_out))):
    a.hist(lin, bins=bins, alpha=0.6, label="members (train)")
    a.hist(lout, bins=bins, alpha=0.6, label="non-members (test)")
    a.axvline(tau, color="k", ls="--", label=rf"$\tau$ from the shadow model = {tau:.3g}")
    a.set(xscale="log", xlabel="cross-entropy loss", title=f"{label} model")
    a.legend(fontsize=8)
ax[0].set_ylabel("examples")
plt.tight_layout()
plt.show()
pd.DataFrame({"members": [np.median(target_in), target_in.mean(), target_in.std()],
              "non-members": [np.median(target_out), target_out.mean(), target_out.std()]},
             index=["median loss", "mean loss", "std of loss"]).round(4)

# %% [markdown]
# ## Threshold from the shadow model, advantage on the target
#
# The attacker picks $\tau$ on the shadow model, where it knows membership, and applies it
# unchanged to the target. Its advantage on the target is $\mathrm{TPR} - \mathrm{FPR}$ of that
# fixed rule ({func}`ccl_lib.metrics.advantage_at_threshold`). For reference, the table also gives
# the advantage of the best threshold chosen *on the target itself*, $\max_\tau(\mathrm{TPR} - \mathrm{FPR})$
# ({func}`ccl_lib.metrics.advantage`). This is the number the paper's figures report, an upper
# bound for any threshold the attacker can pick.

# %%
scores = -np.r_[target_in, target_out]  # higher = member
labels = np.r_[np.ones(len(target_in), dtype=int), np.zeros(len(target_out), dtype=int)]
flag_in, flag_out = target_in <= tau, target_out <= tau
adv_shadow = metrics.advantage_at_threshold(scores, labels, choice.threshold)
adv_best = metrics.advantage(scores, labels)
pd.DataFrame([
    {"rule": "tau from the shadow model", "tau": tau, "TPR": flag_in.mean(), "FPR": flag_out.mean(), "advantage": adv_shadow},
    {"rule": "best tau on the target (Eq. 2)", "tau": np.nan, "TPR": np.nan, "FPR": np.nan, "advantage": adv_best},
]).round(4)

# %% [markdown]
# ## ROC curve, AUC and TPR at low FPR
#
# A single threshold is one point of the **ROC curve**, the TPR against the FPR of every threshold.
# The advantage is the largest vertical gap between the curve and the diagonal. The area under
# the curve (AUC) is the probability that a random member scores higher than a random non-member.
# {cite:t}`carlini2022first` argue that the regime that matters for privacy is the *low* FPR one:
# an attack that identifies a few members with near certainty is dangerous even if its average
# accuracy is modest. Hence the log-log plot and the TPR at FPR $\le 1\%$ and $\le 0.1\%$. With
# `part_size` = 1,000 non-members, FPR $0.1\%$ means a single false positive, so that number is
# noisy. A larger `part_size` sharpens it.

# %%
roc = metrics.roc_curve(scores, labels)
fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
for a, log in zip(ax, (False, True)):
    a.plot(roc.fpr, roc.tpr, label=f"loss attack (AUC = {metrics.roc_auc(scores, labels):.3f})")
    grid = np.logspace(-4, 0, 100) if log else np.linspace(0, 1, 100)
    a.plot(grid, grid, "k:", label="chance")
    a.scatter([flag_out.mean()], [flag_in.mean()], color="tab:red", zorder=3, label=r"$\tau$ from the shadow model")
    a.set(xlabel="false positive rate", ylabel="true positive rate")
    if log:
        a.set(xscale="log", yscale="log", xlim=(1 / len(target_out) / 2, 1), ylim=(1e-3, 1.05), title="log-log")
    else:
        a.set(title="linear")
    a.legend(fontsize=8, loc="lower right")
plt.tight_layout()
plt.show()
summary = {"advantage (best tau, Eq. 2)": adv_best, "advantage (shadow tau)": adv_shadow,
           "AUC": metrics.roc_auc(scores, labels)}
summary.update({f"TPR at FPR <= {f:g}": metrics.tpr_at_fpr(scores, labels, f) for f in low_fprs})
pd.Series(summary, name="loss attack on the target").round(4).to_frame()

# %% [markdown]
# ## The metric-based attacks of the paper in one call
#
# {func}`ccl_lib.attacks.run_attacks` runs the paper's attacks (Sec. 5.1) against a target with a
# shadow model. The metric-based ones threshold the correctness, the loss, the true-class
# confidence, the entropy {cite}`salem2019mlleaks` or the modified entropy
# {cite}`song2021systematic`, with one threshold **per class** learned on the shadow model
# {cite}`song2021systematic`. Per-class thresholds are stronger than the single threshold used
# above, most visibly at low FPR. The NN-based attacks (`"nn"`, `"nn_sorted"`) train an attack
# classifier and are left out here to keep the page fast. `advantage` is Eq. 2 on the target and
# `shadow_advantage` is the advantage of the decisions learned on the shadow model.

# %%
report = run_attacks(target, shadow, target_in=data["target_train"], target_out=data["target_test"],
                     shadow_in=data["shadow_train"], shadow_out=data["shadow_test"],
                     attacks=["correctness", "loss", "confidence", "entropy", "modified_entropy"],
                     kind="tabular", seed=seed, progress=False)
report.round(4)

# %%
gap = target_hist.iloc[-1]
print(f"target: train accuracy {gap.train_acc:.3f}, test accuracy {gap.test_acc:.3f}; "
      f"mean loss {target_in.mean():.4f} (members) vs {target_out.mean():.3f} (non-members)")
print(f"loss attack: advantage {adv_shadow:.3f} with the shadow threshold, {adv_best:.3f} with the best one; "
      f"AUC {metrics.roc_auc(scores, labels):.3f}; TPR at FPR<=1% {metrics.tpr_at_fpr(scores, labels, 0.01):.3f} "
      f"(global threshold) vs {report.set_index('attack').loc['loss', 'tpr@1%']:.3f} (per-class thresholds)")

# %% [markdown]
# ## What we saw
#
# - With 1,000 training examples, the MLP fits its training set perfectly but generalizes
#   modestly. Member losses are orders of magnitude smaller than non-member losses, and their
#   spread is tiny.
# - A threshold picked on a shadow model transfers to the target. The loss attack reaches an
#   advantage close to that of the best threshold chosen on the target itself (printed above).
# - The average-case numbers (advantage, AUC) are large, while the TPR at low FPR is small for a
#   single global threshold. Per-class thresholds raise it. Many non-members are also fit
#   confidently, so the lowest losses are not all members.
# - The loss gap and the tiny member-loss variance are what the Convex-Concave Loss targets. The
#   next chapters show why a convex loss such as cross-entropy shrinks that variance
#   (chapter 2), and how a concave term widens it (chapter 3).
