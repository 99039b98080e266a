"""Disjoint, seeded, class-stratified splits of one data set (Sec. 5.1).

The paper splits each data set into four parts -- target train, target test,
shadow train, shadow test -- and, for the defenses that need extra data
(Mixup+MMD and adversarial regularization), into five, the fifth being the
reference part used to compute the adversary's loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import numpy as np

__all__ = ["Splits", "make_splits", "PART_NAMES"]

PART_NAMES = ("target_train", "target_test", "shadow_train", "shadow_test", "reference")


@dataclass(frozen=True)
class Splits:
    """Index arrays into one pooled data set; the parts are pairwise disjoint.

    Attributes:
        target_train: the target model's members (training set).
        target_test: the target's non-members (the attack's "out" examples).
        shadow_train: the shadow model's members (Sec. 5.1: the attacker's own model).
        shadow_test: the shadow's non-members.
        reference: the fifth part, a pool for LiRA/RMIA reference models (``None`` with 4 parts).
        seed: the seed of the permutation that drew the parts.
        meta: how the split was made (sizes, stratification), for the record.
    """

    target_train: np.ndarray
    target_test: np.ndarray
    shadow_train: np.ndarray
    shadow_test: np.ndarray
    reference: Optional[np.ndarray] = None
    seed: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def n_parts(self) -> int:
        return 4 if self.reference is None else 5

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        for name in PART_NAMES[: self.n_parts]:
            yield name, getattr(self, name)

    def sizes(self) -> dict[str, int]:
        return {k: int(len(v)) for k, v in self.items()}


def make_splits(
    y: np.ndarray,
    n_parts: int = 4,
    size: Optional[int] = None,
    seed: int = 0,
) -> Splits:
    """Split the indices of labels ``y`` into ``n_parts`` (4 or 5) disjoint, stratified parts.

    Args:
        y: (n,) integer labels of the pooled data set.
        n_parts: 4 (target/shadow x train/test) or 5 (plus ``reference``).
        size: examples per part; ``None`` uses ``len(y) // n_parts`` (all the data).
        seed: the split is a deterministic function of ``(y, n_parts, size, seed)``.

    Every part has exactly ``size`` examples, and within each part each class
    appears in proportion to the pool (per-class counts across parts differ by
    at most one).  Different seeds give different splits.  Raises
    ``ValueError`` for non-integer or negative labels, ``n_parts`` not in
    {4, 5}, fewer than ``n_parts`` examples, a non-positive ``size`` or one
    that needs more than ``len(y)`` examples.  Labels may be any non-negative
    integers (only their order matters; memory does not grow with the largest one).
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a non-empty 1-d array of labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0:
        raise ValueError(f"y must hold class labels >= 0, found {y.min()}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_parts, bool) or not isinstance(n_parts, (int, np.integer)) or n_parts not in (4, 5):
        raise ValueError(f"n_parts must be 4 (target/shadow train/test) or 5 (plus reference), got {n_parts}")
    n = len(y)
    if n < n_parts:
        raise ValueError(
            f"make_splits needs at least {n_parts} examples (one per part), but y has {n}; "
            "the paper's protocol splits a data set into target/shadow train/test parts"
        )
    # Class ids may be any non-negative integers (e.g. 10**12): work with their ranks 0..k-1,
    # so memory follows the number of classes, not the largest label.
    y = np.unique(y, return_inverse=True)[1].reshape(-1)
    if size is None:
        size = n // n_parts
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer (examples per part), got {size!r}")
    total = int(size) * n_parts
    if total > n:
        raise ValueError(
            f"{n_parts} parts of {size} examples need {total} examples, but the data set has {n}; "
            f"use size <= {n // n_parts}"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    if total < n:
        # Stratified subsample: take the first `total` of a class-interleaved order.
        yp = y[perm]
        rank = _rank_within_class(yp)
        counts = np.bincount(yp)
        frac = rank / counts[yp]
        order = np.lexsort((rng.random(n), frac))
        perm = perm[order[:total]]
    # Sort the chosen examples by class (random order within class) and deal them
    # round-robin into the parts: each part gets `size` examples, stratified.
    chosen = perm[np.argsort(y[perm], kind="stable")]
    part_of = np.arange(total) % n_parts
    offset = rng.integers(n_parts)
    part_of = (part_of + offset) % n_parts
    parts = [np.sort(chosen[part_of == k]) for k in range(n_parts)]
    return Splits(
        parts[0],
        parts[1],
        parts[2],
        parts[3],
        reference=parts[4] if n_parts == 5 else None,
        seed=seed,
        meta={"size": int(size), "n_pool": n},
    )


def _rank_within_class(y: np.ndarray) -> np.ndarray:
    order = np.argsort(y, kind="stable")
    ys = y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ys)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(ys)]))
    rank_sorted = np.arange(len(ys)) - run_start
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    return rank
