"""Sections 1 and 2: training throughput of ccl_lib's trainer (``ccl_lib.train.fit``) against the
DataLoader loop of the peer code bases and the machine's matmul bound, for the Purchase100 MLP, the
small CNN and (on a GPU) ResNet-34."""

from __future__ import annotations

import time
from typing import Callable

import harness  # noqa: F401  (before torch: it sets OMP_WAIT_POLICY)
import torch
import torch.nn as nn
import torch.nn.functional as F
from harness import Context, Row, cifar_like, make_row, paired_peak, purchase_like, section, sizes, train_step_flops

from ccl_lib.models import MLP, SmallCNN, build_model
from ccl_lib.train import TrainConfig, fit


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
