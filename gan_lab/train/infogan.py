"""InfoGAN (Chen et al. 2016): a GAN whose latent codes c must stay readable from its images.

    min_{G,Q} max_D  V(D, G) − λ L_I(G, Q),   L_I = E_{c, x=G(z,c)}[log Q(c | x)] + H(c) ≤ I(c; G(z, c))

Q shares D's trunk, so it is updated in D's step (on generated images, whose
codes are known); G gets λ L_I in its own step. No labels are used anywhere:
whatever c ends up meaning, G chose it because it was the easiest factor of
variation to keep recognisable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..losses.variants import categorical_mi_lower_bound, info_loss
from ..models.dcgan import init_dcgan_weights
from ..models.infogan import InfoGANDiscriminator, InfoGANGenerator
from .common import (
    Run,
    TrainConfig,
    begin,
    data_meta,
    data_name,
    fit_run,
    frozen,
    images_of,
    in_batches,
    load_or_train,
    load_run,
)
from .loop import sample_batch


@dataclass
class InfoGANConfig(TrainConfig):
    """Everything that defines an InfoGAN run.

    Attributes:
        num_categories: K, values of the categorical code c (uniform prior).
        num_continuous: m, continuous codes (uniform on [−1, 1]).
        lambda_info: λ, weight of the mutual-information term in G's loss (0: a plain GAN that ignores its codes).
        lambda_Q: weight of L_I in the update of D and Q; None: λ, as in the paper. The λ = 0 baseline sets
            it to 1, so Q still learns to read c from a G that was never asked to write it (a fair MI curve).
        continuous_weight: extra weight of the continuous codes' Gaussian NLL inside L_I.
        loss, z_dim, width, lr_G, lr_D: as in ``GANConfig``.
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "infogan"

    num_categories: int = 2
    num_continuous: int = 2
    lambda_info: float = 1.0
    lambda_Q: float | None = None
    continuous_weight: float = 0.5
    loss: str = "nonsaturating"
    z_dim: int = 62
    width: int = 32
    batch_size: int = 64
    num_steps: int = 1500
    lr_G: float = 1e-3
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        adversarial_losses(self.loss)  # fails early, with the list of valid names
        if self.num_categories < 2 or self.num_continuous < 0 or self.continuous_weight < 0:
            raise ValueError("Need num_categories ≥ 2, num_continuous ≥ 0 and continuous_weight ≥ 0; got "
                             f"{self.num_categories}, {self.num_continuous}, {self.continuous_weight}.")
        if min(self.z_dim, self.width) < 1:
            raise ValueError(f"z_dim and width must be ≥ 1; got {self.z_dim}, {self.width}.")


def build_infogan(config: InfoGANConfig, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, D) pair; D carries the Q head."""
    torch.manual_seed(config.seed)
    G = InfoGANGenerator(config.z_dim, config.num_categories, config.num_continuous, channels, size, config.width)
    D = InfoGANDiscriminator(config.num_categories, config.num_continuous, channels, size, config.width)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    return G, D


def sample_codes(n: int, num_categories: int, num_continuous: int, device=None, generator=None):
    """(z-free) codes from the prior: c ~ Uniform{0..K−1} (n,), c_cont ~ U(−1, 1)^m (n, m)."""
    c = torch.randint(0, num_categories, (n,), generator=generator)
    c_cont = torch.rand(n, num_continuous, generator=generator) * 2 - 1
    return c.to(device), c_cont.to(device)


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, c: torch.Tensor,
           c_cont: torch.Tensor, loss_D_fn, lambda_Q: float, continuous_weight: float) -> dict[str, torch.Tensor]:
    """One update of D and Q (they share the trunk): descend L_D + λ_Q L_I(fake) (λ_Q = λ in the paper).

    Q learns to read the codes of generated images; D learns real from fake as usual.

    Args:
        real: a batch of real images (B, C, H, W).
        fake, c, c_cont: G(z, c, c_cont) made without a graph (G is fixed here) and the codes it was made from.
        loss_D_fn: ``loss_D_fn(real_logits, fake_logits)`` → scalar.
        lambda_Q, continuous_weight: the weight of L_I and, inside it, of the continuous codes.

    Returns:
        ``{"loss_D", "D(x)", "D(G(z))"}``: detached scalars.
    """
    real_logits = D(real)[0]
    fake_logits, c_logits, mean, log_var = D(fake)
    loss_I = info_loss(c_logits, c, mean, log_var, c_cont, continuous_weight)
    loss_D = loss_D_fn(real_logits, fake_logits) + lambda_Q * loss_I
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor, c: torch.Tensor,
           c_cont: torch.Tensor, loss_G_fn, lambda_info: float, continuous_weight: float) -> dict[str, torch.Tensor]:
    """One G update on noise z and codes (c, c_cont): descend L_G + λ L_I, so G's images fool D *and*
    let Q read back the codes.

    Returns ``loss_G``, ``loss_I`` and ``I(c;x) bound`` = log K − CE, InfoGAN's lower bound
    on the mutual information of the categorical code, in nats (measured whatever λ is).
    """
    with frozen(D):
        fake_logits, c_logits, mean, log_var = D(G(z, c, c_cont))
        loss_I = info_loss(c_logits, c, mean, log_var, c_cont, continuous_weight)
        loss_G = loss_G_fn(fake_logits) + lambda_info * loss_I
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach(), "loss_I": loss_I.detach(),
            "I(c;x) bound": categorical_mi_lower_bound(c_logits.detach(), c)}


@dataclass
class InfoGANRun(Run):
    """A trained (or training) InfoGAN: G, D (with its Q head), and what every run holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module

    def sample(self, n: int, c=None, c_cont=None, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] on the CPU.

        Args:
            c: one category for all (int) or n codes (n,); None draws them from the prior.
            c_cont: m values for all (a sequence) or (n, m); None draws them from the prior.
            seed: seed of z (and of any code drawn): the same seed gives the same z whatever c is.
        """
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = torch.randn(n, self.G.z_dim, generator=gen)
        c_prior, cont_prior = sample_codes(n, self.G.num_categories, self.G.num_continuous, generator=gen)
        if c is not None:
            c = torch.as_tensor(c).long().flatten().expand(n)
        if c_cont is not None:
            c_cont = torch.as_tensor(c_cont, dtype=torch.float).reshape(-1, self.G.num_continuous).expand(n, -1)
        return in_batches(self.G, z, c_prior if c is None else c, cont_prior if c_cont is None else c_cont)

    @torch.inference_mode()
    def infer_codes(self, images: torch.Tensor, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
        """What Q reads from images (N, C, H, W): (softmax over c (N, K), mean of c_cont (N, m)), on the CPU."""
        device = next(self.D.parameters()).device
        was_training = self.D.training
        self.D.eval()
        probs, means = [], []
        for i in range(0, images.shape[0], batch_size):
            _, c_logits, mean, _ = self.D(images[i:i + batch_size].to(device))
            probs.append(c_logits.softmax(1).cpu())
            means.append(mean.cpu())
        self.D.train(was_training)
        return torch.cat(probs), torch.cat(means)


def train_infogan(data: ImageData | torch.Tensor, config: InfoGANConfig | None = None, *, device=None,
                  checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
                  stop_event=None, progress: bool = True) -> InfoGANRun:
    """Train an InfoGAN on images in [-1, 1] (labels, if any, are ignored) and return the run.

    Args:
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.

    Example:
        >>> run = train_infogan(gan_lab.data.load("pneumoniamnist"), InfoGANConfig(num_steps=500))  # doctest: +SKIP
        >>> run.sample(8, c=1, c_cont=[0.0, 0.5])
    """
    config = config or InfoGANConfig()
    device = get_device(device)
    x = images_of(data).to(device)
    G, D = (m.to(device) for m in build_infogan(config, x.shape[1], x.shape[-1]))  # seeds, then draws the weights
    run = InfoGANRun(G, D, config=config, data_name=data_name(data))
    optimizers = begin(run, config, {"G": G, "D": D}, {"G": config.lr_G, "D": config.lr_D})
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    lam, w = config.lambda_info, config.continuous_weight
    lam_Q = lam if config.lambda_Q is None else config.lambda_Q

    def latents(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = torch.randn(n, G.z_dim, device=device)  # z ~ N(0, I), then the codes from their priors
        return (z, *sample_codes(n, G.num_categories, G.num_continuous, device))

    def step_fn(step: int) -> dict:
        real = sample_batch(x, config.batch_size)
        z, c, c_cont = latents(config.batch_size)
        with torch.no_grad():
            fake = G(z, c, c_cont)  # G is fixed during D's update
        out = d_step(D, optimizers["D"], real, fake, c, c_cont, loss_D_fn, lam_Q, w)
        out.update(g_step(G, D, optimizers["G"], *latents(config.batch_size), loss_G_fn, lam, w))
        return out

    return fit_run(run, step_fn, {"G": G, "D": D}, checkpoint_meta(config, data), desc=f"InfoGAN (λ={lam:g})",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def checkpoint_meta(config: InfoGANConfig, data: ImageData | torch.Tensor) -> dict:
    """The JSON stored with the checkpoint: the config and what the data was."""
    return {**config.checkpoint_entry(), **data_meta(data)}


def load_infogan(directory: str | Path, device=None) -> InfoGANRun:
    """The InfoGANRun saved in ``directory`` (rebuilt from JSON + safetensors)."""
    return load_run(directory, InfoGANRun, InfoGANConfig, {"G", "D"}, "an InfoGAN", device)


def load_or_train_infogan(directory: str | Path, data: ImageData | torch.Tensor, config: InfoGANConfig, *,
                          device=None, retrain: bool = False, **train_options) -> InfoGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` go to :func:`train_infogan`.

    Example:
        >>> run = load_or_train_infogan(cache_dir("09_infogan"), data, InfoGANConfig())  # doctest: +SKIP
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_infogan, data, config, device=device, **train_options),
                         partial(load_infogan, device=device), retrain=retrain)
