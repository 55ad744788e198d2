"""Viewers for image-to-image translation: a row of named panels, a sample slider, a model toggle.

:func:`panel_viewer` is the general tool: each panel is a tensor of images
(indexed by the slider) or a function of the sample index, the selected
model and the panels drawn before it, so the same viewer shows pix2pix's
input | output | target | difference and CycleGAN's x | G(x) | F(G(x)) | y::

    panels = [("x", mr), ("G(x)", lambda i, m, shown: m.G_XY(shown["x"])),
              ("F(G(x))", lambda i, m, shown: m.G_YX(shown["G(x)"])), ("y (true)", ct)]
    panel_viewer(panels, models={"CycleGAN": run})

:func:`translation_viewer` builds the pix2pix panels and a readout of the
shown sample's PSNR, SSIM and MAE. Redraws encode PNGs with
:func:`gan_lab.viz.png_bytes` (a few ms), so the slider stays responsive.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..metrics.image import mae_per_image, psnr_per_image, ssim_per_image
from ..viz import png_bytes, to_uint8
from .picture import PicturedVBox

#: a panel's images: a tensor (N, C, H, W) in [-1, 1], or fn(index, model, shown) → (1, C, H, W) or (C, H, W).
PanelSource = torch.Tensor | Callable


def as_translator(model) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function x (B, C, H, W) ↦ output on the CPU, from a module, a run with ``.translate`` or a callable.

    Modules run in eval mode without gradients on their own device and are
    put back into the mode they were in.
    """
    if hasattr(model, "translate"):
        return model.translate
    if isinstance(model, nn.Module):
        def translate(x: torch.Tensor) -> torch.Tensor:
            device = next(model.parameters()).device
            was_training = model.training
            model.eval()
            with torch.inference_mode():
                out = model(x.to(device)).cpu()
            model.train(was_training)
            return out
        return translate
    if callable(model):
        return model
    raise TypeError(f"A model must be an nn.Module, a run with .translate(x) or a callable x -> y; "
                    f"got {type(model).__name__}.")


def _draw(source: PanelSource, i: int, model, shown: dict[str, torch.Tensor]) -> torch.Tensor:
    image = source[i:i + 1] if torch.is_tensor(source) else source(i, model, shown)
    image = image.detach().float().cpu()
    return image[None] if image.dim() == 3 else image  # (1, C, H, W)


def panel_viewer(panels: list[tuple[str, PanelSource]], models: dict | None = None, num_samples: int | None = None,
                 scale: int = 4, readout: Callable | None = None):
    """A widget showing one row of named panels for the sample a slider picks, under a chosen model.

    Args:
        panels: ``(name, source)`` pairs, drawn left to right. A source is a tensor
            (N, C, H, W) in [-1, 1] (row i is shown for sample i) or a function
            ``fn(i, model, shown)`` returning (1, C, H, W) or (C, H, W), where ``shown``
            maps the names of the panels left of it to their (1, C, H, W) images.
        models: name → model; the toggle passes the selected one to the functions
            (None: no toggle, functions get ``None``).
        num_samples: slider length (default: the length of the first tensor panel).
        scale: pixel enlargement of each panel.
        readout: optional ``fn(i, model, shown) -> str`` (HTML) shown under the panels.

    Returns:
        An ``ipywidgets.VBox`` with attributes ``index`` (the slider), ``model`` (the toggle,
        None without models), ``images`` (panel name → ``ipywidgets.Image``) and ``readout``.
    """
    import ipywidgets as widgets

    if not panels:
        raise ValueError("Give at least one panel, e.g. [('input', x), ('target', y)].")
    tensors = [s for _, s in panels if torch.is_tensor(s)]
    n = num_samples if num_samples is not None else (tensors[0].shape[0] if tensors else None)
    if not n:
        raise ValueError("Pass num_samples when no panel is a tensor (N, C, H, W) to count the samples from.")
    if any(t.dim() != 4 or t.shape[0] < n for t in tensors):
        raise ValueError(f"Every tensor panel must be (N, C, H, W) with N ≥ {n}; got "
                         f"{[tuple(t.shape) for t in tensors]}.")
    models = dict(models) if models else {}
    index = widgets.IntSlider(0, min=0, max=n - 1, description="sample", continuous_update=True)
    toggle = widgets.ToggleButtons(options=list(models), description="model") if models else None
    images = {name: widgets.Image(format="png") for name, _ in panels}
    text = widgets.HTML()

    def redraw(_=None):
        i, model = index.value, models[toggle.value] if toggle is not None else None
        shown: dict[str, torch.Tensor] = {}
        for name, source in panels:
            shown[name] = _draw(source, i, model, shown)
            images[name].value = png_bytes(to_uint8(shown[name])[0], scale)
        text.value = f"sample {i + 1}/{n}" + (f" · {readout(i, model, shown)}" if readout else "")

    index.observe(redraw, names="value")
    controls = [index]
    if toggle is not None:
        toggle.observe(redraw, names="value")
        controls.append(toggle)
    redraw()
    row = widgets.HBox([widgets.VBox([widgets.HTML(f"<b>{name}</b>"), images[name]]) for name, _ in panels])
    box = PicturedVBox([widgets.HBox(controls), row, text])
    box.index, box.model, box.images, box.readout = index, toggle, images, text
    return box


def translation_viewer(inputs: torch.Tensor, targets: torch.Tensor, models: dict, diff_gain: float = 4.0,
                       scale: int = 4):
    """input | output | target | |output − target| for test pairs, with a model toggle and per-sample metrics.

    Args:
        inputs, targets: paired test images (N, C, H, W) in [-1, 1].
        models: name → model (an nn.Module, a run with ``.translate`` or a callable x ↦ y),
            e.g. ``{"L1 only": l1_run, "L1 + adversarial": gan_run}``.
        diff_gain: the difference panel shows gain·|output − target| (white = 2/gain or more),
            since errors of a few percent would be invisible at gain 1.
        scale: pixel enlargement of each panel.

    Returns:
        The :func:`panel_viewer` VBox (attributes ``index``, ``model``, ``images``, ``readout``).

    Example:
        >>> translation_viewer(mr_test, ct_test, {"L1": l1_run, "pix2pix": gan_run})  # doctest: +SKIP
    """
    if inputs.dim() != 4 or targets.dim() != 4 or inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs and targets must be paired images (N, C, H, W); got {tuple(inputs.shape)} "
                         f"and {tuple(targets.shape)}.")
    if not models:
        raise ValueError("Give at least one model, e.g. {'pix2pix': run}.")
    translators = {name: as_translator(m) for name, m in models.items()}
    diff_name = f"|output − target| ×{diff_gain:g}"
    panels = [
        ("input", inputs),
        ("output", lambda i, translate, shown: translate(shown["input"])),
        ("target", targets),
        (diff_name, lambda i, _, shown: (diff_gain * (shown["output"] - shown["target"]).abs()).clamp(0, 2) - 1),
    ]

    def metrics(i, _, shown) -> str:
        out, y = shown["output"], shown["target"]
        return (f"PSNR {psnr_per_image(out, y).item():.1f} dB · SSIM {ssim_per_image(out, y).item():.3f} · "
                f"MAE {mae_per_image(out, y).item():.3f}")

    return panel_viewer(panels, translators, scale=scale, readout=metrics)
