"""The on-disk result cache: one folder per :meth:`RunSpec.key`.

Layout of ``<root>/<key>/``:

* ``result.json`` -- the run's rows, histories, spec and the sha256 of every
  other file; written **last** and atomically, so its presence means "this run
  finished".  A folder without a valid ``result.json`` (a run killed half-way)
  is recomputed.
* ``target-e<epoch>-<sha8>.pt``, ``shadow-e<epoch>-<sha8>.pt`` -- model state
  dicts, named by content so that concurrent writers never clobber each other;
  each file's sha256 is checked before ``torch.load(..., weights_only=True)``.
* ``scores-<sha8>.npz`` -- every attack's membership scores (for ROC curves),
  read with ``allow_pickle=False`` after the same check.

The root is ``$CCL_CACHE_DIR`` when set, else
``platformdirs.user_cache_dir("ccl_lib")/results``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ..utils import atomic_write_bytes, atomic_write_json, sha256_file

__all__ = ["CacheError", "ResultCache", "default_cache_dir", "resolve_cache", "sha256_bytes", "sha256_file"]

ENV_CACHE_DIR = "CCL_CACHE_DIR"
RESULT_FILE = "result.json"

PathLike = Union[str, os.PathLike]


class CacheError(Exception):
    """A cached run is missing or failed verification; the message says which and why."""


def default_cache_dir() -> Path:
    """``$CCL_CACHE_DIR``, else ``platformdirs.user_cache_dir("ccl_lib")/results``."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ccl_lib")) / "results"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ResultCache:
    """Finished runs on disk, keyed by :meth:`ccl_lib.experiments.RunSpec.key`.

    Args:
        root: the cache folder (created on first write); default :func:`default_cache_dir`.
    """

    def __init__(self, root: Optional[PathLike] = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def __reduce__(self):
        return (ResultCache, (str(self.root),))

    def folder(self, key: str) -> Path:
        """The folder of run ``key``."""
        if not isinstance(key, str) or not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a cache key is a lowercase hex string (RunSpec.key()), got {key!r}")
        return self.root / key

    def keys(self) -> list[str]:
        """Keys of the folders holding a ``result.json`` (not verified)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / RESULT_FILE).is_file())

    def __contains__(self, key: str) -> bool:
        return self.read_record(key) is not None

    # -- reading ---------------------------------------------------------------

    def read_record(self, key: str, verify: str = "size") -> Optional[dict[str, Any]]:
        """The ``result.json`` of ``key``, or ``None`` if absent, partial or corrupt.

        Checked: it parses, names this key and the current format, and every
        file it lists exists with the recorded size (``verify="size"``, fast)
        or the recorded sha256 (``verify="sha256"``).  Model and score files
        are always sha256-verified again when loaded.
        """
        from .spec import RESULTS_FORMAT

        if verify not in ("size", "sha256"):
            raise ValueError(f"verify must be 'size' or 'sha256', got {verify!r}")
        folder = self.folder(key)
        path = folder / RESULT_FILE
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key or record.get("format") != RESULTS_FORMAT:
            return None
        files, sizes = record.get("files"), record.get("file_sizes")
        if not isinstance(record.get("rows"), list) or not isinstance(files, dict) or not isinstance(sizes, dict):
            return None
        for name, digest in files.items():
            f = folder / name
            try:
                if f.stat().st_size != sizes.get(name):
                    return None
                if verify == "sha256" and sha256_file(f) != digest:
                    return None
            except OSError:
                return None
        return record

    def _verified_bytes(self, key: str, name: str, record: dict[str, Any]) -> bytes:
        digest = record["files"].get(name)
        if digest is None:
            raise CacheError(f"run {key} has no file {name!r}; it holds {sorted(record['files'])}")
        data = (self.folder(key) / name).read_bytes()
        if sha256_bytes(data) != digest:
            raise CacheError(f"{self.folder(key) / name} does not match its recorded sha256; rerun the experiment")
        return data

    def load_state_dict(self, key: str, name: str, record: Optional[dict[str, Any]] = None) -> dict[str, torch.Tensor]:
        """A model state dict of run ``key``, sha256-verified, loaded with ``weights_only=True``."""
        record = record or self.read_record(key)
        if record is None:
            raise CacheError(f"run {key} is not in the cache {self.root} (or its files failed verification)")
        data = self._verified_bytes(key, name, record)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)

    def load_arrays(self, key: str, name: str, record: Optional[dict[str, Any]] = None) -> dict[str, np.ndarray]:
        """An ``.npz`` of run ``key``, sha256-verified, read with ``allow_pickle=False``."""
        record = record or self.read_record(key)
        if record is None:
            raise CacheError(f"run {key} is not in the cache {self.root} (or its files failed verification)")
        data = self._verified_bytes(key, name, record)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    # -- writing ---------------------------------------------------------------

    def write_state_dict(self, key: str, stem: str, state: dict[str, torch.Tensor]) -> tuple[str, str, int]:
        """Write a state dict atomically as ``<stem>-<sha8>.pt``; returns (name, sha256, size)."""
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buf)
        return self._write_named(key, stem, ".pt", buf.getvalue())

    def write_arrays(self, key: str, stem: str, arrays: dict[str, np.ndarray]) -> tuple[str, str, int]:
        """Write arrays atomically as ``<stem>-<sha8>.npz``; returns (name, sha256, size)."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return self._write_named(key, stem, ".npz", buf.getvalue())

    def _write_named(self, key: str, stem: str, suffix: str, data: bytes) -> tuple[str, str, int]:
        digest = sha256_bytes(data)
        name = f"{stem}-{digest[:8]}{suffix}"
        path = self.folder(key) / name
        if not (path.is_file() and path.stat().st_size == len(data) and sha256_file(path) == digest):
            atomic_write_bytes(path, data)
        return name, digest, len(data)

    def write_record(self, key: str, record: dict[str, Any]) -> Path:
        """Write ``result.json`` atomically -- the last step of a run (marks it finished)."""
        if record.get("key") != key:
            raise ValueError("the record's key does not match the folder's key")
        path = self.folder(key) / RESULT_FILE
        atomic_write_json(path, record)
        return path

    def remove(self, key: str) -> None:
        """Delete run ``key``'s folder (``result.json`` first, so it never looks finished)."""
        import shutil

        folder = self.folder(key)
        if (folder / RESULT_FILE).exists():
            (folder / RESULT_FILE).unlink()
        shutil.rmtree(folder, ignore_errors=True)


def resolve_cache(cache: Union[None, bool, PathLike, ResultCache]) -> Optional[ResultCache]:
    """``None``/``True`` -> the default cache; a path -> a cache there; ``False`` -> no cache."""
    if cache is None or cache is True:
        return ResultCache()
    if cache is False:
        return None
    if isinstance(cache, ResultCache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        return ResultCache(cache)
    raise TypeError(f"cache must be None, False, a folder path or a ResultCache, got {type(cache).__name__}")
