"""The notebook-06 checks accept right answers, reject wrong ones with a hint, record verdicts and never raise."""

import numpy as np
import torch

from gan_lab import exercises
from gan_lab.exercises import segan as ex
from gan_lab.losses.segmentation import multiscale_l1, soft_dice_loss
from gan_lab.metrics.image import dice_per_image


def right_segmentor_loss(C, x, prob, y):
    features = C(torch.cat([x * prob, x * y]))
    B = x.shape[0]
    return multiscale_l1([f[:B] for f in features], [f[B:] for f in features]) + soft_dice_loss(prob, y)


def right_best_threshold(probs, masks, ts):
    return ts[int(np.argmax([dice_per_image((probs > t).float(), masks).mean().item() for t in ts]))]


def test_correct_answers_pass(capsys):
    assert ex.check_multiscale_l1(lambda a, b: torch.stack([(p - q).abs().mean() for p, q in zip(a, b)]).mean())
    assert ex.check_soft_dice_loss(soft_dice_loss)
    assert ex.check_segmentor_loss(right_segmentor_loss)
    assert ex.check_best_threshold(right_best_threshold)
    out = capsys.readouterr().out
    assert out.count(": correct.") == 4


def test_wrong_answers_fail_with_a_hint(capsys):
    pooled = lambda a, b: torch.cat([(p - q).abs().flatten() for p, q in zip(a, b)]).mean()  # weights by size
    assert not ex.check_multiscale_l1(pooled)
    assert not ex.check_soft_dice_loss(lambda prob, y: 1 - 2 * (prob * y).sum() / (prob.sum() + y.sum()))
    separate = lambda C, x, prob, y: multiscale_l1(C(x * prob), C(x * y)) + soft_dice_loss(prob, y)
    assert not ex.check_segmentor_loss(separate)  # two passes: batch norm statistics differ
    assert not ex.check_best_threshold(lambda probs, masks, ts: 0.5)
    out = capsys.readouterr().out
    assert out.count("✗") == 4 and out.count("Hint:") == 4 and "returned 0.5, expected 0.3" in out


def test_a_detached_segmentor_loss_is_caught():
    detached = ex.check_segmentor_loss(lambda C, x, prob, y: right_segmentor_loss(C, x, prob.detach(), y))
    assert not detached and "no gradient with respect to prob" in str(detached)
    as_float = ex.check_segmentor_loss(lambda C, x, prob, y: right_segmentor_loss(C, x, prob, y).item())
    assert not as_float and "do not detach prob" in str(as_float)
    assert "✗ segmentor loss" in exercises.summary()


def test_unfinished_or_crashing_answers_do_not_raise():
    def stub(features_a, features_b):
        raise NotImplementedError

    assert "not implemented yet" in str(ex.check_multiscale_l1(stub))
    assert not ex.check_multiscale_l1(lambda a, b: None)
    crashed = ex.check_soft_dice_loss(lambda prob, y: 1 / 0)
    assert not crashed and "ZeroDivisionError" in str(crashed)


def test_questions_accept_the_right_letter_and_explain_it():
    detach = ex.check_detach(" (C) ")
    assert detach and "cuts the gradient" in str(detach)
    threshold = ex.check_test_threshold("b")
    assert threshold and "biased upwards" in str(threshold)
    no_dice = ex.check_no_dice("c")
    assert no_dice and "needs no critic" in str(no_dice)


def test_questions_give_the_hint_for_the_wrong_letter():
    assert "changes no number" in str(ex.check_detach("a"))
    harmless = ex.check_detach("b")  # "each optimiser only updates its own network"
    assert not harmless and "what gradient would ℓ_mae send to S?" in str(harmless)
    assert "largest of several noisy scores" in str(ex.check_test_threshold("a"))
    paper = ex.check_no_dice("b")  # forgets the critic-free input term
    assert not paper and "f_C^0" in str(paper)
    assert "answer with one letter" in str(ex.check_no_dice("dice"))
    assert "no answer yet" in str(ex.check_detach(...))


def test_the_lambda_dice_answer_follows_the_critics_feature_list(monkeypatch):
    assert ex._input_term_in_loss()  # gan_lab's critic returns the masked image first, weight 1
    monkeypatch.setattr(ex, "_input_term_in_loss", lambda: False)  # a critic without the input term
    assert ex.check_no_dice("b") and not ex.check_no_dice("c")
