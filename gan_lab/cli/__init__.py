"""``python -m gan_lab``: train, sample, evaluate, pretrain, explore and more from a terminal.

Each subcommand is one ``add_<name>(subparsers)`` function that builds its
parser and sets ``handler``; argparse only builds the config dataclass, the
library does the work. Bad input ends with a one-line ``error:`` and exit
code 2, never a traceback.

- ``commands``: train, sample, pretrain.
- ``course``: evaluate, explore, student-notebooks, notebooks (copy the course out of the installation).
- ``download``: fetch real datasets (BBBC038 nuclei, MedMNIST) before class.
- ``doctor``: the installation check.
- ``common``: the usage error, the device, the subparser style they share.

Examples::

    python -m gan_lab train dcgan --data pneumoniamnist --steps 3000 --out runs/dcgan
    python -m gan_lab sample runs/dcgan --n 64 --out grid.png
    python -m gan_lab sample runs/dcgan --n 1000 --out samples.npz
    python -m gan_lab pretrain --only 02_dcgan
    python -m gan_lab notebooks gan_course --student
    python -m gan_lab download nuclei pneumoniamnist
"""

from __future__ import annotations

import argparse
import sys

import torch

from ..checkpoints import CheckpointError
from ..data.errors import DataError
from ..precision import PrecisionError
from ..train.loop import TrainingDiverged
from .commands import add_pretrain, add_sample, add_train
from .common import UsageError
from .course import add_evaluate, add_explore, add_notebooks, add_student_notebooks
from .doctor import add_doctor
from .download import add_download

COMMANDS = (add_train, add_sample, add_pretrain, add_doctor, add_evaluate, add_explore, add_student_notebooks,
            add_notebooks, add_download)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failed check, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a bad argument already reported in one line
        return done.code if isinstance(done.code, int) else 2
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except (UsageError, DataError, CheckpointError, PrecisionError) as err:
        _error(args.command, err)
        return 2
    except TrainingDiverged as err:  # not bad input, but nothing a traceback would explain better
        _error(args.command, err)
        return 1
    except (MemoryError, torch.OutOfMemoryError):
        _error(args.command, f"out of memory; lower {getattr(args, 'memory_flags', 'the sizes you asked for')}.")
        return 2
    except KeyboardInterrupt:  # outside training (which saves and returns): nothing to save
        _error(args.command, "interrupted (Ctrl-C).")
        return 130


def _error(command: str, err: Exception) -> None:
    message = " ".join(str(err).split())  # one line, even for the data layer's multi-line advice
    print(f"gan_lab {command}: error: {message}", file=sys.stderr)


class Parser(argparse.ArgumentParser):
    """argparse, with its errors (a bad number, a missing argument) as one line like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m gan_lab", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Run `python -m gan_lab COMMAND --help` for each command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser
