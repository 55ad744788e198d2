"""Stain normalisation: colour spaces, HED jitter, Reinhard transfer, grey-normalisation, the colouriser."""

import threading

import pytest
import torch

from gan_lab.data import stain
from gan_lab.train import stain as train_stain


def _tiles(n=4, size=16, seed=0):
    return stain.stained_phantoms(n, size, seed).images


def test_lab_matches_reference_values_and_round_trips():
    rgb = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0]).view(2, 3, 1, 1)  # white, pure green
    lab = stain.rgb_to_lab(rgb)
    assert torch.allclose(lab[0, :, 0, 0], torch.tensor([100.0, 0.0, 0.0]), atol=0.05)
    assert torch.allclose(lab[1, :, 0, 0], torch.tensor([87.74, -86.18, 83.18]), atol=0.1)  # sRGB green, D65
    x = (_tiles() + 1) / 2
    assert torch.allclose(stain.lab_to_rgb(stain.rgb_to_lab(x)), x, atol=1e-4)
    assert torch.allclose(stain.hed_to_rgb(stain.rgb_to_hed(x)), x, atol=1e-4)


def test_hed_jitter_keeps_the_tissue_and_changes_the_stain():
    x = _tiles()
    assert torch.allclose(stain.hed_jitter(x, sigma=0, bias=0), x, atol=1e-4)
    y = stain.hed_jitter(x, 0.5, 0.15, 0.25, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert (y - x).abs().mean() > 0.05
    same = stain.hed_jitter(x, 0.5, 0.15, 0.25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, same)


def test_reinhard_matches_the_target_statistics():
    x = stain.hed_jitter(_tiles(), 0.5, 0.15, 0.25, generator=torch.Generator().manual_seed(1))
    target_mean, target_std = torch.tensor([70.0, 15.0, -20.0]), torch.tensor([8.0, 6.0, 7.0])
    mean, std = stain.lab_stats(stain.reinhard(x, target_mean, target_std))
    assert torch.allclose(mean, target_mean.expand_as(mean), atol=0.5)
    assert torch.allclose(std, target_std.expand_as(std), rtol=0.05)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        stain.reinhard(x[:, :1], target_mean, target_std)


def test_grey_normalise_standardises_and_ignores_a_global_brightness_change():
    x = _tiles()
    g = stain.grey_normalise(x, std=0.2)
    assert g.shape == (4, 1, 16, 16)
    assert torch.allclose(g.mean((1, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(g.std((1, 2, 3)), torch.full((4,), 0.2), atol=1e-4)
    assert torch.allclose(stain.grey_normalise(0.8 * x + 0.1, std=0.2), g, atol=1e-4)


def test_phantoms_and_real_tiles(shared_data):
    ph = stain.stained_phantoms(3, 32, seed=2)
    assert ph.images.shape == (3, 3, 32, 32) and ph.masks.sum() > 0
    hed = stain.rgb_to_hed((ph.images + 1) / 2)
    assert hed[:, 0][ph.masks[:, 0] > 0].mean() > hed[:, 0][ph.masks[:, 0] == 0].mean()  # nuclei: haematoxylin
    train, test = stain.load_stain_style(tile=32, scale=0.5, root=shared_data / "dsb2018_nuclei")
    assert train.is_real and train.images.shape[1:] == (3, 32, 32) and len(test) > 0
    assert not set(train.info["image_ids"]) & set(test.info["image_ids"])  # split per image
    assert len(set(train.info["image_ids"]) | set(test.info["image_ids"])) == 4  # the high-contrast half of 8


def test_fallback_without_real_data(no_real_data):
    train, test = stain.load_stain_style(tile=16, n_phantoms=8)
    assert not train.is_real and train.images.shape == (8, 3, 16, 16) and test.images.shape == (2, 3, 16, 16)


def test_random_dihedral_moves_input_and_target_together():
    x = torch.arange(2 * 16.0).view(2, 1, 4, 4)
    a, b = train_stain.random_dihedral(x, x + 1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(b, a + 1) and sorted(a.flatten().tolist()) == sorted(x.flatten().tolist())


def test_steps_update_the_right_networks_and_checkpoints_round_trip(tmp_path):
    x = _tiles(6, 16)
    config = train_stain.StainConfig(width=4, d_width=4, batch_size=4, num_steps=2, log_every=1)
    run = train_stain.load_or_train_stain(tmp_path, x, config, device="cpu", progress=False)
    assert {"loss_D", "loss_G", "loss_L1", "loss_adv"} <= set(run.history)
    out = run.normalise(x)
    assert out.shape == x.shape and out.abs().max() <= 1
    again = train_stain.load_or_train_stain(tmp_path, x, config, device="cpu", progress=False)
    assert torch.allclose(again.normalise(x), out, atol=1e-6)
    l1 = train_stain.train_stain(x, train_stain.StainConfig(lambda_adv=0, width=4, batch_size=4, num_steps=1),
                                 device="cpu", progress=False)
    assert l1.D is None and "loss_D" not in l1.history


def test_stop_event_ends_training_and_the_cache_resumes_it(tmp_path):
    x, stop = _tiles(6, 16), threading.Event()
    config = train_stain.StainConfig(width=4, d_width=4, batch_size=4, num_steps=3, log_every=1, callback_every=1)
    run = train_stain.load_or_train_stain(tmp_path, x, config, device="cpu", progress=False, stop_event=stop,
                                          callbacks=[lambda step, history: stop.set()], data_name="tiles")
    assert run.history["step"] == [1]
    resumed = train_stain.load_or_train_stain(tmp_path, x, config, device="cpu", progress=False, data_name="tiles")
    assert resumed.history["step"] == [1, 2, 3]
    loaded = train_stain.load_stain(tmp_path, device="cpu")
    assert loaded.config == config and loaded.D is not None and loaded.checkpoint_dir == tmp_path
