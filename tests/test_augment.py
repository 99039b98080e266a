"""ccl_lib.augment.DeviceImages: uint8 images on the device give the float pipeline's batches bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from ccl_lib.augment import DeviceImages
from ccl_lib.data import Dataset
from ccl_lib.models import SmallCNN
from ccl_lib.train import TrainConfig, fit, fit_many, random_crop_flip

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def image_set(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 10, size=n)
    return Dataset(name="toy", kind="image", x=x, y=y, num_classes=10, mean=MEAN, std=STD)


def test_batches_equal_dataset_features_with_crop_flip():
    ds = image_set()
    imgs = DeviceImages.from_dataset(ds, np.arange(len(ds.y)), device="cpu")
    assert imgs.shape == (40, 3, 8, 8) and len(imgs) == 40
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(40, generator=g)[:16]
    offsets = torch.randint(0, 9, (2, 16), generator=g)
    flips = torch.rand(16, generator=g) < 0.5
    want = random_crop_flip(ds.features(idx.numpy()), 4, offsets=offsets, flips=flips)
    got = imgs.batch(idx, offsets, flips, 4)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got, want)
    assert not torch.signbit(got[got == 0]).any()  # the padding is +0, as F.pad gives
    assert torch.equal(imgs.batch(idx), ds.features(idx.numpy()))
    assert torch.equal(imgs.features(), ds.features())
    # an independent reference for one sample: pad the normalized image by hand, cut the window, mirror
    i, r, c = 3, int(offsets[0, 3]), int(offsets[1, 3])
    ref = torch.zeros(3, 16, 16)
    ref[:, 4:12, 4:12] = (
        torch.from_numpy(ds.x[int(idx[i])]).permute(2, 0, 1).float() / 255 - torch.tensor(MEAN)[:, None, None]
    ) / torch.tensor(STD)[:, None, None]
    win = ref[:, r : r + 8, c : c + 8]
    if flips[i]:
        win = win.flip(2)
    torch.testing.assert_close(got[i], win, rtol=1e-6, atol=1e-6)


def test_fit_on_device_images_equals_fit_on_float_features():
    ds = image_set(48, seed=1)
    idx = np.arange(48)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, augment=True, device="cpu", seed=3, milestones=(1,))
    torch.manual_seed(0)
    a = SmallCNN(3, 10, width=4)
    b = copy.deepcopy(a)
    y = torch.from_numpy(ds.y).long()
    ra = fit(a, ds.features(idx), y, config=cfg, progress=False)
    rb = fit(b, DeviceImages.from_dataset(ds, idx, "cpu"), y, config=cfg, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert [h["train_loss_mean"] for h in ra.history] == [h["train_loss_mean"] for h in rb.history]
    # stacked training reads the same batches
    c, d = copy.deepcopy(a), copy.deepcopy(a)
    torch.manual_seed(1)
    c2 = SmallCNN(3, 10, width=4)
    d2 = copy.deepcopy(c2)
    data_f = [(ds.features(idx), y), (ds.features(idx), y)]
    data_u = [(DeviceImages.from_dataset(ds, idx, "cpu"), y) for _ in range(2)]
    cfgs = [cfg, TrainConfig(**{**cfg.to_dict(), "seed": 4})]
    fit_many([c, c2], data_f, configs=cfgs, strategy="stacked", progress=False)
    fit_many([d, d2], data_u, configs=cfgs, strategy="stacked", progress=False)
    for m1, m2 in ((c, d), (c2, d2)):
        for p, q in zip(m1.parameters(), m2.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_validation():
    with pytest.raises(ValueError, match="uint8"):
        DeviceImages(np.zeros((2, 4, 4, 3), dtype=np.float32), MEAN, STD, "cpu")
    with pytest.raises(ValueError, match="std must be > 0"):
        DeviceImages(np.zeros((2, 4, 4, 3), dtype=np.uint8), MEAN, (1, 0, 1), "cpu")
    imgs = DeviceImages(np.zeros((2, 4, 4, 3), dtype=np.uint8), MEAN, STD, "cpu")
    with pytest.raises(ValueError, match="both offsets and flips"):
        imgs.batch(torch.tensor([0]), offsets=torch.zeros(2, 1, dtype=torch.long))
