"""Sweeps: many runs, resumable, in parallel on local processes or on Ray.

:func:`run_grid` runs a list of :class:`RunSpec` -- e.g. every defense's
hyperparameter grid of App. E times a few seeds (Fig. 2/3, Table 1) -- and
returns one ``DataFrame`` row per (run, attack).  Finished runs are loaded from
the cache; only missing runs are computed, so an interrupted sweep resumes
where it stopped and a repeated sweep computes nothing.

Backends:

* ``"local"`` -- ``workers=1`` runs in this process; ``workers=N`` uses a
  ``ProcessPoolExecutor`` with the ``spawn`` start method, ``max(1, cores // N)``
  torch threads per worker, and one GPU per worker (``CUDA_VISIBLE_DEVICES``)
  when the machine has several.  Each worker writes its finished run into the
  cache itself, so results survive a killed sweep.
* ``"ray"`` -- one Ray task per run (``ray.init(address=ray_address)``, or the
  Ray instance this process already joined); the driver writes each returned
  run into its cache.  Worker nodes need ``ccl_lib`` installed and the data
  (``$CCL_DATA_MIRROR``/``$CCL_DATA_DIR``) reachable.

One writer per entry: a run is computed only while holding its entry's lock
(:meth:`ResultCache.lock`).  A serial sweep that finds an entry locked by
another process goes on with the other runs and comes back to it (then
loads the other process's result); pool workers wait for it; the Ray driver
holds the locks of the tasks it has in flight.  So two sweeps on one cache
share the work and compute each run once.

Runs are deterministic on the CPU: every run seeds everything from its own
``spec.seed``, so serial, process-pool and Ray sweeps give identical rows.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import torch

from .cache import ResultCache, resolve_cache
from .runner import RunResult, _compute, _progress, _run_one, _store, _torch_threads, rows_frame
from .spec import RunSpec

if TYPE_CHECKING:  # the ledger imports the runner, as this module does; no circle at run time
    from .ledger import Ledger

__all__ = ["SweepError", "SweepResult", "available_cores", "resolve_workers", "run_grid", "run_sweep"]

BACKENDS = ("local", "ray")


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the others are cached.  ``partial`` holds the :class:`SweepResult`.

    Args:
        message: the error message (counts and the first failure's traceback).
        partial: the sweep's result without the failed runs.
    """

    def __init__(self, message: str, partial: SweepResult) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass
class SweepResult:
    """The runs of a sweep in spec order, and what happened to them.

    Attributes:
        results: the :class:`RunResult` of every run that finished, in spec order.
        computed: runs computed by this sweep.
        cached: runs loaded from the cache (including ones another sweep finished meanwhile)
            or from the evidence ledger.
        from_ledger: of the cached runs, those read from the evidence ledger
            (:mod:`ccl_lib.experiments.ledger`).
        failures: ``(spec, traceback text)`` of every failed run.
        seconds: wall time of the sweep.
        workers: parallel workers used.
        backend: ``"local"`` or ``"ray"``.
    """

    results: list[RunResult]
    computed: int = 0
    cached: int = 0
    failures: list[tuple[RunSpec, str]] = field(default_factory=list)
    from_ledger: int = 0
    seconds: float = 0.0
    workers: int = 1
    backend: str = "local"

    def summary(self) -> str:
        """``"computed N, cached M (L from the ledger), failed K in T s (W workers, backend)"``."""
        led = f" ({self.from_ledger} from the ledger)" if self.from_ledger else ""
        return (
            f"computed {self.computed}, cached {self.cached}{led}, failed {len(self.failures)} "
            f"in {self.seconds:.1f} s ({self.workers} worker{'s' if self.workers != 1 else ''}, {self.backend})"
        )

    def frame(self):
        """One row per (run, evaluated epoch, attack); ``attrs["summary"]`` holds the counts."""
        rows = [row for r in self.results for row in r.rows]
        df = rows_frame(rows)
        df.attrs["summary"] = {
            "computed": self.computed,
            "cached": self.cached,
            "from_ledger": self.from_ledger,
            "failed": len(self.failures),
            "seconds": self.seconds,
            "workers": self.workers,
            "backend": self.backend,
        }
        return df


# --------------------------------------------------------------------------- sizing


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _wants_cuda(device: Any) -> bool:
    return str(device) in ("auto", "None") or str(device).startswith("cuda")


def resolve_workers(workers: Union[int, str], n_runs: int, device: Any = "auto") -> int:
    """Number of local worker processes: an int, or ``"auto"`` = one per GPU, else one per core.

    Never more than ``n_runs`` (and at least 1).

    Args:
        workers: a positive integer or ``"auto"``.
        n_runs: runs to compute (caps the result).
        device: the sweep's device; ``"auto"``/``"cuda..."`` with CUDA present makes ``"auto"``
            count GPUs instead of cores.
    """
    if isinstance(workers, str):
        if workers != "auto":
            raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
        if _wants_cuda(device) and torch.cuda.is_available():
            n = torch.cuda.device_count()
        else:
            n = available_cores()
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
    else:
        n = workers
    return max(1, min(n, max(1, n_runs)))


# --------------------------------------------------------------------------- local pool

_WORKER_DEVICE: Optional[str] = None


def _init_worker(threads: int, gpu_queue: Any, env: dict[str, str]) -> None:
    """Per-process setup: torch threads, one GPU (``CUDA_VISIBLE_DEVICES``), no progress bars."""
    global _WORKER_DEVICE
    os.environ.update(env)
    os.environ["CCL_PROGRESS"] = "0"
    if gpu_queue is not None:
        gpu = gpu_queue.get()
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    torch.set_num_threads(max(1, int(threads)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set
        pass


def _worker_run(spec_dict: dict[str, Any], cache: Optional[ResultCache], device: str) -> RunResult:
    """Run one spec in a worker process; the worker writes the result into the cache itself.

    It holds the entry's writer lock while computing, and waits for (then
    loads) a result another sweep is computing.  The driver already warned
    about a damaged entry, so the worker does not warn again.
    """
    spec = RunSpec.from_dict(spec_dict)
    result = _run_one(spec, cache, device, False, False, None, warn=True if cache is None else False, wait=True)
    assert result is not None
    return result


def _gpu_ids() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    n = torch.cuda.device_count()
    if visible:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return ids[:n] if n else ids
    return [str(i) for i in range(n)]


# --------------------------------------------------------------------------- Ray


def _ray_compute(spec_dict: dict[str, Any], device: str, threads: int):
    """A Ray task: compute one run and return it with its files; the driver stores them."""
    os.environ["CCL_PROGRESS"] = "0"
    spec = RunSpec.from_dict(spec_dict)
    with _torch_threads(threads):
        return _compute(spec, device, False)


# --------------------------------------------------------------------------- sweeps


def _check_specs(specs: Sequence[RunSpec]) -> list[RunSpec]:
    if isinstance(specs, RunSpec):
        specs = [specs]
    if not isinstance(specs, (list, tuple)):
        raise TypeError(f"specs must be a list of RunSpec (see ccl_lib.experiments.grid), got {type(specs).__name__}")
    out, seen = [], set()
    for i, s in enumerate(specs):
        if not isinstance(s, RunSpec):
            raise TypeError(f"specs[{i}] is a {type(s).__name__}, not a RunSpec")
        k = s.key()
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def run_sweep(
    specs: Sequence[RunSpec],
    *,
    workers: Union[int, str] = 1,
    backend: str = "local",
    ray_address: Optional[str] = None,
    cache: Union[None, bool, str, os.PathLike, ResultCache] = None,
    device: str = "auto",
    progress: Optional[bool] = None,
    raise_on_error: bool = True,
    ledger: Optional[Ledger] = None,
    on_result: Optional[Callable[[RunResult], None]] = None,
) -> SweepResult:
    """Run every spec not yet in the cache; load the others.  See :func:`run_grid`.

    Args:
        specs: the runs; duplicates are run once.
        workers: parallel runs: an integer or ``"auto"`` (one per GPU, else one per CPU core);
            with Ray, the cap on tasks in flight.
        backend: ``"local"`` (process pool) or ``"ray"``; giving ``ray_address`` selects Ray.
        ray_address: a Ray cluster address (``"ray://host:10001"``, ``"auto"``, ``"local"``);
            ``None`` joins the current Ray instance or starts a local one.
        cache: result cache (default ``$CCL_CACHE_DIR`` or the user cache; a folder;
            a :class:`ResultCache`; ``False`` for none).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        progress: a progress bar over runs (default on unless ``CCL_PROGRESS=0``).
        raise_on_error: raise :class:`SweepError` (with the partial result) when runs
            failed; else return the finished runs and list the failures.
        ledger: an evidence ledger (:class:`ccl_lib.experiments.ledger.Ledger`) read before the
            cache: a run it holds a sound record of is taken from it and not computed.
        on_result: called with every finished run (read or computed) as soon as it is there,
            in this process (``record`` writes each into the ledger this way).

    Returns:
        a :class:`SweepResult`.
    """
    t0 = time.perf_counter()
    specs = _check_specs(specs)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if ray_address is not None and backend != "ray":
        backend = "ray"
    if not isinstance(device, str):
        device = str(device)
    store = resolve_cache(cache)
    show = _progress(progress)

    done: dict[str, RunResult] = {}
    if ledger is not None:
        for s in specs:  # a refused record logs one warning line and is not used
            res = ledger.get(s.key())
            if res is not None:
                done[s.key()] = res
    n_ledger = len(done)
    if store is not None:
        for s in specs:  # every entry verified once; a damaged one logs one warning and is recomputed
            if s.key() in done:
                continue
            record = store.read_record(s.key())
            if record is not None:
                done[s.key()] = RunResult.from_record(record, cached=True)
    if on_result is not None:
        for res in done.values():
            on_result(res)
    n_cached = len(done)
    late_cached = [0]  # runs another sweep finished while this one waited for their lock
    todo = [s for s in specs if s.key() not in done]
    failures: list[tuple[RunSpec, str]] = []
    n_workers = resolve_workers(workers, len(todo), device) if backend == "local" else workers

    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), initial=n_cached, desc="runs", unit="run", disable=not show)
    bar.set_postfix(computed=0, cached=n_cached)

    def finish(spec: RunSpec, res: Optional[RunResult], err: Optional[str]) -> None:
        if err is not None:
            failures.append((spec, err))
            bar.write(f"FAILED {spec.label()}: {err.strip().splitlines()[-1]}")
        else:
            assert res is not None
            done[spec.key()] = res
            late_cached[0] += bool(res.cached)
            if on_result is not None:
                on_result(res)
        bar.update(1)
        n_now = n_cached + late_cached[0]
        bar.set_postfix(computed=len(done) - n_now, cached=n_now, failed=len(failures))

    try:
        if todo and backend == "local" and n_workers == 1:
            with _torch_threads(available_cores()):
                _run_serial(todo, store, device, show, finish)
        elif todo and backend == "local":
            _run_pool(todo, n_workers, store, device, finish)
        elif todo:
            n_workers = _run_ray(todo, workers, ray_address, store, device, finish)
    finally:
        bar.close()

    results = [done[s.key()] for s in specs if s.key() in done]
    n_cached += late_cached[0]
    sweep = SweepResult(
        results=results,
        computed=len(done) - n_cached,
        cached=n_cached,
        failures=failures,
        from_ledger=n_ledger,
        seconds=time.perf_counter() - t0,
        workers=int(n_workers) if isinstance(n_workers, int) else 1,
        backend=backend,
    )
    if failures and raise_on_error:
        first_spec, first_err = failures[0]
        raise SweepError(
            f"{len(failures)} of {len(specs)} runs failed ({sweep.summary()}); the others are cached, so "
            f"rerunning computes only the failed ones. First failure, {first_spec.label()}:\n{first_err}",
            sweep,
        )
    return sweep


#: Seconds between polls for entries that another sweep is computing.
LOCK_POLL_SECONDS = 0.2


def _run_serial(todo, store, device, show, finish) -> None:
    """Run specs in this process; entries another process is computing are deferred, then waited for.

    Each entry is claimed with a non-blocking lock; a busy one goes to the back
    of the queue, so two sweeps on one cache share the work and each run is
    computed once.
    """
    import collections

    queue = collections.deque(todo)
    while queue:
        progressed = False
        for _ in range(len(queue)):
            s = queue.popleft()
            try:
                res = _run_one(s, store, device, show, False, None, warn=store is None, wait=False)
            except Exception:
                finish(s, None, traceback.format_exc())
                progressed = True
                continue
            if res is None:
                queue.append(s)  # another process holds its lock: come back later
            else:
                finish(s, res, None)
                progressed = True
        if queue and not progressed:
            time.sleep(LOCK_POLL_SECONDS)


def _run_pool(todo, n_workers, store, device, finish) -> None:
    ctx = mp.get_context("spawn")
    threads = max(1, available_cores() // n_workers)
    gpu_queue = None
    if _wants_cuda(device) and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        ids = _gpu_ids()
        gpu_queue = ctx.Queue()
        for i in range(n_workers):
            gpu_queue.put(ids[i % len(ids)])
    env = {k: v for k, v in os.environ.items() if k.startswith("CCL_")}
    with cf.ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=_init_worker, initargs=(threads, gpu_queue, env)
    ) as pool:
        futures = {pool.submit(_worker_run, s.to_dict(), store, device): s for s in todo}
        try:
            for fut in cf.as_completed(futures):
                s = futures[fut]
                exc = fut.exception()
                if exc is None:
                    finish(s, fut.result(), None)
                else:
                    finish(s, None, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_ray(todo, workers, ray_address, store, device, finish) -> int:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover
        raise ImportError("backend='ray' needs Ray: pip install 'ccl_lib[dist]' (ray[default])") from exc
    started = False
    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        res = ray.cluster_resources()
        cpus = int(res.get("CPU", 1))
        gpus = int(res.get("GPU", 0))
        if isinstance(workers, str):
            if workers != "auto":
                raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
            limit = len(todo)
            use_gpu = gpus > 0 and _wants_cuda(device)
            threads = 1
        else:
            if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
                raise ValueError(f"workers must be a positive integer or 'auto', got {workers!r}")
            limit = workers
            use_gpu = gpus > 0 and _wants_cuda(device)
            threads = max(1, cpus // workers) if not use_gpu else 1
        opts: dict[str, Any] = {"num_cpus": threads, "max_retries": 0}
        if use_gpu:
            opts["num_gpus"] = 1
        task = ray.remote(_ray_compute).options(**opts)
        queue = list(todo)
        pending: dict[Any, RunSpec] = {}
        locks: dict[str, Any] = {}  # the driver holds each entry's writer lock while its task runs
        try:
            while queue or pending:
                deferred = []
                while queue and len(pending) < limit:
                    s = queue.pop(0)
                    if store is not None:
                        record = store.read_record(s.key(), warn=False)
                        if record is not None:  # finished by another sweep meanwhile
                            finish(s, RunResult.from_record(record, cached=True), None)
                            continue
                        lk = store.lock(s.key(), wait=False)
                        if lk is None:
                            deferred.append(s)
                            continue
                        locks[s.key()] = lk
                    pending[task.remote(s.to_dict(), device, threads)] = s
                queue.extend(deferred)
                if not pending:
                    time.sleep(LOCK_POLL_SECONDS)
                    continue
                ready, _ = ray.wait(list(pending), num_returns=1)
                ref = ready[0]
                s = pending.pop(ref)
                try:
                    result, states, arrays = ray.get(ref)
                    if store is not None:
                        _store(store, result, states, arrays)
                    finish(s, result, None)
                except Exception:
                    finish(s, None, traceback.format_exc())
                finally:
                    lk = locks.pop(s.key(), None)
                    if lk is not None:
                        lk.release()
        finally:
            for lk in locks.values():
                lk.release()
        return min(limit, len(todo))
    finally:
        if started:
            ray.shutdown()


def run_grid(
    specs: Sequence[RunSpec],
    *,
    workers: Union[int, str] = 1,
    backend: str = "local",
    ray_address: Optional[str] = None,
    cache: Union[None, bool, str, os.PathLike, ResultCache] = None,
    device: str = "auto",
    progress: Optional[bool] = None,
    raise_on_error: bool = True,
):
    """Run a sweep and return one ``DataFrame`` row per (run, evaluated epoch, attack).

    Args:
        specs: the runs (see :func:`ccl_lib.experiments.grid`); duplicates are run once.
        workers: parallel runs: an integer, or ``"auto"`` (one per GPU, else
            one per CPU core).  With ``backend="ray"`` it caps the tasks in
            flight (``"auto"``: all, scheduled by Ray).
        backend: ``"local"`` (process pool) or ``"ray"``; giving
            ``ray_address`` selects Ray.
        ray_address: a Ray cluster address (``"ray://host:10001"``,
            ``"auto"``, ``"local"``); ``None`` uses the Ray instance this
            process joined, or starts a local one.
        cache: result cache (default ``$CCL_CACHE_DIR`` or the user cache; a
            folder; ``False`` for none).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        progress: a progress bar over runs (default on unless ``CCL_PROGRESS=0``).
        raise_on_error: raise :class:`SweepError` after the sweep when runs
            failed (finished runs stay cached); else drop them from the frame.

    Returns:
        a ``pandas.DataFrame``: the run columns (``key``, ``run_id``,
        ``label``, ``setting``, ``dataset``, ``model``, ``defense``, every
        hyperparameter, ``seed``, ``epochs``, ...), utility (``eval_epoch``,
        ``test_acc``, ``train_acc``, ``train_loss_mean``, ``train_loss_var``),
        and per attack ``attack``, ``advantage`` (Eq. 2), ``auc``,
        ``tpr@0.1%``, ``tpr@1%``, ``attack_p1`` and the run's ``p1`` (Eq. 13,
        highest advantage).  ``df.attrs["summary"]`` counts computed and
        cached runs.
    """
    return run_sweep(
        specs,
        workers=workers,
        backend=backend,
        ray_address=ray_address,
        cache=cache,
        device=device,
        progress=progress,
        raise_on_error=raise_on_error,
    ).frame()
