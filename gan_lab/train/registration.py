"""Adversarial image registration (Yan et al. 2018): a transform generator judged by a discriminator.

The generator G reads a fixed image and a moving image of another modality (MR and
TRUS in the paper; MR-like and CT-like phantoms here) and predicts the rigid
parameters p̂ = G(fixed, moving) that align them; a differentiable resampler
(``gan_lab.models.registration.warp``) applies them. The discriminator D sees image
*pairs* and learns to tell (fixed, moving warped with the ground truth p*) from
(fixed, moving warped with p̂): a learned similarity measure for two modalities,
where no intensity difference can say "aligned". G descends

    L_G = λ_param · ‖(p̂ − p*) / s‖² + λ_image · ‖warp(m, p̂) − warp(m, p*)‖₁ + λ_adv · L_G^adv(D(f, warp(m, p̂))),

with s the parameter ranges (this form of the supervised part is gan_lab's own). ``lambda_adv = 0``
is the supervised-only regressor (no D is built or trained): the baseline the adversarial term
has to beat. As Yan et al. note, the trained D is also a metric network: its output on a pair
scores how well the pair is registered, without the true transform.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ..losses import adversarial_losses
from ..models.dcgan import DCGANDiscriminator
from ..models.registration import RigidRegressor, invert_rigid, random_rigid, warp
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


@dataclass
class RegistrationConfig(TrainConfig):
    """An adversarial-registration run (``lambda_adv = 0``: the supervised-only regressor).

    Attributes:
        lambda_adv: weight of the adversarial term (0: no discriminator).
        lambda_param: weight of the squared parameter error, each parameter divided by its range.
        lambda_image: weight of the L1 distance between the moving image warped with p̂ and with p*.
        loss: adversarial loss, "nonsaturating", "minimax" or "least_squares".
        max_angle, max_shift: the misalignments drawn, uniform in ±degrees and ±pixels.
        width, d_width: channels of G's first block and of D's first layer.
        batch_size, num_steps: pairs per step and G updates (one D update each). Every step draws
            fresh transforms, so G never sees the same misalignment twice.
        lr_G, lr_D: Adam's learning rates of G and D.
        The loop fields, Adam's betas and the seed (for weights, pairs and transforms): see ``TrainConfig``.
    """

    key = "registration"

    lambda_adv: float = 0.05
    lambda_param: float = 1.0
    lambda_image: float = 1.0
    loss: str = "nonsaturating"
    max_angle: float = 25.0
    max_shift: float = 4.0
    width: int = 16
    d_width: int = 32
    batch_size: int = 64
    num_steps: int = 1500
    lr_G: float = 1e-3
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r}.")
        if self.lambda_param + self.lambda_image == 0:
            raise ValueError("lambda_param + lambda_image must be > 0 (the adversarial term alone does not say which "
                             f"transform is right); got {self.lambda_param} and {self.lambda_image}.")
        if self.max_angle <= 0 or self.max_shift <= 0:
            raise ValueError(f"max_angle and max_shift must be > 0; got {self.max_angle}, {self.max_shift}.")

    @property
    def scale(self) -> tuple[float, float, float]:
        """The parameter ranges s = (max_angle, max_shift, max_shift)."""
        return (self.max_angle, self.max_shift, self.max_shift)


def misaligned_pairs(fixed: torch.Tensor, aligned: torch.Tensor, max_angle: float, max_shift: float,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Moving images and their ground truth: moving = warp(aligned, p*⁻¹), so warp(moving, p*) ≈ aligned.

    Args:
        fixed, aligned: (N, 1, H, W) images already in register (e.g. MR and CT of one anatomy);
            only ``aligned`` is moved.

    Returns:
        ``(moving, p_true)``: (N, 1, H, W) and the (N, 3) parameters that register moving to fixed.
    """
    p_true = random_rigid(aligned.shape[0], max_angle, max_shift, generator).to(aligned.device)
    return warp(aligned, invert_rigid(p_true)), p_true


def build_registration(config: RegistrationConfig, size: int = 28) -> tuple[nn.Module, nn.Module | None]:
    """A fresh generator G (a ``RigidRegressor``) and, when λ_adv > 0, a pair discriminator D."""
    torch.manual_seed(config.seed)
    G = RigidRegressor(size, config.width, config.scale)
    return G, DCGANDiscriminator(2, size, config.d_width) if config.lambda_adv else None


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, fixed: torch.Tensor, moving: torch.Tensor,
           p_true: torch.Tensor, p_hat: torch.Tensor, loss_D_fn) -> dict[str, torch.Tensor]:
    """One D update: (fixed, warp(moving, p*)) is "real", (fixed, warp(moving, p̂)) is "fake".

    Both are warped once from the same moving image, so interpolation blur cannot give the fake away.

    Args:
        fixed, moving: image pairs (B, 1, H, W); p_true: the true parameters p* (B, 3).
        p_hat: G's estimate p̂ (B, 3), made without a graph (G is fixed during D's update).
    """
    real_logits = D(torch.cat([fixed, warp(moving, p_true)], dim=1))
    fake_logits = D(torch.cat([fixed, warp(moving, p_hat)], dim=1))
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "D(real)": torch.sigmoid(real_logits.detach()).mean(),
            "D(fake)": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module | None, opt_G: torch.optim.Optimizer, fixed: torch.Tensor,
           moving: torch.Tensor, p_true: torch.Tensor, config: RegistrationConfig,
           loss_G_fn=None) -> dict[str, torch.Tensor]:
    """One G update: descend λ_param·‖(p̂ − p*)/s‖² + λ_image·‖warp(m, p̂) − warp(m, p*)‖₁ + λ_adv·L_adv.

    D is held fixed (None: supervised only, no adversarial term). Returns every term and ``loss_G``, detached.
    """
    scale = torch.tensor(config.scale, device=fixed.device)
    out = {}
    with frozen(D):  # the gradient flows through D into G; D's weights get none
        p_hat = G(fixed, moving)  # (B, 3)
        warped = warp(moving, p_hat)  # differentiable in p̂: the image term and D reach G through it
        loss_param = F.mse_loss(p_hat / scale, p_true / scale)
        loss_image = F.l1_loss(warped, warp(moving, p_true))
        loss_G = config.lambda_param * loss_param + config.lambda_image * loss_image
        if D is not None:
            loss_adv = loss_G_fn(D(torch.cat([fixed, warped], dim=1)))
            loss_G = loss_G + config.lambda_adv * loss_adv
            out["loss_adv"] = loss_adv.detach()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return out | {"loss_G": loss_G.detach(), "loss_param": loss_param.detach(), "loss_image": loss_image.detach()}


def parameter_errors(p_hat: torch.Tensor, p_true: torch.Tensor) -> dict[str, float]:
    """Mean absolute angle error (degrees) and mean Euclidean shift error (pixels) over (N, 3) parameters."""
    diff = (p_hat - p_true).detach().cpu()
    return {"angle_deg": diff[:, 0].abs().mean().item(), "shift_px": diff[:, 1:].norm(dim=1).mean().item()}


@dataclass
class RegistrationRun(Run):
    """A trained registration generator G and its discriminator D (None: supervised only); see also ``Run``."""

    G: nn.Module
    D: nn.Module | None = None

    def predict(self, fixed: torch.Tensor, moving: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """p̂ = G(fixed, moving), (N, 3) on the CPU, for image pairs (N, 1, H, W)."""
        return in_batches(self.G, fixed, moving, batch_size=batch_size)


def checkpoint_meta(config: RegistrationConfig, fixed: torch.Tensor, aligned: torch.Tensor,
                    data_name: str = "tensor") -> dict:
    """The JSON stored with a registration checkpoint: the config and what the pairs were."""
    return {**config.checkpoint_entry(), "data": data_name, "num_images": fixed.shape[0], "size": fixed.shape[-1],
            **fingerprint_entry(fixed, aligned)}


def train_registration(fixed: torch.Tensor, aligned: torch.Tensor, config: RegistrationConfig | None = None, *,
                       device=None, checkpoint_dir: str | Path | None = None, resume: bool = False,
                       callbacks=(), stop_event=None, progress: bool = True,
                       data_name: str = "tensor") -> RegistrationRun:
    """Train G to register ``aligned`` images, moved by fresh random rigid transforms, onto ``fixed``.

    Args:
        fixed, aligned: (N, 1, H, W) in [-1, 1], in register pair by pair (e.g. ``phantom_pairs``'s MR and CT).
        config: a ``RegistrationConfig``; ``lambda_adv=0`` trains the supervised-only baseline.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        data_name: what the pairs are, stored with the checkpoint so that a cache notices other data.

    Example:
        >>> mr, ct = gan_lab.data.phantom_pairs(2000)  # doctest: +SKIP
        >>> run = train_registration(mr.images, ct.images, RegistrationConfig(num_steps=1000))
    """
    config = config or RegistrationConfig()
    if fixed.dim() != 4 or fixed.shape != aligned.shape or fixed.shape[1] != 1:
        raise ValueError(f"Expected fixed and aligned images of the same shape (N, 1, H, W); got "
                         f"{tuple(fixed.shape)} and {tuple(aligned.shape)}.")
    device = get_device(device)
    f_all, a_all = fixed.to(device), aligned.to(device)
    G, D = build_registration(config, fixed.shape[-1])
    run = RegistrationRun(G.to(device), D.to(device) if D is not None else None, config=config, data_name=data_name)
    models = {"G": G} | ({"D": D} if D is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr_G, "D": config.lr_D})
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)

    def step_fn(step: int) -> dict:
        f, a = sample_batch(f_all, config.batch_size, a_all)
        m, p_true = misaligned_pairs(f, a, config.max_angle, config.max_shift)  # fresh transforms every step
        out = {}
        if D is not None:
            with torch.no_grad():
                p_hat = G(f, m)  # G is fixed during D's update
            out = d_step(D, optimizers["D"], f, m, p_true, p_hat, loss_D_fn)
        return out | g_step(G, D, optimizers["G"], f, m, p_true, config, loss_G_fn)

    return fit_run(run, step_fn, models, checkpoint_meta(config, fixed, aligned, data_name),
                   desc="registration" + (" (adversarial)" if D is not None else " (supervised)"),
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def load_registration(directory: str | Path, device=None) -> RegistrationRun:
    """The RegistrationRun saved in ``directory`` (G, and D unless it is the supervised-only baseline)."""
    return load_run(directory, RegistrationRun, RegistrationConfig, {"G"}, "a registration", device)


def load_or_train_registration(directory: str | Path, fixed: torch.Tensor, aligned: torch.Tensor,
                               config: RegistrationConfig, *, device=None, retrain: bool = False,
                               data_name: str = "tensor", **train_options) -> RegistrationRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``data_name`` is part of what is compared.
    ``train_options`` go to :func:`train_registration` (``callbacks``, ``progress``, ``stop_event``).
    """
    return load_or_train(directory, config, checkpoint_meta(config, fixed, aligned, data_name),
                         partial(train_registration, fixed, aligned, config, device=device, data_name=data_name,
                                 **train_options),
                         partial(load_registration, device=device), retrain=retrain)
