"""Checks for the start-here notebook's exercises (00): each takes your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way. The
checks compute the right answer themselves, from the data that ``load`` finds
on this machine (real files or the phantom stand-ins) or from the noise law.

Example:
    >>> check_dose_ratio((1.0 / 0.05) ** 0.5)  # doctest: +SKIP
    ✓ RMSE ratio from dose 1 to dose 0.05: correct.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Mapping

import numpy as np
import torch
from scipy import ndimage

from ..data import load
from .core import Feedback, _short, _word, check_choice, check_function, check_value, unanswered

SPLITS = ("train", "val", "test")
LESION_SIZES = (28, 64)
N_LESION_PHANTOMS = 300
NUCLEI_SCALES = (1.0, 0.5)


def _quiet(fn, *args, **kwargs):
    """``fn(...)`` without its printout: the banner of a phantom fallback was shown when the student loaded."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def _number(x) -> float | None:
    """``x`` as a float (a Python number, a NumPy scalar or a one-element tensor), or None."""
    if isinstance(x, (bool, str)) or x is None:
        return None
    try:
        value = float(x.item() if torch.is_tensor(x) else x)
    except (TypeError, ValueError, RuntimeError):
        return None
    return value if math.isfinite(value) else None


def _pick(answer: Mapping, key):
    """``answer[key]``, also when the student's keys are strings ("28", "Train") or numbers (28.0)."""
    for k, v in answer.items():
        if k == key or _word(str(k)) == _word(str(key)):
            return v
    return None



# ---- exercise 1: class imbalance --------------------------------------------------------------------------
def breast_counts(size: int = 28) -> dict[str, dict[str, int]]:
    """``class_counts()`` of every BreastMNIST split, as ``load`` finds them here (phantoms without the file)."""
    return {split: _quiet(load, "breastmnist", split=split, size=size).class_counts() for split in SPLITS}


def check_imbalance(answer) -> Feedback:
    """``answer = {"train": r, "val": r, "test": r}``: images of the larger class / images of the smaller one."""
    name = "BreastMNIST imbalance per split"
    hint = ("for each split, counts = load('breastmnist', split=split, size=28).class_counts(); the ratio is "
            "max(counts.values()) / min(counts.values()): how many images of the larger class per image of the "
            "smaller one (a number ≥ 1).")
    if (missing := unanswered(name, answer, hint)) is not None:
        return missing
    if not isinstance(answer, Mapping):
        return Feedback(name, False, [f"expected a dict {{'train': ..., 'val': ..., 'test': ...}}, got "
                                      f"{_short(answer)}"], hint).show()
    counts = breast_counts()
    notes, passed = [], True
    for split in SPLITS:
        c = counts[split]
        large, small = max(c.values()), min(c.values())
        expected = large / small if small else math.inf
        got = _number(_pick(answer, split))
        if got is None:
            notes.append(f"{split}: no number (got {_short(_pick(answer, split))})")
            passed = False
        elif math.isclose(got, expected, rel_tol=1e-3, abs_tol=0.01):
            notes.append(f"{split}: {got:.2f} ✓")
        else:
            passed = False
            notes.append(f"{split}: {got:.3g} is not right")
            if math.isclose(got, small / large, rel_tol=1e-3, abs_tol=0.01):
                hint = "you divided the smaller class by the larger: the ratio asked for is larger / smaller, ≥ 1."
            elif math.isclose(got, small / (large + small), rel_tol=1e-3, abs_tol=0.01):
                hint = ("that is the smaller class's share of the split; the ratio asked for is images of the "
                        "larger class per image of the smaller one.")
    if passed:
        train = counts["train"]
        minority = min(train, key=train.get)
        ratios = [max(c.values()) / min(c.values()) for c in counts.values()]
        if max(ratios) < 1.05:
            notes.append("The classes are balanced here: these are phantom stand-ins (the banner above said so); "
                         "the real BreastMNIST has about 2.7 benign or normal images per malignant one.")
        else:
            same = max(ratios) / min(ratios) < 1.1
            notes.append((f"Every split has about {ratios[0]:.1f} images of the larger class per '{minority}' "
                          "image: MedMNIST keeps the class mix the same across its splits." if same else
                          f"The training split has {ratios[0]:.1f} images of the larger class per '{minority}' "
                          "image, and the held-out splits other mixes.") + " A GAN trained on all "
                         f"{sum(train.values())} training images sees only {train[minority]} '{minority}' ones "
                         "and gets little signal from them; a rare mode it leaves out costs it little. Expect "
                         "that class to come out worse, unless the GAN is told the class (notebook 03) or the "
                         "data are rebalanced.")
    return Feedback(name, passed, notes, hint).show()


# ---- exercise 2: lesions at 28 and 64 px -------------------------------------------------------------------
def lesion_stats(size: int, n: int = N_LESION_PHANTOMS) -> tuple[float, float]:
    """(fraction of all pixels in a lesion, mean lesion pixels per lesion image) of ``n`` phantoms at ``size`` px."""
    data = _quiet(load, "phantoms", size=size, n=n)
    masks = data.masks.float()
    per_image = masks.flatten(1).sum(1)
    with_lesion = data.labels > 0
    return masks.mean().item(), per_image[with_lesion].mean().item()


def check_lesion_fraction(answer) -> Feedback:
    """``answer = {28: f, 64: f}``: the fraction of all pixels of 300 phantoms (seed 0) that lie in a lesion."""
    name = "lesion pixels at 28 and 64 px"
    hint = ("for each size, data = load('phantoms', size=size, n=300); the fraction of lesion pixels is "
            "data.masks.float().mean().item(), over all 300 images (the healthy ones have empty masks).")
    if (missing := unanswered(name, answer, hint)) is not None:
        return missing
    if not isinstance(answer, Mapping):
        return Feedback(name, False, [f"expected a dict {{28: ..., 64: ...}}, got {_short(answer)}"], hint).show()
    stats = {size: lesion_stats(size) for size in LESION_SIZES}
    notes, passed = [], True
    for size in LESION_SIZES:
        expected = stats[size][0]
        got = _number(_pick(answer, size))
        if got is None:
            notes.append(f"{size} px: no number (got {_short(_pick(answer, size))})")
            passed = False
        elif math.isclose(got, expected, rel_tol=0.02):
            notes.append(f"{size} px: {got:.4f} ✓")
        else:
            passed = False
            notes.append(f"{size} px: {got:.4g} is not right")
            if math.isclose(got, 100 * expected, rel_tol=0.02):
                hint = "a fraction, not a percentage: between 0 and 1."
            elif got > 1:
                hint = ("a fraction of the pixels (between 0 and 1), not a number of pixels: "
                        "data.masks.float().mean().item() over all 300 images.")
            elif got > expected * 1.2:
                hint = ("over ALL 300 images, the healthy ones included (a third of them, with empty masks): "
                        "data.masks.float().mean().item().")
    if passed:
        (f28, p28), (f64, p64) = stats[28], stats[64]
        notes.append(f"About the same share at both sizes ({f28:.1%} and {f64:.1%}): the same anatomies, drawn on "
                     f"finer grids. What changes is the number of pixels: a lesion covers {p28:.0f} pixels on "
                     f"average at 28 px and {p64:.0f} at 64 px ({p64 / p28:.1f}×, about (64/28)² = 5.2). At 28 px "
                     "the irregular rim that tells a tumour from a cyst is a pixel or two wide: what survives is "
                     "mostly the lesion's brightness and place, as in MedMNIST's 28-px images.")
    return Feedback(name, passed, notes, hint).show()


# ---- exercise 3: a CycleGAN with unequal lesion rates ------------------------------------------------------
def check_cyclegan_lesions(answer) -> Feedback:
    """Lesion rates 0.9 (MR) and 0.1 (CT): what does G (MR → CT) tend to do to a lesion? A letter, a–d."""
    hints = {
        "a": "the cycle loss asks only that F can undo G; it does not ask that the lesion stay VISIBLE in G(x). "
             "How often do the CT images that D_CT learns from show a lesion?",
        "c": "G is judged by D_CT, which has seen a lesion in only 1 of 10 CT images: does a bigger, brighter "
             "lesion make G(x) look more or less like that CT set?",
        "d": "over training D_CT sees thousands of G's outputs: if 90 % of them show a lesion and 10 % of real CT "
             "images do, a lesion is a sign of a fake (D*(x) = p_CT(x) / (p_CT(x) + p_G(x))).",
    }
    return check_choice("a CycleGAN and unequal lesion rates", answer, "b", hints,
                        why="D_CT learns the CT set, where only 1 image in 10 has a lesion; to fool it G has to "
                            "bring the lesion rate of its outputs from 0.9 down to 0.1, removing most lesions (about "
                            "8 in 9). The cycle loss does not stop it: G can keep a faint, nearly invisible trace "
                            "from which F puts the lesion back (Chu et al. 2017). Cohen et al. (2018) showed tumours "
                            "removed and added this way; notebook 04 trains it.")


# ---- exercise 4: the noise of a low dose -------------------------------------------------------------------
def check_dose_ratio(answer, dose_low: float = 0.05, dose_high: float = 1.0) -> Feedback:
    """RMSE(dose_low) / RMSE(dose_high) predicted by the law variance ∝ 1/dose (a number)."""
    expected = math.sqrt(dose_high / dose_low)
    name = f"RMSE ratio from dose {dose_high:g} to dose {dose_low:g}"
    value = _number(answer)
    hint = ("the variance grows as 1/dose, and the RMSE is the square root of the mean squared difference, i.e. "
            "of the variance: RMSE ∝ 1/√dose. Divide the two.")
    if value is not None:
        if math.isclose(value, dose_high / dose_low, rel_tol=1e-2):
            hint = ("that is the ratio of the VARIANCES (1/dose). The RMSE is the square root of the mean squared "
                    "error: take the square root.")
        elif math.isclose(value, 1 / expected, rel_tol=1e-2) or math.isclose(value, dose_low / dose_high,
                                                                             rel_tol=1e-2):
            hint = ("upside down: the noise grows as the dose FALLS, so the RMSE at dose 0.05 is the larger one. "
                    "Variance ∝ 1/dose, RMSE ∝ 1/√dose.")
    return check_value(name, answer, expected, rtol=1e-2, hint=hint,
                       why=f"RMSE ∝ 1/√dose, so √({dose_high:g} / {dose_low:g}) = {expected:.2f}: against 1/√dose "
                           "the RMSE is a straight line through the origin. The cell below measures it; where "
                           "very few photons are left, clipping to [-1, 1] and the floor on the photon count "
                           "can bend the line.")


# ---- exercise 5: nuclei per tile ---------------------------------------------------------------------------
def count_blobs(masks: torch.Tensor) -> float:
    """The mean number of 8-connected components per mask of ``masks`` (N, 1, H, W)."""
    eight = np.ones((3, 3), dtype=int)
    counts = [ndimage.label(m[0].cpu().numpy() > 0.5, structure=eight)[1] for m in masks]
    return float(np.mean(counts)) if counts else 0.0


def _drawn_masks() -> torch.Tensor:
    """Three 12×12 masks with 3, 1 and 0 nuclei: the middle one's two squares touch at a corner only."""
    masks = torch.zeros(3, 1, 12, 12)
    masks[0, 0, 1:3, 1:3] = masks[0, 0, 6:9, 6:9] = masks[0, 0, 1:3, 9:11] = 1
    masks[1, 0, 2:5, 2:5] = masks[1, 0, 5:8, 5:8] = 1  # diagonal neighbours: one 8-connected blob
    return masks


def nuclei_tiles(scale: float, n: int = 200):
    """The 64-px nuclei tiles of notebook 00 at ``scale`` (phantoms with lesion masks without the files)."""
    return _quiet(load, "nuclei", split="train", size=64, n=n, kind="all", grey=False, scale=scale,
                  min_foreground=0.05)


def check_nuclei_per_tile(fn) -> Feedback:
    """``fn(masks)`` for masks (N, 1, H, W) in {0, 1} must return the mean number of 8-connected blobs per tile."""
    cases, labels = [((_drawn_masks(),), count_blobs(_drawn_masks()))], ["3 drawn tiles (3, 1 and 0 nuclei)"]
    tiles = {scale: nuclei_tiles(scale) for scale in NUCLEI_SCALES}
    for scale, data in tiles.items():
        cases.append(((data.masks,), count_blobs(data.masks)))
        labels.append(f"{len(data)} tiles at scale {scale:g} ({data.source.split(':')[0]})")
    fb = check_function("nuclei per tile", fn, cases, labels=labels, rtol=1e-6, atol=1e-6,
                        hint="for each tile, ndimage.label(mask[0].numpy() > 0.5, structure=np.ones((3, 3))) "
                             "returns (labels, number of blobs); average the numbers over ALL tiles. "
                             "np.ones((3, 3)) makes blobs that touch at a corner one blob (8-connectivity).",
                        verbose=False)
    if fb:
        full, half = (count_blobs(tiles[s].masks) for s in NUCLEI_SCALES)
        if tiles[1.0].is_real:
            fb.notes.append(f"{full:.1f} nuclei per tile at scale 1 and {half:.1f} at scale 0.5: halving the "
                            "images puts four times the area into a 64-px tile, so a tile holds more whole nuclei "
                            "and more context, and fewer are cut by its edge; but each nucleus keeps a quarter of "
                            "its pixels and small ones become specks. Which trade-off suits your network?")
        else:
            fb.notes.append("These are phantom stand-ins (one lesion or none per image), so both scales give the "
                            "same count; with the nuclei files the two scales differ.")
    return fb.show()
