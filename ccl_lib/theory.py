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
  simulation (:func:`simulate_loss_attack`).
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
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from .losses import (
    ConcaveTerm,
    concave_coefficient,
    convex_concave_loss,
    cross_entropy,
    get_concave_term,
    true_class_log_prob,
)
from .metrics import advantage_at_threshold

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
    "simulate_loss_attack",
    "taylor_bound",
    "taylor_coefficient",
]

Tensor = torch.Tensor
PLoss = Callable[[Tensor], Tensor]
LossSpec = Union[str, PLoss]

#: Names accepted by :func:`p_loss`.
P_LOSSES = ("ce", "focal", "exp", "quadratic", "ccel", "ccql")


# --------------------------------------------------------------------------- losses of p_y


def _check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float, np.floating)) and 0.0 <= float(alpha) <= 1.0):
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


def p_loss(name: str, *, alpha: float = 0.5, gamma: float = 2.0) -> PLoss:
    """A loss as a function of the true-class probability ``p_y``, shifted so that ``l(1) = 0``.

    Names (Sec. 3-4 of the paper):

    * ``"ce"`` -- cross-entropy ``-log p`` (Sec. 3.1);
    * ``"focal"`` -- focal loss ``-(1 - p)^gamma log p`` (Lin et al., 2017; Sec. 3.1);
    * ``"exp"`` -- the concave exponential term of Eq. 5, ``-exp(p) + e``;
    * ``"quadratic"`` -- the concave quadratic term of Eq. 6, ``-p - p^2/2 + 3/2``;
    * ``"ccel"`` / ``"ccql"`` -- the Convex-Concave Loss of Eq. 4 with cross-entropy
      and the exponential / quadratic term: ``alpha (-log p) + (1 - alpha) (f(p) - f(1))``.

    The concave terms come from :data:`ccl_lib.losses.CONCAVE_TERMS`; the constant
    shift ``-f(1)`` changes no gradient and makes Theorems 3.1-3.2 (which assume
    ``l(1) = 0``) applicable.

    Args:
        name: one of :data:`P_LOSSES`, as above.
        alpha: the CCL weight of the convex term in [0, 1] (``"ccel"``/``"ccql"`` only; Eq. 4).
        gamma: the focal exponent >= 0 (``"focal"`` only; 0 gives cross-entropy).
    """
    if name not in P_LOSSES:
        raise ValueError(f"unknown loss {name!r}; use one of {P_LOSSES} or pass a callable of p")
    alpha = _check_alpha(alpha)
    if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    if name == "ce":
        return lambda p: -torch.log(p)
    if name == "focal":
        return lambda p: -((1.0 - p).clamp_min(0.0) ** gamma) * torch.log(p)
    concave = get_concave_term("exp" if name in ("exp", "ccel") else "quadratic")
    one = torch.ones((), dtype=torch.float64)
    f1 = float(concave(one))
    if name in ("exp", "quadratic"):
        return lambda p: concave(p) - f1
    return lambda p: alpha * (-torch.log(p)) + (1.0 - alpha) * (concave(p) - f1)


def _resolve_loss(loss: LossSpec) -> PLoss:
    if isinstance(loss, str):
        return p_loss(loss)
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name in {P_LOSSES} or a callable of p, got {type(loss).__name__}")


def _as_prob_tensor(p: Union[ArrayLike, Tensor], *, closed_zero: bool = False) -> Tensor:
    t = torch.as_tensor(np.asarray(p, dtype=np.float64) if not isinstance(p, Tensor) else p.detach())
    t = t.to(torch.float64).reshape(-1)
    if t.numel() == 0:
        raise ValueError("need at least one probability")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("probabilities contain NaN or infinite values")
    lo_ok = (t >= 0) if closed_zero else (t > 0)
    if not bool(lo_ok.all()) or not bool((t <= 1).all()):
        interval = "[0, 1]" if closed_zero else "(0, 1]"
        raise ValueError(
            f"probabilities must lie in {interval}, got values in [{float(t.min()):.3g}, {float(t.max()):.3g}]"
        )
    return t


def loss_derivatives(
    loss: LossSpec, p: Union[np.ndarray, Tensor, Sequence[float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values ``l(p)``, first ``l'(p)`` and second ``l''(p)`` derivatives, by autograd in float64.

    These are the quantities of the Taylor expansions in the proofs of
    Theorems 3.1 and 3.2 (App. A-B).  ``p`` must lie in (0, 1].

    Args:
        loss: a name of :data:`P_LOSSES` (:func:`p_loss` with its defaults) or a callable
            mapping a float64 tensor of probabilities to a tensor of the same shape.
        p: probabilities in (0, 1].
    """
    fn = _resolve_loss(loss)
    x = _as_prob_tensor(p).clone().requires_grad_(True)
    y = fn(x)
    if not isinstance(y, Tensor) or y.shape != x.shape:
        raise ValueError("a loss of p must map a tensor of probabilities to a tensor of the same shape")
    (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    if d1.requires_grad:
        (d2,) = torch.autograd.grad(d1.sum(), x)
    else:  # linear loss: zero curvature
        d2 = torch.zeros_like(x)
    return y.detach().numpy(), d1.detach().numpy(), d2.detach().numpy()


def ce_gradient_weight(loss: LossSpec, p: Union[np.ndarray, Tensor, Sequence[float]]) -> np.ndarray:
    """The factor ``w(p) = -p l'(p)`` that turns the CE gradient into the gradient of ``l(p_y)``.

    For any loss of the true-class probability, ``d l / d z_j = l'(p_y) dp_y/dz_j =
    w(p_y) * (p_j - 1[j = y])``, i.e. ``w(p_y)`` times the cross-entropy gradient of
    Eq. 9.  For CE ``w = 1``; for the CCL of Eq. 4 ``w`` is the acceleration
    coefficient ``alpha - (1 - alpha) p f'(p)`` of Eq. 10-11; for focal loss ``w``
    falls to 0 as ``p -> 1``.

    Args:
        loss: a name of :data:`P_LOSSES` or a callable loss of ``p`` (as in :func:`loss_derivatives`).
        p: true-class probabilities in (0, 1].
    """
    pt = _as_prob_tensor(p)
    _, d1, _ = loss_derivatives(loss, pt)
    return -pt.numpy() * d1


def _curvature_range(fn: PLoss, lo: float = 1e-6, hi: float = 1.0) -> tuple[float, float]:
    """(min, max) of ``l''`` on ``[lo, hi]``: a dense grid refined by a bounded scalar search."""
    from scipy.optimize import minimize_scalar

    grid = np.unique(np.r_[np.geomspace(lo, hi, 2001), np.linspace(lo, hi, 2001)])
    _, _, d2 = loss_derivatives(fn, grid)
    out = []
    for sign in (1.0, -1.0):
        i = int(np.argmin(sign * d2))
        best = float(d2[i])
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        if b > a:
            res = minimize_scalar(
                lambda t, sign=sign: sign * float(loss_derivatives(fn, [t])[2][0]),
                bounds=(a, b),
                method="bounded",
                options={"xatol": 1e-12},
            )
            val = sign * float(res.fun)
            if res.success and sign * val < sign * best:
                best = val
        out.append(best)
    return out[0], out[1]


# --------------------------------------------------------------------------- Theorem 3.1


@dataclass(frozen=True)
class TaylorBound:
    """Theorem 3.1 evaluated on one distribution of ``p_y``.

    Attributes:
        expected_loss: ``E[l(p_y)]``.
        eps: ``1 - E[p_y]``.
        sigma2: ``Var(p_y)`` (population variance).
        A: ``-l'(1)``.
        B: the curvature lower bound used (``inf l''`` on (0, 1] unless given).
        bound: ``A eps + B/2 (eps^2 + sigma^2)``.
        coefficient: the exact ``c`` with ``E[l] = A eps + c (eps^2 + sigma^2)``
            (Theorem 3.2's normalization; Theorem 3.1 says ``c >= B/2``).
        holds: ``expected_loss >= bound`` (up to 1e-12 relative rounding).
    """

    expected_loss: float
    eps: float
    sigma2: float
    A: float
    B: float
    bound: float
    coefficient: float
    holds: bool


def taylor_bound(
    loss: LossSpec, p_samples: Union[np.ndarray, Tensor, Sequence[float]], *, B: Optional[float] = None
) -> TaylorBound:
    """Theorem 3.1: the lower bound ``A eps + B/2 (eps^2 + sigma^2)`` on ``E[l(p_y)]``.

    Args:
        loss: a name of :func:`p_loss` or a callable of ``p`` with ``l(1) = 0``,
            convex on (0, 1] (checked on a grid).
        p_samples: samples of ``p_y`` in (0, 1]; expectations are sample means
            and ``sigma^2`` is the population (``ddof=0``) variance, so the bound
            holds *exactly* for the empirical distribution (it is the average of
            the pointwise inequality ``l(p) >= A (1-p) + B/2 (1-p)^2``).
        B: a lower bound of ``l''`` on (0, 1]; default ``inf l''`` computed
            numerically on (1e-6, 1].

    The theorem's hypothesis ``l' < 0`` on (0, 1] fails at ``p = 1`` for the focal
    loss (``l'(1) = l''(1) = 0`` for ``gamma = 2``): there ``A = B = 0`` and the
    bound is the trivial ``E[l] >= 0``, while ``coefficient`` is still positive.
    """
    fn = _resolve_loss(loss)
    p = _as_prob_tensor(p_samples)
    l1, d1, _ = loss_derivatives(fn, [1.0])
    if abs(l1[0]) > 1e-9:
        raise ValueError(f"Theorem 3.1 assumes l(1) = 0, got l(1) = {l1[0]:.3g}; subtract the constant l(1)")
    cmin, _ = _curvature_range(fn)
    if cmin < -1e-9:
        raise ValueError(
            f"Theorem 3.1 needs a convex loss, but l'' reaches {cmin:.3g} < 0 on (0, 1]; "
            "use taylor_coefficient / concave_coefficient_B for non-convex losses"
        )
    if B is None:
        B = max(cmin, 0.0)
    elif not (isinstance(B, (int, float)) and math.isfinite(B) and B >= 0):
        raise ValueError(f"B must be a finite number >= 0 (a lower bound of l''), got {B!r}")
    elif B > cmin + 1e-9 * max(1.0, abs(cmin)):
        raise ValueError(f"B = {B} is not a lower bound of l'' on (0, 1]: inf l'' = {cmin:.6g}")
    values = fn(p).detach().numpy()
    pn = p.numpy()
    e_loss = float(values.mean())
    eps = float(1.0 - pn.mean())
    sigma2 = float(pn.var())
    A = float(-d1[0])
    bound = A * eps + 0.5 * B * (eps * eps + sigma2)
    second = eps * eps + sigma2
    coef = (e_loss - A * eps) / second if second > 0 else float("nan")
    holds = e_loss >= bound - 1e-12 * max(1.0, abs(bound))
    return TaylorBound(e_loss, eps, sigma2, A, float(B), float(bound), float(coef), bool(holds))


# --------------------------------------------------------------------------- Theorem 3.2


def _check_beta(beta: Sequence[float]) -> tuple[float, float]:
    if len(beta) != 2:
        raise ValueError(f"beta must be a pair (a, b) of Beta parameters, got {beta!r}")
    a, b = float(beta[0]), float(beta[1])
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"Beta parameters must be finite and > 0, got a={a}, b={b}")
    return a, b


def beta_expected_loss(loss: LossSpec, a: float, b: float) -> float:
    """``E[l(p)]`` for ``p ~ Beta(a, b)``, by adaptive quadrature (QUADPACK via ``scipy.integrate.quad``).

    The integral is split at the mean.  A side whose density is singular at its
    endpoint (``a < 1`` at 0, ``b < 1`` at 1) is integrated with QUADPACK's
    algebraic weight for that endpoint, so the singularity is exact; the other
    sides integrate ``l(x) * pdf(x)`` with the density computed in log space and
    break points at the mean +- 3 standard deviations (concentrated densities).

    Args:
        loss: a name of :data:`P_LOSSES` or a callable loss of ``p``.
        a: the Beta distribution's first shape parameter (> 0).
        b: its second shape parameter (> 0); the mean is ``a / (a + b)``.
    """
    from scipy.integrate import quad
    from scipy.special import betaln

    a, b = _check_beta((a, b))
    fn = _resolve_loss(loss)
    log_b = float(betaln(a, b))

    def g(x: float) -> float:
        return float(fn(torch.tensor([min(max(x, 1e-300), 1.0)], dtype=torch.float64))[0])

    def log_part(x: float, ea: float, eb: float) -> float:
        out = -log_b
        if ea:
            out += ea * math.log(max(x, 1e-300))
        if eb:
            out += eb * math.log1p(-min(x, 1.0 - 1e-16))
        return math.exp(out)

    m = a / (a + b)
    s = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1.0)))
    opts = dict(limit=400, epsabs=1e-14, epsrel=1e-11)
    if a < 1:
        left = quad(lambda x: g(x) * log_part(x, 0.0, b - 1.0), 0.0, m, weight="alg", wvar=(a - 1.0, 0.0), **opts)[0]
    else:
        pts = [p for p in (m - 3 * s, m - s) if 0.0 < p < m]
        left = quad(lambda x: g(x) * log_part(x, a - 1.0, b - 1.0), 0.0, m, points=pts or None, **opts)[0]
    if b < 1:
        right = quad(lambda x: g(x) * log_part(x, a - 1.0, 0.0), m, 1.0, weight="alg", wvar=(0.0, b - 1.0), **opts)[0]
    else:
        pts = [p for p in (m + s, m + 3 * s) if m < p < 1.0]
        right = quad(lambda x: g(x) * log_part(x, a - 1.0, b - 1.0), m, 1.0, points=pts or None, **opts)[0]
    return float(left + right)


def _moments(loss: PLoss, samples: Optional[ArrayLike], beta: Optional[Sequence[float]]) -> tuple[float, float, float]:
    """(E[l(p)], eps, sigma^2) for samples or a Beta(a, b) distribution."""
    if (samples is None) == (beta is None):
        raise ValueError("give exactly one of samples= (draws of p_y) or beta=(a, b)")
    if samples is not None:
        p = _as_prob_tensor(samples)
        pn = p.numpy()
        return float(loss(p).detach().numpy().mean()), float(1.0 - pn.mean()), float(pn.var())
    assert beta is not None  # exactly one of the two is given
    a, b = _check_beta(beta)
    mean = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1.0))
    return beta_expected_loss(loss, a, b), 1.0 - mean, var


def taylor_coefficient(
    loss: LossSpec,
    *,
    samples: Union[np.ndarray, Tensor, Sequence[float], None] = None,
    beta: Optional[Sequence[float]] = None,
) -> float:
    """The exact coefficient ``B`` of Eq. 3: ``E[l(p_y)] = A eps + B (eps^2 + sigma^2)``.

    ``A = -l'(1)``, ``eps = 1 - E[p_y]``, ``sigma^2 = Var(p_y)``; the distribution of
    ``p_y`` is the empirical one of ``samples`` or ``Beta(a, b)`` with ``beta=(a, b)``
    (expectation by quadrature, :func:`beta_expected_loss`).  By the Taylor
    expansion of App. B, ``B = E[l''(xi)(1-p)^2] / (2 E[(1-p)^2])``, so it lies in
    ``[min l''/2, max l''/2]``: positive for convex, negative for concave losses.

    Args:
        loss: a name of :data:`P_LOSSES` or a callable loss of ``p`` with ``l(1) = 0``.
        samples: draws of ``p_y`` in (0, 1] (give this or ``beta``).
        beta: ``(a, b)`` of a Beta distribution of ``p_y`` (give this or ``samples``).
    """
    fn = _resolve_loss(loss)
    l1, d1, _ = loss_derivatives(fn, [1.0])
    if abs(l1[0]) > 1e-9:
        raise ValueError(f"Eq. 3 assumes l(1) = 0, got l(1) = {l1[0]:.3g}; subtract the constant l(1)")
    e_loss, eps, sigma2 = _moments(fn, samples, beta)
    second = eps * eps + sigma2
    if second <= 0:
        raise ValueError("p_y is identically 1: eps^2 + sigma^2 = 0 and B is undefined")
    return float((e_loss - float(-d1[0]) * eps) / second)


@dataclass(frozen=True)
class ConcaveCoefficient:
    """Theorem 3.2 evaluated on one distribution of ``p_y``.

    ``B`` is the exact coefficient of Eq. 3; the proof (App. B) writes it as
    ``l''(xi)/2`` for some ``xi`` in [0, 1], so ``B_min <= B <= B_max < 0`` with
    ``B_min, B_max = min l''/2, max l''/2`` over [0, 1].

    Attributes:
        B: the exact coefficient of ``eps^2 + sigma^2`` in Eq. 3 (negative).
        B_min: ``min l''/2`` over [0, 1].
        B_max: ``max l''/2`` over [0, 1] (< 0 for a strictly concave loss).
        A: ``-l'(1)``.
        eps: ``1 - E[p_y]``.
        sigma2: ``Var(p_y)`` (population variance).
        expected_loss: ``E[l(p_y)]``.
    """

    B: float
    B_min: float
    B_max: float
    A: float
    eps: float
    sigma2: float
    expected_loss: float


def _concave_shape_of(fn: PLoss) -> tuple[float, float, float]:
    """(A = -l'(1), min l'', max l'') of a loss checked to be strictly concave and decreasing on [0, 1]."""
    l1, _, _ = loss_derivatives(fn, [1.0])
    if abs(l1[0]) > 1e-9:
        raise ValueError(f"Eq. 3 assumes l(1) = 0, got l(1) = {l1[0]:.3g}; subtract the constant l(1)")
    grid = np.linspace(1e-9, 1.0, 2001)
    _, d1, d2 = loss_derivatives(fn, grid)
    if not (d2 < 0).all():
        raise ValueError(
            f"Theorem 3.2 needs a strictly concave loss on [0, 1]; l'' reaches {d2.max():.3g} >= 0 "
            "(for convex losses use taylor_bound)"
        )
    if not (d1 < 0).all():
        raise ValueError(f"Theorem 3.2 needs l' < 0 on [0, 1]; l' reaches {d1.max():.3g}")
    cmin, cmax = _curvature_range(fn, lo=1e-9)
    return float(-d1[-1]), cmin, cmax


@functools.cache
def _concave_shape(name: str) -> tuple[float, float, float]:
    return _concave_shape_of(p_loss(name))


def concave_coefficient_B(
    loss: LossSpec,
    *,
    samples: Union[np.ndarray, Tensor, Sequence[float], None] = None,
    beta: Optional[Sequence[float]] = None,
) -> ConcaveCoefficient:
    """Theorem 3.2: the (negative) coefficient ``B`` of ``eps^2 + sigma^2`` for a concave loss.

    Args:
        loss: a strictly concave, decreasing loss of ``p`` on [0, 1] with ``l(1) = 0``,
            e.g. ``"exp"`` (Eq. 5) or ``"quadratic"`` (Eq. 6); checked on a grid.
        samples: draws of ``p_y`` in (0, 1] (give this or ``beta``; see :func:`taylor_coefficient`).
        beta: ``(a, b)`` of a Beta distribution of ``p_y`` (give this or ``samples``).

    Note that ``B`` depends on the distribution of ``p_y``; the theorem only fixes
    its sign (and the proof its range ``[min l''/2, max l''/2]``).
    """
    fn = _resolve_loss(loss)
    A, cmin, cmax = _concave_shape(loss) if isinstance(loss, str) else _concave_shape_of(fn)
    e_loss, eps, sigma2 = _moments(fn, samples, beta)
    second = eps * eps + sigma2
    if second <= 0:
        raise ValueError("p_y is identically 1: eps^2 + sigma^2 = 0 and B is undefined")
    B = (e_loss - A * eps) / second
    return ConcaveCoefficient(float(B), 0.5 * cmin, 0.5 * cmax, A, eps, sigma2, e_loss)


# --------------------------------------------------------------------------- Eq. 10-11, Prop. 4.2


def _check_logits(logits: Tensor, targets: Tensor) -> None:
    if not isinstance(logits, Tensor) or not isinstance(targets, Tensor):
        raise TypeError("logits and targets must be torch tensors")
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating-point (N, K) tensor, got {tuple(logits.shape)} {logits.dtype}")
    if targets.dim() != 1 or len(targets) != len(logits):
        raise ValueError(f"targets must have shape ({len(logits)},), got {tuple(targets.shape)}")


def ccl_logit_gradient(
    logits: Tensor, targets: Tensor, alpha: float = 0.5, concave: Union[str, ConcaveTerm] = "exp"
) -> Tensor:
    """Closed-form gradient of the per-sample CCL w.r.t. the logits, Eq. 10-11.

    ``d l_ccl / d z = [alpha - (1 - alpha) p_y f'(p_y)] (softmax(z) - onehot(y))``,
    i.e. the acceleration coefficient (:func:`ccl_lib.losses.concave_coefficient`)
    times the cross-entropy gradient of Eq. 9.  Returns an (N, K) tensor (the
    gradient of ``reduction="sum"``, one row per example).

    Args:
        logits: (N, K) floating-point logits ``z``.
        targets: (N,) integer labels ``y``.
        alpha: the weight of the convex (cross-entropy) term in [0, 1] (Eq. 4).
        concave: the concave term ``f``: ``"exp"`` (Eq. 5), ``"quadratic"`` (Eq. 6), or a
            :class:`ccl_lib.losses.ConcaveTerm`.
    """
    _check_logits(logits, targets)
    alpha = _check_alpha(alpha)
    z = logits.detach()
    prob = torch.softmax(z, dim=1)
    ce_grad = prob - F.one_hot(targets.long(), z.shape[1]).to(z.dtype)
    p_y = true_class_log_prob(z, targets).exp()
    coef = concave_coefficient(p_y, alpha, concave).to(z.dtype)
    return coef[:, None] * ce_grad


def autograd_logit_gradient(loss_fn: Callable[[Tensor, Tensor], Tensor], logits: Tensor, targets: Tensor) -> Tensor:
    """Per-example gradient of ``loss_fn(logits, targets, reduction="sum")``-style losses by autograd.

    ``loss_fn(z, t)`` must return the *sum* of per-example losses (e.g.
    ``lambda z, t: convex_concave_loss(z, t, 0.5, "exp", reduction="sum")``); since
    example ``i``'s loss depends only on row ``i``, row ``i`` of the result is the
    gradient of that example's loss.

    Args:
        loss_fn: ``loss_fn(logits, targets) -> scalar`` summing per-example losses.
        logits: (N, K) floating-point logits (detached and copied; not modified).
        targets: (N,) integer labels.
    """
    _check_logits(logits, targets)
    z = logits.detach().clone().requires_grad_(True)
    out = loss_fn(z, targets)
    if not isinstance(out, Tensor) or out.dim() != 0:
        raise ValueError("loss_fn must return a scalar (use reduction='sum')")
    (g,) = torch.autograd.grad(out, z)
    return g


def gradient_check(
    alphas: Sequence[float] = (0.1, 0.5, 0.9),
    concaves: Sequence[str] = ("exp", "quadratic"),
    dtypes: Sequence[torch.dtype] = (torch.float32, torch.float64),
    n: int = 512,
    num_classes: int = 10,
    logit_scale: float = 5.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare Eq. 10-11 with autograd on random logits; one row per (concave, alpha, dtype).

    Logits are ``logit_scale * N(0, 1)`` (so ``p_y`` covers (0, 1)).  Columns:
    ``concave, alpha, dtype, max_abs_error, max_abs_grad, max_rel_error`` -- the
    largest absolute difference between the closed form and autograd, the
    largest gradient entry, and their ratio.  Returns a pandas DataFrame.

    Args:
        alphas: CCL weights in [0, 1] to check.
        concaves: concave terms (names of :data:`ccl_lib.losses.CONCAVE_TERMS`).
        dtypes: floating-point dtypes in which both gradients are computed.
        n: number of random examples (>= 1).
        num_classes: number of classes K (>= 2).
        logit_scale: standard deviation of the random logits.
        seed: seeds the logits and labels.
    """
    import pandas as pd

    if n < 1 or num_classes < 2:
        raise ValueError(f"need n >= 1 and num_classes >= 2, got {n}, {num_classes}")
    gen = torch.Generator().manual_seed(seed)
    z64 = logit_scale * torch.randn(n, num_classes, generator=gen, dtype=torch.float64)
    t = torch.randint(0, num_classes, (n,), generator=gen)
    rows = []
    for concave in concaves:
        for alpha in alphas:
            for dtype in dtypes:
                z = z64.to(dtype)
                loss_fn = functools.partial(convex_concave_loss, alpha=alpha, concave=concave, reduction="sum")
                auto = autograd_logit_gradient(loss_fn, z, t)
                closed = ccl_logit_gradient(z, t, alpha, concave)
                err = float((auto - closed).abs().max())
                big = float(auto.abs().max())
                rows.append(
                    dict(
                        concave=concave,
                        alpha=float(alpha),
                        dtype=str(dtype).replace("torch.", ""),
                        max_abs_error=err,
                        max_abs_grad=big,
                        max_rel_error=err / big if big > 0 else 0.0,
                    )
                )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GradientBounds:
    """Proposition 4.2 on a batch of logits.

    Attributes:
        p_y: (N,) true-class probabilities.
        ratio: (N, K) ``(d l_ccl / d z_j) / (d l_ce / d z_j)`` (NaN where the CE gradient is 0).
        lower, upper: ``alpha`` and ``alpha + A (1 - alpha)`` with ``A = -f'(1)``.
        A: ``-f'(1)`` of the concave term.
        holds: every finite ratio lies in ``[lower, upper]`` (relative tolerance 1e-6),
            i.e. the CCL gradient has the sign of the CE gradient and a magnitude
            between ``lower`` and ``upper`` times it.
    """

    p_y: np.ndarray
    ratio: np.ndarray
    lower: float
    upper: float
    A: float
    holds: bool


def gradient_bounds(
    logits: Tensor, targets: Tensor, alpha: float = 0.5, concave: Union[str, ConcaveTerm] = "exp"
) -> GradientBounds:
    """Proposition 4.2 (Eq. 12): ``alpha |g_ce| <= |g_ccl| <= [alpha + A(1-alpha)] |g_ce|``, same signs.

    Both gradients are computed by autograd (float64) from
    :func:`ccl_lib.losses.convex_concave_loss` and :func:`ccl_lib.losses.cross_entropy`.
    The paper writes Eq. 12 without absolute values; for ``j = y`` the CE gradient
    ``p_y - 1`` is negative, so the bound holds for magnitudes (the ratio), which is
    what this checks.

    Args:
        logits: (N, K) floating-point logits (evaluated in float64).
        targets: (N,) integer labels.
        alpha: the CCL weight in (0, 1] (the proposition needs ``alpha > 0``).
        concave: the concave term: ``"exp"``, ``"quadratic"`` or a :class:`ccl_lib.losses.ConcaveTerm`.
    """
    _check_logits(logits, targets)
    alpha = _check_alpha(alpha)
    if alpha == 0:
        raise ValueError("Proposition 4.2 is stated for alpha > 0")
    f = get_concave_term(concave)
    z = logits.detach().to(torch.float64)
    g_ccl = autograd_logit_gradient(lambda a, b: convex_concave_loss(a, b, alpha, f, reduction="sum"), z, targets)
    g_ce = autograd_logit_gradient(lambda a, b: cross_entropy(a, b, reduction="sum"), z, targets)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g_ce.numpy() != 0, g_ccl.numpy() / g_ce.numpy(), np.nan)
    one = torch.ones(1, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(f(one).sum(), one)
    A = float(-d1[0])
    lo, hi = alpha, alpha + A * (1.0 - alpha)
    r = ratio[np.isfinite(ratio)]
    holds = bool(((r >= lo * (1 - 1e-6)) & (r <= hi * (1 + 1e-6))).all())
    p_y = true_class_log_prob(z, targets).exp().numpy()
    return GradientBounds(p_y, ratio, lo, hi, A, holds)


# --------------------------------------------------------------------------- Theorem 6.1


def _check_gauss(mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike) -> None:
    for name, v in (("mu_s", mu_s), ("sigma_s", sigma_s), ("mu_d", mu_d), ("sigma_d", sigma_d)):
        if not np.all(np.isfinite(np.asarray(v, dtype=float))):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if np.any(np.asarray(sigma_s, dtype=float) <= 0) or np.any(np.asarray(sigma_d, dtype=float) <= 0):
        raise ValueError("standard deviations sigma_s and sigma_d must be > 0")


def gaussian_advantage_at_threshold(
    tau: ArrayLike, mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike
) -> Union[float, np.ndarray]:
    """Eq. 17: advantage of the rule ``loss <= tau`` when member losses are ``N(mu_s, sigma_s^2)``
    and non-member losses ``N(mu_d, sigma_d^2)``: ``Phi((tau-mu_s)/sigma_s) - Phi((tau-mu_d)/sigma_d)``.

    All arguments broadcast (NumPy); returns a float for scalar inputs.

    Args:
        tau: the loss threshold (finite).
        mu_s: mean loss of members (the training set).
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
    """
    from scipy.stats import norm

    _check_gauss(mu_s, sigma_s, mu_d, sigma_d)
    if not np.all(np.isfinite(np.asarray(tau, dtype=float))):
        raise ValueError(f"tau must be finite, got {tau!r}")
    tau, mu_s, sigma_s, mu_d, sigma_d = (np.asarray(v, dtype=np.float64) for v in (tau, mu_s, sigma_s, mu_d, sigma_d))
    out = norm.cdf((tau - mu_s) / sigma_s) - norm.cdf((tau - mu_d) / sigma_d)
    return float(out) if np.ndim(out) == 0 else out


def gaussian_advantage(
    mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike, fpr: ArrayLike
) -> Union[float, np.ndarray]:
    """Eq. 18: advantage of the loss-threshold attack at false-positive rate ``fpr``.

    The threshold is ``tau = mu_d + Phi^{-1}(fpr) sigma_d`` (so that a fraction
    ``fpr`` of non-members is flagged), and
    ``Adv = Phi((Phi^{-1}(fpr) sigma_d + mu_d - mu_s) / sigma_s) - fpr``.
    It decreases in ``sigma_s`` only while ``tau > mu_s``; when the threshold lies
    below the member mean (small ``fpr``, close means), it *increases* in ``sigma_s``.
    Arguments broadcast (NumPy).

    Args:
        mu_s: mean loss of members (the training set).
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
        fpr: the attacker's false positive rate, in (0, 1).
    """
    from scipy.stats import norm

    _check_gauss(mu_s, sigma_s, mu_d, sigma_d)
    fpr_a = np.asarray(fpr, dtype=np.float64)
    if np.any((fpr_a <= 0) | (fpr_a >= 1)):
        raise ValueError(f"fpr must lie in (0, 1), got {fpr!r}")
    mu_s, sigma_s, mu_d, sigma_d = (np.asarray(v, dtype=np.float64) for v in (mu_s, sigma_s, mu_d, sigma_d))
    out = norm.cdf((norm.ppf(fpr_a) * sigma_d + mu_d - mu_s) / sigma_s) - fpr_a
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class SimulatedAttack:
    """Monte Carlo loss-threshold attack (Eq. 14) under the Gaussian model of Theorem 6.1.

    Attributes:
        advantage: mean over repeats of the target's TPR - FPR.
        advantage_se: its standard error over repeats.
        tpr, fpr: mean true and false positive rates on the target samples.
        threshold: mean threshold ``tau`` calibrated on the shadow samples.
        closed_form: Eq. 18 at the requested ``fpr``.
    """

    advantage: float
    advantage_se: float
    tpr: float
    fpr: float
    threshold: float
    closed_form: float


def simulate_loss_attack(
    mu_s: float,
    sigma_s: float,
    mu_d: float,
    sigma_d: float,
    fpr: float,
    n: int = 10_000,
    n_shadow: Optional[int] = None,
    n_repeats: int = 20,
    seed: int = 0,
) -> SimulatedAttack:
    """Simulate the loss-threshold attack ``A_loss = 1[loss <= tau]`` (Eq. 14, Yeom et al., 2018).

    Each repeat draws ``n_shadow`` non-member losses from ``N(mu_d, sigma_d^2)`` to
    calibrate ``tau`` so that at most a fraction ``fpr`` of them is flagged
    (:func:`ccl_lib.attacks.threshold.threshold_at_fpr`; the attacker's shadow
    data, footnote 2 of the paper), then ``n`` member losses ``N(mu_s, sigma_s^2)`` and
    ``n`` non-member losses for the target, and scores the fixed rule with
    :func:`ccl_lib.metrics.advantage_at_threshold` (score = -loss).  The mean
    advantage converges to Eq. 18 as ``n, n_shadow`` grow.

    Args:
        mu_s: mean loss of members.
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
        fpr: the false positive rate in (0, 1) the threshold is calibrated to.
        n: target members and non-members drawn per repeat (>= 1).
        n_shadow: shadow non-members per repeat for the calibration (>= 2; default ``n``).
        n_repeats: number of repeats (>= 1).
        seed: seeds all draws.
    """
    for name, v in (("n", n), ("n_repeats", n_repeats)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    n_shadow = n if n_shadow is None else n_shadow
    if not (isinstance(n_shadow, (int, np.integer)) and n_shadow >= 2):
        raise ValueError(f"n_shadow must be an integer >= 2, got {n_shadow!r}")
    closed = float(gaussian_advantage(mu_s, sigma_s, mu_d, sigma_d, fpr))  # scalar arguments: a float
    from .attacks.threshold import threshold_at_fpr

    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)]
    advs, tprs, fprs, taus = [], [], [], []
    for _ in range(n_repeats):
        shadow = rng.normal(mu_d, sigma_d, n_shadow)
        tau = -threshold_at_fpr(-shadow, fpr)  # score = -loss; flag loss <= tau
        losses = np.r_[rng.normal(mu_s, sigma_s, n), rng.normal(mu_d, sigma_d, n)]
        advs.append(advantage_at_threshold(-losses, labels, -tau))
        tprs.append(float((losses[:n] <= tau).mean()))
        fprs.append(float((losses[n:] <= tau).mean()))
        taus.append(tau)
    a = np.asarray(advs)
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")
    return SimulatedAttack(
        float(a.mean()), se, float(np.mean(tprs)), float(np.mean(fprs)), float(np.mean(taus)), closed
    )


# --------------------------------------------------------------------------- Lemma C.1, Prop. C.2


def _entropy(p: Tensor, y: int) -> Tensor:
    return -torch.special.xlogy(p, p).sum(-1)


def _m_entropy(p: Tensor, y: int) -> Tensor:
    # Song & Mittal (2021): -(1 - p_y) log p_y - sum_{k != y} p_k log(1 - p_k)
    py = p[..., y]
    others = torch.special.xlogy(p, (1.0 - p).clamp_min(1e-300))
    others = others.sum(-1) - others[..., y]
    return -(1.0 - py) * torch.log(py.clamp_min(1e-300)) - others


def _ce(p: Tensor, y: int) -> Tensor:
    return -torch.log(p[..., y].clamp_min(1e-300))


def _confidence(p: Tensor, y: int) -> Tensor:
    return p[..., y]


#: Metrics of a probability vector used by metric-based attacks (App. C).
PROB_METRICS = {"entropy": _entropy, "m_entropy": _m_entropy, "ce": _ce, "confidence": _confidence}


def prob_metric(name: str, y: int = 0) -> Callable[[Tensor], Tensor]:
    """A metric ``f(P)`` of a probability vector (last dimension), for true class ``y``.

    ``"entropy"`` (Salem et al., 2019), ``"m_entropy"`` (modified entropy, Song &
    Mittal, 2021), ``"ce"`` (``-log P_y``, the loss of Yeom et al., 2018) and
    ``"confidence"`` (``P_y``).  Differentiable in ``P`` (used for the Jacobian of
    Lemma C.1); ``0 log 0 = 0`` and logs are clamped at 1e-300.

    Args:
        name: one of :data:`PROB_METRICS`, as above.
        y: the true class index (>= 0) for the class-dependent metrics.
    """
    if name not in PROB_METRICS:
        raise ValueError(f"unknown metric {name!r}; use one of {sorted(PROB_METRICS)}")
    if not (isinstance(y, (int, np.integer)) and y >= 0):
        raise ValueError(f"y must be a non-negative class index, got {y!r}")
    fn = PROB_METRICS[name]
    return lambda p: fn(p, int(y))


def _check_dirichlet(alpha_vec: ArrayLike) -> np.ndarray:
    a = np.asarray(alpha_vec, dtype=np.float64).reshape(-1)
    if a.size < 2:
        raise ValueError(f"a Dirichlet needs at least 2 concentration parameters, got {a.size}")
    if not (np.isfinite(a).all() and (a > 0).all()):
        raise ValueError("Dirichlet concentration parameters must be finite and > 0")
    return a


def dirichlet_moments(alpha_vec: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``mu = alpha / alpha_0`` and covariance ``Sigma`` of ``Dirichlet(alpha)`` (App. C).

    ``Sigma_ii = mu_i (1 - mu_i) / (alpha_0 + 1)`` and
    ``Sigma_ij = -mu_i mu_j / (alpha_0 + 1)``, i.e. ``(diag(mu) - mu mu^T) / (alpha_0 + 1)``.

    Args:
        alpha_vec: the K >= 2 concentration parameters (finite, > 0); ``alpha_0`` is their sum.
    """
    a = _check_dirichlet(alpha_vec)
    a0 = a.sum()
    mu = a / a0
    return mu, (np.diag(mu) - np.outer(mu, mu)) / (a0 + 1.0)


def dirichlet_delta_method(alpha_vec: Sequence[float], f: Callable[[Tensor], Tensor]) -> float:
    """Lemma C.1 (Eq. 21): ``Var(f(P)) ~= J(mu)^T Sigma J(mu)`` for ``P ~ Dirichlet(alpha)``.

    ``J`` is the gradient of ``f`` at the mean ``mu`` (autograd, float64) and
    ``Sigma`` the Dirichlet covariance (:func:`dirichlet_moments`).  Since
    ``Sigma 1 = 0``, the result does not depend on how ``f`` extends off the simplex.

    Args:
        alpha_vec: the K >= 2 concentration parameters (finite, > 0).
        f: a differentiable scalar function of a (K,) probability vector (e.g. :func:`prob_metric`).
    """
    mu, sigma = dirichlet_moments(alpha_vec)
    x = torch.tensor(mu, dtype=torch.float64, requires_grad=True)
    val = f(x)
    if not isinstance(val, Tensor) or val.numel() != 1:
        raise ValueError("f must map a probability vector (K,) to a scalar")
    (J,) = torch.autograd.grad(val.reshape(()), x)
    j = J.numpy()
    return float(j @ sigma @ j)


def dirichlet_monte_carlo(
    alpha_vec: Sequence[float], f: Callable[[Tensor], Tensor], n_samples: int = 100_000, seed: int = 0
) -> tuple[float, float]:
    """Monte Carlo ``Var(f(P))`` for ``P ~ Dirichlet(alpha)``: (variance, standard error).

    Draws ``n_samples`` vectors (NumPy, float64), evaluates ``f`` row-wise in
    torch, and returns the sample variance with its standard error
    ``sqrt((m4 - s^4) / n)`` (``m4`` the fourth central moment).

    Args:
        alpha_vec: the K >= 2 concentration parameters (finite, > 0).
        f: maps (n, K) probability vectors to (n,) values.
        n_samples: number of draws (>= 10).
        seed: seeds the draws.
    """
    a = _check_dirichlet(alpha_vec)
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 10):
        raise ValueError(f"n_samples must be an integer >= 10, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(a, size=int(n_samples))
    v = f(torch.from_numpy(p)).detach().numpy().reshape(-1)
    if v.shape[0] != n_samples:
        raise ValueError("f must map (n, K) probability vectors to (n,) values")
    c = v - v.mean()
    s2 = float((c * c).mean())
    m4 = float((c**4).mean())
    return s2, math.sqrt(max(m4 - s2 * s2, 0.0) / n_samples)


def proposition_c2_table(
    mu: Sequence[float] = (0.7, 0.2, 0.1),
    alpha0s: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 1000.0),
    metric: str = "entropy",
    y: int = 0,
    n_samples: int = 100_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Proposition C.2 checked honestly: Monte Carlo ``Var(f(P))`` over ``alpha_0`` against the delta method.

    Proposition C.2 claims that, at a fixed mean ``mu`` of ``P ~ Dirichlet(alpha_0 mu)``, a larger
    ``Var(P_i) = mu_i (1 - mu_i) / (alpha_0 + 1)`` (a smaller ``alpha_0``) gives a larger
    ``Var(f(P))``.  Its proof compares delta-method approximations (Lemma C.1, Eq. 21), which
    scale as ``1 / (alpha_0 + 1)`` *by construction*, so it holds there trivially; whether the
    *true* variance follows is a question for Monte Carlo.  Away from concentrated outputs it does
    not: for ``mu = (.7, .2, .1)`` the entropy's variance is about 0.029, 0.085, 0.060, 0.021 at
    ``alpha_0`` = 0.1, 2, 5, 20 -- it *rises* with ``alpha_0`` below about 2.

    Args:
        mu: the fixed mean of ``P`` (positive, sums to 1).
        alpha0s: total concentrations ``alpha_0`` (each > 0), sorted ascending in the result.
        metric: a name of :data:`PROB_METRICS` (``"entropy"``, ``"m_entropy"``, ``"ce"``, ``"confidence"``).
        y: the true class for label-dependent metrics.
        n_samples, seed: Monte Carlo draws per ``alpha_0`` (:func:`dirichlet_monte_carlo`).

    Returns:
        a DataFrame, one row per ``alpha_0`` (ascending): ``alpha0``, ``var_py`` (exact
        ``Var(P_y)``), ``mc_var`` and ``mc_se`` (Monte Carlo ``Var(f(P))`` and its standard error),
        ``delta_var`` (Eq. 21), ``rel_error`` (``delta_var / mc_var - 1``), and, comparing with
        the next larger ``alpha_0`` (smaller ``Var(P_y)``): ``holds`` -- the Monte Carlo variance
        is larger here, as the proposition claims; ``significant`` -- the difference exceeds 3
        standard errors; ``delta_holds`` -- the same for the delta method (always True).  The
        last row has no successor (``holds`` etc. are ``None``).
    """
    import pandas as pd

    m = np.asarray(mu, dtype=np.float64)
    if m.ndim != 1 or m.size < 2 or not np.all(m > 0) or abs(m.sum() - 1.0) > 1e-9:
        raise ValueError(f"mu must be a probability vector with positive entries summing to 1, got {mu!r}")
    a0s = np.sort(np.asarray(alpha0s, dtype=np.float64).ravel())
    if a0s.size < 2 or not np.all(np.isfinite(a0s)) or np.any(a0s <= 0):
        raise ValueError(f"alpha0s must hold at least two finite concentrations > 0, got {alpha0s!r}")
    if not (isinstance(y, (int, np.integer)) and 0 <= y < m.size):
        raise ValueError(f"y must be a class index in [0, {m.size - 1}], got {y!r}")
    f = prob_metric(metric, int(y))
    rows: list[dict[str, Any]] = []  # floats, then the bool/None verdict columns
    for i, a0 in enumerate(a0s):
        mc, se = dirichlet_monte_carlo(a0 * m, f, n_samples, seed=seed + i)
        dm = dirichlet_delta_method(a0 * m, f)
        rows.append({"alpha0": float(a0), "var_py": float(m[y] * (1 - m[y]) / (a0 + 1)), "mc_var": mc, "mc_se": se,
                     "delta_var": dm, "rel_error": dm / mc - 1.0 if mc > 0 else math.nan})  # fmt: skip
    for r, nxt in zip(rows, rows[1:] + [None]):
        if nxt is None:
            r.update(holds=None, significant=None, delta_holds=None)
            continue
        diff = r["mc_var"] - nxt["mc_var"]
        r["holds"] = bool(diff > 0)
        r["significant"] = bool(abs(diff) > 3 * math.hypot(r["mc_se"], nxt["mc_se"]))
        r["delta_holds"] = bool(r["delta_var"] > nxt["delta_var"])
    df = pd.DataFrame(rows)
    df.attrs.update(mu=m.tolist(), metric=metric, y=int(y), n_samples=int(n_samples))
    return df


# --------------------------------------------------------------------------- Sec. 6: global minimum

LR_OBJECTIVES = ("ce", "h_of_g", "ccl", "concave")


@dataclass(frozen=True)
class LRMinima:
    """Multinomial logistic regression minimized from ``n_starts`` random starts.

    Attributes:
        objective: the objective's name (see :func:`logistic_regression_minima`).
        values: (n_starts,) final objective values.
        grad_norms: (n_starts,) final gradient norms (max abs entry).
        ce_values: (n_starts,) the regularized cross-entropy ``g`` at each end point.
        params: (n_starts, d + 1, K) end points (last row: biases, centered over classes).
        value_spread: ``max(values) - min(values)``.
        max_param_diff: largest entry-wise distance of an end point to the best one.
        max_prob_diff: largest difference of a predicted probability to the best end point's.
        start_values: (n_starts,) objective values at the starts.
        ce_grad_norms: (n_starts,) gradient norm (max abs entry) of ``g`` at each end point:
            zero exactly at the minimizer of ``g``.
        n_iter: (n_starts,) L-BFGS iterations.
    """

    objective: str
    values: np.ndarray
    grad_norms: np.ndarray
    ce_values: np.ndarray
    params: np.ndarray
    value_spread: float
    max_param_diff: float
    max_prob_diff: float
    start_values: np.ndarray
    ce_grad_norms: np.ndarray
    n_iter: np.ndarray


def _lr_objective(
    name: str, alpha: float, concave: ConcaveTerm, l2: float
) -> Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]:
    f1 = float(concave(torch.ones((), dtype=torch.float64)))

    def g_fn(w: Tensor, b: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        logits = x @ w + b
        logp = true_class_log_prob(logits, y)
        g = -logp.mean() + 0.5 * l2 * (w * w).sum()
        return g, logp

    def obj(w: Tensor, b: Tensor, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        g, logp = g_fn(w, b, x, y)
        reg = 0.5 * l2 * (w * w).sum()
        if name == "ce":
            return g, g
        if name == "h_of_g":  # Sec. 6: f = h(g(w)) with h(x) = f(exp(-x)), the whole objective
            return concave(torch.exp(-g)) - f1, g
        per_sample = concave(logp.exp()) - f1
        if name == "concave":
            return per_sample.mean() + reg, g
        return alpha * (-logp).mean() + (1.0 - alpha) * per_sample.mean() + reg, g  # "ccl"

    return obj


def _single_thread_blas():
    """Limit native thread pools (BLAS, OpenMP) to one thread; returns an object with
    ``restore_original_limits()`` (a no-op stand-in when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn

        class _NoLimit:
            def restore_original_limits(self) -> None:
                pass

        return _NoLimit()
    return threadpool_limits(limits=1)


def logistic_regression_minima(
    x: Union[np.ndarray, Tensor],
    y: Union[np.ndarray, Tensor],
    objective: str = "ce",
    *,
    alpha: float = 0.5,
    concave: Union[str, ConcaveTerm] = "exp",
    l2: float = 1e-3,
    n_starts: int = 10,
    init_scale: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-9,
    seed: int = 0,
    progress: Optional[bool] = None,
) -> LRMinima:
    """Minimize a multinomial logistic-regression objective from random starts with L-BFGS-B (Sec. 6).

    With ``g(W, b) = mean_i CE(x_i W + b, y_i) + l2/2 ||W||^2`` (Eq. 19 plus an L2
    penalty that makes ``g`` strictly convex, so its minimum is unique and finite),
    the objectives are:

    * ``"ce"`` -- ``g`` itself;
    * ``"h_of_g"`` -- ``h(g) = f(exp(-g)) - f(1)``, the composition analysed in Sec. 6
      (Eq. 20): ``h' > 0``, so it has exactly the stationary points of ``g``;
    * ``"ccl"`` -- the per-example CCL used in training,
      ``mean_i [alpha CE_i + (1 - alpha)(f(p_i) - f(1))] + l2/2 ||W||^2``;
    * ``"concave"`` -- the per-example concave term alone,
      ``mean_i [f(p_i) - f(1)] + l2/2 ||W||^2``.

    Only ``"h_of_g"`` is covered by the paper's argument; for ``"ccl"`` and
    ``"concave"`` the concave function is applied to each example's loss before
    averaging, which is a different objective with its own minimizer.

    Args:
        x: (n, d) features (standardize them first).
        y: (n,) integer labels in [0, K).
        objective: one of ``"ce"``, ``"h_of_g"``, ``"ccl"``, ``"concave"``.
        alpha, concave: CCL weight (Eq. 4) and concave term (Eq. 5-6 or a callable in F).
        l2: L2 penalty on ``W`` (> 0; biases are not penalized).
        n_starts: random starts ``W, b ~ init_scale * N(0, 1)``.
        init_scale: standard deviation of the random starts (>= 0; 0 starts every run at zero).
        max_iter, tol: L-BFGS-B iterations and gradient tolerance (``scipy.optimize.minimize``,
            value and gradient by autograd in float64).
        seed: seeds the starts.
        progress: tqdm bar over starts (default: on unless ``CCL_PROGRESS=0``).
    """
    if objective not in LR_OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; use one of {LR_OBJECTIVES}")
    alpha = _check_alpha(alpha)
    f = get_concave_term(concave)
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 > 0):
        raise ValueError(f"l2 must be a finite number > 0 (it makes the minimum unique), got {l2!r}")
    if not (isinstance(n_starts, int) and n_starts >= 1):
        raise ValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    if not (init_scale >= 0 and math.isfinite(init_scale)):
        raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(torch.float64)
    yt = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y)
    if xt.dim() != 2 or yt.dim() != 1 or len(xt) != len(yt) or len(xt) == 0:
        raise ValueError(f"x must be (n, d) and y (n,) with the same n > 0, got {tuple(xt.shape)}, {tuple(yt.shape)}")
    if yt.dtype.is_floating_point or yt.dtype == torch.bool:
        raise ValueError(f"y must hold integer labels, got {yt.dtype}")
    if not bool(torch.isfinite(xt).all()):
        raise ValueError("x contains NaN or infinite values")
    yt = yt.long()
    if int(yt.min()) < 0:
        raise ValueError("labels must be >= 0")
    k = int(yt.max()) + 1
    if k < 2:
        raise ValueError("need at least two classes")
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"
    from scipy.optimize import minimize

    obj = _lr_objective(objective, alpha, f, float(l2))
    d = xt.shape[1]
    n_w = d * k

    def unpack(theta: Tensor) -> tuple[Tensor, Tensor]:
        return theta[:n_w].view(d, k), theta[n_w:]

    def value_and_grad(theta_np: np.ndarray) -> tuple[float, np.ndarray]:
        theta = torch.from_numpy(np.array(theta_np, dtype=np.float64)).requires_grad_(True)
        val = obj(*unpack(theta), xt, yt)[0]
        (grad,) = torch.autograd.grad(val, theta)
        return float(val.detach()), grad.numpy().copy()

    def ce_grad_norm(theta_np: np.ndarray) -> float:
        theta = torch.from_numpy(np.array(theta_np, dtype=np.float64)).requires_grad_(True)
        g = _lr_objective("ce", alpha, f, float(l2))(*unpack(theta), xt, yt)[0]
        (grad,) = torch.autograd.grad(g, theta)
        return float(grad.abs().max())

    gen = torch.Generator().manual_seed(seed)
    values, grads, ce_values, ce_grads, params, starts, probs, iters = [], [], [], [], [], [], [], []
    # Tiny problems: BLAS/OpenMP threads (torch's and the L-BFGS-B routine's) only add
    # synchronization, up to milliseconds per call on a busy machine.  The optimization runs
    # single-threaded; the settings are restored afterwards.
    n_threads = torch.get_num_threads()
    limiter = _single_thread_blas()  # records the original limits before anything changes
    torch.set_num_threads(1)
    try:
        starts_iter: Iterable[int] = range(n_starts)
        if progress:
            from tqdm.auto import tqdm

            starts_iter = tqdm(starts_iter, desc=f"L-BFGS ({objective})", leave=False)
        for _ in starts_iter:
            theta0 = (init_scale * torch.randn(n_w + k, generator=gen, dtype=torch.float64)).numpy()
            starts.append(value_and_grad(theta0)[0])
            res = minimize(
                value_and_grad,
                theta0,
                jac=True,
                method="L-BFGS-B",
                options=dict(maxiter=max_iter, gtol=tol, ftol=0.0, maxcor=30, maxls=50),
            )
            theta = torch.from_numpy(np.asarray(res.x, dtype=np.float64))
            w, b = unpack(theta)
            with torch.no_grad():
                val, g = obj(w, b, xt, yt)
                values.append(float(val))
                ce_values.append(float(g))
                params.append(torch.cat([w, (b - b.mean())[None]], 0).numpy().copy())
                probs.append(torch.softmax(xt @ w + b, 1).numpy())
            grads.append(float(np.abs(value_and_grad(res.x)[1]).max()))
            ce_grads.append(ce_grad_norm(res.x))
            iters.append(int(res.nit))
    finally:
        limiter.restore_original_limits()
        torch.set_num_threads(n_threads)
    values_a = np.asarray(values)
    params_a = np.stack(params)
    best = int(np.argmin(values_a))
    return LRMinima(
        objective=objective,
        values=values_a,
        grad_norms=np.asarray(grads),
        ce_values=np.asarray(ce_values),
        params=params_a,
        value_spread=float(values_a.max() - values_a.min()),
        max_param_diff=float(np.abs(params_a - params_a[best]).max()),
        max_prob_diff=float(max(np.abs(pr - probs[best]).max() for pr in probs)),
        start_values=np.asarray(starts),
        ce_grad_norms=np.asarray(ce_grads),
        n_iter=np.asarray(iters),
    )
