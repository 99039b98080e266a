"""The Likelihood Ratio Attack, LiRA (Carlini et al., 2022, "Membership inference attacks from first principles").

LiRA tests, for each example ``(x, y)``, whether the target model's output
looks more like the output of models trained *with* the example (IN) than of
models trained *without* it (OUT).  Its statistic is the logit-scaled
confidence (Carlini et al., Sec. IV-B)

    phi(f(x)_y) = log(p_y / (1 - p_y)),

which is close to Gaussian across training runs; it is computed from the logits
``z`` as ``z_y - logsumexp_{k != y} z_k`` (exact, no ``p_y`` round-off, finite
for any logits).

From the attacker's reference models (:mod:`ccl_lib.attacks.reference`;
run them with :mod:`ccl_lib.attacks.strong`) LiRA
fits, per example, ``N(mu_in, s_in^2)`` to the IN observations and
``N(mu_out, s_out^2)`` to the OUT observations, then

* **online** (Carlini et al., Alg. 1): the log likelihood ratio
  ``log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)``;
* **offline** (Sec. VI-C): the one-sided test against the OUT Gaussian,
  ``Lambda = 1 - Pr[Z > phi]`` with ``Z ~ N(mu_out, s_out^2)``; the score
  returned is the standard score ``(phi - mu_out) / s_out``, a strictly
  increasing function of Lambda (``Lambda = Phi(score)``), so it ranks the
  examples identically (same ROC) without rounding Lambda to 1 in float64
  for very confident members.
* **fixed variance** (Sec. VI-B): one global ``s_in`` and ``s_out`` for all
  examples -- the pooled within-example standard deviations -- which is more
  stable than per-example variances with few reference models (K < 64).
  (Carlini et al.'s code uses the overall spread of the IN observations; the
  pooled residual spread used here does not mix in the spread of the means.)

Means and standard deviations are maximum-likelihood estimates (``ddof=0``, as
``np.std`` in the authors' code).  An example with fewer than two IN (or OUT)
observations uses the pooled standard deviation of its group.  Higher score =
member, as everywhere in :mod:`ccl_lib.metrics`.

Several queries per example (e.g. an image and its mirror) are supported with a
trailing axis: statistics ``(..., n, A)``; the per-query scores are averaged
(as Carlini et al. average the per-augmentation log ratio).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch

from .base import AttackResult, as_numpy, check_candidates, check_target_logits, logits_and_labels
from .threshold import pseudo_target_threshold

__all__ = [
    "GaussianFit",
    "fit_gaussians",
    "lira_attack",
    "lira_offline_score",
    "lira_online_score",
    "lira_scores",
    "logit_confidence",
]

ArrayLike = Union[np.ndarray, torch.Tensor]
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def logit_confidence(logits: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """LiRA's statistic phi = log(p_y / (1 - p_y)) from logits, computed stably (Carlini et al., Sec. IV-B).

    Args:
        logits: ``(..., n, C)`` logits (any leading axes, e.g. ``(K, n, C)``
            for K models), ``C >= 2``.
        labels: ``(n,)`` integer classes in ``[0, C)``.

    Returns:
        ``(..., n)`` float64: ``z_y - logsumexp_{k != y} z_k``, which equals
        ``log p_y - log(1 - p_y)`` but stays exact when ``p_y`` rounds to 1.
    """
    z, y = logits_and_labels(logits, labels)
    idx = y.view(*([1] * (z.dim() - 2)), -1, 1).expand(*z.shape[:-1], 1)
    zy = z.gather(-1, idx).squeeze(-1)
    others = z.scatter(-1, idx, float("-inf"))
    return (zy - torch.logsumexp(others, dim=-1)).numpy()


@dataclass(frozen=True)
class GaussianFit:
    """Per-example Gaussians of the reference statistic (arrays of shape ``(n,)`` or ``(n, A)``).

    ``n_in``/``n_out`` count the IN/OUT observations of each example; the
    ``*_std`` of an example with fewer than 2 observations (or every example,
    with ``fixed_variance``) is the pooled within-example standard deviation.

    Attributes:
        mean_in: mean of the statistic over the IN models (NaN without IN observations).
        std_in: standard deviation over the IN models (floored at ``min_std``).
        mean_out: mean over the OUT models (NaN without OUT observations).
        std_out: standard deviation over the OUT models (floored at ``min_std``).
        n_in: number of IN observations per example.
        n_out: number of OUT observations per example.
        fixed_variance: whether one global std per group was used (Carlini et al., Sec. VI-B).
    """

    mean_in: np.ndarray
    std_in: np.ndarray
    mean_out: np.ndarray
    std_out: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    fixed_variance: bool


def _group_stats(
    phi: np.ndarray, mask: np.ndarray, fixed: bool, min_std: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over the models where ``mask`` (K, n) is True, per example (and query)."""
    m = mask.reshape(mask.shape + (1,) * (phi.ndim - 2)).astype(np.float64)
    cnt = mask.sum(axis=0)
    cnt_b = cnt.reshape(cnt.shape + (1,) * (phi.ndim - 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (phi * m).sum(axis=0) / cnt_b
        resid2 = ((phi - mean) ** 2 * m).sum(axis=0)  # sum of squared residuals per example
        var = resid2 / cnt_b
    # pooled within-example std: all squared residuals over all observations (and queries)
    n_obs = int(cnt.sum()) * int(np.prod(phi.shape[2:], dtype=np.int64))
    pooled = math.sqrt(float(np.nansum(resid2)) / n_obs) if n_obs else math.nan
    if fixed:
        std = np.full(mean.shape, pooled)
    else:
        std = np.sqrt(var)
        std = np.where(cnt_b >= 2, std, pooled)
    return mean, np.maximum(std, min_std), cnt


def fit_gaussians(
    ref_stat: ArrayLike,
    ref_in: ArrayLike,
    *,
    fixed_variance: bool = False,
    min_std: float = 1e-4,
) -> GaussianFit:
    """Fit the IN and OUT Gaussians of LiRA per example (Carlini et al., 2022, Alg. 1 lines 9-12).

    Args:
        ref_stat: ``(K, n)`` or ``(K, n, A)`` statistic of K reference models
            (:func:`logit_confidence`), with A queries per example.
        ref_in: ``(K, n)`` bool membership matrix (True = model k trained on example i).
        fixed_variance: one global std per group instead of per-example stds.
        min_std: floor on every standard deviation (keeps the density finite
            when all models agree exactly).

    Examples with no OUT (or no IN) observation get NaN means; the scoring
    functions refuse them with an explanation.
    """
    phi = as_numpy(ref_stat)
    mask = np.asarray(ref_in.detach().cpu().numpy() if isinstance(ref_in, torch.Tensor) else ref_in)
    if phi.ndim not in (2, 3):
        raise ValueError(f"ref_stat must be (K, n) or (K, n, A), got shape {phi.shape}")
    if mask.shape != phi.shape[:2]:
        raise ValueError(f"ref_in must be (K, n) = {phi.shape[:2]} to match ref_stat, got {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("ref_in must be boolean (True = the model trained on the example)")
        mask = mask.astype(bool)
    if not np.isfinite(phi).all():
        raise ValueError("ref_stat contains NaN or infinite values")
    if not (min_std > 0 and math.isfinite(min_std)):
        raise ValueError(f"min_std must be a finite number > 0, got {min_std!r}")
    mi, si, ni = _group_stats(phi, mask, fixed_variance, min_std)
    mo, so, no = _group_stats(phi, ~mask, fixed_variance, min_std)
    return GaussianFit(mi, si, mo, so, ni, no, bool(fixed_variance))


def _log_normal_pdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - _LOG_SQRT_2PI


def _target_stat(target_stat: ArrayLike, fit: GaussianFit) -> np.ndarray:
    t = as_numpy(target_stat)
    if t.shape != fit.mean_out.shape:
        raise ValueError(
            f"target_stat must have the shape of one reference model's statistic {fit.mean_out.shape}, got {t.shape}"
        )
    if not np.isfinite(t).all():
        raise ValueError("target_stat contains NaN or infinite values")
    return t


def _reduce_queries(s: np.ndarray) -> np.ndarray:
    return s.mean(axis=1) if s.ndim == 2 else s


def lira_online_score(target_stat: ArrayLike, fit: GaussianFit) -> np.ndarray:
    """Online LiRA: ``log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)`` per example (higher = member).

    Args:
        target_stat: the target's statistic ``phi`` (:func:`logit_confidence`), shape ``(n,)``
            or ``(n, A)`` matching ``fit``; per-query scores are averaged.
        fit: the reference Gaussians (:func:`fit_gaussians`); every example needs IN and OUT models.
    """
    t = _target_stat(target_stat, fit)
    missing = (fit.n_in == 0) | (fit.n_out == 0)
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} example(s) have no IN or no OUT reference model; online LiRA needs both. "
            "Use sample_membership (every example is IN for round(pkeep*K) models) or the offline attack."
        )
    lr = _log_normal_pdf(t, fit.mean_in, fit.std_in) - _log_normal_pdf(t, fit.mean_out, fit.std_out)
    return _reduce_queries(lr)


def lira_offline_score(target_stat: ArrayLike, fit: GaussianFit) -> np.ndarray:
    """Offline LiRA: the standard score ``(phi - mu_out) / s_out``; ``Phi(score) = 1 - Pr[Z > phi]`` (higher = member).

    Args:
        target_stat: the target's statistic ``phi``, shape ``(n,)`` or ``(n, A)`` matching ``fit``.
        fit: the reference Gaussians (:func:`fit_gaussians`); only the OUT ones are used, every
            example needs at least one OUT model.
    """
    t = _target_stat(target_stat, fit)
    if (fit.n_out == 0).any():
        raise ValueError(
            f"{int((fit.n_out == 0).sum())} example(s) have no OUT reference model; offline LiRA needs at least one"
        )
    return _reduce_queries((t - fit.mean_out) / fit.std_out)


def lira_scores(
    target_stat: ArrayLike,
    ref_stat: ArrayLike,
    ref_in: ArrayLike,
    *,
    online: bool = True,
    fixed_variance: bool = False,
    min_std: float = 1e-4,
) -> np.ndarray:
    """LiRA membership scores of the target's statistic ``(n,)`` (or ``(n, A)``) given K reference models.

    See the module docstring; ``online=False`` uses only the OUT models.

    Args:
        target_stat: the target's ``phi`` (:func:`logit_confidence`), ``(n,)`` or ``(n, A)``.
        ref_stat: ``(K, n)`` or ``(K, n, A)`` statistic of the K reference models.
        ref_in: ``(K, n)`` bool membership matrix (True = model k trained on example i).
        online: the likelihood ratio of IN and OUT Gaussians (Carlini et al., Alg. 1; default)
            or, if ``False``, the offline one-sided test against the OUT Gaussian (Sec. VI-C).
        fixed_variance: one global std per group instead of per-example stds (Sec. VI-B).
        min_std: floor on every standard deviation (> 0).
    """
    fit = fit_gaussians(ref_stat, ref_in, fixed_variance=fixed_variance, min_std=min_std)
    return lira_online_score(target_stat, fit) if online else lira_offline_score(target_stat, fit)


def lira_attack(
    refs: Any,
    target_logits: ArrayLike,
    candidates: ArrayLike,
    is_member: ArrayLike,
    *,
    online: bool = True,
    fixed_variance: bool = False,
    min_std: float = 1e-4,
    name: Optional[str] = None,
    n_pseudo: int = 4,
) -> AttackResult:
    """Run LiRA on a target model and return an :class:`AttackResult` (scores of members / non-members).

    Args:
        refs: the attacker's reference models (:func:`~ccl_lib.attacks.reference.train_reference_models`).
        target_logits: ``(n_pool, C)`` the target's logits on the pool.
        candidates: pool positions of the tested examples.
        is_member: ground-truth membership of the candidates (to split the scores only).
        online, fixed_variance, min_std: see :func:`lira_scores`.
        name: result name (default ``"lira_online"``/``"lira_offline"``).
        n_pseudo: reference models used as pseudo-targets to learn the
            decision threshold (0: no decisions).

    LiRA is a score: its AUC and TPR at fixed FPR need no threshold.  Its
    ``advantage`` (the headline of :meth:`AttackResult.summary`) comes from a
    threshold chosen **without the target's labels**: each of the first
    ``n_pseudo`` reference models is attacked with the others (the attacker
    knows its membership), its best balanced-accuracy threshold is taken, and
    the median of these thresholds is applied to the target
    (:func:`~ccl_lib.attacks.threshold.pseudo_target_threshold`).
    ``advantage_oracle`` is the threshold chosen on the target (upper bound).
    """
    c, m = check_candidates(refs.n_pool, candidates, is_member)
    t = check_target_logits(target_logits, refs)
    phi_ref = logit_confidence(refs.logits[:, c], refs.labels[c])
    phi_t = logit_confidence(t[c], refs.labels[c])
    mask = refs.membership[:, c]
    scores = lira_scores(phi_t, phi_ref, mask, online=online, fixed_variance=fixed_variance, min_std=min_std)
    if not isinstance(n_pseudo, (int, np.integer)) or n_pseudo < 0:
        raise ValueError(f"n_pseudo must be a non-negative integer, got {n_pseudo!r}")
    pseudo = []
    for j in range(min(int(n_pseudo), refs.k) if refs.k >= 3 else 0):
        keep = np.arange(refs.k) != j
        sub = mask[keep]
        ok = (sub.any(0) if online else True) & (~sub).any(0)  # examples the remaining models can score
        if not np.any(ok):
            continue
        s_j = lira_scores(phi_ref[j][ok], phi_ref[keep][:, ok], sub[:, ok], online=online,
                          fixed_variance=fixed_variance, min_std=min_std)  # fmt: skip
        pseudo.append((s_j, mask[j, ok]))
    decisions = None
    if pseudo:
        tau = pseudo_target_threshold(pseudo)
        decisions = scores >= tau
    name = name or ("lira_online" if online else "lira_offline")
    info = {
        "attack": "LiRA (Carlini et al., 2022)",
        "mode": "online" if online else "offline",
        "fixed_variance": bool(fixed_variance),
        "statistic": "logit-scaled confidence log(p_y / (1 - p_y))",
        "k": refs.k,
        "reference": refs.info.get("defense"),
        "decision": (
            f"score >= median best threshold of {len(pseudo)} pseudo-target reference models (no target labels)"
            if decisions is not None
            else "none (score only: advantage is NaN)"
        ),
    }
    if decisions is None:
        return AttackResult(name=name, scores_in=scores[m], scores_out=scores[~m], info=info)
    return AttackResult(name, scores[m], scores[~m], decisions[m], decisions[~m], info)
