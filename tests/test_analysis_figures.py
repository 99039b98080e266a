"""ccl_lib.analysis.privacy_utility, .p1 and .focal: Fig. 2/3, Table 1 and App. D on hand-built frames."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from _frames import frame, row

from ccl_lib.analysis.focal import appendix_d_verdicts, pick_alpha
from ccl_lib.analysis.p1 import p1_table, p1_verdicts
from ccl_lib.analysis.privacy_utility import (
    BASELINES,
    CPU_GRIDS,
    best_at_utility,
    best_p1,
    defense_grid,
    utility_verdicts,
)
from ccl_lib.plots import p1_bars

# --------------------------------------------------------------------------- Fig. 2/3


def test_defense_grid_builds_valid_specs():
    from ccl_lib.defenses import DEFENSE_NAMES, paper_grid
    from ccl_lib.experiments import grid

    cpu = defense_grid("cpu", [0.2, 0.8], epochs=30)
    assert set(cpu) == {"vanilla", "ccel", "ccql", *BASELINES}
    assert set(BASELINES) < set(DEFENSE_NAMES) and len(BASELINES) == 7
    specs = grid("location", cpu, epochs=30)
    assert len(specs) == 1 + 2 + 2 + sum(len(g) for g in CPU_GRIDS.values())
    # early-stopping checkpoints are given in the paper's 300 epochs and rescaled to 30
    es = [s for s in specs if s.defense == "early_stopping"]
    assert [list(s.hparams["epochs"]) for s in es] == [[5, 10, 20]]
    paper = defense_grid("paper")
    assert paper["ccql"] == "paper" and paper["dropout"] == "paper"
    n_paper = len(grid("location", paper, epochs=300))
    assert n_paper == 1 + sum(len(paper_grid(d)) for d in ["ccel", "ccql", *BASELINES])
    assert defense_grid({"dropout": [{"rate": 0.5}]}) == {"vanilla": [{}], "dropout": [{"rate": 0.5}]}
    with pytest.raises(ValueError, match="grid must be 'paper', 'cpu'"):
        defense_grid("small")
    with pytest.raises(ValueError, match="unknown defense"):
        defense_grid({"dropuot": [{}]})
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        defense_grid("cpu", epochs=0)
    with pytest.raises(ValueError, match="alphas must be"):
        defense_grid("cpu", [1.5])


def _utility_rows():
    return [
        row("v", "vanilla", "loss", 0.50, 0.60),
        row("d1", "dropout", "loss", 0.30, 0.62, setting="dropout(0.5)"),
        row("d2", "dropout", "loss", 0.20, 0.55, setting="dropout(0.9)"),  # too inaccurate
        row("c1", "ccql", "loss", 0.25, 0.61, setting="ccql(0.3)"),
        row("c2", "ccql", "loss", 0.28, 0.65, setting="ccql(0.7)"),
        row("r1", "relaxloss", "loss", 0.10, 0.50, setting="relaxloss(1.6)"),  # too inaccurate
    ]


def test_best_at_utility_applies_the_accuracy_condition():
    best = best_at_utility(frame(_utility_rows())).set_index("defense")
    assert best.attrs["min_acc"] == 0.60
    assert set(best.index) == {"dropout", "ccql"}
    assert best.loc["dropout", "advantage"] == 0.30 and best.loc["dropout", "n_settings"] == 1
    assert best.loc["ccql", "setting"] == "ccql(0.3)" and best.loc["ccql", "n_settings"] == 2
    loose = best_at_utility(frame(_utility_rows()), min_acc=0.5).set_index("defense")
    assert loose.loc["relaxloss", "advantage"] == 0.10 and loose.loc["dropout", "advantage"] == 0.20
    tol = best_at_utility(frame(_utility_rows()), tolerance=0.05)
    assert tol.attrs["min_acc"] == pytest.approx(0.55) and set(tol["defense"]) == {"dropout", "ccql"}
    with pytest.raises(ValueError, match="no vanilla run"):
        best_at_utility(frame(_utility_rows()[1:]))


def test_best_p1_ranks_each_defense_by_its_best_setting():
    rows = [row("v", "vanilla", "loss", 0.6, 0.6, setting="x/m vanilla"),
            row("d1", "dropout", "loss", 0.5, 0.6, setting="x/m dropout(rate=0.3)"),
            row("d2", "dropout", "loss", 0.1, 0.3, setting="x/m dropout(rate=0.9)")]  # fmt: skip
    ranking = best_p1(frame(rows))
    # P1 = 2 acc (1 - adv) / (acc + 1 - adv): 0.545 for rate 0.3 beats 0.45 for rate 0.9
    assert ranking.iloc[0]["point"] == "dropout(rate=0.3)"
    assert ranking.set_index("defense").loc["vanilla", "p1"] == pytest.approx(2 * 0.6 * 0.4 / 1.0)


def test_utility_verdicts_count_the_attacks_ccl_wins():
    rows = []
    for atk, (v, c, d) in {"loss": (0.7, 0.4, 0.5), "nn": (0.6, 0.5, 0.3)}.items():
        rows += [row("v", "vanilla", atk, v, 0.60, setting="x/m vanilla"),
                 row("c", "ccql", atk, c, 0.61, setting="x/m ccql(alpha=0.3)"),
                 row("d", "dropout", atk, d, 0.62, setting="x/m dropout(rate=0.5)")]  # fmt: skip
    df = frame(rows)
    v = utility_verdicts(df, best_at_utility(df), best_p1(df))
    assert v["attacks"] == ["loss", "nn"] and v["vanilla_adv"] == {"loss": 0.7, "nn": 0.6}
    assert v["winner"] == {"loss": "ccql", "nn": "dropout"}
    assert v["ccl_wins"] == ["loss"] and v["n_ccl_wins"] == 1
    assert (v["loss_ccl"], v["loss_ccl_defense"]) == (0.4, "ccql")
    assert (v["loss_baseline"], v["loss_baseline_defense"]) == (0.5, "dropout")
    assert v["qualified"] == ["ccql", "dropout"] and v["min_acc"] == 0.60
    # P1 (Eq. 13) with the highest advantage, 0.5 for both: ccql 2*.61*.5/1.11 = 0.5495 < dropout 2*.62*.5/1.12 = 0.5536
    assert v["p1"]["ccql"] == pytest.approx(2 * 0.61 * 0.5 / 1.11) and v["p1"]["dropout"] == pytest.approx(0.62 / 1.12)
    assert v["p1_leader"] == "dropout" and v["p1_rank"] == {"dropout": 1, "ccql": 2}
    none = utility_verdicts(df, best_at_utility(df, min_acc=0.99))
    assert none["qualified"] == [] and none["n_ccl_wins"] == 0 and math.isnan(none["loss_ccl"])


# --------------------------------------------------------------------------- Table 1


def test_p1_table_uses_the_highest_advantage():
    rows = []
    for ds in ("a", "b"):
        rows += [
            row(f"{ds}v", "vanilla", "loss", 0.5, 0.6, dataset=ds),
            row(f"{ds}v", "vanilla", "nn", 0.4, 0.6, dataset=ds),
        ]
        rows += [row(f"{ds}q", "ccql", "loss", 0.3, 0.58, dataset=ds, alpha=0.5),
                 row(f"{ds}q", "ccql", "nn", 0.35, 0.58, dataset=ds, alpha=0.5)]  # fmt: skip
        rows += [row(f"{ds}q9", "ccql", "loss", 0.1, 0.3, dataset=ds, alpha=0.9)]  # another alpha: ignored
    p1, details = p1_table(frame(rows), {"CCQL": ("ccql", 0.5), "w/o": ("vanilla", None)})
    assert list(p1.index) == ["CCQL", "w/o"] and list(p1.columns) == ["a", "b"]
    assert p1.loc["w/o", "a"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert p1.loc["CCQL", "b"] == pytest.approx(2 * 0.58 * 0.65 / (0.58 + 0.65))
    assert details.loc[("a", "CCQL"), "worst_attack"] == "nn"
    assert details.loc[("a", "CCQL"), "max_advantage"] == 0.35
    assert p1.attrs["seeds"] == 1 and math.isnan(details.loc[("a", "CCQL"), "p1_std"])


def test_p1_verdicts_and_p1_bars():
    import matplotlib

    matplotlib.use("Agg")
    from ccl_lib.paper_results import table1

    paper = table1()
    p1 = pd.DataFrame({"location": [0.40, 0.38, 0.39]}, index=["CCQL", "CCEL", "w/o"])
    v = p1_verdicts(p1, paper)
    assert (v["n_raised"], v["n_pairs"]) == (1, 2) and v["shared"] == []
    assert v["change_min"] == pytest.approx(-0.01) and v["change_max"] == pytest.approx(0.01)
    theirs = (paper.loc[["CCQL", "CCEL"]] - paper.loc["w/o"]).stack()
    assert (v["paper_raised"], v["paper_pairs"]) == (int((theirs > 0).sum()), len(theirs)) == (10, 10)
    assert v["paper_change_median"] == pytest.approx(theirs.median())
    p1 = pd.DataFrame({"texas100": [0.600, 0.610, 0.550]}, index=["CCQL", "CCEL", "w/o"])
    assert p1_verdicts(p1, paper)["shared"] == ["texas100"]
    with pytest.raises(ValueError, match="'w/o'"):
        p1_verdicts(p1.drop(index="w/o"), paper)
    fig = p1_bars(p1, paper)
    heights = sorted(round(p.get_height(), 3) for p in fig.axes[0].patches)
    assert heights == [0.55, 0.6, 0.61] and len(fig.axes[1].patches) == 15


# --------------------------------------------------------------------------- App. D


def test_pick_alpha_follows_appendix_d():
    rows = [row("f", "focal", "loss", 0.5, 0.60)]
    for i, (alpha, acc, adv) in enumerate([(0.2, 0.50, 0.1), (0.4, 0.61, 0.35), (0.6, 0.62, 0.30), (0.8, 0.63, 0.45)]):
        rows.append(row(f"c{i}", "focal_ccl", "loss", adv, acc, alpha=alpha))
    got = pick_alpha(frame(rows))
    assert got["alpha"] == 0.6 and got["qualified"] and got["reference_acc"] == 0.60
    # nothing keeps the accuracy: the most accurate alpha, flagged
    rows[0]["test_acc"] = 0.70
    got = pick_alpha(frame(rows))
    assert got["alpha"] == 0.8 and not got["qualified"]
    with pytest.raises(ValueError, match="need runs of both"):
        pick_alpha(frame(rows[:1]))


def test_appendix_d_verdicts():
    bars = pd.DataFrame(
        {"focal": [0.7, 0.5, 0.6], "focal_ccl": [0.6, 0.55, 0.58]}, index=["loss", "nn", "test accuracy"]
    )
    v = appendix_d_verdicts(bars)
    assert v["lower"] == ["loss"] and (v["n_lower"], v["n_attacks"]) == (1, 2)
    assert not v["all_lower"] and not v["none_lower"]
    assert (v["focal_max"], v["focal_ccl_max"]) == (0.7, 0.6)
    rows = [row("f", "focal", "loss", 0.5, 0.60)]
    for i, (alpha, acc, adv) in enumerate([(0.2, 0.50, 0.1), (0.6, 0.62, 0.30)]):
        rows.append(row(f"c{i}", "focal_ccl", "loss", adv, acc, alpha=alpha))
    v = appendix_d_verdicts(bars, frame(rows))
    assert v["grid_best_alpha"] == 0.2 and v["grid_best_adv"] == 0.1 and v["trades_accuracy"]
    with pytest.raises(ValueError, match="lacks columns"):
        appendix_d_verdicts(bars.drop(columns=["focal"]))
