"""``python -m gan_lab doctor``: check the environment and say what to fix.

Each check returns (ok, what was found, how to fix it). The command prints
one line per check and exits non-zero when something a lab needs is broken.
"""

from __future__ import annotations

import importlib.metadata as md
import shutil
import sys
from collections.abc import Callable

from ..config import CHECKPOINT_DIR, DATA_DIR, IN_REPOSITORY, describe_paths, fast_mode
from .common import subparser

Check = tuple[bool, str, str]


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return ok, f"Python {sys.version.split()[0]}", "install Python 3.10 or newer (3.11 is what the lab is tested on)"


def check_packages() -> Check:
    needed = ["torch", "torchvision", "torchmetrics", "safetensors", "medmnist", "ipywidgets", "matplotlib", "tqdm"]
    missing = [p for p in needed if _version(p) is None]
    found = ", ".join(f"{p} {_version(p)}" for p in needed if p not in missing)
    return not missing, found + (f"; missing: {', '.join(missing)}" if missing else ""), \
        "pip install -r requirements.txt (from the gan_lab folder)"


def check_device() -> Check:
    import torch

    from ..device import pick_device

    try:
        device = pick_device()
    except RuntimeError as err:
        return False, str(err), "unset GAN_LAB_DEVICE or set it to cpu"
    extra = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    note = "" if device.type != "cpu" else "; no GPU: every notebook still runs on the CPU (FAST mode for a quick pass)"
    return True, f"{device}{extra}, {torch.get_num_threads()} CPU threads{note}", ""


def check_precision() -> Check:
    from ..device import pick_device
    from ..precision import PrecisionError, check_precision, describe_precision, get_precision, native_bf16

    device, chosen = pick_device(), get_precision()  # setup's choice or $GAN_LAB_PRECISION
    try:
        check_precision(chosen, device)
    except PrecisionError as err:
        return False, str(err), "unset GAN_LAB_PRECISION or set it to fp32"
    native = native_bf16(device)
    tip = ("set GAN_LAB_PRECISION=bf16 (or gan_lab.setup(precision='bf16')) to train under bf16 autocast"
           if native and chosen == "fp32" else
           "unset GAN_LAB_PRECISION: without bf16 hardware fp32 is faster" if chosen == "bf16" and not native else "")
    return True, describe_precision(device), tip


def check_paths() -> Check:
    from ..course.materials import notebook_dir

    folder = notebook_dir()
    count = len(list(folder.glob("*.ipynb"))) if folder.is_dir() else 0
    found = f"{describe_paths()}; {count} course notebooks in {folder}"
    if not count:
        return False, found, "reinstall gan_lab (pip install gan_lab-*.whl, or pip install -e . in a checkout)"
    tip = "" if IN_REPOSITORY else "copy the course out with `python -m gan_lab notebooks DEST`"
    return True, found, tip


def check_data() -> Check:
    from ..data.sources import describe_sources

    text = describe_sources()
    ok = "no real data" not in text.lower()
    return ok, text, ("notebooks fall back to procedural phantoms; `python -m gan_lab download pneumoniamnist "
                      "breastmnist nuclei` fetches the real data (or put the .npz files in "
                      f"{DATA_DIR / 'medmnist'}, set GAN_LAB_DATA, or call gan_lab.data.load(name, download=True))")


def check_widgets() -> Check:
    ipyw, labw = _version("ipywidgets"), _version("jupyterlab_widgets")
    ok = bool(ipyw and labw and ipyw.startswith("8"))
    found = f"ipywidgets {ipyw}, jupyterlab_widgets {labw}"
    return ok, found, ("pip install 'ipywidgets>=8' jupyterlab_widgets, then restart JupyterLab "
                       "(and reload the browser tab); on Colab widgets work out of the box")


def check_checkpoints() -> Check:
    names = sorted(p.name for p in CHECKPOINT_DIR.glob("*") if (p / "checkpoint.json").is_file()) \
        if CHECKPOINT_DIR.is_dir() else []
    found = f"{len(names)} cached in {CHECKPOINT_DIR}" + (f": {', '.join(names)}" if names else "")
    return True, found, "" if names else "optional: `python -m gan_lab pretrain` before class makes full mode fast"


def check_disk() -> Check:
    target = next(p for p in (DATA_DIR, *DATA_DIR.parents) if p.exists())  # a fresh install has no data folder yet
    free_gb = shutil.disk_usage(target).free / 1e9
    return free_gb > 1, f"{free_gb:.1f} GB free under {target}", "free at least 1 GB for data and checkpoints"


CHECKS: dict[str, Callable[[], Check]] = {
    "python": check_python, "packages": check_packages, "paths": check_paths, "device": check_device,
    "precision": check_precision,
    "data": check_data, "widgets": check_widgets, "checkpoints": check_checkpoints, "disk": check_disk,
}


def run_doctor(out=print) -> bool:
    """Print one line per check (✓ / ✗ with the fix); True when nothing is broken."""
    all_ok = True
    for name, check in CHECKS.items():
        try:
            ok, found, fix = check()
        except Exception as err:  # a broken install must be reported, not crash the doctor
            ok, found, fix = False, f"check failed: {type(err).__name__}: {err}", "reinstall requirements.txt"
        all_ok &= ok
        out(f"{'✓' if ok else '✗'} {name:<12} {found}")
        if fix and not ok:
            out(f"  {'':<12} fix: {fix}")
        elif fix:
            out(f"  {'':<12} tip: {fix}")
    out(f"FAST mode is {'on' if fast_mode() else 'off'} (GAN_LAB_FAST=1 runs every notebook quickly).")
    return all_ok


def add_doctor(sub) -> None:
    p = subparser(sub, "doctor", "Check the installation, device, data and widgets; say what to fix.",
                  "Exit code 1 when something a lab needs is broken.")
    p.set_defaults(handler=lambda args: 0 if run_doctor() else 1)
