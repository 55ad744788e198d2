"""FID and KID through torchmetrics, with the domain feature network as the feature extractor.

Both compare the distributions of φ(real) and φ(fake) for a feature map φ
(here :class:`~gan_lab.metrics.features.FeatureNet`, not Inception-v3):

* FID (Heusel et al. 2017) fits a Gaussian to each set of features,

      FID = ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2 (Σ_r Σ_f)^{1/2}),

  and is biased upwards for small samples (its estimate falls as n grows).
* KID (Bińkowski et al. 2018) is the squared maximum mean discrepancy with
  the polynomial kernel k(a, b) = (aᵀb / d + 1)³, estimated without bias
  over random subsets; it reports a mean and a standard deviation.

torchmetrics passes the images straight to a custom ``feature=`` module (no
uint8 conversion, no download), so images stay float in [-1, 1]. A
:class:`RealReference` runs φ over the real images once (torchmetrics'
``reset_real_features=False``) and then scores any number of fake sets.
"""

from __future__ import annotations

import warnings

import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from .features import FeatureNet


def _check_images(name: str, x: torch.Tensor) -> None:
    if not torch.is_tensor(x) or x.dim() != 4 or x.shape[0] < 2:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{name} must be a batch of at least 2 images (N, C, H, W); got {shape}.")


class RealReference:
    """The real side of FID and KID, computed once: score many fake sets against the same real images.

    Args:
        real: (N, C, H, W) real images in [-1, 1].
        phi: the feature network.
        kid_subsets, kid_subset_size: KID's random subsets (the size is capped at the smaller set).
        batch_size: images per forward pass of φ.

    Example:
        >>> ref = RealReference(train.images, feature_net("pneumoniamnist"))  # doctest: +SKIP
        >>> ref.fid(run.sample(1000)), ref.kid(run.sample(1000))
    """

    def __init__(self, real: torch.Tensor, phi: FeatureNet, kid_subsets: int = 100, kid_subset_size: int = 1000,
                 batch_size: int = 1024):
        _check_images("real", real)
        if not isinstance(phi, FeatureNet):
            raise TypeError(f"phi must be a FeatureNet (see gan_lab.metrics.feature_net), got {type(phi).__name__}.")
        self.phi, self.shape, self.n_real, self.batch_size = phi, real.shape[1:], real.shape[0], batch_size
        self.kid_subset_size = kid_subset_size
        self._fid = FrechetInceptionDistance(feature=phi, reset_real_features=False, normalize=False)
        with warnings.catch_warnings():  # "will save all extracted features": d-dimensional features are small
            warnings.filterwarnings("ignore", message=".*save all extracted features.*")
            self._kid = KernelInceptionDistance(feature=phi, subsets=kid_subsets, subset_size=kid_subset_size,
                                                reset_real_features=False, normalize=False)
        self._fid.to(phi.device)
        self._kid.to(phi.device)
        self._update(real, real=True)

    @torch.no_grad()
    def _update(self, images: torch.Tensor, real: bool) -> None:
        for metric in (self._fid, self._kid):
            if not real:
                metric.reset()  # forgets the previous fakes, keeps the real statistics
            for i in range(0, images.shape[0], self.batch_size):
                metric.update(images[i:i + self.batch_size].to(self.phi.device).float(), real=real)

    def _fakes(self, fake: torch.Tensor) -> None:
        _check_images("fake", fake)
        if fake.shape[1:] != self.shape:
            raise ValueError(f"real and fake images differ in shape: {tuple(self.shape)} vs {tuple(fake.shape[1:])}.")
        self._update(fake, real=False)

    def fid(self, fake: torch.Tensor) -> float:
        """FID of ``fake`` (M, C, H, W) against the reference (lower is better; 0 for equal statistics).

        Compare FIDs only at equal sample sizes M: the estimate depends on M.
        """
        self._fakes(fake)
        return self._fid.compute().item()

    def kid(self, fake: torch.Tensor, seed: int = 0) -> tuple[float, float]:
        """KID (mean, std over subsets) of ``fake`` against the reference; unbiased, so it can dip below 0."""
        self._fakes(fake)
        return self._compute_kid(fake.shape[0], seed)

    def _compute_kid(self, n_fake: int, seed: int) -> tuple[float, float]:
        self._kid.subset_size = min(self.kid_subset_size, self.n_real, n_fake)
        with torch.random.fork_rng(devices=[]):  # the subsets are drawn with the global RNG: leave it untouched
            torch.manual_seed(seed)
            mean, std = self._kid.compute()
        return mean.item(), std.item()

    def fid_kid(self, fake: torch.Tensor, seed: int = 0) -> dict[str, float]:
        """``{"fid", "kid", "kid_std", "n_real", "n_fake"}`` for ``fake`` (φ runs over it once)."""
        self._fakes(fake)
        kid_mean, kid_std = self._compute_kid(fake.shape[0], seed)
        return {"fid": self._fid.compute().item(), "kid": kid_mean, "kid_std": kid_std,
                "n_real": self.n_real, "n_fake": fake.shape[0]}


def fid(real: torch.Tensor, fake: torch.Tensor, phi: FeatureNet) -> float:
    """Fréchet distance between φ(real) and φ(fake), images (N, C, H, W) in [-1, 1].

    Example:
        >>> fid(val.images, run.sample(500), feature_net("pneumoniamnist"))  # doctest: +SKIP
    """
    return RealReference(real, phi).fid(fake)


def kid(real: torch.Tensor, fake: torch.Tensor, phi: FeatureNet, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel distance (squared MMD, cubic polynomial kernel) between φ(real) and φ(fake): (mean, std)."""
    return RealReference(real, phi, subsets, subset_size).kid(fake, seed)


def fid_kid(real: torch.Tensor, fake: torch.Tensor, phi: FeatureNet) -> dict[str, float]:
    """FID and KID of one comparison, as ``{"fid", "kid", "kid_std", "n_real", "n_fake"}``."""
    return RealReference(real, phi).fid_kid(fake)
