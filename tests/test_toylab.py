"""The toy lab engine and its widget, headless: steps touch only what they should, callbacks redraw."""

import time

import numpy as np
import pytest
import torch

from gan_lab import checkpoints
from gan_lab.data.toy import Drawing
from gan_lab.losses import adversarial_losses
from gan_lab.train.toylab import (
    EXAMPLES,
    STAGES,
    ToyConfig,
    ToyLab,
    discriminator_heatmap,
    generator_gradients,
    load_example,
    train_toy_gan,
)
from gan_lab.widgets.toylab import toy_lab_widget

SMALL = dict(width=16, depth=1, batch_size=64)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture
def lab():
    return ToyLab(ToyConfig(dataset="ring", **SMALL), device="cpu", n_eval=256)


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="z_dim must be 1 or 2"):
        ToyConfig(z_dim=3)
    with pytest.raises(ValueError, match="choose one of"):
        ToyConfig(dataset="donut")
    with pytest.raises(ValueError, match="Unknown loss"):
        ToyConfig(loss="hinge")


def test_step_D_changes_only_D_and_step_G_only_G(lab):
    G0, D0 = params(lab.G), params(lab.D)
    lab.step_D()
    G1, D1 = params(lab.G), params(lab.D)
    assert same(G0, G1) and not same(D0, D1)
    lab.step_G()
    G2, D2 = params(lab.G), params(lab.D)
    assert not same(G1, G2) and same(D1, D2)
    assert lab.num_steps == 2 and len(lab.history["loss_D"]) == 2
    assert {"loss_D", "loss_G", "grad_G", "D(x)", "D(G(z))"} <= set(lab.history)


def test_a_full_step_makes_k_discriminator_updates_per_generator_update(lab):
    lab.config.k = 3
    lab.step()
    adam_steps = lambda opt: {int(s["step"]) for s in opt.state.values()}
    assert adam_steps(lab.opt_D) == {3} and adam_steps(lab.opt_G) == {1}


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "least_squares", "wasserstein"])
def test_every_loss_trains_and_logs_finite_values(loss):
    lab = ToyLab(ToyConfig(dataset="grid", loss=loss, optimizer="sgd", lr_D=0.01, lr_G=0.01, **SMALL),
                 n_eval=256)
    lab.update("both", 3)
    assert all(np.isfinite(lab.history[k]).all() for k in ("loss_D", "loss_G", "grad_G"))
    assert lab.output == ("probability" if loss in ("minimax", "nonsaturating") else "raw")


def test_reset_restores_the_initial_state_and_applies_changes(lab):
    G0 = params(lab.G)
    lab.update("both", 3)
    lab.reset()
    assert same(G0, params(lab.G)) and lab.num_steps == 0 and lab.history == {"step": []}
    lab.reset(dataset="spiral", z_dim=1, noise="uniform")
    assert lab.data.name == "spiral" and lab.z.shape == (256, 1) and lab.z.abs().max() <= 1


def test_learning_rates_change_in_place(lab):
    lab.set_learning_rates(lr_D=0.5)
    assert lab.opt_D.param_groups[0]["lr"] == 0.5 and lab.config.lr_D == 0.5
    assert lab.opt_G.param_groups[0]["lr"] == lab.config.lr_G == 1e-3


def test_discriminator_heatmap_is_D_on_the_grid():
    D = torch.nn.Linear(2, 1)
    with torch.no_grad():
        D.weight[:] = torch.tensor([[1.0, 0.0]])
        D.bias.zero_()
    critic = lambda x: D(x).squeeze(1)
    prob = discriminator_heatmap(critic, (-3, 3, -3, 3), 30)
    raw = discriminator_heatmap(critic, (-3, 3, -3, 3), 30, output="raw")
    assert prob.shape == (30, 30) and np.allclose(prob, 1 / (1 + np.exp(-raw)), atol=1e-6)
    assert np.allclose(raw[0], raw[-1]) and raw[0, -1] > raw[0, 0]  # rises to the right, flat along y
    with pytest.raises(ValueError, match="probability"):
        discriminator_heatmap(critic, (-3, 3, -3, 3), output="logit")


def test_gradient_arrows_point_where_the_generator_loss_decreases(lab):
    lab.update("D", 5)
    fake = lab.fakes()[:32]
    arrows = lab.fake_gradients(fake)
    with torch.no_grad():
        loss = lambda x: torch.stack([lab.loss_G_fn(lab.D(p[None])) for p in x])
        step = 1e-3 * arrows / arrows.norm(dim=1, keepdim=True)
        assert (loss(fake + step) < loss(fake)).float().mean() > 0.9


def test_drawn_quantities_have_the_right_shapes(lab):
    fake = lab.fakes()
    assert lab.heatmap().shape == (64, 64)
    assert lab.manifold(lines=5, points=7).shape == (10, 7, 2)
    p_data_hat, p_g_hat = lab.density_estimates(fake)
    assert p_data_hat.shape == p_g_hat.shape == (64, 64)
    lab.reset(dataset="moons", z_dim=1)
    assert lab.optimal_discriminator_map(lab.density_estimates(lab.fakes())[1]) is None
    assert lab.manifold(lines=5, points=7).shape == (1, 35, 2)


def test_optimal_discriminator_map_marks_missed_modes_and_fakes_without_data(lab):
    lab.G = lambda z: torch.tensor([2.0, 0.0]) + 0.1 * torch.randn(len(z), 2)  # every fake on the mode at (2, 0)
    lab.real = lab.data.sample(len(lab.real))
    d_star = lab.optimal_discriminator_map(lab.density_estimates(lab.fakes())[1])
    pixel = lambda x, y: (int((3 - y) / 6 * 64), int((x + 3) / 6 * 64))  # plane → grid cell on the 6 × 6 window
    assert d_star.shape == (64, 64) and d_star.min() >= 0 and d_star.max() <= 1
    assert d_star[pixel(-2.0, 0.0)] > 0.95  # a mode G misses: D* sure "real"
    assert 0.08 < d_star[pixel(2.0, 0.0)] < 0.2  # all fakes on one of 8 modes: p_g ≈ 8 p_data, D* ≈ 1/9
    assert d_star[pixel(-2.9, 2.9)] == pytest.approx(0.5, abs=0.02)  # far from both: ½, not noise


def test_evaluate_appends_metrics_and_detects_mode_collapse(lab):
    first = lab.evaluate()
    assert set(first) == {"JS", "KL", "modes", "quality"} and lab.history["eval_step"] == [0]
    lab.G = lambda z: torch.zeros(len(z), 2) + torch.tensor([2.0, 0.0])  # every fake on one ring mode
    collapsed = lab.evaluate()
    assert collapsed["modes"] == pytest.approx(1 / 8) and collapsed["quality"] == 1.0
    assert collapsed["JS"] > 0.3


def test_training_moves_fakes_towards_a_single_gaussian():
    lab = ToyLab(ToyConfig(dataset="gaussian", lr_D=3e-3, lr_G=3e-3, **SMALL), n_eval=512)
    target = torch.tensor([1.0, 1.0])
    before = (lab.fakes().mean(0) - target).norm()
    lab.update("both", 150, log_every=10, eval_every=50)
    assert (lab.fakes().mean(0) - target).norm() < 0.5 * before
    assert lab.history["eval_step"] == [50, 100, 150] and lab.history["step"][-1] == 150


def test_train_toy_gan_loads_a_matching_checkpoint_and_retrains_otherwise(tmp_path):
    first = train_toy_gan(ToyConfig(**SMALL), 6, checkpoint_dir=tmp_path, eval_every=3, log_every=2,
                          progress=False)
    again = train_toy_gan(ToyConfig(**SMALL), 6, checkpoint_dir=tmp_path, eval_every=3, log_every=2,
                          progress=False, seed=0)
    assert same(params(first.G), params(again.G)) and again.history == first.history
    other = train_toy_gan(ToyConfig(**SMALL), 6, checkpoint_dir=tmp_path, eval_every=3, log_every=2,
                          progress=False, seed=1)
    assert not same(params(first.G), params(other.G)) and other.history["eval_step"] == [3, 6]


def test_widget_buttons_play_and_reset_update_state_and_images():
    w = toy_lab_widget(dataset="ring", size=120, steps_per_frame=3, **SMALL)
    lab, image = w.lab, w.canvas.value
    G0, D0 = params(lab.G), params(lab.D)
    w.step_d_button.click()
    assert lab.num_steps == 1 and same(G0, params(lab.G)) and not same(D0, params(lab.D))
    assert w.canvas.value != image and w.last_frame_ms > 0
    D1 = params(lab.D)
    w.step_g_button.click()
    assert not same(G0, params(lab.G)) and same(D1, params(lab.D))
    w.step_button.click()
    w.play.value = 1  # what a tick of the browser's Play widget does
    assert lab.num_steps == 3 + 3 and lab.history["eval_step"][-1] == 6
    curves = w.curves.value
    w.layers["heatmap"].value = False  # redraw without training: no duplicate evaluation
    assert lab.history["eval_step"].count(6) == 1 and w.curves.value == curves
    w.reset_button.click()
    assert lab.num_steps == 0 and same(G0, params(lab.G)) and "step 0" in w.status.value


def test_widget_wraps_a_given_lab_and_refuses_ambiguous_settings(lab):
    assert toy_lab_widget(lab, size=120).lab is lab
    with pytest.raises(ValueError, match="either a ToyLab or its settings"):
        toy_lab_widget(lab, dataset="grid")


def test_widget_controls_reach_the_engine():
    w = toy_lab_widget(dataset="ring", size=120, **SMALL)
    w.controls["lr_G"].value = 0.01
    w.controls["k"].value = 4
    assert w.lab.opt_G.param_groups[0]["lr"] == pytest.approx(0.01) and w.lab.config.k == 4
    w.controls["loss"].value = "wasserstein"
    w.controls["dataset"].value = "checkerboard"
    assert w.lab.config.loss == "wasserstein" and w.lab.data.name == "checkerboard" and w.lab.output == "raw"
    w.step_button.click()
    assert w.lab.num_steps == 1 and "frame" in w.status.value


def test_slow_motion_takes_one_step_apart_and_ends_where_step_does():
    fast = ToyLab(ToyConfig(k=2, **SMALL), device="cpu", n_eval=256)
    fast.step()
    slow = ToyLab(ToyConfig(k=2, **SMALL), device="cpu", n_eval=256)  # same seed: the same initial state
    G0, D0 = params(slow.G), params(slow.D)
    stages = slow.stages(num_points=100, num_arrows=20)
    d_before = next(stages)
    assert same(G0, params(slow.G)) and same(D0, params(slow.D))  # nothing moved yet
    d_after = next(stages)
    assert same(G0, params(slow.G)) and not same(D0, params(slow.D))
    assert {int(s["step"]) for s in slow.opt_D.state.values()} == {2}  # k D updates in D's half
    assert not np.allclose(d_before.heatmap, d_after.heatmap)  # D changed on the same fixed grid ...
    assert np.array_equal(d_before.fake, d_after.fake) and np.array_equal(d_before.real, d_after.real)  # ... no point
    assert d_before.arrows is None and d_after.arrows is None
    g_before, g_after = next(stages), next(stages)
    assert next(stages, None) is None
    assert [s.name for s in (d_before, d_after, g_before, g_after)] == list(STAGES)
    assert np.array_equal(g_before.heatmap, d_after.heatmap) and np.array_equal(g_after.heatmap, d_after.heatmap)
    assert g_before.arrows.shape == (20, 2) and g_before.fake.shape == (100, 2)
    assert np.array_equal(g_after.moved_from, g_before.fake) and not np.allclose(g_after.fake, g_before.fake)
    moves = g_after.fake[:20] - g_after.moved_from[:20]
    assert (np.sum(moves * g_after.arrows, axis=1) > 0).mean() > 0.5  # most fakes moved along their arrow
    assert all(s.caption and isinstance(s.D_fake, float) for s in (d_before, d_after, g_before, g_after))
    assert same(params(fast.G), params(slow.G)) and same(params(fast.D), params(slow.D))  # exactly step()'s update
    assert slow.num_steps == 2 and len(slow.history["loss_D"]) == 2  # logged as two halves, like step_D + step_G


def test_widget_slow_motion_stage_by_stage_within_the_frame_budget():
    w = toy_lab_widget(dataset="ring", device="cpu")  # full-size networks and panel: what a lecture draws
    w.lab.update("both", 20)
    images, names, times = {w.canvas.value}, [], []
    for _ in range(12):  # three slow-motion iterations
        start = time.perf_counter()
        stage = w.stage_button.click() or w._stage
        times.append(1e3 * (time.perf_counter() - start))
        names.append(stage.name)
        assert stage.name in w.caption.value and w.canvas.value not in images
        images.add(w.canvas.value)
    assert names == list(STAGES) * 3 and w.lab.num_steps == 20 + 6
    assert np.median(times) < 250, f"slow-motion stage frames take {np.median(times):.0f} ms (target < 100 ms)"
    w.layers["gradients"].value = False  # a layer toggle redraws the stage on screen, training nothing
    assert w.lab.num_steps == 26 and "G after" in w.caption.value
    w.step_button.click()  # a normal step ends slow motion: the next click starts a new iteration
    assert w.caption.value == "" and w.stage_button.click() is None and w._stage.name == "D before"


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return {name: load_example(name, device="cpu", checkpoint_dir=tmp_path_factory.mktemp("example"))
            for name in EXAMPLES}


def test_examples_show_what_they_are_named_for(examples):
    converged, collapsed = examples["converged ring"].evaluate(), examples["mode collapse on the ring"].evaluate()
    assert converged["modes"] == 1.0 and converged["quality"] > 0.6
    assert collapsed["modes"] <= 0.25 and collapsed["JS"] > 3 * converged["JS"]
    saturated = examples["saturated minimax generator"]
    assert saturated.config.loss == "minimax" and saturated.num_steps == 300
    fake = saturated.fakes()
    D_fake = torch.sigmoid(saturated.D(fake)).detach()
    assert D_fake.mean() < 0.02  # D rejects every fake with confidence ...
    minimax = generator_gradients(saturated.D, fake, saturated.loss_G_fn)[0].norm(dim=1).mean()
    nonsaturating = generator_gradients(saturated.D, fake, adversarial_losses("nonsaturating")[1])[0].norm(dim=1).mean()
    assert minimax < 0.05 * nonsaturating  # ... so the minimax loss is flat there: its gradient has all but vanished


def test_examples_load_from_the_cache_and_unknown_names_are_refused(examples, tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        load_example("checkerboard")
    first = ToyLab.load_example("saturated minimax generator", device="cpu", checkpoint_dir=tmp_path)
    start = time.perf_counter()
    again = load_example("saturated minimax generator", device="cpu", checkpoint_dir=tmp_path)
    assert time.perf_counter() - start < 1.0  # loading, not training
    assert same(params(first.G), params(again.G)) and same(params(first.D), params(again.D))
    assert same(params(first.D), params(examples["saturated minimax generator"].D))  # fixed seed: reproducible


def test_widget_example_drop_down_loads_the_state_and_shows_its_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "CHECKPOINT_DIR", tmp_path)  # the example's cache goes to a temporary folder
    w = toy_lab_widget(dataset="grid", size=120, **SMALL)
    w.example.value = "saturated minimax generator"
    assert w.lab.config.loss == "minimax" and w.lab.num_steps == 300 and w.controls["loss"].value == "minimax"
    assert w.controls["dataset"].value == "ring" and w.controls["width"].value == 64  # synced, lab not reset
    assert "saturated" in w.caption.value and w.lab.num_steps == 300
    w.stage_button.click()
    assert "D before" in w.caption.value
    w.reset_button.click()
    assert w.example.value == "" and w.lab.num_steps == 0 and w.lab.config.loss == "minimax"


def test_a_drawing_replaces_the_data_keeps_the_networks_and_survives_reset(lab):
    lab.update("both", 3)
    G = params(lab.G)
    lab.use_data(Drawing([[(-1.0, -1.0), (1.0, 1.0)]]))
    assert lab.data is lab.drawing and same(G, params(lab.G)) and lab.num_steps == 3
    assert (lab.real[:, 0] - lab.real[:, 1]).abs().max() < 1.0  # the evaluation set lies along the diagonal
    assert lab.optimal_discriminator_map(lab.density_estimates(lab.fakes())[1]) is not None  # D* is known
    assert "modes" not in lab.evaluate()  # a drawing has no countable modes
    lab.reset()
    assert lab.data is lab.drawing and lab.num_steps == 0
    lab.reset(dataset="grid")
    assert lab.drawing is None and lab.data.name == "grid"


def test_widget_trains_on_a_drawing_at_once_and_undo_and_clear_go_back():
    w = toy_lab_widget(dataset="ring", size=120, **SMALL)
    image, ring_real = w.canvas.value, w.lab.real.clone()
    w.sketch.strokes = [[(-2.0, 2.0), (2.0, 2.0)], [(0.0, -2.0)]]  # what a stroke ending in the browser sends
    assert w.lab.data.name == "drawing" and w.play.playing and w.canvas.value != image
    assert "2 stroke(s)" in w.drawing_info.value and not torch.equal(w.lab.real, ring_real)
    w.play.value += 1  # a tick trains on the drawing
    assert w.lab.num_steps == w.steps_per_frame.value
    w.undo_button.click()
    assert len(w.lab.drawing.strokes) == 1 and "1 stroke(s)" in w.drawing_info.value
    w.clear_button.click()
    assert w.lab.drawing is None and w.lab.data.name == "ring" and not w.play.playing
    w.sketch.strokes = [[(0.0, 0.0)]]
    w.controls["dataset"].value = "grid"  # choosing a dataset wipes the drawing off the pad too
    assert w.sketch.strokes == [] and w.lab.data.name == "grid" and "grid" in w.drawing_info.value
    with pytest.raises(Exception, match="stroke 0 must be a list of"):
        w.sketch.strokes = [["not a point"]]


def test_a_drawing_shows_no_stale_mode_numbers_and_bad_data_is_refused(tmp_path):
    w = toy_lab_widget(dataset="ring", size=120, **SMALL)
    w.step_button.click()
    assert "modes" in w.status.value  # the ring has countable modes
    w.sketch.strokes = [[(-1.0, 0.0), (1.0, 0.0)]]
    w.play.playing = False
    w.step_button.click()
    assert "JS" in w.status.value and "modes" not in w.status.value  # not the ring's last count
    with pytest.raises(TypeError, match="pass dataset='ring' instead"):
        ToyLab(data="ring")
    with pytest.raises(ValueError, match="cannot train on a drawing"):
        train_toy_gan(ToyConfig(**SMALL), 2, checkpoint_dir=tmp_path, data=Drawing([[(0.0, 0.0)]]))
