"""``gan_lab.data.load``: names, real data, the phantom fallback and its banner, sources line."""

from __future__ import annotations

import pytest
import torch

from gan_lab.data import DataError, DataUnavailableError, load
from gan_lab.data.sources import describe_sources


def test_phantoms_by_name_with_distinct_splits():
    train, test = load("phantoms", n=9, size=28), load("phantoms", split="test", n=9, size=28)
    assert train.images.shape == (9, 1, 28, 28) and train.source == "phantom (procedural)"
    assert not torch.equal(train.images, test.images)


def test_real_medmnist_with_subsampling(shared_data):
    full = load("breastmnist", split="test")
    assert full.is_real and len(full) == 156
    part, again = load("breastmnist", split="test", n=50), load("breastmnist", split="test", n=50)
    assert len(part) == 50 and torch.equal(part.images, again.images)
    assert part.class_names == ["malignant", "normal, benign"]


def test_fallback_prints_a_banner_and_says_so_in_source(no_real_data, capsys):
    data = load("pneumoniamnist", split="test", n=12)
    banner = capsys.readouterr().out
    assert "REAL DATA NOT FOUND: pneumoniamnist" in banner and "download=True" in banner
    assert str(no_real_data / "medmnist") in banner  # where to put the file
    assert not data.is_real and data.source.startswith("phantom fallback")
    assert data.images.shape == (12, 1, 28, 28) and data.info["requested"] == "pneumoniamnist"


def test_fallback_keeps_the_channel_count_of_rgb_flags(no_real_data):
    assert load("pathmnist", n=3).images.shape == (3, 3, 28, 28)


def test_no_fallback_raises(no_real_data):
    with pytest.raises(DataUnavailableError, match="pneumoniamnist.npz not found"):
        load("pneumoniamnist", fallback=False)


@pytest.mark.parametrize(("name", "suggestion"), [("pneumonia", "pneumoniamnist"), ("phantom", "phantoms")])
def test_unknown_names_get_suggestions(no_real_data, name, suggestion):
    with pytest.raises(DataError, match=f"Did you mean .*'{suggestion}'"):
        load(name)


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("breastmnist", {"split": "validation"}, "Unknown split"),
    ("breastmnist", {"size": 30}, "Unsupported size"),
    ("adrenalmnist3d", {}, "load_volumes"),
    ("nuclei", {"kind": "brightfield"}, "Unknown kind"),
])
def test_bad_arguments_are_never_hidden_by_the_fallback(no_real_data, name, kwargs, message):
    with pytest.raises(DataError, match=message):
        load(name, **kwargs)


def test_nuclei_by_name(shared_data):
    data = load("nuclei", split="test", size=64, n=20, kind="all")
    assert data.images.shape == (20, 1, 64, 64) and data.masks.shape == (20, 1, 64, 64)
    assert len(data.info["image_ids"]) == 20


def test_nuclei_fallback_has_masks(no_real_data, capsys):
    data = load("nuclei", size=32, n=6)
    assert "REAL DATA NOT FOUND: nuclei" in capsys.readouterr().out
    assert data.masks.shape == (6, 1, 32, 32)


def test_describe_sources_with_and_without_data(shared_data, no_real_data, monkeypatch):
    assert describe_sources() == "no real data found: phantoms (set GAN_LAB_DATA or download=True)"
    monkeypatch.setenv("GAN_LAB_DATA", str(shared_data))
    line = describe_sources()
    assert "breastmnist, pneumoniamnist" in line and "nuclei: found" in line
    assert "adrenalmnist3d" not in line and "\n" not in line
