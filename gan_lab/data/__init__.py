"""Datasets for the lab: real MedMNIST and nuclei images, and procedural phantoms.

``load(name)`` is the one entry point the notebooks use. It returns real data
when it is found and, by default, falls back to phantoms with a visible
banner when it is not, so every notebook runs offline.

Example:
    >>> from gan_lab.data import load
    >>> data = load("phantoms", split="train", n=300, size=28)
    >>> data.images.shape, data.class_names
    (torch.Size([300, 1, 28, 28]), ['healthy', 'cyst', 'tumour'])
"""

from __future__ import annotations

import difflib
import os

import torch

from . import nuclei
from .base import ImageData
from .errors import DataError, DataUnavailableError
from .medmnist import fetch_medmnist, flag_info, flags_2d, load_medmnist, medmnist_info
from .nuclei import download_nuclei, load_nuclei
from .phantoms import low_dose_pairs, phantom_classes, phantom_pairs, phantom_unpaired
from .subsets import stratified_subset

__all__ = ["ImageData", "DataError", "DataUnavailableError", "load", "fetch", "load_medmnist", "load_nuclei",
           "phantom_classes", "phantom_pairs", "phantom_unpaired", "low_dose_pairs", "stratified_subset"]

PHANTOM_SIZES = {"train": 3000, "val": 600, "test": 600}  # images per split when n is not given
PHANTOM_SEEDS = {"train": 0, "val": 1, "test": 2}  # distinct seeds: no image is in two splits


def load(
    name: str,
    split: str = "train",
    size: int = 28,
    root: str | os.PathLike | None = None,
    download: bool = False,
    fallback: bool = True,
    n: int | None = None,
    **options,
) -> ImageData:
    """Load a dataset by name: "phantoms", "nuclei" or any 2-D MedMNIST flag.

    Args:
        name: "phantoms", "nuclei", or a MedMNIST flag such as "pneumoniamnist".
        split: "train", "val" or "test" ("val" does not exist for nuclei).
        size: image side in pixels (the MedMNIST size, the phantom size or the nuclei tile).
        root: a folder searched first for the real files.
        download: download missing real data: a MedMNIST file (medmnist's downloader) or BBBC038's
            nuclei (``stage1_train.zip``, resumable, unpacked into ``root`` or ``DATA_DIR/dsb2018_nuclei``).
        fallback: if the real data is missing, print a banner and return phantoms instead
            of raising ``DataError``.
        n: keep n images (a fixed random subset of real data; the first n phantoms).
        **options: passed on to the loader (e.g. ``kind="color", scale=0.5`` for nuclei).

    Returns:
        ImageData; ``data.is_real`` tells real data from phantoms.

    Raises:
        DataError: unknown name or bad arguments (always raised).
        DataUnavailableError: missing or corrupt real data when ``fallback=False``.
    """
    key = name.lower().strip()
    if key == "phantoms":
        _check_split(split, PHANTOM_SIZES)
        return phantom_classes(n or PHANTOM_SIZES[split], size=size, seed=PHANTOM_SEEDS[split], **options)
    if key == "nuclei":
        return _real_or_fallback(key, split, size, n, fallback,
                                 lambda: load_nuclei(root=root, split=split, tile=size, download=download, **options))
    if key not in medmnist_info():
        raise _unknown(name, key)
    flag_info(key, size)  # bad flag, 3-D flag or size: an error in the call, never a fallback
    _check_split(split, PHANTOM_SIZES)
    return _real_or_fallback(key, split, size, n, fallback,
                             lambda: load_medmnist(key, split=split, size=size, root=root, download=download))


def fetch(name: str, size: int = 28, root: str | os.PathLike | None = None):
    """Download a real dataset now, if it is not already here; returns where it is.

    For preparing machines before class (``python -m gan_lab download NAME``): "nuclei"
    (BBBC038 ``stage1_train``; returns the folder holding it), a 2-D MedMNIST flag at
    ``size`` px, or a 3-D one such as "adrenalmnist3d" at 28³ (returns the checked ``.npz``).
    Nothing is downloaded when the data is found.

    Raises:
        DataError: an unknown name or size, or "phantoms" (generated, never downloaded).
        DataUnavailableError: the download failed; the message names the URL and the folder.
    """
    key = name.lower().strip()
    if key == "phantoms":
        raise DataError("Phantoms are generated on the fly: there is nothing to download. "
                        "Name 'nuclei' or a MedMNIST flag such as 'pneumoniamnist'.")
    if key == "nuclei":
        found = nuclei.find_root(root)
        return found if found is not None else download_nuclei(root)
    if key not in medmnist_info():
        raise _unknown(name, key)
    return fetch_medmnist(key, size=size, root=root)


def _unknown(name: str, key: str) -> DataError:
    choices = ["phantoms", "nuclei"] + flags_2d()
    close = difflib.get_close_matches(key, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    return DataError(f"Unknown dataset {name!r}.{hint} Choose from: {', '.join(choices)}.")


def _check_split(split: str, valid) -> None:
    if split not in valid:
        raise DataError(f"Unknown split {split!r}: use one of {tuple(valid)}.")


def _real_or_fallback(name: str, split: str, size: int, n: int | None, fallback: bool, read) -> ImageData:
    """``read()``'s data (subsampled to n), or phantoms with a banner if the data is unavailable."""
    try:
        return _subsample(read(), n)
    except DataUnavailableError as err:
        if not fallback:
            raise
        reason = str(err)
    _banner(name, reason)
    split = split if split in PHANTOM_SIZES else "train"  # nuclei's "all"
    data = phantom_classes(n or PHANTOM_SIZES[split], size=size, seed=PHANTOM_SEEDS[split])
    channels = medmnist_info()[name]["n_channels"] if name != "nuclei" else 1
    images = data.images.repeat(1, channels, 1, 1)  # same channel count as the real data would have
    return ImageData(images, data.labels, data.class_names, "phantoms",
                     f"phantom fallback ({name} not found)", data.masks, {**data.info, "requested": name})


def _banner(name: str, reason: str) -> None:
    line = "=" * 78
    print(f"{line}\nREAL DATA NOT FOUND: {name} -> using procedural phantoms instead "
          f"(labels: healthy / cyst / tumour)\n{reason}\n{line}")


def _subsample(data: ImageData, n: int | None) -> ImageData:
    """A fixed random subset of n rows (kept in their original order)."""
    if n is None or n >= len(data):
        return data
    index = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n].sort().values
    subset = data.subset(index)
    if "image_ids" in subset.info:
        subset.info["image_ids"] = [subset.info["image_ids"][i] for i in index.tolist()]
    return subset
