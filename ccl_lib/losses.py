"""Loss functions of the paper: cross-entropy, focal loss and the Convex-Concave Loss.

The Convex-Concave Loss (CCL, Sec. 4, Eq. 4) is

    l_ccl = scale * (alpha * l_convex + (1 - alpha) * l_concave(p_y))

where ``l_convex`` is cross-entropy (the paper's choice) or focal loss (App. D),
``p_y`` is the softmax probability of the true class, and ``l_concave`` is a
function in the set F of Definition 4.1 (f' < 0 and f'' < 0 on [0, 1]):

* ``"exp"``       -> -exp(p_y)          (Eq. 5, "CCEL")
* ``"quadratic"`` -> -p_y - p_y**2 / 2  (Eq. 6, "CCQL")
* any callable ``f(p: Tensor) -> Tensor`` that is in F (checked numerically).

``scale`` multiplies the whole loss, as in the authors' release (App. E.1:
0.01 for CIFAR-10, 0.05 for CIFAR-100, 1 otherwise).

Each loss has a functional form (``torch.nn.functional`` style, with a
``reduction`` argument) and an ``nn.Module`` wrapper.  ``p_y`` is computed from
``log_softmax`` so that losses and gradients stay finite for logits of
magnitude 1e4 in float32 and float64.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "CONCAVE_TERMS",
    "ConcaveTerm",
    "ConvexConcaveLoss",
    "FocalLoss",
    "check_concave_term",
    "concave_coefficient",
    "convex_concave_loss",
    "cross_entropy",
    "focal_loss",
    "get_concave_term",
    "true_class_log_prob",
]

ConcaveTerm = Callable[[torch.Tensor], torch.Tensor]
REDUCTIONS = ("mean", "sum", "none")
CONVEX_LOSSES = ("ce", "focal")


def _concave_exp(p: torch.Tensor) -> torch.Tensor:
    """Eq. 5: the concave exponential term -exp(p_y)."""
    return -torch.exp(p)


def _concave_quadratic(p: torch.Tensor) -> torch.Tensor:
    """Eq. 6: the concave quadratic term -p_y - p_y^2 / 2."""
    return -p - 0.5 * p * p


#: The named concave terms of the paper (Eq. 5 and Eq. 6).
CONCAVE_TERMS: dict[str, ConcaveTerm] = {
    "exp": _concave_exp,
    "quadratic": _concave_quadratic,
}


def check_concave_term(f: ConcaveTerm, n_grid: int = 201, tol: float = 1e-9) -> None:
    """Check numerically that ``f`` belongs to the set F of Definition 4.1.

    F = {f in C^2[0, 1] : f'(x) < 0 and f''(x) < 0 for all x in [0, 1]}.
    The first and second derivatives are computed by autograd in float64 on
    ``n_grid`` points of [0, 1].  Raises ``ValueError`` naming the violated
    condition and the first point where it fails.

    Args:
        f: the candidate term, a callable ``f(p: Tensor) -> Tensor`` applied elementwise.
        n_grid: number of grid points on [0, 1] (>= 2).
        tol: a derivative counts as negative when it is below ``-tol`` (>= 0).
    """
    if not callable(f):
        raise TypeError(f"a concave term must be callable as f(p: Tensor) -> Tensor, got {type(f).__name__}")
    if isinstance(n_grid, bool) or not isinstance(n_grid, numbers.Integral) or n_grid < 2:
        raise ValueError(f"n_grid must be an integer >= 2 (points of [0, 1]), got {n_grid!r}")
    x = torch.linspace(0.0, 1.0, int(n_grid), dtype=torch.float64, requires_grad=True)
    try:
        y = f(x)
    except Exception as exc:  # pragma: no cover - message only
        raise ValueError(f"concave term {f!r} cannot be evaluated on a float64 tensor: {exc}") from exc
    if not isinstance(y, torch.Tensor) or y.shape != x.shape:
        raise ValueError(f"concave term {f!r} must map a tensor of probabilities to a tensor of the same shape")
    if not y.requires_grad:  # f does not depend on x: f' = 0
        raise ValueError(
            f"concave term {f!r} is not in F (Definition 4.1): it is constant, f' = 0, but f' < 0 is required"
        )
    (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    d1v = d1.detach()
    if not torch.isfinite(d1v).all():
        raise ValueError(f"concave term {f!r} has a non-finite first derivative on [0, 1]; it is not in F")
    bad1 = (d1v >= -tol).nonzero()
    if len(bad1):
        i = int(bad1[0, 0])
        raise ValueError(
            f"concave term {f!r} is not in F (Definition 4.1): f'(x) must be < 0 on [0, 1], "
            f"but f'({x[i].item():.3f}) = {d1v[i].item():.3g}"
        )
    if not d1.requires_grad:  # f' does not depend on x: f is affine, f'' = 0
        raise ValueError(
            f"concave term {f!r} is not in F (Definition 4.1): f''(x) must be < 0 on [0, 1], but f'' = 0 (f is affine)"
        )
    (d2,) = torch.autograd.grad(d1.sum(), x)
    if not torch.isfinite(d2).all():
        raise ValueError(f"concave term {f!r} has a non-finite second derivative on [0, 1]; it is not in F")
    bad2 = (d2 >= -tol).nonzero()
    if len(bad2):
        i = int(bad2[0, 0])
        raise ValueError(
            f"concave term {f!r} is not in F (Definition 4.1): f''(x) must be < 0 on [0, 1], "
            f"but f''({x[i].item():.3f}) = {d2[i].item():.3g}"
        )


def get_concave_term(concave: Union[str, ConcaveTerm]) -> ConcaveTerm:
    """Return the concave term named ``concave`` or validate a user callable.

    Names: ``"exp"`` (Eq. 5) and ``"quadratic"`` (Eq. 6).  A callable is checked
    with :func:`check_concave_term` and rejected with ``ValueError`` if it is
    not in F.

    Args:
        concave: ``"exp"``, ``"quadratic"`` or a callable ``f(p: Tensor) -> Tensor``.
    """
    if isinstance(concave, str):
        try:
            return CONCAVE_TERMS[concave]
        except KeyError:
            raise ValueError(
                f"unknown concave term {concave!r}; use one of {sorted(CONCAVE_TERMS)} "
                "or a callable in the set F of Definition 4.1"
            ) from None
    if callable(concave):
        check_concave_term(concave)
        return concave
    raise TypeError(f"concave must be a name or a callable, got {type(concave).__name__}")


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1] (Eq. 4), got {alpha!r}")
    return float(alpha)


def _check_scale(scale: float) -> float:
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0 (App. E.1 uses 0.01, 0.05 or 1), got {scale!r}")
    return float(scale)


def _check_gamma(gamma: float) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite number >= 0 (the paper uses 2), got {gamma!r}")
    return float(gamma)


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def _check_convex(convex: str) -> str:
    if convex not in CONVEX_LOSSES:
        raise ValueError(f"unknown convex loss {convex!r}; use one of {CONVEX_LOSSES}")
    return convex


def _validate(logits: torch.Tensor, targets: torch.Tensor, check_finite: bool) -> None:
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch tensors")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, K), got {tuple(logits.shape)}")
    if logits.shape[1] < 1:
        raise ValueError(f"logits must have at least one class column, got shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")
    if targets.dim() != 1 or targets.shape[0] != logits.shape[0]:
        raise ValueError(
            f"targets must have shape (N,) = ({logits.shape[0]},) to match logits "
            f"{tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    if targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise TypeError(f"targets must be integer class indices, got {targets.dtype}")
    if logits.shape[0] == 0:
        raise ValueError("empty batch: logits have 0 rows; a loss needs at least one example (its mean would be NaN)")
    if check_finite and targets.numel():
        k = logits.shape[1]
        lo, hi = int(targets.min()), int(targets.max())
        if lo < 0 or hi >= k:
            raise ValueError(f"targets must lie in [0, {k - 1}] for {k} classes, found values in [{lo}, {hi}]")
        if not bool(torch.isfinite(logits).all()):
            raise ValueError("logits contain NaN or infinite values")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def true_class_log_prob(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p_y for each row, computed with ``log_softmax`` (stable for large logits).

    Args:
        logits: (N, K) unnormalized scores.
        targets: (N,) integer labels in [0, K) (not validated here).
    """
    return F.log_softmax(logits, dim=1).gather(1, targets.long().unsqueeze(1)).squeeze(1)


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean", *, check_inputs: bool = True
) -> torch.Tensor:
    """Cross-entropy ``-log p_y`` (Sec. 3.1, Eq. 9 for its gradient), with input validation.

    Args:
        logits: (N, K) unnormalized scores.
        targets: (N,) integer labels in [0, K).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one loss per example).
        check_inputs: validate the label range and finiteness (each is a host sync);
            shapes and dtypes are always checked.
    """
    _check_reduction(reduction)
    _validate(logits, targets, check_inputs)
    return _reduce(-true_class_log_prob(logits, targets), reduction)


def _focal_from_logp(logp: torch.Tensor, gamma: float) -> torch.Tensor:
    if gamma == 0.0:
        return -logp
    # 1 - p_y = -expm1(log p_y) is exact for p_y close to 1 (where 1 - exp(.) cancels).  The
    # clamp at the smallest normal number keeps (1 - p)^(gamma - 1) finite for gamma < 1, so
    # the gradient stays finite (and 0) when p_y rounds to 1; the value there is 0 either way.
    q = (-torch.expm1(logp)).clamp_min(torch.finfo(logp.dtype).tiny)
    return -(q**gamma) * logp


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    reduction: str = "mean",
    *,
    check_inputs: bool = True,
) -> torch.Tensor:
    """Focal loss -(1 - p_y)^gamma log p_y (Lin et al., 2017; Sec. 3.1, App. D).

    The paper's Sec. 3.1 prints ``log(1 - p_y)``; the focal loss it uses (and
    the one that is convex and vanishes at p_y = 1, as Theorem 3.1 requires) is
    ``-(1 - p_y)^gamma log p_y``, which is what this computes.

    Args:
        logits: (N, K) unnormalized scores.
        targets: (N,) integer labels in [0, K).
        gamma: the focusing exponent (>= 0; 0 is cross-entropy, the paper uses 2).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one loss per example).
        check_inputs: validate the label range and finiteness (a host sync).
    """
    gamma = _check_gamma(gamma)
    _check_reduction(reduction)
    _validate(logits, targets, check_inputs)
    return _reduce(_focal_from_logp(true_class_log_prob(logits, targets), gamma), reduction)


def convex_concave_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.5,
    concave: Union[str, ConcaveTerm] = "exp",
    convex: str = "ce",
    scale: float = 1.0,
    reduction: str = "mean",
    *,
    gamma: float = 2.0,
    check_inputs: bool = True,
) -> torch.Tensor:
    """Convex-Concave Loss, Eq. 4: ``scale * (alpha * convex + (1 - alpha) * concave(p_y))``.

    Args:
        logits: (N, K) unnormalized scores.
        targets: (N,) integer labels in [0, K).
        alpha: trade-off in [0, 1]; ``alpha = 1`` is exactly the convex loss.
        concave: ``"exp"`` (Eq. 5, CCEL), ``"quadratic"`` (Eq. 6, CCQL) or a
            callable in F (Definition 4.1).
        convex: ``"ce"`` (Sec. 4) or ``"focal"`` (App. D, with ``gamma``).
        scale: factor on the whole loss (App. E.1); must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        gamma: focal-loss exponent for ``convex="focal"`` (App. D uses 2).
        check_inputs: validate label range and finiteness (one host sync)
            and check a callable ``concave`` against F; turn it off in inner
            loops once the inputs are known to be valid.

    The gradient w.r.t. the logits is Eq. 11 (for ``convex="ce"``):
    ``scale * [alpha - (1 - alpha) p_y f'(p_y)] * (softmax(z) - onehot(y))``.
    """
    alpha = _check_alpha(alpha)
    scale = _check_scale(scale)
    _check_convex(convex)
    _check_reduction(reduction)
    if convex == "focal":
        gamma = _check_gamma(gamma)
    f = get_concave_term(concave) if (isinstance(concave, str) or check_inputs) else concave
    _validate(logits, targets, check_inputs)
    logp = true_class_log_prob(logits, targets)
    convex_part = -logp if convex == "ce" else _focal_from_logp(logp, gamma)
    if alpha == 1.0:
        loss = convex_part
    else:
        loss = alpha * convex_part + (1.0 - alpha) * f(logp.exp())
    if scale != 1.0:
        loss = scale * loss
    return _reduce(loss, reduction)


def concave_coefficient(p_y: torch.Tensor, alpha: float, concave: Union[str, ConcaveTerm] = "exp") -> torch.Tensor:
    """The factor ``alpha - (1 - alpha) p_y f'(p_y)`` of Eq. 10-11 (>= alpha, Prop. 4.2).

    It multiplies the cross-entropy gradient; ``f'`` is computed by autograd.

    Args:
        p_y: true-class probabilities in [0, 1] (any shape).
        alpha: CCL's trade-off in [0, 1].
        concave: ``"exp"``, ``"quadratic"`` or a callable in F (see :func:`get_concave_term`).
    """
    alpha = _check_alpha(alpha)
    f = get_concave_term(concave)
    p = p_y.detach().clone().requires_grad_(True)
    (d1,) = torch.autograd.grad(f(p).sum(), p)
    return alpha - (1.0 - alpha) * p.detach() * d1


class FocalLoss(nn.Module):
    """Module form of :func:`focal_loss`.

    Args:
        gamma: the focusing exponent (>= 0).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        self.gamma = _check_gamma(gamma)
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return focal_loss(logits, targets, self.gamma, self.reduction)


class ConvexConcaveLoss(nn.Module):
    """Module form of :func:`convex_concave_loss` (Eq. 4), validated at construction.

    Args:
        alpha: trade-off in [0, 1]; ``alpha = 1`` is exactly the convex loss.
        concave: ``"exp"`` (Eq. 5, CCEL), ``"quadratic"`` (Eq. 6, CCQL) or a callable in F
            (Definition 4.1, checked here).
        convex: ``"ce"`` (Sec. 4) or ``"focal"`` (App. D, with ``gamma``).
        scale: factor on the whole loss (App. E.1); must be > 0.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        gamma: focal-loss exponent for ``convex="focal"``.
        check_inputs: validate labels and finiteness on every call (a host sync).
    """

    def __init__(
        self,
        alpha: float = 0.5,
        concave: Union[str, ConcaveTerm] = "exp",
        convex: str = "ce",
        scale: float = 1.0,
        reduction: str = "mean",
        gamma: float = 2.0,
        check_inputs: bool = True,
    ) -> None:
        super().__init__()
        alpha, scale = _check_alpha(alpha), _check_scale(scale)
        _check_convex(convex)
        _check_reduction(reduction)
        gamma = _check_gamma(gamma)
        self.concave_fn = get_concave_term(concave)
        self.concave = concave if isinstance(concave, str) else getattr(concave, "__name__", "custom")
        self.alpha, self.convex, self.scale = alpha, convex, scale
        self.reduction, self.gamma, self.check_inputs = reduction, gamma, check_inputs

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return convex_concave_loss(
            logits,
            targets,
            self.alpha,
            self.concave_fn,
            self.convex,
            self.scale,
            self.reduction,
            gamma=self.gamma,
            check_inputs=self.check_inputs,
        )

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, concave={self.concave!r}, convex={self.convex!r}, scale={self.scale}"
