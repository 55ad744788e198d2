"""The PatchGAN's receptive field, as stated in the notebooks, measured by backpropagation."""

import pytest
import torch

from gan_lab.models.patchgan import PatchGANDiscriminator


@pytest.mark.parametrize("n_layers, size, expected", [(2, 64, 34), (3, 128, 70)])
def test_receptive_field_is_what_one_verdict_depends_on(n_layers, size, expected):
    D = PatchGANDiscriminator(1, width=4, n_layers=n_layers, norm="none").eval()
    assert D.receptive_field == expected
    x = torch.randn(1, 1, size, size, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()  # one central verdict
    rows = x.grad[0, 0].abs().sum(1).nonzero()
    assert rows.max() - rows.min() + 1 == expected


def test_at_28_px_a_central_verdict_sees_the_whole_image():
    D = PatchGANDiscriminator(1, width=4, n_layers=2, norm="none").eval()
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    out = D(x)
    assert out.shape[-2:] == (5, 5)
    out[0, 0, 2, 2].backward()
    assert (x.grad[0, 0].abs().sum(1) > 0).all() and D.receptive_field > 28
