"""Theory on a grid against closed forms, the two theory widgets, and the exercise checks."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gan_lab import theory
from gan_lab.exercises import minimax as ex
from gan_lab.widgets.theory import generator_mixture, optimal_discriminator_widget, saturation_widget

X = np.linspace(-20, 20, 8001)
DX = X[1] - X[0]


def gauss(mu, sigma):
    return norm.pdf(X, mu, sigma)


def test_optimal_discriminator_of_two_gaussians_matches_the_log_density_ratio():
    # D* = p/(p+q) = σ(log p − log q): compare against scipy's log-densities
    expected = 1 / (1 + np.exp(norm.logpdf(X, 2, 1.5) - norm.logpdf(X, 0, 1)))
    assert np.allclose(theory.optimal_discriminator(gauss(0, 1), gauss(2, 1.5)), expected, atol=1e-12)
    d = theory.optimal_discriminator(gauss(0, 1), gauss(2, 1))
    assert d[np.argmin(np.abs(X - 1))] == pytest.approx(0.5)  # equal densities half way between equal Gaussians
    assert theory.optimal_discriminator(np.zeros(3), np.zeros(3)).tolist() == [0.5] * 3


def test_jsd_closed_forms():
    p = gauss(0, 1)
    assert theory.js_divergence(p, p, DX) == pytest.approx(0.0, abs=1e-12)
    left = ((X > -3) & (X < -1)) / 2.0  # two uniform densities with disjoint supports
    right = ((X > 1) & (X < 3)) / 2.0
    assert theory.js_divergence(left, right, DX) == pytest.approx(math.log(2), abs=1e-2)
    mass = lambda d: (d > 0).sum() * DX / 2  # exact grid mass of each box, to compare with log 2 exactly
    assert theory.js_divergence(left / mass(left), right / mass(right), DX) == pytest.approx(math.log(2), abs=1e-12)
    q = gauss(1, 2)
    assert theory.js_divergence(p, q, DX) == pytest.approx(theory.js_divergence(q, p, DX), abs=1e-12)
    assert 0 < theory.js_divergence(p, q, DX) < math.log(2)


def test_kl_of_two_gaussians_matches_the_closed_form():
    mu1, s1, mu2, s2 = 0.3, 0.8, -1.0, 1.7
    closed = math.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5
    assert theory.kl_divergence(gauss(mu1, s1), gauss(mu2, s2), DX) == pytest.approx(closed, abs=1e-8)
    assert theory.kl_divergence(gauss(0, 1), np.zeros_like(X), DX) == math.inf


@pytest.mark.parametrize("mu,sigma", [(0.0, 1.0), (1.5, 1.0), (0.0, 0.3), (-4.0, 2.5), (8.0, 1.0)])
def test_virtual_training_criterion_is_minus_log4_plus_twice_jsd(mu, sigma):
    p_data = 0.5 * gauss(-2, 0.7) + 0.5 * gauss(2, 0.7)
    p_g = gauss(mu, sigma)
    c = theory.virtual_training_criterion(p_data, p_g, DX)
    assert c == pytest.approx(-math.log(4) + 2 * theory.js_divergence(p_data, p_g, DX), abs=1e-9)
    # V(D*, G) written naively: in far tails D* rounds to exactly 0 or 1 and a log turns a negligible term into
    # −∞ (hence C's own formula); away from such tails both agree
    p_data, p_g = (np.where(p > 1e-10 * p.max(), p, 0.0) for p in (p_data, p_g))
    d_star = theory.optimal_discriminator(p_data, p_g)
    c = theory.virtual_training_criterion(p_data, p_g, DX)
    assert c == pytest.approx(theory.value_function(d_star, p_data, p_g, DX), abs=1e-9)
    # D* is the maximiser: any other discriminator scores lower
    for other in (np.full_like(X, 0.5), np.clip(d_star + 0.05, 0, 0.999), 1 / (1 + np.exp(-X))):
        assert theory.value_function(other, p_data, p_g, DX) < c + 1e-12
    assert c >= -math.log(4) - 1e-9


def test_the_minimum_of_the_criterion_is_at_p_g_equal_p_data():
    p = gauss(0.5, 1.2)
    assert theory.virtual_training_criterion(p, p, DX) == pytest.approx(-math.log(4), abs=1e-9)
    assert theory.value_function(np.full_like(X, 0.5), p, p, DX) == pytest.approx(-math.log(4), abs=1e-9)


def test_generator_loss_curves_match_the_derivatives():
    d = np.array([1e-3, 0.2, 0.5, 0.9])
    curves = theory.generator_loss_curves(d)
    assert np.allclose(curves["minimax"], np.log(1 - d)) and np.allclose(curves["nonsaturating"], -np.log(d))
    assert np.allclose(curves["grad_minimax"], -d) and np.allclose(curves["grad_nonsaturating"], -(1 - d))
    assert abs(curves["grad_nonsaturating"][0]) > 500 * abs(curves["grad_minimax"][0])
    with pytest.raises(ValueError, match="strictly between"):
        theory.generator_loss_curves(np.array([0.0, 0.5]))


def test_kde_on_grid_integrates_to_one_and_peaks_at_the_samples():
    extent = (-3, 3, -3, 3)
    samples = torch.tensor([[1.0, 2.0]]).repeat(100, 1)
    density = theory.kde_on_grid(samples, extent, 60)
    points, area = theory.grid_points(extent, 60)
    assert density.sum() * area == pytest.approx(1.0)
    assert np.allclose(points[np.unravel_index(density.argmax(), density.shape)], [1.0, 2.0], atol=0.1)


def test_estimated_divergences_separate_same_from_disjoint():
    extent = (-3, 3, -3, 3)
    gen = torch.Generator().manual_seed(0)
    a, b = (0.3 * torch.randn(2000, 2, generator=gen) for _ in range(2))
    same = theory.estimate_divergences(a, b, extent)
    far = theory.estimate_divergences(a - 1.5, b + 1.5, extent)
    assert same["JS"] < 0.02 and same["KL"] < 0.1
    assert far["JS"] > 0.65 and far["KL"] > 5
    outside = theory.estimate_divergences(a, b + 10, extent)  # every fake outside the window
    assert outside == {"JS": math.log(2), "KL": math.inf}


def test_optimal_discriminator_widget_updates_and_checks_theorem_1():
    w = optimal_discriminator_widget()
    first_image, first_text = w.image.value, w.readout.value
    w.mean.value, w.spread.value, w.weight.value, w.gap.value = 0.0, 0.7, 0.5, 4.0  # p_g = p_data
    numbers = w.update()
    assert numbers["JSD"] == pytest.approx(0.0, abs=1e-9) and numbers["V"] == pytest.approx(-math.log(4))
    assert w.image.value != first_image and w.readout.value != first_text and "✓" in w.readout.value
    w.weight.value = 1.0  # drop the right mode: JSD grows, the identity still holds
    numbers = w.update()
    assert numbers["JSD"] > 0.1 and numbers["V"] == pytest.approx(numbers["identity"], abs=1e-8)
    assert generator_mixture(0.0, 0.7, 0.5, 4.0).density(np.array([[2.0]])) == pytest.approx(norm.pdf(2, 2, 0.7) / 2)


def test_saturation_widget_shows_the_vanishing_gradient():
    w = saturation_widget()
    before = w.image.value
    w.d.value = 0.002
    grads = w.update()
    assert grads["nonsaturating"] > 100 * grads["minimax"] and w.image.value != before
    assert "0.002" in w.readout.value


def test_exercise_checks_accept_right_and_explain_wrong_answers(capsys):
    def right(x, mu_d, s_d, mu_g, s_g):
        p, q = norm.pdf(x, mu_d, s_d), norm.pdf(x, mu_g, s_g)
        return p / (p + q)

    def stub(x, *args):
        raise NotImplementedError

    assert ex.check_optimal_discriminator(right)
    assert not ex.check_optimal_discriminator(lambda x, *args: 0.5 + 0 * x)  # right only for equal Gaussians
    assert not ex.check_optimal_discriminator(lambda x, *args: 1 / 0)
    assert not ex.check_optimal_discriminator(stub)
    assert ex.check_larger_gradient("Non-saturating") and not ex.check_larger_gradient("minimax")
    assert ex.check_criterion_at_optimum(-math.log(4)) and not ex.check_criterion_at_optimum(0.0)
    assert ex.check_jsd_disjoint(math.log(2)) and not ex.check_jsd_disjoint(...)
    out = capsys.readouterr().out
    assert out.count(": correct.") == 4 and out.count(": not yet.") == 6 and out.count("Hint:") == 6
    assert "ZeroDivisionError" in out and "not implemented yet" in out
