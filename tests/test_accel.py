"""ccl_lib.accel: CPU bf16 detection, autocast contexts, the matmul bound."""

from __future__ import annotations

import pytest
import torch

from ccl_lib import accel
from ccl_lib.models import MLP
from ccl_lib.train import TrainConfig, fit


def test_bf16_detection_reads_the_cpu_flags(monkeypatch):
    accel.cpu_flags.cache_clear()
    flags = accel.cpu_flags()
    info = accel.cpu_bf16_support()
    assert set(info) == {"bf16", "amx", "avx512_bf16", "capability"}
    assert info["amx"] == ("amx_bf16" in flags) and info["avx512_bf16"] == ("avx512_bf16" in flags)
    if flags:
        assert info["bf16"] == (info["amx"] or info["avx512_bf16"])
    monkeypatch.setattr(accel, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert accel.cpu_bf16_support()["bf16"] is False
    monkeypatch.setattr(accel, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    info = accel.cpu_bf16_support()
    assert info["bf16"] is True and info["amx"] is False and info["avx512_bf16"] is True


def test_autocast_runs_matmuls_in_bf16_only_when_enabled():
    a, b = torch.randn(8, 8), torch.randn(8, 8)
    with accel.autocast("cpu", True):
        assert (a @ b).dtype == torch.bfloat16
    with accel.autocast("cpu", False):
        assert (a @ b).dtype == torch.float32


def test_matmul_rate_is_positive_and_validates():
    r = accel.matmul_rate("cpu", torch.float32, n=64, repeats=1, min_seconds=0.001)
    assert r["best"] >= r["median"] > 0 and r["n"] == 64
    with pytest.raises(ValueError, match="dtype"):
        accel.matmul_rate("cpu", torch.int32)
    with pytest.raises(ValueError, match="n must be"):
        accel.matmul_rate("cpu", n=4)


def test_cpu_amp_trains_in_bf16_on_the_cpu_and_stays_close_to_float32():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 10, generator=g)
    y = (x[:, 0] > 0).long()
    runs = {}
    for cpu_amp in (False, True):
        torch.manual_seed(0)
        m = MLP(10, 2, hidden=(32,))
        res = fit(
            m, x, y, config=TrainConfig(epochs=8, batch_size=32, lr=0.05, device="cpu", cpu_amp=cpu_amp), progress=False
        )
        runs[cpu_amp] = (m, res)
    w32, w16 = runs[False][0].classifier.weight, runs[True][0].classifier.weight
    assert w16.dtype == torch.float32  # fp32 master weights
    assert not torch.equal(w32, w16)  # autocast really changed the arithmetic
    torch.testing.assert_close(w16, w32, atol=0.1, rtol=0.1)  # bf16 keeps ~3 digits: close, not equal
    assert runs[True][1].history[-1]["train_acc"] >= 0.9
    with pytest.raises(ValueError, match="cpu_amp must be True or False"):
        TrainConfig(cpu_amp=1)
