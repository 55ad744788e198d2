"""The checkpoints the notebooks load, and how to train each one.

``python -m gan_lab pretrain`` calls every entry before class, so the
notebooks find their networks in the checkpoint cache and skip training.
Each entry loads-or-trains into ``gan_lab.checkpoints.cache_dir(name)`` with
exactly the data and config its notebook uses (``load_or_train`` retrains
when they differ, so a stale entry costs time, never a wrong result).

Adding a notebook's checkpoint is a three-line change::

    @register("05_wgan", "notebook 05: WGAN-GP on PneumoniaMNIST")
    def _05_wgan():
        return wgan.load_or_train(cache_dir("05_wgan"), _data("pneumoniamnist"), notebook_05_config())

Keep the config in one function that the notebook's "Training variables"
cell repeats verbatim; ``tests/test_pretrained.py`` checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .checkpoints import cache_dir
from .config import by_mode
from .train.gan import GANConfig, load_or_train


@dataclass(frozen=True)
class Pretrained:
    """One cached checkpoint: what it is and the function that loads-or-trains it (returns the run)."""

    description: str
    train: Callable[[], object]


#: checkpoint name → entry, in notebook order.
PRETRAINED: dict[str, Pretrained] = {}


def register(name: str, description: str):
    """Decorator: ``fn()`` loads-or-trains the checkpoint ``cache_dir(name)`` that a notebook loads."""
    def add(fn: Callable[[], object]):
        if name in PRETRAINED:
            raise ValueError(f"Pretrained checkpoint {name!r} is registered twice.")
        PRETRAINED[name] = Pretrained(description, fn)
        return fn
    return add


def _data(name: str, size: int = 28):
    """The training split exactly as a notebook loads it (phantom fallback offline)."""
    from .data import load

    return load(name, split="train", size=size)


# ------------------------------------------------------------------------------- notebook 02: vanilla GAN
def notebook_02_configs() -> dict[str, GANConfig]:
    """The two GANs of notebooks/02_vanilla_gan.ipynb (its "Training variables" cell repeats these)."""
    return {
        "mlp": GANConfig(arch="mlp", width=64, batch_size=64, num_steps=by_mode(full=3000, fast=30)),
        "dcgan": GANConfig(arch="dcgan", width=32, batch_size=64, num_steps=by_mode(full=3000, fast=30)),
    }


@register("02_mlp_gan", "notebook 02: fully connected GAN on PneumoniaMNIST")
def _02_mlp_gan():
    return load_or_train(cache_dir("02_mlp_gan"), _data("pneumoniamnist"), notebook_02_configs()["mlp"])


@register("02_dcgan", "notebook 02: DCGAN on PneumoniaMNIST")
def _02_dcgan():
    return load_or_train(cache_dir("02_dcgan"), _data("pneumoniamnist"), notebook_02_configs()["dcgan"])
