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

from .utils import atomic_torch_save, resolve_device

__all__ = [
    "LossObjective",
    "Objective",
    "TrainConfig",
    "TrainResult",
    "accuracy",
    "fit",
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
    bfloat16 autocast on CUDA (ignored on the CPU); ``fused`` uses PyTorch's
    fused SGD kernel where the device has one (same update, fewer kernels).
    ``seed`` fixes the batch order, the reference draws, the augmentation and
    every draw of the global torch RNG inside :func:`fit` (dropout, mixup...).
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
        if not (isinstance(self.weight_decay, numbers.Real) and math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if not (isinstance(self.lr_decay, numbers.Real) and 0 < self.lr_decay <= 1):
            raise ValueError(f"lr_decay must be a number in (0, 1] (the paper divides by 10: 0.1), got {self.lr_decay!r}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
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
        """Called once before training (create auxiliary models, optimizers...)."""

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
        """The scalar loss of one batch; the trainer back-propagates and steps SGD."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """All hyperparameters, so that two different objectives never share an identity."""
        return {"name": self.name}


class LossObjective(Objective):
    """Minimize ``loss_fn(model(x), y)`` for any loss of :mod:`ccl_lib.losses`."""

    def __init__(self, loss_fn: Callable[[Tensor, Tensor], Tensor], name: str = "loss", **params: Any) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable as loss_fn(logits, targets), got {type(loss_fn).__name__}")
        self.loss_fn = loss_fn
        self.name = name
        self.params = params

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):  # type: ignore[override]
        return self.loss_fn(model(x), y)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass
class TrainResult:
    """Per-epoch history (list of dicts, one per epoch) and in-memory checkpoints.

    ``checkpoint_files`` maps each epoch written to ``checkpoint_dir`` to
    ``(path, sha256)``; read one back with
    :func:`ccl_lib.utils.load_torch_verified`.
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
        raise ValueError(f"offsets must have shape (2, {n}) and flips ({n},), got {tuple(offsets.shape)} and {tuple(flips.shape)}")
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
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast(device.type if device.type in ("cpu", "cuda") else "cpu", enabled=False)


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
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
    """Top-1 accuracy of ``model`` on ``(x, y)`` in eval mode (the utility of Sec. 5.1)."""
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
    kw = dict(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.fused:
        try:
            return torch.optim.SGD(params, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype
            pass
    return torch.optim.SGD(params, **kw)


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
        x_train, y_train: features (float tensor) and integer labels in [0, K).
        objective: what to minimize; default cross-entropy.
        config: :class:`TrainConfig` (the paper's recipe by default).
        x_test, y_test: evaluated after every epoch (``test_acc`` in history).
        reference: ``(x, y)`` of the reference split, for objectives with
            ``needs_reference`` (Mixup+MMD, adversarial regularization).
        checkpoint_dir: if given, ``epoch_XXXX.pt`` state dicts for
            ``config.checkpoint_epochs`` are also written there, atomically
            (paths and SHA-256 in ``TrainResult.checkpoint_files``).
        progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).

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
        raise TypeError(f"objective must be a ccl_lib.train.Objective (e.g. LossObjective), got {type(objective).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
    if not isinstance(x_train, Tensor) or not isinstance(y_train, Tensor):
        raise TypeError("x_train and y_train must be torch tensors (see Dataset.features)")
    if not x_train.is_floating_point():
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
    fork_devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        # Dropout, mixup and an objective's own draws use the global RNG: seed it from the
        # run's seed (a different stream from `gen`, which orders the batches).
        torch.manual_seed((config.seed * 0x9E3779B1 + 0x7F4A7C15) % (2**63))
        return _fit(model, x_train, y_train, objective, config, x_test, y_test, reference,
                    checkpoint_dir, progress, desc, device)


def _fit(model, x_train, y_train, objective, config, x_test, y_test, reference, checkpoint_dir,
         progress, desc, device) -> TrainResult:
    from tqdm.auto import tqdm

    model.to(device).eval()
    with torch.inference_mode():  # eval mode: a probe must not touch BatchNorm statistics
        out = model(x_train[:1].to(device))
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
    channels_last = x_train.dim() == 4
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
    augment = config.augment and xtr.dim() == 4
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
            xb, yb = xtr.index_select(0, idx), ytr.index_select(0, idx)
            if augment:
                xb = random_crop_flip(xb, pad, offsets=offsets[:, sl], flips=flips[sl])
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            ref = None
            if ridx is not None:
                r = ridx[sl]
                ref = (ref_x.index_select(0, r), ref_y.index_select(0, r))
            with _autocast(device, config.amp):
                loss = objective.loss(model, xb, yb, ref=ref, epoch=epoch, step=step)
            if not isinstance(loss, Tensor) or loss.dim() != 0:
                raise ValueError(
                    f"objective {objective.name!r} must return a scalar tensor, got {getattr(loss, 'shape', type(loss))}"
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
            m, v, a = _eval_stats(model, xtr, ytr, config.eval_batch_size)
            row.update(train_loss_mean=m, train_loss_var=v, train_acc=a)
        if xte is not None:
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
