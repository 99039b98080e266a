"""Tests of ccl_lib.defenses: each defense's defining behaviour against independent references.

References used: closed forms written out here (CCL Eq. 4-6, focal loss,
label smoothing, entropy), brute-force double loops (MMD), autograd of plain
cross-entropy (RelaxLoss ascent/descent), hand-typed paper grids (App. E), and
bit-exact replays of seeded training runs (CCL alpha = 1 vs vanilla, early
stopping checkpoints).
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import ccl_lib.defenses as D
from ccl_lib.models import build_model
from ccl_lib.train import TrainConfig, predict_logits

torch.set_num_threads(1)

CPU = dict(device="cpu", track_train_loss=False)


def blobs(n=96, d=12, k=4, seed=0, noise=1.5):
    """Gaussian class blobs with label noise: a model can overfit them in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * 1.5
    y = torch.arange(n) % k
    x = centers[y] + noise * torch.randn(n, d, generator=g)
    return x, y


def small_mlp(d=12, k=4, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Dropout(dropout), nn.Linear(32, k))


def state_equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


# ---------------------------------------------------------------------------
# registry, validation, identity, grids
# ---------------------------------------------------------------------------


def test_names_and_parts():
    assert D.DEFENSE_NAMES == (
        "vanilla",
        "ccel",
        "ccql",
        "ccl",
        "focal",
        "focal_ccl",
        "relaxloss",
        "mixup_mmd",
        "advreg",
        "dropout",
        "label_smoothing",
        "confidence_penalty",
        "early_stopping",
        "dp_sgd",
    )
    for name in D.DEFENSE_NAMES:
        assert D.n_parts_for(name) == (5 if name in ("mixup_mmd", "advreg") else 4)
        if name != "dp_sgd":
            assert D.get_defense(name).needs_reference == (D.n_parts_for(name) == 5)
    with pytest.raises(ValueError, match="unknown defense 'bogus'.*vanilla"):
        D.n_parts_for("bogus")


@pytest.mark.parametrize(
    "name, hparams, message",
    [
        ("nope", {}, r"unknown defense 'nope'; choose one of \['vanilla'"),
        ("ccl", {"alhpa": 0.5}, r"unknown hyperparameter\(s\) \['alhpa'\].*allowed.*alpha"),
        ("vanilla", {"alpha": 0.5}, r"unknown hyperparameter\(s\) \['alpha'\]"),
        ("ccl", {"alpha": 1.5}, r"alpha must be a number in \[0, 1\]"),
        ("ccl", {"alpha": float("nan")}, r"alpha must be a number"),
        ("ccl", {"concave": "cubic"}, r"concave must be one of \['exp', 'quadratic'\]"),
        ("ccl", {"scale": 0.0}, r"scale must be a number in \(0, inf\)"),
        ("ccql", {"concave": "exp"}, r"fixes concave='quadratic'"),
        ("focal", {"gamma": -1}, r"gamma must be a number in \[0, inf\)"),
        ("relaxloss", {"alpha": -0.1}, r"alpha must be a number in \(0, inf\)"),
        ("mixup_mmd", {"weight": -1}, r"weight must be a number in \[0, inf\)"),
        ("mixup_mmd", {"bandwidth": 0}, r"bandwidth must be a number > 0"),
        ("advreg", {"inference_steps": 1.5}, r"inference_steps must be an integer"),
        ("advreg", {"gain": "max"}, r"gain must be one of"),
        ("dropout", {"rate": 1.0}, r"rate must be a number in \[0, 1\)"),
        ("label_smoothing", {"smoothing": 1.0}, r"smoothing must be a number in \[0, 1\)"),
        ("confidence_penalty", {"weight": "big"}, r"weight must be a number"),
        ("early_stopping", {"epochs": []}, r"epochs must be a non-empty list"),
        ("early_stopping", {"epochs": [3, 3]}, r"must not repeat"),
    ],
)
def test_invalid_choices_raise_clear_errors(name, hparams, message):
    with pytest.raises(ValueError, match=message):
        D.get_defense(name, **hparams)


def test_describe_is_complete_json_and_unique_over_all_paper_grids():
    seen = {}
    for name in D.DEFENSE_NAMES:
        if name == "dp_sgd":
            continue
        cls = D.defense_class(name)
        for setting in D.paper_grid(name):
            d = D.get_defense(name, **setting)
            desc = d.describe()
            assert desc["defense"] == name
            # every hyperparameter of the class is reported, defaults included -- except a switch
            # added later whose default reproduces recorded runs (Param.in_key=False: issue 23's variants)
            assert {k for k, p in cls.params.items() if p.in_key} <= set(desc)
            assert json.loads(json.dumps(desc)) == desc
            assert D.defense_from_description(desc).describe() == desc
            key = json.dumps(desc, sort_keys=True)
            assert key not in seen, (desc, seen.get(key))
            seen[key] = desc
    assert D.get_defense("ccl", alpha=0.5).describe() == {
        "defense": "ccl",
        "alpha": 0.5,
        "concave": "exp",
        "convex": "ce",
        "scale": 1.0,
        "gamma": 2.0,
    }
    assert D.get_defense("ccql", alpha=0.3).describe()["concave"] == "quadratic"
    assert D.get_defense("ccel", alpha=0.3).identity() != D.get_defense("ccql", alpha=0.3).identity()
    assert D.get_defense("ccl", alpha=0.3) == D.get_defense("ccl", alpha=0.3)


def test_paper_grids_match_appendix_e():
    # hand-typed from App. D / E of the paper (independent of the shipped JSON)
    a = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert D.paper_grid("ccql") == [{"alpha": v} for v in a]
    assert D.paper_grid("ccel") == [{"alpha": v} for v in a]
    assert D.paper_grid("ccl") == [{"concave": c, "alpha": v} for c in ("exp", "quadratic") for v in a]
    assert D.paper_grid("relaxloss") == [{"alpha": v} for v in (0.01, 0.04, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)]
    assert D.paper_grid("mixup_mmd") == [{"weight": v} for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8)]
    assert D.paper_grid("advreg") == [{"weight": v} for v in (0.8, 1.0, 1.2, 1.4, 1.6, 1.8)]
    assert D.paper_grid("dropout") == [{"rate": v} for v in (0.01, 0.02, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9)]
    assert D.paper_grid("label_smoothing") == [{"smoothing": v} for v in a]
    assert D.paper_grid("confidence_penalty") == [{"weight": v} for v in (0.1, 0.3, 0.5, 1, 2, 4, 8)]
    assert D.paper_grid("early_stopping") == [{"epochs": list(range(25, 276, 25))}]
    assert D.paper_grid("focal_ccl") == [{"gamma": 2.0, "alpha": v} for v in (0.2, 0.4, 0.6, 0.8)]
    assert D.paper_grid("vanilla") == [{}]
    g = D.paper_grid("ccql")
    g[0]["alpha"] = 99  # callers get copies
    assert D.paper_grid("ccql")[0]["alpha"] == 0.1
    with pytest.raises(ValueError, match="no hyperparameter grid for 'dp_sgd'"):
        D.paper_grid("dp_sgd")


def test_default_scale_app_e1():
    assert D.default_scale("cifar10") == 0.01
    assert D.default_scale("cifar10-jpeg") == 0.01
    assert D.default_scale("CIFAR100") == 0.05
    for other in ("location", "purchase100", "texas100", "imagenet", "digits"):
        assert D.default_scale(other) == 1.0
    with pytest.raises(ValueError, match="non-empty data set name"):
        D.default_scale("")


def test_dp_sgd_is_registered_lazily():
    assert "dp_sgd" in D.DEFENSE_NAMES
    if importlib.util.find_spec("ccl_lib.defenses.dp_sgd") is None:
        with pytest.raises(ImportError, match="ccl_lib.defenses.dp_sgd"):
            D.get_defense("dp_sgd")
    else:
        d = D.get_defense("dp_sgd")
        assert d.name == "dp_sgd" and d.describe()["defense"] == "dp_sgd"
        assert D.defense_from_description(d.describe()) == d
        assert D.n_parts_for("dp_sgd") == 4


def test_defense_from_description_rejects_records_it_cannot_reproduce():
    desc = D.get_defense("ccql", alpha=0.2, scale=0.01).describe()
    assert D.defense_from_description(json.loads(json.dumps(desc))).describe() == desc
    with pytest.raises(ValueError, match="fixes concave='quadratic'"):
        D.defense_from_description({**desc, "concave": "exp"})
    with pytest.raises(ValueError, match="'defense' key"):
        D.defense_from_description({"alpha": 0.2})


def test_hyperparameter_values_are_normalized():
    assert D.get_defense("early_stopping", epochs=np.array([5, 2])).describe()["epochs"] == [2, 5]
    assert D.get_defense("early_stopping", epochs=range(1, 4)).checkpoint_epochs == (1, 2, 3)
    assert D.get_defense("ccl", alpha=np.float32(0.25)).hparams["alpha"] == 0.25
    assert D.get_defense("advreg", inference_steps=3.0).hparams["inference_steps"] == 3
    with pytest.raises(ValueError, match="weight must be a number"):
        D.get_defense("confidence_penalty", weight="0.5")  # strings are not numbers


def test_register_defense_extends_the_registry():
    D.register_defense("my_ce_test", "ccl_lib.defenses.ccl:Vanilla", needs_reference=True)
    assert D.n_parts_for("my_ce_test") == 5
    assert isinstance(D.get_defense("my_ce_test"), D.Vanilla)
    with pytest.raises(ValueError, match="built-in"):
        D.register_defense("ccl", "ccl_lib.defenses.ccl:Vanilla")


# ---------------------------------------------------------------------------
# loss-function defenses
# ---------------------------------------------------------------------------


class _Fixed(nn.Module):
    """A "model" that returns given logits (to test objectives on hand-made outputs)."""

    def __init__(self, logits):
        super().__init__()
        self.z = nn.Parameter(logits.clone())

    def forward(self, x):
        return self.z[x.long()]


def _toy():
    z = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 1.2], [-0.5, 2.5, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 2, 0, 1])
    return z.float(), y, torch.arange(4)


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
def test_ccl_objective_closed_form(concave):
    z, y, idx = _toy()
    p = torch.softmax(z.double(), 1)[torch.arange(4), y]
    f = -torch.exp(p) if concave == "exp" else -p - p**2 / 2
    alpha, scale = 0.3, 0.05
    expected = (scale * (alpha * -torch.log(p) + (1 - alpha) * f)).mean()
    got = D.get_defense("ccl", alpha=alpha, concave=concave, scale=scale).loss(_Fixed(z), idx, y)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    name = "ccel" if concave == "exp" else "ccql"
    assert D.get_defense(name, alpha=alpha, scale=scale).loss(_Fixed(z), idx, y).item() == pytest.approx(got.item())


def test_focal_objectives_closed_form():
    z, y, idx = _toy()
    p = torch.softmax(z.double(), 1)[torch.arange(4), y]
    fl = -((1 - p) ** 2) * torch.log(p)
    got = D.get_defense("focal", gamma=2.0, scale=0.5).loss(_Fixed(z), idx, y)
    assert got.item() == pytest.approx((0.5 * fl).mean().item(), rel=1e-5)
    got = D.get_defense("focal_ccl", alpha=0.4).loss(_Fixed(z), idx, y)
    assert got.item() == pytest.approx((0.4 * fl + 0.6 * -torch.exp(p)).mean().item(), rel=1e-5)


def test_ccl_with_alpha_one_trains_exactly_like_vanilla():
    x, y = blobs()
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.1, seed=3, **CPU)
    states = {}
    for name, hp in [("vanilla", {}), ("ccl", {"alpha": 1.0}), ("ccql", {"alpha": 1.0}), ("ccql", {"alpha": 0.9})]:
        m = small_mlp(seed=1)
        D.get_defense(name, **hp).train(m, x, y, config=cfg, progress=False)
        states[(name, hp.get("alpha"))] = m.state_dict()
    ref = states[("vanilla", None)]
    assert state_equal(states[("ccl", 1.0)], ref)
    assert state_equal(states[("ccql", 1.0)], ref)
    assert not state_equal(states[("ccql", 0.9)], ref)  # the comparison can fail


# ---------------------------------------------------------------------------
# RelaxLoss
# ---------------------------------------------------------------------------


def _ce_grad(z, y):
    zz = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(zz, y), zz)
    return g


def _objective_grad(defense, z, y, epoch):
    m = _Fixed(z)
    loss = defense.loss(m, torch.arange(len(y)), y, epoch=epoch)
    (g,) = torch.autograd.grad(loss, m.z)
    return loss, g


def test_relaxloss_descends_above_alpha_and_ascends_below():
    z, y, _ = _toy()
    ce = F.cross_entropy(z, y).item()
    assert D.is_ascent_epoch(1) and not D.is_ascent_epoch(2)
    # mean loss above alpha: plain descent, in both kinds of epochs
    high = D.get_defense("relaxloss", alpha=ce * 0.5)
    for epoch in (1, 2):
        loss, g = _objective_grad(high, z, y, epoch)
        assert loss.item() == pytest.approx(ce, rel=1e-6)
        torch.testing.assert_close(g, _ce_grad(z, y))
    # mean loss below alpha in an ascent epoch: the gradient is -grad CE ...
    low = D.get_defense("relaxloss", alpha=ce * 2.0)
    loss, g = _objective_grad(low, z, y, epoch=1)
    torch.testing.assert_close(g, -_ce_grad(z, y))
    assert loss.item() == pytest.approx(ce * 2.0 - ce, rel=1e-6)  # |L - alpha|
    # ... so one SGD step on the objective *raises* the cross-entropy
    z_new = z - 0.5 * g
    assert F.cross_entropy(z_new, y).item() > ce + 1e-3


def test_relaxloss_posterior_flattening():
    z, y, _ = _toy()
    k = z.shape[1]
    p = torch.softmax(z, 1)
    correct = z.argmax(1) == y
    assert correct.tolist() == [True, True, False, False]  # rows 2 and 3 misclassified (row 3: tie -> class 0)
    t = D.flattened_targets(z, y)
    for i in range(4):
        if correct[i]:
            for c in range(k):
                want = p[i, y[i]] if c == y[i] else (1 - p[i, y[i]]) / (k - 1)
                assert t[i, c].item() == pytest.approx(want.item(), rel=1e-6)
        else:
            assert t[i].tolist() == F.one_hot(y[i], k).float().tolist()
    assert D.flattened_targets(z, y, upper=0.5)[0, 0].item() == pytest.approx(0.5)
    # a flattening epoch below alpha trains on these soft targets; gradient = (softmax - t) / N
    ce = F.cross_entropy(z, y).item()
    d = D.get_defense("relaxloss", alpha=ce * 2.0)
    loss, g = _objective_grad(d, z, y, epoch=2)
    torch.testing.assert_close(g, (p - t) / 4)
    assert g[0, y[0]].abs().item() < 1e-7 and g[1, y[1]].abs().item() < 1e-7  # p_y kept
    # after a step the non-target posteriors of correctly classified rows are flatter
    p_new = torch.softmax(z - 2.0 * g, 1)
    for i in (0, 1):
        others = [c for c in range(k) if c != y[i]]
        before, after = p[i, others], p_new[i, others]
        assert (after.max() - after.min()) < (before.max() - before.min())


# ---------------------------------------------------------------------------
# Mixup + MMD
# ---------------------------------------------------------------------------


def _mmd2_brute(x, y, sigma):
    def k(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * sigma**2))

    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n)) / n**2
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m)) / m**2
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return sxx + syy - 2 * sxy


def test_mmd_zero_for_identical_batches_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    a = torch.softmax(torch.randn(16, 5, generator=g) * 3, 1)
    b = torch.softmax(torch.randn(12, 5, generator=g), 1)
    assert D.mmd2(a, a).item() == 0.0
    assert D.mmd2(a, a[torch.randperm(16, generator=g)]).item() == pytest.approx(0.0, abs=1e-6)
    assert D.mmd2(a, a, "median").item() == 0.0
    for sigma in (0.3, 1.0):
        got = D.mmd2(a, b, sigma).item()
        assert got > 1e-3
        assert got == pytest.approx(_mmd2_brute(a.double(), b.double(), sigma), rel=1e-4, abs=1e-6)
    # the median heuristic: sigma^2 = median positive squared distance / 2
    pooled = torch.cat([a, b]).double()
    d2 = sorted(float(((pooled[i] - pooled[j]) ** 2).sum()) for i in range(28) for j in range(i + 1, 28))
    sigma = math.sqrt(d2[(len(d2) - 1) // 2] / 2)  # lower median of the 378 pairs
    assert D.median_bandwidth(torch.cat([a, b])).item() == pytest.approx(sigma, rel=1e-4)
    assert D.mmd2(a, b, "median").item() == pytest.approx(_mmd2_brute(a.double(), b.double(), sigma), rel=1e-3)
    with pytest.raises(ValueError, match="bandwidth"):
        D.mmd2(a, b, "silverman")


def test_mixup_is_a_convex_combination():
    x = torch.arange(12.0).reshape(4, 3)
    y = torch.tensor([0, 1, 2, 3])
    perm = torch.tensor([2, 0, 3, 1])
    xm, ya, yb = D.mixup(x, y, 0.25, perm)
    torch.testing.assert_close(xm, 0.25 * x + 0.75 * x[perm])
    assert ya.tolist() == [0, 1, 2, 3] and yb.tolist() == [2, 0, 3, 1]


def test_mixup_mmd_objective_and_label_matched_reference():
    x, y = blobs(n=64)
    xr, yr = blobs(n=40, seed=5)
    d = D.get_defense("mixup_mmd", weight=2.0)
    d._before_fit((xr, yr))
    model = small_mlp()
    d.setup(model, num_classes=4, device=torch.device("cpu"))
    # the reference batch drawn for a training batch has the training batch's labels
    xb, yb = d._reference_batch(y[:20], None)
    assert torch.equal(yb, y[:20])
    assert all(any(torch.equal(row, r) for r in xr[yr == c]) for row, c in zip(xb, yb))
    # the objective = mixup CE + weight * MMD^2(train outputs, detached reference outputs);
    # replay the defense's own random draws to compute it independently
    rng_state = torch.get_rng_state()
    loss = d.loss(model, x[:20], y[:20], ref=None, epoch=1)
    torch.set_rng_state(rng_state)
    lam = float(torch.distributions.Beta(torch.tensor(1.0), torch.tensor(1.0), validate_args=False).sample())
    perm = torch.randperm(20)
    torch.set_rng_state(rng_state)
    lam_d, perm_d = d.draw_mixup(20)
    assert float(lam_d) == lam and torch.equal(perm_d, perm)
    xr_b, _ = d._reference_batch(y[:20], None)
    assert 0.0 < lam < 1.0 and not torch.equal(perm, torch.arange(20))
    with torch.no_grad():
        out = model(lam * x[:20] + (1 - lam) * x[:20][perm])
        ce = lam * F.cross_entropy(out, y[:20]) + (1 - lam) * F.cross_entropy(out, y[:20][perm])
        pt = torch.softmax(model(x[:20]), 1).double()
        pr = torch.softmax(model(xr_b), 1).double()
    assert loss.item() == pytest.approx(ce.item() + 2.0 * _mmd2_brute(pt, pr, 1.0), rel=1e-4)
    d._after_fit()


# ---------------------------------------------------------------------------
# Adversarial regularization
# ---------------------------------------------------------------------------


def test_advreg_inference_model_improves_while_classifier_is_penalized():
    x, y = blobs(n=64, noise=2.5)
    xr, yr = blobs(n=64, seed=9, noise=2.5)
    model = small_mlp()
    # memorize the members so that their outputs differ from the reference outputs
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    d = D.get_defense("advreg", weight=1.5, inference_steps=5, inference_lr=3e-3)
    d.setup(model, num_classes=4, device=torch.device("cpu"))
    first = d.inference_step(model, x, y, xr, yr).item()
    for _ in range(30):
        last = d.inference_step(model, x, y, xr, yr).item()
    assert last < first - 0.05  # the inference model's BCE drops: it improves
    # the classifier's objective is CE + weight * (mean h(f(x), y) - 0.5) on the training batch
    loss = d.loss(model, x, y, ref=(xr, yr), epoch=1)
    with torch.no_grad():
        p = torch.softmax(model(x), 1)
        h = torch.sigmoid(d.inference_model(p, F.one_hot(y, 4).float()))
        expected = F.cross_entropy(model(x), y) + 1.5 * (h.mean() - 0.5)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # the backward pass of the classifier's loss leaves the inference model alone ...
    grads_before = [p_.grad.clone() for p_ in d.inference_model.parameters()]
    model.zero_grad()
    loss.backward()
    assert all(torch.equal(a, p_.grad) for a, p_ in zip(grads_before, d.inference_model.parameters()))
    # ... and a step along the adversarial term lowers the inference model's member score
    model.zero_grad()
    adv = d.inference_logits(torch.softmax(model(x), 1), y, detach_params=True).sigmoid().mean()
    adv.backward()
    with torch.no_grad():
        score_before = adv.item()
        for q in model.parameters():
            q -= 0.05 * q.grad
        score_after = d.inference_logits(torch.softmax(model(x), 1), y).sigmoid().mean().item()
    assert score_after < score_before


def test_advreg_warmup_is_plain_ce_and_reference_is_required():
    x, y = blobs(n=32)
    model = small_mlp()
    d = D.get_defense("advreg", warmup_epochs=2)
    d.setup(model, num_classes=4, device=torch.device("cpu"))
    assert d.loss(model, x, y, ref=None, epoch=2).item() == pytest.approx(F.cross_entropy(model(x), y).item())
    with pytest.raises(ValueError, match="reference"):
        d.loss(model, x, y, ref=None, epoch=3)
    with pytest.raises(ValueError, match="needs the reference split"):
        d.train(model, x, y, config=TrainConfig(epochs=1, **CPU), progress=False)


# ---------------------------------------------------------------------------
# dropout, label smoothing, confidence penalty, early stopping
# ---------------------------------------------------------------------------


def test_dropout_applies_to_the_last_layer_input():
    d = D.get_defense("dropout", rate=0.3)
    assert d.model_kwargs == {"dropout": 0.3}
    m = build_model("mlp", (20,), 5, **d.model_kwargs)
    seen = []
    m.classifier.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach()))
    m.train()
    m(torch.randn(400, 20))
    frac_zero = (seen[0] == 0).float().mean().item()
    assert frac_zero == pytest.approx(0.3, abs=0.02)
    m.eval()
    m(torch.randn(10, 20))
    assert (seen[1] == 0).float().mean().item() == 0.0
    assert D.get_defense("vanilla").model_kwargs == {}


def test_label_smoothing_target_distribution():
    t = D.smoothed_targets(torch.tensor([2, 0]), 4, 0.2)
    torch.testing.assert_close(t, torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]]))
    z, y, idx = _toy()
    d = D.get_defense("label_smoothing", smoothing=0.3)
    got = d.loss(_Fixed(z), idx, y)
    assert got.item() == pytest.approx(F.cross_entropy(z, y, label_smoothing=0.3).item(), rel=1e-6)
    # the loss is minimized exactly when the softmax output equals the smoothed target
    target = D.smoothed_targets(y, 3, 0.3)
    _, g = _objective_grad(d, target.log(), y, epoch=1)
    assert g.abs().max().item() < 1e-6
    _, g = _objective_grad(d, (F.one_hot(y, 3).float() * 0.98 + 0.01).log(), y, epoch=1)
    assert g.abs().max().item() > 1e-2


def test_confidence_penalty_formula_and_lower_confidence_than_vanilla():
    z, y, idx = _toy()
    p = torch.softmax(z.double(), 1)
    h = -(p * p.log()).sum(1)
    got = D.get_defense("confidence_penalty", weight=2.0).loss(_Fixed(z), idx, y)
    assert got.item() == pytest.approx((F.cross_entropy(z.double(), y) - 2.0 * h.mean()).item(), rel=1e-5)
    x, yy = blobs()
    cfg = TrainConfig(epochs=8, batch_size=32, lr=0.1, seed=0, **CPU)
    conf = {}
    for name, hp in [("vanilla", {}), ("confidence_penalty", {"weight": 1.0})]:
        m = small_mlp(seed=2)
        D.get_defense(name, **hp).train(m, x, yy, config=cfg, progress=False)
        conf[name] = torch.softmax(predict_logits(m, x), 1).max(1).values.mean().item()
    assert conf["confidence_penalty"] < conf["vanilla"] - 0.05


def test_early_stopping_returns_the_requested_checkpoints():
    x, y = blobs()
    d = D.get_defense("early_stopping", epochs=[4, 2, 6])
    assert d.checkpoint_epochs == (2, 4, 6)
    cfg = TrainConfig(epochs=6, batch_size=32, lr=0.1, seed=4, **CPU)
    m = small_mlp(seed=5)
    res = d.train(m, x, y, config=cfg, progress=False)
    assert sorted(res.checkpoints) == [2, 4, 6]
    assert state_equal(res.checkpoints[6], m.state_dict())
    # checkpoint 2 is exactly the model after 2 epochs of the same seeded run
    m2 = small_mlp(seed=5)
    D.get_defense("vanilla").train(
        m2, x, y, config=TrainConfig(epochs=2, batch_size=32, lr=0.1, seed=4, **CPU), progress=False
    )
    assert state_equal(res.checkpoints[2], m2.state_dict())
    assert not state_equal(res.checkpoints[2], res.checkpoints[4])
    # the config's own checkpoint epochs are kept too
    res = d.train(small_mlp(seed=5), x, y, config=TrainConfig(epochs=6, checkpoint_epochs=(1,), **CPU), progress=False)
    assert sorted(res.checkpoints) == [1, 2, 4, 6]
    with pytest.raises(ValueError, match=r"epochs \[25, 50"):
        D.get_defense("early_stopping").train(small_mlp(), x, y, config=TrainConfig(epochs=3, **CPU), progress=False)


def test_rescale_epochs():
    assert D.rescale_epochs(D.PAPER_EARLY_STOPPING_EPOCHS, 300) == D.PAPER_EARLY_STOPPING_EPOCHS
    assert D.rescale_epochs(D.PAPER_EARLY_STOPPING_EPOCHS, 30) == (3, 5, 8, 10, 13, 15, 18, 20, 23, 25, 28)
    assert D.rescale_epochs([25, 50, 275], 6) == (1, 6)
    with pytest.raises(ValueError, match="total_epochs"):
        D.rescale_epochs([1], 0)


# ---------------------------------------------------------------------------
# every defense trains an MLP and a small CNN
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in D.DEFENSE_NAMES if n != "dp_sgd"])
@pytest.mark.parametrize("arch", ["mlp", "small_cnn"])
def test_every_defense_trains(name, arch):
    g = torch.Generator().manual_seed(0)
    shape = (12,) if arch == "mlp" else (3, 16, 16)
    n, k = 48, 4
    x = torch.randn(n, *shape, generator=g)
    y = torch.arange(n) % k
    ref = (torch.randn(32, *shape, generator=g), torch.arange(32) % k)
    hp = {"epochs": [1, 2]} if name == "early_stopping" else {}
    d = D.get_defense(name, **hp)
    torch.manual_seed(0)
    model = build_model(arch, shape, k, **d.model_kwargs)
    before = [p.detach().clone() for p in model.parameters()]
    res = d.train(
        model, x, y, config=TrainConfig(epochs=2, batch_size=16, lr=0.05, **CPU), reference=ref, progress=False
    )
    assert len(res.history) == 2 and all(math.isfinite(r["objective"]) for r in res.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert sorted(res.checkpoints) == ([1, 2] if name == "early_stopping" else [])


# ---------------------------------------------------------------------------
# no host synchronization inside a training step
# ---------------------------------------------------------------------------

_SYNCING = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")


class _NoHostReads:
    """Make Tensor methods that read a value on the host raise when called from ccl_lib code.

    On CUDA each of these waits for the device; the trainer reads the loss once
    per epoch, so an objective must never call them (no ``.item()`` per step).
    """

    def __enter__(self):
        import sys

        self.saved = {n: getattr(torch.Tensor, n) for n in _SYNCING}

        def guard(n, original):
            def method(t, *a, **k):
                caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
                if "/ccl_lib/defenses/" in caller or caller.endswith("/ccl_lib/losses.py"):
                    raise AssertionError(f"host read Tensor.{n} in {caller}:{sys._getframe(1).f_lineno}")
                return original(t, *a, **k)

            return method

        for n, original in self.saved.items():
            setattr(torch.Tensor, n, guard(n, original))
        return self

    def __exit__(self, *exc):
        for n, original in self.saved.items():
            setattr(torch.Tensor, n, original)


@pytest.mark.parametrize("name", [n for n in D.DEFENSE_NAMES if n not in ("dp_sgd",)])
def test_training_steps_read_nothing_on_the_host(name):
    x, y = blobs(n=32)
    ref = blobs(n=32, seed=3)
    d = D.get_defense(name, **({"epochs": [1]} if name == "early_stopping" else {}))
    original = d.loss
    calls = []

    def guarded(*a, **k):
        with _NoHostReads():
            out = original(*a, **k)
        calls.append(1)
        return out

    d.loss = guarded
    for epoch_count in (1, 2):  # RelaxLoss: an ascent epoch and a flattening epoch
        cfg = TrainConfig(epochs=epoch_count, batch_size=16, **CPU)
        d.train(small_mlp(), x, y, config=cfg, reference=ref, progress=False)
    assert len(calls) == 6
    # the guard itself works
    with _NoHostReads(), pytest.raises(AssertionError, match="host read"):
        exec(compile("torch.ones(1).item()", "/x/ccl_lib/defenses/fake.py", "exec"), {"torch": torch})
