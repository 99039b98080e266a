"""The :class:`Dataset` container every loader returns."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from .settings import NORMALIZATION


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
        mean: per-channel mean for normalizing images; ``None`` uses
            :data:`NORMALIZATION` for the data set's name, else statistics of ``x``.
        std: per-channel standard deviation, likewise.

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
