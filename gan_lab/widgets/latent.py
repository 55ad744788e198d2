"""The latent explorer: walk through G's latent space with sliders and see what changes.

The shown code is

    z = slerp(z_A, z_B, t) + Σ_i α_i v_i

with z_A, z_B drawn from two seeds, t the interpolation slider and α_i the
direction sliders. The directions v_i are either the raw axes of z or its
*principal directions*: the directions in z along which the generated
images change most (the GANSpace recipe of Härkönen et al. 2020, which
applies PCA to an intermediate representation, StyleGAN's w or an early layer
of BigGAN; here it is applied to the output images):

1. draw many z ~ N(0, I) and generate X = G(z), flattened to (n, C·H·W);
2. PCA of X: its top components are the main axes of variation of the
   *images* G produces (a PCA of z itself is useless: z is isotropic);
3. regress z on the (standardised) PCA coordinates, z ≈ P A, by least
   squares: row i of A is the change of z that moves the image one
   standard deviation along component i; normalised, it is v_i.

So α_i = ±2 moves z two prior standard deviations along the direction that
best explains the i-th largest mode of image variation.

A panel shows the training images nearest (L2 in pixel space) to the
current sample: if they are near copies, G memorised rather than generated.

Every redraw is one forward pass of one z, a PNG encode (``viz.png_bytes``)
and one distance computation against images kept on G's device, a few ms
on a CPU for 28 × 28 models: sliders stay live. ``explorer.redraw()`` is
that function, exposed so it can be timed.

A class-conditional G (``forward(z, y)`` with a ``num_classes`` attribute)
gets a class drop-down, and the neighbours come from the chosen class.
"""

from __future__ import annotations

import ipywidgets as widgets
import torch
from torch import nn

from ..data.base import ImageData
from ..models.latent import slerp
from ..viz import image_grid, png_bytes
from .picture import PicturedVBox


def is_conditional(G: nn.Module) -> bool:
    """True for a G whose forward takes (z, y) (gan_lab's conditional generators carry ``num_classes``)."""
    return getattr(G, "num_classes", None) is not None


@torch.inference_mode()
def principal_directions(G: nn.Module, k: int = 8, n: int = 512, seed: int = 0, batch: int = 256):
    """The top-k principal directions of G's output, carried back to z (see the module docstring).

    Args:
        G: a generator with ``z_dim`` (conditional ones get random labels).
        k: number of directions.
        n: number of codes z sampled.
        seed: seed of those codes.

    Returns:
        (directions (k, z_dim) unit vectors on G's device, explained (k,) fraction of image variance).
    """
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen).to(device)
    y = torch.randint(0, G.num_classes, (n,), generator=gen).to(device) if is_conditional(G) else None
    was_training = G.training
    G.eval()
    X = torch.cat([_generate(G, z[i:i + batch], None if y is None else y[i:i + batch]).flatten(1)
                   for i in range(0, n, batch)])
    G.train(was_training)
    X = X - X.mean(0)  # (n, D)
    k = min(k, G.z_dim, n - 1)
    U, S, _ = torch.linalg.svd(X, full_matrices=False)
    scores = U[:, :k] * (n - 1) ** 0.5  # PCA coordinates of each sample, unit variance, (n, k)
    A = torch.linalg.lstsq(scores, z - z.mean(0)).solution  # z ≈ scores @ A, A: (k, z_dim)
    explained = (S[:k] ** 2) / (S**2).sum()
    return A / A.norm(dim=1, keepdim=True), explained


def _generate(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return G(z) if y is None else G(z, y)


class LatentExplorer(PicturedVBox):
    """Sliders over G's latent space, a seed box, slerp between two seeds, nearest training images.

    Args:
        G: the generator (``G.z_dim``; a conditional G takes (z, y) and has ``num_classes``).
        data: training images for the nearest-neighbour panel (ImageData or a (N, C, H, W)
            tensor in [-1, 1]); None hides the panel.
        k: number of direction sliders.
        classes: class names for a conditional G (default: "class 0", "class 1", ...).
        n_neighbours: training images shown.
        n_pca: codes z sampled for the principal directions.
        seed: the first seed of z_A (z_B starts at seed + 1).
        scale: pixel enlargement of the sample.

    Attributes:
        image, neighbours: ``ipywidgets.Image`` panels; sliders (list of FloatSlider), mode
        (ToggleButtons "principal" / "raw z"), seed_a, seed_b (IntText), t (interpolation
        FloatSlider), random_button, class_select (Dropdown or None), directions (k, z_dim),
        explained (k,).

    Example:
        >>> explorer = LatentExplorer(run.G, data)   # doctest: +SKIP
        >>> explorer                                  # shows it; explorer.redraw() re-renders
    """

    def __init__(self, G: nn.Module, data: ImageData | torch.Tensor | None = None, *, k: int = 6,
                 classes: list[str] | None = None, n_neighbours: int = 5, n_pca: int = 512, seed: int = 0,
                 scale: int = 6):
        self.G, self.scale, self.n_neighbours, self._hold = G, scale, n_neighbours, False
        self.device = next(G.parameters()).device
        self.conditional = is_conditional(G)
        self.directions, self.explained = principal_directions(G, k, n_pca)
        self._set_real(data)
        self.mode = widgets.ToggleButtons(options=["principal", "raw z"], description="directions")
        wide = {"description_width": "initial"}  # labels such as "PC1 (23%)" must not be cut off
        self.sliders = [widgets.FloatSlider(0.0, min=-3, max=3, step=0.1, description=self._label(i), style=wide)
                        for i in range(len(self.directions))]
        self.seed_a = widgets.IntText(seed, description="seed A")
        self.seed_b = widgets.IntText(seed + 1, description="seed B")
        self.t = widgets.FloatSlider(0.0, min=0, max=1, step=0.02, description="A → B (slerp)", style=wide)
        self.random_button = widgets.Button(description="random", icon="random")
        self.reset_button = widgets.Button(description="reset sliders")
        self.class_select = None
        if self.conditional:
            names = classes or [f"class {i}" for i in range(G.num_classes)]
            self.class_select = widgets.Dropdown(options=[(n, i) for i, n in enumerate(names)], description="class")
        self.image, self.neighbours = widgets.Image(format="png"), widgets.Image(format="png")
        self.info = widgets.HTML()
        self._wire()
        self._draw_codes()
        super().__init__(self._layout())

    # ------------------------------------------------------------------------------------------- state
    def _set_real(self, data) -> None:
        """Keep the training images flat on G's device, with their squared norms, for fast L2 search."""
        self.real = self.real_labels = None
        if data is None:
            return
        images = data.images if isinstance(data, ImageData) else data
        self.real = images.to(self.device).flatten(1)  # (N, D)
        self.real_sq = (self.real**2).sum(1)  # (N,)
        self.real_shape = images.shape[1:]
        if isinstance(data, ImageData) and self.conditional:
            self.real_labels = data.labels.to(self.device)

    def _label(self, i: int) -> str:
        if self.mode.value == "raw z":
            return f"z[{i}]"
        return f"PC{i + 1} ({100 * float(self.explained[i]):.0f}%)"

    def _draw_codes(self) -> None:
        """z_A and z_B from their seeds (drawn on the CPU, so a seed means the same z on every device)."""
        def code(seed: int) -> torch.Tensor:
            return torch.randn(1, self.G.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        self._z_a, self._z_b = code(self.seed_a.value), code(self.seed_b.value)

    def current_z(self) -> torch.Tensor:
        """The shown code (1, z_dim): slerp(z_A, z_B, t) + Σ α_i v_i."""
        z = slerp(self._z_a, self._z_b, self.t.value)
        alphas = torch.tensor([s.value for s in self.sliders], device=self.device, dtype=z.dtype)
        basis = self.directions if self.mode.value == "principal" else torch.eye(
            self.G.z_dim, device=self.device)[: len(self.sliders)]
        return z + alphas @ basis

    def current_y(self) -> torch.Tensor | None:
        if self.class_select is None:
            return None
        return torch.tensor([self.class_select.value], device=self.device)

    # ------------------------------------------------------------------------------------------ redraw
    @torch.inference_mode()
    def redraw(self, *_) -> None:
        """Render the current code and its nearest training images (the function a slider calls)."""
        if self._hold:
            return
        was_training = self.G.training
        self.G.eval()
        x = _generate(self.G, self.current_z(), self.current_y())  # (1, C, H, W)
        self.G.train(was_training)
        self.image.value = png_bytes(image_grid(x.cpu(), pad=0), self.scale)
        if self.real is not None:
            self.neighbours.value = png_bytes(image_grid(self.nearest(x).cpu(), nrow=self.n_neighbours),
                                              max(1, self.scale // 2))

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """The training images closest to x (1, C, H, W) in L2, nearest first: (n_neighbours, C, H, W)."""
        flat = x.flatten(1)
        d2 = self.real_sq - 2 * (self.real @ flat[0]) + (flat**2).sum()  # ‖r − x‖² for every r, (N,)
        if self.real_labels is not None:
            d2 = torch.where(self.real_labels == self.class_select.value, d2, torch.inf)
        index = torch.topk(d2, min(self.n_neighbours, len(d2)), largest=False).indices
        self.info.value = f"nearest training image: L2 distance {float(d2[index[0]].clamp_min(0).sqrt()):.2f}"
        return self.real[index].view(-1, *self.real_shape)

    # ------------------------------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        for slider in [*self.sliders, self.t]:
            slider.observe(self.redraw, names="value")
        self.seed_a.observe(self._new_seed, names="value")
        self.seed_b.observe(self._new_seed, names="value")
        self.mode.observe(self._new_mode, names="value")
        self.random_button.on_click(self._random)
        self.reset_button.on_click(lambda _: self.reset())
        if self.class_select is not None:
            self.class_select.observe(self.redraw, names="value")

    def _new_seed(self, _=None) -> None:
        self._draw_codes()
        self.redraw()

    def _new_mode(self, _=None) -> None:
        for i, slider in enumerate(self.sliders):
            slider.description = self._label(i)
        self.reset()

    def _random(self, _=None) -> None:
        self.seed_a.value = int(torch.randint(0, 100_000, ()).item())  # observing seed_a redraws

    def reset(self) -> None:
        """Sliders back to 0 (one redraw, not one per slider)."""
        self._hold = True
        try:
            for slider in self.sliders:
                slider.value = 0.0
        finally:
            self._hold = False
        self.redraw()

    def _layout(self) -> list:
        seeds = widgets.HBox([self.seed_a, self.random_button, self.seed_b])
        controls = [self.mode, *self.sliders, self.reset_button, seeds, self.t]
        if self.class_select is not None:
            controls.insert(0, self.class_select)
        panels = [widgets.VBox([widgets.HTML("<b>G(z)</b>"), self.image])]
        if self.real is not None:
            panels.append(widgets.VBox([widgets.HTML("<b>nearest training images (L2)</b>"), self.neighbours,
                                        self.info]))
        self.redraw()
        return [widgets.HBox([widgets.VBox(controls), *panels])]
