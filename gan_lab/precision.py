"""Training in bfloat16 (bf16) autocast: less arithmetic per step where the hardware computes bf16 natively.

Under ``torch.autocast`` each matrix multiply and convolution runs in bf16
while the weights, the optimiser state and the losses that need the range
(log-sigmoid, BCE, reductions) stay float32. bf16 keeps float32's exponent
range, so unlike float16 it needs no loss scaling, and a GAN's losses cannot
overflow. Every trainer goes through ``gan_lab.train.loop.fit``, which runs
each training step under :func:`autocast`; sampling, metrics and widgets run
in float32.

Choose it with ``gan_lab.setup(precision="bf16")``, ``$GAN_LAB_PRECISION=bf16``
or ``python -m gan_lab --precision bf16 train ...``. The default is float32
("fp32"): the notebooks' quoted results were measured in float32, and on a
CPU without bf16 instructions (most laptops) bf16 is emulated and slower.
:func:`native_bf16` says whether this machine has them (``doctor`` reports it);
``benchmarks/README.md`` has the measured speed-ups.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterable

import torch
from torch import nn

#: the precisions a training step can run in: float32 throughout, or bf16 autocast.
PRECISIONS = ("fp32", "bf16")

_current: str | None = None


class PrecisionError(ValueError):
    """A precision was asked for that is unknown or that this device cannot run; the message says what to use."""


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """True when ``device`` computes bf16 in hardware (so bf16 autocast can pay off).

    CPU: AVX-512 BF16 or AMX instructions (recent Xeons, AMD Zen 4); CUDA: compute capability 8.0 or newer
    (A100, RTX 30xx, H100); Apple MPS: False (not measured here).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        cpu = torch.cpu
        return any(getattr(cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported",
                                                                      "_is_amx_tile_supported"))
    return False


def check_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``precision`` if ``device`` can train in it.

    Raises:
        PrecisionError: an unknown name, or bf16 on a GPU without bf16 (older than Ampere) or on Apple MPS.
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f"Unknown precision {precision!r}; use one of {PRECISIONS} "
                             "(setup(precision=...), $GAN_LAB_PRECISION or --precision).")
    device = torch.device(device)
    if precision == "bf16" and device.type == "cuda" and not native_bf16(device):
        raise PrecisionError(f"{torch.cuda.get_device_name(device)} has no bf16 arithmetic (it needs compute "
                             "capability 8.0, Ampere or newer); train with precision='fp32'.")
    if precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise PrecisionError(f"bf16 autocast is only supported on the CPU and on CUDA GPUs, not on {device.type}; "
                             "train with precision='fp32'.")
    return precision


def set_precision(precision: str | None = None, device: str | torch.device = "cpu") -> str:
    """Make ``precision`` (default ``$GAN_LAB_PRECISION``, else "fp32") the one training steps run in; return it."""
    global _current
    _current = check_precision(precision or os.environ.get("GAN_LAB_PRECISION") or "fp32", device)
    if _current == "bf16" and not native_bf16(device):
        warnings.warn(f"bf16 is emulated on this {torch.device(device).type.upper()}: a DCGAN step took 9x as long "
                      "as in fp32 on a CPU without bf16 instructions; use precision='fp32'.", stacklevel=2)
    return _current


def get_precision() -> str:
    """The precision set by :func:`set_precision` (``gan_lab.setup``), else ``$GAN_LAB_PRECISION``, else "fp32"."""
    return _current or os.environ.get("GAN_LAB_PRECISION") or "fp32"


def describe_precision(device: str | torch.device = "cpu") -> str:
    """The training precision and, where it matters, what this device's bf16 support means for it."""
    precision = get_precision()
    if precision == "fp32" and native_bf16(device):
        return "fp32 (this device computes bf16 in hardware: precision='bf16' can train faster)"
    if precision == "bf16" and not native_bf16(device):
        return "bf16 (emulated on this device: slower than fp32)"
    return precision


def autocast(device: str | torch.device, precision: str | None = None) -> contextlib.AbstractContextManager:
    """The autocast context one training step runs in: bf16 when ``precision`` (default: :func:`get_precision`)
    is "bf16", a no-op context for "fp32".

    Example:
        >>> with autocast("cpu", "bf16"):
        ...     y = torch.nn.Linear(4, 2)(torch.randn(3, 4))
        >>> y.dtype
        torch.bfloat16
    """
    device = torch.device(device)
    if check_precision(precision or get_precision(), device) == "fp32":
        return contextlib.nullcontext()  # no autocast state to switch, whatever the device
    return torch.autocast(device.type, dtype=torch.bfloat16)


def models_device(models: Iterable[nn.Module]) -> torch.device:
    """The device of the first parameter of ``models`` (the CPU if they have none)."""
    for model in models:
        for p in model.parameters():
            return p.device
    return torch.device("cpu")
