"""The entry point: :func:`load_dataset` and the names it knows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .dataset import Dataset
from .errors import UnknownDatasetError
from .images import _imagenet_dir, _load_cifar10_jpeg, _load_imagefolder, _load_torchvision_cifar
from .names import available_datasets
from .names import canonical_name as _canonical_name
from .remote import data_root
from .settings import NORMALIZATION, PathLike
from .tabular import _TABULAR, _load_digits, load_tabular

__all__ = ["available_datasets", "load_dataset"]


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
    if image_size is not None and (
        isinstance(image_size, (bool, np.bool_)) or not isinstance(image_size, (int, np.integer)) or image_size < 1
    ):
        raise ValueError(f"image_size must be a positive integer (pixels per side, e.g. 32), got {image_size!r}")
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
        imagenet_dir, cache_root = _imagenet_dir(root)
        return _load_imagefolder(imagenet_dir, "imagenet", cache_root, image_size or 64, NORMALIZATION["imagenet"])
    if key == "cifar10-jpeg":
        return _load_cifar10_jpeg(data_root(root), download, image_size or 32)
    return _load_torchvision_cifar(key, data_root(root), download, image_size or 32)
