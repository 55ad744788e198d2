"""The translation viewer: the slider and the model toggle redraw the panels and the metrics."""

import pytest
import torch

from gan_lab.models.unet import UNet
from gan_lab.widgets.translation import as_translator, panel_viewer, translation_viewer


def _pairs(n=4, size=8):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    return x, -x


def test_slider_moves_every_panel_and_the_readout():
    x, y = _pairs()
    viewer = translation_viewer(x, y, {"negate": lambda t: -t})
    before = {name: image.value for name, image in viewer.images.items()}
    assert "PSNR inf dB" in viewer.readout.value and "sample 1/4" in viewer.readout.value
    viewer.index.value = 2
    assert viewer.images["input"].value != before["input"]
    assert viewer.images["output"].value != before["output"]
    assert "sample 3/4" in viewer.readout.value


def test_toggle_changes_output_difference_and_metrics_but_not_input_or_target():
    x, y = _pairs()
    viewer = translation_viewer(x, y, {"perfect": lambda t: -t, "identity": lambda t: t}, diff_gain=2)
    diff = "|output − target| ×2"
    before = {name: image.value for name, image in viewer.images.items()}
    viewer.model.value = "identity"
    after = {name: image.value for name, image in viewer.images.items()}
    assert after["output"] != before["output"] and after[diff] != before[diff]
    assert after["input"] == before["input"] and after["target"] == before["target"]
    assert "PSNR inf" not in viewer.readout.value


def test_panel_functions_see_the_panels_left_of_them():
    """A CycleGAN-style row: x | G(x) | F(G(x)) | y, where F reads G's panel."""
    x, y = _pairs()
    calls = []

    def cycle(i, model, shown):
        calls.append(sorted(shown))
        return model["F"](shown["G(x)"])

    models = {"cycle": {"G": lambda t: -t, "F": lambda t: -t}}
    panels = [("x", x), ("G(x)", lambda i, m, shown: m["G"](shown["x"])), ("F(G(x))", cycle), ("y", y)]
    viewer = panel_viewer(panels, models)
    assert calls[-1] == ["G(x)", "x"]
    assert viewer.images["F(G(x))"].value == viewer.images["x"].value  # F(G(x)) = x here
    assert viewer.images["G(x)"].value == viewer.images["y"].value


def test_modules_run_in_eval_mode_and_keep_their_mode():
    G = UNet(1, 1, width=4, size=8, dropout=0.5).train()
    x, _ = _pairs(n=2)
    translate = as_translator(G)
    assert torch.equal(translate(x), translate(x))  # eval mode: dropout off, deterministic
    assert G.training
    with pytest.raises(TypeError, match="nn.Module"):
        as_translator(42)


def test_bad_input_is_explained():
    x, y = _pairs()
    with pytest.raises(ValueError, match="paired"):
        translation_viewer(x, y[:2], {"m": lambda t: t})
    with pytest.raises(ValueError, match="num_samples"):
        panel_viewer([("f", lambda i, m, s: x[i])])
    with pytest.raises(ValueError, match="at least one model"):
        translation_viewer(x, y, {})


def test_class_grid_keeps_z_per_column_and_the_slider_draws_new_codes():
    from gan_lab.data.base import ImageData
    from gan_lab.train.conditional import CGANConfig, train_cgan
    from gan_lab.widgets.conditional import class_grid, class_rows

    data = ImageData(torch.randn(8, 1, 16, 16).clamp(-1, 1), torch.arange(8) % 2, ["a", "b"], "toy", "synthetic")
    run = train_cgan(data, CGANConfig(z_dim=4, width=4, num_steps=1, batch_size=4), device="cpu", progress=False)
    rows = class_rows(run, n=3, seed=5)
    assert list(rows) == ["a", "b"] and rows["a"].shape == (3, 1, 16, 16)
    assert torch.equal(rows["a"], run.sample(3, 0, seed=5)) and not torch.equal(rows["a"], rows["b"])
    grid = class_grid(run, n=3)
    before = grid.rows["b"].value
    grid.seed.value = 7
    assert grid.rows["b"].value != before
    with pytest.raises(TypeError, match="class-conditional"):
        class_grid(object())
