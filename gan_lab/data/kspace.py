"""Simulated MRI acquisition: the centred Fourier transform, Cartesian undersampling masks, zero filling.

An MR scanner measures the image's Fourier transform (k-space), one line
(a phase-encoding step) at a time. Measuring only some lines shortens the
scan; the undersampling model is

    y = M F x,

with x the image (H, W), F the 2-D discrete Fourier transform and M a
binary mask that keeps the measured lines. The simplest reconstruction
fills the missing lines with zeros and transforms back,

    x_zf = Re F⁻¹ y,

which keeps the low frequencies (the centre of k-space, always measured:
contrast and coarse shape) and aliases the rest: ghosts folded along the
phase-encoding direction. DAGAN (Yang et al. 2018) learns to remove them.

Images are tensors (N, C, H, W) in [-1, 1]; masks are (H, W) float tensors
in {0, 1} that broadcast over N and C. Because the centre (k = 0, the image's
mean) is always kept, a constant offset passes through unchanged: the
[-1, 1] and [0, 1] scalings give the same aliasing.
"""

from __future__ import annotations

import torch


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred, orthonormal 2-D FFT over the last two axes: k-space with k = 0 in the middle.

    ``ifftshift`` before and ``fftshift`` after put the image origin and k = 0
    at the centre pixel (the MRI convention); ``norm="ortho"`` makes F unitary,
    so ‖F x‖ = ‖x‖ (Parseval).

    Args:
        x: real or complex tensor (..., H, W).

    Returns:
        Complex tensor (..., H, W).
    """
    x = torch.fft.ifftshift(x, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"), dim=(-2, -1))


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`fft2c`: centred k-space (..., H, W) → complex image (..., H, W)."""
    k = torch.fft.ifftshift(k, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.ifft2(k, norm="ortho"), dim=(-2, -1))


def cartesian_mask(size: int, sampling: float = 0.3, centre_lines: int | None = None, seed: int = 0) -> torch.Tensor:
    """A Cartesian undersampling mask: whole k-space rows, the central ones plus random others.

    Each row is one phase-encoding line (all k_x of one k_y), so the mask is
    constant along the columns. ``round(sampling · size)`` rows are kept: the
    ``centre_lines`` rows around k_y = 0, and the rest drawn uniformly at
    random from the other rows.

    Args:
        size: image side H (the mask is square, H × H).
        sampling: fraction of rows measured, in (0, 1] (1 keeps everything).
        centre_lines: fully sampled rows in the centre (default: a third of the
            measured ones, at least 1).
        seed: the random rows; the same seed gives the same mask.

    Returns:
        Float tensor (size, size) in {0, 1}.

    Example:
        >>> mask = cartesian_mask(28, sampling=0.3)
        >>> int(mask[:, 0].sum()), mask.shape
        (8, torch.Size([28, 28]))
    """
    if not 0 < sampling <= 1:
        raise ValueError(f"sampling must be a fraction in (0, 1], e.g. 0.3 for 30 % of the lines; got {sampling}.")
    n_lines = max(1, round(sampling * size))
    centre_lines = max(1, n_lines // 3) if centre_lines is None else centre_lines
    if not 1 <= centre_lines <= n_lines:
        raise ValueError(f"centre_lines must be between 1 and the {n_lines} measured lines "
                         f"(sampling {sampling} of {size}); got {centre_lines}.")
    start = size // 2 - centre_lines // 2  # row size // 2 is k_y = 0 after fftshift
    rows = torch.zeros(size, dtype=torch.bool)
    rows[start:start + centre_lines] = True
    others = (~rows).nonzero().flatten()
    pick = torch.randperm(len(others), generator=torch.Generator().manual_seed(seed))[:n_lines - centre_lines]
    rows[others[pick]] = True
    return rows.float()[:, None].expand(size, size).clone()


def measure(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The measured k-space y = M F x; complex (N, C, H, W), zero where M = 0."""
    _check(x, mask)
    return mask.to(x.device) * fft2c(x)


def zero_filled(y: torch.Tensor) -> torch.Tensor:
    """The zero-filled reconstruction x_zf = Re F⁻¹ y of measured k-space y (N, C, H, W).

    A real image has a Hermitian spectrum, F x(−k) = conj(F x(k)). Taking the real
    part enforces that: the spectrum of x_zf is (y(k) + conj(y(−k))) / 2, so a line
    whose mirror line was measured too is kept exactly, and one measured alone
    enters at half strength (its mirror supplies the other half).
    """
    return ifft2c(y).real


def undersample(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Simulate an undersampled scan of images x (N, C, H, W): Re F⁻¹ M F x, the network's input.

    Example:
        >>> x = torch.rand(2, 1, 28, 28) * 2 - 1
        >>> torch.allclose(undersample(x, torch.ones(28, 28)), x, atol=1e-5)   # everything measured
        True
    """
    # in float64, then back: the float32 FFT's last bit depends on the CPU's instruction set, and a network
    # cached on one machine must find the same training inputs (the same data fingerprint) on another
    return zero_filled(measure(x.double(), mask.double())).to(x.dtype)


def _check(x: torch.Tensor, mask: torch.Tensor) -> None:
    if x.dim() != 4 or mask.shape != x.shape[-2:]:
        raise ValueError(f"Expected images (N, C, H, W) and a mask (H, W) of the same H, W; got {tuple(x.shape)} "
                         f"and {tuple(mask.shape)}. Make the mask with cartesian_mask(H).")
