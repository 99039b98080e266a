"""Chapter 7's analysis (ccl_lib.analysis.figure23) and chapter 12's (ccl_lib.analysis.code_variants) on hand-built
frames: Sec. 5.2's rule, paired verdicts, the cost of a grid, and the code variants' paired effects."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ccl_lib.analysis import code_variants, figure23
from ccl_lib.analysis.runs import chapter_specs
from ccl_lib.experiments.ledger import Ledger
from ccl_lib.verdicts import verdict

T2 = 4.302652729911275  # t_{2, 0.975}


def _frame(variant_rows=False):
    # vanilla acc .50; CCQL acc .55, loss adv .10/.12/.14; dropout acc .52, .20/.21/.25; label smoothing acc .45
    arms = {"vanilla": (0.50, [0.40, 0.40, 0.40]), "ccql": (0.55, [0.10, 0.12, 0.14]),
            "dropout": (0.52, [0.20, 0.21, 0.25]), "label_smoothing": (0.45, [0.01, 0.01, 0.01])}  # fmt: skip
    if variant_rows:
        arms["dropout|ccl_code"] = (0.53, [0.05, 0.06, 0.07])
    rows = []
    for arm, (acc, advs) in arms.items():
        d, _, var = arm.partition("|")
        for seed, adv in enumerate(advs):
            for atk, a in (("loss", adv), ("entropy", adv / 2)):
                rows.append({"run_id": f"{arm}{seed}", "key": f"{arm}{seed}", "defense": d, "seed": seed,
                             "setting": f"toy/mlp {d}{'(variant=' + var + ')' if var else ''} size=10",
                             "attack": atk, "paper_attack": True, "test_acc": acc, "advantage": a,
                             "advantage_oracle": a + 0.01, "p1": 2 * acc * (1 - adv) / (acc + 1 - adv),
                             "hp_variant": var or None, "balanced_accuracy": 0.5 + a / 2})  # fmt: skip
    return pd.DataFrame(rows)


def test_point_label():
    labels = {"ccql": "CCQL", "early_stopping": "Early stopping"}
    assert figure23.point_label("location/mlp ccql(alpha=0.5, scale=1) size=1000", labels) == "CCQL (alpha=0.5)"
    assert figure23.point_label("location/mlp early_stopping stop=20 size=1000", labels) == "Early stopping, epoch 20"


def test_rule_table_picks_by_the_accuracy_bar_and_pairs_by_seed():
    frames = figure23.seed_frames(_frame())
    strict = figure23.rule_table(frames, 0.0)
    assert strict.attrs["min_acc"] == pytest.approx(0.50)
    loss = strict.loc["loss"]
    assert loss["CCL setting"] == "ccql" and loss["baseline setting"] == "dropout"  # label smoothing is below the bar
    diffs = [-0.10, -0.09, -0.11]
    sd = pd.Series(diffs).std()
    assert loss["difference"] == pytest.approx(-0.10)
    assert loss["difference_high"] == pytest.approx(-0.10 + T2 * sd / math.sqrt(3))
    assert loss["verdict"] == "agrees"
    loose = figure23.rule_table(frames, 0.06)  # bar .44: label smoothing (.01) becomes the best baseline
    assert loose.loc["loss", "baseline setting"] == "label_smoothing" and loose.loc["loss", "verdict"] == "opposite"
    v, pair, rule = figure23.figure23_verdict(frames, strict, loose)
    assert rule == "strict" and pair[1]["point"] == "dropout" and v.interval.mean == pytest.approx(-0.10)
    ex = figure23.loss_example(frames, strict)
    assert ex["baseline_iv"].mean == pytest.approx((0.20 + 0.21 + 0.25) / 3)
    with pytest.raises(ValueError, match="tolerance"):
        figure23.rule_table(frames, 1.5)


def test_figure23_verdict_reads_smaller_against_the_papers_example_effect():
    # CCQL's loss advantage .19/.22/.24 against dropout's .20/.21/.25: paired -.01, +.01, -.01, an interval that
    # holds zero but not the paper's Sec. 5.2 gap, 18.40 % - 29.67 % = -11.27 points (transcribed)
    df = _frame()
    adv = {0: 0.19, 1: 0.22, 2: 0.24}
    ccql = df["defense"] == "ccql"
    df.loc[ccql, "advantage"] = [adv[r.seed] * (1.0 if r.attack == "loss" else 0.5) for r in df[ccql].itertuples()]
    frames = figure23.seed_frames(df)
    strict, loose = figure23.rule_table(frames, 0.0), figure23.rule_table(frames, 0.06)
    v, pair, rule = figure23.figure23_verdict(frames, strict, loose)
    assert rule == "strict" and pair[1]["point"] == "dropout"
    sd = pd.Series([-0.01, 0.01, -0.01]).std()
    low = -0.01 / 3 - T2 * sd / math.sqrt(3)
    assert v.interval.mean == pytest.approx(-0.01 / 3) and v.interval.low == pytest.approx(low)
    assert v.paper_effect == pytest.approx(-0.1127)
    assert v.word == "smaller than the paper's" and v.bound == pytest.approx(low)
    # the same interval with no paper effect would only hold zero: inconclusive
    assert verdict(v.interval, claim="lower").word == "inconclusive"


def test_variant_verdicts_swap_only_the_coded_baseline():
    both = figure23.variant_verdicts(_frame(variant_rows=True), acc_tolerance=0.02)
    assert both["paper"][1][1]["point"] == "dropout" and both["paper"][0].word == "agrees"
    # the fork's dropout (.05/.06/.07) beats CCQL (.10/.12/.14) by .05 every ... paired: +.05, +.06, +.07
    assert both["ccl_code"][0].interval.mean == pytest.approx(0.06) and both["ccl_code"][0].word == "opposite"
    with pytest.raises(ValueError, match="ccl_code"):
        figure23.variant_verdicts(_frame(), acc_tolerance=0.02)
    # CCL runs from another sweep of the same seeds replace the frame's: a CCQL point at .03/.03/.03
    grid = _frame().query("defense == 'ccql'").assign(advantage=0.03, setting="toy/mlp ccql(alpha=0.9) size=10")
    both = figure23.variant_verdicts(_frame(variant_rows=True), acc_tolerance=0.02, ccl_runs=grid)
    assert both["paper"][1][0]["point"] == "ccql (alpha=0.9)"
    # paired against the fork's dropout (.05/.06/.07): -.02, -.03, -.04
    assert both["ccl_code"][0].interval.mean == pytest.approx(-0.03) and both["ccl_code"][0].word == "agrees"
    with pytest.raises(ValueError, match="no CCEL or CCQL run"):
        figure23.variant_verdicts(_frame(variant_rows=True), acc_tolerance=0.02, ccl_runs=grid.assign(seed=7))


class _FakeLedger(Ledger):
    def __init__(self, recs):
        self.root, self._recs = None, recs

    def records(self, *, warn=True):
        return iter(self._recs)

    def keys(self):
        return []


def test_grid_cost_multiplies_runs_by_recorded_seconds():
    from ccl_lib.experiments import grid

    specs = grid("location", {"vanilla": [{}], "ccel": [{"alpha": 0.5}], "ccql": [{"alpha": 0.5}]}, seeds=[0, 1],
                 epochs=30, size=1000)  # fmt: skip
    specs = [s for s in specs if not (s.defense == "ccel" and s.seed == 1)]  # 2 vanilla, 1 CCEL, 2 CCQL
    rec = lambda d, sec, ep=30: {"spec": {"dataset": "location", "epochs": ep, "defense": d},  # noqa: E731
                                 "provenance": {"wall_seconds": sec, "cpu": "X", "threads": 1}}  # fmt: skip
    led = _FakeLedger([rec("vanilla", 10), rec("vanilla", 20), rec("vanilla", 900), rec("ccel", 30),
                       rec("vanilla", 999, ep=120)])  # fmt: skip
    c = figure23.grid_cost(specs, ledger=led, workers=2)
    # vanilla 2 x 20 (median of 10, 20 and a paused 900), CCEL 1 x 30, CCQL 2 x 25 (imputed: median of 10, 20, 900, 30)
    assert c["runs"] == 5 and c["seconds"] == pytest.approx(120.0) and c["hours_parallel"] == pytest.approx(120 / 7200)
    assert c["per_defense"].loc["ccql", "source"] == "imputed" and c["measured_from"] == 4


def test_code_variants_paired_effects_and_p1_both_ways():
    df = _frame(variant_rows=True)
    eff = code_variants.defense_effects(df).set_index("defense")
    assert eff.loc["dropout", "d_max_adv"] == pytest.approx(((0.05 - 0.20) + (0.06 - 0.21) + (0.07 - 0.25)) / 3)
    assert eff.loc["dropout", "d_test_acc"] == pytest.approx(0.01) and eff.loc["dropout", "n"] == 3
    rel = df[df["attack"] == "loss"].assign(attack="loss_release", advantage=lambda t: t["advantage"] - 0.02)
    att = code_variants.attack_effects(pd.concat([df, rel]))
    assert att.set_index("attack").loc["loss", "release - ccl_lib"] == pytest.approx(-0.02)
    t = code_variants.p1_both_ways(df)
    x = 0.5 + 0.12 / 2  # CCQL's loss-attack accuracy, mean seed
    assert t.loc["ccql", "p1_release"] == pytest.approx(
        sum(2 * 0.55 * (1 - (0.5 + a / 2)) / (0.55 + 1 - (0.5 + a / 2)) for a in (0.10, 0.12, 0.14)) / 3
    )
    assert t.loc["ccql", "p1_release"] < 2 / 3 and x > 0.5


def test_code_variants_chapter_specs_settings_and_findings(tmp_path):
    import json
    from pathlib import Path

    import ccl_lib

    cfg = json.loads((Path(ccl_lib.__file__).parent / "configs/experiments/variants-location.json").read_text())
    n_arms = sum(len(v) for v in cfg["defenses"].values())
    every, note = chapter_specs("variants-location", [0, 1], evidence="compute")
    assert len(every) == 2 * n_arms and note == "" and {s.seed for s in every} == {0, 1}
    held, note = chapter_specs("variants-location", [0, 1], ledger=Ledger(tmp_path))
    assert held == [] and note.startswith(f"{2 * n_arms} of {2 * n_arms} runs of variants-location are not in")
    with pytest.raises(ValueError, match=r"evidence must be one of \('ledger', 'compute'\)"):
        chapter_specs("variants-location", [0], evidence="cache")
    assert code_variants.setting_text("cifar10-cpu") == "cifar10-jpeg, resnet8, 500 per part, 50 epochs"
    empty = code_variants.variant_effects("variants-location", [0], ledger=Ledger(tmp_path), prefix="x_")
    assert empty["defenses"].empty and empty["findings"]["x_n_seeds"] == "0"
    assert empty["findings"]["x_summary"] == "no run of it is recorded yet" and "x_setting" in empty["findings"]
    df = _frame(variant_rows=True)
    rel = df[df["attack"] == "loss"].assign(attack="loss_release", advantage=lambda t: t["advantage"] - 0.02)
    both = pd.concat([df, rel])
    found = code_variants.effect_findings(code_variants.defense_effects(df), code_variants.attack_effects(both))
    # dropout's change of the highest advantage per seed: -0.15, -0.15, -0.18: mean -0.16, sd sqrt(3e-4)
    half = T2 * math.sqrt(3e-4) / math.sqrt(3)
    lo, hi = 100 * (-0.16 - half), 100 * (-0.16 + half)
    assert found["dropout_ccl_code"] == f"test accuracy 1.0% [1.0, 1.0], highest advantage -16.0% [{lo:.1f}, {hi:.1f}]"
    assert found["att_loss"] == "-2.0% [-2.0, -2.0]"
    text = code_variants.effect_summary(code_variants.defense_effects(df), code_variants.attack_effects(both))
    assert text == (f"dropout (ccl_code form): {found['dropout_ccl_code']}; "
                    "loss (release form minus ccl_lib's, advantage) -2.0% [-2.0, -2.0]")  # fmt: skip


def _lira_frame():
    # per seed: CE's TPR@1% with lira / lira_reference, CCQL's; the reference form is +.02, +.05, +.02 on CE
    vals = {"vanilla": {"lira": [0.10, 0.12, 0.14], "lira_reference": [0.12, 0.17, 0.16]},
            "ccql": {"lira": [0.04, 0.05, 0.09], "lira_reference": [0.05, 0.05, 0.11]}}  # fmt: skip
    rows = []
    for defense, forms in vals.items():
        for attack, tprs in forms.items():
            for seed, t in enumerate(tprs):
                rows.append({"key": f"{defense}{seed}", "defense": defense, "seed": seed, "attack": attack,
                             "tpr@1%": t, "auc": 0.5 + t, "advantage": t / 2})  # fmt: skip
    rows.append({"key": "vanilla0", "defense": "vanilla", "seed": 0, "attack": "loss", "tpr@1%": 0.9,
                 "auc": 0.9, "advantage": 0.9})  # fmt: skip
    return pd.DataFrame(rows)


def test_lira_effects_and_verdicts_pair_by_run_and_seed():
    df = _lira_frame()
    eff = code_variants.lira_effects(df).set_index(["defense", "metric"])
    # CE: differences .02, .05, .02 -> mean .03, sd sqrt(3e-4); the loss row is ignored
    half = T2 * math.sqrt(3e-4) / math.sqrt(3)
    r = eff.loc[("vanilla", "tpr@1%")]
    assert r["d"] == pytest.approx(0.03) and r["d_low"] == pytest.approx(0.03 - half)
    assert r["lira"] == pytest.approx(0.12) and r["lira_reference"] == pytest.approx(0.15) and r["n"] == 3
    assert eff.loc[("ccql", "advantage"), "d"] == pytest.approx((0.01 + 0.0 + 0.02) / 2 / 3)
    ver = code_variants.lira_verdicts(df).set_index(["attack", "defense"])
    # CCQL - CE per seed: lira -.06, -.07, -.05; lira_reference -.07, -.12, -.05
    assert ver.loc[("lira", "ccql"), "d"] == pytest.approx(-0.06)
    assert ver.loc[("lira_reference", "ccql"), "d"] == pytest.approx(-0.08)
    sd = math.sqrt(((0.01) ** 2 + (0.04) ** 2 + (0.03) ** 2) / 2)
    assert ver.loc[("lira_reference", "ccql"), "d_high"] == pytest.approx(-0.08 + T2 * sd / math.sqrt(3))
    assert ("lira", "vanilla") not in ver.index
    with pytest.raises(ValueError, match="no row of the attacks"):
        code_variants.lira_effects(df[df["attack"] == "loss"])
    with pytest.raises(ValueError, match="metric 'tpr@5%' is not a report column"):
        code_variants.lira_effects(df, metrics=["tpr@5%"])


def test_lira_section_reads_only_recorded_runs(tmp_path):
    empty = code_variants.lira_section("variants-lira-location", [0, 1], ledger=Ledger(tmp_path))
    assert empty["effects"].empty and empty["findings"]["lira_n_seeds"] == "0"
    assert empty["note"].startswith(
        "4 of 4 runs of variants-lira-location are not in the evidence ledger yet (seeds [0, 1] left out): `python"
    )
    assert empty["findings"]["lira_setting"].startswith("variants-lira-location (location, mlp, 1,000 per part")
    skipped = code_variants.lira_section("", [0])
    assert skipped["effects"].empty and skipped["findings"]["lira_text"] == "not run"


def test_scale_effects_pair_each_scale_with_the_base_by_seed(tmp_path):
    rows = []
    # CCQL at 0.01: acc .28/.30/.29, adv .80/.82/.84; at 0.05: acc .30/.31/.33, adv .78/.83/.80
    for scale, accs, advs in (
        (0.01, [0.28, 0.30, 0.29], [0.80, 0.82, 0.84]),
        (0.05, [0.30, 0.31, 0.33], [0.78, 0.83, 0.80]),
    ):
        for seed, (acc, adv) in enumerate(zip(accs, advs)):
            for atk, a in (("loss", adv), ("entropy", adv - 0.1), ("lira", 0.99)):
                rows.append({"defense": "ccql", "scale": scale, "seed": seed, "attack": atk, "advantage": a,
                             "test_acc": acc, "train_acc": 0.97 + scale / 2})  # fmt: skip
    eff = code_variants.scale_effects(pd.DataFrame(rows)).iloc[0]
    # differences: acc +.02, +.01, +.04 (mean .0233); adv -.02, +.01, -.04 (mean -.0167); lira is no paper attack
    assert eff["scale"] == 0.05 and eff["n"] == 3 and eff["train_acc_base"] == pytest.approx(0.975)
    assert eff["d_test_acc"] == pytest.approx(0.07 / 3) and eff["d_max_adv"] == pytest.approx(-0.05 / 3)
    sd = math.sqrt(sum((x + 0.05 / 3) ** 2 for x in (-0.02, 0.01, -0.04)) / 2)
    assert eff["d_max_adv_high"] == pytest.approx(-0.05 / 3 + T2 * sd / math.sqrt(3))
    with pytest.raises(ValueError, match="no CCEL or CCQL run"):
        code_variants.scale_effects(pd.DataFrame(rows).assign(defense="vanilla"))
    empty = code_variants.scale_section("variants-scale-cifar10-cpu-long", [0], ledger=Ledger(tmp_path))
    assert empty["effects"].empty and empty["findings"]["scale_text"] == "no run of it is recorded yet"


def test_scale_effects_leave_out_a_seed_on_which_an_arm_did_not_train():
    # seeds 0-3: both arms fit (98-100 % train); seed 3's 0.01 arm stalls at 83.4 % (below 95 %)
    rows = []
    base_train = [0.99, 0.98, 1.00, 0.834]
    for scale, accs, advs in (
        (0.01, [0.28, 0.30, 0.29, 0.20], [0.80, 0.82, 0.84, 0.30]),
        (0.05, [0.30, 0.31, 0.33, 0.31], [0.78, 0.83, 0.80, 0.85]),
    ):
        for seed, (acc, adv) in enumerate(zip(accs, advs)):
            train = base_train[seed] if scale == 0.01 else 1.0
            rows.append({"defense": "ccql", "scale": scale, "seed": seed, "attack": "loss", "advantage": adv,
                         "test_acc": acc, "train_acc": train})  # fmt: skip
    eff = code_variants.scale_effects(pd.DataFrame(rows)).iloc[0]
    # without seed 3: acc differences +.02, +.01, +.04; adv -.02, +.01, -.04
    assert eff["n"] == 3 and eff["excluded"] == {3: (1.0, 0.834)}
    assert eff["d_test_acc"] == pytest.approx(0.07 / 3) and eff["d_max_adv"] == pytest.approx(-0.05 / 3)
    assert eff["train_acc_base"] == pytest.approx(0.99)
    # with CE at 0.86 on seed 3, 83.4 % is within 5 points of CE's and the seed counts
    ce = [{"defense": "vanilla", "scale": 1.0, "seed": s, "attack": "loss", "advantage": 0.9, "test_acc": 0.3,
           "train_acc": 0.86 if s == 3 else 1.0} for s in range(4)]  # fmt: skip
    eff = code_variants.scale_effects(pd.DataFrame(rows + ce)).iloc[0]
    assert eff["n"] == 4 and eff["excluded"] == {}
    assert eff["d_max_adv"] == pytest.approx((-0.05 + 0.55) / 4)
    assert code_variants._excluded_text({3: (1.0, 0.834)}, 0.05) == (
        "; seed 3 left out because an arm did not train (final training accuracy 100.0% at 0.05, 83.4% at 0.01)"
    )
