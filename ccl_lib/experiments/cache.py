"""The on-disk result cache: one folder per :meth:`RunSpec.key`, tamper-evident and single-writer.

Layout of ``<root>/<key>/``:

* ``result.json`` -- the run's rows, histories, spec, metadata and the sha256
  of every other file, plus ``digest``: the sha256 of all of that (canonical
  JSON).  Written **last** and atomically, so its presence means "this run
  finished".
* ``target-e<epoch>-<sha8>.pt``, ``shadow-e<epoch>-<sha8>.pt`` -- model state
  dicts, named by content so that concurrent writers never clobber each other;
  each file's sha256 is checked before ``torch.load(..., weights_only=True)``.
* ``scores-<sha8>.npz`` -- every attack's membership scores (for ROC curves),
  read with ``allow_pickle=False`` after the same check.

``<root>/<key>.lock`` is the entry's writer lock (:meth:`ResultCache.lock`).

What a read guarantees (:meth:`ResultCache.check_record`): an entry is used
only if its ``result.json`` parses, has the current ``format``, names the
folder's key, its ``digest`` matches its content, its stored spec parses and
hashes to the folder's key, its rows, histories and metadata have the shape
the engine writes (one row per evaluated epoch and attack of the spec), and
every file it references has its recorded sha256.  Anything else means "not
cached": the entry is recomputed and one warning line (logger
``ccl_lib.experiments.cache``) names the entry and the reason.  The digest
detects corruption and careless edits; it is not a signature -- someone who
recomputes it on purpose can forge an entry, so share caches only with people
you trust.

The root is ``$CCL_CACHE_DIR`` when set, else
``platformdirs.user_cache_dir("ccl_lib")/results``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch

from ..utils import atomic_write_bytes, sha256_file

__all__ = [
    "CacheError",
    "EntryLock",
    "ResultCache",
    "default_cache_dir",
    "record_digest",
    "resolve_cache",
    "sha256_bytes",
    "sha256_file",
]

ENV_CACHE_DIR = "CCL_CACHE_DIR"
RESULT_FILE = "result.json"
#: A lock whose holder has not refreshed it for this many seconds is stale (a crashed holder).
LOCK_STALE_SECONDS = 120.0
#: How often a holder refreshes its lock's modification time.
LOCK_HEARTBEAT_SECONDS = 10.0

log = logging.getLogger("ccl_lib.experiments.cache")

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
    """SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()


def record_digest(record: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON without its ``digest`` entry (rows, histories, meta, file digests...).

    Args:
        record: a ``result.json`` record (a JSON object; its ``digest`` entry is ignored).
    """
    return sha256_bytes(_canonical({k: v for k, v in record.items() if k != "digest"}))


def _is_hex(text: Any, n: int) -> bool:
    return isinstance(text, str) and len(text) == n and all(c in "0123456789abcdef" for c in text)


def _plain_name(name: Any) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and not name.startswith(".")
        and name != RESULT_FILE
    )


# --------------------------------------------------------------------------- locks


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie (killed, not yet reaped) holds nothing
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class EntryLock:
    """The writer lock of one cache entry, held by this process (see :meth:`ResultCache.lock`).

    The lock file holds ``{"pid", "host", "created", "token"}``; a daemon
    thread refreshes its modification time every
    :data:`LOCK_HEARTBEAT_SECONDS` so other processes can tell a live holder
    from a crashed one.

    Args:
        path: the lock file, already created by :meth:`ResultCache.lock`.
        token: the random token written in it; :meth:`release` removes only a file holding it.
        heartbeat: seconds between modification-time refreshes.
    """

    def __init__(self, path: Path, token: str, heartbeat: float) -> None:
        self.path = path
        self.token = token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True, name=f"lock {path.name}")
        self._thread.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        """Remove the lock file (only if it is still ours)."""
        self._stop.set()
        try:
            info = json.loads(self.path.read_text())
            if info.get("token") == self.token:
                self.path.unlink()
        except (OSError, ValueError):
            pass

    def __enter__(self) -> EntryLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


class ResultCache:
    """Finished runs on disk, keyed by :meth:`ccl_lib.experiments.RunSpec.key`.

    Args:
        root: the cache folder (created on first write); default :func:`default_cache_dir`.
        stale_after: seconds without a heartbeat after which another
            process's lock counts as abandoned (a lock of a dead process on
            this host is abandoned at once).
    """

    def __init__(self, root: Optional[PathLike] = None, stale_after: float = LOCK_STALE_SECONDS) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)) or not stale_after > 0:
            raise ValueError(f"stale_after must be a positive number of seconds, got {stale_after!r}")
        self.stale_after = float(stale_after)
        self._verified: dict[tuple, str] = {}

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def __reduce__(self):
        return (ResultCache, (str(self.root), self.stale_after))

    def folder(self, key: str) -> Path:
        """The folder of run ``key``."""
        if not isinstance(key, str) or not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a cache key is a lowercase hex string (RunSpec.key()), got {key!r}")
        return self.root / key

    def keys(self) -> list[str]:
        """Keys of the folders holding a ``result.json`` (not verified)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / RESULT_FILE).is_file())

    def __contains__(self, key: str) -> bool:
        return self.read_record(key, warn=False) is not None

    # -- reading ---------------------------------------------------------------

    def _file_sha256(self, path: Path) -> str:
        """sha256 of a file, remembered in this process while its size, times and inode are unchanged."""
        st = path.stat()
        stamp = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        digest = self._verified.get(stamp)
        if digest is None:
            digest = sha256_file(path)
            self._verified[stamp] = digest
        return digest

    def check_record(self, key: str, verify: str = "sha256") -> tuple[Optional[dict[str, Any]], Optional[str]]:
        """``(record, None)`` for a valid entry, ``(None, None)`` for an absent one, ``(None, reason)`` otherwise.

        Never raises for a damaged entry: every check of the module docstring
        is made and the first failure is returned as a short reason.
        ``verify="size"`` checks referenced files by size only (fast, for
        listings); ``"sha256"`` (default) hashes them.

        Args:
            key: the entry's key (:meth:`RunSpec.key`).
            verify: ``"sha256"`` or ``"size"``, as above.
        """
        if verify not in ("size", "sha256"):
            raise ValueError(f"verify must be 'size' or 'sha256', got {verify!r}")
        folder = self.folder(key)
        path = folder / RESULT_FILE
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"result.json cannot be read ({exc})"
        try:
            reason = self._problem(key, folder, text, verify)
        except Exception as exc:  # any surprise in a hostile file is a reason, never a crash
            reason = f"result.json is malformed ({type(exc).__name__}: {exc})"
        if isinstance(reason, str):
            return None, reason
        return reason, None

    def _problem(self, key: str, folder: Path, text: bytes, verify: str) -> Union[str, dict[str, Any]]:
        from .spec import RESULTS_FORMAT, RunSpec

        try:
            record = json.loads(text)
        except ValueError as exc:
            return f"result.json is not valid JSON (a run killed while writing?): {exc}"
        if not isinstance(record, dict):
            return f"result.json holds a {type(record).__name__}, not an object"
        if record.get("format") != RESULTS_FORMAT:
            return f"it has results format {record.get('format')!r}, this ccl_lib writes format {RESULTS_FORMAT}"
        if record.get("key") != key:
            return f"it names key {record.get('key')!r}, not its folder's key"
        if not _is_hex(record.get("digest"), 64):
            return "it has no content digest"
        if record_digest(record) != record["digest"]:
            return "its content does not match its digest (result.json was edited or corrupted)"
        stored = record.get("spec")
        if not isinstance(stored, dict):
            return "it has no stored spec"
        try:
            spec = RunSpec.from_dict(stored)
        except Exception as exc:
            return f"its stored spec does not parse ({exc})"
        if spec.key() != key:
            return f"its stored spec has key {spec.key()}, not its folder's key"
        meta, hist = record.get("meta"), record.get("histories")
        if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
            return "its metadata is missing or malformed"
        model = meta["model"]
        if not (
            isinstance(model.get("name"), str)
            and isinstance(model.get("input_shape"), list)
            and isinstance(model.get("num_classes"), int)
            and isinstance(model.get("kwargs", {}), dict)
        ):
            return "its model metadata is malformed"
        epochs = meta.get("eval_epochs")
        if not (
            isinstance(epochs, list)
            and epochs
            and all(isinstance(e, int) and not isinstance(e, bool) and 1 <= e <= spec.epochs for e in epochs)
        ):
            return "its evaluated epochs are missing or malformed"
        if not isinstance(hist, dict) or set(hist) != {"target", "shadow"}:
            return "its training histories are missing or malformed"
        for role, h in hist.items():
            if not (isinstance(h, list) and all(isinstance(x, dict) and isinstance(x.get("epoch"), int) for x in h)):
                return f"its {role} training history is malformed"
            if sorted(x["epoch"] for x in h) != list(range(1, spec.epochs + 1)):
                return f"its {role} training history does not cover epochs 1..{spec.epochs}"
        rows = record.get("rows")
        if not isinstance(rows, list) or not rows:
            return "it holds no result rows"
        if not all(isinstance(r, dict) for r in rows):
            return "its rows are not all objects"
        want = sorted((e, a) for e in epochs for a in spec.resolved_attacks)
        got = []
        for r in rows:
            if r.get("key") != key or not isinstance(r.get("attack"), str) or not isinstance(r.get("eval_epoch"), int):
                return "a row names another run or lacks its attack or epoch"
            for col in ("test_acc", "advantage", "p1"):
                v = r.get(col)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return f"a row's {col!r} is not a number"
            if not 0.0 <= r["test_acc"] <= 1.0:
                return "a row's test accuracy is outside [0, 1]"
            got.append((r["eval_epoch"], r["attack"]))
        if sorted(got) != want:
            return f"its rows cover {len(got)} (epoch, attack) pairs, the spec asks for {len(want)}"
        files, models, scores = record.get("files"), record.get("models"), record.get("scores")
        if not isinstance(files, dict) or not all(_plain_name(n) and _is_hex(d, 64) for n, d in files.items()):
            return "its file list is malformed"
        if not isinstance(models, dict) or set(models) != {"target", "shadow"}:
            return "its model list is malformed"
        for role, eps in models.items():
            if not isinstance(eps, dict) or not eps or not all(n in files for n in eps.values()):
                return f"its {role} models are not among its files"
        if sorted(int(e) for e in models["target"]) != sorted(epochs):
            return "it does not store a target model for every evaluated epoch"
        if scores is not None and scores not in files:
            return "its score file is not among its files"
        sizes = record.get("file_sizes")
        if not isinstance(sizes, dict):
            sizes = {}
        for name, digest in files.items():
            f = folder / name
            try:
                if f.is_symlink() or not f.is_file():
                    return f"its file {name} is missing"
                if name in sizes and f.stat().st_size != sizes[name]:
                    return f"its file {name} has {f.stat().st_size} bytes, {sizes[name]} were written"
                if verify == "sha256" and self._file_sha256(f) != digest:
                    return f"its file {name} does not match its recorded sha256"
            except OSError as exc:
                return f"its file {name} cannot be read ({exc})"
        return record

    def read_record(self, key: str, verify: str = "sha256", *, warn: bool = True) -> Optional[dict[str, Any]]:
        """The verified ``result.json`` of ``key``, or ``None`` if absent or failing any check.

        With ``warn`` (default) a damaged entry logs one warning line naming
        the entry and the reason.  See :meth:`check_record`.

        Args:
            key: the entry's key.
            verify: ``"sha256"`` (default, hash every referenced file) or ``"size"``.
            warn: log a damaged entry.
        """
        record, reason = self.check_record(key, verify)
        if reason is not None and warn:
            self.warn_unusable(key, reason)
        return record

    def warn_unusable(self, key: str, reason: str) -> None:
        """Log the one warning line of a damaged entry.

        Args:
            key: the entry's key.
            reason: why it is not used (from :meth:`check_record`).
        """
        log.warning("ccl_lib cache: entry %s is not used (%s); recomputing it", self.folder(key), reason)

    def _verified_bytes(self, key: str, name: str, record: dict[str, Any]) -> bytes:
        digest = record["files"].get(name)
        if digest is None:
            raise CacheError(f"run {key} has no file {name!r}; it holds {sorted(record['files'])}")
        data = (self.folder(key) / name).read_bytes()
        if sha256_bytes(data) != digest:
            raise CacheError(f"{self.folder(key) / name} does not match its recorded sha256; rerun the experiment")
        return data

    def load_state_dict(self, key: str, name: str, record: Optional[dict[str, Any]] = None) -> dict[str, torch.Tensor]:
        """A model state dict of run ``key``, sha256-verified, loaded with ``weights_only=True``.

        Args:
            key: the run's key.
            name: the file name recorded in the record's ``files`` (``<stem>-<sha8>.pt``).
            record: the run's verified record, if already read (default: read it now).
        """
        record = record or self.read_record(key)
        if record is None:
            raise CacheError(f"run {key} is not in the cache {self.root} (or its files failed verification)")
        data = self._verified_bytes(key, name, record)
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)

    def load_arrays(self, key: str, name: str, record: Optional[dict[str, Any]] = None) -> dict[str, np.ndarray]:
        """An ``.npz`` of run ``key``, sha256-verified, read with ``allow_pickle=False``.

        Args:
            key: the run's key.
            name: the file name recorded in the record's ``files`` (``<stem>-<sha8>.npz``).
            record: the run's verified record, if already read (default: read it now).
        """
        record = record or self.read_record(key)
        if record is None:
            raise CacheError(f"run {key} is not in the cache {self.root} (or its files failed verification)")
        data = self._verified_bytes(key, name, record)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    # -- writing ---------------------------------------------------------------

    def write_state_dict(self, key: str, stem: str, state: dict[str, torch.Tensor]) -> tuple[str, str, int]:
        """Write a state dict atomically as ``<stem>-<sha8>.pt``; returns (name, sha256, size).

        Args:
            key: the run's key (the file goes into its folder).
            stem: the file name's prefix (e.g. ``"target"``).
            state: the tensors to save (moved to the CPU).
        """
        buf = io.BytesIO()
        torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buf)
        return self._write_named(key, stem, ".pt", buf.getvalue())

    def write_arrays(self, key: str, stem: str, arrays: dict[str, np.ndarray]) -> tuple[str, str, int]:
        """Write arrays atomically as ``<stem>-<sha8>.npz``; returns (name, sha256, size).

        Args:
            key: the run's key (the file goes into its folder).
            stem: the file name's prefix.
            arrays: ``{name: array}`` saved compressed (no object arrays: they are read without pickle).
        """
        buf = io.BytesIO()
        payload: dict[str, Any] = dict(arrays)  # numpy's stub would match **arrays against allow_pickle too
        np.savez_compressed(buf, **payload)
        return self._write_named(key, stem, ".npz", buf.getvalue())

    def _write_named(self, key: str, stem: str, suffix: str, data: bytes) -> tuple[str, str, int]:
        digest = sha256_bytes(data)
        name = f"{stem}-{digest[:8]}{suffix}"
        path = self.folder(key) / name
        if not (
            path.is_file()
            and not path.is_symlink()
            and path.stat().st_size == len(data)
            and sha256_file(path) == digest
        ):
            atomic_write_bytes(path, data)
        return name, digest, len(data)

    def write_record(self, key: str, record: dict[str, Any]) -> Path:
        """Write ``result.json`` atomically with its ``digest`` -- the last step of a run (marks it finished).

        The record is normalized through JSON first (what is read back is
        exactly what was digested).

        Args:
            key: the run's key; must equal ``record["key"]``.
            record: the run's record (rows, histories, meta, ``files`` digests).
        """
        if record.get("key") != key:
            raise ValueError("the record's key does not match the folder's key")
        body = json.loads(json.dumps({k: v for k, v in record.items() if k != "digest"}, default=str))
        body["digest"] = record_digest(body)
        path = self.folder(key) / RESULT_FILE
        atomic_write_bytes(path, json.dumps(body, indent=2, sort_keys=True).encode())
        return path

    def remove(self, key: str) -> None:
        """Delete run ``key``'s folder (``result.json`` first, so it never looks finished)."""
        import shutil

        folder = self.folder(key)
        if (folder / RESULT_FILE).exists():
            (folder / RESULT_FILE).unlink()
        shutil.rmtree(folder, ignore_errors=True)

    # -- one writer per entry ----------------------------------------------------

    def lock_path(self, key: str) -> Path:
        """``<root>/<key>.lock``, the writer lock of entry ``key``."""
        return self.root / f"{self.folder(key).name}.lock"

    def _lock_is_stale(self, path: Path) -> bool:
        try:
            st = path.stat()
            raw = path.read_text()
        except FileNotFoundError:
            return False
        except OSError:
            return False
        if time.time() - st.st_mtime > self.stale_after:
            return True  # no heartbeat for a long time: a crashed holder, on any host
        try:
            info = json.loads(raw)
            pid, host = int(info["pid"]), str(info["host"])
        except (ValueError, KeyError, TypeError):
            return False  # unreadable: wait for the heartbeat timeout
        return host == socket.gethostname() and not _pid_alive(pid)

    def lock(
        self, key: str, *, wait: bool = True, timeout: Optional[float] = None, poll: float = 0.2
    ) -> Optional[EntryLock]:
        """Claim entry ``key`` for writing: an :class:`EntryLock` (a context manager), or ``None`` when busy.

        The lock file is created atomically (``os.link`` of a complete
        temporary file: it exists with its content or not at all) and holds
        the holder's pid, host name, creation time and a random token.  A lock
        whose holder is a dead process on this host, or that has not been
        refreshed for ``stale_after`` seconds, is removed and claimed.
        ``wait=False`` returns ``None`` at once if a live holder has it;
        otherwise this polls until it is free (or ``timeout`` seconds pass:
        :class:`TimeoutError`).  Breaking a stale lock races only with other
        breakers of the same lock; the worst case is a run computed twice,
        never a wrong entry (writes are atomic and content-named).

        Args:
            key: the entry's key.
            wait: poll until the lock is free (default) instead of returning ``None`` at once.
            timeout: give up after this many seconds (default: wait forever).
            poll: seconds between attempts while waiting.
        """
        path = self.lock_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        info = {"pid": os.getpid(), "host": socket.gethostname(), "created": time.time(), "token": token}
        t0 = time.monotonic()
        while True:
            tmp = path.parent / f".{path.name}.{token}.tmp"
            tmp.write_text(json.dumps(info))
            try:
                os.link(tmp, path)
                return EntryLock(path, token, min(LOCK_HEARTBEAT_SECONDS, self.stale_after / 4))
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
            if self._lock_is_stale(path):
                try:
                    stale = path.read_bytes()
                    if self._lock_is_stale(path) and path.read_bytes() == stale:
                        log.warning(
                            "ccl_lib cache: removing the abandoned lock %s (%s)", path, stale.decode(errors="replace")
                        )
                        path.unlink()
                except OSError:
                    pass
                continue
            if not wait:
                return None
            if timeout is not None and time.monotonic() - t0 > timeout:
                raise TimeoutError(f"entry {key} of {self.root} is still locked by {path.read_text()!r}")
            time.sleep(poll)


def resolve_cache(cache: Union[None, bool, PathLike, ResultCache]) -> Optional[ResultCache]:
    """``None``/``True`` -> the default cache; a path -> a cache there; ``False`` -> no cache.

    Args:
        cache: ``None``, ``True``, ``False``, a folder path or a :class:`ResultCache` (returned as is).
    """
    if cache is None or cache is True:
        return ResultCache()
    if cache is False:
        return None
    if isinstance(cache, ResultCache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        return ResultCache(cache)
    raise TypeError(f"cache must be None, False, a folder path or a ResultCache, got {type(cache).__name__}")
