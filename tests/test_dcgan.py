"""DCGAN G and D: shapes for every size and channel count, the critic head, weight init, rebuild from JSON,
the full-resolution convolutions and the minibatch standard deviation."""

import pytest
import torch
from torch import nn

from gan_lab.models import build, model_config
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator, init_dcgan_weights
from gan_lab.models.progressive import MinibatchStdDev


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(size, channels):
    G = DCGANGenerator(z_dim=8, channels=channels, size=size, width=4)
    D = DCGANDiscriminator(channels=channels, size=size, width=4)
    x = G(torch.randn(3, 8))
    assert x.shape == (3, channels, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert D(x).shape == (3,)


@pytest.mark.parametrize("size", [28, 64])
def test_critic_head_has_no_batch_norm(size):
    D = DCGANDiscriminator(channels=1, size=size, width=4, critic=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in DCGANDiscriminator(1, size, 4).modules())
    # without batch norm one sample's score cannot depend on the others in the batch
    x = torch.randn(4, 1, size, size)
    assert torch.allclose(D(x)[:1], D(x[:1]), atol=1e-5)


def test_bad_size_names_supported_sizes():
    with pytest.raises(ValueError, match="28, 32, 64"):
        DCGANGenerator(size=30)


def test_init_follows_the_paper():
    G = DCGANGenerator(z_dim=16, width=32)
    G.apply(init_dcgan_weights)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002


def test_rebuilt_from_config():
    D = DCGANDiscriminator(channels=3, size=64, width=4, critic=True)
    D2 = build(model_config(D))
    assert isinstance(D2, DCGANDiscriminator) and D2.hparams == D.hparams
    assert [p.shape for p in D2.parameters()] == [p.shape for p in D.parameters()]


@pytest.mark.parametrize("size", [28, 32])
def test_full_resolution_convolutions_keep_shapes_and_add_a_full_size_layer(size):
    torch.manual_seed(0)
    G = DCGANGenerator(z_dim=8, channels=3, size=size, width=8, full_res_conv=True)
    D = DCGANDiscriminator(channels=3, size=size, width=8, full_res_conv=True)
    image = G(torch.randn(2, 8))
    assert image.shape == (2, 3, size, size) and D(image).shape == (2,)
    plain_G, plain_D = DCGANGenerator(8, 3, size, 8), DCGANDiscriminator(3, size, 8)
    hidden = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(hidden) == sum(isinstance(m, nn.BatchNorm2d) for m in plain_G.modules()) + 1
    assert hidden[-1].num_features == 4  # width / 2 channels at full size, then the image
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == sum(isinstance(m, nn.Conv2d) for m in plain_D.modules()) + 1
    assert (convs[0].out_channels, convs[1].in_channels, convs[1].out_channels) == (4, 4, 8)
    assert isinstance(D.features[3], nn.BatchNorm2d)  # the strided layer after the input layer is a hidden one
    assert not isinstance(D.features[1], nn.BatchNorm2d)  # the input layer has none (DCGAN)
    critic = DCGANDiscriminator(3, size, 8, critic=True, full_res_conv=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in critic.modules())
    normalised = DCGANDiscriminator(3, size, 8, spectral_norm=True, full_res_conv=True)
    convs = [m for m in normalised.modules() if isinstance(m, nn.Conv2d)]
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in normalised.modules())


def test_full_resolution_convolution_adds_what_notebook_02_counts():
    # exercise 16 of notebook 02: a 32 → 16 transposed 4×4 (no bias) with its batch norm, and a 16 → 1 3×3 with bias,
    # in place of a 32 → 1 transposed 4×4 with bias
    def count(module):
        return sum(p.numel() for p in module.parameters())

    added = count(DCGANGenerator(64, 1, 28, 32, full_res_conv=True)) - count(DCGANGenerator(64, 1, 28, 32))
    assert added == 32 * 16 * 16 + 2 * 16 + (16 * 9 + 1) - (32 * 16 + 1) == 7856


def test_full_resolution_convolution_follows_a_resized_last_stage():
    G = DCGANGenerator(8, 1, 28, 8, upsample="resize_last", full_res_conv=True)
    assert isinstance(G.net[-6], nn.Upsample) and G.net[-5].kernel_size == (3, 3)  # the stage that makes 28 px
    assert G.net[-5].out_channels == 4 and G.net[-2].in_channels == 4  # width / 2 hidden channels, then the image
    assert G(torch.randn(2, 8)).shape == (2, 1, 28, 28)


def test_minibatch_std_appends_each_groups_spread():
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStdDev(4)(x)
    assert out.shape == (8, 4, 2, 2) and torch.equal(out[:, :3], x)
    for group in ([0, 2, 4, 6], [1, 3, 5, 7]):  # every second image: the official code's reshape
        expected = (x[group].var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[group, 3], expected.expand(4, 2, 2))
    assert not torch.allclose(out[0, 3], out[1, 3])
    whole = MinibatchStdDev()(x)[:, 3]  # group_size 0: the whole batch, section 3's description
    assert torch.allclose(whole, x.std(dim=0, unbiased=False).mean().expand(8, 2, 2), atol=1e-6)


def test_minibatch_std_takes_any_batch_and_has_finite_gradients():
    x = torch.randn(6, 2, 3, 3)
    spread = MinibatchStdDev(4)(x)[:, 2, 0, 0]  # 6 images: groups of 2, images {0, 3}, {1, 4}, {2, 5}
    assert torch.allclose(spread[:3], spread[3:]) and len(set(spread[:3].tolist())) == 3
    three = torch.randn(3, 2, 3, 3)  # fewer images than the group size: one group, as the official code
    assert torch.allclose(MinibatchStdDev(4)(three)[:, 2], MinibatchStdDev()(three)[:, 2])
    one = torch.randn(1, 2, 3, 3, requires_grad=True)
    out = MinibatchStdDev(4)(one)
    assert torch.allclose(out[0, 2], torch.full((3, 3), 1e-4))  # a group of one image: sqrt(ε)
    out.sum().backward()
    assert torch.isfinite(one.grad).all()
    for bad in (1, -4, True, 2.0):
        with pytest.raises(ValueError, match="group_size must be 0"):
            MinibatchStdDev(bad)


def test_discriminator_with_minibatch_std_scores_an_image_with_its_group():
    D = DCGANDiscriminator(1, 28, 8, minibatch_std=4).eval()  # eval: batch norm no longer couples the batch
    assert D.head.in_channels == 8 * 2 + 1 and isinstance(D.features[-1], MinibatchStdDev)
    x = torch.randn(8, 1, 28, 28)
    changed = x.clone()
    changed[3] = 0  # image 3 is in the group of images 1, 3, 5, 7
    with torch.no_grad():
        before, after = D(x), D(changed)
    assert torch.equal(before[[0, 2, 4, 6]], after[[0, 2, 4, 6]])  # the other group does not see it
    assert not torch.allclose(before[[1, 5, 7]], after[[1, 5, 7]])
    assert DCGANDiscriminator(1, 28, 8).head.in_channels == 16  # off by default
    critic = DCGANDiscriminator(3, 32, 4, critic=True, minibatch_std=2)
    assert critic(torch.randn(4, 3, 32, 32)).shape == (4,)
    D2 = build(model_config(D))
    assert D2.hparams["minibatch_std"] == 4 and [p.shape for p in D2.parameters()] == [p.shape for p in D.parameters()]
