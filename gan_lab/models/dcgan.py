"""DCGAN generator and discriminator (Radford et al. 2016) for 28, 32 and 64 px.

The architecture guidelines of the paper, all followed in the code:
strided (transposed) convolutions instead of pooling, batch norm in both
networks (not on G's output or D's input layer), ReLU in G with tanh on
the output, LeakyReLU(0.2) in D, no fully connected hidden layers.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import SelfAttention
from .progressive import MinibatchStdDev
from .registry import register


def _plan(size: int) -> tuple[int, int]:
    """(start resolution, number of ×2 stages) so that start · 2^n = size."""
    for start in (4, 7):
        n = 0
        while start * 2**n < size:
            n += 1
        if start * 2**n == size and n >= 1:
            return start, n
    raise ValueError(f"DCGAN supports sizes 4·2^n or 7·2^n (e.g. 28, 32, 64, 128); got {size}.")


UPSAMPLING = ("transposed", "resize", "resize_last")


def _attention(channels: int, width: int) -> SelfAttention:
    """A self-attention layer on the smallest map, with an error that names the width to change."""
    if channels < 8:  # its keys have channels / 8
        raise ValueError(f"self_attention needs at least 8 channels on the smallest map; width {width} gives it "
                         f"{channels}: use a width of at least {-(-8 * width // channels)}.")
    return SelfAttention(channels)


def _doubling(c_in: int, c_out: int, upsample: str, bias: bool) -> list[nn.Module]:
    """Layers that double the resolution and map c_in to c_out channels (see ``DCGANGenerator``'s upsample)."""
    if upsample == "transposed":
        return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias)]


@register
class DCGANGenerator(nn.Module):
    """G: z (B, z_dim) ↦ image (B, C, size, size) in [-1, 1].

    Args:
        z_dim: latent size.
        channels: image channels (1 grey, 3 RGB).
        size: image side (28, 32, 64, ...).
        width: channels of the last hidden layer before the output stage; earlier layers double it.
        upsample: how each stage doubles the resolution: "transposed" (the DCGAN paper's 4×4 transposed
            convolution with stride 2) or "resize" (nearest-neighbour ×2, then a 3×3 convolution): Odena et
            al. 2016's remedy for checkerboard artefacts. A transposed convolution covers its output unevenly
            unless its kernel size is divisible by its stride (4 and 2 here), and even then its learned
            weights must stay balanced to avoid them; resizing first does not build the pattern in.
            "resize_last": transposed convolutions, but the last stage (the one that makes the output
            pixels) resizes; gan_lab's own variant: Odena et al. replace every transposed convolution.
        full_res_conv: one more 3×3 convolution at the output resolution: the last stage makes width / 2
            hidden channels at full size (batch norm, ReLU) and a 3×3 convolution maps them to the image.
            Progressive GAN's G (Karras et al. 2018, Table 2) has two 3×3 convolutions at every resolution from
            8×8 up, the output's included, before a 1×1 convolution makes the pixels; DCGAN's last layer makes
            them straight from the half-resolution features. gan_lab's own option, not a published
            architecture; False (the default): the DCGAN paper's layers.
        self_attention: a :class:`~gan_lab.models.attention.SelfAttention` layer on z's projection, the
            smallest map (7×7 for 28 px). SAGAN (Zhang et al. 2019) has one in G and one in D; where it sits
            here is gan_lab's choice: the layer's cost grows with the square of the map's positions, and on
            the 14×14 map it halved the default's steps per second on two CPU cores (short probes; the
            README's "Self-attention"). False (the default): the DCGAN paper's layers.

    Example:
        >>> DCGANGenerator(z_dim=64, size=28)(torch.randn(2, 64)).shape
        torch.Size([2, 1, 28, 28])
    """

    def __init__(self, z_dim: int = 64, channels: int = 1, size: int = 28, width: int = 64,
                 upsample: str = "transposed", full_res_conv: bool = False, self_attention: bool = False):
        super().__init__()
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, not {upsample!r}.")
        self.z_dim = z_dim
        start, n_up = _plan(size)
        ch = width * 2 ** (n_up - 1)
        layers: list[nn.Module] = [  # project z to a (ch, start, start) map
            nn.ConvTranspose2d(z_dim, ch, start, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        if self_attention:  # on the smallest map: the cost grows with the square of its positions
            layers.append(_attention(ch, width))
        hidden, last = {"resize_last": ("transposed", "resize")}.get(upsample, (upsample, upsample))
        def stage(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:  # a hidden layer at twice the size
            return [*_doubling(c_in, c_out, upsample, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        for _ in range(n_up - 1):  # each stage doubles resolution, halves channels
            layers += stage(ch, ch // 2, hidden)
            ch //= 2
        if full_res_conv:  # the pixels come from features at their own resolution
            layers += [*stage(ch, ch // 2, last), nn.Conv2d(ch // 2, channels, 3, 1, 1)]
        else:
            layers += [*_doubling(ch, channels, last, bias=True)]
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


@register
class DCGANDiscriminator(nn.Module):
    """D: image (B, C, size, size) ↦ one logit per image (B,).

    Args:
        channels, size, width: as for :class:`DCGANGenerator`.
        critic: a WGAN critic: no batch norm (WGAN-GP's penalty is per
            sample, which batch norm would couple). The output is the same
            raw score either way; a WGAN reads the difference of its means
            over real and fake images as a distance estimate instead of
            passing it through a sigmoid.
        spectral_norm: spectrally normalise every layer (Miyato et al. 2018; see
            :func:`spectral_normalise`) and, as their discriminators do, use no batch norm.
        full_res_conv: first a 3×3 convolution at the input resolution to width / 2 channels, so that the
            first strided layer sees features rather than pixels (Progressive GAN's D, Karras et al. 2018,
            Table 2, has two 3×3 convolutions at every resolution from 8×8 up before it halves the resolution;
            gan_lab's own option, off by default).
        minibatch_std: the group size of a minibatch standard deviation layer before the head
            (:class:`~gan_lab.models.progressive.MinibatchStdDev`; Progressive GAN's D, Karras et al.
            2018, section 3, group size 4 in their official code); 0 (the default): none, the DCGAN
            paper's D.
        self_attention: a :class:`~gan_lab.models.attention.SelfAttention` layer on the last features, the
            smallest map, before the head (and before ``minibatch_std``'s map); see :class:`DCGANGenerator`.
            False (the default): the DCGAN paper's layers.
    """

    def __init__(self, channels: int = 1, size: int = 28, width: int = 64, critic: bool = False,
                 spectral_norm: bool = False, full_res_conv: bool = False, minibatch_std: int = 0,
                 self_attention: bool = False):
        super().__init__()
        start, n_down = _plan(size)
        plain = critic or spectral_norm  # no batch norm
        def stage(c_in: int, c_out: int) -> list[nn.Module]:  # a hidden layer at half the size
            norm = nn.Identity() if plain else nn.BatchNorm2d(c_out)
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=plain), norm, nn.LeakyReLU(0.2, True)]

        if full_res_conv:  # the input layer keeps no batch norm (DCGAN); the strided layer after it is hidden
            layers: list[nn.Module] = [nn.Conv2d(channels, width // 2, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                       *stage(width // 2, width)]
        else:
            layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n_down - 1):
            layers += stage(ch, ch * 2)
            ch *= 2
        if self_attention:  # on the smallest map, as in G
            layers.append(_attention(ch, width))
        if minibatch_std:
            layers.append(MinibatchStdDev(minibatch_std))
        self.features = nn.Sequential(*layers)  # (B, ch [+ 1], start, start)
        self.head = nn.Conv2d(ch + bool(minibatch_std), 1, start, 1, 0)  # one score for the whole image
        if spectral_norm:
            spectral_normalise(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()


def spectral_normalise(module: nn.Module) -> nn.Module:
    """``module`` with each convolution and linear layer divided by its largest singular value, in place.

    Spectral normalisation (Miyato et al. 2018) divides each weight W by an estimate of σ(W), its
    largest singular value, updated by one step of power iteration per forward pass in training mode.
    A convolution's kernel is normalised as the matrix (out, in · k · k), the paper's approximation of
    the convolution's own norm. :func:`init_dcgan_weights` re-initialises such a layer and restarts its
    power iteration from the new weight.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.utils.parametrizations.spectral_norm(layer)
    return module


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) weights as in the DCGAN paper; use with ``model.apply``."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        spectral = _spectrally_normalised(module)
        if spectral:  # its power-iteration vectors fit the old weight: take it off, and on again below
            nn.utils.parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
        if spectral:
            nn.utils.parametrizations.spectral_norm(module)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _spectrally_normalised(layer: nn.Module) -> bool:
    """True when ``layer.weight`` is spectrally normalised; a weight parametrised otherwise is refused."""
    if not nn.utils.parametrize.is_parametrized(layer, "weight"):
        return False
    kinds = [type(p).__name__ for p in layer.parametrizations.weight]
    if kinds != ["_SpectralNorm"]:
        raise ValueError(f"init_dcgan_weights knows plain and spectrally normalised weights; this "
                         f"{type(layer).__name__}'s weight is parametrised by {kinds}.")
    return True
