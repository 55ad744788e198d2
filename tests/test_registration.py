"""Adversarial registration: the rigid resampler, the parameter errors, the step functions and the cache."""

import math

import pytest
import torch

from gan_lab.models.registration import RigidRegressor, invert_rigid, random_rigid, rigid_matrix, warp
from gan_lab.train import registration as reg


def _image(size=6, seed=0):
    return torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_rigid_matrix_by_hand():
    A = rigid_matrix(torch.tensor([[0.0, 0.0, 0.0], [90.0, 2.0, 0.0]]), size=8)
    assert torch.allclose(A[0], torch.tensor([[1.0, 0, 0], [0, 1, 0]]))
    # 90°: R⁻¹ = [[0, −1], [1, 0]]; a shift of 2 px on 8 px is 0.5 in normalised units; −R⁻¹ t = (0, −0.5)
    assert torch.allclose(A[1], torch.tensor([[0.0, -1, 0], [1, 0, -0.5]]), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        rigid_matrix(torch.zeros(3), 8)


def test_identity_gives_the_input_back():
    x = _image()
    assert torch.allclose(warp(x, torch.zeros(2, 3)), x, atol=1e-5)


@pytest.mark.parametrize("angle, k", [(90.0, 1), (-90.0, -1), (180.0, 2)])
def test_quarter_turns_equal_rot90(angle, k):
    x = _image()
    assert torch.allclose(warp(x, torch.tensor([[angle, 0.0, 0.0]] * 2)), torch.rot90(x, k, (-2, -1)), atol=1e-5)


def test_translation_shifts_right_and_down_and_pads_black():
    x = _image()
    right = warp(x, torch.tensor([[0.0, 1.0, 0.0]] * 2))
    assert torch.allclose(right[..., 1:], x[..., :-1], atol=1e-5)
    assert torch.allclose(right[..., 0], torch.full_like(right[..., 0], -1.0))
    down = warp(x, torch.tensor([[0.0, 0.0, 2.0]] * 2))
    assert torch.allclose(down[..., 2:, :], x[..., :-2, :], atol=1e-5)


def test_inverse_parameters_compose_to_the_identity():
    p = random_rigid(5, generator=torch.Generator().manual_seed(1))
    assert p[:, 0].abs().max() <= 25 and p[:, 1:].abs().max() <= 4
    A, B = rigid_matrix(p, 28), rigid_matrix(invert_rigid(p), 28)
    homogeneous = lambda M: torch.cat([M, torch.tensor([[[0.0, 0, 1]]]).expand(len(M), 1, 3)], 1)  # noqa: E731
    assert torch.allclose(homogeneous(A) @ homogeneous(B), torch.eye(3).expand(5, 3, 3), atol=1e-5)


def test_warp_is_differentiable_in_the_parameters():
    x = torch.zeros(1, 1, 16, 16) - 1
    x[..., 4:9, 6:12] = 1  # an off-centre block: turning it changes the image
    p = torch.tensor([[10.0, 1.0, -1.0]], requires_grad=True)
    warp(x, p).sum().backward()
    assert torch.isfinite(p.grad).all() and (p.grad.abs() > 0).all()


def test_parameter_errors():
    p_true = torch.tensor([[10.0, 3.0, 4.0], [-5.0, 0.0, 0.0]])
    errors = reg.parameter_errors(torch.zeros(2, 3), p_true)
    assert errors["angle_deg"] == pytest.approx(7.5) and errors["shift_px"] == pytest.approx(2.5)


def test_misaligned_pairs_are_undone_by_the_true_parameters():
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    blob = torch.exp(-((xs - 6) ** 2 / 8 + (ys - 8) ** 2 / 3))  # smooth, so interpolation loses little
    aligned = (2 * blob - 1).expand(4, 1, 16, 16)
    moving, p_true = reg.misaligned_pairs(aligned, aligned, 20, 2, torch.Generator().manual_seed(0))
    before = (moving - aligned).abs().mean()
    after = (warp(moving, p_true) - aligned).abs().mean()
    assert after < 0.3 * before


def _config(**kw):
    return reg.RegistrationConfig(width=4, d_width=4, batch_size=4, num_steps=2, log_every=1, **kw)


def test_steps_update_the_right_networks():
    config = _config()
    G, D = reg.build_registration(config, 16)
    assert isinstance(G, RigidRegressor) and G(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16)).shape == (2, 3)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    fixed = _image(16).repeat(2, 1, 1, 1)
    moving, p_true = reg.misaligned_pairs(fixed, fixed, 25, 4, torch.Generator().manual_seed(0))
    from gan_lab.losses import discriminator_loss, generator_loss_nonsaturating
    G_before, D_before = [p.clone() for p in G.parameters()], [p.clone() for p in D.parameters()]
    with torch.no_grad():
        p_hat = G(fixed, moving)
    out = reg.d_step(D, opt_D, fixed, moving, p_true, p_hat, discriminator_loss)
    assert {"loss_D", "D(real)", "D(fake)"} == set(out)
    assert all(torch.equal(a, b) for a, b in zip(G_before, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(D_before, D.parameters()))
    D_before = [p.clone() for p in D.parameters()]
    out = reg.g_step(G, D, opt_G, fixed, moving, p_true, config, generator_loss_nonsaturating)
    assert all(torch.equal(a, b) for a, b in zip(D_before, D.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(G_before, G.parameters()))
    assert {"loss_G", "loss_param", "loss_image", "loss_adv"} <= set(out)


def test_config_rejects_the_adversarial_term_alone():
    with pytest.raises(ValueError, match="lambda_param"):
        reg.RegistrationConfig(lambda_param=0, lambda_image=0)
    assert reg.build_registration(_config(lambda_adv=0), 16)[1] is None


def test_checkpoint_round_trip(tmp_path):
    fixed = _image(16).repeat(3, 1, 1, 1)
    config = _config()
    run = reg.load_or_train_registration(tmp_path, fixed, fixed, config, device="cpu", progress=False)
    assert set(run.history) >= {"loss_D", "loss_G"} and run.history["step"][-1] == 2
    again = reg.load_or_train_registration(tmp_path, fixed, fixed, config, device="cpu", progress=False)
    moving = warp(fixed, torch.tensor([[5.0, 1.0, 0.0]] * 6))
    assert torch.allclose(run.predict(fixed, moving), again.predict(fixed, moving), atol=1e-6)
    assert math.isclose(again.history["loss_G"][-1], run.history["loss_G"][-1])
    assert again.config == config and again.D is not None


def test_stop_event_ends_training_after_the_current_step():
    import threading

    fixed = _image(16).repeat(3, 1, 1, 1)
    stop = threading.Event()
    config = reg.RegistrationConfig(width=4, d_width=4, batch_size=4, num_steps=5, log_every=1, callback_every=2)
    run = reg.train_registration(fixed, fixed, config, device="cpu", progress=False, stop_event=stop,
                                 callbacks=[lambda step, history: stop.set()])
    assert run.history["step"] == [1, 2]
