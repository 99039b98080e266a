"""Threshold search (Song & Mittal's rule), advantage sanity, and Theorem 6.1 (Eq. 17-18)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from ccl_lib.attacks import (
    AttackResult,
    apply_thresholds,
    best_threshold,
    class_thresholds,
    gaussian_loss_advantage,
    threshold_at_fpr,
)


def brute_best(scores, labels):
    """Scan every candidate threshold; maximize balanced accuracy; ties -> largest threshold."""
    s = np.asarray(scores, float)
    m = np.asarray(labels).astype(bool)
    n1, n0 = m.sum(), (~m).sum()
    best = None
    for v in sorted(set(s.tolist()), reverse=True):
        pred = s >= v
        obj = int((pred & m).sum()) * n0 - int((pred & ~m).sum()) * n1  # n0*n1*(TPR-FPR), exact
        if best is None or obj > best[0]:
            best = (obj, v, 0.5 * ((pred & m).sum() / n1 + ((~pred) & ~m).sum() / n0))
    return best[1], best[2]


@pytest.mark.parametrize("seed", range(6))
def test_best_threshold_equals_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    s = rng.integers(0, 7, n).astype(float)  # heavy ties
    m = rng.integers(0, 2, n)
    m[0], m[-1] = 0, 1
    s = s + m * rng.integers(0, 3, n)  # members score higher, some of the time
    thr, bacc = best_threshold(s, m)
    thr_b, bacc_b = brute_best(s, m)
    assert thr == thr_b
    assert bacc == pytest.approx(bacc_b, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_class_thresholds_equal_per_class_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    k = 5
    y_in, y_out = rng.integers(0, k, 80), rng.integers(0, k, 70)
    y_out[y_out == 3] = 2  # class 3 has members only -> global fallback
    s_in = rng.integers(0, 9, 80) + (y_in % 2)
    s_out = rng.integers(0, 9, 70).astype(float)
    thr = class_thresholds(s_in, s_out, y_in, y_out, num_classes=k + 1)
    glob = brute_best(np.r_[s_in, s_out], np.r_[np.ones(80), np.zeros(70)])[0]
    assert thr.shape == (k + 1,)
    for c in range(k + 1):
        a, b = s_in[y_in == c], s_out[y_out == c]
        if len(a) and len(b):
            assert thr[c] == brute_best(np.r_[a, b], np.r_[np.ones(len(a)), np.zeros(len(b))])[0]
        else:  # class 3 (no non-member) and class 5 (absent)
            assert thr[c] == glob
    dec = apply_thresholds(s_in, y_in, thr)
    assert np.array_equal(dec, s_in >= thr[y_in])


@pytest.mark.parametrize("seed", range(3))
def test_class_thresholds_many_sparse_classes_equal_brute_force(seed):
    """Many classes, few scores: empty classes, one-sided classes, single-example classes, float ties."""
    rng = np.random.default_rng(200 + seed)
    k = 40
    n_in, n_out = int(rng.integers(20, 90)), int(rng.integers(20, 90))
    y_in, y_out = rng.integers(0, k, n_in), rng.integers(0, k, n_out)
    s_in = np.round(rng.normal(0.3, 1, n_in), 1)  # coarse rounding: ties across members and non-members
    s_out = np.round(rng.normal(0.0, 1, n_out), 1)
    thr = class_thresholds(s_in, s_out, y_in, y_out, num_classes=k)
    glob = brute_best(np.r_[s_in, s_out], np.r_[np.ones(n_in), np.zeros(n_out)])[0]
    for c in range(k):
        a, b = s_in[y_in == c], s_out[y_out == c]
        want = brute_best(np.r_[a, b], np.r_[np.ones(len(a)), np.zeros(len(b))])[0] if len(a) and len(b) else glob
        assert thr[c] == want, c


def test_threshold_at_fpr_brute_force():
    rng = np.random.default_rng(7)
    s = rng.integers(0, 30, 200).astype(float)
    for a in (0.0, 0.004, 0.01, 0.05, 0.3, 1.0):
        tau = threshold_at_fpr(s, a)
        assert (s >= tau).mean() <= a + 1e-12
        # no smaller candidate keeps the FPR bound
        smaller = [v for v in set(s.tolist()) if v < tau]
        assert all((s >= v).mean() > a for v in smaller)
    assert threshold_at_fpr(np.ones(5), 0.1) == math.inf


def test_perfect_separation_gives_advantage_one():
    rng = np.random.default_rng(1)
    s_in, s_out = rng.uniform(2, 3, 300), rng.uniform(0, 1, 300)
    thr, bacc = best_threshold(np.r_[s_in, s_out], np.r_[np.ones(300), np.zeros(300)])
    assert bacc == 1.0 and thr == s_in.min()
    res = AttackResult("sep", s_in, s_out, s_in >= thr, s_out >= thr)
    summ = res.summary()
    assert summ["advantage_oracle"] == 1.0 and summ["advantage"] == 1.0
    assert summ["auc"] == 1.0 and summ["tpr@0.1%"] == 1.0 and summ["balanced_accuracy"] == 1.0


def test_identical_distributions_give_no_advantage():
    rng = np.random.default_rng(2)
    n = 4000
    s_in, s_out = rng.normal(size=n), rng.normal(size=n)
    shadow_in, shadow_out = rng.normal(size=n), rng.normal(size=n)
    tau = best_threshold(np.r_[shadow_in, shadow_out], np.r_[np.ones(n), np.zeros(n)]).threshold
    res = AttackResult("iid", s_in, s_out, s_in >= tau, s_out >= tau)
    summ = res.summary()
    # one-sided two-sample KS bound: P(sup(TPR - FPR) > t) <= exp(-t^2 n / 1) for m = n; p = 1e-6
    assert summ["advantage_oracle"] <= math.sqrt(math.log(1e6) / n)
    # a fixed threshold: difference of two binomial proportions, 5 standard deviations
    p = (s_out >= tau).mean()
    assert abs(summ["advantage"]) <= 5 * math.sqrt(2 * p * (1 - p) / n)
    assert abs(summ["auc"] - 0.5) <= 5 * math.sqrt((2 * n + 1) / (12 * n * n))


@pytest.mark.parametrize("mu_s,sig_s,mu_d,sig_d", [(0.2, 0.3, 1.0, 0.8), (0.5, 1.0, 1.0, 1.0)])
def test_theorem_6_1_gaussian_losses(mu_s, sig_s, mu_d, sig_d):
    """Measured loss-attack advantage at a fixed FPR matches Eq. 18 within sampling error."""
    rng = np.random.default_rng(3)
    n, alpha = 40000, 0.05
    # Eq. 18, written out independently of the library
    expected = norm.cdf((norm.ppf(alpha) * sig_d + mu_d - mu_s) / sig_s) - alpha
    assert gaussian_loss_advantage(mu_s, sig_s, mu_d, sig_d, fpr=alpha) == pytest.approx(expected, abs=1e-12)
    tau = mu_d + sig_d * norm.ppf(alpha)
    assert gaussian_loss_advantage(mu_s, sig_s, mu_d, sig_d, threshold=tau) == pytest.approx(expected, abs=1e-12)

    # the attacker fixes its FPR on shadow non-members, then attacks the target
    shadow_out = -rng.normal(mu_d, sig_d, n)  # membership score = -loss
    t_in, t_out = -rng.normal(mu_s, sig_s, n), -rng.normal(mu_d, sig_d, n)
    thr = threshold_at_fpr(shadow_out, alpha)
    measured = (t_in >= thr).mean() - (t_out >= thr).mean()
    tpr = expected + alpha
    # error of TPR, of FPR, and of the threshold's quantile propagated through the ROC slope
    slope = norm.pdf((tau - mu_s) / sig_s) / sig_s / (norm.pdf(norm.ppf(alpha)) / sig_d)
    se = math.sqrt(tpr * (1 - tpr) / n) + math.sqrt(alpha * (1 - alpha) / n) * (1 + slope)
    assert abs(measured - expected) <= 5 * se

    # and the best threshold on the target: sup over tau of Eq. 17
    taus = np.linspace(-3, 5, 20001)
    sup = float(np.max(norm.cdf((taus - mu_s) / sig_s) - norm.cdf((taus - mu_d) / sig_d)))
    adv = AttackResult("loss", t_in, t_out).summary()["advantage_oracle"]
    assert abs(adv - sup) <= math.sqrt(math.log(1e6) / n) + 1e-3


def test_validation_messages():
    with pytest.raises(ValueError, match="member"):
        best_threshold([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="NaN"):
        best_threshold([np.nan, 2.0], [0, 1])
    with pytest.raises(ValueError, match="0 \\(non-member\\) or 1"):
        best_threshold([1.0, 2.0], [0, 2])
    with pytest.raises(ValueError, match="num_classes"):
        class_thresholds([1.0], [0.0], [4], [0], num_classes=3)
    with pytest.raises(ValueError, match="integer class labels"):
        class_thresholds([1.0], [0.0], [0.5], [0])
    with pytest.raises(ValueError, match="fpr"):
        threshold_at_fpr([1.0], 1.5)
    with pytest.raises(ValueError, match="exactly one"):
        gaussian_loss_advantage(0, 1, 1, 1)
    with pytest.raises(ValueError, match="sigma_in"):
        gaussian_loss_advantage(0, 0, 1, 1, fpr=0.1)
    with pytest.raises(ValueError, match="NaN"):
        AttackResult("x", [np.nan], [0.0])
    with pytest.raises(ValueError, match="decision_in"):
        AttackResult("x", [1.0, 2.0], [0.0], [True], [False])
    with pytest.raises(ValueError, match="both"):
        AttackResult("x", [1.0], [0.0], [True], None)


def test_summary_keys_and_roc():
    res = AttackResult("a", [3.0, 2.0, 2.0], [2.0, 1.0], [True, True, False], [False, False])
    summ = res.summary()
    assert list(summ) == [
        "advantage",
        "advantage_oracle",
        "balanced_accuracy",
        "auc",
        "tpr@0.1%",
        "tpr@1%",
        "n_in",
        "n_out",
    ]
    # hand computed: threshold 3 -> TPR 1/3, FPR 0; threshold 2 -> TPR 1, FPR 1/2
    assert summ["advantage_oracle"] == pytest.approx(1 / 2)
    assert summ["advantage"] == pytest.approx(2 / 3)
    assert summ["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert summ["auc"] == pytest.approx(5 / 6)  # pairs (in, out): 3>2, 3>1, 2=2, 2>1, 2=2, 2>1
    assert (summ["n_in"], summ["n_out"]) == (3, 2)
    roc = res.roc()
    assert np.allclose(roc.tpr, [0, 1 / 3, 1, 1]) and np.allclose(roc.fpr, [0, 0, 0.5, 1])
    assert math.isnan(AttackResult("b", [1.0], [0.0]).summary()["advantage"])
