"""Adversarial losses as small pure functions named after the math.

Discriminators in gan_lab return *logits* a = logit D(x), so D(x) = σ(a).
Writing the log-likelihoods through softplus keeps them finite where
D saturates: −log σ(a) = softplus(−a) and −log(1 − σ(a)) = softplus(a).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Goodfellow et al. (2014) discriminator loss, the negated value function.

    L_D = −E_x[log D(x)] − E_z[log(1 − D(G(z)))]
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The original (saturating) generator loss: G minimises V directly.

    L_G = E_z[log(1 − D(G(z)))]   — its gradient vanishes when D(G(z)) ≈ 0.
    """
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss that Goodfellow et al. recommend in practice.

    L_G = −E_z[log D(G(z))]   — strong gradients exactly where G is losing.
    """
    return F.softplus(-fake_logits).mean()


def least_squares_d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator loss (Mao et al. 2017) on raw outputs.

    L_D = ½ E_x[(D(x) − 1)²] + ½ E_z[D(G(z))²]
    """
    return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out**2).mean()


def least_squares_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss: L_G = ½ E_z[(D(G(z)) − 1)²]."""
    return 0.5 * ((fake_out - 1) ** 2).mean()


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss (Arjovsky et al. 2017): L_C = E_z[C(G(z))] − E_x[C(x)].

    Its negation is a lower bound on the Wasserstein-1 distance when C is
    1-Lipschitz, equal to it for the best such C (Kantorovich–Rubinstein).
    """
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: L_G = −E_z[C(G(z))]."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, *critic_args) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017): E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²].

    x̂ = ε·x + (1 − ε)·G(z) with ONE ε ~ U[0, 1] per sample (not per pixel),
    and the norm is taken over each sample's whole gradient (all of C, H, W),
    two details that several widely copied implementations got wrong (e.g.
    caogang/wgan-gp issue #27, eriklindernoren/PyTorch-GAN issue #20 on GitHub).

    Args:
        critic: callable returning one score per sample, shape (B,).
        real, fake: (B, ...) tensors of the same shape.
        critic_args: extra inputs passed to the critic (e.g. a condition y).
    """
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat, *critic_args)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    grad_norm = grad.flatten(1).norm(2, dim=1)  # (B,): one norm per sample
    return ((grad_norm - 1) ** 2).mean()


#: name → (discriminator loss, generator loss); what a loss drop-down offers.
ADVERSARIAL_LOSSES = {
    "minimax": (discriminator_loss, generator_loss_minimax),
    "nonsaturating": (discriminator_loss, generator_loss_nonsaturating),
    "least_squares": (least_squares_d_loss, least_squares_g_loss),
    "wasserstein": (wasserstein_critic_loss, wasserstein_generator_loss),
}


def adversarial_losses(name: str):
    """The (L_D, L_G) pair called ``name``, with a clear error for a typo."""
    try:
        return ADVERSARIAL_LOSSES[name]
    except KeyError:
        raise ValueError(f"Unknown loss {name!r}; choose one of {sorted(ADVERSARIAL_LOSSES)}.") from None
