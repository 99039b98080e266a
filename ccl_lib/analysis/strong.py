"""Chapter 10's sweep and findings: LiRA and RMIA against each defense (Carlini et al., 2022; Zarifzadeh et al., 2024).

* :func:`strong_defense_specs` -- the defenses the chapter can run, as ``{label: (name, hparams)}``;
* :func:`strong_entries` -- its targets as ``(setting, label, RunSpec, k)`` for
  :func:`ccl_lib.attacks.strong.run_strong_specs` (recipe: :meth:`RunSpec.train_config`);
* :func:`targets_frame`, :func:`interval_cells`, :func:`seed_spread` -- its tables;
* :func:`strong_findings` / :func:`exercise_findings` -- the values its prose glues, by name
  (:func:`ccl_lib.analysis.findings.glue_findings` with prefix ``ch10``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

__all__ = [
    "ATTACK_TITLES",
    "MEASURES",
    "exercise_findings",
    "interval_cells",
    "seed_spread",
    "strong_defense_specs",
    "strong_entries",
    "strong_findings",
    "targets_frame",
]

#: Display names of the strong attacks.
ATTACK_TITLES = {"lira_online": "LiRA online", "lira_offline": "LiRA offline", "rmia": "RMIA"}
_LABELS = ("vanilla", "CCEL", "CCQL", "RelaxLoss", "DP-SGD")


def strong_defense_specs(
    *, ccl_alpha: float, relaxloss_alpha: float, dp_noise_multiplier: float, dp_max_grad_norm: float, dp_delta: float
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{label: (defense name, hparams)}`` of the chapter's defenses (CCL's scale: App. E.1's for the data set).

    Args:
        ccl_alpha: CCEL / CCQL's alpha (Eq. 4).
        relaxloss_alpha: RelaxLoss's target loss level.
        dp_noise_multiplier: DP-SGD's noise sigma.
        dp_max_grad_norm: DP-SGD's clipping norm C.
        dp_delta: the delta of DP-SGD's reported epsilon.
    """
    return {
        "vanilla": ("vanilla", {}),
        "CCEL": ("ccel", {"alpha": ccl_alpha}),
        "CCQL": ("ccql", {"alpha": ccl_alpha}),
        "RelaxLoss": ("relaxloss", {"alpha": relaxloss_alpha}),
        "DP-SGD": (
            "dp_sgd",
            {"noise_multiplier": dp_noise_multiplier, "max_grad_norm": dp_max_grad_norm, "delta": dp_delta},
        ),
    }


def strong_entries(
    defense_specs: Mapping[str, tuple[str, Mapping[str, Any]]],
    seeds: Sequence[int],
    *,
    tabular: str = "",
    tabular_recipe: Optional[Mapping[str, Any]] = None,
    k: int = 4,
    tabular_defenses: Sequence[str] = (),
    image_experiment: str = "",
    image_set: Optional[Mapping[str, Any]] = None,
    image_k: int = 2,
    image_defenses: Sequence[str] = (),
) -> list[tuple[str, str, Any, int]]:
    """Every target of chapter 10 as ``(setting, defense label, RunSpec, k)``, per setting, seed and defense.

    The tabular targets use the MLP (``model="auto"``) with ``tabular_recipe`` (``size``, ``epochs``, ``lr``,
    ``batch_size``; the rest the paper's, Sec. 5.1); the image targets the recipe of the named experiment's
    vanilla run (``image_set`` overrides its settings).

    Args:
        defense_specs: :func:`strong_defense_specs`' output.
        seeds: one target (split, models, reference models) per seed.
        tabular: the tabular data set ("" skips it).
        tabular_recipe: its :class:`~ccl_lib.experiments.RunSpec` fields.
        k: reference models per tabular target.
        tabular_defenses: labels of ``defense_specs`` on the tabular data.
        image_experiment: a named experiment ("" skips the image part).
        image_set: overrides of its settings.
        image_k: reference models per image target.
        image_defenses: labels of ``defense_specs`` on the image data.
    """
    from ..experiments import RunSpec, load_experiment

    unknown = [d for d in [*tabular_defenses, *image_defenses] if d not in defense_specs]
    if unknown:
        raise ValueError(f"unknown defense labels {unknown}; choose from {list(defense_specs)}")
    settings: list[tuple[str, Any, Sequence[str], int]] = []
    if tabular:
        settings.append((tabular, RunSpec(dataset=tabular, model="auto", **dict(tabular_recipe or {})),
                         tabular_defenses, k))  # fmt: skip
    if image_experiment:
        specs = load_experiment(image_experiment, dict(image_set or {})).specs()
        settings.append((image_experiment, next(s for s in specs if s.defense == "vanilla"), image_defenses, image_k))
    out = []
    for name, ref, labels, kk in settings:
        for seed in seeds:
            for label in labels:
                defense, hp = defense_specs[label]
                out.append((name, label, ref.replace(defense=defense, hparams=dict(hp), seed=int(seed)), int(kk)))
    return out


def targets_frame(runs: Mapping[tuple, Any]) -> Any:
    """One row per target: train and test accuracy, DP-SGD's epsilon, K and the wall seconds.

    Args:
        runs: ``{(setting, label, seed): StrongAttackRun}`` of :func:`ccl_lib.attacks.strong.run_strong_specs`.
    """
    import pandas as pd

    rows = [{"data": n, "defense": lab, "seed": s, "train_acc": r.train_acc, "test_acc": r.test_acc,
             "epsilon": r.epsilon, "K": r.refs.k, "seconds": r.seconds}
            for (n, lab, s), r in runs.items()]  # fmt: skip
    return pd.DataFrame(rows).set_index(["data", "defense", "seed"])


#: The measures of :func:`interval_cells`, in the order shown.
MEASURES = ("tpr@0.1%", "tpr@1%", "auc", "advantage", "advantage_oracle")


def interval_cells(frame: Any, *, by_seed: bool = True, measures: Sequence[str] = MEASURES) -> Any:
    """The strong-attack table for the text column: one ``estimate [low, high]`` cell per measure (TPRs,
    advantages and test accuracy in percent, with the unit in the header), short headers, and the
    settings every row shares (e.g. one data set, no privacy budget) in the caption
    (:func:`ccl_lib.formatting.narrow_table`).

    Args:
        frame: rows of :func:`ccl_lib.attacks.strong.strong_attack_table` (or of its strongest attacks).
        by_seed: keep the seed in the row labels (``False`` for one row per data set, defense and attack).
        measures: the measures shown (of :data:`MEASURES`; three fit the text column).

    Returns:
        a ``pandas`` ``Styler``; ``.data`` is the shown frame.
    """
    from ..formatting import narrow_table

    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise ValueError(f"measures {bad or list(measures)} unknown or empty; choose from {list(MEASURES)}")
    index = ["dataset", "defense", "attack"] + (["seed"] if by_seed else [])
    metrics = [m for m in measures if m in frame and f"{m}_low" in frame]
    plain = [c for c in ("test_acc", "epsilon", "min_fpr") if c in frame and frame[c].notna().any()]
    show = frame[index + plain + [c for m in metrics for c in (m, f"{m}_low", f"{m}_high")]].set_index(index)
    caption = "min FPR: 1/n_out" + (
        "; oracle: the threshold chosen on the target" if "advantage_oracle" in metrics else ""
    )
    rename = {"test_acc": "test acc.", "min_fpr": "min FPR", "tpr@0.1%": "TPR@0.1%", "tpr@1%": "TPR@1%", "auc": "AUC",
              "advantage": "adv.", "advantage_oracle": "oracle"}  # fmt: skip
    percent = [c for c in ("test_acc", "min_fpr", "tpr@0.1%", "tpr@1%", "advantage", "advantage_oracle") if c in show]
    return narrow_table(show, caption=caption, rename={k: v for k, v in rename.items() if k in show},
                        percent=percent, intervals=metrics)  # fmt: skip


def seed_spread(results: Any) -> Any:
    """Per (data set, defense): the mean over seeds of the strongest attack's TPR at 1 % FPR, 95 % t-interval.

    Args:
        results: :func:`ccl_lib.attacks.strong.strong_attack_table`'s output with two or more seeds.
    """
    import pandas as pd

    from ..attacks.strong import strongest_attacks
    from ..verdicts import seed_interval

    rows = []
    for (d, lab), g in strongest_attacks(results, by="tpr@1%").groupby(["dataset", "defense"], sort=False):
        iv = seed_interval(g["tpr@1%"].to_numpy(float))
        rows.append({"dataset": d, "defense": lab, "seeds": iv.n, "TPR at 1 % FPR": iv.format(percent=True, digits=1)})
    return pd.DataFrame(rows).set_index(["dataset", "defense"])


def _overlap(r: Any, ref: Any) -> str:
    if r is None or ref is None:
        return "not run"
    if r["tpr@1%_high"] < ref["tpr@1%_low"]:
        return "below"
    if r["tpr@1%_low"] > ref["tpr@1%_high"]:
        return "above"
    return "overlapping"


def _tpr_ci(r: Any, m: str = "tpr@1%") -> str:
    from ..stats import format_interval

    return format_interval(r[m], r[f"{m}_low"], r[f"{m}_high"], percent=True, digits=1)


def _row_findings(prefix: str, r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {f"{prefix}_attack": "n/a" if r is None else ATTACK_TITLES.get(r["attack"], r["attack"])}
    for m, tag in (("tpr@1%", "tpr1"), ("tpr@0.1%", "tpr01")):
        out[f"{prefix}_{tag}"] = math.nan if r is None else float(r[m])
        out[f"{prefix}_{tag}_ci"] = "n/a" if r is None else _tpr_ci(r, m)
    out[f"{prefix}_auc"] = math.nan if r is None else float(r["auc"])
    out[f"{prefix}_acc"] = math.nan if r is None else float(r["test_acc"])
    return out


def strong_findings(
    runs: Mapping[tuple, Any], results: Any, best: Any, *, settings: Mapping[str, str], first_seed: int
) -> dict[str, Any]:
    """The values chapter 10's "What we saw" glues (names without the ``ch10_`` prefix), from ``first_seed``.

    Per setting tag (``loc``, ``img``) and defense: the strongest attack, its TPR at 1 % and 0.1 % FPR with
    their intervals, AUC and test accuracy, how its TPR interval lies against the undefended model's
    (``above``, ``below``, ``overlapping``, ``not run``), the train accuracy, the smallest measurable FPR
    and the number of non-members; DP-SGD's epsilon; in how many targets online LiRA has the lower AUC.

    Args:
        runs: ``{(setting, label, seed): StrongAttackRun}``.
        results: :func:`ccl_lib.attacks.strong.strong_attack_table`'s output.
        best: its strongest attacks of ``first_seed`` (:func:`ccl_lib.attacks.strong.strongest_attacks`).
        settings: ``{tag: setting name}`` (``{"loc": "location", "img": "cifar10-cpu"}``; "" when not run).
        first_seed: the seed the prose describes.
    """

    def strongest_of(name: str, label: str) -> Any:
        r = best[(best["dataset"] == name) & (best["defense"] == label)]
        return None if r.empty else r.iloc[0]

    out: dict[str, Any] = {}
    for tag, name in settings.items():
        if not name:
            continue
        ref = strongest_of(name, "vanilla")
        out.update(_row_findings(f"{tag}_van", ref))
        for lab in _LABELS[1:]:
            r, short = strongest_of(name, lab), lab.lower().replace("-", "")
            out.update(_row_findings(f"{tag}_{short}", r))
            out[f"{tag}_{short}_vs"] = _overlap(r, ref)
        mf = results.loc[results["dataset"] == name, "min_fpr"].max()
        out[f"{tag}_min_fpr"], out[f"{tag}_n_out"] = float(mf), int(round(1 / mf))
    for tag, name in settings.items():
        for lab in _LABELS:
            r = runs.get((name, lab, first_seed))
            out[f"{tag}_{lab.lower().replace('-', '')}_train"] = math.nan if r is None else float(r.train_acc)
    dp = [r for (n, lab, s), r in runs.items() if lab == "DP-SGD" and s == first_seed]
    out["dp_eps"] = float(dp[0].epsilon) if dp else math.nan
    if {"lira_online", "lira_offline"} <= set(results["attack"]):
        piv = results[results["seed"] == first_seed].pivot_table(index=["dataset", "defense"], columns="attack",
                                                                 values="auc")  # fmt: skip
        out["online_weaker"] = int((piv["lira_online"] < piv["lira_offline"]).sum())
        out["n_targets"] = int(len(piv))
    return out


def exercise_findings(own: Any, alt: Any, *, attacker: str, k: int) -> dict[str, Any]:
    """Exercise 2's values: the strongest attack on the CCQL target with matched and with mismatched reference
    models (``ex2_matched``, ``ex2_mismatched``, ``ex2_relation``: how the mismatched interval lies against the
    matched one), and ``ex2_k``.

    Args:
        own: the strongest-attack row of the chapter's own attacker (``None`` when not run).
        alt: the strongest-attack row of the other attacker (``None`` when not run).
        attacker: the chapter's attacker, ``"matched"`` or ``"mismatched"``.
        k: reference models per target.
    """
    other = "mismatched" if attacker == "matched" else "matched"
    by = {attacker: own, other: alt}
    out: dict[str, Any] = {}
    for which in ("matched", "mismatched"):
        r = by[which]
        out[f"ex2_{which}"] = "n/a" if r is None else f"{_tpr_ci(r)} ({ATTACK_TITLES.get(r['attack'], r['attack'])})"
    out["ex2_k"] = int(k)
    m, mm = by["matched"], by["mismatched"]
    out["ex2_relation"] = "not computed" if m is None or mm is None else _overlap(mm, m)
    return out
