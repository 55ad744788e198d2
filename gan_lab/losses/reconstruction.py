"""Losses for reconstruction and denoising networks: a k-space (frequency-domain) MSE, total variation
and a perceptual (feature-space) loss.

Pure functions of image tensors (B, C, H, W), like :mod:`gan_lab.losses`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.kspace import fft2c


def frequency_mse(fake: torch.Tensor, real: torch.Tensor, magnitude: bool = True) -> torch.Tensor:
    """DAGAN's frequency-domain loss (Yang et al. 2018), as its official code computes it.

    With ``magnitude`` (the default) it compares the amplitude spectra,

        L_fMSE = mean_k ( |F x̂|_k − |F x|_k )²,

    where F is the orthonormal 2-D FFT (:func:`gan_lab.data.kspace.fft2c`) and
    the mean runs over batch, channels and all H × W frequencies k. That is
    the loss of DAGAN's official code (github.com/nebulaV/DAGAN, which uses
    the unnormalised FFT: a constant factor H·W). The paper's equation,
    ½‖y_t − ŷ_u‖² with y the k-space data, compares the complex spectra:
    ``magnitude=False``, mean_k |F x̂ − F x|²_k — which, F being unitary, is
    *exactly* the image-domain MSE (Parseval). The complex form therefore
    adds nothing to an image MSE; discarding the phase is what makes the
    frequency term a different signal: it asks for the right amount of
    energy at every spatial frequency (texture and edges of the right
    strength), wherever it sits in the image.

    Args:
        fake, real: images (B, C, H, W).
        magnitude: compare |F x| (True) or F x itself (False).

    Returns:
        A scalar tensor.

    Example:
        >>> x = torch.rand(2, 1, 8, 8)
        >>> torch.allclose(frequency_mse(x + 0.1, x, magnitude=False), torch.tensor(0.01))
        True
    """
    if fake.shape != real.shape:
        raise ValueError(f"fake and real must have the same shape; got {tuple(fake.shape)} and {tuple(real.shape)}.")
    F_fake, F_real = fft2c(fake), fft2c(real)
    diff = F_fake.abs() - F_real.abs() if magnitude else F_fake - F_real
    return diff.abs().square().mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation, averaged per difference.

        TV(x) = mean_{i,j} |x_{i+1,j} − x_{i,j}| + mean_{i,j} |x_{i,j+1} − x_{i,j}|,

    over the batch, channels and the (H−1)·W vertical and H·(W−1) horizontal
    neighbour pairs: the ℓ1 variant of the isotropic TV of Rudin, Osher &
    Fatemi (1992), ∫ ‖∇x‖₂. As a loss term it penalises oscillation between
    neighbouring pixels (noise, checkerboard artefacts of upsampling layers)
    and leaves edges cheaper than a squared penalty would.

    Args:
        x: images (B, C, H, W), H and W at least 2.

    Returns:
        A scalar tensor (0 for a constant image).
    """
    if x.dim() != 4 or min(x.shape[-2:]) < 2:
        raise ValueError(f"Expected images (B, C, H, W) with H, W ≥ 2; got {tuple(x.shape)}.")
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    return dy + dx


def perceptual_loss(phi: nn.Module, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """L_P = 1/(c·h·w) ‖φ(G(y)) − φ(x)‖²_F, averaged over the batch (Q. Yang et al. 2018, WGAN-VGG).

    A perceptual loss in the feature sense (Johnson et al. 2016): a distance between feature maps, not pixels.

    Args:
        phi: a fixed feature extractor φ (e.g. ``gan_lab.train.denoise.conv_features(...)``).
        fake: G's output, still attached to G's graph; real: the clean targets (no gradient needed).
    """
    with torch.no_grad():
        target = phi(real)
    return F.mse_loss(phi(fake), target)
