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
from ccl_lib.plots.style import figure_legend  # noqa: E402


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


def test_privacy_utility_grid_and_bars():
    pts = _points()
    fig = plots.privacy_utility(pts, ncols=3, title="t")
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


def test_privacy_utility_rejects_bad_input():
    pts = _points()
    with pytest.raises(ValueError, match="advantage_low"):
        plots.privacy_utility(pts.drop(columns=["advantage_low"]))
    with pytest.raises(ValueError, match="rotation"):
        plots.privacy_utility(pts, attacks=["rotation"])
    with pytest.raises(ValueError, match="ncols"):
        plots.privacy_utility(pts, ncols=0)


def test_attack_bars_heights_and_errors():
    t = pd.DataFrame(
        [
            {"group": g, "attack": a, "advantage": m, "advantage_low": m - 0.02, "advantage_high": m + 0.05}
            for g, base in (("focal", 0.4), ("chosen", 0.3))
            for a, m in (("loss", base), ("nn", base + 0.1))
        ]
    )
    fig = plots.attack_bars(t, {"focal": "Focal", "chosen": "+ CCLE"})
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == sorted(round(v, 6) for v in t["advantage"])
    segs = _yerr_segments(ax)
    assert sorted(round(hi - lo, 6) for _, lo, hi in segs) == [0.07] * 4
    with pytest.raises(ValueError, match="other"):
        plots.attack_bars(t, {"other": "x"})
    plt.close(fig)


def test_p1_bars_draws_the_papers_values():
    from ccl_lib.paper_results import table1

    paper = table1()
    s = pd.DataFrame(
        [
            {"dataset": "location", "method": m, "p1": v, "p1_low": v - 0.01, "p1_high": v + 0.01}
            for m, v in (("CCQL", 0.34), ("CCEL", 0.33), ("w/o", 0.35))
        ]
    )
    fig = plots.p1_bars(s, paper, order=["CCQL", "CCEL", "w/o"])
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
    labels = figure_legend(fig, axes, max_cols=2)
    assert labels == ["CE", "CCQL", "focal"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == labels
    assert legend._ncols == 2
    plt.close(fig)


# --------------------------------------------------------------------------- one function per figure

#: Student's t quantile t_{0.975, n-1} for n = 2 and n = 3 seeds (tables of the t distribution).
T975 = {2: 12.706204736, 3: 4.302652730}


def _runs_frame(seeds):
    """A frame shaped like run_grid's: one row per (run, attack), per-run bootstrap ends included."""
    rows = []
    for d, setting, alpha in (("vanilla", "vanilla", np.nan), ("ccql", "ccql-0.3", 0.3), ("ccql", "ccql-0.7", 0.7)):
        for s in seeds:
            acc = 0.5 + 0.05 * (alpha if alpha == alpha else 1.0) + 0.01 * s
            for atk, base in (("loss", 0.2), ("nn", 0.3)):
                adv = base + 0.02 * s + (0.05 if d == "vanilla" else 0.0)
                rows.append({"run_id": f"{setting}-{s}", "dataset": "location", "defense": d, "setting": setting,
                             "variant": setting, "seed": s, "alpha": alpha, "attack": atk, "test_acc": acc,
                             "advantage": adv, "advantage_low": adv - 0.1, "advantage_high": adv + 0.1,
                             "max_advantage": base + 0.1 + 0.02 * s, "train_loss_var": 0.01 * (1 + s)})  # fmt: skip
    return pd.DataFrame(rows)


def _bar_collections(ax):
    return [c for c in ax.collections if isinstance(c, matplotlib.collections.LineCollection)]


def _errorbars(ax):
    return [c for c in ax.containers if isinstance(c, matplotlib.container.ErrorbarContainer)]


def test_privacy_utility_draws_intervals_only_when_the_data_has_them():
    pts = _points()
    ax = plots.privacy_utility(pts, ncols=2).axes[1]
    assert _errorbars(ax) and _bar_collections(ax)
    plain = pts.drop(columns=[c for c in pts.columns if c.endswith(("_low", "_high"))])
    ax = plots.privacy_utility(plain, ncols=2).axes[1]
    assert not _errorbars(ax) and not _bar_collections(ax)
    ccql = next(ln for ln in ax.lines if ln.get_label() == "CCQL")
    assert list(ccql.get_xdata()) == [0.45, 0.52]
    # one seed of a run_grid frame: the per-run bootstrap ends are not seed intervals -- no bars
    ax = plots.privacy_utility(_runs_frame([0])).axes[0]
    assert ax.get_title() == "Loss" and not _errorbars(ax) and not _bar_collections(ax)
    # two seeds: the t-interval of the two advantages, mean +- t * s / sqrt(2)
    fig = plots.privacy_utility(_runs_frame([0, 1]))
    assert fig._suptitle.get_text() == "location"
    ax = fig.axes[0]
    vals = np.array([0.2, 0.22])  # ccql-0.3's loss advantage at seeds 0 and 1
    half = T975[2] * vals.std(ddof=1) / np.sqrt(2)
    acc = 0.5 + 0.05 * 0.3 + 0.005
    assert any(np.isclose(x, acc) and np.isclose(lo, 0.21 - half) and np.isclose(hi, 0.21 + half)
               for x, lo, hi in _yerr_segments(ax))  # fmt: skip
    plt.close("all")


def test_alpha_ablation_draws_intervals_only_when_the_data_has_them():
    fig = plots.alpha_ablation(_runs_frame([0]), defenses=("ccql",))
    assert [ax.get_title() for ax in fig.axes] == ["test accuracy", "highest attack advantage",
                                                   "variance of training loss"]  # fmt: skip
    ax = fig.axes[1]
    assert not _errorbars(ax) and not _bar_collections(ax) and not ax.patches  # no bars, no reference band
    line = next(ln for ln in ax.lines if ln.get_label() == "CCQL")
    assert list(line.get_xdata()) == [0.3, 0.7] and list(line.get_ydata()) == pytest.approx([0.3, 0.3])
    ref = next(ln for ln in ax.lines if ln.get_label() == "Vanilla")
    assert ref.get_ydata()[0] == pytest.approx(0.3)
    fig = plots.alpha_ablation(_runs_frame([0, 1, 2]), defenses=("ccql",), attack="nn")
    ax = fig.axes[1]
    assert ax.get_title() == "advantage (NN)" and _errorbars(ax)
    vals = np.array([0.3, 0.32, 0.34])
    half = T975[3] * vals.std(ddof=1) / np.sqrt(3)
    assert sorted(round(hi - lo, 9) for _, lo, hi in _yerr_segments(ax)) == pytest.approx([2 * half] * 2)
    assert len(ax.patches) == 1  # the reference's interval band
    with pytest.raises(ValueError, match="attack"):
        plots.alpha_ablation(_runs_frame([0]), attack="rotation")
    plt.close("all")


def test_attack_bars_draws_intervals_only_when_the_data_has_them():
    from matplotlib.container import BarContainer

    fig = plots.attack_bars(_runs_frame([0]))  # by="setting": one bar per defense and hyperparameters
    ax = fig.axes[0]
    assert not _errorbars(ax) and not _bar_collections(ax)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == ["vanilla", "ccql-0.3", "ccql-0.7"]
    assert [round(p.get_height(), 9) for p in bars[1]] == [0.2, 0.3]  # loss, nn at seed 0
    ax = plots.attack_bars(_runs_frame([0, 1, 2]), {"vanilla": "CE"}, by="defense").axes[0]
    vals = np.array([0.25, 0.27, 0.29])  # vanilla's loss advantage per seed
    half = T975[3] * vals.std(ddof=1) / np.sqrt(3)
    segs = sorted(_yerr_segments(ax))
    assert len(segs) == 2 and segs[0][2] - segs[0][1] == pytest.approx(2 * half)
    plt.close("all")


def test_training_curves_band_over_seeds_and_plain_line_for_one():
    def history(shift):
        return [
            {"epoch": e, "train_loss_mean": 1.0 / e + shift, "train_loss_var": 0.1 / e, "test_acc": 0.5}
            for e in (1, 2, 3)
        ]

    fig = plots.training_curves(
        {"CE": [history(0.0), history(0.2)], "CCQL": history(0.1)}, metrics=("train_loss_mean",)
    )
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 1  # one band: CE's two seeds; CCQL's one seed is a line
    ce = next(ln for ln in ax.lines if ln.get_label() == "CE")
    assert list(ce.get_ydata()) == pytest.approx([1.1, 0.6, 1 / 3 + 0.1])
    band = ax.collections[0].get_paths()[0].vertices
    half = T975[2] * np.std([0.0, 0.2], ddof=1) / np.sqrt(2)
    assert band[:, 1].max() == pytest.approx(1.1 + half) and band[:, 1].min() == pytest.approx(1 / 3 + 0.1 - half)
    ax = plots.training_curves({"CE": history(0.0)}, metrics=("train_loss_mean", "test_acc")).axes[0]
    assert len(ax.lines) == 1 and not ax.collections
    with pytest.raises(ValueError, match="logy"):
        plots.training_curves({"CE": history(0.0)}, metrics=("test_acc",), logy=("train_loss_var",))
    plt.close("all")


def test_training_curves_clip_an_accuracy_band_and_keep_the_means_readable():
    """Two seeds (t = 12.7) give test-accuracy bands far outside [0, 1]: the band is clipped to [0, 1] and the
    axis shows the means' span (0.3-0.5) widened by at most half of it each side (0.2-0.6), by hand."""

    def history(shift):
        return [{"epoch": e, "train_loss_mean": 1.0, "test_acc": e / 10 + shift} for e in (1, 2, 3)]

    ax = plots.training_curves({"CE": [history(0.0), history(0.4)]}, metrics=("test_acc",)).axes[0]
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.0) and band.max() == pytest.approx(1.0)
    assert ax.get_ylim() == pytest.approx((0.2, 0.6))
    # a narrow band widens the axis only as far as it reaches; unbounded columns are not clipped
    assert plots.curves.band_limits((0.3, 0.5), (0.28, 0.55), (0.0, 1.0)) == pytest.approx((0.28, 0.55))
    assert plots.curves.band_limits((0.3, 0.5), None, None) == pytest.approx((0.29, 0.51))
    assert plots.curves.value_bounds("train_loss_mean") is None and plots.curves.value_bounds("adv") == (-1.0, 1.0)
    plt.close("all")


def test_p1_bars_without_intervals_takes_p1_tables_layout():
    from ccl_lib.paper_results import table1

    paper = table1()
    wide = pd.DataFrame({"location": [0.40, 0.38, 0.39]}, index=["CCQL", "CCEL", "w/o"])
    fig = plots.p1_bars(wide, paper)
    ours = fig.axes[0]
    assert sorted(round(p.get_height(), 6) for p in ours.patches) == [0.38, 0.39, 0.40]
    assert not _errorbars(ours) and ours.get_title() == "this run"
    s = pd.DataFrame([{"dataset": "location", "method": "w/o", "p1": 0.35, "p1_low": 0.33, "p1_high": 0.36}])
    ours = plots.p1_bars(s, paper, order=["w/o"]).axes[0]
    assert _yerr_segments(ours) == [pytest.approx((0.0, 0.33, 0.36))]
    assert ours.get_title() == "this run (95 % intervals)"
    wide_ci = s.assign(p1_low=-0.2, p1_high=1.3)  # two seeds: a t-interval leaves [0, 1], P1 cannot
    assert _yerr_segments(plots.p1_bars(wide_ci, paper, order=["w/o"]).axes[0]) == [pytest.approx((0.0, 0.0, 1.0))]
    with pytest.raises(ValueError, match="p1_high"):
        plots.p1_bars(s.drop(columns=["p1_high"]), paper)
    plt.close("all")


def test_strong_roc_panels_selects_data_sets_and_names_missing_ones():
    labels = np.r_[np.ones(10), np.zeros(20)].astype(bool)
    scores = np.linspace(0, 1, 30)
    runs = {(ds, d, 0): types.SimpleNamespace(results={"rmia": (scores, labels)})
            for ds in ("a", "b") for d in ("x", "y")}  # fmt: skip
    fig = plots.strong_roc_panels(runs, {"rmia": "RMIA"}, seed=0, datasets=["b"], defenses=["y"])
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_title() == "RMIA, b" and [ln.get_label() for ln in ax.lines] == ["y", "chance"]
    with pytest.raises(ValueError, match=r"data sets \['c'\]"):
        plots.strong_roc_panels(runs, {"rmia": "RMIA"}, seed=0, datasets=["c"])
    plt.close("all")
