"""Appendix D (Fig. 6) of Liu et al. (ICML 2024): CCL's concave term added to focal loss.

:func:`pick_alpha` applies the appendix's choice of alpha; :func:`appendix_d_verdicts`
returns the numbers the chapter quotes.
"""

from __future__ import annotations

from typing import Any

from .runs import strongest_attack_rows

__all__ = ["appendix_d_verdicts", "pick_alpha"]


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
