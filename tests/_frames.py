"""Hand-built result frames (the columns of ccl_lib.experiments.run_grid) for the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ccl_lib.metrics import p1_score


def row(run_id, defense, attack, adv, acc, setting=None, dataset="toy", **extra):
    return {"run_id": run_id, "key": run_id.split("@")[0], "dataset": dataset, "defense": defense,
            "setting": setting or f"{defense}", "attack": attack, "advantage": adv, "test_acc": acc,
            "train_acc": extra.pop("train_acc", 1.0), "train_loss_var": extra.pop("train_loss_var", 0.0),
            **extra}  # fmt: skip


def frame(rows):
    """Add the engine's per-run columns max_advantage and p1 (Eq. 13 with the highest advantage)."""
    df = pd.DataFrame(rows)
    df["max_advantage"] = df.groupby("run_id")["advantage"].transform("max")
    df["p1"] = [p1_score(a, m) for a, m in zip(df["test_acc"], df["max_advantage"])]
    return df


def hist(values, **cols):
    n = len(values)
    return pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss_var": values, **cols})
