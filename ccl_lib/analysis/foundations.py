"""The foundation chapters' computations: chapter 1 (one membership-inference attack, Eq. 2) and chapter 3
(the anatomy of CCL: losses of p_y, Eq. 10-11, Prop. 4.2).

Chapter 1:

* :func:`membership_findings` -- the numbers its prose glues, by name (prefix ``ch01``).

Chapter 3:

* :func:`loss_shapes` -- each loss of ``p_y`` and its curvature on a grid, with a table at a few points;
* :func:`unit_weight_crossings` -- where the concave term's gradient weight equals cross-entropy's (1);
* :func:`coefficient_bounds` -- CCL's acceleration coefficient (Eq. 11) against Prop. 4.2's bounds;
* :func:`anatomy_findings` / :func:`anatomy_scorecard_rows` -- its glued values and scorecard row.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "anatomy_findings",
    "anatomy_scorecard_rows",
    "coefficient_bounds",
    "loss_shapes",
    "membership_findings",
    "unit_weight_crossings",
]


def _pct(x: float, digits: int = 1) -> str:
    from ..formatting import pct

    return pct(float(x), digits)


def membership_findings(
    *,
    final: Any,
    report: Any,
    target_in: np.ndarray,
    target_out: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    attack: Mapping[str, float],
    num_classes: int,
    n_shadow_in: int,
) -> dict[str, Any]:
    """Chapter 1's findings (names without the ``ch01_`` prefix): the target's accuracies and losses, the loss
    attack with the shadow model's threshold (Eq. 2 with footnote 2) against the oracle, and the suite.

    Args:
        final: the last epoch per model, indexed ``target``/``shadow``, with ``train accuracy`` and
            ``test accuracy`` columns.
        report: :func:`ccl_lib.attacks.run_attacks`' frame (``attack``, ``advantage``, ``advantage_oracle``,
            ``tpr@1%``).
        target_in: the target's per-example losses on its members.
        target_out: on its non-members.
        scores: the loss attack's scores on members then non-members (higher: member).
        labels: 1 for members, 0 for non-members.
        attack: the global loss attack's ``adv_shadow``, ``adv_oracle``, ``tpr_shadow``, ``fpr_shadow``, ``auc``.
        num_classes: classes of the data set.
        n_shadow_in: the shadow model's members.
    """
    from ..metrics import tpr_at_fpr

    rep = report.set_index("attack")
    loss_row, target = rep.loc["loss"], final.loc["target"]
    tpr1_global = tpr_at_fpr(scores, labels, 0.01)
    best = rep["advantage"].idxmax()
    oracle_gap = rep["advantage_oracle"] - rep["advantage"]
    return {
        "train_acc": _pct(target["train accuracy"]),
        "test_acc": _pct(target["test accuracy"]),
        "loss_in": float(np.mean(target_in)),
        "loss_out": float(np.mean(target_out)),
        "adv_shadow": _pct(attack["adv_shadow"]),
        "adv_oracle": _pct(attack["adv_oracle"]),
        "tpr_shadow": _pct(attack["tpr_shadow"]),
        "fpr_shadow": _pct(attack["fpr_shadow"]),
        "auc": attack["auc"],
        "tpr1_global": _pct(tpr1_global),
        "loss_adv_class": _pct(loss_row["advantage"]),
        "loss_oracle_class": float(loss_row["advantage_oracle"]),
        "loss_tpr1_class": _pct(loss_row["tpr@1%"]),
        "class_vs_global": "higher" if loss_row["advantage"] > attack["adv_shadow"] else "lower",
        "class_vs_global_tpr": "higher" if loss_row["tpr@1%"] > tpr1_global else "lower",
        "best_attack": str(best).replace("_", " "),
        "best_adv": _pct(rep.loc[best, "advantage"]),
        "gap_min": _pct(oracle_gap.min()),
        "gap_max": _pct(oracle_gap.max()),
        "n_members": f"{len(target_in):,}",
        "n_classes": num_classes,
        "per_class": int(round(n_shadow_in / num_classes)),
    }


def loss_shapes(
    losses: Mapping[str, Callable], p: np.ndarray, points: Sequence[float] = (0.1, 0.5, 0.9)
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], Any]:
    """Each loss of ``p_y`` and its second derivative on ``p`` (:func:`ccl_lib.theory.loss_derivatives`), and a
    table: the loss at ``points`` and the curvature at 0.1, 0.9 and 1 (convex > 0 > concave; Sec. 3-4).

    Args:
        losses: ``{name: loss of p_y}`` (:func:`ccl_lib.theory.p_loss`).
        p: the grid of ``p_y`` in (0, 1].
        points: where the table gives the loss.
    """
    import pandas as pd

    from ..theory import loss_derivatives

    curves, rows = {}, []
    for name, fn in losses.items():
        val, _, d2 = loss_derivatives(fn, p)
        curves[name] = (val, d2)
        at = {q: loss_derivatives(fn, [q]) for q in (*points, 0.1, 0.9, 1.0)}
        rows.append({"loss": name, **{f"l({q:g})": float(at[q][0][0]) for q in points},
                     "l''(0.1)": float(at[0.1][2][0]), "l''(0.9)": float(at[0.9][2][0]),
                     "l''(1)": float(at[1.0][2][0])})  # fmt: skip
    return curves, pd.DataFrame(rows)


def unit_weight_crossings(concaves: Sequence[str] = ("exp", "quadratic")) -> dict[str, float]:
    """Per concave term: the ``p_y`` at which its weight on the CE gradient, ``-p_y l~'(p_y)`` (Eq. 11 at
    ``alpha = 0``), equals cross-entropy's weight 1 (root by Brent's method on (1e-6, 1)).

    Args:
        concaves: names of :data:`ccl_lib.losses.CONCAVE_TERMS`.
    """
    import torch
    from scipy.optimize import brentq

    from ..losses import CONCAVE_TERMS, concave_coefficient

    def minus_one(q: float, f: Any) -> float:
        return float(concave_coefficient(torch.tensor([q], dtype=torch.float64), 0.0, f)[0]) - 1.0

    return {c: float(brentq(minus_one, 1e-6, 1.0, args=(CONCAVE_TERMS[c],))) for c in concaves}


def coefficient_bounds(coefficients: Mapping[tuple[str, float], np.ndarray]) -> Any:
    """Prop. 4.2's bounds on CCL's acceleration coefficient ``alpha - (1 - alpha) p_y l~'(p_y)`` (Eq. 11):
    ``alpha <= coefficient <= alpha + (1 - alpha) A`` with ``A = -l~'(1)``; one row per (concave term, alpha)
    with the coefficient at both ends of the grid.

    Args:
        coefficients: ``{(concave term, alpha): coefficient on a p_y grid from near 0 to 1}``.
    """
    import pandas as pd
    import torch

    from ..losses import CONCAVE_TERMS

    rows = []
    for (concave, a), c in coefficients.items():
        one = torch.ones(1, dtype=torch.float64, requires_grad=True)
        slope = -float(torch.autograd.grad(CONCAVE_TERMS[concave](one).sum(), one)[0])
        rows.append({"concave term": concave, "alpha": a, "A": slope, "lower bound": a,
                     "upper bound": a + (1 - a) * slope, "coefficient at p_y = 0.001": float(c[0]),
                     "coefficient at p_y = 1": float(c[-1])})  # fmt: skip
    return pd.DataFrame(rows)


def anatomy_findings(shape: Any, cross: Mapping[str, float], check: Any, *, gamma: float) -> dict[str, Any]:
    """Chapter 3's findings (names without the ``ch03_`` prefix): where CCEL's coefficient stops accelerating,
    focal loss's and CE's curvature at 0.1 and 0.9, the unit-weight crossings and the gradient check's errors.

    Args:
        shape: :func:`loss_shapes`' table.
        cross: :func:`unit_weight_crossings`' output.
        check: :func:`ccl_lib.theory.gradient_check`'s frame (``dtype``, ``max_abs_error``).
        gamma: the focal loss's exponent (names its row).
    """
    rows = shape.set_index("loss")
    focal, ce = rows.loc[f"focal (γ={gamma:g})"], rows.loc["CE"]
    return {
        "crit_exp": float(np.e / (1 + np.e)),  # alpha - (1 - alpha) e = 0
        "focal_d2_01": float(focal["l''(0.1)"]),
        "ce_d2_01": float(ce["l''(0.1)"]),
        "focal_d2_09": float(focal["l''(0.9)"]),
        "ce_d2_09": float(ce["l''(0.9)"]),
        "cross_exp": cross["exp"],
        "cross_qua": cross["quadratic"],
        "worst64": float(check.loc[check.dtype == "float64", "max_abs_error"].max()),
        "worst32": float(check.loc[check.dtype == "float32", "max_abs_error"].max()),
    }


def anatomy_scorecard_rows(findings: Mapping[str, Any], *, n_check: int) -> list[dict[str, Any]]:
    """Chapter 3's scorecard row (Prop. 4.2): the closed-form CCL gradient (Eq. 10-11) agrees with autograd when
    the largest error is below 1e-12 in float64 and 1e-5 in float32.

    Args:
        findings: :func:`anatomy_findings`' output.
        n_check: the number of random logit vectors checked.
    """
    w64, w32 = findings["worst64"], findings["worst32"]
    ok = w64 < 1e-12 and w32 < 1e-5
    setting = f"closed-form CCL gradient (Eq. 10-11) vs autograd, {n_check} logit vectors"
    return [{"item": "Prop 4.2", "setting": setting,
             "verdict": "agrees" if ok else "not reproduced",
             "interval": f"largest |closed form - autograd|: {w64:.1e} (float64), {w32:.1e} (float32)",
             "cause": "" if ok else "the closed form departs from autograd beyond round-off"}]  # fmt: skip
