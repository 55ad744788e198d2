"""Semi-supervised GAN (Odena 2016; Salimans et al. 2016): few labels, many unlabelled images, and G.

D is a (K+1)-class classifier trained on three kinds of batch at once,

    L_D = L_supervised + L_unsupervised
        = −E_{(x,y) labelled}[log p(y | x, y ≤ K)]
          − E_{x unlabelled}[log(1 − p(K+1 | x))] − E_z[log p(K+1 | G(z))],

so the unlabelled images teach D what real images look like and the
generated ones where the real data is *not*. G is trained by feature
matching (Salimans et al.'s choice for semi-supervised learning). The
baseline (``method="supervised"``) is the same network trained on the same
labelled images with L_supervised alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .. import checkpoints
from ..data.base import ImageData
from ..data.subsets import stratified_subset
from ..device import get_device
from ..losses.variants import feature_matching_loss, sgan_discriminator_loss, sgan_generator_loss, sgan_supervised_loss
from ..metrics.tstr import score
from ..models.dcgan import DCGANGenerator, init_dcgan_weights
from ..models.sgan import SGANDiscriminator
from .conditional import frozen
from .gan import LOOP_ONLY_FIELDS
from .loop import History, fit, sample_batch

METHODS = ("sgan", "supervised")
G_LOSSES = ("feature_matching", "nonsaturating")


@dataclass
class SGANConfig:
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
        lr_G, lr_D, beta1, beta2: Adam settings.
        log_every, checkpoint_every, callback_every: loop intervals.
        seed: seed of the labelled subset, the weights and the batches.
    """

    method: str = "sgan"
    n_labelled: int = 100
    g_loss: str = "feature_matching"
    z_dim: int = 64
    width: int = 32
    dropout: float = 0.3
    batch_size: int = 64
    labelled_batch_size: int = 32
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
        if self.method not in METHODS or self.g_loss not in G_LOSSES:
            raise ValueError(f"method must be one of {METHODS} and g_loss one of {G_LOSSES}; "
                             f"got {self.method!r}, {self.g_loss!r}.")
        if min(self.n_labelled, self.batch_size, self.labelled_batch_size, self.width) < 1 or self.num_steps < 0:
            raise ValueError("n_labelled, batch sizes and width must be ≥ 1, num_steps ≥ 0.")


def labelled_subset(data: ImageData, n_labelled: int, seed: int = 0) -> ImageData:
    """About ``n_labelled`` images of ``data``, stratified by class (``data.stratified_subset``)."""
    if not 1 <= n_labelled <= len(data):
        raise ValueError(f"n_labelled must lie in 1..{len(data)}; got {n_labelled}.")
    return stratified_subset(data, n_labelled / len(data), seed)


def d_step(G: nn.Module, D: nn.Module, opt_D, labelled: torch.Tensor, y: torch.Tensor,
           unlabelled: torch.Tensor) -> dict[str, torch.Tensor]:
    """One D update on a labelled, an unlabelled and a generated batch: descend L_sup + L_unsup."""
    z = torch.randn(unlabelled.shape[0], G.z_dim, device=unlabelled.device)
    with torch.no_grad():
        fake = G(z)
    labelled_logits = D(labelled)
    loss_sup, loss_unsup = sgan_discriminator_loss(labelled_logits, y, D(unlabelled), D(fake))
    loss_D = loss_sup + loss_unsup
    opt_D.zero_grad(set_to_none=True)
    loss_D.backward()
    opt_D.step()
    return {"loss_D": loss_D.detach(), "loss_sup": loss_sup.detach(), "loss_unsup": loss_unsup.detach(),
            "acc_labelled": (labelled_logits.detach()[:, :-1].argmax(1) == y).float().mean()}


def g_step(G: nn.Module, D: nn.Module, opt_G, unlabelled: torch.Tensor, g_loss: str) -> dict[str, torch.Tensor]:
    """One G update: match D's mean features of real images (or descend −log(1 − p(K+1 | G(z))))."""
    z = torch.randn(unlabelled.shape[0], G.z_dim, device=unlabelled.device)
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


def supervised_step(D: nn.Module, opt_D, labelled: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The baseline's update: descend L_supervised on the labelled batch alone."""
    logits = D(labelled)
    loss_sup = sgan_supervised_loss(logits, y)
    opt_D.zero_grad(set_to_none=True)
    loss_sup.backward()
    opt_D.step()
    return {"loss_sup": loss_sup.detach(), "acc_labelled": (logits.detach()[:, :-1].argmax(1) == y).float().mean()}


class RealClassifier(nn.Module):
    """D seen as a K-class classifier: x ↦ the logits of the real classes (softmax = p(y | x, real))."""

    def __init__(self, D: SGANDiscriminator):
        super().__init__()
        self.D = D
        self.train(D.training)  # predict_proba restores this mode afterwards: it must be D's own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.classify(x)


@dataclass
class SGANRun:
    """A trained semi-supervised D (and its G), or the supervised baseline (G is None)."""

    D: nn.Module
    G: nn.Module | None
    history: History
    config: SGANConfig
    data_name: str = ""
    checkpoint_dir: Path | None = None
    optimizers: dict | None = field(default=None, repr=False)

    def evaluate(self, test: ImageData) -> dict[str, float]:
        """AUC and accuracy of D's real-class decision on ``test`` (``metrics.tstr.score``)."""
        return score(RealClassifier(self.D), test)


def train_sgan(data: ImageData, config: SGANConfig | None = None, *, device=None,
               checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(),
               progress: bool = True) -> SGANRun:
    """Train on ``config.n_labelled`` labels of ``data`` (and, for the SGAN, all of its images unlabelled).

    Example:
        >>> run = train_sgan(load("pneumoniamnist"), SGANConfig(n_labelled=100))  # doctest: +SKIP
        >>> run.evaluate(load("pneumoniamnist", split="test"))
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
    betas = (config.beta1, config.beta2)
    optimizers = {"D": torch.optim.Adam(D.parameters(), config.lr_D, betas=betas)}
    models: dict[str, nn.Module] = {"D": D}
    G = None
    if config.method == "sgan":
        G = DCGANGenerator(config.z_dim, data.channels, data.size, config.width).to(device)
        G.apply(init_dcgan_weights)
        models["G"], optimizers["G"] = G, torch.optim.Adam(G.parameters(), config.lr_G, betas=betas)
    labelled_batch = min(config.labelled_batch_size, len(labelled))

    def step_fn(step: int) -> dict:
        real, y = sample_batch(x_l, labelled_batch, y_l)
        if G is None:
            return supervised_step(D, optimizers["D"], real, y)
        out = d_step(G, D, optimizers["D"], real, y, sample_batch(x_u, config.batch_size))
        out.update(g_step(G, D, optimizers["G"], sample_batch(x_u, config.batch_size), config.g_loss))
        return out

    history = fit(step_fn, config.num_steps, models=models, optimizers=optimizers,
                  config=checkpoint_meta(config, data), checkpoint_dir=checkpoint_dir,
                  checkpoint_every=config.checkpoint_every, resume=resume, log_every=config.log_every,
                  callbacks=callbacks, callback_every=config.callback_every, progress=progress,
                  desc=f"{config.method} ({len(labelled)} labels, seed {config.seed})")
    for m in models.values():
        m.eval()
    return SGANRun(D, G, history, config, data.name, Path(checkpoint_dir) if checkpoint_dir else None, optimizers)


def checkpoint_meta(config: SGANConfig, data: ImageData) -> dict:
    """The JSON stored with the checkpoint: the config and what the data was."""
    return {"sgan": dataclasses.asdict(config), "data": data.name, "num_images": len(data),
            "class_names": list(data.class_names), "channels": data.channels, "size": data.size}


def load_sgan(directory: str | Path, device=None) -> SGANRun:
    """The SGANRun saved in ``directory``."""
    ckpt = checkpoints.load_kind(directory, "sgan", {"D"}, "an SGAN", device)
    return SGANRun(ckpt.models["D"], ckpt.models.get("G"), ckpt.history, SGANConfig(**ckpt.config["sgan"]),
                   ckpt.config.get("data", ""), Path(directory))


def load_or_train_sgan(directory: str | Path, data: ImageData, config: SGANConfig, *, device=None, callbacks=(),
                       progress: bool = True, retrain: bool = False) -> SGANRun:
    """Load the run cached in ``directory`` if it was trained with this config on this data, else train it.

    Example:
        >>> run = load_or_train_sgan(cache_dir("09_sgan_seed0"), data, SGANConfig(seed=0))  # doctest: +SKIP
    """
    status = checkpoints.cache_status(directory, checkpoint_meta(config, data), num_steps=config.num_steps,
                                      ignore=tuple(f"sgan.{k}" for k in LOOP_ONLY_FIELDS), retrain=retrain)
    if status == "load":
        run = load_sgan(directory, device)
        run.config = config
        return run
    return train_sgan(data, config, device=device, checkpoint_dir=directory, resume=status == "resume",
                      callbacks=callbacks, progress=progress)
