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
from dataclasses import dataclass, field

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
        real, fake: the held-out images it was tested on (n_test / 2 each, on the CPU), and
        p_real, p_fake: the probability it gave each of them of being fake. They say *how* the fakes give
            themselves away, where the accuracy says only *whether*: see :meth:`surest`.
    """

    accuracy: float
    interval: tuple[float, float]
    p_value: float
    n_train: int
    n_test: int
    seconds: float
    real: torch.Tensor | None = field(default=None, repr=False, compare=False)
    fake: torch.Tensor | None = field(default=None, repr=False, compare=False)
    p_real: torch.Tensor | None = field(default=None, repr=False, compare=False)
    p_fake: torch.Tensor | None = field(default=None, repr=False, compare=False)

    NUMBERS = ("accuracy", "interval", "p_value", "n_train", "n_test", "seconds")  # what summary() reports

    def summary(self) -> dict:
        """The numbers (JSON-able), without the images."""
        numbers = {k: getattr(self, k) for k in self.NUMBERS}
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in numbers.items()}

    def surest(self, k: int = 8) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The held-out images the classifier was surest about, ``k`` (or fewer) of each kind, surest first.

        Returns:
            A dict with the keys "fakes judged most fake", "fakes judged most real", "reals judged most fake"
            and "reals judged most real", in this order, each ``(images, p_fake)``: the fakes with the highest
            p(fake), the fakes with the lowest, the reals with the highest and the reals with the lowest.
            "Judged most real" is not "mistaken": where p(fake) is above ½ the classifier still called the
            image fake.
        """
        if k < 1:
            raise ValueError(f"k is the number of images per row and must be at least 1; got {k}.")
        if self.real is None or self.fake is None:
            raise ValueError("this result holds no held-out images (it was rebuilt from numbers); run "
                             "two_sample_test again to look at them.")
        k = min(k, len(self.real), len(self.fake))

        def ends(images: torch.Tensor, p: torch.Tensor) -> tuple[tuple, tuple]:
            high, low = p.argsort(descending=True)[:k], p.argsort()[:k]
            return (images[high], p[high]), (images[low], p[low])

        (fake_high, fake_low), (real_high, real_low) = ends(self.fake, self.p_fake), ends(self.real, self.p_real)
        return {"fakes judged most fake": fake_high, "fakes judged most real": fake_low,
                "reals judged most fake": real_high, "reals judged most real": real_low}

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
    p = predict_proba(C, x_test)
    right = int((p.argmax(1) == y_test).sum())
    m, real_part = len(y_test), y_test == 0
    return TwoSampleResult(right / m, wilson_interval(right, m), float(binom.sf(right - 1, m, 0.5)), len(y_train), m,
                           round(seconds, 2), real=x_test[real_part].cpu(), fake=x_test[~real_part].cpu(),
                           p_real=p[real_part, 1], p_fake=p[~real_part, 1])
