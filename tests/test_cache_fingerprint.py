"""A cached run is found by its config AND a fingerprint of its training data.

Same name and shape but other pixels (one pixel, pairs shifted by two pixels, other labels) must
retrain, and say so in words; the same data must load; a cache made before fingerprints existed
must retrain, saying why. The fingerprint ignores what does not change the data: the device, the
memory layout, ``requires_grad``, the integer width of labels.
"""

import dataclasses
import json

import pytest
import torch

from gan_lab import checkpoints
from gan_lab.data.base import ImageData
from gan_lab.train import (
    conditional,
    cyclegan,
    denoise,
    gan,
    infogan,
    pix2pix,
    progressive,
    reconstruction,
    red_wgan,
    registration,
    segan,
    sgan,
    stain,
    wgan,
)
from gan_lab.train.common import data_fingerprint, data_meta
from gan_lab.train.gan import GANConfig, load_or_train_gan
from gan_lab.train.pix2pix import Pix2PixConfig, load_or_train_pix2pix

KEY = checkpoints.DATA_FINGERPRINT


def _images(n=16, channels=1, size=16, seed=0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _labelled(images, labels=None, masks=None):
    n = images.shape[0]
    labels = torch.arange(n) % 2 if labels is None else labels
    return ImageData(images, labels, ["a", "b"], "pneumoniamnist", "test", masks=masks)


def _one_pixel_changed(t):
    """A copy of ``t`` with one value v replaced by 1 − v (a pixel, a label 0 ↔ 1, a mask pixel)."""
    changed = t.clone()
    changed.view(-1)[7] = 1 - t.view(-1)[7]
    assert not torch.equal(changed, t)
    return changed


# ---------------------------------------------------------------------------------------- the digest itself
def test_fingerprint_is_deterministic_short_hex_and_covers_every_tensor_in_order():
    x, y = _images(), _images(seed=1)
    f = data_fingerprint(x, y)
    assert f == data_fingerprint(x.clone(), y.clone()) == data_fingerprint(x, y)
    assert len(f) == 16 and int(f, 16) >= 0
    assert len({f, data_fingerprint(y, x), data_fingerprint(x), data_fingerprint(x, None), data_fingerprint(x, x)}) == 5


def test_fingerprint_changes_when_one_pixel_changes_even_by_one_float_step():
    x = _images()
    assert data_fingerprint(_one_pixel_changed(x)) != data_fingerprint(x)
    nudged = x.clone()
    nudged[3, 0, 5, 7] = torch.nextafter(nudged[3, 0, 5, 7], torch.tensor(2.0))  # the smallest possible change
    assert data_fingerprint(nudged) != data_fingerprint(x)


def test_fingerprint_changes_when_images_are_shifted_or_reshaped():
    x = _images()
    assert data_fingerprint(torch.roll(x, shifts=2, dims=-1)) != data_fingerprint(x)
    assert data_fingerprint(torch.roll(x, shifts=1, dims=0)) != data_fingerprint(x)  # the same images, reordered
    assert data_fingerprint(x.reshape(16, 1, 8, 32)) != data_fingerprint(x)  # the same bytes, another shape


def test_fingerprint_changes_when_labels_change():
    x = _images()
    labels = torch.arange(16) % 2
    flipped = labels.clone()
    flipped[0] = 1 - flipped[0]
    assert data_fingerprint(x, flipped) != data_fingerprint(x, labels)
    assert data_meta(_labelled(x, flipped), flipped) != data_meta(_labelled(x, labels), labels)


def test_fingerprint_ignores_memory_layout_requires_grad_and_label_width_but_not_float_precision():
    x = _images(channels=3)
    f = data_fingerprint(x)
    assert data_fingerprint(x.to(memory_format=torch.channels_last)) == f  # other strides, same values
    assert data_fingerprint(x.transpose(-1, -2).contiguous().transpose(-1, -2)) == f  # a non-contiguous view
    assert data_fingerprint(x.clone().requires_grad_()) == f
    labels = torch.arange(16) % 3
    assert data_fingerprint(x, labels.int()) == data_fingerprint(x, labels.long()) == data_fingerprint(x, labels)
    assert data_fingerprint(x.half()) != f and data_fingerprint(x.double()) != f  # other values: other data


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_fingerprint_is_the_same_on_the_gpu():
    x, labels = _images(), torch.arange(16) % 2
    assert data_fingerprint(x.cuda(), labels.cuda()) == data_fingerprint(x, labels)


# ------------------------------------------------------------------------- every trainer records it
def _metas():
    """Each trainer's checkpoint_meta as a function of its training tensors (the images first)."""
    size = 16
    return {
        "gan": (lambda x: gan.checkpoint_meta(GANConfig(), x), [_images()]),
        "wgan": (lambda x: wgan.checkpoint_meta(wgan.WGANConfig(), x), [_images()]),
        "infogan": (lambda x: infogan.checkpoint_meta(infogan.InfoGANConfig(), x), [_images()]),
        "progressive": (lambda x: progressive.checkpoint_meta(progressive.ProgressiveConfig(), x), [_images()]),
        "conditional": (lambda x, y: conditional.checkpoint_meta(conditional.CGANConfig(), _labelled(x, y)),
                        [_images(), torch.arange(16) % 2]),
        "sgan": (lambda x, y: sgan.checkpoint_meta(sgan.SGANConfig(), _labelled(x, y)),
                 [_images(), torch.arange(16) % 2]),
        "segan": (lambda x, m: segan.checkpoint_meta(segan.SegANConfig(), _labelled(x, masks=m)),
                  [_images(), (_images(seed=1) > 0).float()]),
        "cyclegan": (lambda x, y: cyclegan.checkpoint_meta(cyclegan.CycleGANConfig(), x, y),
                     [_images(), _images(seed=1)]),
        "pix2pix": (lambda x, y: pix2pix.checkpoint_meta(Pix2PixConfig(), x, y, "pairs"),
                    [_images(), _images(seed=1)]),
        "denoise": (lambda x, y: denoise.checkpoint_meta(denoise.DenoiseConfig(), x, y),
                    [_images(), _images(seed=1)]),
        "reconstruction": (lambda x, y: reconstruction.checkpoint_meta(reconstruction.ReconstructionConfig(), x, y),
                           [_images(size=size // 2), _images(seed=1)]),
        "registration": (lambda f, a: registration.checkpoint_meta(registration.RegistrationConfig(), f, a),
                         [_images(), _images(seed=1)]),
        "stain": (lambda x: stain.checkpoint_meta(stain.StainConfig(), x, "tiles"), [_images(channels=3)]),
        "red_wgan": (lambda x: red_wgan.checkpoint_meta(red_wgan.RedWGANConfig(), x),
                     [torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(0))]),
    }


@pytest.mark.parametrize("trainer", sorted(_metas()))
def test_every_checkpoint_meta_fingerprints_every_tensor_it_trains_on(trainer):
    meta_of, tensors = _metas()[trainer]
    meta = meta_of(*tensors)
    assert meta[KEY] == data_fingerprint(*tensors)
    assert meta_of(*[t.clone() for t in tensors]) == meta  # the same data: the same JSON
    for i in range(len(tensors)):  # one value changed in any of them (images, labels, masks, targets)
        changed = list(tensors)
        changed[i] = _one_pixel_changed(tensors[i])
        other = meta_of(*changed)
        assert other[KEY] != meta[KEY], f"{trainer}: tensor {i} is not in the fingerprint"
        assert {k: v for k, v in other.items() if k != KEY} == {k: v for k, v in meta.items() if k != KEY}


def test_the_seeded_data_the_notebooks_cache_on_has_the_same_fingerprint_at_every_call():
    # a generator with unseeded randomness would make every cached notebook run train again
    from gan_lab.data import low_dose_pairs, phantom_classes, phantom_pairs, phantom_unpaired

    def fingerprints(seed):
        classes = phantom_classes(24, seed=seed)
        mr, ct = phantom_pairs(24, seed=seed)
        unpaired = phantom_unpaired(24, seed=seed, n_test=8)
        return [data_fingerprint(classes.images, classes.labels, classes.masks), data_fingerprint(mr.images, ct.images),
                data_fingerprint(low_dose_pairs(ct.images, dose=0.25, seed=seed)),
                data_fingerprint(unpaired["mr"].images, unpaired["ct"].images)]

    first = fingerprints(0)
    assert fingerprints(0) == first
    assert all(a != b for a, b in zip(fingerprints(1), first))


# ------------------------------------------------------------------------------ how a change is reported
def test_config_changes_say_a_changed_fingerprint_in_words():
    stored = {"gan": {"lr": 1e-3}, "data": "pneumoniamnist", KEY: "0123456789abcdef"}
    same_name = dict(stored, **{KEY: "fedcba9876543210"})
    assert checkpoints.config_changes(stored, same_name) == [
        "the training data changed: same name 'pneumoniamnist', other images"]
    renamed = dict(same_name, data="breastmnist")
    assert checkpoints.config_changes(stored, renamed) == [
        "data: pneumoniamnist → breastmnist", "the training data changed: other images"]
    old_cache = {k: v for k, v in stored.items() if k != KEY}
    [line] = checkpoints.config_changes(old_cache, stored)
    assert "fingerprint" in line and "0123456789abcdef" not in line
    assert checkpoints.config_changes(stored, dict(stored)) == []


# ----------------------------------------------------------------------------- load_or_train, end to end
TINY_GAN = GANConfig(arch="dcgan", width=4, z_dim=4, batch_size=4, num_steps=2, log_every=1, checkpoint_every=0)


def _dcgan_data(images):
    return ImageData(images, torch.zeros(len(images)).long(), ["x"], "pneumoniamnist", "test")


def test_load_or_train_gan_retrains_on_other_images_of_the_same_name_and_loads_the_same(tmp_path, capsys):
    images = _images(n=8, size=28)
    first = load_or_train_gan(tmp_path, _dcgan_data(images), TINY_GAN, device="cpu", progress=False)
    assert checkpoints.stored_config(tmp_path)[KEY] == data_fingerprint(images)
    capsys.readouterr()
    again = load_or_train_gan(tmp_path, _dcgan_data(images.clone()), TINY_GAN, device="cpu", progress=False)
    assert "Loaded the cached checkpoint" in capsys.readouterr().out
    assert torch.equal(again.sample(4), first.sample(4))

    shifted = torch.roll(images, shifts=2, dims=-1)
    load_or_train_gan(tmp_path, _dcgan_data(shifted), TINY_GAN, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert f"Training again: the checkpoint in {tmp_path} was trained on different data " \
           "(same name 'pneumoniamnist', other images)." in out
    assert "Loaded" not in out and checkpoints.stored_config(tmp_path)[KEY] == data_fingerprint(shifted)
    load_or_train_gan(tmp_path, _dcgan_data(shifted), TINY_GAN, device="cpu", progress=False)
    assert "Loaded the cached checkpoint" in capsys.readouterr().out


def test_load_or_train_pix2pix_retrains_on_misaligned_pairs_and_loads_the_same_pairs(tmp_path, capsys):
    x, y = _images(n=8), _images(n=8, seed=1)
    config = Pix2PixConfig(width=4, d_width=4, batch_size=4, num_steps=2, log_every=1, checkpoint_every=0)
    trained = load_or_train_pix2pix(tmp_path, x, y, config, device="cpu", progress=False, data_name="pairs")
    capsys.readouterr()
    loaded = load_or_train_pix2pix(tmp_path, x, y, config, device="cpu", progress=False, data_name="pairs")
    assert "Loaded the cached checkpoint" in capsys.readouterr().out
    assert torch.allclose(loaded.translate(x), trained.translate(x), atol=1e-6)

    shifted = torch.roll(y, shifts=2, dims=-1)  # notebook 04's exercise: the targets moved by two pixels
    load_or_train_pix2pix(tmp_path, x, shifted, config, device="cpu", progress=False, data_name="pairs")
    out = capsys.readouterr().out
    assert "trained on different data (same name 'pairs', other images)" in out and "Loaded" not in out
    assert checkpoints.stored_config(tmp_path)[KEY] == data_fingerprint(x, shifted)
    load_or_train_pix2pix(tmp_path, x, shifted, config, device="cpu", progress=False, data_name="pairs")
    assert "Loaded the cached checkpoint" in capsys.readouterr().out


def test_a_cache_without_a_fingerprint_is_retrained_saying_why(tmp_path, capsys):
    images = _images(n=8, size=28)
    load_or_train_gan(tmp_path, _dcgan_data(images), TINY_GAN, device="cpu", progress=False)
    index_path = tmp_path / checkpoints.INDEX
    index = json.loads(index_path.read_text())
    del index["config"][KEY]  # as written before checkpoints recorded a fingerprint
    index_path.write_text(json.dumps(index))
    capsys.readouterr()
    load_or_train_gan(tmp_path, _dcgan_data(images), TINY_GAN, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert "Training again" in out and "fingerprint of their training data" in out and "Loaded" not in out
    assert checkpoints.stored_config(tmp_path)[KEY] == data_fingerprint(images)


def test_a_changed_setting_and_changed_data_are_both_named(tmp_path, capsys):
    images = _images(n=8, size=28)
    load_or_train_gan(tmp_path, _dcgan_data(images), TINY_GAN, device="cpu", progress=False)
    capsys.readouterr()
    other = dataclasses.replace(TINY_GAN, lr_D=1e-3)
    load_or_train_gan(tmp_path, _dcgan_data(-images), other, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert f"gan.lr_D: {TINY_GAN.lr_D:g} → 0.001" in out
    assert "the training data changed: same name 'pneumoniamnist'" in out
