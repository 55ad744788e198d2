"""Fully connected G and D, the kind of networks in Goodfellow et al. (2014).

Used for the 2-D toy lab (``out_shape=(2,)``) and for the first image GAN
(``out_shape=(1, 28, 28)``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register


def _mlp(sizes: list[int], act: nn.Module) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), act]
    return layers


@register
class MLPGenerator(nn.Module):
    """G: z ↦ x with ``depth`` hidden layers of ``width`` units.

    Args:
        z_dim: latent size.
        out_shape: shape of one sample, e.g. (2,) or (1, 28, 28).
        width, depth: hidden layer size and count.
        out_activation: "tanh" for images in [-1, 1], "none" for toy data.

    Example:
        >>> G = MLPGenerator(z_dim=2, out_shape=(2,), out_activation="none")
        >>> G(torch.randn(5, 2)).shape
        torch.Size([5, 2])
    """

    def __init__(self, z_dim: int = 64, out_shape=(1, 28, 28), width: int = 256, depth: int = 2,
                 out_activation: str = "tanh"):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        hidden = _mlp([z_dim] + [width] * depth, nn.ReLU())
        head = [nn.Tanh()] if out_activation == "tanh" else []
        self.net = nn.Sequential(*hidden, nn.Linear(width if depth else z_dim, math.prod(out_shape)), *head)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim) -> (B, *out_shape)
        return self.net(z).view(z.shape[0], *self.out_shape)


@register
class MLPDiscriminator(nn.Module):
    """D: x ↦ logit of "x is real", one per sample (B,). No sigmoid: losses apply it.

    Example:
        >>> D = MLPDiscriminator(in_shape=(2,))
        >>> D(torch.randn(5, 2)).shape
        torch.Size([5])
    """

    def __init__(self, in_shape=(1, 28, 28), width: int = 256, depth: int = 2):
        super().__init__()
        hidden = _mlp([math.prod(in_shape)] + [width] * depth, nn.LeakyReLU(0.2))
        self.net = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width if depth else math.prod(in_shape), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, *in_shape) -> (B,)
        return self.net(x).squeeze(1)
