"""The semi-supervised GAN's discriminator (Odena 2016; Salimans et al. 2016): a (K+1)-class classifier.

D(x) gives K+1 logits: the K real classes and one "fake" class. The same
network, trained on the labelled images alone, is the supervised baseline
the SGAN is compared with; :meth:`SGANDiscriminator.classify` reads the
class decision p(y | x, x is real) = softmax over the first K logits.
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import DCGANDiscriminator
from .registry import register


@register
class SGANDiscriminator(nn.Module):
    """D: image (B, C, size, size) ↦ logits (B, K+1); column K is the "fake" class.

    The trunk is DCGAN's discriminator *without* batch norm (``critic=True``):
    D sees labelled, unlabelled and generated batches, and batch statistics
    of fakes must not leak into how real test images are classified. Dropout
    before the head (gan_lab's placement; Salimans et al.'s CIFAR-10
    discriminator applies dropout to its input and between its conv blocks),
    because K·few labels overfit fast.

    Args:
        num_classes: K, the real classes.
        channels, size, width: as for :class:`~gan_lab.models.dcgan.DCGANDiscriminator`.
        dropout: dropout probability on the features.

    Example:
        >>> D = SGANDiscriminator(num_classes=2, width=8)
        >>> D(torch.zeros(3, 1, 28, 28)).shape, D.classify(torch.zeros(3, 1, 28, 28)).shape
        (torch.Size([3, 3]), torch.Size([3, 2]))
    """

    def __init__(self, num_classes: int = 2, channels: int = 1, size: int = 28, width: int = 32,
                 dropout: float = 0.3):
        super().__init__()
        self.num_classes = num_classes
        body = DCGANDiscriminator(channels, size, width, critic=True)
        self.features = body.features  # (B, F, h, w)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Conv2d(body.head.in_channels, num_classes + 1, body.head.kernel_size)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The features (B, F) that feature matching compares (spatially averaged trunk output)."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x))).flatten(1)  # (B, K+1)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the K real classes (B, K): softmax of them is p(y | x, x real)."""
        return self(x)[:, : self.num_classes]
