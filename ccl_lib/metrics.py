"""Privacy and utility metrics (Sec. 2, Eq. 2; Sec. 5.1, Eq. 13).

Membership scores follow one convention everywhere: a *higher* score means
"more likely a member".  Labels are 1 for members, 0 for non-members.

Two advantages (Eq. 2, TPR - FPR) are distinguished:

* the paper's advantage (footnote 2: "tau is determined by shadow models") is
  that of a *fixed* rule the attacker learned without the target's labels:
  :func:`decision_advantage` (hard decisions) or
  :func:`advantage_at_threshold` (a threshold);
* :func:`advantage_oracle` (alias :func:`advantage`) is ``max over thresholds``
  chosen on the target's own members and non-members: an upper bound, biased
  upwards on finite samples, not an attack.

Every function takes 1-d arrays of scores (one per example) and refuses
anything else with a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "RocCurve",
    "advantage",
    "advantage_at_threshold",
    "advantage_oracle",
    "decision_advantage",
    "balanced_accuracy",
    "p1_release",
    "p1_score",
    "roc_auc",
    "roc_curve",
    "tpr_at_fpr",
]


@dataclass(frozen=True)
class RocCurve:
    """ROC curve of a score: ``fpr[i], tpr[i]`` for the rule ``score >= thresholds[i]``.

    Attributes:
        fpr: false positive rates, non-decreasing from 0 to 1.
        tpr: true positive rates, non-decreasing from 0 to 1.
        thresholds: the decreasing thresholds, starting at ``+inf`` (flag nobody).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def _one_d(a: np.ndarray, what: str) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(
            f"{what} must be a 1-d array (one entry per example), got shape {arr.shape}; "
            "for (n, K) model outputs compute one membership score per example first "
            "(e.g. ccl_lib.attacks.metric_scores)"
        )
    return arr


def _check_scores(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = _one_d(scores, "membership scores")
    try:
        s = np.asarray(s, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("membership scores must be real numbers (higher = more likely a member)") from None
    m = _one_d(labels, "membership labels")
    if s.shape != m.shape:
        raise ValueError(f"scores and labels must have the same length, got {s.shape} and {m.shape}")
    if m.dtype.kind not in "biuf" or not np.isin(m, (0, 1)).all():
        raise ValueError("labels must be 0 (non-member) or 1 (member)")
    n_pos = int(m.sum())
    if n_pos == 0 or n_pos == len(m):
        raise ValueError("need at least one member and one non-member to score an attack")
    if np.isnan(s).any():
        raise ValueError("membership scores contain NaN")
    return s, m.astype(bool)


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> RocCurve:
    """Exact ROC curve over every distinct threshold (one sort, O(n log n)).

    The first point is (0, 0) with threshold +inf (as in scikit-learn, also
    when some scores are +inf); equal scores are one threshold (ties are kept
    together), so the result equals ``sklearn.metrics.roc_curve(labels, scores,
    drop_intermediate=False)``.  Scores may be +-inf, never NaN.

    Args:
        scores: (n,) membership scores, higher = more likely a member.
        labels: (n,) true membership, 0 (non-member) or 1 (member); both must occur.
    """
    s, m = _check_scores(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, m_sorted = s[order], m[order]
    tp = np.cumsum(m_sorted)
    fp = np.cumsum(~m_sorted)
    # `!=` rather than np.diff: inf - inf is NaN, which would split a tie of infinite scores.
    last_of_tie = np.r_[np.flatnonzero(s_sorted[1:] != s_sorted[:-1]), len(s_sorted) - 1]
    tpr = np.r_[0.0, tp[last_of_tie] / m.sum()]
    fpr = np.r_[0.0, fp[last_of_tie] / (~m).sum()]
    thr = np.r_[np.inf, s_sorted[last_of_tie]]
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=thr)


def advantage_oracle(scores: np.ndarray, labels: np.ndarray) -> float:
    """Oracle advantage: ``max over thresholds of TPR - FPR`` (Eq. 2), the threshold chosen on these labels.

    The advantage of the best threshold rule chosen *with* knowledge of the
    membership being scored: an upper bound for any threshold the attacker
    picks without it (:func:`advantage_at_threshold`,
    :func:`decision_advantage`), and >= 0 by construction, so it is biased
    upwards on finite samples even without any membership signal.  Not the
    paper's advantage (footnote 2: the threshold comes from shadow models).

    Args:
        scores: (n,) membership scores, higher = more likely a member (no NaN).
        labels: (n,) true membership, 0 or 1; both must occur.
    """
    roc = roc_curve(scores, labels)
    return float(np.max(roc.tpr - roc.fpr))


#: Former name of :func:`advantage_oracle` (the target-chosen threshold); kept for existing callers.
advantage = advantage_oracle


def decision_advantage(decisions: np.ndarray, labels: np.ndarray) -> float:
    """TPR - FPR (Eq. 2) of hard member decisions made without these labels -- the paper's advantage.

    ``decisions`` are 0/1 (or bool; 1 = "member") from a rule learned on a
    shadow model; ``labels`` the true membership.  Can be negative.
    """
    p = _one_d(decisions, "decisions")
    if p.dtype.kind not in "biuf" or not np.isin(p, (0, 1)).all():
        raise ValueError("decisions must be hard decisions: 0/False (non-member) or 1/True (member)")
    p = p.astype(bool)
    _, m = _check_scores(p.astype(float), labels)
    return float(p[m].mean() - p[~m].mean())


def advantage_at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """TPR - FPR (Eq. 2) of the fixed rule ``score >= threshold`` (e.g. chosen on a shadow model).

    This is the paper's advantage when the threshold was learned without the
    target's labels; unlike :func:`advantage_oracle` it can be negative (a
    rule worse than chance).

    Args:
        scores: (n,) membership scores, higher = more likely a member (no NaN).
        labels: (n,) true membership, 0 or 1; both must occur.
        threshold: the rule's threshold (may be +-inf, not NaN).
    """
    s, m = _check_scores(scores, labels)
    threshold = float(threshold)
    if np.isnan(threshold):
        raise ValueError("threshold must be a number (it may be +-inf), got NaN")
    pred = s >= threshold
    return float(pred[m].mean() - pred[~m].mean())


def balanced_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """(TPR + TNR) / 2 of hard member predictions; equals (1 + TPR - FPR) / 2 (cf. Eq. 2).

    Args:
        predictions: (n,) hard decisions, 0/False (non-member) or 1/True (member).
        labels: (n,) true membership, 0 or 1; both must occur.
    """
    p = _one_d(predictions, "predictions")
    if p.dtype.kind not in "biuf" or not np.isin(p, (0, 1)).all():
        raise ValueError("predictions must be hard decisions: 0/False (non-member) or 1/True (member)")
    p = p.astype(bool)
    _, m = _check_scores(p.astype(float), labels)
    return float(0.5 * (p[m].mean() + (~p[~m]).mean()))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), via ranks (Mann-Whitney U / (n1 n0)).

    Equals ``sklearn.metrics.roc_auc_score(labels, scores)``.

    Args:
        scores: (n,) membership scores, higher = more likely a member (no NaN).
        labels: (n,) true membership, 0 or 1; both must occur.
    """
    s, m = _check_scores(scores, labels)
    from scipy.stats import rankdata

    r = rankdata(s)
    n1, n0 = m.sum(), (~m).sum()
    return float((r[m].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.001) -> float:
    """Highest TPR of a threshold rule ``score >= t`` whose FPR is at most ``fpr``.

    The low-FPR metric of Carlini et al. (2022), "Membership Inference Attacks
    From First Principles"; ``fpr`` is a fraction (0.001 = 0.1%).

    Args:
        scores: (n,) membership scores, higher = more likely a member (no NaN).
        labels: (n,) true membership, 0 or 1; both must occur.
        fpr: the largest allowed false positive rate, in [0, 1].
    """
    if isinstance(fpr, bool) or not isinstance(fpr, (int, float, np.floating, np.integer)) or not 0.0 <= fpr <= 1.0:
        raise ValueError(f"fpr must be a number in [0, 1] (a fraction, 0.001 = 0.1%), got {fpr!r}")
    roc = roc_curve(scores, labels)
    ok = roc.fpr <= fpr + 1e-12
    return float(roc.tpr[ok].max())


def p1_score(accuracy: float, adv: float) -> float:
    """P1 score, Eq. 13 (Paul et al., 2021): ``2 Acc (1 - Adv) / (Acc + 1 - Adv)``.

    The harmonic mean of test accuracy and ``1 - advantage``.  ``accuracy`` is
    a fraction in [0, 1]; ``adv`` is in [-1, 1] (TPR - FPR of a fixed rule can
    be negative) and is used as given.  Returns 0 when both terms are 0.
    """
    for name, v, lo in (("accuracy", accuracy, 0.0), ("advantage", adv, -1.0)):
        try:
            fv = float(v)
        except (TypeError, ValueError):
            fv = float("nan")
        if isinstance(v, bool) or not lo <= fv <= 1.0:
            raise ValueError(f"{name} must be a number in [{lo:g}, 1] (a fraction, not a percentage), got {v!r}")
    a, b = float(accuracy), 1.0 - float(adv)
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)


def p1_release(accuracy: float, attack_accuracy: float) -> float:
    """P1 as the CCL release computes it: ``2 Acc (1 - x) / (Acc + 1 - x)`` with ``x`` an attack *accuracy*.

    ``ml-stat-Sustech/ConvexConcaveLoss``, ``source/utility/process.py``, ``p_score``, called by
    ``process_files_yaml`` with the test accuracy and the cross-entropy loss attack's test
    accuracy (one attack, an accuracy in [0.5, 1] for a useful attack) -- where the paper's
    text (:func:`p1_score`) takes the *highest advantage* over all attacks.  Both are fractions
    here (the release also accepts percentages).

    Args:
        accuracy: the target's test accuracy in [0, 1].
        attack_accuracy: the loss attack's accuracy on the target's members and non-members, in [0, 1].
    """
    x = float(attack_accuracy)
    if isinstance(attack_accuracy, bool) or not 0.0 <= x <= 1.0:
        raise ValueError(f"attack_accuracy must be a fraction in [0, 1], got {attack_accuracy!r}")
    return p1_score(accuracy, x)
