"""The recipe of one training run and what the trainer minimizes (Sec. 5.1).

:class:`TrainConfig` holds the paper's SGD recipe, :class:`Objective` is the
interface every loss and defense implements (:class:`LossObjective` wraps a
plain ``loss(logits, targets)`` of :mod:`ccl_lib.losses`), :class:`TrainResult`
is what :func:`ccl_lib.train.fit` returns.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Optional, Sequence

import torch
import torch.nn as nn

__all__ = ["LossObjective", "Objective", "TrainConfig", "TrainResult"]

Tensor = torch.Tensor


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


#: When the learning-rate scheduler steps (:attr:`TrainConfig.schedule_unit`).
SCHEDULE_UNITS = ("epoch", "step")


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (defaults: the paper's recipe, Sec. 5.1).

    ``milestones`` are 1-based epoch counts after which the learning rate is
    multiplied by ``lr_decay`` (the paper: 0.1 after epochs 150 and 225 of 300
    for CIFAR, 50 and 100 of 120 for Texas100/Purchase100).  ``amp`` trains in
    bfloat16 autocast on CUDA (float32 master weights and loss); ``cpu_amp``
    does the same on the CPU, where it pays only with native bf16 instructions
    (AMX / AVX512-BF16, :func:`ccl_lib.accel.cpu_bf16_support`) and not for
    every model -- off by default, see ``benchmarks/README.md``; ``fused`` uses PyTorch's
    fused SGD kernel where the device has one (same update, fewer kernels).
    ``seed`` fixes the batch order, the reference draws, the augmentation and
    every draw of the global torch RNG inside :func:`fit` (dropout, mixup...).

    Attributes:
        epochs: training epochs (>= 1).
        batch_size: SGD minibatch size (>= 1; the paper: 128).
        lr: initial learning rate (> 0; the paper: 0.1).
        momentum: SGD momentum in [0, 1) (the paper: 0.9).
        weight_decay: SGD's L2 weight decay (>= 0; the paper: 5e-4).
        milestones: 1-based epochs after which the learning rate is multiplied by
            ``lr_decay`` (empty: constant learning rate); SGD steps with ``schedule_unit="step"``.
        lr_decay: the factor in (0, 1] applied at each milestone.
        augment: random crop (padding 4) and horizontal flip of training images
            (:func:`random_crop_flip`); ignored for tabular data.
        seed: non-negative integer seeding every random draw of training, as above.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        amp: bfloat16 autocast on CUDA (no effect on the CPU), as above.
        eval_batch_size: batch size of the per-epoch evaluation passes (memory only).
        track_train_loss: after each epoch, evaluate the per-sample cross-entropy on the
            training set in eval mode (``train_loss_mean``/``train_loss_var``/``train_acc``,
            Fig. 1); off saves one pass over the training set per epoch.
        checkpoint_epochs: epochs (in ``1..epochs``) after which a copy of the state dict is kept
            (:attr:`TrainResult.checkpoints`; the early-stopping defense, App. E.2).
        fused: use PyTorch's fused SGD kernel where available.
        cpu_amp: bfloat16 autocast on the CPU, as above.
        schedule_unit: ``"epoch"`` (Sec. 5.1: the scheduler steps once per epoch) or ``"step"``
            (it steps after every SGD step, so ``milestones`` count steps: how the CCL authors'
            fork trains RelaxLoss, ``zhenlong-liu/MLHospital``
            ``mlh/defenses/membership_inference/RelaxLoss.py``, ``TrainTargetRelaxLoss.train``).
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = ()
    lr_decay: float = 0.1
    augment: bool = False
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    eval_batch_size: int = 2048
    track_train_loss: bool = True
    checkpoint_epochs: tuple[int, ...] = ()
    fused: bool = True
    cpu_amp: bool = False
    schedule_unit: str = "epoch"

    def __post_init__(self) -> None:
        if not (_is_int(self.epochs) and self.epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not (_is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (_is_int(self.eval_batch_size) and self.eval_batch_size >= 1):
            raise ValueError(f"eval_batch_size must be a positive integer, got {self.eval_batch_size!r}")
        if not (isinstance(self.lr, numbers.Real) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (isinstance(self.momentum, numbers.Real) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if not (
            isinstance(self.weight_decay, numbers.Real) and math.isfinite(self.weight_decay) and self.weight_decay >= 0
        ):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.lr_decay, numbers.Real) and 0 < self.lr_decay <= 1):
            raise ValueError(
                f"lr_decay must be a number in (0, 1] (the paper divides by 10: 0.1), got {self.lr_decay!r}"
            )
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.schedule_unit not in SCHEDULE_UNITS:
            raise ValueError(
                f"schedule_unit must be one of {list(SCHEDULE_UNITS)} (when the learning-rate scheduler steps), "
                f"got {self.schedule_unit!r}"
            )
        for name in ("cpu_amp",):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.device, (str, torch.device)):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        for name in ("milestones", "checkpoint_epochs"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"{name} must be a sequence of epoch numbers, got {values!r}")
            if not all(_is_int(e) for e in values):
                raise ValueError(f"{name} must hold integer epoch numbers, got {values!r}")
            object.__setattr__(self, name, tuple(int(e) for e in values))
        for e in self.milestones:
            if e < 1:
                raise ValueError(f"milestone {e} must be >= 1 (the lr drops after that many {self.schedule_unit}s)")
        for e in self.checkpoint_epochs:
            if not 1 <= e <= self.epochs:
                raise ValueError(f"checkpoint epoch {e} is outside 1..{self.epochs}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        d["checkpoint_epochs"] = list(self.checkpoint_epochs)
        d["device"] = str(self.device)
        return d


class Objective:
    """What the trainer minimizes; subclass and override :meth:`loss`.

    Attributes:
        needs_reference: the objective wants a batch of the reference split
            (the fifth part of :func:`ccl_lib.splits.make_splits`) at each step.
        stackable: :meth:`loss` is a pure function of ``model(x)`` and ``y`` -- no state kept
            between steps, no reference batch, no random draw of its own (``nn.Dropout`` modules
            of the model aside) -- so :func:`ccl_lib.train.fit_many` may evaluate it for several
            models at once under ``torch.func.vmap``.  Off by default; subclasses inherit it.
    """

    name: str = "objective"
    needs_reference: bool = False
    stackable: ClassVar[bool] = False

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        """Called once before training (create auxiliary models, optimizers...).

        Args:
            model: the model about to be trained (already on ``device``).
            num_classes: number of classes K of its output.
            device: the training device.
        """

    def loss(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        *,
        ref: Optional[tuple[Tensor, Tensor]] = None,
        epoch: int = 0,
        step: int = 0,
    ) -> Tensor:
        """The scalar loss of one batch; the trainer back-propagates and steps SGD.

        Args:
            model: the model in training mode; call it on ``x`` for the logits.
            x: the batch's inputs (augmented when ``config.augment``).
            y: the batch's integer labels.
            ref: a batch ``(x_ref, y_ref)`` of the reference split when :attr:`needs_reference`, else ``None``.
            epoch: the current epoch, 1-based (RelaxLoss alternates on it).
            step: the global step count (0-based).
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """All hyperparameters, so that two different objectives never share an identity."""
        return {"name": self.name}

    def adapt_config(self, config: TrainConfig) -> TrainConfig:
        """The recipe this objective trains with, given the run's: ``config`` itself by default.

        Only a variant that follows a code base whose *trainer* differs from Sec. 5.1's changes
        it (RelaxLoss ``ccl_code``: the scheduler steps after every SGD step).  :func:`fit` and
        :func:`fit_many` apply it; it must be idempotent.

        Args:
            config: the run's :class:`TrainConfig`.
        """
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
        return config


class LossObjective(Objective):
    """Minimize ``loss_fn(model(x), y)`` for any loss of :mod:`ccl_lib.losses`.

    Args:
        loss_fn: ``loss_fn(logits, targets) -> scalar tensor`` (e.g. ``functools.partial(ccel, alpha=0.5)``).
        name: the objective's name in :meth:`describe` (and the results' identity).
        **params: hyperparameters recorded by :meth:`describe` (not passed to ``loss_fn``).
    """

    stackable = True  # a function of (logits, targets): fit_many may vmap it

    def __init__(self, loss_fn: Callable[[Tensor, Tensor], Tensor], name: str = "loss", **params: Any) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable as loss_fn(logits, targets), got {type(loss_fn).__name__}")
        self.loss_fn = loss_fn
        self.name = name
        self.params = params

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        return self.loss_fn(model(x), y)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass
class TrainResult:
    """Per-epoch history (list of dicts, one per epoch) and in-memory checkpoints.

    ``checkpoint_files`` maps each epoch written to ``checkpoint_dir`` to
    ``(path, sha256)``; read one back with
    :func:`ccl_lib.utils.load_torch_verified`.

    Attributes:
        history: one dict per epoch (columns as described in :func:`fit`).
        checkpoints: ``{epoch: state dict}`` (CPU copies) for ``config.checkpoint_epochs``.
        config: the :class:`TrainConfig` the model was trained with.
        checkpoint_files: as above.
    """

    history: list[dict[str, float]]
    checkpoints: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    config: Optional[TrainConfig] = None
    checkpoint_files: dict[int, tuple[str, str]] = field(default_factory=dict)

    def history_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)
