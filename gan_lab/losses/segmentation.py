"""SegAN's losses (Xue et al. 2018): the multi-scale L1 between a critic's features, and a soft Dice.

Pure functions of tensors, like :mod:`gan_lab.losses`; the critic that makes the
features lives in :mod:`gan_lab.models.segan`, the game in :mod:`gan_lab.train.segan`.
"""

from __future__ import annotations

import torch


def multiscale_l1(features_a: list[torch.Tensor], features_b: list[torch.Tensor],
                  weights: list[float] | tuple[float, ...] | None = None) -> torch.Tensor:
    """ℓ_mae = 1/K Σ_{i=0}^{K−1} w_i · mean |f^i(a) − f^i(b)| over the K feature maps given, a scalar.

    With :class:`~gan_lab.models.segan.SegANCritic` the list is the critic's input (the masked
    image, i = 0) followed by its L layers' outputs, so K = L + 1. Three versions of SegAN's loss
    exist, and they differ:

    * the paper (Xue et al. 2018) averages ‖f_C^i(a) − f_C^i(b)‖₁ over the critic's L layers,
      i = 1 … L: features of the layers only, every layer weighted alike;
    * the official code (github.com/YuanXue1993/SegAN, ``NetC.forward``) also takes the input
      itself, multiplies the input and its six layers' outputs by 1, 1, 2, 2, 2, 2, 4, flattens and
      concatenates them and takes ONE mean absolute difference over all of it; each scale then also
      counts in proportion to its number of elements, so the large early maps dominate;
    * gan_lab (this function, our own choice): the input term as in the official code, but each
      scale's *mean* absolute difference counted once (w_i = 1 by default), so the coarse 2×2 maps
      weigh as much as the full-resolution image. Pass ``weights`` to emphasise scales; ``(0, 1, 1, …)``
      drops the input term, as the paper's loss has none (up to the constant factor L / K).

    Args:
        features_a, features_b: lists of K tensors, the same shapes pairwise.
        weights: K non-negative scale weights, or None for all ones.
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
    """1 − mean_n (2 Σ p·y + ε) / (Σ p + Σ y + ε), per image over (1, H, W); ε keeps empty tiles finite.

    The official SegAN code's Dice term is 1 − mean_n 2 Σ p·y / (Σ p² + Σ y²) (squared sums, as in
    V-Net, and no ε); the plain sums and the ε here are gan_lab's choice.
    """
    inter = (prob * y).flatten(1).sum(1)
    total = prob.flatten(1).sum(1) + y.flatten(1).sum(1)
    return 1 - ((2 * inter + eps) / (total + eps)).mean()
