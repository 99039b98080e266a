"""Theorem 3.1 (convex losses): ``E[l(p_y)] >= A eps + B/2 (eps^2 + sigma^2)`` with ``A = -l'(1)``
and ``B = inf l''`` (:func:`taylor_bound`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from .p_losses import (
    LossSpec,
    Tensor,
    _as_prob_tensor,
    _curvature_range,
    _resolve_loss,
    loss_derivatives,
)


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
