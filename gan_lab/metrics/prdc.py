"""Precision, recall, density and coverage of generated images, on domain features.

FID folds two failures into one number: fakes that look wrong (fidelity) and
fakes that miss part of the data (diversity). These four metrics separate them
with k-nearest-neighbour balls in feature space. With r_k(a) the distance from
feature a to its k-th nearest neighbour in its own set, B(a, r) a ball, and
real features {x_i} (N), fake features {y_j} (M):

* precision (Kynkäänniemi et al. 2019) = (1/M) Σ_j 1[∃ i: y_j ∈ B(x_i, r_k(x_i))]
  — the fraction of fakes on the real manifold (fidelity);
* recall = (1/N) Σ_i 1[∃ j: x_i ∈ B(y_j, r_k(y_j))]
  — the fraction of reals on the fake manifold (diversity);
* density (Naeem et al. 2020) = (1/(kM)) Σ_j Σ_i 1[y_j ∈ B(x_i, r_k(x_i))]
  — like precision but counts how many real balls hold each fake, so a few
  real outliers with huge balls no longer make any fake look "precise" (≈ 1 when the
  distributions match; can exceed 1);
* coverage = (1/N) Σ_i 1[∃ j: y_j ∈ B(x_i, r_k(x_i))]
  — the fraction of real balls holding at least one fake; uses real balls only,
  so fake outliers cannot inflate it.

The ``prdc`` package (Naeem et al.'s reference code, NumPy + scikit-learn)
computes the same quantities; this is the same algorithm on torch tensors,
checked against it, so that no extra dependency is needed.
"""

from __future__ import annotations

import torch

from .features import FeatureNet


def _kth_neighbour_distance(features: torch.Tensor, k: int) -> torch.Tensor:
    """r_k(a) for every row a of ``features`` (N, d): distance to its k-th nearest other row; (N,)."""
    distances = torch.cdist(features, features)  # (N, N), zero on the diagonal
    return distances.kthvalue(k + 1, dim=1).values  # k + 1: the point itself is the nearest, at 0


def prdc(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones.

    Args:
        real_features: (N, d) features of real images.
        fake_features: (M, d) features of generated images.
        k: neighbourhood size (Naeem et al. recommend k = 5 with N = M ≈ 10 000; use
            the same k and sample sizes when comparing models).

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats.

    Example:
        >>> real = torch.randn(500, 8)
        >>> prdc(real, torch.randn(500, 8))["precision"] > 0.5
        True
    """
    for name, f in (("real_features", real_features), ("fake_features", fake_features)):
        if f.dim() != 2 or f.shape[0] <= k:
            raise ValueError(f"{name} must be (N, d) with N > k = {k}; got {tuple(f.shape)}. "
                             "Use more samples or a smaller k.")
    real, fake = real_features.double(), fake_features.double()  # float64: ties at the ball radius are rare
    r_real = _kth_neighbour_distance(real, k)  # (N,)
    r_fake = _kth_neighbour_distance(fake, k)  # (M,)
    distances = torch.cdist(real, fake)  # (N, M)
    inside_real_ball = distances < r_real[:, None]  # [i, j]: fake j inside real i's ball
    return {
        "precision": inside_real_ball.any(dim=0).double().mean().item(),
        "recall": (distances < r_fake[None, :]).any(dim=1).double().mean().item(),
        "density": inside_real_ball.sum(dim=0).double().mean().item() / k,
        "coverage": (distances.min(dim=1).values < r_real).double().mean().item(),
    }


def prdc_images(real: torch.Tensor, fake: torch.Tensor, phi: FeatureNet, k: int = 5) -> dict[str, float]:
    """:func:`prdc` on φ(real) and φ(fake) for images (N, C, H, W) in [-1, 1]."""
    return prdc(phi.features(real), phi.features(fake), k)
