"""Nothing a user made is lost, and every bad input is a one-line error with exit code 2.

Each case of the table in the issue this answers: the run folder is the user's, output locations are
checked before any work, --resume continues only the same run, numbers are range-checked in the parser,
and SIGTERM / kill -9 of a real training process leave a checkpoint that loads, samples and resumes.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import gan_lab.cli.commands
import gan_lab.data
import gan_lab.metrics  # noqa: F401  imported before fake_data patches gan_lab.data.load: it binds load by name
from gan_lab import checkpoints, cli
from gan_lab.data.base import ImageData
from gan_lab.models.mlp import MLPDiscriminator
from gan_lab.train.gan import GANConfig
from gan_lab.train.loop import Terminated, fit

TINY = ["--steps", "4", "--width", "4", "--z-dim", "8", "--batch-size", "8", "--device", "cpu", "--quiet",
        "--fid-n", "0"]


@pytest.fixture
def fake_data(monkeypatch):
    """40 random images for any dataset name, the same at every load (a resumed run finds its data again);
    ``calls`` counts the loads."""
    calls = []

    def load(name, split="train", size=28, **kwargs):
        calls.append(name)
        images = torch.rand(40, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        return ImageData(images, torch.zeros(40, dtype=torch.long), ["x"], name, "real: test")
    monkeypatch.setattr(gan_lab.data, "load", load)
    return calls


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv, flag", [
    (["train", "dcgan", "--seed", "-1"], "--seed"),
    (["train", "dcgan", "--seed", str(2**70)], "--seed"),
    (["train", "dcgan", "--lr", "nan"], "--lr"),
    (["train", "dcgan", "--lr", "inf"], "--lr"),
    (["train", "dcgan", "--ema-decay", "1"], "--ema-decay"),
    (["train", "dcgan", "--ema-decay", "-0.1"], "--ema-decay"),
    (["train", "dcgan", "--decay-start", "1.5"], "--decay-start"),
    (["train", "dcgan", "--decay-start", "-0.1"], "--decay-start"),
    (["train", "dcgan", "--batch-size", "100000"], "--batch-size"),
    (["train", "dcgan", "--steps", "-5"], "--steps"),
    (["train", "dcgan", "--width", "0"], "--width"),
    (["train", "dcgan", "--fid-n", "-1"], "--fid-n"),
    (["train", "dcgan", "--device", ""], "--device"),
    (["train", "dcgan", "--k", "two"], "--k"),
    (["train", "dcgan", "--minutes", "0"], "--minutes"),
    (["train", "dcgan", "--minutes", "nan"], "--minutes"),
    (["sample", "RUN", "--n", "1000000000"], "--n"),
    (["sample", "RUN", "--scale", "1000"], "--scale"),
    (["sample", "RUN", "--seed", "-3"], "--seed"),
    (["evaluate", "RUN", "--n", "1"], "--n"),
    (["explore", "--port", "70000"], "--port"),
])
def test_bad_numbers_are_refused_by_the_parser_in_one_line(tmp_path, fake_data, capsys, argv, flag):
    argv = [a.replace("RUN", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "run")]
    assert cli.main(argv) == 2
    _one_line_error(capsys, f"argument {flag}", "--help")
    assert not fake_data and not (tmp_path / "run").exists()  # refused before any data was loaded


def test_a_folder_holding_a_run_is_never_replaced_silently(tmp_path, fake_data, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 2
    _one_line_error(capsys, "already holds a run", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_overwrite_replaces_the_run_but_keeps_the_users_files(tmp_path, fake_data, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 0
    (out / "notes.txt").write_text("my notes")
    (out / "weights-best.safetensors").write_bytes(b"my best weights")
    for old in ("evaluation.json", "two_sample.png"):  # what `evaluate` wrote about the old run goes with it
        (out / old).write_text("about the old run")
    assert cli.main(["train", "mlp", "--out", str(out), *TINY, "--overwrite", "--seed", "1"]) == 0
    assert not (out / "evaluation.json").exists() and not (out / "two_sample.png").exists()
    assert (out / "notes.txt").read_text() == "my notes"
    assert (out / "weights-best.safetensors").read_bytes() == b"my best weights"
    assert checkpoints.stored_config(out)["gan"]["seed"] == 1


def test_a_non_empty_folder_without_a_run_is_refused(tmp_path, fake_data, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("...")
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 2
    _one_line_error(capsys, "not empty", "chapter1.tex")
    assert [p.name for p in out.iterdir()] == ["chapter1.tex"] and not fake_data


def test_an_unwritable_out_fails_before_the_data_is_loaded(tmp_path, fake_data, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    assert cli.main(["train", "mlp", "--out", str(blocker / "run"), *TINY]) == 2
    _one_line_error(capsys, "cannot be written")
    assert not fake_data
    assert cli.main(["train", "mlp", "--out", str(blocker), *TINY]) == 2
    _one_line_error(capsys, "is a file")


def test_resume_refuses_changed_settings_and_lists_them(tmp_path, fake_data, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "mlp", "--out", out, *TINY]) == 0
    capsys.readouterr()
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--resume", "--lr", "0.1"]) == 2
    _one_line_error(capsys, "other settings", f"gan.lr_G: {GANConfig.lr_G:g} → 0.1")
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--resume", "--data", "breastmnist"]) == 2
    _one_line_error(capsys, "data: pneumoniamnist → breastmnist")
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--resume", "--steps", "6"]) == 0  # steps may change


def test_sample_and_evaluate_check_where_they_write_before_working(tmp_path, fake_data, capsys, monkeypatch):
    run = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(run), *TINY]) == 0
    monkeypatch.setattr(gan_lab.cli.commands, "load_gan", lambda *a, **k: pytest.fail("loaded before the check"))
    (tmp_path / "file.txt").write_text("x")
    capsys.readouterr()
    assert cli.main(["sample", str(run), "--out", str(tmp_path / "file.txt" / "g.png")]) == 2
    _one_line_error(capsys, "cannot be written")
    (run / "evaluation.json").mkdir()
    assert cli.main(["evaluate", str(run), "--device", "cpu"]) == 2
    _one_line_error(capsys, "evaluation.json is a folder")


def test_evaluate_draws_what_gives_the_fakes_away(tmp_path, capsys, monkeypatch):
    from gan_lab.metrics import report
    from gan_lab.metrics.two_sample import two_sample_test
    from gan_lab.train.classifier import ClassifierConfig

    def evaluate_run(run_dir, on_two_sample=None, **kwargs):  # the real one trains a feature network: minutes
        gen = torch.Generator().manual_seed(0)
        real, fake = torch.rand(40, 1, 8, 8, generator=gen), torch.rand(40, 1, 8, 8, generator=gen) * 0.5
        tiny = ClassifierConfig(width=4, feature_dim=8, num_steps=5, batch_size=16)
        on_two_sample(two_sample_test(real, fake, cfg=tiny))
        return {"fid": 1.0}

    monkeypatch.setattr(report, "evaluate_run", evaluate_run)
    run = tmp_path / "run"
    run.mkdir()
    assert cli.main(["evaluate", str(run), "--device", "cpu"]) == 0
    assert (run / "two_sample.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "two_sample.png shows the held-out images" in capsys.readouterr().out
    (run / "two_sample.png").unlink()
    (run / "two_sample.png").mkdir()  # checked before the work, like evaluation.json
    monkeypatch.setattr(report, "evaluate_run", lambda *a, **k: pytest.fail("evaluated before the check"))
    assert cli.main(["evaluate", str(run), "--device", "cpu"]) == 2
    _one_line_error(capsys, "two_sample.png is a folder")


def test_a_time_limit_stops_training_saved_and_resumable(tmp_path, fake_data, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY, "--steps", "100000", "--minutes", "0.005"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["steps"] < 100_000 and metrics["time_limit"] == {"minutes": 0.005, "reached": True}
    assert checkpoints.load_checkpoint(out).step == metrics["steps"]  # the last step is saved
    assert f"Stopped at step {metrics['steps']} of 100000" in capsys.readouterr().out
    first = metrics["steps"]
    assert cli.main(["train", "mlp", "--out", str(out), *TINY, "--steps", str(first + 3), "--minutes", "10",
                     "--resume"]) == 0  # trains on; the step count ends it this time
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == first + 3 and metrics["time_limit"] == {"minutes": 10, "reached": False}
    assert metrics["resumed_from_step"] == first  # the throughput counts this invocation's 3 steps only
    # 3 steps of 16 images; "seconds" is rounded to 0.01 s, a large part of so short a run, so allow for that rounding
    seconds, throughput = metrics["seconds"], metrics["images_per_second"]
    assert 3 * 8 * 2 / (seconds + 0.005) <= throughput * 1.001
    assert seconds <= 0.005 or throughput <= 3 * 8 * 2 / (seconds - 0.005) * 1.001
    assert "Stopped at step" not in capsys.readouterr().out
    assert cli.main(["train", "mlp", "--out", str(tmp_path / "plain"), *TINY]) == 0
    assert "time_limit" not in json.loads((tmp_path / "plain" / "metrics.json").read_text())


def test_resume_up_to_a_step_the_run_has_reached_is_refused(tmp_path, fake_data, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--steps", "6"]) == 0
    before = (tmp_path / "run" / "metrics.json").read_text()
    capsys.readouterr()
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--resume"]) == 2  # TINY says --steps 4
    _one_line_error(capsys, "is at step 6 already", "--steps above it")
    assert (tmp_path / "run" / "metrics.json").read_text() == before  # nothing written again


def test_a_time_limit_is_refused_in_a_torchrun_job(tmp_path, fake_data, capsys, monkeypatch):
    for key, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["train", "mlp", "--out", str(tmp_path / "run"), *TINY, "--minutes", "1"]) == 2
    _one_line_error(capsys, "--minutes", "give --steps instead")
    assert not fake_data


def test_evaluate_without_the_two_sample_test(tmp_path, capsys, monkeypatch):
    from gan_lab.metrics import report

    calls = []
    monkeypatch.setattr(report, "evaluate_run", lambda run_dir, **kwargs: calls.append(kwargs) or {"fid": 1.0})
    run = tmp_path / "run"
    run.mkdir()
    (run / "two_sample.png").write_bytes(b"an earlier report's picture")
    assert cli.main(["evaluate", str(run), "--device", "cpu", "--no-two-sample"]) == 0
    assert calls[0]["two_sample"] is False and calls[0]["on_two_sample"] is None
    assert not (run / "two_sample.png").exists()  # it no longer matched evaluation.json
    assert "without the two-sample test" in capsys.readouterr().out
    (run / "two_sample.png").mkdir()  # not written this time, so not in the way either
    assert cli.main(["evaluate", str(run), "--device", "cpu", "--no-two-sample"]) == 0


def test_student_notebooks_checks_its_folder_first(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert cli.main(["student-notebooks", str(tmp_path / "file.txt" / "out")]) == 2
    _one_line_error(capsys, "cannot be written")


def test_out_of_memory_is_one_line_naming_the_flag(tmp_path, fake_data, capsys, monkeypatch):
    def oom(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(gan_lab.cli.commands, "train_gan", oom)
    assert cli.main(["train", "mlp", "--out", str(tmp_path / "run"), *TINY]) == 2
    _one_line_error(capsys, "out of memory", "--batch-size")


def test_sigterm_during_fit_saves_the_last_step_then_ends(tmp_path):
    """Before the first periodic checkpoint: the signal still leaves one, and the process still ends."""
    w = MLPDiscriminator(in_shape=(2,), width=4)
    opt = torch.optim.SGD(w.parameters(), 0.1)

    def step_fn(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        loss = w(torch.randn(4, 2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stop:
        fit(step_fn, 100, models={"w": w}, optimizers={"w": opt}, checkpoint_dir=tmp_path, checkpoint_every=50,
            progress=False)
    assert stop.value.signum == signal.SIGTERM and signal.getsignal(signal.SIGTERM) == before
    assert checkpoints.load_checkpoint(tmp_path).step in (2, 3)


# ------------------------------------------------------------------ a real training process, killed at random
def _start_training(out: Path, steps: int) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GAN_LAB_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gan_lab", "train", "mlp", "--data", "phantoms", "--out", str(out),
                             "--steps", str(steps), "--width", "4", "--z-dim", "8", "--batch-size", "8",
                             "--device", "cpu", "--fid-n", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=env)
    seen: list[str] = []

    def read():  # tqdm draws with \r, so read characters, not lines
        while chunk := proc.stderr.read1(256):
            seen.append(chunk.decode(errors="replace"))
    threading.Thread(target=read, daemon=True).start()
    return proc, seen


def _wait_until_training(proc, seen, timeout=120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if "GAN" in "".join(seen):  # the progress bar "mlp GAN: ..." is drawn once fit runs
            return True
        time.sleep(0.05)
    return False


def _wait_for(condition, timeout=120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def _assert_loads_samples_and_resumes(out: Path, tmp_path: Path):
    saved = checkpoints.load_checkpoint(out).step
    assert saved >= 1
    assert cli.main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png"), "--device", "cpu"]) == 0
    steps = saved + 20  # --steps may grow on --resume
    assert cli.main(["train", "mlp", "--data", "phantoms", "--out", str(out), "--steps", str(steps), "--width",
                     "4", "--z-dim", "8", "--batch-size", "8", "--device", "cpu", "--quiet", "--fid-n", "0",
                     "--resume"]) == 0
    assert checkpoints.load_checkpoint(out).step == steps
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # a save cleaned up any leftovers


@pytest.mark.slow
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "kill-9"])
def test_a_killed_training_process_leaves_a_checkpoint_that_loads_samples_and_resumes(tmp_path, kill):
    rng, steps, checked = random.Random(kill), 100_000, 0
    for attempt in range(3):  # bounded: three random moments per signal
        out = tmp_path / f"run{attempt}"
        proc, seen = _start_training(out, steps)
        assert _wait_until_training(proc, seen), "".join(seen)[-2000:]
        if attempt:  # the first attempt strikes before the first periodic save, the others after it
            _wait_for(lambda run=out: checkpoints.exists(run))
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(kill)
        code = proc.wait(timeout=120)
        if kill == signal.SIGTERM:
            assert code == 143, "".join(seen)[-2000:]
        else:
            assert code == -signal.SIGKILL
        if not checkpoints.exists(out):  # kill -9 before the first periodic save: nothing saved, nothing damaged
            assert kill == signal.SIGKILL and not list(out.glob("weights-*.safetensors"))
            continue
        _assert_loads_samples_and_resumes(out, tmp_path)
        checked += 1
    assert checked, "no attempt left a checkpoint to check"


def test_ctrl_c_saves_and_exits_130(tmp_path, fake_data, monkeypatch):
    import gan_lab.train.gan as gan

    real_g_step, calls = gan.g_step, []

    def interrupt_at_step_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_g_step(*args, **kwargs)

    monkeypatch.setattr(gan, "g_step", interrupt_at_step_3)
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY[:1], "50", *TINY[2:]]) == 130
    assert checkpoints.load_checkpoint(out).step == 2
    monkeypatch.setattr(gan, "g_step", real_g_step)
    assert cli.main(["train", "mlp", "--out", str(out), *TINY[:1], "50", *TINY[2:], "--resume"]) == 0


def test_pretrain_checks_its_checkpoint_folder_before_training(tmp_path, capsys, monkeypatch):
    from gan_lab import config
    from gan_lab.course import pretrained

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(config, "CHECKPOINT_DIR", blocker / "checkpoints")
    monkeypatch.setitem(pretrained.PRETRAINED, "02_mlp_gan",
                        pretrained.Pretrained("", lambda: pytest.fail("trained before the check")))
    assert cli.main(["pretrain", "--only", "02_mlp_gan"]) == 2
    _one_line_error(capsys, "checkpoint folder", "cannot be written")


def test_resume_of_a_run_made_by_an_older_gan_lab_says_so(tmp_path, fake_data, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 0
    index = json.loads((out / "checkpoint.json").read_text())
    del index["config"]["gan"]["ema_decay"], index["config"]["data_fingerprint"]  # what an older version wrote
    (out / "checkpoint.json").write_text(json.dumps(index))
    capsys.readouterr()
    assert cli.main(["train", "mlp", "--out", str(out), *TINY, "--resume"]) == 2
    _one_line_error(capsys, "older version of gan_lab", "--overwrite")


def test_resume_of_a_run_from_before_an_option_existed_continues_when_the_option_is_off(tmp_path, fake_data):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 0
    index = json.loads((out / "checkpoint.json").read_text())
    del index["config"]["gan"]["width_D"]  # written before D could have its own width; absent meant "as G"
    (out / "checkpoint.json").write_text(json.dumps(index))
    assert TINY[:2] == ["--steps", "4"]
    assert cli.main(["train", "mlp", "--out", str(out), "--steps", "6", *TINY[2:], "--resume"]) == 0
    assert checkpoints.load_checkpoint(out).step == 6


def test_resume_says_when_no_flag_can_match_the_stored_run(tmp_path, fake_data, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "mlp", "--out", str(out), *TINY]) == 0
    written = json.loads((out / "checkpoint.json").read_text())
    newer = lambda c: c["gan"].update(future_option=1)  # a setting this version does not know
    other_kind = lambda c: c.update(wgan=c.pop("gan"))
    for edit, words in [(newer, ("another version", "future_option", "--overwrite")),
                        (other_kind, ("another kind", "wgan", "--out"))]:
        index = json.loads(json.dumps(written))
        edit(index["config"])
        (out / "checkpoint.json").write_text(json.dumps(index))
        capsys.readouterr()
        assert cli.main(["train", "mlp", "--out", str(out), *TINY, "--resume"]) == 2
        _one_line_error(capsys, *words)
