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
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .spec import RunSpec, grid

__all__ = [
    "ConfigError",
    "Experiment",
    "SCHEMA",
    "apply_overrides",
    "check_config",
    "list_experiments",
    "load_experiment",
    "parse_override",
]

_RECIPE_KEYS = ("model", "epochs", "milestones", "lr", "batch_size", "momentum", "weight_decay", "augment", "size",
                "attacks", "amp")  # fmt: skip
ALLOWED_KEYS = ("description", "paper", "dataset", "defenses", "seeds", "reference_epochs", *_RECIPE_KEYS)


class ConfigError(ValueError):
    """A setting of the wrong type or range; the message names the setting, its value and what is allowed."""


_SEQ = (list, tuple)  # JSON gives lists; Python callers of load_experiment may pass tuples


def _is_int(v: Any) -> bool:
    if isinstance(v, (np.integer, np.floating)):
        v = v.item()
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and math.isfinite(v) and v.is_integer()
    )


def _positive_int(v: Any) -> Optional[str]:
    return None if _is_int(v) and v >= 1 else "a positive integer, e.g. 30"


def _seed_list(v: Any) -> Optional[str]:
    ok = (_is_int(v) and v >= 0) or (isinstance(v, _SEQ) and len(v) > 0 and all(_is_int(x) and x >= 0 for x in v))
    return None if ok else "a non-negative integer or a non-empty list of them, e.g. [0, 1, 2]"


def _milestones(v: Any) -> Optional[str]:
    ok = isinstance(v, _SEQ) and all(_is_int(x) and x >= 1 for x in v) and list(v) == sorted(set(v))
    return None if ok else "a list of strictly increasing positive epochs, e.g. [50, 100] (or [])"


def _number(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
    def check(v: Any) -> Optional[str]:
        if isinstance(v, (np.integer, np.floating)):
            v = v.item()
        ok = (
            isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            and ((v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi))
        )
        if math.isinf(hi):
            return None if ok else f"a finite number {'>' if lo_open else '>='} {lo:g}"
        rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        return None if ok else f"a finite number in {rng}"

    return check


def _bool(v: Any) -> Optional[str]:
    return None if isinstance(v, (bool, np.bool_)) else "true or false"


def _text(v: Any) -> Optional[str]:
    return None if isinstance(v, str) else "a string"


def _dataset(v: Any) -> Optional[str]:
    from ..data import available_datasets

    names = [v] if isinstance(v, str) else v
    allowed = (
        f"a data set name or a non-empty list of names: {', '.join(available_datasets())}, or 'imagefolder:<path>'"
    )
    if not isinstance(names, _SEQ) or not names:
        return allowed
    for n in names:
        if not isinstance(n, str) or not (
            n.lower().startswith("imagefolder:") or n.strip().lower() in available_datasets()
        ):
            return allowed
    return None


def _model(v: Any) -> Optional[str]:
    from ..models import MODEL_NAMES

    return None if v in (*MODEL_NAMES, "auto") else f"one of {', '.join((*MODEL_NAMES, 'auto'))}"


def _size(v: Any) -> Optional[str]:
    return None if v is None or (_is_int(v) and v >= 1) else "a positive integer (examples per split part) or null"


def _attacks(v: Any) -> Optional[str]:
    from .. import attacks as _attacks

    names = [v] if isinstance(v, str) else v
    allowed = f"null (the default suite) or a non-empty list of attack names: {', '.join(sorted(_attacks.ATTACKS))}"
    if v is None:
        return None
    if not isinstance(names, _SEQ) or not names or not all(isinstance(a, str) and a in _attacks.ATTACKS for a in names):
        return allowed
    return None


def _defenses(v: Any) -> Optional[str]:
    from .. import defenses as _defenses

    allowed = (
        'an object {defense name: list of hyperparameter objects | object | "paper" | null} or a list of names; '
        f"defenses: {', '.join(_defenses.DEFENSE_NAMES)}"
    )
    if isinstance(v, str):
        v = [v]
    if isinstance(v, _SEQ):
        return None if v and all(isinstance(n, str) and n in _defenses.DEFENSE_NAMES for n in v) else allowed
    if not isinstance(v, Mapping) or not v:
        return allowed
    for name, g in v.items():
        if name not in _defenses.DEFENSE_NAMES:
            return allowed
        if not (
            g is None
            or g == "paper"
            or isinstance(g, Mapping)
            or (isinstance(g, _SEQ) and all(isinstance(p, Mapping) for p in g))
        ):
            return allowed
    return None


#: The type and range of every experiment setting: ``{key: check}``, ``check(value)`` is ``None`` or what is allowed.
SCHEMA = {
    "description": _text,
    "paper": _text,
    "dataset": _dataset,
    "defenses": _defenses,
    "seeds": _seed_list,
    "reference_epochs": _positive_int,
    "model": _model,
    "epochs": _positive_int,
    "milestones": _milestones,
    "lr": _number(0.0, lo_open=True),
    "batch_size": _positive_int,
    "momentum": _number(0.0, 1.0, hi_open=True),
    "weight_decay": _number(0.0),
    "augment": _bool,
    "size": _size,
    "attacks": _attacks,
    "amp": _bool,
}


def _plain(v: Any) -> Any:
    """Tuples as lists and NumPy scalars as Python numbers, recursively (a config stays JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _show(v: Any) -> str:
    try:
        text = json.dumps(v, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def check_config(
    config: Mapping[str, Any], source: str = "config", overridden: Optional[Mapping[str, str]] = None
) -> None:
    """Check every setting of an experiment config against :data:`SCHEMA` before anything runs.

    Raises :class:`ConfigError` naming the setting, its value and what is
    allowed; ``overridden`` maps the settings that came from ``--set`` to
    the text given there, so the message quotes the command line rather
    than the file.

    Args:
        config: the experiment's settings (a JSON object).
        source: where they came from, quoted in error messages.
        overridden: ``{setting: "--set" text}`` of the settings given on the command line.
    """
    overridden = overridden or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{source} must hold a JSON object, got {type(config).__name__}")
    unknown = sorted(set(config) - set(ALLOWED_KEYS) - {"name"})
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {unknown}; allowed: {', '.join(ALLOWED_KEYS)}")
    for req in ("dataset", "defenses"):
        if req not in config:
            raise ConfigError(f"{source} needs a {req!r} entry")
    for key, check in SCHEMA.items():
        if key not in config:
            continue
        allowed = check(config[key])
        if allowed is not None:
            where = f"--set {overridden[key]}" if key in overridden else source
            raise ConfigError(f"{where}: setting {key!r} = {_show(config[key])} is invalid; it must be {allowed}")


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
    """``"epochs=5"`` -> ``("epochs", 5)``; the value is JSON when it parses, else a string.

    Non-finite JSON numbers (``1e400`` parses as infinity, ``NaN``) are kept
    as floats and refused by :func:`check_config` with the setting's name.

    Args:
        text: ``"key=value"``; the key may be dotted (``"a.b=1"``).
    """
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


def apply_overrides(
    config: Mapping[str, Any], overrides: Union[Mapping[str, Any], Sequence[str], None]
) -> dict[str, Any]:
    """A copy of ``config`` with ``overrides`` applied (``{"epochs": 5}`` or ``["epochs=5", "defenses.ccql=[{}]"]``).

    Dotted keys reach into nested dicts (``defenses.ccql``).  Unknown top-level
    keys are an error listing the allowed ones.
    """
    cfg = copy.deepcopy(dict(config))
    if overrides is None:
        return cfg
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [parse_override(o) for o in ([overrides] if isinstance(overrides, str) else overrides)]
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
    """A named sweep: its config (after overrides) and the :class:`RunSpec` list it expands to.

    Attributes:
        name: the experiment's name (the config file's stem).
        config: the settings (keys of :data:`SCHEMA`; ``dataset`` and ``defenses`` required),
            checked by :func:`check_config` on construction.
        source: where the config came from (file path), quoted in error messages.
    """

    name: str
    config: dict[str, Any]
    source: str = ""

    def __post_init__(self) -> None:
        check_config(self.config, f"experiment {self.name!r}")

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
        for k in ("epochs", "batch_size", "size"):
            if isinstance(kw.get(k), float):
                kw[k] = int(kw[k])
        seeds = cfg.get("seeds", [0])
        seeds = [int(x) for x in seeds] if isinstance(seeds, _SEQ) else int(seeds)
        try:
            return grid(cfg["dataset"], cfg["defenses"], seeds, **kw)
        except (ValueError, TypeError) as exc:  # a hyperparameter of a defense grid, or a recipe combination
            raise ConfigError(f"experiment {self.name!r} ({self.source}): {exc}") from None


def load_experiment(
    name_or_path: Union[str, os.PathLike],
    overrides: Union[Mapping[str, Any], Sequence[str], None] = None,
) -> Experiment:
    """Load a named experiment (see :func:`list_experiments`) or a JSON config file, with overrides.

    Raises ``ValueError`` for an unknown name (listing the named ones) and for
    invalid settings.

    Args:
        name_or_path: a name of :func:`list_experiments` or the path of a ``.json`` config.
        overrides: settings that replace the file's: a mapping ``{key: value}`` or
            ``"key=value"`` strings as given to ``--set`` (:func:`parse_override`); dotted keys
            reach into nested settings.  The result is checked again.
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
    check_config(config, source)  # the file itself, before overrides
    if config.get("milestones") and "epochs" in config:
        config.setdefault("reference_epochs", config["epochs"])  # milestones follow an --set epochs=...
    if isinstance(overrides, str):
        overrides = [overrides]
    if overrides is None or isinstance(overrides, Mapping):
        given = {k.split(".")[0]: f"{k}={_show(v)}" for k, v in (overrides or {}).items()}
    else:
        given = {parse_override(o)[0].split(".")[0]: str(o) for o in overrides}
    merged = _plain(apply_overrides(config, overrides))
    check_config(merged, source, overridden=given)
    return Experiment(name=name, config=merged, source=source)
