"""Run one experiment: train target and shadow models, attack, store (Sec. 5.1).

:func:`run_experiment` follows the paper's protocol (Liu et al., ICML 2024,
Sec. 5.1):

1. split the data set into 4 disjoint parts -- target train/test, shadow
   train/test -- or 5 for defenses that need a reference part
   (:func:`ccl_lib.splits.make_splits`, seeded by ``spec.seed``);
2. train the target on its train part and the shadow on its own, with the same
   defense and recipe and different seeds (:func:`derive_seed`);
3. run every attack of :func:`ccl_lib.attacks.run_attacks` (the shadow model
   calibrates thresholds and attack classifiers);
4. report, per attack, the advantage (Eq. 2), AUC, TPR at low FPR, and the P1
   score (Eq. 13) with the highest advantage over all attacks (Table 1).

Early stopping (App. E.2) trains once and keeps checkpoints; every checkpoint
epoch is evaluated and reported as its own setting (``eval_epoch``).

A run's outcome is a :class:`~ccl_lib.experiments.result.RunResult`; a finished run is read back
with :mod:`ccl_lib.experiments.loading` (both importable from here too).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import platform
import time
from typing import Any, Optional, Union

import numpy as np
import torch

from ..utils import resolve_device, seed_everything
from .cache import ResultCache, resolve_cache
from .loading import load_attack_results, load_model, load_result
from .result import METRIC_COLUMNS, RECIPE_COLUMNS, RUN_COLUMNS, UTILITY_COLUMNS, RunResult, rows_frame
from .spec import RESULTS_FORMAT, RunSpec, _fmt, derive_seed

__all__ = [
    "load_attack_results",
    "load_model",
    "load_result",
    "rows_frame",
    "run_experiment",
    "RUN_COLUMNS",
    "METRIC_COLUMNS",
]

# --------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=2)
def _dataset(name: str, fingerprint: Optional[str] = None):
    """The pooled data set (``fingerprint``: an image folder's content identity, so an edited folder is reloaded)."""
    from ..data import load_dataset

    return load_dataset(name)


def _split(spec: RunSpec, ds: Any) -> dict[str, np.ndarray]:
    """The run's split of ``ds``: ``{part name: row indices}``, 4 disjoint parts of ``spec.size`` each, or 5
    with ``reference`` for defenses that need it (:func:`ccl_lib.splits.make_splits`, seeded by ``spec.seed``)."""
    from ..splits import make_splits

    return dict(make_splits(ds.y, n_parts=spec.n_parts(), size=spec.size, seed=spec.seed).items())


def _parts(spec: RunSpec):
    """(dataset, {part name: (x, y)}) of the run's split (:func:`_split`)."""
    ds = _dataset(spec.dataset, spec._data_identity().get("dataset_fingerprint"))
    if ds.kind != spec.kind:  # pragma: no cover - guards the name-based kind table
        raise RuntimeError(f"data set {spec.dataset!r} is {ds.kind}, but the engine classified it as {spec.kind}")
    parts = {name: (ds.features(idx), torch.from_numpy(ds.y[idx]).long()) for name, idx in _split(spec, ds).items()}
    return ds, parts


@contextlib.contextmanager
def _torch_threads(n: Optional[int]):
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _progress(progress: Optional[bool]) -> bool:
    if progress is None:
        return os.environ.get("CCL_PROGRESS", "1") != "0"
    return bool(progress)


# --------------------------------------------------------------------------- compute


def _flat_hparams(describe: dict[str, Any]) -> dict[str, Any]:
    taken = set(RUN_COLUMNS) | set(RECIPE_COLUMNS) | set(UTILITY_COLUMNS) | set(METRIC_COLUMNS)
    out = {}
    for k, v in describe.items():
        if k in ("defense", "name"):
            continue
        col = f"hp_{k}" if k in taken else k
        out[col] = _fmt(v) if isinstance(v, (list, tuple)) else v
    return out


#: Metrics that get a 95 % bootstrap interval in every result row (``<metric>_low``, ``<metric>_high``).
#: ``advantage`` is that of the attack's shadow-learned decisions; ``advantage_oracle`` the target-chosen threshold.
BOOTSTRAP_METRICS = ("advantage", "advantage_oracle", "tpr@0.1%", "tpr@1%")
#: Bootstrap replicates per interval (members and non-members resampled separately, seeded by the run's seed).
BOOTSTRAP_REPLICATES = 1000


#: The two models of a run and the split parts each trains and is tested on (Sec. 5.1).
ROLES: dict[str, tuple[str, str]] = {
    "target": ("target_train", "target_test"),
    "shadow": ("shadow_train", "shadow_test"),
}


def _compute(spec: RunSpec, device: Any, progress: bool):
    """One run of Sec. 5.1's protocol; returns (result, model states to store, score arrays).

    The pipeline, top to bottom: split the data (:func:`_parts`), train target and
    shadow (:func:`_train_models`), then for each evaluated epoch put the models at that
    epoch (:func:`_at_epoch`), attack (:func:`_attack`) and summarize into rows
    (:func:`_epoch_rows`), keeping the weights (:func:`_epoch_states`) and scores
    (:func:`_score_arrays`); :func:`_store` writes what this returns.
    """
    t0 = time.perf_counter()
    dev = resolve_device(device)
    ds, parts = _parts(spec)
    defense = spec.make_defense()
    models, trained = _train_models(spec, ds, parts, dev, progress)
    eval_epochs = _eval_epochs(spec, defense)
    multi = bool(defense.checkpoint_epochs)
    rows: list[dict[str, Any]] = []
    states: dict[str, dict[str, torch.Tensor]] = {}
    arrays: dict[str, np.ndarray] = {}
    for e in eval_epochs:
        _at_epoch(models, trained, e if multi else None, dev)
        report, results = _attack(spec, models, parts, dev, progress)
        history = {int(h["epoch"]): h for h in trained["target"].history}[e]
        rows += _epoch_rows(spec, defense, e, multi, history, report, results)
        states.update(_epoch_states(models, e, last=e == eval_epochs[-1]))
        arrays.update(_score_arrays(e, results))
    histories = {role: [dict(h) for h in trained[role].history] for role in ROLES}
    meta = _meta(spec, ds, parts, defense, dev, eval_epochs, time.perf_counter() - t0)
    result = RunResult(spec=spec, key=spec.key(), rows=rows, histories=histories, meta=meta, cached=False)
    return result, states, arrays


def _train_models(
    spec: RunSpec, ds: Any, parts: dict[str, Any], dev: torch.device, progress: bool, together: Optional[bool] = None
):
    """Train the target and the shadow (Sec. 5.1): same defense and recipe, own data, own seed.

    Each model gets a fresh defense object (no state shared between the two), its seed
    from :func:`derive_seed`, and its recipe from :meth:`RunSpec.train_config`.  On the
    CPU they are trained one after the other (:meth:`Defense.train`); on CUDA together
    where the defense allows (:func:`ccl_lib.train.fit_many`, else one by one, said so).
    Before :func:`~ccl_lib.train.fit_many` each defense is given its recipe
    (:meth:`Defense.bind`), as :meth:`Defense.train` does: the code-base variants that read
    the epoch count or learning rate (RelaxLoss and AdvReg ``ccl_code``) need it.

    Args:
        spec, ds, parts, dev, progress: the run, its data set, its split parts, device, bars.
        together: train through :func:`~ccl_lib.train.fit_many` (default: on CUDA); the CPU
            can take this path too (fit_many then trains one model after the other).

    Returns:
        ``({role: model}, {role: TrainResult})`` for the roles of :data:`ROLES`.
    """
    from ..models import build_model
    from ..train import fit_many

    label = spec.label()
    models: dict[str, torch.nn.Module] = {}
    trained: dict[str, Any] = {}
    pending: dict[str, Any] = {}
    for role, (tr, te) in ROLES.items():
        d = spec.make_defense()
        rseed = derive_seed(spec.seed, role)
        seed_everything(rseed)
        models[role] = build_model(spec.resolved_model, ds.input_shape, ds.num_classes, **d.model_kwargs)
        config = spec.train_config(rseed, dev)
        if dev.type == "cuda" if together is None else together:  # trained together below
            d.bind(config)
            pending[role] = (d, config)
            continue
        trained[role] = d.train(
            models[role],
            *parts[tr],
            config=config,
            x_test=parts[te][0],
            y_test=parts[te][1],
            reference=parts.get("reference") if d.needs_reference else None,
            progress=progress,
            desc=f"{role}: {label}",
        )
    if pending:
        names = list(pending)
        results = fit_many(
            [models[r] for r in names],
            [parts[ROLES[r][0]] for r in names],
            objective=[pending[r][0] for r in names],
            configs=[pending[r][1] for r in names],
            x_test=[parts[ROLES[r][1]][0] for r in names],
            y_test=[parts[ROLES[r][1]][1] for r in names],
            reference=parts.get("reference") if pending[names[0]][0].needs_reference else None,
            progress=progress,
            desc=label,
        )
        trained.update(zip(names, results))
    return models, trained


def _eval_epochs(spec: RunSpec, defense: Any) -> tuple[int, ...]:
    """The epochs whose models are attacked: the defense's checkpoints (early stopping, App. E.2), else the last."""
    return tuple(defense.checkpoint_epochs) or (spec.epochs,)


def _at_epoch(models: dict[str, torch.nn.Module], trained: dict[str, Any], epoch: Optional[int], dev: Any) -> None:
    """Put every model at its checkpoint of ``epoch`` (``None``: as trained), on ``dev``, in eval mode."""
    for role, model in models.items():
        if epoch is not None:
            model.load_state_dict(trained[role].checkpoints[epoch])
        model.to(dev).eval()


def _attack(spec: RunSpec, models: dict[str, torch.nn.Module], parts: dict[str, Any], dev: Any, progress: bool):
    """Query the models and run every attack of the spec (:func:`ccl_lib.attacks.run_attacks`), seeded by ``spec.seed``.

    The shadow model and its parts calibrate the attacks; the target's train part are the
    members, its test part the non-members (Sec. 5.1).  The spec's defense and recipe go with
    them (``defense=``, ``train_config=``), so that the reference-model attacks
    (:data:`ccl_lib.attacks.suite.REFERENCE_ATTACKS`) train their models as the target was trained.

    Returns:
        ``(report, results)``: one report row per attack, and ``{attack: AttackResult}``.
    """
    from ..attacks import run_attacks

    # the target's training algorithm and recipe, known to the attacker (Carlini et al., 2022): the
    # reference-model attacks (lira, rmia, ...) train with them; the other attacks never read them
    defense, config = spec.make_defense(), spec.train_config(derive_seed(spec.seed, "reference"), dev)
    # the pixel-space attack (rotation_release's black fill) needs the inputs' normalization
    norm = None
    if "rotation_release" in spec.resolved_attacks:
        norm = _dataset(spec.dataset, spec._data_identity().get("dataset_fingerprint")).normalization
    seed_everything(spec.seed)
    out = run_attacks(
        models["target"],
        models["shadow"],
        target_in=parts["target_train"],
        target_out=parts["target_test"],
        shadow_in=parts["shadow_train"],
        shadow_out=parts["shadow_test"],
        attacks=list(spec.resolved_attacks),
        kind=spec.kind,
        seed=spec.seed,
        device=dev,
        return_results=True,
        progress=progress,
        defense=defense,
        train_config=config,
        normalization=norm,
    )
    return out if isinstance(out, tuple) else (out, {})


def _epoch_rows(
    spec: RunSpec,
    defense: Any,
    epoch: int,
    multi: bool,
    history: dict[str, float],
    report: Any,
    results: dict[str, Any],
) -> list[dict[str, Any]]:
    """One result row per attack of ``report`` at ``epoch``: run columns, the target's utility, the attack's metrics.

    Each row carries the attack's percentile-bootstrap intervals (:data:`BOOTSTRAP_METRICS`,
    :func:`ccl_lib.stats.interval_columns`), its own P1 (Eq. 13) and the run's P1 and
    highest advantage over the paper's attacks only (Table 1).  ``multi`` (early
    stopping) names the run and setting with ``stop=<epoch>``.
    """
    from ..attacks import is_paper_attack, p1_from_report
    from ..metrics import p1_score
    from ..stats import interval_columns

    key, label, setting, variant = spec.key(), spec.label(), spec.setting_label(), spec.defense_label()
    test_acc = float(history["test_acc"])
    # P1 and the highest advantage over the paper's attacks only (Table 1); extra attacks are reported beside.
    paper = report[report["attack"].map(is_paper_attack)]
    p1 = float(p1_from_report(report, test_acc)) if len(paper) else math.nan
    max_adv = float(paper["advantage"].max()) if len(paper) else math.nan
    base = {
        "key": key,
        "run_id": f"{key}@{epoch}" if multi else key,
        "label": f"{setting} stop={epoch} seed={spec.seed}" if multi else label,
        "setting": f"{setting} stop={epoch}" if multi else setting,
        "variant": f"{variant} stop={epoch}" if multi else variant,
        "dataset": spec.dataset,
        "kind": spec.kind,
        "model": spec.resolved_model,
        "defense": spec.defense,
        **_flat_hparams(defense.describe()),
        "seed": spec.seed,
        "epochs": spec.epochs,
        "milestones": _fmt(list(spec.milestones)),
        "lr": spec.lr,
        "batch_size": spec.batch_size,
        "momentum": spec.momentum,
        "weight_decay": spec.weight_decay,
        "augment": spec.augment,
        "size": spec.size,
        "eval_epoch": int(epoch),
        "test_acc": test_acc,
        "train_acc": float(history["train_acc"]),
        "train_loss_mean": float(history["train_loss_mean"]),
        "train_loss_var": float(history["train_loss_var"]),
        "test_loss_mean": float(history["test_loss_mean"]),
    }
    rows = []
    for rec in report.to_dict("records"):
        row = dict(base)
        row.update({k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()})
        row["paper_attack"] = bool(is_paper_attack(rec["attack"]))
        r = results.get(rec["attack"])
        if r is not None:  # percentile bootstrap over members and non-members (ccl_lib.stats)
            has_dec = r.decision_in is not None
            ci = interval_columns(r.scores_in, r.scores_out,
                                  [m for m in BOOTSTRAP_METRICS if has_dec or m != "advantage"],
                                  n_boot=BOOTSTRAP_REPLICATES, seed=spec.seed,
                                  decisions=(r.decision_in, r.decision_out) if has_dec else None)  # fmt: skip
            row.update({k: float(v) for k, v in ci.items() if k.endswith(("_low", "_high"))})
            if not has_dec:
                row.update({"advantage_low": math.nan, "advantage_high": math.nan})
        adv = float(rec["advantage"])
        row["attack_p1"] = float(p1_score(test_acc, adv)) if math.isfinite(adv) else math.nan
        row["max_advantage"] = max_adv
        row["p1"] = p1
        rows.append(row)
    return rows


def _epoch_states(models: dict[str, torch.nn.Module], epoch: int, *, last: bool) -> dict[str, dict[str, torch.Tensor]]:
    """CPU copies of the weights to store at ``epoch``: the target always, the shadow at the ``last`` epoch only."""
    roles = ("target", "shadow") if last else ("target",)
    return {
        f"{r}-e{epoch:04d}": {k: v.detach().cpu().clone() for k, v in models[r].state_dict().items()} for r in roles
    }


def _score_arrays(epoch: int, results: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every attack's member/non-member scores (and decisions, where it makes them) at ``epoch``: the scores file."""
    arrays: dict[str, np.ndarray] = {}
    for name, r in results.items():
        arrays[f"e{epoch}__{name}__scores_in"] = np.asarray(r.scores_in, dtype=np.float64)
        arrays[f"e{epoch}__{name}__scores_out"] = np.asarray(r.scores_out, dtype=np.float64)
        if getattr(r, "decision_in", None) is not None:
            arrays[f"e{epoch}__{name}__decision_in"] = np.asarray(r.decision_in, dtype=bool)
            arrays[f"e{epoch}__{name}__decision_out"] = np.asarray(r.decision_out, dtype=bool)
    return arrays


def _meta(spec: RunSpec, ds: Any, parts: dict[str, Any], defense: Any, dev: torch.device, eval_epochs, seconds: float):
    """Where and how long the run ran, its split sizes and model shape (``result.json``'s ``meta``)."""
    return {
        "seconds": seconds,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "ccl_lib": _version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "eval_epochs": list(eval_epochs),
        "split_sizes": {k: int(len(v[1])) for k, v in parts.items()},
        "model": {
            "name": spec.resolved_model,
            "input_shape": list(ds.input_shape),
            "num_classes": int(ds.num_classes),
            "kwargs": dict(defense.model_kwargs),
        },
        "defense": defense.describe(),
        "provenance": _provenance(dev, spec),
    }


def _provenance(dev: torch.device, spec: RunSpec) -> dict[str, Any]:
    """This run's commit, versions, CPU, ISA flags, threads and precision (:func:`ccl_lib.provenance.machine`)."""
    from ..provenance import machine

    bf16 = dev.type == "cuda" and spec.amp  # autocast acts on CUDA only (RunSpec.amp)
    return machine(threads=torch.get_num_threads(), precision="bf16" if bf16 else "fp32")


def _version() -> str:
    from .. import __version__

    return __version__


def _store(cache: ResultCache, result: RunResult, states: dict, arrays: dict) -> None:
    """Write model and score files, then ``result.json`` last (atomic; marks the run finished)."""
    files: dict[str, str] = {}
    sizes: dict[str, int] = {}
    models: dict[str, dict[str, str]] = {"target": {}, "shadow": {}}
    for stem, state in states.items():
        name, digest, size = cache.write_state_dict(result.key, stem, state)
        files[name], sizes[name] = digest, size
        role, ep = stem.split("-e")
        models[role][str(int(ep))] = name
    scores = None
    if arrays:
        scores, digest, size = cache.write_arrays(result.key, "scores", arrays)
        files[scores], sizes[scores] = digest, size
    record = {
        "format": RESULTS_FORMAT,
        "key": result.key,
        "label": result.spec.label(),
        "spec": result.spec.to_dict(),
        "identity": result.spec.identity(),
        "rows": result.rows,
        "histories": result.histories,
        "meta": result.meta,
        "models": models,
        "scores": scores,
        "files": files,
        "file_sizes": sizes,
    }
    cache.write_record(result.key, record)


def run_experiment(
    spec: RunSpec,
    *,
    cache: Union[None, bool, str, os.PathLike, ResultCache] = None,
    device: Union[str, torch.device, None] = "auto",
    progress: Optional[bool] = None,
    recompute: bool = False,
    num_threads: Optional[int] = None,
) -> RunResult:
    """Run (or load from the cache) one experiment of the paper's protocol (Sec. 5.1).

    Args:
        spec: the run's settings (:class:`RunSpec`).
        cache: where finished runs live: ``None`` the default
            (``$CCL_CACHE_DIR`` or the user cache), a folder, a
            :class:`ResultCache`, or ``False`` to neither read nor write.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        progress: tqdm bars for training and attacks (default: on unless ``CCL_PROGRESS=0``).
        recompute: ignore a cached result and overwrite it.
        num_threads: torch CPU threads for this run (restored afterwards).

    Returns:
        a :class:`RunResult`; ``cached`` says whether it was loaded.  A
        finished, verified run is never recomputed: the same spec always loads
        the same stored rows.  An entry failing verification (see
        :meth:`ResultCache.check_record`) is recomputed with one warning line.
        One writer per entry: while another process computes this spec on the
        same cache, this call waits for its result (:meth:`ResultCache.lock`).
    """
    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a ccl_lib.experiments.RunSpec, got {type(spec).__name__}")
    result = _run_one(spec, resolve_cache(cache), device, progress, recompute, num_threads, warn=True, wait=True)
    assert result is not None
    return result


def _run_one(
    spec: RunSpec,
    store: Optional[ResultCache],
    device: Any,
    progress: Optional[bool],
    recompute: bool,
    num_threads: Optional[int],
    *,
    warn: bool,
    wait: bool,
) -> Optional[RunResult]:
    """Load ``spec`` from ``store`` or compute it while holding the entry's writer lock.

    A damaged entry is recomputed (one warning line when ``warn``).  While
    another process holds the lock, ``wait=True`` waits for it and then loads
    its result; ``wait=False`` returns ``None`` (the caller comes back later).
    """
    key = spec.key()
    if store is None:
        with _torch_threads(num_threads):
            result, _, _ = _compute(spec, device, _progress(progress))
        return result
    if not recompute:
        record = store.read_record(key, warn=warn)
        if record is not None:
            return RunResult.from_record(record, cached=True)
    lock = store.lock(key, wait=wait)
    if lock is None:
        return None
    with lock:
        if not recompute:  # finished by another writer while we waited for the lock
            record = store.read_record(key, warn=False)
            if record is not None:
                return RunResult.from_record(record, cached=True)
        with _torch_threads(num_threads):
            result, states, arrays = _compute(spec, device, _progress(progress))
        _store(store, result, states, arrays)
    return result
