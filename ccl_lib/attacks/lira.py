"""The Likelihood Ratio Attack, LiRA (Carlini et al., 2022, "Membership inference attacks from first principles").

LiRA tests, for each example ``(x, y)``, whether the target model's output
looks more like the output of models trained *with* the example (IN) than of
models trained *without* it (OUT).  Its statistic is the logit-scaled
confidence (Carlini et al., Sec. IV-B)

    phi(f(x)_y) = log(p_y / (1 - p_y)),

which is close to Gaussian across training runs; it is computed from the logits
``z`` as ``z_y - logsumexp_{k != y} z_k`` (exact, no ``p_y`` round-off, finite
for any logits).

From the attacker's reference models (:mod:`ccl_lib.attacks.reference`) LiRA
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
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
import torch

from .base import AttackResult, as_numpy, logits_and_labels, register_attack

if TYPE_CHECKING:  # pragma: no cover
    from .reference import ReferenceModels

__all__ = [
    "GaussianFit",
    "fit_gaussians",
    "lira_attack",
    "lira_context_attack",
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
    """

    mean_in: np.ndarray
    std_in: np.ndarray
    mean_out: np.ndarray
    std_out: np.ndarray
    n_in: np.ndarray
    n_out: np.ndarray
    fixed_variance: bool


def _group_stats(phi: np.ndarray, mask: np.ndarray, fixed: bool, min_std: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    """Online LiRA: ``log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)`` per example (higher = member)."""
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
    """Offline LiRA: the standard score ``(phi - mu_out) / s_out``; ``Phi(score) = 1 - Pr[Z > phi]`` (higher = member)."""
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
    """
    fit = fit_gaussians(ref_stat, ref_in, fixed_variance=fixed_variance, min_std=min_std)
    return lira_online_score(target_stat, fit) if online else lira_offline_score(target_stat, fit)


def _check_candidates(n_pool: int, candidates: Any, is_member: Any) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(candidates)
    if c.ndim != 1 or len(c) == 0 or not np.issubdtype(c.dtype, np.integer):
        raise ValueError("candidates must be a non-empty 1-d array of integer pool positions")
    if c.min() < 0 or c.max() >= n_pool:
        raise ValueError(f"candidates must index the pool [0, {n_pool}), got [{c.min()}, {c.max()}]")
    m = np.asarray(is_member)
    if m.shape != c.shape:
        raise ValueError(f"is_member must have one entry per candidate ({len(c)}), got shape {m.shape}")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError("is_member must be boolean (True = member of the target's training set)")
        m = m.astype(bool)
    if m.all() or not m.any():
        raise ValueError("the candidates need at least one member and one non-member to score an attack")
    return c, m


def _check_target_logits(target_logits: ArrayLike, refs: "ReferenceModels") -> np.ndarray:
    t = as_numpy(target_logits, np.float32)
    if t.shape != refs.logits.shape[1:]:
        raise ValueError(
            f"target_logits must be the target's logits on the whole pool, shape {refs.logits.shape[1:]}, got {t.shape}"
        )
    return t


def lira_attack(
    refs: "ReferenceModels",
    target_logits: ArrayLike,
    candidates: ArrayLike,
    is_member: ArrayLike,
    *,
    online: bool = True,
    fixed_variance: bool = False,
    min_std: float = 1e-4,
    name: Optional[str] = None,
) -> AttackResult:
    """Run LiRA on a target model and return an :class:`AttackResult` (scores of members / non-members).

    Args:
        refs: the attacker's reference models (:func:`~ccl_lib.attacks.reference.train_reference_models`).
        target_logits: ``(n_pool, C)`` the target's logits on the pool.
        candidates: pool positions of the tested examples.
        is_member: ground-truth membership of the candidates (to split the scores only).
        online, fixed_variance, min_std: see :func:`lira_scores`.
        name: result name (default ``"lira_online"``/``"lira_offline"``).

    LiRA gives scores, not decisions: ``decision_in``/``decision_out`` are ``None``.
    """
    c, m = _check_candidates(refs.n_pool, candidates, is_member)
    t = _check_target_logits(target_logits, refs)
    phi_ref = logit_confidence(refs.logits[:, c], refs.labels[c])
    phi_t = logit_confidence(t[c], refs.labels[c])
    scores = lira_scores(phi_t, phi_ref, refs.membership[:, c], online=online, fixed_variance=fixed_variance, min_std=min_std)
    name = name or ("lira_online" if online else "lira_offline")
    info = {
        "attack": "LiRA (Carlini et al., 2022)",
        "mode": "online" if online else "offline",
        "fixed_variance": bool(fixed_variance),
        "statistic": "logit-scaled confidence log(p_y / (1 - p_y))",
        "k": refs.k,
        "reference": refs.info.get("defense"),
    }
    return AttackResult(name=name, scores_in=scores[m], scores_out=scores[~m], info=info)


def lira_context_attack(
    ctx: Any,
    *,
    online: bool = True,
    fixed_variance: bool = True,
    k: int = 8,
    defense: Any = None,
    config: Any = None,
    model_fn: Any = None,
    pkeep: Optional[float] = None,
    min_std: float = 1e-4,
) -> AttackResult:
    """LiRA as a suite attack (``run_attacks(..., attacks=["lira"])``): trains ``k`` reference models first.

    Options are those of :func:`ccl_lib.attacks.reference.context_references`
    (``defense``, ``config``, ``model_fn``, ``k``, ``pkeep``) plus ``online``,
    ``fixed_variance`` and ``min_std``; the reference models are shared with
    ``lira_offline`` and ``rmia`` run on the same context with the same options.
    """
    from .reference import context_references

    refs, t_logits, cand, is_member, _ = context_references(
        ctx, model_fn=model_fn, defense=defense, config=config, k=k, pkeep=pkeep
    )
    return lira_attack(
        refs, t_logits, cand, is_member, online=online, fixed_variance=fixed_variance, min_std=min_std,
        name="lira" if online else "lira_offline",
    )  # fmt: skip


@register_attack("lira")
def _lira_online_suite(ctx: Any, **options: Any) -> AttackResult:
    """Online LiRA (Carlini et al., 2022) with K reference models; see :func:`lira_context_attack`."""
    if "online" in options:
        raise ValueError("attack 'lira' is the online attack; use 'lira_offline' for the offline one")
    return lira_context_attack(ctx, online=True, **options)


@register_attack("lira_offline")
def _lira_offline_suite(ctx: Any, **options: Any) -> AttackResult:
    """Offline LiRA (Carlini et al., 2022, Sec. VI-C) with K reference models; see :func:`lira_context_attack`."""
    if "online" in options:
        raise ValueError("attack 'lira_offline' is the offline attack; use 'lira' for the online one")
    return lira_context_attack(ctx, online=False, **options)
