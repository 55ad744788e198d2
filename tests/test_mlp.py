"""MLP G and D (Goodfellow et al. 2014): shapes for toy points and images."""

import pytest
import torch

from gan_lab.models.mlp import MLPDiscriminator, MLPGenerator


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28), (3, 28, 28), (1, 64, 64)])
def test_shapes(shape):
    G = MLPGenerator(z_dim=5, out_shape=shape, width=16)
    D = MLPDiscriminator(in_shape=shape, width=16)
    x = G(torch.randn(4, 5))
    assert x.shape == (4, *shape)
    assert D(x).shape == (4,)


def test_output_activation():
    z = torch.randn(64, 3) * 10
    assert MLPGenerator(3, (1, 4, 4), width=8).forward(z).abs().max() <= 1
    assert MLPGenerator(3, (2,), width=8, out_activation="none")(z).abs().max() > 1


def test_depth_zero_is_linear():
    G = MLPGenerator(z_dim=3, out_shape=(2,), depth=0, out_activation="none")
    z = torch.randn(6, 3)
    assert torch.allclose(G(2 * z) - G(z), G(z) - G(0 * z), atol=1e-5)
