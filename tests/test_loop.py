"""The generic fit loop: history, callbacks, checkpoints, resume, NaN guard, Ctrl-C, stop."""

import threading

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import checkpoints
from gan_lab.models.mlp import MLPGenerator
from gan_lab.train.loop import TimeLimit, TrainingDiverged, fit, run_progress, sample_batch


def _problem(seed=0):
    """A registered model, its optimiser and a regression step: loss = ‖G(z) − target‖²."""
    torch.manual_seed(seed)
    G = MLPGenerator(z_dim=3, out_shape=(2,), width=8, out_activation="none")
    opt = torch.optim.Adam(G.parameters(), 1e-2)

    def step_fn(step):
        z = torch.randn(16, 3)
        loss = (G(z) - 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "step_seen": float(step)}

    return G, opt, step_fn


def _fit(step_fn, G, opt, num_steps, **kw):
    kw.setdefault("progress", False)
    return fit(step_fn, num_steps, models={"G": G}, optimizers={"G": opt}, **kw)


def test_history_averages_every_log_every_steps():
    G, opt, step_fn = _problem()
    history = _fit(step_fn, G, opt, 25, log_every=10)
    assert history["step"] == [10, 20, 25]
    assert history["step_seen"] == [5.5, 15.5, 23.0]  # means of steps 1..10, 11..20, 21..25
    assert history["loss"][-1] < history["loss"][0]


def test_callbacks_every_n_and_at_the_end():
    G, opt, step_fn = _problem()
    seen = []
    _fit(step_fn, G, opt, 25, callbacks=[lambda s, h: seen.append((s, h["step"][-1]))], callback_every=10)
    assert seen == [(10, 10), (20, 20), (25, 25)]


def test_checkpoint_every_n(tmp_path, monkeypatch):
    G, opt, step_fn = _problem()
    saved = []
    real_save = checkpoints.save_checkpoint
    monkeypatch.setattr(checkpoints, "save_checkpoint", lambda *a, step, **k: saved.append(step) or real_save(
        *a, step=step, **k))
    _fit(step_fn, G, opt, 25, checkpoint_dir=tmp_path, checkpoint_every=10)
    assert saved == [10, 20, 25]
    assert checkpoints.load_checkpoint(tmp_path).step == 25


def test_resume_continues_to_num_steps_and_matches_an_uninterrupted_run(tmp_path):
    G, opt, step_fn = _problem()
    straight = _fit(step_fn, G, opt, 20, checkpoint_dir=tmp_path / "a", checkpoint_every=10)
    G1, opt1, step_fn1 = _problem()
    _fit(step_fn1, G1, opt1, 10, checkpoint_dir=tmp_path / "b")
    G2, opt2, step_fn2 = _problem(seed=123)  # different initial weights and RNG: resume must restore both
    resumed = _fit(step_fn2, G2, opt2, 20, checkpoint_dir=tmp_path / "b", resume=True)
    assert resumed == straight
    for p, q in zip(G.parameters(), G2.parameters()):
        assert torch.equal(p, q)


def test_nan_loss_raises_and_keeps_the_last_checkpoint(tmp_path):
    G, opt, step_fn = _problem()

    def diverging(step):
        out = step_fn(step)
        return {**out, "loss": torch.tensor(float("nan"))} if step > 12 else out

    with pytest.raises(TrainingDiverged, match=r"step 15.*loss.*last checkpoint \(step 10\) is intact"):
        _fit(diverging, G, opt, 30, checkpoint_dir=tmp_path, checkpoint_every=10, log_every=5)
    assert checkpoints.load_checkpoint(tmp_path).step == 10


def test_nan_weights_are_never_saved(tmp_path):
    G, opt, step_fn = _problem()
    _fit(step_fn, G, opt, 5, checkpoint_dir=tmp_path)

    def poison(step):
        with torch.no_grad():
            next(G.parameters()).fill_(float("inf"))
        return {"loss": 0.0}

    with pytest.raises(TrainingDiverged, match="'G' has NaN/inf weights"):
        _fit(poison, G, opt, 10, checkpoint_dir=tmp_path, log_every=100)
    ckpt = checkpoints.load_checkpoint(tmp_path)
    assert ckpt.step == 5 and all(torch.isfinite(p).all() for p in ckpt.models["G"].parameters())


def test_keyboard_interrupt_keeps_weights_history_and_a_checkpoint(tmp_path, capsys):
    G, opt, step_fn = _problem()

    def interrupted(step):
        if step == 7:
            raise KeyboardInterrupt
        return step_fn(step)

    history = _fit(interrupted, G, opt, 20, checkpoint_dir=tmp_path, log_every=5)
    assert history["interrupted"] is True
    assert history["step"] == [5, 6]
    ckpt = checkpoints.load_checkpoint(tmp_path)
    assert ckpt.step == 6 and ckpt.history["interrupted"] is True
    assert torch.equal(ckpt.models["G"].net[0].weight, G.net[0].weight)
    assert "Interrupted at step 6" in capsys.readouterr().out


def test_stop_event_ends_after_the_current_step():
    G, opt, step_fn = _problem()
    stop = threading.Event()
    seen = []

    def stopping(step):
        if step == 4:
            stop.set()
        return step_fn(step)

    history = _fit(stopping, G, opt, 100, stop_event=stop, callbacks=[lambda s, h: seen.append(s)])
    assert history["step"] == [4] and seen == [4]


def test_a_time_limit_ends_training_after_the_step_that_crosses_it(tmp_path):
    clock = [100.0]  # a fake clock: every step takes one second, and nothing else takes any time
    G, opt, step_fn = _problem()

    def one_second(step):
        clock[0] += 1.0
        return step_fn(step)

    limit = TimeLimit(5.5, clock=lambda: clock[0])
    clock[0] += 60.0  # before the first step: loading data, restoring a checkpoint; not counted
    history = _fit(one_second, G, opt, 100, stop_event=limit, checkpoint_dir=tmp_path, log_every=1)
    assert history["step"][-1] == 6 and limit.reached  # 6 s ≥ 5.5 s after step 6
    assert checkpoints.load_checkpoint(tmp_path).step == 6
    roomy = TimeLimit(1000, clock=lambda: clock[0])
    history = _fit(one_second, G, opt, 10, stop_event=roomy)
    assert history["step"][-1] == 10 and not roomy.reached  # the step count ended this one


def test_a_run_s_progress_is_its_steps_or_its_time_whichever_is_further():
    clock = [10.0]
    limit = TimeLimit(8, clock=lambda: clock[0])
    assert limit.fraction() == 0  # before the first step asks
    assert run_progress(1, 100) == 0 and run_progress(51, 100) == 0.5 and run_progress(5, 100, limit) == 0.04
    limit.is_set()  # the first step starts the clock
    clock[0] += 2
    assert limit.fraction() == 0.25 and run_progress(5, 100, limit) == 0.25  # the clock is further
    assert run_progress(91, 100, limit) == 0.9  # the steps are
    assert run_progress(5, 100, threading.Event()) == 0.04  # an event without a clock: steps only


@pytest.mark.parametrize("seconds", [0, -1, "60", True, float("nan")])
def test_a_time_limit_must_be_a_positive_number(seconds):
    with pytest.raises(ValueError, match="a time limit must be a number of seconds > 0"):
        TimeLimit(seconds)
    assert TimeLimit(np.int64(2)).seconds == 2.0  # any real number: a value read from a NumPy array too


def test_a_given_history_continues_its_count():
    G, opt, step_fn = _problem()
    history = _fit(step_fn, G, opt, 10, log_every=5)
    history = _fit(step_fn, G, opt, 20, log_every=5, history=history)
    assert history["step"] == [5, 10, 15, 20]


def test_sample_batch_keeps_rows_aligned():
    x, y = torch.arange(50.0).view(50, 1), torch.arange(50)
    xb, yb = sample_batch(x, 32, y)
    assert xb.shape == (32, 1) and torch.equal(xb[:, 0].long(), yb)


def test_a_non_registered_model_cannot_be_checkpointed(tmp_path):
    with pytest.raises(TypeError, match="@register"):
        fit(lambda s: {"loss": 0.0}, 1, models={"m": nn.Linear(2, 2)}, checkpoint_dir=tmp_path, progress=False)


def test_what_a_callback_adds_to_the_history_is_checkpointed(tmp_path):
    G, opt, step_fn = _problem()

    def metric(step, history):
        history.setdefault("metric_step", []).append(step)

    _fit(step_fn, G, opt, 20, checkpoint_dir=tmp_path, checkpoint_every=10, callbacks=[metric], callback_every=10)
    assert checkpoints.load_checkpoint(tmp_path).history["metric_step"] == [10, 20]
