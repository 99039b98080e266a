"""The frames the figures read: validation, seed summaries, and the 95 % interval bars they draw.

Every figure of :mod:`ccl_lib.plots` accepts either a summary (one row per plotted point, with a
column ``c`` and its interval ends ``c_low`` / ``c_high``, e.g. from
:func:`ccl_lib.verdicts.seed_interval`) or the per-seed frame of
:func:`ccl_lib.experiments.run_grid`, which :func:`seed_summary` turns into such a summary (the
mean over seeds with Student's t-interval; NaN ends with one seed).  A figure draws interval bars
or bands exactly when :func:`has_intervals` finds a finite interval end to draw.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

__all__ = ["check_frame", "one_dataset", "frame_title", "seed_summary", "has_intervals", "interval_err"]


def check_frame(df: Any, needed: Sequence[str], what: str):
    """``df`` if it is a non-empty DataFrame with the columns ``needed``; else an error naming ``what``."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} needs a DataFrame (a summary or the frame of run_grid), got {type(df).__name__}")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the frame lacks columns {missing}; it has {list(df.columns)}")
    if len(df) == 0:
        raise ValueError(f"{what}: the frame is empty")
    return df


def one_dataset(df, dataset: Optional[str], what: str):
    """The rows of ``dataset`` (or all rows, when the frame holds one data set or no ``dataset`` column)."""
    if dataset is not None:
        if "dataset" not in df.columns:
            raise ValueError(f"{what}: dataset={dataset!r} given, but the frame has no 'dataset' column")
        df = df[df["dataset"] == dataset]
        if len(df) == 0:
            raise ValueError(f"{what}: no rows for dataset {dataset!r}")
    elif "dataset" in df.columns and df["dataset"].nunique() > 1:
        raise ValueError(f"{what}: the frame holds several data sets {sorted(df['dataset'].unique())}; pass dataset=")
    return df


def frame_title(df) -> str:
    """``"dataset / model"`` of a frame holding one of each (the parts it has), else ``""``."""
    parts = []
    for col in ("dataset", "model"):
        if col in df.columns and df[col].nunique() == 1:
            parts.append(str(df[col].iloc[0]))
    return " / ".join(parts)


def has_interval_columns(df, columns: Sequence[str]) -> bool:
    """Whether ``df`` has ``c_low`` and ``c_high`` for every column ``c`` of ``columns``."""
    return all(f"{c}_{end}" in df.columns for c in columns for end in ("low", "high"))


def seed_summary(df, by: Sequence[str], columns: Sequence[str], *, level: float = 0.95):
    """Per group of ``by``: for each of ``columns`` the mean over the group's rows (one per seed)
    with its t-interval (:func:`ccl_lib.verdicts.seed_interval`), and ``seeds`` (rows averaged).

    Args:
        df: one row per seed and group (non-finite values are left out of the mean).
        by: the grouping columns (group order: first appearance).
        columns: the numeric columns summarized.
        level: the interval's confidence level.

    Returns:
        a frame with ``by``, ``c``, ``c_low``, ``c_high`` per column (NaN ends for one seed) and ``seeds``.
    """
    import pandas as pd

    from ..verdicts import seed_interval

    rows = []
    for key, g in df.groupby(list(by), sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(by, key))
        for c in columns:
            v = g[c].to_numpy(float)
            v = v[np.isfinite(v)]
            if v.size:
                iv = seed_interval(v, level=level)
                row.update({c: iv.mean, f"{c}_low": iv.low, f"{c}_high": iv.high})
            else:
                row.update({c: math.nan, f"{c}_low": math.nan, f"{c}_high": math.nan})
        row["seeds"] = int(len(g))
        rows.append(row)
    return pd.DataFrame(rows)


def has_intervals(df, columns: Sequence[str]) -> bool:
    """Whether ``df`` holds a finite interval end (``c_low`` or ``c_high``) for any of ``columns``."""
    for c in columns:
        for end in ("low", "high"):
            name = f"{c}_{end}"
            if name in df.columns and np.isfinite(df[name].to_numpy(float)).any():
                return True
    return False


def interval_err(frame: Any, col: str) -> np.ndarray:
    """``(2, n)`` error-bar lengths of ``col`` from its ``_low`` / ``_high`` columns; NaN ends give no bar."""
    y = frame[col].to_numpy(float)
    err = np.vstack([y - frame[f"{col}_low"].to_numpy(float), frame[f"{col}_high"].to_numpy(float) - y])
    return np.where(np.isfinite(err), err, 0.0).clip(min=0)
