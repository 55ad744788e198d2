"""Two small interactive plots for the theory of the minimax game (1-D, exact densities on a grid).

* :func:`optimal_discriminator_widget` — sliders move p_g; the plot shows p_data, p_g and
  D* = p_data / (p_data + p_g), the readout V(D*, G), JSD and the check C(G) = −log 4 + 2·JSD.
* :func:`saturation_widget` — a slider moves D(G(z)); the plot compares log(1 − D) with −log D
  and their gradients with respect to D's logit.

Each builder returns a widget whose sliders are attributes, so it works (and is tested) headless.
Plots are persistent matplotlib figures updated with ``set_data`` and drawn to an Agg buffer.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..data.toy import GaussianMixture, gaussian_mixture_1d
from ..theory import generator_loss_curves, js_divergence, optimal_discriminator, virtual_training_criterion
from ..viz import png_bytes
from .picture import PicturedVBox

REAL, FAKE = "#1b7837", "#762a83"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    fig.canvas.draw()
    return png_bytes(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())


def generator_mixture(mean: float, spread: float, weight: float, gap: float) -> GaussianMixture:
    """p_g = w N(μ − gap/2, σ²) + (1 − w) N(μ + gap/2, σ²): the two-bump generator the sliders move."""
    return gaussian_mixture_1d([mean - gap / 2, mean + gap / 2], [spread, spread], [weight, 1 - weight], "p_g")


class OptimalDiscriminatorWidget(PicturedVBox):
    """p_data, a movable p_g, D*, and the numbers of Theorem 1 (see :func:`optimal_discriminator_widget`).

    Attributes:
        mean, spread, weight, gap: the sliders of p_g; image: the plot; readout: the numbers.
        p_data: the data distribution; x, dx: the grid.
    """

    def __init__(self, p_data: GaussianMixture | None = None, window=(-8.0, 8.0)):
        self.p_data = p_data or gaussian_mixture_1d([-2.0, 2.0], [0.7, 0.7], [0.5, 0.5], "p_data")
        self.x = np.linspace(-25, 25, 5001)  # far wider than the plot: the integrals need (almost) all the mass
        self.dx = self.x[1] - self.x[0]
        self.mean = widgets.FloatSlider(-1.0, min=-4, max=4, step=0.1, description="mean μ")
        self.spread = widgets.FloatSlider(1.0, min=0.2, max=3, step=0.05, description="spread σ")
        self.weight = widgets.FloatSlider(0.5, min=0, max=1, step=0.05, description="left weight w")
        self.gap = widgets.FloatSlider(4.0, min=0, max=8, step=0.1, description="gap")
        self.image, self.readout = widgets.Image(format="png"), widgets.HTML()
        self.fig = _figure(7.5, 3.2)
        ax = self.fig.add_subplot()
        density = self.p_data.density(self.x[:, None])
        ax.fill_between(self.x, density, color=REAL, alpha=0.25, label="p_data")
        (self.line_g,) = ax.plot(self.x, density, color=FAKE, lw=2, label="p_g")
        ax.set(xlabel="x", ylabel="density", xlim=window)
        twin = ax.twinx()
        (self.line_d,) = twin.plot(self.x, 0.5 + 0 * self.x, color="black", lw=1.5, label="D*(x)")
        twin.axhline(0.5, color="grey", ls=":", lw=1)
        twin.set(ylim=(-0.02, 1.02), ylabel="D*(x)")
        self.fig.legend(loc="outside right upper", fontsize="small")
        for slider in (self.mean, self.spread, self.weight, self.gap):
            slider.style = {"description_width": "100px"}
            slider.observe(lambda _: self.update(), "value")
        super().__init__([widgets.HBox([widgets.VBox([self.mean, self.spread]), widgets.VBox([self.weight, self.gap])]),
                          self.image, self.readout])
        self.update()

    def update(self) -> dict[str, float]:
        """Redraw for the current sliders; returns {"V": V(D*, G), "JSD": …, "identity": −log 4 + 2·JSD}."""
        p_g = generator_mixture(self.mean.value, self.spread.value, self.weight.value, self.gap.value)
        p_data_x, p_g_x = self.p_data.density(self.x[:, None]), p_g.density(self.x[:, None])
        self.line_g.set_ydata(p_g_x)
        self.line_g.axes.set_ylim(0, 1.15 * max(p_data_x.max(), p_g_x.max()))
        self.line_d.set_ydata(optimal_discriminator(p_data_x, p_g_x))
        self.image.value = _png(self.fig)
        value = virtual_training_criterion(p_data_x, p_g_x, self.dx)
        jsd = js_divergence(p_data_x, p_g_x, self.dx)
        identity = -math.log(4) + 2 * jsd
        ok = "✓" if abs(value - identity) < 1e-6 else "✗"
        self.readout.value = (f"<tt>C(G) = V(D*, G) = {value:+.5f} &nbsp; JSD(p_data ‖ p_g) = {jsd:.5f} nats "
                              f"(max log 2 = 0.69315)<br>−log 4 + 2·JSD = {identity:+.5f} &nbsp; {ok} "
                              f"|difference| = {abs(value - identity):.1e} &nbsp; (minimum −log 4 = −1.38629 "
                              f"only at p_g = p_data)</tt>")
        return {"V": value, "JSD": jsd, "identity": identity}


class SaturationWidget(PicturedVBox):
    """log(1 − D) against −log D and their gradients (see :func:`saturation_widget`).

    Attributes:
        d: the slider for D(G(z)); image: the plot; readout: values and gradients at d.
    """

    def __init__(self):
        curves = generator_loss_curves(np.linspace(1e-3, 1 - 1e-3, 400))
        self.d = widgets.FloatLogSlider(0.01, base=10, min=-3, max=math.log10(0.999), step=0.01,
                                        description="D(G(z))", readout_format=".3f")
        self.image, self.readout = widgets.Image(format="png"), widgets.HTML()
        self.fig = _figure(8.5, 3.0)
        ax_loss, ax_grad = self.fig.subplots(1, 2)
        for name, colour, label in (("minimax", "#d6604d", "minimax  log(1 − D)"),
                                    ("nonsaturating", "#4393c3", "non-saturating  −log D")):
            ax_loss.plot(curves["D"], curves[name], color=colour, lw=2, label=label)
            ax_grad.plot(curves["D"], np.abs(curves[f"grad_{name}"]), color=colour, lw=2, label=label)
        ax_loss.set(xlabel="D(G(z))", ylabel="L_G (G minimises it)", title="generator losses")
        ax_grad.set(xlabel="D(G(z))", ylabel="|∂L_G / ∂ logit|", title="gradient reaching G", ylim=(0, 1.05))
        ax_loss.legend(fontsize="small")
        self.markers = [ax.axvline(0.0, color="black", ls="--", lw=1) for ax in (ax_loss, ax_grad)]
        self.d.observe(lambda _: self.update(), "value")
        super().__init__([self.d, self.image, self.readout])
        self.update()

    def update(self) -> dict[str, float]:
        """Redraw for the current slider; returns the two gradient magnitudes at D(G(z))."""
        at = generator_loss_curves(np.array([self.d.value]))
        for marker in self.markers:
            marker.set_xdata([self.d.value, self.d.value])
        self.image.value = _png(self.fig)
        g_mm, g_ns = abs(at["grad_minimax"][0]), abs(at["grad_nonsaturating"][0])
        self.readout.value = (f"<tt>at D(G(z)) = {self.d.value:.3f}: minimax |grad| = {g_mm:.4f}, "
                              f"non-saturating |grad| = {g_ns:.4f} (ratio {g_ns / g_mm:.1f}×)</tt>")
        return {"minimax": g_mm, "nonsaturating": g_ns}


def optimal_discriminator_widget(p_data: GaussianMixture | None = None) -> OptimalDiscriminatorWidget:
    """Sliders for p_g (mean, spread, mixture weight, gap between its two bumps) over a fixed 1-D p_data.

    Shows p_data, p_g and D*, and checks Theorem 1 of Goodfellow et al. (2014),
    C(G) = V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g), by numerical integration.
    The default p_data is ½ N(−2, 0.7²) + ½ N(2, 0.7²); μ = 0, σ = 0.7, w = ½, gap = 4 makes p_g = p_data.
    """
    return OptimalDiscriminatorWidget(p_data)


def saturation_widget() -> SaturationWidget:
    """Why G uses −log D(G(z)): a slider over D(G(z)) and both losses' gradients w.r.t. D's logit."""
    return SaturationWidget()
