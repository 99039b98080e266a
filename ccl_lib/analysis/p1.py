"""Table 1 of Liu et al. (ICML 2024): P1 (Eq. 13) per data set for CCQL, CCEL and the undefended model.

:func:`p1_table` computes the table from a sweep (:func:`ccl_lib.plots.p1_bars` draws it next to the paper's),
and :func:`p1_verdicts` returns the changes over the undefended model that the chapter quotes.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from .runs import strongest_attack_rows

__all__ = [
    "METHOD_OF",
    "PAPER_TABULAR_RECIPE",
    "REFERENCE_COLUMNS",
    "TABLE1_METHODS",
    "gpu_records",
    "gpu_view",
    "p1_table",
    "p1_verdicts",
    "paper_gains",
    "recipe_label",
    "reference_gain",
    "table1_defenses",
    "table1_exercise_findings",
    "table1_findings",
    "table1_models",
    "table1_recipes",
    "table1_runs",
    "table1_scorecard_rows",
    "table1_setting_findings",
    "table1_summary",
    "table1_view",
]

#: Table 1's rows: ``{row name: (defense, alpha)}``.
TABLE1_METHODS: dict[str, tuple[str, Optional[float]]] = {
    "CCQL": ("ccql", 0.5),
    "CCEL": ("ccel", 0.5),
    "w/o": ("vanilla", None),
}


def p1_table(df, methods: Optional[Mapping[str, tuple[str, Optional[float]]]] = None):
    """Table 1: P1 (Eq. 13, highest advantage over all attacks) per data set and method.

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid` (one or more data sets).
        methods: ``{row name: (defense, alpha)}`` (``alpha=None`` for a defense without one);
            default :data:`TABLE1_METHODS`: CCQL and CCEL at ``alpha = 0.5`` and "w/o" (vanilla).

    Returns:
        ``(p1, details)``: ``p1`` has one row per method and one column per data set (mean over
        seeds; ``p1.attrs["seeds"]`` is the smallest number of seeds); ``details`` has test
        accuracy, highest advantage, its attack, P1, its standard deviation over seeds (NaN for
        one seed) and the number of seeds per (data set, method).
    """
    import pandas as pd

    methods = dict(TABLE1_METHODS if methods is None else methods)
    r = strongest_attack_rows(df)
    rows = []
    for name, (defense, alpha) in methods.items():
        sel = r[r["defense"] == defense]
        if alpha is not None:
            if "alpha" not in sel.columns:
                continue
            sel = sel[np.isclose(sel["alpha"].astype(float), alpha)]
        for ds, g in sel.groupby("dataset", sort=False):
            rows.append({
                "dataset": ds, "method": name, "test_acc": float(g["test_acc"].mean()),
                "max_advantage": float(g["max_advantage"].mean()),
                "worst_attack": g["worst_attack"].mode().iloc[0], "p1": float(g["p1"].mean()),
                "p1_std": float(g["p1"].std(ddof=1)) if len(g) > 1 else math.nan, "seeds": int(len(g)),
            })  # fmt: skip
    if not rows:
        raise ValueError(f"no run of the frame matches the methods {methods}")
    details = pd.DataFrame(rows)
    order = [m for m in methods if m in set(details["method"])]
    p1 = details.pivot(index="method", columns="dataset", values="p1").reindex(order)
    p1 = p1[list(dict.fromkeys(details["dataset"]))]
    p1.attrs["seeds"] = int(details["seeds"].min())
    return p1, details.set_index(["dataset", "method"])


def p1_verdicts(p1, paper) -> dict[str, Any]:
    """Chapter 8's numbers: the change of P1 over the undefended model, here and in the paper.

    Args:
        p1: :func:`p1_table`'s first result (rows ``CCQL``/``CCEL`` and ``w/o``).
        paper: :func:`ccl_lib.paper_results.table1`.

    Returns:
        a dict: ``n_raised``/``n_pairs`` (the (method, data set) pairs where CCL raises P1 here),
        ``paper_raised``/``paper_pairs``; ``change_min``/``change_max`` here,
        ``paper_change_min``/``paper_change_max``/``paper_change_median``; ``shared`` (this run's
        data sets that are in the paper's table, by its column names); ``seeds``.
    """
    from ..paper_results import DATASET_NAMES

    if "w/o" not in p1.index:
        raise ValueError(f"p1 needs the undefended row 'w/o'; it has {list(p1.index)}")
    rows = [m for m in ("CCQL", "CCEL") if m in p1.index]
    if not rows:
        raise ValueError(f"p1 needs a CCQL or CCEL row; it has {list(p1.index)}")
    ours = (p1.loc[rows] - p1.loc["w/o"]).stack()
    theirs = (paper.loc[["CCQL", "CCEL"]] - paper.loc["w/o"]).stack()
    return {
        "n_raised": int((ours > 0).sum()),
        "n_pairs": int(len(ours)),
        "paper_raised": int((theirs > 0).sum()),
        "paper_pairs": int(len(theirs)),
        "change_min": float(ours.min()),
        "change_max": float(ours.max()),
        "paper_change_min": float(theirs.min()),
        "paper_change_max": float(theirs.max()),
        "paper_change_median": float(theirs.median()),
        "shared": [d for d in p1.columns if d in DATASET_NAMES.values()],
        "seeds": p1.attrs.get("seeds"),
    }


# ------------------------------------------------------------------------------------- chapter 8 over seeds
#: Table 1's rows by registry name.
METHOD_OF: dict[str, str] = {d: m for m, (d, _) in TABLE1_METHODS.items()}

#: The paper's columns a data set that is not in Table 1 is compared with, by its kind: Location
#: and the other tabular sets with the MLP columns (Texas, Purchase), image sets with the image ones.
REFERENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "tabular": ("Texas", "Purchase"),
    "image": ("ImageNet", "CIFAR-10", "CIFAR-100"),
}


def recipe_label(epochs: int, milestones: Any, batch_size: Optional[int] = None) -> str:
    """``"30 epochs"``, ``"120 epochs, milestones 50/100"`` or ``"400 epochs, batch 16"``: a recipe in a few words.

    Args:
        epochs: training epochs.
        milestones: the epochs at which the learning rate drops 10x (a list, possibly empty, or its
            text ``"[50, 100]"`` as a result frame holds it).
        batch_size: named when given and not Sec. 5.1's 128.
    """
    if isinstance(milestones, str):  # a result frame holds them as text, "[50, 100]"
        milestones = [m for m in milestones.strip("[]() ").replace(",", " ").split()]
    ms = [int(m) for m in (milestones or [])]
    batch = f", batch {int(batch_size)}" if batch_size is not None and int(batch_size) != 128 else ""
    return f"{int(epochs)} epochs" + (f", milestones {'/'.join(str(m) for m in ms)}" if ms else "") + batch


def paper_gains(method: str, columns: Optional[Sequence[str]] = None) -> dict[str, float]:
    """The paper's P1 change of ``method`` over the undefended model per Table 1 column (Sec. 5.2).

    Args:
        method: ``"CCQL"`` or ``"CCEL"``.
        columns: Table 1 columns (default: all five).
    """
    from ..paper_results import PAPER_DATASETS, TABLE1_P1

    if method not in ("CCQL", "CCEL"):
        raise ValueError(f"method must be 'CCQL' or 'CCEL', got {method!r}")
    cols = list(PAPER_DATASETS if columns is None else columns)
    unknown = [c for c in cols if c not in PAPER_DATASETS]
    if unknown:
        raise ValueError(f"unknown Table 1 column(s) {unknown}; Table 1 has {list(PAPER_DATASETS)}")
    return {c: float(TABLE1_P1[method][c]) - float(TABLE1_P1["w/o"][c]) for c in cols}


def reference_gain(method: str, dataset: str) -> tuple[float, str]:
    """The paper's effect a P1 change on ``dataset`` is compared with, and where it comes from.

    A data set of Table 1 is compared with its own column (the JPEG copy of CIFAR-10,
    ``cifar10-jpeg``, with CIFAR-10's); any other with the **smallest** gain of the columns of its
    kind (:data:`REFERENCE_COLUMNS`; Location: Texas and Purchase), so that "smaller than the
    paper's" means smaller than every comparable gain the paper reports.

    Args:
        method: ``"CCQL"`` or ``"CCEL"``.
        dataset: a data set name of :func:`ccl_lib.data.load_dataset`.

    Returns:
        ``(gain, "the smallest of Table 1's tabular columns (Purchase, +0.010)")``-style pairs.
    """
    from ..experiments.values import dataset_kind
    from ..paper_results import DATASET_NAMES

    own = {v: k for k, v in DATASET_NAMES.items()}.get(dataset.removesuffix("-jpeg"))
    if own is not None:
        g = paper_gains(method, [own])[own]
        return g, f"Table 1's {own} column ({g:+.3f})"
    kind = dataset_kind(dataset)
    gains = paper_gains(method, REFERENCE_COLUMNS[kind])
    col = min(gains, key=lambda c: gains[c])
    return gains[col], f"the smallest gain of Table 1's {kind} columns ({col}, {gains[col]:+.3f})"


def table1_runs(df, *, column: str = "advantage", attacks: Any = None):
    """One row per run of a Table 1 sweep: P1 both ways (Eq. 13 and the release's ``p_score``).

    Args:
        df: a result frame of :func:`ccl_lib.analysis.runs.run_runs` with vanilla, CCEL and CCQL runs.
        column: the advantage behind P1: ``"advantage"`` (the attacker's shadow-learned rule) or
            ``"advantage_oracle"`` (thresholds chosen on the target).
        attacks: the attacks that count (:func:`ccl_lib.attacks.p1_from_report`; ``None``: the paper's).

    Returns:
        a frame ``dataset, recipe, method, seed, test_acc, train_acc, max_advantage, worst_attack, p1,
        p1_release`` (``p1_release``: :func:`ccl_lib.metrics.p1_release` with the loss attack's accuracy;
        ``train_acc``: the final training accuracy, NaN where the frame has none).
    """
    import pandas as pd

    from ..attacks import p1_from_report

    rows = []
    for _, g in df[df["defense"].isin(list(METHOD_OF))].groupby("run_id", sort=False):
        acc = float(g["test_acc"].iloc[0])
        sel = g[g["paper_attack"].astype(bool)] if attacks is None else (g if attacks == "all" else
                                                                          g[g["attack"].isin(attacks)])  # fmt: skip
        top = sel.loc[sel[column].idxmax()]
        rows.append({
            "dataset": g["dataset"].iloc[0],
            "recipe": recipe_label(g["epochs"].iloc[0], g["milestones"].iloc[0], g["batch_size"].iloc[0]
                                   if "batch_size" in g else None),
            "method": METHOD_OF[g["defense"].iloc[0]], "seed": int(g["seed"].iloc[0]), "test_acc": acc,
            "train_acc": float(g["train_acc"].iloc[0]) if "train_acc" in g else math.nan,
            "max_advantage": float(top[column]), "worst_attack": str(top["attack"]),
            "p1": float(p1_from_report(g, acc, column=column, attacks=attacks)),
            "p1_release": float(p1_from_report(g, acc, variant="release")) if "loss" in set(g["attack"]) else math.nan,
        })  # fmt: skip
    if not rows:
        raise ValueError("the frame holds no vanilla, CCEL or CCQL run")
    return pd.DataFrame(rows)


def table1_summary(per_run):
    """Per (data set, recipe, method): mean P1 both ways with 95 % intervals, and for CCEL/CCQL the
    paired change of P1 over the undefended model with its verdict against :func:`reference_gain`.

    A CCL arm that did not train on some seed (:func:`ccl_lib.verdicts.trains` against the
    undefended model's training accuracy on that seed) keeps its numbers, but its verdict is
    *excluded*: a P1 change between a model that fits its members and one that does not measures
    the failure to train (issue 20 item 5).

    Args:
        per_run: :func:`table1_runs`.

    Returns:
        a frame (``trained``: every seed's arm trained); ``attrs["verdicts"]`` is
        ``{(dataset, recipe, method): Verdict}``, ``attrs["references"]``
        ``{(dataset, method): (gain, source)}`` and ``attrs["excluded"]``
        ``{(dataset, recipe, method): reason}``.
    """
    import pandas as pd

    from ..verdicts import difference_interval, seed_interval, trains, verdict

    rows, verdicts, refs, excluded = [], {}, {}, {}
    for (ds, rec, m), g in per_run.groupby(["dataset", "recipe", "method"], sort=False):
        iv, ivr = seed_interval(g["p1"]), seed_interval(g["p1_release"].dropna())
        row = {"dataset": ds, "recipe": rec, "method": m, "test_acc": g["test_acc"].mean(),
               "train_acc": g["train_acc"].mean() if "train_acc" in g else math.nan, "trained": True,
               "max_advantage": g["max_advantage"].mean(), "worst_attack": g["worst_attack"].mode().iloc[0],
               "p1": iv.mean, "p1_low": iv.low, "p1_high": iv.high, "seeds": iv.n,
               "p1_release": ivr.mean, "p1_release_low": ivr.low, "p1_release_high": ivr.high}  # fmt: skip
        base = per_run[(per_run["dataset"] == ds) & (per_run["recipe"] == rec) & (per_run["method"] == "w/o")]
        if m != "w/o" and len(base):
            b, mine = base.set_index("seed"), g.set_index("seed")
            common = sorted(set(b.index) & set(mine.index))
            d = difference_interval(mine.loc[common, "p1"], b.loc[common, "p1"], paired=True)
            refs[(ds, m)] = reference_gain(m, ds)
            v = verdicts[(ds, rec, m)] = verdict(d, paper_effect=refs[(ds, m)][0])
            if "train_acc" in g:
                acc, base_acc = mine.loc[common, "train_acc"], b.loc[common, "train_acc"]
                if acc.notna().all() and base_acc.notna().all():
                    row["trained"] = bool(all(trains(acc.to_numpy(), base_acc.to_numpy())))
            if not row["trained"]:
                excluded[(ds, rec, m)] = (
                    f"{m} does not fit its training set on every seed in this recipe (final training accuracy "
                    f"{acc.mean():.1%}, lowest {acc.min():.1%}, against the undefended model's {base_acc.mean():.1%}): "
                    "a model that did not train (it needs >= 95 %, or within 5 points of the undefended model's, "
                    "on every seed)"
                )
            dr = difference_interval(mine.loc[common, "p1_release"], b.loc[common, "p1_release"], paired=True)
            row.update(
                {
                    "change": d.mean,
                    "change_low": d.low,
                    "change_high": d.high,
                    "verdict": "excluded: did not train" if not row["trained"] else _short_label(v),
                    "change_release": dr.mean,
                    "change_release_low": dr.low,
                    "change_release_high": dr.high,
                }
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(verdicts=verdicts, references=refs, excluded=excluded)
    return out


#: The paper's tabular recipe (Sec. 5.1, Texas and Purchase): 120 epochs, lr / 10 at epochs 50 and 100.
PAPER_TABULAR_RECIPE: dict[str, Any] = {"epochs": 120, "milestones": [50, 100]}


def table1_recipes(epochs: int, milestones: Sequence[int], paper_recipe: bool) -> list[tuple[int, list[int]]]:
    """The recipes chapter 8 runs: ``(epochs, milestones)``, then the paper's tabular recipe if asked
    (:data:`PAPER_TABULAR_RECIPE`) and different.

    Args:
        epochs: the book's setting's epochs.
        milestones: its learning-rate milestones.
        paper_recipe: also run :data:`PAPER_TABULAR_RECIPE`.
    """
    out = [(int(epochs), [int(m) for m in milestones])]
    paper = (PAPER_TABULAR_RECIPE["epochs"], list(PAPER_TABULAR_RECIPE["milestones"]))
    return out + [paper] if paper_recipe and paper not in out else out


def table1_defenses(alpha: float) -> dict[str, list[dict[str, float]]]:
    """The ``defenses`` of :func:`ccl_lib.experiments.grid` for Table 1: CE, CCEL and CCQL at ``alpha``.

    Args:
        alpha: the CCL weight of cross-entropy (Table 1: 0.5).
    """
    return {"vanilla": [{}], "ccel": [{"alpha": float(alpha)}], "ccql": [{"alpha": float(alpha)}]}


def _iv(r: Any, col: str, digits: int = 3) -> str:
    from ..verdicts import SeedInterval

    if not np.isfinite(getattr(r, col)):
        return ""
    return SeedInterval(getattr(r, col), getattr(r, f"{col}_low"), getattr(r, f"{col}_high"), int(r.seeds)).format(
        digits=digits
    )


def table1_view(summary, paper, attack_labels: Optional[Mapping[str, str]] = None):
    """Chapter 8's tables for reading: P1 both ways beside the paper's, and what each P1 is made of.

    Args:
        summary: :func:`table1_summary`.
        paper: :func:`ccl_lib.paper_results.table1`.
        attack_labels: display names of the attacks (default: the registry names).

    Returns:
        ``(side, made_of)``: P1 per method (columns) and (definition, data set and recipe) (rows) with
        its interval, the release's P1 and the paper's data sets (three columns, so that the table fits
        the text column); the accuracy, highest advantage, worst attack,
        paired change over w/o (both definitions) and verdict per (data set, recipe, method).
    """
    import pandas as pd

    s = summary.assign(cell=[_iv(r, "p1") for r in summary.itertuples()],
                       cell_r=[_iv(r, "p1_release") for r in summary.itertuples()])  # fmt: skip
    order = [m for m in TABLE1_METHODS if m in set(s["method"])]
    cols = {"P1 (paper's text)": "cell", "P1 (release's p_score)": "cell_r"}
    s["column"] = s["dataset"] + ", " + s["recipe"]
    columns = list(dict.fromkeys(s["column"]))
    parts = {k: s.pivot(index="method", columns="column", values=v).reindex(order)[columns] for k, v in cols.items()}
    parts["the paper (one run)"] = paper.reindex(order).map(lambda v: f"{v:.3f}")
    side = pd.concat(parts, axis=1).T
    side.columns.name = None
    labels = dict(attack_labels or {})
    made_of = pd.DataFrame({
        "test_acc": s["test_acc"].to_numpy(), "max_advantage": s["max_advantage"].to_numpy(),
        "worst attack": [labels.get(a, a) for a in s["worst_attack"]], "P1": s["p1"].to_numpy(),
        "change over w/o (95 %)": [_iv(r, "change") if "change" in s else "" for r in s.itertuples()],
        "change of the release's P1": [_iv(r, "change_release") if "change" in s else "" for r in s.itertuples()],
        "verdict": s["verdict"].fillna("").to_numpy() if "verdict" in s else "", "seeds": s["seeds"].to_numpy(),
    }, index=pd.MultiIndex.from_frame(s[["dataset", "recipe", "method"]]))  # fmt: skip
    return side, made_of


def _short_label(v: Any) -> str:
    """A verdict's label for a table cell: ``"inconclusive (~9 seeds)"`` for the long inconclusive form."""
    from ..verdicts import INCONCLUSIVE

    if v.word == INCONCLUSIVE and v.seeds_needed is not None:
        return f"{INCONCLUSIVE} (~{v.seeds_needed} seeds)"
    return v.label()


def _tag(dataset: str) -> str:
    """A data set's name as part of a finding's name (``cifar10-jpeg`` -> ``cifar10_jpeg``)."""
    return re.sub(r"\W", "_", dataset)


def table1_findings(summary, per_run, paper) -> dict[str, Any]:
    """What chapter 8's prose states, by name (glued as ``ch08_<name>``).

    The values of the first data set and recipe (``first``, ``wo_p1``, ``ccql_acc``, ...), the counts of
    verdicts over every (data set, recipe, method) not excluded (``n_excluded``), the range of P1 changes
    here and in the paper,
    each verdict's text (``v_<dataset>_<method>`` for a data set's first recipe, ``vp_<dataset>_<method>``
    for its second; ``<dataset>`` with ``-`` as ``_``), the reference gains, and the P1 definitions' arithmetic
    (:func:`ccl_lib.paper_results.p1_consistency`).

    Args:
        summary: :func:`table1_summary`.
        per_run: :func:`table1_runs`.
        paper: :func:`ccl_lib.paper_results.table1`.
    """
    from ..paper_results import p1_consistency
    from ..verdicts import AGREES, INCONCLUSIVE, NO_VERDICT, NOT_REPRODUCED, OPPOSITE, SMALLER, verdict

    vs = summary.attrs["verdicts"]
    excluded = summary.attrs.get("excluded", {})
    words = [v.word for k, v in vs.items() if k not in excluded]
    first = str(summary["dataset"].iloc[0])
    recipes = list(dict.fromkeys(summary.loc[summary["dataset"] == first, "recipe"]))
    rec0 = recipes[0]
    loc = summary[(summary["dataset"] == first) & (summary["recipe"] == rec0)].set_index("method")
    out: dict[str, Any] = {"first": first, "recipe": rec0, "paper_recipe": recipes[1] if len(recipes) > 1 else "none"}
    for m, tag in (("CCQL", "ccql"), ("CCEL", "ccel"), ("w/o", "wo")):
        for col, name in (("p1", "p1"), ("test_acc", "acc"), ("max_advantage", "adv"), ("p1_release", "p1r")):
            out[f"{tag}_{name}"] = float(loc.loc[m, col]) if m in loc.index else math.nan
    out["worst_attack"] = str(loc.loc["w/o", "worst_attack"]).replace("_", " ") if "w/o" in loc.index else "n/a"
    out.update(n_pairs=len(words), n_excluded=len(excluded), n_agrees=words.count(AGREES),
               n_smaller=words.count(SMALLER),
               n_not=sum(w in (NOT_REPRODUCED, OPPOSITE) for w in words),
               n_inconclusive=sum(w in (INCONCLUSIVE, NO_VERDICT) for w in words))  # fmt: skip
    kept = summary[summary["trained"]] if "trained" in summary else summary
    ch = kept.dropna(subset=["change"]) if "change" in summary else summary.iloc[:0]
    out.update(change_min=float(ch["change"].min()), change_max=float(ch["change"].max()))
    theirs = (paper.loc[["CCQL", "CCEL"]] - paper.loc["w/o"]).stack()
    out.update(paper_change_min=float(theirs.min()), paper_change_max=float(theirs.max()))
    first_recipe = {ds: g["recipe"].iloc[0] for ds, g in summary.groupby("dataset", sort=False)}
    for (ds, rec, m), v in vs.items():
        out[f"{'v' if rec == first_recipe[ds] else 'vp'}_{_tag(ds)}_{m.lower()}"] = v.text(digits=3)
    for (ds, m), (_gain, source) in summary.attrs["references"].items():
        out[f"ref_{_tag(ds)}_{m.lower()}"] = source
        if ds == first:
            texas = paper_gains(m, ["Texas"])["Texas"]
            for rec in recipes:
                v = vs.get((ds, rec, m))
                if v is not None:
                    key = f"{'vt' if rec == rec0 else 'vtp'}_{_tag(ds)}_{m.lower()}"
                    out[key] = verdict(v.interval, paper_effect=texas).label(digits=3)
    out.update({f"texas_{m.lower()}": paper_gains(m, ["Texas"])["Texas"] for m in ("CCQL", "CCEL")})
    cons = p1_consistency()
    bad = cons[~cons["release_possible"]]
    out.update(n_release_impossible=int(len(bad)), n_table1=int(len(cons)),
               release_impossible_cols=", ".join(dict.fromkeys(bad["dataset"])) or "none",
               p1_release_max=float(per_run["p1_release"].max()))  # fmt: skip
    return out


def table1_setting_findings(summary, dataset: str, *, prefix: str = "img_") -> dict[str, str]:
    """One data set's Table 1 rows in words, by name: what chapter 8 says of a second setting (the images).

    Names (each prefixed): ``recipe`` (its recipes), ``seeds`` (paired seeds), ``p1`` (P1 of w/o, CCEL,
    CCQL), ``train_acc`` (their final training accuracies), ``v_ccql`` and ``v_ccel`` (the verdicts of
    the P1 change, first recipe, or why the row is excluded).  Where ``summary``
    holds no row of ``dataset`` (not recorded, or not asked for), every name says so, so that the
    chapter's prose still builds.

    Args:
        summary: :func:`table1_summary`.
        dataset: the data set (``"cifar10-jpeg"``).
        prefix: prepended to every name.
    """
    rows = summary[summary["dataset"] == dataset]
    if rows.empty:
        none = "not recorded in this build"
        return {f"{prefix}{k}": none for k in ("recipe", "seeds", "p1", "train_acc", "v_ccql", "v_ccel")}
    rec0 = rows["recipe"].iloc[0]
    first = rows[rows["recipe"] == rec0].set_index("method")
    vs = summary.attrs["verdicts"]
    out = {
        f"{prefix}recipe": " and ".join(dict.fromkeys(rows["recipe"])),
        f"{prefix}seeds": str(int(first["seeds"].max())),
        f"{prefix}p1": ", ".join(f"{m} {first.loc[m, 'p1']:.3f}" for m in TABLE1_METHODS if m in first.index),
        f"{prefix}train_acc": ", ".join(
            f"{m} {first.loc[m, 'train_acc']:.1%}" for m in TABLE1_METHODS if m in first.index
        ),
    }
    excluded = summary.attrs.get("excluded", {})
    for m in ("CCQL", "CCEL"):
        v, why = vs.get((dataset, rec0, m)), excluded.get((dataset, rec0, m))
        text = v.text(digits=3) if v is not None else "no paired run"
        out[f"{prefix}v_{m.lower()}"] = f"excluded, {why} (its interval, for the record: {text})" if why else text
    return out


def table1_models(df) -> dict[str, str]:
    """``{data set: "mlp"}`` or ``{"cifar10-jpeg": "resnet8, CCL scale 0.01"}``: each data set's model, and
    CCL's loss scale where it is not 1 (App. E.1), for the scorecard's setting words.

    Args:
        df: a Table 1 result frame (:func:`ccl_lib.analysis.runs.run_runs`).
    """
    out = {}
    for ds, g in df.groupby("dataset", sort=False):
        scales = sorted({float(x) for x in g.loc[g["defense"].isin(["ccel", "ccql"]), "scale"].dropna()}
                        if "scale" in g else [])  # fmt: skip
        extra = f", CCL scale {'/'.join(f'{x:g}' for x in scales)}" if scales and scales != [1.0] else ""
        out[str(ds)] = f"{g['model'].iloc[0]}{extra}"
    return out


def table1_scorecard_rows(summary, *, models: Mapping[str, str]) -> list[dict[str, Any]]:
    """Chapter 8's scorecard rows (item Table 1), one per (data set, recipe, method), for
    :func:`ccl_lib.scorecard.record_all`.

    Args:
        summary: :func:`table1_summary`.
        models: ``{data set: model name}`` (for the setting's words).
    """
    from ..verdicts import AGREES

    refs = summary.attrs["references"]
    rows = []
    for (ds, rec, m), v in summary.attrs["verdicts"].items():
        setting = f"{ds}, {models.get(ds, '?')}, {rec}, {m} alpha=0.5, {v.interval.n} seeds; P1 change over w/o"
        cause = "" if v.word == AGREES else (
            f"compared with {refs[(ds, m)][1]}; CPU scale: {models.get(ds, '?')} on {ds} (the paper: Texas/Purchase "
            "MLPs for 120 epochs, CIFAR/ImageNet networks for 90-300); CCL fits its members about as the undefended "
            "model does (chapter 5), so accuracy and the highest advantage barely move")  # fmt: skip
        why = summary.attrs.get("excluded", {}).get((ds, rec, m), "")
        row = {"item": "Table 1", "setting": setting, "verdict": v, "cause": why or cause, "digits": 3}
        rows.append({**row, "excluded": why} if why else row)
    return rows


def table1_exercise_findings(df, summary, per_run) -> dict[str, Any]:
    """Chapter 8's exercise answers: P1 with the oracle advantage, and with every attack of the suite.

    Args:
        df: the sweep's result frame.
        summary: :func:`table1_summary`.
        per_run: :func:`table1_runs`.

    Returns:
        ``ex1_drop_min``/``ex1_drop_max`` (how far the oracle lowers P1), ``ex1_rank`` and ``ex1_changed``
        (whether and where the ranking changes); ``ex2_n_extra``, ``ex2_n_runs``, ``ex2_drop_max``.
    """
    from ..attacks import is_paper_attack

    oracle = table1_summary(table1_runs(df, column="advantage_oracle"))
    key = ["dataset", "recipe", "method"]
    drop = summary.set_index(key)["p1"] - oracle.set_index(key)["p1"]
    changed = []
    for (ds, rec), g in summary.groupby(["dataset", "recipe"], sort=False):
        o = oracle[(oracle["dataset"] == ds) & (oracle["recipe"] == rec)]
        if (
            g.sort_values("p1", ascending=False)["method"].tolist()
            != o.sort_values("p1", ascending=False)["method"].tolist()
        ):
            changed.append(ds if summary["recipe"].nunique() == 1 else f"{ds} ({rec})")
    every = table1_runs(df, attacks="all")
    return {
        "ex1_drop_min": float(drop.min()),
        "ex1_drop_max": float(drop.max()),
        "ex1_rank": "different" if changed else "the same",
        "ex1_changed": ", ".join(changed) if changed else "every data set",
        "ex2_n_extra": int((~every["worst_attack"].map(is_paper_attack)).sum()),
        "ex2_n_runs": int(len(every)),
        "ex2_drop_max": float((per_run["p1"] - every["p1"]).max()),
    }


def gpu_records(folder: Any) -> list[tuple[Any, dict[str, Any]]]:
    """The non-smoke records of ``benchmarks/paper_gpu.py`` in ``folder``, checked, newest first.

    A record is used only if it is a JSON object of kind ``paper_gpu``, format 1, not a smoke run,
    whose ``table`` rows each give ``defense`` and numeric ``test_acc``, ``max_advantage`` and ``p1``.

    Args:
        folder: the folder of recorded GPU runs (chapter 8's ``gpu_results``).

    Returns:
        ``[(path, record)]``, newest (by its provenance date) first.
    """
    import json
    from pathlib import Path

    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        ok = isinstance(rec, dict) and rec.get("kind") == "paper_gpu" and rec.get("format") == 1
        rows = rec.get("table") if ok and rec.get("smoke") is False else None
        if not (isinstance(rows, list) and rows and all(
            isinstance(r, dict) and {"defense", "test_acc", "max_advantage", "p1"} <= set(r)
            and all(isinstance(r[k], (int, float)) for k in ("test_acc", "max_advantage", "p1")) for r in rows
        )):  # fmt: skip
            continue
        out.append((p, rec))
    return sorted(out, key=lambda pr: str(pr[1].get("provenance", {}).get("date", "")), reverse=True)


def gpu_view(path: Any, record: Mapping[str, Any], paper) -> tuple[str, Any]:
    """One recorded GPU run for reading: a line on what ran where, and its table beside the paper's CIFAR-10 P1.

    Args:
        path: the record's file.
        record: the record (:func:`gpu_records`).
        paper: :func:`ccl_lib.paper_results.table1`.
    """
    import pandas as pd

    st, prov = record.get("settings", {}), record.get("provenance", {})
    order = list(TABLE1_METHODS)
    gpu = pd.DataFrame(record["table"]).assign(method=lambda t: t["defense"].map(METHOD_OF))
    gpu = gpu.set_index("method").reindex(order)
    gpu["paper P1"] = paper.reindex(order)["CIFAR-10"]
    line = (f"`{getattr(path, 'name', path)}`: {st.get('model')} on {st.get('dataset')}, {st.get('size_per_part')} "
            f"per part, {st.get('epochs')} of {st.get('paper_epochs')} epochs, seed {st.get('seed')}; "
            f"{prov.get('gpu') or prov.get('device', '?')}, commit {str(prov.get('commit', '?'))[:10]}, "
            f"{prov.get('date', '?')}.")  # fmt: skip
    return line, gpu[["test_acc", "max_advantage", "p1", "paper P1"]]
