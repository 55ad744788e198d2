"""A segmentation viewer: image | prediction | ground truth | errors, one row per model.

A slider walks over test images and a second one moves the threshold applied
to the predicted probabilities; the readout gives each model's Dice and IoU on
the image shown. Redraws go through :func:`gan_lab.viz.png_bytes` (a few ms).
"""

from __future__ import annotations

import numpy as np
import torch

from ..metrics.image import dice_per_image, iou_per_image
from ..viz import png_bytes, to_uint8
from .picture import PicturedVBox

PRED_COLOUR = (255, 200, 0)  # amber
TRUE_COLOUR = (0, 200, 255)  # cyan
TP, FP, FN = (60, 200, 60), (230, 40, 40), (50, 90, 255)  # green, red, blue
ALPHA = 0.45


def _rgb(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] → uint8 (H, W, 3), contrast-stretched to the tile's own range (for display only).

    Fluorescence tiles often use a tenth of the intensity range; stretching makes faint nuclei visible.
    """
    image = image.detach().float().cpu()
    low, high = image.min(), image.max()
    pixels = to_uint8((image[None] - low) / (high - low).clamp(min=1e-6) * 2 - 1)[0]
    return np.repeat(pixels[..., None], 3, axis=-1) if pixels.ndim == 2 else pixels


def _tint(rgb: np.ndarray, where: np.ndarray, colour) -> np.ndarray:
    out = rgb.astype(np.float32)
    out[where] = (1 - ALPHA) * out[where] + ALPHA * np.asarray(colour, np.float32)
    return out.round().astype(np.uint8)


def _errors(rgb: np.ndarray, pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """True positives green, false positives red, false negatives blue, on the dimmed image."""
    out = (rgb * 0.5).astype(np.uint8)
    for where, colour in ((pred & true, TP), (pred & ~true, FP), (~pred & true, FN)):
        out[where] = colour
    return out


def render_segmentation(image: torch.Tensor, probs: dict[str, torch.Tensor], mask: torch.Tensor,
                        threshold: float = 0.5, pad: int = 2) -> np.ndarray:
    """One uint8 (H', W', 3) canvas: per model a row image | prediction | ground truth | errors.

    Args:
        image: (C, H, W) in [-1, 1].
        probs: model name → probabilities (1, H, W) in [0, 1].
        mask: the true mask (1, H, W) in {0, 1}.
        threshold: prediction = prob > threshold.
    """
    rgb = _rgb(image)
    true = mask[0].cpu().numpy() > 0.5
    rows = []
    for prob in probs.values():
        pred = prob[0].cpu().numpy() > threshold
        rows.append([rgb, _tint(rgb, pred, PRED_COLOUR), _tint(rgb, true, TRUE_COLOUR), _errors(rgb, pred, true)])
    h, w = rgb.shape[:2]
    canvas = np.full((len(rows) * (h + pad) + pad, 4 * (w + pad) + pad, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            canvas[top:top + h, left:left + w] = panel
    return canvas


def _as_dict(probs) -> dict[str, torch.Tensor]:
    return dict(probs) if isinstance(probs, dict) else {"model": probs}


def segmentation_viewer(images: torch.Tensor, probs, masks: torch.Tensor, threshold: float = 0.5,
                        scale: int = 3, titles: list[str] | None = None):
    """A widget to browse predictions on test images.

    Args:
        images: (N, C, H, W) in [-1, 1].
        probs: (N, 1, H, W) probabilities in [0, 1], or a dict model name → such a tensor.
        masks: (N, 1, H, W) true masks in {0, 1}.
        threshold: the threshold slider's start value.
        scale: pixel enlargement of the displayed canvas.
        titles: optional name of each image (e.g. its source image id) for the readout.

    Returns:
        An ``ipywidgets.VBox`` with attributes ``index`` and ``threshold`` (the sliders),
        ``image`` (the picture) and ``readout`` (the HTML with per-image Dice and IoU).

    Example:
        >>> segmentation_viewer(test.images, {"SegAN": p1, "U-Net": p2}, test.masks)  # doctest: +SKIP
    """
    import ipywidgets as widgets

    probs = _as_dict(probs)
    n = images.shape[0]
    for name, p in probs.items():
        if p.shape != masks.shape or masks.shape != (n, 1, *images.shape[-2:]):
            raise ValueError(f"images {tuple(images.shape)}, probabilities {name!r} {tuple(p.shape)} and masks "
                             f"{tuple(masks.shape)} must describe the same N images of H×W pixels.")
    index = widgets.IntSlider(0, min=0, max=n - 1, description="image", continuous_update=True)
    thresh = widgets.FloatSlider(threshold, min=0.05, max=0.95, step=0.05, description="threshold")
    picture = widgets.Image(format="png")
    readout = widgets.HTML()
    legend = widgets.HTML("<small>columns: image (contrast-stretched) | prediction (amber) | ground truth (cyan) | "
                          "errors: <span style='color:#3cc83c'>TP</span> <span style='color:#e62828'>FP</span> "
                          "<span style='color:#325aff'>FN</span>; one row per model</small>")

    def redraw(_=None):
        i, t = index.value, thresh.value
        one = {name: p[i] for name, p in probs.items()}
        picture.value = png_bytes(render_segmentation(images[i], one, masks[i], t), scale)
        true = masks[i:i + 1].float().cpu()
        scores = []
        for name, p in one.items():
            pred = (p[None].cpu() > t).float()
            scores.append(f"<b>{name}</b>: Dice {dice_per_image(pred, true).item():.3f}, "
                          f"IoU {iou_per_image(pred, true).item():.3f}")
        title = f" ({titles[i]})" if titles is not None else ""
        readout.value = f"image {i + 1}/{n}{title} · threshold {t:.2f}<br>" + " · ".join(scores)

    index.observe(redraw, names="value")
    thresh.observe(redraw, names="value")
    redraw()
    box = PicturedVBox([widgets.HBox([index, thresh]), readout, picture, legend])
    box.index, box.threshold, box.image, box.readout = index, thresh, picture, readout
    return box
