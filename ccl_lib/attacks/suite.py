"""One way to run the attacks of Sec. 5.1 and one result table.

:func:`run_attacks` balances the query sets, queries each model once per set
(and per augmentation), runs every requested attack of the registry
:data:`ccl_lib.attacks.base.ATTACKS`, and returns one row per attack with the
numbers of :meth:`AttackResult.summary`.  :func:`p1_from_report` computes the
P1 score (Eq. 13) from the *highest* advantage over all attacks, as Table 1
of the paper does.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .. import metrics as _metrics
from ..utils import resolve_device
from .base import ATTACKS, DATA_KINDS, SUMMARY_KEYS, AttackContext, AttackResult, balanced_indices, check_xy

__all__ = [
    "ATTACK_NAMES",
    "IMAGE_ATTACKS",
    "REPORT_COLUMNS",
    "TABULAR_ATTACKS",
    "default_attacks",
    "p1_from_report",
    "results_frame",
    "run_attacks",
]

Tensor = torch.Tensor

#: The attacks of the paper's evaluation (Sec. 5.1), in report order.
ATTACK_NAMES: tuple[str, ...] = (
    "nn", "nn_sorted", "correctness", "loss", "confidence", "entropy", "modified_entropy", "rotation", "translation",
)  # fmt: skip
#: Default attacks for image data: all of them.
IMAGE_ATTACKS: tuple[str, ...] = ATTACK_NAMES
#: Default attacks for tabular data: all but the image augmentations.
TABULAR_ATTACKS: tuple[str, ...] = tuple(a for a in ATTACK_NAMES if a not in ("rotation", "translation"))
#: Columns of the report of :func:`run_attacks`.
REPORT_COLUMNS: tuple[str, ...] = ("attack", *SUMMARY_KEYS)


def default_attacks(kind: str) -> tuple[str, ...]:
    """The default attack list for ``kind`` in {"tabular", "image"}."""
    if kind not in DATA_KINDS:
        raise ValueError(f"kind must be one of {DATA_KINDS}, got {kind!r}")
    return IMAGE_ATTACKS if kind == "image" else TABULAR_ATTACKS


def results_frame(results: Union[Mapping[str, AttackResult], Sequence[AttackResult]]) -> pd.DataFrame:
    """The report table (:data:`REPORT_COLUMNS`, one row per attack) of attack results."""
    items = list(results.values()) if isinstance(results, Mapping) else list(results)
    rows = []
    for r in items:
        if not isinstance(r, AttackResult):
            raise TypeError(f"expected AttackResult objects, got {type(r).__name__}")
        rows.append({"attack": r.name, **r.summary()})
    df = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    return df.astype({"n_in": "int64", "n_out": "int64"}) if len(df) else df


def _subset(pair: tuple[Tensor, Tensor], idx: np.ndarray) -> tuple[Tensor, Tensor]:
    if len(idx) == len(pair[1]):
        return pair
    t = torch.as_tensor(idx, dtype=torch.long)
    return pair[0][t], pair[1][t]


def _model_device(model: nn.Module) -> Optional[torch.device]:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return None


def run_attacks(
    target: nn.Module,
    shadow: nn.Module,
    *,
    target_in: tuple[Tensor, Tensor],
    target_out: tuple[Tensor, Tensor],
    shadow_in: tuple[Tensor, Tensor],
    shadow_out: tuple[Tensor, Tensor],
    attacks: Optional[Sequence[str]] = None,
    kind: str = "tabular",
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
    batch_size: int = 2048,
    return_results: bool = False,
    progress: Optional[bool] = None,
    attack_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> Union[pd.DataFrame, tuple[pd.DataFrame, dict[str, AttackResult]]]:
    """Run membership inference attacks against ``target`` using ``shadow`` (Sec. 5.1).

    Args:
        target: the attacked model; queried black-box, in eval mode.
        shadow: the attacker's shadow model, trained the same way on the shadow split.
        target_in, target_out: ``(x, y)`` of the target's members (train split)
            and non-members (test split), as produced by ``Dataset.features``.
        shadow_in, shadow_out: the same for the shadow model.
        attacks: names from :data:`ccl_lib.attacks.base.ATTACKS`; default
            :data:`TABULAR_ATTACKS` or :data:`IMAGE_ATTACKS` by ``kind``.
        kind: ``"tabular"`` (x of shape (n, d)) or ``"image"`` (x of shape (n, C, H, W)).
        seed: seeds the balancing subsample and the attack classifiers.
        device: where models are queried and attack classifiers trained
            (default: CUDA when present); the models are moved there for the
            run and moved back afterwards.
        batch_size: query batch size.
        return_results: also return the :class:`AttackResult` of each attack.
        progress: show a tqdm bar over attacks (default: on unless ``CCL_PROGRESS=0``).
        attack_options: per-attack keyword options, e.g.
            ``{"rotation": {"r": 15}, "confidence": {"confidence": "max"}}``.

    Member and non-member sets are balanced by subsampling the larger to the
    size of the smaller (seeded), for the target and for the shadow model.

    Returns:
        a DataFrame with columns :data:`REPORT_COLUMNS` (one row per attack, in
        the requested order), and with ``return_results`` the dict
        ``name -> AttackResult`` too.
    """
    from tqdm.auto import tqdm

    for nm, m in (("target", target), ("shadow", shadow)):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{nm} must be a torch.nn.Module, got {type(m).__name__}")
    if kind not in DATA_KINDS:
        raise ValueError(f"kind must be one of {DATA_KINDS}, got {kind!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    names = default_attacks(kind) if attacks is None else attacks
    if isinstance(names, str):
        raise TypeError(f"attacks must be a sequence of names, e.g. [{names!r}], not a string")
    names = tuple(names)
    if not names:
        raise ValueError("attacks is empty; give at least one attack name")
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack(s) {unknown}; registered attacks: {sorted(ATTACKS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"attacks lists a name twice: {list(names)}")
    if kind == "tabular":
        img = [a for a in names if getattr(ATTACKS[a], "image_only", False)]
        if img:
            raise ValueError(
                f"attack(s) {img} augment images (Choquette-Choo et al., 2021) and cannot run on tabular data; "
                f"use kind='image' with (N, C, H, W) inputs, or the tabular attacks {TABULAR_ATTACKS}"
            )
    options = dict(attack_options or {})
    stray = [a for a in options if a not in names]
    if stray:
        raise ValueError(f"attack_options for {stray}, which are not among the attacks run {list(names)}")
    for a, o in options.items():
        if not isinstance(o, Mapping):
            raise TypeError(f"attack_options[{a!r}] must be a dict of keyword options, got {type(o).__name__}")

    sets = {n: check_xy(p, n) for n, p in (("target_in", target_in), ("target_out", target_out),
                                            ("shadow_in", shadow_in), ("shadow_out", shadow_out))}  # fmt: skip
    shape = tuple(sets["target_in"][0].shape[1:])
    for n, (x, _) in sets.items():
        if tuple(x.shape[1:]) != shape:
            raise ValueError(f"{n} has inputs of shape {tuple(x.shape[1:])}, target_in has {shape}; all four sets must match")
    want_dim = 4 if kind == "image" else 2
    if sets["target_in"][0].dim() != want_dim:
        raise ValueError(
            f"kind={kind!r} expects x of shape {'(N, C, H, W)' if kind == 'image' else '(N, d)'}, "
            f"got {tuple(sets['target_in'][0].shape)}"
        )
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"

    ti, to = balanced_indices(len(sets["target_in"][1]), len(sets["target_out"][1]), seed)
    si, so = balanced_indices(len(sets["shadow_in"][1]), len(sets["shadow_out"][1]), seed + 1)
    dev = resolve_device("auto" if device is None else device)
    homes = {id(m): _model_device(m) for m in (target, shadow)}
    target.to(dev)
    shadow.to(dev)
    try:
        ctx = AttackContext(
            target=target,
            shadow=shadow,
            target_in=_subset(sets["target_in"], ti),
            target_out=_subset(sets["target_out"], to),
            shadow_in=_subset(sets["shadow_in"], si),
            shadow_out=_subset(sets["shadow_out"], so),
            kind=kind,
            seed=int(seed),
            device=dev,
            batch_size=int(batch_size),
            progress=bool(progress),
        )
        results: dict[str, AttackResult] = {}
        bar = tqdm(names, desc="attacks", disable=not progress, leave=False)
        for a in bar:
            bar.set_postfix_str(a)
            res = ATTACKS[a](ctx, **dict(options.get(a, {})))
            if not isinstance(res, AttackResult):
                raise TypeError(f"attack {a!r} returned {type(res).__name__}, not an AttackResult")
            res.name = a
            results[a] = res
        bar.close()
    finally:
        for m in (target, shadow):
            home = homes[id(m)]
            if home is not None:
                m.to(home)
    report = results_frame(results)
    return (report, results) if return_results else report


def p1_from_report(report: pd.DataFrame, test_accuracy: float, column: str = "advantage") -> float:
    """P1 score (Eq. 13) of a target model from its attack report.

    Uses the **highest** advantage over all attacks of the report (as Table 1
    of the paper does), not the advantage or the accuracy of one attack.

    Args:
        report: the DataFrame of :func:`run_attacks`.
        test_accuracy: the target model's test accuracy, in [0, 1].
        column: ``"advantage"`` (Eq. 2, threshold chosen on the target; the
            default) or ``"shadow_advantage"`` (the attacker's own decisions).
    """
    if not isinstance(report, pd.DataFrame):
        raise TypeError(f"report must be the DataFrame of run_attacks, got {type(report).__name__}")
    if column not in ("advantage", "shadow_advantage"):
        raise ValueError(f"column must be 'advantage' or 'shadow_advantage', got {column!r}")
    if column not in report.columns or len(report) == 0:
        raise ValueError(f"report must have at least one row and a {column!r} column; columns: {list(report.columns)}")
    acc = float(test_accuracy)
    if not (0.0 <= acc <= 1.0):
        raise ValueError(f"test_accuracy must be in [0, 1] (a fraction, not a percentage), got {test_accuracy!r}")
    adv = pd.to_numeric(report[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(adv).all():
        raise ValueError(f"the report's {column!r} column holds no number")
    worst = float(np.nanmax(adv))
    if math.isnan(worst) or not (-1.0 <= worst <= 1.0):
        raise ValueError(f"advantages must lie in [-1, 1], got {worst!r}")
    return _metrics.p1_score(acc, worst)
