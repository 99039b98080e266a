"""Chapter 6's analysis: Fig. 5 of Liu et al. (ICML 2024), "CCL converges about as fast as CE" (Sec. 5.2).

Fig. 5 draws the training loss and the test accuracy of CE, CCEL and CCQL at alpha 0.5 (one run
each) and reads "no significantly longer training time ... to reach convergence".  Here "converged"
is the first epoch whose test accuracy is within ``tol`` of the run's final value
(:func:`ccl_lib.analysis.curves.convergence_epoch`), and the claim is an *equivalence*: the paired
delay behind CE must lie within :func:`lag_margin` epochs of zero.

* :func:`convergence_view` -- the table under the figure (:func:`ccl_lib.analysis.curves.convergence_table`).
* :func:`fit_state` -- whether the CCL models reached CE's state on every seed (a "settling epoch" on a
  plateau far below CE's is no convergence), and CCL's loss scale.
* :func:`figure5_tests` -- the delay verdicts and the accuracy differences of one setting.
* :func:`figure5_findings` / :func:`figure5_scorecard_rows` -- what the chapter states, by name, and
  its scorecard rows (item Fig 5).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..verdicts import MIN_SEEDS, SeedInterval, trains, verdict
from .curves import convergence_lags, final_values, paired_difference

__all__ = [
    "CCL_LABELS",
    "CONVERGENCE_TABLE",
    "DELAY_CAUSE",
    "FIGURE5_COLUMNS",
    "convergence_view",
    "figure5_findings",
    "figure5_scorecard_rows",
    "figure5_tests",
    "fit_state",
    "lag_margin",
]

#: The history columns chapter 6 averages over seeds.
FIGURE5_COLUMNS = ("objective", "train_loss_mean", "train_acc", "test_acc")
#: The CCL arms compared with the reference ``"CE"``.
CCL_LABELS = ("CCEL", "CCQL")
#: The table under Fig. 5: column of :func:`ccl_lib.analysis.curves.convergence_table` -> its heading.
CONVERGENCE_TABLE = {"final_test_acc": "final_test_acc", "epoch_within_tol": "settles at epoch",
                     "epoch_within_tol_low": "low", "epoch_within_tol_high": "high",
                     "final_train_loss": "final train CE", "final_train_acc": "final_train_acc",
                     "seeds": "seeds"}  # fmt: skip


def convergence_view(tables: Mapping[str, Any]):
    """The convergence tables of every setting in one frame, indexed by (setting, loss), with the
    headings of :data:`CONVERGENCE_TABLE`.

    Args:
        tables: ``{setting: convergence_table(...)}``.
    """
    import pandas as pd

    return pd.concat({name: t[list(CONVERGENCE_TABLE)].rename(columns=CONVERGENCE_TABLE)
                      for name, t in tables.items()}, names=["setting", "loss"])  # fmt: skip


def lag_margin(epochs: int) -> float:
    """The equivalence margin of "about as fast": 10 % of the run's epochs, at least 2 epochs.

    Args:
        epochs: the run's training epochs.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    return max(2.0, 0.1 * epochs)


def fit_state(tests: Mapping[str, Any], specs: Sequence[Any]) -> tuple[bool, float]:
    """Whether every CCL arm reached CE's state on every seed, and CCL's loss scale (App. E.1).

    Args:
        tests: the setting's :func:`figure5_tests` (its ``trained`` flags).
        specs: the setting's RunSpecs (the CCQL one gives the loss scale).

    Returns:
        ``(fitted, scale)``: ``fitted`` is True when each CCL arm trained on every seed by the rule every
        chapter uses (:func:`ccl_lib.verdicts.trains`: a final training accuracy of at least 95 %, or
        within 5 points of CE's on the same seed).
    """
    fitted = all(tests["trained"][k] for k in CCL_LABELS)
    ccql = [s for s in specs if s.defense == "ccql"]
    if not ccql:
        raise ValueError("the setting has no CCQL run to read the loss scale from")
    return fitted, float(ccql[0].make_defense().describe().get("scale", 1.0))


def figure5_tests(arms: Mapping[str, Sequence[Any]], *, tol: float, epochs: int) -> dict[str, Any]:
    """Fig. 5's comparisons in one setting, paired by seed with CE.

    Args:
        arms: ``{"CE": runs, "CCEL": runs, "CCQL": runs}``, one run per seed.
        tol: the convergence tolerance (:func:`ccl_lib.analysis.curves.convergence_epoch`).
        epochs: the run's epochs (sets :func:`lag_margin`).

    Returns:
        a dict: ``"lag"``, per CCL label the delay in epochs behind CE against the paper's zero within the
        margin (a :class:`~ccl_lib.verdicts.Verdict` of :func:`ccl_lib.verdicts.verdict` with
        ``paper=0.0``); ``"acc"``, per label the final test-accuracy difference from CE (a
        :class:`~ccl_lib.verdicts.SeedInterval`); ``"margin"``; ``"trained"``, per label whether the arm
        trained on every seed (:func:`ccl_lib.verdicts.trains` against CE's final training accuracy on the
        same seed); ``"lowest_train_acc"``, per label its lowest final training accuracy.
    """
    import numpy as np

    margin = lag_margin(epochs)
    lags = convergence_lags(arms, reference="CE", tol=tol)
    ce = final_values(arms["CE"], "train_acc")
    trained, lowest = {}, {}
    for k in CCL_LABELS:
        acc = final_values(arms[k], "train_acc")
        seeds = sorted(set(acc) & set(ce))
        a = np.array([acc[s] for s in seeds])
        trained[k] = bool(np.all(trains(a, np.array([ce[s] for s in seeds]))))
        lowest[k] = float(a.min())
    return {
        "lag": {k: verdict(iv, paper=0.0, margin=margin) for k, iv in lags.items()},
        "acc": {k: paired_difference(arms[k], arms["CE"], "test_acc") for k in CCL_LABELS},
        "margin": margin,
        "trained": trained,
        "lowest_train_acc": lowest,
    }


def _acc_text(iv: SeedInterval) -> str:
    return iv.format(percent=True, digits=1) if iv.finite else f"{100 * iv.mean:.1f} points (one seed)"


def figure5_findings(
    arms: Mapping[str, Mapping[str, Sequence[Any]]],
    tables: Mapping[str, Any],
    tests: Mapping[str, Mapping[str, Any]],
    settings: Mapping[str, Sequence[Any]],
    tags: Mapping[str, str],
    *,
    tol: float,
) -> dict[str, Any]:
    """What chapter 6's "What we saw" states, by name (glued as ``ch06_<tag>_<name>`` and ``ch06_tol``).

    Args:
        arms: ``{setting: {label: runs}}`` (:func:`ccl_lib.analysis.arms.setting_arms`).
        tables: ``{setting: convergence_table(...)}``.
        tests: ``{setting: figure5_tests(...)}``.
        settings: ``{setting: its RunSpecs}``.
        tags: ``{tag: setting}``, e.g. ``{"img": "cifar10-cpu", "tab": "location"}``.
        tol: the convergence tolerance.

    Returns:
        per tag: ``seeds``, ``epochs``, the lowest final training accuracy, the range of final training
        CE, per loss its settling epoch, final test and training accuracy (per CCL arm also its lowest
        over seeds, ``lowest_train_acc_<label>``), whether CCL ``fitted``
        ("reach" / "do not all reach" / "do not reach"), its loss ``scale``, per CCL arm the delay and the accuracy
        difference as text with their verdict words (the delay's reads "excluded: did not train" for an arm
        that did not fit on every seed), and the ``margin``; and ``tol``.
    """
    out: dict[str, Any] = {}
    for tag, name in tags.items():
        t, tt = tables[name], tests[name]
        fitted, scale = fit_state(tt, settings[name])
        values: dict[str, Any] = {
            "seeds": len(arms[name]["CE"]),
            "epochs": int(t["epochs"].max()),
            "min_train_acc": float(t["final_train_acc"].min()),
            "loss_min": float(t["final_train_loss"].min()),
            "loss_max": float(t["final_train_loss"].max()),
        }
        for k in t.index:
            values[f"epoch_{k}"] = float(t.loc[k, "epoch_within_tol"])
            values[f"acc_{k}"] = float(t.loc[k, "final_test_acc"])
            values[f"train_acc_{k}"] = float(t.loc[k, "final_train_acc"])
        for k in CCL_LABELS:
            values[f"lowest_train_acc_{k}"] = tt["lowest_train_acc"][k]
        n_fit = sum(tt["trained"][k] for k in CCL_LABELS)
        values["fitted"] = "reach" if fitted else ("do not all reach" if n_fit else "do not reach")
        values["scale"] = scale
        for k, v in tt["lag"].items():
            iv = v.interval
            values[f"lag_{k}"] = iv.format(digits=1) if iv.finite else f"{iv.mean:.0f} (one seed)"
            values[f"lag_{k}_verdict"] = v.word if tt["trained"][k] else "excluded: did not train"
        for k, iv in tt["acc"].items():
            values[f"accdiff_{k}"] = _acc_text(iv)
            values[f"accdiff_{k}_verdict"] = verdict(iv).word
        values["margin"] = float(tt["margin"])
        out.update({f"{tag}_{k}": v for k, v in values.items()})
    out["tol"] = tol
    return out


#: The likely cause of a delay verdict that does not agree, when the models fitted.
DELAY_CAUSE = "early gradients are about alpha times CE's while p_y is small (Eq. 11); a short run shows that start"


def figure5_scorecard_rows(
    tables: Mapping[str, Any],
    tests: Mapping[str, Mapping[str, Any]],
    settings: Mapping[str, Sequence[Any]],
    *,
    alpha: float,
    tol: float,
) -> list[dict[str, Any]]:
    """Chapter 6's scorecard rows (item Fig 5), for :func:`ccl_lib.scorecard.record_all`.

    One row per CCL arm and setting with at least :data:`ccl_lib.verdicts.MIN_SEEDS` seeds (the
    one-seed image curves have no interval and record no row): the delay behind CE.  When that CCL
    arm did not reach CE's state on some seed (:func:`figure5_tests`' ``trained``), its row is recorded
    as excluded, with why: a settling epoch on a plateau is no convergence.

    Args:
        tables: ``{setting: convergence_table(...)}``.
        tests: ``{setting: figure5_tests(...)}``.
        settings: ``{setting: its RunSpecs}``.
        alpha: CCL's alpha (named in the setting).
        tol: the convergence tolerance (named in the setting).
    """
    rows = []
    for name, tt in tests.items():
        t, lag = tables[name], tt["lag"]
        n = next(iter(lag.values())).interval.n
        if n < MIN_SEEDS:
            continue
        spec = settings[name][0]
        _, scale = fit_state(tt, settings[name])
        setting = f"{name} ({spec.resolved_model}, {spec.epochs} epochs, alpha {alpha:g}, {n} seeds)"
        for k, v in lag.items():
            what = f"{setting}: {k} epochs to settle minus CE's (tol {tol:g})"
            row: dict[str, Any] = {"item": "Fig 5", "setting": what, "verdict": v, "digits": 1}
            if not tt["trained"][k]:
                row["cause"] = row["excluded"] = (
                    f"{k} does not fit on every seed in {int(t['epochs'].max())} epochs (final training accuracy "
                    f"{t.loc[k, 'final_train_acc']:.1%}, lowest {tt['lowest_train_acc'][k]:.1%}, vs CE's "
                    f"{t.loc['CE', 'final_train_acc']:.1%}): the loss scale "
                    f"{scale:g} is a learning rate x scale and weight decay / scale (App. E.1; chapter 11)"
                )
            else:
                row["cause"] = "" if v.word in ("agrees", "lower") else DELAY_CAUSE
            rows.append(row)
    return rows
