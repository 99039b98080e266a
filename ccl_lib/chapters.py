"""Small analysis helpers for the experiment chapters of the book (notebooks 04-09).

The chapters reproduce Fig. 1, 4, 5, 2/3, Table 1 and Fig. 6 of Liu et al.
(ICML 2024) with :mod:`ccl_lib.experiments` (runs, cache) and
:mod:`ccl_lib.plots` (figures).  What is left for a chapter is to turn a result
frame or a few training histories into the table behind a figure and into the
numbers its "What we saw" paragraph quotes; those reductions live here so that
every notebook cell stays short and every number a chapter prints is computed
by tested code.

* :func:`run_runs` -- run (or load) a list of specs; the frame *and* the runs
  (whose histories Fig. 1, 4c and 5 need).
* :func:`history_table`, :func:`compare_histories` -- Fig. 1: loss mean and
  variance per epoch, and in how many epochs one loss lies below another.
* :func:`alpha_table`, :func:`trend` -- Fig. 4: the numbers per alpha and the
  direction (Spearman's rank correlation) of each quantity against alpha.
* :func:`convergence_table` -- Fig. 5: final values and epochs to converge.
* :func:`best_at_utility` -- Sec. 5.2: per attack and defense, the lowest
  advantage among settings at least as accurate as the undefended model
  (the rule behind the paper's "29.67 % -> 18.40 %").
* :func:`p1_table` -- Table 1: P1 (Eq. 13) with the highest advantage over
  all attacks, per data set and method.
* :func:`pick_alpha` -- App. D: the alpha with the lowest highest-advantage
  among settings whose accuracy is not below a reference run's.
* :func:`findings_figure1`, :func:`findings_figure4`, :func:`findings_figure5`,
  :func:`findings_figure23`, :func:`findings_table1`, :func:`findings_appendix_d`
  -- the "What we saw" paragraph of each chapter, written from the numbers
  (each claim is worded by what the run shows, and set against the paper's).
* :func:`pct`, :func:`trend_word`, :func:`param_list` -- formatting and notebook parameters.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

__all__ = [
    "BASELINES",
    "CPU_GRIDS",
    "alpha_table",
    "best_at_utility",
    "best_p1",
    "compare_histories",
    "convergence_table",
    "defense_grid",
    "findings_appendix_d",
    "findings_figure1",
    "findings_figure23",
    "findings_figure4",
    "findings_figure5",
    "findings_table1",
    "fit_part_size",
    "history_table",
    "with_relative_variance",
    "mean_history",
    "notebook_setup",
    "p1_bars",
    "p1_table",
    "param_list",
    "pct",
    "pick_alpha",
    "recipe",
    "run_runs",
    "run_summary",
    "select_runs",
    "setting_table",
    "short_setting",
    "trend",
    "trend_word",
]

TABLE1_METHODS: dict[str, tuple[str, Optional[float]]] = {
    "CCQL": ("ccql", 0.5),
    "CCEL": ("ccel", 0.5),
    "w/o": ("vanilla", None),
}


#: The seven baseline defenses of Sec. 5.1 (registry names), in the paper's order.
BASELINES: tuple[str, ...] = (
    "relaxloss", "mixup_mmd", "advreg", "dropout", "label_smoothing", "confidence_penalty", "early_stopping",
)  # fmt: skip

#: Two or three settings per baseline, spanning weak to strong regularization, for
#: CPU-scale privacy-utility curves (chapter 7).  Values are points of the paper's
#: grids (App. E.2); early-stopping epochs are given in the paper's 300-epoch units
#: and rescaled to the run's epochs by :func:`defense_grid`.
CPU_GRIDS: dict[str, list[dict[str, Any]]] = {
    "relaxloss": [{"alpha": 0.4}, {"alpha": 1.6}],
    "mixup_mmd": [{"weight": 0.5}, {"weight": 4.0}],
    "advreg": [{"weight": 0.8}, {"weight": 1.6}],
    "dropout": [{"rate": 0.3}, {"rate": 0.9}],
    "label_smoothing": [{"smoothing": 0.2}, {"smoothing": 0.8}],
    "confidence_penalty": [{"weight": 0.5}, {"weight": 4.0}],
    "early_stopping": [{"epochs": [50, 100, 200]}],
}


def defense_grid(
    which: Union[str, Mapping[str, Any]] = "cpu", alphas: Optional[Sequence[float]] = None, *, epochs: int = 300
) -> dict[str, Any]:
    """The ``defenses`` argument of :func:`ccl_lib.experiments.grid` for the privacy-utility chapter.

    Args:
        which: ``"paper"`` -- every baseline and CCEL/CCQL over the paper's grids
            (App. E); ``"cpu"`` -- :data:`CPU_GRIDS` for the baselines; or a dict
            ``{defense: grid}`` used as is (vanilla is added).
        alphas: CCEL/CCQL alphas (default: the paper's grid with ``"paper"``,
            ``[0.1, 0.3, 0.5, 0.7, 0.9]`` otherwise).  Ignored for a dict.
        epochs: the runs' training epochs; the early-stopping checkpoints of
            :data:`CPU_GRIDS` (300-epoch units) are rescaled to it
            (:func:`ccl_lib.defenses.rescale_epochs`).  The paper's grid is
            rescaled by :func:`ccl_lib.experiments.grid` itself.
    """
    from .defenses import DEFENSE_NAMES

    if isinstance(which, Mapping):
        unknown = [d for d in which if d not in DEFENSE_NAMES]
        if unknown:
            raise ValueError(f"unknown defense(s) {unknown}; valid names: {list(DEFENSE_NAMES)}")
        return {"vanilla": [{}], **dict(which)}
    if which not in ("paper", "cpu"):
        raise ValueError(f"grid must be 'paper', 'cpu' or a dict {{defense: grid}}, got {which!r}")
    if alphas is not None:
        alphas = [float(a) for a in alphas]
        if not alphas or not all(0.0 <= a <= 1.0 for a in alphas):
            raise ValueError(f"alphas must be a non-empty list of numbers in [0, 1], got {alphas!r}")
    out: dict[str, Any] = {"vanilla": [{}]}
    if which == "paper":
        ccl: Any = "paper" if alphas is None else [{"alpha": a} for a in alphas]
        out.update({"ccel": ccl, "ccql": ccl})
        out.update({d: "paper" for d in BASELINES})
    else:
        pts = [{"alpha": a} for a in (alphas if alphas is not None else (0.1, 0.3, 0.5, 0.7, 0.9))]
        out.update({"ccel": pts, "ccql": [dict(p) for p in pts]})
        from .defenses import rescale_epochs

        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        for d, g in CPU_GRIDS.items():
            pts = [dict(p) for p in g]
            if d == "early_stopping":
                pts = [{**p, "epochs": list(rescale_epochs(p["epochs"], epochs, 300))} for p in pts]
            out[d] = pts
    return out


def fit_part_size(dataset: str, part_size: Optional[int], n_parts: int = 4) -> Optional[int]:
    """``part_size`` if ``dataset`` holds ``n_parts`` parts of that size, else ``None`` (all the data).

    Lets one notebook parameter serve data sets of different sizes (chapter 8:
    Location holds 4 x 1,000 examples, scikit-learn's digits only 4 x 449).
    """
    if part_size is None:
        return None
    if isinstance(part_size, bool) or not isinstance(part_size, int) or part_size < 1:
        raise ValueError(f"part_size must be a positive integer or None, got {part_size!r}")
    if n_parts not in (4, 5):
        raise ValueError(f"n_parts must be 4 or 5, got {n_parts!r}")
    from .data import load_dataset

    n = len(load_dataset(dataset).y)
    return part_size if n_parts * part_size <= n else None


def notebook_setup(precision: int = 4) -> None:
    """Display settings every chapter starts with: pandas' precision, no tqdm "IProgress" warning.

    Progress bars are off in the book (``CCL_PROGRESS=0``); without ipywidgets,
    ``tqdm.auto`` would still warn when it is imported.
    """
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore", message="IProgress not found")
    pd.set_option("display.precision", precision)


def recipe(
    dataset: Optional[str],
    *,
    model: str,
    epochs: int,
    milestones: Any,
    augment: bool,
    part_size: Optional[int],
    seeds: Any,
    n_parts: int = 4,
) -> dict[str, Any]:
    """The keyword arguments of :func:`ccl_lib.experiments.grid` from a chapter's parameters.

    ``milestones`` and ``seeds`` may come from papermill as text (:func:`param_list`);
    ``size`` is :func:`fit_part_size` of ``dataset`` (left out when ``dataset`` is
    ``None``, for chapters that loop over data sets).  Chapters 4-9 share one recipe,
    so the runs they have in common are trained once and cached.
    """
    out: dict[str, Any] = dict(
        model=model, epochs=epochs, milestones=param_list(milestones, "milestones"), augment=augment,
        seeds=param_list(seeds, "seeds"),
    )
    if dataset is not None:
        out["size"] = fit_part_size(dataset, part_size, n_parts=n_parts)  # None if too small: all of it
    return out


# --------------------------------------------------------------------------- running


def run_runs(
    specs: Sequence[Any], *, workers: Union[int, str] = 1, cache: Any = None, progress: Optional[bool] = False
):
    """Run (or load from the cache) ``specs`` with :func:`ccl_lib.experiments.run_sweep`.

    Returns ``(frame, runs)``: the result frame of :func:`ccl_lib.experiments.run_grid`
    (one row per run, evaluated epoch and attack) and ``{spec.key(): RunResult}``,
    whose ``histories`` hold the per-epoch training curves.  Failed runs raise
    :class:`ccl_lib.experiments.SweepError` (the finished ones stay cached).
    """
    from .experiments import RunSpec, run_sweep

    specs = list(specs)
    if not specs or not all(isinstance(s, RunSpec) for s in specs):
        raise ValueError("specs must be a non-empty list of RunSpec (see ccl_lib.experiments.grid)")
    sweep = run_sweep(specs, workers=workers, cache=cache, progress=progress)
    return sweep.frame(), {r.key: r for r in sweep.results}


def run_summary(df, runs: Mapping[str, Any]) -> str:
    """One line about a sweep: runs per data set with their training-set size, how many were
    computed now and how many loaded from the cache, and the attacks."""
    sizes: dict[str, set] = {}
    for r in runs.values():
        sizes.setdefault(r.spec.dataset, set()).add(int(r.meta.get("split_sizes", {}).get("target_train", -1)))
    counts = {d: sum(1 for r in runs.values() if r.spec.dataset == d) for d in sizes}
    parts = [f"{counts[d]} runs on {d} ({'/'.join(str(n) for n in sorted(v))} training examples per model)"
             for d, v in sizes.items()]
    info = df.attrs.get("summary", {})
    done = f"computed {info['computed']}, cached {info['cached']}; " if info else ""
    return "; ".join(parts) + f"; {done}attacks: {', '.join(dict.fromkeys(df['attack']))}"


def select_runs(runs: Mapping[str, Any], defense: str, **hparams: Any) -> list:
    """The RunResults of ``runs`` (``{key: RunResult}``) with this defense and these
    explicitly given hyperparameters (e.g. ``select_runs(runs, "ccql", alpha=0.5)``), by seed."""
    out = []
    for r in runs.values():
        hp = r.spec.hparams
        if r.spec.defense == defense and all(k in hp and _same(hp[k], v) for k, v in hparams.items()):
            out.append(r)
    if not out:
        raise ValueError(f"no run of defense {defense!r} with {hparams} among the {len(runs)} runs")
    return sorted(out, key=lambda r: r.spec.seed)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
    return a == b


def _history(h: Any):
    import pandas as pd

    if hasattr(h, "history_frame") and hasattr(h, "histories"):  # RunResult
        return h.history_frame("target")
    if isinstance(h, pd.DataFrame):
        return h
    if isinstance(h, (list, tuple)) and all(isinstance(r, Mapping) for r in h):
        return pd.DataFrame(list(h))
    raise TypeError(f"a history must be a RunResult, a DataFrame or a list of per-epoch dicts, got {type(h).__name__}")


def mean_history(runs: Sequence[Any]):
    """The per-epoch mean over seeds of the target models' histories of ``runs`` (RunResults
    of one setting); a single run gives its own history."""
    import pandas as pd

    frames = [_history(r) for r in runs]
    if not frames:
        raise ValueError("mean_history needs at least one run")
    return pd.concat(frames).groupby("epoch", as_index=False).mean(numeric_only=True)


# --------------------------------------------------------------------------- Fig. 1


def history_table(
    histories: Mapping[str, Any],
    columns: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    every: int = 1,
):
    """Per-epoch values of ``columns`` side by side, one column block per run (Fig. 1, Fig. 5).

    Args:
        histories: ``{label: RunResult | DataFrame | list of per-epoch dicts}``.
        columns: history columns of :func:`ccl_lib.train.fit`.
        every: keep every ``every``-th epoch (and always the last).

    Returns a frame indexed by epoch with a ``(column, label)`` column MultiIndex.
    """
    import pandas as pd

    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict {label: history}")
    if not (isinstance(every, int) and every >= 1):
        raise ValueError(f"every must be a positive integer, got {every!r}")
    parts = {}
    for label, h in histories.items():
        f = _history(h)
        missing = [c for c in ("epoch", *columns) if c not in f.columns]
        if missing:
            raise ValueError(f"history {label!r} lacks columns {missing}; it has {list(f.columns)}")
        parts[label] = f.set_index("epoch")[list(columns)]
    table = pd.concat(parts, axis=1).swaplevel(0, 1, axis=1)
    table = table[[(c, lab) for c in columns for lab in histories]]
    epochs = table.index.to_numpy()
    keep = (np.arange(len(epochs)) % every == 0) | (epochs == epochs.max())
    return table[keep]


def with_relative_variance(h: Any):
    """A copy of history ``h`` with ``train_loss_rel_var`` = variance / mean^2 of the training loss.

    The squared coefficient of variation: the spread of the losses relative to their size.
    Theorem 3.1 compares loss variances at a fixed mean (fixed epsilon); when two losses end
    at very different means (focal loss vs cross-entropy after memorization), this ratio is the
    scale-free way to say which one keeps its losses more concentrated.
    """
    f = _history(h).copy()
    f["train_loss_rel_var"] = f["train_loss_var"] / f["train_loss_mean"] ** 2
    return f


def compare_histories(a: Any, b: Any, column: str = "train_loss_var") -> dict[str, Any]:
    """Compare one history column of run ``a`` with run ``b`` epoch by epoch (Fig. 1).

    Returns a dict: ``epochs`` (common epochs), ``a_below`` (epochs where
    a < b), ``a_below_epochs`` (their list), ``a_mean``/``b_mean`` (mean over
    epochs), ``a_last``/``b_last`` (last epoch), ``a_peak``/``b_peak`` (max).
    """
    fa, fb = _history(a), _history(b)
    for name, f in (("a", fa), ("b", fb)):
        if column not in f.columns or "epoch" not in f.columns:
            raise ValueError(f"history {name} lacks column {column!r}; it has {list(f.columns)}")
    m = fa[["epoch", column]].merge(fb[["epoch", column]], on="epoch", suffixes=("_a", "_b"))
    if len(m) == 0:
        raise ValueError("the two histories share no epoch")
    va, vb = m[f"{column}_a"].to_numpy(float), m[f"{column}_b"].to_numpy(float)
    below = va < vb
    return {
        "epochs": int(len(m)),
        "a_below": int(below.sum()),
        "a_below_epochs": [int(e) for e in m["epoch"][below]],
        "a_mean": float(va.mean()),
        "b_mean": float(vb.mean()),
        "a_last": float(va[-1]),
        "b_last": float(vb[-1]),
        "a_peak": float(va.max()),
        "b_peak": float(vb.max()),
    }


# --------------------------------------------------------------------------- Fig. 4


def trend(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of ``y`` with ``x`` (ties get average ranks); NaN if undefined.

    +1: ``y`` rises with ``x`` monotonically, -1: falls monotonically.
    """
    from scipy.stats import rankdata

    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x and y must be 1-d and of equal length, got {xa.shape} and {ya.shape}")
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if len(xa) < 2:
        return math.nan
    rx, ry = rankdata(xa), rankdata(ya)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def trend_word(rho: float, rising: str = "rises", falling: str = "falls", threshold: float = 0.7) -> str:
    """``rising``/``falling`` when ``|rho| >= threshold``, else "shows no clear trend"."""
    if rho is None or not math.isfinite(rho) or abs(rho) < threshold:
        return "shows no clear trend"
    return rising if rho > 0 else falling


def _runs(df):
    """One row per (run, evaluated epoch): the row of its strongest attack, with that attack's name."""
    needed = ["run_id", "defense", "attack", "advantage", "test_acc", "max_advantage", "p1"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks columns {missing} (is it the frame of run_grid?)")
    if len(df) == 0:
        raise ValueError("the result frame is empty")
    idx = df.groupby("run_id", sort=False)["advantage"].idxmax()
    out = df.loc[idx].rename(columns={"attack": "worst_attack"})
    return out.reset_index(drop=True)


def short_setting(setting: str) -> str:
    """The defense part of an engine ``setting`` label: ``"location/mlp ccql(alpha=0.5, scale=1) size=1000"``
    -> ``"ccql(alpha=0.5, scale=1)"``; an early-stopping checkpoint keeps its ``stop=N``."""
    import re

    m = re.match(r"^\S+ (\w+(?:\([^)]*\))?)", str(setting))
    if not m:
        return str(setting)
    stop = re.search(r"\bstop=(\d+)", str(setting))
    return m.group(1) + (f" stop={stop.group(1)}" if stop else "")


def setting_table(df, runs: Optional[Mapping[str, Any]] = None):
    """One row per setting (defense and hyperparameters, mean over seeds): test accuracy,
    highest advantage over all attacks and the attack reaching it, P1 (Eq. 13), and the
    training-loss variance at the last epoch -- plus, with ``runs`` (``{key: RunResult}``),
    ``train_loss_var_avg``, the variance averaged over all epochs of training."""
    r = _runs(df)
    if runs is not None:
        avg = {k: float(np.mean([h["train_loss_var"] for h in v.histories["target"]])) for k, v in runs.items()}
        r["train_loss_var_avg"] = r["key"].map(avg)
    cols = ["test_acc", "train_acc", "max_advantage", "p1", "train_loss_var"]
    cols += ["train_loss_var_avg"] if runs is not None else []
    g = r.groupby(["defense", "setting"], sort=False)
    out = g[cols].mean()
    out["worst_attack"] = g["worst_attack"].agg(lambda s: s.mode().iloc[0])
    out["seeds"] = g.size()
    out = out.reset_index()
    out.insert(1, "point", out["setting"].map(short_setting))
    return out


def alpha_table(df, defenses: Sequence[str] = ("ccel", "ccql"), runs: Optional[Mapping[str, Any]] = None):
    """Fig. 4's numbers: per defense and alpha, test accuracy, highest advantage (and its
    attack), and the training-loss variance at the last epoch, mean over seeds.

    With ``runs`` (``{key: RunResult}`` of :func:`run_runs`) a column
    ``train_loss_var_avg`` adds the variance averaged over all epochs of training.
    The vanilla model, when present, is the row with ``alpha = 1.0`` (cross-entropy
    is CCL with alpha = 1, Eq. 4).
    """
    import pandas as pd

    r = _runs(df)
    keep = r[r["defense"].isin([*defenses, "vanilla"])].copy()
    if "alpha" not in keep.columns:
        raise ValueError("the frame has no 'alpha' column: it holds no CCL run")
    keep.loc[keep["defense"] == "vanilla", "alpha"] = 1.0
    keep = keep[keep["defense"].isin(defenses) | (keep["defense"] == "vanilla")]
    if runs is not None:
        avg = {k: float(np.mean([h["train_loss_var"] for h in v.histories["target"]])) for k, v in runs.items()}
        keep["train_loss_var_avg"] = keep["key"].map(avg)
    cols = ["test_acc", "train_acc", "max_advantage", "train_loss_var"]
    cols += ["train_loss_var_avg"] if runs is not None else []
    g = keep.groupby(["defense", "alpha"], sort=True)
    out = g[cols].mean()
    out["worst_attack"] = g["worst_attack"].agg(lambda s: s.mode().iloc[0])
    out["seeds"] = g.size()
    return out.reset_index()


# --------------------------------------------------------------------------- Fig. 5


def convergence_table(histories: Mapping[str, Any], tol: float = 0.01):
    """Fig. 5's numbers per run: final and best test accuracy, the first epoch whose test
    accuracy is within ``tol`` of the final one, and the final training loss (mean CE)."""
    import pandas as pd

    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict {label: history}")
    if not (0 <= tol < 1):
        raise ValueError(f"tol must be in [0, 1), got {tol!r}")
    rows = []
    for label, h in histories.items():
        f = _history(h)
        acc = f["test_acc"].to_numpy(float)
        within = np.flatnonzero(acc >= acc[-1] - tol)
        rows.append({
            "run": label,
            "final_test_acc": float(acc[-1]),
            "best_test_acc": float(acc.max()),
            "epoch_within_tol": int(f["epoch"].iloc[within[0]]),
            "final_train_loss": float(f["train_loss_mean"].iloc[-1]),
            "final_train_acc": float(f["train_acc"].iloc[-1]),
            "epochs": int(len(f)),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("run")


# --------------------------------------------------------------------------- Fig. 2/3


def best_at_utility(
    df, min_acc: Optional[float] = None, attacks: Optional[Sequence[str]] = None, tolerance: float = 0.0
):
    """Per attack and defense, the setting with the lowest advantage among those with
    ``test_acc >= min_acc`` (Sec. 5.2's rule; default ``min_acc``: the vanilla model's accuracy
    minus ``tolerance``, e.g. 0.02 to allow two points of accuracy).

    Returns a long frame: ``attack, defense, setting, test_acc, advantage, n_settings``
    (how many settings met the accuracy condition).  Defenses with no qualifying
    setting are left out.  Values are means over seeds.
    """
    needed = ["defense", "setting", "attack", "test_acc", "advantage"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks columns {missing} (is it the frame of run_grid?)")
    pts = df.groupby(["defense", "setting", "attack"], sort=False)[["test_acc", "advantage"]].mean().reset_index()
    if min_acc is None:
        van = pts[pts["defense"] == "vanilla"]
        if len(van) == 0:
            raise ValueError("no vanilla run in the frame: pass min_acc")
        if not (0.0 <= tolerance < 1.0):
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
        min_acc = float(van["test_acc"].mean()) - tolerance
    if attacks is not None:
        pts = pts[pts["attack"].isin(list(attacks))]
    ok = pts[(pts["test_acc"] >= min_acc - 1e-12) & (pts["defense"] != "vanilla")]
    if len(ok) == 0:
        empty = ok.assign(n_settings=[]).reset_index(drop=True)
        empty.attrs["min_acc"] = min_acc
        return empty
    idx = ok.groupby(["attack", "defense"], sort=False)["advantage"].idxmin()
    best = ok.loc[idx].copy()
    best["n_settings"] = best.apply(
        lambda r: int(((ok["attack"] == r["attack"]) & (ok["defense"] == r["defense"])).sum()), axis=1
    )
    best.attrs["min_acc"] = min_acc
    return best.sort_values(["attack", "advantage"]).reset_index(drop=True)


def best_p1(df):
    """Per defense, the setting with the highest P1 (Eq. 13 with the highest advantage over all
    attacks): one number per defense for the whole privacy-utility curve, best first."""
    t = setting_table(df)
    idx = t.groupby("defense", sort=False)["p1"].idxmax()
    cols = ["defense", "point", "test_acc", "max_advantage", "worst_attack", "p1"]
    return t.loc[idx, cols].sort_values("p1", ascending=False).reset_index(drop=True)


# --------------------------------------------------------------------------- Table 1


def p1_table(df, methods: Optional[Mapping[str, tuple[str, Optional[float]]]] = None):
    """Table 1: P1 (Eq. 13, highest advantage over all attacks) per data set and method.

    ``methods`` maps a row name to ``(defense, alpha)`` (``alpha=None`` for a
    defense without one); the default is Table 1's rows CCQL and CCEL at
    ``alpha = 0.5`` and "w/o" (vanilla).  Returns ``(p1, details)``: ``p1`` has
    one row per method and one column per data set (mean over seeds);
    ``details`` has test accuracy, highest advantage, its attack and the
    number of seeds per (data set, method).
    """
    import pandas as pd

    methods = dict(TABLE1_METHODS if methods is None else methods)
    r = _runs(df)
    rows = []
    for name, (defense, alpha) in methods.items():
        sel = r[r["defense"] == defense]
        if alpha is not None:
            if "alpha" not in sel.columns:
                continue
            sel = sel[np.isclose(sel["alpha"].astype(float), alpha)]
        for ds, g in sel.groupby("dataset", sort=False):
            rows.append({
                "dataset": ds, "method": name, "test_acc": float(g["test_acc"].mean()),
                "max_advantage": float(g["max_advantage"].mean()),
                "worst_attack": g["worst_attack"].mode().iloc[0], "p1": float(g["p1"].mean()),
                "p1_std": float(g["p1"].std(ddof=1)) if len(g) > 1 else math.nan, "seeds": int(len(g)),
            })  # fmt: skip
    if not rows:
        raise ValueError(f"no run of the frame matches the methods {methods}")
    details = pd.DataFrame(rows)
    order = [m for m in methods if m in set(details["method"])]
    p1 = details.pivot(index="method", columns="dataset", values="p1").reindex(order)
    p1 = p1[list(dict.fromkeys(details["dataset"]))]
    p1.attrs["seeds"] = int(details["seeds"].min())
    return p1, details.set_index(["dataset", "method"])


def p1_bars(p1, paper):
    """Table 1 as a figure: P1 per data set (groups) and method (bars), this run's next to the paper's.

    ``p1`` is :func:`p1_table`'s first result, ``paper`` :func:`ccl_lib.paper_results.table1`.
    Returns a ``matplotlib.figure.Figure`` (nothing is shown or saved).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(3.2 + 1.1 * (len(p1.columns) + len(paper.columns)), 3.2),
                             sharey=True, gridspec_kw={"width_ratios": [max(1, len(p1.columns)), len(paper.columns)]})
    for ax, table, title in ((axes[0], p1, "this run"), (axes[1], paper, "the paper (Table 1)")):
        methods = list(table.index)
        width = 0.8 / len(methods)
        x = np.arange(len(table.columns))
        for i, m in enumerate(methods):
            ax.bar(x + (i - (len(methods) - 1) / 2) * width, table.loc[m].to_numpy(float), width,
                   color="0.6" if m == "w/o" else f"C{i}", label=m)
        ax.set_xticks(x)
        ax.set_xticklabels(list(table.columns), rotation=20)
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("P1 (Eq. 13)")
    axes[0].legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- App. D


def pick_alpha(df, defense: str = "focal_ccl", reference: str = "focal") -> dict[str, Any]:
    """App. D's choice of alpha: among ``defense`` runs with test accuracy not below the
    ``reference`` run's, the alpha with the lowest highest-advantage (mean over seeds).

    Returns ``{"alpha", "test_acc", "max_advantage", "reference_acc", "qualified"}``;
    when no alpha keeps the accuracy, ``qualified`` is False and the most accurate
    alpha is returned instead (the chapter says so).
    """
    r = _runs(df)
    ref = r[r["defense"] == reference]
    cand = r[r["defense"] == defense]
    if len(ref) == 0 or len(cand) == 0 or "alpha" not in cand.columns:
        raise ValueError(f"need runs of both {reference!r} and {defense!r} (with alpha) in the frame")
    ref_acc = float(ref["test_acc"].mean())
    g = cand.groupby("alpha")[["test_acc", "max_advantage"]].mean().reset_index()
    ok = g[g["test_acc"] >= ref_acc - 1e-12]
    qualified = len(ok) > 0
    row = ok.loc[ok["max_advantage"].idxmin()] if qualified else g.loc[g["test_acc"].idxmax()]
    return {
        "alpha": float(row["alpha"]),
        "test_acc": float(row["test_acc"]),
        "max_advantage": float(row["max_advantage"]),
        "reference_acc": ref_acc,
        "qualified": bool(qualified),
    }


# --------------------------------------------------------------------------- prose


def param_list(value: Any, name: str = "parameter") -> list:
    """A notebook parameter that must be a list, also when papermill passed it as text.

    ``papermill -p milestones "[150, 225]"`` hands the notebook the *string*
    ``"[150, 225]"``; this parses it (a Python/JSON literal) and checks it is a list.
    A single number becomes a one-element list; ``None`` and ``""`` give ``[]``.
    """
    import ast

    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name} must be a list literal such as [0.1, 0.5], got {text!r}") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list such as [0.1, 0.5], got {value!r}")
    return list(value)



def pct(x: float, digits: int = 1) -> str:
    """``0.2967 -> "29.7 %"`` (NaN -> "n/a")."""
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    return f"{100 * float(x):.{digits}f} %"


def _ranges(epochs: Sequence[int]) -> str:
    """``[1, 2, 3, 7, 9, 10] -> "1-3, 7, 9-10"``."""
    e = sorted(int(x) for x in epochs)
    if not e:
        return "none"
    out, start, prev = [], e[0], e[0]
    for x in e[1:] + [None]:  # type: ignore[operator]
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def findings_figure1(ce: Any, focal: Any) -> str:
    """Chapter 4's "What we saw" (Fig. 1): focal loss against cross-entropy, epoch by epoch.

    ``ce`` and ``focal`` are histories (RunResult, DataFrame or per-epoch dicts)
    with ``train_loss_mean``, ``train_loss_var`` and ``train_acc``.  The paper's
    Figure 1: focal loss has the higher mean and the smaller variance.
    """
    mean = compare_histories(focal, ce, "train_loss_mean")
    var = compare_histories(focal, ce, "train_loss_var")
    rel = compare_histories(with_relative_variance(focal), with_relative_variance(ce), "train_loss_rel_var")
    ce_acc = float(_history(ce)["train_acc"].iloc[-1])
    n = var["epochs"]
    higher_mean = mean["a_last"] > mean["b_last"]
    smaller_var_last = var["a_last"] < var["b_last"]
    lines = [
        f"- **Mean.** At the last epoch focal loss's mean training loss is {mean['a_last']:.4f} against CE's "
        f"{mean['b_last']:.4f}, {'higher' if higher_mean else 'not higher'} "
        f"({'as in' if higher_mean else 'unlike'} the paper's Figure 1); it is higher in "
        f"{n - mean['a_below']} of {n} epochs.",
        f"- **Variance.** Focal loss has the smaller variance in {var['a_below']} of {n} epochs "
        f"(epochs {_ranges(var['a_below_epochs'])}); its peak is {var['a_peak']:.3g} against CE's {var['b_peak']:.3g}. "
        f"At the last epoch: {var['a_last']:.2e} (focal) vs {var['b_last']:.2e} (CE), "
        f"{'the order of the paper' if smaller_var_last else 'the reverse of the paper'}.",
    ]
    if not smaller_var_last and ce_acc >= 0.99:
        lines.append(
            f"- **Why the end differs.** CE fits {pct(ce_acc)} of its training examples: it drives every member's "
            "loss towards zero, so its variance collapses together with its mean, while focal loss stops pushing "
            "an example once it is fitted and leaves its losses at a higher, more spread-out level. Theorem 3.1 "
            "compares losses at the same mean; here the means end far apart. The paper's ResNet-34 is trained with "
            "data augmentation, whose random crops keep the training loss away from zero, which may be why its "
            "curves stay in the order the theorem suggests."
        )
    elif smaller_var_last:
        lines.append("- **Agreement.** The run reproduces the ordering of the paper's Figure 1 at the end of training.")
    lines.append(
        "- **Relative variance** (variance divided by the squared mean, which does not grow with the size of the "
        f"losses): focal loss "
        f"is lower in {rel['a_below']} of {n} epochs (epochs {_ranges(rel['a_below_epochs'])}); at the last epoch "
        f"{rel['a_last']:.3f} against CE's {rel['b_last']:.3f}"
        + (", so relative to their size focal loss keeps its losses more concentrated, the paper's point."
           if rel["a_last"] < rel["b_last"] else ".")
    )
    return "\n".join(lines)


_PAPER_FIG4 = {
    "test_acc": (+1, "accuracy rises with alpha"),
    "max_advantage": (+1, "the highest advantage rises with alpha"),
    "train_loss_var": (-1, "the loss variance falls as alpha rises"),
}


def findings_figure4(table, threshold: float = 0.7) -> str:
    """Chapter 5's "What we saw" (Fig. 4) from :func:`alpha_table`: the direction of each
    quantity against alpha per CCL variant (Spearman's rho), against the paper's directions."""
    ccl = table[table["defense"] != "vanilla"]
    if ccl["alpha"].nunique() < 2:
        return "- A single value of alpha: nothing to compare."
    lines = []
    if ccl["alpha"].nunique() == 2:
        lines.append("- Only two values of alpha: each line below is the direction from one to the other, not a trend.")
    names = {"test_acc": "Test accuracy", "max_advantage": "Highest advantage",
             "train_loss_var": "Loss variance (last epoch)", "train_loss_var_avg": "Loss variance (mean over epochs)"}
    for col, label in names.items():
        if col not in ccl.columns:
            continue
        rhos = {d: trend(g["alpha"], g[col]) for d, g in ccl.groupby("defense")}
        desc = "; ".join(f"{d.upper()}: {trend_word(r, threshold=threshold)} (rho {r:+.2f})" for d, r in rhos.items())
        if col in _PAPER_FIG4:
            sign, paper = _PAPER_FIG4[col]
            agree = sum(1 for r in rhos.values() if math.isfinite(r) and sign * r >= threshold)
            verdict = ("agrees with" if agree == len(rhos) else "partly agrees with" if agree else "does not reproduce")
            lines.append(f"- **{label}** against alpha -- {desc}. This {verdict} the paper, where {paper}.")
        else:
            lines.append(f"- **{label}** against alpha -- {desc} (not in the paper's figure).")
    if "train_loss_var_avg" in ccl.columns and "train_acc" in ccl.columns:
        last = [trend(g["alpha"], g["train_loss_var"]) for _, g in ccl.groupby("defense")]
        avg = [trend(g["alpha"], g["train_loss_var_avg"]) for _, g in ccl.groupby("defense")]
        fitted = ccl[ccl["train_acc"] >= 0.99]
        if any(not (r <= -threshold) for r in last) and all(r <= -threshold for r in avg) and len(fitted):
            lines.append(
                f"- **Why the last epoch can hide the trend.** {len(fitted)} of {len(ccl)} CCL runs (alpha >= "
                f"{fitted['alpha'].min():g}) fit at least 99 % of their training examples: every member's loss is then "
                "close to zero whatever the loss function, and the last-epoch variances are all tiny. Averaged over "
                "training, where the models differ, the variance falls with alpha in both variants, as Theorem 3.2 "
                "suggests."
            )
    lo, hi = ccl["alpha"].min(), ccl["alpha"].max()
    a, b = ccl[ccl["alpha"] == lo], ccl[ccl["alpha"] == hi]
    text = (f"- At alpha = {lo:g} the two variants average {pct(a['test_acc'].mean())} test accuracy and "
            f"{pct(a['max_advantage'].mean())} highest advantage; at alpha = {hi:g}, {pct(b['test_acc'].mean())} and "
            f"{pct(b['max_advantage'].mean())}")
    van = table[table["defense"] == "vanilla"]
    if len(van):
        text += f"; cross-entropy (alpha = 1): {pct(van['test_acc'].iloc[0])} and {pct(van['max_advantage'].iloc[0])}"
    lines.append(text + ".")
    if len(van):
        v_adv, v_acc = float(van["max_advantage"].iloc[0]), float(van["test_acc"].iloc[0])
        free = ccl[(ccl["max_advantage"] < v_adv - 0.01) & (ccl["test_acc"] >= v_acc)]
        if len(free):
            lines.append("- **Privacy at no cost in accuracy:** " + ", ".join(
                f"{r.defense.upper()} at alpha = {r.alpha:g} ({pct(r.test_acc)} accuracy, {pct(r.max_advantage)} "
                "highest advantage)" for r in free.itertuples()) + " beat cross-entropy on both counts.")
        else:
            lines.append(
                "- **No free lunch here:** no CCL setting lowers the highest advantage by more than a point without "
                f"also lowering test accuracy below cross-entropy's {pct(v_acc)}. The privacy gains of this run are "
                "the accuracy-for-privacy end of the trade-off (the paper's panels (a) and (b) show the same end); "
                "chapter 7 asks whether that trade is better than the other defenses'."
            )
    return "\n".join(lines)


def findings_figure5(conv, tol: float = 0.01) -> str:
    """Chapter 6's "What we saw" (Fig. 5) from :func:`convergence_table` (first row: cross-entropy)."""
    ce, others = conv.iloc[0], conv.iloc[1:]
    lag = (others["epoch_within_tol"] - ce["epoch_within_tol"]).astype(int)
    fitted = conv["final_train_acc"].min()
    lines = [
        f"- **A stable state.** The lowest final training accuracy of the three runs is {pct(fitted)}; final training "
        f"cross-entropy ranges from {conv['final_train_loss'].min():.4f} to {conv['final_train_loss'].max():.4f}. "
        + ("CCL converges like cross-entropy, as the paper reports." if fitted >= 0.98 * conv['final_train_acc'].max()
           else "CCL has not fitted its training set as far as cross-entropy has at this epoch count."),
        f"- **Speed.** Test accuracy first comes within {tol:g} of its final value at epoch "
        f"{int(ce['epoch_within_tol'])} "
        f"for {conv.index[0]}, "
        + ", ".join(f"{int(r['epoch_within_tol'])} for {k}" for k, r in others.iterrows())
        + f" (of {int(ce['epochs'])}): "
        + ("CCL is not slower, as in the paper, which reports no significantly longer training."
           if lag.max() <= 0 else
           f"CCL settles up to {int(lag.max())} epochs later, "
           + ("a small delay, in line with the paper's \"no significantly longer training\"."
              if lag.max() <= 0.1 * int(ce["epochs"]) else
              "a visible delay; the paper reports no significantly longer training. Its early gradients are only "
              "about alpha times cross-entropy's while p_y is small (Eq. 11), and a short run shows that start.")),
        f"- **Accuracy.** Final test accuracy: {conv.index[0]} {pct(ce['final_test_acc'])}, "
        + ", ".join(f"{k} {pct(r['final_test_acc'])}" for k, r in others.iterrows()) + ".",
    ]
    return "\n".join(lines)


def _winners(best, attacks: Sequence[str]) -> tuple[list[str], list[str]]:
    if len(best) == 0:
        return [], []
    win = best.loc[best.groupby("attack")["advantage"].idxmin()].set_index("attack")
    ccl = [a for a in attacks if a in win.index and win.loc[a, "defense"] in ("ccel", "ccql")]
    return ccl, sorted(set(win["defense"]) - {"ccel", "ccql"})


def findings_figure23(df, best, loose=None, ranking=None) -> str:
    """Chapter 7's "What we saw" (Fig. 2/3).

    Args:
        df: the sweep frame.
        best: :func:`best_at_utility` with the paper's rule (accuracy >= the undefended model's).
        loose: the same with a tolerance (optional).
        ranking: :func:`best_p1` (optional).
    """
    from .paper_results import LOSS_ATTACK_CIFAR10 as q, relative_reduction

    van = df[df["defense"] == "vanilla"].groupby("attack", sort=False)[["advantage", "test_acc"]].mean()
    attacks = list(van.index)
    lines = [f"- The undefended model reaches {pct(van['test_acc'].mean())} test accuracy; its attacks reach "
             f"advantages from {pct(van['advantage'].min())} ({van['advantage'].idxmin()}) to "
             f"{pct(van['advantage'].max())} ({van['advantage'].idxmax()})."]
    for name, b in (("at least as accurate as", best), ("within the tolerance of", loose)):
        if b is None:
            continue
        head = (f"- **Settings {name} the undefended model** "
                f"(test accuracy >= {pct(b.attrs.get('min_acc', math.nan))}): ")
        if len(b) == 0:
            lines.append(head + "none, so there is nothing to compare.")
            continue
        ccl_wins, others = _winners(b, attacks)
        qualified = sorted(set(b["defense"]))
        lines.append(
            head + f"{', '.join(qualified)} {'qualifies' if len(qualified) == 1 else 'qualify'}; "
            f"a CCL variant has the lowest advantage for {len(ccl_wins)} of "
            f"{len(attacks)} attacks" + (f" ({', '.join(ccl_wins)})" if ccl_wins else "")
            + (f"; the lowest for the others: {', '.join(others)}" if others else "") + "."
        )
    lines.append("- **The paper** finds, right of the dotted line, the CCL curves lowest for every attack on CIFAR-10 "
                 "and CIFAR-100.")
    lb = best[best["attack"] == "loss"].set_index("defense")["advantage"] if len(best) else None
    if lb is not None and len(lb):
        c = lb.reindex(["ccel", "ccql"]).dropna()
        o = lb.drop(["ccel", "ccql"], errors="ignore")
        lines.append(
            "- **The loss attack** under the paper's rule: "
            + (f"CCL {pct(c.min())} ({c.idxmin().upper()})" if len(c) else "no CCL setting qualifies")
            + (f", the best baseline {pct(o.min())} ({o.idxmin()})" if len(o) else "")
            + f", undefended {pct(van.loc['loss', 'advantage']) if 'loss' in van.index else 'n/a'}."
        )
    lines.append(
        f"- The paper's example (CIFAR-10, ResNet-34): CCQL {pct(q['ccql_advantage'], 2)} against "
        f"{pct(q['baseline_advantage'], 2)} for {q['baseline']} on the loss attack, a relative reduction of "
        f"{pct(relative_reduction(q['baseline_advantage'], q['ccql_advantage']))} (the paper's \"62.01 %\" is the "
        "ratio of the two advantages)."
    )
    if ranking is not None and len(ranking):
        defended = ranking[ranking["defense"] != "vanilla"]
        ranks = {d: i + 1 for i, d in enumerate(defended["defense"])}
        top = defended.iloc[0]
        ccl = [f"{d.upper()} #{ranks[d]} (P1 {ranking.set_index('defense').loc[d, 'p1']:.3f})"
               for d in ("ccel", "ccql") if d in ranks]
        lines.append(
            f"- **One number per curve** (the best P1 of each defense over its settings): {top['defense']} leads with "
            f"{top['p1']:.3f} ({top['point']}, {pct(top['test_acc'])} accuracy, {pct(top['max_advantage'])} highest "
            f"advantage); " + (", ".join(ccl) if ccl else "no CCL run") + f" of {len(defended)} defenses"
            + (f"; the undefended model has {ranking.set_index('defense').loc['vanilla', 'p1']:.3f}"
               if (ranking["defense"] == "vanilla").any() else "")
            + "."
        )
    return "\n".join(lines)


def _signed(x: float, digits: int = 3) -> str:
    """``+0.012``, ``-0.006``; a value that rounds to zero is ``0.000`` (no sign)."""
    text = f"{x:+.{digits}f}"
    return text[1:] if float(text) == 0 else text


def findings_table1(p1, paper) -> str:
    """Chapter 8's "What we saw" (Table 1): the change of P1 over the undefended model, here and in the paper."""
    from .paper_results import DATASET_NAMES, paper_dataset_name

    rows = [m for m in ("CCQL", "CCEL") if m in p1.index]
    ours = (p1.loc[rows] - p1.loc["w/o"]).stack()
    theirs = (paper.loc[["CCQL", "CCEL"]] - paper.loc["w/o"]).stack()
    shared = [d for d in p1.columns if d in DATASET_NAMES.values()]
    lines = [
        f"- **Direction.** CCL raises P1 over the undefended model in {int((ours > 0).sum())} of {len(ours)} "
        f"(method, data set) pairs here, and in {int((theirs > 0).sum())} of {len(theirs)} in the paper.",
        f"- **Size.** The change ranges from {_signed(ours.min())} to {_signed(ours.max())} here; in the paper from "
        f"{_signed(theirs.min())} to {_signed(theirs.max())} (median {_signed(theirs.median())}).",
        "- **Comparability.** "
        + (f"{', '.join(shared)} {'is' if len(shared) == 1 else 'are'} in the paper's table and compare directly; "
           if shared else "None of these data sets is in the paper's table, so only the direction and size of "
           "the change compare. ")
        + "P1 takes the highest advantage over all attacks, so it moves only if CCL lowers the *strongest* attack.",
    ]
    for d in shared:
        col = paper_dataset_name(d)
        pairs = ", ".join(f"{m} {p1.loc[m, d]:.3f} vs {paper.loc[m, col]:.3f}" for m in p1.index if m in paper.index)
        lines.append(f"- **{d}** (here vs the paper): {pairs}.")
    seeds = p1.attrs.get("seeds")
    if seeds == 1:
        lines.append("- **One seed.** These are single runs without error bars; rerun with `-p seeds \"[0, 1, 2]\"` "
                     "to see how far P1 moves between seeds before reading small differences.")
    return "\n".join(lines)


def findings_appendix_d(bars, choice: Mapping[str, Any], alphas: Sequence[float], df=None) -> str:
    """Chapter 9's "What we saw" (App. D, Fig. 6): ``bars`` has one row per attack and the
    columns ``focal`` and ``focal_ccl`` (advantages); ``choice`` is :func:`pick_alpha`'s result.
    With the sweep frame ``df``, a last line names the alpha with the lowest highest-advantage."""
    atk = bars.drop(index="test accuracy", errors="ignore")
    lower = atk.index[atk["focal_ccl"] < atk["focal"]].tolist()
    if choice["qualified"]:
        first = (f"- **The choice of alpha.** alpha = {choice['alpha']:g} has the lowest highest-advantage among the "
                 f"values that keep focal loss's accuracy ({pct(choice['test_acc'])} vs "
                 f"{pct(choice['reference_acc'])}).")
    else:
        first = (f"- **The choice of alpha.** No alpha of {list(alphas)} keeps focal loss's accuracy "
                 f"({pct(choice['reference_acc'])}), so the paper's rule selects nothing; the comparison below uses "
                 f"the most accurate one, alpha = {choice['alpha']:g} ({pct(choice['test_acc'])} accuracy).")
    if len(lower) == len(atk):
        verdict = ("This agrees with the paper's Figure 6 (CIFAR-10), where the advantage is lower for all "
                   "eight attacks.")
    elif not lower:
        verdict = ("This is the opposite of the paper's Figure 6 (CIFAR-10), where the advantage is lower for all "
                   "eight attacks.")
    else:
        verdict = "The paper's Figure 6 (CIFAR-10) shows a lower advantage for all eight of its attacks."
    second = (f"- **Attacks.** With the concave term the advantage is lower for {len(lower)} of {len(atk)} attacks"
              + (f" ({', '.join(lower)})" if 0 < len(lower) < len(atk) else "")
              + f"; the highest advantage goes from {pct(atk['focal'].max())} to {pct(atk['focal_ccl'].max())}. "
              + verdict)
    lines = [first, second]
    if df is not None:
        r = _runs(df)
        g = r[r["defense"] == "focal_ccl"].groupby("alpha")[["test_acc", "max_advantage"]].mean()
        ref = r[r["defense"] == "focal"][["test_acc", "max_advantage"]].mean()
        if len(g):
            a = g["max_advantage"].idxmin()
            lines.append(
                f"- **Across the grid**, the lowest highest-advantage is {pct(g.loc[a, 'max_advantage'])} "
                f"at alpha = {a:g} "
                f"(focal loss: {pct(ref['max_advantage'])}), with {pct(g.loc[a, 'test_acc'])} test accuracy against "
                f"focal loss's {pct(ref['test_acc'])}"
                + (": here too the concave term buys privacy with accuracy." if g.loc[a, "test_acc"] < ref["test_acc"]
                   and g.loc[a, "max_advantage"] < ref["max_advantage"] else ".")
            )
    return "\n".join(lines)
