"""Notebook 10's exercise checks accept the right answers and reject typical wrong ones."""

import math

import torch

from gan_lab.exercises import applications as ex


def _reinhard(lab, mean, std):
    flat = lab.flatten(2)
    return (lab - flat.mean(2)[..., None, None]) / flat.std(2)[..., None, None] * std.view(1, 3, 1, 1) \
        + mean.view(1, 3, 1, 1)


def _rigid(angle, tx, ty, size):
    a = math.radians(angle)
    R_inv = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    t = torch.tensor([tx, ty]) * 2 / size
    return torch.cat([R_inv, -(R_inv @ t)[:, None]], 1)


def test_right_answers_pass():
    assert ex.check_reinhard(_reinhard)
    assert ex.check_rigid_matrix(_rigid)
    assert ex.check_rician(lambda x, s, n1, n2: torch.sqrt((x + s * n1) ** 2 + (s * n2) ** 2))
    assert ex.check_rician_bias(0.1 * math.sqrt(math.pi / 2))


def test_wrong_answers_fail():
    assert not ex.check_reinhard(lambda lab, m, s: lab - lab.mean() + m.view(1, 3, 1, 1))  # pooled, no std
    assert not ex.check_rigid_matrix(lambda a, tx, ty, size: _rigid(-a, tx, ty, size))  # R instead of R⁻¹
    assert not ex.check_rigid_matrix(lambda a, tx, ty, size: _rigid(a, tx / 2, ty / 2, size))  # shift in wrong units
    assert not ex.check_rician(lambda x, s, n1, n2: x + s * n1)  # Gaussian
    assert not ex.check_rician_bias(0.0)
    assert not ex.check_rician(lambda *args: (_ for _ in ()).throw(NotImplementedError()))
