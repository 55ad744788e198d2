"""Stain-style transfer (Cho et al. 2017): grey-normalise, then colourise into the target style with a cGAN.

Cho et al. split stain normalisation in two. *Grey-normalisation* maps an image
of any staining to a standardised grey image (``gan_lab.data.stain.grey_normalise``),
removing the stain's colour. A *style generator* G, trained only on images of the
target style, learns to colourise: grey_normalise(x) → x. At test time an image
stained in another lab goes through both stages and comes out in the target style.

G is a U-Net and D a PatchGAN that sees (grey input, colour output), as in pix2pix;
the step functions are pix2pix's, on the pairs (grey_normalise(x), x):

    G* = arg min_G max_D  L_cGAN(G, D) + λ_L1 · E‖x − G(grey_normalise(x))‖₁ .

``lambda_adv = 0`` trains the same U-Net with L1 alone: the non-adversarial
colouriser, which paints the *median* colour wherever the grey level is ambiguous.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import checkpoints
from ..data.stain import grey_normalise
from ..device import get_device
from ..losses import adversarial_losses
from .gan import GAN_LOSSES, LOOP_ONLY_FIELDS
from .loop import fit, sample_batch
from .pix2pix import Pix2PixConfig, build_pix2pix, d_step, g_step


@dataclass
class StainConfig:
    """A colouriser run (``lambda_adv = 0``: the L1-only baseline, no D).

    Attributes:
        lambda_adv, lambda_L1: weights of the adversarial and the L1 term (pix2pix: 1 and 100).
        loss: adversarial loss, "nonsaturating", "minimax" or "least_squares".
        grey_std: standard deviation of the grey-normalised input (see ``grey_normalise``).
        width, d_width: U-Net and PatchGAN widths; norm: "batch" or "instance".
        augment: random flips and quarter turns of each batch (tissue has no up or down).
        batch_size, num_steps: tiles per step and G updates (one D update each).
        lr_G, lr_D, beta1, beta2: Adam settings.
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``).
        seed: seed for weights and batches.
    """

    lambda_adv: float = 1.0
    lambda_L1: float = 100.0
    loss: str = "nonsaturating"
    grey_std: float = 0.3
    width: int = 32
    d_width: int = 32
    norm: str = "batch"
    augment: bool = True
    batch_size: int = 16
    num_steps: int = 1000
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 500
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"loss must be one of {GAN_LOSSES}, not {self.loss!r}.")
        if self.lambda_adv < 0 or self.lambda_L1 < 0 or self.lambda_adv + self.lambda_L1 == 0:
            raise ValueError(f"lambda_adv and lambda_L1 must be ≥ 0 and not both 0; got {self.lambda_adv}, "
                             f"{self.lambda_L1}.")
        if self.grey_std <= 0 or self.batch_size < 1 or self.num_steps < 0:
            raise ValueError("grey_std and batch_size must be > 0 and num_steps ≥ 0.")

    def pix2pix(self) -> Pix2PixConfig:
        """The pix2pix settings of G and D."""
        return Pix2PixConfig(lambda_adv=self.lambda_adv, lambda_L1=self.lambda_L1, loss=self.loss, width=self.width,
                             d_width=self.d_width, norm=self.norm, seed=self.seed)


def random_dihedral(*images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """The same random flip and quarter turn (one of 8) applied to every tensor (B, C, H, W), per sample."""
    B = images[0].shape[0]
    flip = torch.rand(B, generator=generator) < 0.5
    turns = torch.randint(0, 4, (B,), generator=generator)
    out = []
    for x in images:
        x = torch.where(flip.to(x.device).view(B, 1, 1, 1), x.flip(-1), x)
        out.append(torch.stack([torch.rot90(x[i], int(k), (-2, -1)) for i, k in enumerate(turns)]))
    return tuple(out)


@dataclass
class StainRun:
    """A trained colouriser: G, D (None for the L1 baseline), history and config."""

    G: nn.Module
    D: nn.Module | None
    history: dict
    config: StainConfig
    checkpoint_dir: Path | None = None

    @torch.inference_mode()
    def normalise(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """G(grey_normalise(x)) for RGB tiles (N, 3, H, W) in [-1, 1]: x in the target style, on the CPU."""
        device = next(self.G.parameters()).device
        self.G.eval()
        grey = grey_normalise(images, self.config.grey_std)
        return torch.cat([self.G(grey[i:i + batch_size].to(device)).cpu() for i in range(0, len(grey), batch_size)])


def _meta(config: StainConfig, target: torch.Tensor, data_name: str) -> dict:
    return {"stain": dataclasses.asdict(config), "data": data_name, "num_images": target.shape[0],
            "size": target.shape[-1]}


def train_stain(target: torch.Tensor, config: StainConfig | None = None, *, device=None,
                checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
                progress: bool = True, data_name: str = "tensor") -> StainRun:
    """Train a colouriser G: grey_normalise(x) → x on tiles ``target`` (N, 3, H, W) of the target style.

    Example:
        >>> tiles = gan_lab.data.stain.load_stained("train").images  # doctest: +SKIP
        >>> run = train_stain(tiles, StainConfig(num_steps=500))
        >>> in_target_style = run.normalise(hed_jitter(tiles))
    """
    config = config or StainConfig()
    if target.dim() != 4 or target.shape[1] != 3:
        raise ValueError(f"Expected RGB tiles (N, 3, H, W) in [-1, 1]; got {tuple(target.shape)}.")
    device = get_device(device)
    y_all = target.to(device)
    x_all = grey_normalise(y_all, config.grey_std)  # fixed inputs: the grey stage has no parameters
    G, D = build_pix2pix(config.pix2pix(), 1, 3, target.shape[-1])
    models = {"G": G.to(device).train()} | ({"D": D.to(device).train()} if D is not None else {})
    lrs, betas = {"G": config.lr_G, "D": config.lr_D}, (config.beta1, config.beta2)
    optimizers = {name: torch.optim.Adam(m.parameters(), lrs[name], betas=betas) for name, m in models.items()}
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    torch.manual_seed(config.seed)

    def step_fn(step: int) -> dict:
        x, y = sample_batch(x_all, config.batch_size, y_all)
        if config.augment:
            x, y = random_dihedral(x, y)
        out = d_step(G, D, optimizers["D"], x, y, loss_D_fn) if D is not None else {}
        return out | g_step(G, D, optimizers["G"], x, y, loss_G_fn, config.lambda_adv, config.lambda_L1)

    history = fit(step_fn, config.num_steps, models=models, optimizers=optimizers,
                  config=_meta(config, target, data_name), checkpoint_dir=checkpoint_dir,
                  checkpoint_every=config.checkpoint_every, resume=resume, log_every=config.log_every,
                  callbacks=callbacks, callback_every=config.callback_every, progress=progress,
                  desc="colouriser" + (" (cGAN)" if D is not None else " (L1 only)"))
    for model in models.values():
        model.eval()
    return StainRun(G, D, history, config, Path(checkpoint_dir) if checkpoint_dir else None)


def load_or_train_stain(directory: str | Path, target: torch.Tensor, config: StainConfig, *, device=None,
                        progress: bool = True, data_name: str = "tensor") -> StainRun:
    """Load the colouriser cached in ``directory`` if it was trained with this config on this data, else train it."""
    status = checkpoints.cache_status(directory, _meta(config, target, data_name), num_steps=config.num_steps,
                                      ignore=tuple(f"stain.{k}" for k in LOOP_ONLY_FIELDS))
    if status == "load":
        ckpt = checkpoints.load_checkpoint(directory, device=device)
        return StainRun(ckpt.models["G"], ckpt.models.get("D"), ckpt.history, config, Path(directory))
    return train_stain(target, config, device=device, checkpoint_dir=directory, resume=status == "resume",
                       progress=progress, data_name=data_name)
