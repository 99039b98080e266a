"""Training-time image augmentation: random crop and flip, and batches built on the device.

:func:`random_crop_flip` crops and flips a float batch (the trainer's augmentation of
images held as tensors).  Image batches can also be built on the training device from
uint8 pixels: gather, crop+flip, normalize.

The paper's CIFAR recipe (Sec. 5.1) trains with random crops (zero padding
4) and horizontal flips.  :class:`DeviceImages` keeps a split's images as
``uint8`` on the device -- a quarter of the float32 memory and of the bytes
each batch gathers -- and builds every training batch there:

1. gather the batch's rows (``index_select`` on uint8, NHWC);
2. crop and flip by index arithmetic on the uint8 pixels;
3. scale to [0, 1] and normalize per channel in float32, exactly as
   :meth:`ccl_lib.data.Dataset.features` does, and zero the padded border
   (the zero padding of :func:`random_crop_flip`, which pads the
   *normalized* image);
4. hand the model a channels-last (NHWC in memory) float32 batch.

Every step is a device kernel with no host synchronization, so a training
loop over these batches never waits on the GPU.  Batches equal
``random_crop_flip(dataset.features(idx), 4, offsets=..., flips=...)``
bit for bit (tested).
"""

from __future__ import annotations

import numbers
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DeviceImages", "mirror_transform", "random_crop_flip"]

Tensor = torch.Tensor


class DeviceImages:
    """A split's images as uint8 on a device, batched, augmented and normalized there.

    Args:
        pixels: ``(n, H, W, C)`` uint8 images (NumPy array or tensor), e.g.
            ``dataset.x[idx]`` of an image :class:`ccl_lib.data.Dataset`.
        mean, std: per-channel normalization of images scaled to [0, 1]
            (``dataset.normalization``).
        device: where the pixels live (``"auto"``: CUDA when present).
    """

    def __init__(
        self,
        pixels: Union[np.ndarray, Tensor],
        mean: Sequence[float],
        std: Sequence[float],
        device: Union[str, torch.device] = "auto",
    ) -> None:
        from .utils import resolve_device

        t = torch.as_tensor(np.ascontiguousarray(pixels)) if isinstance(pixels, np.ndarray) else pixels
        if not isinstance(t, Tensor) or t.dtype != torch.uint8 or t.dim() != 4:
            raise ValueError(
                "pixels must be (n, H, W, C) uint8 images, "
                f"got {getattr(t, 'shape', type(t))} {getattr(t, 'dtype', '')}"
            )
        if len(t) == 0:
            raise ValueError("pixels is empty")
        c = int(t.shape[3])
        mean, std = tuple(float(v) for v in mean), tuple(float(v) for v in std)
        if len(mean) < c or len(std) < c:
            raise ValueError(f"mean and std need {c} channel values, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std[:c]):
            raise ValueError(f"std must be > 0 per channel, got {std[:c]}")
        self.device = resolve_device(device)
        self.pixels = t.to(self.device).contiguous()
        self.mean = torch.tensor(mean[:c], dtype=torch.float32, device=self.device).view(1, c, 1, 1)
        self.std = torch.tensor(std[:c], dtype=torch.float32, device=self.device).view(1, c, 1, 1)

    @classmethod
    def from_dataset(cls, dataset, indices, device: Union[str, torch.device] = "auto") -> DeviceImages:
        """The images ``dataset.x[indices]`` of an image :class:`ccl_lib.data.Dataset`."""
        if getattr(dataset, "kind", None) != "image":
            raise ValueError(f"DeviceImages needs an image data set, got kind {getattr(dataset, 'kind', None)!r}")
        mean, std = dataset.normalization
        return cls(np.asarray(dataset.x[np.asarray(indices)]), mean, std, device)

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def shape(self) -> torch.Size:
        """``(n, C, H, W)``: the shape of :meth:`features`."""
        n, h, w, c = self.pixels.shape
        return torch.Size((n, c, h, w))

    def to(self, device: Union[str, torch.device]) -> DeviceImages:
        """The same images on ``device`` (``self`` when already there)."""
        dev = torch.device(device)
        if dev == self.device or (dev.type == self.device.type and dev.index is None):
            return self
        out = object.__new__(DeviceImages)
        out.device, out.pixels, out.mean, out.std = dev, self.pixels.to(dev), self.mean.to(dev), self.std.to(dev)
        return out

    def _normalize(self, nhwc: Tensor) -> Tensor:
        # the float ops of Dataset.features, in its order: /255, -mean, /std
        t = nhwc.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
        return t.sub_(self.mean).div_(self.std)

    def features(self, indices: Optional[Tensor] = None) -> Tensor:
        """Float32 normalized images ``(m, C, H, W)`` (channels-last in memory), no augmentation.

        Args:
            indices: 1-d integer rows to take (default all rows).
        """
        px = self.pixels if indices is None else self.pixels.index_select(0, indices.to(self.device, torch.long))
        return self._normalize(px).contiguous(memory_format=torch.channels_last)

    def batch(
        self,
        indices: Tensor,
        offsets: Optional[Tensor] = None,
        flips: Optional[Tensor] = None,
        padding: int = 4,
    ) -> Tensor:
        """The training batch of rows ``indices``, cropped and flipped when ``offsets``/``flips`` are given.

        Sample ``i`` is the ``H x W`` window at row ``offsets[0, i]`` and column
        ``offsets[1, i]`` of the image zero-padded by ``padding`` (after
        normalization), mirrored left-right when ``flips[i]`` -- the augmentation
        of :func:`random_crop_flip`, computed on the uint8 pixels.
        """
        idx = indices.to(self.device, torch.long)
        px = self.pixels.index_select(0, idx)  # (b, H, W, C) uint8
        if offsets is None and flips is None:
            return self._normalize(px).contiguous(memory_format=torch.channels_last)
        if offsets is None or flips is None:
            raise ValueError("give both offsets and flips, or neither")
        b, h, w, _ = px.shape
        if tuple(offsets.shape) != (2, b) or tuple(flips.shape) != (b,):
            raise ValueError(
                f"offsets must have shape (2, {b}) and flips ({b},), "
                f"got {tuple(offsets.shape)} and {tuple(flips.shape)}"
            )
        off = offsets.to(self.device, torch.long)
        rows = off[0][:, None] + torch.arange(h, device=self.device)[None, :] - padding  # (b, h), in image coordinates
        cols = off[1][:, None] + torch.arange(w, device=self.device)[None, :] - padding
        cols = torch.where(flips.to(self.device, torch.bool)[:, None], cols.flip(1), cols)
        valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (b, h, w)
        r = rows.clamp(0, h - 1)[:, :, None]
        c = cols.clamp(0, w - 1)[:, None, :]
        out = px[torch.arange(b, device=self.device)[:, None, None], r, c]  # (b, h, w, C) uint8
        x = self._normalize(out)
        x = torch.where(valid[:, None, :, :], x, torch.zeros((), device=self.device))
        return x.contiguous(memory_format=torch.channels_last)


def random_crop_flip(
    x: Tensor,
    padding: int = 4,
    generator: Optional[torch.Generator] = None,
    *,
    offsets: Optional[Tensor] = None,
    flips: Optional[Tensor] = None,
) -> Tensor:
    """Random crop with zero padding and random horizontal flip, for a batch (N, C, H, W).

    The standard CIFAR training augmentation (He et al., 2016), vectorized on
    the batch's device: sample ``i`` is the ``H x W`` window at row
    ``offsets[0, i]`` and column ``offsets[1, i]`` of the image zero-padded by
    ``padding`` on each side, mirrored left-right when ``flips[i]``.  Offsets
    (integers in ``[0, 2 * padding]``) and flips are drawn from ``generator``
    unless given.

    Args:
        x: (N, C, H, W) batch.
        padding: zero padding on each side, in pixels (>= 0; the standard 4).
        generator: the torch RNG for the draws (default the global one).
        offsets: (2, N) integer crop offsets (rows, columns) instead of drawing them.
        flips: (N,) booleans, mirror sample ``i`` when true, instead of drawing them.
    """
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got {getattr(x, 'shape', type(x))}")
    if not (isinstance(padding, numbers.Integral) and not isinstance(padding, bool) and padding >= 0):
        raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
    n, c, h, w = x.shape
    if offsets is None:
        offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    if flips is None:
        flips = torch.rand(n, generator=generator) < 0.5
    if tuple(offsets.shape) != (2, n) or tuple(flips.shape) != (n,):
        raise ValueError(
            f"offsets must have shape (2, {n}) and flips ({n},), got {tuple(offsets.shape)} and {tuple(flips.shape)}"
        )
    off = offsets.to(x.device, torch.long)
    flip = flips.to(x.device, torch.bool)
    xp = F.pad(x, (padding, padding, padding, padding))
    rows = off[0][:, None] + torch.arange(h, device=x.device)[None, :]  # (n, h)
    cols = off[1][:, None] + torch.arange(w, device=x.device)[None, :]  # (n, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


def mirror_transform() -> Callable[[Tensor], Tensor]:
    """The horizontal mirror of an image batch ``(N, C, H, W)``: columns reversed (``torch.flip`` of the last axis).

    The second query of the LiRA authors' code: ``tensorflow/privacy``,
    ``research/mi_lira_2021/inference.py``, ``get_loss`` (``reflect=True``: the batch and
    ``xbatch[:, :, ::-1, :]``, the width axis of its NHWC images).  Exact on normalized batches
    (a permutation of the pixels).
    """

    def f(x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"the mirror query needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
        return torch.flip(x, dims=[3])

    return f
