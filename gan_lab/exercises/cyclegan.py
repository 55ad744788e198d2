"""Checks for the CycleGAN notebook's exercises (04): each runs your answer and prints ✓ or ✗ with a hint.

Built on :mod:`gan_lab.exercises`: every check returns a ``Feedback`` (truthy
when right) and never raises, so the notebook keeps running either way.

Example:
    >>> def my_cycle_loss(real_X, rec_X, real_Y, rec_Y):
    ...     return (rec_X - real_X).abs().mean() + (rec_Y - real_Y).abs().mean()
    >>> check_cycle_loss(my_cycle_loss)  # doctest: +SKIP
    ✓ cycle loss: correct.
"""

from __future__ import annotations

import torch

from ..losses.translation import cycle_loss
from ..metrics.lesion import lesion_contrast_per_image
from ..train.cyclegan import linear_decay
from .core import Feedback, check_choice, check_function, check_value


def _images(seed: int, shape=(2, 1, 8, 8)) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(shape, generator=gen) * 2 - 1 for _ in range(4)]


def check_cycle_loss(fn) -> Feedback:
    """``fn(real_X, rec_X, real_Y, rec_Y)`` must return E‖F(G(x)) − x‖₁ + E‖G(F(y)) − y‖₁ (pixel means)."""
    cases = [(tuple(args), cycle_loss(*args)) for args in (_images(0), _images(1), _images(2, (3, 3, 4, 4)))]
    return check_function("cycle loss", fn, cases,
                          hint="mean ABSOLUTE difference (L1, not squared) between each image and its "
                               "reconstruction, one term per direction, added.")


def check_linear_decay(fn) -> Feedback:
    """``fn(step, num_steps, decay_start)`` must return the learning-rate factor of Zhu et al.'s schedule."""
    cases = [((step, n, start), linear_decay(n, start)(step))
             for n, start in ((10, 0.5), (100, 0.5), (8, 0.0)) for step in (0, n // 4, n // 2, 3 * n // 4, n)]
    return check_function("linear decay", fn, cases,
                          hint="1 until step = decay_start·num_steps, then a straight line that reaches 0 "
                               "exactly at step = num_steps.")


def check_lesion_contrast(fn) -> Feedback:
    """``fn(image, mask)`` for one (1, H, W) image: mean inside the mask − mean in the 2-pixel ring around it."""
    cases = []
    for seed in range(3):
        gen = torch.Generator().manual_seed(seed)
        image = torch.rand(1, 1, 16, 16, generator=gen) * 2 - 1
        mask = torch.zeros(1, 1, 16, 16)
        r, c = torch.randint(3, 9, (2,), generator=gen).tolist()
        mask[..., r:r + 4, c:c + 3] = 1
        cases.append(((image[0], mask[0]), lesion_contrast_per_image(image, mask)[0].item()))
    return check_function("lesion contrast", fn, cases,
                          hint="grow the mask by 2 pixels (F.max_pool2d(mask, 5, stride=1, padding=2)); the ring "
                               "is grown − mask; return mean(image[mask == 1]) − mean(image[ring == 1]).")


def check_hallucination_answer(answer: str) -> Feedback:
    """Which direction hides lesions when MR trains with 50% lesions and CT with none? "G" or "F"."""
    return check_value("which generator hides lesions", answer, "G",
                       hint="D_Y has only ever seen lesion-free CT, and G's outputs are judged by D_Y.")


def check_identity_prediction(answer) -> Feedback:
    """Before the ablations run: what the identity loss does to MR → CT. A letter, a–d.

    (a) It helps: G learns to keep the anatomy, so the CT it makes is closer to the true CT.
    (b) It competes with the translation: G is rewarded for leaving intensities as they are, so its CT keeps
        some of the MR's contrast and is no closer, or further, from the true CT.
    (c) Nothing: G only ever receives MR slices in training, so a term on CT inputs cannot change what it
        does to an MR.
    (d) It makes G collapse to one CT slice for every input.
    """
    hints = {
        "a": "the cycle loss already keeps the anatomy. What does 'return a real CT unchanged' ask of G's "
             "intensity mapping, when the MR → CT mapping must swap which tissues are bright and which dark?",
        "c": "G is one network with one set of weights: the identity term trains those weights on CT inputs, and "
             "the same weights then process every MR. To meet both demands they must first tell the two domains "
             "apart, which costs capacity a small G does not have to spare. What does the shared part learn?",
        "d": "collapse comes from a missing tie between input and output (the other ablation); the identity term "
             "adds a tie. What does this tie pull G's output towards?",
    }
    return check_choice("the identity loss on MR → CT", answer, "b", hints,
                        why="the identity term rewards G(y) = y for real CT slices y. The weights that do that "
                            "also process every MR, and mapping intensities to themselves is the opposite of a "
                            "contrast swap (fat bright in one modality, dark in the other); a network could tell the "
                            "domains apart and do both, but that costs capacity, so in a small G the two demands "
                            "compete. Zhu et al. (2017) added it for painting → photo, where keeping colours "
                            "is right; compare the ablation's row with the main run's below.")
