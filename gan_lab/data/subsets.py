"""Subsets of a dataset that keep its class balance (e.g. the low-data regime of an experiment)."""

from __future__ import annotations

import torch

from .base import ImageData


def stratified_subset(data: ImageData, fraction: float, seed: int = 0) -> ImageData:
    """``fraction`` of each class of ``data`` (at least one image per class), drawn with ``seed``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], e.g. 0.1 for the low-data regime; got {fraction}.")
    if fraction == 1:
        return data
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for k in range(data.num_classes):
        members = (data.labels.cpu() == k).nonzero().flatten()
        if len(members):
            n = max(1, round(fraction * len(members)))
            keep.append(members[torch.randperm(len(members), generator=gen)[:n]])
    return data.subset(torch.cat(keep).sort().values)
