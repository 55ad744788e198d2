"""The reference run's numbers beside the student's own.

Every result a notebook talks about is computed by the run in front of the student. Where a comparison
helps ("is my FID of 9 bad?"), the cell also calls :func:`compare`, which prints each of the run's
numbers next to the number the *reference run* got: the same notebook executed top to bottom in full
mode, with the notebook's own seeds, by ``scripts/reference_values.py``. That script writes
``reference_values.json`` beside this module, the one place these values live; the notebooks' prose
quotes none of them. ``tests/test_reference_values.py`` checks that the quantities the notebooks compare
and those in the file are the same, so a renamed or new quantity fails until the script is run again.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

from .. import config

#: the reference run's values, written by ``scripts/reference_values.py`` (never by hand)
FILE = Path(__file__).with_name("reference_values.json")


@cache
def reference_values(path: Path = FILE) -> dict:
    """The file's contents: ``{"measured": {...how and where...}, "notebooks": {stem: {quantity: value}}}``."""
    if not path.is_file():
        return {"measured": {}, "notebooks": {}}
    return json.loads(path.read_text())


def _check(notebook: str, values: dict) -> None:
    if not (isinstance(notebook, str) and notebook):
        raise ValueError(f"notebook must be the notebook's file name without .ipynb, e.g. '02_vanilla_gan'; "
                         f"not {notebook!r}.")
    if not (isinstance(values, dict) and values):
        raise ValueError("values must be a non-empty dict {quantity: number}, e.g. {'DCGAN FID': 5.3}.")
    bad = {k: v for k, v in values.items() if not isinstance(k, str) or not isinstance(v, (int, float))}
    if bad:
        raise ValueError(f"{bad}: every quantity must be a string naming it and every value a number "
                         "(call .item() on a tensor).")


def _record(notebook: str, values: dict) -> None:
    """Append this result to ``$GAN_LAB_RECORD_REFERENCE`` (one JSON object per line), if recording."""
    path = config.reference_record_path()
    if path is None:
        return
    line = {"notebook": notebook, "mode": "fast" if config.fast_mode() else "full",
            "values": {k: float(v) for k, v in values.items()}}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def compare(notebook: str, values: dict[str, float], digits: int = 2) -> None:
    """Print each quantity of this run beside the reference run's (— where the file has none yet).

    Args:
        notebook: the notebook's file name without ``.ipynb``, e.g. "02_vanilla_gan".
        values: quantity → this run's value; the quantity names are the keys of the reference file.
        digits: decimals shown.

    Example:
        >>> compare("02_vanilla_gan", {"DCGAN FID": 5.31})  # doctest: +SKIP
        quantity       your run   reference run
        DCGAN FID          5.31            5.60
    """
    _check(notebook, values)
    _record(notebook, values)
    reference = reference_values()["notebooks"].get(notebook, {})
    width = max(len("quantity"), *(len(k) for k in values))
    print(f"{'quantity':{width}s} {'your run':>10s} {'reference run':>14s}")
    for quantity, value in values.items():
        print(f"{quantity:{width}s} {_fmt(float(value), digits):>10s} {_fmt(reference.get(quantity), digits):>14s}")
    measured = reference_values()["measured"]
    note = (f"reference run: this notebook in full mode on {measured['data']}, {measured['machine']}, "
            f"{measured['date']}" if measured else "no reference run recorded yet (scripts/reference_values.py)")
    if config.fast_mode():
        note += "; this run is FAST mode (a few steps), so expect it to be far behind"
    print(f"({note})")
