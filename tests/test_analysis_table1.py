"""Chapter 8's analysis (ccl_lib.analysis.p1): Table 1 over paired seeds, P1 both ways, the paper's references.

Every expected number is computed by hand from Table 1 or from Eq. 13 written out here."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from ccl_lib.analysis import p1


def eq13(acc, x):
    return 2 * acc * (1 - x) / (acc + 1 - x)


def test_reference_gain_is_the_smallest_tabular_gain_or_the_own_column():
    gain, src = p1.reference_gain("CCQL", "location")
    assert gain == pytest.approx(0.868 - 0.858) and "Purchase" in src  # Texas: 0.607 - 0.551 = 0.056
    assert p1.reference_gain("CCEL", "location")[0] == pytest.approx(0.864 - 0.858)
    assert p1.reference_gain("CCQL", "texas100")[0] == pytest.approx(0.607 - 0.551)
    # the JPEG copy of CIFAR-10 is compared with CIFAR-10's own column: CCQL 0.769 - 0.741
    gain, src = p1.reference_gain("CCQL", "cifar10-jpeg")
    assert gain == pytest.approx(0.769 - 0.741) and "CIFAR-10 column" in src
    with pytest.raises(ValueError, match="CCQL"):
        p1.paper_gains("w/o")


def test_recipe_label_and_recipes():
    assert p1.recipe_label(120, [50, 100]) == "120 epochs, milestones 50/100"
    assert p1.recipe_label(120, "[50, 100]") == "120 epochs, milestones 50/100"
    assert p1.recipe_label(30, "[]") == "30 epochs"
    assert p1.recipe_label(400, [], 16) == "400 epochs, batch 16" and p1.recipe_label(30, [], 128) == "30 epochs"
    assert p1.table1_recipes(30, [], True) == [(30, []), (120, [50, 100])]
    assert p1.table1_recipes(120, [50, 100], True) == [(120, [50, 100])]
    assert p1.table1_recipes(30, [], False) == [(30, [])]


def _frame():
    rows = []
    accs = {"vanilla": 0.50, "ccql": 0.52, "ccel": 0.49}
    for seed in range(3):
        for d, acc in accs.items():
            for atk, adv, bal in (
                ("loss", 0.30 + 0.01 * seed, 0.60),
                ("confidence", 0.40, 0.55),
                ("nn_sorted", 0.9, 0.9),
            ):
                rows.append({"run_id": f"{d}{seed}", "dataset": "location", "epochs": 30, "milestones": "[]",
                             "defense": d, "seed": seed, "test_acc": acc, "attack": atk, "advantage": adv,
                             "advantage_oracle": adv + 0.05, "balanced_accuracy": bal,
                             "paper_attack": atk != "nn_sorted"})  # fmt: skip
    return pd.DataFrame(rows)


def test_table1_runs_computes_both_p1_definitions_by_eq13():
    per_run = p1.table1_runs(_frame())
    r = per_run[(per_run["method"] == "CCQL") & (per_run["seed"] == 0)].iloc[0]
    assert (
        r["max_advantage"] == pytest.approx(0.40) and r["worst_attack"] == "confidence"
    )  # nn_sorted not a paper attack
    assert r["p1"] == pytest.approx(eq13(0.52, 0.40))
    assert r["p1_release"] == pytest.approx(eq13(0.52, 0.60))  # the loss attack's accuracy, not an advantage
    assert set(per_run["recipe"]) == {"30 epochs"}


def test_table1_summary_paired_change_and_verdict_against_the_reference():
    rows = []
    for seed, (base, d) in enumerate(((0.30, -0.001), (0.32, 0.001), (0.31, 0.003))):
        for m, v in (("w/o", base), ("CCQL", base + d)):
            rows.append({"dataset": "location", "recipe": "30 epochs", "method": m, "seed": seed, "test_acc": 0.5,
                         "max_advantage": 0.7, "worst_attack": "loss", "p1": v, "p1_release": v / 2})  # fmt: skip
    s = p1.table1_summary(pd.DataFrame(rows))
    row = s[s["method"] == "CCQL"].iloc[0]
    half = 4.302652729911275 * 0.002 / math.sqrt(3)  # t_{2, 0.975} * sd / sqrt(n); diffs -0.001, 0.001, 0.003
    assert row["change"] == pytest.approx(0.001) and row["change_high"] == pytest.approx(0.001 + half)
    v = s.attrs["verdicts"][("location", "30 epochs", "CCQL")]
    assert v.word == "smaller than the paper's" and v.paper_effect == pytest.approx(0.010)  # holds 0, excludes 0.010
    assert row["change_release"] == pytest.approx(0.0005)


def test_findings_count_the_published_values_the_release_cannot_give():
    df = _frame()
    per_run = p1.table1_runs(df)
    s = p1.table1_summary(per_run)
    from ccl_lib.paper_results import table1

    f = p1.table1_findings(s, per_run, table1())
    # above 2/3: Purchase 0.868, 0.864, 0.858 and CIFAR-10 0.769, 0.797, 0.741
    assert f["n_release_impossible"] == 6 and f["release_impossible_cols"] == "Purchase, CIFAR-10"
    assert f["wo_p1"] == pytest.approx(eq13(0.50, 0.40)) and f["n_pairs"] == 2
    ex = p1.table1_exercise_findings(df, s, per_run)
    assert ex["ex1_drop_min"] == pytest.approx(eq13(0.49, 0.40) - eq13(0.49, 0.45))
    assert ex["ex2_n_extra"] == 9 and ex["ex2_drop_max"] == pytest.approx(eq13(0.52, 0.40) - eq13(0.52, 0.9))
    rows = p1.table1_scorecard_rows(s, models={"location": "mlp"})
    words = {r["setting"].split(", ")[3].split()[0]: r for r in rows}  # CCQL: +0.02 accuracy every seed; CCEL: -0.01
    assert words["CCQL"]["verdict"].word == "agrees" and words["CCQL"]["cause"] == ""
    assert words["CCEL"]["verdict"].word == "opposite" and "Purchase" in words["CCEL"]["cause"]


def test_a_second_data_set_gets_its_own_findings_models_and_names():
    loc = _frame()
    img = _frame().assign(dataset="cifar10-jpeg", epochs=400, batch_size=16, model="resnet8",
                          run_id=lambda t: "img" + t["run_id"])  # fmt: skip
    img["scale"] = [0.01 if d in ("ccel", "ccql") else math.nan for d in img["defense"]]
    df = pd.concat([loc.assign(batch_size=128, model="mlp", scale=1.0), img], ignore_index=True)
    per_run = p1.table1_runs(df)
    s = p1.table1_summary(per_run)
    from ccl_lib.paper_results import table1

    f = p1.table1_findings(s, per_run, table1())
    # one recipe per data set: both verdicts are first-recipe verdicts, named with '_' for '-'
    assert "v_cifar10_jpeg_ccql" in f and "vp_cifar10_jpeg_ccql" not in f and f["paper_recipe"] == "none"
    assert f["first"] == "location" and f["recipe"] == "30 epochs"
    img_f = p1.table1_setting_findings(s, "cifar10-jpeg")
    assert img_f["img_recipe"] == "400 epochs, batch 16" and img_f["img_seeds"] == "3"
    assert img_f["img_p1"] == (f"CCQL {eq13(0.52, 0.40):.3f}, CCEL {eq13(0.49, 0.40):.3f}, "
                               f"w/o {eq13(0.50, 0.40):.3f}")  # fmt: skip
    assert img_f["img_v_ccql"] == f["v_cifar10_jpeg_ccql"]
    assert set(p1.table1_setting_findings(s, "cifar100").values()) == {"not recorded in this build"}
    assert p1.table1_models(df) == {"location": "mlp", "cifar10-jpeg": "resnet8, CCL scale 0.01"}


def test_gpu_records_keep_only_checked_full_runs(tmp_path):
    good = {"kind": "paper_gpu", "format": 1, "smoke": False, "provenance": {"date": "2026-01-02"},
            "table": [{"defense": "ccql", "test_acc": 0.9, "max_advantage": 0.1, "p1": 0.9}]}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps({**good, "smoke": True}))
    (tmp_path / "c.json").write_text(json.dumps({**good, "table": [{"defense": "ccql", "p1": "x"}]}))
    (tmp_path / "d.json").write_text("{not json")
    recs = p1.gpu_records(tmp_path)
    assert [p.name for p, _ in recs] == ["a.json"]
    line, table = p1.gpu_view(*recs[0], __import__("ccl_lib.paper_results", fromlist=["x"]).table1())
    assert "a.json" in line and table.loc["CCQL", "paper P1"] == pytest.approx(0.769)


def test_an_arm_that_did_not_train_keeps_its_numbers_but_loses_its_verdict():
    from ccl_lib.paper_results import table1

    # training accuracy per seed: w/o .99/.99/.98; CCQL .97/.96/.99 (trains); CCEL .90/.99/.99 (seed 0: 9 points
    # below w/o and under 95 %: not trained, so the whole row is excluded)
    train = {"vanilla": [0.99, 0.99, 0.98], "ccql": [0.97, 0.96, 0.99], "ccel": [0.90, 0.99, 0.99]}
    df = _frame()
    df["train_acc"] = [train[d][s] for d, s in zip(df["defense"], df["seed"])]
    per_run = p1.table1_runs(df)
    s = p1.table1_summary(per_run)
    assert s.attrs["excluded"].keys() == {("location", "30 epochs", "CCEL")}
    why = s.attrs["excluded"][("location", "30 epochs", "CCEL")]
    assert "96.0%, lowest 90.0%, against the undefended model's 98.7%" in why
    row = s.set_index("method").loc["CCEL"]
    assert (
        not row["trained"] and row["train_acc"] == pytest.approx(0.96) and row["p1"] == pytest.approx(eq13(0.49, 0.40))
    )
    rows = {r["setting"].split(", ")[3].split()[0]: r for r in p1.table1_scorecard_rows(s, models={"location": "mlp"})}
    assert rows["CCEL"]["excluded"] == why and "excluded" not in rows["CCQL"]
    _, made_of = p1.table1_view(s, table1())
    assert made_of.loc[("location", "30 epochs", "CCEL"), "verdict"] == "excluded: did not train"
    f = p1.table1_findings(s, per_run, table1())
    assert (
        f["n_pairs"] == 1
        and f["n_excluded"] == 1
        and f["change_min"] == pytest.approx(eq13(0.52, 0.4) - eq13(0.5, 0.4))
    )
    img = p1.table1_setting_findings(s, "location", prefix="x_")
    assert img["x_v_ccel"].startswith(f"excluded, {why} (its interval, for the record: ")
    assert img["x_train_acc"] == "CCQL 97.3%, CCEL 96.0%, w/o 98.7%"


def test_a_table_cell_names_how_many_seeds_would_decide_an_inconclusive_change():
    rows = []
    for seed, d in enumerate((-0.05, 0.06, 0.0)):  # holds 0 and the paper's +0.010: inconclusive
        for m, v in (("w/o", 0.3), ("CCQL", 0.3 + d)):
            rows.append({"dataset": "location", "recipe": "30 epochs", "method": m, "seed": seed, "test_acc": 0.5,
                         "max_advantage": 0.7, "worst_attack": "loss", "p1": v, "p1_release": v})  # fmt: skip
    s = p1.table1_summary(pd.DataFrame(rows))
    v = s.attrs["verdicts"][("location", "30 epochs", "CCQL")]
    assert v.word == "inconclusive" and v.seeds_needed > 3
    assert s.set_index("method").loc["CCQL", "verdict"] == f"inconclusive (~{v.seeds_needed} seeds)"
