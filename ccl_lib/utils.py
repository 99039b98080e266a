"""Small shared helpers: device choice, seeding, atomic writes, stable hashing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_torch_save",
    "load_torch_verified",
    "resolve_device",
    "seed_everything",
    "sha256_file",
    "stable_hash",
]

PathLike = Union[str, os.PathLike]


def resolve_device(device: Union[str, torch.device, None] = "auto") -> torch.device:
    """Return ``cuda`` when available for ``"auto"``/``None``, else the named device.

    Raises ``ValueError`` for a malformed name or for ``"cuda"`` (or
    ``"cuda:N"``) on a machine without that GPU.

    Args:
        device: ``"auto"`` or ``None`` (CUDA if available, else CPU), a device name
            (``"cpu"``, ``"cuda"``, ``"cuda:1"``) or a ``torch.device``.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' was requested but CUDA is not available; use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {dev} was requested but only {torch.cuda.device_count()} GPU(s) are visible")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs.

    Args:
        seed: a non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))  # torch.manual_seed below also seeds every CUDA device
    np.random.seed(int(seed) % (2**32))
    torch.manual_seed(int(seed))


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Args:
        path: the file to write (its folder is created).
        data: the bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (sorted keys; unknown types as ``str``).

    Args:
        path: the file to write (its folder is created).
        obj: a JSON-serializable object.
    """
    atomic_write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def atomic_torch_save(obj: Any, path: PathLike) -> str:
    """``torch.save`` to ``path`` atomically (nothing half-written on a crash).

    Returns the SHA-256 hex digest of the bytes written: record it and read
    the file back with :func:`load_torch_verified`.

    Args:
        obj: what ``torch.save`` accepts (a state dict, tensors, plain containers).
        path: the file to write (its folder is created).
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks.

    Args:
        path: the file.
        chunk_size: bytes read at a time.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def load_torch_verified(path: PathLike, sha256: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` after checking the file's SHA-256.

    The file is read once; its bytes are hashed and compared with ``sha256``
    (as returned by :func:`atomic_torch_save`) before anything is unpickled.
    Raises ``ValueError`` on a mismatch.

    Args:
        path: the file written by :func:`atomic_torch_save`.
        sha256: its expected 64-character hex digest.
        map_location: where tensors are loaded (``torch.load``'s argument).
    """
    if not (isinstance(sha256, str) and len(sha256) == 64):
        raise ValueError(f"sha256 must be a 64-character hex digest, got {sha256!r}")
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256.lower():
        raise ValueError(f"{path}: SHA-256 is {digest}, expected {sha256}; refusing to load it")
    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short hex digest of ``obj``'s canonical JSON (sorted keys); stable across runs.

    Args:
        obj: a JSON-serializable object (other values are hashed as ``str``).
        length: hex characters kept (at most 64).
    """
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
