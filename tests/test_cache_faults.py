"""Fault injection into the results cache and the prepared data (issue 13): a damaged entry never becomes a number.

One test per fault of the issue's table.  Each one damages a copy of a clean
cache (or of the prepared data), reruns the sweep, and asserts that its final
rows are *identical* to the clean run's, that the damaged entry was
recomputed (not loaded) and that exactly one warning line names the entry and
the reason.  Runs use scikit-learn's digits (offline), 2 epochs, 100 examples
per part and two metric attacks, so each sweep takes about a second; the
clean sweep is shared by the module.  The Location rows need the data mirror.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ccl_lib.experiments.runner as runner
from ccl_lib.experiments import ResultCache, RunSpec, grid, load_model, run_sweep
from ccl_lib.experiments.cache import record_digest

ATTACKS = ("loss", "confidence")
REPO = Path(__file__).resolve().parents[1]


def specs() -> list[RunSpec]:
    return grid("digits", {"vanilla": [{}], "ccql": [{"alpha": 0.5}]}, seeds=[0], epochs=2, size=100, attacks=ATTACKS)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("CCL_PROGRESS", "0")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A clean sweep: its cache folder and its rows."""
    root = tmp_path_factory.mktemp("clean_cache")
    sweep = run_sweep(specs(), cache=root, device="cpu", progress=False)
    assert sweep.computed == 2
    return root, sweep.frame()


@pytest.fixture
def damaged(clean, tmp_path):
    """A copy of the clean cache, the damaged spec (the ccql run) and its folder."""
    root, _ = clean
    copy = tmp_path / "cache"
    shutil.copytree(root, copy)
    spec = specs()[1]
    return ResultCache(copy), spec, copy / spec.key()


def edit_record(folder: Path, change, redigest: bool) -> None:
    """Apply ``change(record)`` to ``result.json``; with ``redigest`` also recompute its digest (a careful forger)."""
    path = folder / "result.json"
    record = json.loads(path.read_text())
    change(record)
    if redigest:
        record["digest"] = record_digest(record)
    path.write_text(json.dumps(record))


def resweep_equals_clean(clean, cache: ResultCache, spec: RunSpec, caplog, reason: str) -> None:
    """The sweep on the damaged cache recomputes ``spec`` once, warns once, and gives the clean rows."""
    _, clean_rows = clean
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ccl_lib.experiments.cache"):
        sweep = run_sweep(specs(), cache=cache, device="cpu", progress=False)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ccl_lib.experiments.cache"]
    assert len(warnings) == 1, warnings
    assert spec.key() in warnings[0] and reason in warnings[0], warnings[0]
    assert (sweep.computed, sweep.cached, len(sweep.failures)) == (1, 1, 0)
    pd.testing.assert_frame_equal(sweep.frame(), clean_rows)
    # and the entry is sound again: the next sweep loads both runs without a word
    caplog.clear()
    again = run_sweep(specs(), cache=cache, device="cpu", progress=False)
    assert (again.computed, again.cached) == (0, 2) and not caplog.records
    pd.testing.assert_frame_equal(again.frame(), clean_rows)


# --------------------------------------------------------------------------- result.json


def test_edited_values_are_detected_by_the_digest(clean, damaged, caplog):
    cache, spec, folder = damaged

    def every_acc(record):
        for row in record["rows"]:
            row["test_acc"] = 0.99

    edit_record(folder, every_acc, redigest=False)
    resweep_equals_clean(clean, cache, spec, caplog, "does not match its digest")


@pytest.mark.parametrize("redigest, reason", [(False, "does not match its digest"), (True, "holds no result rows")])
def test_empty_rows_are_not_cached(clean, damaged, caplog, redigest, reason):
    cache, spec, folder = damaged
    edit_record(folder, lambda r: r.update(rows=[]), redigest)
    resweep_equals_clean(clean, cache, spec, caplog, reason)


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda r: r.update(rows=[1, 2]), "rows are not all objects"),
        (lambda r: r.pop("histories"), "training histories are missing"),
        (lambda r: r["rows"].pop(), "its rows cover 1 (epoch, attack) pairs, the spec asks for 2"),
    ],
    ids=["rows=[1,2]", "no histories", "a row missing"],
)
def test_malformed_rows_or_histories_are_recomputed_not_a_traceback(clean, damaged, caplog, change, reason):
    cache, spec, folder = damaged
    edit_record(folder, change, redigest=True)  # even with a recomputed digest the structure check refuses it
    resweep_equals_clean(clean, cache, spec, caplog, reason)


def test_unknown_dataset_in_the_stored_spec_recomputes_that_entry_only(clean, damaged, caplog):
    cache, spec, folder = damaged
    edit_record(folder, lambda r: r["spec"].update(dataset="no-such-data"), redigest=True)
    resweep_equals_clean(clean, cache, spec, caplog, "its stored spec does not parse (unknown dataset 'no-such-data'")


def test_a_stored_spec_of_another_run_is_refused(clean, damaged, caplog):
    cache, spec, folder = damaged
    edit_record(folder, lambda r: r["spec"].update(seed=7), redigest=True)
    resweep_equals_clean(clean, cache, spec, caplog, "its stored spec has key")


def test_an_older_results_format_is_recomputed(clean, damaged, caplog):
    from ccl_lib.experiments import RESULTS_FORMAT

    cache, spec, folder = damaged
    edit_record(folder, lambda r: r.update(format=RESULTS_FORMAT - 1), redigest=True)
    resweep_equals_clean(clean, cache, spec, caplog, f"results format {RESULTS_FORMAT - 1}")


def test_truncated_or_unparsable_result_json_is_recomputed(clean, damaged, caplog):
    cache, spec, folder = damaged
    text = (folder / "result.json").read_text()
    (folder / "result.json").write_text(text[: len(text) // 2])
    resweep_equals_clean(clean, cache, spec, caplog, "not valid JSON")


# --------------------------------------------------------------------------- model files


def _target_file(folder: Path) -> Path:
    record = json.loads((folder / "result.json").read_text())
    return folder / record["models"]["target"]["2"]


@pytest.mark.parametrize("fault", ["random bytes, same size", "truncated"])
def test_damaged_model_file_is_not_reported_as_cached(clean, damaged, caplog, fault):
    cache, spec, folder = damaged
    f = _target_file(folder)
    data = f.read_bytes()
    if fault == "truncated":
        f.write_bytes(data[: len(data) // 2])
        reason = f"its file {f.name} has {len(data) // 2} bytes, {len(data)} were written"
    else:
        mid = len(data) // 2
        f.write_bytes(data[:mid] + np.random.default_rng(0).bytes(64) + data[mid + 64 :])
        assert f.stat().st_size == len(data)
        reason = f"its file {f.name} does not match its recorded sha256"
    resweep_equals_clean(clean, cache, spec, caplog, reason)
    assert load_model(spec, cache=cache) is not None  # rewritten: loads after sha256 verification


def test_a_referenced_file_outside_the_entry_is_refused(clean, damaged, caplog):
    cache, spec, folder = damaged

    def escape(record):
        name = record["models"]["target"]["2"]
        record["files"]["../" + name] = record["files"].pop(name)
        record["models"]["target"]["2"] = "../" + name

    edit_record(folder, escape, redigest=True)
    resweep_equals_clean(clean, cache, spec, caplog, "its file list is malformed")


# --------------------------------------------------------------------------- one writer per entry


@pytest.mark.slow  # two real CLI processes (about 10 s on 2 idle cores)
def test_two_concurrent_cli_sweeps_compute_each_run_once(tmp_path):
    cfg = tmp_path / "concurrent.json"
    cfg.write_text(
        json.dumps(
            {
                "description": "two sweeps at once",
                "dataset": "digits",
                "epochs": 1,
                "size": 60,
                "attacks": ["loss"],
                "defenses": {"vanilla": [{}]},
                "seeds": [0, 1, 2],
            }
        )
    )
    cache = tmp_path / "cache"
    env = {**os.environ, "CCL_PROGRESS": "0", "PYTHONPATH": str(REPO), "CCL_TEST_THREADS": "1"}
    cmd = [sys.executable, "-m", "ccl_lib", "run", str(cfg), "--cache", str(cache), "--no-progress", "--device", "cpu"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    counts = []
    for out, _ in outs:
        line = next(ln for ln in out.splitlines() if "computed" in ln and "cached" in ln)
        computed = int(line.split("computed ")[1].split(",")[0])
        cached = int(line.split("cached ")[1].split(",")[0])
        counts.append((computed, cached))
    assert sum(c for c, _ in counts) == 3, counts  # every run computed exactly once over both sweeps
    assert all(c + k == 3 for c, k in counts), counts  # and each sweep reports all three
    assert len(ResultCache(cache).keys()) == 3 and not list(cache.glob("*.lock"))


def test_a_sweep_defers_an_entry_another_writer_holds_then_reuses_its_result(clean, tmp_path, monkeypatch):
    import threading

    from ccl_lib.experiments.runner import _compute, _store

    _, clean_rows = clean
    cache = ResultCache(tmp_path / "cache")
    first, second = specs()
    calls = []
    real = runner._compute

    def counting(spec, device, progress):
        calls.append(spec.key())
        return real(spec, device, progress)

    monkeypatch.setattr(runner, "_compute", counting)
    holder = cache.lock(first.key())  # "another sweep" is computing the first run
    assert holder is not None
    box = {}
    t = threading.Thread(
        target=lambda: box.update(sweep=run_sweep([first, second], cache=cache, device="cpu", progress=False))
    )
    t.start()
    deadline = time.monotonic() + 60
    while cache.read_record(second.key(), warn=False) is None:  # the sweep goes on with the free run meanwhile
        assert time.monotonic() < deadline and t.is_alive()
        time.sleep(0.05)
    assert t.is_alive() and calls == [second.key()]
    _store(cache, *_compute(first, "cpu", False))  # the other writer finishes the first run
    holder.release()
    t.join(60)
    sweep = box["sweep"]
    assert calls == [second.key()] and (sweep.computed, sweep.cached) == (1, 1)  # the first was reused, not recomputed
    pd.testing.assert_frame_equal(sweep.frame(), clean_rows)


def test_stale_locks_are_recovered_live_ones_respected(tmp_path):
    cache = ResultCache(tmp_path, stale_after=5)
    key = specs()[0].key()
    lock_file = cache.lock_path(key)
    # a live holder on this host (this very process, as far as the lock file says): busy
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    import socket

    lock_file.write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "created": time.time(), "token": "x"})
    )
    assert cache.lock(key, wait=False) is None
    with pytest.raises(TimeoutError, match="still locked"):
        cache.lock(key, timeout=0.3, poll=0.05)
    # a dead holder on this host: claimed at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_file.write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "created": 0, "token": "y"})
    )
    lk = cache.lock(key, wait=False)
    assert lk is not None and json.loads(lock_file.read_text())["pid"] == os.getpid()
    lk.release()
    assert not lock_file.exists()
    # a holder on another machine that stopped refreshing its lock: claimed once it is stale_after old
    lock_file.write_text(json.dumps({"pid": 1, "host": "elsewhere", "created": 0, "token": "z"}))
    assert cache.lock(key, wait=False) is None
    old = time.time() - 10
    os.utime(lock_file, (old, old))
    with cache.lock(key, wait=False) as lk:
        assert lk is not None and json.loads(lock_file.read_text())["token"] == lk.token
    assert not lock_file.exists()


# --------------------------------------------------------------------------- prepared data


def test_tampered_prepared_location_npz_is_rebuilt(mirror, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CCL_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("CCL_DATA_DIR", str(tmp_path / "data"))
    spec = RunSpec("location", "vanilla", epochs=2, size=100, attacks=ATTACKS)
    runner._dataset.cache_clear()
    clean_rows = run_sweep([spec], cache=False, device="cpu", progress=False).frame()
    npz = tmp_path / "data" / "prepared" / "location.npz"
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["y"] = np.zeros_like(arrays["y"])  # every label 0, the old checksum kept
    with open(npz, "wb") as fh:
        np.savez(fh, **arrays)
    runner._dataset.cache_clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ccl_lib.data"):
        rows = run_sweep([spec], cache=False, device="cpu", progress=False).frame()
    pd.testing.assert_frame_equal(rows, clean_rows)
    msgs = [r.getMessage() for r in caplog.records if r.name == "ccl_lib.data"]
    assert len(msgs) == 1 and "location.npz" in msgs[0] and "do not match their checksum" in msgs[0], msgs
    with np.load(npz, allow_pickle=False) as z:
        assert len(np.unique(z["y"])) == 30  # rebuilt from the verified archive
    runner._dataset.cache_clear()


def _image_tree(root: Path, n_per_class: int = 12, classes: int = 4) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True)
        for i in range(n_per_class):
            img = (rng.random((8, 8, 3)) * 60 + c * 60).astype(np.uint8)
            Image.fromarray(img).save(d / f"{i:03d}.bmp")
    return root


def _folder_spec(tree: Path) -> RunSpec:
    return RunSpec(
        f"imagefolder:{tree}", "vanilla", model="small_cnn", epochs=1, size=10, attacks=("loss",), batch_size=16
    )


@pytest.mark.filterwarnings("ignore:the (target|shadow) model is attacked with only")
def test_zeroed_prepared_image_x_npy_is_rebuilt(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CCL_DATA_DIR", str(tmp_path / "data"))
    tree = _image_tree(tmp_path / "tree")
    spec = _folder_spec(tree)
    runner._dataset.cache_clear()
    clean_rows = run_sweep([spec], cache=False, device="cpu", progress=False).frame()
    (x_npy,) = (tmp_path / "data" / "prepared").glob("imagefolder-*/x.npy")
    x = np.load(x_npy)
    np.save(x_npy, np.zeros_like(x))  # same shape and dtype, all zeros
    runner._dataset.cache_clear()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ccl_lib.data"):
        rows = run_sweep([spec], cache=False, device="cpu", progress=False).frame()
    pd.testing.assert_frame_equal(rows, clean_rows)
    msgs = [r.getMessage() for r in caplog.records if r.name == "ccl_lib.data"]
    assert len(msgs) == 1 and "x.npy does not match its recorded sha256" in msgs[0], msgs
    assert np.array_equal(np.load(x_npy), x)
    runner._dataset.cache_clear()


@pytest.mark.filterwarnings("ignore:the (target|shadow) model is attacked with only")
def test_a_changed_image_folder_is_a_different_experiment(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("CCL_DATA_DIR", str(tmp_path / "data"))
    tree = _image_tree(tmp_path / "tree")
    runner._dataset.cache_clear()
    cache = ResultCache(tmp_path / "cache")
    before = _folder_spec(tree)
    first = run_sweep([before], cache=cache, device="cpu", progress=False)
    # same file names and sizes, other pixels: only the content fingerprint sees it
    f = tree / "class0" / "000.bmp"
    size, mtime = f.stat().st_size, f.stat().st_mtime_ns
    img = np.asarray(Image.open(f)).copy()
    img[0, 0] = 255 - img[0, 0]
    Image.fromarray(img).save(f)
    os.utime(f, ns=(mtime, mtime))
    after = _folder_spec(tree)
    assert after.key() != before.key()
    runner._dataset.cache_clear()
    second = run_sweep([after], cache=cache, device="cpu", progress=False)
    assert (second.computed, second.cached) == (1, 0)  # the stale result of the old folder is not reused
    runner._dataset.cache_clear()
    fresh = run_sweep([after], cache=tmp_path / "fresh", device="cpu", progress=False)
    pd.testing.assert_frame_equal(second.frame(), fresh.frame())
    assert first.frame()["key"].iloc[0] != second.frame()["key"].iloc[0]
    assert f.stat().st_size == size and f.stat().st_mtime_ns == mtime  # BMP: uncompressed, same size
    runner._dataset.cache_clear()


def test_image_folder_links_outside_the_tree_are_refused(tmp_path):
    from ccl_lib.data import UnsafeDataError, imagefolder_fingerprint, load_dataset

    tree = _image_tree(tmp_path / "tree", n_per_class=2, classes=2)
    outside = _image_tree(tmp_path / "elsewhere", n_per_class=1, classes=1)
    (tree / "class0" / "sneaky.bmp").symlink_to(outside / "class0" / "000.bmp")
    with pytest.raises(UnsafeDataError, match=r"sneaky.bmp resolves to .*outside the image folder"):
        imagefolder_fingerprint(tree)
    with pytest.raises(UnsafeDataError, match="outside the image folder"):
        load_dataset(f"imagefolder:{tree}", root=tmp_path / "data")
    (tree / "class0" / "sneaky.bmp").unlink()
    (tree / "class1" / "more").symlink_to(outside / "class0", target_is_directory=True)
    with pytest.raises(UnsafeDataError, match=r"folder .*more resolves to .*outside the image folder"):
        imagefolder_fingerprint(tree)
    (tree / "class1" / "more").unlink()
    (tree / "class1" / "inside").symlink_to(tree / "class0", target_is_directory=True)  # a link inside is fine
    assert len(imagefolder_fingerprint(tree)) == 64
