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


def test_each_run_is_judged_with_each_seed_as_floats_and_as_8_bits(noise, tmp_path, monkeypatch):
    images = torch.rand(24, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    train_gan(images, GANConfig(width=4, z_dim=8, batch_size=8, num_steps=3), device="cpu", progress=False,
              checkpoint_dir=tmp_path / "run")
    asked = []
    monkeypatch.setattr(noise, "load", lambda name, split, size: asked.append((split, size))
                        or SimpleNamespace(images=images[:16]))
    verdicts = {(0, False): 0.75, (0, True): 0.70, (1, False): 0.60, (1, True): 0.65}  # rounding: −0.05, +0.05

    def judge(real, fake, seed):  # a stand-in judge that tells rounded fakes from floats
        assert len(real) == len(fake) == 16
        return verdicts[(seed, torch.equal(noise.to_8_bits(fake), fake))]
    monkeypatch.setattr(noise, "judge", judge)
    out = tmp_path / "noise.json"
    result = noise.main([str(tmp_path / "run"), str(tmp_path / "run"), "--seeds", "0", "1", "--out", str(out)])
    assert asked == [("test", 28)] * 2 and json.loads(out.read_text()) == result
    first, again = result["runs"]
    assert first == again and first["steps"] == 3 and first["seeds"] == [0, 1] and first["n_real"] == 16
    assert first["float"]["accuracies"] == [0.75, 0.60] and first["8-bit"]["accuracies"] == [0.70, 0.65]
    assert first["float"]["mean"] == 0.675 and first["float"]["sd"] == pytest.approx(0.1061, abs=1e-4)
    assert first["float"]["binomial_se"] == pytest.approx(math.sqrt(0.675 * 0.325 / 16), abs=1e-4)
    assert first["differences_8bit_minus_float"] == pytest.approx([-0.05, 0.05])
    assert result["all_differences"] == {"n": 4, "mean": 0.0, "lower": 2, "higher": 2}
