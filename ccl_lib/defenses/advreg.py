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

**Variant** ``variant="ccl_code"`` (one switch; the default ``"paper"`` is the above): as
the CCL authors ran it, ``zhenlong-liu/MLHospital``,
``mlh/defenses/membership_inference/AdvReg.py``, ``TrainTargetAdvReg.train`` with
``train_attack_advreg`` and ``train_target_privately``:

* the attack model (:class:`ForkInferenceModel`, the fork's ``AttackAdvReg``) reads the
  classifier's *raw logits* and a +-1 label code (-1 everywhere, +1 at the label),
  through larger layers (K -> 1024 -> 512 -> 64; K -> 128 -> 64; 128 -> 256 -> 128 -> 64 -> 1),
  with a sigmoid output and binary cross-entropy;
* it trains with SGD (the classifier's learning rate, momentum 0.9, weight decay 5e-4) and
  cosine annealing with ``T_max`` = the run's epoch count, stepped once per attack step,
  as the fork does (the recipe comes from :meth:`Defense.bind`);
* from epoch 5 on, each epoch starts with **one full pass** of attack training in which the
  classifier is in eval mode: one step per (member batch, reference batch) pair; here the
  pairs are the previous epoch's batches (every member once, and the trainer's reference
  batches), replayed before the epoch's first classifier step;
* the classifier minimizes ``CE + weight * (mean h - 0.5)`` from the first epoch on (in
  epochs 1-4 against the untrained attack model, as in the fork).

``inference_steps``, ``inference_lr``, ``warmup_epochs`` and ``gain`` do not apply to it
and must keep their defaults.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from ..losses import cross_entropy
from .base import Defense, Param, choice, int_range, number, variant_param

__all__ = ["ADVREG_VARIANTS", "AdvReg", "ForkInferenceModel", "InferenceModel", "pm1_code"]

#: AdvReg's variants: name -> the code (repository, path, function) or text it follows.
ADVREG_VARIANTS: dict[str, str] = {
    "paper": "Nasr et al. (2018), Algorithm 1, with the gain of DingfanChen/RelaxLoss source/cifar/defense/advreg.py",
    "ccl_code": "zhenlong-liu/MLHospital mlh/defenses/membership_inference/AdvReg.py TrainTargetAdvReg.train",
}
#: ``ccl_code``: the first epoch whose start has a pass of attack training (the fork's ``e < 5`` warm-up).
FORK_ATTACK_FROM = 5

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


def pm1_code(y: Tensor, k: int) -> Tensor:
    """The fork's label code: (N, K) of -1 with +1 at each label (``AdvReg.py``, ``one_hot_tr``).

    Args:
        y: (N,) integer labels in ``[0, k)``.
        k: number of classes K.
    """
    return torch.full((len(y), k), -1.0, device=y.device).scatter(1, y.long().unsqueeze(1), 1.0)


class ForkInferenceModel(nn.Module):
    """The attack model of ``zhenlong-liu/MLHospital`` ``AdvReg.py`` (``AttackAdvReg``), returning the logit.

    Branches: logits K -> 1024 -> 512 -> 64 and label code K -> 128 -> 64, joined by
    128 -> 256 -> 128 -> 64 -> 1, ReLU activations (the fork's sigmoid is applied by the caller).

    Args:
        num_classes: number of classes K (>= 2).
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"need num_classes >= 2, got {num_classes}")
        k = num_classes
        self.features = nn.Sequential(
            nn.Linear(k, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(), nn.Linear(512, 64), nn.ReLU()
        )
        self.labels = nn.Sequential(nn.Linear(k, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.combine = nn.Sequential(
            nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 1),
        )  # fmt: skip

    def forward(self, logits: Tensor, code: Tensor) -> Tensor:
        """Member logit (N,) for raw logits (N, K) and +-1 label codes (N, K).

        Args:
            logits: (N, K) raw logits of the classifier (no softmax, as the fork feeds them).
            code: (N, K) label codes of :func:`pm1_code`.
        """
        return self.combine(torch.cat([self.features(logits), self.labels(code)], dim=1)).squeeze(1)


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
        "variant": variant_param(ADVREG_VARIANTS),
    }

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.inference_model: Optional[nn.Module] = None
        self.inference_optimizer: Optional[torch.optim.Optimizer] = None
        self.inference_scheduler: Optional[Any] = None
        self.last_inference_loss: Optional[Tensor] = None
        self._record: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        self._record_epoch = 0
        self._pass_epoch = 0

    def _validate(self) -> None:
        if self.hparams["variant"] != "ccl_code":
            return
        fixed = [k for k in ("inference_steps", "inference_lr", "warmup_epochs", "gain")
                 if self.hparams[k] != self.params[k].default]  # fmt: skip
        if fixed:
            raise ValueError(
                f"defense 'advreg' variant 'ccl_code' follows the fork's attack schedule; {fixed} do not apply to it"
            )

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        """Create a fresh inference model and its Adam optimizer.

        The initial weights come from the global torch RNG, which
        :func:`ccl_lib.train.fit` seeds from the run's seed.

        Args:
            model: the classifier being trained (unused; part of the objective's interface).
            num_classes: number of classes K of the classifier's output.
            device: where the inference model lives.
        """
        self.last_inference_loss = None
        self._record, self._record_epoch, self._pass_epoch = [], 0, 0
        if self.hparams["variant"] == "ccl_code":
            if self.recipe is None:
                raise ValueError(
                    "advreg variant 'ccl_code' trains its attack model with the run's learning rate and epoch "
                    "count: train with Defense.train or call defense.bind(config) first"
                )
            fork = ForkInferenceModel(num_classes).to(device)
            self.inference_model = fork
            self.inference_optimizer = torch.optim.SGD(
                fork.parameters(), lr=self.recipe.lr, momentum=0.9, weight_decay=5e-4
            )
            self.inference_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.inference_optimizer, T_max=self.recipe.epochs
            )
            return
        h = InferenceModel(num_classes)
        self.inference_model = h.to(device)
        self.inference_optimizer = torch.optim.Adam(h.parameters(), lr=self.hparams["inference_lr"])

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
        if isinstance(h, ForkInferenceModel):
            raise RuntimeError("inference_logits is the 'paper' variant's; variant 'ccl_code' uses fork_logits")
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

    def _after_fit(self) -> None:
        self._record = []

    def fork_logits(self, logits: Tensor, y: Tensor, *, detach_params: bool = False) -> Tensor:
        """``ccl_code``: the fork's attack model on raw ``logits`` (N, K) and the +-1 code of ``y`` (member logit).

        Args:
            logits: (N, K) raw logits of the classifier.
            y: (N,) integer labels.
            detach_params: read the attack model's parameters detached (the classifier's step:
                its gradient flows into ``logits`` only, never into the attack model).
        """
        h = self._require()
        code = pm1_code(y, logits.shape[1])
        if not detach_params:
            return h(logits.float(), code)
        params = {k: v.detach() for k, v in h.named_parameters()}
        return functional_call(h, params, (logits.float(), code))

    def fork_attack_pass(
        self, model: nn.Module, batches: list[tuple[Tensor, Tensor, Tensor, Tensor]]
    ) -> Optional[Tensor]:
        """``ccl_code``: one pass of attack training, a step per (members, references) batch pair.

        As ``train_attack_advreg`` of the fork: the classifier in eval mode, its raw logits of both
        batches, BCE of the sigmoid output against 1 (members) and 0 (references), one SGD step and
        one scheduler step per pair.  Returns the mean BCE of the pass (detached), ``None`` when empty.

        Args:
            model: the classifier (put in eval mode for the pass, its mode restored after).
            batches: ``(x, y, x_ref, y_ref)`` pairs of a member batch and a reference batch.
        """
        self._require()
        opt, sched = self.inference_optimizer, self.inference_scheduler
        assert opt is not None and sched is not None
        was_training = model.training
        model.eval()
        total, n = None, 0
        try:
            for x, y, xr, yr in batches:
                with torch.no_grad():
                    out = model(torch.cat([x, xr])).float()
                labels = torch.cat([y.long(), yr.long()])
                member = torch.cat([torch.ones(len(x), device=out.device), torch.zeros(len(xr), device=out.device)])
                with torch.enable_grad(), torch.autocast(out.device.type, enabled=False):
                    opt.zero_grad(set_to_none=True)
                    bce = F.binary_cross_entropy_with_logits(self.fork_logits(out, labels), member)
                    bce.backward()
                    opt.step()
                sched.step()
                total = bce.detach() if total is None else total + bce.detach()
                n += 1
        finally:
            model.train(was_training)
        return None if total is None else total / n

    def _fork_loss(self, model: nn.Module, x: Tensor, y: Tensor, ref: Any, epoch: int) -> Tensor:
        if ref is None:
            raise ValueError("advreg needs a reference batch: train with reference=(x_ref, y_ref)")
        if epoch >= FORK_ATTACK_FROM and epoch != self._pass_epoch:
            self._pass_epoch = epoch
            loss = self.fork_attack_pass(model, self._record)
            if loss is not None:
                self.last_inference_loss = loss
        if epoch != self._record_epoch:
            self._record, self._record_epoch = [], epoch
        if epoch >= FORK_ATTACK_FROM - 1:  # replayed as the next epoch's attack pass
            self._record.append((x.detach(), y.detach(), ref[0].detach(), ref[1].detach()))
        logits = model(x).float()
        ce = cross_entropy(logits, y, check_inputs=False)
        with torch.autocast(x.device.type, enabled=False):
            h = torch.sigmoid(self.fork_logits(logits.float(), y, detach_params=True))
        return ce + self.hparams["weight"] * (h.mean() - 0.5)

    def _require(self) -> nn.Module:
        if self.inference_model is None:
            raise RuntimeError("AdvReg.setup() must run before training (the trainer calls it)")
        return self.inference_model

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        y = y.long()
        if self.hparams["variant"] == "ccl_code":
            return self._fork_loss(model, x, y, ref, epoch)
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
