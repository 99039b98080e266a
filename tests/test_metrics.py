"""Tests of ccl_lib.metrics against scikit-learn and brute force (Eq. 2, Eq. 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from ccl_lib import metrics as M


def tied_scores(n=400, seed=0, levels=12):
    """Scores with many ties (rounded), members shifted up."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    scores = np.round(rng.normal(size=n) + 0.8 * labels, 1)
    scores = np.clip(scores, -levels / 10, levels / 10)
    return scores, labels


def brute_rates(scores, labels, t):
    pred = scores >= t
    m = labels.astype(bool)
    return pred[m].mean(), pred[~m].mean()


def brute_advantage(scores, labels):
    thresholds = np.r_[np.unique(scores), np.inf]
    return max(tpr - fpr for tpr, fpr in (brute_rates(scores, labels, t) for t in thresholds))


@pytest.mark.parametrize("seed", range(4))
def test_roc_curve_equals_sklearn_with_ties(seed):
    s, y = tied_scores(seed=seed)
    roc = M.roc_curve(s, y)
    fpr, tpr, thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(roc.thresholds, thr)
    # each point is the rule score >= threshold
    for f, t, th in zip(roc.fpr[1:], roc.tpr[1:], roc.thresholds[1:]):
        bt, bf = brute_rates(s, y, th)
        assert (t, f) == pytest.approx((bt, bf), abs=1e-15)


def test_roc_curve_with_infinite_scores_keeps_ties_together():
    s = np.array([np.inf, np.inf, 1.0, -np.inf, -np.inf, 0.5])
    y = np.array([1, 0, 1, 0, 0, 1])
    roc = M.roc_curve(s, y)
    np.testing.assert_array_equal(roc.thresholds, [np.inf, np.inf, 1.0, 0.5, -np.inf])
    np.testing.assert_allclose(roc.tpr, [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(roc.fpr, [0, 1 / 3, 1 / 3, 1 / 3, 1])
    assert M.advantage(s, y) == pytest.approx(2 / 3)
    assert M.advantage(s, y) == pytest.approx(brute_advantage(s, y))


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_equals_sklearn(seed):
    s, y = tied_scores(seed=seed)
    assert M.roc_auc(s, y) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_advantage_equals_brute_force(seed):
    s, y = tied_scores(n=300, seed=seed)
    assert M.advantage(s, y) == pytest.approx(brute_advantage(s, y), abs=1e-12)


def test_advantage_at_threshold_brute_force():
    s, y = tied_scores(seed=7)
    for t in (-np.inf, -0.3, 0.0, 0.4, 1.2, np.inf):
        tpr, fpr = brute_rates(s, y, t)
        assert M.advantage_at_threshold(s, y, t) == pytest.approx(tpr - fpr, abs=1e-15)
    # a rule worse than chance has a negative advantage
    assert M.advantage_at_threshold(-s, y, 0.0) < 0
    with pytest.raises(ValueError, match="threshold"):
        M.advantage_at_threshold(s, y, float("nan"))


def test_perfectly_separable_gives_one():
    s = np.r_[np.linspace(1, 2, 50), np.linspace(-2, 0.5, 70)]
    y = np.r_[np.ones(50), np.zeros(70)]
    assert M.advantage(s, y) == 1.0
    assert M.roc_auc(s, y) == 1.0
    assert M.tpr_at_fpr(s, y, 0.0) == 1.0
    # reversed scores: no threshold rule beats chance, AUC 0
    assert M.advantage(-s, y) == 0.0
    assert M.roc_auc(-s, y) == 0.0


def test_identically_distributed_gives_near_zero_advantage():
    """With n1 = n0 = n, max_t |TPR - FPR| is a two-sample KS statistic: P(D > c) <= 2 exp(-n c^2)."""
    rng = np.random.default_rng(42)
    n = 5000
    s = rng.normal(size=2 * n)
    y = np.r_[np.ones(n), np.zeros(n)]
    bound = math.sqrt(math.log(2 / 1e-6) / n)  # exceeded with probability < 1e-6
    adv = M.advantage(s, y)
    assert 0.0 <= adv < bound
    assert abs(M.roc_auc(s, y) - 0.5) < 5 * math.sqrt((2 * n + 1) / (12 * n * n))  # 5 sigma of Mann-Whitney U


@pytest.mark.parametrize("target", [0.0, 0.001, 0.01, 0.1, 0.5, 1.0])
def test_tpr_at_fpr_brute_force(target):
    s, y = tied_scores(n=1000, seed=3)
    best = 0.0
    for t in np.r_[np.unique(s), np.inf]:
        tpr, fpr = brute_rates(s, y, t)
        if fpr <= target:
            best = max(best, tpr)
    assert M.tpr_at_fpr(s, y, target) == pytest.approx(best, abs=1e-15)


def test_balanced_accuracy():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    pred = np.array([1, 1, 1, 0, 0, 0, 1, 0, 0, 1])
    # TPR 3/4, TNR 4/6
    assert M.balanced_accuracy(pred, y) == pytest.approx((0.75 + 4 / 6) / 2)
    assert M.balanced_accuracy(pred.astype(bool), y) == pytest.approx(
        0.5 * (1 + M.advantage_at_threshold(pred, y, 0.5))
    )
    with pytest.raises(ValueError, match="hard decisions"):
        M.balanced_accuracy(pred * 0.5, y)


def test_p1_score_closed_form_and_validation():
    for acc, adv in ((0.8, 0.1), (0.5, 0.5), (1.0, 0.0), (0.93, 0.27), (0.7, -0.05)):
        a, b = acc, 1 - adv
        assert M.p1_score(acc, adv) == pytest.approx(2 * a * b / (a + b), rel=1e-15)
    assert M.p1_score(0.0, 1.0) == 0.0
    assert M.p1_score(1.0, 0.0) == 1.0
    assert M.p1_score(0.6, 0.0) == pytest.approx(0.75)
    for acc, adv in (
        (1.2, 0.1),
        (-0.1, 0.1),
        (85.0, 0.1),
        (0.8, 1.5),
        (0.8, -1.5),
        (float("nan"), 0.1),
        (0.8, float("nan")),
        ("a", 0.1),
    ):
        with pytest.raises(ValueError, match="must be a number in"):
            M.p1_score(acc, adv)


def test_input_validation():
    s, y = tied_scores(n=20)
    with pytest.raises(ValueError, match="same length"):
        M.roc_curve(s, y[:-1])
    with pytest.raises(ValueError, match=r"labels must be 0 \(non-member\) or 1 \(member\)"):
        M.advantage(s, y * 2)
    with pytest.raises(ValueError, match="at least one member and one non-member"):
        M.roc_auc(s, np.ones_like(y))
    with pytest.raises(ValueError, match="at least one member and one non-member"):
        M.roc_curve(np.array([]), np.array([]))
    bad = s.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.roc_curve(bad, y)
    with pytest.raises(ValueError, match="real numbers"):
        M.roc_curve(np.array(["a"] * 20), y)
    for fpr in (-0.1, 1.5, float("nan"), "0.1"):
        with pytest.raises(ValueError, match=r"fpr must be a number in \[0, 1\]"):
            M.tpr_at_fpr(s, y, fpr)


def test_tpr_at_fpr_hand_example():
    s = np.array([3.0, 2.0, 1.0, 0.0])
    y = np.array([1, 0, 1, 0])
    assert M.tpr_at_fpr(s, y, 0.5) == 1.0  # threshold 1: TPR 1, FPR exactly 0.5 counts
    assert M.tpr_at_fpr(s, y, 0.49) == 0.5
    assert M.tpr_at_fpr(s, y, 0.0) == 0.5


def test_metrics_refuse_2d_scores_and_decision_advantage_is_the_rate_difference():
    z = np.zeros((4, 2))
    lab = np.array([1, 1, 0, 0])
    for fn in (M.roc_auc, M.roc_curve, M.advantage_oracle, M.tpr_at_fpr):
        with pytest.raises(ValueError, match="1-d array"):
            fn(z, lab)
    with pytest.raises(ValueError, match="1-d array"):
        M.advantage_at_threshold(z, lab, 0.0)
    with pytest.raises(ValueError, match="1-d array"):
        M.balanced_accuracy(np.ones((4, 1)), lab)
    assert M.decision_advantage([1, 0, 1, 1], lab) == pytest.approx(0.5 - 1.0)  # worse than chance: negative
    assert M.advantage is M.advantage_oracle  # the former name


def test_p1_score_is_scipys_harmonic_mean():
    from scipy.stats import hmean

    rng = np.random.default_rng(0)
    for acc, adv in rng.uniform(0.01, 0.99, (50, 2)):
        assert M.p1_score(acc, adv) == pytest.approx(hmean([acc, 1 - adv]), rel=1e-12)
