"""Privacy and utility metrics (Sec. 2, Eq. 2; Sec. 5.1, Eq. 13).

Membership scores follow one convention everywhere: a *higher* score means
"more likely a member".  Labels are 1 for members, 0 for non-members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "RocCurve",
    "advantage",
    "advantage_at_threshold",
    "balanced_accuracy",
    "p1_score",
    "roc_auc",
    "roc_curve",
    "tpr_at_fpr",
]


@dataclass(frozen=True)
class RocCurve:
    """ROC curve of a score: ``fpr[i], tpr[i]`` for the rule ``score >= thresholds[i]``."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


def _check_scores(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    m = np.asarray(labels).ravel()
    if s.shape != m.shape:
        raise ValueError(f"scores and labels must have the same length, got {s.shape} and {m.shape}")
    if not np.isin(m, (0, 1)).all():
        raise ValueError("labels must be 0 (non-member) or 1 (member)")
    n_pos = int(m.sum())
    if n_pos == 0 or n_pos == len(m):
        raise ValueError("need at least one member and one non-member to score an attack")
    if np.isnan(s).any():
        raise ValueError("membership scores contain NaN")
    return s, m.astype(bool)


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> RocCurve:
    """Exact ROC curve over every distinct threshold (one sort, O(n log n)).

    The first point is (0, 0) with threshold +inf; ties are kept together.
    """
    s, m = _check_scores(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, m_sorted = s[order], m[order]
    tp = np.cumsum(m_sorted)
    fp = np.cumsum(~m_sorted)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tpr = np.r_[0.0, tp[last_of_tie] / m.sum()]
    fpr = np.r_[0.0, fp[last_of_tie] / (~m).sum()]
    thr = np.r_[np.inf, s_sorted[last_of_tie]]
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=thr)


def advantage(scores: np.ndarray, labels: np.ndarray) -> float:
    """Membership advantage, Eq. 2: ``max over thresholds of TPR - FPR``.

    This is the advantage of the best threshold rule chosen with knowledge of
    the target's membership (an upper bound for any threshold the attacker
    picks on shadow data; see :func:`advantage_at_threshold`).
    """
    roc = roc_curve(scores, labels)
    return float(np.max(roc.tpr - roc.fpr))


def advantage_at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """TPR - FPR of the fixed rule ``score >= threshold`` (e.g. chosen on a shadow model)."""
    s, m = _check_scores(scores, labels)
    pred = s >= threshold
    return float(pred[m].mean() - pred[~m].mean())


def balanced_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """(TPR + TNR) / 2 of hard member predictions; equals (1 + advantage) / 2."""
    p = np.asarray(predictions).astype(bool).ravel()
    _, m = _check_scores(p.astype(float), labels)
    return float(0.5 * (p[m].mean() + (~p[~m]).mean()))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), via ranks."""
    s, m = _check_scores(scores, labels)
    from scipy.stats import rankdata

    r = rankdata(s)
    n1, n0 = m.sum(), (~m).sum()
    return float((r[m].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray, fpr: float = 0.001) -> float:
    """Highest TPR of a threshold rule whose FPR is at most ``fpr`` (Carlini et al., 2022)."""
    if not (0.0 <= fpr <= 1.0):
        raise ValueError(f"fpr must be in [0, 1], got {fpr}")
    roc = roc_curve(scores, labels)
    ok = roc.fpr <= fpr + 1e-12
    return float(roc.tpr[ok].max())


def p1_score(accuracy: float, adv: float) -> float:
    """P1 score, Eq. 13: harmonic mean of test accuracy and (1 - advantage)."""
    for name, v in (("accuracy", accuracy), ("advantage", adv)):
        if not (-1.0 <= float(v) <= 1.0) or np.isnan(v):
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    a, b = float(accuracy), 1.0 - float(adv)
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)
