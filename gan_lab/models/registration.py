"""The registration generator of Yan et al. (2018): a CNN that reads (fixed, moving) and outputs a transform.

Its output is not an image but the three rigid parameters (angle, t_x, t_y);
``gan_lab.registration.warp`` turns them into the warped moving image. The
discriminator of adversarial registration is an ordinary image critic that
sees the pair (fixed, warped) as two channels (``DCGANDiscriminator(2, ...)``).
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


@register
class RigidRegressor(nn.Module):
    """(fixed, moving), each (B, 1, H, W) → rigid parameters (B, 3) = (angle°, t_x px, t_y px).

    Four conv blocks (two of them stride 2) and a linear head. The head predicts the
    parameters divided by ``scale`` (order 1 each), so the angle in degrees and the
    shift in pixels are learned at the same pace.

    Args:
        size: image side (H = W).
        width: channels of the first block (doubled at each stride).
        scale: (max_angle, max_shift, max_shift), the ranges the training draws from.

    Example:
        >>> RigidRegressor(28)(torch.zeros(2, 1, 28, 28), torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 3])
    """

    def __init__(self, size: int = 28, width: int = 16, scale: tuple[float, float, float] = (25.0, 4.0, 4.0)):
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be divisible by 4 (two stride-2 convolutions); got {size}.")
        w = width
        block = lambda c_in, c_out, stride: [nn.Conv2d(c_in, c_out, 3, stride, 1),  # noqa: E731
                                             nn.BatchNorm2d(c_out), nn.ReLU(True)]
        self.features = nn.Sequential(*block(2, w, 1), *block(w, 2 * w, 2), *block(2 * w, 2 * w, 1),
                                      *block(2 * w, 4 * w, 2))  # (B, 4w, H/4, W/4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * (size // 4) ** 2, 64), nn.ReLU(True),
                                  nn.Linear(64, 3))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, fixed: torch.Tensor, moving: torch.Tensor) -> torch.Tensor:
        h = self.features(torch.cat([fixed, moving], dim=1))  # the two images as channels
        return self.head(h) * self.scale
