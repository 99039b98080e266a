"""NN-based and augmentation-based attacks: data flow (shadow -> target), queries, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from ccl_lib.attacks import (
    AttackContext,
    ClassifierConfig,
    augmentation_attack,
    augmentation_features,
    nn_attack,
    nn_features,
    rotate_transform,
    rotation_angles,
    run_attacks,
    train_attack_classifier,
    translate_transform,
    translation_shifts,
)
from ccl_lib.train import predict_logits

FAST = ClassifierConfig(hidden=(32,), steps=300)
KS = lambda n: math.sqrt(math.log(1e6) / n)  # noqa: E731  one-sided two-sample KS bound, p = 1e-6


# --------------------------------------------------------------------------- query sets


def test_rotation_angles_and_translation_shifts():
    assert rotation_angles(15) == (0.0, -15.0, 15.0)
    assert rotation_angles(4, steps=4) == (0.0, -1.0, 1.0, -2.0, 2.0, -3.0, 3.0, -4.0, 4.0)  # the 2r+1 grid
    for d in (1, 2, 3):
        s = translation_shifts(d)
        assert s[0] == (0, 0) and len(s) == 4 * d + 1 and len(set(s)) == len(s)
        assert all(abs(i) + abs(j) == d for i, j in s[1:])
        # brute force: every integer pair at L1 distance d
        assert set(s[1:]) == {(i, j) for i in range(-d, d + 1) for j in range(-d, d + 1) if abs(i) + abs(j) == d}
    with pytest.raises(ValueError, match="degrees"):
        rotation_angles(0)
    with pytest.raises(ValueError, match="pixels"):
        translation_shifts(0)


def test_transforms_are_exact_on_the_device_batch():
    x = torch.randn(3, 2, 6, 6)
    assert torch.equal(rotate_transform(90)(x), torch.rot90(x, 1, (2, 3)))  # counter-clockwise
    assert torch.allclose(rotate_transform(0)(x), x)
    for i, j in translation_shifts(2):
        want = torch.zeros_like(x)
        h, w = x.shape[2:]
        want[:, :, max(i, 0) : h + min(i, 0), max(j, 0) : w + min(j, 0)] = x[
            :, :, max(-i, 0) : h - max(i, 0), max(-j, 0) : w - max(j, 0)
        ]
        assert torch.equal(translate_transform(i, j)(x), want), (i, j)


def test_augmentation_and_nn_features_by_hand():
    z1 = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[0.0, 3.0], [0.0, 2.0]])
    y = torch.tensor([0, 1])
    assert np.array_equal(augmentation_features([z1, z2], y, "correctness"), [[1, 0], [1, 1]])
    p = augmentation_features([z1, z2], y, "probability")
    assert p[0, 0] == pytest.approx(1 / (1 + math.exp(-2))) and p[1, 1] == pytest.approx(1 / (1 + math.exp(-2)))
    f = nn_features(torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([0]))
    e = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(f, [[*e, 1, 0, 0]], rtol=1e-6)
    np.testing.assert_allclose(
        nn_features(torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([0]), sort=True), [e[::-1]], rtol=1e-6
    )


# --------------------------------------------------------------------------- fake models


class ImageTable(nn.Module):
    """Constant 8x8 images whose value encodes an id (rotation/shift keep the centre).

    An augmented query (a zero-filled corner) is answered wrongly for the
    ``fragile`` ids; the identity query is always answered correctly.
    """

    def __init__(self, y: torch.Tensor, fragile: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("y", y)
        self.register_buffer("fragile", fragile)
        self.k = int(y.max()) + 1
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        c = x[:, 0, 3, 3]
        i = c.round().long() - 1
        corners = x[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]].min(1).values
        augmented = corners < c - 0.5
        cls = torch.where(augmented & self.fragile[i], (self.y[i] + 1) % self.k, self.y[i])
        return 5.0 * nn.functional.one_hot(cls, self.k).float() + 0 * self.dummy


def _image_ctx(n, target_leaks, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (4 * n,), generator=g)
    fragile = torch.ones(4 * n, dtype=torch.bool)
    fragile[:n] = False  # shadow members are robust to augmentation
    if target_leaks:
        fragile[2 * n : 3 * n] = False
    else:  # target members and non-members alike: half robust
        fragile[2 * n :] = torch.rand(2 * n, generator=g) < 0.5
    x = (torch.arange(4 * n, dtype=torch.float32) + 1).view(-1, 1, 1, 1).expand(-1, 1, 8, 8).contiguous()
    m = ImageTable(y, fragile)
    part = lambda a, b: (x[a:b], y[a:b])  # noqa: E731
    return AttackContext(m, m, target_in=part(2 * n, 3 * n), target_out=part(3 * n, 4 * n),
                         shadow_in=part(0, n), shadow_out=part(n, 2 * n), kind="image")  # fmt: skip


@pytest.mark.parametrize("aug", ["rotation", "translation"])
def test_augmentation_attack_learns_on_shadow_and_scores_the_target(aug):
    n = 400
    ctx = _image_ctx(n, target_leaks=True)
    res = augmentation_attack(ctx, aug, config=FAST)
    summ = res.summary()
    assert summ["advantage_oracle"] == 1.0 and summ["advantage"] == 1.0  # only augmented queries reveal it
    n_q = 3 if aug == "rotation" else 5
    assert res.info["n_queries"] == n_q
    aug_keys = {k[2] for k in ctx._cache if k[2] is not None}
    assert len(aug_keys) == n_q - 1  # every augmented query was made (identity shares the plain query)
    # the identity query alone reveals nothing: every example is answered correctly
    from ccl_lib.attacks import metric_attack

    assert metric_attack(ctx, "correctness").summary()["advantage_oracle"] == 0.0


@pytest.mark.parametrize("aug", ["rotation", "translation"])
def test_augmentation_attack_is_not_scored_on_its_own_training_set(aug):
    """Fault of the authors' release: the rotation attack was scored on the shadow data it was trained on."""
    n = 600
    res = augmentation_attack(_image_ctx(n, target_leaks=False, seed=1), aug, config=FAST)
    summ = res.summary()
    assert summ["advantage_oracle"] <= KS(n)  # scoring the shadow sets would give 1.0
    p = res.decision_out.mean()
    assert abs(summ["advantage"]) <= 5 * math.sqrt(2 * p * (1 - p) / n) + 1e-9


def test_augmentation_attacks_refuse_tabular_data():
    x, y = torch.randn(20, 5), torch.randint(0, 2, (20,))
    m = nn.Linear(5, 2)
    ctx = AttackContext(m, m, (x, y), (x, y), (x, y), (x, y), kind="tabular")
    with pytest.raises(ValueError, match="needs kind='image'"):
        augmentation_attack(ctx, "rotation")
    with pytest.raises(ValueError, match="cannot run on tabular data"):
        run_attacks(m, m, target_in=(x, y), target_out=(x, y), shadow_in=(x, y), shadow_out=(x, y),
                    attacks=["loss", "rotation"], kind="tabular", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="kind='image' expects"):
        run_attacks(m, m, target_in=(x, y), target_out=(x, y), shadow_in=(x, y), shadow_out=(x, y),
                    attacks=["rotation"], kind="image", progress=False)  # fmt: skip


# --------------------------------------------------------------------------- NN attack


class Table(nn.Module):
    def __init__(self, z):
        super().__init__()
        self.register_buffer("z", z)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.z[x[:, 0].round().long()] + 0 * self.dummy


def _tab_ctx(n, target_leaks, seed):
    rng = np.random.default_rng(seed)
    y = torch.as_tensor(rng.integers(0, 5, 4 * n))
    z = torch.as_tensor(rng.normal(0, 1, (4 * n, 5)), dtype=torch.float32)
    boost = torch.zeros(4 * n)
    boost[:n] = 4.0
    if target_leaks:
        boost[2 * n : 3 * n] = 4.0
    z[torch.arange(4 * n), y] += boost
    x = torch.arange(4 * n, dtype=torch.float32)[:, None]
    m = Table(z)
    part = lambda a, b: (x[a:b], y[a:b])  # noqa: E731
    return AttackContext(m, m, part(2 * n, 3 * n), part(3 * n, 4 * n), part(0, n), part(n, 2 * n))


@pytest.mark.parametrize("sort", [False, True])
def test_nn_attack_learns_on_shadow_and_scores_the_target(sort):
    n = 600
    leaky = nn_attack(_tab_ctx(n, True, 0), sort=sort, config=FAST).summary()
    assert leaky["advantage"] > 0.6 and leaky["auc"] > 0.85
    flat = nn_attack(_tab_ctx(n, False, 1), sort=sort, config=FAST)
    assert flat.summary()["advantage_oracle"] <= KS(n)


def test_attack_classifier_is_seeded_and_leaves_global_rng_alone():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 1, (200, 4)), rng.normal(0, 1, (200, 4))
    torch.manual_seed(123)
    expect_next = torch.rand(3)
    torch.manual_seed(123)
    c1 = train_attack_classifier(a, b, seed=7, config=FAST)
    assert torch.equal(torch.rand(3), expect_next)  # global RNG untouched
    c2 = train_attack_classifier(a, b, seed=7, config=FAST)
    c3 = train_attack_classifier(a, b, seed=8, config=FAST)
    assert np.array_equal(c1.logits(a), c2.logits(a))
    assert not np.array_equal(c1.logits(a), c3.logits(a))
    assert (c1.logits(a) >= 0).mean() > (c1.logits(b) >= 0).mean()
    with pytest.raises(ValueError, match="width"):
        train_attack_classifier(a, b[:, :3])


# --------------------------------------------------------------------------- eval mode, no query augmentation


class Recorder(nn.Module):
    """A CNN with dropout and batch norm that records the mode of every forward pass."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                                 nn.Dropout(0.5), nn.Linear(4 * 64, 3))  # fmt: skip
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.net(x)


def test_queries_use_eval_mode_and_are_not_augmented():
    """Fault of the authors' release: test-time queries were augmented (random crop/flip)."""
    torch.manual_seed(0)
    target, shadow = Recorder(), Recorder()
    for m in (target, shadow):
        m.train()
        m(torch.randn(64, 1, 8, 8))  # non-trivial BatchNorm running statistics
        m.modes.clear()
    x, y = torch.randn(40, 1, 8, 8), torch.randint(0, 3, (40,))
    sets = dict(target_in=(x[:10], y[:10]), target_out=(x[10:20], y[10:20]),
                shadow_in=(x[20:30], y[20:30]), shadow_out=(x[30:], y[30:]))  # fmt: skip
    r1, res1 = run_attacks(target, shadow, **sets, attacks=["loss", "rotation"], kind="image", device="cpu",
                           return_results=True, progress=False,
                           attack_options={"rotation": {"config": FAST}})  # fmt: skip
    assert target.modes and not any(target.modes) and not any(shadow.modes)
    assert target.training and shadow.training  # mode restored
    state = {k: v.clone() for k, v in target.state_dict().items()}
    r2, res2 = run_attacks(target, shadow, **sets, attacks=["loss", "rotation"], kind="image", device="cpu",
                           return_results=True, progress=False,
                           attack_options={"rotation": {"config": FAST}})  # fmt: skip
    assert all(torch.equal(v, target.state_dict()[k]) for k, v in state.items())  # BN statistics untouched
    assert np.array_equal(res1["loss"].scores_in, res2["loss"].scores_in)
    assert np.array_equal(res1["rotation"].scores_in, res2["rotation"].scores_in)
    # the loss attack's scores are the eval-mode, un-augmented losses up to the class thresholds' shifts
    target.eval()
    with torch.no_grad():
        z = target(x[:10]).double()
    loss = torch.log_softmax(z, 1).gather(1, y[:10, None])[:, 0].numpy()
    shift = loss - res1["loss"].scores_in
    for c in y[:10].unique():
        sel = (y[:10] == c).numpy()
        np.testing.assert_allclose(shift[sel], shift[sel][0], atol=1e-6)
    np.testing.assert_allclose(predict_logits(target, x[:10]).double().numpy(), z.numpy(), atol=1e-6)
