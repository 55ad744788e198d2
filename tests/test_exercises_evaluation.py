"""The notebook-07 checks accept right answers, reject wrong ones with a hint, record verdicts and never raise."""

import torch

from gan_lab import exercises
from gan_lab.exercises import evaluation as ex
from gan_lab.metrics.prdc import prdc


def frechet_distance(mu_1, sigma_1, mu_2, sigma_2):
    trace_sqrt = torch.linalg.eigvals(sigma_1 @ sigma_2).sqrt().real.sum()
    return ((mu_1 - mu_2) ** 2).sum() + torch.trace(sigma_1) + torch.trace(sigma_2) - 2 * trace_sqrt


def test_frechet_distance_check(capsys):
    assert ex.check_frechet_distance(frechet_distance)
    assert "d = 16" in capsys.readouterr().out  # every case is named
    means_only = ex.check_frechet_distance(lambda m1, s1, m2, s2: ((m1 - m2) ** 2).sum())
    assert not means_only and "expected" in str(means_only) and "Hint: ‖μ₁ − μ₂‖²" in str(means_only)
    crashed = ex.check_frechet_distance(lambda *args: 1 / 0)
    assert not crashed and "ZeroDivisionError" in str(crashed)


def test_precision_check(capsys):
    assert ex.check_precision(lambda r, f, k: prdc(r, f, k)["precision"])
    recall = ex.check_precision(lambda r, f, k: prdc(r, f, k)["recall"])
    assert not recall and "k = 3: returned" in str(recall)
    assert "Hint:" in capsys.readouterr().out


def test_mode_dropping_check():
    assert ex.check_mode_dropping(" Recall ") and ex.check_mode_dropping("coverage")
    assert "REAL image has a fake nearby" in str(ex.check_mode_dropping("recall"))  # why it is right
    assert not ex.check_mode_dropping("precision")
    assert "no answer yet" in str(ex.check_mode_dropping(...))


def test_not_implemented_and_summary(capsys):
    def stub(real_features, fake_features, k):
        raise NotImplementedError

    assert "not implemented yet" in str(ex.check_precision(stub))
    ex.check_mode_dropping("recall")
    summary = exercises.summary()
    assert "✗ k-NN precision" in summary and "✓ dropping a class" in summary


def test_items_needed_check():
    from gan_lab.metrics.reader_study import wilson_interval

    def items_needed(accuracy, confidence):
        n = 2
        while wilson_interval(round(accuracy * n), n, confidence)[0] <= 0.5:
            n += 2
        return n

    assert ex.check_items_needed(items_needed)
    normal_approximation = ex.check_items_needed(lambda a, c: round(1.96 ** 2 * a * (1 - a) / (a - 0.5) ** 2))
    assert not normal_approximation and "accuracy 0.6, confidence 0.95: returned" in str(normal_approximation)
    assert "wilson_interval" in str(normal_approximation)  # the hint


def test_classical_baseline_check():
    assert ex.check_classical_baseline(" B ")
    assert "ON TOP of classical augmentation" in str(ex.check_classical_baseline("b"))
    assert not ex.check_classical_baseline("a")
    assert "no answer yet" in str(ex.check_classical_baseline(...))
