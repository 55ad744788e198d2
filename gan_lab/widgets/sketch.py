"""A drawing surface for the toy lab: the student draws the real data with the mouse (or a finger).

An ``anywidget`` whose JavaScript is the string below, shipped inside the package: nothing is
fetched from a CDN, so it works offline in JupyterLab, Notebook 7 and Voilà (anywidget's front end
is installed with the package; tests/test_browser.py draws on it in the first two). anywidget also
documents VS Code and Colab (there through Colab's custom widget manager, which the course's first
cell turns on and which loads the front end itself); those two are not tested here. The browser draws the strokes
while the pointer moves; when a stroke ends it is sent to the kernel as a list of (x, y) points
in the plane's coordinates (``extent``), and ``strokes`` changes — the toy lab observes it and
trains on the drawing at once. ``undo`` and ``clear`` are Python methods (the lab's buttons call
them), so a notebook can also set ``strokes`` by hand, e.g. in an exercise or a test.

Example:
    >>> pad = SketchPad()
    >>> pad.strokes = [[(-2, 0), (2, 0)], [(0, 2)]]   # a line and a dot, as if drawn
    >>> pad.undo(); len(pad.strokes)
    1
"""

from __future__ import annotations

import math

import anywidget
import traitlets

_ESM = r"""
function render({ model, el }) {
  const size = model.get("size");
  const [x0, x1, y0, y1] = model.get("extent");
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  canvas.className = "gan-lab-sketch";
  canvas.title = "draw the real data: each stroke is one mode";
  Object.assign(canvas.style, { border: "1px solid #999", cursor: "crosshair", touchAction: "none" });
  el.appendChild(canvas);
  const ctx = canvas.getContext("2d");
  const toPixel = ([x, y]) => [(x - x0) / (x1 - x0) * size, (y1 - y) / (y1 - y0) * size];
  const clamp = (v) => Math.min(size, Math.max(0, v));
  const toPlane = (e) => {  // inside the border, and clamped: a drag past the edge stays on the plane shown
    const box = canvas.getBoundingClientRect();
    const px = clamp((e.clientX - box.left - canvas.clientLeft) * size / canvas.clientWidth);
    const py = clamp((e.clientY - box.top - canvas.clientTop) * size / canvas.clientHeight);
    return [+(x0 + px / size * (x1 - x0)).toFixed(3), +(y1 - py / size * (y1 - y0)).toFixed(3)];
  };
  let current = null;  // the stroke being drawn, in plane coordinates

  function drawStroke(stroke) {
    const pts = stroke.map(toPixel);
    ctx.strokeStyle = "#1b7837"; ctx.fillStyle = "#1b7837"; ctx.lineWidth = 5; ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (pts.length === 1) {
      ctx.beginPath(); ctx.arc(pts[0][0], pts[0][1], 4, 0, 2 * Math.PI); ctx.fill();
      return;
    }
    ctx.beginPath(); ctx.moveTo(...pts[0]);
    for (const p of pts.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
  }

  function draw() {
    ctx.fillStyle = "white"; ctx.fillRect(0, 0, size, size);
    ctx.lineWidth = 1;
    for (let v = Math.ceil(x0); v <= x1; v++) {  // a unit grid, the axes darker
      const [px] = toPixel([v, 0]);
      ctx.strokeStyle = v === 0 ? "#999" : "#e4e4e4";
      ctx.beginPath(); ctx.moveTo(px, 0); ctx.lineTo(px, size); ctx.stroke();
    }
    for (let v = Math.ceil(y0); v <= y1; v++) {
      const [, py] = toPixel([0, v]);
      ctx.strokeStyle = v === 0 ? "#999" : "#e4e4e4";
      ctx.beginPath(); ctx.moveTo(0, py); ctx.lineTo(size, py); ctx.stroke();
    }
    for (const stroke of model.get("strokes")) drawStroke(stroke);
    if (current) drawStroke(current);
    if (!model.get("strokes").length && !current) {
      ctx.fillStyle = "#777"; ctx.font = "13px sans-serif"; ctx.textAlign = "center";
      ctx.fillText("draw here: each stroke or click is a mode", size / 2, size / 2 - 8);
    }
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !e.isPrimary) return;  // the left button or one finger; a second finger is ignored
    canvas.setPointerCapture(e.pointerId);
    current = [toPlane(e)];
    draw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current || !e.isPrimary) return;
    if (e.buttons === 0) { finish(); return; }  // released where no pointerup reached us (e.g. a context menu)
    const p = toPlane(e), last = current[current.length - 1];
    const [ax, ay] = toPixel(p), [bx, by] = toPixel(last);
    if (Math.hypot(ax - bx, ay - by) >= 3) { current.push(p); draw(); }  // a point every 3 px is enough
  });
  function finish() {
    if (!current) return;
    model.set("strokes", [...model.get("strokes"), current]);
    current = null;
    model.save_changes();
    draw();
  }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  model.on("change:strokes", draw);
  draw();
  return () => model.off("change:strokes", draw);  // a view removed stops listening
}
export default { render };
"""


class SketchPad(anywidget.AnyWidget):
    """A square canvas over the plane ``extent``; ``strokes`` holds what was drawn, in plane coordinates.

    Attributes:
        strokes: a list of strokes, each a list of [x, y] points (the mouse's path; one point for a click).
        extent: the plane window (x_min, x_max, y_min, y_max) the canvas shows (the toy lab's).
        size: the canvas side in pixels.
    """

    _esm = _ESM
    strokes = traitlets.List([]).tag(sync=True)
    extent = traitlets.List([-3.0, 3.0, -3.0, 3.0]).tag(sync=True)
    size = traitlets.Int(240).tag(sync=True)

    @traitlets.validate("strokes")
    def _valid_strokes(self, proposal) -> list:
        """Every stroke as a list of [x, y] float pairs; anything else is refused with what was wrong."""
        strokes = []
        for i, stroke in enumerate(proposal["value"]):
            try:
                points = [[float(x), float(y)] for x, y in stroke]
            except (TypeError, ValueError) as err:
                raise traitlets.TraitError(f"stroke {i} must be a list of (x, y) number pairs; got {stroke!r:.80} "
                                           f"({err}).") from None
            if not points or not all(math.isfinite(v) for p in points for v in p):
                raise traitlets.TraitError(f"stroke {i} must hold at least one point, all finite; got {points!r:.80}.")
            strokes.append(points)
        return strokes

    def undo(self) -> None:
        """Remove the last stroke."""
        self.strokes = self.strokes[:-1]

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes = []
