"""Tests of ccl_lib.scorecard: rows recorded by chapters, verified on reading, in the paper's order."""

from __future__ import annotations

import json

import pytest

from ccl_lib import scorecard
from ccl_lib.verdicts import SeedInterval, verdict


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CCL_SCORECARD_DIR", raising=False)
    return tmp_path / "scorecard"


def test_record_and_load_round_trip_in_item_order(folder):
    v = verdict(SeedInterval(-0.05, -0.08, -0.02, 3), claim="lower")
    scorecard.record("Table 1", "08_table1_p1", "location, 3 seeds", v, cause="", directory=folder)
    scorecard.record(
        "Fig 1",
        "04_figure1",
        "cifar10-cpu",
        "inconclusive at this scale",
        "0.1 [-0.1, 0.3]",
        cause="3 seeds at CPU scale",
        directory=folder,
    )
    df = scorecard.load(folder)
    assert list(df["item"]) == list(scorecard.ITEMS)  # every item once, in ITEMS order
    got = df.set_index("item")
    assert got.loc["Table 1", "verdict"] == "agrees"
    assert got.loc["Table 1", "interval"] == "-0.050 [-0.080, -0.020] (3 seeds)"
    assert got.loc["Fig 1", "cause"] == "3 seeds at CPU scale"
    assert got.loc["Thm 3.1", "verdict"] == "not run"
    assert not list(folder.glob("*.tmp*")) and len(list(folder.glob("*.json"))) == 2


def test_rerun_replaces_and_clear_removes(folder):
    for word in ("lower", "higher"):
        scorecard.record("Fig 4", "05_alpha", "location", word, directory=folder)
    assert scorecard.load(folder, missing=False)["verdict"].tolist() == ["higher"]
    scorecard.record("Fig 5", "05_alpha", "location", "agrees", directory=folder)
    scorecard.record("Fig 5", "06_conv", "location", "agrees", directory=folder)
    assert scorecard.clear("05_alpha", directory=folder) == 2
    assert scorecard.load(folder, missing=False)["chapter"].tolist() == ["06_conv"]


def test_verdict_on_fewer_than_three_seeds_is_refused(folder):
    with pytest.raises(ValueError, match="at least 3"):
        scorecard.record("Fig 4", "05", "x", "agrees", SeedInterval(0.1, 0.05, 0.15, 2), directory=folder)
    with pytest.raises(ValueError, match="unknown scorecard item"):
        scorecard.record("Figure 99", "05", "x", "agrees", directory=folder)
    with pytest.raises(ValueError, match="verdict word"):
        scorecard.record("Fig 4", "05", "x", "looks good", directory=folder)


def test_malformed_files_are_rejected(folder):
    scorecard.record("Fig 4", "05", "x", "lower", directory=folder)
    path = next(folder.glob("*.json"))
    row = json.loads(path.read_text())
    path.write_text(json.dumps({**row, "verdict": "great"}))
    with pytest.raises(ValueError, match="unknown item .* or verdict"):
        scorecard.load(folder)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="unreadable"):
        scorecard.load(folder)


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
    assert md[0].startswith("| Paper item | Claim | Chapter |") and len(md) == 2 + len(scorecard.ITEMS)
    line = next(m for m in md if m.startswith("| Fig 5 "))
    assert "{doc}`06_convergence`" in line and "loc \\| 3 seeds" in line


def test_html_table_escapes_and_links(folder):
    scorecard.record("Fig 5", "06_convergence", "a < b & c", "agrees", directory=folder)
    h = scorecard.html_table(folder)
    assert h.count("<tr>") == 1 + len(scorecard.ITEMS)
    assert '<a href="06_convergence.html">06_convergence</a>' in h and "a &lt; b &amp; c" in h
