"""Threshold rules learned on the shadow model (Song & Mittal, 2021, Sec. 3; Yeom et al., 2018).

A threshold attack predicts "member" when a membership score (higher =
member) is at least a threshold ``tau``.  The attacker cannot see the target's
membership, so ``tau`` is learned on the shadow model's members (its train
split) and non-members (its test split):

* :func:`best_threshold` -- the threshold maximizing the balanced accuracy
  ``(TPR + TNR) / 2`` on the shadow outputs, i.e. ``(1 + TPR - FPR) / 2``
  (Song & Mittal's rule); candidates are every observed score.
* :func:`class_thresholds` -- one such threshold per class, learned on the
  shadow examples of that class (Song & Mittal's class-dependent thresholds).
* :func:`threshold_at_fpr` -- the loosest threshold whose shadow FPR is at
  most ``fpr`` (the fixed-FPR attack of Theorem 6.1, Eq. 18).
* :func:`pseudo_target_threshold` -- for score-only attacks (LiRA, RMIA): the
  median over pseudo-targets (reference models whose membership the attacker
  knows) of their best threshold, so the decision rule never sees the
  target's labels.

The search is vectorized: one sort and cumulative counts, O(n log n) per class,
and gives exactly what a brute-force scan over every candidate gives
(the objective is compared as integers, so ties are broken identically:
among thresholds of equal balanced accuracy, the *largest* is chosen, the one
with the fewest false positives).

:func:`release_threshold` and :func:`release_class_thresholds` are the CCL release's
rule instead (``ml-stat-Sustech/ConvexConcaveLoss``,
``source/attacks/membership_inference/metric_based_attack.py``,
``MetricBasedMIA._thre_setting``): candidates in their order (members first, then
non-members), the *first* strictly best one kept, accuracy as the float expression
``0.5 * (tr_ratio + te_ratio)``; a class without shadow members or non-members gets 0.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

from .base import _as_1d_float

__all__ = [
    "ThresholdChoice",
    "apply_thresholds",
    "best_threshold",
    "class_thresholds",
    "pseudo_target_threshold",
    "release_class_thresholds",
    "release_threshold",
    "threshold_at_fpr",
]


class ThresholdChoice(NamedTuple):
    """A learned threshold and the balanced accuracy it reaches on the data it was learned on.

    Attributes:
        threshold: the score threshold ``tau``; the rule flags ``score >= tau`` as a member.
        balanced_accuracy: ``(TPR + TNR) / 2`` of that rule on the scores it was chosen on
            (in [0, 1]; 0.5 = chance).
    """

    threshold: float
    balanced_accuracy: float


_scores = _as_1d_float  # (n,) float64 scores, no NaN


def _labels01(a: Any, n: int, what: str) -> np.ndarray:
    m = np.asarray(a)
    if m.ndim != 1 or len(m) != n:
        raise ValueError(f"{what} must be a 1-d array of length {n}, got shape {m.shape}")
    if not np.isin(m, (0, 1)).all():
        raise ValueError(f"{what} must be 0 (non-member) or 1 (member)")
    return m.astype(bool)


def _class_labels(a: Any, n: int, what: str) -> np.ndarray:
    y = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{what} must be a 1-d array with one class label per score ({n}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{what} must hold integer class labels, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise ValueError(f"{what}: class labels must be >= 0, got {int(y.min())}")
    return y.astype(np.int64)


def _best_sorted(s: np.ndarray, m: np.ndarray) -> tuple[float, int, int]:
    """Best threshold for scores ``s`` sorted in *descending* order with member flags ``m``.

    Returns ``(threshold, tp, fp)`` of the rule ``score >= threshold``.
    """
    n1 = int(m.sum())
    n0 = len(m) - n1
    tp = np.cumsum(m, dtype=np.int64)
    fp = np.arange(1, len(m) + 1, dtype=np.int64) - tp
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last index of each run of ties
    # balanced accuracy = (1 + tp/n1 - fp/n0) / 2: maximize tp*n0 - fp*n1 exactly, in integers.
    obj = tp[last] * n0 - fp[last] * n1
    k = int(np.argmax(obj))  # first maximum in descending order = largest threshold
    i = last[k]
    return float(s[i]), int(tp[i]), int(fp[i])


def best_threshold(scores: Any, labels: Any) -> ThresholdChoice:
    """Threshold of the rule ``score >= tau`` that maximizes balanced accuracy (Song & Mittal, 2021).

    Args:
        scores: (n,) membership scores (higher = member), e.g. of the shadow model.
        labels: (n,) 1 for members, 0 for non-members; both must occur.

    Returns:
        ``(threshold, balanced_accuracy)``; the threshold is one of the scores,
        the largest among equally good ones.
    """
    s = _scores(scores, "scores")
    m = _labels01(labels, len(s), "labels")
    n1 = int(m.sum())
    if n1 == 0 or n1 == len(m):
        raise ValueError("best_threshold needs at least one member (1) and one non-member (0)")
    order = np.argsort(-s)  # the order within a run of ties does not matter: cuts fall between runs
    thr, tp, fp = _best_sorted(s[order], m[order])
    return ThresholdChoice(thr, 0.5 * (tp / n1 + 1.0 - fp / (len(m) - n1)))


def release_threshold(values_in: Any, values_out: Any) -> float:
    """The CCL release's threshold: the first candidate of ``concat(values_in, values_out)`` of best accuracy.

    Follows ``MetricBasedMIA._thre_setting`` of ``ml-stat-Sustech/ConvexConcaveLoss``
    (``source/attacks/membership_inference/metric_based_attack.py``): for each candidate ``v`` in
    order, ``acc = 0.5 * (mean(values_in >= v) + mean(values_out < v))``; a candidate replaces the
    kept one only if its ``acc`` is strictly larger (start: threshold 0, accuracy 0).  Comparisons
    are made in the values' own dtype (float32 scores stay float32).  Vectorized: sorted counts,
    then the first maximum in candidate order.

    Args:
        values_in: (n,) scores of the shadow model's members (higher = member).
        values_out: (m,) scores of its non-members.

    Returns:
        the threshold (0.0 when either side is empty, as the release's NaN accuracies give).
    """
    a = np.asarray(values_in).ravel()
    b = np.asarray(values_out).ravel()
    if len(a) == 0 or len(b) == 0:
        return 0.0
    cand = np.concatenate([a, b])
    sa, sb = np.sort(a), np.sort(b)
    ge_in = len(a) - np.searchsorted(sa, cand, side="left")  # count of values_in >= v
    lt_out = np.searchsorted(sb, cand, side="left")  # count of values_out < v
    acc = 0.5 * (ge_in / (len(a) + 0.0) + lt_out / (len(b) + 0.0))
    k = int(np.argmax(acc))
    return float(cand[k]) if acc[k] > 0 else 0.0


def release_class_thresholds(values_in: Any, values_out: Any, y_in: Any, y_out: Any, *, num_classes: int) -> np.ndarray:
    """:func:`release_threshold` per class, as the release's ``thre_list`` (0 for a class not seen).

    Args:
        values_in: (n,) shadow members' scores.
        values_out: (m,) shadow non-members' scores.
        y_in: (n,) their class labels.
        y_out: (m,) class labels of the non-members.
        num_classes: number of thresholds returned.
    """
    a, b = np.asarray(values_in), np.asarray(values_out)
    ya = _class_labels(y_in, len(a), "y_in")
    yb = _class_labels(y_out, len(b), "y_out")
    return np.array([release_threshold(a[ya == c], b[yb == c]) for c in range(int(num_classes))])


def class_thresholds(
    scores_in: Any,
    scores_out: Any,
    y_in: Any,
    y_out: Any,
    num_classes: Optional[int] = None,
) -> np.ndarray:
    """Class-dependent thresholds learned on shadow members and non-members (Song & Mittal, 2021).

    For each class ``c``, the threshold maximizing balanced accuracy among the
    shadow examples labelled ``c`` (:func:`best_threshold`).  A class with no
    shadow member or no shadow non-member gets the class-independent threshold
    learned on all shadow examples.

    Args:
        scores_in, scores_out: (n_in,), (n_out,) scores of the shadow model's
            members and non-members (higher = member).
        y_in, y_out: their class labels.
        num_classes: length of the result (default: ``max label + 1``).

    Returns:
        (num_classes,) float64 thresholds; apply with :func:`apply_thresholds`.
    """
    s_in, s_out = _scores(scores_in, "scores_in"), _scores(scores_out, "scores_out")
    if len(s_in) == 0 or len(s_out) == 0:
        raise ValueError("class_thresholds needs at least one member and one non-member score")
    c_in, c_out = _class_labels(y_in, len(s_in), "y_in"), _class_labels(y_out, len(s_out), "y_out")
    k = int(max(c_in.max(), c_out.max())) + 1
    if num_classes is None:
        num_classes = k
    if not isinstance(num_classes, (int, np.integer)) or num_classes < k:
        raise ValueError(f"num_classes must be an integer >= max label + 1 = {k}, got {num_classes!r}")
    s = np.r_[s_in, s_out]
    m = np.r_[np.ones(len(s_in), bool), np.zeros(len(s_out), bool)]
    c = np.r_[c_in, c_out]
    s_all, m_all = s, m
    # Sort by (class, descending score): a quicksort by score (tie order is irrelevant: cuts fall between
    # runs of ties), then a stable sort by class; then every class segment at once, without a Python loop.
    by_score = np.argsort(-s)
    cls = c[by_score]
    if num_classes <= np.iinfo(np.int16).max:
        cls = cls.astype(np.int16)  # a stable sort of small integers is a radix sort: 5x faster
    order = by_score[np.argsort(cls, kind="stable")]
    s, m, c = s[order], m[order], c[order]
    n = len(s)
    starts = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))  # segment id of every position
    cum = np.cumsum(m, dtype=np.int64)
    before = np.r_[0, cum][starts]  # members before each segment
    n1 = np.r_[cum[starts[1:] - 1], cum[-1]] - before  # members per segment
    n0 = np.diff(np.r_[starts, n]) - n1
    tp = cum - before[seg]
    fp = np.arange(1, n + 1, dtype=np.int64) - starts[seg] - tp
    # candidate cut points: the last position of each run of equal scores within a segment
    last = np.flatnonzero(np.r_[(s[1:] != s[:-1]) | (c[1:] != c[:-1]), True])
    g = seg[last]
    obj = tp[last] * n0[g] - fp[last] * n1[g]  # n0 n1 (TPR - FPR), exact in integers
    first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    best = np.maximum.reduceat(obj, first)
    hit = np.flatnonzero(obj == best[g])  # every segment has a candidate, so segment id = group index
    gh = g[hit]
    chosen = last[hit[np.r_[True, gh[1:] != gh[:-1]]]]  # first maximum per segment = the largest threshold
    ok = (n1 > 0) & (n0 > 0)
    out = np.full(int(num_classes), np.nan, dtype=np.float64)
    out[c[chosen[ok]]] = s[chosen[ok]]
    if np.isnan(out).any():  # classes without shadow members or non-members: the class-independent threshold
        out[np.isnan(out)] = best_threshold(s_all, m_all).threshold
    return out


def apply_thresholds(scores: Any, y: Any, thresholds: Any) -> np.ndarray:
    """Hard member decisions ``score >= thresholds[y]`` of class-dependent thresholds.

    Args:
        scores: (n,) membership scores, higher = more likely a member.
        y: (n,) integer class labels selecting each example's threshold.
        thresholds: (K,) one threshold per class, ``K > max(y)`` (e.g. learned on the shadow model).
    """
    s = _scores(scores, "scores")
    c = _class_labels(y, len(s), "y")
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or (len(c) and c.max() >= len(t)):
        raise ValueError(
            f"thresholds must be 1-d with one entry per class (> max label {int(c.max()) if len(c) else -1})"
        )
    return s >= t[c]


def threshold_at_fpr(scores_out: Any, fpr: float) -> float:
    """Smallest threshold whose false positive rate on ``scores_out`` is at most ``fpr``.

    The attacker of Theorem 6.1 (Eq. 18) fixes its FPR on shadow non-members:
    the rule ``score >= tau`` flags at most ``floor(fpr * n)`` of them.
    Candidates are the observed scores and ``+inf`` (flag nobody).
    """
    s = _scores(scores_out, "scores_out")
    if len(s) == 0:
        raise ValueError("threshold_at_fpr needs at least one non-member score")
    if not (0.0 <= float(fpr) <= 1.0):
        raise ValueError(f"fpr must be in [0, 1], got {fpr!r}")
    d = np.sort(s)[::-1]
    last = np.r_[np.flatnonzero(d[1:] != d[:-1]), len(d) - 1]
    count = last + 1  # number of scores >= d[last]
    ok = count <= float(fpr) * len(d) + 1e-9
    if not ok.any():
        return float("inf")
    return float(d[last[ok][-1]])


def pseudo_target_threshold(pseudo: Any) -> float:
    """A threshold learned on pseudo-targets: the median of their :func:`best_threshold` values.

    Args:
        pseudo: a sequence of ``(scores, is_member)`` pairs, one per
            pseudo-target -- a model of the attacker (e.g. one reference model,
            attacked with the other ones) whose membership the attacker knows.

    Returns:
        the median threshold (float); the attacker applies ``score >= tau`` to
        the real target.  Pairs without both members and non-members are skipped.
    """
    taus = []
    for scores, member in pseudo:
        s = _scores(scores, "pseudo-target scores")
        m = _labels01(member, len(s), "pseudo-target membership")
        if m.any() and not m.all():
            taus.append(best_threshold(s, m).threshold)
    if not taus:
        raise ValueError("no pseudo-target had both members and non-members; cannot learn a threshold")
    return float(np.median(taus))
