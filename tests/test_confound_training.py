"""Tests of chapter 11's rule 'a comparison only between models that train' (ccl_lib.confound.training,
findings, design): the thresholds by hand, exclusions, the premise over trained runs, the scorecard rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ccl_lib import confound
from ccl_lib.verdicts import NO_VERDICT


def test_trains_rule_at_its_thresholds_by_hand():
    assert confound.TRAIN_ACC_MIN == 0.95 and confound.CE_GAP_MAX == 0.05
    # >= 95 % trains whatever CE reaches; below, it must be within 5 points of CE
    assert confound.trains(0.95, 1.0) and confound.trains(0.99, 1.0)
    assert not confound.trains(0.94, 1.0)
    assert confound.trains(0.35, 0.40) and confound.trains(0.35, 0.39)
    assert not confound.trains(0.30, 0.99)  # cifar10-cpu x0.01 against CE's 99 %
    assert not confound.trains(0.06, 0.999)  # Location x0.01: a constant predictor
    got = confound.trains(np.array([0.06, 0.96, 0.50]), np.array([0.99, 0.99, 0.52]))
    assert got.tolist() == [False, True, True]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        confound.trains(95.0, 99.0)
    with pytest.raises(ValueError, match="ce_train_acc"):
        confound.trains(0.5, float("nan"))


def _arm_df(train_accs, advs=None, var=None, ds="d", beta=0.01):
    """An arm_frame-like frame: one 'loss' row per (arm, seed); train_accs = {arm: [acc per seed]}."""
    rows = []
    for arm, accs in train_accs.items():
        for s, acc in enumerate(accs):
            adv = (advs or {}).get(arm, [0.1] * len(accs))[s]
            rows.append(dict(key=f"{ds}-{arm}-{s}", eval_epoch=30, attack="loss", advantage=adv,
                             max_advantage=adv, test_acc=0.5, train_acc=acc, train_loss_mean=1.0,
                             train_loss_var=(var or {}).get((arm, s), 0.1 + s), seed=s, dataset=ds, beta=beta,
                             arm=arm, arm_label=arm.replace("β", f"{beta:g}")))  # fmt: skip
    return pd.DataFrame(rows)


def test_training_status_and_table_mark_the_arms_that_did_not_train():
    df = _arm_df({"CE": [1.0, 0.99, 1.0], "CE(lr·β, wd/β)": [0.07, 0.06, 0.07], "CCQL×β": [0.06, 0.96, 0.05]})
    st = confound.training_status(df)
    assert st.loc[st["arm"] == "CCQL×β", "trains"].tolist() == [False, True, False]
    assert st.loc[st["arm"] == "CCQL×β", "ce_train_acc"].tolist() == [1.0, 0.99, 1.0]
    t = confound.training_table(st).set_index("arm")
    assert list(t.index) == ["CE", "CE(lr·β, wd/β)", "CCQL×β"]  # ARM_NAMES order
    assert t.loc["CE", "trains"] and not t.loc["CCQL×β", "trains"] and t.loc["CCQL×β", "runs_trained"] == 1
    assert t.loc["CE(lr·β, wd/β)", "train_acc"] == pytest.approx(0.20 / 3)
    with pytest.raises(ValueError, match="CE arm is missing"):
        confound.training_status(df[df["arm"] != "CE"])


def test_a_comparison_with_an_untrained_arm_is_not_testable_and_excluded_on_the_scorecard():
    accs = {"CE": [1.0] * 4, "CE(lr·β, wd/β)": [0.07] * 4, "CCQL×β": [0.06] * 4, "CCQL×1": [0.99] * 4}
    advs = {"CE": [0.4, 0.5, 0.45, 0.42], "CE(lr·β, wd/β)": [0.01, 0.0, 0.02, 0.01],
            "CCQL×β": [0.0, 0.01, 0.0, 0.0], "CCQL×1": [0.2, 0.3, 0.25, 0.22]}  # fmt: skip
    df = _arm_df(accs, advs)
    table = confound.training_table(confound.training_status(df))
    rows = confound.comparisons(df, table, datasets=["d"], betas=[0.01], names={"d": "D"})
    by = {r["arms"]: r for r in rows}
    decisive = by[("CCQL×β", "CE(lr·β, wd/β)")]
    assert decisive["verdict"] == confound.NOT_TESTABLE
    assert "CCQL×0.01 ends at 6 % train accuracy" in decisive["excluded"] and "CE's 100 %" in decisive["excluded"]
    # both arms train: a real verdict (CCQL x1 is 0.2 lower than CE on every seed)
    assert by[("CCQL×1", "CE")]["excluded"] == "" and by[("CCQL×1", "CE")]["verdict"] == "lower"
    sc = confound.privacy_source_scorecard_rows(rows, {}, names={"d": "D"}, settings={"d": "D, 4 seeds"},
                                                beta=0.01, causes={})  # fmt: skip
    assert len(sc) == 1 and sc[0]["verdict"] == NO_VERDICT and sc[0]["excluded"] == decisive["excluded"]
    assert sc[0]["interval"].n == 4 and sc[0]["interval"].mean == pytest.approx(-0.0075)


def test_premise_uses_only_runs_that_trained():
    # trained arms: variance rises, advantage falls (rho = -1); the untrained arm would break the order
    accs = {"CE": [1.0] * 3, "CCQL×1": [0.99] * 3, "CE×β": [0.05] * 3}
    advs = {"CE": [0.6, 0.5, 0.4], "CCQL×1": [0.3, 0.2, 0.1], "CE×β": [0.9, 0.95, 0.99]}
    var = {("CE", s): 1.0 + s for s in range(3)}
    var.update({("CCQL×1", s): 4.0 + s for s in range(3)})
    var.update({("CE×β", s): 10.0 + s for s in range(3)})
    df = _arm_df(accs, advs, var)
    st = confound.training_status(df)
    p = confound.trained_premise(df, st, dataset="d")
    assert p["n_runs"] == 6 and p["n_left_out"] == 3 and p["n_all"] == 9 and p["excluded"] == ""
    assert p["rho"] == pytest.approx(-1.0) and p["verdict"].word == "agrees"
    # with every run: the untrained runs (largest variance, highest advantage) pull rho up
    assert confound.variance_premise(df, attack="loss")["rho"] > -0.5
    few = _arm_df({"CE": [1.0] * 3, "CE×β": [0.05] * 3})
    q = confound.trained_premise(few, confound.training_status(few), dataset="d")
    assert q["verdict"] is None and "only 3 of 6 runs trained (CE)" in q["excluded"]
    premises, tab = confound.premise_frame(few, confound.training_status(few), {"d": "D"})
    assert tab["verdict"].tolist() == [NO_VERDICT, NO_VERDICT] and premises["d"]["excluded"]
    sc = confound.privacy_source_scorecard_rows([], premises, names={"d": "D"}, settings={}, beta=0.01, causes={})
    assert sc[0]["item"] == "Thm 6.1" and sc[0]["excluded"] == q["excluded"]


def test_findings_name_the_untrained_arms_and_the_thresholds():
    df = _arm_df({"CE": [1.0] * 3, "CE(lr·β, wd/β)": [0.07] * 3, "CCQL×β": [0.06] * 3})
    st = confound.training_status(df)
    table = confound.training_table(st)
    rows = confound.comparisons(df, table, datasets=["d"], betas=[0.01], names={"d": "D"})
    f = confound.privacy_source_findings(rows, table, {}, names={"d": "D"}, beta=0.01, extra={"n": "3"})
    assert f["untrained"] == "D CE(lr·0.01, wd/0.01): 7 %; D CCQL×0.01: 6 %"
    assert f["answer_tabular"].startswith("On D, CCQL×0.01 minus CE(lr·0.01, wd/0.01): not testable at this scale")
    assert f["train_min"] == "95 %" and f["ce_gap"] == "5 points" and f["n"] == "3"
    assert f["recipe_alone"].endswith("(not testable at this scale: an arm did not train).")


def test_training_curves_come_from_the_histories():
    class Run:
        def __init__(self, accs):
            self.accs = accs

        def history_frame(self, role):
            assert role == "target"
            return pd.DataFrame({"epoch": range(1, len(self.accs) + 1), "train_acc": self.accs})

    pairs = confound.arm_specs("location", confound.arms(0.01, names=["CE", "CCQL×β"]), [0], model="mlp", epochs=3)
    runs = {pairs[0][1].key(): Run([0.5, 0.9, 1.0]), pairs[1][1].key(): Run([0.04, 0.05, 0.06])}
    c = confound.training_curves(runs, pairs)
    assert c.groupby("arm")["train_acc"].last().to_dict() == {"CCQL×β": 0.06, "CE": 1.0}
    assert set(c["arm_label"]) == {"CE", "CCQL×0.01"} and c["epoch"].max() == 3
    with pytest.raises(ValueError, match="is not among the runs"):
        confound.training_curves({}, pairs)


def test_the_scale_warning_is_the_librarys_own_message():
    from ccl_lib.models import MLP, build_model

    msg = confound.scale_warning_message(0.01, MLP(10, 3, hidden=(8,)))
    assert msg.startswith("loss scale 0.01 < 1 on a MLP without normalization layers")
    assert confound.scale_warning_message(1.0, MLP(10, 3, hidden=(8,))) == ""
    assert confound.scale_warning_message(0.01, build_model("resnet8", (3, 32, 32), 10)) == ""


def test_chapter_design_pairs_and_betas():
    assert confound.design_betas("ci", [0.01]) == [0.01] and confound.design_betas("full", [0.01]) == [0.01, 0.05]
    with pytest.raises(ValueError, match="design must be one of"):
        confound.design_betas("fast", [0.01])
    ds, rec = confound.image_recipe("cifar10-cpu", {"epochs": 4, "milestones": [2]})
    assert ds == "cifar10-jpeg" and rec["epochs"] == 4 and rec["model"] == "resnet8" and rec["size"] == 500
    pairs = confound.chapter_pairs("ci", [0.01], alpha=0.5, tabular_dataset="location",
                                   tabular_recipe=dict(model="auto", epochs=30, size=1000), seeds=range(20),
                                   image_dataset=ds, image_recipe=rec, image_seeds=[0, 1, 2])  # fmt: skip
    tab = [(a.name, s.seed) for a, s in pairs if s.dataset == "location"]
    img = [(a.name, s.seed) for a, s in pairs if s.dataset == ds]
    assert len(tab) == 7 * 20 and len(img) == 3 * 3 and {n for n, _ in img} == set(confound.IMAGE_ARMS_CI)
    assert "resnet8, 500 per part, 4 epochs" in confound.recipe_text(ds, rec)
    assert math.isclose([s.lr for a, s in pairs if a.name == "CE(lr·β, wd/β)"][0], 0.001)


def test_the_default_location_arms_are_the_ledgers_runs():
    """Chapter 11's default Location arms (seeds 0-19) are exactly the runs of evidence-confound-location and
    evidence-confound-location-recipe, so the chapter reads them from the ledger instead of training them."""
    from ccl_lib.book import fit_part_size
    from ccl_lib.experiments import load_experiment
    from ccl_lib.parameters import CHAPTERS

    p = {k: v.default for k, v in CHAPTERS["11_privacy_source"].parameters.items()}
    recipe = dict(model="auto", epochs=p["tabular_epochs"], size=fit_part_size("location", p["tabular_part_size"]))
    pairs = confound.chapter_pairs(p["design"], p["betas"], alpha=p["alpha"], tabular_dataset="location",
                                   tabular_recipe=recipe, seeds=p["seeds"], image_dataset="cifar10-jpeg",
                                   image_recipe={"model": "resnet8", "epochs": 2}, image_seeds=[0])  # fmt: skip
    chapter = {s.key() for _, s in pairs if s.dataset == "location"}
    ledger = {s.key() for name in ("evidence-confound-location", "evidence-confound-location-recipe")
              for s in load_experiment(name).specs()}  # fmt: skip
    assert p["seeds"] == list(range(20)) and len(chapter) == 7 * 20
    assert chapter == ledger
    # and the objective check's runs (CE at lr 0.1, wd 5e-4 / 0.01) are evidence-confound-location-objective's
    objective = confound.objective_check("location", p["betas"][0], p["seeds"], workers=1, **recipe)
    assert (objective["n"], objective["note"], objective["weight_decay"]) == (20, "", pytest.approx(0.05))


def test_the_default_long_image_runs_are_all_in_the_ledger():
    """The book never trains a long image run in a build (30 to 70 CPU-minutes each): chapter 6's default image
    runs (it trains what the ledger lacks) and chapters 8 and 11's long recipes (they leave out a seed the ledger
    lacks, which would silently shrink them) are all recorded. Extend a chapter's seeds only once recorded."""
    from ccl_lib.analysis.runs import chapter_specs
    from ccl_lib.experiments import load_experiment
    from ccl_lib.experiments.ledger import resolve_ledger
    from ccl_lib.parameters import CHAPTERS

    def defaults(chapter):
        return {k: v.default for k, v in CHAPTERS[chapter].parameters.items()}

    p6, p8, p11 = defaults("06_convergence"), defaults("08_table1_p1"), defaults("11_privacy_source")
    losses = {"vanilla": [{}], "ccel": [{"alpha": p6["alpha"]}], "ccql": [{"alpha": p6["alpha"]}]}
    specs = load_experiment(p6["image_experiment"], {"defenses": losses, "lr": p6["lr"], "seeds": p6["image_seeds"]})
    specs = list(specs.specs()) + chapter_specs(p8["image_experiment"], p8["image_seeds"], evidence="compute")[0]
    for key in ("long", "attempt"):
        specs += [s for _, s in confound.long_recipe_pairs(p11[f"{key}_experiment"], p11[f"{key}_seeds"])[0]]
    ledger = resolve_ledger(True)
    n_seeds = [p6["image_seeds"], p8["image_seeds"], p11["long_seeds"], p11["attempt_seeds"]]
    assert len(specs) == 3 * sum(len(x) for x in n_seeds) and len(p11["attempt_seeds"]) == 5
    assert [s.label() for s in specs if s.key() not in ledger] == []


def test_the_identity_check_raises_no_scale_warning():
    """Chapter 11 shows no warning in its outputs (the book's page check fails on one): the identity check on an
    MLP at scale 0.01 takes the small steps the warning is about on purpose, and does not raise it."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = confound.scale_identity_check(0.01, epochs=1)
    assert r["max_rel_diff"] < 1e-5
    assert [str(w.message) for w in caught] == []


def test_the_long_recipe_pairs_are_the_recorded_experiments_runs():
    from ccl_lib.experiments import load_experiment

    seeds = sorted({s.seed for s in load_experiment("evidence-confound-cifar10-cpu-long").specs()})
    assert len(seeds) >= 3
    pairs, text = confound.long_recipe_pairs("evidence-confound-cifar10-cpu-long", seeds)
    recorded = {s.key() for n in ("evidence-confound-cifar10-cpu-long", "evidence-confound-cifar10-cpu-long-recipe")
                for s in load_experiment(n).specs()}  # fmt: skip
    assert {s.key() for _, s in pairs} == recorded and len(pairs) == 3 * len(seeds)
    assert all(s.batch_size == 16 and s.epochs == 400 and s.milestones == () for _, s in pairs)
    assert {(a.name, s.lr, s.weight_decay) for a, s in pairs} == {
        ("CE", 0.1, 5e-4), ("CE(lr·β, wd/β)", 0.1 * 0.01, 5e-4 / 0.01), ("CCQL×β", 0.1, 5e-4)}  # fmt: skip
    assert text.endswith("400 epochs (milestones []), augmentation off, batch 16")


class _Held:
    def __init__(self, keys):
        self.keys_ = set(keys)

    def __contains__(self, key):
        return key in self.keys_


def test_recorded_pairs_keep_only_seeds_whose_every_arm_is_recorded(monkeypatch):
    from ccl_lib.confound import setting

    pairs, _ = confound.long_recipe_pairs("evidence-confound-cifar10-cpu-long", [0, 1, 2])
    held = [s.key() for a, s in pairs if not (s.seed == 1 and a.name == "CCQL×β")]  # seed 1 lacks one arm
    monkeypatch.setattr("ccl_lib.experiments.ledger.resolve_ledger", lambda ledger: _Held(held))
    kept, note = setting.recorded_pairs(pairs)
    assert sorted({s.seed for _, s in kept}) == [0, 2] and len(kept) == 6
    assert note == "1 of 9 runs are not in the evidence ledger yet (seeds [1] left out)"
    monkeypatch.setattr("ccl_lib.experiments.ledger.resolve_ledger", lambda ledger: _Held(s.key() for _, s in pairs))
    assert setting.recorded_pairs(pairs) == (pairs, "")


def test_setting_analysis_of_a_small_real_sweep_excludes_the_untrained_scaled_arms(tmp_path):
    from ccl_lib.analysis.runs import run_runs
    from ccl_lib.defenses.ccl import UnnormalizedScaleWarning

    pairs = confound.arm_specs("digits", confound.arms(0.01, names=confound.IMAGE_ARMS_CI), [0, 1],
                               model="mlp", epochs=3, size=150, attacks=("loss",))  # fmt: skip
    with pytest.warns(UnnormalizedScaleWarning, match="loss scale 0.01 < 1 on a MLP"):  # the library says so itself
        df, runs = run_runs([s for _, s in pairs], workers=1, evidence="compute", cache=tmp_path)
    out = confound.setting_analysis(df, runs, pairs, name="digits, short", setting="digits, 2 seeds", beta=0.01)
    t = out["table"].set_index("arm")
    assert list(t.index) == ["CE", "CE(lr·β, wd/β)", "CCQL×β"] and (t["n"] == 2).all()
    assert t.loc["CE", "trains"] and not t.loc["CCQL×β", "trains"]  # 3 epochs at lr 0.001: near chance
    assert out["findings"]["n_seeds"] == "2" and out["findings"]["answer"].startswith(
        f"On digits, short, CCQL×0.01 minus CE(lr·0.01, wd/0.01): {confound.NOT_TESTABLE}"
    )
    sc = out["scorecard"]
    assert [r["item"] for r in sc] == ["Scale confound"] and sc[0]["verdict"] == NO_VERDICT and sc[0]["excluded"]
    assert set(out["curves"]["epoch"]) == {1, 2, 3}
    with pytest.raises(ValueError, match="one data set"):
        confound.setting_analysis(df, runs, pairs + confound.arm_specs("location", confound.arms(0.01, names=["CE"]),
                                  [0], model="mlp", epochs=1, size=50), name="x", setting="x", beta=0.01)  # fmt: skip


def test_sgd_steps_counts_the_trainers_optimizer_steps():
    """sgd_steps against the optimizer steps the trainer really takes (a global step hook), with a short
    last batch; and the issue's numbers: cifar10-cpu takes 200 steps (500 / 128 x 50)."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from ccl_lib.models import MLP
    from ccl_lib.train import TrainConfig, fit

    counted = []
    handle = register_optimizer_step_post_hook(lambda *a: counted.append(1))
    try:
        x, y = torch.randn(37, 5), torch.randint(0, 3, (37,))
        fit(MLP(5, 3, hidden=(4,)), x, y, config=TrainConfig(epochs=3, batch_size=16, lr=0.1), progress=False)
    finally:
        handle.remove()
    assert confound.sgd_steps({"epochs": 3, "size": 37, "batch_size": 16}) == len(counted) == 9
    _, rec = confound.image_recipe("cifar10-cpu", {})
    assert confound.sgd_steps(rec) == 200
    assert confound.steps_text("cifar10-cpu", reference="cifar10-cpu").endswith(
        "200 SGD steps, 1 times cifar10-cpu's 200"
    )
    text = confound.steps_text("evidence-table1-cifar10-cpu-800")
    assert text == "batch 16 for 800 epochs: 25,600 SGD steps, 128 times cifar10-cpu's 200"
    assert confound.steps_text("figure5-cifar10") == "batch 128 for 300 epochs on all of the data set"
    with pytest.raises(ValueError, match="'size' must be a positive integer"):
        confound.sgd_steps({"epochs": 3})
    with pytest.raises(ValueError, match="'batch_size' must be a positive integer"):
        confound.sgd_steps({"epochs": 3, "size": 10, "batch_size": 0})


def test_long_recipe_setting_reads_the_recorded_400_epoch_recipe():
    """The first long recipe from the committed ledger: five seeds of three arms, the scaled arm's lowest final
    train accuracy as recorded (83.4 %, seed 4), and 1 / (lr wd) = 1 / (0.1 x 5e-4) = 20,000 steps."""
    import matplotlib.pyplot as plt

    sec = confound.long_recipe_setting("evidence-confound-cifar10-cpu-long", [0, 1, 2, 3, 4], workers=1,
                                       name="cifar10-cpu, long recipe")  # fmt: skip
    assert sec["n_seeds"] == 5 and len(sec["pairs"]) == 15 and sec["note"] == ""
    assert sec["steps"] == "batch 16 for 400 epochs: 12,800 SGD steps, 64 times cifar10-cpu's 200"
    assert sec["equilibrium"] == pytest.approx(20_000)
    t = sec["analysis"]["table"].set_index("arm")
    assert t.loc["CCQL×β", "train_acc_min"] == pytest.approx(0.834, abs=5e-4) and not t.loc["CCQL×β", "trains"]
    assert "read from the evidence ledger" in sec["source"]
    # the records' wall times as recorded: 13.9 ... 37.5 minutes, median 19.1 (the eighth of fifteen)
    assert sec["minutes"] == "between 14 and 37 minutes per run (median 19)"
    f = confound.long_recipe_findings({"attempt": sec})
    assert f["attempt_n_seeds"] == "5" and f["attempt_equilibrium"] == "20,000"
    assert f["attempt_train"].endswith("CCQL×0.01 95.6 % (lowest 83.4 %)")
    assert f["long_answer"] == "The long recipe was not run (no recorded seed)." and f["long_steps"] == "n/a"
    assert f["attempt_minutes"] == sec["minutes"] and f["long_minutes"] == "n/a"
    views = confound.long_recipe_view(sec, "cifar10-cpu", comparisons=False)
    assert len(views) == 2 and "batch 16, 400 epochs" in views[1].axes[0].get_title()
    plt.close("all")


def test_long_recipe_setting_without_recorded_seeds_and_bad_input(monkeypatch):
    monkeypatch.setattr("ccl_lib.experiments.ledger.resolve_ledger", lambda ledger: _Held([]))
    sec = confound.long_recipe_setting("evidence-confound-cifar10-cpu-long", [0, 1])
    assert sec["analysis"] is None and sec["pairs"] == [] and sec["n_seeds"] == 0
    assert sec["note"] == "6 of 6 runs are not in the evidence ledger yet (seeds [0, 1] left out)"
    with pytest.raises(ValueError, match="has no recorded seed to show"):
        confound.long_recipe_view(sec, "cifar10-cpu")
    with pytest.raises(ValueError, match="evidence must be 'ledger' or 'compute', got 'cache'"):
        confound.long_recipe_setting("evidence-confound-cifar10-cpu-long", [0], evidence="cache")


def test_objective_check_fits_only_where_the_objective_can(tmp_path, monkeypatch):
    """CE at (lr, wd / beta) -- the objective CE x beta descends, with 1/beta times larger steps -- fits digits at
    beta 1 (wd 5e-4) and stays at chance (10 classes: 10 %) at beta 0.001 (wd 0.5), on the same split."""
    monkeypatch.setenv("CCL_CACHE_DIR", str(tmp_path))
    kw = dict(evidence="compute", workers=1, model="mlp", epochs=15, size=150, attacks=("loss",), batch_size=32)
    fits = confound.objective_check("digits", 1.0, [0], **kw)
    stuck = confound.objective_check("digits", 0.001, [0], **kw)
    assert (fits["lr"], fits["weight_decay"]) == (0.1, 5e-4) and stuck["weight_decay"] == pytest.approx(0.5)
    assert fits["n"] == stuck["n"] == 1 and fits["trains"] and fits["train_acc"] >= 0.95
    assert not stuck["trains"] and stuck["train_acc_min"] <= 0.15
    with pytest.raises(ValueError, match=r"beta must be in \(0, 1\]"):
        confound.objective_check("digits", 2.0, [0])
    with pytest.raises(ValueError, match="weight_decay must be a finite number > 0"):
        confound.objective_check("digits", 0.01, [0], weight_decay=0.0)
    monkeypatch.setattr("ccl_lib.experiments.ledger.resolve_ledger", lambda ledger: _Held([]))
    none = confound.objective_check("digits", 0.01, [0, 1], model="mlp", epochs=2, size=150)
    assert none["n"] == 0 and math.isnan(none["train_acc"]) and "seeds [0, 1] left out" in none["note"]
