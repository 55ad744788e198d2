"""Lesion contrast: how visible a masked structure is, for measuring hidden or invented lesions.

Cohen et al. (MICCAI 2018) showed that translation trained with distribution
matching losses can remove or add lesions. With phantoms the true lesion mask
is known, so visibility can be measured directly: the mean intensity inside
the mask minus the mean in a thin ring of tissue around it. A translation that
hides a lesion drives this contrast towards 0; the true image gives the target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lesion_contrast_per_image(images: torch.Tensor, masks: torch.Tensor, ring: int = 2) -> torch.Tensor:
    """mean(image inside mask) − mean(image in a ``ring``-pixel band around it), per image; (N,).

    Args:
        images: (N, 1, H, W) in [-1, 1] (multi-channel images are averaged over channels).
        masks: (N, 1, H, W) in {0, 1}; images with an empty mask get NaN.
        ring: width of the surrounding band in pixels.

    Example:
        >>> x = torch.zeros(1, 1, 9, 9); x[..., 3:6, 3:6] = 1
        >>> lesion_contrast_per_image(x, (x > 0).float()).item()
        1.0
    """
    if images.dim() != 4 or masks.dim() != 4 or images.shape[0] != masks.shape[0] \
            or images.shape[-2:] != masks.shape[-2:] or masks.shape[1] != 1:
        raise ValueError(f"Expected images (N, C, H, W) and masks (N, 1, H, W) of the same N, H, W; got "
                         f"{tuple(images.shape)} and {tuple(masks.shape)}.")
    x = images.detach().float().mean(1, keepdim=True).cpu()
    inside = masks.detach().float().cpu()
    grown = F.max_pool2d(inside, 2 * ring + 1, stride=1, padding=ring)  # dilation by ``ring`` pixels
    band = grown - inside
    mean_in = (x * inside).flatten(1).sum(1) / inside.flatten(1).sum(1)  # NaN for an empty mask
    mean_band = (x * band).flatten(1).sum(1) / band.flatten(1).sum(1).clamp_min(1)
    return mean_in - mean_band
