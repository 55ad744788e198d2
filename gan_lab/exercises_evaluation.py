"""Checks for the evaluation notebook's exercises (07): each runs your answer and prints ✓ or ✗ with a hint.

Every check returns True or False and never raises, so the notebook keeps running either way.

Example:
    >>> def my_precision(real_features, fake_features, k):
    ...     return prdc(real_features, fake_features, k)["precision"]
    >>> check_precision(my_precision)  # doctest: +SKIP
    ✓ k-NN precision: correct on 3 cases.
"""

from __future__ import annotations

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from .metrics.prdc import prdc


class _Identity(nn.Module):
    """Features in, the same features out: lets torchmetrics' FID score ready-made feature vectors."""

    def __init__(self, d: int):
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _report(name: str, ok: bool, detail: str, hint: str) -> bool:
    print(f"✓ {name}: {detail}" if ok else f"✗ {name}: {detail}\n  hint: {hint}")
    return ok


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


def check_frechet_distance(fn) -> bool:
    """``fn(mu_1, sigma_1, mu_2, sigma_2)`` (float64 tensors (d,), (d, d)) must return the Fréchet distance."""
    name, hint = "Fréchet distance", ("‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}); the trace of the matrix square "
                                      "root is the sum of the square roots of the eigenvalues of Σ₁Σ₂: "
                                      "torch.linalg.eigvals(S1 @ S2).sqrt().real.sum().")
    try:
        for real, fake in _feature_cases():
            stats = [(f.mean(0), torch.cov(f.T)) for f in (real, fake)]  # unbiased covariance, as torchmetrics
            got = float(fn(stats[0][0], stats[0][1], stats[1][0], stats[1][1]))
            expected = _torchmetrics_fid(real, fake)
            if abs(got - expected) > 1e-3 * max(1.0, abs(expected)):
                return _report(name, False, f"got {got:.4f}, torchmetrics' FID says {expected:.4f}.", hint)
    except Exception as err:  # a student's function may fail in any way; say how
        return _report(name, False, f"your function raised {type(err).__name__}: {err}", hint)
    return _report(name, True, "matches torchmetrics' FID on 3 cases.", hint)


def check_precision(fn) -> bool:
    """``fn(real_features, fake_features, k)`` must return the k-NN precision of Kynkäänniemi et al."""
    name = "k-NN precision"
    hint = ("r_i = distance from real i to its k-th nearest other real (kthvalue(k + 1) of torch.cdist(real, real) "
            "along dim 1: the point itself is the nearest); a fake counts when its distance to SOME real i is "
            "< r_i; precision = the fraction of fakes that count.")
    try:
        for k, (real, fake) in zip((3, 5, 7), _feature_cases()):
            real, fake = real.float(), (fake.float() * 0.5 + real[: len(fake)].float()) / 1.5
            got, expected = float(fn(real, fake, k)), prdc(real, fake, k)["precision"]
            if abs(got - expected) > 1e-6:
                return _report(name, False, f"with k = {k} got {got:.4f}, expected {expected:.4f}.", hint)
    except Exception as err:
        return _report(name, False, f"your function raised {type(err).__name__}: {err}", hint)
    return _report(name, True, "correct on 3 cases.", hint)


def check_mode_dropping(answer: str) -> bool:
    """Which metric falls most when a generator draws only normal X-rays: precision, recall, density or coverage?"""
    ok = str(answer).strip().lower() in ("recall", "coverage")
    return _report("dropping a class", ok, f"you said {answer!r}." + (" Right: the pneumonia part of the real "
                   "manifold has no fakes near it." if ok else ""),
                   "every normal-looking fake still lies on the real manifold (precision and density barely "
                   "move); which metric asks whether every REAL image has a fake nearby?")
