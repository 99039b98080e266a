"""benchmarks/paper_gpu.py: its smoke path's core on tiny data writes the documented JSON layout."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("paper_gpu", ROOT / "benchmarks" / "paper_gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scaled_milestones_follow_150_and_225_of_300():
    mod = load_script()
    assert mod.scaled_milestones(300) == (150, 225)
    assert mod.scaled_milestones(40) == (20, 30)
    assert mod.scaled_milestones(1) == ()
    assert all(e < 3 for e in mod.scaled_milestones(3))


def test_smoke_core_writes_the_results_layout(tmp_path, monkeypatch):
    mod = load_script()
    monkeypatch.setenv("CCL_PROGRESS", "0")
    out = tmp_path / "r.json"
    # an unknown data set name: the smoke path falls back to synthetic images (no data needed)
    rc = mod.main(
        [
            "--smoke",
            "--size",
            "16",
            "--dataset",
            "no-such-images",
            "--attacks",
            "loss,confidence",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["format"] == mod.JSON_FORMAT and rec["kind"] == "paper_gpu" and rec["smoke"] is True
    assert [r["defense"] for r in rec["table"]] == ["vanilla", "ccel", "ccql"]
    assert set(rec["results"]) == {"vanilla", "ccel", "ccql"}
    for r in rec["results"].values():
        assert 0.0 <= r["test_acc"] <= 1.0 and r["p1"] >= 0.0
        assert {a["attack"] for a in r["attacks"]} == {"loss", "confidence"}
        # P1 (Eq. 13) recomputed from the row's own numbers: 2 * acc * (1 - adv) / (acc + 1 - adv)
        acc, adv = r["test_acc"], r["max_advantage"]
        assert r["p1"] == pytest.approx(2 * acc * (1 - adv) / (acc + 1 - adv), abs=1e-9)
    assert rec["results"]["ccel"]["defense"]["scale"] == 0.01 and rec["results"]["ccql"]["defense"]["alpha"] == 0.5
    s = rec["settings"]
    assert s["dataset"] == "synthetic" and s["size_per_part"] == 16 and s["epochs"] == 1 and s["model"] == "resnet8"
    for key in ("gpu", "torch", "commit", "date", "wall_seconds"):
        assert key in rec["provenance"]
    th = rec["throughput"]
    assert th["images_per_s"] > 0 and th["frac_of_bf16_matmul"] > 0 and th["frac_of_fp32_matmul"] > 0
    assert th["extrapolated_300_epochs_seconds"] == pytest.approx(300 * 6 * 16 / th["images_per_s"])
    text = out.read_text()
    for word in ("vanilla", "ccel", "ccql", "p1"):
        assert word in text
