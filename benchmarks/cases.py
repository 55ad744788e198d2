"""The benchmarked models: each one's data, config, gan_lab trainer call and hand-written twin.

A case's ``gan_lab(n)`` runs n more training steps through the public trainer
(``train_gan``, ``train_cgan``, …: the fit loop with its history, no
callbacks, no checkpoints), continuing the same run as a student's second
call would (the classifier, which no caller continues: a fresh run of n
steps); ``plain`` is the step of ``benchmarks/plain.py`` on the same data.
The data are random tensors of the real shapes, already on the device:
throughput does not depend on what the pixels show.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from gan_lab.data.base import ImageData
from gan_lab.train.classifier import ClassifierConfig, train_classifier
from gan_lab.train.conditional import CGANConfig, train_cgan
from gan_lab.train.cyclegan import CycleGANConfig, train_cyclegan
from gan_lab.train.gan import GANConfig, train_gan
from gan_lab.train.pix2pix import Pix2PixConfig, train_pix2pix
from gan_lab.train.segan import SegANConfig, train_segan
from gan_lab.train.wgan import WGANConfig, train_wgan

from . import plain

#: name → (label, image side, config); the configs are the trainers' defaults unless noted.
MODELS = {
    "mlp_gan": ("MLP GAN 28 px", 28, GANConfig(arch="mlp", width=64)),
    "dcgan_28": ("DCGAN 28 px", 28, GANConfig()),
    "dcgan_64": ("DCGAN 64 px", 64, GANConfig()),
    "cgan_projection": ("cDCGAN, projection D, 28 px", 28, CGANConfig(variant="projection")),
    "pix2pix": ("pix2pix (U-Net + PatchGAN) 28 px", 28, Pix2PixConfig()),
    "cyclegan": ("CycleGAN (ResNet G, PatchGAN D) 28 px", 28, CycleGANConfig()),
    "wgan_gp": ("WGAN-GP (n_critic 5) 28 px", 28, WGANConfig(mode="gp")),
    "segan": ("SegAN (U-Net S, multi-scale C) 64 px", 64, SegANConfig()),
    "classifier": ("domain classifier (φ, two-sample test, TSTR) 28 px", 28, ClassifierConfig()),
}
#: --quick: the same code paths with narrow networks, small batches and small images.
QUICK = {"width": 8, "batch_size": 8}


@dataclass
class Case:
    """One model ready to time: ``gan_lab(n)`` and ``plain()`` each do training steps on the same data."""

    name: str
    label: str
    images_per_step: int  # real images one step consumes (WGAN: n_critic batches; CycleGAN: both domains)
    gan_lab: Callable[[int], tuple[float, float]]  # n steps through the trainer → (wall, CPU) seconds
    plain: Callable[[], dict]
    plain_models: dict


def _config(name: str, quick: bool, progress_steps: int):
    _, size, config = MODELS[name]
    changes = {"num_steps": progress_steps}
    if quick:
        changes |= {k: v for k, v in QUICK.items() if hasattr(config, k)}
        changes |= {k: 8 for k in ("d_width", "critic_width") if hasattr(config, k)}
        size = 32 if size == 64 else size
    return dataclasses.replace(config, **changes), size


def _images(n: int, size: int, device, channels: int = 1) -> torch.Tensor:
    return (torch.rand(n, channels, size, size, device=device) * 2 - 1)


def build(name: str, device: torch.device, *, quick: bool = False, progress: bool = False,
          warmup: int = 3, n_images: int = 512) -> Case:
    """Data on ``device``, a gan_lab run trained ``warmup`` steps, and the plain twin (not yet warmed up)."""
    config, size = _config(name, quick, warmup)
    gen = torch.Generator().manual_seed(0)
    x = _images(n_images, size, device)
    trained = {"steps": warmup}

    def go(train: Callable, n: int) -> tuple[float, float]:  # continue the run to trained + n steps, as a user would
        trained["steps"] += n
        start = clock(device)
        train(dataclasses.replace(config, num_steps=trained["steps"]))
        return elapsed(device, start)

    if name in ("mlp_gan", "dcgan_28", "dcgan_64", "wgan_gp"):
        trainer = train_wgan if name == "wgan_gp" else train_gan
        run = trainer(x, config, device=device, progress=False)
        gan_lab = lambda n: go(lambda c: trainer(x, c, device=device, run=run, progress=progress), n)
        step, models = (plain.make_wgan_gp if name == "wgan_gp" else plain.make_gan)(config, x)
        per_step = config.batch_size * (config.n_critic if name == "wgan_gp" else 1)
    elif name == "cgan_projection":
        labels = torch.randint(0, 3, (n_images,), generator=gen).to(device)
        data = ImageData(x, labels, ["a", "b", "c"], "random", "benchmark")
        run = train_cgan(data, config, device=device, progress=False)
        gan_lab = lambda n: go(lambda c: train_cgan(data, c, device=device, run=run, progress=progress), n)
        step, models = plain.make_cgan(config, x, labels, 3)
        per_step = config.batch_size
    elif name == "pix2pix":
        y = _images(n_images, size, device)
        run = train_pix2pix(x, y, config, device=device, progress=False)
        gan_lab = lambda n: go(lambda c: train_pix2pix(x, y, c, device=device, run=run, progress=progress), n)
        step, models = plain.make_pix2pix(config, x, y)
        per_step = config.batch_size
    elif name == "segan":
        masks = (torch.rand(n_images, 1, size, size, generator=gen) > 0.5).float().to(device)
        data = ImageData(x, torch.zeros(n_images, dtype=torch.long, device=device), ["tile"], "random",
                         "benchmark", masks=masks)
        run = train_segan(data, config, device=device, progress=False)
        gan_lab = lambda n: go(lambda c: train_segan(data, c, device=device, run=run, progress=progress), n)
        step, models = plain.make_segan(config, x, masks)
        per_step = config.batch_size
    elif name == "cyclegan":
        y = _images(n_images, size, device)
        run = train_cyclegan(x, y, config, device=device, progress=False)
        gan_lab = lambda n: go(lambda c: train_cyclegan(x, y, c, device=device, run=run, progress=progress), n)
        step, models = plain.make_cyclegan(config, x, y)
        per_step = 2 * config.batch_size
    elif name == "classifier":  # no run to continue: each call trains a fresh classifier, as its callers do
        labels = torch.randint(0, 2, (n_images,), generator=gen).to(device)

        def gan_lab(n: int) -> tuple[float, float]:
            start = clock(device)
            train_classifier(x, labels, 2, dataclasses.replace(config, num_steps=n), device, progress)
            return elapsed(device, start)

        gan_lab(warmup)  # as the other cases train `warmup` steps before they are timed
        step, models = plain.make_classifier(config, x, labels, 2)
        per_step = config.batch_size
    else:
        raise ValueError(f"Unknown model {name!r}; choose from {sorted(MODELS)}.")
    return Case(name, MODELS[name][0], per_step, gan_lab, step, models)


def clock(device: torch.device) -> tuple[float, float]:
    """(wall, process CPU) time stamps once the device has finished its queued work (GPUs run asynchronously).

    On a shared CPU the process's CPU time counts only the time it actually ran, so
    other people's jobs barely move it; the wall time is what a user waits.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
    return time.perf_counter(), time.process_time()


def elapsed(device: torch.device, start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``start = clock(device)``."""
    now = clock(device)
    return now[0] - start[0], now[1] - start[1]
