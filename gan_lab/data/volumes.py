"""3-D volumes: the MedMNIST 3-D reader (28³), 3-D phantoms, and simulated MR noise.

The official ``{flag}.npz`` files of the 3-D MedMNIST datasets hold ``{split}_images``
of shape (N, 28, 28, 28) uint8. They are found and checked exactly as the 2-D
files are (the search path and MD5 of ``gan_lab.data.medmnist``); volumes come
back as ``ImageData`` whose ``images`` are (N, 1, D, H, W) in [-1, 1].

MR magnitude images carry *Rician* noise: the scanner measures a complex signal
with independent Gaussian noise of standard deviation σ on its real and
imaginary parts, and the image is the magnitude

    y = sqrt((x + n₁)² + n₂²),   n₁, n₂ ~ N(0, σ²),

which is biased upwards in dark regions (its mean on x = 0 is σ·sqrt(π/2)), unlike
additive Gaussian noise (Gudbjartsson & Patz 1995).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from .base import ImageData
from .errors import DataError, DataUnavailableError
from .medmnist import SPLITS, file_md5, find_file, is_3d, medmnist_info, missing_message

SIZE = 28  # the 3-D MedMNIST files gan_lab reads (64³ files exist too; 28³ keeps 3-D training CPU-sized)


def load_medmnist3d(flag: str = "adrenalmnist3d", split: str = "train", root: str | os.PathLike | None = None,
                    verify: bool = True) -> ImageData:
    """One split of a 3-D MedMNIST dataset as volumes (N, 1, 28, 28, 28) in [-1, 1].

    Args:
        flag: a 3-D key of ``medmnist.INFO``, e.g. "adrenalmnist3d", "organmnist3d".
        split: "train", "val" or "test".
        root: a folder searched before ``$GAN_LAB_DATA/medmnist``, ``<repo>/data/medmnist`` and ~/.medmnist.
        verify: check the file's MD5 against ``medmnist.INFO``.

    Raises:
        DataError: not a 3-D flag, or a bad split.
        DataUnavailableError: the file is missing, corrupt or not in the official layout.

    Example:
        >>> vols = load_medmnist3d("adrenalmnist3d", "test")  # doctest: +SKIP
        >>> vols.images.shape
        torch.Size([298, 1, 28, 28, 28])
    """
    info = medmnist_info().get(flag)
    if info is None or not is_3d(flag):
        flags = [f for f in medmnist_info() if is_3d(f)]
        raise DataError(f"{flag!r} is not a 3-D MedMNIST flag; use one of {', '.join(flags)}.")
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r} for {flag}: use one of {SPLITS}.")
    path = find_file(flag, SIZE, root)
    if path is None:
        raise DataUnavailableError(missing_message(flag, SIZE, root))
    if verify and file_md5(path) != info["MD5"]:
        raise DataUnavailableError(f"{path} is corrupt or truncated: its MD5 {file_md5(path)} differs from the "
                                   f"official {info['MD5']}. Download {info['url']} again.")
    with np.load(path) as npz:
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    if images.ndim != 4 or images.shape[1:] != (SIZE,) * 3 or images.dtype != np.uint8:
        raise DataUnavailableError(f"{path}: {split}_images has shape {images.shape} ({images.dtype}); "
                                   f"expected (N, {SIZE}, {SIZE}, {SIZE}) uint8.")
    x = torch.from_numpy(images).float().div_(127.5).sub_(1.0).unsqueeze(1)  # (N, 1, D, H, W)
    names = [info["label"][k] for k in sorted(info["label"], key=int)]
    return ImageData(x, torch.from_numpy(labels[:, 0].astype(np.int64)), names, flag, f"real: {path}",
                     info={"flag": flag, "split": split, "size": SIZE, "path": str(path)})


def phantom_volumes(n: int, size: int = SIZE, seed: int = 0) -> ImageData:
    """Organ-like 3-D shape masks: one smooth, irregular, randomly oriented ellipsoid per volume.

    Stands in for AdrenalMNIST3D offline: a bright object of a few hundred voxels near the
    centre of a dark volume, with anti-aliased edges. Volumes (n, 1, size, size, size) in [-1, 1].
    """
    if n < 1 or size < 8:
        raise ValueError(f"Need n ≥ 1 and size ≥ 8; got n={n}, size={size}.")
    gen = torch.Generator().manual_seed(seed)
    axis = torch.arange(size, dtype=torch.float32) + 0.5 - size / 2
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)  # (D, H, W, 3)
    q, _ = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen))  # random orientations
    centre = (torch.rand(n, 1, 1, 1, 3, generator=gen) - 0.5) * size * 0.2
    radii = (torch.tensor([0.25, 0.12, 0.08]) + 0.06 * torch.rand(n, 3, generator=gen)) * size
    local = torch.einsum("ndhwk,nkj->ndhwj", grid.unsqueeze(0) - centre, q)  # coordinates in the object's frame
    wobble = 1 + 0.15 * torch.sin(local[..., :1] * (0.3 + 0.3 * torch.rand(n, 1, 1, 1, 1, generator=gen)))
    distance = (local / (radii.view(n, 1, 1, 1, 3) * wobble)).norm(dim=-1)  # < 1 inside
    volume = torch.sigmoid((1 - distance) * radii.min(1).values.view(n, 1, 1, 1) * 2)  # ~1-voxel edge
    return ImageData(volume.unsqueeze(1) * 2 - 1, torch.zeros(n, dtype=torch.long), ["phantom"], "phantom volumes",
                     "phantom (procedural)", info={"seed": seed, "size": size})


def load_volumes(flag: str = "adrenalmnist3d", split: str = "train", n: int | None = None,
                 root: str | os.PathLike | None = None, fallback: bool = True) -> ImageData:
    """The real 3-D MedMNIST split (its first ``n`` volumes), or 3-D phantoms with a banner when it is missing."""
    try:
        data = load_medmnist3d(flag, split, root)
        return data if n is None else data.subset(slice(0, n))
    except DataUnavailableError as err:
        if not fallback:
            raise
        print(f"{'=' * 78}\nREAL DATA NOT FOUND: {flag} -> using 3-D phantoms instead\n{err}\n{'=' * 78}")
    counts = {"train": 1200, "val": 100, "test": 300}
    return phantom_volumes(n or counts[split], SIZE, seed=SPLITS.index(split))


def add_noise(volumes: torch.Tensor, sigma: float, kind: str = "rician",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy copies of volumes (or images) in [-1, 1]; σ is relative to the intensity range [0, 1].

    ``kind="rician"``: y = sqrt((x + n₁)² + n₂²) on the magnitude x ∈ [0, 1] (MR);
    ``kind="gaussian"``: y = x + n₁. Then mapped back to the [-1, 1] scale (not clipped).
    """
    if kind not in ("rician", "gaussian") or sigma < 0:
        raise ValueError(f"kind must be 'rician' or 'gaussian' and sigma ≥ 0; got {kind!r}, {sigma}.")
    x = (volumes + 1) / 2
    n1 = sigma * torch.randn(x.shape, generator=generator).to(x)
    if kind == "gaussian":
        return (x + n1) * 2 - 1
    n2 = sigma * torch.randn(x.shape, generator=generator).to(x)
    return torch.sqrt((x + n1) ** 2 + n2**2) * 2 - 1


def random_patches(volumes: torch.Tensor, patch: int, *others: torch.Tensor,
                   generator: torch.Generator | None = None):
    """One random cube (B, C, p, p, p) per volume of (B, C, D, H, W), at the same place in ``others``.

    RED-WGAN trains on 3-D patches: the fully convolutional G then denoises volumes of any size.
    """
    if volumes.dim() != 5 or patch > min(volumes.shape[-3:]):
        raise ValueError(f"Expected volumes (B, C, D, H, W) at least {patch} voxels per side; "
                         f"got {tuple(volumes.shape)}.")
    B = volumes.shape[0]
    corners = [torch.randint(0, s - patch + 1, (B,), generator=generator) for s in volumes.shape[-3:]]
    offsets = torch.arange(patch)
    d, h, w = (c.view(B, 1) + offsets for c in corners)  # (B, p) indices per axis
    b = torch.arange(B).view(B, 1, 1, 1)

    def cut(v: torch.Tensor) -> torch.Tensor:
        idx = (b, d.view(B, patch, 1, 1).to(v.device), h.view(B, 1, patch, 1).to(v.device),
               w.view(B, 1, 1, patch).to(v.device))
        return v.movedim(1, -1)[idx].movedim(-1, 1)  # (B, p, p, p, C) → (B, C, p, p, p)

    out = tuple(cut(v) for v in (volumes, *others))
    return out if others else out[0]


def rician_bias(sigma: float) -> float:
    """E[y] for x = 0: σ·sqrt(π/2), the floor Rician noise lifts the background to (on the [0, 1] scale)."""
    return sigma * math.sqrt(math.pi / 2)


__all__ = ["add_noise", "load_medmnist3d", "load_volumes", "phantom_volumes", "random_patches", "rician_bias"]
