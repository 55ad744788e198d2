"""What every trainer shares: the base config, the cache rule, freezing a player, Adam, data metadata
and the fingerprint of the training data that makes a cache notice other data.

An algorithm file then holds only what is its own: its config's fields, ``build``,
its step functions (``d_step`` / ``c_step`` / ``g_step`` / ``s_step``) and a thin
``train_X`` that hands one step to :func:`gan_lab.train.loop.fit`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from .. import checkpoints
from ..data.base import ImageData
from .loop import fit

#: the losses a (non-critic) GAN trains with; WGAN has its own trainer (weight clipping or a gradient penalty).
GAN_LOSSES = ("nonsaturating", "minimax", "least_squares")
#: config fields that do not change the trained weights: a cached checkpoint is reused whatever their values.
LOOP_ONLY_FIELDS = ("log_every", "checkpoint_every", "callback_every")
#: the largest seed every library gan_lab seeds accepts (NumPy's legacy seed is a 32-bit integer).
MAX_SEED = 2**32 - 1


@dataclass
class TrainConfig:
    """The fields every trainer's config has, validated once.

    An algorithm's config subclasses this, adds its own fields and redeclares a
    shared one only where its measured default differs. Every field named ``lr*``
    must be > 0 (or None where the algorithm picks it), every ``lambda_*`` ≥ 0.

    Attributes:
        batch_size: images (or pairs, patches) per step.
        num_steps: generator (or segmentor) updates; 0 builds the networks without training.
        beta1, beta2: Adam's β (DCGAN paper: β1 = 0.5).
        log_every, checkpoint_every, callback_every: loop intervals (see ``fit``); they do not
            change the weights, so a cached run is reused whatever their values.
        seed: seed for the weights and the batches drawn.
    """

    #: the key of this config in a checkpoint's JSON (e.g. "gan"); set by each algorithm.
    key: ClassVar[str] = ""
    #: fields added after checkpoints were first written, with what their absence meant for those runs (e.g. a run
    #: from before G's weights were averaged sampled G itself: ema_decay 0); a field not named here takes its default.
    FIELDS_ADDED_LATER: ClassVar[dict] = {}

    batch_size: int = 32
    num_steps: int = 1000
    beta1: float = 0.5
    beta2: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 500
    callback_every: int = 100
    seed: int = 0

    def __post_init__(self):
        counts = {k: getattr(self, k) for k in ("batch_size", "log_every", "callback_every")}
        small = {k: v for k, v in counts.items() if not _is_int(v) or v < 1}
        if small:
            raise ValueError(f"{small}: {', '.join(small)} must be whole numbers ≥ 1.")
        if not _is_int(self.checkpoint_every) or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be a whole number ≥ 0 (0: only at the end), "
                             f"not {self.checkpoint_every!r}.")
        if not _is_int(self.num_steps) or self.num_steps < 0:
            raise ValueError(f"num_steps must be a whole number ≥ 0, not {self.num_steps!r}.")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, not {self.seed!r}.")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"Adam's betas must lie in [0, 1); got beta1={self.beta1}, beta2={self.beta2}.")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("lr") and value is not None and not (is_number(value) and value > 0):
                raise ValueError(f"{f.name} must be a finite number > 0, not {value!r}.")
            if f.name.startswith("lambda_") and value is not None and not (is_number(value) and value >= 0):
                raise ValueError(f"{f.name} must be a finite number ≥ 0, not {value!r}.")

    def checkpoint_entry(self) -> dict:
        """``{key: fields}``, the config as a checkpoint's JSON stores it."""
        return {self.key: dataclasses.asdict(self)}

    @classmethod
    def from_checkpoint(cls, meta: dict):
        """The config stored in a checkpoint's JSON (fields this version no longer has are dropped; fields it gained
        since are what ran then: ``FIELDS_ADDED_LATER``, else their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        stored = dict(meta[cls.key])
        for name in ("widths", "scale_weights"):  # JSON turns tuples into lists
            if isinstance(stored.get(name), list):
                stored[name] = tuple(stored[name])
        return cls(**{**cls.FIELDS_ADDED_LATER, **{k: v for k, v in stored.items() if k in known}})

    @classmethod
    def compared_as(cls) -> dict:
        """How a checkpoint's stored config is compared with a wanted one (``ignore`` and ``assumed`` of
        ``checkpoints.cache_status`` / ``config_changes``): the loop-only fields do not count, and a field
        added since the checkpoint was written counts as what its absence meant (``FIELDS_ADDED_LATER``)."""
        return {"ignore": tuple(f"{cls.key}.{k}" for k in LOOP_ONLY_FIELDS),
                "assumed": {cls.key: cls.FIELDS_ADDED_LATER}}


@dataclass(kw_only=True)
class Run:
    """What every trained (or training) run holds besides its networks, which each algorithm's run declares.

    An algorithm's run subclasses this with its networks as fields (``G: nn.Module`` ...) and its
    inference method (``sample``, ``translate``, ...). These fields are keyword-only, so they follow
    the networks in the constructor: ``GANRun(G, D, config=config, data_name="pneumoniamnist")``.

    Attributes:
        history: the ``fit`` history (``{"step": []}`` before training).
        config: the algorithm's config.
        data_name: what the run was trained on.
        checkpoint_dir: where its checkpoint lives, if anywhere.
        optimizers: kept, so a second ``train_X(..., run=run)`` continues Adam where it stopped.
    """

    history: dict = field(default_factory=lambda: {"step": []})
    config: TrainConfig | None = None
    data_name: str = ""
    checkpoint_dir: Path | None = None
    optimizers: dict | None = field(default=None, repr=False)


def begin(run: Run, config: TrainConfig, models: dict[str, nn.Module | None], lrs: dict[str, float]) -> dict:
    """Set ``run`` up for (more) training: its config, train mode, its Adam optimisers, the seed.

    A fresh run seeds torch with ``config.seed`` so it repeats exactly; a continued one does not
    (it must not redraw the batches it already saw). Returns the optimisers, one per network in
    ``models`` that is not None, with the learning rates ``lrs``.
    """
    run.config = config
    for m in models.values():
        if m is not None:
            m.train()
    run.optimizers = run.optimizers or adams(models, lrs, config)
    if not run.history.get("step"):
        torch.manual_seed(config.seed)
    return run.optimizers


def load_run(directory: str | Path, run_class: type, config_class: type[TrainConfig], networks: set[str],
             what: str, device=None, **fields) -> Run:
    """The run of ``run_class`` saved in ``directory`` (rebuilt from JSON + safetensors; nothing is unpickled).

    Args:
        networks: the networks the checkpoint must hold (others it holds, e.g. an optional D, are passed too).
        what: the kind of run, for the error when the folder holds another kind (e.g. "a pix2pix").
        fields: further fields of ``run_class`` (e.g. ``class_names``), or callables ``f(meta)`` computing them.
    """
    ckpt = checkpoints.load_kind(directory, config_class.key, networks, what, device)
    meta = ckpt.config
    extra = {k: v(meta) if callable(v) else v for k, v in fields.items()}
    return run_class(**ckpt.models, history=ckpt.history, config=config_class.from_checkpoint(meta),
                     data_name=meta.get("data") or "", checkpoint_dir=Path(directory), **extra)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@contextmanager
def frozen(*players: nn.Module | None):
    """Hold ``players`` fixed during the other player's update.

    The gradient still flows through them (into G), but their weights get none, and
    computing none costs nothing. ``None`` is allowed (a run without a discriminator).

    Example:
        >>> with frozen(D):                   # doctest: +SKIP
        ...     loss_G = loss_G_fn(D(G(z)))
        ...     loss_G.backward()             # G's weights get gradients, D's do not
    """
    params = [p for m in players if m is not None for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def adam(params, lr: float, config: TrainConfig) -> torch.optim.Adam:
    """Adam with the config's betas."""
    return torch.optim.Adam(params, lr, betas=(config.beta1, config.beta2))


def adams(models: dict[str, nn.Module | None], lrs: dict[str, float], config: TrainConfig) -> dict:
    """One Adam per network present (``None`` entries are skipped), ``lrs[name]`` its learning rate."""
    return {name: adam(m.parameters(), lrs[name], config) for name, m in models.items() if m is not None}


def linear_decay_factor(progress: float, decay_start: float) -> float:
    """The factor of a learning rate when the run is ``progress`` (0 … 1) of the way through: 1 until
    ``decay_start``, then a straight line down to 0 at the end (CycleGAN's schedule over its last epochs, here
    over a part of the run rather than whole epochs). ``decay_start`` 1: never decays."""
    if decay_start >= 1:
        return 1.0
    return min(1.0, max(0.0, (1.0 - progress) / (1.0 - decay_start)))


def set_learning_rates(optimizers: dict[str, torch.optim.Optimizer], lrs: dict[str, float],
                       factor: float = 1.0) -> None:
    """Set each optimiser's rate to ``lrs[name] · factor`` (a schedule's rate for this step, written every step so
    that a resumed or continued run follows its config, not the rate its checkpoint stopped at)."""
    for name, opt in optimizers.items():
        for group in opt.param_groups:
            group["lr"] = lrs[name] * factor


def fit_run(run, step_fn: Callable[[int], dict], models: dict[str, nn.Module], meta: dict, *, desc: str,
            checkpoint_dir: str | Path | None = None, resume: bool = False, callbacks=(), stop_event=None,
            progress: bool = True, **fit_options):
    """Train ``run`` with :func:`gan_lab.train.loop.fit` for ``run.config.num_steps``; networks end in eval mode.

    The loop fields come from the config; a run that already has a history continues it
    (its ``optimizers`` must be ``run.optimizers``). ``fit_options`` go to ``fit`` unchanged.
    """
    config = run.config
    if checkpoint_dir is not None:
        run.checkpoint_dir = Path(checkpoint_dir)
    run.history = fit(step_fn, config.num_steps, models=models, optimizers=run.optimizers, config=meta,
                      checkpoint_dir=checkpoint_dir, checkpoint_every=config.checkpoint_every, resume=resume,
                      log_every=config.log_every, callbacks=callbacks, callback_every=config.callback_every,
                      stop_event=stop_event, progress=progress, desc=desc,
                      history=run.history if run.history.get("step") else None, **fit_options)
    for m in models.values():
        m.eval()
    return run


def draw_z(n: int, z_dim: int, device, seed: int | None = None) -> torch.Tensor:
    """z ~ N(0, I), shape (n, z_dim): from ``seed`` (drawn on the CPU, so every device gets the same codes)
    or, with ``seed=None``, from the global RNG on ``device``."""
    if seed is None:
        return torch.randn(n, z_dim, device=device)
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)


@torch.inference_mode()
def in_batches(net: nn.Module, *inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``net(*inputs)`` in eval mode, ``batch_size`` rows at a time on the net's device, returned on the CPU."""
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net(*(x[i:i + batch_size].to(device) for x in inputs)).cpu()
                          for i in range(0, inputs[0].shape[0], batch_size)])
    finally:
        net.train(was_training)


def images_of(data: ImageData | torch.Tensor) -> torch.Tensor:
    """The (N, C, H, W) image tensor of ``data``, checked."""
    images = data.images if isinstance(data, ImageData) else data
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"Expected images of shape (N, C, H, W); got {shape}.")
    return images


def data_name(data: ImageData | torch.Tensor) -> str:
    return data.name if isinstance(data, ImageData) else "tensor"  # (a torch.Tensor has a .name too: None)


def data_fingerprint(*tensors: torch.Tensor | None) -> str:
    """A short hex digest (16 characters) of the tensors a run trains on: their shapes, dtypes and values.

    Two data sets with the same name, count and size but other pixels (shifted pairs, one pixel
    changed, other labels) get other fingerprints, so a cache trained on the one is not loaded for the
    other. It depends only on the values, in order: not on the device, the memory layout (a
    non-contiguous view or a channels-last copy hashes like its contiguous copy) or ``requires_grad``;
    integer tensors (labels) hash as int64, so int32 and int64 labels agree. Float dtypes are kept
    apart (a float16 copy of the images is other training data). ``None`` (e.g. no masks) counts as
    an entry of its own. One pass over the bytes, about 1 ms per MB: 16 ms for PneumoniaMNIST's training
    split (15 MB), 73 ms for 2000 phantoms of 64 px with their masks (66 MB).

    Example:
        >>> data_fingerprint(torch.zeros(2, 1, 4, 4)) == data_fingerprint(torch.zeros(2, 1, 4, 4))
        True
    """
    digest = hashlib.blake2b(digest_size=8)
    for t in tensors:
        if t is None:
            digest.update(b"None;")
            continue
        t = t.detach()
        if not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool):
            t = t.long()
        t = t.resolve_conj().resolve_neg().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def fingerprint_entry(*tensors: torch.Tensor | None) -> dict:
    """``{"data_fingerprint": data_fingerprint(*tensors)}``: the entry every ``checkpoint_meta`` holds, so that
    :func:`load_or_train` retrains when the training data changed although its name and shape did not."""
    return {checkpoints.DATA_FINGERPRINT: data_fingerprint(*tensors)}


def data_meta(data: ImageData | torch.Tensor, *also: torch.Tensor | None) -> dict:
    """What a checkpoint records about its training images: name, count, channels, size and a fingerprint.

    The fingerprint covers the images and ``also``: whatever else the run trains on (labels, masks).
    """
    images = images_of(data)
    return {"data": data_name(data), "num_images": images.shape[0], "channels": images.shape[1],
            "size": images.shape[-1], **fingerprint_entry(images, *also)}


def load_or_train(directory: str | Path, config: TrainConfig, meta: dict, train: Callable[..., Run],
                  load: Callable[[str | Path], Run], *, retrain: bool = False) -> Run:
    """Load the run cached in ``directory`` if it was made with this config on this data, else train it.

    The stored JSON is compared with ``meta`` (the config and what the data was, its fingerprint
    included: other images under the same name retrain), as ``TrainConfig.compared_as`` says: the
    loop-only fields do not count, and a setting added since the cache was written counts as what its
    absence meant, so a new option that is off does not retrain every cache.
    Same → ``load(directory)`` (no training); same but the run stopped early (Ctrl-C) → resume it;
    different, absent or unloadable → train from scratch there.
    Every algorithm's ``load_or_train_X(directory, <its data>, config, ...)`` is this rule.

    Args:
        meta: the JSON a checkpoint of this run would store (the algorithm's ``checkpoint_meta``).
        train: ``train(checkpoint_dir=..., resume=...)`` → a run (the algorithm's ``train_X`` with
            its data and config bound).
        load: ``load(directory)`` → a run (the algorithm's ``load_X``).
        retrain: train from scratch even if a matching checkpoint exists.
    """
    status = checkpoints.cache_status(directory, meta, num_steps=config.num_steps, retrain=retrain,
                                      **config.compared_as())
    if status == "load":
        run = load(directory)
        run.config = config  # the loop-only fields as asked for now
        return run
    return train(checkpoint_dir=directory, resume=status == "resume")
