"""CycleGAN: generator shapes, the losses against hand-computed values, the image pool, the schedule, training."""

import dataclasses
import math
import threading

import pytest
import torch

from gan_lab.losses.translation import cycle_loss, identity_loss
from gan_lab.metrics import mae, psnr, ssim
from gan_lab.models import ResnetGenerator
from gan_lab.train.cyclegan import (
    CycleGANConfig,
    build_cyclegan,
    d_step,
    g_step,
    linear_decay,
    load_or_train_cyclegan,
    train_cyclegan,
)
from gan_lab.train.image_pool import ImagePool

TINY = dict(width=4, n_blocks=1, batch_size=2, log_every=1, checkpoint_every=0)


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("channels", [(1, 1), (1, 3)])
def test_generators_and_discriminators_have_the_right_shapes(size, channels):
    models = build_cyclegan(CycleGANConfig(width=4), *channels, size=size)
    x, y = torch.randn(2, channels[0], size, size), torch.randn(2, channels[1], size, size)
    assert models["G_XY"](x).shape == y.shape
    assert models["G_YX"](y).shape == x.shape
    assert models["G_XY"](x).abs().max() <= 1  # tanh output, like the data
    patches_X, patches_Y = models["D_X"](x), models["D_Y"](y)
    assert patches_X.shape[:2] == (2, 1) and patches_X.shape[-1] > 1  # one logit per patch, not per image
    assert patches_Y.shape == patches_X.shape
    assert models["G_XY"].n_blocks == (3 if size == 28 else 6)


def test_generator_rejects_sizes_it_cannot_downsample():
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(1, 1, width=4)(torch.zeros(1, 1, 30, 30))


def test_cycle_and_identity_losses_match_hand_computed_values():
    real_X = torch.zeros(1, 1, 2, 2)
    rec_X = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])  # |·| sums to 2.5 over 4 pixels: 0.625
    real_Y = torch.ones(1, 1, 1, 2)
    rec_Y = torch.tensor([[[[1.0, 0.0]]]])  # mean |·| = 0.5
    assert cycle_loss(real_X, rec_X, real_Y, rec_Y).item() == pytest.approx(1.125)
    assert identity_loss(real_X, rec_X, real_Y, rec_Y).item() == pytest.approx(1.125)
    assert identity_loss(real_X, real_X, real_Y, real_Y).item() == 0.0


def test_image_pool_fills_up_then_mixes_stored_and_new_images():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # while filling, the new fakes pass straight through
    new, old = 0, 0
    for i in range(200):
        fake = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(fake)
        if torch.equal(out, fake):
            new += 1
        else:
            old += 1
            assert out.item() < 100.0 + i  # an older fake, never an unseen one
    assert 0.35 < old / 200 < 0.65  # a stored image comes back with probability ½
    assert len(pool.images) == 4


def test_image_pool_is_deterministic_under_its_seed_and_size_zero_passes_through():
    batches = [torch.randn(3, 1, 2, 2) for _ in range(10)]
    a, b, c = ImagePool(5, seed=1), ImagePool(5, seed=1), ImagePool(5, seed=2)
    out_a = [a.query(x) for x in batches]
    out_b = [b.query(x) for x in batches]
    out_c = [c.query(x) for x in batches]
    assert all(torch.equal(p, q) for p, q in zip(out_a, out_b))
    assert not all(torch.equal(p, q) for p, q in zip(out_a, out_c))
    assert torch.equal(ImagePool(0).query(batches[0]), batches[0])


def test_learning_rate_is_constant_then_falls_linearly_to_zero():
    f = linear_decay(10, decay_start=0.5)
    assert [f(s) for s in range(11)] == pytest.approx([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0])
    history = train_cyclegan(torch.randn(6, 1, 28, 28), torch.randn(6, 1, 28, 28),
                             CycleGANConfig(num_steps=10, lr=1e-3, **TINY), progress=False, device="cpu").history
    assert history["lr"] == pytest.approx([1e-3 * f(s) for s in range(10)])  # the lr each step used


def test_cache_resumes_an_interrupted_run_on_schedule_loads_a_finished_one_and_retrains_on_change(tmp_path):
    x, y = torch.randn(6, 1, 28, 28), torch.randn(6, 1, 28, 28)
    config = CycleGANConfig(num_steps=8, lr=1e-3, callback_every=3, **TINY)
    stop = threading.Event()
    first = train_cyclegan(x, y, config, checkpoint_dir=tmp_path, callbacks=[lambda step, h: stop.set()],
                           stop_event=stop, progress=False, device="cpu")
    assert first.history["step"][-1] == 3

    resumed = load_or_train_cyclegan(tmp_path, x, y, config, progress=False, device="cpu")
    f = linear_decay(8, 0.5)
    assert resumed.history["step"] == list(range(1, 9))
    assert resumed.history["lr"] == pytest.approx([1e-3 * f(s) for s in range(8)])  # the schedule went on

    loaded = load_or_train_cyclegan(tmp_path, x, y, config, progress=False, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(loaded.G_XY.parameters(), resumed.G_XY.parameters()))
    assert loaded.history["step"] == resumed.history["step"]

    other = CycleGANConfig(num_steps=2, lr=1e-3, lambda_cycle=1.0, **TINY)
    assert load_or_train_cyclegan(tmp_path, x, y, other, progress=False, device="cpu").history["step"] == [1, 2]


def test_d_step_changes_only_the_discriminators_and_g_step_only_the_generators():
    config = CycleGANConfig(width=4, n_blocks=1)
    models = build_cyclegan(config)
    G_XY, G_YX, D_X, D_Y = (models[k] for k in ("G_XY", "G_YX", "D_X", "D_Y"))
    opt_G = torch.optim.Adam([*G_XY.parameters(), *G_YX.parameters()], 1e-2)
    opt_D = torch.optim.Adam([*D_X.parameters(), *D_Y.parameters()], 1e-2)
    x, y = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    snapshot = lambda: {k: [p.detach().clone() for p in m.parameters()] for k, m in models.items()}  # noqa: E731
    changed = lambda a, b: {k for k in a if any(not torch.equal(p, q) for p, q in zip(a[k], b[k]))}  # noqa: E731

    before = snapshot()
    fake_X, fake_Y = G_YX(y), G_XY(x)  # F(y), G(x) with their graph: G's loss backpropagates through them
    out = g_step(G_XY, G_YX, D_X, D_Y, opt_G, x, y, fake_X, fake_Y, lambda_cycle=10.0, lambda_id=5.0)
    after_g = snapshot()
    assert changed(before, after_g) == {"G_XY", "G_YX"}
    assert all(p.requires_grad for p in D_X.parameters())  # D is unfrozen again for its own step
    assert set(out) == {"loss_G", "loss_GAN", "loss_cycle", "loss_id"}
    assert all(not v.requires_grad for v in out.values())

    d_step(D_X, D_Y, opt_D, x, y, fake_X.detach(), fake_Y.detach())
    assert changed(after_g, snapshot()) == {"D_X", "D_Y"}


def test_a_second_call_with_run_continues_the_same_networks_optimisers_pools_and_schedule():
    x, y = torch.randn(6, 1, 28, 28), torch.randn(6, 1, 28, 28)
    config = CycleGANConfig(num_steps=3, lr=1e-3, pool_size=4, **TINY)
    run = train_cyclegan(x, y, config, progress=False, device="cpu", names=("MR", "CT"))
    networks, optimizers, pools = run.models, dict(run.optimizers), run.pools
    before = [p.detach().clone() for p in run.G_XY.parameters()]
    continued = train_cyclegan(x, y, dataclasses.replace(config, num_steps=6), progress=False, device="cpu", run=run)
    assert continued is run and run.history["step"] == [1, 2, 3, 4, 5, 6] and run.names == ("MR", "CT")
    assert all(run.models[name] is net for name, net in networks.items()) and run.pools is pools
    assert all(run.optimizers[name] is opt for name, opt in optimizers.items())
    assert {int(s["step"]) for opt in run.optimizers.values() for s in opt.state.values()} == {6}  # Adam went on
    assert not all(torch.equal(p, q) for p, q in zip(before, run.G_XY.parameters()))
    f = linear_decay(6, 0.5)
    assert run.history["lr"][3:] == pytest.approx([1e-3 * f(s) for s in range(3, 6)])  # the new config's schedule


def test_a_few_training_steps_reduce_the_cycle_loss():
    torch.manual_seed(0)
    blobs = torch.zeros(16, 1, 28, 28)
    for i in range(16):  # bright squares at random places: simple structure to reconstruct
        r, c = torch.randint(4, 20, (2,)).tolist()
        blobs[i, 0, r:r + 6, c:c + 6] = 1
    x, y = blobs * 2 - 1, 1 - blobs * 2  # Y: the same kind of images with inverted contrast
    config = CycleGANConfig(num_steps=20, lr=3e-3, decay_start=1.0, **{**TINY, "log_every": 5})
    history = train_cyclegan(x, y, config, progress=False, device="cpu").history
    assert history["loss_cycle"][-1] < 0.5 * history["loss_cycle"][0]


def test_unequal_channel_counts_train_without_identity_and_are_refused_with_it():
    grey, rgb = torch.rand(4, 1, 28, 28) * 2 - 1, torch.rand(4, 3, 28, 28) * 2 - 1
    with pytest.raises(ValueError, match="lambda_id=0"):
        train_cyclegan(grey, rgb, CycleGANConfig(num_steps=1, **TINY), progress=False, device="cpu")
    run = train_cyclegan(grey, rgb, CycleGANConfig(num_steps=2, lambda_id=0.0, **TINY), progress=False, device="cpu")
    fake, rec = run.cycle(grey)
    assert fake.shape == rgb.shape and rec.shape == grey.shape
    assert "loss_id" not in run.history
    with pytest.raises(ValueError, match="same image size"):
        train_cyclegan(grey, torch.zeros(4, 1, 64, 64), CycleGANConfig(num_steps=1, lambda_id=0.0, **TINY),
                       progress=False, device="cpu")


def test_paired_metrics_on_identical_images_are_perfect():
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert mae(x, x) == 0.0
    assert ssim(x, x) == pytest.approx(1.0)
    assert math.isinf(psnr(x, x)) or psnr(x, x) > 100
