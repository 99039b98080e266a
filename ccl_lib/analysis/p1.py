"""Table 1 of Liu et al. (ICML 2024): P1 (Eq. 13) per data set for CCQL, CCEL and the undefended model.

:func:`p1_table` computes the table from a sweep (:func:`ccl_lib.plots.p1_bars` draws it next to the paper's),
and :func:`p1_verdicts` returns the changes over the undefended model that the chapter quotes.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from .runs import strongest_attack_rows

__all__ = ["TABLE1_METHODS", "p1_table", "p1_verdicts"]

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
