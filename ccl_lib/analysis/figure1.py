"""Chapter 4's analysis: Fig. 1 of Liu et al. (ICML 2024), CE against focal loss (Sec. 3.1, Theorem 3.1).

Fig. 1 draws, per epoch, the mean and the variance of the per-example training losses of a
cross-entropy and a focal-loss model (one run each); the paper reads it as "focal loss, the more
convex loss, ends with a higher mean and a smaller variance".  Here each setting (an image
experiment and a tabular data set) has one run per seed, and each of the three claims is a paired
interval over seeds at the last epoch (:func:`ccl_lib.analysis.curves.paired_difference`):

The runs of each arm come from :func:`ccl_lib.analysis.arms.setting_arms`, the table under the figure
from :func:`ccl_lib.analysis.curves.epoch_table`.

* :func:`figure1_tests` -- the three verdicts of one setting (:data:`FIGURE1_CLAIMS`).
* :func:`figure1_findings` -- what chapter 4's "What we saw" states, by name.
* :func:`figure1_scorecard_rows` -- its scorecard rows (item Fig 1), for settings with enough seeds.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..verdicts import MIN_SEEDS, SeedInterval, Verdict, verdict
from .curves import epochs_below, paired_difference

__all__ = [
    "FIGURE1_CLAIMS",
    "FIGURE1_COLUMNS",
    "FIGURE1_TABLE",
    "VARIANCE_CAUSE",
    "figure1_findings",
    "figure1_scorecard_rows",
    "figure1_tests",
]

#: The history columns chapter 4 averages over seeds.
FIGURE1_COLUMNS = ("train_loss_mean", "train_loss_var", "train_loss_rel_var", "train_acc", "test_acc")
#: The table under Fig. 1: history column -> its heading.
FIGURE1_TABLE = {"train_loss_mean": "mean", "train_loss_var": "variance", "train_loss_rel_var": "var / mean²",
                 "train_acc": "train_acc"}  # fmt: skip
#: Fig. 1's three claims at the last epoch: ``{name: (history column, compared on log10, the paper's sign)}``
#: (focal minus CE: a higher mean, a lower variance, a lower variance relative to the squared mean).
FIGURE1_CLAIMS: dict[str, tuple[str, bool, str]] = {
    "mean": ("train_loss_mean", False, "higher"),
    "var": ("train_loss_var", True, "lower"),
    "relvar": ("train_loss_rel_var", True, "lower"),
}
#: The likely cause when focal loss's last-epoch variance is not the smaller one.
VARIANCE_CAUSE = (
    "CE fits its training set and drives the members' losses to zero, so its variance collapses with its "
    "mean; focal loss stops pushing fitted examples (l''(1) = 0) and keeps them spread; Theorem 3.1 speaks "
    "at a fixed mean (see the variance / mean^2 row)"
)


def figure1_tests(arms: Mapping[str, Sequence[Any]]) -> dict[str, Verdict]:
    """Fig. 1's claims (:data:`FIGURE1_CLAIMS`) in one setting: focal minus CE at the last epoch, paired by seed.

    Args:
        arms: ``{"CE": runs, "Focal": runs}``, one run per seed.

    Returns:
        ``{"mean": ..., "var": ..., "relvar": ...}``: the :class:`ccl_lib.verdicts.Verdict` of each
        paired interval (of ``log10`` ratios for the variances) against the paper's sign.
    """
    missing = [k for k in ("CE", "Focal") if k not in arms]
    if missing:
        raise ValueError(f"arms needs the labels 'CE' and 'Focal', missing {missing}")
    return {name: verdict(paired_difference(arms["Focal"], arms["CE"], col, log10=log), claim=sign)
            for name, (col, log, sign) in FIGURE1_CLAIMS.items()}  # fmt: skip


def _ratio_text(iv: SeedInterval) -> str:
    """A log10 ratio interval as the ratio itself: ``'0.12 [0.05, 0.31]'``."""
    if not iv.finite:
        return f"{10**iv.mean:.3g} (one seed, no interval)"
    return f"{10**iv.mean:.3g} [{10**iv.low:.3g}, {10**iv.high:.3g}]"


def figure1_findings(
    arms: Mapping[str, Mapping[str, Sequence[Any]]],
    curves: Mapping[str, Mapping[str, Any]],
    tests: Mapping[str, Mapping[str, Verdict]],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """What chapter 4's "What we saw" states, by name (glued as ``ch04_<tag>_<name>``).

    Args:
        arms: ``{setting: {"CE": runs, "Focal": runs}}`` (:func:`ccl_lib.analysis.arms.setting_arms`).
        curves: ``{setting: {"CE": curve, "Focal": curve}}`` (:func:`ccl_lib.analysis.arms.setting_arms`).
        tests: ``{setting: figure1_tests(...)}``.
        tags: ``{tag: setting}``, e.g. ``{"img": "cifar10-cpu", "tab": "location"}``.

    Returns:
        per tag: ``seeds``, ``epochs``, the last epoch's mean curves (``mean_ce``, ``var_focal``,
        ``relvar_ce``, ...), CE's accuracies, in how many epochs focal's mean variance (relative
        variance) lies below CE's, the paired ratios and mean difference as text, and the three
        verdict words.
    """
    out: dict[str, Any] = {}
    for tag, name in tags.items():
        a, c, t = arms[name], curves[name], tests[name]
        last = {k: f.iloc[-1] for k, f in c.items()}
        mean = t["mean"].interval
        values = {
            "seeds": len(a["CE"]),
            "epochs": int(len(c["CE"])),
            "mean_ce": float(last["CE"]["train_loss_mean"]),
            "mean_focal": float(last["Focal"]["train_loss_mean"]),
            "var_ce": float(last["CE"]["train_loss_var"]),
            "var_focal": float(last["Focal"]["train_loss_var"]),
            "relvar_ce": float(last["CE"]["train_loss_rel_var"]),
            "relvar_focal": float(last["Focal"]["train_loss_rel_var"]),
            "train_acc_ce": float(last["CE"]["train_acc"]),
            "test_acc_ce": float(last["CE"]["test_acc"]),
            "var_below": epochs_below(c["Focal"], c["CE"], "train_loss_var")["below"],
            "relvar_below": epochs_below(c["Focal"], c["CE"], "train_loss_rel_var")["below"],
            "var_ratio": _ratio_text(t["var"].interval),
            "relvar_ratio": _ratio_text(t["relvar"].interval),
            "mean_diff": mean.format(digits=3) if mean.finite else f"{mean.mean:.3f} (one seed)",
            "var_verdict": t["var"].word,
            "relvar_verdict": t["relvar"].word,
            "mean_verdict": t["mean"].word,
        }
        out.update({f"{tag}_{k}": v for k, v in values.items()})
    return out


def figure1_scorecard_rows(
    tests: Mapping[str, Mapping[str, Verdict]], settings: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Chapter 4's scorecard rows (item Fig 1), for :func:`ccl_lib.scorecard.record_all`.

    Two rows per setting with at least :data:`ccl_lib.verdicts.MIN_SEEDS` seeds: the last-epoch
    variance and the variance relative to the squared mean, each as ``log10(focal / CE)``.  A setting
    with fewer seeds (the one-seed image curves) records no row: it has no interval.

    Args:
        tests: ``{setting: figure1_tests(...)}``.
        settings: ``{setting: its RunSpecs}`` (their model and epochs name the setting).
    """
    rows = []
    for name, t in tests.items():
        n = t["var"].interval.n
        if n < MIN_SEEDS:
            continue
        spec = settings[name][0]
        setting = f"{name} ({spec.resolved_model}, {spec.epochs} epochs, {n} seeds)"
        rows.append({"item": "Fig 1", "setting": f"{setting}: last-epoch variance, log10(focal / CE)",
                     "verdict": t["var"], "cause": "" if t["var"].word == "agrees" else VARIANCE_CAUSE})  # fmt: skip
        rel_cause = "" if t["relvar"].word == "agrees" else "see chapter 4"
        rows.append({"item": "Fig 1", "setting": f"{setting}: variance / mean^2, log10(focal / CE)",
                     "verdict": t["relvar"], "cause": rel_cause})  # fmt: skip
    return rows
