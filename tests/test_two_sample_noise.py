"""benchmarks/two_sample_noise.py: one generator judged with several seeds, as floats and rounded to 8 bits."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

from gan_lab.train.gan import GANConfig, train_gan


@pytest.fixture(scope="module")
def noise(load_script):
    return load_script("benchmarks/two_sample_noise.py")


def test_rounding_to_8_bits_lands_on_the_grid_of_stored_images(noise):
    x = torch.rand(4, 1, 8, 8) * 2.2 - 1.1  # a little outside [-1, 1] too, as a tanh never is but a float may be
    q = noise.to_8_bits(x)
    levels = (q + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4) and q.min() >= -1 and q.max() <= 1
    inside = x.abs() <= 1
    assert (q - x)[inside].abs().max() <= 1 / 255 + 1e-6  # at most half a grey level (of width 2/255) away
    assert torch.equal(noise.to_8_bits(q), q)


def test_one_run_judged_with_each_seed_as_floats_and_as_8_bits(noise, tmp_path, monkeypatch):
    images = torch.rand(24, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    train_gan(images, GANConfig(width=4, z_dim=8, batch_size=8, num_steps=3), device="cpu", progress=False,
              checkpoint_dir=tmp_path / "run")
    asked = []
    monkeypatch.setattr(noise, "load", lambda name, split, size: asked.append((split, size))
                        or SimpleNamespace(images=images[:16]))
    out = tmp_path / "noise.json"
    result = noise.main([str(tmp_path / "run"), str(tmp_path / "run"), "--seeds", "0", "1", "--out", str(out)])
    assert asked == [("test", 28)] * 2 and json.loads(out.read_text()) == result
    first, again = result["runs"]
    assert first == again  # the same run, fakes and judge seeds: the same verdicts
    assert first["steps"] == 3 and first["seeds"] == [0, 1] and first["n_real"] == 16
    for kind in ("float", "8-bit"):
        r = first[kind]
        assert len(r["accuracies"]) == 2 and all(0 <= a <= 1 for a in r["accuracies"])
        assert r["binomial_se"] == pytest.approx(math.sqrt(r["mean"] * (1 - r["mean"]) / 16), abs=1e-4)
    differences = [b - a for a, b in zip(first["float"]["accuracies"], first["8-bit"]["accuracies"])]
    assert first["differences_8bit_minus_float"] == pytest.approx(differences, abs=1e-4)
    summary = result["all_differences"]
    assert summary["n"] == 4 and summary["lower"] == 2 * sum(d < -1e-9 for d in differences)
    assert summary["mean"] == pytest.approx(sum(differences) / 2, abs=1e-4)
