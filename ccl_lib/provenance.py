"""Where a number came from: the code's commit and the machine that computed it.

Every run stores this beside its rows (``result.json``'s ``meta["provenance"]``) and every
record of the evidence ledger carries it (:mod:`ccl_lib.experiments.ledger`), so that a
chapter can say which commit, machine and date its numbers came from, and ``ledger
verify`` can tell whether this machine should reproduce a record bit for bit (same ISA
flags, threads and torch version) or only within a tolerance.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from .accel import cpu_bf16_support, cpu_flags

__all__ = ["ISA_FLAGS", "git_commit", "machine", "same_arithmetic"]

#: The /proc/cpuinfo flags that can change a float32 result (vector width, FMA, bf16 units).
ISA_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")

_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The checkout's commit (``+dirty`` when tracked files changed), else ``$CCL_COMMIT``, else ``"unknown"``."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            )
            return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("CCL_COMMIT", "unknown")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    flags = cpu_flags()
    return {
        "commit": git_commit(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_capability": cpu_bf16_support()["capability"],
        "isa": sorted(f for f in ISA_FLAGS if f in flags),
        "cpus": os.cpu_count() or 1,
    }


def machine(threads: Optional[int] = None, precision: str = "fp32") -> dict[str, Any]:
    """This process's provenance: commit, torch/numpy/python versions, CPU model, its ISA flags
    (:data:`ISA_FLAGS`), torch's CPU capability, torch threads and the training precision.

    Args:
        threads: torch CPU threads the run used (default: ``torch.get_num_threads()`` now).
        precision: ``"fp32"`` or ``"bf16"`` (autocast), as the run trained.
    """
    out = dict(_static())
    out["threads"] = int(threads if threads is not None else torch.get_num_threads())
    out["precision"] = precision
    return out


def same_arithmetic(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two provenances should give bit-identical float results: the same torch version,
    CPU capability, ISA flags, thread count and precision (the commit and the date may differ).

    Args:
        a: one run's provenance (:func:`machine`, ``meta["provenance"]`` of a result).
        b: another run's provenance.
    """
    keys = ("torch", "cpu_capability", "isa", "threads", "precision")
    return all(a.get(k) == b.get(k) for k in keys)
