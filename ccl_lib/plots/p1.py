"""Table 1 of Liu et al. (ICML 2024) as a figure: P1 (Eq. 13) per data set and method, beside the paper's."""

from __future__ import annotations

import textwrap
from typing import Any, Optional, Sequence

import numpy as np

from .frames import check_frame, has_interval_columns, has_intervals, interval_err
from .style import BOOK_WIDTH

__all__ = ["p1_bars"]


def _long(summary: Any):
    """``summary`` as one row per (dataset, method): as given, or melted from a methods x data sets table."""
    import pandas as pd

    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"p1_bars needs a DataFrame, got {type(summary).__name__}")
    if "method" in summary.columns or "p1" in summary.columns:
        summary = check_frame(summary, ["dataset", "method", "p1"], "p1_bars")
        if any(c in summary.columns for c in ("p1_low", "p1_high")):
            check_frame(summary, ["p1_low", "p1_high"], "p1_bars")
        return summary
    wide = check_frame(summary, [], "p1_bars")  # p1_table's first result: methods as rows, data sets as columns
    return pd.DataFrame([{"dataset": ds, "method": m, "p1": float(wide.loc[m, ds])}
                         for ds in wide.columns for m in wide.index])  # fmt: skip


def p1_bars(summary: Any, paper: Any, *, order: Optional[Sequence[str]] = None, reference: str = "w/o"):
    """Table 1 as a figure: this run's P1 per data set and method (the mean over seeds, with 95 % interval
    bars when the data has them) beside the paper's values (one run each, no bars).

    Args:
        summary: either one row per (dataset, method) with ``dataset``, ``method``, ``p1`` and
            optionally ``p1_low``, ``p1_high``; or the table of
            :func:`ccl_lib.analysis.p1.p1_table` (methods as rows, data sets as columns, no intervals).
        paper: the paper's table, methods as rows and data sets as columns
            (:func:`ccl_lib.paper_results.table1`).
        order: the methods, in the order of the bars (default: ``paper``'s rows).
        reference: the undefended method, drawn in grey.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width, two panels sharing the P1 axis.
    """
    import matplotlib.pyplot as plt

    summary = _long(summary)
    bars = has_interval_columns(summary, ["p1"]) and has_intervals(summary, ["p1"])
    methods = list(order) if order is not None else list(paper.index)
    if not methods:
        raise ValueError("p1_bars needs at least one method (order= or the paper's rows)")
    ours = list(dict.fromkeys(summary["dataset"]))
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.3), sharey=True,
                             gridspec_kw={"width_ratios": [max(2, len(ours)), len(paper.columns)]})  # fmt: skip
    width = 0.8 / len(methods)
    colour = {m: ("0.6" if m == reference else f"C{i % 10}") for i, m in enumerate(methods)}
    x = np.arange(len(ours))
    for i, m in enumerate(methods):
        sub = summary[summary["method"] == m].set_index("dataset").reindex(ours)
        if bars:  # P1 lies in [0, 1]; a t-interval over few seeds need not
            sub = sub.assign(p1_low=sub["p1_low"].clip(0.0, 1.0), p1_high=sub["p1_high"].clip(0.0, 1.0))
        err: dict[str, Any] = {"yerr": interval_err(sub, "p1"), "capsize": 2.5} if bars else {}
        axes[0].bar(x + (i - (len(methods) - 1) / 2) * width, sub["p1"].to_numpy(float), width, color=colour[m],
                    label=m, **err)  # fmt: skip
    axes[0].set_xticks(x)
    # long setting names ("location, 120 epochs, milestones 50/100") wrapped narrow and upright, so that three
    # settings side by side do not overlap
    axes[0].set_xticklabels([textwrap.fill(str(o), 12) for o in ours], fontsize="small")
    axes[0].set_title("this run (95 % intervals)" if bars else "this run")
    xp = np.arange(len(paper.columns))
    for i, m in enumerate(methods):
        if m in paper.index:
            axes[1].bar(xp + (i - (len(methods) - 1) / 2) * width, paper.loc[m].to_numpy(float), width, color=colour[m])
    axes[1].set_xticks(xp)
    axes[1].set_xticklabels(list(paper.columns), rotation=25, ha="right")
    axes[1].set_title("the paper (Table 1)")
    axes[0].set_ylabel("P1 (Eq. 13)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
        ax.grid(False, axis="x")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig
