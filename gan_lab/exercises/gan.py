"""Checks for the vanilla GAN notebook's exercises (02): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> check_equilibrium_loss(2 * math.log(2))  # doctest: +SKIP
    ✓ loss_D at the equilibrium: correct.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..losses import discriminator_loss
from ..models.latent import slerp
from .core import Feedback, check_function, check_value


def check_discriminator_loss(fn) -> Feedback:
    """``fn(real_logits, fake_logits)`` must return L_D = −E[log D(x)] − E[log(1 − D(G(z)))] with D = σ(logit)."""
    gen = torch.Generator().manual_seed(0)
    cases = [((torch.zeros(3), torch.zeros(3)), 2 * math.log(2))]
    for n in (4, 32):
        real, fake = torch.randn(n, generator=gen) * 3, torch.randn(n, generator=gen) * 3
        cases.append(((real, fake), discriminator_loss(real, fake).item()))
    sure = torch.tensor([40.0])  # D is certain the fake is real: 1 − σ(40) rounds to 0 in float32
    cases.append(((sure, sure), discriminator_loss(sure, sure).item()))
    return check_function("discriminator loss", fn, cases,
                          hint="D(x) = sigmoid(logit). −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a); "
                               "written with softplus the loss stays finite when D is very sure (the last case).")


def check_equilibrium_loss(answer) -> Feedback:
    """The discriminator loss when p_g = p_data and D is optimal (D = ½ everywhere)."""
    return check_value("loss_D at the equilibrium", answer, 2 * math.log(2), rtol=1e-3,
                       hint="put D(x) = D(G(z)) = ½ into L_D = −E[log D(x)] − E[log(1 − D(G(z)))].")


def check_equilibrium_generator_loss(answer) -> Feedback:
    """The non-saturating generator loss L_G = −E[log D(G(z))] at the equilibrium (D = ½ everywhere)."""
    return check_value("loss_G at the equilibrium", answer, math.log(2), rtol=1e-3,
                       hint="at the equilibrium D(G(z)) = ½ for every fake; put it into L_G = −E[log D(G(z))].",
                       why="log 2 ≈ 0.69 nats: half of L_D's 2 log 2, which has one log 2 for the real and one "
                           "for the fake images.")


def check_conv_transpose_size(fn) -> Feedback:
    """``fn(size_in, kernel, stride, padding)``: the output side of ``nn.ConvTranspose2d`` (DCGAN's up-sampler)."""
    settings = [(1, 7, 1, 0), (7, 4, 2, 1), (14, 4, 2, 1), (4, 4, 2, 1), (5, 3, 2, 0), (8, 5, 3, 2)]
    cases = []
    for size, kernel, stride, padding in settings:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding)
        cases.append(((size, kernel, stride, padding), layer(torch.zeros(1, 1, size, size)).shape[-1]))
    return check_function("transposed convolution size", fn, cases,
                          hint="a transposed convolution undoes a convolution's size arithmetic: "
                               "out = (in − 1)·stride − 2·padding + kernel.")


def check_slerp(fn) -> Feedback:
    """``fn(z_a, z_b, t)`` for (1, d) codes must return the spherical interpolation."""
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(1, 16, generator=gen), torch.randn(1, 16, generator=gen)
    cases = [((a, b, t), slerp(a, b, t)) for t in (0.0, 0.3, 0.5, 1.0)]
    return check_function("slerp", fn, cases, atol=1e-5,
                          hint="θ = arccos(⟨a, b⟩ / (‖a‖‖b‖)); return (sin((1−t)θ)·a + sin(tθ)·b) / sin θ.")


def check_ema_weight(answer, decay: float = 0.995, steps_ago: int = 100) -> Feedback:
    """The weight of G's parameters from ``steps_ago`` steps back in the EMA, relative to the newest one's."""
    return check_value(f"relative weight of G from {steps_ago} steps ago (β = {decay})", answer,
                       decay ** steps_ago, rtol=1e-3,
                       hint="unroll θ_EMA ← β θ_EMA + (1 − β) θ_t: the newest θ_t enters with weight (1 − β), the "
                            "one before with β(1 − β), the one n steps back with βⁿ(1 − β). Divide.",
                       why="βⁿ: with β = 0.995 a snapshot 100 steps old still counts about three fifths as much as "
                           "the newest, one 1000 steps old under 1 %. The average remembers about 1/(1 − β) steps.")
