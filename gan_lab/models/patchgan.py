"""PatchGAN discriminator (Isola et al. 2017): one real/fake logit per image patch.

Instead of one verdict per image it classifies each overlapping N×N patch,
which penalises structure at the scale of texture and leaves low
frequencies to the L1 term. For 28 px images n_layers=2 gives 5×5
patches of about 22 px receptive field.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register
from .unet import norm_layer


@register
class PatchGANDiscriminator(nn.Module):
    """(B, in_channels, H, W) → patch logits (B, 1, H', W').

    Args:
        in_channels: channels it sees (pix2pix: input and output concatenated).
        width: channels of the first layer; doubled per layer up to 8×.
        n_layers: stride-2 layers (2 for 28 px, 3 for 64 px).
        norm: "batch", "instance" or "none".

    Example:
        >>> PatchGANDiscriminator(2)(torch.zeros(1, 2, 28, 28)).shape
        torch.Size([1, 1, 5, 5])
    """

    def __init__(self, in_channels: int = 2, width: int = 64, n_layers: int = 2, norm: str = "batch"):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, n_layers + 1):
            stride = 2 if i < n_layers else 1  # the last layer keeps the resolution
            out = width * min(2**i, 8)
            layers += [nn.Conv2d(ch, out, 4, stride, 1, bias=norm == "none"), norm_layer(norm, out),
                       nn.LeakyReLU(0.2, True)]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))  # one logit per patch
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
