"""DiffAugment: each transform does what its name says, per image, differentiably; the GAN trainer uses it for D."""

import pytest
import torch

from gan_lab.models.diffaugment import (
    AdaptiveProbability,
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
    monkeypatch.setattr(da, "diff_augment", lambda x, policy, p=1.0: seen.append(policy) or original(x, policy, p))
    config = GANConfig(arch="mlp", width=4, z_dim=8, batch_size=8, num_steps=2, log_every=1)
    train_gan(data, config, device="cpu", progress=False)
    assert seen == []
    train_gan(data, GANConfig(**{**config.__dict__, "augment": "translation,cutout"}), device="cpu", progress=False)
    assert seen == ["translation,cutout"] * 6  # per step: D on real and on fake, then G's update through D
    with pytest.raises(ValueError, match="Unknown augmentation"):
        GANConfig(augment="flip")


def test_ada_applies_each_transform_to_a_fraction_p_of_the_images():
    x = torch.zeros(2000, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    assert torch.equal(diff_augment(x, "cutout", p=0.0), x)  # p = 0: D sees the images as they are
    changed = (diff_augment(x, "translation", p=0.3) != x).flatten(1).any(1).float().mean()
    always = (diff_augment(x, "translation") != x).flatten(1).any(1).float().mean()  # a zero shift changes nothing
    assert abs(changed / always - 0.3) < 0.05


def test_ada_moves_p_by_the_sign_of_r_t_minus_the_target_every_interval():
    ada = AdaptiveProbability(target=0.6, images_to_one=1000, interval=4)
    assert [ada.update(0.9, batch_size=25) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]  # D too sure: p up by 4·25/1000
    assert [ada.update(0.2, batch_size=25) for _ in range(4)][-1] == pytest.approx(0.0)  # not sure enough: down
    for _ in range(40):
        ada.update(-0.5, batch_size=25)
    assert ada.p == 0.0  # clipped at 0
    for _ in range(400):
        ada.update(1.0, batch_size=25)
    assert ada.p == 1.0  # and at 1


def test_the_gan_trainer_adapts_p_and_a_resumed_run_keeps_it(tmp_path):
    data = torch.rand(16, 1, 28, 28) * 2 - 1  # 16 images: D soon tells them from the fakes, so p rises
    config = GANConfig(arch="mlp", width=8, z_dim=8, batch_size=8, num_steps=40, log_every=1, lr_D=1e-3,
                       augment="translation,cutout", ada_target=0.6, ada_images=400, checkpoint_every=20)
    run = train_gan(data, config, device="cpu", progress=False, checkpoint_dir=tmp_path)
    p, r = run.history["p_augment"], run.history["r_t"]
    assert p[0] == 0.0 and max(p) > 0 and all(0 <= v <= 1 for v in p)
    assert max(r) > 0.6  # p rose only because D was surer of the real images than the target
    assert all(b - a == pytest.approx(0.08) or b == a or b - a == pytest.approx(-0.08) or b in (0.0, 1.0)
               for a, b in zip(p, p[1:]))  # steps of 4·8/400, or none, or a clip
    longer = GANConfig(**{**config.__dict__, "num_steps": 44})
    resumed = train_gan(data, longer, device="cpu", progress=False, checkpoint_dir=tmp_path, resume=True)
    assert abs(resumed.history["p_augment"][40] - p[-1]) <= 0.08 + 1e-6  # it went on from where it stopped
    for bad, message in [(dict(ada_target=0.6), "set augment too"), (dict(augment="cutout", ada_target=1.0),
                                                                      "ada_target must be"),
                         (dict(augment="cutout", ada_target=0.6, ada_images=0), "ada_images"),
                         (dict(augment="cutout", ada_target=0.6, loss="least_squares"), "logistic loss")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)
