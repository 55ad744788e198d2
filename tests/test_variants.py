"""Notebook 09's GAN variants: InfoGAN's MI term, the SGAN losses, progressive fade-in, trainers and checkpoints."""

import math
import threading

import pytest
import torch
import torch.nn.functional as F

from gan_lab.data.base import ImageData
from gan_lab.exercises import variants as ex
from gan_lab.losses import discriminator_loss, generator_loss_nonsaturating
from gan_lab.losses import variants as lv
from gan_lab.metrics.tstr import score_sgan
from gan_lab.models.infogan import InfoGANDiscriminator, InfoGANGenerator
from gan_lab.models.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from gan_lab.models.sgan import SGANDiscriminator
from gan_lab.train import infogan, progressive, sgan
from gan_lab.train.loop import ElapsedTime
from gan_lab.widgets.infogan import code_sweep, infogan_explorer


def _labelled(n=24, size=28, K=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return ImageData(torch.rand(n, 1, size, size, generator=gen) * 2 - 1, torch.arange(n) % K,
                     [f"class {k}" for k in range(K)], "toy", "real: test")


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(before, module):
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v.detach())}


# --------------------------------------------------------------------------------------------- InfoGAN
def test_mutual_information_terms_by_hand():
    c_logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])  # Q(c=0|x) = 3/4 for both rows
    c = torch.tensor([0, 1])
    ce = (-math.log(0.75) - math.log(0.25)) / 2
    assert lv.categorical_code_nll(c_logits, c).item() == pytest.approx(ce)
    assert lv.categorical_mi_lower_bound(c_logits, c).item() == pytest.approx(math.log(2) - ce)
    assert lv.categorical_mi_lower_bound(torch.zeros(3, 4), torch.tensor([0, 1, 3])).item() == pytest.approx(0.0,
                                                                                                           abs=1e-6)
    mean, log_var = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, math.log(4.0)]])
    c_cont = torch.tensor([[1.0, 3.0]])  # NLL: ½ log 2π + ½ · 1  and  ½ log 2π + ½ log 4 + ½ · 4/4
    nll = 0.5 * math.log(2 * math.pi) + 0.5 + 0.5 * math.log(2 * math.pi) + 0.5 * math.log(4.0) + 0.5
    assert lv.gaussian_code_nll(mean, log_var, c_cont).item() == pytest.approx(nll)
    total = lv.info_loss(c_logits, c, mean, log_var, c_cont, continuous_weight=0.25)
    assert total.item() == pytest.approx(ce + 0.25 * nll)


def test_infogan_shapes_and_steps_update_the_right_networks():
    G = InfoGANGenerator(z_dim=8, num_categories=3, num_continuous=2, width=4)
    D = InfoGANDiscriminator(num_categories=3, num_continuous=2, width=4, q_hidden=8)
    fake = G(torch.randn(5, 8), torch.tensor([0, 1, 2, 0, 1]), torch.zeros(5, 2))
    outputs = D(fake)
    assert fake.shape == (5, 1, 28, 28) and [tuple(o.shape) for o in outputs] == [(5,), (5, 3), (5, 2), (5, 2)]
    with pytest.raises(ValueError, match="codes"):
        G(torch.randn(5, 8), torch.zeros(4).long(), torch.zeros(5, 2))
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2)
    g_before, d_before = _snapshot(G), _snapshot(D)
    z, (c, c_cont) = torch.randn(4, 8), infogan.sample_codes(4, 3, 2)
    with torch.no_grad():
        fake = G(z, c, c_cont)
    out = infogan.d_step(D, opt_D, torch.rand(4, 1, 28, 28) * 2 - 1, fake, c, c_cont, discriminator_loss, 1.0, 0.5)
    assert not _changed(g_before, G) and {"q.0.weight", "q.3.weight", "body.head.weight"} <= _changed(d_before, D)
    assert set(out) == {"loss_D", "D(x)", "D(G(z))"} and all(not v.requires_grad for v in out.values())
    d_before = _snapshot(D)
    out = infogan.g_step(G, D, opt_G, z, c, c_cont, generator_loss_nonsaturating, 1.0, 0.5)
    assert not _changed(d_before, D) and _changed(g_before, G) == set(dict(G.named_parameters()))
    assert out["I(c;x) bound"] <= math.log(3) + 1e-6


def test_infogan_run_samples_codes_and_checkpoint_round_trips(tmp_path, capsys):
    data, config = _labelled(16), infogan.InfoGANConfig(z_dim=4, width=4, batch_size=4, num_steps=3, log_every=1)
    run = infogan.load_or_train_infogan(tmp_path / "info", data, config, progress=False)
    same_z = run.sample(3, c=1, c_cont=[0.5, -0.5], seed=7), run.sample(3, c=1, c_cont=[0.5, -0.5], seed=7)
    assert same_z[0].shape == (3, 1, 28, 28) and torch.equal(*same_z)
    assert not torch.equal(run.sample(3, c=0, seed=7), run.sample(3, c=1, seed=7))  # c changes the image
    loaded = infogan.load_or_train_infogan(tmp_path / "info", data, config, progress=False)
    assert "no training needed" in capsys.readouterr().out
    assert torch.equal(loaded.sample(4, seed=1), run.sample(4, seed=1)) and loaded.history == run.history
    probs, means = loaded.infer_codes(data.images)
    assert probs.shape == (16, 2) and torch.allclose(probs.sum(1), torch.ones(16)) and means.shape == (16, 2)


def test_infogan_widget_redraws_when_a_code_changes():
    G = InfoGANGenerator(z_dim=6, num_categories=2, num_continuous=1, width=4).eval()
    box = infogan_explorer(G, None, k=2, n_pca=16)
    before = box.explorer.image.value
    box.category.value = 1
    after_c = box.explorer.image.value
    box.code_sliders[0].value = 1.5
    assert before != after_c != box.explorer.image.value and box.coded.c_cont == [1.5]
    run = infogan.InfoGANRun(G, None, config=infogan.InfoGANConfig(z_dim=6, width=4, num_continuous=1))
    images, cols = code_sweep(run, "categorical", n=3)
    assert images.shape == (6, 1, 28, 28) and cols == 3
    images, cols = code_sweep(run, 0, n=2, values=[-1.0, 0.0, 1.0])
    assert images.shape == (6, 1, 28, 28) and cols == 3
    assert torch.equal(images[1], run.sample(2, c=0, c_cont=[[0.0], [0.0]], seed=0)[0])  # row 0 = z_0, value 0
    with pytest.raises(ValueError, match="code must be"):
        code_sweep(run, 3)


# ------------------------------------------------------------------------------------------------ SGAN
def test_sgan_losses_by_hand():
    logits = torch.zeros(2, 3)  # K = 2: each of the 3 classes has p = 1/3
    assert lv.sgan_supervised_loss(logits, torch.tensor([0, 1])).item() == pytest.approx(math.log(2))
    assert lv.sgan_unsupervised_loss(logits, logits).item() == pytest.approx(-math.log(2 / 3) - math.log(1 / 3))
    assert lv.sgan_generator_loss(logits).item() == pytest.approx(-math.log(2 / 3))
    sure_real, sure_fake = torch.tensor([[30.0, 0.0, -30.0]]), torch.tensor([[-30.0, -30.0, 30.0]])
    assert lv.sgan_unsupervised_loss(sure_real, sure_fake).item() == pytest.approx(0.0, abs=1e-6)
    p = torch.softmax(torch.tensor([1.0, 2.0, 0.5]), 0)  # unequal logits: log(1 − p_fake) = log(p_0 + p_1)
    value = lv.sgan_unsupervised_loss(torch.tensor([[1.0, 2.0, 0.5]]), torch.tensor([[1.0, 2.0, 0.5]]))
    assert value.item() == pytest.approx(-math.log(p[0] + p[1]) - math.log(p[2]), rel=1e-5)
    real_f, fake_f = torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert lv.feature_matching_loss(real_f, fake_f).item() == pytest.approx(2.0**2 + 1.0**2)


def test_sgan_steps_update_the_right_networks():
    G, D = sgan.DCGANGenerator(8, 1, 28, 4), SGANDiscriminator(2, width=4)
    assert D(torch.zeros(3, 1, 28, 28)).shape == (3, 3) and D.classify(torch.zeros(3, 1, 28, 28)).shape == (3, 2)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2)
    x, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.tensor([0, 1, 0, 1])
    g_before, d_before = _snapshot(G), _snapshot(D)
    with torch.no_grad():
        fake = G(torch.randn(4, 8))
    out = sgan.d_step(D, opt_D, x, y, x, fake)
    assert not _changed(g_before, G) and _changed(d_before, D) == set(dict(D.named_parameters()))
    assert out["loss_D"].item() == pytest.approx((out["loss_sup"] + out["loss_unsup"]).item())
    for g_loss in sgan.G_LOSSES:
        d_before = _snapshot(D)
        sgan.g_step(G, D, opt_G, torch.randn(4, 8), x, g_loss)
        assert not _changed(d_before, D) and _changed(g_before, G)
    d_before = _snapshot(D)
    assert set(sgan.supervised_d_step(D, opt_D, x, y)) == {"loss_sup", "acc_labelled"} and _changed(d_before, D)
    with pytest.raises(ValueError, match="method"):
        sgan.SGANConfig(method="unsupervised")


def test_sgan_and_baseline_train_evaluate_and_round_trip(tmp_path):
    data = _labelled(40)
    for method in sgan.METHODS:
        config = sgan.SGANConfig(method=method, n_labelled=10, z_dim=4, width=4, batch_size=4, num_steps=2,
                                 log_every=1)
        run = sgan.load_or_train_sgan(tmp_path / method, data, config, progress=False)
        assert (run.G is None) == (method == "supervised")
        scores = score_sgan(run.D, data)
        assert 0 <= scores["auc"] <= 1 and 0 <= scores["accuracy"] <= 1
        loaded = sgan.load_sgan(tmp_path / method)
        assert torch.equal(loaded.D.classify(data.images[:3]), run.D.classify(data.images[:3]))
        assert score_sgan(loaded.D, data) == scores
    subset = sgan.labelled_subset(data, 10, seed=0)
    assert len(subset) == 10 and subset.class_counts() == {"class 0": 5, "class 1": 5}


def test_infogan_and_sgan_stop_when_the_stop_event_is_set(tmp_path):
    stop = threading.Event()
    stop.set()
    data = _labelled(16)
    info = infogan.load_or_train_infogan(tmp_path / "info", data, infogan.InfoGANConfig(
        z_dim=4, width=4, batch_size=4, num_steps=20, log_every=1), progress=False, stop_event=stop)
    semi = sgan.load_or_train_sgan(tmp_path / "sgan", data, sgan.SGANConfig(
        n_labelled=8, z_dim=4, width=4, batch_size=4, num_steps=20, log_every=1), progress=False, stop_event=stop)
    assert len(info.history["step"]) < 20 and len(semi.history["step"]) < 20


# ----------------------------------------------------------------------------------- progressive growing
def test_fade_in_blends_the_upsampled_lower_stage_with_the_new_block():
    torch.manual_seed(0)
    G, D = ProgressiveGenerator(z_dim=8, widths=(8, 6, 4)), ProgressiveDiscriminator(widths=(8, 6, 4))
    z = torch.randn(3, 8)
    for stage, r in ((0, 8), (1, 16), (2, 32)):
        assert G(z, stage).shape == (3, 1, r, r) and D(torch.zeros(3, 1, r, r), stage).shape == (3,)
    for stage in (1, 2):
        upsampled = F.interpolate(G(z, stage - 1), scale_factor=2, mode="nearest")
        assert torch.allclose(G(z, stage, alpha=0.0), upsampled, atol=1e-6)
        assert not torch.allclose(G(z, stage, alpha=1.0), upsampled, atol=1e-3)
        # α = 1 is the new block alone; α = ½ blends before tanh, halfway between the two pre-activations
        new, old = torch.atanh(G(z, stage, 1.0).clamp(-0.999999, 0.999999)), torch.atanh(upsampled.clamp(-0.999999,
                                                                                                           0.999999))
        assert torch.allclose(G(z, stage, 0.5), torch.tanh(0.5 * new + 0.5 * old), atol=1e-4)
        x = torch.randn(3, 1, 8 * 2**stage, 8 * 2**stage)
        assert torch.allclose(D(x, stage, alpha=0.0), D(F.avg_pool2d(x, 2), stage - 1), atol=1e-5)
    with pytest.raises(ValueError, match="stage"):
        G(z, 3)
    with pytest.raises(ValueError, match="16×16"):
        D(torch.zeros(1, 1, 32, 32), 1)


def test_schedule_and_pyramid():
    config = progressive.ProgressiveConfig(widths=(4, 4, 4), stable_steps=2, fade_steps=4)
    assert config.num_steps == 2 + 2 * 6 and config.size == 32
    got = [progressive.schedule(step, config) for step in range(1, config.num_steps + 1)]
    assert got[:2] == [(0, 1.0), (0, 1.0)]
    assert got[2:8] == [(1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0), (1, 1.0)]
    assert got[8] == (2, 0.25) and got[-1] == (2, 1.0)
    levels = progressive.pyramid(torch.arange(16.0).view(1, 1, 4, 4).repeat(1, 1, 8, 8), 3)
    assert [tuple(x.shape) for x in levels] == [(1, 1, 8, 8), (1, 1, 16, 16), (1, 1, 32, 32)]


def test_progressive_steps_touch_only_the_active_stage():
    torch.manual_seed(0)
    G, D = ProgressiveGenerator(z_dim=8, widths=(8, 6, 4)), ProgressiveDiscriminator(widths=(8, 6, 4))
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2)
    g_before, d_before = _snapshot(G), _snapshot(D)
    with torch.no_grad():
        fake = G(torch.randn(4, 8), 0, 1.0)
    out = progressive.d_step(D, opt_D, torch.rand(4, 1, 8, 8), fake, discriminator_loss, 0, 1.0)
    assert set(out) == {"loss_D", "D(x)", "D(G(z))"} and all(not v.requires_grad for v in out.values())
    changed_D = _changed(d_before, D)
    assert not _changed(g_before, G) and "from_rgb.0.0.weight" in changed_D
    assert not any(k.startswith(("blocks", "from_rgb.1", "from_rgb.2")) for k in changed_D)
    progressive.g_step(G, D, opt_G, torch.randn(4, 8), generator_loss_nonsaturating, 1, 0.5)
    changed_G = _changed(g_before, G)
    assert {"to_rgb.0.weight", "to_rgb.1.weight", "blocks.0.1.weight"} <= changed_G  # both paths of the fade
    assert not any(k.startswith(("blocks.1", "to_rgb.2")) for k in changed_G)


def test_progressive_trains_records_time_and_round_trips(tmp_path, capsys):
    data = torch.rand(12, 1, 32, 32) * 2 - 1
    config = progressive.ProgressiveConfig(widths=(8, 4, 4), stable_steps=1, fade_steps=1, batch_size=4,
                                           z_dim=4, log_every=1, callback_every=2)
    run = progressive.load_or_train_progressive(tmp_path / "pg", data, config, progress=False,
                                                callbacks=[ElapsedTime()])
    assert run.history["stage"] == [0.0, 1.0, 1.0, 2.0, 2.0] and run.history["alpha"][1] == 1.0
    assert len(run.history["seconds"]) >= 2 and run.history["seconds"][-1] > 0
    assert run.sample(2, stage=0).shape == (2, 1, 8, 8) and run.sample(2).shape == (2, 1, 32, 32)
    snapshots = run.snapshots()  # drawn during training: the end of stage 0, then each fade's middle and end
    assert [(step, stage, images.shape[-1]) for step, stage, _, images in snapshots] == [
        (1, 0, 8), (2, 1, 16), (3, 1, 16), (4, 2, 32), (5, 2, 32)]
    loaded = progressive.load_or_train_progressive(tmp_path / "pg", data, config, progress=False)
    assert "no training needed" in capsys.readouterr().out
    assert torch.equal(loaded.sample(3, seed=2), run.sample(3, seed=2)) and loaded.config == config
    assert [s[:3] for s in loaded.snapshots()] == [s[:3] for s in snapshots]  # kept in the checkpoint
    with pytest.raises(ValueError, match="size=32"):
        progressive.train_progressive(torch.zeros(4, 1, 28, 28), config)


def test_progressive_config_derives_num_steps_and_stops_when_the_stop_event_is_set(tmp_path):
    config = progressive.ProgressiveConfig(widths=(8, 4), stable_steps=3, fade_steps=2, batch_size=4, z_dim=4,
                                           log_every=1, callback_every=2)
    assert config.num_steps == 3 + 5 and "num_steps" not in progressive.checkpoint_meta(config, torch.zeros(
        1, 1, 16, 16))["progressive"]  # fixed by the schedule: not a setting of its own
    with pytest.raises(TypeError):
        progressive.ProgressiveConfig(num_steps=5)
    stop = threading.Event()
    run = progressive.load_or_train_progressive(tmp_path / "pg", torch.rand(8, 1, 16, 16) * 2 - 1, config,
                                                progress=False, stop_event=stop, callbacks=[lambda s, h: stop.set()])
    assert run.history["step"][-1] == 2 < config.num_steps


# ------------------------------------------------------------------------------------------- exercises
def test_exercise_checks_accept_right_and_reject_wrong_answers():
    def bound(c_logits, c):
        return math.log(c_logits.shape[1]) - F.cross_entropy(c_logits, c)

    def unsup(real_logits, fake_logits):
        p_real, p_fake = real_logits.softmax(1), fake_logits.softmax(1)
        return -(1 - p_real[:, -1]).log().mean() - p_fake[:, -1].log().mean()

    def fade(low, high, alpha):
        return alpha * high + (1 - alpha) * F.interpolate(low, scale_factor=2, mode="nearest")

    assert ex.check_mi_lower_bound(bound) and not ex.check_mi_lower_bound(lambda c_logits, c: -F.cross_entropy(
        c_logits, c))
    assert ex.check_sgan_unsupervised_loss(unsup)
    assert not ex.check_sgan_unsupervised_loss(lambda r, f: -r.softmax(1)[:, -1].log().mean())
    assert ex.check_fade_in(fade) and not ex.check_fade_in(lambda low, high, alpha: alpha * high)
