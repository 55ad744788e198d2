"""What a student sees: the widgets in JupyterLab, Jupyter Notebook 7 and Voilà, driven by headless Chromium.

Each test starts its own server on 127.0.0.1 (random free port, token on),
opens a notebook, runs it, moves a control with the keyboard or a click and
checks that the picture changed. Screenshots land in artifacts/browser/.
"""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from jupyter_browser import CHROMIUM, browser, dismiss_dialogs, run_all_cells, server

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "artifacts" / "browser"
if CHROMIUM is None:
    pytestmark = [pytestmark,
                  pytest.mark.skip(reason="chromium not installed (apt-get install chromium; .ci/run does)")]
pytest.importorskip("playwright", reason="playwright not installed (pip install -r requirements-dev.txt)")

# The image and the slider-to-image latency are read in the page itself (performance.now()).
WATCH_IMG = """([sel, idx]) => {
  const img = document.querySelectorAll(sel)[idx];
  window.__changed = null;
  new MutationObserver(() => { if (window.__changed === null) window.__changed = performance.now(); })
    .observe(img, {attributes: true, attributeFilter: ['src']});
  return img.src;
}"""


@pytest.fixture
def workdir(tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    return tmp_path


def _toy_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from gan_lab.widgets.toylab import toy_lab_widget\n"
                                          "lab = toy_lab_widget(dataset='ring', steps_per_frame=5)\nlab")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@contextmanager
def _toy_lab(workdir: Path, ui: str, ready: str):
    """A notebook that shows the toy lab, opened and run in front end ``ui``; yields the page and the locator
    ``ready`` (a CSS selector inside the output) once it is there and no dialog is in the way."""
    _toy_notebook(workdir / "toy.ipynb")
    with server(ui, workdir) as (url, token), browser() as page:
        page.goto(f"{url}/{FRONT_ENDS[ui]}/toy.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        run_all_cells(page)
        control = page.locator(ready)
        control.wait_for(state="visible", timeout=180_000)
        dismiss_dialogs(page)
        control.scroll_into_view_if_needed()
        yield page, control


def _move_slider_and_time(page, img_selector: str, img_index: int = 0, pixels: int = 40) -> float:
    """Drag the first slider's handle to the right with the mouse; return the ms from the drag to the image's new src.

    A drag, not arrow keys: Notebook 7 keeps keyboard focus on the notebook, so key presses would move
    between cells instead of moving the slider.
    """
    before = page.evaluate(WATCH_IMG, [img_selector, img_index])
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    t0 = page.evaluate("performance.now()")
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=4)
    page.mouse.up()
    try:
        page.wait_for_function("() => window.__changed !== null", timeout=30_000)
    finally:  # what the page showed, also when the image never changed
        page.screenshot(path=str(SHOTS / "last_slider_move.png"))
    after = page.locator(img_selector).nth(img_index).get_attribute("src")
    assert after != before, "the generated image did not change after the slider moved"
    return page.evaluate("window.__changed") - t0


#: the two front ends a course meets: JupyterLab, and Jupyter Notebook 7 (what many JupyterHubs serve)
FRONT_ENDS = {"lab": "lab/tree", "notebook": "notebooks"}


@pytest.mark.parametrize("ui", FRONT_ENDS)
def test_latent_explorer_in_jupyter(workdir, ui):
    shutil.copy(REPO / "notebooks" / "explore.ipynb", workdir / "explore.ipynb")
    with server(ui, workdir) as (url, token), browser() as page:
        page.goto(f"{url}/{FRONT_ENDS[ui]}/explore.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        run_all_cells(page)
        page.wait_for_selector(".jp-OutputArea .widget-slider", state="attached", timeout=240_000)
        page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea img.widget-image').length > 0",
                               timeout=60_000)
        dismiss_dialogs(page)
        latency = _move_slider_and_time(page, ".jp-OutputArea img.widget-image")
        page.screenshot(path=str(SHOTS / f"latent_explorer_{ui}.png"))
        latencies = json.loads((SHOTS / "latency.json").read_text()) if (SHOTS / "latency.json").exists() else {}
        (SHOTS / "latency.json").write_text(json.dumps({**latencies, f"{ui}_slider_to_image_ms": latency}))
        print(f"slider → image in {ui}: {latency:.0f} ms")


@pytest.mark.parametrize("ui", FRONT_ENDS)
def test_toy_lab_step_changes_heat_map(workdir, ui):
    with _toy_lab(workdir, ui, ".jp-OutputArea button:has-text('step D+G')") as (page, step):
        before = page.evaluate(WATCH_IMG, [".jp-OutputArea img.widget-image", 0])
        for _ in range(3):
            step.click()
        page.wait_for_function("() => window.__changed !== null", timeout=30_000)
        after = page.locator(".jp-OutputArea img.widget-image").first.get_attribute("src")
        assert after != before, "the heat map did not change after 'step D+G'"
        page.screenshot(path=str(SHOTS / f"toy_lab_{ui}.png"))


def test_voila_lecture_mode(workdir):
    shutil.copy(REPO / "notebooks" / "explore.ipynb", workdir / "explore.ipynb")
    with server("voila", workdir, notebook="explore.ipynb") as (url, token), browser() as page:
        page.goto(f"{url}/?token={token}", timeout=300_000)
        page.wait_for_selector(".widget-slider", state="attached", timeout=300_000)
        page.wait_for_function("() => document.querySelectorAll('img.widget-image').length > 0", timeout=60_000)
        code = page.get_by_text("LatentExplorer(dcgan.generator")
        assert code.count() == 0 or not code.first.is_visible(), "Voilà showed the notebook's code"
        latency = _move_slider_and_time(page, "img.widget-image")
        page.screenshot(path=str(SHOTS / "latent_explorer_voila.png"), full_page=True)
        print(f"slider → image in Voilà: {latency:.0f} ms")


def test_voila_refuses_without_token(workdir):
    shutil.copy(REPO / "notebooks" / "explore.ipynb", workdir / "explore.ipynb")
    import urllib.error
    import urllib.request

    with server("voila", workdir, notebook="explore.ipynb") as (url, _token):
        try:
            response = urllib.request.urlopen(f"{url}/", timeout=60)
        except urllib.error.HTTPError as err:  # refused outright
            assert err.code in (401, 403)
        else:  # or sent to the login page instead of the notebook
            assert "/login" in response.geturl(), f"Voilà served {response.geturl()} without a token"


def test_toy_lab_slow_motion_and_a_ready_example(workdir):
    """Advance slow motion stage by stage (the caption names each, the picture follows), then load an example."""
    with _toy_lab(workdir, "lab", ".jp-OutputArea button:has-text('next stage')") as (page, stage):
        pictures = []
        for name in ("D before", "D after", "G before", "G after"):
            stage.click()
            page.locator(".jp-OutputArea b", has_text=name).first.wait_for(timeout=30_000)
            pictures.append(page.locator(".jp-OutputArea img.widget-image").first.get_attribute("src"))
            page.screenshot(path=str(SHOTS / f"toy_lab_stage_{name.replace(' ', '_')}.png"))
        assert pictures[2] != pictures[3], "G's update did not move the fakes in the picture"
        example = page.locator(".jp-OutputArea select", has=page.locator("option", has_text="(fresh networks)"))
        example.select_option(label="mode collapse on the ring")
        page.locator(".jp-OutputArea b", has_text="mode collapse on the ring").first.wait_for(timeout=180_000)
        page.screenshot(path=str(SHOTS / "toy_lab_example.png"))


@pytest.mark.parametrize("ui", FRONT_ENDS)
def test_toy_lab_draw_the_real_data_with_the_mouse(workdir, ui):
    """Draw an L and a dot on the sketch pad: the lab trains on the drawing, the big panel shows it; undo works."""
    with _toy_lab(workdir, ui, ".jp-OutputArea canvas.gan-lab-sketch") as (page, pad):
        before = page.evaluate(WATCH_IMG, [".jp-OutputArea img.widget-image", 0])
        box = pad.bounding_box()
        x, y, w = box["x"], box["y"], box["width"]
        page.mouse.move(x + 0.2 * w, y + 0.2 * w)
        page.mouse.down()
        for px, py in ((0.2, 0.8), (0.8, 0.8)):  # an L: down, then right
            page.mouse.move(x + px * w, y + py * w, steps=12)
        page.mouse.up()
        page.mouse.click(x + 0.8 * w, y + 0.2 * w)  # and a dot: a second mode
        page.locator(".jp-OutputArea", has_text="2 stroke(s)").first.wait_for(timeout=30_000)
        page.wait_for_function("() => window.__changed !== null", timeout=30_000)
        assert page.locator(".jp-OutputArea img.widget-image").first.get_attribute("src") != before
        page.wait_for_timeout(1500)  # a few frames of training on the drawing
        page.screenshot(path=str(SHOTS / f"toy_lab_drawing_{ui}.png"))
        page.locator(".jp-OutputArea button", has_text="undo stroke").click()
        page.locator(".jp-OutputArea", has_text="1 stroke(s)").first.wait_for(timeout=30_000)
        page.locator(".jp-OutputArea button", has_text="clear drawing").click()
        page.locator(".jp-OutputArea", has_text="training on ring").first.wait_for(timeout=30_000)
