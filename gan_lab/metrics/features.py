"""The domain feature network: a small CNN trained on the real dataset, whose penultimate layer gives features.

FID, KID, precision/recall and the memorisation check all compare images
through a feature map φ. The usual φ, Inception-v3 trained on ImageNet, is
downloaded at run time and was never shown a 28×28 grey chest X-ray. gan_lab
trains its own φ instead: a :class:`DomainClassifier` learns the dataset's
labels (MedMNIST's diagnoses, the phantoms' lesion classes) on the training
split, and φ(x) is its penultimate layer. Its test accuracy says whether the
features mean anything: a network at chance level yields meaningless distances.

``feature_net("pneumoniamnist")`` loads the cached network from
``CHECKPOINT_DIR / "features_pneumoniamnist_28"`` or trains it (16 s for
PneumoniaMNIST 28 px on a 2-core CPU; much less in FAST mode, same code).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
from torch import nn

from .. import checkpoints, config
from ..data import load
from ..data.base import ImageData
from ..models.classifier import DomainClassifier
from ..train.classifier import ClassifierConfig, predict_proba, train_classifier
from ..train.loop import History


class FeatureNet(nn.Module):
    """φ: image (N, C, H, W) in [-1, 1] ↦ features (N, d), the penultimate layer of a trained classifier.

    An ``nn.Module`` so torchmetrics' FID and KID take it as ``feature=``;
    ``num_features`` spares them a dummy forward pass at Inception's 299×299.
    It never leaves eval mode (batch norm must use its running statistics).

    Attributes:
        classifier: the :class:`DomainClassifier` φ comes from.
        test_accuracy: its accuracy on the real test split (NaN if never measured).
        train_seconds: how long training took (0 when loaded from the cache).
        data_name, size: the dataset it was trained on.

    Example (an untrained φ, for comparison with the trained one):
        >>> phi_random = FeatureNet(DomainClassifier(channels=1, num_classes=2))
        >>> phi_random.features(torch.zeros(3, 1, 28, 28)).shape
        torch.Size([3, 64])
    """

    def __init__(self, classifier: DomainClassifier, test_accuracy: float = float("nan"),
                 train_seconds: float = 0.0, data_name: str = "", size: int = 0):
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = classifier.feature_dim
        self.test_accuracy, self.train_seconds = test_accuracy, train_seconds
        self.data_name, self.size = data_name, size

    def train(self, mode: bool = True) -> FeatureNet:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.classifier.channels:
            raise ValueError(f"The feature network takes images (N, {self.classifier.channels}, H, W) in [-1, 1]; "
                             f"got {tuple(x.shape)}. Evaluate images of the dataset it was trained on.")
        return self.classifier.embed(x.float())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """φ(images) in batches: (N, C, H, W) in [-1, 1] ↦ (N, d) float on the CPU."""
        return torch.cat([self(images[i:i + batch_size].to(self.device)).cpu()
                          for i in range(0, images.shape[0], batch_size)])


def accuracy(C: nn.Module, data: ImageData) -> float:
    """Fraction of ``data`` that C classifies correctly."""
    return (predict_proba(C, data.images).argmax(1) == data.labels.cpu()).float().mean().item()


def train_feature_net(train: ImageData, test: ImageData, cfg: ClassifierConfig | None = None, device=None,
                      progress: bool = True) -> tuple[FeatureNet, History]:
    """Train φ on ``train``'s labels and measure its accuracy on ``test``."""
    cfg = cfg or ClassifierConfig()
    if train.num_classes < 2:
        raise ValueError(f"{train.name} has {train.num_classes} class; the feature network needs labels of ≥ 2 "
                         "classes to learn anything (use a MedMNIST flag or the phantoms).")
    start = time.perf_counter()
    C, history = train_classifier(train.images, train.labels, train.num_classes, cfg, device, progress,
                                  desc=f"feature net ({train.name})")
    seconds = time.perf_counter() - start
    return FeatureNet(C, accuracy(C, test), seconds, train.name, train.size), history


def default_config() -> ClassifierConfig:
    """The feature network's training config: 16 s for PneumoniaMNIST 28 px on a 2-core CPU, seconds in FAST mode."""
    return ClassifierConfig(num_steps=config.by_mode(full=800, fast=80))


def feature_net(data_name: str = "pneumoniamnist", size: int = 28, device=None, cfg: ClassifierConfig | None = None,
                cache_dir: str | Path | None = None, retrain: bool = False, progress: bool = True) -> FeatureNet:
    """The domain feature network of a dataset: loaded from its cache, or trained and cached.

    Args:
        data_name: a name ``gan_lab.data.load`` knows ("pneumoniamnist", "breastmnist", "phantoms", ...).
        size: image side.
        device: None for the device ``gan_lab.setup()`` chose.
        cfg: training config (default :func:`default_config`); a cached network is
            reused only when it was trained with the same config.
        cache_dir: default ``gan_lab.checkpoints.cache_dir(f"features_{data_name}_{size}")``
            (``CHECKPOINT_DIR/features_pneumoniamnist_28``; FAST mode keeps its own).
        retrain: train even when a usable cache exists.

    Returns:
        A :class:`FeatureNet`; ``.test_accuracy`` is its accuracy on the test split.

    Example:
        >>> phi = feature_net("pneumoniamnist")  # doctest: +SKIP
        >>> phi.features(images).shape, phi.test_accuracy
        (torch.Size([N, 64]), 0.86)
    """
    cfg = cfg or default_config()
    cache_dir = Path(cache_dir) if cache_dir is not None else checkpoints.cache_dir(f"features_{data_name}_{size}")
    wanted = {"classifier": dataclasses.asdict(cfg), "data": data_name, "size": size}
    stored = None if retrain else _stored_config(cache_dir)
    if stored is not None and not checkpoints.config_changes(stored, wanted):
        ckpt = checkpoints.load_checkpoint(cache_dir, device)
        return FeatureNet(ckpt.models["C"], ckpt.extra["test_accuracy"], 0.0, data_name, size)
    # no phantom fallback: a network trained on phantoms must not be cached under a MedMNIST name
    train, test = (load(data_name, split=split, size=size, fallback=False) for split in ("train", "test"))
    phi, history = train_feature_net(train, test, cfg, device, progress)
    checkpoints.save_checkpoint(cache_dir, {"C": phi.classifier}, step=cfg.num_steps, history=history, config=wanted,
                                extra={"test_accuracy": phi.test_accuracy, "train_seconds": phi.train_seconds})
    return phi


def _stored_config(cache_dir: Path) -> dict | None:
    """The cached network's config, or None when there is none or it cannot be read (it is then replaced)."""
    try:
        return checkpoints.stored_config(cache_dir)
    except checkpoints.CheckpointError:
        return None
