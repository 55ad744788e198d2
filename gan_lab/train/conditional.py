"""Class-conditional GANs: cGAN (Mirza & Osindero 2014), projection D and ACGAN (Odena et al. 2017).

The conditional objective gives D and G the label y of every image:

    min_G max_D  E_{x,y}[log D(x|y)] + E_{z,y}[log(1 − D(G(z|y)|y))]

ACGAN instead keeps D's input unconditional and adds a classification
task for D (and G). Odena et al. train D to maximise L_S + L_C and G to
maximise L_C − L_S, with L_S the log-likelihood of the right source (real or
fake) and L_C that of the right class, on real and fake images. As losses,
with CE the cross-entropy of the auxiliary classifier:

    D minimises L_D + λ_cls (CE(real) + CE(fake)),    G minimises L_G + λ_cls CE(fake),

where L_D, L_G are the chosen GAN losses (non-saturating L_G by default) and
λ_cls = 1 is the paper's equal weighting. The classifier term is known to bias
G towards easily classified, less diverse images (Shu 2017; Gong et al. 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import ImageData
from ..device import get_device
from ..losses import adversarial_losses
from ..models.conditional import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
)
from ..models.dcgan import init_dcgan_weights
from .common import Run, TrainConfig, begin, data_meta, draw_z, fit_run, frozen, in_batches, load_or_train, load_run
from .loop import sample_batch
from .memory_format import channels_last_on_cpu

#: variant → discriminator class: how the label enters D.
DISCRIMINATORS = {"concat": ConditionalDiscriminator, "projection": ProjectionDiscriminator,
                  "acgan": ACGANDiscriminator}


@dataclass
class CGANConfig(TrainConfig):
    """Everything that defines a class-conditional GAN run.

    Attributes:
        variant: "concat" (y as an input plane of D), "projection" (Miyato & Koyama 2018)
            or "acgan" (D predicts y; Odena et al. 2017). G is the same in all three.
        loss: adversarial loss name (see ``gan_lab.losses``).
        z_dim: latent size.
        embed_dim: size of G's label embedding.
        width: G and D width (channels of the outer DCGAN layers).
        batch_size: images per step.
        num_steps: generator updates (one D update each).
        lambda_cls: weight λ_cls of ACGAN's classification loss (ignored otherwise).
        lr_G, lr_D: Adam's learning rates (DCGAN paper: 2e-4).
        The loop fields, Adam's betas and the seed: see ``TrainConfig``.
    """

    key = "cgan"

    variant: str = "projection"
    loss: str = "nonsaturating"
    z_dim: int = 64
    embed_dim: int = 16
    width: int = 32
    batch_size: int = 64
    num_steps: int = 2000
    lambda_cls: float = 1.0
    lr_G: float = 2e-4
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.variant not in DISCRIMINATORS:
            raise ValueError(f"variant must be one of {sorted(DISCRIMINATORS)}, not {self.variant!r}.")
        adversarial_losses(self.loss)  # fails early, with the list of valid names
        small = {k: getattr(self, k) for k in ("z_dim", "embed_dim", "width") if getattr(self, k) < 1}
        if small:
            raise ValueError(f"{small}: sizes must be ≥ 1.")


def build_cgan(config: CGANConfig, num_classes: int, channels: int = 1, size: int = 28) -> tuple[nn.Module, nn.Module]:
    """A fresh (G, D) pair for ``num_classes`` classes of images (channels, size, size)."""
    torch.manual_seed(config.seed)
    G = ConditionalGenerator(num_classes, config.z_dim, config.embed_dim, channels, size, config.width)
    D = DISCRIMINATORS[config.variant](num_classes, channels, size, config.width)
    G.apply(init_dcgan_weights)
    D.apply(init_dcgan_weights)
    return G, D


def d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor,
           loss_D_fn) -> dict[str, torch.Tensor]:
    """One D update: ascend E[log D(x|y)] + E[log(1 − D(G(z|y)|y))].

    Args:
        real: images (B, C, H, W); y: their labels (B,).
        fake: G(z|y) for the same labels y, made without a graph (G is fixed during D's update),
            so D compares real and fake images of the same classes.
        loss_D_fn: ``loss_D_fn(real_logits, fake_logits)`` → scalar.

    Returns:
        ``{"loss_D", "D(x|y)", "D(G(z|y)|y)"}``: detached scalars.
    """
    real_logits, fake_logits = D(real, y), D(fake, y)
    loss_D = loss_D_fn(real_logits, fake_logits)
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(),
            "D(x|y)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z|y)|y)": torch.sigmoid(fake_logits.detach()).mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor, y: torch.Tensor,
           loss_G_fn) -> dict[str, torch.Tensor]:
    """One G update on fresh noise z (B, z_dim) for the labels y (B,): descend L_G(D(G(z|y)|y))."""
    with frozen(D):  # the gradient flows through D into G; D's weights get none
        loss_G = loss_G_fn(D(G(z, y), y))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach()}


def acgan_d_step(D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                 y: torch.Tensor, loss_D_fn, lambda_cls: float) -> dict[str, torch.Tensor]:
    """One ACGAN D update: descend L_S + λ_cls · (CE(C(x), y) + CE(C(G(z|y)), y)).

    D learns the class of real AND fake images (as in Odena et al.), so its
    classifier also tells G what each class should look like. ``fake`` is G(z|y),
    made without a graph, for the labels y of the real batch.
    """
    (real_logits, real_cls), (fake_logits, fake_cls) = D(real), D(fake)  # (B,), (B, K)
    loss_S = loss_D_fn(real_logits, fake_logits)
    loss_C = F.cross_entropy(real_cls, y) + F.cross_entropy(fake_cls, y)
    loss_D = loss_S + lambda_cls * loss_C
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "loss_C": loss_C.detach(),
            "D(x)": torch.sigmoid(real_logits.detach()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach()).mean(),
            "acc_real": (real_cls.detach().argmax(1) == y).float().mean()}


def acgan_g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor, y: torch.Tensor,
                 loss_G_fn, lambda_cls: float) -> dict[str, torch.Tensor]:
    """One ACGAN G update on fresh noise z for the labels y: descend L_G(D(G(z|y))) + λ_cls · CE(C(G(z|y)), y)."""
    with frozen(D):
        fake_logits, fake_cls = D(G(z, y))
        loss_G = loss_G_fn(fake_logits) + lambda_cls * F.cross_entropy(fake_cls, y)
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach(), "acc_fake": (fake_cls.detach().argmax(1) == y).float().mean()}


def as_labels(y, n: int, class_names: Sequence[str]) -> torch.Tensor:
    """Turn a class index, a class name or n labels into a long tensor (n,), checking the range."""
    if isinstance(y, str):
        if y not in class_names:
            raise ValueError(f"Unknown class {y!r}; the classes are {list(class_names)}.")
        y = list(class_names).index(y)
    labels = torch.as_tensor(y).long().flatten().cpu()
    if labels.numel() == 1:
        labels = labels.expand(n)
    if labels.shape != (n,):
        raise ValueError(f"Give one class for all {n} images or {n} labels; got {labels.numel()} labels.")
    if n and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"Labels must lie in 0..{len(class_names) - 1} ({list(class_names)}); "
                         f"got {labels.min().item()}..{labels.max().item()}.")
    return labels


@dataclass
class CGANRun(Run):
    """A trained (or training) class-conditional GAN: its networks, the class names, and what every run
    holds (see ``Run``)."""

    G: nn.Module
    D: nn.Module
    class_names: list[str] = field(default_factory=list)

    def sample(self, n: int, y, seed: int | None = 0) -> torch.Tensor:
        """``n`` images (n, C, H, W) in [-1, 1] of class(es) ``y``, on the CPU.

        Args:
            n: number of images.
            y: one class for all (index or name, e.g. 1 or "pneumonia") or n labels.
            seed: seed of z (None: the global RNG). The same seed gives the same z
                whatever ``y`` is, so ``sample(8, 0)`` and ``sample(8, 1)`` show the
                same latent codes under two classes.

        Example:
            >>> fakes = run.sample(100, "tumour")  # doctest: +SKIP
        """
        labels = as_labels(y, n, self.class_names)
        return in_batches(self.G, draw_z(n, self.G.z_dim, "cpu", seed), labels)


def _check_data(data: ImageData) -> None:
    if not isinstance(data, ImageData):
        raise TypeError(f"train_cgan needs labelled images as an ImageData, got {type(data).__name__}; "
                        "e.g. gan_lab.data.load('pneumoniamnist') or gan_lab.data.phantom_classes(3000).")
    if data.images.dim() != 4 or data.num_classes < 2:
        raise ValueError(f"Expected images (N, C, H, W) with ≥ 2 classes; got {tuple(data.images.shape)} and "
                         f"classes {data.class_names}.")
    as_labels(data.labels, len(data), data.class_names)  # range check, once


def train_cgan(data: ImageData, config: CGANConfig | None = None, *, device=None,
               checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
               stop_event=None, progress: bool = True, run: CGANRun | None = None) -> CGANRun:
    """Train a class-conditional GAN on labelled images in [-1, 1] and return the run.

    Args:
        data: an ``ImageData`` with labels (N,) and class names.
        config: a ``CGANConfig``; defaults to ``CGANConfig()`` (projection D).
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.
        run: continue training this run's networks.

    Example:
        >>> run = train_cgan(gan_lab.data.phantom_classes(3000), CGANConfig(num_steps=1000))  # doctest: +SKIP
        >>> tumours = run.sample(16, "tumour")
    """
    config = config or CGANConfig()
    _check_data(data)
    device = get_device(device)
    x, labels = data.images.to(device), data.labels.to(device)
    if run is None:
        G, D = build_cgan(config, data.num_classes, x.shape[1], x.shape[-1])
        run = CGANRun(G.to(device), D.to(device), class_names=list(data.class_names), config=config,
                      data_name=data.name)
    G, D = run.G, run.D
    optimizers = begin(run, config, {"G": G, "D": D}, {"G": config.lr_G, "D": config.lr_D})
    x, = channels_last_on_cpu((G, D), x)  # faster CPU convolutions (benchmarks/README.md)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    B = config.batch_size

    def step_fn(step: int) -> dict:
        real, y = sample_batch(x, B, labels)  # (x, y) ~ p_data
        y_G = sample_batch(labels, B)  # G's classes follow the data's class frequencies
        with torch.no_grad():
            fake = G(draw_z(B, G.z_dim, device), y)  # G is fixed during D's update; the real batch's labels
        if config.variant == "acgan":
            out = acgan_d_step(D, optimizers["D"], real, fake, y, loss_D_fn, config.lambda_cls)
            return out | acgan_g_step(G, D, optimizers["G"], draw_z(B, G.z_dim, device), y_G, loss_G_fn,
                                      config.lambda_cls)
        out = d_step(D, optimizers["D"], real, fake, y, loss_D_fn)
        return out | g_step(G, D, optimizers["G"], draw_z(B, G.z_dim, device), y_G, loss_G_fn)

    return fit_run(run, step_fn, {"G": G, "D": D}, checkpoint_meta(config, data), desc=f"cGAN ({config.variant})",
                   checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, stop_event=stop_event,
                   progress=progress)


def checkpoint_meta(config: CGANConfig, data: ImageData) -> dict:
    """The JSON stored with a checkpoint: enough to rebuild the run and to tell whether it is stale
    (the fingerprint covers the images and their labels)."""
    return {**config.checkpoint_entry(), **data_meta(data, data.labels), "class_names": list(data.class_names)}


def load_cgan(directory: str | Path, device=None) -> CGANRun:
    """The CGANRun saved in ``directory`` by :func:`train_cgan` (nothing is unpickled)."""
    return load_run(directory, CGANRun, CGANConfig, {"G", "D"}, "a conditional GAN", device,
                    class_names=lambda meta: meta["class_names"])


def load_or_train_cgan(directory: str | Path, data: ImageData, config: CGANConfig, *, device=None,
                       retrain: bool = False, **train_options) -> CGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` (``callbacks``,
    ``progress``, ``stop_event``) go to :func:`train_cgan`.

    Example:
        >>> run = load_or_train_cgan(cache_dir("03_cgan"), data, CGANConfig())  # doctest: +SKIP
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_cgan, data, config, device=device, **train_options),
                         partial(load_cgan, device=device), retrain=retrain)
