"""CycleGAN's losses (Zhu et al. 2017): cycle consistency and identity, both L1.

Pure functions of image tensors (B, C, H, W), like :mod:`gan_lab.losses`.
"""

from __future__ import annotations

import torch


def cycle_loss(real_X: torch.Tensor, rec_X: torch.Tensor, real_Y: torch.Tensor, rec_Y: torch.Tensor) -> torch.Tensor:
    """L_cyc = E_x‖F(G(x)) − x‖₁ + E_y‖G(F(y)) − y‖₁, each a mean over pixels (as ``nn.L1Loss``).

    Args:
        real_X, rec_X: x and F(G(x)), (B, C_X, H, W).
        real_Y, rec_Y: y and G(F(y)), (B, C_Y, H, W).
    """
    return (rec_X - real_X).abs().mean() + (rec_Y - real_Y).abs().mean()


def identity_loss(real_X: torch.Tensor, same_X: torch.Tensor, real_Y: torch.Tensor,
                  same_Y: torch.Tensor) -> torch.Tensor:
    """L_id = E_y‖G(y) − y‖₁ + E_x‖F(x) − x‖₁: a generator fed its own target domain should change nothing.

    Args:
        real_X, same_X: x and F(x); real_Y, same_Y: y and G(y) (same shapes pairwise).
    """
    return (same_X - real_X).abs().mean() + (same_Y - real_Y).abs().mean()
