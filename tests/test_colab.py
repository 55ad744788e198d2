"""The first cell of every notebook: nothing where gan_lab is installed; in Colab, install it and turn widgets on."""

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from gan_lab.course.colab import FIRST_CELL, is_first_cell, with_first_cell

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture
def world(monkeypatch):
    """Stand-ins: a google.colab module that records the widget manager call, pip that records installs."""
    calls = {"pip": [], "widgets": 0}

    def enable_custom_widget_manager():
        calls["widgets"] += 1

    def set_up(colab: bool, installed: bool, source: str = ""):
        if colab:
            output = types.SimpleNamespace(enable_custom_widget_manager=enable_custom_widget_manager)
            monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
            monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
        else:
            monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: (real_find_spec(name, *a) if installed or name != "gan_lab" else None))
        monkeypatch.setattr(subprocess, "check_call", lambda cmd: calls["pip"].append(cmd))
        monkeypatch.setenv("GAN_LAB_SOURCE", source)
        return calls
    return set_up


def test_in_colab_without_gan_lab_it_installs_it_and_turns_widgets_on(world):
    calls = world(colab=True, installed=False, source="git+https://example.org/course/gan_lab")
    exec(FIRST_CELL, {})
    assert calls["pip"] == [[sys.executable, "-m", "pip", "install", "-q", "git+https://example.org/course/gan_lab"]]
    assert calls["widgets"] == 1


def test_without_a_source_it_says_what_to_set(world):
    world(colab=True, installed=False)
    with pytest.raises(RuntimeError, match="set GAN_LAB_SOURCE"):
        exec(FIRST_CELL, {})


def test_where_gan_lab_is_installed_it_does_nothing_but_colabs_widgets(world):
    calls = world(colab=False, installed=True)
    exec(FIRST_CELL, {})
    assert calls == {"pip": [], "widgets": 0}
    calls = world(colab=True, installed=True)
    exec(FIRST_CELL, {})
    assert calls["pip"] == [] and calls["widgets"] == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_cell(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert is_first_cell(first) and first.source == FIRST_CELL, \
        f"{path.name}: run gan_lab.course.colab.with_first_cell on it (python -m gan_lab ... or a script)"


def test_inserting_twice_keeps_one_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("x")])
    nb = with_first_cell(with_first_cell(nb))
    assert [is_first_cell(c) for c in nb.cells] == [False, True, False] and nb.cells[2].source == "x"
