"""Reconstruction: k-space simulation, the SR degradation, the two losses, SRResNet and the trainer's steps."""

import math

import pytest
import torch

from gan_lab.data import kspace, resolution
from gan_lab.losses import adversarial_losses
from gan_lab.losses.reconstruction import frequency_mse, total_variation
from gan_lab.models import SRResNet, build, model_config
from gan_lab.train import reconstruction as rec


def _images(n=4, size=8, seed=0):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ----------------------------------------------------------------------------------------------- k-space
def test_fft2c_is_unitary_centred_and_inverted_by_ifft2c():
    x = _images()
    k = kspace.fft2c(x)
    assert torch.allclose(kspace.ifft2c(k).real, x, atol=1e-6)
    assert torch.allclose(k.abs().square().sum(), x.square().sum(), rtol=1e-5)  # Parseval
    centre = k[..., 4, 4]  # k = 0 of an 8 × 8 image: sum / sqrt(64)
    assert torch.allclose(centre.real, x.sum(dim=(-2, -1)) / 8, atol=1e-5)


def test_cartesian_mask_keeps_the_centre_and_the_sampling_fraction():
    for size, sampling in ((28, 0.3), (64, 0.25), (32, 1.0)):
        mask = kspace.cartesian_mask(size, sampling, seed=3)
        rows = mask[:, 0]
        assert torch.equal(mask, rows[:, None].expand(size, size))  # whole lines only
        assert rows.sum().item() == round(sampling * size)
        centre = max(1, round(sampling * size) // 3)
        start = size // 2 - centre // 2
        assert rows[start:start + centre].all() and rows[size // 2] == 1  # k_y = 0 is always measured
    assert not torch.equal(kspace.cartesian_mask(28, 0.3, seed=0), kspace.cartesian_mask(28, 0.3, seed=1))
    assert torch.equal(kspace.cartesian_mask(28, 0.3, seed=0), kspace.cartesian_mask(28, 0.3, seed=0))
    with pytest.raises(ValueError, match="sampling"):
        kspace.cartesian_mask(28, 0.0)
    with pytest.raises(ValueError, match="centre_lines"):
        kspace.cartesian_mask(28, 0.3, centre_lines=20)


def test_undersampling_with_a_full_mask_returns_the_image_and_a_partial_one_loses_detail():
    x = _images(size=28)
    assert torch.allclose(kspace.undersample(x, torch.ones(28, 28)), x, atol=1e-5)
    mask = kspace.cartesian_mask(28, 0.3)
    zf = kspace.undersample(x, mask)
    assert zf.shape == x.shape and zf.dtype == x.dtype
    assert (zf - x).square().mean() > 0.01
    # y is zero off the measured lines; the real part averages y with its mirror image y*(−k)
    y = kspace.measure(x, mask)
    assert torch.all(y[..., mask == 0] == 0)
    mirror = torch.roll(torch.flip(y, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1)).conj()  # y*(−k), centred
    assert torch.allclose(kspace.fft2c(zf), (y + mirror) / 2, atol=1e-5)
    # the mean (k = 0) survives, so a constant offset passes through unchanged
    assert torch.allclose(kspace.undersample(x + 1, mask), zf + 1, atol=1e-5)
    with pytest.raises(ValueError, match="cartesian_mask"):
        kspace.undersample(x, torch.ones(8, 8))


# ------------------------------------------------------------------------------------------ resolution
def test_downsample_averages_blocks_and_upsample_keeps_constants():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(resolution.downsample(x, 2), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))
    const = torch.full((2, 1, 7, 7), 0.3)
    assert torch.allclose(resolution.upsample(const, 28), torch.full((2, 1, 28, 28), 0.3), atol=1e-6)
    assert resolution.upsample(x, 4) is x
    with pytest.raises(ValueError, match="divisible"):
        resolution.downsample(torch.zeros(1, 1, 6, 6), 4)


# ---------------------------------------------------------------------------------------------- losses
def test_frequency_mse_by_hand():
    # 2 × 2 images: the orthonormal FFT of a unit impulse is 0.5 everywhere; of a constant 1 it is 2 at k = 0
    impulse = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    zero, const = torch.zeros_like(impulse), torch.ones_like(impulse)
    assert frequency_mse(impulse, zero).item() == pytest.approx(0.25)  # |0.5 − 0|² at 4 frequencies
    assert frequency_mse(const, zero).item() == pytest.approx(1.0)  # 2² at one of 4 frequencies
    assert frequency_mse(const, impulse).item() == pytest.approx(((2 - 0.5) ** 2 + 3 * 0.25) / 4)
    # a shifted impulse: same amplitude spectrum (0 with magnitudes), but different phases
    shifted = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]])
    assert frequency_mse(shifted, impulse).item() == pytest.approx(0.0, abs=1e-7)
    assert frequency_mse(shifted, impulse, magnitude=False).item() == pytest.approx(0.5)


def test_complex_frequency_mse_equals_the_image_mse_and_magnitudes_bound_it():
    a, b = _images(seed=1), _images(seed=2)
    image_mse = (a - b).square().mean()
    assert frequency_mse(a, b, magnitude=False).item() == pytest.approx(image_mse.item(), rel=1e-5)
    assert frequency_mse(a, b).item() <= image_mse.item() + 1e-6  # | |u| − |v| | ≤ |u − v|
    with pytest.raises(ValueError, match="same shape"):
        frequency_mse(a, b[:, :, :4])


def test_total_variation_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    # vertical |3−0|, |1−1| → mean 1.5; horizontal |1−0|, |1−3| → mean 1.5
    assert total_variation(x).item() == pytest.approx(3.0)
    assert total_variation(torch.full((2, 1, 5, 5), 0.7)).item() == 0.0
    checker = (torch.arange(16).view(4, 4) % 2 + torch.arange(4).view(4, 1)) % 2
    assert total_variation(checker.float().view(1, 1, 4, 4) * 2 - 1).item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="H, W ≥ 2"):
        total_variation(torch.zeros(1, 1, 1, 4))


# ---------------------------------------------------------------------------------------------- models
def test_srresnet_shapes_and_rebuild_from_config():
    for scale, size in ((2, 14), (4, 16)):
        G = SRResNet(1, scale=scale, width=8, n_blocks=2)
        assert G(torch.zeros(2, 1, size, size)).shape == (2, 1, scale * size, scale * size)
    G.eval()
    G2 = build(model_config(G))
    G2.load_state_dict(G.state_dict())
    x = _images(2, 16)
    assert torch.equal(G2.eval()(x), G(x))
    with pytest.raises(ValueError, match="power of two"):
        SRResNet(scale=3)


def test_config_validation():
    with pytest.raises(ValueError, match="arch"):
        rec.ReconstructionConfig(arch="vgg")
    with pytest.raises(ValueError, match="fidelity"):
        rec.ReconstructionConfig(lambda_img=0, lambda_freq=0)
    with pytest.raises(ValueError, match="U-Net keeps"):
        rec.build_reconstructor(rec.ReconstructionConfig(width=4), 1, 14, 28)
    with pytest.raises(ValueError, match="multiple"):
        rec.build_reconstructor(rec.ReconstructionConfig(arch="srresnet", width=4), 1, 12, 28)


# -------------------------------------------------------------------------------------------- training
def _setup(arch="unet", size_in=16, size_out=16, **kw):
    config = rec.ReconstructionConfig(arch=arch, width=4, d_width=4, n_blocks=1, **kw)
    G, D = rec.build_reconstructor(config, 1, size_in, size_out)
    return config, G, D, _images(4, size_in, 1), _images(4, size_out, 2)


def test_residual_switch_adds_the_input_or_its_bicubic_upsampling():
    config, G, _, x, _ = _setup(lambda_adv=0)
    G.eval()
    assert torch.allclose(rec.reconstruct(G, x, True, 16), G(x) + x)
    assert torch.equal(rec.reconstruct(G, x, False, 16), G(x))
    _, G_sr, _, x_lr, _ = _setup("srresnet", 8, 16, lambda_adv=0)
    G_sr.eval()
    assert torch.allclose(rec.reconstruct(G_sr, x_lr, True, 16), G_sr(x_lr) + resolution.upsample(x_lr, 16))
    # freshly initialised, a residual G is close to the identity: refinement starts from the input
    assert (rec.reconstruct(G, x, True, 16) - x).abs().mean() < 0.1 * x.abs().mean()


def test_d_step_updates_only_D_and_g_step_only_G():
    config, G, D, x, real = _setup(lambda_adv=1.0, lambda_freq=0.5, lambda_tv=0.1)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    g0, d0 = [p.detach().clone() for p in G.parameters()], [p.detach().clone() for p in D.parameters()]
    with torch.no_grad():
        fake = rec.reconstruct(G, x, config.residual, real.shape[-1])
    out = rec.d_step(D, opt_D, real, fake, loss_D_fn)
    assert math.isfinite(out["loss_D"].item()) and 0 < out["D(real)"].item() < 1
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), g0))
    assert any(not torch.equal(p, q) for p, q in zip(D.parameters(), d0))
    d1 = [p.detach().clone() for p in D.parameters()]
    out = rec.g_step(G, D, opt_G, x, real, loss_G_fn, config)
    assert all(torch.equal(p, q) for p, q in zip(D.parameters(), d1))
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), g0))
    assert all(p.requires_grad for p in D.parameters())  # D is unfrozen after G's step
    total = out["loss_img"] + 0.5 * out["loss_freq"] + 0.1 * out["loss_tv"] + 1.0 * out["loss_adv"]
    assert out["loss_G"].item() == pytest.approx(total.item(), rel=1e-5)


def test_baseline_has_no_D_and_computes_only_the_image_term():
    config, G, D, x, real = _setup(lambda_adv=0, lambda_freq=0)
    assert D is None
    out = rec.g_step(G, None, torch.optim.Adam(G.parameters()), x, real, None, config)
    assert set(out) == {"loss_img", "loss_G"} and out["loss_G"] == out["loss_img"]


@pytest.mark.parametrize("arch", ["unet", "srresnet"])
def test_training_lowers_the_error_and_the_cache_loads(tmp_path, arch):
    real = _images(32, 16, 3)
    mask = kspace.cartesian_mask(16, 0.5)
    x = resolution.downsample(real, 2) if arch == "srresnet" else kspace.undersample(real, mask)
    config = rec.ReconstructionConfig(arch=arch, width=4, d_width=4, n_blocks=1, batch_size=8, num_steps=20,
                                      lr_G=3e-3, log_every=5, checkpoint_every=0)
    run = rec.load_or_train_reconstruction(tmp_path / arch, x, real, config, device="cpu", progress=False,
                                           data_name="random")
    assert run.history["loss_img"][-1] < run.history["loss_img"][0] and "loss_D" in run.history
    out = run.reconstruct(x[:5])
    assert out.shape == (5, 1, 16, 16)
    again = rec.load_or_train_reconstruction(tmp_path / arch, x, real, config, device="cpu", progress=False,
                                             data_name="random")
    assert torch.allclose(again.reconstruct(x[:5]), out, atol=1e-6) and again.D is not None
    assert again.config == config and again.data_name == "random"


def test_stop_event_ends_training_and_the_cache_resumes_the_run(tmp_path):
    import threading

    real = _images(8, 16, 3)
    config = rec.ReconstructionConfig(width=4, d_width=4, batch_size=4, num_steps=4, log_every=1, callback_every=2)
    stop = threading.Event()
    first = rec.load_or_train_reconstruction(tmp_path, real, real, config, device="cpu", progress=False,
                                             stop_event=stop, callbacks=[lambda step, history: stop.set()])
    assert first.history["step"] == [1, 2]
    resumed = rec.load_or_train_reconstruction(tmp_path, real, real, config, device="cpu", progress=False)
    assert resumed.history["step"] == [1, 2, 3, 4]
