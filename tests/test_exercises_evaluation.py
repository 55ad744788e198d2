"""The evaluation notebook's exercise checks accept right answers and reject wrong ones without raising."""

import torch

from gan_lab import exercises_evaluation as ex
from gan_lab.metrics.prdc import prdc


def frechet_distance(mu_1, sigma_1, mu_2, sigma_2):
    trace_sqrt = torch.linalg.eigvals(sigma_1 @ sigma_2).sqrt().real.sum()
    return ((mu_1 - mu_2) ** 2).sum() + torch.trace(sigma_1) + torch.trace(sigma_2) - 2 * trace_sqrt


def test_frechet_distance_check(capsys):
    assert ex.check_frechet_distance(frechet_distance)
    assert not ex.check_frechet_distance(lambda m1, s1, m2, s2: ((m1 - m2) ** 2).sum())  # means only
    assert not ex.check_frechet_distance(lambda *args: 1 / 0)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and out.count("✗") == 2 and "ZeroDivisionError" in out


def test_precision_check(capsys):
    assert ex.check_precision(lambda r, f, k: prdc(r, f, k)["precision"])
    assert not ex.check_precision(lambda r, f, k: prdc(r, f, k)["recall"])
    assert "hint" in capsys.readouterr().out


def test_mode_dropping_check():
    assert ex.check_mode_dropping(" Recall ") and ex.check_mode_dropping("coverage")
    assert not ex.check_mode_dropping("precision")
