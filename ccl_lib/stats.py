"""Error bars for membership-inference results: bootstrap intervals and multi-seed summaries.

The paper reports one number per setting (Sec. 5.2, Table 1).  An attack's
advantage (Eq. 2) or its TPR at a low false-positive rate (Carlini et al.,
2022) is itself an estimate from a finite set of members and non-members, and
it also varies with the training seed.  This module gives both error bars:

* :func:`bootstrap_ci` -- a percentile bootstrap interval (Efron & Tibshirani,
  1993) for one attack on one target model.  Members and non-members are
  resampled *separately* (a stratified bootstrap: the two classes keep their
  sizes, as in the evaluation design), and the resampling is vectorized: a
  replicate is a vector of multinomial counts, the ROC of every replicate is
  one cumulative sum over the once-sorted scores.
* :func:`bootstrap_metrics` -- several metrics on the *same* replicates.
* :func:`seed_summary` -- mean, standard deviation and count over seeds, per
  group of a results table.

Scores follow :mod:`ccl_lib.metrics`: higher means "member".

Metric names (``metric=``) of scores: ``"advantage_oracle"`` (max over
thresholds of TPR - FPR, the threshold chosen on the resampled target: the
oracle upper bound; ``"advantage"`` is accepted as its former name here),
``"auc"``, and ``"tpr@<fpr>"`` -- the TPR at a false-positive rate written as
a fraction or a percentage: ``"tpr@0.001"`` = ``"tpr@0.1%"``, ``"tpr@1%"``.
A callable ``metric(scores, labels) -> float`` (e.g. a function of
:mod:`ccl_lib.metrics`) is also accepted and evaluated replicate by replicate
on exactly the same resamples.

The paper's advantage (Eq. 2, footnote 2) is that of the attacker's *fixed*
decisions: :func:`decision_interval` bootstraps it on the same replicates
(same seed and sizes -> the same resampled members and non-members), and
:func:`interval_columns` gives its ``advantage`` columns from
``decisions=(decision_in, decision_out)``.

A note on resolution: with ``n_out`` non-members the smallest non-zero FPR is
``1 / n_out``; TPR at 0.1% FPR with 1,000 non-members allows one false
positive, and its interval is correspondingly wide.  :func:`min_resolvable_fpr`
states it.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Optional, Sequence, Union

import numpy as np

__all__ = [
    "MetricSpec",
    "bootstrap_ci",
    "bootstrap_distribution",
    "bootstrap_metrics",
    "decision_interval",
    "format_interval",
    "interval_columns",
    "metric_label",
    "min_resolvable_fpr",
    "parse_metric",
    "seed_summary",
]

MetricSpec = Union[str, Callable[[np.ndarray, np.ndarray], float]]

_TPR_RE = re.compile(r"^tpr@([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)(%?)$")
_MAX_CELLS = 1 << 22  # replicates x examples per vectorized chunk (~16 MiB of int32)


def parse_metric(metric: str) -> tuple[str, Optional[float]]:
    """Parse a metric name into ``(kind, fpr)``.

    ``"advantage_oracle"`` (or ``"advantage"``) -> ``("advantage", None)``, the
    max over thresholds of TPR - FPR of the scores; ``"auc"`` -> ``("auc", None)``;
    ``"tpr@0.1%"`` and ``"tpr@0.001"`` -> ``("tpr", 0.001)``.  Raises
    ``ValueError`` listing the accepted forms for anything else.

    Args:
        metric: the name (case and spaces ignored), as above.
    """
    if not isinstance(metric, str):
        raise TypeError(f"metric name must be a string, got {type(metric).__name__}")
    m = metric.strip().lower().replace(" ", "")
    if m in ("advantage", "adv", "advantage_oracle"):
        return "advantage", None
    if m in ("auc", "roc_auc"):
        return "auc", None
    match = _TPR_RE.match(m)
    if match:
        fpr = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
        if not 0.0 <= fpr <= 1.0:
            raise ValueError(f"the FPR of {metric!r} must lie in [0, 1] (or [0%, 100%]), got {fpr}")
        return "tpr", fpr
    raise ValueError(
        f"unknown metric {metric!r}; use 'advantage_oracle', 'auc', 'tpr@<fpr>' with the FPR as a fraction "
        "or a percentage ('tpr@0.001', 'tpr@0.1%', 'tpr@1%'), or a callable metric(scores, labels) -> float"
    )


def metric_label(metric: MetricSpec) -> str:
    """A short display name: ``"TPR@0.1%FPR"``, ``"oracle advantage"``, ``"AUC"`` or the callable's name.

    Args:
        metric: a metric name (:func:`parse_metric`) or a callable ``metric(scores, labels)``.
    """
    if callable(metric):
        return getattr(metric, "__name__", "metric")
    kind, fpr = parse_metric(metric)
    if kind == "tpr":
        assert fpr is not None  # parse_metric gives every "tpr" its FPR
        return f"TPR@{100 * fpr:g}%FPR"
    return "AUC" if kind == "auc" else "oracle advantage"


def min_resolvable_fpr(n_out: int) -> float:
    """The smallest non-zero false-positive rate measurable with ``n_out`` non-members: ``1 / n_out``."""
    if int(n_out) < 1:
        raise ValueError(f"n_out must be a positive number of non-members, got {n_out!r}")
    return 1.0 / int(n_out)


def _as_scores(name: str, s: np.ndarray) -> np.ndarray:
    a = np.asarray(s, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name} is empty; the bootstrap needs at least one member and one non-member score")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; membership scores must be numbers (+-inf is allowed)")
    return a


def _check_common(n_boot: int, level: float, seed: int) -> None:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer number of replicates, got {n_boot!r}")
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise ValueError(f"level must be a confidence level in (0, 1), e.g. 0.95; got {level!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


class _SortedScores:
    """Scores of both classes sorted once (descending), with tie groups."""

    def __init__(self, s_in: np.ndarray, s_out: np.ndarray) -> None:
        scores = np.concatenate([s_in, s_out])
        is_in = np.r_[np.ones(len(s_in), bool), np.zeros(len(s_out), bool)]
        order = np.argsort(-scores, kind="mergesort")
        s_sorted = scores[order]
        self.n_in, self.n_out = len(s_in), len(s_out)
        # position of each member / non-member (in input order) within the sorted array
        pos = np.empty(len(scores), np.int64)
        pos[order] = np.arange(len(scores))
        self.pos_in = pos[: self.n_in]
        self.pos_out = pos[self.n_in :]
        self.is_in_sorted = is_in[order]
        # tie groups: contiguous runs of equal scores in the sorted array
        self.group_starts = np.r_[0, np.flatnonzero(np.diff(s_sorted) != 0) + 1]
        self.n = len(scores)

    def group_counts(self, w_in: np.ndarray, w_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per tie group (descending score) member and non-member weights, for each replicate row."""
        b = w_in.shape[0]
        m = np.zeros((b, self.n), np.int32)
        f = np.zeros((b, self.n), np.int32)
        m[:, self.pos_in] = w_in
        f[:, self.pos_out] = w_out
        if len(self.group_starts) == self.n:  # no ties: every example is its own group
            return m, f
        return np.add.reduceat(m, self.group_starts, axis=1), np.add.reduceat(f, self.group_starts, axis=1)


class _Curves:
    """Cumulative counts of one chunk of replicates, shared by all named metrics."""

    def __init__(self, m_g: np.ndarray, f_g: np.ndarray, n_in: int, n_out: int) -> None:
        self.m_g, self.f_g, self.n_in, self.n_out = m_g, f_g, n_in, n_out
        b = m_g.shape[0]
        self.tp = np.zeros((b, m_g.shape[1] + 1), np.int64)
        self.fp = np.zeros((b, m_g.shape[1] + 1), np.int64)
        np.cumsum(m_g, axis=1, out=self.tp[:, 1:])
        np.cumsum(f_g, axis=1, out=self.fp[:, 1:])


def _metric_from_curves(kind: str, fpr: Optional[float], c: _Curves) -> np.ndarray:
    """Vectorized metric of each replicate row from its cumulative counts (descending scores).

    The first column of ``c.tp``/``c.fp`` is the point (0, 0) of the threshold +inf.
    """
    n_in, n_out = c.n_in, c.n_out
    if kind == "auc":
        below = n_out - c.fp[:, 1:]  # non-members with a strictly lower score than the group
        return (c.m_g * (below + 0.5 * c.f_g)).sum(axis=1) / (n_in * n_out)
    if kind == "advantage":
        return (c.tp / n_in - c.fp / n_out).max(axis=1)
    # TPR at FPR <= f: both are non-decreasing along the thresholds, so it is the TPR at the
    # last threshold whose FPR does not exceed f (the first point, (0, 0), always qualifies).
    assert fpr is not None, f"metric kind {kind!r} needs an FPR"
    last = (c.fp <= (fpr + 1e-12) * n_out).sum(axis=1) - 1
    return np.take_along_axis(c.tp, last[:, None], axis=1)[:, 0] / n_in


def _resolve_metric(metric: MetricSpec) -> tuple[str, Optional[float], Optional[Callable]]:
    """``(kind, fpr, None)`` for a metric name, ``("callable", None, fn)`` for a callable."""
    if isinstance(metric, str):
        kind, fpr = parse_metric(metric)
        return kind, fpr, None
    if callable(metric):
        return "callable", None, metric
    raise TypeError(
        f"metric must be a name ('advantage', 'auc', 'tpr@0.1%') or a callable metric(scores, labels), "
        f"got {type(metric).__name__}"
    )


def _replicate_counts(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """``rows`` bootstrap resamples of ``n`` items (draws with replacement), as counts (rows, n)."""
    idx = rng.integers(0, n, size=(rows, n))
    idx += (np.arange(rows) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(np.int32)


def _iter_replicates(n_in: int, n_out: int, n_boot: int, seed: int):
    """Yield (counts_in, counts_out) chunks; the stream depends only on (sizes, n_boot, seed)."""
    rng_in = np.random.default_rng([seed, 0])
    rng_out = np.random.default_rng([seed, 1])
    chunk = max(1, min(n_boot, _MAX_CELLS // max(1, n_in + n_out)))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        yield _replicate_counts(rng_in, n_in, b), _replicate_counts(rng_out, n_out, b)
        done += b


def bootstrap_metrics(
    scores_in: np.ndarray,
    scores_out: np.ndarray,
    metrics: Sequence[MetricSpec] = ("advantage_oracle", "auc", "tpr@0.1%", "tpr@1%"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    *,
    return_replicates: bool = False,
) -> dict:
    """Point estimates and percentile bootstrap intervals of several metrics on shared replicates.

    Args:
        scores_in: membership scores of the members (higher = member).
        scores_out: scores of the non-members.
        metrics: names (see the module docstring) or callables ``f(scores, labels)``.
        n_boot: number of bootstrap replicates.
        level: coverage of the two-sided percentile interval.
        seed: the replicates are a deterministic function of ``(len(scores_in),
            len(scores_out), n_boot, seed)``: the same seed gives the same interval.
        return_replicates: also return the replicate values under ``"_replicates"``.

    Returns:
        ``{name: (estimate, low, high)}`` keyed by the metric name (or the
        callable's ``__name__``); the estimate is the metric on the original
        scores, not the bootstrap mean.
    """
    s_in = _as_scores("scores_in", scores_in)
    s_out = _as_scores("scores_out", scores_out)
    _check_common(n_boot, level, seed)
    if isinstance(metrics, (str, bytes)) or callable(metrics):
        metrics = [metrics]
    specs = [_resolve_metric(m) for m in metrics]
    if not specs:
        raise ValueError("metrics is empty; give at least one metric")
    names = [m if isinstance(m, str) else getattr(m, "__name__", f"metric{i}") for i, m in enumerate(metrics)]
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be distinct, got {names}")

    n_in, n_out = len(s_in), len(s_out)
    sorted_scores = _SortedScores(s_in, s_out)
    labels = np.r_[np.ones(n_in, np.int64), np.zeros(n_out, np.int64)]
    both = np.concatenate([s_in, s_out])

    # point estimates: unit weights through the same code path
    c1 = _Curves(*sorted_scores.group_counts(np.ones((1, n_in), np.int32), np.ones((1, n_out), np.int32)), n_in, n_out)
    estimates = []
    for kind, fpr, fn in specs:
        if fn is None:
            estimates.append(float(_metric_from_curves(kind, fpr, c1)[0]))
        else:
            estimates.append(float(fn(both, labels)))

    reps = np.empty((len(specs), n_boot))
    done = 0
    for c_in, c_out in _iter_replicates(n_in, n_out, n_boot, seed):
        b = c_in.shape[0]
        need_vec = any(fn is None for _, _, fn in specs)
        if need_vec:
            curves = _Curves(*sorted_scores.group_counts(c_in, c_out), n_in, n_out)
        for j, (kind, fpr, fn) in enumerate(specs):
            if fn is None:
                reps[j, done : done + b] = _metric_from_curves(kind, fpr, curves)
            else:
                for r in range(b):
                    s = np.concatenate([np.repeat(s_in, c_in[r]), np.repeat(s_out, c_out[r])])
                    reps[j, done + r] = float(fn(s, labels))
        done += b

    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    out: dict = {}
    for j, name in enumerate(names):
        lo, hi = np.quantile(reps[j], q)
        out[name] = (estimates[j], float(lo), float(hi))
    if return_replicates:
        out["_replicates"] = {name: reps[j] for j, name in enumerate(names)}
    return out


def bootstrap_ci(
    scores_in: np.ndarray,
    scores_out: np.ndarray,
    metric: MetricSpec = "advantage_oracle",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: a stratified percentile-bootstrap interval for one attack metric.

    Members and non-members are resampled separately with replacement (each
    replicate keeps ``len(scores_in)`` members and ``len(scores_out)``
    non-members), the metric is recomputed on every replicate, and the
    interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    the replicate values (percentile method, Efron & Tibshirani 1993).

    Args:
        scores_in, scores_out: membership scores (higher = member) of members and non-members.
        metric: ``"advantage_oracle"`` (max over thresholds, chosen on the resample; for
            the attacker's fixed decisions use :func:`decision_interval`), ``"auc"``, ``"tpr@0.1%"``/``"tpr@0.001"``
            (TPR at a false-positive rate, Carlini et al. 2022), or a callable
            ``metric(scores, labels) -> float`` such as :func:`ccl_lib.metrics.advantage`.
        n_boot: number of replicates (1,000 is enough for 95% intervals).
        level: interval coverage in (0, 1).
        seed: same seed and sizes -> the same interval, bit for bit.

    Named metrics are computed for all replicates at once (one sort, then
    cumulative sums); a callable is evaluated per replicate on the same resamples.
    """
    res = bootstrap_metrics(scores_in, scores_out, [metric], n_boot=n_boot, level=level, seed=seed)
    return next(iter(res.values()))


def bootstrap_distribution(
    scores_in: np.ndarray,
    scores_out: np.ndarray,
    metric: MetricSpec = "advantage_oracle",
    n_boot: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """The ``n_boot`` replicate values behind :func:`bootstrap_ci` (same seed -> same replicates).

    Args:
        scores_in: membership scores of the members (higher = member).
        scores_out: membership scores of the non-members.
        metric: a metric name (:func:`parse_metric`) or a callable ``metric(scores, labels) -> float``.
        n_boot: number of replicates.
        seed: seeds the resamples (the same as :func:`bootstrap_ci`'s for the same seed and sizes).
    """
    res = bootstrap_metrics(scores_in, scores_out, [metric], n_boot=n_boot, seed=seed, return_replicates=True)
    return next(iter(res["_replicates"].values()))


def decision_interval(
    decision_in: np.ndarray,
    decision_out: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(estimate, low, high)`` of the paper's advantage TPR - FPR (Eq. 2) of fixed member decisions.

    Stratified percentile bootstrap as :func:`bootstrap_ci`: members and
    non-members are resampled separately with the *same* replicate stream
    (same sizes and seed -> the same resamples as :func:`bootstrap_metrics`),
    and the decisions -- learned on the shadow model, never refitted -- are
    re-counted on each resample.

    Args:
        decision_in: hard decisions (0/False or 1/True = member) on the target's members.
        decision_out: hard decisions on the target's non-members.
        n_boot: number of replicates.
        level: interval coverage in (0, 1).
        seed: seeds the resamples.
    """
    d_in = np.asarray(decision_in).ravel()
    d_out = np.asarray(decision_out).ravel()
    for nm, d in (("decision_in", d_in), ("decision_out", d_out)):
        if d.size == 0:
            raise ValueError(f"{nm} is empty; the bootstrap needs at least one member and one non-member decision")
        if d.dtype.kind not in "biuf" or not np.isin(d, (0, 1)).all():
            raise ValueError(f"{nm} must hold hard decisions, 0/False (non-member) or 1/True (member)")
    _check_common(n_boot, level, seed)
    a_in, a_out = d_in.astype(np.float64), d_out.astype(np.float64)
    n_in, n_out = len(a_in), len(a_out)
    est = float(a_in.mean() - a_out.mean())
    reps = np.empty(n_boot)
    done = 0
    for c_in, c_out in _iter_replicates(n_in, n_out, n_boot, seed):
        b = c_in.shape[0]
        reps[done : done + b] = c_in @ a_in / n_in - c_out @ a_out / n_out
        done += b
    lo, hi = np.quantile(reps, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return est, float(lo), float(hi)


def interval_columns(
    scores_in: np.ndarray,
    scores_out: np.ndarray,
    metrics: Sequence[str] = ("advantage_oracle", "auc", "tpr@0.1%", "tpr@1%"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    *,
    decisions: Optional[tuple[np.ndarray, np.ndarray]] = None,
) -> dict[str, float]:
    """Flat table columns ``{m: estimate, m_low: ..., m_high: ...}`` for each metric name (shared replicates).

    ``"advantage"`` is the paper's advantage of the attacker's fixed decisions
    and needs ``decisions=(decision_in, decision_out)`` (:func:`decision_interval`);
    ``"advantage_oracle"`` and the other names are computed from the scores.
    Handy for a results row: ``{**row, **interval_columns(r.scores_in, r.scores_out,
    decisions=(r.decision_in, r.decision_out))}`` for an
    :class:`~ccl_lib.attacks.base.AttackResult` ``r``.

    Args:
        scores_in: membership scores of the members (higher = member).
        scores_out: membership scores of the non-members.
        metrics: metric names: ``"advantage"``, ``"advantage_oracle"``, ``"auc"``, ``"tpr@<fpr>"``.
        n_boot: number of replicates (shared by all metrics).
        level: interval coverage in (0, 1).
        seed: seeds the resamples.
        decisions: ``(decision_in, decision_out)``, one per score; required for ``"advantage"``.
    """
    if isinstance(metrics, str) or any(not isinstance(m, str) for m in metrics):
        raise TypeError("metrics must be a list of metric names, e.g. ['tpr@0.1%', 'auc']")
    metrics = list(metrics)
    out: dict[str, float] = {}
    score_metrics = [m for m in metrics if m != "advantage"]
    res = {}
    if score_metrics:
        res = bootstrap_metrics(scores_in, scores_out, score_metrics, n_boot=n_boot, level=level, seed=seed)
    for name in metrics:
        if name == "advantage":
            if decisions is None or decisions[0] is None or decisions[1] is None:
                raise ValueError(
                    "'advantage' (the attacker's own decisions, Eq. 2) needs decisions=(decision_in, decision_out); "
                    "for the best threshold chosen on the target ask for 'advantage_oracle'"
                )
            if len(decisions[0]) != len(np.ravel(scores_in)) or len(decisions[1]) != len(np.ravel(scores_out)):
                raise ValueError("decisions must have one entry per member / non-member score")
            est, lo, hi = decision_interval(decisions[0], decisions[1], n_boot=n_boot, level=level, seed=seed)
        else:
            est, lo, hi = res[name]
        out[name], out[f"{name}_low"], out[f"{name}_high"] = est, lo, hi
    return out


def seed_summary(df, by: Sequence[str], values: Sequence[str]):
    """Mean, standard deviation and count over seeds of ``values``, per group of ``by``.

    Args:
        df: a ``pandas.DataFrame`` with one row per (setting, seed).
        by: the columns that define a setting (e.g. ``["dataset", "defense", "attack"]``).
        values: numeric columns to summarize (e.g. ``["advantage", "tpr@0.1%"]``).

    Returns:
        One row per group with the ``by`` columns, then ``<value>_mean`` and
        ``<value>_std`` for each value (sample standard deviation, ``ddof=1``;
        NaN for a group of one seed; NaN entries are skipped) and ``n``, the
        number of rows (seeds) in the group.  Groups keep their first-seen order.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    by = [by] if isinstance(by, str) else list(by)
    values = [values] if isinstance(values, str) else list(values)
    if not by or not values:
        raise ValueError("by and values must each name at least one column")
    missing = [c for c in [*by, *values] if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame; it has {list(df.columns)}")
    overlap = set(by) & set(values)
    if overlap:
        raise ValueError(f"columns {sorted(overlap)} are both grouping keys and values")
    non_numeric = [v for v in values if not pd.api.types.is_numeric_dtype(df[v])]
    if non_numeric:
        raise ValueError(f"value columns must be numeric, got non-numeric {non_numeric}")
    if len(df) == 0:
        cols = [*by, *[f"{v}_{s}" for v in values for s in ("mean", "std")], "n"]
        return pd.DataFrame(columns=cols)
    g = df.groupby(by, sort=False, dropna=False)
    agg = g[values].agg(["mean", "std"])
    agg.columns = [f"{v}_{s}" for v, s in agg.columns]
    agg["n"] = g.size()
    return agg.reset_index()


def format_interval(estimate: float, low: float, high: float, *, percent: bool = True, digits: int = 1) -> str:
    """``"12.3% [10.1, 14.8]"`` (or without ``%`` scaling when ``percent=False``).

    Args:
        estimate: the point estimate.
        low: the interval's lower end.
        high: the interval's upper end.
        percent: multiply by 100 and append ``%`` (for rates).
        digits: decimals shown.

    Returns ``"n/a"`` when any of the three numbers is NaN.
    """
    vals = [estimate, low, high]
    if any(not isinstance(v, (int, float, np.floating)) for v in vals):
        raise TypeError("estimate, low and high must be numbers")
    if any(isinstance(v, float) and math.isnan(v) for v in vals):
        return "n/a"
    k = 100.0 if percent else 1.0
    unit = "%" if percent else ""
    return f"{k * estimate:.{digits}f}{unit} [{k * low:.{digits}f}, {k * high:.{digits}f}]"
