"""Section 3: inference over a split with ``ccl_lib.train.predict_logits``, the query every attack makes."""

from __future__ import annotations

import time
from typing import Any

import harness  # noqa: F401  (before torch: it sets OMP_WAIT_POLICY)
import torch
import torch.nn as nn
from harness import Context, Row, cifar_like, forward_flops, make_row, paired_peak, purchase_like, section, sizes

from ccl_lib.models import MLP, SmallCNN, build_model
from ccl_lib.train import predict_logits


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
