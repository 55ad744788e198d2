"""Adversarial losses against values computed by hand from their equations."""

import math

import pytest
import torch

from gan_lab import losses

sigmoid = lambda a: 1 / (1 + math.exp(-a))  # noqa: E731
REAL, FAKE = [2.0, -1.0, 0.5], [-3.0, 0.0, 1.5]


def test_discriminator_loss_matches_negated_value_function():
    # L_D = −mean log σ(a_real) − mean log(1 − σ(a_fake))
    expected = (-sum(math.log(sigmoid(a)) for a in REAL) / 3
                - sum(math.log(1 - sigmoid(a)) for a in FAKE) / 3)
    got = losses.discriminator_loss(torch.tensor(REAL), torch.tensor(FAKE))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_discriminator_loss_at_chance_is_2_log_2():
    zeros = torch.zeros(5)
    assert losses.discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def test_generator_losses_match_hand_values():
    minimax = sum(math.log(1 - sigmoid(a)) for a in FAKE) / 3  # E log(1 − D(G(z)))
    nonsat = -sum(math.log(sigmoid(a)) for a in FAKE) / 3  # −E log D(G(z))
    fake = torch.tensor(FAKE)
    assert losses.generator_loss_minimax(fake).item() == pytest.approx(minimax, rel=1e-6)
    assert losses.generator_loss_nonsaturating(fake).item() == pytest.approx(nonsat, rel=1e-6)


def test_losses_stay_finite_where_D_saturates():
    big = torch.tensor([200.0, -200.0])
    for value in (losses.discriminator_loss(big, -big), losses.generator_loss_minimax(big),
                  losses.generator_loss_nonsaturating(-big)):
        assert torch.isfinite(value)


def test_minimax_gradient_vanishes_where_nonsaturating_does_not():
    # D confidently rejects the fakes (D(G(z)) ≈ 0.0025): the minimax loss gives G almost no signal.
    a = torch.tensor([-6.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(losses.generator_loss_minimax(a), a)
    (g_nonsat,) = torch.autograd.grad(losses.generator_loss_nonsaturating(a), a)
    assert abs(g_minimax.item()) == pytest.approx(sigmoid(-6.0), rel=1e-5)  # d/da −softplus(a) = −σ(a)
    assert abs(g_nonsat.item()) == pytest.approx(1 - sigmoid(-6.0), rel=1e-5)
    assert abs(g_nonsat.item()) > 100 * abs(g_minimax.item())


def test_least_squares_losses():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -1.0])
    assert losses.least_squares_d_loss(real, fake).item() == pytest.approx(0.5 * 0.5 + 0.5 * 0.625)
    assert losses.least_squares_g_loss(fake).item() == pytest.approx(0.5 * (0.25 + 4) / 2)


def test_adversarial_losses_names_valid_choices():
    assert losses.adversarial_losses("minimax")[1] is losses.generator_loss_minimax
    with pytest.raises(ValueError, match="nonsaturating"):
        losses.adversarial_losses("non-saturating")
