"""A small progressive GAN (Karras et al. 2018): G and D grow 8 → 16 → 32 px, new blocks fade in.

Stage s works at resolution r_s = start · 2^s. When block s is added its
output is blended with the upsampled output of the stage before,

    G_s(z; α) = (1 − α) · up(toRGB_{s−1}(h_{s−1})) + α · toRGB_s(block_s(h_{s−1})),

and D mirrors it with fromRGB on a downsampled input. α ramps from 0 to 1,
so at α = 0 the grown network computes exactly what the smaller one did
(up to upsampling) and the new layers enter smoothly. The paper's pixel-wise
feature normalisation in G and the minibatch standard deviation in D are
kept; its equalised learning rate is not (Adam at a small rate suffices at
these sizes).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register


class PixelNorm(nn.Module):
    """b = a / sqrt(mean_c a² + ε): each pixel's feature vector to unit length (Karras et al. 2018, §4.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _conv(ch_in: int, ch_out: int, pixel_norm: bool) -> list[nn.Module]:
    return [nn.Conv2d(ch_in, ch_out, 3, 1, 1), nn.LeakyReLU(0.2, True)] + ([PixelNorm()] if pixel_norm else [])


def _check_stage(stage: int | None, num_stages: int, alpha: float) -> int:
    stage = num_stages - 1 if stage is None else stage
    if not 0 <= stage < num_stages or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"stage must lie in 0..{num_stages - 1} and alpha in [0, 1]; got stage={stage}, "
                         f"alpha={alpha}.")
    return stage


@register
class ProgressiveGenerator(nn.Module):
    """G: z (B, z_dim) ↦ image (B, C, r, r) in [-1, 1], r = start · 2^stage.

    Args:
        z_dim: latent size.
        channels: image channels.
        widths: channels of each stage's block; ``len(widths)`` stages, so (64, 32, 16) grows 8 → 16 → 32.
        start: resolution of stage 0.

    Example:
        >>> G = ProgressiveGenerator(z_dim=16, widths=(16, 8, 8))
        >>> G(torch.randn(2, 16), stage=1, alpha=0.5).shape, G(torch.randn(2, 16)).shape
        (torch.Size([2, 1, 16, 16]), torch.Size([2, 1, 32, 32]))
    """

    def __init__(self, z_dim: int = 64, channels: int = 1, widths: tuple[int, ...] = (64, 32, 16), start: int = 8):
        super().__init__()
        self.z_dim, self.num_stages, self.start = z_dim, len(widths), start
        self.size = start * 2 ** (len(widths) - 1)  # the full resolution
        w0 = widths[0]
        self.input = nn.Sequential(  # z ↦ (w0, 4, 4) ↦ (w0, start, start)
            PixelNorm(), nn.ConvTranspose2d(z_dim, w0, 4), nn.LeakyReLU(0.2, True), PixelNorm(),
            nn.Upsample(size=start, mode="nearest"), *_conv(w0, w0, True))
        self.blocks = nn.ModuleList(  # block s: ×2 nearest upsampling, two 3×3 convolutions
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv(a, b, True), *_conv(b, b, True))
            for a, b in zip(widths[:-1], widths[1:]))
        self.to_rgb = nn.ModuleList(nn.Conv2d(w, channels, 1) for w in widths)  # one 1×1 read-out per stage

    def forward(self, z: torch.Tensor, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """G at ``stage`` (default: the last) with fade-in weight ``alpha`` of that stage's block."""
        stage = _check_stage(stage, self.num_stages, alpha)
        h = self.input(z.view(z.shape[0], -1, 1, 1))  # (B, w0, start, start)
        for s in range(1, stage + 1):
            h_prev, h = h, self.blocks[s - 1](h)
        out = self.to_rgb[stage](h)
        if stage > 0 and alpha < 1.0:  # fade-in: blend with the previous stage's image, upsampled
            out = alpha * out + (1 - alpha) * F.interpolate(self.to_rgb[stage - 1](h_prev), scale_factor=2,
                                                            mode="nearest")
        return torch.tanh(out)  # tanh commutes with nearest upsampling: α = 0 is exactly up(G_{s−1}(z))


class MinibatchStdDev(nn.Module):
    """Appends one feature map: how much the images of a group differ (Karras et al. 2018, section 3).

    For each group of images, the standard deviation over its images of every feature at every position,
    averaged over features and positions, is one number; it becomes a constant map appended to each image
    of the group. A generator whose samples all look alike gives D a small number to find them by, which
    no single image shows.

    Args:
        group_size: 0 (the default): the whole batch is one group, as section 3 describes it. g ≥ 2: groups
            of g images, every (B / g)-th image in one group, as the official code's reshape takes them
            (``minibatch_stddev_layer``, group size 4). A batch smaller than g is one group, as there;
            where a larger batch does not divide into groups of g, the groups take the largest divisor of g
            that divides it (1: a constant map). The official code requires divisibility; this fallback is
            gan_lab's, so that D scores a batch of any size.
    """

    def __init__(self, group_size: int = 0):
        super().__init__()
        if isinstance(group_size, bool) or not (isinstance(group_size, int) and group_size != 1 and group_size >= 0):
            raise ValueError(f"group_size must be 0 (the whole batch) or a whole number ≥ 2 (the official code "
                             f"uses 4), not {group_size!r}.")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        G = min(self.group_size, B) if self.group_size else B
        if B % G:
            G = math.gcd(B, G)
        y = x.reshape(G, B // G, C * H * W)  # group m of M = B / G holds images m, m + M, m + 2M, …
        d = y - y.mean(dim=0)  # the variance as the official code takes it (faster on the CPU than var(dim=0))
        std = (d.square().mean(dim=0) + 1e-8).sqrt().mean(dim=1)  # (M,): one number a group
        return torch.cat([x, std.repeat(G).view(B, 1, 1, 1).expand(B, 1, H, W)], dim=1)


@register
class ProgressiveDiscriminator(nn.Module):
    """D: image (B, C, r, r) ↦ logit (B,), mirroring :class:`ProgressiveGenerator` (no batch norm).

    Args:
        channels, widths, start: as for the generator (``widths[s]`` at stage s).
    """

    def __init__(self, channels: int = 1, widths: tuple[int, ...] = (64, 32, 16), start: int = 8):
        super().__init__()
        self.num_stages, self.start = len(widths), start
        self.from_rgb = nn.ModuleList(nn.Sequential(nn.Conv2d(channels, w, 1), nn.LeakyReLU(0.2, True))
                                      for w in widths)
        self.blocks = nn.ModuleList(  # block s: two 3×3 convolutions, then ×½ average pooling
            nn.Sequential(*_conv(b, b, False), *_conv(b, a, False), nn.AvgPool2d(2))
            for a, b in zip(widths[:-1], widths[1:]))
        w0 = widths[0]
        self.output = nn.Sequential(MinibatchStdDev(), *_conv(w0 + 1, w0, False),  # then one linear read-out
                                    nn.Flatten(), nn.Linear(w0 * start * start, 1))  # of the whole map, as DCGAN

    def forward(self, x: torch.Tensor, stage: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        stage = _check_stage(stage, self.num_stages, alpha)
        r = self.start * 2**stage
        if x.shape[-1] != r:
            raise ValueError(f"Stage {stage} takes images of {r}×{r} px; got {tuple(x.shape)}.")
        h = self.from_rgb[stage](x)
        if stage > 0:
            h = self.blocks[stage - 1](h)
            if alpha < 1.0:  # fade-in: blend with the previous stage's path on the downsampled image
                h = alpha * h + (1 - alpha) * self.from_rgb[stage - 1](F.avg_pool2d(x, 2))
            for s in range(stage - 1, 0, -1):
                h = self.blocks[s - 1](h)
        return self.output(h).flatten()
