"""The classifier two-sample test: near 1 when fakes give themselves away, near 0.5 when they cannot."""

import pytest
import torch

from gan_lab.metrics.two_sample import two_sample_test
from gan_lab.train.classifier import ClassifierConfig

FAST = ClassifierConfig(num_steps=60, batch_size=64)


def _blobs(n, seed, bright=0.0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 16, 16, generator=gen) * 0.5 - 0.5
    x[:, :, 4:12, 4:12] += bright  # a square that real images have and bad fakes lack (or have brighter)
    return x


def test_fakes_with_a_visible_defect_are_found():
    result = two_sample_test(_blobs(200, 0, 0.5), _blobs(200, 1, 1.0), cfg=FAST)
    assert result.accuracy > 0.9 and result.interval[0] > 0.5 and result.p_value < 1e-6
    assert (result.n_train, result.n_test) == (200, 200)


def test_two_samples_of_one_distribution_are_indistinguishable():
    result = two_sample_test(_blobs(200, 0, 0.5), _blobs(200, 1, 0.5), cfg=FAST)
    lo, hi = result.interval
    assert lo <= 0.5 + 0.05 and abs(result.accuracy - 0.5) < 0.15 and result.p_value > 0.001


def test_the_result_is_seeded_and_summarised():
    a = two_sample_test(_blobs(40, 0), _blobs(40, 1, 0.3), cfg=FAST, seed=3)
    b = two_sample_test(_blobs(40, 0), _blobs(40, 1, 0.3), cfg=FAST, seed=3)
    assert a.accuracy == b.accuracy and "0.5 = indistinguishable" in str(a)
    assert set(a.summary()) == {"accuracy", "interval", "p_value", "n_train", "n_test", "seconds"}


@pytest.mark.parametrize("real, fake, n, message", [
    (torch.zeros(10, 1, 8, 8), torch.zeros(10, 3, 8, 8), None, "same shape"),
    (torch.zeros(10, 1, 8, 8), torch.zeros(10, 1, 8, 8), 50, "n must be between"),
])
def test_bad_input_is_explained(real, fake, n, message):
    with pytest.raises(ValueError, match=message):
        two_sample_test(real, fake, n=n, cfg=FAST)


def test_the_test_leaves_the_callers_random_numbers_alone():
    tiny = ClassifierConfig(width=4, feature_dim=8, num_steps=3, batch_size=8)
    torch.manual_seed(7)
    two_sample_test(torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8), cfg=tiny)
    after_a = torch.rand(3)
    torch.manual_seed(8)
    two_sample_test(torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8), cfg=tiny)
    assert not torch.equal(torch.rand(3), after_a)  # a test that reseeded the global RNG would make these equal
