"""The first cell of every course notebook: it makes the notebook run in Colab and in a fresh environment.

Where gan_lab is installed (a lab machine, JupyterLab, Notebook 7, VS Code) the cell does nothing.
Where it is missing (a fresh Colab runtime) it installs it from ``GAN_LAB_SOURCE``: the
course's copy, a git URL or a wheel, set in the cell or in the environment. In Colab it also
turns on Colab's custom widget manager, without which ipywidgets (sliders, buttons) do not show.

The cell cannot import gan_lab (it may not be installed yet), so it is plain text here,
written into the notebooks by :func:`with_first_cell` and checked by the tests.
"""

from __future__ import annotations

import nbformat

#: the text of the first code cell of every notebook
FIRST_CELL = '''\
# Colab or a fresh environment: install gan_lab if it is missing; elsewhere this cell does nothing.
import importlib.util
import os
import subprocess
import sys

GAN_LAB_SOURCE = os.environ.get("GAN_LAB_SOURCE", "")  # your course's copy: "git+https://…" or a wheel
if importlib.util.find_spec("gan_lab") is None:
    if not GAN_LAB_SOURCE:
        raise RuntimeError("gan_lab is not installed here: set GAN_LAB_SOURCE in this cell to your course's "
                           "copy (a git URL or a wheel) and run it again, or `pip install` it yourself.")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", GAN_LAB_SOURCE])
if "google.colab" in sys.modules:  # Colab draws ipywidgets only through its custom widget manager
    from google.colab import output
    output.enable_custom_widget_manager()'''

#: marks the cell, so it is found again (and replaced, not duplicated, when its text changes)
TAG = "gan_lab-first-cell"


def is_first_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def with_first_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with :data:`FIRST_CELL` as its first code cell (after the title), replacing an older copy."""
    nb.cells = [c for c in nb.cells if not is_first_cell(c)]
    cell = nbformat.v4.new_code_cell(FIRST_CELL, metadata={"tags": [TAG]})
    position = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(position, cell)
    return nb
