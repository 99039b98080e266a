"""Eq. 10-11 and Proposition 4.2: the closed-form CCL gradient with respect to the logits and its
bounds (:func:`ccl_logit_gradient`, :func:`autograd_logit_gradient`, :func:`gradient_check`,
:func:`gradient_bounds`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..losses import (
    ConcaveTerm,
    concave_coefficient,
    convex_concave_loss,
    cross_entropy,
    get_concave_term,
    true_class_log_prob,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

from .p_losses import (
    Tensor,
    _check_alpha,
)


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
