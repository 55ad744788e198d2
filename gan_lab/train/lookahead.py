"""Lookahead–minmax (Chavdarova et al. 2021): every k steps, both players step back towards where they were.

Keep a "slow" copy ω_P of the joint parameters ω = (θ_G, φ_D); every k steps of the ordinary
optimiser, set ω_P ← ω_P + α (ω − ω_P) and restart the fast weights from it, ω ← ω_P (the update of the
official code, ``lagan/optim/lookahead.py``, applied to G and D together). The paper's abstract: the
backtracking step handles the rotational component of the game's vector field and the variance of the
stochastic gradient, for negligible memory and computational cost. The official code's README and example
script use k = 5 and α = 0.5 with Adam. The slow copy starts as the initial weights (the official code
takes it at the first step back, so that its first step back changes nothing). Only parameters move this
way, as in the official code (it updates each optimiser's parameters); the batch-norm statistics are the
fast networks', and each step back copies them into the slow networks too, so that a slow network is a
consistent network. The slow copies are networks of their own, so checkpoints save them and a resumed run
continues exactly.
"""

from __future__ import annotations

import torch
from torch import nn


class LookaheadMinmax:
    """Every ``k``-th call of :meth:`step`: slow ← slow + α (fast − slow), then fast ← slow, for each pair
    (and the slow network takes the fast one's buffers, e.g. batch-norm statistics).

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
            for f, s in zip(fast.buffers(), slow.buffers(), strict=True):
                s.copy_(f)
