"""Mixup + MMD (Li, Li & Ribeiro, CODASPY 2021); Liu et al. 2024, App. E.2.

Li, Li & Ribeiro, "Membership Inference Attacks and Defenses in Classification
Models", CODASPY 2021, pp. 5-16.

The classifier is trained with mixup (Zhang et al., 2018) and an MMD penalty
that pulls the distribution of its softmax outputs on training (member) data
towards the distribution on held-out reference data:

    loss = lam * CE(f(x_mix), y) + (1 - lam) * CE(f(x_mix), y[perm])
           + weight * MMD^2(softmax f(x_train), sg[softmax f(x_ref)])

* mixup: ``x_mix = lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(a, a)``,
  ``a = mixup_alpha`` (1.0, i.e. uniform, as in Li et al.'s release);
* MMD^2 is the biased (V-statistic) estimate with a Gaussian kernel
  ``k(u, v) = exp(-||u - v||^2 / (2 sigma^2))`` (App. E.2's ``Distance``
  squared).  ``bandwidth`` is a fixed ``sigma`` (default 1.0, the value of Li
  et al.'s release, for probability vectors whose distances lie in
  ``[0, sqrt(2)]``) or ``"median"``: ``sigma^2 = median(||u - v||^2) / 2`` over
  the pairs of distinct points of the pooled batch (detached), so that
  ``k = exp(-d^2 / median d^2)``;
* the reference outputs are a constant (stop-gradient), as in Li et al.: the
  penalty moves the member outputs, not the non-member ones;
* label matching (``match_labels=True``, as Li et al. do): the reference
  batch is drawn so that it has the training batch's labels -- for each
  training sample, a random reference sample of the same class -- so the MMD
  compares the class-conditional output distributions.  This needs the whole
  reference split, which :meth:`MixupMMD.train` hands over; under a bare
  :func:`ccl_lib.train.fit` call (or for a class absent from the reference
  split) the trainer's uniformly drawn reference batch is used.

Random draws (``lam``, the mixup permutation, the reference samples) come from
the torch RNG of the training device, which :func:`ccl_lib.train.fit` seeds from
the run's seed; nothing in a step waits on the device.

Members and reference samples go through the model in **two forward passes**
(``model(x)``, then ``model(x_ref)``), as in Li et al.'s release and in the CCL
authors' fork (``zhenlong-liu/MLHospital``,
``mlh/defenses/membership_inference/MixupMMDLoss.py``): a BatchNorm model
normalizes each with its own batch statistics.  Until this was fixed ccl_lib ran
them in one pass, ``model(torch.cat([x, x_ref]))``, which mixes the BatchNorm
statistics of members and references (identical for models without BatchNorm
or dropout); that form stays available as ``variant="shared_forward"`` so its
effect can be measured, and is no reference's.

Differences from Li et al.'s release, kept deliberately simple and documented:
the MMD term is added to every mixup step (their release alternates a mixup
epoch with an MMD epoch and skips the MMD epoch while the train/validation
accuracy gap is below 3 points).

Grid (App. E.2): ``weight`` in {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8}.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses import cross_entropy
from .base import Defense, Param, number, variant_param

__all__ = ["MIXUP_MMD_VARIANTS", "MixupMMD", "gaussian_kernel", "median_bandwidth", "mixup", "mmd2"]

Tensor = torch.Tensor
Bandwidth = Union[float, str, Sequence[float]]


def median_bandwidth(z: Tensor) -> Tensor:
    """Median heuristic: ``sigma = sqrt(median_{i<j, d_ij > 0} ||z_i - z_j||^2 / 2)``.

    ``z`` is (n, d); the median of an even count is the lower middle value (as
    ``torch.median``).  Returns a detached 0-d tensor (1.0 when all points
    coincide).  No host synchronization.
    """
    with torch.no_grad():
        zf = z.detach().float()
        i, j = torch.triu_indices(len(zf), len(zf), offset=1, device=zf.device)
        d2 = (zf[i] - zf[j]).pow(2).sum(dim=1)
        pos = torch.where(d2 > 0, d2, torch.full_like(d2, float("nan")))
        med = torch.nanmedian(pos)
        med = torch.where(torch.isnan(med), torch.ones_like(med), med)
        return (0.5 * med).sqrt()


def gaussian_kernel(a: Tensor, b: Tensor, sigma: Union[float, Tensor, Sequence[float]] = 1.0) -> Tensor:
    """Gaussian (RBF) kernel matrix ``sum_s exp(-||a_i - b_j||^2 / (2 s^2))`` (n, m).

    ``sigma`` is a bandwidth or a sequence of bandwidths (a mixture of kernels).

    Args:
        a: (n, d) first sample.
        b: (m, d) second sample (same width).
        sigma: bandwidth(s) > 0 (not checked here; :func:`mmd2` checks them).
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need 2-d inputs with the same width, got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.float(), b.float()
    d2 = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1).unsqueeze(0) - 2.0 * a @ b.T).clamp_min(0.0)
    sigmas = sigma if isinstance(sigma, (list, tuple)) else [sigma]
    k = torch.zeros_like(d2)
    for s in sigmas:
        k = k + torch.exp(-d2 / (2.0 * (torch.as_tensor(s, dtype=d2.dtype, device=d2.device) ** 2)))
    return k


def mmd2(x: Tensor, y: Tensor, bandwidth: Bandwidth = 1.0) -> Tensor:
    """Biased squared MMD between the samples ``x`` (n, d) and ``y`` (m, d), Gaussian kernel.

    ``MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)`` (Gretton et al.,
    2012, the V-statistic; App. E.2's distance squared).  It is 0 when the two
    samples are the same multiset and > 0 otherwise (the Gaussian kernel is
    characteristic).  ``bandwidth``: a ``sigma`` > 0, a sequence of them, or
    ``"median"`` (:func:`median_bandwidth` of the pooled sample).
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1] or len(x) == 0 or len(y) == 0:
        raise ValueError(f"need non-empty (n, d) and (m, d) samples, got {tuple(x.shape)} and {tuple(y.shape)}")
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be a number > 0, a list of them, or 'median', got {bandwidth!r}")
        sigma: Any = median_bandwidth(torch.cat([x.detach(), y.detach()]))
    else:
        sigma = bandwidth
        for s in sigma if isinstance(sigma, (list, tuple)) else [sigma]:
            if not (isinstance(s, (int, float, Tensor)) and float(s) > 0):
                raise ValueError(f"bandwidth must be > 0, got {bandwidth!r}")
    kxx = gaussian_kernel(x, x, sigma).mean()
    kyy = gaussian_kernel(y, y, sigma).mean()
    kxy = gaussian_kernel(x, y, sigma).mean()
    return (kxx + kyy - 2.0 * kxy).clamp_min(0.0)


def mixup(x: Tensor, y: Tensor, lam: Union[float, Tensor], perm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Mixup (Zhang et al., 2018): ``(lam * x + (1 - lam) * x[perm], y, y[perm])``.

    ``lam`` is a number in [0, 1] or a 0-d tensor on ``x``'s device (not
    checked, to avoid a host synchronization).

    Args:
        x: (N, ...) batch of inputs.
        y: (N,) their labels.
        lam: the mixing weight, as above.
        perm: (N,) permutation of the rows pairing each example with its partner.

    Returns:
        the mixed inputs, ``y`` and ``y[perm]`` (the loss weights them ``lam`` and ``1 - lam``).
    """
    if not isinstance(lam, Tensor) and not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam!r}")
    if len(perm) != len(x):
        raise ValueError(f"perm must permute the {len(x)} rows of x, got {len(perm)} indices")
    return lam * x + (1.0 - lam) * x[perm], y, y[perm]


def _bandwidth(name: str, value: Any) -> Union[float, str]:
    if value == "median":
        return "median"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (float(value) > 0)
        or not np.isfinite(float(value))
    ):
        raise ValueError(f"{name} must be a number > 0 (Gaussian kernel sigma) or 'median', got {value!r}")
    return float(value)


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: Mixup+MMD's variants: name -> the code it follows (or, for ``shared_forward``, what it was).
MIXUP_MMD_VARIANTS: dict[str, str] = {
    "paper": "two forward passes, as zhenlong-liu/MLHospital mlh/defenses/membership_inference/MixupMMDLoss.py",
    "shared_forward": "ccl_lib before the fix: model(torch.cat([x, x_ref])), BatchNorm statistics shared",
}


class MixupMMD(Defense):
    """Mixup training plus ``weight * MMD^2`` between member and reference outputs (Li et al., 2021).

    Hyperparameters: ``weight`` >= 0 (App. E.2 grid 0.01..8), ``mixup_alpha``
    > 0 (Beta parameter), ``bandwidth`` (sigma > 0 or ``"median"``),
    ``match_labels`` (draw a label-matched reference batch).
    """

    name = "mixup_mmd"
    needs_reference = True
    params: ClassVar[Mapping[str, Param]] = {
        "weight": Param(1.0, number(0.0, None), "weight >= 0 of the MMD term"),
        "mixup_alpha": Param(1.0, number(0.0, None, lo_open=True), "mixup_alpha > 0, lam ~ Beta(a, a)"),
        "bandwidth": Param(1.0, _bandwidth, "Gaussian kernel sigma > 0 or 'median'"),
        "match_labels": Param(True, _boolean, "draw reference samples with the training batch's labels"),
        # in the identity by default: the default's results changed with the two-pass fix
        "variant": variant_param(MIXUP_MMD_VARIANTS, in_key=True),
    }

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self._pool: Optional[tuple[Tensor, Tensor]] = None
        self._index: Optional[tuple[Tensor, Tensor, Tensor]] = None

    # -- per-run state -------------------------------------------------------

    def _before_fit(self, reference: Optional[tuple[Tensor, Tensor]]) -> None:
        self._pool = reference if self.hparams["match_labels"] else None

    def _after_fit(self) -> None:
        self._pool = self._index = None

    def setup(self, model: nn.Module, *, num_classes: int, device: torch.device) -> None:
        """Index the reference pool by class (when :meth:`train` handed one over).

        Args:
            model: the classifier being trained (unused; part of the objective's interface).
            num_classes: number of classes of the classifier's output.
            device: where the reference pool is moved.
        """
        self._index = None
        if self._pool is not None:
            xr, yr = self._pool[0].to(device), self._pool[1].long().to(device)
            order = torch.argsort(yr, stable=True)
            counts = torch.bincount(yr, minlength=num_classes)
            starts = torch.cumsum(counts, 0) - counts
            self._pool = (xr, yr)
            self._index = (order, counts, starts)

    def _reference_batch(self, y: Tensor, ref: Optional[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        if self._index is None or self._pool is None:
            if ref is None:
                raise ValueError("mixup_mmd needs a reference batch: train with reference=(x_ref, y_ref)")
            return ref
        xr, yr = self._pool
        order, counts, starts = self._index
        u = torch.rand(len(y), device=y.device)
        cnt = counts[y]
        within = (u * cnt.clamp_min(1)).long().clamp_max(cnt.clamp_min(1) - 1)
        anywhere = (u * len(yr)).long().clamp_max(len(yr) - 1)
        pos = torch.where(cnt > 0, starts[y] + within, anywhere)
        idx = torch.where(cnt > 0, order[pos.clamp_max(len(order) - 1)], anywhere)
        return xr[idx], yr[idx]

    # -- the objective -------------------------------------------------------

    def draw_mixup(self, n: int, device: Union[str, torch.device] = "cpu") -> tuple[Tensor, Tensor]:
        """Draw ``lam ~ Beta(a, a)`` (0-d tensor) and a permutation of ``n`` rows, on ``device``.

        The draws use the torch RNG of ``device``, which :func:`ccl_lib.train.fit`
        seeds from the run's seed, so runs are reproducible; drawing on the
        device keeps the training step free of host synchronizations.
        """
        a = torch.tensor(float(self.hparams["mixup_alpha"]), device=device)
        lam = torch.distributions.Beta(a, a, validate_args=False).sample()  # no validation sync
        return lam, torch.randperm(n, device=device)

    def loss(self, model: nn.Module, x: Tensor, y: Tensor, *, ref=None, epoch: int = 0, step: int = 0) -> Tensor:
        y = y.long()
        lam, perm = self.draw_mixup(len(x), x.device)
        xm, ya, yb = mixup(x, y, lam, perm)
        out = model(xm).float()
        loss = lam * cross_entropy(out, ya, check_inputs=False) + (1.0 - lam) * cross_entropy(
            out, yb, check_inputs=False
        )
        w = self.hparams["weight"]
        if w > 0:
            xr, _ = self._reference_batch(y, ref)
            if self.hparams["variant"] == "shared_forward":
                probs = F.softmax(model(torch.cat([x, xr])).float(), dim=1)
                p_train, p_ref = probs[: len(x)], probs[len(x) :].detach()
            else:
                p_train = F.softmax(model(x).float(), dim=1)
                p_ref = F.softmax(model(xr).float(), dim=1).detach()
            loss = loss + w * mmd2(p_train, p_ref, self.hparams["bandwidth"])
        return loss
