"""Checks for the SegAN notebook's exercises: each runs your function on small cases and prints ✓ or ✗.

The checks compare with gan_lab's own implementation on random inputs, never
raise, and return True or False, so a notebook cell keeps running either way.

Example:
    >>> def my_l1(a, b):
    ...     return sum((x - y).abs().mean() for x, y in zip(a, b)) / len(a)
    >>> check_multiscale_l1(my_l1)  # doctest: +SKIP
    ✓ multiscale_l1 matches on 3 cases.
"""

from __future__ import annotations

import torch

from .metrics.image import dice_per_image
from .models.segan import SegANCritic
from .train.segan import critic_features, multiscale_l1, soft_dice_loss


def _report(ok: bool, what: str, hint: str) -> bool:
    print(f"✓ {what}" if ok else f"✗ {what}\n  hint: {hint}")
    return ok


def _call(fn, *args):
    """(result, None) or (None, the error text) — a student's exception must not stop the notebook."""
    try:
        return fn(*args), None
    except Exception as err:  # any error in exercise code is reported, not raised
        return None, f"{type(err).__name__}: {err}"


def _close(value, expected, tol: float = 1e-5) -> bool:
    return torch.is_tensor(value) and value.numel() == 1 and abs(value.item() - expected.item()) <= tol * (
        1 + abs(expected.item()))


def _feature_lists(seed: int, batch: int = 2):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(batch, 1, 16, 16), (batch, 4, 8, 8), (batch, 8, 4, 4)]
    a = [torch.randn(s, generator=gen) for s in shapes]
    b = [torch.randn(s, generator=gen) for s in shapes]
    return a, b


def check_multiscale_l1(fn) -> bool:
    """``fn(features_a, features_b)`` must return 1/L Σ_i mean |a_i − b_i| (a scalar tensor)."""
    cases = [_feature_lists(seed) for seed in range(3)]
    for a, b in cases:
        value, err = _call(fn, a, b)
        if err:
            return _report(False, "multiscale_l1 raised " + err, "loop over zip(features_a, features_b).")
        if not _close(value, multiscale_l1(a, b)):
            got = value.item() if torch.is_tensor(value) and value.numel() == 1 else value
            return _report(False, f"multiscale_l1 gave {got}, expected {multiscale_l1(a, b).item():.5f}.",
                           "take the MEAN absolute difference at each scale, then average over the scales "
                           "(not one mean over all concatenated numbers: scales differ in size).")
    return _report(True, f"multiscale_l1 matches on {len(cases)} cases.", "")


def check_soft_dice_loss(fn) -> bool:
    """``fn(prob, y)`` must return 1 − mean_n (2 Σ p·y + 1) / (Σ p + Σ y + 1)."""
    gen = torch.Generator().manual_seed(0)
    prob = torch.rand(3, 1, 8, 8, generator=gen)
    y = (torch.rand(3, 1, 8, 8, generator=gen) > 0.7).float()
    y[2] = 0  # an empty tile: the +1 keeps it finite
    value, err = _call(fn, prob, y)
    if err:
        return _report(False, "soft_dice_loss raised " + err, "sum over dims (1, 2, 3), one Dice per image.")
    if not _close(value, soft_dice_loss(prob, y)):
        return _report(False, "soft_dice_loss differs from 1 − mean_n (2Σp·y + 1)/(Σp + Σy + 1).",
                       "compute one Dice per image (sum over C, H, W), average over the batch, then 1 − that.")
    return _report(True, "soft_dice_loss matches, including an empty tile.", "")


def check_segmentor_loss(fn) -> bool:
    """``fn(C, x, prob, y)`` must return ℓ_mae(f_C(x ∘ prob), f_C(x ∘ y)) + soft Dice, differentiable in prob."""
    torch.manual_seed(0)
    C = SegANCritic(1, width=4, size=16)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    y = (torch.rand(2, 1, 16, 16) > 0.6).float()
    prob = torch.rand(2, 1, 16, 16, requires_grad=True)
    expected = multiscale_l1(*critic_features(C, x, prob, y)) + soft_dice_loss(prob, y)
    value, err = _call(fn, C, x, prob, y)
    if err:
        return _report(False, "segmentor_loss raised " + err, "mask with x * prob and x * y, then call C on each.")
    if not _close(value, expected, tol=1e-4):
        return _report(False, "segmentor_loss differs from ℓ_mae(f_C(x∘S(x)), f_C(x∘y)) + Dice loss.",
                       "pass x * prob and x * y through C TOGETHER (torch.cat, as critic_features does: "
                       "batch norm then shares statistics), and add soft_dice_loss(prob, y).")
    grad = torch.autograd.grad(value, prob, allow_unused=True)[0] if value.requires_grad else None
    if grad is None or not grad.abs().sum() > 0:
        return _report(False, "segmentor_loss has no gradient with respect to prob.",
                       "do not detach prob: S learns through this loss.")
    return _report(True, "segmentor_loss matches and S can learn through it.", "")


def check_best_threshold(fn) -> bool:
    """``fn(probs, masks, thresholds)`` must return the threshold with the highest mean Dice."""
    gen = torch.Generator().manual_seed(1)
    masks = (torch.rand(6, 1, 12, 12, generator=gen) > 0.6).float()
    probs = (0.3 * masks + 0.5 * torch.rand(6, 1, 12, 12, generator=gen)).clamp(0, 1)  # best threshold is low
    thresholds = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    scores = [dice_per_image((probs > t).float(), masks).mean().item() for t in thresholds]
    expected = thresholds[max(range(len(scores)), key=scores.__getitem__)]
    value, err = _call(fn, probs, masks, thresholds)
    if err:
        return _report(False, "best_threshold raised " + err, "loop over thresholds; use dice_per_image.")
    if value is None or abs(float(value) - expected) > 1e-9:
        return _report(False, f"best_threshold returned {value}, expected {expected}.",
                       "binarise with (probs > t).float() for each t and keep the t with the largest mean Dice.")
    return _report(True, f"best_threshold picks {expected} (mean Dice {max(scores):.3f}).", "")
