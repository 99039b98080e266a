"""Tables and findings of the strong attacks (the book's chapter 10): per-setting rows with bootstrap intervals,
the strongest attack per target, and the "What we saw" text.

* :class:`StrongAttackRun` -- one target with its attacker's reference models and attack results;
* :func:`strong_attack_table` -- one row per (data set, defense, seed, attack) with bootstrap intervals;
* :func:`format_strong_attack_table` -- one seed of it for reading;
* :func:`strongest_attacks` -- per target, the attack with the highest TPR at 1 % FPR;
* :func:`findings_strong_attacks` -- the chapter's findings as Markdown.

Every name is also importable from :mod:`ccl_lib.attacks.strong`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .reference import ReferenceModels

__all__ = [
    "StrongAttackRun",
    "findings_strong_attacks",
    "format_strong_attack_table",
    "strong_attack_table",
    "strongest_attacks",
]


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
    runs: Mapping[tuple, Any],
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
