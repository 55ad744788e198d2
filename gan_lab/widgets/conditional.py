"""The class grid: the same latent codes z rendered under every class, one row per class.

Each column keeps z fixed and changes only y, so whatever differs down a
column is what the generator learned the label to mean; whatever stays the
same (pose, size, brightness) is carried by z. A slider draws new z.
"""

from __future__ import annotations

import torch

from ..viz import image_grid, png_bytes
from .picture import PicturedVBox


def class_rows(run, n: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    """class name → ``run.sample(n, k, seed)`` (n, C, H, W): the same n codes z under each class.

    Args:
        run: a class-conditional run (``CGANRun``): ``run.sample(n, y, seed)`` and ``run.class_names``.
        n: images per class (columns).
        seed: seed of z, shared by all classes.
    """
    return {name: run.sample(n, k, seed=seed) for k, name in enumerate(run.class_names)}


def class_grid(run, n: int = 8, seed: int = 0, scale: int = 3):
    """A widget: one row per class, the same z in each column; the slider draws new codes.

    Args:
        run: a class-conditional run (``run.sample(n, y, seed)``, ``run.class_names``).
        n: columns (codes z) per row.
        seed: the first seed of z.
        scale: pixel enlargement.

    Returns:
        An ``ipywidgets.VBox`` with attributes ``seed`` (the slider) and ``rows`` (class name →
        ``ipywidgets.Image``).

    Example:
        >>> class_grid(run, n=8)  # doctest: +SKIP
    """
    import ipywidgets as widgets

    if not getattr(run, "class_names", None):
        raise TypeError(f"class_grid needs a class-conditional run with .sample(n, y, seed) and .class_names; "
                        f"got {type(run).__name__}.")
    slider = widgets.IntSlider(seed, min=0, max=999, description="seed of z", continuous_update=False)
    rows = {name: widgets.Image(format="png") for name in run.class_names}

    def redraw(_=None):
        for name, images in class_rows(run, n, slider.value).items():
            rows[name].value = png_bytes(image_grid(images, nrow=n), scale)

    slider.observe(redraw, names="value")
    redraw()
    labelled = [widgets.HBox([widgets.HTML(f"<b>{name}</b>", layout=widgets.Layout(width="90px")), image])
                for name, image in rows.items()]
    box = PicturedVBox([slider, *labelled, widgets.HTML("<small>each column: one z under every class</small>")])
    box.seed, box.rows = slider, rows
    return box
