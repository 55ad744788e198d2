"""The memorisation check flags copies of training images and leaves genuinely new images alone."""

import matplotlib
import pytest
import torch
import torch.nn.functional as F

from gan_lab.metrics.features import FeatureNet
from gan_lab.metrics.memorisation import memorisation, nearest_neighbours
from gan_lab.models.classifier import DomainClassifier
from gan_lab.viz import plot_memorisation


def _images(n: int, seed: int) -> torch.Tensor:
    """Smooth random images in [-1, 1] (like a small image dataset: every one different)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 1, 4, 4, generator=g), size=16, mode="bilinear", align_corners=False)
    return (x + 0.05 * torch.randn(n, 1, 16, 16, generator=g)).clamp(0, 1) * 2 - 1


@pytest.fixture(scope="module")
def data():
    return _images(300, 0), _images(100, 1), _images(100, 2)  # train, test, new fakes


def test_nearest_neighbours_finds_the_exact_match():
    gallery = torch.randn(50, 7)
    d, idx = nearest_neighbours(gallery[[3, 17, 42]] + 1e-4, gallery, chunk=2)
    assert idx.tolist() == [3, 17, 42] and (d < 1e-3).all()


def test_exact_training_copies_are_flagged(data):
    train, test, new = data
    copies = train[[5, 50, 120, 250]]
    fake = torch.cat([new[:36], copies])
    report = memorisation(fake, train, test)
    assert report.flagged[36:].all(), "every exact copy of a training image must be flagged"
    assert report.fake_neighbour[36:].tolist() == [5, 50, 120, 250]
    assert report.flagged[:36].float().mean() < 0.1
    assert report.fake_distance[36:].max() < 1e-6


def test_a_memorising_generator_has_a_small_median_ratio(data):
    train, test, new = data
    memorised = train[:100] + 0.01 * torch.randn(100, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    honest, copying = memorisation(new, train, test), memorisation(memorised, train, test)
    assert 0.7 < honest.median_ratio < 1.4
    assert copying.median_ratio < 0.3 and copying.flagged_fraction > 0.9
    assert set(honest.summary()) >= {"flagged_fraction", "median_ratio", "threshold"}


def test_feature_space_and_plot(data):
    train, test, new = data
    torch.manual_seed(0)
    phi = FeatureNet(DomainClassifier(1, 2, width=4, feature_dim=8))
    report = memorisation(torch.cat([new[:20], train[:5]]), train, test, space="features", phi=phi)
    assert report.flagged[20:].all()
    matplotlib.use("Agg")
    fig = plot_memorisation(report, torch.cat([new[:20], train[:5]]), train, num_pairs=5)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="needs the feature network"):
        memorisation(new, train, test, space="features")
    with pytest.raises(ValueError, match="same shape"):
        memorisation(new[:, :, :8], train, test)
