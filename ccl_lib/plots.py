"""Figures of experiment results (Liu et al., ICML 2024, Fig. 1-6), as matplotlib Figures.

Every function takes the result frame of :func:`ccl_lib.experiments.run_grid`
(or run histories / attack results), averages over seeds, and returns a
``matplotlib.figure.Figure`` -- nothing is shown or saved, so the notebooks
decide.

* :func:`privacy_utility` -- Fig. 2/3: one panel per attack, test accuracy
  (x) against attack advantage (y), one curve per defense over its
  hyperparameter grid, dotted lines through the undefended (vanilla) model.
* :func:`alpha_ablation` -- Fig. 4: test accuracy, highest advantage and
  training-loss variance against alpha for CCEL and CCQL.
* :func:`training_curves` -- Fig. 1/5: mean and variance of the training loss
  and test accuracy per epoch.
* :func:`roc_curves` -- ROC curves of attacks (log-log by default, Carlini et al., 2022).
* :func:`attack_bars` -- App. D, Fig. 6: grouped bars of the advantage of every attack.
* :func:`curve_bands` -- Fig. 1/5 over seeds: per-epoch means with 95 % bands, one line
  style and marker per loss (:mod:`ccl_lib.analysis.curves`).
* :func:`alpha_intervals` -- Fig. 4 over seeds: means with 95 % interval bars against alpha
  (:mod:`ccl_lib.analysis.ablation`).
* :func:`privacy_utility_intervals` -- Fig. 2/3 over seeds: a grid of panels (one per attack),
  interval bars on accuracy and advantage, one legend.
* :func:`attack_bars_intervals` -- Fig. 6 over seeds: per-attack bars with 95 % intervals.
* :func:`p1_bars_intervals` -- Table 1 over seeds beside the paper's values.
* :func:`strong_roc_panels` -- chapter 10's log-log ROC curves, one panel per (data set, attack).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = ["BOOK_DPI", "BOOK_WIDTH", "book_figsize", "use_book_style", "DEFENSE_LABELS", "ATTACK_LABELS",
           "alpha_ablation", "attack_bars", "privacy_utility", "roc_curves", "strong_roc_grid", "tpr_intervals",
           "training_curves", "curve_bands", "alpha_intervals", "privacy_utility_intervals", "attack_bars_intervals",
           "p1_bars_intervals", "strong_roc_panels"]  # fmt: skip

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
_HISTORY_LABELS = {
    "train_loss_mean": "mean of training loss",
    "train_loss_var": "variance of training loss",
    "test_acc": "test accuracy",
    "train_acc": "training accuracy",
    "test_loss_mean": "mean of test loss",
    "objective": "training objective",
}


def _figure_legend(fig: Any, axes: Any, *, max_cols: int, **kw: Any) -> list[str]:
    """One legend below the panels of ``fig``: each label of ``axes`` once, at most ``max_cols`` columns.

    Returns the labels (callers size the bottom margin by their count).
    """
    handles, labels = [], []
    for ax in axes:
        for hd, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(hd)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=max(1, min(len(labels), max_cols)), frameon=False, **kw)
    return labels


def _check_frame(df: Any, needed: Sequence[str], what: str):
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} needs the DataFrame of ccl_lib.experiments.run_grid, got {type(df).__name__}")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the frame lacks columns {missing} (is it the frame of run_grid?)")
    if len(df) == 0:
        raise ValueError(f"{what}: the frame is empty")
    return df


def _one_dataset(df, dataset: Optional[str], what: str):
    if dataset is not None:
        df = df[df["dataset"] == dataset]
        if len(df) == 0:
            raise ValueError(f"{what}: no rows for dataset {dataset!r}")
    elif "dataset" in df.columns and df["dataset"].nunique() > 1:
        raise ValueError(f"{what}: the frame holds several data sets {sorted(df['dataset'].unique())}; pass dataset=")
    return df


def _grid(n: int, ncols: Optional[int], panel: tuple[float, float]):
    import matplotlib.pyplot as plt

    ncols = min(n, ncols or (4 if n > 4 else n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def _dlabel(name: str) -> str:
    return DEFENSE_LABELS.get(name, name)


def _alabel(name: str) -> str:
    return ATTACK_LABELS.get(name, name)


def privacy_utility(
    df,
    attacks: Optional[Sequence[str]] = None,
    *,
    dataset: Optional[str] = None,
    value: str = "advantage",
    ncols: Optional[int] = None,
    title: Optional[str] = None,
):
    """Privacy-utility curves, Fig. 2/3: one panel per attack.

    x is the target's test accuracy, y the attack's ``value`` (advantage, Eq. 2,
    by default); each defense is one curve over its hyperparameter settings,
    sorted by accuracy, each point the mean over seeds.  The vanilla model is a
    star with dotted horizontal and vertical lines through it.

    Args:
        df: the frame of :func:`ccl_lib.experiments.run_grid`.
        attacks: the panels (default: every attack in ``df``, in order).
        dataset: which data set, when ``df`` holds several.
        value: the y column (``"advantage"``, ``"auc"``, ``"tpr@1%"``...).
        ncols: panels per row (default up to 4).
        title: the figure title (default: data set and model).
    """
    df = _check_frame(df, ["defense", "setting", "attack", "test_acc", value], "privacy_utility")
    df = _one_dataset(df, dataset, "privacy_utility")
    names = list(dict.fromkeys(df["attack"])) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in set(df["attack"])]
    if unknown or not names:
        raise ValueError(
            f"privacy_utility: attacks {unknown or names} are not in the frame; it has {sorted(set(df['attack']))}"
        )
    pts = df.groupby(["defense", "setting", "attack"], sort=False)[["test_acc", value]].mean().reset_index()
    defenses = list(dict.fromkeys(pts["defense"]))
    fig, axes = _grid(len(names), ncols, (3.6, 3.0))
    colors = {d: f"C{i}" for i, d in enumerate(x for x in defenses if x != "vanilla")}
    for ax, atk in zip(axes, names):
        sub = pts[pts["attack"] == atk]
        for d in defenses:
            cur = sub[sub["defense"] == d].sort_values("test_acc")
            if len(cur) == 0:
                continue
            if d == "vanilla":
                acc, adv = float(cur["test_acc"].mean()), float(cur[value].mean())
                ax.plot([acc], [adv], marker="*", ms=12, color="black", ls="none", label=_dlabel(d), zorder=5)
                ax.axhline(adv, color="black", ls=":", lw=1)
                ax.axvline(acc, color="black", ls=":", lw=1)
            else:
                ax.plot(cur["test_acc"], cur[value], marker="o", ms=3.5, lw=1.3, color=colors[d], label=_dlabel(d))
        ax.set_title(_alabel(atk))
        ax.set_xlabel("test accuracy")
        ax.set_ylabel("attack advantage" if value == "advantage" else value)
        ax.grid(alpha=0.3)
    labels = _figure_legend(fig, axes, max_cols=5, bbox_to_anchor=(0.5, 0.0))
    head = title if title is not None else _frame_title(df)
    fig.suptitle(head)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) > 5), 1, 0.97))
    return fig


def _frame_title(df) -> str:
    parts = []
    for col in ("dataset", "model"):
        if col in df.columns and df[col].nunique() == 1:
            parts.append(str(df[col].iloc[0]))
    return " / ".join(parts)


def alpha_ablation(
    df,
    defenses: Sequence[str] = ("ccel", "ccql"),
    *,
    dataset: Optional[str] = None,
    attack: Optional[str] = None,
):
    """Fig. 4: (a) test accuracy, (b) highest attack advantage, (c) training-loss variance vs alpha.

    One curve per defense (CCEL and CCQL by default), the mean over seeds with
    standard-deviation error bars; a dotted line marks the vanilla model when
    the frame has one.  ``attack`` plots that attack's advantage in (b)
    instead of the highest over all attacks (``max_advantage``).

    Args:
        df: the frame of :func:`ccl_lib.experiments.run_grid` (an alpha sweep, e.g. the
            ``figure4-alpha-cifar10`` experiment), with ``alpha``, ``test_acc``, ``train_loss_var``
            and ``max_advantage``.
        defenses: the defenses drawn, one curve each (those absent from ``df`` are skipped).
        dataset: the data set to plot when ``df`` holds several.
        attack: an attack name, as above (default: the highest advantage).
    """
    need = ["defense", "run_id", "alpha", "test_acc", "train_loss_var", "max_advantage"]
    df = _check_frame(df, need, "alpha_ablation")
    df = _one_dataset(df, dataset, "alpha_ablation")
    if attack is not None:
        if attack not in set(df["attack"]):
            raise ValueError(
                f"alpha_ablation: attack {attack!r} is not in the frame; it has {sorted(set(df['attack']))}"
            )
        runs = df[df["attack"] == attack].assign(_adv=lambda d: d["advantage"])
    else:
        runs = df.drop_duplicates("run_id").assign(_adv=lambda d: d["max_advantage"])
    present = [d for d in defenses if d in set(runs["defense"])]
    if not present:
        raise ValueError(
            f"alpha_ablation: none of {list(defenses)} is in the frame; it has {sorted(set(runs['defense']))}"
        )
    panels = [("test_acc", "test accuracy"),
              ("_adv", "highest attack advantage" if attack is None else f"advantage ({_alabel(attack)})"),
              ("train_loss_var", "variance of training loss")]  # fmt: skip
    fig, axes = _grid(3, 3, (3.6, 3.0))
    vanilla = runs[runs["defense"] == "vanilla"]
    for ax, (col, name) in zip(axes, panels):
        for i, d in enumerate(present):
            g = runs[runs["defense"] == d].groupby("alpha")[col].agg(["mean", "std"]).reset_index().sort_values("alpha")
            ax.errorbar(
                g["alpha"],
                g["mean"],
                yerr=g["std"].fillna(0.0),
                marker="o",
                ms=4,
                capsize=2,
                color=f"C{i}",
                label=_dlabel(d),
            )
        if len(vanilla):
            ax.axhline(float(vanilla[col].mean()), color="black", ls=":", lw=1, label="Vanilla")
        ax.set_xlabel(r"$\alpha$")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False)
    fig.suptitle(_frame_title(df) or None)
    fig.tight_layout()
    return fig


def _history_frame(h: Any):
    import pandas as pd

    if hasattr(h, "histories") and hasattr(h, "history_frame"):  # a RunResult
        return h.history_frame("target")
    if isinstance(h, pd.DataFrame):
        return h
    if isinstance(h, (list, tuple)) and all(isinstance(r, Mapping) for r in h):
        return pd.DataFrame(list(h))
    raise TypeError(
        "each history must be a RunResult, a DataFrame or a list of per-epoch dicts "
        f"(TrainResult.history), got {type(h).__name__}"
    )


def training_curves(
    histories: Union[Mapping[str, Any], Sequence[Any]],
    metrics: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    *,
    title: Optional[str] = None,
):
    """Fig. 1/5: one panel per history column (per epoch), one line per run.

    Args:
        histories: ``{label: history}`` where a history is a
            :class:`~ccl_lib.experiments.RunResult` (its target model), a
            ``DataFrame`` or a list of per-epoch dicts of :func:`ccl_lib.train.fit`;
            or a list of RunResults (labelled by defense and hyperparameters).
        metrics: history columns, default mean and variance of the training
            loss and test accuracy.
        title: the figure's title (default none).
    """
    if isinstance(histories, Mapping):
        items = [(str(k), _history_frame(v)) for k, v in histories.items()]
    elif isinstance(histories, (list, tuple)):
        items = []
        for h in histories:
            if not hasattr(h, "spec"):
                raise TypeError("a list of histories must hold RunResults; otherwise pass {label: history}")
            items.append((h.spec.defense_label(), _history_frame(h)))
    else:
        raise TypeError(
            f"histories must be a dict {{label: history}} or a list of RunResults, got {type(histories).__name__}"
        )
    if not items:
        raise ValueError("training_curves: no histories given")
    metrics = list(metrics)
    for label, h in items:
        missing = [m for m in ["epoch", *metrics] if m not in h.columns]
        if missing:
            raise ValueError(f"training_curves: history {label!r} lacks columns {missing}; it has {list(h.columns)}")
    fig, axes = _grid(len(metrics), len(metrics), (3.6, 3.0))
    for ax, m in zip(axes, metrics):
        for i, (label, h) in enumerate(items):
            ax.plot(h["epoch"], h[m], color=f"C{i}", lw=1.4, label=label)
        ax.set_xlabel("epoch")
        ax.set_title(_HISTORY_LABELS.get(m, m))
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _roc_of(r: Any):
    from .metrics import RocCurve, roc_curve

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
        ax.plot(roc.fpr, roc.tpr, color=f"C{i % 10}", lw=1.3, label=f"{_alabel(name)} (AUC {auc:.3f})")
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


def attack_bars(
    df,
    by: str = "setting",
    *,
    value: str = "advantage",
    attacks: Optional[Sequence[str]] = None,
    labels: Optional[Mapping[Any, str]] = None,
    dataset: Optional[str] = None,
    title: Optional[str] = None,
):
    """App. D, Fig. 6: grouped bars -- for each attack, one bar per ``by`` group (mean over seeds, std error bars).

    Args:
        df: the frame of :func:`ccl_lib.experiments.run_grid`.
        by: the column whose values are the bar groups (``"setting"``: one bar
            per defense and hyperparameters; ``"defense"``).
        value: the bar height column (advantage by default).
        attacks: the attacks on the x axis (default: all in ``df``).
        labels: legend text per group value (default: the defense and its
            hyperparameters, the ``variant`` column).
        dataset: the data set to plot when ``df`` holds several.
        title: the axes' title (default: the frame's data set and model).
    """
    df = _check_frame(df, [by, "attack", value], "attack_bars")
    df = _one_dataset(df, dataset, "attack_bars")
    names = list(dict.fromkeys(df["attack"])) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in set(df["attack"])]
    if unknown or not names:
        raise ValueError(f"attack_bars: attacks {unknown or names} are not in the frame")
    import matplotlib.pyplot as plt

    stats = df[df["attack"].isin(names)].groupby([by, "attack"], sort=False)[value].agg(["mean", "std"])
    groups = list(dict.fromkeys(df[by]))
    variants = dict(zip(df[by], df["variant"])) if by == "setting" and "variant" in df.columns else {}
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.9 * len(names)) + 2.5, 3.4))
    x = np.arange(len(names))
    for i, g in enumerate(groups):
        means = [stats["mean"].get((g, a), np.nan) for a in names]
        stds = [stats["std"].get((g, a), np.nan) for a in names]
        stds = [0.0 if (s is None or np.isnan(s)) else s for s in stds]
        if labels and g in labels:
            lab = labels[g]
        elif by == "defense":
            lab = _dlabel(str(g))
        else:
            lab = str(variants.get(g, g))
        ax.bar(
            x + (i - (len(groups) - 1) / 2) * width, means, width, yerr=stds, capsize=2, color=f"C{i % 10}", label=lab
        )
    ax.set_xticks(x)
    ax.set_xticklabels([_alabel(a) for a in names], rotation=30, ha="right")
    ax.set_ylabel("attack advantage" if value == "advantage" else value)
    ax.set_title(title if title is not None else _frame_title(df))
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def strong_roc_grid(
    runs: Mapping[tuple, Any],
    datasets: Sequence[str],
    defenses: Sequence[str],
    attacks: Mapping[str, str],
    seed: int,
    title: Optional[str] = None,
):
    """Log-log ROC curves of chapter 10: one panel per (data set, attack), one curve per defense.

    Args:
        runs: ``{(dataset, defense, seed): StrongAttackRun}`` (:mod:`ccl_lib.attacks.reference`).
        datasets, defenses: rows of panels and curves per panel, in order.
        attacks: ``{attack name: panel title}`` (e.g. ``{"lira_online": "LiRA online"}``).
        seed: which seed's runs to draw.
        title: the figure's title (default: names the seed).
    """
    import matplotlib.pyplot as plt

    if not datasets or not defenses or not attacks:
        raise ValueError("strong_roc_grid needs at least one data set, defense and attack")
    fig, axes = plt.subplots(
        len(datasets), len(attacks), figsize=(4.2 * len(attacks), 3.9 * len(datasets)), squeeze=False
    )
    for i, ds in enumerate(datasets):
        for j, (attack, panel_title) in enumerate(attacks.items()):
            missing = [d for d in defenses if (ds, d, seed) not in runs]
            if missing:
                raise KeyError(f"no run for {ds}, seed {seed} and defenses {missing}")
            roc_curves(
                {d: runs[(ds, d, seed)].results[attack] for d in defenses},
                ax=axes[i, j],
                title=f"{panel_title} on {ds}",
            )
    fig.suptitle(title or f"Membership inference with reference models (seed {seed})", fontsize=11)
    fig.tight_layout()
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

    _check_frame(
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


#: Line styles and markers of :func:`curve_bands` and :func:`alpha_intervals`: curves that
#: coincide (CCEL and CCQL in Fig. 5) stay distinguishable by dash pattern and marker.
_SERIES_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1, 1, 1)), "v"))
#: Short panel titles of :func:`curve_bands` (a third of the book's column each).
_BAND_LABELS = {
    "train_loss_mean": "training loss: mean",
    "train_loss_var": "training loss: variance",
    "train_loss_rel_var": "variance / mean$^2$",
    "test_acc": "test accuracy",
    "train_acc": "training accuracy",
    "test_loss_mean": "test loss: mean",
    "objective": "training objective",
}


def _series_style(i: int) -> dict[str, Any]:
    ls, mk = _SERIES_STYLES[i % len(_SERIES_STYLES)]
    return {"color": f"C{i % 10}", "ls": ls, "marker": mk}


def _finish_panels(
    fig, axes, logy: Sequence[str], spans: Mapping[str, tuple[float, float]], title: Optional[str]
) -> None:
    """Log axes where asked and the plotted means span more than a decade (``spans``: column ->
    (min, max); else a log axis labels only minor ticks), one legend below the panels (it never
    hides a curve), the title above."""
    from matplotlib.ticker import NullFormatter, PercentFormatter

    from .formatting import percent_columns

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


def _span(columns: Sequence[Any]) -> tuple[float, float]:
    v = np.concatenate([np.asarray(c, dtype=float) for c in columns])
    v = v[np.isfinite(v)]
    return (float(v.min()), float(v.max())) if v.size else (math.nan, math.nan)


def _book_panels(n: int, ncols: Optional[int] = None, aspect: float = 0.85):
    """``n`` panels in rows of ``ncols`` (default up to 3) filling the book's column (:func:`book_figsize`)."""
    import matplotlib.pyplot as plt

    ncols = min(n, ncols or 3)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=book_figsize(nrows, ncols, aspect=aspect), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig, flat[:n]


def curve_bands(
    curves: Mapping[str, Any],
    metrics: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    *,
    logy: Sequence[str] = (),
    titles: Optional[Mapping[str, str]] = None,
    title: Optional[str] = None,
    ncols: Optional[int] = None,
):
    """Fig. 1/5 with seeds: one panel per history column, one line per loss with its 95 % band.

    Args:
        curves: ``{label: frame}`` with the frames of
            :func:`ccl_lib.analysis.curves.seed_curves` (``epoch``, ``<metric>``,
            ``<metric>_low``, ``<metric>_high``); the band is drawn where the
            interval is defined (two seeds or more).
        metrics: the panels.
        logy: metrics drawn on a logarithmic y axis (variances span decades).
        titles: panel titles by metric (default: a description of the column).
        title: the figure title.
        ncols: panels per row (default: all in one row, up to 3).

    Each label has its own colour, dash pattern and marker (every few epochs), so
    curves that lie on top of each other stay visible.
    """
    from matplotlib.ticker import MaxNLocator

    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curve_bands needs a non-empty dict {label: frame of seed_curves}")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("curve_bands needs at least one metric")
    unknown = [m for m in logy if m not in metrics]
    if unknown:
        raise ValueError(f"curve_bands: logy names {unknown}, which are not among the metrics {metrics}")
    for label, f in curves.items():
        _check_frame(f, ["epoch", *metrics], f"curve_bands[{label!r}]")
    fig, axes = _book_panels(len(metrics), ncols, aspect=0.95)
    for ax, m in zip(axes, metrics):
        for i, (label, f) in enumerate(curves.items()):
            st = _series_style(i)
            ep = f["epoch"].to_numpy(float)
            every = max(1, len(ep) // 8)
            ax.plot(ep, f[m].to_numpy(float), lw=1.5, ms=4, markevery=(i % every, every), label=label, **st)
            lo, hi = f"{m}_low", f"{m}_high"
            if lo in f.columns and hi in f.columns and np.isfinite(f[lo].to_numpy(float)).any():
                low = f[lo].to_numpy(float)
                if m in logy:
                    low = np.where(low > 0, low, np.nan)  # a t-interval can reach below zero; a log axis cannot
                ax.fill_between(ep, low, f[hi].to_numpy(float), color=st["color"], alpha=0.18, lw=0)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title((titles or {}).get(m, _BAND_LABELS.get(m, m)))
    spans = {m: _span([f[m] for f in curves.values()]) for m in metrics}
    _finish_panels(fig, axes, logy, spans, title)
    return fig


def alpha_intervals(
    table: Any,
    panels: Optional[Mapping[str, str]] = None,
    *,
    defenses: Sequence[str] = ("ccel", "ccql"),
    logy: Sequence[str] = (),
    reference: str = "vanilla",
    title: Optional[str] = None,
):
    """Fig. 4 with seeds: one panel per quantity against alpha, the mean with 95 % interval bars.

    Args:
        table: one row per (defense, alpha) with ``defense``, ``alpha``, and for
            every panel column ``c``: ``c``, ``c_low``, ``c_high``
            (:func:`ccl_lib.analysis.ablation.alpha_summary`).  The ``reference``
            rows (the undefended model) are drawn as a dotted line with a grey band.
        panels: ``{column: panel title}`` (default: test accuracy, highest
            advantage, training-loss variance).
        defenses: the curves, one per CCL variant.
        logy: columns drawn on a logarithmic y axis.
        title: the figure title.
    """
    panels = dict(panels or {"test_acc": "test accuracy", "max_advantage": "highest attack advantage",
                             "train_loss_var": "variance of training loss"})  # fmt: skip
    if not panels:
        raise ValueError("alpha_intervals needs at least one panel")
    cols = [c for p in panels for c in (p, f"{p}_low", f"{p}_high")]
    table = _check_frame(table, ["defense", "alpha", *cols], "alpha_intervals")
    present = [d for d in defenses if d in set(table["defense"])]
    if not present:
        have = sorted(set(table["defense"]))
        raise ValueError(f"alpha_intervals: none of {list(defenses)} is in the table; it has {have}")
    unknown = [m for m in logy if m not in panels]
    if unknown:
        raise ValueError(f"alpha_intervals: logy names {unknown}, which are not panels {list(panels)}")
    fig, axes = _book_panels(len(panels), aspect=0.95)
    ref = table[table["defense"] == reference]
    n = len(present)
    for ax, (col, name) in zip(axes, panels.items()):
        for i, d in enumerate(present):
            g = table[table["defense"] == d].sort_values("alpha")
            st = _series_style(i)
            y = g[col].to_numpy(float)
            err = np.vstack([y - g[f"{col}_low"].to_numpy(float), g[f"{col}_high"].to_numpy(float) - y])
            err = np.where(np.isfinite(err), err, 0.0).clip(min=0)
            x = g["alpha"].to_numpy(float) + (i - (n - 1) / 2) * 0.025  # side by side, bars do not overlap
            ax.errorbar(x, y, yerr=err, capsize=2.5, lw=1.4, ms=4.5, label=_dlabel(d), **st)
        if len(ref):
            r = ref.iloc[0]
            ax.axhline(float(r[col]), color="black", ls=":", lw=1.2, label=_dlabel(reference))
            if math.isfinite(float(r[f"{col}_low"])) and math.isfinite(float(r[f"{col}_high"])):
                ax.axhspan(float(r[f"{col}_low"]), float(r[f"{col}_high"]), color="gray", alpha=0.15, lw=0)
        ax.set_xlabel(r"$\alpha$")
        ax.set_title(name)
    spans = {c: _span([table[c]]) for c in panels}
    _finish_panels(fig, axes, logy, spans, title)
    return fig


# --------------------------------------------------------------------------- chapters 7-10 with seeds

#: Markers of :func:`privacy_utility_intervals`, one per defense (after the colour cycle repeats,
#: curves still differ by marker).
_DEFENSE_MARKERS = ("o", "s", "^", "v", "D", "<", ">", "p", "P", "X", "h")


def _interval_err(frame: Any, col: str) -> np.ndarray:
    """``(2, n)`` error-bar lengths of ``col`` from its ``_low`` / ``_high`` columns; NaN ends give no bar."""
    y = frame[col].to_numpy(float)
    err = np.vstack([y - frame[f"{col}_low"].to_numpy(float), frame[f"{col}_high"].to_numpy(float) - y])
    return np.where(np.isfinite(err), err, 0.0).clip(min=0)


def privacy_utility_intervals(
    points: Any,
    attacks: Optional[Sequence[str]] = None,
    *,
    value: str = "advantage",
    ncols: int = 3,
    reference: str = "vanilla",
    title: Optional[str] = None,
):
    """Fig. 2/3 with seeds: one panel per attack, one curve per defense, 95 % interval bars on every point.

    Each point is one setting of a defense (its hyperparameters): the mean test accuracy (x) and
    mean advantage (y) over seeds, with the intervals of both as error bars.  The curves join a
    defense's settings in order of accuracy; the undefended ``reference`` is a star with dotted
    lines through it, as in the paper's figures (the region right of the vertical line is the one
    Sec. 5.2 reads).  Panels share the accuracy axis and wrap into rows of ``ncols``, so a figure
    with six or eight panels stays readable at the book's column width (:data:`BOOK_WIDTH`).

    Args:
        points: one row per (defense, setting, attack) with ``defense``, ``point`` (the setting's
            label), ``attack``, ``test_acc``, ``test_acc_low``, ``test_acc_high`` and ``value``,
            ``<value>_low``, ``<value>_high`` (e.g. means and
            :func:`ccl_lib.verdicts.seed_interval` ends).
        attacks: the panels, in order (default: every attack of ``points``).
        value: the y column: ``"advantage"`` (the attacker's own rule, Eq. 2) or
            ``"advantage_oracle"`` (thresholds chosen on the target, an upper bound).
        ncols: panels per row (>= 1).
        reference: the undefended defense.
        title: the figure's title.

    Returns:
        a ``matplotlib.figure.Figure`` with one legend below the panels.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    need = ["defense", "point", "attack", "test_acc", "test_acc_low", "test_acc_high", value, f"{value}_low",
            f"{value}_high"]  # fmt: skip
    points = _check_frame(points, need, "privacy_utility_intervals")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"privacy_utility_intervals: ncols must be a positive integer, got {ncols!r}")
    names = list(dict.fromkeys(points["attack"])) if attacks is None else list(attacks)
    unknown = [a for a in names if a not in set(points["attack"])]
    if unknown or not names:
        raise ValueError(f"privacy_utility_intervals: attacks {unknown or names} are not in the frame; "
                         f"it has {sorted(set(points['attack']))}")  # fmt: skip
    defenses = [d for d in dict.fromkeys(points["defense"]) if d != reference]
    style = {d: {"color": f"C{i % 10}", "marker": _DEFENSE_MARKERS[i % len(_DEFENSE_MARKERS)]}
             for i, d in enumerate(defenses)}  # fmt: skip
    ncols = min(ncols, len(names))
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
            eb = ax.errorbar(cur["test_acc"], cur[value], xerr=_interval_err(cur, "test_acc"),
                             yerr=_interval_err(cur, value),
                             lw=2.0 if ccl else 1.2, ms=5 if ccl else 4, capsize=0, elinewidth=0.8,
                             zorder=4 if ccl else 3, label=_dlabel(d), **style[d])  # fmt: skip
            for bars in eb.lines[2]:
                bars.set_alpha(0.45)  # the intervals stay visible without hiding the curves
        ref = sub[sub["defense"] == reference]
        if len(ref):
            acc, adv = float(ref["test_acc"].mean()), float(ref[value].mean())
            one = ref.iloc[:1]
            ax.errorbar(
                [acc],
                [adv],
                xerr=_interval_err(one, "test_acc"),
                yerr=_interval_err(one, value),
                marker="*",
                ms=11,
                color="black",
                ls="none",
                elinewidth=0.8,
                zorder=5,
                label=_dlabel(reference),
            )
            ax.axhline(adv, color="black", ls=":", lw=1)
            ax.axvline(acc, color="black", ls=":", lw=1)
        ax.set_title(_alabel(atk))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if i % ncols == 0:
            ax.set_ylabel(ylab)
        if i >= len(names) - ncols:
            ax.set_xlabel("test accuracy")
            ax.xaxis.set_tick_params(labelbottom=True)
    _figure_legend(fig, flat[: len(names)], max_cols=4)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    return fig


def attack_bars_intervals(
    table: Any,
    groups: Mapping[str, str],
    *,
    value: str = "advantage",
    title: Optional[str] = None,
    ylabel: str = "attack advantage",
):
    """App. D, Fig. 6 with seeds: for each attack, one bar per group (mean over seeds) with its 95 % interval.

    Args:
        table: one row per (group, attack) with ``group``, ``attack``, ``value``, ``<value>_low``,
            ``<value>_high`` (means and :func:`ccl_lib.verdicts.seed_interval` ends).
        groups: ``{group value: legend text}``, in the order of the bars.
        value: the bar height column.
        title: the figure's title.
        ylabel: the y axis label.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width.
    """
    import matplotlib.pyplot as plt

    table = _check_frame(table, ["group", "attack", value, f"{value}_low", f"{value}_high"], "attack_bars_intervals")
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("attack_bars_intervals needs a non-empty dict {group: legend text}")
    missing = [g for g in groups if g not in set(table["group"])]
    if missing:
        have = sorted(set(table["group"]))
        raise ValueError(f"attack_bars_intervals: groups {missing} are not in the table; it has {have}")
    names = list(dict.fromkeys(table["attack"]))
    fig, ax = plt.subplots(figsize=(BOOK_WIDTH, 3.4))
    width = 0.8 / len(groups)
    x = np.arange(len(names))
    for i, (g, lab) in enumerate(groups.items()):
        sub = table[table["group"] == g].set_index("attack").reindex(names)
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, sub[value].to_numpy(float), width,
               yerr=_interval_err(sub, value), capsize=2.5, color=f"C{i % 10}", label=lab,
               error_kw={"elinewidth": 1.0})  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels([_alabel(a) for a in names], rotation=25, ha="right")
    ax.set_ylabel(ylabel)
    if value.startswith(("advantage", "tpr", "test_acc")):
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(False, axis="x")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(groups))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def p1_bars_intervals(summary: Any, paper: Any, *, order: Optional[Sequence[str]] = None, reference: str = "w/o"):
    """Table 1 as a figure with seeds: this run's P1 per data set and method (mean, 95 % interval bars)
    beside the paper's values (one run each, no bars).

    Args:
        summary: one row per (dataset, method) with ``dataset``, ``method``, ``p1``, ``p1_low``, ``p1_high``.
        paper: the paper's table, methods as rows and data sets as columns
            (:func:`ccl_lib.paper_results.table1`).
        order: the methods, in the order of the bars (default: ``paper``'s rows).
        reference: the undefended method, drawn in grey.

    Returns:
        a ``matplotlib.figure.Figure`` of the book's column width, two panels sharing the P1 axis.
    """
    import matplotlib.pyplot as plt

    summary = _check_frame(summary, ["dataset", "method", "p1", "p1_low", "p1_high"], "p1_bars_intervals")
    methods = list(order) if order is not None else list(paper.index)
    ours = list(dict.fromkeys(summary["dataset"]))
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.3), sharey=True,
                             gridspec_kw={"width_ratios": [max(2, len(ours)), len(paper.columns)]})  # fmt: skip
    width = 0.8 / len(methods)
    colour = {m: ("0.6" if m == reference else f"C{i % 10}") for i, m in enumerate(methods)}
    x = np.arange(len(ours))
    for i, m in enumerate(methods):
        sub = summary[summary["method"] == m].set_index("dataset").reindex(ours)
        axes[0].bar(x + (i - (len(methods) - 1) / 2) * width, sub["p1"].to_numpy(float), width,
                    yerr=_interval_err(sub, "p1"), capsize=2.5, color=colour[m], label=m)  # fmt: skip
    axes[0].set_xticks(x)
    axes[0].set_xticklabels(ours)
    axes[0].set_title("this run (95 % intervals)")
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
    its panels (the data sets may run different defenses).

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
    keys = [k for k in runs if k[2] == seed]
    if not keys:
        raise ValueError(f"strong_roc_panels: no run for seed {seed}; seeds: {sorted({k[2] for k in runs})}")
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
    _figure_legend(fig, flat[: len(panels)], max_cols=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    return fig
