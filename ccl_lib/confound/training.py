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
* :func:`scale_warning_message` -- the text of the library's :class:`~ccl_lib.defenses.ccl.UnnormalizedScaleWarning`
  for a model, so a chapter can show it (it is emitted only when a run is computed, not read).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Mapping, Sequence

from ..verdicts import trains
from .arms import ARM_NAMES, Arm, headline_frame

__all__ = [
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
