"""Sec. 6, "Can our method achieve global minimum?": multinomial logistic regression minimized
from many random starts (:func:`logistic_regression_minima`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Union

import numpy as np
import torch

from ..losses import (
    ConcaveTerm,
    get_concave_term,
    true_class_log_prob,
)
from .p_losses import (
    Tensor,
    _check_alpha,
)

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
