"""Metric-based attacks (Sec. 5.1): correctness, loss, confidence, entropy, modified entropy.

Each attack computes one number per query from the target's output and label,
oriented so that *higher = member*, and compares it with a threshold learned on
the shadow model:

=====================  =========================================  ==============================
attack                 membership score                           reference
=====================  =========================================  ==============================
``correctness``        1 if ``argmax p == y`` else 0              Yeom et al. (2018)
``loss``               ``-CE = log p_y``                          Yeom et al. (2018), Eq. 14
``confidence``         ``max_k p_k`` (maximum probability)        Salem et al. (2019)
``confidence_true``    ``p_y`` (true-class probability)           Song & Mittal (2021)
``entropy``            ``-H(p) = sum_k p_k log p_k``              Salem et al. (2019)
``modified_entropy``   ``-Mentr``, ``Mentr = -(1-p_y) log p_y``   Song & Mittal (2021), Eq. 4
                       ``- sum_{k != y} p_k log(1 - p_k)``
=====================  =========================================  ==============================

``confidence`` uses the **maximum probability** by default (Salem et al.,
2019; the paper's attack, as in the authors' ``metric_based_attack.py``).
The true-class probability ``p_y`` (Song & Mittal, 2021) is available as the
attack ``confidence_true`` (or ``confidence="true"``) but is not in the
default suite: with class-dependent thresholds its decisions are exactly the
loss attack's (``log p_y`` is increasing in ``p_y``).

Thresholds are class-dependent (Song & Mittal, 2021): for each class, the
threshold maximizing balanced accuracy on the shadow model's members and
non-members of that class (:func:`ccl_lib.attacks.threshold.class_thresholds`).
The correctness attack has no threshold to learn: it flags every correctly
classified example (Yeom et al., 2018).  The score an attack reports is the
metric minus its class threshold, so that the attacker's decisions are
``score >= 0`` and one ROC curve covers the class-dependent rule.

:func:`gaussian_loss_advantage` gives the closed form of Theorem 6.1 (Eq. 17
and Eq. 18) for Gaussian losses.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from .base import AttackContext, AttackResult, register_attack
from .threshold import apply_thresholds, best_threshold, class_thresholds, release_class_thresholds

__all__ = [
    "CONFIDENCES",
    "METRICS",
    "RELEASE_METRICS",
    "gaussian_loss_advantage",
    "metric_attack",
    "metric_scores",
    "release_metric_attack",
    "release_metric_scores",
]

#: Metrics of :func:`metric_scores`.
METRICS = ("correctness", "loss", "confidence", "entropy", "modified_entropy")
#: Which probability the confidence metric uses: the true class's, or the maximum.
CONFIDENCES = ("true", "max")

Tensor = torch.Tensor


def _log_probs(z: Tensor) -> tuple[Tensor, Tensor]:
    """``(log p, log(1 - p))`` of ``softmax(z)``, accurate also where ``p -> 1``.

    ``log_softmax`` loses the relative precision of ``log p_k`` when ``p_k`` is
    near 1 (``z_k - logsumexp(z)`` cancels), and ``log1p(-p_k)`` loses
    ``log(1 - p_k)``; only the top class can have ``p_k > 1/2``, so its two
    entries are recomputed from the other logits ``o_j = z_j - z_k <= 0``:
    ``log p_k = -log1p(sum_j e^{o_j})`` and
    ``log(1 - p_k) = logsumexp(o) - log1p(sum_j e^{o_j})``.
    """
    logp = torch.log_softmax(z, dim=1)
    log1m = torch.log1p(-logp.exp())  # accurate where p_k <= 1/2
    k = z.argmax(1, keepdim=True)
    others = (z - z.gather(1, k)).scatter(1, k, -math.inf)
    denom = torch.log1p(others.exp().sum(1, keepdim=True))
    logp = logp.scatter(1, k, -denom)
    log1m = log1m.scatter(1, k, torch.logsumexp(others, 1, keepdim=True) - denom)
    return logp, log1m


def _check_logits(logits: Any, y: Any) -> tuple[Tensor, Tensor]:
    z = torch.as_tensor(logits)
    t = torch.as_tensor(y)
    if z.dim() != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be (n, K) with K >= 2 classes, got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        raise ValueError(f"logits must be floating point, got {z.dtype}")
    if t.dim() != 1 or len(t) != len(z):
        raise ValueError(f"y must be 1-d with one label per row of logits ({len(z)}), got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.dtype == torch.bool:
        raise ValueError(f"y must hold integer class labels, got {t.dtype}")
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= z.shape[1]):
        raise ValueError(f"labels must lie in 0..{z.shape[1] - 1}, got {int(t.min())}..{int(t.max())}")
    if not torch.isfinite(z).all():
        raise ValueError("logits contain NaN or inf (a diverged model?); membership scores need finite outputs")
    return z.detach().cpu().double(), t.detach().cpu().long()


def metric_scores(logits: Any, y: Any, metric: str, *, confidence: str = "max") -> np.ndarray:
    """Membership score of each query from the model's logits (higher = member).

    Args:
        logits: (n, K) outputs of the queried model.
        y: (n,) true labels.
        metric: one of :data:`METRICS` (see the module's table).
        confidence: for ``metric="confidence"``: ``"max"`` = maximum
            probability (Salem et al., 2019; the default), ``"true"`` =
            true-class probability ``p_y`` (Song & Mittal, 2021).

    Returns:
        (n,) float64 scores, computed in float64 with ``log p`` and ``log(1 - p)``
        accurate also for confident predictions (``p -> 1``).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
    if confidence not in CONFIDENCES:
        raise ValueError(
            f"confidence must be one of {CONFIDENCES} (true-class or maximum probability), got {confidence!r}"
        )
    z, t = _check_logits(logits, y)
    logp, log1m = _log_probs(z)
    logp_y = logp.gather(1, t[:, None])[:, 0]
    if metric == "correctness":
        out = (z.argmax(1) == t).double()
    elif metric == "loss":
        out = logp_y  # = -cross-entropy
    elif metric == "confidence":
        out = logp_y.exp() if confidence == "true" else logp.max(1).values.exp()
    elif metric == "entropy":
        out = (logp.exp() * logp).sum(1)  # = -H(p)
    else:  # modified entropy, Song & Mittal (2021), Eq. 4
        p = logp.exp()
        one_minus_py = -torch.expm1(logp_y)
        terms = p * log1m  # p_k log(1 - p_k)
        not_y = torch.ones_like(p, dtype=torch.bool).scatter_(1, t[:, None], False)
        mentr = -one_minus_py * logp_y - (terms * not_y).sum(1)
        out = -mentr
    return out.numpy().astype(np.float64)


#: Metrics of the release's attack form (``<metric>_release`` attacks); correctness has no threshold.
RELEASE_METRICS = ("loss", "confidence", "entropy", "modified_entropy")


def release_metric_scores(logits: Any, y: Any, metric: str) -> np.ndarray:
    """Membership scores as the CCL release computes them: float32 probabilities, clipped logarithms.

    ``ml-stat-Sustech/ConvexConcaveLoss``, ``source/attacks/membership_inference/metric_based_attack.py``
    (``parse_data_metric_based_attacks``, ``_entr_comp``, ``_m_entr_comp``) and ``source/utils.py``
    (``cross_entropy``): on the float32 softmax ``p``,

    * ``loss``: ``log(clip(p_y, 1e-12, 1 - 1e-12))`` (minus the release's cross-entropy);
    * ``confidence``: ``max_k p_k``;
    * ``entropy``: ``-sum_k p_k (-log max(p_k, 1e-30))``;
    * ``modified_entropy``: minus Song & Mittal's Mentr with ``log max(., 1e-30)``.

    Returns (n,) float32 scores (higher = member).

    Args:
        logits: (n, K) outputs of the queried model.
        y: (n,) true labels.
        metric: one of :data:`RELEASE_METRICS`.
    """
    if metric not in RELEASE_METRICS:
        raise ValueError(f"unknown release metric {metric!r}; use one of {RELEASE_METRICS}")
    z, t = _check_logits(logits, y)
    p = torch.softmax(z.float(), dim=1).numpy()  # float32, as the release's model outputs
    lab = t.numpy()
    rows = np.arange(len(lab))
    f32 = np.float32
    if metric == "loss":
        clipped = np.clip(p, f32(1e-12), f32(1.0 - 1e-12))
        return np.log(clipped[rows, lab]).astype(f32)
    if metric == "confidence":
        return p.max(axis=1)

    def neg_log(q: np.ndarray) -> np.ndarray:
        return -np.log(np.maximum(q, f32(1e-30)))

    if metric == "entropy":
        return -np.sum(p * neg_log(p), axis=1)
    log_p, rev = neg_log(p), f32(1.0) - p
    log_rev = neg_log(rev)
    mod_p = p.copy()
    mod_p[rows, lab] = rev[rows, lab]
    mod_log = log_rev.copy()
    mod_log[rows, lab] = log_p[rows, lab]
    return -np.sum(mod_p * mod_log, axis=1)


def release_metric_attack(ctx: AttackContext, metric: str) -> AttackResult:
    """A metric attack as the CCL release runs it (``<metric>_release`` in the suite).

    Scores of :func:`release_metric_scores` (float32); class thresholds of
    :func:`~ccl_lib.attacks.threshold.release_class_thresholds` (first best candidate, 0 for an
    unseen class); decision ``score >= threshold[y]``.  The result's scores are
    ``score - threshold[y]`` in float64 (exact in sign), as in :func:`metric_attack`.

    Args:
        ctx: the attacker's view.
        metric: one of :data:`RELEASE_METRICS`.
    """
    s = {(r, q): release_metric_scores(ctx.logits(r, q), ctx.labels(r, q), metric)
         for r in ("shadow", "target") for q in ("in", "out")}  # fmt: skip
    y_t_in, y_t_out = ctx.labels("target", "in").numpy(), ctx.labels("target", "out").numpy()
    k = max(ctx.num_classes, int(max(y_t_in.max(), y_t_out.max())) + 1)
    thr = release_class_thresholds(
        s["shadow", "in"], s["shadow", "out"], ctx.labels("shadow", "in").numpy(),
        ctx.labels("shadow", "out").numpy(), num_classes=k,
    )  # fmt: skip
    dec_in, dec_out = s["target", "in"] >= thr[y_t_in], s["target", "out"] >= thr[y_t_out]
    info = {
        "metric": metric,
        "family": "metric",
        "variant": "release",
        "follows": "ml-stat-Sustech/ConvexConcaveLoss source/attacks/membership_inference/metric_based_attack.py",
        "thresholds": "class-dependent, first best candidate (release tie-break), float32 scores",
    }
    sc_in = s["target", "in"].astype(np.float64) - thr[y_t_in]
    sc_out = s["target", "out"].astype(np.float64) - thr[y_t_out]
    return AttackResult(f"{metric}_release", sc_in, sc_out, dec_in, dec_out, info)


def _register_release(metric: str) -> None:
    def attack(ctx: AttackContext) -> AttackResult:
        return release_metric_attack(ctx, metric)

    attack.__doc__ = f"The {metric} attack as the CCL release runs it (see :func:`release_metric_attack`)."
    register_attack(f"{metric}_release", attack)


for _metric in RELEASE_METRICS:
    _register_release(_metric)


def metric_attack(
    ctx: AttackContext,
    metric: str,
    *,
    confidence: str = "max",
    class_dependent: bool = True,
    name: Optional[str] = None,
) -> AttackResult:
    """Run one metric-based attack: thresholds learned on the shadow model, scored on the target.

    Args:
        ctx: the attacker's view (:class:`ccl_lib.attacks.base.AttackContext`).
        metric: one of :data:`METRICS`.
        confidence: ``"max"`` (default) or ``"true"`` (for ``metric="confidence"``).
        class_dependent: one threshold per class (Song & Mittal, 2021; the
            default) or a single threshold for all classes.
        name: the result's name (default: the metric's).

    Returns:
        an :class:`AttackResult` whose decisions are ``metric >= threshold[y]``
        with the shadow-learned thresholds (its ``advantage``, the headline),
        and whose scores are ``metric - threshold[y]`` (so decisions are
        ``score >= 0``; the ``advantage_oracle`` of these scores adds one
        global shift chosen on the target); for ``correctness`` the score is
        the 0/1 correctness and the decision is "correct = member".
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")
    if not isinstance(class_dependent, bool):
        raise TypeError(f"class_dependent must be True or False, got {class_dependent!r}")
    k = ctx.num_classes
    s = {
        (r, p): metric_scores(ctx.logits(r, p), ctx.labels(r, p), metric, confidence=confidence)
        for r in ("shadow", "target")
        for p in ("in", "out")
    }
    info: dict[str, Any] = {"metric": metric, "family": "metric"}
    if metric == "confidence":
        info["confidence"] = "true-class probability p_y" if confidence == "true" else "maximum probability max_k p_k"
    if metric == "correctness":
        info["rule"] = "member iff correctly classified (Yeom et al., 2018); nothing learned"
        sc_in, sc_out = s["target", "in"], s["target", "out"]
        return AttackResult(name or metric, sc_in, sc_out, sc_in >= 1.0, sc_out >= 1.0, info)
    y_t_in, y_t_out = ctx.labels("target", "in").numpy(), ctx.labels("target", "out").numpy()
    if class_dependent:
        thr = class_thresholds(
            s["shadow", "in"], s["shadow", "out"],
            ctx.labels("shadow", "in").numpy(), ctx.labels("shadow", "out").numpy(),
            num_classes=max(k, int(max(y_t_in.max(), y_t_out.max())) + 1),
        )  # fmt: skip
        info["thresholds"] = "class-dependent, max balanced accuracy on the shadow model (Song & Mittal, 2021)"
    else:
        glob = best_threshold(
            np.r_[s["shadow", "in"], s["shadow", "out"]],
            np.r_[np.ones(len(s["shadow", "in"])), np.zeros(len(s["shadow", "out"]))],
        ).threshold
        thr = np.full(max(k, int(max(y_t_in.max(), y_t_out.max())) + 1), glob)
        info["thresholds"] = "one threshold, max balanced accuracy on the shadow model"
    info["score"] = "metric minus the shadow-learned threshold of the example's class"
    dec_in = apply_thresholds(s["target", "in"], y_t_in, thr)
    dec_out = apply_thresholds(s["target", "out"], y_t_out, thr)
    sc_in = s["target", "in"] - thr[y_t_in]
    sc_out = s["target", "out"] - thr[y_t_out]
    # IEEE subtraction is exact in sign (s - t >= 0 iff s >= t), so decisions are exactly score >= 0.
    return AttackResult(name or metric, sc_in, sc_out, dec_in, dec_out, info)


@register_attack("correctness")
def correctness_attack(ctx: AttackContext) -> AttackResult:
    """Correctness attack (Yeom et al., 2018): a correctly classified query is a member."""
    return metric_attack(ctx, "correctness")


@register_attack("loss")
def loss_attack(ctx: AttackContext, *, class_dependent: bool = True) -> AttackResult:
    """Loss attack (Yeom et al., 2018; Eq. 14): member iff the cross-entropy is below a learned threshold."""
    return metric_attack(ctx, "loss", class_dependent=class_dependent)


@register_attack("confidence")
def confidence_attack(ctx: AttackContext, *, confidence: str = "max", class_dependent: bool = True) -> AttackResult:
    """Confidence attack (Salem et al., 2019; the paper's): member iff the maximum probability is high.

    ``confidence="true"`` thresholds the true-class probability instead (see ``confidence_true``).
    """
    return metric_attack(ctx, "confidence", confidence=confidence, class_dependent=class_dependent)


@register_attack("confidence_true")
def confidence_true_attack(ctx: AttackContext, *, class_dependent: bool = True) -> AttackResult:
    """Confidence attack on the true-class probability ``p_y`` (Song & Mittal, 2021); not in the default suite.

    With class-dependent thresholds its decisions equal the loss attack's (``log p_y`` is monotone in ``p_y``).
    """
    return metric_attack(ctx, "confidence", confidence="true", class_dependent=class_dependent, name="confidence_true")


@register_attack("entropy")
def entropy_attack(ctx: AttackContext, *, class_dependent: bool = True) -> AttackResult:
    """Entropy attack (Salem et al., 2019): member iff the prediction entropy is low."""
    return metric_attack(ctx, "entropy", class_dependent=class_dependent)


@register_attack("modified_entropy")
def modified_entropy_attack(ctx: AttackContext, *, class_dependent: bool = True) -> AttackResult:
    """Modified-entropy attack (Song & Mittal, 2021, Eq. 4): member iff Mentr is low."""
    return metric_attack(ctx, "modified_entropy", class_dependent=class_dependent)


def gaussian_loss_advantage(
    mu_in: float,
    sigma_in: float,
    mu_out: float,
    sigma_out: float,
    *,
    fpr: Optional[float] = None,
    threshold: Optional[float] = None,
) -> float:
    """Advantage of the loss attack (Eq. 14) for Gaussian losses, Theorem 6.1.

    Members' losses follow ``N(mu_in, sigma_in^2)`` and non-members'
    ``N(mu_out, sigma_out^2)``; the attack flags ``loss <= tau``.

    * with ``threshold=tau``: Eq. 17, ``Phi((tau - mu_in)/sigma_in) - Phi((tau - mu_out)/sigma_out)``;
    * with ``fpr=alpha``: Eq. 18, ``Phi((Phi^-1(alpha) sigma_out + mu_out - mu_in)/sigma_in) - alpha``.

    Exactly one of ``fpr`` and ``threshold`` must be given.  The formulas live
    in :mod:`ccl_lib.theory` (:func:`~ccl_lib.theory.gaussian_advantage_at_threshold`,
    :func:`~ccl_lib.theory.gaussian_advantage`); this is the attack-side entry point.

    Args:
        mu_in: mean loss of members (finite).
        sigma_in: standard deviation of members' losses (> 0).
        mu_out: mean loss of non-members (finite).
        sigma_out: standard deviation of non-members' losses (> 0).
        fpr: the false positive rate ``alpha`` in (0, 1) the attacker fixes (Eq. 18).
        threshold: the loss threshold ``tau`` (Eq. 17).
    """
    for nm, v in (("sigma_in", sigma_in), ("sigma_out", sigma_out)):
        if not (float(v) > 0 and math.isfinite(float(v))):
            raise ValueError(f"{nm} must be a positive standard deviation, got {v!r}")
    for nm, v in (("mu_in", mu_in), ("mu_out", mu_out)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{nm} must be a finite number, got {v!r}")
    if (fpr is None) == (threshold is None):
        raise ValueError("give exactly one of fpr (Eq. 18) and threshold (Eq. 17)")
    from ..theory import gaussian_advantage, gaussian_advantage_at_threshold

    if threshold is not None:
        return float(gaussian_advantage_at_threshold(float(threshold), mu_in, sigma_in, mu_out, sigma_out))
    a = float(fpr)  # type: ignore[arg-type]
    if not 0.0 < a < 1.0:
        raise ValueError(f"fpr must be in (0, 1), got {fpr!r}")
    return float(gaussian_advantage(mu_in, sigma_in, mu_out, sigma_out, a))
