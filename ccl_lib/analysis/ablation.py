"""The alpha ablation over seeds: the analysis behind Fig. 4 of Liu et al. (ICML 2024).

Fig. 4 (Sec. 5.2, "How does alpha affect utility and privacy?") varies the
weight alpha of cross-entropy in the Convex-Concave Loss (Eq. 4) and reports
(a) test accuracy, (b) the highest attack advantage and (c) the variance of the
training losses; the paper's reading: as alpha decreases, the variance rises,
the advantage falls and, for small alpha, accuracy drops (underfitting).

The paper shows one run per alpha.  Here every point is a mean over seeds with
a 95 % t-interval, and each of the paper's three directions is tested by the
**slope** of the quantity against alpha, fitted by least squares per seed
(one slope per seed over the whole alpha grid), with the t-interval of those
slopes (:func:`ccl_lib.verdicts.seed_interval`) and the verdict word the
interval supports (:func:`ccl_lib.verdicts.verdict`).  This replaces a rank
correlation over five points of one seed, which cannot tell a trend from the
seed-to-seed noise.

* :func:`alpha_runs` -- one row per run: alpha, seed, accuracy, the headline
  highest advantage (the attacker's own rule, over the paper's attacks), its
  oracle upper bound, and the training-loss variance (last epoch, mean over
  epochs, relative to the squared mean).
* :func:`alpha_summary` -- per defense and alpha: mean and interval of each quantity
  (geometric mean for the variances, which span decades).
* :func:`alpha_slopes` -- per defense: the interval of the per-seed slope.
* :func:`against_reference` -- per defense and alpha: the paired difference
  from the undefended model (e.g. "is CCL's variance higher than CE's?").
* chapter 5's findings: :func:`direction_tests` (the three directions' verdicts and table),
  :func:`variance_against_ce`, :func:`alpha_findings` (what the chapter's prose states, by name)
  and :func:`alpha_scorecard_rows`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..verdicts import SeedInterval, difference_interval, seed_interval

__all__ = [
    "ALPHA_QUANTITIES",
    "DIRECTION_CAUSES",
    "DIRECTION_TESTS",
    "LOG_QUANTITIES",
    "PAPER_DIRECTIONS",
    "against_reference",
    "alpha_findings",
    "alpha_runs",
    "alpha_scorecard_rows",
    "alpha_slopes",
    "alpha_summary",
    "direction_tests",
    "variance_against_ce",
]

#: The per-run quantities of :func:`alpha_runs` and what they are.
ALPHA_QUANTITIES: dict[str, str] = {
    "test_acc": "test accuracy of the target model",
    "train_acc": "training accuracy of the target model",
    "max_advantage": "highest advantage over the paper's attacks, attacker's rule learned on the shadow (Eq. 2)",
    "max_advantage_oracle": "highest advantage with the threshold chosen on the target (an upper bound)",
    "train_loss_var": "variance of the per-example training cross-entropy at the last epoch",
    "train_loss_var_avg": "that variance averaged over all epochs of training",
    "train_loss_rel_var": "last-epoch variance divided by the squared mean (scale-free)",
}

#: The sign of the slope against alpha that the paper's Fig. 4 describes (Sec. 5.2):
#: ``"higher"`` -- the quantity rises with alpha, ``"lower"`` -- it falls as alpha rises.
PAPER_DIRECTIONS: dict[str, str] = {
    "test_acc": "higher",
    "max_advantage": "higher",
    "train_loss_var": "lower",
}


def _check_frame(df: Any) -> Any:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"need the DataFrame of ccl_lib.experiments.run_grid, got {type(df).__name__}")
    needed = ["key", "run_id", "defense", "seed", "attack", "advantage", "test_acc", "train_acc", "train_loss_mean",
              "train_loss_var"]  # fmt: skip
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks columns {missing} (is it the frame of run_grid?)")
    if len(df) == 0:
        raise ValueError("the result frame is empty")
    return df


def alpha_runs(
    df,
    runs: Optional[Mapping[str, Any]] = None,
    *,
    defenses: Sequence[str] = ("ccel", "ccql"),
    reference: str = "vanilla",
):
    """One row per run of ``defenses`` and of the ``reference`` (undefended) model.

    Args:
        df: the frame of :func:`ccl_lib.experiments.run_grid` (one row per run and attack).
        runs: ``{key: RunResult}``; adds ``train_loss_var_avg`` (the variance
            averaged over the epochs of the target's training history).
        defenses: the CCL variants (rows need an ``alpha`` column).
        reference: the undefended defense; its rows get ``alpha = 1`` (CCL with
            alpha = 1 is cross-entropy, Eq. 4).

    The headline advantage is ``max_advantage``: the highest, over the paper's
    attacks (rows with ``paper_attack``; all attacks when the frame has no such
    column), of ``advantage`` -- TPR - FPR of the attacker's own rule learned on
    the shadow model.  ``max_advantage_oracle`` is the same maximum of
    ``advantage_oracle`` (thresholds chosen on the target: an upper bound), NaN
    when the frame has none.  ``worst_attack`` is the attack reaching ``max_advantage``.
    """
    import pandas as pd

    df = _check_frame(df)
    keep = df[df["defense"].isin([*defenses, reference])]
    if len(keep) == 0:
        raise ValueError(f"no run of {list(defenses)} or {reference!r}; the frame has {sorted(set(df['defense']))}")
    if keep["defense"].isin(defenses).any() and "alpha" not in keep.columns:
        raise ValueError("the frame has no 'alpha' column: it holds no CCL run")
    if "paper_attack" in keep.columns:
        keep = keep[keep["paper_attack"].astype(bool)]
        if len(keep) == 0:
            raise ValueError("no row of the paper's attacks (paper_attack is False everywhere)")
    rows = []
    for run_id, g in keep.groupby("run_id", sort=False):
        top = g.loc[g["advantage"].idxmax()]
        d = str(top["defense"])
        rows.append({
            "key": top["key"],
            "run_id": run_id,
            "defense": d,
            "alpha": 1.0 if d == reference else float(top["alpha"]),
            "seed": int(top["seed"]),
            "test_acc": float(top["test_acc"]),
            "train_acc": float(top["train_acc"]),
            "max_advantage": float(g["advantage"].max()),
            "max_advantage_oracle": float(g["advantage_oracle"].max()) if "advantage_oracle" in g else math.nan,
            "worst_attack": str(top["attack"]),
            "train_loss_var": float(top["train_loss_var"]),
            "train_loss_rel_var": float(top["train_loss_var"]) / float(top["train_loss_mean"]) ** 2,
        })  # fmt: skip
    out = pd.DataFrame(rows)
    if runs is not None:
        avg = {k: float(np.mean([h["train_loss_var"] for h in r.histories["target"]])) for k, r in runs.items()}
        out["train_loss_var_avg"] = out["key"].map(avg)
    return out


def _quantities(per_run: Any, columns: Optional[Sequence[str]]) -> list[str]:
    cols = [c for c in ALPHA_QUANTITIES if c in per_run.columns] if columns is None else list(columns)
    missing = [c for c in cols if c not in per_run.columns]
    if missing or not cols:
        raise ValueError(
            f"columns {missing or cols} are not in the table of alpha_runs; it has {list(per_run.columns)}"
        )
    return cols


#: Quantities that span decades: :func:`alpha_summary` averages them on a log scale by default.
LOG_QUANTITIES: tuple[str, ...] = ("train_loss_var", "train_loss_var_avg", "train_loss_rel_var")


def alpha_summary(
    per_run,
    columns: Optional[Sequence[str]] = None,
    *,
    log10: Sequence[str] = LOG_QUANTITIES,
    level: float = 0.95,
):
    """Per defense and alpha: ``<c>`` (mean over seeds), ``<c>_low``, ``<c>_high`` for each column, and ``seeds``.

    Args:
        per_run: the table of :func:`alpha_runs`.
        columns: the quantities (default: every one of :data:`ALPHA_QUANTITIES` in the table).
        log10: columns summarized on a log scale: the geometric mean over seeds, and the
            t-interval of the ``log10`` values transformed back (always positive, and the
            scale of the slope test of :func:`alpha_slopes` with ``log10=True``).
        level: confidence level.

    ``worst_attack`` is the attack most often the strongest over the seeds.
    """
    import pandas as pd

    cols = _quantities(per_run, columns)
    rows = []
    for (d, a), g in per_run.groupby(["defense", "alpha"], sort=True):
        row: dict[str, Any] = {"defense": d, "alpha": float(a)}
        for c in cols:
            vals = g[c].to_numpy(float)
            vals = vals[np.isfinite(vals)]
            log = c in log10
            if log:
                if np.any(vals <= 0):
                    raise ValueError(f"{c!r} has values <= 0; leave it out of log10 to average it linearly")
                vals = np.log10(vals)
            iv = seed_interval(vals, level=level) if len(vals) else SeedInterval(math.nan, math.nan, math.nan, 0)
            m, lo, hi = (10**iv.mean, 10**iv.low, 10**iv.high) if log else (iv.mean, iv.low, iv.high)
            row.update({c: m, f"{c}_low": lo, f"{c}_high": hi})
        if "worst_attack" in g:
            row["worst_attack"] = g["worst_attack"].mode().iloc[0]
        row["seeds"] = int(g["seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    xc = x - x.mean()
    return float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))


def alpha_slopes(
    per_run,
    column: str,
    *,
    defenses: Optional[Sequence[str]] = None,
    log10: bool = False,
    level: float = 0.95,
) -> dict[str, SeedInterval]:
    """``{defense: interval of the per-seed least-squares slope of column against alpha}``.

    For each defense and seed the slope of ``column`` (``log10(column)`` with
    ``log10=True``, for variances that span decades) over that seed's alpha grid
    (the reference model at alpha = 1 excluded); the interval is the t-interval
    over seeds.  A seed needs at least two values of alpha; seeds with fewer are
    skipped.  Positive: the quantity rises with alpha.

    Args:
        per_run: the table of :func:`alpha_runs`.
        column: the quantity (e.g. ``"test_acc"``, ``"max_advantage"``, ``"train_loss_var"``).
        defenses: the variants (default: every defense with alpha < 1, i.e. not the reference).
        log10: fit the slope of ``log10(column)`` (decades per unit of alpha).
        level: confidence level of the interval.
    """
    if column not in per_run.columns:
        raise ValueError(f"column {column!r} is not in the table of alpha_runs; it has {list(per_run.columns)}")
    ccl = per_run[per_run["alpha"] < 1.0] if defenses is None else per_run[per_run["defense"].isin(defenses)]
    names = list(dict.fromkeys(ccl["defense"])) if defenses is None else list(defenses)
    out = {}
    for d in names:
        slopes = []
        for _, g in ccl[ccl["defense"] == d].groupby("seed", sort=True):
            x, y = g["alpha"].to_numpy(float), g[column].to_numpy(float)
            if np.unique(x).size < 2:
                continue
            if log10:
                if np.any(y <= 0):
                    raise ValueError(f"log10 needs positive values of {column!r}, got {y.tolist()}")
                y = np.log10(y)
            slopes.append(_slope(x, y))
        if not slopes:
            raise ValueError(f"defense {d!r}: no seed has two or more values of alpha")
        out[d] = seed_interval(slopes, level=level)
    return out


def against_reference(
    per_run,
    column: str,
    *,
    reference: str = "vanilla",
    log10: bool = False,
    level: float = 0.95,
):
    """Per CCL defense and alpha: the interval of ``column - column(reference)``, paired by seed.

    With ``log10=True`` the difference of ``log10`` values (the log of the ratio
    to the undefended model).  Returns a frame with ``defense``, ``alpha``,
    ``diff``, ``diff_low``, ``diff_high``, ``seeds`` and ``interval`` (the
    :class:`ccl_lib.verdicts.SeedInterval`, for :func:`ccl_lib.verdicts.verdict`).

    Args:
        per_run: the table of :func:`alpha_runs`.
        column: the quantity compared.
        reference: the undefended defense (its runs, one per seed).
        log10: compare ``log10`` values.
        level: confidence level of the intervals.
    """
    import pandas as pd

    if column not in per_run.columns:
        raise ValueError(f"column {column!r} is not in the table of alpha_runs; it has {list(per_run.columns)}")
    ref = per_run[per_run["defense"] == reference].set_index("seed")[column]
    if len(ref) == 0:
        raise ValueError(f"the table has no run of the reference {reference!r}")
    rows = []
    for (d, a), g in per_run[per_run["defense"] != reference].groupby(["defense", "alpha"], sort=True):
        g = g.set_index("seed")
        seeds = sorted(set(g.index) & set(ref.index))
        if not seeds:
            continue
        va, vb = g.loc[seeds, column].to_numpy(float), ref.loc[seeds].to_numpy(float)
        if log10:
            va, vb = np.log10(va), np.log10(vb)
        iv = difference_interval(va, vb, paired=True, level=level)
        rows.append({"defense": d, "alpha": float(a), "diff": iv.mean, "diff_low": iv.low, "diff_high": iv.high,
                     "seeds": iv.n, "interval": iv})  # fmt: skip
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- the chapter's findings
#: The three directions of Fig. 4 that chapter 5 tests: ``{column: (label, fit log10)}``.
DIRECTION_TESTS: dict[str, tuple[str, bool]] = {
    "test_acc": ("(a) test accuracy", False),
    "max_advantage": ("(b) highest advantage", False),
    "train_loss_var": ("(c) log10 training-loss variance", True),
}
_SHORT = {"test_acc": "acc", "max_advantage": "adv", "train_loss_var": "var"}


def _per_unit(column: str) -> float:
    """Slopes are shown in decades (log10 quantities) or percentage points per unit of alpha."""
    return 1.0 if DIRECTION_TESTS[column][1] else 100.0


def direction_tests(per_run) -> tuple[dict[tuple[str, str], Any], Any]:
    """Each of the paper's three directions (:data:`DIRECTION_TESTS`) tested per CCL variant.

    The verdict (:func:`ccl_lib.verdicts.verdict`) of the per-seed slope's interval
    (:func:`alpha_slopes`) against the paper's sign (:data:`PAPER_DIRECTIONS`).

    Args:
        per_run: the table of :func:`alpha_runs`.

    Returns:
        ``({(column, defense): Verdict}, table)``: the table has one row per (quantity, variant),
        with the slope and its interval in decades or percentage points per unit of alpha, the
        paper's direction and the verdict word.
    """
    import pandas as pd

    from ..verdicts import verdict

    verdicts, rows = {}, []
    for col, (label, log10) in DIRECTION_TESTS.items():
        for d, iv in alpha_slopes(per_run, col, log10=log10).items():
            v = verdict(iv, claim=PAPER_DIRECTIONS[col])
            verdicts[(col, d)] = v
            k = _per_unit(col)
            rows.append({"quantity": label, "variant": d.upper(), "slope": k * iv.mean, "low": k * iv.low,
                         "high": k * iv.high, "unit": "decades" if log10 else "points",
                         "paper": "rises" if v.claim == "higher" else "falls", "verdict": v.word})  # fmt: skip
    return verdicts, pd.DataFrame(rows).set_index(["quantity", "variant"])


def variance_against_ce(per_run):
    """Per CCL variant and alpha: is its last-epoch training-loss variance above cross-entropy's?

    :func:`against_reference` of ``log10(train_loss_var)`` with the verdict word of each interval
    (column ``verdict``; positive: CCL's variance is higher).

    Args:
        per_run: the table of :func:`alpha_runs`.
    """
    from ..verdicts import verdict

    vs_ce = against_reference(per_run, "train_loss_var", log10=True)
    vs_ce["verdict"] = [verdict(iv).word for iv in vs_ce["interval"]]
    return vs_ce


def _alpha_list(frame, word: str) -> str:
    """``'0.1, 0.3 (CCEL); 0.1 (CCQL)'`` for the rows of ``frame`` with this verdict word, or ``'none'``."""
    parts = []
    for d, g in frame[frame["verdict"] == word].groupby("defense", sort=True):
        parts.append(", ".join(f"{a:g}" for a in g["alpha"]) + f" ({d.upper()})")
    return "; ".join(parts) if parts else "none"


def alpha_findings(
    summary, per_run, verdicts: Mapping[tuple[str, str], Any], vs_ce, *, alphas: Sequence[float], epochs: int
) -> dict[str, Any]:
    """What chapter 5's "What we saw" states, by name (glued as ``ch05_<name>``).

    Args:
        summary: the table of :func:`alpha_summary` (the undefended model at alpha = 1).
        per_run: the table of :func:`alpha_runs`.
        verdicts: the first value of :func:`direction_tests`.
        vs_ce: the table of :func:`variance_against_ce`.
        alphas: the chapter's alpha grid.
        epochs: training epochs.

    Returns:
        seeds, epochs, the accuracies, advantages and variances at the smallest, the paper's (0.5)
        and the largest alpha and of cross-entropy; per test and variant its verdict word and slope
        text (``<acc|adv|var>_<variant>_verdict`` / ``_slope``); at alpha 0.5 the paired advantage
        difference from cross-entropy and the variance verdicts; the alphas where CCL's variance is
        higher, lower or not distinguishable from cross-entropy's.
    """
    from ..verdicts import INCONCLUSIVE, verdict

    nan = float("nan")
    ccl = summary[summary["defense"] != "vanilla"]
    van = summary[summary["defense"] == "vanilla"].iloc[0]
    lo_a, hi_a = min(alphas), max(alphas)
    lo, hi, mid = ccl[ccl["alpha"] == lo_a], ccl[ccl["alpha"] == hi_a], ccl[ccl["alpha"] == 0.5]
    out: dict[str, Any] = {
        "seeds": int(summary["seeds"].min()),
        "epochs": int(epochs),
        "train_acc_05": float(mid["train_acc"].mean()) if len(mid) else nan,
        "var_lo": float(lo["train_loss_var"].mean()),
        "var_05": float(mid["train_loss_var"].mean()) if len(mid) else nan,
        "var_ce": float(van["train_loss_var"]),
        "alphas": ", ".join(f"{a:g}" for a in alphas),
        "lo_alpha": lo_a,
        "hi_alpha": hi_a,
        "lo_acc": float(lo["test_acc"].mean()),
        "hi_acc": float(hi["test_acc"].mean()),
        "lo_train_acc": float(lo["train_acc"].mean()),
        "lo_adv": float(lo["max_advantage"].mean()),
        "hi_adv": float(hi["max_advantage"].mean()),
        "van_acc": float(van["test_acc"]),
        "van_adv": float(van["max_advantage"]),
        "van_oracle": float(van["max_advantage_oracle"]),
        "hi_oracle": float(hi["max_advantage_oracle"].mean()),
    }
    for (col, d), v in verdicts.items():
        key, iv, k = _SHORT[col], v.interval, _per_unit(col)
        p = 2 if k == 1 else 1
        out[f"{key}_{d}_verdict"] = v.word
        out[f"{key}_{d}_slope"] = f"{k * iv.mean:.{p}f} [{k * iv.low:.{p}f}, {k * iv.high:.{p}f}]"
    adv_vs_ce = against_reference(per_run, "max_advantage")
    for d in ("ccel", "ccql"):
        at = adv_vs_ce[(adv_vs_ce["defense"] == d) & (adv_vs_ce["alpha"] == 0.5)]
        vt = vs_ce[(vs_ce["defense"] == d) & (vs_ce["alpha"] == 0.5)]
        iv = at["interval"].iloc[0] if len(at) else None
        out[f"adv05_{d}"] = (
            f"{100 * iv.mean:+.1f} points [{100 * iv.low:+.1f}, {100 * iv.high:+.1f}]"
            if iv is not None and iv.finite
            else "n/a"
        )
        out[f"adv05_{d}_verdict"] = verdict(at["interval"].iloc[0]).word if len(at) else "not run"
        out[f"var05_{d}_verdict"] = vt["verdict"].iloc[0] if len(vt) else "not run"
    out["var_higher"] = _alpha_list(vs_ce, "higher")
    out["var_lower"] = _alpha_list(vs_ce, "lower")
    out["var_unclear"] = _alpha_list(vs_ce, INCONCLUSIVE)
    return out


#: The likely cause when one of Fig. 4's directions is not reproduced (chapter 5, Location).
DIRECTION_CAUSES: dict[str, str] = {
    "test_acc": "accuracy is flat once the models fit their training sets; only the smallest alpha underfits",
    "max_advantage": "the advantage is flat once the models fit their training sets; only small alpha lowers it",
    "train_loss_var": (
        "the models fit their training sets at alpha >= 0.5, so every member's loss is near zero "
        "whatever the loss; the variance rises only where CCL fits least (small alpha)"
    ),
}


def alpha_scorecard_rows(verdicts: Mapping[tuple[str, str], Any], *, setting: str, n_seeds: int) -> list[dict]:
    """Chapter 5's scorecard rows (item Fig 4), one per test and variant, for :func:`ccl_lib.scorecard.record_all`.

    Args:
        verdicts: the first value of :func:`direction_tests`.
        setting: what was run, in a few words.
        n_seeds: seeds per point (named in the cause of an undecided verdict).
    """
    from ..verdicts import INCONCLUSIVE, NO_VERDICT

    rows = []
    for (col, d), v in verdicts.items():
        if v.word == "agrees":
            cause = ""
        elif v.word in (INCONCLUSIVE, NO_VERDICT):
            cause = f"the 95 % interval over {n_seeds} seeds includes zero (seed-to-seed spread of the splits)"
        else:
            cause = DIRECTION_CAUSES[col]
        rows.append({"item": "Fig 4", "setting": f"{setting}: {d.upper()} {DIRECTION_TESTS[col][0]}, slope vs alpha",
                     "verdict": v, "cause": cause, "percent": col != "train_loss_var",
                     "digits": 1 if col != "train_loss_var" else 2})  # fmt: skip
    return rows
