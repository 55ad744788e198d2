"""Wasserstein GANs as step functions: weight clipping (WGAN) and gradient penalty (WGAN-GP).

The critic C is not a classifier: it returns an unbounded score, and
E_x[C(x)] − E_z[C(G(z))] estimates the Wasserstein-1 distance between the
data and the generator when C is 1-Lipschitz (Kantorovich–Rubinstein duality).
The two papers differ only in how they keep C Lipschitz:

* Arjovsky et al. (2017), Algorithm 1: clip every weight of C to [−c, c]
  after each update; RMSprop (lr 5e-5), because momentum destabilised it.
* Gulrajani et al. (2017), Algorithm 1: add λ·E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²] on random
  interpolates x̂ (``gan_lab.losses.gradient_penalty``); Adam(lr 1e-4, β = (0, 0.9));
  no batch norm in C, since the penalty is per sample.

Both take ``n_critic`` critic steps per generator step, so the critic stays
close to optimal and its estimate means something.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .. import checkpoints
from ..data.base import ImageData
from ..device import get_device
from ..losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from ..models.mlp import MLPDiscriminator, MLPGenerator
from .gan import LOOP_ONLY_FIELDS, GANRun
from .gan import checkpoint_meta as gan_checkpoint_meta
from .loop import fit, sample_batch
from .memory_format import channels_last_on_cpu

MODES = ("clip", "gp")


@dataclass
class WGANConfig:
    """Everything that defines a WGAN run (notebooks override by keyword).

    Attributes:
        mode: "clip" (Arjovsky et al. 2017) or "gp" (Gulrajani et al. 2017).
        arch: "dcgan" (G as in notebook 02, C = DCGAN discriminator without batch norm) or "mlp".
        z_dim, width, batch_size: as in ``GANConfig``.
        num_steps: generator updates.
        n_critic: critic updates per generator update (both papers: 5).
        clip_value: c, the weight-clipping bound (mode "clip"; paper: 0.01).
        lambda_gp: λ, the gradient-penalty weight (mode "gp"; paper: 10).
        lr: learning rate of both networks; None picks the paper's: 5e-5 (clip) or 1e-4 (gp).
        beta1, beta2: Adam's betas in mode "gp" (paper: 0, 0.9). Mode "clip" uses RMSprop.
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``).
        seed: seed for weights and sampling.
    """

    mode: str = "gp"
    arch: str = "dcgan"
    z_dim: int = 64
    width: int = 32
    batch_size: int = 64
    num_steps: int = 2000
    n_critic: int = 5
    clip_value: float = 0.01
    lambda_gp: float = 10.0
    lr: float | None = None
    beta1: float = 0.0
    beta2: float = 0.9
    log_every: int = 10
    checkpoint_every: int = 500
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'clip' (weight clipping) or 'gp' (gradient penalty), not {self.mode!r}.")
        if self.arch not in ("dcgan", "mlp"):
            raise ValueError(f"arch must be 'dcgan' or 'mlp', not {self.arch!r}.")
        if self.n_critic < 1 or self.batch_size < 1 or self.num_steps < 0:
            raise ValueError("n_critic and batch_size must be ≥ 1 and num_steps ≥ 0.")
        if self.clip_value <= 0 or self.lambda_gp < 0:
            raise ValueError(f"clip_value must be > 0 and lambda_gp ≥ 0; got {self.clip_value}, {self.lambda_gp}.")
        if self.lr is None:  # resolved here so the stored config holds the number actually used
            self.lr = 5e-5 if self.mode == "clip" else 1e-4


def build_wgan(config: WGANConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, C) pair for images (channels, size, size); C has no sigmoid and no batch norm.

    G gets DCGAN's N(0, 0.02) initialisation; C keeps PyTorch's default one: with N(0, 0.02) its
    input gradients start at norm ≈ 0.01, and the penalty spends hundreds of steps lifting them to 1.
    """
    torch.manual_seed(config.seed)
    if config.arch == "mlp":
        G = MLPGenerator(config.z_dim, (channels, size, size), width=config.width * 8)
        C = MLPDiscriminator((channels, size, size), width=config.width * 8)
        return G, C
    G = DCGANGenerator(config.z_dim, channels, size, config.width)
    G.apply(init_dcgan_weights)
    return G, DCGANDiscriminator(channels, size, config.width, critic=True)


def make_optimizers(G: nn.Module, C: nn.Module, config: WGANConfig) -> dict[str, torch.optim.Optimizer]:
    """RMSprop for weight clipping, Adam(β1 = 0, β2 = 0.9) for the gradient penalty, as in the papers."""
    if config.mode == "clip":
        return {"G": torch.optim.RMSprop(G.parameters(), config.lr),
                "C": torch.optim.RMSprop(C.parameters(), config.lr)}
    betas = (config.beta1, config.beta2)
    return {"G": torch.optim.Adam(G.parameters(), config.lr, betas=betas),
            "C": torch.optim.Adam(C.parameters(), config.lr, betas=betas)}


@torch.no_grad()
def clip_weights_(C: nn.Module, clip_value: float) -> None:
    """w ← clip(w, −c, c) for every parameter of C (WGAN's crude way to bound its Lipschitz constant)."""
    for p in C.parameters():
        p.clamp_(-clip_value, clip_value)


def critic_step_clip(C: nn.Module, opt_C: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                     clip_value: float) -> dict[str, torch.Tensor]:
    """One WGAN critic update: descend L_C = E[C(G(z))] − E[C(x)], then clip every weight to [−c, c].

    Args:
        real, fake: batches (B, ...) of data and of G's output (detached: G is fixed here).

    Returns:
        ``loss_C`` and ``W_estimate`` = E[C(x)] − E[C(G(z))] = −L_C, on this batch before the update.
    """
    loss_C = wasserstein_critic_loss(C(real), C(fake))
    opt_C.zero_grad(set_to_none=True)
    loss_C.backward()
    opt_C.step()
    clip_weights_(C, clip_value)  # after the step, so C always satisfies the constraint
    return {"loss_C": loss_C.detach(), "W_estimate": -loss_C.detach()}


def critic_step_gp(C: nn.Module, opt_C: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                   lambda_gp: float) -> dict[str, torch.Tensor]:
    """One WGAN-GP critic update: descend L_C = E[C(G(z))] − E[C(x)] + λ·E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²].

    Args:
        real, fake: batches (B, ...) of data and of G's output (detached: G is fixed here).

    Returns:
        ``loss_C`` (with the penalty), ``W_estimate`` = E[C(x)] − E[C(G(z))] (without it) and ``gp``.
    """
    w_loss = wasserstein_critic_loss(C(real), C(fake))
    gp = gradient_penalty(C, real, fake)
    loss_C = w_loss + lambda_gp * gp
    opt_C.zero_grad(set_to_none=True)
    loss_C.backward()  # through the penalty too: create_graph=True made ∇_x̂ C differentiable in C's weights
    opt_C.step()
    return {"loss_C": loss_C.detach(), "W_estimate": -w_loss.detach(), "gp": gp.detach()}


def generator_step(G: nn.Module, C: nn.Module, opt_G: torch.optim.Optimizer,
                   z: torch.Tensor) -> dict[str, torch.Tensor]:
    """One generator update on noise z (B, z_dim): descend L_G = −E_z[C(G(z))]."""
    loss_G = wasserstein_generator_loss(C(G(z)))
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()  # gradients reach C's weights too, but only opt_G steps (C's are reset before its next step)
    opt_G.step()
    return {"loss_G": loss_G.detach()}


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x̂ = ε·x + (1 − ε)·G(z) with one ε ~ U[0, 1] per sample, shape of ``real``."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def critic_gradient_norms(C: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """‖∇_x C(x)‖₂ per sample, (B,): 1 along the transport paths for an optimal critic.

    For monitoring only (no graph is kept); pass ``interpolates(real, fake)`` to
    look where the penalty looks.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(C(x).sum(), x)
    return grad.flatten(1).norm(dim=1)


def critic_weights(C: nn.Module) -> torch.Tensor:
    """Every weight and bias of C as one flat CPU tensor (for a histogram: clipping piles them at ±c)."""
    return torch.cat([p.detach().flatten().cpu() for p in C.parameters()])


@dataclass
class WGANRun:
    """A trained (or training) WGAN: G, the critic C, the history and the config.

    History keys: ``loss_C``, ``loss_G``, ``W_estimate`` (the critic's E[C(x)] − E[C(G(z))]),
    ``grad_norm_mean`` / ``grad_norm_std`` (‖∇_x̂ C(x̂)‖₂ on interpolates) and, in mode "gp", ``gp``.
    """

    G: nn.Module
    C: nn.Module
    history: dict
    config: WGANConfig
    data_name: str = ""
    checkpoint_dir: Path | None = None
    optimizers: dict | None = field(default=None, repr=False)  # kept so a second train_wgan call continues

    sample = GANRun.sample  # the same fixed-seed sampling as a standard GAN (it only reads self.G)


def train_wgan(data: ImageData | torch.Tensor, config: WGANConfig | None = None, *, device=None,
               checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
               stop_event=None, progress: bool = True, run: WGANRun | None = None) -> WGANRun:
    """Train a WGAN (mode "clip") or WGAN-GP (mode "gp") on images in [-1, 1] and return the run.

    Each step: ``n_critic`` critic updates on fresh real batches and fresh fakes, one
    measurement of ‖∇_x̂ C(x̂)‖₂ on interpolates, then one generator update.

    Args:
        data: an ``ImageData`` or an image tensor (N, C, H, W).
        config: a ``WGANConfig``; defaults to ``WGANConfig()`` (WGAN-GP).
        device: None for the device ``gan_lab.setup()`` chose.
        checkpoint_dir: write checkpoints there (and resume from them with ``resume=True``).
        callbacks: ``cb(step, history)`` every ``config.callback_every`` steps (e.g. an FID tracker).
        stop_event: a ``threading.Event`` that ends training when set.
        run: continue training this run's networks.

    Example:
        >>> run = train_wgan(gan_lab.data.load("pneumoniamnist"), WGANConfig(mode="gp"))  # doctest: +SKIP
        >>> run.history["W_estimate"][-1]
    """
    config = config or WGANConfig()
    device = get_device(device)
    images = data.images if isinstance(data, ImageData) else data
    if images.dim() != 4:
        raise ValueError(f"Expected images of shape (N, C, H, W); got {tuple(images.shape)}.")
    x = images.to(device)
    if run is None:
        G, C = build_wgan(config, x.shape[1], x.shape[-1])
        run = WGANRun(G.to(device), C.to(device), {"step": []}, config,
                      getattr(data, "name", "tensor"), Path(checkpoint_dir) if checkpoint_dir else None)
    G, C = run.G.train(), run.C.train()
    if config.arch == "dcgan":  # faster CPU convolutions (benchmarks/README.md)
        x, = channels_last_on_cpu((G, C), x)
    run.optimizers = optimizers = run.optimizers or make_optimizers(G, C, config)
    torch.manual_seed(config.seed)

    def sample_z() -> torch.Tensor:
        return torch.randn(config.batch_size, G.z_dim, device=device)

    def step_fn(step: int) -> dict:
        for _ in range(config.n_critic):  # n_critic critic updates per generator update
            real = sample_batch(x, config.batch_size)
            with torch.no_grad():
                fake = G(sample_z())  # G is fixed during the critic's updates
            if config.mode == "clip":
                out = critic_step_clip(C, optimizers["C"], real, fake, config.clip_value)
            else:
                out = critic_step_gp(C, optimizers["C"], real, fake, config.lambda_gp)
        norms = critic_gradient_norms(C, interpolates(real, fake))  # once per G step: cheap monitoring
        out.update(grad_norm_mean=norms.mean(), grad_norm_std=norms.std())
        out.update(generator_step(G, C, optimizers["G"], sample_z()))
        return out

    run.history = fit(step_fn, config.num_steps, models={"G": G, "C": C}, optimizers=optimizers,
                      config=checkpoint_meta(config, data), checkpoint_dir=checkpoint_dir,
                      checkpoint_every=config.checkpoint_every, resume=resume, log_every=config.log_every,
                      callbacks=callbacks, callback_every=config.callback_every, stop_event=stop_event,
                      progress=progress, desc=f"WGAN-{config.mode}",
                      history=run.history if run.history.get("step") else None)
    G.eval()
    C.eval()
    return run


def checkpoint_meta(config: WGANConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with a WGAN checkpoint: a GAN's fields (config, data name, count, shape), keyed "wgan"."""
    meta = gan_checkpoint_meta(config, data)
    meta["wgan"] = meta.pop("gan")
    return meta


def load_wgan(directory: str | Path, device=None) -> WGANRun:
    """The WGANRun saved in ``directory`` (rebuilt from JSON + safetensors; nothing is unpickled)."""
    ckpt = checkpoints.load_kind(directory, "wgan", {"G", "C"}, "a WGAN", device)
    known = {f.name for f in dataclasses.fields(WGANConfig)}
    config = WGANConfig(**{k: v for k, v in ckpt.config["wgan"].items() if k in known})
    return WGANRun(ckpt.models["G"], ckpt.models["C"], ckpt.history, config, ckpt.config.get("data", ""),
                   Path(directory))


def load_or_train_wgan(directory: str | Path, data: ImageData | torch.Tensor, config: WGANConfig, *, device=None,
                       callbacks=(), progress: bool = True, retrain: bool = False) -> WGANRun:
    """Load the WGAN cached in ``directory`` if it was trained with this config on this data, else train it.

    The same rule as ``gan_lab.train.gan.load_or_train``: same config (loop-only fields aside)
    → load; same but unfinished → resume; different or absent → train from scratch there.

    Example:
        >>> run = load_or_train_wgan(cache_dir("05_wgan_gp"), data, WGANConfig(mode="gp"))  # doctest: +SKIP
    """
    status = checkpoints.cache_status(directory, checkpoint_meta(config, data), num_steps=config.num_steps,
                                      ignore=tuple(f"wgan.{k}" for k in LOOP_ONLY_FIELDS), retrain=retrain)
    if status == "load":
        run = load_wgan(directory, device)
        run.config = config
        return run
    return train_wgan(data, config, device=device, checkpoint_dir=directory, resume=status == "resume",
                      callbacks=callbacks, progress=progress)
