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
  :class:`StrongAttackRun`;
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
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from ..train import Objective, TrainConfig, fit, predict_logits
from .base import AttackResult, register_attack
from .lira import lira_attack
from .reference import (
    ReferenceModels,
    _check_attacker,
    attack_pool,
    context_references,
    derive_seed,
    train_reference_models,
)
from .rmia import rmia_attack

__all__ = [
    "StrongAttackRun",
    "findings_strong_attacks",
    "format_strong_attack_table",
    "lira_context_attack",
    "rmia_context_attack",
    "run_strong_attacks",
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


@dataclass
class StrongAttackRun:
    """One (data set, defense, seed) setting of the chapter: the target, its attacker's models, the attacks.

    Attributes:
        results: ``{attack name: AttackResult}`` (LiRA online/offline, RMIA).
        refs: the attacker's reference models.
        history: the target's training history (DP-SGD rows hold ``epsilon``).
        test_acc: the target's accuracy on its non-members (test split).
        train_acc: the target's accuracy on its members (training set).
        epsilon: DP-SGD's spent epsilon at its delta (NaN for other defenses).
        seconds: wall time of the setting (target + references + attacks).
        info: defense description, sizes, seeds.
    """

    results: dict
    refs: ReferenceModels
    history: list
    test_acc: float
    train_acc: float
    epsilon: float
    seconds: float
    info: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dict per attack: the attack's :meth:`AttackResult.summary` plus the setting's numbers."""
        out = []
        for name, res in self.results.items():
            out.append(
                {
                    "defense": self.info.get("label", self.info.get("defense", {}).get("defense", "?")),
                    "attack": name,
                    "seed": self.info.get("seed"),
                    **res.summary(),
                    "test_acc": self.test_acc,
                    "train_acc": self.train_acc,
                    "epsilon": self.epsilon,
                    "k": self.refs.k,
                }
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


_FINDING_COLUMNS = ("dataset", "defense", "attack", "seed", "test_acc", "epsilon", "auc", "min_fpr",
                    "tpr@1%", "tpr@1%_low", "tpr@1%_high", "tpr@0.1%")  # fmt: skip


def strongest_attacks(results: Any, by: str = "tpr@1%") -> Any:
    """Per (dataset, defense, seed), the row of the attack with the highest ``by`` (ties: first row).

    ``results`` is a frame with one row per (dataset, defense, attack, seed), as
    the chapter builds it from :meth:`StrongAttackRun.rows` and
    :func:`ccl_lib.stats.interval_columns`; the order of first appearance is kept.
    """
    import pandas as pd

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    need = {"dataset", "defense", "attack", "seed", by}
    missing = sorted(need - set(results.columns))
    if missing:
        raise ValueError(f"results lacks columns {missing}")
    order = results.reset_index(drop=True)
    idx = order.groupby(["dataset", "defense", "seed"], sort=False)[by].idxmax()
    return order.loc[idx.values].reset_index(drop=True)


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f}%"


def _relation(r: Any, ref: Any) -> str:
    lo, hi, rlo, rhi = r["tpr@1%_low"], r["tpr@1%_high"], ref["tpr@1%_low"], ref["tpr@1%_high"]
    if hi < rlo:
        return "lower than the undefended model's, with non-overlapping intervals"
    if lo > rhi:
        return "higher than the undefended model's, with non-overlapping intervals"
    return "its interval overlaps the undefended model's"


def findings_strong_attacks(
    results: Any,
    *,
    reference: str = "vanilla",
    ccl: Sequence[str] = ("CCEL", "CCQL"),
    dp: str = "DP-SGD",
    seed: Optional[int] = None,
    k: Optional[int] = None,
) -> str:
    """The chapter's "What we saw", written from the numbers of one seed (Markdown bullets).

    Every claim is worded by what ``results`` shows: for each data set, the
    strongest attack on the ``reference`` (undefended) model at 1% and 0.1%
    FPR; for each CCL variant, whether its TPR at 1% FPR is below, above or
    within the bootstrap interval of the reference; DP-SGD's epsilon, AUC rank
    and accuracy cost; online vs offline LiRA; and the FPR resolution.

    Args:
        results: the chapter's table (:func:`strong_attack_table`, one row per data set,
            defense, attack and seed, with bootstrap ``*_low``/``*_high`` columns).
        reference: the ``defense`` label of the undefended model.
        ccl: the ``defense`` labels of the CCL variants compared with it.
        dp: the ``defense`` label of DP-SGD (its bullet is skipped when absent).
        seed: the seed whose rows are described (default: the first row's).
        k: number of reference models, quoted in the text (default: not quoted).
    """
    import pandas as pd

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing = sorted(set(_FINDING_COLUMNS) - set(results.columns))
    if missing:
        raise ValueError(f"results lacks columns {missing} (build it as the chapter does)")
    if len(results) == 0:
        raise ValueError("results is empty")
    seed = results["seed"].iloc[0] if seed is None else seed
    res = results[results["seed"] == seed]
    if len(res) == 0:
        raise ValueError(f"no rows for seed {seed}")
    best = strongest_attacks(res)
    lines: list[str] = []
    ccl_overlap: list[str] = []
    ccl_lower: list[str] = []
    ccl_higher: list[str] = []
    for ds in dict.fromkeys(res["dataset"]):
        b = best[best["dataset"] == ds].set_index("defense")
        if reference not in b.index:
            continue
        ref = b.loc[reference]
        lines.append(
            f"- **{ds}**: against the undefended model, {ref['attack'].replace('_', ' ')} finds "
            f"{_pct(ref['tpr@1%'])} [{_pct(ref['tpr@1%_low'])}, {_pct(ref['tpr@1%_high'])}] of the members "
            f"at 1% FPR and {_pct(ref['tpr@0.1%'])} at 0.1% FPR (AUC {ref['auc']:.2f}, test accuracy "
            f"{ref['test_acc']:.3f})."
        )
        for label in ccl:
            if label not in b.index:
                continue
            r = b.loc[label]
            rel = _relation(r, ref)
            (ccl_lower if rel.startswith("lower") else ccl_higher if rel.startswith("higher") else ccl_overlap).append(
                f"{label} on {ds}"
            )
            lines.append(
                f"  - {label}: {_pct(r['tpr@1%'])} [{_pct(r['tpr@1%_low'])}, {_pct(r['tpr@1%_high'])}] at 1% FPR "
                f"({r['attack'].replace('_', ' ')}), {rel}; test accuracy {r['test_acc']:.3f} "
                f"({100 * (r['test_acc'] - ref['test_acc']):+.1f} points)."
            )
        if dp in b.index:
            r = b.loc[dp]
            aucs = b["auc"]
            rank = "the lowest AUC of all defenses" if r["auc"] <= aucs.min() else "not the lowest AUC"
            eps = f"epsilon {r['epsilon']:.1f}" if np.isfinite(r["epsilon"]) else "epsilon n/a"
            lines.append(
                f"  - {dp} ({eps}): {_pct(r['tpr@1%'])} at 1% FPR, {rank} ({r['auc']:.2f}); test accuracy "
                f"{r['test_acc']:.3f} ({100 * (r['test_acc'] - ref['test_acc']):+.1f} points)."
            )
    if ccl_overlap and not ccl_lower:
        lines.append(
            "- CCL: every CCL target's TPR at 1% FPR has a bootstrap interval that overlaps the undefended "
            "model's -- no measurable protection against these per-example attacks in this run."
        )
    elif ccl_lower:
        lines.append(
            f"- CCL lowers the strongest attack's TPR at 1% FPR beyond the intervals for {', '.join(ccl_lower)}"
            + (f"; not for {', '.join(ccl_overlap + ccl_higher)}." if ccl_overlap or ccl_higher else ".")
        )
    elif ccl_higher:
        lines.append(
            f"- CCL *raises* the strongest attack's TPR at 1% FPR beyond the intervals for {', '.join(ccl_higher)}."
        )
    if {"lira_online", "lira_offline"} <= set(res["attack"]):
        piv = res.pivot_table(index=["dataset", "defense"], columns="attack", values="auc", sort=False)
        weaker = int((piv["lira_online"] < piv["lira_offline"]).sum())
        kk = f"K = {k} reference models" if k is not None else "these reference models"
        lines.append(
            f"- With {kk}, online LiRA has a lower AUC than offline LiRA for {weaker} of {len(piv)} targets "
            "(online LiRA needs IN models for every example; it overtakes offline LiRA with many models)."
        )
    coarse = res.groupby("dataset", sort=False)["min_fpr"].max()
    coarse = coarse[coarse > 0.001]
    if len(coarse):
        lines.append(
            "- The smallest measurable FPR (one false positive) is "
            + ", ".join(f"{_pct(v)} on {d}" for d, v in coarse.items())
            + ": there, TPR at 0.1% FPR is the TPR at zero false positives; read the 1% column."
        )
    return "\n".join(lines)


def strong_attack_table(
    runs: Mapping[tuple, StrongAttackRun],
    metrics: Sequence[str] = ("tpr@0.1%", "tpr@1%", "auc", "advantage", "advantage_oracle"),
    n_boot: int = 1000,
    level: float = 0.95,
) -> Any:
    """One row per (data set, defense, seed, attack) with bootstrap intervals (Carlini et al., 2022).

    Args:
        runs: ``{(dataset, defense label, seed): StrongAttackRun}``, as chapter 10 builds it.
        metrics: metric names of :func:`ccl_lib.stats.interval_columns`; each
            gets ``m``, ``m_low`` and ``m_high`` columns (stratified bootstrap over
            members and non-members, seeded by the run's seed).  ``advantage``
            is that of the attack's decisions (threshold learned on the
            reference models), NaN for a result without decisions;
            ``advantage_oracle`` the threshold chosen on the target.
        n_boot, level: bootstrap replicates and interval coverage.

    Returns:
        a ``pandas.DataFrame`` with ``dataset, defense, attack, seed, k, test_acc,
        train_acc, epsilon, min_fpr`` (``1 / n_out``, the smallest measurable FPR)
        and the metric columns.
    """
    import pandas as pd

    from ..stats import interval_columns, min_resolvable_fpr

    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict {(dataset, defense, seed): StrongAttackRun}")
    rows = []
    for key, run in runs.items():
        if not (isinstance(key, tuple) and len(key) == 3) or not isinstance(run, StrongAttackRun):
            raise TypeError(f"each entry must be (dataset, defense, seed) -> StrongAttackRun, got {key!r}")
        ds_name, label, seed = key
        for attack, res in run.results.items():
            has_dec = res.decision_in is not None
            ms = [m for m in metrics if m != "advantage" or has_dec]
            ci = interval_columns(res.scores_in, res.scores_out, ms, n_boot=n_boot, level=level, seed=seed,
                                  decisions=(res.decision_in, res.decision_out) if has_dec else None)  # fmt: skip
            if "advantage" in metrics and not has_dec:
                ci.update({"advantage": math.nan, "advantage_low": math.nan, "advantage_high": math.nan})
            rows.append(
                {
                    "dataset": ds_name,
                    "defense": label,
                    "attack": attack,
                    "seed": seed,
                    "k": run.refs.k,
                    "test_acc": run.test_acc,
                    "train_acc": run.train_acc,
                    "epsilon": run.epsilon,
                    "min_fpr": min_resolvable_fpr(res.n_out),
                    **ci,
                }
            )
    return pd.DataFrame(rows)


def format_strong_attack_table(results: Any, seed: int) -> Any:
    """:func:`strong_attack_table` of one seed for reading: "estimate [low, high]" cells, TPRs in percent.

    Args:
        results: the table of :func:`strong_attack_table`.
        seed: the seed whose rows are shown (must occur in ``results``).
    """
    import pandas as pd

    from ..stats import format_interval

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    show = results[results["seed"] == seed].copy()
    if show.empty:
        raise ValueError(f"no rows for seed {seed}; seeds present: {sorted(results['seed'].unique())}")
    metrics = [
        m for m in ("tpr@0.1%", "tpr@1%", "auc", "advantage", "advantage_oracle") if m in show and f"{m}_low" in show
    ]
    for m in metrics:
        pct = m.startswith("tpr")
        show[m] = [
            format_interval(e, lo, hi, percent=pct, digits=1 if pct else 2)
            for e, lo, hi in zip(show[m], show[f"{m}_low"], show[f"{m}_high"])
        ]
    show["epsilon"] = show["epsilon"].map(lambda e: f"{e:.1f}" if np.isfinite(e) else "-")
    show["min_fpr"] = show["min_fpr"].map(lambda f: f"{100 * f:.2g}%")
    show["test_acc"] = show["test_acc"].round(3)
    cols = ["dataset", "defense", "test_acc", "epsilon", "attack", "min_fpr", *metrics]
    return show[cols].set_index(["dataset", "defense", "attack"])


# --------------------------------------------------------------------------- suite attacks

_REF_OPTIONS = ("k", "defense", "config", "model_fn", "pkeep", "attacker", "strategy", "equal_sizes")


def _refs_for(ctx: Any, options: dict) -> tuple:
    ref_opts = {o: options.pop(o) for o in list(options) if o in _REF_OPTIONS}
    return context_references(ctx, **ref_opts)


def lira_context_attack(ctx: Any, *, online: bool = True, fixed_variance: bool = True, min_std: float = 1e-4,
                        n_pseudo: int = 4, **ref_options: Any) -> AttackResult:  # fmt: skip
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
    """
    bad = sorted(set(ref_options) - set(_REF_OPTIONS))
    if bad:
        raise TypeError(f"unknown LiRA option(s) {bad}; reference options are {list(_REF_OPTIONS)}")
    refs, t_logits, cand, is_member, _ = _refs_for(ctx, dict(ref_options))
    return lira_attack(
        refs, t_logits, cand, is_member, online=online, fixed_variance=fixed_variance, min_std=min_std,
        name="lira" if online else "lira_offline", n_pseudo=n_pseudo,
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
