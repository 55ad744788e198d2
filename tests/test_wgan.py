"""WGAN / WGAN-GP: the gradient penalty's two subtle details, clipping, which step moves which network."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import checkpoints
from gan_lab.losses import gradient_penalty
from gan_lab.models.mlp import MLPDiscriminator, MLPGenerator
from gan_lab.train import wgan


class LinearCritic(nn.Module):
    """C(x) = ⟨w, x⟩ over all pixels: ∇_x C = w everywhere, so its Lipschitz constant is exactly ‖w‖."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w.flatten()


class HalfSquaredNorm(nn.Module):
    """C(x) = ½‖x‖²: ∇_x C = x, so the gradient norm at x̂ is ‖x̂‖ (it depends on the mix)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * x.flatten(1).pow(2).sum(1)


def _images(b=6, seed=0):
    return torch.randn(b, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic_and_positive_otherwise():
    real, fake = _images(seed=1), _images(seed=2)
    w = torch.randn(1, 8, 8)
    unit = LinearCritic(w / w.norm())
    assert gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    for scale, expected in [(2.0, 1.0), (0.5, 0.25)]:  # (‖∇C‖ − 1)² = (scale − 1)²
        critic = LinearCritic(scale * w / w.norm())
        assert gradient_penalty(critic, real, fake).item() == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_mixes_with_one_epsilon_per_sample():
    torch.manual_seed(0)
    critic = HalfSquaredNorm()
    real, fake = torch.ones(64, 1, 8, 8), torch.zeros(64, 1, 8, 8)
    gp = gradient_penalty(critic, real, fake)
    (x_hat,) = critic.seen  # x̂ = ε·1 + (1 − ε)·0 = ε
    per_sample = x_hat.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample)), "ε varies inside one sample"
    eps = per_sample[:, 0]
    assert eps.std() > 0.15 and eps.min() >= 0 and eps.max() <= 1, "ε should be U[0, 1], drawn per sample"
    # ‖∇C(x̂)‖ = ‖x̂‖ = ε·8 per sample: the penalty follows from those ε exactly
    assert gp.item() == pytest.approx(((8 * eps - 1) ** 2).mean().item(), rel=1e-5)


def test_gradient_penalty_takes_each_samples_norm_over_all_of_c_h_w(monkeypatch):
    # real == fake pins x̂ whatever ε is; samples get gradients of very different norms
    scales = torch.tensor([0.05, 0.1, 0.5, 1.0]).view(4, 1, 1, 1)
    x = scales * torch.ones(4, 2, 4, 4)  # ‖∇C(x)‖ = ‖x‖ = scale·√32
    expected = ((scales.flatten() * math.sqrt(32) - 1) ** 2).mean()
    assert gradient_penalty(HalfSquaredNorm(), x, x.clone()).item() == pytest.approx(expected.item(), rel=1e-5)
    calls = []
    real_rand = torch.rand
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: calls.append(shape) or real_rand(*shape, **kw))
    gradient_penalty(HalfSquaredNorm(), x, x.clone())
    assert calls == [(4, 1, 1, 1)], f"ε should have shape (B, 1, 1, 1); torch.rand was called with {calls}"


def test_gradient_penalty_is_differentiable_in_the_critic_weights():
    w = torch.full((1, 8, 8), 0.5)  # ‖w‖ = 4, far from 1
    critic = LinearCritic(w)
    gradient_penalty(critic, _images(seed=1), _images(seed=2)).backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1)·w/‖w‖ = 1.5·w
    assert torch.allclose(critic.w.grad, 1.5 * w, atol=1e-5)


def test_critic_gradient_norms_at_interpolates_equal_the_linear_critics_weight_norm():
    w = 3 * torch.ones(1, 8, 8) / 8
    x_hat = wgan.interpolates(_images(seed=1), _images(seed=2))
    assert torch.allclose(wgan.critic_gradient_norms(LinearCritic(w), x_hat), torch.full((6,), 3.0), atol=1e-5)


def _toy_pair(seed=0):
    torch.manual_seed(seed)
    G = MLPGenerator(z_dim=2, out_shape=(2,), width=16, depth=1, out_activation="none")
    C = MLPDiscriminator(in_shape=(2,), width=16)
    return G, C


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(module, before):
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before))


def _mean_score_with(C, params, x):
    """The mean score E[C(x)] of C with its earlier ``params``."""
    saved = _snapshot(C)
    with torch.no_grad():
        for p, q in zip(C.parameters(), params):
            p.copy_(q)
        score = C(x).mean()
        for p, q in zip(C.parameters(), saved):
            p.copy_(q)
    return score


@pytest.mark.parametrize("mode", ["clip", "gp"])
def test_critic_step_moves_only_C_and_generator_step_moves_only_G(mode):
    G, C = _toy_pair()
    opt = wgan.make_optimizers(G, C, wgan.WGANConfig(mode=mode, lr=1e-2))
    real, z = torch.randn(32, 2), torch.randn(32, 2)
    g0, c0 = _snapshot(G), _snapshot(C)
    with torch.no_grad():
        fake = G(z)
    constraint = {"clip_value": 0.5} if mode == "clip" else {"lambda_gp": 10.0}
    out = wgan.c_step(C, opt["C"], real, fake, **constraint)
    assert ("gp" in out) == (mode == "gp") and all(not v.requires_grad for v in out.values())
    assert _changed(C, c0) and not _changed(G, g0)
    w_before = _mean_score_with(C, c0, real) - _mean_score_with(C, c0, fake)  # measured before the update
    assert out["W_estimate"].item() == pytest.approx(w_before.item(), rel=1e-4)
    g1, c1 = _snapshot(G), _snapshot(C)
    C.zero_grad(set_to_none=True)
    assert set(wgan.g_step(G, C, opt["G"], z)) == {"loss_G"}
    assert _changed(G, g1) and not _changed(C, c1)
    assert all(p.grad is None for p in C.parameters()), "C is frozen during G's update: no gradient is computed"


def test_weight_clipping_keeps_every_critic_weight_within_c():
    G, C = _toy_pair()
    opt = torch.optim.RMSprop(C.parameters(), lr=0.1)  # steps far larger than c: clipping must act
    c = 0.05
    for _ in range(5):
        with torch.no_grad():
            fake = G(torch.randn(32, 2))
        wgan.c_step(C, opt, torch.randn(32, 2) + 3, fake, clip_value=c)
        w = wgan.critic_weights(C)
        assert w.abs().max() <= c
    assert (w.abs() == c).float().mean() > 0.5, "most weights should sit at ±c after large steps"


def test_wgan_gp_critic_estimates_the_wasserstein_distance_of_two_shifted_blobs():
    torch.manual_seed(0)
    G = MLPGenerator(z_dim=2, out_shape=(2,), depth=0, out_activation="none")  # G(z) = 0.1·z + (−2, 0)
    with torch.no_grad():
        G.net[0].weight.copy_(0.1 * torch.eye(2))
        G.net[0].bias.copy_(torch.tensor([-2.0, 0.0]))
    C = MLPDiscriminator(in_shape=(2,), width=64)
    opt = torch.optim.Adam(C.parameters(), 1e-3, betas=(0.0, 0.9))
    for _ in range(300):
        real = 0.1 * torch.randn(128, 2) + torch.tensor([2.0, 0.0])
        wgan.c_step(C, opt, real, G(torch.randn(128, 2)).detach(), lambda_gp=10.0)
    real, fake = 0.1 * torch.randn(2048, 2) + torch.tensor([2.0, 0.0]), G(torch.randn(2048, 2)).detach()
    w_estimate = (C(real).mean() - C(fake).mean()).item()
    slope = wgan.critic_gradient_norms(C, wgan.interpolates(real, fake)).mean().item()
    # W1 = 4 (a pure shift). The soft penalty trades W·k against λ(k − 1)², so the critic's slope k
    # settles a little above 1 (k* = 1 + W/(2λ) = 1.2) and the estimate is ≈ 4·k.
    assert 1.0 < slope < 1.35
    assert w_estimate == pytest.approx(4 * slope, rel=0.05)


def test_config_picks_each_papers_optimiser_and_rejects_bad_input():
    G, C = _toy_pair()
    clip = wgan.make_optimizers(G, C, wgan.WGANConfig(mode="clip"))
    gp = wgan.make_optimizers(G, C, wgan.WGANConfig(mode="gp"))
    assert isinstance(clip["C"], torch.optim.RMSprop) and clip["C"].defaults["lr"] == 5e-5
    assert isinstance(gp["C"], torch.optim.Adam) and gp["C"].defaults["lr"] == 1e-4
    assert gp["C"].defaults["betas"] == (0.0, 0.9)
    assert wgan.WGANConfig(mode="gp", lr=3e-4).lr == 3e-4
    with pytest.raises(ValueError, match="clip"):
        wgan.WGANConfig(mode="wgan")
    with pytest.raises(ValueError, match="n_critic"):
        wgan.WGANConfig(n_critic=0)


def test_dcgan_critic_has_no_batch_norm():
    _, C = wgan.build_wgan(wgan.WGANConfig(width=8))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in C.modules())


def test_train_wgan_logs_the_estimate_and_gradient_norms_and_checkpoints(tmp_path):
    x = torch.rand(32, 1, 28, 28) * 2 - 1
    config = wgan.WGANConfig(mode="gp", width=4, z_dim=8, batch_size=8, num_steps=4, n_critic=2, log_every=2)
    run = wgan.train_wgan(x, config, device="cpu", checkpoint_dir=tmp_path, progress=False)
    assert run.history["step"] == [2, 4]
    for key in ("loss_C", "loss_G", "W_estimate", "gp", "grad_norm_mean", "grad_norm_std"):
        assert len(run.history[key]) == 2 and all(math.isfinite(v) for v in run.history[key])
    ckpt = checkpoints.load_checkpoint(tmp_path, device="cpu")
    assert ckpt.step == 4 and ckpt.config["wgan"]["lr"] == 1e-4
    assert torch.equal(ckpt.models["C"].head.weight, run.C.head.weight.cpu())
    assert run.sample(5).shape == (5, 1, 28, 28)
    with pytest.raises(ValueError, match="N, C, H, W"):
        wgan.train_wgan(torch.zeros(4, 28, 28), config, device="cpu", progress=False)


def test_load_or_train_wgan_reuses_a_matching_checkpoint_and_retrains_a_different_one(tmp_path, capsys):
    x = torch.rand(16, 1, 28, 28) * 2 - 1
    config = wgan.WGANConfig(mode="clip", width=4, z_dim=8, batch_size=8, num_steps=2, n_critic=1, log_every=1)
    first = wgan.load_or_train_wgan(tmp_path, x, config, device="cpu", progress=False)
    again = wgan.load_or_train_wgan(tmp_path, x, config, device="cpu", progress=False)
    assert "no training needed" in capsys.readouterr().out
    assert torch.equal(again.C.head.weight, first.C.head.weight) and again.history == first.history
    other = wgan.load_or_train_wgan(tmp_path, x, dataclasses.replace(config, clip_value=0.02),
                                    device="cpu", progress=False)
    assert "wgan.clip_value: 0.01 → 0.02" in capsys.readouterr().out
    assert wgan.critic_weights(other.C).abs().max() <= 0.02


def test_train_wgan_stops_when_the_stop_event_is_set_and_load_or_train_passes_it_on(tmp_path):
    import threading

    x = torch.rand(16, 1, 28, 28) * 2 - 1
    config = wgan.WGANConfig(width=4, z_dim=8, batch_size=8, num_steps=50, n_critic=1, log_every=1)
    stop = threading.Event()
    stop.set()
    run = wgan.load_or_train_wgan(tmp_path, x, config, device="cpu", progress=False, stop_event=stop)
    assert len(run.history["step"]) < 50


def _penalty(per_pixel_eps=False, batch_norm=False):
    """A reference penalty, or one with one of the two classic bugs."""
    def gp(C, real, fake):
        eps = torch.rand(real.shape if per_pixel_eps else (real.shape[0], 1, 1, 1))
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(C(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.norm() if batch_norm else grad.flatten(1).norm(dim=1)
        return ((norm - 1) ** 2).mean()
    return gp


def test_exercise_checks_accept_right_answers_and_catch_the_classic_bugs(capsys):
    from gan_lab.exercises import wgan as ex

    assert ex.check_gradient_penalty(gradient_penalty)
    assert ex.check_gradient_penalty(_penalty())
    assert not ex.check_gradient_penalty(_penalty(per_pixel_eps=True))
    assert "ε differs between pixels" in capsys.readouterr().out
    assert not ex.check_gradient_penalty(_penalty(batch_norm=True))
    assert "per-sample norms over C, H, W" in capsys.readouterr().out
    assert ex.check_clip_weights(wgan.clip_weights_)
    assert not ex.check_clip_weights(lambda C, c: [p.data.clamp_(0, c) for p in C.parameters()])
    assert ex.check_critic_loss(lambda r, f: f.mean() - r.mean())
    assert not ex.check_critic_loss(lambda r, f: r.mean() - f.mean())
    assert ex.check_w1_1d(lambda a, b: np.abs(np.sort(a) - np.sort(b)).mean())
    assert not ex.check_w1_1d(lambda a, b: abs(a.mean() - b.mean()))  # right only for pure shifts
    assert ex.check_jsd_disjoint(math.log(2)) and not ex.check_jsd_disjoint(0.0)

    def stub(critic, real, fake):
        raise NotImplementedError
    assert "not implemented" in str(ex.check_gradient_penalty(stub))
