"""Running a chapter's sweep and reducing its result frame to one row per run or per setting.

The frame is :func:`ccl_lib.experiments.run_grid`'s (one row per run, evaluated epoch and
attack); the runs are ``{spec.key(): RunResult}``, whose ``histories`` hold the training curves.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Optional, Sequence, Union

from .curves import history_of

__all__ = [
    "EVIDENCE",
    "chapter_specs",
    "evidence_summary",
    "mean_history",
    "recorded_runs",
    "run_minutes",
    "run_runs",
    "run_summary",
    "select_runs",
    "short_setting",
    "strongest_attack_rows",
]


#: The values of a chapter's ``evidence`` parameter (:func:`run_runs`).
EVIDENCE = ("ledger", "compute")


def run_runs(
    specs: Sequence[Any],
    *,
    workers: Union[int, str] = 1,
    cache: Any = None,
    progress: Optional[bool] = False,
    evidence: str = "ledger",
    ledger: Any = None,
):
    """Run (or load) ``specs`` with :func:`ccl_lib.experiments.run_sweep`: a chapter's sweep.

    Args:
        specs: a non-empty list of :class:`ccl_lib.experiments.RunSpec` (e.g. from
            :func:`ccl_lib.experiments.grid`).
        workers: parallel worker processes (an integer >= 1, or ``"auto"``).
        cache: a :class:`ccl_lib.experiments.ResultCache`, a folder, or ``None`` for the default cache.
        progress: show a progress bar (terminal only; the book passes ``False``).
        evidence: ``"ledger"`` (default): runs recorded in the evidence ledger
            (:mod:`ccl_lib.experiments.ledger`) are read from it, only the others computed (or
            loaded from the cache); ``"compute"``: the ledger is not read, every run is computed
            (or loaded from the cache).
        ledger: the ledger folder or :class:`~ccl_lib.experiments.ledger.Ledger` (default:
            ``results/ledger`` of the checkout, or ``$CCL_LEDGER_DIR``).

    Returns:
        ``(frame, runs)``: the result frame of :func:`ccl_lib.experiments.run_grid` (one row per
        run, evaluated epoch and attack) and ``{spec.key(): RunResult}``, whose ``histories``
        hold the per-epoch training curves; a run read from the ledger has
        ``meta["source"] == "ledger"`` and its ``meta["provenance"]``.  Failed runs raise
        :class:`ccl_lib.experiments.SweepError` (the finished ones stay cached).
    """
    from ..experiments import RunSpec, run_sweep
    from ..experiments.ledger import resolve_ledger

    specs = list(specs)
    if not specs or not all(isinstance(s, RunSpec) for s in specs):
        raise ValueError("specs must be a non-empty list of RunSpec (see ccl_lib.experiments.grid)")
    if evidence not in EVIDENCE:
        raise ValueError(f"evidence must be one of {EVIDENCE}, got {evidence!r}")
    led = resolve_ledger(ledger) if evidence == "ledger" else None
    sweep = run_sweep(specs, workers=workers, cache=cache, progress=progress, ledger=led)
    return sweep.frame(), {r.key: r for r in sweep.results}


def recorded_runs(specs: Sequence[Any], *, experiment: str = "", ledger: Any = None) -> tuple[list, str]:
    """``(specs, note)``: the runs of the seeds whose *every* run the evidence ledger holds, and what is missing.

    A chapter that reads evidence compares arms paired by seed and never trains a recorded sweep in
    the book, so a seed with one run unrecorded is left out whole; ``note`` says how many runs are
    missing, which seeds were left out and (with ``experiment``) how to record them; ``""`` when
    none is missing.

    Args:
        specs: :class:`ccl_lib.experiments.RunSpec` s (several arms per seed).
        experiment: the named experiment they come from, for the note (``python -m ccl_lib record``).
        ledger: the ledger (folder or :class:`~ccl_lib.experiments.ledger.Ledger`; default the checkout's).
    """
    from ..experiments.ledger import resolve_ledger

    specs = list(specs)
    led = resolve_ledger(ledger if ledger is not None else True)
    held = {s.key() for s in specs if led is not None and s.key() in led}
    missing_seeds = {s.seed for s in specs if s.key() not in held}
    n_missing = sum(s.key() not in held for s in specs)
    kept = [s for s in specs if s.seed not in missing_seeds]
    if not n_missing:
        return kept, ""
    of = f" of {experiment}" if experiment else ""
    note = f"{n_missing} of {len(specs)} runs{of} are not in the evidence ledger yet"
    note += f" (seeds {sorted(missing_seeds)} left out)"
    return kept, note + (f": `python -m ccl_lib record {experiment}`" if experiment else "")


def chapter_specs(
    experiment: str, seeds: Sequence[int], *, overrides: Any = None, evidence: str = "ledger", ledger: Any = None
) -> tuple[list, str]:
    """``(specs, note)``: the runs of a named experiment for ``seeds`` that a chapter reads.

    With ``evidence="ledger"`` only the runs the evidence ledger holds (the book never trains a
    sweep that has not been recorded); ``note`` then says how many are missing and how to record
    them ("" when none is).  With ``"compute"`` every run.

    Args:
        experiment: a named experiment (:func:`ccl_lib.experiments.load_experiment`).
        seeds: the paired seeds to keep (a subset of the experiment's, or others).
        overrides: settings of the experiment to replace (``{"epochs": 2}``).
        evidence: ``"ledger"`` or ``"compute"``.
        ledger: the ledger (default the checkout's).
    """
    from ..experiments import load_experiment

    if evidence not in EVIDENCE:
        raise ValueError(f"evidence must be one of {EVIDENCE}, got {evidence!r}")
    specs = [s for s in load_experiment(experiment, dict(overrides or {})).specs() if s.seed in set(seeds)]
    if evidence == "compute":
        return specs, ""
    return recorded_runs(specs, experiment=experiment, ledger=ledger)


def evidence_summary(runs: Mapping[str, Any]) -> dict[str, Any]:
    """Where a chapter's runs came from: how many were read from the evidence ledger, on which
    machines, dates and commits, and how many were computed (or loaded from the result cache) by
    this build.

    Args:
        runs: ``{key: RunResult}`` of :func:`run_runs`.

    Returns:
        a dict: ``n`` (all runs), ``ledger`` (read from the ledger), ``computed`` (the others),
        ``machines``, ``dates`` and ``commits`` (text) and ``ledger_seconds`` (their recorded wall seconds).
    """
    from ..experiments.ledger import _span

    led = [r for r in runs.values() if r.meta.get("source") == "ledger"]
    prov = [r.meta.get("provenance", {}) for r in led]
    dates = sorted(str(p.get("date") or "")[:10] for p in prov if p.get("date"))
    return {
        "n": len(runs),
        "ledger": len(led),
        "computed": len(runs) - len(led),
        "machines": ", ".join(sorted({f"{p.get('cpu', '?')} ({p.get('threads', '?')} torch thread"
                                      f"{'s' if p.get('threads') != 1 else ''})" for p in prov})),
        "dates": _span(dates),
        "commits": ", ".join(sorted({str(p.get("commit", "?"))[:7] for p in prov})),
        "ledger_seconds": float(sum(float(p.get("wall_seconds") or 0.0) for p in prov)),
    }  # fmt: skip


def run_minutes(runs: Mapping[str, Any]) -> str:
    """The recorded wall time per run of the runs read from the evidence ledger, in words, for a
    chapter's text on what its sweep costs: "32 minutes per run" when the runs agree to the minute,
    else "between 30 and 68 minutes per run (median 41)"; "n/a" when no run came from the ledger.

    A record's time is the wall time of its run on the machine that recorded it (its provenance:
    CPU, torch threads); the machines differ, which is why a range is given and no single rate.

    Args:
        runs: ``{key: RunResult}`` of :func:`run_runs`.
    """
    import statistics

    minutes = sorted(
        float(r.meta["provenance"]["wall_seconds"]) / 60
        for r in runs.values()
        if r.meta.get("source") == "ledger" and (r.meta.get("provenance") or {}).get("wall_seconds")
    )
    if not minutes:
        return "n/a"
    lo, hi = round(minutes[0]), round(minutes[-1])
    if lo == hi:
        return f"{lo} minutes per run"
    return f"between {lo} and {hi} minutes per run (median {statistics.median(minutes):.0f})"


def run_summary(df, runs: Mapping[str, Any]) -> str:
    """One line about a sweep: runs per data set with their training-set size, how many were
    read from the evidence ledger (with its machines, dates and commits), computed now or loaded
    from the cache, and the attacks.

    Args:
        df: the sweep's result frame (``df.attrs["summary"]`` holds the computed/cached counts).
        runs: ``{key: RunResult}`` of :func:`run_runs`.
    """
    sizes: dict[str, set] = {}
    for r in runs.values():
        sizes.setdefault(r.spec.dataset, set()).add(int(r.meta.get("split_sizes", {}).get("target_train", -1)))
    counts = {d: sum(1 for r in runs.values() if r.spec.dataset == d) for d in sizes}
    parts = [
        f"{counts[d]} runs on {d} ({'/'.join(str(n) for n in sorted(v))} training examples per model)"
        for d, v in sizes.items()
    ]
    info = df.attrs.get("summary", {})
    ev = evidence_summary(runs)
    src = ""
    if ev["ledger"]:
        src = (f"{ev['ledger']} read from the evidence ledger (computed on {ev['machines']}, {ev['dates']}, "
               f"commit {ev['commits']}; {ev['ledger_seconds'] / 60:.0f} min of recorded compute); ")  # fmt: skip
    done = ""
    if info:
        done = f"computed {info['computed']}, cached {info['cached'] - info.get('from_ledger', 0)}; "
    return "; ".join(parts) + f"; {src}{done}attacks: {', '.join(dict.fromkeys(df['attack']))}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
    return a == b


def select_runs(runs: Mapping[str, Any], defense: str, **hparams: Any) -> list:
    """The runs of one setting, sorted by seed.

    Args:
        runs: ``{key: RunResult}`` of :func:`run_runs`.
        defense: the defense's registry name (``"vanilla"``, ``"ccql"``, ...).
        **hparams: hyperparameters the runs must have (e.g. ``alpha=0.5``); floats compare
            to within 1e-12.

    Example: ``select_runs(runs, "ccql", alpha=0.5)``.
    """
    out = []
    for r in runs.values():
        hp = r.spec.hparams
        if r.spec.defense == defense and all(k in hp and _same(hp[k], v) for k, v in hparams.items()):
            out.append(r)
    if not out:
        raise ValueError(f"no run of defense {defense!r} with {hparams} among the {len(runs)} runs")
    return sorted(out, key=lambda r: r.spec.seed)


def mean_history(runs: Sequence[Any]):
    """The per-epoch mean over seeds of the target models' histories.

    Args:
        runs: RunResults (or histories, see :func:`ccl_lib.analysis.curves.history_of`) of one
            setting; a single run gives its own history.
    """
    import pandas as pd

    frames = [history_of(r) for r in runs]
    if not frames:
        raise ValueError("mean_history needs at least one run")
    return pd.concat(frames).groupby("epoch", as_index=False).mean(numeric_only=True)


def strongest_attack_rows(df):
    """One row per (run, evaluated epoch): the row of its strongest attack (highest headline
    advantage), with that attack's name in ``worst_attack``.

    Args:
        df: a result frame of :func:`ccl_lib.experiments.run_grid`.
    """
    needed = ["run_id", "defense", "attack", "advantage", "test_acc", "max_advantage", "p1"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks columns {missing} (is it the frame of run_grid?)")
    if len(df) == 0:
        raise ValueError("the result frame is empty")
    idx = df.groupby("run_id", sort=False)["advantage"].idxmax()
    out = df.loc[idx].rename(columns={"attack": "worst_attack"})
    return out.reset_index(drop=True)


def short_setting(setting: str) -> str:
    """The defense part of an engine ``setting`` label.

    ``"location/mlp ccql(alpha=0.5, scale=1) size=1000"`` -> ``"ccql(alpha=0.5, scale=1)"``;
    an early-stopping checkpoint keeps its ``stop=N``.

    Args:
        setting: the ``setting`` column of a result frame.
    """
    m = re.match(r"^\S+ (\w+(?:\([^)]*\))?)", str(setting))
    if not m:
        return str(setting)
    stop = re.search(r"\bstop=(\d+)", str(setting))
    return m.group(1) + (f" stop={stop.group(1)}" if stop else "")
