"""Tests of ccl_lib.scorecard: rows recorded by chapters, verified on reading, Holm over the family, grouped HTML."""

from __future__ import annotations

import html
import json
import math
import re

import pytest
from scipy import stats

from ccl_lib import scorecard
from ccl_lib.verdicts import INCONCLUSIVE, SeedInterval, difference_interval, seed_interval, verdict


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_SCORECARD_DIR", raising=False)
    return tmp_path / "scorecard"


def paired(mean: float, s: float, n: int) -> SeedInterval:
    half = stats.t.ppf(0.975, n - 1) * s / math.sqrt(n)
    return SeedInterval(mean, mean - half, mean + half, n, 0.95, "paired t")


def test_record_and_load_round_trip_in_item_order(folder):
    v = verdict(SeedInterval(-0.05, -0.08, -0.02, 3), claim="lower")
    scorecard.record("Table 1", "08_table1_p1", "location, 3 seeds", v, cause="", directory=folder)
    scorecard.record(
        "Fig 1",
        "04_figure1",
        "cifar10-cpu",
        "inconclusive at this scale",  # the former word is still read
        "0.1 [-0.1, 0.3]",
        cause="3 seeds at CPU scale",
        directory=folder,
    )
    df = scorecard.load(folder)
    assert list(df["item"]) == list(scorecard.ITEMS)  # every item once, in ITEMS order
    got = df.set_index("item")
    assert got.loc["Table 1", "verdict"] == "agrees" and got.loc["Table 1", "n_seeds"] == 3
    assert got.loc["Table 1", "effect"] == "-0.050 [-0.080, -0.020]"
    assert got.loc["Table 1", "interval"] == "-0.050 [-0.080, -0.020] (3 seeds)"
    assert got.loc["Fig 1", "verdict"] == INCONCLUSIVE and got.loc["Fig 1", "cause"] == "3 seeds at CPU scale"
    assert got.loc["Thm 3.1", "verdict"] == "not run"
    assert not list(folder.glob("*.tmp*")) and len(list(folder.glob("*.json"))) == 2


def test_long_settings_get_short_unique_file_names(folder):
    """A setting of hundreds of characters (chapter 7's variant rows) must not exceed the file system's
    255-byte name limit, and two that differ only at their end must not share a file."""
    v = verdict(SeedInterval(-0.05, -0.08, -0.02, 3), claim="lower")
    base = "variants-location (5 seeds), baselines as the CCL authors ran them " * 6
    scorecard.record("Fig 2/3", "07_privacy_utility", base + "strict rule", v, directory=folder)
    scorecard.record("Fig 2/3", "07_privacy_utility", base + "loose rule", v, directory=folder)
    names = sorted(p.name for p in folder.glob("*.json"))
    assert len(names) == 2 and all(len(n.encode()) < 200 for n in names)
    settings = sorted(r["setting"] for r in (json.loads(p.read_text()) for p in folder.glob("*.json")))
    assert settings == sorted([base + "strict rule", base + "loose rule"])  # the full text is kept in the row


def test_row_records_effect_paper_effect_p_value_and_seeds_to_decide(folder):
    rng_a = [0.30, 0.32, 0.29, 0.33, 0.31]
    rng_b = [0.29, 0.30, 0.30, 0.31, 0.30]
    d = difference_interval(rng_a, rng_b, paired=True)
    row = scorecard.record("Table 1", "08", "location", verdict(d, paper_effect=0.02), directory=folder)
    assert row["p_value"] == pytest.approx(stats.ttest_rel(rng_a, rng_b).pvalue, rel=1e-9)
    assert row["paper_effect"] == "+0.020" and row["n_seeds"] == 5 and row["verdict"] == INCONCLUSIVE
    assert row["seeds_needed"] is not None and row["label"].startswith("inconclusive: about ")
    small = verdict(paired(0.0, 0.01, 20), paper_effect=0.05)
    row = scorecard.record("Fig 6", "09", "location", small, percent=True, digits=1, directory=folder)
    assert row["label"] == "smaller than the paper's (at most +0.5 %)" and row["paper_effect"] == "+5.0 %"
    one = verdict(seed_interval([0.4]), claim="lower")
    assert scorecard.record("Fig 5", "06", "cifar10-cpu", one, directory=folder)["label"] == "1 seed: no interval"
    theory = scorecard.record("Thm 3.1", "02", "exact", "agrees", "smallest margin 0.1", directory=folder)
    assert theory["p_value"] is None and theory["n_seeds"] is None and theory["effect"] == "smallest margin 0.1"
    got = scorecard.load(folder, missing=False).set_index("item")
    assert got.loc["Fig 5", "verdict"] == "no verdict" and got.loc["Fig 6", "seeds_needed"] is not None


def test_holm_over_the_rows_with_a_p_value(folder):
    """Four rows with p = 0.01, 0.04, 0.03, 0.005 (hand example of test_verdicts): Holm-adjusted 0.03, 0.06, 0.06,
    0.02. All four reject "no effect" on their own; at the family-wise 5 % the first and the last survive. A row
    without a p-value (a theorem check) and an excluded row stay out of the family."""
    ps = {"Fig 1": 0.01, "Fig 4": 0.04, "Fig 5": 0.03, "Fig 6": 0.005}
    for item, p in ps.items():
        scorecard.record(item, "ch", "s", "agrees", paired(0.1, 0.05, 4), p_value=p, directory=folder)
    scorecard.record("Thm 3.1", "ch", "s", "agrees", "exact check", directory=folder)
    scorecard.record("Scale confound", "11", "s", "agrees", paired(0.1, 0.01, 4), p_value=0.001,
                     excluded="CCQL x0.01 ends at 6 % train accuracy", directory=folder)  # fmt: skip
    got = scorecard.load(folder, missing=False).set_index("item")
    assert got.loc[list(ps), "p_holm"].tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert got.loc[list(ps), "holm"].tolist() == ["survives", "does not survive", "does not survive", "survives"]
    assert math.isnan(got.loc["Thm 3.1", "p_holm"]) and got.loc["Thm 3.1", "holm"] == ""
    assert math.isnan(got.loc["Scale confound", "p_holm"])
    c = scorecard.counts(scorecard.load(folder))
    assert (c["comparisons"], c["rejections"], c["survive"], c["excluded"]) == (4, 4, 2, 1)
    assert c["agrees"] == 5 and c["not run"] == len(scorecard.ITEMS) - 6 and c["items"] == 6


def test_rerun_replaces_and_clear_removes(folder):
    for word in ("lower", "higher"):
        scorecard.record("Fig 4", "05_alpha", "location", word, directory=folder)
    assert scorecard.load(folder, missing=False)["verdict"].tolist() == ["higher"]
    scorecard.record("Fig 5", "05_alpha", "location", "agrees", directory=folder)
    scorecard.record("Fig 5", "06_conv", "location", "agrees", directory=folder)
    assert scorecard.clear("05_alpha", directory=folder) == 2
    assert scorecard.load(folder, missing=False)["chapter"].tolist() == ["06_conv"]


def test_bad_input_is_refused(folder):
    with pytest.raises(ValueError, match="at least 3"):
        scorecard.record("Fig 4", "05", "x", "agrees", SeedInterval(0.1, 0.05, 0.15, 2), directory=folder)
    with pytest.raises(ValueError, match="unknown scorecard item"):
        scorecard.record("Figure 99", "05", "x", "agrees", directory=folder)
    with pytest.raises(ValueError, match="verdict word"):
        scorecard.record("Fig 4", "05", "x", "looks good", directory=folder)
    with pytest.raises(ValueError, match="p_value must lie"):
        scorecard.record("Fig 4", "05", "x", "agrees", p_value=1.5, directory=folder)
    with pytest.raises(ValueError, match="excluded"):
        scorecard.record("Fig 4", "05", "x", "agrees", excluded="  ", directory=folder)
    with pytest.raises(ValueError, match="paper_effect"):
        scorecard.record("Fig 4", "05", "x", "agrees", paper_effect=math.nan, directory=folder)


def test_malformed_files_are_rejected(folder):
    scorecard.record("Fig 4", "05", "x", "lower", directory=folder)
    path = next(folder.glob("*.json"))
    row = json.loads(path.read_text())
    path.write_text(json.dumps({**row, "verdict": "great"}))
    with pytest.raises(ValueError, match="unknown item .* or verdict"):
        scorecard.load(folder)
    path.write_text(json.dumps({**row, "p_value": "0.01"}))
    with pytest.raises(ValueError, match="'p_value' must be a float"):
        scorecard.load(folder)
    path.write_text(json.dumps({**row, "format": 7}))
    with pytest.raises(ValueError, match="rerun its chapter"):
        scorecard.load(folder)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        scorecard.load(folder)


def test_format_1_files_are_still_read(folder):
    folder.mkdir()
    old = {"format": 1, "item": "Fig 4", "chapter": "05", "setting": "x", "verdict": "inconclusive at this scale",
           "interval": "0.010 [-0.020, 0.040] (3 seeds)", "cause": "", "created": ""}  # fmt: skip
    (folder / "05__fig-4__x.json").write_text(json.dumps(old))
    got = scorecard.load(folder, missing=False).iloc[0]
    assert (got["verdict"], got["effect"], got["n_seeds"]) == (INCONCLUSIVE, "0.010 [-0.020, 0.040]", 3)


def test_default_folder_is_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_SCORECARD_DIR", raising=False)
    (tmp_path / "_toc.yml").write_text("format: jb-book\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    scorecard.record("Fig 5", "06_convergence", "location", "agrees")
    assert len(list((tmp_path / "book" / "generated" / "scorecard").glob("*.json"))) == 1
    monkeypatch.setenv("CCL_SCORECARD_DIR", str(tmp_path / "elsewhere"))
    assert scorecard.scorecard_dir() == tmp_path / "elsewhere"


def test_markdown_table_links_chapters(folder):
    scorecard.record("Fig 5", "06_convergence", "loc | 3 seeds", "agrees", directory=folder)
    md = scorecard.markdown_table(folder).splitlines()
    assert md[0].startswith("| Paper item | Verdict | Effect (95 %) | Seeds |") and len(md) == 2 + len(scorecard.ITEMS)
    line = next(m for m in md if m.startswith("| Fig 5 "))
    assert "{doc}`06_convergence`" in line and "loc \\| 3 seeds" in line


def test_html_table_groups_rows_under_their_item(folder):
    """Three Table 1 rows and one Fig 5 row: one heading row per item (the claim once), the rows under it."""
    for setting in ("location CCEL", "location CCQL", "texas CCQL"):
        scorecard.record("Table 1", "08_table1_p1", setting, verdict(paired(0.03, 0.01, 20), claim="higher"),
                         cause="a < b & c", directory=folder)  # fmt: skip
    scorecard.record("Fig 5", "06_convergence", "x", "agrees", directory=folder)
    scorecard.record("Scale confound", "11", "cifar10-cpu x0.01", verdict(paired(-0.1, 0.01, 10), claim="lower"),
                     excluded="CCEL x0.01 ends at 30 % train accuracy", directory=folder)  # fmt: skip
    h = scorecard.html_table(folder)
    groups = re.findall(r'<tbody class="sc-group" data-item="([^"]+)">(.*?)</tbody>', h, re.S)
    assert [html.unescape(g) for g, _ in groups] == list(scorecard.ITEMS)  # every item once, in order
    body = {html.unescape(g): b for g, b in groups}
    assert body["Table 1"].count('<tr class="sc-item">') == 1 and body["Table 1"].count('<tr class="sc-row">') == 3
    assert h.count(scorecard.ITEMS["Table 1"]) == 1  # the claim once per group, not per row
    assert body["Table 1"].index("location CCEL") < body["Table 1"].index("texas CCQL")
    assert "location CCEL" not in body["Fig 5"] and body["Fig 5"].count('<tr class="sc-row">') == 1
    assert '<a href="08_table1_p1.html">08_table1_p1</a>' in body["Table 1"] and "a &lt; b &amp; c" in h
    assert "<details><summary>likely cause</summary>" in body["Table 1"]
    assert "survives" in body["Table 1"] and ">20<" in body["Table 1"]
    first = re.search(r'<tr class="sc-row"><td>(.*?)</td>', body["Table 1"], re.S).group(1)
    assert first.startswith('<span class="sc-word sc-w-agrees">agrees</span>')  # the verdict leads the row
    assert '<tr class="sc-row sc-excluded">' in body["Scale confound"] and "30 % train accuracy" in h
    assert "table-layout: fixed" in h and h.count('<th scope="col">') == 4


def test_verify_report(tmp_path):
    path = tmp_path / "ledger-verify.json"
    assert scorecard.read_verify_report(path) is None
    assert scorecard.verify_text(None) == "Ledger records: not checked in this build."
    recs = [{"key": "a1", "experiment": "table1", "result": "identical"},
            {"key": "b2", "experiment": "table1", "result": "identical"},
            {"key": "c3", "experiment": "fig4", "result": "within tolerance"}]  # fmt: skip
    path.write_text(json.dumps({"checked": 3, "agreed": 3, "records": recs}))
    rep = scorecard.read_verify_report(path)
    assert scorecard.verify_text(rep) == "This build recomputed 3 ledger records (table1: 2, fig4: 1); all 3 agreed."
    path.write_text(json.dumps({"checked": 3, "agreed": 2, "records": recs}))
    assert scorecard.verify_text(scorecard.read_verify_report(path)).endswith("2 agreed and 1 did not.")
    path.write_text(json.dumps({"checked": 2, "agreed": 3, "records": recs}))
    with pytest.raises(ValueError, match="exceeds checked"):
        scorecard.read_verify_report(path)
    path.write_text(json.dumps({"checked": 1, "agreed": 1, "records": [{"key": 1}]}))
    with pytest.raises(ValueError, match="records"):
        scorecard.read_verify_report(path)


def test_record_all_replaces_a_chapters_rows_in_one_call(tmp_path):
    from ccl_lib.verdicts import seed_interval, verdict

    folder = tmp_path / "sc"
    scorecard.record("Fig 4", "05_x", "old setting", "agrees", "an old row", directory=folder)
    scorecard.record("Fig 1", "04_y", "other chapter", "agrees", "kept", directory=folder)
    v = verdict(seed_interval([0.1, 0.2, 0.15]), claim="higher")
    rows = [
        {"item": "Fig 4", "setting": "a", "verdict": v, "percent": True, "digits": 1},
        {"item": "Fig 4", "setting": "b", "verdict": "inconclusive", "interval": "n/a", "cause": "3 seeds"},
    ]
    out = scorecard.record_all("05_x", rows, directory=folder)
    assert [r["setting"] for r in out] == ["a", "b"] and out[0]["verdict"] == "agrees"
    df = scorecard.load(folder, missing=False)
    assert sorted(df["setting"]) == ["a", "b", "other chapter"]  # the old row of 05_x is gone
    assert df.set_index("setting").loc["b", "cause"] == "3 seeds"
    with pytest.raises(ValueError, match="row 0 must give item, setting and verdict"):
        scorecard.record_all("05_x", [{"item": "Fig 4", "verdict": v}], directory=folder)
    assert len(scorecard.load(folder, missing=False)) == 3  # a bad row removes nothing


def test_verify_report_in_the_ledger_s_layout(tmp_path):
    # VerifyReport.to_dict's layout (ccl_lib.experiments.ledger): records' results name how they agreed
    recs = [
        {"key": "k1", "experiment": "location ccql seed=6", "result": "agrees (bit-identical: rows identical)"},
        {"key": "k2", "experiment": "location ce seed=1", "result": "agrees (bit-identical: rows identical)"},
    ]
    rep = {"kind": "ledger_verify", "checked": 2, "agreed": 2, "records": recs, "sound": 159,
           "refused": [{"key": "k9", "reason": "digest differs"}], "commit": "abcdef0123", "ok": False}  # fmt: skip
    path = tmp_path / "ledger-verify.json"
    path.write_text(json.dumps(rep))
    got = scorecard.read_verify_report(path)
    assert scorecard.verify_text(got) == (
        "This build recomputed 2 of the ledger's 160 records (bit-identical); all 2 agreed. "
        "Of the 160 records' digests and specs, 1 were refused."
    )
    rep.update(refused=[], sound=160, agreed=1)
    rep["records"][1] = dict(recs[1], result="DISAGREES (within tolerance: test_acc 0.2 > 0.06)")
    path.write_text(json.dumps(rep))
    got = scorecard.read_verify_report(path)
    assert scorecard.verify_text(got) == (
        "This build recomputed 2 of the ledger's 160 records (1 bit-identical, 1 within tolerance); "
        "1 agreed and 1 did not. The digests and specs of all 160 records held."
    )
    h = scorecard.verify_html(got)
    assert "at commit <code>abcdef0</code>" in h and h.count("<li>") == 2 and "DISAGREES" in h
    assert scorecard.verify_html(None) == ""
    path.write_text(json.dumps(dict(rep, refused=[{"key": 3}])))
    with pytest.raises(ValueError, match="'refused' must be a list"):
        scorecard.read_verify_report(path)
    path.write_text(json.dumps(dict(rep, sound=-1)))
    with pytest.raises(ValueError, match="'sound' must be a non-negative integer"):
        scorecard.read_verify_report(path)


def test_page_findings_and_excluded_rows(folder):
    scorecard.record("Table 1", "08_table1_p1", "location", verdict(paired(0.03, 0.01, 20), claim="higher"),
                     directory=folder)  # fmt: skip
    scorecard.record("Fig 5", "06_convergence", "x", "agrees", directory=folder)
    scorecard.record("Scale confound", "11", "cifar10-cpu x0.01", verdict(paired(-0.1, 0.01, 10), claim="lower"),
                     excluded="CCEL x0.01 ends at 30 % train accuracy", directory=folder)  # fmt: skip
    rows = scorecard.load(folder)
    f = scorecard.page_findings(rows, None)
    # by hand: 3 items recorded, the other 11 of ITEMS "not run" (one row each); Table 1 and Fig 5 agree,
    # the confound row is excluded (out of the verdict counts and of Holm's family, which holds Table 1's
    # paired t-test alone: it excludes zero and survives)
    assert len(scorecard.ITEMS) == 14
    assert {k: f[k] for k in ("n_rows", "n_items", "n_agrees", "n_opposite", "n_notrun", "n_excluded")} == {
        "n_rows": 14,
        "n_items": 3,
        "n_agrees": 2,
        "n_opposite": 0,
        "n_notrun": 11,
        "n_excluded": 1,
    }
    assert (f["n_comparisons"], f["n_rejections"], f["n_survive"], f["alpha"]) == (1, 1, 1, "5 %")
    assert f["verify"] == "Ledger records: not checked in this build."
    h = scorecard.excluded_html(rows)
    ex = rows[rows["excluded"] != ""]
    assert h.count("<li>") == len(ex) and all(r in h for r in ex["excluded"])
    assert '<a href="' in h and '<a href="' not in scorecard.excluded_html(rows, link=False)
    assert scorecard.excluded_html(rows[rows["excluded"] == ""]) == "<p>No row is excluded in this build.</p>"
