"""The checkpoints the notebooks load, and how to train each one.

``python -m gan_lab pretrain`` calls every entry before class, so the
notebooks find their networks in the checkpoint cache and skip training.
Each entry loads-or-trains into ``gan_lab.checkpoints.cache_dir(name)`` with
exactly the data and config its notebook uses (``load_or_train_*`` compares the
config and a fingerprint of the training data's values, and retrains when either
differs, so a stale entry costs time, never a wrong result). A checkpoint made
before checkpoints recorded that fingerprint is trained once more. The notebook
then loads the entry only if it computes its data bit for bit as ``pretrain`` did:
data made with ``exp``/``log`` or FFTs in float32 (low-dose pairs, k-space
undersampling) can differ in the last bit on a CPU of another family, and is
trained again there.

Adding a notebook's checkpoint is a three-line change::

    @register("05_wgan", "notebook 05: WGAN-GP on PneumoniaMNIST")
    def _05_wgan():
        return load_or_train_wgan(cache_dir("05_wgan"), _data("pneumoniamnist"), notebook_05_config())

Keep the config in one function that the notebook's "Training variables"
cell repeats verbatim; ``tests/test_pretrained.py`` checks they agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..checkpoints import cache_dir
from ..config import by_mode
from ..train.gan import GANConfig, load_or_train_gan


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
    from ..data import load

    return load(name, split="train", size=size)


# ------------------------------------------------------------------------------- notebook 02: vanilla GAN
def notebook_02_configs() -> dict[str, GANConfig]:
    """The two GANs of notebooks/02_vanilla_gan.ipynb (its "Training variables" cell repeats these)."""
    return {
        "mlp": GANConfig(arch="mlp", width=64, batch_size=64, num_steps=by_mode(full=3000, fast=20)),
        "dcgan": GANConfig(arch="dcgan", width=32, batch_size=32, num_steps=by_mode(full=3000, fast=20)),
    }


@register("02_mlp_gan", "notebook 02: fully connected GAN on PneumoniaMNIST")
def _02_mlp_gan():
    return load_or_train_gan(cache_dir("02_mlp_gan"), _data("pneumoniamnist"), notebook_02_configs()["mlp"])


@register("02_dcgan", "notebook 02: DCGAN on PneumoniaMNIST")
def _02_dcgan():
    return load_or_train_gan(cache_dir("02_dcgan"), _data("pneumoniamnist"), notebook_02_configs()["dcgan"])


# ----------------------------------------------------------------- notebook 03: conditional GANs and pix2pix
def notebook_03_settings() -> dict:
    """Data sizes and configs of notebooks/03_conditional_gans.ipynb (its "Training variables" cell repeats these)."""
    return {"SIZE": 28, "N_PHANTOMS": by_mode(full=3000, fast=300),
            "CGAN": dict(z_dim=64, embed_dim=16, width=by_mode(full=32, fast=8), batch_size=by_mode(full=32, fast=16),
                         num_steps=by_mode(full=1200, fast=10), lr_G=2e-4, lr_D=2e-4),
            "VARIANTS": ("concat", "projection", "acgan"), "REAL_DATA": ("pneumoniamnist", "breastmnist"),
            "N_PAIRS": by_mode(full=2000, fast=200), "DOSE": 0.25,
            "PIX2PIX": dict(width=by_mode(full=16, fast=8), d_width=by_mode(full=16, fast=8),
                            batch_size=by_mode(full=16, fast=8), num_steps=by_mode(full=1000, fast=10),
                            lambda_L1=100.0)}


def _03_cgan(data_name: str, variant: str):
    from ..data import load
    from ..train.conditional import CGANConfig, load_or_train_cgan

    s = notebook_03_settings()
    data = load(data_name, split="train", size=s["SIZE"], n=s["N_PHANTOMS"] if data_name == "phantoms" else None)
    name = f"03_cgan_phantoms_{variant}" if data_name == "phantoms" else f"03_cgan_{data_name}"
    return load_or_train_cgan(cache_dir(name), data, CGANConfig(variant=variant, **s["CGAN"]))


def _03_pix2pix(task: str, lambda_adv: float):
    from ..data import low_dose_pairs, phantom_pairs
    from ..train.pix2pix import Pix2PixConfig, load_or_train_pix2pix

    s = notebook_03_settings()
    if task == "mr2ct":
        x, y = phantom_pairs(s["N_PAIRS"], size=s["SIZE"], seed=0)
        data_name = f"phantom_pairs mr->ct n={s['N_PAIRS']}"
    else:
        y = _data("pneumoniamnist", s["SIZE"])
        x, data_name = low_dose_pairs(y.images, dose=s["DOSE"], seed=0), f"{y.name} dose={s['DOSE']} n={len(y)}"
    return load_or_train_pix2pix(cache_dir(f"03_pix2pix_{task}_{'gan' if lambda_adv else 'l1'}"), x, y,
                                 Pix2PixConfig(lambda_adv=lambda_adv, **s["PIX2PIX"]), data_name=data_name)


for _v in notebook_03_settings()["VARIANTS"]:
    register(f"03_cgan_phantoms_{_v}", f"notebook 03: conditional GAN ({_v} D) on phantom classes")(
        functools.partial(_03_cgan, "phantoms", _v))
for _n in notebook_03_settings()["REAL_DATA"]:
    register(f"03_cgan_{_n}", f"notebook 03: conditional GAN (projection D) on {_n}")(
        functools.partial(_03_cgan, _n, "projection"))
for _t, _w in (("mr2ct", "MR → CT on paired phantoms"), ("lowdose", "low-dose → routine-dose X-rays")):
    register(f"03_pix2pix_{_t}_l1", f"notebook 03: U-Net with L1 only, {_w}")(functools.partial(_03_pix2pix, _t, 0.0))
    register(f"03_pix2pix_{_t}_gan", f"notebook 03: pix2pix, {_w}")(functools.partial(_03_pix2pix, _t, 1.0))


# ------------------------------------------------------------------ the other notebooks: run them top to bottom
#: notebooks whose checkpoints have no entry of their own above: ``pretrain`` executes each one in full (or,
#: with ``--fast``, FAST) mode, so its own load-or-train calls fill the cache with exactly its settings.
#: (``explore`` is not among them: it loads the entries "02_dcgan" and "03_cgan_pneumoniamnist" above.)
RUN_WHOLE = ("01_minimax_game", "04_cyclegan", "05_wgan", "06_segan", "07_evaluation", "08_reconstruction",
             "09_gan_variants", "10_more_applications")


def run_notebook(path, timeout: int = 7200) -> None:
    """Execute a notebook in a fresh kernel (in its own folder, environment inherited), outputs discarded."""
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()


def _notebook_entry(stem: str):
    from .materials import notebook_path  # <repo>/notebooks in a checkout, the installed copy otherwise

    run_notebook(notebook_path(stem))


for _stem in RUN_WHOLE:
    register(_stem, f"notebook {_stem}: every checkpoint it caches (runs the notebook)")(
        functools.partial(_notebook_entry, _stem))
