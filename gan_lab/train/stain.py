"""Stain-style transfer after Cho et al. (2017), simplified: grey-normalise, then colourise with a cGAN.

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

The simplification: Cho et al.'s key term, a *feature-preserving loss* computed with
a tumour classifier so that stain transfer does not degrade it, is left out (there
is no tumour classifier for gan_lab's tiles); the cGAN + L1 objective is pix2pix's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data.stain import grey_normalise
from ..device import get_device
from .common import Run, TrainConfig, begin, fingerprint_entry, fit_run, in_batches, load_or_train, load_run
from .loop import sample_batch
from .pix2pix import Pix2PixConfig, build_pix2pix, pix2pix_step


@dataclass
class StainConfig(TrainConfig):
    """A colouriser run (``lambda_adv = 0``: the L1-only baseline, no D).

    Attributes:
        lambda_adv, lambda_L1: weights of the adversarial and the L1 term (pix2pix: 1 and 100).
        loss: adversarial loss, "nonsaturating", "minimax" or "least_squares".
        grey_std: standard deviation of the grey-normalised input (see ``grey_normalise``).
        width, d_width: U-Net and PatchGAN widths; norm: "batch" or "instance".
        augment: random flips and quarter turns of each batch (tissue has no up or down).
        batch_size, num_steps: tiles per step and G updates (one D update each).
        lr_G, lr_D: Adam's learning rates.
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "stain"

    lambda_adv: float = 1.0
    lambda_L1: float = 100.0
    loss: str = "nonsaturating"
    grey_std: float = 0.3
    width: int = 32
    d_width: int = 32
    norm: str = "batch"
    augment: bool = True
    batch_size: int = 16
    lr_G: float = 2e-4
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        self.pix2pix()  # checks the loss and the λ's as pix2pix does
        if not self.grey_std > 0:
            raise ValueError(f"grey_std must be > 0, not {self.grey_std!r}.")

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
class StainRun(Run):
    """A trained colouriser: G, D (None for the L1 baseline), and what every run holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module | None = None

    def normalise(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """G(grey_normalise(x)) for RGB tiles (N, 3, H, W) in [-1, 1]: x in the target style, on the CPU."""
        return in_batches(self.G, grey_normalise(images, self.config.grey_std), batch_size=batch_size)


def checkpoint_meta(config: StainConfig, target: torch.Tensor, data_name: str) -> dict:
    """The JSON stored with a colouriser checkpoint: the config and what the tiles were."""
    return {**config.checkpoint_entry(), "data": data_name, "num_images": target.shape[0], "size": target.shape[-1],
            **fingerprint_entry(target)}


def train_stain(target: torch.Tensor, config: StainConfig | None = None, *, device=None,
                checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(), stop_event=None,
                progress: bool = True, data_name: str = "tensor") -> StainRun:
    """Train a colouriser G: grey_normalise(x) → x on tiles ``target`` (N, 3, H, W) of the target style.

    Args:
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        data_name: what the tiles are, stored with the checkpoint so a cache notices other tiles.

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
    run = StainRun(G.to(device), D.to(device) if D is not None else None, config=config, data_name=data_name)
    models = {"G": G} | ({"D": D} if D is not None else {})
    optimizers = begin(run, config, models, {"G": config.lr_G, "D": config.lr_D})

    def step_fn(step: int) -> dict:
        x, y = sample_batch(x_all, config.batch_size, y_all)
        if config.augment:
            x, y = random_dihedral(x, y)
        return pix2pix_step(G, D, optimizers, x, y, config)

    return fit_run(run, step_fn, models, checkpoint_meta(config, target, data_name),
                   desc="colouriser" + (" (cGAN)" if D is not None else " (L1 only)"), checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=callbacks, stop_event=stop_event, progress=progress)


def load_stain(directory: str | Path, device=None) -> StainRun:
    """The StainRun saved in ``directory`` by :func:`train_stain` (nothing is unpickled)."""
    return load_run(directory, StainRun, StainConfig, {"G"}, "a colouriser", device)


def load_or_train_stain(directory: str | Path, target: torch.Tensor, config: StainConfig, *, device=None,
                        retrain: bool = False, data_name: str = "tensor", **train_options) -> StainRun:
    """Load the colouriser cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` (``callbacks``,
    ``progress``, ``stop_event``) go to :func:`train_stain`.
    """
    return load_or_train(directory, config, checkpoint_meta(config, target, data_name),
                         partial(train_stain, target, config, device=device, data_name=data_name, **train_options),
                         partial(load_stain, device=device), retrain=retrain)
