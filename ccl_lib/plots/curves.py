"""Fig. 1 and Fig. 5 of Liu et al. (ICML 2024): training curves per epoch (Sec. 3.1, Sec. 5.4)."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .frames import check_frame
from .style import book_panels, finish_panels, series_style, span

__all__ = ["training_curves"]

#: Short panel titles of :func:`training_curves` (a third of the book's column each).
CURVE_LABELS = {
    "train_loss_mean": "training loss: mean",
    "train_loss_var": "training loss: variance",
    "train_loss_rel_var": "variance / mean$^2$",
    "test_acc": "test accuracy",
    "train_acc": "training accuracy",
    "test_loss_mean": "test loss: mean",
    "objective": "training objective",
}


def _is_history(h: Any) -> bool:
    """One run's history (a RunResult, a frame, a list of per-epoch dicts), not a list of runs."""
    import pandas as pd

    if isinstance(h, pd.DataFrame) or (hasattr(h, "histories") and hasattr(h, "history_frame")):
        return True
    return isinstance(h, (list, tuple)) and bool(h) and all(isinstance(r, Mapping) for r in h)


def _curve(h: Any, metrics: Sequence[str], level: float, label: str):
    """The frame drawn for one label: a frame as given, one run's history, or the seed curves of several runs."""
    import pandas as pd

    from ..analysis.curves import history_of, seed_curves

    if isinstance(h, pd.DataFrame):
        return h
    if _is_history(h):
        return history_of(h)
    if isinstance(h, (list, tuple)) and h:
        return seed_curves(list(h), metrics, level=level) if len(h) > 1 else history_of(h[0])
    raise TypeError(
        f"training_curves[{label!r}]: a curve must be a frame (e.g. of seed_curves), a RunResult, a list of "
        f"per-epoch dicts or a list of runs (one per seed), got {type(h).__name__}"
    )


def _by_label(curves: Any) -> dict[str, Any]:
    """``{label: curve}`` from a dict, or from a list of RunResults grouped by their defense label."""
    if isinstance(curves, Mapping):
        return {str(k): v for k, v in curves.items()}
    if isinstance(curves, (list, tuple)):
        groups: dict[str, list] = {}
        for r in curves:
            if not hasattr(r, "spec"):
                raise TypeError("a list of curves must hold RunResults; otherwise pass {label: history}")
            groups.setdefault(r.spec.defense_label(), []).append(r)
        return groups
    raise TypeError(f"curves must be a dict {{label: curve}} or a list of RunResults, got {type(curves).__name__}")


def training_curves(
    curves: Union[Mapping[str, Any], Sequence[Any]],
    metrics: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    *,
    logy: Sequence[str] = (),
    titles: Optional[Mapping[str, str]] = None,
    title: Optional[str] = None,
    ncols: Optional[int] = None,
    level: float = 0.95,
):
    """Fig. 1/5: one panel per history column against the epoch, one line per loss (its 95 % band
    over seeds, when the data has one).

    Args:
        curves: ``{label: curve}``, where a curve is a frame of
            :func:`ccl_lib.analysis.curves.seed_curves` (``epoch``, ``<metric>``, and optionally
            ``<metric>_low``, ``<metric>_high``), one run's history (a
            :class:`~ccl_lib.experiments.RunResult`'s target model, a ``DataFrame`` or the list of
            per-epoch dicts of :func:`ccl_lib.train.fit`), or a list of runs of one setting (one per
            seed, averaged by ``seed_curves``); or a list of RunResults, grouped by
            ``spec.defense_label()`` (several seeds of one label are averaged).
        metrics: the panels (history columns).
        logy: metrics drawn on a logarithmic y axis (variances span decades).
        titles: panel titles by metric (default: a description of the column).
        title: the figure title.
        ncols: panels per row (default: all in one row, up to 3).
        level: confidence level of the bands computed from lists of runs.

    A band is drawn where the interval is defined (two seeds or more); one seed is a plain line.
    Each label has its own colour, dash pattern and marker (every few epochs), so curves that lie
    on top of each other stay visible.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width, one legend below the panels.
    """
    from matplotlib.ticker import MaxNLocator

    items = _by_label(curves)
    if not items:
        raise ValueError("training_curves needs a non-empty dict {label: curve} or list of RunResults")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("training_curves needs at least one metric")
    unknown = [m for m in logy if m not in metrics]
    if unknown:
        raise ValueError(f"training_curves: logy names {unknown}, which are not among the metrics {metrics}")
    frames = {label: _curve(h, metrics, level, label) for label, h in items.items()}
    for label, f in frames.items():
        check_frame(f, ["epoch", *metrics], f"training_curves[{label!r}]")
    fig, axes = book_panels(len(metrics), ncols, aspect=0.95)
    for ax, m in zip(axes, metrics):
        bounds = value_bounds(m)
        bands = []
        for i, (label, f) in enumerate(frames.items()):
            st = series_style(i)
            ep = f["epoch"].to_numpy(float)
            every = max(1, len(ep) // 8)
            ax.plot(ep, f[m].to_numpy(float), lw=1.5, ms=4, markevery=(i % every, every), label=label, **st)
            lo, hi = f"{m}_low", f"{m}_high"
            if lo in f.columns and hi in f.columns and np.isfinite(f[lo].to_numpy(float)).any():
                low, high = f[lo].to_numpy(float), f[hi].to_numpy(float)
                if bounds is not None:  # a t-interval over few seeds can leave [0, 1]; an accuracy cannot
                    low, high = np.clip(low, *bounds), np.clip(high, *bounds)
                if m in logy:
                    low = np.where(low > 0, low, np.nan)  # a t-interval can reach below zero; a log axis cannot
                ax.fill_between(ep, low, high, color=st["color"], alpha=0.18, lw=0)
                bands += [low, high]
        if m not in logy:
            ax.set_ylim(*band_limits(span([f[m] for f in frames.values()]), span(bands) if bands else None, bounds))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.set_title((titles or {}).get(m, CURVE_LABELS.get(m, m)))
    spans = {m: span([f[m] for f in frames.values()]) for m in metrics}
    finish_panels(fig, axes, logy, spans, title)
    return fig


def value_bounds(metric: str) -> Optional[tuple[float, float]]:
    """The range a history column's values can take: ``(0, 1)`` for an accuracy, ``(-1, 1)`` for an
    advantage, ``None`` (unbounded) otherwise. A band (a t-interval over seeds) is clipped to it."""
    name = str(metric).lower()
    if "acc" in name:
        return (0.0, 1.0)
    if "adv" in name:
        return (-1.0, 1.0)
    return None


def band_limits(
    means: tuple[float, float], bands: Optional[tuple[float, float]], bounds: Optional[tuple[float, float]]
) -> tuple[float, float]:
    """Y limits of a linear panel: the mean curves' span with a margin, widened by the bands by at most half
    that span on each side (a band over two or three seeds, t = 12.7 or 4.3, would otherwise flatten the
    means into a line), within ``bounds`` (plus a small margin).

    Args:
        means: ``(min, max)`` of the mean curves.
        bands: ``(min, max)`` of the bands, or ``None``.
        bounds: the values' range (:func:`value_bounds`), or ``None``.
    """
    lo, hi = means
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return (0.0, 1.0) if bounds is None else bounds
    r = hi - lo if hi > lo else max(abs(hi), 1e-12)
    out_lo, out_hi = lo - 0.05 * r, hi + 0.05 * r
    if bands is not None and np.isfinite(bands[0]) and np.isfinite(bands[1]):
        out_lo, out_hi = min(out_lo, max(bands[0], lo - 0.5 * r)), max(out_hi, min(bands[1], hi + 0.5 * r))
    if bounds is not None:
        pad = 0.02 * (bounds[1] - bounds[0])
        out_lo, out_hi = max(out_lo, bounds[0] - pad), min(out_hi, bounds[1] + pad)
    return float(out_lo), float(out_hi)
