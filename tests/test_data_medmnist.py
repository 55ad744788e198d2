"""The MedMNIST npz reader: real files, every error path, MD5 caching, download hand-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_lab.data import DataError, DataUnavailableError, load_medmnist
from gan_lab.data import medmnist as mm


def write_npz(path, n=6, size=28, channels=1, label_columns=1, num_classes=2, **overrides):
    """A small file in the official layout (train/val/test _images and _labels)."""
    rng = np.random.default_rng(0)
    shape = (n, size, size) if channels == 1 else (n, size, size, 3)
    arrays = {}
    for split in mm.SPLITS:
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, num_classes, (n, label_columns), dtype=np.uint8)
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(("flag", "counts", "names"), [
    ("pneumoniamnist", {"train": 4708, "val": 524, "test": 624}, ["normal", "pneumonia"]),
    ("breastmnist", {"train": 546, "val": 78, "test": 156}, ["malignant", "normal, benign"]),
])
def test_real_files(shared_data, flag, counts, names):
    for split, count in counts.items():
        data = load_medmnist(flag, split=split)
        assert data.images.shape == (count, 1, 28, 28)
        assert data.images.dtype == torch.float32 and data.labels.dtype == torch.long
        assert data.labels.shape == (count,)
        assert -1.0 <= data.images.min() < -0.9 and 0.9 < data.images.max() <= 1.0
        assert set(data.labels.unique().tolist()) == {0, 1}
        assert data.class_names == names
        assert data.is_real and str(shared_data) in data.source
        assert data.info["flag"] == flag and data.info["split"] == split


def test_md5_is_hashed_once_per_file(shared_data, monkeypatch):
    load_medmnist("breastmnist", split="val")  # hashes (or finds the cached digest)
    monkeypatch.setattr(mm, "_hash_file", lambda path: pytest.fail("rehashed an unchanged file"))
    assert len(load_medmnist("breastmnist", split="test")) == 156


def test_unknown_flag_suggests_the_closest(no_real_data):
    with pytest.raises(DataError, match="Did you mean 'pneumoniamnist'") as err:
        load_medmnist("pneumonamnist")
    assert "breastmnist" in str(err.value) and "organmnist3d" not in str(err.value)


def test_3d_flag_is_refused(no_real_data):
    with pytest.raises(DataError, match="reads 2-D images only.*load_volumes"):
        load_medmnist("adrenalmnist3d")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"split": "validation"}, "Unknown split"),
    ({"size": 32}, "Unsupported size 32"),
])
def test_bad_arguments(no_real_data, kwargs, message):
    with pytest.raises(DataError, match=message) as err:
        load_medmnist("breastmnist", **kwargs)
    assert not isinstance(err.value, DataUnavailableError)  # an error in the call, not in the data


def test_missing_file_lists_every_folder_searched(no_real_data, tmp_path):
    root = tmp_path / "mine"
    with pytest.raises(DataUnavailableError) as err:
        load_medmnist("breastmnist", size=64, root=root)
    message = str(err.value)
    assert "breastmnist_64.npz not found" in message
    for folder in mm.search_dirs(root):
        assert str(folder) in message
    assert "download=True" in message and "GAN_LAB_DATA" in message
    assert mm.medmnist_info()["breastmnist"]["url_64"] in message


def test_corrupt_file_fails_the_md5_check(no_real_data, tmp_path):
    (tmp_path / "breastmnist.npz").write_bytes(b"half a file")
    with pytest.raises(DataUnavailableError, match="corrupt or truncated"):
        load_medmnist("breastmnist", root=tmp_path)


def test_truncated_real_file(shared_data, tmp_path):
    original = (shared_data / "medmnist" / "breastmnist.npz").read_bytes()
    (tmp_path / "breastmnist.npz").write_bytes(original[: len(original) // 2])
    with pytest.raises(DataUnavailableError, match="MD5"):
        load_medmnist("breastmnist", root=tmp_path)
    with pytest.raises(DataUnavailableError, match="not a readable npz"):
        load_medmnist("breastmnist", root=tmp_path, verify=False)


def test_unreadable_zip(no_real_data, tmp_path):
    (tmp_path / "breastmnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataUnavailableError, match="not a readable npz"):
        load_medmnist("breastmnist", root=tmp_path, verify=False)


def test_wrong_keys(no_real_data, tmp_path):
    np.savez(tmp_path / "breastmnist.npz", images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataUnavailableError, match="lacks the keys"):
        load_medmnist("breastmnist", root=tmp_path, verify=False)


@pytest.mark.parametrize("override", [
    {"train_images": np.zeros((6, 32, 32), np.uint8)},
    {"train_images": np.zeros((6, 28, 28), np.float32)},
    {"train_labels": np.zeros((5, 1), np.uint8)},
])
def test_wrong_shapes(no_real_data, tmp_path, override):
    write_npz(tmp_path / "breastmnist.npz", **override)
    with pytest.raises(DataUnavailableError, match="has shape"):
        load_medmnist("breastmnist", root=tmp_path, verify=False)


def test_label_out_of_range(no_real_data, tmp_path):
    write_npz(tmp_path / "breastmnist.npz", num_classes=5)
    with pytest.raises(DataUnavailableError, match="labels outside"):
        load_medmnist("breastmnist", root=tmp_path, verify=False)


def test_rgb_flag_and_larger_size(no_real_data, tmp_path):
    write_npz(tmp_path / "pathmnist_64.npz", size=64, channels=3, num_classes=9)
    data = load_medmnist("pathmnist", split="val", size=64, root=tmp_path, verify=False)
    assert data.images.shape == (6, 3, 64, 64)
    assert data.class_names[0] == "adipose" and data.num_classes == 9
    # channels come from the last axis: pixel (0, 0) of image 0 keeps its RGB triple
    with np.load(tmp_path / "pathmnist_64.npz") as npz:
        rgb = npz["val_images"][0, 0, 0].astype(np.float32) / 127.5 - 1
    assert torch.allclose(data.images[0, :, 0, 0], torch.from_numpy(rgb))


def test_multi_label_flag_becomes_finding_vs_none(no_real_data, tmp_path):
    labels = np.zeros((6, 14), np.uint8)
    labels[[1, 4], 3] = 1
    write_npz(tmp_path / "chestmnist.npz", label_columns=14, train_labels=labels)
    data = load_medmnist("chestmnist", root=tmp_path, verify=False)
    assert data.class_names == ["no finding", "finding"]
    assert data.labels.tolist() == [0, 1, 0, 0, 1, 0]
    assert data.info["multi_labels"].shape == (6, 14) and len(data.info["finding_names"]) == 14


def test_explicit_root_comes_first(shared_data, tmp_path):
    write_npz(tmp_path / "breastmnist.npz")
    data = load_medmnist("breastmnist", root=tmp_path, verify=False)
    assert len(data) == 6 and str(tmp_path) in data.source
    assert mm.search_dirs(tmp_path)[:2] == [tmp_path, shared_data / "medmnist"]


def test_download_uses_medmnist_downloader(no_real_data, monkeypatch):
    import medmnist

    calls = []

    class FakeBreastMNIST:
        def __init__(self, split, download, root, size):
            calls.append((split, download, root, size))
            write_npz(f"{root}/breastmnist.npz")

    monkeypatch.setattr(medmnist, "BreastMNIST", FakeBreastMNIST)
    data = load_medmnist("breastmnist", download=True, verify=False)
    assert calls == [("train", True, str(no_real_data / "medmnist"), 28)]
    assert len(data) == 6 and (no_real_data / "medmnist" / "breastmnist.npz").is_file()


def test_failed_download_is_explained(no_real_data, monkeypatch):
    import medmnist

    def offline(**kwargs):
        raise RuntimeError("Automatic download failed!")

    monkeypatch.setattr(medmnist, "BreastMNIST", offline)
    with pytest.raises(DataUnavailableError, match="Download of breastmnist.npz failed"):
        load_medmnist("breastmnist", download=True)
