"""gan_lab.precision: bf16 autocast for every training step through fit, chosen once, refused where it cannot run."""

import json
import warnings

import pytest
import torch

from gan_lab import cli, precision
from gan_lab.device import setup
from gan_lab.train.gan import GANConfig, load_gan, train_gan
from gan_lab.train.loop import fit
from gan_lab.train.wgan import WGANConfig, train_wgan

TINY_GAN = GANConfig(width=4, z_dim=8, batch_size=8, num_steps=4, log_every=1)


@pytest.fixture(autouse=True)
def restore_precision(monkeypatch):
    """Each test starts from "nothing chosen" and leaves the process as it found it."""
    monkeypatch.setattr(precision, "_current", None)
    monkeypatch.delenv("GAN_LAB_PRECISION", raising=False)


@pytest.fixture
def images():
    return torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_autocast_runs_layers_in_bf16_only_when_asked():
    layer, x = torch.nn.Linear(4, 2), torch.randn(3, 4)
    with precision.autocast("cpu", "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with precision.autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32


def test_an_unknown_precision_names_the_choices(monkeypatch):
    with pytest.raises(precision.PrecisionError, match="use one of .*fp32.*bf16"):
        precision.check_precision("fp16")
    monkeypatch.setenv("GAN_LAB_PRECISION", "half")
    with pytest.raises(precision.PrecisionError, match="'half'"):
        setup(device="cpu", verbose=False)


def test_bf16_is_refused_on_a_gpu_older_than_ampere_and_on_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    with pytest.raises(precision.PrecisionError, match="Tesla V100 has no bf16.*precision='fp32'"):
        precision.check_precision("bf16", "cuda")
    assert precision.check_precision("fp32", "cuda") == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert precision.check_precision("bf16", "cuda") == "bf16" and precision.native_bf16("cuda")
    with pytest.raises(precision.PrecisionError, match="not on mps"):
        precision.check_precision("bf16", "mps")


@pytest.mark.parametrize("avx512_bf16, amx, native", [(False, False, False), (True, False, True), (False, True, True)])
def test_native_bf16_on_the_cpu_follows_its_instruction_sets(monkeypatch, avx512_bf16, amx, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert precision.native_bf16("cpu") is native
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        precision.set_precision("bf16")
    assert any("emulated" in str(w.message) for w in caught) is not native
    assert ("emulated" in precision.describe_precision("cpu")) is not native
    precision.set_precision("fp32")
    assert ("precision='bf16'" in precision.describe_precision("cpu")) is native


def test_setup_chooses_the_precision_and_an_argument_beats_the_environment(monkeypatch):
    monkeypatch.setenv("GAN_LAB_PRECISION", "bf16")
    setup(device="cpu", verbose=False)
    assert precision.get_precision() == "bf16"
    setup(device="cpu", verbose=False, precision="fp32")
    assert precision.get_precision() == "fp32"


def _autocast_seen(**kwargs) -> list[bool]:
    model, seen = torch.nn.Linear(2, 2), []

    def step(i):
        seen.append(torch.is_autocast_enabled("cpu"))
        return {"loss": model(torch.randn(4, 2)).float().pow(2).mean()}

    fit(step, 3, models={"m": model}, progress=False, **kwargs)
    return seen


def test_fit_runs_every_step_in_the_chosen_precision():
    assert _autocast_seen(precision="bf16") == [True] * 3
    assert _autocast_seen(precision="fp32") == [False] * 3
    assert _autocast_seen() == [False] * 3  # the default
    precision.set_precision("bf16")
    assert _autocast_seen() == [True] * 3  # what setup chose
    assert not torch.is_autocast_enabled("cpu")  # and nothing leaks out of fit


def test_bf16_training_changes_the_arithmetic_but_keeps_float32_weights_and_checkpoints(tmp_path, images):
    fp32 = train_gan(images, TINY_GAN, device="cpu", progress=False)
    precision.set_precision("bf16")
    bf16 = train_gan(images, TINY_GAN, device="cpu", progress=False, checkpoint_dir=tmp_path / "run")
    weights = dict(bf16.G.named_parameters())
    assert all(p.dtype == torch.float32 for p in weights.values())
    assert any(not torch.equal(p, weights[name]) for name, p in fp32.G.named_parameters())  # bf16 really ran
    assert all(torch.isfinite(torch.tensor(bf16.history[k])).all() for k in ("loss_D", "loss_G"))
    assert bf16.sample(4, seed=0).dtype == torch.float32
    loaded = load_gan(tmp_path / "run", device="cpu")
    assert all(torch.equal(p, weights[name]) for name, p in loaded.G.named_parameters())


def test_a_resumed_bf16_run_repeats_an_uninterrupted_one(tmp_path, images):
    precision.set_precision("bf16")
    whole = train_gan(images, TINY_GAN, device="cpu", progress=False)
    half = GANConfig(**{**TINY_GAN.__dict__, "num_steps": 2})
    train_gan(images, half, device="cpu", progress=False, checkpoint_dir=tmp_path / "run")
    resumed = train_gan(images, TINY_GAN, device="cpu", progress=False, checkpoint_dir=tmp_path / "run", resume=True)
    for (name, p), q in zip(whole.G.named_parameters(), resumed.G.parameters()):
        assert torch.equal(p, q), name


def test_the_gradient_penalty_trains_under_bf16(images):
    precision.set_precision("bf16")
    config = WGANConfig(mode="gp", width=4, z_dim=8, batch_size=8, num_steps=3, n_critic=2, log_every=1)
    run = train_wgan(images, config, device="cpu", progress=False)
    assert all(torch.isfinite(torch.tensor(v)).all() for k, v in run.history.items() if k != "step")
    assert run.history["gp"][-1] > 0 and run.history["grad_norm_mean"][-1] > 0


def test_the_command_line_trains_in_bf16_and_records_it(tmp_path, monkeypatch, images, capsys):
    import gan_lab.data
    from gan_lab.data.base import ImageData

    monkeypatch.setattr(gan_lab.data, "load", lambda name, **kw: ImageData(
        images, torch.zeros(len(images), dtype=torch.long), ["x"], name, "real: test"))
    tiny = ["--steps", "2", "--width", "4", "--z-dim", "8", "--batch-size", "8", "--device", "cpu", "--quiet",
            "--fid-n", "0"]
    assert cli.main(["train", "dcgan", "--out", str(tmp_path / "bf16"), *tiny, "--precision", "bf16"]) == 0
    assert json.loads((tmp_path / "bf16" / "metrics.json").read_text())["precision"] == "bf16"
    assert cli.main(["train", "dcgan", "--out", str(tmp_path / "fp32"), *tiny]) == 0
    assert json.loads((tmp_path / "fp32" / "metrics.json").read_text())["precision"] == "fp32"


def test_doctor_reports_the_precision_and_rejects_a_bad_one(monkeypatch):
    from gan_lab import doctor

    ok, found, _ = doctor.check_precision()
    assert ok and found.startswith("fp32")
    monkeypatch.setenv("GAN_LAB_PRECISION", "fp8")
    ok, found, fix = doctor.check_precision()
    assert not ok and "'fp8'" in found and "GAN_LAB_PRECISION" in fix
