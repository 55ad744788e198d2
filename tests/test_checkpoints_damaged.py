"""Damaged or hostile checkpoints: every one is a CheckpointError naming the file, found before allocating.

And a save touches only what the checkpoint owns: the weights file its previous index named and the
temporary files an interrupted save left behind.
"""

import json
import time

import pytest
import safetensors.torch
import torch

from gan_lab import checkpoints
from gan_lab.checkpoints import CheckpointError, load_checkpoint, restore, save_checkpoint
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator


def _models():
    torch.manual_seed(0)
    return {"G": DCGANGenerator(z_dim=8, width=4), "D": DCGANDiscriminator(width=4)}


def _saved(tmp_path, optimizers=None):
    models = _models()
    save_checkpoint(tmp_path, models, optimizers, step=3, history={"step": [3]}, config={"gan": {}})
    return models


def _edit(tmp_path, change):
    index = json.loads((tmp_path / "checkpoint.json").read_text())
    change(index)
    (tmp_path / "checkpoint.json").write_text(json.dumps(index))


def _set(path, value):
    def change(index):
        *parents, last = path
        node = index
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return change


_DELETE = object()

DAMAGE = {
    "unknown model": (("models", "G", "name"), "NoSuchNet", "not a known network"),
    "hparams of the wrong type": (("models", "G", "hparams", "width"), "wide", "cannot be built"),
    "negative width": (("models", "G", "hparams", "width"), -4, "cannot be built"),
    "models as a list": (("models",), ["G", "D"], "models must be a JSON object"),
    "no step": (("step",), _DELETE, "step must be a whole number"),
    "step of the wrong type": (("step",), "3", "step must be a whole number"),
    "weights outside the folder": (("weights",), "../../elsewhere/x.safetensors", "inside the folder"),
    "absolute weights path": (("weights",), "/etc/passwd", "inside the folder"),
    "unknown arch in hparams": (("models", "D", "hparams", "size"), 30, "cannot be built"),
    "history of the wrong type": (("history",), [1, 2], "history must be a JSON object"),
}


@pytest.mark.parametrize("name", DAMAGE)
def test_a_damaged_index_is_a_checkpoint_error_naming_the_file(tmp_path, name):
    path, value, message = DAMAGE[name]
    _saved(tmp_path)
    _edit(tmp_path, _set(path, value))
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_deeply_nested_json_is_a_checkpoint_error(tmp_path):
    _saved(tmp_path)
    (tmp_path / "checkpoint.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deeply|not valid JSON|not a gan_lab checkpoint"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("width", [6000, 10**9])
def test_a_huge_network_in_the_json_fails_before_allocating(tmp_path, width):
    _saved(tmp_path)
    _edit(tmp_path, _set(("models", "G", "hparams", "width"), width))
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="does not match model 'G'|cannot be built") as err:
        load_checkpoint(tmp_path)
    assert str(tmp_path) in str(err.value)
    assert time.perf_counter() - start < 5  # built on the meta device, compared with the header: no 5 GB


def test_nan_weights_are_refused(tmp_path):
    models = _saved(tmp_path)
    tensors = safetensors.torch.load_file(tmp_path / "weights-3.safetensors")
    key = next(k for k in tensors if k.startswith("model.G.") and tensors[k].is_floating_point())
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    safetensors.torch.save_file(tensors, tmp_path / "weights-3.safetensors")
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        restore(tmp_path, models)


def _adam(model):
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model(torch.randn(2, 8)).mean().backward()
    opt.step()
    return opt


def test_resume_without_rng_state_is_refused(tmp_path):
    models = _saved(tmp_path)
    tensors = safetensors.torch.load_file(tmp_path / "weights-3.safetensors")
    del tensors["rng.torch"]
    safetensors.torch.save_file(tensors, tmp_path / "weights-3.safetensors")
    with pytest.raises(CheckpointError, match="random-number state"):
        restore(tmp_path, models)


def test_adam_state_of_the_wrong_shape_is_refused_before_any_step(tmp_path):
    models = _models()
    save_checkpoint(tmp_path, models, {"G": _adam(models["G"])}, step=3)
    tensors = safetensors.torch.load_file(tmp_path / "weights-3.safetensors")
    key = next(k for k in tensors if k.startswith("optim.G.") and k.endswith("exp_avg"))
    tensors[key] = torch.zeros(3, 3)
    safetensors.torch.save_file(tensors, tmp_path / "weights-3.safetensors")
    fresh = _models()
    with pytest.raises(CheckpointError, match="does not match optimiser 'G'"):
        restore(tmp_path, fresh, {"G": torch.optim.Adam(fresh["G"].parameters(), 1e-3)})


def test_missing_optimiser_state_is_refused(tmp_path):
    models = _saved(tmp_path)
    with pytest.raises(CheckpointError, match="no optimiser state for 'G'"):
        restore(tmp_path, models, {"G": torch.optim.Adam(models["G"].parameters(), 1e-3)})


def test_a_save_removes_only_the_weights_its_previous_index_named(tmp_path):
    models = _models()
    (tmp_path / "weights-best.safetensors").write_bytes(b"the student's own file")
    (tmp_path / "weights-9.safetensors").write_bytes(b"another file the index never named")
    save_checkpoint(tmp_path, models, step=1)
    save_checkpoint(tmp_path, models, step=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint.json", "weights-2.safetensors", "weights-9.safetensors", "weights-best.safetensors"]


def test_a_save_cleans_up_temporaries_an_interrupted_save_left(tmp_path):
    models = _models()
    save_checkpoint(tmp_path, models, step=1)
    stale = [tmp_path / ".weights-2.safetensors.abc123.tmp", tmp_path / ".checkpoint.json.xyz.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    (tmp_path / ".notes.tmp").write_text("not ours")
    save_checkpoint(tmp_path, models, step=2)
    assert not any(p.exists() for p in stale) and (tmp_path / ".notes.tmp").exists()


def test_a_damaged_cache_is_retrained_not_a_crash(tmp_path, capsys):
    _saved(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{ not json")
    assert checkpoints.cache_status(tmp_path, {"gan": {}}, num_steps=3) == "train"
    assert "Training again" in capsys.readouterr().out
    _saved(tmp_path)
    _edit(tmp_path, _set(("models", "G", "name"), "NoSuchNet"))
    assert checkpoints.cache_status(tmp_path, {"gan": {}}, num_steps=3) == "train"
