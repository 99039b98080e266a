"""The arms of the scale-factor experiment (App. E.1) and their per-arm summaries.

* :func:`arms` / :func:`arm_specs` -- CE; CE x beta; CE at (lr * beta, wd / beta); CCEL and CCQL at
  scale 1 and at beta, as :class:`~ccl_lib.experiments.RunSpec` per seed.
* :func:`arm_frame` / :func:`headline_frame` -- a sweep's result rows labelled by arm, one row per run.
* :func:`arm_summary` -- per arm, means over seeds with 95 % t-intervals.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ..verdicts import seed_interval

__all__ = ["ARM_NAMES", "Arm", "arm_frame", "arm_specs", "arm_summary", "arms", "headline_frame"]

#: The arms, in display order (``β`` is the scale factor).
ARM_NAMES = ("CE", "CE×β", "CE(lr·β, wd/β)", "CCEL×1", "CCQL×1", "CCEL×β", "CCQL×β")


@dataclass(frozen=True)
class Arm:
    """One arm of the confound experiment: a defense, its hyperparameters and the SGD recipe.

    Attributes:
        name: one of :data:`ARM_NAMES` (with ``β`` the scale factor).
        defense: the :mod:`ccl_lib.defenses` name.
        hparams: its hyperparameters (``scale`` among them for the scaled arms).
        lr: the arm's SGD learning rate.
        weight_decay: the arm's SGD weight decay.
        beta: the scale factor the arm refers to.
        effective_lr, effective_wd: the recipe of the unscaled loss that takes
            exactly the same steps (``lr * scale``, ``wd / scale``).
    """

    name: str
    defense: str
    hparams: Mapping[str, Any] = field(default_factory=dict)
    lr: float = 0.1
    weight_decay: float = 5e-4
    beta: float = 1.0

    @property
    def scale(self) -> float:
        return float(self.hparams.get("scale", 1.0))

    @property
    def effective_lr(self) -> float:
        return self.lr * self.scale

    @property
    def effective_wd(self) -> float:
        return self.weight_decay / self.scale

    @property
    def label(self) -> str:
        """The arm's name with β written out (``"CCQL×0.01"``)."""
        return self.name.replace("β", f"{self.beta:g}")


def _positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return float(v)


def arms(
    beta: float,
    *,
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    alpha: float = 0.5,
    names: Optional[Sequence[str]] = None,
) -> list[Arm]:
    """The arms for scale factor ``beta`` (App. E.1: 0.01 on CIFAR-10, 0.05 on CIFAR-100).

    * ``CE`` -- cross-entropy (``vanilla``) at (lr, wd);
    * ``CE×β`` -- cross-entropy times beta (``ccl`` with ``alpha=1``) at (lr, wd);
    * ``CE(lr·β, wd/β)`` -- cross-entropy at (lr * beta, wd / beta): the same steps as ``CE×β``;
    * ``CCEL×1``, ``CCQL×1`` -- CCL (Eq. 4, ``alpha``) with scale 1 at (lr, wd);
    * ``CCEL×β``, ``CCQL×β`` -- CCL with scale beta at (lr, wd), the paper's CIFAR setting.

    ``names`` picks a subset (in :data:`ARM_NAMES` order).

    Args:
        beta: the scale factor in (0, 1].
        lr: the base SGD learning rate (> 0; the paper: 0.1).
        weight_decay: the base SGD weight decay (>= 0; the paper: 5e-4).
        alpha: CCL's weight of the convex term in [0, 1] (Eq. 4).
        names: arm names of :data:`ARM_NAMES` to keep (default all).
    """
    beta = _positive("beta", beta)
    if beta > 1:
        raise ValueError(f"beta must be in (0, 1] (the paper: 0.01 or 0.05), got {beta}")
    lr, weight_decay = _positive("lr", lr), float(weight_decay)
    if not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1] (Eq. 4), got {alpha!r}")
    alpha = float(alpha)
    every = {
        "CE": Arm("CE", "vanilla", {}, lr, weight_decay, beta),
        "CE×β": Arm("CE×β", "ccl", {"alpha": 1.0, "scale": beta}, lr, weight_decay, beta),
        "CE(lr·β, wd/β)": Arm("CE(lr·β, wd/β)", "vanilla", {}, lr * beta, weight_decay / beta, beta),
        "CCEL×1": Arm("CCEL×1", "ccel", {"alpha": alpha, "scale": 1.0}, lr, weight_decay, beta),
        "CCQL×1": Arm("CCQL×1", "ccql", {"alpha": alpha, "scale": 1.0}, lr, weight_decay, beta),
        "CCEL×β": Arm("CCEL×β", "ccel", {"alpha": alpha, "scale": beta}, lr, weight_decay, beta),
        "CCQL×β": Arm("CCQL×β", "ccql", {"alpha": alpha, "scale": beta}, lr, weight_decay, beta),
    }
    if names is None:
        return list(every.values())
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in every]
    if unknown:
        raise ValueError(f"unknown arm(s) {unknown}; arms: {list(ARM_NAMES)}")
    return [every[n] for n in ARM_NAMES if n in names]


def arm_specs(dataset: str, arm_list: Sequence[Arm], seeds: Sequence[int], **recipe: Any) -> list[tuple[Arm, Any]]:
    """``(arm, RunSpec)`` pairs: every arm on ``dataset`` for every seed.

    ``recipe`` holds the other :class:`ccl_lib.experiments.RunSpec` fields
    (``model``, ``epochs``, ``milestones``, ``augment``, ``size``, ...); the
    arm sets ``lr`` and ``weight_decay``.  Arms with the same run (e.g. ``CE``
    for two betas) share the spec, hence the cache entry.

    Args:
        dataset: a data set name of :func:`ccl_lib.data.load_dataset`.
        arm_list: the arms (:func:`arms`), non-empty.
        seeds: the seeds (an integer or a non-empty list).
        **recipe: the other :class:`~ccl_lib.experiments.RunSpec` fields (not ``lr``,
            ``weight_decay``, ``defense``, ``hparams``, ``seed`` or ``dataset``).
    """
    from ..experiments import RunSpec

    if not arm_list or not all(isinstance(a, Arm) for a in arm_list):
        raise ValueError("arm_list must be a non-empty list of Arm (see arms())")
    bad = sorted(set(recipe) & {"lr", "weight_decay", "defense", "hparams", "seed", "dataset"})
    if bad:
        raise ValueError(f"recipe must not set {bad}: the arms and seeds set them")
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds:
        raise ValueError("seeds must be a non-empty list of integers")
    if "milestones" in recipe and recipe["milestones"] is not None:
        recipe = {**recipe, "milestones": tuple(recipe["milestones"])}
    if recipe.get("attacks") is not None:
        recipe = {**recipe, "attacks": tuple(recipe["attacks"])}
    return [
        (
            a,
            RunSpec(
                dataset=dataset,
                defense=a.defense,
                hparams=dict(a.hparams),
                seed=int(s),
                lr=a.lr,
                weight_decay=a.weight_decay,
                **recipe,
            ),
        )  # fmt: skip
        for a in arm_list
        for s in seeds
    ]


def arm_frame(df, pairs: Sequence[tuple[Arm, Any]]):
    """The rows of ``df`` (a result frame of :func:`ccl_lib.analysis.runs.run_runs`) with columns
    ``arm``, ``arm_label``, ``beta`` and ``dataset`` per (arm, run); a run shared by
    two arms appears once per arm.

    Args:
        df: the result frame of the runs of ``pairs`` (one row per run, epoch and attack).
        pairs: the ``(arm, RunSpec)`` pairs of :func:`arm_specs`; every run must be in ``df``.
    """
    import pandas as pd

    parts = []
    for a, spec in pairs:
        sub = df[df["key"] == spec.key()]
        if sub.empty:
            raise ValueError(f"no rows for arm {a.label} seed {spec.seed} (run {spec.key()}) in the frame")
        sub = sub.copy()
        sub["arm"], sub["arm_label"], sub["beta"] = a.name, a.label, a.beta
        parts.append(sub)
    return pd.concat(parts, ignore_index=True)


def headline_frame(df, attack: Optional[str] = None):
    """One row per run (and arm) with the quantities the chapter compares.

    ``adv``: the attacker's advantage -- of ``attack`` when given (e.g.
    ``"loss"`` for Theorem 6.1), else ``max_advantage`` (the highest over the
    paper's attacks, Table 1's P1).  Also ``test_acc``, ``train_acc``,
    ``gap`` (train - test accuracy), ``train_loss_var``, ``train_loss_var_rel``
    (variance / mean of the per-example training cross-entropy).

    Args:
        df: :func:`arm_frame`'s output (or any result frame with ``max_advantage``,
            ``advantage``, the accuracies and the training-loss columns).
        attack: the attack whose advantage is ``adv``, as above (default: the highest).
    """
    if attack is not None:
        if attack not in set(df["attack"]):
            raise ValueError(f"attack {attack!r} is not in the frame; it has {sorted(set(df['attack']))}")
        sub = df[df["attack"] == attack].copy()
        sub["adv"] = sub["advantage"]
    else:
        sub = df.drop_duplicates([c for c in ("arm", "beta", "key", "eval_epoch") if c in df.columns]).copy()
        sub["adv"] = sub["max_advantage"]
    sub["gap"] = sub["train_acc"] - sub["test_acc"]
    sub["train_loss_var_rel"] = sub["train_loss_var"] / sub["train_loss_mean"]
    return sub.reset_index(drop=True)


_SUMMARY_VALUES = ("test_acc", "train_acc", "gap", "adv", "train_loss_var")


def arm_summary(df, attack: Optional[str] = None, values: Sequence[str] = _SUMMARY_VALUES, level: float = 0.95):
    """Per (dataset, beta, arm): mean over seeds with a 95 % t-interval of each value.

    ``df`` is :func:`arm_frame`'s output; ``adv`` is the headline advantage
    (:func:`headline_frame`).  Columns: ``dataset, beta, arm, arm_label, n`` and,
    for each value, ``<value>``, ``<value>_low``, ``<value>_high``.

    Args:
        df: :func:`arm_frame`'s output.
        attack: the attack whose advantage is ``adv`` (default: the highest, ``max_advantage``).
        values: the columns of :func:`headline_frame` summarized.
        level: the intervals' confidence level in (0, 1).
    """
    import pandas as pd

    h = headline_frame(df, attack)
    rows = []
    order = {n: i for i, n in enumerate(ARM_NAMES)}
    for (ds, beta, arm), g in h.groupby(["dataset", "beta", "arm"], sort=False):
        r: dict[str, Any] = {"dataset": ds, "beta": beta, "arm": arm, "arm_label": g["arm_label"].iloc[0],
                             "n": int(g["seed"].nunique())}  # fmt: skip
        for v in values:
            iv = seed_interval(g[v].to_numpy(), level)
            r[v], r[f"{v}_low"], r[f"{v}_high"] = iv.mean, iv.low, iv.high
        rows.append(r)
    out = pd.DataFrame(rows)
    out["_o"] = out["arm"].map(order)
    return out.sort_values(["dataset", "beta", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
