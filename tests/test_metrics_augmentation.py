"""Frid-Adar's protocol: classical augmentation (affine copies), one generator per class, the "+classical" settings."""

import pytest
import torch
from test_metrics_tstr import _squares  # the same two-class images

from gan_lab.metrics.tstr import (
    ALL_SETTINGS,
    AugmentationConfig,
    ClassicalAugmentation,
    augmentation_experiment,
    classical_augment,
    per_class_sampler,
)
from gan_lab.train.classifier import ClassifierConfig

TINY = ClassifierConfig(width=4, feature_dim=8, num_steps=20, batch_size=32)
STILL = ClassicalAugmentation(copies=2, max_rotation=0, max_shift=0, scale=(1.0, 1.0))


def _images(n=6, size=16, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_identity_augmentation_returns_the_copies_in_order():
    x = _images()
    y = classical_augment(x, STILL)
    assert y.shape == (12, 1, 16, 16)
    assert torch.allclose(y, x.repeat(2, 1, 1, 1), atol=1e-5)  # row c·N + i is copy c of image i


def test_flips_mirror_and_nothing_else():
    x = _images()
    y = classical_augment(x, ClassicalAugmentation(copies=4, max_rotation=0, max_shift=0, scale=(1, 1), hflip=True))
    kinds = [torch.allclose(a, b, atol=1e-5) for a, b in zip(y, x.repeat(4, 1, 1, 1))]
    mirrored = [torch.allclose(a, b.flip(-1), atol=1e-5) for a, b in zip(y, x.repeat(4, 1, 1, 1))]
    assert all(k or m for k, m in zip(kinds, mirrored)) and any(mirrored) and any(kinds)


def test_random_affine_moves_a_square_by_at_most_the_shift_and_is_seeded():
    x = -torch.ones(1, 1, 28, 28)
    x[..., 11:17, 11:17] = 1  # a bright square in the centre
    aug = ClassicalAugmentation(copies=50, max_rotation=10, max_shift=2, scale=(0.9, 1.1))
    y = classical_augment(x, aug, seed=0)
    assert torch.equal(y, classical_augment(x, aug, seed=0)) and not torch.equal(y, classical_augment(x, aug, seed=1))
    assert not torch.allclose(y[0], y[1])  # every copy is transformed differently
    w = (y + 1).clamp_min(0)[:, 0]  # brightness as mass
    grid = torch.arange(28.0)
    cy = (w.sum(2) * grid).sum(1) / w.sum((1, 2))
    cx = (w.sum(1) * grid).sum(1) / w.sum((1, 2))
    assert ((cx - 13.5).abs() <= 2.05).all() and ((cy - 13.5).abs() <= 2.05).all()
    assert (cx - 13.5).abs().max() > 0.5  # it does move
    with pytest.raises(ValueError, match="copies"):
        classical_augment(x, ClassicalAugmentation(copies=0))


def test_per_class_sampler_routes_each_label_to_its_generator_with_fresh_seeds():
    seen = []

    def generator(k):
        def sample(n, seed):
            seen.append((k, n, seed))
            return torch.full((n, 1, 4, 4), float(k))
        return sample

    sample_fn = per_class_sampler([generator(0), generator(1), generator(2)], seed=10)
    y = torch.tensor([2, 0, 2, 1, 0, 2])
    x = sample_fn(len(y), y)
    assert x.shape == (6, 1, 4, 4) and torch.equal(x[:, 0, 0, 0], y.float())
    assert sorted(n for _, n, _ in seen) == [1, 2, 3]
    sample_fn(2, torch.tensor([0, 0]))
    seeds = [s for _, _, s in seen]
    assert len(set(seeds)) == len(seeds) == 4 and min(seeds) == 10  # a new seed for every call
    with pytest.raises(ValueError, match="no generator"):
        sample_fn(1, torch.tensor([3]))


def test_classical_settings_train_on_the_right_number_of_images():
    train, test = _squares(200, 0), _squares(100, 1)
    asked = []

    def sample_fn(n, y):
        asked.append(n)
        return _squares(n, seed=5, labels=y).images

    cfg = AugmentationConfig(fraction=0.2, synthetic_per_real=1.0, seeds=(0,), classifier=TINY,
                             settings=("real+classical", "real+classical+synthetic"),
                             classical=ClassicalAugmentation(copies=3))
    out = augmentation_experiment(train, test, sample_fn, cfg, device="cpu", progress=False)
    assert set(out) == {"real+classical", "real+classical+synthetic", "config"}
    assert out["real+classical"]["n_train"] == 40 * 4 and out["real+classical+synthetic"]["n_train"] == 40 * 5
    assert sum(asked) == 40 and out["config"]["classical"]["copies"] == 3
    real_only = augmentation_experiment(train, test, lambda n, y: 1 / 0, AugmentationConfig(
        fraction=0.2, seeds=(0,), classifier=TINY, settings=("real",)), device="cpu", progress=False)
    assert set(real_only) == {"real", "config"}  # no synthetic setting: the generator is never called


def test_settings_are_validated():
    train, test = _squares(40, 0), _squares(20, 1)
    with pytest.raises(ValueError, match="settings must be"):
        augmentation_experiment(train, test, None, AugmentationConfig(settings=("real+gan",)), progress=False)
    with pytest.raises(ValueError, match="ClassicalAugmentation"):
        augmentation_experiment(train, test, None, AugmentationConfig(settings=("real+classical",)), progress=False)
    assert set(ALL_SETTINGS) >= {"real", "synthetic", "real+synthetic", "real+classical", "real+classical+synthetic"}
