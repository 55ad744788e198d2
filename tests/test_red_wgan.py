"""3-D denoising: the 3-D MedMNIST reader, 3-D phantoms, MR noise, patches, RED-WGAN's networks and steps."""

import math

import pytest
import torch

from gan_lab.data import DataError, DataUnavailableError, volumes
from gan_lab.metrics.volume import volume_psnr, volume_ssim
from gan_lab.models.red3d import Critic3D, RED3DGenerator
from gan_lab.train import red_wgan


def test_reader_on_the_real_file(shared_data):
    data = volumes.load_medmnist3d("adrenalmnist3d", "val", root=shared_data / "medmnist")
    assert data.is_real and data.images.shape == (98, 1, 28, 28, 28)
    assert data.images.min() == -1 and data.images.max() == 1 and data.labels.shape == (98,)


def test_reader_errors(no_real_data):
    with pytest.raises(DataError, match="not a 3-D MedMNIST flag"):
        volumes.load_medmnist3d("pneumoniamnist")
    with pytest.raises(DataUnavailableError, match="not found"):
        volumes.load_medmnist3d("adrenalmnist3d")
    fallback = volumes.load_volumes("adrenalmnist3d", "test", n=3)
    assert not fallback.is_real and fallback.images.shape == (3, 1, 28, 28, 28)


def test_phantom_volumes_hold_one_small_central_object():
    v = volumes.phantom_volumes(4, 28, seed=0).images
    share = (v > 0).float().mean((1, 2, 3, 4))
    assert ((share > 0.003) & (share < 0.1)).all()
    assert torch.equal(v, volumes.phantom_volumes(4, 28, seed=0).images)


def test_rician_noise_lifts_the_background_and_gaussian_noise_does_not():
    zeros = torch.full((1, 1, 32, 32, 32), -1.0)
    gen = torch.Generator().manual_seed(0)
    rician = (volumes.add_noise(zeros, 0.1, "rician", gen) + 1) / 2
    gaussian = (volumes.add_noise(zeros, 0.1, "gaussian", gen) + 1) / 2
    assert rician.min() >= 0 and rician.mean().item() == pytest.approx(volumes.rician_bias(0.1), rel=0.03)
    assert abs(gaussian.mean().item()) < 0.005 and gaussian.std().item() == pytest.approx(0.1, rel=0.03)
    assert math.isclose(volumes.rician_bias(0.1), 0.1 * math.sqrt(math.pi / 2))


def test_random_patches_cut_the_same_cube_from_every_tensor():
    v = torch.arange(2 * 6**3, dtype=torch.float32).view(2, 1, 6, 6, 6)
    a, b = volumes.random_patches(v, 4, v + 0.5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 1, 4, 4, 4) and torch.equal(b, a + 0.5)
    corner = a[0, 0, 0, 0, 0].long().item()
    d, h, w = corner // 36, corner // 6 % 6, corner % 6
    assert torch.equal(a[0, 0], v[0, 0, d:d + 4, h:h + 4, w:w + 4])


def test_networks_keep_the_shape_and_start_near_the_identity():
    G, C = RED3DGenerator(1, 4, 2), Critic3D(1, 4)
    x = torch.randn(2, 1, 12, 12, 12)
    assert G(x).shape == x.shape and C(x).shape == (2,)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in C.modules())


def test_volume_metrics():
    x = torch.rand(2, 1, 16, 16, 16) * 2 - 1
    assert volume_ssim(x, x) == pytest.approx(1.0, abs=1e-4)
    assert volume_psnr(x + 0.02, x) == pytest.approx(10 * math.log10(4 / 0.02**2), rel=1e-4)
    with pytest.raises(ValueError, match="D, H, W"):
        volume_psnr(x[0], x[0])


def test_steps_update_the_right_networks_and_checkpoints_round_trip(tmp_path):
    clean = volumes.phantom_volumes(3, 12, seed=1).images
    config = red_wgan.RedWGANConfig(width=4, depth=2, critic_width=4, patch=8, batch_size=2, num_steps=2,
                                    log_every=1)
    G, C = red_wgan.build_red_wgan(config)
    noisy, real = red_wgan.noisy_patches(clean, config)
    opt_G = torch.optim.Adam(G.parameters(), 1e-3)
    C_before, G_before = [p.clone() for p in C.parameters()], [p.clone() for p in G.parameters()]
    out = red_wgan.g_step(G, C, opt_G, noisy, real, config)
    assert {"mse", "loss_adv", "loss_G"} <= set(out)
    assert all(torch.equal(a, b) for a, b in zip(C_before, C.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(G_before, G.parameters()))
    run = red_wgan.load_or_train_red_wgan(tmp_path, clean, config, device="cpu", progress=False)
    assert {"loss_C", "W_estimate", "gp", "mse"} <= set(run.history)
    again = red_wgan.load_or_train_red_wgan(tmp_path, clean, config, device="cpu", progress=False)
    assert torch.allclose(again.denoise(clean), run.denoise(clean), atol=1e-6)
    assert again.config == config and again.C is not None
    with pytest.raises(ValueError, match="patch"):
        red_wgan.RedWGANConfig(patch=6, depth=3)


def test_stop_event_ends_training_after_the_current_step():
    import threading

    clean = volumes.phantom_volumes(2, 12, seed=1).images
    config = red_wgan.RedWGANConfig(lambda_adv=0, width=4, depth=2, patch=8, batch_size=2, num_steps=5, log_every=1,
                                    callback_every=2)
    stop = threading.Event()
    run = red_wgan.train_red_wgan(clean, config, device="cpu", progress=False, stop_event=stop,
                                  callbacks=[lambda step, history: stop.set()])
    assert run.history["step"] == [1, 2] and run.C is None
