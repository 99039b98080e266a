"""The suite: registry, input checks, balancing, P1 (Eq. 13), and end-to-end runs on small overfit models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from ccl_lib.attacks import (
    ATTACK_NAMES,
    ATTACKS,
    EXTRA_ATTACKS,
    IMAGE_ATTACKS,
    PAPER_ATTACKS,
    REPORT_COLUMNS,
    TABULAR_ATTACKS,
    AttackResult,
    ClassifierConfig,
    balanced_indices,
    is_paper_attack,
    p1_from_report,
    register_attack,
    run_attacks,
)
from ccl_lib.splits import make_splits
from ccl_lib.train import TrainConfig, accuracy, fit

FAST = {"config": ClassifierConfig(hidden=(32,), steps=300)}
N_E2E = 200  # examples per split in the end-to-end runs
KS = math.sqrt(math.log(1e6) / N_E2E)  # what a membership-blind score reaches by chance (p = 1e-6)
SD = math.sqrt(0.5 / N_E2E)  # standard deviation of TPR - FPR of a fixed rule, at most


def test_attack_lists():
    # the paper's eight (Sec. 5.1): NN, five metric attacks, two augmentation attacks; six on tabular data
    assert PAPER_ATTACKS == ATTACK_NAMES == ("nn", "correctness", "loss", "confidence", "entropy",
                                             "modified_entropy", "rotation", "translation")  # fmt: skip
    assert IMAGE_ATTACKS == PAPER_ATTACKS and TABULAR_ATTACKS == PAPER_ATTACKS[:-2]
    assert not set(EXTRA_ATTACKS) & set(PAPER_ATTACKS) and set(PAPER_ATTACKS + EXTRA_ATTACKS) <= set(ATTACKS)
    assert "confidence_max" not in ATTACKS  # confidence *is* the maximum probability now
    assert is_paper_attack("nn") and not is_paper_attack("nn_sorted") and not is_paper_attack("lira")
    assert REPORT_COLUMNS == ("attack", "advantage", "advantage_oracle", "balanced_accuracy", "auc",
                              "tpr@0.1%", "tpr@1%", "n_in", "n_out")  # fmt: skip


def test_balanced_indices():
    a, b = balanced_indices(100, 60, seed=3)
    assert len(a) == len(b) == 60 and np.array_equal(b, np.arange(60))
    assert np.all(np.diff(a) > 0) and a.max() < 100
    assert np.array_equal(a, balanced_indices(100, 60, seed=3)[0])
    assert not np.array_equal(a, balanced_indices(100, 60, seed=4)[0])
    with pytest.raises(ValueError, match="at least one"):
        balanced_indices(0, 5)


def test_p1_uses_the_highest_advantage_over_the_papers_attacks():
    """Fault of the authors' release: P1 came from the loss attack's accuracy instead of the advantage."""
    rep = pd.DataFrame({"attack": ["nn", "loss", "entropy", "rmia"], "advantage_oracle": [0.31, 0.12, 0.2, 0.95],
                        "advantage": [0.2, 0.1, 0.25, 0.9], "balanced_accuracy": [0.6, 0.55, 0.62, 0.95]})  # fmt: skip
    acc = 0.8

    def eq13(adv):
        return 2 * acc * (1 - adv) / (acc + 1 - adv)

    assert p1_from_report(rep, acc) == pytest.approx(eq13(0.25), abs=1e-12)  # highest shadow-rule advantage
    assert p1_from_report(rep, acc, column="advantage_oracle") == pytest.approx(eq13(0.31), abs=1e-12)
    assert p1_from_report(rep, acc, attacks="all") == pytest.approx(eq13(0.9), abs=1e-12)  # RMIA only when asked
    assert p1_from_report(rep, acc, attacks=["loss"]) == pytest.approx(eq13(0.1), abs=1e-12)
    assert p1_from_report(rep, acc) != pytest.approx(2 * acc * 0.55 / (acc + 0.55))  # not the loss accuracy
    with pytest.raises(ValueError, match="fraction"):
        p1_from_report(rep, 80.0)
    with pytest.raises(ValueError, match="column"):
        p1_from_report(rep.drop(columns="advantage"), 0.8)
    with pytest.raises(ValueError, match="attacks='all'"):
        p1_from_report(rep[rep.attack == "rmia"], 0.8)


class Lin(nn.Module):
    def __init__(self, d=4, k=3):
        super().__init__()
        self.f = nn.Linear(d, k)

    def forward(self, x):
        return self.f(x)


def _sets(n=30, d=4, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {name: (torch.randn(n, d, generator=g), torch.randint(0, k, (n,), generator=g))
            for name in ("target_in", "target_out", "shadow_in", "shadow_out")}  # fmt: skip


def test_registry_is_extensible_and_results_are_validated():
    @register_attack("const_test")
    def const(ctx, *, value=1.0):
        n_in, n_out = len(ctx.labels("target", "in")), len(ctx.labels("target", "out"))
        return AttackResult("anything", np.full(n_in, value), np.zeros(n_out), info={"value": value})

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_attack("const_test", lambda ctx: None)
        m = Lin()
        rep, res = run_attacks(m, m, **_sets(), attacks=["const_test", "loss"], return_results=True,
                               progress=False, attack_options={"const_test": {"value": 2.0}})  # fmt: skip
        assert list(rep.columns) == list(REPORT_COLUMNS)
        row = rep.set_index("attack").loc["const_test"]
        assert row["advantage_oracle"] == 1.0 and math.isnan(row["advantage"])
        assert res["const_test"].name == "const_test" and res["const_test"].info == {"value": 2.0}
        register_attack("bad_test", lambda ctx: 0.5)
        with pytest.raises(TypeError, match="not an AttackResult"):
            run_attacks(m, m, **_sets(), attacks=["bad_test"], progress=False)
    finally:
        ATTACKS.pop("const_test", None)
        ATTACKS.pop("bad_test", None)


def test_run_attacks_validates_inputs():
    m = Lin()
    s = _sets()
    with pytest.raises(ValueError, match="unknown attack"):
        run_attacks(m, m, **s, attacks=["loss", "lira_typo"])
    with pytest.raises(ValueError, match="twice"):
        run_attacks(m, m, **s, attacks=["loss", "loss"])
    with pytest.raises(TypeError, match="not a string"):
        run_attacks(m, m, **s, attacks="loss")
    with pytest.raises(ValueError, match="kind"):
        run_attacks(m, m, **s, kind="text")
    with pytest.raises(ValueError, match="seed"):
        run_attacks(m, m, **s, seed=-1)
    with pytest.raises(ValueError, match="not among the attacks"):
        run_attacks(m, m, **s, attacks=["loss"], attack_options={"nn": {}})
    with pytest.raises(TypeError, match="nn.Module"):
        run_attacks(lambda x: x, m, **s)
    bad = dict(s, shadow_out=(torch.randn(30, 5), s["shadow_out"][1]))
    with pytest.raises(ValueError, match="all four sets must match"):
        run_attacks(m, m, **bad, attacks=["loss"])
    bad = dict(s, target_in=(s["target_in"][0], s["target_in"][1].float()))
    with pytest.raises(ValueError, match="integer class labels"):
        run_attacks(m, m, **bad, attacks=["loss"])
    bad = dict(s, target_in=(s["target_in"][0], s["target_in"][1][:5]))
    with pytest.raises(ValueError, match="one label per row"):
        run_attacks(m, m, **bad, attacks=["loss"])


def test_run_attacks_casts_float64_inputs_and_warns_on_small_sets():
    m = Lin()
    s = _sets(n=40)
    ref = run_attacks(m, m, **s, attacks=["loss", "entropy"], progress=False)
    s64 = {k: (x.double(), y) for k, (x, y) in s.items()}  # float64 data, float32 model
    got = run_attacks(m, m, **s64, attacks=["loss", "entropy"], progress=False)
    pd.testing.assert_frame_equal(got, ref)  # cast to the model's dtype: the same queries, the same report
    with pytest.warns(UserWarning, match="only 20 members and 20 non-members"):
        run_attacks(m, m, **_sets(n=20), attacks=["loss"], progress=False)
    with pytest.raises(ValueError, match="different float dtypes"):
        run_attacks(m, Lin().double(), **s, attacks=["loss"], progress=False)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def digits():
    """sklearn's digits with 20% of the labels replaced at random: memorizing them overfits clearly."""
    from sklearn.datasets import load_digits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: extra threads only contend on a shared CPU
    d = load_digits()
    rng = np.random.default_rng(0)
    y0 = d.target.copy()
    noisy = rng.random(len(y0)) < 0.2
    y0[noisy] = rng.integers(0, 10, int(noisy.sum()))
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    sp = make_splits(y0, 4, size=N_E2E, seed=0)
    yield x, torch.tensor(y0, dtype=torch.long), sp
    torch.set_num_threads(threads)


def _train_pair(make, x, y, sp, epochs):
    out = {}
    for role in ("target", "shadow"):
        torch.manual_seed(0)
        m = make()
        idx = torch.as_tensor(getattr(sp, f"{role}_train"))
        cfg = TrainConfig(epochs=epochs, batch_size=32, lr=0.1, weight_decay=0.0, device="cpu", track_train_loss=False)
        fit(m, x[idx], y[idx], config=cfg, progress=False)
        out[role] = m
    return out


def _parts(x, y, sp):
    p = lambda idx: (x[torch.as_tensor(idx)], y[torch.as_tensor(idx)])  # noqa: E731
    return dict(target_in=p(sp.target_train), target_out=p(sp.target_test),
                shadow_in=p(sp.shadow_train), shadow_out=p(sp.shadow_test))  # fmt: skip


def test_end_to_end_tabular_digits_overfit_model(digits):
    x, y, sp = digits
    models = _train_pair(lambda: nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 10)), x, y, sp, 60)
    parts = _parts(x, y, sp)
    t = models["target"]
    gap = accuracy(t, *parts["target_in"]) - accuracy(t, *parts["target_out"])
    rep = run_attacks(t, models["shadow"], **parts, kind="tabular", device="cpu", progress=False,
                      attack_options={"nn": FAST})  # fmt: skip
    assert list(rep["attack"]) == list(TABULAR_ATTACKS)
    assert (rep["n_in"] == N_E2E).all() and (rep["n_out"] == N_E2E).all()
    r = rep.set_index("attack")
    assert gap > 0.2  # the model overfits...
    assert r.loc["loss", "advantage_oracle"] > KS and r.loc["loss", "advantage"] > 3 * SD  # ...and the attacks see it
    assert r["advantage_oracle"].max() > KS and (r["advantage"] > 3 * SD).sum() >= 4  # of the six
    assert r.loc["correctness", "advantage"] == pytest.approx(gap, abs=1e-6)  # Yeom et al.: train - test acc
    assert np.all(r["advantage_oracle"] >= r["advantage"] - 1e-12)  # the target-chosen threshold is the best one
    assert np.all(rep["auc"].between(0, 1))
    p1 = p1_from_report(rep, accuracy(t, *parts["target_out"]))
    assert 0 < p1 < 1


def test_end_to_end_images_digits_all_attacks(digits):
    x, y, sp = digits
    xi = ((x - 0.3) / 0.4).view(-1, 1, 8, 8)

    def cnn():
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10))

    models = _train_pair(cnn, xi, y, sp, 60)
    rep = run_attacks(models["target"], models["shadow"], **_parts(xi, y, sp), kind="image", device="cpu",
                      progress=False, attack_options={a: FAST for a in ("nn", "rotation", "translation")})  # fmt: skip
    assert list(rep["attack"]) == list(IMAGE_ATTACKS)
    r = rep.set_index("attack")
    assert r.loc["loss", "advantage_oracle"] > KS
    assert (r.loc[["rotation", "translation"], "advantage"] > 3 * SD).all()
