"""The notebook-00 checks: right answers pass, typical wrong ones fail with a hint that fits the mistake, the
checks compute the right answer from whatever data ``load`` finds (real files or phantoms), and they never raise."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from gan_lab import exercises
from gan_lab.data import load
from gan_lab.exercises import start as ex


def student_imbalance() -> dict[str, float]:
    ratios = {}
    for split in ("train", "val", "test"):
        counts = load("breastmnist", split=split, size=28).class_counts()
        ratios[split] = max(counts.values()) / min(counts.values())
    return ratios


def student_lesion_fraction() -> dict[int, float]:
    return {size: load("phantoms", size=size, n=300).masks.float().mean().item() for size in (28, 64)}


def nuclei_per_tile(masks):
    counts = [ndimage.label(m[0].numpy() > 0.5, structure=np.ones((3, 3)))[1] for m in masks]
    return sum(counts) / len(counts)


def test_right_answers_pass_and_say_why(capsys):
    imbalance = student_imbalance()
    assert ex.check_imbalance(imbalance)
    assert ex.check_imbalance({k.upper(): round(v, 2) for k, v in imbalance.items()})  # rounded, other key case
    assert ex.check_lesion_fraction(student_lesion_fraction())
    assert ex.check_cyclegan_lesions(" (B) ")
    assert ex.check_dose_ratio((1 / 0.05) ** 0.5) and ex.check_dose_ratio(4.47)
    assert ex.check_nuclei_per_tile(nuclei_per_tile)
    out = capsys.readouterr().out
    assert out.count(": correct.") == 7
    assert "straight line through the origin" in out and "(64/28)² = 5.2" in out and "Chu et al." in out


def test_wrong_answers_fail_with_the_hint_for_that_mistake():
    inverted = ex.check_imbalance({k: 1 / v for k, v in student_imbalance().items()})
    assert not inverted and ("larger / smaller" in str(inverted) or "balanced" in str(inverted))
    percent = ex.check_lesion_fraction({k: 100 * v for k, v in student_lesion_fraction().items()})
    assert not percent and "not a percentage" in str(percent)
    lesions_only = {size: load("phantoms", size=size, n=300) for size in (28, 64)}
    lesions_only = {s: d.masks[d.labels > 0].float().mean().item() for s, d in lesions_only.items()}
    assert "healthy ones included" in str(ex.check_lesion_fraction(lesions_only))
    assert "VISIBLE" in str(ex.check_cyclegan_lesions("a"))
    assert "sign of a fake" in str(ex.check_cyclegan_lesions("d"))
    variance = ex.check_dose_ratio(20)
    assert not variance and "VARIANCES" in str(variance)
    assert "upside down" in str(ex.check_dose_ratio(0.05 ** 0.5))
    four = ex.check_nuclei_per_tile(lambda masks: float(np.mean([ndimage.label(m[0].numpy())[1] for m in masks])))
    assert not four and "3 drawn tiles (3, 1 and 0 nuclei): returned 1.66667, expected 1.33333" in str(four)
    assert "8-connectivity" in str(four)


def test_unfinished_or_malformed_answers_do_not_raise():
    def stub(masks):
        raise NotImplementedError

    assert "no answer yet" in str(ex.check_imbalance(...))
    assert "expected a dict" in str(ex.check_imbalance(2.7))
    assert "train: no number" in str(ex.check_imbalance({"val": 2.7, "test": 2.7}))
    assert "expected a dict" in str(ex.check_lesion_fraction([0.016, 0.016]))
    assert "no answer yet" in str(ex.check_dose_ratio(...)) and not ex.check_dose_ratio("sqrt(20)")
    assert "answer with one letter" in str(ex.check_cyclegan_lesions("the cycle loss"))
    assert "not implemented yet" in str(ex.check_nuclei_per_tile(stub))
    crashed = ex.check_nuclei_per_tile(lambda masks: 1 / 0)
    assert not crashed and "ZeroDivisionError" in str(crashed)
    assert "✗ nuclei per tile" in exercises.summary()


@pytest.mark.usefixtures("shared_data")
def test_real_data_answers():
    counts = ex.breast_counts()
    assert counts["train"] == {"malignant": 147, "normal, benign": 399}  # the official file (shared/data README)
    full, half = (ex.count_blobs(ex.nuclei_tiles(scale).masks) for scale in ex.NUCLEI_SCALES)
    assert half > 2 * full  # half-size images put four times the area in a tile
    fb = ex.check_nuclei_per_tile(nuclei_per_tile)
    assert fb and "nuclei per tile at scale 1" in str(fb)


@pytest.mark.usefixtures("no_real_data")
def test_the_checks_follow_the_phantom_fallback(capsys):
    imbalance = student_imbalance()  # phantoms: three balanced classes
    assert imbalance == pytest.approx({"train": 1.0, "val": 1.0, "test": 1.0})
    assert ex.check_imbalance(imbalance)
    assert "phantom stand-ins" in capsys.readouterr().out
    assert not ex.check_imbalance({"train": 399 / 147, "val": 57 / 21, "test": 114 / 42})  # real data's ratios
    fb = ex.check_nuclei_per_tile(nuclei_per_tile)
    assert fb and "phantom" in str(fb)


def test_count_blobs_uses_eight_connectivity():
    masks = torch.zeros(2, 1, 6, 6)
    masks[0, 0, 0, 0] = masks[0, 0, 1, 1] = 1  # corner neighbours: one blob
    masks[1, 0, 0, 0] = masks[1, 0, 4, 4] = 1  # apart: two
    assert ex.count_blobs(masks) == 1.5
