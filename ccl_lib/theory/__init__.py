"""Numerical companions of the paper's theory (Liu et al., ICML 2024, Sec. 3, 4, 6, App. C).

Everything the "Theory, numerically" and "Anatomy of CCL" chapters compute:

* **Losses as functions of the true-class probability** ``p_y``
  (:func:`p_loss`, :func:`loss_derivatives`, :func:`ce_gradient_weight`), normalized so that ``l(1) = 0``
  as Theorems 3.1 and 3.2 require.
* **Theorem 3.1** (convex losses): ``E[l(p_y)] >= A eps + B/2 (eps^2 + sigma^2)``
  with ``A = -l'(1)`` and ``B = inf l''`` (:func:`taylor_bound`).
* **Theorem 3.2** (concave losses): ``E[l(p_y)] = A eps + B (eps^2 + sigma^2)``
  with ``B <= 0`` (:func:`taylor_coefficient`, :func:`concave_coefficient_B`),
  exactly for an empirical sample or for a Beta distribution of ``p_y``.
* **Eq. 10-11 and Proposition 4.2**: the closed-form CCL gradient with respect
  to the logits and its bounds (:func:`ccl_logit_gradient`,
  :func:`autograd_logit_gradient`, :func:`gradient_check`, :func:`gradient_bounds`).
* **Theorem 6.1** (Eq. 17-18): the loss-threshold attack under Gaussian losses
  (:func:`gaussian_advantage_at_threshold`, :func:`gaussian_advantage`) and its
  simulation (:func:`simulate_loss_attack`, :func:`shadow_loss_threshold`).
* **Lemma C.1 / Proposition C.2**: the delta method under a Dirichlet model of
  the softmax output (:func:`dirichlet_moments`, :func:`dirichlet_delta_method`,
  :func:`dirichlet_monte_carlo`, :func:`prob_metric`), and the honest check of the
  proposition, Monte Carlo against the delta method over ``alpha_0``
  (:func:`proposition_c2_table`): it holds for concentrated outputs only.
* **Sec. 6, "Can our method achieve global minimum?"**: multinomial logistic
  regression minimized from many random starts (:func:`logistic_regression_minima`).

Conventions: probabilities are float64 tensors or arrays; a *loss of p* is a
callable mapping a float64 tensor of probabilities to a tensor of the same
shape (what :func:`p_loss` returns).

One module per result: :mod:`~ccl_lib.theory.p_losses` (losses of ``p_y``),
:mod:`~ccl_lib.theory.convex_bound` (Thm 3.1), :mod:`~ccl_lib.theory.concave_equality` (Thm 3.2),
:mod:`~ccl_lib.theory.ccl_gradient` (Eq. 10-11, Prop. 4.2), :mod:`~ccl_lib.theory.loss_attack`
(Thm 6.1), :mod:`~ccl_lib.theory.dirichlet` (Lemma C.1, Prop. C.2) and
:mod:`~ccl_lib.theory.global_minimum` (Sec. 6), and :mod:`~ccl_lib.theory.chapter2` (the tables,
findings and scorecard rows of the book's chapter 2); every name is imported from ``ccl_lib.theory``.
"""

from __future__ import annotations

from .ccl_gradient import (
    GradientBounds,
    autograd_logit_gradient,
    ccl_logit_gradient,
    gradient_bounds,
    gradient_check,
)
from .chapter2 import (
    c2_findings,
    eq18_table,
    global_minimum_findings,
    global_minimum_table,
    prop42_scorecard_row,
    prop42_table,
    thm61_findings,
)
from .concave_equality import (
    ConcaveCoefficient,
    beta_expected_loss,
    concave_coefficient_B,
    taylor_coefficient,
)
from .convex_bound import (
    TaylorBound,
    taylor_bound,
)
from .dirichlet import (
    PROB_METRICS,
    dirichlet_delta_method,
    dirichlet_moments,
    dirichlet_monte_carlo,
    prob_metric,
    proposition_c2_table,
)
from .global_minimum import LR_OBJECTIVES as LR_OBJECTIVES  # not in __all__, as before
from .global_minimum import (
    LRMinima,
    logistic_regression_minima,
)
from .loss_attack import (
    SimulatedAttack,
    gaussian_advantage,
    gaussian_advantage_at_threshold,
    shadow_loss_threshold,
    simulate_loss_attack,
)
from .p_losses import (
    P_LOSSES,
    PLoss,
    ce_gradient_weight,
    loss_derivatives,
    p_loss,
)

__all__ = [
    "ConcaveCoefficient",
    "GradientBounds",
    "LRMinima",
    "PLoss",
    "P_LOSSES",
    "PROB_METRICS",
    "SimulatedAttack",
    "TaylorBound",
    "autograd_logit_gradient",
    "beta_expected_loss",
    "ccl_logit_gradient",
    "ce_gradient_weight",
    "concave_coefficient_B",
    "dirichlet_delta_method",
    "dirichlet_moments",
    "dirichlet_monte_carlo",
    "proposition_c2_table",
    "gaussian_advantage",
    "gaussian_advantage_at_threshold",
    "gradient_bounds",
    "gradient_check",
    "logistic_regression_minima",
    "loss_derivatives",
    "p_loss",
    "prob_metric",
    "shadow_loss_threshold",
    "simulate_loss_attack",
    "taylor_bound",
    "taylor_coefficient",
    "c2_findings",
    "eq18_table",
    "global_minimum_findings",
    "global_minimum_table",
    "prop42_scorecard_row",
    "prop42_table",
    "thm61_findings",
]
