"""Training curves over seeds: the analyses behind Fig. 1 and Fig. 5 of Liu et al. (ICML 2024).

Fig. 1 (Sec. 3.1) plots, per epoch, the mean and the variance of the training
losses of a cross-entropy and a focal-loss model; Fig. 5 (Sec. 5.2,
"Convergence analysis") the training loss and the test accuracy of CE, CCEL
and CCQL.  The paper draws one run per loss.  Here every curve is the mean over
seeds with a 95 % t-interval per epoch (:func:`ccl_lib.verdicts.seed_interval`),
and every comparison the book words as a verdict is an interval over seeds,
paired by seed (the same data split per seed, :func:`ccl_lib.splits.make_splits`):

* :func:`history_of` -- one run's per-epoch history (with the relative variance).
* :func:`seed_curves` -- per-epoch mean and interval of history columns over seeds.
* :func:`final_values` -- one value per seed at the last (or a given) epoch.
* :func:`paired_difference` -- the interval of ``a - b`` at the last epoch,
  paired by seed, optionally of ``log10`` values (a ratio of variances).
* :func:`epochs_below` -- in how many epochs one mean curve lies below another.
* :func:`convergence_epoch` / :func:`convergence_table` / :func:`convergence_lags`
  -- Fig. 5: the first epoch whose test accuracy is within ``tol`` of the
  run's final value, and how much later a loss gets there than cross-entropy.
* :func:`epoch_table` -- mean curves every few epochs, one block per setting (the curves of
  :func:`ccl_lib.analysis.arms.setting_arms`).

The chapters' findings and scorecard rows are in :mod:`ccl_lib.analysis.figure1` (chapter 4) and
:mod:`ccl_lib.analysis.convergence` (chapter 6).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..verdicts import SeedInterval, difference_interval, seed_interval

__all__ = [
    "DERIVED_COLUMNS",
    "convergence_epoch",
    "convergence_lags",
    "convergence_table",
    "epoch_table",
    "epochs_below",
    "final_values",
    "history_of",
    "paired_difference",
    "seed_curves",
]

#: Columns computed from a history rather than stored in it.  ``train_loss_rel_var``
#: is the variance of the per-example training losses divided by their squared mean
#: (the squared coefficient of variation): Theorem 3.1 compares variances at a fixed
#: mean, and this ratio does not grow with the size of the losses.
DERIVED_COLUMNS: dict[str, Callable[[Any], Any]] = {
    "train_loss_rel_var": lambda f: f["train_loss_var"] / f["train_loss_mean"] ** 2,
}


def history_of(run: Any, role: str = "target"):
    """The per-epoch history of one run as a ``DataFrame``, with :data:`DERIVED_COLUMNS` added.

    ``run`` is a :class:`ccl_lib.experiments.RunResult` (its ``role`` model,
    ``"target"`` or ``"shadow"``), a ``DataFrame`` or a list of per-epoch dicts
    of :func:`ccl_lib.train.fit`.
    """
    import pandas as pd

    if hasattr(run, "history_frame") and hasattr(run, "histories"):
        f = run.history_frame(role)
    elif isinstance(run, pd.DataFrame):
        f = run.copy()
    elif isinstance(run, (list, tuple)) and run and all(isinstance(r, Mapping) for r in run):
        f = pd.DataFrame(list(run))
    else:
        raise TypeError(
            "a history must be a RunResult, a DataFrame or a non-empty list of per-epoch dicts, "
            f"got {type(run).__name__}"
        )
    if "epoch" not in f.columns or len(f) == 0:
        raise ValueError(f"a history needs an 'epoch' column and at least one epoch; it has {list(f.columns)}")
    for name, fn in DERIVED_COLUMNS.items():
        try:
            f[name] = fn(f)
        except KeyError:  # the history lacks an input column: leave the derived one out
            pass
    return f.sort_values("epoch").reset_index(drop=True)


def _runs(runs: Any, what: str) -> list:
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or len(runs) == 0:
        raise ValueError(f"{what} must be a non-empty list of runs (one per seed), got {runs!r}")
    return list(runs)


def _seed(run: Any, i: int) -> int:
    spec = getattr(run, "spec", None)
    return int(spec.seed) if spec is not None else i


def _check_columns(frames: Sequence[Any], columns: Sequence[str]) -> None:
    for f in frames:
        missing = [c for c in columns if c not in f.columns]
        if missing:
            raise ValueError(f"history lacks columns {missing}; it has {list(f.columns)}")


def seed_curves(
    runs: Sequence[Any],
    columns: Sequence[str] = ("train_loss_mean", "train_loss_var", "test_acc"),
    *,
    role: str = "target",
    level: float = 0.95,
):
    """Per-epoch mean over seeds with a t-interval, for each of ``columns`` (Fig. 1, Fig. 5).

    Args:
        runs: the runs of one setting, one per seed (RunResults, DataFrames or
            per-epoch dict lists).
        columns: history columns of :func:`ccl_lib.train.fit` or :data:`DERIVED_COLUMNS`.
        role: ``"target"`` or ``"shadow"`` model of a RunResult.
        level: confidence level of the interval.

    Returns:
        a frame with ``epoch``, for every column ``c``: ``c`` (the mean), ``c_low``
        and ``c_high`` (NaN with one seed), and ``n`` (seeds at that epoch).
    """
    import pandas as pd

    frames = [history_of(r, role) for r in _runs(runs, "runs")]
    columns = list(columns)
    if not columns:
        raise ValueError("columns must name at least one history column")
    _check_columns(frames, columns)
    long = pd.concat(frames, ignore_index=True)
    rows = []
    for epoch, g in long.groupby("epoch", sort=True):
        row: dict[str, Any] = {"epoch": int(epoch), "n": int(len(g))}
        for c in columns:
            iv = seed_interval(g[c].to_numpy(float), level=level)
            row.update({c: iv.mean, f"{c}_low": iv.low, f"{c}_high": iv.high})
        rows.append(row)
    return pd.DataFrame(rows)


def final_values(
    runs: Sequence[Any], column: str, *, epoch: Optional[int] = None, role: str = "target"
) -> dict[int, float]:
    """``{seed: value}`` of one history column at the last epoch (or at ``epoch``) of each run.

    Args:
        runs: the runs of one setting, one per seed (RunResults, DataFrames or per-epoch dict lists;
            without a spec, a run's position in the list stands for its seed).
        column: a history column (or one of :data:`DERIVED_COLUMNS`).
        epoch: the epoch to read (default: each run's last).
        role: ``"target"`` or ``"shadow"`` model of a RunResult.
    """
    out: dict[int, float] = {}
    for i, r in enumerate(_runs(runs, "runs")):
        f = history_of(r, role)
        _check_columns([f], [column])
        if epoch is None:
            v = f[column].iloc[-1]
        else:
            hit = f[f["epoch"] == epoch]
            if len(hit) == 0:
                raise ValueError(
                    f"epoch {epoch} is not in the history (epochs {int(f['epoch'].min())}..{int(f['epoch'].max())})"
                )
            v = hit[column].iloc[0]
        out[_seed(r, i)] = float(v)
    return out


def paired_difference(
    runs_a: Sequence[Any],
    runs_b: Sequence[Any],
    column: str,
    *,
    log10: bool = False,
    epoch: Optional[int] = None,
    level: float = 0.95,
) -> SeedInterval:
    """Interval over seeds of ``a - b`` for one history column at the last epoch, paired by seed.

    With ``log10=True`` the difference of ``log10`` values, i.e. the log of the ratio
    ``a / b`` (``-1``: ``a`` is a tenth of ``b``) -- the scale on which variances
    that span orders of magnitude are compared.  Only seeds present in both arms
    are used (:func:`ccl_lib.verdicts.difference_interval`).

    Args:
        runs_a, runs_b: the two arms' runs, one per seed.
        column: the history column compared.
        log10: compare ``log10`` values (needs positive values).
        epoch: the epoch compared (default: the last).
        level: confidence level of the interval.
    """
    va, vb = final_values(runs_a, column, epoch=epoch), final_values(runs_b, column, epoch=epoch)
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        raise ValueError(f"the two arms share no seed (a: {sorted(va)}, b: {sorted(vb)})")
    a = np.array([va[s] for s in seeds])
    b = np.array([vb[s] for s in seeds])
    if log10:
        if np.any(a <= 0) or np.any(b <= 0):
            raise ValueError(f"log10 needs positive values of {column!r}, got {a.tolist()} and {b.tolist()}")
        a, b = np.log10(a), np.log10(b)
    return difference_interval(a.tolist(), b.tolist(), paired=True, level=level)


def epochs_below(curve_a: Any, curve_b: Any, column: str) -> dict[str, Any]:
    """Epochs in which the mean curve ``a`` lies below ``b`` (frames of :func:`seed_curves`).

    Args:
        curve_a, curve_b: frames of :func:`seed_curves`.
        column: the column compared (the mean curve).

    Returns ``{"epochs": common epochs, "below": how many, "below_epochs": [...]}``.
    """
    for name, f in (("a", curve_a), ("b", curve_b)):
        if column not in getattr(f, "columns", ()) or "epoch" not in f.columns:
            raise ValueError(f"curve {name} lacks column {column!r} (is it a frame of seed_curves?)")
    m = curve_a[["epoch", column]].merge(curve_b[["epoch", column]], on="epoch", suffixes=("_a", "_b"))
    if len(m) == 0:
        raise ValueError("the two curves share no epoch")
    below = m[f"{column}_a"].to_numpy(float) < m[f"{column}_b"].to_numpy(float)
    return {"epochs": int(len(m)), "below": int(below.sum()), "below_epochs": [int(e) for e in m["epoch"][below]]}


def _check_tol(tol: float) -> float:
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0.0 <= float(tol) < 1.0:
        raise ValueError(f"tol must be a number in [0, 1) (an accuracy difference, e.g. 0.01), got {tol!r}")
    return float(tol)


def convergence_epoch(run: Any, tol: float = 0.01, *, column: str = "test_acc", role: str = "target") -> int:
    """Fig. 5: the first epoch whose ``column`` (test accuracy) is within ``tol`` of the run's final value.

    Once test accuracy stays at its final level, training has converged in the
    sense of the paper's Fig. 5 ("no significantly longer training time ... to
    reach convergence"); this is the epoch it first gets there.

    Args:
        run: one run (RunResult, DataFrame or per-epoch dict list).
        tol: the tolerance in [0, 1) (an accuracy difference: 0.01 is one point).
        column: the history column (test accuracy by default).
        role: ``"target"`` or ``"shadow"`` model of a RunResult.
    """
    tol = _check_tol(tol)
    f = history_of(run, role)
    _check_columns([f], [column])
    v = f[column].to_numpy(float)
    within = np.flatnonzero(v >= v[-1] - tol)
    return int(f["epoch"].iloc[within[0]])


def convergence_table(groups: Mapping[str, Sequence[Any]], tol: float = 0.01, *, level: float = 0.95):
    """Fig. 5's numbers per loss: mean over seeds with 95 % intervals.

    Args:
        groups: ``{label: runs of that loss, one per seed}`` (first: the reference, CE).
        tol: see :func:`convergence_epoch`.
        level: confidence level of the intervals.

    Returns:
        one row per label with ``final_test_acc``, ``best_test_acc``,
        ``epoch_within_tol``, ``final_train_loss`` (mean per-example CE on the
        training set), ``final_train_acc`` -- each as ``<name>`` (mean),
        ``<name>_low``, ``<name>_high`` -- plus ``seeds`` and ``epochs``.
    """
    import pandas as pd

    tol = _check_tol(tol)
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError("groups must be a non-empty dict {label: runs}")
    rows = []
    for label, runs in groups.items():
        frames = [history_of(r) for r in _runs(runs, f"groups[{label!r}]")]
        _check_columns(frames, ["test_acc", "train_loss_mean", "train_acc"])
        per = {
            "final_test_acc": [float(f["test_acc"].iloc[-1]) for f in frames],
            "best_test_acc": [float(f["test_acc"].max()) for f in frames],
            "epoch_within_tol": [float(convergence_epoch(f, tol)) for f in frames],
            "final_train_loss": [float(f["train_loss_mean"].iloc[-1]) for f in frames],
            "final_train_acc": [float(f["train_acc"].iloc[-1]) for f in frames],
        }
        row: dict[str, Any] = {"run": label}
        for k, vals in per.items():
            iv = seed_interval(vals, level=level)
            row.update({k: iv.mean, f"{k}_low": iv.low, f"{k}_high": iv.high})
        row["seeds"] = len(frames)
        row["epochs"] = int(max(len(f) for f in frames))
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def convergence_lags(
    groups: Mapping[str, Sequence[Any]], reference: Optional[str] = None, tol: float = 0.01, *, level: float = 0.95
) -> dict[str, SeedInterval]:
    """``{label: interval of (convergence epoch of label - that of the reference)}``, paired by seed.

    Positive: the loss settles later than the reference (cross-entropy, the first
    label by default).  The paper's Fig. 5 claims no significantly longer training.

    Args:
        groups: ``{label: runs of that loss, one per seed}``.
        reference: the label the others are compared with (default: the first).
        tol: see :func:`convergence_epoch`.
        level: confidence level of the intervals.
    """
    tol = _check_tol(tol)
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise ValueError("groups must be a dict {label: runs} with the reference and at least one other loss")
    ref = next(iter(groups)) if reference is None else reference
    if ref not in groups:
        raise ValueError(f"reference {ref!r} is not among the labels {list(groups)}")

    def epochs(runs: Sequence[Any]) -> dict[int, float]:
        return {_seed(r, i): float(convergence_epoch(r, tol)) for i, r in enumerate(_runs(runs, "runs"))}

    base = epochs(groups[ref])
    out = {}
    for label, runs in groups.items():
        if label == ref:
            continue
        e = epochs(runs)
        seeds = sorted(set(e) & set(base))
        if not seeds:
            raise ValueError(f"{label!r} and the reference {ref!r} share no seed")
        out[label] = difference_interval([e[s] for s in seeds], [base[s] for s in seeds], paired=True, level=level)
    return out


# ----------------------------------------------------------------- chapters 4 and 6: the curves as a table
def epoch_table(curves: Mapping[str, Mapping[str, Any]], columns: Mapping[str, str], *, rows: int = 6):
    """The mean curves every few epochs and at the last: one block of rows per setting, one column per
    (arm, quantity).

    Args:
        curves: ``{setting: {label: seed_curves frame}}`` (the second value of
            :func:`ccl_lib.analysis.arms.setting_arms`).
        columns: ``{history column: heading}`` (e.g. :data:`FIGURE1_TABLE`).
        rows: about how many epochs to show per setting (every ``len // rows``-th epoch, and the last).
    """
    import pandas as pd

    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    tables = []
    for name, c in curves.items():
        t = pd.concat({label: f.set_index("epoch")[list(columns)].rename(columns=dict(columns))
                       for label, f in c.items()}, axis=1)  # fmt: skip
        every = max(1, len(t) // rows)
        keep = [e for i, e in enumerate(t.index) if i % every == 0 or e == t.index.max()]
        tables.append(pd.concat({name: t.loc[keep]}, names=["setting"]))
    return pd.concat(tables)
