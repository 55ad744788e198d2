"""Checkpoints: round trip from JSON + safetensors, atomic writes, clear mismatch errors, no pickle."""

import json
import pickle
from pathlib import Path

import pytest
import safetensors.torch
import torch

from gan_lab import checkpoints
from gan_lab.checkpoints import CheckpointError, load_checkpoint, restore, save_checkpoint
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator


def _models(width=4):
    torch.manual_seed(0)
    return {"G": DCGANGenerator(z_dim=8, width=width), "D": DCGANDiscriminator(width=width)}


def _trained_optimizer(model):
    opt = torch.optim.Adam(model.parameters(), 1e-3, betas=(0.5, 0.999))
    model(torch.randn(4, 8)).mean().backward()
    opt.step()
    return opt


def test_round_trip_rebuilds_models_from_json(tmp_path):
    models = _models()
    save_checkpoint(tmp_path, models, step=7, history={"step": [7], "loss_D": [0.5]}, config={"lr": 1e-3})
    ckpt = load_checkpoint(tmp_path)
    assert (ckpt.step, ckpt.history["loss_D"], ckpt.config) == (7, [0.5], {"lr": 1e-3})
    for name, model in models.items():
        assert type(ckpt.models[name]) is type(model)
        for (k, v), v2 in zip(model.state_dict().items(), ckpt.models[name].state_dict().values()):
            assert torch.equal(v, v2), k


def test_restore_brings_back_optimizer_state_and_rng(tmp_path):
    models = _models()
    opt = _trained_optimizer(models["G"])
    torch.manual_seed(5)
    save_checkpoint(tmp_path, models, {"G": opt}, step=1)
    expected_draw = torch.rand(3)
    fresh = _models(width=4)
    opt2 = torch.optim.Adam(fresh["G"].parameters(), 1e-3, betas=(0.5, 0.999))
    restore(tmp_path, fresh, {"G": opt2})
    assert torch.equal(torch.rand(3), expected_draw)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for idx, slots in s1["state"].items():
        for key, value in slots.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(s2["state"][idx][key])), key


def test_old_weights_are_removed_after_the_new_index(tmp_path):
    models = _models()
    save_checkpoint(tmp_path, models, step=1)
    save_checkpoint(tmp_path, models, step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "weights-2.safetensors"]


def _fail_half_way(write):
    """Wrap a writer so it writes part of the file and then raises, like a crash or Ctrl-C mid-write."""
    def broken(*args, **kwargs):
        target = Path(args[-1] if isinstance(args[-1], str) else args[0])
        target.write_bytes(b"\x00" * 10)
        raise KeyboardInterrupt
    return broken


def test_interrupted_weights_write_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    models = _models()
    save_checkpoint(tmp_path, models, step=1)
    before = load_checkpoint(tmp_path).models["G"].state_dict()
    with torch.no_grad():
        for p in models["G"].parameters():
            p.add_(1.0)
    monkeypatch.setattr(checkpoints, "save_file", _fail_half_way(safetensors.torch.save_file))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, models, step=2)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.step == 1
    assert all(torch.equal(v, ckpt.models["G"].state_dict()[k]) for k, v in before.items())
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written temporary file is left behind


def test_interrupted_index_write_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    models = _models()
    save_checkpoint(tmp_path, models, step=1)
    real_write_text = Path.write_text

    def half_write(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", half_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, models, step=2)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path).step == 1


def test_config_that_is_not_json_writes_nothing(tmp_path):
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, _models(), step=1, config={"bad": object()})
    assert not list(tmp_path.iterdir())


def test_mismatch_error_names_the_mismatch(tmp_path):
    save_checkpoint(tmp_path, _models(width=4), step=1)
    with pytest.raises(CheckpointError, match=r"'G'.*shape mismatch.*checkpoint \(8, 8, 7, 7\) vs model \(8, 16"):
        restore(tmp_path, _models(width=8))
    with pytest.raises(CheckpointError, match="has no model 'C'"):
        restore(tmp_path, {"C": DCGANDiscriminator(width=4)})


def test_damaged_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint in"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path, _models(), step=3)
    (tmp_path / "weights-3.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    models = _models()
    save_checkpoint(tmp_path, models, {"G": _trained_optimizer(models["G"])}, step=1)

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load must not unpickle")

    for module, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(module, name, forbidden)
    assert load_checkpoint(tmp_path).step == 1
    restore(tmp_path, _models(), {"G": torch.optim.Adam(_models()["G"].parameters())})
    index = json.loads((tmp_path / "checkpoint.json").read_text())
    assert index["models"]["G"] == {"name": "DCGANGenerator", "hparams": models["G"].hparams}


def test_config_changes_and_stored_config(tmp_path):
    assert checkpoints.stored_config(tmp_path) is None
    save_checkpoint(tmp_path, _models(), step=1, config={"gan": {"lr": 1e-3, "k": 1, "log_every": 10}})
    stored = checkpoints.stored_config(tmp_path)
    assert checkpoints.config_changes(stored, {"gan": {"lr": 1e-3, "k": 1, "log_every": 50}},
                                      ignore=("gan.log_every",)) == []
    assert checkpoints.config_changes(stored, {"gan": {"lr": 2e-4, "k": 1, "log_every": 10}, "data": "x"}) == [
        "data: (absent) → x", "gan.lr: 0.001 → 0.0002"]


def test_cache_dir_separates_fast_mode(monkeypatch):
    monkeypatch.setenv("GAN_LAB_FAST", "0")
    full = checkpoints.cache_dir("02_dcgan")
    monkeypatch.setenv("GAN_LAB_FAST", "1")
    assert full.name == "02_dcgan" and checkpoints.cache_dir("02_dcgan") != full


def test_config_changes_reads_a_missing_key_as_its_assumed_old_meaning():
    stored, wanted = {"gan": {"k": 1}}, {"gan": {"k": 1, "new": 0}}
    assert checkpoints.config_changes(stored, wanted) == ["gan.new: (absent) → 0"]
    assert checkpoints.config_changes(stored, wanted, assumed={"gan": {"new": 0}}) == []
    assert checkpoints.config_changes(stored, {"gan": {"k": 1, "new": 2}}, assumed={"gan": {"new": 0}}) == [
        "gan.new: 0 → 2"]  # the old run had it off; asking for it on is a change
    assert checkpoints.config_changes({"gan": {"new": 5}}, {"gan": {"new": 5}}, assumed={"gan": {"new": 0}}) == []
    assert checkpoints.config_changes(stored, {"gan": {"k": 1}}, assumed={"gan": {}}) == []  # nothing added


def test_assumed_meanings_fill_whole_settings_and_only_the_kind_they_name():
    assumed = {"gan": {"opts": {"p": 1}, "off": {}}}
    assert checkpoints.config_changes({"gan": {"opts": {}}}, {"gan": {"opts": {}, "off": {}}}, assumed=assumed) == []
    assert checkpoints.config_changes({"gan": {}}, {"gan": {"opts": {"p": 1}, "off": {}}}, assumed=assumed) == []
    assert checkpoints.config_changes({"wgan": {"k": 1}}, {"wgan": {"k": 1}}, assumed=assumed) == []
