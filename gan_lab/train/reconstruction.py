"""Image reconstruction with a GAN: MRI de-aliasing (DAGAN) and super-resolution (SRGAN-style).

Both tasks map a degraded image x (a zero-filled undersampled MR image, or a
low-resolution image) to an estimate of the clean image; they differ in the
generator and in which loss terms are switched on:

    x̂ = G(x) + U(x)  (refinement / residual learning; U: identity, or bicubic ×s)
    L_G = λ_img · ‖x̂ − x_t‖²  +  λ_freq · L_fMSE(x̂, x_t)  +  λ_TV · TV(x̂)  +  λ_adv · (−E[log D(x̂)])

DAGAN (Yang et al. 2018) uses a U-Net G with the refinement connection, an
image loss, a frequency-domain loss and the adversarial term, plus a VGG
feature ("perceptual") term left out here. Its frequency term compares the
complex k-space data in the paper's equation (by Parseval, the image MSE
again) and the *amplitude* spectra in its official code
(github.com/nebulaV/DAGAN); ``frequency_mse`` follows the code. SRGAN (Ledig
et al. 2017) uses an SRResNet G on the small image and the "perceptual loss"
content + 10⁻³ · adversarial, the content loss being VGG54 features in the
final SRGAN and the pixel MSE in its SRGAN-MSE variant. With ``arch="srresnet"``
this module trains SRGAN-MSE, plus a TV term (``lambda_tv``) that is our own
addition, not part of SRGAN's loss.

D judges the reconstructed image alone, as in both papers. Their
discriminators end in dense layers and give one verdict per image; gan_lab's
D is a PatchGAN (one verdict per patch) — our own choice, not the papers'. With
``lambda_adv = 0`` no D is built: the very same G is trained as the
non-adversarial baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.resolution import upsample
from ..device import get_device
from ..losses import adversarial_losses
from ..losses.reconstruction import frequency_mse, total_variation
from ..models.dcgan import init_dcgan_weights
from ..models.patchgan import PatchGANDiscriminator
from ..models.srresnet import SRResNet
from ..models.unet import UNet
from .common import (
    GAN_LOSSES,
    Run,
    TrainConfig,
    begin,
    fingerprint_entry,
    fit_run,
    frozen,
    in_batches,
    load_or_train,
    load_run,
)
from .loop import sample_batch

ARCHS = ("unet", "srresnet")


@dataclass
class ReconstructionConfig(TrainConfig):
    """A reconstruction run (defaults: DAGAN's terms without its VGG term, scaled to 28–64 px).

    Attributes:
        arch: G, "unet" (input and output of the same size: de-aliasing) or "srresnet"
            (a small input, upscaled by a power of two: super-resolution).
        residual: refinement learning, x̂ = G(x) + U(x), so G only learns the correction
            (U is the identity, or bicubic upsampling when the sizes differ).
        lambda_img: weight of the image-domain MSE.
        lambda_freq: weight of the frequency-domain MSE of amplitude spectra (DAGAN's official code).
        lambda_tv: weight of the total variation of x̂ (our addition; neither paper's loss has it).
        lambda_adv: weight of the adversarial term (0: the non-adversarial baseline, no D).
        loss: adversarial loss, "nonsaturating", "minimax" or "least_squares".
        width: G's width (U-Net channels after the stem, SRResNet feature channels).
        n_blocks: SRResNet residual blocks (ignored by the U-Net).
        d_width: PatchGAN width; its depth follows the image size (2 layers up to 32 px, else 3). A PatchGAN is
            our choice: DAGAN's and SRGAN's discriminators give one verdict per image.
        norm: "batch" or "instance" in the U-Net and D.
        batch_size, num_steps: image pairs per step and generator updates (one D update each).
        lr_G, lr_D: Adam's learning rates of G and D.
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "reconstruction"

    arch: str = "unet"
    residual: bool = True
    lambda_img: float = 1.0
    lambda_freq: float = 1.0
    lambda_tv: float = 0.0
    lambda_adv: float = 0.01
    loss: str = "nonsaturating"
    width: int = 32
    n_blocks: int = 4
    d_width: int = 32
    norm: str = "batch"
    lr_G: float = 1e-3
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}.")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r}.")
        if self.lambda_img + self.lambda_freq == 0:
            raise ValueError("lambda_img or lambda_freq must be > 0 (a fidelity term: without one G is not asked to "
                             f"match the target); got lambda_img={self.lambda_img}, lambda_freq={self.lambda_freq}.")

    @property
    def adversarial(self) -> bool:
        """False for the non-adversarial baseline (no discriminator)."""
        return self.lambda_adv > 0


def build_reconstructor(config: ReconstructionConfig, channels: int = 1, size_in: int = 28,
                        size_out: int = 28) -> tuple[nn.Module, nn.Module | None]:
    """A fresh (G, D) for inputs (N, C, size_in, size_in) and targets of side ``size_out``; D None without λ_adv."""
    torch.manual_seed(config.seed)
    if config.arch == "unet":
        if size_in != size_out:
            raise ValueError(f"The U-Net keeps the image size, but inputs are {size_in} px and targets {size_out} px; "
                             "use arch='srresnet' for super-resolution.")
        G = UNet(channels, channels, config.width, size=size_out, norm=config.norm)
    else:
        if size_out % size_in:
            raise ValueError(f"Super-resolution needs the target side to be a multiple of the input side; got "
                             f"{size_in} → {size_out} px.")
        G = SRResNet(channels, size_out // size_in, config.width, config.n_blocks)
    G.apply(init_dcgan_weights)  # small initial outputs: a residual G starts as the identity (or bicubic)
    if not config.adversarial:
        return G, None
    D = PatchGANDiscriminator(channels, config.d_width, 2 if size_out <= 32 else 3, config.norm)
    D.apply(init_dcgan_weights)
    return G, D


def reconstruct(G: nn.Module, x: torch.Tensor, residual: bool, size: int) -> torch.Tensor:
    """x̂ = G(x) + U(x) with ``residual`` (U: bicubic to ``size``, the identity when x has that size), else G(x)."""
    out = G(x)
    return out + upsample(x, size) if residual else out


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
           loss_D_fn) -> dict[str, torch.Tensor]:
    """One D update on reconstructions against clean images: descend L_D(D(x_t), D(x̂)).

    Args:
        real: the clean targets x_t (B, C, H, W); fake: their reconstructions x̂, made without a graph.
        loss_D_fn: ``loss_D_fn(real_logits, fake_logits)`` → scalar (see ``gan_lab.losses``).

    Returns:
        ``{"loss_D", "D(real)", "D(fake)"}``: detached scalars (the last two: σ averaged over all patches).
    """
    real_logits, fake_logits = D(real), D(fake)  # (B, 1, h', w'): one verdict per patch
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "D(real)": torch.sigmoid(real_logits.detach()).mean(),
            "D(fake)": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module | None, opt_G: torch.optim.Optimizer, x: torch.Tensor, real: torch.Tensor,
           loss_G_fn, config: ReconstructionConfig) -> dict[str, torch.Tensor]:
    """One G update: descend λ_img·MSE + λ_freq·L_fMSE + λ_TV·TV + λ_adv·L_G(D(x̂)) (D None: no adversarial term).

    Args:
        D: the discriminator, held fixed (None for the baseline).
        x: degraded inputs (B, C, h, w); real: the clean targets x_t (B, C, H, W).

    Returns:
        Every term computed (the image MSE always, for monitoring) and ``loss_G``: detached scalars.
    """
    out = {}
    with frozen(D):  # the gradient flows through D into G; D's weights get none
        fake = reconstruct(G, x, config.residual, real.shape[-1])
        loss_img = F.mse_loss(fake, real)
        loss_G = config.lambda_img * loss_img
        terms = {"loss_freq": (config.lambda_freq, lambda: frequency_mse(fake, real)),
                 "loss_tv": (config.lambda_tv, lambda: total_variation(fake)),
                 "loss_adv": (config.lambda_adv, lambda: loss_G_fn(D(fake)))}
        for name, (weight, term) in terms.items():
            if weight:  # a term with weight 0 is not even computed
                value = term()
                loss_G = loss_G + weight * value
                out[name] = value.detach()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return out | {"loss_img": loss_img.detach(), "loss_G": loss_G.detach()}


@dataclass
class ReconstructionRun(Run):
    """A trained reconstructor: G, D (None for the baseline), and what every run holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module | None = None

    def reconstruct(self, x: torch.Tensor, size: int | None = None, batch_size: int = 256) -> torch.Tensor:
        """x̂ for degraded inputs (N, C, h, w) in [-1, 1], in batches, on the CPU.

        Args:
            size: the output side (default: the input side times the SRResNet's scale).
        """
        out = in_batches(self.G, x, batch_size=batch_size)
        return out + upsample(x.cpu(), size or out.shape[-1]) if self.config.residual else out


def _pairs(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if inputs.dim() != 4 or targets.dim() != 4 or inputs.shape[:2] != targets.shape[:2]:
        raise ValueError(f"inputs and targets must be paired image tensors (N, C, h, w) and (N, C, H, W); got "
                         f"{tuple(inputs.shape)} and {tuple(targets.shape)}.")
    return inputs, targets


def checkpoint_meta(config: ReconstructionConfig, inputs: torch.Tensor, targets: torch.Tensor,
                    data_name: str = "tensor") -> dict:
    """The JSON stored with a checkpoint: the config and what the pairs were."""
    x, y = _pairs(inputs, targets)
    return {**config.checkpoint_entry(), "data": data_name, "num_images": x.shape[0], "channels": x.shape[1],
            "size_in": x.shape[-1], "size_out": y.shape[-1], **fingerprint_entry(x, y)}


def train_reconstruction(inputs: torch.Tensor, targets: torch.Tensor, config: ReconstructionConfig | None = None,
                         *, device=None, checkpoint_dir: str | Path | None = None, resume: bool = False,
                         callbacks=(), stop_event=None, progress: bool = True,
                         data_name: str = "tensor") -> ReconstructionRun:
    """Train G to map degraded ``inputs[i]`` to clean ``targets[i]`` (tensors in [-1, 1]) and return the run.

    Args:
        inputs, targets: paired images (N, C, h, w) and (N, C, H, W); h = H for the U-Net.
        config: a ``ReconstructionConfig``; ``lambda_adv=0`` trains the non-adversarial baseline.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        data_name: what the pairs are, stored with the checkpoint; name everything that makes them
            differ (e.g. "pneumoniamnist, 30 % lines, seed 0") so a cache notices a change.

    Example:
        >>> mask = cartesian_mask(28, 0.3)  # doctest: +SKIP
        >>> run = train_reconstruction(undersample(clean, mask), clean, ReconstructionConfig())  # doctest: +SKIP
        >>> restored = run.reconstruct(undersample(clean_test, mask))  # doctest: +SKIP
    """
    config = config or ReconstructionConfig()
    x_all, y_all = _pairs(inputs, targets)
    device = get_device(device)
    x_all, y_all = x_all.to(device), y_all.to(device)
    G, D = build_reconstructor(config, x_all.shape[1], x_all.shape[-1], y_all.shape[-1])
    run = ReconstructionRun(G.to(device), D.to(device) if D is not None else None, config=config,
                            data_name=data_name)
    models = {"G": G} | ({"D": D} if D is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr_G, "D": config.lr_D})
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)

    def step_fn(step: int) -> dict:
        x, real = sample_batch(x_all, config.batch_size, y_all)
        out = {}
        if D is not None:
            with torch.no_grad():
                fake = reconstruct(G, x, config.residual, real.shape[-1])  # G is fixed during D's update
            out = d_step(D, optimizers["D"], real, fake, loss_D_fn)
        return out | g_step(G, D, optimizers["G"], x, real, loss_G_fn, config)

    return fit_run(run, step_fn, models, checkpoint_meta(config, inputs, targets, data_name),
                   desc=f"{config.arch} ({'GAN' if D is not None else 'no adversarial term'})",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def load_reconstruction(directory: str | Path, device=None) -> ReconstructionRun:
    """The ReconstructionRun saved in ``directory`` (G, and D unless it is the baseline)."""
    return load_run(directory, ReconstructionRun, ReconstructionConfig, {"G"}, "a reconstruction", device)


def load_or_train_reconstruction(directory: str | Path, inputs: torch.Tensor, targets: torch.Tensor,
                                 config: ReconstructionConfig, *, device=None, retrain: bool = False,
                                 data_name: str = "tensor", **train_options) -> ReconstructionRun:
    """Load the run cached in ``directory`` if it was trained with this config on these pairs, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``data_name`` is part of what is compared.
    ``train_options`` go to :func:`train_reconstruction` (``callbacks``, ``progress``, ``stop_event``).
    """
    return load_or_train(directory, config, checkpoint_meta(config, inputs, targets, data_name),
                         partial(train_reconstruction, inputs, targets, config, device=device, data_name=data_name,
                                 **train_options),
                         partial(load_reconstruction, device=device), retrain=retrain)
