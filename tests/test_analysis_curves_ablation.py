"""Tests of ccl_lib.analysis.curves (Fig. 1/5 over seeds) and ccl_lib.analysis.ablation (Fig. 4 over seeds).

References are computed independently: Student-t intervals with scipy.stats, slopes with
numpy.polyfit, convergence epochs by hand on constructed histories.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ccl_lib.analysis import ablation
from ccl_lib.analysis import curves as cv


def _t_interval(x):
    x = np.asarray(x, float)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return x.mean(), lo, hi


def _history(var, mean=None, test_acc=None):
    n = len(var)
    return pd.DataFrame({
        "epoch": np.arange(1, n + 1),
        "train_loss_var": np.asarray(var, float),
        "train_loss_mean": np.ones(n) if mean is None else np.asarray(mean, float),
        "train_acc": np.linspace(0.5, 1.0, n),
        "test_acc": np.linspace(0.3, 0.5, n) if test_acc is None else np.asarray(test_acc, float),
    })  # fmt: skip


def test_seed_curves_give_the_t_interval_per_epoch():
    rng = np.random.default_rng(0)
    hs = [_history(rng.uniform(0.1, 1.0, 6), mean=rng.uniform(1, 2, 6)) for _ in range(4)]
    out = cv.seed_curves(hs, ("train_loss_var", "train_loss_rel_var"))
    assert list(out["epoch"]) == list(range(1, 7)) and set(out["n"]) == {4}
    for e in range(6):
        m, lo, hi = _t_interval([h["train_loss_var"].iloc[e] for h in hs])
        assert out["train_loss_var"].iloc[e] == pytest.approx(m)
        assert (out["train_loss_var_low"].iloc[e], out["train_loss_var_high"].iloc[e]) == pytest.approx((lo, hi))
        rel = [h["train_loss_var"].iloc[e] / h["train_loss_mean"].iloc[e] ** 2 for h in hs]
        assert out["train_loss_rel_var"].iloc[e] == pytest.approx(np.mean(rel))


def test_one_seed_curve_has_no_band():
    out = cv.seed_curves([_history([1.0, 2.0])], ("train_loss_var",))
    assert out["train_loss_var"].tolist() == [1.0, 2.0]
    assert out["train_loss_var_low"].isna().all()


def test_paired_log_ratio_is_the_interval_of_per_seed_log_ratios():
    a = [_history([1.0, v]) for v in (0.02, 0.03, 0.025)]
    b = [_history([1.0, v]) for v in (0.001, 0.0011, 0.0009)]
    iv = cv.paired_difference(a, b, "train_loss_var", log10=True)
    m, lo, hi = _t_interval(np.log10([0.02 / 0.001, 0.03 / 0.0011, 0.025 / 0.0009]))
    assert (iv.mean, iv.low, iv.high) == pytest.approx((m, lo, hi)) and iv.n == 3
    with pytest.raises(ValueError, match="positive"):
        cv.paired_difference([_history([1.0, 0.0])], b[:1], "train_loss_var", log10=True)


def test_epochs_below_counts_epochs():
    a = cv.seed_curves([_history([1.0, 0.5, 3.0])], ("train_loss_var",))
    b = cv.seed_curves([_history([2.0, 2.0, 2.0])], ("train_loss_var",))
    assert cv.epochs_below(a, b, "train_loss_var") == {"epochs": 3, "below": 2, "below_epochs": [1, 2]}


def test_convergence_epoch_and_lags():
    # test accuracy reaches its final 0.50 (within 0.01) at epoch 4 for "CE", epoch 6 for "CCL"
    ce = _history(np.ones(8), test_acc=[0.1, 0.3, 0.45, 0.495, 0.5, 0.49, 0.5, 0.5])
    ccl = _history(np.ones(8), test_acc=[0.1, 0.2, 0.3, 0.4, 0.48, 0.495, 0.5, 0.5])
    assert cv.convergence_epoch(ce, 0.01) == 4
    assert cv.convergence_epoch(ccl, 0.01) == 6
    assert cv.convergence_epoch(ccl, 0.0) == 7
    lags = cv.convergence_lags({"CE": [ce, ce, ce], "CCL": [ccl, ccl, ccl]}, tol=0.01)
    assert lags["CCL"].mean == 2 and lags["CCL"].low == lags["CCL"].high == 2
    tab = cv.convergence_table({"CE": [ce, ce], "CCL": [ccl, ccl]}, tol=0.01)
    assert tab.loc["CCL", "epoch_within_tol"] == 6 and tab.loc["CE", "final_test_acc"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tol"):
        cv.convergence_epoch(ce, 1.5)


def _frame(slopes, seeds=(0, 1, 2), alphas=(0.1, 0.5, 0.9)):
    """A run_grid-like frame: per (defense, alpha, seed) two attacks; test_acc = 0.3 + slope*alpha + seed noise."""
    noise_of = dict(zip(seeds, np.random.default_rng(3).normal(0, 0.01, len(seeds))))  # one draw per seed
    rows = []
    for d, slope in slopes.items():
        for s in seeds:
            noise = noise_of[s]
            for a in [1.0] if d == "vanilla" else alphas:
                key = f"{d}-{a}-{s}"
                acc = 0.3 + slope * a + noise
                for atk, adv, paper in (("loss", 0.2 + 0.1 * a, True), ("nn_sorted", 0.9, False)):
                    rows.append({"key": key, "run_id": key, "defense": d, "alpha": np.nan if d == "vanilla" else a,
                                 "seed": s, "attack": atk, "advantage": adv, "advantage_oracle": adv + 0.02,
                                 "paper_attack": paper, "test_acc": acc, "train_acc": 1.0,
                                 "train_loss_mean": 0.1, "train_loss_var": 10 ** (-2 - a)})  # fmt: skip
    return pd.DataFrame(rows)


def test_alpha_runs_uses_the_paper_attacks_and_the_attackers_advantage():
    per = ablation.alpha_runs(_frame({"ccql": 0.2, "vanilla": 0.0}))
    assert len(per) == 3 * 3 + 3
    assert set(per["worst_attack"]) == {"loss"}  # nn_sorted (0.9) is not a paper attack
    row = per[(per["defense"] == "ccql") & (per["alpha"] == 0.5)].iloc[0]
    assert row["max_advantage"] == pytest.approx(0.25) and row["max_advantage_oracle"] == pytest.approx(0.27)
    assert (per.loc[per["defense"] == "vanilla", "alpha"] == 1.0).all()
    assert row["train_loss_rel_var"] == pytest.approx(10**-2.5 / 0.01)


def test_alpha_slopes_match_polyfit_per_seed():
    per = ablation.alpha_runs(_frame({"ccel": 0.2, "ccql": -0.1, "vanilla": 0.0}))
    exact = ablation.alpha_slopes(per, "test_acc")
    assert exact["ccel"].mean == pytest.approx(0.2) and exact["ccql"].mean == pytest.approx(-0.1)
    per["test_acc"] += np.random.default_rng(5).normal(0, 0.02, len(per))  # per-run noise: slopes differ by seed
    got = ablation.alpha_slopes(per, "test_acc")
    for d in ("ccel", "ccql"):
        ref = [np.polyfit(g["alpha"], g["test_acc"], 1)[0] for _, g in per[per["defense"] == d].groupby("seed")]
        m, lo, hi = _t_interval(ref)
        assert got[d].n == 3 and (got[d].mean, got[d].low, got[d].high) == pytest.approx((m, lo, hi))
    logs = ablation.alpha_slopes(per, "train_loss_var", log10=True)
    assert logs["ccel"].mean == pytest.approx(-1.0)  # variance 10^(-2 - alpha): one decade per unit of alpha


def test_against_reference_pairs_by_seed():
    per = ablation.alpha_runs(_frame({"ccql": 0.2, "vanilla": 0.0}))
    vs = ablation.against_reference(per, "train_loss_var", log10=True)
    r = vs[vs["alpha"] == 0.1].iloc[0]
    assert r["diff"] == pytest.approx(-2.1 - (-3.0)) and r["seeds"] == 3
    acc = ablation.against_reference(per, "test_acc")
    # the noise is shared by seed across alphas, so the paired difference is exact: 0.2 * alpha
    assert acc.set_index("alpha")["diff"].to_dict() == pytest.approx({0.1: 0.02, 0.5: 0.1, 0.9: 0.18})


def test_alpha_summary_intervals():
    per = ablation.alpha_runs(_frame({"ccql": 0.2, "vanilla": 0.0}))
    s = ablation.alpha_summary(per, ["test_acc"])
    g = per[(per["defense"] == "ccql") & (per["alpha"] == 0.9)]["test_acc"]
    m, lo, hi = _t_interval(g)
    row = s[(s["defense"] == "ccql") & (s["alpha"] == 0.9)].iloc[0]
    assert (row["test_acc"], row["test_acc_low"], row["test_acc_high"]) == pytest.approx((m, lo, hi))
    assert row["seeds"] == 3 and not math.isnan(row["test_acc_low"])


def test_alpha_summary_averages_variances_on_a_log_scale():
    per = ablation.alpha_runs(_frame({"ccql": 0.2, "vanilla": 0.0}))
    per.loc[per["seed"] == 1, "train_loss_var"] *= 100  # one seed two decades higher
    s = ablation.alpha_summary(per, ["train_loss_var"])
    g = per[(per["defense"] == "ccql") & (per["alpha"] == 0.5)]["train_loss_var"]
    m, lo, hi = _t_interval(np.log10(g))
    row = s[(s["defense"] == "ccql") & (s["alpha"] == 0.5)].iloc[0]
    assert (row["train_loss_var"], row["train_loss_var_low"], row["train_loss_var_high"]) == pytest.approx(
        (10**m, 10**lo, 10**hi)
    )
    assert row["train_loss_var"] == pytest.approx(10**-2.5 * 100 ** (1 / 3))  # geometric mean
    lin = ablation.alpha_summary(per, ["train_loss_var"], log10=())
    assert lin[(lin["defense"] == "ccql") & (lin["alpha"] == 0.5)]["train_loss_var"].iloc[0] == pytest.approx(g.mean())


# ------------------------------------------------------------------------ chapter 5's findings
def test_direction_tests_verdicts_and_units_by_hand():
    # accuracy rises 0.2 per unit of alpha for CCEL (the paper's direction) and falls for CCQL
    per = ablation.alpha_runs(_frame({"ccel": 0.2, "ccql": -0.1, "vanilla": 0.0}))
    per["test_acc"] += np.random.default_rng(5).normal(0, 0.002, len(per))
    verdicts, table = ablation.direction_tests(per)
    assert verdicts[("test_acc", "ccel")].word == "agrees"
    assert verdicts[("test_acc", "ccql")].word == "opposite"
    row = table.loc[("(a) test accuracy", "CCEL")]
    ref = [np.polyfit(g["alpha"], g["test_acc"], 1)[0] for _, g in per[per["defense"] == "ccel"].groupby("seed")]
    m, lo, hi = _t_interval(ref)
    assert (row["slope"], row["low"], row["high"]) == pytest.approx((100 * m, 100 * lo, 100 * hi))  # points
    assert row["unit"] == "points" and row["paper"] == "rises" and row["verdict"] == "agrees"
    # the variance 10^(-2 - alpha) falls one decade per unit of alpha, as the paper says: in decades
    var = table.loc[("(c) log10 training-loss variance", "CCQL")]
    assert var["slope"] == pytest.approx(-1.0) and var["unit"] == "decades" and var["paper"] == "falls"
    assert len(table) == 3 * 2


def test_alpha_findings_by_hand():
    per = ablation.alpha_runs(_frame({"ccel": 0.2, "ccql": 0.2, "vanilla": 0.0}))
    per["test_acc"] += np.random.default_rng(5).normal(0, 0.002, len(per))
    summary = ablation.alpha_summary(per)
    verdicts, _ = ablation.direction_tests(per)
    vs_ce = ablation.variance_against_ce(per)
    f = ablation.alpha_findings(summary, per, verdicts, vs_ce, alphas=[0.1, 0.5, 0.9], epochs=7)
    assert f["seeds"] == 3 and f["epochs"] == 7 and f["alphas"] == "0.1, 0.5, 0.9"
    assert (f["lo_alpha"], f["hi_alpha"]) == (0.1, 0.9)
    # the variance of every run is 10^(-2 - alpha) (CE: alpha = 1), whatever the seed
    assert f["var_lo"] == pytest.approx(10**-2.1) and f["var_05"] == pytest.approx(10**-2.5)
    assert f["var_ce"] == pytest.approx(10**-3.0)
    assert f["lo_adv"] == pytest.approx(0.2 + 0.01) and f["van_oracle"] == pytest.approx(0.2 + 0.1 + 0.02)
    assert f["acc_ccel_verdict"] == "agrees" and f["var_ccql_verdict"] == "agrees"
    ccel = verdicts[("test_acc", "ccel")].interval
    assert f["acc_ccel_slope"] == f"{100 * ccel.mean:.1f} [{100 * ccel.low:.1f}, {100 * ccel.high:.1f}]"
    assert f["var_ccel_slope"] == "-1.00 [-1.00, -1.00]"
    # every seed's CCL variance is above CE's at every alpha: an exact, zero-width paired difference
    assert f["var_higher"] == "0.1, 0.5, 0.9 (CCEL); 0.1, 0.5, 0.9 (CCQL)" and f["var_lower"] == "none"
    assert f["adv05_ccel"] == "-5.0 points [-5.0, -5.0]"  # the loss attack: 0.2 + 0.1 alpha; CE's alpha is 1
    assert f["var05_ccql_verdict"] == "higher"


def test_alpha_scorecard_rows_name_the_cause_of_each_verdict():
    per = ablation.alpha_runs(_frame({"ccel": 0.2, "ccql": -0.1, "vanilla": 0.0}))
    per["test_acc"] += np.random.default_rng(5).normal(0, 0.002, len(per))
    verdicts, _ = ablation.direction_tests(per)
    rows = {r["setting"]: r for r in ablation.alpha_scorecard_rows(verdicts, setting="loc", n_seeds=3)}
    assert len(rows) == 6 and {r["item"] for r in rows.values()} == {"Fig 4"}
    agree = rows["loc: CCEL (a) test accuracy, slope vs alpha"]
    opposite = rows["loc: CCQL (a) test accuracy, slope vs alpha"]
    assert agree["cause"] == "" and agree["percent"] and agree["digits"] == 1
    assert opposite["cause"] == ablation.DIRECTION_CAUSES["test_acc"]
    assert not rows["loc: CCEL (c) log10 training-loss variance, slope vs alpha"]["percent"]
