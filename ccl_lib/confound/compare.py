"""CCL against cross-entropy at the same effective recipe, and Theorem 6.1's premise across runs.

* :func:`compare_at_equal_accuracy` -- CCL against CE trained with the equivalent learning rate and
  weight decay, paired by seed, with a verdict only when accuracy is matched (or CCL dominates).
* :func:`variance_premise` -- the rank correlation (Spearman) of the training-loss variance (or
  variance / mean) with the attacker's advantage across runs, with a bootstrap interval (Thm 6.1).
* :func:`format_points` / :func:`describe_comparison` -- their plain-text forms.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional

import numpy as np

from ..verdicts import INCONCLUSIVE, SeedInterval, Verdict, difference_interval, verdict
from .arms import _positive, headline_frame

__all__ = ["compare_at_equal_accuracy", "describe_comparison", "format_points", "variance_premise"]


def _by_seed(h, dataset: str, beta: float, arm: str):
    g = h[(h["dataset"] == dataset) & np.isclose(h["beta"], beta) & (h["arm"] == arm)]
    if g.empty:
        raise ValueError(f"no runs of arm {arm!r} (beta {beta:g}) on {dataset!r}")
    return g.set_index("seed").sort_index()


def compare_at_equal_accuracy(
    df,
    *,
    dataset: str,
    beta: float,
    ccl: str = "CCQL×β",
    ce: str = "CE(lr·β, wd/β)",
    attack: Optional[str] = None,
    tolerance: float = 0.02,
    level: float = 0.95,
) -> dict[str, Any]:
    """Does CCL beat cross-entropy trained with the same effective learning rate and weight decay?

    Paired by seed (both arms see the same split), it returns the intervals of
    the differences ``CCL - CE`` of the headline advantage (``adv``) and of the
    test accuracy.  The accuracies count as *equal* when the accuracy
    difference's whole interval lies within ``+- tolerance``.

    Verdict (``"verdict"``, a :class:`ccl_lib.verdicts.Verdict` on the
    advantage difference): ``"lower"`` -- CCL is less attackable at equal (or
    higher) accuracy; ``"higher"`` -- CCL is more attackable at equal (or lower)
    accuracy; otherwise -- a difference in advantage that comes with a
    difference in accuracy the other way, an interval containing 0, or fewer
    than 3 seeds -- ``"inconclusive at this scale"``.

    Returns a dict with ``adv_diff``, ``acc_diff`` (:class:`SeedInterval`),
    ``equal_accuracy`` (bool), ``verdict``, ``ccl``, ``ce`` (arm labels) and ``n``.

    Args:
        df: :func:`arm_frame`'s output.
        dataset: the data set compared.
        beta: the scale factor of the arms compared.
        ccl: the CCL arm's name (default ``"CCQL×β"``).
        ce: the cross-entropy arm's name (default the equivalent recipe, ``"CE(lr·β, wd/β)"``).
        attack: the attack whose advantage is compared (default: the highest).
        tolerance: the largest accuracy difference (> 0, a fraction: 0.02 = 2 points) that counts as equal.
        level: the intervals' confidence level in (0, 1).
    """
    tolerance = _positive("tolerance", tolerance)
    h = headline_frame(df, attack)
    a, b = _by_seed(h, dataset, beta, ccl), _by_seed(h, dataset, beta, ce)
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        raise ValueError(f"arms {ccl!r} and {ce!r} share no seed on {dataset!r}")
    adv = difference_interval(a.loc[seeds, "adv"].to_numpy(), b.loc[seeds, "adv"].to_numpy(), paired=True, level=level)
    acc = difference_interval(a.loc[seeds, "test_acc"].to_numpy(), b.loc[seeds, "test_acc"].to_numpy(), paired=True,
                              level=level)  # fmt: skip
    equal = acc.finite and -tolerance <= acc.low and acc.high <= tolerance
    v = verdict(adv)
    if v.word in ("lower", "higher"):
        ok = equal or (acc.finite and (acc.low > -tolerance if v.word == "lower" else acc.high < tolerance))
        if not ok:
            v = Verdict(INCONCLUSIVE, adv, reason=f"the advantage is {v.word} but the test accuracy differs "
                                                  f"({format_points(acc)}): a trade-off, "
                                                  "not a better privacy at equal utility")  # fmt: skip
    return {"adv_diff": adv, "acc_diff": acc, "equal_accuracy": bool(equal), "verdict": v,
            "ccl": a["arm_label"].iloc[0], "ce": b["arm_label"].iloc[0], "n": len(seeds)}  # fmt: skip


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def variance_premise(
    df,
    *,
    x: str = "train_loss_var",
    attack: Optional[str] = "loss",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Theorem 6.1's premise across runs: is a larger training-loss variance a lower advantage?

    Theorem 6.1 (Gaussian losses, Eq. 18): at a fixed false-positive rate the
    loss attack's advantage falls as the members' loss spread ``sigma_S`` grows,
    other things equal.  Across every run of a sweep this function computes
    Spearman's rank correlation between ``x`` (``"train_loss_var"``, or
    ``"train_loss_var_rel"`` = variance / mean) and the attacker's advantage
    (of ``attack``; ``None``: the highest over the paper's attacks), with a
    percentile bootstrap interval over runs (runs resampled with replacement).

    The verdict's claim is "negative"; it needs at least 3 seeds behind the
    runs (``n`` of the interval is the number of seeds).  Note the premise is
    confounded by memorization: runs that memorize more have *both* a smaller
    variance and a higher advantage.

    Returns a dict: ``rho``, ``interval`` (:class:`SeedInterval`, method
    ``"bootstrap"``), ``n_runs``, ``n_seeds``, ``verdict``, ``x``, ``attack``.

    Args:
        df: a result frame with every run of the sweep (at least 4 runs with finite values).
        x: ``"train_loss_var"`` or ``"train_loss_var_rel"``, as above.
        attack: as above (default ``"loss"``, the attack of Theorem 6.1).
        n_boot: bootstrap replicates (>= 100).
        level: the interval's confidence level in (0, 1).
        seed: seeds the bootstrap.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 100:
        raise ValueError(f"n_boot must be an integer >= 100, got {n_boot!r}")
    if x not in ("train_loss_var", "train_loss_var_rel"):
        raise ValueError(f"x must be 'train_loss_var' or 'train_loss_var_rel', got {x!r}")
    h = headline_frame(df, attack)
    keys = [c for c in ("key", "eval_epoch") if c in h.columns]
    h = h.drop_duplicates(keys)  # a run shared by two arms counts once
    xs, ys = h[x].to_numpy(np.float64), h["adv"].to_numpy(np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    n = int(len(xs))
    if n < 4:
        raise ValueError(f"a rank correlation needs at least 4 runs with finite values, got {n}")
    rho = _spearman(xs, ys)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        boots[i] = _spearman(xs[idx], ys[idx])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if len(boots) else (math.nan, math.nan)
    n_seeds = int(h["seed"].nunique())
    iv = SeedInterval(rho, float(lo), float(hi), n_seeds, level, "bootstrap")
    return {"rho": rho, "interval": iv, "n_runs": n, "n_seeds": n_seeds, "verdict": verdict(iv, claim="negative"),
            "x": x, "attack": attack or "max over the paper's attacks"}  # fmt: skip


def format_points(interval: SeedInterval, digits: int = 1) -> str:
    """An accuracy difference in percentage points: ``"-2.2 [-3.2, -1.2] points"``.

    Args:
        interval: a :class:`ccl_lib.verdicts.SeedInterval` of an accuracy difference (fractions).
        digits: decimals.
    """
    if not isinstance(interval, SeedInterval):
        raise TypeError(f"interval must be a SeedInterval, got {type(interval).__name__}")
    if not interval.finite:
        return f"{100 * interval.mean:.{digits}f} points (no interval, n = {interval.n})"
    return (f"{100 * interval.mean:.{digits}f} [{100 * interval.low:.{digits}f}, "
            f"{100 * interval.high:.{digits}f}] points")  # fmt: skip


def describe_comparison(cmp: Mapping[str, Any], dataset: str) -> str:
    """One plain-text sentence (for ``{glue:text}``) for a :func:`compare_at_equal_accuracy` result.

    Args:
        cmp: the dict :func:`compare_at_equal_accuracy` returned.
        dataset: the data set's name, as the sentence writes it.
    """
    adv, acc, v = cmp["adv_diff"], cmp["acc_diff"], cmp["verdict"]
    head = (f"On {dataset}, {cmp['ccl']} minus {cmp['ce']}: advantage {adv.format(digits=3)}, "
            f"test accuracy {format_points(acc)} ({cmp['n']} seeds, 95 % intervals)")  # fmt: skip
    if v.word == "lower":
        tail = "the concave term lowers the advantage beyond what the scale's learning rate and weight decay do"
    elif v.word == "higher":
        tail = "CCL is more attackable than cross-entropy trained with the same effective recipe"
    else:
        tail = v.reason or "the interval of the advantage difference contains 0"
    return f"{head}: {v.word} ({tail})."
