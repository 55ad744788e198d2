"""Procedural MedMNIST-style phantoms: offline, seeded, with masks and CT/MR pairs.

One *anatomy* is sampled per image: an axial body slice with a smooth,
irregular outline, a fat layer, a muscle layer, a bone ring, textured
parenchyma, organs (liver, two kidneys, a fluid-filled stomach, a vertebral
body) and an optional lesion. The same anatomy can be rendered in two contrasts:

============  =====================  =====================
tissue        MR-like (T1)           CT-like
============  =====================  =====================
air           black                  black
fat           bright                 dark
bone          dark                   bright
stomach       dark (fluid)           mid-grey
cyst          dark, round, smooth    darker than tissue
tumour        bright, irregular,     bright, irregular,
              textured               textured
============  =====================  =====================

Outlines are ellipses whose radius is perturbed by low-frequency harmonics,
``r(theta) = 1 + sum_k a_k cos(k theta) + b_k sin(k theta)``; textures are
upsampled random grids (smooth noise). Edges are anti-aliased (partial volume;
images under 48 px are also drawn at 2x and area-averaged), a small point-spread
blur follows, then acquisition noise (Rician for MR, Gaussian for CT), and the
result is stored as uint8 like a real MedMNIST image.

Image ``i`` depends only on ``(seed, i)`` and the function that made it, so
``phantom_classes(100)`` is the first 100 images of ``phantom_classes(3000)``
and an anatomy has the same shape at every size. Large requests are cached
under ``<repo>/data/phantoms``.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import config
from ..device import single_thread
from .base import ImageData

CLASS_NAMES = ["healthy", "cyst", "tumour"]
HEALTHY, CYST, TUMOUR = 0, 1, 2
MODALITIES = ("mr", "ct")

_CACHE_MIN_IMAGES = 500  # below this, generating is faster than reading a file
_CHUNK = 128  # images rendered at once (bounds memory: ~10 float maps of (128, S, S))
_ANGLES = 128  # outline radii are tabulated at this many angles
_K = 6  # harmonics k = 2..K+1 perturb every outline (k = 1 would only shift it)

# Mean intensity in [0, 1] of each tissue, per contrast (T1-weighted MR; CT at a soft-tissue window).
# The tumour is drawn bright in both, as it looks after a contrast agent: on a T1 image without one most
# tumours are dark or iso-intense. The phantom's own convention, not a claim about any one tumour type.
_CONTRAST = {
    "mr": dict(fat=0.86, muscle=0.36, bone=0.07, parenchyma=0.5, liver=0.6, kidney=0.4, stomach=0.16,
               vertebra=0.4, cyst=0.1, tumour=0.88),
    "ct": dict(fat=0.24, muscle=0.52, bone=0.96, parenchyma=0.47, liver=0.56, kidney=0.68, stomach=0.36,
               vertebra=0.9, cyst=0.3, tumour=0.78),
}
_ORGANS = ("liver", "kidney", "kidney", "stomach", "vertebra")  # drawn in this order
_NOISE_SIGMA = {"mr": 0.03, "ct": 0.025}

# Streams keep the anatomies of different functions (and of the unpaired domains) independent.
_STREAM = {"classes": 1, "pairs": 2, "unpaired_mr": 3, "unpaired_ct": 4, "unpaired_test": 5}


def phantom_classes(n: int, size: int = 28, seed: int = 0, modality: str = "mr") -> ImageData:
    """Labelled phantoms: 0 healthy, 1 cyst (dark, round, smooth), 2 tumour (bright, irregular).

    Args:
        n: number of images; the classes are balanced (label ``i % 3``).
        size: pixels per side (any size; 28 and 64 are the usual ones).
        seed: the same seed gives the same images.
        modality: "mr" (default) or "ct" contrast.

    Returns:
        ImageData with images (n, 1, size, size) in [-1, 1], labels (n,), masks
        (n, 1, size, size) marking the lesion (all zero for healthy images).

    Example:
        >>> data = phantom_classes(300, size=28, seed=0)
        >>> data.images.shape, data.class_counts()
        (torch.Size([300, 1, 28, 28]), {'healthy': 100, 'cyst': 100, 'tumour': 100})
    """
    _check_args(n, size, modality)
    arrays = _cached(("classes", n, size, seed, modality),
                     lambda: _generate("classes", n, size, seed, _balanced_kind, (modality,)))
    return _image_data(arrays, modality, "phantom (procedural)", seed)


def phantom_pairs(n: int, size: int = 28, seed: int = 0) -> tuple[ImageData, ImageData]:
    """The same anatomies rendered MR-like and CT-like, paired index by index (for pix2pix).

    Half the anatomies carry a lesion (cyst or tumour, equally often); labels and
    masks are shared by both renderings. Acquisition noise is independent.

    Args:
        n: number of pairs.
        size: pixels per side.
        seed: the same seed gives the same pairs.

    Returns:
        ``(mr, ct)``: two ImageData with images (n, 1, size, size) in [-1, 1] and equal masks.
    """
    _check_args(n, size)
    arrays = _cached(("pairs", n, size, seed),
                     lambda: _generate("pairs", n, size, seed, _rate_kind(0.5), MODALITIES))
    return tuple(_image_data(arrays, m, "phantom (procedural)", seed) for m in MODALITIES)


def phantom_unpaired(n: int, size: int = 28, seed: int = 0, lesion_rate_mr: float = 0.5,
                     lesion_rate_ct: float = 0.5, n_test: int = 200) -> dict[str, ImageData]:
    """Unpaired MR and CT training sets (different anatomies) plus paired held-out test anatomies.

    Setting different lesion rates per domain reproduces the failure mode of
    unpaired translation studied by Cohen et al. (MICCAI 2018): a CycleGAN trained
    where one domain has more lesions learns to add or remove lesions.

    Args:
        n: images per training domain.
        size: pixels per side.
        seed: the same seed gives the same sets.
        lesion_rate_mr: fraction of MR training anatomies with a lesion.
        lesion_rate_ct: fraction of CT training anatomies with a lesion.
        n_test: held-out anatomies rendered in both contrasts (lesion rate 0.5).

    Returns:
        ``{"mr", "ct", "test_mr", "test_ct"}`` ImageData; ``test_mr[i]`` and ``test_ct[i]``
        show the same anatomy, the training sets share none.
    """
    _check_args(n, size)
    _check_args(n_test, size)
    for rate in (lesion_rate_mr, lesion_rate_ct):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"lesion rates are fractions in [0, 1], got {rate}")
    key = ("unpaired", n, size, seed, lesion_rate_mr, lesion_rate_ct, n_test)
    arrays = _cached(key, lambda: _generate_unpaired(n, size, seed, lesion_rate_mr, lesion_rate_ct, n_test))
    out = {}
    for name in ("mr", "ct", "test_mr", "test_ct"):
        part = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(name + "/")}
        out[name] = _image_data(part, name.removeprefix("test_"), "phantom (procedural)", seed)
    return out


def low_dose_pairs(clean: torch.Tensor, dose: float = 0.25, seed: int = 0, photons: float = 1000.0,
                   streaks: float = 0.0) -> torch.Tensor:
    """Simulate a low-dose acquisition of ``clean`` (photon-counting noise, optional streaks).

    Each pixel value is read as attenuation ``p = k (x + 1) / 2``; the detector
    counts ``N ~ Poisson(photons * dose * exp(-p))`` photons and the image is
    rebuilt from ``-log(N / (photons * dose))``. The noise variance is about
    ``exp(p) / (photons * dose)``: it grows as 1/dose and is largest where the
    object attenuates most. The noise is independent from pixel to pixel, as in a
    projection radiograph; in reconstructed CT the same photon noise passes through
    filtered back-projection and becomes correlated (streaky, fine-grained texture),
    which this model does not reproduce (``streaks`` adds crude streaks only).

    Args:
        clean: images (N, C, H, W) in [-1, 1], e.g. phantoms or real chest X-rays.
        dose: fraction of the full dose (1.0 = full dose, 0.25 = quarter dose).
        seed: the same seed gives the same noise.
        photons: photons per pixel at full dose (lower = noisier at every dose).
        streaks: strength of straight streak artefacts (0 = none, 1 = clearly visible).

    Returns:
        The noisy images, same shape, dtype and device as ``clean``, clamped to [-1, 1].
    """
    if dose <= 0:
        raise ValueError(f"dose must be > 0, got {dose}")
    gen = torch.Generator().manual_seed(seed)
    # float64, cast back at the end: float32 exp/log differ in the last bit between CPU instruction sets, and a
    # network cached on one machine must find the same training data (the same data fingerprint) on another
    x = clean.detach().double().cpu()
    k = 3.0  # attenuation of the brightest pixel: exp(-3) keeps ~5% of the photons
    p = k * (x + 1) / 2
    expected = photons * dose * torch.exp(-p)
    counts = torch.poisson(expected, generator=gen).clamp_min(0.5)  # 0 counts would be log(0)
    noisy = -torch.log(counts / (photons * dose)) / k * 2 - 1
    if streaks > 0:
        noisy = noisy + streaks / math.sqrt(dose) * _streaks(x.shape, gen) * (x + 1) / 2
    return noisy.clamp(-1, 1).to(device=clean.device, dtype=clean.dtype)


def _streaks(shape: torch.Size, gen: torch.Generator, n_angles: int = 3) -> torch.Tensor:
    """Lines of random strength along a few random angles (photon starvation streaks), std ~0.05."""
    *batch, h, w = shape
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    total = torch.zeros(shape)
    for _ in range(n_angles):
        angle = torch.rand(batch + [1, 1], generator=gen) * math.pi
        t = xs * torch.cos(angle) + ys * torch.sin(angle)  # position across the streak direction
        bins = max(h, w) * 2
        lines = torch.rand(batch + [bins], generator=gen) < 0.1  # a few lines carry a streak
        profile = torch.randn(batch + [bins], generator=gen) * lines
        index = ((t + 1.5) / 3 * (bins - 1)).round().long().clamp(0, bins - 1)
        total += torch.gather(profile, -1, index.flatten(-2)).view(shape)
    return total * 0.05


# --- sampling ------------------------------------------------------------------------------


def _balanced_kind(u: np.ndarray) -> np.ndarray:
    return np.arange(len(u)) % 3


def _rate_kind(rate: float):
    """A lesion in a fraction ``rate`` of anatomies, cyst and tumour equally often (from uniforms u)."""

    def kind(u: np.ndarray) -> np.ndarray:
        return np.where(u >= rate, HEALTHY, np.where(u < rate / 2, CYST, TUMOUR))

    return kind


class _Draws:
    """Hands out per-image random numbers column by column, so that every parameter
    is computed for all images at once while image i still uses only its own numbers."""

    def __init__(self, uniform: np.ndarray, normal: np.ndarray):
        self._u, self._z = uniform, normal  # (N, many)
        self._iu = self._iz = 0

    def uniform(self, low: float, high: float) -> np.ndarray:
        self._iu += 1
        assert self._iu <= self._u.shape[1], "raise _N_UNIFORM"
        return low + (high - low) * self._u[:, self._iu - 1]

    def normal(self, mean: float, std: float, shape: tuple = ()) -> np.ndarray:
        count = int(np.prod(shape))
        self._iz += count
        assert self._iz <= self._z.shape[1], "raise _N_NORMAL"
        z = self._z[:, self._iz - count:self._iz]
        return mean + std * (z.reshape((-1,) + shape) if shape else z[:, 0])

    def harmonics(self, amplitude: float, decay: float = 1.0) -> np.ndarray:
        """(N, K, 2) cosine/sine coefficients for k = 2..K+1, amplitude falling as 1/k**decay."""
        k = np.arange(2, _K + 2)
        return self.normal(0.0, 1.0, (_K, 2)) * (amplitude / k**decay)[:, None]


def _sample_anatomies(d: _Draws, kind: np.ndarray) -> dict[str, np.ndarray]:
    """Parameters of N anatomies; lengths are in image units ([-1, 1] spans the image)."""
    a = {"kind": kind}
    # body: centre, half-axes, rotation (wider than tall, like an axial slice)
    a["body"] = np.stack([d.normal(0, 0.03), d.normal(0, 0.03), d.uniform(0.78, 0.9), d.uniform(0.62, 0.76),
                          d.normal(0, 0.08)], 1)
    a["body_h"] = d.harmonics(0.06)
    # layer thicknesses as fractions of the body radius: fat, muscle, bone
    a["layers"] = np.stack([d.uniform(0.06, 0.12), d.uniform(0.03, 0.06), d.uniform(0.05, 0.08)], 1)
    a["bone_h"] = d.harmonics(0.5)  # relative thickness variation of the bone ring
    # organs (u, v, a, b, angle) in body-normalised coordinates (u right, v down), in _ORGANS order
    side = d.uniform(0.3, 0.42)
    organs = [
        [d.uniform(-0.45, -0.3), d.uniform(-0.2, 0.0), d.uniform(0.38, 0.5), d.uniform(0.36, 0.5),
         d.normal(0.3, 0.15)],  # liver: large, on the image left
        [-side, d.uniform(0.3, 0.42), d.uniform(0.1, 0.13), d.uniform(0.15, 0.2), d.uniform(0.2, 0.5)],
        [side, d.uniform(0.3, 0.42), d.uniform(0.1, 0.13), d.uniform(0.15, 0.2), -d.uniform(0.2, 0.5)],
        [d.uniform(0.2, 0.4), d.uniform(-0.45, -0.2), d.uniform(0.16, 0.26), d.uniform(0.12, 0.2),
         d.normal(0, 0.3)],  # stomach (fluid-filled)
        [d.normal(0, 0.02), d.uniform(0.55, 0.62), d.uniform(0.13, 0.16), d.uniform(0.13, 0.16),
         d.normal(0, 0.1)],  # vertebral body, at the back
    ]
    a["organs"] = np.stack([np.stack(organ, 1) for organ in organs], 1)  # (N, 5, 5)
    a["organs_h"] = np.stack([d.harmonics(amp) for amp in (0.1, 0.05, 0.05, 0.12, 0.03)], 1)
    # lesion (u, v, radius, aspect, angle): uniform in a disc, kept clear of the spine
    angle, dist = d.uniform(0, 2 * np.pi), 0.5 * np.sqrt(d.uniform(0, 1))
    angle = np.where(np.sin(angle) * dist < 0.25, angle, -angle)
    is_cyst = kind == CYST
    a["lesion"] = np.stack([dist * np.cos(angle), dist * np.sin(angle),
                            np.where(is_cyst, d.uniform(0.12, 0.2), d.uniform(0.16, 0.25)),
                            np.where(is_cyst, d.uniform(0.85, 1.0), d.uniform(0.7, 1.0)),
                            d.uniform(0, np.pi)], 1)
    # cysts are round and smooth; tumours lobulated (slowly decaying harmonics)
    a["lesion_h"] = np.where(is_cyst[:, None, None], d.harmonics(0.03), d.harmonics(0.3, decay=0.8))
    # smooth-noise grids: tissue texture (coarse and fine), tumour texture, MR bias field
    for name, g in _GRIDS.items():
        a[name] = d.normal(0, 1, (g, g))
    return a


_GRIDS = {"tex_lo": 6, "tex_hi": 20, "tex_tumour": 16, "bias": 3}
# Per-image random numbers drawn up front; fixed counts (>= what _sample_anatomies uses) so that
# adding a parameter at the end never changes the ones before it.
_N_UNIFORM = 40
_N_NORMAL = 16 + 10 * 2 * _K + sum(g * g for g in _GRIDS.values())


def _generate(kind: str, n: int, size: int, seed: int, lesion_kind, modalities) -> dict[str, np.ndarray]:
    """Sample ``n`` anatomies of stream ``kind`` and render them in each modality."""
    # image i depends on (seed, stream, i) only: its own generator, its own numbers
    rngs = [np.random.default_rng([seed, _STREAM[kind], i]) for i in range(n)]
    uniform = np.stack([rng.random(_N_UNIFORM) for rng in rngs])
    normal = np.stack([rng.standard_normal(_N_NORMAL) for rng in rngs])
    params = _sample_anatomies(_Draws(uniform[:, 1:], normal), lesion_kind(uniform[:, 0]))
    out = {"labels": params["kind"].astype(np.int64)}
    for modality in modalities:  # each rendering draws its acquisition noise from the same generators
        out[f"images_{modality}"], out["masks"] = _render(params, size, modality, rngs)
    return out


def _generate_unpaired(n, size, seed, rate_mr, rate_ct, n_test) -> dict[str, np.ndarray]:
    parts = {
        "mr": _generate("unpaired_mr", n, size, seed, _rate_kind(rate_mr), ("mr",)),
        "ct": _generate("unpaired_ct", n, size, seed, _rate_kind(rate_ct), ("ct",)),
    }
    test = _generate("unpaired_test", n_test, size, seed, _rate_kind(0.5), MODALITIES)
    for m in MODALITIES:
        parts[f"test_{m}"] = {k: test[k] for k in ("labels", "masks", f"images_{m}")}
    return {f"{name}/{k}": v for name, part in parts.items() for k, v in part.items()}


# --- rendering -----------------------------------------------------------------------------


def _render(params: dict[str, np.ndarray], size: int, modality: str,
            rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, size, size) uint8 and lesion masks (N, size, size) uint8 {0, 1}."""
    n = len(rngs)
    images = np.zeros((n, size, size), np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    with single_thread():
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            chunk = {k: torch.as_tensor(v[start:stop], dtype=torch.float32) for k, v in params.items()}
            clean, lesion = _draw(chunk, size, modality)
            noise = np.stack([rng.standard_normal((2, size, size), np.float32) for rng in rngs[start:stop]])
            noisy = _add_noise(clean, torch.from_numpy(noise), modality)
            images[start:stop] = (noisy.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
            masks[start:stop] = (lesion > 0.5).numpy()
    return images, masks


def _draw(p: dict[str, torch.Tensor], size: int, modality: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise-free intensities (B, size, size) in [0, 1] and lesion coverage (B, size, size)."""
    # Edges are already anti-aliased by _ramp (linear partial volume); 2x supersampling of small
    # images adds the partial volume of sub-pixel detail (thin bone, tumour spikes) at little cost.
    ss = 2 if size < 48 else 1
    s = size * ss
    px = 2.0 / s  # pixel width in image units
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s * 2 - 1
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")  # (S, S), y points down
    v = _CONTRAST[modality]
    tex = {k: _smooth_noise(p[k], s) for k in ("tex_lo", "tex_hi", "tex_tumour")}  # (B, S, S)

    cx, cy, ax, ay, rot = p["body"].unbind(1)
    rho, theta = _polar(xs, ys, cx, cy, ax, ay, rot)
    r_body = _radius(theta, p["body_h"])
    scale = (ax * ay).sqrt()[:, None, None]  # converts body-normalised radii to image units
    t_fat, t_musc, t_bone = (t[:, None, None] for t in p["layers"].unbind(1))
    bone_in = 1 - t_fat - t_musc - t_bone * _radius(theta, p["bone_h"]).clamp(0.4, 1.6)
    fractions = (1, 1 - t_fat, 1 - t_fat - t_musc, bone_in)  # outer edges of fat, muscle, bone, interior
    inside = [_ramp((r_body * frac - rho) * scale, px) for frac in fractions]

    img = torch.zeros_like(rho)
    img = _lerp(img, v["fat"] + 0.02 * tex["tex_lo"], inside[0])
    img = _lerp(img, v["muscle"] + 0.03 * tex["tex_hi"], inside[1])
    img = _lerp(img, v["bone"] + 0.02 * tex["tex_hi"], inside[2])
    img = _lerp(img, v["parenchyma"] + 0.06 * tex["tex_lo"] + 0.03 * tex["tex_hi"], inside[3])

    # organs and lesion live in the interior: place them in body-normalised coordinates
    frame = (cx, cy, ax * 0.7, ay * 0.7, rot)  # ~ the interior ellipse
    for j, organ in enumerate(_ORGANS):
        value = v[organ] + 0.03 * tex["tex_hi"]
        cover = _blob(p["organs"][:, j], p["organs_h"][:, j], frame, s)
        img = _lerp(img, value, cover * inside[3])

    is_cyst = (p["kind"] == CYST).float()[:, None, None]
    has_lesion = (p["kind"] != HEALTHY).float()[:, None, None]
    lesion = _blob(p["lesion"], p["lesion_h"], frame, s, absolute_radius=True) * has_lesion
    tumour = v["tumour"] + 0.1 * tex["tex_tumour"] + 0.04 * tex["tex_hi"]  # heterogeneous
    img = _lerp(img, is_cyst * v["cyst"] + (1 - is_cyst) * tumour, lesion)

    if modality == "mr":  # smooth coil sensitivity: MR intensities are not absolute
        img = img * (1 + 0.12 * _smooth_noise(p["bias"], s))
    # every scanner blurs a little (its point-spread function): the 3x3 binomial kernel (sigma ~0.7
    # drawing pixels) as two 2x2 box filters, which is cheaper than a convolution; then
    # partial-volume downsampling to the output size
    img = F.avg_pool2d(F.pad(img[:, None], (1, 0, 1, 0), mode="replicate"), 2, stride=1)
    img = F.avg_pool2d(F.pad(img, (0, 1, 0, 1), mode="replicate"), 2, stride=1)
    return F.avg_pool2d(img, ss)[:, 0], F.avg_pool2d(lesion[:, None], ss)[:, 0]


def _polar(xs, ys, cx, cy, ax, ay, rot) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised radius rho and angle theta (both (B, S, S)) in a rotated ellipse's frame."""
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    c, s = torch.cos(rot)[:, None, None], torch.sin(rot)[:, None, None]
    u = (c * dx + s * dy) / ax[:, None, None]
    w = (c * dy - s * dx) / ay[:, None, None]
    return torch.hypot(u, w), torch.atan2(w, u)


def _radius(theta: torch.Tensor, harmonics: torch.Tensor) -> torch.Tensor:
    """r(theta) = 1 + sum_k a_k cos(k theta) + b_k sin(k theta) for k = 2..K+1; harmonics (B, K, 2).

    The sum is tabulated at _ANGLES angles per image and interpolated, which is
    several times cheaper than evaluating K cosines at every pixel.
    """
    grid = torch.arange(_ANGLES + 1, dtype=torch.float32) * (2 * math.pi / _ANGLES)
    k_theta = torch.arange(2, _K + 2, dtype=torch.float32)[:, None] * grid  # (K, T+1)
    table = 1 + (harmonics[..., 0:1] * torch.cos(k_theta) + harmonics[..., 1:2] * torch.sin(k_theta)).sum(1)
    pos = (theta.flatten(1) % (2 * math.pi)) * (_ANGLES / (2 * math.pi))  # (B, S*S) in [0, T]
    i0 = pos.long().clamp_(max=_ANGLES - 1)
    r0, r1 = table.gather(1, i0), table.gather(1, i0 + 1)
    return torch.lerp(r0, r1, pos - i0).view_as(theta)


def _blob(shape: torch.Tensor, harmonics: torch.Tensor, frame, s: int, absolute_radius: bool = False):
    """Coverage (B, S, S) of a perturbed ellipse placed in a body frame.

    ``shape`` (B, 5) holds (u, v, a, b, angle) with (u, v) in the frame's unit disc.
    The half-axes (a, b) are fractions of the frame's axes, or, for the lesion
    (``absolute_radius``), a radius in image units and an aspect ratio.
    """
    fcx, fcy, fax, fay, frot = frame
    u, v, a, b, angle = shape.unbind(1)
    fc, fs = torch.cos(frot), torch.sin(frot)
    cx = fcx + fc * u * fax - fs * v * fay
    cy = fcy + fs * u * fax + fc * v * fay
    a, b = (a, a * b) if absolute_radius else (a * fax, b * fay)
    reach = torch.maximum(a, b) * (1 + harmonics.abs().sum((1, 2)))  # largest radius, image units
    rows, cols = _window(cy, s, reach), _window(cx, s, reach)  # (B, L) pixel indices around the blob
    ys, xs = _pixel_centres(rows, s)[:, :, None], _pixel_centres(cols, s)[:, None, :]
    rho, theta = _polar(xs, ys, cx, cy, a, b, angle + frot)
    r = _radius(theta, harmonics).clamp_min(0.3)
    local = _ramp((r - rho) * (a * b).sqrt()[:, None, None], 2.0 / s)  # (B, L, L)
    return _paste(local, rows, cols, s)


def _window(centre: torch.Tensor, s: int, reach: torch.Tensor) -> torch.Tensor:
    """Indices (B, L) of the L pixels around each centre that cover +-reach (all S when L >= S).

    Small organs cover a few percent of the image: drawing them in a window
    instead of the whole image makes rendering several times faster.
    """
    half = int(math.ceil(float(reach.max()) * s / 2)) + 2
    if 2 * half >= s:
        return torch.arange(s).expand(len(centre), s)
    first = ((centre + 1) / 2 * s).round().long() - half
    return first[:, None] + torch.arange(2 * half)


def _pixel_centres(index: torch.Tensor, s: int) -> torch.Tensor:
    return (index.float() + 0.5) / s * 2 - 1


def _paste(local: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, s: int) -> torch.Tensor:
    """Place windows (B, L, L) at rows/cols (B, L) of an empty (B, S, S) image (clipping at borders)."""
    n, size = rows.shape
    if size == s:  # the window is the whole image
        return local
    canvas = local.new_zeros(n, s + 2 * size, s + 2 * size)  # margins catch windows hanging over the edge
    batch = torch.arange(n)[:, None, None]
    canvas[batch, rows.clamp(-size, s)[:, :, None] + size, cols.clamp(-size, s)[:, None, :] + size] = local
    return canvas[:, size:size + s, size:size + s]


def _ramp(distance: torch.Tensor, px: float) -> torch.Tensor:
    """Anti-aliased inside indicator: 0 outside, 1 inside, linear across one pixel."""
    return (0.5 + distance / px).clamp(0, 1)


def _lerp(base: torch.Tensor, value, cover: torch.Tensor) -> torch.Tensor:
    """Paint ``value`` over ``base`` where ``cover`` is 1 (blending along partial edges)."""
    return base + cover * (value - base)


def _smooth_noise(grid: torch.Tensor, s: int) -> torch.Tensor:
    """Bicubic upsampling of random grids (B, g, g) to smooth noise (B, S, S) of std ~1."""
    up = F.interpolate(grid[:, None], size=(s, s), mode="bicubic", align_corners=False)[:, 0]
    return up / up.std(dim=(1, 2), keepdim=True).clamp_min(1e-6)


def _add_noise(clean: torch.Tensor, noise: torch.Tensor, modality: str) -> torch.Tensor:
    """MR: Rician magnitude noise (bright floor in air); CT: Gaussian. noise (B, 2, H, W)."""
    sigma = _NOISE_SIGMA[modality]
    if modality == "mr":
        return torch.sqrt((clean + sigma * noise[:, 0]) ** 2 + (sigma * noise[:, 1]) ** 2)
    return clean + sigma * noise[:, 0]


# --- packaging and cache -------------------------------------------------------------------


def _check_args(n: int, size: int, modality: str = "mr") -> None:
    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n}, size={size}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")


def _image_data(arrays: dict[str, np.ndarray], modality: str, source: str, seed: int) -> ImageData:
    images = torch.from_numpy(arrays[f"images_{modality}"]).float().div_(127.5).sub_(1.0)[:, None]
    return ImageData(
        images=images,
        labels=torch.from_numpy(arrays["labels"]).long(),
        class_names=list(CLASS_NAMES),
        name="phantoms",
        source=source,
        masks=torch.from_numpy(arrays["masks"]).float()[:, None],
        info={"modality": modality, "seed": seed},
    )


def _cached(key: tuple, build) -> dict[str, np.ndarray]:
    """``build()``'s arrays, read from / written to ``DATA_DIR/phantoms`` for large requests."""
    n_images = key[1] * (2 if key[0] != "classes" else 1)
    if n_images < _CACHE_MIN_IMAGES:
        return build()
    stem = "_".join(str(part) for part in key)  # e.g. classes_3000_28_0_mr
    # the name ends with a hash of this file: any change to the generator invalidates old caches
    code = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:10]
    folder = config.DATA_DIR / "phantoms"
    path = folder / f"{stem}_{code}.npz"
    if path.is_file():
        try:
            with np.load(path) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError):
            pass  # a damaged cache file is simply rebuilt
    arrays = build()
    if _save_atomic(path, arrays):
        for old in folder.glob(f"{stem}_*.npz"):  # the same request made by an older generator
            if old != path and old.stem.rsplit("_", 1)[0] == stem:
                old.unlink(missing_ok=True)
    return arrays


def _save_atomic(path, arrays: dict[str, np.ndarray]) -> bool:
    """Write via a temporary file + rename so parallel runs never read half a file; True if written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared like any data file
        os.replace(tmp, path)
        return True
    except OSError:
        return False  # read-only checkout: the cache is an optimisation only
