#!/usr/bin/env python
"""Section run-cost: the cost of one run of the evidence ledger (issue 20, item 7), measured.

Seconds per (arm, seed) of one full run -- target and shadow models trained, every attack, P1:
``ccl_lib.experiments.run_experiment(spec, cache=False)`` -- for

* Location, MLP, 1,000 examples per part, 30 epochs (Table 1's CPU setting), arms w/o, CCEL and
  CCQL (alpha 0.5);
* the same in the paper's tabular recipe, 120 epochs with milestones 50 and 100;
* the ``cifar10-cpu`` named experiment (ResNet-8 on CIFAR-10, 500 images per part, 50 epochs),
  one seed, the undefended arm,

in float32 and, on a CPU with native bf16 (``ccl_lib.accel.cpu_bf16_support()``), in bf16 autocast.
:class:`ccl_lib.experiments.RunSpec` has no way to ask for CPU bf16 (its ``amp`` acts on CUDA
only, and a new setting would change every run's cache key), so the bf16 cost is measured
through the trainer directly: the run's two models trained with ``RunSpec.train_config`` plus
``TrainConfig.cpu_amp=True`` (:func:`ccl_lib.accel.autocast`), on the run's own split, without the
attacks -- and, beside it, the same "fit only" in float32, so that the two compare.

Run it alone (it prints its own table: setting, arm, seed, precision, measured, seconds, threads, cpu)::

    python benchmarks/bench_run_cost.py            # the full measurement (tens of minutes on 2 cores)
    python benchmarks/bench_run_cost.py --quick    # 2 epochs, 200 examples per part: a few seconds
    python benchmarks/run.py --sections run-cost   # the same inside the benchmark driver
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any, Optional, Sequence

import harness  # noqa: F401  (before torch: it sets OMP_WAIT_POLICY)
import torch
from harness import Context, Row, environment, make_row, section

__all__ = ["RunCostOptions", "OPTIONS", "settings", "bench_run_cost", "report", "main"]

#: Table 1's arms on Location: ``{arm: (defense, hyperparameters)}``.
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "vanilla": ("vanilla", {}),
    "ccel": ("ccel", {"alpha": 0.5}),
    "ccql": ("ccql", {"alpha": 0.5}),
}
#: The measured settings, in the order of the table.
SETTING_NAMES = ("location-30", "location-120", "cifar10-cpu")


@dataclasses.dataclass
class RunCostOptions:
    """What :func:`bench_run_cost` measures (set by ``main``; ``benchmarks/run.py`` uses the defaults).

    Attributes:
        settings: the settings of :data:`SETTING_NAMES` to measure.
        arms: the Location arms of :data:`ARMS` (``cifar10-cpu`` always measures its undefended arm).
        seeds: the seeds (each a separate split and run).
        bf16: ``"auto"`` (measure bf16 on a CPU with native bf16), ``"on"`` (also when emulated), ``"off"``.
    """

    settings: Sequence[str] = SETTING_NAMES
    arms: Sequence[str] = tuple(ARMS)
    seeds: Sequence[int] = (0,)
    bf16: str = "auto"


#: The options of the next :func:`bench_run_cost` call.
OPTIONS = RunCostOptions()


def settings(quick: bool, options: RunCostOptions) -> list[tuple[str, str, Any]]:
    """``(setting label, arm, RunSpec)`` of every measured run; ``quick``: 2 epochs, 200 examples per part."""
    from ccl_lib.experiments import RunSpec, load_experiment

    out: list[tuple[str, str, Any]] = []
    short = {"epochs": 2, "milestones": (), "size": 200} if quick else {}
    for name in options.settings:
        if name == "cifar10-cpu":
            exp = load_experiment("cifar10-cpu")
            base = next(s for s in exp.specs() if s.defense == "vanilla")
            for seed in options.seeds:
                spec = dataclasses.replace(base, seed=int(seed), **short)
                label = f"cifar10-cpu ({spec.resolved_model}, {spec.epochs} ep, {spec.size}/part)"
                out.append((label, "vanilla", spec))
            continue
        epochs, milestones = (30, ()) if name == "location-30" else (120, (50, 100))
        for arm in options.arms:
            defense, hp = ARMS[arm]
            for seed in options.seeds:
                spec = RunSpec("location", defense=defense, hparams=hp, epochs=epochs, milestones=milestones,
                               size=1000, seed=int(seed))  # fmt: skip
                spec = dataclasses.replace(spec, **short)
                ms = f", milestones {list(spec.milestones)}" if spec.milestones else ""
                out.append((f"location (mlp, {spec.epochs} ep{ms}, {spec.size}/part)", arm, spec))
    return out


def _check(options: RunCostOptions) -> None:
    bad = [s for s in options.settings if s not in SETTING_NAMES]
    if bad or not options.settings:
        raise ValueError(f"run-cost: settings {bad or list(options.settings)} unknown; choose from {SETTING_NAMES}")
    bad = [a for a in options.arms if a not in ARMS]
    if bad or not options.arms:
        raise ValueError(f"run-cost: arms {bad or list(options.arms)} unknown; choose from {list(ARMS)}")
    if not options.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in options.seeds):
        raise ValueError(f"run-cost: seeds must be non-negative integers, got {list(options.seeds)}")
    if options.bf16 not in ("auto", "on", "off"):
        raise ValueError(f"run-cost: bf16 must be auto, on or off, got {options.bf16!r}")


def fit_only(spec: Any, device: torch.device, *, cpu_amp: bool) -> float:
    """Seconds to train the run's target and shadow models (no attacks), the recipe of
    ``spec.train_config`` with ``cpu_amp`` (bf16 autocast on the CPU), on the run's own split."""
    from ccl_lib.data import load_dataset
    from ccl_lib.experiments.spec import derive_seed
    from ccl_lib.models import build_model
    from ccl_lib.splits import make_splits
    from ccl_lib.utils import seed_everything

    ds = load_dataset(spec.dataset)
    split = make_splits(ds.y, n_parts=spec.n_parts(), size=spec.size, seed=spec.seed)
    parts = {name: (ds.features(idx), torch.from_numpy(ds.y[idx]).long()) for name, idx in split.items()}
    t = time.perf_counter()
    for role, (tr, te) in (("target", ("target_train", "target_test")), ("shadow", ("shadow_train", "shadow_test"))):
        d = spec.make_defense()
        rseed = derive_seed(spec.seed, role)
        seed_everything(rseed)
        model = build_model(spec.resolved_model, ds.input_shape, ds.num_classes, **d.model_kwargs)
        config = dataclasses.replace(spec.train_config(rseed, device), cpu_amp=cpu_amp)
        d.train(model, *parts[tr], config=config, x_test=parts[te][0], y_test=parts[te][1],
                reference=parts.get("reference") if d.needs_reference else None, progress=False)  # fmt: skip
    return time.perf_counter() - t


def _bf16(ctx: Context, options: RunCostOptions) -> bool:
    from ccl_lib.accel import cpu_bf16_support

    if ctx.device.type != "cpu" or options.bf16 == "off":
        return False
    return options.bf16 == "on" or bool(cpu_bf16_support()["bf16"])


@section("run-cost", "Cost of one run (target + shadow + every attack), seconds per (arm, seed)", default=False,
         report=lambda rows, env: report(rows, env))  # fmt: skip
def bench_run_cost(ctx: Context) -> list[Row]:
    """The rows of the run-cost table (see the module's docstring); uses :data:`OPTIONS`."""
    from ccl_lib.experiments import RunSpec, run_experiment

    options = OPTIONS
    _check(options)
    plan = settings(ctx.quick, options)
    bf16 = _bf16(ctx, options)
    cpu = environment(ctx).get("gpu" if ctx.device.type == "cuda" else "cpu", "")
    threads = torch.get_num_threads()
    full_precision = "bf16 autocast (CUDA, spec.amp)" if ctx.device.type == "cuda" else "fp32"
    warmed: set[str] = set()
    rows: list[Row] = []
    for label, arm, spec in plan:
        if spec.dataset not in warmed:  # data preparation and imports, once per data set
            warm = RunSpec(spec.dataset, model=spec.model, epochs=1, size=100, seed=0)
            run_experiment(warm, cache=False, device=ctx.device, progress=False)
            warmed.add(spec.dataset)
        cases: list[tuple[str, str, Any]] = [
            ("full run", full_precision, lambda s=spec: _timed_run(s, ctx.device)),
        ]
        if bf16:
            cases += [
                ("fit only (target + shadow)", "fp32", lambda s=spec: fit_only(s, ctx.device, cpu_amp=False)),
                ("fit only (target + shadow)", "bf16 autocast", lambda s=spec: fit_only(s, ctx.device, cpu_amp=True)),
            ]
        for measured, precision, fn in cases:
            times = [fn() for _ in range(max(1, min(ctx.repeats, 3)) if not ctx.quick else 1)]
            ctx.log(f"run-cost {label} {arm} seed {spec.seed} {measured} {precision}: {[round(t, 2) for t in times]}")
            rows.append(make_row("run-cost", f"{label}, {arm}, seed {spec.seed}: {measured}, {precision}", ctx,
                                 times, 1, unit="runs/s", setting=label, arm=arm, seed=int(spec.seed),
                                 precision=precision, measured=measured, threads=threads, cpu=cpu))  # fmt: skip
    return rows


def _timed_run(spec: Any, device: torch.device) -> float:
    from ccl_lib.experiments import run_experiment

    t = time.perf_counter()
    run_experiment(spec, cache=False, device=device, progress=False)
    return time.perf_counter() - t


def report(rows: list[Row], env: dict[str, Any]) -> str:
    """The run-cost table: setting, arm, seed, precision, measured, seconds (median), threads, cpu."""
    cols = ["setting", "arm", "seed", "precision", "measured", "seconds", "threads", "cpu"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * 5 + ["---:", "---:", "---"]) + "|"]
    for r in rows:
        cells = [r["setting"], r["arm"], r["seed"], r["precision"], r["measured"], f"{r['median_s']:.2f}",
                 r["threads"], r["cpu"]]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Measure and print the run-cost table (``--quick``: 2 epochs, 200 examples per part)."""
    from ccl_lib.utils import resolve_device

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 epochs, 200 examples per part, one timing each")
    ap.add_argument("--settings", default=",".join(SETTING_NAMES), help=f"comma-separated of {SETTING_NAMES}")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"Location arms, comma-separated of {list(ARMS)}")
    ap.add_argument("--seeds", default="0", help="comma-separated non-negative integers (default 0)")
    ap.add_argument("--bf16", default="auto", choices=("auto", "on", "off"), help="measure CPU bf16 autocast")
    ap.add_argument("--repeats", type=int, default=1, help="timings per run (median; at most 3)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds must be comma-separated non-negative integers, got {args.seeds!r}")
    global OPTIONS
    names = [s.strip() for s in args.settings.split(",") if s.strip()]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    OPTIONS = RunCostOptions(settings=names, arms=arms, seeds=seeds, bf16=args.bf16)
    try:
        _check(OPTIONS)
    except ValueError as exc:
        ap.error(str(exc))
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.threads is not None:
        if args.threads < 1:
            ap.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    ctx = Context(device=resolve_device(args.device), quick=args.quick, repeats=args.repeats, verbose=not args.quiet)
    rows = bench_run_cost(ctx)
    print(report(rows, environment(ctx)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
