"""Loss-function defenses: vanilla cross-entropy, the Convex-Concave Loss, focal loss.

* ``vanilla``   -- cross-entropy, the undefended baseline (Sec. 5.1).
* ``ccl``       -- Convex-Concave Loss, Eq. 4:
  ``scale * (alpha * l_convex + (1 - alpha) * l_concave(p_y))`` with the
  concave term ``"exp"`` (Eq. 5) or ``"quadratic"`` (Eq. 6) and the convex
  term cross-entropy or focal loss (App. D).
* ``ccel`` / ``ccql`` -- ``ccl`` with the concave term fixed to Eq. 5 / Eq. 6.
* ``focal``     -- focal loss ``-(1 - p_y)^gamma log p_y`` (Lin et al., 2017;
  Sec. 3.1, Fig. 1), times ``scale``.
* ``focal_ccl`` -- focal loss plus a concave term, App. D:
  ``scale * (alpha * l_FL + (1 - alpha) * l_concave(p_y))``.

``scale`` is the factor of App. E.1 (0.01 on CIFAR-10, 0.05 on CIFAR-100, 1
otherwise; :func:`ccl_lib.defenses.default_scale`).  With ``alpha = 1`` and
``scale = 1``, ``ccl`` computes exactly the cross-entropy, so it trains
bit-for-bit like ``vanilla`` under the same seed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import torch
import torch.nn as nn

from ..losses import CONCAVE_TERMS, CONVEX_LOSSES, convex_concave_loss, cross_entropy, focal_loss
from .base import Defense, Param, choice, number

__all__ = ["CCEL", "CCL", "CCQL", "Focal", "FocalCCL", "UnnormalizedScaleWarning", "Vanilla", "warn_if_unnormalized"]

Tensor = torch.Tensor

_ALPHA = Param(0.5, number(0.0, 1.0), "alpha in [0, 1], weight of the convex term (Eq. 4)")
_SCALE = Param(1.0, number(0.0, None, lo_open=True), "scale > 0, factor on the whole loss (App. E.1)")
_GAMMA = Param(2.0, number(0.0, None), "gamma >= 0, focal-loss exponent (App. D)")
_CONCAVE = Param("exp", choice(*CONCAVE_TERMS), "concave term: 'exp' (Eq. 5) or 'quadratic' (Eq. 6)")
_CONVEX = Param("ce", choice(*CONVEX_LOSSES), "convex term: 'ce' (Sec. 4) or 'focal' (App. D)")


class Vanilla(Defense):
    """Undefended training: cross-entropy ``-log p_y`` (Sec. 3.1)."""

    name = "vanilla"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {}

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        return cross_entropy(model(x).float(), y, check_inputs=False)


class CCL(Defense):
    """Convex-Concave Loss, Eq. 4 (Sec. 4), as a defense.

    Hyperparameters: ``alpha`` (Eq. 4), ``concave`` (Eq. 5 or 6), ``convex``
    (``"ce"`` or ``"focal"``, App. D), ``scale`` (App. E.1), ``gamma`` (focal
    exponent, used only with ``convex="focal"`` but always part of the identity).
    """

    name = "ccl"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {
        "alpha": _ALPHA,
        "concave": _CONCAVE,
        "convex": _CONVEX,
        "scale": _SCALE,
        "gamma": _GAMMA,
    }

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        # one key order in describe() for ccl and its variants: the order of CCL.params
        self.hparams = {k: self.hparams[k] for k in CCL.params}

    def _fixed_hint(self, key: str) -> str:
        return f"; use defense 'ccl' to choose {key}"

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        warn_if_unnormalized(self.hparams["scale"], model)

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        h = self.hparams
        return convex_concave_loss(
            model(x).float(),
            y,
            alpha=h["alpha"],
            concave=h["concave"],
            convex=h["convex"],
            scale=h["scale"],
            gamma=h["gamma"],
            check_inputs=False,
        )


class UnnormalizedScaleWarning(UserWarning):
    """A loss scale below 1 meets a model without normalization layers (see :func:`warn_if_unnormalized`)."""


def warn_if_unnormalized(scale: float, model: nn.Module) -> None:
    """Warn when a loss scale below 1 (App. E.1: 0.01 on CIFAR-10) meets a model without normalization layers.

    With SGD and weight decay, ``scale * loss`` at (lr, wd) is the same update as
    ``loss`` at (lr * scale, wd / scale): a network without BatchNorm (or another
    normalization) then barely moves and stays near chance (measured: the small
    CNN at 10-12 % test accuracy on CIFAR-10 with scale 0.01).

    Args:
        scale: the loss scale factor (App. E.1); no warning at ``scale >= 1``.
        model: the model to be trained (checked for BatchNorm/GroupNorm/LayerNorm layers).
    """
    from ..models import has_normalization

    if scale < 1.0 and not has_normalization(model):
        import warnings

        warnings.warn(
            f"loss scale {scale:g} < 1 on a {type(model).__name__} without normalization layers: SGD takes the steps "
            f"of the unscaled loss at learning rate x{scale:g} and weight decay /{scale:g}, which such a model usually "
            "underfits (the small CNN on CIFAR-10 stays near chance at the paper's 0.01); use a model with BatchNorm "
            "(e.g. 'resnet8', 'resnet34') or scale=1",
            UnnormalizedScaleWarning,
            stacklevel=3,
        )


def _without(mapping: Mapping[str, Param], *keys: str) -> dict[str, Param]:
    return {k: v for k, v in mapping.items() if k not in keys}


class CCEL(CCL):
    """CCL with the concave exponential term ``-exp(p_y)`` (Eq. 5)."""

    name = "ccel"
    params = _without(CCL.params, "concave")
    fixed = {"concave": "exp"}


class CCQL(CCL):
    """CCL with the concave quadratic term ``-p_y - p_y^2 / 2`` (Eq. 6)."""

    name = "ccql"
    params = _without(CCL.params, "concave")
    fixed = {"concave": "quadratic"}


class FocalCCL(CCL):
    """Focal loss equipped with a concave term (App. D): CCL with ``convex="focal"``."""

    name = "focal_ccl"
    params = _without(CCL.params, "convex")
    fixed = {"convex": "focal"}


class Focal(Defense):
    """Focal loss ``scale * -(1 - p_y)^gamma log p_y`` (Lin et al., 2017; Sec. 3.1, App. D)."""

    name = "focal"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {"gamma": _GAMMA, "scale": _SCALE}

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        warn_if_unnormalized(self.hparams["scale"], model)

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        loss = focal_loss(model(x).float(), y, gamma=self.hparams["gamma"], check_inputs=False)
        return loss * self.hparams["scale"] if self.hparams["scale"] != 1.0 else loss
