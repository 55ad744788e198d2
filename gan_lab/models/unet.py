"""U-Net generator / segmentor (Ronneberger et al. 2015) in pix2pix's form (Isola et al. 2017).

Encoder: 4×4 stride-2 convolutions (LeakyReLU); decoder: 4×4 transposed
convolutions (ReLU); each decoder level concatenates the encoder features of
the same resolution (the skip connections that carry fine detail across).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


def norm_layer(kind: str, channels: int) -> nn.Module:
    """"batch", "instance" (CycleGAN's choice, one image at a time) or "none"."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', not {kind!r}.")


def auto_depth(size: int, max_depth: int = 4) -> int:
    """The number of ×2 downsamplings that keep ``size`` whole and ≥ 4 px."""
    depth = 0
    while depth < max_depth and size % 2 ** (depth + 1) == 0 and size // 2 ** (depth + 1) >= 4:
        depth += 1
    return depth


_OUT = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}


@register
class UNet(nn.Module):
    """U-Net mapping (B, in_channels, H, W) → (B, out_channels, H, W).

    Args:
        in_channels, out_channels: image channels in and out.
        width: channels after the stem; each level doubles them.
        depth: number of ×2 levels (H and W must be divisible by 2^depth);
            ``size`` picks it automatically (28 → 2, 64 → 4).
        size: the image side used to pick ``depth`` when depth is None.
        norm: "batch", "instance" or "none".
        dropout: dropout in the innermost decoder levels (pix2pix's noise source).
        out_activation: "tanh" (images in [-1, 1]), "sigmoid" (masks) or "none" (logits).

    Example:
        >>> UNet(1, 1, size=28)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, depth: int | None = None,
                 size: int = 28, norm: str = "batch", dropout: float = 0.0, out_activation: str = "tanh"):
        super().__init__()
        self.depth = auto_depth(size) if depth is None else depth
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True))
        chans = [width * 2**i for i in range(self.depth + 1)]  # channels at each resolution
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=norm == "none"), norm_layer(norm, 2 * c),
                          nn.LeakyReLU(0.2, True))
            for c in chans[:-1])
        self.up = nn.ModuleList()
        for level in reversed(range(self.depth)):  # innermost first
            c_in = chans[level + 1] * (1 if level == self.depth - 1 else 2)  # ×2: concatenated skip
            drop = [nn.Dropout(dropout)] if dropout and level >= self.depth - 2 else []
            self.up.append(nn.Sequential(nn.ConvTranspose2d(c_in, chans[level], 4, 2, 1, bias=norm == "none"),
                                         norm_layer(norm, chans[level]), *drop, nn.ReLU(True)))
        self.head = nn.Sequential(nn.Conv2d(2 * width, out_channels, 3, 1, 1), _OUT[out_activation]())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 2**self.depth or x.shape[-2] % 2**self.depth:
            raise ValueError(f"U-Net of depth {self.depth} needs H and W divisible by {2**self.depth}; "
                             f"got {tuple(x.shape[-2:])}.")
        skips = [self.stem(x)]  # (B, w, H, W)
        for down in self.down:
            skips.append(down(skips[-1]))  # (B, 2^i·w, H/2^i, W/2^i)
        h = skips.pop()
        for up in self.up:
            h = torch.cat([up(h), skips.pop()], dim=1)  # upsample, then join the skip
        return self.head(h)
