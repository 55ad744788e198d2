"""Reader for nuclei images in the BBBC038 / Data Science Bowl 2018 ``stage1_train`` layout.

::

    <root>/stage1_train/<id>/images/<id>.png    the image (often RGBA)
    <root>/stage1_train/<id>/masks/*.png        one binary mask per nucleus
    <root>/merged_masks/<id>.png                optional: the union of an image's masks
    <root>/manifest.csv                         optional: image_id, kind (fluor | color), ...

Images are cut into non-overlapping square tiles; the train/test split is made
per *image* (never per tile), so no test tile comes from a training image.

Two kinds of image give two classes: fluorescence (bright nuclei on black)
and stained tissue (H&E-like colour, dark nuclei on a light background).
Without ``manifest.csv`` an image counts as fluorescence when it is grey
(R = G = B) and mostly dark, else as stained tissue.

With ``download=True`` a missing ``stage1_train/`` is fetched from :data:`ARCHIVE_URL`
(``$GAN_LAB_NUCLEI_URL`` overrides it), resumably and with a progress bar, checked and
unpacked into ``<root or DATA_DIR>/dsb2018_nuclei`` (:func:`download_nuclei`).

Reference: J. C. Caicedo et al., "Nucleus segmentation across imaging
experiments: the 2018 Data Science Bowl", Nature Methods 16, 1247 (2019).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from .. import config
from .base import ImageData
from .download import download_file, extract, zip_members
from .errors import DataError, DataUnavailableError

DATASET = "dsb2018_nuclei"
URL = "https://bbbc.broadinstitute.org/BBBC038"  # the dataset's page (licence CC0, citation)
#: the training images and masks (≈ 80 MB zip, 670 images), linked from the page above
ARCHIVE_URL = "https://data.broadinstitute.org/bbbc/BBBC038/stage1_train.zip"
ARCHIVE = "stage1_train.zip"
EXPECTED_IMAGES = 670  # in the official stage1_train; only reported, since a mirror may hold a subset
_PNG = b"\x89PNG\r\n\x1a\n"
KINDS = ("fluor", "color")
CLASS_NAMES = ["fluorescence", "stained tissue"]
SPLITS = ("train", "test", "all")


def find_root(root: str | os.PathLike | None = None) -> Path | None:
    """The first folder on the search path that holds ``stage1_train/``, or None."""
    for folder in config.data_roots(DATASET, root):
        if (folder / "stage1_train").is_dir():
            return folder
    return None


def missing_message(root: str | os.PathLike | None = None) -> str:
    """What to do when no folder on the search path holds the nuclei images."""
    searched = "\n".join(f"  - {d}" for d in config.data_roots(DATASET, root))
    return (
        f"Nuclei images (BBBC038 / DSB2018 stage1_train) not found. Searched:\n{searched}\n"
        f"Fix it in one of three ways:\n"
        f"  1. load('nuclei', download=True) (or `python -m gan_lab download nuclei`) downloads "
        f"{archive_url()} into {download_folder(root)};\n"
        f"  2. download stage1_train.zip from {URL} and unzip it so that "
        f"{config.DATA_DIR / DATASET}/stage1_train/<image_id>/images/<image_id>.png exists;\n"
        f"  3. set GAN_LAB_DATA to a folder holding {DATASET}/stage1_train."
    )


# ------------------------------------------------------------------------------------------------- download
def archive_url() -> str:
    """Where ``stage1_train.zip`` is downloaded from: ``$GAN_LAB_NUCLEI_URL``, else :data:`ARCHIVE_URL`."""
    return config.download_url("nuclei", ARCHIVE_URL)


def download_folder(root: str | os.PathLike | None = None) -> Path:
    """Where :func:`download_nuclei` puts ``stage1_train/``: ``root`` if given, else ``DATA_DIR/dsb2018_nuclei``."""
    return Path(root).expanduser() if root is not None else config.DATA_DIR / DATASET


def _offline_fix(folder: Path, url: str) -> str:
    return (f"To install it by hand: download {url} (linked from {URL}) on a machine with internet access and "
            f"put stage1_train.zip in {folder} (the next load with download=True, or `python -m gan_lab download "
            f"nuclei`, unpacks it from there), or unzip it into {folder}/stage1_train (the archive's folders are "
            f"the image ids) so that {folder}/stage1_train/<image_id>/images/<image_id>.png exists.")


def download_nuclei(root: str | os.PathLike | None = None) -> Path:
    """Make sure ``stage1_train/`` is in ``download_folder(root)``: download, check and unpack it if missing.

    Nothing is downloaded when ``stage1_train/`` is already there. A ``stage1_train.zip`` put in
    the folder by hand is unpacked without downloading. The download resumes a partial
    ``stage1_train.zip.part`` left by an interrupted one. The archive is unpacked into a
    temporary folder, checked (every ``<id>/images/<id>.png`` a PNG, at least one mask each,
    sizes and CRCs), and only then moved into place; a downloaded archive is deleted afterwards.

    Returns:
        The folder holding ``stage1_train/`` (pass it as ``root=`` or rely on the search path).

    Raises:
        DataUnavailableError: offline, a failed or cut-short download (run again to resume), or an
            archive that is not the BBBC038 layout (deleted if it was downloaded; nothing is unpacked).
    """
    folder = download_folder(root)
    if (folder / "stage1_train").is_dir():
        return folder
    url = archive_url()
    archive, fix = folder / ARCHIVE, _offline_fix(folder, url)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataUnavailableError(f"Cannot create {folder} for the nuclei images ({err.strerror or err}): choose "
                                   "a folder you can write (root=..., GAN_LAB_HOME or --root).") from None
    downloaded = not archive.is_file()
    if downloaded:
        print(f"Downloading the BBBC038 nuclei images ({url}) into {folder} ...")
        download_file(url, archive, fix=fix, desc=ARCHIVE)
    try:
        n_images = _unpack(archive, folder, url if downloaded else None)
    except DataUnavailableError as err:
        if not downloaded:
            raise DataUnavailableError(f"{err} ({archive} was put there by hand: replace or delete it.)") from None
        archive.unlink(missing_ok=True)
        raise DataUnavailableError(f"{err} The downloaded file was deleted; if {url} is a mirror, check it "
                                   "(GAN_LAB_NUCLEI_URL).") from None
    if downloaded:
        archive.unlink(missing_ok=True)
    note = "" if n_images == EXPECTED_IMAGES or url != ARCHIVE_URL else \
        f" (the official archive has {EXPECTED_IMAGES}: this one may be incomplete)"
    print(f"BBBC038 nuclei ready: {n_images} images in {folder / 'stage1_train'}{note}")
    return folder


def _unpack(archive: Path, folder: Path, url: str | None) -> int:
    """Check ``archive``'s layout, unpack it into a temporary folder, move ``stage1_train/`` in; returns the images."""
    source = f"the file downloaded from {url}" if url else str(archive)
    fix = f"It is not BBBC038's stage1_train.zip ({URL})."
    members = zip_members(archive, fix)
    # the official zip holds <id>/images/<id>.png at its top; accept a stage1_train/ prefix as well
    if members and all(p.parts[0] == "stage1_train" for _, p in members):
        members = [(i, PurePosixPath(*p.parts[1:])) for i, p in members if len(p.parts) > 1]
    images = {p.parts[0] for _, p in members if len(p.parts) == 3 and p.parts[1] == "images"
              and p.parts[2] == f"{p.parts[0]}.png"}
    masks = {p.parts[0] for _, p in members if len(p.parts) == 3 and p.parts[1] == "masks"
             and p.suffix.lower() == ".png"}
    if not images:
        raise DataUnavailableError(f"{source} holds no <image_id>/images/<image_id>.png: not the BBBC038 layout. "
                                   f"{fix}")
    folders = {p.parts[0] for _, p in members if len(p.parts) > 1}  # a loose file at the top is ignored
    lacking = sorted((images - masks) | (folders - images))
    if lacking:
        raise DataUnavailableError(f"{source} is not the BBBC038 layout: {lacking[0]} has no images/{lacking[0]}.png "
                                   f"or no masks/*.png ({len(lacking)} such folder(s)). {fix}")
    keep = [(i, p) for i, p in members if len(p.parts) == 3 and p.parts[1] in ("images", "masks")
            and p.suffix.lower() == ".png"]

    def is_png(rel: PurePosixPath, first: bytes) -> None:
        if not first.startswith(_PNG):
            raise DataUnavailableError(f"{source}: {rel} is not a PNG image; the archive is damaged. {fix}")

    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".stage1_train.unpacking-"))
    try:
        extract(archive, [(i, PurePosixPath("stage1_train", *p.parts)) for i, p in keep], staging, fix,
                desc="unpacking stage1_train", check=is_png)
        try:
            os.replace(staging / "stage1_train", folder / "stage1_train")
        except OSError:
            if not (folder / "stage1_train").is_dir():  # else another process unpacked it first: fine
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(images)


def load_nuclei(
    root: str | os.PathLike | None = None,
    split: str = "train",
    tile: int = 64,
    kind: str = "fluor",
    grey: bool = True,
    test_fraction: float = 0.25,
    seed: int = 0,
    tiles_per_image: int | None = None,
    scale: float = 1.0,
    min_foreground: float = 0.0,
    download: bool = False,
) -> ImageData:
    """Nuclei image tiles with their segmentation masks.

    Args:
        root: a folder holding ``stage1_train/``, searched before ``$GAN_LAB_DATA/dsb2018_nuclei``
            and ``<repo>/data/dsb2018_nuclei``.
        split: "train", "test" or "all".
        tile: side of the square tiles in pixels (after scaling).
        kind: "fluor" (fluorescence), "color" (stained tissue) or "all".
        grey: one luminance channel (True) or RGB (False).
        test_fraction: share of the images (per kind) held out for "test".
        seed: fixes the image split and the choice of tiles.
        tiles_per_image: keep at most this many tiles per image, drawn at random (None: all).
        scale: resize images first (0.5 halves them, so whole nuclei fit in small tiles).
        min_foreground: drop tiles whose mask covers less than this fraction (0.05 skips empty tiles).
        download: when no folder on the search path holds ``stage1_train/``, download BBBC038's
            ``stage1_train.zip`` into ``root`` (if given) or ``DATA_DIR/dsb2018_nuclei`` and unpack it
            (:func:`download_nuclei`: resumable, checked, with a progress bar).

    Returns:
        ImageData with images (N, C, tile, tile) in [-1, 1], masks (N, 1, tile, tile) in {0, 1}
        (the union of the nucleus masks), labels 0 fluorescence / 1 stained tissue, and
        ``info["image_ids"]`` naming each tile's source image.

    Raises:
        DataError: an invalid argument, or no tile fits.
        DataUnavailableError: (a DataError) the folder is missing (and not downloaded) or not in the
            BBBC038 layout, or the download failed (offline: the message names the URL and the folder).

    Example:
        >>> data = load_nuclei(split="train", tile=64, scale=0.5)  # doctest: +SKIP
        >>> data.images.shape[1:], data.masks.shape[1:]
        (torch.Size([1, 64, 64]), torch.Size([1, 64, 64]))
    """
    _check_args(split, kind, tile, test_fraction, scale)
    folder = find_root(root)
    if folder is None:
        if not download:
            raise DataUnavailableError(missing_message(root))
        folder = download_nuclei(root)
    kinds = image_kinds(folder)
    ids = [i for i in split_ids(kinds, split, test_fraction, seed) if kind == "all" or kinds[i] == kind]
    rng = np.random.default_rng(seed)
    images, masks, labels, tile_ids = [], [], [], []
    for image_id in ids:
        image, mask = read_image(folder, image_id, grey), read_mask(folder, image_id)
        if image.shape[1:] != mask.shape[1:]:
            raise DataUnavailableError(f"The mask of image {image_id} is {mask.shape[2]}×{mask.shape[1]} px, the "
                                       f"image {image.shape[2]}×{image.shape[1]} ({_image_path(folder, image_id)}): "
                                       f"replace them from {URL} or remove the image's folder.")
        x, m = _tiles(image, mask, tile, scale)
        keep = np.flatnonzero(m.mean(axis=(1, 2, 3)) >= min_foreground)
        if tiles_per_image is not None and len(keep) > tiles_per_image:
            keep = np.sort(rng.choice(keep, tiles_per_image, replace=False))
        images.append(x[keep])
        masks.append(m[keep])
        labels += [KINDS.index(kinds[image_id])] * len(keep)
        tile_ids += [image_id] * len(keep)
    if not tile_ids:
        raise DataError(f"No {tile}-px tiles for split={split!r}, kind={kind!r} (images: {len(ids)}); "
                        "use a smaller tile, a larger scale or a lower min_foreground.")
    return ImageData(
        images=torch.from_numpy(np.concatenate(images)).mul_(2).sub_(1),
        labels=torch.tensor(labels, dtype=torch.long),
        class_names=list(CLASS_NAMES),
        name="nuclei",
        source=f"real: {folder}",
        masks=torch.from_numpy(np.concatenate(masks)),
        info={"image_ids": tile_ids, "split": split, "kind": kind, "tile": tile, "scale": scale},
    )


def _check_args(split: str, kind: str, tile: int, test_fraction: float, scale: float) -> None:
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}: use one of {SPLITS}.")
    if kind not in KINDS + ("all",):
        raise DataError(f"Unknown kind {kind!r}: use 'fluor', 'color' or 'all'.")
    if tile < 4 or not 0 <= test_fraction < 1 or scale <= 0:
        raise DataError(f"Need tile >= 4, 0 <= test_fraction < 1 and scale > 0 "
                        f"(got tile={tile}, test_fraction={test_fraction}, scale={scale}).")


def image_kinds(folder: Path) -> dict[str, str]:
    """``{image_id: "fluor" | "color"}`` for every image under ``folder/stage1_train``, sorted by id."""
    ids = sorted(p.name for p in (folder / "stage1_train").iterdir() if p.is_dir())
    if not ids:
        raise DataUnavailableError(f"{folder / 'stage1_train'} holds no image folders: unzip stage1_train.zip from "
                                   f"{URL} there (stage1_train/<image_id>/images/<image_id>.png).")
    for image_id in ids:
        if not _image_path(folder, image_id).is_file():
            raise DataUnavailableError(f"{folder / 'stage1_train' / image_id} has no images/{image_id}.png: "
                            f"not the BBBC038 layout (see {URL}).")
    manifest = folder / "manifest.csv"
    known = {}
    if manifest.is_file():
        try:
            with open(manifest, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                missing = {"image_id", "kind"} - set(reader.fieldnames or ())
                if missing:
                    raise ValueError(f"no column {', '.join(sorted(missing))} (it has {reader.fieldnames})")
                known = {row["image_id"]: row["kind"] for row in reader}
        except (ValueError, csv.Error, UnicodeDecodeError) as err:
            raise DataUnavailableError(f"{manifest} cannot be read ({err}); fix it to have the columns "
                                       "image_id and kind (fluor | color), or delete it.") from None
    return {i: known[i] if known.get(i) in KINDS else _guess_kind(folder, i) for i in ids}


def _guess_kind(folder: Path, image_id: str) -> str:
    rgb = np.asarray(_open_image(_image_path(folder, image_id), "RGB"), dtype=np.float32)
    is_grey = np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    return "fluor" if is_grey and rgb.mean() < 128 else "color"


def split_ids(kinds: dict[str, str], split: str, test_fraction: float, seed: int) -> list[str]:
    """Image ids of ``split``: a seeded shuffle per kind, the first ``test_fraction`` of each is "test".

    The split depends only on the set of images and the seed, not on which kind is requested.
    """
    if split == "all":
        return sorted(kinds)
    rng = np.random.default_rng(seed)
    chosen = []
    for kind in KINDS:
        ids = sorted(i for i, k in kinds.items() if k == kind)
        order = rng.permutation(len(ids))
        n_test = int(round(test_fraction * len(ids)))
        if test_fraction > 0 and len(ids) >= 2:
            n_test = min(max(n_test, 1), len(ids) - 1)  # both splits see every kind
        picked = order[:n_test] if split == "test" else order[n_test:]
        chosen += [ids[j] for j in sorted(picked)]
    return sorted(chosen)


def _image_path(folder: Path, image_id: str) -> Path:
    return folder / "stage1_train" / image_id / "images" / f"{image_id}.png"


def read_image(folder: Path, image_id: str, grey: bool = True) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1] (C = 1 luminance or 3 RGB; alpha dropped)."""
    image = _open_image(_image_path(folder, image_id), "L" if grey else "RGB")
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[None] if grey else array.transpose(2, 0, 1)


def read_mask(folder: Path, image_id: str) -> np.ndarray:
    """Union of an image's nucleus masks as float32 (1, H, W) in {0, 1}."""
    merged = folder / "merged_masks" / f"{image_id}.png"
    masks = folder / "stage1_train" / image_id / "masks"
    paths = [merged] if merged.is_file() else sorted(masks.glob("*.png"))
    if not paths:
        raise DataUnavailableError(f"No masks for image {image_id}: expected {masks}/*.png.")
    union = None
    for path in paths:
        mask = np.asarray(_open_image(path, "L")) > 127
        if union is not None and mask.shape != union.shape:
            raise DataUnavailableError(f"{path} is {mask.shape[1]}×{mask.shape[0]} px, the other masks of image "
                                       f"{image_id} {union.shape[1]}×{union.shape[0]}: replace it from {URL} or "
                                       "remove the image's folder.")
        union = mask if union is None else union | mask
    return union[None].astype(np.float32)


def _open_image(path: Path, mode: str) -> Image.Image:
    """``path`` decoded in ``mode`` ("L", "RGB"); an unreadable file is a DataUnavailableError naming it."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataUnavailableError(f"{path} cannot be read as an image ({err}); replace it from {URL} or remove "
                                   "the image's folder.") from None


def _tiles(image: np.ndarray, mask: np.ndarray, tile: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping tiles: image (C, H, W), mask (1, H, W) -> (T, C, tile, tile), (T, 1, tile, tile)."""
    if scale != 1.0:
        image, mask = _resize(image, scale), (_resize(mask, scale) > 0.5).astype(np.float32)
    _, h, w = image.shape
    rows, cols = h // tile, w // tile

    def cut(a: np.ndarray) -> np.ndarray:
        c = a.shape[0]
        a = a[:, :rows * tile, :cols * tile].reshape(c, rows, tile, cols, tile)
        return np.ascontiguousarray(a.transpose(1, 3, 0, 2, 4).reshape(rows * cols, c, tile, tile))

    return cut(image), cut(mask)


def _resize(array: np.ndarray, scale: float) -> np.ndarray:
    """Resize (C, H, W) float channels; BOX filtering averages areas when shrinking."""
    _, h, w = array.shape
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.BOX if scale < 1 else Image.BILINEAR
    return np.stack([np.asarray(Image.fromarray(c).resize(new, resample)) for c in array])
