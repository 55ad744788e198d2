"""Checkpoints: safetensors weights + a JSON description, written atomically.

A checkpoint is a folder holding

* ``checkpoint.json``  — model configs (enough to rebuild every network),
  the training config, the step, the history, and the name of the weights file;
* ``weights-<step>.safetensors`` — every model's tensors, the optimisers'
  tensors and the random-number state.

Nothing is ever unpickled, so a checkpoint shared between students cannot
run code. Each file is written to a temporary name and renamed into place;
the JSON, renamed last, is the commit point: a write interrupted at any
moment leaves the previous checkpoint complete and loadable.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from . import models as _models  # noqa: F401  (importing the package registers every model for build())
from .config import CHECKPOINT_DIR, fast_mode
from .device import get_device
from .models.registry import build, model_config

FORMAT = "gan_lab-checkpoint/1"
INDEX = "checkpoint.json"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, or does not match the model."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    models: dict[str, nn.Module]
    step: int
    history: dict[str, list]
    config: dict
    path: Path
    extra: dict = field(default_factory=dict)


def exists(directory: str | os.PathLike) -> bool:
    """True when ``directory`` holds a checkpoint (its JSON index)."""
    return (Path(directory) / INDEX).is_file()


def cache_dir(name: str) -> Path:
    """Where a notebook caches the checkpoint called ``name``.

    ``CHECKPOINT_DIR/<name>``, or ``CHECKPOINT_DIR/fast/<name>`` in FAST mode, so
    a quick CI run never replaces the full-size checkpoint a lecture loads.
    """
    return CHECKPOINT_DIR / "fast" / name if fast_mode() else CHECKPOINT_DIR / name


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then rename onto ``path`` (atomic on POSIX and Windows)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; checkpoints are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _optimizer_tensors(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimiser's state into tensors (for safetensors) and JSON."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, slots in state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{name}.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def save_checkpoint(directory: str | os.PathLike, models: dict[str, nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer] | None = None, *, step: int = 0,
                    history: dict | None = None, config: dict | None = None, extra: dict | None = None) -> Path:
    """Write a checkpoint of ``models`` (and optimisers, RNG state) into ``directory``.

    Example:
        >>> save_checkpoint("runs/demo", {"G": G, "D": D}, step=100)  # doctest: +SKIP
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{name}.{k}": v.detach().cpu().contiguous()
               for name, m in models.items() for k, v in m.state_dict().items()}
    optim_meta = {}
    for name, opt in (optimizers or {}).items():
        opt_tensors, optim_meta[name] = _optimizer_tensors(name, opt)
        tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    weights_name = f"weights-{step}.safetensors"
    index = {
        "format": FORMAT, "step": step, "weights": weights_name,
        "models": {name: model_config(m) for name, m in models.items()},
        "optimizers": optim_meta, "config": config or {}, "history": history or {}, "extra": extra or {},
    }
    text = json.dumps(index, indent=1)  # before any write: a config that is not JSON-able fails here
    _atomic_write(directory / weights_name, lambda p: save_file(tensors, str(p)))
    _atomic_write(directory / INDEX, lambda p: p.write_text(text))
    for old in directory.glob("weights-*.safetensors"):  # only after the new index points elsewhere
        if old.name != weights_name:
            old.unlink(missing_ok=True)
    return directory


def _read_index(directory: Path) -> dict:
    path = directory / INDEX
    if not path.is_file():
        raise CheckpointError(f"No checkpoint in {directory} (expected {INDEX}). Train one first, "
                              "e.g. `python -m gan_lab train dcgan --out DIR`.")
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}); the checkpoint is damaged.") from None
    if index.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gan_lab checkpoint (format {index.get('format')!r}).")
    return index


def _read_tensors(directory: Path, index: dict) -> dict[str, torch.Tensor]:
    path = directory / index["weights"]
    if not path.is_file():
        raise CheckpointError(f"{path} is missing although {INDEX} names it; the checkpoint is incomplete.")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises several error types for damaged files
        raise CheckpointError(f"Could not read {path}: {err}. The file is damaged; delete the folder "
                              "and train again.") from None


def _load_state(name: str, model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy ``model.<name>.*`` tensors into ``model``, naming any mismatch."""
    prefix = f"model.{name}."
    saved = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    wrong = [f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(v.shape)}"
             for k, v in expected.items() if k in saved and saved[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise CheckpointError(f"Checkpoint does not match model {name!r} ({type(model).__name__}): "
                              f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatch {wrong[:5]}.")
    model.load_state_dict(saved)


def stored_config(directory: str | os.PathLike) -> dict | None:
    """The training config saved in ``directory``'s checkpoint (JSON only, no weights), or None."""
    directory = Path(directory)
    return _read_index(directory)["config"] if exists(directory) else None


def config_changes(stored: dict, wanted: dict, ignore: tuple[str, ...] = ()) -> list[str]:
    """How ``wanted`` differs from ``stored``, one "key: stored → wanted" line per dotted key.

    Both are compared as JSON (tuples equal lists); keys in ``ignore`` (dotted,
    e.g. "gan.log_every") are skipped. An empty list means "same config".

    Example:
        >>> config_changes({"gan": {"lr": 1e-3, "k": 1}}, {"gan": {"lr": 2e-4, "k": 1}})
        ['gan.lr: 0.001 → 0.0002']
    """
    old, new = _flatten(json.loads(json.dumps(stored))), _flatten(json.loads(json.dumps(wanted)))
    missing = "(absent)"
    return [f"{k}: {old.get(k, missing)} → {new.get(k, missing)}" for k in sorted(set(old) | set(new))
            if k not in ignore and old.get(k, missing) != new.get(k, missing)]


def cache_status(directory: str | os.PathLike, wanted: dict, *, num_steps: int, ignore: tuple[str, ...] = (),
                 retrain: bool = False) -> str:
    """The rule every ``load_or_train_*`` follows, read from the checkpoint's JSON alone.

    Returns "load" (same config, trained to ``num_steps``), "resume" (same config, unfinished)
    or "train" (absent, ``retrain``, made with a different setting, or no longer loadable because
    the networks' code changed since it was cached), and says which.
    """
    stored = None if retrain else stored_config(directory)
    if stored is None:
        return "train"
    changes = config_changes(stored, wanted, ignore)
    if not changes:
        try:  # same config, but a cache made by an older version of a network may not load any more
            load_checkpoint(directory, device="cpu")
        except CheckpointError as err:
            changes = [f"the stored networks no longer match the code: {err}"]
    if changes:
        print(f"Training again: the checkpoint in {directory} was made with a different setting "
              f"({'; '.join(changes[:4])}).")
        return "train"
    index = _read_index(Path(directory))
    steps = index["history"].get("step")
    if steps and steps[-1] >= num_steps:
        # the precision is a speed setting, not part of the config: a bf16-trained cache serves an fp32 session
        precision = index.get("extra", {}).get("precision", "fp32")
        trained_in = "" if precision == "fp32" else f", trained in {precision}"
        print(f"Loaded the cached checkpoint {directory} (step {steps[-1]}{trained_in}); no training needed.")
        return "load"
    print(f"Resuming the unfinished checkpoint {directory}.")
    return "resume"


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def load_checkpoint(directory: str | os.PathLike, device=None) -> Checkpoint:
    """Rebuild every model from the JSON alone and load its weights.

    Example:
        >>> ckpt = load_checkpoint("runs/demo")  # doctest: +SKIP
        >>> G = ckpt.models["G"]
    """
    directory = Path(directory)
    index = _read_index(directory)
    tensors = _read_tensors(directory, index)
    models = {}
    for name, cfg in index["models"].items():
        model = build(cfg)
        _load_state(name, model, tensors)
        models[name] = model.to(get_device(device)).eval()
    return Checkpoint(models, index["step"], index["history"], index["config"], directory, index["extra"])



def load_kind(directory: str | os.PathLike, key: str, models: set[str], what: str, device=None) -> Checkpoint:
    """:func:`load_checkpoint`, then check it is the trainer's kind: config ``key`` and at least ``models``.

    ``what`` names the kind in the error (e.g. "a pix2pix"), which also lists what the folder holds.
    """
    ckpt = load_checkpoint(directory, device)
    if key not in ckpt.config or not models <= set(ckpt.models):
        raise CheckpointError(f"{directory} is not {what} checkpoint (it holds {sorted(ckpt.models)} "
                              f"and config keys {sorted(ckpt.config)}).")
    return ckpt

def restore(directory: str | os.PathLike, models: dict[str, nn.Module],
            optimizers: dict[str, torch.optim.Optimizer] | None = None) -> Checkpoint:
    """Load a checkpoint INTO existing models and optimisers (for resuming) and restore the RNG."""
    directory = Path(directory)
    index = _read_index(directory)
    tensors = _read_tensors(directory, index)
    for name, model in models.items():
        if name not in index["models"]:
            raise CheckpointError(f"Checkpoint {directory} has no model {name!r} (it has {list(index['models'])}).")
        _load_state(name, model, tensors)
    for name, opt in (optimizers or {}).items():
        if name not in index["optimizers"]:
            raise CheckpointError(f"Checkpoint {directory} has no optimiser state for {name!r}.")
        _load_optimizer(name, opt, index["optimizers"][name], tensors)
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return Checkpoint(models, index["step"], index["history"], index["config"], directory, index["extra"])


def _load_optimizer(name: str, opt: torch.optim.Optimizer, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Reassemble an optimiser's state dict from its safetensors slots and JSON scalars."""
    state: dict = {}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, slot = key[len(prefix):].split(".", 1)
            state.setdefault(int(idx), {})[slot] = value
    for key, value in meta["scalars"].items():
        idx, slot = key.split(".", 1)
        state.setdefault(int(idx), {})[slot] = value
    if len(meta["param_groups"]) != len(opt.param_groups):
        raise CheckpointError(f"Optimiser {name!r}: the checkpoint has {len(meta['param_groups'])} parameter "
                              f"groups, this optimiser {len(opt.param_groups)}.")
    groups = [{k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()}
              for saved, current in zip(meta["param_groups"], opt.param_groups)]  # JSON made tuples lists
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except ValueError as err:  # torch names the size mismatch
        raise CheckpointError(f"Checkpoint does not match optimiser {name!r}: {err}") from None
