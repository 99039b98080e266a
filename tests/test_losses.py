"""Tests of ccl_lib.losses against closed forms (paper Sec. 4, Eq. 4-6, 10-12; App. D)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ccl_lib import losses as L

F64 = torch.float64

# Closed forms of the named concave terms (Eq. 5, Eq. 6) and their derivatives.
F_VALUE = {"exp": lambda p: -torch.exp(p), "quadratic": lambda p: -p - p * p / 2}
F_PRIME = {"exp": lambda p: -torch.exp(p), "quadratic": lambda p: -1.0 - p}
F_SECOND = {"exp": lambda p: -torch.exp(p), "quadratic": lambda p: -torch.ones_like(p)}
A_CONST = {"exp": math.e, "quadratic": 2.0}  # A = -f'(1), Proposition 4.2


def _custom_concave(p):
    """A concave term in F that is not one of the paper's: -log(1 + p) - p^2."""
    return -torch.log1p(p) - p * p


def _custom_prime(p):
    return -1.0 / (1.0 + p) - 2.0 * p


def make_batch(n=32, k=7, seed=0, spread=3.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, k, generator=g, dtype=F64) * spread
    y = torch.randint(0, k, (n,), generator=g)
    return z.to(dtype), y


def closed_form_grad(z, y, alpha, fprime, scale):
    """Eq. 10-11: scale * [alpha - (1 - alpha) p_y f'(p_y)] * (softmax(z) - onehot(y))."""
    p = torch.softmax(z, dim=1)
    py = p[torch.arange(len(y)), y]
    coef = alpha - (1 - alpha) * py * fprime(py)
    return scale * coef[:, None] * (p - F.one_hot(y, z.shape[1]).to(z.dtype))


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("scale", [1.0, 0.05])
def test_gradient_matches_eq11(concave, alpha, scale):
    z, y = make_batch(seed=int(alpha * 10) + 7)
    z.requires_grad_(True)
    loss = L.convex_concave_loss(z, y, alpha, concave, "ce", scale, reduction="sum")
    (g,) = torch.autograd.grad(loss, z)
    expected = closed_form_grad(z.detach(), y, alpha, F_PRIME[concave], scale)
    torch.testing.assert_close(g, expected, rtol=1e-12, atol=1e-14)


def test_gradient_matches_eq11_for_a_custom_concave_term():
    z, y = make_batch(seed=3)
    z.requires_grad_(True)
    loss = L.convex_concave_loss(z, y, 0.4, _custom_concave, reduction="sum")
    (g,) = torch.autograd.grad(loss, z)
    torch.testing.assert_close(g, closed_form_grad(z.detach(), y, 0.4, _custom_prime, 1.0), rtol=1e-12, atol=1e-14)


def test_mean_reduction_gradient_is_sum_over_n():
    z, y = make_batch(n=10, seed=5)
    z.requires_grad_(True)
    (g,) = torch.autograd.grad(L.convex_concave_loss(z, y, 0.3, "quadratic"), z)
    torch.testing.assert_close(g, closed_form_grad(z.detach(), y, 0.3, F_PRIME["quadratic"], 1.0) / 10)


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_focal_convex_gradient_closed_form_and_gradcheck(concave, gamma):
    """App. D: CCL with focal loss as the convex part.

    d/dz_j [alpha FL(p_y) + (1 - alpha) f(p_y)] = [alpha FL'(p_y) + (1 - alpha) f'(p_y)] p_y (1[j = y] - p_j),
    FL'(p) = gamma (1 - p)^(gamma - 1) log p - (1 - p)^gamma / p.
    """
    alpha, scale = 0.6, 0.5
    z, y = make_batch(n=12, k=5, seed=11, spread=2.0)
    z.requires_grad_(True)
    loss = L.convex_concave_loss(z, y, alpha, concave, "focal", scale, "sum", gamma=gamma)
    (g,) = torch.autograd.grad(loss, z)
    zd = z.detach()
    p = torch.softmax(zd, 1)
    py = p[torch.arange(len(y)), y]
    fl_prime = gamma * (1 - py) ** (gamma - 1) * torch.log(py) - (1 - py) ** gamma / py
    outer = alpha * fl_prime + (1 - alpha) * F_PRIME[concave](py)
    expected = scale * (outer * py)[:, None] * (F.one_hot(y, 5).to(F64) - p)
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda t: L.convex_concave_loss(t, y, alpha, concave, "focal", scale, "none", gamma=gamma), (z,)
    )


def test_gradcheck_ce_variants():
    z, y = make_batch(n=6, k=4, seed=2)
    z.requires_grad_(True)
    for concave in ("exp", "quadratic", _custom_concave):
        assert torch.autograd.gradcheck(
            lambda t, concave=concave: L.convex_concave_loss(t, y, 0.3, concave, reduction="none"), (z,)
        )


# ----------------------------------------------------------------------------- Proposition 4.2


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_proposition_4_2_bounds(concave, alpha):
    """alpha |g_ce| <= |g_ccl| <= [alpha + A (1 - alpha)] |g_ce| elementwise, with the sign of g_ce."""
    zs, ys = [], []
    for seed, spread in enumerate((0.1, 1.0, 4.0, 15.0)):
        z, y = make_batch(n=64, k=10, seed=seed, spread=spread)
        zs.append(z)
        ys.append(y)
    z, y = torch.cat(zs).requires_grad_(True), torch.cat(ys)
    (g_ccl,) = torch.autograd.grad(L.convex_concave_loss(z, y, alpha, concave, reduction="sum"), z)
    (g_ce,) = torch.autograd.grad(L.cross_entropy(z, y, reduction="sum"), z)
    upper = alpha + A_CONST[concave] * (1 - alpha)
    eps = 1e-12
    assert (g_ccl.abs() >= alpha * g_ce.abs() - eps).all()
    assert (g_ccl.abs() <= upper * g_ce.abs() + eps).all()
    nz = g_ce.abs() > 1e-12
    assert torch.equal(torch.sign(g_ccl[nz]), torch.sign(g_ce[nz]))  # same direction (Eq. 10)
    assert (g_ce[torch.arange(len(y)), y] <= 0).all()


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
def test_proposition_4_2_bounds_are_attained_in_the_limits(concave):
    """The ratio g_ccl / g_ce tends to alpha as p_y -> 0 and to alpha + A (1 - alpha) as p_y -> 1."""
    alpha = 0.3
    for margin, expected in ((-40.0, alpha), (40.0, alpha + A_CONST[concave] * (1 - alpha))):
        z = torch.tensor([[margin, 0.0, 0.0]], dtype=F64, requires_grad=True)
        y = torch.tensor([0])
        (g_ccl,) = torch.autograd.grad(L.convex_concave_loss(z, y, alpha, concave, reduction="sum"), z)
        (g_ce,) = torch.autograd.grad(L.cross_entropy(z, y, reduction="sum"), z)
        ratio = g_ccl[0, 1] / g_ce[0, 1]
        assert float(ratio) == pytest.approx(expected, rel=1e-9)


def test_concave_coefficient_closed_form():
    p = torch.linspace(0, 1, 11, dtype=F64)
    for name in ("exp", "quadratic"):
        c = L.concave_coefficient(p, 0.25, name)
        torch.testing.assert_close(c, 0.25 - 0.75 * p * F_PRIME[name](p))
        assert (c >= 0.25).all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.concave_coefficient(p, 2.0)


# ----------------------------------------------------------------------------- values, reductions


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("concave", ["exp", "quadratic"])
def test_alpha_one_is_exactly_cross_entropy(reduction, concave):
    z, y = make_batch(dtype=torch.float32)
    out = L.convex_concave_loss(z, y, 1.0, concave, reduction=reduction)
    assert torch.equal(out, L.cross_entropy(z, y, reduction))
    torch.testing.assert_close(out, F.cross_entropy(z, y, reduction=reduction))
    # also through the module and with the focal convex part
    assert torch.equal(L.ConvexConcaveLoss(1.0, concave, reduction=reduction)(z, y), out)
    assert torch.equal(
        L.convex_concave_loss(z, y, 1.0, concave, "focal", reduction=reduction, gamma=2.0),
        L.focal_loss(z, y, 2.0, reduction),
    )


@pytest.mark.parametrize("concave", ["exp", "quadratic"])
def test_per_sample_value_is_eq4(concave):
    z, y = make_batch(seed=4)
    p = torch.softmax(z, 1)[torch.arange(len(y)), y]
    expected = 0.35 * (-torch.log(p)) + 0.65 * F_VALUE[concave](p)
    torch.testing.assert_close(L.convex_concave_loss(z, y, 0.35, concave, reduction="none"), expected)


def test_reductions_are_consistent_and_scale_multiplies_everything():
    z, y = make_batch(seed=8)
    for concave in ("exp", "quadratic"):
        for convex in ("ce", "focal"):
            none = L.convex_concave_loss(z, y, 0.4, concave, convex, reduction="none")
            assert none.shape == (len(y),)
            torch.testing.assert_close(L.convex_concave_loss(z, y, 0.4, concave, convex, reduction="sum"), none.sum())
            torch.testing.assert_close(L.convex_concave_loss(z, y, 0.4, concave, convex, reduction="mean"), none.mean())
            for red in ("none", "sum", "mean"):
                base = L.convex_concave_loss(z, y, 0.4, concave, convex, 1.0, red)
                scaled = L.convex_concave_loss(z, y, 0.4, concave, convex, 0.01, red)
                torch.testing.assert_close(scaled, 0.01 * base, rtol=1e-14, atol=0)


def test_check_inputs_off_gives_the_same_value():
    z, y = make_batch(seed=9)
    a = L.convex_concave_loss(z, y, 0.5, "exp", check_inputs=True)
    b = L.convex_concave_loss(z, y, 0.5, "exp", check_inputs=False)
    assert torch.equal(a, b)


def test_module_equals_functional():
    z, y = make_batch(seed=10)
    mod = L.ConvexConcaveLoss(alpha=0.7, concave="quadratic", convex="focal", scale=0.05, gamma=1.5)
    assert torch.equal(mod(z, y), L.convex_concave_loss(z, y, 0.7, "quadratic", "focal", 0.05, gamma=1.5))
    assert "alpha=0.7" in repr(mod)
    assert torch.equal(L.FocalLoss(1.5, "sum")(z, y), L.focal_loss(z, y, 1.5, "sum"))


# ----------------------------------------------------------------------------- stability


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("convex", ["ce", "focal"])
@pytest.mark.parametrize("concave", ["exp", "quadratic"])
def test_finite_for_logits_of_magnitude_1e4(dtype, convex, concave):
    z, y = make_batch(n=64, k=10, seed=12, spread=1e4, dtype=dtype)
    z[:4] = 0.0
    z[0, y[0]] = 1e4  # p_y = 1 exactly
    z[1, (y[1] + 1) % 10] = 1e4  # p_y = 0 exactly
    z.requires_grad_(True)
    for alpha in (0.0, 0.5, 1.0):
        loss = L.convex_concave_loss(z, y, alpha, concave, convex, reduction="none")
        (g,) = torch.autograd.grad(loss.sum(), z)
        assert torch.isfinite(loss).all() and torch.isfinite(g).all()
    # exact values: p_y = 1 gives loss = (1 - alpha) f(1); p_y = 0 with margin 1e4 gives CE = 1e4
    loss = L.convex_concave_loss(z, y, 0.5, concave, convex, reduction="none").detach().double()
    f1 = float(F_VALUE[concave](torch.tensor(1.0, dtype=F64)))
    f0 = float(F_VALUE[concave](torch.tensor(0.0, dtype=F64)))
    assert float(loss[0]) == pytest.approx(0.5 * f1, rel=1e-6)
    assert float(loss[1]) == pytest.approx(0.5 * 1e4 + 0.5 * f0, rel=1e-6)


def test_large_logit_gradient_closed_form():
    for dtype in (torch.float32, torch.float64):
        z = torch.tensor([[1e4, 0.0, -1e4]], dtype=dtype, requires_grad=True)
        (g,) = torch.autograd.grad(L.convex_concave_loss(z, torch.tensor([1]), 0.5, "exp"), z)
        # p = (1, 0, 0), p_y = 0: coefficient alpha = 0.5, gradient 0.5 * (p - e_1)
        torch.testing.assert_close(g, torch.tensor([[0.5, -0.5, 0.0]], dtype=dtype))


# ----------------------------------------------------------------------------- the set F (Definition 4.1)


@pytest.mark.parametrize("name", ["exp", "quadratic"])
def test_named_concave_terms_are_in_F(name):
    f = L.CONCAVE_TERMS[name]
    L.check_concave_term(f)  # does not raise
    # independent finite-difference derivatives in float64 on a grid of [0, 1]
    x = torch.linspace(0, 1, 101, dtype=F64)
    h = 1e-4
    d1 = (f(x + h) - f(x - h)) / (2 * h)
    d2 = (f(x + h) - 2 * f(x) + f(x - h)) / h**2
    assert (d1 < 0).all() and (d2 < 0).all()
    torch.testing.assert_close(d1, F_PRIME[name](x), rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(d2, F_SECOND[name](x), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(f(x), F_VALUE[name](x))


def test_custom_concave_term_in_F_is_accepted():
    assert L.get_concave_term(_custom_concave) is _custom_concave
    z, y = make_batch(seed=13)
    L.ConvexConcaveLoss(0.5, _custom_concave)(z, y)


@pytest.mark.parametrize(
    "f, what",
    [
        (lambda p: p**2 - 2 * p, "f'"),  # convex, f'(1) = 0
        (lambda p: p**2 - 3 * p, "f''"),  # decreasing but convex
        (lambda p: p, "f'"),  # increasing
        (lambda p: -p, "f''"),  # affine
        (lambda p: torch.zeros_like(p), "f'"),  # constant
        (lambda p: -torch.sin(3 * p), "f'"),  # f' changes sign on [0, 1]
    ],
)
def test_callables_outside_F_are_rejected(f, what):
    with pytest.raises(ValueError, match="not in F") as err:
        L.check_concave_term(f)
    assert what in str(err.value)
    z, y = make_batch(seed=14)
    with pytest.raises(ValueError, match="not in F"):
        L.convex_concave_loss(z, y, 0.5, f)
    with pytest.raises(ValueError, match="not in F"):
        L.ConvexConcaveLoss(0.5, f)


def test_concave_of_wrong_type():
    with pytest.raises(TypeError, match="name or a callable"):
        L.get_concave_term(3)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("alpha", [-0.1, 1.1, float("nan"), "0.5", True, None])
def test_bad_alpha(alpha):
    z, y = make_batch()
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        L.convex_concave_loss(z, y, alpha)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        L.ConvexConcaveLoss(alpha)


def test_unknown_names_and_bad_hyperparameters():
    z, y = make_batch()
    with pytest.raises(ValueError, match=r"unknown concave term 'cubic'.*\['exp', 'quadratic'\]"):
        L.convex_concave_loss(z, y, 0.5, "cubic")
    with pytest.raises(ValueError, match=r"unknown convex loss 'mse'.*\('ce', 'focal'\)"):
        L.convex_concave_loss(z, y, 0.5, "exp", "mse")
    with pytest.raises(ValueError, match=r"unknown convex loss"):
        L.ConvexConcaveLoss(0.5, convex="mse")
    for bad in ("avg", None):
        for call in (
            lambda bad=bad: L.convex_concave_loss(z, y, 0.5, reduction=bad),
            lambda bad=bad: L.cross_entropy(z, y, reduction=bad),
            lambda bad=bad: L.focal_loss(z, y, reduction=bad),
            lambda bad=bad: L.ConvexConcaveLoss(0.5, reduction=bad),
            lambda bad=bad: L.FocalLoss(reduction=bad),
        ):
            with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'none'\)"):
                call()
    for scale in (0, -1.0, float("inf"), "1"):
        with pytest.raises(ValueError, match="scale must be a finite number > 0"):
            L.convex_concave_loss(z, y, 0.5, scale=scale)
        with pytest.raises(ValueError, match="scale must be a finite number > 0"):
            L.ConvexConcaveLoss(0.5, scale=scale)
    for gamma in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
            L.focal_loss(z, y, gamma)
        with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
            L.convex_concave_loss(z, y, 0.5, convex="focal", gamma=gamma)
        with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
            L.FocalLoss(gamma)


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda z, y: L.convex_concave_loss(z, y, 0.5),
        lambda z, y: L.cross_entropy(z, y),
        lambda z, y: L.focal_loss(z, y),
        lambda z, y: L.ConvexConcaveLoss(0.5, "quadratic")(z, y),
    ],
)
def test_input_validation(loss_fn):
    z, y = make_batch(n=5, k=3)
    with pytest.raises(ValueError, match=r"targets must have shape \(N,\) = \(5,\)"):
        loss_fn(z, y[:4])
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        loss_fn(z[0], y[:1])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\] for 3 classes"):
        loss_fn(z, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\]"):
        loss_fn(z, torch.tensor([0, -1, 2, 1, 0]))
    for bad in (float("nan"), float("inf"), -float("inf")):
        zb = z.clone()
        zb[2, 1] = bad
        with pytest.raises(ValueError, match="logits contain NaN or infinite values"):
            loss_fn(zb, y)
    with pytest.raises(TypeError, match="targets must be integer class indices"):
        loss_fn(z, y.double())
    with pytest.raises(TypeError, match="logits must be a floating-point tensor"):
        loss_fn(z.long(), y)
    with pytest.raises(TypeError, match="must be torch tensors"):
        loss_fn(z.numpy(), y)


# ----------------------------------------------------------------------------- focal loss


def test_focal_loss_hand_computation():
    z = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], dtype=F64)
    y = torch.tensor([0, 1])
    den0 = math.exp(2) + 1 + math.exp(-1)
    den1 = 2 * math.exp(0.5) + math.exp(3)
    p = [math.exp(2) / den0, math.exp(0.5) / den1]
    for gamma in (0.0, 1.0, 2.0, 3.5):
        expected = [-((1 - q) ** gamma) * math.log(q) for q in p]
        got = L.focal_loss(z, y, gamma, "none")
        assert got.tolist() == pytest.approx(expected, rel=1e-12)
        assert float(L.focal_loss(z, y, gamma)) == pytest.approx(sum(expected) / 2, rel=1e-12)


def test_focal_gamma_zero_is_exactly_cross_entropy():
    z, y = make_batch(dtype=torch.float32, seed=21)
    for red in ("mean", "sum", "none"):
        assert torch.equal(L.focal_loss(z, y, 0.0, red), L.cross_entropy(z, y, red))


def test_focal_loss_is_smaller_than_ce_and_vanishes_at_p_one():
    z, y = make_batch(seed=22)
    assert (L.focal_loss(z, y, 2.0, "none") <= L.cross_entropy(z, y, "none")).all()
    z = torch.tensor([[50.0, -50.0]], dtype=F64)
    assert float(L.focal_loss(z, torch.tensor([0]), 2.0)) < 1e-40


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_an_empty_batch_raises_instead_of_returning_nan(reduction):
    logits, targets = torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)
    for fn in (L.cross_entropy, L.focal_loss, L.convex_concave_loss):
        with pytest.raises(ValueError, match="empty batch"):
            fn(logits, targets, reduction=reduction)
    assert math.isnan(float(torch.zeros(0).mean()))  # what the unchecked mean would have returned
