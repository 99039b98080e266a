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
# # 2. Theory, numerically
#
# {cite:t}`liu2024ccl` motivate the Convex-Concave Loss with a chain of short results: a convex
# loss favours a small spread of the true-class probability $p_y$ (Theorem 3.1), a concave one a
# large spread (Theorem 3.2), a large spread of the members' losses lowers the loss attack's
# advantage (Theorem 6.1), the attack metrics inherit the spread of $p_y$ (Proposition C.2), and
# the CCL gradient is a bounded rescaling of cross-entropy's (Proposition 4.2) with no spurious
# minima for logistic regression (Sec. 6). This chapter states each result with its proof, then
# checks it numerically, by sampling, quadrature or optimization, and says exactly what the
# numbers do and do not show. Two of the results need an extra condition to hold, and one holds
# only in part of its range. The computations live in {mod}`ccl_lib.theory`, which is tested
# against closed forms.
#
# **Learning goals.** After this chapter you can
#
# - derive Theorems 3.1 and 3.2 from a second-order Taylor expansion at $p_y = 1$, and say what
#   the sign of the variance coefficient does and does not imply;
# - compute the advantage of the loss-threshold attack under Gaussian losses (Eq. 17-18), and
#   state when a larger member-loss spread lowers it and when it raises it;
# - bound the CCL gradient by scaled cross-entropy gradients (Proposition 4.2);
# - tell a delta-method approximation from the quantity it approximates, and find where
#   Proposition C.2 fails;
# - check a theorem's claim numerically, and design the check so that it could fail.
#
# **Prerequisites.** Chapter 1 (the loss attack, TPR and FPR). Taylor's theorem with the Lagrange
# remainder, convex and concave functions, the normal CDF $\Phi$, the mean and covariance of a
# random vector.
#
# **Reproduce / rescale:**
# `papermill 02_theory.ipynb out.ipynb -p n_samples 1000000 -p n_mc 1000000 -p lr_n_starts 50`
# takes a few CPU minutes and gains nothing from a GPU. The defaults take about 15 s on two CPU
# cores.

# %% tags=["parameters"]
# draws of p_y per Beta distribution (Theorem 3.1)
n_samples = 20_000
# concentrations at a fixed mean of p_y (Theorems 3.1-3.2)
n_fixed_mean = 20
# E[p_y] for that sweep
fixed_mean = 0.8
# random Beta distributions of p_y (Theorem 3.2)
n_distributions = 40
# mean of the Gaussian member losses (Theorem 6.1)
mu_s = 0.3
# mean of the Gaussian non-member losses
mu_d = 1.5
# standard deviation of the non-member losses
sigma_d = 0.8
# false-positive rates of the loss-threshold attack (Eq. 18)
fprs = [0.1, 0.01]
# simulated members and non-members per repeat
n_sim = 10_000
# repeats per simulated point
n_repeats = 20
# random logit vectors (Proposition 4.2)
n_logits = 2_000
# std of the random logits
logit_scale = 5.0
# CCL weight (Eq. 4) in Proposition 4.2 and Sec. 6
alpha = 0.5
# classes of the random logits
num_classes = 10
# mean probability vector of the Dirichlet model (App. C); the true class is the first
dirichlet_mu = [0.7, 0.2, 0.1]
# Dirichlet concentrations alpha_0, from 0.1 to 1000
n_concentrations = 13
# Monte Carlo draws per Dirichlet
n_mc = 50_000
# real data for Sec. 6 (any tabular name of ccl_lib.data)
lr_dataset = "digits"
# examples used (first n of the pooled data set)
lr_max_examples = 1_000
# random starts per objective
lr_n_starts = 6
# L2 penalty on the weights (makes the minimum unique and finite)
lr_l2 = 1e-3
# std of the random starts
lr_init_scale = 1.0
# concave term of Sec. 6's experiment ("exp" = CCEL, "quadratic" = CCQL)
lr_concave = "exp"
seed = 0

# %% tags=["remove-input"]
# %matplotlib inline
from ccl_lib import book

book.setup()
from ccl_lib.parameters import check_parameters

globals().update(check_parameters("02_theory", globals()))

# %% tags=["remove-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from ccl_lib import scorecard, theory
from ccl_lib.analysis.findings import glue_findings
from ccl_lib.data import load_dataset
from ccl_lib.formatting import format_table, narrow_table, pct
from ccl_lib.plots import book_figsize

CHAPTER = "02_theory"
rng = np.random.default_rng(seed)
sc_rows = []  # the chapter's scorecard rows, recorded at its end (scorecard.record_all)

# %% [markdown]
# ## Theorem 3.1: a convex loss favours a small spread of $p_y$
#
# Write $1 - \epsilon = \mathbb E[p_y]$ and $\sigma^2 = \mathrm{Var}(p_y)$ over the data
# distribution $\mathcal D$, with $0 < \epsilon < 1$.
#
# ```{prf:theorem} 3.1 of the paper
# :nonumber:
# :label: ch02-thm-31
#
# Let $\ell \in C^2(0, 1]$ with $\ell(1) = 0$ and $\ell'(x) < 0$ for all $x \in (0, 1]$. If
# $\ell$ is strictly convex, then
#
# $$
# \mathbb E_{\mathcal D}[\ell(p_y)] \;\ge\; A\,\epsilon + \frac{B}{2}\,(\epsilon^2 + \sigma^2),
# $$
#
# where $A = -\ell'(1) > 0$ and $B = \inf_{(0,1]} \ell'' \ge 0$.
# ```
#
# ```{prf:proof}
# Taylor's theorem at $1$ with the Lagrange remainder gives, for each $p \in (0, 1]$, a
# $\xi \in [p, 1]$ with
#
# $$
# \ell(p) = \ell(1) + \ell'(1)(p - 1) + \tfrac12 \ell''(\xi)(p - 1)^2
# \;\ge\; A\,(1 - p) + \tfrac{B}{2}\,(1 - p)^2 ,
# $$
#
# since $\ell(1) = 0$ and $\ell''(\xi) \ge B$. The inequality holds for every $p$, so it holds in
# expectation. With $\mathbb E[1 - p_y] = \epsilon$ and
# $\mathbb E[(1 - p_y)^2] = \mathrm{Var}(p_y) + \epsilon^2 = \sigma^2 + \epsilon^2$ the claim
# follows. (The paper's proof says $\ell'' > 0$; convexity gives $\ell'' \ge 0$, which is all the
# proof uses.)
# ```
#
# For cross-entropy $\ell = -\log p$: $A = 1$ and $B = \inf 1/p^2 = 1$. Because the inequality
# holds pointwise, it holds for *any* distribution of $p_y$, including the empirical distribution
# of a sample. The check below draws $p_y$ from 12 Beta distributions and reports, besides the
# bound, the exact coefficient $c$ with $\mathbb E[\ell] = A\epsilon + c\,(\epsilon^2+\sigma^2)$;
# the theorem says $c \ge B/2$.
#
# Focal loss with $\gamma = 2$, $-(1-p)^2\log p$, has $\ell'(1) = \ell''(1) = 0$. It violates the
# assumption $\ell' < 0$ at $p_y = 1$, and its bound degenerates to $A = B = 0$, i.e.
# $\mathbb E[\ell] \ge 0$.

# %%
beta_grid = [(a, b) for a in (0.5, 2.0, 5.0, 20.0) for b in (0.5, 1.0, 3.0)]
rows = []
for a, b in beta_grid:
    p = np.clip(rng.beta(a, b, n_samples), 1e-12, 1.0)  # p_y = 0 would make CE infinite
    ce, fl = theory.taylor_bound("ce", p), theory.taylor_bound("focal", p)
    row = {"a": a, "b": b, "eps": ce.eps, "sigma2": ce.sigma2, "holds": ce.holds and fl.holds}
    for loss, tb in (("ce", ce), ("focal", fl)):
        row |= {f"E_{loss}": tb.expected_loss, f"bound_{loss}": tb.bound, f"c_{loss}": tb.coefficient}
    rows.append(row)
thm31 = pd.DataFrame(rows)

# %% tags=["remove-input"]
fig, ax = plt.subplots(figsize=book_figsize(1, 1, aspect=0.6, width=5.5))
ax.scatter(thm31.bound_ce, thm31.E_ce, label="cross-entropy")
ax.scatter(thm31.bound_focal, thm31.E_focal, marker="s", label="focal (γ=2): its bound is 0")
lim = [0, 1.05 * thm31.E_ce.max()]
ax.plot(lim, lim, "k--", lw=1, label="E[loss] = bound")
ax.set(
    xlabel=r"lower bound $A\epsilon + \frac{B}{2}(\epsilon^2+\sigma^2)$",
    ylabel=r"$\mathbb{E}[\ell(p_y)]$",
    title=f"Theorem 3.1 on {len(thm31)} Beta distributions of $p_y$",
)
ax.legend()
plt.show()

# %% tags=["hide-output", "remove-input"]
format_table(
    thm31.rename(columns={"a": "Beta a", "b": "Beta b"}),
    hide_index=True,
    caption="Theorem 3.1: expected losses, bounds and exact coefficients (12 Beta distributions)",
)

# %% tags=["remove-input"]
margin31 = float(np.min(thm31.E_ce - thm31.bound_ce))
glue("ch02_t31_n", len(thm31), display=False)
glue("ch02_t31_all", "every one" if bool(thm31.holds.all()) else "not every one", display=False)
glue("ch02_t31_cmin", float(thm31.c_ce.min()), display=False)
sc_rows.append(
    dict(
        item="Thm 3.1",
        setting=f"exact E[l(p_y)] on {len(thm31)} Beta distributions (CE, focal)",
        verdict="agrees" if bool(thm31.holds.all()) else "not reproduced",
        interval=f"smallest E[l] - bound = {margin31:.2g}; smallest CE coefficient {thm31.c_ce.min():.3f} >= B/2 = 0.5",
        cause="" if bool(thm31.holds.all()) else "the bound fails on a sampled distribution",
    )
)

# %% [markdown]
# Every point lies on or above the diagonal. The bound for CE is tight when $p_y$ concentrates
# near $1$ (small $\epsilon$, the regime of a fitted model) and loose when much of the mass sits
# near $0$, where $-\log p$ is far above its quadratic approximation. (The table of all twelve
# distributions is in the collapsed output above.)
#
# ### What the bound does and does not say about the variance
#
# A lower bound that grows with $\sigma^2$ does not by itself show that the loss grows with
# $\sigma^2$. A cleaner statement is Jensen's: for a fixed mean, a mean-preserving spread of $p_y$
# *raises* $\mathbb E[\ell(p_y)]$ when $\ell$ is convex and *lowers* it when $\ell$ is concave. To
# see it, fix $\mathbb E[p_y] = 0.8$ and vary the concentration $\kappa$ of
# $p_y \sim \mathrm{Beta}(0.8\kappa, 0.2\kappa)$, so that $\sigma^2 = 0.16/(\kappa+1)$, and compute
# $\mathbb E[\ell(p_y)]$ exactly by quadrature. A convex loss charges more for the same mean with
# more spread, a concave one less. So at equal mean confidence, gradient descent on a convex loss
# is pushed towards a small variance, and on a concave loss towards a large one. That is the
# paper's argument in one picture.

# %%
kappas = np.geomspace(1.0, 200.0, n_fixed_mean)
sweep_losses = {
    "CE": "ce",
    "focal (γ=2)": "focal",
    "concave exp (Eq. 5)": "exp",
    "concave quadratic (Eq. 6)": "quadratic",
}
sweep = {"sigma2": fixed_mean * (1 - fixed_mean) / (kappas + 1)}
for label, name in sweep_losses.items():
    sweep[label] = [theory.beta_expected_loss(name, k * fixed_mean, k * (1 - fixed_mean)) for k in kappas]
sweep = pd.DataFrame(sweep, index=pd.Index(kappas, name="kappa"))

# %% tags=["remove-input"]
fig, ax = plt.subplots(figsize=book_figsize(1, 1, aspect=0.6, width=5.5))
for label in sweep_losses:
    ax.plot(sweep.sigma2, sweep[label], marker="o", ms=3, label=label)
ax.set(
    xlabel=r"$\sigma^2 = \mathrm{Var}(p_y)$ at fixed $\mathbb{E}[p_y]$ = " + f"{fixed_mean:g}",
    ylabel=r"$\mathbb{E}[\ell(p_y)]$ (with $\ell(1)=0$)",
    title="same mean confidence, more spread",
)
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
plt.show()
rising = {label: bool(np.all(np.diff(sweep[label].to_numpy()) < 0)) for label in sweep_losses}  # kappa up = spread down
glue("ch02_sweep_convex_ok", "rise" if rising["CE"] and rising["focal (γ=2)"] else "do not all rise", display=False)
glue(
    "ch02_sweep_concave_ok",
    "fall" if not any(rising[k] for k in list(sweep_losses)[2:]) else "do not all fall",
    display=False,
)

# %% [markdown]
# ## Theorem 3.2: for a concave loss the coefficient is negative
#
# ```{prf:theorem} 3.2 of the paper
# :nonumber:
# :label: ch02-thm-32
#
# Let $\ell \in C^2[0, 1]$ with $\ell(1) = 0$ and $\ell'(x) < 0$ for all $x \in [0, 1]$. If
# $\ell$ is strictly concave, there is a constant $B \le 0$ with
#
# $$
# \mathbb E_{\mathcal D}[\ell(p_y)] = A\,\epsilon + B\,(\sigma^2 + \epsilon^2), \qquad A = -\ell'(1) > 0 .
# $$
# ```
#
# ```{prf:proof}
# The same expansion gives
# $\mathbb E[\ell(p_y)] = A\epsilon + \tfrac12\mathbb E[\ell''(\xi(p_y))\,(1-p_y)^2]$. On the compact
# interval $[0, 1]$ the continuous $\ell''$ lies between $m = \min \ell''$ and
# $M = \max \ell'' \le 0$. Hence the expectation lies between $\tfrac m2\,\mathbb E[(1-p_y)^2]$ and
# $\tfrac M2\,\mathbb E[(1-p_y)^2]$, and
# $B = \mathbb E[\tfrac12\ell''(\xi)(1-p_y)^2] / \mathbb E[(1-p_y)^2] \in [\tfrac m2, \tfrac M2]$,
# which is $\le 0$. (App. B reaches the same point through the mean value theorem for integrals.)
# ```
#
# ```{prf:remark} The coefficient depends on the distribution
# :nonumber:
# :label: ch02-rem-B
#
# $B$ depends on the distribution of $p_y$: the theorem fixes only its sign, and the proof its
# range $[\tfrac12\min\ell'', \tfrac12\max\ell'']$. For the concave quadratic of Eq. 6, shifted to
# $\ell(p) = \tfrac32 - p - \tfrac12 p^2$, $\ell'' \equiv -1$ and $B = -\tfrac12$ exactly. For the
# exponential term $\ell(p) = e - e^{p}$, $\ell'' = -e^{p}$, so $B \in [-e/2, -\tfrac12]$.
# ```
#
# The concave terms the paper uses are those of its Definition 4.1:
#
# ```{prf:definition} 4.1 of the paper: concave term
# :nonumber:
# :label: ch02-def-41
#
# $\mathcal F = \{ f \in C^2[0, 1] \mid f'(x) < 0,\ f''(x) < 0\ \ \forall x \in [0, 1] \}$.
# ```
#
# $f' < 0$ keeps the term decreasing in $p_y$ (a smaller loss means a more confident correct
# prediction), and $f'' < 0$ makes it concave, so that Theorem 3.2 applies.
# {func}`ccl_lib.losses.check_concave_term` checks both conditions numerically for any function.
#
# The check computes $B$ exactly ({func}`ccl_lib.theory.concave_coefficient_B`, quadrature of
# $\mathbb E[\ell(p_y)]$) for random Beta distributions of $p_y$, together with the same coefficient
# for CE and for CCEL with $\alpha$ = `alpha`.

# %%
ab = np.exp(rng.uniform(np.log(0.3), np.log(30.0), size=(n_distributions, 2)))
ccel = theory.p_loss("ccel", alpha=alpha)
rows = []
for a, b in ab:
    cexp = theory.concave_coefficient_B("exp", beta=(a, b))
    cqua = theory.concave_coefficient_B("quadratic", beta=(a, b))
    row = {"a": a, "b": b, "mean_p": a / (a + b), "B_exp": cexp.B, "B_quadratic": cqua.B}
    row |= {"B_exp_min": cexp.B_min, "B_exp_max": cexp.B_max}
    row |= {
        "B_ce": theory.taylor_coefficient("ce", beta=(a, b)),
        "B_ccel": theory.taylor_coefficient(ccel, beta=(a, b)),
    }
    rows.append(row)
thm32 = pd.DataFrame(rows).sort_values("mean_p")

# %% tags=["remove-input"]
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.8))
ax[0].scatter(thm32.mean_p, thm32.B_exp, label="concave exp: $e - e^{p}$")
ax[0].scatter(thm32.mean_p, thm32.B_quadratic, marker="s", label=r"concave quadratic")
ax[0].axhspan(-np.e / 2, -0.5, color="tab:blue", alpha=0.1, label=r"proof's range for exp")
ax[0].axhline(0, color="gray", lw=0.8)
ax[0].set(xlabel=r"$\mathbb{E}[p_y]$", ylabel="exact coefficient $B$", title="Theorem 3.2: concave terms")
ax[0].set_ylim(top=0.6)
ax[0].legend(loc="upper right")
ax[1].scatter(thm32.mean_p, thm32.B_ce, label="CE")
ax[1].scatter(thm32.mean_p, thm32.B_ccel, marker="^", label=f"CCEL, α={alpha:g}")
ax[1].axhline(0, color="gray", lw=0.8)
ax[1].set(xlabel=r"$\mathbb{E}[p_y]$", title="convex CE and the mixture")
ax[1].legend()
plt.tight_layout()
plt.show()
cols32 = ["B_exp", "B_quadratic", "B_ce", "B_ccel"]
summary32 = pd.DataFrame(
    {"min B": thm32[cols32].min(), "max B": thm32[cols32].max(), "share with B < 0": (thm32[cols32] < 0).mean()}
)
format_table(summary32, percent=["share with B < 0"])

# %% tags=["remove-input"]
neg = thm32[thm32.B_ccel < 0].mean_p
pos = thm32[thm32.B_ccel >= 0].mean_p
ok32 = bool(
    (thm32.B_exp < 0).all()
    and (thm32.B_quadratic < 0).all()
    and (thm32.B_exp >= thm32.B_exp_min - 1e-9).all()
    and (thm32.B_exp <= thm32.B_exp_max + 1e-9).all()
)
glue("ch02_t32_n", len(thm32), display=False)
glue("ch02_t32_exp_min", float(thm32.B_exp.min()), display=False)
glue("ch02_t32_exp_max", float(thm32.B_exp.max()), display=False)
glue("ch02_ccel_neg_from", float(neg.min()) if len(neg) else float("nan"), display=False)
glue("ch02_ccel_pos_to", float(pos.max()) if len(pos) else float("nan"), display=False)
sc_rows.append(
    dict(
        item="Thm 3.2",
        setting=f"exact B on {len(thm32)} Beta distributions (exp, quadratic terms)",
        verdict="agrees" if ok32 else "not reproduced",
        interval=f"B in [{thm32.B_exp.min():.3f}, {thm32.B_exp.max():.3f}] (exp), {thm32.B_quadratic.mean():.3f} "
        "(quadratic)",
        cause="" if ok32 else "a sampled distribution gives B >= 0 or B outside the proof's range",
    )
)

# %% [markdown]
# Both concave terms have $B < 0$ on every distribution, inside the range the proof allows. For CE,
# $B \ge \tfrac12$ always, as Theorem 3.1 requires; it is large when $p_y$ has mass near $0$. The
# CCL mixes the two: its coefficient is $\alpha B_{\mathrm{ce}} + (1-\alpha) B_{\mathrm{concave}}$.
# It is negative only for distributions with a high mean confidence, the late stage of training
# where the paper expects the concave term to take over.
#
# ## Theorem 6.1: loss spread and the loss-threshold attack
#
# The attack of {cite:t}`yeom2018privacy` flags a query as a member when its loss is at most $\tau$
# (Eq. 14).
#
# ```{prf:theorem} 6.1 of the paper
# :nonumber:
# :label: ch02-thm-61
#
# Let the loss be $\mathcal N(\mu_S, \sigma_S^2)$ on members ($m = 1$) and
# $\mathcal N(\mu_D, \sigma_D^2)$ on non-members ($m = 0$). The advantage of
# $\mathcal A_{\mathrm{loss}} = \mathbb 1[\text{loss} \le \tau]$ is
#
# $$
# \mathrm{Adv}(\tau) = \Phi\!\left(\frac{\tau-\mu_S}{\sigma_S}\right) - \Phi\!\left(\frac{\tau-\mu_D}{\sigma_D}\right)
# \qquad \text{(Eq. 17)}.
# $$
#
# If $\tau$ is chosen so that the false-positive rate is $\alpha$, i.e.
# $\tau = \mu_D + \Phi^{-1}(\alpha)\,\sigma_D$, then
#
# $$
# \mathrm{Adv} = \Phi\!\left(\frac{\Phi^{-1}(\alpha)\,\sigma_D + \mu_D - \mu_S}{\sigma_S}\right) - \alpha
# \qquad \text{(Eq. 18)}.
# $$
# ```
#
# ```{prf:proof}
# $\mathrm{Adv} = \Pr(\text{loss} \le \tau \mid m=1) - \Pr(\text{loss} \le \tau \mid m=0)$, and each
# probability is a normal CDF at the standardized threshold. Substituting $\tau$ into the first
# term and $\Phi((\tau - \mu_D)/\sigma_D) = \alpha$ into the second gives Eq. 18.
# ```
#
# The paper concludes that a larger $\sigma_S$ lowers the advantage. Differentiating Eq. 18 shows
# when:
#
# ```{prf:remark} When a larger spread helps
# :nonumber:
# :label: ch02-rem-61
#
# $\partial\,\mathrm{Adv} / \partial\sigma_S = -\varphi(z)\,(\tau - \mu_S)/\sigma_S^2$ with
# $z = (\tau - \mu_S)/\sigma_S$. The advantage **decreases** in $\sigma_S$ exactly when
# $\tau > \mu_S$, i.e. while the attacker flags more than half of the members. At a small
# false-positive rate the threshold can fall below $\mu_S$: then spreading the member losses puts
# *more* members below $\tau$, and the advantage rises with $\sigma_S$. That is the low-FPR regime
# that {cite:t}`carlini2022first` recommend for evaluating attacks.
# ```
#
# The simulation ({func}`ccl_lib.theory.simulate_loss_attack`) draws Gaussian losses, calibrates
# $\tau$ on an independent "shadow" sample of non-member losses (the attacker's own data,
# footnote 2), and scores that fixed rule on fresh members and non-members. The dotted curve is
# the oracle, the best threshold for each $\sigma_S$ (the maximum of Eq. 17 over $\tau$), which an
# attacker could only reach by knowing both distributions.

# %%
sigmas = np.linspace(0.05, 2.5, 60)
sim_sigmas = np.linspace(0.1, 2.5, 8)
taus = np.linspace(mu_s - 10 * sigmas.max(), mu_d + 10 * sigma_d, 4001)
oracle = theory.gaussian_advantage_at_threshold(taus[None, :], mu_s, sigmas[:, None], mu_d, sigma_d).max(1)
curves, sims = {}, {}
for fpr in fprs:
    curves[fpr] = theory.gaussian_advantage(mu_s, sigmas, mu_d, sigma_d, fpr)
    sims[fpr] = [
        theory.simulate_loss_attack(mu_s, s, mu_d, sigma_d, fpr, n=n_sim, n_repeats=n_repeats, seed=seed + i)
        for i, s in enumerate(sim_sigmas)
    ]

# %% tags=["remove-input"]
fig, ax = plt.subplots(figsize=book_figsize(1, 1, aspect=0.55))
for fpr in fprs:
    (line,) = ax.plot(sigmas, curves[fpr], label=f"Eq. 18, FPR = {pct(fpr, 0)}")
    adv, se = [s.advantage for s in sims[fpr]], [1.96 * s.advantage_se for s in sims[fpr]]
    ax.errorbar(sim_sigmas, adv, yerr=se, fmt="o", color=line.get_color(), capsize=2,
                label=f"simulated, FPR = {pct(fpr, 0)} (95 % interval)")  # fmt: skip
ax.plot(sigmas, oracle, "k:", label="oracle: best threshold")
ax.set(
    xlabel=r"member loss std $\sigma_S$",
    ylabel="membership advantage",
    ylim=(-0.05, 1.0),
    title=rf"$\mu_S={mu_s:g}$, $\mu_D={mu_d:g}$, $\sigma_D={sigma_d:g}$",
)
ax.legend(loc="upper right")
plt.show()
thm61 = theory.eq18_table(sims, sim_sigmas)

# %% tags=["hide-output", "remove-input"]
format_table(
    thm61,
    percent=["fpr", "realized_fpr"],
    hide_index=True,
    caption="Theorem 6.1: simulated advantage against Eq. 18 (20 repeats per point)",
)

# %% tags=["remove-input"]
f61, rows61 = theory.thm61_findings(thm61, curves, sigmas, mu_s=mu_s, mu_d=mu_d, sigma_d=sigma_d)
glue_findings("ch02", f61)
sc_rows += rows61

# %% [markdown]
# ## Proposition 4.2: the CCL gradient is a scaled CE gradient
#
# By Eq. 10-11, the CCL gradient with respect to the logits $z_j$ is the CE gradient
# (Eq. 9: $p_y - 1$ for $j = y$, $p_j$ otherwise) times the *acceleration coefficient*
# $c(p_y) = \alpha - (1-\alpha)\,p_y\tilde\ell'(p_y)$.
#
# ```{prf:proposition} 4.2 of the paper
# :nonumber:
# :label: ch02-prop-42
#
# For any input and any $\alpha > 0$,
#
# $$
# \alpha\,\frac{\partial \ell_{\mathrm{ce}}}{\partial z_j} \;\le\; \frac{\partial \ell_{\mathrm{ccl}}}{\partial z_j}
# \;\le\; [\alpha + A(1-\alpha)]\,\frac{\partial \ell_{\mathrm{ce}}}{\partial z_j},
# \qquad A = -\tilde\ell'(1) > 0 .
# $$
# ```
#
# ```{prf:proof}
# Since $\tilde\ell' < 0$, $c(p_y) \ge \alpha$. Since $\tilde\ell'' < 0$, $\tilde\ell'$ is
# decreasing, so $0 < -\tilde\ell'(p_y) \le -\tilde\ell'(1) = A$, and with $p_y \le 1$,
# $-(1-\alpha)p_y\tilde\ell'(p_y) \le (1-\alpha)A$. Hence $\alpha \le c(p_y) \le \alpha + (1-\alpha)A$.
# Multiplying by $\partial\ell_{\mathrm{ce}}/\partial z_j \ge 0$ ($j \ne y$) gives Eq. 12 as
# printed. For $j = y$ the CE gradient $p_y - 1$ is negative and the inequalities flip.
# ```
#
# So the statement that holds for every $j$ is about magnitudes: the two gradients have the same
# sign, and $|\partial\ell_{\mathrm{ccl}}/\partial z_j| / |\partial\ell_{\mathrm{ce}}/\partial z_j| \in [\alpha, \alpha + (1-\alpha)A]$.
# The check computes both gradients by autograd on random logits
# ({func}`ccl_lib.theory.gradient_bounds`).

# %%
gen = torch.Generator().manual_seed(seed)
z = logit_scale * torch.randn(n_logits, num_classes, generator=gen, dtype=torch.float64)
t = torch.randint(0, num_classes, (n_logits,), generator=gen)
bounds42 = {concave: theory.gradient_bounds(z, t, alpha, concave) for concave in ("exp", "quadratic")}

# %% tags=["remove-input"]
fig, ax = plt.subplots(figsize=book_figsize(1, 1, aspect=0.55, width=6.0))
for (concave, gb), marker in zip(bounds42.items(), ("o", "s")):
    ratio = np.nanmax(gb.ratio, axis=1)  # the same for every class j of an example
    sc = ax.scatter(gb.p_y, ratio, s=4, marker=marker, label=f"{concave}: ratio of autograd gradients")
    for level in (gb.lower, gb.upper):
        ax.axhline(level, color=sc.get_facecolor()[0], ls="--", lw=1)
ax.set(
    xlabel="$p_y$",
    ylabel=r"$|\partial\ell_{ccl}/\partial z_j| \,/\, |\partial\ell_{ce}/\partial z_j|$",
    title=f"Proposition 4.2 on {n_logits} random logit vectors (dashed: bounds)",
)
ax.legend(markerscale=3)
plt.show()
prop42 = theory.prop42_table(bounds42)
format_table(prop42, hide_index=True)

# %% tags=["remove-input"]
sc_rows.append(theory.prop42_scorecard_row(prop42, n_logits=n_logits, alpha=alpha))

# %% [markdown]
# ## Lemma C.1 and Proposition C.2: do the attack metrics inherit the variance of $p_y$?
#
# Attacks threshold a function $f(\mathbf P)$ of the whole probability vector, not only $p_y$: the
# entropy {cite}`salem2019mlleaks`, the modified entropy {cite}`song2021systematic`, or the loss.
# Appendix C models $\mathbf P$ as a Dirichlet vector and uses the delta method.
#
# ```{prf:lemma} C.1 of the paper: the delta method
# :nonumber:
# :label: ch02-lem-c1
#
# Let $\mathbf P$ be a random vector with mean $\boldsymbol\mu$ and covariance
# $\boldsymbol\Sigma$, and $f$ differentiable with gradient $\mathbf J(\boldsymbol\mu)$ at
# $\boldsymbol\mu$. Then $\mathrm{Var}(f(\mathbf P)) \approx \mathbf J(\boldsymbol\mu)^\top\boldsymbol\Sigma\,\mathbf J(\boldsymbol\mu)$.
# ```
#
# ```{prf:proposition} C.2 of the paper
# :nonumber:
# :label: ch02-prop-c2
#
# Let $\mathbf P \sim \mathrm{Dirichlet}(\boldsymbol\alpha)$ on the simplex, with a fixed mean
# $\mathbb E\mathbf P = \boldsymbol\mu$. For any class $i$, an increase of $\mathrm{Var}(P_i)$ implies
# an increase of $\mathrm{Var}(f(\mathbf P))$.
# ```
#
# ```{prf:proof} The paper's argument, and what it proves
# With $\alpha_0 = \sum_k\alpha_k$ and $\boldsymbol\mu = \boldsymbol\alpha/\alpha_0$ fixed, the
# Dirichlet covariance is $\boldsymbol\Sigma = (\mathrm{diag}(\boldsymbol\mu) - \boldsymbol\mu\boldsymbol\mu^\top)/(\alpha_0+1)$,
# so $\mathrm{Var}(P_i) = \mu_i(1-\mu_i)/(\alpha_0+1)$ and
# $\mathbf J^\top\boldsymbol\Sigma\mathbf J = \mathbf J^\top(\mathrm{diag}(\boldsymbol\mu) - \boldsymbol\mu\boldsymbol\mu^\top)\mathbf J/(\alpha_0+1)$.
# Both fall as $\alpha_0$ grows, so a larger $\mathrm{Var}(P_i)$ (smaller $\alpha_0$) gives a larger
# delta-method variance. This proves the claim **for the approximation** of Lemma C.1, whose ratio
# between two concentrations is exactly $(\beta_0+1)/(\alpha_0+1)$ by construction. Whether the
# *true* $\mathrm{Var}(f(\mathbf P))$ behaves the same way is a separate question, and the only
# one that matters for an attack.
# ```
#
# So the honest check compares the true variance, by Monte Carlo
# ({func}`ccl_lib.theory.dirichlet_monte_carlo`), with the delta method
# ({func}`ccl_lib.theory.dirichlet_delta_method`) over a range of $\alpha_0$ at the fixed mean
# $\boldsymbol\mu$ = `dirichlet_mu`, the true class first.

# %%
alpha0s = np.geomspace(0.1, 1000.0, n_concentrations)
metric_names = {"entropy": "entropy", "modified entropy": "m_entropy", "loss (CE)": "ce"}
c2 = {
    label: theory.proposition_c2_table(mu=dirichlet_mu, alpha0s=alpha0s, metric=name, n_samples=n_mc, seed=seed)
    for label, name in metric_names.items()
}

# %% tags=["remove-input"]
fig, ax = plt.subplots(figsize=book_figsize(1, 1, aspect=0.6))
for label, d in c2.items():
    (line,) = ax.plot(d.var_py, d.delta_var, ls="--", label=f"{label}: delta method")
    ax.errorbar(
        d.var_py, d.mc_var, yerr=1.96 * d.mc_se, fmt="o-", ms=4, color=line.get_color(), label=f"{label}: Monte Carlo"
    )
ax.set(
    xscale="log",
    yscale="log",
    xlabel=r"$\mathrm{Var}(P_y)$ at fixed mean (smaller $\alpha_0$ to the right)",
    ylabel=r"$\mathrm{Var}(f(\mathbf{P}))$",
    title=r"Dirichlet model, $\mu$ = " + f"{tuple(dirichlet_mu)}",
)
ax.legend(loc="upper left")
plt.show()
c2_wide = pd.concat(
    {
        "Monte Carlo": pd.DataFrame({k: d.set_index("alpha0").mc_var for k, d in c2.items()}),
        "delta method": pd.DataFrame({k: d.set_index("alpha0").delta_var for k, d in c2.items()}),
    },
    axis=1,
)

# %% tags=["hide-output", "remove-input"]
format_table(c2_wide, caption="Var(f(P)) by Monte Carlo and by the delta method, against alpha_0")


# %% tags=["remove-input"]
fc2, rows_c2 = theory.c2_findings(c2, alpha0s, dirichlet_mu)
glue_findings("ch02", fc2)
sc_rows += rows_c2

# %% [markdown]
# For concentrated outputs (large $\alpha_0$, left of the figure) the delta method is accurate and
# every metric's variance grows with $\mathrm{Var}(P_y)$, as the proposition says. For diffuse
# outputs the approximation is off by a large factor, and the monotonicity itself breaks for the
# entropy: its variance peaks at $\alpha_0 \approx$ {glue:text}`ch02_c2_peak:.2g`, and below that a
# *larger* $\mathrm{Var}(P_y)$ comes with a *smaller* $\mathrm{Var}(H(\mathbf P))$. Near a corner of
# the simplex the entropy is close to $0$ whichever corner $\mathbf P$ lands in, so it stops
# varying. The numbers are in the "What we saw" section below.
#
# ## Sec. 6: does the concave term create spurious minima?
#
# Sec. 6 considers multinomial logistic regression, where the cross-entropy $g(\mathbf w)$ is
# convex in the weights (Eq. 19), and writes the concave term as a composition.
#
# ```{prf:lemma} 6.2 of the paper: scalar composition (Boyd and Vandenberghe)
# :nonumber:
# :label: ch02-lem-62
#
# For twice differentiable $g : \mathbb R^n \to \mathbb R$ and $h : \mathbb R \to \mathbb R$, the
# composition $h \circ g$ is concave if $h$ is concave and non-increasing and $g$ is convex.
# ```
#
# ```{prf:proposition} the claim of Sec. 6
# :nonumber:
# :label: ch02-prop-s6
#
# With $h(x) = \tilde\ell(e^{-x})$, $\tilde\ell \in \mathcal F$, the term $f = h \circ g$ has
# exactly the stationary points of $g$; so every local minimum of $f$ is the global minimum of
# $g$, and there are no saddle points.
# ```
#
# ```{prf:proof}
# $\nabla f = h'(g)\,\nabla g$ (Eq. 20) with $h'(x) = -e^{-x}\tilde\ell'(e^{-x}) > 0$. So
# $\nabla f = 0$ exactly where $\nabla g = 0$, which for convex $g$ is its global minimum.
# ```
#
# What this proves is narrower than "CCL keeps the global minimum". The argument composes $h$ with
# the **whole** objective $g$. In training, the concave term is applied to **each example's**
# $p_y$ and then averaged, $\frac1n\sum_i \tilde\ell(p_{y,i})$: a different function, with its own
# stationary points. And without regularization, logistic regression on separable data has no
# finite minimum at all; here an L2 penalty $\frac{\lambda}{2}\|W\|^2$ is part of $g$, so that $g$
# is strictly convex with a unique minimizer.
#
# On a real data set (scikit-learn's digits, standardized), L-BFGS runs from `lr_n_starts` random
# starts for four objectives: CE ($g$), the composition $h(g)$ of Eq. 20, the per-example CCL of
# Eq. 4 with $\alpha$ = `alpha`, and the per-example concave term alone.

# %%
ds = load_dataset(lr_dataset)
x = ds.x[:lr_max_examples].astype(np.float64)
y = ds.y[:lr_max_examples]
sd = x.std(0)
x = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0)
lr_results = {
    obj: theory.logistic_regression_minima(
        x,
        y,
        obj,
        alpha=alpha,
        concave=lr_concave,
        l2=lr_l2,
        n_starts=lr_n_starts,
        init_scale=lr_init_scale,
        seed=seed,
        progress=False,
    )
    for obj in ("ce", "h_of_g", "ccl", "concave")
}

# %% tags=["remove-input"]
lr_table = theory.global_minimum_table(lr_results, alpha=alpha)
fig, ax = plt.subplots(1, 2, figsize=book_figsize(1, 2, aspect=0.9))
jitter = np.random.default_rng(seed).uniform(-0.15, 0.15, lr_n_starts)
for k, r in enumerate(lr_results.values()):
    gap = r.values - r.values.min()
    ax[0].scatter(k + jitter, np.maximum(gap, 1e-16), c=np.where(gap >= 1e-8, "tab:red", "tab:green"))
    ax[1].scatter(k + jitter, r.ce_grad_norms, color="tab:blue")
ax[0].axhline(1e-8, color="gray", ls="--", lw=1, label="tolerance for 'same minimum'")
ax[0].scatter([], [], c="tab:red", label="start that stops elsewhere")
ax[0].set(yscale="log", ylabel="final value − best (floor 1e-16)", title="one minimum from every start?")
ax[1].set(yscale="log", ylabel=r"$\max|\nabla g|$ at the end point", title="is it g's minimizer?")
short = {"ce": "CE", "h_of_g": "h(g)", "ccl": "CCL", "concave": "concave\nalone"}
for a_ in ax:
    a_.set_xticks(range(len(lr_results)), [short[k] for k in lr_results])
ax[0].legend(loc="upper left")
plt.tight_layout()
plt.show()
narrow_table(
    lr_table,
    hide_index=True,
    caption="at best: starts within 1e-8 of the best value; spread: of the final "
    "values; max Δp: largest probability difference between end points; W*: cross-entropy's minimizer",
)

# %% tags=["remove-input"]
f6, rows6 = theory.global_minimum_findings(lr_results, n_starts=lr_n_starts, dataset=lr_dataset)
glue_findings("ch02", f6)
_ = scorecard.record_all(CHAPTER, sc_rows + rows6)

# %% [markdown]
# ## What we saw
#
# **Theorem 3.1** holds on {glue:text}`ch02_t31_all` of the {glue:text}`ch02_t31_n` Beta
# distributions, for CE and (trivially) for focal loss, whose bound degenerates to $0$; the
# smallest exact CE coefficient is {glue:text}`ch02_t31_cmin:.3f`, above $B/2 = 0.5$. At a fixed mean
# confidence, the expected CE and focal losses {glue:text}`ch02_sweep_convex_ok` with
# $\mathrm{Var}(p_y)$ while both concave terms {glue:text}`ch02_sweep_concave_ok`: the paper's reason
# for adding a concave term, seen through Jensen's inequality rather than through the bound.
#
# **Theorem 3.2**: the exact coefficient $B$ is negative for both concave terms on all
# {glue:text}`ch02_t32_n` distributions: $-\tfrac12$ for the quadratic, and between
# {glue:text}`ch02_t32_exp_min:.3f` and {glue:text}`ch02_t32_exp_max:.3f` for the exponential,
# inside the proof's range $[-e/2, -\tfrac12]$. $B$ depends on the distribution. The CCL mixture
# with $\alpha$ = 0.5 has a negative coefficient only for distributions with a mean confidence of
# at least about {glue:text}`ch02_ccel_neg_from:.2f`.
#
# **Theorem 6.1**: simulation and Eq. 18 agree to within {glue:text}`ch02_t61_maxdiff:.3f` in
# advantage ({glue:text}`ch02_t61_maxz:.1f` standard errors, at an FPR of
# {glue:text}`ch02_t61_worst_fpr`, where the threshold calibrated on a finite shadow sample is
# slightly conservative, an effect Eq. 18 ignores). At an FPR of {glue:text}`ch02_t61_fpr0`
# the threshold $\tau$ = {glue:text}`ch02_t61_tau0:.2f` lies {glue:text}`ch02_t61_side0` $\mu_S$, and
# the advantage {glue:text}`ch02_t61_trend0` from {glue:text}`ch02_t61_from0:.3f` to
# {glue:text}`ch02_t61_to0:.3f` as $\sigma_S$ grows. At an FPR of {glue:text}`ch02_t61_fpr1` the
# threshold $\tau$ = {glue:text}`ch02_t61_tau1:.2f` lies {glue:text}`ch02_t61_side1` $\mu_S$, and the
# advantage {glue:text}`ch02_t61_trend1` from {glue:text}`ch02_t61_from1:.3f` to
# {glue:text}`ch02_t61_to1:.3f`. The paper's conclusion needs $\tau > \mu_S$; a low-FPR attacker
# can gain from a larger member-loss spread.
#
# **Proposition 4.2**: the CCL and CE gradients have the same sign for every logit, and their ratio
# stays within $[\alpha, \alpha + (1-\alpha)A]$, filling that range as $p_y$ goes from $0$ to $1$.
# As printed, Eq. 12 holds for $j \ne y$; for $j = y$ it holds for magnitudes.
#
# **Proposition C.2** holds where the delta method is accurate and fails where it is not. At the
# mean $\boldsymbol\mu$ = (0.7, 0.2, 0.1), the Monte Carlo variance of the entropy grows with
# $\mathrm{Var}(P_y)$ only for $\alpha_0 \ge$ {glue:text}`ch02_c2_ent_from:.2g`; it peaks at
# {glue:text}`ch02_c2_peakvar:.3f` near $\alpha_0$ = {glue:text}`ch02_c2_peak:.2g` and falls to
# {glue:text}`ch02_c2_lowvar:.3f` at $\alpha_0$ = {glue:text}`ch02_c2_low_a0:.2g`, although
# $\mathrm{Var}(P_y)$ keeps growing. For the two unbounded metrics the Monte Carlo variance falls at
# every step as $\alpha_0$ grows, from $\alpha_0$ = {glue:text}`ch02_c2_ment_from:.2g` up for the
# modified entropy and from {glue:text}`ch02_c2_ce_from:.2g` up for the loss (the grid starts at
# 0.1): {glue:text}`ch02_c2_unbounded`. The delta
# method is within {glue:text}`ch02_c2_err_hi` of the Monte Carlo variance for
# $\alpha_0 \ge 100$ and off by a factor of up to {glue:text}`ch02_c2_factor_lo:,.0f` for $\alpha_0 < 2$ (it overestimates
# the entropy's variance and underestimates that of the unbounded metrics). The
# paper's proof compares two delta-method approximations, whose ratio is fixed by construction,
# so it cannot see this.
#
# **Sec. 6**: the composition $h(g)$ reaches $g$'s minimizer, as the argument proves:
# {glue:text}`ch02_s6_hog_other` of the {glue:text}`ch02_s6_starts` starts stopped elsewhere. The per-example CCL with $\alpha = 0.5$
# reached {glue:text}`ch02_s6_ccl_same` from all {glue:text}`ch02_s6_starts` starts, but not $g$'s:
# the gradient of $g$ there is {glue:text}`ch02_s6_ccl_grad:.2g`, not zero, because per example the
# concave term changes the objective. The per-example concave term alone
# {glue:text}`ch02_s6_conc_word` ({glue:text}`ch02_s6_conc_other` of the starts), so applied per
# example it *can* create spurious stationary points. The cross-entropy part of CCL is what keeps
# the optimization well behaved here.
#
# ## Takeaways
#
# - Theorems 3.1 and 3.2 are second-order Taylor expansions at $p_y = 1$. Their content is
#   Jensen's: at a fixed mean confidence, spread costs a convex loss and rewards a concave one.
# - A larger member-loss spread lowers the loss attack's advantage only while the attack's
#   threshold lies above the members' mean loss. At low FPR it can do the opposite.
# - The CCL gradient is the CE gradient scaled by a factor in $[\alpha, \alpha + (1-\alpha)A]$;
#   state Eq. 12 for magnitudes.
# - A delta-method argument proves a statement about the approximation. Proposition C.2 fails for
#   diffuse outputs, where the entropy saturates.
# - A numerical check should be able to fail: compare with the true quantity (Monte Carlo,
#   quadrature, autograd), never with a rearrangement of the formula being checked.
#
# ## Exercises
#
# ```{exercise}
# :label: ch02-ex1
#
# **Size:** homework (1 h). **Needs:** this chapter.
#
# **A new concave term.** Write a function of $p$ that belongs to $\mathcal F$
# ({prf:ref}`Definition 4.1 <ch02-def-41>`), for example $f(p) = \log(2 - p)$, and check it with
# {func}`ccl_lib.losses.check_concave_term`. Then compute, for it: the constant $A = -f'(1)$ and
# the bounds of {prf:ref}`Proposition 4.2 <ch02-prop-42>` at $\alpha = 0.5$ (check them with
# {func}`ccl_lib.theory.gradient_bounds`, which accepts a callable), and the coefficient $B$ of
# {prf:ref}`Theorem 3.2 <ch02-thm-32>` on a Beta(8, 2) distribution of $p_y$. What does the value of $A$ tell you
# about how this CCL treats confident examples? Finally, try $f(p) = -p^3 - p$: why is it rejected?
# ```
#
# ````{solution} ch02-ex1
# :class: dropdown
#
# ```python
# import math
# from ccl_lib.losses import check_concave_term
#
# f = lambda p: torch.log(2 - p)          # f' = -1/(2-p) < 0, f'' = -1/(2-p)^2 < 0 on [0, 1]
# check_concave_term(f)                    # passes silently
# gb = theory.gradient_bounds(z, t, 0.5, f)
# print(gb.A, gb.lower, gb.upper, gb.holds)          # 1.0 0.5 1.0 True
# print(theory.concave_coefficient_B(f, beta=(8, 2)))  # f(1) = log 1 = 0, as Theorem 3.2 needs
# check_concave_term(lambda p: -p**3 - p)  # ValueError: f''(0.000) = 0 ... f'' must be < 0
# ```
#
# $A = -f'(1) = 1$, so the bounds are $[0.5, 1.0]$: the acceleration coefficient never exceeds 1,
# and this CCL never pushes a confident example harder than CE does. It only pushes hard examples
# less. (CCEL has $A = e$ and CCQL $A = 2$, which is why they speed up confident examples.)
# $B$ lies in the proof's range $[\tfrac12\min f'', \tfrac12\max f''] = [-\tfrac12, -\tfrac18]$.
# For Beta(8, 2), where $p_y$ sits near 0.8, it is $-0.41$: near the lower end, because
# $f''(p) = -1/(2-p)^2$ is close to $-1$ for $p$ near 1. The cubic has $f''(p) = -6p$, which is
# $0$ at $p = 0$: it is concave but not strictly
# so on all of $[0, 1]$, and Definition 4.1 asks for $f'' < 0$ everywhere.
# ````
#
# ```{exercise}
# :label: ch02-ex2
#
# **Size:** in class (20 min). **Needs:** this chapter.
#
# **Theorem 6.1 at another threshold.** Instead of fixing the FPR, let the attacker put the
# threshold at the members' mean loss, $\tau = \mu_S$. Use
# {func}`ccl_lib.theory.gaussian_advantage_at_threshold` to draw the advantage against $\sigma_S$
# for $\tau = \mu_S$ and for $\tau = \mu_S - 0.2$. What does the remark {prf:ref}`When a larger spread helps <ch02-rem-61>` predict, and
# what do you see?
# ```
#
# ````{solution} ch02-ex2
# :class: dropdown
#
# ```python
# for tau in (mu_s, mu_s - 0.2):
#     adv = theory.gaussian_advantage_at_threshold(tau, mu_s, sigmas, mu_d, sigma_d)
#     plt.plot(sigmas, adv, label=f"tau = {tau:g}")
# plt.xlabel("sigma_S"); plt.ylabel("advantage"); plt.legend(); plt.show()
# ```
#
# At $\tau = \mu_S$ the first term of Eq. 17 is $\Phi(0) = \tfrac12$ whatever $\sigma_S$, so the
# advantage is the constant $\tfrac12 - \Phi((\mu_S - \mu_D)/\sigma_D) = 0.5 - \Phi(-1.5) = 0.433$:
# the spread of the member losses does not matter at all. At $\tau = \mu_S - 0.2$ the threshold
# lies below $\mu_S$ and the advantage *rises* with $\sigma_S$, from $-0.04$ for a tiny $\sigma_S$
# (almost no member is below $\tau$, while $\Phi((\tau-\mu_D)/\sigma_D) = 4\,\%$ of the
# non-members are) to $0.43$ at $\sigma_S = 2.5$, on its way to $\tfrac12 - 0.04$. The
# derivative's sign is the sign of $\mu_S - \tau$,
# as the remark says. A defense that only widens the member losses helps against a
# high-recall attacker and hurts against a high-precision one.
# ````
#
# ```{exercise}
# :label: ch02-ex3
#
# **Size:** homework (45 min). **Needs:** this chapter.
#
# **Where does Proposition C.2 break?** Rerun the Monte Carlo of {prf:ref}`Proposition C.2 <ch02-prop-c2>` with a
# more confident mean, $\boldsymbol\mu = (0.9, 0.05, 0.05)$, and with ten classes,
# $\boldsymbol\mu = (0.8, 0.2/9, \dots, 0.2/9)$. At which $\alpha_0$ does the entropy's variance
# peak? Is the loss (CE) ever non-monotone? Use papermill
# (`-p dirichlet_mu "[0.9, 0.05, 0.05]"`) or the loop of the section.
# ```
#
# ````{solution} ch02-ex3
# :class: dropdown
#
# ```python
# for m in ([0.9, 0.05, 0.05], [0.8] + [0.2 / 9] * 9):
#     m = np.asarray(m)
#     f = theory.prob_metric("entropy", y=0)
#     v = [theory.dirichlet_monte_carlo(a0 * m, f, 50_000, seed=0)[0] for a0 in alpha0s]
#     print(m.round(3)[:3], "entropy variance peaks at alpha_0 =", alpha0s[int(np.argmax(v))].round(2))
# ```
#
# The peak moves with the mean, but it is always there: for $(0.9, 0.05, 0.05)$ and for ten
# classes the entropy's variance peaks near $\alpha_0 \approx 2$ (grid point 2.15), for
# $(0.7, 0.2, 0.1)$ near $\alpha_0 = 1$. As $\alpha_0 \to 0$ the Dirichlet puts its mass on the
# corners of the simplex, where the entropy is $0$, so $\mathrm{Var}(H)$ goes to $0$ while
# $\mathrm{Var}(P_y) \to \mu_y(1-\mu_y)$ is at its largest. The loss $-\log P_y$ behaves
# differently: $\mathrm{Var}(\log P_y) = \psi_1(\alpha_0\mu_y) - \psi_1(\alpha_0)$ (trigamma
# functions) grows without bound as $\alpha_0 \to 0$, and its Monte Carlo variance is largest at
# the smallest $\alpha_0$ of the grid for all three means: for the loss the proposition
# holds over the whole range. A bounded metric saturates, an unbounded one does not.
# ````
