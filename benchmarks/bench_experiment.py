"""Section 5: one full experiment on Location end to end and uncached
(``ccl_lib.experiments.run_experiment``), and each notebook's time from the last ``make book``."""

from __future__ import annotations

import time
from pathlib import Path

from harness import Context, Row, make_row, section


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
