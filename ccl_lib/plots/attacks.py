"""Figures of the attacks: ROC curves, chapter 10's strong-attack ROC panels and TPR intervals, and the
per-attack bars of App. D, Fig. 6 of Liu et al. (ICML 2024)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .frames import (
    check_frame,
    frame_title,
    has_interval_columns,
    has_intervals,
    interval_err,
    one_dataset,
    seed_summary,
)
from .style import BOOK_WIDTH, alabel, book_figsize, dlabel, figure_legend

__all__ = ["roc_curves", "strong_roc_panels", "tpr_intervals", "attack_bars"]


def _roc_of(r: Any):
    from ..metrics import RocCurve, roc_curve

    if isinstance(r, RocCurve):
        return r
    if hasattr(r, "roc") and callable(r.roc):  # an AttackResult
        return r.roc()
    if isinstance(r, (tuple, list)) and len(r) == 2:
        return roc_curve(np.asarray(r[0]), np.asarray(r[1]))
    raise TypeError(f"each ROC entry must be an AttackResult, a RocCurve or (scores, labels), got {type(r).__name__}")


def roc_curves(results: Mapping[str, Any], log: bool = True, *, ax=None, title: Optional[str] = None):
    """ROC curves of membership scores, one line per entry (log-log axes by default, Carlini et al., 2022).

    Args:
        results: ``{name: AttackResult | RocCurve | (scores, labels)}`` --
            e.g. :func:`ccl_lib.experiments.load_attack_results`.
        log: log-scaled axes, which show the low-FPR regime.
        ax: draw into this Axes (default: a new figure).
        title: the axes' title (default "ROC of membership inference attacks").

    The legend gives each curve's AUC; the dotted diagonal is chance.
    """
    import matplotlib.pyplot as plt

    if not isinstance(results, Mapping) or not results:
        raise ValueError("roc_curves needs a non-empty dict {name: AttackResult | RocCurve | (scores, labels)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
    else:
        fig = ax.figure
    lo = 1.0
    for i, (name, r) in enumerate(results.items()):
        roc = _roc_of(r)
        # the exact ROC has a point at every distinct threshold, so the trapezoid area is the AUC (ties count 1/2)
        auc = float(np.sum(np.diff(roc.fpr) * (roc.tpr[1:] + roc.tpr[:-1]) / 2))
        pos = roc.fpr[roc.fpr > 0]
        if len(pos):
            lo = min(lo, float(pos.min()))
        ax.plot(roc.fpr, roc.tpr, color=f"C{i % 10}", lw=1.3, label=f"{alabel(name)} (AUC {auc:.3f})")
    grid_x = np.logspace(math.log10(lo), 0, 50) if log else np.linspace(0, 1, 2)
    ax.plot(grid_x, grid_x, color="gray", ls=":", lw=1, label="chance")
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, 1.0)
        ax.set_ylim(lo, 1.0)
    else:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or "ROC of membership inference attacks")
    ax.legend(frameon=False, fontsize="small")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def strong_roc_panels(
    runs: Mapping[tuple, Any],
    attacks: Mapping[str, str],
    *,
    seed: int,
    datasets: Optional[Sequence[str]] = None,
    defenses: Optional[Sequence[str]] = None,
    ncols: int = 3,
    title: Optional[str] = None,
):
    """Chapter 10's log-log ROC curves: one panel per (data set, attack), one curve per defense, one legend.

    Each panel starts at the smallest measurable false-positive rate of its runs (one false positive,
    ``1 / n_out``); the dotted diagonal is guessing.  Defenses missing for a data set are left out of
    its panels (the data sets may run different defenses); a data set or defense asked for that has
    no run of ``seed`` at all is an error.

    Args:
        runs: ``{(dataset, defense, seed): StrongAttackRun}`` (:func:`ccl_lib.attacks.strong.run_strong_attacks`).
        attacks: ``{attack name: panel title}`` (e.g. ``{"lira_online": "LiRA online"}``).
        seed: which seed's runs to draw.
        datasets: the rows of panels (default: every data set of ``runs``, in order).
        defenses: the curves, in order (default: every defense of ``runs``).
        ncols: panels per row (default 3: one row per data set with three attacks).
        title: the figure's title (default: none).

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width.
    """
    import matplotlib.pyplot as plt

    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("strong_roc_panels needs a non-empty dict {(dataset, defense, seed): StrongAttackRun}")
    if not isinstance(attacks, Mapping) or not attacks:
        raise ValueError("strong_roc_panels needs a non-empty dict {attack name: panel title}")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"strong_roc_panels: ncols must be a positive integer, got {ncols!r}")
    keys = [k for k in runs if k[2] == seed]
    if not keys:
        raise ValueError(f"strong_roc_panels: no run for seed {seed}; seeds: {sorted({k[2] for k in runs})}")
    for what, asked, pos in (("data sets", datasets, 0), ("defenses", defenses, 1)):
        absent = [v for v in (asked or ()) if v not in {k[pos] for k in keys}]
        if absent:
            raise ValueError(f"strong_roc_panels: no run of seed {seed} for {what} {absent}; "
                             f"it has {sorted({str(k[pos]) for k in keys})}")  # fmt: skip
    datasets = list(dict.fromkeys(k[0] for k in keys)) if datasets is None else list(datasets)
    defenses = list(dict.fromkeys(k[1] for k in keys)) if defenses is None else list(defenses)
    colour = {d: f"C{i % 10}" for i, d in enumerate(defenses)}
    panels = [(ds, a) for ds in datasets for a in attacks]
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    w, h = book_figsize(nrows, ncols, aspect=0.95)
    legend_h = 0.45
    fig, axes = plt.subplots(nrows, ncols, figsize=(w, h + legend_h), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    for i, (ax, (ds, attack)) in enumerate(zip(flat, panels)):
        lo = 1.0
        for d in defenses:
            run = runs.get((ds, d, seed))
            if run is None or attack not in run.results:
                continue
            res = run.results[attack]
            roc = _roc_of(res)
            if hasattr(res, "scores_out"):
                n_out = len(res.scores_out)
            else:  # (scores, labels)
                n_out = int(np.sum(~np.asarray(res[1]).astype(bool)))
            lo = min(lo, 1.0 / max(n_out, 1))
            ax.plot(roc.fpr, roc.tpr, color=colour[d], lw=1.5, label=str(d))
        grid_x = np.logspace(math.log10(lo), 0, 50)
        ax.plot(grid_x, grid_x, color="gray", ls=":", lw=1, label="chance")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, 1.0)
        ax.set_ylim(lo, 1.0)
        ax.set_title(f"{attacks[attack]}, {ds}")
        if i % ncols == 0:
            ax.set_ylabel("true-positive rate")
        if i >= len(panels) - ncols:
            ax.set_xlabel("false-positive rate")
        ax.grid(alpha=0.3, which="both")
    figure_legend(fig, flat[: len(panels)], max_cols=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    return fig


def tpr_intervals(
    best: Any, datasets: Sequence[str], defenses: Sequence[str], metrics: Sequence[str] = ("tpr@0.1%", "tpr@1%")
):
    """TPR at low FPR with interval bars, one panel per data set, one column per defense (chapter 10).

    ``best`` has one row per (dataset, defense) with ``attack``, each metric
    and its ``_low`` / ``_high`` columns -- :func:`ccl_lib.attacks.strong.strongest_attacks`
    of :func:`ccl_lib.attacks.strong.strong_attack_table`.

    Args:
        best: the frame described above.
        datasets: the data sets, one panel each, in this order.
        defenses: the defenses, one column each, in this order (those a data set lacks are skipped).
        metrics: the ``tpr@<fpr>`` columns drawn side by side (up to five).
    """
    import matplotlib.pyplot as plt

    check_frame(
        best,
        ["dataset", "defense", "attack", *metrics, *(f"{m}_{b}" for m in metrics for b in ("low", "high"))],
        "tpr_intervals",
    )
    counts = [int((best["dataset"] == ds).sum()) for ds in datasets]
    fig, axes = plt.subplots(1, len(datasets), figsize=(BOOK_WIDTH, 3.6), squeeze=False,
                             gridspec_kw={"width_ratios": [max(c, 2) for c in counts]})  # fmt: skip
    offsets = np.linspace(-0.12, 0.12, len(metrics)) if len(metrics) > 1 else [0.0]
    for ax, ds in zip(axes[0], datasets):
        sub = best[best["dataset"] == ds].set_index("defense")
        sub = sub.loc[[d for d in defenses if d in sub.index]]  # the data sets may run different defenses
        xpos = np.arange(len(sub))
        for off, m, mk in zip(offsets, metrics, "osD^v"):
            err = np.vstack([sub[m] - sub[f"{m}_low"], sub[f"{m}_high"] - sub[m]]).clip(min=0)
            ax.errorbar(
                xpos + off, 100 * sub[m], yerr=100 * err, fmt=mk, capsize=3, label=f"TPR at {m.split('@')[1]} FPR"
            )
        ax.set_xticks(xpos, [f"{d}\n{a.replace('_', ' ')}" for d, a in zip(sub.index, sub["attack"])], fontsize=9)
        ax.set_xlim(-0.5, len(sub) - 0.5)
        if ax is axes[0][0]:
            ax.set_ylabel("true-positive rate (%)")
        ax.set_title(str(ds))
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig


def attack_bars(
    table: Any,
    groups: Optional[Mapping[Any, str]] = None,
    *,
    by: Optional[str] = None,
    value: str = "advantage",
    attacks: Optional[Sequence[str]] = None,
    dataset: Optional[str] = None,
    title: Optional[str] = None,
    ylabel: Optional[str] = None,
    level: float = 0.95,
):
    """App. D, Fig. 6: for each attack, one bar per group -- the mean over seeds, with its 95 % interval
    when the data has one (``_low`` / ``_high`` columns, or several seeds per bar of a run_grid frame).

    Args:
        table: either a summary, one row per (group, attack) with ``by``, ``attack``, ``value`` and
            optionally ``<value>_low``, ``<value>_high`` (e.g. :func:`ccl_lib.verdicts.seed_interval`
            ends); or the per-seed frame of :func:`ccl_lib.experiments.run_grid`, summarized over
            seeds with t-intervals.
        groups: ``{group value: legend text}``, the bars in this order (default: every group of
            ``table``, labelled by the defense's display name for ``by="defense"``, by the
            ``variant`` column for ``by="setting"``, else by the value).
        by: the column whose values are the bar groups (default ``"group"`` when the table has
            one, else ``"setting"``: one bar per defense and hyperparameters; or ``"defense"``).
        value: the bar height column (advantage by default).
        attacks: the attacks on the x axis, in order (default: every attack of ``table``).
        dataset: the data set to plot when ``table`` holds several.
        title: the figure's title (default: the frame's data set and model, when it names them).
        ylabel: the y axis label (default ``"attack advantage"`` for the advantage, else ``value``).
        level: confidence level of the intervals computed from a run_grid frame.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"attack_bars needs a DataFrame (a summary or the frame of run_grid), got {type(table).__name__}"
        )
    by = by if by is not None else ("group" if "group" in table.columns else "setting")
    table = one_dataset(check_frame(table, [by, "attack", value], "attack_bars"), dataset, "attack_bars")
    head = title if title is not None else frame_title(table)
    if groups is not None and (not isinstance(groups, Mapping) or not groups):
        raise ValueError("attack_bars: groups must be a non-empty dict {group: legend text}")
    missing = [g for g in (groups or {}) if g not in set(table[by])]
    if missing:
        raise ValueError(f"attack_bars: groups {missing} are not in the table; it has {sorted(set(table[by]))}")
    names = list(dict.fromkeys(table["attack"])) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in set(table["attack"])]
    if unknown or not names:
        raise ValueError(f"attack_bars: attacks {unknown or names} are not in the frame; "
                         f"it has {sorted(set(table['attack']))}")  # fmt: skip
    if groups is None:
        variants = dict(zip(table[by], table["variant"])) if by == "setting" and "variant" in table.columns else {}
        groups = {g: dlabel(str(g)) if by == "defense" else str(variants.get(g, g)) for g in dict.fromkeys(table[by])}
    if "run_id" in table.columns or not has_interval_columns(table, [value]):  # per-seed rows (run_grid)
        table = seed_summary(table[table["attack"].isin(names)], [by, "attack"], [value], level=level)
    bars = has_intervals(table, [value])
    fig, ax = plt.subplots(figsize=(BOOK_WIDTH, 3.4))
    width = 0.8 / len(groups)
    x = np.arange(len(names))
    for i, (g, lab) in enumerate(groups.items()):
        sub = table[table[by] == g].set_index("attack").reindex(names)
        err: dict[str, Any] = (
            {"yerr": interval_err(sub, value), "capsize": 2.5, "error_kw": {"elinewidth": 1.0}} if bars else {}
        )
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, sub[value].to_numpy(float), width, color=f"C{i % 10}",
               label=lab, **err)  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels([alabel(a) for a in names], rotation=25, ha="right")
    ax.set_ylabel(ylabel if ylabel is not None else ("attack advantage" if value == "advantage" else value))
    if value.startswith(("advantage", "tpr", "test_acc")):
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(False, axis="x")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(groups))
    if head:
        fig.suptitle(head)
    fig.tight_layout()
    return fig
