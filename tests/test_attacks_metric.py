"""Metric-based attacks: scores against hand formulas; thresholds learned on the shadow model only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from ccl_lib.attacks import ATTACKS, METRICS, AttackContext, metric_attack, metric_scores, run_attacks


class TableModel(nn.Module):
    """Returns fixed logits per example id; the id is the first input feature."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table.float())
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.table[x[:, 0].round().long()] + 0 * self.dummy


def ids(lo, hi):
    return torch.arange(lo, hi, dtype=torch.float32)[:, None].repeat(1, 3)


def np_scores(z, y, metric, confidence="max"):
    """Independent NumPy formulas (Yeom 2018; Salem 2019; Song & Mittal 2021, Eq. 4)."""
    z = np.asarray(z, np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    py = p[np.arange(len(y)), y]
    if metric == "correctness":
        return (z.argmax(1) == y).astype(float)
    if metric == "loss":
        return np.log(py)
    if metric == "confidence":
        return py if confidence == "true" else p.max(1)
    if metric == "entropy":
        return (p * np.log(p)).sum(1)
    mask = np.ones_like(p, bool)
    mask[np.arange(len(y)), y] = False
    mentr = -(1 - py) * np.log(py) - (p * np.log(1 - p) * mask).sum(1)
    return -mentr


@pytest.mark.parametrize("metric", METRICS)
def test_metric_scores_match_hand_formulas(metric):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, (200, 7))
    y = rng.integers(0, 7, 200)
    for conf in ("true", "max"):
        got = metric_scores(torch.tensor(z, dtype=torch.float32), torch.tensor(y), metric, confidence=conf)
        want = np_scores(np.float32(z), y, metric, conf)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_confidence_true_vs_max_and_extreme_logits():
    z = torch.tensor([[5.0, 0.0, 0.0], [0.0, 40.0, -40.0], [80.0, -80.0, 0.0]])
    y = torch.tensor([1, 1, 0])
    true = metric_scores(z, y, "confidence", confidence="true")
    mx = metric_scores(z, y, "confidence", confidence="max")
    assert true[0] < 0.01 and mx[0] > 0.98  # misclassified: p_y small, max prob large
    for m in METRICS:
        s = metric_scores(z, y, m)
        assert np.isfinite(s).all()
    # modified entropy of a very confident correct prediction: ~ (1-p_y)(-log p_y) + ... ~ 0, not NaN
    me = metric_scores(z, y, "modified_entropy")
    assert me[2] <= 0 and me[2] > -1e-30
    # a confidently *wrong* prediction has a huge modified entropy: p_k log(1 - p_k) with p_k -> 1
    zw = torch.tensor([[0.0, 30.0]])
    assert metric_scores(zw, torch.tensor([0]), "modified_entropy")[0] == pytest.approx(-(30 + 30), rel=1e-6)
    # the loss of a confident prediction keeps its relative precision: log p_y = -log1p(e^-30)
    conf = metric_scores(torch.tensor([[30.0, 0.0]]), torch.tensor([0]), "loss")[0]
    assert conf == pytest.approx(-math.log1p(math.exp(-30.0)), rel=1e-12)
    with pytest.raises(ValueError, match="unknown metric"):
        metric_scores(z, y, "gradnorm")
    with pytest.raises(ValueError, match="confidence must be"):
        metric_scores(z, y, "confidence", confidence="top")
    with pytest.raises(ValueError, match="labels must lie"):
        metric_scores(z, torch.tensor([0, 1, 3]), "loss")
    with pytest.raises(ValueError, match="NaN or inf"):
        metric_scores(torch.tensor([[math.nan, 0.0]]), torch.tensor([0]), "loss")


def _leaky_tables(n, k, rng, target_leaks=True):
    """Shadow: members get high true-class logits; target: the same leak or none."""
    y = torch.as_tensor(rng.integers(0, k, 4 * n))
    z = torch.as_tensor(rng.normal(0, 1, (4 * n, k)), dtype=torch.float32)
    boost = torch.zeros(4 * n)
    boost[:n] = 3.0  # shadow members
    if target_leaks:
        boost[2 * n : 3 * n] = 3.0  # target members
    z[torch.arange(4 * n), y] += boost + torch.as_tensor(rng.normal(0, 1, 4 * n), dtype=torch.float32)
    return z, y


def _ctx(z, y, n):
    model = TableModel(z)
    x = ids(0, 4 * n)
    part = lambda a, b: (x[a:b], y[a:b])  # noqa: E731
    return AttackContext(model, model, target_in=part(2 * n, 3 * n), target_out=part(3 * n, 4 * n),
                         shadow_in=part(0, n), shadow_out=part(n, 2 * n))  # fmt: skip


@pytest.mark.parametrize("metric", ["loss", "confidence", "entropy", "modified_entropy"])
def test_metric_attack_thresholds_are_learned_on_the_shadow_model(metric):
    rng = np.random.default_rng(1)
    n, k = 1500, 3
    z, y = _leaky_tables(n, k, rng)
    res = metric_attack(_ctx(z, y, n), metric)
    # independent reference: per-class brute-force thresholds from the *shadow* rows only
    s = np_scores(z.numpy(), y.numpy(), metric)
    yy = y.numpy()
    thr = np.zeros(k)
    for c in range(k):
        a, b = s[:n][yy[:n] == c], s[n : 2 * n][yy[n : 2 * n] == c]
        cands = np.unique(np.r_[a, b])[::-1]
        objs = [(a >= v).mean() - (b >= v).mean() for v in cands]
        thr[c] = cands[int(np.argmax(objs))]
    t_in, t_out = slice(2 * n, 3 * n), slice(3 * n, 4 * n)
    dec_in = s[t_in] >= thr[yy[t_in]] - 1e-12 * np.abs(thr[yy[t_in]])
    dec_out = s[t_out] >= thr[yy[t_out]] - 1e-12 * np.abs(thr[yy[t_out]])
    assert np.mean(res.decision_in == dec_in) > 0.998  # float32-vs-float64 rounding at most on a few
    assert np.mean(res.decision_out == dec_out) > 0.998
    assert np.array_equal(res.decision_in, res.scores_in >= 0) and np.array_equal(res.decision_out, res.scores_out >= 0)
    summ = res.summary()
    assert summ["advantage"] > 0.5 and summ["advantage_oracle"] >= summ["advantage"] - 1e-12
    # the shadow-learned decisions generalize: close to the target-chosen optimum
    assert summ["advantage_oracle"] - summ["advantage"] < 0.06


def test_metric_attack_is_scored_on_the_target_not_the_shadow():
    """A leaky shadow model must not make a non-leaky target look vulnerable."""
    rng = np.random.default_rng(2)
    n = 2000
    z, y = _leaky_tables(n, 4, rng, target_leaks=False)
    res = metric_attack(_ctx(z, y, n), "loss")
    summ = res.summary()
    assert summ["advantage_oracle"] <= math.sqrt(math.log(1e6) / n)  # KS bound, p = 1e-6
    p = res.decision_out.mean()
    assert abs(summ["advantage"]) <= 5 * math.sqrt(2 * p * (1 - p) / n) + 1e-9


def test_correctness_attack_and_confidence_variants():
    rng = np.random.default_rng(3)
    n = 500
    z, y = _leaky_tables(n, 5, rng)
    ctx = _ctx(z, y, n)
    res = metric_attack(ctx, "correctness")
    correct = (z.argmax(1) == y).numpy()
    assert np.array_equal(res.decision_in, correct[2 * n : 3 * n])
    # Yeom et al.: advantage of the correctness rule = train accuracy - test accuracy
    assert res.summary()["advantage"] == pytest.approx(correct[2 * n : 3 * n].mean() - correct[3 * n :].mean())
    a = metric_attack(ctx, "confidence", confidence="true")
    b = metric_attack(ctx, "confidence")  # the default: maximum probability (Salem et al.; the paper's)
    assert "true-class" in a.info["confidence"] and "maximum" in b.info["confidence"]
    assert not np.array_equal(a.scores_in, b.scores_in)
    g = metric_attack(ctx, "loss", class_dependent=False)
    # one global threshold: the score differences are the raw losses' differences
    raw = np_scores(z.numpy(), y.numpy(), "loss")[2 * n : 3 * n]
    np.testing.assert_allclose(np.diff(g.scores_in), np.diff(raw), atol=1e-9)


def test_run_attacks_on_table_models_balances_and_reports():
    rng = np.random.default_rng(4)
    n = 300
    z, y = _leaky_tables(n, 3, rng)
    model = TableModel(z)
    x = ids(0, 4 * n)
    rep, res = run_attacks(
        model, model,
        target_in=(x[2 * n : 3 * n], y[2 * n : 3 * n]), target_out=(x[3 * n : 3 * n + 200], y[3 * n : 3 * n + 200]),
        shadow_in=(x[:n], y[:n]), shadow_out=(x[n : 2 * n], y[n : 2 * n]),
        attacks=["loss", "confidence", "correctness"], device="cpu", return_results=True, progress=False,
    )  # fmt: skip
    assert list(rep["attack"]) == ["loss", "confidence", "correctness"]
    assert (rep["n_in"] == 200).all() and (rep["n_out"] == 200).all()
    assert res["confidence"].info["confidence"].startswith("maximum")
    assert rep.loc[rep.attack == "loss", "advantage_oracle"].item() > 0.5
    rep2 = run_attacks(
        model, model,
        target_in=(x[2 * n : 3 * n], y[2 * n : 3 * n]), target_out=(x[3 * n : 3 * n + 200], y[3 * n : 3 * n + 200]),
        shadow_in=(x[:n], y[:n]), shadow_out=(x[n : 2 * n], y[n : 2 * n]),
        attacks=["loss"], device="cpu", progress=False,
    )  # fmt: skip
    assert (
        rep2["advantage_oracle"].item() == rep.loc[rep.attack == "loss", "advantage_oracle"].item()
    )  # seeded balancing


def test_confidence_decisions_differ_from_loss_decisions_on_a_model_that_misclassifies():
    """Max-probability confidence is its own attack; the true-class variant is the loss attack in disguise.

    With class-dependent thresholds, ``log p_y`` is increasing in ``p_y``, so thresholding ``p_y``
    per class gives exactly the loss attack's decisions; ``max_k p_k`` differs from ``p_y`` exactly
    on misclassified examples, so its decisions differ there.
    """
    rng = np.random.default_rng(5)
    n, k = 400, 4
    z, y = _leaky_tables(n, k, rng)
    wrong = (z.argmax(1) != y).numpy()
    assert wrong[2 * n :].mean() > 0.1  # the model misclassifies a good part of the target's queries
    ctx = _ctx(z, y, n)
    loss = metric_attack(ctx, "loss")
    conf = metric_attack(ctx, "confidence")
    true = metric_attack(ctx, "confidence", confidence="true", name="confidence_true")
    dec = lambda r: np.r_[r.decision_in, r.decision_out]  # noqa: E731
    assert np.array_equal(dec(true), dec(loss))  # one attack under two names
    differ = dec(conf) != dec(loss)
    assert differ.sum() >= 10  # a different rule...
    # ...and it differs where the maximum is not the true class (or thresholds of other classes apply)
    assert differ[~wrong[2 * n :]].sum() <= differ.sum()
    assert "confidence_true" in ATTACKS and "confidence" in ATTACKS


PAPER_METRICS = ("correctness", "loss", "confidence", "entropy", "modified_entropy")


def test_no_signal_headline_advantage_is_unbiased_and_the_oracle_is_not():
    """Issue 12: members and non-members from one distribution, target = shadow = one untrained model.

    The shadow-learned rule is independent of the target's sets, so its TPR - FPR has mean 0; the
    max over target-chosen thresholds is >= 0 on every draw and about +0.045 on average (300 + 300).
    """
    n, k, draws = 300, 5, 40
    adv = {m: [] for m in PAPER_METRICS}
    var = {m: [] for m in PAPER_METRICS}
    oracle = {m: [] for m in PAPER_METRICS}
    for d in range(draws):
        rng = np.random.default_rng(1000 + d)
        z = torch.as_tensor(rng.normal(0, 2, (4 * n, k)), dtype=torch.float32)  # one untrained model's outputs
        y = torch.as_tensor(rng.integers(0, k, 4 * n))
        ctx = _ctx(z, y, n)
        for m in PAPER_METRICS:
            r = metric_attack(ctx, m)
            s = r.summary()
            p = np.r_[r.decision_in, r.decision_out].mean()
            adv[m].append(s["advantage"])
            var[m].append(p * (1 - p) * 2 / n)  # binomial variance of TPR - FPR of a fixed rule
            oracle[m].append(s["advantage_oracle"])
    for m in PAPER_METRICS:
        se = math.sqrt(sum(var[m])) / draws
        assert abs(np.mean(adv[m])) <= 4 * se + 1e-12, (m, np.mean(adv[m]), se)
        assert min(oracle[m]) >= 0
        if m == "correctness":  # a 0/1 score has one real threshold: the oracle is max(0, the rule's advantage)
            np.testing.assert_allclose(oracle[m], np.maximum(0.0, adv[m]), atol=1e-12)
        else:
            assert np.mean(oracle[m]) > max(0.02, np.mean(adv[m]) + 4 * se), m


def _separable_sets(n, k, rng):
    """Members: the true class's logit +30; non-members: a wrong class ahead by 0.5 (misclassified, unsure)."""
    y = torch.as_tensor(rng.integers(0, k, 4 * n))
    z = torch.zeros(4 * n, k)
    member = np.r_[np.ones(n), np.zeros(n), np.ones(n), np.zeros(n)].astype(bool)
    rows = torch.arange(4 * n)
    z[rows[member], y[member]] = 30.0
    z[rows[~member], (y[~member] + 1) % k] = 0.5
    return z, y


def test_perfectly_separable_data_gives_advantage_one_headline_and_oracle():
    from ccl_lib.attacks import TABULAR_ATTACKS, ClassifierConfig

    n, k = 100, 4
    z, y = _separable_sets(n, k, np.random.default_rng(0))
    model = TableModel(z)
    x = ids(0, 4 * n)
    rep = run_attacks(model, model, target_in=(x[2 * n : 3 * n], y[2 * n : 3 * n]), target_out=(x[3 * n :], y[3 * n :]),
                      shadow_in=(x[:n], y[:n]), shadow_out=(x[n : 2 * n], y[n : 2 * n]), device="cpu", progress=False,
                      attack_options={"nn": {"config": ClassifierConfig(steps=200)}})  # fmt: skip
    assert list(rep["attack"]) == list(TABULAR_ATTACKS)
    assert (rep["advantage"] == 1.0).all() and (rep["advantage_oracle"] == 1.0).all(), rep
