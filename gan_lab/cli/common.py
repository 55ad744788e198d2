"""What every subcommand shares: the one-line usage error, the device, the subparser style."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..precision import PrecisionError


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def device_for(requested: str | None, seed: int, verbose: bool = False, precision: str | None = None):
    """``gan_lab.setup`` for a command: a device it cannot give becomes a ``UsageError`` naming the flag."""
    from ..session import setup

    try:
        return setup(seed=seed, device=requested, verbose=verbose, precision=precision)
    except PrecisionError as err:  # e.g. --precision bf16 on a GPU older than Ampere
        source = f"--precision {precision}" if precision else f"$GAN_LAB_PRECISION={os.environ['GAN_LAB_PRECISION']}"
        raise UsageError(f"{source}: {err}") from None
    except RuntimeError as err:  # e.g. --device cuda on a machine without CUDA
        raise UsageError(f"--device {requested}: {err}") from None


def subparser(sub, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=f"{summary}\n\n{description}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


# ---------------------------------------------------------------------------------------- numbers in the parser
def whole(low: int, high: int):
    """An argparse type: a whole number in [low, high] (the parser says which flag and the range)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: give a whole number from {low} to {high}")
        return value
    parse.__name__ = "whole number"
    return parse


def number(inside, rule: str):
    """An argparse type: a finite number for which ``inside(value)`` holds; ``rule`` says the range in words."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and inside(value)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number {rule}")
        return value
    parse.__name__ = "number"
    return parse


def positive(high: float):
    """An argparse type: a finite number in (0, high]."""
    return number(lambda value: 0 < value <= high, f"> 0 and ≤ {high:g}")


#: an argparse type: a finite number in [0, 1) (e.g. the β of a moving average)
below_one = number(lambda value: 0 <= value < 1, "≥ 0 and < 1")

#: an argparse type: a finite number in [0, 1] (a part of a run)
fraction = number(lambda value: 0 <= value <= 1, "from 0 to 1")


def device_name(text: str) -> str:
    """An argparse type: a non-empty device name (cpu, cuda, cuda:1, mps); validated by torch later."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a device: cpu, cuda, cuda:1 or mps (or leave the flag out)")
    return text.strip()


#: the seed range every library that gan_lab seeds accepts (NumPy's is the narrowest)
SEED = whole(0, 2**32 - 1)


# ------------------------------------------------------------------------------------------- where we write
def writable_folder(folder: Path, flag: str) -> Path:
    """Create ``folder`` and prove it can be written, before any data is loaded or any work done."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {folder} is a file; give a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".gan_lab-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"{flag} {folder} cannot be written ({err.strerror or err}); choose a folder you can "
                         "write to.") from None
    return folder


def writable_file(path: Path, flag: str) -> Path:
    """Check that ``path`` can be written (its folder created and write-tested; an existing folder refused)."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name.")
    blocking = next((p for p in path.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise UsageError(f"{flag} {path} cannot be written: {blocking} is a file, not a folder.")
    writable_folder(path.parent, flag)
    return path


def headless_plots() -> None:
    """Draw figures into files only: a terminal has no display (matplotlib's Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
