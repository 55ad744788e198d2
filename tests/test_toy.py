"""Toy distributions: shapes, densities that integrate to one, and the mode-coverage metric."""

import numpy as np
import pytest
import torch

from gan_lab.data.toy import (
    MAX_DRAWN_POINTS,
    TOY_DATASETS,
    Drawing,
    GaussianMixture,
    gaussian_mixture_1d,
    make_toy,
    mode_coverage,
    ring,
)
from gan_lab.theory import grid_points


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_samples_are_2d_and_inside_the_window(name):
    data = make_toy(name)
    x = data.sample(2000, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2000, 2) and x.dtype == torch.float32
    x0, x1, y0, y1 = data.extent
    inside = ((x[:, 0] > x0) & (x[:, 0] < x1) & (x[:, 1] > y0) & (x[:, 1] < y1)).float().mean()
    assert inside > 0.99


def test_sampling_repeats_with_a_seeded_generator():
    data = make_toy("moons")
    a = data.sample(50, generator=torch.Generator().manual_seed(3))
    b = data.sample(50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["gaussian", "ring", "grid", "checkerboard"])
def test_known_densities_integrate_to_one_and_match_the_samples(name):
    data = make_toy(name)
    points, area = grid_points(data.extent, 150)
    density = data.density(points)
    assert density.sum() * area == pytest.approx(1.0, abs=2e-3)
    # the samples' histogram agrees with the density on a coarse grid
    x = data.sample(20000, generator=torch.Generator().manual_seed(1)).numpy()
    x0, x1, y0, y1 = data.extent
    hist, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=6, range=[[y0, y1], [x0, x1]])
    coarse = density.reshape(6, 25, 6, 25).sum((1, 3))[::-1] * area
    assert np.abs(hist / len(x) - coarse).max() < 0.012


def test_moons_and_spiral_have_no_closed_form_density():
    assert make_toy("moons").density is None and make_toy("spiral").density is None


def test_1d_mixture_moments():
    mix = gaussian_mixture_1d([-2.0, 3.0], [0.5, 1.0], [0.25, 0.75])
    x = mix.sample(100000, generator=torch.Generator().manual_seed(0)).double()
    assert x.shape == (100000, 1)
    assert x.mean().item() == pytest.approx(0.25 * -2 + 0.75 * 3, abs=0.03)
    grid = np.linspace(-8, 10, 4001)[:, None]
    assert mix.density(grid).sum() * (grid[1, 0] - grid[0, 0]) == pytest.approx(1.0, abs=1e-6)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="choose one of"):
        make_toy("rings")
    with pytest.raises(ValueError, match="stds > 0"):
        GaussianMixture(np.zeros((2, 2)), [0.1, -1.0], [1, 1])
    with pytest.raises(ValueError, match="dimensions"):
        mode_coverage(torch.zeros(5, 3), ring())


def test_mode_coverage_on_known_sample_sets():
    mix = ring(num_modes=8, radius=2.0, std=0.1)
    real = mix.sample(4000, generator=torch.Generator().manual_seed(0))
    full = mode_coverage(real, mix)
    assert full["modes"] == 1.0 and full["quality"] > 0.97 and full["counts"].sum() <= 4000
    one_mode = torch.as_tensor(mix.means[2], dtype=torch.float32) + 0.05 * torch.randn(1000, 2)
    collapsed = mode_coverage(one_mode, mix)
    assert collapsed["modes"] == pytest.approx(1 / 8) and collapsed["quality"] > 0.99
    assert collapsed["counts"].argmax() == 2
    two = torch.cat([torch.as_tensor(mix.means[[0, 4]], dtype=torch.float32).repeat(500, 1)])
    assert mode_coverage(two, mix)["modes"] == pytest.approx(2 / 8)
    centre = 0.1 * torch.randn(1000, 2)  # between the modes: no quality, no coverage
    assert mode_coverage(centre, mix) | {"counts": None} == {"modes": 0.0, "quality": 0.0, "counts": None}


def test_a_few_stray_samples_do_not_cover_a_mode():
    mix = ring()
    fake = torch.as_tensor(np.repeat(mix.means[:1], 995, 0), dtype=torch.float32)
    fake = torch.cat([fake, torch.as_tensor(mix.means[1:6], dtype=torch.float32)])  # one sample on 5 more modes
    result = mode_coverage(fake, mix, min_fraction=0.01)
    assert result["modes"] == pytest.approx(1 / 8)
    assert mode_coverage(fake, mix, min_fraction=0.0)["modes"] == pytest.approx(6 / 8)


def test_a_drawing_is_one_equal_weight_mode_per_stroke_whatever_the_mouse_speed():
    line, dot = [(-2.0, 0.0), (2.0, 0.0)], [(0.0, 2.0)]
    slow_line = [(x, 0.0) for x in np.linspace(-2, 2, 200)]  # the same line drawn with many more mouse events
    drawing, slowly = Drawing([line, dot]), Drawing([slow_line, dot])
    assert drawing.num_points == slowly.num_points == 41 + 1  # resampled every 0.1 along the line, plus the dot
    points, area = grid_points(drawing.extent, 150)
    assert drawing.density(points).sum() * area == pytest.approx(1.0, abs=2e-3)
    assert np.allclose(drawing.density(points), slowly.density(points))
    x = drawing.sample(20000, generator=torch.Generator().manual_seed(0)).numpy()
    near_dot = np.linalg.norm(x - [0.0, 2.0], axis=1) < 0.5
    assert near_dot.mean() == pytest.approx(0.5, abs=0.02)  # the click weighs as much as the whole line
    assert np.abs(x[~near_dot, 1]).max() < 0.6 and x[~near_dot, 0].min() < -1.9


def test_a_long_scribble_is_resampled_more_coarsely_and_bad_drawings_are_explained():
    scribble = [(3 * np.cos(t), 3 * np.sin(t)) for t in np.linspace(0, 200 * np.pi, 5000)]
    assert Drawing([scribble]).num_points <= MAX_DRAWN_POINTS + 1
    for strokes, match in (([], "at least one stroke"), ([[]], "no empty stroke"),
                           ([[(0.0, float("nan"))]], "finite")):
        with pytest.raises(ValueError, match=match):
            Drawing(strokes)


def test_stroke_shares_find_a_missed_stroke_and_points_off_the_drawing():
    drawing = Drawing([[(-2.0, 0.0), (2.0, 0.0)], [(0.0, 2.0)]])
    assert drawing.stroke_shares(drawing.sample(4000)) == pytest.approx([0.5, 0.5], abs=0.03)
    on_line = torch.tensor([[x, 0.05] for x in np.linspace(-2, 2, 30)])
    off = torch.tensor([[0.0, -2.0]] * 10)  # far from both strokes
    shares = drawing.stroke_shares(torch.cat([on_line, off]))
    assert shares == pytest.approx([0.75, 0.0]) and 1 - shares.sum() == pytest.approx(0.25)


def test_a_drawing_refuses_a_nan_width():
    with pytest.raises(ValueError, match="std and spacing must be > 0"):
        Drawing([[(0.0, 0.0)]], std=float("nan"))
