"""SegAN's critic C (Xue et al. 2018): a multi-scale feature extractor, not a classifier.

The segmentor S is a plain :class:`~gan_lab.models.unet.UNet`; what makes
SegAN is C. It sees an image masked by a segmentation map, x ∘ S(x) or
x ∘ y, and returns its features at every scale — the image itself, then one
map per stride-2 layer. The multi-scale L1 loss
(:func:`gan_lab.losses.segmentation.multiscale_l1`) compares these lists, so low
layers judge pixels and edges and deep layers judge shapes and layouts.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register


def _critic_norm(kind: str, channels: int) -> nn.Module:
    """Batch norm that always uses the statistics of the batch at hand.

    C only ever sees the predicted and the true masked images together in one
    batch, and is never used for inference on its own, so running averages
    have no use; without them the segmentor's step leaves C untouched.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels, track_running_stats=False)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'instance' or 'none', not {kind!r}.")


def critic_depth(size: int, min_side: int = 2, max_layers: int = 6) -> int:
    """The number of stride-2 layers that take a ``size`` px image down to ``min_side`` px (at most 6)."""
    layers = 0
    while layers < max_layers and size % 2 ** (layers + 1) == 0 and size // 2 ** (layers + 1) >= min_side:
        layers += 1
    if layers == 0:
        raise ValueError(f"A {size} px image is too small for SegAN's critic; use tiles of at least 4 px.")
    return layers


@register
class SegANCritic(nn.Module):
    """C: masked image (B, in_channels, H, W) → [features at every scale].

    Layer i (i = 1 … n_layers) is a 4×4 stride-2 convolution with
    LeakyReLU(0.2) (and batch norm from the second layer on, as in the
    official code, whose kernels are 7, 5, 4, 4, 4 and 3 px), so feature i has
    shape (B, width·2^(i−1), H/2^i, W/2^i), channels capped at 8·width. The
    list starts with the input itself (the official code's first term; the
    paper's loss uses the layers' features only), so the loss also holds a
    pixel-level term.

    Args:
        in_channels: image channels (1 grey, 3 colour); the mask is applied to every channel.
        width: channels of the first layer.
        n_layers: stride-2 layers; ``size`` picks it when None (64 px → 5, down to 2×2).
        size: the image side used to pick ``n_layers``.
        norm: "batch" (the official code's), "instance" or "none".

    Example:
        >>> [f.shape[-1] for f in SegANCritic(1, size=32)(torch.zeros(2, 1, 32, 32))]
        [32, 16, 8, 4, 2]
    """

    def __init__(self, in_channels: int = 1, width: int = 32, n_layers: int | None = None, size: int = 64,
                 norm: str = "batch"):
        super().__init__()
        self.n_layers = critic_depth(size) if n_layers is None else n_layers
        blocks, ch = [], in_channels
        for i in range(self.n_layers):
            out = width * min(2**i, 8)
            norm_i = _critic_norm(norm, out) if i > 0 else nn.Identity()  # no norm on the first layer (DCGAN)
            blocks.append(nn.Sequential(nn.Conv2d(ch, out, 4, 2, 1, bias=i == 0 or norm == "none"), norm_i,
                                        nn.LeakyReLU(0.2)))
            ch = out
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        side = 2**self.n_layers
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f"SegAN's critic with {self.n_layers} layers needs H and W divisible by {side}; "
                             f"got {tuple(x.shape[-2:])}. Pass n_layers or size= to match your tiles.")
        features = [x]  # scale 0: the masked image itself
        for block in self.blocks:
            features.append(block(features[-1]))  # (B, c_i, H/2^i, W/2^i)
        return features
