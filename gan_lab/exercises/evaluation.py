"""Checks for the evaluation notebook's exercises (07): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> def my_precision(real_features, fake_features, k):
    ...     return prdc(real_features, fake_features, k)["precision"]
    >>> check_precision(my_precision)  # doctest: +SKIP
    ✓ k-NN precision: correct.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ..metrics.prdc import prdc
from ..metrics.reader_study import wilson_interval
from .core import Feedback, check_function, check_value


class _Identity(nn.Module):
    """Features in, the same features out: lets torchmetrics' FID score ready-made feature vectors."""

    def __init__(self, d: int):
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _feature_cases():
    """Three pairs of feature sets (N, d) with different means, scales and correlations."""
    for seed, (n, d) in enumerate(((300, 4), (500, 8), (400, 16))):
        g = torch.Generator().manual_seed(seed)
        A = torch.randn(d, d, generator=g, dtype=torch.float64)
        real = torch.randn(n, d, generator=g, dtype=torch.float64)
        fake = torch.randn(n, d, generator=g, dtype=torch.float64) @ (0.3 * A) + 0.5
        yield real, fake


def _torchmetrics_fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    metric = FrechetInceptionDistance(feature=_Identity(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return metric.compute().item()


def check_frechet_distance(fn) -> Feedback:
    """``fn(mu_1, sigma_1, mu_2, sigma_2)`` (float64 tensors (d,), (d, d)) must return the Fréchet distance.

    The expected values are torchmetrics' FID of the same feature sets (unbiased covariances, as it uses).
    """
    cases, labels = [], []
    for real, fake in _feature_cases():
        stats = [(f.mean(0), torch.cov(f.T)) for f in (real, fake)]  # μ (d,), Σ (d, d)
        cases.append(((*stats[0], *stats[1]), _torchmetrics_fid(real, fake)))
        labels.append(f"d = {real.shape[1]}, n = {len(real)} (torchmetrics' FID as reference)")
    return check_function("Fréchet distance", fn, cases, labels=labels, rtol=1e-3, atol=1e-3,
                          hint="‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}); the trace of the matrix square root is "
                               "the sum of the square roots of the eigenvalues of Σ₁Σ₂: "
                               "torch.linalg.eigvals(S1 @ S2).sqrt().real.sum().")


def check_precision(fn) -> Feedback:
    """``fn(real_features, fake_features, k)`` must return the k-NN precision of Kynkäänniemi et al."""
    cases = []
    for k, (real, fake) in zip((3, 5, 7), _feature_cases()):
        real, fake = real.float(), (fake.float() * 0.5 + real[: len(fake)].float()) / 1.5  # overlapping sets
        cases.append(((real, fake, k), prdc(real, fake, k)["precision"]))
    return check_function("k-NN precision", fn, cases, labels=[f"k = {k}" for k in (3, 5, 7)],
                          hint="r_i = distance from real i to its k-th nearest other real (kthvalue(k + 1) of "
                               "torch.cdist(real, real) along dim 1: the point itself is the nearest); a fake "
                               "counts when its distance to SOME real i is < r_i; precision = the fraction of "
                               "fakes that count.")


def check_mode_dropping(answer) -> Feedback:
    """Which metric falls most when a generator draws only normal X-rays: precision, recall, density or coverage?"""
    return check_value("dropping a class", answer, {"recall", "coverage"},
                       why="the pneumonia part of the real manifold has no fakes near it, and recall and "
                           "coverage ask whether every REAL image has a fake nearby.",
                       hint="every normal-looking fake still lies on the real manifold (precision and density "
                            "barely move); which metric asks whether every REAL image has a fake nearby?")


def _items_needed(accuracy: float, confidence: float) -> int:
    """The smallest even n whose Wilson interval for round(accuracy·n) correct answers lies above 0.5."""
    n = 2
    while wilson_interval(round(accuracy * n), n, confidence)[0] <= 0.5:
        n += 2
    return n


def check_items_needed(fn) -> Feedback:
    """``fn(accuracy, confidence)`` must return the smallest even test length that shows the reader beats chance.

    "Shows" means: with round(accuracy·n) of n answers right, the Wilson interval at ``confidence``
    lies entirely above 0.5.
    """
    cases = [((a, c), _items_needed(a, c)) for a, c in ((0.8, 0.95), (0.7, 0.95), (0.6, 0.95), (0.6, 0.99))]
    labels = [f"accuracy {a}, confidence {c}" for (a, c), _ in cases]
    return check_function("images per reader", fn, cases, labels=labels, rtol=0, atol=0,
                          hint="try n = 2, 4, 6, ... in turn: k = round(accuracy * n); stop at the first n for which "
                               "wilson_interval(k, n, confidence)[0] > 0.5.")


def check_classical_baseline(answer) -> Feedback:
    """Real+synthetic beats real-only, but real+classical+synthetic does not beat real+classical: what follows?"""
    return check_value("the classical baseline", answer, "b",
                       why="the GAN images helped only as much as rotated and shifted copies do; Frid-Adar et "
                           "al.'s claim was the gain ON TOP of classical augmentation, so it must be measured "
                           "against that baseline.",
                       hint="compare each GAN setting with the baseline it was added to. Which comparison is "
                            "Frid-Adar et al.'s?")

