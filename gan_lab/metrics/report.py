"""Evaluate a training run folder: FID, KID, precision/recall/density/coverage and memorisation.

A run is a checkpoint folder written by ``gan_lab.checkpoints`` whose config
names the data ("data", "size", "channels") and whose models include "G"
(unconditional, G(z), or class-conditional, G(z, y) with ``G.num_classes``).

Sample sizes are part of an honest FID: the estimate falls as n grows, so a
number means something only next to others at the same n. Every comparison
here uses n_eval = min(n, size of the validation split) fakes and as many
held-out real validation images against the same reference (the whole real
training split), so the report carries its own floor, ``baseline_real``: what
a perfect generator — one that draws new images from the training
distribution — would score. (The validation split, not the test split: MedMNIST
cut it from the same pool as the training split, while the test split of,
e.g., PneumoniaMNIST has other class proportions, which FID would count.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import checkpoints
from ..data import load
from ..data.base import ImageData
from .features import FeatureNet, feature_net
from .fidelity import RealReference
from .memorisation import memorisation
from .prdc import prdc
from .two_sample import TwoSampleResult, two_sample_test

REPORT_FILE = "evaluation.json"


def load_generator(run_dir: str | Path, device=None) -> tuple[nn.Module, dict]:
    """The generator a run samples from, and its checkpoint config (which names "data", "size", "channels").

    That is the moving average of G's weights (``G_ema``) where the run keeps one, as ``GANRun.sample`` and
    the ``sample`` command use it, else G; the config's ``"generator"`` says which was loaded.
    """
    ckpt = checkpoints.load_checkpoint(run_dir, device)
    if "G" not in ckpt.models:
        raise checkpoints.CheckpointError(f"{run_dir} holds no generator 'G' (models: {sorted(ckpt.models)}); "
                                          "evaluate a GAN run folder.")
    missing = [k for k in ("data", "size") if k not in ckpt.config]
    if missing or ckpt.config["data"] == "tensor":
        raise checkpoints.CheckpointError(f"{run_dir} does not say which dataset it was trained on (config "
                                          f"{sorted(ckpt.config)}); train it on a named dataset, e.g. "
                                          "train_gan(gan_lab.data.load('pneumoniamnist'), ...).")
    name = "G_ema" if ckpt.models.get("G_ema") is not None else "G"
    return ckpt.models[name].eval(), ckpt.config | {"step": ckpt.step, "generator": name}


@torch.no_grad()
def sample_generator(G: nn.Module, n: int, labels: torch.Tensor | None = None, seed: int = 0,
                     batch_size: int = 500) -> torch.Tensor:
    """``n`` images (n, C, H, W) on the CPU from G(z) — or G(z, y) when G has ``num_classes``.

    Args:
        labels: (n,) classes for a conditional G (default: uniform over its classes).
        seed: seed of z (and of the default labels).
    """
    gen = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    conditional = getattr(G, "num_classes", None) is not None
    if conditional and labels is None:
        labels = torch.randint(G.num_classes, (n,), generator=gen)
    z = torch.randn(n, G.z_dim, generator=gen)  # all at once: the same z whatever the batch size
    images = []
    for i in range(0, n, batch_size):
        z_batch = z[i:i + batch_size].to(device)
        x = G(z_batch, labels[i:i + batch_size].to(device)) if conditional else G(z_batch)
        images.append(x.float().cpu())
    return torch.cat(images)


def _run_data(config: dict, splits: tuple[str, ...] = ("train", "val")) -> tuple[ImageData, ...]:
    """The run's dataset splits (never a phantom fallback: the numbers would be about other data)."""
    return tuple(load(config["data"], split=split, size=int(config["size"]), fallback=False) for split in splits)


def _fakes_like(G: nn.Module, train: ImageData, n: int, seed: int) -> torch.Tensor:
    """Fakes whose classes (for a conditional G) follow the training set's class frequencies."""
    labels = None
    if getattr(G, "num_classes", None) is not None:
        gen = torch.Generator().manual_seed(seed + 1)
        labels = train.labels.cpu()[torch.randint(len(train), (n,), generator=gen)]
    return sample_generator(G, n, labels, seed)


def fid_kid_for_run(run_dir: str | Path, n: int = 2000, device=None, phi: FeatureNet | None = None,
                    seed: int = 0) -> dict:
    """FID and KID of a run's generator against the real training split, at n_eval = min(n, val size).

    Returns:
        ``{"fid", "kid", "kid_std", "fid_real_baseline", "n", "feature_net_test_accuracy"}``;
        ``fid_real_baseline`` is the FID of as many held-out real (validation) images.
    """
    G, config = load_generator(run_dir, device)
    train, val = _run_data(config)
    phi = phi or feature_net(config["data"], int(config["size"]), device, progress=False)
    n_eval = min(n, len(val))
    fake = _fakes_like(G, train, n_eval, seed)
    reference = RealReference(train.images, phi)
    scores = reference.fid_kid(fake)
    baseline = reference.fid_kid(val.images[:n_eval])
    return {"fid": scores["fid"], "kid": scores["kid"], "kid_std": scores["kid_std"],
            "fid_real_baseline": baseline["fid"], "n": n_eval, "feature_net_test_accuracy": phi.test_accuracy}


def evaluate_run(run_dir: str | Path, n: int = 2000, device=None, phi: FeatureNet | None = None, seed: int = 0,
                 write: bool = True, on_two_sample: Callable[[TwoSampleResult], object] | None = None,
                 two_sample: bool = True) -> dict:
    """Every fidelity, diversity and memorisation number for a run, with a real-data baseline.

    Args:
        run_dir: a checkpoint folder with a generator "G" trained on a named dataset.
        n: generated images (FID/KID/PRDC use n_eval = min(n, val split size), memorisation all n).
        device: None for the device ``gan_lab.setup()`` chose.
        phi: the feature network (default: ``feature_net(data, size)``, trained once and cached).
        seed: seed of z and of the real subsets.
        write: also write the result to ``run_dir/evaluation.json``.
        on_two_sample: called with the two-sample test of the fakes (its held-out images and verdicts, which
            the JSON report leaves out), e.g. to draw them with ``viz.plot_two_sample``.
        two_sample: run the two-sample test (two classifiers trained: most of the report's time on a CPU);
            False leaves "two_sample_test" out, e.g. where a notebook runs the test itself later.

    Returns:
        A JSON-able dict: "fid", "kid", "kid_std", "precision", "recall", "density", "coverage",
        "memorisation" (flagged_fraction, median_ratio, ...; real test images are the reference:
        PneumoniaMNIST's validation split holds exact copies of training images, its test split none),
        "baseline_real" (the same metrics for held-out real validation images), "two_sample_test" (the
        classifier two-sample test of the fakes against the test split, see ``metrics.two_sample``; its
        baseline tests real training images against the test split; left out with ``two_sample=False``), "n_eval",
        "feature_net_test_accuracy", and where the numbers come from.

    Example:
        >>> print(json.dumps(evaluate_run("runs/dcgan"), indent=1))  # doctest: +SKIP
    """
    if on_two_sample is not None and not two_sample:
        raise ValueError("on_two_sample is called with the two-sample test, which two_sample=False leaves out; "
                         "pass one or the other.")
    G, config = load_generator(run_dir, device)
    train, val, test = _run_data(config, ("train", "val", "test"))
    phi = phi or feature_net(config["data"], int(config["size"]), device, progress=False)
    fake = _fakes_like(G, train, n, seed)
    n_eval = min(n, len(val))
    held_out = val.images[:n_eval]
    gen = torch.Generator().manual_seed(seed)
    prdc_real = phi.features(train.images[torch.randperm(len(train), generator=gen)[:n_eval]])  # equal sizes
    reference = RealReference(train.images, phi)

    def scores(images: torch.Tensor) -> dict:
        return reference.fid_kid(images) | prdc(prdc_real, phi.features(images))

    report = {"run": str(run_dir), "data": config["data"], "size": int(config["size"]), "step": config["step"],
              "n_eval": n_eval, "n_reference": len(train), "feature_net_test_accuracy": phi.test_accuracy}
    report |= scores(fake[:n_eval])
    report["memorisation"] = memorisation(fake, train.images, test.images).summary()
    report["baseline_real"] = scores(held_out)
    if two_sample:
        # the classifier two-sample test against the test split, which nothing else here uses; its baseline asks
        # the same of real training images, so a difference between the splits themselves shows up there too
        n_c2st = min(n, len(test))
        c2st = two_sample_test(test.images, fake, n=n_c2st, seed=seed, device=device)
        report["two_sample_test"] = c2st.summary()
        if on_two_sample is not None:
            on_two_sample(c2st)
        report["baseline_real"]["two_sample_test"] = two_sample_test(test.images, train.images, n=n_c2st,
                                                                     seed=seed, device=device).summary()
    if write:
        (Path(run_dir) / REPORT_FILE).write_text(json.dumps(report, indent=1))
    return report
