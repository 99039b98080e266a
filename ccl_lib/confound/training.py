"""Which arms trained: a comparison of privacy is only meaningful between models that fit their data.

A model that stays near chance leaks nothing to any attack, so a lower advantage of such a model says
nothing about a defense (issue 20 item 5).  On Location every arm that trains at the scale factor's
effective recipe (lr 0.1 x 0.01, wd 5e-4 / 0.01) ends near a constant predictor; on ``cifar10-cpu``
the x0.01 arms end far below cross-entropy.  Here:

* :func:`trains` -- the rule (it lives in :mod:`ccl_lib.verdicts`, which every chapter's verdicts use):
  a final train accuracy of at least :data:`TRAIN_ACC_MIN`, or within :data:`CE_GAP_MAX` of
  cross-entropy's (the ``CE`` arm of the same data set and seed);
* :func:`training_status` -- per run of :func:`~ccl_lib.confound.arms.arm_frame`, whether it trained;
* :func:`training_table` -- per arm: the final train accuracies and whether every run trained;
* :func:`training_curves` -- the measured train accuracy per epoch of every run (its history);
* :func:`objective_check` -- where a scaled recipe leads at any length: cross-entropy at (lr, wd / beta)
  descends the objective of CE x beta at (lr, wd) with 1/beta times larger steps;
* :func:`scale_warning_message` -- the text of the library's :class:`~ccl_lib.defenses.ccl.UnnormalizedScaleWarning`
  for a model, so a chapter can show it (it is emitted only when a run is computed, not read).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Mapping, Sequence

from ..verdicts import TRAIN_ACC_MIN, trains
from .arms import ARM_NAMES, Arm, headline_frame

__all__ = [
    "objective_check",
    "scale_warning_message",
    "training_curves",
    "training_status",
    "training_table",
]


def training_status(df: Any) -> Any:
    """One row per (run, arm) of :func:`~ccl_lib.confound.arms.arm_frame`'s output, with whether it trained.

    Columns: ``dataset, beta, arm, arm_label, seed, key, train_acc, ce_train_acc, trains``;
    ``ce_train_acc`` is the ``CE`` arm's final train accuracy on the same data set and seed.

    Args:
        df: :func:`~ccl_lib.confound.arms.arm_frame`'s output; every data set needs its ``CE`` arm
            for every seed of its other arms.
    """
    h = headline_frame(df)
    ce = h[h["arm"] == "CE"].drop_duplicates(["dataset", "seed"]).set_index(["dataset", "seed"])["train_acc"]
    missing = sorted({(d, int(s)) for d, s in zip(h["dataset"], h["seed"])} - set(ce.index))
    if missing:
        raise ValueError(f"the CE arm is missing for (dataset, seed) {missing[:5]}: 'trains' is relative to CE")
    out = h[["dataset", "beta", "arm", "arm_label", "seed", "key", "train_acc"]].copy()
    out["ce_train_acc"] = [float(ce.loc[(d, s)]) for d, s in zip(out["dataset"], out["seed"])]
    out["trains"] = trains(out["train_acc"].to_numpy(), out["ce_train_acc"].to_numpy())
    return out.reset_index(drop=True)


def training_table(status: Any) -> Any:
    """Per (dataset, beta, arm): how many runs, their mean and lowest final train accuracy, CE's mean, and
    ``trains`` (every run trained) -- the arm may enter a verdict only if ``trains``.

    Args:
        status: :func:`training_status`'s output.
    """
    import pandas as pd

    order = {n: i for i, n in enumerate(ARM_NAMES)}
    rows = []
    for (ds, beta, arm), g in status.groupby(["dataset", "beta", "arm"], sort=False):
        rows.append({"dataset": ds, "beta": beta, "arm": arm, "arm_label": g["arm_label"].iloc[0],
                     "n": int(len(g)), "train_acc": float(g["train_acc"].mean()),
                     "train_acc_min": float(g["train_acc"].min()), "ce_train_acc": float(g["ce_train_acc"].mean()),
                     "runs_trained": int(g["trains"].sum()), "trains": bool(g["trains"].all())})  # fmt: skip
    out = pd.DataFrame(rows)
    out["_o"] = out["arm"].map(order)
    return out.sort_values(["dataset", "beta", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)


def training_curves(runs: Mapping[str, Any], pairs: Sequence[tuple[Arm, Any]]) -> Any:
    """The measured train accuracy per epoch of every (arm, run): the target model's history.

    Columns: ``dataset, beta, arm, arm_label, seed, epoch, train_acc`` (and ``test_acc`` when recorded).

    Args:
        runs: ``{spec.key(): RunResult}`` of :func:`ccl_lib.analysis.runs.run_runs`.
        pairs: the ``(arm, RunSpec)`` pairs of :func:`~ccl_lib.confound.arms.arm_specs`; every run must be in ``runs``.
    """
    import pandas as pd

    parts = []
    for a, spec in pairs:
        run = runs.get(spec.key())
        if run is None:
            raise ValueError(f"run {spec.key()} (arm {a.label}, seed {spec.seed}) is not among the runs")
        h = run.history_frame("target")
        if "train_acc" not in h.columns:
            raise ValueError(f"run {spec.key()} has no train_acc in its history (columns {list(h.columns)})")
        cols = [c for c in ("epoch", "train_acc", "test_acc") if c in h.columns]
        h = h[cols].copy()
        h["dataset"], h["beta"], h["arm"], h["arm_label"], h["seed"] = spec.dataset, a.beta, a.name, a.label, spec.seed
        parts.append(h)
    if not parts:
        raise ValueError("pairs is empty")
    return pd.concat(parts, ignore_index=True)


def scale_warning_message(scale: float, model: Any) -> str:
    """The message of :class:`~ccl_lib.defenses.ccl.UnnormalizedScaleWarning` for ``model`` at loss ``scale``
    ("" when it would not warn: ``scale >= 1`` or a model with normalization layers).

    Args:
        scale: the loss scale factor (App. E.1), > 0.
        model: a ``torch.nn.Module`` (e.g. the MLP of a run).
    """
    from ..defenses.ccl import UnnormalizedScaleWarning, warn_if_unnormalized

    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnnormalizedScaleWarning)
        warn_if_unnormalized(float(scale), model)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UnnormalizedScaleWarning)]
    return msgs[0] if msgs else ""


def objective_check(
    dataset: str, beta: float, seeds: Sequence[int], *, lr: float = 0.1, weight_decay: float = 5e-4,
    evidence: str = "ledger", workers: Any = "auto", **recipe: Any,
) -> dict[str, Any]:  # fmt: skip
    """Whether the objective a scaled recipe descends can fit the data at all (App. E.1; chapter 11).

    With SGD and coupled weight decay, CE x beta at (lr, wd) descends
    ``beta * (CE + (wd / beta) / 2 * |w|^2)``: up to the factor beta, the objective of cross-entropy with
    weight decay ``wd / beta``. On a model without normalization layers nothing rescales that weight decay
    away, so training longer only comes closer to that objective's minimum. Cross-entropy at
    ``(lr, wd / beta)`` descends the same objective with ``1 / beta`` times larger steps; if it does not fit
    its training set, no length of the scaled recipe will.

    Args:
        dataset: the data set (``"location"``).
        beta: the scale factor in (0, 1].
        seeds: the seeds (split = seed, as every arm's).
        lr: the scaled recipe's learning rate (> 0).
        weight_decay: the scaled recipe's weight decay (> 0).
        evidence: ``"ledger"`` (read the recorded runs; a seed the ledger lacks is left out, said in
            ``note``) or ``"compute"`` (train them).
        workers: parallel runs for what is computed.
        **recipe: the other :class:`~ccl_lib.experiments.RunSpec` fields (``model``, ``epochs``, ``size``).

    Returns:
        ``n`` (runs), ``train_acc`` / ``train_acc_min`` / ``test_acc`` (mean, lowest, mean final accuracy;
        NaN when ``n`` is 0), ``trains`` (every run at least :data:`TRAIN_ACC_MIN`: no CE arm here, so
        the absolute half of :func:`trains`), ``lr``, ``weight_decay`` (the check's recipe), ``note``, ``source`` and
        ``text`` (the outcome in words).

    Raises:
        ValueError: on a beta outside (0, 1], a non-positive lr or weight decay, or an unknown evidence.
    """
    import numpy as np

    from ..analysis.runs import recorded_runs, run_runs, run_summary
    from .arms import arm_specs

    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not 0 < beta <= 1:
        raise ValueError(f"beta must be in (0, 1] (the paper: 0.01 or 0.05), got {beta!r}")
    for name, v in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    if evidence not in ("ledger", "compute"):
        raise ValueError(f"evidence must be 'ledger' or 'compute', got {evidence!r}")
    arm = Arm("CE", "vanilla", {}, float(lr), float(weight_decay) / float(beta), float(beta))
    specs = [s for _, s in arm_specs(dataset, [arm], seeds, **recipe)]
    note = ""
    if evidence == "ledger":
        specs, note = recorded_runs(specs)
    out: dict[str, Any] = {"n": len(specs), "lr": arm.lr, "weight_decay": arm.weight_decay, "note": note,
                           "source": "", "train_acc": math.nan, "train_acc_min": math.nan, "test_acc": math.nan,
                           "trains": False}  # fmt: skip
    recipe_words = f"cross-entropy at (lr {arm.lr:g}, wd {arm.weight_decay:g})"
    out["text"] = f"{recipe_words} was not run (no recorded seed)"
    if not specs:
        return out
    df, runs = run_runs(specs, workers=workers, evidence=evidence)
    final = [runs[s.key()].histories["target"][-1] for s in specs]
    train = np.array([float(h["train_acc"]) for h in final])
    out.update(train_acc=float(train.mean()), train_acc_min=float(train.min()),
               test_acc=float(np.mean([float(h["test_acc"]) for h in final])),
               trains=bool((train >= TRAIN_ACC_MIN).all()), source=run_summary(df, runs))  # fmt: skip
    verdict = (
        "it fits, so a longer scaled recipe may train"
        if out["trains"]
        else "the objective's minimum does not fit the training set, so no length of the scaled recipe will"
    )
    out["text"] = (f"{recipe_words} ends at {100 * out['train_acc']:.1f} % train accuracy (lowest "
                   f"{100 * out['train_acc_min']:.1f} %, test {100 * out['test_acc']:.1f} %, {len(specs)} seeds): "
                   f"{verdict}")  # fmt: skip
    return out
