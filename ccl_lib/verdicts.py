"""Verdicts over seeds: a mean with its 95 % t-interval, and a verdict word only when the interval supports it.

The paper (Liu et al., ICML 2024, Sec. 5.2) reports one training run per
setting.  A reproduction that draws a conclusion ("CCL lowers the advantage",
"the P1 score agrees with Table 1") needs to know whether the difference it
sees is larger than what a change of seed does.  This module holds the rule
every chapter of the book uses:

* :func:`seed_interval` -- mean over seeds with Student's t-interval
  (``mean +- t_{n-1, 0.975} * s / sqrt(n)``).
* :func:`difference_interval` -- the same for a difference of two arms,
  paired by seed (same split per seed: the per-seed differences) or
  unpaired (Welch's interval with Satterthwaite's degrees of freedom).
* :func:`verdict` -- a :class:`Verdict` word from an interval:

  - with a ``claim`` about the sign (``"lower"``: the paper says the quantity
    is below zero, e.g. CCL's advantage minus the vanilla one; ``"higher"``:
    above zero): ``"agrees"`` when the whole interval is on the claimed side of
    zero, ``"not reproduced"`` when it is on the other side;
  - with a ``paper`` value: ``"agrees"`` when the paper's number lies in the
    interval, ``"lower"`` / ``"higher"`` when the whole interval is below / above it;
  - with neither: ``"lower"`` / ``"higher"`` (than zero) when the interval excludes zero;
  - otherwise, and whenever fewer than :data:`MIN_SEEDS` seeds (3) stand
    behind the interval, ``"inconclusive at this scale"``.

The same rule applies to an interval that is not a t-interval (a bootstrap
interval of a rank correlation, say): build a :class:`SeedInterval` by hand
with the number of seeds behind it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = [
    "INCONCLUSIVE",
    "MIN_SEEDS",
    "SeedInterval",
    "VERDICT_WORDS",
    "Verdict",
    "difference_interval",
    "seed_interval",
    "verdict",
]

#: Fewest seeds behind an interval before a verdict word other than "inconclusive" is used.
MIN_SEEDS = 3
#: The word for an interval that does not decide.
INCONCLUSIVE = "inconclusive at this scale"
#: Every word :func:`verdict` can return.
VERDICT_WORDS = ("agrees", "not reproduced", "lower", "higher", INCONCLUSIVE)


@dataclass(frozen=True)
class SeedInterval:
    """A mean over seeds with a confidence interval.

    Attributes:
        mean: the estimate.
        low: the interval's lower end (NaN with fewer than 2 values).
        high: the interval's upper end (NaN with fewer than 2 values).
        n: how many seeds (independent runs) stand behind it.
        level: the confidence level (0.95).
        method: ``"t"``, ``"paired t"``, ``"welch t"`` or the name of another method
            (e.g. ``"bootstrap"``).
    """

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95
    method: str = "t"

    def __post_init__(self) -> None:
        for name in ("mean", "low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"SeedInterval.{name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if isinstance(self.n, bool) or not isinstance(self.n, numbers.Integral) or self.n < 0:
            raise ValueError(f"SeedInterval.n must be a non-negative integer (the number of seeds), got {self.n!r}")
        object.__setattr__(self, "n", int(self.n))
        if not 0.0 < float(self.level) < 1.0:
            raise ValueError(f"SeedInterval.level must be in (0, 1), got {self.level!r}")
        if not (math.isnan(self.low) or math.isnan(self.high)) and self.low > self.high:
            raise ValueError(f"SeedInterval needs low <= high, got [{self.low}, {self.high}]")

    @property
    def finite(self) -> bool:
        """Whether both ends are finite numbers."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    def format(self, *, percent: bool = False, digits: int = 3) -> str:
        """``"0.123 [0.101, 0.148]"`` (``percent=True``: ``"12.3 % [10.1, 14.8]"``).

        Args:
            percent: multiply by 100 and append ``" %"`` (for rates).
            digits: decimals shown.

        A NaN mean gives ``"n/a"``; missing ends give the mean with "(no interval, n = ...)".
        """
        k, unit = (100.0, " %") if percent else (1.0, "")
        if not math.isfinite(self.mean):
            return "n/a"

        def num(x: float) -> str:
            text = f"{k * x:.{digits}f}"
            return text.lstrip("-") if float(text) == 0 else text  # never "-0.000"

        if not self.finite:
            return f"{num(self.mean)}{unit} (no interval, n = {self.n})"
        return f"{num(self.mean)}{unit} [{num(self.low)}, {num(self.high)}]"

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n, "level": self.level,
                "method": self.method}  # fmt: skip


def _values(name: str, values: Sequence[float]) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of numbers (one per seed), got a string")
    try:
        v = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers (one per seed), got {values!r}") from None
    if v.size == 0:
        raise ValueError(f"{name} is empty; give one value per seed")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must hold finite numbers, got {v.tolist()}")
    return v


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be a number in (0, 1) (0.95 for a 95 % interval), got {level!r}")
    return float(level)


def _t_quantile(level: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2.0, df))


def seed_interval(values: Sequence[float], level: float = 0.95) -> SeedInterval:
    """Mean of ``values`` (one per seed) with Student's t-interval.

    ``mean +- t_{n-1, (1 + level) / 2} * s / sqrt(n)`` with ``s`` the sample
    standard deviation (``ddof=1``).  One value gives NaN ends (no spread to
    measure).  Raises ``ValueError`` for empty or non-finite input.

    Args:
        values: one finite number per seed.
        level: the confidence level in (0, 1) (0.95: a 95 % interval).
    """
    level = _check_level(level)
    v = _values("values", values)
    n = int(v.size)
    m = float(v.mean())
    if n < 2:
        return SeedInterval(m, math.nan, math.nan, n, level, "t")
    half = _t_quantile(level, n - 1) * float(v.std(ddof=1)) / math.sqrt(n)
    return SeedInterval(m, m - half, m + half, n, level, "t")


def difference_interval(
    a: Sequence[float], b: Sequence[float], *, paired: bool = True, level: float = 0.95
) -> SeedInterval:
    """Interval of ``mean(a) - mean(b)`` over seeds.

    ``paired=True``: ``a[i]`` and ``b[i]`` come from the same seed (the same
    data split, as in :func:`ccl_lib.splits.make_splits`), so the interval is
    :func:`seed_interval` of the differences.  ``paired=False``: Welch's
    t-interval with Satterthwaite's degrees of freedom.  ``n`` of the result
    is the smaller number of seeds.

    Args:
        a: one finite value per seed of the first arm (e.g. CCL's advantage).
        b: one finite value per seed of the second arm (e.g. the vanilla model's);
            as long as ``a`` when ``paired``.
        paired: whether ``a[i]`` and ``b[i]`` share seed ``i``, as above.
        level: the confidence level in (0, 1).
    """
    level = _check_level(level)
    xa, xb = _values("a", a), _values("b", b)
    if paired:
        if xa.size != xb.size:
            raise ValueError(f"paired differences need one value per seed in both arms, got {xa.size} and {xb.size}")
        r = seed_interval(xa - xb, level)
        return SeedInterval(r.mean, r.low, r.high, r.n, level, "paired t")
    m = float(xa.mean() - xb.mean())
    n = int(min(xa.size, xb.size))
    if n < 2:
        return SeedInterval(m, math.nan, math.nan, n, level, "welch t")
    va, vb = float(xa.var(ddof=1)) / xa.size, float(xb.var(ddof=1)) / xb.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return SeedInterval(m, m, m, n, level, "welch t")
    df = (va + vb) ** 2 / (va**2 / (xa.size - 1) + vb**2 / (xb.size - 1))
    half = _t_quantile(level, df) * se
    return SeedInterval(m, m - half, m + half, n, level, "welch t")


@dataclass(frozen=True)
class Verdict:
    """A verdict word with the interval it rests on.

    Attributes:
        word: one of :data:`VERDICT_WORDS`.
        interval: the :class:`SeedInterval` behind it.
        claim: the paper's claim about the sign (``"lower"``/``"higher"``) or ``None``.
        paper: the paper's value it was compared with, or ``None``.
        reason: one sentence on why this word.
    """

    word: str
    interval: SeedInterval
    claim: Optional[str] = None
    paper: Optional[float] = None
    reason: str = ""

    @property
    def conclusive(self) -> bool:
        """Whether the word is anything but "inconclusive at this scale"."""
        return self.word != INCONCLUSIVE

    def text(self, *, percent: bool = False, digits: int = 3) -> str:
        """``"agrees: -0.120 [-0.180, -0.060], 3 seeds"``.

        Args:
            percent: show the interval in percent (:meth:`SeedInterval.format`).
            digits: decimals shown.
        """
        return f"{self.word}: {self.interval.format(percent=percent, digits=digits)}, {self.interval.n} seeds"

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"word": self.word, "interval": self.interval.to_dict(), "claim": self.claim, "paper": self.paper,
                "reason": self.reason}  # fmt: skip


_CLAIMS = {"lower": "lower", "negative": "lower", "higher": "higher", "positive": "higher"}


def verdict(
    interval: SeedInterval,
    *,
    claim: Optional[str] = None,
    paper: Optional[float] = None,
    margin: Optional[float] = None,
    min_seeds: int = MIN_SEEDS,
) -> Verdict:
    """The verdict word an interval supports (see the module docstring).

    Args:
        interval: a :class:`SeedInterval` (e.g. of :func:`difference_interval`).
        claim: the paper's claim about the sign of the quantity: ``"lower"``
            (or ``"negative"``: below zero) or ``"higher"`` (``"positive"``).
        paper: the paper's value of the quantity (instead of ``claim``).
        margin: with ``paper``, an equivalence margin: "agrees" then needs the whole
            interval inside ``paper +- margin`` (a wide interval that merely contains the
            paper's value is "inconclusive at this scale"). ``None``: containing it suffices.
        min_seeds: fewest seeds for a conclusive word (at least 3).

    Returns:
        a :class:`Verdict`; ``"inconclusive at this scale"`` when the interval
        is missing, straddles the reference, or rests on fewer than ``min_seeds`` seeds.
    """
    if not isinstance(interval, SeedInterval):
        raise TypeError(f"interval must be a SeedInterval (see seed_interval), got {type(interval).__name__}")
    if claim is not None and paper is not None:
        raise ValueError("give either claim (a sign the paper asserts) or paper (a value it reports), not both")
    if claim is not None and claim not in _CLAIMS:
        raise ValueError(f"claim must be one of {sorted(_CLAIMS)} or None, got {claim!r}")
    bad_paper = isinstance(paper, bool) or not isinstance(paper, numbers.Real) or not math.isfinite(paper)
    if paper is not None and bad_paper:
        raise ValueError(f"paper must be a finite number or None, got {paper!r}")
    if margin is not None and (paper is None or isinstance(margin, bool) or not isinstance(margin, numbers.Real)
                               or not margin > 0):  # fmt: skip
        raise ValueError(f"margin needs paper and must be a positive number, got {margin!r}")
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, numbers.Integral) or min_seeds < MIN_SEEDS:
        raise ValueError(f"min_seeds must be an integer >= {MIN_SEEDS} (verdicts need 3 seeds), got {min_seeds!r}")
    c = _CLAIMS.get(claim) if claim is not None else None
    p = None if paper is None else float(paper)

    def out(word: str, reason: str) -> Verdict:
        return Verdict(word, interval, c, p, reason)

    if interval.n < min_seeds:
        return out(INCONCLUSIVE, f"{interval.n} seed(s); a verdict needs at least {min_seeds}")
    if not interval.finite:
        return out(INCONCLUSIVE, "no finite interval")
    ref = 0.0 if p is None else p
    below, above = interval.high < ref, interval.low > ref
    if p is not None:
        if below:
            return out("lower", f"the whole interval is below the paper's {p:g}")
        if above:
            return out("higher", f"the whole interval is above the paper's {p:g}")
        if margin is not None and not (p - margin <= interval.low and interval.high <= p + margin):
            return out(INCONCLUSIVE, f"the interval holds the paper's {p:g} but reaches beyond +-{margin:g}")
        return out("agrees", f"the paper's {p:g} lies in the interval")
    if not (below or above):
        return out(INCONCLUSIVE, "the interval contains zero")
    side = "lower" if below else "higher"
    if c is None:
        return out(side, f"the whole interval is {'below' if below else 'above'} zero")
    if side == c:
        return out("agrees", f"the whole interval is {'below' if below else 'above'} zero, as the paper says")
    return out("not reproduced", f"the whole interval is {'below' if below else 'above'} zero; the paper says {c}")
