"""Student notebooks: solutions stubbed, checks kept; checks fail on stubs and pass on solutions."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbformat
import pytest

import gan_lab.exercises
from gan_lab.cli import main
from gan_lab.course.student import BEGIN, END, SolutionMarkerError, strip_solutions, student_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
EXERCISE_MODULES = [m.name for m in pkgutil.iter_modules(gan_lab.exercises.__path__) if m.name != "core"]


def test_strip_keeps_indentation_and_the_rest():
    source = f"def f(x):\n    {BEGIN}\n    return 2 * x\n    {END}\n\nprint(f)\n"
    out, n = strip_solutions(source)
    assert n == 1
    assert "2 * x" not in out and BEGIN not in out
    assert "    raise NotImplementedError" in out and out.endswith("print(f)\n")
    compile(out, "<cell>", "exec")  # still valid Python


def test_unbalanced_markers_are_an_error():
    with pytest.raises(SolutionMarkerError, match="BEGIN SOLUTION"):
        strip_solutions(f"{BEGIN}\nx = 1\n")


def _exercise_cells(nb) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code" and BEGIN in c.source]


def test_every_notebook_with_exercises_has_solutions():
    with_solutions = [p.name for p in NOTEBOOKS if _exercise_cells(nbformat.read(p, as_version=4))]
    assert len(with_solutions) >= 5, with_solutions


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_copy_is_valid_and_has_no_solutions(path):
    nb = nbformat.read(path, as_version=4)
    student, n = student_notebook(nb, path.name)
    nbformat.validate(student)
    assert n == sum(c.source.count(BEGIN) for c in nb.cells)  # code and written answers
    assert not _exercise_cells(student), "a solution marker survived"
    assert not any(BEGIN in c.source for c in student.cells if c.cell_type == "markdown")
    for cell in student.cells:
        if cell.cell_type == "code":
            # stubs leave valid Python (IPython's %magic and !shell lines are not Python: commented out)
            lines = ["#" + line if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
            compile("\n".join(lines), path.name, "exec")


@pytest.fixture
def verdicts(monkeypatch):
    """Record what every ``check_*`` function of the exercise modules returns."""
    seen: list[bool] = []
    for name in EXERCISE_MODULES:
        module = importlib.import_module(f"gan_lab.exercises.{name}")
        for attr in [a for a in dir(module) if a.startswith("check_")]:
            original = getattr(module, attr)

            def wrapped(*args, __f=original, **kwargs):
                result = __f(*args, **kwargs)
                seen.append(bool(result))
                return result

            monkeypatch.setattr(module, attr, wrapped)
    return seen


def _imports(nb) -> str:
    """The notebook's top-level import lines: enough context for an exercise cell."""
    statements = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        statements += [ast.get_source_segment(source, node) for node in tree.body
                       if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(statements)


def _run_cell(source: str, namespace: dict) -> bool:
    """Execute an exercise cell; False when it raised NotImplementedError (a stub at top level).

    A failed ``assert ex.check_…`` (the nbgrader test cell) counts as run: the verdicts say how it went.
    """
    try:
        exec(compile(source, "<exercise>", "exec"), namespace)
    except NotImplementedError:
        return False
    except AssertionError:
        pass
    return True


CASES = [(p, i) for p in NOTEBOOKS for i, _ in _exercise_cells(nbformat.read(p, as_version=4))]


@pytest.mark.parametrize("path,index", CASES, ids=[f"{p.stem}-cell{i}" for p, i in CASES])
def test_checks_pass_on_solutions_and_fail_on_stubs(path, index, verdicts, capsys):
    nb = nbformat.read(path, as_version=4)
    if nb.cells[index].metadata.get("nbgrader", {}).get("grade"):
        pytest.skip("an open exercise, graded by hand: no check to run")
    context = _imports(nb)
    student, _ = student_notebook(nb, path.name)
    solution = nb.cells[index].source
    stub = next(c.source for c in student.cells if c.id == nb.cells[index].id)  # instructor-only cells are gone
    if "check" not in solution:  # the check sits in the next code cell
        nxt = next(c.source for c in nb.cells[index + 1:] if c.cell_type == "code")
        solution, stub = f"{solution}\n{nxt}", f"{stub}\n{nxt}"
    namespace: dict = {}
    exec(context, namespace)
    assert _run_cell(solution, namespace), "the solution cell raised"
    assert verdicts and all(verdicts), f"a check failed on the instructor's solution: {capsys.readouterr().out}"
    verdicts.clear()
    namespace = {}
    exec(context, namespace)
    ran = _run_cell(stub, namespace)
    assert not ran or (verdicts and not any(verdicts)), "a check passed on the student's stub"


def test_cli_writes_student_notebooks(tmp_path, capsys):
    assert main(["student-notebooks", str(tmp_path / "student")]) == 0
    written = sorted(p.name for p in (tmp_path / "student").glob("*.ipynb"))
    assert written == [p.name for p in NOTEBOOKS]
    assert "solution(s) replaced" in capsys.readouterr().out


def test_cli_refuses_to_overwrite_the_instructor_notebooks(capsys):
    assert main(["student-notebooks", str(NOTEBOOKS[0].parent)]) == 2
    assert "must differ" in capsys.readouterr().err
