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
# # 2. Theory, numerically
#
# {cite:t}`liu2024ccl` motivate the Convex-Concave Loss with a chain of short results:
#
# 1. a **convex** loss of the true-class probability $p_y$ is bounded below by a quantity that
#    grows with the variance of $p_y$, so minimizing it favours a small variance (Theorem 3.1);
# 2. for a **concave** loss the coefficient of the variance is negative (Theorem 3.2);
# 3. under a Gaussian model of the losses, a larger member-loss spread lowers the advantage of
#    the loss-threshold attack (Theorem 6.1, Eq. 17-18);
# 4. the CCL gradient is cross-entropy's, scaled by a bounded factor (Proposition 4.2);
# 5. the variance of the attack metrics (entropy, modified entropy, loss) grows with the variance
#    of $p_y$ (Lemma C.1, Proposition C.2);
# 6. adding the concave term does not create spurious minima for logistic regression (Sec. 6).
#
# Each section states one result, checks it by sampling, quadrature or optimization, and says
# what exactly the numbers do and do not show. The computations live in {mod}`ccl_lib.theory`,
# which is tested against closed forms.
#
# **Reproduce / rescale:** `papermill 02_theory.ipynb out.ipynb -p n_samples 1000000 -p n_mc 1000000 -p lr_n_starts 50`
# (the defaults take well under a minute on 2 CPU cores; the rescaled run takes a few minutes on a CPU
# and gains nothing from a GPU).

# %% tags=["parameters"]
# draws of p_y per Beta distribution (Theorem 3.1)
n_samples = 20_000
# concentrations at a fixed mean of p_y (Theorems 3.1-3.2)
n_fixed_mean = 20
# E[p_y] for that sweep
fixed_mean = 0.8
# random Beta distributions of p_y (Theorem 3.2)
n_distributions = 40
# Gaussian member / non-member losses (Theorem 6.1)
mu_s, mu_d, sigma_d = 0.3, 1.5, 0.8
# false-positive rates of the loss-threshold attack (Eq. 18)
fprs = [0.1, 0.01]
# simulated members and non-members per repeat
n_sim = 10_000
# repeats per simulated point
n_repeats = 20
# random logit vectors (Proposition 4.2)
n_logits = 2_000
logit_scale = 5.0
# CCL weight (Eq. 4) in Proposition 4.2 and Sec. 6
alpha = 0.5
# classes of the random logits and of the Dirichlet model
num_classes = 10
# mean true-class probability of the Dirichlet model (App. C)
dirichlet_mu_y = 0.8
# Dirichlet concentrations alpha_0, from 2 to 2000
n_concentrations = 10
# Monte Carlo draws per Dirichlet
n_mc = 50_000
# real data for Sec. 6 (any tabular name of ccl_lib.data)
lr_dataset = "digits"
# examples used (first n of the pooled data set)
lr_max_examples = 1_797
# random starts per objective
lr_n_starts = 6
# L2 penalty on the weights (makes the minimum unique and finite)
lr_l2 = 1e-3
# std of the random starts
lr_init_scale = 1.0
# concave term of Sec. 6's experiment ("exp" = CCEL, "quadratic" = CCQL)
lr_concave = "exp"
seed = 0

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ccl_lib import theory
from ccl_lib.data import load_dataset

rng = np.random.default_rng(seed)

# %% [markdown]
# ## Theorem 3.1: a convex loss is bounded by the mean and the variance of $p_y$
#
# Write $1 - \epsilon = \mathbb E[p_y]$ and $\sigma^2 = \mathrm{Var}(p_y)$ over the data. If $\ell$
# is convex on $(0, 1]$, decreasing, and $\ell(1) = 0$, a second-order Taylor expansion at $p_y = 1$
# gives
#
# $$
# \mathbb E[\ell(p_y)] \;\ge\; A\,\epsilon + \frac{B}{2}\,(\epsilon^2 + \sigma^2),
# \qquad A = -\ell'(1),\quad B = \inf_{(0,1]} \ell''.
# $$
#
# For cross-entropy $\ell = -\log p$: $A = 1$ and $B = \inf 1/p^2 = 1$. The inequality holds pointwise,
# $\ell(p) \ge A(1-p) + \tfrac B2 (1-p)^2$, so it holds for *any* distribution of $p_y$, including
# the empirical distribution of a sample. Below, $p_y$ follows Beta distributions. The
# **coefficient** column is the exact $c$ with $\mathbb E[\ell] = A\epsilon + c\,(\epsilon^2+\sigma^2)$.
# The theorem says $c \ge B/2$.
#
# Focal loss with $\gamma = 2$ has $\ell'(1) = \ell''(1) = 0$. It violates the theorem's assumption
# $\ell' < 0$ at $p_y = 1$, and its bound degenerates to $A = B = 0$, i.e. $\mathbb E[\ell] \ge 0$.
# Its exact coefficient $c$ is still positive.

# %%
beta_grid = [(a, b) for a in (0.5, 2.0, 5.0, 20.0) for b in (0.5, 1.0, 3.0)]
rows = []
for a, b in beta_grid:
    p = np.clip(rng.beta(a, b, n_samples), 1e-12, 1.0)  # p_y = 0 would make CE infinite
    ce, fl = theory.taylor_bound("ce", p), theory.taylor_bound("focal", p)
    rows.append(dict(a=a, b=b, eps=ce.eps, sigma2=ce.sigma2, E_ce=ce.expected_loss, bound_ce=ce.bound,
                     c_ce=ce.coefficient, E_focal=fl.expected_loss, bound_focal=fl.bound, c_focal=fl.coefficient,
                     holds=ce.holds and fl.holds))
thm31 = pd.DataFrame(rows)

fig, ax = plt.subplots(figsize=(5, 4.2))
ax.scatter(thm31.bound_ce, thm31.E_ce, label="cross-entropy")
ax.scatter(thm31.bound_focal, thm31.E_focal, marker="s", label="focal (γ=2): bound is 0")
lim = [0, 1.05 * thm31.E_ce.max()]
ax.plot(lim, lim, "k--", lw=1, label="E[loss] = bound")
ax.set(xlabel=r"lower bound $A\epsilon + \frac{B}{2}(\epsilon^2+\sigma^2)$", ylabel=r"$\mathbb{E}[\ell(p_y)]$",
       title="Theorem 3.1 on 12 Beta distributions of $p_y$")
ax.legend()
plt.show()
thm31.round(4)

# %% [markdown]
# Every point lies on or above the diagonal. The bound for CE is tight when $p_y$ concentrates
# near $1$ (small $\epsilon$, the regime of a fitted model). It is loose when much of the mass sits
# near $0$, where $-\log p$ is far above its quadratic approximation.
#
# ### What the bound means for the variance
#
# The bound grows with $\sigma^2$ at a fixed mean. Does the expected loss itself grow? Fix
# $\mathbb E[p_y] = 0.8$ and vary the concentration $\kappa$ of $p_y \sim \mathrm{Beta}(0.8\kappa, 0.2\kappa)$,
# so that $\sigma^2 = 0.16/(\kappa+1)$. Then compute $\mathbb E[\ell(p_y)]$ exactly by quadrature.
# A convex loss charges more for the same mean with more spread. A concave loss charges less. So at
# equal mean confidence, gradient descent on a convex loss is pushed towards small variance, and
# on a concave loss towards large variance. That is the paper's argument in one picture.

# %%
kappas = np.geomspace(1.0, 200.0, n_fixed_mean)
sweep_losses = {"CE": "ce", "focal (γ=2)": "focal", "concave exp (Eq. 5)": "exp", "concave quadratic (Eq. 6)": "quadratic"}
sweep = {"sigma2": fixed_mean * (1 - fixed_mean) / (kappas + 1)}
for label, name in sweep_losses.items():
    sweep[label] = [theory.beta_expected_loss(name, k * fixed_mean, k * (1 - fixed_mean)) for k in kappas]
sweep = pd.DataFrame(sweep, index=pd.Index(kappas, name="kappa"))

fig, ax = plt.subplots(figsize=(6, 4.2))
for label in sweep_losses:
    ax.plot(sweep.sigma2, sweep[label], marker="o", ms=3, label=label)
ax.set(xlabel=r"$\sigma^2 = \mathrm{Var}(p_y)$ at fixed $\mathbb{E}[p_y]$ = " + f"{fixed_mean:g}",
       ylabel=r"$\mathbb{E}[\ell(p_y)]$ (with $\ell(1)=0$)", title="same mean confidence, more spread")
ax.legend()
plt.show()
sweep.iloc[:: max(1, n_fixed_mean // 5)].round(4)

# %% [markdown]
# ## Theorem 3.2: for a concave loss the coefficient is negative
#
# If $\ell$ is strictly concave and decreasing on $[0, 1]$ with $\ell(1) = 0$, the same expansion
# gives an *equality*,
#
# $$
# \mathbb E[\ell(p_y)] = A\,\epsilon + B\,(\epsilon^2 + \sigma^2), \qquad B = \tfrac12 \ell''(\xi) < 0
# $$
#
# for some $\xi \in [0, 1]$ (mean value theorem for integrals, App. B). Note that $B$ depends on
# the distribution of $p_y$. The theorem fixes only its sign. Its proof also fixes its range,
# $[\tfrac12\min\ell'', \tfrac12\max\ell'']$. For the concave quadratic of Eq. 6, shifted to
# $\ell(p) = \tfrac32 - p - \tfrac12 p^2$, $\ell'' \equiv -1$ and $B = -\tfrac12$ exactly. For the
# exponential term $\ell(p) = e - e^{p}$, $\ell'' = -e^{p}$, so $B \in [-e/2, -1/2]$. Below, $B$ is
# computed exactly ({func}`ccl_lib.theory.concave_coefficient_B`, quadrature of
# $\mathbb E[\ell(p_y)]$) for random Beta distributions of $p_y$. The same coefficient for CE and
# for CCEL with $\alpha = 0.5$ is shown for contrast.

# %%
ab = np.exp(rng.uniform(np.log(0.3), np.log(30.0), size=(n_distributions, 2)))
ccel = theory.p_loss("ccel", alpha=alpha)
rows = []
for a, b in ab:
    cexp = theory.concave_coefficient_B("exp", beta=(a, b))
    cqua = theory.concave_coefficient_B("quadratic", beta=(a, b))
    rows.append(dict(a=a, b=b, mean_p=a / (a + b), B_exp=cexp.B, B_quadratic=cqua.B,
                     B_ce=theory.taylor_coefficient("ce", beta=(a, b)),
                     B_ccel=theory.taylor_coefficient(ccel, beta=(a, b))))
thm32 = pd.DataFrame(rows).sort_values("mean_p")

fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].scatter(thm32.mean_p, thm32.B_exp, label="concave exp: $e - e^{p}$")
ax[0].scatter(thm32.mean_p, thm32.B_quadratic, marker="s", label=r"concave quadratic: $\frac{3}{2} - p - \frac{1}{2}p^2$")
ax[0].axhspan(-np.e / 2, -0.5, color="tab:blue", alpha=0.1, label=r"proof's range for exp: $[-e/2, -1/2]$")
ax[0].axhline(0, color="gray", lw=0.8)
ax[0].set(xlabel=r"$\mathbb{E}[p_y]$", ylabel="exact coefficient $B$ of Eq. 3", title="Theorem 3.2: concave terms")
ax[0].legend(fontsize=8)
ax[1].scatter(thm32.mean_p, thm32.B_ce, label="CE")
ax[1].scatter(thm32.mean_p, thm32.B_ccel, marker="^", label=f"CCEL, α={alpha:g}")
ax[1].axhline(0, color="gray", lw=0.8)
ax[1].set(xlabel=r"$\mathbb{E}[p_y]$", ylabel="exact coefficient $B$", title="convex CE and the mixture")
ax[1].legend(fontsize=8)
plt.tight_layout()
plt.show()
summary32 = pd.DataFrame({
    "min B": thm32[["B_exp", "B_quadratic", "B_ce", "B_ccel"]].min(),
    "max B": thm32[["B_exp", "B_quadratic", "B_ce", "B_ccel"]].max(),
    "fraction B < 0": (thm32[["B_exp", "B_quadratic", "B_ce", "B_ccel"]] < 0).mean(),
})
neg = thm32[thm32.B_ccel < 0].mean_p
pos = thm32[thm32.B_ccel >= 0].mean_p
print(f"CCEL (alpha={alpha:g}): B < 0 for {len(neg)} distributions with E[p_y] in [{neg.min():.2f}, {neg.max():.2f}], "
      f"B >= 0 for {len(pos)} with E[p_y] in [{pos.min():.2f}, {pos.max():.2f}]")
summary32.round(4)

# %% [markdown]
# Both concave terms have $B < 0$ on every distribution, inside the range the proof allows. For CE,
# $B \ge \tfrac12$ always, as Theorem 3.1 requires. It is large when $p_y$ has mass near $0$. The
# CCL mixes the two: its coefficient is $\alpha B_{\mathrm{ce}} + (1-\alpha) B_{\mathrm{concave}}$.
# It is negative for the distributions with high mean confidence (right of the panel; the printed
# ranges give the split for this run) and positive for those with mass near $p_y = 0$. High mean
# confidence is the late stage of training, where the paper expects the concave term to take over.

# %% [markdown]
# ## Theorem 6.1: loss spread and the loss-threshold attack
#
# The attack of {cite:t}`yeom2018privacy` flags a query as a member when its loss is at most $\tau$
# (Eq. 14). If member losses follow $\mathcal N(\mu_S, \sigma_S^2)$ and non-member losses
# $\mathcal N(\mu_D, \sigma_D^2)$, its advantage is (Eq. 17)
#
# $$
# \mathrm{Adv}(\tau) = \Phi\!\left(\frac{\tau-\mu_S}{\sigma_S}\right) - \Phi\!\left(\frac{\tau-\mu_D}{\sigma_D}\right).
# $$
#
# An attacker who fixes the false-positive rate at $\alpha$ uses $\tau = \mu_D + \Phi^{-1}(\alpha)\sigma_D$ and gets
# (Eq. 18)
#
# $$
# \mathrm{Adv} = \Phi\!\left(\frac{\Phi^{-1}(\alpha)\sigma_D + \mu_D - \mu_S}{\sigma_S}\right) - \alpha .
# $$
#
# The paper concludes that a larger $\sigma_S$ lowers the advantage. Eq. 18 shows when this holds:
# the advantage decreases in $\sigma_S$ **only if $\tau > \mu_S$**, i.e. while the attacker flags
# more than half of the members. At a small false-positive rate the threshold can fall below
# $\mu_S$. Then spreading the member losses puts *more* members below $\tau$, and the advantage
# rises with $\sigma_S$. That is the low-FPR regime that {cite:t}`carlini2022first` recommend
# for evaluating attacks.
#
# The simulation ({func}`ccl_lib.theory.simulate_loss_attack`) draws Gaussian losses. It calibrates
# $\tau$ on an independent "shadow" sample of non-member losses, then scores the rule on fresh
# members and non-members. The dotted curve is the advantage of the best threshold for each
# $\sigma_S$ (Eq. 2, the maximum of Eq. 17 over $\tau$), which an attacker could reach only by
# knowing both distributions.

# %%
sigmas = np.linspace(0.05, 2.5, 60)
sim_sigmas = np.linspace(0.1, 2.5, 8)
taus = np.linspace(mu_s - 10 * sigmas.max(), mu_d + 10 * sigma_d, 4001)
best = theory.gaussian_advantage_at_threshold(taus[None, :], mu_s, sigmas[:, None], mu_d, sigma_d).max(1)

fig, ax = plt.subplots(figsize=(7, 4.5))
rows = []
for fpr in fprs:
    line, = ax.plot(sigmas, theory.gaussian_advantage(mu_s, sigmas, mu_d, sigma_d, fpr), label=f"Eq. 18, FPR = {fpr:g}")
    sims = [theory.simulate_loss_attack(mu_s, s, mu_d, sigma_d, fpr, n=n_sim, n_repeats=n_repeats, seed=seed + i)
            for i, s in enumerate(sim_sigmas)]
    ax.errorbar(sim_sigmas, [s.advantage for s in sims], yerr=[2 * s.advantage_se for s in sims], fmt="o",
                color=line.get_color(), ms=4, capsize=2, label=f"simulated, FPR = {fpr:g} (±2 s.e.)")
    for s_, sim in zip(sim_sigmas, sims):
        rows.append(dict(fpr=fpr, sigma_s=s_, closed_form=sim.closed_form, simulated=sim.advantage,
                         se=sim.advantage_se, realized_fpr=sim.fpr, tau=sim.threshold))
ax.plot(sigmas, best, "k:", label="best threshold (Eq. 2)")
ax.set(xlabel=r"member loss std $\sigma_S$", ylabel="membership advantage",
       title=rf"$\mu_S={mu_s:g}$, $\mu_D={mu_d:g}$, $\sigma_D={sigma_d:g}$")
ax.legend(fontsize=8)
plt.show()
thm61 = pd.DataFrame(rows)
thm61["z"] = (thm61.simulated - thm61.closed_form) / thm61.se
thm61.round(4)

# %%
from scipy.stats import norm

for fpr in fprs:
    tau = mu_d + norm.ppf(fpr) * sigma_d
    adv = theory.gaussian_advantage(mu_s, sigmas, mu_d, sigma_d, fpr)
    trend = "decreases" if adv[-1] < adv[0] else "increases"
    print(f"FPR {fpr:g}: tau = {tau:+.3f} ({'above' if tau > mu_s else 'below'} mu_S = {mu_s:g}); "
          f"Eq. 18 {trend} from {adv[0]:.3f} to {adv[-1]:.3f} as sigma_S goes {sigmas[0]:g} -> {sigmas[-1]:g}")
worst = thm61.loc[(thm61.simulated - thm61.closed_form).abs().idxmax()]
print(f"largest |simulated - Eq. 18| = {abs(worst.simulated - worst.closed_form):.4f} "
      f"({abs(worst.z):.1f} s.e.) at FPR {worst.fpr:g}, sigma_S = {worst.sigma_s:.2f}; "
      f"median |z| = {thm61.z.abs().median():.2f} over {len(thm61)} points")

# %% [markdown]
# ## Proposition 4.2: the CCL gradient is a scaled CE gradient
#
# By Eq. 11, the CCL gradient with respect to the logits is the CE gradient times
# $c(p_y) = \alpha - (1-\alpha)p_y\tilde\ell'(p_y)$. Since $\tilde\ell' < 0$ is decreasing,
# $\alpha \le c(p_y) \le \alpha + (1-\alpha)A$ with $A = -\tilde\ell'(1)$. The paper writes
# Eq. 12 as $\alpha\,\partial\ell_{\mathrm{ce}}/\partial z_j \le \partial\ell_{\mathrm{ccl}}/\partial z_j \le [\alpha + A(1-\alpha)]\,\partial\ell_{\mathrm{ce}}/\partial z_j$.
# For $j = y$ the CE gradient $p_y - 1$ is negative, so the inequalities flip. The statement that
# holds for every $j$ is about the ratio: the two gradients have the same sign, and
# $|\partial\ell_{\mathrm{ccl}}/\partial z_j| / |\partial\ell_{\mathrm{ce}}/\partial z_j| \in [\alpha, \alpha + (1-\alpha)A]$.
# Below, both gradients are computed by autograd on random logits.

# %%
gen = torch.Generator().manual_seed(seed)
z = logit_scale * torch.randn(n_logits, num_classes, generator=gen, dtype=torch.float64)
t = torch.randint(0, num_classes, (n_logits,), generator=gen)
fig, ax = plt.subplots(figsize=(6.5, 4.2))
rows = []
for concave, marker in (("exp", "o"), ("quadratic", "s")):
    gb = theory.gradient_bounds(z, t, alpha, concave)
    ratio = np.nanmax(gb.ratio, axis=1)  # the same for every class j of an example
    sc = ax.scatter(gb.p_y, ratio, s=4, marker=marker, label=f"{concave}: ratio of autograd gradients")
    for level in (gb.lower, gb.upper):
        ax.axhline(level, color=sc.get_facecolor()[0], ls="--", lw=1)
    r = gb.ratio[np.isfinite(gb.ratio)]
    rows.append(dict(concave=concave, alpha=alpha, A=gb.A, lower=gb.lower, upper=gb.upper,
                     min_ratio=r.min(), max_ratio=r.max(), same_sign=bool((r > 0).all()), holds=gb.holds))
ax.set(xlabel="$p_y$", ylabel=r"$(\partial\ell_{ccl}/\partial z_j) / (\partial\ell_{ce}/\partial z_j)$",
       title=f"Proposition 4.2 on {n_logits} random logit vectors (dashed: bounds)")
ax.legend(fontsize=8, markerscale=3)
plt.show()
pd.DataFrame(rows).round(4)

# %% [markdown]
# ## Lemma C.1 and Proposition C.2: attack metrics inherit the variance of $p_y$
#
# Attacks threshold a function $f(\mathbf P)$ of the whole probability vector, not only $p_y$:
# the entropy {cite}`salem2019mlleaks`, the modified entropy {cite}`song2021systematic`, or the loss.
# Appendix C models $\mathbf P \sim \mathrm{Dirichlet}(\boldsymbol\alpha)$ and uses the delta method
# (Lemma C.1):
#
# $$
# \mathrm{Var}(f(\mathbf P)) \approx \mathbf J(\boldsymbol\mu)^\top \boldsymbol\Sigma\, \mathbf J(\boldsymbol\mu),
# \qquad \boldsymbol\Sigma = \frac{\mathrm{diag}(\boldsymbol\mu) - \boldsymbol\mu\boldsymbol\mu^\top}{\alpha_0 + 1},
# $$
#
# where $\boldsymbol\mu = \boldsymbol\alpha/\alpha_0$ and $\alpha_0 = \sum_k \alpha_k$. At a fixed
# mean $\boldsymbol\mu$, the covariance scales as $1/(\alpha_0+1)$. So does $\mathrm{Var}(P_y)$, and
# so does the delta-method variance of any $f$. More variance in $p_y$ means more variance in
# every metric (Proposition C.2). The monotonicity is exact for the *approximation*. Below, the
# approximation is compared with Monte Carlo. The mean is $\mu_y = 0.8$ on the true class, with
# the rest spread evenly over the other classes.

# %%
mu = np.full(num_classes, (1 - dirichlet_mu_y) / (num_classes - 1))
mu[0] = dirichlet_mu_y
alpha0s = np.geomspace(2.0, 2000.0, n_concentrations)
metrics = {"entropy": "entropy", "modified entropy": "m_entropy", "loss (CE)": "ce"}
rows = []
for a0 in alpha0s:
    var_py = dirichlet_mu_y * (1 - dirichlet_mu_y) / (a0 + 1)
    for label, name in metrics.items():
        f = theory.prob_metric(name, y=0)
        mc, se = theory.dirichlet_monte_carlo(a0 * mu, f, n_mc, seed=seed)
        rows.append(dict(alpha0=a0, var_py=var_py, metric=label, delta=theory.dirichlet_delta_method(a0 * mu, f),
                         monte_carlo=mc, mc_se=se))
dirich = pd.DataFrame(rows)
dirich["rel_error"] = dirich.delta / dirich.monte_carlo - 1

fig, ax = plt.subplots(figsize=(6.5, 4.5))
for label in metrics:
    d = dirich[dirich.metric == label]
    line, = ax.plot(d.var_py, d.delta, label=f"{label}: delta method")
    ax.errorbar(d.var_py, d.monte_carlo, yerr=2 * d.mc_se, fmt="o", ms=4, color=line.get_color(),
                label=f"{label}: Monte Carlo")
ax.set(xscale="log", yscale="log", xlabel=r"$\mathrm{Var}(P_y)$ at fixed mean (smaller $\alpha_0$ to the right)",
       ylabel=r"$\mathrm{Var}(f(\mathbf{P}))$", title=r"Dirichlet model, $\mu_y$ = " + f"{dirichlet_mu_y:g}, K = {num_classes}")
ax.legend(fontsize=8)
plt.show()
dirich.pivot(index="alpha0", columns="metric", values="rel_error").round(3)

# %%
mono = {label: bool(np.all(np.diff(dirich[dirich.metric == label].monte_carlo.to_numpy()) < 0)) for label in metrics}
print("Monte Carlo variance decreases with alpha_0 (increases with Var(P_y)):", mono)
print("largest |relative error| of the delta method for alpha_0 >= 100:",
      f"{dirich[dirich.alpha0 >= 100].rel_error.abs().max():.3f}; for alpha_0 < 10:",
      f"{dirich[dirich.alpha0 < 10].rel_error.abs().max():.3f}")

# %% [markdown]
# The table shows the relative error of the delta method, $\mathbf J^\top\boldsymbol\Sigma\mathbf J$
# divided by the Monte Carlo variance, minus one. For concentrated Dirichlets (large $\alpha_0$)
# the approximation is accurate. For diffuse ones (small $\alpha_0$, where $\mathbf P$ often lands
# far from its mean) it is off by a large factor. The monotonic link between $\mathrm{Var}(P_y)$
# and $\mathrm{Var}(f(\mathbf P))$ holds in the Monte Carlo numbers too (printed above), not only
# in the approximation.

# %% [markdown]
# ## Sec. 6: does the concave term create spurious minima?
#
# Sec. 6 considers multinomial logistic regression, where cross-entropy $g(\mathbf w)$ is convex in
# the weights (Eq. 19). With $h(x) = \tilde\ell(e^{-x})$ the paper writes the concave term as
# $f = h \circ g$ and notes $\nabla f = h'(g)\,\nabla g$ with $h' > 0$ (Eq. 20). So $f$ has exactly
# the stationary points of $g$: every stationary point is the global minimum.
#
# What this proves is narrower than "CCL keeps the global minimum":
#
# - the argument composes $h$ with the **whole** objective $g$. In training, the concave term is
#   applied to **each example's** $p_y$ and then averaged, $\frac1n\sum_i \tilde\ell(p_{y,i})$.
#   That is a different function, with its own stationary points;
# - without regularization, logistic regression on separable data has no finite minimum at all.
#   Here an L2 penalty $\frac{\lambda}{2}\|W\|^2$ is part of $g$, so that $g$ is strictly convex
#   with a unique minimizer.
#
# On a real data set (scikit-learn's digits, standardized), L-BFGS runs from
# `lr_n_starts` random starts for four objectives: CE ($g$), the composition $h(g)$ of Eq. 20,
# the per-example CCL of Eq. 4 with $\alpha$ = `alpha`, and the per-example concave term alone.
# For each we report the spread of the final objective values, the largest difference in
# predicted probabilities between end points, and the gradient of $g$ at the end points (zero
# only at $g$'s minimizer).

# %%
ds = load_dataset(lr_dataset)
x = ds.x[:lr_max_examples].astype(np.float64)
y = ds.y[:lr_max_examples]
sd = x.std(0)
x = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0)
lr_results = {obj: theory.logistic_regression_minima(x, y, obj, alpha=alpha, concave=lr_concave, l2=lr_l2,
                                                     n_starts=lr_n_starts, init_scale=lr_init_scale, seed=seed,
                                                     progress=False)
              for obj in ("ce", "h_of_g", "ccl", "concave")}
names = {"ce": "CE: g", "h_of_g": "h(g), Eq. 20", "ccl": f"per-example CCL (α={alpha:g})", "concave": "per-example concave term"}
lr_table = pd.DataFrame([dict(objective=names[k], best_value=r.values.min(), value_spread=r.value_spread,
                              max_prob_diff=r.max_prob_diff, max_final_grad=r.grad_norms.max(),
                              grad_of_g_at_best=r.ce_grad_norms[np.argmin(r.values)],
                              starts_at_best=int((r.values - r.values.min() < 1e-8).sum()), n_starts=len(r.values))
                         for k, r in lr_results.items()])

fig, ax = plt.subplots(1, 2, figsize=(12, 4))
jitter = np.random.default_rng(seed).uniform(-0.15, 0.15, lr_n_starts)
for k, (key, r) in enumerate(lr_results.items()):
    gap = r.values - r.values.min()
    ax[0].scatter(k + jitter, np.maximum(gap, 1e-16), c=np.where(gap >= 1e-8, "tab:red", "tab:green"))
    ax[1].scatter(k + jitter, r.ce_grad_norms, color="tab:blue")
ax[0].axhline(1e-8, color="gray", ls="--", lw=1, label="tolerance for 'same minimum'")
ax[0].scatter([], [], c="tab:red", label="start that stops at another point")
ax[0].set(yscale="log", ylabel="final value − best final value (floor 1e-16)", title="do all starts reach one minimum?")
ax[1].set(yscale="log", ylabel=r"$\max|\nabla g|$ at the end point", title="is the end point g's minimizer?")
for a_ in ax:
    a_.set_xticks(range(len(lr_results)), [names[k].replace(", ", ",\n").replace("example ", "example\n") for k in lr_results],
                  fontsize=8)
    a_.set_xlabel(f"objective ({lr_n_starts} random starts each)")
ax[0].legend(fontsize=8)
plt.tight_layout()
plt.show()
lr_table.style.format({c: "{:.2e}" for c in ("value_spread", "max_prob_diff", "max_final_grad", "grad_of_g_at_best")}
                      | {"best_value": "{:.6f}"})

# %%
ce_best = lr_results["ce"].params[np.argmin(lr_results["ce"].values)]
for k in ("h_of_g", "ccl", "concave"):
    r = lr_results[k]
    print(f"{names[k]:28s} best end point: max |W - W_ce*| = {np.abs(r.params[np.argmin(r.values)] - ce_best).max():.2e}, "
          f"g there = {r.ce_values[np.argmin(r.values)]:.6f} (g's minimum {lr_results['ce'].values.min():.6f}); "
          f"{int((r.values - r.values.min() >= 1e-8).sum())} of {len(r.values)} starts stop elsewhere")

# %% [markdown]
# ## What we saw
#
# - **Theorem 3.1** holds on every Beta distribution we sampled, for CE and (trivially) for focal
#   loss, whose bound degenerates to $0$. At a fixed mean confidence, the expected CE and focal
#   losses grow with $\mathrm{Var}(p_y)$, while both concave terms shrink. This is the paper's
#   reason for adding a concave term.
# - **Theorem 3.2**: the exact coefficient $B$ is negative for both concave terms on every
#   distribution, $-\tfrac12$ for the quadratic and inside $[-e/2, -\tfrac12]$ for the
#   exponential. $B$ depends on the distribution. The CCL mixture with $\alpha = 0.5$ has a negative
#   coefficient only when $p_y$ concentrates near $1$.
# - **Theorem 6.1**: simulation and Eq. 18 agree to within $0.01$ in advantage (largest gap
#   printed above). The largest gap, a few standard errors, is at FPR $0.01$. There the attacker's
#   threshold, calibrated on a finite shadow sample with FPR at most $\alpha$, is slightly
#   conservative, an effect that Eq. 18 (known distributions) ignores.
#   A larger member-loss spread lowers the advantage at FPR $0.1$, where $\tau > \mu_S$. At FPR
#   $0.01$ the threshold lies below $\mu_S$ and the advantage *rises* with $\sigma_S$. The
#   paper's conclusion needs $\tau > \mu_S$.
# - **Proposition 4.2**: the CCL and CE gradients have the same sign for every logit. Their ratio
#   stays within $[\alpha, \alpha + (1-\alpha)A]$ and fills that range as $p_y$ goes from $0$ to $1$.
# - **Appendix C**: for concentrated Dirichlets ($\alpha_0 \ge 100$) the delta method matches
#   Monte Carlo within about 10%. For diffuse ones ($\alpha_0 < 10$) it is off by up to a factor
#   of several. In both cases the variance of entropy, modified
#   entropy and loss grows with $\mathrm{Var}(P_y)$ at a fixed mean.
# - **Sec. 6**: CE and the composition $h(g)$ reach the same minimizer from every start, as the
#   argument proves. The per-example CCL with $\alpha = 0.5$ also reached a single minimum from
#   every start here, but a different one: the gradient of $g$ there is not zero. The per-example
#   concave term alone stopped at a worse stationary point from some starts (see the table), so
#   applied per example it *can* create spurious minima. The cross-entropy part of CCL is what
#   keeps the optimization well behaved.
