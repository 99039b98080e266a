"""The figures of chapters 7-10 draw what they are given: means, 95 % interval ends, the paper's values."""

from __future__ import annotations

import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ccl_lib import plots  # noqa: E402


def _points():
    rows = []
    for atk_i, atk in enumerate(["nn", "loss", "entropy", "confidence"]):
        for d, pts in (("vanilla", [0.5]), ("ccql", [0.45, 0.52]), ("dropout", [0.48, 0.55])):
            for j, acc in enumerate(pts):
                adv = 0.3 + 0.1 * atk_i + 0.01 * j
                acc_iv = {"test_acc": acc, "test_acc_low": acc - 0.02, "test_acc_high": acc + 0.03}
                adv_iv = {"advantage": adv, "advantage_low": adv - 0.05, "advantage_high": adv + 0.04}
                rows.append({"defense": d, "point": f"{d}{j}", "attack": atk, **acc_iv, **adv_iv})
    return pd.DataFrame(rows)


def _yerr_segments(ax):
    """(x, low, high) of every vertical error bar drawn on ``ax``."""
    out = []
    for c in ax.containers:
        if isinstance(c, matplotlib.container.ErrorbarContainer):
            for coll in c.lines[2]:
                for seg in coll.get_segments():
                    seg = np.asarray(seg)
                    if np.isclose(seg[0, 0], seg[1, 0]):  # vertical
                        out.append((float(seg[0, 0]), float(min(seg[:, 1])), float(max(seg[:, 1]))))
    return out


def test_privacy_utility_intervals_grid_and_bars():
    pts = _points()
    fig = plots.privacy_utility_intervals(pts, ncols=3, title="t")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4  # four attacks on a 2 x 3 grid, two panels hidden
    assert len(fig.axes) == 6
    assert fig.get_figwidth() <= plots.BOOK_WIDTH + 1e-9
    loss = next(ax for ax in visible if ax.get_title() == "Loss")
    segs = _yerr_segments(loss)
    sub = pts[pts["attack"] == "loss"]
    for r in sub.itertuples():
        assert any(np.isclose(x, r.test_acc) and np.isclose(lo, r.advantage_low) and np.isclose(hi, r.advantage_high)
                   for x, lo, hi in segs), r  # fmt: skip
    # one legend for the figure: every defense once
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(labels) == sorted(["CCQL", "Dropout", "Vanilla"])
    plt.close(fig)


def test_privacy_utility_intervals_rejects_bad_input():
    pts = _points()
    with pytest.raises(ValueError, match="advantage_low"):
        plots.privacy_utility_intervals(pts.drop(columns=["advantage_low"]))
    with pytest.raises(ValueError, match="rotation"):
        plots.privacy_utility_intervals(pts, attacks=["rotation"])
    with pytest.raises(ValueError, match="ncols"):
        plots.privacy_utility_intervals(pts, ncols=0)


def test_attack_bars_intervals_heights_and_errors():
    t = pd.DataFrame(
        [
            {"group": g, "attack": a, "advantage": m, "advantage_low": m - 0.02, "advantage_high": m + 0.05}
            for g, base in (("focal", 0.4), ("chosen", 0.3))
            for a, m in (("loss", base), ("nn", base + 0.1))
        ]
    )
    fig = plots.attack_bars_intervals(t, {"focal": "Focal", "chosen": "+ CCLE"})
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted(round(v, 6) for v in t["advantage"])
    segs = _yerr_segments(ax)
    assert sorted(round(hi - lo, 6) for _, lo, hi in segs) == [0.07] * 4
    with pytest.raises(ValueError, match="other"):
        plots.attack_bars_intervals(t, {"other": "x"})
    plt.close(fig)


def test_p1_bars_intervals_draws_the_papers_values():
    from ccl_lib.paper_results import table1

    paper = table1()
    s = pd.DataFrame(
        [
            {"dataset": "location", "method": m, "p1": v, "p1_low": v - 0.01, "p1_high": v + 0.01}
            for m, v in (("CCQL", 0.34), ("CCEL", 0.33), ("w/o", 0.35))
        ]
    )
    fig = plots.p1_bars_intervals(s, paper, order=["CCQL", "CCEL", "w/o"])
    ours, theirs = fig.axes[0], fig.axes[1]
    assert sorted(round(p.get_height(), 6) for p in ours.patches) == [0.33, 0.34, 0.35]
    assert sorted(round(p.get_height(), 6) for p in theirs.patches) == sorted(
        round(v, 6) for v in paper.to_numpy().ravel()
    )
    plt.close(fig)


def test_strong_roc_panels_starts_at_one_false_positive_and_keeps_its_title():
    rng = np.random.default_rng(0)
    n_in, n_out = 200, 400
    labels = np.r_[np.ones(n_in), np.zeros(n_out)].astype(bool)

    def run(shift):
        scores = np.r_[rng.normal(shift, 1, n_in), rng.normal(0, 1, n_out)]
        return types.SimpleNamespace(results={"lira_online": (scores, labels), "rmia": (scores, labels)})

    runs = {("location", "vanilla", 0): run(1.0), ("location", "CCQL", 0): run(0.5), ("cifar", "vanilla", 0): run(2.0)}
    fig = plots.strong_roc_panels(
        runs, {"lira_online": "LiRA online", "rmia": "RMIA"}, seed=0, ncols=2, title="my title"
    )
    assert fig._suptitle.get_text() == "my title"
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == [
        "LiRA online, location",
        "RMIA, location",
        "LiRA online, cifar",
        "RMIA, cifar",
    ]
    assert np.isclose(axes[0].get_xlim()[0], 1 / n_out)
    assert len(axes[2].get_lines()) == 2  # the cifar panels have one defense and the chance line
    with pytest.raises(ValueError, match="seed 3"):
        plots.strong_roc_panels(runs, {"rmia": "RMIA"}, seed=3)
    plt.close(fig)


def test_figure_legend_lists_each_label_once_below_the_panels():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    for ax in axes:
        ax.plot([0, 1], [0, 1], label="CE")
        ax.plot([0, 1], [1, 0], label="CCQL")
    axes[1].plot([0, 1], [0.5, 0.5], label="focal")
    labels = plots._figure_legend(fig, axes, max_cols=2)
    assert labels == ["CE", "CCQL", "focal"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == labels
    assert legend._ncols == 2
    plt.close(fig)
