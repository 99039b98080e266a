"""Command line: run the paper's named experiments (``ccl`` or ``python -m ccl_lib``).

::

    python -m ccl_lib list                                  # named experiments
    python -m ccl_lib show table1-location --set epochs=5   # the runs a config expands to
    python -m ccl_lib run smoke-location --workers 2 --out results.csv
    python -m ccl_lib run figure2-cifar10 --ray-address ray://head:10001
    python -m ccl_lib run my_sweep.json --set seeds=[0,1] --set defenses.ccql='[{"alpha": 0.3}]'
    python -m ccl_lib record evidence-table1-location --seeds 0-19 --workers 2   # into results/ledger
    python -m ccl_lib ledger show                           # what the evidence ledger holds
    python -m ccl_lib ledger verify --sample 3 --budget-s 300   # recompute 3 records and compare

``run`` resumes: finished runs are loaded from the result cache
(``$CCL_CACHE_DIR`` or ``--cache``), only missing ones are computed, and the
summary line says how many of each (``computed N, cached M``).  The notebooks
call the same engine (:func:`ccl_lib.experiments.run_grid`).

Exit status: 0 on success, 1 when runs failed (the others are cached), 2 for
invalid arguments (unknown experiment, a ``--set`` value or config entry of
the wrong type or range -- checked against
:data:`ccl_lib.experiments.named.SCHEMA` before anything runs, the message
names the setting, the value and what is allowed -- or unavailable data).

``record`` runs a named experiment through the same cache and adds one evidence-ledger record
per finished run (:mod:`ccl_lib.experiments.ledger`) as soon as it finishes; runs the ledger
already holds are not computed again.  ``ledger verify`` exits 1 when a record is refused (bad
digest, unknown format, a spec that no longer parses or does not give its key) or a recomputed
record disagrees.

Damaged cache entries are recomputed with one warning line each
(:meth:`ccl_lib.experiments.ResultCache.check_record`); two ``run``
commands on one cache share the work (one writer per entry).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Optional, Sequence

__all__ = ["build_parser", "main"]


def _workers(text: str):
    if text == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--workers must be a positive integer or 'auto', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--workers must be a positive integer or 'auto', got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ccl`` (sub-commands ``list``, ``show``, ``run``, ``record``, ``ledger``)."""
    p = argparse.ArgumentParser(
        prog="ccl",
        description="Membership inference experiments of Liu et al. (ICML 2024) with ccl_lib.",
    )
    sub = p.add_subparsers(dest="command", metavar="{list,show,run,record,ledger}")
    sub.required = True
    sub.add_parser("list", help="list the named experiments")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("experiment", help="a named experiment (see 'list') or a path to a JSON config")
        sp.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config entry, value as JSON (repeatable): --set epochs=5 --set seeds=[0,1]",
        )

    show = sub.add_parser("show", help="print an experiment's config and the runs it expands to")
    common(show)
    run = sub.add_parser("run", help="run an experiment (resumes from the cache)")
    common(run)
    run.add_argument("--workers", type=_workers, default=1, help="parallel runs: N or 'auto' (default 1)")
    run.add_argument("--backend", choices=("local", "ray"), default="local", help="process pool or Ray")
    run.add_argument("--ray-address", default=None, help="Ray cluster address (implies --backend ray)")
    run.add_argument("--cache", default=None, help="result cache folder (default $CCL_CACHE_DIR or the user cache)")
    run.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    run.add_argument("--out", default=None, help="write the result rows to this .csv or .json file")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (also CCL_PROGRESS=0)")
    run.add_argument("--dry-run", action="store_true", help="only say which runs are cached and which would run")

    rec = sub.add_parser("record", help="run a named experiment and add its runs to the evidence ledger")
    common(rec)
    rec.add_argument(
        "--seeds", type=_seeds, default=None, help="seeds to record: 0-19, 0,1,2 or 0-4,10 (default: the config's)"
    )
    rec.add_argument("--workers", type=_workers, default=1, help="parallel runs: N or 'auto' (default 1)")
    rec.add_argument("--backend", choices=("local", "ray"), default="local", help="process pool or Ray")
    rec.add_argument("--ray-address", default=None, help="Ray cluster address (implies --backend ray)")
    rec.add_argument("--cache", default=None, help="result cache folder (default $CCL_CACHE_DIR or the user cache)")
    rec.add_argument("--ledger", default=None, help="ledger folder (default $CCL_LEDGER_DIR or results/ledger)")
    rec.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    rec.add_argument("--no-progress", action="store_true", help="no progress bar (also CCL_PROGRESS=0)")

    led = sub.add_parser("ledger", help="show or verify the evidence ledger")
    led.add_argument("action", choices=("show", "verify"), help="show: what it holds; verify: check and recompute")
    led.add_argument("--ledger", default=None, help="ledger folder (default $CCL_LEDGER_DIR or results/ledger)")
    led.add_argument("--sample", type=_count, default=3, help="verify: records to recompute (default 3)")
    led.add_argument("--budget-s", type=_positive, default=300.0, help="verify: seconds to spend (default 300)")
    led.add_argument("--seed", default=None, help="verify: the sample's seed text (default: this commit)")
    led.add_argument("--key", dest="keys", action="append", default=None, help="verify: recompute this record")
    led.add_argument("--report", default=None, help="verify: write the report (JSON) to this file")
    return p


def _seeds(text: str) -> list[int]:
    """``"0-19"``, ``"0,1,2"`` or ``"0-4,10"`` -> the seed list (non-negative integers)."""
    out: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--seeds must be non-negative integers like 0-19, 0,1,2 or 0-4,10; got {text!r}"
            ) from None
        if a < 0 or b < a:
            raise argparse.ArgumentTypeError(
                f"--seeds must be non-negative integers with ranges low-high; got {text!r}"
            )
        out.extend(range(a, b + 1))
    return list(dict.fromkeys(out))


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"--sample must be a non-negative integer, got {text!r}")
    return n


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"--budget-s must be a positive number of seconds, got {text!r}")
    return v


def _cmd_list(out) -> int:
    from .experiments import list_experiments

    names = list_experiments()
    width = max((len(n) for n in names), default=0)
    for name, desc in names.items():
        print(f"{name:<{width}}  {desc}", file=out)
    return 0


def _load(args, err):
    from .experiments import load_experiment

    overrides = list(args.overrides)
    if getattr(args, "seeds", None) is not None:
        overrides.append(f"seeds={json.dumps(args.seeds)}")
    exp = load_experiment(args.experiment, overrides)
    return exp, exp.specs()


def _cmd_show(args, out) -> int:
    exp, specs = _load(args, out)
    print(f"# {exp.name} ({exp.source})", file=out)
    print(json.dumps(exp.config, indent=2), file=out)
    print(f"# {len(specs)} runs:", file=out)
    for s in specs:
        print(f"{s.key()}  {s.label()}", file=out)
    return 0


def _write_table(df, path: str) -> None:
    from .utils import atomic_write_bytes

    if path.endswith(".json"):
        data = df.to_json(orient="records", indent=2).encode()
    elif path.endswith(".csv"):
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        data = buf.getvalue().encode()
    else:
        raise ValueError(f"--out must end in .csv or .json, got {path!r}")
    atomic_write_bytes(path, data)


def _cmd_run(args, out) -> int:
    from .experiments import ResultCache, SweepError, run_sweep
    from .experiments.summary import summarize

    if args.out is not None and not args.out.endswith((".csv", ".json")):
        raise ValueError(f"--out must end in .csv or .json, got {args.out!r}")
    exp, specs = _load(args, out)
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    if args.dry_run:
        n_cached = 0
        for s in specs:
            record, reason = cache.check_record(s.key())
            n_cached += record is not None
            why = f"  (stored entry not usable: {reason})" if reason else ""
            print(f"{'cached ' if record is not None else 'to run '} {s.key()}  {s.label()}{why}", file=out)
        print(f"{exp.name}: {len(specs)} runs, {n_cached} cached, {len(specs) - n_cached} to run", file=out)
        return 0
    print(f"{exp.name}: {len(specs)} runs; cache {cache.root}", file=out, flush=True)
    backend = "ray" if args.ray_address else args.backend
    status = 0
    try:
        sweep = run_sweep(
            specs,
            workers=args.workers,
            backend=backend,
            ray_address=args.ray_address,
            cache=cache,
            device=args.device,
            progress=False if args.no_progress else None,
        )
    except SweepError as exc:
        sweep = exc.partial
        print(str(exc), file=sys.stderr)
        status = 1
    df = sweep.frame()
    if args.out:
        _write_table(df, args.out)
    if len(df):
        runs = df.drop_duplicates("run_id")  # test_acc, max_advantage and p1 are per run, not per attack
        table = summarize(runs, values=["train_acc", "test_acc", "max_advantage", "p1"], by=["defense", "setting"])
        cols = ["setting", "train_acc_mean", "test_acc_mean", "max_advantage_mean", "p1_mean", "n"]
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"), file=out)
    print(f"{exp.name}: {sweep.summary()}" + (f"; rows written to {args.out}" if args.out else ""), file=out)
    return status


def _cmd_record(args, out) -> int:
    from .experiments import ResultCache, SweepError, run_sweep
    from .experiments.ledger import Ledger

    exp, specs = _load(args, out)
    ledger = Ledger(args.ledger)
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    todo = [s for s in dict((s.key(), s) for s in specs).values() if s.key() not in ledger]
    print(f"{exp.name}: {len(specs)} runs, {len(specs) - len(todo)} already in the ledger {ledger.root}; "
          f"{len(todo)} to record (cache {cache.root})", file=out, flush=True)  # fmt: skip
    added = [0]

    def add(res) -> None:
        added[0] += ledger.add(res)

    status = 0
    if todo:
        try:
            sweep = run_sweep(todo, workers=args.workers, backend="ray" if args.ray_address else args.backend,
                              ray_address=args.ray_address, cache=cache, device=args.device,
                              progress=False if args.no_progress else None, on_result=add)  # fmt: skip
            summary = sweep.summary()
        except SweepError as exc:
            print(str(exc), file=sys.stderr)
            summary, status = exc.partial.summary(), 1
        print(f"{exp.name}: {summary}", file=out)
    print(f"{exp.name}: {added[0]} records added; the ledger holds {len(ledger)} records", file=out)
    return status


def _cmd_ledger(args, out) -> int:
    from .experiments.ledger import Ledger, verify

    ledger = Ledger(args.ledger)
    if args.action == "show":
        table = ledger.summary()
        print(f"# evidence ledger {ledger.root}: {len(ledger)} record files", file=out)
        print(table.to_string(index=False), file=out)
        return 0
    report = verify(ledger, sample=args.sample, budget_s=args.budget_s, seed=args.seed, keys=args.keys, out=out)
    if args.report:
        from .utils import atomic_write_json

        atomic_write_json(args.report, report.to_dict())
    if not report.ok:
        print("ccl: ledger verify failed: " + "; ".join(
            [f"record {k} refused ({r})" for k, r in report.refused]
            + [f"record {c['key']} disagrees ({c['detail']})" for c in report.compared if not c["agrees"]]
        ), file=sys.stderr)  # fmt: skip
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``ccl`` console script and of ``python -m ccl_lib``.

    Args:
        argv: the command-line arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        the process exit status (0 on success).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "list":
            return _cmd_list(out)
        if args.command == "show":
            return _cmd_show(args, out)
        if args.command == "record":
            return _cmd_record(args, out)
        if args.command == "ledger":
            return _cmd_ledger(args, out)
        return _cmd_run(args, out)
    except (ValueError, TypeError) as exc:  # invalid arguments, config or --set value (named in the message)
        print(f"ccl: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from .data import DataError

        if not isinstance(exc, DataError):
            raise
        print(f"ccl: error: {exc}", file=sys.stderr)  # e.g. a missing data set or an unsafe image folder
        return 2
    except KeyboardInterrupt:
        print("ccl: interrupted; finished runs are cached, rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
