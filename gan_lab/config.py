"""FAST mode and paths: the only place that reads gan_lab's environment variables.

``GAN_LAB_FAST=1`` shrinks step and sample counts through :func:`by_mode`, so
CI runs the very same code path as a lecture, only with smaller numbers.
``GAN_LAB_DATA`` names an extra folder searched for real datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"  # downloads, phantom caches, checkpoints (git-ignored)
CHECKPOINT_DIR = DATA_DIR / "checkpoints"


def fast_mode() -> bool:
    """True when ``GAN_LAB_FAST`` is set to 1/true/yes (CI and quick checks)."""
    return os.environ.get("GAN_LAB_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def by_mode(full, fast):
    """Return ``fast`` in FAST mode and ``full`` otherwise.

    Example:
        >>> num_steps = by_mode(full=3000, fast=30)
    """
    return fast if fast_mode() else full


def data_roots(dataset: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``dataset``, in order.

    An explicit ``root`` → ``$GAN_LAB_DATA/<dataset>`` → ``<repo>/data/<dataset>``.
    (MedMNIST adds its own default root after these.)
    """
    roots: list[Path] = []
    if root is not None:
        roots.append(Path(root).expanduser())
    env = os.environ.get("GAN_LAB_DATA")
    if env:
        roots.append(Path(env).expanduser().resolve() / dataset)
    roots.append(DATA_DIR / dataset)
    return roots
