"""Checks for the reconstruction notebook's exercises (08): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> from gan_lab.data.kspace import fft2c, ifft2c
    >>> check_zero_filled(lambda x, mask: ifft2c(mask * fft2c(x)).real)  # doctest: +SKIP
    ✓ zero-filled reconstruction: correct.
"""

from __future__ import annotations

import torch

from ..data.kspace import cartesian_mask, undersample
from ..losses.reconstruction import frequency_mse, total_variation
from .core import Feedback, check_choice, check_function, check_value


def _images(seed: int, n: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def check_zero_filled(fn) -> Feedback:
    """``fn(x, mask)`` must return x_zf = Re F⁻¹ (M ⊙ F x) for images (N, 1, H, W) and a centred mask (H, W)."""
    cases = [((x, mask), undersample(x, mask)) for x, mask in (
        (_images(0), cartesian_mask(16, 0.3, seed=0)),
        (_images(1, size=12), cartesian_mask(12, 0.5, seed=1)),
        (_images(2), torch.ones(16, 16)))]
    return check_function("zero-filled reconstruction", fn, cases, atol=1e-5,
                          hint="transform with fft2c (the centred FFT: k = 0 in the middle, where the mask keeps "
                               "its central lines), multiply by the mask, transform back with ifft2c and keep the "
                               ".real part. A plain torch.fft.fft2 puts k = 0 in the corner, so the mask would "
                               "keep the wrong lines.")


def check_frequency_mse(fn) -> Feedback:
    """``fn(fake, real)`` must return mean ( |F fake| − |F real| )² over every frequency (DAGAN's L_fMSE)."""
    cases = [((_images(s), _images(s + 10)), frequency_mse(_images(s), _images(s + 10))) for s in range(2)]
    shifted = torch.roll(_images(5), 3, dims=-1)  # same amplitude spectrum, different phase: loss 0
    cases.append(((shifted, _images(5)), frequency_mse(shifted, _images(5))))
    return check_function("frequency-domain MSE", fn, cases, atol=1e-6,
                          hint="take the amplitude of each spectrum first, fft2c(x).abs(), then the mean squared "
                               "difference. Subtracting the complex spectra gives the image MSE again (Parseval), "
                               "and a circularly shifted image must cost nothing.")


def check_total_variation(fn) -> Feedback:
    """``fn(x)`` must return mean |vertical differences| + mean |horizontal differences| of x (B, C, H, W)."""
    ramp = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(2, 1, 5, 8)  # only horizontal changes
    cases = [((x,), total_variation(x)) for x in (_images(0), _images(1, n=2, size=9), ramp)]
    return check_function("total variation", fn, cases, atol=1e-6,
                          hint="x[..., 1:, :] − x[..., :-1, :] are the vertical neighbour differences, "
                               "x[..., :, 1:] − x[..., :, :-1] the horizontal ones; average the absolute values of "
                               "each kind separately, then add the two means.")


def check_parseval(answer) -> Feedback:
    """Image MSE 0.02 between two 28×28 images: the MSE of their complex spectra under the *unnormalised* FFT.

    DAGAN's official code uses TensorFlow's ``fft2d``, the convention of ``torch.fft.fft2(norm="backward")``: no
    factor on the forward transform, so ‖F a − F b‖² = H·W · ‖a − b‖² and the mean over the H·W frequencies is
    H·W times the image MSE: 784 · 0.02 = 15.68.
    """
    return check_value("Parseval", answer, 0.02 * 28 * 28,
                       hint="an orthonormal Fourier transform (fft2c) is a rotation of the space of images: it keeps "
                            "lengths, so there the two MSEs are equal. The unnormalised FFT is √(H·W) times the "
                            "orthonormal one, so every squared difference grows by H·W = 28·28.",
                       why="for the orthonormal fft2c the answer would be 0.02 itself: the complex-spectrum MSE is "
                           "the image MSE, up to the FFT's constant.")


def check_dealias_prediction(answer) -> Feedback:
    """Before section 3's table: which de-aliasing network wins on PSNR and which on sharpness. A letter, a–d.

    (a) DAGAN wins both: its extra frequency and adversarial terms only add information.
    (b) The MSE-only U-Net scores the higher (or equal) PSNR; DAGAN's images are the sharper, closer to the
        target's sharpness.
    (c) The MSE-only U-Net wins both: the adversarial term only adds artefacts.
    (d) They tie on both: the frequency term is the MSE again (Parseval), and λ_adv = 0.01 is too small to matter.
    """
    hints = {
        "a": "PSNR is a monotone function of the MSE. Which of the two networks is trained to minimise the "
             "MSE and nothing else?",
        "c": "the MSE-optimal output is the average of all images that fit the measured lines. Is an average of "
             "images with different fine detail sharp?",
        "d": "neither half holds: gan_lab's frequency term compares AMPLITUDE spectra (section 2), which is not the "
             "image MSE; only the paper's complex-spectrum version would be (exercise 4, Parseval). And the "
             "adversarial term judges a property of the image that the MSE ignores: which?",
    }
    return check_choice("MSE vs DAGAN: PSNR and sharpness", answer, "b", hints,
                        why="the MSE-only network is trained for exactly what PSNR measures, so it gets the "
                            "highest PSNR it can, by predicting the average of the plausible images, which is "
                            "smooth. DAGAN's adversarial term trades a little of that for texture D accepts; "
                            "Blau & Michaeli (2018) show that, in general, no method can be best at once in "
                            "distortion (such as MSE) and in perceptual quality. Read the sizes of both effects "
                            "in the table below.")
