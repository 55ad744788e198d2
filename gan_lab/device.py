"""Device choice and seeding, in one place (no notebook writes "cuda:0").

``pick_device`` picks CUDA, then Apple MPS, then the CPU, unless the environment
variable ``GAN_LAB_DEVICE`` (for example ``cpu`` or ``cuda:1``) forces one.
Every other function in gan_lab takes ``device=None`` meaning "the one
``gan_lab.setup()`` chose" (:mod:`gan_lab.session`).
"""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

_current: torch.device | None = None
_default_threads = torch.get_num_threads()  # torch's own choice, before setup() changes it


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """Resolve a device request: explicit > ``$GAN_LAB_DEVICE`` > cuda > mps > cpu."""
    requested = requested or os.environ.get("GAN_LAB_DEVICE") or None
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"Device {device} was requested but CUDA is not available here. "
                "Use device='cpu' or unset GAN_LAB_DEVICE."
            )
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"Device {device} was requested but Apple MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def get_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: ``device`` if given, else the one ``setup()`` chose."""
    if device is not None:
        return torch.device(device)
    return _current if _current is not None else pick_device()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cpu_threads(requested: int | None = None) -> int:
    """Threads for torch's CPU work: ``requested`` > ``$GAN_LAB_THREADS`` > 1 on a busy machine > torch's default.

    A machine is busy when other jobs already keep all its cores running (1-minute
    load average ≥ usable cores), as on a shared server or hub. There torch's
    threads spin-wait for each other at every operation: on a shared 2-core
    machine a DCGAN step took 0.49 s on one thread and 3.4 s on two.
    """
    requested = requested or int(os.environ.get("GAN_LAB_THREADS") or 0)
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = hasattr(os, "getloadavg") and os.getloadavg()[0] >= cores
    return 1 if busy else _default_threads


def use_device(device: str | torch.device | None = None) -> torch.device:
    """Make ``pick_device(device)`` the device that ``device=None`` means from now on, and return it."""
    global _current
    _current = pick_device(device)
    return _current


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread inside the block (restored afterwards).

    For work made of many small operations (the toy lab's 2-D networks, phantom rendering): splitting
    each across threads gains little, and on a busy machine the idle threads' spin-waiting costs a lot
    (measured: toy-lab iterations 20–30× slower on a busy 2-core CPU; 300 phantoms 18 s on two threads,
    1.4 s on one).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
