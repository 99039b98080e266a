"""Location, Purchase100 and Texas100 (binary features) and scikit-learn's digits."""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .dataset import Dataset
from .errors import DataVerificationError, UnknownDatasetError
from .names import TABULAR_NAMES, canonical_name
from .prepared import StalePrepared, arrays_digest
from .remote import REMOTE_FILES, data_root, fetch_file
from .settings import _CACHE_FORMAT, PathLike, log
from .verify import Checksum, _open_tar, _tar_relpath, verify_file


@dataclass(frozen=True)
class _TabularSpec:
    name: str
    n_features: int
    num_classes: int
    layout: str  # "csv": one CSV member, label first; "texas": feats + labels members
    member: str  # basename of the CSV member (csv layout)


_TABULAR: dict[str, _TabularSpec] = {
    "location": _TabularSpec("location", 446, 30, "csv", "bangkok"),
    "purchase100": _TabularSpec("purchase100", 600, 100, "csv", "dataset_purchase"),
    "texas100": _TabularSpec("texas100", 6169, 100, "texas", ""),
}
assert tuple(_TABULAR) == TABULAR_NAMES


def _int_token(token: bytes) -> int:
    t = token.strip().strip(b"\"'").strip()
    try:
        return int(t)
    except ValueError:
        value = float(t)
        if not value.is_integer():
            raise
        return int(value)


def _parse_feature_rows(rows: list[bytes], d: int, what: str) -> np.ndarray:
    """Parse comma-separated binary feature rows into an ``(m, d)`` uint8 array."""
    if not rows:
        return np.zeros((0, d), np.uint8)
    if all(len(r) == 2 * d - 1 for r in rows):  # fast path: single-character fields
        buf = np.frombuffer(b",".join(rows) + b",", dtype=np.uint8).reshape(len(rows), 2 * d)
        if bool((buf[:, 1::2] == ord(",")).all()):
            digits = buf[:, 0::2] - np.uint8(ord("0"))  # wraps non-digits to large values
            if int(digits.max()) > 1:
                raise DataVerificationError(f"{what}: features must be binary (0/1)")
            return np.ascontiguousarray(digits)
    out = np.empty((len(rows), d), np.uint8)
    for i, row in enumerate(rows):
        tokens = row.split(b",")
        if len(tokens) != d:
            raise DataVerificationError(f"{what}: expected {d} features per row, found {len(tokens)} in row {i + 1}")
        try:
            values = np.array([float(t.strip().strip(b"\"'")) for t in tokens])
        except ValueError as exc:
            raise DataVerificationError(f"{what}: non-numeric feature in row {i + 1}: {exc}") from exc
        if not np.isin(values, (0.0, 1.0)).all():
            raise DataVerificationError(f"{what}: features must be binary (0/1), row {i + 1} is not")
        out[i] = values
    return out


def _iter_lines(stream: IO[bytes], block: int = 1 << 24) -> Iterator[list[bytes]]:
    """Yield blocks of non-empty lines (without line endings) from a byte stream."""
    rest = b""
    while True:
        chunk = stream.read(block)
        data = rest + chunk
        if chunk:
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            data, rest = data[: cut + 1], data[cut + 1 :]
        lines = [ln.rstrip(b"\r") for ln in data.split(b"\n")]
        lines = [ln for ln in lines if ln.strip()]
        if lines:
            yield lines
        if not chunk:
            return


def _parse_label_first_csv(stream: IO[bytes], d: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``label,f1,...,fd`` (label quoted or not, features binary) -> (packed x, raw labels)."""
    packed: list[np.ndarray] = []
    labels: list[int] = []
    for lines in _iter_lines(stream):
        rows = []
        for line in lines:
            cut = line.find(b",")
            if cut < 0:
                raise DataVerificationError(f"{what}: a row has no features (expected a label and {d} features)")
            try:
                labels.append(_int_token(line[:cut]))
            except ValueError as exc:
                raise DataVerificationError(f"{what}: non-integer label {line[:cut][:20]!r}") from exc
            rows.append(line[cut + 1 :])
        packed.append(np.packbits(_parse_feature_rows(rows, d, what), axis=1))
    x = np.concatenate(packed) if packed else np.zeros((0, (d + 7) // 8), np.uint8)
    return x, np.asarray(labels, dtype=np.int64)


def _parse_feature_csv(stream: IO[bytes], d: int, what: str) -> np.ndarray:
    packed = [np.packbits(_parse_feature_rows(lines, d, what), axis=1) for lines in _iter_lines(stream)]
    return np.concatenate(packed) if packed else np.zeros((0, (d + 7) // 8), np.uint8)


def _parse_label_lines(stream: IO[bytes], what: str) -> np.ndarray:
    labels: list[int] = []
    for lines in _iter_lines(stream):
        for line in lines:
            try:
                labels.append(_int_token(line))
            except ValueError as exc:
                raise DataVerificationError(f"{what}: non-integer label {line[:20]!r}") from exc
    return np.asarray(labels, dtype=np.int64)


def _parse_tabular_archive(path: Path, spec: _TabularSpec) -> tuple[np.ndarray, np.ndarray]:
    """Parse a verified upstream archive into (packed features, 0-based labels)."""
    what = f"{spec.name} archive {path.name}"
    with _open_tar(path) as tf:
        try:
            members = tf.getmembers()
            for m in members:
                _tar_relpath(m, strip_top=False)
            files = {(m.name[2:] if m.name.startswith("./") else m.name): m for m in members if m.isfile()}

            def read(m: tarfile.TarInfo) -> IO[bytes]:
                fh = tf.extractfile(m)
                assert fh is not None
                return fh

            if spec.layout == "csv":
                cands = [m for n, m in files.items() if PurePosixPath(n).name == spec.member]
                if not cands and len(files) == 1:
                    cands = list(files.values())
                if len(cands) != 1:
                    raise DataVerificationError(
                        f"{what}: expected one CSV member named {spec.member!r}, found {sorted(files)[:10]}"
                    )
                x, raw = _parse_label_first_csv(read(cands[0]), spec.n_features, what)
            else:
                feats = [m for n, m in files.items() if n.endswith("texas/100/feats")]
                labs = [m for n, m in files.items() if n.endswith("texas/100/labels")]
                if len(feats) != 1 or len(labs) != 1:
                    raise DataVerificationError(
                        f"{what}: expected members 'texas/100/feats' and 'texas/100/labels', found {sorted(files)[:10]}"
                    )
                x = _parse_feature_csv(read(feats[0]), spec.n_features, what)
                raw = _parse_label_lines(read(labs[0]), what)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataVerificationError(f"{what}: corrupt or truncated archive: {exc}") from exc
    if len(x) != len(raw):
        raise DataVerificationError(f"{what}: {len(x)} feature rows but {len(raw)} labels")
    if len(raw) == 0:
        raise DataVerificationError(f"{what}: no rows")
    y = raw - 1  # upstream labels are 1-based
    if int(y.min()) < 0 or int(y.max()) >= spec.num_classes:
        raise DataVerificationError(
            f"{what}: labels must lie in 1..{spec.num_classes}, found {int(raw.min())}..{int(raw.max())}"
        )
    return x, y


def _atomic_savez(path: Path, **arrays: ArrayLike) -> None:
    """Write ``arrays`` and their :func:`~ccl_lib.data.prepared.arrays_digest` (array ``checksum``) atomically."""
    # dict[str, Any]: numpy's stub would match a **dict of arrays against savez's allow_pickle: bool too
    payload: dict[str, Any] = {**arrays, "checksum": np.str_(arrays_digest(arrays))}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_tabular_cache(path: Path, spec: _TabularSpec) -> Optional[Dataset]:
    try:
        with np.load(path, allow_pickle=False) as z:
            z = {k: z[k] for k in z.files}
        if "checksum" not in z:
            raise StalePrepared("it has no checksum (written by an older ccl_lib)")
        if str(z.pop("checksum")) != arrays_digest(z):
            raise ValueError("its arrays do not match their checksum (edited or corrupted)")
        if int(z["format"]) != _CACHE_FORMAT or int(z["n_features"]) != spec.n_features:
            raise StalePrepared("stale cache format")
        packed, y, source = z["x_packed"], z["y"].astype(np.int64), str(z["source"])
        if packed.ndim != 2 or packed.shape[1] != (spec.n_features + 7) // 8 or len(y) != len(packed):
            raise ValueError("inconsistent shapes")
        x = np.unpackbits(packed, axis=1, count=spec.n_features)
        return Dataset(spec.name, x, y, spec.num_classes, "tabular", source=source)
    except Exception as exc:  # a damaged or stale cache is rebuilt from the verified archive
        level = logging.INFO if isinstance(exc, StalePrepared) else logging.WARNING
        log.log(level, "ignoring the prepared array %s and rebuilding it from the verified archive: %s", path, exc)
        path.unlink(missing_ok=True)
        return None


def load_tabular(
    name: str,
    root: Optional[PathLike] = None,
    *,
    download: bool = True,
    expected: Union[Checksum, Sequence[Checksum], None] = None,
    base_url: Optional[str] = None,
) -> Dataset:
    """Load Location, Purchase100 or Texas100 (Sec. 5.1) as binary ``uint8`` features.

    The archive (``dataset_location.tgz``, ``dataset_purchase.tgz``,
    ``dataset_texas.tgz`` of ``privacytrustlab/datasets``) is fetched with
    :func:`fetch_file`, verified, parsed (labels become 0-based) and cached as a
    bit-packed ``root/prepared/<name>.npz`` holding the sha256 of its arrays;
    a cache whose arrays do not match it is rebuilt from the verified archive
    (:mod:`ccl_lib.data.prepared`).  Rows keep the upstream file order.

    Args:
        name: ``"location"``, ``"purchase100"`` or ``"texas100"``.
        root: cache directory (see :func:`data_root`).
        download: allow a network download.
        expected: accept these checksums instead of the published ones (for
            archives you built yourself, e.g. in tests); ``None`` uses
            :data:`REMOTE_FILES`.
        base_url: download from ``base_url/<file name>`` (see :func:`fetch_file`).
    """
    key = canonical_name(name)
    if key not in _TABULAR:
        raise UnknownDatasetError(f"{name!r} is not a tabular data set; use one of {sorted(_TABULAR)}")
    spec = _TABULAR[key]
    remote = REMOTE_FILES[key]
    if expected is not None:
        remote = remote.with_checksums(*([expected] if isinstance(expected, Checksum) else expected))
    cache_root = data_root(root)
    suffix = "" if expected is None else "-" + hashlib.sha256(str(remote.checksums).encode()).hexdigest()[:12]
    cache = cache_root / "prepared" / f"{key}{suffix}.npz"
    if cache.is_file():
        ds = _load_tabular_cache(cache, spec)
        if ds is not None:
            return ds
    path = fetch_file(remote, cache_root, download=download, base_url=base_url, dataset=key)
    matched = verify_file(path, remote.checksums, prefixes=remote.prefixes, what=str(path))
    packed, y = _parse_tabular_archive(path, spec)
    source = f"{remote.filename} ({matched}) from {path}"
    _atomic_savez(
        cache,
        x_packed=packed,
        y=y.astype(np.int16),
        n_features=np.int64(spec.n_features),
        format=np.int64(_CACHE_FORMAT),
        source=np.str_(source),
    )
    x = np.unpackbits(packed, axis=1, count=spec.n_features)
    return Dataset(key, x, y, spec.num_classes, "tabular", source=source)


def _load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits: 1,797 x 64 float32 in [0, 1], 10 classes (offline default)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    return Dataset(
        "digits", x, y, 10, "tabular", class_names=tuple(str(i) for i in range(10)),
        source="scikit-learn bundled digits (sklearn.datasets.load_digits)",
    )  # fmt: skip
