"""FAST mode and paths: the only place that reads gan_lab's environment variables.

``GAN_LAB_FAST=1`` shrinks step and sample counts through :func:`by_mode`, so
CI runs the very same code path as a lecture, only with smaller numbers.
``GAN_LAB_DATA`` names an extra folder searched for real datasets.

Where gan_lab writes (downloads, phantom caches, checkpoints) depends on how it runs:

- from a repository checkout (the folder above the package holds ``pyproject.toml``
  and ``notebooks/``): ``<repo>/data`` and ``<repo>/data/checkpoints``, as always;
- installed from a wheel: a per-user folder, ``$GAN_LAB_HOME`` if set, else the
  platform's user data folder (``~/.local/share/gan_lab`` on Linux,
  ``%LOCALAPPDATA%\\gan_lab`` on Windows, ``~/Library/Application Support/gan_lab``
  on macOS), with ``data/`` and ``checkpoints/`` inside.

``GAN_LAB_HOME``, when set, wins in a checkout too (an explicit choice beats the default).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: the folder above the package: a repository checkout when :data:`IN_REPOSITORY`, else e.g. site-packages
REPO_ROOT = PACKAGE_DIR.parent


def is_repository(folder: Path) -> bool:
    """True when ``folder`` looks like a gan_lab checkout: it holds pyproject.toml and notebooks/."""
    return (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir()


#: True when gan_lab runs from a repository checkout (an editable install or the source folder)
IN_REPOSITORY = is_repository(REPO_ROOT)


def user_data_dir(platform: str | None = None, environ=None) -> Path:
    """The platform's per-user data folder for gan_lab (no ``GAN_LAB_HOME``; see :func:`home_dir`)."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        base = environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "gan_lab"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "gan_lab"
    base = environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base and Path(base).is_absolute() else home / ".local" / "share") / "gan_lab"


def home_dir(in_repository: bool | None = None, environ=None, platform: str | None = None) -> tuple[Path, str]:
    """Where gan_lab keeps its data, and why: ``(folder, reason)``.

    ``$GAN_LAB_HOME`` → the repository checkout's ``data/`` parent → the platform's user data folder.
    """
    environ = os.environ if environ is None else environ
    in_repository = IN_REPOSITORY if in_repository is None else in_repository
    explicit = environ.get("GAN_LAB_HOME", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve(), "GAN_LAB_HOME"
    if in_repository:
        return REPO_ROOT, "repository checkout"
    return user_data_dir(platform, environ), "installed package: per-user folder"


HOME_DIR, HOME_REASON = home_dir()
DATA_DIR = HOME_DIR / "data"  # downloads, phantom caches (git-ignored in a checkout)
#: the checkpoint cache: ``<repo>/data/checkpoints`` in a checkout (as always), ``<home>/checkpoints`` otherwise
CHECKPOINT_DIR = DATA_DIR / "checkpoints" if HOME_REASON == "repository checkout" else HOME_DIR / "checkpoints"


def describe_paths() -> str:
    """One line: how gan_lab runs and where it writes (printed by ``python -m gan_lab doctor``)."""
    how = f"repository checkout ({REPO_ROOT})" if IN_REPOSITORY else f"installed package ({PACKAGE_DIR})"
    where = f"data in {DATA_DIR}, checkpoints in {CHECKPOINT_DIR}"
    source = {"GAN_LAB_HOME": " (from GAN_LAB_HOME)", "repository checkout": ""}.get(
        HOME_REASON, " (per-user folder; set GAN_LAB_HOME to move it)")
    return f"{how}; {where}{source}"


def fast_mode() -> bool:
    """True when ``GAN_LAB_FAST`` is set to 1/true/yes (CI and quick checks)."""
    return os.environ.get("GAN_LAB_FAST", "").strip().lower() in {"1", "true", "yes", "on"}


def by_mode(full, fast):
    """Return ``fast`` in FAST mode and ``full`` otherwise.

    Example:
        >>> num_steps = by_mode(full=3000, fast=30)
    """
    return fast if fast_mode() else full


def reference_record_path() -> Path | None:
    """``$GAN_LAB_RECORD_REFERENCE``: the file ``course.reference.compare`` appends each result to (None: off).

    Set by ``scripts/reference_values.py`` while it executes the notebooks; a lecture never sets it.
    """
    value = os.environ.get("GAN_LAB_RECORD_REFERENCE", "").strip()
    return Path(value) if value else None


def download_url(dataset: str, default: str) -> str:
    """``$GAN_LAB_<DATASET>_URL`` if set (a mirror, or a test server), else ``default``."""
    return os.environ.get(f"GAN_LAB_{dataset.upper()}_URL", "").strip() or default


def data_roots(dataset: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``dataset``, in order.

    An explicit ``root`` → ``$GAN_LAB_DATA/<dataset>`` → ``DATA_DIR/<dataset>`` (``<repo>/data`` in a
    checkout, the per-user folder otherwise). (MedMNIST adds its own default root after these.)
    """
    roots: list[Path] = []
    if root is not None:
        roots.append(Path(root).expanduser())
    env = os.environ.get("GAN_LAB_DATA")
    if env:
        roots.append(Path(env).expanduser().resolve() / dataset)
    roots.append(DATA_DIR / dataset)
    return roots
