"""The real-or-fake reader study: seeded random order, scoring, Wilson intervals, a class, and the widget headless."""

import math

import ipywidgets as widgets
import pytest
import torch
from scipy.stats import binomtest

from gan_lab.metrics.reader_study import (
    answer_records,
    binomial_p_value,
    combine_readers,
    format_readers,
    make_trial,
    score_answers,
    wilson_interval,
)
from gan_lab.widgets import real_or_fake_widget

REAL = torch.linspace(-1, 0, 30).view(30, 1, 1, 1).expand(30, 1, 8, 8).clone()  # image i is constant -1 + i/29
FAKE = torch.linspace(0.01, 1, 30).view(30, 1, 1, 1).expand(30, 1, 8, 8).clone()  # fakes: positive, reals: ≤ 0


def test_trial_is_balanced_seeded_and_shuffled():
    a, b, c = (make_trial(REAL, FAKE, n=20, seed=s) for s in (0, 0, 1))
    assert len(a) == 20 and a.truth.count("real") == a.truth.count("fake") == 10
    assert a.truth == b.truth and torch.equal(a.images, b.images)  # same seed, same test
    assert a.truth != c.truth or a.source_index != c.source_index  # another seed, another test
    assert a.truth != sorted(a.truth)  # interleaved, not ten real then ten fake
    for image, truth, row in zip(a.images, a.truth, a.source_index):  # each image is the row it claims to be
        source = REAL if truth == "real" else FAKE
        assert torch.equal(image, source[row])
        assert (image.mean() > 0) == (truth == "fake")
    assert len(set(zip(a.truth, a.source_index))) == 20  # drawn without replacement


def test_trial_refuses_odd_sizes_and_too_few_images():
    with pytest.raises(ValueError, match="even"):
        make_trial(REAL, FAKE, n=7)
    with pytest.raises(ValueError, match="needs 20 real"):
        make_trial(REAL[:5], FAKE, n=40)
    with pytest.raises(ValueError, match="shape"):
        make_trial(REAL, FAKE[:, :, :4], n=4)


@pytest.mark.parametrize("k, n", [(0, 6), (6, 6), (12, 20), (3, 20), (59, 100), (1781, 3000)])
def test_wilson_interval_and_p_value_match_scipy(k, n):
    reference = binomtest(k, n, 0.5)
    ci = reference.proportion_ci(0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert binomial_p_value(k, n) == pytest.approx(reference.pvalue, rel=1e-9)
    low, high = wilson_interval(k, n, 0.99)
    assert low <= wilson_interval(k, n)[0] and high >= wilson_interval(k, n)[1]  # wider at 99 %


def test_answers_are_scored_and_mistakes_counted_by_kind():
    truth = ["real", "fake", "fake", "real", "fake", "real"]
    answers = ["real", "real", "Fake ", "real", "real", "fake"]  # 3 right; 2 of 3 fakes called real
    s = score_answers(truth, answers)
    assert (s["n"], s["correct"], s["accuracy"]) == (6, 3, 0.5)
    assert s["fakes_called_real"] == pytest.approx(2 / 3) and s["reals_called_fake"] == pytest.approx(1 / 3)
    assert s["ci_low"] < 0.5 < s["ci_high"] and s["p_value"] == 1.0
    perfect = score_answers(truth, truth)
    assert perfect["accuracy"] == 1 and perfect["ci_low"] > 0.5 and perfect["fakes_called_real"] == 0
    with pytest.raises(ValueError, match="'real' or 'fake'"):
        score_answers(["real"], ["maybe"])
    with pytest.raises(ValueError, match="2 answers for 1 images"):
        score_answers(["real"], ["real", "fake"])
    assert math.isnan(score_answers([], [])["accuracy"])


def test_a_class_is_combined_per_reader_and_pooled():
    truth = ["real", "fake"] * 5
    records = (answer_records("ana", truth, truth)  # 10/10
               + answer_records("ben", truth, ["real"] * 10)  # 5/10: calls everything real
               + answer_records("cem", truth, truth[:6] + ["fake", "real"] * 2))  # 6/10
    combined = combine_readers(records)
    readers = combined["readers"]
    assert list(readers) == ["ana", "ben", "cem"] and combined["n_readers"] == 3
    assert [readers[r]["accuracy"] for r in readers] == [1.0, 0.5, 0.6]
    assert readers["ben"]["fakes_called_real"] == 1.0
    assert combined["mean_accuracy"] == pytest.approx(0.7)
    low, high = combined["mean_ci"]
    sd = torch.tensor([1.0, 0.5, 0.6]).std().item()
    half = 4.302653 * sd / math.sqrt(3)  # t(0.975, 2 d.f.) = 4.3027
    assert (low, high) == pytest.approx((max(0, 0.7 - half), min(1, 0.7 + half)), rel=1e-5)  # clipped to [0, 1]
    five = combine_readers(records + answer_records("dan", truth, truth) + answer_records("eve", truth, truth))
    m, (lo5, hi5) = five["mean_accuracy"], five["mean_ci"]
    sd5 = torch.tensor([1.0, 0.5, 0.6, 1.0, 1.0]).std().item()
    assert (lo5, hi5) == pytest.approx((m - 2.776445 * sd5 / math.sqrt(5), min(1, m + 2.776445 * sd5 / math.sqrt(5))))
    pooled = combined["pooled"]
    assert (pooled["n"], pooled["correct"]) == (30, 21) and pooled["ci_high"] - pooled["ci_low"] < high - low
    assert "mean over readers" in format_readers(combined) and "ben" in format_readers(combined)
    one = combine_readers(answer_records("solo", truth, truth))
    assert math.isnan(one["mean_ci"][0])
    with pytest.raises(ValueError, match="lacks"):
        combine_readers([{"reader": "x", "truth": "real"}])
    with pytest.raises(ValueError, match="no answers"):
        combine_readers([])


def test_widget_shows_one_image_at_a_time_and_reports_at_the_end():
    test = real_or_fake_widget(REAL, FAKE, n=10, seed=3, reader="ana")
    assert isinstance(test, widgets.Widget) and not test.done and test.result()["n"] == 0
    first = bytes(test.image.value)
    assert first.startswith(b"\x89PNG") and "image 1 of 10" in test.progress.value
    test.real_button.click()  # answered through the button, as a reader would
    assert test.answers == ["real"] and bytes(test.image.value) != first and "image 2 of 10" in test.progress.value
    for _ in test.trial.truth[1:]:  # the rest: answer "real" to everything → the fakes all fool us
        test.answer("real")
    assert test.done and test.real_button.disabled and test.fake_button.disabled
    s = test.result()
    assert s["correct"] == 5 and s["accuracy"] == 0.5 and s["fakes_called_real"] == 1.0
    assert "5/10" in test.result_html.value and "contains 0.5" in test.result_html.value
    assert bytes(test.fooled_image.value).startswith(b"\x89PNG")  # the fakes that fooled the reader
    test.answer("fake")  # after the end: ignored
    assert len(test.answers) == 10
    assert test.records[0] == {"reader": "ana", "truth": test.trial.truth[0], "answer": "real"}
    assert combine_readers(test.records)["readers"]["ana"]["accuracy"] == 0.5


def test_widget_perfect_reader_and_bad_answer():
    test = real_or_fake_widget(REAL, FAKE, n=12, seed=0)
    with pytest.raises(ValueError, match="'real' or 'fake'"):
        test.answer("unsure")
    for truth in test.trial.truth:
        (test.real_button if truth == "real" else test.fake_button).click()
    assert test.result()["accuracy"] == 1.0 and "excludes 0.5" in test.result_html.value
    assert test.fooled_image.layout.display == "none"  # nothing fooled this reader
