"""Querying a trained model: logits and accuracy in eval mode (the attacker's view, Sec. 2)."""

from __future__ import annotations

from typing import Callable, Optional, Union

import torch
import torch.nn as nn

from .. import accel
from ..utils import resolve_device
from .config import _is_int

__all__ = ["accuracy", "predict_logits"]

Tensor = torch.Tensor


def _autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled`` (queries: :func:`predict_logits`)."""
    return accel.autocast(device, enabled and device.type == "cuda")


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
