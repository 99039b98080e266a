"""Defenses by name, the paper's hyperparameter grids, and split sizes (Sec. 5.1, App. E).

A sweep treats "defense + hyperparameters" as data::

    from ccl_lib.defenses import get_defense, paper_grid
    for hp in paper_grid("ccql"):                      # App. E.1: alpha in 0.1..0.9
        d = get_defense("ccql", scale=default_scale("cifar10"), **hp)
        d.describe()   # {"defense": "ccql", "alpha": ..., "concave": "quadratic", ...}

Classes are imported lazily from ``"module:Class"`` targets, so a defense whose
module needs an optional dependency (``dp_sgd`` -> Opacus) costs nothing until
it is asked for.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import json
from importlib import resources
from typing import Any, Optional

from .base import Defense

__all__ = [
    "DEFENSE_NAMES",
    "REFERENCE_DEFENSES",
    "SCALE_VARIANTS",
    "default_scale",
    "defense_class",
    "defense_from_description",
    "get_defense",
    "n_parts_for",
    "paper_grid",
    "register_defense",
]

_REGISTRY: dict[str, str] = {
    "vanilla": "ccl_lib.defenses.ccl:Vanilla",
    "ccel": "ccl_lib.defenses.ccl:CCEL",
    "ccql": "ccl_lib.defenses.ccl:CCQL",
    "ccl": "ccl_lib.defenses.ccl:CCL",
    "focal": "ccl_lib.defenses.ccl:Focal",
    "focal_ccl": "ccl_lib.defenses.ccl:FocalCCL",
    "relaxloss": "ccl_lib.defenses.relaxloss:RelaxLoss",
    "mixup_mmd": "ccl_lib.defenses.mixup_mmd:MixupMMD",
    "advreg": "ccl_lib.defenses.advreg:AdvReg",
    "dropout": "ccl_lib.defenses.regularizers:Dropout",
    "label_smoothing": "ccl_lib.defenses.regularizers:LabelSmoothing",
    "confidence_penalty": "ccl_lib.defenses.regularizers:ConfidencePenalty",
    "early_stopping": "ccl_lib.defenses.regularizers:EarlyStopping",
    "dp_sgd": "ccl_lib.defenses.dp_sgd:DPSGD",
}

#: The registry names of the defenses of the paper (Sec. 5.1, App. D, App. E) and DP-SGD.
DEFENSE_NAMES: tuple[str, ...] = tuple(_REGISTRY)

#: Defenses trained with the reference split, hence the 5-part split (Sec. 5.1).
REFERENCE_DEFENSES: frozenset[str] = frozenset({"mixup_mmd", "advreg"})
_extra_reference: set[str] = set()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown defense {name!r}; choose one of {list(_REGISTRY)}")
    return name


def register_defense(name: str, target: str, *, needs_reference: bool = False) -> None:
    """Register a defense class under ``name``; ``target`` is ``"package.module:ClassName"``.

    For researchers building on ``ccl_lib``: after registration ``get_defense``,
    ``n_parts_for`` and the experiment engine accept ``name``.  Re-registering a
    name of the library raises ``ValueError``.

    Args:
        name: the defense's name (an identifier).
        target: where its class lives, ``"package.module:ClassName"`` (imported on first use).
        needs_reference: the defense trains with the reference split (5 split parts, Sec. 5.1).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"defense name must be an identifier-like string, got {name!r}")
    if not isinstance(target, str) or target.count(":") != 1:
        raise ValueError(f"target must be 'package.module:ClassName', got {target!r}")
    if name in DEFENSE_NAMES:
        raise ValueError(f"{name!r} is a built-in defense and cannot be replaced")
    _REGISTRY[name] = target
    if needs_reference:
        _extra_reference.add(name)
    defense_class.cache_clear()


@functools.cache
def defense_class(name: str) -> type:
    """The class registered under ``name`` (imported on first use)."""
    name = _check_name(name)
    module_name, cls_name = _REGISTRY[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"defense {name!r} is registered as {_REGISTRY[name]} but that module cannot be imported: {exc}"
        ) from exc
    try:
        cls = getattr(module, cls_name)
    except AttributeError:
        raise ImportError(f"defense {name!r}: module {module_name} has no class {cls_name}") from None
    if not (isinstance(cls, type) and issubclass(cls, Defense)):
        raise TypeError(f"defense {name!r}: {_REGISTRY[name]} is not a subclass of ccl_lib.defenses.Defense")
    return cls


def _allowed_hparams(cls: type[Defense]) -> Optional[list[str]]:
    """Names a class accepts: its ``params`` specs, else its ``__init__`` keywords (None = any)."""
    specs = getattr(cls, "params", None)
    if specs:
        names = list(specs)
        fixed = getattr(cls, "fixed", None) or {}
        return names + [k for k in fixed if k not in names]
    if cls.__init__ is Defense.__init__:
        return []
    names = []
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None  # the class validates its own keywords
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.append(p.name)
    return names


def get_defense(name: str, **hparams: Any) -> Defense:
    """Build the defense ``name`` with hyperparameters ``hparams`` (missing ones take their defaults).

    Raises ``ValueError`` for an unknown name (listing :data:`DEFENSE_NAMES`),
    an unknown hyperparameter (listing the allowed ones) or an out-of-range value
    (saying the allowed range).  E.g. ``get_defense("ccl", alpha=0.5, concave="quadratic")``.
    """
    cls = defense_class(_check_name(name))
    allowed = _allowed_hparams(cls)
    if allowed is not None:
        unknown = sorted(set(hparams) - set(allowed))
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown} for defense {name!r}; allowed: {allowed or 'none'}")
    return cls(**hparams)


def defense_from_description(description: dict[str, Any]) -> Defense:
    """Rebuild a defense from :meth:`Defense.describe` output (``{"defense": name, **hparams}``).

    Raises ``ValueError`` when the rebuilt defense's description differs (a
    tampered or outdated record).

    Args:
        description: ``{"defense": name, **hparams}`` as stored in a result record.
    """
    if not isinstance(description, dict) or "defense" not in description:
        raise ValueError(f"need a dict with a 'defense' key (Defense.describe() output), got {description!r}")
    d = dict(description)
    name = d.pop("defense")
    allowed = _allowed_hparams(defense_class(_check_name(name)))
    # keys a class reports but does not take (derived constants) are checked, not passed
    defense = get_defense(name, **{k: v for k, v in d.items() if allowed is None or k in allowed})
    if defense.describe() != description:
        raise ValueError(
            f"description {description!r} does not describe a {name!r} defense; the closest is {defense.describe()!r}"
        )
    return defense


@functools.lru_cache(maxsize=1)
def _grids() -> dict[str, Any]:
    text = resources.files("ccl_lib").joinpath("configs/paper_grids.json").read_text(encoding="utf-8")
    return json.loads(text)


def paper_grid(name: str) -> list[dict[str, Any]]:
    """The hyperparameter grid of App. E (or App. D) for defense ``name``, one dict per setting.

    ``paper_grid("ccql") -> [{"alpha": 0.1}, ..., {"alpha": 0.9}]``;
    ``paper_grid("vanilla") -> [{}]``; ``paper_grid("early_stopping")`` is one
    setting whose ``epochs`` are App. E.2's checkpoints of a 300-epoch run
    (rescale them with :func:`ccl_lib.defenses.rescale_epochs`).  Each dict
    is a fresh copy, ready for ``get_defense(name, **setting)``.
    """
    name = _check_name(name)
    table = _grids()["defenses"]
    if name not in table:
        raise ValueError(f"the paper gives no hyperparameter grid for {name!r}; defenses with a grid: {sorted(table)}")
    grid: dict[str, list[Any]] = table[name]["grid"]
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        out.append({k: (list(v) if isinstance(v, list) else v) for k, v in zip(keys, values)})
    return out


#: Where the CCL scale factor (beta) comes from: name -> the text or code it follows.
SCALE_VARIANTS: dict[str, str] = {
    "paper": "App. E.1: 0.01 on CIFAR-10, 0.05 on CIFAR-100, 1 otherwise",
    "release": "ml-stat-Sustech/ConvexConcaveLoss README.md, train_models.py command: --beta 0.05 on CIFAR-10",
}


def default_scale(dataset: str, variant: str = "paper") -> float:
    """The CCL scale factor of App. E.1: 0.01 for CIFAR-10 (and ``cifar10-jpeg``), 0.05 for CIFAR-100, else 1.

    Args:
        dataset: a data set name (matched case-insensitively by its prefix).
        variant: ``"paper"`` (App. E.1, the default) or ``"release"``: the CCL release's README trains
            CIFAR-10 with ``--beta 0.05`` (``ml-stat-Sustech/ConvexConcaveLoss``, ``README.md``, the
            ``train_models.py`` command); the other data sets keep App. E.1's values.  Pass the
            result as the ``scale`` hyperparameter of ``ccl``/``ccel``/``ccql`` to run it.
    """
    if variant not in SCALE_VARIANTS:
        raise ValueError(f"unknown scale variant {variant!r}; known variants: {list(SCALE_VARIANTS)}")
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a non-empty data set name such as 'cifar10', got {dataset!r}")
    scales = _grids()["scale"]
    key = dataset.strip().lower()
    if key.startswith("cifar100"):
        return float(scales["cifar100"])
    if key.startswith("cifar10"):
        return 0.05 if variant == "release" else float(scales["cifar10"])
    return float(scales["default"])


def n_parts_for(name: str) -> int:
    """Number of split parts for defense ``name``: 5 when it needs the reference split, else 4 (Sec. 5.1)."""
    name = _check_name(name)
    return 5 if name in REFERENCE_DEFENSES or name in _extra_reference else 4
