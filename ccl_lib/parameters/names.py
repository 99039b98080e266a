"""Checks of the names the library knows (data sets, models, named experiments) and the value sets
several chapters share (seeds, fractions, milestones, ...).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from .checks import Check, ParameterError, _Invalid, either, integer, list_of, number, one_of


# ------------------------------------------------------------------------------------------------ names
def _tabular_names() -> list[str]:
    from ..data.names import TABULAR_NAMES

    return [*TABULAR_NAMES, "digits"]


def _all_dataset_names() -> list[str]:
    from ..data.names import available_datasets

    return available_datasets()


def _model_names() -> list[str]:
    from ..models import MODEL_NAMES

    return ["auto", *MODEL_NAMES]


def _experiment_names() -> list[str]:
    from ..experiments.named import list_experiments

    return list(list_experiments())


def _experiment_keys() -> list[str]:
    from ..experiments.named import ALLOWED_KEYS

    return list(ALLOWED_KEYS)


def _canonical(name: Any) -> Any:
    if not isinstance(name, str):
        return name
    from ..data.names import canonical_name

    try:
        return canonical_name(name)
    except Exception:  # an unknown name is reported by the check itself
        return name


def tabular_dataset() -> Check:
    """A tabular data set of :mod:`ccl_lib.data` (scikit-learn's digits included: 64 features)."""
    inner = one_of(names=_tabular_names, what="a tabular data set")
    return _LazyWrap(inner, _canonical)


def dataset() -> Check:
    """Any named data set of :mod:`ccl_lib.data`, or ``imagefolder:<path>``."""
    inner = one_of(names=lambda: [*_all_dataset_names(), "imagefolder:<path>"], what="a data set of ccl_lib.data")

    def pre(v: Any) -> Any:
        return v if isinstance(v, str) and v.lower().startswith("imagefolder:") else _canonical(v)

    return _LazyWrap(inner, pre, passthrough=lambda v: isinstance(v, str) and v.lower().startswith("imagefolder:"))


class _LazyWrap(Check):
    """A lazy name check that first canonicalizes the value (aliases such as ``"texas"``)."""

    def __init__(self, inner: Check, pre: Callable[[Any], Any], passthrough: Optional[Callable] = None) -> None:
        def convert(v: Any) -> Any:
            v2 = pre(v)
            if passthrough is not None and passthrough(v2):
                return v2
            try:
                return inner.convert(v2)
            except _Invalid:
                raise _Invalid(v) from None

        object.__setattr__(self, "allowed", inner.allowed)
        object.__setattr__(self, "convert", convert)
        object.__setattr__(self, "_inner", inner)

    def describe(self) -> str:
        return self._inner.describe()  # type: ignore[attr-defined]

    def __call__(self, name: str, value: Any) -> Any:
        try:
            return self.convert(value)
        except _Invalid as bad:
            try:
                self._inner(name, bad.value)  # type: ignore[attr-defined]
            except ParameterError as e:
                raise ParameterError(name, bad.value, e.allowed) from None
            raise ParameterError(name, bad.value, self.allowed) from None  # pragma: no cover

    def __hash__(self) -> int:  # pragma: no cover
        return id(self)


def model() -> Check:
    """A model name of :func:`ccl_lib.models.build_model`, or ``"auto"``."""
    return one_of(names=_model_names, what="a model of ccl_lib.models")


def experiment(*, empty: bool = False) -> Check:
    """A named experiment (``python -m ccl_lib list``); with ``empty``, also ``""`` (skip that part)."""
    return one_of(*([""] if empty else []), names=_experiment_names, what="a named experiment")


def workers() -> Check:
    """Parallel runs: ``"auto"`` or an integer >= 1."""
    return either(integer(1), one_of("auto"))


SEEDS = list_of(integer(0), what="a non-empty list of integers >= 0")
FRACTION = number(0, 1)
MILESTONES = list_of(integer(1), empty=True, increasing=True, what="a list of increasing epochs >= 1, e.g. [50, 100]")
CONCAVE = one_of("exp", "quadratic")
PART_SIZE = integer(1, none=True)
EVIDENCE = one_of("ledger", "compute")
