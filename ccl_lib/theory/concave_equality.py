"""Theorem 3.2 (concave losses): ``E[l(p_y)] = A eps + B (eps^2 + sigma^2)`` with ``B <= 0``
(:func:`taylor_coefficient`, :func:`concave_coefficient_B`), exactly for an empirical sample or
for a Beta distribution of ``p_y`` (:func:`beta_expected_loss`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from numpy.typing import ArrayLike

from .p_losses import (
    LossSpec,
    PLoss,
    Tensor,
    _as_prob_tensor,
    _curvature_range,
    _resolve_loss,
    loss_derivatives,
    p_loss,
)


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
