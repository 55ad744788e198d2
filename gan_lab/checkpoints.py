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
import re
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
from .models.registry import REGISTRY, build, model_config

FORMAT = "gan_lab-checkpoint/1"
INDEX = "checkpoint.json"
#: the only names a weights file may have: a plain file inside the checkpoint's folder
WEIGHTS_NAME = re.compile(r"weights-\d{1,12}\.safetensors")
#: temporary files an interrupted save may leave behind (see ``_atomic_write``)
_TEMPORARY = re.compile(r"\.(checkpoint\.json|weights-\d+\.safetensors)\..+\.tmp")
#: the key under which a checkpoint's config records a fingerprint of its training data
#: (``gan_lab.train.common.data_fingerprint``): same name and shape but other images → another digest.
DATA_FINGERPRINT = "data_fingerprint"
_ABSENT = "(absent)"


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
    """Call ``write(tmp_path)``, flush it to disk, then rename onto ``path`` (atomic on POSIX and Windows).

    The fsync before the rename means a power cut after it cannot leave a renamed but empty file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; checkpoints are meant to be shared
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _fsync_folder(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temporaries(directory: Path) -> None:
    """Delete the temporary files a save killed mid-write (kill -9, power cut) left in ``directory``."""
    for path in directory.iterdir():
        if _TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _previous_weights(directory: Path) -> str | None:
    """The weights file the current index names, if it is a valid one (the only file a save may replace)."""
    try:
        name = json.loads((directory / INDEX).read_text()).get("weights")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return name if isinstance(name, str) and WEIGHTS_NAME.fullmatch(name) else None


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
    _remove_stale_temporaries(directory)
    previous = _previous_weights(directory)
    _atomic_write(directory / weights_name, lambda p: save_file(tensors, str(p)))
    _atomic_write(directory / INDEX, lambda p: p.write_text(text))
    _fsync_folder(directory)
    if previous and previous != weights_name:  # only after the new index points elsewhere, and only the
        (directory / previous).unlink(missing_ok=True)  # file the old index named: never one the user put there
    return directory


def _read_index(directory: Path) -> dict:
    path = directory / INDEX
    if not path.is_file():
        raise CheckpointError(f"No checkpoint in {directory} (expected {INDEX}). Train one first, "
                              "e.g. `python -m gan_lab train dcgan --out DIR`.")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as err:  # bad JSON, bad UTF-8, or nesting too deep to parse
        reason = "it is nested too deeply" if isinstance(err, RecursionError) else err
        raise CheckpointError(f"{path} is not valid JSON ({reason}); the checkpoint is damaged. {_FIX}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else type(index).__name__
        raise CheckpointError(f"{path} is not a gan_lab checkpoint (format {found!r}).")
    problems = _index_problems(index)
    if problems:
        raise CheckpointError(f"{path} is damaged: {'; '.join(problems[:4])}. {_FIX}")
    return index


_FIX = "Delete the folder and train again (a notebook's cache does this by itself)."


def _index_problems(index: dict) -> list[str]:
    """What is wrong with the structure and types of a checkpoint index (empty when it is sound)."""
    problems = []
    step = index.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        problems.append(f"step must be a whole number ≥ 0, not {step!r}")
    weights = index.get("weights")
    if not isinstance(weights, str) or not WEIGHTS_NAME.fullmatch(weights):
        problems.append(f"weights must name a file weights-<step>.safetensors inside the folder, not {weights!r}")
    for key in ("models", "optimizers", "config", "history", "extra"):
        if not isinstance(index.get(key, {}), dict):
            problems.append(f"{key} must be a JSON object, not {type(index[key]).__name__}")
    models = index.get("models")
    if not isinstance(models, dict) or not models:
        problems.append("models must name at least one network")
    else:
        for name, cfg in models.items():
            known = isinstance(cfg, dict) and cfg.get("name") in REGISTRY
            if not known or not isinstance(cfg.get("hparams", {}), dict):
                what = cfg.get("name") if isinstance(cfg, dict) else cfg
                problems.append(f"model {name!r} is not a known network with hyper-parameters ({what!r}; "
                                f"known: {', '.join(sorted(REGISTRY))})")
    history = index.get("history")
    if isinstance(history, dict) and not all(isinstance(v, (list, bool)) for v in history.values()):
        problems.append("history must map names to lists")
    return problems


def _weights_path(directory: Path, index: dict) -> Path:
    path = directory / index["weights"]
    if not path.is_file():
        raise CheckpointError(f"{path} is missing although {INDEX} names it; the checkpoint is incomplete. {_FIX}")
    return path


def _read_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from the safetensors header alone (nothing is allocated)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as err:  # safetensors raises several error types for damaged files
        raise CheckpointError(f"Could not read {path}: {err}. The file is damaged. {_FIX}") from None


def _read_tensors(directory: Path, index: dict) -> dict[str, torch.Tensor]:
    path = _weights_path(directory, index)
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises several error types for damaged files
        raise CheckpointError(f"Could not read {path}: {err}. The file is damaged. {_FIX}") from None
    bad = [k for k, v in tensors.items() if k.startswith("model.") and v.is_floating_point()
           and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path} holds NaN or infinite weights ({', '.join(bad[:3])}): the run diverged "
                              f"before it was saved. {_FIX}")
    return tensors


def _build(name: str, cfg: dict, shapes: dict[str, tuple[int, ...]], directory: Path) -> nn.Module:
    """Rebuild network ``name`` from its JSON, checking its shapes against the weights file first.

    The network is built on the ``meta`` device (no memory) and compared with the shapes in the
    safetensors header, so an edited JSON that asks for a huge network fails at once, not in the allocator.
    """
    try:
        with torch.device("meta"):
            skeleton = build(cfg)
    except Exception as err:  # any constructor error: wrong types, signs, sizes in the hyper-parameters
        raise CheckpointError(f"{directory}: network {name!r} cannot be built from its JSON ({cfg.get('name')} "
                              f"{cfg.get('hparams')}: {err}). {_FIX}") from None
    _check_shapes(name, skeleton, {k[len(f"model.{name}."):]: v for k, v in shapes.items()
                                   if k.startswith(f"model.{name}.")}, directory)
    return build(cfg)


def _check_shapes(name: str, model: nn.Module, saved: dict[str, tuple[int, ...]], where: Path | str = "") -> None:
    """Name every missing, unexpected or differently shaped tensor of ``model`` against ``saved``."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    wrong = [f"{k}: checkpoint {saved[k]} vs model {v}" for k, v in expected.items() if k in saved and saved[k] != v]
    if missing or unexpected or wrong:
        raise CheckpointError(f"Checkpoint {where} does not match model {name!r} ({type(model).__name__}): "
                              f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatch {wrong[:5]}.")


def _load_state(name: str, model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Copy ``model.<name>.*`` tensors into ``model``, naming any mismatch."""
    prefix = f"model.{name}."
    saved = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    _check_shapes(name, model, {k: tuple(v.shape) for k, v in saved.items()})
    model.load_state_dict(saved)


def _stored(directory: str | os.PathLike, key: str) -> dict | None:
    directory = Path(directory)
    return _read_index(directory)[key] if exists(directory) else None


def stored_config(directory: str | os.PathLike) -> dict | None:
    """The training config saved in ``directory``'s checkpoint (JSON only, no weights), or None."""
    return _stored(directory, "config")


def stored_history(directory: str | os.PathLike) -> dict | None:
    """The training history saved in ``directory``'s checkpoint (JSON only, no weights), or None."""
    return _stored(directory, "history")


def stored_step(directory: str | os.PathLike) -> int:
    """The step of ``directory``'s checkpoint (JSON only, no weights), 0 when it holds none."""
    return _stored(directory, "step") or 0


def config_changes(stored: dict, wanted: dict, ignore: tuple[str, ...] = (), assumed: dict | None = None) -> list[str]:
    """How ``wanted`` differs from ``stored``, one "key: stored → wanted" line per dotted key.

    Both are compared as JSON (tuples equal lists); keys in ``ignore`` (dotted,
    e.g. "gan.log_every") are skipped. An empty list means "same config". A changed
    :data:`DATA_FINGERPRINT` is said in words, not as two digests. ``assumed`` (nested like
    ``stored``, e.g. ``{"gan": GANConfig.FIELDS_ADDED_LATER}``) says what a key absent from ``stored``
    meant: a checkpoint written before a setting existed compares as what it ran.

    Example:
        >>> config_changes({"gan": {"lr": 1e-3, "k": 1}}, {"gan": {"lr": 2e-4, "k": 1}})
        ['gan.lr: 0.001 → 0.0002']
        >>> config_changes({"data": "x", "data_fingerprint": "0a1b"}, {"data": "x", "data_fingerprint": "2c3d"})
        ["the training data changed: same name 'x', other images"]
    """
    old, new = _as_stored(stored, assumed), _flattened(wanted)
    return [_describe(key, old, new) for key in _changed_keys(old, new, ignore)]


def _flattened(config: dict) -> dict:
    return _flatten(json.loads(json.dumps(config)))


def _as_stored(stored: dict, assumed: dict | None) -> dict:
    """``stored`` flattened, with the ``assumed`` meaning of each setting it lacks (see :func:`config_changes`).

    Filled setting by setting before flattening, and only into a config of the kind ``assumed`` names, so
    that a setting whose old meaning is itself a dict is compared whole, and another trainer's run is not
    given a GAN's settings.
    """
    merged = dict(stored)
    for kind, meanings in (assumed or {}).items():
        if isinstance(stored.get(kind), dict):
            merged[kind] = meanings | stored[kind]
    return _flattened(merged)


def _changed_keys(old: dict, new: dict, ignore: tuple[str, ...]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if k not in ignore and old.get(k, _ABSENT) != new.get(k, _ABSENT)]


def _is_fingerprint(key: str) -> bool:
    return key.rsplit(".", 1)[-1] == DATA_FINGERPRINT


def _describe(key: str, old: dict, new: dict) -> str:
    """One line of :func:`config_changes`: "key: stored → wanted", or the data fingerprint's change in words."""
    if not _is_fingerprint(key) or key not in new:
        return f"{key}: {old.get(key, _ABSENT)} → {new.get(key, _ABSENT)}"
    if key not in old:
        return "no fingerprint of the training data: cached before checkpoints recorded one"
    return f"the training data changed: {_other_images(key, old, new)}"


def _other_images(key: str, old: dict, new: dict) -> str:
    """"same name 'x', other images" when the data's name (the "data" key next to ``key``) did not change."""
    name_key = key[:-len(DATA_FINGERPRINT)] + "data"
    name = old.get(name_key)
    return f"same name {name!r}, other images" if name is not None and name == new.get(name_key) else "other images"


def cache_status(directory: str | os.PathLike, wanted: dict, *, num_steps: int, ignore: tuple[str, ...] = (),
                 assumed: dict | None = None, retrain: bool = False) -> str:
    """The rule every ``load_or_train_*`` follows, read from the checkpoint's JSON alone.

    Returns "load" (same config and data, trained to ``num_steps``), "resume" (same config and data,
    unfinished) or "train" (absent, ``retrain``, made with a different setting, trained on other data —
    its :data:`DATA_FINGERPRINT` differs, or it has none —, or no longer loadable because the networks'
    code changed since it was cached), and says which. ``assumed``: see :func:`config_changes`.
    """
    try:
        stored = None if retrain else stored_config(directory)
    except CheckpointError as err:  # a damaged cache is retrained, never a crash in the middle of a notebook
        print(f"Training again: {err}")
        return "train"
    if stored is None:
        return "train"
    old, new = _as_stored(stored, assumed), _flattened(wanted)
    keys = _changed_keys(old, new, ignore)
    if keys and all(_is_fingerprint(k) and k in new for k in keys):  # the data alone changed: say it in words
        if all(k in old for k in keys):
            print(f"Training again: the checkpoint in {directory} was trained on different data "
                  f"({_other_images(keys[0], old, new)}).")
        else:
            print(f"Training again: the checkpoint in {directory} was cached before checkpoints recorded "
                  "a fingerprint of their training data, so it cannot show that it was trained on this data.")
        return "train"
    changes = [_describe(k, old, new) for k in keys]
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
    shapes = _read_shapes(_weights_path(directory, index))
    skeletons = {name: _build(name, cfg, shapes, directory) for name, cfg in index["models"].items()}
    tensors = _read_tensors(directory, index)
    models = {}
    for name, model in skeletons.items():
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
    shapes = _read_shapes(_weights_path(directory, index))
    for name, model in models.items():
        if name not in index["models"]:
            raise CheckpointError(f"Checkpoint {directory} has no model {name!r} (it has {list(index['models'])}).")
        _check_shapes(name, model, {k[len(f"model.{name}."):]: v for k, v in shapes.items()
                                    if k.startswith(f"model.{name}.")}, directory)
    if "rng.torch" not in shapes:
        raise CheckpointError(f"Checkpoint {directory} has no random-number state, so it cannot be resumed "
                              "exactly. Train without resuming, or from scratch.")
    tensors = _read_tensors(directory, index)
    for name, model in models.items():
        _load_state(name, model, tensors)
    for name, opt in (optimizers or {}).items():
        if not isinstance(index["optimizers"].get(name), dict):
            raise CheckpointError(f"Checkpoint {directory} has no optimiser state for {name!r}.")
        try:
            _load_optimizer(name, opt, index["optimizers"][name], tensors)
        except CheckpointError as err:
            raise CheckpointError(f"{directory}: {err}") from None
    try:
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"])
    except (RuntimeError, TypeError) as err:
        raise CheckpointError(f"Checkpoint {directory} has a damaged random-number state ({err}). {_FIX}") from None
    return Checkpoint(models, index["step"], index["history"], index["config"], directory, index["extra"])


def _load_optimizer(name: str, opt: torch.optim.Optimizer, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Reassemble an optimiser's state dict from its safetensors slots and JSON scalars."""
    state: dict = {}
    prefix = f"optim.{name}."
    params = [p for group in opt.param_groups for p in group["params"]]
    try:
        for key, value in tensors.items():
            if key.startswith(prefix):
                idx, slot = key[len(prefix):].split(".", 1)
                state.setdefault(int(idx), {})[slot] = value
        for key, value in meta["scalars"].items():
            idx, slot = key.split(".", 1)
            state.setdefault(int(idx), {})[slot] = value
        groups_saved = meta["param_groups"]
        if not isinstance(groups_saved, list) or not all(isinstance(g, dict) for g in groups_saved):
            raise TypeError("param_groups is not a list of objects")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(f"Optimiser {name!r}: its saved state is damaged ({err}). {_FIX}") from None
    unknown = [idx for idx in state if not 0 <= idx < len(params)]
    wrong = [f"parameter {idx} {slot}: checkpoint {tuple(v.shape)} vs {tuple(params[idx].shape)}"
             for idx, slots in state.items() if idx not in unknown
             for slot, v in slots.items() if torch.is_tensor(v) and v.dim() and v.shape != params[idx].shape]
    if unknown or wrong:
        found = wrong[:3] or f"state for parameters {unknown[:3]} it does not have"
        raise CheckpointError(f"Checkpoint does not match optimiser {name!r}: {found}. {_FIX}")
    if len(meta["param_groups"]) != len(opt.param_groups):
        raise CheckpointError(f"Optimiser {name!r}: the checkpoint has {len(meta['param_groups'])} parameter "
                              f"groups, this optimiser {len(opt.param_groups)}.")
    groups = [{k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()}
              for saved, current in zip(meta["param_groups"], opt.param_groups)]  # JSON made tuples lists
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except ValueError as err:  # torch names the size mismatch
        raise CheckpointError(f"Checkpoint does not match optimiser {name!r}: {err}") from None
