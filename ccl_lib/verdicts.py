"""Verdicts over seeds: a paired effect's 95 % t-interval, compared with zero and with the paper's effect.

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
* :meth:`SeedInterval.p_value` -- the two-sided p-value of the t-test behind a
  (paired) t-interval, for :func:`holm`.
* :func:`verdict` -- a :class:`Verdict` from an interval.  With a ``claim``
  about the sign (``"lower"``: the paper says the effect is below zero, e.g.
  CCL's advantage minus the vanilla one; ``"higher"``: above zero) and,
  where the paper gives one, its effect (``paper_effect``, e.g. Table 1's
  +0.028 of CCQL's P1 over the undefended model on CIFAR-10):

  - :data:`AGREES` -- the whole interval lies on the paper's side of zero;
  - :data:`OPPOSITE` -- the whole interval lies on the other side of zero;
  - :data:`SMALLER` -- the interval holds zero but excludes the paper's effect:
    the effect is at most the interval's bound on the paper's side
    ("smaller than the paper's (at most X)", :meth:`Verdict.label`);
  - :data:`INCONCLUSIVE` -- the interval holds zero and the paper's effect
    (or zero, when the paper gives no effect); the verdict then says how many
    seeds would decide it (:func:`seeds_to_decide`, :attr:`Verdict.seeds_needed`);
  - :data:`NO_VERDICT` -- fewer than :data:`MIN_SEEDS` (3) seeds, or no finite
    interval: no verdict at all ("1 seed: no interval").

  With a ``paper`` *value* instead (a level, not an effect: the paper's P1 of
  0.769, say): ``"agrees"`` when the paper's number lies in the interval,
  ``"lower"`` / ``"higher"`` when the whole interval is below / above it.  With
  neither: ``"lower"`` / ``"higher"`` (than zero) when the interval excludes
  zero, else :data:`INCONCLUSIVE`.
* :func:`holm` -- Holm's (1979) step-down adjustment of a family of p-values
  (the scorecard's rows), controlling the family-wise error rate.

:data:`NOT_REPRODUCED` keeps its meaning for the rows that are not intervals
over seeds (a point check of a theorem that fails).  The same rule applies
to an interval that is not a t-interval (a bootstrap interval of a rank
correlation, say): build a :class:`SeedInterval` by hand with the number of
seeds behind it (it then carries no p-value and no seeds-needed estimate).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

__all__ = [
    "AGREES",
    "CE_GAP_MAX",
    "INCONCLUSIVE",
    "LEGACY_WORDS",
    "MAX_SEEDS_NEEDED",
    "MIN_SEEDS",
    "NOT_REPRODUCED",
    "NO_VERDICT",
    "OPPOSITE",
    "SMALLER",
    "SeedInterval",
    "TRAIN_ACC_MIN",
    "VERDICT_WORDS",
    "Verdict",
    "difference_interval",
    "holm",
    "seed_interval",
    "seeds_to_decide",
    "trains",
    "verdict",
]

#: A model trains when its final train accuracy is at least this (a fraction) ...
TRAIN_ACC_MIN = 0.95
#: ... or when it is at most this far (a fraction: 0.05 = 5 points) below cross-entropy's.
CE_GAP_MAX = 0.05


def _accuracy(name: str, v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a > 1):
        raise ValueError(f"{name} must be accuracies in [0, 1] (fractions, not percent), got {v!r}")
    return a


def trains(train_acc: Any, ce_train_acc: Any) -> Any:
    """Whether a model trained: final train accuracy >= :data:`TRAIN_ACC_MIN`, or within :data:`CE_GAP_MAX` of CE's.

    Issue 20 item 5: a comparison of advantages (Eq. 2) between a model that fits its members and one
    that stays near chance measures the failure to train, not a defense; no verdict may rest on a
    model for which this is False (chapters 6, 8 and 11 exclude such rows).

    Args:
        train_acc: the model's final train accuracy (a fraction in [0, 1]), or an array of them.
        ce_train_acc: the final train accuracy of cross-entropy at the unscaled recipe on the same data
            and seed (same shape as ``train_acc``, or a scalar).

    Returns:
        a bool (for scalars) or a bool array.
    """
    a, ce = _accuracy("train_acc", train_acc), _accuracy("ce_train_acc", ce_train_acc)
    # a tiny slack so that 0.95 and "exactly 5 points below" count, whatever the float rounding
    ok = (a >= TRAIN_ACC_MIN - 1e-12) | (a >= ce - CE_GAP_MAX - 1e-12)
    return bool(ok) if ok.ndim == 0 else ok


#: Fewest seeds behind an interval before any verdict is drawn.
MIN_SEEDS = 3
#: The whole interval lies on the paper's side of zero (or, against a paper *value*, holds it).
AGREES = "agrees"
#: The whole interval lies on the other side of zero than the paper's claim.
OPPOSITE = "opposite"
#: The interval holds zero but excludes the paper's effect (:meth:`Verdict.label` adds "(at most X)").
SMALLER = "smaller than the paper's"
#: A check that is not an interval over seeds failed (e.g. a theorem's bound on a sampled distribution).
NOT_REPRODUCED = "not reproduced"
#: The interval holds zero and the paper's effect: more seeds needed (:attr:`Verdict.seeds_needed`).
INCONCLUSIVE = "inconclusive"
#: Fewer than :data:`MIN_SEEDS` seeds or no finite interval: no verdict is drawn.
NO_VERDICT = "no verdict"
#: Every word :func:`verdict` can return (``"lower"`` / ``"higher"``: against a paper value, or with no claim).
VERDICT_WORDS = (AGREES, OPPOSITE, SMALLER, NOT_REPRODUCED, INCONCLUSIVE, NO_VERDICT, "lower", "higher")
#: Former words, still accepted where a word is read (scorecard files, chapters): old word -> word.
LEGACY_WORDS = {"inconclusive at this scale": INCONCLUSIVE}
#: :func:`seeds_to_decide` searches up to this many seeds (beyond it: ``None``).
MAX_SEEDS_NEEDED = 100_000

_T_METHODS = ("t", "paired t")


def _num(x: float, *, percent: bool = False, digits: int = 3, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals (times 100 with ``percent``), never ``"-0.000"``."""
    text = f"{(100.0 if percent else 1.0) * x:{'+' if signed else ''}.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("+-")
    return text


def _check_digits(digits: int) -> int:
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or not 0 <= digits <= 12:
        raise ValueError(f"digits must be an integer in [0, 12], got {digits!r}")
    return int(digits)


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
        unit = " %" if percent else ""
        if not math.isfinite(self.mean):
            return "n/a"

        def num(x: float) -> str:
            return _num(x, percent=percent, digits=digits)

        if not self.finite:
            return f"{num(self.mean)}{unit} (no interval, n = {self.n})"
        return f"{num(self.mean)}{unit} [{num(self.low)}, {num(self.high)}]"

    def _spread(self) -> Optional[float]:
        """The per-seed standard deviation behind a t-interval: ``half * sqrt(n) / t_{n-1}``; None otherwise."""
        if self.method not in _T_METHODS or self.n < 2 or not self.finite or not math.isfinite(self.mean):
            return None
        half = (self.high - self.low) / 2.0
        return half * math.sqrt(self.n) / _t_quantile(self.level, self.n - 1)

    def p_value(self, null: float = 0.0) -> float:
        """Two-sided p-value of the one-sample (paired) t-test of ``mean == null`` behind this interval.

        For a ``"t"`` or ``"paired t"`` interval (:func:`seed_interval`,
        :func:`difference_interval` with ``paired=True``) the standard error is
        ``half / t_{n-1, (1 + level) / 2}`` and ``p = 2 P(T_{n-1} > |mean - null| / se)``,
        the p-value of ``scipy.stats.ttest_rel`` on the paired values.  With zero spread,
        ``p`` is 0 when ``mean != null`` and 1 otherwise.  NaN for other methods (Welch,
        bootstrap: the interval does not determine a p-value) and below 2 seeds.

        Args:
            null: the value under the null hypothesis (0: no effect).
        """
        if isinstance(null, bool) or not isinstance(null, numbers.Real) or not math.isfinite(null):
            raise ValueError(f"null must be a finite number, got {null!r}")
        s = self._spread()
        if s is None:
            return math.nan
        from scipy import stats

        d = abs(self.mean - float(null))
        if s == 0.0:
            return 0.0 if d > 0 else 1.0
        return float(2.0 * stats.t.sf(d / (s / math.sqrt(self.n)), self.n - 1))

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


def seeds_to_decide(interval: SeedInterval, paper_effect: Optional[float] = None) -> Optional[int]:
    """How many seeds would let ``interval`` exclude zero or the paper's effect, from its observed spread.

    The per-seed standard deviation ``s`` is read back from the t-interval
    (``s = half * sqrt(n) / t_{n-1, (1 + level) / 2}``).  **Assumption:** the
    mean and ``s`` stay as observed as seeds are added (a planning estimate,
    not a guarantee: ``s`` itself is uncertain with few seeds).  The interval
    then excludes zero once its half-width drops below ``|mean|``, and the
    paper's effect once it drops below ``|mean - paper_effect|``; the answer is
    the smallest ``n`` with ``t_{n-1, (1 + level) / 2} * s / sqrt(n)`` below the
    larger of the two distances (whichever needs fewer seeds).  ``t / sqrt(n)``
    falls with ``n``, so the search is a bisection over ``2 .. MAX_SEEDS_NEEDED``.

    Args:
        interval: a ``"t"`` or ``"paired t"`` :class:`SeedInterval` with at least 2 seeds.
        paper_effect: the paper's effect (``None``: only zero is to be excluded).

    Returns:
        the total number of seeds (including those run), or ``None`` when the
        interval is no t-interval, the mean sits exactly on zero and on the paper's
        effect, or more than :data:`MAX_SEEDS_NEEDED` seeds would be needed.
    """
    if not isinstance(interval, SeedInterval):
        raise TypeError(f"interval must be a SeedInterval (see seed_interval), got {type(interval).__name__}")
    if paper_effect is not None and (isinstance(paper_effect, bool) or not isinstance(paper_effect, numbers.Real)
                                     or not math.isfinite(paper_effect)):  # fmt: skip
        raise ValueError(f"paper_effect must be a finite number or None, got {paper_effect!r}")
    s = interval._spread()
    if s is None:
        return None
    dist = abs(interval.mean)
    if paper_effect is not None:
        dist = max(dist, abs(interval.mean - float(paper_effect)))
    if dist == 0.0:
        return None
    if s == 0.0:
        return 2

    def half(n: int) -> float:
        return _t_quantile(interval.level, n - 1) * s / math.sqrt(n)

    if half(MAX_SEEDS_NEEDED) >= dist:
        return None
    lo, hi = 1, MAX_SEEDS_NEEDED  # half(hi) < dist; lo: not yet known to decide
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mid >= 2 and half(mid) < dist:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class Verdict:
    """A verdict word with the interval it rests on.

    Attributes:
        word: one of :data:`VERDICT_WORDS`.
        interval: the :class:`SeedInterval` behind it.
        claim: the paper's claim about the sign (``"lower"``/``"higher"``) or ``None``.
        paper: the paper's value it was compared with (a level, not an effect), or ``None``.
        reason: one sentence on why this word.
        paper_effect: the paper's effect (same units as the interval), or ``None``.
        bound: with :data:`SMALLER`, the interval's bound on the paper's side ("at most X").
        seeds_needed: with :data:`INCONCLUSIVE`, how many seeds would decide it
            (:func:`seeds_to_decide`; ``None`` when it cannot be estimated).
    """

    word: str
    interval: SeedInterval
    claim: Optional[str] = None
    paper: Optional[float] = None
    reason: str = ""
    paper_effect: Optional[float] = None
    bound: Optional[float] = None
    seeds_needed: Optional[int] = None

    @property
    def conclusive(self) -> bool:
        """Whether the word decides (anything but :data:`INCONCLUSIVE` and :data:`NO_VERDICT`)."""
        return self.word not in (INCONCLUSIVE, NO_VERDICT)

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the interval's t-test against the reference the word was drawn against.

        The reference is the paper's value with ``paper``, else zero (no effect);
        :meth:`SeedInterval.p_value` (NaN for intervals that are no t-intervals).
        """
        return self.interval.p_value(0.0 if self.paper is None else self.paper)

    def label(self, *, percent: bool = False, digits: int = 3) -> str:
        """The verdict as a reader sees it: the word with what it needs.

        ``"smaller than the paper's (at most +0.012)"``, ``"inconclusive: about 24
        seeds would decide it"``, ``"1 seed: no interval"``, ``"2 seeds: a verdict needs
        3"``; every other word as it is.

        Args:
            percent: write X in percent (points), as the interval.
            digits: decimals of X.
        """
        digits = _check_digits(digits)
        if self.word == SMALLER and self.bound is not None:
            unit = " %" if percent else ""
            return f"{SMALLER} (at most {_num(self.bound, percent=percent, digits=digits, signed=True)}{unit})"
        if self.word == INCONCLUSIVE and self.seeds_needed is not None:
            return f"{INCONCLUSIVE}: about {self.seeds_needed} seeds would decide it"
        if self.word == NO_VERDICT:
            n = self.interval.n
            if n == 0:
                return "0 seeds: not run"
            if n == 1:
                return "1 seed: no interval"
            if not self.interval.finite:
                return f"{n} seeds: no interval"
            return f"{n} seeds: a verdict needs {MIN_SEEDS}"
        return self.word

    def text(self, *, percent: bool = False, digits: int = 3) -> str:
        """``"agrees: -0.120 [-0.180, -0.060], 3 seeds"`` (with the paper's effect when given).

        Args:
            percent: show the interval in percent (:meth:`SeedInterval.format`).
            digits: decimals shown.
        """
        label = self.label(percent=percent, digits=digits)
        if self.word == NO_VERDICT:
            mean = self.interval.format(percent=percent, digits=digits).split(" (")[0]
            return label if mean == "n/a" else f"{label} (mean {mean})"
        seeds = f"{self.interval.n} seed{'' if self.interval.n == 1 else 's'}"
        out = f"{label}: {self.interval.format(percent=percent, digits=digits)}, {seeds}"
        if self.paper_effect is not None:
            unit = " %" if percent else ""
            out += f"; the paper: {_num(self.paper_effect, percent=percent, digits=digits, signed=True)}{unit}"
        return out

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"word": self.word, "interval": self.interval.to_dict(), "claim": self.claim, "paper": self.paper,
                "reason": self.reason, "paper_effect": self.paper_effect, "bound": self.bound,
                "seeds_needed": self.seeds_needed}  # fmt: skip


_CLAIMS = {"lower": "lower", "negative": "lower", "higher": "higher", "positive": "higher"}


def _finite_or_none(name: str, v: Optional[float]) -> Optional[float]:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number or None, got {v!r}")
    return float(v)


def verdict(
    interval: SeedInterval,
    *,
    claim: Optional[str] = None,
    paper: Optional[float] = None,
    paper_effect: Optional[float] = None,
    margin: Optional[float] = None,
    min_seeds: int = MIN_SEEDS,
) -> Verdict:
    """The verdict an interval supports (see the module docstring for the words).

    Args:
        interval: a :class:`SeedInterval` (e.g. of :func:`difference_interval`, paired by seed).
        claim: the paper's claim about the sign of the effect: ``"lower"``
            (or ``"negative"``: below zero) or ``"higher"`` (``"positive"``).
        paper: the paper's value of the quantity (a level, e.g. a P1 score; instead
            of ``claim`` and ``paper_effect``).
        paper_effect: the paper's effect in the interval's units (e.g. its P1 change over
            the undefended model, +0.028); its sign is the claim (``claim``, if also
            given, must agree).  Lets an interval that holds zero but not the paper's
            effect read :data:`SMALLER`.
        margin: with ``paper``, an equivalence margin: "agrees" then needs the whole
            interval inside ``paper +- margin`` (a wide interval that merely contains the
            paper's value is :data:`INCONCLUSIVE`). ``None``: containing it suffices.
        min_seeds: fewest seeds for a verdict (at least 3).

    Returns:
        a :class:`Verdict`; :data:`NO_VERDICT` when the interval is missing or rests on
        fewer than ``min_seeds`` seeds.
    """
    if not isinstance(interval, SeedInterval):
        raise TypeError(f"interval must be a SeedInterval (see seed_interval), got {type(interval).__name__}")
    if paper is not None and (claim is not None or paper_effect is not None):
        raise ValueError("give either paper (a value the paper reports) or claim/paper_effect (an effect's sign "
                         "and size), not both")  # fmt: skip
    if claim is not None and claim not in _CLAIMS:
        raise ValueError(f"claim must be one of {sorted(_CLAIMS)} or None, got {claim!r}")
    p = _finite_or_none("paper", paper)
    pe = _finite_or_none("paper_effect", paper_effect)
    if margin is not None and (paper is None or isinstance(margin, bool) or not isinstance(margin, numbers.Real)
                               or not margin > 0):  # fmt: skip
        raise ValueError(f"margin needs paper and must be a positive number, got {margin!r}")
    if isinstance(min_seeds, bool) or not isinstance(min_seeds, numbers.Integral) or min_seeds < MIN_SEEDS:
        raise ValueError(f"min_seeds must be an integer >= {MIN_SEEDS} (verdicts need 3 seeds), got {min_seeds!r}")
    c = _CLAIMS.get(claim) if claim is not None else None
    if pe is not None:
        if pe == 0.0:
            raise ValueError("paper_effect must be non-zero (its sign is the paper's claim); for a claim of no "
                             "effect use paper=0.0")  # fmt: skip
        side_of_paper = "higher" if pe > 0 else "lower"
        if c is not None and c != side_of_paper:
            raise ValueError(f"claim {claim!r} contradicts paper_effect {pe:g} (its sign says {side_of_paper!r})")
        c = side_of_paper

    def out(word: str, reason: str, bound: Optional[float] = None, need: Optional[int] = None) -> Verdict:
        return Verdict(word, interval, c, p, reason, pe, bound, need)

    if interval.n < min_seeds:
        return out(NO_VERDICT, f"{interval.n} seed(s); a verdict needs at least {min_seeds}")
    if not interval.finite or not math.isfinite(interval.mean):
        return out(NO_VERDICT, "no finite interval")
    ref = 0.0 if p is None else p
    below, above = interval.high < ref, interval.low > ref
    if p is not None:
        if below:
            return out("lower", f"the whole interval is below the paper's {p:g}")
        if above:
            return out("higher", f"the whole interval is above the paper's {p:g}")
        if margin is not None and not (p - margin <= interval.low and interval.high <= p + margin):
            return out(INCONCLUSIVE, f"the interval holds the paper's {p:g} but reaches beyond +-{margin:g}")
        return out(AGREES, f"the paper's {p:g} lies in the interval")
    where = "below" if below else "above"
    if below or above:
        side = "lower" if below else "higher"
        if c is None:
            return out(side, f"the whole interval is {where} zero")
        if side == c:
            return out(AGREES, f"the whole interval is {where} zero, as the paper says")
        return out(OPPOSITE, f"the whole interval is {where} zero; the paper says {c}")
    if pe is not None and (pe > interval.high if c == "higher" else pe < interval.low):
        bound = interval.high if c == "higher" else interval.low
        return out(SMALLER, f"the interval holds zero but excludes the paper's {pe:g}", bound=bound)
    need = seeds_to_decide(interval, pe)
    what = "zero" if pe is None else f"zero and the paper's {pe:g}"
    tail = f"; about {need} seeds would decide it" if need is not None else ""
    return out(INCONCLUSIVE, f"the interval holds {what}{tail}", need=need)


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm, 1979, "A simple sequentially rejective multiple test procedure").

    Sort the ``m`` p-values, ``p_(1) <= ... <= p_(m)``; the adjusted value of
    ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``.  Rejecting every
    hypothesis whose adjusted value is at most ``alpha`` holds the family-wise
    error rate (the chance of any false rejection) at ``alpha`` under any
    dependence between the tests.  Returned in the input's order.

    Args:
        pvalues: the family's p-values, each in [0, 1] (may be empty).
    """
    if isinstance(pvalues, (str, bytes)):
        raise ValueError("pvalues must be a sequence of numbers in [0, 1], got a string")
    try:
        p = np.asarray(pvalues, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"pvalues must be a sequence of numbers in [0, 1], got {pvalues!r}") from None
    if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
        raise ValueError(f"pvalues must be finite numbers in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
