"""The GAN trainer: step functions touch only their own network, resume is exact, load_or_train caches."""

import copy
import dataclasses
import json
import threading

import pytest
import torch

from gan_lab import checkpoints
from gan_lab.losses import adversarial_losses
from gan_lab.models.progressive import MinibatchStdDev
from gan_lab.train import gan
from gan_lab.train.gan import (
    GANConfig,
    build_gan,
    d_step,
    g_step,
    load_gan,
    load_or_train_gan,
    make_optimizers,
    new_run,
    train_gan,
)
from gan_lab.train.loop import TimeLimit, TrainingDiverged

TINY = dict(arch="mlp", width=4, z_dim=8, batch_size=8, num_steps=6, log_every=1, checkpoint_every=3, callback_every=3)


def _data(n=32, size=28):
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(before, model):
    return [not torch.equal(b, p) for b, p in zip(before, model.parameters())]


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_d_step_changes_only_D_and_g_step_only_G(arch):
    config = GANConfig(**{**TINY, "arch": arch})
    G, D = build_gan(config)
    opt = make_optimizers(G, D, config)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    G0, D0 = _params(G), _params(D)
    with torch.no_grad():
        fake = G(torch.randn(8, G.z_dim))
    out = d_step(D, opt["D"], _data(8), fake, loss_D_fn)
    assert not any(_changed(G0, G)) and all(_changed(D0, D))
    assert set(out) == {"loss_D", "D(x)", "D(G(z))", "r_t"} and 0 < out["D(x)"] < 1 and -1 <= out["r_t"] <= 1
    G0, D0, grads_D = _params(G), _params(D), [p.grad.clone() for p in D.parameters()]
    out = g_step(G, D, opt["G"], torch.randn(8, G.z_dim), loss_G_fn)
    assert not any(_changed(D0, D)) and all(_changed(G0, G))
    assert all(torch.equal(g, p.grad) for g, p in zip(grads_D, D.parameters()))  # G's loss put no gradient in D
    assert all(p.requires_grad for p in D.parameters())
    assert set(out) == {"loss_G"}


def test_k_discriminator_steps_per_generator_step(monkeypatch):
    calls = []
    real_d, real_g = gan.d_step, gan.g_step
    monkeypatch.setattr(gan, "d_step", lambda *a, **kw: calls.append("D") or real_d(*a, **kw))
    monkeypatch.setattr(gan, "g_step", lambda *a, **kw: calls.append("G") or real_g(*a, **kw))
    train_gan(_data(), GANConfig(**{**TINY, "num_steps": 2}, k=3), device="cpu", progress=False)
    assert calls == ["D", "D", "D", "G"] * 2


def test_history_records_losses_and_D_outputs():
    run = train_gan(_data(), GANConfig(**TINY), device="cpu", progress=False)
    assert run.history["step"] == [1, 2, 3, 4, 5, 6]
    assert {"loss_D", "loss_G", "D(x)", "D(G(z))"} <= set(run.history)
    assert run.sample(5).shape == (5, 1, 28, 28)
    assert torch.equal(run.sample(3, seed=1), run.sample(3, seed=1))


def test_resume_equals_an_uninterrupted_run(tmp_path):
    config = GANConfig(**TINY)
    straight = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path / "a", progress=False)
    train_gan(_data(), dataclasses.replace(config, num_steps=3), device="cpu", checkpoint_dir=tmp_path / "b",
              progress=False)
    resumed = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path / "b", resume=True, progress=False)
    assert resumed.history == straight.history
    for net in ("G", "D", "G_ema"):
        a, b = getattr(straight, net).state_dict(), getattr(resumed, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_huge_learning_rate_raises_training_diverged(tmp_path):
    config = GANConfig(**{**TINY, "num_steps": 20}, lr_G=1e30, lr_D=1e30)
    with pytest.raises(TrainingDiverged, match="diverged"):
        train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)


def test_load_gan_rebuilds_the_run(tmp_path):
    run = train_gan(_data(), GANConfig(**TINY), device="cpu", checkpoint_dir=tmp_path, progress=False)
    loaded = load_gan(tmp_path)
    assert loaded.config == run.config and loaded.history == run.history and loaded.data_name == "tensor"
    assert loaded.G_ema is not None and not loaded.G_ema.training
    assert torch.equal(loaded.sample(4), run.sample(4))


def test_load_or_train_trains_then_loads(tmp_path, monkeypatch, capsys):
    config = GANConfig(**TINY)
    first = load_or_train_gan(tmp_path, _data(), config, device="cpu", progress=False)
    assert checkpoints.exists(tmp_path) and first.history["step"][-1] == 6
    monkeypatch.setattr(gan, "fit_run", lambda *a, **k: pytest.fail("a matching checkpoint must not be retrained"))
    second = load_or_train_gan(tmp_path, _data(), dataclasses.replace(config, callback_every=50), device="cpu")
    assert "Loaded the cached checkpoint" in capsys.readouterr().out
    assert torch.equal(second.sample(4), first.sample(4))


def test_load_or_train_fills_networks_built_beforehand(tmp_path):
    config = GANConfig(**TINY)
    trained = load_or_train_gan(tmp_path, _data(), config, device="cpu", progress=False)
    run = new_run(_data(), config, device="cpu")
    G = run.G  # e.g. held by a monitor
    assert load_or_train_gan(tmp_path, _data(), config, device="cpu", run=run) is run
    assert run.G is G and torch.equal(run.sample(4), trained.sample(4))
    assert run.history == trained.history


def test_load_or_train_retrains_when_the_config_differs(tmp_path, capsys):
    config = GANConfig(**TINY)
    load_or_train_gan(tmp_path, _data(), config, device="cpu", progress=False)
    run = load_or_train_gan(tmp_path, _data(), dataclasses.replace(config, lr_D=1e-3), device="cpu", progress=False)
    assert f"gan.lr_D: {config.lr_D:g} → 0.001" in capsys.readouterr().out
    assert checkpoints.stored_config(tmp_path)["gan"]["lr_D"] == 1e-3 and run.config.lr_D == 1e-3
    load_or_train_gan(tmp_path, _data(n=16), dataclasses.replace(config, lr_D=1e-3), device="cpu", progress=False)
    assert "num_images: 32 → 16" in capsys.readouterr().out


def test_load_or_train_resumes_an_interrupted_run(tmp_path, monkeypatch, capsys):
    config = GANConfig(**TINY)
    real_g_step, calls = gan.g_step, []

    def interrupt_at_step_4(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_g_step(*args, **kwargs)

    monkeypatch.setattr(gan, "g_step", interrupt_at_step_4)
    assert load_or_train_gan(tmp_path, _data(), config, device="cpu", progress=False).history["interrupted"]
    monkeypatch.setattr(gan, "g_step", real_g_step)
    run = load_or_train_gan(tmp_path, _data(), config, device="cpu", progress=False)
    assert "Resuming the unfinished checkpoint" in capsys.readouterr().out
    assert run.history["step"][-1] == 6 and "interrupted" not in run.history


@pytest.mark.parametrize("bad", [dict(arch="vae"), dict(loss="wasserstein"), dict(k=0), dict(lr_D=0.0),
                                 dict(num_steps=-1), dict(width=0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        GANConfig(**bad)


def test_train_gan_rejects_flat_images():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        train_gan(torch.zeros(4, 28, 28), GANConfig(**TINY), device="cpu", progress=False)


def test_samples_come_from_the_moving_average_of_G():
    config = GANConfig(**{**TINY, "num_steps": 1}, ema_decay=0.9)
    run = new_run(_data(), config, device="cpu")
    start = _params(run.G)
    assert all(torch.equal(a, b) for a, b in zip(start, run.G_ema.parameters()))  # the average starts at G
    train_gan(_data(), config, device="cpu", run=run, progress=False)
    for s0, g, e in zip(start, run.G.parameters(), run.G_ema.parameters()):  # one step: 0.9 θ_0 + 0.1 θ_1
        assert torch.allclose(e, 0.9 * s0 + 0.1 * g.detach(), atol=1e-6)
    assert not torch.equal(run.sample(4), gan.in_batches(run.G, gan.draw_z(4, run.G.z_dim, "cpu", 0)))
    assert torch.equal(run.sample(4), gan.in_batches(run.G_ema, gan.draw_z(4, run.G.z_dim, "cpu", 0)))


def test_without_an_average_samples_come_from_G_and_the_checkpoint_holds_no_G_ema(tmp_path):
    run = train_gan(_data(), GANConfig(**TINY, ema_decay=0), device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert run.G_ema is None and run.generator is run.G
    assert load_gan(tmp_path).G_ema is None
    with pytest.raises(ValueError, match="ema_decay must be a number in"):
        GANConfig(ema_decay=1.0)


def test_a_checkpoint_from_before_the_average_existed_loads_as_what_ran(tmp_path):
    train_gan(_data(), GANConfig(**TINY, ema_decay=0), device="cpu", checkpoint_dir=tmp_path, progress=False)
    meta_path = tmp_path / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    for name in GANConfig.FIELDS_ADDED_LATER:  # the JSON as gan_lab wrote it before these fields existed
        del meta["config"]["gan"][name]
    meta_path.write_text(json.dumps(meta))
    config = load_gan(tmp_path).config
    assert config.ema_decay == 0 != GANConfig.ema_decay  # it sampled G; today's default would claim an average
    assert dataclasses.asdict(config) == dataclasses.asdict(GANConfig(**TINY, ema_decay=0))


def test_training_on_without_an_average_drops_the_old_one():
    config = GANConfig(**{**TINY, "num_steps": 2})
    run = train_gan(_data(), config, device="cpu", progress=False)
    assert run.G_ema is not None
    train_gan(_data(), dataclasses.replace(config, num_steps=4, ema_decay=0), device="cpu", run=run, progress=False)
    assert run.G_ema is None and run.generator is run.G


def test_r1_step_descends_the_squared_input_gradient_of_D_on_real_images():
    from gan_lab.train.gan import r1_step

    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 1))  # D(x) = w·x + b: ∇_x D = w for every x
    w = D[1].weight.detach().clone()
    opt = torch.optim.SGD(D.parameters(), lr=0.1)
    out = r1_step(D, opt, torch.randn(8, 1, 2, 2), gamma=2.0, every=4)
    assert torch.allclose(out["R1"], w.pow(2).sum())
    # the gradient of γ/2 · every · ‖w‖² is γ · every · w: one SGD step shrinks w by that, b does not move
    assert torch.allclose(D[1].weight, w - 0.1 * 2.0 * 4 * w)


def test_train_gan_applies_r1_lazily():
    from gan_lab.train.gan import R1_EVERY

    config = GANConfig(arch="mlp", width=4, z_dim=8, batch_size=8, num_steps=2 * R1_EVERY, log_every=1,
                       lambda_r1=0.1)
    run = train_gan(torch.rand(32, 1, 28, 28) * 2 - 1, config, device="cpu", progress=False)
    assert len(run.history["R1"]) == 2 and all(v > 0 for v in run.history["R1"])  # at steps 16 and 32 only


def test_spectral_norm_bounds_every_layer_of_d_and_survives_a_checkpoint(tmp_path):
    from gan_lab.train.gan import build_gan

    config = GANConfig(**{**TINY, "arch": "dcgan", "spectral_norm": True})
    fresh = build_gan(config)[1].eval()  # the power iteration restarted from the initialised weights: σ̂ ≈ σ
    for m in (m for m in fresh.modules() if isinstance(m, torch.nn.Conv2d)):
        assert 0.9 < torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2) < 1.1
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in run.D.modules())  # Miyato et al.'s D: none
    layers = [m for m in run.D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert layers and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    for m in layers:  # one power-iteration step per forward: σ(W / σ̂) is close to 1 after a few steps
        weight = m.weight.detach().flatten(1)
        assert 0.7 < torch.linalg.matrix_norm(weight, ord=2) < 1.3
    loaded = load_gan(tmp_path)
    x = _data(4)
    run.D.eval(), loaded.D.eval()
    assert torch.allclose(loaded.D(x), run.D(x), atol=1e-6)  # the u, v of the power iteration are stored too
    with pytest.raises(ValueError, match="spectral_norm must be True or False"):
        GANConfig(spectral_norm="yes")
    with pytest.raises(ValueError, match="spectral_norm applies to the DCGAN discriminator"):
        GANConfig(arch="mlp", spectral_norm=True)


def test_full_resolution_convolutions_train_and_survive_a_checkpoint(tmp_path):
    config = GANConfig(**{**TINY, "arch": "dcgan", "full_res_conv_G": True, "full_res_conv_D": True})
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    last = run.G.net[-2]  # before the tanh: a 3×3 convolution at 28 px makes the pixels
    assert isinstance(last, torch.nn.Conv2d) and last.kernel_size == (3, 3) and last.stride == (1, 1)
    first = run.D.features[0]  # D's first layer keeps the input resolution
    assert first.kernel_size == (3, 3) and first.stride == (1, 1)
    loaded = load_gan(tmp_path)
    assert torch.equal(loaded.sample(4, seed=1), run.sample(4, seed=1))
    assert not GANConfig().full_res_conv_G and not GANConfig().full_res_conv_D  # off unless asked for
    for bad, message in [(dict(full_res_conv_G=1), "full_res_conv_G must be True or False"),
                         (dict(arch="mlp", full_res_conv_D=True), "full_res_conv_D applies to the DCGAN discriminator"),
                         (dict(arch="mlp", full_res_conv_G=True), "full_res_conv_G applies to the DCGAN generator")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)


def test_minibatch_std_trains_and_survives_a_checkpoint(tmp_path):
    config = GANConfig(**{**TINY, "arch": "dcgan", "minibatch_std": 4})
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert isinstance(run.D.features[-1], MinibatchStdDev) and run.D.features[-1].group_size == 4
    loaded = load_gan(tmp_path)
    x = _data(8)
    run.D.eval(), loaded.D.eval()
    assert torch.allclose(loaded.D(x), run.D(x), atol=1e-6)
    assert GANConfig().minibatch_std == 0 and GANConfig.FIELDS_ADDED_LATER["minibatch_std"] == 0  # off by default
    for bad, message in [(dict(minibatch_std=1), "minibatch_std must be 0 .none. or a group size"),
                         (dict(minibatch_std=True), "minibatch_std must be 0"),
                         (dict(arch="mlp", minibatch_std=4), "minibatch_std applies to the DCGAN discriminator")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)


def test_resize_convolution_generator_trains_and_survives_a_checkpoint(tmp_path):
    config = GANConfig(**{**TINY, "arch": "dcgan", "upsample": "resize"})
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in run.G.net[3:])  # only z's projection is one
    assert sum(isinstance(m, torch.nn.Upsample) for m in run.G.modules()) == 2  # 7 → 14 → 28
    loaded = load_gan(tmp_path)
    assert torch.equal(loaded.sample(4, seed=1), run.sample(4, seed=1))
    for bad, message in [(dict(upsample="bilinear"), "upsample must be one of"),
                         (dict(arch="mlp", upsample="resize"), "applies to the DCGAN generator")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)


def test_resize_last_and_a_wider_discriminator_are_built_as_configured_and_reload(tmp_path):
    config = GANConfig(**{**TINY, "arch": "dcgan", "width": 4, "width_D": 6, "upsample": "resize_last"})
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    stages = [type(m).__name__ for m in run.G.net if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Upsample,
                                                                    torch.nn.Conv2d))]
    assert stages == ["ConvTranspose2d", "ConvTranspose2d", "Upsample", "Conv2d"]  # z's projection, 7→14, then 14→28
    assert run.D.features[0].out_channels == 6 and run.G.net[-2].in_channels == 4
    loaded = load_gan(tmp_path)  # the checkpoint's config rebuilds both shapes
    assert loaded.D.features[0].out_channels == 6
    assert torch.equal(loaded.sample(4, seed=1), run.sample(4, seed=1))
    G, D = gan.build_gan(GANConfig(**{**TINY, "width_D": 3}))  # the MLP's D: 8 × width_D hidden units
    assert D.net[1].out_features == 24 and G.net[0].out_features == 32  # G keeps 8 × width
    with pytest.raises(ValueError, match="width_D must be"):
        GANConfig(width_D=-1)


def test_a_cache_from_before_a_setting_existed_loads_when_the_setting_is_as_it_ran(tmp_path, capsys):
    data, config = _data(), GANConfig(**TINY, ema_decay=0)  # every FIELDS_ADDED_LATER at its old meaning
    train_gan(data, config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    meta_path = tmp_path / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    for name in GANConfig.FIELDS_ADDED_LATER:  # as an older gan_lab wrote it
        del meta["config"]["gan"][name]
    meta_path.write_text(json.dumps(meta))
    capsys.readouterr()
    gan.load_or_train_gan(tmp_path, data, config, device="cpu", progress=False)
    assert "no training needed" in capsys.readouterr().out
    gan.load_or_train_gan(tmp_path, data, dataclasses.replace(config, ema_decay=0.99), device="cpu", progress=False)
    assert "gan.ema_decay: 0.0 → 0.99" in capsys.readouterr().out  # absent meant 0: the average is a change


def test_lookahead_steps_both_players_back_every_k_steps():
    from gan_lab.train.lookahead import LookaheadMinmax

    fast = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    slow = copy.deepcopy(fast)
    start = _params(fast)
    lookahead = LookaheadMinmax([(fast, slow)], k=3, alpha=0.25)
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(1.0)  # where k fast steps went
        fast(torch.randn(8, 2))  # and the batch-norm statistics they gathered
    lookahead.step(2)  # not a multiple of k: nothing happens
    assert all(torch.equal(s + 1, p) for s, p in zip(start, fast.parameters()))
    assert not torch.equal(slow[1].running_mean, fast[1].running_mean)
    lookahead.step(3)
    for s0, s, p in zip(start, slow.parameters(), fast.parameters()):
        assert torch.allclose(s, s0 + 0.25) and torch.equal(p, s)  # slow + α (fast − slow); fast restarts there
    assert all(torch.equal(s, f) for s, f in zip(slow.buffers(), fast.buffers()))  # the fast statistics, copied


def test_lookahead_runs_resume_exactly_and_load_with_their_slow_weights(tmp_path, monkeypatch):
    config = GANConfig(**TINY, lookahead_k=2, lookahead_alpha=0.5)
    straight = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path / "a", progress=False)
    for fast, slow in ((straight.G, straight.G_slow), (straight.D, straight.D_slow)):
        assert all(torch.equal(p, s) for p, s in zip(fast.parameters(), slow.parameters()))  # step 6 stepped back
    train_gan(_data(), dataclasses.replace(config, num_steps=3), device="cpu", checkpoint_dir=tmp_path / "b",
              progress=False)  # a checkpoint in the middle of a lookahead cycle
    resumed = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path / "b", resume=True, progress=False)
    for net in ("G", "D", "G_ema", "G_slow", "D_slow"):
        a, b = getattr(straight, net).state_dict(), getattr(resumed, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net
    plain = train_gan(_data(), GANConfig(**TINY), device="cpu", progress=False)
    assert plain.G_slow is None and not torch.equal(plain.sample(4), straight.sample(4))  # it changes training
    loaded = load_gan(tmp_path / "a")
    assert loaded.G_slow is not None and loaded.config.lookahead_k == 2
    monkeypatch.setattr(gan, "train_gan", lambda *a, **k: pytest.fail("trained again instead of loading"))
    into = load_or_train_gan(tmp_path / "a", _data(), config, device="cpu", run=new_run(_data(), config, "cpu"))
    for net in ("G_slow", "D_slow"):  # a run built beforehand (e.g. for a monitor) gets the slow weights too
        a, b = getattr(straight, net).state_dict(), getattr(into, net).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), net


@pytest.mark.parametrize("field, value, message", [
    ("lookahead_k", -1, "lookahead_k must be a whole number ≥ 0"), ("lookahead_k", 2.5, "lookahead_k must be"),
    ("lookahead_alpha", 0, "lookahead_alpha must be a number in \\(0, 1\\]"),
    ("lookahead_alpha", 1.5, "lookahead_alpha"), ("reuse_fakes", 1, "reuse_fakes must be True or False"),
    ("ema_rampup", -0.1, "ema_rampup must be a number ≥ 0"), ("ema_rampup", True, "ema_rampup must be"),
    ("ema_rampup", float("nan"), "ema_rampup must be"),
    ("decay_start", -0.1, "decay_start must be a number in \\[0, 1\\]"), ("decay_start", 1.5, "decay_start"),
    ("decay_start", True, "decay_start"), ("decay_start", float("nan"), "decay_start"),
])
def test_lookahead_reuse_ramp_and_decay_settings_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(**{field: value})


def test_g_step_on_fakes_made_beforehand_equals_g_step_on_their_noise():
    config = GANConfig(**{**TINY, "arch": "dcgan"})
    G, D = build_gan(config)
    G2 = copy.deepcopy(G)
    opt, opt2 = make_optimizers(G, D, config)["G"], make_optimizers(G2, D, config)["G"]
    _, loss_G_fn = adversarial_losses(config.loss)
    z, z2, G0 = torch.randn(8, G.z_dim), torch.randn(8, G.z_dim), _params(G)
    a = g_step(G, D, opt, z2, loss_G_fn)
    b = g_step(G2, D, opt2, z, loss_G_fn, fake=G2(z2))  # the fakes given, not z, are what G's update sees
    assert all(_changed(G0, G)) and torch.equal(a["loss_G"], b["loss_G"])
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), G2.parameters()))


@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("k", [1, 2])
def test_reuse_fakes_runs_G_once_per_d_step_and_gives_G_the_last_fakes(reuse, k, monkeypatch):
    config = GANConfig(**{**TINY, "num_steps": 2}, k=k, reuse_fakes=reuse)
    run = new_run(_data(), config, device="cpu")
    forwards, given = [], []  # whether each forward of G kept a graph; the fakes g_step was handed
    run.G.register_forward_hook(lambda m, i, o: forwards.append(torch.is_grad_enabled()))
    real_g = gan.g_step
    monkeypatch.setattr(gan, "g_step", lambda *a, **kw: given.append(kw.get("fake")) or real_g(*a, **kw))
    train_gan(_data(), config, device="cpu", progress=False, run=run)
    per_step = [False] * (k - 1) + [True] if reuse else [False] * k + [True]
    assert forwards == per_step * 2
    assert all(f is not None and f.requires_grad for f in given) if reuse else given == [None, None]


def test_the_average_ramps_up_its_memory_with_the_run():
    ema_beta = gan.ema_beta
    fixed, ramped = GANConfig(ema_decay=0.999), GANConfig(ema_decay=0.999, ema_rampup=0.05)
    assert ema_beta(fixed, 1) == ema_beta(fixed, 10_000) == 0.999
    assert ema_beta(ramped, 1) < 1e-5  # the first step: the average is G itself
    assert ema_beta(ramped, 2000) == pytest.approx(0.5 ** (1 / 100))  # half-life 5 % of the steps so far: 100
    assert ema_beta(ramped, 100_000) == 0.999  # the cap
    with pytest.raises(ValueError, match="which is off"):
        GANConfig(ema_decay=0, ema_rampup=0.05)


def test_a_ramped_average_follows_its_betas_and_resumes_exactly(tmp_path, monkeypatch):
    config = GANConfig(**TINY, ema_decay=0.99, ema_rampup=0.5)  # β_t = 0.5^(2/t): below the cap for all 6 steps
    betas = []
    real = gan.get_ema_multi_avg_fn
    monkeypatch.setattr(gan, "get_ema_multi_avg_fn", lambda beta: betas.append(beta) or real(beta))
    straight = train_gan(_data(), config, device="cpu", progress=False)
    expected = [0.5 ** (2 / t) for t in range(1, 7)]
    assert betas[1:] == pytest.approx(expected) and betas[1] == 0.25  # betas[0]: the averager's own, replaced
    train_gan(_data(), dataclasses.replace(config, num_steps=3), device="cpu", checkpoint_dir=tmp_path,
              progress=False)
    betas.clear()
    resumed = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, resume=True, progress=False)
    assert betas[1:] == pytest.approx(expected[3:])  # the ramp goes on from step 4, not from 1
    a, b = straight.G_ema.state_dict(), resumed.G_ema.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _rates_seen(monkeypatch) -> list[tuple[float, float]]:
    """(lr of D's Adam, lr of G's Adam) at each D step and G step of the runs trained after the call."""
    seen, real_d, real_g = [], gan.d_step, gan.g_step
    monkeypatch.setattr(gan, "d_step", lambda D, opt, *a, **kw: seen.append(opt.param_groups[0]["lr"])
                        or real_d(D, opt, *a, **kw))
    monkeypatch.setattr(gan, "g_step", lambda G, D, opt, *a, **kw: seen.append(opt.param_groups[0]["lr"])
                        or real_g(G, D, opt, *a, **kw))
    return seen


def test_decay_start_lowers_both_rates_linearly_to_the_end_and_a_resumed_run_follows_them(tmp_path, monkeypatch):
    config = GANConfig(**TINY, lr_G=4e-4, lr_D=2e-4, decay_start=0.5)  # 6 steps: constant for 3, then falling
    seen = _rates_seen(monkeypatch)
    straight = train_gan(_data(), config, device="cpu", progress=False)
    factors = [1, 1, 1, 1, 2 / 3, 1 / 3]  # step s begins (s − 1)/6 of the way: (1 − progress) / (1 − 0.5)
    assert seen == pytest.approx([r for f in factors for r in (2e-4 * f, 4e-4 * f)])  # D's, then G's, each step
    assert straight.history["lr_factor"] == pytest.approx(factors)
    stop = threading.Event()  # stopped after step 3 (a Stop button), then resumed from its checkpoint
    train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False, stop_event=stop,
              callbacks=[lambda step, history: stop.set()])
    resumed = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, resume=True, progress=False)
    assert resumed.history["lr_factor"] == pytest.approx(factors)
    a, b = straight.G.state_dict(), resumed.G.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    seen.clear()  # continued to 9 steps with constant rates: the config's, not the decayed ones it stopped at
    more = train_gan(_data(), dataclasses.replace(config, num_steps=9, decay_start=1.0), device="cpu",
                     progress=False, run=straight)
    assert seen == [2e-4, 4e-4] * 3 and more.history["step"][-1] == 9 and len(more.history["lr_factor"]) == 6
    fresh = train_gan(_data(), GANConfig(**TINY), device="cpu", progress=False)
    assert "lr_factor" not in fresh.history  # logged only when the rates decay


def test_under_a_time_limit_the_rates_follow_the_clock(monkeypatch):
    clock = [50.0]  # a fake clock: each step takes one second
    limit = TimeLimit(4, clock=lambda: clock[0])
    config = GANConfig(**{**TINY, "num_steps": 10**6, "callback_every": 1}, decay_start=0.5)
    run = train_gan(_data(), config, device="cpu", progress=False, stop_event=limit,
                    callbacks=[lambda step, history: clock.__setitem__(0, clock[0] + 1)])
    # steps begin 0, 1, 2, 3 s into the 4 s: the rates fall over its second half, whatever num_steps says
    assert run.history["step"][-1] == 4 and run.history["lr_factor"] == pytest.approx([1, 1, 1, 0.5])
    with pytest.raises(ValueError, match="each process of a torchrun job at its own step"):  # decay or not
        train_gan(_data(), GANConfig(**TINY), device="cpu", progress=False, stop_event=TimeLimit(4),
                  parallel=object())


def _shift_blind_D():
    """A convolution, batch norm and a linear head: a constant added to every pixel of a batch shifts each channel
    of the convolution's output by a constant, which batch norm over that batch alone removes."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.LeakyReLU(0.2),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 26 * 26, 1))


def test_mixed_batches_let_batch_norm_see_what_separate_batches_hide():
    D, x = _shift_blind_D(), _data(8)
    shifted = x + 0.5  # the "fakes": the real images, brighter
    assert torch.allclose(D(x), D(shifted), atol=1e-4)  # separate batches: D cannot tell them apart
    real_logits, fake_logits = gan.score(D, x, shifted)  # one batch: it can
    assert (real_logits - fake_logits).abs().min() > 1e-2
    assert torch.allclose(torch.cat([real_logits, fake_logits]), D(torch.cat([x, shifted])))  # the halves, in order


@pytest.mark.parametrize("mixed", [False, True])
def test_d_step_and_g_step_score_real_and_fake_in_one_batch_when_mixed(mixed):
    config = GANConfig(**{**TINY, "arch": "dcgan"}, mixed_batches=mixed)
    G, D = build_gan(config)
    opt = make_optimizers(G, D, config)
    loss_D_fn, loss_G_fn = adversarial_losses(config.loss)
    sizes = []
    D.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
    real, z = _data(8), torch.randn(8, G.z_dim)
    D0, G0 = _params(D), _params(G)
    out = d_step(D, opt["D"], real, G(z).detach(), loss_D_fn, mixed=mixed)
    assert sizes == ([16] if mixed else [8, 8]) and any(_changed(D0, D)) and torch.isfinite(out["loss_D"])
    sizes.clear()
    D1 = _params(D)
    g_step(G, D, opt["G"], z, loss_G_fn, real=real if mixed else None)
    assert sizes == ([16] if mixed else [8]) and all(_changed(G0, G)) and not any(_changed(D1, D))


def test_the_generator_loss_of_a_mixed_batch_counts_only_the_fakes():
    config = GANConfig(**{**TINY, "arch": "dcgan"})
    G, D = build_gan(config)
    _, loss_G_fn = adversarial_losses(config.loss)
    real, fake = _data(8), G(torch.randn(8, G.z_dim))
    logits = D(torch.cat([real, fake.detach()])).detach()  # D's weights stay as they are during G's update
    captured = []
    out = g_step(G, D, make_optimizers(G, D, config)["G"], None, lambda a: captured.append(a.detach()) or loss_G_fn(a),
                 fake=fake, real=real)
    assert torch.allclose(captured[0], logits[8:]) and not torch.allclose(captured[0], logits[:8])  # the fake half
    assert torch.equal(out["loss_G"], loss_G_fn(captured[0]))


@pytest.mark.parametrize("k, reuse", [(1, False), (2, False), (1, True)])
def test_mixed_batches_train_from_the_config_and_survive_a_checkpoint(tmp_path, monkeypatch, k, reuse):
    config = GANConfig(**{**TINY, "arch": "dcgan"}, mixed_batches=True, k=k, reuse_fakes=reuse)
    run = new_run(_data(), config, device="cpu")
    sizes, reals = [], []
    run.D.register_forward_hook(lambda m, i, o: sizes.append(len(i[0])))
    real_d, real_g = gan.d_step, gan.g_step
    monkeypatch.setattr(gan, "d_step", lambda D, opt, real, *a, **kw: reals.append(("D", real)) or
                        real_d(D, opt, real, *a, **kw))
    monkeypatch.setattr(gan, "g_step", lambda *a, **kw: reals.append(("G", kw["real"])) or real_g(*a, **kw))
    train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False, run=run)
    assert sizes == [16] * (k + 1) * config.num_steps  # each of D's updates and G's: one batch of real and fake
    assert [who for who, _ in reals] == (["D"] * k + ["G"]) * config.num_steps
    for step in range(config.num_steps):  # G's update scores its fakes beside D's last real batch
        this = reals[step * (k + 1):(step + 1) * (k + 1)]
        assert this[-1][1] is this[-2][1]
    assert load_gan(tmp_path).config.mixed_batches is True
    assert GANConfig().mixed_batches is False and GANConfig.FIELDS_ADDED_LATER["mixed_batches"] is False
    for bad, message in [(dict(mixed_batches=1), "mixed_batches must be True or False"),
                         (dict(mixed_batches=True, minibatch_std=4), "minibatch_std's groups would mix")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)


def test_top_k_gives_gradient_only_to_the_fakes_D_finds_most_realistic():
    """Sinha et al. 2020: G's loss takes the k largest logits, so the other fakes get no gradient."""
    torch.manual_seed(0)
    codes = torch.nn.Parameter(torch.randn(8, 1, 4, 4))  # a "generator" whose fakes are its own parameters
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 1))
    _, loss_G_fn = adversarial_losses("nonsaturating")
    opt = torch.optim.SGD([codes], lr=0.0)  # the gradient stays to be read; nothing moves
    logits = D(codes).detach().flatten()
    best = set(logits.topk(3).indices.tolist())
    out = g_step(None, D, opt, None, loss_G_fn, fake=codes * 1, keep=3)
    touched = {i for i in range(8) if codes.grad[i].abs().sum() > 0}
    assert touched == best  # the three highest-scored fakes, and only they
    assert torch.allclose(out["loss_G"], loss_G_fn(logits.topk(3).values.unsqueeze(1)))
    g_step(None, D, opt, None, loss_G_fn, fake=codes * 1)  # keep=None: every fake counts
    assert all(codes.grad[i].abs().sum() > 0 for i in range(8))


def test_top_k_count_falls_by_gamma_each_epoch_down_to_nu():
    # 100 images, batch 10: an epoch is 10 G updates, steps 1-10, 11-20, ...
    counts = [gan.top_k_count(step, 10, 100, 0.5, 0.9) for step in (1, 10, 11, 20, 21, 31, 61, 501)]
    assert counts == [10, 10, 9, 9, 8, 7, 5, 5]  # 10 · 0.9^e, floored at ν · B = 5
    assert gan.top_k_count(1000, 32, 100, 0.01, 0.5) == 1  # never below one fake
    assert gan.top_k_count(1, 32, 100, 0.5, 0.99, local_batch_size=16) == 16  # a torchrun process: its own share
    assert gan.top_k_count(10_000, 32, 100, 0.5, 0.99, local_batch_size=16) == 8
    assert gan.top_k_count(10_000, 100, 100, 0.57, 0.5) == 57  # 100 · 0.57 is 56.99999… in floating point
    assert gan.top_k_count(5, 32, 128, 0.5, 0.99, local_batch_size=8) == 8  # k = 31 of 32: 7.75 of 8 rounds to 8


def test_a_resumed_top_k_run_goes_on_with_the_k_of_its_steps(tmp_path, monkeypatch):
    config = GANConfig(**{**TINY, "num_steps": 8}, top_k=0.25, top_k_decay=0.9)
    kept = []
    real_g = gan.g_step
    monkeypatch.setattr(gan, "g_step", lambda *a, **kw: kept.append(kw["keep"]) or real_g(*a, **kw))
    train_gan(_data(16), dataclasses.replace(config, num_steps=4), device="cpu", checkpoint_dir=tmp_path,
              progress=False)
    train_gan(_data(16), config, device="cpu", checkpoint_dir=tmp_path, resume=True, progress=False)
    assert kept == [8, 8, 7, 7, 6, 6, 5, 5]  # an epoch is 2 G updates: 8 · 0.9^e rounded down, as if uninterrupted


def test_top_k_trains_from_the_config_logs_k_and_survives_a_checkpoint(tmp_path, monkeypatch):
    config = GANConfig(**{**TINY, "num_steps": 8}, top_k=0.5, top_k_decay=0.5)
    kept = []
    real_g = gan.g_step
    monkeypatch.setattr(gan, "g_step", lambda *a, **kw: kept.append(kw["keep"]) or real_g(*a, **kw))
    run = train_gan(_data(16), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    # 16 images, batch 8: an epoch is 2 G updates, k = 8 · 0.5^epoch floored at 4
    assert kept == [8, 8, 4, 4, 4, 4, 4, 4]
    assert [float(v) for v in run.history["top_k"]] == [k / 8 for k in kept]
    assert load_gan(tmp_path).config.top_k == 0.5
    kept.clear()
    train_gan(_data(16), GANConfig(**TINY), device="cpu", progress=False)
    assert kept == [None] * TINY["num_steps"]  # off by default: G's loss sees every fake
    assert GANConfig().top_k == 1 and GANConfig.FIELDS_ADDED_LATER["top_k"] == 1
    for bad, message in [(dict(top_k=0), "top_k must be a number in"), (dict(top_k=1.5), "top_k must be"),
                         (dict(top_k_decay=0), "top_k_decay must be"), (dict(top_k="half"), "top_k must be"),
                         (dict(top_k=True), "top_k must be")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)


@pytest.mark.parametrize("pool_size", [0, 6])
def test_D_sees_a_history_of_fakes_only_with_a_pool(pool_size, monkeypatch):
    config = GANConfig(**{**TINY, "num_steps": 8, "batch_size": 4}, pool_size=pool_size)
    run = new_run(_data(), config, device="cpu")
    made, seen = [], []  # the fakes G made for D's update at each step; those D was shown

    def keep_if_for_D(module, inputs, output):  # G's own update runs G with a graph, D's without
        if not torch.is_grad_enabled():
            made.append(output.clone())

    run.G.register_forward_hook(keep_if_for_D)
    real_d = gan.d_step
    monkeypatch.setattr(gan, "d_step", lambda D, opt, real, fake, *a, **kw: seen.append(fake.clone())
                        or real_d(D, opt, real, fake, *a, **kw))
    train_gan(_data(), config, device="cpu", progress=False, run=run)
    assert len(made) == len(seen) == 8

    def row_in(row, batches):
        return any(torch.equal(row, other) for batch in batches for other in batch)

    older = [sum(not row_in(row, made[t:t + 1]) for row in seen[t]) for t in range(8)]
    assert all(row_in(row, made[:t + 1]) for t in range(8) for row in seen[t])  # every fake D saw was made by now
    if pool_size:
        assert older[:1] == [0] and sum(older[2:]) > 0  # the first batch fills the pool; later, older fakes return
    else:
        assert older == [0] * 8 and all(torch.equal(a, b) for a, b in zip(made, seen))


@pytest.mark.parametrize("value", [-1, True, 2.5, "50"])
def test_pool_size_must_be_a_whole_number(value):
    with pytest.raises(ValueError, match="pool_size must be a whole number ≥ 0"):
        GANConfig(pool_size=value)


def test_a_second_train_gan_call_goes_on_with_the_pool_of_the_first():
    config = GANConfig(**{**TINY, "arch": "dcgan", "num_steps": 2, "batch_size": 4}, pool_size=6, reuse_fakes=True)
    run = train_gan(_data(), config, device="cpu", progress=False)
    pool, stored = run.pool, [image.clone() for image in run.pool.images]
    assert len({image.untyped_storage().data_ptr() for image in pool.images}) == 6  # copies, not views of a batch
    train_gan(_data(), dataclasses.replace(config, num_steps=4), device="cpu", progress=False, run=run)
    assert run.pool is pool and len(pool.images) == 6
    assert any(not torch.equal(a, b) for a, b in zip(stored, pool.images))  # the history moved on


def test_self_attention_trains_and_survives_a_checkpoint(tmp_path):
    config = GANConfig(**{**TINY, "arch": "dcgan", "width": 8, "self_attention_G": True, "self_attention_D": True})
    run = train_gan(_data(), config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    gammas = [m.gamma.item() for m in (*run.G.modules(), *run.D.modules()) if hasattr(m, "gamma")]
    assert len(gammas) == 2 and all(g != 0 for g in gammas)  # both layers trained off the identity
    loaded = load_gan(tmp_path)
    assert torch.equal(loaded.sample(4, seed=1), run.sample(4, seed=1))
