"""Wasserstein GANs as step functions: weight clipping (WGAN) and gradient penalty (WGAN-GP).

The critic C is not a classifier: it returns an unbounded score, and
E_x[C(x)] − E_z[C(G(z))] is a lower bound on the Wasserstein-1 distance between
the data and the generator when C is 1-Lipschitz, equal to it for the best such C
(Kantorovich–Rubinstein duality).
The two papers differ only in how they keep C Lipschitz:

* Arjovsky et al. (2017), Algorithm 1: clip every weight of C to [−c, c]
  after each update; RMSprop (lr 5e-5), because momentum destabilised it.
* Gulrajani et al. (2017), Algorithm 1: add λ·E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²] on random
  interpolates x̂ between independent real and fake samples (``gan_lab.losses.gradient_penalty``);
  λ = 10, Adam(lr 1e-4, β = (0, 0.9)); no batch norm in C, since the penalty is per sample.

With weight clipping the critic is K-Lipschitz for some unknown K, so its estimate
approximates K·W1 at best; with the penalty it is only approximately 1-Lipschitz.

Both take ``n_critic`` critic steps per generator step, so the critic stays
close to optimal and its estimate means something.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from ..models.mlp import MLPDiscriminator, MLPGenerator
from .common import (
    Run,
    TrainConfig,
    adams,
    begin,
    data_meta,
    data_name,
    draw_z,
    fit_run,
    images_of,
    in_batches,
    load_or_train,
    load_run,
)
from .gan import g_step as gan_g_step
from .loop import sample_batch
from .memory_format import channels_last_on_cpu

MODES = ("clip", "gp")


@dataclass
class WGANConfig(TrainConfig):
    """Everything that defines a WGAN run (notebooks override by keyword).

    Attributes:
        mode: "clip" (Arjovsky et al. 2017) or "gp" (Gulrajani et al. 2017).
        arch: "dcgan" (G as in notebook 02, C = DCGAN discriminator without batch norm) or "mlp".
        z_dim, width: as in ``GANConfig``.
        num_steps: generator updates.
        n_critic: critic updates per generator update (both papers: 5).
        clip_value: c, the weight-clipping bound (mode "clip"; paper: 0.01).
        lambda_gp: λ, the gradient-penalty weight (mode "gp"; paper: 10).
        lr: learning rate of both networks; None picks the paper's: 5e-5 (clip) or 1e-4 (gp).
        beta1, beta2: Adam's betas in mode "gp" (paper: 0, 0.9). Mode "clip" uses RMSprop.
        The loop fields and the seed: see ``TrainConfig``.
    """

    key = "wgan"

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

    def __post_init__(self):
        super().__post_init__()
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'clip' (weight clipping) or 'gp' (gradient penalty), not {self.mode!r}.")
        if self.arch not in ("dcgan", "mlp"):
            raise ValueError(f"arch must be 'dcgan' or 'mlp', not {self.arch!r}.")
        if self.n_critic < 1 or self.clip_value <= 0:
            raise ValueError(f"n_critic must be ≥ 1 and clip_value > 0; got {self.n_critic}, {self.clip_value}.")
        if self.lr is None:  # resolved here so the stored config holds the number actually used
            self.lr = 5e-5 if self.mode == "clip" else 1e-4


def build_wgan(config: WGANConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, C) pair for images (channels, size, size); C has no sigmoid and no batch norm.

    G gets DCGAN's N(0, 0.02) initialisation; C keeps PyTorch's default one: with N(0, 0.02) its
    input gradients start at norm ≈ 0.02 (28 px, width 32), and the penalty spends hundreds of steps
    lifting them to 1.
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
        return {name: torch.optim.RMSprop(m.parameters(), config.lr) for name, m in (("G", G), ("C", C))}
    return adams({"G": G, "C": C}, {"G": config.lr, "C": config.lr}, config)


@torch.no_grad()
def clip_weights_(C: nn.Module, clip_value: float) -> None:
    """w ← clip(w, −c, c) for every parameter of C (WGAN's crude way to bound its Lipschitz constant)."""
    for p in C.parameters():
        p.clamp_(-clip_value, clip_value)


def c_step(C: nn.Module, opt_C: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, *,
           clip_value: float | None = None, lambda_gp: float | None = None) -> dict[str, torch.Tensor]:
    """One critic update: descend L_C = E[C(G(z))] − E[C(x)], keeping C (about) 1-Lipschitz one of two ways.

    * WGAN, ``clip_value`` = c: after the update, clip every weight of C to [−c, c].
    * WGAN-GP, ``lambda_gp`` = λ: descend L_C + λ·E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²] instead.

    Args:
        C, opt_C: the critic and its optimiser (only C's weights move).
        real, fake: batches (B, ...) of data and of G's output (made without a graph: G is fixed here).

    Returns:
        ``loss_C`` (with the penalty), ``W_estimate`` = E[C(x)] − E[C(G(z))] on this batch before the update
        and, with a penalty, ``gp``: detached scalars.
    """
    w_loss = wasserstein_critic_loss(C(real), C(fake))
    out = {"W_estimate": -w_loss.detach()}
    loss_C = w_loss
    if lambda_gp is not None:
        gp = gradient_penalty(C, real, fake)
        loss_C = w_loss + lambda_gp * gp
        out["gp"] = gp.detach()
    opt_C.zero_grad(set_to_none=True)
    loss_C.backward()  # through the penalty too: create_graph=True made ∇_x̂ C differentiable in C's weights
    opt_C.step()
    if clip_value is not None:
        clip_weights_(C, clip_value)  # after the step, so C always satisfies the constraint
    return {"loss_C": loss_C.detach(), **out}


def g_step(G: nn.Module, C: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor) -> dict[str, torch.Tensor]:
    """One generator update on noise z (B, z_dim): descend L_G = −E_z[C(G(z))], C held fixed.

    The GAN's generator step (``gan_lab.train.gan.g_step``) with the Wasserstein generator loss.
    """
    return gan_g_step(G, C, opt_G, z, wasserstein_generator_loss)


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x̂ = ε·x + (1 − ε)·G(z) with one ε ~ U[0, 1] per sample, shape of ``real``."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def critic_gradient_norms(C: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """‖∇_x C(x)‖₂ per sample, (B,): 1 on the lines between optimally coupled points for an optimal critic.

    (Gulrajani et al. 2017, Proposition 1; the penalty relaxes this to lines between independent
    real/fake pairs, which is where ``interpolates`` samples.)

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
class WGANRun(Run):
    """A trained (or training) WGAN: G, the critic C, and what every run holds (see ``Run``).

    History keys: ``loss_C``, ``loss_G``, ``W_estimate`` (the critic's E[C(x)] − E[C(G(z))]),
    ``grad_norm_mean`` / ``grad_norm_std`` (‖∇_x̂ C(x̂)‖₂ on interpolates) and, in mode "gp", ``gp``.
    """

    G: nn.Module
    C: nn.Module

    def sample(self, n: int = 64, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] from a fixed seed (None: from the global RNG)."""
        return in_batches(self.G, draw_z(n, self.G.z_dim, "cpu", seed))


def train_wgan(data: ImageData | torch.Tensor, config: WGANConfig | None = None, *, device=None,
               checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
               stop_event=None, progress: bool = True, run: WGANRun | None = None) -> WGANRun:
    """Train a WGAN (mode "clip") or WGAN-GP (mode "gp") on images in [-1, 1] and return the run.

    Each step: ``n_critic`` critic updates on fresh real batches and fresh fakes, one
    measurement of ‖∇_x̂ C(x̂)‖₂ on interpolates, then one generator update.

    Args:
        data: an ``ImageData`` or an image tensor (N, C, H, W).
        config: a ``WGANConfig``; defaults to ``WGANConfig()`` (WGAN-GP).
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        run: train this run's networks (a finished run continues up to ``config.num_steps``).

    Example:
        >>> run = train_wgan(gan_lab.data.load("pneumoniamnist"), WGANConfig(mode="gp"))  # doctest: +SKIP
        >>> run.history["W_estimate"][-1]
    """
    config = config or WGANConfig()
    device = get_device(device)
    x = images_of(data).to(device)
    if run is None:
        G, C = build_wgan(config, x.shape[1], x.shape[-1])
        run = WGANRun(G.to(device), C.to(device), config=config, data_name=data_name(data))
    G, C = run.G, run.C
    run.optimizers = run.optimizers or make_optimizers(G, C, config)  # the papers' RMSprop or Adam; begin keeps them
    optimizers = begin(run, config, {"G": G, "C": C}, {"G": config.lr, "C": config.lr})
    if config.arch == "dcgan":  # faster CPU convolutions (benchmarks/README.md)
        x, = channels_last_on_cpu((G, C), x)
    # how this run keeps C Lipschitz: clip its weights (WGAN) or penalise its gradient (WGAN-GP)
    constraint = {"clip_value": config.clip_value} if config.mode == "clip" else {"lambda_gp": config.lambda_gp}

    def step_fn(step: int) -> dict:
        for _ in range(config.n_critic):  # n_critic critic updates per generator update
            real = sample_batch(x, config.batch_size)  # x ~ p_data
            z = torch.randn(config.batch_size, G.z_dim, device=device)  # z ~ p_z
            with torch.no_grad():
                fake = G(z)  # G is fixed during the critic's updates
            out = c_step(C, optimizers["C"], real, fake, **constraint)
        norms = critic_gradient_norms(C, interpolates(real, fake))  # once per G step: cheap monitoring
        out.update(grad_norm_mean=norms.mean(), grad_norm_std=norms.std())
        z = torch.randn(config.batch_size, G.z_dim, device=device)  # fresh noise for G's update
        out.update(g_step(G, C, optimizers["G"], z))
        return out

    return fit_run(run, step_fn, {"G": G, "C": C}, checkpoint_meta(config, data), desc=f"WGAN-{config.mode}",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def checkpoint_meta(config: WGANConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with a WGAN checkpoint: the config and what the data was."""
    return {**config.checkpoint_entry(), **data_meta(data)}


def load_wgan(directory: str | Path, device=None) -> WGANRun:
    """The WGANRun saved in ``directory`` (rebuilt from JSON + safetensors; nothing is unpickled)."""
    return load_run(directory, WGANRun, WGANConfig, {"G", "C"}, "a WGAN", device)


def load_or_train_wgan(directory: str | Path, data: ImageData | torch.Tensor, config: WGANConfig, *, device=None,
                       retrain: bool = False, **train_options) -> WGANRun:
    """Load the WGAN cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` go to :func:`train_wgan`
    (``callbacks``, ``progress``, ``stop_event``).

    Example:
        >>> run = load_or_train_wgan(cache_dir("05_wgan_gp"), data, WGANConfig(mode="gp"))  # doctest: +SKIP
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_wgan, data, config, device=device, **train_options),
                         partial(load_wgan, device=device), retrain=retrain)
