"""The notebook-03 exercise checks accept right answers and reject typical wrong ones."""

import torch.nn.functional as F

from gan_lab.exercises.conditional import check_patch_count, check_pix2pix_generator_loss, check_projection_logit


def test_projection_logit_check():
    assert check_projection_logit(lambda psi, phi, E, y: psi + (E[y] * phi).sum(dim=1))
    assert not check_projection_logit(lambda psi, phi, E, y: psi + (E[y] * phi).sum())  # summed over the batch too
    assert not check_projection_logit(lambda psi, phi, E, y: (E[y] * phi).sum(dim=1))  # forgot ψ


def test_pix2pix_generator_loss_check():
    right = lambda logits, fake, target, lam: F.softplus(-logits).mean() + lam * (fake - target).abs().mean()
    assert check_pix2pix_generator_loss(right)
    assert not check_pix2pix_generator_loss(  # the saturating (minimax) sign
        lambda logits, fake, target, lam: -F.softplus(logits).mean() + lam * (fake - target).abs().mean())
    assert not check_pix2pix_generator_loss(  # L2 instead of L1
        lambda logits, fake, target, lam: F.softplus(-logits).mean() + lam * ((fake - target) ** 2).mean())


def test_patch_count_check():
    assert check_patch_count(36)
    assert not check_patch_count(25)
    assert not check_patch_count(...)


def test_l1_prediction_check():
    from gan_lab.exercises.conditional import check_l1_prediction

    assert check_l1_prediction(" B ")
    assert "median" in str(check_l1_prediction("b"))  # why it is right
    wrong = check_l1_prediction("a")
    assert not wrong and "pixel-wise error" in str(wrong)  # the hint answers this mistake
    assert not check_l1_prediction("e") and "one letter" in str(check_l1_prediction("e"))
