import pytest
import torch
from torch import nn

from gan_lab.models import build, model_config
from gan_lab.models.attention import SelfAttention
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from gan_lab.train.gan import GANConfig, build_gan


def _attention(channels=16, gamma=0.7, seed=0):
    torch.manual_seed(seed)
    layer = SelfAttention(channels)
    with torch.no_grad():
        layer.gamma.fill_(gamma)
    return layer


def test_starts_as_the_identity_and_learns_its_weight():
    layer = SelfAttention(16)
    x = torch.randn(3, 16, 5, 5)
    assert layer.gamma.item() == 0 and torch.equal(layer(x), x)  # γ = 0: the convolutions alone at first
    layer(x).square().sum().backward()
    assert layer.gamma.grad is not None and layer.gamma.grad.abs() > 0  # ∂y/∂γ = o, so γ moves off 0


def test_follows_the_papers_equations_position_by_position():
    layer, x = _attention(), torch.randn(2, 16, 3, 4)
    f, g, h = (conv(x).flatten(2) for conv in (layer.f, layer.g, layer.h))  # (B, C̄, N)
    assert f.shape[1] == 2  # C̄ = C / 8
    B, N = 2, 12
    expected = torch.empty(B, 2, N)
    for b in range(B):
        for j in range(N):
            s = torch.stack([f[b, :, i] @ g[b, :, j] for i in range(N)])  # s_ij = f(x_i)ᵀ g(x_j)
            beta = torch.exp(s) / torch.exp(s).sum()  # β_{j,i}, normalised over i
            expected[b, :, j] = sum(beta[i] * h[b, :, i] for i in range(N))
    o = layer.v(expected.view(B, 2, 3, 4))
    assert torch.allclose(layer(x), 0.7 * o + x, atol=1e-5)
    beta = layer.attention(x)
    assert beta.shape == (B, N, N) and torch.allclose(beta.sum(-1), torch.ones(B, N))


def test_every_position_sees_the_farthest_one():
    layer = _attention()
    x = torch.randn(1, 16, 7, 7)
    far = x.clone()
    far[..., 6, 6] += 3.0  # the opposite corner from (0, 0)
    with torch.no_grad():
        changed = (layer(far) - layer(x))[0, :, 0, 0]
    assert changed.abs().max() > 1e-4  # a 1×1 or 3×3 convolution at (0, 0) would not see it


def test_refuses_maps_too_thin_for_its_keys():
    for bad in (4, 0, True, 8.0):
        with pytest.raises(ValueError, match="at least 8 channels"):
            SelfAttention(bad)


def test_dcgan_places_it_on_the_smallest_map_of_either_network():
    G = DCGANGenerator(16, 1, 28, 8, self_attention=True)
    assert isinstance(G.net[3], SelfAttention) and G.net[3].v.out_channels == 16  # after z's 7×7 projection
    D = DCGANDiscriminator(1, 28, 8, self_attention=True, minibatch_std=4)
    assert isinstance(D.features[-2], SelfAttention) and D.features[-2].f.in_channels == 16  # then the spread
    assert G(torch.randn(4, 16)).shape == (4, 1, 28, 28) and D(torch.randn(4, 1, 28, 28)).shape == (4,)
    assert not any(isinstance(m, SelfAttention) for m in DCGANGenerator(16, 1, 28, 8).modules())  # off by default
    G2, D2 = build(model_config(G)), build(model_config(D))
    assert isinstance(G2.net[3], SelfAttention) and isinstance(D2.features[-2], SelfAttention)
    for network in (lambda: DCGANGenerator(16, 1, 28, 2, self_attention=True),  # 4 channels at 7×7
                    lambda: DCGANDiscriminator(1, 28, 2, self_attention=True)):
        with pytest.raises(ValueError, match="width 2 gives it 4: use a width of at least 4"):
            network()


def test_channels_last_input_gives_the_same_output():
    layer, x = _attention(), torch.randn(2, 16, 5, 5)
    assert torch.allclose(layer(x.to(memory_format=torch.channels_last)), layer(x), atol=1e-6)


def test_spectral_normalisation_and_the_dcgan_init_reach_its_convolutions():
    D = DCGANDiscriminator(1, 28, 8, spectral_norm=True, self_attention=True)
    attention = D.features[-1]
    assert all(nn.utils.parametrize.is_parametrized(conv, "weight")
               for conv in (attention.f, attention.g, attention.h, attention.v))
    D.apply(init_dcgan_weights)
    assert attention.gamma.item() == 0  # the init leaves γ at 0: the layer still starts as the identity


def test_gan_config_turns_it_on_for_either_network():
    G, D = build_gan(GANConfig(self_attention_G=True))
    assert any(isinstance(m, SelfAttention) for m in G.modules())
    assert not any(isinstance(m, SelfAttention) for m in D.modules())
    G, D = build_gan(GANConfig(self_attention_D=True))
    assert not any(isinstance(m, SelfAttention) for m in G.modules())
    assert any(isinstance(m, SelfAttention) for m in D.modules())
    assert GANConfig.FIELDS_ADDED_LATER["self_attention_G"] is False  # off, and off for older checkpoints
    for bad, message in [(dict(self_attention_G=1), "self_attention_G must be True or False"),
                         (dict(arch="mlp", self_attention_D=True), "self_attention_D applies to the DCGAN discr"),
                         (dict(arch="mlp", self_attention_G=True), "self_attention_G applies to the DCGAN gener")]:
        with pytest.raises(ValueError, match=message):
            GANConfig(**bad)
