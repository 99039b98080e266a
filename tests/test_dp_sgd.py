"""DP-SGD through Opacus (Abadi et al., 2016): reported epsilon, clipping, reproducibility, model fixing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

pytest.importorskip("opacus")


from ccl_lib.defenses import defense_from_description, get_defense  # noqa: E402
from ccl_lib.defenses.dp_sgd import DPSGD, fix_model_for_opacus, opacus_epsilon  # noqa: E402
from ccl_lib.train import TrainConfig  # noqa: E402


def _data(n=96, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long()
    return x, y


def _mlp(d=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, 2))


def _rdp_epsilon_integer_orders(q: float, sigma: float, steps: int, delta: float) -> float:
    """Independent reference: RDP of the Poisson-sampled Gaussian mechanism at integer orders.

    Mironov, Talwar & Zhang (2019), Sec. 3.3: for integer alpha >= 2,
    ``RDP(alpha) = log(sum_k C(alpha, k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2))) / (alpha - 1)``,
    composed over ``steps`` (additive), converted to (epsilon, delta) with Balle et al. (2020, Thm. 21):
    ``eps = RDP - (log delta + log alpha) / (alpha - 1) + log((alpha - 1) / alpha)``, minimized over alpha.
    Opacus also uses fractional orders, so its epsilon is at most this (and close to it).
    """
    from scipy.special import gammaln, logsumexp

    best = math.inf
    for a in range(2, 64):
        k = np.arange(a + 1)
        log_terms = (gammaln(a + 1) - gammaln(k + 1) - gammaln(a - k + 1) + (a - k) * math.log1p(-q)
                     + k * math.log(q) + (k * k - k) / (2 * sigma**2))  # fmt: skip
        rdp = steps * logsumexp(log_terms) / (a - 1)
        best = min(best, rdp - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a))
    return best


@pytest.mark.parametrize(
    "q, sigma, steps, delta", [(0.25, 1.3, 12, 1e-4), (0.01, 1.1, 6000, 1e-5), (1 / 3, 1.0, 9, 1e-5)]
)
def test_opacus_epsilon_matches_an_independent_rdp_computation(q, sigma, steps, delta):
    ref = _rdp_epsilon_integer_orders(q, sigma, steps, delta)
    eps = opacus_epsilon(sigma, q, steps, delta, "rdp")
    assert 0.99 * ref <= eps <= ref + 1e-9  # fractional orders may only tighten it, and by < 1%
    assert opacus_epsilon(sigma, q, steps, delta, "prv") <= eps + 1e-6  # PRV is the tighter accountant


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_reported_epsilon_matches_an_independent_computation(accountant):
    x, y = _data(n=100)
    d = DPSGD(noise_multiplier=1.3, max_grad_norm=0.5, delta=1e-4, accountant=accountant)
    res = d.train(_mlp(), x, y, config=TrainConfig(epochs=3, batch_size=32), progress=False)
    steps_per_epoch = math.ceil(100 / 32)  # Opacus: sample_rate = 1 / len(loader)
    for e, row in enumerate(res.history, start=1):
        assert row["steps"] == e * steps_per_epoch
        assert row["sample_rate"] == pytest.approx(1 / steps_per_epoch)
        ref = _rdp_epsilon_integer_orders(1 / steps_per_epoch, 1.3, e * steps_per_epoch, 1e-4)
        if accountant == "rdp":
            assert 0.97 * ref <= row["epsilon"] <= ref + 1e-9  # fractional orders: up to 2% tighter at 4 steps
        else:  # PRV: a numerical, tighter accountant -- below the RDP value, same order of magnitude
            assert 0.5 * ref < row["epsilon"] <= ref + 1e-6
    assert res.history[0]["epsilon"] < res.history[-1]["epsilon"]


def test_history_lr_is_the_lr_each_epoch_trained_with():
    x, y = _data(n=64)
    d = DPSGD(noise_multiplier=1.0, max_grad_norm=1.0)
    res = d.train(_mlp(), x, y, config=TrainConfig(epochs=3, batch_size=32, lr=0.1, milestones=(2,)), progress=False)
    assert [round(r["lr"], 6) for r in res.history] == [0.1, 0.1, 0.01]  # the decay applies from epoch 3 on


@pytest.mark.filterwarnings("ignore:Optimal order is the smallest alpha")
def test_one_step_is_the_clipped_mean_gradient():
    """With q = 1 (batch = data set) and negligible noise, a step is lr * mean of per-example clipped gradients."""
    x, y = _data(n=16)
    model = _mlp(seed=1)
    before = [p.detach().clone() for p in model.parameters()]
    C, lr = 0.05, 0.1
    d = DPSGD(noise_multiplier=1e-9, max_grad_norm=C)
    d.train(
        model, x, y, config=TrainConfig(epochs=1, batch_size=16, lr=lr, momentum=0.0, weight_decay=0.0), progress=False
    )
    # brute force: per-example gradients by a loop, clipped to norm C, averaged
    ref = _mlp(seed=1)
    clipped = [torch.zeros_like(p) for p in ref.parameters()]
    for i in range(16):
        ref.zero_grad()
        nn.functional.cross_entropy(ref(x[i : i + 1]), y[i : i + 1]).backward()
        g = [p.grad.detach().clone() for p in ref.parameters()]
        norm = torch.sqrt(sum((gi**2).sum() for gi in g))
        factor = min(1.0, C / (float(norm) + 1e-6))
        for c, gi in zip(clipped, g):
            c += gi * factor
    for b, p, c in zip(before, model.parameters(), clipped):
        torch.testing.assert_close(b - p.detach(), lr * c / 16, rtol=1e-4, atol=1e-7)


def test_noise_is_seeded_and_matters():
    x, y = _data()
    cfg = TrainConfig(epochs=2, batch_size=32, seed=7)
    runs = []
    for sigma in (1.0, 1.0, 5.0):
        m = _mlp()
        DPSGD(noise_multiplier=sigma).train(m, x, y, config=cfg, progress=False)
        runs.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
    torch.testing.assert_close(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])


def test_hooks_and_ghost_clipping_give_the_same_update():
    x, y = _data()
    cfg = TrainConfig(epochs=1, batch_size=32, seed=3)
    out = []
    for mode in ("hooks", "ghost"):
        m = _mlp()
        DPSGD(grad_sample_mode=mode).train(m, x, y, config=cfg, progress=False)
        out.append(torch.cat([p.detach().ravel() for p in m.parameters()]))
    torch.testing.assert_close(out[0], out[1], rtol=1e-4, atol=1e-5)


def test_history_columns_and_model_is_left_clean():
    x, y = _data()
    m = _mlp()
    res = DPSGD().train(m, x, y, config=TrainConfig(epochs=2, batch_size=32, checkpoint_epochs=(1,)),
                        x_test=x, y_test=y, progress=False)  # fmt: skip
    row = res.history[-1]
    for key in (
        "epoch",
        "lr",
        "objective",
        "train_loss_mean",
        "train_acc",
        "test_acc",
        "epsilon",
        "delta",
        "steps",
        "seconds",
    ):
        assert key in row
    assert set(res.checkpoints) == {1}
    assert set(res.checkpoints[1]) == set(m.state_dict())
    assert all(not hasattr(p, "grad_sample") and not hasattr(p, "summed_grad") for p in m.parameters())
    assert all(len(mod._forward_hooks) == 0 and len(mod._backward_hooks) == 0 for mod in m.modules())
    with torch.inference_mode():
        assert m(x).shape == (len(x), 2)


def test_batchnorm_is_replaced_in_place_and_trains():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))  # fmt: skip
    x = torch.randn(24, 3, 8, 8)
    y = torch.randint(0, 2, (24,))
    res = DPSGD().train(m, x, y, config=TrainConfig(epochs=1, batch_size=8), progress=False)
    assert isinstance(m[1], nn.GroupNorm) and m[2].inplace is False
    assert math.isfinite(res.history[-1]["epsilon"])
    assert fix_model_for_opacus(m) == []  # already compatible


def test_describe_registry_and_validation():
    d = get_defense("dp_sgd", noise_multiplier=2.0, max_grad_norm=0.5)
    assert isinstance(d, DPSGD)
    desc = d.describe()
    assert desc == {
        "defense": "dp_sgd", "noise_multiplier": 2.0, "max_grad_norm": 0.5, "delta": 1e-5, "accountant": "rdp",
        "grad_sample_mode": "ghost", "sampling": "poisson", "clipping": "flat",
    }  # fmt: skip
    assert defense_from_description(desc) == d
    with pytest.raises(ValueError, match="noise_multiplier"):
        DPSGD(noise_multiplier=0.0)
    with pytest.raises(ValueError, match="accountant"):
        DPSGD(accountant="moments")
    with pytest.raises(ValueError, match="delta"):
        DPSGD(delta=1.0)
    x, y = _data()
    with pytest.raises(ValueError, match="equal length"):
        DPSGD().train(_mlp(), x, y[:-1], progress=False)
    with pytest.raises(ValueError, match="sample_rate"):
        opacus_epsilon(1.0, 0.0, 10, 1e-5)
    assert np.isfinite(opacus_epsilon(1.0, 0.01, 100, 1e-5, "prv"))
