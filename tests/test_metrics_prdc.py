"""Precision/recall/density/coverage: hand-counted values and the failure modes they are meant to expose."""

import pytest
import torch

from gan_lab.metrics.features import FeatureNet
from gan_lab.metrics.prdc import prdc, prdc_images
from gan_lab.models.classifier import DomainClassifier


def _blobs(n: int, seed: int, centres: torch.Tensor) -> torch.Tensor:
    """n points around the given centres (K, d), equally many per centre."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(n) % centres.shape[0]
    return centres[idx] + 0.3 * torch.randn(n, centres.shape[1], generator=g)


CENTRES = torch.tensor([[0.0, 0, 0, 0], [4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 4, 0], [0, 0, 0, 4]])


def test_hand_counted_one_dimensional_case():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k = 1: every real ball has radius 1
    fake = torch.tensor([[0.5], [10.0]])  # 0.5 lies strictly inside the balls of 0 and 1; 10 in none
    out = prdc(real, fake, k=1)
    assert out["precision"] == pytest.approx(0.5)
    assert out["density"] == pytest.approx(2 / 2)  # (1/(k·M)) · (2 + 0)
    assert out["coverage"] == pytest.approx(2 / 4)  # reals 0 and 1 have a fake inside their ball
    # fake radii (k = 1): both 9.5, so every real lies within a fake ball
    assert out["recall"] == pytest.approx(1.0)


def test_same_distribution_scores_high_everywhere():
    out = prdc(_blobs(500, 0, CENTRES), _blobs(500, 1, CENTRES))
    assert out["precision"] > 0.9 and out["recall"] > 0.9 and out["coverage"] > 0.9
    assert 0.8 < out["density"] < 1.2


def test_off_manifold_fakes_lose_precision_but_collapse_loses_recall():
    real = _blobs(500, 0, CENTRES)
    off = _blobs(500, 1, CENTRES + torch.tensor([2.0, 2.0, 0, 0]))  # every mode shifted off the data
    collapsed = _blobs(500, 2, CENTRES[:1])  # every fake in one of the five modes
    p_off, p_collapsed = prdc(real, off), prdc(real, collapsed)
    assert p_off["precision"] < 0.2 and p_off["density"] < 0.2
    assert p_collapsed["precision"] > 0.9, "one real mode, reproduced well, is still precise"
    assert p_collapsed["recall"] < 0.3 and p_collapsed["coverage"] < 0.3


def test_density_is_robust_to_a_real_outlier_that_precision_is_not():
    real = torch.cat([_blobs(200, 0, CENTRES[:1]), torch.tensor([[30.0, 0, 0, 0]])])
    fake = _blobs(200, 1, torch.tensor([[15.0, 0, 0, 0]]))  # far from the data, inside the outlier's huge ball
    out = prdc(real, fake)
    assert out["precision"] > 0.9
    assert out["density"] < 0.25


def test_prdc_images_uses_the_feature_network_and_checks_sizes():
    torch.manual_seed(0)
    phi = FeatureNet(DomainClassifier(1, 2, width=4, feature_dim=8))
    x = torch.rand(40, 1, 16, 16) * 2 - 1
    assert prdc_images(x, x, phi, k=3)["precision"] == 1.0
    with pytest.raises(ValueError, match="N > k"):
        prdc(torch.randn(5, 3), torch.randn(50, 3), k=5)
