"""The notebook-02 checks accept right answers, reject wrong ones with a hint, and never raise."""

import inspect
import math

import torch
import torch.nn.functional as F

from gan_lab.exercises import gan as ex


def test_discriminator_loss_check():
    assert ex.check_discriminator_loss(lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean())
    naive = lambda r, f: -(torch.log(torch.sigmoid(r)) + torch.log(1 - torch.sigmoid(f))).mean()  # noqa: E731
    assert not ex.check_discriminator_loss(naive)  # log(0) = −inf where D is sure
    assert not ex.check_discriminator_loss(lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean())


def test_equilibrium_check():
    assert ex.check_equilibrium_loss(2 * math.log(2))
    assert not ex.check_equilibrium_loss(math.log(2))
    assert not ex.check_equilibrium_loss(...)


def test_equilibrium_generator_loss_check(capsys):
    assert ex.check_equilibrium_generator_loss(math.log(2))
    assert ex.check_equilibrium_generator_loss(-torch.log(torch.tensor(0.5)).item())
    assert not ex.check_equilibrium_generator_loss(2 * math.log(2))  # that is L_D
    assert not ex.check_equilibrium_generator_loss(...)
    out = capsys.readouterr().out
    assert out.count(": correct.") == 2 and out.count("Hint:") == 2


def test_conv_transpose_size_check(capsys):
    assert ex.check_conv_transpose_size(lambda n, k, s, p: (n - 1) * s - 2 * p + k)
    assert not ex.check_conv_transpose_size(lambda n, k, s, p: n * s)
    assert "Hint" in capsys.readouterr().out


def test_slerp_check_and_not_implemented(capsys):
    lerp = lambda a, b, t: (1 - t) * a + t * b  # noqa: E731
    assert not ex.check_slerp(lerp)

    def todo(a, b, t):
        raise NotImplementedError

    assert not ex.check_slerp(todo)
    assert "not implemented yet" in capsys.readouterr().out


def test_ema_weight_accepts_beta_to_the_n_only():
    from gan_lab.exercises import gan as ex

    assert ex.check_ema_weight(0.995 ** 100) and ex.check_ema_weight(0.606)
    assert not ex.check_ema_weight(0.99 ** 100) and not ex.check_ema_weight(0.995 ** 100 * 0.005)
    assert ex.check_ema_weight(0.99 ** 100, decay=0.99)
    # exercise 6 asks about the default average: its checker (and its explanation) must follow the default
    from gan_lab.train.gan import GANConfig

    assert inspect.signature(ex.check_ema_weight).parameters["decay"].default == GANConfig.ema_decay
