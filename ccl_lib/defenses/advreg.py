"""Adversarial regularization (Nasr, Shokri & Houmansadr, CCS 2018); Liu et al. 2024, App. E.2.

A min-max game between the classifier ``f`` and an *inference model* ``h``
that tells members (training data) from non-members (the reference split) from
``f``'s output and the label (Nasr et al., Eq. 7 and Algorithm 1):

    min_f max_h  CE(f; D_train) + weight * G(h, f)

* **max step** (``inference_steps`` = k times before each classifier step):
  ``h`` is trained on the classifier's softmax outputs (computed in eval mode,
  without gradient) of the current training batch (label 1) and a reference
  batch (label 0) by minimizing the binary cross-entropy -- i.e. maximizing
  its gain ``G = mean log h(member) + mean log(1 - h(non-member))`` -- with
  its own Adam optimizer (created in :meth:`AdvReg.setup`).  The k steps reuse
  the same pair of batches (the trainer hands one of each per step).
* **min step**: the classifier minimizes ``CE + weight * gain`` on the
  training batch, where ``gain`` is the inference model's member score on
  that batch -- ``mean h(f(x), y) - 0.5`` (``gain="prob"``, the form of
  RelaxLoss's code, Chen et al. 2022, ``source/*/defense/advreg.py``:
  ``CE + alpha * (mean(h) - 0.5)``) or ``mean log h(f(x), y)``
  (``gain="log"``, Algorithm 1 of Nasr et al.).  ``h``'s
  parameters are constants in this step (the trainer's backward pass does not
  touch them).

The inference model is a small MLP on (probability vector, one-hot label):
two branches (probabilities -> 256 -> 64, label -> 64) joined by 128 -> 64 -> 1,
ReLU activations -- a reduced version of Nasr et al.'s architecture.

During the first ``warmup_epochs`` epochs the classifier trains with plain CE
and the inference model is idle (the default here is 0; RelaxLoss's code
trains 3 warm-up epochs of plain CE, and trains its attack model during them).

Where this deviates from the official RelaxLoss code (Chen et al., 2022,
``DingfanChen/RelaxLoss``, ``source/cifar/defense/advreg.py``), kept on
purpose and documented rather than aligned (the chapters' numbers are this
implementation's):

* **schedule**: there, each epoch after warm-up is one full pass of attack
  training over fresh (member, reference) batches, then one full pass of
  classifier training; here the ``inference_steps`` max steps before each
  classifier step **reuse one pair of batches** (Nasr et al.'s Algorithm 1
  with k inner steps).
* **attack model and loss**: there, an MLP (one hidden layer of 100) on the
  *sorted raw logits* (the label is built but not used), sigmoid output and an
  MSE loss; here the two-branch MLP above on the softmax probabilities and the
  one-hot label, with binary cross-entropy.
* **warm-up**: 3 epochs there (with 5 attack epochs each), 0 by default here.

Grid (App. E.2): ``weight`` in {0.8, 1.0, 1.2, 1.4, 1.6, 1.8}.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from ..losses import cross_entropy
from .base import Defense, Param, choice, int_range, number

__all__ = ["AdvReg", "InferenceModel"]

Tensor = torch.Tensor


class InferenceModel(nn.Module):
    """Membership inference model ``h(p, onehot(y)) -> logit`` (Nasr et al., 2018, Sec. 4, reduced).

    Args:
        num_classes: number of classes K (>= 2), the width of both inputs.
        width: width of the first layer on the probability vector (>= 1).
    """

    def __init__(self, num_classes: int, width: int = 256) -> None:
        super().__init__()
        if num_classes < 2 or width < 1:
            raise ValueError(f"need num_classes >= 2 and width >= 1, got {num_classes}, {width}")
        self.num_classes = num_classes
        self.probs = nn.Sequential(nn.Linear(num_classes, width), nn.ReLU(), nn.Linear(width, 64), nn.ReLU())
        self.labels = nn.Sequential(nn.Linear(num_classes, 64), nn.ReLU())
        self.combine = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, probs: Tensor, onehot: Tensor) -> Tensor:
        """Member logit (N,) for probability vectors (N, K) and one-hot labels (N, K).

        Args:
            probs: (N, K) softmax outputs of the classifier.
            onehot: (N, K) one-hot true labels.
        """
        return self.combine(torch.cat([self.probs(probs), self.labels(onehot)], dim=1)).squeeze(1)


class AdvReg(Defense):
    """Adversarial regularization (Nasr et al., 2018): CE + weight * the inference model's gain.

    Hyperparameters: ``weight`` >= 0 (App. E.2 grid 0.8..1.8),
    ``inference_steps`` >= 1 (k), ``inference_lr`` > 0 (Adam), ``warmup_epochs``
    >= 0, ``gain`` (``"prob"`` or ``"log"``).

    After each step, ``last_inference_loss`` holds the inference model's binary
    cross-entropy before its last update (a detached device tensor).
    """

    name = "advreg"
    needs_reference = True
    params: ClassVar[Mapping[str, Param]] = {
        "weight": Param(1.0, number(0.0, None), "weight >= 0 of the adversarial term"),
        "inference_steps": Param(1, int_range(1, 1000), "k >= 1 inference-model steps per classifier step"),
        "inference_lr": Param(1e-3, number(0.0, 10.0, lo_open=True), "Adam learning rate of the inference model"),
        "warmup_epochs": Param(0, int_range(0), "epochs of plain CE before the game starts"),
        "gain": Param("prob", choice("prob", "log"), "'prob': mean h - 0.5 (release); 'log': mean log h (Alg. 1)"),
    }

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.inference_model: Optional[InferenceModel] = None
        self.inference_optimizer: Optional[torch.optim.Optimizer] = None
        self.last_inference_loss: Optional[Tensor] = None

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        """Create a fresh inference model and its Adam optimizer.

        The initial weights come from the global torch RNG, which
        :func:`ccl_lib.train.fit` seeds from the run's seed.

        Args:
            model: the classifier being trained (unused; part of the objective's interface).
            num_classes: number of classes K of the classifier's output.
            device: where the inference model lives.
        """
        h = InferenceModel(num_classes)
        self.inference_model = h.to(device)
        self.inference_optimizer = torch.optim.Adam(h.parameters(), lr=self.hparams["inference_lr"])
        self.last_inference_loss = None

    @staticmethod
    def _onehot(y: Tensor, k: int) -> Tensor:
        return torch.zeros(len(y), k, device=y.device).scatter_(1, y.long().unsqueeze(1), 1.0)

    def inference_logits(self, probs: Tensor, y: Tensor, *, detach_params: bool = False) -> Tensor:
        """The inference model's member logits for probability vectors ``probs`` and labels ``y``.

        Args:
            probs: (N, K) softmax outputs of the classifier.
            y: (N,) integer labels.
            detach_params: use the inference model's parameters detached, so that gradients
                reach only ``probs`` (the classifier's step of the min-max game).
        """
        h = self._require()
        onehot = self._onehot(y, probs.shape[1])
        if not detach_params:
            return h(probs.float(), onehot)
        params = {k: v.detach() for k, v in h.named_parameters()}
        return functional_call(h, params, (probs.float(), onehot))

    def inference_step(self, model: nn.Module, x: Tensor, y: Tensor, x_ref: Tensor, y_ref: Tensor) -> Tensor:
        """``inference_steps`` updates of the inference model on members ``x`` vs reference ``x_ref``.

        Args:
            model: the classifier (queried in eval mode, without gradients).
            x: a batch of members (the classifier's training batch).
            y: their labels.
            x_ref: a batch of reference (non-member) examples.
            y_ref: their labels.

        Returns the binary cross-entropy before the first update (detached).
        """
        self._require()  # fails early, with a message, before setup()
        opt = self.inference_optimizer
        assert opt is not None
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                probs = F.softmax(model(torch.cat([x, x_ref])).float(), dim=1)
        finally:
            model.train(was_training)
        labels = torch.cat([y.long(), y_ref.long()])
        member = torch.cat([torch.ones(len(x), device=probs.device), torch.zeros(len(x_ref), device=probs.device)])
        first = None
        # the inference model trains in float32, whatever the classifier's autocast
        with torch.enable_grad(), torch.autocast(probs.device.type, enabled=False):
            for _ in range(self.hparams["inference_steps"]):
                opt.zero_grad(set_to_none=True)
                bce = F.binary_cross_entropy_with_logits(self.inference_logits(probs, labels), member)
                bce.backward()
                opt.step()
                if first is None:
                    first = bce.detach()
        assert first is not None
        self.last_inference_loss = first
        return first

    def _require(self) -> InferenceModel:
        if self.inference_model is None:
            raise RuntimeError("AdvReg.setup() must run before training (the trainer calls it)")
        return self.inference_model

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        y = y.long()
        active = epoch > self.hparams["warmup_epochs"] and self.hparams["weight"] > 0
        if not active:
            return cross_entropy(model(x).float(), y, check_inputs=False)
        if ref is None:
            raise ValueError("advreg needs a reference batch: train with reference=(x_ref, y_ref)")
        self.inference_step(model, x, y, ref[0], ref[1])
        logits = model(x).float()
        ce = cross_entropy(logits, y, check_inputs=False)
        with torch.autocast(x.device.type, enabled=False):
            h_logit = self.inference_logits(F.softmax(logits.float(), dim=1), y, detach_params=True)
        if self.hparams["gain"] == "prob":
            gain = torch.sigmoid(h_logit).mean() - 0.5
        else:
            gain = F.logsigmoid(h_logit).mean()
        return ce + self.hparams["weight"] * gain
