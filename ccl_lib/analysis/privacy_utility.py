"""Figures 2 and 3 of Liu et al. (ICML 2024): privacy-utility trade-offs of CCL and the baselines.

:func:`defense_grid` builds the chapter's sweep, :func:`best_at_utility` applies Sec. 5.2's rule
(the lowest advantage among settings at least as accurate as the undefended model, behind the
paper's "29.67 % -> 18.40 %"), :func:`best_p1` ranks the defenses by their best P1 (Eq. 13),
and :func:`utility_verdicts` returns the numbers the chapter quotes.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

from .tables import setting_table

__all__ = ["BASELINES", "CPU_GRIDS", "best_at_utility", "best_p1", "defense_grid", "utility_verdicts"]

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
    from ..defenses import DEFENSE_NAMES

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
        from ..defenses import rescale_epochs

        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        for d, g in CPU_GRIDS.items():
            settings: list[dict[str, Any]] = [dict(p) for p in g]
            if d == "early_stopping":
                settings = [{**p, "epochs": list(rescale_epochs(p["epochs"], epochs, 300))} for p in settings]
            out[d] = settings
    return out


def best_at_utility(
    df, min_acc: Optional[float] = None, attacks: Optional[Sequence[str]] = None, tolerance: float = 0.0
):
    """Per attack and defense, the setting with the lowest advantage among those with
    ``test_acc >= min_acc`` (Sec. 5.2's rule).

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid` with a vanilla run (unless
            ``min_acc`` is given).
        min_acc: the accuracy a setting needs; default: the vanilla model's mean test accuracy
            minus ``tolerance``.
        attacks: keep only these attacks (default: all in the frame).
        tolerance: accuracy the default rule gives away, in [0, 1) (0.02 = two points).

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
    attacks): one number per defense for the whole privacy-utility curve, best first.

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid`.

    Returns:
        a frame with ``defense, point, test_acc, max_advantage, worst_attack, p1``, sorted by P1.
    """
    t = setting_table(df)
    idx = t.groupby("defense", sort=False)["p1"].idxmax()
    cols = ["defense", "point", "test_acc", "max_advantage", "worst_attack", "p1"]
    return t.loc[idx, cols].sort_values("p1", ascending=False).reset_index(drop=True)


def utility_verdicts(df, best, ranking=None) -> dict[str, Any]:
    """Chapter 7's numbers (Fig. 2/3).

    Args:
        df: the sweep's result frame (with a vanilla run).
        best: :func:`best_at_utility` (the paper's rule, or with a tolerance).
        ranking: :func:`best_p1` (optional).

    Returns:
        a dict: ``vanilla_acc``; ``vanilla_adv`` (``{attack: advantage}`` of the undefended
        model); ``attacks``; ``min_acc`` (the accuracy bar of ``best``); ``qualified`` (defenses
        with a setting meeting it); ``winner`` (``{attack: defense with the lowest advantage}``);
        ``ccl_wins`` (attacks won by CCEL or CCQL) and ``n_ccl_wins``; ``loss_ccl``,
        ``loss_ccl_defense``, ``loss_baseline``, ``loss_baseline_defense`` (the loss attack's best
        advantages, NaN/None if none qualifies); with ``ranking``: ``p1_rank`` (``{defense: rank
        among the defended}``), ``p1`` (``{defense: best P1}``) and ``p1_leader``.
    """
    van = df[df["defense"] == "vanilla"].groupby("attack", sort=False)[["advantage", "test_acc"]].mean()
    if len(van) == 0:
        raise ValueError("no vanilla run in the frame")
    attacks = [str(a) for a in van.index]
    out: dict[str, Any] = {
        "vanilla_acc": float(van["test_acc"].mean()),
        "vanilla_adv": {a: float(v) for a, v in van["advantage"].items()},
        "attacks": attacks,
        "min_acc": float(best.attrs.get("min_acc", math.nan)),
        "qualified": sorted(set(best["defense"])) if len(best) else [],
        "winner": {},
        "ccl_wins": [],
    }
    if len(best):
        win = best.loc[best.groupby("attack")["advantage"].idxmin()].set_index("attack")
        out["winner"] = {str(a): str(d) for a, d in win["defense"].items()}
        out["ccl_wins"] = [a for a in attacks if out["winner"].get(a) in ("ccel", "ccql")]
    out["n_ccl_wins"] = len(out["ccl_wins"])
    lb = best[best["attack"] == "loss"].set_index("defense")["advantage"] if len(best) else None
    c = lb.reindex(["ccel", "ccql"]).dropna() if lb is not None else None
    o = lb.drop(["ccel", "ccql"], errors="ignore") if lb is not None else None
    out["loss_ccl"] = float(c.min()) if c is not None and len(c) else math.nan
    out["loss_ccl_defense"] = str(c.idxmin()) if c is not None and len(c) else None
    out["loss_baseline"] = float(o.min()) if o is not None and len(o) else math.nan
    out["loss_baseline_defense"] = str(o.idxmin()) if o is not None and len(o) else None
    if ranking is not None and len(ranking):
        defended = ranking[ranking["defense"] != "vanilla"]
        out["p1_rank"] = {str(d): i + 1 for i, d in enumerate(defended["defense"])}
        out["p1"] = {str(d): float(p) for d, p in zip(ranking["defense"], ranking["p1"])}
        out["p1_leader"] = str(defended.iloc[0]["defense"]) if len(defended) else None
    return out
