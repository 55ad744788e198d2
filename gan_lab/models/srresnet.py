"""SRResNet (Ledig et al. 2017): the super-resolution generator of SRGAN, scaled down.

A 9×9 stem, B residual blocks at the low resolution (conv-BN-PReLU-conv-BN,
plus the block's input), one more conv-BN and a skip from the stem, then
one sub-pixel convolution per ×2 (Shi et al. 2016: a convolution to 4·C
channels rearranged by ``PixelShuffle(2)`` into C channels at twice the
side), and a 9×9 output convolution. All the work happens at the low
resolution; only the last layers see the large image.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register


class ResidualBlock(nn.Module):
    """x ↦ x + BN(conv(PReLU(BN(conv(x))))), shape (B, C, h, w) preserved."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register
class SRResNet(nn.Module):
    """G: low-resolution image (B, C, h, w) ↦ high-resolution image (B, C, s·h, s·w) in [-1, 1].

    Args:
        channels: image channels.
        scale: upscaling factor s, a power of two (2, 4, 8).
        width: feature channels (paper: 64).
        n_blocks: residual blocks (paper: 16).

    Example:
        >>> SRResNet(scale=4, width=8, n_blocks=2)(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(self, channels: int = 1, scale: int = 2, width: int = 32, n_blocks: int = 4):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two ≥ 2 (2, 4, 8); got {scale}.")
        self.scale = scale
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(n_blocks)),
                                    nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*(  # one sub-pixel convolution per ×2
            nn.Sequential(nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width))
            for _ in range(int(math.log2(scale)))))
        self.head = nn.Sequential(nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)  # (B, w, h, w)
        h = h + self.blocks(h)  # the long skip: the blocks learn a correction of the stem's features
        return self.head(self.upsample(h))  # (B, C, s·h, s·w)
