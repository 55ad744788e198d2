"""pix2pix (Isola et al. 2017): paired image-to-image translation with a conditional GAN.

G is a U-Net mapping an input image x to an output image; D is a PatchGAN
that sees the input and an output *concatenated*, so it judges whether the
output is a plausible translation of that very input:

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_x[log(1 − D(x, G(x)))]
    L_L1(G)      = E_{x,y}[‖y − G(x)‖₁]
    G* = arg min_G max_D  L_cGAN(G, D) + λ_L1 · L_L1(G)

Isola et al. write G(x, z), but their G takes no noise input: its only
randomness is dropout, applied at training and at test time. Here
``dropout`` defaults to 0, so G(x) is deterministic (hence no z above), and
``Pix2PixRun.translate`` runs G in eval mode, so even with dropout > 0 the
test-time output is deterministic, unlike the paper's.

With ``lambda_adv = 0`` the very same code trains the U-Net with L1 alone,
the lecture's "FCN" baseline (pix2pix's "L1" ablation): no D is built, no D step runs. L1 finds the median of
all outputs compatible with x — sharp where the answer is certain, blurred
where it is not; the adversarial term punishes the blur.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.dcgan import init_dcgan_weights
from ..models.patchgan import PatchGANDiscriminator
from ..models.unet import UNet
from .common import (
    GAN_LOSSES,
    Run,
    TrainConfig,
    begin,
    fingerprint_entry,
    fit_run,
    frozen,
    images_of,
    in_batches,
    load_or_train,
    load_run,
)
from .common import data_name as name_of
from .loop import sample_batch
from .memory_format import channels_last_on_cpu


@dataclass
class Pix2PixConfig(TrainConfig):
    """Everything that defines a pix2pix run (defaults: the paper's, scaled to 28–64 px).

    Attributes:
        lambda_adv: weight of the adversarial term (0: the L1-only U-Net baseline, no D).
        lambda_L1: λ_L1 of the L1 term (paper: 100).
        loss: adversarial loss, "nonsaturating" (paper), "minimax" or "least_squares".
        width: U-Net width (channels after the stem).
        d_width: PatchGAN width (paper: 64; 32 suffices at 28–64 px and cuts D's cost to about a quarter).
        n_layers: PatchGAN depth (None: 2 up to 32 px, 3 above). Each verdict's receptive field is
            34 px for 2 and 70 px for 3 (the paper's "70×70 PatchGAN", on 256 px images), so at
            28–64 px a verdict sees most or all of the image; see ``PatchGANDiscriminator.receptive_field``.
        norm: "batch" (paper) or "instance", in G and D.
        dropout: U-Net dropout in the innermost decoder levels (paper: 0.5 in the innermost decoder
            layers, G's only noise, kept on at test time). 0 here: G is deterministic.
        batch_size: image pairs per step.
        num_steps: generator updates (one D update each).
        lr_G, lr_D: Adam's learning rates (paper: 2e-4).
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "pix2pix"

    lambda_adv: float = 1.0
    lambda_L1: float = 100.0
    loss: str = "nonsaturating"
    width: int = 32
    d_width: int = 32
    n_layers: int | None = None
    norm: str = "batch"
    dropout: float = 0.0
    num_steps: int = 2000
    lr_G: float = 2e-4
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r}.")
        if self.lambda_adv + self.lambda_L1 == 0:
            raise ValueError("lambda_adv and lambda_L1 may each be 0, but not both 0; use lambda_adv=0 for the "
                             "L1-only baseline.")

    @property
    def adversarial(self) -> bool:
        """False for the L1-only baseline (no discriminator)."""
        return self.lambda_adv > 0


def build_pix2pix(config: Pix2PixConfig, in_channels: int = 1, out_channels: int = 1,
                  size: int = 28) -> tuple[nn.Module, nn.Module | None]:
    """A fresh (G, D) pair; D is None for the L1-only baseline."""
    torch.manual_seed(config.seed)
    G = UNet(in_channels, out_channels, config.width, size=size, norm=config.norm, dropout=config.dropout)
    G.apply(init_dcgan_weights)  # N(0, 0.02), as pix2pix initialises both networks
    if not config.adversarial:
        return G, None
    n_layers = config.n_layers or (2 if size <= 32 else 3)
    D = PatchGANDiscriminator(in_channels + out_channels, config.d_width, n_layers, config.norm)
    D.apply(init_dcgan_weights)
    return G, D


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, fake: torch.Tensor,
           loss_D_fn) -> dict[str, torch.Tensor]:
    """One D update: ascend E[log D(x, y)] + E[log(1 − D(x, G(x)))], halved as in pix2pix (slows D).

    Args:
        x: inputs (B, C_in, H, W); y: their targets (B, C_out, H, W).
        fake: G(x), made without a graph (G is fixed during D's update).
    """
    real_logits = D(torch.cat([x, y], dim=1))  # (B, 1, h, w): one verdict per patch
    fake_logits = D(torch.cat([x, fake], dim=1))
    loss_D = 0.5 * loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(),
            "D(x,y)": torch.sigmoid(real_logits.detach()).mean(),
            "D(x,G(x))": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module | None, opt_G: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
           loss_G_fn, lambda_adv: float, lambda_L1: float) -> dict[str, torch.Tensor]:
    """One G update: descend λ_adv · L_G(D(x, G(x))) + λ_L1 · ‖y − G(x)‖₁ (D None: L1 alone)."""
    out = {}
    with frozen(D):  # the gradient flows through D into G; D's weights get none
        fake = G(x)
        loss_L1 = F.l1_loss(fake, y)
        loss_G = lambda_L1 * loss_L1
        if D is not None:
            loss_adv = loss_G_fn(D(torch.cat([x, fake], dim=1)))
            loss_G = loss_G + lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return out | {"loss_G": loss_G.detach(), "loss_L1": loss_L1.detach()}


def pix2pix_step(G: nn.Module, D: nn.Module | None, optimizers: dict, x: torch.Tensor, y: torch.Tensor,
                 config: Pix2PixConfig) -> dict[str, torch.Tensor]:
    """One pix2pix iteration on the pairs (x, y): D's update on G(x) (none without D), then G's."""
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    out = {}
    if D is not None:
        with torch.no_grad():
            fake = G(x)  # G is fixed during D's update
        out = d_step(D, optimizers["D"], x, y, fake, loss_D_fn)
    return out | g_step(G, D, optimizers["G"], x, y, loss_G_fn, config.lambda_adv, config.lambda_L1)


@dataclass
class Pix2PixRun(Run):
    """A trained (or training) translator: G, D (None for the L1 baseline), and what every run holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module | None = None

    def translate(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """G(x) for inputs (N, C_in, H, W) in [-1, 1], in batches, returned on the CPU."""
        return in_batches(self.G, x, batch_size=batch_size)


def _pairs(inputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = images_of(inputs), images_of(targets)
    if x.shape[0] != y.shape[0] or x.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"inputs and targets must be pairs: the same number of images of the same size; got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}.")
    return x, y


def checkpoint_meta(config: Pix2PixConfig, inputs, targets, data_name: str | None = None) -> dict:
    """The JSON stored with a pix2pix checkpoint: the config and what the pairs were."""
    x, y = _pairs(inputs, targets)
    return {**config.checkpoint_entry(), "data": data_name or name_of(inputs), "num_images": x.shape[0],
            "in_channels": x.shape[1], "out_channels": y.shape[1], "size": x.shape[-1], **fingerprint_entry(x, y)}


def train_pix2pix(inputs: ImageData | torch.Tensor, targets: ImageData | torch.Tensor,
                  config: Pix2PixConfig | None = None, *, device=None, checkpoint_dir: str | Path | None = None,
                  resume: bool = False, callbacks=(), stop_event=None, progress: bool = True,
                  run: Pix2PixRun | None = None, data_name: str | None = None) -> Pix2PixRun:
    """Train G to map ``inputs[i]`` to ``targets[i]`` (paired images in [-1, 1]) and return the run.

    Args:
        inputs, targets: paired images (N, C, H, W) as ImageData or tensors (paper: x and y).
        config: a ``Pix2PixConfig``; ``lambda_adv=0`` trains the L1-only baseline.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        run: continue training this run's networks.
        data_name: what the pairs are, stored with the checkpoint (default: ``inputs.name``); name
            everything that makes them differ, e.g. "pneumoniamnist, dose 0.25", so a cache notices.

    Example:
        >>> mr, ct = gan_lab.data.phantom_pairs(2000)  # doctest: +SKIP
        >>> gan = train_pix2pix(mr, ct, Pix2PixConfig(num_steps=1000))
        >>> l1 = train_pix2pix(mr, ct, Pix2PixConfig(num_steps=1000, lambda_adv=0))
        >>> synthetic_ct = gan.translate(mr.images[:8])
    """
    config = config or Pix2PixConfig()
    x_all, y_all = _pairs(inputs, targets)
    device = get_device(device)
    x_all, y_all = x_all.to(device), y_all.to(device)
    if run is None:
        G, D = build_pix2pix(config, x_all.shape[1], y_all.shape[1], x_all.shape[-1])
        run = Pix2PixRun(G.to(device), D.to(device) if D is not None else None, config=config,
                         data_name=data_name or name_of(inputs))
    G, D = run.G, run.D
    models = {"G": G} | ({"D": D} if D is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr_G, "D": config.lr_D})
    x_all, y_all = channels_last_on_cpu(models.values(), x_all, y_all)  # faster CPU convolutions (benchmarks/README.md)

    def step_fn(step: int) -> dict:
        x, y = sample_batch(x_all, config.batch_size, y_all)
        return pix2pix_step(G, D, optimizers, x, y, config)

    return fit_run(run, step_fn, models, checkpoint_meta(config, inputs, targets, data_name),
                   desc="pix2pix" if D is not None else "U-Net (L1 only)", checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=callbacks, stop_event=stop_event, progress=progress)


def load_pix2pix(directory: str | Path, device=None) -> Pix2PixRun:
    """The Pix2PixRun saved in ``directory`` by :func:`train_pix2pix` (nothing is unpickled)."""
    return load_run(directory, Pix2PixRun, Pix2PixConfig, {"G"}, "a pix2pix", device)


def load_or_train_pix2pix(directory: str | Path, inputs, targets, config: Pix2PixConfig, *, device=None,
                          retrain: bool = False, data_name: str | None = None, **train_options) -> Pix2PixRun:
    """Load the run cached in ``directory`` if it was trained with this config on these pairs, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` (``callbacks``,
    ``progress``, ``stop_event``) go to :func:`train_pix2pix`.
    """
    return load_or_train(directory, config, checkpoint_meta(config, inputs, targets, data_name),
                         partial(train_pix2pix, inputs, targets, config, device=device, data_name=data_name,
                                 **train_options),
                         partial(load_pix2pix, device=device), retrain=retrain)
