"""The toy GAN lab as an ipywidget: panels drawn with numpy + PIL, training driven by a Play widget.

Speed is the design constraint (a frame must stay well under 200 ms on a
2-core CPU): the heat map is D on a 64² grid mapped through a colour lookup
table and upsampled by PIL; points, the generator manifold and gradient
arrows are drawn with ``ImageDraw``; nothing goes through matplotlib. Play
never blocks the kernel: the ``ipywidgets.Play`` counter ticks in the
browser, each tick runs a few training iterations and one redraw, and Pause
simply stops the ticks.

"next stage" plays one iteration in slow motion (``ToyLab.stages``): D before and after
its update, then G before and after its update, one redraw per click with a caption naming
the stage; "example" loads a ready-trained state (``gan_lab.train.toylab.EXAMPLES``).
The sketch pad below the controls (``gan_lab.widgets.sketch.SketchPad``) lets the student draw
the real data: when a stroke ends, the lab trains on the drawing at once (Play starts).

Example:
    >>> w = toy_lab_widget(dataset="ring")   # display(w) in a notebook
    >>> w.step_button.click(); w.last_frame_ms  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import time

import ipywidgets as widgets
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..data.toy import TOY_DATASETS, Drawing
from ..device import single_thread
from ..train.loop import TrainingDiverged
from ..train.toylab import EXAMPLES, Stage, ToyLab, load_example
from .picture import PicturedVBox
from .sketch import SketchPad

LAYERS = ("heatmap", "optimal", "manifold", "gradients", "real", "fake")
REAL, FAKE, INK = (27, 120, 55), (118, 42, 131), (40, 40, 40)  # the two ends of PRGn, as in GAN Lab
REAL_LINE, FAKE_LINE, ARROW = (0, 80, 20), (80, 10, 90), (70, 70, 70)
OLD_FAKE = (200, 170, 205)  # where the fakes were before G's update (slow motion)
MIN_TICK_MS = 100  # fastest Play tick: about 10 frames per second
LOSSES = [("minimax (saturating)", "minimax"), ("non-saturating", "nonsaturating"),
          ("least squares", "least_squares"), ("Wasserstein + GP", "wasserstein")]


@functools.cache
def _lut() -> np.ndarray:
    """PRGn as a (256, 3) uint8 table, washed halfway to white so the points stay visible."""
    import matplotlib

    rgb = matplotlib.colormaps["PRGn"](np.linspace(0, 1, 256))[:, :3] * 255
    return (255 - 0.5 * (255 - rgb)).astype(np.uint8)


def jpeg_bytes(array: np.ndarray, quality: int = 90) -> bytes:
    """Encode a uint8 (H, W, 3) array as JPEG: about 8× cheaper than PNG for a 360² frame, sharp enough at 90."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


@functools.cache
def _font():
    return ImageFont.load_default(size=11)


def _pixels(points: np.ndarray, extent, size: int) -> np.ndarray:
    """Plane coordinates (..., 2) → pixel coordinates (..., 2), y pointing down."""
    x0, x1, y0, y1 = extent
    return np.stack([(points[..., 0] - x0) / (x1 - x0) * size, (y1 - points[..., 1]) / (y1 - y0) * size], -1)


def _heat_colours(values: np.ndarray, loss: str) -> np.ndarray:
    """D's output → [0, 1] for the colour map: probabilities as they are, a critic's scores centred and scaled."""
    if loss == "wasserstein":  # a critic is defined up to a constant: show where it is high or low
        centred = values - values.mean()
        values = 0.5 + 0.5 * centred / max(np.abs(centred).max(), 1e-8)
    return _lut()[np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)]


def _contour(canvas: np.ndarray, field: np.ndarray, level: float, colour) -> None:
    """Draw the 2-px line where the upsampled ``field`` crosses ``level`` onto ``canvas`` (in place)."""
    size = canvas.shape[0]
    above = np.asarray(Image.fromarray(field.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)) > level
    edge = np.zeros_like(above)
    edge[:-1] |= above[:-1] != above[1:]
    edge[:, :-1] |= above[:, :-1] != above[:, 1:]
    edge[1:] |= edge[:-1].copy()  # thicken downwards by one pixel
    canvas[edge] = colour


def _arrows(draw: ImageDraw.ImageDraw, start: np.ndarray, vec: np.ndarray, max_len: float) -> None:
    """Arrows from pixel points ``start`` along ``vec`` (n, 2), rescaled so the longest is ``max_len`` px."""
    lengths = np.linalg.norm(vec, axis=1)
    vec = vec * (max_len / max(lengths.max(), 1e-12))
    for (x, y), (dx, dy) in zip(start.tolist(), vec.tolist()):
        draw.line([(x, y), (x + dx, y + dy)], fill=ARROW, width=1)
        n = math.hypot(dx, dy)
        if n > 3:  # a head only where the arrow is long enough to carry one
            ux, uy = dx / n, dy / n
            for side in (-1, 1):
                hx, hy = ux * 0.87 - side * uy * 0.5, uy * 0.87 + side * ux * 0.5  # 30° back from the tip
                draw.line([(x + dx, y + dy), (x + dx - 4 * hx, y + dy - 4 * hy)], fill=ARROW, width=1)


def render_canvas(lab: ToyLab, fake=None, p_g_hat=None, size: int = 360, layers=LAYERS, num_points: int = 256,
                  num_arrows: int = 48) -> np.ndarray:
    """The main panel as a uint8 array (size, size, 3).

    Layers: D's output as a heat map (green = "real", purple = "fake"); the contours D* = 0.8 (dark
    green: the optimal D is sure "real", e.g. around modes G misses) and D* = 0.2 (dark purple: sure
    "fake": fakes where there is no data); the generator manifold (a latent grid pushed through G);
    real and fake samples; −∇_x ℓ_G arrows on fakes (rescaled together: their true mean length is
    ``grad_G`` in the history).

    Args:
        fake: G's samples (default: ``lab.fakes()``); p_g_hat: their KDE (default: computed if needed).
    """
    extent = lab.data.extent
    fake = lab.fakes() if fake is None else fake
    if "heatmap" in layers:
        canvas = np.asarray(Image.fromarray(_heat_colours(lab.heatmap(), lab.config.loss))
                            .resize((size, size), Image.BILINEAR)).copy()
    else:
        canvas = np.full((size, size, 3), 255, np.uint8)
    if "optimal" in layers:
        d_star = lab.optimal_discriminator_map(lab.density_estimates(fake)[1] if p_g_hat is None else p_g_hat)
        if d_star is not None:  # where the optimal D would be sure: real (≥ 0.8) or fake (≤ 0.2)
            _contour(canvas, d_star, 0.8, REAL_LINE)
            _contour(canvas, d_star, 0.2, FAKE_LINE)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    if "manifold" in layers:
        for line in _pixels(lab.manifold(), extent, size):
            draw.line(line.ravel().tolist(), fill=(150, 150, 150), width=1)
    for name, points, colour in (("real", lab.real, REAL), ("fake", fake, FAKE)):
        if name in layers:
            for x, y in _pixels(points[:num_points].cpu().numpy(), extent, size).tolist():
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    if "gradients" in layers:
        grad = lab.fake_gradients(fake[:num_arrows]).cpu().numpy() * [1, -1]  # y points down in pixels
        _arrows(draw, _pixels(fake[:num_arrows].cpu().numpy(), extent, size), grad, 0.07 * size)
    return np.asarray(image)


def render_stage(stage: Stage, extent, loss: str, size: int = 360, layers=LAYERS) -> np.ndarray:
    """One slow-motion stage (``ToyLab.stages``) as a uint8 array (size, size, 3), drawn from its arrays only.

    As :func:`render_canvas` (without the D* contours, which need a density estimate per stage), plus, in
    "G after", each fake's old place (pale purple) joined to its new one by a line: the move G's update made.
    The caption is not drawn: the widget shows it beside the picture.
    """
    if "heatmap" in layers:
        canvas = Image.fromarray(_heat_colours(stage.heatmap, loss)).resize((size, size), Image.BILINEAR)
    else:
        canvas = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(canvas)
    if "manifold" in layers:
        for line in _pixels(stage.manifold, extent, size):
            draw.line(line.ravel().tolist(), fill=(150, 150, 150), width=1)
    if "real" in layers:
        for x, y in _pixels(stage.real, extent, size).tolist():
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=REAL)
    if "fake" in layers:
        new = _pixels(stage.fake, extent, size)
        if stage.moved_from is not None:
            old = _pixels(stage.moved_from, extent, size)
            for (x, y), (u, v) in zip(old.tolist(), new.tolist()):
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=OLD_FAKE)
                draw.line([(x, y), (u, v)], fill=FAKE_LINE, width=1)
        for x, y in new.tolist():
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=FAKE)
    if "gradients" in layers and stage.arrows is not None and len(stage.arrows):
        start = stage.fake if stage.moved_from is None else stage.moved_from  # arrows stay where they were computed
        _arrows(draw, _pixels(start[:len(stage.arrows)], extent, size), stage.arrows * [1, -1], 0.07 * size)
    return np.asarray(canvas)


def _line_plot(draw: ImageDraw.ImageDraw, box, series, title: str) -> None:
    """Curves [(x, y, colour, label), ...] in the pixel box (left, top, right, bottom), with min/max labels."""
    left, top, right, bottom = box
    draw.rectangle(box, outline=(180, 180, 180))
    draw.text((left + 4, top + 2), title, fill=INK, font=_font())
    ys = [np.asarray(y, dtype=float) for _, y, _, _ in series if len(y)]
    if not ys:
        return
    lo, hi = min(y.min() for y in ys), max(y.max() for y in ys)
    hi = hi if hi > lo else lo + 1e-6
    x_max = max(max(x) for x, y, _, _ in series if len(y))
    for i, (x, y, colour, label) in enumerate(series):
        if len(y) > 1:
            px = left + (np.asarray(x) / max(x_max, 1)) * (right - left)
            py = bottom - 14 - (np.asarray(y) - lo) / (hi - lo) * (bottom - top - 30)
            draw.line(list(zip(px.tolist(), py.tolist())), fill=colour, width=2)
        draw.text((right - 150 + 75 * i, top + 2), label, fill=colour, font=_font())
    draw.text((left + 4, bottom - 13), f"{lo:.3g} … {hi:.3g}   (step {x_max})", fill=INK, font=_font())


def render_curves(history: dict, size=(360, 250)) -> np.ndarray:
    """Loss curves (top) and the JS estimate over training (bottom) as a uint8 array (H, W, 3)."""
    w, h = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    steps = history["step"]
    _line_plot(draw, (0, 0, w - 1, h // 2 - 2), [(steps, history.get("loss_D", []), REAL, "loss_D"),
                                                 (steps, history.get("loss_G", []), FAKE, "loss_G")], "losses")
    _line_plot(draw, (0, h // 2 + 2, w - 1, h - 1),
               [(history.get("eval_step", []), history.get("JS", []), INK, "JS (nats)")],
               "JS(p_data || p_g) estimate (binned KDE)")
    return np.asarray(image)


def render_densities(p_data_hat: np.ndarray, p_g_hat: np.ndarray, size: int = 250) -> np.ndarray:
    """Both KDEs in one picture (green: p_data, purple: p_g, dark where they overlap), uint8 (size, size, 3)."""
    ink = np.zeros(p_data_hat.shape + (3,))
    for p, colour in ((p_data_hat, REAL), (p_g_hat, FAKE)):
        ink += (p / max(p.max(), 1e-12))[..., None] * (255 - np.asarray(colour))
    return np.asarray(Image.fromarray((255 - np.clip(ink, 0, 255)).astype(np.uint8)).resize((size, size)))


class ToyLabWidget(PicturedVBox):
    """The toy lab: panels on top, controls below; every control is an attribute (tests click them).

    Attributes:
        lab: the ``ToyLab`` engine it drives.
        play: ticks → ``steps_per_frame`` iterations + one redraw; its own button pauses.
        step_d_button, step_g_button, step_button, reset_button: one D / G / full iteration, fresh start.
        stage_button: one slow-motion stage per click (``ToyLab.stages``); ``caption`` names the stage.
        example: drop-down of ready-trained states (``EXAMPLES``); choosing one replaces ``lab``.
        sketch: the drawing surface; each finished stroke replaces the real data by the drawing
            (``gan_lab.data.toy.Drawing``) and starts Play; undo_button / clear_button edit it
            (clearing returns to the chosen dataset); drawing_info says what the lab trains on.
        last_frame_ms: wall time of the last frame (training iterations + drawing), in milliseconds.
        last_draw_ms: the drawing part of it.
        last_stage_ms: wall time of the last slow-motion stage (engine + drawing + encoding).
    """

    def __init__(self, lab: ToyLab | None = None, size: int = 360, steps_per_frame: int = 5, **config):
        if lab is not None and config:
            raise ValueError(f"Pass either a ToyLab or its settings, not both (got lab and {sorted(config)}).")
        self.lab, self.size = lab or ToyLab(**config), size
        self.last_frame_ms = self.last_draw_ms = self.last_stage_ms = 0.0
        # the slow-motion iteration in progress and its last stage; True while the widget sets its own controls
        self._stages, self._stage, self._syncing = None, None, False
        self.canvas, self.curves, self.densities = (widgets.Image(format="jpeg") for _ in range(3))
        self.status, self.caption = widgets.HTML(), widgets.HTML()
        self.stage_button = widgets.Button(description="next stage ▸", button_style="info",
                                           tooltip="slow motion: D before / after its update, G before / after its")
        self.example = widgets.Dropdown(options=[("(fresh networks)", "")] + [(name, name) for name in EXAMPLES],
                                        value="", description="example", style={"description_width": "60px"})
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=MIN_TICK_MS, description="play / pause")
        self.step_d_button, self.step_g_button, self.step_button, self.reset_button = (
            widgets.Button(description=d, tooltip=t) for d, t in (
                ("step D", "one discriminator update"), ("step G", "one generator update"),
                ("step D+G", "k discriminator updates, then one generator update"), ("reset", "fresh networks")))
        self.steps_per_frame = widgets.IntSlider(steps_per_frame, 1, 50, description="steps/frame")
        self.sketch = SketchPad(extent=list(self.lab.data.extent), size=size * 2 // 3)
        self.undo_button, self.clear_button = (widgets.Button(description=d, tooltip=t) for d, t in (
            ("undo stroke", "remove the last stroke"), ("clear drawing", "back to the chosen dataset")))
        self.drawing_info = widgets.HTML()
        self.controls = self._make_controls()
        self.layers = {name: widgets.Checkbox(True, description=name, indent=False, layout={"width": "95px"})
                       for name in LAYERS}
        self.play.observe(lambda _: self._run("both", self.steps_per_frame.value), "value")
        self.step_d_button.on_click(lambda _: self._run("D", 1))
        self.step_g_button.on_click(lambda _: self._run("G", 1))
        self.step_button.on_click(lambda _: self._run("both", 1))
        self.reset_button.on_click(lambda _: self._reset())
        self.stage_button.on_click(lambda _: self.next_stage())
        self.undo_button.on_click(lambda _: self.sketch.undo())
        self.clear_button.on_click(lambda _: self.sketch.clear())
        self.sketch.observe(lambda change: None if self._syncing else self.use_drawing(change["new"]), "strokes")
        self.example.observe(lambda change: None if self._syncing else self.show_example(change["new"]), "value")
        for box in self.layers.values():
            box.observe(lambda _: self._redraw_layers(), "value")
        legend = ("<small><b style='color:#1b7837'>●</b> real &nbsp; <b style='color:#762a83'>●</b> fake &nbsp; "
                  "heat map: D(x) (green = judged real) &nbsp; dark green / purple lines: D* = 0.8 / 0.2 "
                  "(the optimal D is sure: real / fake) &nbsp; grey mesh: G's manifold &nbsp; arrows: −∇ₓ ℓ_G "
                  "&nbsp; small panel: density estimates of p_data (green) and p_g (purple)</small>")
        buttons = widgets.HBox([self.play, self.step_d_button, self.step_g_button, self.step_button,
                                self.reset_button, self.steps_per_frame])
        slow = widgets.HBox([self.stage_button, self.example, self.caption])
        draw = widgets.HBox([self.sketch, widgets.VBox([
            widgets.HTML("<b>Draw the real data</b><br><small>Each stroke (or click) becomes one mode of equal "
                         "weight, a Gaussian tube of σ = 0.1 along the line (the same plane as the big panel). "
                         "The lab trains on your drawing as soon as a stroke ends.</small>"),
            widgets.HBox([self.undo_button, self.clear_button]), self.drawing_info], layout={"width": "330px"})])
        super().__init__([widgets.HBox([self.canvas, widgets.VBox([self.curves, self.densities])]),
                          widgets.HTML(legend), self.status, buttons, slow, draw,
                          widgets.GridBox(list(self.controls.values()),
                                          layout={"grid_template_columns": "repeat(3, 330px)"}),
                          widgets.HBox(list(self.layers.values()))])
        self._describe_drawing()
        self.redraw()

    def _make_controls(self) -> dict[str, widgets.Widget]:
        cfg, style = self.lab.config, {"description_width": "90px"}
        controls = {
            "dataset": widgets.Dropdown(options=list(TOY_DATASETS), value=cfg.dataset, description="data"),
            "z_dim": widgets.Dropdown(options=[1, 2], value=cfg.z_dim, description="noise dim"),
            "noise": widgets.Dropdown(options=["gaussian", "uniform"], value=cfg.noise, description="noise p_z"),
            "loss": widgets.Dropdown(options=LOSSES, value=cfg.loss, description="loss"),
            "optimizer": widgets.Dropdown(options=[("Adam", "adam"), ("SGD", "sgd")], value=cfg.optimizer,
                                          description="optimiser"),
            "k": widgets.IntSlider(cfg.k, 1, 10, description="k (D steps)"),
            "lr_D": widgets.FloatLogSlider(cfg.lr_D, base=10, min=-5, max=0, description="lr D"),
            "lr_G": widgets.FloatLogSlider(cfg.lr_G, base=10, min=-5, max=0, description="lr G"),
            "width": widgets.IntSlider(cfg.width, 4, 256, step=4, description="width"),
            "depth": widgets.IntSlider(cfg.depth, 1, 4, description="depth"),
        }
        for name, control in controls.items():
            control.style = style
            if control.has_trait("continuous_update"):
                control.continuous_update = False  # act on release, not on every pixel of a drag
            control.observe(lambda change, name=name: self._on_control(name, change["new"]), "value")
        return controls

    def _on_control(self, name: str, value) -> None:
        if self._syncing:
            return
        self._stages = None  # a new setting ends any slow-motion iteration
        if name in ("lr_D", "lr_G"):
            self.lab.set_learning_rates(**{name: value})  # live: Adam's moments are kept
        elif name == "k":
            self.lab.config.k = value
        else:
            self.lab.reset(**{name: value})  # a new dataset replaces the drawing
            self._forget_example()
            if name == "dataset":
                self._show_drawing([])
            self.redraw()

    def _reset(self) -> None:
        self.play.playing, self._stages = False, None
        self.lab.reset()
        self._forget_example()
        self.redraw()

    @contextlib.contextmanager
    def _syncing_controls(self):
        """Set the widget's own controls without their observers acting (no restart, no training)."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _forget_example(self) -> None:
        """The lab no longer shows the chosen example (fresh networks): say so in the drop-down."""
        with self._syncing_controls():
            self.example.value = ""

    def _shown_layers(self) -> list[str]:
        return [name for name, box in self.layers.items() if box.value]

    def _draw_stage(self, stage: Stage) -> None:
        self.canvas.value = jpeg_bytes(render_stage(stage, self.lab.data.extent, self.lab.config.loss, self.size,
                                                    self._shown_layers()))

    def _draw_curves(self) -> None:
        self.curves.value = jpeg_bytes(render_curves(self.lab.history, (self.size, self.size * 2 // 3)))

    def _redraw_layers(self) -> None:
        """A layer was switched on or off: redraw the slow-motion stage on screen, or the normal panels."""
        if self._stages is not None and self._stage is not None:
            self._draw_stage(self._stage)
        else:
            self.redraw()

    def next_stage(self) -> Stage | None:
        """Advance the slow-motion iteration by one stage (starting a new one after "G after") and draw it."""
        start = time.perf_counter()
        self.play.playing = False
        try:
            stage = next(self._stages, None) if self._stages is not None else None
            if stage is None:
                self._stages = self.lab.stages()
                stage = next(self._stages)
        except TrainingDiverged as err:
            self._stages = None
            self.status.value = f"<b style='color:#b2182b'>{err}</b> Press reset."
            return None
        self._draw_stage(stage)
        if stage.name.endswith("after"):  # a player moved: the curves have a new entry
            self._draw_curves()
        self.caption.value = f"<b>{stage.name}</b> · {stage.caption}"
        self._stage = stage
        self.last_stage_ms = 1e3 * (time.perf_counter() - start)
        self._show_status()
        return stage

    def show_example(self, name: str) -> None:
        """Replace the lab by the ready-trained example ``name`` (trained in seconds the first time, then cached)."""
        if not name:
            return
        self.play.playing, self._stages = False, None
        self.caption.value = f"<i>loading “{name}” (a few seconds the first time, cached afterwards)…</i>"
        self.lab = load_example(name, device=self.lab.device)
        self._show_drawing([])
        with self._syncing_controls():  # show the example's settings without restarting the lab
            for key, control in self.controls.items():
                control.value = getattr(self.lab.config, key)
        self.redraw()
        self.caption.value = f"<b>{name}</b> · {EXAMPLES[name].description}"

    def use_drawing(self, strokes: list) -> None:
        """Train on the drawn ``strokes`` from now on (Play starts), or on the chosen dataset when there are none."""
        self._stages = None
        drawing = Drawing(strokes) if strokes else None
        self.lab.use_data(drawing)
        self._forget_example()
        self._describe_drawing()
        self.redraw()
        self.play.playing = drawing is not None  # "trains at once": the student watches G chase the drawing

    def _show_drawing(self, strokes: list) -> None:
        """Put ``strokes`` on the sketch pad without training on them (the lab has already changed its data)."""
        with self._syncing_controls():
            self.sketch.strokes = strokes
        self._describe_drawing()

    def _describe_drawing(self) -> None:
        drawing = self.lab.drawing
        self.drawing_info.value = (f"<small>training on <b>{self.lab.config.dataset}</b></small>" if drawing is None
                                   else f"<small>training on <b>your drawing</b>: {len(drawing.strokes)} stroke(s), "
                                        f"{drawing.num_points} Gaussians</small>")

    def _run(self, what: str, n: int) -> None:
        """One frame: ``n`` iterations of ``what`` ("D", "G" or "both") and a redraw; times it."""
        start = time.perf_counter()
        self._stages = None  # a normal step ends any slow-motion iteration
        try:
            self.lab.update(what, n)
        except TrainingDiverged as err:
            self.play.playing = False
            self.status.value = f"<b style='color:#b2182b'>{err}</b> Press reset."
            return
        self.redraw()
        self.last_frame_ms = 1e3 * (time.perf_counter() - start)
        self._show_status()
        # ticks faster than frames would queue up behind them (and delay Pause): keep the tick slower
        self.play.interval = max(MIN_TICK_MS, int(1.2 * self.last_frame_ms))

    def redraw(self) -> None:
        """Recompute every panel from the engine's state, push the images to the browser, update the status line."""
        start = time.perf_counter()
        lab = self.lab
        with single_thread():
            fake = lab.fakes()
            densities = lab.density_estimates(fake)
            if lab.num_steps and lab.history.get("eval_step", [None])[-1] != lab.num_steps:
                lab.evaluate(fake, densities)  # once per training state, not on every layer toggle
            canvas = render_canvas(lab, fake, densities[1], self.size, self._shown_layers())
        self.canvas.value = jpeg_bytes(canvas)
        self._draw_curves()
        self.densities.value = jpeg_bytes(render_densities(*densities, self.size // 3))
        if self._stages is None:
            self.caption.value = ""
        self.last_draw_ms = 1e3 * (time.perf_counter() - start)
        self._show_status()

    def _show_status(self) -> None:
        h, keys = self.lab.history, ("loss_D", "loss_G", "grad_G", "JS", "KL", "modes", "quality")
        slow = f" · slow-motion stage {self.last_stage_ms:.0f} ms" if self.last_stage_ms else ""
        evaluated = len(h.get("eval_step", []))
        # a measurement that the last evaluation did not make (modes on a drawing) would show a stale number
        fresh = [k for k in keys if h.get(k) and (k in ("loss_D", "loss_G", "grad_G") or len(h[k]) == evaluated)]
        values = " · ".join(f"{k} {h[k][-1]:.3g}" for k in fresh)
        self.status.value = (f"<tt>step {self.lab.num_steps} · {values}<br>frame {self.last_frame_ms:.0f} ms "
                             f"(drawing {self.last_draw_ms:.0f} ms){slow} · grad_G = mean ‖∇ₓℓ_G‖ over fakes</tt>")


def toy_lab_widget(lab: ToyLab | None = None, size: int = 360, steps_per_frame: int = 5, **config) -> ToyLabWidget:
    """Build the toy GAN lab widget around ``lab`` (or a new ``ToyLab(**config)``) and return it."""
    return ToyLabWidget(lab, size, steps_per_frame, **config)
