"""The training monitor: a fit callback that redraws, and Start/Stop running training in a thread."""

import dataclasses

import ipywidgets as widgets
import torch

from gan_lab.train.gan import GANConfig, new_run, train_gan
from gan_lab.train.loop import TrainingDiverged
from gan_lab.widgets.monitor import TrainingMonitor, curves_png

CONFIG = GANConfig(arch="mlp", width=4, z_dim=8, batch_size=8, num_steps=6, log_every=1, callback_every=2)
DATA = torch.rand(32, 1, 28, 28) * 2 - 1


def test_monitor_is_a_widget_and_its_callback_redraws():
    run = new_run(DATA, CONFIG, device="cpu")
    monitor = TrainingMonitor(run.G)
    assert isinstance(monitor, widgets.Widget) and monitor.start_button not in monitor.children
    before = (monitor.curves.value, monitor.samples.value)
    train_gan(DATA, CONFIG, run=run, device="cpu", callbacks=[monitor.callback], progress=False)
    assert monitor.curves.value != before[0]
    assert monitor.samples.value != before[1]  # same z, trained weights
    assert monitor.status.value.startswith("step 6:") and "D(G(z))" in monitor.status.value


def test_fixed_z_gives_the_same_grid_for_the_same_weights():
    run = new_run(DATA, CONFIG, device="cpu")
    a, b = TrainingMonitor(run.G, seed=3), TrainingMonitor(run.G, seed=3)
    assert a.samples.value == b.samples.value != TrainingMonitor(run.G, seed=4).samples.value
    for training in (True, False):  # drawing (in eval mode) leaves G's mode as it found it
        run.G.train(training)
        a.draw_samples()
        assert run.G.training is training


def test_curves_png_handles_an_empty_and_a_full_history():
    empty, full = curves_png({"step": []}), curves_png({"step": [1, 2], "loss_D": [1.3, 1.2], "D(x)": [0.6, 0.5]})
    assert empty[:4] == full[:4] == b"\x89PNG" and empty != full


def test_start_trains_in_a_thread_and_stop_ends_it():
    run = new_run(DATA, CONFIG, device="cpu")
    config = dataclasses.replace(CONFIG, num_steps=10_000)
    steps = []

    def train_fn(callbacks, stop_event):
        callbacks = [*callbacks, lambda step, h: steps.append(step) or (step >= 4 and monitor.stop_button.click())]
        return train_gan(DATA, config, run=run, device="cpu", callbacks=callbacks, stop_event=stop_event,
                         progress=False)

    monitor = TrainingMonitor(run.G, train_fn)
    monitor.start_button.click()
    assert monitor.start_button.disabled or not monitor.running
    monitor.join(timeout=60)
    assert not monitor.running and monitor.error is None
    assert steps[-1] < 100 and run.history["step"][-1] == steps[-1]
    assert "stopped" in monitor.status.value and not monitor.start_button.disabled
    monitor.start()  # a second Start continues the same run
    monitor.stop()
    monitor.join(timeout=60)
    assert run.history["step"][-1] > steps[0]


def test_an_error_in_the_thread_is_shown_not_lost(capsys):
    def diverging(callbacks, stop_event):
        raise TrainingDiverged("Training diverged at step 3")

    monitor = TrainingMonitor(new_run(DATA, CONFIG, device="cpu").G, diverging)
    monitor.start()
    monitor.join(timeout=30)
    assert isinstance(monitor.error, TrainingDiverged) and "diverged at step 3" in monitor.status.value
    assert not monitor.start_button.disabled
    capsys.readouterr()
