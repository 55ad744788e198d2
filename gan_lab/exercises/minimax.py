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

from ..data.toy import Drawing, gaussian_mixture_1d
from ..theory import best_single_gaussian, generator_loss_curves, js_divergence, optimal_discriminator
from .core import Feedback, _short, check_function, check_value, unanswered

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


def check_logistic_from_gaussians(fn) -> Feedback:
    """``fn(mu0, mu1, sigma, prior1)`` must return (w, b) with P(y=1 | x) = σ(w·x + b).

    The generative model: P(y=1) = prior1, x | y=k ~ N(μ_k, σ²) with one σ for both classes.
    """
    settings = [(0.0, 1.0, 1.0, 0.5), (-1.0, 1.5, 0.8, 0.3), (2.0, -1.0, 2.0, 0.9), (0.5, 0.5, 1.0, 0.25)]
    cases = []
    for mu0, mu1, sigma, prior1 in settings:
        w = (mu1 - mu0) / sigma**2
        b = (mu0**2 - mu1**2) / (2 * sigma**2) + math.log(prior1 / (1 - prior1))
        cases.append(((mu0, mu1, sigma, prior1), np.array([w, b])))
    return check_function("logistic regression from a generative model", fn, cases,
                          labels=[f"μ0={a:g}, μ1={b:g}, σ={c:g}, P(y=1)={d:g}" for a, b, c, d in settings],
                          hint="write log[P(y=1) N(x; μ1, σ²)] − log[P(y=0) N(x; μ0, σ²)]: the x² terms cancel "
                               "because both classes share σ, leaving w·x + b. Return the pair (w, b).")


def check_gradient_ratio(answer) -> Feedback:
    """The D(G(z)) at which the minimax loss's gradient (w.r.t. D's logit) is one tenth of the non-saturating one's."""
    return check_value("where the minimax gradient is 10× weaker", answer, 1 / 11, rtol=1e-3,
                       hint="the gradients with respect to the logit are −D and −(1 − D); solve D = (1 − D) / 10.",
                       why="below D(G(z)) = 1/11 the non-saturating loss gives more than ten times the signal.")


def check_collapse_jsd(answer) -> Feedback:
    """JSD(p_data ‖ p_g) in nats when p_data = ½A + ½B (A, B without overlap) and p_g = A (a number)."""
    return check_value("JSD of a generator collapsed on one of two modes", answer, 0.75 * math.log(4 / 3), rtol=1e-3,
                       hint="m = (p_data + p_g)/2 is ¾ on A and ¼ on B. Then KL(p_data ‖ m) = ½ log(½/¾) + "
                            "½ log(½/¼) and KL(p_g ‖ m) = log(1/¾); JSD is half their sum.",
                       why="¾ log(4/3) ≈ 0.216 nats: the grid value of section 1 is a little smaller because its two "
                           "modes overlap slightly.")


def check_criterion_disjoint(answer) -> Feedback:
    """C(G) = max_D V(D, G) when p_g and p_data have disjoint supports (a number)."""
    return check_value("C(G) for disjoint supports", answer, 0.0, atol=1e-3,
                       hint="C(G) = −log 4 + 2·JSD, and the JSD of two distributions that do not overlap is "
                            "its maximum, log 2 (m is half of each of them where it lives).",
                       why="C(G) = 0 for every generator whose samples miss the data: moving G a little changes "
                           "nothing, so the gradient of C(G) is zero (Arjovsky & Bottou 2017).")


#: the grid and the candidates of notebook 01's "which single Gaussian" exercise
JSD_FIT = dict(x=np.linspace(-12, 12, 1201), means=np.round(np.arange(-4, 4.01, 0.2), 2),
               stds=np.round(np.arange(0.3, 3.01, 0.1), 2))


def check_best_gaussian_jsd(answer, modes: float = 2.0) -> Feedback:
    """``answer = (μ, σ)``: the single Gaussian closest in JSD to p_data = ½N(−modes, 0.7²) + ½N(modes, 0.7²).

    Accepted within one candidate step of the grid's best (either sign of μ, the problem is symmetric).
    """
    name = "best single Gaussian under the minimax objective (JSD)"
    hint = ("call best_single_gaussian with an objective that returns js_divergence(p_data, p_g, dx) (or "
            "2·JSD − log 4: the same minimiser) on the grid of the cell; return (result['mean'], result['std']).")
    if (missing := unanswered(name, answer, hint)) is not None:
        return missing
    try:
        mu, sigma = (float(v) for v in answer)
    except (TypeError, ValueError):
        return Feedback(name, False, [f"expected a pair (μ, σ), got {_short(answer)}"], hint).show()
    p_data = gaussian_mixture_1d([-modes, modes], [0.7, 0.7]).density(JSD_FIT["x"][:, None])
    best = best_single_gaussian(lambda p, q, dx: js_divergence(p, q, dx), p_data, **JSD_FIT)
    ok = abs(abs(mu) - abs(best["mean"])) <= 0.25 and abs(sigma - best["std"]) <= 0.15
    notes = [f"(μ, σ) = ({mu:.2f}, {sigma:.2f})" + (" ✓" if ok else "")]
    if ok:
        kind = "one broad Gaussian over both modes" if abs(best["mean"]) < 1 else "one mode"
        notes.append(f"JSD = {best['value']:.3f} nats: the minimax objective prefers {kind} here; compare the "
                     "non-saturating objective's choice above.")
    return Feedback(name, ok, notes, hint).show()


# ---- predictions: answered before the experiment that shows the answer ---------------------------------
def check_curve_dimension(answer) -> Feedback:
    """The dimension, at most, of the set of points a ReLU G can produce from 1-D noise (a whole number)."""
    return check_value("dimension of G's outputs with 1-D noise", answer, 1,
                       hint="a ReLU network is piecewise linear in z: on each piece, G(z) = a·z + b. If z runs along "
                            "a line, where can G(z) go? Look at the grey mesh of the lab with 'noise dim' 1.",
                       why="G(z) for z on a line traces a curve: however long it trains, p_g lives on a "
                           "1-D set, which has zero area, so p_g never matches a 2-D Gaussian.")


def check_cheaper_failure(answer) -> Feedback:
    """Which costs the non-saturating objective less: "missing a mode" or "mass between the modes"?"""
    return check_value("what the non-saturating objective forgives", answer, "missing a mode",
                       hint="of its two terms, KL(p_g ‖ p_data) = ∫ p_g log(p_g / p_data) is weighted by p_g: "
                            "where does it blow up, and where is it zero? (section 3)",
                       why="KL(p_g ‖ p_data) is weighted by p_g: mass where p_data ≈ 0 costs a lot, a mode "
                           "that G leaves empty costs almost nothing. The JSD term is bounded by log 2.")


#: the drawing of notebook 01's section 4c: a zigzag, a line and a click
SECTION_4C_STROKES = [[(-2.0, -1.5), (-1.0, 0.5), (0.0, -1.5), (1.0, 0.5), (2.0, -1.5)], [(-2.0, 2.0), (2.0, 2.0)],
                      [(2.2, -2.4)]]


def check_drawing_size(answer) -> Feedback:
    """How many Gaussians section 4c's drawing becomes (a whole number), computed by ``Drawing`` itself."""
    return check_value("Gaussians in section 4c's drawing", answer, Drawing(SECTION_4C_STROKES).num_points,
                       hint="resample each stroke every 0.1 along its length, both ends included: a stroke of "
                            "length L gives ⌈L / 0.1⌉ + 1 points. The zigzag has 4 segments of length √(1² + 2²); "
                            "a click is one Gaussian.",
                       why="the count follows the ink, not the mouse: a slow and a fast stroke of the same shape "
                           "give the same Gaussians. Each stroke still weighs 1/3, so the dot's single Gaussian "
                           "holds as much mass as the zigzag's 91.")
