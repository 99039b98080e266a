"""Regularization defenses of App. E.2: dropout, label smoothing, confidence penalty, early stopping.

* ``dropout`` (Srivastava et al., 2014): cross-entropy training of a model
  built with dropout of probability ``rate`` on the input of its last fully
  connected layer (``model_kwargs = {"dropout": rate}`` for
  :func:`ccl_lib.models.build_model`), as App. E.2's words say.  Variant
  ``variant="ccl_code"``: dropout on the *logits*, after the last Linear, as
  the CCL authors' fork appends it (``zhenlong-liu/MLHospital``,
  ``mlh/utils.py``, ``get_target_model``): the model is built without dropout
  and the loss drops logits in training mode (identity in eval mode, like an
  ``nn.Dropout`` appended to the model).
* ``label_smoothing`` (Szegedy et al., 2016; Guo et al., 2017): cross-entropy
  against ``(1 - smoothing) * onehot(y) + smoothing / K``.
* ``confidence_penalty`` (Pereyra et al., 2017): ``CE - weight * H(p)``, the
  entropy ``H(p) = -sum_c p_c log p_c`` of the softmax output rewarded.
* ``early_stopping`` (Yao et al., 2007; as in Chen et al., 2022): train once
  with cross-entropy and keep the checkpoints of the given epochs; the engine
  attacks each.  App. E.2 lists {25, 50, ..., 275} for 300 epochs;
  :func:`rescale_epochs` maps them to a shorter run.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import cross_entropy
from .base import Defense, Param, epoch_list, number, soft_cross_entropy, variant_param

__all__ = [
    "ConfidencePenalty",
    "DROPOUT_VARIANTS",
    "Dropout",
    "EarlyStopping",
    "LabelSmoothing",
    "PAPER_EARLY_STOPPING_EPOCHS",
    "entropy",
    "rescale_epochs",
    "smoothed_targets",
]

Tensor = torch.Tensor

#: App. E.2: checkpoint epochs of early stopping, for the paper's 300-epoch CIFAR runs.
PAPER_EARLY_STOPPING_EPOCHS: tuple[int, ...] = (25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275)


#: Dropout's variants: name -> the code (repository, path, function) or text it follows.
DROPOUT_VARIANTS: dict[str, str] = {
    "paper": "App. E.2: dropout before the last fully connected layer",
    "ccl_code": "zhenlong-liu/MLHospital mlh/utils.py get_target_model: Dropout appended after the last Linear",
}


class Dropout(Defense):
    """Dropout with probability ``rate`` on the last fully connected layer's input (App. E.2).

    ``variant="ccl_code"`` puts it on the logits instead (see the module docstring).
    """

    name = "dropout"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {
        "rate": Param(0.5, number(0.0, 1.0, hi_open=True), "dropout probability in [0, 1)"),
        "variant": variant_param(DROPOUT_VARIANTS),
    }

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        if self.hparams["variant"] == "ccl_code":
            self.stackable = False  # type: ignore[misc]  # a random draw of its own (not a model module)

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {"dropout": self.hparams["rate"]} if self.hparams["variant"] == "paper" else {}

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        logits = model(x).float()
        if self.hparams["variant"] == "ccl_code":
            logits = F.dropout(logits, self.hparams["rate"], training=model.training)
        return cross_entropy(logits, y, check_inputs=False)


def smoothed_targets(y: Tensor, num_classes: int, smoothing: float) -> Tensor:
    """Label-smoothing targets ``(1 - smoothing) * onehot(y) + smoothing / K`` (N, K).

    Args:
        y: (N,) integer labels.
        num_classes: number of classes K (>= 2).
        smoothing: the smoothing weight in [0, 1] (0: one-hot targets).
    """
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1], got {smoothing!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    onehot = torch.zeros(len(y), num_classes, device=y.device).scatter(
        1, y.long().unsqueeze(1), 1.0
    )  # out of place: vmap-able (fit_many)
    return (1.0 - smoothing) * onehot + smoothing / num_classes


class LabelSmoothing(Defense):
    """Cross-entropy against smoothed labels (Szegedy et al., 2016; App. E.2)."""

    name = "label_smoothing"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {
        "smoothing": Param(0.1, number(0.0, 1.0, hi_open=True), "smoothing in [0, 1)"),
    }

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        logits = model(x).float()
        t = smoothed_targets(y, logits.shape[1], self.hparams["smoothing"])
        return soft_cross_entropy(logits, t).mean()


def entropy(logits: Tensor) -> Tensor:
    """Per-sample entropy ``-sum_c p_c log p_c`` of ``softmax(logits)`` (N,).

    Args:
        logits: (N, K) logits (computed in float32).
    """
    logp = F.log_softmax(logits.float(), dim=1)
    return -(logp.exp() * logp).sum(dim=1)


class ConfidencePenalty(Defense):
    """``CE - weight * H(softmax)``: penalizes confident (low-entropy) outputs (Pereyra et al., 2017)."""

    name = "confidence_penalty"
    stackable = True  # fit_many may vmap its loss (ccl_lib.train.Objective.stackable)
    params: ClassVar[Mapping[str, Param]] = {
        "weight": Param(0.1, number(0.0, None), "weight >= 0 of the entropy term"),
    }

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        logits = model(x).float()
        return cross_entropy(logits, y, check_inputs=False) - self.hparams["weight"] * entropy(logits).mean()


def rescale_epochs(epochs: Iterable[int], total_epochs: int, reference_epochs: int = 300) -> tuple[int, ...]:
    """Map checkpoint epochs of a ``reference_epochs`` run to a ``total_epochs`` run.

    ``e * total_epochs / reference_epochs`` rounded half up (exact integer
    arithmetic), clipped to ``[1, total_epochs]``, duplicates removed, sorted.
    E.g. App. E.2's {25, 50, ..., 275} of 300 epochs become
    {3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28} for 30 epochs.

    Args:
        epochs: positive, distinct epochs of the ``reference_epochs`` run.
        total_epochs: epochs of the run they are mapped to (>= 1).
        reference_epochs: length of the run they were given for (default 300, App. E.2).
    """
    if not (isinstance(total_epochs, int) and total_epochs >= 1):
        raise ValueError(f"total_epochs must be a positive integer, got {total_epochs!r}")
    if not (isinstance(reference_epochs, int) and reference_epochs >= 1):
        raise ValueError(f"reference_epochs must be a positive integer, got {reference_epochs!r}")
    eps = epoch_list("epochs", list(epochs))
    out = {min(total_epochs, max(1, (2 * e * total_epochs + reference_epochs) // (2 * reference_epochs))) for e in eps}
    return tuple(sorted(out))


class EarlyStopping(Defense):
    """Train with cross-entropy once and keep the checkpoints of ``epochs`` (App. E.2)."""

    name = "early_stopping"
    params: ClassVar[Mapping[str, Param]] = {
        "epochs": Param(PAPER_EARLY_STOPPING_EPOCHS, epoch_list, "non-empty list of checkpoint epochs"),
    }

    @property
    def checkpoint_epochs(self) -> tuple[int, ...]:
        return tuple(self.hparams["epochs"])

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        return cross_entropy(model(x).float(), y, check_inputs=False)
