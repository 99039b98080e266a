"""The book's figure style: column width, resolution, fonts, display names, panel grids and legends.

Every figure of :mod:`ccl_lib.plots` is drawn through these helpers, so the chapters' figures share
one look: :data:`BOOK_WIDTH` inches wide at :data:`BOOK_DPI` (shown at 1:1 in the book's column),
fonts never below 9 pt, one legend below multi-panel figures.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

__all__ = ["BOOK_DPI", "BOOK_WIDTH", "book_figsize", "use_book_style", "DEFENSE_LABELS", "ATTACK_LABELS",
           "figure_legend"]  # fmt: skip

#: Width of a full-column figure of the book, in inches: 720 px at :data:`BOOK_DPI`, the width
#: of the book's content column (book/_static/custom.css), so figures are shown at 1:1.
BOOK_WIDTH = 7.5
#: The book's figure resolution: 96 dpi is one image pixel per CSS pixel, so a font of
#: N pt in matplotlib renders at N pt in the browser when the figure is not scaled down.
BOOK_DPI = 96


def book_figsize(nrows: int = 1, ncols: int = 1, *, aspect: float = 0.75, width: float = BOOK_WIDTH):
    """``figsize`` of a grid of ``nrows`` x ``ncols`` panels that fills the book's column.

    Args:
        nrows: panel rows (>= 1).
        ncols: panel columns (>= 1); wide figures wrap into rows rather than adding columns
            (at most 3-4 columns keep panels readable at 7.5 in).
        aspect: panel height / panel width (> 0).
        width: total width in inches (default :data:`BOOK_WIDTH`; keep it <= that).

    Returns:
        ``(width, height)`` in inches.
    """
    for name, v in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if not (aspect > 0 and width > 0):
        raise ValueError(f"aspect and width must be positive, got {aspect!r} and {width!r}")
    return (float(width), float(width) / ncols * aspect * nrows)


def use_book_style() -> None:
    """The book's one matplotlib style (:func:`ccl_lib.book.setup` applies it; scripts may call it).

    Figures default to :data:`BOOK_WIDTH` x 3.6 in at :data:`BOOK_DPI` (720 px: the content
    column), fonts 10 pt (axis labels, titles 11 pt) and never below 9 pt (ticks, legends,
    and ``fontsize="small"``, relative to an 11 pt base; avoid ``"x-small"``), so text renders
    at >= 9 pt when a figure is shown at its natural size; thicker lines,
    light grids, legends without frames, and a tight layout.
    """
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.figsize": (BOOK_WIDTH, 3.6),
        "figure.dpi": BOOK_DPI,
        "savefig.dpi": "figure",
        "figure.constrained_layout.use": False,
        # base 11 pt: relative sizes stay >= 9 pt ("small" = 0.833 x 11 = 9.2 pt); explicit sizes below
        "font.size": 11,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "legend.title_fontsize": 9,
        "figure.titlesize": 12,
        "legend.frameon": False,
        "lines.linewidth": 1.8,
        "lines.markersize": 5,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "image.cmap": "viridis",
    })  # fmt: skip


#: Display names of the defenses (legends).
DEFENSE_LABELS = {
    "vanilla": "Vanilla",
    "ccel": "CCEL",
    "ccql": "CCQL",
    "ccl": "CCL",
    "focal": "Focal loss",
    "focal_ccl": "Focal + CCLE",
    "relaxloss": "RelaxLoss",
    "mixup_mmd": "Mixup+MMD",
    "advreg": "Adv-Reg",
    "dropout": "Dropout",
    "label_smoothing": "Label smoothing",
    "confidence_penalty": "Confidence penalty",
    "early_stopping": "Early stopping",
    "dp_sgd": "DP-SGD",
}
#: Display names of the attacks (panel titles).
ATTACK_LABELS = {
    "nn": "NN",
    "nn_sorted": "NN (sorted)",
    "correctness": "Correctness",
    "loss": "Loss",
    "confidence": "Confidence",
    "confidence_true": "Confidence (p_y)",
    "entropy": "Entropy",
    "modified_entropy": "M-entropy",
    "rotation": "Rotation",
    "translation": "Translation",
}

#: Markers of the defenses' curves (after the colour cycle repeats, curves still differ by marker).
DEFENSE_MARKERS = ("o", "s", "^", "v", "D", "<", ">", "p", "P", "X", "h")
#: Line styles and markers of series drawn against epochs or alpha: curves that coincide
#: (CCEL and CCQL in Fig. 5) stay distinguishable by dash pattern and marker.
SERIES_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1, 1, 1)), "v"))


def dlabel(name: str) -> str:
    """The display name of defense ``name`` (:data:`DEFENSE_LABELS`, else the name)."""
    return DEFENSE_LABELS.get(name, name)


def alabel(name: str) -> str:
    """The display name of attack ``name`` (:data:`ATTACK_LABELS`, else the name)."""
    return ATTACK_LABELS.get(name, name)


def series_style(i: int) -> dict[str, Any]:
    """Colour, dash pattern and marker of the ``i``-th series (:data:`SERIES_STYLES`)."""
    ls, mk = SERIES_STYLES[i % len(SERIES_STYLES)]
    return {"color": f"C{i % 10}", "ls": ls, "marker": mk}


def figure_legend(fig: Any, axes: Any, *, max_cols: int, **kw: Any) -> list[str]:
    """One legend below the panels of ``fig``: each label of ``axes`` once, at most ``max_cols`` columns.

    Args:
        fig: the figure.
        axes: the panels whose labelled artists are collected, in order.
        max_cols: the most legend columns (>= 1).
        kw: passed on to ``fig.legend`` (e.g. ``bbox_to_anchor``).

    Returns:
        the labels (callers size the bottom margin by their count).
    """
    handles, labels = [], []
    for ax in axes:
        for hd, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(hd)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=max(1, min(len(labels), max_cols)), frameon=False, **kw)
    return labels


def book_panels(n: int, ncols: Optional[int] = None, aspect: float = 0.85):
    """``n`` panels in rows of ``ncols`` (default up to 3) filling the book's column (:func:`book_figsize`).

    Returns:
        ``(fig, axes)`` with the ``n`` axes in reading order (unused grid cells are removed).
    """
    import matplotlib.pyplot as plt

    ncols = min(n, ncols or 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=book_figsize(nrows, ncols, aspect=aspect), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def span(columns: Sequence[Any]) -> tuple[float, float]:
    """``(min, max)`` of the finite values of ``columns`` (NaN, NaN when there is none)."""
    v = np.concatenate([np.asarray(c, dtype=float) for c in columns])
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if v.size else (math.nan, math.nan)


def finish_panels(
    fig, axes, logy: Sequence[str], spans: Mapping[str, tuple[float, float]], title: Optional[str]
) -> None:
    """Log axes where asked and the plotted means span more than a decade (``spans``: column ->
    (min, max); else a log axis labels only minor ticks), one legend below the panels (it never
    hides a curve), the title above."""
    from matplotlib.ticker import NullFormatter, PercentFormatter

    from ..formatting import percent_columns

    shares = set(percent_columns(spans))
    for ax, c in zip(axes, spans):
        if c in shares and c not in logy:  # fractions the text quotes as percentages
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        if c in logy:
            lo, hi = spans[c]
            if lo > 0 and hi / lo > 10:
                ax.set_yscale("log")
                ax.yaxis.set_minor_formatter(NullFormatter())
                ax.relim()
                ax.autoscale_view()
    handles, labels = axes[0].get_legend_handles_labels()
    rows = math.ceil(len(labels) / 5)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, min(0.4, 0.32 * rows / height), 1, 1))
