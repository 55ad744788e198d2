"""Channels-last (NHWC) storage for convolutional training on the CPU.

PyTorch's CPU convolutions run faster on NHWC tensors than on the default
NCHW: 10–24 % more images per CPU second for DCGAN, cDCGAN, WGAN-GP, pix2pix
and SegAN training, 20–60 % for the domain classifier, none for CycleGAN
(``benchmarks/README.md`` has the measurements). Only the memory layout
changes, not the values (up to float rounding); checkpoints store contiguous
(NCHW) copies, so they load either way.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def channels_last_on_cpu(models: Iterable[nn.Module], *images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Store the models' 4-D weights and the 4-D ``images`` as NHWC when the images are on the CPU.

    Args:
        models: the networks to convert in place (their parameters stay the same objects, so
            optimisers built before or after keep working).
        images: (N, C, H, W) tensors, all on one device.

    Returns:
        ``images``, channels-last on the CPU, unchanged elsewhere (GPUs choose their own layouts).

    Example:
        >>> x, = channels_last_on_cpu([G, D], x)  # doctest: +SKIP
    """
    if not images or images[0].device.type != "cpu":
        return images
    for model in models:
        model.to(memory_format=torch.channels_last)
    return tuple(x.contiguous(memory_format=torch.channels_last) for x in images)

