"""RMIA, the Relative Membership Inference Attack.

Zarifzadeh et al., 2024, "Low-Cost High-Power Membership Inference Attacks".

RMIA compares the target model's likelihood of a candidate ``x`` with its
likelihood of *population* samples ``z`` (data the attacker owns), each
normalized by how likely the example is under models in general:

    LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)]        (Zarifzadeh et al., Eq. 3)
    Score(x) = Pr_z[ LR(x, z) >= gamma ]                                 (Eq. 4)

the fraction of population samples that ``x`` *dominates*.  ``Pr(x | theta)``
is the target's softmax probability of the true class; ``Pr(x)`` averages it
over reference models.

**Offline** (what this module defaults to): the attacker uses only reference
models that did *not* train on the example (OUT models).  Their average
underestimates the full average ``Pr(x) = (Pr_OUT(x) + Pr_IN(x)) / 2``, because
IN models are more confident on ``x``; Zarifzadeh et al. (Sec. 4, "offline
RMIA") approximate the missing IN average linearly, ``Pr_IN(x) ~ a Pr_OUT(x) +
(1 - a)`` (a line through the point ``(1, 1)``: a point the OUT models already
fit perfectly is fitted as well by IN models), which gives

    Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2,

with ``a = 1`` (no correction) down to ``a = 0`` (IN models predict 1).  The
same formula is applied to the population samples ``z``.  ``a`` depends on the
data and the training algorithm; :func:`tune_offline_a` picks it as the
authors' code does: attack one of the reference models with the others, for
each ``a`` of a grid, and keep the ``a`` of highest AUC -- only the attacker's
own models are used.  **Online**: ``Pr(x)`` is the plain average over all
reference models (IN and OUT).

Computations are in log space (log-softmax probabilities, ``logsumexp``
averages), so a probability that underflows in float64 does not turn a ratio
into 0/0.  Higher score = member.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from scipy.special import logsumexp

from .base import AttackResult, as_numpy, check_candidates, check_target_logits, logits_and_labels
from .threshold import pseudo_target_threshold

__all__ = [
    "log_marginal",
    "pairwise_likelihood_ratio",
    "rmia_attack",
    "rmia_scores",
    "true_class_log_prob",
    "true_class_prob",
    "tune_offline_a",
]

ArrayLike = Union[np.ndarray, torch.Tensor]


def true_class_log_prob(logits: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """``(..., n)`` log-softmax probability of the true class, ``log Pr(x | theta)``, in float64.

    Args:
        logits: ``(..., n, C)`` logits (e.g. ``(K, n, C)`` for K reference models), finite.
        labels: ``(n,)`` integer labels in ``[0, C)``.
    """
    z, y = logits_and_labels(logits, labels)
    idx = y.view(*([1] * (z.dim() - 2)), -1, 1).expand(*z.shape[:-1], 1)
    return torch.log_softmax(z, dim=-1).gather(-1, idx).squeeze(-1).numpy()


def true_class_prob(logits: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """``(..., n)`` softmax probability of the true class, ``Pr(x | theta)`` (RMIA's default signal).

    Args:
        logits: ``(..., n, C)`` logits, finite.
        labels: ``(n,)`` integer labels in ``[0, C)``.
    """
    return np.exp(true_class_log_prob(logits, labels))


def _check_a(a: float) -> float:
    if isinstance(a, bool) or not isinstance(a, (int, float, np.floating)) or not 0.0 <= float(a) <= 1.0:
        raise ValueError(f"the offline coefficient a must be a number in [0, 1] (or 'tune'), got {a!r}")
    return float(a)


def log_marginal(ref_logp: ArrayLike, ref_in: ArrayLike, *, a: float = 0.3, online: bool = False) -> np.ndarray:
    """``log Pr(x)`` per example from reference models' ``log Pr(x | theta_k)`` ``(K, n)``.

    Offline (default): ``Pr(x) = ((1 + a) mean_OUT + (1 - a)) / 2`` over the
    models with ``ref_in`` False (Zarifzadeh et al., offline RMIA).  Online:
    the mean over all K models (``a`` is ignored).  Examples without any OUT
    model get NaN in offline mode.

    Args:
        ref_logp: ``(K, n)`` reference models' ``log Pr(x | theta_k)`` (:func:`true_class_log_prob`).
        ref_in: ``(K, n)`` bool membership (True = model k trained on example i).
        a: offline coefficient in [0, 1] (default 0.3);
            ``a = 1`` is the plain mean over the OUT models.
        online: average over all K models instead (IN and OUT).
    """
    lp = as_numpy(ref_logp)
    mask = np.asarray(ref_in.detach().cpu().numpy() if isinstance(ref_in, torch.Tensor) else ref_in)
    if lp.ndim != 2:
        raise ValueError(f"ref_logp must be (K, n), got shape {lp.shape}")
    if mask.shape != lp.shape:
        raise ValueError(f"ref_in must be (K, n) = {lp.shape}, got {mask.shape}")
    mask = mask.astype(bool)
    if online:
        return logsumexp(lp, axis=0) - math.log(lp.shape[0])
    a = _check_a(a)
    n_out = (~mask).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        masked = np.where(~mask, lp, -np.inf)
        log_mean_out = logsumexp(masked, axis=0) - np.log(n_out)
        log_mean_out = np.where(n_out > 0, log_mean_out, np.nan)
    if a == 1.0:
        return log_mean_out
    return np.logaddexp(math.log1p(a) + log_mean_out, math.log(1.0 - a)) - math.log(2.0)


def pairwise_likelihood_ratio(logp_x: ArrayLike, log_px: ArrayLike, logp_z: ArrayLike, log_pz: ArrayLike) -> np.ndarray:
    """The ``(n, m)`` matrix ``LR(x_i, z_j) = [Pr(x_i|theta)/Pr(x_i)] / [Pr(z_j|theta)/Pr(z_j)]`` (Eq. 3).

    Inputs are logs; the result is the ratio itself.  Memory is ``n * m``:
    meant for inspection and tests; :func:`rmia_scores` never builds it.

    Args:
        logp_x: ``(n,)`` target's ``log Pr(x_i | theta)`` of the candidates.
        log_px: ``(n,)`` their ``log Pr(x_i)`` (:func:`log_marginal`).
        logp_z: ``(m,)`` target's ``log Pr(z_j | theta)`` of the population samples.
        log_pz: ``(m,)`` their ``log Pr(z_j)``.
    """
    rx = as_numpy(logp_x) - as_numpy(log_px)
    rz = as_numpy(logp_z) - as_numpy(log_pz)
    return np.exp(rx[:, None] - rz[None, :])


def rmia_scores(
    logp_x: ArrayLike,
    log_px: ArrayLike,
    logp_z: ArrayLike,
    log_pz: ArrayLike,
    gamma: float = 1.0,
) -> np.ndarray:
    """RMIA scores (Eq. 4): for each candidate, the fraction of population samples z with ``LR(x, z) >= gamma``.

    Args:
        logp_x: ``(n,)`` target's ``log Pr(x | theta)`` of the candidates.
        log_px: ``(n,)`` ``log Pr(x)`` (:func:`log_marginal`).
        logp_z, log_pz: the same for the ``m`` population samples.
        gamma: the dominance threshold (>= 1 in the paper; 1 by default).

    One sort of the population ratios and a binary search per candidate:
    O((n + m) log m), exactly the count of the pairwise definition.
    """
    lx, lpx, lz, lpz = as_numpy(logp_x), as_numpy(log_px), as_numpy(logp_z), as_numpy(log_pz)
    if lx.ndim != 1 or lx.shape != lpx.shape:
        raise ValueError(
            f"logp_x and log_px must be 1-d of the same length (one per candidate), got {lx.shape}, {lpx.shape}"
        )
    if lz.ndim != 1 or lz.shape != lpz.shape or len(lz) == 0:
        raise ValueError(
            "logp_z and log_pz must be 1-d, non-empty, of the same length (one per population sample), "
            f"got {lz.shape}, {lpz.shape}"
        )
    rx, rz = lx - lpx, lz - lpz
    if not (isinstance(gamma, (int, float)) and gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    if np.isnan(rx).any() or np.isnan(rz).any():
        raise ValueError(
            "a likelihood ratio is NaN: an example has no OUT reference model (offline RMIA needs at least one)"
        )
    # LR(x, z) >= gamma  <=>  rz <= rx - log(gamma)
    rz_sorted = np.sort(rz)
    counts = np.searchsorted(rz_sorted, rx - math.log(gamma), side="right")
    return counts / len(rz)


def _auc(scores: np.ndarray, member: np.ndarray) -> float:
    from ..metrics import roc_auc

    return roc_auc(scores, member.astype(np.int64))


def tune_offline_a(
    ref_logp: ArrayLike,
    ref_in: ArrayLike,
    candidates: ArrayLike,
    population: ArrayLike,
    *,
    grid: Sequence[float] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2)),
    gamma: float = 1.0,
    n_pseudo: int = 2,
) -> tuple[float, dict]:
    """Choose RMIA's offline ``a`` by attacking the attacker's own reference models (as the authors' code does).

    For each of ``n_pseudo`` reference models taken as a pseudo-target (its
    membership is known to the attacker), the other models serve as
    references; offline RMIA is run for every ``a`` in ``grid`` on the
    ``candidates`` (with the population samples the pseudo-target did not
    train on) and the ``a`` with the highest mean AUC is returned, with
    ``{a: mean AUC}``.  Candidates without an OUT model among the remaining
    references are left out of that pseudo-target's AUC.

    Args:
        ref_logp: ``(K, n_pool)`` reference models' ``log Pr(x | theta_k)``, K >= 2.
        ref_in: ``(K, n_pool)`` bool membership of the reference models.
        candidates: pool positions of the tested examples.
        population: pool positions of the population samples z.
        grid: values of ``a`` in [0, 1] to try (default 0, 0.1, ..., 1); ties go to the value closest to 0.3.
        gamma: dominance threshold of Eq. 4.
        n_pseudo: number of reference models (the first ones) attacked as pseudo-targets, in ``[1, K]``.
    """
    lp = as_numpy(ref_logp)
    mask = np.asarray(ref_in).astype(bool)
    c = np.asarray(candidates)
    pop = np.asarray(population)
    k = lp.shape[0]
    if k < 2:
        raise ValueError("tuning a needs at least 2 reference models (one pseudo-target and one reference)")
    if not 1 <= n_pseudo <= k:
        raise ValueError(f"n_pseudo must be in [1, {k}], got {n_pseudo}")
    grid = [_check_a(a) for a in grid]
    if not grid:
        raise ValueError("grid must hold at least one value of a")
    aucs: dict[float, list[float]] = {a: [] for a in grid}
    for j in range(n_pseudo):
        keep = np.arange(k) != j
        lp_r, m_r = lp[keep], mask[keep]
        member = mask[j, c]
        pop_j = pop[~mask[j, pop]]  # as for the real target: population samples it did not train on
        for a in grid:
            lx = log_marginal(lp_r[:, c], m_r[:, c], a=a)
            lz = log_marginal(lp_r[:, pop_j], m_r[:, pop_j], a=a)
            ok_x, ok_z = ~np.isnan(lx), ~np.isnan(lz)
            if not ok_z.any() or member[ok_x].all() or not member[ok_x].any():
                continue
            s = rmia_scores(lp[j, c][ok_x], lx[ok_x], lp[j, pop_j][ok_z], lz[ok_z], gamma)
            aucs[a].append(_auc(s, member[ok_x]))
    mean_auc = {a: float(np.mean(v)) for a, v in aucs.items() if v}
    if not mean_auc:
        raise ValueError("could not tune a: no pseudo-target had members, non-members and OUT models")
    best = max(mean_auc, key=lambda a: (mean_auc[a], -abs(a - 0.3)))
    return best, mean_auc


def rmia_attack(
    refs: Any,
    target_logits: ArrayLike,
    candidates: ArrayLike,
    is_member: ArrayLike,
    population: ArrayLike,
    *,
    a: Union[float, str] = "tune",
    gamma: float = 1.0,
    online: bool = False,
    name: str = "rmia",
    n_pseudo: int = 4,
) -> AttackResult:
    """Run RMIA (offline by default) on a target model; returns an :class:`AttackResult`.

    Args:
        refs: the attacker's reference models (logits on the whole pool).
        target_logits: ``(n_pool, C)`` the target's logits on the pool.
        candidates: pool positions of the tested examples.
        is_member: their ground-truth membership (only to split the scores).
        population: pool positions of the population samples z (disjoint from ``candidates``).
        a: offline coefficient in [0, 1], or ``"tune"`` (:func:`tune_offline_a`).
        gamma: dominance threshold of Eq. 4.
        online: use all reference models for ``Pr(x)`` (IN and OUT).
        name: the report's attack name.
        n_pseudo: reference models used as pseudo-targets to learn the
            decision threshold (0: no decisions).

    RMIA is a score (AUC, TPR at fixed FPR).  Its ``advantage`` comes from a
    threshold chosen **without the target's labels**: each of the first
    ``n_pseudo`` reference models is attacked with the others (same ``a``,
    same population), and the median of their best balanced-accuracy
    thresholds is applied to the target
    (:func:`~ccl_lib.attacks.threshold.pseudo_target_threshold`).
    """
    c, m = check_candidates(refs.n_pool, candidates, is_member)
    pop = np.asarray(population)
    if pop.ndim != 1 or len(pop) == 0 or not np.issubdtype(pop.dtype, np.integer):
        raise ValueError("population must be a non-empty 1-d array of integer pool positions")
    if pop.min() < 0 or pop.max() >= refs.n_pool:
        raise ValueError(f"population must index the pool [0, {refs.n_pool})")
    if np.intersect1d(pop, c).size:
        raise ValueError("population and candidates must be disjoint (z must not be a tested example)")
    t = check_target_logits(target_logits, refs)
    ref_lp = true_class_log_prob(refs.logits, refs.labels)
    tgt_lp = true_class_log_prob(t, refs.labels)
    tuned: Optional[dict] = None
    if online:
        a_used = float("nan")
    elif isinstance(a, str):
        if a != "tune":
            raise ValueError(f"a must be a number in [0, 1] or 'tune', got {a!r}")
        a_used, tuned = tune_offline_a(ref_lp, refs.membership, c, pop, gamma=gamma)
    else:
        a_used = _check_a(a)
    lx = log_marginal(ref_lp[:, c], refs.membership[:, c], a=a_used if not online else 0.0, online=online)
    lz = log_marginal(ref_lp[:, pop], refs.membership[:, pop], a=a_used if not online else 0.0, online=online)
    scores = rmia_scores(tgt_lp[c], lx, tgt_lp[pop], lz, gamma)
    if not isinstance(n_pseudo, (int, np.integer)) or n_pseudo < 0:
        raise ValueError(f"n_pseudo must be a non-negative integer, got {n_pseudo!r}")
    a_ps = a_used if not online else 0.0
    pseudo = []
    for j in range(min(int(n_pseudo), refs.k) if refs.k >= 3 else 0):
        keep = np.arange(refs.k) != j
        lp_r, m_r = ref_lp[keep], refs.membership[keep]
        px = log_marginal(lp_r[:, c], m_r[:, c], a=a_ps, online=online)
        pz = log_marginal(lp_r[:, pop], m_r[:, pop], a=a_ps, online=online)
        pop_j = ~refs.membership[j, pop] & ~np.isnan(pz)
        ok = ~np.isnan(px)
        if not ok.any() or not pop_j.any():
            continue
        s_j = rmia_scores(ref_lp[j, c][ok], px[ok], ref_lp[j, pop][pop_j], pz[pop_j], gamma)
        pseudo.append((s_j, refs.membership[j, c][ok]))
    decisions = scores >= pseudo_target_threshold(pseudo) if pseudo else None
    info = {
        "attack": "RMIA (Zarifzadeh et al., 2024)",
        "mode": "online" if online else "offline",
        "a": a_used,
        "gamma": float(gamma),
        "n_population": int(len(pop)),
        "k": refs.k,
        "reference": refs.info.get("defense"),
    }
    if tuned is not None:
        info["a_auc"] = tuned
    info["decision"] = (
        f"score >= median best threshold of {len(pseudo)} pseudo-target reference models (no target labels)"
        if decisions is not None
        else "none (score only: advantage is NaN)"
    )
    if decisions is None:
        return AttackResult(name=name, scores_in=scores[m], scores_out=scores[~m], info=info)
    return AttackResult(name, scores[m], scores[~m], decisions[m], decisions[~m], info)
