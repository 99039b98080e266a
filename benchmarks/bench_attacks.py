"""Section 4: the class-dependent threshold search of the metric attacks
(``ccl_lib.attacks.threshold.class_thresholds``) against the brute-force scan of the peer code."""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

from harness import Context, Row, make_row, section, sizes

if TYPE_CHECKING:
    import numpy as np


def brute_force_class_thresholds(
    s_in: np.ndarray, s_out: np.ndarray, y_in: np.ndarray, y_out: np.ndarray, num_classes: int
) -> np.ndarray:
    """The peer way (Song & Mittal's reference code): per class, a Python loop over every
    observed score, counting with ``np.sum`` for each candidate (O(n^2) per class)."""
    import numpy as np

    out = np.empty(num_classes)
    for c in range(num_classes):
        a, b = s_in[y_in == c], s_out[y_out == c]
        best, best_v = None, None
        for v in np.unique(np.r_[a, b])[::-1]:  # largest first: ties keep the largest threshold
            obj = int(np.sum(a >= v)) * len(b) - int(np.sum(b >= v)) * len(a)  # n0 n1 (TPR - FPR)
            if best is None or obj > best:
                best, best_v = obj, v
        out[c] = best_v
    return out


@section("4", "Class-dependent threshold search: vectorized vs brute force")
def bench_thresholds(ctx: Context) -> list[Row]:
    import numpy as np

    from ccl_lib.attacks.threshold import class_thresholds

    n = sizes(ctx, 100_000, 20_000, 100_000, 100_000)
    rows: list[Row] = []
    for k, like in ((10, "CIFAR-10"), (100, "Purchase100")):
        rng = np.random.default_rng(k)
        y = rng.integers(0, k, n)
        member = rng.random(n) < 0.5
        s = rng.normal(member * 0.5, 1.0)
        s[rng.random(n) < 0.05] = 0.0  # 5% exact ties, like saturated losses
        s_in, s_out, y_in, y_out = s[member], s[~member], y[member], y[~member]
        times_fast, times_brute = [], []
        for _ in range(ctx.repeats):
            t = time.perf_counter()
            fast = class_thresholds(s_in, s_out, y_in, y_out, num_classes=k)
            times_fast.append(time.perf_counter() - t)
        for _ in range(max(1, min(ctx.repeats, 3))):  # the slow side: at most 3 repeats
            t = time.perf_counter()
            brute = brute_force_class_thresholds(s_in, s_out, y_in, y_out, k)
            times_brute.append(time.perf_counter() - t)
        identical = bool(np.array_equal(fast, brute))
        ctx.log(f"thresholds, {k} classes: fast {times_fast}, brute {times_brute}, identical {identical}")
        if not identical:
            raise AssertionError(f"vectorized and brute-force thresholds differ ({k} classes)")
        ratio = statistics.median(times_brute) / statistics.median(times_fast)
        rows.append(
            make_row(
                "4",
                f"class_thresholds, {n:,} scores, {k} classes ({like}); identical: {identical}",
                ctx,
                times_fast,
                n,
                unit="scores/s",
                speedup_vs_peer=ratio,
            )
        )
        rows.append(
            make_row(
                "4",
                f"brute force (loop over candidates), {n:,} scores, {k} classes",
                ctx,
                times_brute,
                n,
                unit="scores/s",
            )
        )
    return rows
