"""Mean and standard deviation over seeds of a sweep's results (for tables and figures)."""

from __future__ import annotations

from typing import Optional, Sequence

__all__ = ["DEFAULT_VALUES", "SETTING_COLUMNS", "summarize"]

#: What identifies one point of a result (a setting, evaluated epoch and attack), seeds aside.
SETTING_COLUMNS = ("dataset", "model", "defense", "setting", "eval_epoch", "attack")
#: The numbers averaged by default.
DEFAULT_VALUES = (
    "test_acc", "train_acc", "train_loss_var", "advantage", "auc", "tpr@0.1%", "tpr@1%", "max_advantage", "p1",
)  # fmt: skip


def summarize(df, values: Optional[Sequence[str]] = None, by: Optional[Sequence[str]] = None):
    """Mean, std (ddof=1) and number of seeds per setting, via :func:`ccl_lib.stats.seed_summary`.

    Args:
        df: the frame of :func:`ccl_lib.experiments.run_grid`.
        values: numeric columns (default :data:`DEFAULT_VALUES` present in ``df``).
        by: grouping columns (default :data:`SETTING_COLUMNS` present in ``df``).

    Returns:
        one row per group: the ``by`` columns, ``<value>_mean``, ``<value>_std`` and ``n``.
    """
    from ..stats import seed_summary

    by = [c for c in SETTING_COLUMNS if c in df.columns] if by is None else list(by)
    values = [c for c in DEFAULT_VALUES if c in df.columns] if values is None else list(values)
    return seed_summary(df, by=by, values=values)
