"""Issue 23: the code bases' forms as named variants, each against a transcription written here.

Every reference formula below is transcribed from the public code named in the variant's docstring
(numpy or plain loops), never computed with the function under test; each variant also has an input
on which it differs from the default, so the switch is known to act.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from ccl_lib import paper_results as pr
from ccl_lib.attacks import (
    AttackContext,
    best_threshold,
    fit_gaussians_reference,
    metric_scores,
    p1_from_report,
    release_metric_scores,
    release_threshold,
    run_attacks,
)
from ccl_lib.attacks.lira import lira_scores
from ccl_lib.defenses import ForkInferenceModel, default_scale, get_defense, pm1_code
from ccl_lib.experiments import RunSpec
from ccl_lib.metrics import p1_release
from ccl_lib.train import TrainConfig


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _fixed(logits):
    """A 'model' that returns the given logits (a leaf tensor whose gradient the test reads)."""

    class M(nn.Module):
        def forward(self, x):
            return logits

    return M()


Z = np.array([[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [1.0, 0.2, 0.9], [-0.5, 0.0, 2.5]])
Y = np.array([0, 0, 2, 2])  # rows 0 and 3 correct, 1 and 2 misclassified


def _release_np(z, y, upper, form):
    """DingfanChen/RelaxLoss source/{cifar,nonimage}/defense/relaxloss.py, flattening branch, in numpy."""
    p = _softmax(z)
    n, k = z.shape
    conf_t = np.clip(p[np.arange(n), y], 0.0, upper)
    conf_e = (1.0 - conf_t) / (k - 1)
    onehot = np.eye(k)[y]
    soft = onehot * conf_t[:, None] + (1 - onehot) * conf_e[:, None]
    soft_ce = -(soft * np.log(p)).sum(1)
    if form == "tabular":
        return soft_ce.mean()
    ce_full = -np.log(p[np.arange(n), y])
    correct = (z.argmax(1) == y).astype(float)
    return ((1 - correct) * soft_ce - ce_full).mean()


def _relax(variant, epoch, z=Z, y=Y, alpha=5.0, upper=1.0, epochs=31, x_dim=2):
    d = get_defense("relaxloss", alpha=alpha, upper=upper, variant=variant)
    d.bind(TrainConfig(epochs=epochs))
    logits = torch.tensor(z, requires_grad=True)
    x = torch.zeros((len(z), 3, 4, 4)) if x_dim == 4 else torch.zeros((len(z), 2))
    loss = d.loss(_fixed(logits), x, torch.tensor(y), epoch=epoch)
    loss.backward()
    return float(loss.detach()), logits.grad.numpy()


def _num_grad(f, z, h=1e-6):
    g = np.zeros_like(z)
    for i in np.ndindex(*z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += h
        zm[i] -= h
        g[i] = (f(zp) - f(zm)) / (2 * h)
    return g


@pytest.mark.parametrize(
    ("variant", "form", "x_dim"), [("release_tabular", "tabular", 2), ("release_image", "image", 4)]
)
def test_relaxloss_release_flattening_equals_the_transcription_value_and_gradient(variant, form, x_dim):
    # epoch 2 (1-based) = the release's 0-based odd epoch: flattening below alpha
    loss, grad = _relax(variant, 2, upper=0.9, x_dim=x_dim)
    assert loss == pytest.approx(_release_np(Z, Y, 0.9, form), rel=1e-6)
    # the soft target keeps its gradient in the release: finite differences of the formula agree
    assert np.allclose(grad, _num_grad(lambda z: _release_np(z, Y, 0.9, form), Z), atol=2e-5)
    # ascent epochs: |L - alpha|
    ce = -np.log(_softmax(Z)[np.arange(4), Y]).mean()
    assert _relax(variant, 1, x_dim=x_dim)[0] == pytest.approx(abs(ce - 5.0), rel=1e-6)
    # above alpha: plain CE (strict '>' as the release)
    assert _relax(variant, 2, alpha=0.01, x_dim=x_dim)[0] == pytest.approx(ce, rel=1e-6)
    # the switch acts: the paper's flattening (detached targets, correct rows) differs
    assert _relax("paper", 2, upper=0.9, x_dim=x_dim)[0] != pytest.approx(loss, rel=1e-3)


def test_relaxloss_ccl_code_is_flooding_at_an_even_epoch_count():
    ce = -np.log(_softmax(Z)[np.arange(4), Y]).mean()
    for epoch in (1, 2, 3):  # MLHospital RelaxLoss.py: `if self.epochs % 2 == 0: |L - alpha|`, every step
        assert _relax("ccl_code", epoch, epochs=30)[0] == pytest.approx(abs(ce - 5.0), rel=1e-6)
    # an odd epoch count: the image release's flattening in every epoch (p_y clipped at 1)
    for epoch in (1, 2):
        assert _relax("ccl_code", epoch, epochs=31)[0] == pytest.approx(_release_np(Z, Y, 1.0, "image"), rel=1e-6)
    assert _relax("paper", 2, epochs=30)[0] != pytest.approx(abs(ce - 5.0), rel=1e-3)


def _fork_train_mode_batches(epochs: int, batches: int) -> int:
    """MLHospital RelaxLoss.py TrainTargetRelaxLoss.train, transcribed: model.train() at each epoch's start;
    when `e % 10 == 0 or e < 3`, self.eval(...) after every batch leaves the model in eval mode."""
    n = 0
    for e in range(1, epochs + 1):
        training = True
        for _ in range(batches):
            n += training
            if e % 10 == 0 or e < 3:
                training = False
    return n


@pytest.mark.parametrize("epochs", [3, 11])
def test_relaxloss_ccl_code_trains_with_the_forks_trainer(epochs):
    """The fork steps its scheduler after every batch and trains in eval mode after its per-batch evaluation."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    runs = {}
    for variant in ("paper", "ccl_code"):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        config = TrainConfig(epochs=epochs, batch_size=4, lr=0.1, milestones=(2,), device="cpu")
        d = get_defense("relaxloss", alpha=0.5, variant=variant)
        res = d.train(model, x, y, config=config, progress=False)
        runs[variant] = (int(model[1].num_batches_tracked), [h["lr"] for h in res.history], d.adapt_config(config))
    bn_paper, lr_paper, cfg_paper = runs["paper"]
    bn_fork, lr_fork, cfg_fork = runs["ccl_code"]
    # BatchNorm counts the batches run in train mode
    assert bn_paper == epochs * 4
    assert bn_fork == _fork_train_mode_batches(epochs, 4) < bn_paper
    # milestone 2: after epoch 2 in Sec. 5.1's recipe, after SGD step 2 (in epoch 1) in the fork's
    assert lr_paper[:3] == pytest.approx([0.1, 0.1, 0.01])
    assert lr_fork[:3] == pytest.approx([0.1, 0.01, 0.01])
    assert cfg_paper.schedule_unit == "epoch" and cfg_fork.schedule_unit == "step"


def test_variant_names_kinds_and_recipe_are_checked():
    with pytest.raises(ValueError, match=r"unknown variant 'fork'; known variants: \['paper', 'ccl_code'"):
        get_defense("relaxloss", variant="fork")
    with pytest.raises(ValueError, match="does not apply to tabular data"):
        get_defense("relaxloss", variant="release_image").check_data("tabular")
    with pytest.raises(ValueError, match="does not apply to image data"):
        _relax("release_tabular", 2, x_dim=4)
    d = get_defense("relaxloss", variant="ccl_code")
    with pytest.raises(ValueError, match="epoch count"):
        d.loss(_fixed(torch.tensor(Z)), torch.zeros(4, 2), torch.tensor(Y), epoch=1)
    with pytest.raises(ValueError, match="do not apply"):
        get_defense("advreg", variant="ccl_code", inference_steps=3)
    with pytest.raises(ValueError, match="unknown variant"):
        get_defense("dropout", variant="logits")
    with pytest.raises(ValueError, match="known variants"):
        default_scale("cifar10", "readme")


def test_defaults_keep_the_run_identity_and_variants_change_it():
    base = RunSpec("location", defense="relaxloss", size=100)
    same = RunSpec("location", defense="relaxloss", hparams={"variant": "paper"}, size=100)
    other = RunSpec("location", defense="relaxloss", hparams={"variant": "ccl_code"}, size=100)
    assert base.key() == same.key() != other.key()
    assert "variant" not in get_defense("advreg").describe()
    assert get_defense("dropout", variant="ccl_code").describe()["variant"] == "ccl_code"
    assert get_defense("mixup_mmd").describe()["variant"] == "paper"  # its default's results changed (two passes)
    spec = RunSpec("location", attacks=["nn_release", "loss_release", "lira_reference"], size=100)
    assert spec.resolved_attacks == ("nn_release", "loss_release", "lira_reference")


def test_scale_variant_is_the_release_readme_beta():
    assert default_scale("cifar10") == 0.01 and default_scale("cifar10", "release") == 0.05
    assert default_scale("cifar100", "release") == 0.05 and default_scale("location", "release") == 1.0


# --------------------------------------------------------------------------- AdvReg (MLHospital fork)


def _fork_np(model, z, code):
    """MLHospital AdvReg.py AttackAdvReg.forward in numpy, from the module's weights (sigmoid output)."""
    w = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}

    def mlp(prefix, idx, h):
        for j, i in enumerate(idx):
            h = h @ w[f"{prefix}.{i}.weight"].T + w[f"{prefix}.{i}.bias"]
            if j < len(idx) - 1 or prefix != "combine":
                h = np.maximum(h, 0)
        return h

    a = mlp("features", (0, 2, 4), z)
    b = mlp("labels", (0, 2), code)
    return 1 / (1 + np.exp(-mlp("combine", (0, 2, 4, 6), np.concatenate([a, b], 1))[:, 0]))


def test_advreg_ccl_code_attack_model_loss_and_schedule():
    torch.manual_seed(0)
    k = 3
    m = ForkInferenceModel(k)
    shapes = [tuple(p.shape) for n, p in m.named_parameters() if n.endswith("weight")]
    assert shapes == [
        (1024, 3),
        (512, 1024),
        (64, 512),
        (128, 3),
        (64, 128),
        (256, 128),
        (128, 256),
        (64, 128),
        (1, 64),
    ]
    assert pm1_code(torch.tensor([2, 0]), 3).tolist() == [[-1, -1, 1], [1, -1, -1]]

    d = get_defense("advreg", weight=1.3, variant="ccl_code")
    d.bind(TrainConfig(epochs=8, lr=0.05))
    net = nn.Linear(2, k).double()
    d.setup(net, num_classes=k, device=torch.device("cpu"))
    assert isinstance(d.inference_optimizer, torch.optim.SGD) and d.inference_optimizer.defaults["lr"] == 0.05
    assert d.inference_optimizer.defaults["momentum"] == 0.9 and d.inference_optimizer.defaults["weight_decay"] == 5e-4
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 2, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2])
    ref = (torch.randn(6, 2, generator=g, dtype=torch.float64), torch.tensor([2, 1, 0, 2, 1, 0]))
    loss = d.loss(net, x, y, ref=ref, epoch=1)
    z = net(x).detach().numpy()
    want = -np.log(_softmax(z)[np.arange(6), y.numpy()]).mean() + 1.3 * (
        _fork_np(d.inference_model, z, pm1_code(y, k).double().numpy()).mean() - 0.5
    )
    assert float(loss) == pytest.approx(want, rel=1e-5)
    before = [p.detach().clone() for p in d.inference_model.parameters()]
    for epoch in (2, 3, 4, 4):  # warm-up: the attack model does not train before epoch 5
        d.loss(net, x, y, ref=ref, epoch=epoch)
    assert all(torch.equal(a, b) for a, b in zip(before, d.inference_model.parameters()))
    d.loss(net, x, y, ref=ref, epoch=5)  # one pass over epoch 4's two batches, then the classifier step
    assert not all(torch.equal(a, b) for a, b in zip(before, d.inference_model.parameters()))
    assert d.inference_scheduler.last_epoch == 2  # one cosine step per attack step
    lr = 0.05 * (1 + math.cos(math.pi * 2 / 8)) / 2
    assert d.inference_optimizer.param_groups[0]["lr"] == pytest.approx(lr)
    paper = get_defense("advreg", weight=1.3)
    paper.setup(net, num_classes=k, device=torch.device("cpu"))
    assert float(paper.loss(net, x, y, ref=ref, epoch=1)) != pytest.approx(float(loss), rel=1e-3)
    with pytest.raises(ValueError, match="bind"):
        get_defense("advreg", variant="ccl_code").setup(net, num_classes=k, device=torch.device("cpu"))


# --------------------------------------------------------------------------- dropout and mixup+mmd


def test_dropout_ccl_code_drops_logits():
    paper, code = get_defense("dropout", rate=0.5), get_defense("dropout", rate=0.5, variant="ccl_code")
    assert paper.model_kwargs == {"dropout": 0.5} and code.model_kwargs == {}
    z = torch.tensor([[1.0, -2.0]])
    model = _fixed(z)
    y = torch.tensor([0])
    # MLHospital mlh/utils.py get_target_model: nn.Dropout after the last Linear -> masks of the logits
    outcomes = {tuple(m): -math.log(_softmax(np.array([m]) * np.array([[1.0, -2.0]]) / 0.5)[0, 0]) for m in
                [(0, 0), (0, 1), (1, 0), (1, 1)]}  # fmt: skip
    seen = set()
    for s in range(40):
        torch.manual_seed(s)
        v = float(code.loss(model.train(), None, y))
        match = [m for m, c in outcomes.items() if abs(c - v) < 1e-6]
        assert match, v
        seen.add(match[0])
    assert len(seen) >= 3  # the switch acts: the logits are dropped at random
    assert float(code.loss(model.eval(), None, y)) == pytest.approx(-math.log(_softmax(np.array([[1.0, -2.0]]))[0, 0]))


def _mmd2_np(a, b, s=1.0):
    k = lambda u, v: np.exp(-((u[:, None, :] - v[None, :, :]) ** 2).sum(-1) / (2 * s * s))  # noqa: E731
    return max(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean(), 0.0)


def test_mixup_mmd_runs_members_and_references_in_two_passes():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3)).double().train()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    xr = torch.randn(8, 3, dtype=torch.float64) * 3 + 2
    ref = (xr, y.clone())

    def loss_of(variant):
        d = get_defense("mixup_mmd", weight=2.0, match_labels=False, variant=variant)
        torch.manual_seed(5)
        return float(d.loss(net, x, y, ref=ref)), d

    got, d = loss_of("paper")
    torch.manual_seed(5)
    lam, perm = d.draw_mixup(len(x))
    with torch.no_grad():
        out = net(lam * x + (1 - lam) * x[perm]).numpy()
        p_tr, p_ref = _softmax(net(x).numpy()), _softmax(net(xr).numpy())  # two passes (MixupMMDLoss.py)
    lp = np.log(_softmax(out))
    lam = float(lam)
    ce = lam * -lp[np.arange(8), y.numpy()].mean() + (1 - lam) * -lp[np.arange(8), y.numpy()[perm.numpy()]].mean()
    assert got == pytest.approx(ce + 2.0 * _mmd2_np(p_tr, p_ref), rel=1e-6)
    assert loss_of("shared_forward")[0] != pytest.approx(got, rel=1e-6)  # BatchNorm statistics shared


# --------------------------------------------------------------------------- metric attacks, thresholds


def _thre_setting(tr, te):
    """ConvexConcaveLoss metric_based_attack.py MetricBasedMIA._thre_setting, as written there."""
    value_list = np.concatenate((tr, te))
    thre, max_acc = 0, 0
    for value in value_list:
        tr_ratio = np.sum(tr >= value) / (len(tr) + 0.0)
        te_ratio = np.sum(te < value) / (len(te) + 0.0)
        acc = 0.5 * (tr_ratio + te_ratio)
        if acc > max_acc:
            thre, max_acc = value, acc
    return thre


def test_release_threshold_is_the_first_best_candidate():
    rng = np.random.default_rng(0)
    for _ in range(50):
        tr = rng.integers(0, 6, rng.integers(1, 12)).astype(np.float32)
        te = rng.integers(0, 6, rng.integers(1, 12)).astype(np.float32)
        assert release_threshold(tr, te) == float(_thre_setting(tr, te))
    tr, te = np.array([3.0, 1.0], np.float32), np.array([2.0, 0.0], np.float32)
    # thresholds 1 and 3 both reach balanced accuracy 0.75: the release keeps 3 (first), ccl_lib 3 too;
    # order the candidates the other way and the release keeps 1 while ccl_lib keeps the largest
    assert release_threshold(np.array([1.0, 3.0], np.float32), te) == 1.0
    assert best_threshold(np.r_[tr, te], [1, 1, 0, 0]).threshold == 3.0


def _release_np_scores(z, y):
    """ConvexConcaveLoss metric_based_attack.py parse_data_metric_based_attacks on float32 softmax outputs,
    higher = member: -utils.cross_entropy (log clipped at 1e-12), max prob, -_entr_comp, -_m_entr_comp."""
    p = torch.softmax(torch.as_tensor(z, dtype=torch.float32), 1).numpy()
    n, k = p.shape
    lv = lambda q: -np.log(np.maximum(q, np.float32(1e-30)))  # noqa: E731  _log_value
    celoss = -np.sum(np.eye(k)[y] * np.log(np.clip(p, 1e-12, 1 - 1e-12)), axis=1)  # utils.cross_entropy
    entr = np.sum(p * lv(p), axis=1)
    mp, ml = p.copy(), lv(1 - p)
    mp[range(n), y] = (1 - p)[range(n), y]
    ml[range(n), y] = lv(p)[range(n), y]
    ment = np.sum(mp * ml, axis=1)
    return {"loss": -celoss, "confidence": p.max(1), "entropy": -entr, "modified_entropy": -ment}


def test_release_metric_scores_transcribe_the_release_float32():
    z = np.array([[30.0, 0.0, -2.0], [0.3, 0.2, 0.1], [-1.0, 4.0, 0.0]], np.float32)
    y = np.array([0, 2, 1])
    want = _release_np_scores(z, y)
    got = {
        m: release_metric_scores(torch.tensor(z), torch.tensor(y), m) for m in ("loss", "entropy", "modified_entropy")
    }
    assert np.allclose(got["loss"], want["loss"], rtol=1e-6)
    assert np.allclose(got["entropy"], want["entropy"], rtol=1e-6)
    assert np.allclose(got["modified_entropy"], want["modified_entropy"], rtol=1e-6)
    assert np.array_equal(release_metric_scores(torch.tensor(z), torch.tensor(y), "confidence"), want["confidence"])
    # saturated float32: the release's loss is 0 for both confident rows, ccl_lib's float64 loss tells them apart
    zz = torch.tensor([[30.0, 0.0], [40.0, 0.0]])
    yy = torch.tensor([0, 0])
    assert release_metric_scores(zz, yy, "loss")[0] == release_metric_scores(zz, yy, "loss")[1]
    assert metric_scores(zz, yy, "loss")[0] < metric_scores(zz, yy, "loss")[1]


def _context(seed=0):
    g = torch.Generator().manual_seed(seed)
    target, shadow = nn.Linear(5, 3), nn.Linear(5, 3)
    parts = [(torch.randn(60, 5, generator=g), torch.randint(0, 3, (60,), generator=g)) for _ in range(4)]
    return target, shadow, parts


def test_release_attacks_run_in_the_suite_and_differ_from_ours():
    torch.manual_seed(0)
    target, shadow, parts = _context()
    rep, res = run_attacks(target, shadow, target_in=parts[0], target_out=parts[1], shadow_in=parts[2],
                           shadow_out=parts[3], attacks=["nn", "nn_release", "loss", "loss_release"],
                           return_results=True)  # fmt: skip
    assert list(rep["attack"]) == ["nn", "nn_release", "loss", "loss_release"]
    assert not np.allclose(res["nn"].scores_in, res["nn_release"].scores_in)
    # nn_release's decisions are the argmax of a 2-logit head: member iff its score (logit difference) > 0
    assert np.array_equal(res["nn_release"].decision_in, res["nn_release"].scores_in > 0)
    assert res["nn_release"].info["classifier"]["hidden"] == [64, 32]
    # loss_release's decisions: float32 log p_y >= the release's class threshold
    ctx = AttackContext(target, shadow, *parts)
    s = {(r, q): release_metric_scores(ctx.logits(r, q), ctx.labels(r, q), "loss") for r in ("shadow", "target")
         for q in ("in", "out")}  # fmt: skip
    ys_in, ys_out = ctx.labels("shadow", "in").numpy(), ctx.labels("shadow", "out").numpy()
    thr = [_thre_setting(s["shadow", "in"][ys_in == c], s["shadow", "out"][ys_out == c]) for c in range(3)]
    yt = ctx.labels("target", "in").numpy()
    assert np.array_equal(res["loss_release"].decision_in, s["target", "in"] >= np.array(thr)[yt])


class _Table(nn.Module):
    """A 'model' whose logits are looked up by the index in the input's first column."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(np.asarray(table, np.float32)))

    def forward(self, x):
        return self.table[x[:, 0].long()]


def _table_context(gaps_by_part, classes=3):
    """AttackContext of one table model (target = shadow); part i's rows have logits [g, 0, ..] and label 0."""
    rows, parts, start = [], [], 0
    for gaps in gaps_by_part:
        rows += [[g] + [0.0] * (classes - 1) for g in gaps]
        idx = torch.arange(start, start + len(gaps), dtype=torch.float32)[:, None]
        parts.append((idx, torch.zeros(len(gaps), dtype=torch.long)))
        start += len(gaps)
    model = _Table(rows)
    return AttackContext(model, model, parts[0], parts[1], parts[2], parts[3])


@pytest.mark.parametrize("metric", ["confidence", "entropy", "modified_entropy"])
def test_release_metric_attacks_equal_the_release_transcription(metric):
    from ccl_lib.attacks import ATTACKS

    name = {"confidence": "confidence_release", "entropy": "entropy_release",
            "modified_entropy": "modified_entropy_release"}[metric]  # fmt: skip
    # random logits, a few saturated in float32 (gap 25-40), the classes mixed
    g = torch.Generator().manual_seed(3)
    target, shadow, parts = nn.Linear(5, 4), nn.Linear(5, 4), []
    for _ in range(4):
        x, y = torch.randn(40, 5, generator=g), torch.randint(0, 4, (40,), generator=g)
        x[:6] *= 60.0
        parts.append((x, y))
    ctx = AttackContext(target, shadow, *parts)
    res = ATTACKS[name](ctx)
    z = {(r, q): ctx.logits(r, q).numpy() for r in ("shadow", "target") for q in ("in", "out")}
    y = {(r, q): ctx.labels(r, q).numpy() for r in ("shadow", "target") for q in ("in", "out")}
    s = {key: _release_np_scores(z[key], y[key])[metric] for key in z}
    assert s["target", "in"].dtype == np.float32
    thr = np.array([_thre_setting(s["shadow", "in"][y["shadow", "in"] == c],
                                  s["shadow", "out"][y["shadow", "out"] == c]) for c in range(4)])  # fmt: skip
    for q in ("in", "out"):
        t_thr = thr[y["target", q]]
        assert np.array_equal(getattr(res, f"decision_{q}"), s["target", q] >= t_thr)
        assert np.allclose(getattr(res, f"scores_{q}"), s["target", q].astype(np.float64) - t_thr, rtol=0, atol=1e-7)
    assert res.name == name and res.info["variant"] == "release"


def _pair(ctx, metric):
    """ccl_lib's attack and the release's form of ``metric`` on the context, as the suite runs them."""
    res = run_attacks(ctx.target, ctx.shadow, target_in=ctx.target_in, target_out=ctx.target_out,
                      shadow_in=ctx.shadow_in, shadow_out=ctx.shadow_out, attacks=[metric, f"{metric}_release"],
                      return_results=True, progress=False)[1]  # fmt: skip
    return res[metric], res[f"{metric}_release"]


@pytest.mark.parametrize("metric", ["confidence", "entropy", "modified_entropy"])
def test_release_metric_attacks_keep_the_first_best_threshold(metric):
    # one class; shadow members at logit gaps 1, 2 and non-members at 1.5, 0.5 (candidate order): the
    # scores of gaps 1 and 2 both give balanced accuracy 0.75 (each score increases with the gap); the
    # release keeps gap 1's (the first), ccl_lib the larger, so a target member at gap 1.25 is a member
    # for the release only
    ours, rel = _pair(_table_context([[1.25], [0.25], [1.0, 2.0], [1.5, 0.5]]), metric)
    first = _release_np_scores(np.array([[1.0, 0.0, 0.0]]), np.array([0]))[metric][0]
    assert rel.info["variant"] == "release"
    assert rel.scores_in[0] == pytest.approx(
        float(_release_np_scores(np.array([[1.25, 0.0, 0.0]]), np.array([0]))[metric][0]) - float(first), abs=1e-7
    )
    assert (bool(rel.decision_in[0]), bool(ours.decision_in[0])) == (True, False)
    assert not rel.decision_out[0] and not ours.decision_out[0]


def test_confidence_release_scores_in_float32_and_loses_saturated_members():
    # gaps 30 (members) and 20 (non-members): max p rounds to 1.0 in float32 for both, so the release's
    # confidence attack cannot tell them apart (its only candidate 1.0 flags everyone); ccl_lib's float64
    # probabilities separate them
    ctx = _table_context([[30.0, 31.0], [20.0, 21.0], [30.0, 32.0], [20.0, 22.0]])
    ours, rel = _pair(ctx, "confidence")
    assert _release_np_scores(np.array([[30.0, 0, 0], [20.0, 0, 0]]), np.array([0, 0]))["confidence"].tolist() == [1, 1]
    assert rel.decision_in.all() and rel.decision_out.all()  # advantage 0
    assert ours.decision_in.all() and not ours.decision_out.any()  # advantage 1


# --------------------------------------------------------------------------- P1


def test_p1_release_uses_the_loss_attack_accuracy_alone():
    # ConvexConcaveLoss source/utility/process.py p_score(acc_t, acc_a)
    assert p1_release(0.8, 0.6) == pytest.approx(2 * 0.8 * (1 - 0.6) / (0.8 + 1 - 0.6))
    import pandas as pd

    rep = pd.DataFrame({"attack": ["nn", "loss"], "advantage": [0.3, 0.1], "balanced_accuracy": [0.65, 0.55]})
    assert p1_from_report(rep, 0.8, variant="release") == pytest.approx(2 * 0.8 * 0.45 / (0.8 + 0.45))
    assert p1_from_report(rep, 0.8) == pytest.approx(2 * 0.8 * 0.7 / (0.8 + 0.7))  # highest advantage (the text)
    with pytest.raises(ValueError, match="known variants"):
        p1_from_report(rep, 0.8, variant="code")


def test_published_p1_values_and_the_two_definitions():
    # the example: P1 = .741 at accuracy .85 needs 1 - x = .741 * .85 / (1.7 - .741) = .657
    assert pr.required_complement(0.741, 0.85) == pytest.approx(0.741 * 0.85 / (2 * 0.85 - 0.741))
    assert pr.max_p1(1.0, "release") == pytest.approx(2 / 3) and pr.max_p1(0.85, "paper") == pytest.approx(1.7 / 1.85)
    t = pr.p1_consistency()
    assert t["paper_possible"].all()
    impossible = set(t.loc[~t["release_possible"], "dataset"])
    assert impossible == {"Purchase", "CIFAR-10"}  # every P1 above 2/3
    assert (t.loc[~t["release_possible"], "p1"] > 2 / 3).all() and (t.loc[t["release_possible"], "p1"] <= 2 / 3).all()
    row = pr.p1_consistency({"CIFAR-10": 0.85}).query("method == 'w/o' and dataset == 'CIFAR-10'").iloc[0]
    assert row["implied_attack_acc"] == pytest.approx(1 - 0.741 * 0.85 / (1.7 - 0.741)) and not row["release_possible"]


# --------------------------------------------------------------------------- LiRA


def _generate_ours_np(keep, scores, check_scores, fix_variance, online):
    """tensorflow/privacy research/mi_lira_2021/plot.py generate_ours(_offline), transcribed."""
    from scipy.stats import norm

    dat_in = [scores[keep[:, j], j, :] for j in range(scores.shape[1])]
    dat_out = [scores[~keep[:, j], j, :] for j in range(scores.shape[1])]
    in_size, out_size = min(map(len, dat_in)), min(map(len, dat_out))
    dat_in = np.array([x[:in_size] for x in dat_in])
    dat_out = np.array([x[:out_size] for x in dat_out])
    mean_in, mean_out = np.median(dat_in, 1), np.median(dat_out, 1)
    if not online:
        std_out = np.std(dat_out) if fix_variance else np.std(dat_out, 1)
        prediction = norm.logpdf(check_scores, mean_out, std_out + 1e-30).mean(1)
        return -prediction  # the code's sweep ranks -prediction: higher = member
    if fix_variance:
        std_in = std_out = np.std(dat_in)
    else:
        std_in, std_out = np.std(dat_in, 1), np.std(dat_out, 1)
    pr_in = -norm.logpdf(check_scores, mean_in, std_in + 1e-30)
    pr_out = -norm.logpdf(check_scores, mean_out, std_out + 1e-30)
    return -(pr_in - pr_out).mean(1)  # the code ranks -score: higher = member


@pytest.mark.parametrize("fix", [True, False])
@pytest.mark.parametrize("online", [True, False])
def test_lira_reference_estimator_equals_the_authors_code(fix, online):
    rng = np.random.default_rng(1)
    k, n, a = 9, 7, 2
    keep = rng.random((k, n)) < 0.5
    keep[0], keep[1] = True, False  # every example has IN and OUT models; counts differ per example
    scores = rng.normal(size=(k, n, a)) + keep[:, :, None]
    target = rng.normal(size=(n, a))
    got = lira_scores(target, scores, keep, online=online, fixed_variance=fix, estimator="reference")
    want = _generate_ours_np(keep, scores, target, fix, online)
    assert np.allclose(got, want, rtol=1e-10)
    assert fit_gaussians_reference(scores, keep, fixed_variance=fix, online=online).n_out[0] == (~keep).sum(0).min()
    paper = lira_scores(target, scores, keep, online=online, fixed_variance=fix)
    assert not np.allclose(paper, got)


# --------------------------------------------------------------------------- wiring to the run engine


def test_run_spec_refuses_a_variant_or_attack_of_the_other_data_kind(monkeypatch):
    from ccl_lib.attacks import ATTACKS, register_attack

    with pytest.raises(ValueError, match="variant 'release_image' follows code for image data; it does not apply"):
        RunSpec("location", defense="relaxloss", hparams={"variant": "release_image"})
    with pytest.raises(ValueError, match="variant 'release_tabular' follows code for tabular data"):
        RunSpec("cifar10", defense="relaxloss", hparams={"variant": "release_tabular"})
    assert RunSpec("location", defense="relaxloss", hparams={"variant": "release_tabular"}).kind == "tabular"
    # lira_reference runs on images too (mirror queries; tests/test_variants_images.py), rotation_release on images only
    assert RunSpec("cifar10", attacks=["loss", "lira_reference"]).resolved_attacks == ("loss", "lira_reference")
    with pytest.raises(ValueError, match=r"\['rotation_release'\] need image data"):
        RunSpec("location", attacks=["loss", "rotation_release"])
    monkeypatch.setitem(ATTACKS, "tabular_probe", None)
    register_attack("tabular_probe", lambda ctx: None, tabular_only=True, overwrite=True)  # removed after the test
    with pytest.raises(ValueError, match=r"\['tabular_probe'\] apply to tabular data only"):
        RunSpec("cifar10", attacks=["loss", "tabular_probe"])
    with pytest.raises(ValueError, match="apply to tabular data only"):
        _ctx_run(kind="image", attacks=["tabular_probe"])


def _ctx_run(kind, attacks):
    x = torch.zeros(4, 1, 2, 2)
    m = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    part = (x, torch.tensor([0, 1, 0, 1]))
    return run_attacks(m, m, target_in=part, target_out=part, shadow_in=part, shadow_out=part,
                       attacks=attacks, kind=kind, progress=False)  # fmt: skip


@pytest.mark.parametrize(
    ("defense", "hparams", "why"),
    [
        ("advreg", {}, "needs a reference split"),
        ("mixup_mmd", {}, "needs a reference split"),
        ("early_stopping", {"epochs": [1]}, "keeps early-stopping checkpoints"),
    ],  # fmt: skip
)
def test_run_spec_refuses_reference_attacks_it_cannot_train_like_the_target(defense, hparams, why):
    with pytest.raises(ValueError, match=rf"\['rmia'\] train reference models like the target.*{why}") as e:
        RunSpec("digits", defense=defense, hparams=hparams, epochs=2, attacks=["loss", "rmia"])
    assert "ccl_lib.attacks.strong.run_strong_attacks" in str(e.value)
    RunSpec("digits", defense=defense, hparams=hparams, epochs=2, attacks=["loss"])  # without them: accepted


def _digits_run(defense, hparams, attacks=("loss",), epochs=2):
    from ccl_lib.experiments import runner

    spec = RunSpec("digits", defense=defense, hparams=hparams, epochs=epochs, size=60, attacks=list(attacks))
    ds, parts = runner._parts(spec)
    return runner, spec, ds, parts


@pytest.mark.parametrize(("defense", "variant"), [("relaxloss", "ccl_code"), ("advreg", "ccl_code")])
def test_the_runner_s_fit_many_path_binds_the_recipe_and_equals_training_one_by_one(monkeypatch, defense, variant):
    # the runner's CUDA path (fit_many), taken on the CPU: each defense has its recipe before fit_many is
    # called (these variants read the epoch count / learning rate), and the models equal Defense.train's
    import ccl_lib.train as T

    runner, spec, ds, parts = _digits_run(defense, {"variant": variant}, epochs=3)
    seen, fit_many = [], T.fit_many

    def checked(models, data, *, objective, configs, **kw):
        seen.extend(o.recipe == c and o.recipe.epochs == 3 for o, c in zip(objective, configs))
        return fit_many(models, data, objective=objective, configs=configs, **kw)

    monkeypatch.setattr(T, "fit_many", checked)
    cpu = torch.device("cpu")
    models, trained = runner._train_models(spec, ds, parts, cpu, False, together=True)
    assert seen == [True, True]
    one_by_one, trained_1 = runner._train_models(spec, ds, parts, cpu, False, together=False)
    for role in ("target", "shadow"):
        drop = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
        assert drop(trained[role].history) == drop(trained_1[role].history)
        for a, b in zip(models[role].state_dict().values(), one_by_one[role].state_dict().values()):
            assert torch.equal(a, b)


def test_reference_attacks_run_from_a_run_spec_with_its_defense_and_recipe():
    runner, spec, ds, parts = _digits_run("ccql", {"alpha": 0.5}, ["loss", "lira", "lira_offline", "rmia",
                                                                   "lira_reference"])  # fmt: skip
    cpu = torch.device("cpu")
    models, trained = runner._train_models(spec, ds, parts, cpu, False)
    runner._at_epoch(models, trained, None, cpu)
    report, results = runner._attack(spec, models, parts, cpu, False)
    assert list(report["attack"]) == ["loss", "lira", "lira_offline", "rmia", "lira_reference"]
    assert results["lira"].info["reference"] == spec.make_defense().describe()  # trained like the target
    assert results["lira_reference"].info["estimator"] == "reference"
    # the references are shared: LiRA's paper and reference estimators score the same K models' statistics
    assert results["lira"].info["k"] == results["lira_reference"].info["k"] == 8
    assert np.isfinite(report["auc"]).all()
