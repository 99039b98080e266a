"""Named experiments: JSON configs of the paper's settings, shipped in ``ccl_lib/configs/experiments``.

A config describes a sweep (Sec. 5.1, App. E)::

    {
      "description": "Table 1 on Location: P1 of CCEL/CCQL (alpha = 0.5) vs undefended",
      "dataset": "location",            # or a list of names
      "model": "mlp",
      "epochs": 120, "milestones": [50, 100],
      "defenses": {"vanilla": [{}], "ccel": [{"alpha": 0.5}], "ccql": "paper"},
      "seeds": [0, 1, 2]
    }

Keys: ``description``, ``paper`` (which table/figure), ``dataset``,
``defenses`` (``{name: list of hyperparameter dicts | dict | "paper" | null}``),
``seeds``, the :class:`RunSpec` recipe fields (``model``, ``epochs``,
``milestones``, ``lr``, ``batch_size``, ``momentum``, ``weight_decay``,
``augment``, ``size``, ``attacks``, ``amp``), and ``reference_epochs`` (the
epoch count ``milestones`` refer to; default: the file's ``epochs``).  When ``epochs`` is
overridden (``--set epochs=5``), the milestones are rescaled from
``reference_epochs``; early-stopping checkpoints of the paper's grid are
always rescaled from its 300 epochs (App. E.2).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from .spec import RunSpec, grid

__all__ = ["Experiment", "apply_overrides", "list_experiments", "load_experiment", "parse_override"]

_RECIPE_KEYS = ("model", "epochs", "milestones", "lr", "batch_size", "momentum", "weight_decay", "augment", "size",
                "attacks", "amp")  # fmt: skip
ALLOWED_KEYS = ("description", "paper", "dataset", "defenses", "seeds", "reference_epochs", *_RECIPE_KEYS)


def _config_dir():
    return resources.files("ccl_lib").joinpath("configs/experiments")


def list_experiments() -> dict[str, str]:
    """``{name: description}`` of the named experiments shipped with ``ccl_lib``."""
    out = {}
    for entry in sorted(_config_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            try:
                desc = json.loads(entry.read_text(encoding="utf-8")).get("description", "")
            except ValueError as exc:  # pragma: no cover - shipped configs are tested
                desc = f"(unreadable: {exc})"
            out[entry.name[: -len(".json")]] = desc
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``"epochs=5"`` -> ``("epochs", 5)``; the value is JSON when it parses, else a string."""
    if not isinstance(text, str) or "=" not in text:
        raise ValueError(f"an override must look like key=value (e.g. epochs=5 or seeds=[0,1]), got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"an override needs a key before '=', got {text!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def apply_overrides(config: Mapping[str, Any], overrides: Union[Mapping[str, Any], Sequence[str], None]) -> dict[str, Any]:
    """A copy of ``config`` with ``overrides`` applied (``{"epochs": 5}`` or ``["epochs=5", "defenses.ccql=[{}]"]``).

    Dotted keys reach into nested dicts (``defenses.ccql``).  Unknown top-level
    keys are an error listing the allowed ones.
    """
    cfg = copy.deepcopy(dict(config))
    if overrides is None:
        return cfg
    items = list(overrides.items()) if isinstance(overrides, Mapping) else [parse_override(o) for o in overrides]
    for key, value in items:
        path = key.split(".")
        if path[0] not in ALLOWED_KEYS:
            raise ValueError(f"unknown experiment setting {path[0]!r}; allowed: {', '.join(ALLOWED_KEYS)}")
        node = cfg
        for p in path[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[path[-1]] = value
    return cfg


@dataclass
class Experiment:
    """A named sweep: its config (after overrides) and the :class:`RunSpec` list it expands to."""

    name: str
    config: dict[str, Any]
    source: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.config) - set(ALLOWED_KEYS) - {"name"})
        if unknown:
            raise ValueError(
                f"experiment {self.name!r}: unknown setting(s) {unknown}; allowed: {', '.join(ALLOWED_KEYS)}"
            )
        for req in ("dataset", "defenses"):
            if req not in self.config:
                raise ValueError(f"experiment {self.name!r} needs a {req!r} entry")

    @property
    def description(self) -> str:
        return str(self.config.get("description", ""))

    def specs(self) -> list[RunSpec]:
        """The runs of the sweep (validated; duplicates removed)."""
        from .. import defenses as _defenses

        cfg = self.config
        kw = {k: cfg[k] for k in _RECIPE_KEYS if k in cfg}
        epochs = int(kw.get("epochs", 30))
        ref = cfg.get("reference_epochs", epochs)
        ms = list(kw.get("milestones") or [])
        if ms and int(ref) != epochs:
            ms = [m for m in _defenses.rescale_epochs(ms, epochs, int(ref)) if m < epochs]
        kw["milestones"] = tuple(ms)
        if kw.get("attacks") is not None:
            kw["attacks"] = list(kw["attacks"]) if not isinstance(kw["attacks"], str) else [kw["attacks"]]
        seeds = cfg.get("seeds", [0])
        return grid(cfg["dataset"], cfg["defenses"], seeds, **kw)


def load_experiment(
    name_or_path: Union[str, os.PathLike],
    overrides: Union[Mapping[str, Any], Sequence[str], None] = None,
) -> Experiment:
    """Load a named experiment (see :func:`list_experiments`) or a JSON config file, with overrides.

    Raises ``ValueError`` for an unknown name (listing the named ones) and for
    invalid settings.
    """
    text = str(name_or_path)
    path: Optional[Path] = None
    if text.endswith(".json") or os.sep in text or Path(text).is_file():
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"experiment config file {path} does not exist")
        raw, name, source = path.read_text(encoding="utf-8"), path.stem, str(path)
    else:
        entry = _config_dir().joinpath(f"{text}.json")
        if not entry.is_file():
            names = ", ".join(list_experiments()) or "none"
            raise ValueError(f"unknown experiment {text!r}; named experiments: {names}; or give a path to a .json file")
        raw, name, source = entry.read_text(encoding="utf-8"), text, f"ccl_lib/configs/experiments/{text}.json"
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{source} must hold a JSON object, got {type(config).__name__}")
    config.pop("name", None)
    if config.get("milestones") and "epochs" in config:
        config.setdefault("reference_epochs", config["epochs"])  # milestones follow an --set epochs=...
    return Experiment(name=name, config=apply_overrides(config, overrides), source=source)
