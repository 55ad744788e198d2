"""Checks for the conditional-GAN notebook's exercises (03): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> def my_projection_logit(psi, phi, E, y):
    ...     return psi + (E[y] * phi).sum(dim=1)
    >>> check_projection_logit(my_projection_logit)  # doctest: +SKIP
    ✓ projection logit: correct.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import generator_loss_nonsaturating
from ..models.conditional import ProjectionDiscriminator
from ..models.patchgan import PatchGANDiscriminator
from .core import Feedback, check_choice, check_function, check_value


@torch.no_grad()
def _projection_case(seed: int, num_classes: int = 3, batch: int = 4):
    """The pieces of gan_lab's ProjectionDiscriminator and its own output for them."""
    torch.manual_seed(seed)
    D = ProjectionDiscriminator(num_classes, size=28, width=8, spectral_norm=False).eval()
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, num_classes, (batch,))
    phi = D.body.features(x)  # (B, F, h, w)
    psi = D.body.head(phi).flatten()  # ψ(φ(x)), (B,)
    return (psi, phi.sum(dim=(2, 3)), D.embed.weight.clone(), y), D(x, y)  # the class term sum-pools φ


def check_projection_logit(fn) -> Feedback:
    """``fn(psi, phi, E, y)`` must return D(x, y) = ψ(φ(x)) + e_yᵀ φ(x) (psi (B,), phi (B, F), E (K, F), y (B,))."""
    cases = [_projection_case(seed) for seed in range(3)]
    return check_function("projection logit", fn, cases,
                          hint="pick each image's class vector with E[y] (B, F), multiply it elementwise with phi "
                               "and sum over F (dim=1): that is the inner product e_yᵀφ; then add psi.")


def _pix2pix_case(seed: int, lambda_L1: float):
    gen = torch.Generator().manual_seed(seed)
    fake_logits = torch.randn(2, 1, 5, 5, generator=gen)
    fake, target = (torch.rand(2, 1, 8, 8, generator=gen) * 2 - 1 for _ in range(2))
    expected = generator_loss_nonsaturating(fake_logits) + lambda_L1 * F.l1_loss(fake, target)
    return (fake_logits, fake, target, lambda_L1), expected


def check_pix2pix_generator_loss(fn) -> Feedback:
    """``fn(fake_logits, fake, target, lambda_L1)``: −E[log D(x, G(x))] + λ_L1 · mean |target − fake|."""
    cases = [_pix2pix_case(seed, lam) for seed, lam in ((0, 100.0), (1, 10.0), (2, 0.0))]
    return check_function("pix2pix generator loss", fn, cases,
                          hint="the adversarial part is the non-saturating loss on the patch logits, "
                               "softplus(−logits).mean() = −mean log σ(logits); the L1 part is the mean absolute "
                               "pixel difference, weighted by lambda_L1.")


def check_patch_count(answer) -> Feedback:
    """How many real/fake verdicts does PatchGAN (n_layers=3) give for ONE 64×64 image pair?"""
    expected = PatchGANDiscriminator(2, width=8, n_layers=3)(torch.zeros(1, 2, 64, 64)).numel()
    return check_value("PatchGAN verdicts per 64×64 image", answer, expected,
                       hint="a 4×4 convolution with stride 2 and padding 1 halves the side; with stride 1 and "
                            "padding 1 it shrinks the side by one pixel. With n_layers=3 PatchGAN has three of "
                            "the first kind, then two of the second; one verdict per position of the last map.")


def check_l1_prediction(answer) -> Feedback:
    """Before sections 6 and 7 run: what L1 + adversarial does to PSNR and sharpness, against L1 alone. A letter.

    (a) L1 + adversarial wins both: higher PSNR and sharper.
    (b) L1 + adversarial is sharper (closer to the target's sharpness); its PSNR is about the same or lower.
    (c) L1 alone is sharper; L1 + adversarial has the higher PSNR.
    (d) No measurable difference: with λ_L1 = 100 the adversarial term is too small to matter.
    """
    hints = {
        "a": "sharper, yes. But PSNR rewards being close to THIS target pixel by pixel: when the texture D asks for "
             "is not exactly where the target's is, does the pixel-wise error fall or rise?",
        "c": "which of the two outputs is the pixel-wise median of the plausible targets (section 5), and what does "
             "a median look like where those targets disagree?",
        "d": "compare the gradients, not the weights: L1's expected gradient vanishes at the median, exactly where "
             "the blur sits. What is left there to move the output?",
    }
    return check_choice("L1 alone vs L1 + adversarial", answer, "b", hints,
                        why="L1 alone settles on the pixel-wise median of the plausible targets, smooth where they "
                            "disagree (Isola et al. 2017, Section 4.2: L1 alone gives blurry results); D rejects "
                            "smooth patches, so the adversarial term pulls the output towards a sharp, plausible "
                            "target. Pixel-wise metrics reward being close, not plausible, so PSNR gains little or "
                            "loses a bit (Wolterink et al. 2017: the highest PSNR came from the voxel-wise loss "
                            "alone). The tables below show how large each effect is in your run.")
