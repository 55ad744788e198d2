"""Low-dose denoising: the perceptual features, the generator's loss terms, training and the checkpoint cache."""

import math
import threading

import pytest
import torch
from torch import nn

from gan_lab.losses.reconstruction import perceptual_loss
from gan_lab.train import denoise


def _trunk():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())


def _pairs(n=16, size=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    return (clean + 0.2 * torch.randn(clean.shape, generator=gen)).clamp(-1, 1), clean


def test_conv_features_stops_after_the_requested_relu_and_is_frozen():
    trunk = _trunk()
    phi = denoise.conv_features(trunk, stages=1)
    assert [type(m) for m in phi] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert not phi.training and not any(p.requires_grad for p in phi.parameters())
    assert denoise.conv_features(trunk, stages=2)(torch.zeros(2, 1, 8, 8)).shape == (2, 8, 4, 4)
    with pytest.raises(ValueError, match="2 ReLU stages; asked for 3"):
        denoise.conv_features(trunk, stages=3)


def test_perceptual_loss_is_zero_for_equal_images_and_sends_gradients_to_the_fake_only():
    phi = denoise.conv_features(_trunk(), stages=2)
    noisy, clean = _pairs()
    assert perceptual_loss(phi, clean, clean).item() == 0.0
    fake = noisy.clone().requires_grad_(True)
    loss = perceptual_loss(phi, fake, clean)
    loss.backward()
    assert loss.item() > 0 and fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in phi.parameters())
    expected = ((phi(noisy) - phi(clean)) ** 2).mean()  # 1/(c·h·w)·‖·‖²_F, batch mean
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_config_rejects_no_loss_and_perceptual_without_features():
    with pytest.raises(ValueError, match="not all 0"):
        denoise.DenoiseConfig(lambda_adv=0, lambda_perceptual=0, lambda_mse=0)
    with pytest.raises(ValueError, match="phi="):
        denoise.train_denoiser(*_pairs(), denoise.DenoiseConfig(num_steps=1), progress=False, device="cpu")
    with pytest.raises(ValueError, match="same shape"):
        denoise.train_denoiser(torch.zeros(4, 1, 8, 8), torch.zeros(3, 1, 8, 8), progress=False, device="cpu")


def test_g_step_combines_the_weighted_terms_and_leaves_the_critic_alone():
    config = denoise.DenoiseConfig(lambda_adv=1.0, lambda_perceptual=0.5, lambda_mse=2.0, width=4, critic_width=4)
    G, C = denoise.build_denoiser(config, 1, 8)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in C.modules())
    phi = denoise.conv_features(_trunk(), stages=2)
    noisy, clean = _pairs()
    opt = torch.optim.Adam(G.parameters(), 1e-3)
    c_before = [p.detach().clone() for p in C.parameters()]
    g_before = [p.detach().clone() for p in G.parameters()]
    out = denoise.g_step(G, C, opt, noisy, clean, config, phi)
    total = 2.0 * out["mse"] + 1.0 * out["loss_adv"] + 0.5 * out["loss_P"]
    assert out["loss_G"].item() == pytest.approx(total.item(), rel=1e-5)
    assert all(torch.equal(p, q) for p, q in zip(C.parameters(), c_before))
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), g_before))


def test_mse_only_training_has_no_critic_and_lowers_the_error():
    noisy, clean = _pairs(n=32)
    config = denoise.DenoiseConfig(lambda_adv=0, lambda_perceptual=0, lambda_mse=1, width=8, batch_size=16,
                                   num_steps=60, lr=3e-3, log_every=10)
    run = denoise.train_denoiser(noisy, clean, config, device="cpu", progress=False)
    assert run.C is None and "loss_C" not in run.history
    assert run.history["mse"][-1] < 0.5 * run.history["mse"][0]
    assert run.denoise(noisy[:5]).shape == (5, 1, 8, 8)


def test_wgan_perceptual_run_trains_a_critic_and_the_cache_reloads_it(tmp_path, capsys):
    noisy, clean = _pairs()
    config = denoise.DenoiseConfig(width=4, critic_width=4, batch_size=8, num_steps=2, n_critic=2, log_every=1)
    phi = denoise.conv_features(_trunk(), stages=2)
    run = denoise.load_or_train_denoiser(tmp_path, noisy, clean, config, phi=phi, device="cpu", progress=False)
    for key in ("loss_C", "W_estimate", "gp", "loss_adv", "loss_P", "mse", "loss_G"):
        assert len(run.history[key]) == 2 and all(math.isfinite(v) for v in run.history[key])
    again = denoise.load_or_train_denoiser(tmp_path, noisy, clean, config, phi=phi, device="cpu", progress=False)
    assert "no training needed" in capsys.readouterr().out
    assert torch.equal(again.denoise(noisy), run.denoise(noisy))
    assert again.config == config and again.C is not None


def test_stop_event_ends_training_after_the_current_step():
    noisy, clean = _pairs()
    config = denoise.DenoiseConfig(lambda_adv=0, lambda_perceptual=0, lambda_mse=1, width=4, batch_size=8,
                                   num_steps=5, log_every=1, callback_every=2)
    stop = threading.Event()
    run = denoise.train_denoiser(noisy, clean, config, device="cpu", progress=False, stop_event=stop,
                                 callbacks=[lambda step, history: stop.set()])
    assert run.history["step"] == [1, 2]
