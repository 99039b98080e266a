"""Loading a finished run back from the result cache: its :class:`~ccl_lib.experiments.result.RunResult`
(:func:`load_result`), a trained model (:func:`load_model`) and the attacks' scores
(:func:`load_attack_results`).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch

from ..utils import resolve_device
from .cache import CacheError, ResultCache, resolve_cache
from .result import RunResult
from .spec import RunSpec


def _record(spec: RunSpec, cache: Any) -> tuple[ResultCache, dict[str, Any]]:
    if not isinstance(spec, RunSpec):
        raise TypeError(f"spec must be a ccl_lib.experiments.RunSpec, got {type(spec).__name__}")
    store = resolve_cache(cache)
    if store is None:
        raise ValueError("cache=False holds nothing to load; pass the cache the run was stored in")
    record, reason = store.check_record(spec.key())
    if record is None:
        why = f" (the stored entry is not usable: {reason})" if reason else ""
        raise CacheError(
            f"run {spec.label()!r} (key {spec.key()}) is not in the cache {store.root}{why}; "
            "run it first with run_experiment(spec) or run_grid([spec])"
        )
    return store, record


def load_result(spec: RunSpec, *, cache: Any = None) -> RunResult:
    """The stored :class:`RunResult` of a finished run (:class:`CacheError` if it is not in the cache).

    Args:
        spec: the run's :class:`RunSpec`.
        cache: where to look (:func:`~ccl_lib.experiments.cache.resolve_cache`: ``None`` = default cache,
            a folder or a :class:`ResultCache`).
    """
    _, record = _record(spec, cache)
    return RunResult.from_record(record, cached=True)


def _pick_epoch(available: dict[str, Any], epoch: Optional[int], what: str) -> str:
    if not available:
        raise CacheError(f"no stored {what} for this run")
    if epoch is None:
        return max(available, key=int)
    if str(int(epoch)) not in available:
        raise ValueError(f"no stored {what} at epoch {epoch}; stored epochs: {sorted(map(int, available))}")
    return str(int(epoch))


def load_model(
    spec: RunSpec,
    role: str = "target",
    *,
    epoch: Optional[int] = None,
    cache: Any = None,
    device: Union[str, torch.device, None] = "cpu",
) -> torch.nn.Module:
    """The trained ``"target"`` (or ``"shadow"``) model of a finished run, in eval mode.

    The state dict's sha256 is checked against ``result.json`` before
    ``torch.load(..., weights_only=True)``.  ``epoch`` picks an early-stopping
    checkpoint (default: the last evaluated epoch); the shadow model is stored
    at the last evaluated epoch only.

    Args:
        spec: the run's :class:`RunSpec`.
        role: ``"target"`` (default) or ``"shadow"``.
        epoch: an evaluated epoch with a stored checkpoint (default: the last).
        cache: where to look (``None`` = default cache, a folder or a :class:`ResultCache`).
        device: where to put the model (default CPU; ``"auto"`` picks CUDA when present).
    """
    if role not in ("target", "shadow"):
        raise ValueError(f"role must be 'target' or 'shadow', got {role!r}")
    from ..models import build_model

    store, record = _record(spec, cache)
    ep = _pick_epoch(record["models"].get(role, {}), epoch, f"{role} model")
    state = store.load_state_dict(spec.key(), record["models"][role][ep], record)
    info = record["meta"]["model"]
    model = build_model(info["name"], info["input_shape"], info["num_classes"], **info.get("kwargs", {}))
    model.load_state_dict(state)
    return model.to(resolve_device(device)).eval()


def load_attack_results(spec: RunSpec, *, epoch: Optional[int] = None, cache: Any = None) -> dict[str, Any]:
    """The stored :class:`ccl_lib.attacks.base.AttackResult` of every attack of a finished run.

    Scores are read from the run's ``scores-*.npz`` (sha256-checked,
    ``allow_pickle=False``); use them for ROC curves (:func:`ccl_lib.plots.roc_curves`).

    Args:
        spec: the run's :class:`RunSpec`.
        epoch: an evaluated epoch (default: the last).
        cache: where to look (``None`` = default cache, a folder or a :class:`ResultCache`).
    """
    from ..attacks.base import AttackResult

    store, record = _record(spec, cache)
    if not record.get("scores"):
        raise CacheError(f"run {spec.label()!r} stored no attack scores")
    arrays = store.load_arrays(spec.key(), record["scores"], record)
    epochs = {k.split("__")[0][1:]: None for k in arrays}
    ep = _pick_epoch(epochs, epoch, "attack scores")
    out: dict[str, AttackResult] = {}
    names = []
    for k in arrays:
        e, name, _ = k.split("__")
        if e == f"e{ep}" and name not in names:
            names.append(name)
    for name in names:
        p = f"e{ep}__{name}__"
        out[name] = AttackResult(
            name=name,
            scores_in=arrays[p + "scores_in"],
            scores_out=arrays[p + "scores_out"],
            decision_in=arrays.get(p + "decision_in"),
            decision_out=arrays.get(p + "decision_out"),
        )
    return out
