"""Lemma C.1 / Proposition C.2: the delta method under a Dirichlet model of the softmax output
(:func:`dirichlet_moments`, :func:`dirichlet_delta_method`, :func:`dirichlet_monte_carlo`,
:func:`prob_metric`), and the honest check of the proposition, Monte Carlo against the delta
method over ``alpha_0`` (:func:`proposition_c2_table`): it holds for concentrated outputs only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

from .p_losses import (
    Tensor,
)


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
