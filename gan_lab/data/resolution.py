"""The super-resolution degradation model and its classical inverse (bicubic interpolation).

A low-resolution image is modelled as a blurred, subsampled high-resolution one,

    x_LR = (k ∗ x_HR) ↓_s,

here with k the s × s box filter (the mean of each s × s block, which is what
a detector with s× larger pixels records). Super-resolution estimates x_HR
from x_LR; bicubic interpolation is the baseline every learned method is
compared with (Ledig et al. 2017).

Images are tensors (N, C, H, W) in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """x_LR = (box ∗ x_HR) ↓_s: the mean of every ``scale`` × ``scale`` block; (N, C, H/s, W/s).

    Example:
        >>> downsample(torch.zeros(2, 1, 28, 28), 2).shape
        torch.Size([2, 1, 14, 14])
    """
    if x.dim() != 4 or scale < 1 or x.shape[-1] % scale or x.shape[-2] % scale:
        raise ValueError(f"Expected images (N, C, H, W) with H and W divisible by the integer scale {scale}; "
                         f"got {tuple(x.shape)}.")
    return F.avg_pool2d(x, scale)


def upsample(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic interpolation of (N, C, h, w) to (N, C, size, size), clamped to [-1, 1] (it overshoots at edges)."""
    if x.dim() != 4:
        raise ValueError(f"Expected images (N, C, H, W); got {tuple(x.shape)}.")
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(-1, 1)
