"""DiffAugment: each transform does what its name says, per image, differentiably; the GAN trainer uses it for D."""

import pytest
import torch

from gan_lab.models.diffaugment import (
    AugmentedDiscriminator,
    brightness,
    contrast,
    cutout,
    diff_augment,
    saturation,
    translation,
)
from gan_lab.train.gan import GANConfig, train_gan


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_translation_shifts_each_image_by_its_own_whole_pixels_and_fills_with_zero():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one bright pixel
    moved = translation(x)
    where = [torch.nonzero(m[0]).tolist() for m in moved]
    assert all(len(w) == 1 for w in where)  # a shift, not a blur: the pixel is still one pixel
    shifts = {(r - 8, c - 8) for [[r, c]] in where}
    assert max(max(abs(a), abs(b)) for a, b in shifts) <= 2 and len(shifts) > 5  # up to 1/8 of 16 px, varied
    edge = translation(torch.ones(256, 1, 16, 16))
    assert (edge == 0).any() and set(edge.unique().tolist()) <= {0.0, 1.0}  # what moves in is zero


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_border():
    out = cutout(torch.ones(256, 1, 16, 16))
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 64 and zeros.min() >= 16  # 8×8 inside the image, at least a quarter of it at a corner
    assert out[0].std() > 0 and not torch.equal(out[0], out[1])


def test_colour_transforms_stay_in_their_ranges_and_saturation_leaves_grey_alone():
    x = torch.rand(128, 1, 8, 8) * 2 - 1
    assert ((brightness(x) - x).flatten(1).std(1) < 1e-6).all()  # one offset per image
    assert (brightness(x) - x).abs().max() <= 0.5
    assert torch.equal(saturation(x), x)
    factor = (contrast(x) - contrast(x).mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / x.std((1, 2, 3))
    assert factor.min() >= 0.5 - 1e-4 and factor.max() <= 1.5 + 1e-4
    rgb = torch.rand(16, 3, 8, 8)
    assert not torch.equal(saturation(rgb), rgb)


def test_the_augmentation_is_differentiable_and_D_keeps_its_parameters():
    x = torch.rand(4, 1, 28, 28, requires_grad=True)
    diff_augment(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # G's gradient reaches it through the transforms
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 1))
    wrapped = AugmentedDiscriminator(D, "translation")
    assert list(wrapped.parameters()) == list(D.parameters())
    with pytest.raises(ValueError, match="Unknown augmentation"):
        diff_augment(x, "colour")


def test_the_gan_trainer_shows_D_augmented_images_only_when_asked(monkeypatch):
    data = torch.rand(32, 1, 28, 28) * 2 - 1
    seen = []
    import gan_lab.models.diffaugment as da

    original = da.diff_augment
    monkeypatch.setattr(da, "diff_augment", lambda x, policy: seen.append(policy) or original(x, policy))
    config = GANConfig(arch="mlp", width=4, z_dim=8, batch_size=8, num_steps=2, log_every=1)
    train_gan(data, config, device="cpu", progress=False)
    assert seen == []
    train_gan(data, GANConfig(**{**config.__dict__, "augment": "translation,cutout"}), device="cpu", progress=False)
    assert seen == ["translation,cutout"] * 6  # per step: D on real and on fake, then G's update through D
    with pytest.raises(ValueError, match="Unknown augmentation"):
        GANConfig(augment="flip")
