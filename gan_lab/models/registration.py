"""The registration generator of Yan et al. (2018): a CNN that reads (fixed, moving) and outputs a transform.

Its output is not an image but a rigid transform: here, in 2-D, the three parameters (angle, t_x, t_y);
``warp`` below turns them into the warped moving image. The
discriminator of adversarial registration is an ordinary image critic that
sees the pair (fixed, warped) as two channels (``DCGANDiscriminator(2, ...)``).

Beside it, the rigid-transform maths it is trained through, and a differentiable
resampler (spatial transformer). A rigid transform of a 2-D image has three parameters, kept in units a person reads:
``params = (angle, t_x, t_y)``, the angle in degrees (counter-clockwise as the image is
displayed, row 0 at the top) and the shift in pixels (right, down). It moves image
content as

    q = R(angle) · p + t        (p, q: positions about the image centre)

so the warped image is  warped(q) = moving(R⁻¹ (q − t)).  That is the sampling
matrix ``A = [R⁻¹ | −R⁻¹ t]`` (normalised coordinates) that ``F.affine_grid`` wants; ``F.grid_sample``
then interpolates bilinearly, differentiably in the image *and* in the parameters
(Jaderberg et al. 2015, "Spatial transformer networks"), which is what lets a network
that predicts ``params`` be trained through the warped image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register


def _check_params(params: torch.Tensor) -> None:
    if params.dim() != 2 or params.shape[1] != 3:
        raise ValueError(f"Expected rigid parameters of shape (B, 3) = (angle°, t_x px, t_y px); "
                         f"got {tuple(params.shape)}. Use params.unsqueeze(0) for a single transform.")


def rigid_matrix(params: torch.Tensor, size: int) -> torch.Tensor:
    """The (B, 2, 3) sampling matrices A = [R⁻¹ | −R⁻¹ t] for ``F.affine_grid`` (align_corners=False).

    Args:
        params: (B, 3) = (angle in degrees, t_x, t_y in pixels) of the transform that moves the content.
        size: image side in pixels (square images): a shift of t pixels is 2t/size in normalised units.

    Example:
        >>> rigid_matrix(torch.tensor([[90.0, 0.0, 0.0]]), 28).round(decimals=4).abs()
        tensor([[[0., 1., 0.],
                 [1., 0., 0.]]])
    """
    _check_params(params)
    angle = params[:, 0] * (math.pi / 180)
    t = params[:, 1:] * (2.0 / size)  # (B, 2) pixels → normalised [-1, 1] units
    cos, sin = torch.cos(angle), torch.sin(angle)
    # R⁻¹ for a counter-clockwise turn on screen, where y points down: [[cos, −sin], [sin, cos]]
    R_inv = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
    return torch.cat([R_inv, -(R_inv @ t.unsqueeze(-1))], dim=-1)


def warp(image: torch.Tensor, params: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Resample images (B, C, H, W) under rigid transforms (B, 3); outside the image counts as −1 (black).

    Differentiable in ``image`` and ``params``. Images live in [-1, 1], so the padding is −1.
    """
    if image.dim() != 4 or image.shape[-1] != image.shape[-2] or image.shape[0] != params.shape[0]:
        raise ValueError(f"Expected square images (B, C, H, W) and params (B, 3) with the same B; got "
                         f"{tuple(image.shape)} and {tuple(params.shape)}.")
    A = rigid_matrix(params.to(image.dtype), image.shape[-1])
    grid = F.affine_grid(A, list(image.shape), align_corners=False)  # (B, H, W, 2): where to sample
    # shift to [0, 2] so that zero padding means black (−1) after shifting back
    return F.grid_sample(image + 1, grid, mode=mode, padding_mode="zeros", align_corners=False) - 1


def invert_rigid(params: torch.Tensor) -> torch.Tensor:
    """The parameters of the inverse transform: p = R(−angle)·q − R(−angle)·t.

    ``warp(warp(x, params), invert_rigid(params)) ≈ x`` (up to interpolation and the lost corners).
    """
    _check_params(params)
    angle = params[:, 0] * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    tx, ty = params[:, 1], params[:, 2]
    # R(−angle) on screen coordinates: R(a) = [[cos, sin], [−sin, cos]] (y down), so R(−a) = [[cos, −sin], [sin, cos]]
    return torch.stack([-params[:, 0], -(cos * tx - sin * ty), -(sin * tx + cos * ty)], dim=1)


def random_rigid(n: int, max_angle: float = 25.0, max_shift: float = 4.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """n parameter vectors (n, 3) drawn uniformly: angle in ±max_angle degrees, shifts in ±max_shift pixels."""
    u = torch.rand(n, 3, generator=generator) * 2 - 1
    return u * torch.tensor([max_angle, max_shift, max_shift])

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
