"""The classifier two-sample test: near 1 when fakes give themselves away, near 0.5 when they cannot."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

import gan_lab.metrics.two_sample as two_sample
from gan_lab.metrics.two_sample import TwoSampleResult, two_sample_test
from gan_lab.train.classifier import ClassifierConfig, train_classifier
from gan_lab.viz import plot_two_sample

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


def _rows_of(images, pool):
    """For each image, whether it is one of the rows of ``pool`` (exactly)."""
    return [bool((pool == image).flatten(1).all(1).any()) for image in images]


def test_the_held_out_verdicts_explain_the_accuracy(monkeypatch):
    seen = []  # the images the classifier trained on

    def recording(images, labels, *args, **kwargs):
        seen.append(images.clone())
        return train_classifier(images, labels, *args, **kwargs)

    monkeypatch.setattr(two_sample, "train_classifier", recording)
    real, fake = _blobs(120, 0, 0.5), _blobs(120, 1, 0.6)  # a faint defect: some right, some wrong
    result = two_sample_test(real, fake, cfg=FAST)
    assert len(result.real) == len(result.fake) == result.n_test // 2
    assert all(_rows_of(result.real, real)) and all(_rows_of(result.fake, fake))
    assert not any(_rows_of(result.real, fake))  # the reals kept are real images, the fakes fake ones
    assert not any(_rows_of(torch.cat([result.real, result.fake]), seen[0]))  # held out, not trained on
    right = int((result.p_fake > 0.5).sum() + (result.p_real <= 0.5).sum())  # argmax: a tie goes to real
    assert result.accuracy == right / result.n_test
    assert 0.5 < result.accuracy < 1.0, "the defect should be found, but not on every image"


def test_surest_orders_each_kind_by_p_fake():
    result = two_sample_test(_blobs(60, 0, 0.5), _blobs(60, 1, 0.6), cfg=FAST)
    rows = result.surest(k=5)
    assert list(rows) == ["fakes judged most fake", "fakes judged most real", "reals judged most fake",
                          "reals judged most real"]
    ends = {"fakes judged most fake": result.p_fake.sort(descending=True).values[:5],
            "fakes judged most real": result.p_fake.sort().values[:5],
            "reals judged most fake": result.p_real.sort(descending=True).values[:5],
            "reals judged most real": result.p_real.sort().values[:5]}
    for label, (images, p) in rows.items():
        assert torch.equal(p, ends[label]) and images.shape == (5, 1, 16, 16)
        pool, p_pool = (result.fake, result.p_fake) if label.startswith("fakes") else (result.real, result.p_real)
        for image, p_image in zip(images, p):  # each image is the held-out one that got that p
            assert p_pool[(pool == image).flatten(1).all(1)].eq(p_image).any()
    assert len(result.surest(k=1000)["reals judged most real"][0]) == len(result.real)  # k is capped
    with pytest.raises(ValueError, match="at least 1"):
        result.surest(k=0)


def test_surest_explains_a_result_without_images():
    numbers = two_sample_test(_blobs(20, 0), _blobs(20, 1), cfg=FAST).summary()
    with pytest.raises(ValueError, match="run two_sample_test again"):
        TwoSampleResult(**{**numbers, "interval": tuple(numbers["interval"])}).surest()


def test_the_picture_shows_each_row_with_its_p_fake():
    result = two_sample_test(_blobs(40, 0, 0.5), _blobs(40, 1, 0.8), cfg=FAST)
    matplotlib.use("Agg")
    fig = plot_two_sample(result, k=4)
    axes = fig.axes
    assert len(axes) == 16
    rows = result.surest(4)
    assert [axes[4 * r].get_ylabel().replace("\n", " ") for r in range(4)] == list(rows)
    titles = [ax.get_title() for ax in axes]
    assert titles == [f"{p:.2f}" for _, ps in rows.values() for p in ps.tolist()]
    assert f"{result.accuracy:.3f}" in fig.get_suptitle()
    plt.close(fig)
