"""The command line: train → run folder, sample → PNG / npz, pretrain, and one-line errors with exit code 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import gan_lab.data
from gan_lab import checkpoints, cli
from gan_lab.data.base import ImageData

TINY_BASE = ["--steps", "4", "--width", "4", "--z-dim", "8", "--batch-size", "8", "--device", "cpu", "--quiet"]
TINY = [*TINY_BASE, "--fid-n", "0"]  # FID/KID has its own test below


@pytest.fixture
def fake_data(monkeypatch):
    """Replace the data layer by 40 random images with the requested channel count."""
    def load(name, split="train", size=28, **kwargs):
        if name not in ("pneumoniamnist", "pathmnist"):
            raise gan_lab.data.DataError(f"Unknown dataset {name!r}.")
        channels = 3 if name == "pathmnist" else 1
        images = torch.rand(40, channels, size, size) * 2 - 1
        return ImageData(images, torch.zeros(40, dtype=torch.long), ["x"], name, "real: test")
    monkeypatch.setattr(gan_lab.data, "load", load)


def test_train_writes_the_run_folder(tmp_path, fake_data):
    out = tmp_path / "run"
    assert cli.main(["train", "dcgan", "--data", "pneumoniamnist", "--out", str(out), *TINY]) == 0
    assert {"checkpoint.json", "samples.png", "losses.png", "metrics.json"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["images_per_second"] > 0 and metrics["seconds"] > 0
    assert {"loss_D", "loss_G", "D(x)", "D(G(z))"} <= set(metrics["final"])
    assert metrics["config"]["width"] == 4 and metrics["data"] == "pneumoniamnist"
    assert Image.open(out / "samples.png").size[0] > 28 * 8


def test_the_learning_rate_and_the_average_are_set_from_the_command_line(tmp_path, fake_data):
    out = tmp_path / "run"
    assert cli.main(["train", "dcgan", "--out", str(out), *TINY, "--lr", "3e-4", "--ema-decay", "0.98",
                     "--decay-start", "0.5"]) == 0
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert (config["lr_G"], config["lr_D"], config["ema_decay"], config["decay_start"]) == (3e-4, 3e-4, 0.98, 0.5)
    # one history entry, the mean over the 4 steps of factors 1, 1, 1, 0.5 (step s begins (s − 1)/4 of the way)
    assert checkpoints.load_checkpoint(out).history["lr_factor"] == [pytest.approx(0.875)]
    assert cli.main(["train", "dcgan", "--out", str(tmp_path / "raw"), *TINY, "--ema-decay", "0"]) == 0
    assert "G_ema" not in json.loads((tmp_path / "raw" / "checkpoint.json").read_text())["models"]


def test_resume_continues_to_the_new_step_count(tmp_path, fake_data):
    out = str(tmp_path / "run")
    assert cli.main(["train", "mlp", "--out", out, *TINY]) == 0
    assert cli.main(["train", "mlp", "--out", out, *TINY, "--resume", "--steps", "6"]) == 0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 6


@pytest.mark.parametrize("data, shape", [("pneumoniamnist", (5, 28, 28)), ("pathmnist", (5, 28, 28, 3))])
def test_sample_to_npz_uses_the_medmnist_layout(tmp_path, fake_data, data, shape):
    run = str(tmp_path / "run")
    cli.main(["train", "dcgan", "--data", data, "--out", run, *TINY])
    assert cli.main(["sample", run, "--n", "5", "--out", str(tmp_path / "s.npz"), "--device", "cpu"]) == 0
    with np.load(tmp_path / "s.npz") as npz:
        assert npz.files == ["images"]
        assert npz["images"].dtype == np.uint8 and npz["images"].shape == shape
    assert cli.main(["sample", run, "--n", "6", "--out", str(tmp_path / "g.png"), "--scale", "1"]) == 0
    assert Image.open(tmp_path / "g.png").size == (3 * 29 + 1, 2 * 29 + 1)  # 3 per row, 1-px gaps


@pytest.mark.parametrize("argv, message", [
    (["train", "dcgan", "--data", "nosuchmnist", "--out", "{tmp}/r"], "Unknown dataset 'nosuchmnist'"),
    (["train", "dcgan", "--lr", "-1", "--out", "{tmp}/r"], "argument --lr: -1 is out of range"),
    (["train", "dcgan", "--resume", "--out", "{tmp}/r"], "holds no checkpoint"),
    (["sample", "{tmp}/missing"], "does not exist"),
    (["sample", "{tmp}", "--out", "x.jpg"], "must end in .png"),
    (["sample", "{tmp}"], "No checkpoint in"),
    (["pretrain", "--only", "no_such_checkpoint"], "unknown checkpoint no_such_checkpoint"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, fake_data, capsys, argv, message):
    assert cli.main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_size_is_rejected_by_argparse(capsys):
    assert cli.main(["train", "dcgan", "--size", "30", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 30" in err and err.count("\n") == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_usage_error(tmp_path, fake_data, capsys):
    assert cli.main(["train", "mlp", "--out", str(tmp_path / "r"), *TINY, "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_pretrain_lists_the_notebook_checkpoints(capsys):
    assert cli.main(["pretrain", "--list"]) == 0
    assert "02_dcgan" in capsys.readouterr().out


def test_every_subcommand_has_help_with_an_example(capsys):
    for command in ("train", "sample", "pretrain"):
        assert cli.main([command, "--help"]) == 0
        assert "example:" in capsys.readouterr().out


def test_end_to_end_as_a_module(tmp_path, shared_data):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "gan_lab", "train", "dcgan", "--data", "pneumoniamnist",
                          "--out", str(tmp_path / "run"), *TINY], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["data_source"].startswith("real")
    bad = subprocess.run([sys.executable, "-m", "gan_lab", "sample", str(tmp_path / "nothing")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_doctor_exit_code_follows_its_verdict(monkeypatch):
    import gan_lab.cli.doctor

    monkeypatch.setattr(gan_lab.cli.doctor, "run_doctor", lambda: False)
    assert cli.main(["doctor"]) == 1
    monkeypatch.setattr(gan_lab.cli.doctor, "run_doctor", lambda: True)
    assert cli.main(["doctor"]) == 0


def test_missing_real_data_names_the_command_line_fixes(tmp_path, monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise gan_lab.data.DataUnavailableError("MedMNIST file pneumoniamnist.npz not found.")

    monkeypatch.setattr(gan_lab.data, "load", missing)
    assert cli.main(["train", "dcgan", "--out", str(tmp_path / "r"), *TINY]) == 2
    assert "--download, or --fallback" in capsys.readouterr().err


def test_train_adds_fid_and_kid_to_the_metrics(tmp_path, shared_data):
    out = tmp_path / "run"
    args = ["train", "dcgan", "--data", "pneumoniamnist", "--out", str(out), *TINY_BASE, "--fid-n", "200"]
    assert cli.main(args) == 0
    quality = json.loads((out / "metrics.json").read_text())["sample_quality"]
    assert quality["n"] == 200 and quality["kid"] > 0
    assert quality["fid"] > 5 * quality["fid_real_baseline"]  # 4 steps of a tiny G are far from held-out real images


def test_fid_is_skipped_with_a_reason_after_a_phantom_fallback(tmp_path, no_real_data):
    out = tmp_path / "run"
    code = cli.main(["train", "dcgan", "--data", "pneumoniamnist", "--fallback", "--out", str(out), *TINY_BASE])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_source"].startswith("phantom") and "phantom" in metrics["sample_quality"]["skipped"]


def test_an_rgb_medmnist_flag_trains_through_the_defaults(tmp_path, no_real_data, monkeypatch):
    # a DermaMNIST-shaped file (RGB, 7 classes) in the official layout: the default DCGAN, its EMA and FID/KID
    # (with a domain network trained on the file's RGB images) run with no setting changed but the step count
    rng = np.random.default_rng(0)
    folder = tmp_path / "shared" / "medmnist"
    folder.mkdir(parents=True)
    np.savez(folder / "dermamnist.npz", **{f"{split}_{kind}": (rng.integers(0, 256, (n, 28, 28, 3), dtype=np.uint8)
                                                               if kind == "images" else
                                                               rng.integers(0, 7, (n, 1), dtype=np.uint8))
                                           for split, n in (("train", 64), ("val", 32), ("test", 32))
                                           for kind in ("images", "labels")})
    from gan_lab.data import medmnist

    official = medmnist.medmnist_info()["dermamnist"]["MD5"]
    monkeypatch.setattr(medmnist, "file_md5", lambda path: official)  # our stand-in passes as the official file
    monkeypatch.setenv("GAN_LAB_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("GAN_LAB_FAST", "1")  # the domain network's short FAST training
    out = tmp_path / "run"
    assert cli.main(["train", "dcgan", "--data", "dermamnist", "--out", str(out), "--steps", "3", "--quiet",
                     "--device", "cpu", "--fid-n", "32"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == "dermamnist" and metrics["data_source"].startswith("real")
    assert metrics["config"] == {**metrics["config"], "width": 32, "batch_size": 32, "lr_G": 4e-4,
                                 "ema_decay": 0.995}
    assert np.isfinite(metrics["sample_quality"]["fid"]) and metrics["sample_quality"]["n"] == 32
    assert cli.main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.npz"), "--device", "cpu"]) == 0
    with np.load(tmp_path / "s.npz") as npz:
        assert npz["images"].shape == (4, 28, 28, 3)
