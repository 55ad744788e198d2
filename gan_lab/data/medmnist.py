"""Reader for the official MedMNIST ``.npz`` files (any 2-D flag, 28/64/128/224 px).

The files are found on a search path (explicit ``root`` → ``$GAN_LAB_DATA/medmnist``
→ ``<repo>/data/medmnist`` → medmnist's own default root, usually ``~/.medmnist``),
checked against the MD5 published in ``medmnist.INFO`` and turned into an
:class:`~gan_lab.data.base.ImageData` with images in [-1, 1].

The ``medmnist`` package is imported lazily: importing it pulls in torch,
pandas and scikit-learn, which ``import gan_lab`` should not pay for.

Multi-label flags (ChestMNIST) have one 0/1 column per finding. A GAN lab
needs one class per image, so such flags become two classes, "no finding"
(all zeros) and "finding" (any one), and the full matrix stays in
``info["multi_labels"]``. Taking the first column alone would call every
image without atelectasis "normal".

Reference: J. Yang et al., "MedMNIST v2 - A large-scale lightweight benchmark
for 2D and 3D biomedical image classification", Scientific Data 10, 41 (2023).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from .. import config
from .base import ImageData
from .errors import DataError, DataUnavailableError

SPLITS = ("train", "val", "test")
SIZES = (28, 64, 128, 224)

# (resolved path, mtime_ns, bytes) -> hex digest; a file that has not changed is hashed once per process.
_MD5_CACHE: dict[tuple[str, int, int], str] = {}


def medmnist_info() -> dict:
    """``medmnist.INFO``: every flag's URLs, MD5s, class names and sample counts."""
    import medmnist  # lazy: slow import (torch, pandas, scikit-learn)

    return medmnist.INFO


def is_3d(flag: str) -> bool:
    """MedMNIST names its volumetric datasets ``...mnist3d``."""
    return flag.endswith("3d")


def flags_2d() -> list[str]:
    """All 2-D MedMNIST flags known to the installed ``medmnist`` package."""
    return [flag for flag in medmnist_info() if not is_3d(flag)]


def file_name(flag: str, size: int = 28) -> str:
    """The official file name: ``{flag}.npz`` at 28 px, ``{flag}_{size}.npz`` otherwise."""
    return f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"


def default_root() -> Path | None:
    """medmnist's own download folder (``medmnist.info.DEFAULT_ROOT``), if it has one."""
    from medmnist.info import DEFAULT_ROOT

    return Path(DEFAULT_ROOT) if DEFAULT_ROOT else None


def search_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for MedMNIST files, in order."""
    dirs = config.data_roots("medmnist", root)
    extra = default_root()
    if extra is not None and extra not in dirs:
        dirs.append(extra)
    return dirs


def flag_info(flag: str, size: int = 28) -> dict:
    """``medmnist.INFO[flag]`` after checking that ``flag`` and ``size`` are usable here.

    Raises:
        DataError: unknown flag (with the closest valid one), a 3-D flag or an unsupported size.
    """
    info = medmnist_info()
    if flag not in info:
        valid = flags_2d()
        close = difflib.get_close_matches(flag.lower(), valid, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DataError(f"Unknown MedMNIST flag {flag!r}.{hint} Valid 2-D flags: {', '.join(valid)}.")
    if is_3d(flag):
        raise DataError(
            f"{flag!r} is a 3-D MedMNIST dataset (28x28x28 volumes): load() reads 2-D images only. "
            f"Read volumes with gan_lab.data.volumes.load_volumes({flag!r}) (notebook 10), or use a 2-D flag "
            f"such as {', '.join(flags_2d()[:4])}, ..."
        )
    if size not in SIZES or _size_suffix("MD5", size) not in info[flag]:
        raise DataError(f"Unsupported size {size} for {flag!r}: MedMNIST publishes sizes {SIZES}.")
    return info[flag]


def _size_suffix(key: str, size: int) -> str:
    return key if size == 28 else f"{key}_{size}"


def find_file(flag: str, size: int = 28, root: str | os.PathLike | None = None) -> Path | None:
    """The first ``file_name(flag, size)`` on the search path, or None."""
    for folder in search_dirs(root):
        path = folder / file_name(flag, size)
        if path.is_file():
            return path
    return None


def file_md5(path: Path) -> str:
    """MD5 of ``path``, remembered per (path, mtime, size) so repeated loads do not rehash."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _MD5_CACHE:
        _MD5_CACHE[key] = _hash_file(path)
    return _MD5_CACHE[key]


def _hash_file(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def load_medmnist(
    flag: str,
    split: str = "train",
    size: int = 28,
    root: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> ImageData:
    """Load one split of a 2-D MedMNIST dataset.

    Args:
        flag: a 2-D key of ``medmnist.INFO``, e.g. "pneumoniamnist", "breastmnist", "pathmnist".
        split: "train", "val" or "test".
        size: 28, 64, 128 or 224 (pixels per side).
        root: a folder searched before the default search path (and the download target).
        download: fetch the file with medmnist's downloader when it is not found (or is corrupt);
            it goes to ``root`` if given, else ``<repo>/data/medmnist``.
        verify: check the file's MD5 against ``medmnist.INFO`` (turn off only for your own npz files).

    Returns:
        ImageData with images (N, C, size, size) in [-1, 1] (C = 1 grey or 3 RGB), labels (N,)
        long, ``class_names`` from ``INFO[flag]["label"]`` and ``info`` holding flag, split,
        size, path and task.

    Raises:
        DataError: unknown flag (with the closest one), 3-D flag, bad split or size.
        DataUnavailableError: (a DataError) file missing offline, failed download, MD5 mismatch,
            unreadable zip, wrong keys or shapes.

    Example:
        >>> data = load_medmnist("pneumoniamnist", split="train")  # doctest: +SKIP
        >>> data.images.shape, data.class_names
        (torch.Size([4708, 1, 28, 28]), ['normal', 'pneumonia'])
    """
    info = flag_info(flag, size)
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r} for {flag}: use one of {SPLITS}.")
    path = _locate(flag, size, root, download, verify, info)
    images, labels = _read_split(path, split, size, info["n_channels"])
    return _to_image_data(images, labels, flag, split, size, path, info)


def fetch_medmnist(flag: str, size: int = 28, root: str | os.PathLike | None = None) -> Path:
    """The checked file of ``flag`` at ``size``, downloaded (into ``root`` or ``DATA_DIR/medmnist``) if missing.

    Nothing is downloaded when a file with the official MD5 is on the search path.
    ``python -m gan_lab download FLAG --size N`` calls this. 3-D flags (read by
    ``gan_lab.data.volumes``) are fetched at 28³, the size gan_lab reads.

    Raises:
        DataError: unknown flag or size.
        DataUnavailableError: the download failed, or the file does not match the official MD5.
    """
    info = medmnist_info().get(flag)
    if info is not None and is_3d(flag):
        if size != 28:
            raise DataError(f"{flag} is a 3-D dataset that gan_lab reads at 28³ (gan_lab.data.volumes): "
                            "leave out --size (or give 28).")
        return _locate(flag, 28, root, True, True, info)
    return _locate(flag, size, root, True, True, flag_info(flag, size))


def _locate(flag: str, size: int, root, download: bool, verify: bool, info: dict) -> Path:
    """The file on the search path (MD5-checked if ``verify``), or a fresh download when allowed."""
    expected_md5 = info[_size_suffix("MD5", size)]
    path = find_file(flag, size, root)
    if path is not None and verify and file_md5(path) != expected_md5:
        if not download:
            raise DataUnavailableError(_corrupt_message(path, flag, size, info))
        path = None  # a fresh download replaces it
    if path is None:
        if not download:
            raise DataUnavailableError(missing_message(flag, size, root))
        path = _download(flag, size, Path(root) if root is not None else config.DATA_DIR / "medmnist")
        if verify and file_md5(path) != expected_md5:
            raise DataUnavailableError(_corrupt_message(path, flag, size, info))
    return path


def missing_message(flag: str, size: int = 28, root: str | os.PathLike | None = None) -> str:
    """What to do when ``file_name(flag, size)`` is on no folder of the search path."""
    info = medmnist_info()[flag]
    searched = "\n".join(f"  - {d}" for d in search_dirs(root))
    return (
        f"MedMNIST file {file_name(flag, size)} not found. Searched:\n{searched}\n"
        f"Fix it in one of three ways:\n"
        f"  1. load('{flag}', download=True) (or load_medmnist(..., download=True)) downloads it "
        f"into {config.DATA_DIR / 'medmnist'};\n"
        f"  2. download {info[_size_suffix('url', size)]} and put it in {config.DATA_DIR / 'medmnist'};\n"
        f"  3. set GAN_LAB_DATA to a folder holding medmnist/{file_name(flag, size)}."
    )


def _corrupt_message(path: Path, flag: str, size: int, info: dict) -> str:
    return (
        f"{path} is corrupt or truncated: its MD5 {file_md5(path)} differs from the official "
        f"{info[_size_suffix('MD5', size)]}. Delete it and load with download=True, or download "
        f"{info[_size_suffix('url', size)]} again."
    )


def _download(flag: str, size: int, dest: Path) -> Path:
    """Fetch one file with medmnist's own downloader (which also checks the MD5)."""
    import medmnist

    dest.mkdir(parents=True, exist_ok=True)
    dataset_class = getattr(medmnist, medmnist_info()[flag]["python_class"])
    print(f"Downloading {file_name(flag, size)} into {dest} ...")
    try:
        dataset_class(split="train", download=True, root=str(dest), size=size)
    except RuntimeError as err:
        message = f"Download of {file_name(flag, size)} failed.\n{missing_message(flag, size, dest)}"
        raise DataUnavailableError(message) from err
    return dest / file_name(flag, size)


def _read_split(path: Path, split: str, size: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The raw ``{split}_images`` (uint8) and ``{split}_labels`` arrays, with their shapes checked."""
    keys = (f"{split}_images", f"{split}_labels")
    try:
        with np.load(path) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataUnavailableError(
                    f"{path} lacks the keys {missing} (it has {sorted(npz.files)}); official MedMNIST "
                    "files hold train/val/test _images and _labels. Replace it with the official file."
                )
            images, labels = npz[keys[0]], npz[keys[1]]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise DataUnavailableError(f"{path} is not a readable npz file ({err}). Delete it and download it "
                                   "again.") from err
    want = (size, size) if channels == 1 else (size, size, 3)
    if images.ndim != len(want) + 1 or images.shape[1:] != want or images.dtype != np.uint8:
        raise DataUnavailableError(
            f"{path}: {keys[0]} has shape {images.shape} and dtype {images.dtype}; expected "
            f"(N, {', '.join(map(str, want))}) uint8 for a {size}-px, {channels}-channel MedMNIST file."
        )
    if labels.ndim != 2 or labels.shape[0] != images.shape[0]:
        raise DataUnavailableError(f"{path}: {keys[1]} has shape {labels.shape}; "
                                   f"expected ({images.shape[0]}, K).")
    return images, labels


def _to_image_data(images: np.ndarray, labels: np.ndarray, flag: str, split: str, size: int,
                   path: Path, info: dict) -> ImageData:
    x = torch.from_numpy(images).float().div_(127.5).sub_(1.0)  # uint8 -> [-1, 1]
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
    names = [info["label"][k] for k in sorted(info["label"], key=int)]
    extra = {"flag": flag, "split": split, "size": size, "path": str(path), "task": info["task"]}
    if info["task"].startswith("multi-label"):
        extra.update(multi_labels=torch.from_numpy(labels.astype(np.int64)), finding_names=names)
        y = torch.from_numpy((labels.max(axis=1) > 0).astype(np.int64))
        names = ["no finding", "finding"]
    else:
        y = torch.from_numpy(labels[:, 0].astype(np.int64))
    if y.numel() and (y.min() < 0 or y.max() >= len(names)):
        raise DataUnavailableError(f"{path}: labels outside 0..{len(names) - 1}; "
                                   f"the file does not match {flag}.")
    return ImageData(x, y, names, flag, f"real: {path}", info=extra)
