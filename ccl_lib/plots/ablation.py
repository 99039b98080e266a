"""Fig. 4 of Liu et al. (ICML 2024): the alpha ablation of CCEL and CCQL (Sec. 5.3)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .frames import check_frame, frame_title, has_interval_columns, has_intervals, one_dataset, seed_summary
from .style import alabel, book_panels, dlabel, finish_panels, series_style, span

__all__ = ["alpha_ablation"]

#: The panels of Fig. 4: (a) test accuracy, (b) highest attack advantage, (c) training-loss variance.
FIG4_PANELS = {"test_acc": "test accuracy", "max_advantage": "highest attack advantage",
               "train_loss_var": "variance of training loss"}  # fmt: skip


def _from_runs(df, panels: Optional[Mapping[str, str]], attack: Optional[str], defenses, reference, level):
    """The seed summary (per defense and alpha; the reference pooled) of a run_grid frame, and its panels."""
    import pandas as pd

    check_frame(df, ["defense", "run_id", "alpha", "attack"], "alpha_ablation")
    if attack is not None:
        if attack not in set(df["attack"]):
            raise ValueError(
                f"alpha_ablation: attack {attack!r} is not in the frame; it has {sorted(set(df['attack']))}"
            )
        runs = df[df["attack"] == attack]
        default = {"test_acc": FIG4_PANELS["test_acc"], "advantage": f"advantage ({alabel(attack)})",
                   "train_loss_var": FIG4_PANELS["train_loss_var"]}  # fmt: skip
    else:
        runs = df.drop_duplicates("run_id")
        default = FIG4_PANELS
    panels = dict(default if panels is None else panels)
    check_frame(runs, list(panels), "alpha_ablation")
    parts = [seed_summary(runs[runs["defense"].isin(defenses)], ["defense", "alpha"], list(panels), level=level)]
    ref = runs[runs["defense"] == reference]
    if len(ref):
        parts.append(seed_summary(ref, ["defense"], list(panels), level=level).assign(alpha=math.nan))
    return pd.concat(parts, ignore_index=True), panels


def alpha_ablation(
    table: Any,
    panels: Optional[Mapping[str, str]] = None,
    *,
    defenses: Sequence[str] = ("ccel", "ccql"),
    logy: Sequence[str] = (),
    reference: str = "vanilla",
    attack: Optional[str] = None,
    dataset: Optional[str] = None,
    title: Optional[str] = None,
    level: float = 0.95,
):
    """Fig. 4: one panel per quantity against alpha, one curve per CCL variant.

    Each point is the mean over seeds; when the data holds intervals (``_low`` / ``_high``
    columns, or more than one seed per alpha in a run_grid frame) it gets 95 % interval bars,
    the curves drawn side by side so the bars do not overlap; with one seed and no interval
    columns the curves are plain.  The ``reference`` (undefended) model is a dotted line, with a
    grey band for its interval.

    Args:
        table: either a summary, one row per (defense, alpha) with ``defense``, ``alpha`` and for
            every panel column ``c``: ``c`` and optionally ``c_low``, ``c_high``
            (:func:`ccl_lib.analysis.ablation.alpha_summary`; the ``reference`` rows are the
            undefended model); or the per-seed frame of :func:`ccl_lib.experiments.run_grid`
            (an alpha sweep, e.g. the ``figure4-alpha-cifar10`` experiment, with ``run_id``,
            ``alpha``, ``attack`` and the panel columns), summarized over seeds with t-intervals.
        panels: ``{column: panel title}`` (default: test accuracy, highest advantage
            ``max_advantage``, training-loss variance).
        defenses: the curves, one per CCL variant (those absent from ``table`` are skipped).
        logy: columns drawn on a logarithmic y axis (when their means span more than a decade).
        reference: the undefended defense.
        attack: with a run_grid frame, plot this attack's ``advantage`` in panel (b) instead of
            the highest over all attacks.
        dataset: the data set to plot when ``table`` holds several.
        title: the figure title (default: the frame's data set and model, when it names them).
        level: confidence level of the intervals computed from a run_grid frame.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width, one legend below the panels.
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"alpha_ablation needs a DataFrame (a summary or the frame of run_grid), "
                        f"got {type(table).__name__}")  # fmt: skip
    if panels is not None and not panels:
        raise ValueError("alpha_ablation needs at least one panel")
    table = one_dataset(check_frame(table, ["defense", "alpha"], "alpha_ablation"), dataset, "alpha_ablation")
    head = title if title is not None else (frame_title(table) or None)
    if "run_id" in table.columns:
        table, panels = _from_runs(table, panels, attack, defenses, reference, level)
    else:
        if attack is not None:
            raise ValueError("alpha_ablation: attack= needs the frame of run_grid (with 'run_id'), not a summary")
        panels = dict(FIG4_PANELS if panels is None else panels)
        ends = [f"{p}_{e}" for p in panels for e in ("low", "high")]
        need = list(panels) + (ends if any(c in table.columns for c in ends) else [])
        table = check_frame(table, ["defense", "alpha", *need], "alpha_ablation")
    present = [d for d in defenses if d in set(table["defense"])]
    if not present:
        have = sorted(set(table["defense"]))
        raise ValueError(f"alpha_ablation: none of {list(defenses)} is in the table; it has {have}")
    unknown = [m for m in logy if m not in panels]
    if unknown:
        raise ValueError(f"alpha_ablation: logy names {unknown}, which are not panels {list(panels)}")
    bars = has_interval_columns(table, list(panels)) and has_intervals(table, list(panels))
    fig, axes = book_panels(len(panels), aspect=0.95)
    ref = table[table["defense"] == reference]
    n = len(present)
    for ax, (col, name) in zip(axes, panels.items()):
        for i, d in enumerate(present):
            g = table[table["defense"] == d].sort_values("alpha")
            st = series_style(i)
            y = g[col].to_numpy(float)
            if bars:
                err = np.vstack([y - g[f"{col}_low"].to_numpy(float), g[f"{col}_high"].to_numpy(float) - y])
                err = np.where(np.isfinite(err), err, 0.0).clip(min=0)
                x = g["alpha"].to_numpy(float) + (i - (n - 1) / 2) * 0.025  # side by side, bars do not overlap
                ax.errorbar(x, y, yerr=err, capsize=2.5, lw=1.4, ms=4.5, label=dlabel(d), **st)
            else:
                ax.plot(g["alpha"].to_numpy(float), y, lw=1.4, ms=4.5, label=dlabel(d), **st)
        if len(ref):
            r = ref.iloc[0]
            ax.axhline(float(r[col]), color="black", ls=":", lw=1.2, label=dlabel(reference))
            lo, hi = (float(r.get(f"{col}_low", math.nan)), float(r.get(f"{col}_high", math.nan)))
            if bars and math.isfinite(lo) and math.isfinite(hi):
                ax.axhspan(lo, hi, color="gray", alpha=0.15, lw=0)
        ax.set_xlabel(r"$\alpha$")
        ax.set_title(name)
    spans = {c: span([table[c]]) for c in panels}
    finish_panels(fig, axes, logy, spans, head)
    return fig
