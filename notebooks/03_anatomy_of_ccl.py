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
# # 3. Anatomy of CCL
#
# The Convex-Concave Loss of {cite:t}`liu2024ccl` adds a concave function of the true-class
# probability $p_y$ to cross-entropy (Eq. 4):
#
# $$
# \ell_{\mathrm{ccl}} = \alpha\,\ell_{\mathrm{ce}} + (1-\alpha)\,\tilde\ell(p_y),
# \qquad \tilde\ell_{\exp}(p) = -e^{p}\ \text{(CCEL, Eq. 5)},
# \qquad \tilde\ell_{\mathrm{qua}}(p) = -p - \tfrac12 p^2\ \text{(CCQL, Eq. 6)}.
# $$
#
# This page looks at the loss as a function of $p_y$ and at the gradient it sends to the logits.
# Everything here is exact arithmetic on a grid of $p_y$ values: no training, no data. The main
# fact is Eq. 11 of the paper: **every loss of $p_y$ sends the cross-entropy gradient, multiplied
# by a weight that depends only on $p_y$**. For CCL that weight grows with $p_y$. Focal loss
# {cite}`lin2017focal` does the opposite.
#
# **Reproduce / rescale:** `papermill 03_anatomy_of_ccl.ipynb out.ipynb -y "alphas: [0.1, 0.3, 0.5, 0.7, 0.9]" -p n_check 100000`
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

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ccl_lib import theory
from ccl_lib.losses import CONCAVE_TERMS, concave_coefficient

p = np.linspace(1e-3, 1.0, n_grid)
losses = {"CE": theory.p_loss("ce"), f"focal (γ={gamma:g})": theory.p_loss("focal", gamma=gamma)}
for a in alphas:
    losses[f"CCEL α={a:g}"] = theory.p_loss("ccel", alpha=a)
    losses[f"CCQL α={a:g}"] = theory.p_loss("ccql", alpha=a)


def style(name):
    """One color per family, one line style per alpha."""
    fam = name.split()[0]
    color = {"CE": "k", "focal": "tab:purple", "CCEL": "tab:red", "CCQL": "tab:blue"}[fam]
    ls = "-" if "α" not in name else ["--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))][
        [f"{a:g}" for a in alphas].index(name.split("=")[1]) % 5]
    return dict(color=color, ls=ls)


# %% [markdown]
# ## The loss as a function of $p_y$
#
# The concave terms are shifted by a constant so that every loss is $0$ at $p_y = 1$, the
# normalization of Theorems 3.1 and 3.2 (a constant changes no gradient). Cross-entropy and focal
# loss are convex in $p_y$. The concave terms bend the curve the other way. With $\alpha < 1$ the
# CCL is still steep near $p_y = 0$ (the $-\alpha\log p_y$ part), but it is less convex, or even
# concave, near $p_y = 1$.

# %%
rows = []
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for name, fn in losses.items():
    l, d1, d2 = theory.loss_derivatives(fn, p)
    ax[0].plot(p, l, label=name, **style(name))
    ax[1].plot(p, d2, label=name, **style(name))
    rows.append({"loss": name, **{f"l({q:g})": float(fn(torch.tensor(q, dtype=torch.float64))) for q in (0.1, 0.5, 0.9)},
                 "l''(0.9)": float(theory.loss_derivatives(fn, [0.9])[2][0]),
                 "l''(1)": float(theory.loss_derivatives(fn, [1.0])[2][0])})
ax[0].set(xlabel="$p_y$", ylabel=r"$\ell(p_y) - \ell(1)$", ylim=(0, 4), title="loss")
ax[1].set(xlabel="$p_y$", ylabel=r"$\ell''(p_y)$", ylim=(-3, 6), title="curvature (convex > 0 > concave)")
ax[1].axhline(0, color="gray", lw=0.8)
ax[0].legend(fontsize=8, ncol=2)
plt.tight_layout()
plt.show()
pd.DataFrame(rows).round(4)

# %% [markdown]
# Near $p_y = 1$, the curvature of CE is $1$, focal loss has curvature $0$, and CCEL with weight
# $\alpha$ has curvature $\alpha - (1-\alpha)e$. That is negative for $\alpha < e/(1+e) \approx 0.73$.
# Focal loss is *more* convex than CE for small $p_y$, but flatter near $p_y = 1$. The paper's
# statement $\ell''_{\mathrm{fl}} \ge \ell''_{\mathrm{ce}}$ holds only on part of $(0, 1]$: see the
# last two columns.

# %% [markdown]
# ## The gradient: cross-entropy's, times a weight $w(p_y)$
#
# For any loss $\ell(p_y)$ of the softmax output, $\partial p_y / \partial z_j = p_y(\mathbb 1[j=y] - p_j)$, so
#
# $$
# \frac{\partial \ell}{\partial z_j} = w(p_y)\,\frac{\partial \ell_{\mathrm{ce}}}{\partial z_j},
# \qquad w(p) = -p\,\ell'(p),
# \qquad \frac{\partial \ell_{\mathrm{ce}}}{\partial z_j} = p_j - \mathbb 1[j=y] \quad \text{(Eq. 9)}.
# $$
#
# For CCL, $w(p) = \alpha - (1-\alpha)\,p\,\tilde\ell'(p)$, the paper's *acceleration coefficient*
# (Eq. 10-11). Since $\tilde\ell' < 0$ and $|\tilde\ell'|$ grows with $p$, the weight increases
# from $\alpha$ at $p_y = 0$ to $\alpha + (1-\alpha)A$ at $p_y = 1$, with $A = -\tilde\ell'(1)$
# ($e$ for CCEL, $2$ for CCQL). These are the bounds of Proposition 4.2. For every $\alpha$ the
# CCL weight crosses $1$ at the same point, where $-p\,\tilde\ell'(p) = 1$: $p e^{p} = 1$, so
# $p_y \approx 0.567$ for CCEL, and $p(1+p) = 1$, so $p_y \approx 0.618$ for CCQL. Below that
# point CCL pushes less than CE, above it more. For focal loss, $w$ starts at $1$, goes slightly
# above $1$ for small $p_y$, and falls to $0$ at $p_y = 1$: focal loss stops pushing on examples
# that are already well fit.

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for name, fn in losses.items():
    w = theory.ce_gradient_weight(fn, p)
    ax[0].plot(p, w, label=name, **style(name))
    ax[1].plot(p, w * (1 - p), label=name, **style(name))
ax[0].set(xlabel="$p_y$", ylabel="$w(p_y) = -p_y\\,\\ell'(p_y)$", title="weight on the CE gradient")
ax[1].set(xlabel="$p_y$", ylabel=r"$|\partial \ell / \partial z_y| = w(p_y)(1-p_y)$", title="gradient on the true-class logit")
ax[0].legend(fontsize=8, ncol=2)
plt.tight_layout()
plt.show()

qs = np.array([0.01, 0.5, 0.9, 0.99])
table = pd.DataFrame({name: theory.ce_gradient_weight(fn, qs) for name, fn in losses.items()},
                     index=pd.Index([f"p_y={q:g}" for q in qs], name="w(p_y)")).T
table.round(3)

# %% [markdown]
# Read the right panel as "how hard the optimizer pushes this example's true-class logit up".
# With CE the push is $1 - p_y$. CCL pushes weakly on hard examples (small $p_y$, weight close to
# $\alpha$) and strongly on easy ones (large $p_y$). This spreads the confidences of the training
# examples: the easy ones move towards $p_y = 1$ faster than the hard ones catch up. A spread of
# $p_y$ is a spread of training losses, the variance that Theorems 3.2 and 6.1 relate to privacy
# (chapter 2). Focal loss does the reverse and concentrates the training losses.

# %% [markdown]
# ## The acceleration coefficient for several $\alpha$
#
# The same weight, computed by {func}`ccl_lib.losses.concave_coefficient` (autograd on the
# concave term), with the bounds $\alpha$ and $\alpha + (1-\alpha)A$ of Proposition 4.2 as
# horizontal lines.

# %%
pt = torch.tensor(p, dtype=torch.float64)
fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
bounds = []
for k, concave in enumerate(["exp", "quadratic"]):
    one = torch.ones(1, dtype=torch.float64, requires_grad=True)
    A = -float(torch.autograd.grad(CONCAVE_TERMS[concave](one).sum(), one)[0])
    for a in alphas:
        c = concave_coefficient(pt, a, concave).numpy()
        line, = ax[k].plot(p, c, label=f"α={a:g}")
        ax[k].axhline(a, color=line.get_color(), lw=0.6, ls=":")
        ax[k].axhline(a + (1 - a) * A, color=line.get_color(), lw=0.6, ls=":")
        bounds.append(dict(concave=concave, alpha=a, A=A, lower=a, upper=a + (1 - a) * A,
                           coef_at_0=float(c[0]), coef_at_1=float(c[-1])))
    ax[k].set(xlabel="$p_y$", title=f"{'CCEL' if concave == 'exp' else 'CCQL'}: " + r"$\alpha-(1-\alpha)p_y\tilde\ell'(p_y)$")
    ax[k].legend()
ax[0].set_ylabel("acceleration coefficient")
plt.tight_layout()
plt.show()
pd.DataFrame(bounds).round(4)

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
check.style.format({"max_abs_error": "{:.2e}", "max_abs_grad": "{:.3f}", "max_rel_error": "{:.2e}"})

# %%
worst64 = check.loc[check.dtype == "float64", "max_abs_error"].max()
worst32 = check.loc[check.dtype == "float32", "max_abs_error"].max()
print(f"largest |closed form - autograd|: float64 {worst64:.1e}, float32 {worst32:.1e}")

# %% [markdown]
# ## What we saw
#
# - Every loss of $p_y$ sends the cross-entropy gradient times a weight $w(p_y) = -p_y\ell'(p_y)$.
#   For CCL this weight is the acceleration coefficient of Eq. 10-11. It rises from $\alpha$ at
#   $p_y = 0$ to $\alpha + (1-\alpha)A$ at $p_y = 1$ ($A = e$ for CCEL, $2$ for CCQL), exactly the
#   bounds of Proposition 4.2. It crosses CE's weight $1$ at $p_y \approx 0.57$ (CCEL) or $0.62$
#   (CCQL), whatever the value of $\alpha$. For focal loss the weight falls to $0$ as $p_y \to 1$.
# - So CCL keeps CE's gradient direction. It shifts the effort towards examples that are already
#   confident, which spreads the training losses. Focal loss concentrates them.
# - The closed-form gradient agrees with autograd to float64 round-off (largest error printed
#   above, about $10^{-16}$) and to float32 round-off (about $10^{-7}$).
