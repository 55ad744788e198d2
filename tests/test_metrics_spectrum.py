"""Radial power spectra and frequency bands: a pattern's power lands on its ring, the bands add up to the image."""

import math

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from gan_lab.metrics import frequency_bands, low_pass, radial_power_spectrum, two_sample_test
from gan_lab.metrics.spectrum import frequency_radius
from gan_lab.train.classifier import ClassifierConfig
from gan_lab.viz import plot_power_spectra

FAST = ClassifierConfig(num_steps=60, batch_size=64)


def _stripes(k: int, size: int = 28, vertical: bool = False) -> torch.Tensor:
    """One image of k cosine periods per side, along x (or y)."""
    wave = torch.cos(torch.arange(size, dtype=torch.float32) * 2 * math.pi * k / size)
    image = wave[:, None].expand(size, size) if vertical else wave[None, :].expand(size, size)
    return image.reshape(1, 1, size, size)


def _checkerboard(size: int = 28) -> torch.Tensor:
    return ((torch.arange(size)[:, None] + torch.arange(size)[None, :]) % 2 * 2 - 1).float().reshape(1, 1, size, size)


@pytest.mark.parametrize("k", [1, 3, 7, 13])
def test_stripes_put_all_their_power_on_their_ring(k):
    spectrum = radial_power_spectrum(torch.cat([_stripes(k), _stripes(k, vertical=True)]))
    assert int(spectrum.argmax()) == k
    assert spectrum[k] > 1000 * spectrum[torch.arange(len(spectrum)) != k].max()


def test_a_checkerboard_lives_in_the_corner_of_the_spectrum():
    spectrum = radial_power_spectrum(_checkerboard())
    assert len(spectrum) == round(14 * math.sqrt(2)) + 1 == 21
    assert int(spectrum.argmax()) == 20  # (14, 14): the Nyquist frequency along both axes


def test_the_rings_share_out_the_variance():
    images = torch.randn(6, 3, 16, 16)
    counts = torch.bincount(frequency_radius(16, 16).flatten()).float()
    variance = (images - images.mean(dim=(2, 3), keepdim=True)).pow(2).mean()
    assert torch.isclose((radial_power_spectrum(images) * counts).sum(), variance, rtol=1e-4)


def test_brightness_is_not_power():
    images = torch.rand(4, 1, 28, 28)
    assert torch.allclose(radial_power_spectrum(images), radial_power_spectrum(images + 0.3), atol=1e-7)
    assert radial_power_spectrum(torch.full((2, 1, 28, 28), 0.7)).abs().max() < 1e-10


def test_the_bands_add_up_and_split_fine_from_coarse():
    images = torch.rand(5, 1, 28, 28) * 2 - 1
    low, high = frequency_bands(images, sigma=1.0)
    assert torch.allclose(low + high, images, atol=1e-6)
    low, high = frequency_bands(_checkerboard())
    assert high.pow(2).mean() > 0.95 * _checkerboard().pow(2).mean()  # a 2-px pattern is all high band
    low, high = frequency_bands(_stripes(1))
    assert high.pow(2).mean() < 0.01 * _stripes(1).pow(2).mean()  # one period per image: all low band


def test_a_faint_checkerboard_is_found_in_the_high_band_only():
    gen = torch.Generator().manual_seed(0)
    real = frequency_bands(torch.rand(400, 1, 16, 16, generator=gen) * 2 - 1, sigma=1.5)[0]  # smooth images
    fake = torch.cat([real[200:], real[:200]]) + 0.05 * _checkerboard(16)  # other images, the same ones stamped
    real_low, real_high = frequency_bands(real)
    fake_low, fake_high = frequency_bands(fake)
    assert two_sample_test(real_high, fake_high, cfg=FAST).accuracy > 0.9
    assert two_sample_test(real_low, fake_low, cfg=FAST).accuracy < 0.7


@pytest.mark.parametrize("images, sigma, message", [
    (torch.zeros(1, 28, 28), 1.0, r"\(N, C, H, W\)"),
    (torch.zeros(0, 1, 28, 28), 1.0, "non-empty"),
    (torch.zeros(2, 1, 28, 28), 0.0, "must be > 0"),
    (torch.zeros(2, 1, 8, 8), 2.0, "smaller sigma"),
])
def test_bad_input_is_explained(images, sigma, message):
    with pytest.raises(ValueError, match=message):
        frequency_bands(images, sigma)
    if sigma == 1.0:
        with pytest.raises(ValueError, match=message):
            radial_power_spectrum(images)


def test_the_picture_shows_each_set_and_its_ratio_to_the_reference():
    matplotlib.use("Agg")
    real, fake = torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28) + 0.1 * _checkerboard()
    spectra = {"real": radial_power_spectrum(real), "fake": radial_power_spectrum(fake)}
    fig = plot_power_spectra(spectra, size=28)
    power, ratio = fig.axes
    assert [line.get_label() for line in power.get_lines() if not line.get_label().startswith("_")] == ["real", "fake"]
    (fake_ratio,) = [line for line in ratio.get_lines() if line.get_label() == "fake / real"]
    assert fake_ratio.get_ydata()[-1] > 10  # the checkerboard's ring
    (fake_power,) = [line for line in power.get_lines() if line.get_label() == "fake"]
    assert fake_ratio.get_color() == fake_power.get_color()  # one colour per set in both panels
    plt.close(fig)
    with pytest.raises(ValueError, match="reference"):
        plot_power_spectra({"real": spectra["real"]}, size=28)


def test_flat_images_have_no_high_band_even_at_the_border():
    flat = torch.full((2, 1, 28, 28), 0.4)
    low, high = frequency_bands(flat, sigma=2.0)
    assert high.abs().max() < 1e-6  # zero padding would darken the border and leave a frame in the high band
    ramp = torch.linspace(-1, 1, 28).expand(1, 1, 28, 28)
    assert frequency_bands(ramp)[1][..., 3:-3].abs().max() < 1e-5  # a blur keeps a straight ramp inside the frame


def test_low_pass_is_the_low_band():
    images = torch.rand(3, 1, 28, 28)
    assert torch.equal(low_pass(images, 1.5), frequency_bands(images, 1.5)[0])


def test_something_other_than_images_is_explained():
    with pytest.raises(ValueError, match="got list"):
        radial_power_spectrum([[0.0]])
