"""``gan_lab.setup()``: the one call at the top of every notebook.

It seeds everything, chooses the device (:mod:`gan_lab.device`), the precision
(:mod:`gan_lab.precision`) and the CPU threads, and prints where the data comes from.
"""

from __future__ import annotations

import platform

import numpy as np
import torch

from .config import fast_mode
from .data.sources import describe_sources
from .device import cpu_threads, seed_everything, use_device
from .precision import describe_precision, set_precision


def setup(seed: int = 0, device: str | torch.device | None = None, verbose: bool = True,
          threads: int | None = None, precision: str | None = None) -> torch.device:
    """Seed everything, choose the device and the CPU threads, and print a short environment block.

    Args:
        seed: seed for Python, NumPy and PyTorch.
        device: force a device ("cpu", "cuda", "mps"); default: the best available.
        verbose: print versions, device, threads, FAST mode and data source.
        threads: torch's CPU threads; default: see ``cpu_threads`` (1 on a busy machine).
        precision: "fp32" or "bf16" (the trained networks' forward passes in bf16 autocast during each
            training step, see ``gan_lab.precision``); default ``$GAN_LAB_PRECISION``, else "fp32".

    Returns:
        The chosen ``torch.device``; later calls with ``device=None`` use it.

    Example:
        >>> import gan_lab
        >>> device = gan_lab.setup(seed=0, verbose=False)
    """
    chosen = use_device(device)
    set_precision(precision, chosen)
    torch.set_num_threads(cpu_threads(threads))
    seed_everything(seed)
    if verbose:
        print(describe(chosen))
    return chosen


def describe(device: torch.device) -> str:
    """The one short block that ``setup()`` prints."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "mps":
        name = "Apple GPU (MPS)"
    else:
        name = platform.processor() or platform.machine()
    lines = [
        f"gan_lab   python {platform.python_version()} | torch {torch.__version__} | numpy {np.__version__}",
        f"device    {device} ({name}) | CPU threads: {torch.get_num_threads()}",
        f"precision {describe_precision(device)}",
        f"FAST mode {'ON (small numbers, same code path)' if fast_mode() else 'off'}",
        f"data      {describe_sources()}",
    ]
    return "\n".join(lines)
