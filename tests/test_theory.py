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


def _shifted(mu, sigma=0.9, x=X):
    return norm.pdf(x, mu, sigma)


@pytest.mark.parametrize("theta0", [-1.3, 0.5, 2.4])
def test_theorem_2_5_the_nonsaturating_gradient_is_that_of_kl_minus_2_jsd(theta0):
    # Arjovsky & Bottou (2017), Theorem 2.5, by finite differences on a family p_gθ = N(θ, 0.9²): with D* held at
    # its optimum for θ0, d/dθ E_pgθ[−log D*] = d/dθ [KL(p_gθ ‖ p_data) − 2 JSD] at θ0; for the minimax loss the
    # gradient is that of 2·JSD. A grid on which no density underflows keeps every log finite.
    x = np.linspace(-12, 12, 4801)
    dx = x[1] - x[0]
    p_data = 0.5 * norm.pdf(x, -2, 0.7) + 0.5 * norm.pdf(x, 2, 0.7)
    d_star = theory.optimal_discriminator(p_data, _shifted(theta0, x=x))
    h = 1e-4

    def slope(f):
        return (f(theta0 + h) - f(theta0 - h)) / (2 * h)

    ns_loss = slope(lambda t: theory.expected_generator_loss(d_star, _shifted(t, x=x), dx, "nonsaturating"))
    ns_div = slope(lambda t: theory.nonsaturating_objective(p_data, _shifted(t, x=x), dx))
    assert ns_loss == pytest.approx(ns_div, rel=1e-6, abs=1e-8)
    mm_loss = slope(lambda t: theory.expected_generator_loss(d_star, _shifted(t, x=x), dx, "minimax"))
    mm_div = slope(lambda t: 2 * theory.js_divergence(p_data, _shifted(t, x=x), dx))
    assert mm_loss == pytest.approx(mm_div, rel=1e-6, abs=1e-8)
    assert abs(ns_loss - mm_loss) > 1e-3  # two different directions for the same generator
    with pytest.raises(ValueError, match="nonsaturating"):
        theory.expected_generator_loss(d_star, p_data, dx, "wasserstein")


def test_nonsaturating_objective_values():
    p = 0.5 * gauss(-2, 0.7) + 0.5 * gauss(2, 0.7)
    assert theory.nonsaturating_objective(p, p, DX) == pytest.approx(0.0, abs=1e-12)
    # two boxes without overlap: p_data = ½A + ½B, p_g = A → KL = log 2, JSD = ¾ log(4/3)
    a, b = ((X > -3) & (X < -1)) / 2.0, ((X > 1) & (X < 3)) / 2.0
    a, b = a / (a.sum() * DX), b / (b.sum() * DX)
    expected = math.log(2) - 1.5 * math.log(4 / 3)
    assert theory.nonsaturating_objective(0.5 * a + 0.5 * b, a, DX) == pytest.approx(expected, abs=1e-12)
    assert theory.nonsaturating_objective(a, b, DX) == math.inf  # mass where the data has none


def test_best_single_gaussian_tells_mode_covering_from_mode_seeking():
    x = np.linspace(-12, 12, 1201)
    p_data = 0.5 * norm.pdf(x, -2, 0.7) + 0.5 * norm.pdf(x, 2, 0.7)
    means, stds = np.round(np.arange(-4, 4.01, 0.2), 2), np.round(np.arange(0.3, 3.01, 0.1), 2)
    forward = theory.best_single_gaussian(lambda p, q, dx: theory.kl_divergence(p, q, dx), p_data, x, means, stds)
    # maximum likelihood matches the moments: mean 0, variance 2² + 0.7²
    assert forward["mean"] == pytest.approx(0.0, abs=1e-9) and forward["std"] == pytest.approx(2.1, abs=0.051)
    seeking = theory.best_single_gaussian(theory.nonsaturating_objective, p_data, x, means, stds)
    assert abs(seeking["mean"]) == pytest.approx(2.0) and seeking["std"] == pytest.approx(0.7)
    assert seeking["values"].shape == (len(means), len(stds)) and seeking["value"] == seeking["values"].min()
    with pytest.raises(ValueError, match="σ"):
        theory.best_single_gaussian(theory.nonsaturating_objective, p_data, x, means, [0.0, 1.0])


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


def test_new_exercise_checks(capsys):
    def logistic(mu0, mu1, sigma, prior1):
        return (mu1 - mu0) / sigma**2, (mu0**2 - mu1**2) / (2 * sigma**2) + math.log(prior1 / (1 - prior1))

    assert ex.check_logistic_from_gaussians(logistic)
    assert not ex.check_logistic_from_gaussians(lambda *a: (logistic(*a)[0], 0.0))  # forgot the prior and the means
    # the gradient ratio: at D = 1/11 the minimax gradient is one tenth of the non-saturating one
    at = theory.generator_loss_curves(np.array([1 / 11]))
    assert 10 * abs(at["grad_minimax"][0]) == pytest.approx(abs(at["grad_nonsaturating"][0]))
    assert ex.check_gradient_ratio(1 / 11) and not ex.check_gradient_ratio(0.1)
    assert ex.check_collapse_jsd(0.75 * math.log(4 / 3)) and not ex.check_collapse_jsd(math.log(2))
    assert ex.check_criterion_disjoint(0.0) and not ex.check_criterion_disjoint(math.log(2))
    assert ex.check_best_gaussian_jsd((0.0, 2.1)) and ex.check_best_gaussian_jsd((0.1, 2.0))
    assert not ex.check_best_gaussian_jsd((-2.0, 0.7))  # the non-saturating objective's choice, not the JSD's
    assert not ex.check_best_gaussian_jsd(...) and not ex.check_best_gaussian_jsd("2.1")
    assert ex.check_best_gaussian_jsd((3.0, 0.7), modes=3.0)  # further apart, the JSD picks one mode
    out = capsys.readouterr().out
    assert out.count(": correct.") == 7 and out.count(": not yet.") == 7 and "expected a pair" in out


def test_prediction_checks_of_notebook_01_accept_the_reasoned_answer_only():
    from gan_lab.exercises import minimax as ex

    assert ex.check_drawing_size(133) and not ex.check_drawing_size(132) and not ex.check_drawing_size(3)
    assert ex.check_curve_dimension(1) and not ex.check_curve_dimension(2)
    assert ex.check_cheaper_failure("Missing a mode") and not ex.check_cheaper_failure("mass between the modes")
    assert not ex.check_cheaper_failure(...)


def test_the_drawing_check_counts_the_drawing_notebook_01_trains_on():
    import ast
    import json

    from gan_lab import config
    from gan_lab.exercises import minimax as ex

    cells = json.loads((config.REPO_ROOT / "notebooks" / "01_minimax_game.ipynb").read_text())["cells"]
    (code,) = ["".join(c["source"]) for c in cells if "".join(c["source"]).startswith("drawing = Drawing(")]
    call = ast.parse(code).body[0].value  # drawing = Drawing([...]): the literal the cell trains on
    assert ast.literal_eval(call.args[0]) == ex.SECTION_4C_STROKES
