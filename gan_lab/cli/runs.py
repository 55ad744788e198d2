"""A run folder is the user's: what ``train`` may write into it, and when it may continue a run there.

``train --out DIR`` owns only the files it writes (:data:`RUN_FILES`, the weights file its
checkpoint names, a save's temporary files). A folder that already holds a run is continued
with ``--resume`` (only if the run was made with the same settings) or replaced with
``--overwrite``; anything else there is never touched, and a folder holding other files is refused.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from .. import checkpoints
from ..train.gan import GANConfig
from .common import UsageError, writable_folder

#: what ``evaluate`` draws beside its evaluation.json
TWO_SAMPLE_PICTURE = "two_sample.png"
#: the files ``train`` and ``evaluate`` write besides the weights
RUN_FILES = ("checkpoint.json", "samples.png", "losses.png", "metrics.json", "evaluation.json", TWO_SAMPLE_PICTURE)
_OWN = re.compile(r"weights-\d+\.safetensors|\.(checkpoint\.json|weights-\d+\.safetensors)\..+\.tmp")


def prepare_run_folder(out: Path, *, resume: bool, overwrite: bool, write: bool = True) -> None:
    """Check ``--out`` before any data is loaded: writable, and no run or file in it lost by accident.

    Args:
        resume: ``--resume``; the folder must hold a run.
        overwrite: ``--overwrite``; the run there (its files only) is removed.
        write: False in the processes of a distributed run that never write (they only check).
    """
    holds_run = checkpoints.exists(out)
    if resume and not holds_run:
        raise UsageError(f"--resume: {out} holds no checkpoint; train without --resume first.")
    if holds_run and not (resume or overwrite):
        raise UsageError(f"--out {out} already holds a run ({_describe(out)}); add --resume to continue it, "
                         "--overwrite to replace it, or choose another folder.")
    foreign = sorted(p.name for p in out.iterdir() if not _ours(p.name)) if out.is_dir() else []
    if foreign and not holds_run:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise UsageError(f"--out {out} is not empty and holds no run ({shown}); choose a new or empty folder, "
                         "so that nothing of yours is overwritten.")
    if not write:
        return
    writable_folder(out, "--out")
    if overwrite and holds_run:
        for path in out.iterdir():
            if _ours(path.name):
                path.unlink()
        print(f"--overwrite: removed the run in {out} ({len(foreign)} other file(s) kept).")


def check_resume(out: Path, wanted: dict) -> None:
    """``--resume`` continues only the run the flags describe: the loop intervals and --steps may change."""
    try:
        stored = checkpoints.stored_config(out)
    except checkpoints.CheckpointError as err:
        raise UsageError(f"--resume: {err}") from None
    kind = GANConfig.key
    if stored is not None and kind not in stored:
        raise UsageError(f"--resume: {out} holds a run of another kind (its settings: "
                         f"{', '.join(k for k, v in stored.items() if isinstance(v, dict)) or 'none'}), not one of "
                         "`train`'s GANs; choose another --out, or --overwrite to start a new run there.")
    rules = GANConfig.compared_as()  # as a notebook's cache compares, and --steps may change too
    changes = checkpoints.config_changes(stored or {}, wanted, ignore=rules["ignore"] + (f"{kind}.num_steps",),
                                         assumed=rules["assumed"])
    older = [c for c in changes if ": (absent) →" in c or c.startswith("no fingerprint")]
    newer = [c for c in changes if c.endswith("→ (absent)")]  # a setting this version does not know
    if older or newer:  # no flag brings these back
        version = ("another version of gan_lab, with settings this one does not know" if newer else
                   "an older version of gan_lab, which did not record everything this one compares")
        raise UsageError(f"--resume: the run in {out} was made by {version} ({'; '.join((newer + older)[:6])}); no "
                         "flag can match it: use --overwrite to start a new run there, or a new --out.")
    if changes:
        raise UsageError(f"--resume: the run in {out} was made with other settings ({'; '.join(changes[:6])}); "
                         "use the same flags, or --overwrite to start a new run there.")
    done, steps = checkpoints.stored_step(out), wanted[kind]["num_steps"]
    if steps <= done:  # fit would train nothing, and the run folder's outputs would be written again for nothing
        raise UsageError(f"--resume: the run in {out} is at step {done} already; give --steps above it to train on "
                         f"(--steps {steps} is the limit it continues up to), or use `sample` / `evaluate` on it.")


@contextlib.contextmanager
def new_folder_removed_on_error(out: Path):
    """If ``out`` does not exist yet and the block fails before anything was written there, remove it again."""
    existed = out.exists()
    try:
        yield
    except BaseException:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


def _ours(name: str) -> bool:
    return name in RUN_FILES or bool(_OWN.fullmatch(name))


def _describe(out: Path) -> str:
    try:
        stored = checkpoints.stored_config(out) or {}
    except checkpoints.CheckpointError:
        return "a damaged one"
    gan = stored.get("gan", {})
    return f"{gan.get('arch', '?')} on {stored.get('data', '?')}, {gan.get('num_steps', '?')} steps"
