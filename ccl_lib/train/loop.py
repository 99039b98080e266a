"""The single-model training loop: :func:`fit` (Sec. 5.1's recipe).

SGD with momentum, weight decay and step decay of the learning rate; the data
sit on the device and are batched by index, every random draw of an epoch is
made at once, and the loss is read once per epoch (no host syncs inside).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from .. import accel
from ..augment import random_crop_flip
from ..utils import atomic_torch_save, resolve_device
from .config import LossObjective, Objective, TrainConfig, TrainResult
from .inference import _eval_stats

__all__ = ["fit"]

Tensor = torch.Tensor


def _train_autocast(device: torch.device, config: TrainConfig):
    """The training step's autocast: ``config.amp`` on CUDA, ``config.cpu_amp`` on the CPU."""
    return accel.autocast(device, config.amp if device.type == "cuda" else (config.cpu_amp and device.type == "cpu"))


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
    config: TrainConfig = TrainConfig(),  # noqa: B008 (frozen; pyproject names it ccl_lib.train.TrainConfig)
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

    History columns: ``epoch, lr`` (the learning rate at the epoch's first step),
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
    from ..losses import cross_entropy

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
    config = objective.adapt_config(config)  # a code-base variant's own trainer setting (RelaxLoss ccl_code)
    from ..augment import DeviceImages

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

    from ..augment import DeviceImages

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
    per_step = config.schedule_unit == "step"  # milestones count SGD steps (TrainConfig.schedule_unit)
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
            if per_step:
                sched.step()
        if not per_step:
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
