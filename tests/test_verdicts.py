"""Tests of ccl_lib.verdicts: t-intervals over seeds and the verdict rule (>= 3 seeds, interval decides)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ccl_lib.verdicts import INCONCLUSIVE, SeedInterval, difference_interval, seed_interval, verdict


def test_seed_interval_matches_the_t_table():
    """[1, 2, 3]: mean 2, s = 1, t_{2, 0.975} = 4.302653 (t table) -> 2 +- 4.302653 / sqrt(3)."""
    iv = seed_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert (iv.low, iv.high) == pytest.approx((2 - half, 2 + half), rel=1e-9)
    assert iv.n == 3 and iv.method == "t"


def test_seed_interval_covers_the_mean_95_percent_of_the_time():
    """3 seeds from N(0.3, 0.05^2), 4000 draws: coverage within 4 binomial standard errors of 0.95."""
    rng = np.random.default_rng(1)
    draws = rng.normal(0.3, 0.05, size=(4000, 3))
    hit = np.mean([(lambda iv: iv.low <= 0.3 <= iv.high)(seed_interval(d)) for d in draws])
    assert abs(hit - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 4000)


def test_one_seed_has_no_interval_and_no_verdict():
    iv = seed_interval([0.4])
    assert math.isnan(iv.low) and math.isnan(iv.high)
    assert verdict(iv, claim="lower").word == INCONCLUSIVE


def test_welch_and_paired_intervals_match_scipy_t_tests():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.2, 0.03, 5), rng.normal(0.25, 0.08, 4)
    iv = difference_interval(a, b, paired=False)
    ref = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high), rel=1e-9)
    c = b[:4] + rng.normal(0, 0.01, 4)
    iv = difference_interval(b, c, paired=True)
    ref = stats.ttest_rel(b, c).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high), rel=1e-9)
    with pytest.raises(ValueError, match="one value per seed"):
        difference_interval(a, b, paired=True)


@pytest.mark.parametrize(
    "low, high, n, kw, word",
    [
        (-0.3, -0.1, 3, {"claim": "lower"}, "agrees"),
        (0.1, 0.3, 3, {"claim": "lower"}, "not reproduced"),
        (-0.1, 0.2, 3, {"claim": "lower"}, INCONCLUSIVE),
        (-0.3, -0.1, 2, {"claim": "lower"}, INCONCLUSIVE),  # two seeds never decide
        (0.1, 0.3, 5, {"claim": "positive"}, "agrees"),
        (-0.3, -0.1, 3, {}, "lower"),
        (0.1, 0.3, 3, {}, "higher"),
        (0.70, 0.80, 3, {"paper": 0.769}, "agrees"),
        (0.60, 0.70, 3, {"paper": 0.769}, "lower"),
        (0.80, 0.90, 3, {"paper": 0.769}, "higher"),
    ],
)
def test_verdict_words(low, high, n, kw, word):
    v = verdict(SeedInterval((low + high) / 2, low, high, n), **kw)
    assert v.word == word
    assert v.conclusive == (word != INCONCLUSIVE)


def test_verdict_rejects_bad_input():
    iv = SeedInterval(0.0, -1.0, 1.0, 3)
    with pytest.raises(ValueError, match="claim must be one of"):
        verdict(iv, claim="smaller")
    with pytest.raises(ValueError, match="not both"):
        verdict(iv, claim="lower", paper=0.1)
    with pytest.raises(ValueError, match="min_seeds"):
        verdict(iv, min_seeds=2)
    with pytest.raises(ValueError, match="low <= high"):
        SeedInterval(0.0, 1.0, -1.0, 3)
    with pytest.raises(ValueError, match="finite"):
        seed_interval([0.1, float("nan")])


def test_text_and_format():
    v = verdict(SeedInterval(-0.12, -0.18, -0.06, 3), claim="lower")
    assert v.text() == "agrees: -0.120 [-0.180, -0.060], 3 seeds"
    assert SeedInterval(0.123, 0.101, 0.148, 3).format(percent=True, digits=1) == "12.3 % [10.1, 14.8]"


def test_format_never_prints_negative_zero():
    assert SeedInterval(-0.0001, -0.0004, 0.0002, 3).format() == "0.000 [0.000, 0.000]"
    assert SeedInterval(-0.0004, -0.002, 0.0001, 3).format(percent=True, digits=1) == "0.0 % [-0.2, 0.0]"


def test_margin_turns_a_wide_interval_around_the_paper_value_inconclusive():
    wide = SeedInterval(3.7, -6.7, 14.0, 3)
    assert verdict(wide, paper=0.0).word == "agrees"
    assert verdict(wide, paper=0.0, margin=3.0).word == INCONCLUSIVE
    assert verdict(SeedInterval(0.5, -1.0, 2.0, 3), paper=0.0, margin=3.0).word == "agrees"
    assert verdict(SeedInterval(5.0, 4.0, 6.0, 3), paper=0.0, margin=3.0).word == "higher"
    with pytest.raises(ValueError, match="margin"):
        verdict(wide, margin=3.0)
