"""Pure plotting helpers: tensors or histories in, arrays, PNG bytes or figures out.

Widgets redraw through :func:`png_bytes` (PIL, a few ms) rather than
re-plotting matplotlib figures (a tenth of a second or more), so sliders stay responsive.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .metrics.memorisation import MemorisationReport
    from .metrics.two_sample import TwoSampleResult


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] → uint8 (N, H, W) for grey or (N, H, W, C) for RGB (MedMNIST's layout)."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    x = x.permute(0, 2, 3, 1).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one uint8 array (H', W') or (H', W', 3)."""
    tiles = to_uint8(images)
    n = tiles.shape[0]
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol_rows = math.ceil(n / nrow)
    h, w = tiles.shape[1:3]
    shape = (ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad) + tiles.shape[3:]
    canvas = np.full(shape, 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = tiles[i]
    return canvas


def png_bytes(array: np.ndarray, scale: int = 1) -> bytes:
    """Encode a uint8 array (H, W) or (H, W, 3) as PNG, enlarged ``scale``× with crisp pixels."""
    from PIL import Image

    img = Image.fromarray(array)
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)  # speed over size: this is on the slider path
    return buf.getvalue()


def show_images(images: torch.Tensor, nrow: int | None = None, title: str | None = None, ax=None, scale: float = 1.0):
    """Plot a grid of images with matplotlib; returns the axes."""
    import matplotlib.pyplot as plt

    grid = image_grid(images, nrow)
    if ax is None:
        side = scale * min(8.0, max(2.5, grid.shape[1] / 40))
        _, ax = plt.subplots(figsize=(side, side * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: dict, keys: list[str] | None = None, ax=None, title: str | None = None):
    """Plot history curves (``history["step"]`` on x) on one axes; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    keys = keys or [k for k in history if k not in ("step", "interrupted")]
    for k in keys:
        if k in history and len(history[k]) == len(history["step"]):
            ax.plot(history["step"], history[k], label=k)
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, path) -> None:
    """Save a matplotlib figure as PNG (tight, 120 dpi) and close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_memorisation(report: MemorisationReport, fake: torch.Tensor, train: torch.Tensor, num_pairs: int = 8):
    """Histogram of both distance distributions and a gallery of the closest fake–training pairs.

    Returns:
        The matplotlib figure: left, d_fake and d_test with the threshold; right, the
        ``num_pairs`` fakes nearest to the training set (top row) above their nearest
        training image (bottom row), with the distance.
    """
    import matplotlib.pyplot as plt

    num_pairs = min(num_pairs, fake.shape[0])
    closest = report.fake_distance.argsort()[:num_pairs]
    fig = plt.figure(figsize=(11, 3.2))
    ax_hist = fig.add_axes([0.05, 0.15, 0.3, 0.75])
    hi = torch.cat([report.fake_distance, report.test_distance]).max().item()
    bins = torch.linspace(0, hi * 1.02 + 1e-9, 40).numpy()
    ax_hist.hist(report.test_distance.numpy(), bins=bins, alpha=0.6, density=True, label="real test → train")
    ax_hist.hist(report.fake_distance.numpy(), bins=bins, alpha=0.6, density=True, label="fake → train")
    ax_hist.axvline(report.threshold, color="k", ls="--", lw=1, label="flag threshold")
    ax_hist.set_xlabel(f"distance to nearest training image ({report.space})")
    ax_hist.legend(fontsize="small")
    ax_hist.set_title(f"{100 * report.flagged_fraction:.1f}% flagged, median ratio {report.median_ratio:.2f}")
    pairs = torch.cat([fake[closest].cpu(), train[report.fake_neighbour[closest]].cpu()])
    ax_grid = fig.add_axes([0.4, 0.05, 0.58, 0.85])
    ax_grid.imshow(image_grid(pairs, nrow=num_pairs), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax_grid.set_axis_off()
    distances = ", ".join(f"{d:.3f}" for d in report.fake_distance[closest].tolist())
    ax_grid.set_title(f"closest fakes (top) and their nearest training images (bottom)\nd = {distances}",
                      fontsize="small")
    return fig


def plot_two_sample(result: TwoSampleResult, k: int = 8):
    """The held-out images a two-sample test's classifier was surest about (:meth:`TwoSampleResult.surest`).

    Returns:
        The matplotlib figure: one row each of the fakes it judged most fake and most real, then the reals
        it judged most fake and most real, each image titled with the p(fake) the classifier gave it.
    """
    import matplotlib.pyplot as plt

    rows = result.surest(k)
    k = len(rows["fakes judged most fake"][0])
    fig, axes = plt.subplots(4, k, figsize=(1.1 * k + 0.9, 5.2), squeeze=False)
    for r, (label, (images, p)) in enumerate(rows.items()):
        for c, (tile, p_fake) in enumerate(zip(to_uint8(images), p.tolist())):
            axes[r, c].imshow(tile, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[r, c].set_title(f"{p_fake:.2f}", fontsize="x-small")
            axes[r, c].set(xticks=[], yticks=[])
        axes[r, 0].set_ylabel(label.replace(" judged ", "\njudged "), fontsize="small")
    fig.suptitle(f"held-out images and their p(fake), surest first (accuracy {result.accuracy:.3f})",
                 fontsize="small")
    fig.tight_layout()
    return fig


def plot_power_spectra(spectra: dict[str, torch.Tensor], size: int):
    """Radial power spectra (``gan_lab.metrics.spectrum.radial_power_spectrum``) of image sets of side ``size``.

    Args:
        spectra: name → spectrum, the first one the reference (e.g. real test images).

    Returns:
        The matplotlib figure: left, each spectrum on a log scale against the ring of frequency radius;
        right, each one divided by the reference (1 = the same power at that scale). A dotted line marks the
        Nyquist frequency along an axis (size / 2 cycles per image: a pattern of period 2 px).
    """
    import matplotlib.pyplot as plt

    if len(spectra) < 2:
        raise ValueError(f"give a reference spectrum and at least one to compare with it; got {list(spectra)}.")
    (ref_name, ref), *others = spectra.items()
    fig, (ax_power, ax_ratio) = plt.subplots(1, 2, figsize=(11, 3.4))
    rings = np.arange(1, len(ref))  # ring 0 holds no power: each image's mean was subtracted
    colour = {name: f"C{i}" for i, name in enumerate(spectra)}  # one colour per set in both panels
    for name, spectrum in spectra.items():
        ax_power.semilogy(rings, spectrum[1:].numpy(), marker=".", color=colour[name], label=name)
    ax_ratio.axhline(1.0, color=colour[ref_name], lw=1, label=ref_name)
    for name, spectrum in others:
        ax_ratio.plot(rings, (spectrum[1:] / ref[1:]).numpy(), marker=".", color=colour[name],
                      label=f"{name} / {ref_name}")
    for ax in (ax_power, ax_ratio):
        ax.axvline(size / 2, color="grey", ls=":", lw=1)
        ax.set_xlabel("frequency radius |k| (cycles per image side)")
        ax.legend(fontsize="small")
    ax_power.set(ylabel="mean power per coefficient", title="radial power spectrum")
    ax_ratio.set(ylabel="ratio", title=f"against {ref_name} (dotted: Nyquist along an axis)")
    fig.tight_layout()
    return fig
