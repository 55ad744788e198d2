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

import math

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from ..metrics.prdc import prdc
from ..metrics.reader_study import wilson_interval
from .core import Feedback, check_choice, check_function, check_value


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
    """A generator draws realistic images of one class only: which metrics fall? A letter, a–d.

    (a) precision and density; (b) recall and coverage; (c) all four; (d) none of them.
    """
    hints = {
        "a": "precision and density ask whether each FAKE lies near real images, and every fake here is a real "
             "X-ray of one class. Which two metrics look from the other side, from each REAL image?",
        "c": "the four split into two questions: is each fake near real data (precision, density), and is each "
             "real image near some fake (recall, coverage)? Which question does a set of real one-class images "
             "fail?",
        "d": "the metrics compare SETS, not single images: does every real image, those of the missing class "
             "included, have a fake nearby?",
    }
    for word in ("recall", "coverage"):
        hints[word] = f"{word} is one of them: answer with the letter that names the pair that falls."
    for word in ("precision", "density"):
        hints[word] = hints["a"]
    return check_choice("dropping a class", answer, "b", hints,
                        why="the part of the real manifold that belongs to the missing class has no fake near it, "
                            "and recall and coverage ask whether every REAL image has a fake nearby; each fake is a "
                            "realistic image on the real manifold, so precision and density, which ask about each "
                            "FAKE, hardly move.")


def check_two_sample_null(answer) -> Feedback:
    """What accuracy a classifier two-sample test gives when p_g = p_data, and what 0.5 means: a letter, a–d."""
    hints = {
        "a": "with p_g = p_data a real and a fake image come from the same distribution, so the label says nothing "
             "about the image. What does ANY rule score on held-out halves of equal size then?",
        "b": "the first half is right. But a classifier that learned nothing (too weak, too few steps, too few "
             "images) also scores about 0.5. Can failing to find a difference prove there is none?",
        "d": "if p_g = p_data there is nothing to separate: no classifier, however strong, beats guessing on images "
             "it was not trained on.",
    }
    return check_choice("what a two-sample accuracy of 0.5 means", answer, "c", hints,
                        why="if p_g = p_data the label is independent of the image, so every classifier scores 0.5 "
                            "on balanced held-out halves, up to binomial noise. The converse does not hold: not "
                            "rejecting is not proving. A classifier too weak or trained on too few images also "
                            "scores about 0.5 (exercise 6e weakens it on purpose), so read an accuracy near 0.5 next "
                            "to the real-vs-real baseline and to what this classifier can find, as the checkerboard "
                            "below tests.")


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



def reader_power(n: int, skill: float, confidence: float = 0.95) -> tuple[int, float]:
    """(k_min, P(k ≥ k_min)): the fewest right answers of n whose Wilson interval lies above 0.5, and the
    probability that a reader who is right with probability ``skill`` gets at least that many."""
    shown = [k for k in range(n + 1) if wilson_interval(k, n, confidence)[0] > 0.5]
    if not shown:
        return n + 1, 0.0
    k_min = shown[0]
    return k_min, sum(math.comb(n, k) * skill**k * (1 - skill) ** (n - k) for k in range(k_min, n + 1))


def check_reader_power(answer, n: int = 20, skill: float = 0.65, confidence: float = 0.95) -> Feedback:
    """The probability that an n-image test shows a reader with true accuracy ``skill`` beats guessing (a number)."""
    k_min, power = reader_power(n, skill, confidence)
    p_k = lambda k: math.comb(n, k) * skill**k * (1 - skill) ** (n - k)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        value = None
    hint = (f"k, the number of right answers, is Binomial({n}, {skill}). Find the k for which "
            f"wilson_interval(k, {n}, {confidence})[0] > 0.5 (all k from some k_min up) and add their "
            f"probabilities math.comb({n}, k) · {skill}^k · {1 - skill:.2f}^({n} − k).")
    close = lambda a, b: value is not None and math.isclose(value, b, rel_tol=1e-3, abs_tol=1e-4)
    if close(value, skill):
        hint = (f"{skill} is the chance of getting ONE image right. The question is about the whole test: how "
                "likely is the number of right answers high enough for the interval to exclude 0.5?")
    elif close(value, p_k(k_min)):
        hint = "that is the probability of exactly k_min right answers; every k ≥ k_min shows it too: add them up."
    elif close(value, 1 - power):
        hint = "that is the probability that the test FAILS to show it: 1 minus the answer."
    elif k_min > round(skill * n) and close(value, sum(p_k(k) for k in range(round(skill * n), n + 1))):
        hint = (f"{round(skill * n)} right answers (the reader's expected score) are not enough: find the smallest "
                f"k whose Wilson interval lies above 0.5.")
    n_80 = 2
    while reader_power(n_80, skill, confidence)[1] < 0.8:
        n_80 += 2
    return check_value(f"power of a {n}-image reader test", answer, power, rtol=0, atol=5e-4, hint=hint,
                       why=f"the test needs k ≥ {k_min} of {n} right ({k_min / n:.2f}); a reader who is right "
                           f"{skill:.0%} of the time gets there in only {power:.0%} of tests, so most {n}-image "
                           f"tests of a real but modest skill end in 'cannot tell'. Exercise 3's "
                           f"{_items_needed(skill, confidence)} images only show a reader who scores exactly "
                           f"{skill:.0%}; to show such a reader's skill in 4 tests out of 5, {n_80} images are needed.")
