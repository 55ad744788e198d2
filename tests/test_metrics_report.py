"""Evaluating a run folder: every number is there, the real baseline beats an untrained generator."""

import json

import pytest
import torch

from gan_lab import checkpoints
from gan_lab.data import load
from gan_lab.metrics.features import train_feature_net
from gan_lab.metrics.report import evaluate_run, fid_kid_for_run, load_generator, sample_generator
from gan_lab.models.conditional import ConditionalGenerator
from gan_lab.models.dcgan import DCGANGenerator
from gan_lab.train.classifier import ClassifierConfig

RUN_CONFIG = {"data": "pneumoniamnist", "size": 28, "channels": 1}


@pytest.fixture(scope="module")
def phi(shared_data):
    train, test = (load("pneumoniamnist", split, fallback=False) for split in ("train", "test"))
    return train_feature_net(train, test, ClassifierConfig(width=8, feature_dim=16, num_steps=40, batch_size=64),
                             device="cpu", progress=False)[0]


@pytest.fixture
def run_dir(tmp_path):
    torch.manual_seed(0)
    G = DCGANGenerator(z_dim=8, size=28, width=8)  # untrained: blobs, nothing like an X-ray
    checkpoints.save_checkpoint(tmp_path / "dcgan", {"G": G}, step=0, config=RUN_CONFIG)
    return tmp_path / "dcgan"


def test_evaluate_run_reports_everything_with_a_real_baseline(run_dir, phi):
    seen = []
    report = evaluate_run(run_dir, n=150, device="cpu", phi=phi, on_two_sample=seen.append)
    for key in ("fid", "kid", "precision", "recall", "density", "coverage"):
        assert key in report and key in report["baseline_real"]
    assert report["n_eval"] == 150 and report["data"] == "pneumoniamnist"
    assert report["baseline_real"]["fid"] < report["fid"] / 5, "held-out real images must beat an untrained G"
    assert report["baseline_real"]["coverage"] > 3 * report["coverage"]
    assert report["baseline_real"]["recall"] > 3 * report["recall"]
    assert 0 <= report["memorisation"]["flagged_fraction"] < 0.05
    # an untrained G is told from real images at once; real training images much less so
    c2st, floor = report["two_sample_test"], report["baseline_real"]["two_sample_test"]
    assert c2st["accuracy"] > 0.9 and c2st["p_value"] < 1e-6 and floor["accuracy"] < c2st["accuracy"]
    assert json.loads((run_dir / "evaluation.json").read_text())["fid"] == pytest.approx(report["fid"])
    # the hook gets the fakes' test itself, with the held-out images the JSON leaves out
    assert len(seen) == 1 and seen[0].summary() == c2st
    assert seen[0].fake.shape == seen[0].real.shape == (c2st["n_test"] // 2, 1, 28, 28)


def test_fid_kid_for_run_matches_the_full_report(run_dir, phi):
    quick = fid_kid_for_run(run_dir, n=150, device="cpu", phi=phi)
    full = evaluate_run(run_dir, n=150, device="cpu", phi=phi, write=False)
    assert quick["fid"] == pytest.approx(full["fid"], rel=1e-4)
    assert quick["fid_real_baseline"] == pytest.approx(full["baseline_real"]["fid"], rel=1e-4)
    assert quick["n"] == 150 and not (run_dir / "evaluation.json").exists()


def test_evaluate_run_without_the_two_sample_test_trains_no_classifier(run_dir, phi, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("two_sample=False must not train a classifier")

    monkeypatch.setattr("gan_lab.metrics.report.two_sample_test", refuse)
    report = evaluate_run(run_dir, n=150, device="cpu", phi=phi, write=False, two_sample=False)
    assert "two_sample_test" not in report and "two_sample_test" not in report["baseline_real"]
    assert report["fid"] > report["baseline_real"]["fid"]
    with pytest.raises(ValueError, match="two_sample=False leaves out"):  # a hook that would never be called
        evaluate_run(run_dir, n=150, device="cpu", phi=phi, write=False, two_sample=False, on_two_sample=print)


def test_conditional_generators_are_sampled_with_labels(tmp_path):
    torch.manual_seed(0)
    G = ConditionalGenerator(num_classes=2, z_dim=8, size=28, width=8)
    checkpoints.save_checkpoint(tmp_path / "cgan", {"G": G}, config=RUN_CONFIG)
    G_loaded, config = load_generator(tmp_path / "cgan", device="cpu")
    y = torch.tensor([0, 1, 1, 0, 1])
    x = sample_generator(G_loaded, 5, labels=y, seed=3, batch_size=2)
    assert x.shape == (5, 1, 28, 28) and config["data"] == "pneumoniamnist"
    assert torch.allclose(x, sample_generator(G_loaded, 5, labels=y, seed=3), atol=1e-5)  # batch size: same z
    with torch.no_grad():
        z = torch.randn(5, 8, generator=torch.Generator().manual_seed(3))
        assert torch.allclose(x, G_loaded(z, y), atol=1e-6)


def test_runs_that_cannot_be_evaluated_say_why(tmp_path):
    checkpoints.save_checkpoint(tmp_path / "noG", {"D": DCGANGenerator(z_dim=8, width=8)}, config=RUN_CONFIG)
    with pytest.raises(checkpoints.CheckpointError, match="no generator"):
        load_generator(tmp_path / "noG")
    checkpoints.save_checkpoint(tmp_path / "tensor", {"G": DCGANGenerator(z_dim=8, width=8)},
                                config={"data": "tensor", "size": 28})
    with pytest.raises(checkpoints.CheckpointError, match="which dataset"):
        load_generator(tmp_path / "tensor")


def test_the_generator_scored_is_the_one_the_run_samples_from(tmp_path):
    from gan_lab.train.gan import GANConfig, train_gan

    data = load("phantoms", split="train", size=28, n=64)
    tiny = dict(width=4, z_dim=8, batch_size=8, num_steps=3, log_every=1, checkpoint_every=3)
    run = train_gan(data, GANConfig(**tiny), device="cpu", checkpoint_dir=tmp_path / "avg", progress=False)
    G, meta = load_generator(tmp_path / "avg")
    assert meta["generator"] == "G_ema" and torch.equal(sample_generator(G, 4), run.sample(4))
    train_gan(data, GANConfig(**tiny, ema_decay=0), device="cpu", checkpoint_dir=tmp_path / "raw", progress=False)
    assert load_generator(tmp_path / "raw")[1]["generator"] == "G"
