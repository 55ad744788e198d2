"""Self-attention over a feature map (SAGAN: Zhang et al. 2019, *Self-Attention Generative Adversarial Networks*).

A convolution sees a few pixels around each position; self-attention lets every position draw on all the
others, so that G can keep a long edge straight and D can check that distant parts of an image agree.
"""

from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    """y = γ o + x, o_j = v(Σ_i β_{j,i} h(x_i)), β_{j,i} = softmax_i(f(x_i)ᵀ g(x_j)), as in Zhang et al. 2019.

    f, g and h are 1×1 convolutions to C / 8 channels and v one back to C, the paper's C̄ = C / 8. γ starts
    at 0, so the layer begins as the identity and the network first relies on its convolutions, learning
    how much weight to give the non-local evidence (the paper's reason). The official code
    (``non_local.py``, ``sn_non_local_block_sim``) differs: its values have C / 2 channels and its keys and values
    are max-pooled 2×2 (a quarter of the positions). gan_lab keeps the paper's widths and every position of its
    small maps. Its 1×1 convolutions have biases, gan_lab's own addition: the paper's equations and the official
    code have none (f's bias cancels in the softmax; g's adds a term that depends on i alone, h's and v's a
    constant to o).

    Args:
        channels: C, the feature map's channels (at least 8).
    """

    def __init__(self, channels: int):
        super().__init__()
        if isinstance(channels, bool) or not (isinstance(channels, int) and channels >= 8):
            raise ValueError(f"SelfAttention needs a feature map of at least 8 channels (its keys have C / 8), "
                             f"not {channels!r}.")
        reduced = channels // 8
        self.f = nn.Conv2d(channels, reduced, 1)  # keys
        self.g = nn.Conv2d(channels, reduced, 1)  # queries
        self.h = nn.Conv2d(channels, reduced, 1)  # values
        self.v = nn.Conv2d(reduced, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(()))

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """β, (B, N, N) for N = H · W positions: row j is where position j looks, and sums to 1."""
        keys = self.f(x).flatten(2)  # (B, C̄, N)
        queries = self.g(x).flatten(2)
        return torch.softmax(queries.transpose(1, 2) @ keys, dim=-1)  # s_ij = f(x_i)ᵀ g(x_j), softmax over i

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        values = self.h(x).flatten(2)  # (B, C̄, N)
        o = self.v((values @ self.attention(x).transpose(1, 2)).view(B, -1, H, W))
        return self.gamma * o + x
