"""A real-or-fake test a class can take: one image at a time, "real" or "fake", then the accuracy.

The widget draws a :class:`~gan_lab.metrics.reader_study.RealFakeTrial` (half real,
half generated, shuffled with a seed, so every student can take the same test),
shows the images one by one without feedback (a reader who learns the
generator's tells during the test measures something else), and at the end
reports the accuracy with its Wilson interval and shows the fakes that fooled
the reader. ``widget.records`` are the answers a lecturer collects;
:func:`~gan_lab.metrics.reader_study.combine_readers` scores a whole class.

Everything is reachable from code (``widget.answer("real")``, the buttons'
``click()``), so it runs and is tested headless.
"""

from __future__ import annotations

import ipywidgets as widgets
import torch

from ..metrics.reader_study import RealFakeTrial, answer_records, make_trial, score_answers
from ..viz import image_grid, png_bytes
from .picture import PicturedVBox


class RealOrFakeWidget(PicturedVBox):
    """The test (see :func:`real_or_fake_widget`).

    Attributes:
        trial: the images, their truth and where they came from.
        reader: the reader's name (in ``records``).
        answers: the answers so far.
        image, real_button, fake_button, progress, result_html, fooled_image: the controls.
    """

    def __init__(self, real: torch.Tensor, fake: torch.Tensor, n: int = 20, seed: int = 0, reader: str = "you",
                 scale: int = 8):
        self.trial: RealFakeTrial = make_trial(real, fake, n, seed)
        self.reader, self.scale = reader, scale
        self.answers: list[str] = []
        self.image = widgets.Image(format="png")
        self.real_button = widgets.Button(description="real", button_style="success", icon="check")
        self.fake_button = widgets.Button(description="fake", button_style="danger", icon="times")
        self.real_button.on_click(lambda _: self.answer("real"))
        self.fake_button.on_click(lambda _: self.answer("fake"))
        self.progress, self.result_html = widgets.HTML(), widgets.HTML()
        self.fooled_image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        super().__init__([self.progress, self.image, widgets.HBox([self.real_button, self.fake_button]),
                          self.result_html, self.fooled_image])
        self._show()

    @property
    def done(self) -> bool:
        return len(self.answers) == len(self.trial)

    def answer(self, label: str) -> None:
        """Record "real" or "fake" for the image on screen and move on (ignored once the test is over)."""
        if self.done:
            return
        label = str(label).strip().lower()
        if label not in ("real", "fake"):
            raise ValueError(f"answer 'real' or 'fake', not {label!r}.")
        self.answers.append(label)
        self._show()

    @property
    def records(self) -> list[dict[str, str]]:
        """``{"reader", "truth", "answer"}`` for every image answered so far."""
        return answer_records(self.reader, self.trial.truth, self.answers)

    def result(self) -> dict[str, float]:
        """:func:`~gan_lab.metrics.reader_study.score_answers` of the answers so far (n = 0 before the first)."""
        return score_answers(self.trial.truth[:len(self.answers)], self.answers)

    def _show(self) -> None:
        n, i = len(self.trial), len(self.answers)
        if not self.done:
            self.image.value = png_bytes(image_grid(self.trial.images[i:i + 1], nrow=1, pad=0), self.scale)
            self.progress.value = f"<b>{self.reader}</b>: image {i + 1} of {n} — real X-ray or generated?"
            return
        self.real_button.disabled = self.fake_button.disabled = True
        self.image.layout.display = "none"  # the test is over: no image left to judge
        s = self.result()
        verdict = ("the interval contains 0.5: at this n you cannot be shown to tell them apart"
                   if s["ci_low"] <= 0.5 <= s["ci_high"] else
                   "the interval excludes 0.5: you tell them apart better than guessing" if s["ci_low"] > 0.5 else
                   "the interval lies below 0.5: you systematically swap real and fake")
        self.progress.value = f"<b>{self.reader}</b>: done, {n} images."
        self.result_html.value = (f"accuracy <b>{s['correct']}/{n} = {s['accuracy']:.2f}</b>, 95 % Wilson interval "
                                  f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}] ({verdict}); fakes taken for real: "
                                  f"{s['fakes_called_real']:.0%}.")
        fooled = [k for k, (t, a) in enumerate(zip(self.trial.truth, self.answers)) if t == "fake" and a == "real"]
        if fooled:
            self.fooled_image.value = png_bytes(image_grid(self.trial.images[fooled], nrow=min(len(fooled), 10)),
                                                max(1, self.scale // 2))
            self.fooled_image.layout.display = None
            self.result_html.value += " Below: the generated images you called real."


def real_or_fake_widget(real: torch.Tensor, fake: torch.Tensor, n: int = 20, seed: int = 0, reader: str = "you",
                        scale: int = 8) -> RealOrFakeWidget:
    """A visual Turing test: n images (half real, half generated) one at a time; answer real or fake.

    Args:
        real: (N_r, C, H, W) real images in [-1, 1] the generator never saw (e.g. the validation split).
        fake: (N_f, C, H, W) generated images.
        n: images in the test (even).
        seed: which images and in which order; give a class the same seed to compare readers on the same test.
        reader: a name for ``records``.
        scale: pixel enlargement of the image shown.

    Returns:
        A :class:`RealOrFakeWidget`: ``.answer("real" | "fake")``, ``.result()``, ``.records``, ``.done``.

    Example:
        >>> test = real_or_fake_widget(val.images, run.sample(500), n=20, reader="ana")  # doctest: +SKIP
        >>> test            # in a notebook: click real / fake twenty times
        >>> test.result()["accuracy"], test.records[:1]
    """
    return RealOrFakeWidget(real, fake, n, seed, reader, scale)
