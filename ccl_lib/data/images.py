"""CIFAR-10/100 (torchvision or JPEG tree), ImageNet and any ImageFolder tree, decoded once to uint8."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch

from .dataset import Dataset, _channel_stats
from .errors import DataError, DatasetUnavailableError, DataVerificationError, UnsafeDataError
from .prepared import StalePrepared, file_sha256, meta_digest
from .remote import REMOTE_FILES, RemoteFile, _how_to_provide, _mirror_dir, data_root, fetch_file
from .settings import (
    _CACHE_FORMAT,
    _IMG_EXTENSIONS,
    _MMAP_THRESHOLD,
    CIFAR10_CLASSES,
    ENV_IMAGENET_DIR,
    ENV_MIRROR,
    PathLike,
    log,
    progress_disabled,
)
from .verify import Checksum, _content_digest, _hash_file, _iter_tar_files, verify_file


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
            raise StalePrepared("stale cache format")
        if not isinstance(meta.get("sha256"), dict) or meta.get("digest") is None:
            raise StalePrepared("it has no checksums (written by an older ccl_lib)")
        if meta_digest(meta) != meta["digest"]:
            raise ValueError("meta.json does not match its digest (edited or corrupted)")
        for fname in ("x.npy", "y.npy"):
            f = cache / fname
            if f.is_symlink() or file_sha256(f) != meta["sha256"].get(fname):
                raise ValueError(f"{fname} does not match its recorded sha256 (edited or corrupted)")
        xpath = cache / "x.npy"
        x = np.load(xpath, allow_pickle=False, mmap_mode="r" if xpath.stat().st_size > _MMAP_THRESHOLD else None)
        y = np.load(cache / "y.npy", allow_pickle=False)
        if x.dtype != np.uint8 or x.ndim != 4 or len(x) != meta["n"] or len(y) != meta["n"]:
            raise ValueError("inconsistent shapes")
        m = tuple(meta["mean"]) if meta.get("mean") else mean
        s = tuple(meta["std"]) if meta.get("std") else std
        names = tuple(meta["class_names"]) if meta.get("class_names") else None
        return Dataset(name, x, y.astype(np.int64), int(meta["num_classes"]), "image", names, meta["source"], m, s)
    except Exception as exc:  # rebuilt from the verified source
        level = logging.INFO if isinstance(exc, StalePrepared) else logging.WARNING
        log.log(
            level, "ignoring the prepared image cache %s and rebuilding it from the verified source: %s", cache, exc
        )
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

    ``meta.json`` records the sha256 of both arrays and its own digest
    (:mod:`ccl_lib.data.prepared`); :func:`_load_image_cache` checks them.

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
        sha = {f: file_sha256(tmp / f) for f in ("x.npy", "y.npy")}
        meta = {**meta, "format": _CACHE_FORMAT, "n": int(n), "sha256": sha}
        meta = json.loads(json.dumps(meta))  # what is read back is what is digested
        meta["digest"] = meta_digest(meta)
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
    with tqdm(total=60_000, unit="img", desc=f"read {path.name}", disable=progress_disabled()) as bar:
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
        with tqdm(total=len(keyed), unit="img", desc="decode cifar10-jpeg", disable=progress_disabled()) as bar:
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
        msg = _how_to_provide(name, remote, root, reason).replace(str(root / "downloads" / cls.filename), str(tarball))
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


def _inside(path: Path, tree: Path, what: str) -> Path:
    """``path`` resolved; :class:`UnsafeDataError` if it (or the link it is) resolves outside ``tree``."""
    real = path.resolve()
    if real != tree and tree not in real.parents:
        raise UnsafeDataError(
            f"{what} {path} resolves to {real}, outside the image folder {tree}; refusing to read it "
            "(copy the file into the tree instead of linking to it)"
        )
    return real


def _walk_images(folder: Path, tree: Path) -> list[Path]:
    """Image files under ``folder`` (sorted), following links only while they stay inside ``tree``."""
    out: list[Path] = []
    seen: set[Path] = set()
    stack = [folder]
    while stack:
        d = stack.pop()
        real = _inside(d, tree, "folder")
        if real in seen:  # a link back to a folder already read
            continue
        seen.add(real)
        entries = sorted(os.scandir(d), key=lambda e: e.name)
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            if e.is_dir():  # follows links; _inside checks where they lead
                subdirs.append(p)
            elif e.name.lower().endswith(_IMG_EXTENSIONS):
                if e.is_symlink():
                    _inside(p, tree, "image file")
                if not p.is_file():
                    raise DataVerificationError(f"{p} is not a regular file")
                out.append(p)
        stack.extend(reversed(subdirs))
    return sorted(out)


def _scan_imagefolder(path: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Classes and ``(file, label)`` samples of an ImageFolder tree; ``train/`` before ``val/``/``test/``.

    Files and folders (links included) that resolve outside the tree are refused.
    """
    tree = path.resolve()
    split_roots = [path / s for s in ("train", "val", "test") if (path / s).is_dir()]
    if not split_roots or not (path / "train").is_dir():
        split_roots = [path]
    for r in split_roots:
        _inside(r, tree, "folder")
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
            samples.extend((f, index[entry.name]) for f in _walk_images(Path(entry.path), tree))
    if not samples:
        raise DatasetUnavailableError(f"{path} holds no images with extensions {_IMG_EXTENSIONS}")
    return classes, samples


def _fingerprint(path: Path, samples: list[tuple[Path, int]]) -> str:
    h = hashlib.sha256(b"imagefolder-v2\n")
    for file, label in samples:
        rel = file.relative_to(path).as_posix()
        h.update(f"{rel}\0{label}\0{file.stat().st_size}\0{file_sha256(file.resolve())}\n".encode())
    return h.hexdigest()


def imagefolder_fingerprint(path: PathLike) -> str:
    """A content fingerprint of an ImageFolder tree: sha256 over every image's path, label, size and sha256.

    It is part of the run key of an ``imagefolder:<path>`` data set
    (:meth:`ccl_lib.experiments.RunSpec.identity`) and of its prepared cache,
    so a changed folder is a different experiment.  File hashes are
    remembered in this process while a file's size, times and inode stay the
    same.  Files or links resolving outside the tree raise
    :class:`UnsafeDataError`.

    Args:
        path: the ImageFolder root (one sub-folder per class).
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetUnavailableError(f"image folder {folder} does not exist (expected <dir>/[train/]<class>/<image>)")
    _, samples = _scan_imagefolder(folder)
    return _fingerprint(folder, samples)


def _load_imagefolder(
    path: Path, name: str, root: Path, size: int, normalization: Optional[tuple[tuple[float, ...], tuple[float, ...]]]
) -> Dataset:
    """Decode an ImageFolder tree (resized, center-cropped) into a cached uint8 array."""
    from tqdm.auto import tqdm

    path = path.expanduser().resolve()
    if not path.is_dir():
        raise DatasetUnavailableError(f"image folder {path} does not exist (expected <dir>/[train/]<class>/<image>)")
    classes, samples = _scan_imagefolder(path)
    fp = _fingerprint(path, samples)
    key = f"imagefolder-{fp[:16]}-{size}px"
    cache = _image_cache_dir(root, key)
    mean, std = normalization if normalization else (None, None)
    ds = _load_image_cache(cache, name, mean, std)
    if ds is not None:
        return ds

    def fill(x: np.ndarray) -> np.ndarray:
        y = np.empty(len(samples), np.int64)
        bar = tqdm(samples, unit="img", desc=f"decode {path.name}", disable=progress_disabled())
        for i, (file, label) in enumerate(bar):
            data = file.read_bytes()
            if hashlib.sha256(data).hexdigest() != file_sha256(file.resolve()):
                raise DataVerificationError(f"{file} changed while the image folder was being read; load it again")
            _decode_into(x, i, data, size, None, str(file))
            y[i] = label
        return y

    meta = {
        "num_classes": len(classes),
        "class_names": classes,
        "source": f"ImageFolder {path} ({len(samples)} files, content fingerprint {fp[:16]}), {size}x{size}",
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
