"""Procedural phantoms: shapes, determinism, lesion contrast, MR/CT pairing, low dose, cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_fill_holes

from gan_lab.data import low_dose_pairs, phantom_classes, phantom_pairs, phantom_unpaired
from gan_lab.data import phantoms as ph


def body_outline(data) -> torch.Tensor:
    """The body (N, H, W): everything inside the outer fat layer.

    Thresholds sit halfway between air and fat in each contrast, so the
    partial-volume edge is cut at the same place in MR and CT.
    """
    fat = ph._CONTRAST[data.info["modality"]]["fat"]
    threshold = fat - 1  # halfway between air (-1) and fat (2 * fat - 1) in [-1, 1] units
    above = (data.images[:, 0] > threshold).numpy()
    return torch.stack([torch.from_numpy(binary_fill_holes(m)) for m in above])


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum() / (a | b).sum())


def ring_around(mask: torch.Tensor, width: int = 2) -> torch.Tensor:
    """The band of pixels within ``width`` of a mask (N, 1, H, W), outside it."""
    grown = F.max_pool2d(mask, 2 * width + 1, stride=1, padding=width)
    return (grown - mask) > 0


@pytest.mark.parametrize("size", [28, 64])
def test_classes_shapes_and_range(size):
    data = phantom_classes(12, size=size, seed=0)
    assert data.images.shape == (12, 1, size, size) and data.images.dtype == torch.float32
    assert data.masks.shape == (12, 1, size, size)
    assert -1.0 <= data.images.min() and data.images.max() <= 1.0
    assert data.class_names == ["healthy", "cyst", "tumour"]
    assert data.class_counts() == {"healthy": 4, "cyst": 4, "tumour": 4}
    assert data.name == "phantoms" and data.source == "phantom (procedural)" and not data.is_real
    assert set(data.masks.unique().tolist()) <= {0.0, 1.0}
    lesion_pixels = data.masks.sum(dim=(1, 2, 3))
    assert (lesion_pixels[data.labels == 0] == 0).all()
    assert (lesion_pixels[data.labels > 0] >= 4).all()


def test_any_size_works():
    for size in (40, 128):
        assert phantom_classes(3, size=size).images.shape == (3, 1, size, size)


def test_same_seed_same_images_other_seed_other_images():
    a, b, c = phantom_classes(6, seed=3), phantom_classes(6, seed=3), phantom_classes(6, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)


def test_image_i_does_not_depend_on_n(monkeypatch):
    monkeypatch.setattr(ph, "_CHUNK", 4)  # so that the larger set is rendered in several chunks
    few, many = phantom_classes(5, seed=1), phantom_classes(12, seed=1)
    assert torch.equal(few.images, many.images[:5]) and torch.equal(few.labels, many.labels[:5])


@pytest.mark.parametrize("modality", ["mr", "ct"])
def test_lesions_differ_from_surroundings_in_the_expected_direction(modality):
    data = phantom_classes(30, size=64, seed=0, modality=modality)
    for image, mask, label in zip(data.images, data.masks, data.labels):
        if label == 0:
            continue
        inside = image[mask > 0].mean()
        around = image[ring_around(mask[None])[0]].mean()
        if label == 1:  # cyst: dark
            assert inside < around - 0.1
        else:  # tumour: bright
            assert inside > around + 0.1


def test_tumours_are_textured_and_irregular_cysts_smooth_and_round():
    data = phantom_classes(45, size=64, seed=0)
    data = data.subset(data.labels > 0)
    core = -F.max_pool2d(-data.masks, 3, stride=1, padding=1)  # eroded: no partial-volume edge pixels
    texture = torch.stack([img[m > 0].std() for img, m in zip(data.images, core)])
    area = data.masks.sum(dim=(1, 2, 3))
    perimeter = ring_around(data.masks, width=1).sum(dim=(1, 2, 3))
    roundness = area / perimeter**2  # larger for compact shapes
    cyst, tumour = data.labels == 1, data.labels == 2
    assert texture[tumour].mean() > 1.5 * texture[cyst].mean()
    assert roundness[cyst].mean() > roundness[tumour].mean()


def test_pairs_share_anatomy():
    mr, ct = phantom_pairs(20, size=64, seed=0)
    assert mr.images.shape == ct.images.shape == (20, 1, 64, 64)
    assert torch.equal(mr.masks, ct.masks) and torch.equal(mr.labels, ct.labels)
    assert (mr.labels > 0).any() and (mr.labels == 0).any()
    for a, b in zip(body_outline(mr), body_outline(ct)):
        assert iou(a, b) > 0.97
    assert not torch.equal(mr.images, ct.images)
    assert mr.info["modality"] == "mr" and ct.info["modality"] == "ct"


def test_pairs_have_opposite_contrast_for_bone_and_fat():
    # the brightest tissue in CT is bone, which is near-black in MR
    mr, ct = phantom_pairs(10, size=64, seed=0)
    bright_ct = ct.images > 0.7
    assert mr.images[bright_ct].mean() < 0.0


def test_unpaired_domains_have_different_anatomies_and_paired_tests():
    sets = phantom_unpaired(20, size=64, seed=0, lesion_rate_mr=0.9, lesion_rate_ct=0.1, n_test=6)
    assert set(sets) == {"mr", "ct", "test_mr", "test_ct"}
    assert len(sets["mr"]) == len(sets["ct"]) == 20 and len(sets["test_mr"]) == 6
    assert sets["mr"].info["modality"] == "mr" and sets["test_ct"].info["modality"] == "ct"
    assert torch.equal(sets["test_mr"].masks, sets["test_ct"].masks)
    paired = [iou(a, b) for a, b in zip(body_outline(sets["test_mr"]), body_outline(sets["test_ct"]))]
    unpaired = [iou(a, b) for a, b in zip(body_outline(sets["mr"]), body_outline(sets["ct"]))]
    assert min(paired) > 0.95 and max(unpaired) < min(paired)
    assert (sets["mr"].labels > 0).float().mean() > 0.6
    assert (sets["ct"].labels > 0).float().mean() < 0.4


def test_unpaired_rejects_bad_rates():
    with pytest.raises(ValueError, match="lesion rates"):
        phantom_unpaired(10, lesion_rate_mr=1.5)


def test_low_dose_noise_grows_as_dose_falls():
    clean = phantom_classes(8, size=64, seed=0).images
    full, quarter, tenth = (low_dose_pairs(clean, dose=d, seed=0) for d in (1.0, 0.25, 0.1))
    assert quarter.shape == clean.shape and quarter.dtype == clean.dtype
    assert -1 <= quarter.min() and quarter.max() <= 1
    errors = [float((x - clean).pow(2).mean()) for x in (full, quarter, tenth)]
    assert errors[0] < errors[1] < errors[2]
    assert abs(float((quarter - clean).mean())) < 0.05  # noise, not a brightness shift
    body = clean > -0.5
    # photon noise is strongest where the object attenuates most (bright pixels)
    bright, dark = clean > 0.5, body & (clean < 0.0)
    assert (quarter - clean)[bright].std() > (quarter - clean)[dark].std()


def test_low_dose_is_seeded_and_streaks_change_it():
    clean = phantom_classes(2, size=28, seed=0).images
    assert torch.equal(low_dose_pairs(clean, seed=5), low_dose_pairs(clean, seed=5))
    assert not torch.equal(low_dose_pairs(clean, seed=5), low_dose_pairs(clean, seed=6))
    assert not torch.equal(low_dose_pairs(clean, seed=5), low_dose_pairs(clean, seed=5, streaks=1.0))
    with pytest.raises(ValueError):
        low_dose_pairs(clean, dose=0)


def test_large_requests_are_cached(tmp_path, monkeypatch):
    from gan_lab import config

    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    monkeypatch.setattr(ph, "_CACHE_MIN_IMAGES", 1)
    stale = tmp_path / "phantoms" / "classes_6_28_0_mr_0123456789.npz"  # made by an older generator
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    first = phantom_classes(6, size=28, seed=0)
    assert [p.name[:-15] for p in (tmp_path / "phantoms").glob("*.npz")] == ["classes_6_28_0_mr"]
    monkeypatch.setattr(ph, "_generate", lambda *args: pytest.fail("regenerated a cached set"))
    again = phantom_classes(6, size=28, seed=0)
    assert torch.equal(first.images, again.images) and torch.equal(first.masks, again.masks)


def test_bad_arguments():
    with pytest.raises(ValueError):
        phantom_classes(0)
    with pytest.raises(ValueError):
        phantom_classes(4, modality="pet")
