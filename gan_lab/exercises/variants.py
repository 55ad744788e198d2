"""Checks for the GAN-variants notebook's exercises (09): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> import math, torch.nn.functional as F
    >>> def my_bound(c_logits, c):
    ...     return math.log(c_logits.shape[1]) - F.cross_entropy(c_logits, c)
    >>> check_mi_lower_bound(my_bound)  # doctest: +SKIP
    ✓ InfoGAN lower bound: correct.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses.variants import categorical_mi_lower_bound, sgan_unsupervised_loss
from .core import Feedback, check_function


def _logits_case(seed: int, batch: int, columns: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(batch, columns, generator=gen), torch.randint(0, columns, (batch,), generator=gen)


def check_mi_lower_bound(fn) -> Feedback:
    """``fn(c_logits, c)`` must return log K − E[−log Q(c|x)] (c_logits (B, K), c (B,) long), in nats."""
    cases = []
    for seed, K in ((0, 2), (1, 3), (2, 10)):
        c_logits, c = _logits_case(seed, 6, K)
        cases.append(((c_logits, c), categorical_mi_lower_bound(c_logits, c)))
    confident = torch.tensor([[20.0, -20.0], [-20.0, 20.0]])  # Q reads both codes perfectly: the bound is log 2
    cases.append(((confident, torch.tensor([0, 1])), categorical_mi_lower_bound(confident, torch.tensor([0, 1]))))
    return check_function("InfoGAN lower bound", fn, cases, rtol=1e-4, atol=1e-5,
                          hint="H(c) = log K for a uniform code with K = c_logits.shape[1] values; "
                               "E[−log Q(c|x)] is F.cross_entropy(c_logits, c). The bound is their difference.")


def check_sgan_unsupervised_loss(fn) -> Feedback:
    """``fn(real_logits, fake_logits)`` (both (B, K+1), last column "fake") must return L_unsupervised."""
    cases = []
    for seed, K in ((0, 2), (1, 3)):
        real_logits, _ = _logits_case(seed, 5, K + 1)
        fake_logits, _ = _logits_case(seed + 10, 4, K + 1)
        cases.append(((real_logits, fake_logits), sgan_unsupervised_loss(real_logits, fake_logits)))
    return check_function("SGAN unsupervised loss", fn, cases, rtol=1e-4, atol=1e-5,
                          hint="p = softmax(logits, dim=1); the fake class is the last column. Real images: "
                               "−mean log(1 − p[:, -1]); generated: −mean log p[:, -1]. Add them. (For large "
                               "logits use torch.logsumexp instead of log(softmax).)")


def _fade_case(seed: int, alpha: float):
    gen = torch.Generator().manual_seed(seed)
    low, high = torch.randn(2, 1, 4, 4, generator=gen), torch.randn(2, 1, 8, 8, generator=gen)
    return (low, high, alpha), alpha * high + (1 - alpha) * F.interpolate(low, scale_factor=2, mode="nearest")


def check_fade_in(fn) -> Feedback:
    """``fn(low, high, alpha)``: α · high + (1 − α) · up(low), low (B, C, r, r), high (B, C, 2r, 2r), nearest ×2."""
    cases = [_fade_case(seed, alpha) for seed, alpha in ((0, 0.0), (1, 0.3), (2, 1.0))]
    return check_function("progressive fade-in", fn, cases,
                          hint="upsample low by a factor 2 with F.interpolate(low, scale_factor=2, mode='nearest') "
                               "(each pixel becomes a 2×2 block), then blend: alpha · high + (1 − alpha) · that.")
