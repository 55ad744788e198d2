"""Checks for the minimax notebook's exercises (01): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> check_larger_gradient("nonsaturating")  # doctest: +SKIP
    ✓ larger gradient where D(G(z)) ≈ 0: correct.
"""

from __future__ import annotations

import math

import numpy as np

from ..data.toy import gaussian_mixture_1d
from ..theory import generator_loss_curves, optimal_discriminator
from .core import Feedback, check_function, check_value

_GAUSSIAN_PAIRS = [(0.0, 1.0, 2.0, 1.0), (-1.0, 0.5, 1.0, 2.0), (0.0, 1.0, 0.0, 1.0)]  # (μ_d, σ_d, μ_g, σ_g)


def check_optimal_discriminator(fn) -> Feedback:
    """``fn(x, mu_data, sigma_data, mu_g, sigma_g)`` must return D*(x) for p_data = N(μ_d, σ_d²), p_g = N(μ_g, σ_g²).

    ``x`` is a numpy array; the answer must have its shape.
    """
    x = np.linspace(-4, 4, 81)
    density = lambda mu, sigma: gaussian_mixture_1d([mu], [sigma]).density(x[:, None])
    cases = [((x, *pair), optimal_discriminator(density(*pair[:2]), density(*pair[2:])))
             for pair in _GAUSSIAN_PAIRS]
    return check_function("optimal discriminator D*", fn, cases,
                          hint="D*(x) = p_data(x) / (p_data(x) + p_g(x)), with the Gaussian density "
                               "N(x; μ, σ²) = exp(−(x − μ)² / (2σ²)) / (σ √(2π)). Where both densities are "
                               "equal, D* = ½.")


def check_larger_gradient(answer) -> Feedback:
    """Which generator loss gives the larger gradient where D(G(z)) ≈ 0: "minimax" or "nonsaturating"?"""
    at = generator_loss_curves(np.array([1e-3]))
    larger = "nonsaturating" if abs(at["grad_nonsaturating"][0]) > abs(at["grad_minimax"][0]) else "minimax"
    return check_value("larger gradient where D(G(z)) ≈ 0", answer, larger,
                       hint="differentiate with respect to D's logit a (D = σ(a)): ∂ log(1 − σ(a))/∂a = −σ(a) "
                            "and ∂(−log σ(a))/∂a = −(1 − σ(a)); evaluate both at σ(a) ≈ 0. Answer "
                            "'minimax' or 'nonsaturating'.")


def check_criterion_at_optimum(answer) -> Feedback:
    """C(G) = max_D V(D, G) when p_g = p_data (a number)."""
    return check_value("C(G) at p_g = p_data", answer, -math.log(4), rtol=1e-3,
                       hint="with p_g = p_data, D* = ½ everywhere, so V = E[log ½] + E[log ½].")


def check_jsd_disjoint(answer) -> Feedback:
    """JSD(p ‖ q) in nats for two distributions with disjoint supports (a number)."""
    return check_value("JSD of disjoint supports", answer, math.log(2), rtol=1e-3,
                       hint="m = (p + q)/2 equals p/2 wherever p > 0, so KL(p ‖ m) = E_p[log 2]; the same "
                            "holds for q.")
