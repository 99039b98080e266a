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

**Reference estimator** (``estimator="reference"``; the default ``"paper"`` is the above):
as the authors' code fits it, ``tensorflow/privacy``, ``research/mi_lira_2021/plot.py``,
``generate_ours`` and ``generate_ours_offline``: each example keeps its *first* ``n_in``
IN and ``n_out`` OUT observations, where ``n_in`` / ``n_out`` are the smallest counts over
the examples (equal counts for every example); the centre is the per-example **median**;
with fixed variance one standard deviation of *all* kept IN observations serves IN and OUT
(online), of all OUT observations offline; ``1e-30`` is added to every standard
deviation.  Online scores are ``log N(in) - log N(out)``; the offline score is
``-log N(phi; mu_out, s_out^2)`` (two-sided, as the code ranks it), both averaged over
queries.

**Mirror queries** (``mirror=True``): the authors query each image and its horizontal mirror
(``research/mi_lira_2021/inference.py``, ``get_loss`` with ``reflect=True``), compute the
statistic per query (``research/mi_lira_2021/score.py``, ``load_one``) and average the per-query
log ratios (``plot.py``).  :func:`lira_attack` takes the target's mirror logits
(``target_mirror_logits``) and the reference models' (``refs.mirror_logits``, kept on image data
by :func:`~ccl_lib.attacks.reference.context_references`) and scores statistics ``(..., n, 2)``.
The suite attacks ``lira`` and ``lira_offline`` query once unless given ``mirror=True``;
``lira_reference`` (the authors' estimator) uses both queries on image data by default.
(The authors' ``inference.py`` also calls the model with ``training=True``; ccl_lib queries in
eval mode, as it queries every model.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import torch

from .base import (
    AttackResult,
    as_numpy,
    check_candidates,
    check_target_logits,
    logit_confidence,
    register_attack,
)
from .threshold import pseudo_target_threshold

__all__ = [
    "GaussianFit",
    "fit_gaussians",
    "LIRA_ESTIMATORS",
    "fit_gaussians_reference",
    "lira_attack",
    "lira_reference_attack",
    "lira_offline_score",
    "lira_online_score",
    "lira_scores",
    "logit_confidence",
]

ArrayLike = Union[np.ndarray, torch.Tensor]
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

#: LiRA's Gaussian estimators: name -> the text or code it follows.
LIRA_ESTIMATORS: dict[str, str] = {
    "paper": "Carlini et al. (2022), Alg. 1: means and stds of all observations per example",
    "reference": "tensorflow/privacy research/mi_lira_2021/plot.py generate_ours / generate_ours_offline",
}


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


def fit_gaussians_reference(ref_stat: ArrayLike, ref_in: ArrayLike, *, fixed_variance: bool = True,
                            online: bool = True) -> GaussianFit:  # fmt: skip
    """The reference code's Gaussians (``tensorflow/privacy`` ``research/mi_lira_2021/plot.py``, ``generate_ours``).

    Per example the first ``min_j n_in(j)`` IN and ``min_j n_out(j)`` OUT observations (model
    order), their per-example median as the centre; standard deviations per example and query,
    or with ``fixed_variance`` one ``np.std`` over all kept IN observations for both groups
    (``online``) or over all kept OUT observations (offline).  ``1e-30`` is added to every std.

    Args:
        ref_stat: ``(K, n)`` or ``(K, n, A)`` statistic of the reference models.
        ref_in: ``(K, n)`` bool membership matrix.
        fixed_variance: one global std (the code's ``fix_variance=True``).
        online: fit the IN Gaussians too (``generate_ours``) or only OUT (``generate_ours_offline``).
    """
    phi = as_numpy(ref_stat)
    if phi.ndim == 2:
        phi = phi[:, :, None]
    mask = np.asarray(ref_in.detach().cpu().numpy() if isinstance(ref_in, torch.Tensor) else ref_in).astype(bool)
    if phi.ndim != 3 or mask.shape != phi.shape[:2]:
        raise ValueError(f"need ref_stat (K, n[, A]) and ref_in (K, n), got {phi.shape} and {mask.shape}")
    n = phi.shape[1]
    n_in, n_out = mask.sum(0), (~mask).sum(0)
    k_in, k_out = int(n_in.min()) if n else 0, int(n_out.min()) if n else 0
    if k_out == 0 or (online and k_in == 0):
        raise ValueError("the reference estimator needs at least one OUT (and, online, one IN) model for every example")
    dat_out = np.stack([phi[~mask[:, j], j][:k_out] for j in range(n)])  # (n, k_out, A)
    mean_out = np.median(dat_out, axis=1)
    if online:
        dat_in = np.stack([phi[mask[:, j], j][:k_in] for j in range(n)])
        mean_in = np.median(dat_in, axis=1)
        if fixed_variance:
            std_in = np.full(mean_in.shape, np.std(dat_in))
            std_out = np.full(mean_out.shape, np.std(dat_in))
        else:
            std_in, std_out = np.std(dat_in, axis=1), np.std(dat_out, axis=1)
    else:
        mean_in = std_in = np.full(mean_out.shape, np.nan)
        std_out = np.full(mean_out.shape, np.std(dat_out)) if fixed_variance else np.std(dat_out, axis=1)
    return GaussianFit(mean_in, std_in + 1e-30, mean_out, std_out + 1e-30, np.full(n, k_in if online else 0),
                       np.full(n, k_out), bool(fixed_variance))  # fmt: skip


def _reference_scores(target_stat: ArrayLike, fit: GaussianFit, online: bool) -> np.ndarray:
    t = as_numpy(target_stat)
    if t.ndim == 1:
        t = t[:, None]
    if t.shape != fit.mean_out.shape:
        raise ValueError(f"target_stat must match the fit's shape {fit.mean_out.shape}, got {t.shape}")
    if online:
        return (_log_normal_pdf(t, fit.mean_in, fit.std_in) - _log_normal_pdf(t, fit.mean_out, fit.std_out)).mean(1)
    return -_log_normal_pdf(t, fit.mean_out, fit.std_out).mean(1)


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
    estimator: str = "paper",
) -> np.ndarray:
    """LiRA membership scores of the target's statistic ``(n,)`` (or ``(n, A)``) given K reference models.

    See the module docstring; ``online=False`` uses only the OUT models.  ``estimator="reference"``
    fits and scores as the authors' code (:func:`fit_gaussians_reference`; ``min_std`` unused).

    Args:
        target_stat: the target's ``phi`` (:func:`logit_confidence`), ``(n,)`` or ``(n, A)``.
        ref_stat: ``(K, n)`` or ``(K, n, A)`` statistic of the K reference models.
        ref_in: ``(K, n)`` bool membership matrix (True = model k trained on example i).
        online: the likelihood ratio of IN and OUT Gaussians (Carlini et al., Alg. 1; default)
            or, if ``False``, the offline one-sided test against the OUT Gaussian (Sec. VI-C).
        fixed_variance: one global std per group instead of per-example stds (Sec. VI-B).
        min_std: floor on every standard deviation (> 0).
        estimator: how the Gaussians are fitted, a key of :data:`LIRA_ESTIMATORS`: ``"paper"``
            (Carlini et al., Alg. 1: means and stds of all observations; the default) or
            ``"reference"`` (``tensorflow/privacy`` ``research/mi_lira_2021/plot.py``
            ``generate_ours``: per-example medians, equal IN/OUT counts).
    """
    if estimator not in LIRA_ESTIMATORS:
        raise ValueError(f"unknown LiRA estimator {estimator!r}; known variants: {list(LIRA_ESTIMATORS)}")
    if estimator == "reference":
        ref_fit = fit_gaussians_reference(ref_stat, ref_in, fixed_variance=fixed_variance, online=online)
        return _reference_scores(target_stat, ref_fit, online)
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
    estimator: str = "paper",
    target_mirror_logits: Optional[ArrayLike] = None,
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
        estimator: ``"paper"`` (default) or ``"reference"``, see :func:`lira_scores`.
        target_mirror_logits: ``(n_pool, C)`` the target's logits on the horizontal mirror of each
            pool image; with it, every statistic has two queries ``(..., n, 2)`` (image, mirror)
            and the per-query scores are averaged, as ``tensorflow/privacy``
            ``research/mi_lira_2021/plot.py`` ``generate_ours`` averages them.  Needs
            ``refs.mirror_logits``.  Default ``None``: one query.

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
    if target_mirror_logits is not None:
        if getattr(refs, "mirror_logits", None) is None:
            raise ValueError(
                "target_mirror_logits given, but the reference models kept no mirror queries "
                "(train_reference_models(..., mirror=True) keeps them)"
            )
        t_m = check_target_logits(target_mirror_logits, refs)
        phi_ref = np.stack([phi_ref, logit_confidence(refs.mirror_logits[:, c], refs.labels[c])], axis=-1)
        phi_t = np.stack([phi_t, logit_confidence(t_m[c], refs.labels[c])], axis=-1)
    mask = refs.membership[:, c]
    scores = lira_scores(phi_t, phi_ref, mask, online=online, fixed_variance=fixed_variance, min_std=min_std,
                         estimator=estimator)  # fmt: skip
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
                          fixed_variance=fixed_variance, min_std=min_std, estimator=estimator)  # fmt: skip
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
        "estimator": estimator,
        "statistic": "logit-scaled confidence log(p_y / (1 - p_y))",
        **({"queries": "image and horizontal mirror, per-query scores averaged"} if phi_t.ndim == 2 else {}),
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


def lira_reference_attack(ctx: Any, *, online: bool = True, fixed_variance: bool = True, n_pseudo: int = 4,
                          mirror: Optional[bool] = None, **ref_options: Any) -> AttackResult:  # fmt: skip
    """LiRA with the authors' reference estimator and queries, as a suite attack (``lira_reference``).

    The reference models are those of ``lira`` on the same context and options
    (:func:`~ccl_lib.attacks.reference.context_references`); the Gaussians are fitted as
    ``tensorflow/privacy`` ``research/mi_lira_2021/plot.py`` ``generate_ours`` does
    (:func:`fit_gaussians_reference`, fixed variance by default as in its figure).  On image data
    each example is queried as an image and as its horizontal mirror, as
    ``research/mi_lira_2021/inference.py`` ``get_loss`` (``reflect=True``) does, and the per-query
    log ratios are averaged (``generate_ours``); tabular data have one query.

    Args:
        ctx: the suite's context.
        online: online (IN and OUT) or offline (OUT only) test.
        fixed_variance: one global std (the code's ``fix_variance=True``).
        n_pseudo: pseudo-target reference models for the decision threshold.
        mirror: query the mirror too; default ``None`` = ``True`` on image data, ``False`` on
            tabular data (where ``True`` is refused).
        **ref_options: options of :func:`~ccl_lib.attacks.reference.context_references`.
    """
    import inspect

    from .reference import context_mirror_logits, context_references

    known = [o for o in inspect.signature(context_references).parameters if o != "ctx"]
    bad = sorted(set(ref_options) - set(known))
    if bad:
        raise TypeError(f"unknown lira_reference option(s) {bad}; reference options are {known}")
    use_mirror = _check_mirror(ctx, "lira_reference", ctx.kind == "image" if mirror is None else mirror)
    refs, t_logits, cand, is_member, _ = context_references(ctx, **ref_options)
    t_mirror = context_mirror_logits(ctx) if use_mirror else None
    return lira_attack(refs, t_logits, cand, is_member, online=online, fixed_variance=fixed_variance,
                       name="lira_reference", n_pseudo=n_pseudo, estimator="reference",
                       target_mirror_logits=t_mirror)  # fmt: skip


def _check_mirror(ctx: Any, attack: str, mirror: Any) -> bool:
    """``mirror`` as a bool, refused unless it is one, and refused (``True``) on tabular data."""
    if not isinstance(mirror, (bool, np.bool_)):
        raise ValueError(f"attack {attack!r}: mirror must be True or False, got {mirror!r}")
    if mirror and ctx.kind != "image":
        raise ValueError(
            f"attack {attack!r}: mirror=True queries the horizontal mirror of images; this run has "
            f"kind={ctx.kind!r} (tabular data have one query)"
        )
    return bool(mirror)


register_attack("lira_reference", lira_reference_attack)
