"""The domain feature network: it learns the labels, caches itself, and behaves as torchmetrics expects."""

import pytest
import torch

from gan_lab.data.base import ImageData
from gan_lab.metrics import features as feat
from gan_lab.models.registry import build, model_config

TINY = feat.ClassifierConfig(width=4, feature_dim=8, num_steps=30, batch_size=32)


def _two_class_data(n: int, seed: int) -> ImageData:
    """Class 0: faint noise; class 1: the same plus a bright square somewhere — learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    x = 0.2 * torch.randn(n, 1, 16, 16, generator=g) - 0.5
    y = torch.arange(n) % 2
    for i in (y == 1).nonzero().flatten().tolist():
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        x[i, :, r:r + 6, c:c + 6] += 1.2
    return ImageData(x.clamp(-1, 1), y, ["plain", "square"], "squares", "synthetic (test)")


@pytest.fixture(scope="module")
def squares():
    return _two_class_data(256, seed=0), _two_class_data(128, seed=1)


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 64), (1, 16)])
def test_classifier_shapes_and_rebuild_from_json(channels, size):
    C = feat.DomainClassifier(channels, num_classes=3, width=4, feature_dim=10)
    x = torch.randn(2, channels, size, size)
    assert C(x).shape == (2, 3) and C.embed(x).shape == (2, 10)
    assert isinstance(build(model_config(C)), feat.DomainClassifier)


def test_feature_net_learns_the_labels(squares):
    train, test = squares
    phi, history = feat.train_feature_net(train, test, TINY, device="cpu", progress=False)
    assert phi.test_accuracy > 0.8, "a bright square is easy to detect; the classifier failed to learn"
    assert history["loss_C"][-1] < history["loss_C"][0]
    f = phi.features(test.images)
    assert f.shape == (len(test), TINY.feature_dim) and torch.isfinite(f).all()
    # the features separate the classes: class means are further apart than the average spread
    gap = (f[test.labels == 0].mean(0) - f[test.labels == 1].mean(0)).norm()
    assert gap > f.std(0).norm() * 0.5


def test_feature_net_stays_in_eval_mode_and_checks_channels(squares):
    phi = feat.FeatureNet(feat.DomainClassifier(1, 2, 4, 8))
    phi.train()
    assert not phi.classifier.training
    x = squares[1].images[:5]
    assert torch.equal(phi.features(x), phi.features(x))  # batch norm uses running stats: deterministic
    with pytest.raises(ValueError, match="feature network takes images"):
        phi.features(torch.zeros(2, 3, 16, 16))


def test_feature_net_is_cached_and_retrained_when_the_config_changes(squares, tmp_path, monkeypatch):
    train, test = squares
    calls = []

    def fake_load(name, split="train", size=28, fallback=True):
        assert not fallback, "a feature network must never be trained on phantoms standing in for real data"
        calls.append(split)
        return train if split == "train" else test

    monkeypatch.setattr(feat, "load", fake_load)
    first = feat.feature_net("squares", 16, "cpu", TINY, cache_dir=tmp_path, progress=False)
    assert calls == ["train", "test"] and first.train_seconds > 0
    again = feat.feature_net("squares", 16, "cpu", TINY, cache_dir=tmp_path, progress=False)
    assert calls == ["train", "test"], "a matching cache must be loaded, not retrained"
    assert again.test_accuracy == pytest.approx(first.test_accuracy)
    assert torch.allclose(again.features(test.images), first.features(test.images), atol=1e-5)
    feat.feature_net("squares", 16, "cpu", feat.ClassifierConfig(**{**TINY.__dict__, "num_steps": 31}),
                     cache_dir=tmp_path, progress=False)
    assert len(calls) == 4, "a different config must retrain"


def test_too_few_classes_is_a_clear_error(squares):
    one_class = ImageData(squares[0].images, torch.zeros(len(squares[0]), dtype=torch.long), ["x"], "x", "t")
    with pytest.raises(ValueError, match="≥ 2"):
        feat.train_feature_net(one_class, one_class, TINY, device="cpu", progress=False)
