"""Where in frequency do generated images differ from real ones?

Two tools that split an image set by spatial frequency:

* :func:`radial_power_spectrum` — the power |X(k)|² of each image's 2-D discrete Fourier transform, averaged
  over the images and over rings of equal frequency radius: a one-dimensional spectrum of the kind
  ("azimuthal integration") with which Durall et al. (2020) and Dzanic et al. (2020) compare real and
  generated images. Two image sets with the same spectrum have the same energy at every scale, on average.
* :func:`low_pass` and :func:`frequency_bands` — each image as a low-pass part (a Gaussian blur) plus a
  high-pass part (what the blur removed). Run the classifier two-sample test (:mod:`.two_sample`) on one band
  of both sets to steer the classifier towards the coarse layout or the fine detail.

A band is a reweighting of the image, not a cut: the Gaussian's high-pass response 1 − exp(−2π²σ²|f|²) is
above 0 at every frequency but 0, so the high band still holds everything but the image's mean, with the
low frequencies shrunk. A band test changes what the classifier finds easy to learn, not what it could
know. And the spectrum is a statistic of second order (it holds no phase): fakes can match it and still
differ in a band, e.g. in the shape of edges.
"""

from __future__ import annotations

import torch
from torchvision.transforms.functional import gaussian_blur


def _images(images: torch.Tensor) -> torch.Tensor:
    """``images`` as a detached float tensor, or a ValueError that says what was given instead."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or len(images) == 0:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a non-empty batch of images (N, C, H, W); got {got}.")
    return images.detach().float()


def frequency_radius(height: int, width: int) -> torch.Tensor:
    """(H, W) integer ring index r = round(|k|) of each DFT coefficient, |k| in cycles per image side.

    Along an axis r runs up to H/2 (the Nyquist frequency: a pattern of period 2 px); the corners of the
    spectrum, diagonal frequencies, reach about √2 · H/2.
    """
    k_y = torch.fft.fftfreq(height) * height
    k_x = torch.fft.fftfreq(width) * width
    return (k_y[:, None] ** 2 + k_x[None, :] ** 2).sqrt().round().long()


def radial_power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """The mean power of ``images`` (N, C, H, W) on each ring r = 0, 1, …, max r of frequency radius.

    Each image's mean is subtracted first (so ring 0 holds no brightness, only what varies); the power
    |X(k)|² / (H·W)² of each coefficient of its 2-D DFT is averaged over the images, the channels and the
    coefficients of one ring. With that scale the powers of all H·W coefficients sum to the image's
    variance (Parseval's theorem).

    Returns:
        A float tensor of length max r + 1 (21 for 28-px images).

    Example:
        >>> stripes = torch.cos(torch.arange(28.) * 2 * torch.pi * 7 / 28).expand(1, 1, 28, 28)
        >>> int(radial_power_spectrum(stripes).argmax())   # 7 stripes per image side
        7
    """
    x = _images(images).cpu()  # a short vector for plots and tables: the CPU is where it ends up
    x = x - x.mean(dim=(2, 3), keepdim=True)
    power = torch.fft.fft2(x, norm="forward").abs().pow(2).mean(dim=(0, 1))  # forward: X / (H·W), so (H, W)
    ring = frequency_radius(x.shape[2], x.shape[3]).flatten()
    total = torch.zeros(int(ring.max()) + 1).index_add_(0, ring, power.flatten())
    return total / torch.bincount(ring).float()


def low_pass(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """A Gaussian blur of ``images`` (N, C, H, W) with standard deviation ``sigma`` px, on their own device.

    The kernel has 2·round(3σ) + 1 taps and reflects the borders (torchvision's ``gaussian_blur``). With
    σ = 1 px (7 taps) it keeps about half the amplitude of a stripe pattern with a period of 5 px, a tenth of
    one of 3 px and 1.4 % of one of 2 px, so on 28-px chest X-rays what it removes (the high band of
    :func:`frequency_bands`) holds edges and texture, and what it keeps the layout of the chest.
    """
    x = _images(images)
    if not sigma > 0:
        raise ValueError(f"sigma is the blur's standard deviation in pixels and must be > 0; got {sigma!r}.")
    radius = max(1, round(3 * sigma))
    if 2 * radius + 1 > min(x.shape[2], x.shape[3]):
        raise ValueError(f"a blur of sigma={sigma} needs a {2 * radius + 1}-px kernel, larger than the "
                         f"{x.shape[2]}×{x.shape[3]} images; choose a smaller sigma.")
    return gaussian_blur(x, kernel_size=2 * radius + 1, sigma=sigma)


def frequency_bands(images: torch.Tensor, sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` as (low, high): :func:`low_pass` of them, and what it removed; low + high = the images."""
    x = _images(images)
    low = low_pass(x, sigma)
    return low, x - low
