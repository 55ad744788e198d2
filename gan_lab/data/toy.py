"""Toy 1-D and 2-D distributions for the minimax notebook and the toy GAN lab.

Every distribution has ``sample(n) -> (n, d)`` float tensor, an ``extent``
(the plotting window) and ``density``: a callable ``p(x)`` on a numpy array
(..., d) where the density is known in closed form (mixtures of Gaussians,
the checkerboard), or ``None`` where it is not (moons, spiral).

The ring of eight Gaussians is the mode-collapse benchmark of Metz et al.
(2017); :func:`mode_coverage` measures how many of its modes a generator hits.

Example:
    >>> ring = make_toy("ring")
    >>> real = ring.sample(512)          # (512, 2)
    >>> mode_coverage(real, ring)["modes"]
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

Extent = tuple[float, float, float, float]  # (x_min, x_max, y_min, y_max)


@dataclass
class GaussianMixture:
    """p(x) = Σ_k π_k N(x; μ_k, σ_k² I) in d dimensions (isotropic components).

    Attributes:
        means: (K, d) component means μ_k.
        stds: (K,) component standard deviations σ_k.
        weights: (K,) mixture weights π_k (normalised on construction).
        name: shown in widgets and tables.
        extent: plotting window (2-D) or (x_min, x_max, 0, 0) in 1-D.
    """

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    name: str = "mixture"
    extent: Extent = (-3.0, 3.0, -3.0, 3.0)

    def __post_init__(self):
        self.means = np.atleast_2d(np.asarray(self.means, dtype=np.float64))
        k = self.means.shape[0]
        self.stds = np.broadcast_to(np.asarray(self.stds, dtype=np.float64), (k,)).copy()
        self.weights = np.broadcast_to(np.asarray(self.weights, dtype=np.float64), (k,)).copy()
        if np.any(self.stds <= 0) or np.any(self.weights < 0) or self.weights.sum() <= 0:
            raise ValueError(f"Need stds > 0 and weights ≥ 0 with a positive sum; got stds={self.stds}, "
                             f"weights={self.weights}.")
        self.weights = self.weights / self.weights.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (n, d): pick a component k ~ π, then x = μ_k + σ_k ε."""
        k = torch.multinomial(torch.as_tensor(self.weights), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        x = torch.as_tensor(self.means)[k] + torch.as_tensor(self.stds)[k, None] * eps
        return x.float()

    def density(self, x: np.ndarray) -> np.ndarray:
        """p(x) for points x of shape (..., d); returns shape (...)."""
        x = np.asarray(x, dtype=np.float64)
        sq = ((x[..., None, :] - self.means) ** 2).sum(-1)  # (..., K) squared distances to each μ_k
        norm = (2 * math.pi * self.stds**2) ** (-self.dim / 2)
        return (self.weights * norm * np.exp(-0.5 * sq / self.stds**2)).sum(-1)


def gaussian_mixture_1d(means, stds, weights=None, name: str = "1-D mixture") -> GaussianMixture:
    """A 1-D mixture Σ_k π_k N(μ_k, σ_k²); ``weights=None`` means equal weights."""
    means = np.asarray(means, dtype=np.float64).reshape(-1, 1)
    weights = np.ones(len(means)) if weights is None else weights
    lo, hi = float(means.min() - 4 * np.max(stds)), float(means.max() + 4 * np.max(stds))
    return GaussianMixture(means, stds, weights, name, (lo, hi, 0.0, 0.0))


def ring(num_modes: int = 8, radius: float = 2.0, std: float = 0.1) -> GaussianMixture:
    """``num_modes`` Gaussians evenly spaced on a circle (Metz et al. 2017, unrolled GANs)."""
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    return GaussianMixture(means, std, np.ones(num_modes), "ring")


def grid(side: int = 5, spacing: float = 1.0, std: float = 0.1) -> GaussianMixture:
    """``side × side`` Gaussians on a square lattice centred at the origin."""
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    means = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
    return GaussianMixture(means, std, np.ones(side * side), "grid")


def gaussian(mean=(1.0, 1.0), std: float = 0.5) -> GaussianMixture:
    """One isotropic Gaussian: the easiest target, where a GAN should simply converge."""
    return GaussianMixture(np.asarray([mean]), std, [1.0], "gaussian")


@dataclass
class TwoMoons:
    """Two interleaved half circles with Gaussian noise (the classic "moons"); no closed-form density."""

    noise: float = 0.1
    scale: float = 1.6
    name: str = "moons"
    extent: Extent = (-3.0, 3.0, -3.0, 3.0)
    density = None
    dim = 2

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        t = torch.rand(n, generator=generator) * math.pi
        lower = torch.rand(n, generator=generator) < 0.5
        x = torch.where(lower, 1 - torch.cos(t), torch.cos(t))
        y = torch.where(lower, 0.5 - torch.sin(t), torch.sin(t))
        xy = torch.stack([x - 0.5, y - 0.25], 1) * self.scale  # centre the pair on the origin
        return xy + self.noise * torch.randn(n, 2, generator=generator)


@dataclass
class Spiral:
    """One arm of a 2-D Swiss roll, r ∝ θ for θ ∈ [1.5π, 4.5π]; no closed-form density."""

    noise: float = 0.05
    scale: float = 0.18
    name: str = "spiral"
    extent: Extent = (-3.0, 3.0, -3.0, 3.0)
    density = None
    dim = 2

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        theta = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        xy = torch.stack([theta * torch.cos(theta), theta * torch.sin(theta)], 1) * self.scale
        return xy + self.noise * torch.randn(n, 2, generator=generator)


@dataclass
class Checkerboard:
    """Uniform on the dark squares of a ``side × side`` board of unit squares: flat, sharp-edged, disconnected."""

    side: int = 4
    name: str = "checkerboard"
    extent: Extent = (-3.0, 3.0, -3.0, 3.0)
    dim = 2

    def _dark_corners(self) -> np.ndarray:
        ij = np.stack(np.meshgrid(np.arange(self.side), np.arange(self.side)), -1).reshape(-1, 2)
        return ij[(ij.sum(1) % 2) == 0] - self.side / 2  # lower-left corners of the dark squares

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        corners = torch.as_tensor(self._dark_corners(), dtype=torch.float32)
        k = torch.randint(0, len(corners), (n,), generator=generator)
        return corners[k] + torch.rand(n, 2, generator=generator)

    def density(self, x: np.ndarray) -> np.ndarray:
        """1 / (number of dark squares) on a dark square, 0 elsewhere."""
        x = np.asarray(x, dtype=np.float64)
        cell = np.floor(x + self.side / 2)  # integer square index, 0 … side−1 inside the board
        inside = np.all((cell >= 0) & (cell < self.side), axis=-1)
        dark = (cell.sum(-1) % 2) == 0
        return np.where(inside & dark, 1.0 / len(self._dark_corners()), 0.0)


Point = tuple[float, float]
MAX_DRAWN_POINTS = 1000  # Gaussians along a drawing's strokes at most (each stroke keeps at least its ends)


@dataclass
class Drawing:
    """A distribution drawn by hand: every stroke is one mode of equal weight, a Gaussian tube along its line.

    Each stroke (a list of (x, y) points in the plane, as the mouse went) is resampled at equal arc
    length ``spacing`` — so the density does not depend on how fast the mouse moved — and every
    resampled point becomes the mean of a Gaussian of standard deviation ``std`` (a drawing longer than
    ``MAX_DRAWN_POINTS`` spacings is resampled more coarsely). All of a stroke's
    Gaussians share its weight equally, and all strokes weigh the same: a single click is a round blob
    exactly as likely as a long curve (gan_lab's choice; GAN Lab weights every drawn point equally).
    The density is known in closed form, so the toy lab draws D* for a drawing too.

    Example:
        >>> drawing = Drawing([[(-2, 0), (2, 0)], [(0, 2)]])   # a horizontal line and a dot
        >>> drawing.sample(1000).shape
        torch.Size([1000, 2])
    """

    strokes: list[list[Point]]
    std: float = 0.1
    spacing: float = 0.1
    name: str = "drawing"
    extent: Extent = (-3.0, 3.0, -3.0, 3.0)
    dim = 2

    def __post_init__(self):
        if not self.strokes or not all(len(stroke) for stroke in self.strokes):
            raise ValueError("A drawing needs at least one stroke and no empty stroke: each stroke is a list of "
                             "(x, y) points, e.g. Drawing([[(-2, 0), (2, 0)]]) for a line.")
        lines = [np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in self.strokes]
        if not all(np.isfinite(line).all() for line in lines):
            raise ValueError("A drawing's points must be finite numbers (x, y).")
        if not (self.std > 0 and self.spacing > 0):  # also refuses NaN
            raise ValueError(f"std and spacing must be > 0; got std={self.std}, spacing={self.spacing}.")
        total = sum(float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum()) for line in lines)
        spacing = max(self.spacing, total / MAX_DRAWN_POINTS)  # a long scribble: coarser, so D* stays quick
        centres = [_resample(line, spacing) for line in lines]
        weights = np.concatenate([np.full(len(c), 1 / len(c)) for c in centres])  # each stroke weighs 1
        self.mixture = GaussianMixture(np.concatenate(centres), self.std, weights, self.name, self.extent)
        self._stroke_of = np.concatenate([np.full(len(c), i) for i, c in enumerate(centres)])  # Gaussian → stroke

    def stroke_shares(self, points: torch.Tensor | np.ndarray, n_sigma: float = 3.0) -> np.ndarray:
        """The fraction of ``points`` within ``n_sigma``·σ of each stroke (S,); the rest lie off the drawing.

        The drawing gives every stroke the share 1/S: a share far below it is a missed mode, and
        ``1 - shares.sum()`` is the fraction of points between or beyond the strokes.
        """
        x = torch.as_tensor(points).detach().cpu().double().reshape(-1, 2)
        dist, nearest = torch.cdist(x, torch.as_tensor(self.mixture.means)).min(1)  # no (n, Gaussians, 2) array
        on = (dist <= n_sigma * self.std).numpy()
        return np.bincount(self._stroke_of[nearest.numpy()[on]], minlength=len(self.strokes)) / max(len(x), 1)

    @property
    def num_points(self) -> int:
        """How many Gaussians the drawing became (points after resampling)."""
        return len(self.mixture.means)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mixture.sample(n, generator)

    def density(self, x: np.ndarray) -> np.ndarray:
        return self.mixture.density(x)


def _resample(line: np.ndarray, spacing: float) -> np.ndarray:
    """Points at equal arc length ``spacing`` along the polyline ``line`` (m, 2), both ends included."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))])
    if arc[-1] < spacing:  # a click, or a stroke shorter than one spacing: one point at its middle
        return line.mean(0, keepdims=True)
    at = np.linspace(0.0, arc[-1], int(np.ceil(arc[-1] / spacing)) + 1)
    return np.stack([np.interp(at, arc, line[:, 0]), np.interp(at, arc, line[:, 1])], 1)


#: name → factory of the 2-D datasets the toy lab offers.
TOY_DATASETS = {
    "gaussian": gaussian,
    "ring": ring,
    "grid": grid,
    "moons": TwoMoons,
    "spiral": Spiral,
    "checkerboard": Checkerboard,
}


def make_toy(name: str, **kwargs):
    """The 2-D toy distribution called ``name`` (see ``TOY_DATASETS``), built with ``kwargs``."""
    if name not in TOY_DATASETS:
        raise ValueError(f"Unknown toy dataset {name!r}; choose one of {sorted(TOY_DATASETS)}.")
    return TOY_DATASETS[name](**kwargs)


def mode_coverage(samples: torch.Tensor | np.ndarray, mixture: GaussianMixture, n_sigma: float = 3.0,
                  min_fraction: float = 0.01) -> dict:
    """How well ``samples`` cover the modes of a Gaussian mixture.

    A sample is *high quality* when it lies within ``n_sigma``·σ_k of its
    nearest mean μ_k (Srivastava et al. 2017); a mode is *covered* when at
    least ``min_fraction`` of all samples are high-quality samples of that mode.
    In 2-D, 98.9 % of a Gaussian's own mass lies within 3σ, so real data
    scores ≈ 1 on both.

    Args:
        samples: (n, d) points, e.g. the generator's fakes.
        mixture: the data distribution (its means and stds define the modes).

    Returns:
        {"modes": fraction of modes covered, "quality": fraction of high-quality
        samples, "counts": (K,) high-quality samples per mode}.
    """
    x = torch.as_tensor(samples).detach().cpu().double().numpy().reshape(len(samples), -1)
    if x.shape[1] != mixture.dim:
        raise ValueError(f"samples have {x.shape[1]} dimensions but the mixture has {mixture.dim}.")
    dist = np.sqrt(((x[:, None, :] - mixture.means) ** 2).sum(-1))  # (n, K)
    nearest = dist.argmin(1)
    good = dist[np.arange(len(x)), nearest] <= n_sigma * mixture.stds[nearest]
    counts = np.bincount(nearest[good], minlength=len(mixture.means))
    return {"modes": float(np.mean(counts >= max(1, min_fraction * len(x)))),
            "quality": float(good.mean()), "counts": counts}
