"""What the training device can do fast: CUDA, bfloat16 on CPUs, autocast, matmul bounds.

The paper's recipe (Sec. 5.1) is plain float32 SGD.  Two hardware features
change what it costs without changing what it computes in expectation:

* **bfloat16 autocast** -- matrix products and convolutions in bf16 with
  float32 master weights and a float32 loss.  On CUDA GPUs (tensor cores) it
  is the trainer's default (``TrainConfig.amp``).  On CPUs it pays only where
  the cores have native bf16 instructions -- AMX tiles (Sapphire Rapids and
  later) or AVX512-BF16 -- and only for some models; it stays an option there
  (``TrainConfig.cpu_amp``; the measurement and the decision are in
  ``benchmarks/README.md``).
* **CUDA** itself: :func:`cuda_available` and :func:`default_device`.

Membership-inference queries always run in float32 (:func:`ccl_lib.train.predict_logits`):
bf16 logits keep about 3 significant digits, too few for loss-based scores (Sec. 2).

:func:`matmul_rate` measures the peak rate of large square products in a given
dtype -- the "bound" the benchmarks divide by (``benchmarks/run.py``,
``benchmarks/paper_gpu.py``).
"""

from __future__ import annotations

import functools
import time
from contextlib import AbstractContextManager
from typing import Optional, Union

import torch

__all__ = [
    "autocast",
    "cpu_bf16_support",
    "cpu_flags",
    "cuda_available",
    "default_device",
    "matmul_rate",
]

#: /proc/cpuinfo flags that give native bfloat16 arithmetic on x86 CPUs.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where that file does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags") or line.startswith("Features"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_bf16_support() -> dict[str, object]:
    """Whether this CPU computes bfloat16 natively, and how.

    Returns ``{"bf16": bool, "amx": bool, "avx512_bf16": bool, "capability": str}``:
    ``amx`` / ``avx512_bf16`` from the ``/proc/cpuinfo`` flags ``amx_bf16`` and
    ``avx512_bf16``; ``capability`` is ``torch.backends.cpu.get_cpu_capability()``
    (``"AVX512"``, ``"AVX2"``, ...; ``""`` where torch does not say).  ``bf16`` is
    true when either instruction set is present; where ``/proc/cpuinfo`` is
    missing (macOS, Windows), ``torch.backends.mkldnn``'s own bf16 probe decides.
    """
    flags = cpu_flags()
    amx = "amx_bf16" in flags
    avx = "avx512_bf16" in flags
    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # pragma: no cover - older torch
        capability = ""
    bf16 = amx or avx
    if not flags:  # no /proc/cpuinfo: ask oneDNN
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        try:
            bf16 = bool(probe()) if probe is not None else False
        except Exception:  # pragma: no cover
            bf16 = False
    return {"bf16": bool(bf16), "amx": amx, "avx512_bf16": avx, "capability": capability}


def cuda_available() -> bool:
    """True when a CUDA device can be used by torch."""
    return bool(torch.cuda.is_available())


def default_device() -> torch.device:
    """CUDA when present, else the CPU (the meaning of ``device="auto"``)."""
    return torch.device("cuda") if cuda_available() else torch.device("cpu")


def autocast(device: Union[str, torch.device], enabled: bool) -> AbstractContextManager:
    """A bfloat16 autocast context for ``device`` when ``enabled``, else a disabled one.

    float32 master weights stay float32; only the operators on autocast's
    lower-precision list (matmuls, convolutions) run in bf16.  Losses are
    computed from ``logits.float()`` by every defense (:mod:`ccl_lib.defenses`).
    """
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    kind = dev.type if dev.type in ("cpu", "cuda") else "cpu"
    if enabled:
        return torch.autocast(kind, dtype=torch.bfloat16)
    return torch.autocast(kind, enabled=False)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def matmul_rate(
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    n: Optional[int] = None,
    repeats: int = 5,
    min_seconds: float = 0.05,
) -> dict[str, float]:
    """Peak FLOP rate of ``n x n`` matrix products in ``dtype`` on ``device``, measured now.

    ``n`` defaults to 2048 on the CPU and 8192 on CUDA.  Each repeat times as
    many products as fill ``min_seconds``; the result holds the best and the
    median rate in FLOP/s (``2 n^3`` per product) over ``repeats``:
    ``{"best": ..., "median": ..., "n": n}``.  This is the bound a training
    step's throughput is compared with (its fraction of the bound).
    """
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise ValueError(f"dtype must be torch.float32, torch.bfloat16 or torch.float16, got {dtype}")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if n is None:
        n = 8192 if dev.type == "cuda" else 2048
    if not (isinstance(n, int) and n >= 16):
        raise ValueError(f"n must be an integer >= 16, got {n!r}")
    a = torch.randn(n, n, device=dev).to(dtype)
    b = torch.randn(n, n, device=dev).to(dtype)
    flops = 2.0 * n**3
    torch.mm(a, b)
    _sync(dev)
    t0 = time.perf_counter()
    torch.mm(a, b)
    _sync(dev)
    per = max(time.perf_counter() - t0, 1e-9)
    k = max(1, int(min_seconds / per))
    rates = []
    for _ in range(repeats):
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(k):
            torch.mm(a, b)
        _sync(dev)
        rates.append(k * flops / max(time.perf_counter() - t0, 1e-12))
    rates.sort()
    return {"best": rates[-1], "median": rates[len(rates) // 2], "n": float(n)}
