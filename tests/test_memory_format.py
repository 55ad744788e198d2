"""channels_last_on_cpu: NHWC storage, same values, same parameter objects."""

import torch

from gan_lab.models import DCGANDiscriminator
from gan_lab.train.memory_format import channels_last_on_cpu


def test_models_and_images_become_channels_last_with_the_same_values():
    D = DCGANDiscriminator(1, 28, 8).eval()
    x = torch.randn(4, 1, 28, 28)
    before, params = D(x), list(D.parameters())
    (x_nhwc,) = channels_last_on_cpu([D], x)
    assert x_nhwc.is_contiguous(memory_format=torch.channels_last) and torch.equal(x_nhwc, x)
    conv = next(p for p in D.parameters() if p.dim() == 4 and p.shape[1] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert all(a is b for a, b in zip(params, D.parameters()))  # optimisers keep pointing at them
    assert torch.allclose(D(x_nhwc), before, atol=1e-5)


def test_nothing_to_convert_returns_nothing():
    assert channels_last_on_cpu([]) == ()
