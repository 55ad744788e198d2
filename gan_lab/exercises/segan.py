"""Checks for the SegAN notebook's exercises (06): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check compares with gan_lab's own
implementation on small random inputs, returns a ``Feedback`` (truthy when
right) and never raises, so the notebook keeps running either way.

Example:
    >>> def my_l1(a, b):
    ...     return torch.stack([(x - y).abs().mean() for x, y in zip(a, b)]).mean()
    >>> check_multiscale_l1(my_l1)  # doctest: +SKIP
    ✓ multi-scale L1: correct.
"""

from __future__ import annotations

import torch

from ..losses.segmentation import multiscale_l1, soft_dice_loss
from ..metrics.image import dice_per_image
from ..models.segan import SegANCritic
from ..train.segan import SegANConfig, critic_features
from .core import Feedback, check_choice, check_function


def _feature_lists(seed: int, batch: int = 2) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Two lists of feature maps, one per scale: (B, 1, 16, 16), (B, 4, 8, 8), (B, 8, 4, 4)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(batch, 1, 16, 16), (batch, 4, 8, 8), (batch, 8, 4, 4)]
    return [torch.randn(s, generator=gen) for s in shapes], [torch.randn(s, generator=gen) for s in shapes]


def check_multiscale_l1(fn) -> Feedback:
    """``fn(features_a, features_b)`` must return 1/L Σ_i mean |a_i − b_i| (a scalar tensor)."""
    cases = [((a, b), multiscale_l1(a, b)) for a, b in map(_feature_lists, range(3))]
    return check_function("multi-scale L1", fn, cases, atol=1e-5,
                          labels=[f"case {i + 1}: 3 scales, 16×16 to 4×4" for i in range(len(cases))],
                          hint="take the MEAN absolute difference at each scale (loop over zip(features_a, "
                               "features_b)), then average over the scales; not one mean over all concatenated "
                               "numbers: the scales differ in size.")


def check_soft_dice_loss(fn) -> Feedback:
    """``fn(prob, y)`` (B, 1, H, W) must return 1 − mean_n (2 Σ p·y + 1) / (Σ p + Σ y + 1)."""
    gen = torch.Generator().manual_seed(0)
    prob = torch.rand(3, 1, 8, 8, generator=gen)
    y = (torch.rand(3, 1, 8, 8, generator=gen) > 0.7).float()
    y[2] = 0  # an empty tile: the +1 keeps it finite
    return check_function("soft Dice loss", fn, [((prob, y), soft_dice_loss(prob, y))], atol=1e-5,
                          labels=["3 tiles, the last one empty"],
                          hint="compute one Dice per image (sum over C, H, W with .flatten(1).sum(1)), average "
                               "over the batch, then 1 − that; keep the +1 in numerator and denominator.")


def check_segmentor_loss(fn) -> Feedback:
    """``fn(C, x, prob, y)`` must return ℓ_mae(f_C(x ∘ prob), f_C(x ∘ y)) + soft Dice, differentiable in prob."""
    torch.manual_seed(0)
    C = SegANCritic(1, width=4, size=16)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    y = (torch.rand(2, 1, 16, 16) > 0.6).float()
    prob = torch.rand(2, 1, 16, 16, requires_grad=True)
    expected = multiscale_l1(*critic_features(C, x, prob, y)) + soft_dice_loss(prob, y)
    fb = check_function("segmentor loss", fn, [((C, x, prob, y), expected)], labels=["2 tiles of 16×16"],
                        hint="mask with x * prob and x * y and pass both through C TOGETHER (torch.cat, as "
                             "critic_features does: batch norm then shares statistics; gan_lab's choice, the "
                             "official code runs C twice); compare the feature lists with multiscale_l1 and "
                             "add soft_dice_loss(prob, y).", verbose=False)
    if fb and not _has_gradient(fn(C, x, prob, y), prob):
        fb.passed = False
        fb.notes.append("the loss has no gradient with respect to prob: S could not learn through it.")
        fb.hint = "do not detach prob (c_step detaches it because there C learns, not S)."
    return fb.show()


def _has_gradient(loss, prob: torch.Tensor) -> bool:
    if not (torch.is_tensor(loss) and loss.requires_grad):  # a float (.item()) or a detached tensor
        return False
    (grad,) = torch.autograd.grad(loss, prob, allow_unused=True)
    return grad is not None and bool(grad.abs().sum() > 0)


def check_best_threshold(fn) -> Feedback:
    """``fn(probs, masks, thresholds)`` must return the threshold with the highest mean Dice."""
    gen = torch.Generator().manual_seed(1)
    masks = (torch.rand(6, 1, 12, 12, generator=gen) > 0.6).float()
    probs = (0.3 * masks + 0.5 * torch.rand(6, 1, 12, 12, generator=gen)).clamp(0, 1)  # best threshold is low
    thresholds = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    scores = [dice_per_image((probs > t).float(), masks).mean().item() for t in thresholds]
    best = max(range(len(thresholds)), key=scores.__getitem__)
    return check_function("best threshold", fn, [((probs, masks, thresholds), thresholds[best])],
                          labels=[f"6 tiles, thresholds {thresholds} (best mean Dice {scores[best]:.3f})"],
                          hint="binarise with (probs > t).float() for each t, score with dice_per_image(...).mean() "
                               "and return the t (not its Dice) with the largest mean Dice.")


# ---- questions: why the code is as it is, and predictions -------------------------------------------------
def check_detach(answer) -> Feedback:
    """Why ``c_step`` detaches ``prob`` while the segmentor's loss must not: a letter, a–d."""
    hints = {
        "a": "detach() changes no number: prob.detach() holds the same soft probabilities. It only cuts the "
             "path along which gradients flow back.",
        "b": "look at S's loss: ℓ_mae depends on S's weights only through prob. With prob detached there, what "
             "gradient would ℓ_mae send to S?",
        "d": "clipping clamps C's weights after C's update (clip_weights runs under torch.no_grad()); it never "
             "looks at prob.",
    }
    return check_choice("detach in c_step, not in the segmentor's loss", answer, "c", hints,
                        default="answer with one letter, a, b, c or d. Ask, for each step: which network learns, "
                                "and along which path does ℓ_mae depend on S's weights?",
                        why="detach() keeps the values and cuts the gradient. S's only way to learn from the "
                            "critic is the gradient of ℓ_mae back through C into prob, so S's loss must keep it. In "
                            "C's step only C learns; the gradient of −ℓ_mae with respect to S would push S towards "
                            "masks that look MORE unlike the truth. In gan_lab the two steps also share one forward "
                            "pass of S (train_segan), so C's backward pass would free the graph that s_step "
                            "still needs.")


def check_test_threshold(answer) -> Feedback:
    """What is wrong with choosing the threshold on the test tiles and reporting their Dice: a letter, a–d."""
    hints = {
        "a": "one number is enough: picking the best of several thresholds BY their test Dice reports the "
             "largest of several noisy scores. Would that score hold on new tiles?",
        "c": "the test tiles have masks: section 5 scores Dice on them.",
        "d": "nothing forces the test tiles' best threshold to be lower or higher; the problem is what the "
             "reported number then measures.",
    }
    return check_choice("choosing the threshold on test tiles", answer, "b", hints,
                        why="every choice made by looking at the test tiles (a threshold, a checkpoint, a "
                            "hyper-parameter) turns them into training data: the best of several test scores is "
                            "biased upwards. Choose on data the final score never sees: training tiles, or better a "
                            "validation split of held-out training IMAGES (the tiles of training images overlap in "
                            "content, and S has been fitted to them).")


def _input_term_in_loss() -> bool:
    """Whether gan_lab's ℓ_mae, with SegANConfig's default weights, holds the critic-free input term f_C^0."""
    critic = SegANCritic(1, width=4, size=16)
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        first = critic(x)[0]
    weights = SegANConfig().scale_weights
    return first.shape == x.shape and torch.equal(first, x) and (weights is None or weights[0] > 0)


def check_no_dice(answer) -> Feedback:
    """What does S learn from with λ_dice = 0 (and λ_bce = 0): a letter, a–d."""
    input_term = _input_term_in_loss()
    hints = {
        "a": "λ_adv·ℓ_mae is still in S's loss, and ℓ_mae depends on prob: the gradient flows back through C "
             "(exercise 4).",
        "b": "look at C's feature list (section 3 prints its shapes): what is its first entry, f_C^0? Which "
             "scales does multiscale_l1 average over with the default weights?",
        "d": "λ_dice weighs the Dice term; λ_adv weighs ℓ_mae. With λ_dice = 0 the Dice term is gone.",
    }
    if not input_term:
        hints["c"] = "C's first feature here is not the masked image, or its weight is 0: ℓ_mae holds C's layers only."
    return check_choice("what λ_dice = 0 leaves", answer, "c" if input_term else "b", hints,
                        why=("ℓ_mae alone, and gan_lab's ℓ_mae starts with the masked image itself (f_C^0, "
                             "weighted like every other scale): mean |x∘S(x) − x∘y| = mean |x|·|S(x) − y| is a pixel "
                             "loss weighted by intensity that needs no critic, so S is pointed at the right pixels "
                             "from the first step, while C's features are still random. The paper's objective has "
                             "no such term: a scale weight of 0 for the input drops it (exercise 8)." if input_term else
                             "ℓ_mae over C's layers alone: S learns only from the gradients that come back through "
                             "C, as in the paper."))
