"""Every loss in gan_lab, as small pure functions named after their paper's symbols.

- ``adversarial``: the GAN, LSGAN and WGAN(-GP) losses and ``adversarial_losses(name)``.
- ``variants``: InfoGAN's mutual-information bound, the semi-supervised GAN's losses, feature matching.
- ``reconstruction``: k-space, image-domain and perceptual losses of the reconstruction and denoising GANs.
- ``translation``: CycleGAN's cycle-consistency and identity losses.
- ``segmentation``: SegAN's multi-scale L1 (ℓ_mae) and soft Dice.

The adversarial losses are re-exported here, so ``from gan_lab.losses import discriminator_loss`` works.
"""

from .adversarial import (
    ADVERSARIAL_LOSSES,
    adversarial_losses,
    discriminator_loss,
    generator_loss_minimax,
    generator_loss_nonsaturating,
    gradient_penalty,
    least_squares_d_loss,
    least_squares_g_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)

__all__ = ["ADVERSARIAL_LOSSES", "adversarial_losses", "discriminator_loss", "generator_loss_minimax",
           "generator_loss_nonsaturating", "gradient_penalty", "least_squares_d_loss", "least_squares_g_loss",
           "wasserstein_critic_loss", "wasserstein_generator_loss"]
