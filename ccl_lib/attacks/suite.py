"""One way to run the attacks of Sec. 5.1 and one result table.

:func:`run_attacks` balances the query sets, queries each model once per set
(and per augmentation), runs every requested attack of the registry
:data:`ccl_lib.attacks.base.ATTACKS`, and returns one row per attack with the
numbers of :meth:`AttackResult.summary` (headline ``advantage``: the
attacker's shadow-learned rule on the target, Eq. 2 and footnote 2;
``advantage_oracle``: the threshold chosen on the target, an upper bound).
:func:`p1_from_report` computes the P1 score (Eq. 13) from the *highest*
advantage over the paper's attacks (:data:`PAPER_ATTACKS`), as Table 1 of the
paper does; further attacks (``nn_sorted``, ``confidence_true``, LiRA, RMIA)
are reported beside and enter P1 only when asked.
"""

from __future__ import annotations

import math
import os
import warnings
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
    "EXTRA_ATTACKS",
    "IMAGE_ATTACKS",
    "MIN_SET_SIZE",
    "P1_VARIANTS",
    "PAPER_ATTACKS",
    "REFERENCE_ATTACKS",
    "RELEASE_ATTACKS",
    "REPORT_COLUMNS",
    "TABULAR_ATTACKS",
    "default_attacks",
    "is_paper_attack",
    "p1_from_report",
    "results_frame",
    "run_attacks",
]

Tensor = torch.Tensor

#: The paper's eight attacks (Sec. 5.1), in report order: NN, the five metric attacks
#: (confidence = maximum probability, Salem et al.), rotation and translation.
PAPER_ATTACKS: tuple[str, ...] = (
    "nn", "correctness", "loss", "confidence", "entropy", "modified_entropy", "rotation", "translation",
)  # fmt: skip
#: Same tuple (the default suite for images); kept under its former name.
ATTACK_NAMES: tuple[str, ...] = PAPER_ATTACKS
#: Registered attacks that are not the paper's: reported beside, never folded into P1 unless asked.
EXTRA_ATTACKS: tuple[str, ...] = ("nn_sorted", "confidence_true", "lira", "lira_offline", "rmia")
#: The CCL release's forms of the paper's attacks (issue 23): the metric attacks with its
#: threshold tie-break and float32 scores, its NN attack (probabilities only, 64-32-2), and its
#: rotation attack (nearest neighbour, black fill; images only).
#: Like ``EXTRA_ATTACKS`` they enter P1 only when asked.
RELEASE_ATTACKS: tuple[str, ...] = (
    "nn_release", "loss_release", "confidence_release", "entropy_release", "modified_entropy_release",
    "rotation_release",
)  # fmt: skip
#: Attacks that train reference models the way the target was trained (Carlini et al., 2022):
#: with ``attacker="matched"`` (their default) they need the target's defense and recipe
#: (``run_attacks(..., defense=, train_config=)``); the run engine passes the spec's.
REFERENCE_ATTACKS: tuple[str, ...] = ("lira", "lira_offline", "rmia", "lira_reference")
#: P1 definitions of :func:`p1_from_report`: name -> the text or code it follows.
P1_VARIANTS: dict[str, str] = {
    "paper": "Table 1 / Sec. 5.2: Eq. 13 with the highest advantage of all attacks",
    "release": "ml-stat-Sustech/ConvexConcaveLoss source/utility/process.py p_score with the loss attack's accuracy",
}
#: Default attacks for image data: the paper's eight.
IMAGE_ATTACKS: tuple[str, ...] = PAPER_ATTACKS
#: Default attacks for tabular data: the paper's six (no image augmentations).
TABULAR_ATTACKS: tuple[str, ...] = tuple(a for a in PAPER_ATTACKS if a not in ("rotation", "translation"))
#: Columns of the report of :func:`run_attacks`.
REPORT_COLUMNS: tuple[str, ...] = ("attack", *SUMMARY_KEYS)
#: Below this many members or non-members (after balancing) :func:`run_attacks` warns: the
#: advantage's standard error is then above ~0.13 and the 1% FPR point is not resolved.
MIN_SET_SIZE = 30


def is_paper_attack(name: str) -> bool:
    """True for the paper's eight attacks (:data:`PAPER_ATTACKS`), the ones Table 1's P1 is taken over.

    Args:
        name: an attack name (a key of :data:`ATTACKS` or a report's ``attack`` column).
    """
    return name in PAPER_ATTACKS


def default_attacks(kind: str) -> tuple[str, ...]:
    """The default attack list for ``kind`` in {"tabular", "image"}: the paper's six (tabular) or eight (image)."""
    if kind not in DATA_KINDS:
        raise ValueError(f"kind must be one of {DATA_KINDS}, got {kind!r}")
    return IMAGE_ATTACKS if kind == "image" else TABULAR_ATTACKS


def results_frame(results: Union[Mapping[str, AttackResult], Sequence[AttackResult]]) -> pd.DataFrame:
    """The report table (:data:`REPORT_COLUMNS`, one row per attack) of attack results.

    Args:
        results: :class:`AttackResult` objects, as a sequence or a ``name -> result`` mapping
            (the row order follows it).
    """
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
    defense: Any = None,
    train_config: Any = None,
    normalization: Any = None,
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
            ``{"rotation": {"r": 15}, "confidence": {"confidence": "true"}}``.
        defense, train_config: the target's training algorithm
            (:class:`ccl_lib.defenses.Defense`) and recipe
            (:class:`ccl_lib.train.TrainConfig`); the reference-model attacks
            (``lira``, ``lira_offline``, ``rmia``) train with them (the
            attacker knows the training algorithm, Carlini et al., 2022).
        normalization: image data: the per-channel ``(mean, std)`` of the inputs
            (:attr:`ccl_lib.data.Dataset.normalization`), for the attacks that work in pixel
            space (``rotation_release``: black fill); ``None`` if unknown.

    Member and non-member sets are balanced by subsampling the larger to the
    size of the smaller (seeded), for the target and for the shadow model.
    Inputs whose float dtype differs from the models' parameters (e.g.
    float64 data, float32 model) are cast to the models' dtype.  Fewer than
    :data:`MIN_SET_SIZE` members or non-members give a warning.

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
    if kind == "image":
        tab = [a for a in names if getattr(ATTACKS[a], "tabular_only", False)]
        if tab:
            raise ValueError(f"attack(s) {tab} apply to tabular data only (see their docstrings); drop them for images")
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
            raise ValueError(
                f"{n} has inputs of shape {tuple(x.shape[1:])}, target_in has {shape}; all four sets must match"
            )
    want_dim = 4 if kind == "image" else 2
    if sets["target_in"][0].dim() != want_dim:
        raise ValueError(
            f"kind={kind!r} expects x of shape {'(N, C, H, W)' if kind == 'image' else '(N, d)'}, "
            f"got {tuple(sets['target_in'][0].shape)}"
        )
    if progress is None:
        progress = os.environ.get("CCL_PROGRESS", "1") != "0"
    dtypes = {p.dtype for m in (target, shadow) for p in m.parameters() if p.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"target and shadow have parameters of different float dtypes {sorted(map(str, dtypes))}")
    if dtypes:
        want = next(iter(dtypes))
        sets = {n: (x if x.dtype == want else x.to(want), y) for n, (x, y) in sets.items()}
    for role in ("target", "shadow"):
        n_bal = min(len(sets[f"{role}_in"][1]), len(sets[f"{role}_out"][1]))
        if n_bal < MIN_SET_SIZE:
            warnings.warn(
                f"the {role} model is attacked with only {n_bal} members and {n_bal} non-members "
                f"(after balancing; fewer than {MIN_SET_SIZE}): the advantage has a standard error above "
                f"~{math.sqrt(0.5 / max(n_bal, 1)):.2f} and TPR at 1% FPR is not resolved; use larger splits",
                UserWarning,
                stacklevel=2,
            )

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
            defense=defense,
            train_config=train_config,
            normalization=normalization,
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


def p1_from_report(
    report: pd.DataFrame,
    test_accuracy: float,
    column: str = "advantage",
    attacks: Union[str, Sequence[str], None] = None,
    variant: str = "paper",
) -> float:
    """P1 score (Eq. 13) of a target model from its attack report.

    Uses the **highest** advantage over the paper's attacks in the report
    (Table 1: "the highest attack advantage of all attack methods"), not the
    advantage or the accuracy of one attack.

    ``variant="release"`` computes P1 as the CCL release does instead
    (``ml-stat-Sustech/ConvexConcaveLoss``, ``source/utility/process.py``, ``p_score`` called
    in ``process_files_yaml``): with the *accuracy* of the cross-entropy loss attack alone, its
    ``balanced_accuracy`` column (members and non-members are balanced, so it is the accuracy),
    see :func:`ccl_lib.metrics.p1_release`.  Its row is ``"loss"`` unless ``attacks`` names
    exactly one (e.g. ``["loss_release"]``); ``column`` must stay ``"advantage"`` (the
    shadow-learned rule).

    Args:
        report: the DataFrame of :func:`run_attacks`.
        test_accuracy: the target model's test accuracy, in [0, 1].
        column: ``"advantage"`` (the attacker's shadow-learned rule on the
            target, Eq. 2 with footnote 2; the default) or
            ``"advantage_oracle"`` (threshold chosen on the target, an upper bound).
        attacks: which rows count: ``None`` (default) = the paper's attacks
            (:data:`PAPER_ATTACKS`) present in the report; ``"all"`` = every
            row (e.g. with LiRA, RMIA, ``nn_sorted``); or a list of names.
        variant: a key of :data:`P1_VARIANTS`: ``"paper"`` (the highest advantage, Eq. 13 as
            the text of Table 1 says; the default) or ``"release"`` (the CE loss attack's
            accuracy, as ``source/utility/process.py`` ``p_score`` is called).
    """
    if not isinstance(report, pd.DataFrame):
        raise TypeError(f"report must be the DataFrame of run_attacks, got {type(report).__name__}")
    if variant not in P1_VARIANTS:
        raise ValueError(f"unknown P1 variant {variant!r}; known variants: {list(P1_VARIANTS)}")
    if variant == "release":
        return _p1_release(report, test_accuracy, column, attacks)
    if column not in ("advantage", "advantage_oracle"):
        raise ValueError(f"column must be 'advantage' or 'advantage_oracle', got {column!r}")
    if column not in report.columns or len(report) == 0:
        raise ValueError(f"report must have at least one row and a {column!r} column; columns: {list(report.columns)}")
    acc = float(test_accuracy)
    if not (0.0 <= acc <= 1.0):
        raise ValueError(f"test_accuracy must be in [0, 1] (a fraction, not a percentage), got {test_accuracy!r}")
    if attacks == "all":
        rows = report
    else:
        if "attack" not in report.columns:
            raise ValueError("report needs an 'attack' column to pick the paper's attacks (or pass attacks='all')")
        wanted = PAPER_ATTACKS if attacks is None else attacks
        if isinstance(wanted, str):
            raise TypeError(f"attacks must be None, 'all' or a list of names, got {wanted!r}")
        rows = report[report["attack"].isin(list(wanted))]
        if len(rows) == 0:
            raise ValueError(
                f"the report has none of the attacks {list(wanted)} (it has {list(report['attack'])}); "
                "pass attacks='all' to take P1 over every row"
            )
    adv = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(adv).all():
        raise ValueError(f"the report's {column!r} column holds no number for the attacks used")
    worst = float(np.nanmax(adv))
    if math.isnan(worst) or not (-1.0 <= worst <= 1.0):
        raise ValueError(f"advantages must lie in [-1, 1], got {worst!r}")
    return _metrics.p1_score(acc, worst)


def _p1_release(report: pd.DataFrame, test_accuracy: float, column: str, attacks: Any) -> float:
    """:func:`p1_from_report` with ``variant="release"`` (see there)."""
    if column != "advantage":
        raise ValueError("P1 variant 'release' uses the loss attack's accuracy of its shadow-learned rule; "
                         f"column={column!r} does not apply")  # fmt: skip
    if attacks is None:
        name = "loss"
    elif isinstance(attacks, str) or len(list(attacks)) != 1:
        raise ValueError(f"P1 variant 'release' takes one attack (the loss attack), got attacks={attacks!r}")
    else:
        name = list(attacks)[0]
    if "attack" not in report.columns or "balanced_accuracy" not in report.columns:
        raise ValueError("report needs 'attack' and 'balanced_accuracy' columns (the DataFrame of run_attacks)")
    rows = report[report["attack"] == name]
    if len(rows) != 1:
        have = list(report["attack"])
        raise ValueError(f"P1 variant 'release' needs exactly one {name!r} row; the report has {have}")
    return _metrics.p1_release(float(test_accuracy), float(rows["balanced_accuracy"].iloc[0]))
