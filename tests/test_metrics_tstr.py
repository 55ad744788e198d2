"""Train on synthetic, test on real: a faithful class-conditional sampler helps, a label-swapping one hurts."""

import pytest
import torch

from gan_lab.data import stratified_subset
from gan_lab.data.base import ImageData
from gan_lab.metrics.tstr import AugmentationConfig, augmentation_experiment, score, synthesize
from gan_lab.train.classifier import ClassifierConfig

TINY = ClassifierConfig(width=4, feature_dim=8, num_steps=30, batch_size=32)


def _squares(n: int, seed: int, labels: torch.Tensor | None = None) -> ImageData:
    """Class 0: faint noise; class 1: the same plus a bright square (as in test_metrics_features)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2 if labels is None else labels
    x = 0.2 * torch.randn(len(y), 1, 16, 16, generator=g) - 0.5
    for i in (y == 1).nonzero().flatten().tolist():
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        x[i, :, r:r + 6, c:c + 6] += 1.2
    return ImageData(x.clamp(-1, 1), y, ["plain", "square"], "squares", "synthetic (test)")


def faithful_sample_fn(n, y):
    """A stand-in class-conditional generator: new images of exactly the asked classes."""
    return _squares(n, seed=int(y.sum()) + 7, labels=y).images


def swapped_sample_fn(n, y):
    """A broken generator that draws the other class."""
    return _squares(n, seed=11, labels=1 - y).images


@pytest.fixture(scope="module")
def splits():
    return _squares(300, 0), _squares(200, 1)


def test_stratified_subset_keeps_every_class_in_proportion():
    data = ImageData(torch.zeros(1000, 1, 4, 4), torch.cat([torch.zeros(900), torch.ones(100)]).long(),
                     ["a", "b"], "x", "t")
    small = stratified_subset(data, 0.1, seed=0)
    assert small.class_counts() == {"a": 90, "b": 10}
    assert stratified_subset(data, 0.001).class_counts() == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="fraction"):
        stratified_subset(data, 0.0)


def test_synthesize_batches_and_checks_what_sample_fn_returns():
    y = torch.tensor([0, 1] * 7)
    assert synthesize(faithful_sample_fn, y, batch_size=4).shape == (14, 1, 16, 16)
    with pytest.raises(ValueError, match="must return n images"):
        synthesize(lambda n, y: torch.zeros(n + 1, 1, 16, 16), y)


def test_faithful_sampler_trains_a_good_classifier_and_a_swapped_one_a_bad_one(splits):
    train, test = splits
    cfg = AugmentationConfig(seeds=(0,), classifier=TINY)
    good = augmentation_experiment(train, test, faithful_sample_fn, cfg, device="cpu", progress=False)
    bad = augmentation_experiment(train, test, swapped_sample_fn, cfg, device="cpu", progress=False)
    assert good["real"]["auc"] > 0.9 and good["synthetic"]["auc"] > 0.9 and good["real+synthetic"]["auc"] > 0.9
    assert bad["synthetic"]["auc"] < 0.2, "a classifier trained on swapped labels must rank test images backwards"
    assert bad["synthetic"]["accuracy"] < 0.5 < good["synthetic"]["accuracy"]


def test_low_data_regime_uses_a_tenth_of_the_real_images(splits):
    train, test = splits
    asked = []

    def spy(n, y):
        asked.append(y.clone())
        return faithful_sample_fn(n, y)

    cfg = AugmentationConfig(fraction=0.1, synthetic_per_real=2.0, seeds=(0, 1), classifier=TINY)
    out = augmentation_experiment(train, test, spy, cfg, device="cpu", progress=False)
    assert out["config"]["n_real"] == 30 and out["config"]["n_synthetic"] == 60
    assert out["real"]["n_train"] == 30 and out["real+synthetic"]["n_train"] == 90
    y = torch.cat(asked)
    assert len(y) == 60 and set(y.tolist()) == {0, 1}
    assert out["real"]["auc_std"] >= 0 and set(out["synthetic"]) >= {"auc", "auc_std", "accuracy", "accuracy_std"}


def test_score_on_a_perfect_and_a_constant_classifier(splits):
    _, test = splits

    class Rule(torch.nn.Module):
        def __init__(self, threshold):  # None: always the same answer
            super().__init__()
            self.w, self.threshold = torch.nn.Parameter(torch.zeros(1)), threshold

        def forward(self, x):
            s = (x.amax(dim=(1, 2, 3)) - self.threshold) if self.threshold is not None else torch.ones(len(x))
            return torch.stack([-s, s], dim=1) + self.w

    assert score(Rule(0.4), test) == {"auc": 1.0, "accuracy": 1.0}  # a bright square means class 1
    constant = score(Rule(None), test)
    assert constant["auc"] == pytest.approx(0.5) and constant["accuracy"] == pytest.approx(0.5)
