#!/usr/bin/env python
"""Performance benchmarks of ccl_lib: training throughput, inference throughput.

One command prints a markdown table (and ``--json PATH`` writes the numbers)::

    python benchmarks/run.py            # full run (minutes on a 2-core CPU)
    python benchmarks/run.py --quick    # small sizes, 3 repeats
    python benchmarks/run.py --sections 1,3 --device cpu --json out.json

Sections (``SECTIONS``; add one with the ``@section`` decorator):

1. Training throughput of the paper's Purchase100 MLP (600-1024-512-256-128-100,
   Tanh, batch 128, SGD with momentum 0.9 and weight decay 5e-4) on random data
   of Purchase100's shape: ccl_lib's trainer (``ccl_lib.train.fit``), the loop
   of the peer code bases (a ``DataLoader`` over a ``TensorDataset``, per-sample
   indexing, default settings, ``loss.item()`` every step), and the machine's
   bound: peak matmul FLOP/s measured in the same run / (6 x parameters).
2. The same for the small CNN on 32x32x3 images and, on a GPU, ResNet-34
   (bfloat16 autocast and channels-last in the trainer; the peer loop in
   float32).  The bound uses the FLOPs of one training step counted by
   ``torch.utils.flop_counter`` (for the MLP this is 6 x parameters minus the
   input-gradient of the first layer, which no one computes).
3. Inference over a split, the query every attack makes:
   ``ccl_lib.train.predict_logits`` (batched, ``torch.inference_mode``).
4. The class-dependent threshold search of the metric attacks
   (``ccl_lib.attacks.threshold.class_thresholds``: one sort, cumulative
   counts) against the brute-force scan of the peer code (a Python loop over
   every candidate threshold), on 100,000 scores of 10 and of 100 classes: the
   thresholds must be identical; "vs peer way" is the speed ratio.
5. One full experiment on Location (``ccl_lib.experiments.run_experiment``:
   target and shadow MLPs, every attack, P1), end to end and uncached, and
   the per-notebook execution times of the last ``make book``
   (``book/generated/.times``; "s per pass" is the seconds).

"vs peer way": section 1-2, the speed-up over the peer DataLoader loop;
section 4, over the brute-force threshold scan.

Every throughput is the median over ``--repeats`` timed epochs (after one
warm-up epoch); trainer and peer-loop epochs are interleaved so that both see
the same machine load, and a sample of the matmul rate is taken right before
each timed epoch ("of bound, paired": the median over repeats of throughput /
that repeat's bound).  The spread (min-max over repeats) and the load average
before and after are reported: on a shared machine, read the numbers with them.
``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` here (see below).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
# Spinning OpenMP threads collapse when the cores are shared with other processes (up to 8x
# slower convolutions in our measurements); must be set before torch is imported.  Export
# OMP_WAIT_POLICY=ACTIVE to measure with OpenMP's default instead.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ccl_lib.models import MLP, SmallCNN, build_model  # noqa: E402
from ccl_lib.train import TrainConfig, fit, predict_logits  # noqa: E402
from ccl_lib.utils import atomic_write_json, resolve_device  # noqa: E402

if TYPE_CHECKING:
    import numpy as np

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
    key: str
    title: str
    run: Callable[[Context], list[Row]]


#: The benchmark sections, in order; add one with ``@section("4", "title")``.
SECTIONS: dict[str, Section] = {}


def section(key: str, title: str) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    """Register ``fn(ctx) -> rows`` as benchmark section ``key`` (rows: see :func:`make_row`)."""

    def register(fn: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        if key in SECTIONS:
            raise ValueError(f"benchmark section {key!r} is already registered")
        SECTIONS[key] = Section(key, title, fn)
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


def peer_dataloader_epoch(model: nn.Module, loader, opt: torch.optim.Optimizer, device: torch.device) -> float:
    """One epoch of the loop the peer code bases use; returns its mean loss."""
    model.train()
    total, steps = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        steps += 1
    return total / steps


def compare_training(
    ctx: Context,
    section_key: str,
    name: str,
    make_model: Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    flops_per_sample: float,
    peak: float,
    peer: bool = True,
    extra_trainer_cases: tuple = (),
) -> list[Row]:
    """Interleave timed epochs of ``fit`` and of the peer DataLoader loop; return their rows."""
    from torch.utils.data import DataLoader, TensorDataset

    dev = ctx.device
    torch.manual_seed(0)
    model = make_model()
    cases: list[tuple[str, TrainConfig]] = [("ccl_lib fit", config)] + list(extra_trainer_cases)
    times: dict[str, list[float]] = {c: [] for c, _ in cases}
    cpu_times: dict[str, list[float]] = {c: [] for c, _ in cases}
    peaks: dict[str, list[float]] = {c: [] for c, _ in cases}
    peer_times: list[float] = []
    peer_cpu: list[float] = []
    peer_peaks: list[float] = []
    cpu_peak = ctx.peak(torch.float32)["per_cpu_second"]
    if peer:
        peer_model = make_model().to(dev)
        opt = torch.optim.SGD(
            peer_model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
        loader = DataLoader(TensorDataset(x, y), batch_size=config.batch_size, shuffle=True)
    for r in range(ctx.repeats + 1):  # round 0 is the warm-up
        for c, cfg in cases:
            pk = paired_peak(ctx)
            c0 = time.process_time()
            res = fit(model, x, y, config=cfg, progress=False)
            if r:
                times[c].append(res.history[-1]["seconds"])
                cpu_times[c].append(time.process_time() - c0)
                peaks[c].append(pk)
        if peer:
            pk = paired_peak(ctx)
            ctx.sync()
            t, c0 = time.perf_counter(), time.process_time()
            peer_dataloader_epoch(peer_model, loader, opt, dev)
            ctx.sync()
            if r:
                peer_times.append(time.perf_counter() - t)
                peer_cpu.append(time.process_time() - c0)
                peer_peaks.append(pk)
        ctx.log(
            f"{name}: round {r}/{ctx.repeats} "
            + " ".join(f"{c}={v[-1]:.3f}s" for c, v in times.items() if v)
            + (f" peer={peer_times[-1]:.3f}s" if peer_times else "")
        )
    rows = []
    n = len(x)
    peer_row = None
    if peer:
        peer_row = make_row(
            section_key,
            f"{name}: DataLoader loop (peer code)",
            ctx,
            peer_times,
            n,
            flops_per_sample=flops_per_sample,
            peak=peak,
            paired_peaks=peer_peaks,
            cpu_times=peer_cpu,
            cpu_peak=cpu_peak,
        )
    for c, _ in cases:
        row = make_row(
            section_key,
            f"{name}: {c}",
            ctx,
            times[c],
            n,
            flops_per_sample=flops_per_sample,
            peak=peak,
            paired_peaks=peaks[c],
            cpu_times=cpu_times[c],
            cpu_peak=cpu_peak,
        )
        if peer_row is not None:
            row["speedup_vs_peer"] = row["throughput"] / peer_row["throughput"]
            if "cpu_throughput" in row:
                row["cpu_speedup_vs_peer"] = row["cpu_throughput"] / peer_row["cpu_throughput"]
        rows.append(row)
    if peer_row is not None:
        rows.append(peer_row)
    return rows


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


# ----------------------------------------------------------------------------- sections


@section("1", "Training throughput: Purchase100 MLP (600-1024-512-256-128-100, batch 128)")
def bench_mlp(ctx: Context) -> list[Row]:
    n = sizes(ctx, 4096, 2048, 49408, 12288)
    x, y = purchase_like(n)
    params = sum(p.numel() for p in MLP(600, 100).parameters())
    peak = ctx.peak(torch.float32)["best"]
    cfg = TrainConfig(epochs=1, device=str(ctx.device), track_train_loss=False)
    rows = compare_training(
        ctx,
        "1",
        "MLP",
        lambda: MLP(600, 100),
        x,
        y,
        cfg,
        6 * params,
        peak,
        extra_trainer_cases=(
            ("ccl_lib fit + per-epoch train-loss stats", TrainConfig(epochs=1, device=str(ctx.device))),
        ),
    )
    counted = train_step_flops(MLP(600, 100).to(ctx.device), x[:128].to(ctx.device), y[:128].to(ctx.device))
    for r in rows:
        r["params"] = params
        r["counted_flops_per_sample"] = counted
    return rows


@section("2", "Training throughput: small CNN and (GPU) ResNet-34 on 32x32x3 images, batch 128")
def bench_cnn(ctx: Context) -> list[Row]:
    dev = ctx.device
    rows: list[Row] = []
    n = sizes(ctx, 1024, 512, 25600, 6400)
    x, y = cifar_like(n)
    peak32 = ctx.peak(torch.float32)["best"]
    fl = train_step_flops(SmallCNN(3, 10).to(dev), x[:128].to(dev), y[:128].to(dev))
    cfg = TrainConfig(epochs=1, device=str(dev), track_train_loss=False)
    rows += compare_training(ctx, "2", "SmallCNN", lambda: SmallCNN(3, 10), x, y, cfg, fl, peak32)
    if dev.type == "cuda":
        peak16 = ctx.peak(torch.bfloat16)["best"]
        n = 3200 if ctx.quick else 12800
        x, y = cifar_like(n)
        fl = train_step_flops(build_model("resnet34", (3, 32, 32), 10).to(dev), x[:128].to(dev), y[:128].to(dev))
        amp_cfg = TrainConfig(epochs=1, device=str(dev), track_train_loss=False, amp=True)
        res = compare_training(
            ctx,
            "2",
            "ResNet-34",
            lambda: build_model("resnet34", (3, 32, 32), 10),
            x,
            y,
            amp_cfg,
            fl,
            peak32,
            extra_trainer_cases=(
                (
                    "ccl_lib fit, float32 (amp=False)",
                    TrainConfig(epochs=1, device=str(dev), track_train_loss=False, amp=False),
                ),
                (
                    "ccl_lib fit + crop/flip augmentation",
                    TrainConfig(epochs=1, device=str(dev), track_train_loss=False, augment=True),
                ),
            ),
        )
        for r in res:
            r["frac_of_bf16_peak"] = r["throughput"] * fl / peak16
        rows += res
    return rows


@section("3", "Inference over a split: predict_logits (batched, inference_mode)")
def bench_inference(ctx: Context) -> list[Row]:
    dev = ctx.device
    rows: list[Row] = []
    peak32 = ctx.peak(torch.float32)["best"]

    def run(name: str, model: nn.Module, x: torch.Tensor, **kw: Any) -> Row:
        model = model.to(dev)
        fl = forward_flops(model, x[:256].to(dev))
        xd = x.to(dev)
        predict_logits(model, xd[:4096], **kw)  # warm-up
        times, peaks, cpu = [], [], []
        for _ in range(ctx.repeats):
            peaks.append(paired_peak(ctx))
            ctx.sync()
            t, c0 = time.perf_counter(), time.process_time()
            out = predict_logits(model, xd, **kw)
            ctx.sync()
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c0)
        assert out.shape[0] == len(x)
        ctx.log(f"inference {name}: {[round(t, 3) for t in times]}")
        row = make_row(
            "3",
            f"{name}: predict_logits",
            ctx,
            times,
            len(x),
            flops_per_sample=fl,
            peak=peak32,
            paired_peaks=peaks,
            cpu_times=cpu,
            cpu_peak=ctx.peak(torch.float32)["per_cpu_second"],
        )
        return row

    torch.manual_seed(0)
    x, _ = purchase_like(sizes(ctx, 49408, 8192, 49408, 49408))
    rows.append(run("MLP (Purchase100 split)", MLP(600, 100), x))
    x, _ = cifar_like(sizes(ctx, 4096, 1024, 15000, 15000))
    rows.append(run("SmallCNN (CIFAR-size split)", SmallCNN(3, 10), x))
    if dev.type == "cuda":
        x, _ = cifar_like(15000)
        net = build_model("resnet34", (3, 32, 32), 10)
        rows.append(run("ResNet-34 (CIFAR split), float32", net, x))
        rows.append(run("ResNet-34 (CIFAR split), bf16 autocast", net, x, amp=True))
    return rows


def brute_force_class_thresholds(
    s_in: np.ndarray, s_out: np.ndarray, y_in: np.ndarray, y_out: np.ndarray, num_classes: int
) -> np.ndarray:
    """The peer way (Song & Mittal's reference code): per class, a Python loop over every
    observed score, counting with ``np.sum`` for each candidate (O(n^2) per class)."""
    import numpy as np

    out = np.empty(num_classes)
    for c in range(num_classes):
        a, b = s_in[y_in == c], s_out[y_out == c]
        best, best_v = None, None
        for v in np.unique(np.r_[a, b])[::-1]:  # largest first: ties keep the largest threshold
            obj = int(np.sum(a >= v)) * len(b) - int(np.sum(b >= v)) * len(a)  # n0 n1 (TPR - FPR)
            if best is None or obj > best:
                best, best_v = obj, v
        out[c] = best_v
    return out


@section("4", "Class-dependent threshold search: vectorized vs brute force")
def bench_thresholds(ctx: Context) -> list[Row]:
    import numpy as np

    from ccl_lib.attacks.threshold import class_thresholds

    n = sizes(ctx, 100_000, 20_000, 100_000, 100_000)
    rows: list[Row] = []
    for k, like in ((10, "CIFAR-10"), (100, "Purchase100")):
        rng = np.random.default_rng(k)
        y = rng.integers(0, k, n)
        member = rng.random(n) < 0.5
        s = rng.normal(member * 0.5, 1.0)
        s[rng.random(n) < 0.05] = 0.0  # 5% exact ties, like saturated losses
        s_in, s_out, y_in, y_out = s[member], s[~member], y[member], y[~member]
        times_fast, times_brute = [], []
        for _ in range(ctx.repeats):
            t = time.perf_counter()
            fast = class_thresholds(s_in, s_out, y_in, y_out, num_classes=k)
            times_fast.append(time.perf_counter() - t)
        for _ in range(max(1, min(ctx.repeats, 3))):  # the slow side: at most 3 repeats
            t = time.perf_counter()
            brute = brute_force_class_thresholds(s_in, s_out, y_in, y_out, k)
            times_brute.append(time.perf_counter() - t)
        identical = bool(np.array_equal(fast, brute))
        ctx.log(f"thresholds, {k} classes: fast {times_fast}, brute {times_brute}, identical {identical}")
        if not identical:
            raise AssertionError(f"vectorized and brute-force thresholds differ ({k} classes)")
        ratio = statistics.median(times_brute) / statistics.median(times_fast)
        rows.append(
            make_row(
                "4",
                f"class_thresholds, {n:,} scores, {k} classes ({like}); identical: {identical}",
                ctx,
                times_fast,
                n,
                unit="scores/s",
                speedup_vs_peer=ratio,
            )
        )
        rows.append(
            make_row(
                "4",
                f"brute force (loop over candidates), {n:,} scores, {k} classes",
                ctx,
                times_brute,
                n,
                unit="scores/s",
            )
        )
    return rows


@section("5", "One full experiment on Location (target + shadow, all attacks), end to end")
def bench_experiment(ctx: Context) -> list[Row]:
    from ccl_lib.experiments import RunSpec, run_experiment

    epochs = 5 if ctx.quick else 30
    spec = RunSpec(dataset="location", defense="vanilla", epochs=epochs, size=1000, seed=0)
    run_experiment(
        RunSpec(dataset="location", defense="vanilla", epochs=1, size=200, seed=0),
        cache=False,
        device=ctx.device,
        progress=False,
    )  # warm-up: data preparation, imports
    times = []
    for _ in range(max(1, min(ctx.repeats, 3))):
        t = time.perf_counter()
        res = run_experiment(spec, cache=False, device=ctx.device, progress=False)
        times.append(time.perf_counter() - t)
    ctx.log(f"experiment: {times}")
    n_attacks = len({r["attack"] for r in res.rows})
    rows = [
        make_row(
            "5",
            f"Location MLP, 1,000/part, {epochs} epochs, 2 models, {n_attacks} attacks "
            f"(max adv. {res.rows[-1]['max_advantage']:.3f})",
            ctx,
            times,
            1,
            unit="runs/s",
        )
    ]
    times_dir = Path(__file__).resolve().parents[1] / "book" / "generated" / ".times"
    for f in sorted(times_dir.glob("*.txt")) if times_dir.is_dir() else []:
        secs = float(f.read_text().split()[0])
        rows.append(make_row("5", f"notebook {f.stem} (last `make book`)", ctx, [secs], 1, unit="runs/s"))
    if not rows[1:]:
        ctx.log(f"no notebook times in {times_dir}: run `make book` first")
    return rows


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


@section("6", "bf16 autocast against float32 training: the book's models, each against its dtype's matmul bound")
def bench_bf16(ctx: Context) -> list[Row]:
    from ccl_lib.accel import cpu_bf16_support

    dev = ctx.device
    support = cpu_bf16_support()
    if dev.type == "cpu" and not support["bf16"]:
        ctx.log(f"section 6 skipped: this CPU has no native bf16 (AMX / AVX512-BF16): {support}")
        return []
    peak32, peak16 = ctx.peak(torch.float32)["best"], ctx.peak(torch.bfloat16)["best"]
    rows: list[Row] = []
    for name, make, data in book_models(ctx):
        n = sizes(ctx, 2048 if "MLP" in name else 512, 1024 if "MLP" in name else 256, 25600, 6400)
        x, y = data(n)
        fl = train_step_flops(make().to(dev), x[:128].to(dev), y[:128].to(dev))
        base = dict(epochs=1, device=str(dev), track_train_loss=False)
        cases = {
            "float32": TrainConfig(**base, amp=False, cpu_amp=False),
            "bf16 autocast": TrainConfig(**base, amp=True, cpu_amp=True),
        }
        torch.manual_seed(0)
        models = {c: make() for c in cases}
        times: dict[str, list[float]] = {c: [] for c in cases}
        for r in range(ctx.repeats + 1):  # round 0 warms up; the two dtypes alternate
            for c, cfg in cases.items():
                res = fit(models[c], x, y, config=cfg, progress=False)
                if r:
                    times[c].append(res.history[-1]["seconds"])
        t32, t16 = statistics.median(times["float32"]), statistics.median(times["bf16 autocast"])
        ctx.log(f"{name}: fp32 {t32:.3f}s bf16 {t16:.3f}s")
        r32 = make_row("6", f"{name}: float32", ctx, times["float32"], n, flops_per_sample=fl, peak=peak32)
        r16 = make_row("6", f"{name}: bf16 autocast", ctx, times["bf16 autocast"], n, flops_per_sample=fl, peak=peak16)
        r16["bf16_speedup"] = r16["throughput"] / r32["throughput"]
        rows += [r32, r16]
    return rows


@section("7", "fit_many: models stepped together (stacked parameters, vmap) against one after the other")
def bench_fit_many(ctx: Context) -> list[Row]:
    import copy

    from ccl_lib.train import fit_many

    dev = ctx.device
    rows: list[Row] = []
    plan = [(spec, k) for spec in book_models(ctx) for k in ((2, 4) if "MLP" in spec[0] else (2,))]
    for (name, make, data), k in plan:
        n = sizes(ctx, 1024 if "MLP" in name else 256, 512 if "MLP" in name else 128, 12800, 3200)
        sets = [data(n) for _ in range(k)]
        cfgs = [TrainConfig(epochs=1, device=str(dev), track_train_loss=False, seed=i) for i in range(k)]
        torch.manual_seed(0)
        models = [make() for _ in range(k)]
        seq_models = [copy.deepcopy(m) for m in models]
        t_stack, t_seq = [], []
        for r in range(ctx.repeats + 1):
            res = fit_many(models, sets, configs=cfgs, strategy="stacked", progress=False)
            res_seq = fit_many(seq_models, sets, configs=cfgs, strategy="sequential", progress=False)
            if r:
                t_stack.append(res[0].history[-1]["seconds"])
                t_seq.append(sum(rr.history[-1]["seconds"] for rr in res_seq))
        ctx.log(f"{name} x{k}: stacked {statistics.median(t_stack):.3f}s sequential {statistics.median(t_seq):.3f}s")
        rs = make_row("7", f"{name} x{k}: sequential", ctx, t_seq, k * n)
        rt = make_row("7", f"{name} x{k}: stacked", ctx, t_stack, k * n)
        rt["stacked_speedup"] = rt["throughput"] / rs["throughput"]
        rows += [rs, rt]
    return rows


# ----------------------------------------------------------------------------- report


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


def fmt_rate(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _pct(r: Row, key: str) -> str:
    return f"{100 * r[key]:.1f}%" if key in r else ""


def _unit(r: Row) -> str:
    return "" if r.get("unit", "samples/s") == "samples/s" else f" {r['unit']}"


def _times(r: Row, key: str) -> str:
    return f"{r[key]:.2f}x" if key in r else ""


def markdown(rows: list[Row], env: dict[str, Any]) -> str:
    """The table: wall-clock medians first, then the contention-robust CPU-time ratios (CPU only)."""
    cpu = env["device"].startswith("cpu")
    head = (
        f"Device: {env['device']} ({env.get('gpu', env.get('cpu'))}), torch {env['torch']}, "
        f"{env['torch_threads']} threads, OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, "
        f"load average {env.get('load_before')} -> {env.get('load_after')}; "
        f"peak fp32 matmul {env['peak_fp32_gflops']:.1f} GFLOP/s (median {env['peak_fp32_median_gflops']:.1f})"
        + (f", bf16 {env['peak_bf16_gflops']:.0f} GFLOP/s" if "peak_bf16_gflops" in env else "")
        + (
            f", {env['peak_fp32_per_cpu_s_gflops']:.1f} GFLOP per CPU-second"
            if "peak_fp32_per_cpu_s_gflops" in env
            else ""
        )
        + f"; medians of {env['repeats']} repeats."
    )
    cols = [
        "#",
        "case",
        "samples/s (median)",
        "samples/s (best)",
        "s per pass (min-max)",
        "bound samples/s",
        "median / bound",
        "of bound, paired (min-max)",
        "vs peer way",
    ]
    if cpu:
        cols += ["of bound, CPU time", "vs DataLoader, CPU time"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(cols) - 2)) + "|"]
    for r in rows:
        frac = _pct(r, "frac_of_bound")
        if "frac_of_bf16_peak" in r:
            frac += f" ({100 * r['frac_of_bf16_peak']:.1f}% of bf16)"
        paired = ""
        if "paired_frac_of_bound" in r:
            paired = (
                f"{100 * r['paired_frac_of_bound']:.1f}% "
                f"({100 * r['paired_frac_min']:.0f}-{100 * r['paired_frac_max']:.0f}%)"
            )
        cells = [
            r["section"],
            r["case"],
            fmt_rate(r["throughput"]) + _unit(r),
            fmt_rate(r["best_throughput"]) + _unit(r),
            f"{r['min_s']:.3f}-{r['max_s']:.3f}",
            fmt_rate(r["bound"]) if "bound" in r else "",
            frac,
            paired,
            _times(r, "speedup_vs_peer") or _times(r, "bf16_speedup") or _times(r, "stacked_speedup"),
        ]
        if cpu:
            cells += [_pct(r, "cpu_frac_of_bound"), _times(r, "cpu_speedup_vs_peer")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 7, 3 with --quick)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated keys of {list(SECTIONS)}")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.sections.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    if repeats < 1:
        ap.error("--repeats must be >= 1")
    ctx = Context(device=resolve_device(args.device), quick=args.quick, repeats=repeats, verbose=not args.quiet)
    env = environment(ctx)
    env["load_before"] = loadavg()
    rows: list[Row] = []
    t0 = time.perf_counter()
    for k in keys:
        ctx.log(f"section {k}: {SECTIONS[k].title}")
        rows += SECTIONS[k].run(ctx)
    env["load_after"] = loadavg()
    env["seconds"] = time.perf_counter() - t0
    p32 = ctx.peak(torch.float32)
    env["peak_fp32_gflops"], env["peak_fp32_median_gflops"] = p32["best"] / 1e9, p32["median"] / 1e9
    if ctx.device.type == "cpu":
        env["peak_fp32_per_cpu_s_gflops"] = p32["per_cpu_second"] / 1e9
    if "bfloat16" in ctx.peaks:
        env["peak_bf16_gflops"] = ctx.peaks["bfloat16"]["best"] / 1e9
    print(markdown(rows, env))
    if args.json:
        atomic_write_json(
            args.json, {"environment": env, "sections": {k: SECTIONS[k].title for k in keys}, "rows": rows}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
