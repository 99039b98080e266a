"""Model architectures of the paper's experiments (Sec. 5.1).

* :class:`MLP` -- the Purchase100/Texas100 network of Nasr et al. (2018) and
  Jia et al. (2019): hidden layers 1024-512-256-128 with Tanh, sized from the
  input dimension, for any tabular data set.
* :func:`resnet34` and :func:`densenet121` -- torchvision's networks with a
  CIFAR stem (3x3 convolution, stride 1, no max-pooling) for 32x32 images.
* :class:`SmallCNN` -- a small convolutional network for quick CPU runs.
* :class:`CifarResNet` (``resnet8``, ``resnet14``, ``resnet20``) -- the CIFAR
  ResNets of He et al. (2016, Sec. 4.2) with BatchNorm, width 16: small enough
  to memorize a CPU-sized CIFAR-10 part (the ``cifar10-cpu`` experiment).

Every model takes ``dropout``: the dropout defense of App. E.2 applies it to
the input of the last fully connected layer.
"""

from __future__ import annotations

import copy
import numbers
from typing import Sequence

import torch
import torch.nn as nn

__all__ = [
    "CifarResNet", "MLP", "SmallCNN", "build_model", "densenet121", "fresh_copy", "has_normalization", "resnet34",
    "MODEL_NAMES",
]  # fmt: skip

#: CIFAR ResNets of depth 6n + 2 (He et al., 2016, Sec. 4.2) by registry name: (depth, width).
CIFAR_RESNETS = {"resnet8": (8, 16), "resnet14": (14, 16), "resnet20": (20, 16)}

MODEL_NAMES = ("mlp", "small_cnn", "resnet34", "densenet121", *CIFAR_RESNETS)


def _check_dropout(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1) (App. E.2 uses 0.01 to 0.9), got {p!r}")
    return float(p)


def _check_int(name: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


class MLP(nn.Module):
    """Fully connected classifier with Tanh activations (hidden 1024-512-256-128 by default).

    Args:
        in_features: input width d (>= 1); inputs are flattened to (N, d).
        num_classes: number of outputs K (>= 2).
        hidden: widths of the hidden Tanh layers (each >= 1; the MLP of Sec. 5.1 by default).
        dropout: dropout rate in [0, 1) before the classifier layer (the dropout defense, App. E.2).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (1024, 512, 256, 128),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_features = _check_int("in_features", in_features, 1)
        num_classes = _check_int("num_classes", num_classes, 2)
        hidden = tuple(_check_int("each hidden width", h, 1) for h in hidden)
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(_check_dropout(dropout))
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x.flatten(1))))


class SmallCNN(nn.Module):
    """Two conv blocks and a fully connected head; trains on CIFAR-size images on a CPU.

    Args:
        in_channels: image channels C (>= 1).
        num_classes: number of outputs K (>= 2).
        width: channels of the first convolution (>= 1); later ones use 2x and 4x.
        dropout: dropout rate in [0, 1) before the classifier layer (App. E.2).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        in_channels = _check_int("in_channels", in_channels, 1)
        num_classes = _check_int("num_classes", num_classes, 2)
        w = _check_int("width", width, 1)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * w, 128),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(_check_dropout(dropout))
        self.classifier = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The CIFAR ResNet of He et al. (2016, Sec. 4.2): depth ``6n + 2``, three stages of ``n`` blocks.

    A 3x3 stem convolution with ``width`` channels, stages of ``width``,
    ``2 * width`` and ``4 * width`` channels (stride 2 between stages), global
    average pooling and a linear classifier; BatchNorm after every convolution.
    Depth 8 and width 16 (78k parameters) memorize 1,000 CIFAR-10 images in a
    few CPU minutes -- the CPU stand-in for the paper's ResNet-34 (Sec. 5.1).
    ``dropout`` acts on the input of the classifier (App. E.2).

    Args:
        depth: ``6n + 2`` with n >= 1 (8, 14, 20, 32, ...).
        width: channels of the stem and the first stage (>= 1).
        num_classes: number of outputs K (>= 2).
        in_channels: image channels C (>= 1).
        dropout: dropout rate in [0, 1).
    """

    def __init__(
        self, depth: int = 8, width: int = 16, num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        depth = _check_int("depth", depth, 8)
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, ...; He et al., 2016), got {depth}")
        w = _check_int("width", width, 1)
        num_classes = _check_int("num_classes", num_classes, 2)
        in_channels = _check_int("in_channels", in_channels, 1)
        n = (depth - 2) // 6
        layers: list[nn.Module] = [nn.Conv2d(in_channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        cin = w
        for stage, cout in enumerate((w, 2 * w, 4 * w)):
            for b in range(n):
                layers.append(_BasicBlock(cin, cout, stride=2 if stage > 0 and b == 0 else 1))
                cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.depth, self.width = depth, w
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(_check_dropout(dropout))
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def has_normalization(model: nn.Module) -> bool:
    """Whether ``model`` has a normalization layer (BatchNorm, GroupNorm, LayerNorm, InstanceNorm).

    Without one, multiplying the loss by a small factor (App. E.1's 0.01 on
    CIFAR-10) shrinks every step; with BatchNorm the network is invariant to the
    scale of the weights before each normalization and still trains.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return any(isinstance(m, _NORM_TYPES) for m in model.modules())


def resnet34(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> nn.Module:
    """ResNet-34 (He et al., 2016) as in Sec. 5.1: torchvision's network with a CIFAR stem.

    The stem is a 3x3 convolution with stride 1 and no max-pooling (for 32x32
    inputs); ``dropout`` acts on the input of the final fully connected layer
    (the dropout defense, App. E.2).

    Args:
        num_classes: number of outputs K (>= 2).
        in_channels: image channels C (>= 1).
        dropout: dropout rate in [0, 1).
    """
    num_classes = _check_int("num_classes", num_classes, 2)
    in_channels = _check_int("in_channels", in_channels, 1)
    from torchvision.models import resnet34 as _resnet34

    net = _resnet34(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Sequential(nn.Dropout(_check_dropout(dropout)), net.fc)
    return net


def densenet121(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> nn.Module:
    """DenseNet-121 (Huang et al., 2017) as in Sec. 5.1: torchvision's network with a CIFAR stem.

    The stem is a 3x3 convolution with stride 1 and no max-pooling; ``dropout``
    acts on the input of the final fully connected layer (App. E.2).

    Args:
        num_classes: number of outputs K (>= 2).
        in_channels: image channels C (>= 1).
        dropout: dropout rate in [0, 1).
    """
    num_classes = _check_int("num_classes", num_classes, 2)
    in_channels = _check_int("in_channels", in_channels, 1)
    from torchvision.models import densenet121 as _densenet121

    net = _densenet121(weights=None, num_classes=num_classes)
    net.features.conv0 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.features.pool0 = nn.Identity()
    net.classifier = nn.Sequential(nn.Dropout(_check_dropout(dropout)), net.classifier)
    return net


def build_model(name: str, input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Build a model by name for inputs of ``input_shape`` ((d,) or (C, H, W)).

    ``name`` is one of :data:`MODEL_NAMES`, or ``"auto"``: the MLP for tabular
    inputs and the small CNN for images.  Sec. 5.1 uses the MLP for
    Purchase100/Texas100 and ResNet-34 / DenseNet-121 for CIFAR; ``resnet8``,
    ``resnet14`` and ``resnet20`` are the CIFAR ResNets of :class:`CifarResNet`
    (width 16) for CPU runs.  Raises
    ``ValueError`` for an unknown name, a malformed shape, ``num_classes < 2``
    or ``dropout`` outside [0, 1).

    Args:
        name: a model name or ``"auto"``, as above.
        input_shape: ``(d,)`` for tabular data or ``(C, H, W)`` for images (:attr:`ccl_lib.data.Dataset.input_shape`).
        num_classes: number of outputs K (>= 2).
        dropout: dropout rate in [0, 1) before the classifier layer (App. E.2).
    """
    if not isinstance(name, str):
        raise ValueError(f"model name must be a string, one of {MODEL_NAMES} or 'auto', got {name!r}")
    try:
        shape = tuple(_check_int("each input dimension", s, 1) for s in input_shape)
    except TypeError:
        raise ValueError(
            f"input_shape must be a sequence of positive integers, (d,) or (C, H, W), got {input_shape!r}"
        ) from None
    if len(shape) not in (1, 3):
        raise ValueError(f"input_shape must be (d,) for tabular data or (C, H, W) for images, got {shape}")
    num_classes = _check_int("num_classes", num_classes, 2)
    _check_dropout(dropout)
    if name == "auto":
        name = "mlp" if len(shape) == 1 else "small_cnn"
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; use one of {MODEL_NAMES} or 'auto'")
    if name == "mlp":
        d = 1
        for s in shape:
            d *= s
        return MLP(d, num_classes, dropout=dropout)
    if len(shape) != 3:
        raise ValueError(f"model {name!r} needs image inputs of shape (C, H, W), got {shape}")
    c = shape[0]
    if name == "small_cnn":
        return SmallCNN(c, num_classes, dropout=dropout)
    if name == "resnet34":
        return resnet34(num_classes, c, dropout)
    if name in CIFAR_RESNETS:
        depth, width = CIFAR_RESNETS[name]
        return CifarResNet(depth, width, num_classes, c, dropout)
    return densenet121(num_classes, c, dropout)


def fresh_copy(model: nn.Module) -> nn.Module:
    """A CPU copy of ``model``'s architecture with re-initialized parameters (every ``reset_parameters``)."""
    m = copy.deepcopy(model).cpu()
    for mod in m.modules():
        reset = getattr(mod, "reset_parameters", None)
        if callable(reset):
            reset()
    return m
