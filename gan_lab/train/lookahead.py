"""Lookahead–minmax (Chavdarova et al. 2021): every k steps, both players step back towards where they were.

Keep a "slow" copy ω_P of the joint parameters ω = (θ_G, φ_D); every k steps of the ordinary
optimiser, set ω_P ← ω_P + α (ω − ω_P) and restart the fast weights from it, ω ← ω_P (the update of the
official code, ``lagan/optim/lookahead.py``, applied to G and D together). The paper's abstract: the
backtracking step handles the rotational component of the game's vector field and the variance of the
stochastic gradient, for negligible memory and computational cost. The official code's README and example
script use k = 5 and α = 0.5 with Adam. Only parameters move this way; batch-norm statistics stay with the
fast networks, as in the official code (it updates each optimiser's parameters). The slow copies are
networks of their own, so checkpoints save them and a resumed run continues exactly.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def slow_copy(net: nn.Module) -> nn.Module:
    """ω_P for ``net``: a copy no optimiser touches, in eval mode (only its parameters are read)."""
    return copy.deepcopy(net).eval().requires_grad_(False)


class LookaheadMinmax:
    """Every ``k``-th call of :meth:`step`: slow ← slow + α (fast − slow), then fast ← slow, for each pair.

    Args:
        pairs: ``[(fast, slow), ...]``, e.g. ``[(G, G_slow), (D, D_slow)]`` (both players: minmax, not one).
        k: fast steps per step back (≥ 1).
        alpha: α in (0, 1]; 1 never steps back.
    """

    def __init__(self, pairs: list[tuple[nn.Module, nn.Module]], k: int, alpha: float):
        self.pairs, self.k, self.alpha = pairs, k, alpha

    @torch.no_grad()
    def step(self, step: int) -> None:
        """Call after every training step with its number (1, 2, …); acts when ``step`` is a multiple of k."""
        if step % self.k:
            return
        for fast, slow in self.pairs:
            for f, s in zip(fast.parameters(), slow.parameters(), strict=True):
                s.lerp_(f, self.alpha)
                f.copy_(s)
