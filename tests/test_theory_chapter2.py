"""Chapter 2's tables and findings (ccl_lib.theory.chapter2) on hand-made inputs, against hand computations."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pandas as pd
import pytest

from ccl_lib import theory


def test_eq18_table_and_thm61_findings_by_hand():
    sims = {0.1: [NS(closed_form=0.5, advantage=0.52, advantage_se=0.01, fpr=0.1, threshold=0.4),
                  NS(closed_form=0.3, advantage=0.27, advantage_se=0.01, fpr=0.1, threshold=0.5)],
            0.01: [NS(closed_form=0.2, advantage=0.2, advantage_se=0.02, fpr=0.01, threshold=0.1),
                   NS(closed_form=0.25, advantage=0.26, advantage_se=0.02, fpr=0.01, threshold=0.1)]}  # fmt: skip
    t = theory.eq18_table(sims, [0.1, 2.5])
    assert t["z"].round(6).tolist() == [2.0, -3.0, 0.0, 0.5] and t["sigma_s"].tolist() == [0.1, 2.5, 0.1, 2.5]
    curves = {0.1: np.array([0.6, 0.3]), 0.01: np.array([0.1, 0.4])}
    f, rows = theory.thm61_findings(t, curves, np.array([0.05, 2.5]), mu_s=0.3, mu_d=1.5, sigma_d=0.8)
    # tau = mu_D + Phi^-1(FPR) sigma_D: Phi^-1(0.1) = -1.2815516, Phi^-1(0.01) = -2.3263479
    assert f["t61_tau0"] == pytest.approx(1.5 - 1.2815516 * 0.8, abs=1e-6) and f["t61_side0"] == "above"
    assert f["t61_tau1"] == pytest.approx(1.5 - 2.3263479 * 0.8, abs=1e-6) and f["t61_side1"] == "below"
    assert (f["t61_trend0"], f["t61_trend1"]) == ("falls", "rises")
    assert f["t61_maxdiff"] == pytest.approx(0.03) and f["t61_maxz"] == pytest.approx(3.0)
    assert [r["verdict"] for r in rows] == ["agrees", "not reproduced"] and rows[1]["cause"]


def test_c2_findings_find_where_monotonicity_starts():
    def table(mc_var, delta_var):
        a0 = [0.1, 1.0, 10.0, 100.0]
        holds = [mc_var[i] > mc_var[i + 1] for i in range(3)] + [None]
        return pd.DataFrame({"alpha0": a0, "mc_var": mc_var, "delta_var": delta_var, "holds": holds,
                             "significant": [True, True, True, None],
                             "rel_error": [0.5, 0.2, 0.1, 0.01]})  # fmt: skip

    c2 = {"entropy": table([0.1, 0.3, 0.2, 0.1], [1.0, 0.4, 0.2, 0.1]),
          "modified entropy": table([0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1]),
          "loss (CE)": table([0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1])}  # fmt: skip
    f, rows = theory.c2_findings(c2, [0.1, 1.0, 10.0, 100.0], [0.7, 0.2, 0.1])
    assert f["c2_ent_from"] == 1.0 and f["c2_ment_from"] == 0.1 and f["c2_peak"] == 1.0 and f["c2_peakvar"] == 0.3
    assert f["c2_unbounded"].startswith("for them") and f["c2_factor_lo"] == pytest.approx(10.0)
    assert f["c2_err_hi"] == "1.0 %"
    assert [r["verdict"] for r in rows] == ["agrees", "not reproduced", "agrees", "agrees"]


def test_global_minimum_findings_count_the_starts_away_from_the_best():
    def res(values):
        v = np.array(values)
        return NS(values=v, params=np.zeros((len(v), 2)), ce_grad_norms=np.arange(len(v)) + 1e-9,
                  value_spread=float(np.ptp(v)), max_prob_diff=0.0)  # fmt: skip

    lr = {"ce": res([1.0, 1.0]), "h_of_g": res([2.0, 2.0]), "ccl": res([0.5, 0.5 + 1e-9]),
          "concave": res([0.1, 0.2])}  # fmt: skip
    f, rows = theory.global_minimum_findings(lr, n_starts=2, dataset="digits")
    assert (f["s6_hog_other"], f["s6_ccl_other"], f["s6_conc_other"]) == (0, 0, 1)
    assert f["s6_ccl_same"] == "the same minimum" and f["s6_conc_word"] == "stopped elsewhere"
    assert rows[0]["verdict"] == "agrees" and "other stationary points" in rows[0]["cause"]
    t = theory.global_minimum_table(lr, alpha=0.5).set_index("objective")
    assert t.loc["per-example CCL (α=0.5)", "at best"] == 2
    assert t.loc["concave term alone", "at best"] == 1
