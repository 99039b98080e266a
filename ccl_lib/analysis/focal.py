"""Appendix D (Fig. 6) of Liu et al. (ICML 2024): CCL's concave term added to focal loss.

:func:`pick_alpha` applies the appendix's choice of alpha; :func:`appendix_d_verdicts`
returns the numbers of a per-attack bar table.  Chapter 9's analysis: :func:`appendix_d`
(the sweep analysed, paired by seed), the tables it shows (:func:`settings_view`,
:func:`choice_table`, :func:`per_attack_table`), its findings (:func:`appendix_d_findings`)
and its scorecard row (:func:`appendix_d_scorecard_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ..verdicts import SeedInterval, Verdict, difference_interval, seed_interval, verdict
from .runs import strongest_attack_rows

__all__ = [
    "AppendixD",
    "appendix_d",
    "appendix_d_findings",
    "appendix_d_scorecard_rows",
    "appendix_d_verdicts",
    "choice_table",
    "per_attack_table",
    "pick_alpha",
    "settings_view",
]


def pick_alpha(df, defense: str = "focal_ccl", reference: str = "focal") -> dict[str, Any]:
    """App. D's choice of alpha: among ``defense`` runs with test accuracy not below the
    ``reference`` run's, the alpha with the lowest highest-advantage (mean over seeds).

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid` with both defenses.
        defense: the CCL variant whose alpha is chosen (registry name, default focal loss + CCL).
        reference: the run whose accuracy must be kept (default focal loss).

    Returns ``{"alpha", "test_acc", "max_advantage", "reference_acc", "qualified"}``;
    when no alpha keeps the accuracy, ``qualified`` is False and the most accurate
    alpha is returned instead (the chapter says so).
    """
    r = strongest_attack_rows(df)
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


def appendix_d_verdicts(bars, df=None) -> dict[str, Any]:
    """Chapter 9's numbers (App. D, Fig. 6).

    Args:
        bars: one row per attack (a ``"test accuracy"`` row is ignored) and the columns
            ``focal`` and ``focal_ccl`` (advantages at the chosen alpha).
        df: optional sweep frame; adds the alpha with the lowest highest-advantage across the grid.

    Returns:
        a dict: ``n_attacks``, ``lower`` (attacks whose advantage is lower with the concave term)
        and ``n_lower``, ``all_lower``/``none_lower`` (the paper's Figure 6 has all eight lower),
        ``focal_max``/``focal_ccl_max`` (highest advantages); with ``df``: ``grid_best_alpha``,
        ``grid_best_adv``, ``grid_best_acc``, ``focal_adv``, ``focal_acc`` and
        ``trades_accuracy`` (the best alpha is both more private and less accurate than focal loss).
    """
    missing = [c for c in ("focal", "focal_ccl") if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lacks columns {missing}; it has {list(bars.columns)}")
    atk = bars.drop(index="test accuracy", errors="ignore")
    lower = [str(a) for a in atk.index[atk["focal_ccl"] < atk["focal"]]]
    out: dict[str, Any] = {
        "n_attacks": int(len(atk)),
        "lower": lower,
        "n_lower": len(lower),
        "all_lower": bool(len(lower) == len(atk)),
        "none_lower": not lower,
        "focal_max": float(atk["focal"].max()),
        "focal_ccl_max": float(atk["focal_ccl"].max()),
    }
    if df is not None:
        r = strongest_attack_rows(df)
        g = r[r["defense"] == "focal_ccl"].groupby("alpha")[["test_acc", "max_advantage"]].mean()
        ref = r[r["defense"] == "focal"][["test_acc", "max_advantage"]].mean()
        if len(g):
            a = g["max_advantage"].idxmin()
            out.update({
                "grid_best_alpha": float(a), "grid_best_adv": float(g.loc[a, "max_advantage"]),
                "grid_best_acc": float(g.loc[a, "test_acc"]), "focal_adv": float(ref["max_advantage"]),
                "focal_acc": float(ref["test_acc"]),
                "trades_accuracy": bool(g.loc[a, "test_acc"] < ref["test_acc"]
                                        and g.loc[a, "max_advantage"] < ref["max_advantage"]),
            })  # fmt: skip
    return out


# ------------------------------------------------------------------------------- chapter 9's analysis
@dataclass(frozen=True)
class AppendixD:
    """Chapter 9's sweep, analysed (:func:`appendix_d`).

    Attributes:
        rows: the sweep's rows of the paper's attacks, with ``group`` (``"focal"`` or ``"alpha=0.2"``, ...).
        attacks: the paper's attacks in the sweep, in order.
        per_run: one row per (group, seed): ``defense``, ``alpha``, ``test_acc``, ``max_advantage``
            (highest advantage over the paper's attacks) and ``max_advantage_oracle``.
        settings: one row per group (index): ``seeds`` and, for each of those three quantities, its mean
            over seeds with ``_low`` / ``_high`` (95 % t-interval).
        choice: :func:`pick_alpha`'s answer.
        chosen: the chosen alpha's group (``"alpha=0.6"``).
        seeds: the seeds both focal loss and the chosen alpha ran.
        acc_diff: the chosen alpha's test accuracy minus focal loss's, paired by seed.
        adv_diff: the same for the highest advantage.
        fig6: the verdict of ``adv_diff`` against the paper's "lower" (Fig. 6).
        bars: per attack and group (``"focal"``, ``"chosen"``): the mean advantage with its interval.
        attack_verdicts: per attack, the paired change of its advantage against the paper's "lower".
        model: the model's name (of the sweep's first row).
    """

    rows: Any
    attacks: list
    per_run: Any
    settings: Any
    choice: dict
    chosen: str
    seeds: list
    acc_diff: SeedInterval
    adv_diff: SeedInterval
    fig6: Verdict
    bars: Any
    attack_verdicts: dict
    model: str


def _group_of(alpha: float) -> str:
    return f"alpha={alpha:g}"


def _paired(per_run, group: str, other: str, column: str) -> SeedInterval:
    a = per_run[per_run["group"] == group].set_index("seed")
    b = per_run[per_run["group"] == other].set_index("seed")
    common = sorted(set(a.index) & set(b.index))
    if not common:
        raise ValueError(f"groups {group!r} and {other!r} share no seed")
    return difference_interval(a.loc[common, column], b.loc[common, column])


def appendix_d(df) -> AppendixD:
    """App. D (Fig. 6) from chapter 9's sweep: focal loss alone and with the concave term per alpha.

    Each run's highest advantage is the maximum over the paper's attacks (``paper_attack`` rows) of
    the attacker's own rule (Eq. 2); alpha is chosen by :func:`pick_alpha`; the comparisons with focal
    loss are paired by seed (:func:`ccl_lib.verdicts.difference_interval`).

    Args:
        df: the sweep's result frame (:func:`ccl_lib.analysis.runs.run_runs`) with runs of ``focal`` and
            ``focal_ccl`` (with ``alpha``).
    """
    import numpy as np
    import pandas as pd

    rows = df[df["paper_attack"].astype(bool)]
    attacks = list(dict.fromkeys(rows["attack"]))
    rows = rows.assign(group=np.where(rows["defense"] == "focal", "focal", [_group_of(a) for a in rows["alpha"]]))
    per_run = (rows.groupby(["group", "seed"], sort=False)
               .agg(defense=("defense", "first"), alpha=("alpha", "first"), test_acc=("test_acc", "first"),
                    max_advantage=("advantage", "max"), max_advantage_oracle=("advantage_oracle", "max"))
               .reset_index())  # fmt: skip
    settings = []
    for grp, g in per_run.groupby("group", sort=False):
        row: dict[str, Any] = {"setting": grp, "seeds": int(g["seed"].nunique())}
        for c in ("test_acc", "max_advantage", "max_advantage_oracle"):
            iv = seed_interval(g[c].to_numpy(float))
            row.update({c: iv.mean, f"{c}_low": iv.low, f"{c}_high": iv.high})
        settings.append(row)
    choice = pick_alpha(df, "focal_ccl", "focal")
    chosen = _group_of(choice["alpha"])
    seeds = sorted(set(per_run.loc[per_run["group"] == "focal", "seed"])
                   & set(per_run.loc[per_run["group"] == chosen, "seed"]))  # fmt: skip
    adv_diff = _paired(per_run, chosen, "focal", "max_advantage")
    bars, attack_verdicts = [], {}
    for atk in attacks:
        a = rows[rows["attack"] == atk]
        f = a[a["group"] == "focal"].set_index("seed")["advantage"]
        c = a[a["group"] == chosen].set_index("seed")["advantage"]
        for grp, vals in (("focal", f), ("chosen", c)):
            iv = seed_interval(vals.to_numpy(float))
            bars.append({"group": grp, "attack": atk, "advantage": iv.mean, "advantage_low": iv.low,
                         "advantage_high": iv.high})  # fmt: skip
        cs = sorted(set(f.index) & set(c.index))
        attack_verdicts[atk] = verdict(difference_interval(c.loc[cs], f.loc[cs]), claim="lower")
    return AppendixD(rows=rows, attacks=attacks, per_run=per_run, settings=pd.DataFrame(settings).set_index("setting"),
                     choice=choice, chosen=chosen, seeds=seeds, acc_diff=_paired(per_run, chosen, "focal", "test_acc"),
                     adv_diff=adv_diff, fig6=verdict(adv_diff, claim="lower"), bars=pd.DataFrame(bars),
                     attack_verdicts=attack_verdicts, model=str(df["model"].iloc[0]))  # fmt: skip


def settings_view(ad: AppendixD):
    """The table of settings: test accuracy, highest advantage and oracle per setting, as ``mean [low, high]`` %.

    Args:
        ad: :func:`appendix_d`'s analysis.
    """
    import pandas as pd

    s = ad.settings

    def text(col: str) -> list[str]:
        return [SeedInterval(r[col], r[f"{col}_low"], r[f"{col}_high"], int(r["seeds"])).format(percent=True, digits=1)
                for _, r in s.iterrows()]  # fmt: skip

    index = ["focal loss" if i == "focal" else f"+ concave term, {i.replace('=', ' = ')}" for i in s.index]
    return pd.DataFrame({"test accuracy (95 %)": text("test_acc"), "highest advantage (95 %)": text("max_advantage"),
                         "oracle (95 %)": text("max_advantage_oracle"), "seeds": s["seeds"]}, index=index)  # fmt: skip


def choice_table(ad: AppendixD):
    """The choice of alpha as a one-column table: the alpha, whether it qualified, both accuracies, the paired
    changes of accuracy and highest advantage, and the verdict (paper: lower).

    Args:
        ad: :func:`appendix_d`'s analysis.
    """
    import pandas as pd

    from ..formatting import pct

    c = ad.choice
    return pd.Series({
        "chosen alpha": f"{c['alpha']:g}",
        "qualified (accuracy >= focal loss's)": "yes" if c["qualified"] else "no: the most accurate alpha",
        "test accuracy, focal loss": pct(c["reference_acc"]),
        "test accuracy, chosen alpha": pct(c["test_acc"]),
        "accuracy change (paired, 95 %)": ad.acc_diff.format(percent=True, digits=1),
        "highest advantage change (paired, 95 %)": ad.adv_diff.format(percent=True, digits=1),
        "verdict on the highest advantage (paper: lower)": ad.fig6.word,
    }, name="")  # fmt: skip


def per_attack_table(ad: AppendixD, labels: Optional[Mapping[str, str]] = None):
    """Fig. 6 as a table: per attack, both mean advantages, the paired change and its verdict (paper: lower).

    Args:
        ad: :func:`appendix_d`'s analysis.
        labels: display names of the attacks (e.g. :data:`ccl_lib.plots.ATTACK_LABELS`); others keep their names.
    """
    import pandas as pd

    labels = labels or {}
    b = ad.bars
    t = pd.DataFrame(index=ad.attacks, data={
        "focal loss": b[b["group"] == "focal"].set_index("attack")["advantage"],
        f"+ concave term, alpha={ad.choice['alpha']:g}": b[b["group"] == "chosen"].set_index("attack")["advantage"],
        "change (paired, 95 %)": pd.Series({a: v.interval.format(percent=True, digits=1)
                                            for a, v in ad.attack_verdicts.items()}),
        "verdict (paper: lower)": pd.Series({a: v.word for a, v in ad.attack_verdicts.items()}),
    })  # fmt: skip
    t.index = [labels.get(a, a) for a in t.index]
    return t


def appendix_d_findings(ad: AppendixD, *, alphas: Sequence[float], n_test: int = 1000) -> dict[str, Any]:
    """What chapter 9 states, by name (glued as ``ch09_<name>``), its exercises' answers included.

    Args:
        ad: :func:`appendix_d`'s analysis.
        alphas: the chapter's alpha grid.
        n_test: test examples per model (exercise 1's binomial standard error of the accuracy).

    Returns:
        the seeds compared; focal loss's accuracy and highest advantage; the chosen alpha, whether it
        qualifies, how many alphas keep focal's accuracy, the chosen accuracy and advantage, the paired
        changes and Fig. 6's verdict; how many attacks agree, contradict or do not decide; the grid's lowest
        highest-advantage and whether it was bought with accuracy; exercise 1 (``ex1_*``: the rule loosened by
        one standard error) and exercise 3 (``ex3_*``: the oracle's bars).
    """
    import math

    from ..verdicts import INCONCLUSIVE, NO_VERDICT, OPPOSITE

    s, c, words = ad.settings, ad.choice, [v.word for v in ad.attack_verdicts.values()]
    grid = s.drop(index="focal")
    best = grid["max_advantage"].idxmin()
    out: dict[str, Any] = {
        "seeds": len(ad.seeds),
        "focal_acc": float(c["reference_acc"]),
        "alpha": float(c["alpha"]),
        "qualified": "qualifies" if c["qualified"] else "does not qualify",
        "n_qualified": int(sum(s.loc[_group_of(a), "test_acc"] >= c["reference_acc"] - 1e-12 for a in alphas)),
        "n_alphas": len(alphas),
        "chosen_acc": float(c["test_acc"]),
        "acc_diff": ad.acc_diff.format(percent=True, digits=1),
        "adv_diff": ad.adv_diff.format(percent=True, digits=1),
        "fig6_verdict": ad.fig6.word,
        "focal_adv": float(s.loc["focal", "max_advantage"]),
        "chosen_adv": float(s.loc[ad.chosen, "max_advantage"]),
        "n_attacks": len(ad.attacks),
        "n_agrees": sum(w == "agrees" for w in words),
        "n_not": sum(w in ("not reproduced", OPPOSITE) for w in words),
        "n_inconclusive": sum(w in (INCONCLUSIVE, NO_VERDICT) for w in words),
        "grid_best": best.replace("alpha=", ""),
        "grid_best_adv": float(grid.loc[best, "max_advantage"]),
        "grid_best_acc": float(grid.loc[best, "test_acc"]),
        "grid_best_trade": "bought with accuracy" if grid.loc[best, "test_acc"] < s.loc["focal", "test_acc"]
        else "at no loss of accuracy",
    }  # fmt: skip
    ref = float(s.loc["focal", "test_acc"])
    se = math.sqrt(ref * (1 - ref) / n_test)
    strict, loose = grid[grid["test_acc"] >= ref - 1e-12], grid[grid["test_acc"] >= ref - se]
    out["ex1_se"] = se
    out["ex1_strict"] = strict["max_advantage"].idxmin().replace("alpha=", "alpha = ") if len(strict) else "nothing"
    if len(loose):
        lg = loose["max_advantage"].idxmin()
        lv = verdict(_paired(ad.per_run, lg, "focal", "max_advantage"), claim="lower")
        diff = lv.interval.format(percent=True, digits=1)
        out.update(ex1_loose=lg.replace("alpha=", "alpha = "), ex1_loose_diff=diff, ex1_loose_verdict=lv.word)
    else:
        out.update(ex1_loose="nothing either", ex1_loose_diff="n/a", ex1_loose_verdict=INCONCLUSIVE)
    sel = ad.rows[ad.rows["group"].isin(["focal", ad.chosen])]
    gap = sel["advantage_oracle"] - sel["advantage"]
    means = sel.groupby(["attack", "group"])[["advantage", "advantage_oracle"]].mean().unstack("group")
    out["ex3_gap_min"], out["ex3_gap_max"] = float(gap.min()), float(gap.max())
    for key, col in (("own", "advantage"), ("oracle", "advantage_oracle")):
        out[f"ex3_lower_{key}"] = int((means[(col, ad.chosen)] < means[(col, "focal")]).sum())
    return out


def appendix_d_scorecard_rows(
    ad: AppendixD, *, dataset: str, epochs: int, gamma: float, concave: str
) -> list[dict[str, Any]]:
    """Chapter 9's scorecard row (item Fig 6): the chosen alpha's highest advantage minus focal loss's.

    Args:
        ad: :func:`appendix_d`'s analysis.
        dataset: the data set's name.
        epochs: training epochs.
        gamma: focal loss's exponent.
        concave: the concave term (``"exp"`` or ``"quadratic"``).
    """
    c = ad.choice
    setting = (f"{dataset}, {ad.model}, {epochs} epochs, focal gamma={gamma:g} + {concave} term at "
               f"alpha={c['alpha']:g} ({'rule' if c['qualified'] else 'most accurate'}), {len(ad.seeds)} seeds; "
               "highest advantage change")  # fmt: skip
    scale = (f"CPU scale: {ad.model} on {dataset} for {epochs} epochs (the paper: ResNet-34 on CIFAR-10 for 300 "
             "epochs with crop+flip, scale 0.01)")  # fmt: skip
    if ad.fig6.word == "agrees":
        cause = ""
    elif not c["qualified"]:
        cause = f"{scale}; no alpha keeps focal loss's accuracy, so the most accurate one is compared"
    else:
        cause = scale
    return [{"item": "Fig 6", "setting": setting, "verdict": ad.fig6, "cause": cause, "percent": True, "digits": 1}]
