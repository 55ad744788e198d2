"""Stained-tissue tiles and the colour tools of stain normalisation: CIELAB, optical density, HED jitter.

Bright-field microscopy images of stained tissue obey the Beer–Lambert law: each
stain s absorbs light in proportion to its concentration c_s, so the optical
density OD = −log(I / I₀) of an RGB pixel is a linear mix of stain vectors,

    OD = c_H · v_H + c_E · v_E + c_D · v_D        (haematoxylin, eosin, DAB; Ruifrok & Johnston 2001).

Labs differ in how much stain they use and how long they stain; scaling and
shifting the concentrations (``hed_jitter``, Tellez et al. 2018) simulates that.
Colour statistics are measured in CIELAB, where Euclidean distance (ΔE) roughly
follows perceived colour difference, and Reinhard et al.'s (2001) colour transfer
matches each channel's mean and standard deviation there.

All images are tensors (N, 3, H, W) in [-1, 1] (gan_lab's convention) unless a
name says ``rgb01`` ([0, 1]) or ``lab`` (L in [0, 100], a and b roughly ±100).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .base import ImageData
from .errors import DataUnavailableError
from .nuclei import load_nuclei

#: rows: the optical-density vectors of haematoxylin, eosin and DAB (Ruifrok & Johnston 2001, as in scikit-image).
RGB_FROM_HED = torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
HED_FROM_RGB = torch.linalg.inv(RGB_FROM_HED)
_XYZ_FROM_RGB = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                              [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])  # D65
_EPS_OD = 1.0 / 255  # keeps log(0) away: a black pixel has a large but finite optical density


def _mix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a 3×3 colour matrix to every pixel of (N, 3, H, W): y_c = Σ_k M[c, k] · x_k."""
    return torch.einsum("ck,nkhw->nchw", matrix.to(x), x)


def rgb_to_lab(rgb01: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] → CIELAB (D65), both (N, 3, H, W)."""
    linear = torch.where(rgb01 > 0.04045, ((rgb01 + 0.055) / 1.055) ** 2.4, rgb01 / 12.92)
    xyz = _mix(linear, _XYZ_FROM_RGB) / _WHITE.to(rgb01).view(1, 3, 1, 1)
    f = torch.where(xyz > (6 / 29) ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIELAB (D65) → sRGB in [0, 1] (out-of-gamut colours are clipped), both (N, 3, H, W)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE.to(lab).view(1, 3, 1, 1)
    linear = _mix(xyz, torch.linalg.inv(_XYZ_FROM_RGB)).clamp(0, 1)
    return torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * linear)


def rgb_to_hed(rgb01: torch.Tensor) -> torch.Tensor:
    """Stain concentrations (N, 3, H, W) = (H, E, D) from RGB in [0, 1]: c = OD · M_HED, OD = −log(I)."""
    od = -torch.log((rgb01 + _EPS_OD) / (1 + _EPS_OD))
    return _mix(od, HED_FROM_RGB.T)


def hed_to_rgb(hed: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] from stain concentrations (N, 3, H, W): I = exp(−c · M_RGB)."""
    od = _mix(hed, RGB_FROM_HED.T)
    return ((1 + _EPS_OD) * torch.exp(-od) - _EPS_OD).clamp(0, 1)


def hed_jitter(images: torch.Tensor, sigma: float = 0.3, bias: float = 0.05, vector: float = 0.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Another lab's staining: c'_s = α_s · c_s + β_s, α ~ U(1 ± σ), β ~ U(±bias), per image and stain.

    With ``vector > 0`` the stains' colours change too: each OD vector v_s is perturbed by
    U(±vector) per component (another haematoxylin, bluer or redder) before rendering.

    Args:
        images: (N, 3, H, W) in [-1, 1].
        sigma, bias: strength of the scaling and of the shift of each stain's concentration.
        vector: strength of the change of the stain colours (0: the same dyes).

    Returns:
        (N, 3, H, W) in [-1, 1]: the same tissue, stained differently.
    """
    _check_rgb(images)
    n = images.shape[0]
    alpha = 1 + sigma * (2 * torch.rand(n, 3, 1, 1, generator=generator) - 1)
    beta = bias * (2 * torch.rand(n, 3, 1, 1, generator=generator) - 1)
    vectors = RGB_FROM_HED + vector * (2 * torch.rand(n, 3, 3, generator=generator) - 1)  # (n, stain, rgb)
    vectors = vectors.clamp_min(0.01)
    hed = rgb_to_hed((images + 1) / 2) * alpha.to(images) + beta.to(images)
    od = torch.einsum("nkhw,nkc->nchw", hed, vectors.to(images))
    return ((1 + _EPS_OD) * torch.exp(-od) - _EPS_OD).clamp(0, 1) * 2 - 1


def lab_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image CIELAB mean and standard deviation, each (N, 3), of images (N, 3, H, W) in [-1, 1]."""
    _check_rgb(images)
    lab = rgb_to_lab((images + 1) / 2).flatten(2)
    return lab.mean(2), lab.std(2)


def reinhard(images: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor) -> torch.Tensor:
    """Reinhard et al. (2001) colour transfer in CIELAB: ℓ' = (ℓ − μ_src) · σ_tgt / σ_src + μ_tgt per channel.

    Each image's own mean μ_src and standard deviation σ_src (per LAB channel) are
    replaced by the target's. (Reinhard et al. worked in Ruderman's lαβ space; CIELAB is
    the usual substitute in stain-normalisation toolkits.)

    Args:
        images: (N, 3, H, W) in [-1, 1].
        target_mean, target_std: (3,) LAB statistics of the target style, e.g. ``lab_stats(ref)`` averaged.

    Returns:
        (N, 3, H, W) in [-1, 1].
    """
    _check_rgb(images)
    lab = rgb_to_lab((images + 1) / 2)
    mean, std = lab_stats(images)
    scaled = (lab - mean[..., None, None]) / std[..., None, None].clamp_min(1e-6)
    out = scaled * target_std.to(lab).view(1, 3, 1, 1) + target_mean.to(lab).view(1, 3, 1, 1)
    return lab_to_rgb(out) * 2 - 1


def grey_normalise(images: torch.Tensor, std: float = 0.3) -> torch.Tensor:
    """Cho et al.'s (2017) first stage, gray-normalisation, in gan_lab's form: luminance, standardised per image.

    The luminance is shifted and scaled to mean 0 and standard deviation ``std`` (this per-image
    standardisation is gan_lab's choice).

    Throwing the colour away removes most of the stain's signature; standardising the
    grey levels removes the rest of what a global stain change does to brightness and
    contrast. The colouriser then only ever sees inputs of one "style".

    Args:
        images: (N, 3, H, W) in [-1, 1].

    Returns:
        (N, 1, H, W), clipped to [-1, 1].
    """
    _check_rgb(images)
    grey = _mix(images, torch.tensor([[0.299, 0.587, 0.114]] * 3))[:, :1]  # Rec. 601 luma
    mean, sd = grey.mean((2, 3), keepdim=True), grey.std((2, 3), keepdim=True)
    return ((grey - mean) / sd.clamp_min(1e-3) * std).clamp(-1, 1)


def stained_phantoms(n: int, size: int = 32, seed: int = 0) -> ImageData:
    """Synthetic H&E-like tiles: haematoxylin-dense nuclei in an eosin-stained, textured stroma.

    Concentrations are drawn per pixel, then rendered through Beer–Lambert with ``RGB_FROM_HED``,
    so stain jitter acts on them exactly as it acts on real tissue. Masks mark the nuclei.
    """
    if n < 1 or size < 8:
        raise ValueError(f"Need n ≥ 1 and size ≥ 8; got n={n}, size={size}.")
    gen = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    k = max(2, size // 8)  # nuclei per tile
    centre = torch.rand(n, k, 2, generator=gen) * size
    radius = (0.08 + 0.06 * torch.rand(n, k, 2, generator=gen)) * size  # two semi-axes
    angle = torch.rand(n, k, 1, 1, generator=gen) * torch.pi
    dx, dy = xs - centre[..., 0, None, None], ys - centre[..., 1, None, None]  # (n, k, size, size)
    u, v = dx * torch.cos(angle) + dy * torch.sin(angle), -dx * torch.sin(angle) + dy * torch.cos(angle)
    inside = (u / radius[..., :1, None]) ** 2 + (v / radius[..., 1:, None]) ** 2
    nuclei = torch.sigmoid((1 - inside) * 6).amax(1, keepdim=True)  # (n, 1, size, size), soft edges
    texture = F.interpolate(torch.rand(n, 2, size // 4, size // 4, generator=gen), size=size, mode="bicubic")
    c_H = 0.15 + 1.1 * nuclei * (0.8 + 0.4 * texture[:, :1])
    c_E = (0.25 + 0.25 * texture[:, 1:]) * (1 - 0.6 * nuclei)
    hed = torch.cat([c_H, c_E, torch.zeros_like(c_H)], dim=1)
    images = hed_to_rgb(hed) * 2 - 1
    return ImageData(images, torch.ones(n, dtype=torch.long), ["fluorescence", "stained tissue"], "stained phantoms",
                     "phantom (procedural)", masks=(nuclei > 0.5).float(), info={"seed": seed})


def load_stain_style(tile: int = 32, scale: float = 0.75, root: str | os.PathLike | None = None,
                     n_test_images: int = 1, fallback: bool = True,
                     n_phantoms: int = 300) -> tuple[ImageData, ImageData]:
    """Tiles of ONE stain style, split per image: the target style of a stain normaliser, and held-out tiles of it.

    The stained images of BBBC038 come from several labs. The images whose luminance varies most
    (white background, dark nuclei: the upper half by L-contrast) form the target
    style; the last ``n_test_images`` of them (by id) are held out, so test tiles come from images
    the colouriser never saw, yet are in the target style: their own colours are the ground truth.

    Args:
        tile, scale: tile side after resizing the images by ``scale``.
        root: a folder holding ``stage1_train/`` (see ``load_nuclei``).
        n_test_images: images held out for testing.
        fallback: if the images are missing, print a banner and return ``stained_phantoms`` instead.
        n_phantoms: training tiles in the fallback (a quarter as many test tiles).

    Returns:
        ``(train, test)``: ImageData with images (N, 3, tile, tile) in [-1, 1] and ``info["image_ids"]``.
    """
    try:
        data = load_nuclei(root=root, split="all", tile=tile, kind="color", grey=False, scale=scale)
    except DataUnavailableError as err:
        if not fallback:
            raise
        print(f"{'=' * 78}\nREAL DATA NOT FOUND: stained nuclei -> using H&E-like phantoms instead\n{err}\n{'=' * 78}")
        return stained_phantoms(n_phantoms, tile, seed=0), stained_phantoms(max(1, n_phantoms // 4), tile, seed=1)
    ids = data.info["image_ids"]
    contrast = {i: lab_stats(data.images[[k for k, t in enumerate(ids) if t == i]])[1][:, 0].mean().item()
                for i in sorted(set(ids))}
    median = sorted(contrast.values())[len(contrast) // 2]  # the upper half
    style = [i for i in sorted(contrast) if contrast[i] >= median]
    if len(style) <= n_test_images:
        raise DataUnavailableError(f"Only {len(style)} images of the target style; need more than n_test_images="
                                   f"{n_test_images}.")
    test_ids = set(style[-n_test_images:])

    def pick(wanted: set[str]) -> ImageData:
        index = torch.tensor([k for k, t in enumerate(ids) if t in wanted])
        subset = data.subset(index)
        subset.info = {**data.info, "image_ids": [ids[k] for k in index.tolist()]}
        return subset

    return pick(set(style) - test_ids), pick(test_ids)


def _check_rgb(images: torch.Tensor) -> None:
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"Expected RGB images (N, 3, H, W) in [-1, 1]; got shape {tuple(images.shape)}.")
