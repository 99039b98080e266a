"""The exceptions of :mod:`ccl_lib.data`."""

from __future__ import annotations


class DataError(Exception):
    """Base class of the errors raised by :mod:`ccl_lib.data`."""


class DatasetUnavailableError(DataError):
    """A data set's file is neither mirrored, cached nor downloadable; the message says how to provide it."""


class DataVerificationError(DataError):
    """A file failed verification (checksum, truncation, format or shape); nothing was kept."""


class UnsafeArchiveError(DataVerificationError):
    """An archive member is a link, a special file, or escapes the target directory."""


class UnsafeDataError(DataVerificationError):
    """A file or link of a user's data tree resolves outside the tree; it is refused."""


class UnknownDatasetError(DataError, ValueError):
    """An unknown data set name; the message lists the valid ones."""
