"""A history of generated images for the discriminator (Shrivastava et al. 2017), as CycleGAN uses it."""

from __future__ import annotations

import torch


class ImagePool:
    """Keeps up to ``size`` past fakes and answers each batch with a mix of old and new ones.

    Zhu et al.'s rule: until ``size`` fakes are stored, each new fake is stored
    and passed on. Then each new fake, with probability ½, replaces a random
    stored one, which is passed on instead; otherwise the new fake is passed on.
    The discriminator thus also sees older fakes and cannot just chase the
    generator's latest mode, which is meant to damp the oscillation of the two
    (for the DCGAN in 180 s it made the samples worse: README, "A history of fakes for D").
    ``size=0`` passes every batch through unchanged.

    Args:
        size: the number of fakes kept (CycleGAN: 50).
        seed: seed of the pool's own random numbers (drawn on the CPU, so runs repeat on any device).

    Example:
        >>> pool = ImagePool(50)
        >>> pool.query(torch.zeros(4, 1, 28, 28)).shape
        torch.Size([4, 1, 28, 28])
    """

    def __init__(self, size: int = 50, seed: int = 0):
        if size < 0:
            raise ValueError(f"size must be ≥ 0 (0: no pool), got {size}.")
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) new fakes → (B, C, H, W) fakes for the discriminator (detached)."""
        if self.size == 0:
            return fakes.detach()
        out = []
        for fake in fakes.detach():
            if len(self.images) < self.size:  # still filling up
                self.images.append(fake.clone())  # a copy: a view would keep its whole batch in memory
                out.append(fake)
            elif torch.rand((), generator=self.generator) < 0.5:  # swap: return an old fake, keep the new one
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[i])
                self.images[i] = fake.clone()
            else:
                out.append(fake)
        # in D's memory format: a CPU DCGAN runs channels-last (train/memory_format.py)
        layout = torch.channels_last if fakes.dim() == 4 and fakes.is_contiguous(memory_format=torch.channels_last) \
            else torch.contiguous_format
        return torch.stack(out).contiguous(memory_format=layout)
