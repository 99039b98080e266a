"""Checksums and safe reading of archives: nothing is used before it is verified."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence, Union

from .errors import DataVerificationError, UnsafeArchiveError
from .settings import _CHUNK, PathLike

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

    ``hexdigest`` is the expected digest in lowercase hexadecimal, of the
    algorithm's length (64, 40, 64 or 32 characters).
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
    """Git's blob id of a file: SHA-1 of ``b"blob <size>\\0" + content``.

    Args:
        path: the file.
    """
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


def _open_tar(path: PathLike) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
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

    Args:
        path: the tar archive (any compression tarfile reads).
        prefixes: member path prefixes (below the top folder) to include; empty: all.
    """
    return _content_digest(_iter_tar_files(path, strip_top=True, prefixes=prefixes))


def compute_checksum(path: PathLike, algorithm: str, *, prefixes: Sequence[str] = ()) -> str:
    """Compute one :class:`Checksum` algorithm's digest of a file.

    Args:
        path: the file.
        algorithm: ``"sha256"``, ``"git-blob-sha1"``, ``"tar-content-sha256"`` or ``"md5"``.
        prefixes: member prefixes, for ``"tar-content-sha256"`` only.
    """
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
