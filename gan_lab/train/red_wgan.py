"""RED-WGAN (Ran et al. 2019): 3-D MR denoising with a residual encoder–decoder G and a WGAN-GP critic.

A denoiser trained with the voxel-wise MSE alone returns the conditional mean of
the clean volume: the best PSNR, but blurred edges. Ran et al. add a 3-D critic C
that judges whether a volume looks like a clean one:

    L_G = λ_mse · ‖G(y) − x‖² + λ_adv · (−E_y[C(G(y))])        (+ λ_p · perceptual, left out here)
    L_C = E_y[C(G(y))] − E_x[C(x)] + λ_gp · E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²]

with y the noisy volume (Rician noise of level σ), trained on 3-D patches. Each step
draws fresh patches and a fresh noise realisation, so G never sees the same noisy
patch twice. ``lambda_adv = 0`` trains the same G with MSE alone: the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.volumes import add_noise, random_patches
from ..device import get_device
from ..losses import wasserstein_generator_loss
from ..models.red3d import Critic3D, RED3DGenerator
from .common import Run, TrainConfig, begin, fingerprint_entry, fit_run, frozen, in_batches, load_or_train, load_run
from .loop import sample_batch
from .wgan import c_step as wgan_c_step  # the WGAN-GP critic update, reused


@dataclass
class RedWGANConfig(TrainConfig):
    """A RED-WGAN run (``lambda_adv = 0``: the MSE-only RED-CNN baseline, no critic).

    Attributes:
        lambda_adv: weight of the WGAN term (0: MSE only). Ran et al.'s official code
            (github.com/Deep-Imaging-Group/RED-WGAN) uses 10⁻³, next to a VGG-19 perceptual term of weight 0.1.
        lambda_mse: weight of the voxel-wise MSE (official code: 1).
        sigma, noise: noise level (relative to the intensity range) and kind, "rician" (MR) or "gaussian".
        width, depth: G's channels and encoder layers (official code: 4 layers of 32, 64, 128, 256 channels);
            critic_width: C's first channels.
        patch: side of the training cubes (official code: 32 × 32 patches, 6 slices deep; G is fully convolutional).
        batch_size, num_steps: patches per step and G updates.
        n_critic, lambda_gp: critic updates per G update and the penalty weight.
        lr, lr_C: Adam's learning rates of G and C (β2 = 0.9, as for WGAN-GP).
        The loop fields, Adam's betas and the seed (for weights, patches and noise): see ``TrainConfig``.
    """

    key = "red_wgan"

    lambda_adv: float = 1e-2
    lambda_mse: float = 1.0
    sigma: float = 0.1
    noise: str = "rician"
    width: int = 16
    depth: int = 3
    critic_width: int = 16
    patch: int = 16
    batch_size: int = 8
    num_steps: int = 400
    n_critic: int = 2
    lambda_gp: float = 10.0
    lr: float = 1e-3
    lr_C: float = 1e-3
    beta2: float = 0.9
    checkpoint_every: int = 200

    def __post_init__(self):
        super().__post_init__()
        if self.lambda_mse <= 0:
            raise ValueError(f"lambda_mse must be > 0 (the fidelity term), not {self.lambda_mse}.")
        if self.noise not in ("rician", "gaussian") or self.sigma <= 0:
            raise ValueError(f"noise must be 'rician' or 'gaussian' and sigma > 0; got {self.noise!r}, {self.sigma}.")
        if self.patch <= 2 * self.depth or self.patch < 8:
            raise ValueError(f"patch must be ≥ 8 and > 2·depth; got patch={self.patch}, depth={self.depth}.")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be ≥ 1, not {self.n_critic}.")


def build_red_wgan(config: RedWGANConfig, channels: int = 1) -> tuple[nn.Module, nn.Module | None]:
    """A fresh G and, when λ_adv > 0, a critic C."""
    torch.manual_seed(config.seed)
    G = RED3DGenerator(channels, config.width, config.depth)
    return G, Critic3D(channels, config.critic_width) if config.lambda_adv else None


def g_step(G: nn.Module, C: nn.Module | None, opt_G: torch.optim.Optimizer, noisy: torch.Tensor,
           clean: torch.Tensor, config: RedWGANConfig) -> dict[str, torch.Tensor]:
    """One G update on patches (B, C, p, p, p): descend λ_mse · MSE(G(y), x) + λ_adv · (−E[C(G(y))]).

    C is held fixed (None: MSE only). Returns ``mse``, ``loss_adv`` (with C) and ``loss_G``, detached.
    """
    with frozen(C):  # the gradient flows through C into G; C's weights get none
        denoised = G(noisy)
        mse = F.mse_loss(denoised, clean)
        loss_G, out = config.lambda_mse * mse, {"mse": mse.detach()}
        if C is not None:
            loss_adv = wasserstein_generator_loss(C(denoised))
            loss_G = loss_G + config.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return out | {"loss_G": loss_G.detach()}


def noisy_patches(clean: torch.Tensor, config: RedWGANConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of clean patches from volumes (N, C, D, H, W) and a fresh noisy version of each."""
    x = random_patches(sample_batch(clean, config.batch_size), config.patch)
    return add_noise(x, config.sigma, config.noise), x


@dataclass
class RedWGANRun(Run):
    """A trained 3-D denoiser: G, the critic C (None for MSE only), and what every run holds (see ``Run``)."""

    G: nn.Module
    C: nn.Module | None = None

    def denoise(self, noisy: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """G(y) for whole volumes (N, C, D, H, W), in batches, on the CPU."""
        return in_batches(self.G, noisy, batch_size=batch_size)


def checkpoint_meta(config: RedWGANConfig, clean: torch.Tensor, data_name: str = "tensor") -> dict:
    """The JSON stored with a RED-WGAN checkpoint: the config and what the volumes were."""
    return {**config.checkpoint_entry(), "data": data_name, "num_volumes": clean.shape[0],
            "shape": list(clean.shape[1:]), **fingerprint_entry(clean)}


def train_red_wgan(clean: torch.Tensor, config: RedWGANConfig | None = None, *, device=None,
                   checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(), stop_event=None,
                   progress: bool = True, data_name: str = "tensor") -> RedWGANRun:
    """Train G to remove ``config.noise`` noise of level ``config.sigma`` from patches of ``clean`` (N, C, D, H, W).

    Args:
        clean: clean volumes (N, C, D, H, W); every step cuts fresh patches and adds fresh noise.
        config: a ``RedWGANConfig``; ``lambda_adv=0`` trains the MSE-only baseline.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        data_name: what the volumes are, stored with the checkpoint so that a cache notices other data.

    Example:
        >>> vols = gan_lab.data.volumes.load_volumes("adrenalmnist3d").images  # doctest: +SKIP
        >>> run = train_red_wgan(vols, RedWGANConfig(num_steps=300))
    """
    config = config or RedWGANConfig()
    if clean.dim() != 5 or min(clean.shape[-3:]) < config.patch:
        raise ValueError(f"Expected volumes (N, C, D, H, W) with every side ≥ patch={config.patch}; "
                         f"got {tuple(clean.shape)}.")
    device = get_device(device)
    x_all = clean.to(device)
    G, C = build_red_wgan(config, clean.shape[1])
    run = RedWGANRun(G.to(device), C.to(device) if C is not None else None, config=config, data_name=data_name)
    models = {"G": G} | ({"C": C} if C is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr, "C": config.lr_C})

    def step_fn(step: int) -> dict:
        out = {}
        for _ in range(config.n_critic if C is not None else 0):
            noisy, real = noisy_patches(x_all, config)
            with torch.no_grad():
                fake = G(noisy)  # G is fixed during C's update
            out = wgan_c_step(C, optimizers["C"], real, fake, lambda_gp=config.lambda_gp)
        noisy, real = noisy_patches(x_all, config)
        return out | g_step(G, C, optimizers["G"], noisy, real, config)

    return fit_run(run, step_fn, models, checkpoint_meta(config, clean, data_name),
                   desc="RED-WGAN" if C is not None else "RED-CNN (MSE only)", checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=callbacks, stop_event=stop_event, progress=progress)


def load_red_wgan(directory: str | Path, device=None) -> RedWGANRun:
    """The RedWGANRun saved in ``directory`` (G, and C unless it was trained with MSE only)."""
    return load_run(directory, RedWGANRun, RedWGANConfig, {"G"}, "a RED-WGAN", device)


def load_or_train_red_wgan(directory: str | Path, clean: torch.Tensor, config: RedWGANConfig, *, device=None,
                           retrain: bool = False, data_name: str = "tensor", **train_options) -> RedWGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``data_name`` is part of what is compared.
    ``train_options`` go to :func:`train_red_wgan` (``callbacks``, ``progress``, ``stop_event``).
    """
    return load_or_train(directory, config, checkpoint_meta(config, clean, data_name),
                         partial(train_red_wgan, clean, config, device=device, data_name=data_name, **train_options),
                         partial(load_red_wgan, device=device), retrain=retrain)
