"""pix2pix: network shapes, which step updates what, the L1-only baseline, caching."""

import pytest
import torch

from gan_lab.losses import adversarial_losses
from gan_lab.models.patchgan import PatchGANDiscriminator
from gan_lab.models.unet import UNet
from gan_lab.train.pix2pix import (
    Pix2PixConfig,
    build_pix2pix,
    d_step,
    g_step,
    load_or_train_pix2pix,
    train_pix2pix,
)


def _snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(model, before):
    return any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))


def _pairs(n=32, size=16):
    """A learnable translation: the target is the negated, slightly blurred input."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    y = -torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    return x, y


@pytest.mark.parametrize("size, n_layers, patches", [(28, 2, 5), (64, 3, 6)])
def test_unet_and_patchgan_shapes(size, n_layers, patches):
    x = torch.zeros(2, 1, size, size)
    out = UNet(1, 1, width=8, size=size)(x)
    assert out.shape == (2, 1, size, size)
    logits = PatchGANDiscriminator(2, width=8, n_layers=n_layers)(torch.cat([x, out], dim=1))
    assert logits.shape == (2, 1, patches, patches)


def test_build_picks_patchgan_depth_from_size_and_no_D_for_the_baseline():
    G, D = build_pix2pix(Pix2PixConfig(width=8, d_width=8), in_channels=1, out_channels=3, size=64)
    assert D(torch.zeros(1, 4, 64, 64)).shape == (1, 1, 6, 6)  # D sees input and output: 1 + 3 channels
    assert G(torch.zeros(1, 1, 64, 64)).shape == (1, 3, 64, 64)
    _, no_D = build_pix2pix(Pix2PixConfig(width=8, lambda_adv=0.0), size=28)
    assert no_D is None


def test_d_step_changes_only_D_and_g_step_only_G():
    G, D = build_pix2pix(Pix2PixConfig(width=8, d_width=8), size=16)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    loss_D_fn, loss_G_fn = adversarial_losses("nonsaturating")
    x, y = _pairs(n=4)
    g0, d0 = _snapshot(G), _snapshot(D)
    with torch.no_grad():
        fake = G(x)
    out = d_step(D, opt_D, x, y, fake, loss_D_fn)
    assert _changed(D, d0) and not _changed(G, g0)
    assert 0 < out["D(x,y)"] < 1
    d1 = _snapshot(D)
    out = g_step(G, D, opt_G, x, y, loss_G_fn, lambda_adv=1.0, lambda_L1=100.0)
    assert _changed(G, g0) and not _changed(D, d1)
    assert torch.isclose(out["loss_G"], out["loss_adv"] + 100.0 * out["loss_L1"])


def test_l1_baseline_learns_the_mapping_without_a_discriminator():
    x, y = _pairs()
    config = Pix2PixConfig(lambda_adv=0.0, width=8, batch_size=8, num_steps=60, lr_G=2e-3, log_every=10,
                           checkpoint_every=0)
    run = train_pix2pix(x, y, config, device="cpu", progress=False)
    assert run.D is None and "loss_D" not in run.history
    assert run.history["loss_L1"][-1] < 0.6 * run.history["loss_L1"][0]
    out = run.translate(x[:5], batch_size=2)
    assert out.shape == (5, 1, 16, 16) and out.device.type == "cpu"
    assert (out - y[:5]).abs().mean() < (x[:5] - y[:5]).abs().mean()  # closer to the target than the input is


def test_bad_config_and_unpaired_data_are_rejected():
    with pytest.raises(ValueError, match="not both 0"):
        Pix2PixConfig(lambda_adv=0.0, lambda_L1=0.0)
    with pytest.raises(ValueError, match="loss"):
        Pix2PixConfig(loss="wasserstein")
    x, y = _pairs(n=4)
    with pytest.raises(ValueError, match="pairs"):
        train_pix2pix(x, y[:3], Pix2PixConfig(num_steps=1), device="cpu", progress=False)


def test_load_or_train_reuses_a_matching_checkpoint(tmp_path):
    x, y = _pairs(n=8)
    config = Pix2PixConfig(width=8, d_width=8, batch_size=4, num_steps=3)
    trained = load_or_train_pix2pix(tmp_path, x, y, config, device="cpu", progress=False, data_name="toy")
    loaded = load_or_train_pix2pix(tmp_path, x, y, config, device="cpu", progress=False, data_name="toy")
    assert loaded.history == trained.history and loaded.D is not None
    assert torch.allclose(loaded.translate(x), trained.translate(x), atol=1e-6)
    other = load_or_train_pix2pix(tmp_path, x, y, config, device="cpu", progress=False, data_name="other pairs")
    assert other.data_name == "other pairs" and other.history["step"][-1] == 3
