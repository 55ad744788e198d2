"""The CycleGAN exercise checks accept correct answers, reject wrong ones with a hint, and never raise."""

import torch.nn.functional as nnf

from gan_lab.exercises import cyclegan as ex


def right_contrast(image, mask):
    ring = nnf.max_pool2d(mask[None], 5, stride=1, padding=2)[0] - mask
    return (image[mask == 1].mean() - image[ring == 1].mean()).item()


def test_correct_answers_pass(capsys):
    assert ex.check_cycle_loss(lambda x, rx, y, ry: (rx - x).abs().mean() + (ry - y).abs().mean())
    assert ex.check_linear_decay(lambda s, n, d: max(0.0, 1 - max(0, s - int(d * n)) / max(1, n - int(d * n))))
    assert ex.check_lesion_contrast(right_contrast)
    assert ex.check_hallucination_answer(" g ")
    assert capsys.readouterr().out.count("✓ ") >= 4


def test_wrong_answers_fail_with_a_hint(capsys):
    assert not ex.check_cycle_loss(lambda x, rx, y, ry: ((rx - x) ** 2).mean() + ((ry - y) ** 2).mean())  # L2
    assert not ex.check_cycle_loss(lambda x, rx, y, ry: (rx - x).abs().mean())  # one direction only
    assert not ex.check_linear_decay(lambda s, n, d: 1 - s / n)  # decays from the start
    assert not ex.check_lesion_contrast(lambda image, mask: (image[mask == 1].mean() - image[mask == 0].mean()).item())
    assert not ex.check_hallucination_answer("F")
    out = capsys.readouterr().out
    assert out.count("✗") == 5 and out.count("Hint:") == 5


def test_unfinished_or_crashing_answers_do_not_raise(capsys):
    def unfinished(*args):
        raise NotImplementedError

    assert not ex.check_cycle_loss(unfinished)
    assert not ex.check_linear_decay(lambda s, n, d: 1 / 0)
    assert not ex.check_hallucination_answer(...)
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "ZeroDivisionError" in out and "no answer yet" in out


def test_identity_prediction_check():
    assert ex.check_identity_prediction("b")
    wrong = ex.check_identity_prediction("c")
    assert not wrong and "one network with one set of weights" in str(wrong)
    assert not ex.check_identity_prediction("a") and not ex.check_identity_prediction("d")
