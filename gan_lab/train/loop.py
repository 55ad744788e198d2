"""The one generic training loop every algorithm in gan_lab uses.

``fit`` knows nothing about GANs: it calls ``step_fn(step)`` — one iteration
of some algorithm, which returns a dict of scalar tensors or floats — and
takes care of everything around it: the progress bar, the history, callbacks,
checkpoints and resuming, a guard against NaN/inf, and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import checkpoints
from ..precision import TrainingPrecision

#: history: {"step": [s1, s2, ...], "loss_D": [...], ...}, one entry per ``log_every`` steps.
History = dict[str, list]
Callback = Callable[[int, History], None]


class TrainingDiverged(FloatingPointError):
    """Raised when a loss or a weight becomes NaN or infinite; the last checkpoint is left untouched."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived during ``fit`` (a machine shutting down, a job scheduler, a closed terminal).

    ``fit`` handles it like Ctrl-C — a checkpoint of the last completed step — and then raises it
    again, so the process still ends; the command line exits with 128 + ``signum`` (143 for SIGTERM).
    """

    def __init__(self, signum: int):
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum


#: the signals that end a training process from outside, handled like Ctrl-C
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _stop_signals_raise():
    """Inside the block, SIGTERM and SIGHUP raise :class:`Terminated` (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _ignore_stop_signals() -> None:
    """While the last checkpoint is written, a second SIGTERM must not interrupt the write."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def sample_batch(x: torch.Tensor, batch_size: int, *others: torch.Tensor):
    """A random batch of rows of ``x`` (and the same rows of ``others``), drawn on x's device.

    MedMNIST-sized data lives in memory on the device, so indexing a tensor is
    far cheaper than a multi-process DataLoader.

    Example:
        >>> x, y = torch.randn(100, 1, 28, 28), torch.arange(100)
        >>> xb, yb = sample_batch(x, 8, y)   # (8, 1, 28, 28), (8,)
    """
    idx = torch.randint(0, x.shape[0], (batch_size,), device=x.device)
    return (x[idx], *(o[idx] for o in others)) if others else x[idx]


class _Accumulator:
    """Keeps each step's outputs and averages them at a flush: one host sync per ``log_every`` steps.

    A step costs a list append per key (summing on the fly cost one tensor op, a kernel launch on a
    GPU, per key per step). The tensors are read at the flush, so a step must return fresh tensors
    (``loss.detach()``), not a buffer it updates in place.
    """

    def __init__(self):
        self.values: dict[str, list] = {}
        self.count = 0

    def add(self, out: dict) -> None:
        for k, v in out.items():
            if isinstance(v, torch.Tensor):
                v = v.detach() if v.requires_grad else v  # never keep a graph alive until the flush
            else:
                v = float(v)
            self.values.setdefault(k, []).append(v)
        self.count += 1

    def means(self) -> dict[str, float]:
        tensors = [v for vs in self.values.values() for v in vs if isinstance(v, torch.Tensor)]
        # all of them in one stack and one device → host copy, summed on the host in double precision
        host = iter(torch.stack([v.to(tensors[0].device) for v in tensors]).tolist() if tensors else ())
        means = {k: sum(next(host) if isinstance(v, torch.Tensor) else v for v in vs) / self.count
                 for k, vs in self.values.items()}
        self.values, self.count = {}, 0
        return means


def fit(step_fn: Callable[[int], dict], num_steps: int, *, models: dict, optimizers: dict | None = None,
        config: dict | None = None, checkpoint_dir: str | Path | None = None, checkpoint_every: int = 500,
        resume: bool = False, write_checkpoints: bool = True, log_every: int = 10, callbacks: Iterable[Callback] = (),
        callback_every: int = 100, stop_event: threading.Event | TimeLimit | None = None, progress: bool = True,
        desc: str = "training", history: History | None = None, precision: str | None = None) -> History:
    """Run ``step_fn`` for steps ``start+1 … num_steps`` and return the history.

    Args:
        step_fn: one iteration of the algorithm, ``step_fn(step) -> {"loss_D": …, …}``.
        num_steps: the total number of steps (a resumed run continues up to it).
        models, optimizers: what a checkpoint saves, by name (e.g. {"G": G, "D": D}).
        config: JSON-able training config stored with the checkpoint.
        checkpoint_dir: where to write checkpoints (None: no checkpoints).
        checkpoint_every: write one every this many steps (0: only at the end), and at the end.
        resume: continue from ``checkpoint_dir`` if it holds a checkpoint (weights, optimiser
            state, history and random-number state are restored, so the continued run
            repeats an uninterrupted one exactly on the CPU).
        write_checkpoints: False: only read ``checkpoint_dir`` (to resume), never write it, as every
            process but rank 0 of a distributed run does.
        log_every: steps averaged into one history entry (one host sync each); a checkpoint
            also closes the current entry, so a resumed history equals an uninterrupted one.
        callbacks: ``cb(step, history)`` every ``callback_every`` steps and once at the end, before
            any checkpoint of that step (so keys a callback adds to the history are saved).
        stop_event: set it (e.g. from a Stop button) to end training after the current step; a
            :class:`TimeLimit` ends it after so many seconds.
        progress: show a tqdm progress bar with the latest losses.
        history: continue this history (e.g. a second ``fit`` call on the same models).
        precision: "fp32", or "bf16" to run the forward passes of ``models`` in bf16 autocast during each
            step (``gan_lab.precision.TrainingPrecision``); default: the one ``gan_lab.setup`` set, else "fp32".
            Checkpoints record it (``extra["precision"]``).

    Returns:
        The history. ``history["interrupted"]`` is set when Ctrl-C (Jupyter's
        "interrupt kernel") stopped the loop; models keep their weights and a
        checkpoint of the last step is written.

    Raises:
        TrainingDiverged: a logged loss, or a weight about to be saved, is NaN or infinite.
        Terminated: SIGTERM or SIGHUP arrived (in the main thread); handled like Ctrl-C — the
            checkpoint of the last step is written — and then raised, so the process still ends.
    """
    history = history if history is not None else {"step": []}
    history.pop("interrupted", None)
    history.setdefault("step", [])
    start, saved = (history["step"][-1] if history["step"] else 0), 0  # a given history continues its count
    training = TrainingPrecision(models.values(), precision)  # an unusable precision fails before anything starts
    precisions = training.precision
    if resume and checkpoint_dir is not None and checkpoints.exists(checkpoint_dir):
        ckpt = checkpoints.restore(checkpoint_dir, models, optimizers)
        start = saved = ckpt.step
        history = ckpt.history
        history.pop("interrupted", None)
        history.setdefault("step", [])
        precisions = _precisions_after_resume(ckpt.extra.get("precision"), training.precision, ckpt.step)
    callbacks = list(callbacks)
    save = _Saver(checkpoint_dir if write_checkpoints else None, models, optimizers, config, history,
                  last_step=saved, extra={"precision": precisions})
    acc, step, called_at = _Accumulator(), start, start
    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, leave=True)
    stack = contextlib.ExitStack()  # restores the signal handlers however the loop ends

    def flush(check: bool = True) -> None:
        if acc.count:
            _log(history, step, acc.means(), bar, last_saved=save.last_step, check=check)

    try:
        training.install()
        stack.enter_context(_stop_signals_raise())
        while step < num_steps and not (stop_event is not None and stop_event.is_set()):
            with training.step():  # the networks' forward passes in bf16 if asked; callbacks below in fp32
                out = step_fn(step + 1)
            step += 1
            acc.add(out)
            bar.update(1)
            if step % log_every == 0:
                flush()
            if callbacks and step % callback_every == 0:  # before saving: what a callback adds to
                _call(callbacks, step, history)           # the history (e.g. a metric) is saved too
                called_at = step
            if checkpoint_every and step % checkpoint_every == 0:
                flush()  # the losses are checked before the weights are written
                save(step)
        flush()
        if callbacks and step != called_at:  # the final state, also after a Stop
            _call(callbacks, step, history)
        if step != save.last_step:
            save(step)
    except KeyboardInterrupt as stop:  # Ctrl-C, Jupyter's "interrupt kernel", or SIGTERM / SIGHUP
        if isinstance(stop, Terminated):
            _ignore_stop_signals()
        history["interrupted"] = True
        flush(check=False)
        save(step)  # refuses NaN weights, so a good checkpoint is never replaced by a broken one
        where = f" and saved to {checkpoint_dir}" if save.directory else ""
        print(f"Interrupted at step {step} ({stop or 'Ctrl-C'}): the models keep their weights{where}; "
              "call again with resume=True to continue.")
        if isinstance(stop, Terminated):
            raise
    finally:
        stack.close()
        training.remove()
        bar.close()
    return history


class ElapsedTime:
    """A ``fit`` callback that stores the training time so far in ``history["seconds"]`` (continued on resume).

    Stored in the checkpoint, so a run loaded from the cache still says how long it took to train.
    """

    def __init__(self):
        self.start, self.offset = time.perf_counter(), None

    def __call__(self, step: int, history: History) -> None:
        if self.offset is None:  # a resumed run continues the stored clock
            self.offset = history.get("seconds", [0.0])[-1]
        history.setdefault("seconds", []).append(self.offset + time.perf_counter() - self.start)


class TimeLimit:
    """A ``stop_event`` for ``fit`` that ends training once ``seconds`` have passed since its first step.

    ``fit`` asks ``is_set()`` before every step, so the clock starts at the first step (loading data and
    restoring a checkpoint do not count) and the run ends after the step that crosses the limit, with the
    usual final checkpoint. ``reached`` says afterwards whether the limit, rather than the step count,
    ended the run. One per ``fit`` call: its clock never restarts. ``clock`` is for tests.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.perf_counter):
        if not (isinstance(seconds, numbers.Real) and not isinstance(seconds, bool) and seconds > 0):
            raise ValueError(f"a time limit must be a number of seconds > 0, not {seconds!r}.")
        self.seconds, self.clock, self.start, self.reached = float(seconds), clock, None, False

    def is_set(self) -> bool:
        now = self.clock()
        if self.start is None:
            self.start = now
        self.reached = self.reached or now - self.start >= self.seconds
        return self.reached

    def fraction(self) -> float:
        """The part of the time spent so far (0 before the first step; above 1 once the limit has passed)."""
        return 0.0 if self.start is None else (self.clock() - self.start) / self.seconds


def run_progress(step: int, num_steps: int, stop_event=None) -> float:
    """How far through its run step ``step`` (1, 2, …) begins, from 0 (a little above 1 once a time limit has
    passed): the part of ``num_steps`` done, or the part of a time limit spent if that is more (a
    ``stop_event`` with a ``fraction()`` method, as :class:`TimeLimit` has); what a learning-rate schedule of a
    run that may end on the clock reads."""
    spent = stop_event.fraction() if on_a_clock(stop_event) else 0.0
    return max((step - 1) / max(1, num_steps), spent)


def on_a_clock(stop_event) -> bool:
    """Whether ``stop_event`` ends a run on a clock (it has a ``fraction()``, as :class:`TimeLimit` has)."""
    return callable(getattr(stop_event, "fraction", None))


def _precisions_after_resume(stored: str | None, now: str, step: int) -> str:
    """What a resumed checkpoint records as its precision: ``now``, or e.g. "bf16+fp32" when the run so far
    was trained in another one (the numbers it gives are then those of neither precision alone)."""
    if not stored or stored.split("+")[-1] == now:
        return stored or now
    print(f"Resuming at step {step} in {now} a run trained so far in {stored}; its checkpoint records "
          f"'{stored}+{now}'.")
    return f"{stored}+{now}"


def _call(callbacks: list[Callback], step: int, history: History) -> None:
    for cb in callbacks:
        cb(step, history)


def _log(history: History, step: int, means: dict[str, float], bar, last_saved: int, check: bool = True) -> None:
    if check:
        bad = {k: v for k, v in means.items() if not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(
                f"Training diverged at step {step}: {bad} is not finite; {_intact(last_saved)}. Try a smaller "
                "learning rate, a different loss (non-saturating or WGAN-GP), or more discriminator regularisation.")
    history["step"].append(step)
    for k, v in means.items():
        history.setdefault(k, []).append(v)
    bar.set_postfix({k: f"{v:.3g}" for k, v in means.items()}, refresh=False)


def _intact(last_saved: int) -> str:
    return f"the last checkpoint (step {last_saved}) is intact" if last_saved else "no checkpoint was written"


class _Saver:
    """Writes checkpoints (a no-op without a directory) and remembers the last step saved."""

    def __init__(self, directory, models, optimizers, config, history, last_step: int = 0, extra: dict | None = None):
        self.directory, self.models, self.optimizers = directory, models, optimizers
        self.config, self.history, self.last_step, self.extra = config, history, last_step, extra

    def __call__(self, step: int) -> None:
        if self.directory is None:
            return
        self._check_finite(step)
        checkpoints.save_checkpoint(self.directory, self.models, self.optimizers, step=step,
                                    history=self.history, config=self.config, extra=self.extra)
        self.last_step = step

    def _check_finite(self, step: int) -> None:
        """Never overwrite a good checkpoint with NaN weights (one host sync per checkpoint)."""
        for name, model in self.models.items():
            params = [p.detach().flatten() for p in model.parameters()]
            if params and not bool(torch.isfinite(torch.cat(params)).all()):
                raise TrainingDiverged(f"Training diverged at step {step}: model {name!r} has NaN/inf weights; "
                                       f"{_intact(self.last_step)}. Try a smaller learning rate.")
