"""The course-workflow subcommands of ``python -m gan_lab``: evaluate, explore, student-notebooks, notebooks.

Same conventions as :mod:`gan_lab.cli.commands`: argparse only, one-line errors
(``UsageError`` → exit code 2), the library does the work.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..course.materials import notebook_dir, notebook_path
from .common import (
    SEED,
    UsageError,
    device_for,
    device_name,
    headless_plots,
    subparser,
    whole,
    writable_file,
    writable_folder,
)
from .runs import TWO_SAMPLE_PICTURE

LOOPBACK = "127.0.0.1"


# -------------------------------------------------------------------------------------------------- evaluate
def add_evaluate(sub) -> None:
    p = subparser(sub, "evaluate", "Score a run: FID/KID, precision/recall/density/coverage, memorisation, "
                  "the classifier two-sample test.", """\
Features come from gan_lab's own domain feature network (trained once on the run's dataset
and cached; no downloaded Inception weights). Held-out real images are scored the same way
as a baseline. Prints the numbers and writes RUN/evaluation.json, and RUN/two_sample.png: the
held-out images the two-sample test's classifier was surest about (what gives the fakes away).

examples:
  python -m gan_lab evaluate runs/dcgan --n 2000
  python -m gan_lab evaluate runs/dcgan --no-two-sample    # without the two-sample test's classifiers""")
    p.add_argument("run", type=Path, help="a run folder written by `python -m gan_lab train`")
    p.add_argument("--n", type=whole(2, 50_000), default=2000, help="generated images to score (default: 2000)")
    p.add_argument("--device", type=device_name, default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of z and of the real subsets (default: 0)")
    p.add_argument("--no-two-sample", dest="two_sample", action="store_false",
                   help="leave out the two-sample test (its two classifiers are most of the time on a CPU); "
                        "evaluation.json is written without it, and an earlier two_sample.png is removed")
    p.set_defaults(handler=run_evaluate, memory_flags="--n")


def run_evaluate(args: argparse.Namespace) -> int:
    from .. import viz
    from ..metrics.report import evaluate_run

    if not args.run.is_dir():
        raise UsageError(f"no run folder at {args.run}; train one with `python -m gan_lab train dcgan --out DIR`.")
    picture = args.run / TWO_SAMPLE_PICTURE
    paths = [args.run / "evaluation.json"] + ([picture] if args.two_sample else [])
    for path in paths:
        writable_file(path, "the run folder")  # before minutes of work, not after
    device = device_for(args.device, args.seed)
    c2st = []  # the fakes' two-sample test, drawn once the report is written (a plotting error loses nothing)
    result = evaluate_run(args.run, n=args.n, device=device, seed=args.seed, write=True, two_sample=args.two_sample,
                          on_two_sample=c2st.append if args.two_sample else None)
    print(json.dumps(result, indent=1))
    if not args.two_sample:
        if picture.is_file():  # it showed an earlier report's test, not this one's
            picture.unlink()
        print(f"written to {args.run / 'evaluation.json'} (without the two-sample test)")
        return 0
    headless_plots()
    viz.save_figure(viz.plot_two_sample(c2st[0]), picture)
    print(f"written to {args.run / 'evaluation.json'}; {picture} shows the held-out images the two-sample "
          f"test's classifier was surest about")
    return 0


# --------------------------------------------------------------------------------------------------- explore
def add_explore(sub) -> None:
    p = subparser(sub, "explore", "Serve the latent-space explorer as a page for the projector (Voilà).", """\
Opens notebooks/explore.ipynb with Voilà: the code is hidden, the sliders stay. It loads the
checkpoints `python -m gan_lab pretrain` writes and trains a small one first when none exists.
The server listens on 127.0.0.1 only; --host 0.0.0.0 serves the classroom network and
token authentication stays on (the URL with the token is printed).

examples:
  python -m gan_lab explore
  python -m gan_lab explore --host 0.0.0.0 --port 8866""")
    p.add_argument("--host", default=LOOPBACK, help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=whole(1, 65535), default=8866, help="port (default: 8866)")
    p.add_argument("--notebook", type=Path, default=None,
                   help="the notebook to serve (default: the course's explore.ipynb)")
    p.add_argument("--dry-run", action="store_true", help="print the Voilà command instead of running it")
    p.set_defaults(handler=run_explore)


def voila_command(notebook: Path, host: str, port: int, token: str) -> list[str]:
    """The Voilà command line: always with a token, on ``host`` only."""
    voila = shutil.which("voila") or str(Path(sys.executable).parent / "voila")
    return [voila, str(notebook), "--no-browser", f"--Voila.ip={host}", f"--port={port}", f"--token={token}"]


def run_explore(args: argparse.Namespace) -> int:
    args.notebook = args.notebook or notebook_path("explore")
    if not args.notebook.is_file():
        raise UsageError(f"no notebook at {args.notebook}.")
    token = secrets.token_urlsafe(16)
    cmd = voila_command(args.notebook, args.host, args.port, token)
    shown = "localhost" if args.host == LOOPBACK else args.host
    print(f"Lecture page: http://{shown}:{args.port}/?token={token}")
    if args.host != LOOPBACK:
        print("Serving beyond this machine: share the URL with its token; anyone without it is refused.")
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    try:
        return subprocess.call(cmd)
    except FileNotFoundError:
        raise UsageError("Voilà is not installed: pip install -r requirements.txt") from None
    except KeyboardInterrupt:
        return 0


# ----------------------------------------------------------------------------------------- student-notebooks
def add_student_notebooks(sub) -> None:
    p = subparser(sub, "student-notebooks", "Write student copies of the notebooks, solutions stubbed.", """\
Every block between '### BEGIN SOLUTION' and '### END SOLUTION' becomes
`raise NotImplementedError`; prose, experiments and the automatic checks stay, and
cells tagged 'instructor-only' are left out. (With nbgrader: see the README's instructor's guide.)

example:
  python -m gan_lab student-notebooks student/""")
    p.add_argument("out_dir", type=Path, help="folder for the student notebooks")
    p.add_argument("--src", type=Path, default=None,
                   help="the instructor notebooks (default: the course's notebooks/, from the repository or the "
                        "installed package)")
    p.set_defaults(handler=run_student_notebooks)


def run_student_notebooks(args: argparse.Namespace) -> int:
    from ..course.student import SolutionMarkerError, write_student_notebooks

    writable_folder(args.out_dir, "OUT")
    try:
        report = write_student_notebooks(args.src or notebook_dir(), args.out_dir)
    except (FileNotFoundError, ValueError, SolutionMarkerError) as err:
        raise UsageError(str(err)) from None
    for name, n in report.items():
        print(f"{name}: {n} solution(s) replaced")
    print(f"{len(report)} notebooks written to {args.out_dir}")
    return 0


# ------------------------------------------------------------------------------------------------- notebooks
def add_notebooks(sub) -> None:
    p = subparser(sub, "notebooks", "Copy the course notebooks into a folder of your own, ready for Jupyter.", """\
Copies the instructor notebooks (or, with --student, the student copies with every solution
replaced by a stub) from this gan_lab installation into DEST. A notebook already in DEST is
never replaced unless you add --overwrite. Data and checkpoints do not go into DEST: they
live where `python -m gan_lab doctor` says.

examples:
  python -m gan_lab notebooks gan_course
  python -m gan_lab notebooks gan_course --student
  python -m gan_lab notebooks gan_course --overwrite""")
    p.add_argument("dest", type=Path, help="the folder to copy the course into (created if needed)")
    p.add_argument("--student", action="store_true",
                   help="write student copies: solutions become `raise NotImplementedError` stubs")
    p.add_argument("--overwrite", action="store_true",
                   help="replace notebooks already in DEST (your changes in them are lost)")
    p.set_defaults(handler=run_notebooks)


def run_notebooks(args: argparse.Namespace) -> int:
    from ..course.materials import copy_course
    from ..course.student import SolutionMarkerError

    writable_folder(args.dest, "DEST")
    try:
        written = copy_course(args.dest, student=args.student, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError, SolutionMarkerError) as err:
        raise UsageError(str(err)) from None
    for name, what in written.items():
        print(f"  {args.dest / name}  ({what})")
    shown = subprocess.list2cmdline([str(args.dest)]) if os.name == "nt" else shlex.quote(str(args.dest))
    print(f"{len(written)} notebooks written to {args.dest}. Start the course with:\n"
          f"  jupyter lab --notebook-dir {shown}\n"
          f"and open 00_start_here.ipynb (or: cd {shown} && jupyter lab 00_start_here.ipynb).")
    return 0
