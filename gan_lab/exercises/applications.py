"""Checks for notebook 10's exercises (stain transfer, registration, 3-D denoising): ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> check_rician_bias(0.1 * (math.pi / 2) ** 0.5)  # doctest: +SKIP
    ✓ Rician bias: correct.
"""

from __future__ import annotations

import torch

from ..data.volumes import rician_bias
from ..models.registration import rigid_matrix
from .core import Feedback, check_function, check_value


def _lab_reference(lab: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor) -> torch.Tensor:
    flat = lab.flatten(2)
    mean, std = flat.mean(2)[..., None, None], flat.std(2)[..., None, None]
    return (lab - mean) / std * target_std.view(1, 3, 1, 1) + target_mean.view(1, 3, 1, 1)


def check_reinhard(fn) -> Feedback:
    """``fn(lab, target_mean, target_std)`` must give every image (N, 3, H, W) the target's LAB mean and std."""
    gen = torch.Generator().manual_seed(0)
    cases = []
    for n in (1, 3):
        lab = torch.randn(n, 3, 5, 5, generator=gen) * torch.tensor([10.0, 8, 6]).view(1, 3, 1, 1) + 40
        target_mean, target_std = torch.tensor([70.0, 15.0, -20.0]), torch.tensor([9.0, 7.0, 5.0])
        cases.append(((lab, target_mean, target_std), _lab_reference(lab, target_mean, target_std)))
    return check_function("Reinhard transfer", fn, cases, rtol=1e-3, atol=1e-3,
                          hint="per image and channel: mean and std over the pixels (lab.flatten(2).mean(2), "
                               ".std(2)); then (lab − mean) / std · target_std + target_mean, with the (3,) "
                               "targets viewed as (1, 3, 1, 1).")


def check_rigid_matrix(fn) -> Feedback:
    """``fn(angle_deg, t_x, t_y, size)`` must return the 2×3 sampling matrix [R⁻¹ | −R⁻¹ t] (normalised units)."""
    cases = [((angle, tx, ty, size), rigid_matrix(torch.tensor([[angle, tx, ty]]), size)[0])
             for angle, tx, ty, size in ((0.0, 2.0, 0.0, 8), (90.0, 0.0, 0.0, 8), (30.0, 3.0, -1.0, 28))]
    return check_function("rigid sampling matrix", fn, cases, rtol=1e-4, atol=1e-5,
                          hint="R⁻¹ = [[cos a, −sin a], [sin a, cos a]] with a in radians; the shift in normalised "
                               "units is 2·t/size; the last column is −R⁻¹ @ t. Return a (2, 3) tensor.")


def check_rician(fn) -> Feedback:
    """``fn(x, sigma, n1, n2)`` must return the Rician magnitude sqrt((x + σ·n1)² + (σ·n2)²)."""
    gen = torch.Generator().manual_seed(0)
    x, n1, n2 = torch.rand(6, generator=gen), torch.randn(6, generator=gen), torch.randn(6, generator=gen)
    cases = [((x, sigma, n1, n2), torch.sqrt((x + sigma * n1) ** 2 + (sigma * n2) ** 2)) for sigma in (0.05, 0.2)]
    return check_function("Rician noise", fn, cases,
                          hint="noise on the real and the imaginary channel, then the magnitude: "
                               "torch.sqrt((x + sigma * n1) ** 2 + (sigma * n2) ** 2).")


def check_rician_bias(answer) -> Feedback:
    """E[y] for a zero signal (x = 0) under Rician noise of σ = 0.1: a Rayleigh mean, σ·sqrt(π/2)."""
    return check_value("Rician bias", answer, rician_bias(0.1), rtol=1e-3,
                       hint="with x = 0, y = sqrt(n1² + n2²) is Rayleigh-distributed; its mean is σ·sqrt(π/2) "
                            "(≈ 1.25·σ). Compute it, e.g. 0.1 * math.sqrt(math.pi / 2).")

