"""The feedback mechanism all checkers share."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

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


def summary() -> str:
    """One line per exercise checked so far in this session: its latest verdict."""
    latest = {fb.name: fb.passed for fb in RESULTS}
    if not latest:
        return "No exercise checked yet."
    done = sum(latest.values())
    lines = [f"{'✓' if ok else '✗'} {name}" for name, ok in latest.items()]
    return "\n".join(lines + [f"{done} of {len(latest)} exercises correct."])


def _close(a, b, rtol: float, atol: float) -> bool:
    if isinstance(b, (bool, str)) or b is None:
        return a == b
    try:
        a_arr = np.asarray(a.detach().cpu() if torch.is_tensor(a) else a, dtype=float)
        b_arr = np.asarray(b.detach().cpu() if torch.is_tensor(b) else b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a_arr.shape == b_arr.shape and bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=True))


def _short(x) -> str:
    if torch.is_tensor(x) or isinstance(x, np.ndarray):
        flat = np.asarray(x.detach().cpu() if torch.is_tensor(x) else x).ravel()
        return f"array of shape {tuple(np.shape(x))}: {np.array2string(flat[:4], precision=4)}…"
    if isinstance(x, float):
        return f"{x:.6g}" if math.isfinite(x) else str(x)
    return repr(x)


def check_function(name: str, fn: Callable, cases: Iterable[tuple[tuple, object]], *, hint: str = "",
                   rtol: float = 1e-4, atol: float = 1e-6, verbose: bool = True) -> Feedback:
    """Call ``fn(*args)`` for each ``(args, expected)`` case and compare.

    Args:
        name: the exercise's name, shown in the verdict.
        fn: the student's function.
        cases: the inputs and the expected answers (numbers, arrays, tensors, bools or strings).
        hint: shown when an answer is wrong.
        rtol, atol: tolerance for numeric answers.
        verbose: print the verdict.

    Example:
        >>> fb = check_function("square", lambda x: x * x, [((3,), 9)], verbose=False)
        >>> bool(fb)
        True
    """
    notes, passed = [], True
    for args, expected in cases:
        shown = ", ".join(_short(a) for a in args)
        try:
            got = fn(*args)
        except NotImplementedError:
            fb = Feedback(name, False, ["not implemented yet: complete the function in the cell above."], hint)
            if verbose:
                print(fb)
            return fb
        except Exception as err:  # the student's code raised: say which input and what
            notes.append(f"{name}({shown}) raised {type(err).__name__}: {err}")
            passed = False
            continue
        if _close(got, expected, rtol, atol):
            notes.append(f"{name}({shown}) = {_short(got)} ✓")
        else:
            notes.append(f"{name}({shown}) returned {_short(got)}, expected {_short(expected)}")
            passed = False
    fb = Feedback(name, passed, notes, hint)
    if verbose:
        print(fb)
    return fb


def check_value(name: str, answer, expected, *, hint: str = "", rtol: float = 1e-4, atol: float = 1e-6,
                verbose: bool = True) -> Feedback:
    """Compare a single answer (a number, array, choice string or bool) with the expected one."""
    if answer is NotImplemented or answer is Ellipsis:
        fb = Feedback(name, False, ["no answer yet: replace ... with your answer."], hint)
    elif _close(answer, expected, rtol, atol):
        fb = Feedback(name, True, [f"{_short(answer)} ✓"], hint)
    else:
        fb = Feedback(name, False, [f"you answered {_short(answer)}"], hint)
    if verbose:
        print(fb)
    return fb
