"""Where the course notebooks are, and copying them out of an installation into a course folder.

In a repository checkout the notebooks are ``<repo>/notebooks``. A wheel carries them as
package data of ``gan_lab.course.notebooks`` (pyproject.toml maps that package to the
repository's ``notebooks/``), found with :mod:`importlib.resources`, so ``pip install gan_lab``
then ``python -m gan_lab notebooks DEST`` gives a student the whole course.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import tempfile
from pathlib import Path

from .. import config

#: the package that holds the notebooks in a wheel (pyproject.toml: [tool.setuptools.package-dir])
NOTEBOOK_PACKAGE = "gan_lab.course.notebooks"


def notebook_dir() -> Path:
    """The folder of the instructor notebooks: ``<repo>/notebooks`` in a checkout, else the installed copy.

    It may not exist (a broken install); :func:`course_notebooks` says so with the fix.
    """
    if config.IN_REPOSITORY:
        return config.REPO_ROOT / "notebooks"
    package, _, leaf = NOTEBOOK_PACKAGE.rpartition(".")
    folder = importlib.resources.files(package) / leaf
    # a wheel installs as plain files, so this is a real folder; a zipped install has no Path to give
    return Path(str(folder)) if not isinstance(folder, Path) else folder


def notebook_path(stem: str) -> Path:
    """One course notebook by name, e.g. ``notebook_path("explore")``."""
    return notebook_dir() / f"{stem}.ipynb"


def course_notebooks() -> list[Path]:
    """Every ``*.ipynb`` of the course, sorted; a clear error when the installation has none."""
    folder = notebook_dir()
    found = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"No course notebooks in {folder}: this gan_lab installation lacks them. Reinstall it from a wheel "
            "built from the repository (pip install gan_lab-*.whl, or pip install -e . in a checkout).")
    return found


def copy_course(dest: str | os.PathLike, student: bool = False, overwrite: bool = False) -> dict[str, str]:
    """Copy the course notebooks into ``dest``; returns notebook name → what was written.

    Args:
        dest: the folder to fill (created if needed).
        student: write the student copies (solutions replaced by stubs, outputs cleared) instead.
        overwrite: replace notebooks already in ``dest``; otherwise nothing is written when any exists.

    Raises:
        FileNotFoundError: the installation carries no notebooks.
        ValueError: ``dest`` is the installation's own notebook folder.
        FileExistsError: ``dest`` already holds a course notebook and ``overwrite`` is False
            (nothing is written then: a student's work is never half replaced).
    """
    dest = Path(dest)
    sources = course_notebooks()
    if dest.resolve() == sources[0].parent.resolve():
        raise ValueError(f"{dest} is the course's own notebook folder; give another folder to copy the course into.")
    taken = [p.name for p in sources if (dest / p.name).exists()]
    if taken and not overwrite:
        shown = ", ".join(taken[:4]) + (f" and {len(taken) - 4} more" if len(taken) > 4 else "")
        raise FileExistsError(
            f"{dest} already holds {shown}; your own notebooks are never replaced silently. Choose another "
            "folder, or add --overwrite (overwrite=True) to replace them with fresh copies (your changes in "
            "them are lost).")
    dest.mkdir(parents=True, exist_ok=True)
    if not student:
        for path in sources:
            _copy_atomic(path, dest / path.name)
        return {p.name: "instructor notebook" for p in sources}
    from .student import write_student_notebooks

    with tempfile.TemporaryDirectory(dir=dest, prefix=".gan_lab-student-") as tmp:
        report = write_student_notebooks(sources[0].parent, tmp)  # all written before any is moved in place
        for name in report:
            os.replace(Path(tmp) / name, dest / name)
    return {name: f"student copy, {n} solution(s) stubbed" for name, n in report.items()}


def _copy_atomic(src: Path, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
