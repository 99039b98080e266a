"""What the code did that the text does not say (issue 23): chapter 12's analysis.

Every code form of a baseline, an attack or P1 is a named variant in ccl_lib (a defense's
``variant=``, an attack name ending in ``_release``, ``p1_from_report(..., variant="release")``);
a sweep such as the named experiment ``variants-location`` trains each form beside ccl_lib's default
on the same seeds.  This module measures the paired effect of each:

* :func:`defense_effects` -- per defense variant, the paired change of test accuracy and of the highest
  advantage over the paper's attacks (the two axes of Figs. 2-3, Liu et al. Sec. 5.2).
* :func:`attack_effects` -- each release attack form minus ccl_lib's form of the same attack, per run.
* :func:`p1_both_ways` -- Table 1's P1 (Eq. 13) as the paper's text and as the release's ``p_score``
  compute it.
* :func:`variant_effects` -- both effect tables of one recorded sweep, with their text by name
  (:func:`effect_findings`) and its setting (:func:`setting_text`).
* :func:`lira_effects` -- the LiRA authors' estimator and queries (``lira_reference``) minus
  ccl_lib's (``lira``) on the same target and reference models; :func:`lira_verdicts` -- the
  defended-minus-undefended LiRA comparison with each; :func:`lira_section` -- both for one recorded
  sweep (``variants-lira-location``, ``variants-lira-cifar10-cpu``), with their text by name.
* :func:`scale_effects` -- CCL at the release README's scale factor (0.05 on CIFAR-10) minus App.
  E.1's (0.01), paired by seed; :func:`scale_section` -- for one recorded sweep, with its text.
* :func:`code_findings` -- what the chapter's prose states, by name.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..verdicts import difference_interval
from .runs import chapter_specs, run_runs, run_summary

__all__ = [
    "LIRA_FORMS",
    "LIRA_METRICS",
    "attack_effects",
    "code_findings",
    "defense_effects",
    "effect_findings",
    "effect_summary",
    "lira_effects",
    "lira_section",
    "lira_verdicts",
    "p1_both_ways",
    "scale_effects",
    "scale_section",
    "setting_text",
    "variant_effects",
]


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


def effect_findings(defenses, attacks, *, prefix: str = "") -> dict[str, str]:
    """The effects of :func:`defense_effects` and :func:`attack_effects` as text, by name.

    ``<prefix><defense>_<variant>``: the change of test accuracy and of the highest advantage with
    95 % intervals (percentage points); ``<prefix>att_<attack>``: the release form minus ccl_lib's.

    Args:
        defenses: :func:`defense_effects`.
        attacks: :func:`attack_effects`.
        prefix: prepended to every name (``"img_"``).
    """
    from ..stats import format_interval

    out = {}
    for r in defenses.itertuples():
        acc = format_interval(r.d_test_acc, r.d_test_acc_low, r.d_test_acc_high)
        adv = format_interval(r.d_max_adv, r.d_max_adv_low, r.d_max_adv_high)
        out[f"{prefix}{r.defense}_{r.variant}"] = f"test accuracy {acc}, highest advantage {adv}"
    for r in attacks.itertuples():
        out[f"{prefix}att_{r.attack}"] = format_interval(r[2], r.low, r.high)
    return out


def effect_summary(defenses, attacks) -> str:
    """Every effect of :func:`effect_findings` in one sentence, each named by its defense and form or attack.

    Args:
        defenses: :func:`defense_effects`.
        attacks: :func:`attack_effects`.
    """
    effects = effect_findings(defenses, attacks)
    words = [f"{r.defense} ({r.variant} form): {effects[f'{r.defense}_{r.variant}']}" for r in defenses.itertuples()]
    words += [f"{r.attack} (release form minus ccl_lib's, advantage) {effects[f'att_{r.attack}']}"
              for r in attacks.itertuples()]  # fmt: skip
    return "; ".join(words)


def setting_text(experiment: str) -> str:
    """A named experiment's setting in a few words: ``"cifar10-jpeg, resnet8, 500 per part, 50 epochs"``.

    Args:
        experiment: a named experiment (:func:`ccl_lib.experiments.load_experiment`).
    """
    from ..experiments import load_experiment

    cfg = load_experiment(experiment).config
    size = f"{cfg['size']:,} per part" if cfg.get("size") else "all data"
    return f"{cfg['dataset']}, {cfg.get('model', 'auto')}, {size}, {cfg.get('epochs', 30)} epochs"


def variant_effects(experiment: str, seeds: Sequence[int], *, evidence: str = "ledger", workers: Any = 1,
                    prefix: str = "", ledger: Any = None) -> dict[str, Any]:  # fmt: skip
    """Both effect tables of one variants sweep (:func:`defense_effects`, :func:`attack_effects`).

    Reads the recorded runs (:func:`ccl_lib.analysis.runs.chapter_specs`); with none recorded the tables are empty.

    Args:
        experiment: a named experiment with code variants (``"variants-cifar10-cpu"``).
        seeds: its paired seeds.
        evidence: ``"ledger"`` (recorded runs only) or ``"compute"``.
        workers: parallel runs when computing.
        prefix: prefix of the findings' names.
        ledger: the ledger (default the checkout's).

    Returns:
        ``{"note", "summary", "defenses", "attacks", "findings"}``: what is missing, where the runs
        came from, the two frames, and :func:`effect_findings` with ``experiment``, ``setting``,
        ``n_seeds`` and ``summary`` (every effect in one sentence).
    """
    import pandas as pd

    specs, note = chapter_specs(experiment, seeds, evidence=evidence, ledger=ledger)
    found = {f"{prefix}experiment": experiment, f"{prefix}setting": setting_text(experiment)}
    if not specs:
        found.update({f"{prefix}n_seeds": "0", f"{prefix}summary": "no run of it is recorded yet"})
        return {"note": note, "summary": "", "defenses": pd.DataFrame(), "attacks": pd.DataFrame(), "findings": found}
    df, runs = run_runs(specs, workers=workers, evidence=evidence)
    defenses, attacks = defense_effects(df), attack_effects(df)
    effects = effect_findings(defenses, attacks)
    found.update({f"{prefix}{k}": v for k, v in effects.items()}, **{f"{prefix}n_seeds": str(df["seed"].nunique())})
    found[f"{prefix}summary"] = effect_summary(defenses, attacks)
    return {"note": note, "summary": run_summary(df, runs), "defenses": defenses, "attacks": attacks, "findings": found}


#: The two LiRA forms compared on the same reference models: ccl_lib's (``lira``) and the authors'
#: code's (``lira_reference``, ``tensorflow/privacy`` ``research/mi_lira_2021``).
LIRA_FORMS: tuple[str, str] = ("lira", "lira_reference")
#: What LiRA is read by: the TPR at 1 % FPR (Carlini et al.'s headline), the AUC, and the
#: advantage of the rule learned on pseudo-target reference models (Eq. 2).
LIRA_METRICS: tuple[str, ...] = ("tpr@1%", "auc", "advantage")


def _lira_rows(df):
    rows = df[df["attack"].isin(LIRA_FORMS)]
    if rows.empty:
        raise ValueError(f"the frame holds no row of the attacks {list(LIRA_FORMS)}; run a sweep that scores them "
                         "(e.g. the named experiment variants-lira-location)")  # fmt: skip
    return rows


def lira_effects(df, metrics: Sequence[str] = LIRA_METRICS):
    """The LiRA authors' form minus ccl_lib's, per defense, paired by run (same target, same reference models).

    ``lira`` fits each example's IN/OUT Gaussians with means over all reference models and a pooled
    fixed variance, one query (Carlini et al., 2022, Sec. IV-C; ccl_lib's default); ``lira_reference``
    as ``tensorflow/privacy`` ``research/mi_lira_2021/plot.py`` ``generate_ours`` does (medians,
    equal IN/OUT counts, the IN spread for both) and, on images, with each image and its mirror
    (``inference.py``).  Both read the same reference models, so the difference is the estimator
    and the queries alone.

    Args:
        df: a result frame (:func:`ccl_lib.analysis.runs.run_runs`) scored by both forms.
        metrics: report columns to compare (default :data:`LIRA_METRICS`).

    Returns:
        a frame ``defense, metric, n, lira, lira_reference, d, d_low, d_high`` (means over runs;
        ``d`` = ``lira_reference - lira`` with its 95 % paired t-interval).
    """
    import pandas as pd

    rows_ = _lira_rows(df)
    out = []
    for defense, g in rows_.groupby("defense", sort=False):
        for m in metrics:
            if m not in g.columns:
                raise ValueError(f"metric {m!r} is not a report column; known: {sorted(g.columns)}")
            pivot = g.pivot_table(index="key", columns="attack", values=m).dropna()
            if not set(LIRA_FORMS) <= set(pivot.columns) or pivot.empty:
                continue
            ci = difference_interval(pivot["lira_reference"].to_numpy(), pivot["lira"].to_numpy())
            out.append({"defense": defense, "metric": m, "n": ci.n, "lira": pivot["lira"].mean(),
                        "lira_reference": pivot["lira_reference"].mean(), "d": ci.mean, "d_low": ci.low,
                        "d_high": ci.high})  # fmt: skip
    return pd.DataFrame(out)


def lira_verdicts(df, metric: str = "tpr@1%", baseline: str = "vanilla"):
    """Each defense minus ``baseline`` under LiRA, paired by seed, with each LiRA form.

    The verdict the estimator touches: does a defense lower LiRA's ``metric`` against the
    undefended model (chapter 10)?  If the two forms' intervals fall on different sides of zero,
    the authors' estimator changes the verdict.

    Args:
        df: a result frame scored by both forms, with ``baseline`` runs on the same seeds.
        metric: a report column (default the TPR at 1 % FPR).
        baseline: the defense subtracted.

    Returns:
        a frame ``attack, defense, n, d, d_low, d_high`` (one row per LiRA form and defense).
    """
    import pandas as pd

    rows_ = _lira_rows(df)
    per = rows_.pivot_table(index=["attack", "defense", "seed"], values=metric)[metric]
    out = []
    for (attack, defense), g in per.groupby(level=[0, 1]):
        if defense == baseline or (attack, baseline) not in per.index.droplevel(2):
            continue
        both = pd.concat([g.droplevel([0, 1]), per.loc[(attack, baseline)]], axis=1, join="inner").dropna()
        ci = difference_interval(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
        out.append({"attack": attack, "defense": defense, "n": ci.n, "d": ci.mean, "d_low": ci.low,
                    "d_high": ci.high})  # fmt: skip
    return pd.DataFrame(out)


def _section_runs(experiment: str, seeds: Sequence[int], *, evidence: str, workers: Any, prefix: str,
                  ledger: Any) -> tuple[Any, Any, str, dict[str, str]]:  # fmt: skip
    """``(df, runs, note, findings)`` of one recorded sweep a chapter-12 section reads; ``df`` is ``None``
    when ``experiment`` is ``""`` (skipped) or none of its runs is recorded, and ``findings`` then says so."""
    if not experiment:
        return None, {}, "", {f"{prefix}setting": "(skipped)", f"{prefix}n_seeds": "0", f"{prefix}text": "not run"}
    specs, note = chapter_specs(experiment, seeds, evidence=evidence, ledger=ledger)
    found = {f"{prefix}setting": f"{experiment} ({setting_text(experiment)})"}
    if not specs:
        found.update({f"{prefix}n_seeds": "0", f"{prefix}text": "no run of it is recorded yet"})
        return None, {}, note, found
    df, runs = run_runs(specs, workers=workers, evidence=evidence)
    found[f"{prefix}n_seeds"] = str(df["seed"].nunique())
    return df, runs, note, found


def lira_section(experiment: str, seeds: Sequence[int], *, evidence: str = "ledger", workers: Any = 1,
                 prefix: str = "lira_", ledger: Any = None) -> dict[str, Any]:  # fmt: skip
    """LiRA in both forms on one recorded sweep: :func:`lira_effects`, :func:`lira_verdicts` and their text.

    Reads the recorded runs (:func:`ccl_lib.analysis.runs.chapter_specs`); with none recorded the
    tables are empty and the text says so.

    Args:
        experiment: a named experiment scoring ``lira`` and ``lira_reference`` (``"variants-lira-location"``);
            ``""`` skips it (empty tables, the text says so).
        seeds: its paired seeds.
        evidence: ``"ledger"`` (recorded runs only) or ``"compute"``.
        workers: parallel runs when computing.
        prefix: prefix of the findings' names.
        ledger: the ledger (default the checkout's).

    Returns:
        ``{"note", "summary", "effects", "verdicts", "findings"}``; the findings are ``<prefix>setting``,
        ``<prefix>n_seeds`` and ``<prefix>text`` (every effect and verdict in one sentence).
    """
    import pandas as pd

    from ..stats import format_interval

    df, runs, note, found = _section_runs(experiment, seeds, evidence=evidence, workers=workers, prefix=prefix,
                                          ledger=ledger)  # fmt: skip
    if df is None:
        return {"note": note, "summary": "", "effects": pd.DataFrame(), "verdicts": pd.DataFrame(), "findings": found}
    effects, verdicts = lira_effects(df), lira_verdicts(df)
    parts = []
    for r in effects[effects["metric"] == "tpr@1%"].itertuples():
        d = format_interval(r.d, r.d_low, r.d_high)
        parts.append(f"{r.defense}: TPR at 1 % FPR {r.lira:.1%} with ccl_lib's estimator, "
                     f"{r.lira_reference:.1%} with the authors' (difference {d}, {r.n} runs)")  # fmt: skip
    for r in verdicts.itertuples():
        parts.append(f"{r.defense} − vanilla with {r.attack}: {format_interval(r.d, r.d_low, r.d_high)}")
    found[f"{prefix}text"] = "; ".join(parts)
    return {"note": note, "summary": run_summary(df, runs), "effects": effects, "verdicts": verdicts, "findings": found}


def scale_effects(df, *, base: float = 0.01):
    """Each CCL loss at another scale factor minus the same loss at ``base``, paired by seed (App. E.1).

    The paper's App. E.1 scales the CCL loss by 0.01 on CIFAR-10; the CCL release's ``README.md``
    (``ml-stat-Sustech/ConvexConcaveLoss``) trains CIFAR-10 with ``--beta 0.05``.  Under SGD with weight
    decay a scale is also a learning-rate and weight-decay change (chapter 11), so each row reports the
    final training accuracy of both arms beside the changes of test accuracy and of the highest
    advantage over the paper's attacks.

    A seed on which either arm did not train (:func:`ccl_lib.verdicts.trains`, against CE's final
    training accuracy on that seed where the frame holds CE, else against
    :data:`~ccl_lib.verdicts.TRAIN_ACC_MIN` alone) is left out of the pair: a difference of advantages
    between a model that fits its members and one that does not measures the failure to train.  (A
    scorecard verdict is stricter: chapters 6, 8 and 11 exclude a whole row when an arm fails on any
    seed.  This chapter-12 row is a measurement, not a verdict, so it keeps the seeds on which both arms
    trained and names the others.)

    Args:
        df: a result frame with CCEL/CCQL runs at ``base`` and at other scales on the same seeds.
        base: the scale subtracted (App. E.1's 0.01).

    Returns:
        a frame ``defense, scale, n, train_acc, train_acc_base, d_test_acc[, _low, _high],
        d_max_adv[, _low, _high], excluded`` (``n`` and the means count the seeds on which both arms
        trained; ``excluded`` maps each left-out seed to the two final training accuracies, scaled arm
        first).
    """
    import pandas as pd

    from ..attacks import PAPER_ATTACKS
    from ..verdicts import trains

    rows_ = df[df["attack"].isin(PAPER_ATTACKS) & df["defense"].isin(["ccel", "ccql"])]
    if rows_.empty or "scale" not in rows_:
        raise ValueError("the frame holds no CCEL or CCQL run scored by the paper's attacks")
    per = rows_.groupby(["defense", "scale", "seed"]).agg(
        test_acc=("test_acc", "first"), train_acc=("train_acc", "first"), max_adv=("advantage", "max")
    )
    ce = df[df["defense"] == "vanilla"].groupby("seed")["train_acc"].first()
    out = []
    for (defense, scale), g in per.groupby(level=[0, 1]):
        if scale == base or (defense, base) not in per.index.droplevel(2):
            continue
        both = g.droplevel([0, 1]).merge(per.loc[(defense, base)], left_index=True, right_index=True,
                                         suffixes=("", "_base"))  # fmt: skip
        ce_acc = ce.reindex(both.index).fillna(1.0).to_numpy()
        fit = trains(both["train_acc"].to_numpy(), ce_acc) & trains(both["train_acc_base"].to_numpy(), ce_acc)
        excluded = {int(seed): (float(r.train_acc), float(r.train_acc_base))
                    for seed, r in both[~fit].iterrows()}  # fmt: skip
        both = both[fit]
        row: dict[str, Any] = {"defense": defense, "scale": scale, "n": len(both)}
        row.update(train_acc=both["train_acc"].mean(), train_acc_base=both["train_acc_base"].mean())
        for col in ("test_acc", "max_adv"):
            if len(both) >= 2:
                ci = difference_interval(both[col].to_numpy(), both[f"{col}_base"].to_numpy())
                row.update({f"d_{col}": ci.mean, f"d_{col}_low": ci.low, f"d_{col}_high": ci.high})
            else:
                row.update({f"d_{col}": float("nan"), f"d_{col}_low": float("nan"), f"d_{col}_high": float("nan")})
        row["excluded"] = excluded
        out.append(row)
    return pd.DataFrame(out)


def _excluded_text(excluded: dict[int, tuple[float, float]], scale: float) -> str:
    """``"; seed 4 left out because ..."`` for the seeds :func:`scale_effects` dropped (empty when none)."""
    if not excluded:
        return ""
    word = "seed" if len(excluded) == 1 else "seeds"
    accs = "; ".join(
        (f"seed {s}: " if len(excluded) > 1 else "") + f"{a:.1%} at {scale:g}, {b:.1%} at 0.01"
        for s, (a, b) in sorted(excluded.items())
    )
    seeds = ", ".join(str(s) for s in sorted(excluded))
    return f"; {word} {seeds} left out because an arm did not train (final training accuracy {accs})"


def scale_section(experiment: str, seeds: Sequence[int], *, evidence: str = "ledger", workers: Any = 1,
                  prefix: str = "scale_", ledger: Any = None) -> dict[str, Any]:  # fmt: skip
    """:func:`scale_effects` of one recorded sweep (``variants-scale-cifar10-cpu-long``) and its text by name.

    Args:
        experiment: a named experiment with CCL at scale 0.01 and another scale; ``""`` skips it.
        seeds: its paired seeds.
        evidence: ``"ledger"`` (recorded runs only) or ``"compute"``.
        workers: parallel runs when computing.
        prefix: prefix of the findings' names.
        ledger: the ledger (default the checkout's).

    Returns:
        ``{"note", "summary", "effects", "findings"}``; the findings are ``<prefix>setting``,
        ``<prefix>n_seeds`` and ``<prefix>text``.
    """
    import pandas as pd

    from ..stats import format_interval

    df, runs, note, found = _section_runs(experiment, seeds, evidence=evidence, workers=workers, prefix=prefix,
                                          ledger=ledger)  # fmt: skip
    if df is None:
        return {"note": note, "summary": "", "effects": pd.DataFrame(), "findings": found}
    eff = scale_effects(df)
    parts = [
        f"{r.defense.upper()} at scale {r.scale:g} minus at 0.01: test accuracy "
        f"{format_interval(r.d_test_acc, r.d_test_acc_low, r.d_test_acc_high)}, highest advantage "
        f"{format_interval(r.d_max_adv, r.d_max_adv_low, r.d_max_adv_high)} over {r.n} seeds (final training "
        f"accuracy {r.train_acc:.1%} and {r.train_acc_base:.1%}){_excluded_text(r.excluded, r.scale)}"
        for r in eff.itertuples()
    ]
    found[f"{prefix}text"] = "; ".join(parts) or "no pair"
    return {"note": note, "summary": run_summary(df, runs), "effects": eff, "findings": found}
