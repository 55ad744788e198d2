"""Train on synthetic, test on real; and GAN data augmentation (Frid-Adar et al. 2018).

A generator is useful for a downstream task when a classifier trained on its
images recognises real ones. Classifiers with the same architecture and the
same number of steps are trained (``AugmentationConfig.settings`` picks which)

* on the real training images ("real"),
* on synthetic images only, with the labels they were generated for ("synthetic";
  Esteban et al. 2017's train-on-synthetic, test-on-real),
* on both ("real+synthetic": GAN images added to the real ones),
* on the real images plus classically augmented copies of them ("real+classical":
  random rotations, shifts and scalings, see :class:`ClassicalAugmentation`),
* on those plus synthetic images ("real+classical+synthetic").

and each is scored on the real test split with the MedMNIST metrics, AUC
(one-vs-rest, macro-averaged over classes) and accuracy.

Frid-Adar et al. (2018) classified 182 liver-lesion CT patches (3 classes). Their
baseline was classical augmentation (translation, rotation, flipping, scaling);
they then added GAN images on top of it, from one DCGAN trained per lesion class,
and compared the two — "real+classical" against "real+classical+synthetic" here,
with :func:`per_class_sampler` for the one-GAN-per-class generator. They kept the
real data fixed; ``fraction=0.1`` (10 % of every class) is this lab's own choice,
to make the real data scarce as their 182 lesions were.

The generator enters as any callable ``sample_fn(n, y) -> images`` returning
(n, C, H, W) in [-1, 1] for labels y (n,): a class-conditional GAN's
``run.sample`` or one unconditional GAN per class (:func:`per_class_sampler`).
It must have been trained on the same (sub)set, ``stratified_subset(train,
fraction, seed)``: a generator that saw the whole training set smuggles that
data into the "low-data" run.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_auroc, multiclass_accuracy, multiclass_auroc

from .. import config
from ..data.base import ImageData
from ..data.subsets import stratified_subset
from ..train.classifier import ClassifierConfig, predict_proba, train_classifier

SampleFn = Callable[[int, torch.Tensor], torch.Tensor]
SETTINGS = ("real", "synthetic", "real+synthetic")
ALL_SETTINGS = SETTINGS + ("real+classical", "real+classical+synthetic")


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


@dataclass
class ClassicalAugmentation:
    """Classical ("classic") data augmentation: random affine copies of every real image, made once.

    Frid-Adar et al. enlarged their training set with translated, rotated, flipped and scaled
    copies before adding GAN images. The ranges here are this lab's own choice for 28-px chest
    X-rays, not the paper's: small rotations, shifts and scalings, and no flips by default
    (a mirrored chest X-ray puts the heart on the wrong side).

    Attributes:
        copies: augmented copies per real image.
        max_rotation: rotation drawn uniformly from ±max_rotation degrees.
        max_shift: shift drawn uniformly from ±max_shift pixels, in x and in y.
        scale: zoom factor drawn uniformly from this range.
        hflip: also mirror left–right with probability 1/2.
    """

    copies: int = 4
    max_rotation: float = 10.0
    max_shift: float = 2.0
    scale: tuple[float, float] = (0.9, 1.1)
    hflip: bool = False


@torch.no_grad()
def classical_augment(images: torch.Tensor, aug: ClassicalAugmentation | None = None, seed: int = 0) -> torch.Tensor:
    """``aug.copies`` randomly rotated, shifted and scaled copies of each image; (copies·N, C, H, W) on the CPU.

    Row ``c·N + i`` is copy c of image i, so labels follow with ``labels.repeat(aug.copies)``.
    Pixels that come from outside the image take the nearest border value.
    """
    aug = aug or ClassicalAugmentation()
    if aug.copies < 1:
        raise ValueError(f"copies must be ≥ 1, got {aug.copies}.")
    x = images.detach().float().cpu().repeat(aug.copies, 1, 1, 1)  # (copies·N, C, H, W)
    n, H, W = x.shape[0], x.shape[-2], x.shape[-1]
    gen = torch.Generator().manual_seed(seed)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(aug.max_rotation)
    zoom = aug.scale[0] + (aug.scale[1] - aug.scale[0]) * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * aug.max_shift
    mirror = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if aug.hflip else torch.ones(n)
    cos, sin = angle.cos() / zoom, angle.sin() / zoom
    A = torch.stack([torch.stack([cos * mirror, -sin], 1), torch.stack([sin * mirror, cos], 1)], 1)  # (n, 2, 2)
    s = shift * torch.tensor([2 / W, 2 / H])  # pixels → affine_grid's [-1, 1] units
    # affine_grid maps output to input coordinates: input = A (output − s), so the content moves by s exactly
    theta = torch.cat([A, -(A @ s[:, :, None])], 2)  # (n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def per_class_sampler(generators: Sequence[Callable[[int, int], torch.Tensor]], seed: int = 0) -> SampleFn:
    """One unconditional generator per class, as a ``sample_fn(n, y)`` (Frid-Adar et al.'s one DCGAN per class).

    Args:
        generators: ``generators[k](n, seed) -> (n, C, H, W)`` images of class k, e.g. ``run.sample`` of a
            GAN trained on the images of class k only.
        seed: the first seed; every call to a generator gets the next one, so batches differ.

    Example:
        >>> runs = [load_or_train_gan(cache_dir(f"gan_class{k}"), small.subset(small.labels == k), cfg)
        ...         for k in range(small.num_classes)]                              # doctest: +SKIP
        >>> augmentation_experiment(train, test, per_class_sampler([r.sample for r in runs]), cfg)
    """
    seeds = itertools.count(seed)

    def sample_fn(n: int, y: torch.Tensor) -> torch.Tensor:
        y = y.cpu()
        out = None
        for k in y.unique().tolist():
            if not 0 <= k < len(generators):
                raise ValueError(f"label {k} has no generator (there are {len(generators)}, one per class).")
            rows = (y == k).nonzero().flatten()
            x = generators[k](len(rows), next(seeds)).detach().float().cpu()
            if out is None:
                out = torch.empty(n, *x.shape[1:])
            out[rows] = x
        return out if out is not None else torch.empty(0)

    return sample_fn


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
        settings: which training sets to run, from :data:`ALL_SETTINGS`.
        classical: the classical augmentation of the "+classical" settings (None: those settings are refused).
    """

    fraction: float = 1.0
    synthetic_per_real: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2)
    subset_seed: int = 0
    classifier: ClassifierConfig = field(default_factory=lambda: ClassifierConfig(
        num_steps=config.by_mode(full=600, fast=40)))
    settings: tuple[str, ...] = SETTINGS
    classical: ClassicalAugmentation | None = None


def augmentation_experiment(train: ImageData, test: ImageData, sample_fn: SampleFn,
                            cfg: AugmentationConfig | None = None, device=None,
                            progress: bool = True) -> dict:
    """Train one classifier per setting (real, synthetic, real+synthetic, ...); score each on the real test split.

    Args:
        train: the full real training split (``cfg.fraction`` of it is kept).
        test: the real test split.
        sample_fn: ``sample_fn(n, y) -> (n, C, H, W)`` images of classes y (n,), in [-1, 1].
        cfg: an :class:`AugmentationConfig`.
        device: None for the device ``gan_lab.setup()`` chose.

    Returns:
        ``{setting: {"auc", "auc_std", "accuracy", "accuracy_std", "n_train"} for setting in cfg.settings,
        "config": {...}}``.

    Example:
        >>> small = stratified_subset(train, 0.1)                    # doctest: +SKIP
        >>> cgan = train_cgan(small, CGANConfig(num_steps=2000))
        >>> augmentation_experiment(train, test, cgan.sample, AugmentationConfig(fraction=0.1))
    """
    cfg = cfg or AugmentationConfig()
    unknown = [s for s in cfg.settings if s not in ALL_SETTINGS]
    if unknown or not cfg.settings:
        raise ValueError(f"settings must be a non-empty selection of {ALL_SETTINGS}; got {cfg.settings}.")
    if cfg.classical is None and any("classical" in s for s in cfg.settings):
        raise ValueError("the '+classical' settings need AugmentationConfig(classical=ClassicalAugmentation(...)).")
    real = stratified_subset(train, cfg.fraction, cfg.subset_seed)
    x_real, y_real = real.images.cpu(), real.labels.cpu()
    gen = torch.Generator().manual_seed(cfg.subset_seed)
    n_synthetic = max(1, round(cfg.synthetic_per_real * len(real)))
    y_synthetic = y_real[torch.randint(len(real), (n_synthetic,), generator=gen)]
    parts = {"real": (x_real, y_real)}  # the pieces each setting concatenates ("real+classical" = real, classical)
    if any("synthetic" in s for s in cfg.settings):
        fake = synthesize(sample_fn, y_synthetic)
        if fake.shape[1:] != x_real.shape[1:]:
            raise ValueError(f"sample_fn makes images of shape {tuple(fake.shape[1:])}, the data has "
                             f"{tuple(x_real.shape[1:])}.")
        parts["synthetic"] = (fake, y_synthetic)
    if any("classical" in s for s in cfg.settings):
        parts["classical"] = (classical_augment(x_real, cfg.classical, seed=cfg.subset_seed),
                              y_real.repeat(cfg.classical.copies))
    results: dict = {}
    for setting in cfg.settings:
        pieces = [parts[name] for name in setting.split("+")]
        x, y = torch.cat([p[0] for p in pieces]), torch.cat([p[1] for p in pieces])
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
