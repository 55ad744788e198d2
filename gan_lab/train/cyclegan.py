"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation as two step functions and a trainer.

Two generators map between domains X and Y, two discriminators judge each
domain, and the full objective is

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + λ_cyc L_cyc(G, F) + λ_id L_id(G, F)

with least-squares adversarial losses (Mao et al. 2017), the cycle loss
L_cyc = E_x‖F(G(x)) − x‖₁ + E_y‖G(F(y)) − y‖₁ and the identity loss
L_id = E_y‖G(y) − y‖₁ + E_x‖F(x) − x‖₁ (both in ``gan_lab.losses.translation``).
The discriminators see fakes drawn from a history of 50 (Shrivastava et al. 2017),
and both learning rates fall linearly to 0 over the second part of training, as in the paper.
The discriminators are PatchGANs with instance norm, as in the paper (its 70×70 PatchGAN,
``n_layers=3``, is used here from 64 px on; 28 px images get ``n_layers=2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..device import get_device
from ..losses import least_squares_d_loss, least_squares_g_loss
from ..losses.translation import cycle_loss, identity_loss
from ..models.dcgan import init_dcgan_weights
from ..models.patchgan import PatchGANDiscriminator
from ..models.resnet import ResnetGenerator
from .common import (
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
    set_learning_rates,
)
from .common import data_name as name_of
from .image_pool import ImagePool
from .loop import sample_batch


@dataclass
class CycleGANConfig(TrainConfig):
    """Everything that defines a CycleGAN run (notebooks override by keyword).

    Attributes:
        width: channels of the generators' stem and the discriminators' first layer (ngf = ndf).
        n_blocks: residual blocks per generator; None: 3 at 28 px, 6 at 64 px.
        lambda_cycle: weight λ_cyc of the cycle loss. The adversarial terms here carry Mao et al.'s ½,
            which Zhu et al. drop, so λ_cyc = 5 weighs the terms as the paper's λ = 10 does.
        lambda_id: weight λ_id of the identity loss (paper's code: 0.5·λ_cyc); 0 turns it off,
            which domains with different channel counts require.
        pool_size: fakes kept in each discriminator's history (paper: 50; 0: no pool).
        batch_size: images per domain per step (paper: 1; larger is faster on a CPU).
        num_steps: generator updates (one discriminator update each).
        decay_start: fraction of num_steps after which the learning rates fall linearly to 0 (paper: 0.5).
        lr: Adam's learning rate for all four networks (paper: 2e-4, β = (0.5, 0.999)).
        The loop fields, Adam's betas and the seed (also of the pools): see ``TrainConfig``.
    """

    key = "cyclegan"

    width: int = 32
    n_blocks: int | None = None
    lambda_cycle: float = 5.0
    lambda_id: float = 2.5
    pool_size: int = 50
    batch_size: int = 8
    num_steps: int = 2000
    decay_start: float = 0.5
    lr: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.pool_size < 0 or not 0.0 <= self.decay_start <= 1.0:
            raise ValueError(f"pool_size must be ≥ 0 (0: no pool) and decay_start a fraction in [0, 1]; got "
                             f"pool_size={self.pool_size}, decay_start={self.decay_start}.")


def linear_decay(num_steps: int, decay_start: float = 0.5):
    """The LambdaLR factor: 1 for the first ``decay_start·num_steps`` steps, then linearly down to 0 at num_steps."""
    constant = int(decay_start * num_steps)
    return lambda step: max(0.0, 1.0 - max(0, step - constant) / max(1, num_steps - constant))


def build_cyclegan(config: CycleGANConfig, channels_X: int = 1, channels_Y: int = 1,
                   size: int = 28) -> dict[str, nn.Module]:
    """Fresh networks {"G_XY", "G_YX", "D_X", "D_Y"} for images of side ``size``, N(0, 0.02) weights."""
    torch.manual_seed(config.seed)
    d_layers = 2 if size <= 32 else 3  # receptive field 34 px (2 layers) / 70 px (3): the whole image at 28 or 64 px
    models = {
        "G_XY": ResnetGenerator(channels_X, channels_Y, config.width, config.n_blocks, size),
        "G_YX": ResnetGenerator(channels_Y, channels_X, config.width, config.n_blocks, size),
        "D_X": PatchGANDiscriminator(channels_X, config.width, d_layers, norm="instance"),
        "D_Y": PatchGANDiscriminator(channels_Y, config.width, d_layers, norm="instance"),
    }
    for m in models.values():
        m.apply(init_dcgan_weights)
    return models


def g_step(G_XY: nn.Module, G_YX: nn.Module, D_X: nn.Module, D_Y: nn.Module, opt_G: torch.optim.Optimizer,
           real_X: torch.Tensor, real_Y: torch.Tensor, fake_X: torch.Tensor, fake_Y: torch.Tensor,
           lambda_cycle: float, lambda_id: float) -> dict[str, torch.Tensor]:
    """One update of both generators on the full objective; the discriminators stay fixed.

    Args:
        real_X, real_Y: a batch of each domain.
        fake_X, fake_Y: F(y) = G_YX(real_Y) and G(x) = G_XY(real_X), made by the caller WITH their graph
            (the loss backpropagates through them); the caller then hands them, detached, to the pools.

    Returns:
        ``{"loss_G", "loss_GAN", "loss_cycle"}`` and ``"loss_id"`` when λ_id > 0: detached scalars.
    """
    with frozen(D_X, D_Y):  # the gradient flows through D into G; D's weights get none
        rec_X = G_YX(fake_Y)  # F(G(x)): back to X
        rec_Y = G_XY(fake_X)  # G(F(y)): back to Y
        loss_GAN = least_squares_g_loss(D_Y(fake_Y)) + least_squares_g_loss(D_X(fake_X))
        loss_cycle = cycle_loss(real_X, rec_X, real_Y, rec_Y)
        out = {"loss_GAN": loss_GAN, "loss_cycle": loss_cycle}
        loss_G = loss_GAN + lambda_cycle * loss_cycle
        if lambda_id > 0:  # F(x) ≈ x and G(y) ≈ y: keeps intensities where nothing needs translating
            out["loss_id"] = identity_loss(real_X, G_YX(real_X), real_Y, G_XY(real_Y))
            loss_G = loss_G + lambda_id * out["loss_id"]
        out["loss_G"] = loss_G
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {k: v.detach() for k, v in out.items()}


def d_step(D_X: nn.Module, D_Y: nn.Module, opt_D: torch.optim.Optimizer, real_X: torch.Tensor,
           real_Y: torch.Tensor, fake_X: torch.Tensor, fake_Y: torch.Tensor) -> dict[str, torch.Tensor]:
    """One update of both discriminators: L_D = ½E[(D(real) − 1)²] + ½E[D(fake)²] for D_X and D_Y.

    ``fake_X``, ``fake_Y``: detached fakes of each domain (from the image pools).
    """
    loss_D_X = least_squares_d_loss(D_X(real_X), D_X(fake_X))
    loss_D_Y = least_squares_d_loss(D_Y(real_Y), D_Y(fake_Y))
    opt_D.zero_grad(set_to_none=True)
    (loss_D_X + loss_D_Y).backward()
    opt_D.step()
    return {"loss_D_X": loss_D_X.detach(), "loss_D_Y": loss_D_Y.detach()}


@dataclass
class CycleGANRun(Run):
    """A trained (or training) CycleGAN: its four networks, the domain names, its image pools, and what
    every run holds (see ``Run``). Code names → Zhu et al.'s: G_XY = G (X → Y), G_YX = F (Y → X), D_X, D_Y.

    (Zhu et al.'s own code calls them G_A = G, G_B = F, D_A = D_Y, D_B = D_X.)
    """

    G_XY: nn.Module
    G_YX: nn.Module
    D_X: nn.Module
    D_Y: nn.Module
    names: tuple[str, str] = ("X", "Y")
    # kept, as the optimisers are, so a second train_cyclegan call continues the fake histories
    pools: tuple[ImagePool, ImagePool] | None = field(default=None, repr=False)

    @property
    def models(self) -> dict[str, nn.Module]:
        return {"G_XY": self.G_XY, "G_YX": self.G_YX, "D_X": self.D_X, "D_Y": self.D_Y}

    def translate(self, images: torch.Tensor, to: str = "Y", batch_size: int = 256) -> torch.Tensor:
        """G(x) for ``to="Y"`` or F(y) for ``to="X"``; (N, C, H, W) in, CPU tensor out (eval mode)."""
        if to not in ("X", "Y"):
            raise ValueError(f"to must be 'X' (apply F) or 'Y' (apply G), not {to!r}.")
        return in_batches(self.G_XY if to == "Y" else self.G_YX, images, batch_size=batch_size)

    def cycle(self, images: torch.Tensor, start: str = "X") -> tuple[torch.Tensor, torch.Tensor]:
        """(G(x), F(G(x))) for ``start="X"``, (F(y), G(F(y))) for ``start="Y"``."""
        other = "Y" if start == "X" else "X"
        fake = self.translate(images, to=other)
        return fake, self.translate(fake, to=start)


def _domains(data_X, data_Y, lambda_id: float) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = images_of(data_X), images_of(data_Y)
    if x.shape[-1] % 4 or x.shape[-2] % 4:
        raise ValueError(f"Expected images with H, W divisible by 4 (28 or 64 px); got {tuple(x.shape)}.")
    if x.shape[-2:] != y.shape[-2:]:
        raise ValueError(f"Both domains need the same image size; got {tuple(x.shape[-2:])} and {tuple(y.shape[-2:])}.")
    if lambda_id > 0 and x.shape[1] != y.shape[1]:
        raise ValueError(f"The identity loss feeds Y images to G: X → Y, so it needs equal channel counts "
                         f"(got {x.shape[1]} and {y.shape[1]}). Set lambda_id=0 or repeat grey images to 3 channels.")
    return x, y


def _data_name_of(data_X, data_Y, data_name: str | None = None) -> str:
    """What a run records as its data: ``data_name``, or the names of both sets."""
    return data_name or f"{name_of(data_X)}, {name_of(data_Y)}"


def checkpoint_meta(config: CycleGANConfig, data_X, data_Y, names=("X", "Y"), data_name: str | None = None) -> dict:
    """The JSON stored with a CycleGAN checkpoint: the config, the domain names and what the data was."""
    x, y = _domains(data_X, data_Y, config.lambda_id)
    return {**config.checkpoint_entry(), "names": list(names), "data": _data_name_of(data_X, data_Y, data_name),
            "num_images": [x.shape[0], y.shape[0]], "channels": [x.shape[1], y.shape[1]], "size": x.shape[-1],
            **fingerprint_entry(x, y)}


def train_cyclegan(data_X, data_Y, config: CycleGANConfig | None = None, *, device=None,
                   checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(), stop_event=None,
                   progress: bool = True, names: tuple[str, str] | None = None,
                   data_name: str | None = None, run: CycleGANRun | None = None) -> CycleGANRun:
    """Train a CycleGAN between two unpaired image sets (in [-1, 1]) and return the run.

    Args:
        data_X, data_Y: ``ImageData`` or tensors (N, C, H, W); sizes must match, counts and channels may differ.
        config: a ``CycleGANConfig``; defaults to ``CycleGANConfig()``.
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        names: display names of the domains, e.g. ("MR", "CT"); None: the run's, or ("X", "Y").
        data_name: what the data is, stored with the checkpoint; name everything that makes two data sets
            differ (e.g. "phantoms, lesions MR 50% / CT 0%") so a cache notices.
        run: continue this run up to ``config.num_steps``: its networks, optimiser state and image pools
            (the learning-rate schedule follows ``config``, from the run's last step on).

    Example:
        >>> sets = gan_lab.data.phantom_unpaired(1000)  # doctest: +SKIP
        >>> run = train_cyclegan(sets["mr"], sets["ct"], names=("MR", "CT"))  # doctest: +SKIP
        >>> fake_ct, rec_mr = run.cycle(sets["test_mr"].images)  # G(x), F(G(x))  # doctest: +SKIP
    """
    config = config or CycleGANConfig()
    device = get_device(device)
    x, y = (t.to(device) for t in _domains(data_X, data_Y, config.lambda_id))
    if run is None:
        built = build_cyclegan(config, x.shape[1], y.shape[1], x.shape[-1])
        run = CycleGANRun(**{k: m.to(device) for k, m in built.items()}, config=config,
                          data_name=_data_name_of(data_X, data_Y, data_name))
    run.names = tuple(names or run.names)
    G_XY, G_YX, D_X, D_Y = run.G_XY, run.G_YX, run.D_X, run.D_Y
    # one Adam for both generators ("G") and one for both discriminators ("D"), as in the paper's code
    optimizers = begin(run, config, {"G": nn.ModuleList([G_XY, G_YX]), "D": nn.ModuleList([D_X, D_Y])},
                       {"G": config.lr, "D": config.lr})
    decay = linear_decay(config.num_steps, config.decay_start)
    run.pools = run.pools or (ImagePool(config.pool_size, config.seed), ImagePool(config.pool_size, config.seed + 1))
    pool_X, pool_Y = run.pools

    def step_fn(step: int) -> dict:
        # the rate of this step, from the global step: a resumed or continued run follows the schedule of its config
        set_learning_rates(optimizers, {"G": config.lr, "D": config.lr}, decay(step - 1))
        real_X, real_Y = sample_batch(x, config.batch_size), sample_batch(y, config.batch_size)
        fake_Y, fake_X = G_XY(real_X), G_YX(real_Y)  # G(x), F(y), with their graph for G's update
        out = g_step(G_XY, G_YX, D_X, D_Y, optimizers["G"], real_X, real_Y, fake_X, fake_Y, config.lambda_cycle,
                     config.lambda_id)
        out |= d_step(D_X, D_Y, optimizers["D"], real_X, real_Y, pool_X.query(fake_X), pool_Y.query(fake_Y))
        return out | {"lr": optimizers["G"].param_groups[0]["lr"]}  # the rate this step used

    return fit_run(run, step_fn, run.models, checkpoint_meta(config, data_X, data_Y, run.names, data_name),
                   desc=f"CycleGAN {run.names[0]}↔{run.names[1]}", checkpoint_dir=checkpoint_dir, resume=resume,
                   callbacks=callbacks, stop_event=stop_event, progress=progress)


def load_cyclegan(directory: str | Path, device=None) -> CycleGANRun:
    """The CycleGANRun saved in ``directory`` by :func:`train_cyclegan` (nothing is unpickled)."""
    return load_run(directory, CycleGANRun, CycleGANConfig, {"G_XY", "G_YX", "D_X", "D_Y"}, "a CycleGAN", device,
                    names=lambda meta: tuple(meta["names"]))


def load_or_train_cyclegan(directory: str | Path, data_X, data_Y, config: CycleGANConfig, *, device=None,
                           retrain: bool = False, names: tuple[str, str] = ("X", "Y"), data_name: str | None = None,
                           **train_options) -> CycleGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` (``callbacks``,
    ``progress``, ``stop_event``) go to :func:`train_cyclegan`.
    """
    return load_or_train(directory, config, checkpoint_meta(config, data_X, data_Y, names, data_name),
                         partial(train_cyclegan, data_X, data_Y, config, device=device, names=names,
                                 data_name=data_name, **train_options),
                         partial(load_cyclegan, device=device), retrain=retrain)
