"""Bootstrap intervals and multi-seed summaries (ccl_lib.stats) against ccl_lib.metrics and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ccl_lib import metrics
from ccl_lib.stats import (
    bootstrap_ci,
    bootstrap_distribution,
    bootstrap_metrics,
    decision_interval,
    format_interval,
    interval_columns,
    min_resolvable_fpr,
    parse_metric,
    seed_summary,
)


def _scores(n_in=300, n_out=400, shift=1.0, seed=0, decimals=None):
    rng = np.random.default_rng(seed)
    s_in, s_out = rng.normal(shift, 1, n_in), rng.normal(0, 1, n_out)
    if decimals is not None:  # create ties
        s_in, s_out = np.round(s_in, decimals), np.round(s_out, decimals)
    return s_in, s_out


def _labels(s_in, s_out):
    return np.r_[s_in, s_out], np.r_[np.ones(len(s_in), int), np.zeros(len(s_out), int)]


@pytest.mark.parametrize("decimals", [None, 1])
def test_point_estimates_equal_ccl_lib_metrics(decimals):
    s_in, s_out = _scores(decimals=decimals)
    s, lab = _labels(s_in, s_out)
    res = bootstrap_metrics(s_in, s_out, ["advantage", "auc", "tpr@0.1%", "tpr@1%", "tpr@0.05"], n_boot=20)
    assert res["advantage"][0] == pytest.approx(metrics.advantage(s, lab), abs=1e-12)
    assert res["auc"][0] == pytest.approx(metrics.roc_auc(s, lab), abs=1e-12)
    assert res["tpr@0.1%"][0] == pytest.approx(metrics.tpr_at_fpr(s, lab, 0.001), abs=1e-12)
    assert res["tpr@1%"][0] == pytest.approx(metrics.tpr_at_fpr(s, lab, 0.01), abs=1e-12)
    assert res["tpr@0.05"][0] == pytest.approx(metrics.tpr_at_fpr(s, lab, 0.05), abs=1e-12)
    for _est, lo, hi in res.values():
        assert lo <= hi


@pytest.mark.parametrize(
    "name, fn",
    [
        ("advantage", metrics.advantage),
        ("auc", metrics.roc_auc),
        ("tpr@1%", lambda s, lab: metrics.tpr_at_fpr(s, lab, 0.01)),
    ],
)
def test_vectorized_replicates_equal_per_replicate_metrics(name, fn):
    """Every vectorized replicate equals ccl_lib.metrics on the same resample (with ties)."""
    s_in, s_out = _scores(n_in=120, n_out=150, decimals=1, seed=1)
    fast = bootstrap_distribution(s_in, s_out, name, n_boot=60, seed=5)
    slow = bootstrap_distribution(s_in, s_out, fn, n_boot=60, seed=5)
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    assert fast.std() > 0


def test_same_seed_same_interval_and_other_seed_differs():
    s_in, s_out = _scores()
    a = bootstrap_ci(s_in, s_out, "tpr@1%", n_boot=300, seed=11)
    b = bootstrap_ci(s_in, s_out, "tpr@1%", n_boot=300, seed=11)
    c = bootstrap_ci(s_in, s_out, "tpr@1%", n_boot=300, seed=12)
    assert a == b
    assert a[0] == c[0] and (a[1], a[2]) != (c[1], c[2])


def test_members_and_non_members_are_resampled_separately():
    s_in, s_out = _scores(n_in=37, n_out=53)
    seen = []

    def count_members(scores, labels):
        seen.append((int(labels.sum()), len(labels) - int(labels.sum())))
        return 0.0

    bootstrap_ci(s_in, s_out, count_members, n_boot=25)
    assert set(seen) == {(37, 53)}
    # and members are drawn from members only: the replicate member scores are a multiset of s_in
    reps = []

    def keep(scores, labels):
        reps.append(scores[labels == 1])
        return 0.0

    bootstrap_ci(s_in, s_out, keep, n_boot=5)
    assert len(reps) == 6 and all(np.isin(r, s_in).all() for r in reps)


def test_interval_covers_the_true_auc_at_about_the_nominal_rate():
    """Binormal model: the true AUC of N(d, 1) vs N(0, 1) is Phi(d / sqrt(2)).

    Over 300 independent data sets the number of 90% intervals covering it is Binomial(300, 0.9)
    if the coverage is nominal: mean 270, sd 5.2; 3.5 sd either side (a percentile bootstrap may
    undercover by a point or two at n = 150) rejects an 80% or a 99% interval.
    """
    d = 0.8
    true_auc = norm.cdf(d / np.sqrt(2))
    trials, level = 300, 0.9
    hits = 0
    for t in range(trials):
        s_in, s_out = _scores(n_in=150, n_out=150, shift=d, seed=100 + t)
        _, lo, hi = bootstrap_ci(s_in, s_out, "auc", n_boot=200, level=level, seed=t)
        hits += lo <= true_auc <= hi
    sd = np.sqrt(trials * level * (1 - level))
    assert abs(hits - trials * level) <= 3.5 * sd, hits


def test_decision_interval_is_the_rate_difference_on_the_same_replicates():
    rng = np.random.default_rng(5)
    d_in, d_out = rng.random(400) < 0.6, rng.random(300) < 0.4
    est, lo, hi = decision_interval(d_in, d_out, n_boot=2000, level=0.95, seed=3)
    assert est == pytest.approx(d_in.mean() - d_out.mean())
    # normal approximation of a difference of two independent proportions
    se = np.sqrt(d_in.mean() * (1 - d_in.mean()) / 400 + d_out.mean() * (1 - d_out.mean()) / 300)
    assert lo == pytest.approx(est - 1.96 * se, abs=0.012) and hi == pytest.approx(est + 1.96 * se, abs=0.012)
    # the same replicates as the score metrics: decisions = (score >= t) give the fixed-threshold TPR - FPR
    s_in, s_out = rng.normal(1, 1, 400), rng.normal(0, 1, 300)
    cols = interval_columns(s_in, s_out, ["advantage", "advantage_oracle"], n_boot=300, seed=4,
                            decisions=(s_in >= 0.5, s_out >= 0.5))  # fmt: skip
    assert cols["advantage"] == pytest.approx((s_in >= 0.5).mean() - (s_out >= 0.5).mean())
    assert (
        cols["advantage_oracle"] >= cols["advantage"] and cols["advantage_oracle_low"] >= cols["advantage_low"] - 0.05
    )
    with pytest.raises(ValueError, match="needs decisions"):
        interval_columns(s_in, s_out, ["advantage"])
    with pytest.raises(ValueError, match="hard decisions"):
        decision_interval(np.array([0.5]), np.array([1]))


def test_interval_narrows_with_more_data_and_widens_with_level():
    w = []
    for n in (100, 1600):
        s_in, s_out = _scores(n_in=n, n_out=n, seed=3)
        _, lo, hi = bootstrap_ci(s_in, s_out, "advantage", n_boot=200)
        w.append(hi - lo)
    assert w[1] < w[0] / 2.5  # ~ 1/sqrt(n): a factor 4 expected
    s_in, s_out = _scores(seed=4)
    _, l80, h80 = bootstrap_ci(s_in, s_out, "auc", n_boot=400, level=0.8)
    _, l99, h99 = bootstrap_ci(s_in, s_out, "auc", n_boot=400, level=0.99)
    assert l99 <= l80 and h80 <= h99


def test_metric_names_and_validation():
    assert parse_metric("tpr@0.1%") == ("tpr", pytest.approx(0.001))
    assert parse_metric("TPR@0.001") == ("tpr", pytest.approx(0.001))
    assert parse_metric("auc") == ("auc", None) and parse_metric("advantage_oracle") == ("advantage", None)
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("precision")
    with pytest.raises(ValueError, match="FPR"):
        parse_metric("tpr@150%")
    s_in, s_out = _scores(n_in=5, n_out=5)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(s_in, s_out, n_boot=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(s_in, s_out, level=95)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([], s_out)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([np.nan], s_out)
    assert min_resolvable_fpr(1000) == 0.001


def test_seed_summary_against_hand_computed_values():
    df = pd.DataFrame(
        {
            "defense": ["ccel", "ccel", "ccel", "vanilla", "vanilla", "dp"],
            "attack": ["lira"] * 6,
            "seed": [0, 1, 2, 0, 1, 0],
            "tpr": [0.1, 0.2, 0.3, 0.5, 0.7, 0.0],
            "auc": [0.6, 0.6, 0.6, 0.8, 0.9, 0.5],
        }
    )
    out = seed_summary(df, by=["defense", "attack"], values=["tpr", "auc"])
    assert list(out.columns) == ["defense", "attack", "tpr_mean", "tpr_std", "auc_mean", "auc_std", "n"]
    assert list(out["defense"]) == ["ccel", "vanilla", "dp"]  # first-seen order
    row = out.set_index("defense")
    assert row.loc["ccel", "tpr_mean"] == pytest.approx(0.2)
    assert row.loc["ccel", "tpr_std"] == pytest.approx(0.1)  # sample std of 0.1, 0.2, 0.3
    assert row.loc["vanilla", "auc_std"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert row.loc["ccel", "auc_std"] == pytest.approx(0.0)
    assert np.isnan(row.loc["dp", "tpr_std"]) and row.loc["dp", "n"] == 1
    assert list(out["n"]) == [3, 2, 1]
    with pytest.raises(ValueError, match="not in the frame"):
        seed_summary(df, by=["dataset"], values=["tpr"])
    with pytest.raises(ValueError, match="numeric"):
        seed_summary(df, by=["seed"], values=["defense"])


def test_format_interval():
    assert format_interval(0.1234, 0.1, 0.15) == "12.3% [10.0, 15.0]"
    assert format_interval(0.5, 0.4, 0.6, percent=False, digits=2) == "0.50 [0.40, 0.60]"


def test_interval_columns_flatten_shared_replicates():
    s_in, s_out = _scores(seed=9)
    cols = interval_columns(s_in, s_out, ["tpr@1%", "auc"], n_boot=100, seed=2)
    assert list(cols) == ["tpr@1%", "tpr@1%_low", "tpr@1%_high", "auc", "auc_low", "auc_high"]
    assert (cols["auc"], cols["auc_low"], cols["auc_high"]) == bootstrap_ci(s_in, s_out, "auc", n_boot=100, seed=2)
