"""Tests of ccl_lib.train (the recipe of Sec. 5.1) and the helpers of ccl_lib.utils it relies on."""

from __future__ import annotations

import hashlib
import math
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ccl_lib import utils
from ccl_lib.losses import convex_concave_loss
from ccl_lib.models import MLP, SmallCNN
from ccl_lib.train import (
    LossObjective,
    Objective,
    TrainConfig,
    accuracy,
    fit,
    predict_logits,
    random_crop_flip,
)

HISTORY_COLUMNS = {
    "epoch",
    "lr",
    "objective",
    "train_loss_mean",
    "train_loss_var",
    "train_acc",
    "test_loss_mean",
    "test_acc",
    "seconds",
}


def blobs(n=256, d=10, k=4, seed=0, sep=4.0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g) * sep
    y = torch.randint(0, k, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g), y


def small_mlp(d=10, k=4, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return MLP(d, k, hidden=(32, 16), dropout=dropout)


def cfg(**kw):
    base = dict(epochs=3, batch_size=32, lr=0.05, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


# ----------------------------------------------------------------------------- learning


def test_tiny_mlp_learns_separable_data():
    x, y = blobs()
    model = small_mlp()
    res = fit(model, x, y, config=cfg(epochs=8), x_test=x[:64], y_test=y[:64])
    assert set(res.history[-1]) == HISTORY_COLUMNS
    assert [h["epoch"] for h in res.history] == list(range(1, 9))
    assert res.history[-1]["train_acc"] >= 0.97
    assert res.history[-1]["objective"] < 0.5 * res.history[0]["objective"]
    assert not model.training  # fit leaves the model in eval mode


def test_history_statistics_match_an_independent_computation():
    x, y = blobs(n=200)
    xt, yt = blobs(n=80, seed=3)
    model = small_mlp()
    res = fit(model, x, y, config=cfg(epochs=2), x_test=xt, y_test=yt)
    last = res.history[-1]
    with torch.no_grad():
        ce = F.cross_entropy(model.eval()(x).double(), y, reduction="none")
        ce_t = F.cross_entropy(model(xt).double(), yt, reduction="none")
    assert last["train_loss_mean"] == pytest.approx(float(ce.mean()), rel=1e-5)
    assert last["train_loss_var"] == pytest.approx(float(ce.var(unbiased=False)), rel=1e-4)
    assert last["train_acc"] == pytest.approx(float((model(x).argmax(1) == y).double().mean()))
    assert last["test_loss_mean"] == pytest.approx(float(ce_t.mean()), rel=1e-5)
    assert last["test_acc"] == pytest.approx(accuracy(model, xt, yt))
    assert last["seconds"] > 0
    res = fit(small_mlp(), x, y, config=cfg(epochs=1, track_train_loss=False))
    assert set(res.history[0]) == {"epoch", "lr", "objective", "seconds"}
    assert res.history_frame().shape == (1, 4)


# ----------------------------------------------------------------------------- determinism


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_bit_identical_for_the_same_seed_and_different_across_seeds():
    x, y = blobs(n=160)
    runs = []
    for i, seed in enumerate((5, 5, 6)):
        model = small_mlp(dropout=0.3)  # dropout draws from the global RNG inside fit
        torch.rand(i + 1)  # the caller's RNG state differs between runs: fit seeds its own draws
        res = fit(model, x, y, config=cfg(epochs=2, seed=seed))
        runs.append((_state(model), [{k: v for k, v in h.items() if k != "seconds"} for h in res.history]))
    (s1, h1), (s2, h2), (s3, h3) = runs
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert h1 == h2
    assert not all(torch.equal(s1[k], s3[k]) for k in s1)
    assert h1 != h3


def test_fit_restores_the_global_rng():
    x, y = blobs(n=64)
    model = small_mlp(dropout=0.5)
    state = torch.get_rng_state()
    fit(model, x, y, config=cfg(epochs=1))
    assert torch.equal(torch.get_rng_state(), state)


# ----------------------------------------------------------------------------- the SGD recipe


def manual_sgd(w0, b0, x, y, lrs, momentum, wd):
    """PyTorch's SGD (momentum, weight decay) on a linear model with full-batch CE, in float64."""
    w, b = w0.clone(), b0.clone()
    bufs = [None, None]
    for lr in lrs:
        wv, bv = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        loss = F.cross_entropy(x @ wv.T + bv, y)
        gw, gb = torch.autograd.grad(loss, (wv, bv))
        new = []
        for i, (p, g) in enumerate(((w, gw), (b, gb))):
            d = g + wd * p
            bufs[i] = d.clone() if bufs[i] is None else momentum * bufs[i] + d
            new.append(p - lr * bufs[i])
        w, b = new
    return w, b


@pytest.mark.parametrize("fused", [True, False])
def test_sgd_with_momentum_weight_decay_and_milestones_matches_a_manual_reference(fused):
    x, y = blobs(n=48, d=5, k=3)
    x = x.double()
    torch.manual_seed(0)
    model = nn.Linear(5, 3).double()
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    config = cfg(epochs=5, batch_size=48, lr=0.1, milestones=(2, 4), fused=fused)  # one full batch per epoch
    res = fit(model, x, y, config=config)
    assert [h["lr"] for h in res.history] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    w, b = manual_sgd(w0, b0, x, y, [0.1, 0.1, 0.01, 0.01, 0.001], 0.9, 5e-4)
    torch.testing.assert_close(model.weight.detach(), w, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.bias.detach(), b, rtol=1e-10, atol=1e-12)


class BiasSum(Objective):
    """loss = sum(bias): its gradient is 1, so plain SGD moves each bias by exactly -lr per step."""

    name = "bias_sum"

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        return model.bias.sum() + 0.0 * model(x).sum()


def test_milestones_divide_the_applied_learning_rate_by_ten():
    x, y = blobs(n=8, d=3, k=2)
    model = nn.Linear(3, 2).double()
    config = cfg(
        epochs=6,
        batch_size=4,
        lr=0.5,
        momentum=0.0,
        weight_decay=0.0,
        milestones=(2, 4),
        checkpoint_epochs=(1, 2, 3, 4, 5, 6),
    )
    b0 = model.bias.detach().clone()
    res = fit(model, x.double(), y, objective=BiasSum(), config=config)
    biases = [b0] + [res.checkpoints[e]["bias"] for e in range(1, 7)]
    steps = [float((biases[i] - biases[i + 1])[0]) / 2 for i in range(6)]  # two steps per epoch
    assert steps == pytest.approx([0.5, 0.5, 0.05, 0.05, 0.005, 0.005], rel=1e-12)
    assert [h["lr"] for h in res.history] == pytest.approx(steps, rel=1e-12)


def test_schedule_unit_step_counts_milestones_in_sgd_steps():
    """TrainConfig(schedule_unit="step"): the scheduler steps after every SGD step (the CCL authors' fork,
    RelaxLoss.py), so milestones (3, 5) hit within epochs 2 and 3 at two steps per epoch."""
    x, y = blobs(n=8, d=3, k=2)
    model = nn.Linear(3, 2).double()
    config = cfg(epochs=4, batch_size=4, lr=0.5, momentum=0.0, weight_decay=0.0, milestones=(3, 5),
                 checkpoint_epochs=(1, 2, 3, 4), schedule_unit="step")  # fmt: skip
    b0 = model.bias.detach().clone()
    res = fit(model, x.double(), y, objective=BiasSum(), config=config)
    step_lrs = [0.5 * 0.1 ** sum(m <= s for m in (3, 5)) for s in range(8)]  # lr of SGD step s (0-based)
    moves = [sum(step_lrs[2 * e : 2 * e + 2]) for e in range(4)]  # the bias moves by the step's lr
    biases = [b0] + [res.checkpoints[e]["bias"] for e in range(1, 5)]
    assert [float((biases[i] - biases[i + 1])[0]) for i in range(4)] == pytest.approx(moves, rel=1e-12)
    assert [h["lr"] for h in res.history] == pytest.approx([step_lrs[2 * e] for e in range(4)], rel=1e-12)
    with pytest.raises(ValueError, match=r"schedule_unit must be one of \['epoch', 'step'\]"):
        cfg(schedule_unit="batch")


def test_ccl_objective_trains():
    x, y = blobs(n=128)
    obj = LossObjective(lambda z, t: convex_concave_loss(z, t, 0.5, "exp", check_inputs=False), name="ccel", alpha=0.5)
    res = fit(small_mlp(), x, y, objective=obj, config=cfg(epochs=4))
    assert res.history[-1]["train_acc"] > 0.9
    assert obj.describe() == {"name": "ccel", "alpha": 0.5}


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoints_in_memory_and_on_disk(tmp_path):
    x, y = blobs(n=96)
    model = small_mlp()
    res = fit(model, x, y, config=cfg(epochs=4, checkpoint_epochs=(1, 4)), checkpoint_dir=tmp_path / "ck")
    assert sorted(res.checkpoints) == [1, 4]
    assert sorted(os.listdir(tmp_path / "ck")) == ["epoch_0001.pt", "epoch_0004.pt"]  # no temporary files left
    final = model.state_dict()
    assert all(torch.equal(res.checkpoints[4][k], final[k]) for k in final)
    assert not torch.equal(res.checkpoints[1]["classifier.weight"], final["classifier.weight"])
    for epoch, (path, digest) in res.checkpoint_files.items():
        assert digest == hashlib.sha256(open(path, "rb").read()).hexdigest() == utils.sha256_file(path)
        loaded = utils.load_torch_verified(path, digest)
        assert all(torch.equal(loaded[k], res.checkpoints[epoch][k]) for k in loaded)
    path, digest = res.checkpoint_files[1]
    with pytest.raises(ValueError, match="refusing to load"):
        utils.load_torch_verified(path, "0" * 64)
    # checkpoints are copies, not views of the live weights
    res.checkpoints[4]["classifier.weight"].zero_()
    assert not torch.equal(model.state_dict()["classifier.weight"], res.checkpoints[4]["classifier.weight"])


def test_atomic_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    utils.atomic_write_bytes(target, b"old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(utils.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        utils.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_checkpoint_epoch_validation():
    with pytest.raises(ValueError, match=r"checkpoint epoch 5 is outside 1..4"):
        TrainConfig(epochs=4, checkpoint_epochs=(5,))


# ----------------------------------------------------------------------------- objectives and errors


class NeedsRef(Objective):
    name = "needs_ref"
    needs_reference = True

    def __init__(self):
        self.seen = []

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        self.seen.append((len(x), ref[0].clone(), ref[1].clone()))
        return F.cross_entropy(model(x), y)


def test_reference_objective():
    x, y = blobs(n=70)
    xr, yr = blobs(n=30, seed=9)
    with pytest.raises(ValueError, match=r"needs the reference split: pass reference=\(x_ref, y_ref\)"):
        fit(small_mlp(), x, y, objective=NeedsRef(), config=cfg(epochs=1))
    obj = NeedsRef()
    fit(small_mlp(), x, y, objective=obj, config=cfg(epochs=1, batch_size=32), reference=(xr, yr))
    assert [n for n, _, _ in obj.seen] == [32, 32, 6]
    for n, rx, ry in obj.seen:
        assert len(rx) == len(ry) == n
        match = (rx[:, None, :] == xr[None, :, :]).all(-1)  # every row is a row of the reference set
        assert match.any(1).all()
        assert torch.equal(yr[match.float().argmax(1)], ry)
    with pytest.raises(ValueError, match="reference inputs must be non-empty rows"):
        fit(small_mlp(), x, y, objective=NeedsRef(), config=cfg(epochs=1), reference=(xr[:, :3], yr))


class NaNObjective(Objective):
    name = "nan"

    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        return F.cross_entropy(model(x), y) * float("nan")


def test_divergence_raises_floating_point_error():
    x, y = blobs(n=64)
    with pytest.raises(FloatingPointError, match=r"diverged at epoch 1: the mean objective is nan .*'nan'"):
        fit(small_mlp(), x, y, objective=NaNObjective(), config=cfg(epochs=3))
    with pytest.raises(FloatingPointError, match=r"training diverged at epoch \d+.*lower the learning rate"):
        fit(small_mlp(), x, y, config=cfg(epochs=30, lr=1e6, track_train_loss=False))


class VectorObjective(Objective):
    def loss(self, model, x, y, *, ref=None, epoch=0, step=0):
        return F.cross_entropy(model(x), y, reduction="none")


def test_fit_input_validation():
    x, y = blobs(n=32)
    m = small_mlp()
    with pytest.raises(ValueError, match="must return a scalar tensor"):
        fit(m, x, y, objective=VectorObjective(), config=cfg(epochs=1))
    with pytest.raises(ValueError, match=r"labels in \[0, 3\] for a model with 4 outputs"):
        fit(m, x, y + 4, config=cfg(epochs=1))
    with pytest.raises(ValueError, match="x_train must be a floating-point tensor"):
        fit(m, x.long(), y, config=cfg(epochs=1))
    with pytest.raises(ValueError, match="31 labels for 32 inputs"):
        fit(m, x, y[:-1], config=cfg(epochs=1))
    with pytest.raises(ValueError, match="integer class labels"):
        fit(m, x, y.float(), config=cfg(epochs=1))
    with pytest.raises(ValueError, match="give both x_test and y_test"):
        fit(m, x, y, config=cfg(epochs=1), x_test=x)
    with pytest.raises(ValueError, match="x_test must be a floating-point tensor of rows shaped like"):
        fit(m, x, y, config=cfg(epochs=1), x_test=x[:, :5], y_test=y)
    with pytest.raises(TypeError, match="must be torch tensors"):
        fit(m, x.numpy(), y, config=cfg(epochs=1))
    with pytest.raises(TypeError, match="objective must be a ccl_lib.train.Objective"):
        fit(m, x, y, objective=F.cross_entropy, config=cfg(epochs=1))
    with pytest.raises(ValueError, match="x_train is empty"):
        fit(m, x[:0], y[:0], config=cfg(epochs=1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0), "epochs must be a positive integer"),
        (dict(epochs=2.5), "epochs must be a positive integer"),
        (dict(batch_size=0), "batch_size must be a positive integer"),
        (dict(lr=0), "lr must be a finite number > 0"),
        (dict(lr=float("inf")), "lr must be a finite number > 0"),
        (dict(momentum=1.0), r"momentum must be a number in \[0, 1\)"),
        (dict(weight_decay=-1e-4), "weight_decay must be a finite number >= 0"),
        (dict(lr_decay=0.0), r"lr_decay must be a number in \(0, 1\]"),
        (dict(milestones=(0,)), "milestone 0 must be >= 1"),
        (dict(milestones=(1.5,)), "milestones must hold integer epoch numbers"),
        (dict(milestones=5), "milestones must be a sequence"),
        (dict(seed=-1), "seed must be a non-negative integer"),
        (dict(eval_batch_size=0), "eval_batch_size must be a positive integer"),
    ],
)
def test_train_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_train_config_to_dict():
    d = TrainConfig(milestones=[50, 100], epochs=120).to_dict()
    assert d["milestones"] == [50, 100] and d["epochs"] == 120 and d["momentum"] == 0.9 and d["weight_decay"] == 5e-4


def test_bad_device():
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda'"):
        utils.resolve_device("tpu-ish")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            utils.resolve_device("cuda")
    assert utils.resolve_device("cpu") == torch.device("cpu")
    assert utils.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


# ----------------------------------------------------------------------------- augmentation


def slow_crop_flip(x, offsets, flips, padding):
    """Per-sample reference: zero-pad, take the H x W window at (row, col), mirror if asked."""
    n, c, h, w = x.shape
    out = []
    for i in range(n):
        img = torch.zeros(c, h + 2 * padding, w + 2 * padding, dtype=x.dtype)
        img[:, padding : padding + h, padding : padding + w] = x[i]
        r, s = int(offsets[0, i]), int(offsets[1, i])
        crop = img[:, r : r + h, s : s + w]
        out.append(torch.flip(crop, dims=[2]) if bool(flips[i]) else crop)
    return torch.stack(out)


@pytest.mark.parametrize("padding", [0, 1, 4])
def test_random_crop_flip_equals_per_sample_reference(padding):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 3, 6, 5, generator=g)
    offsets = torch.randint(0, 2 * padding + 1, (2, 9), generator=g)
    offsets[:, 0] = 0
    offsets[:, 1] = 2 * padding  # the extreme windows
    flips = torch.rand(9, generator=g) < 0.5
    flips[:2] = torch.tensor([True, False])
    out = random_crop_flip(x, padding, offsets=offsets, flips=flips)
    assert torch.equal(out, slow_crop_flip(x, offsets, flips, padding))
    assert out.is_contiguous()
    # drawn from a generator: reproducible, and equal to the reference with the same draws
    a = random_crop_flip(x, padding, torch.Generator().manual_seed(3))
    g3 = torch.Generator().manual_seed(3)
    off3 = torch.randint(0, 2 * padding + 1, (2, 9), generator=g3)
    flip3 = torch.rand(9, generator=g3) < 0.5
    assert torch.equal(a, slow_crop_flip(x, off3, flip3, padding))


def test_random_crop_flip_errors():
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_crop_flip(x[0])
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        random_crop_flip(x, -1)
    with pytest.raises(ValueError, match=r"offsets must have shape \(2, 2\)"):
        random_crop_flip(x, 2, offsets=torch.zeros(2, 3, dtype=torch.long), flips=torch.zeros(2, dtype=torch.bool))


def test_image_training_with_augmentation_is_deterministic():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, 8, 8, generator=g), torch.randint(0, 3, (40,), generator=g)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = SmallCNN(3, 3, width=4)
        fit(model, x, y, config=cfg(epochs=1, batch_size=16, augment=True, track_train_loss=False))
        states.append(_state(model))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


# ----------------------------------------------------------------------------- inference


def test_predict_logits_uses_eval_mode_and_restores_train_mode():
    x, _ = blobs(n=50)
    model = small_mlp(dropout=0.5).train()
    a = predict_logits(model, x, batch_size=7)
    b = predict_logits(model, x, batch_size=1000)
    assert model.training  # restored
    assert a.dtype == torch.float32 and a.device.type == "cpu" and a.shape == (50, 4)
    assert torch.equal(a, predict_logits(model, x, batch_size=7))  # no dropout: deterministic
    torch.testing.assert_close(a, b)
    with torch.no_grad():
        torch.testing.assert_close(a, model.eval()(x))
    assert not model.training
    assert not predict_logits(model, x).requires_grad
    # a transform is applied to each batch before the forward pass
    torch.testing.assert_close(predict_logits(model, x, transform=lambda t: t * 0), predict_logits(model, x * 0))

    def broken(t):
        raise RuntimeError("boom")

    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        predict_logits(model, x, transform=broken)
    assert model.training  # restored even after an error


def test_predict_logits_validation():
    model = small_mlp()
    x, y = blobs(n=5)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        predict_logits(model, x, batch_size=0)
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        predict_logits(model, x.numpy())
    with pytest.raises(ValueError, match="y must be a non-empty 1-d tensor"):
        accuracy(model, x, y[:3])


# ----------------------------------------------------------------------------- CUDA (runs only where a GPU is present)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_and_predict_on_cuda():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 3, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = SmallCNN(3, 3, width=4, dropout=0.2)
        res = fit(
            model, x, y, config=TrainConfig(epochs=2, batch_size=32, device="auto", augment=True), x_test=x, y_test=y
        )
        assert next(model.parameters()).device.type == "cuda"
        runs.append((model, res))
    assert set(runs[0][1].history[-1]) == HISTORY_COLUMNS
    assert all(math.isfinite(v) for v in runs[0][1].history[-1].values())
    # the same seed twice on the GPU: the same training (up to cuDNN's non-deterministic reductions)
    for h0, h1 in zip(runs[0][1].history, runs[1][1].history):
        assert h0["objective"] == pytest.approx(h1["objective"], rel=1e-3, abs=1e-5)
        assert h0["test_loss_mean"] == pytest.approx(h1["test_loss_mean"], rel=1e-3, abs=1e-5)
    for p0, p1 in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        torch.testing.assert_close(p0, p1, rtol=1e-3, atol=1e-4)
    logits = predict_logits(runs[0][0], x)
    assert logits.device.type == "cpu" and logits.dtype == torch.float32
    # float32 inference on the GPU agrees with the CPU
    cpu_model = SmallCNN(3, 3, width=4, dropout=0.2)
    cpu_model.load_state_dict({k: v.cpu() for k, v in runs[0][0].state_dict().items()})
    torch.testing.assert_close(logits, predict_logits(cpu_model, x), rtol=1e-3, atol=1e-3)
    bf16 = predict_logits(runs[0][0], x, amp=True)
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
