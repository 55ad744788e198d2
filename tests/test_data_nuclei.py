"""The BBBC038 / DSB2018 nuclei reader: tiles, masks, kinds and a split by image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.data import DataError, DataUnavailableError, load_nuclei, nuclei


@pytest.fixture(scope="module")
def fluor_train(shared_data):
    return load_nuclei(split="train", tile=64)


def test_tiles_masks_and_labels(fluor_train):
    data = fluor_train
    assert data.images.shape[1:] == (1, 64, 64) and data.masks.shape == (len(data), 1, 64, 64)
    assert -1.0 <= data.images.min() and data.images.max() <= 1.0
    assert set(data.masks.unique().tolist()) == {0.0, 1.0}
    assert (data.labels == 0).all() and data.class_names == ["fluorescence", "stained tissue"]
    assert len(data.info["image_ids"]) == len(data) and data.is_real
    # 256 x 256 fluorescence images give a 4 x 4 grid of 64-px tiles
    assert all(data.info["image_ids"].count(i) == 16 for i in set(data.info["image_ids"]))


def test_masks_sit_on_the_bright_nuclei(fluor_train):
    data = fluor_train
    assert data.images[data.masks > 0].mean() > data.images[data.masks == 0].mean() + 0.3


def test_split_is_by_image_and_seeded(shared_data):
    train = load_nuclei(split="train", kind="all", tile=128)
    test = load_nuclei(split="test", kind="all", tile=128)
    train_ids, test_ids = set(train.info["image_ids"]), set(test.info["image_ids"])
    assert not train_ids & test_ids
    assert len(train_ids | test_ids) == 56 and len(test_ids) == 14  # a quarter of 48 + 8 images
    assert set(test.labels.tolist()) == {0, 1}  # every kind is in both splits
    kinds = nuclei.image_kinds(shared_data / "dsb2018_nuclei")
    assert set(nuclei.split_ids(kinds, "test", 0.25, seed=0)) == test_ids
    assert set(nuclei.split_ids(kinds, "test", 0.25, seed=1)) != test_ids


def test_colour_tiles_scale_and_subsampling(shared_data):
    data = load_nuclei(kind="color", grey=False, tile=32, scale=0.5, tiles_per_image=3, split="all")
    assert data.images.shape[1:] == (3, 32, 32) and (data.labels == 1).all()
    assert len(data) == 8 * 3  # 8 stained images, 3 tiles each
    again = load_nuclei(kind="color", grey=False, tile=32, scale=0.5, tiles_per_image=3, split="all")
    assert torch.equal(data.images, again.images)


def test_min_foreground_drops_empty_tiles(shared_data):
    data = load_nuclei(split="test", tile=32, min_foreground=0.05)
    assert (data.masks.mean(dim=(1, 2, 3)) >= 0.05).all()


def test_missing_data_says_where_to_get_it(no_real_data, tmp_path):
    with pytest.raises(DataUnavailableError) as err:
        load_nuclei(root=tmp_path / "nowhere")
    message = str(err.value)
    assert nuclei.URL in message and "stage1_train" in message
    assert str(tmp_path / "nowhere") in message and str(no_real_data / "dsb2018_nuclei") in message


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"split": "val"}, "Unknown split"),
    ({"kind": "brightfield"}, "Unknown kind"),
    ({"scale": 0}, "scale > 0"),
])
def test_bad_arguments(no_real_data, kwargs, message):
    with pytest.raises(DataError, match=message):
        load_nuclei(**kwargs)


def make_image(root, image_id, rgb, nuclei_boxes):
    """One stage1_train entry: an RGBA image and one mask per box (y0, y1, x0, x1)."""
    folder = root / "stage1_train" / image_id
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    alpha = np.full(rgb.shape[:2] + (1,), 255, np.uint8)
    Image.fromarray(np.concatenate([rgb, alpha], axis=2)).save(folder / "images" / f"{image_id}.png")
    for k, (y0, y1, x0, x1) in enumerate(nuclei_boxes):
        mask = np.zeros(rgb.shape[:2], np.uint8)
        mask[y0:y1, x0:x1] = 255
        Image.fromarray(mask).save(folder / "masks" / f"m{k}.png")


def test_without_manifest_or_merged_masks(tmp_path):
    grey = np.zeros((32, 32, 3), np.uint8)
    grey[4:10, 4:10] = 200
    pink = np.full((32, 32, 3), (230, 180, 220), np.uint8)
    make_image(tmp_path, "a_fluor", grey, [(4, 10, 4, 10), (20, 24, 20, 24)])
    make_image(tmp_path, "b_color", pink, [(0, 8, 0, 8)])
    data = load_nuclei(root=tmp_path, split="all", kind="all", tile=16)
    assert data.info["image_ids"] == ["a_fluor"] * 4 + ["b_color"] * 4
    assert data.labels.tolist() == [0] * 4 + [1] * 4
    union = data.masks[:4, 0]  # the union of both nucleus masks, cut into four tiles
    assert union[0, 4:10, 4:10].all() and union[3, 4:8, 4:8].all() and union.sum() == 36 + 16


def test_malformed_folder(tmp_path):
    (tmp_path / "stage1_train" / "x" / "images").mkdir(parents=True)
    with pytest.raises(DataUnavailableError, match="no images/x.png"):
        load_nuclei(root=tmp_path)


def _two_images(root):
    grey = np.zeros((32, 32, 3), np.uint8)
    grey[4:10, 4:10] = 200
    make_image(root, "a_fluor", grey, [(4, 10, 4, 10)])
    make_image(root, "b_fluor", grey, [(20, 24, 20, 24)])
    return root / "stage1_train"


def _not_a_png(path):
    path.write_bytes(b"this is not a PNG")


def _truncated(path):
    path.write_bytes(path.read_bytes()[:40])


def _other_size(path):
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(path)


@pytest.mark.parametrize("damage, target, message", [
    (_not_a_png, "a_fluor/images/a_fluor.png", "cannot be read as an image"),
    (_truncated, "a_fluor/images/a_fluor.png", "cannot be read as an image"),
    (_not_a_png, "b_fluor/masks/m0.png", "cannot be read as an image"),
    (_other_size, "b_fluor/masks/m0.png", "the image 32×32"),
])
def test_a_damaged_file_is_a_data_error_naming_it(tmp_path, damage, target, message):
    stage = _two_images(tmp_path)
    damage(stage / target)
    with pytest.raises(DataUnavailableError, match=message) as err:
        load_nuclei(root=tmp_path, split="all", tile=16)
    assert target.split("/")[0] in str(err.value)


def test_masks_of_different_sizes_and_a_corrupt_merged_mask_are_data_errors(tmp_path):
    stage = _two_images(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(stage / "a_fluor" / "masks" / "m1.png")
    with pytest.raises(DataUnavailableError, match="m1.png is 8×8 px"):
        load_nuclei(root=tmp_path, split="all", tile=16)
    (stage / "a_fluor" / "masks" / "m1.png").unlink()
    (tmp_path / "merged_masks").mkdir()
    _not_a_png(tmp_path / "merged_masks" / "a_fluor.png")
    with pytest.raises(DataUnavailableError, match="merged_masks/a_fluor.png cannot be read"):
        load_nuclei(root=tmp_path, split="all", tile=16)


def test_a_manifest_without_its_columns_and_an_empty_folder_are_data_errors(tmp_path):
    _two_images(tmp_path)
    (tmp_path / "manifest.csv").write_text("id,type\na_fluor,fluor\n")
    with pytest.raises(DataUnavailableError, match="manifest.csv cannot be read .*no column image_id, kind"):
        load_nuclei(root=tmp_path, split="all", tile=16)
    empty = tmp_path / "empty"
    (empty / "stage1_train").mkdir(parents=True)
    with pytest.raises(DataUnavailableError, match="holds no image folders"):
        load_nuclei(root=empty)


def test_damaged_nuclei_fall_back_to_phantoms_with_the_banner(tmp_path, monkeypatch, capsys):
    from gan_lab import data

    stage = _two_images(tmp_path)
    _not_a_png(stage / "a_fluor" / "images" / "a_fluor.png")
    monkeypatch.setattr(nuclei, "find_root", lambda root=None: tmp_path)
    fallen = data.load("nuclei", split="train", size=16, fallback=True)
    assert not fallen.is_real and "a_fluor.png" in capsys.readouterr().out
