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
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import accel
from .utils import atomic_torch_save, resolve_device

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
    "random_crop_flip",
]

Tensor = torch.Tensor


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


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
            ``lr_decay`` (empty: constant learning rate).
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
                raise ValueError(f"milestone {e} must be >= 1 (the lr drops after that many epochs)")
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
    """

    name: str = "objective"
    needs_reference: bool = False

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


class LossObjective(Objective):
    """Minimize ``loss_fn(model(x), y)`` for any loss of :mod:`ccl_lib.losses`.

    Args:
        loss_fn: ``loss_fn(logits, targets) -> scalar tensor`` (e.g. ``functools.partial(ccel, alpha=0.5)``).
        name: the objective's name in :meth:`describe` (and the results' identity).
        **params: hyperparameters recorded by :meth:`describe` (not passed to ``loss_fn``).
    """

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


def random_crop_flip(
    x: Tensor,
    padding: int = 4,
    generator: Optional[torch.Generator] = None,
    *,
    offsets: Optional[Tensor] = None,
    flips: Optional[Tensor] = None,
) -> Tensor:
    """Random crop with zero padding and random horizontal flip, for a batch (N, C, H, W).

    The standard CIFAR training augmentation (He et al., 2016), vectorized on
    the batch's device: sample ``i`` is the ``H x W`` window at row
    ``offsets[0, i]`` and column ``offsets[1, i]`` of the image zero-padded by
    ``padding`` on each side, mirrored left-right when ``flips[i]``.  Offsets
    (integers in ``[0, 2 * padding]``) and flips are drawn from ``generator``
    unless given.

    Args:
        x: (N, C, H, W) batch.
        padding: zero padding on each side, in pixels (>= 0; the standard 4).
        generator: the torch RNG for the draws (default the global one).
        offsets: (2, N) integer crop offsets (rows, columns) instead of drawing them.
        flips: (N,) booleans, mirror sample ``i`` when true, instead of drawing them.
    """
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got {getattr(x, 'shape', type(x))}")
    if not (_is_int(padding) and padding >= 0):
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    n, c, h, w = x.shape
    if offsets is None:
        offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    if flips is None:
        flips = torch.rand(n, generator=generator) < 0.5
    if tuple(offsets.shape) != (2, n) or tuple(flips.shape) != (n,):
        raise ValueError(
            f"offsets must have shape (2, {n}) and flips ({n},), got {tuple(offsets.shape)} and {tuple(flips.shape)}"
        )
    off = offsets.to(x.device, torch.long)
    flip = flips.to(x.device, torch.bool)
    xp = F.pad(x, (padding, padding, padding, padding))
    rows = off[0][:, None] + torch.arange(h, device=x.device)[None, :]  # (n, h)
    cols = off[1][:, None] + torch.arange(w, device=x.device)[None, :]  # (n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def _autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled`` (queries: :func:`predict_logits`)."""
    return accel.autocast(device, enabled and device.type == "cuda")


def _train_autocast(device: torch.device, config: TrainConfig):
    """The training step's autocast: ``config.amp`` on CUDA, ``config.cpu_amp`` on the CPU."""
    return accel.autocast(device, config.amp if device.type == "cuda" else (config.cpu_amp and device.type == "cpu"))


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return fallback


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    x: Tensor,
    batch_size: int = 2048,
    device: Union[str, torch.device, None] = None,
    transform: Optional[Callable[[Tensor], Tensor]] = None,
    *,
    amp: bool = False,
) -> Tensor:
    """Logits of ``model`` on ``x`` in eval mode, batched; returned as float32 on the CPU.

    The query every membership inference attack makes (Sec. 2): no dropout,
    BatchNorm running statistics, no autograd (``torch.inference_mode``).
    ``device`` defaults to the model's device (``"auto"`` picks CUDA when
    present; the model is *not* moved).  ``transform`` (e.g. a fixed rotation
    for the augmentation attack) is applied to each batch on the device before
    the forward pass; image batches are fed channels-last.  ``amp=True`` runs the forward pass in bfloat16 autocast
    on CUDA -- faster, but bfloat16 logits keep ~3 significant digits, too few
    for loss-based membership scores, hence off by default.  The model's
    train/eval mode is restored afterwards.

    Args:
        model: the classifier.
        x: the inputs (a float tensor, any leading batch dimension).
        batch_size: rows per forward pass (memory only).
        device: where to run (default the model's device).
        transform: an optional deterministic batch transform, as above.
        amp: bfloat16 autocast on CUDA, as above.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch tensor (see Dataset.features), got {type(x).__name__}")
    if x.dim() < 1:
        raise ValueError("x must have a batch dimension")
    if not (_is_int(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    dev = resolve_device(device) if device is not None else _model_device(model, x.device)
    was_training = model.training
    model.eval()
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(dev, non_blocking=True)
            if transform is not None:
                xb = transform(xb)
            if xb.dim() == 4:  # channels-last convolutions: ~1.8x faster on the CPU (oneDNN), and on GPUs
                xb = xb.contiguous(memory_format=torch.channels_last)
            with _autocast(dev, amp):
                outs.append(model(xb).float())
        if outs:
            out = torch.cat(outs)
        else:
            out = torch.empty(0)
    finally:
        model.train(was_training)
    return out.cpu()


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 2048) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` in eval mode (the utility of Sec. 5.1).

    Args:
        model: the classifier.
        x: inputs.
        y: non-empty 1-d integer labels, one per row of ``x``.
        batch_size: rows per forward pass (memory only).
    """
    if not isinstance(y, Tensor) or y.dim() != 1 or len(y) != len(x) or len(y) == 0:
        raise ValueError(f"y must be a non-empty 1-d tensor of labels as long as x, got {getattr(y, 'shape', type(y))}")
    logits = predict_logits(model, x, batch_size)
    return float((logits.argmax(1) == y.cpu()).float().mean())


def _eval_stats(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> tuple[float, float, float]:
    """Mean and variance of the per-sample cross-entropy, and accuracy (float32 logits, float64 loss)."""
    logits = predict_logits(model, x, batch_size)
    y = y.cpu()
    ce = -torch.log_softmax(logits.double(), dim=1).gather(1, y[:, None]).squeeze(1)
    acc = (logits.argmax(1) == y).double().mean()
    return float(ce.mean()), float(ce.var(unbiased=False)), float(acc)


def _make_sgd(params, config: TrainConfig, device: torch.device) -> torch.optim.SGD:
    kw: dict[str, Any] = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.fused:
        try:
            return torch.optim.SGD(params, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype
            pass
    return torch.optim.SGD(params, **kw)


def _first_row(x) -> Tensor:
    """The first input of ``x`` (a tensor or :class:`ccl_lib.augment.DeviceImages`) as a batch of one."""
    return x[:1] if isinstance(x, Tensor) else x.features(torch.zeros(1, dtype=torch.long))


def _check_labels(name: str, y: Tensor, n: int) -> Tensor:
    if not isinstance(y, Tensor) or y.dim() != 1:
        raise ValueError(f"{name} must be a 1-d tensor of class labels, got {getattr(y, 'shape', type(y))}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} inputs")
    return y.long()


def fit(
    model: nn.Module,
    x_train: Tensor,
    y_train: Tensor,
    *,
    objective: Optional[Objective] = None,
    config: TrainConfig = TrainConfig(),
    x_test: Optional[Tensor] = None,
    y_test: Optional[Tensor] = None,
    reference: Optional[tuple[Tensor, Tensor]] = None,
    checkpoint_dir: Union[str, os.PathLike, None] = None,
    progress: Optional[bool] = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` in place with SGD (Sec. 5.1's recipe) and return its per-epoch history.

    Args:
        model: any classifier mapping a batch of ``x_train`` to (N, K) logits.
        x_train, y_train: features (float tensor, or :class:`ccl_lib.augment.DeviceImages`:
            uint8 pixels kept on the device, batches gathered, cropped, flipped and
            normalized there) and integer labels in [0, K).
        objective: what to minimize; default cross-entropy.
        config: :class:`TrainConfig` (the paper's recipe by default).
        x_test, y_test: evaluated after every epoch (``test_acc`` in history).
        reference: ``(x, y)`` of the reference split, for objectives with
            ``needs_reference`` (Mixup+MMD, adversarial regularization).
        checkpoint_dir: if given, ``epoch_XXXX.pt`` state dicts for
            ``config.checkpoint_epochs`` are also written there, atomically
            (paths and SHA-256 in ``TrainResult.checkpoint_files``).
        progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).
        desc: the progress bar's label.

    History columns: ``epoch, lr`` (the learning rate used during the epoch),
    ``objective`` (mean batch objective), ``train_loss_mean, train_loss_var,
    train_acc`` (per-sample cross-entropy on the training set in eval mode;
    the quantities of Fig. 1 and Fig. 4c; only with ``track_train_loss``),
    ``test_loss_mean, test_acc`` (with a test set) and ``seconds``.

    Runs are deterministic given ``config.seed`` and the model's initial
    weights (bit-identical on the CPU); the global torch RNG is seeded from
    ``config.seed`` inside and restored on return.  Raises
    ``FloatingPointError`` when the mean objective of an epoch is NaN or
    infinite (checked once per epoch, so the inner loop never waits on the
    device).
    """
    from .losses import cross_entropy

    if objective is None:
        objective = LossObjective(lambda z, t: cross_entropy(z, t, check_inputs=False), name="ce")
    if not isinstance(objective, Objective):
        raise TypeError(
            f"objective must be a ccl_lib.train.Objective (e.g. LossObjective), got {type(objective).__name__}"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
    from .augment import DeviceImages

    if not isinstance(x_train, (Tensor, DeviceImages)) or not isinstance(y_train, Tensor):
        raise TypeError(
            "x_train and y_train must be torch tensors (see Dataset.features); "
            "x_train may also be ccl_lib.augment.DeviceImages"
        )
    if isinstance(x_train, Tensor) and not x_train.is_floating_point():
        raise ValueError(f"x_train must be a floating-point tensor (see Dataset.features), got {x_train.dtype}")
    if len(x_train) == 0:
        raise ValueError("x_train is empty")
    y_train = _check_labels("y_train", y_train, len(x_train))
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if x_test is not None:
        if not isinstance(x_test, Tensor) or not x_test.is_floating_point() or x_test.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"x_test must be a floating-point tensor of rows shaped like x_train's {tuple(x_train.shape[1:])}, "
                f"got {getattr(x_test, 'shape', type(x_test))}"
            )
        assert y_test is not None  # both or neither, checked above
        y_test = _check_labels("y_test", y_test, len(x_test))
    if objective.needs_reference and reference is None:
        raise ValueError(
            f"objective {objective.name!r} needs the reference split: pass reference=(x_ref, y_ref) "
            "(use make_splits(..., n_parts=5))"
        )
    if reference is not None:
        if not (isinstance(reference, (tuple, list)) and len(reference) == 2 and isinstance(reference[0], Tensor)):
            raise ValueError("reference must be a pair (x_ref, y_ref) of tensors")
        if len(reference[0]) == 0 or reference[0].shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"reference inputs must be non-empty rows shaped like x_train's {tuple(x_train.shape[1:])}, "
                f"got {tuple(reference[0].shape)}"
            )
        _check_labels("reference labels", reference[1], len(reference[0]))
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"

    device = resolve_device(config.device)
    fork_devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=fork_devices):
        # Dropout, mixup and an objective's own draws use the global RNG: seed it from the
        # run's seed (a different stream from `gen`, which orders the batches).
        torch.manual_seed((config.seed * 0x9E3779B1 + 0x7F4A7C15) % (2**63))
        return _fit(
            model,
            x_train,
            y_train,
            objective,
            config,
            x_test,
            y_test,
            reference,
            checkpoint_dir,
            progress,
            desc,
            device,
        )


def _fit(
    model, x_train, y_train, objective, config, x_test, y_test, reference, checkpoint_dir, progress, desc, device
) -> TrainResult:
    from tqdm.auto import tqdm

    from .augment import DeviceImages

    images = isinstance(x_train, DeviceImages)  # uint8 pixels on the device: batches built there
    model.to(device).eval()
    with torch.inference_mode():  # eval mode: a probe must not touch BatchNorm statistics
        out = model(_first_row(x_train).to(device))
    if out.dim() != 2:
        raise ValueError(f"the model must return (N, K) logits, got shape {tuple(out.shape)}")
    num_classes = int(out.shape[1])
    y_max = int(y_train.max())
    if int(y_train.min()) < 0 or y_max >= num_classes:
        raise ValueError(
            f"y_train must hold labels in [0, {num_classes - 1}] for a model with {num_classes} outputs, "
            f"found [{int(y_train.min())}, {y_max}]"
        )
    # Channels-last (NHWC) convolutions: 25-30% faster training of the small CNN on the CPU
    # (oneDNN) in our measurements, and the layout GPUs' tensor cores want.
    channels_last = len(x_train.shape) == 4
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    xtr, ytr = x_train.to(device), y_train.to(device)
    xte = yte = None
    if x_test is not None:
        xte, yte = x_test.to(device), y_test
    ref_x = ref_y = None
    if reference is not None:
        ref_x, ref_y = reference[0].to(device), reference[1].long().to(device)
    objective.setup(model, num_classes=num_classes, device=device)

    opt = _make_sgd(model.parameters(), config, device)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.milestones), gamma=config.lr_decay)
    gen = torch.Generator().manual_seed(config.seed)
    n = len(xtr)
    bs = config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    history: list[dict[str, float]] = []
    checkpoints: dict[int, dict[str, Tensor]] = {}
    checkpoint_files: dict[int, tuple[str, str]] = {}
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    augment = config.augment and len(xtr.shape) == 4
    pad = 4

    bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=False)
    step = 0
    for epoch in bar:
        t0 = time.perf_counter()
        lr_used = float(opt.param_groups[0]["lr"])
        model.train()
        # All of the epoch's random draws at once, on the CPU generator, moved to the device once.
        perm = torch.randperm(n, generator=gen).to(device)
        ridx = torch.randint(0, len(ref_x), (n,), generator=gen).to(device) if ref_x is not None else None
        if augment:
            offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).to(device)
            flips = (torch.rand(n, generator=gen) < 0.5).to(device)
        total = torch.zeros((), device=device, dtype=torch.float64)
        for b in range(steps_per_epoch):
            sl = slice(b * bs, (b + 1) * bs)
            idx = perm[sl]
            yb = ytr.index_select(0, idx)
            if images:
                xb = xtr.batch(idx, offsets[:, sl], flips[sl], pad) if augment else xtr.batch(idx)
            else:
                xb = xtr.index_select(0, idx)
                if augment:
                    xb = random_crop_flip(xb, pad, offsets=offsets[:, sl], flips=flips[sl])
                if channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
            ref = None
            if ridx is not None:
                assert ref_x is not None and ref_y is not None  # ridx is drawn exactly when they are given
                r = ridx[sl]
                ref = (ref_x.index_select(0, r), ref_y.index_select(0, r))
            with _train_autocast(device, config):
                loss = objective.loss(model, xb, yb, ref=ref, epoch=epoch, step=step)
            if not isinstance(loss, Tensor) or loss.dim() != 0:
                raise ValueError(
                    f"objective {objective.name!r} must return a scalar tensor, "
                    f"got {getattr(loss, 'shape', type(loss))}"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total.add_(loss.detach())
            step += 1
        sched.step()
        mean_obj = float(total) / steps_per_epoch
        if not math.isfinite(mean_obj):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: the mean objective is {mean_obj} "
                f"(objective {objective.describe()}, lr {lr_used}); lower the learning rate or check the objective"
            )
        row: dict[str, float] = {"epoch": epoch, "lr": lr_used, "objective": mean_obj}
        if config.track_train_loss:
            m, v, a = _eval_stats(model, xtr.features() if images else xtr, ytr, config.eval_batch_size)
            row.update(train_loss_mean=m, train_loss_var=v, train_acc=a)
        if xte is not None and yte is not None:
            m, _, a = _eval_stats(model, xte, yte, config.eval_batch_size)
            row.update(test_loss_mean=m, test_acc=a)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if epoch in config.checkpoint_epochs:
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            checkpoints[epoch] = state
            if ckpt_dir is not None:
                path = ckpt_dir / f"epoch_{epoch:04d}.pt"
                checkpoint_files[epoch] = (str(path), atomic_torch_save(state, path))
        post = {"obj": f"{mean_obj:.3f}"}
        if "test_acc" in row:
            post["test_acc"] = f"{row['test_acc']:.3f}"
        bar.set_postfix(post)
    bar.close()
    model.eval()
    return TrainResult(history=history, checkpoints=checkpoints, config=config, checkpoint_files=checkpoint_files)


def as_index_tensor(idx: Union[np.ndarray, Sequence[int]]) -> Tensor:
    """Convert split indices to a ``torch.long`` tensor."""
    return torch.as_tensor(np.asarray(idx), dtype=torch.long)


# --------------------------------------------------------------------------- several models at once

#: ``fit_many`` strategies: step the models together (stacked parameters, ``torch.func.vmap``),
#: one after the other (:func:`fit`), or pick (stacked on CUDA when eligible, sequential on the CPU).
FIT_MANY_STRATEGIES = ("auto", "stacked", "sequential")


def _stackable_objective(objective: Objective) -> Optional[str]:
    """``None`` when ``objective`` is a per-model objective the stacked path runs, else why not."""
    from .defenses.ccl import CCL, Focal, Vanilla
    from .defenses.regularizers import ConfidencePenalty, Dropout, LabelSmoothing

    covered = (Vanilla, CCL, Focal, LabelSmoothing, ConfidencePenalty, Dropout)
    if isinstance(objective, covered) and not objective.checkpoint_epochs:
        return None
    if type(objective) is LossObjective:
        return None
    return (
        f"objective {objective.name!r} ({type(objective).__name__}) is not one the stacked path covers "
        "(cross-entropy, the CCL family, focal, label smoothing, confidence penalty, dropout)"
    )


def _dropout_modules(model: nn.Module) -> list[nn.modules.dropout._DropoutNd]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


def _stacking_obstacle(models, data, objectives, configs) -> Optional[str]:
    """Why the models cannot be stepped together (``None`` when they can)."""
    if len(models) < 2:
        return "a single model"
    for o in objectives:
        why = _stackable_objective(o)
        if why:
            return why
    if len({repr(sorted(o.describe().items(), key=str)) for o in objectives}) > 1:
        return "the models have different objectives"
    if len({type(m) for m in models}) > 1:
        return "the models are of different classes"
    shapes = [[(k, tuple(v.shape), v.dtype) for k, v in m.state_dict().items()] for m in models]
    if any(s != shapes[0] for s in shapes[1:]):
        return "the models' parameters differ in names or shapes"
    plain = [dataclasses.replace(c, seed=0, checkpoint_epochs=()) for c in configs]
    if any(c != plain[0] for c in plain[1:]):
        return "the configs differ in more than seed and checkpoint_epochs"
    if len({(tuple(x.shape), getattr(x, "dtype", type(x).__name__)) for x, _ in data}) > 1:
        return "the training sets differ in size or shape"
    for d in _dropout_modules(models[0]):
        if type(d) is not nn.Dropout and d.p > 0:
            return f"{type(d).__name__} (only nn.Dropout is stacked)"
    return None


class _StackedDropout(nn.Module):
    """Dropout whose mask is given (drawn outside ``vmap`` from each model's own generator)."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: Optional[Tensor] = None

    def forward(self, x: Tensor) -> Tensor:
        if self.mask is None:
            raise RuntimeError("_StackedDropout runs only inside fit_many's step, which sets its mask")
        return x * self.mask


class _Proxy:
    """Stands in for the model inside ``vmap``: ``proxy(x)`` is the functional forward pass."""

    def __init__(self, skeleton: nn.Module, params, buffers) -> None:
        self._call = lambda x: torch.func.functional_call(skeleton, (params, buffers), (x,))

    def __call__(self, x: Tensor) -> Tensor:
        return self._call(x)


def fit_many(
    models: Sequence[nn.Module],
    data: Sequence[tuple[Tensor, Tensor]],
    *,
    objective: Union[None, Objective, Sequence[Objective]] = None,
    configs: Union[TrainConfig, Sequence[TrainConfig]] = TrainConfig(),
    x_test: Union[None, Tensor, Sequence[Tensor]] = None,
    y_test: Union[None, Tensor, Sequence[Tensor]] = None,
    reference: Optional[tuple[Tensor, Tensor]] = None,
    progress: Optional[bool] = None,
    strategy: str = "auto",
    desc: str = "train",
) -> list[TrainResult]:
    """Train several independent models (Sec. 5.1's recipe each) in one program.

    The target and shadow models of the paper's protocol (Sec. 5.1), and the
    reference models of LiRA/RMIA, are trained alike on different data; on a
    GPU one small model per program is bound by kernel launches, so stepping
    them *together* is the lever.

    Args:
        models: the models, trained in place (same device placement as :func:`fit`).
        data: one ``(x_train, y_train)`` per model.
        objective: one objective for all models, or one per model (default cross-entropy).
        configs: one :class:`TrainConfig` for all, or one per model (seeds differ per model).
        x_test, y_test: one test set for all, or one per model, or ``None``.
        reference: the reference split, for objectives that need it (sequential only).
        progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).
        desc: the progress bar's label.
        strategy: ``"stacked"`` steps all models at once: their parameters are
            stacked (``torch.func.stack_module_state``) and one ``vmap``-ed
            forward/backward and one SGD step serve every model; ``"sequential"``
            calls :func:`fit` per model; ``"auto"`` stacks on CUDA when the
            models allow it and trains sequentially on the CPU (where stacking
            measured no faster: ``benchmarks/README.md``).

    Returns one :class:`TrainResult` per model, equal to what separate
    :func:`fit` calls with the same configs return (parameters within float
    tolerance: the stacked path sums the same terms in another order; the
    per-epoch ``seconds`` are those of the shared epoch).  Batch order,
    augmentation and dropout masks of model ``i`` are drawn from generators
    seeded by ``configs[i].seed`` exactly as :func:`fit` draws them (dropout
    masks are bit-equal on the CPU; CUDA's fused dropout kernel draws
    differently, so there they agree only in distribution).

    Stacking needs the same model class and shapes, the same config apart from
    ``seed`` and ``checkpoint_epochs``, training sets of one size, and one
    per-model objective: cross-entropy, the CCL family, focal, label
    smoothing, confidence penalty or dropout (``LossObjective`` too).  Other
    objectives (RelaxLoss, Mixup+MMD, AdvReg, DP-SGD, early stopping) keep
    state or need the reference split: with ``"auto"`` they are trained
    sequentially with a ``UserWarning`` saying why; ``"stacked"`` raises
    ``ValueError``.
    """
    import warnings

    from .losses import cross_entropy

    if isinstance(models, nn.Module) or not isinstance(models, Sequence) or len(models) == 0:
        raise TypeError("models must be a non-empty list of torch.nn.Module")
    for i, m in enumerate(models):
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{i}] must be a torch.nn.Module, got {type(m).__name__}")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("models must be distinct objects (the same model appears twice)")
    k = len(models)
    if not isinstance(data, Sequence) or len(data) != k:
        raise ValueError(f"data must be a list of {k} (x_train, y_train) pairs, one per model")
    for i, pair in enumerate(data):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"data[{i}] must be a pair (x_train, y_train)")

    def per_model(value, name, kind):
        if value is None or isinstance(value, kind):
            return [value] * k
        if isinstance(value, Sequence) and len(value) == k:
            return list(value)
        raise ValueError(f"{name} must be one {kind.__name__} or a list of {k}, one per model")

    if objective is None:
        objective = LossObjective(lambda z, t: cross_entropy(z, t, check_inputs=False), name="ce")
    objectives = per_model(objective, "objective", Objective)
    cfgs = per_model(configs, "configs", TrainConfig)
    xts, yts = per_model(x_test, "x_test", Tensor), per_model(y_test, "y_test", Tensor)
    for i, (o, c) in enumerate(zip(objectives, cfgs)):
        if not isinstance(o, Objective):
            raise TypeError(f"objective {i} must be a ccl_lib.train.Objective, got {type(o).__name__}")
        if not isinstance(c, TrainConfig):
            raise TypeError(f"config {i} must be a ccl_lib.train.TrainConfig, got {type(c).__name__}")
    if strategy not in FIT_MANY_STRATEGIES:
        raise ValueError(f"strategy must be one of {FIT_MANY_STRATEGIES}, got {strategy!r}")
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"

    devices = {resolve_device(c.device) for c in cfgs}
    obstacle = _stacking_obstacle(models, data, objectives, cfgs)
    if obstacle is None and len(devices) > 1:
        obstacle = "the configs name different devices"
    if strategy == "stacked" and obstacle is not None:
        raise ValueError(f"fit_many cannot stack these models: {obstacle}; use strategy='sequential'")
    stacked = obstacle is None and (
        strategy == "stacked" or (strategy == "auto" and next(iter(devices)).type == "cuda")
    )
    if strategy == "auto" and obstacle is not None and k > 1 and any(d.type == "cuda" for d in devices):
        warnings.warn(f"fit_many trains the {k} models one after the other: {obstacle}", UserWarning, stacklevel=2)
    if not stacked:
        out = []
        for i, (m, (x, y), o, c) in enumerate(zip(models, data, objectives, cfgs)):
            kw = dict(config=c, x_test=xts[i], y_test=yts[i], progress=progress, desc=f"{desc} {i + 1}/{k}")
            if hasattr(o, "train") and hasattr(o, "checkpoint_epochs") and hasattr(o, "model_kwargs"):
                out.append(o.train(m, x, y, reference=reference, **kw))  # a Defense: its checkpoints, its hooks
            else:
                out.append(fit(m, x, y, objective=o, reference=reference, **kw))
        return out
    for i, (x, y) in enumerate(data):  # the same checks as fit's
        if not ((isinstance(x, Tensor) and x.is_floating_point()) or type(x).__name__ == "DeviceImages") or len(x) == 0:
            raise ValueError(f"data[{i}]: x_train must be a non-empty floating-point tensor or DeviceImages")
        _check_labels(f"data[{i}] labels", y, len(x))
        if (xts[i] is None) != (yts[i] is None):
            raise ValueError("give both x_test and y_test, or neither")
        if xts[i] is not None:
            _check_labels("y_test", yts[i], len(xts[i]))
    device = next(iter(devices))
    fork = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        return _fit_stacked(list(models), data, objectives[0], cfgs, xts, yts, progress, desc, device)


def _fit_stacked(models, data, objective, cfgs, xts, yts, progress, desc, device) -> list[TrainResult]:
    import copy

    from tqdm.auto import tqdm

    k = len(models)
    config = cfgs[0]
    x0 = data[0][0]
    for m in models:
        m.to(device).eval()
    with torch.inference_mode(), _train_autocast(device, config):
        out = models[0](_first_row(x0).to(device))
    if out.dim() != 2:
        raise ValueError(f"the model must return (N, K) logits, got shape {tuple(out.shape)}")
    num_classes = int(out.shape[1])
    for i, (_, y) in enumerate(data):
        if int(y.min()) < 0 or int(y.max()) >= num_classes:
            raise ValueError(
                f"data[{i}] labels must lie in [0, {num_classes - 1}] for a model with {num_classes} outputs"
            )
    images = not isinstance(x0, Tensor)  # DeviceImages: uint8 pixels, batches built on the device
    channels_last = len(x0.shape) == 4
    if channels_last:
        for m in models:
            m.to(memory_format=torch.channels_last)
    objective.setup(models[0], num_classes=num_classes, device=device)

    # Dropout: masks drawn per model outside vmap, from a generator seeded as fit seeds the global RNG.
    skeleton = copy.deepcopy(models[0]).to("meta")
    drops: list[tuple[_StackedDropout, float, tuple[int, ...], torch.dtype]] = []
    shapes: dict[int, tuple] = {}
    hooks = []
    for j, d in enumerate(_dropout_modules(models[0])):
        if d.p > 0:
            hooks.append(
                d.register_forward_hook(
                    lambda mod, inp, o, j=j: shapes.__setitem__(j, (tuple(inp[0].shape[1:]), inp[0].dtype))
                )
            )
    if hooks:
        with torch.inference_mode(), _train_autocast(device, config):
            models[0](_first_row(x0).to(device))
        for h in hooks:
            h.remove()
        names = [n for n, mod in skeleton.named_modules() if isinstance(mod, nn.modules.dropout._DropoutNd)]
        originals = _dropout_modules(models[0])
        for j, name in enumerate(names):
            if originals[j].p > 0:
                sd = _StackedDropout()
                parent_name, _, leaf = name.rpartition(".")
                parent = skeleton.get_submodule(parent_name) if parent_name else skeleton
                setattr(parent, leaf, sd)
                drops.append((sd, float(originals[j].p), *shapes[j]))
    drop_gens = (
        [torch.Generator(device=device).manual_seed((c.seed * 0x9E3779B1 + 0x7F4A7C15) % (2**63)) for c in cfgs]
        if drops
        else []
    )

    params, buffers = torch.func.stack_module_state(models)
    plist = list(params.values())
    opt = _make_sgd(plist, config, device)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.milestones), gamma=config.lr_decay)
    gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]
    xall = [x.to(device) for x, _ in data] if images else torch.stack([x.to(device) for x, _ in data])  # (k, n, ...)
    yall = torch.stack([y.long().to(device) for _, y in data])
    xte = [None if x is None else x.to(device) for x in xts]
    n = len(data[0][0])
    bs = config.batch_size
    steps = math.ceil(n / bs)
    augment = config.augment and len(x0.shape) == 4
    pad = 4
    rows_idx = torch.arange(k, device=device)[:, None]

    def one(p, b, x, y, *masks):
        for (sd, *_), mask in zip(drops, masks):
            sd.mask = mask
        skeleton.train()
        return objective.loss(_Proxy(skeleton, p, b), x, y, ref=None, epoch=epoch, step=step)

    def write_back():
        with torch.no_grad():
            for i, m in enumerate(models):
                for name, t in m.named_parameters():
                    t.copy_(params[name][i])
                for name, t in m.named_buffers():
                    if name in buffers:
                        t.copy_(buffers[name][i])

    histories: list[list[dict[str, float]]] = [[] for _ in range(k)]
    checkpoints: list[dict[int, dict[str, Tensor]]] = [{} for _ in range(k)]
    bar = tqdm(range(1, config.epochs + 1), desc=f"{desc} ({k} stacked)", disable=not progress, leave=False)
    step = 0
    for epoch in bar:
        t0 = time.perf_counter()
        lr_used = float(opt.param_groups[0]["lr"])
        perms, offs, flips = [], [], []
        for g in gens:  # fit's draws, in fit's order, per model
            perms.append(torch.randperm(n, generator=g))
            if augment:
                offs.append(torch.randint(0, 2 * pad + 1, (2, n), generator=g))
                flips.append(torch.rand(n, generator=g) < 0.5)
        perm = torch.stack(perms).to(device)
        if augment:
            off = torch.stack(offs).to(device)  # (k, 2, n)
            flip = torch.stack(flips).to(device)
        total = torch.zeros(k, device=device, dtype=torch.float64)
        for b in range(steps):
            sl = slice(b * bs, (b + 1) * bs)
            idx = perm[:, sl]
            m_b = idx.shape[1]
            yb = yall[rows_idx, idx]
            if isinstance(xall, list):  # images: one DeviceImages per model
                xb = torch.stack(
                    [
                        xi.batch(idx[i], off[i, :, sl], flip[i, sl], pad) if augment else xi.batch(idx[i])
                        for i, xi in enumerate(xall)
                    ]
                )
            else:
                xb = xall[rows_idx, idx]
            if augment and not images:
                flat = random_crop_flip(
                    xb.flatten(0, 1),
                    pad,
                    offsets=off[:, :, sl].permute(1, 0, 2).reshape(2, -1),
                    flips=flip[:, sl].reshape(-1),
                )
                xb = flat.view(k, m_b, *flat.shape[1:])
            if channels_last and not images:
                xb = xb.flatten(0, 1).contiguous(memory_format=torch.channels_last).view(xb.shape)
            masks = []
            for _, p, shape, dtype in drops:
                masks.append(
                    torch.stack(
                        [
                            torch.empty((m_b, *shape), device=device, dtype=dtype)
                            .bernoulli_(1 - p, generator=g)
                            .div_(1 - p)
                            for g in drop_gens
                        ]
                    )
                )
            with _train_autocast(device, config):
                losses = torch.func.vmap(one, randomness="error")(params, buffers, xb, yb, *masks)
            if losses.shape != (k,):
                raise ValueError(f"objective {objective.name!r} must return a scalar tensor per model")
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            total.add_(losses.detach())
            step += 1
        sched.step()
        means = (total / steps).tolist()
        bad = [i for i, v in enumerate(means) if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: the mean objective of model(s) {bad} is not finite "
                f"(objective {objective.describe()}, lr {lr_used}); lower the learning rate or check the objective"
            )
        write_back()
        seconds = time.perf_counter() - t0
        for i, m in enumerate(models):
            row: dict[str, float] = {"epoch": epoch, "lr": lr_used, "objective": means[i]}
            if config.track_train_loss:
                xi = xall[i].features() if isinstance(xall, list) else data[i][0]
                mu, var, acc = _eval_stats(m, xi, data[i][1], config.eval_batch_size)
                row.update(train_loss_mean=mu, train_loss_var=var, train_acc=acc)
            xt = xte[i]
            if xt is not None:
                mu, _, acc = _eval_stats(m, xt, yts[i], config.eval_batch_size)
                row.update(test_loss_mean=mu, test_acc=acc)
            row["seconds"] = seconds
            histories[i].append(row)
            if epoch in cfgs[i].checkpoint_epochs:
                checkpoints[i][epoch] = {key: v.detach().to("cpu", copy=True) for key, v in m.state_dict().items()}
        bar.set_postfix({"obj": f"{sum(means) / k:.3f}"})
    bar.close()
    for m in models:
        m.eval()
    return [TrainResult(history=histories[i], checkpoints=checkpoints[i], config=cfgs[i]) for i in range(k)]
