"""Class-conditional GANs: shapes, which step updates what, and that conditioning really conditions."""

import pytest
import torch

from gan_lab.data.base import ImageData
from gan_lab.losses import adversarial_losses
from gan_lab.models.conditional import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
)
from gan_lab.train.conditional import (
    CGANConfig,
    acgan_d_step,
    acgan_g_step,
    build_cgan,
    d_step,
    g_step,
    load_or_train_cgan,
    train_cgan,
)


def _snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(model, before):
    return any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))


def _bright_dark(n=256, size=16):
    """Two visibly different classes: dark images (label 0) and bright ones (label 1), with texture."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 2
    level = torch.where(labels == 1, 0.6, -0.6).view(n, 1, 1, 1)
    images = (level + 0.15 * torch.randn(n, 1, size, size, generator=gen)).clamp(-1, 1)
    return ImageData(images, labels, ["dark", "bright"], "bright_dark", "synthetic")


@pytest.mark.parametrize("size", [28, 64])
def test_generator_and_discriminator_shapes(size):
    G = ConditionalGenerator(num_classes=3, z_dim=8, size=size, width=8)
    y = torch.tensor([0, 1, 2])
    x = G(torch.randn(3, 8), y)
    assert x.shape == (3, 1, size, size) and x.min() >= -1 and x.max() <= 1
    assert ConditionalDiscriminator(3, size=size, width=8)(x, y).shape == (3,)
    assert ProjectionDiscriminator(3, size=size, width=8)(x, y).shape == (3,)
    logits, class_logits = ACGANDiscriminator(3, size=size, width=8)(x)
    assert logits.shape == (3,) and class_logits.shape == (3, 3)


def test_projection_term_depends_on_the_label():
    D = ProjectionDiscriminator(2, size=28, width=8).eval()
    x = torch.randn(4, 1, 28, 28)
    same_image_other_class = D(x, torch.zeros(4, dtype=torch.long)) - D(x, torch.ones(4, dtype=torch.long))
    assert same_image_other_class.abs().min() > 0


def test_labels_of_the_wrong_type_or_shape_are_rejected():
    G = ConditionalGenerator(num_classes=2, z_dim=8, width=8)
    with pytest.raises(ValueError, match="long tensor"):
        G(torch.randn(2, 8), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        G(torch.randn(2, 8), torch.tensor([0]))


@pytest.mark.parametrize("variant", ["concat", "projection", "acgan"])
def test_d_step_changes_only_D_and_g_step_only_G(variant):
    config = CGANConfig(variant=variant, z_dim=8, width=8)
    G, D = build_cgan(config, num_classes=2, size=16)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    loss_D_fn, loss_G_fn = adversarial_losses("nonsaturating")
    real, y = torch.randn(8, 1, 16, 16).clamp(-1, 1), torch.randint(0, 2, (8,))
    with torch.no_grad():
        fake = G(torch.randn(8, 8), y)
    g0, d0 = _snapshot(G), _snapshot(D)
    if variant == "acgan":
        out = acgan_d_step(D, opt_D, real, fake, y, loss_D_fn, lambda_cls=1.0)
        assert {"loss_D", "loss_C", "acc_real"} <= set(out)
    else:
        out = d_step(D, opt_D, real, fake, y, loss_D_fn)
        assert set(out) == {"loss_D", "D(x|y)", "D(G(z|y)|y)"}
    assert _changed(D, d0) and not _changed(G, g0)
    d1 = _snapshot(D)
    if variant == "acgan":
        out = acgan_g_step(G, D, opt_G, torch.randn(8, 8), y, loss_G_fn, lambda_cls=1.0)
    else:
        out = g_step(G, D, opt_G, torch.randn(8, 8), y, loss_G_fn)
    assert _changed(G, g0) and not _changed(D, d1)
    assert all(p.requires_grad for p in D.parameters())  # D is unfrozen again after G's step
    assert torch.isfinite(out["loss_G"])


@pytest.mark.parametrize("variant", ["concat", "projection", "acgan"])
def test_conditioning_really_conditions(variant):
    """After a short training on dark vs bright images, G(z, bright) is brighter than G(z, dark) for the same z."""
    torch.manual_seed(0)
    data = _bright_dark()
    config = CGANConfig(variant=variant, z_dim=8, embed_dim=4, width=8, batch_size=32, num_steps=100,
                        lr_G=1e-3, lr_D=1e-3, checkpoint_every=0)
    run = train_cgan(data, config, device="cpu", progress=False)
    dark, bright = run.sample(64, "dark"), run.sample(64, 1)  # the same z (seed 0) under both classes
    assert dark.shape == (64, 1, 16, 16)
    per_image_gap = bright.mean(dim=(1, 2, 3)) - dark.mean(dim=(1, 2, 3))
    assert per_image_gap.mean() > 0.5, f"mean brightness gap {per_image_gap.mean():.3f}"
    assert (per_image_gap > 0).float().mean() > 0.9


def test_sample_uses_the_same_z_for_every_class_and_checks_labels():
    data = _bright_dark(n=16)
    run = train_cgan(data, CGANConfig(z_dim=8, width=8, num_steps=2, batch_size=8), device="cpu", progress=False)
    assert torch.equal(run.sample(4, 0), run.sample(4, 0))
    assert not torch.equal(run.sample(4, 0), run.sample(4, 1))
    mixed = run.sample(4, [0, 1, 0, 1])
    assert torch.allclose(mixed[1], run.sample(4, 1)[1], atol=1e-6)
    with pytest.raises(ValueError, match="Unknown class"):
        run.sample(4, "grey")
    with pytest.raises(ValueError, match="0..1"):
        run.sample(2, 5)
    with pytest.raises(ValueError, match="labels"):
        run.sample(3, [0, 1])


def test_training_needs_labelled_images():
    with pytest.raises(TypeError, match="ImageData"):
        train_cgan(torch.zeros(4, 1, 16, 16), CGANConfig(num_steps=1))
    one_class = ImageData(torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long), ["only"], "x", "synthetic")
    with pytest.raises(ValueError, match="2 classes"):
        train_cgan(one_class, CGANConfig(num_steps=1))
    with pytest.raises(ValueError, match="variant"):
        CGANConfig(variant="film")


def test_load_or_train_reuses_a_matching_checkpoint(tmp_path):
    data = _bright_dark(n=16)
    config = CGANConfig(variant="acgan", z_dim=8, width=8, num_steps=3, batch_size=8)
    trained = load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False)
    loaded = load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False)
    assert loaded.history == trained.history and loaded.class_names == ["dark", "bright"]
    assert torch.allclose(loaded.sample(4, 1), trained.sample(4, 1), atol=1e-6)
    retrained = load_or_train_cgan(tmp_path, data, CGANConfig(variant="acgan", z_dim=8, width=8, num_steps=4,
                                                              batch_size=8, seed=1), device="cpu", progress=False)
    assert retrained.history["step"][-1] == 4 and retrained.config.seed == 1


def test_load_or_train_retrains_when_the_stored_networks_no_longer_load(tmp_path, capsys):
    import json

    data = _bright_dark(n=16)
    config = CGANConfig(z_dim=8, width=8, num_steps=2, batch_size=8)
    load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False)
    index = json.loads((tmp_path / "checkpoint.json").read_text())
    index["models"]["D"]["hparams"]["width"] = 4  # as if the network's code had changed since caching
    (tmp_path / "checkpoint.json").write_text(json.dumps(index))
    run = load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False)
    assert "no longer match" in capsys.readouterr().out
    assert run.history["step"][-1] == 2 and run.sample(2, 0).shape == (2, 1, 16, 16)


def test_load_or_train_passes_stop_event_and_callbacks_on_and_resumes(tmp_path):
    import threading

    data, stop = _bright_dark(n=16), threading.Event()
    config = CGANConfig(z_dim=8, width=8, num_steps=4, batch_size=8, log_every=1, callback_every=2)
    stopped = load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False, stop_event=stop,
                                 callbacks=[lambda step, history: stop.set()])
    assert stopped.history["step"] == [1, 2]
    resumed = load_or_train_cgan(tmp_path, data, config, device="cpu", progress=False)
    assert resumed.history["step"] == [1, 2, 3, 4] and resumed.checkpoint_dir == tmp_path
