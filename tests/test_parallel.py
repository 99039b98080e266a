"""Sweeps: process pool and Ray give the serial results; a killed sweep resumes; failures are isolated.

The Ray test starts a local, loopback-only Ray instance (2 CPUs, no
dashboard) and shuts it down.  The resume test runs the CLI in a subprocess,
SIGKILLs it once the first run is stored, and checks that the rerun loads that
run instead of recomputing it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ccl_lib.experiments import (
    ResultCache,
    RunSpec,
    SweepError,
    available_cores,
    grid,
    load_result,
    resolve_workers,
    run_grid,
    run_sweep,
)

ATTACKS = ("loss", "confidence", "entropy")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("CCL_PROGRESS", "0")


def small_grid() -> list[RunSpec]:
    return grid("digits", {"vanilla": [{}], "ccql": [{"alpha": 0.5}]}, seeds=[1], epochs=2, size=100, attacks=ATTACKS)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    cache = tmp_path_factory.mktemp("serial_cache")
    return run_grid(small_grid(), workers=1, cache=cache, progress=False)


def test_resolve_workers():
    assert resolve_workers(3, n_runs=10, device="cpu") == 3
    assert resolve_workers(8, n_runs=2, device="cpu") == 2
    assert resolve_workers("auto", n_runs=1000, device="cpu") == available_cores()
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ValueError, match="positive integer or 'auto'"):
            resolve_workers(bad, n_runs=4)
    with pytest.raises(ValueError, match="backend must be one of"):
        run_grid(small_grid(), backend="dask", cache=False)
    with pytest.raises(TypeError, match="not a RunSpec"):
        run_grid(["digits"], cache=False)


def test_process_pool_matches_serial_and_writes_the_cache(serial, tmp_path):
    cache = ResultCache(tmp_path)
    sweep = run_sweep(small_grid(), workers=2, cache=cache, progress=False)
    assert (sweep.computed, sweep.cached, sweep.workers) == (2, 0, 2)
    pd.testing.assert_frame_equal(sweep.frame(), serial)
    # the workers wrote every run themselves, each with cores // workers torch threads
    assert sorted(cache.keys()) == sorted(s.key() for s in small_grid())
    assert {r.meta["torch_threads"] for r in sweep.results} == {max(1, available_cores() // 2)}
    # a second sweep loads everything
    again = run_sweep(small_grid(), workers=2, cache=cache, progress=False)
    assert (again.computed, again.cached) == (0, 2)
    pd.testing.assert_frame_equal(again.frame(), serial)


def test_ray_backend_matches_serial(serial, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        sweep = run_sweep(small_grid(), workers=2, backend="ray", cache=tmp_path, progress=False)
    finally:
        ray.shutdown()
    assert (sweep.computed, sweep.cached, sweep.backend) == (2, 0, "ray")
    pd.testing.assert_frame_equal(sweep.frame(), serial)
    # the driver stored the returned runs: they load back, models included
    from ccl_lib.experiments import load_model
    from ccl_lib.experiments.runner import rows_frame

    stored = rows_frame([row for s in small_grid() for row in load_result(s, cache=tmp_path).rows])
    pd.testing.assert_frame_equal(stored, serial)
    for s in small_grid():
        assert load_model(s, cache=tmp_path) is not None


def test_failures_are_isolated_and_retried(tmp_path, monkeypatch):
    import ccl_lib.experiments.runner as runner

    specs = small_grid()[:2]
    bad = specs[1]
    real = runner._compute

    def flaky(spec, device, progress):
        if spec == bad:
            raise RuntimeError("simulated crash")
        return real(spec, device, progress)

    monkeypatch.setattr(runner, "_compute", flaky)
    with pytest.raises(SweepError, match="1 of 2 runs failed") as info:
        run_grid(specs, cache=tmp_path, progress=False)
    partial = info.value.partial
    assert partial.computed == 1 and [s for s, _ in partial.failures] == [bad]
    assert "simulated crash" in partial.failures[0][1]
    assert ResultCache(tmp_path).keys() == [specs[0].key()]
    # without raising: the good run is loaded, the bad one retried (and fails again)
    df = run_grid(specs, cache=tmp_path, progress=False, raise_on_error=False)
    assert df.attrs["summary"] == {**df.attrs["summary"], "computed": 0, "cached": 1, "failed": 1}
    assert set(df["key"]) == {specs[0].key()}
    monkeypatch.setattr(runner, "_compute", real)
    df = run_grid(specs, cache=tmp_path, progress=False)
    assert df.attrs["summary"]["computed"] == 1 and df.attrs["summary"]["cached"] == 1


def test_killed_cli_sweep_resumes_without_recomputing(tmp_path):
    cfg = tmp_path / "resume.json"
    cfg.write_text(
        json.dumps(
            {
                "description": "resume test",
                "dataset": "digits",
                "epochs": 5,
                "size": 100,
                "attacks": list(ATTACKS),
                "defenses": {"vanilla": [{}]},
                "seeds": [0, 1, 2],
            }
        )
    )
    cache = tmp_path / "cache"
    env = {**os.environ, "CCL_PROGRESS": "0", "CCL_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "ccl_lib", "run", str(cfg), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(cache.glob("*/result.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no run finished within 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    finished = {p.parent.name: p.stat().st_mtime_ns for p in cache.glob("*/result.json")}
    assert 1 <= len(finished) < 3
    stored = {k: (cache / k / "result.json").read_bytes() for k in finished}

    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    n = len(finished)
    assert f"computed {3 - n}, cached {n}, failed 0" in out.stdout
    # the runs finished before the kill were loaded, not rewritten
    for k, mtime in finished.items():
        assert (cache / k / "result.json").stat().st_mtime_ns == mtime
        assert (cache / k / "result.json").read_bytes() == stored[k]
    assert len(list(cache.glob("*/result.json"))) == 3
