"""The classifier two-sample test (Lopez-Paz & Oquab 2017): can a classifier tell generated images from real ones?

A classifier is trained on half of the real and half of the generated images (real 0, fake 1) and
its accuracy is measured on the other halves. If p_g = p_data no classifier can beat chance, so the
number of right answers on the n_test held-out images is Binomial(n_test, ½); an accuracy clearly
above 0.5 rejects p_g = p_data. It is the machine version of the visual Turing test (notebook 07's
reader test): 0.5 means indistinguishable, 1.0 means every image gives itself away.

Where FID compares two Gaussians fitted to features of a network trained for another task, the
classifier here is trained for exactly this question, so it sees any difference it can learn —
a checkerboard, a missing texture, a wrong intensity histogram — even when the feature statistics
FID looks at agree. The price: training a classifier per test (seconds to a minute on a CPU), and
an answer that depends on how strong that classifier is (a weak one says "indistinguishable" too easily).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from scipy.stats import binom

from .. import config
from ..train.classifier import ClassifierConfig, predict_proba, train_classifier
from .reader_study import wilson_interval


@dataclass
class TwoSampleResult:
    """The held-out accuracy of the real-vs-fake classifier and what it says.

    Attributes:
        accuracy: fraction of the held-out real and fake images classified correctly.
        interval: its 95 % Wilson interval.
        p_value: one-sided exact binomial p-value of "accuracy = 0.5" (chance) against "> 0.5".
        n_train, n_test: images the classifier trained on and was tested on (half real, half fake each).
        seconds: training time.
    """

    accuracy: float
    interval: tuple[float, float]
    p_value: float
    n_train: int
    n_test: int
    seconds: float

    def summary(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        lo, hi = self.interval
        return (f"two-sample test: accuracy {self.accuracy:.3f} [{lo:.3f}, {hi:.3f}] on {self.n_test} held-out "
                f"images, p = {self.p_value:.2g} (0.5 = indistinguishable)")


def default_config() -> ClassifierConfig:
    """The classifier of the test: the domain classifier's recipe, shorter in FAST mode."""
    return ClassifierConfig(num_steps=config.by_mode(full=800, fast=60), seed=0)


def two_sample_test(real: torch.Tensor, fake: torch.Tensor, n: int | None = None, cfg: ClassifierConfig | None = None,
                    seed: int = 0, device=None, progress: bool = False) -> TwoSampleResult:
    """Train a real-vs-fake classifier on half of ``n`` real and ``n`` fake images; test it on the other half.

    Args:
        real, fake: images (N, C, H, W) in [-1, 1] of the same shape; ``real`` should be held out
            from the generator's training set (a generator that copies its training images would
            otherwise look perfect).
        n: images of each kind to use (default: as many as the smaller set has); a random subset.
        cfg: how the classifier is trained (default :func:`default_config`).
        seed: seed of the subsets and the split.

    Example:
        >>> result = two_sample_test(test_split.images, run.sample(624))  # doctest: +SKIP
        >>> print(result)   # two-sample test: accuracy 0.86 [0.83, 0.89] ... p = 1e-80
    """
    if real.dim() != 4 or fake.shape[1:] != real.shape[1:]:
        raise ValueError(f"real and fake must be images (N, C, H, W) of the same shape; got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}.")
    n = min(len(real), len(fake)) if n is None else n
    if not 4 <= n <= min(len(real), len(fake)):
        raise ValueError(f"n must be between 4 and the smaller set's size ({min(len(real), len(fake))}); got {n}.")
    gen = torch.Generator().manual_seed(seed)
    real = real[torch.randperm(len(real), generator=gen)[:n]].float()
    fake = fake[torch.randperm(len(fake), generator=gen)[:n]].float()
    half = n // 2

    def split(part: slice) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.cat([real[part], fake[part]])
        labels = torch.cat([torch.zeros(len(real[part])), torch.ones(len(fake[part]))]).long()
        return images, labels

    (x_train, y_train), (x_test, y_test) = split(slice(0, half)), split(slice(half, n))
    start = time.perf_counter()
    C, _ = train_classifier(x_train, y_train, 2, cfg or default_config(), device, progress, desc="two-sample test")
    seconds = time.perf_counter() - start
    right = int((predict_proba(C, x_test).argmax(1) == y_test).sum())
    m = len(y_test)
    return TwoSampleResult(right / m, wilson_interval(right, m), float(binom.sf(right - 1, m, 0.5)), len(y_train), m,
                           round(seconds, 2))
