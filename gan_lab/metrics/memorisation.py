"""Memorisation check: are generated images copies of training images?

A GAN that reproduces its training images scores well on FID and precision
and is useless (and, with patient data, a privacy leak). The check compares
two distributions of nearest-neighbour distances to the training set T:

    d_fake(j) = min_i ‖g_j − t_i‖   for generated images g_j,
    d_test(j) = min_i ‖x_j − t_i‖   for real test images x_j (never trained on).

New real images set the scale of "how close an unseen image gets to T". A
fake closer to T than almost every test image (below the ``quantile`` of
d_test) is flagged as a likely copy; ``median_ratio`` = median d_fake /
median d_test well below 1 says the generator sits on its training set.
Distances are root-mean-square pixel differences on the [-1, 1] scale
(``space="pixel"``, which exact copies hit at 0) or feature distances
(``space="features"``, which also catches shifted or flipped copies).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .features import FeatureNet


@dataclass
class MemorisationReport:
    """Nearest-training-image distances of fakes and of real test images.

    Attributes:
        fake_distance: (M,) distance of each fake to its nearest training image.
        fake_neighbour: (M,) index of that training image.
        test_distance: (N,) the same for real test images (the reference).
        threshold: the ``quantile`` of ``test_distance``; fakes at or below it are flagged.
        flagged: (M,) bool, fakes closer to the training set than ``threshold``.
        space: "pixel" or "features".
    """

    fake_distance: torch.Tensor
    fake_neighbour: torch.Tensor
    test_distance: torch.Tensor
    threshold: float
    flagged: torch.Tensor
    space: str

    @property
    def flagged_fraction(self) -> float:
        """Fraction of fakes flagged as likely copies (≈ ``quantile`` for a generator that does not copy)."""
        return self.flagged.float().mean().item()

    @property
    def median_ratio(self) -> float:
        """median d_fake / median d_test: ≈ 1 or more is healthy, ≪ 1 means fakes hug the training set."""
        return (self.fake_distance.median() / self.test_distance.median().clamp_min(1e-12)).item()

    def summary(self) -> dict[str, float]:
        return {"flagged_fraction": self.flagged_fraction, "median_ratio": self.median_ratio,
                "threshold": self.threshold, "median_fake_distance": self.fake_distance.median().item(),
                "median_test_distance": self.test_distance.median().item()}


def _embed(images: torch.Tensor, space: str, phi: FeatureNet | None) -> torch.Tensor:
    if space == "pixel":
        flat = images.detach().float().flatten(1).cpu()
        return flat / flat.shape[1] ** 0.5  # ‖a − b‖ / √D = root-mean-square pixel difference
    if space == "features":
        if phi is None:
            raise ValueError("space='features' needs the feature network: pass phi=feature_net(...).")
        return phi.features(images)
    raise ValueError(f"space must be 'pixel' or 'features', not {space!r}.")


@torch.no_grad()
def nearest_neighbours(queries: torch.Tensor, gallery: torch.Tensor,
                       chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of ``queries`` (M, d): distance to and index of its nearest row of ``gallery`` (N, d)."""
    indices = torch.cat([torch.cdist(queries[i:i + chunk], gallery).argmin(dim=1)  # (chunk, N) at a time
                         for i in range(0, queries.shape[0], chunk)])
    # cdist's fast matrix-product form is off by ~1e-4; recompute the winners exactly, so a copy is at 0
    return (queries - gallery[indices]).norm(dim=1), indices


def memorisation(fake: torch.Tensor, train: torch.Tensor, test: torch.Tensor, space: str = "pixel",
                 phi: FeatureNet | None = None, quantile: float = 0.01) -> MemorisationReport:
    """Compare fakes' and real test images' distances to their nearest training image.

    Args:
        fake: generated images (M, C, H, W) in [-1, 1].
        train: the training images the generator saw (N_T, C, H, W).
        test: real images it never saw (N, C, H, W), the reference.
        space: "pixel" (RMS pixel distance) or "features" (needs ``phi``).
        phi: the feature network, for ``space="features"``.
        quantile: fakes closer than this quantile of the test distances are flagged.

    Example:
        >>> report = memorisation(run.sample(1000), train.images, test.images)  # doctest: +SKIP
        >>> report.flagged_fraction, report.median_ratio
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie in (0, 1), e.g. 0.01; got {quantile}.")
    if not (fake.shape[1:] == train.shape[1:] == test.shape[1:]):
        raise ValueError(f"fake, train and test images must have the same shape per image; got "
                         f"{tuple(fake.shape)}, {tuple(train.shape)}, {tuple(test.shape)}.")
    gallery = _embed(train, space, phi)
    fake_distance, fake_neighbour = nearest_neighbours(_embed(fake, space, phi), gallery)
    test_distance, _ = nearest_neighbours(_embed(test, space, phi), gallery)
    threshold = torch.quantile(test_distance, quantile).item()
    return MemorisationReport(fake_distance, fake_neighbour, test_distance, threshold,
                              fake_distance <= threshold, space)
