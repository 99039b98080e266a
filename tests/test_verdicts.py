"""Tests of ccl_lib.verdicts: t-intervals over seeds, the verdict words, seeds to decide, p-values and Holm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ccl_lib.verdicts import (
    AGREES,
    INCONCLUSIVE,
    NO_VERDICT,
    OPPOSITE,
    SMALLER,
    VERDICT_WORDS,
    SeedInterval,
    Verdict,
    difference_interval,
    holm,
    seed_interval,
    seeds_to_decide,
    verdict,
)

# t_{2, 0.975} in closed form: with 2 degrees of freedom F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so
# t_q = q sqrt(2 / (1 - q^2)) with q = 2 F - 1 = 0.95.
T2 = 0.95 * math.sqrt(2.0 / (1.0 - 0.95**2))


def paired(mean: float, s: float, n: int = 3) -> SeedInterval:
    """A paired t-interval over n seeds with per-seed standard deviation s (t quantile from scipy)."""
    half = stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    return SeedInterval(mean, mean - half, mean + half, n, 0.95, "paired t")


def test_closed_form_t_quantile_is_scipys():
    assert T2 == pytest.approx(stats.t.ppf(0.975, 2), rel=1e-12) and T2 == pytest.approx(4.302652729911275)


def test_seed_interval_matches_the_t_table():
    """[1, 2, 3]: mean 2, s = 1 -> 2 +- t_{2, 0.975} / sqrt(3)."""
    iv = seed_interval([1.0, 2.0, 3.0])
    half = T2 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert (iv.low, iv.high) == pytest.approx((2 - half, 2 + half), rel=1e-9)
    assert iv.n == 3 and iv.method == "t"


def test_seed_interval_covers_the_mean_95_percent_of_the_time():
    """3 seeds from N(0.3, 0.05^2), 4000 draws: coverage within 4 binomial standard errors of 0.95."""
    rng = np.random.default_rng(1)
    draws = rng.normal(0.3, 0.05, size=(4000, 3))
    hit = np.mean([(lambda iv: iv.low <= 0.3 <= iv.high)(seed_interval(d)) for d in draws])
    assert abs(hit - 0.95) < 4 * math.sqrt(0.95 * 0.05 / 4000)


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


# Three seeds with values (m - d, m, m + d): s = d, the half-width is T2 * d / sqrt(3) = 2.484 d.
@pytest.mark.parametrize(
    "values, kw, word",
    [
        ([0.05, 0.06, 0.07], {"claim": "higher"}, AGREES),  # [0.035, 0.085]: above zero, as claimed
        ([0.05, 0.06, 0.07], {"paper_effect": 0.028}, AGREES),  # the paper's side, paper's effect inside or not
        ([0.05, 0.06, 0.07], {"paper_effect": 0.5}, AGREES),  # far below the paper's 0.5 but above zero
        ([-0.07, -0.06, -0.05], {"claim": "higher"}, OPPOSITE),
        ([-0.07, -0.06, -0.05], {"paper_effect": 0.028}, OPPOSITE),
        ([0.05, 0.06, 0.07], {"paper_effect": -0.1}, OPPOSITE),
        ([-0.01, 0.0, 0.01], {"paper_effect": 0.056}, SMALLER),  # [-0.025, 0.025] holds 0, not 0.056
        ([-0.01, 0.0, 0.01], {"paper_effect": -0.056}, SMALLER),
        ([-0.01, 0.0, 0.01], {"paper_effect": 0.02}, INCONCLUSIVE),  # holds 0 and 0.02
        ([-0.01, 0.0, 0.01], {"claim": "higher"}, INCONCLUSIVE),  # no paper effect: holds zero
        ([-0.01, 0.0, 0.01], {}, INCONCLUSIVE),
        ([0.05, 0.06, 0.07], {}, "higher"),
        ([-0.07, -0.06, -0.05], {}, "lower"),
        ([0.05, 0.06, 0.07], {"paper": 0.06}, AGREES),  # a paper *value*: the interval holds it
        ([0.05, 0.06, 0.07], {"paper": 0.2}, "lower"),
        ([0.05, 0.06, 0.07], {"paper": 0.01}, "higher"),
    ],
)
def test_each_word_from_a_constructed_interval(values, kw, word):
    iv = difference_interval(values, [0.0, 0.0, 0.0])
    half = T2 * float(np.std(values, ddof=1)) / math.sqrt(3)
    assert iv.high - iv.mean == pytest.approx(half)  # the interval the expectations above were worked out on
    v = verdict(iv, **kw)
    assert v.word == word and word in VERDICT_WORDS
    assert v.conclusive == (word not in (INCONCLUSIVE, NO_VERDICT))


def test_smaller_says_at_most_the_bound_on_the_papers_side():
    iv = paired(0.0, 0.01)  # [-0.02484, 0.02484]
    up = verdict(iv, paper_effect=0.056)
    assert up.bound == pytest.approx(0.01 * T2 / math.sqrt(3))
    assert up.label() == "smaller than the paper's (at most +0.025)"
    down = verdict(iv, paper_effect=-0.056)
    assert down.bound == pytest.approx(-0.01 * T2 / math.sqrt(3)) and down.label() == f"{SMALLER} (at most -0.025)"
    assert up.label(percent=True, digits=1) == "smaller than the paper's (at most +2.5 %)"
    assert up.text() == "smaller than the paper's (at most +0.025): 0.000 [-0.025, 0.025], 3 seeds; the paper: +0.056"


def test_fewer_than_three_seeds_give_no_verdict():
    one = verdict(seed_interval([0.4]), claim="lower")
    assert one.word == NO_VERDICT and one.label() == "1 seed: no interval" and not one.conclusive
    assert one.text() == "1 seed: no interval (mean 0.400)"
    two = verdict(paired(-0.3, 0.01, n=2), claim="lower")  # decisively below zero, but 2 seeds never decide
    assert two.word == NO_VERDICT and two.label() == "2 seeds: a verdict needs 3"
    assert verdict(SeedInterval(math.nan, math.nan, math.nan, 0), claim="lower").label() == "0 seeds: not run"
    assert verdict(SeedInterval(0.1, math.nan, math.nan, 5)).label() == "5 seeds: no interval"


def brute_force_seeds(mean: float, s: float, distances: list[float]) -> int:
    """Smallest n >= 2 with t_{n-1, 0.975} s / sqrt(n) below the largest distance: a plain loop."""
    target = max(distances)
    n = 2
    while stats.t.ppf(0.975, n - 1) * s / math.sqrt(n) >= target:
        n += 1
    return n


@pytest.mark.parametrize(
    "mean, s, n, paper_effect",
    [(0.01, 0.05, 3, 0.03), (0.007, 0.035, 3, 0.028), (-0.005, 0.008, 3, None), (0.02, 0.04, 5, 0.045),
     (0.047, 0.02, 3, 0.1), (0.0, 0.1, 3, 0.01), (0.001, 0.05, 10, None)],
)  # fmt: skip
def test_seeds_needed_matches_a_brute_force_loop(mean, s, n, paper_effect):
    iv = paired(mean, s, n)
    distances = [abs(mean)] + ([] if paper_effect is None else [abs(mean - paper_effect)])
    expect = brute_force_seeds(mean, s, distances)
    assert seeds_to_decide(iv, paper_effect) == expect
    v = verdict(iv, paper_effect=paper_effect) if paper_effect is not None else verdict(iv, claim="higher")
    if v.word == INCONCLUSIVE:
        assert v.seeds_needed == expect and v.label() == f"inconclusive: about {expect} seeds would decide it"


def test_seeds_needed_cannot_be_estimated():
    assert seeds_to_decide(paired(0.0, 0.1)) is None  # the mean sits on zero: no number of seeds moves it off
    assert seeds_to_decide(SeedInterval(0.01, -0.1, 0.12, 3, method="bootstrap")) is None  # no t-interval
    assert seeds_to_decide(paired(1e-9, 1.0)) is None  # beyond MAX_SEEDS_NEEDED
    with pytest.raises(ValueError, match="paper_effect"):
        seeds_to_decide(paired(0.0, 0.1), paper_effect=math.inf)


def test_p_value_is_the_paired_t_tests():
    rng = np.random.default_rng(3)
    a = rng.normal(0.3, 0.02, 6)
    b = a - rng.normal(0.01, 0.01, 6)
    iv = difference_interval(a, b, paired=True)
    assert iv.p_value() == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)
    assert verdict(iv, claim="higher").p_value == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-9)
    # against a paper value, the p-value tests that value
    one = seed_interval(a)
    assert verdict(one, paper=0.31).p_value == pytest.approx(stats.ttest_1samp(a, 0.31).pvalue, rel=1e-9)
    # the interval excludes zero exactly when p < 0.05
    assert (iv.low > 0 or iv.high < 0) == (iv.p_value() < 0.05)
    assert math.isnan(difference_interval(a, b, paired=False).p_value())  # Welch: not from the interval
    assert math.isnan(seed_interval([0.2]).p_value())
    assert SeedInterval(0.1, 0.1, 0.1, 3).p_value() == 0.0 and SeedInterval(0.0, 0.0, 0.0, 3).p_value() == 1.0


def test_holm_against_a_hand_computed_example():
    """p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 gives 0.02, 0.03,
    0.06, 0.04; the running maximum: 0.02, 0.03, 0.06, 0.06. Step-down at 5 %: 0.005 <= 0.05/4 and 0.01 <= 0.05/3
    are rejected, 0.03 > 0.05/2 stops."""
    adj = holm([0.01, 0.04, 0.03, 0.005])
    assert adj.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert (adj <= 0.05).tolist() == [True, False, False, True]
    assert holm([0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.2]).tolist() == [0.2] and holm([]).size == 0
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        holm([0.1, math.nan])


def test_verdict_rejects_bad_input():
    iv = SeedInterval(0.0, -1.0, 1.0, 3)
    with pytest.raises(ValueError, match="claim must be one of"):
        verdict(iv, claim="smaller")
    with pytest.raises(ValueError, match="not both"):
        verdict(iv, claim="lower", paper=0.1)
    with pytest.raises(ValueError, match="not both"):
        verdict(iv, paper_effect=0.1, paper=0.1)
    with pytest.raises(ValueError, match="contradicts"):
        verdict(iv, claim="lower", paper_effect=0.1)
    with pytest.raises(ValueError, match="non-zero"):
        verdict(iv, paper_effect=0.0)
    with pytest.raises(ValueError, match="paper_effect must be a finite"):
        verdict(iv, paper_effect=math.nan)
    with pytest.raises(ValueError, match="min_seeds"):
        verdict(iv, min_seeds=2)
    with pytest.raises(TypeError, match="SeedInterval"):
        verdict((0.0, -1.0, 1.0))
    with pytest.raises(ValueError, match="low <= high"):
        SeedInterval(0.0, 1.0, -1.0, 3)
    with pytest.raises(ValueError, match="finite"):
        seed_interval([0.1, float("nan")])


def test_text_and_format():
    v = verdict(SeedInterval(-0.12, -0.18, -0.06, 3), claim="lower")
    assert v.text() == "agrees: -0.120 [-0.180, -0.060], 3 seeds"
    assert SeedInterval(0.123, 0.101, 0.148, 3).format(percent=True, digits=1) == "12.3 % [10.1, 14.8]"
    assert Verdict(INCONCLUSIVE, SeedInterval(0.0, -1.0, 1.0, 3)).label() == "inconclusive"  # hand-made, no estimate


def test_format_never_prints_negative_zero():
    assert SeedInterval(-0.0001, -0.0004, 0.0002, 3).format() == "0.000 [0.000, 0.000]"
    assert SeedInterval(-0.0004, -0.002, 0.0001, 3).format(percent=True, digits=1) == "0.0 % [-0.2, 0.0]"


def test_margin_turns_a_wide_interval_around_the_paper_value_inconclusive():
    wide = SeedInterval(3.7, -6.7, 14.0, 3)
    assert verdict(wide, paper=0.0).word == AGREES
    assert verdict(wide, paper=0.0, margin=3.0).word == INCONCLUSIVE
    assert verdict(SeedInterval(0.5, -1.0, 2.0, 3), paper=0.0, margin=3.0).word == AGREES
    assert verdict(SeedInterval(5.0, 4.0, 6.0, 3), paper=0.0, margin=3.0).word == "higher"
    with pytest.raises(ValueError, match="margin"):
        verdict(wide, margin=3.0)
