"""The shared feedback core: verdicts, notes that stay short, choice answers and the session summary."""

import torch
from torch import nn

from gan_lab.exercises import RESULTS, check_function, check_value, summary


def test_notes_name_each_case_and_stay_short():
    fb = check_function("sum", lambda a, b: a.sum() + b.sum(),
                        [(([torch.ones(2, 3), torch.ones(4)], nn.Linear(3, 1)), 10.0)],
                        verbose=False)  # a list plus a module: raises, but the note must not dump them
    assert not fb and "2 arrays of shapes (2, 3), (4,), Linear" in str(fb) and "AttributeError" in str(fb)
    labelled = check_function("double", lambda x: 2 * x, [((torch.tensor(1.5),), 3.0), ((2.0,), 5.0)],
                              labels=["a scalar tensor", "a float"], verbose=False)
    assert str(labelled).splitlines()[1:] == ["  a scalar tensor: 3 ✓", "  a float: returned 4, expected 5"]


def test_choice_answers_ignore_case_spaces_and_hyphens_and_may_have_several_right_answers():
    assert check_value("loss", " Non-saturating", "nonsaturating", verbose=False)
    assert not check_value("loss", "minimax", "nonsaturating", verbose=False)
    assert check_value("metric", "COVERAGE", {"recall", "coverage"}, verbose=False)
    assert not check_value("metric", 1.0, "recall", verbose=False)


def test_why_shows_only_when_right_and_hint_only_when_wrong():
    right = check_value("n", 4, 4, why="two times two", hint="multiply", verbose=False)
    wrong = check_value("n", 5, 4, why="two times two", hint="multiply", verbose=False)
    assert "two times two" in str(right) and "multiply" not in str(right)
    assert "Hint: multiply" in str(wrong) and "two times two" not in str(wrong)


def test_show_prints_once_and_summary_keeps_the_latest_verdict(capsys):
    check_value("core summary probe", 1, 2)
    fb = check_value("core summary probe", 2, 2)
    assert fb is RESULTS[-1] and fb.show() is fb
    out = capsys.readouterr().out
    assert out.count("✗ core summary probe") == 1 and out.count("✓ core summary probe") == 2
    assert "✓ core summary probe" in summary().splitlines()
