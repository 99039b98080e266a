"""The confound experiment's figures: advantage against accuracy per arm."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .arms import ARM_NAMES

__all__ = ["plot_arms", "plot_training_curves"]


def _figsize(n: int) -> tuple[float, float]:
    """One panel per data set across the book's column; a single panel spans it, so it is kept short."""
    from ..plots import book_figsize

    return book_figsize(1, n, aspect=1.45 if n > 1 else 0.62)


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
    # panels fill the book's column; each panel's legend sits below it (fonts >= 9 pt at page size)
    fig, axes = plt.subplots(1, len(ds_list), figsize=_figsize(len(ds_list)), squeeze=False)
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


def plot_training_curves(
    curves,
    *,
    train_min: float = 0.95,
    datasets: Optional[Sequence[str]] = None,
    titles: Optional[Mapping[str, str]] = None,
):
    """The measured train accuracy per epoch of every arm (mean over seeds, a band from the lowest to the highest
    seed), one panel per data set, with the line at ``train_min`` above which a model counts as trained.

    Args:
        curves: :func:`~ccl_lib.confound.training.training_curves`' output.
        train_min: the threshold drawn (:data:`~ccl_lib.confound.training.TRAIN_ACC_MIN`).
        datasets: the data sets to draw, one panel each (default: all in ``curves``).
        titles: ``{data set: panel title}`` (default: the data set's name).
    """
    import matplotlib.pyplot as plt

    ds_list = list(dict.fromkeys(curves["dataset"])) if datasets is None else list(datasets)
    if not ds_list:
        raise ValueError("curves has no rows")
    fig, axes = plt.subplots(1, len(ds_list), figsize=_figsize(len(ds_list)), squeeze=False)
    order = {n: i for i, n in enumerate(ARM_NAMES)}
    for ax, ds in zip(axes[0], ds_list):
        sub = curves[curves["dataset"] == ds]
        labels = sub.drop_duplicates("arm_label").sort_values("arm", key=lambda s: s.map(order), kind="stable")
        for label in labels["arm_label"]:
            g = sub[sub["arm_label"] == label].groupby("epoch")["train_acc"]
            m = g.mean()
            (line,) = ax.plot(m.index, m.to_numpy(), label=label)
            ax.fill_between(m.index, g.min().to_numpy(), g.max().to_numpy(), color=line.get_color(), alpha=0.15)
        ax.axhline(train_min, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("train accuracy")
        ax.set_ylim(0, 1.02)
        ax.set_title((titles or {}).get(ds, ds))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=2)
    fig.tight_layout()
    return fig
