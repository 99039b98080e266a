"""Figures 2 and 3 of Liu et al. (ICML 2024) over seeds: chapter 7's analysis.

Sec. 5.2 reads the privacy-utility curves with one rule: among the settings at least as accurate
as the undefended model, CCL's advantage is the lowest (its example: on CIFAR-10 the loss attack's
advantage is 29.67 % for the best baseline, dropout, and 18.40 % for CCQL).  Here every point is a
mean over paired seeds (seed = data split) with a 95 % t-interval, and each comparison is a paired
difference with the verdict its interval supports (:func:`ccl_lib.verdicts.verdict`).

* :func:`seed_frames` -- the sweep per (setting, attack, seed), per (setting, seed), and their means
  and intervals over seeds.
* :func:`rule_table` -- Sec. 5.2's rule per attack: best CCL vs best baseline under an accuracy bar.
* :func:`loss_example` -- the paper's quoted pair (loss attack, CCQL vs the best baseline).
* :func:`best_p1_table` -- one number per curve, the best P1 (Eq. 13).
* :func:`figure23_verdict` -- the scorecard's number: highest advantage, best CCL minus best baseline.
* :func:`utility_findings`, :func:`utility_exercise_findings`, :func:`utility_scorecard_rows` -- what
  the chapter's prose states, by name, and its scorecard rows.
* :func:`variant_verdicts` -- the same verdict with the baselines as the CCL authors ran them
  (``variant="ccl_code"``, issue 23) and as their method authors wrote them.
* :func:`grid_cost` -- what the paper's full grids cost at a number of seeds, from the ledger's
  recorded wall seconds.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..paper_results import LOSS_ATTACK_CIFAR10
from ..verdicts import (
    INCONCLUSIVE,
    NO_VERDICT,
    NOT_REPRODUCED,
    OPPOSITE,
    SeedInterval,
    Verdict,
    difference_interval,
    seed_interval,
    verdict,
)
from .runs import short_setting

__all__ = [
    "CCL",
    "BASELINE_READINGS",
    "PAPER_EXAMPLE_EFFECT",
    "best_p1_table",
    "example_view",
    "figure23_verdict",
    "grid_cost",
    "interval_frame",
    "loss_example",
    "p1_view",
    "point_label",
    "rule_table",
    "rule_view",
    "seed_frames",
    "settings_view",
    "utility_exercise_findings",
    "utility_findings",
    "utility_scorecard_rows",
    "variant_verdicts",
    "variant_scorecard_row",
    "variant_view",
]

#: The CCL variants (registry names); every other defense but vanilla is a baseline.
CCL: tuple[str, ...] = ("ccel", "ccql")
#: The paper's effect in its loss-attack example (Sec. 5.2, CIFAR-10): CCQL's 18.40 % minus the best baseline's 29.67 %.
PAPER_EXAMPLE_EFFECT: float = float(LOSS_ATTACK_CIFAR10["ccql_advantage"]) - float(  # type: ignore[arg-type]
    LOSS_ATTACK_CIFAR10["baseline_advantage"]  # type: ignore[arg-type]
)


def point_label(setting: str, defense_labels: Optional[Mapping[str, str]] = None) -> str:
    """A setting for reading: ``"CCQL (alpha=0.5)"``, ``"Early stopping, epoch 20"``, ``"Vanilla"``.

    Args:
        setting: the ``setting`` column of a result frame.
        defense_labels: display names of the defenses (default: the registry names).
    """
    labels = dict(defense_labels or {})
    short = short_setting(setting)
    m = re.match(r"^(\w+)(?:\(([^)]*)\))?(?: stop=(\d+))?$", short)
    if not m:
        return short
    name, params, stop = m.groups()
    label = labels.get(name, name)
    if stop:
        return f"{label}, epoch {stop}"
    params = ", ".join(p for p in (params or "").split(", ") if p and not p.startswith("scale="))
    return f"{label} ({params})" if params else label


def interval_frame(frame, by: Sequence[str], columns: Sequence[str]):
    """Mean and 95 % t-interval over seeds (:func:`ccl_lib.verdicts.seed_interval`) of each column, per group.

    Args:
        frame: one row per seed and group, with a ``seed`` column.
        by: the group columns.
        columns: the columns to average; each gives ``<c>``, ``<c>_low``, ``<c>_high``.

    Returns:
        one row per group, with ``seeds`` (distinct seeds).
    """
    import pandas as pd

    rows = []
    for key, g in frame.groupby(list(by), sort=False):
        row = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for c in columns:
            iv = seed_interval(g[c].to_numpy(float))
            row.update({c: iv.mean, f"{c}_low": iv.low, f"{c}_high": iv.high})
        row["seeds"] = int(g["seed"].nunique())
        rows.append(row)
    return pd.DataFrame(rows)


def seed_frames(df, defense_labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """The sweep at seed level and over seeds (the headline advantage is the attacker's own rule).

    Args:
        df: a result frame of :func:`ccl_lib.analysis.runs.run_runs`.
        defense_labels: display names of the defenses, for the ``point`` labels.

    Returns:
        a dict: ``per_attack`` (one row per setting, attack and seed of the paper's attacks), ``per_run``
        (one row per setting and seed with the highest advantage, its oracle and P1), ``points`` (per
        setting and attack: mean and interval), ``settings`` (per setting), ``paper_attacks`` (their
        names) and ``n_seeds`` (an int).
    """
    paper_rows = df[df["paper_attack"].astype(bool)] if "paper_attack" in df.columns else df
    per_attack = paper_rows.assign(point=paper_rows["setting"].map(lambda s: point_label(s, defense_labels)))
    per_run = (
        per_attack.groupby(["defense", "point", "seed"], sort=False)
        .agg(test_acc=("test_acc", "first"), max_advantage=("advantage", "max"),
             max_advantage_oracle=("advantage_oracle", "max"), p1=("p1", "first"))
        .reset_index()
    )  # fmt: skip
    return {
        "per_attack": per_attack,
        "per_run": per_run,
        "points": interval_frame(per_attack, ["defense", "point", "attack"],
                                 ["test_acc", "advantage", "advantage_oracle"]),
        "settings": interval_frame(per_run, ["defense", "point"],
                                   ["test_acc", "max_advantage", "max_advantage_oracle", "p1"]),
        "paper_attacks": list(dict.fromkeys(paper_rows["attack"])),
        "n_seeds": int(per_run["seed"].nunique()),
    }  # fmt: skip


def _paired(frame, a_point: str, b_point: str, column: str, attack: Optional[str] = None) -> SeedInterval:
    sel = frame if attack is None else frame[frame["attack"] == attack]
    a = sel[sel["point"] == a_point].set_index("seed")[column]
    o = sel[sel["point"] == b_point].set_index("seed")[column]
    common = sorted(set(a.index) & set(o.index))
    return difference_interval(a.loc[common], o.loc[common], paired=True)


def rule_table(frames: Mapping[str, Any], tolerance: float):
    """Per paper attack: the best CCL and the best baseline setting (lowest mean advantage) among the
    settings whose mean test accuracy is at least the undefended model's minus ``tolerance`` (Sec. 5.2),
    and their paired difference with its verdict (the paper: CCL lower).

    Args:
        frames: :func:`seed_frames`.
        tolerance: accuracy given away, in [0, 1) (0 is the paper's rule).

    Returns:
        a frame indexed by attack; ``attrs["min_acc"]`` is the bar, ``attrs["verdicts"]`` ``{attack: Verdict}``.
    """
    import pandas as pd

    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    points, settings = frames["points"], frames["settings"]
    bar = float(settings.loc[settings["defense"] == "vanilla", "test_acc"].mean()) - tolerance
    ok = points[(points["test_acc"] >= bar - 1e-12) & (points["defense"] != "vanilla")]
    rows, verdict_of = [], {}
    for atk in frames["paper_attacks"]:
        sub = ok[ok["attack"] == atk]
        van = points[(points["defense"] == "vanilla") & (points["attack"] == atk)]
        row: dict[str, Any] = {"attack": atk, "vanilla": float(van["advantage"].mean())}
        c, b = sub[sub["defense"].isin(CCL)], sub[~sub["defense"].isin(CCL)]
        if len(c) == 0 or len(b) == 0:
            row.update({"CCL setting": c.loc[c["advantage"].idxmin(), "point"] if len(c) else "none qualifies",
                        "baseline setting": b.loc[b["advantage"].idxmin(), "point"] if len(b) else "none qualifies",
                        "verdict": INCONCLUSIVE})  # fmt: skip
            rows.append(row)
            continue
        cb, bb = c.loc[c["advantage"].idxmin()], b.loc[b["advantage"].idxmin()]
        iv = _paired(frames["per_attack"], cb["point"], bb["point"], "advantage", atk)
        v = verdict_of[atk] = verdict(iv, claim="lower")
        row.update({"CCL setting": cb["point"], "CCL": cb["advantage"], "baseline setting": bb["point"],
                    "baseline": bb["advantage"], "difference": iv.mean, "difference_low": iv.low,
                    "difference_high": iv.high, "verdict": v.word})  # fmt: skip
        rows.append(row)
    out = pd.DataFrame(rows).set_index("attack")
    out.attrs.update(min_acc=bar, verdicts=verdict_of)
    return out


def _iv_text(frame, col: str, percent: bool = True) -> list[str]:
    return [SeedInterval(r[col], r[f"{col}_low"], r[f"{col}_high"], int(r["seeds"])).format(
        percent=percent, digits=1 if percent else 3) for _, r in frame.iterrows()]  # fmt: skip


def settings_view(settings):
    """Every setting for reading, by accuracy: test accuracy, highest advantage, oracle and P1 as
    ``"mean [low, high]"``.

    Args:
        settings: ``seed_frames(...)["settings"]``.
    """
    import pandas as pd

    s = settings.sort_values("test_acc")
    return pd.DataFrame({"setting": s["point"], "test accuracy": _iv_text(s, "test_acc"),
                         "highest advantage": _iv_text(s, "max_advantage"),
                         "oracle": _iv_text(s, "max_advantage_oracle"), "P1": _iv_text(s, "p1", percent=False),
                         "seeds": s["seeds"]}).set_index("setting")  # fmt: skip


def rule_view(table, n_seeds: int, attack_labels: Optional[Mapping[str, str]] = None):
    """A :func:`rule_table` for reading: advantages in percent, the difference as ``"mean [low, high]"``, short
    headers (*w/o*: the undefended model; the verdict's side is the paper's, CCL lower).

    Args:
        table: :func:`rule_table`.
        n_seeds: seeds behind each difference.
        attack_labels: display names of the attacks.
    """
    import pandas as pd

    from ..formatting import pct

    out = pd.DataFrame(index=table.index)
    out["w/o"] = table["vanilla"].map(pct)
    for side in ("CCL", "baseline"):
        out[f"best {side}"] = table[f"{side} setting"]
        out[f"{side} adv."] = table[side].map(pct) if side in table else "--"
    out["CCL − baseline (95 %)"] = [
        SeedInterval(r.difference, r.difference_low, r.difference_high, n_seeds).format(percent=True, digits=1)
        if "difference" in table and np.isfinite(r.difference) else "--" for r in table.itertuples()
    ]  # fmt: skip
    out["verdict"] = table["verdict"]
    out.index = [dict(attack_labels or {}).get(a, a) for a in out.index]
    return out


def loss_example(frames: Mapping[str, Any], rule, defense: str = "ccql", attack: str = "loss") -> Optional[dict]:
    """Sec. 5.2's example: the best setting of ``defense`` vs the best baseline for ``attack``, among the
    settings meeting ``rule``'s accuracy bar; ``None`` when either side has none.

    Args:
        frames: :func:`seed_frames`.
        rule: :func:`rule_table` (its ``attrs["min_acc"]``).
        defense: the CCL variant (the paper: CCQL).
        attack: the attack (the paper: the loss attack).

    Returns:
        ``{"ccl", "baseline"`` (their rows of ``points``), ``"interval"`` (paired difference), ``"verdict"``
        (against the paper's effect :data:`PAPER_EXAMPLE_EFFECT`), ``"ccl_iv", "baseline_iv"}``.
    """
    points, pa = frames["points"], frames["per_attack"]
    ok = points[(points["test_acc"] >= rule.attrs["min_acc"] - 1e-12) & (points["attack"] == attack)]
    c, b = ok[ok["defense"] == defense], ok[~ok["defense"].isin(("vanilla", *CCL))]
    if len(c) == 0 or len(b) == 0:
        return None
    cb, bb = c.loc[c["advantage"].idxmin()], b.loc[b["advantage"].idxmin()]
    iv = _paired(pa, cb["point"], bb["point"], "advantage", attack)
    sel = pa[pa["attack"] == attack]
    a = sel[sel["point"] == cb["point"]].set_index("seed")["advantage"]
    o = sel[sel["point"] == bb["point"]].set_index("seed")["advantage"]
    common = sorted(set(a.index) & set(o.index))
    return {"ccl": cb, "baseline": bb, "interval": iv,
            "verdict": verdict(iv, claim="lower", paper_effect=PAPER_EXAMPLE_EFFECT),
            "ccl_iv": seed_interval(a.loc[common]), "baseline_iv": seed_interval(o.loc[common])}  # fmt: skip


def example_view(ex: Mapping[str, Any], paper_example: Mapping[str, Any]):
    """:func:`loss_example` beside the paper's quote (:data:`ccl_lib.paper_results.LOSS_ATTACK_CIFAR10`).

    Args:
        ex: :func:`loss_example` (not ``None``).
        paper_example: the paper's numbers.
    """
    import pandas as pd

    from ..formatting import pct

    pe = paper_example
    return pd.DataFrame({
        "setting": [ex["baseline"]["point"], ex["ccl"]["point"], "difference (CCQL - baseline)"],
        "test_acc": [ex["baseline"]["test_acc"], ex["ccl"]["test_acc"], np.nan],
        "advantage (loss)": [ex["baseline_iv"].format(percent=True, digits=1),
                             ex["ccl_iv"].format(percent=True, digits=1),
                             ex["interval"].format(percent=True, digits=1)],
        "paper (CIFAR-10, ResNet-34)": [
            f"{pct(pe['baseline_advantage'], 2)} ({pe['baseline']})", f"{pct(pe['ccql_advantage'], 2)} (CCQL)",
            f"{100 * (pe['ccql_advantage'] - pe['baseline_advantage']):+.2f} points"],
    }).set_index("setting")  # fmt: skip


def best_p1_table(settings):
    """Per defense, its setting with the highest mean P1 (Eq. 13), best first.

    Args:
        settings: ``seed_frames(...)["settings"]``.
    """
    best = settings.loc[settings.groupby("defense", sort=False)["p1"].idxmax()].sort_values("p1", ascending=False)
    return best.set_index("defense")[["point", "test_acc", "max_advantage", "p1", "p1_low", "p1_high", "seeds"]]


def p1_view(best_p1, defense_labels: Optional[Mapping[str, str]] = None):
    """:func:`best_p1_table` for reading.

    Args:
        best_p1: :func:`best_p1_table`.
        defense_labels: display names of the defenses.
    """
    import pandas as pd

    from ..formatting import pct

    out = pd.DataFrame({"best setting": best_p1["point"], "test accuracy": best_p1["test_acc"].map(pct),
                        "highest advantage": best_p1["max_advantage"].map(pct),
                        "P1 (95 %)": _iv_text(best_p1, "p1", percent=False)})  # fmt: skip
    out.index = [dict(defense_labels or {}).get(d, d) for d in out.index]
    return out


def _best_pair(settings, rule) -> Optional[tuple[Any, Any]]:
    ok = settings[(settings["test_acc"] >= rule.attrs["min_acc"] - 1e-12) & (settings["defense"] != "vanilla")]
    c, b = ok[ok["defense"].isin(CCL)], ok[~ok["defense"].isin(CCL)]
    return (c.loc[c["max_advantage"].idxmin()], b.loc[b["max_advantage"].idxmin()]) if len(c) and len(b) else None


def figure23_verdict(frames: Mapping[str, Any], strict, loose) -> tuple[Verdict, Optional[tuple[Any, Any]], str]:
    """The scorecard's Fig. 2/3 number: the highest advantage over the paper's attacks of the best CCL setting
    minus that of the best baseline, paired by seed, both at the undefended model's accuracy (``strict``'s
    bar), else at ``loose``'s.

    The paper gives Figs. 2-3 one size, its Sec. 5.2 example of the same selection (the lowest advantage
    among settings at least as accurate as the undefended model, CCQL against the best baseline):
    :data:`PAPER_EXAMPLE_EFFECT`, -11.3 points.  The verdict is drawn against that effect, so an interval
    that holds zero but excludes it reads "smaller than the paper's" rather than "inconclusive".

    Args:
        frames: :func:`seed_frames`.
        strict: :func:`rule_table` at tolerance 0.
        loose: :func:`rule_table` with the chapter's tolerance.

    Returns:
        ``(verdict, (ccl row, baseline row) or None, "strict" / "loose")``.
    """
    name, pair = ("strict", _best_pair(frames["settings"], strict))
    if pair is None:
        name, pair = ("loose", _best_pair(frames["settings"], loose))
    if pair is None:
        return verdict(SeedInterval(math.nan, math.nan, math.nan, 0), paper_effect=PAPER_EXAMPLE_EFFECT), None, name
    iv = _paired(frames["per_run"], pair[0]["point"], pair[1]["point"], "max_advantage")
    return verdict(iv, paper_effect=PAPER_EXAMPLE_EFFECT), pair, name


def _count(words: Any) -> tuple[int, int, int]:
    w = list(words)
    return (sum(x == "agrees" for x in w), sum(x in (NOT_REPRODUCED, OPPOSITE) for x in w),
            sum(x in (INCONCLUSIVE, NO_VERDICT) for x in w))  # fmt: skip


def utility_findings(frames: Mapping[str, Any], strict, loose, ex: Optional[dict], ex_rule: str, fig: tuple,
                     *, acc_tolerance: float, n_runs: int,
                     defense_labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:  # fmt: skip
    """What chapter 7's prose states, by name (glued as ``ch07_<name>``).

    Args:
        frames: :func:`seed_frames`.
        strict: :func:`rule_table` at tolerance 0.
        loose: :func:`rule_table` at ``acc_tolerance``.
        ex: :func:`loss_example` (or ``None``).
        ex_rule: which rule ``ex`` used (``"strict"``, ``"loose"`` or ``"none"``).
        fig: :func:`figure23_verdict`.
        acc_tolerance: the loose rule's tolerance.
        n_runs: runs of the sweep.
        defense_labels: display names of the defenses.
    """
    from ..formatting import pct

    labels = dict(defense_labels or {})
    s, pts = frames["settings"], frames["points"]
    van = s[s["defense"] == "vanilla"].iloc[0]
    best = best_p1_table(s)
    out: dict[str, Any] = {"n_runs": n_runs, "n_settings": int(len(s)), "n_seeds": frames["n_seeds"],
                           "vanilla_acc": float(van["test_acc"]), "vanilla_adv": float(van["max_advantage"]),
                           "vanilla_adv_oracle": float(van["max_advantage_oracle"]),
                           "n_attacks": len(frames["paper_attacks"])}  # fmt: skip
    for name, t in (("strict", strict), ("loose", loose)):
        out[f"{name}_agrees"], out[f"{name}_not"], out[f"{name}_inconclusive"] = _count(t["verdict"])
    q = sorted(
        set(pts[(pts["test_acc"] >= strict.attrs["min_acc"] - 1e-12) & (pts["defense"] != "vanilla")]["defense"])
    )
    out["strict_qualified"] = ", ".join(labels.get(d, d) for d in q) or "none"
    ranks = [i + 1 for i, d in enumerate(best.index) if d in CCL]
    out.update(p1_leader=labels.get(best.index[0], best.index[0]), p1_leader_value=float(best["p1"].iloc[0]),
               p1_ccl_rank=int(min(ranks)) if ranks else 0, p1_n=int(len(best)),
               p1_ccl=float(best.loc[[d for d in CCL if d in best.index], "p1"].max()),
               p1_vanilla=float(best.loc["vanilla", "p1"]), acc_tolerance_text=pct(acc_tolerance),
               ex_rule=ex_rule)  # fmt: skip
    if ex is not None:
        out.update(ex_baseline=str(ex["baseline"]["point"]), ex_baseline_adv=float(ex["baseline_iv"].mean),
                   ex_ccql_adv=float(ex["ccl_iv"].mean), ex_diff=ex["interval"].format(percent=True, digits=1),
                   ex_verdict=ex["verdict"].word)  # fmt: skip
    else:
        out.update(ex_baseline="n/a", ex_baseline_adv=math.nan, ex_ccql_adv=math.nan, ex_diff="n/a",
                   ex_verdict=INCONCLUSIVE)  # fmt: skip
    v, pair, rule = fig
    out.update(fig23_verdict=v.text(percent=True, digits=1) if pair is not None else INCONCLUSIVE, fig23_rule=rule,
               fig23_ccl=str(pair[0]["point"]) if pair is not None else "none",
               fig23_baseline=str(pair[1]["point"]) if pair is not None else "none")  # fmt: skip
    return out


def utility_scorecard_rows(frames: Mapping[str, Any], ex: Optional[dict], ex_rule: str, fig: tuple, *,
                           setting: str, scale_cause: str,
                           defense_labels: Optional[Mapping[str, str]] = None) -> list[dict[str, Any]]:  # fmt: skip
    """Chapter 7's scorecard rows (items Fig 2/3 and "29.67 % -> 18.40 %"), for :func:`ccl_lib.scorecard.record_all`.

    Args:
        frames: :func:`seed_frames`.
        ex: :func:`loss_example` (or ``None``).
        ex_rule: its rule.
        fig: :func:`figure23_verdict`.
        setting: the setting in a few words (data set, model, epochs, seeds).
        scale_cause: the scale difference from the paper, for the cause of a verdict that does not agree.
        defense_labels: display names of the defenses.
    """
    labels = dict(defense_labels or {})
    v, pair, rule = fig
    if pair is not None:
        cb, bb = pair
        cause = (
            ""
            if v.word == "agrees"
            else f"{scale_cause}; the best baseline at this accuracy is {labels.get(bb['defense'], bb['defense'])}"
        )
        where = (
            f"{setting}; highest advantage, best CCL ({cb['point']}) - best baseline ({bb['point']}), "
            f"{rule} accuracy rule"
        )
    else:
        cause = f"{scale_cause}; no CCL setting (or no baseline) reaches the undefended model's accuracy"
        where = f"{setting}; highest advantage at the undefended model's accuracy"
    rows = [{"item": "Fig 2/3", "setting": where, "verdict": v, "cause": cause, "percent": True, "digits": 1}]
    if ex is not None:
        b = ex["baseline"]["defense"]
        cause = (
            ""
            if ex["verdict"].word == "agrees"
            else (
                f"{scale_cause}; the best baseline for the loss attack here is {labels.get(b, b)} (the paper: dropout)"
            )
        )
        rows.append(
            {
                "item": "29.67 % -> 18.40 %",
                "setting": f"{setting}; loss attack, best CCQL - best baseline, {ex_rule} accuracy rule",
                "verdict": ex["verdict"],
                "cause": cause,
                "percent": True,
                "digits": 1,
            }
        )
    else:
        rows.append({"item": "29.67 % -> 18.40 %", "setting": f"{setting}; loss attack", "verdict": INCONCLUSIVE,
                     "interval": "", "cause": f"{scale_cause}; no CCQL setting (or no baseline) reaches the "
                     "undefended model's accuracy"})  # fmt: skip
    return rows


def utility_exercise_findings(df, frames: Mapping[str, Any],
                              defense_labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:  # fmt: skip
    """Chapter 7's exercise answers: the strict rule with the oracle advantage, and the accuracy bar moved.

    Args:
        df: the sweep's result frame.
        frames: :func:`seed_frames`.
        defense_labels: display names of the defenses.
    """
    from ..formatting import pct
    from .privacy_utility import best_at_utility

    labels = dict(defense_labels or {})

    def lead(t: Any) -> str:
        d = t.iloc[0]["defense"] if len(t) else None
        return (
            f"{labels.get(str(d), str(d))} ({pct(t.iloc[0]['advantage'])})" if len(t) else "none (no setting qualifies)"
        )

    own = best_at_utility(df, attacks=["loss"])
    oracle = best_at_utility(df.assign(advantage=df["advantage_oracle"]), attacks=["loss"])
    pa = frames["per_attack"]
    gap = (pa["advantage_oracle"] - pa["advantage"])[pa["attack"] == "loss"]
    slack = []
    for t in (0.0, 0.01, 0.02, 0.05):
        if "loss" in frames["paper_attacks"]:
            r = rule_table(frames, t).loc["loss"]
            slack.append(f"{pct(t, 0)} slack: CCL {r['CCL setting']}, baseline {r['baseline setting']}, {r['verdict']}")
    return {"ex2_own": lead(own), "ex2_oracle": lead(oracle), "ex2_gap_min": float(gap.min()),
            "ex2_gap_max": float(gap.max()),
            "ex3_answer": "; ".join(slack) or "the loss attack is not in the suite"}  # fmt: skip


#: The two readings of the baselines that :func:`variant_verdicts` compares: ccl_lib's defaults (the paper's
#: text and the baselines' method authors) and the CCL authors' fork (``variant="ccl_code"``, issue 23).
BASELINE_READINGS: dict[str, str] = {
    "paper": "as their method authors describe them (ccl_lib's defaults)",
    "ccl_code": "as the CCL authors ran them (zhenlong-liu/MLHospital, variant='ccl_code')",
}


def variant_verdicts(df, *, acc_tolerance: float, defense_labels: Optional[Mapping[str, str]] = None,
                     ccl_runs: Any = None) -> dict:  # fmt: skip
    """Fig. 2/3's verdict (:func:`figure23_verdict`) twice on the same seeds: with the baselines that have a
    ``ccl_code`` variant (RelaxLoss, AdvReg, Dropout) in ccl_lib's default form, and in the CCL authors' form.

    Args:
        df: a result frame holding vanilla, CCEL/CCQL and baseline runs in both forms (``hp_variant`` column;
            e.g. the named experiment ``variants-location``).
        acc_tolerance: the loose rule's tolerance (used when no pair meets the undefended model's accuracy).
        defense_labels: display names of the defenses.
        ccl_runs: CCL runs (CCEL, CCQL) of the same seeds and recipe to compare instead of ``df``'s, e.g. the
            full grids of ``evidence-figure2-location``: Fig. 2/3 compares the *best* CCL setting of its grid,
            and one setting may miss the undefended model's accuracy.  Both readings use the same CCL runs.

    Returns:
        ``{reading: (verdict, pair, rule)}`` for the readings of :data:`BASELINE_READINGS`.
    """
    variant = df["hp_variant"] if "hp_variant" in df.columns else None
    if variant is None or not (variant == "ccl_code").any():
        raise ValueError(
            "the frame holds no baseline run with variant='ccl_code' (run the experiment variants-location)"
        )
    if ccl_runs is not None:
        import pandas as pd

        ccl = ccl_runs[ccl_runs["defense"].isin(CCL) & ccl_runs["seed"].isin(set(df["seed"]))]
        if ccl.empty:
            raise ValueError(f"ccl_runs holds no CCEL or CCQL run of the frame's seeds {sorted(set(df['seed']))}")
        df = pd.concat([df[~df["defense"].isin(CCL)], ccl], ignore_index=True)
        variant = df["hp_variant"] if "hp_variant" in df.columns else None
        assert variant is not None  # df kept its column
    coded = set(df.loc[variant == "ccl_code", "defense"])
    out = {}
    for reading in BASELINE_READINGS:
        keep = ~df["defense"].isin(coded) | (variant.fillna("paper") == reading)
        frames = seed_frames(df[keep], defense_labels)
        out[reading] = figure23_verdict(frames, rule_table(frames, 0.0), rule_table(frames, acc_tolerance))
    return out


def variant_view(verdicts: Mapping[str, tuple]):
    """:func:`variant_verdicts` for reading: per reading, the pair compared, the rule and the verdict.

    Args:
        verdicts: :func:`variant_verdicts`.
    """
    import pandas as pd

    rows, head = [], f"verdict (paper: {100 * PAPER_EXAMPLE_EFFECT:+.1f} points)"
    for reading, (v, pair, rule) in verdicts.items():
        rows.append({"baselines": BASELINE_READINGS[reading], "best CCL": pair[0]["point"] if pair else "none",
                     "best baseline": pair[1]["point"] if pair else "none", "accuracy rule": rule,
                     "CCL - baseline, highest advantage (95 %)": v.interval.format(percent=True, digits=1),
                     head: v.label(percent=True, digits=1)})  # fmt: skip
    return pd.DataFrame(rows).set_index("baselines")


def grid_cost(specs: Sequence[Any], *, ledger: Any = None, workers: int = 2) -> dict[str, Any]:
    """What ``specs`` cost, from the wall seconds the evidence ledger recorded for runs of the same data set and
    length: per defense the median over its recorded runs, else the median over all of them (imputed). The
    median, not the mean: a run whose process was paused or shared the CPU records a wall time many times its
    cost, and one such run would move a mean over twenty.

    Args:
        specs: the runs (e.g. Fig. 2/3's paper grids at 10 seeds, :func:`ccl_lib.experiments.grid`).
        ledger: the ledger (folder or :class:`~ccl_lib.experiments.ledger.Ledger`; default the checkout's).
        workers: parallel runs for the wall-clock estimate.

    Returns:
        ``{"runs", "recorded"`` (how many the ledger holds already), ``"seconds"`` (one worker), ``"hours"``,
        ``"hours_parallel"`` (``workers`` at once), ``"measured_from"`` (records used), ``"machines"``,
        ``"per_defense"`` (a frame: runs, seconds per run, measured or imputed)}; the seconds are NaN when the
        ledger holds no run of that data set and length.
    """
    import pandas as pd

    from ..experiments.ledger import resolve_ledger

    specs = list(specs)
    if not specs:
        raise ValueError("specs must be a non-empty list of RunSpec")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    led = resolve_ledger(ledger if ledger is not None else True)
    like = {(s.dataset, s.epochs) for s in specs}
    secs: dict[str, list[float]] = {}
    machines = set()
    for rec in led.records(warn=False) if led is not None else []:
        sp, prov = rec.get("spec", {}), rec.get("provenance", {})
        if (sp.get("dataset"), sp.get("epochs")) in like and prov.get("wall_seconds"):
            secs.setdefault(str(sp.get("defense")), []).append(float(prov["wall_seconds"]))
            machines.add(f"{prov.get('cpu', '?')} ({prov.get('threads', '?')} torch thread(s))")
    every = [x for v in secs.values() for x in v]
    rows = []
    for d in dict.fromkeys(s.defense for s in specs):
        n = sum(s.defense == d for s in specs)
        per = float(np.median(secs[d] if d in secs else every)) if every else math.nan
        source = "measured" if d in secs else ("imputed" if every else "no record of this length")
        rows.append({"defense": d, "runs": n, "seconds_per_run": per, "source": source})
    per_defense = pd.DataFrame(rows).set_index("defense")
    total = float((per_defense["runs"] * per_defense["seconds_per_run"]).sum(skipna=False))
    held = set(led.keys()) if led is not None else set()
    return {"runs": len(specs), "recorded": sum(s.key() in held for s in specs), "seconds": total,
            "hours": total / 3600, "hours_parallel": total / 3600 / workers, "measured_from": len(every),
            "machines": ", ".join(sorted(machines)), "per_defense": per_defense}  # fmt: skip


def variant_scorecard_row(reading: str, result: tuple, *, experiment: str, scale_cause: str) -> dict[str, Any]:
    """A Fig 2/3 scorecard row for one reading of :func:`variant_verdicts`.

    Args:
        reading: a key of :data:`BASELINE_READINGS`.
        result: its ``(verdict, pair, rule)``.
        experiment: the named experiment the runs come from.
        scale_cause: the scale difference from the paper, for the cause of a verdict that does not agree.
    """
    v, pair, rule = result
    what = f"best CCL ({pair[0]['point']}) - best baseline ({pair[1]['point']})" if pair else "no pair qualifies"
    setting = f"{experiment}, {v.interval.n} seeds; baselines {BASELINE_READINGS[reading]}; highest advantage, "
    return {"item": "Fig 2/3", "setting": setting + f"{what}, {rule} accuracy rule", "verdict": v, "percent": True,
            "digits": 1,
            "cause": "" if v.word == "agrees" else f"{scale_cause}; one setting per baseline"}  # fmt: skip
