"""The attacker's reference models for LiRA and RMIA (Carlini et al., 2022; Zarifzadeh et al., 2024).

Both attacks calibrate the target model's output on one example against the
outputs of *reference* models -- models the attacker trains itself, with the
same architecture and, by default, the same training algorithm as the target
(Carlini et al.'s threat model: the attacker knows the defense, its
hyperparameters and the recipe; only the target's training set is secret).
Carlini et al. (2022, Sec. IV-C) train each reference model on a random half
(``pkeep = 0.5``) of a data pool that contains the candidate examples, and
record which model saw which example: the *membership matrix* ``(K, n_pool)``.
For each example the models split into IN models (trained on it) and OUT models.

This module trains them; :mod:`ccl_lib.attacks.strong` runs LiRA and RMIA with
them and builds the report tables.

* :func:`sample_membership` -- the balanced design of Carlini et al.'s code:
  every example is IN for exactly ``round(pkeep * K)`` models.
* :func:`train_reference_models` -- trains the K models with the target's
  :class:`ccl_lib.defenses.Defense` (or any :class:`ccl_lib.train.Objective`)
  and :class:`~ccl_lib.train.TrainConfig` and keeps their logits on the whole
  pool: :class:`ReferenceModels`.  Plain cross-entropy references are the
  explicit ``attacker="mismatched"`` option (an attacker who does not know the
  defense).
* :func:`attack_pool` -- the pool layout: the target's members and non-members
  (the candidates, on which the references train with ``pkeep = 0.5``, so each
  reference sees as many examples as the target) plus the attacker's population
  data (RMIA's z, on which no model trains); :meth:`AttackPool.membership`.
* :func:`context_references` -- the same for the attack suite's
  :class:`~ccl_lib.attacks.base.AttackContext`; on image data the reference models
  also keep their logits on each image's horizontal mirror
  (:attr:`ReferenceModels.mirror_logits`), the second query of the LiRA authors' code
  (``tensorflow/privacy`` ``research/mi_lira_2021/inference.py``), and
  :func:`context_mirror_logits` gives the target's.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn as nn

from ..augment import mirror_transform
from ..models import fresh_copy
from ..train import FIT_MANY_STRATEGIES, Objective, TrainConfig, fit_many, predict_logits

__all__ = [
    "ATTACKERS",
    "AttackPool",
    "ReferenceModels",
    "attack_pool",
    "context_references",
    "context_mirror_logits",
    "derive_seed",
    "pool_membership",
    "sample_membership",
    "train_reference_models",
]

Tensor = torch.Tensor

#: Who trains the reference models: ``"matched"`` -- with the target's defense and recipe
#: (the default; Carlini et al.'s threat model), ``"mismatched"`` -- with plain cross-entropy.
ATTACKERS = ("matched", "mismatched")


def _check_attacker(attacker: str) -> str:
    if attacker not in ATTACKERS:
        raise ValueError(
            f"attacker must be one of {ATTACKERS} ('matched': references trained with the target's defense and "
            f"recipe; 'mismatched': plain cross-entropy), got {attacker!r}"
        )
    return attacker


def derive_seed(seed: int, *path: int) -> int:
    """A 31-bit seed derived from ``seed`` and an index path (NumPy ``SeedSequence``); stable across runs."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), *map(int, path)]).generate_state(1)[0] & 0x7FFFFFFF)


def sample_membership(
    n_pool: int, k: int, pkeep: float = 0.5, seed: int = 0, *, equal_sizes: bool = False
) -> np.ndarray:
    """Membership matrix ``(k, n_pool)`` of the reference models (True = trained on the example).

    Each column (example) has exactly ``r = round(pkeep * k)`` True entries,
    chosen uniformly at random (the design of Carlini et al.'s code: sort a
    uniform ``(k, n_pool)`` matrix per column and keep the ``r`` smallest), so
    every example has ``r`` IN and ``k - r`` OUT models; each model then sees
    about ``pkeep * n_pool`` examples.  ``r`` must be between 1 and ``k - 1``.

    ``equal_sizes=True`` also fixes the rows: starting from that design, random
    swaps within columns (an IN of an over-full model moved to an under-full
    one that was OUT) bring every model to ``r * n_pool // k`` or one more
    examples -- all equal when ``k`` divides ``r * n_pool`` (always for
    :func:`pool_membership`'s ``2m`` candidates at ``pkeep = 0.5`` with even
    ``k``: each model then sees ``m`` examples, exactly as many as the target).
    Column sums stay ``r``.  One training-set size lets
    :func:`ccl_lib.train.fit_many` step the models together on CUDA; the
    default (``False``) keeps Carlini et al.'s design and earlier results.

    Args:
        n_pool: number of pool examples (columns), >= 1.
        k: number of reference models (rows), >= 2.
        pkeep: fraction of the models trained on each example, in (0, 1); default 0.5
            (half IN, half OUT, as in LiRA's online attack).
        seed: seeds the random design (the same seed gives the same matrix).
        equal_sizes: also equalize the models' training-set sizes (row sums), as above.
    """
    if not isinstance(n_pool, (int, np.integer)) or n_pool < 1:
        raise ValueError(f"n_pool must be a positive integer, got {n_pool!r}")
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k (number of reference models) must be an integer >= 2, got {k!r}")
    if not (isinstance(pkeep, (int, float)) and 0.0 < pkeep < 1.0):
        raise ValueError(f"pkeep (fraction of the pool per reference model) must be in (0, 1), got {pkeep!r}")
    r = int(round(pkeep * k))
    if not 1 <= r <= k - 1:
        raise ValueError(
            f"pkeep={pkeep} with k={k} gives {r} IN models per example; choose k and pkeep so that "
            f"1 <= round(pkeep * k) <= k - 1 (e.g. k={max(2, int(np.ceil(1 / min(pkeep, 1 - pkeep))))})"
        )
    rng = np.random.default_rng(derive_seed(seed, 0xB0B))
    u = rng.random((k, n_pool))
    ranks = u.argsort(axis=0).argsort(axis=0)
    member = ranks < r
    if equal_sizes:
        _equalize_rows(member, rng)
    return member


def _equalize_rows(member: np.ndarray, rng: np.random.Generator) -> None:
    """Make the row sums of ``member`` differ by at most one, in place, by swaps within columns."""
    k = member.shape[0]
    total = int(member.sum())
    target = np.full(k, total // k)
    target[rng.permutation(k)[: total % k]] += 1
    while True:
        excess = member.sum(axis=1) - target
        if not excess.any():
            return
        a, b = int(np.argmax(excess)), int(np.argmin(excess))  # excess sums to 0: a over-full, b under-full
        cols = np.flatnonzero(member[a] & ~member[b])  # at least min(excess[a], -excess[b]) of them
        take = rng.choice(cols, size=int(min(excess[a], -excess[b])), replace=False)
        member[a, take] = False
        member[b, take] = True


@dataclass
class ReferenceModels:
    """K reference models, summarized by their logits on the attack pool.

    Attributes:
        membership: ``(K, n_pool)`` bool, True where model k trained on example i.
        logits: ``(K, n_pool, C)`` float32 logits of each model on every pool example.
        labels: ``(n_pool,)`` int64 class labels of the pool.
        histories: per-model training histories (``TrainResult.history``).
        info: how they were trained (defense, config, seeds, pkeep) -- for reports.
        mirror_logits: ``(K, n_pool, C)`` float32 logits of each model on the horizontal mirror
            of every pool image (:func:`mirror_transform`), or ``None`` (not queried; always for
            tabular data).  LiRA's ``mirror`` option averages over both queries.
    """

    membership: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    histories: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    mirror_logits: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.membership = np.asarray(self.membership, dtype=bool)
        self.logits = np.asarray(self.logits, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.membership.ndim != 2:
            raise ValueError(f"membership must be (K, n_pool), got shape {self.membership.shape}")
        k, n = self.membership.shape
        if self.logits.ndim != 3 or self.logits.shape[:2] != (k, n):
            raise ValueError(f"logits must be (K, n_pool, C) = ({k}, {n}, C), got {self.logits.shape}")
        if self.labels.shape != (n,):
            raise ValueError(f"labels must be (n_pool,) = ({n},), got {self.labels.shape}")
        if n and (self.labels.min() < 0 or self.labels.max() >= self.logits.shape[2]):
            raise ValueError(f"labels must lie in [0, {self.logits.shape[2] - 1}]")
        if self.mirror_logits is not None:
            self.mirror_logits = np.asarray(self.mirror_logits, dtype=np.float32)
            if self.mirror_logits.shape != self.logits.shape:
                raise ValueError(
                    f"mirror_logits must have the shape of logits {self.logits.shape}, got {self.mirror_logits.shape}"
                )

    @property
    def k(self) -> int:
        return int(self.membership.shape[0])

    @property
    def n_pool(self) -> int:
        return int(self.membership.shape[1])

    def logit_confidence(self) -> np.ndarray:
        """``(K, n_pool)`` logit-scaled confidence phi = log(p_y / (1 - p_y)) (LiRA's statistic)."""
        from .base import logit_confidence

        return logit_confidence(self.logits, self.labels)

    def true_class_prob(self) -> np.ndarray:
        """``(K, n_pool)`` softmax probability of the true class, Pr(x | theta) (RMIA's statistic)."""
        from .rmia import true_class_prob

        return true_class_prob(self.logits, self.labels)

    def train_accuracy(self) -> float:
        """Mean accuracy of the models on their own IN examples (a sanity check of the recipe)."""
        pred = self.logits.argmax(-1) == self.labels[None, :]
        return float(pred[self.membership].mean())

    def test_accuracy(self) -> float:
        """Mean accuracy of the models on their OUT examples (their generalization)."""
        pred = self.logits.argmax(-1) == self.labels[None, :]
        return float(pred[~self.membership].mean())


def train_reference_models(
    x_pool: Tensor,
    y_pool: Tensor,
    *,
    model_fn: Callable[[], nn.Module],
    k: int = 8,
    defense: Optional[Objective] = None,
    config: TrainConfig = TrainConfig(),
    pkeep: float = 0.5,
    membership: Optional[np.ndarray] = None,
    seed: int = 0,
    reference: Optional[tuple[Tensor, Tensor]] = None,
    progress: Optional[bool] = None,
    desc: str = "reference models",
    attacker: str = "matched",
    strategy: str = "auto",
    equal_sizes: bool = False,
    mirror: bool = False,
) -> ReferenceModels:
    """Train the attacker's ``k`` reference models on random subsets of the pool (Carlini et al., 2022, Sec. IV-C).

    Args:
        x_pool, y_pool: the attacker's pool (features as :meth:`Dataset.features` returns, labels).
        model_fn: builds a fresh model (same architecture as the target; e.g.
            ``lambda: build_model("mlp", ds.input_shape, ds.num_classes, **defense.model_kwargs)``).
        k: number of reference models.
        defense: the target's training algorithm -- a :class:`ccl_lib.defenses.Defense`
            (its ``train`` is used, so DP-SGD's own loop runs too) or any
            :class:`~ccl_lib.train.Objective`.  Required with
            ``attacker="matched"``; with ``attacker="mismatched"`` it must be
            ``None`` (plain cross-entropy).  Deep-copied per model, so no state
            leaks between models.
        config: the target's training recipe (its ``seed`` is replaced per model).
        pkeep: fraction of the pool each model trains on (see :func:`sample_membership`).
        membership: a ready ``(k, n_pool)`` matrix instead of sampling one.
        seed: everything (membership, initializations, batch orders) derives from it.
        reference: the reference split, for defenses that need one.
        progress: tqdm bars of the training (default: on unless ``CCL_PROGRESS=0``).
        desc: the progress bar's label.
        attacker: ``"matched"`` (default: the attacker trains as the target
            was trained) or ``"mismatched"`` (plain cross-entropy, an attacker
            who does not know the defense); see :data:`ATTACKERS`.
        strategy: how :func:`ccl_lib.train.fit_many` trains the ``k`` models
            (one call): ``"auto"`` (default) steps them together on CUDA where
            the defense is per-model and the training sets have one size, else
            one after the other (on the CPU always, equal to separate
            :func:`~ccl_lib.train.fit` calls); ``"stacked"`` or
            ``"sequential"`` force one (:data:`ccl_lib.train.FIT_MANY_STRATEGIES`).
            Stacking needs one training-set size: Carlini et al.'s design
            (the default) gives the models about, not exactly, ``pkeep * n``
            examples, so on CUDA ``"auto"`` trains them one by one (with a
            warning) unless ``equal_sizes=True`` or a ``membership`` with equal
            row sums is given.
        equal_sizes: sample a membership whose models all see the same number of
            examples (see :func:`sample_membership`); ignored with ``membership=``.
        mirror: also keep every model's logits on the horizontal mirror of each pool image
            (:attr:`ReferenceModels.mirror_logits`; image pools ``(n, C, H, W)`` only).  Queries
            only: training, and ``logits``, are the same either way.

    Returns:
        :class:`ReferenceModels` with the membership matrix and every model's
        logits on the whole pool (queried like the target: eval mode, no augmentation).
    """
    if not isinstance(x_pool, Tensor) or not isinstance(y_pool, Tensor):
        raise TypeError("x_pool and y_pool must be torch tensors (see Dataset.features)")
    n = len(x_pool)
    if n < 2 or len(y_pool) != n:
        raise ValueError(f"x_pool and y_pool must have the same length >= 2, got {len(x_pool)} and {len(y_pool)}")
    if not callable(model_fn):
        raise TypeError("model_fn must be a callable that returns a fresh nn.Module")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
    if defense is not None and not isinstance(defense, Objective):
        raise TypeError(f"defense must be a ccl_lib Defense/Objective or None, got {type(defense).__name__}")
    if _check_attacker(attacker) == "matched" and defense is None:
        raise ValueError(
            "attacker='matched' trains the reference models with the target's defense: pass defense= (e.g. "
            "get_defense('vanilla') for an undefended target), or attacker='mismatched' for plain cross-entropy"
        )
    if attacker == "mismatched" and defense is not None:
        raise ValueError("attacker='mismatched' trains with plain cross-entropy; pass defense=None")
    if strategy not in FIT_MANY_STRATEGIES:
        raise ValueError(
            f"strategy must be one of {FIT_MANY_STRATEGIES} (see ccl_lib.train.fit_many), got {strategy!r}"
        )
    if mirror and x_pool.dim() != 4:
        raise ValueError(f"mirror=True queries horizontal mirrors of images (n, C, H, W); x_pool has shape "
                         f"{tuple(x_pool.shape)}")  # fmt: skip
    if membership is None:
        membership = sample_membership(n, k, pkeep, seed, equal_sizes=equal_sizes)
    else:
        membership = np.asarray(membership, dtype=bool)
        if membership.shape != (k, n):
            raise ValueError(f"membership must have shape (k, n_pool) = ({k}, {n}), got {membership.shape}")
    if (membership.sum(axis=1) == 0).any():
        raise ValueError("every reference model must train on at least one example; increase pkeep")
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"
    y_pool = y_pool.long()

    seeds = [derive_seed(seed, 1, i) for i in range(k)]
    models = []
    for s_i in seeds:  # each initialization from its own seed, as when the models were trained one by one
        torch.manual_seed(s_i)
        model = model_fn()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model_fn must return an nn.Module, got {type(model).__name__}")
        models.append(model)
    data = []
    for i in range(k):
        idx = torch.from_numpy(np.flatnonzero(membership[i]))
        data.append((x_pool[idx], y_pool[idx]))
    configs = [dataclasses.replace(config, seed=s_i, track_train_loss=False, checkpoint_epochs=()) for s_i in seeds]
    # one objective per model: deep copies, so that no state leaks between models; None = cross-entropy
    objectives = None if defense is None else [copy.deepcopy(defense) for _ in range(k)]
    results = fit_many(
        models, data, objective=objectives, configs=configs, reference=reference, progress=progress,
        strategy=strategy, desc=desc,
    )  # fmt: skip
    histories = [r.history for r in results]
    logits = [predict_logits(m, x_pool, batch_size=config.eval_batch_size).numpy() for m in models]
    mirrored = None
    if mirror:
        flip = mirror_transform()
        mirrored = np.stack(
            [predict_logits(m, x_pool, batch_size=config.eval_batch_size, transform=flip).numpy() for m in models]
        )
    del models, results
    describe = defense.describe() if defense is not None else {"name": "ce"}
    info = {
        "attacker": attacker,
        "k": int(k),
        "pkeep": float(membership[:, membership.any(axis=0)].mean()) if membership.any() else 0.0,
        "defense": describe,
        "config": config.to_dict(),
        "seed": int(seed),
        "model_seeds": seeds,
    }
    return ReferenceModels(
        membership=membership, logits=np.stack(logits), labels=y_pool.numpy(), histories=histories, info=info,
        mirror_logits=mirrored,
    )  # fmt: skip


def pool_membership(
    n_candidates: int, n_population: int, k: int, pkeep: float = 0.5, seed: int = 0, *, equal_sizes: bool = False
) -> np.ndarray:
    """``(k, n_candidates + n_population)`` membership of reference models over a candidates + population pool.

    Candidates (the first ``n_candidates`` pool positions) are IN for exactly
    ``round(pkeep * k)`` models (:func:`sample_membership`); population
    samples (RMIA's z) are OUT for every model.  ``equal_sizes``: see :func:`sample_membership`.

    Args:
        n_candidates: number of tested examples (the first pool positions).
        n_population: number of population samples appended after them (>= 0), never trained on.
        k: number of reference models (>= 2).
        pkeep: fraction of the models trained on each candidate, in (0, 1).
        seed: seeds the membership design.
        equal_sizes: equal training-set sizes for all models (see :func:`sample_membership`).
    """
    if not isinstance(n_population, (int, np.integer)) or n_population < 0:
        raise ValueError(f"n_population must be a non-negative integer, got {n_population!r}")
    cand = sample_membership(n_candidates, k, pkeep, seed, equal_sizes=equal_sizes)
    return np.concatenate([cand, np.zeros((k, int(n_population)), bool)], axis=1)


@dataclass(frozen=True)
class AttackPool:
    """Indices of the attack pool into one data set.

    The pool is ``members + non_members + population`` in this order:
    ``candidates`` (the first ``2m`` pool positions) are the target's members
    and non-members that the attacker tests, ``population`` the attacker's own
    data (RMIA's reference samples z).  ``is_member[j]`` is the ground truth
    for candidate ``j`` (used only to score the attack).  The reference models
    train on a random half of the candidates (:meth:`membership`), so each sees
    ``m`` examples, as many as the target.

    Attributes:
        pool: indices into the data set of every pool example, in the order above.
        candidates: pool positions of the tested examples (``0 .. 2m - 1``).
        is_member: one boolean per candidate, ``True`` = in the target's training set.
        population: pool positions of the attacker's population samples.
        target_train: data-set indices of the target's training set (its ``m`` members).
    """

    pool: np.ndarray
    candidates: np.ndarray
    is_member: np.ndarray
    population: np.ndarray
    target_train: np.ndarray

    @property
    def pkeep(self) -> float:
        """The fraction of the candidates the target trained on (0.5): the references' ``pkeep``."""
        return len(self.target_train) / len(self.candidates)

    def membership(self, k: int, pkeep: float = 0.5, seed: int = 0, *, equal_sizes: bool = False) -> np.ndarray:
        """The references' ``(k, n_pool)`` membership: :func:`pool_membership` over this pool.

        Args:
            k: number of reference models (>= 2).
            pkeep: fraction of the models trained on each candidate (default 0.5, like the target's :attr:`pkeep`).
            seed: seeds the membership design.
            equal_sizes: every model trains on the same number of candidates (see :func:`sample_membership`).
        """
        return pool_membership(len(self.candidates), len(self.population), k, pkeep, seed, equal_sizes=equal_sizes)


def attack_pool(y: np.ndarray, size: int, seed: int = 0, population: Optional[int] = None) -> AttackPool:
    """The split: target members/non-members (``size`` each) and the attacker's population.

    Uses :func:`ccl_lib.splits.make_splits` (4 stratified parts of ``size``):
    ``target_train`` are the members, ``target_test`` the non-member
    candidates, ``shadow_train + shadow_test`` the attacker's population
    (``2 * size`` examples, or the first ``population`` of them).

    Args:
        y: labels of the whole data set (the split is stratified by them).
        size: members per part (the target trains on ``size`` examples).
        seed: seeds the split.
        population: keep only the first ``population`` of the ``2 * size`` population samples
            (between 1 and ``2 * size``); default all.
    """
    from ..splits import make_splits

    sp = make_splits(np.asarray(y), n_parts=4, size=size, seed=seed)
    pop = np.concatenate([sp.shadow_train, sp.shadow_test])
    if population is not None:
        if not 1 <= population <= len(pop):
            raise ValueError(f"population must be in [1, {len(pop)}], got {population}")
        pop = pop[:population]
    pool = np.concatenate([sp.target_train, sp.target_test, pop])
    n_c = 2 * size
    return AttackPool(
        pool=pool,
        candidates=np.arange(n_c),
        is_member=np.r_[np.ones(size, bool), np.zeros(size, bool)],
        population=np.arange(n_c, len(pool)),
        target_train=sp.target_train,
    )


def context_references(
    ctx: Any,
    *,
    model_fn: Optional[Callable[[], nn.Module]] = None,
    defense: Optional[Objective] = None,
    config: Optional[TrainConfig] = None,
    k: int = 8,
    pkeep: float = 0.5,
    seed: Optional[int] = None,
    attacker: str = "matched",
    strategy: str = "auto",
    equal_sizes: bool = False,
) -> tuple[ReferenceModels, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reference models for an :class:`~ccl_lib.attacks.base.AttackContext` (the attack suite's view).

    The pool is ``target_in + target_out + shadow_in + shadow_out``: the
    target's members and non-members are the candidates, on which each
    reference model trains with probability ``pkeep`` (0.5: as many examples as
    the target, for balanced sets); the shadow split is the attacker's
    population (RMIA's z), on which no model trains.

    Args:
        ctx: the suite's context.
        model_fn: fresh model factory; default: ``fresh_copy(ctx.target)``.
        defense, config: the target's training algorithm and recipe; default
            ``ctx.defense`` and ``ctx.train_config`` (what
            :func:`~ccl_lib.attacks.run_attacks` got as ``defense=`` and
            ``train_config=``).  With ``attacker="matched"`` (default) both
            must be known; ``attacker="mismatched"`` trains plain
            cross-entropy references (``config`` default: ``ctx.train_config``
            or ``TrainConfig()``).
        k, pkeep, seed, strategy: see :func:`train_reference_models` (seed default ``ctx.seed``).
        attacker: ``"matched"`` (default: references trained with the target's defense
            and recipe) or ``"mismatched"`` (plain cross-entropy); see :data:`ATTACKERS`.
        equal_sizes: every reference model trains on exactly half the
            candidates (as many as the target), which lets them be stacked on
            CUDA (:func:`pool_membership`); default ``False`` (Carlini et al.'s design).

    On image data (``ctx.kind == "image"``) the reference models also keep their logits on
    each pool image's horizontal mirror (``refs.mirror_logits``, one more inference pass per
    model; the models and ``refs.logits`` are unchanged), so that LiRA's ``mirror`` option and
    ``lira_reference`` share these models with ``lira``; :func:`context_mirror_logits` gives the
    target's mirror logits.

    Returns ``(refs, target_logits_on_pool, candidates, is_member, population)``,
    cached in the context so that LiRA and RMIA share one set of models.
    """
    from ..utils import stable_hash
    from .base import query_logits

    _check_attacker(attacker)
    if attacker == "matched":
        defense = ctx.defense if defense is None else defense
        config = ctx.train_config if config is None else config
        if defense is None or config is None:
            raise ValueError(
                "the reference models are trained like the target (attacker='matched'): pass the target's "
                "defense and TrainConfig (run_attacks(..., defense=, train_config=) or the attack options "
                "defense=, config=), or attacker='mismatched' for plain cross-entropy references"
            )
    else:
        if defense is not None:
            raise ValueError("attacker='mismatched' trains plain cross-entropy references; do not pass a defense")
        config = (ctx.train_config or TrainConfig()) if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
    parts = [ctx.data("target", "in"), ctx.data("target", "out"), ctx.data("shadow", "in"), ctx.data("shadow", "out")]
    sizes = [len(p[1]) for p in parts]
    n_pool = sum(sizes)
    n_c = sizes[0] + sizes[1]
    seed = int(ctx.seed if seed is None else seed)
    key = (
        "reference_models",
        stable_hash(
            [
                defense.describe() if defense is not None else "ce",
                config.to_dict(),
                k,
                pkeep,
                seed,
                sizes,
                attacker,
                strategy,
                bool(equal_sizes),
            ]
        ),
        id(model_fn),
    )
    cache = ctx._cache
    if key not in cache:
        x_pool = torch.cat([p[0].cpu() for p in parts])
        y_pool = torch.cat([p[1].cpu() for p in parts])
        if model_fn is None:
            template = ctx.target

            def model_fn() -> nn.Module:
                return fresh_copy(template)

        if ctx.device is not None and config.device == "auto":
            config = dataclasses.replace(config, device=str(ctx.device))
        membership = pool_membership(n_c, n_pool - n_c, k, pkeep, seed, equal_sizes=equal_sizes)
        refs = train_reference_models(
            x_pool, y_pool, model_fn=model_fn, k=k, defense=defense, config=config, membership=membership,
            seed=seed, progress=ctx.progress, desc="reference models", attacker=attacker, strategy=strategy,
            mirror=ctx.kind == "image" and x_pool.dim() == 4,
        )  # fmt: skip
        target_logits = torch.cat(
            [query_logits(ctx.target, p[0], batch_size=ctx.batch_size, device=ctx.device) for p in parts]
        )
        cache[key] = (
            refs,
            target_logits.numpy(),
            np.arange(n_c),
            np.r_[np.ones(sizes[0], bool), np.zeros(sizes[1], bool)],
            np.arange(n_c, n_pool),
        )
    return cache[key]


def context_mirror_logits(ctx: Any) -> np.ndarray:
    """The target's ``(n_pool, C)`` logits on the horizontal mirror of every image of :func:`context_references`' pool.

    The pool order of :func:`context_references` (``target_in + target_out + shadow_in +
    shadow_out``), each part queried once through the context's cache with
    :func:`mirror_transform` -- the second query of ``tensorflow/privacy``
    ``research/mi_lira_2021/inference.py`` ``get_loss`` (``reflect=True``).

    Args:
        ctx: the suite's :class:`~ccl_lib.attacks.base.AttackContext`, with image data.
    """
    if ctx.kind != "image":
        raise ValueError(f"mirror queries need image data (kind='image'); this context has kind={ctx.kind!r}")
    flip = mirror_transform()
    parts = [(r, p) for r in ("target", "shadow") for p in ("in", "out")]
    return torch.cat([ctx.logits(r, p, transform=flip, key=("mirror",)).cpu() for r, p in parts]).numpy()
