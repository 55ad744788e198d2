"""Task metrics for image-to-image and segmentation models (PSNR, SSIM, MAE, sharpness, Dice, IoU).

Images are tensors (N, C, H, W) in [-1, 1] (gan_lab's convention), so the data
range is 2. Masks are tensors (N, 1, H, W) (or (N, H, W)) with values in {0, 1}.
Each metric has a per-image variant returning a tensor (N,) and an aggregate
returning the mean over images as a float — the number most papers report (for
PSNR that is the mean of per-image PSNRs, not the PSNR of the pooled error).

PSNR, SSIM, MAE, Dice and IoU come from torchmetrics; sharpness (the variance
of the Laplacian, Pech-Pacheco et al. 2000) is one convolution.

Example:
    >>> x = torch.rand(4, 1, 28, 28) * 2 - 1
    >>> psnr(x, x.clamp(-0.9, 0.9)) > 20
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from torchmetrics.functional.regression import mean_absolute_error
from torchmetrics.functional.segmentation import dice_score, mean_iou

DATA_RANGE = 2.0  # images live in [-1, 1]
_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.dim() != 4 or pred.shape != target.shape:
        raise ValueError(f"Expected two image tensors of the same shape (N, C, H, W); got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}. Add a batch axis with x.unsqueeze(0) for one image.")
    return pred.detach().float(), target.detach().float()


def psnr_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR = 10 log10(range² / MSE) per image, in dB; (N,) (inf where pred == target).

    Args:
        pred, target: (N, C, H, W) in [-1, 1] (range = 2).
    """
    pred, target = _check_pair(pred, target)
    return peak_signal_noise_ratio(pred, target, data_range=DATA_RANGE, reduction="none", dim=(1, 2, 3)).cpu()


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-image PSNR in dB (higher is better)."""
    return psnr_per_image(pred, target).mean().item()


def ssim_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) per image; (N,), 1 for identical images.

    SSIM(x, y) = (2 μx μy + c1)(2 σxy + c2) / ((μx² + μy² + c1)(σx² + σy² + c2)),
    averaged over 11×11 Gaussian windows (σ = 1.5), c_i = (k_i · range)².
    """
    pred, target = _check_pair(pred, target)
    return structural_similarity_index_measure(pred, target, data_range=DATA_RANGE, reduction="none").cpu()


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-image SSIM (higher is better, at most 1)."""
    return ssim_per_image(pred, target).mean().item()


def mae_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error |pred − target| per image, on the [-1, 1] scale; (N,)."""
    pred, target = _check_pair(pred, target)
    return (pred - target).abs().flatten(1).mean(1).cpu()


def mae(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean absolute error over all pixels of all images (lower is better)."""
    pred, target = _check_pair(pred, target)
    return mean_absolute_error(pred.flatten(), target.flatten()).item()


def sharpness_per_image(x: torch.Tensor) -> torch.Tensor:
    """Variance of the Laplacian ∇²x per image (Pech-Pacheco et al. 2000); (N,).

    Blur removes high frequencies, so the Laplacian flattens and its variance
    falls: a blurry reconstruction scores lower than the real image. Only
    "valid" pixels are used so the image border adds no fake edges.

    Args:
        x: (N, C, H, W) in [-1, 1], H and W at least 3.
    """
    if x.dim() != 4 or min(x.shape[-2:]) < 3:
        raise ValueError(f"Expected images (N, C, H, W) with H, W ≥ 3; got {tuple(x.shape)}.")
    x = x.detach().float()
    kernel = _LAPLACIAN.to(x.device).expand(x.shape[1], 1, 3, 3)
    laplacian = F.conv2d(x, kernel, groups=x.shape[1])  # each channel on its own
    return laplacian.flatten(1).var(1).cpu()


def sharpness(x: torch.Tensor) -> float:
    """Mean variance of the Laplacian (higher is sharper)."""
    return sharpness_per_image(x).mean().item()


def _check_masks(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.dim() == 3:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 4 or pred.shape != target.shape or pred.shape[1] != 1:
        raise ValueError(f"Expected two binary masks of the same shape (N, 1, H, W) or (N, H, W); got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}.")
    for name, m in (("pred_mask", pred), ("true_mask", target)):
        if not torch.all((m == 0) | (m == 1)):
            raise ValueError(f"{name} must hold only 0 and 1; threshold it first, e.g. (logits > 0) or "
                             "(prob > 0.5), or (x > 0) for a mask drawn in [-1, 1].")
    return pred.detach().long(), target.detach().long()


def _empty_is_perfect(score: torch.Tensor, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Two empty masks agree perfectly: score 1 (torchmetrics leaves NaN or −1 there)."""
    both_empty = (pred.flatten(1).sum(1) == 0) & (target.flatten(1).sum(1) == 0)
    return torch.where(both_empty, torch.ones_like(score), score)


def dice_per_image(pred_mask: torch.Tensor, true_mask: torch.Tensor) -> torch.Tensor:
    """Dice = 2|P ∩ T| / (|P| + |T|) per image; (N,), 1 when both masks are empty."""
    pred, target = _check_masks(pred_mask, true_mask)
    score = dice_score(pred, target, num_classes=1, average="none", input_format="one-hot")[:, 0]
    return _empty_is_perfect(score.float(), pred, target).cpu()


def dice(pred_mask: torch.Tensor, true_mask: torch.Tensor) -> float:
    """Mean per-image Dice coefficient (higher is better, at most 1)."""
    return dice_per_image(pred_mask, true_mask).mean().item()


def iou_per_image(pred_mask: torch.Tensor, true_mask: torch.Tensor) -> torch.Tensor:
    """Intersection over union |P ∩ T| / |P ∪ T| (Jaccard) per image; (N,), 1 when both are empty."""
    pred, target = _check_masks(pred_mask, true_mask)
    score = mean_iou(pred, target, num_classes=1, per_class=True, input_format="one-hot")[:, 0]
    return _empty_is_perfect(score.float(), pred, target).cpu()


def iou(pred_mask: torch.Tensor, true_mask: torch.Tensor) -> float:
    """Mean per-image IoU (higher is better, at most 1)."""
    return iou_per_image(pred_mask, true_mask).mean().item()
