"""Model architectures of the paper's experiments (Sec. 5.1).

* :class:`MLP` -- the Purchase100/Texas100 network of Nasr et al. (2018) and
  Jia et al. (2019): hidden layers 1024-512-256-128 with Tanh, sized from the
  input dimension, for any tabular data set.
* :func:`resnet34` and :func:`densenet121` -- torchvision's networks with a
  CIFAR stem (3x3 convolution, stride 1, no max-pooling) for 32x32 images.
* :class:`SmallCNN` -- a small convolutional network for quick CPU runs.

Every model takes ``dropout``: the dropout defense of App. E.2 applies it to
the input of the last fully connected layer.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

__all__ = ["MLP", "SmallCNN", "build_model", "densenet121", "resnet34", "MODEL_NAMES"]

MODEL_NAMES = ("mlp", "small_cnn", "resnet34", "densenet121")


def _check_dropout(p: float) -> float:
    if not (0.0 <= float(p) < 1.0):
        raise ValueError(f"dropout must be in [0, 1), got {p!r}")
    return float(p)


class MLP(nn.Module):
    """Fully connected classifier with Tanh activations (hidden 1024-512-256-128 by default)."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (1024, 512, 256, 128),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if in_features < 1 or num_classes < 2:
            raise ValueError(f"need in_features >= 1 and num_classes >= 2, got {in_features}, {num_classes}")
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
    """Two conv blocks and a fully connected head; trains on CIFAR-size images on a CPU."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 32, dropout: float = 0.0) -> None:
        super().__init__()
        w = width
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


def resnet34(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> nn.Module:
    """torchvision ResNet-34 with a CIFAR stem (3x3 conv, stride 1, no max-pool)."""
    from torchvision.models import resnet34 as _resnet34

    net = _resnet34(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Sequential(nn.Dropout(_check_dropout(dropout)), net.fc)
    return net


def densenet121(num_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> nn.Module:
    """torchvision DenseNet-121 with a CIFAR stem (3x3 conv, stride 1, no max-pool)."""
    from torchvision.models import densenet121 as _densenet121

    net = _densenet121(weights=None, num_classes=num_classes)
    net.features.conv0 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.features.pool0 = nn.Identity()
    net.classifier = nn.Sequential(nn.Dropout(_check_dropout(dropout)), net.classifier)
    return net


def build_model(name: str, input_shape: Sequence[int], num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Build a model by name for inputs of ``input_shape`` ((d,) or (C, H, W)).

    ``name`` is one of :data:`MODEL_NAMES`, or ``"auto"``: the MLP for tabular
    inputs and the small CNN for images.
    """
    shape = tuple(int(s) for s in input_shape)
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
    return densenet121(num_classes, c, dropout)
