"""The GAN of Goodfellow et al. (2014) as two step functions, and a trainer.

Algorithm 1 of the paper, one line of code per line of the algorithm:
for k steps update D by ascending ∇ V(D, G) on a minibatch of real images
and one of noise; then update G by descending its loss on fresh noise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from ..models.mlp import MLPDiscriminator, MLPGenerator
from .loop import History, fit, sample_batch


@dataclass
class GANConfig:
    """Everything that defines a GAN training run (notebooks override by keyword).

    Attributes:
        arch: "dcgan" (convolutional, Radford et al. 2016) or "mlp" (Goodfellow et al. 2014).
        loss: "nonsaturating", "minimax", "least_squares" (see ``gan_lab.losses``).
        z_dim: latent size.
        width: G and D width (DCGAN: channels of the outer layers; MLP: hidden units).
        batch_size: images per step.
        num_steps: generator updates.
        k: discriminator updates per generator update (Algorithm 1's k).
        lr_G, lr_D, beta1, beta2: Adam settings (DCGAN paper: 2e-4, β1 = 0.5).
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``).
        seed: seed for weights and sampling.
    """

    arch: str = "dcgan"
    loss: str = "nonsaturating"
    z_dim: int = 64
    width: int = 32
    batch_size: int = 64
    num_steps: int = 2000
    k: int = 1
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 500
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        if self.arch not in ("dcgan", "mlp"):
            raise ValueError(f"arch must be 'dcgan' or 'mlp', not {self.arch!r}.")
        adversarial_losses(self.loss)  # fails early, with the list of valid names
        if self.k < 1 or self.num_steps < 0 or self.batch_size < 1:
            raise ValueError("k and batch_size must be ≥ 1 and num_steps ≥ 0.")


def build_gan(config: GANConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, D) pair for images of shape (channels, size, size)."""
    torch.manual_seed(config.seed)
    if config.arch == "mlp":
        G = MLPGenerator(config.z_dim, (channels, size, size), width=config.width * 8)
        D = MLPDiscriminator((channels, size, size), width=config.width * 8)
        return G, D
    G = DCGANGenerator(config.z_dim, channels, size, config.width)
    D = DCGANDiscriminator(channels, size, config.width)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    return G, D


def d_step(G: nn.Module, D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor,
           loss_D_fn) -> dict[str, torch.Tensor]:
    """One discriminator update: ascend V(D, G) = E[log D(x)] + E[log(1 − D(G(z)))]."""
    z = torch.randn(real.shape[0], G.z_dim, device=real.device)  # z ~ p_z
    with torch.no_grad():
        fake = G(z)  # G is fixed during D's update
    real_logits, fake_logits = D(real), D(fake)
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(),
            "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, batch_size: int,
           loss_G_fn, device) -> dict[str, torch.Tensor]:
    """One generator update on fresh noise: descend L_G(D(G(z)))."""
    z = torch.randn(batch_size, G.z_dim, device=device)
    loss_G = loss_G_fn(D(G(z)))
    opt_G.zero_grad(set_to_none=True)
    loss_G.backward()  # gradients reach D's weights too, but only opt_G steps
    opt_G.step()
    return {"loss_G": loss_G.detach()}


def make_optimizers(G, D, config: GANConfig) -> dict[str, torch.optim.Optimizer]:
    betas = (config.beta1, config.beta2)
    return {"G": torch.optim.Adam(G.parameters(), config.lr_G, betas=betas),
            "D": torch.optim.Adam(D.parameters(), config.lr_D, betas=betas)}


@dataclass
class GANRun:
    """A trained (or training) GAN: the networks, its history and where it came from."""

    G: nn.Module
    D: nn.Module
    history: History
    config: GANConfig
    data_name: str = ""
    checkpoint_dir: Path | None = None

    @torch.inference_mode()
    def sample(self, n: int = 64, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] from a fixed seed (None: from the global RNG)."""
        device = next(self.G.parameters()).device
        gen = torch.Generator(device="cpu").manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.G.z_dim, generator=gen).to(device)
        was_training = self.G.training
        self.G.eval()
        x = self.G(z)
        self.G.train(was_training)
        return x.cpu()


def train_gan(data: ImageData | torch.Tensor, config: GANConfig | None = None, *, device=None,
              checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
              stop_event=None, progress: bool = True, run: GANRun | None = None) -> GANRun:
    """Train a GAN on ``data`` (images in [-1, 1]) and return the run.

    Args:
        data: an ``ImageData`` or an image tensor (N, C, H, W).
        config: a ``GANConfig``; defaults to ``GANConfig()``.
        device: None for the device ``gan_lab.setup()`` chose.
        checkpoint_dir: write checkpoints there (and resume from them with ``resume=True``).
        callbacks: ``cb(step, history)`` every ``config.callback_every`` steps (e.g. a training monitor).
        stop_event: a ``threading.Event`` that ends training when set.
        run: continue training this run's networks (for a second call in a notebook).

    Example:
        >>> run = train_gan(gan_lab.data.load("pneumoniamnist"), GANConfig(num_steps=500))  # doctest: +SKIP
        >>> grid = run.sample(64)
    """
    config = config or GANConfig()
    device = get_device(device)
    images = data.images if isinstance(data, ImageData) else data
    if images.dim() != 4:
        raise ValueError(f"Expected images of shape (N, C, H, W); got {tuple(images.shape)}.")
    x = images.to(device)
    if run is None:
        G, D = build_gan(config, x.shape[1], x.shape[-1])
        run = GANRun(G.to(device), D.to(device), {"step": []}, config,
                     getattr(data, "name", "tensor"), Path(checkpoint_dir) if checkpoint_dir else None)
    G, D = run.G.train(), run.D.train()
    optimizers = make_optimizers(G, D, config)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    torch.manual_seed(config.seed)

    def step_fn(step: int) -> dict:
        for _ in range(config.k):  # k discriminator steps per generator step
            out = d_step(G, D, optimizers["D"], sample_batch(x, config.batch_size), loss_D_fn)
        out.update(g_step(G, D, optimizers["G"], config.batch_size, loss_G_fn, device))
        return out

    meta = {"gan": dataclasses.asdict(config), "data": run.data_name, "channels": x.shape[1], "size": x.shape[-1]}
    run.history = fit(step_fn, config.num_steps, models={"G": G, "D": D}, optimizers=optimizers, config=meta,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=config.checkpoint_every, resume=resume,
                      log_every=config.log_every, callbacks=callbacks, callback_every=config.callback_every,
                      stop_event=stop_event, progress=progress, desc=f"{config.arch} GAN",
                      history=run.history if run.history.get("step") else None)
    G.eval()
    D.eval()
    return run
