"""Chapter 10's sweep in the library (issue 21): targets built from RunSpec, trained through RunSpec.train_config(),
and its findings, against hand-built recipes and hand-made tables."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from ccl_lib.analysis import strong
from ccl_lib.train import TrainConfig

SPECS = strong.strong_defense_specs(ccl_alpha=0.5, relaxloss_alpha=1.0, dp_noise_multiplier=1.0,
                                    dp_max_grad_norm=1.0, dp_delta=1e-5)  # fmt: skip


def test_entries_give_the_recipes_the_chapter_built_by_hand():
    entries = strong.strong_entries(
        SPECS, [0, 3], tabular="location", tabular_recipe=dict(size=1000, epochs=20, lr=0.1, batch_size=128), k=4,
        tabular_defenses=["vanilla", "CCQL", "DP-SGD"], image_experiment="cifar10-cpu", image_k=2,
        image_defenses=["CCQL"],
    )  # fmt: skip
    assert [(e[0], e[1], e[2].seed, e[3]) for e in entries] == [
        ("location", "vanilla", 0, 4), ("location", "CCQL", 0, 4), ("location", "DP-SGD", 0, 4),
        ("location", "vanilla", 3, 4), ("location", "CCQL", 3, 4), ("location", "DP-SGD", 3, 4),
        ("cifar10-cpu", "CCQL", 0, 2), ("cifar10-cpu", "CCQL", 3, 2),
    ]  # fmt: skip
    loc = entries[1][2]
    # the chapter's former hand-built recipe: TrainConfig(epochs, lr, batch_size, track_train_loss=False)
    by_hand = TrainConfig(epochs=20, lr=0.1, batch_size=128, track_train_loss=False, seed=11)
    assert dataclasses.replace(loc.train_config(11), track_train_loss=False) == by_hand
    # the chapter's former make_defense: get_defense(name, **hp) with App. E.1's scale for the data set
    from ccl_lib.defenses import default_scale, get_defense

    assert loc.make_defense().describe() == get_defense("ccql", alpha=0.5, scale=default_scale("location")).describe()
    img = entries[-1][2]
    by_hand = TrainConfig(epochs=50, lr=0.1, batch_size=128, momentum=0.9, weight_decay=5e-4, milestones=(25, 38),
                          augment=False, track_train_loss=False, seed=5)  # fmt: skip
    assert dataclasses.replace(img.train_config(5), track_train_loss=False) == by_hand
    assert img.resolved_model == "resnet8" and img.size == 500 and img.make_defense().hparams["scale"] == 0.01
    dp = entries[2][2].make_defense()
    assert (dp.name, dp.hparams["noise_multiplier"], dp.hparams["delta"]) == ("dp_sgd", 1.0, 1e-5)
    with pytest.raises(ValueError, match="unknown defense labels"):
        strong.strong_entries(SPECS, [0], tabular="location", tabular_defenses=["CE"])


def test_run_strong_specs_trains_as_a_direct_call_with_the_hand_built_recipe():
    from ccl_lib.attacks.reference import derive_seed
    from ccl_lib.attacks.strong import run_strong_attacks, run_strong_specs
    from ccl_lib.data import load_dataset
    from ccl_lib.defenses import get_defense
    from ccl_lib.models import build_model

    entries = strong.strong_entries(SPECS, [1], tabular="digits", k=2, tabular_defenses=["CCQL"],
                                    tabular_recipe=dict(size=150, epochs=2, lr=0.1, batch_size=64))  # fmt: skip
    got = run_strong_specs(entries, rmia_a="tune", rmia_a_fixed=0.3)
    ds = load_dataset("digits")
    cfg = TrainConfig(epochs=2, lr=0.1, batch_size=64, track_train_loss=False, seed=derive_seed(1, 7))
    ref = run_strong_attacks(ds, get_defense("ccql", alpha=0.5), size=150, k=2, config=cfg, seed=1, rmia_a=0.3,
                             model_fn=lambda: build_model("auto", tuple(ds.input_shape), int(ds.num_classes)),
                             label="CCQL", progress=False)  # fmt: skip
    run = got[("digits", "CCQL", 1)]
    assert run.train_acc == ref.train_acc and run.test_acc == ref.test_acc
    for name in ("lira_online", "lira_offline", "rmia"):
        assert run.results[name].summary()["auc"] == pytest.approx(ref.results[name].summary()["auc"], abs=0)


def test_rmia_a_is_tuned_only_with_four_reference_models():
    from ccl_lib.attacks.strong import rmia_a_for

    assert rmia_a_for("tune", 4) == "tune" and rmia_a_for("tune", 2) == 0.3 and rmia_a_for("tune", 3, 0.5) == 0.5
    assert rmia_a_for(0.7, 2) == 0.7


def _best(rows):
    cols = ["dataset", "defense", "attack", "seed", "tpr@1%", "tpr@1%_low", "tpr@1%_high", "tpr@0.1%",
            "tpr@0.1%_low", "tpr@0.1%_high", "auc", "test_acc", "min_fpr"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def test_findings_by_hand():
    best = _best([
        ("loc", "vanilla", "rmia", 0, 0.10, 0.08, 0.12, 0.02, 0.01, 0.03, 0.70, 0.60, 0.001),
        ("loc", "CCQL", "lira_offline", 0, 0.05, 0.03, 0.07, 0.01, 0.0, 0.02, 0.65, 0.58, 0.001),
        ("loc", "DP-SGD", "rmia", 0, 0.09, 0.05, 0.11, 0.01, 0.0, 0.02, 0.55, 0.40, 0.002),
    ])  # fmt: skip

    class Run:
        def __init__(self, train_acc, epsilon=math.nan):
            self.train_acc, self.epsilon = train_acc, epsilon

    runs = {("loc", "vanilla", 0): Run(1.0), ("loc", "CCQL", 0): Run(0.9), ("loc", "DP-SGD", 0): Run(0.5, 8.2)}
    f = strong.strong_findings(runs, best, best, settings={"loc": "loc", "img": ""}, first_seed=0)
    assert f["loc_van_attack"] == "RMIA" and f["loc_ccql_attack"] == "LiRA offline"
    assert f["loc_ccql_vs"] == "below" and f["loc_dpsgd_vs"] == "overlapping" and f["loc_relaxloss_vs"] == "not run"
    assert f["loc_van_tpr1_ci"] == "10.0% [8.0, 12.0]"
    assert f["loc_n_out"] == 500 and f["loc_min_fpr"] == 0.002 and f["dp_eps"] == 8.2
    assert f["loc_ccql_train"] == 0.9 and math.isnan(f["img_vanilla_train"]) and math.isnan(f["loc_relaxloss_acc"])
    ex = strong.exercise_findings(best.iloc[1], best.iloc[0], attacker="matched", k=4)
    assert ex["ex2_relation"] == "above" and ex["ex2_k"] == 4 and ex["ex2_mismatched"].endswith("(RMIA)")
    assert strong.exercise_findings(None, None, attacker="matched", k=4)["ex2_relation"] == "not computed"


def test_seed_spread_is_a_t_interval_over_the_strongest_attacks():
    best = _best([("loc", "vanilla", a, s, t, 0, 1, 0, 0, 0, 0.5, 0.5, 0.001)
                  for s, t in enumerate([0.1, 0.2, 0.3]) for a in ("rmia",)])  # fmt: skip
    t = strong.seed_spread(best)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t_{2, 0.975} * sd / sqrt(n)
    assert t.loc[("loc", "vanilla"), "seeds"] == 3
    assert t.loc[("loc", "vanilla"), "TPR at 1 % FPR"] == f"20.0 % [{100 * (0.2 - half):.1f}, {100 * (0.2 + half):.1f}]"
    assert np.isclose(half, 0.2484, atol=1e-4)


def test_interval_cells_one_cell_per_measure_and_shared_settings_in_the_caption():
    best = _best([
        ("loc", "vanilla", "rmia", 0, 0.10, 0.08, 0.12, 0.02, 0.01, 0.03, 0.70, 0.60, 0.001),
        ("loc", "CCQL", "lira_offline", 0, 0.05, 0.03, 0.07, 0.01, 0.0, 0.02, 0.65, 0.58, 0.001),
    ]).assign(epsilon=math.nan)  # fmt: skip
    st = strong.interval_cells(best, by_seed=False)
    # one data set and one min FPR: both go to the caption; epsilon (never measured) is left out
    assert list(st.data.index) == [("vanilla", "rmia"), ("CCQL", "lira_offline")]
    assert list(st.data.columns) == ["test acc. (%)", "TPR@0.1% (%)", "TPR@1% (%)"]
    assert st.caption == "min FPR: 1/n_out; [low, high]: 95 % interval (dataset loc; min_fpr 0.1 %)"
    ctx = st._translate(False, False)
    cells = [[c["display_value"] for c in row if c.get("type") == "td"] for row in ctx["body"]]
    assert cells[0] == ["60.0", "2.0 [1.0, 3.0]", "10.0 [8.0, 12.0]"]
    by_seed = strong.interval_cells(best)  # one seed: it goes to the caption with the data set
    assert by_seed.data.index.names == ["defense", "attack"] and "dataset loc; seed 0" in by_seed.caption
    only = strong.interval_cells(best, measures=("tpr@1%",))
    assert list(only.data.columns) == ["test acc. (%)", "TPR@1% (%)"]
    with pytest.raises(ValueError, match="unknown or empty"):
        strong.interval_cells(best, measures=("tpr@5%",))
