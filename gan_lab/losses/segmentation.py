"""SegAN's losses (Xue et al. 2018): the multi-scale L1 between a critic's features, and a soft Dice.

Pure functions of tensors, like :mod:`gan_lab.losses`; the critic that makes the
features lives in :mod:`gan_lab.models.segan`, the game in :mod:`gan_lab.train.segan`.
"""

from __future__ import annotations

import torch


def multiscale_l1(features_a: list[torch.Tensor], features_b: list[torch.Tensor],
                  weights: list[float] | tuple[float, ...] | None = None) -> torch.Tensor:
    """ℓ_mae = 1/L Σ_i w_i · mean |f^i(a) − f^i(b)|, a scalar.

    Each scale's mean absolute difference counts once (w_i = 1 by default), so
    the coarse 2×2 maps weigh as much as the full-resolution image. The
    official code instead concatenates all features (weighting scales by
    their size) with extra factors 1, 1, 2, 2, 2, 2, 4; pass ``weights`` to
    emphasise scales.

    Args:
        features_a, features_b: lists of L tensors, the same shapes pairwise.
        weights: L non-negative scale weights, or None for all ones.
    """
    if len(features_a) != len(features_b) or not features_a:
        raise ValueError(f"Need two equally long, non-empty feature lists; got {len(features_a)} and "
                         f"{len(features_b)}.")
    weights = [1.0] * len(features_a) if weights is None else list(weights)
    if len(weights) != len(features_a):
        raise ValueError(f"Got {len(weights)} scale weights for {len(features_a)} scales (C returns the input "
                         "plus one map per layer, i.e. n_layers + 1).")
    terms = [w * (a - b).abs().mean() for w, a, b in zip(weights, features_a, features_b)]
    return torch.stack(terms).sum() / len(terms)


def soft_dice_loss(prob: torch.Tensor, y: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 − mean_n (2 Σ p·y + ε) / (Σ p + Σ y + ε), per image over (1, H, W); ε keeps empty tiles finite."""
    inter = (prob * y).flatten(1).sum(1)
    total = prob.flatten(1).sum(1) + y.flatten(1).sum(1)
    return 1 - ((2 * inter + eps) / (total + eps)).mean()
