"""Semi-supervised GAN (Odena 2016; Salimans et al. 2016): few labels, many unlabelled images, and G.

Odena calls it "SGAN"; the stacked GAN of Huang et al. (2017), also abbreviated SGAN, is another model.

D is a (K+1)-class classifier trained on three kinds of batch at once,

    L_D = L_supervised + L_unsupervised
        = −E_{(x,y) labelled}[log p(y | x, y ≤ K)]
          − E_{x unlabelled}[log(1 − p(K+1 | x))] − E_z[log p(K+1 | G(z))],

so the unlabelled images teach D what real images look like and the
generated ones where the real data is *not*. G is trained by feature
matching (Salimans et al.'s choice for semi-supervised learning). The
baseline (``method="supervised"``) is the same network trained on the same
labelled images with L_supervised alone. ``gan_lab.metrics.tstr.score_sgan``
scores either D as a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data.base import ImageData
from ..data.subsets import stratified_subset
from ..device import get_device
from ..losses.variants import feature_matching_loss, sgan_discriminator_loss, sgan_generator_loss, sgan_supervised_loss
from ..models.dcgan import DCGANGenerator, init_dcgan_weights
from ..models.sgan import SGANDiscriminator
from .common import Run, TrainConfig, begin, data_meta, fit_run, frozen, load_or_train, load_run
from .loop import sample_batch

METHODS = ("sgan", "supervised")
G_LOSSES = ("feature_matching", "nonsaturating")


@dataclass
class SGANConfig(TrainConfig):
    """Everything that defines a semi-supervised run (or its supervised baseline).

    Attributes:
        method: "sgan" (labelled + unlabelled + generated images) or "supervised" (labelled only, no G).
        n_labelled: labelled training images, a stratified subset drawn with ``seed``.
        g_loss: "feature_matching" (Salimans et al.) or "nonsaturating".
        z_dim, width: G's latent size; G and D width.
        dropout: D's dropout before the head.
        batch_size: unlabelled and generated images per step.
        labelled_batch_size: labelled images per step (capped at n_labelled).
        num_steps: updates (of D; and of G for the SGAN).
        lr_G, lr_D: Adam's learning rates.
        The loop fields, Adam's betas and the seed (also of the labelled subset): see ``TrainConfig``.
    """

    key = "sgan"

    method: str = "sgan"
    n_labelled: int = 100
    g_loss: str = "feature_matching"
    z_dim: int = 64
    width: int = 32
    dropout: float = 0.3
    batch_size: int = 64
    labelled_batch_size: int = 32
    lr_G: float = 2e-4
    lr_D: float = 2e-4

    def __post_init__(self):
        super().__post_init__()
        if self.method not in METHODS or self.g_loss not in G_LOSSES:
            raise ValueError(f"method must be one of {METHODS} and g_loss one of {G_LOSSES}; "
                             f"got {self.method!r}, {self.g_loss!r}.")
        if min(self.n_labelled, self.labelled_batch_size, self.width) < 1:
            raise ValueError(f"n_labelled, labelled_batch_size and width must be ≥ 1; got {self.n_labelled}, "
                             f"{self.labelled_batch_size}, {self.width}.")


def labelled_subset(data: ImageData, n_labelled: int, seed: int = 0) -> ImageData:
    """About ``n_labelled`` images of ``data``, stratified by class (``data.stratified_subset``)."""
    if not 1 <= n_labelled <= len(data):
        raise ValueError(f"n_labelled must lie in 1..{len(data)}; got {n_labelled}.")
    return stratified_subset(data, n_labelled / len(data), seed)


def d_step(D: nn.Module, opt_D, labelled: torch.Tensor, y: torch.Tensor, unlabelled: torch.Tensor,
           fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """One D update on a labelled batch (with labels y), an unlabelled one and G(z): descend L_sup + L_unsup.

    ``fake`` is made without a graph (G is fixed during D's update).
    """
    labelled_logits = D(labelled)
    loss_sup, loss_unsup = sgan_discriminator_loss(labelled_logits, y, D(unlabelled), D(fake))
    loss_D = loss_sup + loss_unsup
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "loss_sup": loss_sup.detach(), "loss_unsup": loss_unsup.detach(),
            "acc_labelled": (labelled_logits.detach()[:, :-1].argmax(1) == y).float().mean()}


def supervised_d_step(D: nn.Module, opt_D, labelled: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The baseline's update: descend L_supervised on the labelled batch alone."""
    logits = D(labelled)
    loss_sup = sgan_supervised_loss(logits, y)
    opt_D.zero_grad(set_to_none=True)
    loss_sup.backward()
    opt_D.step()
    return {"loss_sup": loss_sup.detach(), "acc_labelled": (logits.detach()[:, :-1].argmax(1) == y).float().mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G, z: torch.Tensor, unlabelled: torch.Tensor,
           g_loss: str) -> dict[str, torch.Tensor]:
    """One G update on noise z: match D's mean features of the real ``unlabelled`` batch
    (``g_loss="feature_matching"``) or descend −log(1 − p(K+1 | G(z))) (``"nonsaturating"``)."""
    with frozen(D):
        fake = G(z)
        if g_loss == "feature_matching":
            with torch.no_grad():
                real_features = D.embed(unlabelled)
            loss_G = feature_matching_loss(real_features, D.embed(fake))
        else:
            loss_G = sgan_generator_loss(D(fake))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
    opt_G.step()
    return {"loss_G": loss_G.detach()}


@dataclass
class SGANRun(Run):
    """A trained semi-supervised D (and its G), or the supervised baseline (G is None), and what every run
    holds (see ``Run``).

    Score D as a classifier with ``gan_lab.metrics.tstr.score_sgan(run.D, test)``.
    """

    D: nn.Module
    G: nn.Module | None = None


def train_sgan(data: ImageData, config: SGANConfig | None = None, *, device=None,
               checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
               stop_event=None, progress: bool = True) -> SGANRun:
    """Train on ``config.n_labelled`` labels of ``data`` (and, for the SGAN, all of its images unlabelled).

    Args:
        device, checkpoint_dir, resume, callbacks, stop_event, progress: see :func:`gan_lab.train.common.fit_run`
            and ``fit``.

    Example:
        >>> run = train_sgan(load("pneumoniamnist"), SGANConfig(n_labelled=100))  # doctest: +SKIP
        >>> score_sgan(run.D, load("pneumoniamnist", split="test"))                # gan_lab.metrics.tstr
        {'auc': ..., 'accuracy': ...}
    """
    config = config or SGANConfig()
    if not isinstance(data, ImageData) or data.num_classes < 2:
        raise TypeError("train_sgan needs labelled images as an ImageData with ≥ 2 classes, "
                        "e.g. gan_lab.data.load('pneumoniamnist').")
    device = get_device(device)
    labelled = labelled_subset(data, config.n_labelled, config.seed)
    x_l, y_l, x_u = labelled.images.to(device), labelled.labels.to(device), data.images.to(device)
    torch.manual_seed(config.seed)
    D = SGANDiscriminator(data.num_classes, data.channels, data.size, config.width, config.dropout).to(device)
    G = None
    if config.method == "sgan":
        G = DCGANGenerator(config.z_dim, data.channels, data.size, config.width).to(device)
        G.apply(init_dcgan_weights)
    models = {name: m for name, m in {"D": D, "G": G}.items() if m is not None}
    run = SGANRun(D, G, config=config, data_name=data.name)
    optimizers = begin(run, config, models, {"D": config.lr_D, "G": config.lr_G})
    labelled_batch = min(config.labelled_batch_size, len(labelled))

    def step_fn(step: int) -> dict:
        real, y = sample_batch(x_l, labelled_batch, y_l)
        if G is None:
            return supervised_d_step(D, optimizers["D"], real, y)
        unlabelled = sample_batch(x_u, config.batch_size)
        z = torch.randn(config.batch_size, G.z_dim, device=device)
        with torch.no_grad():
            fake = G(z)  # G is fixed during D's update
        out = d_step(D, optimizers["D"], real, y, unlabelled, fake)
        unlabelled = sample_batch(x_u, config.batch_size)
        z = torch.randn(config.batch_size, G.z_dim, device=device)
        out.update(g_step(G, D, optimizers["G"], z, unlabelled, config.g_loss))
        return out

    return fit_run(run, step_fn, models, checkpoint_meta(config, data),
                   desc=f"{config.method} ({len(labelled)} labels, seed {config.seed})", checkpoint_dir=checkpoint_dir,
                   resume=resume, callbacks=callbacks, stop_event=stop_event, progress=progress)


def checkpoint_meta(config: SGANConfig, data: ImageData) -> dict:
    """The JSON stored with the checkpoint: the config and what the data was (images and labels: the labelled
    subset is drawn from them)."""
    return {**config.checkpoint_entry(), **data_meta(data, data.labels), "class_names": list(data.class_names)}


def load_sgan(directory: str | Path, device=None) -> SGANRun:
    """The SGANRun saved in ``directory``."""
    return load_run(directory, SGANRun, SGANConfig, {"D"}, "an SGAN", device)


def load_or_train_sgan(directory: str | Path, data: ImageData, config: SGANConfig, *, device=None,
                       retrain: bool = False, **train_options) -> SGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    The rule of :func:`gan_lab.train.common.load_or_train`; ``train_options`` go to :func:`train_sgan`.

    Example:
        >>> run = load_or_train_sgan(cache_dir("09_sgan_seed0"), data, SGANConfig(seed=0))  # doctest: +SKIP
    """
    return load_or_train(directory, config, checkpoint_meta(config, data),
                         partial(train_sgan, data, config, device=device, **train_options),
                         partial(load_sgan, device=device), retrain=retrain)
