"""Fixtures shared by the test modules: where the real data is, a machine without it, the repository's scripts."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder named by ``GAN_LAB_DATA`` (skips the test when there is none)."""
    env = os.environ.get("GAN_LAB_DATA")
    if not env or not Path(env).expanduser().is_dir():
        pytest.skip("real data not available: set GAN_LAB_DATA=../shared/data (CI sets it)")
    return Path(env).expanduser().resolve()


@pytest.fixture
def no_real_data(tmp_path, monkeypatch) -> Path:
    """A machine without real data: no GAN_LAB_DATA, an empty repo data dir and medmnist root.

    Returns the temporary folder that stands in for ``<repo>/data``.
    """
    from gan_lab import config
    from gan_lab.data import medmnist

    data_dir = tmp_path / "repo_data"
    monkeypatch.delenv("GAN_LAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # medmnist's default root is ~/.medmnist
    monkeypatch.setattr(config, "DATA_DIR", data_dir)
    monkeypatch.setattr(medmnist, "default_root", lambda: tmp_path / "home" / ".medmnist")
    return data_dir


@pytest.fixture(scope="session")
def load_script():
    """``load_script("benchmarks/x.py")``: a script of the repository (not part of the package), imported by path."""
    from gan_lab import config

    def load(relative: str):
        path = config.REPO_ROOT / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
