"""Section 7: ``fit_many`` with the models stepped together (stacked parameters, one ``vmap``-ed
step) against one after the other."""

from __future__ import annotations

import statistics

import harness  # noqa: F401  (before torch: it sets OMP_WAIT_POLICY)
import torch
from harness import Context, Row, book_models, make_row, section, sizes

from ccl_lib.train import TrainConfig


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
