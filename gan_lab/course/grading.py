"""nbgrader metadata for the course notebooks: answers, autograded checks, read-only statements.

Every exercise of an instructor notebook is two code cells: the answer, with the solution between
``### BEGIN SOLUTION`` / ``### END SOLUTION``, and right after it the check, ``assert ex.check_NAME(answer)``
(a :class:`~gan_lab.exercises.core.Feedback` is falsy when wrong, so the assert fails and nbgrader gives
no points; run normally the check still prints its ✓ / ✗ verdict first). :func:`grading_notebook` finds
these cells and writes nbgrader's cell metadata (schema 3):

* the answer cell: ``solution``, grade_id ``NAME_answer``;
* the check cell: ``grade`` and ``locked`` with :data:`POINTS` points, grade_id ``NAME_check``;
* the markdown statement just above the answer, where there is one: ``locked`` (read-only), ``NAME_task``.
* an answer with no check after it (an open exercise): ``solution`` and ``grade``, graded by hand in
  nbgrader (\"manually graded answer\"), grade_id ``manual_<cell id>``.
* a written answer: a markdown cell whose model answer stands between the same two markers (the prompt
  outside them stays for the student; nbgrader puts "YOUR ANSWER HERE" in their place): graded by hand
  like an open exercise, grade_id ``manual_<cell id>``.

grade_ids come from the checker's name, so they stay put when cells are added elsewhere. An older-style
cell holding both the solution and the check is split in two, and a bare check call becomes an assert.

Markdown cells tagged :data:`INSTRUCTOR_ONLY` are for the instructor: ``student-notebooks`` drops them, and
so does ``nbgrader generate_assignment`` once :func:`configure_nbgrader` is called in ``nbgrader_config.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from .student import BEGIN, END, INSTRUCTOR_ONLY

POINTS = 1
SCHEMA_VERSION = 3
_CHECK = re.compile(r"\bcheck_(\w+)\s*\(")


class GradingError(ValueError):
    """An exercise that cannot be graded: no check cell after its answer, and no cell id to name it by."""


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if grade:
        meta["points"] = POINTS
    return meta


def _manual(cell: nbformat.NotebookNode, name: str, i: int) -> dict:
    """The metadata of an answer graded by hand (an open exercise's code, or a written answer)."""
    if not cell.get("id"):
        raise GradingError(f"{name} cell {i}: an exercise with no check cell after it and no cell id "
                           "(add `assert ex.check_NAME(answer)` in the next code cell, or give the cell an id).")
    return _meta(f"manual_{cell.id}", solution=True, grade=True)


def _is_check_call(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id).startswith("check_"))


def assert_checks(source: str) -> str:
    """The check cell as an nbgrader test: ``ex.check_x(f);`` → ``assert ex.check_x(f)``.

    ``fb = ex.check_x(f)`` keeps the name and gains ``assert fb``; a cell with an assert already is left alone.
    """
    tree = ast.parse(source)
    if any(isinstance(node, ast.Assert) for node in tree.body):
        return source
    lines = source.splitlines()
    for node in reversed(tree.body):  # bottom up, so earlier line numbers stay right
        call = ast.get_source_segment(source, node.value) if isinstance(node, (ast.Expr, ast.Assign)) else None
        if isinstance(node, ast.Expr) and _is_check_call(node.value):
            lines[node.lineno - 1:node.end_lineno] = f"assert {call}".splitlines()
        elif (isinstance(node, ast.Assign) and _is_check_call(node.value) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            lines.insert(node.end_lineno, f"assert {node.targets[0].id}")
    return "\n".join(lines)


def _split(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """(answer, check) when a solution cell also holds its check after the last END marker."""
    lines = cell.source.splitlines()
    last_end = max(i for i, line in enumerate(lines) if END in line)
    tail = "\n".join(lines[last_end + 1:]).strip("\n")
    if not _CHECK.search(tail):
        return None
    return "\n".join(lines[:last_end + 1]), tail


def grading_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of ``nb`` with the nbgrader metadata of every exercise (and any other nbgrader metadata removed)."""
    nb = nbformat.from_dict(nb)  # a deep copy
    cells = []
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
        parts = _split(cell) if cell.cell_type == "code" and BEGIN in cell.source else None
        if parts is None:
            cells.append(cell)
            continue
        cell.source = parts[0]
        cells += [cell, nbformat.v4.new_code_cell(parts[1])]
    nb.cells = cells

    used: set[str] = set()
    for i, cell in enumerate(cells):
        if cell.cell_type == "markdown" and BEGIN in cell.source:  # a written answer, graded by hand
            cell.metadata["nbgrader"] = _manual(cell, name, i)
            continue
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        check = next((c for c in cells[i + 1:] if c.cell_type == "code"), None)
        found = _CHECK.search(check.source) if check is not None and BEGIN not in check.source else None
        if found is None:  # an open exercise: nbgrader's "manually graded answer"
            cell.metadata["nbgrader"] = _manual(cell, name, i)
            continue
        base = exercise = found.group(1)
        n = 2
        while exercise in used:
            exercise, n = f"{base}_{n}", n + 1
        used.add(exercise)
        cell.metadata["nbgrader"] = _meta(f"{exercise}_answer", solution=True)
        check.source = assert_checks(check.source)
        check.metadata["nbgrader"] = _meta(f"{exercise}_check", grade=True, locked=True)
        statement = cells[i - 1] if i else None
        if (statement is not None and statement.cell_type == "markdown"
                and INSTRUCTOR_ONLY not in statement.metadata.get("tags", [])):
            statement.metadata["nbgrader"] = _meta(f"{exercise}_task", locked=True)
    return nb


def write_grading_metadata(paths: list[str | Path]) -> list[Path]:
    """Rewrite each notebook with its nbgrader metadata; returns those that changed."""
    changed = []
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        graded = grading_notebook(nb, path.name)
        if graded != nb:
            nbformat.validate(graded)
            nbformat.write(graded, path)
            changed.append(path)
    return changed


def configure_nbgrader(c) -> None:
    """For ``nbgrader_config.py``: ``generate_assignment`` also drops the instructor-only cells.

    Usage, in the course folder's ``nbgrader_config.py``::

        from gan_lab.course.grading import configure_nbgrader
        configure_nbgrader(get_config())
    """
    from nbconvert.preprocessors import TagRemovePreprocessor
    from nbgrader.converters import GenerateAssignment

    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = {INSTRUCTOR_ONLY}
    defaults = GenerateAssignment.class_traits()["preprocessors"].default()
    c.GenerateAssignment.preprocessors = [TagRemovePreprocessor, *defaults]
