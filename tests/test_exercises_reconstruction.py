"""The notebook-08 exercise checks accept right answers and reject typical wrong ones."""

import torch

from gan_lab.data.kspace import fft2c, ifft2c
from gan_lab.exercises.reconstruction import (
    check_frequency_mse,
    check_parseval,
    check_total_variation,
    check_zero_filled,
)


def test_zero_filled_check():
    assert check_zero_filled(lambda x, mask: ifft2c(mask * fft2c(x)).real)
    assert not check_zero_filled(  # uncentred FFT: the mask keeps the wrong lines
        lambda x, mask: torch.fft.ifft2(mask * torch.fft.fft2(x, norm="ortho"), norm="ortho").real)
    assert not check_zero_filled(lambda x, mask: ifft2c(mask * fft2c(x)).abs())  # magnitude, not real part


def test_frequency_mse_check():
    assert check_frequency_mse(lambda a, b: (fft2c(a).abs() - fft2c(b).abs()).square().mean())
    assert not check_frequency_mse(lambda a, b: (fft2c(a) - fft2c(b)).abs().square().mean())  # = image MSE
    assert not check_frequency_mse(lambda a, b: (fft2c(a).abs() - fft2c(b).abs()).abs().mean())  # L1


def test_total_variation_check():
    def right(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()

    assert check_total_variation(right)
    assert not check_total_variation(lambda x: (x[..., 1:, :] - x[..., :-1, :]).abs().mean())  # one direction
    assert not check_total_variation(  # squared differences
        lambda x: (x[..., 1:, :] - x[..., :-1, :]).square().mean() + (x[..., :, 1:] - x[..., :, :-1]).square().mean())


def test_parseval_check():
    assert check_parseval(0.02 * 28 * 28)
    assert not check_parseval(0.02)  # the orthonormal FFT's answer; the exercise asks for the unnormalised one
    assert not check_parseval(...)


def test_dealias_prediction_check():
    from gan_lab.exercises.reconstruction import check_dealias_prediction

    assert check_dealias_prediction("(b)")
    wrong = check_dealias_prediction("d")
    assert not wrong and "Parseval" in str(wrong)
    assert not check_dealias_prediction("a") and "monotone" in str(check_dealias_prediction("a"))
