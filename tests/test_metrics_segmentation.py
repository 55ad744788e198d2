"""Boundary F-score and per-object Dice on masks whose answers can be worked out by hand."""

import math

import pytest
import torch

from gan_lab.metrics.segmentation import boundary, boundary_f_score_per_image, dice_by_object_size, object_dice


def _square(size, top, left, side):
    m = torch.zeros(1, 1, size, size)
    m[..., top:top + side, left:left + side] = 1
    return m


def test_boundary_is_the_inner_contour():
    b = boundary(_square(8, 2, 2, 4))
    assert b.sum().item() == 12  # a 4×4 square has 16 pixels, 4 of them interior
    assert b[0, 0, 3:5, 3:5].sum().item() == 0


def test_boundary_f_score_known_cases():
    true = _square(16, 4, 4, 6)
    assert boundary_f_score_per_image(true, true).item() == pytest.approx(1.0)
    shifted = _square(16, 4, 5, 6)  # one pixel to the right: within tolerance 1, beyond tolerance 0
    assert boundary_f_score_per_image(shifted, true, tolerance=1).item() == pytest.approx(1.0)
    assert boundary_f_score_per_image(shifted, true, tolerance=0).item() < 0.8
    far = _square(16, 12, 12, 3)
    assert boundary_f_score_per_image(far, true, tolerance=1).item() == pytest.approx(0.0)
    empty = torch.zeros_like(true)
    assert boundary_f_score_per_image(empty, empty).item() == 1.0
    assert boundary_f_score_per_image(empty, true).item() == 0.0


def test_object_dice_scores_each_true_object():
    true = _square(16, 1, 1, 6) + _square(16, 10, 10, 2)  # a 36 px and a 4 px object
    pred = _square(16, 1, 1, 6)  # finds the large one exactly and misses the small one
    areas, dices = object_dice(pred, true)
    assert sorted(zip(areas.tolist(), dices.tolist())) == [(4, 0.0), (36, 1.0)]
    bins = dice_by_object_size(pred, true, edges=(0, 10, math.inf))
    assert bins == {"<10 px": (0.0, 1), "≥10 px": (1.0, 1)}


def test_object_dice_penalises_a_prediction_that_merges_objects():
    true = _square(12, 2, 2, 3) + _square(12, 2, 6, 3)  # two 9 px objects, one column apart
    merged = torch.zeros_like(true)
    merged[..., 2:5, 2:9] = 1  # one 3×7 blob covering both and the gap, 21 px
    _, dices = object_dice(merged, true)
    assert dices.tolist() == pytest.approx([2 * 9 / (21 + 9)] * 2)


def test_non_binary_masks_are_rejected():
    with pytest.raises(ValueError, match="only 0 and 1"):
        boundary_f_score_per_image(torch.full((1, 1, 4, 4), 0.5), torch.zeros(1, 1, 4, 4))
