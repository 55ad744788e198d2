"""Train on synthetic, test on real; and GAN data augmentation (Frid-Adar et al. 2018).

A generator is useful for a downstream task when a classifier trained on its
images recognises real ones. Three classifiers with the same architecture and
the same number of steps are trained

* on the real training images ("real"),
* on synthetic images only, with the labels they were generated for ("synthetic";
  Esteban et al. 2017's train-on-synthetic, test-on-real),
* on both ("real+synthetic"; Frid-Adar et al.'s GAN augmentation),

and all three are scored on the real test split with the MedMNIST metrics,
AUC (one-vs-rest, macro-averaged over classes) and accuracy. Frid-Adar et al.
saw augmentation help most when real data were scarce: ``fraction=0.1`` keeps
10% of every class of the training set (the low-data regime).

The generator enters as any callable ``sample_fn(n, y) -> images`` returning
(n, C, H, W) in [-1, 1] for labels y (n,): a class-conditional GAN's
``run.sample`` or one unconditional GAN per class. It must have been trained
on the same (sub)set, ``stratified_subset(train, fraction, seed)``: a generator
that saw the whole training set smuggles that data into the "low-data" run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torchmetrics.functional.classification import binary_auroc, multiclass_accuracy, multiclass_auroc

from .. import config
from ..data.base import ImageData
from ..data.subsets import stratified_subset
from ..train.classifier import ClassifierConfig, predict_proba, train_classifier

SampleFn = Callable[[int, torch.Tensor], torch.Tensor]
SETTINGS = ("real", "synthetic", "real+synthetic")


@torch.no_grad()
def synthesize(sample_fn: SampleFn, labels: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Images for ``labels`` (n,) from ``sample_fn(n, y)``, in batches; (n, C, H, W) on the CPU."""
    images = []
    for i in range(0, labels.shape[0], batch_size):
        y = labels[i:i + batch_size]
        x = sample_fn(y.shape[0], y)
        if not torch.is_tensor(x) or x.dim() != 4 or x.shape[0] != y.shape[0]:
            raise ValueError(f"sample_fn(n, y) must return n images (n, C, H, W); for n = {y.shape[0]} it returned "
                             f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}.")
        images.append(x.detach().float().cpu())
    return torch.cat(images)


def score(C: torch.nn.Module, test: ImageData) -> dict[str, float]:
    """AUC (binary, or one-vs-rest macro average) and accuracy of classifier C on ``test``."""
    probs, y = predict_proba(C, test.images), test.labels.cpu()
    K = probs.shape[1]
    auc = binary_auroc(probs[:, 1], y) if K == 2 else multiclass_auroc(probs, y, num_classes=K, average="macro")
    acc = multiclass_accuracy(probs, y, num_classes=K, average="micro")
    return {"auc": auc.item(), "accuracy": acc.item()}


class _RealClasses(torch.nn.Module):
    """A semi-supervised GAN's D seen as a K-class classifier: x ↦ the logits of the real classes."""

    def __init__(self, D: torch.nn.Module):
        super().__init__()
        self.D = D
        self.train(D.training)  # predict_proba restores this mode afterwards: it must be D's own

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.classify(x)


def score_sgan(D: torch.nn.Module, test: ImageData) -> dict[str, float]:
    """:func:`score` of a semi-supervised GAN's D (``gan_lab.train.sgan``, its baseline too) on ``test``.

    D's K + 1 outputs are the K real classes and "fake"; its decision is over the real classes
    (``D.classify``: softmax = p(y | x, x real)).

    Example:
        >>> score_sgan(run.D, load("pneumoniamnist", split="test"))  # doctest: +SKIP
        {'auc': ..., 'accuracy': ...}
    """
    return score(_RealClasses(D), test)


@dataclass
class AugmentationConfig:
    """Settings of the augmentation experiment.

    Attributes:
        fraction: fraction of each class of the real training set kept (0.1: the low-data regime).
        synthetic_per_real: synthetic images per kept real image (labels follow the real class frequencies).
        seeds: one classifier per seed and setting; results are mean ± std over seeds.
        subset_seed: seed of the stratified subset (train the generator on the same one).
        classifier: the classifier's training config (the same for every setting).
    """

    fraction: float = 1.0
    synthetic_per_real: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    subset_seed: int = 0
    classifier: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(
        num_steps=config.by_mode(full=600, fast=40)))


def augmentation_experiment(train: ImageData, test: ImageData, sample_fn: SampleFn,
                            cfg: AugmentationConfig | None = None, device=None,
                            progress: bool = True) -> dict:
    """Train classifiers on real, synthetic and real+synthetic images; score each on the real test split.

    Args:
        train: the full real training split (``cfg.fraction`` of it is kept).
        test: the real test split.
        sample_fn: ``sample_fn(n, y) -> (n, C, H, W)`` images of classes y (n,), in [-1, 1].
        cfg: an :class:`AugmentationConfig`.
        device: None for the device ``gan_lab.setup()`` chose.

    Returns:
        ``{"real": {"auc", "auc_std", "accuracy", "accuracy_std", "n_train"}, "synthetic": {...},
        "real+synthetic": {...}, "config": {...}}``.

    Example:
        >>> small = stratified_subset(train, 0.1)                    # doctest: +SKIP
        >>> cgan = train_cgan(small, CGANConfig(num_steps=2000))
        >>> augmentation_experiment(train, test, cgan.sample, AugmentationConfig(fraction=0.1))
    """
    cfg = cfg or AugmentationConfig()
    real = stratified_subset(train, cfg.fraction, cfg.subset_seed)
    gen = torch.Generator().manual_seed(cfg.subset_seed)
    n_synthetic = max(1, round(cfg.synthetic_per_real * len(real)))
    y_synthetic = real.labels.cpu()[torch.randint(len(real), (n_synthetic,), generator=gen)]
    fake = synthesize(sample_fn, y_synthetic)
    if fake.shape[1:] != real.images.shape[1:]:
        raise ValueError(f"sample_fn makes images of shape {tuple(fake.shape[1:])}, the data has "
                         f"{tuple(real.images.shape[1:])}.")
    sets = {"real": (real.images.cpu(), real.labels.cpu()), "synthetic": (fake, y_synthetic),
            "real+synthetic": (torch.cat([real.images.cpu(), fake]), torch.cat([real.labels.cpu(), y_synthetic]))}
    results: dict = {}
    for setting, (x, y) in sets.items():
        runs = []
        for seed in cfg.seeds:
            C, _ = train_classifier(x, y, train.num_classes, dataclasses.replace(cfg.classifier, seed=seed), device,
                                    progress, desc=f"classifier ({setting}, seed {seed})")
            runs.append(score(C, test))
        results[setting] = _mean_std(runs) | {"n_train": x.shape[0]}
    results["config"] = dataclasses.asdict(cfg) | {"n_real": len(real), "n_synthetic": n_synthetic}
    return results


def _mean_std(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {}
    for key in runs[0]:
        values = torch.tensor([r[key] for r in runs], dtype=torch.float64)
        out[key] = values.mean().item()
        out[f"{key}_std"] = values.std().item() if len(runs) > 1 else 0.0
    return out
