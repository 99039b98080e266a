"""Chapter 11's findings and scorecard rows: comparisons between arms that train, and Theorem 6.1's premise.

* :func:`comparisons` -- every paired comparison of the chapter (CCL x beta against CE at the same
  effective recipe, the recipe alone, the scale alone, the concave term at scale 1), each marked
  :data:`NOT_TESTABLE` with its reason when one of its arms did not train
  (:func:`~ccl_lib.confound.training.trains`);
* :func:`trained_premise` -- :func:`~ccl_lib.confound.compare.variance_premise` over the runs that
  trained only (at least 4, else excluded with the reason);
* :func:`privacy_source_findings` -- the values the chapter glues into its prose, by name;
* :func:`privacy_source_scorecard_rows` -- its scorecard rows (``excluded=`` where an arm did not train).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..verdicts import CE_GAP_MAX, NO_VERDICT, TRAIN_ACC_MIN
from .compare import compare_at_equal_accuracy, describe_comparison, format_points, variance_premise

__all__ = [
    "COMPARISONS",
    "NOT_TESTABLE",
    "comparison_frame",
    "comparisons",
    "excluded_reason",
    "premise_frame",
    "privacy_source_findings",
    "privacy_source_scorecard_rows",
    "trained_premise",
]

#: The verdict of a comparison one of whose arms did not train.
NOT_TESTABLE = "not testable at this scale"

#: The chapter's comparisons ``(a, b)``: the difference ``a - b`` paired by seed; the first is the decisive one.
COMPARISONS = (
    ("CCQL×β", "CE(lr·β, wd/β)"),
    ("CCEL×β", "CE(lr·β, wd/β)"),
    ("CE(lr·β, wd/β)", "CE"),
    ("CE×β", "CE"),
    ("CCQL×1", "CE"),
    ("CCQL×β", "CE"),
)


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def excluded_reason(table: Any, dataset: str, beta: float, arm_names: Sequence[str]) -> str:
    """Why a comparison of ``arm_names`` on ``dataset`` at ``beta`` rests on a model that did not train ("" if none).

    Args:
        table: :func:`~ccl_lib.confound.training.training_table`'s output.
        dataset: the data set.
        beta: the scale factor.
        arm_names: the arms compared (names of :data:`~ccl_lib.confound.arms.ARM_NAMES`).
    """
    sub = table[(table["dataset"] == dataset) & np.isclose(table["beta"], beta) & table["arm"].isin(arm_names)]
    if len(sub) < len(set(arm_names)):
        raise ValueError(f"arms {list(arm_names)} (beta {beta:g}) are not all in the training table of {dataset!r}")
    bad = sub[~sub["trains"]]
    if bad.empty:
        return ""
    parts = [f"{r['arm_label']} ends at {_pct(r['train_acc'])} train accuracy ({r['runs_trained']} of {r['n']} runs "
             f"trained)" for r in bad.to_dict("records")]  # fmt: skip
    ce = _pct(float(sub["ce_train_acc"].iloc[0]))
    return (f"{'; '.join(parts)}, against CE's {ce}: a model that did not train (it needs >= {_pct(TRAIN_ACC_MIN)} "
            f"or within {100 * CE_GAP_MAX:.0f} points of CE)")  # fmt: skip


def comparisons(
    arm_df: Any, table: Any, *, datasets: Sequence[str], betas: Sequence[float], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Every comparison of :data:`COMPARISONS` present in the sweep, per data set and beta.

    Each row: ``dataset`` (as ``names`` writes it), ``beta``, ``comparison``, ``advantage difference``,
    ``accuracy difference``, ``verdict`` (:data:`NOT_TESTABLE` when an arm did not train), ``excluded``
    (the reason, or ""), and ``result`` (the :func:`~ccl_lib.confound.compare.compare_at_equal_accuracy` dict).

    Args:
        arm_df: :func:`~ccl_lib.confound.arms.arm_frame`'s output.
        table: :func:`~ccl_lib.confound.training.training_table`'s output for the same runs.
        datasets: the data sets, in display order.
        betas: the scale factors.
        names: ``{dataset: display name}`` (e.g. ``{"cifar10-jpeg": "cifar10-cpu"}``); missing: the name itself.
    """
    rows = []
    for ds in datasets:
        for beta in betas:
            for a, b in COMPARISONS:
                try:
                    c = compare_at_equal_accuracy(arm_df, dataset=ds, beta=beta, ccl=a, ce=b)
                except ValueError:  # the arm is not in this design
                    continue
                why = excluded_reason(table, ds, beta, (a, b))
                rows.append({"dataset": names.get(ds, ds), "beta": beta, "comparison": f"{c['ccl']} - {c['ce']}",
                             "advantage difference": c["adv_diff"].format(digits=3),
                             "accuracy difference": format_points(c["acc_diff"]),
                             "verdict": NOT_TESTABLE if why else c["verdict"].word, "excluded": why,
                             "result": c, "arms": (a, b), "key": ds})  # fmt: skip
    return rows


def comparison_frame(rows: Sequence[Mapping[str, Any]]) -> Any:
    """:func:`comparisons`' rows as a table (without the result objects).

    Args:
        rows: :func:`comparisons`' output.
    """
    import pandas as pd

    cols = ["dataset", "beta", "comparison", "advantage difference", "accuracy difference", "verdict", "excluded"]
    return pd.DataFrame([{c: r[c] for c in cols} for r in rows], columns=cols)


def trained_premise(arm_df: Any, status: Any, *, dataset: str, x: str = "train_loss_var") -> dict[str, Any]:
    """Theorem 6.1's premise (:func:`~ccl_lib.confound.compare.variance_premise`, loss attack) over the runs of
    ``dataset`` that trained; runs that did not train are left out and counted.

    Returns the premise's dict plus ``excluded`` ("" or why no correlation is computed: fewer than 4 runs
    trained), ``n_left_out`` and ``n_all`` (distinct runs).

    Args:
        arm_df: :func:`~ccl_lib.confound.arms.arm_frame`'s output.
        status: :func:`~ccl_lib.confound.training.training_status`'s output for the same runs.
        dataset: the data set.
        x: ``"train_loss_var"`` or ``"train_loss_var_rel"``.
    """
    st = status[status["dataset"] == dataset]
    if st.empty:
        raise ValueError(f"no runs of {dataset!r} in the training status")
    ok_keys = set(st.loc[st["trains"], "key"])
    n_all = int(st["key"].nunique())
    sub = arm_df[(arm_df["dataset"] == dataset) & arm_df["key"].isin(ok_keys)]
    info = {"n_all": n_all, "n_left_out": n_all - len(ok_keys), "x": x}
    if len(ok_keys) < 4:
        arms = sorted(set(st.loc[st["trains"], "arm_label"]))
        return {**info, "n_runs": len(ok_keys), "verdict": None, "interval": None,
                "excluded": f"only {len(ok_keys)} of {n_all} runs trained ({', '.join(arms) or 'none'}): "
                            "a rank correlation needs at least 4"}  # fmt: skip
    return {**variance_premise(sub, x=x, attack="loss"), **info, "excluded": ""}


def premise_frame(arm_df: Any, status: Any, names: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], Any]:
    """:func:`trained_premise` per data set for the variance and the variance / mean: ``(premises, table)``, with
    ``premises = {dataset: the variance's premise}`` and one table row per (data set, x).

    Args:
        arm_df: :func:`~ccl_lib.confound.arms.arm_frame`'s output.
        status: :func:`~ccl_lib.confound.training.training_status`'s output.
        names: ``{dataset: display name}``.
    """
    import pandas as pd

    premises: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for ds, name in names.items():
        for x in ("train_loss_var", "train_loss_var_rel"):
            p = trained_premise(arm_df, status, dataset=ds, x=x)
            premises.setdefault(ds, p)
            rows.append({"dataset": name, "x": x, "runs that trained": p["n_runs"], "left out": p["n_left_out"],
                         "Spearman rho [95 % bootstrap]": p["interval"].format(digits=2) if p["interval"] else "",
                         "verdict": p["verdict"].word if p["verdict"] else NO_VERDICT,
                         "excluded": p["excluded"]})  # fmt: skip
    return premises, pd.DataFrame(rows)


def _answer(row: Optional[Mapping[str, Any]], name: str) -> str:
    if row is None:
        return f"On {name}: the decisive arms are not in this design."
    if row["excluded"]:
        c = row["result"]
        return (f"On {name}, {c['ccl']} minus {c['ce']}: {NOT_TESTABLE} ({row['excluded']}). For the record only, "
                f"the advantage difference is {row['advantage difference']} ({c['n']} seeds).")  # fmt: skip
    return describe_comparison(row["result"], name)


def _contrast(rows: Sequence[Mapping[str, Any]], arms: tuple[str, str], head: str) -> str:
    sel = [r for r in rows if r["arms"] == arms]
    if not sel:
        return ""
    parts = [f"{r['dataset']}: advantage {r['advantage difference']}, accuracy {r['accuracy difference']}"
             + (f" ({NOT_TESTABLE}: an arm did not train)" if r["excluded"] else "") for r in sel]  # fmt: skip
    return f"{head}: {'; '.join(parts)}."


def privacy_source_findings(
    rows: Sequence[Mapping[str, Any]],
    table: Any,
    premises: Mapping[str, Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    beta: float,
    extra: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """The chapter's findings by name (for :func:`ccl_lib.analysis.findings.glue_findings`).

    ``answer_tabular`` and ``answer_image`` (the decisive comparison on the first and second data set of
    ``names``), ``recipe_alone``, ``scale_alone``, ``premise_text``,
    ``untrained`` (the arms that did not train, with their train accuracies), ``train_min`` and
    ``ce_gap`` (the rule's thresholds), plus ``extra`` as given.

    Args:
        rows: :func:`comparisons`' output.
        table: :func:`~ccl_lib.confound.training.training_table`'s output.
        premises: ``{dataset: trained_premise(...)}`` with ``x="train_loss_var"``.
        names: ``{dataset: display name}``: the tabular data set first, then the image data set.
        beta: the scale factor of the decisive comparison.
        extra: further findings (e.g. the identity check, the runs' summary line).
    """
    out: dict[str, Any] = {}
    for role, (ds, name) in zip(("tabular", "image"), names.items()):
        row = next((r for r in rows if r["key"] == ds and r["arms"] == COMPARISONS[0]
                    and np.isclose(r["beta"], beta)), None)  # fmt: skip
        out[f"answer_{role}"] = _answer(row, name)
    out["recipe_alone"] = _contrast(rows, ("CE(lr·β, wd/β)", "CE"),
                                    "The recipe alone, without any concave term (CE at (lr·β, wd/β) − CE)")  # fmt: skip
    out["scale_alone"] = _contrast(rows, ("CE×β", "CE"), "The scale alone (CE×β − CE)")
    texts = []
    for ds, p in premises.items():
        name = names.get(ds, ds)
        if p["excluded"]:
            texts.append(f"{name}: no correlation ({p['excluded']}).")
        else:
            texts.append(f"{name}: rho = {p['interval'].format(digits=2)} over the {p['n_runs']} runs that trained "
                         f"({p['n_left_out']} left out; {p['verdict'].word}).")  # fmt: skip
    out["premise_text"] = " ".join(texts)
    bad = table[~table["trains"]]
    out["untrained"] = "; ".join(f"{names.get(r['dataset'], r['dataset'])} {r['arm_label']}: {_pct(r['train_acc'])}"
                                 for r in bad.to_dict("records")) or "none"  # fmt: skip
    out["train_min"], out["ce_gap"] = _pct(TRAIN_ACC_MIN), f"{100 * CE_GAP_MAX:.0f} points"
    return {**out, **dict(extra or {})}


def privacy_source_scorecard_rows(
    rows: Sequence[Mapping[str, Any]],
    premises: Mapping[str, Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    settings: Mapping[str, str],
    beta: float,
    causes: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The chapter's scorecard rows (:func:`ccl_lib.scorecard.record_all`): per data set, the decisive comparison
    ("Scale confound") and Theorem 6.1's premise; a row resting on a model that did not train is recorded with
    ``excluded=`` its reason and no verdict.

    Args:
        rows: :func:`comparisons`' output.
        premises: ``{dataset: trained_premise(...)}``.
        names: ``{dataset: display name}``, in display order.
        settings: ``{dataset: the setting in a few words}`` (``"location, beta 0.01, 20 seeds"``).
        beta: the scale factor of the decisive comparison.
        causes: ``{dataset: the likely cause when the decisive comparison does not say "lower"}``.
    """
    out: list[dict[str, Any]] = []
    for ds in names:
        row = next((r for r in rows if r["key"] == ds and r["arms"] == COMPARISONS[0]
                    and np.isclose(r["beta"], beta)), None)  # fmt: skip
        if row is None:
            continue
        v = row["result"]["verdict"]
        if row["excluded"]:
            out.append({"item": "Scale confound", "setting": settings[ds], "verdict": NO_VERDICT,
                        "interval": v.interval, "excluded": row["excluded"]})  # fmt: skip
        else:
            out.append({"item": "Scale confound", "setting": settings[ds], "verdict": v,
                        "cause": "" if v.word == "lower" else causes.get(ds, "")})  # fmt: skip
    for ds, p in premises.items():
        name = names.get(ds, ds)
        if p["excluded"]:
            out.append({"item": "Thm 6.1", "setting": f"{name}: premise across the runs that trained",
                        "verdict": NO_VERDICT, "excluded": p["excluded"]})  # fmt: skip
            continue
        v = p["verdict"]
        cause = "across recipes the loss variance does not order the advantage as the premise says"
        out.append({"item": "Thm 6.1", "setting": f"{name}: premise across {p['n_runs']} runs that trained",
                    "verdict": v, "cause": "" if v.word == "agrees" else cause})  # fmt: skip
    return out
