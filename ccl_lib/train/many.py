"""Several models trained at once: :func:`fit_many` (target and shadow, reference models).

Models that share a recipe and a per-batch objective are stepped together: their
parameters are stacked and one ``torch.func.vmap``-ed forward/backward and one
SGD step serve all of them; an objective says whether it allows that through
:attr:`ccl_lib.train.Objective.stackable`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from ..augment import random_crop_flip
from ..utils import resolve_device
from .config import LossObjective, Objective, TrainConfig, TrainResult
from .inference import _eval_stats
from .loop import _check_labels, _first_row, _make_sgd, _train_autocast, fit

__all__ = ["FIT_MANY_STRATEGIES", "fit_many"]

Tensor = torch.Tensor


#: ``fit_many`` strategies: step the models together (stacked parameters, ``torch.func.vmap``),
#: one after the other (:func:`fit`), or pick (stacked on CUDA when eligible, sequential on the CPU).
FIT_MANY_STRATEGIES = ("auto", "stacked", "sequential")


def _stackable_objective(objective: Objective) -> Optional[str]:
    """``None`` when ``objective`` is a per-model objective the stacked path runs, else why not.

    The objective says so itself (:attr:`Objective.stackable`); one that keeps checkpoints
    (early stopping) is trained by its own ``train`` method, one model at a time.
    """
    if objective.stackable and not getattr(objective, "checkpoint_epochs", ()):
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
    configs: Union[TrainConfig, Sequence[TrainConfig]] = TrainConfig(),  # noqa: B008 (frozen, as in fit)
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
    per-model objective that declares itself :attr:`~ccl_lib.train.Objective.stackable`:
    cross-entropy, the CCL family, focal, label smoothing, confidence penalty
    or dropout (``LossObjective`` too).  Other objectives (RelaxLoss,
    Mixup+MMD, AdvReg, DP-SGD, early stopping) keep state, keep checkpoints
    or need the reference split: with ``"auto"`` they are trained
    sequentially with a ``UserWarning`` saying why; ``"stacked"`` raises
    ``ValueError``.
    """
    import warnings

    from ..losses import cross_entropy

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
    cfgs = [o.adapt_config(c) for o, c in zip(objectives, cfgs)]  # a code-base variant's trainer setting
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
    per_step = config.schedule_unit == "step"  # milestones count SGD steps (TrainConfig.schedule_unit)
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
            if per_step:
                sched.step()
        if not per_step:
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
