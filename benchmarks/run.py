#!/usr/bin/env python
"""Performance benchmarks of ccl_lib: training throughput, inference throughput.

One command prints a markdown table (and ``--json PATH`` writes the numbers)::

    python benchmarks/run.py            # full run (minutes on a 2-core CPU)
    python benchmarks/run.py --quick    # small sizes, 3 repeats
    python benchmarks/run.py --sections 1,3 --device cpu --json out.json

Sections (``harness.SECTIONS``; add one with the ``@section`` decorator in a ``bench_*`` module
named after what it measures, and import that module below):

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
6. bf16 autocast against float32 training of the book's models (``bench_precision``).
7. ``fit_many``, stacked against sequential (``bench_fit_many``).
run-cost. Seconds per (arm, seed) of one full run (target + shadow + every attack) in the
   evidence ledger's settings, fp32 and CPU bf16 (``bench_run_cost``; long, so not in a plain run:
   ``--sections run-cost``, or ``python benchmarks/bench_run_cost.py``).

Modules: ``harness`` (context, registry, rows, bounds), ``bench_train`` (1-2), ``bench_inference``
(3), ``bench_attacks`` (4), ``bench_experiment`` (5), ``bench_precision`` (6), ``bench_fit_many``
(7), ``bench_run_cost`` (run-cost); this file is the driver that prints the table.

"vs peer way": section 1-2, the speed-up over the peer DataLoader loop;
section 4, over the brute-force threshold scan.

Every throughput is the median over ``--repeats`` timed epochs (after one
warm-up epoch); trainer and peer-loop epochs are interleaved so that both see
the same machine load, and a sample of the matmul rate is taken right before
each timed epoch ("of bound, paired": the median over repeats of throughput /
that repeat's bound).  The spread (min-max over repeats) and the load average
before and after are reported: on a shared machine, read the numbers with them.
``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` here (``harness``, before torch is imported).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Optional

import bench_attacks  # noqa: F401  (each bench_* module registers its sections with @section)
import bench_experiment  # noqa: F401
import bench_fit_many  # noqa: F401
import bench_inference  # noqa: F401
import bench_precision  # noqa: F401
import bench_run_cost  # noqa: F401
import bench_train  # noqa: F401
import harness  # noqa: F401  (imported by the bench_* modules first: it sets OMP_WAIT_POLICY before torch)
import torch
from harness import SECTIONS, Context, Row, environment, loadavg

from ccl_lib.utils import atomic_write_json, resolve_device

# ----------------------------------------------------------------------------- report


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


def _order(key: str) -> tuple[int, int, str]:
    """Numbered sections first, in their order, then the named ones (e.g. ``run-cost``)."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 7, 3 with --quick)")
    order = sorted(SECTIONS, key=_order)
    plain = [k for k in order if SECTIONS[k].default]
    ap.add_argument("--sections", default=",".join(plain), help=f"comma-separated keys of {order} (default {plain})")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    keys = [k.strip() for k in args.sections.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {unknown}; choose from {order}")
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
    own = {k for k in keys if SECTIONS[k].report is not None}
    main_rows = [r for r in rows if r["section"] not in own]
    if main_rows or not own:
        print(markdown(main_rows, env))
    for k in keys:
        report = SECTIONS[k].report
        if report is not None:
            print(f"\n{SECTIONS[k].title}\n\n" + report([r for r in rows if r["section"] == k], env))
    if args.json:
        atomic_write_json(
            args.json, {"environment": env, "sections": {k: SECTIONS[k].title for k in keys}, "rows": rows}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
