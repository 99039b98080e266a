"""Chapters 1 and 3's computations (ccl_lib.analysis.foundations) against closed forms and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from ccl_lib import theory
from ccl_lib.analysis import foundations
from ccl_lib.losses import concave_coefficient


def test_unit_weight_crossings_are_the_closed_form_roots():
    cross = foundations.unit_weight_crossings()
    # quadratic term -p - p^2/2: weight p (1 + p) = 1 at the golden ratio's inverse
    assert cross["quadratic"] == pytest.approx((math.sqrt(5) - 1) / 2, abs=1e-9)
    # exponential term -e^p: weight p e^p = 1 at the omega constant W(1)
    assert cross["exp"] == pytest.approx(0.5671432904097838, abs=1e-9)


def test_coefficient_bounds_by_hand():
    p = torch.linspace(1e-3, 1.0, 50, dtype=torch.float64)
    coefs = {(c, a): concave_coefficient(p, a, c).numpy() for c in ("exp", "quadratic") for a in (0.2, 0.5)}
    b = foundations.coefficient_bounds(coefs).set_index(["concave term", "alpha"])
    assert b.loc[("exp", 0.2), "A"] == pytest.approx(math.e) and b.loc[("quadratic", 0.5), "A"] == pytest.approx(2.0)
    assert b.loc[("exp", 0.2), "upper bound"] == pytest.approx(0.2 + 0.8 * math.e)
    # at p_y = 1 the coefficient is alpha + (1 - alpha) A (Eq. 11), near p_y = 0 it is about alpha
    assert b.loc[("quadratic", 0.5), "coefficient at p_y = 1"] == pytest.approx(0.5 + 0.5 * 2.0)
    assert b.loc[("exp", 0.5), "coefficient at p_y = 0.001"] == pytest.approx(0.5, abs=2e-3)


def test_loss_shapes_of_cross_entropy_by_hand():
    curves, t = foundations.loss_shapes({"CE": theory.p_loss("ce")}, np.array([0.25, 0.5, 1.0]))
    val, d2 = curves["CE"]
    assert val == pytest.approx([math.log(4), math.log(2), 0.0]) and d2 == pytest.approx([16.0, 4.0, 1.0])
    row = t.set_index("loss").loc["CE"]
    assert row["l(0.5)"] == pytest.approx(math.log(2)) and row["l''(0.1)"] == pytest.approx(100.0)
    assert row["l''(0.9)"] == pytest.approx(1 / 0.81)


def test_anatomy_findings_and_the_scorecard_threshold():
    shape = pd.DataFrame({"loss": ["CE", "focal (γ=2)"], "l''(0.1)": [100.0, 3.0], "l''(0.9)": [1.2, -0.5]})
    check = pd.DataFrame({"dtype": ["float64", "float64", "float32"], "max_abs_error": [1e-16, 3e-15, 2e-7]})
    f = foundations.anatomy_findings(shape, {"exp": 0.567, "quadratic": 0.618}, check, gamma=2.0)
    assert f["crit_exp"] == pytest.approx(math.e / (1 + math.e)) and f["worst64"] == 3e-15 and f["worst32"] == 2e-7
    assert (f["focal_d2_09"], f["ce_d2_01"], f["cross_qua"]) == (-0.5, 100.0, 0.618)
    row = foundations.anatomy_scorecard_rows(f, n_check=8)[0]
    assert row["verdict"] == "agrees" and "3.0e-15 (float64)" in row["interval"]
    bad = foundations.anatomy_scorecard_rows({**f, "worst32": 1e-4}, n_check=8)[0]
    assert bad["verdict"] == "not reproduced" and bad["cause"]


def test_membership_findings_by_hand():
    final = pd.DataFrame({"train accuracy": [1.0, 0.99], "test accuracy": [0.6, 0.62]}, index=["target", "shadow"])
    report = pd.DataFrame({"attack": ["loss", "entropy"], "advantage": [0.30, 0.35],
                           "advantage_oracle": [0.40, 0.38], "tpr@1%": [0.05, 0.02]})  # fmt: skip
    t_in, t_out = np.array([0.1, 0.2, 0.3, 0.4]), np.array([1.0, 2.0, 3.0, 0.05])
    scores, labels = -np.r_[t_in, t_out], np.r_[np.ones(4), np.zeros(4)]
    attack = dict(adv_shadow=0.25, adv_oracle=0.5, tpr_shadow=1.0, fpr_shadow=0.25, auc=0.8)
    f = foundations.membership_findings(final=final, report=report, target_in=t_in, target_out=t_out, scores=scores,
                                        labels=labels, attack=attack, num_classes=2, n_shadow_in=4)  # fmt: skip
    assert f["loss_in"] == pytest.approx(0.25) and f["loss_out"] == pytest.approx(1.5125)
    assert f["best_attack"] == "entropy" and f["class_vs_global"] == "higher" and f["per_class"] == 2
    assert f["gap_min"] == "3.0 %" and f["gap_max"] == "10.0 %" and f["train_acc"] == "100.0 %"
    # the global loss attack at 1 % FPR: the lowest non-member loss (0.05) beats every member: TPR 0
    assert f["tpr1_global"] == "0.0 %" and f["class_vs_global_tpr"] == "higher"
