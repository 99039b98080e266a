"""Table 1's CIFAR-10 column on one GPU in one sitting: CE, CCEL and CCQL, target and shadow, all attacks, P1.

The paper's CIFAR-10 setting (Liu et al., ICML 2024, Sec. 5.1 and App. E.1):
ResNet-34, 15,000 examples per split part (target train/test, shadow
train/test), random crop + horizontal flip, SGD with learning rate 0.1,
momentum 0.9, weight decay 5e-4, batch 128, 300 epochs with the learning rate
divided by 10 after epochs 150 and 225; the defenses CE (``vanilla``), CCEL and
CCQL with alpha = 0.5 and the CIFAR-10 loss scale 0.01; every attack of
:func:`ccl_lib.attacks.run_attacks`; P1 (Eq. 13) from the highest advantage of
the paper's attacks.

What this script does, in order:

1. measures the fp32 and bf16 matmul rates of the device (:func:`ccl_lib.accel.matmul_rate`);
2. loads ``cifar10-jpeg`` and splits it as the experiment engine does
   (:func:`ccl_lib.splits.make_splits`, seeded), training images kept as uint8 on the
   device (:class:`ccl_lib.augment.DeviceImages`: gather, crop, flip, normalize there);
3. calibrates: a few timed epochs of a target+shadow pair on a slice of the data,
   stepped together (``fit_many(strategy="stacked")``: stacked parameters, ``vmap``) and
   one after the other; the faster strategy is used;
4. picks the epoch count that fits the time budget (default 8 minutes for the whole
   script), with the milestones 150/225 of 300 scaled to it, and prints the cost of
   the full 300 epochs extrapolated from the measured throughput;
5. trains target and shadow per defense (bf16 autocast, fp32 master weights,
   channels-last), attacks in fp32, and writes a results JSON with provenance
   (GPU, torch, commit, settings, date, wall time), atomically.

``--smoke`` runs the same code on the CPU in under two minutes: a ResNet-8, 64 images
per part, two epochs, a calibration on 32 images; it writes the same JSON layout.

    python benchmarks/paper_gpu.py --smoke --out /tmp/paper_gpu_smoke.json
    python benchmarks/paper_gpu.py --out results/paper_gpu_cifar10.json   # on a GPU

Data: ``CCL_DATA_MIRROR`` must name a folder holding ``cifar10-jpeg.tar.gz`` (or the data
must be in ``CCL_DATA_DIR``); where neither has it, ``--smoke`` falls back to synthetic
32x32 images (recorded as ``"dataset": "synthetic"``) and a full run stops with a message.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Optional

# Spinning OpenMP threads collapse on shared CPU cores (see benchmarks/run.py); set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ccl_lib import accel  # noqa: E402
from ccl_lib.augment import DeviceImages  # noqa: E402
from ccl_lib.provenance import git_commit  # noqa: E402
from ccl_lib.train import TrainConfig, accuracy, fit_many  # noqa: E402
from ccl_lib.utils import atomic_write_json, resolve_device, seed_everything  # noqa: E402

#: The defenses of Table 1's column measured here, with App. E.1's CIFAR-10 settings.
DEFENSES = (("vanilla", {}), ("ccel", {"alpha": 0.5}), ("ccql", {"alpha": 0.5}))
#: Format of the JSON this script writes.
JSON_FORMAT = 1
PAPER_EPOCHS, PAPER_MILESTONES = 300, (150, 225)


def log(msg: str) -> None:
    print(f"[paper_gpu] {msg}", file=sys.stderr, flush=True)


def provenance(dev: torch.device) -> dict[str, Any]:
    p: dict[str, Any] = {
        "device": str(dev),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host_cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_bf16": accel.cpu_bf16_support(),
        "argv": sys.argv[1:],
    }
    if dev.type == "cuda":
        p["gpu"] = torch.cuda.get_device_name(dev)
        p["gpu_memory_gib"] = round(torch.cuda.get_device_properties(dev).total_memory / 2**30, 1)
    else:
        p["gpu"] = None
    return p


def synthetic_images(n: int, seed: int = 0):
    """Class-dependent 32x32 RGB uint8 images (a stand-in when cifar10-jpeg is not available)."""
    from ccl_lib.data import Dataset

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    protos = rng.integers(0, 256, size=(10, 32, 32, 3))
    x = np.clip(protos[y] * 0.5 + rng.normal(64, 40, size=(n, 32, 32, 3)), 0, 255).astype(np.uint8)
    return Dataset(name="synthetic", kind="image", x=x, y=y, num_classes=10, mean=(0.5,) * 3, std=(0.25,) * 3)


def load_images(name: str, allow_synthetic: bool, n_needed: int):
    from ccl_lib.data import load_dataset

    try:
        return load_dataset(name)
    except Exception as exc:  # no mirror, no cache, no internet
        if not allow_synthetic:
            raise SystemExit(
                f"cannot load {name!r}: {exc}\nSet CCL_DATA_MIRROR to a folder holding cifar10-jpeg.tar.gz "
                "(on a device machine: copy it into a git-ignored folder of the repo and carry it)."
            ) from None
        log(f"cannot load {name!r} ({type(exc).__name__}: {exc}); smoke run on synthetic images")
        return synthetic_images(n_needed)


def train_flops_per_image(make_model, dev: torch.device, batch: int = 32) -> float:
    """FLOPs of one forward+backward per image, counted by torch.utils.flop_counter (fp32)."""
    from torch.utils.flop_counter import FlopCounterMode

    m = make_model().to(dev).train()
    x = torch.randn(batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(m(x), y).backward()
    return counter.get_total_flops() / batch


def scaled_milestones(epochs: int) -> tuple[int, ...]:
    """150 and 225 of 300 epochs mapped to ``epochs`` (ccl_lib.defenses.rescale_epochs), below the last epoch."""
    from ccl_lib.defenses import rescale_epochs

    if epochs < 2:
        return ()
    return tuple(e for e in rescale_epochs(PAPER_MILESTONES, epochs, PAPER_EPOCHS) if e < epochs)


def calibrate(make_pair, train_sets, cfg: TrainConfig, strategies: list[str], n_cal: int) -> dict[str, Any]:
    """Images/s of a target+shadow pair per strategy: 2 epochs on ``n_cal`` images each, the second timed."""
    from ccl_lib.defenses import get_defense

    out: dict[str, Any] = {}
    for strategy in strategies:
        models = make_pair()
        data = []
        for imgs, y in train_sets:
            idx = torch.arange(n_cal)
            sub = DeviceImages(
                imgs.pixels[:n_cal], imgs.mean.flatten().tolist(), imgs.std.flatten().tolist(), imgs.device
            )
            data.append((sub, y[idx]))
        c = TrainConfig(**{**cfg.to_dict(), "epochs": 2, "milestones": (), "track_train_loss": False})
        try:
            res = fit_many(
                models,
                data,
                objective=get_defense("vanilla"),
                configs=[c, TrainConfig(**{**c.to_dict(), "seed": c.seed + 1})],
                strategy=strategy,
                progress=False,
            )
        except Exception as exc:  # e.g. an operator without a vmap rule on this device
            log(f"calibration: strategy {strategy!r} failed: {type(exc).__name__}: {exc}")
            out[strategy] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        if strategy == "stacked":
            secs = res[0].history[-1]["seconds"]
        else:
            secs = sum(r.history[-1]["seconds"] for r in res)
        out[strategy] = {"images_per_s": 2 * n_cal / secs, "seconds": secs, "images": 2 * n_cal}
        log(f"calibration: {strategy}: {2 * n_cal / secs:,.0f} images/s")
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--smoke", action="store_true", help="tiny sizes on the CPU (< 2 minutes), same code and JSON layout"
    )
    ap.add_argument(
        "--out",
        default=None,
        help="results JSON (default results/paper_gpu_cifar10.json, or $OUT/paper_gpu_smoke.json / /tmp with --smoke)",
    )
    ap.add_argument(
        "--budget-s", type=float, default=None, help="wall-clock budget of the whole script (default 480; smoke 100)"
    )
    ap.add_argument("--epochs", type=int, default=None, help="fix the epoch count instead of fitting it to the budget")
    ap.add_argument("--size", type=int, default=None, help="examples per split part (default 15000; smoke 64)")
    ap.add_argument(
        "--model", default=None, help="model name for ccl_lib.models.build_model (default resnet34; smoke resnet8)"
    )
    ap.add_argument("--dataset", default="cifar10-jpeg")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda (default auto; smoke cpu)")
    ap.add_argument(
        "--strategy",
        default="auto",
        choices=("auto", "stacked", "sequential"),
        help="fit_many strategy; auto = the faster one in the calibration",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--attacks",
        default=None,
        help="comma-separated attack names (default: every attack run_attacks runs on images)",
    )
    ap.add_argument("--no-amp", action="store_true", help="train in float32 instead of bf16 autocast")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    smoke = args.smoke
    dev = resolve_device(args.device or ("cpu" if smoke else "auto"))
    if not smoke and dev.type != "cuda":
        log("no CUDA device: the full run is meant for a GPU (use --smoke on a CPU); continuing on the CPU")
    size = args.size or (64 if smoke else 15000)
    model_name = args.model or ("resnet8" if smoke else "resnet34")
    budget = args.budget_s or (100.0 if smoke else 480.0)
    amp = not args.no_amp
    attacks = [a.strip() for a in args.attacks.split(",") if a.strip()] if args.attacks else None
    if args.out:
        out_path = Path(args.out)
    elif smoke:
        out_path = Path(os.environ.get("OUT") or "/tmp") / "paper_gpu_smoke.json"
    else:
        out_path = ROOT / "results" / "paper_gpu_cifar10.json"
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    from ccl_lib.attacks import PAPER_ATTACKS, p1_from_report, run_attacks
    from ccl_lib.defenses import default_scale, get_defense
    from ccl_lib.experiments.spec import derive_seed
    from ccl_lib.models import build_model
    from ccl_lib.splits import make_splits

    prov = provenance(dev)
    log(f"device {dev} ({prov.get('gpu') or prov['host_cpu']}), torch {torch.__version__}, commit {prov['commit']}")

    # 1. the bounds, measured now
    n_mm = None if dev.type == "cuda" else 1024
    mm32 = accel.matmul_rate(dev, torch.float32, n=n_mm, repeats=3)
    mm16 = accel.matmul_rate(dev, torch.bfloat16, n=n_mm, repeats=3)
    log(f"matmul: fp32 {mm32['best'] / 1e12:.2f} TFLOP/s, bf16 {mm16['best'] / 1e12:.2f} TFLOP/s")

    # 2. data, split as the engine splits it
    ds = load_images(args.dataset, allow_synthetic=smoke, n_needed=max(4 * size, 400))
    if ds.kind != "image":
        raise SystemExit(f"{args.dataset!r} is not an image data set")
    splits = make_splits(ds.y, n_parts=4, size=size, seed=args.seed)
    parts = {k: (ds.features(idx), torch.from_numpy(ds.y[idx]).long()) for k, idx in splits.items()}
    train_sets = {
        role: (DeviceImages.from_dataset(ds, getattr(splits, f"{role}_train"), dev), parts[f"{role}_train"][1])
        for role in ("target", "shadow")
    }
    t_data = time.perf_counter() - t_start
    log(f"data {ds.name}: {size} per part, {len(ds.y)} images in all, ready after {t_data:.1f}s")

    seeds = {role: derive_seed(args.seed, role) for role in ("target", "shadow")}

    def make_pair(defense=None):
        kw = defense.model_kwargs if defense is not None else {}
        out = []
        for role in ("target", "shadow"):
            seed_everything(seeds[role])
            out.append(build_model(model_name, ds.input_shape, ds.num_classes, **kw))
        return out

    base = TrainConfig(
        epochs=1,
        batch_size=128,
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        augment=True,
        device=str(dev),
        amp=amp,
        cpu_amp=False,
        track_train_loss=False,
        seed=seeds["target"],
    )
    flops = train_flops_per_image(lambda: build_model(model_name, ds.input_shape, ds.num_classes), dev)

    # 3. calibration: which strategy, how many images per second
    n_cal = min(size, 16 * 128 if dev.type == "cuda" else 32)
    strategies = ["stacked", "sequential"] if args.strategy == "auto" else [args.strategy]
    cal = calibrate(make_pair, list(train_sets.values()), base, strategies, n_cal)
    ok = {s: v for s, v in cal.items() if "images_per_s" in v}
    if not ok:
        raise SystemExit(f"every training strategy failed in the calibration: {cal}")
    strategy = max(ok, key=lambda s: ok[s]["images_per_s"])
    ips = ok[strategy]["images_per_s"]

    # 4. the epoch count that fits the budget
    n_models = 2 * len(DEFENSES)
    per_epoch = n_models * size / ips  # seconds for one epoch of every model
    attack_reserve = 0.25 * budget if not smoke else 0.3 * budget  # attacks and final accuracies after training
    left = budget - (time.perf_counter() - t_start) - attack_reserve
    if args.epochs:
        epochs = args.epochs
    elif smoke:  # a CPU's calibration on 32 images says little: the smoke run trains a fixed 2 epochs
        epochs = 2
    else:
        epochs = max(1, min(PAPER_EPOCHS, int(left / per_epoch)))
    milestones = scaled_milestones(epochs)
    full_cost = PAPER_EPOCHS * n_models * size / ips
    log(
        f"strategy {strategy}: {ips:,.0f} images/s = {ips * flops / mm16['best']:.1%} of the bf16 matmul rate "
        f"({ips * flops / mm32['best']:.1%} of fp32); {epochs} epochs (milestones {list(milestones)}) fit the budget; "
        f"the paper's 300 epochs of these {n_models} models would take {full_cost / 3600:.2f} h here"
    )

    # 5. train, attack, report
    scale = default_scale("cifar10")
    results: dict[str, Any] = {}
    table = []
    train_seconds_total = 0.0
    for name, hp in DEFENSES:
        kw = dict(hp, scale=scale) if name != "vanilla" else {}
        defense = get_defense(name, **kw)
        cfgs = [
            TrainConfig(**{**base.to_dict(), "epochs": epochs, "milestones": milestones, "seed": seeds[r]})
            for r in ("target", "shadow")
        ]
        target, shadow = make_pair(defense)
        t0 = time.perf_counter()
        hist = fit_many(
            [target, shadow],
            [train_sets["target"], train_sets["shadow"]],
            objective=defense,
            configs=cfgs,
            strategy=strategy,
            progress=False,
        )
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t_train = time.perf_counter() - t0
        train_seconds_total += t_train
        test_acc = accuracy(target, *parts["target_test"])
        train_acc = accuracy(target, *parts["target_train"])
        t1 = time.perf_counter()
        seed_everything(args.seed)
        report = run_attacks(
            target,
            shadow,
            target_in=parts["target_train"],
            target_out=parts["target_test"],
            shadow_in=parts["shadow_train"],
            shadow_out=parts["shadow_test"],
            kind="image",
            seed=args.seed,
            device=dev,
            progress=False,
            attacks=attacks,
        )
        t_attack = time.perf_counter() - t1
        p1 = float(p1_from_report(report, test_acc))
        paper_rows = report[report["attack"].isin(PAPER_ATTACKS)]
        max_adv = float(paper_rows["advantage"].max())
        rows = [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in report.to_dict("records")
        ]
        results[name] = {
            "defense": defense.describe(),
            "test_acc": test_acc,
            "train_acc": train_acc,
            "max_advantage": max_adv,
            "p1": p1,
            "train_seconds": t_train,
            "attack_seconds": t_attack,
            "images_per_s": 2 * size * epochs / t_train,
            "final_objective": [h[-1]["objective"] for h in (r.history for r in hist)],
            "attacks": rows,
        }
        table.append({"defense": name, "test_acc": test_acc, "max_advantage": max_adv, "p1": p1})
        log(
            f"{name}: test acc {test_acc:.3f}, train acc {train_acc:.3f}, max advantage {max_adv:.3f}, P1 {p1:.3f} "
            f"(train {t_train:.1f}s, attacks {t_attack:.1f}s)"
        )

    wall = time.perf_counter() - t_start
    measured_ips = 2 * len(DEFENSES) * size * epochs / train_seconds_total
    record = {
        "format": JSON_FORMAT,
        "kind": "paper_gpu",
        "smoke": smoke,
        "provenance": {**prov, "wall_seconds": wall},
        "settings": {
            "dataset": ds.name,
            "model": model_name,
            "size_per_part": size,
            "epochs": epochs,
            "milestones": list(milestones),
            "paper_epochs": PAPER_EPOCHS,
            "paper_milestones": list(PAPER_MILESTONES),
            "lr": base.lr,
            "batch_size": base.batch_size,
            "momentum": base.momentum,
            "weight_decay": base.weight_decay,
            "augment": "crop+flip",
            "amp": "bf16 autocast, fp32 master weights" if amp else "float32",
            "attack_precision": "float32",
            "strategy": strategy,
            "seed": args.seed,
            "seeds": seeds,
            "defenses": {n: (dict(hp, scale=scale) if n != "vanilla" else {}) for n, hp in DEFENSES},
            "budget_seconds": budget,
            "attacks": attacks or "all (run_attacks' image suite)",
        },
        "throughput": {
            "calibration": cal,
            "images_per_s": measured_ips,
            "calibration_images_per_s": ips,
            "train_flops_per_image": flops,
            "matmul_fp32_flops": mm32["best"],
            "matmul_bf16_flops": mm16["best"],
            "frac_of_bf16_matmul": measured_ips * flops / mm16["best"],
            "frac_of_fp32_matmul": measured_ips * flops / mm32["best"],
            "extrapolated_300_epochs_seconds": PAPER_EPOCHS * n_models * size / measured_ips,
            "extrapolated_300_epochs_per_model_seconds": PAPER_EPOCHS * size / measured_ips,
        },
        "table": table,
        "results": results,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_path, record)
    th = record["throughput"]
    print(
        f"\nTable 1, CIFAR-10 column ({ds.name}, {model_name}, {size}/part, {epochs} of {PAPER_EPOCHS} epochs, "
        f"device {prov.get('gpu') or dev}):\n"
    )
    print("| defense | test acc | max advantage (paper's attacks) | P1 |")
    print("|---|---:|---:|---:|")
    for r in table:
        print(f"| {r['defense']} | {r['test_acc']:.3f} | {r['max_advantage']:.3f} | {r['p1']:.3f} |")
    print(
        f"\ntraining: {th['images_per_s']:,.0f} images/s ({strategy}), "
        f"{th['frac_of_bf16_matmul']:.1%} of the bf16 matmul rate measured in this run "
        f"({mm16['best'] / 1e12:.1f} TFLOP/s; {th['train_flops_per_image'] / 1e9:.2f} GFLOP per image)"
    )
    print(
        f"the paper's 300 epochs: {th['extrapolated_300_epochs_seconds'] / 3600:.2f} h for these {n_models} models "
        f"({th['extrapolated_300_epochs_per_model_seconds'] / 3600:.2f} h per model)"
    )
    print(f"wall time {wall:.1f}s; results in {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
