"""The paper's training recipe (Sec. 5.1) as a fast, seeded trainer.

SGD with momentum 0.9, weight decay 5e-4, batch size 128, learning rate 0.1
divided by 10 at each milestone epoch.  The data sit on the training device as
tensors and are batched by index (no per-sample Python, no ``DataLoader``);
loss values are accumulated on the device and read once per epoch.

What is minimized is an :class:`Objective`: :class:`LossObjective` wraps any
``loss(logits, targets)`` from :mod:`ccl_lib.losses`; the defenses of
:mod:`ccl_lib.defenses` are objectives too (they may use a reference batch and
keep their own state, e.g. adversarial regularization's inference model).
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (defaults: the paper's recipe, Sec. 5.1)."""

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

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not (0 <= self.momentum < 1) or self.weight_decay < 0:
            raise ValueError("momentum must be in [0, 1) and weight_decay >= 0")
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        object.__setattr__(self, "checkpoint_epochs", tuple(int(m) for m in self.checkpoint_epochs))
        for e in self.checkpoint_epochs:
            if not 1 <= e <= self.epochs:
                raise ValueError(f"checkpoint epoch {e} is outside 1..{self.epochs}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        d["checkpoint_epochs"] = list(self.checkpoint_epochs)
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
        self.loss_fn = loss_fn
        self.name = name
        self.params = params

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):  # type: ignore[override]
        return self.loss_fn(model(x), y)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass
class TrainResult:
    """Per-epoch history (list of dicts, one per epoch) and in-memory checkpoints."""

    history: list[dict[str, float]]
    checkpoints: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    config: Optional[TrainConfig] = None

    def history_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)


def random_crop_flip(x: Tensor, padding: int = 4, generator: Optional[torch.Generator] = None) -> Tensor:
    """Random crop with zero padding and random horizontal flip, for a batch (N, C, H, W).

    The standard CIFAR training augmentation, vectorized on the batch's device.
    """
    n, c, h, w = x.shape
    gen_dev = "cpu"
    off = torch.randint(0, 2 * padding + 1, (2, n), generator=generator, device=gen_dev).to(x.device)
    flip = torch.rand(n, generator=generator, device=gen_dev).to(x.device) < 0.5
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
    return torch.autocast("cpu", enabled=False)


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    x: Tensor,
    batch_size: int = 2048,
    device: Union[str, torch.device, None] = None,
    transform: Optional[Callable[[Tensor], Tensor]] = None,
) -> Tensor:
    """Logits of ``model`` on ``x`` in eval mode, batched; returned as float32 on the CPU.

    ``transform`` (e.g. a fixed rotation for the augmentation attack) is
    applied to each batch on the device before the forward pass.  The model's
    train/eval mode is restored afterwards.
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    outs = []
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(dev, non_blocking=True)
            if transform is not None:
                xb = transform(xb)
            with _autocast(dev, True):
                outs.append(model(xb).float())
        out = torch.cat(outs) if outs else torch.empty(0)
    finally:
        model.train(was_training)
    return out.cpu()


def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 2048) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` in eval mode."""
    logits = predict_logits(model, x, batch_size)
    return float((logits.argmax(1) == y.cpu()).float().mean())


def _eval_stats(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> tuple[float, float, float]:
    logits = predict_logits(model, x, batch_size)
    y = y.cpu()
    ce = F.cross_entropy(logits, y, reduction="none").double()
    acc = (logits.argmax(1) == y).double().mean()
    return float(ce.mean()), float(ce.var(unbiased=False)), float(acc)


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
    """Train ``model`` in place with SGD and return its per-epoch history.

    Args:
        model: any classifier mapping a batch of ``x_train`` to (N, K) logits.
        x_train, y_train: features (float tensor) and integer labels.
        objective: what to minimize; default cross-entropy.
        config: :class:`TrainConfig` (the paper's recipe by default).
        x_test, y_test: evaluated after every epoch (``test_acc`` in history).
        reference: ``(x, y)`` of the reference split, for objectives with
            ``needs_reference`` (Mixup+MMD, adversarial regularization).
        checkpoint_dir: if given, ``epoch_XXXX.pt`` state dicts for
            ``config.checkpoint_epochs`` are also written there, atomically.
        progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).

    History columns: ``epoch, lr, objective`` (mean batch objective),
    ``train_loss_mean, train_loss_var, train_acc`` (per-sample cross-entropy
    on the training set in eval mode; the quantities of Fig. 1 and Fig. 4c),
    ``test_loss_mean, test_acc`` and ``seconds``.
    """
    from tqdm.auto import tqdm

    from .losses import cross_entropy

    if objective is None:
        objective = LossObjective(lambda z, t: cross_entropy(z, t, check_inputs=False), name="ce")
    if not isinstance(x_train, Tensor) or not isinstance(y_train, Tensor):
        raise TypeError("x_train and y_train must be torch tensors (see Dataset.features)")
    if len(x_train) != len(y_train) or len(x_train) == 0:
        raise ValueError(f"x_train and y_train must be non-empty and of equal length, got {len(x_train)}, {len(y_train)}")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    if objective.needs_reference and reference is None:
        raise ValueError(
            f"objective {objective.name!r} needs the reference split: pass reference=(x_ref, y_ref) "
            "(use make_splits(..., n_parts=5))"
        )
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"

    device = resolve_device(config.device)
    y_train = y_train.long()
    num_classes = int(y_train.max()) + 1
    model.to(device).eval()
    with torch.inference_mode():  # eval mode: a probe must not touch BatchNorm statistics
        num_classes = max(num_classes, int(model(x_train[:1].to(device)).shape[1]))
    if x_train.dim() == 4 and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    xtr, ytr = x_train.to(device), y_train.to(device)
    ref_x = ref_y = None
    if reference is not None:
        ref_x, ref_y = reference[0].to(device), reference[1].long().to(device)
    objective.setup(model, num_classes=num_classes, device=device)

    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(config.milestones), gamma=config.lr_decay)
    gen = torch.Generator().manual_seed(config.seed)
    n = len(xtr)
    bs = config.batch_size
    steps_per_epoch = math.ceil(n / bs)
    history: list[dict[str, float]] = []
    checkpoints: dict[int, dict[str, Tensor]] = {}
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    augment = config.augment and xtr.dim() == 4

    bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=False)
    step = 0
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        total = torch.zeros((), device=device, dtype=torch.float64)
        for b in range(steps_per_epoch):
            idx = perm[b * bs : (b + 1) * bs]
            xb, yb = xtr[idx], ytr[idx]
            if augment:
                xb = random_crop_flip(xb, generator=gen)
            ref = None
            if ref_x is not None:
                ridx = torch.randint(0, len(ref_x), (len(idx),), generator=gen).to(device)
                ref = (ref_x[ridx], ref_y[ridx])
            with _autocast(device, config.amp):
                loss = objective.loss(model, xb, yb, ref=ref, epoch=epoch, step=step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach().double()
            step += 1
        sched.step()
        mean_obj = float(total) / steps_per_epoch
        if not math.isfinite(mean_obj):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: the objective is {mean_obj} "
                f"(objective {objective.describe()}, lr {opt.param_groups[0]['lr']})"
            )
        row: dict[str, float] = {"epoch": epoch, "lr": sched.get_last_lr()[0], "objective": mean_obj}
        if config.track_train_loss:
            m, v, a = _eval_stats(model, xtr, ytr, config.eval_batch_size)
            row.update(train_loss_mean=m, train_loss_var=v, train_acc=a)
        if x_test is not None:
            m, _, a = _eval_stats(model, x_test, y_test.long(), config.eval_batch_size)
            row.update(test_loss_mean=m, test_acc=a)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if epoch in config.checkpoint_epochs:
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            checkpoints[epoch] = state
            if ckpt_dir is not None:
                atomic_torch_save(state, ckpt_dir / f"epoch_{epoch:04d}.pt")
        post = {"obj": f"{mean_obj:.3f}"}
        if "test_acc" in row:
            post["test_acc"] = f"{row['test_acc']:.3f}"
        bar.set_postfix(post)
    bar.close()
    model.eval()
    return TrainResult(history=history, checkpoints=checkpoints, config=config)


def as_index_tensor(idx: Union[np.ndarray, Sequence[int]]) -> Tensor:
    """Convert split indices to a ``torch.long`` tensor."""
    return torch.as_tensor(np.asarray(idx), dtype=torch.long)
