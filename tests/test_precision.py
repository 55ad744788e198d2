"""gan_lab.precision: bf16 autocast for every training step through fit, chosen once, refused where it cannot run."""

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from gan_lab import cli, precision
from gan_lab.checkpoints import load_checkpoint
from gan_lab.session import setup
from gan_lab.train.gan import GANConfig, load_gan, load_or_train_gan, train_gan
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
    with pytest.raises(precision.PrecisionError, match="Tesla V100 has no bf16.*precision='fp32' in gan_lab.setup or "
                                                      "fit, GAN_LAB_PRECISION=fp32 or train --precision fp32"):
        precision.check_precision("bf16", "cuda")
    assert precision.check_precision("fp32", "cuda") == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert precision.check_precision("bf16", "cuda") == "bf16" and precision.native_bf16("cuda")
    with pytest.raises(precision.PrecisionError, match="not on mps"):
        precision.check_precision("bf16", "mps")


@pytest.mark.parametrize("avx512_bf16, amx, native", [(False, False, False), (True, False, True), (False, True, True)])
def test_native_bf16_on_the_cpu_follows_its_instruction_sets(monkeypatch, avx512_bf16, amx, native):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
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
    assert ("no bf16 arithmetic" in precision.describe_precision("cpu")) is not native


def test_fit_itself_warns_when_bf16_would_be_emulated(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device="cpu": False)
    model = torch.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="bf16 is emulated on this CPU.*choose fp32"):
        fit(lambda i: {"loss": model(torch.randn(1, 2)).sum()}, 1, models={"m": model}, progress=False,
            precision="bf16")


def test_bf16_counts_as_emulated_where_torch_is_kept_off_the_avx512_kernels(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert precision.native_bf16("cpu")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")  # ATEN_CPU_CAPABILITY=avx2
    assert not precision.native_bf16("cpu")


def test_setup_chooses_the_precision_and_an_argument_beats_the_environment(monkeypatch):
    monkeypatch.setenv("GAN_LAB_PRECISION", "bf16")
    setup(device="cpu", verbose=False)
    assert precision.get_precision() == "bf16"
    setup(device="cpu", verbose=False, precision="fp32")
    assert precision.get_precision() == "fp32"


class Recorder(torch.nn.Module):
    """A linear layer that records, per call, whether autocast was on and the dtype its layer computed in."""

    def __init__(self):
        super().__init__()
        self.layer, self.calls = torch.nn.Linear(2, 2), []

    def forward(self, x):
        y = self.layer(x)
        self.calls.append((torch.is_autocast_enabled("cpu"), y.dtype))
        return y


def test_fit_runs_the_trained_networks_in_bf16_and_hands_back_float32():
    model, outputs, between = Recorder(), [], []

    def step(i):
        outputs.append(model(torch.randn(4, 2)).dtype)
        assert not torch.is_autocast_enabled("cpu")  # the step's own arithmetic (losses) stays float32
        return {"loss": torch.tensor(1.0)}

    def callback(i, history):
        model.calls.clear()
        model(torch.randn(1, 2))
        between.extend(model.calls)

    fit(step, 3, models={"m": model}, progress=False, precision="bf16", callbacks=[callback], callback_every=1)
    assert outputs == [torch.float32] * 3  # what the network returns
    assert between == [(False, torch.float32)] * 3  # callbacks (sampling, metrics) see a float32 network
    assert not model._forward_hooks and not model._forward_pre_hooks  # and the network is given back unhooked
    model.calls.clear()
    fit(step, 2, models={"m": model}, progress=False)  # the default: fp32
    assert model.calls == [(False, torch.float32)] * 2
    precision.set_precision("bf16")  # what setup chose
    model.calls.clear()
    fit(step, 2, models={"m": model}, progress=False)
    assert model.calls == [(True, torch.bfloat16)] * 2


def test_a_network_updated_twice_in_one_step_is_cast_afresh():
    """A WGAN critic takes n_critic updates per step: each forward must use the weights of the last update."""
    torch.manual_seed(0)
    model, x = torch.nn.Linear(8, 1), torch.randn(16, 8)
    opt, seen, weights = torch.optim.SGD(model.parameters(), lr=1.0), [], []

    def step(i):
        for _ in range(2):
            weights.append([p.detach().clone() for p in model.parameters()])
            y = model(x)
            seen.append(y.detach().clone())
            opt.zero_grad()
            y.pow(2).mean().backward()
            opt.step()
        return {"y": seen[-1].mean()}

    fit(step, 1, models={"m": model}, progress=False, precision="bf16")
    for (w, b), y in zip(weights, seen):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            expected = torch.nn.functional.linear(x, w, b).float()
        assert torch.equal(y, expected)
    assert not torch.equal(seen[0], seen[1])  # a stale bf16 copy of the first weights would repeat seen[0]


def test_a_copy_made_during_training_is_an_independent_network():
    import copy

    model, copies = torch.nn.Linear(2, 2), []

    def step(i):
        copies.append(copy.deepcopy(model))
        with torch.no_grad():
            model.weight.add_(1.0)  # the original moves on; the copy must not follow it
        return {"loss": torch.tensor(0.0)}

    fit(step, 1, models={"m": model}, progress=False, precision="bf16")
    (twin,) = copies
    torch.save(twin, io.BytesIO())  # its hooks hold a key, not the run: a copy pickles
    x = torch.randn(3, 2)
    assert not torch.equal(twin(x), model(x)) and torch.equal(twin(x), torch.nn.functional.linear(x, twin.weight,
                                                                                                  twin.bias))


def test_a_network_used_from_another_thread_during_training_stays_float32_there():
    """A widget may draw from G in the main thread while fit trains it in a background thread."""
    import threading

    started, main_inside, release_main, main_done = (threading.Event() for _ in range(4))
    seen = {"main": [], "training": []}

    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 2)

        def forward(self, x):
            y = self.layer(x)
            main = threading.current_thread() is threading.main_thread()
            seen["main" if main else "training"].append((torch.is_autocast_enabled("cpu"), y.dtype))
            if main:  # the main thread's forward pass outlives one of the training thread's
                main_inside.set()
                assert release_main.wait(10)
            return y

    model, errors = Gate(), []

    def step(i):
        started.set()
        if i == 1:
            assert main_inside.wait(10)
            model(torch.randn(1, 2))  # opens and closes its region while the main thread's pass is open
            release_main.set()
            assert main_done.wait(10)
        model(torch.randn(1, 2))
        seen["training"].append(("step arithmetic", torch.is_autocast_enabled("cpu")))
        return {"loss": torch.tensor(0.0)}

    def train():
        try:
            fit(step, 2, models={"m": model}, progress=False, precision="bf16")
            seen["training"].append(("after fit", torch.is_autocast_enabled("cpu")))
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)

    trainer = threading.Thread(target=train)
    trainer.start()
    assert started.wait(10)
    model(torch.randn(1, 2))
    main_done.set()
    trainer.join(10)
    assert not errors and not trainer.is_alive()
    assert seen["main"] == [(False, torch.float32)] and not torch.is_autocast_enabled("cpu")
    bf16 = (True, torch.bfloat16)
    assert seen["training"] == [bf16, bf16, ("step arithmetic", False), bf16, ("step arithmetic", False),
                                ("after fit", False)]


def test_a_forward_pass_that_raises_leaves_no_autocast_behind():
    class Broken(torch.nn.Linear):
        def forward(self, x):
            super().forward(x)
            raise ValueError("broken forward")

    model = Broken(2, 2)
    with pytest.raises(ValueError, match="broken forward"):
        fit(lambda i: {"loss": model(torch.randn(1, 2))}, 2, models={"m": model}, progress=False, precision="bf16")
    assert not torch.is_autocast_enabled("cpu") and not model._forward_hooks
    recorder = Recorder()
    fit(lambda i: {"loss": recorder(torch.randn(1, 2)).sum()}, 1, models={"m": recorder}, progress=False,
        precision="bf16")
    assert recorder.calls == [(True, torch.bfloat16)]


def test_ctrl_c_inside_a_forward_pass_leaves_no_autocast_behind():
    # PyTorch runs always_call forward hooks after an Exception, not after a KeyboardInterrupt
    class Interrupted(torch.nn.Linear):
        calls = 0

        def forward(self, x):
            Interrupted.calls += 1
            y = super().forward(x)
            if Interrupted.calls == 2:
                raise KeyboardInterrupt
            return y

    model = Interrupted(2, 2)
    history = fit(lambda i: {"loss": model(torch.randn(1, 2)).sum()}, 5, models={"m": model}, progress=False,
                  precision="bf16")
    assert history["interrupted"] and history["step"] == [1]
    assert not torch.is_autocast_enabled("cpu")
    assert torch.nn.Linear(2, 2)(torch.randn(1, 2)).dtype == torch.float32  # sampling after the interrupt: fp32


def test_the_networks_are_given_back_when_a_step_fails():
    model = torch.nn.Linear(2, 2)

    def step(i):
        model(torch.randn(1, 2))
        raise ValueError("broken step")

    with pytest.raises(ValueError, match="broken step"):
        fit(step, 3, models={"m": model}, progress=False, precision="bf16")
    assert not model._forward_hooks and not model._forward_pre_hooks
    with precision.autocast("cpu", "fp32"):
        assert model(torch.randn(1, 2)).dtype == torch.float32


def test_the_fid_feature_network_trains_in_float32_whatever_setup_chose():
    from gan_lab.data import load
    from gan_lab.metrics.features import train_feature_net
    from gan_lab.train.classifier import ClassifierConfig

    train, test = (load("phantoms", split, fallback=False, n=200) for split in ("train", "test"))
    cfg = ClassifierConfig(width=4, feature_dim=8, num_steps=5, batch_size=32)

    def weights():
        torch.manual_seed(0)
        phi = train_feature_net(train, test, cfg, device="cpu", progress=False)[0]
        return [p.detach().clone() for p in phi.parameters()]

    fp32 = weights()
    with precision.use_precision("bf16"):
        bf16 = weights()
    assert precision.get_precision() == "fp32"  # use_precision gave the old choice back
    assert all(torch.equal(a, b) for a, b in zip(fp32, bf16))


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
    assert load_checkpoint(tmp_path / "run").extra["precision"] == "bf16"  # the checkpoint says how it was trained


def test_a_resumed_bf16_run_repeats_an_uninterrupted_one(tmp_path, images):
    precision.set_precision("bf16")
    whole = train_gan(images, TINY_GAN, device="cpu", progress=False)
    half = GANConfig(**{**TINY_GAN.__dict__, "num_steps": 2})
    train_gan(images, half, device="cpu", progress=False, checkpoint_dir=tmp_path / "run")
    resumed = train_gan(images, TINY_GAN, device="cpu", progress=False, checkpoint_dir=tmp_path / "run", resume=True)
    for (name, p), q in zip(whole.G.named_parameters(), resumed.G.parameters()):
        assert torch.equal(p, q), name


def test_a_run_resumed_in_another_precision_records_both_and_a_cache_load_says_how_it_was_trained(
        tmp_path, images, capsys):
    half = GANConfig(**{**TINY_GAN.__dict__, "num_steps": 2})
    precision.set_precision("bf16")
    train_gan(images, half, device="cpu", progress=False, checkpoint_dir=tmp_path / "run")
    precision.set_precision("fp32")
    train_gan(images, TINY_GAN, device="cpu", progress=False, checkpoint_dir=tmp_path / "run", resume=True)
    assert "Resuming at step 2 in fp32 a run trained so far in bf16" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "run").extra["precision"] == "bf16+fp32"
    load_or_train_gan(tmp_path / "run", images, TINY_GAN, device="cpu", progress=False)
    assert "(step 4, trained in bf16+fp32); no training needed" in capsys.readouterr().out


def test_the_gradient_penalty_trains_under_bf16(images):
    precision.set_precision("bf16")
    config = WGANConfig(mode="gp", width=4, z_dim=8, batch_size=8, num_steps=3, n_critic=2, log_every=1)
    run = train_wgan(images, config, device="cpu", progress=False)
    assert all(torch.isfinite(torch.tensor(v)).all() for k, v in run.history.items() if k != "step")
    assert run.history["gp"][-1] > 0 and run.history["grad_norm_mean"][-1] > 0


def test_weight_clipping_holds_under_bf16(images):
    precision.set_precision("bf16")
    config = WGANConfig(mode="clip", width=4, z_dim=8, batch_size=8, num_steps=3, n_critic=3, log_every=1)
    run = train_wgan(images, config, device="cpu", progress=False)
    assert max(p.abs().max().item() for p in run.C.parameters()) <= config.clip_value


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


def test_a_bad_precision_from_the_environment_is_named_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAN_LAB_PRECISION", "half")
    argv = ["train", "mlp", "--out", str(tmp_path / "r"), "--steps", "1", "--device", "cpu", "--quiet", "--fid-n", "0",
            "--fallback"]
    assert cli.main(argv) == 2
    assert "$GAN_LAB_PRECISION=half: Unknown precision 'half'" in capsys.readouterr().err


def test_pretrain_checks_the_precision_before_training_anything(monkeypatch, capsys):
    from gan_lab.course import pretrained

    monkeypatch.setenv("GAN_LAB_PRECISION", "fp8")
    monkeypatch.setitem(pretrained.PRETRAINED, "02_mlp_gan", pretrained.Pretrained("", lambda: pytest.fail("trained")))
    assert cli.main(["pretrain", "--only", "02_mlp_gan"]) == 2
    assert "$GAN_LAB_PRECISION=fp8: Unknown precision 'fp8'" in capsys.readouterr().err


def test_doctor_reports_the_precision_and_rejects_a_bad_one(monkeypatch):
    from gan_lab.cli import doctor

    ok, found, _ = doctor.check_precision()
    assert ok and found.startswith("fp32")
    monkeypatch.setenv("GAN_LAB_PRECISION", "fp8")
    ok, found, fix = doctor.check_precision()
    assert not ok and "'fp8'" in found and "GAN_LAB_PRECISION" in fix


TRAINER_TESTS = ["test_gan.py", "test_dcgan.py", "test_conditional.py", "test_pix2pix.py", "test_cyclegan.py",
                 "test_wgan.py", "test_segan.py", "test_denoise.py", "test_reconstruction.py", "test_red_wgan.py",
                 "test_registration.py", "test_stain.py", "test_variants.py", "test_loop.py", "test_distributed.py"]


def test_every_trainers_tests_pass_under_bf16():
    """Each trainer's own tests (training, resuming, DDP, its losses), with every step in bf16."""
    tests = Path(__file__).parent
    env = {**os.environ, "GAN_LAB_PRECISION": "bf16", "GAN_LAB_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           *(str(tests / name) for name in TRAINER_TESTS)], env=env, capture_output=True, text=True,
                          timeout=900, cwd=tests.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
