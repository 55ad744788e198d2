"""ResNet-block generator of CycleGAN (Zhu et al. 2017), after Johnson et al. (2016).

The layout follows Zhu et al.'s reference code (``ResnetGenerator``): a 7×7
stem behind reflection padding, two stride-2 downsamplings, ``n_blocks``
residual blocks at the bottleneck, two transposed-convolution upsamplings and
a 7×7 head with tanh. Reflection padding (instead of zeros), which the paper
uses "to reduce artifacts", keeps the image border from reading as an edge.
Instance norm normalises each image on its own, so the output does not depend
on the rest of the batch.

Sizes: 28 px → 14 → 7 at the bottleneck (3 blocks are enough to see all of
it); 64 px → 16 (6 blocks, as the paper uses for 128 px).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register
from .unet import norm_layer

_DOWNSAMPLINGS = 2  # ×4 smaller at the bottleneck, as in the paper


def default_blocks(size: int) -> int:
    """Residual blocks for images of side ``size``: 3 up to 32 px, 6 above (the paper: 6 at 128, 9 at 256)."""
    return 3 if size <= 32 else 6


class ResnetBlock(nn.Module):
    """x + norm(conv(relu(norm(conv(x))))), both 3×3 convolutions behind reflection padding; shape unchanged."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        bias = norm == "none"  # a norm layer's shift makes a conv bias redundant
        drop = [nn.Dropout(dropout)] if dropout else []
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels),
            nn.ReLU(True), *drop,
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)  # the block learns a residual: an identity mapping costs nothing


@register
class ResnetGenerator(nn.Module):
    """(B, in_channels, H, W) → (B, out_channels, H, W) in [-1, 1]; H and W divisible by 4.

    Args:
        in_channels, out_channels: image channels in and out (they may differ, e.g. grey → RGB).
        width: channels of the stem (Zhu et al.'s ngf); the bottleneck has 4× as many.
        n_blocks: residual blocks; None picks them from ``size`` (see :func:`default_blocks`).
        size: image side, used only to choose ``n_blocks``.
        norm: "instance" (the paper's choice), "batch" or "none".
        dropout: dropout inside each residual block (the reference code's ``use_dropout``).

    Example:
        >>> ResnetGenerator(1, 3, size=28)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 3, 28, 28])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, n_blocks: int | None = None,
                 size: int = 28, norm: str = "instance", dropout: float = 0.0):
        super().__init__()
        self.n_blocks = default_blocks(size) if n_blocks is None else n_blocks
        bias = norm == "none"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                                   norm_layer(norm, width), nn.ReLU(True)]
        ch = width
        for _ in range(_DOWNSAMPLINGS):  # (B, ch, H, W) → (B, 2ch, H/2, W/2)
            layers += [nn.Conv2d(ch, 2 * ch, 3, 2, 1, bias=bias), norm_layer(norm, 2 * ch), nn.ReLU(True)]
            ch *= 2
        layers += [ResnetBlock(ch, norm, dropout) for _ in range(self.n_blocks)]
        for _ in range(_DOWNSAMPLINGS):  # (B, ch, H, W) → (B, ch/2, 2H, 2W)
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1, bias=bias),
                       norm_layer(norm, ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2**_DOWNSAMPLINGS
        if x.dim() != 4 or x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"ResnetGenerator needs (B, C, H, W) with H and W divisible by {factor} "
                             f"(e.g. 28 or 64 px); got {tuple(x.shape)}. Resize or crop the images.")
        return self.net(x)
