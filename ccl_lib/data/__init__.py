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
files written atomically with the sha256 of their content, verified and read
with ``allow_pickle=False`` (a mismatch rebuilds them from the verified
source, :mod:`ccl_lib.data.prepared`); an ``imagefolder:`` tree is identified
by a fingerprint of its contents (:func:`imagefolder_fingerprint`) and may not
link outside itself.  Canonical CIFAR
pickles are only ever read by torchvision after its own md5 check.
"""

from __future__ import annotations

from .catalog import available_datasets, load_dataset
from .dataset import Dataset
from .errors import (
    DataError,
    DatasetUnavailableError,
    DataVerificationError,
    UnknownDatasetError,
    UnsafeArchiveError,
    UnsafeDataError,
)
from .images import imagefolder_fingerprint
from .remote import REMOTE_FILES, RemoteFile, data_root, extract_archive, fetch_file
from .settings import (
    CIFAR10_CLASSES,
    CIFAR10_JPEG_COMMIT,
    ENV_BASE_URL,
    ENV_DATA_DIR,
    ENV_IMAGENET_DIR,
    ENV_MIRROR,
    NORMALIZATION,
    PRIVACYTRUSTLAB_COMMIT,
)
from .tabular import load_tabular
from .verify import Checksum, compute_checksum, git_blob_sha1, tar_content_sha256, verify_file

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_JPEG_COMMIT",
    "Checksum",
    "DataError",
    "DataVerificationError",
    "Dataset",
    "DatasetUnavailableError",
    "ENV_BASE_URL",
    "ENV_DATA_DIR",
    "ENV_IMAGENET_DIR",
    "ENV_MIRROR",
    "NORMALIZATION",
    "PRIVACYTRUSTLAB_COMMIT",
    "REMOTE_FILES",
    "RemoteFile",
    "UnknownDatasetError",
    "UnsafeArchiveError",
    "UnsafeDataError",
    "available_datasets",
    "compute_checksum",
    "data_root",
    "extract_archive",
    "fetch_file",
    "git_blob_sha1",
    "imagefolder_fingerprint",
    "load_dataset",
    "load_tabular",
    "tar_content_sha256",
    "verify_file",
]
