"""RelaxLoss (Chen, Yu & Fritz, ICLR 2022), Algorithm 1; Liu et al. 2024, App. E.2.

RelaxLoss keeps the mean training loss near a target level ``alpha`` instead of
driving it to zero, which narrows the gap between member and non-member losses.
For each batch with mean cross-entropy ``L``:

1. ``L >= alpha``: normal gradient descent on ``L``.
2. ``L < alpha`` in an *ascent* epoch: gradient **ascent** on ``L`` (the loss
   minimized is ``alpha - L``, whose gradient is ``-grad L``; it equals
   ``|L - alpha|`` on this branch, as in the authors' release).
3. ``L < alpha`` in a *flattening* epoch: **posterior flattening** -- each
   correctly classified sample is trained towards the soft target that keeps
   its current true-class probability ``p_y`` (optionally clipped at
   ``upper``) and spreads ``1 - p_y`` uniformly over the other ``K - 1``
   classes; misclassified samples keep their one-hot target.  The soft target
   is a constant (no gradient flows through it), so the true-class component of
   the gradient vanishes and only the non-target posteriors are flattened.

Epochs alternate: the trainer's epochs are numbered from 1, and odd epochs
(1, 3, 5, ... -- the 0-based even epochs of Algorithm 1) are ascent epochs,
even epochs are flattening epochs.  The branch is chosen with ``torch.where``
on device tensors, so no step synchronizes with the host.

Grid (App. E.2): ``alpha`` in {0.01, 0.04, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2}.

**Deviations from the official code** (``DingfanChen/RelaxLoss``,
``source/cifar/defense/relaxloss.py``), documented rather than aligned: this
module follows Algorithm 1 of the paper; the release's flattening branch differs in

* **detached soft targets**: here the soft target is a constant
  (:func:`flattened_targets` runs under ``no_grad``); in the release the
  clipped ``p_y`` inside the target keeps its gradient;
* **which samples are flattened**: here the *correctly classified* samples get
  the flattened target and the misclassified ones their one-hot target; the
  release applies the soft-target cross-entropy to the *misclassified*
  samples, ``(1 - correct) * CE(soft)``, and subtracts every sample's
  cross-entropy (``- CE``, a gradient-ascent term) in the same loss.

The ascent branch (``|L - alpha|``, 0-based even epochs) and the descent
branch are the release's.

**Variants** (``variant=``, one switch; the default ``"paper"`` is Algorithm 1 as above):

* ``"ccl_code"`` -- as the CCL authors ran it: ``zhenlong-liu/MLHospital``,
  ``mlh/defenses/membership_inference/RelaxLoss.py``, ``TrainTargetRelaxLoss.train``.
  Its branch tests the *total* epoch count (``self.epochs % 2 == 0``), not the
  current epoch: with an even number of epochs (the paper's 300 or 120) every
  step minimizes ``|L - alpha|`` (flooding) and posterior flattening never runs;
  with an odd number every epoch takes the image release's flattening step
  below ``alpha`` (with ``p_y`` clipped at 1, ``upper`` unused).  It reads the
  epoch count from the run's recipe (:meth:`Defense.bind`).  Its trainer is reproduced
  too: the learning-rate scheduler steps inside the batch loop
  (``self.scheduler.step()`` after every batch), so the milestones count SGD steps
  (:meth:`RelaxLoss.adapt_config`; with the paper's milestones 150/225 the learning
  rate is 0.001 from step 225 on, in the second epoch on CIFAR-10 at 15,000 images per
  part and batch 128, 118 steps per epoch); and in epochs 1, 2 and
  every tenth (``e % 10 == 0 or e < 3``) it evaluates after every batch with
  ``TrainTargetNormalLoss.eval``, which leaves the model in eval mode, so that every
  batch of those epochs but the first trains in eval mode (BatchNorm on its running
  statistics, dropout off).  Both matter only for a recipe with milestones and a model
  with BatchNorm or dropout: the book's Location MLP (no milestones) is unaffected.
* ``"release_image"`` -- the method authors' image code, ``DingfanChen/RelaxLoss``,
  ``source/cifar/defense/relaxloss.py``, ``Trainer.train``: 0-based even epochs
  ``|L - alpha|``; odd epochs ``L`` if ``L > alpha``, else
  ``mean((1 - correct) * CE(z, t) - CE(z, y))`` with the soft target ``t`` kept
  differentiable.  Image data only.
* ``"release_tabular"`` -- the same authors' tabular code,
  ``source/nonimage/defense/relaxloss.py``, ``Trainer.train``: as above, but the
  flattening step is ``mean CE(z, t)`` over *every* sample (no correctness
  mask, no ascent term).  Tabular data only.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train import TrainConfig
from .base import Defense, Param, number, variant_param

__all__ = [
    "RELAXLOSS_VARIANTS",
    "RelaxLoss",
    "flattened_targets",
    "fork_evaluates_in_epoch",
    "is_ascent_epoch",
    "release_soft_targets",
]

#: RelaxLoss's variants: name -> the code (repository, path, function) or text it follows.
RELAXLOSS_VARIANTS: dict[str, str] = {
    "paper": "Chen et al. (2022), Algorithm 1 (App. E.2 of the CCL paper)",
    "ccl_code": "zhenlong-liu/MLHospital mlh/defenses/membership_inference/RelaxLoss.py TrainTargetRelaxLoss.train",
    "release_image": "DingfanChen/RelaxLoss source/cifar/defense/relaxloss.py Trainer.train",
    "release_tabular": "DingfanChen/RelaxLoss source/nonimage/defense/relaxloss.py Trainer.train",
}

Tensor = torch.Tensor


def is_ascent_epoch(epoch: int) -> bool:
    """True for the epochs (1-based) in which RelaxLoss takes gradient-ascent steps (odd epochs).

    Args:
        epoch: the 1-based epoch number.
    """
    return int(epoch) % 2 == 1


def fork_evaluates_in_epoch(epoch: int) -> bool:
    """True for the epochs (1-based) in which the CCL authors' fork evaluates after every batch.

    ``zhenlong-liu/MLHospital`` ``mlh/defenses/membership_inference/RelaxLoss.py``,
    ``TrainTargetRelaxLoss.train``: ``if e % 10 == 0 or e < 3`` inside the batch loop; its
    ``eval`` (``TrainTargetNormalLoss.eval``) sets the model to eval mode and does not set it back.

    Args:
        epoch: the 1-based epoch number.
    """
    return int(epoch) % 10 == 0 or int(epoch) < 3


def flattened_targets(logits: Tensor, targets: Tensor, upper: float = 1.0) -> Tensor:
    """Soft targets of RelaxLoss's posterior flattening (Chen et al., 2022, Alg. 1).

    For a correctly classified row: ``t_y = min(p_y, upper)`` and
    ``t_c = (1 - t_y) / (K - 1)`` for ``c != y``; for a misclassified row: the
    one-hot target.  Computed without gradient; returns (N, K) in float32.

    Args:
        logits: (N, K) logits, K >= 2 (detached).
        targets: (N,) integer labels.
        upper: cap on the true-class probability of the targets, in (0, 1] (1: no cap).
    """
    if logits.dim() != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(f"need logits (N, K) and targets (N,), got {tuple(logits.shape)} and {tuple(targets.shape)}")
    k = logits.shape[1]
    if k < 2:
        raise ValueError("posterior flattening needs at least 2 classes")
    if not 0.0 < upper <= 1.0:
        raise ValueError(f"upper must be in (0, 1], got {upper!r}")
    with torch.no_grad():
        z = logits.detach().float()
        y = targets.long().unsqueeze(1)
        p_y = F.softmax(z, dim=1).gather(1, y).clamp(max=upper)
        flat = ((1.0 - p_y) / (k - 1)).expand(-1, k).clone()
        flat.scatter_(1, y, p_y)
        onehot = torch.zeros_like(z).scatter_(1, y, 1.0)
        correct = z.argmax(dim=1, keepdim=True) == y
        return torch.where(correct, flat, onehot)


def release_soft_targets(logits: Tensor, targets: Tensor, upper: float = 1.0) -> Tensor:
    """The release's soft targets, *with* gradient: ``t_y = clamp(p_y, 0, upper)``, ``t_c = (1 - t_y) / (K - 1)``.

    As ``DingfanChen/RelaxLoss`` ``source/*/defense/relaxloss.py`` ``Trainer.train`` builds them
    (every row, correct or not; no ``no_grad``).

    Args:
        logits: (N, K) logits.
        targets: (N,) integer labels.
        upper: the clip of ``p_y`` (the release's ``--upper``).
    """
    k = logits.shape[1]
    p_y = F.softmax(logits, dim=1).gather(1, targets.long().unsqueeze(1)).clamp(0.0, upper)
    onehot = torch.zeros_like(logits).scatter(1, targets.long().unsqueeze(1), 1.0)
    return onehot * p_y + (1.0 - onehot) * (1.0 - p_y) / (k - 1)


class RelaxLoss(Defense):
    """RelaxLoss (Chen et al., 2022): descent above ``alpha``; ascent or posterior flattening below.

    Hyperparameters: ``alpha`` > 0 (target loss level; App. E.2 grid
    0.01..3.2) and ``upper`` in (0, 1] (clip of the true-class probability in
    the flattened target; 1 = no clip).
    """

    name = "relaxloss"
    params: ClassVar[Mapping[str, Param]] = {
        "alpha": Param(1.0, number(0.0, None, lo_open=True), "alpha > 0, target level of the mean training loss"),
        "upper": Param(1.0, number(0.0, 1.0, lo_open=True), "upper in (0, 1], clip of p_y in flattened targets"),
        "variant": variant_param(RELAXLOSS_VARIANTS),
    }
    variant_kinds = {"release_image": ("image",), "release_tabular": ("tabular",)}

    def _validate(self) -> None:
        if self.hparams["variant"] == "ccl_code" and self.hparams["upper"] != 1.0:
            raise ValueError(
                "defense 'relaxloss' variant 'ccl_code' clips p_y at 1 (the fork has no upper); leave upper at 1"
            )

    def adapt_config(self, config: TrainConfig) -> TrainConfig:
        """``ccl_code``: the scheduler steps after every SGD step, as the fork's trainer does (module docstring).

        Args:
            config: the run's :class:`~ccl_lib.train.TrainConfig`; returned unchanged by the other variants.
        """
        config = super().adapt_config(config)
        if self.hparams["variant"] == "ccl_code":
            return dataclasses.replace(config, schedule_unit="step")
        return config

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        super().setup(model, num_classes=num_classes, device=device)
        self._epoch_seen = 0  # ccl_code: the epoch of the last batch, to find each epoch's first batch

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        if self.hparams["variant"] == "ccl_code":
            if fork_evaluates_in_epoch(epoch) and getattr(self, "_epoch_seen", 0) == epoch:
                model.eval()  # the fork's per-batch evaluation left it there (module docstring)
            self._epoch_seen = epoch
        logits = model(x).float()
        logp = F.log_softmax(logits, dim=1)
        y = y.long()
        ce = -logp.gather(1, y.unsqueeze(1)).mean()
        alpha = self.hparams["alpha"]
        variant = self.hparams["variant"]
        if variant != "paper":
            return self._code_loss(logits, logp, y, ce, alpha, epoch, variant, x)
        if is_ascent_epoch(epoch):
            relaxed = alpha - ce  # gradient ascent on the cross-entropy
        else:
            soft = flattened_targets(logits, y, self.hparams["upper"])
            relaxed = -(soft * logp).sum(dim=1).mean()
        return torch.where(ce >= alpha, ce, relaxed)

    def _code_loss(
        self, logits: Tensor, logp: Tensor, y: Tensor, ce: Tensor, alpha: float, epoch: int, variant: str, x: Tensor
    ) -> Tensor:
        """The loss of the code variants (see the module docstring); ``ce`` is the batch's mean CE."""
        self._check_batch(x)
        if variant == "ccl_code":
            if self.recipe is None:
                raise ValueError(
                    "relaxloss variant 'ccl_code' branches on the run's epoch count: train with Defense.train "
                    "or call defense.bind(config) first"
                )
            if self.recipe.epochs % 2 == 0:
                return (ce - alpha).abs()
            form = "image"
        else:
            if is_ascent_epoch(epoch):  # the release's 0-based even epochs
                return (ce - alpha).abs()
            form = "image" if variant == "release_image" else "tabular"
        upper = self.hparams["upper"]
        soft = release_soft_targets(logits, y, upper)
        soft_ce = -(soft * logp).sum(dim=1)
        if form == "tabular":
            flat = soft_ce.mean()
        else:
            ce_full = -logp.gather(1, y.unsqueeze(1)).squeeze(1)
            correct = (logits.argmax(dim=1) == y).float()
            flat = ((1.0 - correct) * soft_ce - ce_full).mean()
        return torch.where(ce > alpha, ce, flat)
