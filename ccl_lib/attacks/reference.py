"""The attacker's reference models for LiRA and RMIA (Carlini et al., 2022; Zarifzadeh et al., 2024).

Both attacks calibrate the target model's output on one example against the
outputs of *reference* models -- models the attacker trains itself, with the
same architecture and the same training algorithm as the target (the attacker
knows the defense and its hyperparameters; only the target's training set is
secret).  Carlini et al. (2022, Sec. IV-C) train each reference model on a
random subset of a data pool that contains the candidate examples, and record
which model saw which example: the *membership matrix* ``(K, n_pool)``.  For
each example the models split into IN models (trained on it) and OUT models.

* :func:`sample_membership` -- the balanced design of Carlini et al.'s code:
  every example is IN for exactly ``round(pkeep * K)`` models, so each has
  both IN and OUT observations (needed by online LiRA) for any ``K >= 2``.
* :func:`train_reference_models` -- trains the K models with a
  :class:`ccl_lib.defenses.Defense` (or any :class:`ccl_lib.train.Objective`)
  and keeps their logits on the whole pool: :class:`ReferenceModels`.
* :func:`strong_attacks` -- runs online/offline LiRA and offline RMIA on a
  target model's pool logits and returns :class:`~ccl_lib.attacks.base.AttackResult` rows.
* :func:`attack_pool` -- the pool layout of the book's chapter: the target's
  members and non-members (the candidates) plus the attacker's own population data.

A reference model should see as many training examples as the target; with a
pool of the candidates (2m) and a population of size P, choose
``pkeep = m / (2m + P)``.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ..train import Objective, TrainConfig, TrainResult, fit, predict_logits

__all__ = [
    "AttackPool",
    "ReferenceModels",
    "attack_pool",
    "StrongAttackRun",
    "context_references",
    "findings_strong_attacks",
    "fresh_copy",
    "run_strong_attacks",
    "strongest_attacks",
    "strong_attack_table",
    "format_strong_attack_table",
    "derive_seed",
    "sample_membership",
    "strong_attacks",
    "train_reference_models",
]

Tensor = torch.Tensor


def derive_seed(seed: int, *path: int) -> int:
    """A 31-bit seed derived from ``seed`` and an index path (NumPy ``SeedSequence``); stable across runs."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), *map(int, path)]).generate_state(1)[0] & 0x7FFFFFFF)


def sample_membership(n_pool: int, k: int, pkeep: float = 0.5, seed: int = 0) -> np.ndarray:
    """Membership matrix ``(k, n_pool)`` of the reference models (True = trained on the example).

    Each column (example) has exactly ``r = round(pkeep * k)`` True entries,
    chosen uniformly at random (the design of Carlini et al.'s code: sort a
    uniform ``(k, n_pool)`` matrix per column and keep the ``r`` smallest), so
    every example has ``r`` IN and ``k - r`` OUT models; each model then sees
    about ``pkeep * n_pool`` examples.  ``r`` must be between 1 and ``k - 1``.
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
    return ranks < r


@dataclass
class ReferenceModels:
    """K reference models, summarized by their logits on the attack pool.

    Attributes:
        membership: ``(K, n_pool)`` bool, True where model k trained on example i.
        logits: ``(K, n_pool, C)`` float32 logits of each model on every pool example.
        labels: ``(n_pool,)`` int64 class labels of the pool.
        histories: per-model training histories (``TrainResult.history``).
        info: how they were trained (defense, config, seeds, pkeep) -- for reports.
    """

    membership: np.ndarray
    logits: np.ndarray
    labels: np.ndarray
    histories: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

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

    @property
    def k(self) -> int:
        return int(self.membership.shape[0])

    @property
    def n_pool(self) -> int:
        return int(self.membership.shape[1])

    def logit_confidence(self) -> np.ndarray:
        """``(K, n_pool)`` logit-scaled confidence phi = log(p_y / (1 - p_y)) (LiRA's statistic)."""
        from .lira import logit_confidence

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


def _train_one(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    defense: Optional[Objective],
    config: TrainConfig,
    reference: Optional[tuple[Tensor, Tensor]],
    desc: str,
) -> TrainResult:
    train = getattr(defense, "train", None)
    if defense is not None and callable(train):  # a ccl_lib.defenses.Defense (vanilla, CCL, DP-SGD...)
        return train(model, x, y, config=config, reference=reference, progress=False, desc=desc)
    return fit(model, x, y, objective=defense, config=config, reference=reference, progress=False, desc=desc)


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
) -> ReferenceModels:
    """Train the attacker's ``k`` reference models on random subsets of the pool (Carlini et al., 2022, Sec. IV-C).

    Args:
        x_pool, y_pool: the attacker's pool (features as :meth:`Dataset.features` returns, labels).
        model_fn: builds a fresh model (same architecture as the target; e.g.
            ``lambda: build_model("mlp", ds.input_shape, ds.num_classes, **defense.model_kwargs)``).
        k: number of reference models.
        defense: the target's training algorithm -- a :class:`ccl_lib.defenses.Defense`
            (its ``train`` is used, so DP-SGD's own loop runs too) or any
            :class:`~ccl_lib.train.Objective`; ``None`` is plain cross-entropy.
            It is deep-copied per model, so no state leaks between models.
        config: the training recipe (its ``seed`` is replaced per model).
        pkeep: fraction of the pool each model trains on (see :func:`sample_membership`).
        membership: a ready ``(k, n_pool)`` matrix instead of sampling one.
        seed: everything (membership, initializations, batch orders) derives from it.
        reference: the reference split, for defenses that need one.
        progress: tqdm bar over the models (default: on unless ``CCL_PROGRESS=0``).

    Returns:
        :class:`ReferenceModels` with the membership matrix and every model's
        logits on the whole pool (queried like the target: eval mode, no augmentation).
    """
    from tqdm.auto import tqdm

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
    if membership is None:
        membership = sample_membership(n, k, pkeep, seed)
    else:
        membership = np.asarray(membership, dtype=bool)
        if membership.shape != (k, n):
            raise ValueError(f"membership must have shape (k, n_pool) = ({k}, {n}), got {membership.shape}")
    if (membership.sum(axis=1) == 0).any():
        raise ValueError("every reference model must train on at least one example; increase pkeep")
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"
    y_pool = y_pool.long()

    logits, histories, seeds = [], [], []
    for i in tqdm(range(k), desc=desc, disable=not progress, leave=False):
        s = derive_seed(seed, 1, i)
        seeds.append(s)
        torch.manual_seed(s)
        model = model_fn()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model_fn must return an nn.Module, got {type(model).__name__}")
        idx = torch.from_numpy(np.flatnonzero(membership[i]))
        cfg = dataclasses.replace(config, seed=s, track_train_loss=False, checkpoint_epochs=())
        res = _train_one(model, x_pool[idx], y_pool[idx], copy.deepcopy(defense), cfg, reference, f"{desc} {i + 1}/{k}")
        histories.append(res.history)
        logits.append(predict_logits(model, x_pool, batch_size=config.eval_batch_size).numpy())
        del model
    describe = defense.describe() if defense is not None else {"name": "ce"}
    info = {
        "k": int(k),
        "pkeep": float(membership.mean()),
        "defense": describe,
        "config": config.to_dict(),
        "seed": int(seed),
        "model_seeds": seeds,
    }
    return ReferenceModels(membership=membership, logits=np.stack(logits), labels=y_pool.numpy(), histories=histories, info=info)


@dataclass(frozen=True)
class AttackPool:
    """Indices of the chapter's attack pool into one data set.

    The pool is ``members + non_members + population`` in this order:
    ``candidates`` (the first ``2m`` pool positions) are the target's members
    and non-members that the attacker tests, ``population`` the attacker's own
    data (RMIA's reference samples z).  ``is_member[j]`` is the ground truth
    for candidate ``j`` (used only to score the attack).
    """

    pool: np.ndarray
    candidates: np.ndarray
    is_member: np.ndarray
    population: np.ndarray
    target_train: np.ndarray

    @property
    def pkeep(self) -> float:
        """The fraction of the pool that matches the target's training-set size."""
        return len(self.target_train) / len(self.pool)


def attack_pool(y: np.ndarray, size: int, seed: int = 0, population: Optional[int] = None) -> AttackPool:
    """The chapter's split: target members/non-members (``size`` each) and the attacker's population.

    Uses :func:`ccl_lib.splits.make_splits` (4 stratified parts of ``size``):
    ``target_train`` are the members, ``target_test`` the non-member
    candidates, ``shadow_train + shadow_test`` the attacker's population
    (``2 * size`` examples, or the first ``population`` of them).
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


def strong_attacks(
    refs: ReferenceModels,
    target_logits: Union[np.ndarray, Tensor],
    candidates: np.ndarray,
    is_member: np.ndarray,
    population: np.ndarray,
    *,
    attacks: Sequence[str] = ("lira_online", "lira_offline", "rmia"),
    fixed_variance: bool = True,
    rmia_a: Union[float, str] = "tune",
    rmia_gamma: float = 1.0,
) -> dict:
    """LiRA (online/offline) and RMIA (offline) on one target model, as AttackResult rows.

    Args:
        refs: the attacker's reference models (logits on the whole pool).
        target_logits: ``(n_pool, C)`` the target's logits on every pool example.
        candidates: pool positions of the examples whose membership is tested.
        is_member: ground truth for ``candidates`` (only to split the scores).
        population: pool positions of RMIA's population samples z (not candidates).
        attacks: any of ``"lira_online"``, ``"lira_offline"``, ``"rmia"``.
        fixed_variance: LiRA's global-variance variant (recommended for K < 64).
        rmia_a: RMIA's offline coefficient ``a``, or ``"tune"`` (:func:`~ccl_lib.attacks.rmia.tune_offline_a`).
        rmia_gamma: RMIA's pairwise threshold gamma.

    Returns:
        ``{name: AttackResult}``.
    """
    from .lira import lira_attack
    from .rmia import rmia_attack

    known = ("lira_online", "lira_offline", "rmia")
    bad = [a for a in attacks if a not in known]
    if bad:
        raise ValueError(f"unknown attack(s) {bad}; choose from {known}")
    out = {}
    for name in attacks:
        if name.startswith("lira"):
            out[name] = lira_attack(
                refs, target_logits, candidates, is_member,
                online=(name == "lira_online"), fixed_variance=fixed_variance, name=name,
            )  # fmt: skip
        else:
            out[name] = rmia_attack(
                refs, target_logits, candidates, is_member, population, a=rmia_a, gamma=rmia_gamma, name=name
            )
    return out


def fresh_copy(model: nn.Module) -> nn.Module:
    """A CPU copy of ``model``'s architecture with re-initialized parameters (every ``reset_parameters``)."""
    m = copy.deepcopy(model).cpu()
    for mod in m.modules():
        reset = getattr(mod, "reset_parameters", None)
        if callable(reset):
            reset()
    return m


def context_references(
    ctx: Any,
    *,
    model_fn: Optional[Callable[[], nn.Module]] = None,
    defense: Optional[Objective] = None,
    config: Optional[TrainConfig] = None,
    k: int = 8,
    pkeep: Optional[float] = None,
    seed: Optional[int] = None,
) -> tuple[ReferenceModels, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reference models for an :class:`~ccl_lib.attacks.base.AttackContext` (the attack suite's view).

    The pool is ``target_in + target_out + shadow_in + shadow_out``: the
    target's members and non-members are the candidates, the shadow split is
    the attacker's population.  Each reference model trains on a random
    ``pkeep`` fraction of the pool (default: the size of ``target_in``).

    Args:
        ctx: the suite's context.
        model_fn: fresh model factory; default: ``fresh_copy(ctx.target)``.
        defense: the target's training algorithm (default cross-entropy -- pass
            the target's defense: LiRA assumes the attacker knows it).
        config: the target's recipe (default ``TrainConfig()``).
        k, pkeep, seed: see :func:`train_reference_models` (seed default ``ctx.seed``).

    Returns ``(refs, target_logits_on_pool, candidates, is_member, population)``,
    cached in the context so that LiRA and RMIA share one set of models.
    """
    from ..utils import stable_hash
    from .base import query_logits

    parts = [ctx.data("target", "in"), ctx.data("target", "out"), ctx.data("shadow", "in"), ctx.data("shadow", "out")]
    sizes = [len(p[1]) for p in parts]
    n_pool = sum(sizes)
    if pkeep is None:
        pkeep = sizes[0] / n_pool
    config = TrainConfig() if config is None else config
    seed = int(ctx.seed if seed is None else seed)
    key = (
        "reference_models",
        stable_hash([defense.describe() if defense is not None else "ce", config.to_dict(), k, pkeep, seed, sizes]),
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
        refs = train_reference_models(
            x_pool, y_pool, model_fn=model_fn, k=k, defense=defense, config=config, pkeep=pkeep,
            seed=seed, progress=ctx.progress, desc="reference models",
        )  # fmt: skip
        target_logits = torch.cat([query_logits(ctx.target, p[0], batch_size=ctx.batch_size, device=ctx.device) for p in parts])
        n_c = sizes[0] + sizes[1]
        cache[key] = (
            refs,
            target_logits.numpy(),
            np.arange(n_c),
            np.r_[np.ones(sizes[0], bool), np.zeros(sizes[1], bool)],
            np.arange(n_c, n_pool),
        )
    return cache[key]


@dataclass
class StrongAttackRun:
    """One (data set, defense, seed) setting of the chapter: the target, its attacker's models, the attacks.

    Attributes:
        results: ``{attack name: AttackResult}`` (LiRA online/offline, RMIA).
        refs: the attacker's reference models.
        history: the target's training history (DP-SGD rows hold ``epsilon``).
        test_acc, train_acc: the target's accuracy on its non-members / members.
        epsilon: DP-SGD's spent epsilon at its delta (NaN for other defenses).
        seconds: wall time of the setting (target + references + attacks).
        info: defense description, sizes, seeds.
    """

    results: dict
    refs: ReferenceModels
    history: list
    test_acc: float
    train_acc: float
    epsilon: float
    seconds: float
    info: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dict per attack: the attack's :meth:`AttackResult.summary` plus the setting's numbers."""
        out = []
        for name, res in self.results.items():
            out.append(
                {
                    "defense": self.info.get("label", self.info.get("defense", {}).get("defense", "?")),
                    "attack": name,
                    "seed": self.info.get("seed"),
                    **res.summary(),
                    "test_acc": self.test_acc,
                    "train_acc": self.train_acc,
                    "epsilon": self.epsilon,
                    "k": self.refs.k,
                }
            )
        return out


def run_strong_attacks(
    dataset: Any,
    defense: Objective,
    *,
    size: int,
    k: int = 8,
    config: TrainConfig = TrainConfig(),
    model_fn: Optional[Callable[[], nn.Module]] = None,
    seed: int = 0,
    attacks: Sequence[str] = ("lira_online", "lira_offline", "rmia"),
    fixed_variance: bool = True,
    rmia_a: Union[float, str] = "tune",
    label: Optional[str] = None,
    progress: Optional[bool] = None,
) -> StrongAttackRun:
    """Train a target with ``defense``, train ``k`` reference models the same way, run LiRA and RMIA.

    The split is :func:`attack_pool` (``size`` members, ``size`` non-member
    candidates, ``2 * size`` population examples, stratified, seeded by
    ``seed``); each reference model trains on ``size`` random pool examples
    (``pkeep = 1/4``), so target and references see equally many examples.

    Args:
        dataset: a :class:`ccl_lib.data.Dataset` (anything with ``.y``,
            ``.features(indices)``, ``.input_shape``, ``.num_classes``).
        defense: the training algorithm of the target *and* the references
            (a :class:`ccl_lib.defenses.Defense`, e.g. ``get_defense("ccql", alpha=0.5)``).
        size: the target's training-set size.
        k: number of reference models (``round(k / 4)`` IN models per example: use ``k >= 4``).
        config: the training recipe (epochs, lr, ...); its seed is derived from ``seed``.
        model_fn: model factory; default ``build_model("auto", ...)`` with the defense's ``model_kwargs``.
        seed: split, target and reference seeds all derive from it.
        attacks, fixed_variance, rmia_a: see :func:`strong_attacks`.
        label: the ``defense`` column of :meth:`StrongAttackRun.rows` (default: the defense's name).
        progress: tqdm bars (default: on unless ``CCL_PROGRESS=0``).
    """
    import time

    from ..models import build_model
    from ..utils import resolve_device

    if not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2 (the target's training-set size), got {size!r}")
    if defense is None or not isinstance(defense, Objective):
        raise TypeError("defense must be a ccl_lib Defense (e.g. get_defense('vanilla')); the attacker trains with it too")
    t0 = time.perf_counter()
    ap = attack_pool(np.asarray(dataset.y), size=int(size), seed=seed)
    x = dataset.features(ap.pool)
    y = torch.as_tensor(np.asarray(dataset.y)[ap.pool], dtype=torch.long)
    if model_fn is None:
        kwargs = dict(getattr(defense, "model_kwargs", {}) or {})
        shape, n_cls = tuple(dataset.input_shape), int(dataset.num_classes)

        def model_fn() -> nn.Module:
            return build_model("auto", shape, n_cls, **kwargs)

    cfg = dataclasses.replace(config, seed=derive_seed(seed, 7))
    torch.manual_seed(cfg.seed)
    target = model_fn()
    n_c = 2 * int(size)
    tgt_defense = copy.deepcopy(defense)
    train = getattr(tgt_defense, "train", None)
    kw = dict(config=cfg, x_test=x[size:n_c], y_test=y[size:n_c], progress=False, desc="target")
    if callable(train):
        res = train(target, x[:size], y[:size], **kw)
    else:
        res = fit(target, x[:size], y[:size], objective=tgt_defense, **kw)
    refs = train_reference_models(
        x, y, model_fn=model_fn, k=k, defense=defense, config=config, pkeep=ap.pkeep,
        seed=derive_seed(seed, 8), progress=progress, desc=f"reference models ({label or defense.name})",
    )  # fmt: skip
    device = resolve_device(config.device)
    t_logits = predict_logits(target, x, batch_size=config.eval_batch_size, device=device).numpy()
    results = strong_attacks(
        refs, t_logits, ap.candidates, ap.is_member, ap.population,
        attacks=attacks, fixed_variance=fixed_variance, rmia_a=rmia_a,
    )  # fmt: skip
    pred = t_logits.argmax(1) == y.numpy()
    last = res.history[-1] if res.history else {}
    info = {
        "label": label or getattr(defense, "name", "objective"),
        "defense": defense.describe(),
        "size": int(size),
        "k": int(k),
        "seed": int(seed),
        "config": cfg.to_dict(),
    }
    return StrongAttackRun(
        results=results,
        refs=refs,
        history=res.history,
        test_acc=float(pred[size:n_c].mean()),
        train_acc=float(pred[:size].mean()),
        epsilon=float(last.get("epsilon", float("nan"))),
        seconds=time.perf_counter() - t0,
        info=info,
    )


_FINDING_COLUMNS = ("dataset", "defense", "attack", "seed", "test_acc", "epsilon", "auc", "min_fpr",
                    "tpr@1%", "tpr@1%_low", "tpr@1%_high", "tpr@0.1%")  # fmt: skip


def strongest_attacks(results: Any, by: str = "tpr@1%") -> Any:
    """Per (dataset, defense, seed), the row of the attack with the highest ``by`` (ties: first row).

    ``results`` is a frame with one row per (dataset, defense, attack, seed), as
    the chapter builds it from :meth:`StrongAttackRun.rows` and
    :func:`ccl_lib.stats.interval_columns`; the order of first appearance is kept.
    """
    import pandas as pd

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    need = {"dataset", "defense", "attack", "seed", by}
    missing = sorted(need - set(results.columns))
    if missing:
        raise ValueError(f"results lacks columns {missing}")
    order = results.reset_index(drop=True)
    idx = order.groupby(["dataset", "defense", "seed"], sort=False)[by].idxmax()
    return order.loc[idx.values].reset_index(drop=True)


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


def _relation(r: Any, ref: Any) -> str:
    lo, hi, rlo, rhi = r["tpr@1%_low"], r["tpr@1%_high"], ref["tpr@1%_low"], ref["tpr@1%_high"]
    if hi < rlo:
        return "lower than the undefended model's, with non-overlapping intervals"
    if lo > rhi:
        return "higher than the undefended model's, with non-overlapping intervals"
    return "its interval overlaps the undefended model's"


def findings_strong_attacks(
    results: Any,
    *,
    reference: str = "vanilla",
    ccl: Sequence[str] = ("CCEL", "CCQL"),
    dp: str = "DP-SGD",
    seed: Optional[int] = None,
    k: Optional[int] = None,
) -> str:
    """The chapter's "What we saw", written from the numbers of one seed (Markdown bullets).

    Every claim is worded by what ``results`` shows: for each data set, the
    strongest attack on the ``reference`` (undefended) model at 1% and 0.1%
    FPR; for each CCL variant, whether its TPR at 1% FPR is below, above or
    within the bootstrap interval of the reference; DP-SGD's epsilon, AUC rank
    and accuracy cost; online vs offline LiRA; and the FPR resolution.
    """
    import pandas as pd

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing = sorted(set(_FINDING_COLUMNS) - set(results.columns))
    if missing:
        raise ValueError(f"results lacks columns {missing} (build it as the chapter does)")
    if len(results) == 0:
        raise ValueError("results is empty")
    seed = results["seed"].iloc[0] if seed is None else seed
    res = results[results["seed"] == seed]
    if len(res) == 0:
        raise ValueError(f"no rows for seed {seed}")
    best = strongest_attacks(res)
    lines: list[str] = []
    ccl_overlap, ccl_lower, ccl_higher = [], [], []
    for ds in dict.fromkeys(res["dataset"]):
        b = best[best["dataset"] == ds].set_index("defense")
        if reference not in b.index:
            continue
        ref = b.loc[reference]
        lines.append(
            f"- **{ds}**: against the undefended model, {ref['attack'].replace('_', ' ')} finds "
            f"{_pct(ref['tpr@1%'])} [{_pct(ref['tpr@1%_low'])}, {_pct(ref['tpr@1%_high'])}] of the members "
            f"at 1% FPR and {_pct(ref['tpr@0.1%'])} at 0.1% FPR (AUC {ref['auc']:.2f}, test accuracy "
            f"{ref['test_acc']:.3f})."
        )
        for label in ccl:
            if label not in b.index:
                continue
            r = b.loc[label]
            rel = _relation(r, ref)
            (ccl_lower if rel.startswith("lower") else ccl_higher if rel.startswith("higher") else ccl_overlap).append(
                f"{label} on {ds}"
            )
            lines.append(
                f"  - {label}: {_pct(r['tpr@1%'])} [{_pct(r['tpr@1%_low'])}, {_pct(r['tpr@1%_high'])}] at 1% FPR "
                f"({r['attack'].replace('_', ' ')}), {rel}; test accuracy {r['test_acc']:.3f} "
                f"({100 * (r['test_acc'] - ref['test_acc']):+.1f} points)."
            )
        if dp in b.index:
            r = b.loc[dp]
            aucs = b["auc"]
            rank = "the lowest AUC of all defenses" if r["auc"] <= aucs.min() else "not the lowest AUC"
            eps = f"epsilon {r['epsilon']:.1f}" if np.isfinite(r["epsilon"]) else "epsilon n/a"
            lines.append(
                f"  - {dp} ({eps}): {_pct(r['tpr@1%'])} at 1% FPR, {rank} ({r['auc']:.2f}); test accuracy "
                f"{r['test_acc']:.3f} ({100 * (r['test_acc'] - ref['test_acc']):+.1f} points)."
            )
    if ccl_overlap and not ccl_lower:
        lines.append(
            "- CCL: every CCL target's TPR at 1% FPR has a bootstrap interval that overlaps the undefended "
            "model's -- no measurable protection against these per-example attacks in this run."
        )
    elif ccl_lower:
        lines.append(
            f"- CCL lowers the strongest attack's TPR at 1% FPR beyond the intervals for {', '.join(ccl_lower)}"
            + (f"; not for {', '.join(ccl_overlap + ccl_higher)}." if ccl_overlap or ccl_higher else ".")
        )
    elif ccl_higher:
        lines.append(f"- CCL *raises* the strongest attack's TPR at 1% FPR beyond the intervals for {', '.join(ccl_higher)}.")
    if {"lira_online", "lira_offline"} <= set(res["attack"]):
        piv = res.pivot_table(index=["dataset", "defense"], columns="attack", values="auc", sort=False)
        weaker = int((piv["lira_online"] < piv["lira_offline"]).sum())
        kk = f"K = {k} reference models" if k is not None else "these reference models"
        lines.append(
            f"- With {kk}, online LiRA has a lower AUC than offline LiRA for {weaker} of {len(piv)} targets "
            "(online LiRA needs IN models for every example; it overtakes offline LiRA with many models)."
        )
    coarse = res.groupby("dataset", sort=False)["min_fpr"].max()
    coarse = coarse[coarse > 0.001]
    if len(coarse):
        lines.append(
            "- The smallest measurable FPR (one false positive) is "
            + ", ".join(f"{_pct(v)} on {d}" for d, v in coarse.items())
            + ": there, TPR at 0.1% FPR is the TPR at zero false positives; read the 1% column."
        )
    return "\n".join(lines)


def strong_attack_table(
    runs: Mapping[tuple, "StrongAttackRun"],
    metrics: Sequence[str] = ("tpr@0.1%", "tpr@1%", "auc", "advantage"),
    n_boot: int = 1000,
    level: float = 0.95,
) -> Any:
    """One row per (data set, defense, seed, attack) with bootstrap intervals (Carlini et al., 2022).

    Args:
        runs: ``{(dataset, defense label, seed): StrongAttackRun}``, as chapter 10 builds it.
        metrics: metric names of :func:`ccl_lib.stats.interval_columns`; each
            gets ``m``, ``m_low`` and ``m_high`` columns (stratified bootstrap over
            members and non-members, seeded by the run's seed).
        n_boot, level: bootstrap replicates and interval coverage.

    Returns:
        a ``pandas.DataFrame`` with ``dataset, defense, attack, seed, k, test_acc,
        train_acc, epsilon, min_fpr`` (``1 / n_out``, the smallest measurable FPR)
        and the metric columns.
    """
    import pandas as pd

    from ..stats import interval_columns, min_resolvable_fpr

    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict {(dataset, defense, seed): StrongAttackRun}")
    rows = []
    for key, run in runs.items():
        if not (isinstance(key, tuple) and len(key) == 3) or not isinstance(run, StrongAttackRun):
            raise TypeError(f"each entry must be (dataset, defense, seed) -> StrongAttackRun, got {key!r}")
        ds_name, label, seed = key
        for attack, res in run.results.items():
            ci = interval_columns(res.scores_in, res.scores_out, list(metrics), n_boot=n_boot, level=level, seed=seed)
            rows.append({"dataset": ds_name, "defense": label, "attack": attack, "seed": seed, "k": run.refs.k,
                         "test_acc": run.test_acc, "train_acc": run.train_acc, "epsilon": run.epsilon,
                         "min_fpr": min_resolvable_fpr(res.n_out), **ci})
    return pd.DataFrame(rows)


def format_strong_attack_table(results: Any, seed: int) -> Any:
    """:func:`strong_attack_table` of one seed for reading: "estimate [low, high]" cells, TPRs in percent."""
    import pandas as pd

    from ..stats import format_interval

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    show = results[results["seed"] == seed].copy()
    if show.empty:
        raise ValueError(f"no rows for seed {seed}; seeds present: {sorted(results['seed'].unique())}")
    metrics = [m for m in ("tpr@0.1%", "tpr@1%", "auc", "advantage") if m in show and f"{m}_low" in show]
    for m in metrics:
        pct = m.startswith("tpr")
        show[m] = [format_interval(e, lo, hi, percent=pct, digits=1 if pct else 2)
                   for e, lo, hi in zip(show[m], show[f"{m}_low"], show[f"{m}_high"])]
    show["epsilon"] = show["epsilon"].map(lambda e: f"{e:.1f}" if np.isfinite(e) else "-")
    show["min_fpr"] = show["min_fpr"].map(lambda f: f"{100 * f:.2g}%")
    show["test_acc"] = show["test_acc"].round(3)
    cols = ["dataset", "defense", "test_acc", "epsilon", "attack", "min_fpr", *metrics]
    return show[cols].set_index(["dataset", "defense", "attack"])
