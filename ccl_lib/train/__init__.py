"""The paper's training recipe (Sec. 5.1) as a fast, seeded trainer.

SGD with momentum 0.9, weight decay 5e-4, batch size 128, learning rate 0.1
divided by 10 at each milestone epoch.  The data sit on the training device as
tensors and are batched by index (no per-sample Python, no ``DataLoader``);
every random draw of an epoch (batch order, reference batches, crops and
flips) is made at once and moved to the device once, loss values are
accumulated on the device and read once per epoch, and SGD uses PyTorch's
fused kernel where the device has one: the inner loop has no host syncs.

What is minimized is an :class:`Objective`: :class:`LossObjective` wraps any
``loss(logits, targets)`` from :mod:`ccl_lib.losses`; the defenses of
:mod:`ccl_lib.defenses` are objectives too (they may use a reference batch and
keep their own state, e.g. adversarial regularization's inference model).

The package's rooms, one concept each:

* :mod:`ccl_lib.train.config` -- the recipe (:class:`TrainConfig`), the objective
  interface (:class:`Objective`, :class:`LossObjective`) and :class:`TrainResult`;
* :mod:`ccl_lib.train.loop` -- the single-model loop, :func:`fit`;
* :mod:`ccl_lib.train.many` -- several models at once, :func:`fit_many` (stacked
  under ``torch.func.vmap`` where every objective is :attr:`Objective.stackable`);
* :mod:`ccl_lib.train.inference` -- queries in eval mode, :func:`predict_logits`, :func:`accuracy`.

The trainer knows no concrete defense: :mod:`ccl_lib.defenses` builds on it, never
the other way round.  The crop-and-flip augmentation lives in :mod:`ccl_lib.augment`
(:func:`~ccl_lib.augment.random_crop_flip`, also importable from here).
"""

from __future__ import annotations

from ..augment import random_crop_flip as random_crop_flip  # defined (and documented) in ccl_lib.augment
from .config import LossObjective, Objective, TrainConfig, TrainResult
from .inference import accuracy, predict_logits
from .loop import as_index_tensor as as_index_tensor
from .loop import fit
from .many import FIT_MANY_STRATEGIES, fit_many

__all__ = [
    "LossObjective",
    "Objective",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "FIT_MANY_STRATEGIES",
    "fit",
    "fit_many",
    "predict_logits",
]
