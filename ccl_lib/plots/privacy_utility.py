"""Fig. 2/3 of Liu et al. (ICML 2024): privacy-utility curves, one panel per attack."""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from .frames import (
    check_frame,
    frame_title,
    has_interval_columns,
    has_intervals,
    interval_err,
    one_dataset,
    seed_summary,
)
from .style import DEFENSE_MARKERS, alabel, book_figsize, dlabel, figure_legend

__all__ = ["privacy_utility"]


def _points(df, value: str, level: float):
    """One row per (defense, point, attack): the summary as given, or the seed summary of a run_grid frame."""
    if "point" in df.columns and "run_id" not in df.columns:
        ends = [f"{c}_{e}" for c in ("test_acc", value) for e in ("low", "high")]
        present = [c for c in ends if c in df.columns]
        if present and len(present) < len(ends):
            missing = [c for c in ends if c not in df.columns]
            raise ValueError(f"privacy_utility: the frame lacks columns {missing} (it has some interval ends)")
        return df
    if "setting" not in df.columns:
        raise ValueError("privacy_utility: the frame lacks columns ['point'] (a summary) or ['setting'] "
                         f"(the frame of run_grid); it has {list(df.columns)}")  # fmt: skip
    pts = seed_summary(df, ["defense", "setting", "attack"], ["test_acc", value], level=level)
    return pts.rename(columns={"setting": "point"})


def privacy_utility(
    points: Any,
    attacks: Optional[Sequence[str]] = None,
    *,
    dataset: Optional[str] = None,
    value: str = "advantage",
    ncols: Optional[int] = None,
    reference: str = "vanilla",
    title: Optional[str] = None,
    level: float = 0.95,
):
    """Fig. 2/3: one panel per attack, one curve per defense, test accuracy (x) against advantage (y).

    Each point is one setting of a defense (its hyperparameters): the mean test accuracy and mean
    ``value`` over seeds.  When the data holds intervals (``_low`` / ``_high`` columns, or more
    than one seed per setting in a run_grid frame) both coordinates get 95 % interval bars; with
    one seed and no interval columns the points are plain.  The curves join a defense's settings
    in order of accuracy; the undefended ``reference`` is a star with dotted lines through it, as
    in the paper's figures (the region right of the vertical line is the one Sec. 5.2 reads).
    Panels share the accuracy axis and wrap into rows of ``ncols``, so a figure with six or eight
    panels stays readable at the book's column width (:data:`~ccl_lib.plots.BOOK_WIDTH`).

    Args:
        points: either a summary, one row per (defense, setting, attack) with ``defense``,
            ``point`` (the setting's label), ``attack``, ``test_acc``, ``value`` and optionally
            their interval ends ``test_acc_low``, ``test_acc_high``, ``<value>_low``,
            ``<value>_high`` (e.g. :func:`ccl_lib.verdicts.seed_interval` ends); or the per-seed
            frame of :func:`ccl_lib.experiments.run_grid` (``defense``, ``setting``, ``attack``,
            ``test_acc``, ``value``), summarized over seeds with t-intervals.
        attacks: the panels, in order (default: every attack of ``points``).
        dataset: which data set, when ``points`` holds several (a ``dataset`` column).
        value: the y column: ``"advantage"`` (the attacker's own rule, Eq. 2),
            ``"advantage_oracle"`` (thresholds chosen on the target, an upper bound), ``"auc"``...
        ncols: panels per row (>= 1; default all panels in one row up to 4, else 3).
        reference: the undefended defense.
        title: the figure's title (default: the frame's data set and model, when it names them).
        level: confidence level of the intervals computed from a run_grid frame.

    Returns:
        a ``matplotlib.figure.Figure`` with one legend below the panels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    points = check_frame(points, ["defense", "attack", "test_acc", value], "privacy_utility")
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1):
        raise ValueError(f"privacy_utility: ncols must be a positive integer or None, got {ncols!r}")
    points = one_dataset(points, dataset, "privacy_utility")
    head = title if title is not None else frame_title(points)
    points = _points(points, value, level)
    names = list(dict.fromkeys(points["attack"])) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in set(points["attack"])]
    if unknown or not names:
        raise ValueError(f"privacy_utility: attacks {unknown or names} are not in the frame; "
                         f"it has {sorted(set(points['attack']))}")  # fmt: skip
    bars = has_interval_columns(points, ["test_acc", value]) and has_intervals(points, ["test_acc", value])
    defenses = [d for d in dict.fromkeys(points["defense"]) if d != reference]
    style = {d: {"color": f"C{i % 10}", "marker": DEFENSE_MARKERS[i % len(DEFENSE_MARKERS)]}
             for i, d in enumerate(defenses)}  # fmt: skip
    ncols = min(ncols or (len(names) if len(names) <= 4 else 3), len(names))
    nrows = math.ceil(len(names) / ncols)
    w, h = book_figsize(nrows, ncols, aspect=0.8)
    legend_h = 0.2 * math.ceil((len(defenses) + 1) / 4) + 0.05
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h + legend_h), sharex=True, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[len(names) :]:
        ax.set_visible(False)
    ylab = {"advantage": "attack advantage", "advantage_oracle": "oracle advantage"}.get(value, value)
    for i, (ax, atk) in enumerate(zip(flat, names)):
        sub = points[points["attack"] == atk]
        for d in defenses:
            cur = sub[sub["defense"] == d].sort_values("test_acc")
            if len(cur) == 0:
                continue
            ccl = d in ("ccel", "ccql")
            kw = dict(lw=2.0 if ccl else 1.2, ms=5 if ccl else 4, zorder=4 if ccl else 3, label=dlabel(d), **style[d])
            if bars:
                eb = ax.errorbar(cur["test_acc"], cur[value], xerr=interval_err(cur, "test_acc"),
                                 yerr=interval_err(cur, value), capsize=0, elinewidth=0.8, **kw)  # fmt: skip
                for seg in eb.lines[2]:
                    seg.set_alpha(0.45)  # the intervals stay visible without hiding the curves
            else:
                ax.plot(cur["test_acc"], cur[value], **kw)
        ref = sub[sub["defense"] == reference]
        if len(ref):
            acc, adv = float(ref["test_acc"].mean()), float(ref[value].mean())
            star = dict(marker="*", ms=11, color="black", ls="none", zorder=5, label=dlabel(reference))
            if bars:
                one = ref.iloc[:1]
                ax.errorbar([acc], [adv], xerr=interval_err(one, "test_acc"), yerr=interval_err(one, value),
                            elinewidth=0.8, **star)  # fmt: skip
            else:
                ax.plot([acc], [adv], **star)
            ax.axhline(adv, color="black", ls=":", lw=1)
            ax.axvline(acc, color="black", ls=":", lw=1)
        ax.set_title(alabel(atk))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if value.startswith("advantage"):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if i % ncols == 0:
            ax.set_ylabel(ylab)
        if i >= len(names) - ncols:
            ax.set_xlabel("test accuracy")
            ax.xaxis.set_tick_params(labelbottom=True)
    figure_legend(fig, flat[: len(names)], max_cols=4)
    if head:
        fig.suptitle(head)
    fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    return fig
