"""The in-memory containers every loader returns.

MedMNIST-sized data fits in memory, so a dataset is a few tensors; batches
are drawn by random index (see ``gan_lab.train.loop.batches``), never
through a multi-process DataLoader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ImageData:
    """Images with optional class labels and masks.

    Attributes:
        images: float tensor (N, C, H, W) scaled to [-1, 1].
        labels: long tensor (N,) of class indices (zeros when unlabelled).
        class_names: ``class_names[k]`` names label k.
        name: dataset name, e.g. "pneumoniamnist" or "phantoms".
        source: where it came from ("real: /path/file.npz" or "phantom (procedural)").
        masks: optional float tensor (N, 1, H, W) in {0, 1}.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    name: str
    source: str
    masks: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def size(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_real(self) -> bool:
        return self.source.startswith("real")

    def class_counts(self) -> dict[str, int]:
        counts = torch.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def to(self, device) -> ImageData:
        """A copy with every tensor on ``device`` (the fast data path)."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return ImageData(move(self.images), move(self.labels), self.class_names, self.name,
                         self.source, move(self.masks), dict(self.info))

    def subset(self, index) -> ImageData:
        """The rows ``index`` (a slice, an index tensor or a boolean mask)."""
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return ImageData(pick(self.images), pick(self.labels), self.class_names, self.name,
                         self.source, pick(self.masks), dict(self.info))
