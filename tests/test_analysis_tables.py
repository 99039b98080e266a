"""ccl_lib.analysis.runs and .tables: reductions of a sweep, on hand-built frames with known answers."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pandas as pd
import pytest
from _frames import frame, hist, row

from ccl_lib.analysis.runs import mean_history, run_runs, run_summary, select_runs, short_setting, strongest_attack_rows
from ccl_lib.analysis.tables import alpha_table, history_table, setting_table
from ccl_lib.metrics import p1_score


def _alpha_frame():
    rows = []
    for i, (alpha, acc, advs) in enumerate([(0.1, 0.4, (0.2, 0.3)), (0.5, 0.5, (0.6, 0.4)), (0.9, 0.55, (0.7, 0.75))]):
        for atk, adv in zip(("loss", "nn"), advs):
            rows.append(row(f"c{i}", "ccql", atk, adv, acc, setting=f"ccql({alpha})", alpha=alpha,
                            train_loss_var=1.0 / (i + 1)))  # fmt: skip
    for atk, adv in zip(("loss", "nn"), (0.8, 0.7)):
        rows.append(row("v", "vanilla", atk, adv, 0.56, train_loss_var=0.01))
    return frame(rows)


def test_alpha_table_and_setting_table():
    df = _alpha_frame()
    t = alpha_table(df, defenses=("ccql",)).set_index(["defense", "alpha"])
    assert t.loc[("ccql", 0.5), "max_advantage"] == 0.6
    assert t.loc[("ccql", 0.5), "worst_attack"] == "loss"
    assert t.loc[("ccql", 0.9), "worst_attack"] == "nn"
    assert t.loc[("vanilla", 1.0), "test_acc"] == 0.56  # vanilla is CCL with alpha = 1 (Eq. 4)
    assert t.loc[("ccql", 0.1), "train_loss_var"] == 1.0 and (t["seeds"] == 1).all()
    s = setting_table(df).set_index("setting")
    assert s.loc["ccql(0.1)", "p1"] == pytest.approx(p1_score(0.4, 0.3))
    assert s.loc["vanilla", "worst_attack"] == "loss"
    with pytest.raises(ValueError, match="no 'alpha' column"):
        alpha_table(df.drop(columns=["alpha"]))


def test_strongest_attack_rows_keeps_the_highest_advantage_per_run():
    r = strongest_attack_rows(_alpha_frame()).set_index("run_id")
    assert r.loc["c1", "worst_attack"] == "loss" and r.loc["c2", "worst_attack"] == "nn"
    assert len(r) == 4
    with pytest.raises(ValueError, match="lacks columns"):
        strongest_attack_rows(pd.DataFrame({"run_id": [1]}))


def test_history_table_and_mean_history():
    a = hist([1.0, 2.0, 3.0, 4.0, 5.0], test_acc=[0.1, 0.2, 0.3, 0.4, 0.5], train_loss_mean=[1.0] * 5)
    b = hist([3.0, 2.0, 1.0, 0.0, 1.0], test_acc=[0.5, 0.4, 0.3, 0.2, 0.1], train_loss_mean=[2.0] * 5)
    t = history_table({"A": a, "B": b}, columns=("train_loss_var", "test_acc"), every=2)
    assert list(t.index) == [1, 3, 5]  # every second epoch, and the last
    assert t[("train_loss_var", "B")].tolist() == [3.0, 1.0, 1.0]
    # the relative variance is derived: variance / mean^2
    rel = history_table({"B": b}, columns=("train_loss_rel_var",))
    assert rel[("train_loss_rel_var", "B")].tolist() == [0.75, 0.5, 0.25, 0.0, 0.25]
    m = mean_history([a, b])
    assert m["train_loss_var"].tolist() == [2.0, 2.0, 2.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="lacks columns"):
        history_table({"A": a}, columns=("auc",))
    with pytest.raises(ValueError, match="every"):
        history_table({"A": a}, every=0)


def test_short_setting():
    assert short_setting("location/mlp ccql(alpha=0.5, scale=1) size=1000") == "ccql(alpha=0.5, scale=1)"
    assert short_setting("digits/mlp vanilla") == "vanilla"
    es = "location/mlp early_stopping(epochs=[5,10,20]) size=1000 stop=10"
    assert short_setting(es) == "early_stopping(epochs=[5,10,20]) stop=10"


def test_select_runs_and_run_summary():
    def run(key, defense, seed, **hp):
        spec = NS(defense=defense, hparams=hp, seed=seed, dataset="toy")
        return NS(key=key, spec=spec, meta={"split_sizes": {"target_train": 100}})

    runs = {r.key: r for r in [run("a", "ccql", 1, alpha=0.5), run("b", "ccql", 0, alpha=0.5),
                               run("c", "ccql", 0, alpha=0.3), run("d", "vanilla", 0)]}  # fmt: skip
    assert [r.key for r in select_runs(runs, "ccql", alpha=0.5)] == ["b", "a"]  # by seed
    assert [r.key for r in select_runs(runs, "vanilla")] == ["d"]
    with pytest.raises(ValueError, match="no run of defense 'ccel'"):
        select_runs(runs, "ccel")
    df = pd.DataFrame({"attack": ["loss", "nn", "loss"]})
    df.attrs["summary"] = {"computed": 3, "cached": 1}
    assert run_summary(df, runs) == (
        "4 runs on toy (100 training examples per model); computed 3, cached 1; attacks: loss, nn"
    )


def test_run_runs_rejects_what_is_not_a_spec():
    with pytest.raises(ValueError, match="non-empty list of RunSpec"):
        run_runs([])
    with pytest.raises(ValueError, match="non-empty list of RunSpec"):
        run_runs(["location vanilla"])
