"""PSNR and SSIM of 3-D volumes (N, C, D, H, W) in [-1, 1] (data range 2), per volume and averaged.

torchmetrics' SSIM takes 5-D input and then slides a 3-D Gaussian window
(11³, σ = 1.5) through the volume, the direct extension of Wang et al. (2004).
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

DATA_RANGE = 2.0


def _check(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.dim() != 5 or pred.shape != target.shape:
        raise ValueError(f"Expected two volume tensors of the same shape (N, C, D, H, W); got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}.")
    return pred.detach().float().cpu(), target.detach().float().cpu()


def volume_psnr_per_volume(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR = 10 log10(range² / MSE) of each volume, in dB; (N,)."""
    pred, target = _check(pred, target)
    return peak_signal_noise_ratio(pred, target, data_range=DATA_RANGE, reduction="none", dim=(1, 2, 3, 4))


def volume_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-volume PSNR in dB."""
    return volume_psnr_per_volume(pred, target).mean().item()


def volume_ssim_per_volume(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """3-D SSIM of each volume (Gaussian window 11³, σ = 1.5); (N,)."""
    pred, target = _check(pred, target)
    return structural_similarity_index_measure(pred, target, data_range=DATA_RANGE, reduction="none")


def volume_ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-volume 3-D SSIM."""
    return volume_ssim_per_volume(pred, target).mean().item()
