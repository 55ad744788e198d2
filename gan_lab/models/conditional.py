"""Class-conditional DCGAN networks: how a label y enters G and D.

* :class:`ConditionalGenerator` — G(z, y): a learned label embedding e_y is
  concatenated with z (Mirza & Osindero 2014), so every layer sees the class.
* :class:`ConditionalDiscriminator` — D(x, y): the label becomes one extra
  learned image plane concatenated with x at the input.
* :class:`ProjectionDiscriminator` — D(x, y) = ψ(φ(x)) + e_yᵀ Σ_hw φ(x)
  (Miyato & Koyama 2018): the label enters only at the end, as an inner
  product with the image features.
* :class:`ACGANDiscriminator` — D(x) ↦ (real/fake logit, class logits)
  (Odena et al. 2017): D never sees y; it must *predict* it.

All reuse the DCGAN trunks of :mod:`gan_lab.models.dcgan` (sizes 28, 32, 64, ...).
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .registry import register


def _check_labels(y: torch.Tensor, batch: int) -> None:
    """Shape and dtype only: a range check would cost a device sync on every forward pass."""
    if y.dtype != torch.long or y.shape != (batch,):
        raise ValueError(f"Labels y must be a long tensor of shape ({batch},); got {y.dtype} {tuple(y.shape)}. "
                         "Use torch.full((n,), k) for n images of class k.")


@register
class ConditionalGenerator(nn.Module):
    """G: (z (B, z_dim), y (B,)) ↦ image (B, C, size, size) in [-1, 1].

    The DCGAN generator of input size z_dim + embed_dim reads [z, e_y].

    Args:
        num_classes: number of classes K (labels 0..K-1).
        z_dim: latent size.
        embed_dim: size of the learned label embedding e_y.
        channels, size, width: as for :class:`~gan_lab.models.dcgan.DCGANGenerator`.

    Example:
        >>> G = ConditionalGenerator(num_classes=3, z_dim=16)
        >>> G(torch.randn(2, 16), torch.tensor([0, 2])).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, num_classes: int = 2, z_dim: int = 64, embed_dim: int = 16, channels: int = 1,
                 size: int = 28, width: int = 64):
        super().__init__()
        self.num_classes, self.z_dim = num_classes, z_dim
        self.embed = nn.Embedding(num_classes, embed_dim)  # e_y
        self.body = DCGANGenerator(z_dim + embed_dim, channels, size, width)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_labels(y, z.shape[0])
        return self.body(torch.cat([z, self.embed(y)], dim=1))  # (B, z_dim + embed_dim) → (B, C, H, W)


@register
class ConditionalDiscriminator(nn.Module):
    """D: (x (B, C, size, size), y (B,)) ↦ one logit per image (B,).

    The label is embedded as a learned (size × size) plane and concatenated
    with the image, so the very first convolution compares x with its class.

    Args:
        num_classes: number of classes K.
        channels, size, width: as for :class:`~gan_lab.models.dcgan.DCGANDiscriminator`.
    """

    def __init__(self, num_classes: int = 2, channels: int = 1, size: int = 28, width: int = 64):
        super().__init__()
        self.num_classes, self.size = num_classes, size
        self.embed = nn.Embedding(num_classes, size * size)  # e_y, one plane per class
        self.body = DCGANDiscriminator(channels + 1, size, width)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_labels(y, x.shape[0])
        plane = self.embed(y).view(-1, 1, self.size, self.size)  # (B, 1, H, W)
        return self.body(torch.cat([x, plane], dim=1))


@register
class ProjectionDiscriminator(nn.Module):
    """Projection discriminator (Miyato & Koyama 2018): (x, y) ↦ logit (B,).

        D(x, y) = ψ(φ(x)) + e_yᵀ Σ_hw φ(x)

    φ(x) (B, F, h, w) are the DCGAN features (sum-pooled over positions for
    the class term, as in the paper), ψ is DCGAN's own output layer (a linear
    map of φ) and e_y ∈ R^F a learned class embedding. The class term is what
    a log-linear model of p(y|x) adds to the unconditional logit, which is why
    the paper prefers it to concatenating y at the input.

    The paper spectrally normalises every layer (Miyato et al. 2018). Here the
    trunk keeps the batch norm of the other conditional discriminators, so a
    comparison changes only how y enters, and only the embedding matrix E is
    normalised (‖e_y‖ ≤ 1): without that bound the class term grew until D won
    outright and G stopped learning; a fully normalised trunk learned the
    classes far more slowly in short runs.

    Args:
        num_classes, channels, size, width: as for :class:`ConditionalDiscriminator`.
        spectral_norm: divide E by its largest singular value (recommended).
    """

    def __init__(self, num_classes: int = 2, channels: int = 1, size: int = 28, width: int = 64,
                 spectral_norm: bool = True):
        super().__init__()
        self.num_classes = num_classes
        self.body = DCGANDiscriminator(channels, size, width)
        self.embed = nn.Embedding(num_classes, self.body.head.in_channels)  # E: row y is e_y
        nn.init.normal_(self.embed.weight, 0.0, 0.02)  # DCGAN's init scale
        if spectral_norm:
            nn.utils.parametrizations.spectral_norm(self.embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check_labels(y, x.shape[0])
        phi = self.body.features(x)  # (B, F, h, w)
        unconditional = self.body.head(phi).flatten()  # ψ(φ(x)), (B,)
        projection = (self.embed(y) * phi.sum(dim=(2, 3))).sum(dim=1)  # e_yᵀ Σ_hw φ(x), (B,)
        return unconditional + projection


@register
class ACGANDiscriminator(nn.Module):
    """Auxiliary-classifier discriminator (Odena et al. 2017): x ↦ (logit (B,), class logits (B, K)).

    One shared DCGAN trunk, two heads: the source head says real or fake,
    the auxiliary head says which class. The label is never an input.

    Args:
        num_classes, channels, size, width: as for :class:`ConditionalDiscriminator`.
    """

    def __init__(self, num_classes: int = 2, channels: int = 1, size: int = 28, width: int = 64):
        super().__init__()
        self.num_classes = num_classes
        self.body = DCGANDiscriminator(channels, size, width)
        head = self.body.head  # Conv2d(F, 1, h): a linear read-out of the whole feature map
        self.classifier = nn.Conv2d(head.in_channels, num_classes, head.kernel_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        phi = self.body.features(x)  # (B, F, h, w)
        return self.body.head(phi).flatten(), self.classifier(phi).flatten(1)  # (B,), (B, K)
