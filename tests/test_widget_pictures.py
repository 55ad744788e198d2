"""Every widget degrades to a picture: its display carries a PNG of its current state beside the widget view.

So a notebook opened without a widget manager (GitHub, nbviewer, VS Code, an HTML export without widget
state) shows what the widget showed instead of "Could not render content".
"""

import base64
import io

import ipywidgets as widgets
import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from PIL import Image

from gan_lab.models.dcgan import DCGANGenerator
from gan_lab.widgets.latent import LatentExplorer
from gan_lab.widgets.monitor import TrainingMonitor
from gan_lab.widgets.picture import PicturedVBox, snapshot
from gan_lab.widgets.reader_study import real_or_fake_widget
from gan_lab.widgets.segmentation import segmentation_viewer
from gan_lab.widgets.theory import optimal_discriminator_widget, saturation_widget
from gan_lab.widgets.toylab import toy_lab_widget
from gan_lab.widgets.translation import translation_viewer


def _G():
    torch.manual_seed(0)
    return DCGANGenerator(z_dim=8, width=4).eval()


def _segmentation():
    images, masks = torch.rand(3, 1, 16, 16) * 2 - 1, (torch.rand(3, 1, 16, 16) > 0.5).float()
    return segmentation_viewer(images, {"S": torch.rand(3, 1, 16, 16)}, masks)


BUILDERS = {
    "latent explorer": lambda: LatentExplorer(_G(), k=2),
    "training monitor": lambda: TrainingMonitor(_G()),
    "optimal discriminator": optimal_discriminator_widget,
    "saturation": saturation_widget,
    "toy lab": lambda: toy_lab_widget(),
    "real-or-fake reader test": lambda: real_or_fake_widget(torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16), n=4),
    "segmentation viewer": _segmentation,
    "translation viewer": lambda: translation_viewer(torch.rand(4, 1, 16, 16), torch.rand(4, 1, 16, 16),
                                                     {"negate": lambda t: -t}),
}


def _png(bundle) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))


@pytest.mark.parametrize("name", BUILDERS)
def test_the_display_holds_the_widget_view_and_a_picture_of_it(name):
    widget = BUILDERS[name]()
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    picture = _png(bundle)
    assert picture.width >= 16 and picture.height >= 16


def test_the_picture_follows_the_widgets_state():
    explorer = LatentExplorer(_G(), k=2)
    before = explorer._repr_mimebundle_()["image/png"]
    explorer.sliders[0].value = explorer.sliders[0].max
    assert explorer._repr_mimebundle_()["image/png"] != before


def test_boxes_are_laid_out_as_they_are_shown():
    def panel(colour, size):
        buffer = io.BytesIO()
        Image.new("RGB", size, colour).save(buffer, "png")
        return widgets.Image(value=buffer.getvalue(), format="png")
    side_by_side = snapshot(widgets.HBox([panel("red", (10, 8)), panel("blue", (6, 12))]))
    stacked = snapshot(PicturedVBox([panel("red", (10, 8)), widgets.IntSlider(), panel("blue", (6, 12))]))
    assert side_by_side.size == (10 + 4 + 6, 12) and stacked.size == (10, 8 + 4 + 12)
    assert snapshot(widgets.VBox([widgets.IntSlider()])) is None  # no image: no picture, only the widget


def test_an_html_export_without_widget_state_shows_the_pictures(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from gan_lab.widgets.theory import saturation_widget\nsaturation_widget()")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    data = nb.cells[0].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data and "image/png" in data
    nb.metadata.pop("widgets", None)  # as GitHub, nbviewer or a copy without the saved widget state sees it
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "data:image/png;base64," + data["image/png"][:40] in html.replace("\n", "")
