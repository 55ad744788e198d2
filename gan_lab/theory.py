"""The theory of Goodfellow et al. (2014), evaluated numerically on a grid.

For densities p_data and p_g sampled on a uniform grid with cell size ``dx``
(1-D: a spacing; 2-D: an area), integrals become sums ∫ f dx ≈ Σ f·dx, so

* the value function  V(D, G) = ∫ p_data log D + p_g log(1 − D) dx,
* the optimal discriminator  D*(x) = p_data(x) / (p_data(x) + p_g(x)),
* the virtual training criterion  C(G) = max_D V(D, G) = V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g)

are all one line each. The grid must hold (almost) all of both masses.
Logarithms are natural, so divergences are in nats and JSD ≤ log 2.

What the *non-saturating* generator loss −log D(G(z)) descends at an optimal D is another
divergence, KL(p_g ‖ p_data) − 2·JSD(p_data ‖ p_g) (Arjovsky & Bottou 2017, Theorem 2.5):
:func:`nonsaturating_objective`, with :func:`expected_generator_loss` to check it and
:func:`best_single_gaussian` to see which generator each objective prefers.

For 2-D samples with unknown density (the toy lab's fakes) :func:`kde_on_grid`
estimates the density: a *binned* kernel density estimate (a histogram on the
grid smoothed with a Gaussian of bandwidth h), which costs O(grid) however
many samples there are, so a widget can redraw it every frame.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from .losses import generator_loss_minimax, generator_loss_nonsaturating


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x · log y with the convention 0 · log 0 = 0 (no warnings)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = np.zeros(np.broadcast(x, y).shape)
    np.multiply(x, np.log(y, out=np.full_like(out, -np.inf), where=y > 0), out=out, where=x > 0)
    return out


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Proposition 1).

    Where both densities vanish D* is undefined and any value is optimal; we return ½.
    """
    p_data, p_g = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def value_function(D: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """V(D, G) = E_{x~p_data}[log D(x)] + E_{x~p_g}[log(1 − D(x))] as a sum over the grid.

    Args:
        D: discriminator output in [0, 1] on the grid, same shape as the densities.
        p_data, p_g: densities on the grid.
        dx: grid cell size (1-D spacing, 2-D area).
    """
    D = np.asarray(D, dtype=np.float64)
    return float((_xlogy(p_data, D) + _xlogy(p_g, 1 - D)).sum() * dx)


def kl_divergence(p: np.ndarray, q: np.ndarray, dx: float = 1.0) -> float:
    """KL(p ‖ q) = ∫ p log(p / q) dx; infinite where p > 0 = q. ``dx=1`` for probability masses."""
    return float((_xlogy(p, p) - _xlogy(p, q)).sum() * dx)


def js_divergence(p: np.ndarray, q: np.ndarray, dx: float = 1.0) -> float:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2; 0 ≤ JSD ≤ log 2."""
    m = 0.5 * (np.asarray(p, dtype=np.float64) + np.asarray(q, dtype=np.float64))
    return 0.5 * kl_divergence(p, m, dx) + 0.5 * kl_divergence(q, m, dx)


def virtual_training_criterion(p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """C(G) = max_D V(D, G) = V(D*, G); Theorem 1 says C(G) = −log 4 + 2·JSD(p_data ‖ p_g).

    Computed as ∫ p_data log p_data + p_g log p_g − (p_data + p_g) log(p_data + p_g) dx, which is
    V(D*, G) with D* substituted and the division multiplied out: in far tails where p_data is
    denormal, D* itself underflows to 0 and log D* would turn a negligible term into −∞.
    """
    total = np.asarray(p_data, dtype=np.float64) + np.asarray(p_g, dtype=np.float64)
    return float((_xlogy(p_data, p_data) + _xlogy(p_g, p_g) - _xlogy(total, total)).sum() * dx)


def expected_generator_loss(D: np.ndarray, p_g: np.ndarray, dx: float, loss: str = "nonsaturating") -> float:
    """E_{x~p_g}[ℓ_G(D(x))] for a *fixed* discriminator D on the grid: the loss G's update descends.

    * ``"nonsaturating"``: ℓ_G = −log D(x)      (what Goodfellow et al. 2014 train G with in practice),
    * ``"minimax"``:       ℓ_G = log(1 − D(x))  (the value function's own term).

    Infinite where p_g > 0 and D is certain (D = 0 for the non-saturating loss; D = 1 for the minimax one
    gives −∞). Use a grid on which both densities stay representable (no underflow to exactly 0).
    """
    D = np.asarray(D, dtype=np.float64)
    if loss == "nonsaturating":
        return float(-_xlogy(p_g, D).sum() * dx)
    if loss == "minimax":
        return float(_xlogy(p_g, 1 - D).sum() * dx)
    raise ValueError(f"loss must be 'nonsaturating' or 'minimax', not {loss!r}.")


def nonsaturating_objective(p_data: np.ndarray, p_g: np.ndarray, dx: float) -> float:
    """KL(p_g ‖ p_data) − 2·JSD(p_data ‖ p_g): the divergence the non-saturating loss descends at an optimal D.

    Arjovsky & Bottou (2017, Theorem 2.5): with D* = p_data / (p_data + p_gθ0) held fixed,

        E_z[−∇_θ log D*(g_θ(z))] at θ0  =  ∇_θ [KL(p_gθ ‖ p_data) − 2·JSD(p_data ‖ p_gθ)] at θ0.

    The identity is about *gradients* at θ0 (the values of the two sides differ). The reverse KL
    costs little for a mode p_g misses and a lot for mass where p_data has none, and the JSD enters
    with a minus sign: the objective is mode-seeking. (The minimax loss E[log(1 − D*)] has the gradient
    of 2·JSD instead, Goodfellow et al.'s Theorem 1.) Infinite where p_g > 0 = p_data.
    """
    return kl_divergence(p_g, p_data, dx) - 2 * js_divergence(p_data, p_g, dx)


def best_single_gaussian(objective, p_data: np.ndarray, x: np.ndarray, means, stds) -> dict:
    """The Gaussian p_g = N(μ, σ²) that minimises ``objective(p_data, p_g, dx)`` over a grid of (μ, σ).

    A generator that can only make *one* bump, fitted to data with several: which bump each objective
    prefers tells mode-covering (one broad Gaussian over all modes) from mode-seeking (one mode, well).

    Args:
        objective: ``f(p_data, p_g, dx) -> float``, e.g. ``nonsaturating_objective`` or
            ``lambda p, q, dx: kl_divergence(p, q, dx)`` (maximum likelihood).
        p_data: the data density on the 1-D grid ``x`` (uniform spacing).
        means, stds: the candidate μ and σ > 0.

    Returns:
        {"mean", "std", "value"} of the best candidate, and "values": the objective, shape (len(means), len(stds)).
    """
    x = np.asarray(x, dtype=np.float64)
    dx = float(x[1] - x[0])
    means, stds = np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64)
    if np.any(stds <= 0):
        raise ValueError("every σ must be > 0.")
    values = np.empty((len(means), len(stds)))
    for i, mu in enumerate(means):
        for j, sigma in enumerate(stds):
            p_g = np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
            values[i, j] = objective(p_data, p_g, dx)
    i, j = np.unravel_index(np.nanargmin(values), values.shape)
    return {"mean": float(means[i]), "std": float(stds[j]), "value": float(values[i, j]), "values": values}


def generator_loss_curves(d: np.ndarray) -> dict[str, np.ndarray]:
    """Both generator losses and their gradients as functions of D(G(z)).

    The gradient that flows back into G passes through the discriminator's
    logit a (D = σ(a)), so we differentiate with respect to a, with autograd
    on the very loss functions the trainers use (``gan_lab.losses``):

    * minimax         L = log(1 − D),  ∂L/∂a = −D        → 0 when D(G(z)) ≈ 0 (saturates),
    * non-saturating  L = −log D,      ∂L/∂a = −(1 − D)  → −1 when D(G(z)) ≈ 0.

    Args:
        d: values of D(G(z)) in (0, 1), shape (n,).

    Returns:
        {"D", "minimax", "nonsaturating", "grad_minimax", "grad_nonsaturating"}, arrays of shape (n,).
    """
    d = np.asarray(d, dtype=np.float64)
    if np.any((d <= 0) | (d >= 1)):
        raise ValueError("D(G(z)) must lie strictly between 0 and 1 (the losses are infinite at the ends).")
    out = {"D": d}
    for name, loss_fn in (("minimax", generator_loss_minimax), ("nonsaturating", generator_loss_nonsaturating)):
        logits = torch.logit(torch.as_tensor(d)).requires_grad_(True)
        per_sample = torch.stack([loss_fn(a.reshape(1)) for a in logits])  # a batch of one: ℓ_G of one fake
        (grad,) = torch.autograd.grad(per_sample.sum(), logits)  # samples are independent: ∂ℓ_i/∂a_i
        out[name], out[f"grad_{name}"] = per_sample.detach().numpy(), grad.numpy()
    return out


def grid_points(extent, resolution: int) -> tuple[np.ndarray, float]:
    """Cell centres (res, res, 2) of a ``resolution²`` grid over ``extent`` and the cell area.

    Rows run from y_max down to y_min, so the array displays upright as an image.
    """
    x0, x1, y0, y1 = extent
    hx, hy = (x1 - x0) / resolution, (y1 - y0) / resolution
    xs = x0 + hx * (np.arange(resolution) + 0.5)
    ys = y1 - hy * (np.arange(resolution) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    return np.stack([xx, yy], -1), hx * hy


def smooth_on_grid(values: np.ndarray, extent, bandwidth: float | None = None) -> np.ndarray:
    """Convolve values on a :func:`grid_points` grid with a Gaussian kernel of standard deviation h.

    Default h = 1/60 of the window width (0.1 on the toy lab's 6 × 6 window, the width of one
    ring mode): Scott's rule, derived for one Gaussian, would smear a ring of narrow modes into
    a doughnut. Smoothing a known density with the same kernel as a KDE makes the two comparable.
    """
    x0, x1, y0, y1 = extent
    rows, cols = values.shape
    h = (x1 - x0) / 60 if bandwidth is None else bandwidth
    return gaussian_filter(np.asarray(values, dtype=np.float64), sigma=(h * rows / (y1 - y0), h * cols / (x1 - x0)),
                           mode="constant")


def kde_on_grid(samples, extent, resolution: int = 64, bandwidth: float | None = None) -> np.ndarray:
    """Binned Gaussian KDE of 2-D samples: density (res, res) on :func:`grid_points`' cells, integrating to 1.

    A histogram on the grid, smoothed by :func:`smooth_on_grid`. Samples outside the window are dropped.
    """
    x0, x1, y0, y1 = extent
    pts = torch.as_tensor(samples).detach().cpu().double().numpy()
    hist, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=resolution, range=[[y0, y1], [x0, x1]])
    density = smooth_on_grid(hist[::-1], extent, bandwidth)  # histogram rows go up in y; images go down
    total = density.sum() * (x1 - x0) * (y1 - y0) / resolution**2
    return density / total if total > 0 else density


def divergences_on_grid(p: np.ndarray, q: np.ndarray, eps: float = 1e-6) -> dict[str, float]:
    """JS(p ‖ q) and KL(p ‖ q) in nats between two densities on the same grid.

    Both are normalised to probability masses, and mass ``eps`` is spread uniformly over the
    grid so that KL stays finite where q has no mass (e.g. where the generator put no sample).
    A density with no mass on the grid at all (every sample outside the window) is disjoint from
    the other as far as the grid can tell: JS = log 2 and KL = ∞.
    """
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return {"JS": math.log(2), "KL": math.inf}
    p, q = (p / p.sum()) * (1 - eps) + eps / p.size, (q / q.sum()) * (1 - eps) + eps / q.size
    return {"JS": js_divergence(p, q), "KL": kl_divergence(p, q)}


def estimate_divergences(real, fake, extent, resolution: int = 64, bandwidth: float | None = None) -> dict[str, float]:
    """JS and KL(p_data ‖ p_g) between two 2-D sample sets, from binned KDEs on a grid.

    Both densities go through the same estimator, so its smoothing bias is shared.
    Finite samples leave a floor: two independent sets of 2 000 ring samples
    already differ by a few thousandths of a nat in JS (about 0.015 in KL).

    Returns:
        {"JS": JSD in nats (≤ log 2), "KL": KL(p_data ‖ p_g) in nats}.
    """
    return divergences_on_grid(kde_on_grid(real, extent, resolution, bandwidth),
                               kde_on_grid(fake, extent, resolution, bandwidth))
