"""Student notebooks: instructor notebooks with every solution replaced by a stub.

Solutions sit between nbgrader's markers, in code cells::

    def optimal_D(p_data, p_g):
        ### BEGIN SOLUTION
        return p_data / (p_data + p_g)
        ### END SOLUTION

The student copy keeps everything else (prose, checks, experiments) and
replaces each marked block by ``raise NotImplementedError(...)`` at the same
indentation, so the checker that follows reports "not implemented yet". A written answer is a
markdown cell with the model answer between the same markers; the student copy has
:data:`TEXT_STUB` there. Cells tagged ``instructor-only`` (notes on the solutions, for the
instructor) are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
INSTRUCTOR_ONLY = "instructor-only"  #: the cell tag of text students do not get
_BLOCK = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*(\n|$)",
                    re.MULTILINE | re.DOTALL)
STUB = "{indent}# YOUR CODE HERE: replace this line with your solution.\n{indent}raise NotImplementedError({msg!r})\n"
TEXT_STUB = "YOUR ANSWER HERE\n"  #: what a written answer's student copy holds (nbgrader's words)


class SolutionMarkerError(ValueError):
    """A cell has unbalanced or nested solution markers."""


def strip_solutions(source: str, where: str = "cell", text: bool = False) -> tuple[str, int]:
    """Replace each marked solution block in ``source``; returns (new source, blocks replaced).

    ``text``: the cell is markdown, so a block becomes :data:`TEXT_STUB` rather than code.
    """
    if source.count(BEGIN) != source.count(END):
        raise SolutionMarkerError(f"{where}: {source.count(BEGIN)} '{BEGIN}' but {source.count(END)} '{END}'.")
    count = 0

    def stub(match: re.Match) -> str:
        nonlocal count
        count += 1
        return TEXT_STUB if text else STUB.format(indent=match.group(1), msg="complete this exercise")

    out = _BLOCK.sub(stub, source)
    if BEGIN in out:
        raise SolutionMarkerError(f"{where}: a '{BEGIN}' marker is nested or out of order.")
    return out, count


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` with solutions stubbed, outputs cleared and instructor-only cells left out.

    Returns:
        (notebook, solutions replaced).
    """
    nb = nbformat.from_dict(nb)  # a deep copy
    nb.cells = [c for c in nb.cells if INSTRUCTOR_ONLY not in c.metadata.get("tags", [])]
    total = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type not in ("code", "markdown"):
            continue
        cell.source, n = strip_solutions(cell.source, f"{name} cell {i}", text=cell.cell_type == "markdown")
        total += n
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb, total


def write_student_notebooks(src_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write a student copy of every ``*.ipynb`` in ``src_dir`` to ``out_dir``.

    Returns:
        notebook file name → number of solutions replaced.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise FileNotFoundError(f"No notebook folder at {src_dir}.")
    if out_dir.resolve() == src_dir.resolve():
        raise ValueError("The output folder must differ from the instructor notebooks' folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for path in sorted(src_dir.glob("*.ipynb")):
        nb, n = student_notebook(nbformat.read(path, as_version=4), path.name)
        nbformat.validate(nb)
        nbformat.write(nb, out_dir / path.name)
        report[path.name] = n
    return report
