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
    """Append the mean over features of the per-pixel std over the batch as one channel (Karras et al. §3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = x.std(dim=0, unbiased=False).mean().expand(x.shape[0], 1, *x.shape[2:])  # (B, 1, H, W)
        return torch.cat([x, std], dim=1)


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
