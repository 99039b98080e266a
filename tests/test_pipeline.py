"""One run as a pipeline (issue 21): each step of ``ccl_lib.experiments.runner._compute`` on its own.

Split, recipe, training, attack, rows, stored states and scores are checked against
independent references: set arithmetic on the split indices, the spec's own fields,
a literal P1 (Eq. 13) and brute-force advantages over thresholds.  Data: scikit-learn's
digits (offline), tiny parts, one or two epochs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ccl_lib.experiments import RunSpec, derive_seed, runner
from ccl_lib.train import TrainConfig

ATTACKS = ("loss", "confidence", "entropy")


def tiny(**kw) -> RunSpec:
    base = dict(dataset="digits", defense="vanilla", epochs=1, size=60, attacks=ATTACKS, seed=4)
    base.update(kw)
    return RunSpec(**base)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("CCL_PROGRESS", "0")


# --------------------------------------------------------------------------- split


@pytest.mark.parametrize("defense, names", [("vanilla", 4), ("advreg", 5)])
def test_the_split_step_gives_disjoint_parts_of_the_requested_size(defense, names):
    spec = tiny(defense=defense, size=70)
    ds, parts = runner._parts(spec)
    split = runner._split(spec, ds)
    expected = ["target_train", "target_test", "shadow_train", "shadow_test"] + (["reference"] if names == 5 else [])
    assert list(split) == expected and list(parts) == expected
    seen: set[int] = set()
    for name, idx in split.items():
        rows = set(int(i) for i in idx)
        assert len(idx) == 70 and len(rows) == 70, name
        assert rows.isdisjoint(seen), f"{name} overlaps an earlier part"
        assert all(0 <= i < len(ds.y) for i in rows)
        seen |= rows
        x, y = parts[name]
        assert x.shape == (70, *ds.input_shape) and y.dtype == torch.long
        assert np.array_equal(y.numpy(), ds.y[idx])  # the labels of exactly these rows
        assert torch.equal(x, torch.as_tensor(ds.features(idx)))
    # another seed, another split; the same seed, the same one
    assert not np.array_equal(runner._split(tiny(seed=5, size=70), ds)["target_train"], split["target_train"])
    assert all(np.array_equal(a, b) for a, b in zip(runner._split(spec, ds).values(), split.values()))


# --------------------------------------------------------------------------- recipe


def test_train_config_is_the_specs_recipe():
    spec = RunSpec("digits", epochs=7, milestones=(3, 5), lr=0.05, batch_size=32, momentum=0.5,
                   weight_decay=1e-3, augment=True, amp=False)  # fmt: skip
    c = spec.train_config(123, "cpu")
    assert isinstance(c, TrainConfig)
    assert (c.epochs, c.milestones, c.lr, c.batch_size, c.momentum, c.weight_decay) == (7, (3, 5), 0.05, 32, 0.5, 1e-3)
    assert (c.seed, c.device, c.amp) == (123, "cpu", False)
    assert c.augment is False  # digits is tabular: no crop and flip
    assert RunSpec("cifar10", augment=True).train_config(0).augment is True
    assert RunSpec("cifar10").train_config(0, torch.device("cpu")).device == "cpu"
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="role_seed must be a non-negative integer"):
            spec.train_config(bad)


# --------------------------------------------------------------------------- training


def test_the_training_step_trains_target_and_shadow_each_on_its_own_part():
    spec = tiny(epochs=2)
    ds, parts = runner._parts(spec)
    models, trained = runner._train_models(spec, ds, parts, torch.device("cpu"), False)
    assert list(models) == list(trained) == ["target", "shadow"]
    for role, result in trained.items():
        assert [h["epoch"] for h in result.history] == [1, 2]
        assert result.config.seed == derive_seed(spec.seed, role)
        assert result.config == spec.train_config(derive_seed(spec.seed, role), "cpu")
        # the history's train accuracy is that of the returned model on its own train part
        x, y = parts[runner.ROLES[role][0]]
        with torch.no_grad():
            acc = float((models[role].eval()(x).argmax(1) == y).double().mean())
        assert acc == pytest.approx(result.history[-1]["train_acc"], abs=1e-12)
    wt, ws = (next(models[r].parameters()) for r in ("target", "shadow"))
    assert not torch.equal(wt, ws)  # different seeds, different data


# --------------------------------------------------------------------------- attack and rows


class _Stub(torch.nn.Module):
    """A fixed linear classifier: logits ``x @ w`` (no training needed)."""

    def __init__(self, seed: int, d: int, k: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(d, k, generator=g))

    def forward(self, x):
        return x @ self.w


def _stub_parts(n=40, d=5, k=3):
    g = torch.Generator().manual_seed(0)
    names = ["target_train", "target_test", "shadow_train", "shadow_test"]
    return {p: (torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g)) for p in names}


def _advantage_brute(s_in, s_out):
    """max over thresholds t of TPR - FPR of 'member when score >= t' (Eq. 2; higher score = member)."""
    return max(float(np.mean(s_in >= t) - np.mean(s_out >= t)) for t in np.concatenate([s_in, s_out, [np.inf]]))


def test_the_attack_step_on_stub_models_returns_one_row_per_attack():
    spec = RunSpec("digits", attacks=ATTACKS, seed=2)
    parts = _stub_parts()
    models = {"target": _Stub(1, 5, 3), "shadow": _Stub(2, 5, 3)}
    report, results = runner._attack(spec, models, parts, torch.device("cpu"), False)
    assert sorted(report["attack"]) == sorted(ATTACKS) and len(report) == len(ATTACKS)
    assert sorted(results) == sorted(ATTACKS)
    for name, r in results.items():
        assert len(r.scores_in) == len(r.scores_out) == 40
        oracle = float(report.loc[report["attack"] == name, "advantage_oracle"].iloc[0])
        assert oracle == pytest.approx(_advantage_brute(np.asarray(r.scores_in), np.asarray(r.scores_out)), abs=1e-12)

    history = {"test_acc": 0.6, "train_acc": 0.9, "train_loss_mean": 0.3, "train_loss_var": 0.05, "test_loss_mean": 1.1}
    defense = spec.make_defense()
    rows = runner._epoch_rows(spec, defense, 1, False, history, report, results)
    assert [r["attack"] for r in rows] == list(report["attack"])
    adv = {r["attack"]: r["advantage"] for r in rows}
    best = max(adv.values())
    p1_literal = 2 * 0.6 * (1 - best) / (0.6 + 1 - best)  # Eq. 13 with the highest advantage
    for r in rows:
        assert (r["key"], r["run_id"], r["eval_epoch"], r["test_acc"]) == (spec.key(), spec.key(), 1, 0.6)
        assert r["paper_attack"] is True and r["max_advantage"] == best
        assert r["p1"] == pytest.approx(p1_literal, abs=1e-12)
        a = r["advantage"]
        assert r["attack_p1"] == pytest.approx(2 * 0.6 * (1 - a) / (0.6 + 1 - a), abs=1e-12)
        assert r["advantage_oracle_low"] <= r["advantage_oracle"] <= r["advantage_oracle_high"]
    stopped = runner._epoch_rows(spec, defense, 3, True, history, report, results)
    assert {r["run_id"] for r in stopped} == {f"{spec.key()}@3"}
    assert all(r["setting"].endswith(" stop=3") for r in stopped)

    arrays = runner._score_arrays(3, results)
    for name, r in results.items():
        assert np.array_equal(arrays[f"e3__{name}__scores_in"], np.asarray(r.scores_in, dtype=np.float64))
        assert (f"e3__{name}__decision_in" in arrays) == (r.decision_in is not None)
    assert all(k.startswith("e3__") for k in arrays)


def test_epoch_states_keep_the_shadow_only_at_the_last_epoch():
    models = {"target": _Stub(1, 5, 3), "shadow": _Stub(2, 5, 3)}
    assert list(runner._epoch_states(models, 2, last=False)) == ["target-e0002"]
    states = runner._epoch_states(models, 12, last=True)
    assert list(states) == ["target-e0012", "shadow-e0012"]
    assert torch.equal(states["shadow-e0012"]["w"], models["shadow"].w.detach())
    models["shadow"].w.data.zero_()  # a copy, not a view
    assert not torch.equal(states["shadow-e0012"]["w"], models["shadow"].w.detach())


def test_at_epoch_puts_each_model_at_its_checkpoint():
    models = {"target": _Stub(1, 5, 3), "shadow": _Stub(2, 5, 3)}

    class _Trained:
        def __init__(self, w):
            self.checkpoints = {4: {"w": w}}

    trained = {"target": _Trained(torch.ones(5, 3)), "shadow": _Trained(torch.full((5, 3), 2.0))}
    before = models["target"].w.detach().clone()
    runner._at_epoch(models, trained, None, "cpu")  # as trained: untouched
    assert torch.equal(models["target"].w.detach(), before) and not models["target"].training
    runner._at_epoch(models, trained, 4, "cpu")
    assert torch.equal(models["target"].w.detach(), torch.ones(5, 3))
    assert torch.equal(models["shadow"].w.detach(), torch.full((5, 3), 2.0))


def test_compute_is_the_steps_in_order():
    """_compute's rows equal the steps run by hand (the pipeline adds nothing of its own)."""
    spec = tiny(defense="early_stopping", hparams={"epochs": [1, 2]}, epochs=2)
    result, states, arrays = runner._compute(spec, "cpu", False)
    ds, parts = runner._parts(spec)
    models, trained = runner._train_models(spec, ds, parts, torch.device("cpu"), False)
    rows = []
    for e in (1, 2):
        runner._at_epoch(models, trained, e, "cpu")
        report, results = runner._attack(spec, models, parts, "cpu", False)
        hist = {int(h["epoch"]): h for h in trained["target"].history}[e]
        rows += runner._epoch_rows(spec, spec.make_defense(), e, True, hist, report, results)
    nan_safe = [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    got = [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in result.rows]
    assert got == nan_safe and len(rows) == 2 * len(ATTACKS)
    assert list(states) == ["target-e0001", "target-e0002", "shadow-e0002"]
    assert result.meta["eval_epochs"] == [1, 2]
    assert result.meta["split_sizes"] == {name: 60 for name in parts}
