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
