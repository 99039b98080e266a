"""The experiment engine: run identity, cache, one run end to end, grids, named configs, CLI, plots.

Runs use scikit-learn's digits (offline) with a few epochs and the fast metric
attacks, so the file takes seconds.  Every number checked is recomputed
independently: accuracy from the stored model, advantage from the stored
scores by brute force over thresholds, P1 from Eq. 13 by hand.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from ccl_lib.experiments import (
    CacheError,
    ResultCache,
    RunSpec,
    derive_seed,
    grid,
    list_experiments,
    load_attack_results,
    load_experiment,
    load_model,
    load_result,
    run_experiment,
    run_grid,
)

ATTACKS = ("loss", "confidence", "entropy")


def tiny(**kw) -> RunSpec:
    base = dict(dataset="digits", defense="ccql", hparams={"alpha": 0.5}, epochs=2, size=100, attacks=ATTACKS)
    base.update(kw)
    return RunSpec(**base)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("CCL_PROGRESS", "0")


# --------------------------------------------------------------------------- identity


def test_runspec_rejects_bad_settings_with_clear_messages():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*digits"):
        RunSpec("nope")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        RunSpec("digits", epochs=0)
    with pytest.raises(ValueError, match="milestone 150 is beyond the 30 training epochs"):
        RunSpec("digits", epochs=30, milestones=(150,))
    with pytest.raises(ValueError, match="strictly increasing"):
        RunSpec("digits", epochs=30, milestones=(20, 10))
    with pytest.raises(ValueError, match="unknown model"):
        RunSpec("digits", model="vgg")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        RunSpec("digits", seed=-1)
    with pytest.raises(ValueError, match="unknown defense"):
        RunSpec("digits", defense="magic")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        RunSpec("digits", defense="ccql", hparams={"beta": 1})
    with pytest.raises(ValueError, match="alpha must be a number in"):
        RunSpec("digits", defense="ccql", hparams={"alpha": 2.0})
    with pytest.raises(ValueError, match=r"checkpoints at epochs \[50\], beyond the 30 training epochs"):
        RunSpec("digits", defense="early_stopping", hparams={"epochs": [10, 50]}, epochs=30)
    with pytest.raises(ValueError, match="need image data"):
        _ = RunSpec("digits", attacks=("rotation",)).resolved_attacks
    with pytest.raises(TypeError, match="hyperparameter 'alpha'"):
        RunSpec("digits", defense="ccql", hparams={"alpha": object()})


def test_key_covers_scale_and_defaults_but_not_spelling():
    # The authors' release dropped the scale from run names: here it is in key and label.
    a = RunSpec("digits", "ccql", {"alpha": 0.5, "scale": 1.0})
    b = RunSpec("digits", "ccql", {"alpha": 0.5, "scale": 0.01})
    assert a.key() != b.key()
    assert "scale=1" in a.label() and "scale=0.01" in b.label()
    # App. E.1 defaults are part of the identity: CIFAR-10's default scale is 0.01
    c = RunSpec("cifar10", "ccql", {"alpha": 0.5})
    assert c.identity()["defense"]["scale"] == 0.01
    assert c.key() == RunSpec("cifar10", "ccql", {"alpha": 0.5, "scale": 0.01}).key()
    assert "scale=0.01" in c.label()
    # same run, different spelling: auto model, hparam order, int vs float, attack order
    assert RunSpec("digits", model="auto").key() == RunSpec("digits", model="mlp").key()
    assert (
        RunSpec("digits", "ccl", {"alpha": 1, "concave": "exp"}).key()
        == RunSpec("digits", "ccl", {"concave": "exp", "alpha": 1.0}).key()
    )
    assert tiny(attacks=("loss", "entropy")).key() == tiny(attacks=("entropy", "loss")).key()
    # everything else changes the key
    base = tiny()
    for change in (
        dict(seed=1),
        dict(epochs=3),
        dict(lr=0.05),
        dict(size=50),
        dict(batch_size=64),
        dict(weight_decay=0.0),
        dict(attacks=("loss",)),
        dict(hparams={"alpha": 0.4}),
        dict(defense="ccel"),
    ):
        assert base.replace(**change).key() != base.key(), change
    # frozen, hashable, round-trips through a dict (the form sent to worker processes)
    assert {base: 1}[RunSpec.from_dict(json.loads(json.dumps(base.to_dict())))] == 1
    with pytest.raises(ValueError, match="unknown run setting"):
        RunSpec.from_dict({**base.to_dict(), "bogus": 1})


def test_derive_seed_separates_roles_and_is_stable():
    seeds = {derive_seed(s, r) for s in range(20) for r in ("target", "shadow")}
    assert len(seeds) == 40
    assert derive_seed(3, "target") == derive_seed(3, "target")
    assert all(0 <= s < 2**31 for s in seeds)


# --------------------------------------------------------------------------- one run


def _brute_force_advantage(scores_in: np.ndarray, scores_out: np.ndarray) -> float:
    best = 0.0
    for t in np.unique(np.r_[scores_in, scores_out]):
        best = max(best, float((scores_in >= t).mean() - (scores_out >= t).mean()))
    return best


def test_run_experiment_end_to_end_against_independent_recomputation(tmp_path):
    from ccl_lib.data import load_dataset
    from ccl_lib.splits import make_splits

    spec = tiny()
    # on the CPU, in float32, so that the recomputation below is exact (CUDA runs use bfloat16 autocast)
    res = run_experiment(spec, cache=tmp_path, progress=False, device="cpu")
    assert not res.cached
    df = res.frame()
    assert list(df["attack"]) == list(ATTACKS)
    for col in ("test_acc", "train_acc", "advantage", "auc", "tpr@0.1%", "tpr@1%", "p1", "alpha", "scale", "seed"):
        assert col in df.columns
    assert (df["scale"] == 1.0).all() and (df["alpha"] == 0.5).all()

    # test accuracy from the stored target model on the run's own split
    ds = load_dataset("digits")
    sp = make_splits(ds.y, n_parts=4, size=100, seed=spec.seed)
    model = load_model(spec, cache=tmp_path)
    with torch.no_grad():
        pred = model(ds.features(sp.target_test)).argmax(1).numpy()
    acc = float((pred == ds.y[sp.target_test]).mean())
    assert df["test_acc"].iloc[0] == pytest.approx(acc, abs=1e-12)
    with torch.no_grad():
        pred_tr = model(ds.features(sp.target_train)).argmax(1).numpy()
    assert df["train_acc"].iloc[0] == pytest.approx(float((pred_tr == ds.y[sp.target_train]).mean()), abs=1e-12)

    # every advantage from the stored scores, by brute force over thresholds (Eq. 2)
    stored = load_attack_results(spec, cache=tmp_path)
    assert list(stored) == list(ATTACKS)
    for _, row in df.iterrows():
        r = stored[row["attack"]]
        assert len(r.scores_in) == row["n_in"] == 100
        # the oracle bound: the best threshold chosen on the target itself, by brute force
        assert row["advantage_oracle"] == pytest.approx(_brute_force_advantage(r.scores_in, r.scores_out), abs=1e-12)
        # the headline: TPR - FPR of the decisions learned on the shadow model (Eq. 2)
        tpr_fpr = float(np.mean(r.decision_in) - np.mean(r.decision_out))
        assert row["advantage"] == pytest.approx(tpr_fpr, abs=1e-12) and row["advantage"] <= row["advantage_oracle"]
    # P1 (Eq. 13) with the highest advantage, by hand
    a, b = acc, 1.0 - df["advantage"].max()
    assert df["p1"].tolist() == pytest.approx([2 * a * b / (a + b)] * len(df), abs=1e-12)
    assert df["attack_p1"].iloc[0] == pytest.approx(
        2 * a * (1 - df["advantage"].iloc[0]) / (a + 1 - df["advantage"].iloc[0])
    )
    # loss statistics of Fig. 4c are the target's last history row
    last = res.histories["target"][-1]
    assert last["epoch"] == 2 and df["train_loss_var"].iloc[0] == last["train_loss_var"]
    assert len(res.histories["shadow"]) == 2

    # the same spec again: loaded, identical, nothing retrained
    again = run_experiment(spec, cache=tmp_path, progress=False)
    assert again.cached and again.rows == res.rows and again.histories == res.histories
    assert load_result(spec, cache=tmp_path).rows == res.rows


def test_runs_are_deterministic_and_seeds_matter():
    spec = tiny()
    r1 = run_experiment(spec, cache=False, progress=False)
    r2 = run_experiment(spec, cache=False, progress=False)
    assert r1.rows == r2.rows
    r3 = run_experiment(spec.replace(seed=1), cache=False, progress=False)
    assert [r["advantage"] for r in r3.rows] != [r["advantage"] for r in r1.rows] or r3.rows[0]["test_acc"] != r1.rows[
        0
    ]["test_acc"]


def test_rows_carry_bootstrap_intervals():
    spec = tiny()
    r1 = run_experiment(spec, cache=False, progress=False)
    for row in r1.rows:
        for m in ("advantage", "tpr@0.1%", "tpr@1%"):
            assert row[f"{m}_low"] <= row[m] + 1e-12 and row[m] <= row[f"{m}_high"] + 1e-12, (row["attack"], m)
    assert any(row["advantage_high"] > row["advantage_low"] for row in r1.rows)  # not degenerate
    df = r1.frame()
    cols = list(df.columns)
    assert cols.index("advantage_low") == cols.index("advantage") + 1  # metric columns, not hyperparameters


def test_interval_columns_are_the_bootstrap_of_the_stored_scores(tmp_path):
    from ccl_lib.experiments import load_attack_results
    from ccl_lib.stats import bootstrap_ci

    spec = tiny()
    res = run_experiment(spec, cache=tmp_path, progress=False)
    scored = load_attack_results(spec, cache=tmp_path)
    row = next(r for r in res.rows if r["attack"] == "loss")
    est, lo, hi = bootstrap_ci(
        scored["loss"].scores_in, scored["loss"].scores_out, "advantage_oracle", n_boot=1000, seed=spec.seed
    )
    assert (row["advantage_oracle"], row["advantage_oracle_low"], row["advantage_oracle_high"]) == pytest.approx(
        (est, lo, hi)
    )


def test_runs_differing_only_in_scale_both_survive(tmp_path):
    a = tiny(hparams={"alpha": 0.5, "scale": 1.0})
    b = tiny(hparams={"alpha": 0.5, "scale": 0.5})
    df = run_grid([a, b], cache=tmp_path, progress=False)
    assert sorted(ResultCache(tmp_path).keys()) == sorted([a.key(), b.key()])
    assert set(df["scale"]) == {1.0, 0.5}
    assert df.groupby("scale")["label"].first().str.contains("scale=").all()
    # both stored runs are still there and distinct after a rerun
    df2 = run_grid([b, a], cache=tmp_path, progress=False)
    assert df2.attrs["summary"]["cached"] == 2 and df2.attrs["summary"]["computed"] == 0
    assert load_result(a, cache=tmp_path).rows[0]["scale"] == 1.0
    assert load_result(b, cache=tmp_path).rows[0]["scale"] == 0.5


def test_corrupt_or_partial_cache_entries_are_recomputed(tmp_path):
    spec = tiny()
    cache = ResultCache(tmp_path)
    first = run_experiment(spec, cache=cache, progress=False)
    folder = cache.folder(spec.key())
    record = json.loads((folder / "result.json").read_text())
    model_file = folder / record["models"]["target"]["2"]

    # a flipped byte in a model file: the size check passes, the (default) sha256 check refuses the entry
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0xFF
    model_file.write_bytes(bytes(data))
    assert cache.read_record(spec.key(), verify="size", warn=False) is not None
    record, reason = cache.check_record(spec.key())
    assert record is None and reason == f"its file {model_file.name} does not match its recorded sha256"
    with pytest.raises(CacheError, match="does not match its recorded sha256"):
        load_model(spec, cache=cache)

    # a truncated result.json (a run killed while writing) counts as not finished
    (folder / "result.json").write_text('{"format": 1, "key": "')
    assert cache.read_record(spec.key()) is None
    again = run_experiment(spec, cache=cache, progress=False)
    assert not again.cached and again.rows == first.rows
    assert load_model(spec, cache=cache) is not None  # the model file is rewritten and loads

    # a missing model file: not finished either
    record = json.loads((folder / "result.json").read_text())
    (folder / record["models"]["shadow"]["2"]).unlink()
    assert spec.key() not in cache
    with pytest.raises(CacheError, match="not in the cache"):
        load_model(spec, cache=cache)


def test_early_stopping_reports_every_checkpoint(tmp_path):
    spec = RunSpec("digits", "early_stopping", {"epochs": [1, 3]}, epochs=3, size=100, attacks=("loss",))
    res = run_experiment(spec, cache=tmp_path, progress=False, device="cpu")
    df = res.frame()
    assert list(df["eval_epoch"]) == [1, 3]
    assert df["run_id"].nunique() == 2 and df["setting"].nunique() == 2
    hist = {h["epoch"]: h for h in res.histories["target"]}
    for _, row in df.iterrows():
        assert row["test_acc"] == hist[row["eval_epoch"]]["test_acc"]
        assert row["train_loss_var"] == hist[row["eval_epoch"]]["train_loss_var"]
    # the checkpoint of epoch 1 is stored and gives epoch 1's accuracy
    from ccl_lib.data import load_dataset
    from ccl_lib.splits import make_splits

    ds = load_dataset("digits")
    sp = make_splits(ds.y, n_parts=4, size=100, seed=0)
    m1 = load_model(spec, epoch=1, cache=tmp_path)
    with torch.no_grad():
        acc1 = float((m1(ds.features(sp.target_test)).argmax(1).numpy() == ds.y[sp.target_test]).mean())
    assert acc1 == pytest.approx(hist[1]["test_acc"], abs=1e-12)
    with pytest.raises(ValueError, match="stored epochs: \\[1, 3\\]"):
        load_model(spec, epoch=2, cache=tmp_path)


# --------------------------------------------------------------------------- grids and configs


def test_grid_expands_paper_grids_and_rescales_early_stopping():
    specs = grid("digits", {"vanilla": [{}], "ccql": "paper"}, seeds=[0, 1], epochs=30)
    assert len(specs) == 2 * (1 + 9)
    alphas = sorted({s.hparams["alpha"] for s in specs if s.defense == "ccql"})
    assert alphas == pytest.approx([0.1 * k for k in range(1, 10)])
    # App. E.2: 25, 50, ..., 275 of 300 epochs -> round half up of e / 10 for 30 epochs
    (es,) = grid("digits", ["early_stopping"], epochs=30)
    expected = [int(np.floor(e * 30 / 300 + 0.5)) for e in range(25, 300, 25)]
    assert list(es.hparams["epochs"]) == expected == [3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28]
    assert es.make_defense().checkpoint_epochs == tuple(expected)
    # explicit checkpoints are kept as written
    (own,) = grid("digits", {"early_stopping": [{"epochs": [2, 4]}]}, epochs=30)
    assert list(own.hparams["epochs"]) == [2, 4]
    # an explicit product, and duplicates dropped
    assert len(grid("digits", {"ccql": {"alpha": {"grid": [0.2, 0.4]}}}, seeds=[0, 0])) == 2
    with pytest.raises(ValueError, match="unknown defense"):
        grid("digits", {"nope": [{}]})


def test_every_named_experiment_loads_and_expands():
    names = list_experiments()
    for required in (
        "smoke-location",
        "smoke-digits",
        "table1-location",
        "figure2-cifar10",
        "figure4-alpha-cifar10",
        "purchase100-mlp",
        "texas100-mlp",
    ):
        assert required in names and names[required]
    for name in names:
        specs = load_experiment(name).specs()
        assert specs and len({s.key() for s in specs}) == len(specs), name
    fig2 = load_experiment("figure2-cifar10").specs()
    assert {s.model for s in fig2} == {"resnet34"} and {s.epochs for s in fig2} == {300}
    assert {s.milestones for s in fig2} == {(150, 225)}
    # every defense's paper grid (App. E): 68 settings including vanilla
    assert len(fig2) == 1 + 9 + 9 + 8 + 10 + 6 + 8 + 9 + 7 + 1
    # --set epochs rescales the milestones (150/225 of 300 -> 15/23 of 30)
    small = load_experiment("figure2-cifar10", ["epochs=30", "seeds=[1]"]).specs()
    assert {s.milestones for s in small} == {(15, 23)} and {s.seed for s in small} == {1}
    with pytest.raises(ValueError, match="unknown experiment 'nope'.*smoke-location"):
        load_experiment("nope")
    with pytest.raises(ValueError, match="unknown experiment setting 'bogus'"):
        load_experiment("smoke-digits", ["bogus=1"])
    with pytest.raises(ValueError, match="key=value"):
        load_experiment("smoke-digits", ["epochs"])


def test_cli_list_run_resume_and_errors(tmp_path, capsys):
    from ccl_lib.cli import main

    assert main(["list"]) == 0
    assert "smoke-location" in capsys.readouterr().out
    assert main(["run", "no-such-experiment"]) == 2
    assert "unknown experiment 'no-such-experiment'" in capsys.readouterr().err

    cfg = tmp_path / "mini.json"
    cfg.write_text(
        json.dumps(
            {
                "description": "test",
                "dataset": "digits",
                "epochs": 2,
                "size": 100,
                "attacks": list(ATTACKS),
                "defenses": {"vanilla": [{}], "ccql": [{"alpha": 0.5}]},
            }
        )
    )
    out = tmp_path / "rows.csv"
    args = ["run", str(cfg), "--cache", str(tmp_path / "cache"), "--out", str(out), "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "computed 2, cached 0, failed 0" in text
    import pandas as pd

    rows = pd.read_csv(out)
    assert len(rows) == 2 * len(ATTACKS) and set(rows["defense"]) == {"vanilla", "ccql"}
    assert main(args + ["--set", "seeds=[0]"]) == 0
    assert "computed 0, cached 2, failed 0" in capsys.readouterr().out
    assert main(["show", str(cfg), "--set", "seeds=[0,1]"]) == 0
    assert capsys.readouterr().out.count("digits/mlp") == 4
    assert main(["run", str(cfg), "--out", "x.txt"]) == 2
    assert "--out must end in .csv or .json" in capsys.readouterr().err


# --------------------------------------------------------------------------- plots


@pytest.fixture(scope="module")
def sweep_frame(tmp_path_factory):
    specs = grid(
        "digits",
        {"vanilla": [{}], "ccql": [{"alpha": 0.3}, {"alpha": 0.7}], "ccel": [{"alpha": 0.5}]},
        seeds=[0, 1],
        epochs=2,
        size=100,
        attacks=ATTACKS,
    )
    cache = tmp_path_factory.mktemp("plots_cache")
    return run_grid(specs, cache=cache, progress=False), specs, cache


def test_summarize_averages_over_seeds(sweep_frame):
    from ccl_lib.experiments import summarize

    df, _, _ = sweep_frame
    s = summarize(df)
    assert len(s) == 4 * len(ATTACKS) and (s["n"] == 2).all()
    one = df[(df["defense"] == "ccel") & (df["attack"] == "loss")]
    row = s[(s["defense"] == "ccel") & (s["attack"] == "loss")].iloc[0]
    assert row["advantage_mean"] == pytest.approx(one["advantage"].mean())
    assert row["advantage_std"] == pytest.approx(one["advantage"].std(ddof=1))


def test_plots_return_figures_with_expected_axes_and_lines(sweep_frame):
    import matplotlib.pyplot as plt
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure

    from ccl_lib import plots

    df, specs, cache = sweep_frame
    fig = plots.privacy_utility(df)
    assert isinstance(fig, Figure) and len(fig.axes) == len(ATTACKS)
    ax = fig.axes[0]
    assert ax.get_title() == "Loss" and ax.get_xlabel() == "test accuracy"
    # ccql, ccel curves + vanilla star + its two dotted lines; two seeds: every point has interval bars
    assert len(ax.lines) == 2 + 1 + 2
    ccql = next(c for c in ax.containers if c.get_label() == "CCQL").lines[0]
    assert len(ccql.get_xdata()) == 2 and np.all(np.diff(ccql.get_xdata()) >= 0)  # sorted by accuracy
    pts = df[(df["defense"] == "ccql") & (df["attack"] == "loss")].groupby("setting")[["test_acc", "advantage"]].mean()
    assert sorted(ccql.get_xdata()) == pytest.approx(sorted(pts["test_acc"]))
    assert len(plots.privacy_utility(df, attacks=["loss"]).axes) == 1
    plt.close("all")

    fig = plots.alpha_ablation(df)
    assert len(fig.axes) == 3 and [a.get_title() for a in fig.axes][2] == "variance of training loss"
    curves = {c.get_label(): c for c in fig.axes[0].containers}
    assert set(curves) == {"CCEL", "CCQL"}
    x, y = curves["CCQL"].lines[0].get_data()
    runs = df.drop_duplicates("run_id")
    want = runs[runs["defense"] == "ccql"].groupby("alpha")["test_acc"].mean()
    # the two curves are drawn side by side (x +- 0.0125) so that their interval bars do not overlap
    assert list(x) == pytest.approx([0.3 + 0.0125, 0.7 + 0.0125]) and list(y) == pytest.approx(
        list(want.loc[[0.3, 0.7]])
    )
    fig = plots.attack_bars(df, by="defense")
    assert len(fig.axes) == 1
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 3 and all(len(b) == len(ATTACKS) for b in bars)
    results = [load_result(s, cache=cache) for s in specs[:3]]
    fig = plots.training_curves(results)
    # vanilla's two seeds are one mean line with its band, ccql's one seed a plain line
    assert len(fig.axes) == 3 and all(len(a.lines) == 2 and len(a.collections) == 1 for a in fig.axes)
    fig = plots.roc_curves(load_attack_results(specs[0], cache=cache))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == len(ATTACKS) + 1
    assert fig.axes[0].get_xscale() == "log"
    plt.close("all")
    with pytest.raises(ValueError, match="lacks columns"):
        plots.privacy_utility(df.drop(columns=["test_acc"]))
    with pytest.raises(ValueError, match="not in the frame"):
        plots.privacy_utility(df, attacks=["rotation"])
