"""benchmarks/bench_run_cost.py (issue 20, item 7): its --quick table, and run.py's plain run without it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bench_run_cost"), importlib.import_module("run")
    finally:
        sys.path.remove(str(BENCH))


def _table(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


def test_quick_table_has_a_row_per_run_and_precision(bench, capsys):
    run_cost, _ = bench
    assert run_cost.main(["--quick", "--quiet", "--settings", "location-30", "--arms", "vanilla", "--bf16", "on"]) == 0
    head, rule, *rows = _table(capsys.readouterr().out)
    assert head == ["setting", "arm", "seed", "precision", "measured", "seconds", "threads", "cpu"]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("vanilla", "0", "fp32", "full run"),
        ("vanilla", "0", "fp32", "fit only (target + shadow)"),
        ("vanilla", "0", "bf16 autocast", "fit only (target + shadow)"),
    ]
    assert all(r[0] == "location (mlp, 2 ep, 200/part)" for r in rows)
    assert all(float(r[5]) > 0 and int(r[6]) >= 1 for r in rows)
    # a full run (target + shadow + every attack) costs more than training its two models
    assert float(rows[0][5]) > float(rows[1][5])


def test_full_settings_are_the_ledgers(bench):
    run_cost, _ = bench
    plan = run_cost.settings(False, run_cost.RunCostOptions())
    by = {(label, arm): spec for label, arm, spec in plan}
    loc120 = by[("location (mlp, 120 ep, milestones [50, 100], 1000/part)", "ccql")]
    assert (loc120.epochs, loc120.milestones, loc120.size, dict(loc120.hparams)) == (
        120,
        (50, 100),
        1000,
        {"alpha": 0.5},
    )
    loc30 = by[("location (mlp, 30 ep, 1000/part)", "ccel")]
    assert (loc30.epochs, loc30.milestones, loc30.resolved_model) == (30, (), "mlp")
    cifar = [spec for (label, arm), spec in by.items() if label.startswith("cifar10-cpu")]
    assert len(cifar) == 1 and (cifar[0].defense, cifar[0].epochs, cifar[0].size, cifar[0].seed) == (
        "vanilla",
        50,
        500,
        0,
    )
    assert len(plan) == 3 + 3 + 1


def test_bad_options_exit_2_and_a_plain_run_leaves_run_cost_out(bench, capsys):
    run_cost, run = bench
    for argv in (["--settings", "texas"], ["--arms", "dropout"], ["--seeds", "-1"], ["--seeds", "x"]):
        with pytest.raises(SystemExit) as exc:
            run_cost.main(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "texas" in err and "dropout" in err
    sections = run.SECTIONS
    assert "run-cost" in sections and not sections["run-cost"].default
    assert sorted(k for k, s in sections.items() if s.default) == ["1", "2", "3", "4", "5", "6", "7"]
