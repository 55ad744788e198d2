"""What every subcommand shares: the one-line usage error, the device, the subparser style."""

from __future__ import annotations

import argparse
import os

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
