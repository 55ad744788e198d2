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

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoints
from ..data.volumes import add_noise, random_patches
from ..device import get_device
from ..losses import wasserstein_generator_loss
from ..models.red3d import Critic3D, RED3DGenerator
from .gan import LOOP_ONLY_FIELDS
from .loop import fit, sample_batch
from .wgan import critic_step_gp


@dataclass
class RedWGANConfig:
    """A RED-WGAN run (``lambda_adv = 0``: the MSE-only RED-CNN baseline, no critic).

    Attributes:
        lambda_adv: weight of the WGAN term (paper: 10⁻³ next to a perceptual term; 0: MSE only).
        lambda_mse: weight of the voxel-wise MSE (paper: 1).
        sigma, noise: noise level (relative to the intensity range) and kind, "rician" (MR) or "gaussian".
        width, depth: G's channels and encoder layers (paper: 32 and 4); critic_width: C's first channels.
        patch: side of the training cubes (paper: 32³; G is fully convolutional).
        batch_size, num_steps: patches per step and G updates.
        n_critic, lambda_gp: critic updates per G update and the penalty weight.
        lr, lr_C, beta1, beta2: Adam settings of G and C.
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``).
        seed: seed for weights, patches and noise.
    """

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
    beta1: float = 0.5
    beta2: float = 0.9
    log_every: int = 10
    checkpoint_every: int = 200
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        if self.lambda_adv < 0 or self.lambda_mse <= 0:
            raise ValueError(f"Need lambda_adv ≥ 0 and lambda_mse > 0; got {self.lambda_adv}, {self.lambda_mse}.")
        if self.noise not in ("rician", "gaussian") or self.sigma <= 0:
            raise ValueError(f"noise must be 'rician' or 'gaussian' and sigma > 0; got {self.noise!r}, {self.sigma}.")
        if self.patch <= 2 * self.depth or self.patch < 8:
            raise ValueError(f"patch must be ≥ 8 and > 2·depth; got patch={self.patch}, depth={self.depth}.")
        if self.n_critic < 1 or self.batch_size < 1 or self.num_steps < 0:
            raise ValueError("n_critic and batch_size must be ≥ 1 and num_steps ≥ 0.")


def build_red_wgan(config: RedWGANConfig, channels: int = 1) -> tuple[nn.Module, nn.Module | None]:
    """A fresh G and, when λ_adv > 0, a critic C."""
    torch.manual_seed(config.seed)
    G = RED3DGenerator(channels, config.width, config.depth)
    return G, Critic3D(channels, config.critic_width) if config.lambda_adv else None


def g_step(G: nn.Module, C: nn.Module | None, opt_G: torch.optim.Optimizer, noisy: torch.Tensor,
           clean: torch.Tensor, config: RedWGANConfig) -> dict[str, torch.Tensor]:
    """One G update on patches (B, C, p, p, p): descend λ_mse · MSE(G(y), x) + λ_adv · (−E[C(G(y))])."""
    denoised = G(noisy)
    mse = F.mse_loss(denoised, clean)
    loss_G, out = config.lambda_mse * mse, {"mse": mse.detach()}
    if C is not None:
        loss_adv = wasserstein_generator_loss(C(denoised))
        loss_G = loss_G + config.lambda_adv * loss_adv
        out["loss_adv"] = loss_adv.detach()
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()  # C's weights get gradients too; only opt_G steps, and C's are reset before its next step
    opt_G.step()
    return out | {"loss_G": loss_G.detach()}


def noisy_patches(clean: torch.Tensor, config: RedWGANConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of clean patches from volumes (N, C, D, H, W) and a fresh noisy version of each."""
    x = random_patches(sample_batch(clean, config.batch_size), config.patch)
    return add_noise(x, config.sigma, config.noise), x


@dataclass
class RedWGANRun:
    """A trained 3-D denoiser: G, the critic C (None for MSE only), history and config."""

    G: nn.Module
    C: nn.Module | None
    history: dict
    config: RedWGANConfig
    checkpoint_dir: Path | None = None

    @torch.inference_mode()
    def denoise(self, noisy: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """G(y) for whole volumes (N, C, D, H, W), in batches, on the CPU."""
        device = next(self.G.parameters()).device
        self.G.eval()
        return torch.cat([self.G(noisy[i:i + batch_size].to(device)).cpu()
                          for i in range(0, noisy.shape[0], batch_size)])


def _meta(config: RedWGANConfig, clean: torch.Tensor, data_name: str) -> dict:
    return {"red_wgan": dataclasses.asdict(config), "data": data_name, "num_volumes": clean.shape[0],
            "shape": list(clean.shape[1:])}


def train_red_wgan(clean: torch.Tensor, config: RedWGANConfig | None = None, *, device=None,
                   checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
                   progress: bool = True, data_name: str = "tensor") -> RedWGANRun:
    """Train G to remove ``config.noise`` noise of level ``config.sigma`` from patches of ``clean`` (N, C, D, H, W).

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
    models = {"G": G.to(device).train()} | ({"C": C.to(device).train()} if C is not None else {})
    lrs, betas = {"G": config.lr, "C": config.lr_C}, (config.beta1, config.beta2)
    optimizers = {name: torch.optim.Adam(m.parameters(), lrs[name], betas=betas) for name, m in models.items()}
    torch.manual_seed(config.seed)

    def step_fn(step: int) -> dict:
        out = {}
        for _ in range(config.n_critic if C is not None else 0):
            noisy, real = noisy_patches(x_all, config)
            with torch.no_grad():
                fake = G(noisy)
            out = critic_step_gp(C, optimizers["C"], real, fake, config.lambda_gp)
        noisy, real = noisy_patches(x_all, config)
        return out | g_step(G, C, optimizers["G"], noisy, real, config)

    history = fit(step_fn, config.num_steps, models=models, optimizers=optimizers,
                  config=_meta(config, clean, data_name), checkpoint_dir=checkpoint_dir,
                  checkpoint_every=config.checkpoint_every, resume=resume, log_every=config.log_every,
                  callbacks=callbacks, callback_every=config.callback_every, progress=progress,
                  desc="RED-WGAN" if C is not None else "RED-CNN (MSE only)")
    for model in models.values():
        model.eval()
    return RedWGANRun(G, C, history, config, Path(checkpoint_dir) if checkpoint_dir else None)


def load_or_train_red_wgan(directory: str | Path, clean: torch.Tensor, config: RedWGANConfig, *, device=None,
                           progress: bool = True, data_name: str = "tensor") -> RedWGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it."""
    status = checkpoints.cache_status(directory, _meta(config, clean, data_name), num_steps=config.num_steps,
                                      ignore=tuple(f"red_wgan.{k}" for k in LOOP_ONLY_FIELDS))
    if status == "load":
        ckpt = checkpoints.load_checkpoint(directory, device=device)
        return RedWGANRun(ckpt.models["G"], ckpt.models.get("C"), ckpt.history, config, Path(directory))
    return train_red_wgan(clean, config, device=device, checkpoint_dir=directory, resume=status == "resume",
                          progress=progress, data_name=data_name)
