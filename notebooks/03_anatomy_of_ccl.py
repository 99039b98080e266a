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
# # 3. Anatomy of CCL
#
# The Convex-Concave Loss of {cite:t}`liu2024ccl` adds a concave function of the true-class
# probability $p_y$ to cross-entropy (Eq. 4-6):
#
# $$
# \begin{aligned}
# \ell_{\mathrm{ccl}} &= \alpha\,\ell_{\mathrm{ce}} + (1-\alpha)\,\tilde\ell(p_y), \\
# \tilde\ell_{\exp}(p) &= -e^{p} \qquad \text{(CCEL, Eq. 5)}, \\
# \tilde\ell_{\mathrm{qua}}(p) &= -p - \tfrac12 p^2 \qquad \text{(CCQL, Eq. 6)}.
# \end{aligned}
# $$
#
# Chapter 2 showed *why* a concave term should spread the training losses. This chapter looks
# at *how*: at the loss as a function of $p_y$ and at the gradient it sends to the logits.
# Everything here is exact arithmetic on a grid of $p_y$ values: no training, no data. The main
# fact is Eq. 11 of the paper: **every loss of $p_y$ sends the cross-entropy gradient, multiplied
# by a weight that depends only on $p_y$**. For CCL that weight grows with $p_y$; focal loss
# {cite}`lin2017focal` does the opposite.
#
# **Learning goals.** After this chapter you can
#
# - write any loss of $p_y$ as "cross-entropy's gradient times a weight $w(p_y) = -p_y\ell'(p_y)$";
# - read off where CCL pushes harder than cross-entropy, and show that this point does not
#   depend on $\alpha$;
# - say how $\alpha$ changes the curvature of CCL near $p_y = 1$;
# - plug a concave term of your own into {mod}`ccl_lib.losses` and check its gradient.
#
# **Prerequisites.** Chapter 2 (Definition 4.1 and Proposition 4.2); the softmax and its
# derivative.
#
# **Reproduce / rescale:**
# `papermill 03_anatomy_of_ccl.ipynb out.ipynb -p alphas "[0.1, 0.3, 0.5, 0.7, 0.9]" -p n_check 100000`
# (the defaults run in a few seconds on a CPU; nothing here needs a GPU).

# %% tags=["parameters"]
# CCL trade-off weights to draw (Eq. 4)
alphas = [0.2, 0.5, 0.8]
# focal-loss exponent (the paper's Sec. 3.1 uses 2)
gamma = 2.0
# points of p_y in (0, 1]
n_grid = 400
# random logit vectors for the gradient check
n_check = 2048
# classes of the random logits
num_classes = 10
# std of the random logits (so p_y covers (0, 1))
logit_scale = 5.0
seed = 0

# %% tags=["remove-input"]
# %matplotlib inline
from ccl_lib import book

book.setup()
from ccl_lib.parameters import check_parameters

globals().update(check_parameters("03_anatomy_of_ccl", globals()))

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ccl_lib import scorecard, theory
from ccl_lib.analysis import foundations
from ccl_lib.analysis.findings import glue_findings
from ccl_lib.formatting import format_table
from ccl_lib.losses import concave_coefficient
from ccl_lib.plots import book_figsize

CHAPTER = "03_anatomy_of_ccl"

# %% [markdown]
# ## The loss as a function of $p_y$
#
# The concave terms are shifted by a constant so that every loss is $0$ at $p_y = 1$, the
# normalization of Theorems 3.1 and 3.2 (a constant changes no gradient;
# {func}`ccl_lib.theory.p_loss`). Cross-entropy and focal loss are convex in $p_y$. The concave
# terms bend the curve the other way. With $\alpha < 1$ the CCL is still steep near $p_y = 0$
# (the $-\alpha\log p_y$ part), but it is less convex, or even concave, near $p_y = 1$.

# %%
p = np.linspace(1e-3, 1.0, n_grid)
losses = {"CE": theory.p_loss("ce"), f"focal (γ={gamma:g})": theory.p_loss("focal", gamma=gamma)}
for a in alphas:
    losses[f"CCEL α={a:g}"] = theory.p_loss("ccel", alpha=a)
    losses[f"CCQL α={a:g}"] = theory.p_loss("ccql", alpha=a)


# %% tags=["remove-input"]
def style(name):
    """One color per family, one line style per alpha."""
    fam = name.split()[0]
    color = {"CE": "k", "focal": "tab:purple", "CCEL": "tab:red", "CCQL": "tab:blue"}[fam]
    if "α" not in name:
        return dict(color=color, ls="-")
    k = [f"{a:g}" for a in alphas].index(name.split("=")[1])
    return dict(color=color, ls=["--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))][k % 5])


curves, shape = foundations.loss_shapes(losses, p)
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.8))
for name, (val, d2) in curves.items():
    ax[0].plot(p, val, label=name, **style(name))
    ax[1].plot(p, d2, **style(name))
ax[0].set(xlabel="$p_y$", ylabel=r"$\ell(p_y) - \ell(1)$", ylim=(0, 4), title="loss")
ax[1].set(xlabel="$p_y$", ylabel=r"$\ell''(p_y)$", ylim=(-3, 6), title="curvature (convex > 0 > concave)")
ax[1].axhline(0, color="gray", lw=0.8)
fig.legend(*ax[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4)
plt.tight_layout()
plt.show()
format_table(shape, hide_index=True)

# %% [markdown]
# Near $p_y = 1$ the curvature of CE is $1$, focal loss has curvature $0$, and CCEL with weight
# $\alpha$ has curvature $\alpha - (1-\alpha)e$, negative for
# $\alpha < e/(1+e) \approx$ {glue:text}`ch03_crit_exp:.3f`. (CCQL's is $\alpha - (1-\alpha) = 2\alpha - 1$,
# negative for $\alpha < 0.5$.) Focal loss is *more* convex than CE for small $p_y$ (at $p_y = 0.1$
# its curvature is {glue:text}`ch03_focal_d2_01:.3g` against CE's {glue:text}`ch03_ce_d2_01:.3g`) but
# flatter near $p_y = 1$ ({glue:text}`ch03_focal_d2_09:.3g` against {glue:text}`ch03_ce_d2_09:.3g` at
# $p_y = 0.9$). The paper's statement $\ell''_{\mathrm{fl}} \ge \ell''_{\mathrm{ce}}$ (Sec. 3.1)
# holds only on part of $(0, 1]$.
#
# ## The gradient: cross-entropy's, times a weight $w(p_y)$
#
# For any loss $\ell(p_y)$ of the softmax output,
# $\partial p_y / \partial z_j = p_y(\mathbb 1[j=y] - p_j)$, so
#
# $$
# \begin{aligned}
# \frac{\partial \ell}{\partial z_j} &= w(p_y)\,\frac{\partial \ell_{\mathrm{ce}}}{\partial z_j},
# \qquad w(p) = -p\,\ell'(p), \\
# \frac{\partial \ell_{\mathrm{ce}}}{\partial z_j} &= p_j - \mathbb 1[j=y] \qquad \text{(Eq. 9)}.
# \end{aligned}
# $$
#
# For CCL, $w(p) = \alpha - (1-\alpha)\,p\,\tilde\ell'(p)$, the paper's *acceleration coefficient*
# (Eq. 10-11). Since $\tilde\ell' < 0$ and $|\tilde\ell'|$ grows with $p$, the weight increases
# from $\alpha$ at $p_y = 0$ to $\alpha + (1-\alpha)A$ at $p_y = 1$, with $A = -\tilde\ell'(1)$
# ($e$ for CCEL, $2$ for CCQL): the bounds of Proposition 4.2. For every $\alpha$ the CCL weight
# crosses $1$ at the same point, where $-p\,\tilde\ell'(p) = 1$: $p e^{p} = 1$ for CCEL and
# $p(1+p) = 1$ for CCQL. Below that point CCL pushes less than CE, above it more. For focal loss,
# $w$ starts at $1$, goes slightly above $1$ for small $p_y$, and falls to $0$ at $p_y = 1$: focal
# loss stops pushing on examples that are already well fit.

# %%
weights = {name: theory.ce_gradient_weight(fn, p) for name, fn in losses.items()}
cross = foundations.unit_weight_crossings(("exp", "quadratic"))

# %% tags=["remove-input"]
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.8))
for name, w in weights.items():
    ax[0].plot(p, w, label=name, **style(name))
    ax[1].plot(p, w * (1 - p), **style(name))
for q in cross.values():
    ax[0].axvline(q, color="gray", lw=0.8, ls=":")
ax[0].set(xlabel="$p_y$", ylabel="$w(p_y) = -p_y\\,\\ell'(p_y)$", title="weight on the CE gradient")
ax[1].set(
    xlabel="$p_y$", ylabel=r"$|\partial \ell / \partial z_y| = w(p_y)(1-p_y)$", title="push on the true-class logit"
)
fig.legend(*ax[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4)
plt.tight_layout()
plt.show()
qs = np.array([0.01, 0.5, 0.9, 0.99])
table = pd.DataFrame(
    {name: theory.ce_gradient_weight(fn, qs) for name, fn in losses.items()},
    index=pd.Index([f"p_y = {q:g}" for q in qs], name="w(p_y)"),
).T
format_table(table)

# %% [markdown]
# The dotted vertical lines mark the crossing points, $p_y \approx$ {glue:text}`ch03_cross_exp:.3f`
# for CCEL and {glue:text}`ch03_cross_qua:.3f` for CCQL. Read the right panel as "how hard the
# optimizer pushes this example's true-class logit up". With CE the push is $1 - p_y$. CCL pushes
# weakly on hard examples (small $p_y$, weight close to $\alpha$) and strongly on easy ones (large
# $p_y$). This spreads the confidences of the training examples: the easy ones move towards
# $p_y = 1$ faster than the hard ones catch up. A spread of $p_y$ is a spread of training losses,
# the variance that Theorems 3.2 and 6.1 relate to privacy (chapter 2). Focal loss does the
# reverse and concentrates the training losses.
#
# ## The acceleration coefficient for several $\alpha$
#
# The same weight, computed by {func}`ccl_lib.losses.concave_coefficient` (autograd on the
# concave term), with the bounds $\alpha$ and $\alpha + (1-\alpha)A$ of Proposition 4.2 as
# dotted lines.

# %%
pt = torch.tensor(p, dtype=torch.float64)
coefficients = {
    (concave, a): concave_coefficient(pt, a, concave).numpy() for concave in ("exp", "quadratic") for a in alphas
}

# %% tags=["remove-input"]
bounds = foundations.coefficient_bounds(coefficients)
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.8), sharey=True)
for k, concave in enumerate(["exp", "quadratic"]):
    for row in bounds[bounds["concave term"] == concave].to_dict("records"):
        (line,) = ax[k].plot(p, coefficients[concave, row["alpha"]], label=f"α={row['alpha']:g}")
        for level in (row["lower bound"], row["upper bound"]):
            ax[k].axhline(level, color=line.get_color(), lw=0.8, ls=":")
    ax[k].set(
        xlabel="$p_y$", title=f"{'CCEL' if concave == 'exp' else 'CCQL'}: " + r"$\alpha-(1-\alpha)p_y\tilde\ell'(p_y)$"
    )
    ax[k].legend(loc="upper left")
ax[0].set_ylabel("acceleration coefficient")
plt.tight_layout()
plt.show()
format_table(bounds, hide_index=True)

# %% [markdown]
# ## Closed form against autograd
#
# Eq. 10-11 give the CCL gradient in closed form. {func}`ccl_lib.theory.gradient_check` draws
# random logits (`logit_scale` $\times\, \mathcal N(0,1)$, so that $p_y$ covers $(0,1)$). For each
# concave term, $\alpha$ and precision, it compares the closed form
# ({func}`ccl_lib.theory.ccl_logit_gradient`) with PyTorch's autograd through
# {func}`ccl_lib.losses.convex_concave_loss`.

# %%
check = theory.gradient_check(alphas=alphas, n=n_check, num_classes=num_classes, logit_scale=logit_scale, seed=seed)

# %% tags=["remove-input"]
format_table(check, hide_index=True)

# %% tags=["remove-input"]
findings = foundations.anatomy_findings(shape, cross, check, gamma=gamma)
glue_findings("ch03", findings)
_ = scorecard.record_all(CHAPTER, foundations.anatomy_scorecard_rows(findings, n_check=n_check))

# %% [markdown]
# ## What we saw
#
# Every loss of $p_y$ sends the cross-entropy gradient times a weight $w(p_y) = -p_y\ell'(p_y)$.
# For CCL this weight is the acceleration coefficient of Eq. 10-11. It rises from $\alpha$ at
# $p_y = 0$ to $\alpha + (1-\alpha)A$ at $p_y = 1$ ($A = e$ for CCEL, $2$ for CCQL), exactly the
# bounds of Proposition 4.2, and it crosses CE's weight $1$ at $p_y \approx$
# {glue:text}`ch03_cross_exp:.3f` (CCEL) or {glue:text}`ch03_cross_qua:.3f` (CCQL), whatever the
# value of $\alpha$. For focal loss the weight falls to $0$ as $p_y \to 1$.
#
# So CCL keeps CE's gradient direction. It shifts the effort towards examples that are already
# confident, which spreads the training losses; focal loss concentrates them. $\alpha$ sets how
# far: below $\alpha \approx$ {glue:text}`ch03_crit_exp:.2f` (CCEL) or $0.5$ (CCQL) the loss is
# concave near $p_y = 1$.
#
# The closed-form gradient agrees with autograd to {glue:text}`ch03_worst64:.1e` in float64 and to
# {glue:text}`ch03_worst32:.1e` in float32: round-off in both precisions.
#
# ## Takeaways
#
# - A loss of $p_y$ is characterized by one function, its weight $w(p) = -p\,\ell'(p)$ on the
#   cross-entropy gradient.
# - CCL's weight rises with $p_y$ (it pushes confident examples harder than CE), focal loss's
#   falls (it stops pushing them). The first spreads the training losses, the second concentrates
#   them.
# - The point where CCL starts to push harder than CE depends on the concave term only, not on
#   $\alpha$. $\alpha$ sets the range $[\alpha, \alpha + (1-\alpha)A]$ of the weight.
# - Any function in $\mathcal F$ can be used as the concave term; $A = -\tilde\ell'(1)$ says how
#   hard it pushes confident examples.
#
# ## Exercises
#
# ```{exercise}
# :label: ch03-ex1
#
# **Size:** in class (20 min). **Needs:** this chapter.
#
# **Change $\alpha$.** For which $\alpha$ is CCEL concave at $p_y = 1$, and for which CCQL?
# Check your answer with {func}`ccl_lib.theory.loss_derivatives` on a fine grid of $\alpha$, and
# rerun the chapter with papermill at `-p alphas "[0.1, 0.5, 0.73, 0.9]"` to see the curvature
# panel change sign. Does the crossing point of the weight with 1 move?
# ```
#
# ````{solution} ch03-ex1
# :class: dropdown
#
# ```python
# grid = np.linspace(0.0, 1.0, 1001)
# for name in ("ccel", "ccql"):
#     d2 = np.array([theory.loss_derivatives(theory.p_loss(name, alpha=a), [1.0])[2][0] for a in grid])
#     print(name, "concave at p_y = 1 for alpha <", grid[np.argmax(d2 >= 0)])
# ```
#
# The curvature at $p_y = 1$ is $\alpha\cdot 1 + (1-\alpha)\tilde\ell''(1)$: $\alpha - (1-\alpha)e$
# for CCEL, negative for $\alpha < e/(1+e) = 0.731$, and $2\alpha - 1$ for CCQL, negative for
# $\alpha < 0.5$. The grid search prints 0.732 (the first grid point above $0.7311$) and 0.5. The crossing point of the weight with 1
# does not move with $\alpha$: $\alpha - (1-\alpha)p\tilde\ell'(p) = 1$ is
# $(1-\alpha)(-p\tilde\ell'(p) - 1) = 0$, whose root does not depend on $\alpha < 1$ (at
# $\alpha = 1$ the weight is 1 everywhere).
# ````
#
# ```{exercise}
# :label: ch03-ex2
#
# **Size:** homework (2 h). **Needs:** chapter 2 and this one.
#
# **Your own concave term in the loss.** {func}`ccl_lib.losses.convex_concave_loss` accepts any
# callable in $\mathcal F$ as `concave`. Take $\tilde\ell(p) = \log(2 - p)$ (the first exercise of
# chapter 2): (a) check that the closed-form gradient of Eq. 10-11
# ({func}`ccl_lib.theory.ccl_logit_gradient`) matches autograd for it; (b) find where its weight
# crosses 1; (c) train the paper's MLP on scikit-learn's digits with it for 20 epochs, through a
# small {class}`ccl_lib.train.Objective`.
# ```
#
# ````{solution} ch03-ex2
# :class: dropdown
#
# ```python
# from ccl_lib.data import load_dataset
# from ccl_lib.losses import convex_concave_loss
# from ccl_lib.models import build_model
# from ccl_lib.splits import make_splits
# from ccl_lib.train import Objective, TrainConfig, fit
#
# f = lambda q: torch.log(2 - q)
# z = 5 * torch.randn(512, 10, dtype=torch.float64)
# t = torch.randint(0, 10, (512,))
# auto = theory.autograd_logit_gradient(lambda a, b: convex_concave_loss(a, b, 0.5, f, reduction="sum"), z, t)
# print((theory.ccl_logit_gradient(z, t, 0.5, f) - auto).abs().max())        # ~1e-16           (a)
# print(concave_coefficient(torch.tensor([0.5, 0.9, 1.0], dtype=torch.float64), 0.0, f))  # (b)
#
# class LogCCL(Objective):
#     name = "ccl_log"
#     def loss(self, model, x, y, **kw):
#         return convex_concave_loss(model(x), y, alpha=0.5, concave=f)
#
# ds = load_dataset("digits")
# sp = make_splits(ds.y, size=400, seed=0)
# xs, ys = ds.features(sp.target_train), torch.from_numpy(ds.y[sp.target_train])
# xt, yt = ds.features(sp.target_test), torch.from_numpy(ds.y[sp.target_test])
# torch.manual_seed(0)  # the same initialization for CCL and for CE (objective=None)
# model = build_model("mlp", ds.input_shape, ds.num_classes)
# h = fit(model, xs, ys, objective=LogCCL(), x_test=xt, y_test=yt,
#         config=TrainConfig(epochs=20), progress=False).history_frame()            # (c)
# print(h[["epoch", "train_acc", "test_acc", "train_loss_var"]].tail(3))
# ```
#
# (a) The closed form and autograd agree to round-off (about $10^{-16}$ in float64): Eq. 11 holds
# for any differentiable term. (b) With `alpha = 0` the coefficient is the term's own weight
# $-p\tilde\ell'(p) = p/(2-p)$: 0.33 at $p_y = 0.5$, 0.82 at 0.9, and exactly 1 at $p_y = 1$. It
# never exceeds 1, so it never crosses: with $A = -\tilde\ell'(1) = 1$ this CCL never pushes an
# example harder than CE does; it only pushes hard examples less. (c) The model trains normally:
# after 20 epochs, 97.3 % training and 91.0 % test accuracy, against 97.8 % and 93.8 % for plain
# CE from the same initialization (rerun with `objective=None`), with a larger
# training-loss variance (0.34 against 0.21). The
# library's defenses (`get_defense("ccl", concave=...)`) take the named terms `"exp"` and
# `"quadratic"` only, so that runs stay cacheable by name; a custom term goes through an
# `Objective` as above.
# ````
#
# ```{exercise}
# :label: ch03-ex3
#
# **Size:** in class (20 min). **Needs:** this chapter.
#
# **Focal loss's weight.** Derive $w(p)$ for focal loss, $\ell(p) = -(1-p)^\gamma\log p$, and find
# the $p_y$ at which it is largest for $\gamma = 2$. Check against the left panel of the gradient
# figure. Why does this weight make focal loss concentrate the training losses, the opposite of
# CCL?
# ```
#
# ````{solution} ch03-ex3
# :class: dropdown
#
# $\ell'(p) = \gamma(1-p)^{\gamma-1}\log p - (1-p)^\gamma/p$, so
# $w(p) = -p\,\ell'(p) = (1-p)^\gamma - \gamma\,p\,(1-p)^{\gamma-1}\log p$. At $p = 0$ it is 1; at
# $p = 1$ it is 0.
#
# ```python
# w = theory.ce_gradient_weight(theory.p_loss("focal", gamma=2.0), p)
# print(p[np.argmax(w)], w.max())
# ```
#
# For $\gamma = 2$ the maximum is small and early: $w \approx 1.22$ at $p_y \approx 0.10$, after
# which the weight falls steadily to 0. Examples that are already fit (large $p_y$) get almost no
# gradient, while hard examples keep getting CE's full push. Hard examples catch up and easy ones
# stand still, so the confidences, and the training losses, bunch together: a smaller variance,
# the effect Figure 1 of the paper (chapter 4) measures.
# ````
