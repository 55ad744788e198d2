"""Where a segmentation is right, not only how much: boundary F-score and Dice per object size.

Image-level Dice is dominated by large objects and interiors. Two finer views:

* the boundary F-score (Csurka et al. 2013; Perazzi et al. 2016): precision and
  recall of the predicted contour against the true one, within ``tolerance`` px;
* object Dice, after the object-level Dice of Sirinukunwattana et al. (2017): Dice
  of every true object with the predicted objects that touch it, grouped by object
  area — small objects that a pixel loss can afford to miss show up here. (The
  GlaS definition pairs each object with the one object that overlaps it most and
  adds the same sum over predicted objects, both area-weighted; this one-sided,
  union-of-touching form is gan_lab's.)

Masks are tensors (N, 1, H, W) or (N, H, W) with values in {0, 1}, as in
:mod:`gan_lab.metrics.image`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def _binary(mask: torch.Tensor, name: str) -> torch.Tensor:
    mask = mask.detach().float().cpu()
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N, 1, H, W) or (N, H, W); got {tuple(mask.shape)}.")
    if not torch.all((mask == 0) | (mask == 1)):
        raise ValueError(f"{name} must hold only 0 and 1; threshold it first, e.g. (prob > 0.5).float().")
    return mask


def boundary(mask: torch.Tensor) -> torch.Tensor:
    """The inner contour of a binary mask (N, 1, H, W): mask pixels with background among their 8 neighbours.

    boundary(m) = m − erode(m), where erode is a 3×3 minimum (a max-pool of −m).
    Pixels outside the image count as background, so objects cut by the tile edge are closed.
    """
    eroded = -F.max_pool2d(-F.pad(mask, (1, 1, 1, 1)), 3, stride=1)  # (N, 1, H, W)
    return mask - eroded


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    return F.max_pool2d(mask, 2 * radius + 1, stride=1, padding=radius) if radius > 0 else mask


def boundary_f_score_per_image(pred_mask: torch.Tensor, true_mask: torch.Tensor, tolerance: int = 1) -> torch.Tensor:
    """Boundary F-score per image; (N,), 1 when both masks are empty, 0 when only one is.

    P = |B_pred ∩ dilate(B_true, t)| / |B_pred|,  R = |B_true ∩ dilate(B_pred, t)| / |B_true|,
    F = 2PR / (P + R), with B the contours of :func:`boundary` and t = ``tolerance`` px.
    """
    pred, target = _binary(pred_mask, "pred_mask"), _binary(true_mask, "true_mask")
    if pred.shape != target.shape:
        raise ValueError(f"Masks differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}.")
    b_pred, b_true = boundary(pred), boundary(target)
    n_pred, n_true = b_pred.flatten(1).sum(1), b_true.flatten(1).sum(1)
    precision = (b_pred * _dilate(b_true, tolerance)).flatten(1).sum(1) / n_pred.clamp(min=1)
    recall = (b_true * _dilate(b_pred, tolerance)).flatten(1).sum(1) / n_true.clamp(min=1)
    f = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return torch.where((n_pred == 0) & (n_true == 0), torch.ones_like(f), f)


def boundary_f_score(pred_mask: torch.Tensor, true_mask: torch.Tensor, tolerance: int = 1) -> float:
    """Mean per-image boundary F-score (higher is better, at most 1)."""
    return boundary_f_score_per_image(pred_mask, true_mask, tolerance).mean().item()


def object_dice(pred_mask: torch.Tensor, true_mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Dice of every true object (8-connected component) with the predicted objects that overlap it.

    For true object G_k and P_k = the union of predicted components touching G_k:
    Dice_k = 2|P_k ∩ G_k| / (|P_k| + |G_k|); a missed object scores 0.

    Returns:
        ``(areas, dices)``: two arrays of length (number of true objects in all images).
    """
    pred, target = _binary(pred_mask, "pred_mask"), _binary(true_mask, "true_mask")
    if pred.shape != target.shape:
        raise ValueError(f"Masks differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}.")
    eight = np.ones((3, 3), dtype=int)
    areas, dices = [], []
    for p, t in zip(pred[:, 0].numpy().astype(bool), target[:, 0].numpy().astype(bool)):
        true_labels, n_true = ndimage.label(t, structure=eight)
        pred_labels, _ = ndimage.label(p, structure=eight)
        for k in range(1, n_true + 1):
            g = true_labels == k
            touching = np.unique(pred_labels[g])
            p_k = np.isin(pred_labels, touching[touching > 0])
            areas.append(int(g.sum()))
            dices.append(2.0 * (p_k & g).sum() / (p_k.sum() + g.sum()))
    return np.asarray(areas, dtype=np.int64), np.asarray(dices, dtype=np.float64)


def dice_by_object_size(pred_mask: torch.Tensor, true_mask: torch.Tensor,
                        edges: tuple[float, ...] = (0, 40, 120, math.inf)) -> dict[str, tuple[float, int]]:
    """Mean object Dice in bins of true object area (px).

    Args:
        edges: bin edges; bin i holds objects with edges[i] ≤ area < edges[i+1].

    Returns:
        ``{"<40 px": (mean Dice, count), "40–120 px": …, "≥120 px": …}`` (NaN for an empty bin).
    """
    areas, dices = object_dice(pred_mask, true_mask)
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        name = f"<{hi:g} px" if lo == 0 else (f"≥{lo:g} px" if math.isinf(hi) else f"{lo:g}–{hi:g} px")
        inside = (areas >= lo) & (areas < hi)
        out[name] = (float(dices[inside].mean()) if inside.any() else math.nan, int(inside.sum()))
    return out
