"""Tests of ccl_lib.models: shapes, architectures (Sec. 5.1) and the dropout placement (App. E.2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from ccl_lib.models import MLP, MODEL_NAMES, SmallCNN, build_model


@pytest.fixture(scope="module")
def cifar_nets() -> dict[str, nn.Module]:
    """ResNet-34 and DenseNet-121 with dropout 0.5, built once (construction is the slow part)."""
    torch.manual_seed(0)
    return {
        "resnet34": build_model("resnet34", (3, 32, 32), 10, dropout=0.5),
        "densenet121": build_model("densenet121", (3, 32, 32), 100, dropout=0.5),
    }


def last_linear(model: nn.Module) -> nn.Linear:
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def test_purchase_mlp_architecture():
    """600-1024-512-256-128-100 with Tanh (Nasr et al., 2018; Sec. 5.1)."""
    m = build_model("mlp", (600,), 100)
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [
        (600, 1024),
        (1024, 512),
        (512, 256),
        (256, 128),
        (128, 100),
    ]
    assert sum(isinstance(a, nn.Tanh) for a in m.modules()) == 4
    assert sum(p.numel() for p in m.parameters()) == 600 * 1024 + 1024 * 512 + 512 * 256 + 256 * 128 + 128 * 100 + (
        1024 + 512 + 256 + 128 + 100
    )
    assert m(torch.randn(5, 600)).shape == (5, 100)


@pytest.mark.parametrize(
    "name, shape, k",
    [
        ("mlp", (446,), 30),
        ("mlp", (3, 8, 8), 10),  # images flattened
        ("small_cnn", (3, 32, 32), 10),
        ("small_cnn", (1, 28, 28), 7),
        ("auto", (64,), 10),
        ("auto", (3, 32, 32), 100),
        ("resnet34", (3, 32, 32), 10),
        ("densenet121", (3, 32, 32), 100),
    ],
)
def test_output_shapes(name, shape, k, cifar_nets):
    torch.manual_seed(0)
    m = (cifar_nets[name] if name in cifar_nets else build_model(name, shape, k)).eval()
    with torch.no_grad():
        out = m(torch.randn(2, *shape))
    assert out.shape == (2, k) and torch.isfinite(out).all()


def test_auto_picks_mlp_for_tabular_and_small_cnn_for_images():
    assert isinstance(build_model("auto", (64,), 10), MLP)
    assert isinstance(build_model("auto", (3, 32, 32), 10), SmallCNN)


def test_cifar_stems(cifar_nets):
    r = cifar_nets["resnet34"]
    assert r.conv1.kernel_size == (3, 3) and r.conv1.stride == (1, 1) and isinstance(r.maxpool, nn.Identity)
    assert (
        sum(isinstance(b, nn.Module) for b in r.layer1) + len(r.layer2) + len(r.layer3) + len(r.layer4) == 3 + 4 + 6 + 3
    )
    d = cifar_nets["densenet121"]
    assert d.features.conv0.stride == (1, 1) and isinstance(d.features.pool0, nn.Identity)


@pytest.mark.parametrize(
    "name, shape", [("mlp", (20,)), ("small_cnn", (3, 16, 16)), ("resnet34", (3, 32, 32)), ("densenet121", (3, 32, 32))]
)
def test_dropout_only_before_the_last_layer(name, shape, cifar_nets):
    """App. E.2: the dropout defense acts on the input of the last fully connected layer, nowhere else."""
    torch.manual_seed(0)
    m = cifar_nets[name] if name in cifar_nets else build_model(name, shape, 10, dropout=0.5)
    drops = [d for d in m.modules() if isinstance(d, nn.Dropout)]
    assert len(drops) == 1 and drops[0].p == 0.5
    # in train mode, the dropout's input is deterministic (nothing random before it) and its
    # output is exactly what the last linear layer sees
    seen: dict[str, list[torch.Tensor]] = {"drop_in": [], "drop_out": [], "fc_in": []}

    def on_dropout(mod, inputs, output):
        seen["drop_in"].append(inputs[0].detach().clone())
        seen["drop_out"].append(output.detach().clone())

    def on_last_linear(mod, inputs, output):
        seen["fc_in"].append(inputs[0].detach().clone())

    h1 = drops[0].register_forward_hook(on_dropout)
    h2 = last_linear(m).register_forward_hook(on_last_linear)
    x = torch.randn(4, *shape)
    m.train()
    with torch.no_grad():
        out1, out2 = m(x), m(x)
    h1.remove()
    h2.remove()
    assert torch.equal(seen["drop_in"][0], seen["drop_in"][1])
    assert torch.equal(seen["drop_out"][0], seen["fc_in"][0])
    assert not torch.equal(out1, out2)  # the masks differ
    x_in, x_out = seen["drop_in"][0], seen["drop_out"][0]
    alive = x_in != 0
    dropped = (x_out[alive] == 0).float().mean()
    assert 0.3 < dropped < 0.7
    kept = alive & (x_out != 0)
    torch.testing.assert_close(x_out[kept], 2 * x_in[kept])  # inverted dropout scales by 1 / (1 - p)
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))


def test_no_dropout_by_default_is_identity():
    torch.manual_seed(0)
    m = build_model("mlp", (20,), 3).train()
    x = torch.randn(4, 20)
    assert torch.equal(m(x), m(x))


def test_build_model_errors():
    with pytest.raises(ValueError, match=r"unknown model 'vgg'.*'mlp', 'small_cnn', 'resnet34', 'densenet121'.*'auto'"):
        build_model("vgg", (3, 32, 32), 10)
    with pytest.raises(ValueError, match="model name must be a string"):
        build_model(None, (3,), 10)
    with pytest.raises(ValueError, match=r"needs image inputs of shape \(C, H, W\)"):
        build_model("small_cnn", (64,), 10)
    with pytest.raises(ValueError, match=r"\(d,\) for tabular data or \(C, H, W\) for images"):
        build_model("mlp", (), 10)
    with pytest.raises(ValueError, match=r"\(d,\) for tabular data or \(C, H, W\) for images"):
        build_model("mlp", (28, 28), 10)
    with pytest.raises(ValueError, match="input dimension must be an integer >= 1"):
        build_model("mlp", (0,), 10)
    with pytest.raises(ValueError, match="sequence of positive integers"):
        build_model("mlp", 5, 10)
    for k in (1, 0, 2.5, "10"):
        with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
            build_model("mlp", (5,), k)
    for p in (-0.1, 1.0, "0.5"):
        with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
            build_model("mlp", (5,), 3, dropout=p)
    with pytest.raises(ValueError, match="hidden width"):
        MLP(5, 3, hidden=(8, 0))
    assert set(MODEL_NAMES) == {"mlp", "small_cnn", "resnet34", "densenet121", "resnet8", "resnet14", "resnet20"}


# --------------------------------------------------------------------------- CIFAR ResNets (cifar10-cpu)


def _resnet_params(depth: int, w: int, k: int = 10, c: int = 3) -> int:
    """Parameter count of He et al.'s CIFAR ResNet by hand: convs without bias, BN (2 per channel), 1x1 projections."""
    n = (depth - 2) // 6
    total = c * w * 9 + 2 * w  # stem conv + BN
    cin = w
    for cout in (w, 2 * w, 4 * w):
        for _ in range(n):
            total += cin * cout * 9 + 2 * cout + cout * cout * 9 + 2 * cout
            if cin != cout:
                total += cin * cout + 2 * cout  # 1x1 projection + BN
            cin = cout
    return total + cin * k + k


@pytest.mark.parametrize("name, depth", [("resnet8", 8), ("resnet14", 14), ("resnet20", 20)])
def test_cifar_resnet_depth_and_parameter_count(name, depth):
    m = build_model(name, (3, 32, 32), 10)
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d) and mod.kernel_size == (3, 3)]
    assert len(convs) + 1 == depth  # 6n + 1 3x3 convolutions and the classifier (He et al., 2016, Sec. 4.2)
    assert sum(p.numel() for p in m.parameters()) == _resnet_params(depth, 16)
    assert sum(isinstance(mod, nn.BatchNorm2d) for mod in m.modules()) >= depth - 1
    with torch.no_grad():
        assert m.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_resnet_validates_depth_and_dropout():
    from ccl_lib.models import CifarResNet

    with pytest.raises(ValueError, match="6n \\+ 2"):
        CifarResNet(depth=10)
    with pytest.raises(ValueError, match="dropout"):
        CifarResNet(dropout=1.5)
    m = build_model("resnet8", (3, 32, 32), 10, dropout=0.5)
    assert isinstance(m.dropout, nn.Dropout) and m.dropout.p == 0.5
    assert last_linear(m) is m.classifier


def test_batchnorm_makes_the_resnet_invariant_to_the_scale_of_its_conv_weights():
    """Why the paper's loss scale can work with BatchNorm (and not without): scaling a conv before a BN
    layer leaves the training-mode output unchanged (up to BN's epsilon)."""
    from ccl_lib.models import has_normalization

    torch.manual_seed(0)
    m = build_model("resnet8", (3, 16, 16), 10).train()
    x = torch.randn(16, 3, 16, 16)
    with torch.no_grad():
        before = m(x)
        for conv in [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]:
            conv.weight.mul_(7.0)
        after = m(x)
    assert torch.allclose(before, after, atol=1e-3)
    assert has_normalization(m) and not has_normalization(build_model("small_cnn", (3, 32, 32), 10))


def test_cifar_resnet_memorizes_random_labels():
    """Capacity: 64 random images with random labels are fitted exactly in 150 SGD steps."""
    torch.manual_seed(0)
    m = build_model("resnet8", (3, 8, 8), 10)
    x, y = torch.randn(64, 3, 8, 8), torch.randint(0, 10, (64,))
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(m.train()(x), y).backward()
        opt.step()
    with torch.no_grad():
        assert (m.eval()(x).argmax(1) == y).float().mean() == 1.0


def test_paper_scale_on_a_model_without_normalization_warns():
    from ccl_lib.defenses import get_defense
    from ccl_lib.defenses.ccl import UnnormalizedScaleWarning

    cnn, res = build_model("small_cnn", (3, 32, 32), 10), build_model("resnet8", (3, 32, 32), 10)
    with pytest.warns(UnnormalizedScaleWarning, match="without normalization"):
        get_defense("ccql", scale=0.01).setup(cnn, num_classes=10, device=torch.device("cpu"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_defense("ccql", scale=0.01).setup(res, num_classes=10, device=torch.device("cpu"))
        get_defense("ccql", scale=1.0).setup(cnn, num_classes=10, device=torch.device("cpu"))
