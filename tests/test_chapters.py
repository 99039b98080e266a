"""ccl_lib.chapters: the reductions behind the experiment chapters (notebooks 04-09),
checked on hand-built result frames whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from ccl_lib import chapters
from ccl_lib.metrics import p1_score


def _row(run_id, defense, attack, adv, acc, setting=None, dataset="toy", **extra):
    return {"run_id": run_id, "key": run_id.split("@")[0], "dataset": dataset, "defense": defense,
            "setting": setting or f"{defense}", "attack": attack, "advantage": adv, "test_acc": acc,
            "train_acc": extra.pop("train_acc", 1.0), "train_loss_var": extra.pop("train_loss_var", 0.0), **extra}


def _frame(rows):
    """Add the engine's per-run columns max_advantage and p1 (Eq. 13 with the highest advantage)."""
    df = pd.DataFrame(rows)
    df["max_advantage"] = df.groupby("run_id")["advantage"].transform("max")
    df["p1"] = [p1_score(a, m) for a, m in zip(df["test_acc"], df["max_advantage"])]
    return df


# --------------------------------------------------------------------------- parameters


def test_param_list_parses_papermill_strings():
    assert chapters.param_list("[0.2, 0.8]", "alphas") == [0.2, 0.8]
    assert chapters.param_list([150, 225]) == [150, 225]
    assert chapters.param_list((1,)) == [1]
    assert chapters.param_list(5) == [5]
    assert chapters.param_list(None) == [] and chapters.param_list("  ") == []
    assert chapters.param_list('["location", "digits"]') == ["location", "digits"]
    with pytest.raises(ValueError, match="alphas must be a list literal"):
        chapters.param_list("[0.2, 0.8", "alphas")
    with pytest.raises(ValueError, match="must be a list"):
        chapters.param_list({"a": 1}, "alphas")


def test_fit_part_size_uses_the_data_set_size():
    # scikit-learn's digits has 1,797 examples: 4 parts of 449 fit, 4 of 450 do not.
    assert chapters.fit_part_size("digits", 449) == 449
    assert chapters.fit_part_size("digits", 450) is None
    assert chapters.fit_part_size("digits", 359, n_parts=5) == 359
    assert chapters.fit_part_size("digits", 360, n_parts=5) is None
    assert chapters.fit_part_size("digits", None) is None
    with pytest.raises(ValueError, match="positive integer"):
        chapters.fit_part_size("digits", 0)


def test_defense_grid_builds_valid_specs():
    from ccl_lib.defenses import DEFENSE_NAMES, paper_grid
    from ccl_lib.experiments import grid

    cpu = chapters.defense_grid("cpu", [0.2, 0.8], epochs=30)
    assert set(cpu) == {"vanilla", "ccel", "ccql", *chapters.BASELINES}
    assert set(chapters.BASELINES) < set(DEFENSE_NAMES) and len(chapters.BASELINES) == 7
    specs = grid("location", cpu, epochs=30)
    n_expected = 1 + 2 + 2 + sum(len(g) for g in chapters.CPU_GRIDS.values())
    assert len(specs) == n_expected
    # early-stopping checkpoints are given in the paper's 300 epochs and rescaled to 30
    es = [s for s in specs if s.defense == "early_stopping"]
    assert [list(s.hparams["epochs"]) for s in es] == [[5, 10, 20]]
    paper = chapters.defense_grid("paper")
    assert paper["ccql"] == "paper" and paper["dropout"] == "paper"
    n_paper = len(grid("location", paper, epochs=300))
    assert n_paper == 1 + sum(len(paper_grid(d)) for d in ["ccel", "ccql"]) + sum(
        len(paper_grid(d)) for d in chapters.BASELINES
    )
    assert chapters.defense_grid({"dropout": [{"rate": 0.5}]}) == {"vanilla": [{}], "dropout": [{"rate": 0.5}]}
    with pytest.raises(ValueError, match="grid must be 'paper', 'cpu'"):
        chapters.defense_grid("small")
    with pytest.raises(ValueError, match="unknown defense"):
        chapters.defense_grid({"dropuot": [{}]})
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        chapters.defense_grid("cpu", epochs=0)
    with pytest.raises(ValueError, match="alphas must be"):
        chapters.defense_grid("cpu", [1.5])


# --------------------------------------------------------------------------- Fig. 1 / 5


def _hist(values, **cols):
    n = len(values)
    return pd.DataFrame({"epoch": np.arange(1, n + 1), "train_loss_var": values, **cols})


def test_compare_histories_counts_epochs():
    a = _hist([0.5, 0.2, 0.3, 0.01])
    b = _hist([0.6, 0.1, 0.4, 0.001])
    out = chapters.compare_histories(a, b)
    assert out["epochs"] == 4 and out["a_below"] == 2 and out["a_below_epochs"] == [1, 3]
    assert out["a_last"] == 0.01 and out["b_last"] == 0.001
    assert out["a_peak"] == 0.5 and out["b_peak"] == 0.6
    assert out["a_mean"] == pytest.approx(np.mean([0.5, 0.2, 0.3, 0.01]))
    with pytest.raises(ValueError, match="lacks column"):
        chapters.compare_histories(a, b, "test_acc")


def test_history_table_and_mean_history():
    a = _hist([1.0, 2.0, 3.0, 4.0, 5.0], test_acc=[0.1, 0.2, 0.3, 0.4, 0.5])
    b = _hist([3.0, 2.0, 1.0, 0.0, 1.0], test_acc=[0.5, 0.4, 0.3, 0.2, 0.1])
    t = chapters.history_table({"A": a, "B": b}, columns=("train_loss_var", "test_acc"), every=2)
    assert list(t.index) == [1, 3, 5]  # every second epoch, and the last
    assert t[("train_loss_var", "B")].tolist() == [3.0, 1.0, 1.0]
    m = chapters.mean_history([a, b])
    assert m["train_loss_var"].tolist() == [2.0, 2.0, 2.0, 2.0, 3.0]


def test_convergence_table_finds_the_settling_epoch():
    h = _hist([0.0] * 5, test_acc=[0.2, 0.5, 0.595, 0.61, 0.60], train_loss_mean=[3, 2, 1, 0.5, 0.4],
              train_acc=[0.1, 0.5, 0.9, 1.0, 1.0])
    t = chapters.convergence_table({"run": h}, tol=0.01)
    r = t.loc["run"]
    assert r["final_test_acc"] == 0.60 and r["best_test_acc"] == 0.61
    assert r["epoch_within_tol"] == 3  # 0.595 >= 0.60 - 0.01
    assert r["final_train_loss"] == 0.4 and r["epochs"] == 5


# --------------------------------------------------------------------------- Fig. 4


def test_trend_is_spearman():
    x = [0.1, 0.3, 0.5, 0.7, 0.9]
    assert chapters.trend(x, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert chapters.trend(x, [0.1, 0.2, 0.2, 0.9, 1.0]) == pytest.approx(1.0 * spearmanr(x, [0.1, 0.2, 0.2, 0.9, 1.0])[0])
    y = [0.3, 0.1, 0.5, 0.2, 0.4]
    assert chapters.trend(x, y) == pytest.approx(spearmanr(x, y)[0])
    assert math.isnan(chapters.trend(x, [1, 1, 1, 1, 1]))
    assert chapters.trend_word(0.9) == "rises" and chapters.trend_word(-0.8) == "falls"
    assert chapters.trend_word(0.3) == "shows no clear trend" and chapters.trend_word(math.nan) == "shows no clear trend"


def test_alpha_table_and_setting_table():
    rows = []
    for i, (alpha, acc, advs) in enumerate([(0.1, 0.4, (0.2, 0.3)), (0.5, 0.5, (0.6, 0.4)), (0.9, 0.55, (0.7, 0.75))]):
        for atk, adv in zip(("loss", "nn"), advs):
            rows.append(_row(f"c{i}", "ccql", atk, adv, acc, setting=f"ccql({alpha})", alpha=alpha,
                             train_loss_var=1.0 / (i + 1)))
    for atk, adv in zip(("loss", "nn"), (0.8, 0.7)):
        rows.append(_row("v", "vanilla", atk, adv, 0.56, train_loss_var=0.01))
    df = _frame(rows)
    t = chapters.alpha_table(df, defenses=("ccql",)).set_index(["defense", "alpha"])
    assert t.loc[("ccql", 0.5), "max_advantage"] == 0.6
    assert t.loc[("ccql", 0.5), "worst_attack"] == "loss"
    assert t.loc[("ccql", 0.9), "worst_attack"] == "nn"
    assert t.loc[("vanilla", 1.0), "test_acc"] == 0.56  # vanilla is CCL with alpha = 1 (Eq. 4)
    s = chapters.setting_table(df).set_index("setting")
    assert s.loc["ccql(0.1)", "p1"] == pytest.approx(p1_score(0.4, 0.3))
    assert s.loc["vanilla", "worst_attack"] == "loss"


# --------------------------------------------------------------------------- Fig. 2/3, Table 1, App. D


def test_best_at_utility_applies_the_accuracy_condition():
    rows = [
        _row("v", "vanilla", "loss", 0.50, 0.60),
        _row("d1", "dropout", "loss", 0.30, 0.62, setting="dropout(0.5)"),
        _row("d2", "dropout", "loss", 0.20, 0.55, setting="dropout(0.9)"),  # too inaccurate
        _row("c1", "ccql", "loss", 0.25, 0.61, setting="ccql(0.3)"),
        _row("c2", "ccql", "loss", 0.28, 0.65, setting="ccql(0.7)"),
        _row("r1", "relaxloss", "loss", 0.10, 0.50, setting="relaxloss(1.6)"),  # too inaccurate
    ]
    best = chapters.best_at_utility(_frame(rows)).set_index("defense")
    assert best.attrs["min_acc"] == 0.60
    assert set(best.index) == {"dropout", "ccql"}
    assert best.loc["dropout", "advantage"] == 0.30 and best.loc["dropout", "n_settings"] == 1
    assert best.loc["ccql", "setting"] == "ccql(0.3)" and best.loc["ccql", "n_settings"] == 2
    loose = chapters.best_at_utility(_frame(rows), min_acc=0.5).set_index("defense")
    assert loose.loc["relaxloss", "advantage"] == 0.10 and loose.loc["dropout", "advantage"] == 0.20


def test_p1_table_uses_the_highest_advantage():
    rows = []
    for ds in ("a", "b"):
        rows += [_row(f"{ds}v", "vanilla", "loss", 0.5, 0.6, dataset=ds), _row(f"{ds}v", "vanilla", "nn", 0.4, 0.6, dataset=ds)]
        rows += [_row(f"{ds}q", "ccql", "loss", 0.3, 0.58, dataset=ds, alpha=0.5),
                 _row(f"{ds}q", "ccql", "nn", 0.35, 0.58, dataset=ds, alpha=0.5)]
        rows += [_row(f"{ds}q9", "ccql", "loss", 0.1, 0.3, dataset=ds, alpha=0.9)]  # another alpha: ignored
    p1, details = chapters.p1_table(_frame(rows), {"CCQL": ("ccql", 0.5), "w/o": ("vanilla", None)})
    assert list(p1.index) == ["CCQL", "w/o"] and list(p1.columns) == ["a", "b"]
    assert p1.loc["w/o", "a"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert p1.loc["CCQL", "b"] == pytest.approx(2 * 0.58 * 0.65 / (0.58 + 0.65))
    assert details.loc[("a", "CCQL"), "worst_attack"] == "nn"
    assert details.loc[("a", "CCQL"), "max_advantage"] == 0.35


def test_pick_alpha_follows_appendix_d():
    rows = [_row("f", "focal", "loss", 0.5, 0.60)]
    for i, (alpha, acc, adv) in enumerate([(0.2, 0.50, 0.1), (0.4, 0.61, 0.35), (0.6, 0.62, 0.30), (0.8, 0.63, 0.45)]):
        rows.append(_row(f"c{i}", "focal_ccl", "loss", adv, acc, alpha=alpha))
    got = chapters.pick_alpha(_frame(rows))
    assert got["alpha"] == 0.6 and got["qualified"] and got["reference_acc"] == 0.60
    # nothing keeps the accuracy: the most accurate alpha, flagged
    rows[0]["test_acc"] = 0.70
    got = chapters.pick_alpha(_frame(rows))
    assert got["alpha"] == 0.8 and not got["qualified"]
    with pytest.raises(ValueError, match="need runs of both"):
        chapters.pick_alpha(_frame(rows[:1]))


def test_pct():
    assert chapters.pct(0.2967) == "29.7 %" and chapters.pct(0.1840, 2) == "18.40 %"
    assert chapters.pct(float("nan")) == "n/a"


# --------------------------------------------------------------------------- prose from numbers


def test_findings_figure1_follows_the_data():
    ce = _hist([0.5, 0.1, 0.001], train_loss_mean=[2.0, 0.5, 0.01], train_acc=[0.5, 0.9, 1.0])
    fl = _hist([0.3, 0.05, 0.004], train_loss_mean=[2.1, 0.6, 0.15], train_acc=[0.5, 0.9, 1.0])
    text = chapters.findings_figure1(ce, fl)
    assert "smaller variance in 2 of 3 epochs (epochs 1-2)" in text
    assert "the reverse of the paper" in text and "Why the end differs" in text
    assert "higher (as in the paper" in text
    fl2 = _hist([0.3, 0.05, 0.0001], train_loss_mean=[2.1, 0.6, 0.15], train_acc=[0.5, 0.9, 1.0])
    text2 = chapters.findings_figure1(ce, fl2)
    assert "the order of the paper" in text2 and "Why the end differs" not in text2


def _alpha_rows(accs, advs, var_last, var_avg):
    rows = []
    for d in ("ccel", "ccql"):
        for a, acc, adv, v, va in zip((0.1, 0.3, 0.5, 0.7, 0.9), accs, advs, var_last, var_avg):
            rows.append({"defense": d, "alpha": a, "test_acc": acc, "train_acc": 1.0 if a > 0.2 else 0.7,
                         "max_advantage": adv, "train_loss_var": v, "train_loss_var_avg": va})
    return pd.DataFrame(rows)


def test_findings_figure4_verdicts():
    agree = _alpha_rows([0.4, 0.5, 0.52, 0.53, 0.54], [0.3, 0.6, 0.7, 0.72, 0.75],
                        [2.0, 0.05, 2e-4, 1.5e-4, 1e-4], [1.0, 0.4, 0.2, 0.15, 0.1])
    text = chapters.findings_figure4(agree)
    assert text.count("This agrees with the paper") == 3
    flat = _alpha_rows([0.4, 0.5, 0.52, 0.53, 0.54], [0.75, 0.72, 0.7, 0.6, 0.3],
                       [1e-4, 3e-4, 1e-4, 2e-4, 1e-4], [1.0, 0.4, 0.2, 0.15, 0.1])
    text = chapters.findings_figure4(flat)
    assert "Highest advantage** against alpha -- CCEL: falls" in text
    assert "does not reproduce the paper, where the highest advantage rises" in text
    assert "Why the last epoch can hide the trend" in text
    assert "Only two values of alpha" in chapters.findings_figure4(flat[flat.alpha < 0.4])
    assert "nothing to compare" in chapters.findings_figure4(flat[flat.alpha < 0.2])


def test_findings_table1_and_appendix_d():
    p1 = pd.DataFrame({"location": [0.40, 0.38, 0.39]}, index=["CCQL", "CCEL", "w/o"])
    from ccl_lib.paper_results import table1

    text = chapters.findings_table1(p1, table1())
    assert "in 1 of 2 (method, data set) pairs here, and in 10 of 10 in the paper" in text
    assert "None of these data sets is in the paper's table" in text
    bars = pd.DataFrame({"focal": [0.7, 0.5, 0.6], "focal_ccl": [0.6, 0.55, 0.58]},
                        index=["loss", "nn", "test accuracy"])
    choice = {"alpha": 0.6, "test_acc": 0.58, "reference_acc": 0.6, "max_advantage": 0.55, "qualified": False}
    text = chapters.findings_appendix_d(bars, choice, [0.2, 0.6])
    assert "lower for 1 of 2 attacks (loss)" in text and "No alpha of [0.2, 0.6]" in text


def test_short_setting_and_best_p1():
    assert chapters.short_setting("location/mlp ccql(alpha=0.5, scale=1) size=1000") == "ccql(alpha=0.5, scale=1)"
    assert chapters.short_setting("digits/mlp vanilla") == "vanilla"
    es = "location/mlp early_stopping(epochs=[5,10,20]) size=1000 stop=10"
    assert chapters.short_setting(es) == "early_stopping(epochs=[5,10,20]) stop=10"
    rows = [_row("v", "vanilla", "loss", 0.6, 0.6, setting="x/m vanilla"),
            _row("d1", "dropout", "loss", 0.5, 0.6, setting="x/m dropout(rate=0.3)"),
            _row("d2", "dropout", "loss", 0.1, 0.3, setting="x/m dropout(rate=0.9)")]
    ranking = chapters.best_p1(_frame(rows))
    # P1 = 2 acc (1 - adv) / (acc + 1 - adv): 0.545 for rate 0.3 beats 0.45 for rate 0.9
    assert ranking.iloc[0]["point"] == "dropout(rate=0.3)"
    assert ranking.set_index("defense").loc["vanilla", "p1"] == pytest.approx(2 * 0.6 * 0.4 / 1.0)


def test_findings_figure5_and_figure23():
    h = lambda acc: _hist([0.0] * 4, test_acc=acc, train_loss_mean=[3, 1, 0.1, 0.01], train_acc=[0.3, 0.8, 1, 1])
    conv = chapters.convergence_table({"CE": h([0.2, 0.5, 0.6, 0.6]), "CCQL": h([0.1, 0.2, 0.3, 0.59])})
    text = chapters.findings_figure5(conv)
    assert "epoch 3 for CE, 4 for CCQL" in text and "up to 1 epochs later" in text
    assert "a visible delay" in text  # 1 epoch of 4 is more than 10 %
    rows = []
    for atk, (v, c, d) in {"loss": (0.7, 0.4, 0.5), "nn": (0.6, 0.5, 0.3)}.items():
        rows += [_row("v", "vanilla", atk, v, 0.60, setting="x/m vanilla"),
                 _row("c", "ccql", atk, c, 0.61, setting="x/m ccql(alpha=0.3)"),
                 _row("d", "dropout", atk, d, 0.62, setting="x/m dropout(rate=0.5)")]
    df = _frame(rows)
    text = chapters.findings_figure23(df, chapters.best_at_utility(df), None, chapters.best_p1(df))
    assert "a CCL variant has the lowest advantage for 1 of 2 attacks (loss); the lowest for the others: dropout" in text
    assert "CCL 40.0 % (CCQL), the best baseline 50.0 % (dropout), undefended 70.0 %" in text
    assert "relative reduction of 38.0 %" in text


def test_select_runs_and_run_summary():
    from types import SimpleNamespace as NS

    def run(key, defense, seed, **hp):
        spec = NS(defense=defense, hparams=hp, seed=seed, dataset="toy")
        return NS(key=key, spec=spec, meta={"split_sizes": {"target_train": 100}})

    runs = {r.key: r for r in [run("a", "ccql", 1, alpha=0.5), run("b", "ccql", 0, alpha=0.5),
                               run("c", "ccql", 0, alpha=0.3), run("d", "vanilla", 0)]}
    assert [r.key for r in chapters.select_runs(runs, "ccql", alpha=0.5)] == ["b", "a"]  # by seed
    assert [r.key for r in chapters.select_runs(runs, "vanilla")] == ["d"]
    with pytest.raises(ValueError, match="no run of defense 'ccel'"):
        chapters.select_runs(runs, "ccel")
    df = pd.DataFrame({"attack": ["loss", "nn", "loss"]})
    df.attrs["summary"] = {"computed": 3, "cached": 1}
    assert chapters.run_summary(df, runs) == (
        "4 runs on toy (100 training examples per model); computed 3, cached 1; attacks: loss, nn"
    )


def test_findings_table1_compares_shared_columns_and_p1_bars_draws_them():
    import matplotlib

    matplotlib.use("Agg")
    from ccl_lib.paper_results import table1

    p1 = pd.DataFrame({"texas100": [0.600, 0.610, 0.550]}, index=["CCQL", "CCEL", "w/o"])
    p1.attrs["seeds"] = 1
    text = chapters.findings_table1(p1, table1())
    assert "texas100 is in the paper's table" in text
    assert "CCQL 0.600 vs 0.607, CCEL 0.610 vs 0.608, w/o 0.550 vs 0.551" in text
    assert "One seed" in text
    fig = chapters.p1_bars(p1, table1())
    heights = sorted(round(p.get_height(), 3) for p in fig.axes[0].patches)
    assert heights == [0.55, 0.6, 0.61] and len(fig.axes[1].patches) == 15


def test_recipe_parses_papermill_text_and_fits_the_part_size():
    from ccl_lib.chapters import recipe

    r = recipe("digits", model="auto", epochs=5, milestones="[2, 4]", augment=False, part_size=1000, seeds="[0, 1]")
    # digits has 1,797 examples: 4 parts of 1,000 do not fit, so the whole data set is used (size None)
    assert r == dict(model="auto", epochs=5, milestones=[2, 4], augment=False, seeds=[0, 1], size=None)
    assert recipe("digits", model="mlp", epochs=1, milestones=[], augment=False, part_size=400, seeds=[3])["size"] == 400
    # five parts (the reference split) of 400 need 2,000 > 1,797 examples: the whole data set again
    assert recipe("digits", model="mlp", epochs=1, milestones=[], augment=False, part_size=400, seeds=[3],
                  n_parts=5)["size"] is None
    assert "size" not in recipe(None, model="mlp", epochs=1, milestones=[], augment=False, part_size=400, seeds=0)
    with pytest.raises(ValueError, match="milestones must be a list literal"):
        recipe(None, model="mlp", epochs=1, milestones="[1,", augment=False, part_size=None, seeds=[0])
