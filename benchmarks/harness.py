"""The measuring harness of the benchmarks: the context every section gets, the section registry,
table rows, the machine's matmul bound, FLOP counts and the data shapes the sections train on.

``benchmarks/run.py`` imports the ``bench_*`` modules, whose ``@section`` functions register here.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
# Spinning OpenMP threads collapse when the cores are shared with other processes (up to 8x
# slower convolutions in our measurements); must be set before torch is imported.  Export
# OMP_WAIT_POLICY=ACTIVE to measure with OpenMP's default instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ccl_lib.models import SmallCNN, build_model  # noqa: E402

Row = dict[str, Any]


# ----------------------------------------------------------------------------- context and registry


@dataclass
class Context:
    """What every section gets: the device, the size preset and a cache of measured peaks."""

    device: torch.device
    quick: bool
    repeats: int
    verbose: bool = True
    peaks: dict[str, dict[str, float]] = field(default_factory=dict)

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[bench] {msg}", file=sys.stderr, flush=True)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def peak(self, dtype: torch.dtype = torch.float32) -> dict[str, float]:
        """Matmul FLOP/s of large square products on this device (best and median of the repeats)."""
        key = str(dtype).replace("torch.", "")
        if key not in self.peaks:
            self.peaks[key] = measure_matmul_flops(self, dtype)
            rate = self.peaks[key]
            self.log(f"peak {key} matmul: {rate['best'] / 1e9:.1f} GFLOP/s (median {rate['median'] / 1e9:.1f})")
        return self.peaks[key]


@dataclass(frozen=True)
class Section:
    """A benchmark section: its key, title, the function measuring it, whether a plain run includes it
    (``default``), and an optional table of its own (``report(rows, env) -> markdown``)."""

    key: str
    title: str
    run: Callable[[Context], list[Row]]
    default: bool = True
    report: Optional[Callable[[list[Row], dict[str, Any]], str]] = None


#: The benchmark sections, in order; add one with ``@section("4", "title")``.
SECTIONS: dict[str, Section] = {}


def section(
    key: str, title: str, *, default: bool = True, report: Optional[Callable[[list[Row], dict[str, Any]], str]] = None
) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    """Register ``fn(ctx) -> rows`` as benchmark section ``key`` (rows: see :func:`make_row`).

    ``default=False`` leaves the section out of a run without ``--sections`` (for long measurements);
    ``report`` prints the section's rows as a table of their own instead of the main table's rows.
    """

    def register(fn: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        if key in SECTIONS:
            raise ValueError(f"benchmark section {key!r} is already registered")
        SECTIONS[key] = Section(key, title, fn, default, report)
        return fn

    return register


def make_row(
    section_key: str,
    case: str,
    ctx: Context,
    times: list[float],
    n: int,
    unit: str = "samples/s",
    flops_per_sample: Optional[float] = None,
    peak: Optional[float] = None,
    paired_peaks: Optional[list[float]] = None,
    cpu_times: Optional[list[float]] = None,
    cpu_peak: Optional[float] = None,
    **extra: Any,
) -> Row:
    """A table row: throughput = n / median(times); spread = min..max over the repeats.

    With ``paired_peaks`` (the matmul rate measured right before each repeat),
    ``paired_frac_of_bound`` is the median over repeats of throughput / bound
    computed with that repeat's own peak: robust to a machine whose load
    changes during the run.  With ``cpu_times`` (process CPU seconds of each
    repeat, CPU device only) and ``cpu_peak`` (matmul FLOPs per process CPU
    second), ``cpu_frac_of_bound`` is the same ratio in CPU time, which other
    processes on the machine barely disturb.
    """
    med = statistics.median(times)
    row: Row = {
        "section": section_key,
        "case": case,
        "device": ctx.device.type,
        "throughput": n / med,
        "best_throughput": n / min(times),
        "unit": unit,
        "median_s": med,
        "min_s": min(times),
        "max_s": max(times),
        "repeats": len(times),
        "n": n,
    }
    if flops_per_sample is not None and peak is not None:
        row["flops_per_sample"] = flops_per_sample
        row["bound"] = peak / flops_per_sample
        row["frac_of_bound"] = row["throughput"] / row["bound"]
        if paired_peaks:
            fr = [(n / t) * flops_per_sample / pk for t, pk in zip(times, paired_peaks)]
            row["paired_frac_of_bound"] = statistics.median(fr)
            row["paired_frac_min"], row["paired_frac_max"] = min(fr), max(fr)
    if cpu_times and ctx.device.type == "cpu":
        row["cpu_s_median"] = statistics.median(cpu_times)
        row["cpu_throughput"] = n / row["cpu_s_median"]
        if flops_per_sample is not None and cpu_peak is not None:
            row["cpu_frac_of_bound"] = row["cpu_throughput"] * flops_per_sample / cpu_peak
    row.update(extra)
    return row


# ----------------------------------------------------------------------------- measurements


_MATMUL_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def measure_matmul_flops(ctx: Context, dtype: torch.dtype, repeats: Optional[int] = None) -> dict[str, float]:
    """2 n^3 / time of an n x n product (n = 8192 on a GPU, 2048 on a CPU; 1024 with --quick on a CPU)."""
    dev = ctx.device
    if dev.type == "cuda":
        n, inner = 8192, 10
    else:
        n, inner = (1024, 4) if ctx.quick else (2048, 2)
    key = (str(dev), dtype, n)
    if key not in _MATMUL_CACHE:
        g = torch.Generator(device="cpu").manual_seed(0)
        _MATMUL_CACHE[key] = (
            torch.randn(n, n, generator=g).to(dev, dtype),
            torch.randn(n, n, generator=g).to(dev, dtype),
        )
        for _ in range(2):  # warm-up, once
            _MATMUL_CACHE[key][0] @ _MATMUL_CACHE[key][1]
    a, b = _MATMUL_CACHE[key]
    ctx.sync()
    rates, cpu_rates = [], []
    for _ in range(repeats if repeats is not None else max(ctx.repeats, 3)):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(inner):
            a @ b
        ctx.sync()
        rates.append(2 * n**3 * inner / (time.perf_counter() - t))
        cpu_rates.append(2 * n**3 * inner / max(time.process_time() - c, 1e-9))
    return {
        "best": max(rates),
        "median": statistics.median(rates),
        "n": n,
        "per_cpu_second": statistics.median(cpu_rates),
    }


def paired_peak(ctx: Context) -> float:
    """A quick sample of the fp32 matmul rate, taken right before a timed repeat."""
    return measure_matmul_flops(ctx, torch.float32, repeats=1)["best"]


def train_step_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one forward + backward on the batch ``x``, counted by torch's flop counter, per sample."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(x)


def forward_flops(model: nn.Module, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / len(x)


def sizes(ctx: Context, cpu_full: int, cpu_quick: int, gpu_full: int, gpu_quick: int) -> int:
    if ctx.device.type == "cuda":
        return gpu_quick if ctx.quick else gpu_full
    return cpu_quick if ctx.quick else cpu_full


def purchase_like(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random binary features of Purchase100's shape (600 features, 100 classes)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 600, generator=g) < 0.25).float(), torch.randint(0, 100, (n,), generator=g)


def cifar_like(n: int, k: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, k, (n,), generator=g)


def book_models(
    ctx: Context,
) -> list[tuple[str, Callable[[], nn.Module], Callable[[int], tuple[torch.Tensor, torch.Tensor]]]]:
    """The book's models with data shaped like theirs: Location MLP, small CNN and ResNet-8 on 32x32x3."""

    def location_like(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(0)
        return (torch.rand(n, 446, generator=g) < 0.3).float(), torch.randint(0, 30, (n,), generator=g)

    return [
        ("Location MLP (446-1024-512-256-128-30)", lambda: build_model("mlp", (446,), 30), location_like),
        ("SmallCNN", lambda: SmallCNN(3, 10), cifar_like),
        ("ResNet-8 (BatchNorm, width 16)", lambda: build_model("resnet8", (3, 32, 32), 10), cifar_like),
    ]


# ----------------------------------------------------------------------------- environment


def environment(ctx: Context) -> dict[str, Any]:
    env: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(ctx.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "quick": ctx.quick,
        "repeats": ctx.repeats,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            env["cpu"] = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), platform.processor()
            )
    except OSError:
        env["cpu"] = platform.processor()
    if ctx.device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(ctx.device)
    return env


def loadavg() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
