"""Where does CCL's privacy come from?  The scale-factor confound and Theorem 6.1's premise.

App. E.1 of Liu et al. (ICML 2024) multiplies the CCL loss by a scale factor
(0.01 on CIFAR-10, 0.05 on CIFAR-100) while the undefended baseline trains
plain cross-entropy.  With SGD, momentum ``mu`` and (coupled) weight decay
``lambda``, the update of ``beta * L`` at learning rate ``eta``::

    d = beta * grad L + lambda * w = beta * (grad L + (lambda / beta) * w)
    v <- mu * v + d,   w <- w - eta * v

is, step by step, the update of ``L`` at learning rate ``eta * beta`` and
weight decay ``lambda / beta`` (the momentum buffer is ``beta`` times the
other one).  So the paper's CIFAR-10 CCL models train at an effective
``(lr 0.001, wd 0.05)`` against a baseline at ``(lr 0.1, wd 5e-4)``.  This
module separates the two effects:

* :func:`scale_identity_check` -- trains both sides of the identity with the
  library's own trainer and returns the largest parameter difference.
* :func:`arms` / :func:`arm_specs` -- the arms of the experiment: CE; CE x beta;
  CE at (lr * beta, wd / beta); CCEL and CCQL at scale 1 and at beta.
* :func:`arm_summary` -- per arm, means over seeds with 95 % t-intervals.
* :func:`compare_at_equal_accuracy` -- CCL against CE trained with the
  equivalent learning rate and weight decay, with intervals over seeds, and a
  verdict only when accuracy is matched (or CCL dominates).
* :func:`variance_premise` -- Theorem 6.1's premise across every run of a
  sweep: the rank correlation (Spearman) of the training-loss variance (or
  variance / mean) with the attacker's advantage, with a bootstrap interval.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .verdicts import INCONCLUSIVE, SeedInterval, Verdict, difference_interval, seed_interval, verdict

__all__ = [
    "ARM_NAMES",
    "Arm",
    "arm_frame",
    "arm_specs",
    "arm_summary",
    "arms",
    "compare_at_equal_accuracy",
    "describe_comparison",
    "format_points",
    "headline_frame",
    "plot_arms",
    "scale_identity_check",
    "variance_premise",
]

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
    from .experiments import RunSpec

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


def _by_seed(h, dataset: str, beta: float, arm: str):
    g = h[(h["dataset"] == dataset) & np.isclose(h["beta"], beta) & (h["arm"] == arm)]
    if g.empty:
        raise ValueError(f"no runs of arm {arm!r} (beta {beta:g}) on {dataset!r}")
    return g.set_index("seed").sort_index()


def compare_at_equal_accuracy(
    df,
    *,
    dataset: str,
    beta: float,
    ccl: str = "CCQL×β",
    ce: str = "CE(lr·β, wd/β)",
    attack: Optional[str] = None,
    tolerance: float = 0.02,
    level: float = 0.95,
) -> dict[str, Any]:
    """Does CCL beat cross-entropy trained with the same effective learning rate and weight decay?

    Paired by seed (both arms see the same split), it returns the intervals of
    the differences ``CCL - CE`` of the headline advantage (``adv``) and of the
    test accuracy.  The accuracies count as *equal* when the accuracy
    difference's whole interval lies within ``+- tolerance``.

    Verdict (``"verdict"``, a :class:`ccl_lib.verdicts.Verdict` on the
    advantage difference): ``"lower"`` -- CCL is less attackable at equal (or
    higher) accuracy; ``"higher"`` -- CCL is more attackable at equal (or lower)
    accuracy; otherwise -- a difference in advantage that comes with a
    difference in accuracy the other way, an interval containing 0, or fewer
    than 3 seeds -- ``"inconclusive at this scale"``.

    Returns a dict with ``adv_diff``, ``acc_diff`` (:class:`SeedInterval`),
    ``equal_accuracy`` (bool), ``verdict``, ``ccl``, ``ce`` (arm labels) and ``n``.

    Args:
        df: :func:`arm_frame`'s output.
        dataset: the data set compared.
        beta: the scale factor of the arms compared.
        ccl: the CCL arm's name (default ``"CCQL×β"``).
        ce: the cross-entropy arm's name (default the equivalent recipe, ``"CE(lr·β, wd/β)"``).
        attack: the attack whose advantage is compared (default: the highest).
        tolerance: the largest accuracy difference (> 0, a fraction: 0.02 = 2 points) that counts as equal.
        level: the intervals' confidence level in (0, 1).
    """
    tolerance = _positive("tolerance", tolerance)
    h = headline_frame(df, attack)
    a, b = _by_seed(h, dataset, beta, ccl), _by_seed(h, dataset, beta, ce)
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        raise ValueError(f"arms {ccl!r} and {ce!r} share no seed on {dataset!r}")
    adv = difference_interval(a.loc[seeds, "adv"].to_numpy(), b.loc[seeds, "adv"].to_numpy(), paired=True, level=level)
    acc = difference_interval(a.loc[seeds, "test_acc"].to_numpy(), b.loc[seeds, "test_acc"].to_numpy(), paired=True,
                              level=level)  # fmt: skip
    equal = acc.finite and -tolerance <= acc.low and acc.high <= tolerance
    v = verdict(adv)
    if v.word in ("lower", "higher"):
        ok = equal or (acc.finite and (acc.low > -tolerance if v.word == "lower" else acc.high < tolerance))
        if not ok:
            v = Verdict(INCONCLUSIVE, adv, reason=f"the advantage is {v.word} but the test accuracy differs "
                                                  f"({format_points(acc)}): a trade-off, "
                                                  "not a better privacy at equal utility")  # fmt: skip
    return {"adv_diff": adv, "acc_diff": acc, "equal_accuracy": bool(equal), "verdict": v,
            "ccl": a["arm_label"].iloc[0], "ce": b["arm_label"].iloc[0], "n": len(seeds)}  # fmt: skip


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def variance_premise(
    df,
    *,
    x: str = "train_loss_var",
    attack: Optional[str] = "loss",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Theorem 6.1's premise across runs: is a larger training-loss variance a lower advantage?

    Theorem 6.1 (Gaussian losses, Eq. 18): at a fixed false-positive rate the
    loss attack's advantage falls as the members' loss spread ``sigma_S`` grows,
    other things equal.  Across every run of a sweep this function computes
    Spearman's rank correlation between ``x`` (``"train_loss_var"``, or
    ``"train_loss_var_rel"`` = variance / mean) and the attacker's advantage
    (of ``attack``; ``None``: the highest over the paper's attacks), with a
    percentile bootstrap interval over runs (runs resampled with replacement).

    The verdict's claim is "negative"; it needs at least 3 seeds behind the
    runs (``n`` of the interval is the number of seeds).  Note the premise is
    confounded by memorization: runs that memorize more have *both* a smaller
    variance and a higher advantage.

    Returns a dict: ``rho``, ``interval`` (:class:`SeedInterval`, method
    ``"bootstrap"``), ``n_runs``, ``n_seeds``, ``verdict``, ``x``, ``attack``.

    Args:
        df: a result frame with every run of the sweep (at least 4 runs with finite values).
        x: ``"train_loss_var"`` or ``"train_loss_var_rel"``, as above.
        attack: as above (default ``"loss"``, the attack of Theorem 6.1).
        n_boot: bootstrap replicates (>= 100).
        level: the interval's confidence level in (0, 1).
        seed: seeds the bootstrap.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 100:
        raise ValueError(f"n_boot must be an integer >= 100, got {n_boot!r}")
    if x not in ("train_loss_var", "train_loss_var_rel"):
        raise ValueError(f"x must be 'train_loss_var' or 'train_loss_var_rel', got {x!r}")
    h = headline_frame(df, attack)
    keys = [c for c in ("key", "eval_epoch") if c in h.columns]
    h = h.drop_duplicates(keys)  # a run shared by two arms counts once
    xs, ys = h[x].to_numpy(np.float64), h["adv"].to_numpy(np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    n = int(len(xs))
    if n < 4:
        raise ValueError(f"a rank correlation needs at least 4 runs with finite values, got {n}")
    rho = _spearman(xs, ys)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        boots[i] = _spearman(xs[idx], ys[idx])
    boots = boots[np.isfinite(boots)]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if len(boots) else (math.nan, math.nan)
    n_seeds = int(h["seed"].nunique())
    iv = SeedInterval(rho, float(lo), float(hi), n_seeds, level, "bootstrap")
    return {"rho": rho, "interval": iv, "n_runs": n, "n_seeds": n_seeds, "verdict": verdict(iv, claim="negative"),
            "x": x, "attack": attack or "max over the paper's attacks"}  # fmt: skip


def scale_identity_check(
    beta: float = 0.01,
    *,
    defense: str = "vanilla",
    alpha: float = 0.5,
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    epochs: int = 3,
    milestones: Sequence[int] = (2,),
    batch_size: int = 64,
    seed: int = 0,
    data: Optional[tuple[Any, Any]] = None,
    model_fn: Optional[Callable[[], Any]] = None,
) -> dict[str, Any]:
    """Train both sides of the scale identity with the library's trainer; the largest parameter difference.

    Side A: ``defense`` with its loss times ``beta`` at (lr, wd).  Side B: the
    unscaled loss at (lr * beta, wd / beta).  For ``defense="vanilla"`` side A
    is ``ccl`` with ``alpha=1`` (cross-entropy) and ``scale=beta``, side B
    ``vanilla``; for ``"ccel"``/``"ccql"`` both sides are that defense with
    ``alpha`` and scale ``beta`` / 1.  Both start from the same weights and
    see the same batches (same seed); the milestone schedule applies to both.

    Args:
        beta: the scale factor (> 0).
        defense: ``"vanilla"``, ``"ccel"`` or ``"ccql"``, as above.
        alpha: CCL's weight of the convex term (Eq. 4), for ``"ccel"``/``"ccql"``.
        lr: side A's learning rate (side B: ``lr * beta``).
        weight_decay: side A's weight decay (side B: ``weight_decay / beta``).
        momentum: SGD momentum of both sides.
        epochs: training epochs of both sides.
        milestones: learning-rate milestones of both sides.
        batch_size: minibatch size of both sides.
        seed: seeds the initial weights and the batches.
        data: ``(x, y)`` tensors; default scikit-learn's digits (offline).
        model_fn: builds the model; default a one-hidden-layer MLP (64 units).

    Returns:
        ``{"max_abs_diff", "max_rel_diff", "max_abs_param", "n_params", "steps", "beta"}``:
        the largest absolute difference between any parameter of the two
        trained models, that over the largest parameter, and the size of the run.
    """
    import torch

    from .defenses import get_defense
    from .models import MLP
    from .train import TrainConfig

    beta = _positive("beta", beta)
    if defense not in ("vanilla", "ccel", "ccql"):
        raise ValueError(f"defense must be 'vanilla', 'ccel' or 'ccql', got {defense!r}")
    if data is None:
        from .data import load_dataset

        ds = load_dataset("digits")
        x = ds.features(np.arange(len(ds.y)))
        y = torch.from_numpy(ds.y).long()
    else:
        x, y = data
    if model_fn is None:
        n_classes = int(y.max()) + 1

        def model_fn():
            return MLP(int(np.prod(x.shape[1:])), n_classes, hidden=(64,))

    if defense == "vanilla":
        side_a, side_b = get_defense("ccl", alpha=1.0, scale=beta), get_defense("vanilla")
    else:
        side_a, side_b = get_defense(defense, alpha=alpha, scale=beta), get_defense(defense, alpha=alpha, scale=1.0)
    torch.manual_seed(seed)
    net_a = model_fn()
    net_b = copy.deepcopy(net_a)
    common: dict[str, Any] = dict(epochs=epochs, batch_size=batch_size, momentum=momentum,
                                  milestones=tuple(milestones), seed=seed, device="cpu",
                                  track_train_loss=False)  # fmt: skip
    side_a.train(net_a, x, y, config=TrainConfig(lr=lr, weight_decay=weight_decay, **common), progress=False)
    side_b.train(net_b, x, y, config=TrainConfig(lr=lr * beta, weight_decay=weight_decay / beta, **common),
                 progress=False)  # fmt: skip
    diffs, biggest, n = [], 0.0, 0
    for (ka, pa), (kb, pb) in zip(net_a.state_dict().items(), net_b.state_dict().items()):
        if ka != kb:  # pragma: no cover - same architecture
            raise RuntimeError(f"parameter names differ: {ka} vs {kb}")
        if pa.is_floating_point():
            diffs.append(float((pa.double() - pb.double()).abs().max()))
            biggest = max(biggest, float(pa.double().abs().max()))
            n += pa.numel()
    d = max(diffs)
    steps = epochs * math.ceil(len(x) / batch_size)
    return {"max_abs_diff": d, "max_rel_diff": d / biggest if biggest else math.nan, "max_abs_param": biggest,
            "n_params": n, "steps": steps, "beta": beta}  # fmt: skip


# --------------------------------------------------------------------------- reporting


def format_points(interval: SeedInterval, digits: int = 1) -> str:
    """An accuracy difference in percentage points: ``"-2.2 [-3.2, -1.2] points"``.

    Args:
        interval: a :class:`ccl_lib.verdicts.SeedInterval` of an accuracy difference (fractions).
        digits: decimals.
    """
    if not isinstance(interval, SeedInterval):
        raise TypeError(f"interval must be a SeedInterval, got {type(interval).__name__}")
    if not interval.finite:
        return f"{100 * interval.mean:.{digits}f} points (no interval, n = {interval.n})"
    return (f"{100 * interval.mean:.{digits}f} [{100 * interval.low:.{digits}f}, "
            f"{100 * interval.high:.{digits}f}] points")  # fmt: skip


def describe_comparison(cmp: Mapping[str, Any], dataset: str) -> str:
    """One plain-text sentence (for ``{glue:text}``) for a :func:`compare_at_equal_accuracy` result.

    Args:
        cmp: the dict :func:`compare_at_equal_accuracy` returned.
        dataset: the data set's name, as the sentence writes it.
    """
    adv, acc, v = cmp["adv_diff"], cmp["acc_diff"], cmp["verdict"]
    head = (f"On {dataset}, {cmp['ccl']} minus {cmp['ce']}: advantage {adv.format(digits=3)}, "
            f"test accuracy {format_points(acc)} ({cmp['n']} seeds, 95 % intervals)")  # fmt: skip
    if v.word == "lower":
        tail = "the concave term lowers the advantage beyond what the scale's learning rate and weight decay do"
    elif v.word == "higher":
        tail = "CCL is more attackable than cross-entropy trained with the same effective recipe"
    else:
        tail = v.reason or "the interval of the advantage difference contains 0"
    return f"{head}: {v.word} ({tail})."


def plot_arms(summary, *, datasets: Optional[Sequence[str]] = None):
    """Advantage against test accuracy per arm (means over seeds, 95 % t-interval bars), one panel per data set.

    ``summary`` is :func:`arm_summary`'s output.  Returns the matplotlib figure.

    Args:
        summary: :func:`arm_summary`'s output.
        datasets: the data sets to draw, one panel each (default: all in ``summary``).
    """
    import matplotlib.pyplot as plt

    ds_list = list(dict.fromkeys(summary["dataset"])) if datasets is None else list(datasets)
    if not ds_list:
        raise ValueError("summary has no rows")
    from .plots import book_figsize

    # panels fill the book's column; each panel's legend sits below it (fonts >= 9 pt at page size)
    fig, axes = plt.subplots(1, len(ds_list), figsize=book_figsize(1, len(ds_list), aspect=1.45), squeeze=False)
    markers = dict(zip(ARM_NAMES, "osD^v<>"))
    for ax, ds in zip(axes[0], ds_list):
        sub = summary[summary["dataset"] == ds]
        for rec in sub.to_dict("records"):
            xerr = [[rec["test_acc"] - rec["test_acc_low"]], [rec["test_acc_high"] - rec["test_acc"]]]
            yerr = [[rec["adv"] - rec["adv_low"]], [rec["adv_high"] - rec["adv"]]]
            ax.errorbar(rec["test_acc"], rec["adv"], xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr),
                        marker=markers.get(rec["arm"], "o"), capsize=3, linestyle="none",
                        label=rec["arm_label"])  # fmt: skip
        ax.set_xlabel("test accuracy")
        ax.set_ylabel("highest advantage (attacker's rule)")
        ax.set_title(ds)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    return fig
