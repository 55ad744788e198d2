"""Low-dose denoising: a U-Net G trained with MSE alone, or as a WGAN-GP with a perceptual loss.

Yang et al. (2018) ("WGAN-VGG") observed that a denoiser trained with the
mean squared error returns the *average* of all clean images compatible with
the noisy one: high PSNR, but over-smoothed images that can hide important
structural detail.
They trained G instead with

    L_G = −E_y[C(G(y))] + λ_P · L_P(G(y), x),
    L_P = 1/(c·h·w) ‖φ(G(y)) − φ(x)‖²_F,

where C is a WGAN-GP critic that judges whether an image looks like a
normal-dose one, and φ is a fixed feature extractor (VGG-19 in the paper).
gan_lab uses its own domain feature network instead (see
``gan_lab.metrics.features``), cut after an intermediate conv stage by
:func:`conv_features`; nothing is downloaded.

The three weights in :class:`DenoiseConfig` cover the paper's variants:
MSE-only (``lambda_adv=0, lambda_perceptual=0, lambda_mse=1``), WGAN-VGG (the
defaults), WGAN-MSE, CNN-VGG. The paper weighs the terms 1 : 0.1 for VGG
features, trained for 100 epochs in the code published with it
(github.com/yyqqss09/ldct_denoising); with gan_lab's feature network and a few hundred
steps, an adversarial term that strong out-runs the critic and paints
checkerboard artefacts, so the defaults are λ_adv = 0.1, λ_P = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ..losses import wasserstein_generator_loss
from ..losses.reconstruction import perceptual_loss
from ..models.dcgan import DCGANDiscriminator
from ..models.unet import UNet
from .common import Run, TrainConfig, begin, fingerprint_entry, fit_run, frozen, in_batches, load_or_train, load_run
from .loop import sample_batch
from .wgan import c_step as wgan_c_step  # the WGAN-GP critic update, reused


@dataclass
class DenoiseConfig(TrainConfig):
    """A denoising run: L_G = λ_adv·(−E[C(G(y))]) + λ_P·L_P + λ_mse·MSE (defaults: WGAN-VGG, see above).

    Attributes:
        lambda_adv: weight of the WGAN-GP adversarial term (0: no critic is trained; paper: 1).
        lambda_perceptual: λ_P, weight of the feature-space loss (paper: 0.1 with VGG features).
        lambda_mse: weight of the pixel MSE (1 with the others 0: the MSE-only baseline).
        width: U-Net width; critic_width: width of C (a DCGAN critic, no batch norm).
        n_critic, lambda_gp: critic updates per G update and the penalty weight λ.
        lr, lr_C: Adam learning rates of G and C. The critic's is higher (the two time-scale
            rule of Heusel et al. 2017) so that it keeps ahead of G in a short training.
        beta2: Adam's β2 for both networks (the paper's code: β = (0.5, 0.9)).
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "denoise"

    lambda_adv: float = 0.1
    lambda_perceptual: float = 1.0
    lambda_mse: float = 0.0
    width: int = 32
    critic_width: int = 32
    n_critic: int = 5
    lambda_gp: float = 10.0
    lr: float = 1e-4
    lr_C: float = 4e-4
    beta2: float = 0.9

    def __post_init__(self):
        super().__post_init__()
        if not (self.lambda_adv or self.lambda_perceptual or self.lambda_mse):
            raise ValueError("The loss weights lambda_adv, lambda_perceptual and lambda_mse must be not all 0 "
                             "(G would learn nothing); set one > 0, e.g. lambda_mse=1.")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be ≥ 1, not {self.n_critic}.")


def conv_features(trunk: nn.Sequential, stages: int = 2) -> nn.Sequential:
    """φ_l: the layers of a CNN ``trunk`` up to its ``stages``-th ReLU, frozen, in eval mode.

    For gan_lab's domain feature network pass ``feature_net(name).classifier.trunk``;
    stage 2 keeps 14×14 maps of a 28 px image, so L_P compares local texture
    rather than the classifier's global verdict.

    Example:
        >>> phi = conv_features(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU()), 1)
        >>> len(phi)
        2
    """
    layers, relus = [], 0
    for layer in trunk:
        layers.append(layer)
        relus += isinstance(layer, nn.ReLU)
        if relus == stages:
            phi = nn.Sequential(*layers).eval()
            return phi.requires_grad_(False)
    raise ValueError(f"The trunk has {relus} ReLU stages; asked for {stages}.")


def build_denoiser(config: DenoiseConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module | None]:
    """A fresh U-Net G and, when λ_adv > 0, a DCGAN critic C without batch norm.

    C keeps PyTorch's default initialisation: DCGAN's N(0, 0.02) starts it with input gradients
    of norm ≈ 0.02 (28 px, width 32), and the penalty then spends hundreds of steps lifting them towards 1.
    """
    torch.manual_seed(config.seed)
    G = UNet(channels, channels, width=config.width, size=size)
    if not config.lambda_adv:
        return G, None
    return G, DCGANDiscriminator(channels, size, config.critic_width, critic=True)


def g_step(G: nn.Module, C: nn.Module | None, opt_G: torch.optim.Optimizer, noisy: torch.Tensor,
           clean: torch.Tensor, config: DenoiseConfig, phi: nn.Module | None) -> dict[str, torch.Tensor]:
    """One update of G on a pair batch (B, C, H, W): descend λ_adv·(−E[C(G(y))]) + λ_P·L_P + λ_mse·MSE.

    Args:
        C: the critic, held fixed (None without the adversarial term).
        noisy, clean: the low-dose inputs y and their normal-dose targets x.
        phi: the fixed feature extractor φ of L_P (None without the perceptual term).

    Returns:
        Every term computed (the MSE always, for monitoring) and ``loss_G``: detached scalars.
    """
    with frozen(C):  # the gradient flows through C into G; C's weights get none
        denoised = G(noisy)
        mse = F.mse_loss(denoised, clean)
        out = {"mse": mse.detach()}
        loss_G = config.lambda_mse * mse
        if config.lambda_adv:
            loss_adv = wasserstein_generator_loss(C(denoised))
            loss_G = loss_G + config.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
        if config.lambda_perceptual:
            loss_P = perceptual_loss(phi, denoised, clean)
            loss_G = loss_G + config.lambda_perceptual * loss_P
            out["loss_P"] = loss_P.detach()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    out["loss_G"] = loss_G.detach()
    return out


@dataclass
class DenoiseRun(Run):
    """A trained denoiser: G, the critic C (None for MSE-only), and what every run holds (see ``Run``)."""

    G: nn.Module
    C: nn.Module | None = None

    def denoise(self, noisy: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """G(y) for low-dose images (N, C, H, W) in [-1, 1], in batches, on the CPU."""
        return in_batches(self.G, noisy, batch_size=batch_size)


def checkpoint_meta(config: DenoiseConfig, noisy: torch.Tensor, clean: torch.Tensor) -> dict:
    """The JSON stored with a denoiser's checkpoint: the config, the images' count and shape, and the pairs'
    fingerprint."""
    return {**config.checkpoint_entry(), "num_images": noisy.shape[0], "channels": noisy.shape[1],
            "size": noisy.shape[-1], **fingerprint_entry(noisy, clean)}


def train_denoiser(noisy: torch.Tensor, clean: torch.Tensor, config: DenoiseConfig | None = None, *,
                   phi: nn.Module | None = None, device=None, checkpoint_dir: str | Path | None = None,
                   resume: bool = False, callbacks=(), stop_event=None, progress: bool = True) -> DenoiseRun:
    """Train a U-Net to map low-dose images ``noisy`` to ``clean`` (both (N, C, H, W) in [-1, 1]).

    Args:
        phi: the frozen feature extractor of L_P (e.g. ``conv_features(...)``); needed when λ_P > 0.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.

    Example:
        >>> phi = conv_features(feature_net("pneumoniamnist").classifier.trunk)  # doctest: +SKIP
        >>> run = train_denoiser(low_dose_pairs(clean), clean, DenoiseConfig(), phi=phi)  # doctest: +SKIP
    """
    config = config or DenoiseConfig()
    if noisy.dim() != 4 or noisy.shape != clean.shape:
        raise ValueError(f"Expected noisy and clean images of the same shape (N, C, H, W); got "
                         f"{tuple(noisy.shape)} and {tuple(clean.shape)}.")
    if config.lambda_perceptual and phi is None:
        raise ValueError("lambda_perceptual > 0 needs a feature extractor: pass phi=conv_features("
                         "gan_lab.metrics.features.feature_net(name).classifier.trunk), or set lambda_perceptual=0.")
    device = get_device(device)
    y, x = noisy.to(device), clean.to(device)
    phi = phi.to(device) if phi is not None else None
    G, C = build_denoiser(config, x.shape[1], x.shape[-1])
    run = DenoiseRun(G.to(device), C.to(device) if C is not None else None, config=config)
    models = {"G": G} | ({"C": C} if C is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr, "C": config.lr_C})

    def step_fn(step: int) -> dict:
        out = {}
        for _ in range(config.n_critic if C is not None else 0):
            real, pair = sample_batch(x, config.batch_size, y)  # unpaired for C: it only judges realism
            with torch.no_grad():
                fake = G(pair)  # G is fixed during C's update
            out = wgan_c_step(C, optimizers["C"], real, fake, lambda_gp=config.lambda_gp)
        clean_batch, noisy_batch = sample_batch(x, config.batch_size, y)
        return out | g_step(G, C, optimizers["G"], noisy_batch, clean_batch, config, phi)

    return fit_run(run, step_fn, models, checkpoint_meta(config, noisy, clean),
                   desc="denoiser" + (" (WGAN-GP)" if C is not None else ""), checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=callbacks, stop_event=stop_event, progress=progress)


def load_denoiser(directory: str | Path, device=None) -> DenoiseRun:
    """The DenoiseRun saved in ``directory`` (G, and C unless it was trained without the adversarial term)."""
    return load_run(directory, DenoiseRun, DenoiseConfig, {"G"}, "a denoiser", device)


def load_or_train_denoiser(directory: str | Path, noisy: torch.Tensor, clean: torch.Tensor, config: DenoiseConfig,
                           *, device=None, retrain: bool = False, **train_options) -> DenoiseRun:
    """Load the denoiser cached in ``directory`` if it was trained with this config, else train it there.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` go to :func:`train_denoiser`
    (``phi``, ``callbacks``, ``progress``, ``stop_event``).
    """
    return load_or_train(directory, config, checkpoint_meta(config, noisy, clean),
                         partial(train_denoiser, noisy, clean, config, device=device, **train_options),
                         partial(load_denoiser, device=device), retrain=retrain)
