"""Shared types of the attack suite: the result of an attack, the attacker's view, the registry.

Threat model (Sec. 5.1 of the paper; Shokri et al., 2017): black-box queries to
the target model; the attacker knows the architecture and the data
distribution and trains a *shadow* model the same way on a disjoint shadow
split, which gives labelled member (shadow train) and non-member (shadow test)
examples.  Every attack learns its rule on the shadow model and is then scored
on the target's train (members) and test (non-members) splits.  The
headline ``advantage`` is TPR - FPR of that learned rule on the target (Eq. 2
and footnote 2 of the paper; the authors' ``_mem_inf_thre``);
``advantage_oracle`` is the best threshold chosen on the target itself, an
upper bound that is not an attack.

* :class:`AttackResult` -- membership scores of the target's members and
  non-members (higher = member) and the attacker's own hard decisions, from
  which every figure of the report derives (:meth:`AttackResult.summary`).
* :class:`AttackContext` -- what an attack sees: both models, the four
  balanced ``(x, y)`` sets, and a cache of (possibly augmented) logits so that
  each model is queried once per set and per augmentation.
* :data:`ATTACKS` and :func:`register_attack` -- the registry ``name ->
  callable(ctx, **options) -> AttackResult`` that :func:`ccl_lib.attacks.run_attacks`
  draws from; a new attack module only needs to decorate its function.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional, Union

import numpy as np
import torch
import torch.nn as nn

from .. import metrics as _metrics
from ..train import predict_logits

__all__ = [
    "ATTACKS",
    "AttackContext",
    "AttackFn",
    "AttackResult",
    "DATA_KINDS",
    "SUMMARY_KEYS",
    "balanced_indices",
    "check_candidates",
    "check_target_logits",
    "check_xy",
    "query_logits",
    "register_attack",
]

Tensor = torch.Tensor

#: Kinds of data an attack suite can be asked to run on.
DATA_KINDS = ("tabular", "image")

#: Keys of :meth:`AttackResult.summary`, in report order.
SUMMARY_KEYS = ("advantage", "advantage_oracle", "balanced_accuracy", "auc", "tpr@0.1%", "tpr@1%", "n_in", "n_out")


def _as_1d_float(a: Any, what: str) -> np.ndarray:
    arr = as_numpy(a)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-d array, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{what} contains NaN; membership scores must be numbers (+-inf allowed)")
    return arr


def as_numpy(a: Any, dtype: Any = np.float64) -> np.ndarray:
    """``a`` (array, list or tensor on any device) as a NumPy array of ``dtype``."""
    return np.asarray(a.detach().cpu().numpy() if isinstance(a, Tensor) else a, dtype=dtype)


def logits_and_labels(logits: Any, labels: Any, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Validated CPU tensors: logits ``(..., n, C)`` (``C >= 2``, finite) and labels ``(n,)`` in ``[0, C)``.

    The leading axes of ``logits`` are free (e.g. ``(K, n, C)`` for K
    reference models); shared by LiRA's and RMIA's per-example statistics.
    """
    z = torch.as_tensor(as_numpy(logits), dtype=dtype)
    y = torch.as_tensor(as_numpy(labels, np.int64))
    if z.dim() < 2 or z.shape[-1] < 2:
        raise ValueError(f"logits must be (..., n, C) with C >= 2 classes, got shape {tuple(z.shape)}")
    if y.dim() != 1 or y.shape[0] != z.shape[-2]:
        raise ValueError(
            f"labels must be (n,) with n = {z.shape[-2]} (the second-to-last axis of logits), got {tuple(y.shape)}"
        )
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= z.shape[-1]):
        raise ValueError(f"labels must lie in [0, {z.shape[-1] - 1}], got [{int(y.min())}, {int(y.max())}]")
    if not torch.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values")
    return z, y


def logit_confidence(logits: Any, labels: Any) -> np.ndarray:
    """LiRA's statistic phi = log(p_y / (1 - p_y)) from logits, computed stably (Carlini et al., Sec. IV-B).

    Args:
        logits: ``(..., n, C)`` logits (any leading axes, e.g. ``(K, n, C)``
            for K models), ``C >= 2``.
        labels: ``(n,)`` integer classes in ``[0, C)``.

    Returns:
        ``(..., n)`` float64: ``z_y - logsumexp_{k != y} z_k``, which equals
        ``log p_y - log(1 - p_y)`` but stays exact when ``p_y`` rounds to 1.

    It lives here, below :mod:`~ccl_lib.attacks.lira` and :mod:`~ccl_lib.attacks.reference`, which
    both use it (LiRA's fit and the reference models' statistic); it is exported as
    ``ccl_lib.attacks.lira.logit_confidence``.
    """
    z, y = logits_and_labels(logits, labels)
    idx = y.view(*([1] * (z.dim() - 2)), -1, 1).expand(*z.shape[:-1], 1)
    zy = z.gather(-1, idx).squeeze(-1)
    others = z.scatter(-1, idx, float("-inf"))
    return (zy - torch.logsumexp(others, dim=-1)).numpy()


def check_candidates(n_pool: int, candidates: Any, is_member: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated pool positions of the tested examples and their membership (LiRA, RMIA).

    Args:
        n_pool: size of the reference models' pool; positions must lie in ``[0, n_pool)``.
        candidates: non-empty 1-d integer array of pool positions to score.
        is_member: one boolean (or 0/1) per candidate, ``True`` = in the target's training
            set; both values must occur.
    """
    c = np.asarray(candidates)
    if c.ndim != 1 or len(c) == 0 or not np.issubdtype(c.dtype, np.integer):
        raise ValueError("candidates must be a non-empty 1-d array of integer pool positions")
    if c.min() < 0 or c.max() >= n_pool:
        raise ValueError(f"candidates must index the pool [0, {n_pool}), got [{c.min()}, {c.max()}]")
    m = np.asarray(is_member)
    if m.shape != c.shape:
        raise ValueError(f"is_member must have one entry per candidate ({len(c)}), got shape {m.shape}")
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError("is_member must be boolean (True = member of the target's training set)")
        m = m.astype(bool)
    if m.all() or not m.any():
        raise ValueError("the candidates need at least one member and one non-member to score an attack")
    return c, m


def check_target_logits(target_logits: Any, refs: Any) -> np.ndarray:
    """The target's ``(n_pool, C)`` logits on the reference models' pool, as float32 (LiRA, RMIA).

    Args:
        target_logits: the target model's logits on every pool example, shape ``(n_pool, C)``.
        refs: the reference models (:class:`ccl_lib.attacks.ReferenceModels`); their
            ``logits`` of shape ``(k, n_pool, C)`` fix the expected shape.
    """
    t = as_numpy(target_logits, np.float32)
    if t.shape != refs.logits.shape[1:]:
        raise ValueError(
            f"target_logits must be the target's logits on the whole pool, shape {refs.logits.shape[1:]}, got {t.shape}"
        )
    return t


def _as_1d_bool(a: Any, what: str, n: int) -> np.ndarray:
    arr = np.asarray(a.detach().cpu().numpy() if isinstance(a, Tensor) else a)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{what} must be a 1-d array of length {n} (one decision per score), got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{what} must hold booleans (True = predicted member)")
        arr = arr.astype(bool)
    return arr


@dataclass
class AttackResult:
    """Outcome of one membership inference attack on the target model.

    Attributes:
        name: the attack's name (a key of :data:`ATTACKS`).
        scores_in: membership scores of the target's members (its training
            examples); higher means "more likely a member".
        scores_out: membership scores of the target's non-members (its test
            examples).
        decision_in: the attacker's hard decisions (``True`` = member) on the
            target's members, from the rule it learned on the shadow model
            (thresholds or attack classifier), or ``None`` for a score-only attack.
        decision_out: the same decisions on the target's non-members (``None``
            exactly when ``decision_in`` is).
        info: how the attack was configured (which confidence, rotation
            angles, ...), for reports.

    Every number of the report derives from these arrays (:meth:`summary`,
    :meth:`roc`), so tables and figures cannot disagree.
    """

    name: str
    scores_in: np.ndarray
    scores_out: np.ndarray
    decision_in: Optional[np.ndarray] = None
    decision_out: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an attack result needs a non-empty name, got {self.name!r}")
        self.scores_in = _as_1d_float(self.scores_in, f"{self.name}: scores_in")
        self.scores_out = _as_1d_float(self.scores_out, f"{self.name}: scores_out")
        if len(self.scores_in) == 0 or len(self.scores_out) == 0:
            raise ValueError(f"{self.name}: need at least one member and one non-member score")
        if (self.decision_in is None) != (self.decision_out is None):
            raise ValueError(f"{self.name}: give both decision_in and decision_out, or neither")
        if self.decision_in is not None:
            self.decision_in = _as_1d_bool(self.decision_in, f"{self.name}: decision_in", len(self.scores_in))
            self.decision_out = _as_1d_bool(self.decision_out, f"{self.name}: decision_out", len(self.scores_out))
        if not isinstance(self.info, dict):
            raise TypeError(f"{self.name}: info must be a dict, got {type(self.info).__name__}")

    @property
    def n_in(self) -> int:
        return int(len(self.scores_in))

    @property
    def n_out(self) -> int:
        return int(len(self.scores_out))

    def scores_and_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """All scores (members first) and membership labels (1 = member), as :mod:`ccl_lib.metrics` wants."""
        scores = np.concatenate([self.scores_in, self.scores_out])
        labels = np.r_[np.ones(self.n_in, dtype=np.int64), np.zeros(self.n_out, dtype=np.int64)]
        return scores, labels

    def roc(self) -> _metrics.RocCurve:
        """Exact ROC curve of the membership score on the target (:func:`ccl_lib.metrics.roc_curve`)."""
        return _metrics.roc_curve(*self.scores_and_labels())

    def decision_advantage(self) -> float:
        """TPR - FPR on the target of the attacker's own decisions (Eq. 2), NaN without decisions.

        The decisions come from the rule the attack learned without the
        target's membership (on the shadow model, or on reference models);
        this is the paper's advantage (Eq. 2 with footnote 2: "tau is
        determined by shadow models").  It can be negative.
        """
        if self.decision_in is None or self.decision_out is None:
            return math.nan
        return float(self.decision_in.mean() - self.decision_out.mean())

    def summary(self) -> dict[str, Union[float, int]]:
        """The report's numbers for this attack (keys :data:`SUMMARY_KEYS`).

        * ``advantage`` -- the HEADLINE, Eq. 2 with footnote 2 of the paper:
          TPR - FPR on the target of the attacker's own decisions, learned
          without the target's membership (class thresholds or attack
          classifier fitted on the shadow model; for LiRA/RMIA a threshold
          fitted on the attacker's reference models).  NaN for a score-only
          result without decisions.  Can be negative.
        * ``advantage_oracle`` -- ``max over thresholds of TPR - FPR`` of the
          score with the threshold chosen *on the target's* members and
          non-members: an upper bound for any threshold rule on this score,
          not an attack (biased upwards: about +0.045 on 300 + 300 examples
          that carry no membership signal at all).
        * ``balanced_accuracy`` -- (TPR + TNR) / 2 of the decisions,
          ``(1 + advantage) / 2`` (NaN without decisions);
        * ``auc`` -- area under the ROC curve of the score;
        * ``tpr@0.1%``, ``tpr@1%`` -- TPR at FPR <= 0.1% and 1% (Carlini et al., 2022),
          the threshold read off the target's ROC curve (as in Carlini et al.);
        * ``n_in``, ``n_out`` -- numbers of target members and non-members scored.
        """
        scores, labels = self.scores_and_labels()
        roc = _metrics.roc_curve(scores, labels)
        adv = self.decision_advantage()
        ok_01 = roc.fpr <= 0.001 + 1e-12
        ok_1 = roc.fpr <= 0.01 + 1e-12
        return {
            "advantage": adv,
            "advantage_oracle": float(np.max(roc.tpr - roc.fpr)),
            "balanced_accuracy": (
                math.nan
                if math.isnan(adv)
                else _metrics.balanced_accuracy(np.r_[self.decision_in, self.decision_out], labels)
            ),
            "auc": _metrics.roc_auc(scores, labels),
            "tpr@0.1%": float(roc.tpr[ok_01].max()),
            "tpr@1%": float(roc.tpr[ok_1].max()),
            "n_in": self.n_in,
            "n_out": self.n_out,
        }


# --------------------------------------------------------------------------- inputs


def check_xy(pair: Any, what: str) -> tuple[Tensor, Tensor]:
    """Validate one ``(x, y)`` set: float features and 1-d integer labels of the same length.

    Args:
        pair: ``(x, y)`` tensors as produced by ``Dataset.features``: ``x`` float of shape
            (n, d) or (n, C, H, W), ``y`` 1-d non-negative integer labels, n >= 1.
        what: the set's name, used in error messages (e.g. ``"target_in"``).

    Returns:
        ``(x, y)`` with ``y`` as int64.
    """
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
        raise TypeError(
            f"{what} must be a pair (x, y) of tensors, as produced by Dataset.features, got {type(pair).__name__}"
        )
    x, y = pair
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"{what}: x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.dim() < 2:
        raise ValueError(f"{what}: x must be (n, d) tabular or (n, C, H, W) image features, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{what}: x must be a float tensor (see Dataset.features), got {x.dtype}")
    if y.dim() != 1 or len(y) != len(x):
        raise ValueError(f"{what}: y must be 1-d with one label per row of x ({len(x)}), got shape {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{what}: y must hold integer class labels, got {y.dtype}")
    if len(y) == 0:
        raise ValueError(f"{what} is empty; an attack needs members and non-members")
    if int(y.min()) < 0:
        raise ValueError(f"{what}: class labels must be >= 0, got {int(y.min())}")
    return x, y.long()


def balanced_indices(n_in: int, n_out: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices that balance members and non-members by subsampling the larger set (seeded).

    Args:
        n_in: number of members (>= 1).
        n_out: number of non-members (>= 1).
        seed: seeds the subsample of the larger set.

    Returns sorted index arrays into the member and the non-member set, both of
    length ``min(n_in, n_out)``; the smaller set is kept whole.
    """
    if n_in < 1 or n_out < 1:
        raise ValueError(f"need at least one member and one non-member, got {n_in} and {n_out}")
    n = min(n_in, n_out)
    rng = np.random.default_rng(seed)
    idx_in = np.arange(n_in) if n_in == n else np.sort(rng.choice(n_in, n, replace=False))
    idx_out = np.arange(n_out) if n_out == n else np.sort(rng.choice(n_out, n, replace=False))
    return idx_in, idx_out


_PREDICT_HAS_AMP = "amp" in inspect.signature(predict_logits).parameters


def query_logits(
    model: nn.Module,
    x: Tensor,
    *,
    batch_size: int = 2048,
    device: Union[str, torch.device, None] = None,
    transform: Optional[Callable[[Tensor], Tensor]] = None,
) -> Tensor:
    """The attacker's black-box query: logits of ``model`` on ``x`` (CPU float32).

    Uses :func:`ccl_lib.train.predict_logits`: eval mode, no training-time
    augmentation, ``inference_mode``; ``transform`` (a fixed, deterministic
    augmentation of the augmentation attack) is applied on the device.  Full
    precision is requested when ``predict_logits`` offers an ``amp`` switch.

    Args:
        model: the queried model (its train/eval mode is restored afterwards).
        x: the query inputs, (n, d) or (n, C, H, W).
        batch_size: rows per forward pass (memory only).
        device: where to run the forward passes; default the model's device.
        transform: optional deterministic batch transform applied before the forward pass.
    """
    kwargs: dict[str, Any] = {"batch_size": batch_size, "device": device, "transform": transform}
    if _PREDICT_HAS_AMP:
        kwargs["amp"] = False
    return predict_logits(model, x, **kwargs)


# --------------------------------------------------------------------------- context

_ROLES = ("target", "shadow")
_PARTS = ("in", "out")


@dataclass
class AttackContext:
    """What an attack sees: the models, the balanced query sets, and a logits cache.

    ``target_in``/``target_out`` are the target's members (train split) and
    non-members (test split); ``shadow_in``/``shadow_out`` likewise for the
    shadow model.  Attacks read them through :meth:`data` and :meth:`logits`
    so that every (model, set, augmentation) is queried once per suite run.
    ``defense`` and ``train_config`` are the target's training algorithm and
    recipe (a :class:`ccl_lib.defenses.Defense` and a
    :class:`ccl_lib.train.TrainConfig`), known to the attacker in the threat
    model of LiRA/RMIA (Carlini et al., 2022); the reference-model attacks
    train with them by default.

    Attributes:
        target: the attacked model (queried as a black box for logits).
        shadow: the attacker's shadow model, trained like the target on disjoint data;
            the threshold and classifier attacks learn their rule on it.
        kind: ``"tabular"`` or ``"image"`` (:data:`DATA_KINDS`); image-only attacks
            (rotation, translation) refuse ``"tabular"``.
        seed: seeds every randomized step of the attacks (classifier training, reference models).
        device: where models are queried and attack classifiers trained (default: the model's device / CPU).
        batch_size: rows per forward pass when querying models.
        progress: show progress bars while training reference models (LiRA, RMIA).
        defense: the target's training algorithm (see above); ``None`` if unknown.
        train_config: the target's training recipe (see above); ``None`` if unknown.
        normalization: image data: the per-channel ``(mean, std)`` that maps pixels in [0, 1] to
            the model's inputs (:attr:`ccl_lib.data.Dataset.normalization`), for attacks that
            work in pixel space (``rotation_release`` fills with black); ``None`` if unknown.
        _cache: the logits cache, ``(role, part, key) -> logits``; internal, leave empty.
    """

    target: nn.Module
    shadow: nn.Module
    target_in: tuple[Tensor, Tensor]
    target_out: tuple[Tensor, Tensor]
    shadow_in: tuple[Tensor, Tensor]
    shadow_out: tuple[Tensor, Tensor]
    kind: str = "tabular"
    seed: int = 0
    device: Optional[torch.device] = None
    batch_size: int = 2048
    progress: bool = False
    defense: Any = None
    train_config: Any = None
    normalization: Any = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"kind must be one of {DATA_KINDS}, got {self.kind!r}")
        for name in ("target_in", "target_out", "shadow_in", "shadow_out"):
            setattr(self, name, check_xy(getattr(self, name), name))

    @property
    def num_classes(self) -> int:
        """Number of outputs of the target model (read from a cached query)."""
        return int(self.logits("target", "in").shape[1])

    def model(self, role: str) -> nn.Module:
        if role not in _ROLES:
            raise ValueError(f"role must be one of {_ROLES}, got {role!r}")
        return self.target if role == "target" else self.shadow

    def data(self, role: str, part: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of ``role`` in {"target", "shadow"} and ``part`` in {"in", "out"}."""
        if role not in _ROLES or part not in _PARTS:
            raise ValueError(f"role must be one of {_ROLES} and part one of {_PARTS}, got {role!r}, {part!r}")
        return getattr(self, f"{role}_{part}")

    def logits(
        self,
        role: str,
        part: str,
        transform: Optional[Callable[[Tensor], Tensor]] = None,
        key: Optional[Hashable] = None,
    ) -> Tensor:
        """Logits of the ``role`` model on its ``part`` set, cached.

        ``transform`` is a deterministic augmentation applied to each batch on
        the device; ``key`` names it in the cache (required with a transform).
        """
        if transform is not None and key is None:
            raise ValueError("a transform needs a cache key naming it (e.g. ('rotate', 15.0))")
        x, _ = self.data(role, part)
        ck = (role, part, key)
        if ck not in self._cache:
            self._cache[ck] = query_logits(
                self.model(role), x, batch_size=self.batch_size, device=self.device, transform=transform
            )
        return self._cache[ck]

    def labels(self, role: str, part: str) -> Tensor:
        return self.data(role, part)[1]


# --------------------------------------------------------------------------- registry

#: An attack: ``fn(ctx: AttackContext, **options) -> AttackResult``.
AttackFn = Callable[..., AttackResult]

#: The registry of attacks, ``name -> callable``; :func:`ccl_lib.attacks.run_attacks` draws from it.
ATTACKS: dict[str, AttackFn] = {}


def register_attack(
    name: str,
    fn: Optional[AttackFn] = None,
    *,
    image_only: bool = False,
    tabular_only: bool = False,
    overwrite: bool = False,
) -> Any:
    """Add an attack to :data:`ATTACKS` (usable as a decorator).

    Args:
        name: the registry key (also the ``attack`` column of the report).
        fn: ``fn(ctx, **options) -> AttackResult``; omit to use as ``@register_attack("name")``.
        image_only: the attack needs image inputs (N, C, H, W); the suite refuses it on tabular data.
        tabular_only: the attack applies to tabular data only; the suite refuses it on images.
        overwrite: allow replacing an existing entry.
    """
    if image_only and tabular_only:
        raise ValueError(f"attack {name!r} cannot be both image_only and tabular_only")
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise ValueError(f"attack names must be non-empty identifiers (letters, digits, '_'), got {name!r}")

    def deco(f: AttackFn) -> AttackFn:
        if not callable(f):
            raise TypeError(f"attack {name!r} must be callable, got {type(f).__name__}")
        if name in ATTACKS and ATTACKS[name] is not f and not overwrite:
            raise ValueError(f"attack {name!r} is already registered; pass overwrite=True to replace it")
        f.image_only = bool(image_only)  # type: ignore[attr-defined]
        f.tabular_only = bool(tabular_only)  # type: ignore[attr-defined]
        ATTACKS[name] = f
        return f

    return deco if fn is None else deco(fn)
