"""The course from an installed package: the wheel's contents, where data goes, ``python -m gan_lab notebooks``.

The slow test builds the wheel, installs it into a fresh virtual environment outside the
repository (torch & co. borrowed from this one through a ``.pth`` file, nothing reinstalled),
copies the course out with ``python -m gan_lab notebooks`` and executes 00_start_here in FAST
mode there, timing install → first notebook.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import pytest

from gan_lab import cli, config
from gan_lab.course import materials

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


# ------------------------------------------------------------------------------------------ what the wheel holds
def test_every_gan_lab_package_is_listed_for_the_wheel():
    on_disk = {".".join(p.relative_to(REPO).parts) for p in (REPO / "gan_lab").rglob("*")
               if p.is_dir() and p.name != "__pycache__" and not p.name.startswith(".") and any(p.glob("*.py"))}
    on_disk.add("gan_lab")
    listed = set(SETUPTOOLS["packages"])
    missing = sorted(on_disk - listed)
    assert not missing, (f"gan_lab packages missing from [tool.setuptools] packages in pyproject.toml (the wheel "
                         f"would lack them): {', '.join(missing)}; add them there.")
    mapped = SETUPTOOLS.get("package-dir", {})
    stale = sorted(p for p in listed - on_disk if p not in mapped)
    assert not stale, f"pyproject.toml lists packages that do not exist: {', '.join(stale)}"


def test_the_notebooks_ship_as_package_data():
    assert SETUPTOOLS["package-dir"] == {materials.NOTEBOOK_PACKAGE: "notebooks"}
    assert materials.NOTEBOOK_PACKAGE in SETUPTOOLS["packages"]
    assert SETUPTOOLS["package-data"][materials.NOTEBOOK_PACKAGE] == ["*.ipynb"]
    assert not (REPO / "gan_lab" / "course" / "notebooks").exists()  # it exists only inside the wheel


def test_the_dependencies_are_requirements_txt():
    lines = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = [re.sub(r"\s+#.*", "", line).strip() for line in lines]
    wanted = [w for w in wanted if w and not w.startswith(("#", "-"))]
    assert PYPROJECT["project"]["dependencies"] == wanted, "pyproject.toml's dependencies differ from requirements.txt"


# ------------------------------------------------------------------------------------------------ where data goes
def test_data_goes_to_the_repository_in_a_checkout_and_to_a_user_folder_otherwise(tmp_path):
    assert config.IN_REPOSITORY and config.is_repository(REPO)
    assert not config.is_repository(tmp_path)
    env = {"HOME": str(tmp_path)}
    assert config.home_dir(True, env) == (config.REPO_ROOT, "repository checkout")
    home, reason = config.home_dir(False, env, "linux")
    assert home == tmp_path / ".local" / "share" / "gan_lab" and reason.startswith("installed")
    xdg = config.home_dir(False, {**env, "XDG_DATA_HOME": str(tmp_path / "x")}, "linux")[0]
    assert xdg == tmp_path / "x" / "gan_lab"
    assert config.home_dir(False, env, "darwin")[0] == tmp_path / "Library" / "Application Support" / "gan_lab"
    windows = config.home_dir(False, {**env, "LOCALAPPDATA": str(tmp_path / "Local")}, "win32")[0]
    assert windows == tmp_path / "Local" / "gan_lab"
    for in_repository in (True, False):
        assert config.home_dir(in_repository, {**env, "GAN_LAB_HOME": str(tmp_path / "h")}) == \
            (tmp_path / "h", "GAN_LAB_HOME")
    # today's paths in this checkout (the test session sets no GAN_LAB_HOME)
    if "GAN_LAB_HOME" not in os.environ:
        assert config.CHECKPOINT_DIR == config.DATA_DIR / "checkpoints"


def test_notebooks_come_from_the_repository_here_and_from_the_package_when_installed(monkeypatch):
    assert materials.notebook_dir() == REPO / "notebooks"
    assert materials.notebook_path("explore") == REPO / "notebooks" / "explore.ipynb"
    monkeypatch.setattr(config, "IN_REPOSITORY", False)
    assert materials.notebook_dir() == REPO / "gan_lab" / "course" / "notebooks"  # importlib.resources
    with pytest.raises(FileNotFoundError, match="lacks them. Reinstall it"):
        materials.course_notebooks()


def test_explore_and_pretrain_use_the_same_notebook_folder(monkeypatch, capsys, tmp_path):
    assert cli.main(["explore", "--dry-run"]) == 0
    assert str(REPO / "notebooks" / "explore.ipynb") in capsys.readouterr().out
    from gan_lab.course import pretrained

    ran = []
    monkeypatch.setattr(pretrained, "run_notebook", ran.append)
    monkeypatch.setattr(materials, "notebook_dir", lambda: tmp_path)
    pretrained.PRETRAINED["04_cyclegan"].train()
    assert ran == [tmp_path / "04_cyclegan.ipynb"]


def test_doctor_says_where_data_goes_and_where_the_notebooks_are(monkeypatch):
    from gan_lab.cli import doctor

    ok, found, _ = doctor.check_paths()
    assert ok and "repository checkout" in found and str(config.DATA_DIR) in found
    assert f"{len(list((REPO / 'notebooks').glob('*.ipynb')))} course notebooks in {REPO / 'notebooks'}" in found
    monkeypatch.setattr(config, "IN_REPOSITORY", False)  # an install without its notebooks
    ok, found, fix = doctor.check_paths()
    assert not ok and "0 course notebooks" in found and "reinstall" in fix


# ------------------------------------------------------------------------------------- python -m gan_lab notebooks
def test_notebooks_copies_the_course_and_never_overwrites_silently(tmp_path, capsys):
    dest = tmp_path / "my course"
    names = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert cli.main(["notebooks", str(dest)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in dest.glob("*.ipynb")) == names
    assert (dest / "00_start_here.ipynb").read_bytes() == (REPO / "notebooks" / "00_start_here.ipynb").read_bytes()
    assert f"{len(names)} notebooks written to {dest}" in out and "jupyter lab --notebook-dir" in out
    shown = out.split("--notebook-dir", 1)[1].splitlines()[0]
    assert "'" in shown or '"' in shown  # a folder with a space comes quoted

    mine = dest / "01_minimax_game.ipynb"
    mine.write_text("my answers", encoding="utf-8")
    assert cli.main(["notebooks", str(dest), "--student"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds" in err and "--overwrite" in err
    assert mine.read_text(encoding="utf-8") == "my answers"  # nothing was written

    assert cli.main(["notebooks", str(dest), "--student", "--overwrite"]) == 0
    assert "solution(s) stubbed" in capsys.readouterr().out
    student = nbformat.read(mine, as_version=4)
    assert any("NotImplementedError" in c.source for c in student.cells if c.cell_type == "code")
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_notebooks_refuses_a_file_and_the_course_folder_itself(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert cli.main(["notebooks", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert cli.main(["notebooks", str(REPO / "notebooks"), "--overwrite"]) == 2
    assert "the course's own notebook folder" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- from the wheel, end to end
def _build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the source (the repository gets no build/ or egg-info from this test)."""
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    for part in ("gan_lab", "notebooks"):
        shutil.copytree(REPO / part, src / part, ignore=ignore)
    for part in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / part).is_file():
            shutil.copy2(REPO / part, src / part)
    dist = tmp / "dist"
    offline = ["--no-build-isolation"] if _has_setuptools(77) else []  # else pip fetches setuptools from PyPI
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *offline, "-q", "-w", str(dist), str(src)],
                   check=True, cwd=tmp, timeout=300)
    (wheel,) = dist.glob("gan_lab-*.whl")
    return wheel


def _has_setuptools(major: int) -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= major


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_installed_wheel_gives_the_course_and_runs_its_first_notebook(tmp_path):
    tmp = tmp_path.resolve()
    assert not tmp.is_relative_to(REPO), "the fresh environment must live outside the repository"
    wheel = _build_wheel(tmp)
    started = time.perf_counter()

    # a fresh venv; the wheel goes in before the .pth that lends it this environment's torch & co.,
    # so pip cannot see (let alone touch) this environment's editable gan_lab
    venv = tmp / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    _run([base_python, "-m", "venv", "--without-pip", str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          "--ignore-installed", "-q", str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "_gan_lab_test_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    installed = time.perf_counter()

    home, work = tmp / "gan_lab_home", tmp / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAN_LAB_", "PYTHON", "JUPYTER"))}
    env.update(GAN_LAB_HOME=str(home), GAN_LAB_FAST="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
               PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}")
    probe = _run([str(python), "-c", "import gan_lab, json; from gan_lab import config; print(json.dumps("
                                     "[gan_lab.__file__, str(config.DATA_DIR), config.IN_REPOSITORY]))"],
                 cwd=work, env=env)
    module_file, data_dir, in_repository = json.loads(probe.stdout)
    assert Path(module_file).is_relative_to(venv), f"imported {module_file}, not the installed wheel"
    assert not in_repository and Path(data_dir) == home / "data"

    copy_started = time.perf_counter()  # the probe above is the test's, not the user's: left out of the time
    copied = _run([str(python), "-m", "gan_lab", "notebooks", "COURSE"], cwd=work, env=env)
    course_ready = time.perf_counter()
    course = work / "COURSE"
    names = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in course.glob("*.ipynb")) == names
    assert "jupyter lab --notebook-dir COURSE" in copied.stdout

    # execute the copied 00_start_here with the new interpreter as the kernel; a last cell reports where it ran
    first = course / "00_start_here.ipynb"
    notebook = nbformat.read(first, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json, sys\nfrom gan_lab import checkpoints, config\n"
        "print('WHERE', json.dumps([sys.executable, gan_lab.__file__, str(config.DATA_DIR), "
        "str(checkpoints.cache_dir('probe'))]))"))
    nbformat.write(notebook, first)
    _run([str(python), "-m", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
          "--ExecutePreprocessor.timeout=180", str(first)], cwd=work, env=env)
    done = time.perf_counter()
    total = (installed - started) + (done - copy_started)
    print(f"\ninstall → first notebook executed: {total:.1f} s (fresh venv + wheel install "
          f"{installed - started:.1f} s, `gan_lab notebooks` {course_ready - copy_started:.1f} s, 00_start_here "
          f"in FAST mode {done - course_ready:.1f} s; wheel built beforehand)")

    executed = nbformat.read(course / "executed.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"00_start_here raised: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    text = "".join(o.get("text", "") for o in outputs)
    kernel, module_file, data_dir, cache = json.loads(text.split("WHERE ", 1)[1].splitlines()[0])
    assert Path(kernel).parent == python.parent, f"the kernel ran {kernel}, not the new environment's python"
    assert Path(module_file).is_relative_to(venv)
    assert Path(data_dir) == home / "data" and Path(cache).is_relative_to(home)
    written = [p for p in home.rglob("*") if p.is_file()]
    assert written, "00_start_here wrote no cache into GAN_LAB_HOME"
    installed = {line.split(",")[0] for record in site.glob("gan_lab-*.dist-info/RECORD")
                 for line in record.read_text().splitlines()}  # what the wheel itself put there (package data too)
    strays = [p for p in (site / "gan_lab").rglob("*")
              if p.is_file() and p.suffix != ".pyc" and p.relative_to(site).as_posix() not in installed]
    assert not strays and not (site / "data").exists(), f"data written into site-packages: {strays[:3]}"
