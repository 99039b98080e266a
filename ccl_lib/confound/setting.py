"""One more setting of chapter 11, analysed on its own: the long CPU image recipe.

The scaled loss (CCL x 0.01) does not train in ``cifar10-cpu``'s 200 SGD steps; longer recipes of the
same data and model (``evidence-confound-cifar10-cpu-long``: batch 16 for 400 epochs, 12,800 steps;
``evidence-table1-cifar10-cpu-800``: 800 epochs, 25,600 steps) are meant to let it train; whether each run
did is measured (:func:`~ccl_lib.confound.training.training_table`).
Its runs share the data set name with ``cifar10-cpu``'s, so they are analysed apart from the
chapter's main sweep, with the same functions (:func:`~ccl_lib.confound.arms.arm_frame`,
:func:`~ccl_lib.confound.training.training_table`, :func:`~ccl_lib.confound.findings.comparisons`):

* :func:`long_recipe_pairs` -- the decisive image arms (:data:`~ccl_lib.confound.design.IMAGE_ARMS_CI`)
  in a named experiment's recipe, batch size included; :func:`recorded_pairs` -- the seeds whose every
  arm the evidence ledger holds;
* :func:`setting_analysis` -- which arms trained, their curves, the comparisons, the findings and the
  scorecard rows of that setting;
* :func:`long_recipe_setting` -- all of that for a named experiment's recorded seeds, in one call;
  :func:`long_recipe_view` -- its tables and curves for a chapter; :func:`long_recipe_findings` -- its
  numbers in words, for glue.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..formatting import pct
from .arms import Arm, arm_frame, arm_specs, arm_summary, arms
from .design import IMAGE_ARMS_CI, image_recipe, recipe_text, steps_text
from .findings import COMPARISONS, _answer, _contrast, comparisons, privacy_source_scorecard_rows
from .training import training_curves, training_status, training_table

__all__ = [
    "long_recipe_findings",
    "long_recipe_pairs",
    "long_recipe_setting",
    "long_recipe_view",
    "recorded_pairs",
    "setting_analysis",
]


def long_recipe_pairs(
    experiment: str, seeds: Sequence[int], *, beta: float = 0.01, alpha: float = 0.5
) -> tuple[list[tuple[Arm, Any]], str]:
    """``(pairs, recipe text)``: the arms CE, CE at (lr·beta, wd/beta) and CCQL x beta in ``experiment``'s recipe.

    The recipe is the experiment's data set, model, epochs, milestones, batch size, augmentation and part
    size; the arms set the learning rate and weight decay (the experiment's own ``lr`` / ``weight_decay``
    are those of its CE arm: 0.1 and 5e-4).

    Args:
        experiment: a named experiment (``"evidence-confound-cifar10-cpu-long"``).
        seeds: the paired seeds.
        beta: the scale factor (App. E.1: 0.01 on CIFAR-10).
        alpha: CCQL's alpha (Eq. 4).
    """
    from ..experiments import load_experiment

    dataset, recipe = image_recipe(experiment, {})
    cfg = load_experiment(experiment).config
    lr, wd = float(cfg.get("lr", 0.1)), float(cfg.get("weight_decay", 5e-4))
    pairs = arm_specs(dataset, arms(beta, lr=lr, weight_decay=wd, alpha=alpha, names=IMAGE_ARMS_CI), seeds, **recipe)
    return pairs, recipe_text(dataset, recipe)


def recorded_pairs(pairs: Sequence[tuple[Arm, Any]], ledger: Any = None) -> tuple[list[tuple[Arm, Any]], str]:
    """``(pairs, note)``: the pairs of the seeds whose every arm the evidence ledger holds, and what is missing.

    A chapter that reads evidence compares arms paired by seed, so a seed with one arm unrecorded is left
    out whole; ``note`` says how many runs are missing and how to record them ("" when none is).

    Args:
        pairs: ``(arm, RunSpec)`` pairs.
        ledger: the ledger (folder or :class:`~ccl_lib.experiments.ledger.Ledger`; default the checkout's).
    """
    from ..analysis.runs import recorded_runs

    kept, note = recorded_runs([s for _, s in pairs], ledger=ledger)
    keys = {s.key() for s in kept}
    return [(a, s) for a, s in pairs if s.key() in keys], note


def setting_analysis(
    df: Any, runs: Mapping[str, Any], pairs: Sequence[tuple[Arm, Any]], *, name: str, setting: str, beta: float,
    cause: str = "",
) -> dict[str, Any]:  # fmt: skip
    """Chapter 11's analysis of one setting on its own (the arms of ``pairs``, one data set).

    Args:
        df: the runs' result frame (:func:`ccl_lib.analysis.runs.run_runs`).
        runs: ``{key: RunResult}`` of the same call.
        pairs: ``(arm, RunSpec)`` pairs (:func:`long_recipe_pairs`).
        name: the setting's display name.
        setting: the setting in a few words, for the scorecard (``"... , 3 seeds"``).
        beta: the scale factor of the decisive comparison.
        cause: the likely cause when the decisive comparison does not say "lower".

    Returns:
        ``table`` (:func:`~ccl_lib.confound.training.training_table`), ``curves``, ``summary``
        (:func:`~ccl_lib.confound.arms.arm_summary`), ``comparisons`` (rows of
        :func:`~ccl_lib.confound.findings.comparisons`), ``scorecard`` (its rows) and ``findings``:
        ``answer`` (the decisive comparison in words), ``train`` (each arm's final train accuracy, mean
        and lowest over seeds), ``recipe_alone`` and ``n_seeds``.
    """
    datasets = {s.dataset for _, s in pairs}
    if len(datasets) != 1:
        raise ValueError(f"pairs must hold one data set, got {sorted(datasets)}")
    ds = datasets.pop()
    arm_df = arm_frame(df, pairs)
    table = training_table(training_status(arm_df))
    rows = comparisons(arm_df, table, datasets=[ds], betas=[beta], names={ds: name})
    decisive = next((r for r in rows if r["arms"] == COMPARISONS[0] and np.isclose(r["beta"], beta)), None)
    train = "; ".join(f"{r['arm_label']} {pct(r['train_acc'])} (lowest {pct(r['train_acc_min'])})"
                      for r in table.to_dict("records"))  # fmt: skip
    findings = {
        "answer": _answer(decisive, name),
        "train": train,
        "recipe_alone": _contrast(rows, ("CE(lr·β, wd/β)", "CE"), "The recipe alone (CE at (lr·β, wd/β) − CE)"),
        "n_seeds": str(len({s.seed for _, s in pairs})),
    }
    scorecard = privacy_source_scorecard_rows(rows, {}, names={ds: name}, settings={ds: setting}, beta=beta,
                                              causes={ds: cause})  # fmt: skip
    return {"table": table, "curves": training_curves(runs, pairs), "summary": arm_summary(arm_df),
            "comparisons": rows, "scorecard": scorecard, "findings": findings}  # fmt: skip


def long_recipe_setting(
    experiment: str, seeds: Sequence[int], *, beta: float = 0.01, alpha: float = 0.5, evidence: str = "ledger",
    workers: Any = "auto", name: str = "", cause: str = "",
) -> dict[str, Any]:  # fmt: skip
    """Chapter 11's long image recipe from a named experiment, in one call: the arms CE, CE at (lr·beta,
    wd/beta) and CCQL x beta (:func:`long_recipe_pairs`), their runs (read from the evidence ledger with
    ``evidence="ledger"``, where a seed with one arm unrecorded is left out whole; every run computed
    with ``"compute"``), and :func:`setting_analysis`.

    Args:
        experiment: a named experiment (``"evidence-table1-cifar10-cpu-800"``).
        seeds: the paired seeds.
        beta: the scale factor (App. E.1: 0.01 on CIFAR-10).
        alpha: CCQL's alpha (Eq. 4).
        evidence: ``"ledger"`` or ``"compute"`` (:func:`ccl_lib.analysis.runs.run_runs`).
        workers: parallel runs for what is computed.
        name: the setting's display name (default: the experiment's).
        cause: the likely cause when the decisive comparison does not say "lower".

    Returns:
        ``experiment``, ``recipe`` (:func:`~ccl_lib.confound.design.recipe_text`), ``steps``
        (:func:`~ccl_lib.confound.design.steps_text`), ``equilibrium`` (``1 / (lr * wd)`` of the CE
        recipe, the order of steps after which BatchNorm'd weights' effective step recovers), ``note``
        (the seeds left out, "" if none), ``pairs`` (those kept), ``n_seeds``, ``source``
        (:func:`ccl_lib.analysis.runs.run_summary`; "" when no seed is kept), ``minutes`` (the recorded
        wall time per run, :func:`ccl_lib.analysis.runs.run_minutes`; "n/a" when none) and ``analysis``
        (:func:`setting_analysis`; ``None`` when no seed is kept).

    Raises:
        ValueError: on an unknown ``evidence`` or an experiment that does not parse.
    """
    from ..analysis.runs import run_minutes, run_runs, run_summary
    from ..experiments import load_experiment

    if evidence not in ("ledger", "compute"):
        raise ValueError(f"evidence must be 'ledger' or 'compute', got {evidence!r}")
    pairs, text = long_recipe_pairs(experiment, seeds, beta=beta, alpha=alpha)
    note = ""
    if evidence == "ledger":
        pairs, note = recorded_pairs(pairs)
    cfg = load_experiment(experiment).config
    equilibrium = 1.0 / (float(cfg.get("lr", 0.1)) * float(cfg.get("weight_decay", 5e-4)))
    out: dict[str, Any] = {"experiment": experiment, "recipe": text, "steps": steps_text(experiment),
                           "equilibrium": equilibrium, "note": note, "pairs": pairs,
                           "n_seeds": len({s.seed for _, s in pairs}), "source": "", "minutes": "n/a",
                           "analysis": None}  # fmt: skip
    if not pairs:
        return out
    df, runs = run_runs([s for _, s in pairs], workers=workers, evidence=evidence)
    name = name or experiment
    setting = f"{name} ({text}), beta {beta:g}, {out['n_seeds']} seeds"
    out["analysis"] = setting_analysis(df, runs, pairs, name=name, setting=setting, beta=beta, cause=cause)
    out["source"] = run_summary(df, runs)
    out["minutes"] = run_minutes(runs)
    return out


def long_recipe_view(section: Mapping[str, Any], title: str, *, comparisons: bool = True) -> list[Any]:
    """What a chapter shows of a :func:`long_recipe_setting`: the arms' final train accuracy (table), their
    training curves (a figure; the caller closes it) and, with ``comparisons``, the paired comparisons.

    Args:
        section: the result of :func:`long_recipe_setting` (with an ``analysis``).
        title: the image setting's name, for the figure's title (``"cifar10-cpu"``).
        comparisons: also the table of comparisons.

    Raises:
        ValueError: when the section holds no analysis (no seed recorded).
    """
    from ..formatting import narrow_table
    from ..verdicts import TRAIN_ACC_MIN
    from .findings import comparison_frame
    from .plot import plot_training_curves

    a = section.get("analysis")
    if not a:
        raise ValueError(f"the long recipe {section.get('experiment')!r} has no recorded seed to show")
    first = section["pairs"][0][1]
    views: list[Any] = [
        narrow_table(
            a["table"].set_index("arm_label")[["n", "train_acc", "train_acc_min", "trains"]],
            percent=["train_acc", "train_acc_min"],
            rename={"train_acc": "train acc.", "train_acc_min": "lowest"},
            caption=section["recipe"],
        ),  # fmt: skip
        plot_training_curves(
            a["curves"],
            train_min=TRAIN_ACC_MIN,
            titles={first.dataset: f"{title}, long recipe: batch {first.batch_size}, {first.epochs} epochs"},
        ),  # fmt: skip
    ]
    if comparisons:
        views.append(narrow_table(comparison_frame(a["comparisons"]).set_index(["dataset", "comparison"]), percent=[]))
    return views


def long_recipe_findings(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The long recipes' numbers in words, for glue: ``{KEY}_answer``, ``_train``, ``_recipe_alone``,
    ``_n_seeds`` (:func:`setting_analysis`'s findings), ``_steps``, ``_equilibrium``, ``_experiment``,
    ``_recipe``, ``_minutes`` for each key of ``sections`` (chapter 11: ``"long"`` and ``"attempt"``); a key not in
    ``sections`` (skipped) or without a recorded seed reads "not run" / "n/a".

    Args:
        sections: ``{key: long_recipe_setting(...)}``.
    """
    out: dict[str, str] = {}
    for key in sorted(set(sections) | {"long", "attempt"}):
        sec = sections.get(key) or {}
        a = sec.get("analysis")
        f = a["findings"] if a else {"answer": f"The {key} recipe was not run (no recorded seed).", "train": "n/a",
                                     "recipe_alone": "", "n_seeds": "0"}  # fmt: skip
        out.update({f"{key}_{k}": str(v) for k, v in f.items()})
        out[f"{key}_steps"] = sec.get("steps", "n/a")
        out[f"{key}_equilibrium"] = f"{sec['equilibrium']:,.0f}" if "equilibrium" in sec else "n/a"
        out[f"{key}_experiment"] = sec.get("experiment", "n/a")
        out[f"{key}_recipe"] = sec.get("recipe", "n/a")
        out[f"{key}_minutes"] = sec.get("minutes", "n/a")
    return out
