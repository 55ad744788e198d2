"""RED-WGAN's networks (Ran et al. 2019): a 3-D residual encoder–decoder G and a 3-D WGAN critic C.

G follows RED-CNN (Chen et al. 2017) in 3-D: ``depth`` 3×3×3 convolutions without
padding shrink the volume by 2 voxels a layer, as many transposed convolutions grow
it back, and shortcuts add each encoder level's features to the decoder level of the
same size — the decoder only has to learn the *residual*, the noise to remove. No
pooling: fine structure is never thrown away. Being fully convolutional, G trains on
small patches and denoises whole volumes. Ran et al.'s own generator (their official code) pads its
convolutions, so the size never changes, and doubles the channels at every layer (32 → 256); this G keeps
RED-CNN's unpadded layers and one width, to stay small.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


@register
class RED3DGenerator(nn.Module):
    """(B, C, D, H, W) → (B, C, D, H, W): x + residual, with symmetric shortcuts (every side > 2·depth).

    Args:
        channels: channels of the volume (1 for MR).
        width: feature channels of every layer (Ran et al.'s official code: 32 in the first layer, doubled per
            layer up to 256).
        depth: convolutions in the encoder (and transposed convolutions in the decoder; Ran et al.: 4).

    Example:
        >>> RED3DGenerator(width=4, depth=2)(torch.zeros(1, 1, 12, 12, 12)).shape
        torch.Size([1, 1, 12, 12, 12])
    """

    def __init__(self, channels: int = 1, width: int = 16, depth: int = 3):
        super().__init__()
        self.encoder = nn.ModuleList(nn.Conv3d(channels if i == 0 else width, width, 3) for i in range(depth))
        self.decoder = nn.ModuleList(nn.ConvTranspose3d(width, channels if i == depth - 1 else width, 3)
                                     for i in range(depth))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x
        for conv in self.encoder:
            skips.append(h)
            h = self.act(conv(h))  # each layer: −2 voxels per side
        for i, deconv in enumerate(self.decoder):
            h = deconv(h) + skips.pop()  # +2 voxels, then the shortcut of the same size
            if i < len(self.decoder) - 1:
                h = self.act(h)
        return h  # the last shortcut is the input itself: G learns x − noise as x + residual


@register
class Critic3D(nn.Module):
    """C: volume (B, C, D, H, W) ↦ one unbounded score (B,); no batch norm (the gradient penalty is per sample).

    Three 4×4×4 stride-2 convolutions, global average pooling and a linear head, so any
    side ≥ 8 works (the patches of training and the whole volumes alike).

    Example:
        >>> Critic3D(width=4)(torch.zeros(2, 1, 16, 16, 16)).shape
        torch.Size([2])
    """

    def __init__(self, channels: int = 1, width: int = 16):
        super().__init__()
        layers, c_in = [], channels
        for c_out in (width, 2 * width, 4 * width):
            layers += [nn.Conv3d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(4 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3, 4))).flatten()
