"""Losses of the GAN variants of notebook 09: InfoGAN's mutual-information term and the SGAN's K+1-class losses.

Pure functions on logits, like :mod:`gan_lab.losses`. Log-probabilities are
written with log-sum-exp (``torch.logsumexp``) so they stay finite however
confident the networks become.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# --------------------------------------------------------------------------- InfoGAN (Chen et al. 2016)
def categorical_code_nll(c_logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """−E[log Q(c | x)] for a categorical code: the cross-entropy of Q's logits (B, K) with the codes c (B,)."""
    return F.cross_entropy(c_logits, c)


def gaussian_code_nll(mean: torch.Tensor, log_var: torch.Tensor, c_cont: torch.Tensor) -> torch.Tensor:
    """−E[log Q(c_cont | x)] for a factored Gaussian Q = N(mean, exp(log_var)), summed over codes.

        −log N(c; μ, σ²) = ½ log(2π) + ½ log σ² + (c − μ)² / (2σ²)

    Args:
        mean, log_var, c_cont: (B, m). With log_var = 0 this is ½ (c − μ)² + const: a plain MSE.

    Returns:
        The batch mean of the sum over the m codes (a scalar).
    """
    nll = 0.5 * (math.log(2 * math.pi) + log_var + (c_cont - mean) ** 2 * torch.exp(-log_var))
    return nll.sum(dim=1).mean()


def info_loss(c_logits: torch.Tensor, c: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor,
              c_cont: torch.Tensor, continuous_weight: float = 1.0) -> torch.Tensor:
    """InfoGAN's L_I up to constants: −E[log Q(c|x)] − w · E[log Q(c_cont|x)], x = G(z, c, c_cont).

    Minimising it over G and Q maximises the variational lower bound
    L_I(G, Q) = E[log Q(c | x)] + H(c) ≤ I(c; G(z, c)); H(c) does not depend
    on G or Q and is left out. ``continuous_weight`` scales the Gaussian part
    (the paper uses a smaller λ for continuous codes, whose NLL has a
    different scale than a cross-entropy).
    """
    return categorical_code_nll(c_logits, c) + continuous_weight * gaussian_code_nll(mean, log_var, c_cont)


def categorical_mi_lower_bound(c_logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """L_I for a uniform categorical code, in nats: H(c) − CE = log K − E[−log Q(c|x)] ≤ I(c; x) ≤ log K.

    0 means Q cannot read c from the image better than guessing; log K means
    it reads every code perfectly (G writes c into its images unmistakably).
    """
    return math.log(c_logits.shape[1]) - categorical_code_nll(c_logits, c)


# ------------------------------------------------------------- SGAN (Odena 2016; Salimans et al. 2016)
def _log_p_real(logits: torch.Tensor) -> torch.Tensor:
    """log(1 − p(fake | x)) = log Σ_{k<K} e^{l_k} − log Σ_{k≤K} e^{l_k}, per row of logits (B, K+1)."""
    return torch.logsumexp(logits[:, :-1], dim=1) - torch.logsumexp(logits, dim=1)


def sgan_supervised_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L_supervised = −E_{x,y labelled}[log p(y | x, y < K+1)]: cross-entropy over the K real classes only."""
    return F.cross_entropy(logits[:, :-1], y)


def sgan_unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """L_unsupervised = −E_x[log(1 − p(K+1 | x))] − E_z[log p(K+1 | G(z))].

    Real images (labelled or not) must fall into *some* real class, generated
    ones into the fake class K+1 (the last column of the logits (B, K+1)).
    """
    log_p_fake = fake_logits[:, -1] - torch.logsumexp(fake_logits, dim=1)
    return -_log_p_real(real_logits).mean() - log_p_fake.mean()


def sgan_discriminator_loss(labelled_logits: torch.Tensor, y: torch.Tensor, unlabelled_logits: torch.Tensor,
                            fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_supervised, L_unsupervised) of Salimans et al. (2016), §5; D minimises their sum."""
    return sgan_supervised_loss(labelled_logits, y), sgan_unsupervised_loss(unlabelled_logits, fake_logits)


def sgan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: −E_z[log(1 − p(K+1 | G(z)))], "let D put my images in a real class"."""
    return -_log_p_real(fake_logits).mean()


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E_x f(x) − E_z f(G(z))‖² on D's intermediate features (B, F) (Salimans et al. 2016, §3.1)."""
    return (real_features.mean(dim=0) - fake_features.mean(dim=0)).pow(2).sum()
