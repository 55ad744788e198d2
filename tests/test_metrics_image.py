"""Task metrics: known values on hand-made images and masks, and the orderings they must respect."""

import math

import pytest
import torch
import torch.nn.functional as F

from gan_lab.metrics import image as m


def _smooth_images(n=4, size=28, seed=0):
    """Images with structure at several scales (so blur and noise change them), in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size // 4, size // 4, generator=g)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    x = x + 0.3 * torch.rand(n, 1, size, size, generator=g)
    return (x / x.amax(dim=(1, 2, 3), keepdim=True)) * 2 - 1


def _blur(x, k=5):
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


def test_psnr_matches_its_definition_and_is_infinite_for_identical_images():
    x = _smooth_images()
    y = (x + 0.1).clamp(-1, 1)
    mse = ((x - y) ** 2).flatten(1).mean(1)
    expected = 10 * torch.log10(2.0**2 / mse)
    assert torch.allclose(m.psnr_per_image(y, x), expected, atol=1e-4)
    assert math.isinf(m.psnr(x, x))
    assert m.psnr_per_image(y, x).shape == (4,)


def test_more_noise_means_lower_psnr_and_ssim_and_higher_mae():
    x = _smooth_images()
    noise = torch.randn_like(x, generator=torch.Generator().manual_seed(1))
    small, large = (x + 0.05 * noise).clamp(-1, 1), (x + 0.3 * noise).clamp(-1, 1)
    assert m.psnr(small, x) > m.psnr(large, x)
    assert m.ssim(small, x) > m.ssim(large, x)
    assert m.mae(small, x) < m.mae(large, x)
    assert m.ssim(x, x) == pytest.approx(1.0, abs=1e-5)


def test_mae_aggregate_and_per_image_agree():
    x, y = _smooth_images(seed=0), _smooth_images(seed=1)
    assert m.mae(x, y) == pytest.approx(m.mae_per_image(x, y).mean().item(), rel=1e-5)
    assert m.mae(x, -x) == pytest.approx(2 * x.abs().mean().item(), rel=1e-5)


def test_blur_lowers_sharpness_and_a_constant_image_has_none():
    x = _smooth_images()
    assert m.sharpness(_blur(x)) < 0.5 * m.sharpness(x)
    assert (m.sharpness_per_image(_blur(x)) < m.sharpness_per_image(x)).all()
    assert m.sharpness(torch.zeros(2, 3, 16, 16)) == 0.0


def test_dice_and_iou_on_hand_counted_masks():
    true = torch.zeros(2, 1, 8, 8)
    pred = torch.zeros(2, 1, 8, 8)
    true[0, :, :4] = 1  # 32 pixels
    pred[0, :, :2] = 1  # 16 pixels, all inside: |P∩T| = 16
    true[1, :, :4] = 1  # image 1: prediction misses completely
    assert m.dice_per_image(pred, true).tolist() == pytest.approx([2 * 16 / 48, 0.0])
    assert m.iou_per_image(pred, true).tolist() == pytest.approx([16 / 32, 0.0])
    assert m.dice(true, true) == 1.0 and m.iou(true, true) == 1.0


def test_two_empty_masks_agree_perfectly():
    empty = torch.zeros(3, 8, 8)
    assert m.dice_per_image(empty, empty).tolist() == [1.0, 1.0, 1.0]
    assert m.iou(empty, empty) == 1.0


def test_bad_inputs_raise_with_a_hint():
    x = _smooth_images()
    with pytest.raises(ValueError, match="same shape"):
        m.psnr(x, x[:, :, :20])
    with pytest.raises(ValueError, match="threshold"):
        m.dice(torch.rand(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="unsqueeze"):
        m.ssim(x[0], x[0])
