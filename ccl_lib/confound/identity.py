"""The scale identity, numerically: a loss times beta under SGD is the unscaled loss at (lr * beta, wd / beta).

With SGD, momentum ``mu`` and (coupled) weight decay ``lambda``, the update of ``beta * L`` at learning
rate ``eta`` is, step by step, the update of ``L`` at learning rate ``eta * beta`` and weight decay
``lambda / beta`` (App. E.1's scale factor; chapter 11).  :func:`scale_identity_check` trains both
sides with the library's own trainer and returns the largest parameter difference.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .arms import _positive

__all__ = ["scale_identity_check"]


def scale_identity_check(
    beta: float = 0.01,
    *,
    defense: str = "vanilla",
    alpha: float = 0.5,
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    momentum: float = 0.9,
    epochs: int = 3,
    milestones: Sequence[int] = (2,),
    batch_size: int = 64,
    seed: int = 0,
    data: Optional[tuple[Any, Any]] = None,
    model_fn: Optional[Callable[[], Any]] = None,
) -> dict[str, Any]:
    """Train both sides of the scale identity with the library's trainer; the largest parameter difference.

    Side A: ``defense`` with its loss times ``beta`` at (lr, wd).  Side B: the
    unscaled loss at (lr * beta, wd / beta).  For ``defense="vanilla"`` side A
    is ``ccl`` with ``alpha=1`` (cross-entropy) and ``scale=beta``, side B
    ``vanilla``; for ``"ccel"``/``"ccql"`` both sides are that defense with
    ``alpha`` and scale ``beta`` / 1.  Both start from the same weights and
    see the same batches (same seed); the milestone schedule applies to both.  The
    :class:`~ccl_lib.defenses.ccl.UnnormalizedScaleWarning` that side A's scale raises on a model without
    normalization layers is not raised here: small steps are what the check is about.

    Args:
        beta: the scale factor (> 0).
        defense: ``"vanilla"``, ``"ccel"`` or ``"ccql"``, as above.
        alpha: CCL's weight of the convex term (Eq. 4), for ``"ccel"``/``"ccql"``.
        lr: side A's learning rate (side B: ``lr * beta``).
        weight_decay: side A's weight decay (side B: ``weight_decay / beta``).
        momentum: SGD momentum of both sides.
        epochs: training epochs of both sides.
        milestones: learning-rate milestones of both sides.
        batch_size: minibatch size of both sides.
        seed: seeds the initial weights and the batches.
        data: ``(x, y)`` tensors; default scikit-learn's digits (offline).
        model_fn: builds the model; default a one-hidden-layer MLP (64 units).

    Returns:
        ``{"max_abs_diff", "max_rel_diff", "max_abs_param", "n_params", "steps", "beta"}``:
        the largest absolute difference between any parameter of the two
        trained models, that over the largest parameter, and the size of the run.
    """
    import torch

    from ..defenses import get_defense
    from ..defenses.ccl import UnnormalizedScaleWarning
    from ..models import MLP
    from ..train import TrainConfig

    beta = _positive("beta", beta)
    if defense not in ("vanilla", "ccel", "ccql"):
        raise ValueError(f"defense must be 'vanilla', 'ccel' or 'ccql', got {defense!r}")
    if data is None:
        from ..data import load_dataset

        ds = load_dataset("digits")
        x = ds.features(np.arange(len(ds.y)))
        y = torch.from_numpy(ds.y).long()
    else:
        x, y = data
    if model_fn is None:
        n_classes = int(y.max()) + 1

        def model_fn():
            return MLP(int(np.prod(x.shape[1:])), n_classes, hidden=(64,))

    if defense == "vanilla":
        side_a, side_b = get_defense("ccl", alpha=1.0, scale=beta), get_defense("vanilla")
    else:
        side_a, side_b = get_defense(defense, alpha=alpha, scale=beta), get_defense(defense, alpha=alpha, scale=1.0)
    torch.manual_seed(seed)
    net_a = model_fn()
    net_b = copy.deepcopy(net_a)
    common: dict[str, Any] = dict(epochs=epochs, batch_size=batch_size, momentum=momentum,
                                  milestones=tuple(milestones), seed=seed, device="cpu",
                                  track_train_loss=False)  # fmt: skip
    # Both sides are *meant* to take the small steps UnnormalizedScaleWarning warns about (the MLP has no
    # normalization layer): this is a check of arithmetic, not a model to use, so the warning is not raised here.
    # Chapter 11 quotes its message (scale_warning_message) where it matters: the Location arms.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnnormalizedScaleWarning)
        side_a.train(net_a, x, y, config=TrainConfig(lr=lr, weight_decay=weight_decay, **common), progress=False)
        side_b.train(net_b, x, y, config=TrainConfig(lr=lr * beta, weight_decay=weight_decay / beta, **common),
                     progress=False)  # fmt: skip
    diffs, biggest, n = [], 0.0, 0
    for (ka, pa), (kb, pb) in zip(net_a.state_dict().items(), net_b.state_dict().items()):
        if ka != kb:  # pragma: no cover - same architecture
            raise RuntimeError(f"parameter names differ: {ka} vs {kb}")
        if pa.is_floating_point():
            diffs.append(float((pa.double() - pb.double()).abs().max()))
            biggest = max(biggest, float(pa.double().abs().max()))
            n += pa.numel()
    d = max(diffs)
    steps = epochs * math.ceil(len(x) / batch_size)
    return {"max_abs_diff": d, "max_rel_diff": d / biggest if biggest else math.nan, "max_abs_param": biggest,
            "n_params": n, "steps": steps, "beta": beta}  # fmt: skip
