"""Losses as functions of the true-class probability ``p_y``, normalized so that ``l(1) = 0``
(the form Theorems 3.1 and 3.2 need): :func:`p_loss`, :func:`loss_derivatives`, :func:`ce_gradient_weight`.

Conventions: probabilities are float64 tensors or arrays; a *loss of p* is a callable mapping a
float64 tensor of probabilities to a tensor of the same shape (what :func:`p_loss` returns).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Union

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..losses import (
    get_concave_term,
)

Tensor = torch.Tensor
PLoss = Callable[[Tensor], Tensor]
LossSpec = Union[str, PLoss]

#: Names accepted by :func:`p_loss`.
P_LOSSES = ("ce", "focal", "exp", "quadratic", "ccel", "ccql")


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
