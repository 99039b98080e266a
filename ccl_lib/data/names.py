"""The names :func:`ccl_lib.data.load_dataset` knows, and their canonical spelling.

Kept apart from :mod:`ccl_lib.data.catalog` so that the loaders
(:mod:`~ccl_lib.data.tabular`, :mod:`~ccl_lib.data.images`) can check names
without importing the catalog that imports them.
"""

from __future__ import annotations

from .errors import UnknownDatasetError

#: Tabular data sets of ``privacytrustlab/datasets`` (Sec. 5.1).
TABULAR_NAMES = ("location", "purchase100", "texas100")
#: Image data sets by name (besides ``imagefolder:<path>``).
IMAGE_NAMES = ("cifar10", "cifar10-jpeg", "cifar100", "imagenet")

_ALIASES = {
    "purchase": "purchase100",
    "texas": "texas100",
    "cifar-10": "cifar10",
    "cifar-100": "cifar100",
    "cifar10_jpeg": "cifar10-jpeg",
    "cifar-10-jpeg": "cifar10-jpeg",
    "imagenet1k": "imagenet",
}


def available_datasets() -> list[str]:
    """Names accepted by :func:`ccl_lib.data.load_dataset` (besides ``"imagefolder:<path>"``)."""
    return sorted([*TABULAR_NAMES, "digits", *IMAGE_NAMES])


def canonical_name(name: str) -> str:
    """The canonical spelling of a data set name (aliases resolved).

    Raises :class:`~ccl_lib.data.UnknownDatasetError` listing the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"data set name must be a string, got {type(name).__name__}")
    if name.lower().startswith("imagefolder:"):
        return name
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in available_datasets():
        raise UnknownDatasetError(
            f"unknown data set {name!r}; valid names: {', '.join(available_datasets())}, or 'imagefolder:<path>'"
        )
    return key
