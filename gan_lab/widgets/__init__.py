"""ipywidgets built from :mod:`gan_lab.viz`; every builder returns a widget, so tests need no browser.

Redraws that follow a slider encode PNGs with ``viz.png_bytes`` (a few ms)
instead of re-plotting matplotlib figures.

* :class:`TrainingMonitor` — live losses, D(x) vs D(G(z)), fixed-z samples, Start/Stop.
* :class:`LatentExplorer` — principal / raw latent directions, seeds, slerp, nearest training images.
* :func:`real_or_fake_widget` — a visual Turing test: real or generated, one image at a time, then the accuracy.

Other modules here hold the widgets of later notebooks (``conditional``, ``translation``, ...).
"""

from .latent import LatentExplorer, principal_directions
from .monitor import TrainingMonitor, curves_png
from .reader_study import RealOrFakeWidget, real_or_fake_widget
from .theory import optimal_discriminator_widget, saturation_widget
from .toylab import ToyLabWidget, toy_lab_widget

__all__ = ["LatentExplorer", "RealOrFakeWidget", "ToyLabWidget", "TrainingMonitor", "curves_png",
           "optimal_discriminator_widget", "principal_directions", "real_or_fake_widget", "saturation_widget",
           "toy_lab_widget"]
