"""The checked values a :class:`~ccl_lib.experiments.spec.RunSpec` is made of: hyperparameters as a
hashable :class:`FrozenDict`, the seed of each role (:func:`derive_seed`), the kind of a data set
(:func:`dataset_kind`) and the checks of names and numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping as _MappingABC
from typing import Any, Iterable, Iterator, Mapping, Union

import numpy as np

from ..utils import stable_hash

#: Data sets whose examples are images (everything else of ccl_lib.data is tabular).
_IMAGE_DATASETS = ("cifar10", "cifar10-jpeg", "cifar100", "imagenet")


class FrozenDict(_MappingABC):
    """A read-only, hashable mapping of JSON-like values (lists are stored as tuples).

    Args:
        data: a mapping or ``(key, value)`` pairs with string keys; further entries may
            be given as keyword arguments.  Nested dicts and lists are frozen too.
    """

    __slots__ = ("_d",)
    _d: dict[str, Any]  # set once in __init__ (through object.__setattr__: the mapping is read-only)

    def __init__(self, data: Union[Mapping[str, Any], Iterable[tuple[str, Any]], None] = None, **kw: Any) -> None:
        d = dict(data or {}, **kw)
        for k in d:
            if not isinstance(k, str):
                raise TypeError(f"hyperparameter names must be strings, got {k!r}")
        object.__setattr__(self, "_d", {k: _freeze(d[k], k) for k in sorted(d)})

    def __getitem__(self, key: str) -> Any:
        return self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        return hash(tuple(self._d.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MappingABC):
            return dict(self._d) == dict(other)
        return NotImplemented

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenDict is read-only")

    def __reduce__(self):
        return (FrozenDict, (dict(self._d),))

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {v!r}' for k, v in self._d.items())}}}"

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serializable dict (tuples become lists)."""
        return {k: _thaw(v) for k, v in self._d.items()}


def _freeze(v: Any, name: str) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x, name) for x in v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic):  # numpy scalars
        return v.item()
    raise TypeError(
        f"hyperparameter {name!r} must be a number, string, bool, None or a list of those, got {type(v).__name__}"
    )


def _thaw(v: Any) -> Any:
    return [_thaw(x) for x in v] if isinstance(v, tuple) else v


def derive_seed(seed: int, role: str) -> int:
    """A 31-bit seed for ``role`` ("target", "shadow", ...) derived from a run's ``seed``.

    Target and shadow models of one run get different, reproducible seeds; the
    same (seed, role) always gives the same number on every machine.
    """
    return int(stable_hash({"seed": int(seed), "role": str(role)}, length=8), 16) & 0x7FFFFFFF


def dataset_kind(name: str) -> str:
    """``"image"`` or ``"tabular"`` for a data set name of :func:`ccl_lib.data.load_dataset`.

    Args:
        name: a data set name (``"imagefolder:<path>"`` counts as image data).
    """
    if name.lower().startswith("imagefolder:") or name in _IMAGE_DATASETS:
        return "image"
    return "tabular"


def _canonical_dataset(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"dataset must be a non-empty string, got {name!r}")
    if name.lower().startswith("imagefolder:"):
        return name
    key = name.strip().lower()
    from ..data import available_datasets

    valid = available_datasets()
    if key not in valid:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(valid)}, or 'imagefolder:<path>'")
    return key


def _positive_int(name: str, v: Any) -> int:
    if isinstance(v, np.integer):
        v = int(v)
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float))
        or (isinstance(v, float) and not math.isfinite(v))
        or int(v) != v
        or int(v) < 1
    ):
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _number(name: str, v: Any, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    v = float(v)
    if v < lo or (lo_open and v == lo) or v > hi:
        raise ValueError(f"{name} must be in {'(' if lo_open else '['}{lo:g}, {hi:g}], got {v!r}")
    return v
