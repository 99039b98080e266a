"""The evidence ledger (issue 20): records, their checks, reading them in a sweep, ``record`` and ``verify``.

Runs use scikit-learn's digits (offline), 2 epochs and three metric attacks, so a run takes a
second or two.  The references are independent of the code under test: the run's own rows and
histories as :func:`run_experiment` returned them, a second computation of the same spec, and
hand-edited record files.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from pathlib import Path

import pytest

from ccl_lib.analysis.runs import evidence_summary, run_minutes, run_runs, run_summary
from ccl_lib.cli import main
from ccl_lib.experiments import RunSpec, run_experiment, run_sweep
from ccl_lib.experiments.cache import record_digest
from ccl_lib.experiments.ledger import LEDGER_FORMAT, TOLERANCES, Ledger, verify

ATTACKS = ("loss", "confidence", "entropy")


def tiny(**kw) -> RunSpec:
    base = dict(dataset="digits", defense="ccql", hparams={"alpha": 0.5}, epochs=2, size=100, attacks=ATTACKS)
    base.update(kw)
    return RunSpec(**base)


@pytest.fixture(scope="module")
def result():
    return run_experiment(tiny(), cache=False, device="cpu", progress=False, num_threads=1)


def _plain(obj):
    return json.loads(json.dumps(obj, allow_nan=True))


def _rewrite(path: Path, edit) -> None:
    """Edit a record file and seal it with a fresh digest (a careful forger, not a careless edit)."""
    rec = json.loads(path.read_text())
    edit(rec)
    rec["digest"] = record_digest(rec)
    path.write_text(json.dumps(rec))


# --------------------------------------------------------------------------- records


def test_a_record_gives_back_the_runs_rows_and_target_history_exactly(tmp_path, result):
    led = Ledger(tmp_path)
    assert led.add(result) is True
    assert led.add(result) is False  # a sound record is kept
    back = led.get(result.key)
    assert back is not None and back.meta["source"] == "ledger"
    assert back.rows == _plain(result.rows)  # every row and column, floats bit for bit

    def strip(h):
        return [{k: v for k, v in e.items() if k != "seconds"} for e in h]

    assert back.histories["target"] == _plain(strip(result.histories["target"]))  # every epoch, timing aside
    assert back.histories["shadow"] == _plain(strip(result.histories["shadow"][-1:]))  # the shadow's last epoch
    assert back.spec == result.spec
    prov = back.meta["provenance"]
    for k in ("commit", "torch", "numpy", "cpu", "isa", "threads", "precision", "date", "wall_seconds"):
        assert k in prov, k
    assert prov["threads"] == 1 and prov["precision"] == "fp32"
    text = led.path(result.key).read_text()
    assert json.loads(text)["ledger_format"] == LEDGER_FORMAT and "\n" not in text.strip()


def _refusal(tmp_path, result, caplog, edit, forge: bool) -> str:
    led = Ledger(tmp_path)
    led.add(result)
    path = led.path(result.key)
    if forge:
        _rewrite(path, edit)
    else:
        rec = json.loads(path.read_text())
        edit(rec)
        path.write_text(json.dumps(rec))
    record, reason = led.check(result.key)
    assert record is None and reason
    with caplog.at_level(logging.WARNING, logger="ccl_lib.experiments.ledger"):
        assert led.get(result.key) is None
    lines = [r.getMessage() for r in caplog.records if "ledger" in r.name]
    assert len(lines) == 1 and str(path) in lines[0] and reason in lines[0]
    return reason


def test_an_edited_number_breaks_the_digest(tmp_path, result, caplog):
    def edit(rec):
        rec["rows"][0]["advantage"] = 0.99

    assert "digest" in _refusal(tmp_path, result, caplog, edit, forge=False)


def test_an_unknown_format_is_refused(tmp_path, result, caplog):
    def edit(rec):
        rec["ledger_format"] = 99

    assert "unknown format 99" in _refusal(tmp_path, result, caplog, edit, forge=True)


def test_a_spec_that_no_longer_parses_is_refused(tmp_path, result, caplog):
    def edit(rec):
        rec["spec"]["dataset"] = "nope"

    assert "no longer parses" in _refusal(tmp_path, result, caplog, edit, forge=True)


def test_settings_that_do_not_give_the_key_are_refused(tmp_path, result, caplog):
    def edit(rec):
        rec["spec"]["epochs"] = 3

    reason = _refusal(tmp_path, result, caplog, edit, forge=True)
    assert "do not match its key" in reason and tiny(epochs=3).key() in reason


def test_rows_of_another_run_are_refused(tmp_path, result, caplog):
    def edit(rec):
        rec["run"]["key"] = "0" * 16

    assert "do not belong" in _refusal(tmp_path, result, caplog, edit, forge=True)


def test_two_writers_at_once_lose_nothing(tmp_path, result):
    """Eight threads add records of eight different runs (and one the same run) into one ledger."""
    from ccl_lib.experiments.runner import RunResult

    led = Ledger(tmp_path)
    runs = [(tiny(seed=seed), None) for seed in range(8)]  # the same rows under eight distinct specs

    def write(spec):
        rows = [{**row, "key": spec.key()} for row in result.rows]
        led.add(RunResult(spec=spec, key=spec.key(), rows=rows, histories=result.histories, meta=result.meta))

    threads = [threading.Thread(target=write, args=(s,)) for s, _ in runs] + [
        threading.Thread(target=write, args=(runs[0][0],))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(led.keys()) == sorted(s.key() for s, _ in runs)
    assert all(led.check(s.key())[0] is not None for s, _ in runs)
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind


# --------------------------------------------------------------------------- sweeps read it


def test_a_sweep_takes_recorded_runs_and_computes_only_the_others(tmp_path, result, monkeypatch):
    led = Ledger(tmp_path / "ledger")
    led.add(result)
    other = tiny(seed=1)
    df, runs = run_runs([result.spec, other], cache=tmp_path / "cache", ledger=led)
    assert df.attrs["summary"]["from_ledger"] == 1 and df.attrs["summary"]["computed"] == 1
    assert runs[result.key].meta["source"] == "ledger" and "source" not in runs[other.key()].meta
    ev = evidence_summary(runs)
    assert (ev["n"], ev["ledger"], ev["computed"]) == (2, 1, 1)
    line = run_summary(df, runs)
    assert "1 read from the evidence ledger" in line and "computed 1" in line
    # evidence="compute" does not read the ledger: both come from the cache now, none from the ledger
    df2, runs2 = run_runs([result.spec, other], cache=tmp_path / "cache", ledger=led, evidence="compute")
    assert df2.attrs["summary"]["from_ledger"] == 0
    assert all(r.meta.get("source") != "ledger" for r in runs2.values())
    with pytest.raises(ValueError, match="evidence must be one of"):
        run_runs([other], cache=False, evidence="both")


def test_run_minutes_reads_the_recorded_wall_time_of_ledger_runs_only():
    from types import SimpleNamespace

    def run(seconds, source="ledger"):
        return SimpleNamespace(meta={"source": source, "provenance": {"wall_seconds": seconds}})

    # 1,733 s and 1,950 s round to 29 and 32 minutes; the median of (28.9, 32.5, 66.9) is 32.5 -> "32" (half to even)
    three = {"a": run(1733.0), "b": run(1950.0), "c": run(4013.0), "d": run(9999.0, source="computed")}
    assert run_minutes(three) == "between 29 and 67 minutes per run (median 32)"
    assert run_minutes({"a": run(1900.0), "b": run(1930.0)}) == "32 minutes per run"  # 31.7 and 32.2 both round to 32
    assert run_minutes({"d": run(60.0, source="computed")}) == "n/a" and run_minutes({}) == "n/a"


def test_a_refused_record_is_computed_instead(tmp_path, result, caplog):
    led = Ledger(tmp_path / "ledger")
    led.add(result)
    path = led.path(result.key)
    rec = json.loads(path.read_text())
    rec["rows"][0]["advantage"] = 0.5
    path.write_text(json.dumps(rec))
    with caplog.at_level(logging.WARNING):
        sweep = run_sweep([result.spec], cache=False, ledger=led, progress=False)
    assert sweep.from_ledger == 0 and sweep.computed == 1
    assert sweep.results[0].rows[0]["advantage"] == result.rows[0]["advantage"]  # the real value, recomputed


# --------------------------------------------------------------------------- verify


def test_verify_recomputes_bit_identical_on_this_machine(tmp_path, result):
    led = Ledger(tmp_path)
    led.add(result)
    report = verify(led, sample=1, budget_s=600)
    assert report.ok and report.checked == 1 and len(report.compared) == 1
    c = report.compared[0]
    assert c["mode"] == "bit-identical" and c["agrees"], c


def _fake(result, delta: float):
    """A recomputation that returns the run's rows with every test accuracy moved by ``delta``."""
    from ccl_lib.experiments.runner import RunResult

    def compute(spec, threads):
        rows = [{**r, "test_acc": r["test_acc"] + delta} for r in result.rows]
        return RunResult(spec=spec, key=spec.key(), rows=rows, histories=result.histories, meta={})

    return compute


def test_verify_tolerance_on_other_arithmetic_and_disagreement(tmp_path, result):
    led = Ledger(tmp_path)
    led.add(result)
    _rewrite(led.path(result.key), lambda rec: rec["provenance"].update(isa=["sse2"], cpu="another CPU"))
    near = verify(led, sample=1, compute=_fake(result, TOLERANCES["test_acc"] / 2))
    assert near.ok and near.compared[0]["mode"] == "tolerance"
    assert math.isclose(near.compared[0]["largest"]["test_acc"], TOLERANCES["test_acc"] / 2, rel_tol=1e-6)
    far = verify(led, sample=1, compute=_fake(result, 2 * TOLERANCES["test_acc"]))
    assert not far.ok and "test_acc" in far.compared[0]["detail"]


def _six_records(led, result, cost=lambda seed: 1.0):
    """Add records of ``tiny(seed=0..5)`` to ``led``, seed ``s`` recorded at ``cost(s)`` x the fixture's wall time."""
    from ccl_lib.experiments.runner import RunResult

    for seed in range(6):
        spec = tiny(seed=seed)
        rows = [{**row, "key": spec.key()} for row in result.rows]
        meta = {**result.meta, "seconds": float(result.meta["seconds"]) * cost(seed)}
        led.add(RunResult(spec=spec, key=spec.key(), rows=rows, histories=result.histories, meta=meta))


def _recorder(result, picked):
    """A ``compute`` that notes the key it is asked for in ``picked`` and returns the fixture's rows."""
    from ccl_lib.experiments.runner import RunResult

    def compute(spec, threads):
        picked.append(spec.key())
        rows = [{**row, "key": spec.key()} for row in result.rows]
        return RunResult(spec=spec, key=spec.key(), rows=rows, histories=result.histories, meta={})

    return compute


def test_verify_sample_is_seeded_and_respects_the_budget(tmp_path, result):
    led = Ledger(tmp_path)
    _six_records(led, result)
    picked = []
    compute = _recorder(result, picked)
    verify(led, sample=3, seed="abc", compute=compute)
    first = list(picked)
    picked.clear()
    verify(led, sample=3, seed="abc", compute=compute)
    assert picked == first and len(first) == 3
    picked.clear()
    verify(led, sample=3, seed="another commit", compute=compute)
    assert picked != first
    picked.clear()  # a budget below every record's recorded wall time recomputes none
    wall = result.meta["seconds"]
    rep = verify(led, sample=3, budget_s=wall / 2, compute=compute)
    assert picked == [] and rep.compared == []


def test_verify_leaves_room_for_the_whole_sample(tmp_path, result):
    """A record recorded at 10x the others' wall time fits a budget of 12x alone, but not with two more
    beside it: drawn first or second it would leave too little for the rest of a sample of 3, so it is
    skipped there and taken only as the last of the three."""
    led = Ledger(tmp_path)
    _six_records(led, result, cost=lambda seed: 10.0 if seed == 5 else 1.0)
    wall = float(result.meta["seconds"])
    slow = tiny(seed=5).key()
    last, picked = [], []
    compute = _recorder(result, picked)
    for commit in [f"commit {i}" for i in range(40)]:  # the slow record comes first in about 1 shuffle in 6
        picked.clear()
        verify(led, sample=3, budget_s=wall * 12, seed=commit, compute=compute)
        assert len(picked) == 3 and slow not in picked[:2], (commit, picked)
        last.append(picked[-1])
    assert slow in last  # it is skipped only where it would crowd out the rest, not excluded


# --------------------------------------------------------------------------- command line


def test_cli_record_show_and_verify(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "exp.json"
    cfg.write_text(
        json.dumps(
            {
                "description": "ledger test",
                "dataset": "digits",
                "epochs": 2,
                "size": 100,
                "attacks": list(ATTACKS),
                "defenses": {"vanilla": [{}]},
                "seeds": [0],
            }
        )
    )
    led, cache = str(tmp_path / "ledger"), str(tmp_path / "cache")
    args = [str(cfg), "--ledger", led, "--cache", cache, "--device", "cpu", "--no-progress"]
    assert main(["record", *args, "--seeds", "0-1"]) == 0
    out = capsys.readouterr().out
    assert "2 to record" in out and "2 records added" in out
    assert main(["record", *args, "--seeds", "0,1"]) == 0  # again: nothing to do
    assert "0 to record" in capsys.readouterr().out
    assert main(["ledger", "show", "--ledger", led]) == 0
    assert "0-1" in capsys.readouterr().out
    report = tmp_path / "verify.json"
    assert main(["ledger", "verify", "--ledger", led, "--sample", "1", "--report", str(report)]) == 0
    from ccl_lib.scorecard import read_verify_report

    rep = read_verify_report(report)  # the scorecard page reads this file
    assert rep is not None and (rep["checked"], rep["agreed"]) == (1, 1)
    assert rep["records"][0]["result"].startswith("agrees (bit-identical")
    # an edited number fails verify with the record's name
    path = sorted(Path(led).glob("*.json"))[0]
    rec = json.loads(path.read_text())
    rec["rows"][0]["auc"] = 0.5
    path.write_text(json.dumps(rec))
    assert main(["ledger", "verify", "--ledger", led, "--sample", "0"]) == 1
    assert path.stem in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["record", "no-such-experiment"], "unknown experiment"),
        (["record", "smoke-digits", "--seeds", "-3"], "--seeds"),
        (["record", "smoke-digits", "--seeds", "a,b"], "--seeds"),
        (["ledger", "verify", "--sample", "-1"], "--sample"),
        (["ledger", "verify", "--budget-s", "0"], "--budget-s"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses a malformed option value
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
