"""Section 6: bf16 autocast against float32 training of the book's models, each against its own
dtype's matmul bound (skipped on a CPU without native bf16, ``ccl_lib.accel.cpu_bf16_support()``)."""

from __future__ import annotations

import statistics

import harness  # noqa: F401  (before torch: it sets OMP_WAIT_POLICY)
import torch
from harness import Context, Row, book_models, make_row, section, sizes, train_step_flops

from ccl_lib.train import TrainConfig, fit


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
