"""Tests of ccl_lib.splits: disjoint, exact, stratified, seeded parts (Sec. 5.1)."""

from __future__ import annotations

import numpy as np
import pytest

from ccl_lib.splits import PART_NAMES, make_splits


def imbalanced_labels(n=1003, k=7, seed=0):
    rng = np.random.default_rng(seed)
    p = np.arange(1, k + 1, dtype=float)
    return rng.choice(k, size=n, p=p / p.sum())


@pytest.mark.parametrize("n_parts", [4, 5])
@pytest.mark.parametrize("size", [None, 100, 37])
def test_parts_are_disjoint_exact_and_stratified(n_parts, size):
    y = imbalanced_labels()
    s = make_splits(y, n_parts=n_parts, size=size, seed=3)
    parts = dict(s.items())
    assert list(parts) == list(PART_NAMES[:n_parts])
    assert s.n_parts == n_parts
    assert (s.reference is None) == (n_parts == 4)
    expected = size if size is not None else len(y) // n_parts
    assert s.sizes() == {k: expected for k in parts}
    allidx = np.concatenate(list(parts.values()))
    assert len(np.unique(allidx)) == len(allidx)  # pairwise disjoint, no repeats
    assert allidx.min() >= 0 and allidx.max() < len(y)
    for v in parts.values():
        assert v.dtype.kind == "i" and np.all(np.diff(v) > 0)  # sorted index arrays
    counts = np.stack([np.bincount(y[v], minlength=7) for v in parts.values()])
    assert (counts.max(0) - counts.min(0) <= 1).all()  # per-class counts within 1 across parts
    # each part follows the pool's class proportions (within one example per class and part)
    pool = np.bincount(y, minlength=7) / len(y)
    assert np.abs(counts / expected - pool).max() <= 2.0 / expected


def test_subsample_class_proportions():
    y = imbalanced_labels(n=5000, seed=1)
    s = make_splits(y, size=200, seed=0)
    pool = np.bincount(y, minlength=7) / len(y)
    for _, v in s.items():
        frac = np.bincount(y[v], minlength=7) / 200
        assert np.abs(frac - pool).max() <= 2 / 200


def test_deterministic_per_seed_and_different_across_seeds():
    y = imbalanced_labels()
    a = make_splits(y, n_parts=5, size=150, seed=11)
    b = make_splits(y.copy(), n_parts=5, size=150, seed=11)
    c = make_splits(y, n_parts=5, size=150, seed=12)
    for name in PART_NAMES:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert any(not np.array_equal(getattr(a, k), getattr(c, k)) for k in PART_NAMES)
    assert not np.array_equal(a.target_train, c.target_train)
    assert a.seed == 11 and a.meta == {"size": 150, "n_pool": len(y)}


def test_seeds_give_different_target_members():
    """Over seeds, every example ends up in target_train with about equal frequency."""
    y = np.repeat(np.arange(4), 25)
    hits = np.zeros(100)
    for seed in range(40):
        hits[make_splits(y, seed=seed).target_train] += 1
    assert hits.min() > 0  # 1 in 4 chance each time: never chosen in 40 seeds has probability 1e-5


def test_small_classes():
    y = np.array([0] * 9 + [1] * 2 + [2] * 1)
    s = make_splits(y, n_parts=4, size=3, seed=0)
    counts = np.stack([np.bincount(y[v], minlength=3) for _, v in s.items()])
    assert counts.sum() == 12 and (counts.sum(1) == 3).all()
    assert (counts.max(0) - counts.min(0) <= 1).all()


def test_errors():
    y = imbalanced_labels(n=100)
    with pytest.raises(ValueError, match=r"size <= 25"):
        make_splits(y, size=26)
    with pytest.raises(ValueError, match=r"size <= 20"):
        make_splits(y, n_parts=5, size=21)
    for size in (0, -3, 2.5, "10", True):
        with pytest.raises(ValueError, match="size must be a positive integer"):
            make_splits(y, size=size)
    for n_parts in (3, 6, 4.0, "4", True):
        with pytest.raises(ValueError, match=r"n_parts must be 4 .* or 5"):
            make_splits(y, n_parts=n_parts)
    with pytest.raises(ValueError, match="integer class labels"):
        make_splits(y.astype(float))
    with pytest.raises(ValueError, match="integer class labels"):
        make_splits(y > 3)
    with pytest.raises(ValueError, match=">= 0"):
        make_splits(y - 1)
    with pytest.raises(ValueError, match="non-empty 1-d"):
        make_splits(np.zeros((10, 2), dtype=int))
    with pytest.raises(ValueError, match="non-empty 1-d"):
        make_splits(np.array([], dtype=int))
    for seed in (-1, 1.5, None):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            make_splits(y, seed=seed)


def test_huge_label_values_cost_no_memory_and_split_like_their_ranks():
    y = imbalanced_labels(n=100)
    ranks = np.unique(y, return_inverse=True)[1]
    huge = (y.astype(np.int64) * 10**12) + 7  # bincount over these labels would need terabytes
    a, b = make_splits(huge, size=20, seed=3), make_splits(ranks, size=20, seed=3)
    for (name, ia), (_, ib) in zip(a.items(), b.items()):
        assert np.array_equal(ia, ib), name


def test_fewer_examples_than_parts_is_a_clear_error():
    for n, parts in ((3, 4), (4, 5), (1, 4)):
        with pytest.raises(ValueError, match=rf"needs at least {parts} examples \(one per part\), but y has {n}"):
            make_splits(np.zeros(n, dtype=int), n_parts=parts)
    s = make_splits(np.array([0, 1, 0, 1]))  # exactly one per part works
    assert sorted(np.concatenate([v for _, v in s.items()]).tolist()) == [0, 1, 2, 3]
