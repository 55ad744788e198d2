"""nbgrader support: every exercise is an answer cell plus an autograded check, and nbgrader grades the course."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gan_lab.course.grading import GradingError, assert_checks, grading_notebook
from gan_lab.course.student import BEGIN, END, INSTRUCTOR_ONLY, student_notebook

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _nb(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(c[3:]) if c.startswith("md:") else nbformat.v4.new_code_cell(c)
                for c in cells]
    return nb


def test_checks_become_asserts():
    assert assert_checks("ex.check_slerp(my_slerp);") == "assert ex.check_slerp(my_slerp)"
    assert assert_checks("fb = ex.check_x(f)\nprint(1)") == "fb = ex.check_x(f)\nassert fb\nprint(1)"
    assert assert_checks("assert ex.check_x(f)") == "assert ex.check_x(f)"  # already a test


def test_metadata_of_an_exercise():
    nb = grading_notebook(_nb("import x", "md:**1.** Do it.", f"def f():\n    {BEGIN}\n    return 1\n    {END}\n\n\n"
                              "ex.check_f(f);", "md:**2.**", f"{BEGIN}\na = 1\n{END}", "ex.check_f(a);"))
    kinds = [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]
    assert kinds[0] == ("code", "import x", None)
    assert kinds[1][2] == {"grade": False, "grade_id": "f_task", "locked": True, "schema_version": 3,
                           "solution": False}
    assert kinds[2][1].endswith(END) and kinds[2][2]["solution"] and kinds[2][2]["grade_id"] == "f_answer"
    assert kinds[3][1] == "assert ex.check_f(f)"  # split off into its own cell
    assert kinds[3][2] == {"grade": True, "grade_id": "f_check", "locked": True, "points": 1, "schema_version": 3,
                           "solution": False}
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells[4:]] == ["f_2_task", "f_2_answer", "f_2_check"]
    assert grading_notebook(nb) == nb  # stable: a second pass changes nothing
    nbformat.validate(nb)


def test_an_exercise_without_a_check_is_graded_by_hand():
    nb = grading_notebook(_nb(f"{BEGIN}\na = 1\n{END}", "print(a)"))
    meta = nb.cells[0].metadata["nbgrader"]
    assert meta["solution"] and meta["grade"] and meta["grade_id"] == f"manual_{nb.cells[0].id}"
    del nb.cells[0]["id"]
    with pytest.raises(GradingError, match="no check cell"):
        grading_notebook(nb)


def test_a_written_answer_is_graded_by_hand():
    nb = grading_notebook(_nb("md:**1.** Explain.", f"md:*Your explanation:*\n\n{BEGIN}\nBecause.\n{END}", "x = 1"))
    assert "nbgrader" not in nb.cells[0].metadata  # the statement of a written answer is plain text
    assert nb.cells[1].metadata["nbgrader"] == {"grade": True, "grade_id": f"manual_{nb.cells[1].id}", "locked": False,
                                                "points": 1, "schema_version": 3, "solution": True}
    student, n = student_notebook(nb)
    assert n == 1 and student.cells[1].source == "*Your explanation:*\n\nYOUR ANSWER HERE\n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_metadata_is_what_grading_notebook_writes(path):
    nb = nbformat.read(path, as_version=4)
    expected = grading_notebook(nb, path.name)
    assert [(c.cell_type, c.source, c.metadata) for c in nb.cells] == \
        [(c.cell_type, c.source, c.metadata) for c in expected.cells], \
        "run gan_lab.course.grading.write_grading_metadata on this notebook"
    nbformat.validate(nb)
    solutions = [c for c in nb.cells if c.cell_type == "code" and BEGIN in c.source]
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and BEGIN not in c.source]
    by_hand = [c for c in solutions if c.metadata["nbgrader"]["grade"]]
    assert len(checks) + len(by_hand) == len(solutions)  # every exercise is graded
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    validator = pytest.importorskip("nbgrader.nbgraderformat")
    validator.MetadataValidator().validate_nb(nb)


def test_student_copy_has_no_instructor_text():
    path = REPO / "notebooks" / "01_minimax_game.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert any(INSTRUCTOR_ONLY in c.metadata.get("tags", []) for c in nb.cells)
    student, _ = student_notebook(nb, path.name)
    text = "\n".join(c.source for c in student.cells)
    assert "SOLUTION" not in text and "Instructor" not in text and "A model answer" not in text
    assert "YOUR ANSWER HERE" in text  # exercise 8's written explanation
    assert not any(INSTRUCTOR_ONLY in c.metadata.get("tags", []) for c in student.cells)


# ------------------------------------------------------------------------------------------ nbgrader end to end
GRADED = ["01_minimax_game.ipynb", "02_vanilla_gan.ipynb"]


def _nbgrader(course: Path, *args: str, timeout: float = 240) -> None:
    # nbgrader runs `alembic` from PATH: put this interpreter's scripts first (a venv used without activating it)
    env = {**os.environ, "GAN_LAB_FAST": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_nbgrader_generates_and_autogrades_the_course(tmp_path):
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    source = course / "source" / "gan"
    source.mkdir(parents=True)
    for name in GRADED:
        shutil.copy(REPO / "notebooks" / name, source / name)
    (course / "nbgrader_config.py").write_text(
        "from gan_lab.course.grading import configure_nbgrader\n"
        "c = get_config()\nconfigure_nbgrader(c)\n"
        "c.CourseDirectory.course_id = 'gan_lab'\n"
        "c.Execute.timeout = 240\n")
    _nbgrader(course, "generate_assignment", "gan", timeout=120)
    release = course / "release" / "gan"
    for name in GRADED:
        student = nbformat.read(release / name, as_version=4)
        text = "\n".join(c.source for c in student.cells)
        assert "SOLUTION" not in text and "Instructor" not in text and "A model answer" not in text
        assert "raise NotImplementedError" in text

    for who, version in [("empty", release), ("ace", source)]:
        shutil.copytree(version, course / "submitted" / who / "gan")
    _nbgrader(course, "autograde", "gan", timeout=600)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in GRADED:
            notebook = name.removesuffix(".ipynb")
            empty = gb.find_submission_notebook(notebook, "gan", "empty")
            ace = gb.find_submission_notebook(notebook, "gan", "ace")
            auto = [g for g in ace.grades if g.name.endswith("_check")]  # the autograded checks
            assert auto and all(g.score == g.max_score > 0 for g in auto), [(g.name, g.score) for g in auto]
            assert all(g.score == 0 for g in empty.grades if g.name.endswith("_check"))
            by_hand = [g for g in ace.grades if g.name.startswith("manual_")]
            assert all(g.needs_manual_grade for g in by_hand)  # open exercises and written answers wait for a person
    written = nbformat.read(release / GRADED[0], as_version=4)
    assert any(c.cell_type == "markdown" and "YOUR ANSWER HERE" in c.source for c in written.cells)
