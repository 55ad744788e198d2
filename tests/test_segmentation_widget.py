"""The segmentation viewer: sliders redraw the picture and the Dice readout."""

import pytest
import torch

from gan_lab.widgets.segmentation import render_segmentation, segmentation_viewer


def _toy(n=3, size=16):
    """Square nuclei of different sizes; probabilities that ramp across the square."""
    images = torch.full((n, 1, size, size), -1.0)
    masks = torch.zeros(n, 1, size, size)
    probs = torch.zeros(n, 1, size, size)
    for i in range(n):
        side = 4 + 2 * i
        masks[i, :, 2:2 + side, 2:2 + side] = 1
        images[i, :, 2:2 + side, 2:2 + side] = 0.8
        probs[i, :, 2:2 + side, 2:2 + side] = torch.linspace(0.1, 0.9, side)  # columns of rising confidence
    return images, probs, masks


def _dice(readout: str, name: str) -> float:
    return float(readout.split(f"<b>{name}</b>: Dice ")[1].split(",")[0])


def test_index_slider_changes_picture_and_dice():
    images, probs, masks = _toy()
    probs[1] = masks[1]  # image 1 is segmented perfectly
    viewer = segmentation_viewer(images, {"S": probs}, masks)
    first_png, first_dice = viewer.image.value, _dice(viewer.readout.value, "S")
    viewer.index.value = 1
    assert viewer.image.value != first_png
    assert _dice(viewer.readout.value, "S") == pytest.approx(1.0)
    assert first_dice < 1.0
    assert "image 2/3" in viewer.readout.value


def test_threshold_slider_changes_picture_and_dice():
    images, probs, masks = _toy()
    viewer = segmentation_viewer(images, probs, masks, threshold=0.5)
    png, dice_mid = viewer.image.value, _dice(viewer.readout.value, "model")
    viewer.threshold.value = 0.05  # every pixel of the square passes: perfect
    assert viewer.image.value != png
    assert _dice(viewer.readout.value, "model") == pytest.approx(1.0)
    viewer.threshold.value = 0.95  # nothing passes
    assert _dice(viewer.readout.value, "model") == pytest.approx(0.0)
    assert 0.0 < dice_mid < 1.0


def test_render_rows_per_model_and_error_colours():
    images, probs, masks = _toy(n=1, size=8)
    canvas = render_segmentation(images[0], {"a": probs[0], "b": masks[0]}, masks[0], threshold=0.5, pad=2)
    assert canvas.shape == (2 * (8 + 2) + 2, 4 * (8 + 2) + 2, 3)
    errors_b = canvas[12:20, 32:40]  # model b (perfect) has no red false positives or blue false negatives
    assert not ((errors_b == (230, 40, 40)).all(-1) | (errors_b == (50, 90, 255)).all(-1)).any()
    errors_a = canvas[2:10, 32:40]  # model a misses the low-confidence columns: blue pixels present
    assert (errors_a == (50, 90, 255)).all(-1).any()


def test_mismatched_shapes_are_rejected():
    images, probs, masks = _toy()
    with pytest.raises(ValueError, match="same N images"):
        segmentation_viewer(images, probs[:2], masks)
