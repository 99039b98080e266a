"""Issue 23 on images: LiRA's mirror queries and the CCL release's rotation attack, against transcriptions.

Every reference formula below is written here (numpy, or literal arrays worked out by hand), never
computed with the function under test; each variant also has an input on which it differs from the
default, so the switch is known to act.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from ccl_lib.attacks import ATTACKS, AttackContext, run_attacks
from ccl_lib.attacks.augmentation import black_fill, release_rotate_transform, rotate_transform
from ccl_lib.attacks.lira import lira_attack
from ccl_lib.attacks.reference import (
    ReferenceModels,
    context_mirror_logits,
    context_references,
    train_reference_models,
)
from ccl_lib.experiments import RunSpec
from ccl_lib.train import TrainConfig

# --------------------------------------------------------------------------- LiRA with mirror queries


def _score_py(logits, y):
    """tensorflow/privacy research/mi_lira_2021/score.py load_one: log p_y - log sum_{k != y} p_k, per query.

    ``logits`` ``(..., n, A, C)``; the true class is zeroed before the sum, as there.
    """
    z = logits - logits.max(-1, keepdims=True)
    p = np.exp(z).astype(np.float64)
    p = p / p.sum(-1, keepdims=True)
    true = np.eye(p.shape[-1], dtype=bool)[y][:, None, :]  # (n, 1, C)
    y_true = np.where(true, p, 0.0).sum(-1)
    y_wrong = np.where(true, 0.0, p).sum(-1)
    return np.log(y_true + 1e-45) - np.log(y_wrong + 1e-45)


def _norm_logpdf(x, mu, s):
    return -0.5 * ((x - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)


def _generate_ours_fixed(keep, scores, check):
    """tensorflow/privacy research/mi_lira_2021/plot.py generate_ours, fix_variance=True: the transcription of
    tests/test_variants.py, with the queries' axis kept."""
    from test_variants import _generate_ours_np

    return _generate_ours_np(keep, scores, check, fix_variance=True, online=True)


# 3 examples, 4 reference models (2 IN, 2 OUT each), 3 classes, 2 queries (image, mirror)
KEEP = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 0]], bool)  # every example IN for 2 models
LABELS = np.array([0, 2, 1])
IS_MEMBER = np.array([True, False, True])


def _lira_inputs(seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(4, 3, 2, 3)) + 1.5 * KEEP[:, :, None, None] * np.eye(3)[LABELS][None, :, None, :]
    tgt = rng.normal(size=(3, 2, 3)) + np.eye(3)[LABELS][:, None, :]
    refs = ReferenceModels(membership=KEEP, logits=ref[:, :, 0], labels=LABELS, mirror_logits=ref[:, :, 1])
    return refs, ref.astype(np.float32).astype(np.float64), tgt.astype(np.float32).astype(np.float64)


def _split(res):
    out = np.empty(3)
    out[IS_MEMBER], out[~IS_MEMBER] = res.scores_in, res.scores_out
    return out


def test_mirror_queries_follow_the_authors_reference_lira():
    assert (KEEP.sum(0) == 2).all()
    refs, ref, tgt = _lira_inputs()
    res = lira_attack(refs, tgt[:, 0].astype(np.float32), np.arange(3), IS_MEMBER, fixed_variance=True, n_pseudo=0,
                      estimator="reference", target_mirror_logits=tgt[:, 1].astype(np.float32))  # fmt: skip
    want = _generate_ours_fixed(KEEP, _score_py(ref, LABELS), _score_py(tgt, LABELS))
    np.testing.assert_allclose(_split(res), want, rtol=1e-9, atol=1e-9)
    assert res.info["queries"].startswith("image and horizontal mirror")
    # the switch acts: one query (the default) scores differently
    one = lira_attack(refs, tgt[:, 0].astype(np.float32), np.arange(3), IS_MEMBER, fixed_variance=True, n_pseudo=0,
                      estimator="reference")  # fmt: skip
    assert "queries" not in one.info
    assert not np.allclose(_split(one), want)
    np.testing.assert_allclose(
        _split(one), _generate_ours_fixed(KEEP, _score_py(ref[:, :, :1], LABELS), _score_py(tgt[:, :1], LABELS)),
        rtol=1e-9, atol=1e-9,
    )  # fmt: skip


def test_mirror_queries_average_the_paper_estimator_s_log_ratios():
    refs, ref, tgt = _lira_inputs(1)
    phi, phi_t = _score_py(ref, LABELS), _score_py(tgt, LABELS)  # (K, n, 2), (n, 2)
    want = np.zeros(3)
    for j in range(3):  # Carlini et al. (2022) Alg. 1 per example and query, then the mean over the 2 queries
        for a in range(2):
            ins, outs = phi[KEEP[:, j], j, a], phi[~KEEP[:, j], j, a]
            lr = _norm_logpdf(phi_t[j, a], ins.mean(), max(ins.std(), 1e-4)) - _norm_logpdf(
                phi_t[j, a], outs.mean(), max(outs.std(), 1e-4)
            )
            want[j] += lr / 2
    res = lira_attack(refs, tgt[:, 0], np.arange(3), IS_MEMBER, n_pseudo=0, target_mirror_logits=tgt[:, 1])
    np.testing.assert_allclose(_split(res), want, rtol=1e-9, atol=1e-9)
    off = lira_attack(refs, tgt[:, 0], np.arange(3), IS_MEMBER, online=False, n_pseudo=0,
                      target_mirror_logits=tgt[:, 1])  # fmt: skip
    want_off = [np.mean([(phi_t[j, a] - phi[~KEEP[:, j], j, a].mean()) / max(phi[~KEEP[:, j], j, a].std(), 1e-4)
                         for a in range(2)]) for j in range(3)]  # fmt: skip
    np.testing.assert_allclose(_split(off), want_off, rtol=1e-9, atol=1e-9)


def test_mirror_queries_need_the_references_mirror_logits():
    refs, _, tgt = _lira_inputs()
    bare = ReferenceModels(membership=refs.membership, logits=refs.logits, labels=refs.labels)
    with pytest.raises(ValueError, match="kept no mirror queries"):
        lira_attack(bare, tgt[:, 0], np.arange(3), IS_MEMBER, n_pseudo=0, target_mirror_logits=tgt[:, 1])
    with pytest.raises(ValueError, match="mirror_logits must have the shape of logits"):
        ReferenceModels(membership=KEEP, logits=refs.logits, labels=LABELS, mirror_logits=refs.logits[:, :2])


class _Frozen(nn.Module):
    """A linear map that training cannot change (its only trainable parameter is multiplied by 0)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Linear(12, 3)
        self.w.requires_grad_(False)
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.w(x.flatten(1)) + 0.0 * self.b


def test_reference_models_keep_their_logits_on_the_mirror_images():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 2, 2, generator=g)
    y = torch.randint(0, 3, (8,), generator=g)
    member = np.tile(np.array([True, False]), (4, 4))
    member[1::2] = ~member[1::2]
    cfg = TrainConfig(epochs=1, batch_size=4, device="cpu")
    kw = dict(model_fn=_Frozen, k=4, config=cfg, membership=member, seed=3, progress=False, attacker="mismatched")
    refs = train_reference_models(x, y, mirror=True, **kw)
    # frozen models: the same models queried on the mirrored pool, x[..., ::-1] by hand
    flipped = train_reference_models(torch.from_numpy(x.numpy()[..., ::-1].copy()), y, **kw)
    np.testing.assert_allclose(refs.mirror_logits, flipped.logits, rtol=0, atol=1e-6)
    assert not np.allclose(refs.mirror_logits, refs.logits)
    assert flipped.mirror_logits is None
    # a trained model: the mirror queries leave training and the plain logits as they were
    lin = dict(kw, model_fn=lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 3)))
    assert np.array_equal(train_reference_models(x, y, mirror=True, **lin).logits,
                          train_reference_models(x, y, **lin).logits)  # fmt: skip
    with pytest.raises(ValueError, match="mirror=True queries horizontal mirrors of images"):
        train_reference_models(x.flatten(1), y, mirror=True, **dict(kw, model_fn=lambda: nn.Linear(12, 3)))


def _image_parts(n=12, seed=0, shape=(3, 2, 2)):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, *shape, generator=g), torch.randint(0, 3, (n,), generator=g)) for _ in range(4)]


def _image_ctx(seed=0, kind="image", **kw):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    parts = _image_parts(seed=seed)
    if kind == "tabular":
        parts = [(x.flatten(1), y) for x, y in parts]
        model = nn.Linear(12, 3)
    return AttackContext(model, model, *parts, kind=kind, **kw)


REF = {"attacker": "mismatched", "config": TrainConfig(epochs=1, batch_size=8, device="cpu"), "k": 4}


def test_lira_reference_runs_on_images_with_mirror_queries_and_lira_keeps_one_query():
    ctx = _image_ctx()
    # the target's mirror logits: the model on x[..., ::-1], by hand
    parts = [ctx.target_in, ctx.target_out, ctx.shadow_in, ctx.shadow_out]
    by_hand = torch.cat([ctx.target(torch.from_numpy(p[0].numpy()[..., ::-1].copy())) for p in parts]).detach()
    np.testing.assert_allclose(context_mirror_logits(ctx), by_hand.numpy(), rtol=0, atol=1e-6)
    ref = ATTACKS["lira_reference"](ctx, **REF)
    refs, t_logits, cand, is_member, _ = context_references(ctx, **REF)
    assert refs.mirror_logits is not None  # image data: the references keep the mirror queries
    want = lira_attack(refs, t_logits, cand, is_member, fixed_variance=True, estimator="reference",
                       target_mirror_logits=context_mirror_logits(ctx))  # fmt: skip
    assert np.array_equal(ref.scores_in, want.scores_in) and np.array_equal(ref.scores_out, want.scores_out)
    assert "mirror" in ref.info["queries"]
    one = ATTACKS["lira_reference"](ctx, mirror=False, **REF)
    assert "queries" not in one.info and not np.allclose(one.scores_in, ref.scores_in)
    # lira: one query by default (the scores of before), both with mirror=True
    plain = ATTACKS["lira"](ctx, **REF)
    base = lira_attack(refs, t_logits, cand, is_member, fixed_variance=True, name="lira")
    assert np.array_equal(plain.scores_in, base.scores_in) and "queries" not in plain.info
    both = ATTACKS["lira"](ctx, mirror=True, **REF)
    assert not np.allclose(both.scores_in, plain.scores_in) and "mirror" in both.info["queries"]
    assert "mirror" in ATTACKS["lira_offline"](ctx, mirror=True, **REF).info["queries"]


def test_mirror_options_are_checked():
    tab = _image_ctx(kind="tabular")
    with pytest.raises(ValueError, match="mirror=True queries the horizontal mirror of images.*kind='tabular'"):
        ATTACKS["lira"](tab, mirror=True, **REF)
    with pytest.raises(ValueError, match="mirror=True queries the horizontal mirror"):
        ATTACKS["lira_reference"](tab, mirror=True, **REF)
    with pytest.raises(ValueError, match="mirror must be True or False"):
        ATTACKS["lira_reference"](_image_ctx(), mirror="both", **REF)
    with pytest.raises(TypeError, match=r"unknown lira_reference option\(s\) \['queries'\]"):
        ATTACKS["lira_reference"](_image_ctx(), queries=2, **REF)
    with pytest.raises(TypeError, match=r"unknown LiRA option\(s\) \['reflect'\]"):
        ATTACKS["lira"](_image_ctx(), reflect=True, **REF)
    assert RunSpec("cifar10", attacks=["loss", "lira_reference"]).resolved_attacks == ("loss", "lira_reference")


# --------------------------------------------------------------------------- the release's rotation attack

NORM = ((0.5, 0.25, 0.0), (0.25, 0.5, 2.0))
BLACK = (-2.0, -0.5, 0.0)  # -mean / std per channel


def test_black_fill_is_the_normalized_zero_pixel():
    assert black_fill(NORM) == pytest.approx(BLACK)
    for bad in (None, ((0.5,), (0.0,)), ((0.5, 0.5), (1.0,))):
        with pytest.raises(ValueError, match="normalization"):
            black_fill(bad)


def test_release_rotation_by_90_degrees_worked_out_by_hand():
    # 4 x 4, 90 degrees counter-clockwise: column j of the input becomes row 3 - j
    a = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    hand = [[3, 7, 11, 15], [2, 6, 10, 14], [1, 5, 9, 13], [0, 4, 8, 12]]
    assert release_rotate_transform(90, [-9.0])(a)[0, 0].tolist() == hand
    # 2 x 4 (PIL's centre (2, 1)): output pixel (x, y) reads input column floor(2.5 - y), row floor(x - 0.5);
    # columns 0 and 3 read rows -1 and 2, outside the image: black, -mean/std per channel
    b = torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]).expand(1, 3, 2, 4).clone()
    out = release_rotate_transform(90, BLACK)(b)[0]
    for c, f in enumerate(BLACK):
        assert out[c].tolist() == [[f, 2, 6, f], [f, 1, 5, f]]
    # the switch acts: ccl_lib's rotation (bilinear, fill 0) differs at 45 degrees
    x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(release_rotate_transform(45, BLACK)(x), rotate_transform(45)(x))
    # nearest neighbour: every output value is an input value of its channel or the black fill
    r = release_rotate_transform(45, BLACK)(x)
    for c in range(3):
        allowed = set(x[:, c].flatten().tolist()) | {BLACK[c]}
        assert set(r[:, c].flatten().tolist()) <= allowed


def _rot_ctx(norm=NORM, seed=0):
    g = torch.Generator().manual_seed(seed)
    parts = [(torch.randn(40, 3, 6, 6, generator=g), torch.randint(0, 3, (40,), generator=g)) for _ in range(4)]
    torch.manual_seed(seed)
    t = nn.Sequential(nn.Flatten(), nn.Linear(108, 3))
    s = nn.Sequential(nn.Flatten(), nn.Linear(108, 3))
    return AttackContext(t, s, *parts, kind="image", normalization=norm, seed=seed)


def test_rotation_release_queries_scores_the_target_and_reports_the_shadow_set():
    ctx = _rot_ctx()
    res = ATTACKS["rotation_release"](ctx, r=30.0)
    # its queries: nearest-neighbour rotations with black fill, in the release's order -r, 0, r
    hand = torch.rot90(ctx.target_in[0], 1, dims=(2, 3))  # 90 degrees counter-clockwise, square: no fill
    z90 = ctx.target(hand).detach()
    ctx90 = _rot_ctx()
    ATTACKS["rotation_release"](ctx90, r=90.0)
    assert torch.allclose(ctx90._cache["target", "in", ("rotate_release", 90.0, BLACK)], z90, atol=1e-6)
    assert res.info["angles_deg"] == [-30.0, 0.0, 30.0] and res.info["fill"] == pytest.approx(BLACK)
    # scored on the target: as many scores as target members / non-members, decisions = score > 0
    assert res.n_in == 40 and res.n_out == 40
    assert np.array_equal(res.decision_in, res.scores_in > 0)
    shadow = res.info["release_shadow_set"]
    assert set(shadow) == {"accuracy", "advantage", "auc"} and 0.0 <= shadow["accuracy"] <= 1.0
    assert shadow["accuracy"] == pytest.approx((1 + shadow["advantage"]) / 2)  # balanced shadow sets
    assert "shadow set" in res.info["deviation"]
    # the switch acts: ccl_lib's rotation attack (bilinear, mean fill, its classifier) scores differently
    ours = ATTACKS["rotation"](_rot_ctx(), r=30.0)
    assert not np.allclose(ours.scores_in, res.scores_in)


def test_rotation_release_is_refused_without_images_or_normalization():
    tab = _image_ctx(kind="tabular", normalization=NORM)
    with pytest.raises(ValueError, match="needs kind='image' data"):
        ATTACKS["rotation_release"](tab)
    x = torch.zeros(4, 12)
    part = (x, torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"\['rotation_release'\] augment images"):
        run_attacks(nn.Linear(12, 2), nn.Linear(12, 2), target_in=part, target_out=part, shadow_in=part,
                    shadow_out=part, attacks=["rotation_release"], kind="tabular", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"\['rotation_release'\] need image data"):
        RunSpec("location", attacks=["loss", "rotation_release"])
    with pytest.raises(ValueError, match="needs the inputs' normalization"):
        ATTACKS["rotation_release"](_rot_ctx(norm=None))
    with pytest.raises(ValueError, match=r"rotation r must be in \(0, 180\]"):
        ATTACKS["rotation_release"](_rot_ctx(), r=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'interpolation'"):
        ATTACKS["rotation_release"](_rot_ctx(), interpolation="bilinear")
    # an explicit normalization option overrides the context's
    res = ATTACKS["rotation_release"](_rot_ctx(norm=None), normalization=NORM, epochs=1)
    assert res.info["fill"] == pytest.approx(BLACK)
