"""InfoGAN networks (Chen et al. 2016): G reads latent codes c next to the noise z, Q reads them back.

* :class:`InfoGANGenerator` — G(z, c, c_cont): the DCGAN generator of input
  [z, one-hot(c), c_cont], with a categorical code c ∈ {0..K−1} and
  continuous codes c_cont ∈ [−1, 1]^m.
* :class:`InfoGANDiscriminator` — x ↦ (D's real/fake logit, Q(c|x)): the
  auxiliary distribution Q shares every convolution with D (the paper's
  choice: Q costs one extra layer), and predicts logits for c and a
  factored Gaussian (mean, log-variance) for each continuous code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .dcgan import DCGANDiscriminator, DCGANGenerator
from .registry import register


@register
class InfoGANGenerator(nn.Module):
    """G: (z (B, z_dim), c (B,) long, c_cont (B, num_continuous)) ↦ image (B, C, size, size) in [-1, 1].

    Args:
        z_dim: size of the incompressible noise z.
        num_categories: K, the values of the categorical code c.
        num_continuous: m, the number of continuous codes (uniform on [−1, 1] in training).
        channels, size, width: as for :class:`~gan_lab.models.dcgan.DCGANGenerator`.

    Example:
        >>> G = InfoGANGenerator(z_dim=16, num_categories=3, num_continuous=2)
        >>> G(torch.randn(4, 16), torch.tensor([0, 1, 2, 0]), torch.zeros(4, 2)).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, z_dim: int = 62, num_categories: int = 2, num_continuous: int = 2, channels: int = 1,
                 size: int = 28, width: int = 32):
        super().__init__()
        self.z_dim, self.num_categories, self.num_continuous = z_dim, num_categories, num_continuous
        self.body = DCGANGenerator(z_dim + num_categories + num_continuous, channels, size, width)

    def forward(self, z: torch.Tensor, c: torch.Tensor, c_cont: torch.Tensor) -> torch.Tensor:
        B = z.shape[0]
        if c.shape != (B,) or c_cont.shape != (B, self.num_continuous):
            raise ValueError(f"Expected codes c ({B},) and c_cont ({B}, {self.num_continuous}); got "
                             f"{tuple(c.shape)} and {tuple(c_cont.shape)}.")
        one_hot = F.one_hot(c, self.num_categories).to(z.dtype)  # (B, K)
        return self.body(torch.cat([z, one_hot, c_cont.to(z.dtype)], dim=1))


@register
class InfoGANDiscriminator(nn.Module):
    """x (B, C, size, size) ↦ (logit (B,), c logits (B, K), c_cont mean (B, m), c_cont log-variance (B, m)).

    D and Q share the DCGAN trunk φ(x); D's head is DCGAN's own output layer,
    Q's head one hidden layer on φ(x) (Chen et al., appendix C).

    Args:
        num_categories, num_continuous: K and m as for :class:`InfoGANGenerator`.
        channels, size, width: as for :class:`~gan_lab.models.dcgan.DCGANDiscriminator`.
        q_hidden: units of Q's hidden layer.
    """

    def __init__(self, num_categories: int = 2, num_continuous: int = 2, channels: int = 1, size: int = 28,
                 width: int = 32, q_hidden: int = 128):
        super().__init__()
        self.num_categories, self.num_continuous = num_categories, num_continuous
        self.body = DCGANDiscriminator(channels, size, width)
        head = self.body.head  # Conv2d(F, 1, h): reads the whole feature map
        self.q = nn.Sequential(nn.Conv2d(head.in_channels, q_hidden, head.kernel_size), nn.LeakyReLU(0.2, True),
                               nn.Flatten(), nn.Linear(q_hidden, num_categories + 2 * num_continuous))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        phi = self.body.features(x)  # (B, F, h, w), shared by D and Q
        q = self.q(phi)  # (B, K + 2m)
        K, m = self.num_categories, self.num_continuous
        return self.body.head(phi).flatten(), q[:, :K], q[:, K:K + m], q[:, K + m:]
