"""Running the strong per-example attacks (LiRA, RMIA) and reporting them (the book's chapter 10).

:mod:`ccl_lib.attacks.reference` trains the attacker's reference models; this
module uses them:

* :func:`strong_attacks` -- online/offline LiRA (:mod:`ccl_lib.attacks.lira`)
  and offline RMIA (:mod:`ccl_lib.attacks.rmia`) on one target's pool logits,
  as :class:`~ccl_lib.attacks.base.AttackResult` rows (AUC, TPR at fixed FPR;
  ``advantage`` from a threshold learned on pseudo-target reference models,
  never on the target's labels; ``advantage_oracle`` beside it);
* :func:`run_strong_attacks` -- train a target and its reference models (with
  the target's defense by default: ``attacker="matched"``) and run them:
  :class:`StrongAttackRun`; :func:`run_strong_specs` -- that for every target of a
  sweep built from :class:`~ccl_lib.experiments.RunSpec` (recipe: ``RunSpec.train_config()``);
* :func:`strong_attack_table`, :func:`format_strong_attack_table`,
  :func:`strongest_attacks`, :func:`findings_strong_attacks` -- the tables and
  the "What we saw" text of the chapter;
* the suite attacks ``lira``, ``lira_offline`` and ``rmia`` of
  :func:`ccl_lib.attacks.run_attacks` (reference models from
  :func:`~ccl_lib.attacks.reference.context_references`).

Imports go one way: ``base <- lira, rmia, reference <- strong``.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ..train import Objective, TrainConfig, fit, predict_logits
from .base import AttackResult, register_attack
from .lira import _check_mirror, lira_attack
from .reference import (
    ReferenceModels,
    _check_attacker,
    attack_pool,
    context_mirror_logits,
    context_references,
    derive_seed,
    train_reference_models,
)
from .rmia import rmia_attack
from .strong_report import (
    StrongAttackRun,
    findings_strong_attacks,
    format_strong_attack_table,
    strong_attack_table,
    strongest_attacks,
)

__all__ = [
    "findings_strong_attacks",
    "format_strong_attack_table",
    "lira_context_attack",
    "rmia_context_attack",
    "rmia_a_for",
    "run_strong_attacks",
    "run_strong_specs",
    "strong_attack_table",
    "strong_attacks",
    "strongest_attacks",
]

Tensor = torch.Tensor


def strong_attacks(
    refs: ReferenceModels,
    target_logits: Union[np.ndarray, Tensor],
    candidates: np.ndarray,
    is_member: np.ndarray,
    population: np.ndarray,
    *,
    attacks: Sequence[str] = ("lira_online", "lira_offline", "rmia"),
    fixed_variance: bool = True,
    rmia_a: Union[float, str] = "tune",
    rmia_gamma: float = 1.0,
) -> dict:
    """LiRA (online/offline) and RMIA (offline) on one target model, as AttackResult rows.

    Args:
        refs: the attacker's reference models (logits on the whole pool).
        target_logits: ``(n_pool, C)`` the target's logits on every pool example.
        candidates: pool positions of the examples whose membership is tested.
        is_member: ground truth for ``candidates`` (only to split the scores).
        population: pool positions of RMIA's population samples z (not candidates).
        attacks: any of ``"lira_online"``, ``"lira_offline"``, ``"rmia"``.
        fixed_variance: LiRA's global-variance variant (recommended for K < 64).
        rmia_a: RMIA's offline coefficient ``a``, or ``"tune"`` (:func:`~ccl_lib.attacks.rmia.tune_offline_a`).
        rmia_gamma: RMIA's pairwise threshold gamma.

    Returns:
        ``{name: AttackResult}``.
    """
    known = ("lira_online", "lira_offline", "rmia")
    bad = [a for a in attacks if a not in known]
    if bad:
        raise ValueError(f"unknown attack(s) {bad}; choose from {known}")
    out = {}
    for name in attacks:
        if name.startswith("lira"):
            out[name] = lira_attack(
                refs, target_logits, candidates, is_member,
                online=(name == "lira_online"), fixed_variance=fixed_variance, name=name,
            )  # fmt: skip
        else:
            out[name] = rmia_attack(
                refs, target_logits, candidates, is_member, population, a=rmia_a, gamma=rmia_gamma, name=name
            )
    return out


def run_strong_attacks(
    dataset: Any,
    defense: Objective,
    *,
    size: int,
    k: int = 8,
    config: TrainConfig = TrainConfig(),
    model_fn: Optional[Callable[[], nn.Module]] = None,
    seed: int = 0,
    attacks: Sequence[str] = ("lira_online", "lira_offline", "rmia"),
    fixed_variance: bool = True,
    rmia_a: Union[float, str] = "tune",
    label: Optional[str] = None,
    progress: Optional[bool] = None,
    attacker: str = "matched",
    pkeep: float = 0.5,
) -> StrongAttackRun:
    """Train a target with ``defense``, train ``k`` reference models the same way, run LiRA and RMIA.

    The split is :func:`~ccl_lib.attacks.reference.attack_pool` (``size``
    members, ``size`` non-member candidates, ``2 * size`` population examples,
    stratified, seeded by ``seed``); each reference model trains on a random
    ``pkeep = 0.5`` of the ``2 * size`` candidates (Carlini et al.'s design:
    every candidate is IN for ``k/2`` models), so target and references see
    equally many examples; the population (RMIA's z) trains no model.

    Args:
        dataset: a :class:`ccl_lib.data.Dataset` (anything with ``.y``,
            ``.features(indices)``, ``.input_shape``, ``.num_classes``).
        defense: the training algorithm of the target *and* the references
            (a :class:`ccl_lib.defenses.Defense`, e.g. ``get_defense("ccql", alpha=0.5)``).
        size: the target's training-set size.
        k: number of reference models (``round(pkeep * k)`` IN models per example; ``k >= 2``).
        config: the training recipe (epochs, lr, ...); its seed is derived from ``seed``.
        model_fn: model factory; default ``build_model("auto", ...)`` with the defense's ``model_kwargs``.
        seed: split, target and reference seeds all derive from it.
        attacks, fixed_variance, rmia_a: see :func:`strong_attacks`.
        label: the ``defense`` column of :meth:`StrongAttackRun.rows` (default: the defense's name).
        progress: tqdm bars (default: on unless ``CCL_PROGRESS=0``).
        attacker: ``"matched"`` (default: references trained with ``defense``
            and ``config``, the attacker knows the training algorithm) or
            ``"mismatched"`` (references trained with plain cross-entropy and
            ``config``: an attacker who does not know the defense).
        pkeep: fraction of the candidates each reference model trains on.
    """
    import time

    from ..models import build_model
    from ..utils import resolve_device

    if not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2 (the target's training-set size), got {size!r}")
    if defense is None or not isinstance(defense, Objective):
        raise TypeError(
            "defense must be a ccl_lib Defense (e.g. get_defense('vanilla')); the attacker trains with it too"
        )
    t0 = time.perf_counter()
    ap = attack_pool(np.asarray(dataset.y), size=int(size), seed=seed)
    x = dataset.features(ap.pool)
    y = torch.as_tensor(np.asarray(dataset.y)[ap.pool], dtype=torch.long)
    if model_fn is None:
        kwargs = dict(getattr(defense, "model_kwargs", {}) or {})
        shape, n_cls = tuple(dataset.input_shape), int(dataset.num_classes)

        def model_fn() -> nn.Module:
            return build_model("auto", shape, n_cls, **kwargs)

    cfg = dataclasses.replace(config, seed=derive_seed(seed, 7))
    torch.manual_seed(cfg.seed)
    target = model_fn()
    n_c = 2 * int(size)
    tgt_defense = copy.deepcopy(defense)
    train = getattr(tgt_defense, "train", None)
    kw = dict(config=cfg, x_test=x[size:n_c], y_test=y[size:n_c], progress=False, desc="target")
    if callable(train):
        res = train(target, x[:size], y[:size], **kw)
    else:
        res = fit(target, x[:size], y[:size], objective=tgt_defense, **kw)
    _check_attacker(attacker)
    rseed = derive_seed(seed, 8)
    refs = train_reference_models(
        x, y, model_fn=model_fn, k=k, defense=defense if attacker == "matched" else None, config=config,
        membership=ap.membership(k, pkeep, rseed), seed=rseed, progress=progress,
        desc=f"reference models ({label or defense.name})", attacker=attacker,
    )  # fmt: skip
    device = resolve_device(config.device)
    t_logits = predict_logits(target, x, batch_size=config.eval_batch_size, device=device).numpy()
    results = strong_attacks(
        refs, t_logits, ap.candidates, ap.is_member, ap.population,
        attacks=attacks, fixed_variance=fixed_variance, rmia_a=rmia_a,
    )  # fmt: skip
    pred = t_logits.argmax(1) == y.numpy()
    last = res.history[-1] if res.history else {}
    info = {
        "label": label or getattr(defense, "name", "objective"),
        "defense": defense.describe(),
        "attacker": attacker,
        "size": int(size),
        "k": int(k),
        "seed": int(seed),
        "config": cfg.to_dict(),
    }
    return StrongAttackRun(
        results=results,
        refs=refs,
        history=res.history,
        test_acc=float(pred[size:n_c].mean()),
        train_acc=float(pred[:size].mean()),
        epsilon=float(last.get("epsilon", float("nan"))),
        seconds=time.perf_counter() - t0,
        info=info,
    )


def rmia_a_for(rmia_a: Union[float, str], k: int, fixed: float = 0.3) -> Union[float, str]:
    """RMIA's offline ``a`` for ``k`` reference models: ``rmia_a``, except ``"tune"`` with fewer than 4 models
    (nothing left to tune on: a pseudo-target's non-members would have no OUT model), where it is ``fixed``.

    Args:
        rmia_a: ``"tune"`` (:func:`ccl_lib.attacks.rmia.tune_offline_a`) or a value in [0, 1].
        k: the number of reference models.
        fixed: the value used when ``"tune"`` meets ``k < 4`` (Zarifzadeh et al.'s default 0.3).
    """
    return rmia_a if (rmia_a != "tune" or int(k) >= 4) else float(fixed)


def run_strong_specs(
    entries: Sequence[tuple[str, str, Any, int]],
    *,
    fixed_variance: bool = True,
    rmia_a: Union[float, str] = "tune",
    rmia_a_fixed: float = 0.3,
    attacker: str = "matched",
) -> dict[tuple[str, str, int], StrongAttackRun]:
    """Chapter 10's sweep: :func:`run_strong_attacks` for every ``(setting, label, spec, k)``.

    Each ``spec`` is a :class:`ccl_lib.experiments.RunSpec`: its data set, ``size`` (members per target),
    ``seed``, model (``resolved_model`` with the defense's ``model_kwargs``) and defense
    (:meth:`~ccl_lib.experiments.RunSpec.make_defense`); the recipe of the target and of its ``k`` reference
    models is :meth:`~ccl_lib.experiments.RunSpec.train_config` (the per-epoch train-loss pass off).  Data sets
    are loaded once.

    Args:
        entries: ``(setting name, defense label, RunSpec, k)`` per target.
        fixed_variance: LiRA's global variance (:func:`strong_attacks`).
        rmia_a: RMIA's ``a``, ``"tune"`` or a value (:func:`rmia_a_for` with ``k``).
        rmia_a_fixed: the ``a`` used when ``"tune"`` meets fewer than 4 reference models.
        attacker: ``"matched"`` or ``"mismatched"`` (:func:`run_strong_attacks`).

    Returns:
        ``{(setting, label, seed): StrongAttackRun}`` in the order of ``entries``.
    """
    from functools import partial

    from ..data import load_dataset
    from ..models import build_model

    data: dict[str, Any] = {}
    runs: dict[tuple[str, str, int], StrongAttackRun] = {}
    for setting, label, spec, k in entries:
        if spec.dataset not in data:
            data[spec.dataset] = load_dataset(spec.dataset)
        ds = data[spec.dataset]
        defense = spec.make_defense()
        model_fn = partial(build_model, spec.resolved_model, tuple(ds.input_shape), int(ds.num_classes),
                           **(getattr(defense, "model_kwargs", {}) or {}))  # fmt: skip
        config = dataclasses.replace(spec.train_config(derive_seed(spec.seed, 7)), track_train_loss=False)
        runs[(setting, label, int(spec.seed))] = run_strong_attacks(
            ds, defense, size=int(spec.size), k=int(k), config=config, model_fn=model_fn, seed=int(spec.seed),
            fixed_variance=fixed_variance, rmia_a=rmia_a_for(rmia_a, k, rmia_a_fixed), label=label,
            attacker=attacker, progress=False,
        )  # fmt: skip
    return runs


# --------------------------------------------------------------------------- suite attacks

_REF_OPTIONS = ("k", "defense", "config", "model_fn", "pkeep", "attacker", "strategy", "equal_sizes")


def _refs_for(ctx: Any, options: dict) -> tuple:
    ref_opts = {o: options.pop(o) for o in list(options) if o in _REF_OPTIONS}
    return context_references(ctx, **ref_opts)


def lira_context_attack(ctx: Any, *, online: bool = True, fixed_variance: bool = True, min_std: float = 1e-4,
                        n_pseudo: int = 4, mirror: bool = False, **ref_options: Any) -> AttackResult:  # fmt: skip
    """LiRA as a suite attack (``run_attacks(..., attacks=["lira"])``): trains ``k`` reference models first.

    Reference options are those of :func:`~ccl_lib.attacks.reference.context_references`
    (``defense``, ``config``, ``model_fn``, ``k``, ``pkeep``, ``attacker``; by
    default the target's defense and recipe given to ``run_attacks``); the
    reference models are shared with ``lira_offline`` and ``rmia`` run on the
    same context with the same options.

    Args:
        ctx: the suite's :class:`~ccl_lib.attacks.base.AttackContext`.
        online: the online attack (IN and OUT Gaussians) or, if ``False``, the offline one.
        fixed_variance: one global std per group (Carlini et al., Sec. VI-B; default here,
            stable with few reference models); see :func:`~ccl_lib.attacks.lira.lira_scores`.
        min_std: floor on every standard deviation (> 0).
        n_pseudo: reference models used as pseudo-targets to learn the decision
            threshold without the target's labels (0: no decisions, ``advantage`` NaN).
        mirror: image data only: also query each image's horizontal mirror and average the
            per-query scores, as the LiRA authors' code does (``tensorflow/privacy``
            ``research/mi_lira_2021/inference.py`` ``get_loss``, ``reflect=True``); default
            ``False`` (one query).
    """
    bad = sorted(set(ref_options) - set(_REF_OPTIONS))
    if bad:
        raise TypeError(f"unknown LiRA option(s) {bad}; reference options are {list(_REF_OPTIONS)}")
    use_mirror = _check_mirror(ctx, "lira" if online else "lira_offline", mirror)
    refs, t_logits, cand, is_member, _ = _refs_for(ctx, dict(ref_options))
    return lira_attack(
        refs, t_logits, cand, is_member, online=online, fixed_variance=fixed_variance, min_std=min_std,
        name="lira" if online else "lira_offline", n_pseudo=n_pseudo,
        target_mirror_logits=context_mirror_logits(ctx) if use_mirror else None,
    )  # fmt: skip


@register_attack("lira")
def _lira_online_suite(ctx: Any, **options: Any) -> AttackResult:
    """Online LiRA (Carlini et al., 2022) with K reference models; see :func:`lira_context_attack`."""
    if "online" in options:
        raise ValueError("attack 'lira' is the online attack; use 'lira_offline' for the offline one")
    return lira_context_attack(ctx, online=True, **options)


@register_attack("lira_offline")
def _lira_offline_suite(ctx: Any, **options: Any) -> AttackResult:
    """Offline LiRA (Carlini et al., 2022, Sec. VI-C) with K reference models; see :func:`lira_context_attack`."""
    if "online" in options:
        raise ValueError("attack 'lira_offline' is the offline attack; use 'lira' for the online one")
    return lira_context_attack(ctx, online=False, **options)


@register_attack("rmia")
def rmia_context_attack(ctx: Any, *, a: Union[float, str] = "tune", gamma: float = 1.0, online: bool = False,
                        n_pseudo: int = 4, **ref_options: Any) -> AttackResult:  # fmt: skip
    """RMIA as a suite attack (``run_attacks(..., attacks=["rmia"])``), offline by default.

    Trains (or reuses, see :func:`ccl_lib.attacks.reference.context_references`)
    ``k`` reference models on the context's pool; the shadow split is the
    population z.

    Args:
        ctx: the suite's :class:`~ccl_lib.attacks.base.AttackContext`.
        a: offline coefficient in [0, 1], or ``"tune"`` (default:
            :func:`~ccl_lib.attacks.rmia.tune_offline_a` on the reference models).
        gamma: dominance threshold of RMIA's Eq. 4 (> 0).
        online: estimate ``Pr(x)`` from all reference models (IN and OUT).
        n_pseudo: reference models used as pseudo-targets to learn the decision
            threshold (0: no decisions, ``advantage`` NaN).
    """
    bad = sorted(set(ref_options) - set(_REF_OPTIONS))
    if bad:
        raise TypeError(f"unknown RMIA option(s) {bad}; reference options are {list(_REF_OPTIONS)}")
    refs, t_logits, cand, is_member, pop = _refs_for(ctx, dict(ref_options))
    return rmia_attack(refs, t_logits, cand, is_member, pop, a=a, gamma=gamma, online=online, name="rmia",
                       n_pseudo=n_pseudo)  # fmt: skip
