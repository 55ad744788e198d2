"""FID and KID on real PneumoniaMNIST: real-vs-real is small, corruption makes it grow, monotonically."""

import pytest
import torch
import torch.nn.functional as F

from gan_lab.data import load
from gan_lab.metrics.features import train_feature_net
from gan_lab.metrics.fidelity import RealReference, fid, fid_kid, kid
from gan_lab.train.classifier import ClassifierConfig

N = 400  # images per set: enough for a 16-d Gaussian fit, small enough to be quick


@pytest.fixture(scope="module")
def pneumonia(shared_data):
    return tuple(load("pneumoniamnist", split, fallback=False) for split in ("train", "test"))


@pytest.fixture(scope="module")
def phi(pneumonia):
    cfg = ClassifierConfig(width=8, feature_dim=16, num_steps=40, batch_size=64)
    return train_feature_net(*pneumonia, cfg, device="cpu", progress=False)[0]


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    x = F.pad(x, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def test_disjoint_real_sets_are_far_closer_than_noise_or_blur(pneumonia, phi):
    train, _ = pneumonia
    # two disjoint parts of the training split (the test split has other class proportions, a real shift)
    a, b = train.images[:N], train.images[N:2 * N]
    real_vs_real = fid(a, b, phi)
    assert real_vs_real < fid(a, _blur(b, 1.5), phi) / 5
    assert real_vs_real < fid(a, torch.rand(N, 1, 28, 28) * 2 - 1, phi) / 50
    assert fid(a, a, phi) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("corrupt", ["blur", "noise"])
def test_fid_grows_monotonically_with_corruption_strength(pneumonia, phi, corrupt):
    train, test = pneumonia
    x = test.images[:N]  # corrupting test images, compared with training images
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    strengths = [0.6, 1.0, 1.6, 2.4] if corrupt == "blur" else [0.05, 0.15, 0.3, 0.6]
    corrupted = [_blur(x, s) if corrupt == "blur" else (x + s * noise).clamp(-1, 1) for s in strengths]
    scores = [fid(train.images[:N], c, phi) for c in corrupted]
    assert all(a < b for a, b in zip(scores, scores[1:])), f"FID not increasing with {corrupt}: {scores}"


def test_kid_is_near_zero_for_real_data_and_large_for_blur(pneumonia, phi):
    train, _ = pneumonia
    a, b = train.images[:N], train.images[N:2 * N]
    same_mean, same_std = kid(a, b, phi, subsets=20, subset_size=200)
    blur_mean, _ = kid(a, _blur(b, 1.5), phi, subsets=20, subset_size=200)
    assert abs(same_mean) < blur_mean / 5 and same_std >= 0
    again = kid(a, b, phi, subsets=20, subset_size=200)
    assert again == (same_mean, same_std), "KID's subsets are seeded: the same call gives the same numbers"


def test_a_reference_scores_many_fake_sets_like_fresh_computations(pneumonia, phi):
    train, test = pneumonia
    ref = RealReference(train.images[:N], phi, kid_subsets=10, kid_subset_size=100)
    blurred, noisy = _blur(test.images[:200], 1.0), (test.images[:150] + 0.3).clamp(-1, 1)
    first = ref.fid(blurred)
    assert ref.fid(noisy) == pytest.approx(fid(train.images[:N], noisy, phi), rel=1e-5)
    assert ref.fid(blurred) == pytest.approx(first, rel=1e-6), "scoring other fakes must not change the reference"
    both = ref.fid_kid(noisy)
    assert both["fid"] == pytest.approx(ref.fid(noisy), rel=1e-6) and both["kid"] == ref.kid(noisy)[0]


def test_fid_kid_reports_sample_sizes_and_checks_shapes(pneumonia, phi):
    train, test = pneumonia
    out = fid_kid(train.images[:300], test.images[:120], phi)
    assert out["n_real"] == 300 and out["n_fake"] == 120 and out["fid"] > 0
    with pytest.raises(ValueError, match="differ in shape"):
        fid(train.images[:10], torch.zeros(10, 1, 32, 32), phi)
    with pytest.raises(ValueError, match="at least 2"):
        fid(train.images[:10], test.images[:1], phi)
