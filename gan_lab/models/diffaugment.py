"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): augment real AND fake images before D.

With a few hundred training images D memorises them, its verdicts stop generalising, and the
generator's gradient becomes noise. Augmenting only the real images would teach G to produce
augmented images; DiffAugment applies the *same random family* of transforms to every image D sees,
real or generated, in D's update and in G's, and every transform is differentiable, so G's gradient
flows back through it. ``AugmentedDiscriminator`` wraps D with it, so the step functions need no change.

The policy names and strengths follow the official code (github.com/mit-han-lab/data-efficient-gans,
``DiffAugment_pytorch.py``): "color" = brightness + saturation (RGB only here: it is a no-op on grey
images) + contrast, "translation" = an integer shift by up to 1/8 of the side with zero padding,
"cutout" = one square of half the side set to zero; each image draws its own parameters. Images are
in [-1, 1], so zero padding and cutout are mid-grey, as in the official code's [-1, 1] images.

Adaptive augmentation (ADA, Karras et al. 2020) applies each transform to each image only with a
probability p and steers p during training (:class:`AdaptiveProbability`): up when D grows too sure
of the real images, down when it does not. Karras et al. (Section 2.2) show that a transform skipped
with probability 1 − p is invertible in distribution, so G is not pushed towards augmented images
("leaking"); for their transforms leaks were unlikely in practice while p stayed below about 0.8 (not
measured for DiffAugment's translation and cutout).

Example:
    >>> x = torch.rand(8, 1, 28, 28) * 2 - 1
    >>> diff_augment(x, "translation,cutout").shape
    torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POLICY = "color,translation,cutout"  # the paper's policy for its low-data experiments


def brightness(x: torch.Tensor) -> torch.Tensor:
    """x + b with b ~ U(−½, ½) per image."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's deviation from its channel mean by s ~ U(0, 2) per image (identity on grey images)."""
    if x.shape[1] == 1:
        return x
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (2 * torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    """Scale each image's deviation from its mean by c ~ U(½, 3/2)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by its own integer (dy, dx), |dy| ≤ ratio·H, |dx| ≤ ratio·W; what moves in is zero."""
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device)
    # index into a 1-pixel zero border: every source pixel outside the image lands on the border
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (n, h + 2, w + 2, c)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Set one square of side ratio·H (its centre anywhere in the image, clipped at the border) to zero."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    centre_y = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device)
    centre_x = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device)
    rows = (torch.arange(size_y, device=x.device)[None, :, None] + centre_y - size_y // 2).clamp(0, h - 1)
    cols = (torch.arange(size_x, device=x.device)[None, None, :] + centre_x - size_x // 2).clamp(0, w - 1)
    keep = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    keep[torch.arange(n, device=x.device)[:, None, None], rows, cols] = 0
    return x * keep[:, None]


TRANSFORMS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


def _names(policy: str) -> list[str]:
    return [name.strip() for name in policy.split(",") if name.strip()]


def check_policy(policy: str) -> str:
    """``policy`` if every comma-separated name is a known transform ("" = none), else a ValueError naming them."""
    unknown = [name for name in _names(policy) if name not in TRANSFORMS]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown}: a policy is a comma-separated list of "
                         f"{sorted(TRANSFORMS)}, e.g. {POLICY!r}, or '' for none.")
    return policy


def diff_augment(x: torch.Tensor, policy: str = POLICY, p: float = 1.0) -> torch.Tensor:
    """Apply the transforms of ``policy`` in order, each with fresh random parameters per image.

    ``p``: each transform is applied to each image with this probability (ADA's p); 1 (DiffAugment) always.
    """
    for name in _names(check_policy(policy)):
        for transform in TRANSFORMS[name]:
            if p >= 1:
                x = transform(x)
            elif p > 0:
                chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p
                x = torch.where(chosen, transform(x), x)
    return x


class AdaptiveProbability:
    """ADA's controller of p (Karras et al. 2020, Section 3; the update rule of their official code).

    The overfitting heuristic r_t = E[sign(D(x))] over the augmented real images D trains on (a logit of
    the logistic loss: r_t = 2·P(D(x) > 0) − 1) is 1 when every real image gets a positive logit (Karras
    et al.: complete overfitting) and about 0 when D's logits on real images are as often negative as
    positive. Every ``interval`` D updates, p moves by ``sign(r_t − target) · interval · batch /
    images_to_one``: up while D is surer than the target, down otherwise. The official code stops p at 0;
    gan_lab also caps it at 1.

    Args:
        target: the r_t to hold (Karras et al.: 0.6).
        images_to_one: real images shown for p to go from 0 to 1 at the fastest (Karras et al.: 500 000
            for runs of millions of images; gan_lab's runs see about 100 000, so it is a config field).
        interval: D updates between two adjustments (Karras et al.: 4).
        p: the starting probability (0 for a fresh run, the last p to resume one).
    """

    def __init__(self, target: float = 0.6, images_to_one: int = 500_000, interval: int = 4, p: float = 0.0):
        self.target, self.images_to_one, self.interval, self.p = target, images_to_one, interval, p
        self._signs: list = []

    def update(self, r, batch_size: int) -> float:
        """Record one D update's E[sign(D(x))] over its ``batch_size`` real images; returns the (new) p.

        ``r`` may be a number or a 0-d tensor: a tensor is read (one host sync) only every ``interval`` updates.
        """
        self._signs.append(r)
        if len(self._signs) == self.interval:
            r_t = float(sum(self._signs)) / self.interval
            self._signs.clear()
            step = (1 if r_t > self.target else -1 if r_t < self.target else 0) * self.interval * batch_size
            self.p = min(max(self.p + step / self.images_to_one, 0.0), 1.0)
        return self.p


class AugmentedDiscriminator(nn.Module):
    """``D(diff_augment(x))``: the discriminator as the step functions see it when DiffAugment is on.

    It holds ``D`` itself (no parameters of its own), so optimisers, freezing and checkpoints keep
    working on ``D``; only the images D is shown change. ``p`` is each transform's probability (ADA's
    trainer sets it every step; 1 = DiffAugment).
    """

    def __init__(self, D: nn.Module, policy: str = POLICY, p: float = 1.0):
        super().__init__()
        self.D, self.policy, self.p = D, check_policy(policy), p

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        return self.D(diff_augment(x, self.policy, self.p), *args)
