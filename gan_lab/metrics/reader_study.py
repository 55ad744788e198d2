"""Visual evaluation: a real-or-fake reader study (visual Turing test) and its statistics.

Readers see real and generated images one at a time, in random order, and answer
"real" or "fake". A reader's accuracy is the fraction of correct answers; with as
many real as fake images, 0.5 is what guessing gives (the fakes fool the reader)
and 1 means every image was told apart. HYPE∞ (Zhou et al. 2019) reports the error
rate, 1 − accuracy.

A reader who is right k times out of n has accuracy p̂ = k/n. Its 95 % **Wilson
score interval** (Wilson 1927) is

    (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n),   z = 1.96,

which, unlike p̂ ± z √(p̂(1 − p̂)/n), stays inside [0, 1] and stays close to its
nominal coverage even for small n. An interval that contains 0.5 says: this reader cannot be shown to
tell the images apart at this n. ``p_value`` is the two-sided exact binomial test
of "accuracy = 0.5".

For a class, each reader is one unit (a reader's answers are not independent of
each other): :func:`combine_readers` scores every reader, averages their
accuracies with a t-interval over readers, and also pools all answers (a Wilson
interval that treats every answer as independent, so it is too narrow when
readers differ).

Example:
    >>> trial = make_trial(torch.zeros(10, 1, 4, 4), torch.ones(10, 1, 4, 4), n=6, seed=0)
    >>> s = score_answers(trial.truth, trial.truth)   # a perfect reader
    >>> s["accuracy"], round(s["ci_low"], 3)
    (1.0, 0.61)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch

ANSWERS = ("real", "fake")


@dataclass
class RealFakeTrial:
    """The images of one real-or-fake test, in the order a reader sees them.

    Attributes:
        images: (n, C, H, W) in [-1, 1], half real and half generated, shuffled.
        truth: n labels, "real" or "fake".
        source_index: for each image, its row in the real or the fake set it was drawn from.
        seed: the seed that drew and shuffled them.
    """

    images: torch.Tensor
    truth: list[str]
    source_index: list[int]
    seed: int

    def __len__(self) -> int:
        return len(self.truth)


def make_trial(real: torch.Tensor, fake: torch.Tensor, n: int = 20, seed: int = 0) -> RealFakeTrial:
    """n/2 real and n/2 generated images, drawn at random from each set and shuffled together.

    Args:
        real: (N_r, C, H, W) real images (held out from the generator's training, e.g. the validation split).
        fake: (N_f, C, H, W) generated images.
        n: images in the test (even: as many real as fake, so that guessing scores 0.5).
        seed: the same seed gives the same images in the same order (every student can take the same test).
    """
    if n < 2 or n % 2:
        raise ValueError(f"n must be an even number ≥ 2 (half real, half fake), got {n}.")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"real and fake images differ in shape: {tuple(real.shape[1:])} vs {tuple(fake.shape[1:])}.")
    half = n // 2
    if len(real) < half or len(fake) < half:
        raise ValueError(f"a test of {n} images needs {half} real and {half} fake ones; got {len(real)} and "
                         f"{len(fake)}.")
    gen = torch.Generator().manual_seed(seed)
    real_rows = torch.randperm(len(real), generator=gen)[:half]
    fake_rows = torch.randperm(len(fake), generator=gen)[:half]
    order = torch.randperm(n, generator=gen)
    images = torch.cat([real[real_rows].detach().float().cpu(), fake[fake_rows].detach().float().cpu()])[order]
    truth = ["real"] * half + ["fake"] * half
    rows = real_rows.tolist() + fake_rows.tolist()
    return RealFakeTrial(images, [truth[i] for i in order.tolist()], [rows[i] for i in order.tolist()], seed)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n; (0, 1) when n = 0."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), e.g. 0.95; got {confidence}.")
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 ≤ k ≤ n; got k = {k}, n = {n}.")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p_value(k: int, n: int) -> float:
    """Two-sided exact binomial test of "accuracy = 0.5": the chance of a result at least this far from n/2."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2 ** n  # P(X ≤ min(k, n − k))
    return min(1.0, 2 * tail)


def _normalise(answer: str) -> str:
    a = str(answer).strip().lower()
    if a not in ANSWERS:
        raise ValueError(f"an answer must be 'real' or 'fake', got {answer!r}.")
    return a


def score_answers(truth: list[str], answers: list[str], confidence: float = 0.95) -> dict[str, float]:
    """Accuracy of one reader's answers, with its Wilson interval and what kind of mistakes were made.

    Args:
        truth: "real"/"fake" for each image shown.
        answers: the reader's "real"/"fake" for the same images, in the same order.

    Returns:
        ``{"n", "correct", "accuracy", "ci_low", "ci_high", "p_value", "fakes_called_real",
        "reals_called_fake"}``; ``fakes_called_real`` is the fraction of generated images the
        reader took for real (how often the generator fooled them), NaN when none were shown.
    """
    if len(truth) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(truth)} images.")
    truth = [_normalise(t) for t in truth]
    answers = [_normalise(a) for a in answers]
    n = len(truth)
    correct = sum(t == a for t, a in zip(truth, answers))
    low, high = wilson_interval(correct, n, confidence)

    def rate(kind: str) -> float:
        shown = [a for t, a in zip(truth, answers) if t == kind]
        return sum(a != kind for a in shown) / len(shown) if shown else float("nan")

    return {"n": n, "correct": correct, "accuracy": correct / n if n else float("nan"), "ci_low": low,
            "ci_high": high, "p_value": binomial_p_value(correct, n), "fakes_called_real": rate("fake"),
            "reals_called_fake": rate("real")}


def answer_records(reader: str, truth: list[str], answers: list[str]) -> list[dict[str, str]]:
    """One record per answered image, ``{"reader", "truth", "answer"}``: what a lecturer collects."""
    if len(answers) > len(truth):
        raise ValueError(f"{len(answers)} answers for {len(truth)} images.")
    return [{"reader": str(reader), "truth": _normalise(t), "answer": _normalise(a)} for t, a in zip(truth, answers)]


def combine_readers(records: list[dict[str, str]], confidence: float = 0.95) -> dict:
    """Score several readers' answers: each reader, their mean accuracy, and all answers pooled.

    Args:
        records: ``{"reader", "truth", "answer"}`` dicts (e.g. every student's ``widget.records``, concatenated).
        confidence: of every interval.

    Returns:
        ``{"readers": {name: score_answers(...)}, "n_readers", "mean_accuracy", "mean_ci",
        "pooled": score_answers(all answers)}``. ``mean_ci`` is a t-interval over the readers'
        accuracies, clipped to [0, 1] (NaN with fewer than two readers): the reader is the unit, so it
        widens when readers disagree. ``pooled`` treats every answer as independent and is narrower.

    Example:
        >>> recs = answer_records("a", ["real", "fake"], ["real", "real"]) + answer_records("b", ["fake"], ["fake"])
        >>> combine_readers(recs)["mean_accuracy"]
        0.75
    """
    if not records:
        raise ValueError("no answers to combine: pass a list of {'reader', 'truth', 'answer'} records.")
    by_reader: dict[str, tuple[list[str], list[str]]] = {}
    for i, r in enumerate(records):
        missing = {"reader", "truth", "answer"} - set(r)
        if missing:
            raise ValueError(f"record {i} lacks {sorted(missing)}: each record needs 'reader', 'truth' and 'answer'.")
        truth, answers = by_reader.setdefault(str(r["reader"]), ([], []))
        truth.append(r["truth"])
        answers.append(r["answer"])
    readers = {name: score_answers(t, a, confidence) for name, (t, a) in by_reader.items()}
    accuracies = [s["accuracy"] for s in readers.values()]
    m = len(accuracies)
    mean = sum(accuracies) / m
    if m > 1:
        from scipy.stats import t as student_t

        sd = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / (m - 1))
        half = student_t.ppf(0.5 + confidence / 2, m - 1) * sd / math.sqrt(m)
        mean_ci = (max(0.0, mean - half), min(1.0, mean + half))  # an accuracy lies in [0, 1]
    else:
        mean_ci = (float("nan"), float("nan"))
    pooled = score_answers([r["truth"] for r in records], [r["answer"] for r in records], confidence)
    return {"readers": readers, "n_readers": m, "mean_accuracy": mean, "mean_ci": mean_ci, "pooled": pooled}


def format_readers(combined: dict) -> str:
    """A plain-text table of :func:`combine_readers`' result: one row per reader, then the class."""
    lines = [f"{'reader':28s} {'n':>4s} {'accuracy':>9s} {'95% interval':>15s} {'fakes called real':>18s}"]
    for name, s in combined["readers"].items():
        lines.append(f"{name[:28]:28s} {s['n']:4d} {s['accuracy']:9.2f} [{s['ci_low']:5.2f}, {s['ci_high']:5.2f}]"
                     f" {s['fakes_called_real']:18.2f}")
    lo, hi = combined["mean_ci"]
    lines.append(f"{'mean over readers':28s} {combined['n_readers']:4d} {combined['mean_accuracy']:9.2f} "
                 f"[{lo:5.2f}, {hi:5.2f}]   (t-interval over readers)")
    p = combined["pooled"]
    lines.append(f"{'all answers pooled':28s} {p['n']:4d} {p['accuracy']:9.2f} [{p['ci_low']:5.2f}, "
                 f"{p['ci_high']:5.2f}] {p['fakes_called_real']:18.2f}")
    return "\n".join(lines)
