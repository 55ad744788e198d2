"""The feedback mechanism all checkers share."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: every verdict given in this session, in order (see :func:`summary`).
RESULTS: list[Feedback] = []


@dataclass
class Feedback:
    """The verdict on one exercise; truthy when it passed, printed as ✓ / ✗ lines."""

    name: str
    passed: bool
    notes: list[str] = field(default_factory=list)
    hint: str = ""

    def __post_init__(self):
        RESULTS.append(self)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = f"✓ {self.name}: correct." if self.passed else f"✗ {self.name}: not yet."
        lines = [head] + [f"  {n}" for n in self.notes]
        if not self.passed and self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython shows the verdict, not a dataclass dump
        p.text(str(self))

    def show(self, verbose: bool = True) -> Feedback:
        """Print the verdict (when ``verbose``) and return it: the last line of every checker."""
        if verbose:
            print(self)
        return self


def summary() -> str:
    """One line per exercise checked so far in this session: its latest verdict."""
    latest = {fb.name: fb.passed for fb in RESULTS}
    if not latest:
        return "No exercise checked yet."
    done = sum(latest.values())
    lines = [f"{'✓' if ok else '✗'} {name}" for name, ok in latest.items()]
    return "\n".join(lines + [f"{done} of {len(latest)} exercises correct."])


def _word(s: str) -> str:
    """A choice answer as compared: case, spaces, hyphens and underscores do not matter ("Non-saturating")."""
    return "".join(ch for ch in s.lower() if ch.isalnum())


def _close(a, b, rtol: float, atol: float) -> bool:
    if isinstance(b, (set, frozenset)):  # a question with more than one right answer
        return any(_close(a, choice, rtol, atol) for choice in b)
    if isinstance(b, str):
        return isinstance(a, str) and _word(a) == _word(b)
    if isinstance(b, bool) or b is None:
        return a == b
    try:
        a_arr = np.asarray(a.detach().cpu() if torch.is_tensor(a) else a, dtype=float)
        b_arr = np.asarray(b.detach().cpu() if torch.is_tensor(b) else b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=True))


def _is_array(x) -> bool:
    return torch.is_tensor(x) or isinstance(x, np.ndarray)


def _short(x) -> str:
    """One short line for an argument or an answer: never a full tensor or a network's printout."""
    if _is_array(x):
        flat = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x).ravel()
        if np.ndim(x) == 0:  # a scalar tensor (a loss): show the number
            return _short(flat[0].item())
        return f"array of shape {tuple(np.shape(x))}: {np.array2string(flat[:4], precision=4)}…"
    if isinstance(x, (list, tuple)) and any(_is_array(item) for item in x):
        return f"{len(x)} arrays of shapes {', '.join(str(tuple(np.shape(item))) for item in x)}"
    if isinstance(x, nn.Module):
        return type(x).__name__
    if isinstance(x, float):
        return f"{x:.6g}" if math.isfinite(x) else str(x)
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "…"


def check_function(name: str, fn: Callable, cases: Iterable[tuple[tuple, object]], *, hint: str = "",
                   rtol: float = 1e-4, atol: float = 1e-6, labels: Sequence[str] | None = None,
                   verbose: bool = True) -> Feedback:
    """Call ``fn(*args)`` for each ``(args, expected)`` case and compare.

    Args:
        name: the exercise's name, shown in the verdict.
        fn: the student's function.
        cases: the inputs and the expected answers (numbers, arrays, tensors, bools or strings).
        hint: shown when an answer is wrong.
        rtol, atol: tolerance for numeric answers.
        labels: one name per case for the notes ("d = 4, n = 300"); by default the case's arguments.
        verbose: print the verdict.

    Example:
        >>> fb = check_function("square", lambda x: x * x, [((3,), 9)], verbose=False)
        >>> bool(fb)
        True
    """
    notes, passed = [], True
    for i, (args, expected) in enumerate(cases):
        shown = f"{labels[i]}:" if labels else f"{name}({', '.join(_short(a) for a in args)})"
        try:
            got = fn(*args)
        except NotImplementedError:
            return Feedback(name, False, ["not implemented yet: complete the function in the cell above."],
                            hint).show(verbose)
        except Exception as err:  # the student's code raised: say which input and what
            notes.append(f"{shown} raised {type(err).__name__}: {err}")
            passed = False
            continue
        if _close(got, expected, rtol, atol):
            notes.append(f"{shown} {'' if labels else '= '}{_short(got)} ✓")
        else:
            notes.append(f"{shown} returned {_short(got)}, expected {_short(expected)}")
            passed = False
    return Feedback(name, passed, notes, hint).show(verbose)


def unanswered(name: str, answer, hint: str = "", verbose: bool = True) -> Feedback | None:
    """The "no answer yet" verdict while ``answer`` is still the placeholder ``...``, else None."""
    if answer is NotImplemented or answer is Ellipsis:
        return Feedback(name, False, ["no answer yet: replace ... with your answer."], hint).show(verbose)
    return None


def check_value(name: str, answer, expected, *, hint: str = "", why: str = "", rtol: float = 1e-4,
                atol: float = 1e-6, verbose: bool = True) -> Feedback:
    """Compare a single answer (a number, array, choice string or bool) with the expected one.

    Args:
        name: the exercise's name, shown in the verdict.
        answer: the student's answer; ``...`` means none yet.
        expected: the right answer, or a set of them when several are right. Choice strings
            compare without case, spaces, hyphens or underscores ("Non-saturating" = "nonsaturating").
        hint: shown when the answer is wrong.
        why: shown when it is right: the reason, so a lucky guess still teaches something.
        rtol, atol: tolerance for numeric answers.
        verbose: print the verdict.

    Example:
        >>> bool(check_value("which loss", " Recall", {"recall", "coverage"}, verbose=False))
        True
    """
    if (missing := unanswered(name, answer, hint, verbose)) is not None:
        return missing
    if _close(answer, expected, rtol, atol):
        return Feedback(name, True, [f"{_short(answer)} ✓"] + ([why] if why else []), hint).show(verbose)
    return Feedback(name, False, [f"you answered {_short(answer)}"], hint).show(verbose)


def check_choice(name: str, answer, right: str, hints: Mapping[str, str], *, why: str = "",
                 default: str = "answer with one letter, a, b, c or d.", verbose: bool = True) -> Feedback:
    """A multiple-choice answer (a letter): ✓ and ``why`` for ``right``, else the hint written for the letter chosen.

    Args:
        hints: wrong letter → a hint that answers that particular mistake.
        default: the hint for an answer that is no letter with a hint of its own.

    Example:
        >>> bool(check_choice("which", "B", "b", {"a": "no"}, verbose=False))
        True
    """
    hint = hints.get(_word(answer), default) if isinstance(answer, str) else default
    return check_value(name, answer, right, hint=hint, why=why, verbose=verbose)
