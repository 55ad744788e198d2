"""benchmarks/where_fakes_differ.py: the two-sample test after one fixed transform of both sets."""

import json

import torch

from benchmarks import where_fakes_differ as wfd
from gan_lab.train.classifier import ClassifierConfig


def test_the_histogram_transforms_keep_each_images_pixels_and_nothing_else():
    x = torch.rand(5, 1, 8, 8)
    for transform in (wfd.shuffled, wfd.sorted_pixels):
        y = transform(x)
        assert torch.equal(y.flatten(1).sort(1).values, x.flatten(1).sort(1).values)  # the same pixels per image
    assert not torch.equal(wfd.shuffled(x), x)
    assert torch.all(wfd.sorted_pixels(x).flatten(1).diff(dim=1) >= 0)


def test_standardising_removes_brightness_and_contrast():
    x = torch.rand(4, 1, 8, 8)
    assert torch.allclose(wfd.standardised(x), wfd.standardised(3 * x + 0.5), atol=1e-5)


def test_a_run_scores_every_transform_with_baselines_where_read(monkeypatch, tmp_path):
    from gan_lab.metrics import two_sample

    tiny = ClassifierConfig(width=4, feature_dim=8, num_steps=5, batch_size=16)
    monkeypatch.setattr(wfd, "two_sample_test", lambda real, fake, **kw: two_sample.two_sample_test(real, fake,
                                                                                                   cfg=tiny, **kw))
    out = tmp_path / "wfd.json"
    assert wfd.main(["--data", "phantoms", "--steps", "3", "--n", "40", "--threads", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    tests = result["two_sample_accuracy"]
    assert list(tests) == list(wfd.transforms(1.0))
    assert all(len(v["fakes"]) == 2 and all(0 <= a <= 1 for a in v["fakes"]) for v in tests.values())
    assert {k for k, v in tests.items() if "real training images" in v} == {"none", "high band (x - blur, sigma 1.0)"}
    assert len(result["spectrum_ratio_to_test_from_ring_1"]["fakes"]) == 20 and result["settings"]["steps"] == 3
