"""The evidence ledger: finished runs recorded once, with provenance, and read by the chapters.

A sweep that decides one of the paper's claims (Sec. 5, 20 paired seeds of Table 1, ...) costs
more than one CI build can spend, so it is computed once, by ``python -m ccl_lib record
EXPERIMENT``, and every finished run becomes one *record*: a small JSON file committed under
``results/ledger/`` -- the run's full :class:`~ccl_lib.experiments.RunSpec` (its key is the
cache key and the file name), every attack's result rows per evaluated epoch, the target's
training history (loss mean and variance, train and test accuracy per epoch; of the shadow's,
the last epoch), and provenance (commit, torch and numpy versions, CPU model, ISA flags, torch threads,
precision, date, wall seconds), sealed by a SHA-256 digest.  No model weights.

The chapters read their runs from the ledger when it holds them
(:func:`ccl_lib.analysis.runs.run_runs` with ``evidence="ledger"``) and compute only what is
missing; ``evidence="compute"`` recomputes everything through the result cache.

Every record is checked before use (:meth:`Ledger.check`): a bad digest, an unknown format, a
spec that no longer parses, or settings that do not give the record's key are refused with one
warning line naming the record and why; a refused record is never used.  ``ledger verify``
(:func:`verify`) recomputes a random sample and compares it with what was recorded.

Writes are atomic, one file per run, so two ``record`` commands on one ledger lose nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TextIO, Union

from ..utils import atomic_write_bytes
from .cache import _canonical, record_digest
from .runner import RunResult
from .spec import RunSpec

__all__ = [
    "ENV_LEDGER_DIR",
    "LEDGER_FORMAT",
    "TOLERANCES",
    "Ledger",
    "LedgerError",
    "VerifyReport",
    "default_ledger_dir",
    "make_record",
    "pack",
    "unpack",
    "resolve_ledger",
    "verify",
]

#: The record layout this module writes and reads (a record of another format is refused).
LEDGER_FORMAT = 1
#: Environment variable naming the ledger folder (default: ``results/ledger`` of the checkout).
ENV_LEDGER_DIR = "CCL_LEDGER_DIR"
#: Largest absolute difference ``ledger verify`` accepts per headline number when this machine's
#: arithmetic differs from the record's (other ISA flags, threads or torch version): a different
#: float rounding changes SGD's trajectory, so a rerun is a nearby draw, not the same numbers.  Over
#: the 20-seed Location records at 30 epochs (CE, CCEL, CCQL) the seed-to-seed standard deviations
#: are 0.021-0.023 (test accuracy), 0.015-0.022 (highest advantage), 0.015-0.020 (P1) and at most
#: 0.039 (one attack's advantage), with train accuracy at 1.0: the bounds are 2.5-5 of them, and a
#: rerun of the same split is closer than another seed.
TOLERANCES = {"test_acc": 0.06, "train_acc": 0.03, "max_advantage": 0.08, "p1": 0.08, "advantage": 0.10}

log = logging.getLogger("ccl_lib.experiments.ledger")

PathLike = Union[str, os.PathLike]


class LedgerError(Exception):
    """A ledger record is missing or refused; the message names it and says why."""


def default_ledger_dir() -> Optional[Path]:
    """``$CCL_LEDGER_DIR``, else ``results/ledger`` of the checkout ``ccl_lib`` was imported from
    (``None`` for an installed copy with no checkout around it)."""
    env = os.environ.get(ENV_LEDGER_DIR)
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parents[2]
    if (root / "results").is_dir() and (root / "ccl_lib").is_dir():
        return root / "results" / "ledger"
    return None


#: History columns that measure time, not the computation (not recorded; see :func:`pack`).
TIMING_COLUMNS = ("seconds",)


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, allow_nan=True) == json.dumps(b, allow_nan=True)


def pack(rows: list[dict[str, Any]], histories: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The compact form of a run's rows and histories that a record stores: the columns every row
    shares once (``run``), each row's other columns (``rows``), and each history as ``{column:
    [value per epoch]}``.  Rows are kept exactly; of the histories, the target's every epoch and the
    shadow's last (no chapter reads the shadow's curve), without the timing columns
    (:data:`TIMING_COLUMNS`; the run's wall seconds are in its provenance).  :func:`unpack`
    inverts it.

    Args:
        rows: the run's result rows (:attr:`RunResult.rows`), at least one.
        histories: ``{"target": [...], "shadow": [...]}`` per-epoch histories (:attr:`RunResult.histories`).
    """
    histories = {
        role: [{k: v for k, v in e.items() if k not in TIMING_COLUMNS} for e in (h if role == "target" else h[-1:])]
        for role, h in histories.items()
    }
    common = {k: v for k, v in rows[0].items() if all(k in r and _same_json(r[k], v) for r in rows[1:])}
    varying = [{k: v for k, v in r.items() if k not in common} for r in rows]
    hist: dict[str, Any] = {}
    for role, h in histories.items():
        cols = list(h[0]) if h else []
        if h and all(list(e) == cols for e in h):
            hist[role] = {c: [e[c] for e in h] for c in cols}
        else:  # entries with different columns: kept as they are
            hist[role] = list(h)
    return {"run": common, "rows": varying, "histories": hist}


def unpack(record: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """``(rows, histories)`` of a record in the form :class:`RunResult` holds them (see :func:`pack`).

    Args:
        record: a ledger record (a JSON object with ``run``, ``rows`` and ``histories``).
    """
    rows = [{**record["run"], **r} for r in record["rows"]]
    hist = {}
    for role, h in record["histories"].items():
        if isinstance(h, dict):
            cols = list(h)
            n = len(h[cols[0]]) if cols else 0
            hist[role] = [{c: h[c][i] for c in cols} for i in range(n)]
        else:
            hist[role] = list(h)
    return rows, hist


def make_record(result: RunResult) -> dict[str, Any]:
    """The ledger record of a finished run (:class:`RunResult`), digest included.

    The provenance is the run's own (``meta["provenance"]``, written where it was computed by
    :func:`ccl_lib.provenance.machine`) plus its date and wall seconds.

    Args:
        result: a computed or cached run.
    """
    if not isinstance(result, RunResult):
        raise TypeError(f"result must be a ccl_lib.experiments.RunResult, got {type(result).__name__}")
    meta = dict(result.meta)
    prov = dict(meta.get("provenance") or {"commit": "unknown"})
    prov.setdefault("threads", meta.get("torch_threads"))
    prov.setdefault("torch", meta.get("torch"))
    prov.setdefault("precision", "fp32")
    prov["date"] = meta.get("created")
    prov["wall_seconds"] = meta.get("seconds")
    prov["device"] = meta.get("device", "cpu")
    body = {
        "ledger_format": LEDGER_FORMAT,
        "key": result.key,
        "label": result.spec.label(),
        "spec": result.spec.to_dict(),
        **pack(result.rows, result.histories),
        "meta": {k: v for k, v in meta.items() if k != "provenance"},
        "provenance": prov,
    }
    body = json.loads(json.dumps(body, default=str, allow_nan=True))  # what is read back is what was digested
    body["digest"] = record_digest(body)
    return body


def _problem(key: str, text: bytes) -> Union[str, dict[str, Any]]:
    """Why the record text of ``key`` cannot be used, or the parsed record."""
    try:
        record = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"it is not valid JSON ({exc})"
    if not isinstance(record, dict):
        return "it is not a JSON object"
    fmt = record.get("ledger_format")
    if fmt != LEDGER_FORMAT:
        return f"it has an unknown format {fmt!r} (this ccl_lib reads ledger format {LEDGER_FORMAT})"
    if record.get("digest") != record_digest(record):
        return "its content does not match its digest (the record was edited or corrupted)"
    if record.get("key") != key:
        return f"it names key {record.get('key')!r}, not its file's {key!r}"
    try:
        spec = RunSpec.from_dict(record["spec"])
    except Exception as exc:  # noqa: BLE001 - any parse failure refuses the record
        return f"its spec no longer parses ({exc})"
    if spec.key() != key:
        return f"its settings do not match its key (they give key {spec.key()}, the record says {key})"
    try:
        rows, hist = unpack(record)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        return f"its rows or histories are malformed ({type(exc).__name__}: {exc})"
    if not rows or not all(isinstance(r, dict) and r.get("key") == key for r in rows):
        return "its result rows are missing or do not belong to it"
    if not isinstance(hist.get("target"), list) or not hist["target"]:
        return "its training histories are missing or malformed"
    if not isinstance(record.get("provenance"), dict):
        return "its provenance is missing"
    return record


class Ledger:
    """A folder of ledger records, one ``<key>.json`` per run (see the module docstring).

    Args:
        root: the folder (default :func:`default_ledger_dir`).
    """

    def __init__(self, root: Optional[PathLike] = None) -> None:
        root = default_ledger_dir() if root is None else Path(root).expanduser()
        if root is None:
            raise LedgerError(
                f"no ledger folder: set ${ENV_LEDGER_DIR} or pass root= (an installed ccl_lib has no results/ledger)"
            )
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Ledger({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The record file of ``key``."""
        if not (isinstance(key, str) and len(key) == 16 and all(c in "0123456789abcdef" for c in key)):
            raise ValueError(f"a run key is 16 lowercase hex digits, got {key!r}")
        return self.root / f"{key}.json"

    def keys(self) -> list[str]:
        """The keys of every record file (checked or not), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if len(p.stem) == 16)

    def __contains__(self, key: str) -> bool:
        return self.check(key)[0] is not None

    def __len__(self) -> int:
        return len(self.keys())

    def check(self, key: str) -> tuple[Optional[dict[str, Any]], Optional[str]]:
        """``(record, None)`` when the record of ``key`` passes every check, else ``(None, reason)``
        (``(None, None)`` when there is no record of ``key``)."""
        path = self.path(key)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None, None
        out = _problem(key, text)
        if isinstance(out, str):
            return None, out
        return out, None

    def refuse(self, key: str, reason: str) -> None:
        """Log the one warning line of a refused record.

        Args:
            key: the record's key.
            reason: why it is refused (from :meth:`check`).
        """
        log.warning("ccl_lib ledger: record %s is refused (%s); it is not used", self.path(key), reason)

    def get(self, key: str, *, warn: bool = True) -> Optional[RunResult]:
        """The :class:`RunResult` of a checked record of ``key``, or ``None`` (absent or refused;
        a refused one logs one warning line when ``warn``)."""
        record, reason = self.check(key)
        if record is None:
            if reason is not None and warn:
                self.refuse(key, reason)
            return None
        rows, hist = unpack(record)
        return RunResult(
            spec=RunSpec.from_dict(record["spec"]),
            key=key,
            rows=rows,
            histories=hist,
            meta={**record["meta"], "provenance": record["provenance"], "source": "ledger"},
            cached=True,
        )

    def add(self, result: RunResult, *, replace: bool = False) -> bool:
        """Write the record of ``result`` (atomically); returns whether a file was written.

        A checked record of the same key is kept unless ``replace``; a refused one is replaced.
        """
        key = result.key
        if not replace and self.check(key)[0] is not None:
            return False
        record = make_record(result)
        atomic_write_bytes(self.path(key), json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n")
        return True

    def records(self, *, warn: bool = True) -> Iterator[dict[str, Any]]:
        """Every checked record (refused ones log a warning when ``warn`` and are skipped)."""
        for key in self.keys():
            record, reason = self.check(key)
            if record is not None:
                yield record
            elif reason is not None and warn:
                self.refuse(key, reason)

    def summary(self, experiments: Optional[dict[str, Sequence[RunSpec]]] = None):
        """What the ledger holds: one row per named experiment (runs recorded of its runs, seeds,
        machines, dates, commits), then one ``(all records)`` row.

        Args:
            experiments: ``{name: specs}`` to count against (default: every named experiment
                whose runs the ledger holds at least one of).
        """
        import pandas as pd

        recs = {r["key"]: r for r in self.records(warn=False)}
        named: dict[str, Sequence[RunSpec]] = dict(_named_specs() if experiments is None else experiments)

        def describe(name: str, keys: Sequence[str], total: Optional[int]) -> dict[str, Any]:
            got = [recs[k] for k in keys if k in recs]
            prov = [r["provenance"] for r in got]
            seeds = sorted({int(r["spec"]["seed"]) for r in got})
            dates = sorted(str(p.get("date") or "")[:10] for p in prov)
            return {
                "experiment": name,
                "runs": len(got),
                "of": total if total is not None else len(got),
                "seeds": _ranges(seeds),
                "machines": "; ".join(sorted({f"{p.get('cpu', '?')} ({p.get('threads', '?')} thr)" for p in prov})),
                "dates": f"{dates[0]} to {dates[-1]}"
                if dates and dates[0] != dates[-1]
                else (dates[0] if dates else ""),
                "commits": ", ".join(sorted({str(p.get("commit", "?"))[:7] for p in prov})),
                "wall_s": round(sum(float(p.get("wall_seconds") or 0) for p in prov), 1),
            }

        rows = []
        for name, specs in named.items():
            keys = list(dict.fromkeys(s.key() for s in specs))
            if any(k in recs for k in keys):
                rows.append(describe(name, keys, len(keys)))
        rows.append(describe("(all records)", list(recs), None))
        return pd.DataFrame(rows)


def _named_specs() -> dict[str, list[RunSpec]]:
    from .named import list_experiments, load_experiment

    out = {}
    for name in list_experiments():
        try:
            out[name] = load_experiment(name).specs()
        except Exception:  # noqa: BLE001 - a config needing unavailable data is listed elsewhere
            continue
    return out


def _span(dates: Sequence[str]) -> str:
    """``["2026-12-06", "2026-12-07"]`` -> ``"2026-12-06 to 2026-12-07"`` (one date once; none: ``""``)."""
    if not dates:
        return ""
    return dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"


def _ranges(values: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    spans: list[list[int]] = []
    for v in values:
        if spans and spans[-1][1] == v - 1:
            spans[-1][1] = v
        else:
            spans.append([v, v])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def resolve_ledger(ledger: Union[None, bool, PathLike, Ledger]) -> Optional[Ledger]:
    """The ledger to read.

    Args:
        ledger: ``None`` or ``True``: the default ledger (``None`` where there is none, e.g. an
            installed copy without a checkout); ``False``: no ledger; a folder or a :class:`Ledger`: that one.
    """
    if ledger is False:
        return None
    if isinstance(ledger, Ledger):
        return ledger
    if ledger is None or ledger is True:
        root = default_ledger_dir()
        return Ledger(root) if root is not None else None
    return Ledger(ledger)


# --------------------------------------------------------------------------- verify


@dataclass
class VerifyReport:
    """What ``ledger verify`` found.

    Attributes:
        checked: records whose digest and spec were checked (all of them).
        refused: ``(key, reason)`` of every refused record.
        compared: one dict per recomputed record (``key``, ``label``, ``mode`` -- ``"bit-identical"``
            or ``"tolerance"`` --, ``agrees``, ``largest`` differences, ``seconds``).
        commit: the commit that seeded the sample.
    """

    checked: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    compared: list[dict[str, Any]] = field(default_factory=list)
    commit: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No refused record and every recomputed record agrees."""
        return not self.refused and all(c["agrees"] for c in self.compared)

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON object, in the layout the scorecard page reads
        (:func:`ccl_lib.scorecard.read_verify_report`): ``checked`` and ``agreed`` count the
        recomputed records, ``records`` says what each gave; ``sound`` and ``refused`` are the
        records whose digest and spec were checked."""
        return {
            "kind": "ledger_verify",
            "checked": len(self.compared),
            "agreed": sum(bool(c["agrees"]) for c in self.compared),
            "records": [
                {
                    "key": c["key"],
                    "experiment": c["label"],
                    "result": f"{'agrees' if c['agrees'] else 'DISAGREES'} ({c['mode']}: {c['detail']})",
                }
                for c in self.compared
            ],
            "sound": self.checked - len(self.refused),
            "refused": [{"key": k, "reason": r} for k, r in self.refused],
            "compared": self.compared,
            "ok": self.ok,
            "commit": self.commit,
            "seconds": round(self.seconds, 1),
            "tolerances": TOLERANCES,
        }


def _headline(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """The numbers a verdict reads from a run: per evaluated epoch, the target's accuracies, the highest
    advantage, P1, and every attack's advantage."""
    out: dict[str, float] = {}
    for r in rows:
        e = r.get("eval_epoch")
        for k in ("test_acc", "train_acc", "max_advantage", "p1"):
            out[f"e{e}/{k}"] = float(r[k])
        out[f"e{e}/advantage/{r['attack']}"] = float(r["advantage"])
    return out


def _compare(record: dict[str, Any], fresh: RunResult, bitwise: bool) -> dict[str, Any]:
    rows_rec, hist_rec = unpack(record)
    fresh_plain = json.loads(json.dumps(pack(fresh.rows, fresh.histories), default=str, allow_nan=True))
    rows_new, hist_new = unpack(fresh_plain)
    out: dict[str, Any] = {
        "key": record["key"],
        "label": record["label"],
        "mode": "bit-identical" if bitwise else "tolerance",
    }
    if bitwise:
        same_rows = _canonical(rows_rec) == _canonical(rows_new)
        same_hist = _canonical(hist_rec) == _canonical(hist_new)
        out["agrees"] = bool(same_rows and same_hist)
        out["detail"] = (
            "rows and histories bit-identical"
            if out["agrees"]
            else (f"rows {'identical' if same_rows else 'differ'}, histories {'identical' if same_hist else 'differ'}")
        )
    a, b = _headline(rows_rec), _headline(rows_new)
    largest: dict[str, float] = {}
    bad = []
    for name in sorted(set(a) | set(b)):
        kind = name.split("/")[1]
        x, y = a.get(name, math.nan), b.get(name, math.nan)
        if math.isnan(x) and math.isnan(y):
            continue
        d = abs(x - y) if not (math.isnan(x) or math.isnan(y)) else math.inf
        largest[kind] = max(largest.get(kind, 0.0), d)
        if d > TOLERANCES[kind]:
            bad.append(f"{name}: recorded {x:.4f}, now {y:.4f}")
    out["largest"] = {k: round(v, 6) for k, v in largest.items()}
    if not bitwise:
        out["agrees"] = not bad
        out["detail"] = "every headline number within tolerance" if not bad else "; ".join(bad[:4])
    elif not out["agrees"] and not bad:
        out["detail"] += " (headline numbers within tolerance)"
    return out


def verify(
    ledger: Optional[Ledger] = None,
    *,
    sample: int = 3,
    budget_s: float = 300.0,
    seed: Optional[str] = None,
    keys: Optional[Sequence[str]] = None,
    out: Optional[TextIO] = None,
    compute: Optional[Callable[[RunSpec, int], RunResult]] = None,
) -> VerifyReport:
    """Check every record, then recompute ``sample`` of them at random and compare (``ledger verify``).

    Records whose provenance has this machine's arithmetic (:func:`ccl_lib.provenance.same_arithmetic`:
    torch version, CPU capability, ISA flags, threads, precision) must come back bit-identical (rows
    and histories); others must agree on every headline number within :data:`TOLERANCES`.  The
    sample is drawn with a generator seeded by the commit (``seed``, default this checkout's), so
    each commit checks its own records; a record whose recorded wall time exceeds an equal share of
    what is left of ``budget_s`` (left / records still to draw) is skipped for a cheaper one, so that one
    slow record cannot use up the budget of the whole sample.

    Args:
        ledger: the ledger (default :class:`Ledger` ()).
        sample: how many records to recompute (0: only check digests and specs).
        budget_s: seconds to spend recomputing (records are chosen to fit).
        seed: the sample's seed text (default: this checkout's commit).
        keys: recompute exactly these records instead of a random sample.
        out: where to print one line per comparison (default: nowhere).
        compute: ``(spec, threads) -> RunResult`` (default: the engine's own computation on the CPU).

    Returns:
        a :class:`VerifyReport`.
    """
    from ..provenance import git_commit, machine, same_arithmetic

    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
        raise ValueError(f"sample must be a non-negative integer, got {sample!r}")
    if not isinstance(budget_s, (int, float)) or not budget_s > 0:
        raise ValueError(f"budget_s must be a positive number of seconds, got {budget_s!r}")
    ledger = ledger if ledger is not None else Ledger()
    t0 = time.perf_counter()
    say = (lambda msg: print(msg, file=out, flush=True)) if out is not None else (lambda msg: None)
    report = VerifyReport(commit=seed if seed is not None else git_commit().replace("+dirty", ""))
    good: dict[str, dict[str, Any]] = {}
    for key in ledger.keys():
        report.checked += 1
        record, reason = ledger.check(key)
        if record is None:
            report.refused.append((key, str(reason)))
            say(f"REFUSED {ledger.path(key)}: {reason}")
        else:
            good[key] = record
    say(f"checked {report.checked} records: {len(good)} sound, {len(report.refused)} refused")
    if keys is not None:
        unknown = [k for k in keys if k not in good]
        if unknown:
            raise LedgerError(f"no sound record of key(s) {unknown} in {ledger.root}")
        order = list(keys)
    else:
        rng = random.Random(int(hashlib.sha256(report.commit.encode()).hexdigest()[:16], 16))
        order = sorted(good)
        rng.shuffle(order)
    compute = compute or _compute_cpu
    for key in order:
        if len(report.compared) >= (len(order) if keys is not None else sample):
            break
        record = good[key]
        left = budget_s - (time.perf_counter() - t0)
        cost = float(record["provenance"].get("wall_seconds") or 0.0)
        if keys is None and cost > left / (sample - len(report.compared)):  # room for the rest of the sample
            continue
        threads = int(record["provenance"].get("threads") or 1)
        here = machine(threads=threads, precision="fp32")
        bitwise = same_arithmetic(record["provenance"], here)
        t1 = time.perf_counter()
        fresh = compute(RunSpec.from_dict(record["spec"]), threads)
        cmp = _compare(record, fresh, bitwise)
        cmp["seconds"] = round(time.perf_counter() - t1, 1)
        report.compared.append(cmp)
        word = "AGREES" if cmp["agrees"] else "DISAGREES"
        say(f"{word} {key} {record['label']}: {cmp['mode']}: {cmp['detail']} ({cmp['seconds']} s)")
    report.seconds = time.perf_counter() - t0
    say(
        f"recomputed {len(report.compared)} of {len(good)} records, "
        f"{sum(bool(c['agrees']) for c in report.compared)} agree; {len(report.refused)} refused"
    )
    return report


def _compute_cpu(spec: RunSpec, threads: int) -> RunResult:
    """Recompute ``spec`` on the CPU with ``threads`` torch threads, storing nothing."""
    from .runner import run_experiment

    return run_experiment(spec, cache=False, device="cpu", progress=False, num_threads=threads)
