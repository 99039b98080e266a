"""Tests of ccl_lib.theory against closed forms, brute force and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from ccl_lib import theory as T
from ccl_lib.losses import convex_concave_loss

E = math.e


# --------------------------------------------------------------------------- losses of p


def test_p_loss_values_and_normalization():
    p = torch.tensor([0.05, 0.3, 0.7, 1.0], dtype=torch.float64)
    pn = p.numpy()
    np.testing.assert_allclose(T.p_loss("ce")(p).numpy(), -np.log(pn))
    np.testing.assert_allclose(T.p_loss("focal", gamma=2)(p).numpy(), -((1 - pn) ** 2) * np.log(pn))
    np.testing.assert_allclose(T.p_loss("exp")(p).numpy(), E - np.exp(pn))
    np.testing.assert_allclose(T.p_loss("quadratic")(p).numpy(), 1.5 - pn - pn**2 / 2)
    a = 0.3
    np.testing.assert_allclose(T.p_loss("ccel", alpha=a)(p).numpy(), a * -np.log(pn) + (1 - a) * (E - np.exp(pn)))
    np.testing.assert_allclose(T.p_loss("ccql", alpha=a)(p).numpy(), a * -np.log(pn) + (1 - a) * (1.5 - pn - pn**2 / 2))
    for name in T.P_LOSSES:
        assert abs(float(T.p_loss(name)(torch.ones(1, dtype=torch.float64)))) < 1e-15


def test_p_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown loss"):
        T.p_loss("hinge")
    with pytest.raises(ValueError, match="alpha"):
        T.p_loss("ccel", alpha=1.5)
    with pytest.raises(ValueError, match="gamma"):
        T.p_loss("focal", gamma=-1)


def test_loss_derivatives_closed_forms_and_finite_differences():
    x = np.array([0.02, 0.2, 0.5, 0.9, 1.0])
    loss, d1, d2 = T.loss_derivatives("ce", x)
    np.testing.assert_allclose(loss, -np.log(x))
    np.testing.assert_allclose(d1, -1 / x)
    np.testing.assert_allclose(d2, 1 / x**2)
    _, d1, d2 = T.loss_derivatives("focal", x)
    np.testing.assert_allclose(d1, 2 * (1 - x) * np.log(x) - (1 - x) ** 2 / x, atol=1e-14)
    np.testing.assert_allclose(d2, -2 * np.log(x) + 4 * (1 - x) / x + (1 - x) ** 2 / x**2, atol=1e-14)
    # central finite differences of a CCL (independent of autograd)
    f = T.p_loss("ccel", alpha=0.4)
    xs = np.array([0.1, 0.4, 0.8])
    h = 1e-5
    val = lambda t: f(torch.tensor(t, dtype=torch.float64)).numpy()
    _, d1, d2 = T.loss_derivatives(f, xs)
    np.testing.assert_allclose(d1, (val(xs + h) - val(xs - h)) / (2 * h), rtol=1e-8)
    np.testing.assert_allclose(d2, (val(xs + h) - 2 * val(xs) + val(xs - h)) / h**2, rtol=1e-4)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        T.loss_derivatives("ce", [0.0, 0.5])
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        T.loss_derivatives("ce", [1.5])


def test_ce_gradient_weight_generalizes_eq_11():
    p = np.array([0.01, 0.3, 0.8, 0.999])
    np.testing.assert_allclose(T.ce_gradient_weight("ce", p), 1.0)
    np.testing.assert_allclose(T.ce_gradient_weight("focal", p), (1 - p) ** 2 - 2 * p * (1 - p) * np.log(p), atol=1e-14)
    from ccl_lib.losses import concave_coefficient

    for name, concave in (("ccel", "exp"), ("ccql", "quadratic")):
        ref = concave_coefficient(torch.from_numpy(p), 0.3, concave).numpy()
        np.testing.assert_allclose(T.ce_gradient_weight(T.p_loss(name, alpha=0.3), p), ref, rtol=1e-12)
    # w(p) times the CE gradient is the autograd gradient of the focal loss w.r.t. the logits
    from ccl_lib.losses import focal_loss

    z = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], dtype=torch.float64)
    t = torch.tensor([0, 1])
    auto = T.autograd_logit_gradient(lambda a, b: focal_loss(a, b, 2.0, reduction="sum"), z, t)
    py = torch.softmax(z, 1)[torch.arange(2), t].numpy()
    ce = (torch.softmax(z, 1) - torch.nn.functional.one_hot(t, 3).double()).numpy()
    np.testing.assert_allclose(auto.numpy(), T.ce_gradient_weight("focal", py)[:, None] * ce, atol=1e-14)


# --------------------------------------------------------------------------- Theorem 3.1


@pytest.mark.parametrize("a,b", [(0.5, 0.5), (2.0, 1.0), (8.0, 2.0), (30.0, 1.0)])
def test_taylor_bound_cross_entropy_by_hand(a, b):
    p = np.clip(np.random.default_rng(0).beta(a, b, 4000), 1e-12, 1.0)
    tb = T.taylor_bound("ce", p)
    eps, s2 = 1 - p.mean(), p.var()
    assert tb.A == pytest.approx(1.0) and tb.B == pytest.approx(1.0)  # -l'(1) = 1, inf 1/x^2 = 1
    assert tb.bound == pytest.approx(eps + 0.5 * (eps**2 + s2), rel=1e-12)
    assert tb.expected_loss == pytest.approx(-np.log(p).mean(), rel=1e-12)
    assert tb.holds and tb.expected_loss >= tb.bound
    assert tb.coefficient >= 0.5 - 1e-12  # Theorem 3.1 in Eq. 3's normalization


def test_taylor_bound_is_tight_for_a_quadratic_loss():
    # l(p) = (1-p) + (1-p)^2: A = 1, l'' = 2 = B, so the bound is an equality.
    loss = lambda p: (1 - p) + (1 - p) ** 2
    p = np.random.default_rng(1).uniform(0.01, 1, 500)
    tb = T.taylor_bound(loss, p)
    assert tb.A == pytest.approx(1.0) and tb.B == pytest.approx(2.0, abs=1e-9)
    assert tb.bound == pytest.approx(tb.expected_loss, rel=1e-9)
    assert tb.coefficient == pytest.approx(1.0, rel=1e-9)


def test_taylor_bound_focal_loss_is_trivial_but_coefficient_positive():
    p = np.random.default_rng(2).beta(5, 1, 2000)
    tb = T.taylor_bound("focal", p)
    assert tb.A == pytest.approx(0.0, abs=1e-12) and tb.B == pytest.approx(0.0, abs=1e-9)
    assert tb.bound == pytest.approx(0.0, abs=1e-9) and tb.holds
    assert tb.coefficient > 0


def test_taylor_bound_rejects_invalid_inputs():
    p = [0.5, 0.9]
    with pytest.raises(ValueError, match="convex"):
        T.taylor_bound("exp", p)
    with pytest.raises(ValueError, match=r"l\(1\) = 0"):
        T.taylor_bound(lambda x: -torch.log(x) + 1, p)
    with pytest.raises(ValueError, match="not a lower bound"):
        T.taylor_bound("ce", p, B=2.0)
    with pytest.raises(ValueError, match="probabilities"):
        T.taylor_bound("ce", [0.5, np.nan])
    with pytest.raises(TypeError):
        T.taylor_bound(3, p)


# --------------------------------------------------------------------------- Theorem 3.2


@pytest.mark.parametrize(
    "a,b", [(0.3, 0.3), (0.7, 0.4), (3.0, 2.0), (20.0, 1.5), (0.31, 29.0), (69.3, 17.3), (1600.0, 400.0)]
)
def test_beta_expected_loss_matches_closed_forms(a, b):
    # E[-log p] = psi(a+b) - psi(a);  E[e^p] = 1F1(a; a+b; 1)
    assert T.beta_expected_loss("ce", a, b) == pytest.approx(special.digamma(a + b) - special.digamma(a), rel=1e-8)
    # focal (gamma = 2): E[(1-p)^2 (-log p)] = b(b+1)/((a+b)(a+b+1)) * (psi(a+b+2) - psi(a))
    focal = b * (b + 1) / ((a + b) * (a + b + 1)) * (special.digamma(a + b + 2) - special.digamma(a))
    assert T.beta_expected_loss("focal", a, b) == pytest.approx(focal, rel=1e-8)
    assert T.beta_expected_loss("exp", a, b) == pytest.approx(E - special.hyp1f1(a, a + b, 1.0), rel=1e-10)
    m = a / (a + b)
    m2 = m * (a + 1) / (a + b + 1)
    assert T.beta_expected_loss("quadratic", a, b) == pytest.approx(1.5 - m - m2 / 2, rel=1e-10)


def test_taylor_coefficient_quadratic_is_minus_half_everywhere():
    rng = np.random.default_rng(3)
    for a, b in [(0.5, 0.5), (2, 5), (10, 1)]:
        assert T.taylor_coefficient("quadratic", beta=(a, b)) == pytest.approx(-0.5, abs=1e-10)
        assert T.taylor_coefficient("quadratic", samples=rng.beta(a, b, 300)) == pytest.approx(-0.5, abs=1e-10)


def test_concave_coefficient_exp_in_proof_range_and_matches_monte_carlo():
    rng = np.random.default_rng(4)
    for a, b in [(0.3, 3.0), (1.0, 1.0), (4.0, 1.0), (50.0, 2.0)]:
        cc = T.concave_coefficient_B("exp", beta=(a, b))
        assert cc.B_min == pytest.approx(-E / 2, rel=1e-9) and cc.B_max == pytest.approx(-0.5, rel=1e-6)
        assert cc.B_min - 1e-12 <= cc.B <= cc.B_max + 1e-12 and cc.B < 0
        assert cc.A == pytest.approx(E)
        assert cc.expected_loss == pytest.approx(cc.A * cc.eps + cc.B * (cc.eps**2 + cc.sigma2), rel=1e-12)
        mc = T.taylor_coefficient("exp", samples=rng.beta(a, b, 200_000))
        assert mc == pytest.approx(cc.B, abs=0.01)
    with pytest.raises(ValueError, match="concave"):
        T.concave_coefficient_B("ce", beta=(2, 2))
    with pytest.raises(ValueError, match="exactly one"):
        T.concave_coefficient_B("exp")
    with pytest.raises(ValueError, match="Beta parameters"):
        T.concave_coefficient_B("exp", beta=(-1, 2))


# --------------------------------------------------------------------------- Eq. 10-11 and Prop. 4.2


def test_closed_form_gradient_matches_autograd_and_finite_differences():
    g = torch.Generator().manual_seed(0)
    z = 4 * torch.randn(64, 7, generator=g, dtype=torch.float64)
    t = torch.randint(0, 7, (64,), generator=g)
    for concave in ("exp", "quadratic"):
        for alpha in (0.0, 0.3, 1.0):
            closed = T.ccl_logit_gradient(z, t, alpha, concave)
            auto = T.autograd_logit_gradient(
                lambda a, b, alpha=alpha, concave=concave: convex_concave_loss(a, b, alpha, concave, reduction="sum"),
                z,
                t,
            )
            assert float((closed - auto).abs().max()) < 1e-13
    # alpha = 1 is exactly cross-entropy's gradient softmax - onehot (Eq. 9)
    ce = torch.softmax(z, 1) - torch.nn.functional.one_hot(t, 7).double()
    assert torch.allclose(T.ccl_logit_gradient(z, t, 1.0), ce, atol=1e-15)
    # central finite differences on one example (no autograd)
    z1, t1, h = z[:1].clone(), t[:1], 1e-6
    fd = torch.zeros(7, dtype=torch.float64)
    for j in range(7):
        e = torch.zeros_like(z1)
        e[0, j] = h
        fd[j] = (
            convex_concave_loss(z1 + e, t1, 0.5, "exp", reduction="sum")
            - convex_concave_loss(z1 - e, t1, 0.5, "exp", reduction="sum")
        ) / (2 * h)
    assert torch.allclose(T.ccl_logit_gradient(z1, t1, 0.5, "exp")[0], fd, atol=1e-8)


def test_gradient_check_table():
    df = T.gradient_check(alphas=(0.2, 0.8), n=64)
    assert len(df) == 2 * 2 * 2
    assert (df.loc[df.dtype == "float64", "max_abs_error"] < 1e-13).all()
    assert (df.loc[df.dtype == "float32", "max_abs_error"] < 1e-5).all()


def test_gradient_bounds_proposition_4_2():
    g = torch.Generator().manual_seed(1)
    z = 6 * torch.randn(400, 10, generator=g, dtype=torch.float64)
    t = torch.randint(0, 10, (400,), generator=g)
    for concave, A in (("exp", E), ("quadratic", 2.0)):
        gb = T.gradient_bounds(z, t, 0.4, concave)
        assert gb.A == pytest.approx(A) and gb.holds
        assert gb.lower == 0.4 and gb.upper == pytest.approx(0.4 + 0.6 * A)
        r = gb.ratio[np.isfinite(gb.ratio)]
        assert r.min() >= 0.4 - 1e-9 and r.max() <= gb.upper + 1e-9
        # the ratio is the same for every class of an example and equals the coefficient of Eq. 11
        coef = 0.4 + 0.6 * gb.p_y * A * (np.exp(gb.p_y - 1) if concave == "exp" else (1 + gb.p_y) / 2)
        np.testing.assert_allclose(np.nanmax(gb.ratio, 1), coef, rtol=1e-9)
        # extremes: near p_y = 0 the ratio is close to alpha, near p_y = 1 close to the upper bound
        assert r.min() < 0.41 and r.max() > gb.upper - 0.05
    with pytest.raises(ValueError, match="alpha > 0"):
        T.gradient_bounds(z, t, 0.0)


# --------------------------------------------------------------------------- Theorem 6.1


def test_gaussian_advantage_against_integration_and_sampling():
    """Eq. 17 against numerical integration of the two densities; Eq. 18 against it at tau = mu_d + Phi^-1(a) s_d."""
    from ccl_lib.attacks import gaussian_loss_advantage

    mu_s, s_s, mu_d, s_d = 0.4, 0.5, 1.2, 0.8
    for tau in (-0.5, 0.3, 1.0, 2.5):
        closed = T.gaussian_advantage_at_threshold(tau, mu_s, s_s, mu_d, s_d)
        integral = integrate.quad(lambda x: stats.norm.pdf(x, mu_s, s_s) - stats.norm.pdf(x, mu_d, s_d), -np.inf, tau)[
            0
        ]
        assert closed == pytest.approx(integral, abs=1e-9)
    rng = np.random.default_rng(11)
    l_in, l_out = rng.normal(mu_s, s_s, 400_000), rng.normal(mu_d, s_d, 400_000)
    for fpr in (0.001, 0.01, 0.2):
        tau = mu_d + stats.norm.ppf(fpr) * s_d  # the loss threshold flagging a fraction fpr of non-members
        integral = integrate.quad(lambda x: stats.norm.pdf(x, mu_s, s_s), -np.inf, tau)[0] - fpr
        eq18 = T.gaussian_advantage(mu_s, s_s, mu_d, s_d, fpr)
        assert eq18 == pytest.approx(integral, abs=1e-9)
        sampled = (l_in <= tau).mean() - (l_out <= tau).mean()
        assert abs(eq18 - sampled) < 5 * math.sqrt(0.25 / 400_000 * 2)
        # the attack-side entry point: same convention (flag loss <= tau), validated arguments
        assert gaussian_loss_advantage(mu_s, s_s, mu_d, s_d, fpr=fpr) == pytest.approx(integral, abs=1e-9)
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_loss_advantage(mu_s, s_s, mu_d, s_d)
    # broadcasting over sigma_s
    sig = np.array([0.1, 0.5, 1.0])
    assert T.gaussian_advantage(mu_s, sig, mu_d, s_d, 0.1).shape == (3,)


def test_gaussian_advantage_monotonicity_depends_on_threshold_side():
    sig = np.linspace(0.05, 3, 60)
    # tau = mu_d + Phi^-1(0.2) sigma_d = 1.2 - 0.67 > mu_s = 0: advantage decreases in sigma_s
    adv = T.gaussian_advantage(0.0, sig, 1.2, 1.0, 0.2)
    assert (np.diff(adv) < 0).all()
    # tau = 1.2 - 3.09 < mu_s = 0 at fpr = 0.001: advantage increases in sigma_s
    adv = T.gaussian_advantage(0.0, sig, 1.2, 1.0, 0.001)
    assert (np.diff(adv) >= 0).all() and (np.diff(adv)[sig[1:] > 0.5] > 0).all()
    assert adv[0] == pytest.approx(-0.001, abs=1e-9) and adv[-1] > 0.25  # from below zero to 0.26
    with pytest.raises(ValueError, match="fpr"):
        T.gaussian_advantage(0, 1, 1, 1, 1.0)
    with pytest.raises(ValueError, match="standard deviations"):
        T.gaussian_advantage(0, 0.0, 1, 1, 0.1)


def test_simulated_attack_converges_to_eq_18():
    for sigma_s, fpr in ((0.3, 0.1), (1.0, 0.05)):
        sim = T.simulate_loss_attack(0.5, sigma_s, 1.0, 0.5, fpr, n=20_000, n_repeats=10, seed=5)
        assert abs(sim.advantage - sim.closed_form) < 5 * sim.advantage_se + 0.004
        assert sim.fpr == pytest.approx(fpr, abs=0.005)
        assert sim.tpr - sim.fpr == pytest.approx(sim.advantage, abs=1e-12)
    with pytest.raises(ValueError, match="n must be"):
        T.simulate_loss_attack(0, 1, 1, 1, 0.1, n=0)


def test_shadow_loss_threshold_by_hand_and_as_the_attack_suite_calibrates():
    # by hand: 10 losses, fpr 0.2 flags at most 2 of them -> the 2nd smallest; ties step down
    assert T.shadow_loss_threshold([5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 0.2) == 2.0
    assert T.shadow_loss_threshold([1, 2, 2, 3], 0.5) == 1.0  # 2 would flag three of four
    assert T.shadow_loss_threshold([1, 2, 3], 0.1) == -math.inf  # floor(0.3) = 0: flag nobody
    assert T.shadow_loss_threshold([1, 2, 3], 1.0) == 3.0
    # the attack suite's rule on scores = -loss (ccl_lib.attacks.threshold), with many ties
    from ccl_lib.attacks.threshold import threshold_at_fpr

    rng = np.random.default_rng(0)
    for _ in range(300):
        losses = rng.integers(0, 6, rng.integers(1, 30)).astype(float)
        fpr = float(rng.choice([0.0, 0.05, 0.1, 0.25, 0.5, 1.0, rng.random()]))
        assert T.shadow_loss_threshold(losses, fpr) == -threshold_at_fpr(-losses, fpr)
    with pytest.raises(ValueError, match="fpr must be"):
        T.shadow_loss_threshold([1.0], 1.5)


# --------------------------------------------------------------------------- Lemma C.1, Prop. C.2


def test_prob_metrics_match_attack_scores():
    from ccl_lib.attacks import metric_scores

    p = torch.from_numpy(np.random.default_rng(6).dirichlet([2, 1, 1, 0.5], 50))
    y = 2
    logits = torch.log(p)
    labels = torch.full((50,), y)
    np.testing.assert_allclose(
        T.prob_metric("entropy", y)(p).numpy(), -metric_scores(logits, labels, "entropy"), atol=1e-12
    )
    np.testing.assert_allclose(T.prob_metric("ce", y)(p).numpy(), -metric_scores(logits, labels, "loss"), atol=1e-12)
    np.testing.assert_allclose(
        T.prob_metric("m_entropy", y)(p).numpy(), -metric_scores(logits, labels, "modified_entropy"), atol=1e-10
    )
    np.testing.assert_allclose(T.prob_metric("confidence", y)(p).numpy(), p[:, y].numpy())
    with pytest.raises(ValueError, match="unknown metric"):
        T.prob_metric("gini")


def test_dirichlet_moments_and_delta_method_closed_forms():
    a = np.array([6.0, 2.0, 1.0, 1.0])
    mu, cov = T.dirichlet_moments(a)
    np.testing.assert_allclose(mu, a / 10)
    np.testing.assert_allclose(np.diag(cov), mu * (1 - mu) / 11)
    assert cov[0, 1] == pytest.approx(-mu[0] * mu[1] / 11)
    samples = np.random.default_rng(7).dirichlet(a, 200_000)
    np.testing.assert_allclose(np.cov(samples.T), cov, atol=2e-3)
    # CE: J = -e_y / mu_y  ->  Var ~ (1 - mu_y) / (mu_y (a0 + 1))
    assert T.dirichlet_delta_method(a, T.prob_metric("ce", 0)) == pytest.approx(0.4 / (0.6 * 11))
    # entropy: J = -(log mu + 1)
    j = -(np.log(mu) + 1)
    assert T.dirichlet_delta_method(a, T.prob_metric("entropy", 0)) == pytest.approx(j @ cov @ j)
    with pytest.raises(ValueError, match="> 0"):
        T.dirichlet_moments([1.0, -1.0])


def test_dirichlet_monte_carlo_and_monotonicity():
    # Var(log P_y) = psi1(a_y) - psi1(a0) exactly (Dirichlet marginal is Beta).
    a = np.array([5.0, 3.0, 2.0])
    var, se = T.dirichlet_monte_carlo(a, T.prob_metric("ce", 0), 100_000, seed=8)
    assert abs(var - (special.polygamma(1, 5.0) - special.polygamma(1, 10.0))) < 4 * se
    # for a concentrated Dirichlet the delta method (Lemma C.1) agrees with Monte Carlo
    mu = np.array([0.7, 0.2, 0.1])
    big = 2000 * mu
    mc, se = T.dirichlet_monte_carlo(big, T.prob_metric("m_entropy", 0), 50_000, seed=9)
    assert T.dirichlet_delta_method(big, T.prob_metric("m_entropy", 0)) == pytest.approx(mc, rel=0.03)


def test_proposition_c2_table_against_the_exact_variance_of_the_log_likelihood():
    # -log P_y with P_y ~ Beta(a0 mu_y, a0 (1 - mu_y)): Var = psi1(a0 mu_y) - psi1(a0), exactly
    mu = (0.7, 0.2, 0.1)
    a0s = (0.5, 2.0, 20.0, 200.0)
    t = T.proposition_c2_table(mu, a0s, metric="ce", y=0, n_samples=100_000, seed=1)
    exact = special.polygamma(1, 0.7 * np.array(a0s)) - special.polygamma(1, np.array(a0s))
    assert list(t["alpha0"]) == list(a0s)
    np.testing.assert_allclose(t["var_py"], 0.21 / (np.array(a0s) + 1))
    assert (np.abs(t["mc_var"] - exact) < 4 * t["mc_se"]).all()
    assert list(t["holds"][:-1]) == list(exact[:-1] > exact[1:]) and t["holds"].iloc[-1] is None
    assert t["delta_holds"][:-1].all()  # the delta method decreases in a0 by construction
    assert abs(t["rel_error"].iloc[-1]) < 0.05  # and is accurate only for concentrated outputs
    assert abs(t["rel_error"].iloc[0]) > 0.3


def test_proposition_c2_fails_for_the_entropy_away_from_concentrated_outputs():
    # issue 12: mu = (.7, .2, .1): Var(entropy) 0.029, 0.085, 0.060, 0.021 at a0 = 0.1, 2, 5, 20
    t = T.proposition_c2_table((0.7, 0.2, 0.1), (0.1, 2.0, 5.0, 20.0), metric="entropy", n_samples=100_000, seed=2)
    np.testing.assert_allclose(t["mc_var"], [0.029, 0.085, 0.060, 0.021], atol=0.0015)
    # from a0 = 0.1 to 2, Var(P_y) falls but Var(entropy) rises: the proposition fails, significantly
    assert t["holds"].iloc[0] is False and t["significant"].iloc[0] is True
    assert t["holds"].iloc[1] is True and t["holds"].iloc[2] is True  # it holds for concentrated outputs
    with pytest.raises(ValueError, match="probability vector"):
        T.proposition_c2_table((0.7, 0.2), (1.0, 2.0))
    with pytest.raises(ValueError, match="alpha0s"):
        T.proposition_c2_table((0.5, 0.5), (1.0,))


# --------------------------------------------------------------------------- Sec. 6


@pytest.fixture(scope="module")
def digits_small():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x[:300], y[:300]
    sd = x.std(0)
    return (x - x.mean(0)) / np.where(sd > 0, sd, 1), y


def test_logistic_regression_ce_matches_sklearn_and_is_unique(digits_small):
    from sklearn.linear_model import LogisticRegression

    x, y = digits_small
    l2 = 1e-2
    threads = torch.get_num_threads()
    r = T.logistic_regression_minima(x, y, "ce", l2=l2, n_starts=3, tol=1e-10, progress=False)
    assert torch.get_num_threads() == threads  # the single-threaded section restores the setting
    assert r.value_spread < 1e-10 and r.max_prob_diff < 1e-5
    assert (r.grad_norms < 1e-8).all()
    sk = LogisticRegression(C=1 / (len(y) * l2), tol=1e-12, max_iter=10_000).fit(x, y)
    w, b = r.params[0][:-1], r.params[0][-1]
    z = x @ w + b
    prob = np.exp(z - z.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    np.testing.assert_allclose(prob, sk.predict_proba(x), atol=1e-5)


def test_h_of_g_shares_the_minimizer_of_g(digits_small):
    x, y = digits_small
    ce = T.logistic_regression_minima(x, y, "ce", l2=1e-2, n_starts=1, tol=1e-10, progress=False)
    h = T.logistic_regression_minima(
        x, y, "h_of_g", l2=1e-2, n_starts=2, init_scale=0.1, tol=1e-12, concave="quadratic", progress=False
    )
    assert (h.ce_grad_norms < 1e-6).all()  # a stationary point of g ...
    np.testing.assert_allclose(h.ce_values, ce.values[0], rtol=1e-9)  # ... the minimum of g
    assert np.abs(h.params - ce.params[0]).max() < 1e-4
    # per-example CCL: a different objective, whose minimizer is not g's
    c = T.logistic_regression_minima(x, y, "ccl", l2=1e-2, n_starts=1, tol=1e-10, progress=False)
    assert c.grad_norms[0] < 1e-8 and c.ce_grad_norms[0] > 1e-5


def test_logistic_regression_validation(digits_small):
    x, y = digits_small
    with pytest.raises(ValueError, match="unknown objective"):
        T.logistic_regression_minima(x, y, "mse")
    with pytest.raises(ValueError, match="l2"):
        T.logistic_regression_minima(x, y, l2=0.0)
    with pytest.raises(ValueError, match="integer labels"):
        T.logistic_regression_minima(x, y.astype(float))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        T.logistic_regression_minima(x[:10], y[:5])
