"""The domain classifier: a small CNN whose penultimate layer is the feature map φ of gan_lab's metrics.

It is trained by :func:`gan_lab.train.classifier.train_classifier` and wrapped as φ by
:class:`gan_lab.metrics.features.FeatureNet`.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


@register
class DomainClassifier(nn.Module):
    """C: image (B, C, H, W) in [-1, 1] ↦ class logits (B, K); φ(x) = its penultimate layer (B, d).

    A 3×3 conv–BN–ReLU stem at full resolution, three stride-2 conv–BN–ReLU
    stages (H → H/8; strided convolutions cost a quarter of conv + pooling, which
    keeps CPU training short), an adaptive average pool to 3×3 (so any
    image size works), then φ(x) = ReLU(W₁ · flatten) ∈ R^d and logits = W₂ φ(x).

    Args:
        channels: image channels.
        num_classes: K.
        width: channels of the stem and first stage (doubled by each later stage).
        feature_dim: d, the size of the feature vector φ(x).

    Example:
        >>> C = DomainClassifier(channels=1, num_classes=2)
        >>> C(torch.zeros(4, 1, 28, 28)).shape, C.embed(torch.zeros(4, 1, 28, 28)).shape
        (torch.Size([4, 2]), torch.Size([4, 64]))
    """

    def __init__(self, channels: int = 1, num_classes: int = 2, width: int = 16, feature_dim: int = 64):
        super().__init__()
        self.channels, self.feature_dim = channels, feature_dim
        layers = _conv_bn_relu(channels, width, stride=1)
        for ch_in, ch in ((width, width), (width, 2 * width), (2 * width, 4 * width)):
            layers += _conv_bn_relu(ch_in, ch, stride=2)
        self.trunk = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(3))  # (B, 4·width, 3, 3)
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * 9, feature_dim), nn.ReLU(True))
        self.head = nn.Linear(feature_dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): (B, C, H, W) ↦ (B, feature_dim)."""
        return self.embedding(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _conv_bn_relu(ch_in: int, ch_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(ch_in, ch_out, 3, stride, 1, bias=False), nn.BatchNorm2d(ch_out), nn.ReLU(True)]
