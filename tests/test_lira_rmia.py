"""LiRA (Carlini et al., 2022) and RMIA (Zarifzadeh et al., 2024) against closed forms and hand-computed toys."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import stats as st

from ccl_lib import metrics
from ccl_lib.attacks import (
    ReferenceModels,
    attack_pool,
    pool_membership,
    run_strong_attacks,
    sample_membership,
    strong_attacks,
    train_reference_models,
)
from ccl_lib.attacks.lira import fit_gaussians, lira_attack, lira_scores, logit_confidence
from ccl_lib.attacks.rmia import (
    log_marginal,
    pairwise_likelihood_ratio,
    rmia_attack,
    rmia_scores,
    true_class_prob,
    tune_offline_a,
)
from ccl_lib.models import fresh_copy
from ccl_lib.train import TrainConfig

# --------------------------------------------------------------------------- the statistic


def test_logit_confidence_matches_definition_and_survives_huge_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, size=(3, 50, 7))
    y = rng.integers(0, 7, 50)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    py = np.take_along_axis(p, np.broadcast_to(y[None, :, None], (3, 50, 1)), -1)[..., 0]
    np.testing.assert_allclose(logit_confidence(z, y), np.log(py / (1 - py)), rtol=1e-9, atol=1e-9)
    # p_y rounds to 1 in float64 here, yet phi = 1000 - log(2) exactly
    huge = np.array([[1000.0, 0.0, 0.0], [0.0, -1000.0, 0.0]])
    np.testing.assert_allclose(logit_confidence(huge, np.array([0, 1])), [1000 - math.log(2), -1000 - math.log(2)])
    with pytest.raises(ValueError, match="labels must lie"):
        logit_confidence(huge, np.array([0, 3]))


# --------------------------------------------------------------------------- LiRA


def _gaussian_refs(n=4, k=4000, seed=0):
    """Reference statistics drawn from known per-example IN/OUT Gaussians."""
    rng = np.random.default_rng(seed)
    mu_in, mu_out = rng.normal(3, 1, n), rng.normal(0, 1, n)
    s_in, s_out = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, n)
    member = sample_membership(n, k, 0.5, seed)
    phi = np.where(member, rng.normal(mu_in, s_in, (k, n)), rng.normal(mu_out, s_out, (k, n)))
    return phi, member, (mu_in, s_in, mu_out, s_out)


def test_online_lira_converges_to_the_closed_form_likelihood_ratio():
    phi, member, (mu_in, s_in, mu_out, s_out) = _gaussian_refs()
    target = np.array([2.5, 0.3, 1.0, -0.5])
    score = lira_scores(target, phi, member, online=True)
    exact = st.norm.logpdf(target, mu_in, s_in) - st.norm.logpdf(target, mu_out, s_out)
    np.testing.assert_allclose(score, exact, atol=0.15)


def test_offline_lira_is_the_one_sided_gaussian_test():
    phi, member, (_, _, mu_out, s_out) = _gaussian_refs(seed=1)
    target = np.array([2.5, 0.3, 1.0, -0.5])
    score = lira_scores(target, phi, member, online=False)
    # Carlini et al.: Lambda = 1 - Pr[Z > phi], Z ~ N(mu_out, s_out^2); the score is its probit
    np.testing.assert_allclose(st.norm.cdf(score), 1 - st.norm.sf(target, mu_out, s_out), atol=0.02)


def test_lira_estimates_equal_a_brute_force_loop():
    rng = np.random.default_rng(3)
    k, n = 6, 5
    phi = rng.normal(size=(k, n))
    member = sample_membership(n, k, 0.5, seed=3)
    target = rng.normal(size=n)
    online = lira_scores(target, phi, member, online=True)
    offline = lira_scores(target, phi, member, online=False)
    for i in range(n):
        a, b = phi[member[:, i], i], phi[~member[:, i], i]
        lr = st.norm.logpdf(target[i], a.mean(), a.std()) - st.norm.logpdf(target[i], b.mean(), b.std())
        assert online[i] == pytest.approx(lr, rel=1e-10)
        assert offline[i] == pytest.approx((target[i] - b.mean()) / b.std(), rel=1e-10)


def test_fixed_variance_is_the_pooled_within_example_std():
    rng = np.random.default_rng(4)
    k, n = 8, 30
    member = sample_membership(n, k, 0.5, seed=4)
    phi = rng.normal(rng.normal(0, 5, n), 0.7, size=(k, n))  # homoscedastic, means spread out
    fit = fit_gaussians(phi, member, fixed_variance=True)
    res_in = np.concatenate([phi[member[:, i], i] - phi[member[:, i], i].mean() for i in range(n)])
    res_out = np.concatenate([phi[~member[:, i], i] - phi[~member[:, i], i].mean() for i in range(n)])
    np.testing.assert_allclose(fit.std_in, np.sqrt(np.mean(res_in**2)))
    np.testing.assert_allclose(fit.std_out, np.sqrt(np.mean(res_out**2)))
    assert 0.5 < fit.std_out[0] < 0.8  # not the spread of the means (5)


def test_lira_query_axis_averages_per_query_scores():
    rng = np.random.default_rng(5)
    phi = rng.normal(size=(8, 6, 2))
    member = sample_membership(6, 8, 0.5, seed=5)
    t = rng.normal(size=(6, 2))
    both = lira_scores(t, phi, member)
    each = [lira_scores(t[:, j], phi[:, :, j], member) for j in range(2)]
    np.testing.assert_allclose(both, (each[0] + each[1]) / 2)


def test_online_lira_refuses_examples_without_in_models():
    member = np.zeros((4, 3), bool)
    member[:2, :2] = True
    with pytest.raises(ValueError, match="no IN or no OUT"):
        lira_scores(np.zeros(3), np.zeros((4, 3)), member, online=True)
    lira_scores(np.zeros(3), np.random.default_rng(0).normal(size=(4, 3)), member, online=False)  # offline is fine


def test_sample_membership_is_balanced_and_seeded():
    m = sample_membership(500, 8, 0.25, seed=1)
    assert m.shape == (8, 500) and (m.sum(0) == 2).all()
    assert abs(m.sum(1).mean() - 125) < 1e-9
    np.testing.assert_array_equal(m, sample_membership(500, 8, 0.25, seed=1))
    assert not np.array_equal(m, sample_membership(500, 8, 0.25, seed=2))
    with pytest.raises(ValueError, match="IN models per example"):
        sample_membership(10, 2, 0.1)


# --------------------------------------------------------------------------- RMIA


def test_rmia_pairwise_score_on_a_hand_computed_toy():
    # candidates: Pr(x|theta) / Pr(x) = 0.9/0.6 = 1.5, 0.5/0.5 = 1.0, 0.18/0.4 = 0.45
    px_t, px = np.array([0.9, 0.5, 0.18]), np.array([0.6, 0.5, 0.4])
    # population: 0.8/0.4 = 2.0, 0.33/0.6 = 0.55, 0.6/0.5 = 1.2, 0.1/0.4 = 0.25
    pz_t, pz = np.array([0.8, 0.33, 0.6, 0.1]), np.array([0.4, 0.6, 0.5, 0.4])
    lg = np.log
    # gamma = 1: x dominates z when its ratio is at least z's
    np.testing.assert_allclose(rmia_scores(lg(px_t), lg(px), lg(pz_t), lg(pz), gamma=1.0), [3 / 4, 2 / 4, 1 / 4])
    # gamma = 2: x's ratio must be twice z's
    np.testing.assert_allclose(rmia_scores(lg(px_t), lg(px), lg(pz_t), lg(pz), gamma=2.0), [2 / 4, 1 / 4, 0.0])
    lr = pairwise_likelihood_ratio(lg(px_t), lg(px), lg(pz_t), lg(pz))
    np.testing.assert_allclose(lr[0], [0.75, 1.5 / 0.55, 1.25, 6.0])


def test_rmia_scores_equal_the_pairwise_definition():
    rng = np.random.default_rng(7)
    lx, lpx = np.log(rng.uniform(0.01, 1, 40)), np.log(rng.uniform(0.01, 1, 40))
    lz, lpz = np.log(rng.uniform(0.01, 1, 30)), np.log(rng.uniform(0.01, 1, 30))
    for gamma in (1.0, 1.7):
        brute = (pairwise_likelihood_ratio(lx, lpx, lz, lpz) >= gamma).mean(axis=1)
        np.testing.assert_allclose(rmia_scores(lx, lpx, lz, lpz, gamma), brute)


def test_rmia_offline_marginal_uses_the_linear_correction():
    p = np.array([[0.2, 0.9], [0.4, 0.7], [0.99, 0.5]])  # 3 models, 2 examples
    member = np.array([[False, True], [False, False], [True, False]])
    # example 0: OUT models 0, 1 -> mean 0.3; ((1 + a) 0.3 + (1 - a)) / 2 with a = 0.5 -> 0.475
    # example 1: OUT models 1, 2 -> mean 0.6 -> (1.5 * 0.6 + 0.5) / 2 = 0.7
    np.testing.assert_allclose(np.exp(log_marginal(np.log(p), member, a=0.5)), [0.475, 0.7])
    np.testing.assert_allclose(np.exp(log_marginal(np.log(p), member, a=1.0)), [0.3, 0.6])
    np.testing.assert_allclose(np.exp(log_marginal(np.log(p), member, online=True)), p.mean(0))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        log_marginal(np.log(p), member, a=1.5)


# --------------------------------------------------------------------------- end to end on synthetic models


def _synthetic_refs(k=8, n_c=200, n_pop=200, seed=0):
    """Reference models whose logits on an example rise by 3 when they trained on it."""
    rng = np.random.default_rng(seed)
    n = n_c + n_pop
    y = rng.integers(0, 4, n)
    base = rng.normal(0, 1.5, (n, 4))
    member = sample_membership(n, k, 0.5, seed)
    logits = base[None] + rng.normal(0, 0.5, (k, n, 4))
    logits[..., :][np.arange(k)[:, None], np.arange(n)[None, :], y[None, :]] += 3.0 * member
    refs = ReferenceModels(membership=member, logits=logits, labels=y)
    is_member = np.r_[np.ones(n_c // 2, bool), np.zeros(n_c // 2, bool)]
    target = base + rng.normal(0, 0.5, (n, 4))
    target[np.arange(n_c // 2), y[: n_c // 2]] += 3.0
    return refs, target, np.arange(n_c), is_member, np.arange(n_c, n)


def test_strong_attacks_find_members_of_a_synthetic_target():
    refs, target, cand, is_member, pop = _synthetic_refs()
    res = strong_attacks(refs, target, cand, is_member, pop, fixed_variance=True)
    assert set(res) == {"lira_online", "lira_offline", "rmia"}
    for r in res.values():
        s = r.summary()
        assert s["auc"] > 0.9 and s["n_in"] == 100 and s["n_out"] == 100
    # per-example variance works too with 4 IN / 4 OUT models per example
    assert lira_attack(refs, target, cand, is_member, fixed_variance=False).summary()["auc"] > 0.9
    # a target unrelated to membership gives chance-level scores
    rng = np.random.default_rng(1)
    fake = refs.logits[:, :].mean(0) + rng.normal(0, 0.5, target.shape)
    assert abs(rmia_attack(refs, fake, cand, is_member, pop, a=0.3).summary()["auc"] - 0.5) < 0.15


def test_rmia_tuning_picks_the_best_a_on_pseudo_targets():
    refs, _, cand, _, pop = _synthetic_refs(seed=2)
    lp = np.log(true_class_prob(refs.logits, refs.labels))
    a, aucs = tune_offline_a(lp, refs.membership, cand, pop, grid=(0.0, 0.5, 1.0))
    assert set(aucs) == {0.0, 0.5, 1.0} and aucs[a] == max(aucs.values())
    # recompute the AUC at a = 0.5 by hand: each of the 2 pseudo-targets attacked with the other models
    by_hand = []
    for j in (0, 1):
        keep = np.arange(refs.k) != j
        lx = log_marginal(lp[keep][:, cand], refs.membership[keep][:, cand], a=0.5)
        pj = pop[~refs.membership[j, pop]]
        lz = log_marginal(lp[keep][:, pj], refs.membership[keep][:, pj], a=0.5)
        s = rmia_scores(lp[j, cand], lx, lp[j, pj], lz)
        by_hand.append(metrics.roc_auc(s, refs.membership[j, cand].astype(int)))
    assert aucs[0.5] == pytest.approx(np.mean(by_hand), abs=1e-12) and aucs[0.5] > 0.8


def test_attack_inputs_are_validated():
    refs, target, cand, is_member, pop = _synthetic_refs(n_c=20, n_pop=10)
    with pytest.raises(ValueError, match="whole pool"):
        lira_attack(refs, target[:5], cand, is_member)
    with pytest.raises(ValueError, match="disjoint"):
        rmia_attack(refs, target, cand, is_member, cand[:3])
    with pytest.raises(ValueError, match="one member and one non-member"):
        lira_attack(refs, target, cand, np.ones(len(cand), bool))
    with pytest.raises(ValueError, match="'tune'"):
        rmia_attack(refs, target, cand, is_member, pop, a="best")


# --------------------------------------------------------------------------- reference-model training


def _tiny_problem(n=80, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] + 0.5 * torch.randn(n, generator=g) > 0).long()
    return x, y


def test_train_reference_models_is_seeded_and_records_membership():
    x, y = _tiny_problem()
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05)

    def model_fn():
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))

    a = train_reference_models(x, y, model_fn=model_fn, k=4, config=cfg, seed=3, progress=False, attacker="mismatched")
    b = train_reference_models(x, y, model_fn=model_fn, k=4, config=cfg, seed=3, progress=False, attacker="mismatched")
    with pytest.raises(ValueError, match="attacker='mismatched'"):  # the default attacker knows the defense
        train_reference_models(x, y, model_fn=model_fn, k=4, config=cfg, seed=3, progress=False)
    assert a.logits.shape == (4, 80, 2) and a.membership.shape == (4, 80)
    assert (a.membership.sum(0) == 2).all()
    np.testing.assert_array_equal(a.logits, b.logits)
    np.testing.assert_array_equal(a.membership, b.membership)
    assert len(a.histories) == 4 and len(a.histories[0]) == 2
    assert a.info["defense"] == {"name": "ce"} and a.info["attacker"] == "mismatched"
    assert not np.array_equal(a.logits[0], a.logits[1])  # different seeds and subsets per model


def test_reference_models_train_on_their_in_examples_only():
    # a memorizing model (one weight per example, one-hot inputs): IN examples are fit, OUT ones stay at chance
    n = 40
    x = torch.eye(n)
    y = torch.arange(n) % 2
    cfg = TrainConfig(epochs=30, batch_size=8, lr=0.5, momentum=0.0, weight_decay=0.0)

    def model_fn():
        m = nn.Linear(n, 2, bias=False)
        nn.init.zeros_(m.weight)  # an unseen example keeps logits (0, 0): phi = 0
        return m

    refs = train_reference_models(x, y, model_fn=model_fn, k=4, config=cfg, seed=0, progress=False,
                                  attacker="mismatched")  # fmt: skip
    assert refs.train_accuracy() == 1.0
    phi = refs.logit_confidence()
    assert phi[refs.membership].min() > 1.0 and np.abs(phi[~refs.membership]).max() < 1e-6


def test_attack_pool_layout():
    y = np.repeat(np.arange(5), 40)
    ap = attack_pool(y, size=30, seed=0)
    assert len(ap.pool) == 120 and len(np.unique(ap.pool)) == 120
    np.testing.assert_array_equal(ap.pool[:30], ap.target_train)
    assert ap.is_member.sum() == 30 and len(ap.population) == 60 and ap.pkeep == 0.5
    mem = ap.membership(k=4, seed=1)
    # Carlini et al.'s design on the candidates (every one IN for k/2 models), no model on the population
    assert mem.shape == (4, 120) and (mem[:, :60].sum(0) == 2).all() and not mem[:, 60:].any()
    assert mem.sum(1).mean() == 30  # a reference model trains on as many examples as the target (on average)


def test_suite_registration_runs_lira_and_rmia_through_run_attacks():
    from ccl_lib.attacks import run_attacks

    x, y = _tiny_problem(n=120, seed=1)
    torch.manual_seed(0)
    target = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    shadow = fresh_copy(target)
    opts = {"config": TrainConfig(epochs=2, batch_size=16), "k": 4, "attacker": "mismatched"}
    report = run_attacks(
        target, shadow, target_in=(x[:30], y[:30]), target_out=(x[30:60], y[30:60]),
        shadow_in=(x[60:90], y[60:90]), shadow_out=(x[90:], y[90:]),
        attacks=["lira", "lira_offline", "rmia"], attack_options={"lira": opts, "lira_offline": opts, "rmia": opts},
        progress=False,
    )  # fmt: skip
    assert list(report["attack"]) == ["lira", "lira_offline", "rmia"]
    assert (report["n_in"] == 30).all() and report["auc"].between(0, 1).all()


def test_run_strong_attacks_end_to_end_on_digits():
    from ccl_lib.data import load_dataset
    from ccl_lib.defenses import get_defense

    ds = load_dataset("digits")

    def model_fn():
        return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))

    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.1, track_train_loss=False)
    run = run_strong_attacks(ds, get_defense("ccql", alpha=0.5), size=60, k=4, config=cfg, model_fn=model_fn,
                             seed=1, label="CCQL", progress=False)  # fmt: skip
    assert set(run.results) == {"lira_online", "lira_offline", "rmia"}
    assert run.refs.n_pool == 240 and (run.refs.membership[:, :120].sum(0) == 2).all()
    assert not run.refs.membership[:, 120:].any()  # the population (RMIA's z) trains no model
    assert abs(run.refs.membership.sum(1).mean() - 60) < 1e-9  # references see as many examples as the target
    rows = run.rows()
    assert len(rows) == 3 and rows[0]["defense"] == "CCQL" and rows[0]["n_in"] == 60 and rows[0]["n_out"] == 60
    assert 0 <= run.test_acc <= 1 and np.isnan(run.epsilon)
    assert run.refs.info["defense"]["defense"] == "ccql" and run.refs.info["attacker"] == "matched"
    again = run_strong_attacks(ds, get_defense("ccql", alpha=0.5), size=60, k=4, config=cfg, model_fn=model_fn,
                               seed=1, progress=False)  # fmt: skip
    np.testing.assert_array_equal(run.results["rmia"].scores_in, again.results["rmia"].scores_in)


def _finding_rows():
    import pandas as pd

    rows = []

    def add(ds, defense, attack, tpr1, lo, hi, auc, acc, eps=float("nan"), min_fpr=0.001):
        rows.append({"dataset": ds, "defense": defense, "attack": attack, "seed": 0, "test_acc": acc,
                     "epsilon": eps, "auc": auc, "min_fpr": min_fpr, "tpr@1%": tpr1, "tpr@1%_low": lo,
                     "tpr@1%_high": hi, "tpr@0.1%": tpr1 / 3})  # fmt: skip

    for ds, mf in (("loc", 0.001), ("img", 0.005)):
        add(ds, "vanilla", "lira_online", 0.05, 0.03, 0.07, 0.80, 0.50, min_fpr=mf)
        add(ds, "vanilla", "rmia", 0.20, 0.15, 0.25, 0.90, 0.50, min_fpr=mf)
        add(ds, "vanilla", "lira_offline", 0.18, 0.14, 0.22, 0.85, 0.50, min_fpr=mf)
        add(ds, "CCEL", "lira_online", 0.04, 0.02, 0.06, 0.70, 0.49, min_fpr=mf)
        add(ds, "CCEL", "lira_offline", 0.16, 0.12, 0.21, 0.84, 0.49, min_fpr=mf)
        add(ds, "CCQL", "lira_online", 0.01, 0.0, 0.02, 0.60, 0.52, min_fpr=mf)
        add(ds, "CCQL", "lira_offline", 0.08, 0.05, 0.10 if ds == "loc" else 0.16, 0.75, 0.52, min_fpr=mf)
        add(ds, "DP-SGD", "lira_online", 0.01, 0.0, 0.03, 0.56, 0.30, eps=12.5, min_fpr=mf)
        add(ds, "DP-SGD", "lira_offline", 0.02, 0.01, 0.04, 0.55, 0.30, eps=12.5, min_fpr=mf)
    return pd.DataFrame(rows)


def test_strongest_attacks_and_findings_follow_the_numbers():
    from ccl_lib.attacks import findings_strong_attacks, strongest_attacks

    df = _finding_rows()
    best = strongest_attacks(df)
    assert list(best[best["dataset"] == "loc"]["attack"]) == ["rmia", "lira_offline", "lira_offline", "lira_offline"]
    text = findings_strong_attacks(df, k=4)
    assert "rmia finds 20.0% [15.0%, 25.0%] of the members at 1% FPR" in text
    # CCEL overlaps vanilla's interval; CCQL is below it on "loc" only
    assert "CCEL: 16.0% [12.0%, 21.0%] at 1% FPR (lira offline), its interval overlaps" in text
    assert "CCQL: 8.0% [5.0%, 10.0%] at 1% FPR (lira offline), lower than the undefended model's" in text
    assert "beyond the intervals for CCQL on loc; not for CCEL on loc, CCEL on img, CCQL on img." in text
    assert "DP-SGD (epsilon 12.5): 2.0% at 1% FPR, the lowest AUC of all defenses (0.55)" in text
    assert "online LiRA has a lower AUC than offline LiRA for 6 of 8 targets" in text
    assert "0.5% on img" in text and "0.1% on loc" not in text
    with pytest.raises(ValueError, match="lacks columns"):
        findings_strong_attacks(df.drop(columns=["auc"]))


def test_strong_attack_table_intervals_and_chapter_plots():
    import matplotlib

    matplotlib.use("Agg")
    from ccl_lib import plots
    from ccl_lib.attacks import (
        ReferenceModels,
        StrongAttackRun,
        format_strong_attack_table,
        strong_attack_table,
        strongest_attacks,
    )
    from ccl_lib.attacks.base import AttackResult

    rng = np.random.default_rng(0)
    refs = ReferenceModels(membership=np.zeros((4, 8), bool), logits=np.zeros((4, 8, 2)), labels=np.zeros(8, int))

    def run(separable: bool) -> StrongAttackRun:
        s_out = rng.normal(size=2000)
        s_in = s_out + 100 if separable else rng.normal(size=2000)
        res = {a: AttackResult(a, s_in, s_out) for a in ("lira_online", "rmia")}
        return StrongAttackRun(results=res, refs=refs, history=[], test_acc=0.5, train_acc=0.9,
                               epsilon=float("nan"), seconds=1.0)  # fmt: skip

    runs = {("toy", "open", 0): run(True), ("toy", "closed", 0): run(False)}
    table = strong_attack_table(runs, n_boot=200)
    assert len(table) == 4 and set(table["attack"]) == {"lira_online", "rmia"}
    opened = table[table["defense"] == "open"]
    # perfectly separable scores: every member found at any FPR, and no resample changes that
    assert (opened["tpr@0.1%"] == 1).all() and (opened["tpr@0.1%_low"] == 1).all() and (opened["auc"] == 1).all()
    closed = table[table["defense"] == "closed"]
    assert (closed["auc"].between(0.45, 0.55)).all() and (closed["tpr@1%_low"] <= closed["tpr@1%"]).all()
    assert (table["min_fpr"] == 1 / 2000).all() and (table["k"] == 4).all()
    shown = format_strong_attack_table(table, seed=0)
    assert shown.loc[("toy", "open", "rmia"), "tpr@0.1%"].startswith("100.0%")
    with pytest.raises(ValueError, match="no rows for seed 3"):
        format_strong_attack_table(table, seed=3)
    fig = plots.strong_roc_panels(
        runs, {"lira_online": "LiRA", "rmia": "RMIA"}, seed=0, datasets=["toy"], defenses=["open", "closed"]
    )
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "log" for ax in fig.axes)
    assert len(fig.axes[0].get_lines()) == 3  # two defenses + chance
    with pytest.raises(ValueError, match="defenses"):
        plots.strong_roc_panels(runs, {"rmia": "RMIA"}, seed=0, datasets=["toy"], defenses=["missing"])
    fig = plots.tpr_intervals(strongest_attacks(table), ["toy"], ["open", "closed"])
    assert len(fig.axes) == 1 and len(fig.axes[0].get_xticklabels()) == 2
    with pytest.raises(ValueError):
        plots.tpr_intervals(table.drop(columns=["tpr@1%_low"]), ["toy"], ["open"])


def _memorization_problem(n_part=100, noise=8, seed=0):
    """Four parts of ``n_part`` examples: one-hot ids (+ noise features), random labels -- only memorization helps."""
    g = torch.Generator().manual_seed(seed)
    n = 4 * n_part
    x = torch.cat([torch.eye(n), torch.randn(n, noise, generator=g)], 1)
    y = torch.randint(0, 2, (n,), generator=g)
    p = lambda a, b: (x[a:b], y[a:b])  # noqa: E731
    return x.shape[1], dict(target_in=p(0, n_part), target_out=p(n_part, 2 * n_part),
                            shadow_in=p(2 * n_part, 3 * n_part), shadow_out=p(3 * n_part, n))  # fmt: skip


def test_lira_and_rmia_beat_chance_at_one_percent_fpr_on_an_overfit_model():
    """Reference models trained like the target (the default attacker) find members at 1% FPR, far above 0.01."""
    from ccl_lib.attacks import run_attacks
    from ccl_lib.defenses import get_defense

    d, sets = _memorization_problem(noise=2)
    cfg = TrainConfig(epochs=30, batch_size=20, lr=1.0, momentum=0.0, weight_decay=0.0, device="cpu",
                      track_train_loss=False)  # fmt: skip
    defense = get_defense("vanilla")
    torch.manual_seed(0)
    target = nn.Linear(d, 2)
    defense.train(target, *sets["target_in"], config=cfg, progress=False)
    shadow = fresh_copy(target)
    with pytest.raises(ValueError, match="attacker='mismatched'"):  # the default attacker trains like the target
        run_attacks(target, shadow, **sets, attacks=["lira"], progress=False, device="cpu")
    opts = {"k": 4}
    rep, res = run_attacks(target, shadow, **sets, attacks=["lira", "lira_offline", "rmia"], progress=False,
                           device="cpu", defense=defense, train_config=cfg, return_results=True,
                           attack_options={a: opts for a in ("lira", "lira_offline", "rmia")})  # fmt: skip
    r = rep.set_index("attack")
    # chance: TPR = FPR; n_out = 100, so 1% FPR allows one false positive
    assert (r.loc[["lira", "lira_offline"], "tpr@1%"] >= 0.5).all(), r
    # RMIA's score is a fraction of 200 population samples: members and the most extreme non-members tie at 1,
    # so its 1% FPR point is not resolved here; at 5% FPR it must beat chance (0.05) clearly too
    rmia = res["rmia"]
    assert metrics.tpr_at_fpr(*rmia.scores_and_labels(), 0.05) >= 0.3
    assert (r["auc"] > 0.9).all()
    # thresholds from pseudo-target reference models (never the target's labels): a real attack, not the oracle
    assert (r["advantage"] > 0.4).all() and (r["advantage"] <= r["advantage_oracle"] + 1e-12).all()


def test_mismatched_attacker_is_an_explicit_option():
    from ccl_lib.attacks import AttackContext, context_references
    from ccl_lib.defenses import get_defense

    d, sets = _memorization_problem(n_part=20)
    m = nn.Linear(d, 2)
    ctx = AttackContext(m, m, **sets, seed=0, train_config=TrainConfig(epochs=1, batch_size=20, device="cpu"))
    refs, *_ = context_references(ctx, k=2, attacker="mismatched")
    assert refs.info["attacker"] == "mismatched" and refs.info["defense"] == {"name": "ce"}
    with pytest.raises(ValueError, match="do not pass a defense"):
        context_references(ctx, k=2, attacker="mismatched", defense=get_defense("vanilla"))
    with pytest.raises(ValueError, match="attacker must be one of"):
        context_references(ctx, k=2, attacker="naive")
    ctx.defense = get_defense("vanilla")
    refs, *_ = context_references(ctx, k=2)  # matched: the context's defense and recipe
    assert refs.info["attacker"] == "matched" and refs.info["defense"]["defense"] == "vanilla"
    assert refs.info["config"]["epochs"] == 1


def _digits_pool(n=240):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data[:n] / 16.0, dtype=torch.float32)
    return x, torch.tensor(d.target[:n], dtype=torch.long)


def test_reference_models_through_fit_many_equal_separate_fit_calls_on_digits():
    # train_reference_models trains its K models with one fit_many call; on the CPU ("auto" = sequential)
    # each model must equal a separate fit call with the same seed, subset, defense and recipe, and
    # the stacked path (equal-size subsets: complementary halves) must agree within float tolerance.
    from ccl_lib.attacks.reference import derive_seed
    from ccl_lib.defenses import get_defense
    from ccl_lib.models import MLP
    from ccl_lib.train import fit

    x, y = _digits_pool()
    k, seed = 4, 5
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05, device="cpu", milestones=(2,))
    defense = get_defense("ccel", alpha=0.5)
    built: list[nn.Module] = []

    def model_fn():
        m = MLP(64, 10, hidden=(32,))
        built.append(m)
        return m

    refs = train_reference_models(x, y, model_fn=model_fn, k=k, defense=defense, config=cfg, seed=seed, progress=False)
    assert len(built) == k and refs.info["model_seeds"] == [derive_seed(seed, 1, i) for i in range(k)]
    for i, s in enumerate(refs.info["model_seeds"]):  # the previous code path, one model at a time
        torch.manual_seed(s)
        alone = MLP(64, 10, hidden=(32,))
        idx = torch.from_numpy(np.flatnonzero(refs.membership[i]))
        c = dataclasses.replace(cfg, seed=s, track_train_loss=False)
        hist = fit(alone, x[idx], y[idx], objective=copy.deepcopy(defense), config=c, progress=False).history
        for (name, p), q in zip(alone.state_dict().items(), built[i].state_dict().values()):
            torch.testing.assert_close(q, p, rtol=0, atol=1e-6, msg=f"model {i} {name}")
        assert [h["objective"] for h in refs.histories[i]] == pytest.approx([h["objective"] for h in hist], abs=1e-6)
        with torch.no_grad():
            np.testing.assert_allclose(refs.logits[i], alone(x).numpy(), atol=1e-5)
    assert not np.allclose(refs.logits[0], refs.logits[1])  # different seeds and subsets per model

    # stacked (vmap) against sequential, on a design with subsets of one size (equal_sizes)
    runs = {
        st_: train_reference_models(x, y, model_fn=lambda: MLP(64, 10, hidden=(32,)), k=k, defense=defense, config=cfg,
                                    equal_sizes=True, seed=seed, progress=False, strategy=st_)
        for st_ in ("sequential", "stacked")
    }  # fmt: skip
    assert (runs["stacked"].membership.sum(1) == len(y) // 2).all()
    np.testing.assert_allclose(runs["stacked"].logits, runs["sequential"].logits, atol=1e-4)
    with pytest.raises(ValueError, match="strategy must be one of"):
        train_reference_models(
            x, y, model_fn=model_fn, k=k, defense=defense, config=cfg, progress=False, strategy="fast"
        )
    with pytest.raises(ValueError, match="cannot stack"):  # the default design: subsets of different sizes
        train_reference_models(
            x, y, model_fn=model_fn, k=k, defense=defense, config=cfg, progress=False, strategy="stacked"
        )


def test_equal_sizes_membership_fixes_rows_and_keeps_columns():
    n, k, r = 201, 8, 4
    base = sample_membership(n, k, 0.5, seed=7)
    eq = sample_membership(n, k, 0.5, seed=7, equal_sizes=True)
    assert (eq.sum(0) == r).all()  # every example still IN for exactly r models
    assert sorted(eq.sum(1)) == [100] * 4 + [101] * 4  # r * n / k = 100.5: sizes differ by at most one
    # a minimal repair of Carlini et al.'s design: only the excess entries move (two per swapped unit)
    excess = np.abs(base.sum(1) - eq.sum(1)).sum()
    assert 0 < (base != eq).sum() <= excess
    np.testing.assert_array_equal(eq, sample_membership(n, k, 0.5, seed=7, equal_sizes=True))
    # still a random design: pairwise overlaps of two ~100-subsets of 201 are hypergeometric, mean ~50, sd ~3.6
    overlap = eq.astype(int) @ eq.T.astype(int)
    off = overlap[~np.eye(k, dtype=bool)]
    assert np.abs(off - 50).max() < 20
    pool = pool_membership(60, 30, k=4, seed=1, equal_sizes=True)  # 2m candidates, pkeep 0.5: m each
    assert (pool.sum(1) == 30).all() and (pool[:, :60].sum(0) == 2).all() and not pool[:, 60:].any()
