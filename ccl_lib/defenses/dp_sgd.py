"""DP-SGD (Abadi et al., 2016) through Opacus (Yousefpour et al., 2021), as a baseline defense.

Differentially private SGD bounds what any attacker -- LiRA and RMIA included
-- can learn about one training example: each step samples a batch by
**Poisson sampling** (every example independently with probability q), clips
every per-example gradient to L2 norm ``max_grad_norm`` (C), adds Gaussian
noise of standard deviation ``noise_multiplier * C`` to their sum, and the
privacy accountant turns (noise_multiplier, q, number of steps) into the
(epsilon, delta) guarantee.  For pure epsilon-DP, Yeom et al. (2018, Thm. 1)
bound the membership advantage (Eq. 2 of the paper) of *any* attack by
``e^epsilon - 1``; an advantage never exceeds 1, so the bound is vacuous for
``epsilon >= ln 2 ~ 0.69`` and meaningful only well below it.

Nothing here is a hand-written clipper: :class:`DPSGD` hands the model, the
paper's SGD optimizer (Sec. 5.1: momentum 0.9, weight decay 5e-4, step decay)
and a ``DataLoader`` over the training tensors to Opacus'
``PrivacyEngine.make_private``, which returns a ``GradSampleModule`` (per-example
gradients), a ``DPOptimizer`` (clipping and noise) and a ``DPDataLoader``
(Poisson sampling with ``q = 1 / len(loader) = 1 / ceil(n / batch_size)``).
The spent epsilon at ``delta`` is read from the engine's accountant after every
epoch and recorded in the history (``epsilon``).

Model requirements (Opacus computes per-example gradients layer by layer):

* **BatchNorm** mixes examples of a batch and is not allowed; ``train``
  replaces it *in place* with GroupNorm via Opacus' own fixers
  (``opacus.validators.ModuleValidator``, the same replacement as
  ``ModuleValidator.fix``), so ResNet/DenseNet work -- the trained model then
  has GroupNorm layers: build it with :meth:`DPSGD.prepare_model` before
  loading a DP-SGD checkpoint into it.  ``MLP`` and ``SmallCNN`` need no change.
* in-place operations on layer outputs are made out-of-place, because
  Opacus' backward hooks must see the unmodified outputs: ``ReLU(inplace=True)``
  becomes ``inplace=False`` and torchvision's residual blocks (``out += identity``
  in ``BasicBlock``/``Bottleneck``) add out of place.
* mixed precision is not used (per-example gradients in float32).

Per-example gradients: ``grad_sample_mode="ghost"`` (default) is Opacus' fast
gradient clipping -- per-example gradient *norms* of linear layers from
activations and output gradients, then a second backward pass with the
clipping factors -- about 1.5x the cost of a plain step for the MLP instead of
~6x with materialized per-example gradients (``"hooks"``); the resulting
update is the same DP-SGD update.

Weight decay is applied by the optimizer after noising, on the parameters --
it does not touch the data and does not change the privacy analysis.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import types
import warnings
from typing import Any, ClassVar, Mapping, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import random_crop_flip
from ..losses import cross_entropy
from ..train import TrainConfig, TrainResult, predict_logits
from ..utils import atomic_torch_save, resolve_device
from .base import Defense, Param, choice, number

__all__ = ["DPSGD", "ACCOUNTANTS", "GRAD_SAMPLE_MODES", "fix_model_for_opacus", "opacus_epsilon"]

Tensor = torch.Tensor

_OPACUS_PARAM_ATTRS = ("summed_grad", "grad_sample", "_forward_counter", "_current_grad_sample", "_norm_sample")

#: Opacus accountants: Renyi DP (the moments accountant of Abadi et al.), PRV (tighter), Gaussian DP.
ACCOUNTANTS = ("rdp", "prv", "gdp")
#: Opacus per-example gradient engines (same DP-SGD update; "ghost" is the fastest for linear layers).
GRAD_SAMPLE_MODES = ("ghost", "hooks", "functorch")


def _require_opacus():
    try:
        import opacus  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("DP-SGD needs Opacus: pip install 'ccl_lib[dp]' (opacus>=1.5)") from exc
    return opacus


def fix_model_for_opacus(model: nn.Module) -> list[str]:
    """Make ``model`` trainable by Opacus, in place; returns the names of the replaced modules.

    BatchNorm (and other modules Opacus cannot give per-example gradients for
    but knows how to replace) are swapped for Opacus' replacements -- the
    fixers behind ``opacus.validators.ModuleValidator.fix`` (BatchNorm ->
    GroupNorm); in-place ReLUs become out-of-place.  Raises ``ValueError``
    naming the modules that remain unsupported.
    """
    _require_opacus()
    from opacus.validators import ModuleValidator

    replaced: list[str] = []
    for name, sub in list(model.named_modules()):
        if isinstance(sub, (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.Hardtanh)) and getattr(sub, "inplace", False):
            sub.inplace = False
        _patch_residual_block(sub)
        if name and type(sub) in ModuleValidator.FIXERS:
            new = ModuleValidator.FIXERS[type(sub)](sub)
            params = list(sub.parameters())
            if params:
                new.to(params[0].device)
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, new)
            replaced.append(name)
    if type(model) in ModuleValidator.FIXERS:
        raise ValueError(
            f"the root module itself ({type(model).__name__}) is not supported by Opacus; wrap it in a container"
        )
    was_training = model.training
    model.train()  # Opacus validates a model in training mode
    try:
        errors = ModuleValidator.validate(model, strict=False)
    finally:
        model.train(was_training)
    if errors:
        raise ValueError(f"Opacus cannot train this model: {[str(e) for e in errors]}")
    return replaced


def _basic_block_forward(self, x: Tensor) -> Tensor:
    """torchvision ``BasicBlock.forward`` with an out-of-place residual addition."""
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    identity = self.downsample(x) if self.downsample is not None else x
    return self.relu(out + identity)


def _bottleneck_forward(self, x: Tensor) -> Tensor:
    """torchvision ``Bottleneck.forward`` with an out-of-place residual addition."""
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    identity = self.downsample(x) if self.downsample is not None else x
    return self.relu(out + identity)


def _patch_residual_block(module: nn.Module) -> None:
    try:
        from torchvision.models.resnet import BasicBlock, Bottleneck
    except ImportError:  # pragma: no cover
        return
    if type(module) is BasicBlock:
        module.forward = types.MethodType(_basic_block_forward, module)
    elif type(module) is Bottleneck:
        module.forward = types.MethodType(_bottleneck_forward, module)


def opacus_epsilon(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float, accountant: str = "rdp"
) -> float:
    """Epsilon of ``steps`` DP-SGD steps at ``delta``, from a fresh Opacus accountant (no training).

    The same computation :class:`DPSGD` reports, for planning a run (e.g.
    choosing ``noise_multiplier`` for a target epsilon) and for checking it.

    Args:
        noise_multiplier: Gaussian noise std relative to the clipping norm (> 0).
        sample_rate: Poisson sampling rate ``batch_size / n`` in (0, 1].
        steps: number of noisy steps (>= 1).
        delta: the privacy parameter delta in (0, 1).
        accountant: one of :data:`ACCOUNTANTS` (``"rdp"``, default, as in :class:`DPSGD`; ``"prv"``, ``"gdp"``).
    """
    _require_opacus()
    from opacus.accountants import create_accountant

    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if not (noise_multiplier > 0 and 0 < sample_rate <= 1 and steps >= 1 and 0 < delta < 1):
        raise ValueError(
            "need noise_multiplier > 0, sample_rate in (0, 1], steps >= 1 and delta in (0, 1); "
            f"got {noise_multiplier}, {sample_rate}, {steps}, {delta}"
        )
    acc = create_accountant(mechanism=accountant)
    acc.history = [(float(noise_multiplier), float(sample_rate), int(steps))]
    return float(acc.get_epsilon(delta=delta))


class DPSGD(Defense):
    """DP-SGD with Poisson sampling, per-example clipping and Gaussian noise (Abadi et al., 2016), via Opacus.

    Args:
        noise_multiplier: sigma > 0, noise std relative to ``max_grad_norm``.
        max_grad_norm: C > 0, the per-example gradient clipping norm.
        delta: the delta at which the spent epsilon is reported (default 1e-5;
            choose delta < 1 / n_train).
        accountant: ``"rdp"`` (Renyi DP, the moments accountant of Abadi et
            al.; default), ``"prv"`` (tighter numerical accountant) or ``"gdp"``.
        grad_sample_mode: Opacus' per-example gradient engine, ``"ghost"``
            (fast gradient clipping; default), ``"hooks"`` or ``"functorch"``.

    :meth:`train` runs Opacus' ``PrivacyEngine`` over the paper's SGD recipe
    and returns a :class:`~ccl_lib.train.TrainResult` whose history rows
    also hold ``epsilon`` (spent so far), ``delta``, ``steps`` and
    ``sample_rate``.  :meth:`loss` is plain cross-entropy: privacy comes
    only from :meth:`train`, never from :func:`ccl_lib.train.fit` with this object.
    """

    name = "dp_sgd"
    params: ClassVar[Mapping[str, Param]] = {
        "noise_multiplier": Param(1.0, number(0.0, None, lo_open=True), "noise_multiplier > 0 (sigma / C)"),
        "max_grad_norm": Param(1.0, number(0.0, None, lo_open=True), "max_grad_norm > 0, per-example clipping norm C"),
        "delta": Param(1e-5, number(0.0, 1.0, lo_open=True, hi_open=True), "delta in (0, 1) of the reported epsilon"),
        "accountant": Param("rdp", choice(*ACCOUNTANTS), "Opacus accountant: 'rdp', 'prv' or 'gdp'"),
        "grad_sample_mode": Param(
            "ghost", choice(*GRAD_SAMPLE_MODES), "Opacus per-example gradient engine: 'ghost', 'hooks' or 'functorch'"
        ),
    }

    #: mechanism choices that are not hyperparameters but belong to the run's identity
    fixed: ClassVar[Mapping[str, Any]] = {"sampling": "poisson", "clipping": "flat"}

    def describe(self) -> dict[str, Any]:
        """All hyperparameters plus the fixed mechanism choices (Poisson sampling, flat clipping)."""
        return {**super().describe(), **self.fixed}

    @staticmethod
    def prepare_model(model: nn.Module) -> nn.Module:
        """Return ``model`` made Opacus-compatible in place (:func:`fix_model_for_opacus`); for loading checkpoints."""
        fix_model_for_opacus(model)
        return model

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        return cross_entropy(model(x).float(), y, check_inputs=False)

    def train(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        *,
        config: TrainConfig = TrainConfig(),
        x_test: Optional[Tensor] = None,
        y_test: Optional[Tensor] = None,
        reference: Optional[tuple[Tensor, Tensor]] = None,
        progress: Optional[bool] = None,
        desc: str = "dp-sgd",
        checkpoint_dir: Any = None,
    ) -> TrainResult:
        """Train ``model`` in place with DP-SGD (Opacus) and return the history with ``epsilon`` per epoch.

        Same arguments and history columns as :func:`ccl_lib.train.fit`
        (``reference`` is ignored: DP-SGD uses no extra data), plus
        ``epsilon``, ``delta``, ``steps``, ``sample_rate``.  ``config.amp`` is
        ignored (float32); ``config.augment`` applies the random crop/flip to
        each sampled batch.

        Args:
            model: the model to train in place (BatchNorm layers are replaced by GroupNorm, see above).
            x: training features.
            y: integer training labels.
            config: the :class:`~ccl_lib.train.TrainConfig` recipe (``batch_size`` sets the sampling rate).
            x_test: test features, evaluated after every epoch.
            y_test: their labels.
            reference: ignored.
            progress: show a tqdm bar (default: on unless ``CCL_PROGRESS=0``).
            desc: the progress bar's label.
            checkpoint_dir: if given, checkpoint state dicts are also written there.
        """
        _require_opacus()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a ccl_lib.train.TrainConfig, got {type(config).__name__}")
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(x, Tensor) or not isinstance(y, Tensor):
            raise TypeError("x and y must be torch tensors (see Dataset.features)")
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(f"x and y must be non-empty and of equal length, got {len(x)}, {len(y)}")
        if (x_test is None) != (y_test is None):
            raise ValueError("give both x_test and y_test, or neither")
        wanted = tuple(sorted(set(config.checkpoint_epochs) | set(self.checkpoint_epochs)))
        if progress is None:
            progress = os.environ.get("CCL_PROGRESS", "1") != "0"
        too_late = [e for e in wanted if e > config.epochs]
        if too_late:
            raise ValueError(f"checkpoint epochs {too_late} are beyond the {config.epochs} training epochs")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Secure RNG turned off")
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            history, checkpoints = self._train_private(
                model, x, y, config, x_test, y_test, progress, desc, checkpoint_dir, wanted
            )
        model.eval()
        cfg = dataclasses.replace(config, checkpoint_epochs=wanted) if wanted != config.checkpoint_epochs else config
        return TrainResult(history=history, checkpoints=checkpoints, config=cfg)

    def _train_private(self, model, x, y, config, x_test, y_test, progress, desc, checkpoint_dir, wanted):
        """The training loop of :meth:`train` (inputs already validated)."""
        from opacus import PrivacyEngine
        from torch.utils.data import DataLoader, TensorDataset
        from tqdm.auto import tqdm

        h = self.hparams
        device = resolve_device(config.device)
        self._seed = int(config.seed)
        fix_model_for_opacus(model)
        model.to(device)

        y = y.long()
        dataset = TensorDataset(x.detach().cpu(), y.detach().cpu())
        gen = torch.Generator().manual_seed(int(config.seed))
        loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, generator=gen)
        torch.manual_seed(int(config.seed))
        noise_gen = torch.Generator(device=device).manual_seed(int(config.seed) + 1)
        opt = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
        # secure_mode=False: noise from torch's seeded PRNG (reproducible runs), not a
        # cryptographically secure one -- right for experiments, as Opacus' own warning says.
        engine = PrivacyEngine(accountant=h["accountant"], secure_mode=False)
        made = engine.make_private(
            module=model,
            optimizer=opt,
            data_loader=loader,
            criterion=nn.CrossEntropyLoss(),
            noise_multiplier=h["noise_multiplier"],
            max_grad_norm=h["max_grad_norm"],
            poisson_sampling=True,
            noise_generator=noise_gen,
            grad_sample_mode=h["grad_sample_mode"],
        )
        if h["grad_sample_mode"] == "ghost":
            dp_model, dp_opt, criterion, dp_loader = made
        else:
            dp_model, dp_opt, dp_loader = made
            criterion = nn.CrossEntropyLoss()
        sample_rate = 1.0 / len(loader)
        epsilon_of = _EpsilonReader(h["accountant"], h["noise_multiplier"], sample_rate)
        sched = torch.optim.lr_scheduler.MultiStepLR(
            dp_opt.original_optimizer, milestones=list(config.milestones), gamma=config.lr_decay
        )
        aug_gen = torch.Generator().manual_seed(int(config.seed) + 2)
        augment = config.augment and x.dim() == 4

        history: list[dict[str, float]] = []
        checkpoints: dict[int, dict[str, Tensor]] = {}
        steps = 0
        bar = tqdm(range(1, config.epochs + 1), desc=desc, disable=not progress, leave=False)
        try:
            for epoch in bar:
                t0 = time.perf_counter()
                lr_epoch = float(dp_opt.original_optimizer.param_groups[0]["lr"])  # the lr this epoch trains with
                dp_model.train()
                total, n_batches = 0.0, 0
                for xb, yb in dp_loader:
                    xb, yb = xb.to(device), yb.to(device)
                    if augment and len(xb):
                        xb = random_crop_flip(xb, generator=aug_gen)
                    dp_opt.zero_grad(set_to_none=True)
                    # The batch-mean cross-entropy, as Opacus' loss_reduction="mean" expects (it
                    # undoes the mean, clips per example, sums, adds noise and divides by the
                    # expected batch size).  An empty Poisson batch still takes a noise-only,
                    # accounted step (its loss is NaN and is left out of the mean below).
                    loss = criterion(dp_model(xb).float(), yb)
                    loss.backward()
                    dp_opt.step()
                    steps += 1
                    if len(xb):
                        total += float(loss.detach())
                        n_batches += 1
                sched.step()
                mean_obj = total / max(1, n_batches)
                if not math.isfinite(mean_obj):
                    raise FloatingPointError(
                        f"DP-SGD diverged at epoch {epoch}: mean loss {mean_obj} ({self.describe()})"
                    )
                eps = epsilon_of(engine, h["delta"])
                row: dict[str, float] = {"epoch": epoch, "lr": lr_epoch, "objective": mean_obj}
                if config.track_train_loss:
                    row.update(_stats(model, x, y, config.eval_batch_size, "train"))
                if x_test is not None:
                    st = _stats(model, x_test, y_test.long(), config.eval_batch_size, "test")
                    row.update(test_loss_mean=st["test_loss_mean"], test_acc=st["test_acc"])
                row.update(epsilon=eps, delta=h["delta"], steps=steps, sample_rate=sample_rate)
                row["seconds"] = time.perf_counter() - t0
                history.append(row)
                if epoch in wanted:
                    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                    checkpoints[epoch] = state
                    if checkpoint_dir is not None:
                        atomic_torch_save(state, os.path.join(os.fspath(checkpoint_dir), f"epoch_{epoch:04d}.pt"))
                bar.set_postfix({"obj": f"{mean_obj:.3f}", "eps": f"{eps:.2f}"})
        finally:
            bar.close()
            dp_model.to_standard_module()  # remove Opacus' hooks and per-sample attributes from `model`
            for p in model.parameters():  # and what its optimizer attached
                for attr in _OPACUS_PARAM_ATTRS:
                    if hasattr(p, attr):
                        delattr(p, attr)
        return history, checkpoints


class _EpsilonReader:
    """Epsilon spent so far, read from the engine's accountant after each epoch.

    For ``"rdp"`` the per-step Renyi DP of the subsampled Gaussian mechanism is
    computed once (``opacus.accountants.analysis.rdp.compute_rdp``) and scaled
    by the number of steps the accountant recorded -- exactly what
    ``RDPAccountant.get_epsilon`` computes (RDP composes additively), without
    re-evaluating the fractional orders every epoch (~0.2 s each on a CPU).
    Other accountants are queried directly.
    """

    def __init__(self, accountant: str, noise_multiplier: float, sample_rate: float) -> None:
        self.accountant, self.sigma, self.q = accountant, float(noise_multiplier), float(sample_rate)
        self._rdp_step: Optional[np.ndarray] = None  # RDP of one step at every order, computed once

    def __call__(self, engine: Any, delta: float) -> float:
        if self.accountant != "rdp":
            return float(engine.get_epsilon(delta))
        from opacus.accountants.analysis import rdp as rdp_analysis

        acc = engine.accountant
        if any((float(s), float(q)) != (self.sigma, self.q) for s, q, _ in acc.history):
            return float(engine.get_epsilon(delta))  # pragma: no cover - a changed noise schedule
        steps = sum(int(n) for _, _, n in acc.history)
        if steps == 0:
            return 0.0
        orders = acc.DEFAULT_ALPHAS
        if self._rdp_step is None:
            self._rdp_step = rdp_analysis.compute_rdp(q=self.q, noise_multiplier=self.sigma, steps=1, orders=orders)
        eps, _ = rdp_analysis.get_privacy_spent(orders=orders, rdp=self._rdp_step * steps, delta=delta)
        return float(eps)


def _stats(model: nn.Module, x: Tensor, y: Tensor, batch_size: int, prefix: str) -> dict[str, float]:
    logits = predict_logits(model, x, batch_size)
    ce = F.cross_entropy(logits, y.cpu(), reduction="none").double()
    acc = (logits.argmax(1) == y.cpu()).double().mean()
    return {
        f"{prefix}_loss_mean": float(ce.mean()),
        f"{prefix}_loss_var": float(ce.var(unbiased=False)),
        f"{prefix}_acc": float(acc),
    }
