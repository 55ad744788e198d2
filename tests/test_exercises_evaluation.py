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
    assert ex.check_mode_dropping(" (B) ")
    assert "REAL image has a fake nearby" in str(ex.check_mode_dropping("b"))  # why it is right
    assert not ex.check_mode_dropping("precision")
    assert "no answer yet" in str(ex.check_mode_dropping(...))


def test_not_implemented_and_summary(capsys):
    def stub(real_features, fake_features, k):
        raise NotImplementedError

    assert "not implemented yet" in str(ex.check_precision(stub))
    ex.check_mode_dropping("b")
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


def test_mode_dropping_has_one_right_letter():
    assert not ex.check_mode_dropping("a") and not ex.check_mode_dropping("c")
    assert "which two metrics look from the other side" in str(ex.check_mode_dropping("a")).lower()
    assert "answer with the letter that names the pair" in str(ex.check_mode_dropping("coverage"))


def test_two_sample_null_check():
    right = ex.check_two_sample_null(" c ")
    assert right and "not rejecting is not proving" in str(right)
    proof = ex.check_two_sample_null("b")  # "0.5 proves p_g = p_data"
    assert not proof and "Can failing to find a difference prove there is none?" in str(proof)
    assert "nothing to separate" in str(ex.check_two_sample_null("d"))
    assert "no answer yet" in str(ex.check_two_sample_null(...))


def test_reader_power_check():
    from math import comb

    from gan_lab.metrics.reader_study import wilson_interval

    shown = [k for k in range(21) if wilson_interval(k, 20, 0.95)[0] > 0.5]
    power = sum(comb(20, k) * 0.65**k * 0.35 ** (20 - k) for k in shown)
    right = ex.check_reader_power(power)
    assert right and "k ≥ 15 of 20" in str(right) and "44 images" in str(right)
    assert ex.check_reader_power(round(power, 3))
    assert "ONE image right" in str(ex.check_reader_power(0.65))
    assert "FAILS" in str(ex.check_reader_power(1 - power))
    expected_score = sum(comb(20, k) * 0.65**k * 0.35 ** (20 - k) for k in range(13, 21))
    assert "expected score" in str(ex.check_reader_power(expected_score))
    exactly = ex.check_reader_power(comb(20, 15) * 0.65**15 * 0.35**5)
    assert not exactly and "every k ≥ k_min" in str(exactly)
    assert not ex.check_reader_power("a quarter") and "no answer yet" in str(ex.check_reader_power(...))
    assert ex.reader_power(20, 0.5)[1] < 0.05  # a guesser is rarely shown to beat guessing
