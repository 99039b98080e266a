"""Theorem 6.1 (Eq. 17-18): the loss-threshold attack under Gaussian losses
(:func:`gaussian_advantage_at_threshold`, :func:`gaussian_advantage`) and its simulation
(:func:`simulate_loss_attack`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from ..metrics import advantage_at_threshold


def _check_gauss(mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike) -> None:
    for name, v in (("mu_s", mu_s), ("sigma_s", sigma_s), ("mu_d", mu_d), ("sigma_d", sigma_d)):
        if not np.all(np.isfinite(np.asarray(v, dtype=float))):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if np.any(np.asarray(sigma_s, dtype=float) <= 0) or np.any(np.asarray(sigma_d, dtype=float) <= 0):
        raise ValueError("standard deviations sigma_s and sigma_d must be > 0")


def gaussian_advantage_at_threshold(
    tau: ArrayLike, mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike
) -> Union[float, np.ndarray]:
    """Eq. 17: advantage of the rule ``loss <= tau`` when member losses are ``N(mu_s, sigma_s^2)``
    and non-member losses ``N(mu_d, sigma_d^2)``: ``Phi((tau-mu_s)/sigma_s) - Phi((tau-mu_d)/sigma_d)``.

    All arguments broadcast (NumPy); returns a float for scalar inputs.

    Args:
        tau: the loss threshold (finite).
        mu_s: mean loss of members (the training set).
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
    """
    from scipy.stats import norm

    _check_gauss(mu_s, sigma_s, mu_d, sigma_d)
    if not np.all(np.isfinite(np.asarray(tau, dtype=float))):
        raise ValueError(f"tau must be finite, got {tau!r}")
    tau, mu_s, sigma_s, mu_d, sigma_d = (np.asarray(v, dtype=np.float64) for v in (tau, mu_s, sigma_s, mu_d, sigma_d))
    out = norm.cdf((tau - mu_s) / sigma_s) - norm.cdf((tau - mu_d) / sigma_d)
    return float(out) if np.ndim(out) == 0 else out


def gaussian_advantage(
    mu_s: ArrayLike, sigma_s: ArrayLike, mu_d: ArrayLike, sigma_d: ArrayLike, fpr: ArrayLike
) -> Union[float, np.ndarray]:
    """Eq. 18: advantage of the loss-threshold attack at false-positive rate ``fpr``.

    The threshold is ``tau = mu_d + Phi^{-1}(fpr) sigma_d`` (so that a fraction
    ``fpr`` of non-members is flagged), and
    ``Adv = Phi((Phi^{-1}(fpr) sigma_d + mu_d - mu_s) / sigma_s) - fpr``.
    It decreases in ``sigma_s`` only while ``tau > mu_s``; when the threshold lies
    below the member mean (small ``fpr``, close means), it *increases* in ``sigma_s``.
    Arguments broadcast (NumPy).

    Args:
        mu_s: mean loss of members (the training set).
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
        fpr: the attacker's false positive rate, in (0, 1).
    """
    from scipy.stats import norm

    _check_gauss(mu_s, sigma_s, mu_d, sigma_d)
    fpr_a = np.asarray(fpr, dtype=np.float64)
    if np.any((fpr_a <= 0) | (fpr_a >= 1)):
        raise ValueError(f"fpr must lie in (0, 1), got {fpr!r}")
    mu_s, sigma_s, mu_d, sigma_d = (np.asarray(v, dtype=np.float64) for v in (mu_s, sigma_s, mu_d, sigma_d))
    out = norm.cdf((norm.ppf(fpr_a) * sigma_d + mu_d - mu_s) / sigma_s) - fpr_a
    return float(out) if np.ndim(out) == 0 else out


@dataclass(frozen=True)
class SimulatedAttack:
    """Monte Carlo loss-threshold attack (Eq. 14) under the Gaussian model of Theorem 6.1.

    Attributes:
        advantage: mean over repeats of the target's TPR - FPR.
        advantage_se: its standard error over repeats.
        tpr, fpr: mean true and false positive rates on the target samples.
        threshold: mean threshold ``tau`` calibrated on the shadow samples.
        closed_form: Eq. 18 at the requested ``fpr``.
    """

    advantage: float
    advantage_se: float
    tpr: float
    fpr: float
    threshold: float
    closed_form: float


def shadow_loss_threshold(shadow_losses: ArrayLike, fpr: float) -> float:
    """The largest loss threshold ``tau`` that flags (``loss <= tau``) at most ``fpr`` of the shadow losses.

    The attacker of Eq. 18 calibrates its rule on non-members: ``tau`` is the largest observed
    loss with ``#{loss <= tau} <= floor(fpr * n)``, or ``-inf`` (flag nobody) when there is none.
    Without ties that is the ``floor(fpr * n)``-th smallest loss.

    Args:
        shadow_losses: the non-member losses the attacker observes (at least one).
        fpr: the false positive rate in [0, 1] the threshold is calibrated to.
    """
    losses = np.sort(np.asarray(shadow_losses, dtype=np.float64).ravel())
    if losses.size == 0:
        raise ValueError("shadow_loss_threshold needs at least one shadow loss")
    if not (0.0 <= float(fpr) <= 1.0):
        raise ValueError(f"fpr must be in [0, 1], got {fpr!r}")
    values = np.unique(losses)
    flagged = np.searchsorted(losses, values, side="right")  # #{loss <= value}
    ok = flagged <= float(fpr) * losses.size + 1e-9
    return float(values[ok][-1]) if ok.any() else float("-inf")


def simulate_loss_attack(
    mu_s: float,
    sigma_s: float,
    mu_d: float,
    sigma_d: float,
    fpr: float,
    n: int = 10_000,
    n_shadow: Optional[int] = None,
    n_repeats: int = 20,
    seed: int = 0,
) -> SimulatedAttack:
    """Simulate the loss-threshold attack ``A_loss = 1[loss <= tau]`` (Eq. 14, Yeom et al., 2018).

    Each repeat draws ``n_shadow`` non-member losses from ``N(mu_d, sigma_d^2)`` to
    calibrate ``tau`` so that at most a fraction ``fpr`` of them is flagged
    (:func:`shadow_loss_threshold`, the rule of :func:`ccl_lib.attacks.threshold.threshold_at_fpr`
    for losses; the attacker's shadow data, footnote 2 of the paper), then ``n`` member losses
    ``N(mu_s, sigma_s^2)`` and ``n`` non-member losses for the target, and scores the fixed rule with
    :func:`ccl_lib.metrics.advantage_at_threshold` (score = -loss).  The mean
    advantage converges to Eq. 18 as ``n, n_shadow`` grow.

    Args:
        mu_s: mean loss of members.
        sigma_s: standard deviation of members' losses (> 0).
        mu_d: mean loss of non-members.
        sigma_d: standard deviation of non-members' losses (> 0).
        fpr: the false positive rate in (0, 1) the threshold is calibrated to.
        n: target members and non-members drawn per repeat (>= 1).
        n_shadow: shadow non-members per repeat for the calibration (>= 2; default ``n``).
        n_repeats: number of repeats (>= 1).
        seed: seeds all draws.
    """
    for name, v in (("n", n), ("n_repeats", n_repeats)):
        if not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    n_shadow = n if n_shadow is None else n_shadow
    if not (isinstance(n_shadow, (int, np.integer)) and n_shadow >= 2):
        raise ValueError(f"n_shadow must be an integer >= 2, got {n_shadow!r}")
    closed = float(gaussian_advantage(mu_s, sigma_s, mu_d, sigma_d, fpr))  # scalar arguments: a float
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)]
    advs, tprs, fprs, taus = [], [], [], []
    for _ in range(n_repeats):
        shadow = rng.normal(mu_d, sigma_d, n_shadow)
        tau = shadow_loss_threshold(shadow, fpr)  # flag loss <= tau
        losses = np.r_[rng.normal(mu_s, sigma_s, n), rng.normal(mu_d, sigma_d, n)]
        advs.append(advantage_at_threshold(-losses, labels, -tau))
        tprs.append(float((losses[:n] <= tau).mean()))
        fprs.append(float((losses[n:] <= tau).mean()))
        taus.append(tau)
    a = np.asarray(advs)
    se = float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else float("nan")
    return SimulatedAttack(
        float(a.mean()), se, float(np.mean(tprs)), float(np.mean(fprs)), float(np.mean(taus)), closed
    )
