"""Lesion contrast: inside-minus-ring means, NaN for empty masks, clear errors."""

import pytest
import torch

from gan_lab.metrics.lesion import lesion_contrast_per_image


def test_contrast_is_inside_mean_minus_ring_mean():
    x = torch.full((2, 1, 12, 12), -0.5)
    mask = torch.zeros(2, 1, 12, 12)
    mask[:, :, 4:7, 4:7] = 1
    x[0][mask[0] == 1] = 0.5  # a bright lesion: contrast +1
    x[1, :, 2:9, 2:9] = 0.25  # a lesion drawn just like its surroundings: contrast 0 (hidden)
    contrast = lesion_contrast_per_image(x, mask, ring=2)
    assert contrast.tolist() == pytest.approx([1.0, 0.0])


def test_ring_width_matters_and_empty_masks_give_nan():
    x = torch.zeros(2, 1, 12, 12)
    x[:, :, 5, 5] = 1.0
    x[:, :, 4:7, 4:7] += 0.5  # a halo one pixel wide around the lesion pixel
    mask = torch.zeros(2, 1, 12, 12)
    mask[0, :, 5, 5] = 1
    near, far = lesion_contrast_per_image(x, mask, ring=1)[0], lesion_contrast_per_image(x, mask, ring=3)[0]
    assert near.item() == pytest.approx(1.0) and far.item() > near.item()
    assert torch.isnan(lesion_contrast_per_image(x, mask)[1])


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="masks"):
        lesion_contrast_per_image(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8))
