"""Checksums of the prepared arrays under ``<data root>/prepared``: written with the arrays, verified on read.

A prepared array is a decoded, parsed copy of a verified source (an archive,
an image tree); it is only a cache.  Each one carries the sha256 of its
content:

* tabular ``<name>.npz`` -- an array ``checksum`` inside the file holds
  :func:`arrays_digest` of every other array (so the file and its checksum
  are replaced together, atomically);
* image caches ``<key>/{x.npy, y.npy, meta.json}`` -- ``meta.json`` records the
  sha256 of ``x.npy`` and ``y.npy`` and a ``digest`` of itself.

A mismatch (an edited, truncated or zeroed file) means the cache is removed
and rebuilt from the verified source, with a warning.  The checksums detect
corruption and careless edits, not a deliberate forgery that recomputes them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from ..utils import sha256_file

_VERIFIED: dict[tuple, str] = {}


class StalePrepared(ValueError):
    """A prepared array written by an older ccl_lib (another format, no checksum): rebuilt quietly (log level INFO)."""


def arrays_digest(arrays: Mapping[str, ArrayLike]) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(np.asarray(arrays[name]))
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes() if a.dtype.kind != "U" else str(a).encode())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered in this process while its size, times and inode stay the same."""
    st = path.stat()
    stamp = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    digest = _VERIFIED.get(stamp)
    if digest is None:
        digest = sha256_file(path)
        _VERIFIED[stamp] = digest
    return digest


def meta_digest(meta: Mapping[str, Any]) -> str:
    """SHA-256 of an image cache's ``meta.json`` content without its ``digest`` entry."""
    body = {k: v for k, v in meta.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
