"""Widgets that degrade to pictures: a PNG of the widget's current state travels with its view.

A notebook opened where no widget manager runs (GitHub, nbviewer, VS Code without the Jupyter
extension, an HTML export without widget state) cannot draw a widget view and would show
"Could not render content" or nothing. Every gan_lab widget therefore returns, besides the
widget view, an ``image/png`` of what it shows at the moment it is displayed: the front end
that can run the widget shows the widget, any other shows the picture.

The picture is composed from the widget's own image panels (``ipywidgets.Image``), laid out
as its boxes are: an ``HBox``'s children side by side, any other box's children one below the other.
"""

from __future__ import annotations

import base64
import io

import ipywidgets as widgets
from PIL import Image

GAP = 4  # pixels between panels


def snapshot(widget: widgets.Widget) -> Image.Image | None:
    """The picture of ``widget``'s image panels as they are now, or None when it has none."""
    if isinstance(widget, widgets.Image):
        if not widget.value:
            return None
        try:
            return Image.open(io.BytesIO(widget.value)).convert("RGB")
        except OSError:  # e.g. an SVG or an empty placeholder: nothing to draw
            return None
    if isinstance(widget, widgets.Box):
        parts = [p for p in (snapshot(child) for child in widget.children) if p is not None]
        return _join(parts, horizontal=isinstance(widget, widgets.HBox))
    return None


def snapshot_png(widget: widgets.Widget) -> bytes | None:
    """:func:`snapshot` encoded as PNG bytes (None when the widget shows no image)."""
    picture = snapshot(widget)
    if picture is None:
        return None
    buffer = io.BytesIO()
    picture.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _join(parts: list[Image.Image], horizontal: bool) -> Image.Image | None:
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    sizes = [p.size for p in parts]
    if horizontal:
        size = (sum(w for w, _ in sizes) + GAP * (len(parts) - 1), max(h for _, h in sizes))
    else:
        size = (max(w for w, _ in sizes), sum(h for _, h in sizes) + GAP * (len(parts) - 1))
    canvas, offset = Image.new("RGB", size, "white"), 0
    for part in parts:
        canvas.paste(part, (offset, 0) if horizontal else (0, offset))
        offset += (part.width if horizontal else part.height) + GAP
    return canvas


class Pictured:
    """Mixin for a widget class: its display carries a PNG of its current state beside the widget view."""

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        png = snapshot_png(self)
        if data is not None and png is not None:
            data["image/png"] = base64.b64encode(png).decode("ascii")
        return data


class PicturedVBox(Pictured, widgets.VBox):
    """A ``VBox`` that degrades to a picture of its image panels."""
