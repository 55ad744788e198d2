"""Training in bfloat16 (bf16): less arithmetic per step where the hardware computes bf16 natively.

During each training step, every network being trained runs its forward pass
under ``torch.autocast``: its matrix multiplies and convolutions compute in
bf16, and its outputs come back as float32. Everything else stays float32:
the weights, the optimiser state, the losses and penalties computed from the
outputs, and whatever runs between steps (callbacks, sampling, metrics,
widgets). bf16 keeps float32's exponent range, so unlike float16 it needs no
loss scaling. Each autocast region ends with its forward pass, so a network
updated twice in one step (a WGAN critic's n_critic updates) is cast afresh
every time, never from a stale bf16 copy. Every trainer trains through
``gan_lab.train.loop.fit``, which applies :class:`TrainingPrecision`. It hooks
``forward``: another method called directly (the semi-supervised GAN's
``D.embed`` for feature matching) computes in float32. The FID feature network
and the toy lab always train in float32 (their numbers are the reference).

Choose it with ``gan_lab.setup(precision="bf16")``, ``$GAN_LAB_PRECISION=bf16``
or ``python -m gan_lab train ... --precision bf16``. The default is float32
("fp32"): the notebooks' quoted results were measured in float32, and on a
CPU without bf16 instructions (many laptops) bf16 is emulated and far slower.
:func:`native_bf16` says whether this machine has them (``doctor`` reports it);
``benchmarks/README.md`` has the measured speed-ups.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
import warnings
from collections.abc import Iterable, Iterator

import torch
from torch import nn

#: the precisions a training step can run in: float32 throughout, or bf16 autocast.
PRECISIONS = ("fp32", "bf16")
# how to choose fp32, for the messages: a notebook, the shell and the command line each have their own way
_CHOOSE_FP32 = "precision='fp32' in gan_lab.setup or fit, GAN_LAB_PRECISION=fp32 or train --precision fp32"

_current: str | None = None


class PrecisionError(ValueError):
    """A precision was asked for that is unknown or that this device cannot run; the message says what to use."""


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """True when ``device`` computes bf16 in hardware (so bf16 autocast can pay off).

    CPU: AVX-512 BF16 or AMX instructions (recent Xeons, AMD Zen 4), and torch allowed to use them;
    CUDA: compute capability 8.0 or newer
    (A100, RTX 30xx, H100); Apple MPS: False (not measured here).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        cpu = torch.cpu
        # ATEN_CPU_CAPABILITY=avx2 (or lower) keeps torch's kernels off these instructions even where they exist
        return torch.backends.cpu.get_cpu_capability().startswith("AVX512") and \
            any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported",
                                                                   "_is_amx_tile_supported"))
    return False


def check_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``precision`` if ``device`` can train in it.

    Raises:
        PrecisionError: an unknown name, or bf16 on a GPU without bf16 (older than Ampere) or on Apple MPS.
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f"Unknown precision {precision!r}; use one of {PRECISIONS}, e.g. {_CHOOSE_FP32}.")
    device = torch.device(device)
    if precision == "bf16" and device.type == "cuda" and not native_bf16(device):
        raise PrecisionError(f"{torch.cuda.get_device_name(device)} has no bf16 arithmetic (it needs compute "
                             f"capability 8.0, Ampere or newer); train in fp32: {_CHOOSE_FP32}.")
    if precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise PrecisionError(f"bf16 autocast is only supported on the CPU and on CUDA GPUs, not on {device.type}; "
                             f"train in fp32: {_CHOOSE_FP32}.")
    return precision


def warn_if_emulated(precision: str, device: str | torch.device = "cpu") -> None:
    """Warn when ``precision`` is bf16 and ``device`` has no bf16 arithmetic (it is emulated, and slow)."""
    if precision == "bf16" and not native_bf16(device):
        warnings.warn(f"bf16 is emulated on this {torch.device(device).type.upper()}: a DCGAN step took 8-9x as long "
                      f"as in fp32 on a CPU without bf16 instructions; choose fp32: {_CHOOSE_FP32}.",
                      stacklevel=3)  # the caller of set_precision / TrainingPrecision


def set_precision(precision: str | None = None, device: str | torch.device = "cpu") -> str:
    """Make ``precision`` (default ``$GAN_LAB_PRECISION``, else "fp32") the one training steps run in; return it."""
    global _current
    _current = check_precision(precision or os.environ.get("GAN_LAB_PRECISION") or "fp32", device)
    warn_if_emulated(_current, device)
    return _current


def get_precision() -> str:
    """The precision set by :func:`set_precision` (``gan_lab.setup``), else ``$GAN_LAB_PRECISION``, else "fp32"."""
    return _current or os.environ.get("GAN_LAB_PRECISION") or "fp32"


def describe_precision(device: str | torch.device = "cpu") -> str:
    """The training precision and, where it matters, what this device's bf16 support means for it."""
    precision, native = get_precision(), native_bf16(device)
    if precision == "bf16":
        return "bf16" if native else "bf16 (emulated on this device: slower than fp32)"
    if native:
        return "fp32 (this device computes bf16 in hardware: precision='bf16' can train faster)"
    return "fp32 (no bf16 arithmetic on this device: fp32 is the fast choice)"


def autocast(device: str | torch.device, precision: str | None = None) -> contextlib.AbstractContextManager:
    """A whole block under bf16 autocast when ``precision`` (default: :func:`get_precision`) is "bf16", else a
    no-op context: for a hand-written loop. Its weight-cast cache is off, so a weight updated inside the block
    is cast afresh at its next use (with the cache, autocast would keep using the bf16 copy made before the
    update until the block ends).

    Example:
        >>> with autocast("cpu", "bf16"):
        ...     y = torch.nn.Linear(4, 2)(torch.randn(3, 4))
        >>> y.dtype
        torch.bfloat16
    """
    device = torch.device(device)
    if check_precision(precision or get_precision(), device) == "fp32":
        return contextlib.nullcontext()  # no autocast state to switch, whatever the device
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)


class TrainingPrecision:
    """Runs the forward passes of ``models`` in bf16 autocast inside :meth:`step`, returning float32 outputs.

    ``fit`` makes one for the networks it trains, :meth:`install` s it for the run and enters :meth:`step`
    around each training step. Outside a step (callbacks, sampling) and in any other thread (a widget drawing
    from G while training runs in the background) the networks compute in float32. With precision "fp32" it
    does nothing at all. It works through forward hooks, so the networks' code is untouched; the hooks hold
    only a key, so a network copied or pickled during training carries no reference to this run, and its
    hooks do nothing once the run has ended.

    Example:
        >>> net = torch.nn.Linear(4, 2)
        >>> training = TrainingPrecision([net], "bf16")
        >>> training.install()
        >>> with training.step():
        ...     y = net(torch.randn(3, 4))   # computed in bf16, returned as float32
        >>> training.remove()
        >>> y.dtype
        torch.float32
    """

    def __init__(self, models: Iterable[nn.Module], precision: str | None = None):
        self.models = list(models)
        device = models_device(self.models)
        self.precision = check_precision(precision or get_precision(), device)
        warn_if_emulated(self.precision, device)
        self.device_type = device.type
        self._thread = threading.local()  # autocast is per thread, so is "in a step" and the open regions
        self._handles: list = []
        self._key: str | None = None

    def install(self) -> None:
        """Hook each model's forward pass (:meth:`remove` takes the hooks off)."""
        if self.precision == "fp32" or self._handles:
            return
        self._key = uuid.uuid4().hex  # unique across processes: a pickled copy can never meet another run
        _RUNNING[self._key] = self
        for model in self.models:
            self._handles += [model.register_forward_pre_hook(_EnterHook(self._key)),
                              model.register_forward_hook(_ExitHook(self._key), always_call=True)]  # also on errors

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        _RUNNING.pop(self._key, None)

    def step(self) -> contextlib.AbstractContextManager:
        """The block in which the hooked forward passes of this thread run in bf16 (one training step)."""
        # fit enters this every step: in fp32 there is nothing to switch, so nothing is done
        return contextlib.nullcontext() if self.precision == "fp32" else self._bf16_step()

    @contextlib.contextmanager
    def _bf16_step(self) -> Iterator[None]:
        self._thread.in_step = True
        try:
            yield
        finally:
            self._thread.in_step = False
            self._close_open_regions()

    def _close_open_regions(self) -> None:
        """Close the regions of forward passes that never finished: PyTorch calls an ``always_call`` forward
        hook after an ``Exception`` but not after Ctrl-C (``KeyboardInterrupt``), and autocast left open would
        put everything after the interrupt (sampling, metrics, the next fit) in bf16."""
        regions = self._regions()
        while regions:
            region = regions.pop()[1]  # newest first, as they nest
            if region is not None:
                region.__exit__(None, None, None)

    def _regions(self) -> list[tuple[nn.Module, torch.autocast | None]]:
        """This thread's forward passes in progress (they nest), with the autocast region each opened."""
        if not hasattr(self._thread, "regions"):
            self._thread.regions = []
        return self._thread.regions

    def enter(self, module: nn.Module) -> None:
        region = torch.autocast(self.device_type, dtype=torch.bfloat16) \
            if getattr(self._thread, "in_step", False) else None
        if region is not None:
            region.__enter__()  # its weight-cast cache lives until this forward pass ends
        self._regions().append((module, region))

    def exit(self, module: nn.Module, output):
        regions = self._regions()
        if not regions or regions[-1][0] is not module:
            return None  # its forward pass never reached our pre-hook (an earlier hook raised): nothing to close
        region = regions.pop()[1]
        if region is None:
            return None  # outside a step: the output as computed, float32
        region.__exit__(None, None, None)
        return _to_float32(output)


_RUNNING: dict[str, TrainingPrecision] = {}  # the installed TrainingPrecisions, by key


class _EnterHook:
    """Forward pre-hook: opens the running :class:`TrainingPrecision`'s region, if the run is still going."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, module: nn.Module, args) -> None:
        training = _RUNNING.get(self.key)
        if training is not None:
            training.enter(module)


class _ExitHook(_EnterHook):
    """Forward hook: closes the region and hands back float32 outputs."""

    def __call__(self, module: nn.Module, args, output):
        training = _RUNNING.get(self.key)
        return training.exit(module, output) if training is not None else None


def _to_float32(out):
    """``out`` (a tensor, or tuples, lists and dicts of them) with every bf16 tensor cast to float32."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.dtype == torch.bfloat16 else out
    if isinstance(out, tuple) and hasattr(out, "_fields"):  # a named tuple
        return type(out)(*(_to_float32(o) for o in out))
    if isinstance(out, (tuple, list)):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float32(v) for k, v in out.items()}
    return out


@contextlib.contextmanager
def use_precision(precision: str | None, device: str | torch.device = "cpu") -> Iterator[str]:
    """:func:`set_precision` for the duration of a ``with`` block, then whatever was chosen before."""
    global _current
    before = _current
    try:
        yield set_precision(precision, device)
    finally:
        _current = before


def models_device(models: Iterable[nn.Module]) -> torch.device:
    """The device of the first parameter of ``models`` (the CPU if they have none)."""
    for model in models:
        for p in model.parameters():
            return p.device
    return torch.device("cpu")
