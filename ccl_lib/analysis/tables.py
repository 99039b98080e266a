"""Tables of a sweep for the book: one row per setting, per CCL alpha, or per epoch.

Values are means over seeds; intervals and verdicts live in :mod:`ccl_lib.verdicts`,
:mod:`ccl_lib.analysis.curves` and :mod:`ccl_lib.analysis.ablation`.  Show a table with
:func:`ccl_lib.formatting.format_table`.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .curves import history_of
from .runs import short_setting, strongest_attack_rows

__all__ = ["alpha_table", "history_table", "setting_table"]


def _avg_variance(runs: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(np.mean([h["train_loss_var"] for h in v.histories["target"]])) for k, v in runs.items()}


def setting_table(df, runs: Optional[Mapping[str, Any]] = None):
    """One row per setting (defense and hyperparameters, mean over seeds).

    Columns: test and training accuracy, the highest advantage over all attacks
    (``max_advantage``) and the attack reaching it (most frequent over seeds), P1 (Eq. 13),
    the training-loss variance at the last epoch, the number of seeds, and ``point``
    (:func:`short_setting`).

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid`.
        runs: optional ``{key: RunResult}``; adds ``train_loss_var_avg``, the variance averaged
            over all epochs of training.
    """
    r = strongest_attack_rows(df)
    if runs is not None:
        r["train_loss_var_avg"] = r["key"].map(_avg_variance(runs))
    cols = ["test_acc", "train_acc", "max_advantage", "p1", "train_loss_var"]
    cols += ["train_loss_var_avg"] if runs is not None else []
    g = r.groupby(["defense", "setting"], sort=False)
    out = g[cols].mean()
    out["worst_attack"] = g["worst_attack"].agg(lambda s: s.mode().iloc[0])
    out["seeds"] = g.size()
    out = out.reset_index()
    out.insert(1, "point", out["setting"].map(short_setting))
    return out


def alpha_table(df, defenses: Sequence[str] = ("ccel", "ccql"), runs: Optional[Mapping[str, Any]] = None):
    """Fig. 4's numbers: per defense and alpha, test and training accuracy, highest advantage
    (and its attack), and the training-loss variance at the last epoch, mean over seeds.

    (Intervals over seeds and the verdicts: :mod:`ccl_lib.analysis.ablation`.)

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid`.
        defenses: the CCL variants to keep (registry names).
        runs: optional ``{key: RunResult}`` of :func:`ccl_lib.analysis.runs.run_runs`; adds
            ``train_loss_var_avg``, the variance averaged over all epochs of training.

    Returns:
        a frame with ``defense, alpha, test_acc, train_acc, max_advantage, train_loss_var,
        [train_loss_var_avg,] worst_attack, seeds``.  The vanilla model, when present, is the
        row with ``alpha = 1.0`` (cross-entropy is CCL with alpha = 1, Eq. 4).
    """
    r = strongest_attack_rows(df)
    keep = r[r["defense"].isin([*defenses, "vanilla"])].copy()
    if "alpha" not in keep.columns:
        raise ValueError("the frame has no 'alpha' column: it holds no CCL run")
    keep.loc[keep["defense"] == "vanilla", "alpha"] = 1.0
    if runs is not None:
        keep["train_loss_var_avg"] = keep["key"].map(_avg_variance(runs))
    cols = ["test_acc", "train_acc", "max_advantage", "train_loss_var"]
    cols += ["train_loss_var_avg"] if runs is not None else []
    g = keep.groupby(["defense", "alpha"], sort=True)
    out = g[cols].mean()
    out["worst_attack"] = g["worst_attack"].agg(lambda s: s.mode().iloc[0])
    out["seeds"] = g.size()
    return out.reset_index()


def history_table(
    histories: Mapping[str, Any],
    columns: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    every: int = 1,
):
    """Per-epoch values of ``columns`` side by side, one column block per run (Fig. 1, Fig. 5).

    Args:
        histories: ``{label: RunResult | DataFrame | list of per-epoch dicts}``
            (:func:`ccl_lib.analysis.curves.history_of`).
        columns: history columns of :func:`ccl_lib.train.fit` (e.g. ``train_loss_var``), or
            derived ones (``train_loss_rel_var``).
        every: keep every ``every``-th epoch (and always the last).

    Returns:
        a frame indexed by epoch with a ``(column, label)`` column MultiIndex.
    """
    import pandas as pd

    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict {label: history}")
    if not (isinstance(every, int) and every >= 1):
        raise ValueError(f"every must be a positive integer, got {every!r}")
    parts = {}
    for label, h in histories.items():
        f = history_of(h)
        missing = [c for c in ("epoch", *columns) if c not in f.columns]
        if missing:
            raise ValueError(f"history {label!r} lacks columns {missing}; it has {list(f.columns)}")
        parts[label] = f.set_index("epoch")[list(columns)]
    table = pd.concat(parts, axis=1).swaplevel(0, 1, axis=1)
    table = table[[(c, lab) for c in columns for lab in histories]]
    epochs = table.index.to_numpy()
    keep = (np.arange(len(epochs)) % every == 0) | (epochs == epochs.max())
    return table[keep]
