"""The SegAN exercise checks accept correct answers, reject wrong ones with a hint, and never raise."""

import numpy as np
import torch

from gan_lab import exercises_segan as ex
from gan_lab.metrics.image import dice_per_image
from gan_lab.train.segan import multiscale_l1, soft_dice_loss


def right_segmentor_loss(C, x, prob, y):
    features = C(torch.cat([x * prob, x * y]))
    B = x.shape[0]
    return multiscale_l1([f[:B] for f in features], [f[B:] for f in features]) + soft_dice_loss(prob, y)


def test_correct_answers_pass(capsys):
    assert ex.check_multiscale_l1(lambda a, b: torch.stack([(p - q).abs().mean() for p, q in zip(a, b)]).mean())
    assert ex.check_soft_dice_loss(soft_dice_loss)
    assert ex.check_segmentor_loss(right_segmentor_loss)
    assert ex.check_best_threshold(lambda probs, masks, ts: ts[int(np.argmax(
        [dice_per_image((probs > t).float(), masks).mean().item() for t in ts]))])
    assert capsys.readouterr().out.count("✓") == 4


def test_wrong_answers_fail_with_a_hint(capsys):
    pooled = lambda a, b: torch.cat([(p - q).abs().flatten() for p, q in zip(a, b)]).mean()  # weights by size
    assert not ex.check_multiscale_l1(pooled)
    assert not ex.check_soft_dice_loss(lambda prob, y: 1 - 2 * (prob * y).sum() / (prob.sum() + y.sum()))
    detached = lambda C, x, prob, y: right_segmentor_loss(C, x, prob.detach(), y)
    assert not ex.check_segmentor_loss(detached)
    assert not ex.check_best_threshold(lambda probs, masks, ts: 0.5)
    out = capsys.readouterr().out
    assert out.count("✗") == 4 and out.count("hint:") == 4


def test_unfinished_or_crashing_answers_do_not_raise(capsys):
    assert not ex.check_multiscale_l1(lambda a, b: None)
    assert not ex.check_soft_dice_loss(lambda prob, y: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
