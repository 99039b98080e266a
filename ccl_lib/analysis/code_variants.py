"""What the code did that the text does not say (issue 23): chapter 12's analysis.

Every code form of a baseline, an attack or P1 is a named variant in ccl_lib (a defense's
``variant=``, an attack name ending in ``_release``, ``p1_from_report(..., variant="release")``);
a sweep such as the named experiment ``variants-location`` trains each form beside ccl_lib's default
on the same seeds.  This module measures the paired effect of each:

* :func:`recorded_specs` -- the runs of a sweep the evidence ledger holds, and the ones it lacks.
* :func:`defense_effects` -- per defense variant, the paired change of test accuracy and of the highest
  advantage over the paper's attacks (the two axes of Figs. 2-3, Liu et al. Sec. 5.2).
* :func:`attack_effects` -- each release attack form minus ccl_lib's form of the same attack, per run.
* :func:`p1_both_ways` -- Table 1's P1 (Eq. 13) as the paper's text and as the release's ``p_score``
  compute it.
* :func:`code_findings` -- what the chapter's prose states, by name.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..verdicts import difference_interval

__all__ = ["attack_effects", "code_findings", "defense_effects", "p1_both_ways", "recorded_specs"]


def recorded_specs(specs: Sequence[Any], ledger: Any = None) -> tuple[list, list]:
    """``(held, missing)``: the specs whose runs the evidence ledger holds (checked records) and the others.

    Args:
        specs: :class:`ccl_lib.experiments.RunSpec` s.
        ledger: the ledger (folder or :class:`~ccl_lib.experiments.ledger.Ledger`; default the checkout's).
    """
    from ..experiments.ledger import resolve_ledger

    led = resolve_ledger(ledger if ledger is not None else True)
    held = [s for s in specs if led is not None and s.key() in led]
    return held, [s for s in specs if s not in held]


def _variant(df) -> Any:
    return df["hp_variant"].fillna("paper") if "hp_variant" in df.columns else "paper"


def defense_effects(df):
    """Per defense with a code variant: that variant minus ccl_lib's default form, paired by seed, of the test
    accuracy and the highest advantage over the paper's attacks, with 95 % t-intervals.

    Args:
        df: a result frame (:func:`ccl_lib.analysis.runs.run_runs`) with an ``hp_variant`` column.

    Returns:
        a frame ``defense, variant, n, d_test_acc[, _low, _high], d_max_adv[, _low, _high]``.
    """
    import pandas as pd

    from ..attacks import PAPER_ATTACKS

    rows_ = df[df["attack"].isin(PAPER_ATTACKS)].assign(code_variant=lambda t: _variant(t))
    per_run = rows_.groupby(["defense", "code_variant", "seed"]).agg(
        test_acc=("test_acc", "first"), max_adv=("advantage", "max")
    )
    rows = []
    for (defense, variant), g in per_run.groupby(level=[0, 1]):
        if variant == "paper" or (defense, "paper") not in per_run.index.droplevel(2):
            continue
        base = per_run.loc[(defense, "paper")]
        both = g.droplevel([0, 1]).merge(base, left_index=True, right_index=True, suffixes=("", "_paper"))
        row: dict[str, Any] = {"defense": defense, "variant": variant, "n": len(both)}
        for col in ("test_acc", "max_adv"):
            ci = difference_interval(both[col].to_numpy(), both[f"{col}_paper"].to_numpy())
            row.update({f"d_{col}": ci.mean, f"d_{col}_low": ci.low, f"d_{col}_high": ci.high})
        rows.append(row)
    return pd.DataFrame(rows)


def attack_effects(df):
    """Each release attack form (``*_release``) minus ccl_lib's form of the same attack, on the same target models
    (paired by run), with its 95 % t-interval.

    Args:
        df: a result frame scored by both forms (e.g. ``variants-location``).

    Returns:
        a frame ``attack, release - ccl_lib, low, high, runs``.
    """
    import pandas as pd

    from ..attacks import RELEASE_ATTACKS

    pivot = df.pivot_table(index="key", columns="attack", values="advantage")
    rows = []
    for rel in RELEASE_ATTACKS:
        ours = rel.removesuffix("_release")
        if rel in pivot and ours in pivot:
            ci = difference_interval(pivot[rel].to_numpy(), pivot[ours].to_numpy())
            rows.append({"attack": ours, "release - ccl_lib": ci.mean, "low": ci.low, "high": ci.high, "runs": ci.n})
    return pd.DataFrame(rows)


def p1_both_ways(df):
    """Mean test accuracy and P1 of CE, CCEL and CCQL: the paper's P1 (Eq. 13, highest advantage over the
    paper's attacks) and the release's (:func:`ccl_lib.metrics.p1_release` with the loss attack's accuracy).

    Args:
        df: a result frame with vanilla, CCEL and CCQL runs and the loss attack.

    Returns:
        a frame indexed by defense: ``test_acc, p1, p1_release``.
    """
    from ..metrics import p1_release

    t1 = df[df["defense"].isin(["vanilla", "ccel", "ccql"]) & (df["attack"] == "loss")].copy()
    if len(t1) == 0:
        raise ValueError("the frame holds no vanilla, CCEL or CCQL run scored by the loss attack")
    t1["p1_release"] = [p1_release(a, x) for a, x in zip(t1["test_acc"], t1["balanced_accuracy"])]
    return t1.groupby("defense")[["test_acc", "p1", "p1_release"]].mean()


def code_findings(table, *, n_seeds: int, setting: str) -> dict[str, Any]:
    """What chapter 12's prose states, by name (glued as ``ch12_<name>``).

    Args:
        table: :func:`p1_both_ways`.
        n_seeds: paired seeds.
        setting: the experiment's setting in a few words.
    """
    from ..paper_results import p1_consistency, required_complement

    cons = p1_consistency()
    b = required_complement(0.741, 0.85)
    return {
        "n_seeds": str(n_seeds),
        "setting": setting,
        "n_impossible": str(int((~cons["release_possible"]).sum())),
        "b_cifar10": f"{b:.3f}",
        "x_cifar10": f"{1 - b:.3f}",
        "p1_rank_paper": " > ".join(table["p1"].sort_values(ascending=False).index),
        "p1_rank_release": " > ".join(table["p1_release"].sort_values(ascending=False).index),
    }
